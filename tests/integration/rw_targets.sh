#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Remote write's target labels (global.target_labels), checked in a real Prometheus 2.42 receiving
# hakari's remote-write from the v2-systemd-containerd node fixture (with node-basic's /proc/stat
# and loadavg, so node_cpu_seconds_total exists). One Prometheus, sequential hakari runs told
# apart by the external label `case`:
#   A  default (hakari): every series job="hakari", instance=<NODE_NAME>; then SIGHUP to
#   D  kube-prometheus + external job + a write_relabel_config on job: the reload applies the new
#      profile, external labels do not override target labels, relabelling sees them;
#   B  kube-prometheus: node_* job="node-exporter" + instance + namespace/pod of hakari's pod,
#      container_*/machine_* job="kubelet", metrics_path="/metrics/cadvisor", node, their own
#      pod labels; hakari_*/process_* job="hakari"; and kube-prometheus' own recording rule
#      node:node_num_cpu:sum, joined with a kube_pod_info that Prometheus scrapes as
#      kube-state-metrics would give it, counts the node's CPUs;
#   C  target_labels: none + the write_relabel_configs block of docs/remote-write.md as written:
#      every series' labels equal B's.
# Also: --config.check refuses a bad value with file:line:column.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/tools/rw_lib.sh"
command -v prometheus >/dev/null || fail "prometheus not installed (mk/packages-test.txt)"
FIXTURE=$TMP/root
cp -a "$TOP/tests/fixtures/v2-systemd-containerd/." "$FIXTURE/" || fail "fixture missing"
cp "$TOP/tests/fixtures/node-basic/proc/stat" "$TOP/tests/fixtures/node-basic/proc/loadavg" \
    "$FIXTURE/proc/" || fail "node-basic fixture missing"

printf 'global:\n  external_labels: {a: b}\n  target_labels: kube_prometheus\n' >"$TMP/bad.yml"
out=$("$HAKARI" --config.file="$TMP/bad.yml" --config.check 2>&1) && fail "bad target_labels accepted"
grep -qF "$TMP/bad.yml:3:18: target_labels: unknown value \"kube_prometheus\"" <<<"$out" ||
    fail "unexpected --config.check message: $out"

export NODE_NAME=node-a POD_NAMESPACE=monitoring POD_NAME=hakari-x7k2p
# kube-state-metrics' kube_pod_info for hakari's pod, served as a static page and scraped by the
# receiving Prometheus as kube-prometheus scrapes kube-state-metrics (honorLabels: true).
mkdir -p "$TMP/ksm"
printf '%s\n' '# TYPE kube_pod_info gauge' \
    "kube_pod_info{namespace=\"$POD_NAMESPACE\",pod=\"$POD_NAME\",node=\"$NODE_NAME\",created_by_kind=\"DaemonSet\",created_by_name=\"hakari\",host_network=\"false\",priority_class=\"system-node-critical\",uid=\"0d6f3c1e-0000-4000-8000-000000000001\"} 1" \
    >"$TMP/ksm/metrics"
KSMPORT=$(free_port)
bg ksm "$PY" -m http.server --bind 127.0.0.1 --directory "$TMP/ksm" "$KSMPORT"
wait_http "http://127.0.0.1:$KSMPORT/metrics" 20
cat >"$TMP/prom.yml" <<YML
global: {scrape_interval: 1s}
scrape_configs:
  - job_name: kube-state-metrics
    honor_labels: true
    static_configs: [{targets: ["127.0.0.1:$KSMPORT"]}]
YML
start_prometheus "$TMP/prom.yml" --web.enable-remote-write-receiver
until_true 20 bash -c "curl -fsS '$PROM_URL/api/v1/query?query=kube_pod_info' | grep -q hakari" ||
    fail "Prometheus did not scrape kube_pod_info"

# config CASE TARGET_LABELS [EXTRA_EXTERNAL] [RELABEL_YAML]
config() {
    cat <<YML
global:
  collection_interval: 1s
  external_labels: {case: $1${3:-}}
  target_labels: $2
remote_write:
  - url: $PROM_URL/api/v1/write
    name: prom
    metadata_config: {send: false}
    queue_config: {disk_path: $TMP/queue, batch_send_deadline: 300ms}
${4:-}
YML
}

# start_hakari CASE CONFIG_FILE: hakari on the fixture, logging to $TMP/hakari-CASE.log.
# stop_hakari CASE: graceful stop; everything queued must have been delivered.
HKPORT=$(free_port)
start_hakari() {
    bg "hakari-$1" "$HAKARI" --config.file="$2" --web.listen-address="127.0.0.1:$HKPORT" \
        --path.rootfs="$FIXTURE" --no-collector.ebpf
    HK=$BG_PID
    wait_http "http://127.0.0.1:$HKPORT/-/ready" 30
}
stop_hakari() {
    stop_pid "$HK"
    local p f
    p=$(hk_stopped_field "$TMP/hakari-$1.log" prom samples_pending)
    f=$(hk_stopped_field "$TMP/hakari-$1.log" prom samples_failed)
    if [ "$p" != 0 ] || [ "$f" != 0 ]; then
        tail -20 "$TMP/hakari-$1.log" >&2
        fail "$1: pending=$p failed=$f"
    fi
}

# A, then D by SIGHUP.
config A hakari >"$TMP/a.yml"
"$HAKARI" --config.file="$TMP/a.yml" --config.check >/dev/null || fail "A: config check"
start_hakari A "$TMP/a.yml"
wait_cycles "http://127.0.0.1:$HKPORT" 2 30
config D kube-prometheus ", job: ext-job" "    write_relabel_configs:
      - {source_labels: [__name__, job], regex: 'node_memory_MemTotal_bytes;node-exporter', target_label: job, replacement: relabelled}" \
    >"$TMP/a.yml"
kill -HUP "$HK"
until_true 20 grep -q 'configuration reloaded' "$TMP/hakari-A.log" || fail "reload did not happen"
c=$(hk_value "http://127.0.0.1:$HKPORT" 'hakari_collection_cycles_total ')
wait_cycles "http://127.0.0.1:$HKPORT" $((${c%.*} + 2)) 30
stop_hakari A

config B kube-prometheus >"$TMP/b.yml"
"$HAKARI" --config.file="$TMP/b.yml" --config.check | grep -qx 'target_labels: kube-prometheus' ||
    fail "B: --config.check does not report target_labels"
start_hakari B "$TMP/b.yml"
wait_cycles "http://127.0.0.1:$HKPORT" 2 30
stop_hakari B

# C: the documented relabel block, as written, with this test's receiver and queue.
"$PY" - "$TOP/docs/remote-write.md" "$PROM_URL" "$TMP" >"$TMP/c.yml" <<'PY' || fail "C: cannot build the config from docs/remote-write.md"
import sys, yaml
text = open(sys.argv[1], encoding="utf-8").read()
marker = "<!-- rw_targets.sh: kube-prometheus as write_relabel_configs -->"
block = text.split(marker, 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
doc = yaml.safe_load(block)
assert doc["global"]["target_labels"] == "none", doc["global"]
doc["global"]["collection_interval"] = "1s"
doc["global"]["external_labels"]["case"] = "C"
rw = doc["remote_write"][0]
rw.update({"url": sys.argv[2] + "/api/v1/write", "name": "prom", "metadata_config": {"send": False},
           "queue_config": {"disk_path": sys.argv[3] + "/queue", "batch_send_deadline": "300ms"}})
print(yaml.safe_dump(doc, sort_keys=False))
PY
"$HAKARI" --config.file="$TMP/c.yml" --config.check >/dev/null || fail "C: config check"
start_hakari C "$TMP/c.yml"
wait_cycles "http://127.0.0.1:$HKPORT" 2 30
stop_hakari C

"$PY" - "$PROM_URL" <<'PY' || fail "labels in Prometheus (logs: $TMP)"
import json, sys, urllib.parse, urllib.request

url = sys.argv[1]

def series(case):
    q = urllib.parse.urlencode({"match[]": '{case="%s"}' % case, "start": "0"})
    with urllib.request.urlopen(url + "/api/v1/series?" + q) as r:
        out = json.load(r)["data"]
    assert out, "case %s: no series in Prometheus" % case
    return out

errors = []
def check(cond, what, s):
    if not cond:
        errors.append("%s: %s" % (what, json.dumps(s, sort_keys=True)))

def kind(name):
    if name.startswith("node_"):
        return "node"
    if name.startswith(("container_", "machine_")):
        return "cadvisor"
    return "self"

def query(q):
    with urllib.request.urlopen(url + "/api/v1/query?" + urllib.parse.urlencode({"query": q})) as r:
        return json.load(r)["data"]["result"]

ME = {"namespace": "monitoring", "pod": "hakari-x7k2p"}
# A: default profile.
a = series("A")
for s in a:
    check(s.get("job") == "hakari" and s.get("instance") == "node-a", "A: job/instance", s)
# B: kube-prometheus.
b = series("B")
counts = {"node": 0, "cadvisor": 0, "self": 0}
own_pods = set()
for s in b:
    k = kind(s["__name__"])
    counts[k] += 1
    check(s.get("instance") == "node-a", "B: instance", s)
    if k == "node":
        check(s.get("job") == "node-exporter" and all(s.get(l) == v for l, v in ME.items())
              and "metrics_path" not in s, "B: node_* labels", s)
    elif k == "cadvisor":
        check(s.get("job") == "kubelet" and s.get("metrics_path") == "/metrics/cadvisor"
              and s.get("node") == "node-a", "B: cAdvisor labels", s)
        check(s.get("pod") != ME["pod"], "B: a container series took hakari's pod", s)
        if s.get("pod"):
            own_pods.add((s.get("namespace"), s["pod"]))
    else:
        check(s.get("job") == "hakari" and all(s.get(l) == v for l, v in ME.items()),
              "B: hakari's own labels", s)
for k, n in counts.items():
    check(n > 0, "B: no %s series" % k, counts)
check(len(own_pods) >= 2, "B: container series without their own pod labels", sorted(own_pods))
# kube-prometheus' recording rules node_namespace_pod:kube_pod_info: and node:node_num_cpu:sum
# (kubernetesControlPlane-prometheusRule.yaml, group node.rules; the first inlined into the
# second, and case="B" added so the other cases' series stay out).
KUBE_POD_INFO = """topk by(cluster, namespace, pod) (1,
  max by (cluster, node, namespace, pod) (
    label_replace(kube_pod_info{job="kube-state-metrics",node!=""}, "pod", "$1", "pod", "(.*)")
))"""
NUM_CPU = """count by (cluster, node) (
  node_cpu_seconds_total{mode="idle",job="node-exporter",case="B"}
  * on (cluster, namespace, pod) group_left(node)
  topk by(cluster, namespace, pod) (1, node_namespace_pod:kube_pod_info:)
)""".replace("node_namespace_pod:kube_pod_info:", "(" + KUBE_POD_INFO + ")")
idle = [s for s in b if s["__name__"] == "node_cpu_seconds_total" and s.get("mode") == "idle"]
num_cpu = query(NUM_CPU)
check(len(idle) > 0 and len(num_cpu) == 1 and num_cpu[0]["metric"].get("node") == "node-a"
      and float(num_cpu[0]["value"][1]) == len(idle), "B: node:node_num_cpu:sum (%d idle series)"
      % len(idle), num_cpu)
# D: after SIGHUP, kube-prometheus; the external job never shows, relabelling saw node-exporter.
d = series("D")
for s in d:
    k = kind(s["__name__"])
    want = {"node": "node-exporter", "cadvisor": "kubelet", "self": "hakari"}[k]
    if s["__name__"] == "node_memory_MemTotal_bytes":
        want = "relabelled"
    check(s.get("job") == want, "D: job (want %s)" % want, s)
check(any(s["__name__"] == "node_memory_MemTotal_bytes" for s in d), "D: no node_memory_MemTotal_bytes", {})
# C (documented relabelling) equals B, series by series.
def key(s):
    return json.dumps({k: v for k, v in s.items() if k != "case"}, sort_keys=True)
kb, kc = {key(s) for s in b}, {key(s) for s in series("C")}
if kb != kc:
    errors.append("%d series only in B, %d only in C" % (len(kb - kc), len(kc - kb)))
for x in sorted(kb - kc)[:5]:
    errors.append("only with target_labels: kube-prometheus: " + x)
for x in sorted(kc - kb)[:5]:
    errors.append("only with the documented write_relabel_configs: " + x)
if errors:
    print("\n".join(errors[:30]), file=sys.stderr)
    sys.exit(1)
print("A %d, B %d (node %d, cAdvisor %d, hakari %d; %d pods), D %d series; C == B; "
      "node:node_num_cpu:sum{node=\"node-a\"} = %s"
      % (len(a), len(b), counts["node"], counts["cadvisor"], counts["self"], len(own_pods), len(d),
         num_cpu[0]["value"][1]))
PY
echo "PASS"
