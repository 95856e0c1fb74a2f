#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The node collectors on this real host: `hakari --once` on / must pass promtool, have one
# node_cpu_seconds_total series per online CPU × mode, every node collector up without errors,
# and agree with node_exporter (same run, same kernel) on family names, cpu/mode series and the
# values that do not move (MemTotal, boot time); and the procfs network/VM collectors (vmstat,
# netstat, sockstat, softnet, filefd, conntrack, entropy) series by series against it.
source "$(dirname "$0")/../lib.sh"
"$HAKARI" --once >"$TMP/h.prom" 2>"$TMP/h.err" || { cat "$TMP/h.err" >&2; fail "hakari --once failed"; }
promtool_check "$TMP/h.prom" || fail "promtool check metrics"

for c in cpu meminfo loadavg pressure netdev diskstats filesystem machine vmstat netstat sockstat softnet \
    filefd conntrack entropy; do
    grep -qx "hakari_collector_up{collector=\"$c\"} 1" "$TMP/h.prom" || fail "collector $c not up"
    grep -qx "hakari_collector_errors_total{collector=\"$c\"} 0" "$TMP/h.prom" ||
        fail "collector $c counted errors: $(grep "errors_total{collector=\"$c\"}" "$TMP/h.prom")"
done

ncpu=$(grep -c '^cpu[0-9]' /proc/stat)
modes="idle iowait irq nice softirq steal system user"
got=$(grep '^node_cpu_seconds_total{' "$TMP/h.prom" | sed -E 's/^[^{]*\{([^}]*)\}.*/\1/' | sort)
want=$(for i in $(seq 0 $((ncpu - 1))); do for m in $modes; do echo "cpu=\"$i\",mode=\"$m\""; done; done | sort)
[ "$got" = "$want" ] || { diff <(echo "$want") <(echo "$got") >&2; fail "node_cpu_seconds_total series != $ncpu CPUs × 8 modes"; }
log "node_cpu_seconds_total: $ncpu CPUs × 8 modes"

# machine_cpu_cores counts the CPUs present (sysfs), never fewer than the online ones.
cores=$(awk '/^machine_cpu_cores\{/ { print $2 }' "$TMP/h.prom")
[ -n "$cores" ] && [ "$cores" -ge "$ncpu" ] || fail "machine_cpu_cores=$cores < $ncpu online CPUs"
memtotal=$(awk '/^MemTotal:/ { printf "%.0f", $2 * 1024 }' /proc/meminfo)
grep -q "^machine_memory_bytes{.*} $memtotal\$" "$TMP/h.prom" || fail "machine_memory_bytes != MemTotal ($memtotal)"
grep -q "^node_memory_MemTotal_bytes $memtotal\$" "$TMP/h.prom" || fail "node_memory_MemTotal_bytes != $memtotal"
grep -q "^machine_cpu_cores{boot_id=\"$(cat /proc/sys/kernel/random/boot_id)\"," "$TMP/h.prom" ||
    fail "machine_* boot_id label differs from /proc/sys/kernel/random/boot_id"

# node_exporter on the same host: every node_* family we emit has its name and type there.
command -v prometheus-node-exporter >/dev/null || fail "prometheus-node-exporter missing (mk/packages-test.txt)"
# The newest node_exporter's netstat default fields (hakari's; 1.5 lacks three TcpExt ones), and
# the softnet families added after 1.5 (compared with the newest by node_upstream.sh).
netstat_fields='^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$'
newer_than_ne='^node_softnet_(cpu_collision_total|received_rps_total|flow_limit_count_total|backlog_len)$'
quick=(--once --no-collector.ebpf --no-collector.cgroup --no-collector.filesystem)
"$HAKARI" "${quick[@]}" >"$TMP/before.prom" 2>"$TMP/before.err" || { cat "$TMP/before.err" >&2; fail "hakari --once failed"; }
port=$(free_port)
bg node_exporter prometheus-node-exporter --web.listen-address="127.0.0.1:$port" \
    --collector.netstat.fields="$netstat_fields"
wait_http "http://127.0.0.1:$port/metrics" 30
curl -fsS "http://127.0.0.1:$port/metrics" >"$TMP/ne.prom"
"$HAKARI" "${quick[@]}" >"$TMP/after.prom" 2>"$TMP/after.err" || { cat "$TMP/after.err" >&2; fail "hakari --once failed"; }
types() { grep '^# TYPE node_' "$1" | awk '{ print $3, $4 }' | grep -Ev "^${newer_than_ne:1:-1} " | sort; }
missing=$(comm -23 <(types "$TMP/h.prom") <(types "$TMP/ne.prom"))
[ -z "$missing" ] || fail "families (name type) absent from node_exporter: $missing"
log "$(types "$TMP/h.prom" | wc -l) node_* families, all named and typed as node_exporter's"
series() { grep "^$2{" "$1" | sed -E 's/ [^ ]+$//' | tr -d ' ' | sort; }
[ "$(series "$TMP/h.prom" node_cpu_seconds_total)" = "$(series "$TMP/ne.prom" node_cpu_seconds_total)" ] ||
    fail "node_cpu_seconds_total series differ from node_exporter's"
[ "$(series "$TMP/h.prom" node_cpu_guest_seconds_total)" = "$(series "$TMP/ne.prom" node_cpu_guest_seconds_total)" ] ||
    fail "node_cpu_guest_seconds_total series differ from node_exporter's"
for f in node_memory_MemTotal_bytes node_boot_time_seconds node_memory_SwapTotal_bytes; do
    a=$(awk -v f="$f" '$1 == f { printf "%.0f", $2 }' "$TMP/h.prom")
    b=$(awk -v f="$f" '$1 == f { printf "%.0f", $2 }' "$TMP/ne.prom")
    [ -n "$a" ] && [ "$a" = "$b" ] || fail "$f: hakari $a, node_exporter $b"
done
# The same disks (node_exporter's default exclusion) and filesystems as node_exporter, as far as
# the label sets go (node_exporter's Debian build excludes more mount points: compare ours ⊆).
d1=$(series "$TMP/h.prom" node_disk_reads_completed_total)
d2=$(series "$TMP/ne.prom" node_disk_reads_completed_total)
[ "$d1" = "$d2" ] || fail "disk devices differ: ours [$d1] node_exporter [$d2]"

# The procfs network/VM collectors against node_exporter on this host, read between two hakari
# runs (before, after): the same families and label sets; values equal for what does not move
# (limits, pool size, forwarding), and for counters node_exporter's value between hakari's two.
"$PY" - "$TMP/before.prom" "$TMP/ne.prom" "$TMP/after.prom" "$newer_than_ne" <<'PY' || fail "procfs network/VM collectors differ from node_exporter on this host"
import re, sys
FAMS = r'node_(vmstat|netstat|sockstat|softnet|filefd|nf_conntrack|entropy)_.*'
def load(path):
    out = {}
    for line in open(path):
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$', line.strip())
        if m and re.fullmatch(FAMS, m.group(1)) and not re.match(sys.argv[4], m.group(1)):
            out[(m.group(1), m.group(2) or '')] = float(m.group(3))
    return out
a, ne, b = (load(p) for p in sys.argv[1:4])
bad = []
if set(a) != set(ne) or set(b) != set(ne):
    bad.append(f'series only in hakari: {sorted(set(a) - set(ne))}; only in node_exporter: {sorted(set(ne) - set(a))}')
CONST = r'node_(filefd_maximum|entropy_pool_size_bits|nf_conntrack_entries_limit|netstat_Ip_Forwarding)'
# gauges that go both ways; everything else counts up
MOVES = r'node_(sockstat_.*|filefd_allocated|entropy_available_bits|nf_conntrack_entries|netstat_Tcp_CurrEstab|softnet_backlog_len)'
checked = 0
for key in sorted(set(a) & set(ne) & set(b)):
    name = key[0]
    if re.fullmatch(CONST, name):
        ok = a[key] == ne[key] == b[key]
    elif re.fullmatch(MOVES, name):
        continue
    else:
        ok = a[key] <= ne[key] <= b[key]
    checked += 1
    if not ok:
        bad.append(f'{key}: hakari {a[key]} then {b[key]}, node_exporter {ne[key]}')
for line in bad:
    print(line)
print(f'procfs network/VM collectors: {len(ne)} series, same names and labels as node_exporter; '
      f'{checked} values consistent', file=sys.stderr)
sys.exit(1 if bad else 0)
PY
echo ok
