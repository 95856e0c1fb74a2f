#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The per-target endpoints: /metrics/node (node_exporter's part: node_* and every textfile
# family), /metrics/cadvisor (container_*, machine_*) and /metrics/self (hakari_*, process_*).
#  1. one snapshot (1h interval, basic auth on): each path answers 401 without credentials and, with
#     them, the same gzip / OpenMetrics / HEAD behaviour as /metrics; each body passes
#     `promtool check metrics` (text) and the OpenMetrics parser; the three bodies are a partition
#     of /metrics (no family lost, none served twice); the landing page links them.
#  2. a real Prometheus 2.42, configured with the static scrape_configs of docs/kube-prometheus.md,
#     scrapes /metrics/node as job node-exporter and /metrics/cadvisor as job kubelet
#     (metrics_path from __metrics_path__, honor_labels, as kube-prometheus' ServiceMonitors do)
#     and /metrics/self as job hakari: every job holds only its own families;
#     meanwhile 200 quick scrapes of /metrics/node are served from the per-snapshot body (renders
#     stay bounded by collection cycles, not requests).
source "$(dirname "$0")/../lib.sh"
command -v promtool >/dev/null || fail "promtool missing (apt-get install prometheus)"

PATHS="/metrics /metrics/node /metrics/cadvisor /metrics/self"
mkdir -p "$TMP/textfile"
printf '# HELP backup_last_success_timestamp_seconds Last good backup.\n# TYPE backup_last_success_timestamp_seconds gauge\nbackup_last_success_timestamp_seconds{set="etc"} 1.7e+09\n' \
    >"$TMP/textfile/backup.prom"
hash=$("$PY" -W ignore -c 'import crypt; print(crypt.crypt("pw", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))')
case $hash in '$2b$'*) ;; *) fail "could not make a bcrypt hash: $hash" ;; esac
printf 'basic_auth_users:\n  scraper: %s\n' "$hash" >"$TMP/web.yml"

# ---- 1. one snapshot ----
port=$(free_port)
url="http://127.0.0.1:$port"
bg hakari "$HAKARI" --web.listen-address="127.0.0.1:$port" --collection.interval=1h \
    --web.config.file="$TMP/web.yml" --collector.textfile.directory="$TMP/textfile"
ready() { curl -fsS -o /dev/null -u scraper:pw "$url/-/ready" 2>/dev/null; }
until_true 30 ready || fail "never ready"
A=(-u scraper:pw)
code() { curl -sS -o "$TMP/body" -w '%{http_code}' "$@"; }
names() { # family names of the samples of a text body
    awk '$1 !~ /^#/ && NF { n = $1; sub(/[{ ].*/, "", n); print n }' "$1" | sort -u
}

for p in $PATHS; do
    f="$TMP/$(echo "$p" | tr / _)"
    log "$p"
    [ "$(code "$url$p")" = 401 ] || fail "$p without credentials is not 401"
    curl -fsS "${A[@]}" -D "$f.h" -o "$f" "$url$p"
    grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' "$f.h" ||
        fail "$p: text content type: $(cat "$f.h")"
    [ -s "$f" ] || fail "$p: empty body"
    promtool_check "$f" || fail "$p: promtool check metrics rejects the body"
    curl -fsS "${A[@]}" -H 'Accept-Encoding: gzip' -D "$f.gz.h" -o "$f.gz" "$url$p"
    grep -qi '^content-encoding: gzip' "$f.gz.h" || fail "$p: no gzip"
    grep -qi '^vary: accept, accept-encoding' "$f.gz.h" || fail "$p: no Vary"
    gunzip -c "$f.gz" | cmp - "$f" || fail "$p: gunzipped body differs from the plain one"
    curl -fsS "${A[@]}" -H 'Accept: application/openmetrics-text; version=1.0.0' -H 'Accept-Encoding: gzip' \
        -D "$f.om.h" -o "$f.om.gz" "$url$p"
    grep -qi '^content-type: application/openmetrics-text; version=1.0.0' "$f.om.h" ||
        fail "$p: OpenMetrics content type: $(cat "$f.om.h")"
    gunzip -c "$f.om.gz" >"$f.om"
    [ "$(tail -n 1 "$f.om")" = "# EOF" ] || fail "$p: OpenMetrics body does not end with # EOF"
    "$PY" - "$f.om" <<'PY' || fail "$p: the OpenMetrics parser rejects the body"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
list(text_string_to_metric_families(open(sys.argv[1], encoding="utf-8").read()))
PY
    # HEAD: the GET's headers and length, no body.
    "$PY" - "$port" "$p" "$(stat -c %s "$f")" <<'PY' || fail "HEAD $p"
import base64, socket, sys
port, path, length = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
auth = base64.b64encode(b"scraper:pw").decode()
s.sendall(("HEAD %s HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nConnection: close\r\n\r\n"
           % (path, auth)).encode())
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
head, _, body = data.partition(b"\r\n\r\n")
lines = head.decode().split("\r\n")
assert lines[0].startswith("HTTP/1.1 200"), lines[0]
hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
assert hdrs["content-length"] == length, (hdrs, length)
assert body == b"", "HEAD carried a body"
PY
    [ "$(code "${A[@]}" -X POST -d x=1 "$url$p")" = 405 ] || fail "POST $p is not 405"
done
[ "$(code "${A[@]}" "$url/metrics/nodes")" = 404 ] || fail "/metrics/nodes is not 404"

log "the parts partition /metrics"
node=$TMP/_metrics_node cadv=$TMP/_metrics_cadvisor self=$TMP/_metrics_self
bad=$(names "$node" | grep -Ev '^(node_|backup_last_success_timestamp_seconds$)' || true)
[ -z "$bad" ] || fail "/metrics/node serves families that are not node_exporter's: $bad"
bad=$(names "$cadv" | grep -Ev '^(container|machine)_' || true)
[ -z "$bad" ] || fail "/metrics/cadvisor serves families that are not cAdvisor's: $bad"
bad=$(names "$self" | grep -E '^(node|container|machine)_|^backup_' || true)
[ -z "$bad" ] || fail "/metrics/self serves node or cAdvisor families: $bad"
for want in node_load1 node_textfile_scrape_error backup_last_success_timestamp_seconds; do
    names "$node" | grep -x "$want" >/dev/null || fail "/metrics/node lacks $want"
done
for want in machine_cpu_cores container_cpu_usage_seconds_total; do
    names "$cadv" | grep -x "$want" >/dev/null || fail "/metrics/cadvisor lacks $want"
done
names "$self" | grep -x hakari_build_info >/dev/null || fail "/metrics/self lacks hakari_build_info"
sort "$TMP/_metrics" >"$TMP/whole.sorted"
sort "$node" "$cadv" "$self" >"$TMP/parts.sorted"
diff "$TMP/whole.sorted" "$TMP/parts.sorted" >"$TMP/partition.diff" ||
    { head "$TMP/partition.diff" >&2; fail "node + cadvisor + self != /metrics"; }
echo "partition: $(names "$node" | wc -l) node, $(names "$cadv" | wc -l) cAdvisor, $(names "$self" | wc -l) own families"
curl -fsS "${A[@]}" -o "$TMP/landing" "$url/"
for l in metrics metrics/node metrics/cadvisor metrics/self; do
    grep -q "href=\"$l\"" "$TMP/landing" || fail "landing page does not link /$l"
done
kill -TERM "$BG_PID"

# ---- 2. Prometheus scrapes the parts as kube-prometheus' jobs ----
port=$(free_port)
url="http://127.0.0.1:$port"
bg hakari2 "$HAKARI" --web.listen-address="127.0.0.1:$port" --collection.interval=1s \
    --collector.textfile.directory="$TMP/textfile"
HPID=$BG_PID
wait_http "$url/-/ready" 30
# The static scrape_configs of docs/kube-prometheus.md, as documented; and its Kubernetes
# service-discovery form passes promtool too.
"$PY" - "$TOP/docs/kube-prometheus.md" "127.0.0.1:$port" "$TMP" <<'PY' || fail "docs/kube-prometheus.md: scrape_configs blocks not found"
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
sec = text.split("## Plain Prometheus", 1)[1]
blocks = [b for b in re.findall(r"```yaml\n(.*?)```", sec, re.S) if b.startswith("scrape_configs:")]
static = [b for b in blocks if "HOST:9810" in b]
sd = [b for b in blocks if "kubernetes_sd_configs" in b]
assert len(static) == 1 and len(sd) == 1, (len(static), len(sd))
glob = "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
open(sys.argv[3] + "/prometheus.yml", "w").write(glob + static[0].replace("HOST:9810", sys.argv[2]))
# Debian's Prometheus has no Kubernetes discovery: the service-discovery form gets what it would
# discover as static labels (the __meta_* of hakari's pod on node my-node), so its relabelling
# runs for real on a second Prometheus.
import yaml
cfg = yaml.safe_load(sd[0])
meta = {"__meta_kubernetes_namespace": "hakari", "__meta_kubernetes_pod_name": "hakari-abcde",
        "__meta_kubernetes_pod_node_name": "my-node", "__meta_kubernetes_pod_label_cluster": "my-cluster",
        "__meta_kubernetes_pod_label_app_kubernetes_io_name": "hakari",
        "__meta_kubernetes_pod_container_port_name": "http-metrics"}
for job in cfg["scrape_configs"]:
    assert job.pop("kubernetes_sd_configs")[0]["role"] == "pod"
    job["static_configs"] = [{"targets": [sys.argv[2]], "labels": meta}]
    job.pop("scrape_interval", None)
cfg["global"] = {"scrape_interval": "1s", "scrape_timeout": "1s"}
open(sys.argv[3] + "/prometheus-sd.yml", "w").write(yaml.safe_dump(cfg, sort_keys=False))
PY
promtool check config "$TMP/prometheus-sd.yml" >/dev/null ||
    fail "promtool rejects the service-discovery form of docs/kube-prometheus.md"
promtool check config "$TMP/prometheus.yml" >/dev/null || fail "promtool rejects the scrape config"
start_prometheus "$TMP/prometheus.yml"
count() {
    prom_query "$PROM_URL" "$1" | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["data"]["result"]))'
}
value() {
    prom_query "$PROM_URL" "$1" | "$PY" -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "none")'
}
ups() { [ "$(count 'up == 1')" -eq 3 ]; }
until_true 60 ups || fail "not all three jobs up: $(prom_query "$PROM_URL" up)"
has() { [ "$(count "$1")" -ge 1 ]; }
until_true 30 has 'node_load1{job="node-exporter",instance="my-node"}' || fail "no node_load1{instance=my-node} in job node-exporter"
until_true 30 has 'container_cpu_usage_seconds_total{job="kubelet",metrics_path="/metrics/cadvisor",node="my-node",id="/"}' ||
    fail "no root container_cpu_usage_seconds_total in job kubelet with metrics_path=/metrics/cadvisor"
has 'backup_last_success_timestamp_seconds{job="node-exporter",set="etc"}' || fail "textfile family not in job node-exporter"
has 'machine_cpu_cores{job="kubelet"}' || fail "machine_cpu_cores not in job kubelet"
has 'hakari_build_info{job="hakari"}' || fail "hakari_build_info not in job hakari"
# (up and scrape_* are Prometheus' own series of every target.)
q='count by (job) ({job="node-exporter",__name__!~"node_.*|backup_.*|up|scrape_.*"} or {job="kubelet",__name__!~"(container|machine)_.*|up|scrape_.*"} or {job="hakari",__name__=~"(node|container|machine)_.*"})'
[ "$(count "$q")" -eq 0 ] || fail "a job holds another target's families: $(prom_query "$PROM_URL" "$q")"
# honor_labels: the root cgroup's empty pod/namespace stay empty, not the target's.
[ "$(count 'container_cpu_usage_seconds_total{job="kubelet",id="/",namespace!=""}')" -eq 0 ] ||
    fail "root cgroup series got a namespace"

log "the service-discovery form of the docs gives kube-prometheus' target labels"
STATIC_URL=$PROM_URL
PROM_DATA=$TMP/prom-sd-data start_prometheus "$TMP/prometheus-sd.yml"
until_true 60 ups || fail "SD form: not all three jobs up: $(prom_query "$PROM_URL" up)"
labels_of() { # the label set of the single series of a query
    prom_query "$PROM_URL" "$1" | "$PY" -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
assert len(r) == 1, r
m = r[0]["metric"]; m.pop("__name__", None)
print(",".join("%s=%s" % kv for kv in sorted(m.items())))'
}
got=$(labels_of 'up{job="node-exporter"}')
[ "$got" = "instance=my-node,job=node-exporter,namespace=hakari,pod=hakari-abcde" ] ||
    fail "SD form, job node-exporter: target labels $got"
got=$(labels_of 'up{job="kubelet"}')
[ "$got" = "instance=127.0.0.1:$port,job=kubelet,metrics_path=/metrics/cadvisor,node=my-node" ] ||
    fail "SD form, job kubelet: target labels $got"
got=$(labels_of 'up{job="hakari"}')
[ "$got" = "cluster=my-cluster,instance=127.0.0.1:$port,job=hakari,node=my-node" ] ||
    fail "SD form, job hakari: target labels $got"
until_true 30 has 'node_load1{job="node-exporter",instance="my-node",namespace="hakari",pod="hakari-abcde"}' ||
    fail "SD form: node_load1 without kube-prometheus' target labels"
until_true 30 has 'container_cpu_usage_seconds_total{job="kubelet",metrics_path="/metrics/cadvisor",id="/",namespace=""}' ||
    fail "SD form: the root cgroup's series got a namespace or is missing"
PROM_URL=$STATIC_URL

log "200 scrapes of /metrics/node share the snapshot's body"
args=()
for _ in $(seq 200); do args+=("$url/metrics/node"); done
curl -fsS -o /dev/null "${args[@]}" || fail "a /metrics/node scrape failed"
sleep 1.2 # one more cycle so the counters land in a snapshot
curl -fsS -o "$TMP/self2" "$url/metrics/self"
metric() { awk -v m="$1" '$1 == m {print $2}' "$TMP/self2"; }
req=$(metric 'hakari_http_requests_total{handler="/metrics/node"}')
renders=$(metric hakari_http_renders_total)
cycles=$(metric hakari_collection_cycles_total)
[ -n "$req" ] && [ -n "$renders" ] && [ -n "$cycles" ] || fail "self metrics missing: $(head -c 600 "$TMP/self2")"
echo "requests /metrics/node=$req renders=$renders cycles=$cycles"
[ "${req%.*}" -ge 200 ] || fail "hakari_http_requests_total{handler=/metrics/node} = $req < 200"
# Per cycle at most: node text (curl), node, cadvisor and self OpenMetrics (Prometheus).
[ "${renders%.*}" -le $((4 * ${cycles%.*} + 4)) ] ||
    fail "$renders renders in $cycles cycles: bodies are not shared between scrapes"
if grep -q 'level=error' "$TMP/prometheus.log"; then
    grep 'level=error' "$TMP/prometheus.log" | head >&2
    fail "Prometheus logged errors"
fi
kill -0 "$HPID" || fail "hakari died"
echo "PASS http_targets"
