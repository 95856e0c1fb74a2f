# SPDX-License-Identifier: Apache-2.0
# Helpers for integration tests that stand in for Kubernetes pods on this machine (source after
# tests/lib.sh): the kubelet's cgroup layout on v1 or v2 (MODE, HIERS, pod_rel), processes that
# join a pod cgroup in every hierarchy and optionally a network namespace, and a stand-in kubelet
# serving /pods. Created cgroups are removed, pod processes killed, at exit (pod_cleanup; the
# caller's EXIT trap must call it, then cleanup).
[ "$(id -u)" -eq 0 ] || skip "needs root to create cgroups and network namespaces"

if grep -q ' - cgroup cgroup .*[,]memory' /proc/self/mountinfo; then
    MODE=v1
    HIERS=()
    for c in cpu cpuacct memory pids blkio; do
        d=$(cgroup_v1_mount "$c")
        [ -n "$d" ] || fail "controller $c not mounted"
        HIERS+=("$d")
    done
    U=$(awk '$0 ~ / - cgroup2 / {print $5; exit}' /proc/self/mountinfo)
    [ -n "$U" ] && HIERS+=("$U")
    # pod_rel POD_UID CONTAINER_ID: the container's cgroup path in the kubelet's layout.
    pod_rel() { echo "/kubepods/besteffort/pod$1/$2"; }
else
    MODE=v2
    HIERS=(/sys/fs/cgroup)
    pod_rel() { echo "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${1//-/_}.slice/cri-containerd-$2.scope"; }
fi

pod_newid() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
pod_uid() { "$PY" -c 'import uuid; print(uuid.uuid4())'; }

POD_CREATED=()
POD_PIDS=()
pod_cleanup() {
    local p
    for p in "${POD_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null && { wait "$p" 2>/dev/null || true; }; done
    rmdir_reverse "${POD_CREATED[@]}"
}

# pod_mkpath HIERARCHY_ROOT RELPATH: creates the missing directories (removed at exit).
pod_mkpath() {
    local cur=$1 part
    IFS=/ read -ra parts <<<"${2#/}"
    for part in "${parts[@]}"; do
        cur=$cur/$part
        if [ ! -d "$cur" ]; then
            mkdir "$cur" || fail "mkdir $cur"
            POD_CREATED+=("$cur")
        fi
    done
}

# pod_run REL NETNS CMD...: runs CMD in the background inside cgroup REL of every hierarchy and,
# when NETNS is not "", in that network namespace; its pid is in $POD_PID (killed at exit).
pod_run() {
    local rel=$1 ns=$2 procs="" h
    shift 2
    for h in "${HIERS[@]}"; do
        pod_mkpath "$h" "$rel"
        procs="$procs $h$rel/cgroup.procs"
    done
    # Joins first: `ip netns exec` remounts /sys for the namespace, then execs (same pid).
    if [ -n "$ns" ]; then set -- ip netns exec "$ns" "$@"; fi
    sh -c 'for f in '"$procs"'; do echo $$ >"$f" || exit 1; done; exec "$@"' sh "$@" &
    POD_PID=$!
    POD_PIDS+=("$POD_PID")
}

# pod_kubelet POD_JSON...: a stand-in kubelet on 127.0.0.1 serving /pods with these pods, each
# '{"name":…,"uid":…,"namespace":…,"containers":[["app","<container id>"],…]}'. Sets
# KUBELET_URL.
pod_kubelet() {
    local port
    port=$(free_port)
    printf '%s\n' "$@" >"$TMP/kubelet-pods.jsonl"
    cat >"$TMP/kubelet.py" <<PY
import http.server, json
items = []
for line in open("$TMP/kubelet-pods.jsonl"):
    p = json.loads(line)
    items.append({"metadata": {"name": p["name"], "namespace": p["namespace"], "uid": p["uid"]},
                  "status": {"phase": "Running", "qosClass": "BestEffort",
                             "containerStatuses": [{"name": n, "image": "example/" + n + ":1",
                                                    "containerID": "containerd://" + i}
                                                   for n, i in p["containers"]]}})
body = json.dumps({"kind": "PodList", "apiVersion": "v1", "items": items}).encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", $port), H).serve_forever()
PY
    bg kubelet "$PY" "$TMP/kubelet.py"
    KUBELET_URL=http://127.0.0.1:$port
    until_true 20 curl -fsS -o /dev/null "$KUBELET_URL/pods" || fail "stand-in kubelet did not start"
}
