#!/usr/bin/env bash
# Static analysis (`make analyze`, tests/integration/analyze.sh): cppcheck over every C source of
# core/ agent/ collector/ exporter/ with mk/analysis-suppressions.txt, then clang-tidy (checks and
# their commented exclusions in .clang-tidy) over ANALYZE_TIDY_DIRS (default: all four), two files
# at a time. Exit 1 on any finding.
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
echo "clang-tidy: ${#files[@]} files in ${tidy_dirs[*]}"
# One clang-tidy per file, $jobs at a time; each writes its own log, merged afterwards.
rm -f "$O"/analyze/tidy.*.log
n=0
for f in "${files[@]}"; do
    log="$O/analyze/tidy.$(echo "$f" | tr / _).log"
    "$TIDY" --quiet "$f" -- -std=gnu11 "${defs[@]}" >"$log" 2>&1 &
    n=$((n + 1))
    if [ "$n" -ge "$jobs" ]; then
        wait -n
        n=$((n - 1))
    fi
done
wait
cat "$O"/analyze/tidy.*.log >"$O/analyze/clang-tidy.log" 2>/dev/null
if grep -qE '(warning|error): ' "$O/analyze/clang-tidy.log"; then
    echo "FAIL clang-tidy:"
    grep -E -A3 '(warning|error): ' "$O/analyze/clang-tidy.log" | head -n 200
    rc=1
else
    echo "clang-tidy: clean"
fi
exit $rc
