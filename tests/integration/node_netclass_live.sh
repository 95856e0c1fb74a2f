#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# netclass on the real kernel while interfaces come and go: a running agent (200 ms cycles) sees
# a new veth pair with the kernel's values, its link going up (operstate, carrier_changes), an
# MTU change once the link changes again, the pair deleted (series gone) and a new pair under the
# same names (the new device's ifindex, not the old one's kept files) — with the collector up and
# no error counted throughout. Needs root (ip link add).
source "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root to create veth interfaces"
command -v ip >/dev/null || skip "no ip(8)"
A=hkn$$a
B=hkn$$b
ip link add "$A" type veth peer name "$B" 2>"$TMP/ip.err" || skip "cannot create a veth pair: $(cat "$TMP/ip.err")"
trap 'ip link del "$A" 2>/dev/null; cleanup' EXIT

OTHERS=()
for c in $("$HAKARI" --help 2>&1 | awk '/^Collectors/ { on = 1; next } on && NF >= 2 && $2 ~ /^(on|off)$/ { print $1 }'); do
    [ "$c" = netclass ] || OTHERS+=(--no-collector."$c")
done
port=$(free_port)
bg hakari "$HAKARI" "${OTHERS[@]}" --collection.interval=200ms --web.listen-address="127.0.0.1:$port"
URL=http://127.0.0.1:$port/metrics
wait_http "$URL" 30

scrape() { curl -fsS -o "$TMP/m.prom" "$URL"; }
# value FAMILY DEVICE: the sample, empty when absent
value() { scrape && awk -v k="$1{device=\"$2\"}" '$1 == k { print $2 }' "$TMP/m.prom"; }
is() { [ "$(value "$1" "$2")" = "$3" ]; }
absent() { scrape && ! grep -q "device=\"$1\"" "$TMP/m.prom"; }
healthy() {
    grep -qx 'hakari_collector_up{collector="netclass"} 1' "$TMP/m.prom" &&
        grep -qx 'hakari_collector_errors_total{collector="netclass"} 0' "$TMP/m.prom" ||
        { grep 'collector="netclass"' "$TMP/m.prom" >&2; cat "$TMP/hakari.log" >&2; fail "netclass not healthy"; }
}
sys() { cat "/sys/class/net/$1/$2"; }

ifindex=$(sys "$A" ifindex)
until_true 10 is node_network_iface_id "$A" "$ifindex" || fail "new $A (ifindex $ifindex) not seen"
is node_network_up "$A" 0 || fail "$A is down, node_network_up should be 0"
is node_network_mtu_bytes "$A" "$(sys "$A" mtu)" || fail "mtu of $A differs from sysfs"
healthy
log "$A appeared with ifindex $ifindex"

ip link set "$B" up
ip link set "$A" up
until_true 10 is node_network_up "$A" 1 || fail "$A up not seen"
is node_network_carrier_changes_total "$A" "$(sys "$A" carrier_changes)" || fail "carrier_changes of $A differs from sysfs"
grep -q "^node_network_info{.*adminstate=\"up\",.*device=\"$A\".*operstate=\"up\"" "$TMP/m.prom" ||
    fail "node_network_info of $A: $(grep "device=\"$A\"" "$TMP/m.prom" | grep info)"
healthy

# An MTU change alone waits for refresh_interval; the next link change brings it at once.
ip link set "$A" mtu 1400
ip link set "$A" down
until_true 10 is node_network_mtu_bytes "$A" 1400 || fail "mtu 1400 not seen after the link went down"
is node_network_up "$A" 0 || fail "$A down not seen"
healthy

ip link del "$A"
until_true 10 absent "$A" || fail "$A still reported after deletion"
until_true 10 absent "$B" || fail "$B still reported after deletion"
healthy
log "$A and $B gone"

# A new pair under the same names: the new device's values.
ip link add "$A" type veth peer name "$B"
ifindex2=$(sys "$A" ifindex)
[ "$ifindex2" != "$ifindex" ] || fail "the kernel reused ifindex $ifindex"
until_true 10 is node_network_iface_id "$A" "$ifindex2" || fail "re-created $A (ifindex $ifindex2) not seen"
healthy
# Delete and re-create between two cycles as fast as ip(8) goes: the agent never reports the
# old device's values under the new one, nor counts an error.
for _ in 1 2 3 4 5; do
    ip link del "$A"
    ip link add "$A" type veth peer name "$B"
done
ifindex3=$(sys "$A" ifindex)
until_true 10 is node_network_iface_id "$A" "$ifindex3" || fail "re-created $A (ifindex $ifindex3) not seen"
healthy
log "re-created $A: ifindex $ifindex -> $ifindex2 -> $ifindex3"
echo ok
