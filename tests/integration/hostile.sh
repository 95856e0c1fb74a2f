#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Hostile label values (quotes, backslashes, newlines, invalid UTF-8, very long) go through the
# real builder and the real HTTP server (tests/tools/serve_snapshot). promtool and the strict
# Python parsers must accept both exposition formats, and a real Prometheus must ingest the
# scrape with every value round-tripping (invalid bytes become U+FFFD, one per byte).
source "$(dirname "$0")/../lib.sh"

SERVE=$TOP/$O/tests/serve_snapshot
[ -x "$SERVE" ] || fail "$SERVE not built (make O=$O $O/tests/serve_snapshot)"
PY=/usr/bin/python3 # Debian's, with python3-prometheus-client

# The cases, as raw bytes → "<name> <hex>" lines.
$PY - "$TMP/cases" <<'PY'
import sys
cases = {
    "quotes": b'say "hi" and ""',
    "backslash": b"C:\\path\\to\\file",
    "trailing_backslash": b"ends with \\",
    "backslash_n_literal": b"not a newline: \\n",
    "newline": b"line one\nline two\n",
    "crlf_tab": b"a\r\nb\tc",
    "mixed": b'\\"\n\\\\"\\n',
    "braces_commas": b'{a="b",c="d"} 1 # EOF',
    "comment_like": b"# HELP x y\n# EOF",
    "utf8_ok": "日本語 ünïcødé 😀".encode(),
    "invalid_ff": b"bad\xff\xfeend",
    "truncated_seq": b"euro\xe2\x82",
    "overlong": b"slash\xc0\xaf",
    "surrogate": b"sur\xed\xa0\x80",
    "lone_continuation": b"\x80\x80x",
    "long": (b"0123456789abcdef" * 1024) + b"\"\\\n",  # 16 KiB + specials
    "empty_looking": b" ",
}
with open(sys.argv[1], "w") as f:
    for name, raw in cases.items():
        f.write("%s %s\n" % (name, raw.hex()))
PY

port=$(free_port)
bg serve "$SERVE" --listen="127.0.0.1:$port" --cases="$TMP/cases"
wait_http "http://127.0.0.1:$port/-/ready" 30

log "text 0.0.4: promtool and the Python text parser"
curl -fsS -o "$TMP/text" "http://127.0.0.1:$port/metrics"
promtool check metrics <"$TMP/text" || fail "promtool rejects the hostile text exposition"
curl -fsS -H 'Accept: application/openmetrics-text; version=1.0.0' -o "$TMP/om" \
    "http://127.0.0.1:$port/metrics"

# Expected values: each invalid byte becomes one U+FFFD (as hk_utf8_repair does).
cat >"$TMP/expect.py" <<'PY'
import codecs
def one_per_byte(err):
    return ("\ufffd", err.start + 1)
codecs.register_error("one_per_byte", one_per_byte)
def expected():
    out = {}
    for line in open(CASES):
        name, hexv = line.split()
        out[name] = bytes.fromhex(hexv).decode("utf-8", "one_per_byte")
    return out
PY

$PY - "$TMP/cases" "$TMP/text" "$TMP/om" "$TMP/expect.py" <<'PY' || fail "parsers disagree with the values sent"
import sys
CASES = sys.argv[1]
exec(open(sys.argv[4]).read())
want = expected()
from prometheus_client.parser import text_string_to_metric_families as text_parse
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_parse
for label, path, parse in (("text", sys.argv[2], text_parse), ("openmetrics", sys.argv[3], om_parse)):
    body = open(path, "rb").read()
    body.decode("utf-8")  # the whole body is valid UTF-8
    got = {}
    for fam in parse(body.decode("utf-8")):
        if fam.name == "hostile_value":
            assert "backslash" in fam.documentation and "\n" in fam.documentation, fam.documentation
            for s in fam.samples:
                got[s.labels["case"]] = s.labels["v"]
    assert set(got) == set(want), (label, set(want) ^ set(got))
    for k in want:
        assert got[k] == want[k], (label, k, got[k][:80], want[k][:80])
    print(label, "round-trips", len(got), "values")
PY

log "a real Prometheus ingests the scrape (OpenMetrics, as it negotiates)"
cat >"$TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: hostile
    static_configs:
      - targets: ["127.0.0.1:$port"]
YML
start_prometheus "$TMP/prometheus.yml"
fetch() {
    curl -fsS --get "$PROM_URL/api/v1/query" --data-urlencode 'query=hostile_value{job="hostile"}' \
        -o "$TMP/q.json" && $PY -c '
import json, sys
r = json.load(open(sys.argv[1]))["data"]["result"]
sys.exit(0 if len(r) >= int(sys.argv[2]) else 1)' "$TMP/q.json" "$(wc -l <"$TMP/cases")"
}
until_true 60 fetch || fail "Prometheus did not ingest every hostile series: $(head -c 600 "$TMP/q.json" 2>/dev/null)"
$PY - "$TMP/cases" "$TMP/q.json" "$TMP/expect.py" <<'PY' || fail "values did not round-trip through Prometheus"
import json, sys
CASES = sys.argv[1]
exec(open(sys.argv[3]).read())
want = expected()
got = {r["metric"]["case"]: r["metric"]["v"] for r in json.load(open(sys.argv[2]))["data"]["result"]}
assert set(got) == set(want), set(want) ^ set(got)
for k in want:
    assert got[k] == want[k], (k, got[k][:80], want[k][:80])
assert "\ufffd" in got["invalid_ff"] and got["invalid_ff"] == "bad\ufffd\ufffdend"
assert len(got["long"]) == 16 * 1024 + 3
print("prometheus round-trips", len(got), "values")
PY
up=$(prom_query "$PROM_URL" 'up{job="hostile"}')
echo "$up" | grep -q '"1"\]' || fail "up != 1: $up"
echo "PASS hostile"
