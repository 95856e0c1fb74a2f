#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The netclass, time, os, timex and uname collectors (and the /proc/stat counters of the cpu
# collector, node_exporter's "stat") against node_exporter itself:
#  1. on tests/fixtures/node-upstream (node_exporter's own sysfs/os-release/proc/stat fixtures),
#     hakari with node_exporter's end-to-end flags must print exactly the families, HELP, TYPE,
#     label sets and values of node_exporter's expected output (e2e-output.txt) for them;
#  2. the installed node_exporter (1.5) run on the same tree with its defaults: same series and
#     values, HELP and TYPE (1.5 predates node_network_info's adminstate label: dropped before
#     comparing when its output lacks it);
#  3. this host: the same with netclass, time, timex, uname and os on the real /sys, clock and
#     kernel — equal series; values equal except the clock itself (node_time_seconds within
#     30 s) and the timex figures that move between two reads (offset, frequency, errors: loose).
source "$(dirname "$0")/../lib.sh"
command -v prometheus-node-exporter >/dev/null || fail "prometheus-node-exporter missing (mk/packages-test.txt)"
FIX=$TOP/tests/fixtures/node-upstream
MINE=(netclass time os timex uname cpu)
# Every other collector off (hakari --help lists them).
OTHERS=()
for c in $("$HAKARI" --help 2>&1 | awk '/^Collectors/ { on = 1; next } on && NF >= 2 && $2 ~ /^(on|off)$/ { print $1 }'); do
    [[ " ${MINE[*]} " == *" $c "* ]] || OTHERS+=(--no-collector."$c")
done

COMPARE=$(
    cat <<'PY'
import re, sys
FAMILIES = re.compile(r'^node_(network_(up|info|address_assign_type|carrier|carrier_changes_total|'
                      r'carrier_up_changes_total|carrier_down_changes_total|device_id|dormant|flags|'
                      r'iface_id|iface_link|iface_link_mode|mtu_bytes|name_assign_type|net_dev_group|'
                      r'protocol_type|speed_bytes|transmit_queue_length)|os_.*|time_.*|timex_.*|uname_info|'
                      r'boot_time_seconds|context_switches_total|forks_total|intr_total|procs_blocked|'
                      r'procs_running)$')
def load(path):
    series, meta = {}, {}
    for line in open(path, encoding='utf-8'):
        line = line.rstrip('\n')
        m = re.match(r'^# (HELP|TYPE) (\S+) (.*)$', line)
        if m:
            meta.setdefault(m.group(2), {})[m.group(1)] = m.group(3)
            continue
        if line.startswith('#') or not line.strip():
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$', line)
        if not m:
            sys.exit(f"unparsable line in {path}: {line!r}")
        name, labels, value = m.groups()
        labels = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels or '')))
        series[(name, labels)] = float(value)
    keep = lambda n: FAMILIES.match(n)
    return ({k: v for k, v in series.items() if keep(k[0])},
            {k: v for k, v in meta.items() if keep(k)})
mode, hk_path, ref_path, what = sys.argv[1:5]
hk, hk_meta = load(hk_path)
ref, ref_meta = load(ref_path)
skip = re.compile(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[5] else None
if skip:
    hk = {k: v for k, v in hk.items() if not skip.match(k[0])}
    ref = {k: v for k, v in ref.items() if not skip.match(k[0])}
if 'adminstate' not in {l[0] for k in ref for l in k[1] if k[0] == 'node_network_info'}:
    hk = {(n, tuple(l for l in ls if not (n == 'node_network_info' and l[0] == 'adminstate'))): v
          for (n, ls), v in hk.items()}
# loose: family -> absolute tolerance (values that move between two reads of a live host)
loose = {}
if mode == 'live':
    loose = {'node_time_seconds': 30, 'node_timex_offset_seconds': 0.5,
             'node_timex_frequency_adjustment_ratio': 1e-3, 'node_timex_maxerror_seconds': 1,
             'node_timex_estimated_error_seconds': 1, 'node_timex_pps_jitter_seconds': 0.5}
bad = 0
for key in sorted(set(hk) | set(ref)):
    if key not in ref:
        print(f"{what}: only in hakari:", key); bad += 1
    elif key not in hk:
        print(f"{what}: only in node_exporter:", key); bad += 1
    else:
        tol = loose.get(key[0], 1e-9 * max(1.0, abs(ref[key])))
        if abs(hk[key] - ref[key]) > tol:
            print(f"{what}: value differs:", key, "hakari", hk[key], "node_exporter", ref[key]); bad += 1
for fam in sorted({k[0] for k in hk}):
    for field in ('HELP', 'TYPE'):
        a, b = hk_meta.get(fam, {}).get(field), ref_meta.get(fam, {}).get(field)
        if a != b:
            print(f"{what}: {field} of {fam} differs: hakari {a!r}, node_exporter {b!r}"); bad += 1
fams = sorted({k[0] for k in hk})
print(f"{what}: {len(hk)} series in {len(fams)} families equal node_exporter's", file=sys.stderr)
if len(hk) == 0:
    print(f"{what}: nothing compared"); bad += 1
sys.exit(1 if bad else 0)
PY
)

# 1. node_exporter's expected output for its fixtures, with its end-to-end flags.
"$HAKARI" --once --path.rootfs="$FIX" "${OTHERS[@]}" --no-collector.timex --no-collector.uname \
    --collector.netclass.device_exclude='(dmz|int)' --collector.netclass.ignore_invalid_speed=true \
    >"$TMP/e2e.hk" 2>"$TMP/e2e.err" || { cat "$TMP/e2e.err" >&2; fail "hakari --once on node-upstream failed"; }
grep -E '^hakari_collector_(up|errors_total)\{collector="(netclass|time|os|cpu)"\}' "$TMP/e2e.hk" |
    grep -vE 'up\{.*\} 1$|errors_total\{.*\} 0$' >&2 && fail "a collector failed or counted errors on node-upstream"
# e2e-output.txt leaves out node_time_seconds and node_time_zone_offset_seconds (its skip_re);
# the cpu collector's node_cpu_* are nodeproc's comparison (cpuinfo-dependent there).
"$PY" -c "$COMPARE" e2e "$TMP/e2e.hk" "$FIX/e2e-output.txt" e2e-output.txt \
    '^node_time_(seconds|zone_offset_seconds)$' || fail "differs from node_exporter's e2e-output.txt"
for f in node_network_up node_network_info node_os_info node_time_clocksource_current_info node_boot_time_seconds; do
    grep -q "^$f" "$TMP/e2e.hk" || fail "$f missing on node-upstream"
done

# 2. The installed node_exporter on the same tree, its default netclass settings.
run_ne() { # out-file args...
    local out=$1 port pid
    shift
    port=$(free_port)
    bg node_exporter prometheus-node-exporter --web.listen-address="127.0.0.1:$port" "$@"
    pid=$BG_PID
    wait_http "http://127.0.0.1:$port/metrics" 30
    curl -fsS -o "$out" "http://127.0.0.1:$port/metrics"
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
}
run_ne "$TMP/fix.ne" --path.rootfs="$FIX" --path.procfs="$FIX/proc" --path.sysfs="$FIX/sys" \
    --collector.disable-defaults --collector.netclass --collector.time --collector.os --collector.stat
"$HAKARI" --once --path.rootfs="$FIX" "${OTHERS[@]}" --no-collector.timex --no-collector.uname \
    >"$TMP/fix.hk" 2>"$TMP/fix.err" || { cat "$TMP/fix.err" >&2; fail "hakari --once on node-upstream failed"; }
grep -q 'device="dmz"' "$TMP/fix.hk" || fail "default device_exclude should keep dmz"
grep -q '^node_network_speed_bytes{device="bond0"} -125000$' "$TMP/fix.hk" ||
    fail "speed -1 must give -125000 by default (node_exporter without --collector.netclass.ignore-invalid-speed)"
"$PY" -c "$COMPARE" live "$TMP/fix.hk" "$TMP/fix.ne" "node_exporter on node-upstream" ||
    fail "differs from node_exporter on node-upstream"

# 3. This host. Other work on the machine may add or remove an interface (or flap a link)
# between the two reads: up to three attempts, each a node_exporter scrape next to a hakari run.
port=$(free_port)
bg node_exporter_host prometheus-node-exporter --web.listen-address="127.0.0.1:$port" \
    --collector.disable-defaults --collector.netclass --collector.time --collector.timex \
    --collector.uname --collector.os --collector.netclass.ignored-devices='^$'
wait_http "http://127.0.0.1:$port/metrics" 30
same=
for attempt in 1 2 3; do
    curl -fsS -o "$TMP/host.ne" "http://127.0.0.1:$port/metrics"
    "$HAKARI" --once "${OTHERS[@]}" --no-collector.cpu >"$TMP/host.hk" 2>"$TMP/host.err" ||
        { cat "$TMP/host.err" >&2; fail "hakari --once on the host failed"; }
    for c in netclass time timex uname os; do
        grep -qx "hakari_collector_up{collector=\"$c\"} 1" "$TMP/host.hk" || fail "collector $c not up on the host"
        grep -qx "hakari_collector_errors_total{collector=\"$c\"} 0" "$TMP/host.hk" || fail "collector $c counted errors on the host"
    done
    if "$PY" -c "$COMPARE" live "$TMP/host.hk" "$TMP/host.ne" "node_exporter on this host (attempt $attempt)"; then
        same=1
        break
    fi
done
[ -n "$same" ] || fail "differs from node_exporter on this host (3 attempts)"
grep -q "^node_uname_info{.*nodename=\"$(uname -n)\"" "$TMP/host.hk" || fail "node_uname_info nodename != uname -n"
for f in node_timex_sync_status node_timex_offset_seconds node_timex_maxerror_seconds; do
    grep -q "^$f " "$TMP/host.hk" || fail "$f missing (kube-prometheus' node-mixin alerts use it)"
done
promtool_check "$TMP/host.hk" || fail "promtool check metrics on the host output"
echo ok
