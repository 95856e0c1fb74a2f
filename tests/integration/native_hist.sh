#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Native histograms end to end (issue 15): hakari's run-queue latency of a fresh cgroup with
# known CPU contention (more busy loops than CPUs), as
#  1. the protobuf exposition, decoded by the python protobuf package with proto/metrics.proto:
#     every sample equals the text body's, and each native histogram is consistent (spans and
#     deltas, count, every classic le an exact native boundary with the count the native buckets
#     give: tests/tools/protofmt_check.py);
#  2. a Prometheus 2.42 with --enable-feature=native-histograms scraping hakari (protobuf) and a
#     second one without the flag scraping text: histogram_count(rate(…[1m])) and
#     histogram_quantile(0.9, rate(…[1m])) return data on the first, and its quantile lies in the
#     same classic bucket as the second's classic quantile.
# Why that bound: the classic buckets le = 2^k s are exact sums of native buckets (schema 3: 8
# native buckets per classic one), so with the same counts the 0.9 rank falls in a native bucket
# inside the classic bucket (2^(k-1), 2^k] holding it. Each Prometheus interpolates within its own
# bucket, so both estimates lie in that classic bucket: they can differ by up to its width (a
# factor 2), but not leave it. The native estimate is moreover within one native bucket (9.05 %)
# of the true quantile. Both instances see the same increase (all waits happen between their
# first and last scrapes of the series); only rate()'s extrapolation to the window edges can
# scale classic buckets slightly differently (each bucket series stops extrapolating at zero on
# its own), which is allowed for as one native bucket (2^(1/8)) of slack at the classic bounds.
#  3. remote write 1.0 with send_native_histograms: true, from the same hakari into the native
#     Prometheus (its remote-write receiver; the series carry the external label via="rw", which
#     scraped series lack): the same queries return data, the quantile passes the same bound, no
#     classic _bucket/_sum/_count series arrive that way, the eBPF dashboard's run-queue panels
#     return data from native histograms alone, and once the cgroup is removed the
#     native stale marker ends the series at once (without it an instant query would still find
#     the last sample for the 5 min lookback).
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/ebpf_lib.sh"
command -v protoc-c >/dev/null || fail "protoc-c missing (apt-get install protobuf-c-compiler)"
"$PY" -c 'import google.protobuf' 2>/dev/null || fail "python3-protobuf missing (apt-get install python3-protobuf)"

FAM=container_cpu_runqueue_latency_seconds
CPU=$(cg_mount cpu)
[ -n "$CPU" ] || CPU=$(cg_mount "")
base=/hk-nh-$$
A=$(mkcg "$CPU" "$base")
SEL="id=\"$base\""
# scraped by the native Prometheus (remote-written series have via="rw"), remote-written
NSEL="$SEL, via=\"\""
RSEL="$SEL, via=\"rw\""
NBUSY=$(($(nproc) * 2 + 1))

# ---- servers: native Prometheus (+ remote-write receiver), classic Prometheus, hakari (run-queue
# probe only; remote-writes to the native one)
hport=$(free_port)

scrape_cfg() { # JOB: a 1 s scrape of hakari
    printf 'global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: %s\n    static_configs: [{targets: [\x27127.0.0.1:%s\x27]}]\n' \
        "$1" "$hport"
}
scrape_cfg nh >"$TMP/prom-nh.yml"
scrape_cfg classic >"$TMP/prom-classic.yml"
PROM_DATA="$TMP/prom-nh-data" start_prometheus "$TMP/prom-nh.yml" \
    --enable-feature=native-histograms --web.enable-remote-write-receiver
PROM_NH_URL=$PROM_URL
PROM_DATA="$TMP/prom-classic-data" start_prometheus "$TMP/prom-classic.yml"
PROM_CL_URL=$PROM_URL
cat >"$TMP/hakari.yml" <<EOF
global:
  external_labels: {via: rw}
remote_write:
  - url: $PROM_NH_URL/api/v1/write
    name: nh
    send_native_histograms: true
    metadata_config: {send: false}
    queue_config: {disk_path: $TMP/queue, batch_send_deadline: 1s}
collectors:
  ebpf:
    programs: [sched]
EOF
bg hakari "$HAKARI" --config.file="$TMP/hakari.yml" --web.listen-address="127.0.0.1:$hport" \
    --collection.interval=1s
HURL=http://127.0.0.1:$hport/metrics
wait_http "$HURL" 30
sched_up() { curl -fsS "$HURL" >"$TMP/m.txt" && grep -q 'hakari_ebpf_program_up{program="sched"} 1' "$TMP/m.txt"; }
until_true 60 sched_up || { cat "$TMP/hakari.log" >&2; fail "sched program not up"; }

# q URL QUERY [TIME]: the value of a one-element instant vector, or nothing.
q() {
    curl -fsS --get "$1/api/v1/query" --data-urlencode "query=$2" ${3:+--data-urlencode "time=$3"} |
        "$PY" -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
if len(r) == 1 and "value" in r[0]:
    print(r[0]["value"][1])'
}
# has_at_least URL QUERY N: QUERY (a count) is at least N
has_at_least() { local v; v=$(q "$1" "$2") && [ -n "$v" ] && ge "$v" "$3"; }

# ---- the series exists before the contention, so both servers scrape its start
in_cg "$A" bash -c 'for i in 1 2 3 4 5; do sleep 0.01; done'
seen() {
    has_at_least "$PROM_CL_URL" "count_over_time(${FAM}_count{$SEL}[1m])" 2 &&
        has_at_least "$PROM_NH_URL" "histogram_count(${FAM}{$NSEL})" 0 &&
        has_at_least "$PROM_NH_URL" "count_over_time(up{job=\"nh\"}[1m])" 2
}
until_true 30 seen || fail "the series of $base never reached both servers"
before_nh=$(q "$PROM_NH_URL" "histogram_count(${FAM}{$NSEL})")

# ---- contention: NBUSY busy loops of 3 s on nproc CPUs
log "contention: $NBUSY busy loops in $base"
pids=()
for i in $(seq $NBUSY); do
    in_cg "$A" bash -c 'end=$((SECONDS + 3)); while [ $SECONDS -lt $end ]; do :; done' &
    pids+=($!)
done
moved=0
for p in "${pids[@]}"; do
    rc=0
    wait "$p" || rc=$?
    [ "$rc" -eq 97 ] || moved=$((moved + 1)) # in_cg exits 97 when it cannot join the cgroup
done
[ "$moved" -gt 0 ] || fail "no busy loop could join $A"
# The final count: nothing runs in the cgroup any more, so the snapshot of the second collection
# cycle completed after this point holds every wait (the first may have started before the loops
# ended). Counted in cycles, not seconds: under load a cycle can take longer than its interval,
# and two equal reads 1.1 s apart were once both the count from before the contention.
cycles() { awk '/^hakari_collection_cycles_total / {print $2}' "$TMP/m.txt"; }
curl -fsS "$HURL" >"$TMP/m.txt" || fail "scrape failed"
c0=$(cycles)
[ -n "$c0" ] || fail "no hakari_collection_cycles_total in the exposition"
two_cycles_later() { curl -fsS "$HURL" >"$TMP/m.txt" && [ "$(cycles)" -ge $((c0 + 2)) ]; }
until_true 30 two_cycles_later || fail "fewer than two collection cycles in 30 s after the contention"
final=$(val "$TMP/m.txt" ${FAM}_count "$SEL")
[ "${final:-0}" != 0 ] || { tail -n 20 "$TMP/hakari.log" >&2; grep -E "^(${FAM}_count|hakari_collection_cycles_total)" "$TMP/m.txt" >&2; fail "no run-queue wait counted for $base under contention ($moved busy loops joined it)"; }
done_cl() { [ "$(q "$PROM_CL_URL" "${FAM}_count{$SEL}")" = "$final" ]; }
until_true 20 done_cl || fail "classic Prometheus never got the final count $final"
done_nh() { [ "$(q "$PROM_NH_URL" "histogram_count(${FAM}{$NSEL})")" = "$final" ]; }
until_true 20 done_nh || fail "native Prometheus never got the final count $final"
ge "$final" $((NBUSY * 10)) || fail "only $final run-queue waits under contention"

# ---- 2. queries, evaluated at one instant on both
T=$(date +%s.%N)
rate_count=$(q "$PROM_NH_URL" "histogram_count(rate(${FAM}{$NSEL}[1m]))" "$T")
nq=$(q "$PROM_NH_URL" "histogram_quantile(0.9, rate(${FAM}{$NSEL}[1m]))" "$T")
cq=$(q "$PROM_CL_URL" "histogram_quantile(0.9, rate(${FAM}_bucket{$SEL}[1m]))" "$T")
log "waits: $before_nh before, $final after; native rate count $rate_count/s, p90 native $nq s, classic $cq s"
[ -n "$rate_count" ] && ge "$rate_count" 0.001 || fail "histogram_count(rate(…)) returned '$rate_count'"
[ -n "$nq" ] && [ "$nq" != NaN ] || fail "native histogram_quantile returned '$nq'"
[ -n "$cq" ] && [ "$cq" != NaN ] || fail "classic histogram_quantile returned '$cq'"
one_classic_bucket() { # NATIVE CLASSIC: both estimates in one classic bucket
    "$PY" - "$1" "$2" <<'PY'
import math, sys
nq, cq = float(sys.argv[1]), float(sys.argv[2])
# the classic bucket (2^(k-1), 2^k] of the classic estimate (a bound itself counts for both
# buckets it closes)
k = math.ceil(math.log2(cq))
lo, hi = 2.0 ** (k - 1), 2.0 ** k
if cq == lo:
    lo = lo / 2
slack = 2 ** (1 / 8)
ok = lo / slack <= nq <= hi * slack
print("classic bucket (%g, %g]: native %g, classic %g, ratio %.3f" % (lo, hi, nq, cq, nq / cq))
sys.exit(0 if ok else 1)
PY
}
one_classic_bucket "$nq" "$cq" || fail "native p90 $nq s and classic p90 $cq s not in one classic bucket"

# ---- 1. the exposition decoded by the reference parser: same snapshot in both formats
protoc-c --descriptor_set_out="$TMP/metrics.desc" --proto_path="$TOP/proto" "$TOP/proto/metrics.proto" ||
    fail "protoc-c could not read proto/metrics.proto"
PB_ACCEPT='application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited'
# A snapshot changes every second: take both bodies until they come from the same one.
same_snapshot() {
    curl -fsS -H "Accept: $PB_ACCEPT" -o "$TMP/live.pb" "$HURL" &&
        curl -fsS -o "$TMP/live.txt" "$HURL" &&
        "$PY" "$TOP/tests/tools/protofmt_check.py" "$TMP/metrics.desc" "$TMP/live.pb" "$TMP/live.txt" \
            --require-native=$FAM >"$TMP/check.out" 2>"$TMP/check.err"
}
until_true 20 same_snapshot || { cat "$TMP/check.err" >&2; fail "protobuf body does not decode to the text body"; }
cat "$TMP/check.out" >&2

# ---- 3. remote write with send_native_histograms: true into the native Prometheus
done_rw() { [ "$(q "$PROM_NH_URL" "histogram_count(${FAM}{$RSEL})")" = "$final" ]; }
until_true 30 done_rw || { tail -n 20 "$TMP/hakari.log" >&2; fail "remote-written native histogram never reached the final count $final"; }
T2=$(date +%s.%N)
rw_rate=$(q "$PROM_NH_URL" "histogram_count(rate(${FAM}{$RSEL}[1m]))" "$T2")
rq=$(q "$PROM_NH_URL" "histogram_quantile(0.9, rate(${FAM}{$RSEL}[1m]))" "$T2")
cq2=$(q "$PROM_CL_URL" "histogram_quantile(0.9, rate(${FAM}_bucket{$SEL}[1m]))" "$T2")
log "remote write: rate count $rw_rate/s, p90 $rq s (classic $cq2 s)"
[ -n "$rw_rate" ] && ge "$rw_rate" 0.001 || fail "histogram_count(rate(…)) on remote-written series returned '$rw_rate'"
[ -n "$rq" ] && [ "$rq" != NaN ] || fail "histogram_quantile on remote-written series returned '$rq'"
[ -n "$cq2" ] && [ "$cq2" != NaN ] || fail "classic histogram_quantile returned '$cq2'"
one_classic_bucket "$rq" "$cq2" || fail "remote-written p90 $rq s and classic p90 $cq2 s not in one classic bucket"
classic_rw=$(q "$PROM_NH_URL" "count({__name__=~\"${FAM}_(bucket|sum|count)\", via=\"rw\"})")
[ -z "$classic_rw" ] || fail "$classic_rw classic series of $FAM were remote-written besides the native ones"
# The eBPF dashboard's run-queue panels work on native data alone (this Prometheus holds no
# classic series of the family: it scraped protobuf and received native histograms).
"$PY" - "$TOP/dashboards/hakari-ebpf.json" "$FAM" >"$TMP/panels.txt" <<'PY' || fail "cannot read the eBPF dashboard"
import json, sys
d = json.load(open(sys.argv[1]))
for p in d["panels"]:
    for t in p.get("targets", []):
        if sys.argv[2] in t["expr"]:
            e = t["expr"].replace("$__rate_interval", "1m")
            for v in ("cluster", "namespace", "pod", "container"):
                e = e.replace('=~"$%s"' % v, '=~".*"')
            print(p["title"] + "\t" + e.replace("\n", " "))
PY
[ "$(wc -l <"$TMP/panels.txt")" -ge 2 ] || fail "no run-queue panels found in the eBPF dashboard"
while IFS=$'\t' read -r title expr; do
    n=$(curl -fsS --get "$PROM_NH_URL/api/v1/query" --data-urlencode "query=$expr" |
        "$PY" -c 'import json, sys; print(len(json.load(sys.stdin)["data"]["result"]))')
    [ "${n:-0}" -ge 1 ] || fail "dashboard panel '$title' returns nothing on native histograms: $expr"
    log "dashboard panel '$title': $n series on native histograms"
done <"$TMP/panels.txt"
# The histogram vanishes with its cgroup (the eBPF collector forgets removed cgroups within six
# cycles): the next remote-written snapshot carries the native stale marker.
rmdir "$A" || fail "cannot remove $A"
gone() { [ -z "$(q "$PROM_NH_URL" "count(${FAM}{$RSEL})")" ]; }
until_true 40 gone || fail "the remote-written histogram of the removed cgroup is not stale (no native stale marker?)"
log "remote write: stale after the cgroup was removed"
if grep -q 'level=error' "$TMP/prometheus.log"; then
    grep 'level=error' "$TMP/prometheus.log" | head >&2
    fail "Prometheus logged errors"
fi
echo "native histograms: p90 native ${nq}s (scraped) ${rq}s (remote-written) vs classic ${cq}s for $final run-queue waits; protobuf body consistent; native stale marker"
