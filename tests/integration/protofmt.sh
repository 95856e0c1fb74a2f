#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The protobuf exposition (exporter/protofmt.c) of a real snapshot: `hakari --once` on this host
# with node_exporter's own textfile fixtures (histogram, summary, mixed types, the extra-dimension
# variants) plus a file of escapes and UTF-8, writing the text body to stdout and the protobuf
# body of the same snapshot to a file (the hidden test flag --once.protobuf).
#  1. the python protobuf package decodes the body with the types of proto/metrics.proto (a
#     descriptor set written by protoc-c) and every family and sample equals the text body's
#     (tests/tools/protofmt_check.py);
#  2. a real Prometheus 2.42 with --enable-feature=native-histograms (which asks for protobuf
#     first) scrapes the body from a small server: the server must have answered in protobuf,
#     and every sample Prometheus stored is the text body's, none missing or extra; a histogram
#     it stored in native form (hakari's eBPF latencies, when the probes load) has the count,
#     sum and, up to each classic le, the bucket counts of the text body's classic series.
source "$(dirname "$0")/../lib.sh"
command -v protoc-c >/dev/null || fail "protoc-c missing (apt-get install protobuf-c-compiler)"
"$PY" -c 'import google.protobuf' 2>/dev/null || fail "python3-protobuf missing (apt-get install python3-protobuf)"
# node_exporter's textfile fixtures, as copied into the repo (tests/fixtures/textfile-upstream).
UP="$TOP/tests/fixtures/textfile-upstream"
[ -d "$UP/histogram" ] || fail "node_exporter textfile fixtures missing at $UP"

mkdir -p "$TMP/tf"
for c in histogram summary different_metric_types histogram_extra_dimension summary_extra_dimension; do
    cp "$UP/$c/metrics.prom" "$TMP/tf/$c.prom"
done
# Values a text body has to escape, UTF-8, an empty label value, a long one (multi-byte
# protobuf lengths), and special floats.
long=$(printf 'x%.0s' $(seq 300))
cat >"$TMP/tf/escapes.prom" <<EOF
# HELP hk_pf_escapes Help with \\\\ backslash and a\\nnewline, UTF-8 ✓.
# TYPE hk_pf_escapes gauge
hk_pf_escapes{path="C:\\\\dir\\\\\"q\"\\nx",jp="日本語"} 1
hk_pf_escapes{path="",jp="$long"} -2.5e-300
hk_pf_escapes{path="/nan",jp="n"} NaN
hk_pf_escapes{path="/inf",jp="i"} +Inf
# TYPE hk_pf_untyped untyped
hk_pf_untyped 7
EOF

log "hakari --once --once.protobuf"
"$HAKARI" --once --collector.textfile.directory="$TMP/tf" --once.protobuf="$TMP/body.pb" \
    >"$TMP/body.txt" 2>"$TMP/once.err" || { cat "$TMP/once.err" >&2; fail "hakari --once failed"; }
grep -E '^node_textfile_scrape_error(\{.*\})? 1' "$TMP/body.txt" >&2 && fail "a textfile fixture was rejected"
protoc-c --descriptor_set_out="$TMP/metrics.desc" --proto_path="$TOP/proto" "$TOP/proto/metrics.proto" ||
    fail "protoc-c could not read proto/metrics.proto"

log "1. python protobuf decode vs text"
"$PY" "$TOP/tests/tools/protofmt_check.py" "$TMP/metrics.desc" "$TMP/body.pb" "$TMP/body.txt" \
    --require-type=histogram --require-type=summary --require-type=counter \
    --require-type=gauge --require-type=untyped || fail "protobuf and text bodies differ"

log "2. Prometheus 2.42 scrapes the protobuf body"
port=$(free_port)
cat >"$TMP/server.py" <<'PY'
import http.server, sys
port, tmp = int(sys.argv[1]), sys.argv[2]
PB = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        accept = self.headers.get("Accept", "")
        pb = "application/vnd.google.protobuf" in accept
        body = open(tmp + ("/body.pb" if pb else "/body.txt"), "rb").read()
        with open(tmp + "/served", "a") as f:
            f.write(("protobuf" if pb else "text") + "\t" + accept + "\n")
        self.send_response(200)
        self.send_header("Content-Type", PB if pb else "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
bg server "$PY" "$TMP/server.py" "$port" "$TMP"
wait_http "http://127.0.0.1:$port/metrics" 30
rm -f "$TMP/served"
cat >"$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: pf
    static_configs:
      - targets: ['127.0.0.1:$port']
EOF
start_prometheus "$TMP/prometheus.yml" --enable-feature=native-histograms
scraped() {
    prom_query "$PROM_URL" 'scrape_samples_scraped{job="pf"}' >"$TMP/scraped.json" 2>/dev/null &&
        grep -q '"value"' "$TMP/scraped.json"
}
until_true 40 scraped || fail "Prometheus never scraped the server"
grep -q '^protobuf' "$TMP/served" || { cat "$TMP/served" >&2; fail "Prometheus did not ask for protobuf"; }
grep -q '^text' "$TMP/served" && fail "a scrape was answered in text"
curl -fsS --get "$PROM_URL/api/v1/query" --data-urlencode 'query={job="pf"}' >"$TMP/all.json" ||
    fail "query failed"
"$PY" - "$TMP/body.txt" "$TMP/all.json" "$TMP/scraped.json" "$TOP/tests/tools" <<'PY' || fail "Prometheus' samples differ from the text body"
import json, sys
sys.path.insert(0, sys.argv[4])
from protofmt_check import parse_text, key, same
tfams, _, text = parse_text(open(sys.argv[1], encoding="utf-8").read())
res = json.load(open(sys.argv[2]))["data"]["result"]
scraped = float(json.load(open(sys.argv[3]))["data"]["result"][0]["value"][1])
auto = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling", "scrape_series_added"}
fam_type = {}
for n, t in tfams.items():
    fam_type[n] = t
got = {}
native = {}  # (family, labels) -> Prometheus' native histogram
for r in res:
    m = dict(r["metric"])
    name = m.pop("__name__")
    if name in auto:
        continue
    m.pop("job"); m.pop("instance")
    if "histogram" in r:
        native[(name, tuple(sorted(m.items())))] = r["histogram"][1]
        continue
    extra = None
    if name.endswith("_bucket") and fam_type.get(name[:-7]) == "histogram" and "le" in m:
        extra = ("le", float(m.pop("le").replace("Inf", "inf")))
    if fam_type.get(name) == "summary" and "quantile" in m:
        extra = ("quantile", float(m.pop("quantile")))
    v = r["value"][1]
    got[key(name, list(m.items()), extra)] = float(v.replace("Inf", "inf"))
# Samples with their own timestamps are stored at that time, outside an instant query's
# window when old: compare the others, and count all against scrape_samples_scraped.
# (Prometheus stores no label with an empty value.)
want = {(k[0], tuple(l for l in k[1] if l[1] != "")): v for k, (v, ts) in text.items() if ts is None}
# A histogram Prometheus stored in native form (2.42 keeps only that one): its count, sum and
# buckets must say what the text body's classic series say (each classic le a native bound).
errs = []
classic_of_native = 0
for (fam, labels), h in native.items():
    mine = {k: v for k, v in want.items()
            if k[0] in (fam + "_bucket", fam + "_count", fam + "_sum")
            and tuple(l for l in k[1] if l[0] != "le") == labels}
    for k in mine:
        del want[k]
    classic_of_native += len(mine)
    if float(h["count"]) != mine.get((fam + "_count", labels)) or \
            not same(float(h["sum"]), mine.get((fam + "_sum", labels))):
        errs.append(("native count/sum", fam, labels, h["count"], h["sum"]))
    for k, v in mine.items():
        if k[0] != fam + "_bucket":
            continue
        le = float(dict(k[1])["le"])
        cum = sum(float(b[3]) for b in h.get("buckets", []) if float(b[2]) <= le * (1 + 1e-12))
        if cum != v:
            errs.append(("native buckets up to le", fam, labels, le, cum, v))
errs += [("missing", k) for k in want if k not in got]
errs += [("extra", k) for k in got if k not in want]
errs += [("value", k, want[k], got[k]) for k in want if k in got and not same(want[k], got[k])]
if scraped != len(text) - classic_of_native + len(native):
    errs.append(("scrape_samples_scraped", scraped, "text samples", len(text),
                 "native histograms", len(native), "their classic samples", classic_of_native))
for e in errs[:30]:
    print(e, file=sys.stderr)
if errs:
    sys.exit(1)
print("Prometheus stored %d samples and %d native histograms from the protobuf body, all equal to"
      " the text body's" % (len(got), len(native)))
PY
if grep -q 'level=error' "$TMP/prometheus.log"; then
    grep 'level=error' "$TMP/prometheus.log" | head >&2
    fail "Prometheus logged errors"
fi

log "3. hakari's own /metrics negotiates protobuf"
hport=$(free_port)
# One collection only (1h interval): every request below sees the same snapshot.
bg hakari "$HAKARI" --web.listen-address="127.0.0.1:$hport" --collection.interval=1h \
    --collector.textfile.directory="$TMP/tf" --no-collector.ebpf
wait_http "http://127.0.0.1:$hport/-/ready" 30
PROM_ACCEPT='application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
for path in /metrics /metrics/node; do
    curl -fsS -D "$TMP/live.h" -H "Accept: $PROM_ACCEPT" -o "$TMP/live.pb" "http://127.0.0.1:$hport$path"
    grep -qi '^content-type: application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited' \
        "$TMP/live.h" || { cat "$TMP/live.h" >&2; fail "$path: not answered in protobuf"; }
    curl -fsS -o "$TMP/live.txt" "http://127.0.0.1:$hport$path"
    "$PY" "$TOP/tests/tools/protofmt_check.py" "$TMP/metrics.desc" "$TMP/live.pb" "$TMP/live.txt" ||
        fail "$path: protobuf and text bodies of the same snapshot differ"
done
curl -fsS -D "$TMP/gz.h" -H "Accept: $PROM_ACCEPT" -H 'Accept-Encoding: gzip' -o "$TMP/live.pb.gz" \
    "http://127.0.0.1:$hport/metrics/node"
grep -qi '^content-encoding: gzip' "$TMP/gz.h" || fail "protobuf body not gzipped on request"
gunzip -c "$TMP/live.pb.gz" | cmp -s - "$TMP/live.pb" || fail "gzipped protobuf body differs"
# Prometheus with native histograms asks for protobuf first and stores hakari's samples.
printf 'global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: live\n    static_configs: [{targets: [\x27127.0.0.1:%s\x27]}]\n' \
    "$hport" >"$TMP/prom-live.yml"
PROM_DATA="$TMP/prom-live-data" start_prometheus "$TMP/prom-live.yml" --enable-feature=native-histograms
live_up() { prom_query "$PROM_URL" 'up{job="live"}' | grep '"1"\]' >/dev/null; }
until_true 40 live_up || fail "Prometheus could not scrape hakari in protobuf"
n=$(prom_query "$PROM_URL" 'scrape_samples_scraped{job="live"}' | grep -o '"[0-9]*"\]' | tr -dc 0-9)
[ -n "$n" ] && [ "$n" -gt 100 ] || fail "Prometheus scraped only '$n' samples from hakari"
log "Prometheus (native histograms on, protobuf first) scraped $n samples from hakari's /metrics"
echo "protobuf exposition: decoded and scraped equal to text; hakari serves it to Prometheus"
