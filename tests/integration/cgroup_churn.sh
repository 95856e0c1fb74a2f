#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Bounded resources under cgroup churn, on the real hybrid /sys/fs/cgroup: a private tree
# (every mounted v1 hierarchy of cpu/cpuacct/memory/blkio/pids + cgroup2) in the kubepods layout gets pod and container
# cgroups created and destroyed every ~0.3 s for CHURN_SECONDS (default 70) while hakari collects
# every 1 s; some hold a short-lived process so removal races the reads (dirs vanish mid-walk).
# Asserts: the agent never exits or logs an error, the cgroup collector stays up with zero
# errors, every scrape passes promtool, per-series counters never go backwards (no half-read
# values; the eBPF collector's rows included, see also ebpf_churn), and RSS after the churn is within max(4 MiB, 15%) of RSS after a warm-up.
source "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root to create cgroups"
[ -n "$("$HAKARI" --help 2>&1)" ] || fail "no hakari binary" # no "| grep -q" under pipefail: SIGPIPE
[ -f "$TOP/collector/cgroup.c" ] || skip "cgroup collector not in this tree yet"
command -v promtool >/dev/null || skip "promtool not installed"
secs=${CHURN_SECONDS:-70}
base="hk-churn-$$"
ctrls=()
for c in cpu cpuacct memory blkio pids unified; do
    mountpoint -q "/sys/fs/cgroup/$c" && ctrls+=("/sys/fs/cgroup/$c")
done
[ "${#ctrls[@]}" -ge 2 ] || skip "no writable cgroup hierarchies"
cleanup_cg() {
    local d
    for d in "${ctrls[@]}"; do
        [ -d "$d/$base" ] || continue
        find "$d/$base" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
}
trap 'cleanup_cg; cleanup' EXIT
for d in "${ctrls[@]}"; do mkdir -p "$d/$base/kubepods/besteffort"; done

cat >"$TMP/hakari.yml" <<YML
global:
  collection_interval: 1s
collectors:
  cgroup:
    roots: [$base/kubepods]
  # eBPF on too: its rows (root, QoS, pods) must not go backwards as child cgroups vanish.
  ebpf:
    enabled: true
YML
port=$(free_port)
bg hakari "$HAKARI" --config.file="$TMP/hakari.yml" --web.listen-address="127.0.0.1:$port" \
    --log.level=info
pid=$BG_PID
wait_http "http://127.0.0.1:$port/-/ready" 30

# The churn: each step creates one pod with two containers (one running `sleep 0.4`) and removes
# the pods created 3 steps ago. rmdir of a cgroup with a live process fails; retried next step.
churn() {
    local i=0 end=$((SECONDS + secs)) uid cid d k
    local -a live=()
    while [ "$SECONDS" -lt "$end" ]; do
        uid=$(printf '%08x-0000-4000-8000-%012x' "$$" "$i")
        cid=$(printf '%064x' "$((i * 7919 + 1))")
        for d in "${ctrls[@]}"; do
            mkdir -p "$d/$base/kubepods/besteffort/pod$uid/$cid" \
                "$d/$base/kubepods/besteffort/pod$uid/${cid%?}f" 2>/dev/null || true
        done
        (
            for d in "${ctrls[@]}"; do
                echo "$BASHPID" >"$d/$base/kubepods/besteffort/pod$uid/$cid/cgroup.procs" \
                    2>/dev/null || true
            done
            exec sleep 0.4
        ) &
        live+=("pod$uid")
        while [ "${#live[@]}" -gt 3 ]; do
            for d in "${ctrls[@]}"; do
                find "$d/$base/kubepods/besteffort/${live[0]}" -depth -type d -exec rmdir {} + \
                    2>/dev/null || true
            done
            k=0
            for d in "${ctrls[@]}"; do [ -d "$d/$base/kubepods/besteffort/${live[0]}" ] && k=1; done
            [ "$k" = 1 ] && break
            live=("${live[@]:1}")
        done
        i=$((i + 1))
        sleep 0.3
    done
    wait
    echo "$i" >"$TMP/churn.count"
}
churn &
churn_pid=$!
_PIDS+=("$churn_pid")

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }
scrape() { # n: scrape, check with promtool, record counters
    curl -fsS -o "$TMP/m.$1" "http://127.0.0.1:$port/metrics" || fail "scrape $1 failed"
    promtool_check "$TMP/m.$1" || fail "scrape $1: promtool check metrics"
}
n=0
warm_at=$((SECONDS + 15))
rss_warm=
end=$((SECONDS + secs))
while [ "$SECONDS" -lt "$end" ]; do
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$TMP/hakari.log" >&2; fail "hakari exited"; }
    scrape "$n"
    if [ -z "$rss_warm" ] && [ "$SECONDS" -ge "$warm_at" ]; then
        rss_warm=$(rss)
        log "RSS after warm-up: ${rss_warm} kB"
    fi
    n=$((n + 1))
    sleep 2
done
wait "$churn_pid" 2>/dev/null || true
sleep 2
scrape final
rss_end=$(rss)
log "RSS at the end: ${rss_end} kB (warm-up ${rss_warm} kB), $(cat "$TMP/churn.count") pods churned, $n scrapes"

# Counters never go backwards for the same series between consecutive scrapes (a half-read
# cgroup would show as a drop to 0 or a partial sum).
python3 - "$TMP" "$n" <<'PY' || fail "a counter went backwards (half-read value)"
import re, sys
tmp, n = sys.argv[1], int(sys.argv[2])
prev, bad = {}, 0
for i in list(range(n)) + ["final"]:
    cur = {}
    for line in open(f"{tmp}/m.{i}"):
        if line.startswith("container_") and "_total{" in line:
            k, v = line.rsplit(" ", 1)
            cur[k] = float(v)
    for k, v in cur.items():
        if k in prev and v < prev[k]:
            print(f"scrape {i}: {k} went from {prev[k]} to {v}")
            bad += 1
    prev = cur
sys.exit(1 if bad else 0)
PY
seen=$(cat "$TMP"/m.* | grep -o "id=\"/$base/kubepods/besteffort/pod[^/\"]*" | sort -u | wc -l)
[ "$seen" -gt 0 ] || fail "no churned pod cgroup was ever reported"
log "$seen distinct churned pods reported across scrapes"
grep -E '^hakari_collector_up\{collector="cgroup"\} 1' "$TMP/m.final" || fail "cgroup collector not up"
errs=$(sed -n 's/^hakari_collector_errors_total{collector="cgroup"} //p' "$TMP/m.final")
[ "${errs:-0}" = 0 ] || fail "cgroup collector errors: $errs"
if grep -E 'level=error' "$TMP/hakari.log"; then fail "hakari logged errors"; fi
limit=$((rss_warm + (rss_warm * 15 / 100 > 4096 ? rss_warm * 15 / 100 : 4096)))
[ "$rss_end" -le "$limit" ] || fail "RSS grew: ${rss_warm} kB -> ${rss_end} kB (limit ${limit} kB)"
echo "RSS ${rss_warm} kB after warm-up, ${rss_end} kB after ${secs}s of churn"
