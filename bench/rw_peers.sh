#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Remote-write cost on the peers' workload (docs/remote-write.md, "Cost"): 100,000 series (100 gauge names
# x 1,000 label sets) every INTERVAL seconds into a fresh VictoriaMetrics, per agent:
#   hakari     reads the file with its textfile collector (--collector.textfile.directory) and
#              remote-writes it (config remote_write: [{url: ...}]); other collectors off;
#   vmagent    scrapes the same file served over HTTP (gzip) and remote-writes it;
#   prom-agent Prometheus in agent mode, same.
# Measured in a WINDOW after a WARMUP, as the peers were: agent CPU s per 1M samples the receiver
# ingested, agent RSS (samples every 5 s; max and end) and VmHWM, samples stored in the window vs
# expected (cycles seen by the receiver x series), bytes on the wire per sample (receiver's TCP
# bytes read, identical method for every agent; HTTP headers included), samples per request.
# Prints the hakari/vmagent and hakari/prom-agent ratios and whether the targets are met.
# bench-timeout: 2400
#
# usage: bench/rw_peers.sh [-a "hakari vmagent prom-agent"] [-i "1 5"] [-S 100000] [-W 60] [-u 20]
#                    [-n RUNS=1] [-o OUT_DIR]
# Needs victoria-metrics, vmagent, prometheus (Debian), python3, curl. Ports 18428 (VM),
# 19101 (target), 19201 (agent); override with VM_PORT, TARGET_PORT, AGENT_PORT.
# HAKARI_QUEUE='fsync=interval max_samples_per_send=10000' adds queue_config keys for hakari
# (default: none, i.e. hakari's defaults, which fsync each batch).
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
O=${O:-build}
HAKARI=${HAKARI:-$TOP/$O/hakari}
U="python3 $TOP/bench/rw_util.py"
WORK=${WORK:-${TMPDIR:-/tmp}/hakari-bench-rw}
VM_PORT=${VM_PORT:-18428}
TARGET_PORT=${TARGET_PORT:-19101}
AGENT_PORT=${AGENT_PORT:-19201}
AGENTS="hakari vmagent prom-agent" INTERVALS="1 5" SERIES=100000 WINDOW=60 WARMUP=20 RUNS=1
OUT=""
while getopts "a:i:S:W:u:n:o:" o; do
    case $o in
    a) AGENTS=$OPTARG ;; i) INTERVALS=$OPTARG ;; S) SERIES=$OPTARG ;; W) WINDOW=$OPTARG ;;
    u) WARMUP=$OPTARG ;; n) RUNS=$OPTARG ;; o) OUT=$OPTARG ;;
    *) sed -n '2,19p' "$0"; exit 2 ;;
    esac
done
OUT=${OUT:-$WORK/results}
mkdir -p "$WORK" "$OUT"
JSONL="$OUT/rw-$(date +%Y%m%d-%H%M%S).jsonl"
: >"$JSONL"

PIDS=()
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
stop_pid() { # PID [TIMEOUT_S]: TERM, then KILL after the timeout
    local pid=$1 to=${2:-20} i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < to * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}
cleanup() { local p; for p in "${PIDS[@]}"; do stop_pid "$p" 10; done; PIDS=(); }
trap cleanup EXIT
trap 'exit 130' INT TERM
start() { # VAR LOG CMD...
    local var=$1 lg=$2
    shift 2
    "$@" >"$lg" 2>&1 &
    PIDS+=($!)
    printf -v "$var" '%s' $!
}
wait_http() {
    local i
    for ((i = 0; i < ${2:-60} * 5; i++)); do
        curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null && return 0
        sleep 0.2
    done
    log "timeout waiting for $1"
    return 1
}

for bin in victoria-metrics vmagent prometheus curl; do
    command -v "$bin" >/dev/null || { echo "rw bench: $bin missing (make deps-bench)" >&2; exit 1; }
done

# The workload: one file, served to the scrapers and read by hakari's textfile collector.
SYNTH="$WORK/textfile/synth.prom"
mkdir -p "$WORK/textfile"
[ -s "$SYNTH" ] && [ "$(grep -c '^synth_' "$SYNTH")" = "$SERIES" ] || $U gen "$SYNTH" --series "$SERIES" >&2

# hakari: every collector but textfile off, so it does what the scrapers do and no more.
HAKARI_OK=1
if [[ " $AGENTS " == *" hakari "* ]]; then
    [ -x "$HAKARI" ] || { echo "rw bench: no $HAKARI (make O=$O)" >&2; exit 1; }
    NOCOLL=()
    for c in $("$HAKARI" --help | awk '/^Collectors/{on=1; next} on && NF>=2 && $1 ~ /^[a-z0-9_]+$/ {print $1}'); do
        [ "$c" = textfile ] || NOCOLL+=("--no-collector.$c")
    done
    printf 'remote_write:\n  - url: http://127.0.0.1:%s/api/v1/write\n' "$VM_PORT" >"$WORK/rw-check.yml"
    if ! "$HAKARI" --config.file="$WORK/rw-check.yml" --config.check >"$WORK/rw-check.out" 2>&1 ||
        ! grep -q 'remote_write endpoints: 1' "$WORK/rw-check.out" ||
        ! grep -rqs 'remote_write' "$TOP/exporter/"rw_*.c 2>/dev/null; then
        HAKARI_OK=0
        log "hakari has no remote-write sender in this build: its side is skipped"
    fi
fi

agent_cmd() { # AGENT INTERVAL DIR -> command line
    local a=$1 iv=$2 d=$3
    cat >"$d/scrape.yml" <<YML
global:
  scrape_interval: ${iv}s
  scrape_timeout: ${iv}s
scrape_configs:
  - job_name: synth
    static_configs:
      - targets: ["127.0.0.1:$TARGET_PORT"]
YML
    case $a in
    hakari)
        cat >"$d/hakari.yml" <<YML
global:
  collection_interval: ${iv}s
remote_write:
  - url: http://127.0.0.1:$VM_PORT/api/v1/write
    queue_config:
      disk_path: $d/queue
$(for kv in ${HAKARI_QUEUE:-}; do printf '      %s\n' "${kv/=/: }"; done)
YML
        echo "$HAKARI --config.file=$d/hakari.yml --web.listen-address=127.0.0.1:$AGENT_PORT" \
            "--collector.textfile.directory=$WORK/textfile ${NOCOLL[*]}"
        ;;
    vmagent)
        echo "vmagent -promscrape.config=$d/scrape.yml -remoteWrite.url=http://127.0.0.1:$VM_PORT/api/v1/write" \
            "-remoteWrite.tmpDataPath=$d/queue -httpListenAddr=127.0.0.1:$AGENT_PORT"
        ;;
    prom-agent)
        { cat "$d/scrape.yml"; printf 'remote_write:\n  - url: http://127.0.0.1:%s/api/v1/write\n' "$VM_PORT"; } >"$d/prom-agent.yml"
        echo "prometheus --enable-feature=agent --config.file=$d/prom-agent.yml --storage.agent.path=$d/wal" \
            "--web.listen-address=127.0.0.1:$AGENT_PORT"
        ;;
    esac
}

VM="http://127.0.0.1:$VM_PORT"
run_one() { # AGENT INTERVAL RUN
    local a=$1 iv=$2 run=$3 d="$WORK/runs/$1-i$2-r$3"
    rm -rf "$d"
    mkdir -p "$d"
    local VPID TPID APID cmd
    start VPID "$d/vm.log" victoria-metrics -storageDataPath="$d/vm" -httpListenAddr=127.0.0.1:$VM_PORT \
        -retentionPeriod=1 -search.latencyOffset=1s -search.disableCache -search.maxQueryDuration=5m
    wait_http "$VM/health" 60
    if [ "$a" != hakari ]; then
        start TPID "$d/target.log" python3 "$TOP/bench/rw_util.py" serve "$SYNTH" "$TARGET_PORT"
        wait_http "http://127.0.0.1:$TARGET_PORT/stats" 30
    fi
    cmd=$(agent_cmd "$a" "$iv" "$d")
    echo "$cmd" >"$d/agent.cmd"
    log "$a every ${iv}s, run $run: $cmd"
    # shellcheck disable=SC2086
    start APID "$d/agent.log" $cmd
    sleep "$WARMUP"
    kill -0 "$APID" 2>/dev/null || { tail -20 "$d/agent.log" >&2; log "$a died"; return 1; }
    local t0 ac0 rc0 n0 b0 q0 hc0 t1 ac1 rc1 n1 b1 q1 hc1 r rss_max=0 rss_sum=0 rss_n=0 end
    # hakari's own counters come from /metrics/self: a scrape of /metrics would render the
    # 100,000 textfile series (a 16 MiB body cached with its snapshot), measuring the bench's own
    # probe in VmHWM; vmagent and prom-agent are not scraped at all.
    local AM="http://127.0.0.1:$AGENT_PORT/metrics/self" pending=0 am=""
    [ "$a" = hakari ] && am=$AM
    read -r t0 ac0 rc0 n0 b0 q0 hc0 <<<"$($U snap "$APID" "$VPID" "$VM" $am)"
    end=$(($(date +%s) + WINDOW))
    while [ "$(date +%s)" -lt "$end" ]; do
        sleep 5
        r=$(awk '/^VmRSS:/ {print $2}' "/proc/$APID/status")
        rss_sum=$((rss_sum + r)) rss_n=$((rss_n + 1))
        [ "$r" -gt "$rss_max" ] && rss_max=$r
    done
    read -r t1 ac1 rc1 n1 b1 q1 hc1 <<<"$($U snap "$APID" "$VPID" "$VM" $am)"
    local rss_end hwm
    rss_end=$(awk '/^VmRSS:/ {print $2}' "/proc/$APID/status")
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$APID/status")
    sleep 10 # in-flight batches
    # What hakari still holds when delivery is checked: whole cycles still queued would not show
    # in the receiver's cycle count below, so they are reported (and fail the target) here.
    [ "$a" = hakari ] && pending=$($U grepsum "$AM" 'hakari_remote_storage_samples_pending')
    local W QT stored cycles
    W=$(python3 -c "print(int(round($t1-$t0)))")
    QT=$(python3 -c "print(f'{$t1:.3f}')")
    stored=$($U query "$VM" "sum(count_over_time({__name__=~\"synth_.+\"}[${W}s]))" "$QT")
    # Cycles in the window as the receiver saw them: one 'up' per scrape (scrapers), one
    # node_textfile_scrape_error per collection (hakari; same snapshot as the file's series).
    if [ "$a" = hakari ]; then
        cycles=$($U query "$VM" "sum(count_over_time(node_textfile_scrape_error[${W}s]))" "$QT")
    else
        cycles=$($U query "$VM" "sum(count_over_time(up{job=\"synth\"}[${W}s]))" "$QT")
    fi
    stop_pid "$APID" 30
    [ -n "${TPID:-}" ] && stop_pid "$TPID" 5
    stop_pid "$VPID" 30
    python3 - "$JSONL" <<PY
import json, sys
d = dict(agent="$a", variant="${HAKARI_QUEUE:-}" if "$a" == "hakari" else "", interval_s=$iv, run=$run, series=$SERIES, window_s=round($t1-$t0, 2),
         agent_cpu_s=round($ac1-$ac0, 2), recv_cpu_s=round($rc1-$rc0, 2),
         recv_samples=$n1-$n0, recv_bytes=$b1-$b0, recv_requests=$q1-$q0,
         rss_kb_max=max($rss_max, $rss_end), rss_kb_mean=round($rss_sum/max($rss_n,1)), rss_kb_end=$rss_end,
         hwm_kb=$hwm, stored=float("$stored"), cycles=float("$cycles"), agent_pending_end=float("$pending"), agent_cycles=$hc1-$hc0, cmd=open("$d/agent.cmd").read().strip())
m = d["recv_samples"] / 1e6
d["cpu_s_per_M"] = round(d["agent_cpu_s"] / m, 3) if m else None
d["recv_cpu_s_per_M"] = round(d["recv_cpu_s"] / m, 3) if m else None
d["samples_per_s"] = round(d["recv_samples"] / d["window_s"])
d["bytes_per_sample"] = round(d["recv_bytes"] / d["recv_samples"], 2) if d["recv_samples"] else None
d["samples_per_request"] = round(d["recv_samples"] / d["recv_requests"]) if d["recv_requests"] else None
d["expected"] = d["cycles"] * d["series"] if d["cycles"] == d["cycles"] else None
d["delivered"] = round(d["stored"] / d["expected"], 5) if d["expected"] else None
open(sys.argv[1], "a").write(json.dumps(d) + "\n")
print(json.dumps(d))
PY
}

for iv in $INTERVALS; do
    for a in $AGENTS; do
        [ "$a" = hakari ] && [ "$HAKARI_OK" = 0 ] && continue
        for ((run = 1; run <= RUNS; run++)); do
            run_one "$a" "$iv" "$run" || log "run failed: $a every ${iv}s"
        done
    done
done

python3 - "$JSONL" "$HAKARI_OK" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
hakari_ok = sys.argv[2] == "1"
def med(a, iv, k):
    v = [r[k] for r in rows if r["agent"] == a and r["interval_s"] == iv and r.get(k) is not None]
    return statistics.median(v) if v else None
def f(x, fmt="{:.2f}"):
    return "-" if x is None else fmt.format(x)
print()
print("remote-write 1.0 -> victoria-metrics, %d series; medians over runs" % (rows[0]["series"] if rows else 0))
print("%-11s %4s %8s %10s %9s %9s %9s %9s %11s %8s %14s" % ("agent", "iv", "samples/s", "CPU s/1M", "RSS mean",
      "RSS max", "VmHWM", "B/sample", "samples/req", "recv s/1M", "stored/expected"))
ivs = sorted({r["interval_s"] for r in rows})
for iv in ivs:
    for a in ("hakari", "vmagent", "prom-agent"):
        rs = [r for r in rows if r["agent"] == a and r["interval_s"] == iv]
        if not rs:
            continue
        dl = ", ".join("%.0f/%.0f" % (r["stored"], r["expected"] or 0) for r in rs)
        print("%-11s %3ss %8s %10s %7s Mi %7s Mi %7s Mi %9s %11s %8s   %s" % (
            a, iv, f(med(a, iv, "samples_per_s"), "{:.0f}"), f(med(a, iv, "cpu_s_per_M")),
            f(med(a, iv, "rss_kb_mean") and med(a, iv, "rss_kb_mean") / 1024, "{:.1f}"),
            f(med(a, iv, "rss_kb_max") and med(a, iv, "rss_kb_max") / 1024, "{:.1f}"),
            f(med(a, iv, "hwm_kb") and med(a, iv, "hwm_kb") / 1024, "{:.1f}"),
            f(med(a, iv, "bytes_per_sample")), f(med(a, iv, "samples_per_request"), "{:.0f}"),
            f(med(a, iv, "recv_cpu_s_per_M")), dl))
for r in rows:
    if r["agent"] == "hakari" and r.get("agent_pending_end"):
        print("hakari every %ss run %d: %.0f samples still queued 10 s after the window (sender behind)" % (
            r["interval_s"], r["run"], r["agent_pending_end"]))
print()
if not hakari_ok:
    print("hakari: no remote-write sender in this build; ratios and targets need it (merge main).")
for iv in ivs:
    h = {k: med("hakari", iv, k) for k in ("cpu_s_per_M", "rss_kb_mean", "rss_kb_max", "hwm_kb", "bytes_per_sample")}
    if h["cpu_s_per_M"] is None:
        continue
    for peer in ("vmagent", "prom-agent"):
        p = {k: med(peer, iv, k) for k in h}
        if p["cpu_s_per_M"] is None:
            continue
        ratio = lambda k: (h[k] / p[k]) if h[k] is not None and p[k] else None
        print("every %ss hakari/%-10s CPU/1M %s  RSS mean %s  RSS max %s  VmHWM %s  B/sample %s" % (
            iv, peer, f(ratio("cpu_s_per_M")), f(ratio("rss_kb_mean")), f(ratio("rss_kb_max")),
            f(ratio("hwm_kb")), f(ratio("bytes_per_sample"))))
    v = {k: med("vmagent", iv, k) for k in h}
    hd = [r["delivered"] for r in rows if r["agent"] == "hakari" and r["interval_s"] == iv]
    if v["cpu_s_per_M"]:
        ok_cpu = h["cpu_s_per_M"] <= 0.5 * v["cpu_s_per_M"]
        ok_rss = h["rss_kb_mean"] <= 0.5 * v["rss_kb_mean"]
        print("every %ss targets: CPU/1M <= 0.5x vmagent: %s (%.2f vs %.2f)   RSS <= 0.5x vmagent steady: %s (%.1f vs %.1f MiB)" % (
            iv, "MET" if ok_cpu else "NOT MET", h["cpu_s_per_M"], v["cpu_s_per_M"],
            "MET" if ok_rss else "NOT MET", h["rss_kb_mean"] / 1024, v["rss_kb_mean"] / 1024))
    if iv == 1:  # issue 16's targets, at 1 s: absolute CPU and memory, and 0.3x vmagent's CPU
        ok = lambda c: "MET" if c else "NOT MET"
        print("every 1s targets (issue 16): CPU/1M <= 0.8: %s (%.2f)  <= 0.3x vmagent: %s (%s)  "
              "RSS mean <= 25 MiB: %s (%.1f)  VmHWM <= 40 MiB: %s (%.1f)" % (
                  ok(h["cpu_s_per_M"] <= 0.8), h["cpu_s_per_M"],
                  ok(bool(v["cpu_s_per_M"]) and h["cpu_s_per_M"] <= 0.3 * v["cpu_s_per_M"]),
                  f(h["cpu_s_per_M"] / v["cpu_s_per_M"]) if v["cpu_s_per_M"] else "no vmagent run",
                  ok(h["rss_kb_mean"] <= 25 * 1024), h["rss_kb_mean"] / 1024,
                  ok(h["hwm_kb"] <= 40 * 1024), h["hwm_kb"] / 1024))
    # Whole cycles still queued do not show in the receiver's cycle count: compare with the
    # cycles hakari made in the window (one of difference is the window edge).
    hm = [(r.get("agent_cycles") or 0) - (r["cycles"] or 0) for r in rows if r["agent"] == "hakari" and r["interval_s"] == iv]
    print("every %ss target 100%% delivered: %s (stored/expected %s; cycles made but not seen by the receiver %s)" % (
        iv, "MET" if hd and all(x == 1 for x in hd) and all(m <= 1 for m in hm) else "NOT MET",
        ", ".join(str(x) for x in hd), ", ".join("%.0f" % m for m in hm)))
print()
print("remote-write 2.0: not measured. victoria-metrics 1.79 and prometheus 2.42 (the receivers on this")
print("machine) answer a 2.0 request with 204 and store nothing (measured when the peers were first compared), so no")
print("delivered-sample figure can exist for 2.0 here; vmagent 1.79 and prometheus 2.42 agents cannot send it.")
print("results:", sys.argv[1])
PY
