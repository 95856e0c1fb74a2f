#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# eBPF exec/exit probe: a child in a fresh v1 cpu cgroup (nested one level below a published
# container) runs N execs of /bin/true, exits with status 3, and has a child killed by SIGKILL;
# the container's row shows at least those counts, and an idle sibling cgroup shows none. With
# run_stats: true the programs' run time is exported.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/ebpf_lib.sh"

CPU=$(cg_mount cpu)
[ -n "$CPU" ] || CPU=$(cg_mount "")
base=/hk-ebpf-proc-$$
A=$(mkcg "$CPU" "$base-a")
A_NESTED=$(mkcg "$CPU" "$base-a/nested")
B=$(mkcg "$CPU" "$base-b")
N=25

driver_start --publish "$base-a=worker-a" --options 'run_stats: true'
in_cg "$B" sleep 30 &
B_JOB=$!
in_cg "$A_NESTED" bash -c "for i in \$(seq $N); do /bin/true; done; (exit 3); bash -c 'exit 3'; bash -c 'kill -KILL \$\$'; true" ||
    fail "workload failed"
in_cg "$A" bash -c 'exit 0'
driver_collect "$TMP/out.txt"
grep -E '^(container_process|hakari_ebpf_program_up)' "$TMP/out.txt" | grep -E "$base|program_up" >&2 || true

grep -q 'hakari_ebpf_program_up{program="proc"} 1' "$TMP/out.txt" || fail "proc program not up"
sel='id="'$base-a'"'
execs=$(val "$TMP/out.txt" container_process_execs_total "$sel" 'container="worker-a"' 'image="hakari-test:1"')
ge "$execs" $((N + 3)) || fail "execs for $base-a: $execs < $((N + 3))"
ok=$(val "$TMP/out.txt" container_process_exits_total "$sel" 'reason="ok"')
err=$(val "$TMP/out.txt" container_process_exits_total "$sel" 'reason="error"')
sig=$(val "$TMP/out.txt" container_process_exits_total "$sel" 'reason="signal"')
ge "$ok" $((N + 1)) || fail "ok exits $ok < $((N + 1))"
ge "$err" 2 || fail "error exits $err < 2"
ge "$sig" 1 || fail "signal exits $sig < 1"
# The nested cgroup rolled up into the container: no row of its own.
grep -q "id=\"$base-a/nested\"" "$TMP/out.txt" && fail "nested cgroup not rolled up"
# The idle sibling (only `sleep` exec'd there, before nothing else): no exits, ≤ 1 exec.
bexec=$(val "$TMP/out.txt" container_process_execs_total "id=\"$base-b\"")
bexit=$(val "$TMP/out.txt" container_process_exits_total "id=\"$base-b\"")
ge 1 "$bexec" || fail "idle cgroup got $bexec execs"
ge 0 "$bexit" || fail "idle cgroup got $bexit exits"
# run_stats: true turned on BPF run statistics: the programs' time is exported.
run=$(val "$TMP/out.txt" hakari_ebpf_program_run_seconds_total 'program="proc"')
ge "$run" 0.000000001 || fail "hakari_ebpf_program_run_seconds_total{program=proc} is $run"
lost=$(val "$TMP/out.txt" hakari_ebpf_events_lost_total 'program="proc"')
[ "$lost" = 0 ] || fail "proc lost $lost events"
echo "execs=$execs ok=$ok error=$err signal=$sig idle_execs=$bexec run_seconds=$run"

# The idle cgroup goes away: its series disappear within the index refresh period (6 cycles; its
# kernel entries are dropped after a second cycle without it) and the container's counters stay.
# Waits for the idle process's job itself (bash reaps it), then for the cgroup to empty: in two
# runs under load the killed `sleep` had been reaped ("Killed") while the v1 cgroup.procs still
# listed a task 10 s later. What the cgroup holds then goes to the log.
cg_kill "$B"
wait "$B_JOB" 2>/dev/null || true
if ! until_true 5 test -z "$(cat "$B/cgroup.procs")"; then
    for p in $(cat "$B/cgroup.procs" 2>/dev/null); do
        echo "still in $B after its process was reaped: $(ps -o pid=,ppid=,stat=,wchan:32=,args= -p "$p")" >&2
        cat "/proc/$p/stack" >&2 2>/dev/null || true
    done
    cg_kill "$B"
    until_true 25 test -z "$(cat "$B/cgroup.procs")" || fail "idle cgroup not empty"
fi
until_true 10 rmdir "$B" 2>/dev/null || fail "could not remove the idle cgroup $B"
for i in $(seq 8); do driver_collect "$TMP/out3.txt"; done
grep -q "id=\"$base-b\"" "$TMP/out3.txt" && fail "removed cgroup still reported"
execs3=$(val "$TMP/out3.txt" container_process_execs_total "$sel")
[ "$execs3" = "$execs" ] || fail "container execs changed after a sibling was removed: $execs -> $execs3"
echo "removed sibling: no longer reported; container execs still $execs3"
