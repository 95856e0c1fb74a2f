#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# eBPF degradation: (1) without CAP_BPF/CAP_SYS_ADMIN/CAP_PERFMON (dropped with setpriv) every
# program logs one clear line and reports hakari_ebpf_program_up 0 while the agent's other
# collectors still work, the OOM fallback (memory.oom_control) still counts a real OOM kill and
# the run-queue fallback (/proc/<tid>/schedstat) shows wait for CPU-bound tasks in a cpu cgroup;
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

# More CPU-bound threads than CPUs in a cpu cgroup, alive (sleeping) at collection time.
CPU=$(cg_mount cpu)
[ -n "$CPU" ] || CPU=$(cg_mount "")
C=$(mkcg "$CPU" "$base-busy")
for i in $(seq $(($(nproc) * 2 + 1))); do
    in_cg "$C" python3 -c '
import time
end = time.time() + 1.5
while time.time() < end:
    pass
open("'"$TMP"'/busy-'"$i"'", "w").close()
time.sleep(120)' &
done
busy_done() { [ "$(ls "$TMP"/busy-* 2>/dev/null | wc -l)" -ge $(($(nproc) * 2 + 1)) ]; }
until_true 60 busy_done || fail "busy tasks did not finish"

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
    w=$(val "$out" container_cpu_runqueue_wait_seconds_total "id=\"$base-busy\"")
    ge "$w" 0.000001 || fail "$what: run-queue fallback shows $w s for $base-busy"
    grep -q '^container_cpu_runqueue_latency_seconds' "$out" && fail "$what: histogram without eBPF"
    echo "$what: all programs down with one log line each; OOM fallback = $k; run-queue fallback = ${w}s"
}

log "unprivileged (capabilities dropped)"
"${NOCAPS[@]}" "$HAKARI" --once --collector.ebpf.load_in_background=false >"$TMP/nocap.out" 2>"$TMP/nocap.log" || fail "hakari --once failed without caps"
grep ebpf "$TMP/nocap.log" >&2 || true
grep -q 'not permitted' "$TMP/nocap.log" || fail "no 'not permitted' reason in the log"
check_down "$TMP/nocap.log" "$TMP/nocap.out" unprivileged

log "make BPF=0"
# Only collector/ebpf*.c depend on BPF (HK_WITH_BPF): start from a copy of this build's other
# objects (timestamps kept) so that only those are recompiled, then link without libbpf.
mkdir -p "$TMP/nobpf"
if [ -d "$TOP/$O/obj" ]; then
    cp -a "$TOP/$O/obj" "$TMP/nobpf/obj"
    rm -f "$TMP/nobpf/obj/collector/"ebpf*.[od]
    find "$TMP/nobpf/obj" -name '*.d' -delete
fi
make -s -C "$TOP" O="$TMP/nobpf" BPF=0 WERROR=1 -j2 all >"$TMP/build.log" 2>&1 || { tail -20 "$TMP/build.log"; fail "BPF=0 build failed"; }
grep -q 'HK_WITH_BPF=0' <(make -s -C "$TOP" O="$TMP/nobpf" BPF=0 -n "$TMP/nobpf/obj/collector/ebpf.o" -B 2>/dev/null) ||
    fail "BPF=0 build did not compile the collector with HK_WITH_BPF=0"
if ldd "$TMP/nobpf/hakari" | grep -q libbpf; then fail "BPF=0 binary links libbpf"; fi
"$TMP/nobpf/hakari" --once --collector.ebpf.load_in_background=false >"$TMP/nobpf.out" 2>"$TMP/nobpf.log" || fail "BPF=0 hakari --once failed"
grep -q 'built without eBPF support' "$TMP/nobpf.log" || fail "BPF=0: no clear log line"
check_down "$TMP/nobpf.log" "$TMP/nobpf.out" "BPF=0"
