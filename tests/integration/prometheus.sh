#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A real Prometheus (Debian) scrapes hakari every second; its HTTP API must show up == 1 and the
# node series. Prometheus negotiates OpenMetrics first, so this also proves it ingests that form.
source "$(dirname "$0")/../lib.sh"

port=$(free_port)
bg hakari "$HAKARI" --web.listen-address="127.0.0.1:$port" --collection.interval=1s
wait_http "http://127.0.0.1:$port/-/ready" 30

cat >"$TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: hakari
    static_configs:
      - targets: ["127.0.0.1:$port"]
YML
start_prometheus "$TMP/prometheus.yml"

# result count of an instant query
count() {
    prom_query "$PROM_URL" "$1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]["result"]))'
}
value() {
    prom_query "$PROM_URL" "$1" | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "none")'
}

# Conditions re-evaluated on every try of until_true.
value_is() { [ "$(value "$1")" = "$2" ]; }
count_at_least() { [ "$(count "$1")" -ge "$2" ]; }
present() { [ "$(value "$1")" != none ]; }

log "waiting for the first scrapes"
until_true 60 value_is 'up{job="hakari"}' 1 || fail "up{job=\"hakari\"} never became 1"
until_true 30 count_at_least 'node_load1{job="hakari"}' 1 || fail "node_load1 has no series"
until_true 30 count_at_least 'hakari_build_info{job="hakari"}' 1 || fail "hakari_build_info missing"
if "$HAKARI" --help | grep -q '^  cpu '; then
    until_true 30 count_at_least 'node_cpu_seconds_total{job="hakari",mode="idle"}' 1 ||
        fail "node_cpu_seconds_total has no series"
    ncpu=$(count 'node_cpu_seconds_total{job="hakari",mode="idle"}')
    [ "$ncpu" -eq "$(nproc --all)" ] || fail "node_cpu_seconds_total{mode=idle}: $ncpu series, want $(nproc --all)"
else
    log "cpu collector not in this build yet; node_cpu_seconds_total not asserted"
fi
# Several scrapes landed and none failed.
until_true 30 present 'count_over_time(up{job="hakari"}[1m]) >= 3' || fail "fewer than 3 scrapes recorded"
value_is 'min_over_time(up{job="hakari"}[1m])' 1 || fail "a scrape failed (up was 0)"
present 'scrape_samples_scraped{job="hakari"} > 10' || fail "scrape_samples_scraped too small"
if grep -q 'level=error' "$TMP/prometheus.log"; then
    grep 'level=error' "$TMP/prometheus.log" | head
    fail "Prometheus logged errors"
fi
# hakari counted the scrapes it served.
until_true 10 present 'hakari_http_requests_total{job="hakari",handler="/metrics"} > 2' ||
    fail "hakari_http_requests_total{handler=/metrics} did not count the scrapes"
echo "PASS prometheus: up=1, node_load1 and self metrics ingested"
