#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The /metrics server over real HTTP: gzip and OpenMetrics negotiation, HEAD, the other
# endpoints, 404 and 405. hakari runs on a free loopback port with a 1h interval so every request
# sees the same snapshot (its first cycle runs at start).
source "$(dirname "$0")/../lib.sh"

port=$(free_port)
url="http://127.0.0.1:$port"
bg hakari "$HAKARI" --web.listen-address="127.0.0.1:$port" --collection.interval=1h
wait_http "$url/-/ready" 30

log "plain text 0.0.4"
curl -fsS -D "$TMP/plain.h" -o "$TMP/plain" "$url/metrics"
grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' "$TMP/plain.h" ||
    fail "text content type: $(cat "$TMP/plain.h")"
grep -qi '^content-encoding' "$TMP/plain.h" && fail "identity body has a Content-Encoding"
grep -q '^node_load1 ' "$TMP/plain" || fail "no node_load1 in /metrics"
grep -q '^hakari_build_info{' "$TMP/plain" || fail "no hakari_build_info"
grep -q '# EOF' "$TMP/plain" && fail "text format must not end with # EOF"
promtool_check "$TMP/plain" || fail "promtool rejects the text exposition"

log "gzip by Accept-Encoding"
curl -fsS -H 'Accept-Encoding: gzip' -D "$TMP/gz.h" -o "$TMP/gz" "$url/metrics"
grep -qi '^content-encoding: gzip' "$TMP/gz.h" || fail "no Content-Encoding: gzip: $(cat "$TMP/gz.h")"
grep -qi '^vary: .*accept-encoding' "$TMP/gz.h" || fail "no Vary: Accept-Encoding"
gzip -t "$TMP/gz" || fail "body is not gzip"
gunzip -c "$TMP/gz" >"$TMP/gz.plain"
cmp "$TMP/plain" "$TMP/gz.plain" || fail "gunzipped body differs from the plain one"
gz_size=$(stat -c %s "$TMP/gz")
plain_size=$(stat -c %s "$TMP/plain")
[ "$gz_size" -lt "$plain_size" ] || fail "gzip body ($gz_size) not smaller than plain ($plain_size)"
# An explicit q=0 refuses gzip.
curl -fsS -H 'Accept-Encoding: gzip;q=0, identity' -D "$TMP/gz0.h" -o "$TMP/gz0" "$url/metrics"
grep -qi '^content-encoding: gzip' "$TMP/gz0.h" && fail "gzip sent despite q=0"
cmp "$TMP/plain" "$TMP/gz0" || fail "identity body differs"
# Exact tokens and q-values, not substrings (the parser's cases: tests/unit/test_http_negotiate.c).
for ae in 'notgzip' 'gzip;q=0' '*, gzip;q=0' 'identity;q=1, gzip;q=0.5'; do
    curl -fsS -H "Accept-Encoding: $ae" -D "$TMP/ae.h" -o /dev/null "$url/metrics"
    grep -qi '^content-encoding: gzip' "$TMP/ae.h" && fail "gzip sent for Accept-Encoding: $ae"
done
curl -fsS -H 'Accept-Encoding: identity;q=0.1, gzip;q=0.5' -D "$TMP/ae.h" -o /dev/null "$url/metrics"
grep -qi '^content-encoding: gzip' "$TMP/ae.h" || fail "no gzip for gzip;q=0.5 over identity;q=0.1"

log "OpenMetrics by Accept"
curl -fsS -H 'Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' \
    -D "$TMP/om.h" -o "$TMP/om" "$url/metrics"
grep -qi '^content-type: application/openmetrics-text; version=1.0.0; charset=utf-8' "$TMP/om.h" ||
    fail "OpenMetrics content type: $(cat "$TMP/om.h")"
[ "$(tail -n 1 "$TMP/om")" = "# EOF" ] || fail "OpenMetrics body does not end with # EOF"
grep -q '^# TYPE hakari_collection_cycles counter$' "$TMP/om" ||
    fail "OpenMetrics counter family must be named without _total"
grep -q '^hakari_collection_cycles_total ' "$TMP/om" || fail "OpenMetrics counter sample lost _total"
# promtool check metrics only parses text 0.0.4; the OpenMetrics form goes through the strict
# parser of the Python client (Debian python3-prometheus-client) here, and a real Prometheus
# ingests it in prometheus.sh and hostile.sh.
/usr/bin/python3 - "$TMP/om" <<'PY' || fail "the OpenMetrics parser rejects the exposition"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
fams = list(text_string_to_metric_families(open(sys.argv[1], encoding="utf-8").read()))
names = {f.name: f for f in fams}
assert names["hakari_collection_cycles"].type == "counter", names["hakari_collection_cycles"]
assert names["node_load1"].type == "gauge"
print("openmetrics families:", len(fams))
PY
for accept in 'application/openmetrics-text;q=0' 'application/openmetrics-text;q=0.2, text/plain' \
    'application/openmetrics-textual' 'text/plain, application/openmetrics-text'; do
    curl -fsS -H "Accept: $accept" -D "$TMP/acc.h" -o /dev/null "$url/metrics"
    grep -qi '^content-type: text/plain; version=0.0.4' "$TMP/acc.h" ||
        fail "Accept: $accept: not text 0.0.4: $(grep -i content-type "$TMP/acc.h")"
done
# OpenMetrics + gzip together.
curl -fsS -H 'Accept: application/openmetrics-text' -H 'Accept-Encoding: gzip' -o "$TMP/omgz" "$url/metrics"
gunzip -c "$TMP/omgz" | cmp - "$TMP/om" || fail "gzip OpenMetrics body differs"

log "HEAD: headers, no body"
python3 - "$port" <<'PY' || fail "HEAD /metrics"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
head, sep, body = data.partition(b"\r\n\r\n")
lines = head.decode().split("\r\n")
assert lines[0].startswith("HTTP/1.1 200"), lines[0]
hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
assert hdrs["content-type"].startswith("text/plain; version=0.0.4"), hdrs
assert int(hdrs.get("content-length", "0")) > 0, hdrs
assert body == b"", "HEAD response carried %d body bytes" % len(body)
PY

log "other endpoints"
code() { curl -sS -o "$TMP/body" -w '%{http_code}' "$@"; }
[ "$(code "$url/-/healthy")" = 200 ] || fail "/-/healthy"
[ "$(code "$url/-/ready")" = 200 ] || fail "/-/ready"
[ "$(code "$url/")" = 200 ] || fail "/"
grep -q 'href="metrics"' "$TMP/body" || fail "landing page does not link /metrics"
[ "$(code "$url/nope")" = 404 ] || fail "unknown path is not 404"
[ "$(code -X POST -d x=1 "$url/metrics")" = 405 ] || fail "POST /metrics is not 405"
curl -sS -D - -o /dev/null -X POST "$url/metrics" | grep -qi '^allow: GET, HEAD' || fail "405 without Allow"
[ "$(code -X DELETE "$url/")" = 405 ] || fail "DELETE / is not 405"

log "self-metrics count the requests"
curl -fsS "$url/metrics" >/dev/null
kill -0 "$BG_PID" || fail "hakari died"
echo "PASS http"
