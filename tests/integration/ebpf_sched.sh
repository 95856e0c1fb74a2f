#!/usr/bin/env bash
# eBPF run-queue probe: more CPU-bound processes than CPUs in a fresh v1 cpu cgroup must show
# run-queue wait > 0, a consistent latency histogram (cumulative buckets, +Inf = count,
# sum = wait total) and involuntary switches; a sleeping sibling cgroup shows (almost) nothing.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/ebpf_lib.sh"

CPU=$(cg_mount cpu)
[ -n "$CPU" ] || CPU=$(cg_mount "")
base=/hk-ebpf-sched-$$
A=$(mkcg "$CPU" "$base-a")
B=$(mkcg "$CPU" "$base-b")
NBUSY=$(($(nproc) * 2 + 1))

driver_start --publish "$base-a=busy"
in_cg "$B" sleep 30 &
pids=()
for i in $(seq $NBUSY); do
    in_cg "$A" timeout 2 bash -c 'while :; do :; done' &
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
bcount=$(val "$TMP/out.txt" container_cpu_runqueue_latency_seconds_count "id=\"$base-b\"")
ge 5 "$bcount" || fail "sleeping cgroup got $bcount run-queue waits"
echo "busy: wait=${wait_s}s waits=$count involuntary=$invol; sleeping sibling waits=$bcount"
