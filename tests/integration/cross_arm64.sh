#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# arm64 cross build (issue 17): mk/cross-arm64.sh builds $O-arm64/hakari with Debian's aarch64
# cross compiler against arm64 libraries unpacked from Debian's .debs (fetched from Debian's
# mirror on the first run, cached in $O-arm64 after), with -Werror. Then:
#   - the binary is an aarch64 ELF;
#   - the eBPF objects were compiled against the arm64 vmlinux.h: their struct pt_regs is
#     arm64's (syscallno), the native build's is x86's (orig_ax);
#   - run under qemu-aarch64, the arm64 agent prints exactly the golden expositions of
#     tests/golden (same fixtures and flags as golden.sh).
# The arm64 unit tests under qemu take ~2.5 min of CPU more, beyond make test's budget: they run
# in `make check-arm64`.
source "$(dirname "$0")/../lib.sh"
command -v aarch64-linux-gnu-gcc >/dev/null || fail "aarch64-linux-gnu-gcc missing (mk/deps.sh cross)"
command -v qemu-aarch64 >/dev/null || fail "qemu-aarch64 missing (mk/deps.sh cross)"
command -v bpftool >/dev/null || fail "bpftool missing"
XO=${XO:-$TOP/$O-arm64}
export XO

WERROR=1 JOBS=2 "$TOP/mk/cross-arm64.sh" build >"$TMP/build.log" 2>&1 ||
    { tail -n 40 "$TMP/build.log" >&2; fail "mk/cross-arm64.sh build failed"; }
file -L "$XO/hakari" | grep 'ELF 64-bit LSB pie executable, ARM aarch64' ||
    fail "$XO/hakari is not an aarch64 PIE: $(file -L "$XO/hakari")"

# pt_regs as each build's vmlinux.h has it.
regs_field() { # object → the syscall-number member of its struct pt_regs
    bpftool btf dump file "$1" | grep -oE "^[[:space:]]+'(syscallno|orig_ax)'" | tr -d " \t'"
}
f=$(regs_field "$XO/gen/bpf/syscalls.bpf.o")
[ "$f" = syscallno ] || fail "arm64 syscalls.bpf.o has pt_regs.${f:-?}, not arm64's syscallno (x86 vmlinux.h used?)"
if [ -e "$TOP/$O/gen/bpf/syscalls.bpf.o" ]; then
    f=$(regs_field "$TOP/$O/gen/bpf/syscalls.bpf.o")
    [ "$f" = orig_ax ] || fail "native syscalls.bpf.o has pt_regs.${f:-?}, not x86's orig_ax"
fi
echo "eBPF objects: arm64 pt_regs.syscallno, native pt_regs.orig_ax"

# The sysroot's loader, named explicitly (qemu -L would redirect "/" and /etc into the sysroot).
S=$XO/sysroot
RUN=(qemu-aarch64 "$S/lib/ld-linux-aarch64.so.1"
    --library-path "$S/lib/aarch64-linux-gnu:$S/usr/lib/aarch64-linux-gnu")
"${RUN[@]}" "$XO/hakari" --version | grep '^hakari ' || fail "arm64 hakari --version failed"
n=0
for golden in "$TOP"/tests/golden/*.prom; do
    c=$(basename "$golden" .prom)
    args=()
    if [ -f "$TOP/tests/golden/$c.args" ]; then
        while IFS= read -r line || [ -n "$line" ]; do
            [[ -z "$line" || "$line" == \#* ]] && continue
            args+=("$line")
        done <"$TOP/tests/golden/$c.args"
    fi
    # --no-collector.ebpf: qemu-user has no bpf(2), so the OOM program would be down and its
    # fallback would read the fixture's memory.oom_control — series the native golden run (eBPF
    # up, counting the host's own cgroups) does not print.
    "${RUN[@]}" "$XO/hakari" --once --path.rootfs="$TOP/tests/fixtures/$c" "${args[@]}" --no-collector.ebpf \
        >"$TMP/$c.raw" 2>"$TMP/$c.err" || { cat "$TMP/$c.err" >&2; fail "$c: arm64 hakari --once failed"; }
    awk -f "$TOP/tests/golden/strip-self.awk" "$TMP/$c.raw" >"$TMP/$c.prom"
    diff -u "$golden" "$TMP/$c.prom" >&2 || fail "$c: the arm64 agent's output differs from $golden"
    n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "no golden files"
echo "arm64 agent under qemu: $n golden case(s) match"
