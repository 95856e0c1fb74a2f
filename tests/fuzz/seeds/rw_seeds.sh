#!/usr/bin/env bash
# Regenerates the seed corpora of the remote-write fuzz targets (commit the result):
#   tests/fuzz/corpus/rw_queue/  queue directories written by the queue code (rw_queue_seeds.c)
#   tests/fuzz/corpus/rw_http/   answers of the real receivers (Prometheus, VictoriaMetrics) to
#                                real remote-write requests, recorded with `curl -i`, plus spec-*
#                                answers a local receiver does not give (2.0 headers, Retry-After,
#                                413/415/429/503, a redirect), written from the remote-write spec.
# Usage: O=build tests/fuzz/seeds/rw_seeds.sh (needs prometheus, victoria-metrics, cc, curl).
. "$(dirname "$0")/../../lib.sh"
. "$TOP/tests/tools/rw_lib.sh"
HTTP_OUT=$TOP/tests/fuzz/corpus/rw_http
QUEUE_OUT=$TOP/tests/fuzz/corpus/rw_queue
mkdir -p "$HTTP_OUT" "$QUEUE_OUT"

# ---- queue ----
make -C "$TOP" --no-print-directory O="$O" "$O/gen/proto/remote.pb-c.c" "$O/gen/proto/write_v2.pb-c.c" >/dev/null
# shellcheck disable=SC2046
cc -std=gnu11 -D_GNU_SOURCE -I"$TOP" -I"$TOP/$O/gen" -o "$TMP/rw_queue_seeds" \
    "$TOP/tests/fuzz/seeds/rw_queue_seeds.c" "$TOP"/exporter/rw_queue.c "$TOP"/exporter/rw_encode.c "$TOP"/exporter/rw_decode.c "$TOP"/exporter/rw_nhist.c \
    "$TOP"/core/buf.c "$TOP"/core/log.c "$TOP"/core/labels.c "$TOP/$O"/gen/proto/*.pb-c.c \
    $(pkg-config --cflags --libs libprotobuf-c) -lsnappy -lpthread
"$TMP/rw_queue_seeds" "$TMP/queues" "$QUEUE_OUT"

# ---- receivers' answers ----
# A 1.0 WriteRequest with one series and one sample at ts_ms, protobuf written out by hand and
# wrapped as one snappy literal (a valid snappy block).
write_request() {
    "$PY" - "$1" "$2" <<'PY'
import struct, sys
def varint(n):
    out = b""
    while True:
        b = n & 0x7f
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out
def field(num, payload):
    return varint(num << 3 | 2) + varint(len(payload)) + payload
labels = [("__name__", "hakari_seed_total"), ("job", "hakari"), ("node", "worker-1")]
ts = b"".join(field(1, field(1, k.encode()) + field(2, v.encode())) for k, v in labels)
ts += field(2, b"\x09" + struct.pack("<d", 42.0) + b"\x10" + varint(int(sys.argv[1])))
pb = field(1, ts)
n = len(pb) - 1
tag = bytes([n << 2]) if n < 60 else bytes([61 << 2]) + struct.pack("<H", n)
open(sys.argv[2], "wb").write(varint(len(pb)) + tag + pb)
PY
}
now_ms=$(($(date +%s) * 1000))
write_request "$now_ms" "$TMP/ok.bin"
write_request 1000 "$TMP/ancient.bin"
printf 'this is not snappy' >"$TMP/junk.bin"
# Valid snappy (a 4-byte literal) around bytes that are not a WriteRequest.
printf '\x04\x0c\xff\xff\xff\xff' >"$TMP/badproto.bin"

# record NAME URL BODY [CONTENT-TYPE] [VERSION]: the raw answer to a remote-write POST.
record() {
    local name=$1 url=$2 body=$3 ct=${4:-application/x-protobuf} ver=${5:-0.1.0}
    curl -sS -i -o "$HTTP_OUT/$name" -X POST --data-binary "@$body" -H "Content-Encoding: snappy" \
        -H "Content-Type: $ct" -H "X-Prometheus-Remote-Write-Version: $ver" -H "Expect:" \
        -A "hakari/seeds" "$url"
}
V2CT='application/x-protobuf;proto=io.prometheus.write.v2.Request'
start_prom_rw prom
record prometheus-204 "$PROM_URL/api/v1/write" "$TMP/ok.bin"
record prometheus-v2-ignored "$PROM_URL/api/v1/write" "$TMP/ok.bin" "$V2CT" 2.0.0
record prometheus-400-snappy "$PROM_URL/api/v1/write" "$TMP/junk.bin"
record prometheus-400-proto "$PROM_URL/api/v1/write" "$TMP/badproto.bin"
record prometheus-out-of-bounds "$PROM_URL/api/v1/write" "$TMP/ancient.bin"
curl -sS -i -o "$HTTP_OUT/prometheus-405" "$PROM_URL/api/v1/write"
start_vm vm
record vm-204 "$VM_URL/api/v1/write" "$TMP/ok.bin"
record vm-v2 "$VM_URL/api/v1/write" "$TMP/ok.bin" "$V2CT" 2.0.0
record vm-400-snappy "$VM_URL/api/v1/write" "$TMP/junk.bin"
record vm-404 "$VM_URL/api/v1/nowhere" "$TMP/ok.bin"

# spec-*: what a 2.0 receiver, a busy one and a proxy send (remote-write 2.0 spec, RFC 9110).
spec() { printf "$2" >"$HTTP_OUT/spec-$1"; }
spec v2-204 'HTTP/1.1 204 No Content\r\nX-Prometheus-Remote-Write-Samples-Written: 5\r\nX-Prometheus-Remote-Write-Histograms-Written: 0\r\nX-Prometheus-Remote-Write-Exemplars-Written: 0\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\n\r\n'
spec v2-400-partial 'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nX-Prometheus-Remote-Write-Samples-Written: 3\r\nX-Prometheus-Remote-Write-Histograms-Written: 0\r\nX-Prometheus-Remote-Write-Exemplars-Written: 0\r\nContent-Length: 40\r\n\r\nout of order sample for series up{job=a}'
spec 415 'HTTP/1.1 415 Unsupported Media Type\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 58\r\n\r\nunknown remote write content type: io.prometheus.write.v2\n'
spec 413 'HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 25\r\nConnection: close\r\n\r\nrequest body too large\r\n\r\n'
spec 429-seconds 'HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n\r\ningestion rate exceeded\n'
spec 503-date 'HTTP/1.1 503 Service Unavailable\r\nRetry-After: Tue, 14 Nov 2023 22:15:00 GMT\r\nContent-Length: 0\r\n\r\n'
spec 503-past-date 'HTTP/1.1 503 Service Unavailable\r\nretry-after:Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n'
spec 307-then-204 'HTTP/1.1 307 Temporary Redirect\r\nLocation: http://receiver-2:9090/api/v1/write\r\nRetry-After: 5\r\nContent-Length: 0\r\n\r\nHTTP/1.1 204 No Content\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\n\r\n'
spec retry-after-value 'Tuesday, 14-Nov-23 22:20:00 GMT'
ls -l "$HTTP_OUT" "$QUEUE_OUT"
