#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Foundation benchmarks (render speed, idle RSS, node_exporter anchor), run by bench/run.sh.
# sections print ratios against a peer measured in the same run where there is one.
#   O=<build dir>  ONLY=<section glob>  BENCH_SECONDS=<min CPU seconds per render figure>
set -uo pipefail
cd "$(dirname "$0")/.."
O=${O:-build}
HAKARI=$PWD/$O/hakari
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hakari-bench.XXXXXX")
BENCH_SECONDS=${BENCH_SECONDS:-2}
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_http() {
    for _ in $(seq 300); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }
samples() { grep -vc '^#' "$1"; }
section() {
    local name=$1
    shift
    [[ -n "${ONLY:-}" && "$name" != ${ONLY} ]] && return 0
    echo "== $name"
    # Each section runs in its own bash (timeout cannot run a function) that stops what it
    # started when it ends.
    timeout --kill-after=5 "${SECTION_TIMEOUT:-180}" \
        bash -c 'trap "kill \$(jobs -p) 2>/dev/null; wait" EXIT; "$@"' section "$@" ||
        echo "   (section $name failed or timed out: $?)"
    echo
}

# 1. Exposition render speed: synthetic 100k-series snapshots, cAdvisor-shaped (~430 bytes per
# sample line) and node_exporter-shaped (~70 bytes). Figures are per CPU-second of the thread.
bench_render() {
    "$PWD/$O/bench/render" 100000 "$BENCH_SECONDS"
    echo
    "$PWD/$O/bench/render" 100000 "$BENCH_SECONDS" node
}

# 2. RSS of the idle agent on this host (default collectors), before and after scrapes.
bench_rss() {
    local port pid
    port=$(free_port)
    "$HAKARI" --web.listen-address="127.0.0.1:$port" --collection.interval=1s >"$TMP/hakari.log" 2>&1 &
    pid=$!
    wait_http "http://127.0.0.1:$port/-/ready" || { echo "hakari did not start"; return 1; }
    sleep 5
    echo "hakari idle (5 s, 1 s interval, no scrape):  VmRSS $(rss_kib "$pid") KiB"
    for _ in $(seq 10); do curl -fsS -H 'Accept-Encoding: gzip' -o /dev/null "http://127.0.0.1:$port/metrics"; sleep 0.2; done
    echo "hakari after 10 gzip scrapes:               VmRSS $(rss_kib "$pid") KiB"
    kill "$pid"
}

# 3. Peer anchor: node_exporter (Debian) on the same host; one scrape each, bytes and samples.
bench_peer() {
    local ne
    ne=$(command -v prometheus-node-exporter || true)
    [ -n "$ne" ] || { echo "prometheus-node-exporter not installed (mk/packages-bench.txt)"; return 0; }
    local np hp npid hpid
    np=$(free_port)
    hp=$(free_port)
    "$ne" --web.listen-address="127.0.0.1:$np" >"$TMP/ne.log" 2>&1 &
    npid=$!
    "$HAKARI" --web.listen-address="127.0.0.1:$hp" >"$TMP/hakari2.log" 2>&1 &
    hpid=$!
    wait_http "http://127.0.0.1:$np/metrics" || { echo "node_exporter did not start"; return 1; }
    wait_http "http://127.0.0.1:$hp/-/ready" || { echo "hakari did not start"; return 1; }
    sleep 2
    local t_ne t_hk
    t_ne=$(curl -fsS -o "$TMP/ne.prom" -w '%{time_total}' "http://127.0.0.1:$np/metrics")
    t_hk=$(curl -fsS -o "$TMP/hk.prom" -w '%{time_total}' "http://127.0.0.1:$hp/metrics")
    local ne_b hk_b ne_s hk_s
    ne_b=$(stat -c %s "$TMP/ne.prom")
    hk_b=$(stat -c %s "$TMP/hk.prom")
    ne_s=$(samples "$TMP/ne.prom")
    hk_s=$(samples "$TMP/hk.prom")
    printf '%-16s %9s %8s %9s %10s\n' agent bytes samples "RSS KiB" "scrape s"
    printf '%-16s %9d %8d %9d %10s\n' node_exporter "$ne_b" "$ne_s" "$(rss_kib "$npid")" "$t_ne"
    printf '%-16s %9d %8d %9d %10s\n' hakari "$hk_b" "$hk_s" "$(rss_kib "$hpid")" "$t_hk"
    python3 -c "import sys; a=[float(x) for x in sys.argv[1:]]; print('ratio hakari/node_exporter: RSS %.2f, samples %.2f (hakari runs %s collectors so far)' % (a[0]/a[1], a[2]/a[3], '$("$HAKARI" --help | awk '/^Collectors/{c=1;next} c&&/^  [a-z]/&&$2=="on"{n++} END{print n+0}')'))" \
        "$(rss_kib "$hpid")" "$(rss_kib "$npid")" "$hk_s" "$ne_s"
    kill "$npid" "$hpid"
}

export O HAKARI TMP BENCH_SECONDS
export -f free_port wait_http rss_kib samples bench_render bench_rss bench_peer
section render bench_render
section rss bench_rss
section peer bench_peer
