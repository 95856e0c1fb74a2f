#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Semantics, not just names: on each node fixture, every node_* series hakari emits must be in
# node_exporter's output for the same files (node_exporter pointed at the fixture's proc/sys),
# with the same labels and the same value (textfile on both with no directory: only
# node_textfile_scrape_error 0); node_* families only node_exporter has must be in
# the known list of what hakari deliberately leaves out (docs/node-collectors.md).
source "$(dirname "$0")/../lib.sh"
command -v prometheus-node-exporter >/dev/null || fail "prometheus-node-exporter missing (mk/packages-test.txt)"
only_ne_allowed='^(node_disk_info|node_exporter_build_info|node_scrape_collector_duration_seconds|node_scrape_collector_success)$'
# Families newer node_exporters added (softnet: 1.6+, hakari follows the newest, see
# docs/node-collectors.md); 1.5 does not have them, so they cannot be compared here
# (node_upstream.sh compares them with the newest node_exporter's expected output).
only_hk_allowed='^node_softnet_(cpu_collision_total|received_rps_total|flow_limit_count_total|backlog_len)$'
# The newest node_exporter's netstat default (1.5's lacks TcpExt_TCPTimeouts/TCPOFOQueue/
# TCPRcvQDrop): given to 1.5 so both select the same fields.
netstat_fields='^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$'
n=0
for fixture in "$TOP"/tests/fixtures/node-*; do
    name=$(basename "$fixture")
    # netclass, time, timex, uname, os: tests/integration/node_upstream_sys.sh (the clock and
    # the kernel are the host's, not the fixture's).
    "$HAKARI" --once --path.rootfs="$fixture" --no-collector.filesystem --no-collector.machine \
        --no-collector.netclass --no-collector.time --no-collector.timex --no-collector.uname \
        --no-collector.os \
        >"$TMP/$name.hk" 2>"$TMP/$name.err" || { cat "$TMP/$name.err" >&2; fail "$name: hakari failed"; }
    port=$(free_port)
    # Debian's build excludes lo by default: exclude nothing, like upstream.
    bg "ne-$name" prometheus-node-exporter --web.listen-address="127.0.0.1:$port" \
        --path.procfs="$fixture/proc" --path.sysfs="$fixture/sys" --path.rootfs="$fixture" \
        --collector.disable-defaults --collector.cpu --collector.stat --collector.meminfo \
        --collector.loadavg --collector.pressure --collector.netdev --collector.diskstats \
        --no-collector.netdev.netlink --collector.netdev.device-exclude='^$' \
        --collector.vmstat --collector.netstat --collector.netstat.fields="$netstat_fields" \
        --collector.sockstat --collector.softnet --collector.filefd --collector.conntrack \
        --collector.entropy --collector.textfile --collector.textfile.directory=''
    pid=$BG_PID
    wait_http "http://127.0.0.1:$port/metrics" 30
    curl -fsS -o "$TMP/$name.ne" "http://127.0.0.1:$port/metrics"
    kill -TERM "$pid"
    python3 - "$TMP/$name.hk" "$TMP/$name.ne" "$only_ne_allowed" "$name" "$only_hk_allowed" <<'PY' || fail "$name: differs from node_exporter"
import re, sys
def load(path):
    series = {}
    for line in open(path):
        if line.startswith('#') or not line.strip():
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$', line.strip())
        if not m:
            sys.exit(f"unparsable line in {path}: {line!r}")
        name, labels, value = m.groups()
        labels = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels or '')))
        series[(name, labels)] = float(value)
    # node_exporter_build_info carries each program's own version.
    return {k: v for k, v in series.items()
            if k[0].startswith('node_') and k[0] != 'node_exporter_build_info'}
hk, ne = load(sys.argv[1]), load(sys.argv[2])
bad = newer = 0
for key, v in sorted(hk.items()):
    if key[0] not in {k[0] for k in ne} and re.match(sys.argv[5], key[0]):
        newer += 1
        continue
    if key not in ne:
        print("only in hakari:", key); bad += 1
    elif abs(v - ne[key]) > 1e-9 * max(1.0, abs(ne[key])):
        print("value differs:", key, "hakari", v, "node_exporter", ne[key]); bad += 1
hk_families = {k[0] for k in hk}
for fam in sorted({k[0] for k in ne} - hk_families):
    if not re.match(sys.argv[3], fam):
        print("family only in node_exporter:", fam); bad += 1
for key in sorted(k for k in ne if k[0] in hk_families and k not in hk):
    print("series only in node_exporter:", key); bad += 1
print(f"{sys.argv[4]}: {len(hk) - newer} node_* series, all equal to node_exporter's"
      f" ({newer} of families 1.5 lacks not compared)", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
    n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "no tests/fixtures/node-* fixture"
echo ok
