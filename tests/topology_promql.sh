# SPDX-License-Identifier: Apache-2.0
# Sourced by tests/integration/topology.sh once A's edges to B are on the agent ($AGENT_URL):
# the topology recording rules and the hakari-topology dashboard on that real data. A real
# Prometheus (2.42, Debian) scrapes the agent as two clusters (alpha, beta: the same node seen
# twice, as the dashboards' data check needs two) and evaluates promql-tests/rules/topology.yml;
# then A's app opens more connections and fails more, so the rates are not 0. Asserted:
# - the recorded workload edge A -> B:8080 in alpha, both ends resolved to their pods'
#   workloads (the agent's own container_pod_workload_info), and its failed connects to :8081;
# - the dashboard's node-graph queries (Service map A: nodes, B: edges; cluster alpha,
#   namespace topo, substituted as Grafana does) answer with both workloads as nodes and the
#   A -> B edge between them;
# - every query of the dashboard returns series (promqlcheck.py data, clusters All/alpha/beta).
# Uses from topology.sh: AGENT_URL, IP_B, PORT, CLOSED, REL_APP_A, NS_A, TMP, PY.
topology_promql_check() {
    command -v prometheus >/dev/null || fail "prometheus missing (Debian package prometheus)"
    local target=${AGENT_URL#http://} wl_a wl_b
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

    # The workloads the agent itself derived for the two pods.
    scrape "$TMP/m2.txt"
    wl_a=$(sed -n 's/^container_pod_workload_info{.*pod="client-0".*workload="\([^"]*\)",workload_kind="\([^"]*\)".*/\1 \2/p' "$TMP/m2.txt")
    wl_b=$(sed -n 's/^container_pod_workload_info{.*pod="server-0".*workload="\([^"]*\)",workload_kind="\([^"]*\)".*/\1 \2/p' "$TMP/m2.txt")
    [ -n "$wl_a" ] && [ -n "$wl_b" ] || fail "no container_pod_workload_info for client-0/server-0"
    log "workloads: client-0 -> $wl_a, server-0 -> $wl_b"

    # A baseline scrape of A's edge first, then more traffic: rate() needs the increase.
    local sel="container_tcp_peer_connections_total{cluster=\"alpha\",pod=\"client-0\",peer_ip=\"$IP_B\",port=\"$PORT\"}"
    scraped() { prom_query "$PROM_URL" "count_over_time($sel[1m]) >= 2" >"$TMP/q.json" &&
        grep -F '"result":[{' "$TMP/q.json" >/dev/null; }
    until_true 30 scraped || fail "Prometheus did not scrape A's edge"
    pod_run "$REL_APP_A" "$NS_A" "$PY" -c "
import socket
for _ in range(5):
    socket.create_connection(('$IP_B', $PORT)).close()
for _ in range(2):
    try:
        socket.create_connection(('$IP_B', $CLOSED)).close()
    except ConnectionRefusedError:
        pass
open('$TMP/round2-done', 'w').close()"
    until_true 20 test -e "$TMP/round2-done" || fail "second round of connections did not finish"

    local edge
    edge="client_cluster=\"alpha\",client_namespace=\"topo\",client_workload=\"${wl_a% *}\",client_kind=\"${wl_a#* }\""
    edge="$edge,server_cluster=\"alpha\",server_namespace=\"topo\",server_workload=\"${wl_b% *}\",server_kind=\"${wl_b#* }\""
    recorded() { # RULE PORT: the recorded series for A -> B on PORT is > 0
        prom_query "$PROM_URL" "$1{cluster=\"alpha\",$edge,port=\"$2\"} > 0" >"$TMP/q.json" &&
            grep -F '"result":[{' "$TMP/q.json" >/dev/null
    }
    until_true 30 recorded workload_edge:container_tcp_peer_connections:rate5m "$PORT" || {
        prom_query "$PROM_URL" 'workload_edge:container_tcp_peer_connections:rate5m' >&2
        fail "no recorded workload edge A -> B:$PORT with both ends resolved"
    }
    until_true 30 recorded workload_edge:container_tcp_peer_failed_connects:rate5m "$CLOSED" ||
        fail "no recorded failed connects A -> B:$CLOSED"
    log "recorded: $(cat "$TMP/q.json")"

    # The dashboard's own node-graph queries, variables as Grafana substitutes them.
    "$PY" - "$PROM_URL" "$TOP/dashboards/hakari-topology.json" "alpha/topo/${wl_a% *}" \
        "alpha/topo/${wl_b% *}" <<'PY' || fail "node-graph queries do not show A -> B"
import json, sys, time, urllib.parse, urllib.request
sys.path.insert(0, sys.argv[2].rsplit("/dashboards/", 1)[0] + "/tests/tools")
import promqlcheck as pc
url, dash, a, b = sys.argv[1:5]
d = pc.load(dash)
vals = {"datasource": "prometheus", "cluster": pc.regex_escape("alpha"), "namespace": "topo"}
exprs = {t["refId"]: pc.substitute(t["expr"], vals, {"__rate_interval": "20s"})
         for p, t in pc.targets(d) if p["title"] == "Service map"}
def query(e):
    q = urllib.parse.urlencode({"query": e, "time": time.time()})
    with urllib.request.urlopen(f"{url}/api/v1/query?{q}", timeout=30) as r:
        return json.load(r)["data"]["result"]
nodes, edges = query(exprs["A"]), query(exprs["B"])
print("nodes:", [(n["metric"].get("id"), n["metric"].get("nodeRadius"), n["value"][1]) for n in nodes])
print("edges:", [(e["metric"].get("id"), e["metric"].get("color"), e["value"][1]) for e in edges])
ids = {n["metric"].get("id") for n in nodes}
assert {a, b} <= ids, f"nodes {ids} lack {a} or {b}"
ab = [e for e in edges if e["metric"].get("source") == a and e["metric"].get("target") == b]
assert ab and float(ab[0]["value"][1]) > 0, f"no edge {a} -> {b} with connections"
assert ab[0]["metric"].get("color") in ("green", "orange", "red"), ab[0]["metric"]
PY
    step_data() {
        "$PY" "$TOP/tests/tools/promqlcheck.py" data "$PROM_URL" \
            "$TOP/promql-tests/dashboard-allowlist.txt" "$TOP/dashboards/hakari-topology.json"
    }
    step_data || fail "a hakari-topology query returned nothing on real data"
}
