#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The 2.0 → 1.0 fallback with a backlog on disk: hakari is configured for remote-write 2.0 and
# starts with its receiver down, so several snapshots pile up in the queue as ready 2.0 requests;
# the queue directory also holds a segment of the previous on-disk format (HKQ1 records, written
# here byte by byte as hakari before queue format 2 wrote them). Then a receiver that answers 415
# to every 2.0 request (tests/tools/rw_fault_receiver.py, 415v2) comes up: hakari falls back to
# 1.0 and must resend the whole backlog, decoded and re-encoded, exactly once and in order: the
# old-format record first, no (series, timestamp) twice, every series' timestamps increasing in
# the order the receiver accepted them, every accepted sample counted as sent, none failed or
# dropped, and as many samples accepted as hakari took in (plus the old record's).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/tools/rw_lib.sh"

PORT=$(free_port)
HKPORT=$(free_port)
HK_URL="http://127.0.0.1:$HKPORT"
QDIR="$TMP/queue/fb"
mkdir -p "$QDIR"

# An HKQ1 segment with one HKR1 record of 3 samples (two series, one of them twice, in order).
"$PY" - "$QDIR/0000000000000000.seg" <<'PY'
import struct, sys

def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF

def s(x):
    b = x.encode()
    return struct.pack("<I", len(b)) + b + b"\0"

def snappy_literal(raw):  # a valid snappy block made of literals only
    out, n = bytearray(), len(raw)
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            break
    for i in range(0, len(raw), 256):
        part = raw[i:i + 256]
        out += bytes([60 << 2, len(part) - 1]) + part
    return bytes(out)

fam = b"\x02" + s("legacy_backlog_value") + s("From an old queue.") + s("")
samples = [("a", 1000.0, 1700000000000), ("b", 2.0, 1700000000000), ("a", 1001.0, 1700000001000)]
raw = b"HKR1" + struct.pack("<I", 1) + fam + struct.pack("<I", len(samples))
for inst, val, ts in samples:
    labels = [("__name__", "legacy_backlog_value"), ("cluster", "fallback"), ("inst", inst)]
    raw += struct.pack("<IQdqI", 0, 7, val, ts, len(labels))
    for k, v in labels:
        raw += s(k) + s(v)
payload = snappy_literal(raw)
hdr = struct.pack("<IIIq", 0x31514B48, len(payload), len(samples), 1700000000000)
crc = crc32c(hdr[4:20] + payload)
with open(sys.argv[1], "wb") as f:
    f.write(hdr + struct.pack("<I", crc) + payload)
PY

cat >"$TMP/hakari.yml" <<YML
global:
  collection_interval: 1s
  external_labels: {cluster: fallback}
remote_write:
  - url: http://127.0.0.1:$PORT/api/v1/write
    name: fb
    remote_timeout: 2s
    protobuf_message: io.prometheus.write.v2.Request
    metadata_config: {send: false}
    queue_config: {disk_path: $TMP/queue, batch_send_deadline: 200ms, min_backoff: 100ms,
                   max_backoff: 500ms, max_samples_per_send: 150, max_shards: 4}
YML
bg hakari "$HAKARI" --config.file="$TMP/hakari.yml" --web.listen-address="127.0.0.1:$HKPORT" \
    --path.rootfs="$(hk_rootfs)"
HK=$BG_PID
wait_http "$HK_URL/-/ready" 30
wait_cycles "$HK_URL" 5
pending=$(hk_value "$HK_URL" 'hakari_remote_storage_samples_pending{')
log "backlog before the receiver starts: $pending samples"
num_ge "$pending" 300 || fail "no backlog on disk (pending=$pending)"

bg recv "$PY" "$TOP/tests/tools/rw_fault_receiver.py" --port "$PORT" --log "$TMP/recv.jsonl" \
    --default 415v2
RPID=$BG_PID
caught_up() {
    local p
    p=$(hk_value "$HK_URL" 'hakari_remote_storage_samples_pending{')
    [ -n "$p" ] && num_lt "$p" 1000 && num_ge "$(hk_value "$HK_URL" \
        'hakari_remote_storage_protocol_fallbacks_total{')" 1
}
until_true 60 caught_up || fail "backlog not delivered within 60 s after the fallback"
wait_cycles "$HK_URL" $(($(hk_value "$HK_URL" 'hakari_collection_cycles_total ' | cut -d. -f1) + 2))
stop_pid "$HK"
stop_pid "$RPID"
total=$(hk_stopped_field "$TMP/hakari.log" fb samples_total)
sent=$(hk_stopped_field "$TMP/hakari.log" fb samples_sent)
failed=$(hk_stopped_field "$TMP/hakari.log" fb samples_failed)
dropped=$(hk_stopped_field "$TMP/hakari.log" fb samples_dropped)
pend=$(hk_stopped_field "$TMP/hakari.log" fb samples_pending)
log "total=$total sent=$sent failed=$failed dropped=$dropped pending=$pend"
[ -n "$total" ] || { cat "$TMP/hakari.log" >&2; fail "no stop line"; }
[ "$failed" = 0 ] && [ "$dropped" = 0 ] && [ "$pend" = 0 ] ||
    fail "samples failed, dropped or left pending"
grep 'falling back to 1.0' "$TMP/hakari.log" >/dev/null || fail "no fallback logged"

"$PY" - "$TMP/recv.jsonl" "$total" "$sent" <<'PY' || fail "backlog not resent once and in order"
import json, sys
log, total, sent = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
reqs = [json.loads(l) for l in open(log)]
refused = [r for r in reqs if r["v2"]]
accepted = [r for r in reqs if not r["v2"] and r["status"] == 204]
assert refused and all(r["status"] == 415 for r in refused), "2.0 requests not all refused"
assert all(not r["decode_error"] for r in reqs), "undecodable request"
first = accepted[0]["samples"]
assert [s[0][0][1] for s in first[:3]] == ["legacy_backlog_value"] * 3, \
    "the old-format record was not sent first: %r" % first[:3]
seen, last, n, legacy, stamps = set(), {}, 0, 0, set()
for r in accepted:
    for labels, ts, val in r["samples"]:
        key = tuple(map(tuple, labels))
        assert (key, ts) not in seen, "sample sent twice: %r %d" % (key, ts)
        seen.add((key, ts))
        assert ts > last.get(key, -1), "out of order: %r %d after %d" % (key, ts, last[key])
        last[key] = ts
        n += 1
        stamps.add(ts)
        legacy += dict(labels)["__name__"] == "legacy_backlog_value"
assert legacy == 3, "old-format samples: %d, want 3" % legacy
assert n == sent, "receiver accepted %d samples, hakari counted %d sent" % (n, sent)
assert n == total + 3, "accepted %d, taken in %d + 3 old" % (n, total)
assert len(stamps) >= 8, "only %d distinct timestamps" % len(stamps)
print("fallback backlog: %d 2.0 requests refused, %d 1.0 requests, %d samples once, in order"
      % (len(refused), len(accepted), n))
PY
echo PASS
