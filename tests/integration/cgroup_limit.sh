#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# collectors.cgroup.max_cgroups on real cgroups: over the cap, the extra cgroups are left out,
# counted in hakari_cgroup_limit_skipped_total and logged once; back under the cap (cgroups
# removed), the recovery is logged once and the counter stops growing.
source "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root to create cgroups"
[ -f "$TOP/collector/cgroup.c" ] || skip "cgroup collector not in this tree"
base="hk-limit-$$"
ctrls=()
for c in cpu cpuacct memory blkio pids unified; do
    mountpoint -q "/sys/fs/cgroup/$c" && ctrls+=("/sys/fs/cgroup/$c")
done
[ "${#ctrls[@]}" -ge 1 ] || skip "no cgroup hierarchies"
trap 'for d in "${ctrls[@]}"; do find "$d/$base" -depth -type d -exec rmdir {} + 2>/dev/null; done; cleanup' EXIT
for d in "${ctrls[@]}"; do
    for i in 1 2 3 4 5 6; do mkdir -p "$d/$base/kubepods/besteffort/pod0000000$i-0000-4000-8000-000000000000"; done
done
cat >"$TMP/hakari.yml" <<YML
global:
  collection_interval: 1s
collectors:
  ebpf:
    enabled: false
  cgroup:
    roots: [$base/kubepods]
    max_cgroups: 4
YML
port=$(free_port)
bg hakari "$HAKARI" --config.file="$TMP/hakari.yml" --web.listen-address="127.0.0.1:$port"
wait_http "http://127.0.0.1:$port/-/ready" 30
skipped() {
    curl -fsS "http://127.0.0.1:$port/metrics" |
        sed -n 's/^hakari_cgroup_limit_skipped_total //p'
}
over_cap() { local s; s=$(skipped); [ -n "$s" ] && [ "$s" != 0 ]; }
recovered() { grep -q "cgroup count back under the limit" "$TMP/hakari.log"; }
until_true 20 over_cap ||
    fail "hakari_cgroup_limit_skipped_total not counting over the cap: '$(skipped)'"
sleep 3
[ "$(grep -c 'cgroup limit reached' "$TMP/hakari.log")" = 1 ] || fail "limit not logged exactly once"
for d in "${ctrls[@]}"; do
    find "$d/$base/kubepods/besteffort" -mindepth 1 -depth -type d -exec rmdir {} +
done
until_true 20 recovered ||
    fail "recovery not logged"
a=$(skipped)
sleep 3
b=$(skipped)
[ "$a" = "$b" ] || fail "counter still growing under the cap: $a -> $b"
[ "$(grep -c 'cgroup limit reached' "$TMP/hakari.log")" = 1 ] || fail "limit logged more than once"
echo "over the cap: $b cgroup-cycles skipped, logged once; recovery logged once"
