#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Static analysis (`make analyze`, tests/integration/analyze.sh): cppcheck over every C source of
# core/ agent/ collector/ exporter/ with mk/analysis-suppressions.txt, then clang-tidy (checks and
# their commented exclusions in .clang-tidy) over ANALYZE_TIDY_DIRS (default: all four), two files
# at a time, largest first. Exit 1 on any finding.
# clang-tidy's clean results are cached in $O/analyze/tidy-cache (ANALYZE_CACHE=0: off), keyed by
# everything the result depends on: the clang-tidy version, the file's effective configuration,
# the flags and the file preprocessed with comments kept (NOLINT) by the same clang version. A
# file with findings is never cached, so it is analysed again on every run.
set -uo pipefail
cd "$(dirname "$0")/.."
O=${O:-build}
dirs=(core agent collector exporter)
tidy_dirs=(${ANALYZE_TIDY_DIRS:-core agent collector exporter})
jobs=${ANALYZE_JOBS:-2}
rc=0
mkdir -p "$O/analyze"

CPPCHECK=${CPPCHECK:-cppcheck}
TIDY=${CLANG_TIDY:-$(command -v clang-tidy-14 || command -v clang-tidy)}
if ! command -v "$CPPCHECK" >/dev/null || [ -z "$TIDY" ]; then
    echo "analyze: cppcheck and clang-tidy are required (apt-get install cppcheck clang-tidy)" >&2
    exit 2
fi

pkgs="libmicrohttpd libprotobuf-c snappy libcurl libcjson yaml-0.1 libpcre2-8 zlib libcap"
# shellcheck disable=SC2086
defs=(-I. -I"$O/gen" -D_GNU_SOURCE -DHK_WITH_BPF=0 -DHK_VERSION='"analyze"'
      -DHK_REVISION='"analyze"' $(pkg-config --cflags $pkgs 2>/dev/null))

echo "cppcheck: ${dirs[*]}"
grep -vE '^[[:space:]]*(#|$)' mk/analysis-suppressions.txt >"$O/analyze/suppressions.txt"
if ! "$CPPCHECK" --enable=warning,portability,performance --std=c11 --quiet --inline-suppr \
    --suppressions-list="$O/analyze/suppressions.txt" -I. -D_GNU_SOURCE -DHK_WITH_BPF=0 \
    -j "$jobs" --error-exitcode=1 --template='{file}:{line}: {severity}: {id}: {message}' \
    "${dirs[@]}" 2>"$O/analyze/cppcheck.log"; then
    echo "FAIL cppcheck:"
    cat "$O/analyze/cppcheck.log"
    rc=1
else
    echo "cppcheck: clean"
fi

files=()
for d in "${tidy_dirs[@]}"; do
    for f in "$d"/*.c; do [ -f "$f" ] && files+=("$f"); done
done
# Largest first (a proxy for the slowest), so the last file does not run alone on one core.
if [ ${#files[@]} -gt 0 ]; then
    mapfile -t files < <(ls -S "${files[@]}")
fi

cache=
TIDY=$(command -v "$TIDY")
CLANG=${TIDY%/*}/$(basename "$TIDY" | sed 's/clang-tidy/clang/')
if [ "${ANALYZE_CACHE:-1}" != 0 ] && [ -x "$CLANG" ]; then
    cache="$O/analyze/tidy-cache"
    mkdir -p "$cache"
    find "$cache" -type f -mtime +30 -delete 2>/dev/null
fi
# What does not depend on the file is hashed once (per directory for the configuration).
declare -A dir_key
if [ -n "$cache" ]; then
    for d in "${tidy_dirs[@]}"; do
        dir_key[$d]=$({
            "$TIDY" --version
            printf '%s\n' "${defs[@]}"
            "$TIDY" --dump-config "$d/x.c" --
        } 2>&1 | sha256sum | cut -d' ' -f1) || cache=
    done
fi
tidy_key() { # file → cache key on stdout
    {
        echo "${dir_key[${1%/*}]}"
        "$CLANG" -E -C -std=gnu11 "${defs[@]}" "$1"
    } 2>&1 | sha256sum | cut -d' ' -f1
}
tidy_one() { # file, log
    local key=
    if [ -n "$cache" ]; then
        key=$(tidy_key "$1") || key=
        if [ -n "$key" ] && [ -e "$cache/$key" ]; then
            touch "$cache/$key"
            echo "$1" >"$2.cached"
            : >"$2"
            return
        fi
    fi
    if "$TIDY" --quiet "$1" -- -std=gnu11 "${defs[@]}" >"$2" 2>&1 &&
        ! grep -qE '(warning|error): ' "$2" && [ -n "$key" ]; then
        touch "$cache/$key"
    fi
}

echo "clang-tidy: ${#files[@]} files in ${tidy_dirs[*]}"
# One clang-tidy per file, $jobs at a time; each writes its own log, merged afterwards.
rm -f "$O"/analyze/tidy.*.log "$O"/analyze/tidy.*.log.cached
n=0
for f in "${files[@]}"; do
    tidy_one "$f" "$O/analyze/tidy.$(echo "$f" | tr / _).log" &
    n=$((n + 1))
    if [ "$n" -ge "$jobs" ]; then
        wait -n
        n=$((n - 1))
    fi
done
wait
ncached=$(cat "$O"/analyze/tidy.*.log.cached 2>/dev/null | wc -l)
[ -n "$cache" ] && echo "clang-tidy: $ncached of ${#files[@]} files unchanged since a clean run (cache)"
cat "$O"/analyze/tidy.*.log >"$O/analyze/clang-tidy.log" 2>/dev/null
if grep -qE '(warning|error): ' "$O/analyze/clang-tidy.log"; then
    echo "FAIL clang-tidy:"
    grep -E -A3 '(warning|error): ' "$O/analyze/clang-tidy.log" | head -n 200
    rc=1
else
    echo "clang-tidy: clean"
fi
exit $rc
