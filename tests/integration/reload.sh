#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# SIGHUP reload: a broken config keeps the old one (and the log says why, with file:line:col);
# a valid one is applied (new interval, collector switched off).
source "$(dirname "$0")/../lib.sh"

port=$(free_port)
url="http://127.0.0.1:$port/metrics"
cfg=$TMP/hakari.yml
cat >"$cfg" <<'YML'
global:
  collection_interval: 2s
YML
bg hakari "$HAKARI" --config.file="$cfg" --web.listen-address="127.0.0.1:$port"
pid=$BG_PID
wait_http "http://127.0.0.1:$port/-/ready" 30

metric_is() { curl -fsS "$url" >"$TMP/scrape" && grep -qx "$1" "$TMP/scrape"; }
has_metric() { curl -fsS "$url" >"$TMP/scrape" && grep -q "^$1" "$TMP/scrape"; }
log_has() { grep -q "$1" "$TMP/hakari.log"; }

until_true 10 metric_is 'hakari_collection_interval_seconds 2' || fail "initial interval not 2s"
has_metric 'node_load1 ' || fail "node_load1 missing before reload"

log "broken config: old one stays"
cat >"$cfg" <<'YML'
global:
  collection_interval: 1s
  scrape_interval: 5s
YML
kill -HUP "$pid"
until_true 10 log_has 'reload failed, keeping the previous configuration' ||
    fail "no log line about the failed reload: $(cat "$TMP/hakari.log")"
grep 'reload failed' "$TMP/hakari.log" | grep -q "hakari.yml:3:3: unknown key" ||
    fail "reload error lacks file:line:col: $(grep 'reload failed' "$TMP/hakari.log")"
kill -0 "$pid" || fail "hakari died on a bad reload"
sleep 3 # more than one old interval: a wrongly applied 1s would show by now
metric_is 'hakari_collection_interval_seconds 2' || fail "interval changed although the reload failed"

log "valid config: applied"
cat >"$cfg" <<'YML'
global:
  collection_interval: 1s
collectors:
  loadavg:
    enabled: false
YML
kill -HUP "$pid"
until_true 10 log_has 'configuration reloaded' || fail "no 'configuration reloaded' log line"
until_true 10 metric_is 'hakari_collection_interval_seconds 1' || fail "new interval not applied"
until_true 10 eval '! has_metric "node_load1 "' || fail "loadavg still collected after it was disabled"
# Cycles now come every second.
c1=$(curl -fsS "$url" | sed -n 's/^hakari_collection_cycles_total //p')
sleep 3
c2=$(curl -fsS "$url" | sed -n 's/^hakari_collection_cycles_total //p')
[ $((c2 - c1)) -ge 2 ] || fail "cycles advanced by $((c2 - c1)) in 3 s at a 1 s interval"

log "config file removed: old one stays"
rm -f "$cfg"
kill -HUP "$pid"
until_true 10 eval '[ "$(grep -c "reload failed" "$TMP/hakari.log")" -ge 2 ]' || fail "missing file not reported"
kill -0 "$pid" || fail "hakari died"
metric_is 'hakari_collection_interval_seconds 1' || fail "interval changed after a failed reload"

log "a FIFO at the config path: SIGHUP must not block the main thread, SIGTERM still stops it"
mkfifo "$cfg"
kill -HUP "$pid"
until_true 10 eval '[ "$(grep -c "not a regular file" "$TMP/hakari.log")" -ge 1 ]' ||
    fail "a FIFO config was not refused (log: $(tail -3 "$TMP/hakari.log"))"
if grep -q "conflicts with the structure" "$TMP/hakari.log"; then fail "the FIFO was blamed on a flag"; fi
metric_is 'hakari_collection_interval_seconds 1' || fail "interval changed after a refused reload"
kill -TERM "$pid"
until_true 10 eval '! kill -0 "$pid" 2>/dev/null' || fail "SIGTERM ignored after a FIFO reload"
rm -f "$cfg"
echo "PASS reload"
