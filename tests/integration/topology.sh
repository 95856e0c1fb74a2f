#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Service topology edges (issue 14) between two stand-in pods: network namespaces A and B joined
# by a veth pair, each pod with its sandbox cgroup (a process in the namespace) and app container
# cgroups in the kubelet's layout, named by a stand-in kubelet. The agent runs as a daemon
# (AGENT_URL, scrapable by a Prometheus). A's app makes N connections to B's server and M to a
# closed port of B; A's "scan" container tries 7 more closed ports of B, more peers than the cap
# (collectors.ebpf.topology_max_peers: 4). Asserted exactly: A's client edge to B's IP and port
# = N, B's server edge from A's IP = N, A's failed connects = M, the address-info series of both
# pods, no edge on the wrong cgroup, no port label but the servers', the scan container's edges
# = cap + peer_ip="other" (= 3) and hakari_topology_peers_dropped_total grown by ≥ 3 (node-wide).
# DNAT: inside A, nftables rewrites a "Service VIP" 10.214.99.1:80 to B's server, as kube-proxy
# does in a node's namespace for its host-network clients. A second agent daemon runs in A's
# network namespace (A plays the node; the DaemonSet runs with hostNetwork), started as the
# DaemonSet starts it: uid 0, privileges dropped to CAP_SYS_PTRACE + CAP_DAC_READ_SEARCH after
# start-up, so ctnetlink answers EPERM and the lookup reads /proc/self/net/nf_conntrack. It must
# report the backend with peer_resolved="conntrack", never the VIP. The collector driver (full
# capabilities) in A resolves the same through ctnetlink without scanning the table.
# Last, `topology: false` (as a flag) removes the edge families and keeps the other TCP ones.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pod_lib.sh"
REAL_DRIVER=${DRIVER:-$TOP/$O/tests/tools/ebpf_driver}
. "$TOP/tests/ebpf_lib.sh"
[ -x "$HAKARI" ] || fail "no binary at $HAKARI"
command -v ip >/dev/null || fail "ip (iproute2) missing"
command -v nft >/dev/null || fail "nft missing (mk/deps.sh test installs nftables)"
command -v nsenter >/dev/null || fail "nsenter (util-linux) missing"

NS_A=hktA-$$ NS_B=hktB-$$
VA=hkta$$ VB=hktb$$
IP_A=10.214.14.1 IP_B=10.214.14.2 VIP=10.214.99.1
CAP=4 N=10 M=3
UID_A=$(pod_uid) UID_B=$(pod_uid)
SB_A=$(pod_newid) APP_A=$(pod_newid) SCAN_A=$(pod_newid) SB_B=$(pod_newid) APP_B=$(pod_newid)
REL_SB_A=$(pod_rel "$UID_A" "$SB_A") REL_APP_A=$(pod_rel "$UID_A" "$APP_A")
REL_SCAN_A=$(pod_rel "$UID_A" "$SCAN_A")
REL_SB_B=$(pod_rel "$UID_B" "$SB_B") REL_APP_B=$(pod_rel "$UID_B" "$APP_B")
REL_DNAT=/hkt-dnat-$$

topo_cleanup() {
    pod_cleanup
    ebpf_cleanup
    ip netns del "$NS_A" 2>/dev/null || true
    ip netns del "$NS_B" 2>/dev/null || true
    cleanup
}
trap topo_cleanup EXIT

ip netns add "$NS_A" || fail "ip netns add"
ip netns add "$NS_B" || fail "ip netns add"
ip link add "$VA" netns "$NS_A" type veth peer name "$VB" netns "$NS_B" || fail "veth"
ip -n "$NS_A" addr add "$IP_A/24" dev "$VA"
ip -n "$NS_B" addr add "$IP_B/24" dev "$VB"
for ns in "$NS_A" "$NS_B"; do
    ip -n "$ns" link set lo up
done
ip -n "$NS_A" link set "$VA" up
ip -n "$NS_B" link set "$VB" up
ip -n "$NS_A" route add 10.214.99.0/24 dev "$VA"

pod_run "$REL_SB_A" "$NS_A" sleep 300
pod_run "$REL_SB_B" "$NS_B" sleep 300
pod_kubelet \
    "{\"name\":\"client-0\",\"namespace\":\"topo\",\"uid\":\"$UID_A\",\"containers\":[[\"app\",\"$APP_A\"],[\"scan\",\"$SCAN_A\"]]}" \
    "{\"name\":\"server-0\",\"namespace\":\"topo\",\"uid\":\"$UID_B\",\"containers\":[[\"app\",\"$APP_B\"]]}"
cat >"$TMP/cfg.yml" <<EOF
kubernetes:
  kubelet_url: $KUBELET_URL
collectors:
  ebpf:
    programs: [tcp]
    topology_max_peers: $CAP
EOF

AGENT_PORT=$(free_port)
AGENT_URL=http://127.0.0.1:$AGENT_PORT
bg hakari "$HAKARI" --web.listen-address="127.0.0.1:$AGENT_PORT" --collection.interval=1s \
    --config.file="$TMP/cfg.yml"
wait_http "$AGENT_URL/metrics" 60
scrape() { curl -fsS "$AGENT_URL/metrics" >"$1"; }
tcp_up() { scrape "$TMP/m.txt" && grep -F 'hakari_ebpf_program_up{program="tcp"} 1' "$TMP/m.txt" >/dev/null; }
until_true 60 tcp_up || { cat "$TMP/hakari.log" >&2; fail "tcp program not up"; }
DROPPED0=$(val "$TMP/m.txt" hakari_topology_peers_dropped_total)

# The DNAT "Service" inside A, and the collector driver in A's network namespace.
ip netns exec "$NS_A" nft -f - <<EOF || fail "nft DNAT rule in $NS_A"
table ip hkt {
    chain out { type nat hook output priority -100; ip daddr $VIP tcp dport 80 dnat to $IP_B:8090; }
}
EOF
# The "node" agent in A: no kubelet there (edges keyed by cgroup path), its own port on A's lo.
printf 'collectors:\n  ebpf:\n    programs: [tcp]\n' >"$TMP/cfg-a.yml"
PORT_IN_A=$(free_port)
bg hakari-a nsenter --net="/run/netns/$NS_A" "$HAKARI" --web.listen-address="127.0.0.1:$PORT_IN_A" \
    --collection.interval=1s --config.file="$TMP/cfg-a.yml"
PID_IN_A=$BG_PID
scrape_a() { ip netns exec "$NS_A" curl -fsS "http://127.0.0.1:$PORT_IN_A/metrics" >"$1"; }
tcp_up_a() { scrape_a "$TMP/a.txt" && grep -F 'hakari_ebpf_program_up{program="tcp"} 1' "$TMP/a.txt" >/dev/null; }
until_true 60 tcp_up_a || { cat "$TMP/hakari-a.log" >&2; fail "agent in $NS_A: tcp program not up"; }
printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s %s "$@"\n' "$NS_A" "$REAL_DRIVER" >"$TMP/driver-in-a"
chmod +x "$TMP/driver-in-a"
DRIVER=$TMP/driver-in-a
driver_start --options "{programs: [tcp]}"

# B's server: its app container, on B's address.
PORT=8080
CLOSED=8081
BACKEND=8090 # the DNAT's backend
pod_run "$REL_APP_B" "$NS_B" "$PY" -c "
import socket, threading
def serve(s):
    conns = []
    while True:
        conns.append(s.accept()[0])
ls = []
for p in ($PORT, $BACKEND):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('$IP_B', p)); s.listen(128); ls.append(s)
open('$TMP/listening', 'w').close()
for s in ls[1:]:
    threading.Thread(target=serve, args=(s,), daemon=True).start()
serve(ls[0])"
until_true 20 test -e "$TMP/listening" || fail "server did not listen"

# A's app: N connections kept open, M refused.
pod_run "$REL_APP_A" "$NS_A" "$PY" -c "
import socket, time
c = [socket.create_connection(('$IP_B', $PORT)) for _ in range($N)]
for _ in range($M):
    try:
        socket.create_connection(('$IP_B', $CLOSED)).close()
        raise SystemExit('port $CLOSED unexpectedly open')
    except ConnectionRefusedError:
        pass
open('$TMP/client-done', 'w').close()
time.sleep(300)"
# A's scan container: 7 closed ports, more peers than the cap.
pod_run "$REL_SCAN_A" "$NS_A" "$PY" -c "
import socket, time
for p in range(1, 8):
    try:
        socket.create_connection(('$IP_B', p)).close()
    except ConnectionRefusedError:
        pass
open('$TMP/scan-done', 'w').close()
time.sleep(300)"
# Through the VIP: K connections, DNATed to B's server.
K=3
pod_run "$REL_DNAT" "$NS_A" "$PY" -c "
import socket, time
c = [socket.create_connection(('$VIP', 80)) for _ in range($K)]
open('$TMP/dnat-done', 'w').close()
time.sleep(300)"
until_true 30 test -e "$TMP/client-done" -a -e "$TMP/scan-done" -a -e "$TMP/dnat-done" ||
    fail "clients did not finish"

a_id="id=\"$REL_APP_A\""
b_id="id=\"$REL_APP_B\""
s_id="id=\"$REL_SCAN_A\""
edge_ok() {
    scrape "$TMP/m.txt" || return 1
    [ "$(val "$TMP/m.txt" container_tcp_peer_connections_total "$a_id" 'direction="client"')" = "$N" ] &&
        [ "$(val "$TMP/m.txt" container_tcp_peer_connections_total "$b_id" 'direction="server"' "port=\"$PORT\"")" = "$N" ] &&
        [ "$(val "$TMP/m.txt" container_tcp_peer_failed_connects_total "$s_id")" = 7 ]
}
until_true 20 edge_ok || { grep -F 'container_tcp_peer' "$TMP/m.txt" >&2; fail "edges did not reach their values"; }
M_OUT=$TMP/m.txt
grep -E '^(container_tcp_peer|hakari_topology|container_network_address_info)' "$M_OUT" | grep -F 'topo' >&2 || true

# A → B as seen from both ends, exactly.
v=$(val "$M_OUT" container_tcp_peer_connections_total "$a_id" 'direction="client"' "peer_ip=\"$IP_B\"" \
    "port=\"$PORT\"" 'pod="client-0"' 'namespace="topo"' 'container="app"' 'peer_resolved="none"')
[ "$v" = "$N" ] || fail "A's client edge to $IP_B:$PORT = $v, want $N"
v=$(val "$M_OUT" container_tcp_peer_connections_total "$b_id" 'direction="server"' "peer_ip=\"$IP_A\"" \
    "port=\"$PORT\"" 'pod="server-0"' 'container="app"')
[ "$v" = "$N" ] || fail "B's server edge from $IP_A:$PORT = $v, want $N"
v=$(val "$M_OUT" container_tcp_peer_failed_connects_total "$a_id" "peer_ip=\"$IP_B\"" "port=\"$CLOSED\"")
[ "$v" = "$M" ] || fail "A's failed connects to $IP_B:$CLOSED = $v, want $M"
v=$(val "$M_OUT" container_tcp_peer_failed_connects_total "$a_id" "port=\"$PORT\"")
[ "$v" = 0 ] || fail "A's failed connects to the open port = $v"

# Addresses of both pods (sandbox rows).
grep '^container_network_address_info{' "$M_OUT" | grep -F "id=\"$REL_SB_A\"" | grep -F "ip=\"$IP_A\"" |
    grep -F 'pod="client-0"' >/dev/null || fail "no container_network_address_info for A ($IP_A)"
grep '^container_network_address_info{' "$M_OUT" | grep -F "id=\"$REL_SB_B\"" | grep -F "ip=\"$IP_B\"" |
    grep -F 'pod="server-0"' >/dev/null || fail "no container_network_address_info for B ($IP_B)"

# Nothing on the wrong cgroup: B never a client, A's app never a server, sandboxes nothing, and
# every edge series with one of the test's addresses belongs to the test's containers.
edges=$(grep -E '^container_tcp_peer_[a-z_]+\{' "$M_OUT" | grep -F 'pod="' | grep -E 'pod="(client|server)-0"' || true)
[ -n "$edges" ] || fail "no edge series"
echo "$edges" | grep -F "$b_id" | grep -F 'direction="client"' && fail "B has client edges"
echo "$edges" | grep -F "$a_id" | grep -F 'direction="server"' && fail "A's app has server edges"
echo "$edges" | grep -F -e "id=\"$REL_SB_A\"" -e "id=\"$REL_SB_B\"" && fail "edges on a sandbox"
grep -E '^container_tcp_peer_[a-z_]+\{' "$M_OUT" | grep -F -e "peer_ip=\"$IP_A\"" -e "peer_ip=\"$IP_B\"" |
    grep -v -F -e "$a_id" -e "$b_id" -e "$s_id" && fail "an edge to the test's addresses on another cgroup"
# Only servers' ports: 8080, 8081 and the scan's 1..7 (+ "other").
ports=$(echo "$edges" | sed -n 's/.*port="\([^"]*\)".*/\1/p' | sort -u | tr '\n' ' ')
for p in $ports; do
    case "$p" in "$PORT" | "$CLOSED" | "$BACKEND" | 80 | [1-7] | other) ;; *) fail "unexpected port label $p (ephemeral?)" ;; esac
done
log "ports on edges: $ports"

# Cardinality: the scan container holds exactly CAP edges + "other" with the rest.
n=$(grep -c "^container_tcp_peer_failed_connects_total{.*$s_id" "$M_OUT" || true)
[ "$n" = $((CAP + 1)) ] || fail "scan container: $n failed-connect series, want $((CAP + 1))"
v=$(val "$M_OUT" container_tcp_peer_failed_connects_total "$s_id" 'peer_ip="other"' 'port="other"')
[ "$v" = $((7 - CAP)) ] || fail "scan container's other = $v, want $((7 - CAP))"
# The counter is node-wide: other cgroups of this shared host (root, other tests) may pass the
# small cap too, so it grew by at least the scan's drops since before the workload.
v=$(val "$M_OUT" hakari_topology_peers_dropped_total)
awk -v v="$v" -v d0="$DROPPED0" -v w=$((7 - CAP)) 'BEGIN { exit !(v - d0 >= w) }' ||
    fail "hakari_topology_peers_dropped_total grew by $v - $DROPPED0, want >= $((7 - CAP))"

# DNAT, daemon: the agent in A (privileges dropped as in the DaemonSet) resolves the VIP through
# A's /proc/self/net/nf_conntrack.
# CAP_DAC_READ_SEARCH = bit 2, CAP_SYS_PTRACE = bit 19: nothing else, in particular no NET_ADMIN.
caps=$(awk '/^CapEff:/{print $2}' "/proc/$PID_IN_A/status")
[ "$caps" = "$(printf '%016x' $(((1 << 2) | (1 << 19))))" ] || fail "agent in $NS_A: CapEff $caps"
d_id="id=\"$REL_DNAT\""
dnat_a() {
    scrape_a "$TMP/a.txt" && [ "$(val "$TMP/a.txt" container_tcp_peer_connections_total "$d_id" \
        'direction="client"' "peer_ip=\"$IP_B\"" "port=\"$BACKEND\"" 'peer_resolved="conntrack"')" = "$K" ]
}
until_true 20 dnat_a || {
    grep -F "$d_id" "$TMP/a.txt" >&2
    cat "$TMP/hakari-a.log" >&2
    fail "agent in $NS_A: DNATed connections not resolved to $IP_B:$BACKEND ($K) with peer_resolved=\"conntrack\""
}
grep -F "$d_id" "$TMP/a.txt" | grep -F "peer_ip=\"$VIP\"" && fail "agent in $NS_A: the VIP is still a peer"
grep -F 'ctnetlink lookups not permitted' "$TMP/hakari-a.log" >/dev/null ||
    fail "agent in $NS_A: no log line for the netlink EPERM (did it keep CAP_NET_ADMIN?)"
v=$(val "$TMP/a.txt" hakari_topology_conntrack_scans_total 'result="complete"')
[ "${v:-0}" -ge 1 ] || fail "agent in $NS_A: no complete conntrack scan ($v)"
v=$(val "$TMP/a.txt" hakari_topology_conntrack_scans_total 'result="truncated"')
[ "$v" = 0 ] || fail "agent in $NS_A: truncated scans: $v"
v=$(val "$TMP/a.txt" container_tcp_peer_connections_total "id=\"$REL_APP_A\"" "peer_ip=\"$IP_B\"" \
    "port=\"$PORT\"" 'peer_resolved="none"')
[ "$v" = "$N" ] || fail "agent in $NS_A: A's direct connections = $v with peer_resolved=\"none\", want $N"

# DNAT, driver: with CAP_NET_ADMIN the same through ctnetlink, no table scan.
driver_collect "$TMP/drv.txt"
grep -F "$d_id" "$TMP/drv.txt" | grep -F container_tcp_peer_connections_total >&2 || true
v=$(val "$TMP/drv.txt" container_tcp_peer_connections_total "$d_id" 'direction="client"' \
    "peer_ip=\"$IP_B\"" "port=\"$BACKEND\"" 'peer_resolved="conntrack"')
[ "$v" = "$K" ] || fail "DNATed connections resolved to $IP_B:$BACKEND: $v, want $K"
grep -F "$d_id" "$TMP/drv.txt" | grep -F "peer_ip=\"$VIP\"" && fail "the VIP is still a peer"
v=$(val "$TMP/drv.txt" container_tcp_peer_connections_total "id=\"$REL_APP_A\"" "peer_ip=\"$IP_B\"" \
    "port=\"$PORT\"" 'peer_resolved="none"')
[ "$v" = "$N" ] || fail "driver: A's direct connections = $v with peer_resolved=\"none\", want $N"
v=$(val "$TMP/drv.txt" hakari_topology_conntrack_scans_total)
[ "$v" = 0 ] || fail "driver: $v conntrack table scans although ctnetlink is permitted"

# collectors.ebpf.topology: false turns the edges off (the flag form of the option).
printf 'collectors:\n  ebpf:\n    programs: [tcp]\n' >"$TMP/once.yml"
exec 3<>"/dev/tcp/127.0.0.1/$AGENT_PORT"
"$HAKARI" --once --config.file="$TMP/once.yml" --collector.ebpf.topology=false >"$TMP/off.txt" 2>"$TMP/off.err" ||
    { cat "$TMP/off.err" >&2; fail "hakari --once with topology off"; }
grep -F 'hakari_ebpf_program_up{program="tcp"} 1' "$TMP/off.txt" >/dev/null || fail "tcp not up with topology off"
grep -E '^(container_tcp_peer_|hakari_topology_)' "$TMP/off.txt" && fail "edge families with topology: false"
# (the active gauge, seeded at attach from established connections such as fd 3's to the agent,
# so it does not depend on a TCP event landing between attach and the one collection)
grep -E '^container_tcp_active_connections\{' "$TMP/off.txt" >/dev/null ||
    fail "per-container TCP families gone with topology off"
exec 3>&-

# --- topo-dash: node-graph check goes here (agent at $AGENT_URL, connections still open) ---
# The recording rules and the hakari-topology dashboard on this data, in a real Prometheus.
. "$TOP/tests/topology_promql.sh"
topology_promql_check

log "A→B $N, failed $M, cap $CAP + other, DNAT resolved $K (daemon: /proc/self/net/nf_conntrack, driver: ctnetlink)"
exit 0
