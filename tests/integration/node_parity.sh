#!/usr/bin/env bash
# Semantics, not just names: on each node fixture, every node_* series hakari emits must be in
# node_exporter's output for the same files (node_exporter pointed at the fixture's proc/sys),
# with the same labels and the same value (textfile on both with no directory: only
# node_textfile_scrape_error 0); node_* families only node_exporter has must be in
# the known list of what hakari deliberately leaves out (docs/node-collectors.md).
source "$(dirname "$0")/../lib.sh"
command -v prometheus-node-exporter >/dev/null || fail "prometheus-node-exporter missing (mk/packages-test.txt)"
only_ne_allowed='^(node_disk_info|node_exporter_build_info|node_scrape_collector_duration_seconds|node_scrape_collector_success)$'
n=0
for fixture in "$TOP"/tests/fixtures/node-*; do
    name=$(basename "$fixture")
    "$HAKARI" --once --path.rootfs="$fixture" --no-collector.filesystem --no-collector.machine \
        >"$TMP/$name.hk" 2>"$TMP/$name.err" || { cat "$TMP/$name.err" >&2; fail "$name: hakari failed"; }
    port=$(free_port)
    # Debian's build excludes lo by default: exclude nothing, like upstream.
    bg "ne-$name" prometheus-node-exporter --web.listen-address="127.0.0.1:$port" \
        --path.procfs="$fixture/proc" --path.sysfs="$fixture/sys" --path.rootfs="$fixture" \
        --collector.disable-defaults --collector.cpu --collector.stat --collector.meminfo \
        --collector.loadavg --collector.pressure --collector.netdev --collector.diskstats \
        --no-collector.netdev.netlink --collector.netdev.device-exclude='^$' \
        --collector.textfile --collector.textfile.directory=''
    pid=$BG_PID
    wait_http "http://127.0.0.1:$port/metrics" 30
    curl -fsS -o "$TMP/$name.ne" "http://127.0.0.1:$port/metrics"
    kill -TERM "$pid"
    python3 - "$TMP/$name.hk" "$TMP/$name.ne" "$only_ne_allowed" "$name" <<'PY' || fail "$name: differs from node_exporter"
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
    return {k: v for k, v in series.items() if k[0].startswith('node_')}
hk, ne = load(sys.argv[1]), load(sys.argv[2])
bad = 0
for key, v in sorted(hk.items()):
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
print(f"{sys.argv[4]}: {len(hk)} node_* series, all equal to node_exporter's", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
    n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "no tests/fixtures/node-* fixture"
echo ok
