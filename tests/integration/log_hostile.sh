#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Log lines stay parseable whatever bytes reach them: a remote-write receiver answers 400 with a
# body of invalid UTF-8, quotes, a backslash, a newline and a control byte, and a broken textfile
# has such a name. With --log.format=json every line must load with Python's json.loads and be
# valid UTF-8 (invalid bytes become U+FFFD); with logfmt every line must be one line starting
# with ts= and be valid UTF-8.
. "$(dirname "$0")/../lib.sh"

BODY_HEX="ff fe 22 5c 0a 01 e2 82 41 c3"
TF=$TMP/textfile
mkdir -p "$TF"
HOSTILE=$(printf 'bad\377"q\\z.prom')
printf 'not a metric line {\n' >"$TF/$HOSTILE"

run() {
    local fmt=$1 port hkport
    port=$(free_port)
    hkport=$(free_port)
    bg "recv-$fmt" "$PY" "$TOP/tests/tools/rw_fault_receiver.py" --port "$port" \
        --log "$TMP/recv-$fmt.jsonl" --default 400 --error-body-hex "$BODY_HEX"
    local rpid=$BG_PID
    until_true 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null || fail "receiver did not start"
    cat >"$TMP/$fmt.yml" <<YML
global:
  collection_interval: 200ms
collectors:
  textfile: {directory: $TF}
remote_write:
  - url: http://127.0.0.1:$port/api/v1/write
    name: hostile
    remote_timeout: 1s
    metadata_config: {send: false}
    queue_config: {disk_path: $TMP/queue-$fmt, batch_send_deadline: 200ms, max_shards: 1}
YML
    bg "hakari-$fmt" "$HAKARI" --config.file="$TMP/$fmt.yml" --log.format="$fmt" \
        --web.listen-address="127.0.0.1:$hkport" --path.rootfs=/
    local hk=$BG_PID
    wait_http "http://127.0.0.1:$hkport/-/ready" 30
    until_true 30 grep -q 'remote-write request failed' "$TMP/hakari-$fmt.log" ||
        { cat "$TMP/hakari-$fmt.log" >&2; fail "$fmt: the 400 was not logged"; }
    until_true 30 grep -q 'textfile skipped' "$TMP/hakari-$fmt.log" ||
        fail "$fmt: the broken textfile was not logged"
    kill -TERM "$hk"
    for _ in $(seq 100); do kill -0 "$hk" 2>/dev/null || break; sleep 0.1; done
    kill -TERM "$rpid"
}

log "json"
run json
"$PY" - "$TMP/hakari-json.log" <<'PY' || fail "json log lines"
import json, sys
raw = open(sys.argv[1], "rb").read()
text = raw.decode("utf-8")  # strict: any invalid byte fails
lines = [json.loads(l) for l in text.split("\n") if l]
body = [l["body"] for l in lines if l.get("msg") == "remote-write request failed"]
files = [l["file"] for l in lines if l.get("msg") == "textfile skipped"]
assert body and files, (body, files)
# The body as sent (newlines turned to spaces by the sender), invalid bytes as U+FFFD.
assert body[0].startswith('\ufffd\ufffd"\\ \x01\ufffd\ufffdA'), ascii(body[0])
assert files[0].endswith('/bad\ufffd"q\\z.prom'), ascii(files[0])
print("json: %d lines parse" % len(lines))
PY

log "logfmt"
run logfmt
"$PY" - "$TMP/hakari-logfmt.log" <<'PY' || fail "logfmt log lines"
import sys
text = open(sys.argv[1], "rb").read().decode("utf-8")
lines = [l for l in text.split("\n") if l]
assert all(l.startswith("ts=") and " level=" in l for l in lines), [l for l in lines if not l.startswith("ts=")]
body = [l for l in lines if 'msg="remote-write request failed"' in l]
files = [l for l in lines if 'msg="textfile skipped"' in l]
assert body and files
assert 'body="\ufffd\ufffd\\"\\\\ \\x01\ufffd\ufffdA' in body[0], ascii(body[0])
assert '/bad\ufffd\\"q\\\\z.prom"' in files[0], ascii(files[0])
print("logfmt: %d lines" % len(lines))
PY
echo PASS
