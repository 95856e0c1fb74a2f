#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Relabel cache and reload: hakari remote-writes a textfile of 80 series every second through
# write_relabel_configs (rules R1: tag="one", drop idx *7, __name__ relab_* → r1_*) into a real
# Prometheus 2.42 receiver; after a few cycles (the cache answering: its hit counter grows) a
# SIGHUP swaps in other rules (R2: tag="two", drop idx *3, → r2_*, labeldrop grp). In the
# receiver, every cycle (samples grouped by their timestamp) must hold exactly the label sets
# its rules give, computed here from the file — R1 cycles first, then only R2 cycles, never a
# cycle with a series under the old rules (a stale cached result) — with at least two cycles
# of each, so cached results were used under both rule sets.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/tools/rw_lib.sh"
command -v prometheus >/dev/null || fail "prometheus not installed (mk/packages-test.txt)"

mkdir -p "$TMP/tf"
{
    echo '# TYPE relab_a gauge'
    for i in $(seq 0 39); do echo "relab_a{idx=\"$i\",grp=\"g$((i % 3))\"} $i"; done
    echo '# TYPE relab_b_total counter'
    for i in $(seq 0 39); do echo "relab_b_total{idx=\"$i\",grp=\"g$((i % 2))\"} $i"; done
} >"$TMP/tf/relab.prom"

start_prom_rw prom
export NODE_NAME=relab-node
HKPORT=$(free_port)
HK_URL="http://127.0.0.1:$HKPORT"
config() { # TAG DROP_REGEX PREFIX [EXTRA_RULE]
    cat <<YML
global:
  collection_interval: 1s
remote_write:
  - url: $PROM_URL/api/v1/write
    name: prom
    metadata_config: {send: false}
    queue_config: {disk_path: $TMP/queue, batch_send_deadline: 200ms}
    write_relabel_configs:
      - {target_label: tag, replacement: $1}
      - {source_labels: [idx], regex: '$2', action: drop}
      - {source_labels: [__name__], regex: 'relab_(.*)', target_label: __name__, replacement: '$3_\${1}'}
${4:-}
YML
}
config one '.*7' r1 >"$TMP/hakari.yml"
"$HAKARI" --config.file="$TMP/hakari.yml" --config.check >/dev/null || fail "config check"
bg hakari "$HAKARI" --config.file="$TMP/hakari.yml" --web.listen-address="127.0.0.1:$HKPORT" \
    --collector.textfile.directory="$TMP/tf" --no-collector.ebpf
HK=$BG_PID
wait_http "$HK_URL/-/ready" 30
hits() { hk_value "$HK_URL" 'hakari_remote_storage_relabel_cache_hits_total{'; }
# Three cycles under R1; from the second on, every series (the file's 80 among them) is
# answered from the cache.
wait_cycles "$HK_URL" 3 30
h=$(hits)
[ -n "$h" ] && num_ge "$h" 80 || fail "the relabel cache is not used: hits=$h"

config two '.*3' r2 "      - {action: labeldrop, regex: grp}" >"$TMP/hakari.yml"
kill -HUP "$HK"
until_true 20 grep -q 'configuration reloaded' "$TMP/hakari.log" || fail "reload did not happen"
# The reload builds a new endpoint (new rules, new cache): three more cycles, the last two
# answered from its cache (the check below wants at least two R2 cycles in the receiver).
c=$(hk_value "$HK_URL" 'hakari_collection_cycles_total ')
wait_cycles "$HK_URL" $((${c%.*} + 3)) 30
stop_pid "$HK"
p=$(hk_stopped_field "$TMP/hakari.log" prom samples_pending)
[ "$p" = 0 ] || fail "samples still pending at stop: $p"

"$PY" - "$PROM_URL" "$TMP/tf/relab.prom" <<'PY' || fail "labels in Prometheus (logs: $TMP)"
import collections, json, re, sys, urllib.parse, urllib.request

url, path = sys.argv[1], sys.argv[2]
inputs = []
for line in open(path):
    m = re.match(r'^(relab_\w+)\{idx="(\d+)",grp="(\w+)"\}', line)
    if m:
        inputs.append((m.group(1), m.group(2), m.group(3)))

def expected(phase):
    out = set()
    for name, idx, grp in inputs:
        if phase == 1 and idx.endswith("7") or phase == 2 and idx.endswith("3"):
            continue
        labels = {"__name__": "r%d_%s" % (phase, name[len("relab_"):]), "idx": idx,
                  "tag": "one" if phase == 1 else "two", "job": "hakari", "instance": "relab-node"}
        if phase == 1:
            labels["grp"] = grp
        out.add(tuple(sorted(labels.items())))
    return out

q = urllib.parse.urlencode({"query": '{__name__=~"r[12]_.+"}[1h]'})
with urllib.request.urlopen(url + "/api/v1/query?" + q) as r:
    result = json.load(r)["data"]["result"]
cycles = collections.defaultdict(set)
for s in result:
    key = tuple(sorted(s["metric"].items()))
    for ts, _ in s["values"]:
        cycles[round(float(ts) * 1000)].add(key)
assert cycles, "no relabelled series in Prometheus"
want = {1: expected(1), 2: expected(2)}
phases = []
for ts in sorted(cycles):
    got = cycles[ts]
    phase = next((p for p in (1, 2) if got == want[p]), None)
    if phase is None:
        stale = sorted(k for k in got if k not in want[1] and k not in want[2])
        mixed = any(k in want[1] for k in got) and any(k in want[2] for k in got)
        raise SystemExit("cycle at %d: %d series, not exactly R1's (%d) or R2's (%d)%s%s" % (
            ts, len(got), len(want[1]), len(want[2]), "; R1 and R2 mixed" if mixed else "",
            "; unexpected: %s" % stale[:3] if stale else ""))
    phases.append(phase)
n1, n2 = phases.count(1), phases.count(2)
assert phases == [1] * n1 + [2] * n2, "rules went back to R1 after the reload: %s" % phases
assert n1 >= 2 and n2 >= 2, "too few cycles under each rule set: %s" % phases
print("cycles R1=%d R2=%d, %d/%d series each" % (n1, n2, len(want[1]), len(want[2])))
PY
