#!/usr/bin/env bash
# Cost of the node collectors vs node_exporter's same collectors on this host, same run.
# CPU time (utime+stime of the whole process) per cycle is measured for each agent twice: with
# the node collectors and with none, so the difference is what the collectors cost (reading,
# parsing, emitting, rendering their series) without each agent's fixed per-cycle overhead.
# hakari collects every 100 ms (its minimum) and is scraped CYCLES times meanwhile, so it renders
# at most once per cycle (fewer when a scrape takes longer than a cycle: printed); node_exporter
# collects and renders on every scrape, scraped CYCLES times back to back. Also prints each
# collector's own wall time (self-metrics). Not a test: prints figures and ratios; bounded (~2 min on a busy 2-core VM).
source "$(dirname "$0")/../tests/lib.sh"
command -v prometheus-node-exporter >/dev/null || skip "prometheus-node-exporter not installed"
CYCLES=${CYCLES:-80}
node_set="cpu meminfo loadavg pressure netdev diskstats filesystem"
all_hk=$("$HAKARI" --help 2>&1 | awk '/^Collectors/ { on = 1; next } on && NF >= 2 && $2 ~ /^(on|off)$/ { print $1 }')
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# hakari_cost "collectors to enable": prints "ms_per_cycle cycles"; leaves the last scrape in $TMP/hk.prom
hakari_cost() {
    local want=" $1 " args=() c port pid c0 c1 t0 t1
    for c in $all_hk; do
        case "$want" in *" $c "*) args+=(--collector."$c") ;; *) args+=(--no-collector."$c") ;; esac
    done
    port=$(free_port)
    bg hakari "$HAKARI" --web.listen-address="127.0.0.1:$port" --collection.interval=100ms "${args[@]}"
    pid=$BG_PID
    wait_http "http://127.0.0.1:$port/-/ready" 20
    sleep 0.5
    scrape() { curl -fsS "http://127.0.0.1:$port/metrics" -o "$TMP/hk.prom"; }
    scrape
    c0=$(awk '/^hakari_collection_cycles_total / { print $2 }' "$TMP/hk.prom"); t0=$(cpu_ticks "$pid")
    for _ in $(seq "$CYCLES"); do sleep 0.1; scrape; done
    t1=$(cpu_ticks "$pid"); c1=$(awk '/^hakari_collection_cycles_total / { print $2 }' "$TMP/hk.prom")
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    awk -v t=$((t1 - t0)) -v hz="$hz" -v n=$((c1 - c0)) 'BEGIN { printf "%.3f %d\n", t / hz * 1000 / n, n }'
}

# ne_cost "node_exporter collectors": prints ms per scrape; leaves the last scrape in $TMP/ne.prom
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
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$CYCLES" 'BEGIN { printf "%.3f\n", t / hz * 1000 / n }'
}

read -r hk_none _ < <(hakari_cost "")
read -r hk_all hk_cycles < <(hakari_cost "$node_set")
hk_series=$(grep -c '^node_' "$TMP/hk.prom")
awk -v c="$node_set" '$1 == "hakari_collector_duration_seconds" { print }' "$TMP/hk.prom" >"$TMP/hk.dur"
cp "$TMP/hk.prom" "$TMP/hk.last"
ne_none=$(ne_cost "")
ne_all=$(ne_cost "cpu stat meminfo loadavg pressure netdev diskstats filesystem")
ne_series=$(grep -c '^node_' "$TMP/ne.prom")

echo "node collectors (cpu meminfo loadavg pressure netdev diskstats filesystem), CPU ms per cycle"
echo "over $hk_cycles hakari cycles ($CYCLES scrapes) / $CYCLES node_exporter scrapes:"
printf '  %-14s %10s %10s %12s %8s\n' agent "with" without "collectors" series
printf '  %-14s %10s %10s %12s %8s\n' hakari "$hk_all" "$hk_none" \
    "$(awk -v a="$hk_all" -v b="$hk_none" 'BEGIN { printf "%.3f", a - b }')" "$hk_series"
printf '  %-14s %10s %10s %12s %8s\n' node_exporter "$ne_all" "$ne_none" \
    "$(awk -v a="$ne_all" -v b="$ne_none" 'BEGIN { printf "%.3f", a - b }')" "$ne_series"
awk -v h="$hk_all" -v hn="$hk_none" -v n="$ne_all" -v nn="$ne_none" 'BEGIN {
    hc = h - hn; nc = n - nn
    if (hc > 0.05) printf "  ratio (collectors only) node_exporter/hakari: %.1fx\n", nc / hc
    else printf "  ratio: hakari collectors cost below measurement resolution (%.3f ms)\n", hc }'
echo "wall ms per collector, last cycle: hakari | node_exporter"
for c in $node_set; do
    h=$(awk -v c="$c" -F'[{}" ]+' '$1 == "hakari_collector_duration_seconds" && $3 == c { printf "%.3f", $4 * 1000 }' "$TMP/hk.last")
    n=$(awk -v c="$c" -F'[{}" ]+' '$1 == "node_scrape_collector_duration_seconds" && $3 == c { printf "%.3f", $4 * 1000 }' "$TMP/ne.prom")
    [ "$c" = cpu ] && n="$n (+stat $(awk -F'[{}" ]+' '$1 == "node_scrape_collector_duration_seconds" && $3 == "stat" { printf "%.3f", $4 * 1000 }' "$TMP/ne.prom"))"
    printf '  %-11s %8s | %s\n' "$c" "${h:--}" "${n:--}"
done
