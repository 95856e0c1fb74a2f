#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Disk budget smaller than the backlog: the receiver (VictoriaMetrics) is down from the start, the
# queue is capped at 64 KiB, hakari collects every second. The oldest segments must be dropped
# and counted (reason disk_full), the queue must stay within the budget, the agent must keep
# serving; when the receiver comes up, what was kept arrives, in order, and
# sent + dropped = taken in, with the receiver holding exactly the samples sent.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/tools/rw_lib.sh"
VMPORT=$(free_port)
HKPORT=$(free_port)
HK_URL="http://127.0.0.1:$HKPORT"
cat >"$TMP/hakari.yml" <<YML
global:
  collection_interval: 1s
  external_labels: {cluster: budget}
remote_write:
  - url: http://127.0.0.1:$VMPORT/api/v1/write
    name: vm
    remote_timeout: 2s
    queue_config: {disk_path: $TMP/queue, max_disk_bytes: 64KiB, batch_send_deadline: 500ms,
                   max_samples_per_send: 100, min_backoff: 100ms, max_backoff: 1s}
YML
bg hakari "$HAKARI" --config.file="$TMP/hakari.yml" --web.listen-address="127.0.0.1:$HKPORT" \
    --path.rootfs="$(hk_rootfs)"
HK=$BG_PID
wait_http "$HK_URL/-/ready" 30
some_dropped() {
    # exposition labels are sorted by name
    local d
    d=$(hk_value "$HK_URL" 'hakari_remote_storage_samples_dropped_total{reason="disk_full",remote_name="vm"')
    [ -n "$d" ] && num_ge "$d" 1
}
until_true 90 some_dropped || fail "the disk budget never dropped anything"
disk=$(hk_value "$HK_URL" 'hakari_remote_storage_disk_queue_bytes{')
log "queue bytes while over budget: $disk"
num_lt "$disk" $((65536 + 1)) || fail "queue exceeds the budget: $disk"
du -b "$TMP/queue/vm" >&2
curl -fsS "$HK_URL/-/healthy" >/dev/null || fail "agent not healthy"
kill -0 "$HK" || fail "agent died"
grep -q 'disk budget full' "$TMP/hakari.log" || fail "no log line about the budget"
# Receiver comes up: what is left is delivered.
mkdir -p "$TMP/vm"
bg vm victoria-metrics -httpListenAddr "127.0.0.1:$VMPORT" -storageDataPath "$TMP/vm" \
    -search.latencyOffset=0s -search.disableCache -loggerLevel=WARN
VM_URL="http://127.0.0.1:$VMPORT"
wait_http "$VM_URL/health" 60
caught_up() {
    local p
    p=$(hk_value "$HK_URL" 'hakari_remote_storage_samples_pending{')
    [ -n "$p" ] && num_lt "$p" 500
}
until_true 60 caught_up || fail "backlog not delivered"
stop_pid "$HK"
total=$(hk_stopped_field "$TMP/hakari.log" vm samples_total)
sent=$(hk_stopped_field "$TMP/hakari.log" vm samples_sent)
drop=$(hk_stopped_field "$TMP/hakari.log" vm samples_dropped)
pend=$(hk_stopped_field "$TMP/hakari.log" vm samples_pending)
log "total=$total sent=$sent dropped=$drop pending=$pend"
[ "$pend" = 0 ] || fail "samples still pending at stop: $pend"
[ $((sent + drop)) -eq "$total" ] || fail "sent + dropped != total"
[ "$drop" -gt 0 ] || fail "nothing dropped"
curl -fsS "$VM_URL/internal/force_flush" >/dev/null
sleep 1
"$PY" "$TOP/tests/tools/rw_check.py" --cluster budget --vm "$VM_URL" --suffix \
    --expect-samples "$sent" || fail "receiver does not hold exactly what was sent"
echo PASS
