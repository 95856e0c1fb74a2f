#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Malformed kernel files through the real agent: the family is skipped, the collector stays up,
# each bad cycle counts in hakari_collector_errors_total, and the log says it once when the file
# turns bad and once when it is good again — not every cycle.
source "$(dirname "$0")/../lib.sh"
R="$TMP/root"
cp -r "$TOP/tests/fixtures/node-basic" "$R"
cp "$R/proc/stat" "$TMP/stat.good"
printf 'cpu  1 2 3 4\ncpu0 3380 0 garbage 62308\n' >"$R/proc/stat"
printf 'some avg10=0.00 avg6' >"$R/proc/pressure/io" # truncated mid-line

"$HAKARI" --once --path.rootfs="$R" --no-collector.filesystem >"$TMP/once.prom" 2>"$TMP/once.err" ||
    { cat "$TMP/once.err" >&2; fail "hakari --once failed"; }
has() { grep -qx "$1" "$TMP/once.prom" || fail "missing: $1"; }
has 'hakari_collector_up{collector="cpu"} 1'
has 'hakari_collector_errors_total{collector="cpu"} 1'
has 'hakari_collector_up{collector="pressure"} 1'
has 'hakari_collector_errors_total{collector="pressure"} 1'
has 'hakari_collector_errors_total{collector="meminfo"} 0'
grep -q '^node_cpu_seconds_total' "$TMP/once.prom" && fail "series from a malformed /proc/stat"
grep -q '^node_pressure_io_' "$TMP/once.prom" && fail "series from a malformed pressure/io"
grep -q '^node_pressure_cpu_waiting_seconds_total ' "$TMP/once.prom" || fail "pressure/cpu lost with pressure/io"
grep -q '^node_memory_MemTotal_bytes ' "$TMP/once.prom" || fail "other collectors lost"
[ "$(grep -c 'msg="malformed file skipped" collector=cpu file=stat' "$TMP/once.err")" -eq 1 ] ||
    { cat "$TMP/once.err" >&2; fail "expected one log line for stat"; }

# A running agent: 1 s cycles.
port=$(free_port)
bg agent "$HAKARI" --path.rootfs="$R" --no-collector.filesystem --collection.interval=1s \
    --web.listen-address="127.0.0.1:$port"
wait_http "http://127.0.0.1:$port/-/ready" 20
errors() { curl -fsS "http://127.0.0.1:$port/metrics" | awk '$1 == "hakari_collector_errors_total{collector=\"cpu\"}" { print $2 }'; }
three_errors() { [ "$(errors)" -ge 3 ]; }
until_true 60 three_errors || fail "errors_total{cpu} did not reach 3: $(errors)"
cp "$TMP/stat.good" "$R/proc/stat"
cpu_back() { curl -fsS -o "$TMP/m.prom" "http://127.0.0.1:$port/metrics" && grep -q '^node_cpu_seconds_total{' "$TMP/m.prom"; }
until_true 60 cpu_back || fail "node_cpu_seconds_total did not come back after the file was fixed"
n_bad=$(grep -c 'msg="malformed file skipped" collector=cpu' "$TMP/agent.log" || true)
n_good=$(grep -c 'msg="file readable again" collector=cpu' "$TMP/agent.log" || true)
[ "$n_bad" -eq 1 ] && [ "$n_good" -eq 1 ] ||
    { cat "$TMP/agent.log" >&2; fail "log lines: $n_bad bad (want 1), $n_good recovered (want 1)"; }
e1=$(errors); sleep 2.5; e2=$(errors)
[ "$e1" = "$e2" ] || fail "errors still counting after the fix: $e1 → $e2"
echo ok
