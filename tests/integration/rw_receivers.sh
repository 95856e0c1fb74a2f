#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Remote-write delivery to real receivers: one hakari (1 s interval) writes to Prometheus (1.0),
# a second Prometheus configured for remote-write 2.0, and VictoriaMetrics. After a graceful
# stop, every receiver must hold exactly the samples of every cycle (cycle counter 0..N-1, no
# holes in any series), the same values bit for bit, and the external label on every series.
# Prometheus 2.42 (Debian 12) predates remote-write 2.0: it answers 204 without the
# X-Prometheus-Remote-Write-Samples-Written header, so hakari must fall back to 1.0 and resend;
# a SIGHUP reload in the middle (endpoints replaced) must not lose a cycle either;
# with a newer Prometheus that accepts 2.0 the data must arrive all the same.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/tools/rw_lib.sh"
command -v prometheus >/dev/null || fail "prometheus not installed (mk/packages-test.txt)"
command -v victoria-metrics >/dev/null || fail "victoria-metrics not installed (mk/packages-test.txt)"

start_prom_rw prom1
P1=$PROM_URL
start_prom_rw prom2
P2=$PROM_URL
start_vm vm
HKPORT=$(free_port)
cat >"$TMP/hakari.yml" <<YML
global:
  collection_interval: 1s
  external_labels:
    cluster: rwtest
    region: loopback
remote_write:
  - url: $P1/api/v1/write
    name: prom1
    queue_config: {disk_path: $TMP/queue, batch_send_deadline: 500ms, max_samples_per_send: 100}
  - url: $P2/api/v1/write
    name: prom2-v2
    protobuf_message: io.prometheus.write.v2.Request
    queue_config: {disk_path: $TMP/queue, batch_send_deadline: 500ms}
  - url: $VM_URL/api/v1/write
    name: vm
    queue_config: {disk_path: $TMP/queue, batch_send_deadline: 500ms, max_shards: 4}
YML
"$HAKARI" --config.file="$TMP/hakari.yml" --config.check
bg hakari "$HAKARI" --config.file="$TMP/hakari.yml" --web.listen-address="127.0.0.1:$HKPORT" \
    --path.rootfs="$(hk_rootfs)"
HK=$BG_PID
wait_http "http://127.0.0.1:$HKPORT/-/ready" 30
wait_cycles "http://127.0.0.1:$HKPORT" 6 60
# A reload replaces the endpoints (queues closed and reopened): no cycle may go missing.
kill -HUP "$HK"
until_true 30 grep -q 'configuration reloaded' "$TMP/hakari.log" || fail "reload did not happen"
c=$(hk_value "http://127.0.0.1:$HKPORT" 'hakari_collection_cycles_total ')
wait_cycles "http://127.0.0.1:$HKPORT" $((${c%.*} + 4)) 60
fb=$(hk_value "http://127.0.0.1:$HKPORT" 'hakari_remote_storage_protocol_fallbacks_total{remote_name="prom2-v2"')
sent=$(hk_value "http://127.0.0.1:$HKPORT" 'hakari_remote_storage_samples_sent_total{remote_name="prom1"')
log "fallbacks(prom2-v2)=$fb sent(prom1)=$sent"
stop_pid "$HK"
grep -q 'remote-write endpoint started' "$TMP/hakari.log" || fail "no endpoint started"
if grep -q 'falling back to 1.0' "$TMP/hakari.log"; then
    log "Prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}') does not accept remote-write 2.0: hakari fell back to 1.0 (expected for 2.42)"
    [ "${fb%.*}" = 1 ] || fail "fallback happened but the counter says '$fb'"
else
    log "Prometheus accepted remote-write 2.0"
fi
curl -fsS "$VM_URL/internal/force_flush" >/dev/null
sleep 1
"$PY" "$TOP/tests/tools/rw_check.py" --cluster rwtest --prom "$P1" --prom "$P2" --vm "$VM_URL" \
    --min-cycles 10 || fail "receivers do not hold the complete data (log: $TMP/hakari.log)"
# Region (second external label) on everything too.
n=$(prom_query "$P1" 'count({__name__=~".+",region!="loopback"})' | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["data"]["result"]))')
[ "$n" = 0 ] || fail "series without region=loopback in prom1"
! grep -q 'out of order\|out-of-order' "$TMP/prom1.log" "$TMP/prom2.log" || fail "out-of-order samples reported"
echo "PASS"
