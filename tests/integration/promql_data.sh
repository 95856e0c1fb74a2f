#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Dashboards and PromQL rules on real data: every metric name they use is in docs/metrics.md and
# the catalogue matches what hakari emits; hakari runs as two clusters (alpha, beta) over the
# fixture roots and this host, remote-writes into one real Prometheus, and every variable and
# panel query (and every recording rule) must return series there. Static checks: promql.sh.
source "$(dirname "$0")/../lib.sh"
cd "$TOP"

command -v promtool >/dev/null || fail "promtool missing (Debian package prometheus)"
command -v prometheus >/dev/null || fail "prometheus missing (Debian package prometheus)"
[ -x "$HAKARI" ] || fail "$HAKARI not built"

source "$TOP/tests/tools/promql_lib.sh"

# ---- data check: two clusters into one Prometheus ----
# Every fixture node root (cgroup layouts and node-collector roots), as the catalogue uses them.
mapfile -t FIXTURES < <(for d in tests/fixtures/*/; do
    [ -d "$d/sys/fs/cgroup" ] || [ -d "$d/proc" ] && echo "${d%/}"; done)
log "fixture roots: ${FIXTURES[*]:-none}"
mapfile -t ALL_COLLECTORS < <("$HAKARI" --help | awk '/^Collectors/{on=1;next} on&&/^  [a-z0-9_]+ +(on|off)/{print $1} on&&/^$/{on=0}')

# What the dashboards need from the agent; say plainly which parts this build lacks.
missing=()
for c in cgroup cpu meminfo diskstats filesystem netdev pressure machine ebpf; do
    [[ " ${ALL_COLLECTORS[*]} " == *" $c "* ]] || missing+=("collector $c")
done
ls -d tests/fixtures/*/sys/fs/cgroup >/dev/null 2>&1 ||
    missing+=("cgroup fixture node roots (tests/fixtures/*/sys/fs/cgroup)")
[ ${#missing[@]} -eq 0 ] || log "this build lacks: ${missing[*]} (the panels on them cannot show data)"

PROM_PORT=$(free_port)
# The rules are loaded too, so every recording rule is evaluated on the same data.
{
    echo "global: {scrape_interval: 1s, evaluation_interval: 1s}"
    echo "rule_files:"
    for f in "${RULE_FILES[@]}"; do echo "  - $TOP/$f"; done
} >"$TMP/prometheus.yml"
PROM_ARGS=(--web.enable-remote-write-receiver --storage.tsdb.retention.time=1d)

# agent NAME CLUSTER ROOT: one hakari with external labels cluster/node, remote-writing to the
# Prometheus (same config shape a DaemonSet uses); remembered in AGENT_URLS.
AGENT_URLS=()
SOURCES=()
agent() {
    local name=$1 cluster=$2 root=$3 port args=()
    port=$(free_port)
    cat >"$TMP/$name.yml" <<EOF
global:
  collection_interval: 1s
  external_labels: {cluster: $cluster, node: $name}
remote_write:
  - url: http://127.0.0.1:$PROM_PORT/api/v1/write
    name: test
    queue_config: {disk_path: $TMP/queue-$name}
EOF
    if [ "$root" = / ]; then
        # this host: every collector, so eBPF and node families are exercised where possible,
        # with the opt-in syscall programs on (their panels must show data too)
        for c in "${ALL_COLLECTORS[@]}"; do args+=("--collector.$c"); done
        if [[ " ${ALL_COLLECTORS[*]} " == *" ebpf "* ]]; then
            cp "$TMP/$name.yml" "$TMP/$name.base.yml"
            printf 'collectors:\n  ebpf: {syscalls: true, syscall_latency: true}\n' >>"$TMP/$name.yml"
            "$HAKARI" --config.file="$TMP/$name.yml" --config.check >/dev/null 2>&1 ||
                cp "$TMP/$name.base.yml" "$TMP/$name.yml"
        fi
    else
        args+=("--path.rootfs=$root")
    fi
    bg "$name" "$HAKARI" --config.file="$TMP/$name.yml" --web.listen-address="127.0.0.1:$port" \
        --log.level=warn "${args[@]}"
    AGENT_URLS+=("$cluster $name http://127.0.0.1:$port")
    if [ "$root" = / ]; then SOURCES+=(--scrape "server=http://127.0.0.1:$port"); else
        SOURCES+=(--scrape "fixture:$(basename "$root")=http://127.0.0.1:$port"); fi
    wait_http "http://127.0.0.1:$port/-/ready" 30 || true
}

# Remote write is the path users take; a build without the remote-write exporter (it emits no
# hakari_remote_storage_* families) is measured by scraping instead, labels set the same way.
# Fixtures alternate between the clusters in name order (today each cluster gets a cgroup v2
# root, so PSI panels have data in both).
start_agents() {
    local i=0 f
    for c in alpha beta; do agent "$c-host" "$c" /; done
    for f in "${FIXTURES[@]}"; do
        if ((i % 2 == 0)); then c=alpha; else c=beta; fi
        agent "$c-$(basename "$f")" "$c" "$f"
        i=$((i + 1))
    done
}

# Prometheus first, so the agents' first remote-write requests already reach it.
bg prometheus prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/prom-data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" "${PROM_ARGS[@]}"
PROM_PID=$BG_PID
PROM_URL="http://127.0.0.1:$PROM_PORT"
wait_http "$PROM_URL/-/ready" 60

start_agents
# Some TCP for the topology edges (the hakari-topology dashboard, rules/topology.yml): a process
# of this host connects to Prometheus and closes (connections, RTT at close) and to a closed
# port (failed connects), twice a second, so the agents' eBPF programs see edges all along.
CLOSED_PORT=$(free_port)
bg topo-traffic "$PY" -c "
import socket, time
while True:
    for port in ($PROM_PORT, $CLOSED_PORT):
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
        except OSError:
            pass
    time.sleep(0.5)"
MODE=remote-write
first=${AGENT_URLS[0]##* }
# Bodies go to a file first: `curl | grep -q` fails under pipefail once grep stops reading.
has_family() { # PREFIX: the first agent's /metrics has a family starting with PREFIX
    curl -fsS -o "$TMP/first.prom" "$first/metrics" 2>/dev/null && grep -q "^$1" "$TMP/first.prom"
}
published() { has_family hakari_build_info; }
until_true 30 published || fail "no snapshot published by $first"
has_rw() { has_family hakari_remote_storage_; }
if ! until_true 5 has_rw; then
    MODE=scrape
    log "this build has no remote-write exporter (no hakari_remote_storage_* on /metrics): scraping"
    {
        echo "scrape_configs:"
        for a in "${AGENT_URLS[@]}"; do
            read -r cl nd url <<<"$a"
            echo "  - job_name: $nd"
            echo "    static_configs: [{targets: ['${url#http://}'], labels: {cluster: $cl, node: $nd}}]"
        done
    } >>"$TMP/prometheus.yml"
    kill -HUP "$PROM_PID" # reload: scrape the agents
fi
log "data path: $MODE"

# Some block I/O that bypasses the page cache, so the block-latency programs see requests.
dd if=/dev/zero of="$TOP/$O/promql-io.tmp" bs=64k count=64 oflag=direct,sync 2>/dev/null || true
rm -f "$TOP/$O/promql-io.tmp"

step "metric names exist in docs/metrics.md" "$PY" "$CHECK" names docs/metrics.md "${DASHES[@]}" "${RULE_FILES[@]}"
# the running agents are the catalogue's sources: this host with every collector and remote
# write configured, and each fixture root
step "docs/metrics.md matches what hakari emits" "$PY" tests/tools/metrics_catalogue.py "$HAKARI" --check "${SOURCES[@]}"

# Enough samples from every agent for rate() over the test's $__rate_interval (20s).
have_data() {
    local n
    n=$(prom_query "$PROM_URL" 'count(count_over_time(hakari_build_info[1m]) >= 12)' |
        "$PY" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')
    [ "$n" = "${#AGENT_URLS[@]}" ]
}
if until_true 90 have_data; then
    step "every variable and panel query returns series ($MODE, clusters alpha+beta)" \
        "$PY" "$CHECK" data "$PROM_URL" promql-tests/dashboard-allowlist.txt "${DASHES[@]}"
    step "every recording rule has series ($MODE)" \
        "$PY" "$CHECK" records "$PROM_URL" promql-tests/dashboard-allowlist.txt "${RULE_FILES[@]}"
else
    log "agents' logs:"
    for f in "$TMP"/alpha-*.log "$TMP"/beta-*.log; do echo "== $f" >&2; tail -n 5 "$f" >&2; done
    failed+=("data did not arrive in Prometheus ($MODE)")
fi

if [ ${#failed[@]} -gt 0 ]; then
    printf 'failed: %s\n' "${failed[@]}"
    [ ${#missing[@]} -eq 0 ] || printf 'waiting for: %s\n' "${missing[@]}"
    [ "$MODE" = remote-write ] || echo "waiting for: the remote-write exporter (hakari_remote_storage_*)"
    exit 1
fi
echo "all PromQL checks passed"
