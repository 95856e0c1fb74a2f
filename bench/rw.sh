#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Remote-write cost: CPU seconds per million samples delivered and RSS, for hakari's pipeline
# (bench/rw_bench: synthetic snapshots → diff → durable queue → shards → 1.0 + snappy → libcurl),
# vmagent and the Prometheus agent (both scraping the same series from a static file), each in
# turn delivering to the same VictoriaMetrics. Samples delivered = the receiver's
# vm_rows_inserted_total{type="promremotewrite"} increase in the window; CPU = utime+stime of the
# agent process in the window (/proc/PID/stat). Prints a table and hakari's ratios.
# Env: RW_BENCH_SERIES (100000) RW_BENCH_INTERVAL (5 s) RW_BENCH_WINDOW (45 s) RW_BENCH_WARMUP
# (15 s) RW_BENCH_AGENTS ("hakari vmagent prom-agent"). About 4 minutes with the defaults (the
# bench/run.sh budget per section is 5).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
SERIES=${RW_BENCH_SERIES:-100000}
INTERVAL=${RW_BENCH_INTERVAL:-5}
WINDOW=${RW_BENCH_WINDOW:-45}
WARMUP=${RW_BENCH_WARMUP:-15}
AGENTS=${RW_BENCH_AGENTS:-hakari vmagent prom-agent}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hakari-rwbench.XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 1
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_url() { local i; for i in $(seq 300); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.2; done; echo "timeout: $1" >&2; exit 1; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
vm_rows() {
    curl -fsS "$VM/metrics" | awk '/^vm_rows_inserted_total\{type="promremotewrite"\}/ { print $2 }'
}
command -v victoria-metrics >/dev/null || { echo "victoria-metrics missing (mk/packages-bench.txt)"; exit 1; }

VMPORT=$(port)
VM="http://127.0.0.1:$VMPORT"
victoria-metrics -httpListenAddr "127.0.0.1:$VMPORT" -storageDataPath "$TMP/vm" -loggerLevel=ERROR \
    >"$TMP/vm.log" 2>&1 &
PIDS+=($!)
VM_PID=$!
wait_url "$VM/health"

# The same series for the scrapers: a static exposition file served over HTTP.
mkdir -p "$TMP/target"
"$PY" - "$SERIES" >"$TMP/target/metrics" <<'PY'
import sys
n = int(sys.argv[1])
for k in range(100):
    print(f"# TYPE synth_metric_{k:02d} gauge")
    for i in range(k, n, 100):
        print(f'synth_metric_{k:02d}{{instance="bench:9100",series_id="{i // 100}"}} {(i * 7) % 100000 / 7.0}')
PY
TPORT=$(port)
"$PY" -m http.server --bind 127.0.0.1 --directory "$TMP/target" "$TPORT" >"$TMP/target.log" 2>&1 &
PIDS+=($!)
wait_url "http://127.0.0.1:$TPORT/metrics"
cat >"$TMP/scrape.yml" <<YML
global:
  scrape_interval: ${INTERVAL}s
  scrape_timeout: ${INTERVAL}s
scrape_configs:
  - job_name: synth
    metrics_path: /metrics
    static_configs: [{targets: ['127.0.0.1:$TPORT']}]
YML
cp "$TMP/scrape.yml" "$TMP/agent.yml"
printf 'remote_write:\n  - url: %s/api/v1/write\n' "$VM" >>"$TMP/agent.yml"

RESULTS=()
run_agent() { # NAME
    local name=$1 apid aport c0 c1 r0 r1 rss max=0 t0 t1
    aport=$(port)
    mkdir -p "$TMP/$name"
    case $name in
    hakari)
        "$TOP/$O/bench/rw_bench" "$VM/api/v1/write" "$SERIES" $((INTERVAL * 1000)) \
            $((WARMUP + WINDOW + 15)) "$TMP/$name" >"$TMP/$name.log" 2>&1 &
        ;;
    vmagent)
        vmagent -promscrape.config="$TMP/scrape.yml" -remoteWrite.url="$VM/api/v1/write" \
            -remoteWrite.tmpDataPath="$TMP/$name" -httpListenAddr="127.0.0.1:$aport" \
            -loggerLevel=ERROR >"$TMP/$name.log" 2>&1 &
        ;;
    prom-agent)
        prometheus --enable-feature=agent --config.file="$TMP/agent.yml" \
            --storage.agent.path="$TMP/$name" --web.listen-address="127.0.0.1:$aport" \
            >"$TMP/$name.log" 2>&1 &
        ;;
    esac
    apid=$!
    PIDS+=("$apid")
    sleep "$WARMUP"
    kill -0 "$apid" 2>/dev/null || { tail "$TMP/$name.log" >&2; echo "$name died" >&2; exit 1; }
    c0=$(cpu_ticks "$apid"); r0=$(vm_rows); t0=$(date +%s.%N)
    local end=$((SECONDS + WINDOW))
    while [ $SECONDS -lt $end ]; do
        sleep 2
        rss=$(rss_kib "$apid")
        [ "$rss" -gt "$max" ] && max=$rss
    done
    c1=$(cpu_ticks "$apid"); r1=$(vm_rows); t1=$(date +%s.%N)
    kill -TERM "$apid" 2>/dev/null || true
    wait "$apid" 2>/dev/null || true
    RESULTS+=("$name $(awk -v c=$((c1 - c0)) -v r0="$r0" -v r1="$r1" -v t0="$t0" -v t1="$t1" -v m="$max" \
        'BEGIN { s = r1 - r0; printf "%.3f %.0f %.0f %.2f", (c / 100) / (s / 1e6), s / (t1 - t0), m / 1024, c / 100 }')")
    sleep 3 # let VM settle between agents
}
for a in $AGENTS; do run_agent "$a"; done

echo "== remote-write: $SERIES series every ${INTERVAL}s -> VictoriaMetrics, ${WINDOW}s window"
printf '%-12s %14s %14s %10s %10s\n' agent "CPU s/1M" "samples/s" "RSS MiB" "CPU s"
for r in "${RESULTS[@]}"; do
    # shellcheck disable=SC2086
    printf '%-12s %14s %14s %10s %10s\n' $r
done
ratio() { # METRIC_COLUMN PEER
    local h p
    h=$(printf '%s\n' "${RESULTS[@]}" | awk -v c="$1" '$1 == "hakari" { print $c }')
    p=$(printf '%s\n' "${RESULTS[@]}" | awk -v c="$1" -v n="$2" '$1 == n { print $c }')
    [ -n "$h" ] && [ -n "$p" ] && awk -v h="$h" -v p="$p" 'BEGIN { printf "%.2f", h / p }'
}
for peer in vmagent prom-agent; do
    cr=$(ratio 2 "$peer" || true)
    rr=$(ratio 4 "$peer" || true)
    if [ -n "$cr" ]; then echo "hakari / $peer: CPU per sample ${cr}x, RSS ${rr}x"; fi
done
