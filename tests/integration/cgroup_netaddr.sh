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
. "$TOP/tests/pod_lib.sh"
[ -x "$HAKARI" ] || fail "no binary at $HAKARI"
command -v ip >/dev/null || fail "ip (iproute2) missing"
command -v promtool >/dev/null || fail "promtool missing"
NS=hk-netaddr-$$
HOSTVETH=hkna$$
UID_A=$(pod_uid)
UID_H=$(pod_uid)
SB_A=$(pod_newid) SB_H=$(pod_newid) APP_A=$(pod_newid) APP_H=$(pod_newid)
REL_A=$(pod_rel "$UID_A" "$SB_A")
REL_H=$(pod_rel "$UID_H" "$SB_H")
log "mode $MODE, sandboxes $REL_A $REL_H"

cleanup_all() {
    pod_cleanup
    ip link del "$HOSTVETH" 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    cleanup
}
trap cleanup_all EXIT

ip netns add "$NS" || fail "ip netns add"
ip link add "$HOSTVETH" type veth peer name eth0 netns "$NS" || fail "veth"
ip addr add 10.213.7.1/24 dev "$HOSTVETH"
ip link set "$HOSTVETH" up
ip -n "$NS" link set lo up
ip -n "$NS" addr add 10.213.7.2/24 dev eth0
ip -n "$NS" addr add fd00:213:7::2/64 dev eth0 nodad
ip -n "$NS" link set eth0 up
ip -n "$NS" route add default via 10.213.7.1

pod_run "$REL_A" "$NS" sleep 120
pod_run "$REL_H" "" sleep 120
for r in "$REL_A" "$REL_H"; do
    until_true 20 grep -q . "${HIERS[0]}$r/cgroup.procs" || fail "sandbox did not join $r"
done

pod_kubelet "{\"name\":\"client-0\",\"namespace\":\"topo\",\"uid\":\"$UID_A\",\"containers\":[[\"app\",\"$APP_A\"]]}" \
    "{\"name\":\"hostnet-0\",\"namespace\":\"topo\",\"uid\":\"$UID_H\",\"containers\":[[\"app\",\"$APP_H\"]]}"
printf 'kubernetes:\n  kubelet_url: %s\n' "$KUBELET_URL" >"$TMP/cfg.yml"

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
