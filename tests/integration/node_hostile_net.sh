#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Hostile procfs files for the vmstat, netstat, sockstat, softnet, filefd, conntrack and entropy
# collectors, through the real agent on node_exporter's fixture tree: a file too large, truncated,
# non-numeric, with out-of-range numbers or the wrong shape is skipped whole (no series from it),
# the rest of its collector and every other collector keep going, the collector stays up and
# counts one error per bad file, and the log names collector and file.
source "$(dirname "$0")/../lib.sh"
R="$TMP/root"
cp -r "$TOP/tests/fixtures/node-upstream" "$R"
chmod -R u+w "$R"
P="$R/proc"
# too large: 2 MiB of well-formed lines (the vmstat buffer stops at 1 MiB)
"$PY" -c 'import sys; sys.stdout.write("pgfault 1\n" * 220000)' >"$P/vmstat"
# truncated: the Tcp names line of snmp without its values line
awk '/^Tcp:/ && !seen { print; seen = 1; exit } { print }' "$TOP/tests/fixtures/node-upstream/proc/net/snmp" >"$P/net/snmp"
# non-numeric
printf 'TCP6: inuse x\nUDP6: inuse 9\n' >"$P/net/sockstat6"
# a column wider than the kernel's %08x
printf '00049279 00000000 00000001 00000000 00000000 00000000 00000000 00000000 123456789\n' >"$P/net/softnet_stat"
# truncated: two of three numbers
printf '1024\t0' >"$P/sys/fs/file-nr"
# per-CPU sum beyond 64 bits
{ head -1 "$TOP/tests/fixtures/node-upstream/proc/net/stat/nf_conntrack"
  for _ in 1 2; do echo "00000021 00000000 ffffffffffffffff 00000000 00000003 0000588a 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000"; done
} >"$P/net/stat/nf_conntrack"
# trailing garbage
printf '4096 bits\n' >"$P/sys/kernel/random/poolsize"

"$HAKARI" --once --path.rootfs="$R" --no-collector.filesystem --no-collector.machine \
    --no-collector.cgroup --no-collector.ebpf >"$TMP/once.prom" 2>"$TMP/once.err" ||
    { cat "$TMP/once.err" >&2; fail "hakari --once failed"; }
has() { grep -qE "$1" "$TMP/once.prom" || fail "missing: $1"; }
hasnt() { ! grep -qE "$1" "$TMP/once.prom" || fail "series from a bad file: $(grep -E "$1" "$TMP/once.prom" | head -3)"; }
for c in vmstat netstat sockstat softnet filefd conntrack entropy; do
    has "^hakari_collector_up\{collector=\"$c\"\} 1$"
    has "^hakari_collector_errors_total\{collector=\"$c\"\} 1$"
done
has '^hakari_collector_errors_total\{collector="meminfo"\} 0$'
hasnt '^node_vmstat_'
hasnt '^node_netstat_(Tcp|Udp|Ip|Icmp|UdpLite)_'       # from snmp
has '^node_netstat_TcpExt_ListenDrops 0$'                # netstat
has '^node_netstat_Ip6_InOctets 460$'                    # snmp6
hasnt '^node_sockstat_(TCP6|UDP6)_'
has '^node_sockstat_TCP_inuse 4$'
hasnt '^node_softnet_'
hasnt '^node_filefd_'
hasnt '^node_nf_conntrack_stat_'
has '^node_nf_conntrack_entries 123$'
has '^node_nf_conntrack_entries_limit 65536$'
hasnt '^node_entropy_pool_size_bits'
has '^node_entropy_available_bits 1337$'
has '^node_memory_MemTotal_bytes '
logged() { grep -q "msg=\"$1\" collector=$2 file=$3 " "$TMP/once.err" || { cat "$TMP/once.err" >&2; fail "no log line: $1 $2 $3"; }; }
logged "file too large, skipped" vmstat vmstat
logged "malformed file skipped" netstat net/snmp
logged "malformed file skipped" sockstat net/sockstat6
logged "malformed file skipped" softnet net/softnet_stat
logged "malformed file skipped" filefd sys/fs/file-nr
logged "malformed file skipped" conntrack net/stat/nf_conntrack
logged "malformed file skipped" entropy sys/kernel/random/poolsize

# Empty files: each a soft error, nothing emitted from them.
for f in vmstat net/netstat net/snmp net/snmp6 net/sockstat net/sockstat6 net/softnet_stat \
    sys/fs/file-nr net/stat/nf_conntrack sys/kernel/random/entropy_avail \
    sys/kernel/random/poolsize sys/net/netfilter/nf_conntrack_count sys/net/netfilter/nf_conntrack_max; do
    : >"$P/$f"
done
"$HAKARI" --once --path.rootfs="$R" --no-collector.filesystem --no-collector.machine \
    --no-collector.cgroup --no-collector.ebpf >"$TMP/empty.prom" 2>"$TMP/empty.err" ||
    { cat "$TMP/empty.err" >&2; fail "hakari --once failed on empty files"; }
grep -E '^node_(vmstat|netstat|sockstat|softnet|filefd|nf_conntrack|entropy)_' "$TMP/empty.prom" &&
    fail "series from empty files"
for c in vmstat:1 netstat:3 sockstat:2 softnet:1 filefd:1 conntrack:3 entropy:2; do
    grep -qx "hakari_collector_errors_total{collector=\"${c%%:*}\"} ${c#*:}" "$TMP/empty.prom" ||
        fail "empty files: want ${c#*:} errors for ${c%%:*}: $(grep "errors_total{collector=\"${c%%:*}\"}" "$TMP/empty.prom")"
done

# A running agent keeps these files open between cycles: a file rewritten in place turns bad,
# is counted each cycle and logged once, and is read good again once rewritten.
F="$TOP/tests/fixtures/node-upstream/proc"
for f in vmstat net/sockstat net/netstat net/snmp net/snmp6; do cat "$F/$f" >"$P/$f"; done
port=$(free_port)
bg agent "$HAKARI" --path.rootfs="$R" --no-collector.filesystem --no-collector.machine \
    --no-collector.cgroup --no-collector.ebpf --collection.interval=1s \
    --web.listen-address="127.0.0.1:$port"
wait_http "http://127.0.0.1:$port/-/ready" 20
scrape() { curl -fsS -o "$TMP/m.prom" "http://127.0.0.1:$port/metrics"; }
vmstat_up() { scrape && grep -q '^node_vmstat_pgfault 2320168809$' "$TMP/m.prom"; }
until_true 20 vmstat_up || fail "node_vmstat_pgfault not served"
printf 'pgfault 12x\n' >"$P/vmstat"
errs() { scrape && awk '$1 == "hakari_collector_errors_total{collector=\"vmstat\"}" { print $2 }' "$TMP/m.prom"; }
two_errors() { [ "$(errs)" -ge 2 ]; }
until_true 20 two_errors || fail "vmstat errors did not count: $(errs)"
grep -q '^node_vmstat_' "$TMP/m.prom" && fail "node_vmstat_* served from a malformed file"
cat "$F/vmstat" >"$P/vmstat"
until_true 20 vmstat_up || fail "node_vmstat_* did not come back after the file was fixed"
n_bad=$(grep -c 'msg="malformed file skipped" collector=vmstat' "$TMP/agent.log" || true)
n_good=$(grep -c 'msg="file readable again" collector=vmstat' "$TMP/agent.log" || true)
[ "$n_bad" -eq 1 ] && [ "$n_good" -eq 1 ] ||
    { cat "$TMP/agent.log" >&2; fail "log lines: $n_bad bad (want 1), $n_good recovered (want 1)"; }
echo ok
