#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Names from the kubelet's /pods API when the runtime's records are not on the node: a fixture
# root without containerd's OCI bundles, and a stand-in kubelet on 127.0.0.1 (HTTPS with a
# self-signed CA, bearer token required) serving the node's PodList. Container rows get
# container/image/pod/namespace from it, the unlisted container of each pod is its sandbox
# (network series), pod rows get their names, and each pod's owner reference becomes its workload
# (container_pod_workload_info: ReplicaSet → Deployment, Job → CronJob by name); a wrong token
# leaves names empty without failing.
. "$(dirname "$0")/../lib.sh"

[ -x "$HAKARI" ] || fail "no binary at $HAKARI"
command -v openssl >/dev/null || fail "openssl missing"
LAYOUT=v2-systemd-containerd
cp -a "$TOP/tests/fixtures/$LAYOUT" "$TMP/node"
rm -rf "$TMP/node/run/containerd"

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null ||
    fail "openssl req"
echo "s3cret-token" >"$TMP/token"
port=$(free_port)
cat >"$TMP/kubelet.py" <<EOF
import http.server, json, ssl, sys
sys.path.insert(0, "$TOP/tests/fixtures")
import gen, argparse
pods = gen.pods_spec(argparse.Namespace(pods=None, containers=2))
items = []
for p in pods:
    statuses = [{"name": c, "image": img, "ready": True, "restartCount": 0,
                 "containerID": "containerd://" + gen.hexid("$LAYOUT", p["name"], c)}
                for c, img in p["ctrs"]]
    owner = {"web-0": ("StatefulSet", "web"), "api-7d9f8-x2k4q": ("ReplicaSet", "api-7d9f8"),
             "batch-28301": ("Job", "batch-28301")}[p["name"]]
    items.append({"metadata": {"name": p["name"], "namespace": p["ns"],
                               "uid": gen.uid("$LAYOUT", p["name"]),
                               "ownerReferences": [{"apiVersion": "apps/v1", "kind": owner[0],
                                                    "name": owner[1], "uid": "x",
                                                    "controller": True}]},
                  "status": {"phase": "Running", "qosClass": p["qos"].capitalize(),
                             "containerStatuses": statuses}})
body = json.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}).encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/pods":
            self.send_response(404); self.end_headers(); return
        if self.headers.get("Authorization") != "Bearer s3cret-token":
            self.send_response(401); self.end_headers(); return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with open("$TMP/requests", "a") as f: f.write("ok\n")
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", $port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("$TMP/cert.pem", "$TMP/key.pem")
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
EOF
bg kubelet python3 "$TMP/kubelet.py"
until_true 20 curl -fsS --cacert "$TMP/cert.pem" -H "Authorization: Bearer s3cret-token" \
    -o /dev/null "https://127.0.0.1:$port/pods" || fail "stand-in kubelet did not start"

cat >"$TMP/cfg.yml" <<EOF
kubernetes:
  kubelet_url: https://127.0.0.1:$port
  bearer_token_file: $TMP/token
  ca_file: $TMP/cert.pem
EOF
"$HAKARI" --config.check --config.file="$TMP/cfg.yml" >/dev/null || fail "config rejected"
"$HAKARI" --once --no-collector.loadavg --config.file="$TMP/cfg.yml" --path.rootfs="$TMP/node" \
    >"$TMP/out.prom" 2>"$TMP/err" || { cat "$TMP/err" >&2; fail "hakari --once"; }
grep -q '^container_cpu_usage_seconds_total{container="nginx",cpu="total",id="/kubepods.slice/kubepods-pod[0-9a-f_]*.slice/cri-containerd-[0-9a-f]*.scope",image="docker.io/library/nginx:1.25",name="[0-9a-f]\{64\}",namespace="shop",pod="web-0"}' "$TMP/out.prom" ||
    fail "nginx row lacks the kubelet's names"
n=$(grep '^container_cpu_usage_seconds_total{' "$TMP/out.prom" | grep -c 'container="[a-z]')
[ "$n" -eq 4 ] || fail "expected 4 named app containers, got $n"
sb=$(grep '^container_network_receive_bytes_total{' "$TMP/out.prom" | grep -v 'id="/"' |
    grep 'container="",' | grep -c 'pod="[a-z]')
[ "$sb" -ge 3 ] || fail "sandboxes (unlisted containers of known pods) lack network series: $sb"
grep '^container_memory_usage_bytes{' "$TMP/out.prom" | grep -E 'pod[0-9a-f_]+\.slice"' |
    grep 'pod=""' && fail "pod row without names"
[ -s "$TMP/requests" ] || fail "kubelet not asked"
# Workloads from the owner references above, ReplicaSet → Deployment and Job → CronJob by name.
for w in 'namespace="shop",pod="web-0",workload="web",workload_kind="StatefulSet"' \
    'namespace="shop",pod="api-7d9f8-x2k4q",workload="api",workload_kind="Deployment"' \
    'namespace="jobs",pod="batch-28301",workload="batch",workload_kind="CronJob"'; do
    grep -qF "container_pod_workload_info{$w} 1" "$TMP/out.prom" || fail "no workload $w"
done
[ "$(grep -c '^container_pod_workload_info{' "$TMP/out.prom")" -eq 3 ] ||
    fail "expected one workload series per pod"

log "wrong token: names stay empty, no failure"
echo "wrong" >"$TMP/token"
"$HAKARI" --once --no-collector.loadavg --config.file="$TMP/cfg.yml" --path.rootfs="$TMP/node" \
    >"$TMP/bad.prom" 2>"$TMP/bad.err" || fail "hakari failed with a rejected token"
grep -q 'kubelet: /pods request failed.*status=401' "$TMP/bad.err" || { cat "$TMP/bad.err" >&2; fail "401 not logged"; }
grep -q 'container="nginx"' "$TMP/bad.prom" && fail "names without the kubelet?"
grep -qE '^hakari_collector_up\{collector="cgroup"\} 1$' "$TMP/bad.prom" || fail "collector down"
grep -q 'id="/kubepods.slice/kubepods-pod' "$TMP/bad.prom" || fail "rows lost"
echo "kubelet names: ok"
