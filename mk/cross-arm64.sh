#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Cross-builds hakari for arm64 (aarch64) on an amd64 Debian host, and runs its unit tests under
# qemu-user. Called by `make cross-arm64` (build) and `make check-arm64` (build + unit tests).
#
#   mk/cross-arm64.sh build | check | sysroot     (XO=<dir>, default build-arm64)
#
# Nothing arm64 is installed into the system (no `dpkg --add-architecture`): the arm64 -dev
# packages and their dependencies are resolved and downloaded with a private apt state under
# $XO/apt (the host's sources.list, arm64 as the only architecture, an empty dpkg status), kept
# in $XO/debs, and unpacked with dpkg-deb into $XO/sysroot. The cross toolchain and qemu-user are
# ordinary amd64 packages (mk/packages-cross.txt, `mk/deps.sh cross`). Reruns download nothing
# unless Debian published new versions; the index is refreshed when older than a day.
#
# The eBPF objects are built with the arm64 vmlinux.h (bpf/arch/arm64, -D__TARGET_ARCH_arm64):
# the Makefile derives the architecture from $(CC) -dumpmachine.
#
# Unit tests run under qemu-aarch64 with ASan and UBSan as natively, but without LeakSanitizer:
# it must stop the world with ptrace, which qemu-user does not emulate (it aborts "LeakSanitizer
# has encountered a fatal error"); leaks stay covered by the native amd64 run of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-build}
XO=${XO:-build-arm64}
TRIPLE=aarch64-linux-gnu
JOBS=${JOBS:-$(nproc)}
mkdir -p "$XO"
XO=$(cd "$XO" && pwd)
S=$XO/sysroot
D=$XO/apt

need() { command -v "$1" >/dev/null || { echo "cross-arm64: $1 missing (run: mk/deps.sh cross)" >&2; exit 1; }; }
need $TRIPLE-gcc
need dpkg-deb
[ "$mode" = check ] && need qemu-aarch64

# The arm64 packages the build links against: the -dev packages of mk/packages-build.txt and the
# unit tests' cmocka. Host tools (protoc-c, clang, bpftool) stay amd64.
PKGS=(libc6-dev libmicrohttpd-dev libprotobuf-c-dev libsnappy-dev libcurl4-openssl-dev
    libcjson-dev libyaml-dev libpcre2-dev zlib1g-dev libcap-dev libcrypt-dev libgnutls28-dev
    libbpf-dev libelf-dev libzstd-dev libcmocka-dev libasan8 libubsan1)

APT=(-o APT::Architecture=arm64 -o APT::Architectures=arm64 -o Dir::State="$D/state"
    -o Dir::State::Lists="$D/lists" -o Dir::Cache="$D/cache" -o Dir::State::status=/dev/null
    -o Debug::NoLocking=1 -o APT::Sandbox::User=root -q)

fetch() {
    mkdir -p "$D/state" "$D/lists/partial" "$D/cache/archives/partial" "$XO/debs"
    if [ -z "$(find "$D/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n 1)" ]; then
        echo "  APT     arm64 index (private state in $D)"
        apt-get "${APT[@]}" update >"$D/update.log" 2>&1 || { cat "$D/update.log" >&2; exit 1; }
    fi
    # Resolved already against this index by this script: nothing to do.
    if [ -s "$XO/debs.want" ] && [ -z "$(find "$D/lists" "$0" -newer "$XO/debs.want" -print -quit)" ]; then
        return
    fi
    # Resolve against an empty status: every dependency of the -dev packages, pinned versions.
    local plan
    plan=$(apt-get "${APT[@]}" -s install --no-install-recommends "${PKGS[@]}" 2>&1) ||
        { echo "$plan" >&2; exit 1; }
    sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) .*/\1=\2/p' <<<"$plan" | sort >"$XO/debs.want.tmp"
    [ -s "$XO/debs.want.tmp" ] || { echo "cross-arm64: apt resolved nothing:" >&2; echo "$plan" >&2; exit 1; }
    local missing=() pv
    while read -r pv; do
        [ -e "$XO/debs/$(debname "$pv")" ] || missing+=("$pv")
    done <"$XO/debs.want.tmp"
    if [ ${#missing[@]} -gt 0 ]; then
        echo "  APT     download ${#missing[@]} arm64 packages into $XO/debs"
        (cd "$XO/debs" && apt-get "${APT[@]}" download "${missing[@]}" >"$D/download.log" 2>&1) ||
            { cat "$D/download.log" >&2; exit 1; }
        for pv in "${missing[@]}"; do
            [ -e "$XO/debs/$(debname "$pv")" ] || { echo "cross-arm64: $pv not downloaded ($(debname "$pv"))" >&2; exit 1; }
        done
    fi
    mv "$XO/debs.want.tmp" "$XO/debs.want"
}

debname() { # pkg=version → the file name apt-get download writes (epoch colon as %3a)
    local p=${1%%=*} v=${1#*=}
    local f
    for f in "$XO/debs/${p}_${v//:/%3a}"_*.deb; do
        [ -e "$f" ] && { basename "$f"; return; }
    done
    echo "${p}_${v//:/%3a}_arm64.deb"
}

unpack() {
    # Rebuilt from scratch whenever the resolved package set changes.
    if [ -d "$S" ] && cmp -s "$XO/debs.want" "$S/.debs"; then
        return
    fi
    echo "  SYSROOT $S ($(wc -l <"$XO/debs.want") packages)"
    rm -rf "$S"
    mkdir -p "$S"
    local pv
    while read -r pv; do
        dpkg-deb -x "$XO/debs/$(debname "$pv")" "$S"
    done <"$XO/debs.want"
    # Absolute symlinks (libfoo.so → /lib/aarch64-linux-gnu/libfoo.so.1) would point into the
    # host: make them relative, inside the sysroot.
    local l t rel
    while IFS= read -r -d '' l; do
        t=$(readlink "$l")
        [[ "$t" == /* ]] || continue
        rel=$(realpath -m --relative-to="$(dirname "$l")" "$S$t")
        ln -sfn "$rel" "$l"
    done < <(find "$S" -type l -print0)
    cp "$XO/debs.want" "$S/.debs"
}

fetch
unpack
[ "$mode" = sysroot ] && exit 0

export PKG_CONFIG_SYSROOT_DIR=$S
export PKG_CONFIG_LIBDIR=$S/usr/lib/$TRIPLE/pkgconfig:$S/usr/share/pkgconfig:$S/usr/lib/pkgconfig
unset PKG_CONFIG_PATH
LIBDIRS=$S/lib/$TRIPLE:$S/usr/lib/$TRIPLE
MK=(O="$XO" CC="$TRIPLE-gcc --sysroot=$S" LDFLAGS="-Wl,-rpath-link=$LIBDIRS"
    WERROR="${WERROR:-0}" BPF="${BPF:-1}")

make --no-print-directory -j"$JOBS" "${MK[@]}" all
file -L "$XO/hakari" | grep -q 'ARM aarch64' || { echo "cross-arm64: $XO/hakari is not an aarch64 ELF: $(file -L "$XO/hakari")" >&2; exit 1; }
echo "cross-arm64: $(file -L "$XO/hakari" | cut -d, -f1,2)"
[ "$mode" = build ] && exit 0

# ---- check: unit tests under qemu-aarch64 (no LeakSanitizer, see the opening comment) ----
make --no-print-directory -j"$JOBS" "${MK[@]}" unit
# The sysroot's loader is named explicitly instead of `qemu-aarch64 -L $S`: -L redirects every
# absolute path that also exists in the sysroot ("/" itself, /etc, /usr/lib…), which the tests'
# own root directories and the agent's /proc and / reads must not see.
RUN=(qemu-aarch64 "$S/lib/ld-linux-aarch64.so.1" --library-path "$LIBDIRS")
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
pass=0
failed=()
mkdir -p "$XO/test-logs"
for t in "$XO"/tests/test_*; do
    [ -x "$t" ] || continue
    n=$(basename "$t")
    start=$SECONDS
    if "${RUN[@]}" "$t" >"$XO/test-logs/$n.log" 2>&1; then
        pass=$((pass + 1))
        printf 'PASS  arm64/%-40s %4ss\n' "$n" $((SECONDS - start))
    else
        failed+=("$n")
        printf 'FAIL  arm64/%-40s log: %s\n' "$n" "$XO/test-logs/$n.log"
        tail -n 30 "$XO/test-logs/$n.log" | sed 's/^/      | /'
    fi
done
echo "arm64 unit tests under qemu: $pass passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
