#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# eBPF run-queue probe: more CPU-bound processes than CPUs in a fresh v1 cpu cgroup must show
# run-queue wait > 0, a consistent latency histogram (cumulative buckets, +Inf = count,
# sum = wait total) and involuntary switches, with a wait total close to the kernel's own
# run_delay of the same tasks; a sleeping sibling cgroup shows (almost) nothing.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/ebpf_lib.sh"

CPU=$(cg_mount cpu)
[ -n "$CPU" ] || CPU=$(cg_mount "")
# tp_btf measures waits from the kernel's sched_info at sched_switch; the script then runs
# itself again on the raw_tp fallback (wakeup timestamps): both must agree with the kernel.
ATTACH=${EBPF_SCHED_ATTACH:-tp_btf}
base=/hk-ebpf-sched-$ATTACH-$$
A=$(mkcg "$CPU" "$base-a")
B=$(mkcg "$CPU" "$base-b")
NBUSY=$(($(nproc) * 2 + 1))

driver_start --publish "$base-a=busy" --options "{programs: [sched], attach: $ATTACH}"
in_cg "$B" sleep 30 &
pids=()
# Each busy loop spins for 1-2 s, then prints its own run_delay (field 2 of schedstat: the
# kernel's own total of its run-queue waits) with a builtin, so no other task joins the cgroup.
for i in $(seq $NBUSY); do
    in_cg "$A" bash -c 'end=$((SECONDS + 2)); while [ $SECONDS -lt $end ]; do :; done
        read -r _ d _ </proc/self/schedstat; echo "$d"' >>"$TMP/delays" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
driver_collect "$TMP/out.txt"
grep -E "$base" "$TMP/out.txt" | grep -v _bucket >&2 || true

grep -q 'hakari_ebpf_program_up{program="sched"} 1' "$TMP/out.txt" || fail "sched program not up"
sel='id="'$base-a'"'
wait_s=$(val "$TMP/out.txt" container_cpu_runqueue_wait_seconds_total "$sel" 'container="busy"')
ge "$wait_s" 0.000001 || fail "run-queue wait of $base-a is $wait_s"
invol=$(val "$TMP/out.txt" container_context_switches_total "$sel" 'kind="involuntary"')
ge "$invol" 1 || fail "no involuntary switches in $base-a"
count=$(val "$TMP/out.txt" container_cpu_runqueue_latency_seconds_count "$sel")
sum=$(val "$TMP/out.txt" container_cpu_runqueue_latency_seconds_sum "$sel")
inf=$(val "$TMP/out.txt" container_cpu_runqueue_latency_seconds_bucket "$sel" 'le="+Inf"')
ge "$count" "$NBUSY" || fail "latency count $count < $NBUSY"
[ "$inf" = "$count" ] || fail "+Inf bucket $inf != count $count"
[ "$sum" = "$wait_s" ] || fail "histogram sum $sum != wait total $wait_s"
# Buckets are cumulative (non-decreasing in le order) and end at or below the count.
grep "^container_cpu_runqueue_latency_seconds_bucket{.*$sel" "$TMP/out.txt" | grep -v '+Inf' |
    sed -E 's/.*le="([^"]+)".* ([0-9.e+]+)$/\1 \2/' | sort -g | awk -v c="$count" '
        { if ($2 < prev || $2 > c) bad = 1; prev = $2 } END { exit bad }' ||
    fail "latency buckets not cumulative"
# Against the kernel's own accounting of the same tasks: the probe misses at most a task's
# first wait (before it first ran since attach) and adds its last one (after the read above).
kernel_s=$(awk '{ s += $1 } END { printf "%.9f", s / 1e9 }' "$TMP/delays")
ge "$kernel_s" 0.1 || fail "kernel run_delay total of the busy loops is only ${kernel_s}s"
ge "$wait_s" "$(awk -v k="$kernel_s" 'BEGIN { print k * 0.7 }')" &&
    ge "$(awk -v k="$kernel_s" 'BEGIN { print k * 1.1 }')" "$wait_s" ||
    fail "run-queue wait ${wait_s}s not within 0.7-1.1x the kernel's run_delay total ${kernel_s}s"
bcount=$(val "$TMP/out.txt" container_cpu_runqueue_latency_seconds_count "id=\"$base-b\"")
ge 5 "$bcount" || fail "sleeping cgroup got $bcount run-queue waits"
echo "$ATTACH busy: wait=${wait_s}s (kernel run_delay ${kernel_s}s) waits=$count involuntary=$invol; sleeping sibling waits=$bcount"
[ "$ATTACH" = raw_tp ] || EBPF_SCHED_ATTACH=raw_tp bash "$0" || fail "raw_tp run failed"
