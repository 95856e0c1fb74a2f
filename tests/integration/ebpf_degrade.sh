#!/usr/bin/env bash
# eBPF degradation: (1) without CAP_BPF/CAP_SYS_ADMIN/CAP_PERFMON (dropped with setpriv) every
# program logs one clear line and reports hakari_ebpf_program_up 0 while the agent's other
# collectors still work and the OOM fallback (memory.oom_control) still counts a real OOM kill;
# (2) `make BPF=0` builds without libbpf, and that binary does the same.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/ebpf_lib.sh"
command -v setpriv >/dev/null || fail "setpriv (util-linux) missing"

MEM=$(cg_mount memory)
[ -n "$MEM" ] || skip "no v1 memory hierarchy (fallback test is for memory.oom_control)"
base=/hk-ebpf-degrade-$$
A=$(mkcg "$MEM" "$base-hog")
echo $((32 << 20)) >"$A/memory.limit_in_bytes"
echo 0 >"$A/memory.swappiness" 2>/dev/null || true
set +e
in_cg "$A" python3 -c '
chunks = []
for _ in range(4096):
    c = bytearray(1 << 20); c[::4096] = b"x" * len(c[::4096]); chunks.append(c)'
rc=$?
set -e
[ $rc -eq 137 ] || fail "memory hog exited with $rc, expected 137"

NOCAPS=(setpriv --bounding-set=-bpf,-sys_admin,-perfmon --inh-caps=-bpf,-sys_admin,-perfmon --)
check_down() { # LOG OUT WHAT
    local log=$1 out=$2 what=$3 p n
    for p in sched proc oom tcp blkio; do
        grep -q "hakari_ebpf_program_up{program=\"$p\"} 0" "$out" || fail "$what: $p not reported down"
        n=$(grep -c "ebpf program not loaded.*program=$p " "$log" || true)
        [ "$n" = 1 ] || fail "$what: expected one log line for $p, got $n"
    done
    grep -q '^node_load1 ' "$out" || fail "$what: other collectors' output missing"
    k=$(val "$out" container_oom_kills_total "id=\"$base-hog\"")
    [ "$k" = 1 ] || fail "$what: OOM fallback shows $k kills for $base-hog, expected 1"
    echo "$what: all programs down with one log line each; OOM fallback = $k"
}

log "unprivileged (capabilities dropped)"
"${NOCAPS[@]}" "$HAKARI" --once >"$TMP/nocap.out" 2>"$TMP/nocap.log" || fail "hakari --once failed without caps"
grep ebpf "$TMP/nocap.log" >&2 || true
grep -q 'not permitted' "$TMP/nocap.log" || fail "no 'not permitted' reason in the log"
check_down "$TMP/nocap.log" "$TMP/nocap.out" unprivileged

log "make BPF=0"
make -s -C "$TOP" O="$TMP/nobpf" BPF=0 -j2 all >"$TMP/build.log" 2>&1 || { tail -20 "$TMP/build.log"; fail "BPF=0 build failed"; }
if ldd "$TMP/nobpf/hakari" | grep -q libbpf; then fail "BPF=0 binary links libbpf"; fi
"$TMP/nobpf/hakari" --once >"$TMP/nobpf.out" 2>"$TMP/nobpf.log" || fail "BPF=0 hakari --once failed"
grep -q 'built without eBPF support' "$TMP/nobpf.log" || fail "BPF=0: no clear log line"
check_down "$TMP/nobpf.log" "$TMP/nobpf.out" "BPF=0"
