#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Bounded resources under cgroup churn, on the real hybrid /sys/fs/cgroup: a private tree
# (every mounted v1 hierarchy of cpu/cpuacct/memory/blkio/pids + cgroup2) in the kubepods layout gets pod and container
# cgroups created and destroyed every ~0.3 s for CHURN_SECONDS (default 70) while hakari collects
# every 1 s; some hold a short-lived process so removal races the reads (dirs vanish mid-walk).
# Asserts: the agent never exits or logs an error, the cgroup collector stays up with zero
# errors, every scrape passes promtool, per-series counters never go backwards (no half-read
# values; the eBPF collector's rows included, see also ebpf_churn), and RSS after the churn is within max(4 MiB, 15%) of RSS after a warm-up.
# Then CHURN_ROUNDS (default 6) rounds, one per collection cycle: pods created in a round are in
# the first snapshot of a cycle started after they appeared, the previous round's removed pods
# are gone from it and no descriptor of theirs stays open.
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

# Cycle by cycle: each round creates two pods (two containers each) and removes the previous
# round's; the first snapshot of a cycle that started after the change (its container_last_seen
# of "/" is later than the change) must list every new cgroup and none of the removed ones, and
# the agent must hold no descriptor of a removed cgroup (/proc/<pid>/fd). Directories are found
# through inotify (collector/cgroupfs.c): a missed event would leave the new pods out for good.
next_snapshot() { # epoch-seconds out: scrape until a cycle started after $1
    local t=$1 i seen
    for i in $(seq 100); do
        curl -fsS -o "$2" "http://127.0.0.1:$port/metrics" || fail "scrape failed"
        seen=$(awk '/^container_last_seen\{/ && /id="\/"/ { printf "%d", $NF }' "$2")
        [ "${seen:-0}" -gt "$t" ] && return 0
        sleep 0.2
    done
    fail "no new collection cycle within 20 s"
}
prev=()
rounds=${CHURN_ROUNDS:-6}
for r in $(seq "$rounds"); do
    cur=()
    for p in 1 2; do
        uid=$(printf '%08x-0000-4000-9000-%012x' "$$" "$((r * 10 + p))")
        cur+=("pod$uid")
        for d in "${ctrls[@]}"; do
            mkdir -p "$d/$base/kubepods/besteffort/pod$uid/$(printf 'a%063x' "$r$p")" \
                "$d/$base/kubepods/besteffort/pod$uid/$(printf 'b%063x' "$r$p")"
        done
    done
    for old in "${prev[@]}"; do
        for d in "${ctrls[@]}"; do
            find "$d/$base/kubepods/besteffort/$old" -depth -type d -exec rmdir {} +
        done
    done
    t=$(date +%s)
    next_snapshot "$t" "$TMP/round.$r"
    for pod in "${cur[@]}"; do
        k=$(grep -c "^container_last_seen{.*id=\"/$base/kubepods/besteffort/$pod[/\"]" \
            "$TMP/round.$r" || true)
        [ "$k" = 3 ] || fail "round $r: $pod has $k of 3 rows (pod + 2 containers) in the first cycle after it appeared"
    done
    for old in "${prev[@]}"; do
        if grep "id=\"/$base/kubepods/besteffort/$old" "$TMP/round.$r" >/dev/null; then
            fail "round $r: removed $old still reported"
        fi
        held=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 -printf '%l\n' 2>/dev/null |
            grep -c "/$old" || true)
        [ "$held" = 0 ] || fail "round $r: $held descriptors of removed $old still open"
    done
    prev=("${cur[@]}")
done
log "$rounds rounds: new pods found in the first cycle after they appeared, removed ones dropped with their descriptors"

sleep 2
scrape final
rss_end=$(rss)
log "RSS at the end: ${rss_end} kB (warm-up ${rss_warm} kB), $(cat "$TMP/churn.count") pods churned, $n scrapes"

# Counters never go backwards for the same series between consecutive scrapes (a half-read
# cgroup would show as a drop to 0 or a partial sum).
# Only this test's own cgroups: the eBPF collector also reports cgroups other tests on this
# machine create and recreate under the same names meanwhile.
python3 - "$TMP" "$n" "$base" <<'PY' || fail "a counter went backwards (half-read value)"
import re, sys
tmp, n, base = sys.argv[1], int(sys.argv[2]), sys.argv[3]
prev, bad = {}, 0
for i in list(range(n)) + ["final"]:
    cur = {}
    for line in open(f"{tmp}/m.{i}"):
        if line.startswith("container_") and "_total{" in line and f'id="/{base}' in line:
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
