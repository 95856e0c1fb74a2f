#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# eBPF OOM probe: a memory hog in a fresh v1 memory cgroup limited to 32 MiB is OOM-killed; its
# container row shows container_oom_kills_total ≥ 1 and equal to the kernel's own oom_kill count
# (memory.oom_control), while a sibling cgroup that stays under its limit shows none.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/ebpf_lib.sh"

MEM=$(cg_mount memory)
v1=1
[ -n "$MEM" ] || { MEM=$(cg_mount ""); v1=0; }
base=/hk-ebpf-oom-$$
A=$(mkcg "$MEM" "$base-hog")
B=$(mkcg "$MEM" "$base-calm")
if [ $v1 = 1 ]; then
    echo $((32 << 20)) >"$A/memory.limit_in_bytes"
    echo 0 >"$A/memory.swappiness" 2>/dev/null || true
    echo $((256 << 20)) >"$B/memory.limit_in_bytes"
else
    echo $((32 << 20)) >"$A/memory.max"
    echo 0 >"$A/memory.swap.max" 2>/dev/null || true
fi

driver_start --publish "$base-hog=hog"
in_cg "$B" python3 -c 'b = bytearray(8 << 20); b[::4096] = b"x" * len(b[::4096])'
set +e
in_cg "$A" python3 -c '
chunks = []
for _ in range(4096):
    c = bytearray(1 << 20)
    c[::4096] = b"x" * len(c[::4096])
    chunks.append(c)'
rc=$?
set -e
[ $rc -eq 137 ] || fail "memory hog exited with $rc, expected SIGKILL by the OOM killer (137)"
driver_collect "$TMP/out.txt"
grep -E "container_oom|program=\"oom\"" "$TMP/out.txt" >&2 || true

grep -q 'hakari_ebpf_program_up{program="oom"} 1' "$TMP/out.txt" || fail "oom program not up"
kills=$(val "$TMP/out.txt" container_oom_kills_total "id=\"$base-hog\"" 'container="hog"')
calm=$(val "$TMP/out.txt" container_oom_kills_total "id=\"$base-calm\"")
if [ $v1 = 1 ]; then
    kernel=$(awk '$1 == "oom_kill" { print $2 }' "$A/memory.oom_control")
else
    kernel=$(awk '$1 == "oom_kill" { print $2 }' "$A/memory.events")
fi
echo "hog: oom_kills=$kills (kernel says $kernel); calm sibling: $calm"
ge "$kills" 1 || fail "no OOM kill counted for $base-hog"
[ "$kills" = "$kernel" ] || fail "eBPF count $kills != kernel oom_kill $kernel"
[ "$calm" = 0 ] || fail "calm cgroup got $calm OOM kills"
