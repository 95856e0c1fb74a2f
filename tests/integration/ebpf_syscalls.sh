#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# eBPF syscall probe (opt-in): off by default (no program_up series for it); with
# collectors.ebpf.syscalls: true a child in a fresh v1 cpu cgroup making N getppid() and M
# failing close(-1) calls shows ≥ N syscalls and ≥ M errors (and no latency histogram), with
# syscall_latency: true also a consistent latency histogram; a sleeping sibling shows only its
# own few start-up calls.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/ebpf_lib.sh"

CPU=$(cg_mount cpu)
[ -n "$CPU" ] || CPU=$(cg_mount "")
base=/hk-ebpf-sys-$$
A=$(mkcg "$CPU" "$base-busy")
B=$(mkcg "$CPU" "$base-idle")
N=20000
M=300

# Default: not loaded at all.
driver_start
driver_collect "$TMP/default.txt"
exec {DRV[1]}>&-
grep -q 'program="syscalls"' "$TMP/default.txt" && fail "syscalls program loaded without opt-in"
grep -q '^container_syscalls_total' "$TMP/default.txt" && fail "syscall series without opt-in"

phase() { # OPTIONS LATENCY(0|1)
    local opts=$1 lat=$2 out=$TMP/out-$2.txt
    driver_start --options "$opts" --publish "$base-busy=busy"
    in_cg "$B" sleep 30 &
    in_cg "$A" python3 -c "
import os
for _ in range($N):
    os.getppid()
for _ in range($M):
    try:
        os.close(-1)
    except OSError:
        pass"
    driver_collect "$out"
    exec {DRV[1]}>&-
    grep -E "$base" "$out" | grep -v _bucket >&2 || true
    grep -q 'hakari_ebpf_program_up{program="syscalls"} 1' "$out" || fail "syscalls program not up"
    local sel="id=\"$base-busy\"" count errors idle lcount inf
    count=$(val "$out" container_syscalls_total "$sel" 'container="busy"')
    errors=$(val "$out" container_syscall_errors_total "$sel")
    idle=$(val "$out" container_syscalls_total "id=\"$base-idle\"")
    echo "$opts: busy syscalls=$count errors=$errors; idle sibling: $idle"
    ge "$count" $N || fail "syscalls $count < $N"
    ge "$errors" $M || fail "errors $errors < $M"
    ge 1000 "$idle" || fail "idle cgroup got $idle syscalls"
    if [ "$lat" = 0 ]; then
        grep -q '^container_syscall_latency' "$out" && fail "latency histogram without syscall_latency"
        return 0
    fi
    lcount=$(val "$out" container_syscall_latency_seconds_count "$sel")
    inf=$(val "$out" container_syscall_latency_seconds_bucket "$sel" 'le="+Inf"')
    echo "  timed=$lcount"
    ge "$lcount" $N || fail "timed syscalls $lcount < $N"
    ge "$count" "$lcount" || fail "timed $lcount > count $count"
    [ "$inf" = "$lcount" ] || fail "+Inf $inf != count $lcount"
}
phase 'syscalls: true' 0
phase 'syscall_latency: true' 1
