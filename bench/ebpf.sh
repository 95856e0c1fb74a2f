#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# eBPF per-event overhead, paired attached/detached runs on this machine (issue targets: run
# queue ≤ 0.6 µs per switch+wakeup pair, TCP ≤ 0.25 µs per state change, opt-in syscall probe
# ≤ 150 ns per syscall). For each probe, ROUNDS times: workload detached → attach only that
# probe (the collector driver, programs: [X]) → workload attached → detach. Prints medians in
# ns per event and the attached/detached ratio, plus the in-kernel program cost per run from
# BPF run statistics (kernel.bpf_stats_enabled on only for that extra run; it adds ~35-45 ns/run).
# Workloads (bench/ebpf_workload.c): getppid loop (1 syscall = 1 enter + 1 exit), pipe ping-pong
# pinned to one CPU (1 round trip = 2 switch+wakeup pairs), loopback connect+accept+close
# (10 TCP state changes per connection); the tcp program with and without topology edges.
set -euo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
O=${O:-build}
W=$TOP/$O/bench/ebpf_workload
D=$TOP/$O/tests/tools/ebpf_driver
ROUNDS=${EBPF_BENCH_ROUNDS:-5}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
[ -x "$W" ] && [ -x "$D" ] || { echo "missing $W or $D (make O=$O bench builds them)"; exit 1; }
TMP=$(mktemp -d)
stats0=$(cat /proc/sys/kernel/bpf_stats_enabled)
DRV_PID=
cleanup() {
    echo "$stats0" >/proc/sys/kernel/bpf_stats_enabled
    [ -n "$DRV_PID" ] && kill "$DRV_PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs (a loaded host inflates all figures)"

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

attach() { # PROGRAM
    mkfifo "$TMP/in"
    "$D" --options "{programs: [$1]${EXTRA:+, $EXTRA}}" <"$TMP/in" >"$TMP/drv.out" 2>"$TMP/drv.err" &
    DRV_PID=$!
    exec 7>"$TMP/in"
    for _ in $(seq 100); do grep -q ready "$TMP/drv.out" 2>/dev/null && break; sleep 0.1; done
    grep -q "program_up\|ready" "$TMP/drv.out" || { cat "$TMP/drv.err"; exit 1; }
    grep -q "program=$1" "$TMP/drv.err" && grep -q "not loaded" "$TMP/drv.err" && { cat "$TMP/drv.err"; exit 1; }
    return 0
}
detach() {
    exec 7>&-
    wait "$DRV_PID" 2>/dev/null || true
    DRV_PID=
    rm -f "$TMP/in"
}

# In-kernel ns per event from BPF run statistics (stats must be on): the sum over the named
# programs that ran of run_time_ns / run_cnt, counting only the programs the driver holds (its
# fds' prog_id: other hakari instances on a shared host run the same programs on their own
# events).
prog_ns_per_event() { # NAME...
    bpftool prog show -j | python3 -c '
import json, sys
mine = {int(i) for i in sys.argv[1].split()}
names = sys.argv[2:]; t = dict.fromkeys(names, 0); n = dict.fromkeys(names, 0)
for p in json.load(sys.stdin):
    if p.get("name") in t and p["id"] in mine:
        t[p["name"]] += p.get("run_time_ns", 0); n[p["name"]] += p.get("run_cnt", 0)
run = [k for k in names if n[k]]  # a program not loaded in this mode costs nothing
if run:
    print("%.0f (%s)" % (sum(t[k] / n[k] for k in run),
                        " + ".join("%s %.0f" % (k, t[k] / n[k]) for k in run)))
else:
    print("n/a")' "$(cat /proc/"$DRV_PID"/fdinfo/* 2>/dev/null | sed -n 's/^prog_id:[[:space:]]*//p')" "$@"
}
# Run the workload at real-time priority on CPU 1 so the other load of a shared host disturbs it
# less (both runs of a pair alike).
RUN=(taskset -c 1)
command -v chrt >/dev/null && RUN=(chrt -f 50 taskset -c 1)

bench() { # PROGRAM WORKLOAD N EVENTS_PER_OP UNIT TARGET_NS BPF_PROG_NAMES...
    local prog=$1 wl=$2 n=$3 per=$4 unit=$5 target=$6 r
    shift 6
    : >"$TMP/base" && : >"$TMP/att"
    for r in $(seq "$ROUNDS"); do
        "${RUN[@]}" "$W" "$wl" "$n" >>"$TMP/base"
        attach "$prog"
        "${RUN[@]}" "$W" "$wl" "$n" >>"$TMP/att"
        if [ "$r" -eq "$ROUNDS" ]; then
            echo 1 >/proc/sys/kernel/bpf_stats_enabled
            "${RUN[@]}" "$W" "$wl" "$n" >/dev/null
            runns=$(prog_ns_per_event "$@")
            echo "$stats0" >/proc/sys/kernel/bpf_stats_enabled
        fi
        detach
    done
    local b a
    b=$(median <"$TMP/base")
    a=$(median <"$TMP/att")
    awk -v p="$prog" -v w="$wl" -v b="$b" -v a="$a" -v per="$per" -v u="$unit" -v t="$target" \
        -v rn="$runns" 'BEGIN {
        d = (a - b) / per
        verdict = t == "-" ? "no target" : sprintf("target <= %d: %s", t, d <= t + 0 ? "met" : "MISSED")
        printf "%-8s %-8s wall clock: baseline %.1f ns/op, attached %.1f ns/op, ratio %.3f, overhead %.1f ns per %s (%s)\n         in-kernel program cost per %s: %s ns\n",
            p, w, b, a, a / b, d, u, verdict, u, rn }'
}

# bench_pair PROGRAM WORKLOAD N UNIT TARGET_NS OPTS_A OPTS_B BPF_PROG_NAMES...: the program
# attached both times, with options A then B (one pair per round); the difference is what B adds.
bench_pair() {
    local prog=$1 wl=$2 n=$3 unit=$4 target=$5 oa=$6 ob=$7 r ka kb
    shift 7
    : >"$TMP/base" && : >"$TMP/att"
    for r in $(seq "$ROUNDS"); do
        for o in a b; do
            if [ $o = a ]; then EXTRA=$oa; else EXTRA=$ob; fi
            attach "$prog"
            "${RUN[@]}" "$W" "$wl" "$n" >>"$TMP/$([ $o = a ] && echo base || echo att)"
            if [ "$r" -eq "$ROUNDS" ]; then
                echo 1 >/proc/sys/kernel/bpf_stats_enabled
                "${RUN[@]}" "$W" "$wl" "$n" >/dev/null
                if [ $o = a ]; then ka=$(prog_ns_per_event "$@"); else kb=$(prog_ns_per_event "$@"); fi
                echo "$stats0" >/proc/sys/kernel/bpf_stats_enabled
            fi
            detach
        done
    done
    EXTRA=
    local b a
    b=$(median <"$TMP/base")
    a=$(median <"$TMP/att")
    awk -v p="$prog" -v w="$wl" -v b="$b" -v a="$a" -v u="$unit" -v t="$target" -v oa="$oa" \
        -v ob="$ob" -v ka="$ka" -v kb="$kb" 'BEGIN {
        d = a - b
        printf "%-8s %-8s wall clock: {%s} %.1f ns/op, {%s} %.1f ns/op, ratio %.3f, extra %.1f ns per %s (target <= %d: %s)\n         in-kernel cost per state change: %s ns -> %s ns\n",
            p, w, oa, b, ob, a, a / b, d, u, t, d <= t + 0 ? "met" : "MISSED", ka, kb }'
}

bench sched pingpong "${EBPF_BENCH_PINGPONG:-20000}" 2 "switch+wakeup" 600 btf_switch btf_wakeup
if [ -n "${EBPF_BENCH_RAW_TP:-}" ]; then # the raw_tp fallback (timestamps, pid-keyed hash)
    EXTRA="attach: raw_tp" bench sched pingpong "${EBPF_BENCH_PINGPONG:-20000}" 2 "switch+wakeup" - raw_switch raw_wakeup
fi
bench tcp connect "${EBPF_BENCH_CONNECT:-5000}" 10 "state change" 250 btf_state
# Topology edges (issue 14): what the per-peer bookkeeping adds to a connection (connect +
# accept + close on loopback: the client and the server edge counted at ESTABLISHED, the RTT of
# 1 in 4 connections at close), and the series/memory of 200 pods × 10 peers (bench/topo_series).
bench_pair tcp connect "${EBPF_BENCH_CONNECT:-5000}" connection 300 "topology: false" "topology: true" btf_state
[ -x "$TOP/$O/bench/topo_series" ] && "$TOP/$O/bench/topo_series"
bench syscalls getppid "${EBPF_BENCH_GETPPID:-300000}" 1 "syscall" 150 btf_exit
echo "with syscall_latency: true (sys_enter hook + task storage + histogram; no target):"
EXTRA="syscall_latency: true" bench syscalls getppid "${EBPF_BENCH_GETPPID:-300000}" 1 "syscall" - btf_enter btf_exit
