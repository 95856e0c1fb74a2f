#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Zero loss across an agent crash: hakari is killed with SIGKILL while it is sending (a slow
# Prometheus is not needed: with 1 s cycles, 300 ms batch deadline and 50-sample requests a send
# is nearly always in flight), then restarted on the same queue directory. Everything queued
# before the kill must arrive - exactly once, or resent in order so Prometheus accepts it (same
# timestamp, same value) - with no out-of-order rejections, and the first run must be complete
# up to the last cycle that was published before the kill.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/tools/rw_lib.sh"
start_prom_rw prom
HKPORT=$(free_port)
HK_URL="http://127.0.0.1:$HKPORT"
cat >"$TMP/hakari.yml" <<YML
global:
  collection_interval: 1s
  external_labels: {cluster: crash}
remote_write:
  - url: $PROM_URL/api/v1/write
    name: prom
    queue_config: {disk_path: $TMP/queue, batch_send_deadline: 300ms, max_samples_per_send: 50,
                   max_shards: 4, min_backoff: 50ms, max_backoff: 1s}
YML
run_hakari() {
    bg "hakari$1" "$HAKARI" --config.file="$TMP/hakari.yml" --web.listen-address="127.0.0.1:$HKPORT" \
        --path.rootfs="$(hk_rootfs)"
    HK=$BG_PID
    wait_http "$HK_URL/-/ready" 30
}
run_hakari 1
wait_cycles "$HK_URL" 6
# Kill while requests are in flight: poll the send counter and kill right after it moves.
before=$(hk_value "$HK_URL" 'hakari_remote_storage_samples_sent_total{')
last=$(hk_value "$HK_URL" 'hakari_collection_cycles_total ')
sleep 0.3
kill -KILL "$HK"
wait "$HK" 2>/dev/null || true
log "killed hakari after cycle ${last%.*} (sent so far: $before)"
ls -l "$TMP/queue/prom" >&2
run_hakari 2
grep -q 'resuming from the savepoint' "$TMP/hakari2.log" && log "restart resumed a backlog"
wait_cycles "$HK_URL" 5
stop_pid "$HK"
"$PY" "$TOP/tests/tools/rw_check.py" --cluster crash --prom "$PROM_URL" --restarts \
    --min-first-run "${last%.*}" || fail "data lost or out of order across the crash"
if grep -iE 'out of order|out-of-order|out of bounds|duplicate sample' "$TMP/prom.log"; then
    fail "Prometheus rejected resent samples"
fi
echo PASS
