#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Cost of the node collectors vs node_exporter's same collectors (cpu+stat, meminfo, loadavg,
# pressure, netdev, diskstats, filesystem, vmstat, netstat, sockstat, softnet, filefd, conntrack,
# entropy) on this host, same run, CPU time per cycle:
# - hakari: $O/bench/bench_node runs the collectors in-process (reads, parses, emits, plus
#   sealing and rendering the snapshot as text), process CPU time per cycle;
# - node_exporter: CPU time (utime+stime) per scrape with those collectors minus per scrape with
#   none (its HTTP and Go runtime overhead), CYCLES scrapes each.
# Not a test: prints figures and the ratio; bounded (~1-2 min on a busy 2-core VM).
source "$(dirname "$0")/../tests/lib.sh"
BENCH_NODE="$TOP/$O/bench/bench_node"
[ -x "$BENCH_NODE" ] || fail "no $BENCH_NODE (make O=$O bench builds it)"
command -v prometheus-node-exporter >/dev/null || skip "prometheus-node-exporter not installed"
CYCLES=${CYCLES:-150}
hz=$(getconf CLK_TCK)

"$BENCH_NODE" "$((CYCLES * 5))" / >"$TMP/hk.txt" || fail "bench_node failed"
cat "$TMP/hk.txt"
# the node_exporter-comparable set: everything but machine (cAdvisor's, no twin there)
hk_us=$(awk '$1 ~ /^(cpu|meminfo|loadavg|pressure|netdev|diskstats|filesystem|vmstat|netstat|sockstat|softnet|filefd|conntrack|entropy|seal\+render)$/ { s += $2 } END { printf "%.1f", s }' "$TMP/hk.txt")

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# ne_cost "collectors": CPU µs per scrape
ne_cost() {
    local args=(--collector.disable-defaults) c port pid t0 t1
    for c in $1; do args+=(--collector."$c"); done
    port=$(free_port)
    bg node_exporter prometheus-node-exporter --web.listen-address="127.0.0.1:$port" "${args[@]}"
    pid=$BG_PID
    wait_http "http://127.0.0.1:$port/metrics" 20
    t0=$(cpu_ticks "$pid")
    for _ in $(seq "$CYCLES"); do curl -fsS -o "$TMP/ne.prom" "http://127.0.0.1:$port/metrics"; done
    t1=$(cpu_ticks "$pid")
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$CYCLES" 'BEGIN { printf "%.1f\n", t / hz * 1e6 / n }'
}
ne_none=$(ne_cost "")
ne_all=$(ne_cost "cpu stat meminfo loadavg pressure netdev diskstats filesystem vmstat netstat sockstat softnet filefd conntrack entropy")
ne_us=$(awk -v a="$ne_all" -v b="$ne_none" 'BEGIN { printf "%.1f", a - b }')
echo "node_exporter, $CYCLES scrapes, CPU µs per scrape: $ne_all with the collectors, $ne_none without"
echo "same collectors, CPU µs per cycle: hakari $hk_us, node_exporter $ne_us ($(grep -c '^node_' "$TMP/ne.prom") node_* series)"
awk -v h="$hk_us" -v n="$ne_us" 'BEGIN { if (h > 0) printf "ratio node_exporter/hakari: %.1fx\n", n / h }'
