#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Zero loss across a receiver outage: Prometheus (remote-write receiver) is stopped for 25 s
# while hakari keeps collecting every second, then started again on the same port and data
# directory. Every cycle from before, during and after the outage must arrive, in order (no
# holes in any series), with no out-of-order rejection in Prometheus' log, and the samples must
# have been retried (not dropped).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/tools/rw_lib.sh"
OUTAGE=${RW_OUTAGE_S:-25}
start_prom_rw prom
PORT=${PROM_URL##*:}
HKPORT=$(free_port)
HK_URL="http://127.0.0.1:$HKPORT"
cat >"$TMP/hakari.yml" <<YML
global:
  collection_interval: 1s
  external_labels: {cluster: outage}
remote_write:
  - url: $PROM_URL/api/v1/write
    name: prom
    remote_timeout: 5s
    queue_config: {disk_path: $TMP/queue, batch_send_deadline: 500ms, min_backoff: 100ms,
                   max_backoff: 2s, max_samples_per_send: 200, max_shards: 4}
YML
bg hakari "$HAKARI" --config.file="$TMP/hakari.yml" --web.listen-address="127.0.0.1:$HKPORT" \
    --path.rootfs="$(hk_rootfs)"
HK=$BG_PID
wait_http "$HK_URL/-/ready" 30
wait_cycles "$HK_URL" 5
log "stopping Prometheus for ${OUTAGE}s"
stop_pid "$PROM_PID"
mv "$TMP/prom.log" "$TMP/prom-before.log"
sleep "$OUTAGE"
pending=$(hk_value "$HK_URL" 'hakari_remote_storage_samples_pending{')
disk=$(hk_value "$HK_URL" 'hakari_remote_storage_disk_queue_bytes{')
log "during the outage: pending=$pending disk_queue_bytes=$disk"
num_ge "$pending" 1 || fail "nothing pending during the outage"
start_prom_rw prom "$PORT"
# Catch up: pending back to (almost) nothing.
caught_up() {
    local p
    p=$(hk_value "$HK_URL" 'hakari_remote_storage_samples_pending{')
    [ -n "$p" ] && num_lt "$p" 2000
}
until_true 60 caught_up || fail "backlog not delivered within 60 s"
wait_cycles "$HK_URL" $(($(hk_value "$HK_URL" 'hakari_collection_cycles_total ' | cut -d. -f1) + 3))
retried=$(hk_value "$HK_URL" 'hakari_remote_storage_samples_retried_total{')
failed=$(hk_value "$HK_URL" 'hakari_remote_storage_samples_failed_total{')
stop_pid "$HK"
log "retried=$retried failed=$failed"
num_ge "$retried" 1 || fail "no retries counted"
[ "${failed%.*}" = 0 ] || fail "samples failed: $failed"
grep 'remote-write endpoint stopped' "$TMP/hakari.log" >&2 || true
sent=$(hk_stopped_field "$TMP/hakari.log" prom samples_sent)
total=$(hk_stopped_field "$TMP/hakari.log" prom samples_total)
[ -n "$sent" ] && [ "$sent" = "$total" ] || fail "not everything was sent: total=$total sent=$sent"
"$PY" "$TOP/tests/tools/rw_check.py" --cluster outage --prom "$PROM_URL" \
    --min-cycles $((OUTAGE + 8)) --expect-samples "$sent" || fail "data missing after the outage"
if grep -iE 'out of order|out-of-order|out of bounds' "$TMP/prom-before.log" "$TMP/prom.log"; then
    fail "Prometheus reported out-of-order samples"
fi
echo PASS
