#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# container_network_address_info on real network namespaces: a pod whose sandbox process runs in
# its own namespace (ip netns + a veth, eth0 inside with an IPv4 and an IPv6 address) and a
# host-network pod whose sandbox runs in the node's namespace, each in a real cgroup in the
# kubelet's layout. A stand-in kubelet (plain HTTP on 127.0.0.1) names the pods and lists one app
# container each, so the unlisted cgroups are the sandboxes (as in cgroup_kubelet.sh). The
# addresses must come out on the sandbox rows, loopback and link-local ones not, the host-network
# pod with the node's addresses and host_network="true"; promtool accepts the output. Cleans up.
. "$(dirname "$0")/../lib.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root to create cgroups and network namespaces"
[ -x "$HAKARI" ] || fail "no binary at $HAKARI"
command -v ip >/dev/null || fail "ip (iproute2) missing"
command -v promtool >/dev/null || fail "promtool missing"
CG=/sys/fs/cgroup
NS=hk-netaddr-$$
HOSTVETH=hkna$$
newid() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
UID_A=$(python3 -c 'import uuid; print(uuid.uuid4())')
UID_H=$(python3 -c 'import uuid; print(uuid.uuid4())')
SB_A=$(newid) SB_H=$(newid) APP_A=$(newid) APP_H=$(newid)

if grep -q ' - cgroup cgroup .*[,]memory' /proc/self/mountinfo; then
    MODE=v1
    HIERS=()
    for c in cpu cpuacct memory pids blkio; do
        d=$(awk -v c="$c" '$0 ~ / - cgroup cgroup / { n=split($NF,o,","); for(i=1;i<=n;i++) if(o[i]==c) {print $5; exit} }' /proc/self/mountinfo)
        [ -n "$d" ] || fail "controller $c not mounted"
        HIERS+=("$d")
    done
    U=$(awk '$0 ~ / - cgroup2 / {print $5; exit}' /proc/self/mountinfo)
    [ -n "$U" ] && HIERS+=("$U")
    rel() { echo "/kubepods/besteffort/pod$1/$2"; }
else
    MODE=v2
    HIERS=("$CG")
    rel() { echo "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${1//-/_}.slice/cri-containerd-$2.scope"; }
fi
REL_A=$(rel "$UID_A" "$SB_A")
REL_H=$(rel "$UID_H" "$SB_H")
log "mode $MODE, sandboxes $REL_A $REL_H"

CREATED=()
PIDS=()
cleanup_all() {
    local p i
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null && { wait "$p" 2>/dev/null || true; }; done
    for ((i = ${#CREATED[@]} - 1; i >= 0; i--)); do
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            rmdir "${CREATED[$i]}" 2>/dev/null && break
            [ -d "${CREATED[$i]}" ] || break
            sleep 0.2
        done
    done
    ip link del "$HOSTVETH" 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    cleanup
}
trap cleanup_all EXIT

mkpath() { # hierarchy-root relpath
    local cur=$1 part
    IFS=/ read -ra parts <<<"${2#/}"
    for part in "${parts[@]}"; do
        cur=$cur/$part
        if [ ! -d "$cur" ]; then
            mkdir "$cur" || fail "mkdir $cur"
            CREATED+=("$cur")
        fi
    done
}
# A sandbox: "sleep" started by a shell that first joins the cgroup in every hierarchy (and, for
# the pod with its own network, then enters the namespace).
start_sandbox() { # rel [netns]
    local procs="" h
    for h in "${HIERS[@]}"; do
        mkpath "$h" "$1"
        procs="$procs $h$1/cgroup.procs"
    done
    # Joins first: `ip netns exec` remounts /sys for the namespace, then execs (same pid).
    local run="exec sleep 120"
    [ -n "${2:-}" ] && run="exec ip netns exec $2 sleep 120"
    sh -c 'for f in '"$procs"'; do echo $$ >"$f" || exit 1; done; '"$run" &
    PIDS+=($!)
}

ip netns add "$NS" || fail "ip netns add"
ip link add "$HOSTVETH" type veth peer name eth0 netns "$NS" || fail "veth"
ip addr add 10.213.7.1/24 dev "$HOSTVETH"
ip link set "$HOSTVETH" up
ip -n "$NS" link set lo up
ip -n "$NS" addr add 10.213.7.2/24 dev eth0
ip -n "$NS" addr add fd00:213:7::2/64 dev eth0 nodad
ip -n "$NS" link set eth0 up
ip -n "$NS" route add default via 10.213.7.1

start_sandbox "$REL_A" "$NS"
start_sandbox "$REL_H"
for r in "$REL_A" "$REL_H"; do
    until_true 20 grep -q . "${HIERS[0]}$r/cgroup.procs" || fail "sandbox did not join $r"
done

port=$(free_port)
cat >"$TMP/kubelet.py" <<PY
import http.server, json
def pod(name, uid, app):
    return {"metadata": {"name": name, "namespace": "topo", "uid": uid},
            "status": {"phase": "Running", "qosClass": "BestEffort",
                       "containerStatuses": [{"name": "app", "image": "example/app:1",
                                              "containerID": "containerd://" + app}]}}
body = json.dumps({"kind": "PodList", "apiVersion": "v1", "items": [
    pod("client-0", "$UID_A", "$APP_A"), pod("hostnet-0", "$UID_H", "$APP_H")]}).encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", $port), H).serve_forever()
PY
bg kubelet python3 "$TMP/kubelet.py"
until_true 20 curl -fsS -o /dev/null "http://127.0.0.1:$port/pods" || fail "stand-in kubelet did not start"
printf 'kubernetes:\n  kubelet_url: http://127.0.0.1:%s\n' "$port" >"$TMP/cfg.yml"

"$HAKARI" --once --no-collector.loadavg --config.file="$TMP/cfg.yml" >"$TMP/out.prom" 2>"$TMP/err" ||
    { cat "$TMP/err" >&2; fail "hakari --once"; }
promtool_check "$TMP/out.prom" || fail "promtool check metrics"

addr() { # rel
    grep '^container_network_address_info{' "$TMP/out.prom" | grep -F "id=\"$1\"" || true
}
a=$(addr "$REL_A")
echo "$a" | grep -F 'interface="eth0"' | grep -F 'ip="10.213.7.2"' | grep -F 'host_network="false"' |
    grep -F 'pod="client-0"' | grep -qF 'namespace="topo"' || { echo "$a" >&2; fail "no IPv4 of the pod's namespace"; }
echo "$a" | grep -F 'interface="eth0"' | grep -qF 'ip="fd00:213:7::2"' || fail "no IPv6 of the pod's namespace"
n=$(echo "$a" | grep -c . || true)
[ "$n" -eq 2 ] || { echo "$a" >&2; fail "expected exactly the 2 global addresses, got $n (loopback or link-local leaked?)"; }

# The host-network pod: every global address of the node's namespace, as iproute2 lists them.
h=$(addr "$REL_H")
[ -n "$h" ] || fail "no addresses on the host-network sandbox"
echo "$h" | grep -v -qF 'host_network="true"' && { echo "$h" >&2; fail "host-network sandbox without host_network=\"true\""; }
want=0
while read -r dev ip; do
    ip=${ip%/*}
    case "$ip" in 127.* | 169.254.* | ::1 | fe80:*) continue ;; esac
    want=$((want + 1))
    [ "$want" -le 32 ] || break
    echo "$h" | grep -F "ip=\"$ip\"" >/dev/null || fail "node address $ip ($dev) missing on the host-network sandbox"
    case "$ip" in *:*) echo "$h" | grep -F "ip=\"$ip\"" | grep -qF "interface=\"$dev\"" ||
        fail "node address $ip not on interface $dev" ;; esac
done < <(ip -o addr show | awk '{print $2, $4}')
[ "$want" -ge 1 ] || fail "the node has no global address to compare with"
echo "$h" | grep -qF 'ip="10.213.7.2"' && fail "the pod's address leaked into the node's"
log "pod: $n addresses; host network: $(echo "$h" | grep -c .) addresses"
exit 0
