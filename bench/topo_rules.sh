#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench-timeout: 900
# The topology recording rules (promql-tests/rules/topology.yml) at fleet scale in a real
# Prometheus: 2 clusters x 1 node x 200 pods (50 Deployments of 4 replicas), each pod
# the client of 10 peers (8 in its cluster, 1 in the other, 1 external) and the server of the
# pods that call it, with the label sets hakari emits (edges, sandbox addresses, workloads),
# served by a stand-in agent per node and scraped every 5 s. Prints the raw and recorded series
# counts, the rule group's evaluation time (the join, paid once per interval), and the
# hakari-topology node-graph queries on the recorded series against the same node graph joined
# from the raw series at query time (the peer: what the dashboard would cost without the rules).
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
. tests/lib.sh
command -v prometheus >/dev/null || { echo "prometheus missing (Debian package prometheus)"; exit 77; }

NODES_PORT=$(free_port)
cat >"$TMP/fleet.py" <<'PY'
import http.server, random, sys, time
rnd = random.Random(14)
CL, NODES, PODS, PEERS = ("alpha", "beta"), 1, 200, 10
pods = []  # (cluster, node, namespace, pod, workload, ip)
for c, cl in enumerate(CL):
    for n in range(NODES):
        for p in range(PODS):
            w = f"svc-{p % 50}"
            pods.append((cl, n, f"ns-{p % 5}", f"{w}-5f6d8c7b9-{n}{p:03d}x", w, f"10.{c + 1}.{n}.{p}"))
by_ip = {x[5]: x for x in pods}
lines = {}  # (cluster, node) -> [(template, rate per second)]
def add(pod, text, r):
    lines.setdefault((pod[0], pod[1]), []).append((text, r))
def base(pod, ctr="app"):
    cl, n, ns, name, w, ip = pod
    cid = f"{abs(hash((cl, n, name, ctr))):016x}"
    return (f'container="{ctr}",id="/kubepods/burstable/pod{cid[:8]}/{cid}",image="reg/{w}:1",'
            f'name="{cid}",namespace="{ns}",pod="{name}"')
for pod in pods:
    cl, n, ns, name, w, ip = pod
    add(pod, f'container_network_address_info{{{base(pod, "")},interface="eth0",ip="{ip}",host_network="false"}}', 0)
    add(pod, f'container_pod_workload_info{{namespace="{ns}",pod="{name}",workload="{w}",workload_kind="Deployment"}}', 0)
    same = [x for x in pods if x[0] == cl and x is not pod]
    other = [x for x in pods if x[0] != cl]
    peers = rnd.sample(same, PEERS - 2) + rnd.sample(other, 1)
    for k, peer in enumerate(peers + [None]):
        pip = peer[5] if peer else f"93.184.{rnd.randrange(256)}.{rnd.randrange(256)}"
        port = 8080 + k % 3
        r = rnd.choice((0.5, 1, 2, 5))
        e = f'{base(pod)},direction="client",peer_ip="{pip}",port="{port}",peer_resolved="none"'
        add(pod, f"container_tcp_peer_connections_total{{{e}}}", r)
        add(pod, f"container_tcp_peer_retransmits_total{{{e}}}", r / 50)
        add(pod, f"container_tcp_peer_rtt_seconds_sum{{{e}}}", r * 0.002)
        add(pod, f"container_tcp_peer_rtt_seconds_count{{{e}}}", r)
        add(pod, f'container_tcp_peer_failed_connects_total{{{base(pod)},peer_ip="{pip}",port="{port}",peer_resolved="none"}}', r / 100)
        if peer:
            s = f'{base(peer)},direction="server",peer_ip="{ip}",port="{port}",peer_resolved="none"'
            add(peer, f"container_tcp_peer_connections_total{{{s}}}", r)
            add(peer, f"container_tcp_peer_retransmits_total{{{s}}}", r / 50)
            add(peer, f"container_tcp_peer_rtt_seconds_sum{{{s}}}", r * 0.002)
            add(peer, f"container_tcp_peer_rtt_seconds_count{{{s}}}", r)
t0 = time.time()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        cl, n = self.path.strip("/").split("/")[:2]
        dt = time.time() - t0
        body = "\n".join(f"{t} {1 if r == 0 else round(r * dt, 3)}" for t, r in lines[(cl, int(n))]) + "\n"
        b = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
bg fleet "$PY" "$TMP/fleet.py" "$NODES_PORT"
wait_http "http://127.0.0.1:$NODES_PORT/alpha/0" 60

{
    echo "global: {scrape_interval: 5s, evaluation_interval: 5s, scrape_timeout: 5s}"
    echo "rule_files: [$TOP/promql-tests/rules/topology.yml]"
    echo "scrape_configs:"
    for cl in alpha beta; do
        for n in 0; do
            echo "  - job_name: $cl-$n"
            echo "    metrics_path: /$cl/$n"
            echo "    static_configs: [{targets: ['127.0.0.1:$NODES_PORT'], labels: {cluster: $cl, node: $cl-n$n}}]"
        done
    done
} >"$TMP/prometheus.yml"
start_prometheus "$TMP/prometheus.yml"

num() { prom_query "$PROM_URL" "$1" | "$PY" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "nan")'; }
group() { # FIELD of the topology rule group in /api/v1/rules
    curl -fsS "$PROM_URL/api/v1/rules" | "$PY" -c 'import json,sys; print(next(g[sys.argv[1]] for g in json.load(sys.stdin)["data"]["groups"] if g["name"] == "hakari-topology.rules"))' "$1"
}
edges_up() { [ "$(num 'count(workload_edge:container_tcp_peer_connections:rate5m > 0)')" != nan ]; }
until_true 300 edges_up || { tail -5 "$TMP/prometheus.log"; echo "rules did not produce edges"; exit 1; }
# one more whole evaluation with every input present
first=$(group lastEvaluation)
next_eval() { [ "$(group lastEvaluation)" != "$first" ]; }
until_true 120 next_eval || { echo "the rule group did not run again"; exit 1; }

raw=$(num 'count({__name__=~"container_tcp_peer_.*|container_network_address_info|container_pod_workload_info"})')
edges=$(num 'count(workload_edge:container_tcp_peer_connections:rate5m)')
recorded=$(num 'count({__name__=~"workload_edge:container_tcp_peer_.*"})')
eval_s=$(group evaluationTime)
printf 'raw input series %s, workload edges %s, dashboard-facing recorded series %s\n' "$raw" "$edges" "$recorded"
printf 'rule group evaluation: %.0f ms per interval (load average %s)\n' \
    "$(awk -v s="$eval_s" 'BEGIN { print s * 1000 }')" "$(cut -d' ' -f1 /proc/loadavg)"

# The dashboard's node-graph queries (All clusters and namespaces) on the recorded series,
# against the join done at query time: every rule's expression run as a query, in order (what a
# dashboard without the rules would evaluate on each refresh). Best of 3 each.
"$PY" - "$PROM_URL" "$TOP" <<'PY'
import json, sys, time, urllib.parse, urllib.request
url, top = sys.argv[1:3]
sys.path.insert(0, top + "/tests/tools")
import promqlcheck as pc
d = pc.load(top + "/dashboards/hakari-topology.json")
vals = {"datasource": "prometheus", "cluster": ".*", "namespace": ".*"}
q = {t["refId"]: pc.substitute(t["expr"], vals, {}) for p, t in pc.targets(d) if p["title"] == "Service map"}
rules, _ = pc.rule_exprs(top + "/promql-tests/rules/topology.yml")
now = time.time()
def run(e):
    t0 = time.perf_counter()
    body = urllib.parse.urlencode({"query": e, "time": now}).encode()
    with urllib.request.urlopen(f"{url}/api/v1/query", data=body, timeout=120) as r:
        res = json.load(r)
    assert res["status"] == "success", res
    return time.perf_counter() - t0, len(res["data"]["result"])
def best(e, n=3):
    ts = [run(e) for _ in range(n)]
    return min(t for t, _ in ts), ts[0][1]
dash = 0
for ref, what in (("A", "nodes"), ("B", "edges")):
    t, n = best(q[ref])
    dash += t
    print(f"node-graph {what} query on the recorded series: {t * 1000:.1f} ms ({n} {what})")
join = sum(run(e)[0] for _, e in rules)  # once each: the join is slow
print(f"the same join at query time (the {len(rules)} rule expressions as queries): {join * 1000:.1f} ms")
print(f"ratio: a map refresh costs {dash / join:.2f}x the query-time join ({join / dash:.1f}x cheaper)")
PY
