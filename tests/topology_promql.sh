# SPDX-License-Identifier: Apache-2.0
# Sourced by tests/integration/topology.sh once A's edges to B are on the agent ($AGENT_URL):
# the topology recording rules and the hakari-topology dashboard on that real data. Two real
# Prometheus servers (2.42, Debian) evaluate promql-tests/rules/topology.yml: the first scrapes
# the agent as two clusters (alpha, beta: the same node seen twice, as the dashboards' data check
# needs two), the second as two clusters that split the node (east: everything but pod server-0,
# west: only server-0), so A's peer B is only known in another cluster. Then A's app opens more
# connections and fails more, so the rates are not 0. Asserted:
# - the recorded workload edge A -> B:8080 in alpha, both ends resolved to their pods'
#   workloads (the agent's own container_pod_workload_info), and its failed connects to :8081;
# - the same edge east -> west (cross-cluster), counted once: B's own view of it (in west)
#   resolves its client in east and merges into the client's edge;
# - the dashboard's node-graph queries (Service map A: nodes, B: edges; cluster alpha resp. east,
#   namespace topo, substituted as Grafana does) answer with both workloads as nodes and the
#   A -> B edge between them;
# - every query of the dashboard returns series (promqlcheck.py data, clusters All/alpha/beta).
# Uses from topology.sh: AGENT_URL, IP_B, PORT, CLOSED, REL_APP_A, NS_A, TMP, PY, scrape.
topology_promql_check() {
    command -v prometheus >/dev/null || fail "prometheus missing (Debian package prometheus)"
    local target=${AGENT_URL#http://} wl_a wl_b xport rec=workload_edge:container_tcp_peer
    cat >"$TMP/prometheus.yml" <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [$TOP/promql-tests/rules/topology.yml]
scrape_configs:
  - job_name: alpha
    static_configs: [{targets: ['$target'], labels: {cluster: alpha, node: topo-node}}]
  - job_name: beta
    static_configs: [{targets: ['$target'], labels: {cluster: beta, node: topo-node}}]
EOF
    start_prometheus "$TMP/prometheus.yml"
    log "Prometheus at $PROM_URL scraping $AGENT_URL as clusters alpha and beta"
    cat >"$TMP/prometheus-x.yml" <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [$TOP/promql-tests/rules/topology.yml]
scrape_configs:
  - job_name: east
    static_configs: [{targets: ['$target'], labels: {cluster: east, node: topo-east}}]
    metric_relabel_configs: [{source_labels: [pod], regex: server-0, action: drop}]
  - job_name: west
    static_configs: [{targets: ['$target'], labels: {cluster: west, node: topo-west}}]
    metric_relabel_configs: [{source_labels: [pod], regex: server-0, action: keep}]
EOF
    xport=$(free_port)
    bg prometheus-x prometheus --config.file="$TMP/prometheus-x.yml" \
        --storage.tsdb.path="$TMP/prom-x" --web.listen-address="127.0.0.1:$xport"
    XPROM_URL=http://127.0.0.1:$xport
    wait_http "$XPROM_URL/-/ready" 60
    log "Prometheus at $XPROM_URL scraping $AGENT_URL as clusters east (A) and west (B)"

    # The workloads the agent itself derived for the two pods.
    scrape "$TMP/m2.txt"
    wl_a=$(sed -n 's/^container_pod_workload_info{.*pod="client-0".*workload="\([^"]*\)",workload_kind="\([^"]*\)".*/\1 \2/p' "$TMP/m2.txt")
    wl_b=$(sed -n 's/^container_pod_workload_info{.*pod="server-0".*workload="\([^"]*\)",workload_kind="\([^"]*\)".*/\1 \2/p' "$TMP/m2.txt")
    [ -n "$wl_a" ] && [ -n "$wl_b" ] || fail "no container_pod_workload_info for client-0/server-0"
    log "workloads: client-0 -> $wl_a, server-0 -> $wl_b"

    # A baseline scrape of A's edge first, then more traffic: rate() needs the increase.
    local sel="container_tcp_peer_connections_total{pod=\"client-0\",peer_ip=\"$IP_B\",port=\"$PORT\"}"
    scraped() { # URL: A's edge scraped twice there
        prom_query "$1" "count_over_time($sel[1m]) >= 2" >"$TMP/q.json" &&
            grep -F '"result":[{' "$TMP/q.json" >/dev/null
    }
    until_true 30 scraped "$PROM_URL" || fail "Prometheus did not scrape A's edge"
    until_true 30 scraped "$XPROM_URL" || fail "the second Prometheus did not scrape A's edge"
    # 40 closed connections: the RTT is sampled at close for 1 connection in 4 at random, so the
    # RTT panel has data unless all 40 miss (0.75^40, about 1e-5); 5 missed 1 run in 4.
    pod_run "$REL_APP_A" "$NS_A" "$PY" -c "
import socket
for _ in range(40):
    socket.create_connection(('$IP_B', $PORT)).close()
for _ in range(2):
    try:
        socket.create_connection(('$IP_B', $CLOSED)).close()
    except ConnectionRefusedError:
        pass
open('$TMP/round2-done', 'w').close()"
    until_true 20 test -e "$TMP/round2-done" || fail "second round of connections did not finish"

    edge() { # CLIENT_CLUSTER SERVER_CLUSTER: the labels of the recorded A -> B edge
        echo "cluster=\"$1\",client_cluster=\"$1\",client_namespace=\"topo\",client_workload=\"${wl_a% *}\",client_kind=\"${wl_a#* }\",server_cluster=\"$2\",server_namespace=\"topo\",server_workload=\"${wl_b% *}\",server_kind=\"${wl_b#* }\""
    }
    recorded() { # URL SELECTOR: the selector has series > 0 there
        prom_query "$1" "$2 > 0" >"$TMP/q.json" && grep -F '"result":[{' "$TMP/q.json" >/dev/null
    }
    until_true 30 recorded "$PROM_URL" "${rec}_connections:rate5m{$(edge alpha alpha),port=\"$PORT\"}" || {
        prom_query "$PROM_URL" "${rec}_connections:rate5m" >&2
        fail "no recorded workload edge A -> B:$PORT with both ends resolved"
    }
    log "recorded: $(cat "$TMP/q.json")"
    until_true 30 recorded "$PROM_URL" "${rec}_failed_connects:rate5m{$(edge alpha alpha),port=\"$CLOSED\"}" ||
        fail "no recorded failed connects A -> B:$CLOSED"
    until_true 30 recorded "$XPROM_URL" "${rec}_connections:rate5m{$(edge east west),port=\"$PORT\"}" || {
        prom_query "$XPROM_URL" "${rec}_connections:rate5m" >&2
        fail "no recorded cross-cluster edge A (east) -> B (west):$PORT"
    }
    log "recorded across clusters: $(cat "$TMP/q.json")"
    # B's server-side view (scraped as west) resolved its client in east: no edge of its own.
    prom_query "$XPROM_URL" "${rec}_connections:rate5m{cluster=\"west\"}" >"$TMP/q.json"
    grep -F '"result":[]' "$TMP/q.json" >/dev/null || fail "B's view counted apart: $(cat "$TMP/q.json")"

    # The dashboard's own node-graph queries, variables as Grafana substitutes them.
    node_graph "$PROM_URL" alpha "alpha/topo/${wl_a% *}" "alpha/topo/${wl_b% *}" ||
        fail "node-graph queries do not show A -> B"
    node_graph "$XPROM_URL" east "east/topo/${wl_a% *}" "west/topo/${wl_b% *}" ||
        fail "node-graph queries do not show A (east) -> B (west)"
    "$PY" "$TOP/tests/tools/promqlcheck.py" data "$PROM_URL" \
        "$TOP/promql-tests/dashboard-allowlist.txt" "$TOP/dashboards/hakari-topology.json" |
        grep -v '^allowlist not needed' ||
        fail "a hakari-topology query returned nothing on real data"
}

# node_graph URL CLUSTER A B: the Service map's node and edge queries for CLUSTER (namespace
# topo) show nodes A and B and an edge A -> B with connections and a colour.
node_graph() {
    "$PY" - "$@" "$TOP" <<'PY'
import json, sys, time, urllib.parse, urllib.request
url, cluster, a, b, top = sys.argv[1:6]
sys.path.insert(0, top + "/tests/tools")
import promqlcheck as pc
d = pc.load(top + "/dashboards/hakari-topology.json")
vals = {"datasource": "prometheus", "cluster": pc.regex_escape(cluster), "namespace": "topo"}
exprs = {t["refId"]: pc.substitute(t["expr"], vals, {"__rate_interval": "20s"})
         for p, t in pc.targets(d) if p["title"] == "Service map"}
def query(e):
    q = urllib.parse.urlencode({"query": e, "time": time.time()})
    with urllib.request.urlopen(f"{url}/api/v1/query?{q}", timeout=30) as r:
        return json.load(r)["data"]["result"]
nodes, edges = query(exprs["A"]), query(exprs["B"])
print(f"{cluster} nodes:", [(n["metric"].get("id"), n["metric"].get("nodeRadius"), n["metric"].get("mainstat")) for n in nodes])
print(f"{cluster} edges:", [(e["metric"].get("id"), e["metric"].get("color"), e["metric"].get("mainstat"), e["metric"].get("secondarystat")) for e in edges])
ids = {n["metric"].get("id") for n in nodes}
assert {a, b} <= ids, f"nodes {ids} lack {a} or {b}"
ab = [e for e in edges if e["metric"].get("source") == a and e["metric"].get("target") == b]
assert ab and float(ab[0]["value"][1]) > 0, f"no edge {a} -> {b} with connections"
assert ab[0]["metric"].get("color") in ("green", "orange", "red"), ab[0]["metric"]
assert ab[0]["metric"].get("mainstat", "").endswith(" conn/s"), ab[0]["metric"]
assert all(n["metric"].get("nodeRadius") and n["metric"].get("mainstat") for n in nodes), nodes
PY
}
