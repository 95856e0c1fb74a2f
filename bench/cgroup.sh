#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Cost of one cgroup collection cycle per container, in steady state (descriptors open), on
# generated node roots (v2 systemd+containerd, N/2 pods × (sandbox + 1 app container) = N runtime
# containers, plus pod/QoS rows) for N = 100 and 1,000 (v1 cgroupfs+docker: N = 100), on the
# issue-16 node (200 pods × (sandbox + 5 containers), 1,410 rows; per container = per app
# container; RSS over RSS_CYCLES cycles), and on 100 real v1 cgroups of this machine
# (root only). Figures per cycle: CPU µs (getrusage of the driver bench/cgroup_cycle.c), syscalls
# (strace -c, runs of 1 and 3 cycles differenced), bytes allocated (malloc interposed). Anchor:
# node_exporter's scrape of its default collectors on this host, same run (CPU, syscalls via
# strace, bytes from go_memstats_alloc_bytes_total). Not a test; bounded (~2 min).
source "$(dirname "$0")/../tests/lib.sh"
DRIVER=$TOP/$O/bench/cgroup_cycle
[ -x "$DRIVER" ] || fail "no $DRIVER (make O=$O bench builds it)"
command -v strace >/dev/null || skip "strace not installed"
CYCLES=${CYCLES:-6}
# The collector keeps ~20 descriptors per cgroup open (hakari's systemd unit and DaemonSet run
# with a high LimitNOFILE, as container runtimes do); root may raise the hard limit here too.
ulimit -Hn 1048576 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
SHM=$TMP
[ -d /dev/shm ] && [ -w /dev/shm ] && SHM=$(mktemp -d /dev/shm/hakari-bench.XXXXXX)
REAL=()
cleanup_bench() {
    local i
    for ((i = ${#REAL[@]} - 1; i >= 0; i--)); do rmdir "${REAL[$i]}" 2>/dev/null || true; done
    [ "$SHM" != "$TMP" ] && rm -rf "$SHM"
}
trap 'cleanup_bench; cleanup' EXIT

syscalls() { # rootfs cycles [options] → total syscalls of a driver run
    strace -c -f -o "$TMP/strace.out" "$DRIVER" "$@" >/dev/null
    awk '$NF == "total" { print $(NF-2) + 0 }' "$TMP/strace.out" | tail -1
}

# measure LABEL ROOTFS CONTAINERS [OPTIONS-YAML]
measure() {
    local label=$1 root=$2 n=$3 opts=("${@:4}") out s1 s6
    out=$("$DRIVER" "$root" "$CYCLES" "${opts[@]}")
    s1=$(syscalls "$root" 1 "${opts[@]}")
    s3=$(syscalls "$root" 3 "${opts[@]}")
    echo "$out" | awk -v label="$label" -v n="$n" -v sc=$(((s3 - s1) / 2)) '{
        for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "%-28s containers=%-5d series=%-6d cycle_cpu_ms=%.2f cpu_us_per_container=%.1f syscalls_per_container=%.1f bytes_per_cycle=%d bytes_per_container=%d\n",
            label, n, v["series"], v["cpu_us_per_cycle"] / 1000, v["cpu_us_per_cycle"] / n, sc / n,
            v["bytes_per_cycle"], v["bytes_per_cycle"] / n
    }' | tee -a "$TMP/results"
}

# Each app container gets a small writable layer where its mountinfo says (the snapshotter's
# directory): 4 directories, 27 files, 64 KiB. Steady state: measured once, then reported from
# the cache until fs_usage_interval; the walk itself is bounded by fs_usage_budget per cycle.
add_layers() { # rootfs
    local mi up i
    for mi in "$1"/proc/*/mountinfo; do
        up=$(head -1 "$mi" | grep -o 'upperdir=[^,]*' | cut -d= -f2) || continue
        mkdir -p "$1$up/tmp" "$1$up/var/cache/app" "$1$up/etc" "$1$up/run"
        for i in $(seq 25); do echo "data $i" >"$1$up/tmp/f$i"; done
        head -c 65536 /dev/zero >"$1$up/var/cache/app/blob"
        : >"$1$up/run/pid"
    done
}

for n in 100 1000; do
    python3 "$TOP/tests/fixtures/gen.py" --layout v2-systemd-containerd --pods $((n / 2)) \
        --containers 1 --out "$SHM/v2-$n"
    add_layers "$SHM/v2-$n"
    measure "fixture v2 (tmpfs)" "$SHM/v2-$n" "$n"
    rm -rf "$SHM/v2-$n"
done
# The issue 16 node: 200 pods × 5 app containers (+ a sandbox each) on cgroup v2, 1,410 rows
# with the pod, QoS and sandbox rows. Per container = per app container (1,000), the stricter
# reading; per row figures alongside. RSS is sampled after two warm-up cycles and after
# RSS_CYCLES (default 1,000) cycles: flat means the steady state allocates nothing that stays.
RSS_CYCLES=${RSS_CYCLES:-1000}
python3 "$TOP/tests/fixtures/gen.py" --layout v2-systemd-containerd --pods 200 --containers 5 \
    --out "$SHM/v2-200x5"
add_layers "$SHM/v2-200x5"
measure "fixture v2 200x5 (tmpfs)" "$SHM/v2-200x5" 1000
out=$("$DRIVER" "$SHM/v2-200x5" "$RSS_CYCLES")
echo "$out" | awk -v c="$RSS_CYCLES" '{
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "%-28s cycles=%d series=%d cpu_us_per_container=%.1f rss_kb_start=%d rss_kb_quarters=%s rss_kb_end=%d rss_growth_kb=%d\n",
        "fixture v2 200x5 RSS", c, v["series"], v["cpu_us_per_cycle"] / 1000, v["rss_kb_start"],
        v["rss_kb_quarters"], v["rss_kb_end"], v["rss_kb_end"] - v["rss_kb_start"] }' | tee -a "$TMP/results"
rm -rf "$SHM/v2-200x5"
python3 "$TOP/tests/fixtures/gen.py" --layout v1-cgroupfs-docker --pods 50 --containers 1 --out "$SHM/v1-100"
measure "fixture v1 (tmpfs)" "$SHM/v1-100" 100
rm -rf "$SHM/v1-100"

# Real cgroups: empty containers in the kubelet's cgroupfs layout under every v1 controller,
# below a private prefix (the collector's `roots` option, like the kubelet's --cgroup-root), so
# other cgroups of this machine are not measured. Reading kernfs costs more than tmpfs: the
# kernel formats memory.stat etc. on each read.
BENCH_CG=hakari-bench-$$
if [ "$(id -u)" -eq 0 ] && grep -q ' - cgroup cgroup .*[,]memory' /proc/self/mountinfo; then
    mounts=$(awk '$0 ~ / - cgroup cgroup / && $NF ~ /(cpu|cpuacct|memory|pids|blkio)(,|$)/ {print $5}' /proc/self/mountinfo)
    n=100
    for m in $mounts; do
        for d in $BENCH_CG $BENCH_CG/kubepods $BENCH_CG/kubepods/besteffort; do
            mkdir "$m/$d" && REAL+=("$m/$d")
        done
        for p in $(seq $((n / 2))); do
            pd=$m/$BENCH_CG/kubepods/besteffort/pod$(printf '%08d-0000-4000-8000-%012d' "$p" "$p")
            mkdir "$pd" && REAL+=("$pd")
            for c in c d; do
                cd=$pd/$(printf "%s%063d" "$c" "$p")
                mkdir "$cd" && REAL+=("$cd")
            done
        done
    done
    measure "real v1 cgroups (kernfs)" / "$n" "roots: [$BENCH_CG/kubepods]"
else
    echo "real v1 cgroups: skipped (needs root and cgroup v1)"
fi

# Anchor: node_exporter scraping its default collectors (no cgroup data at all).
if command -v prometheus-node-exporter >/dev/null; then
    port=$(free_port)
    bg ne prometheus-node-exporter --web.listen-address="127.0.0.1:$port"
    pid=$BG_PID
    wait_http "http://127.0.0.1:$port/metrics" 20
    for _ in 1 2 3; do curl -fsS -o /dev/null "http://127.0.0.1:$port/metrics"; done
    K=20
    a0=$(curl -fsS "http://127.0.0.1:$port/metrics" | awk '/^go_memstats_alloc_bytes_total / {printf "%d", $2}')
    t0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
    strace -c -f -p "$pid" -o "$TMP/ne.strace" &
    st=$!
    sleep 1
    for _ in $(seq $K); do curl -fsS -o "$TMP/ne.prom" "http://127.0.0.1:$port/metrics"; done
    kill -INT $st
    wait $st 2>/dev/null || true
    t1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
    a1=$(curl -fsS "http://127.0.0.1:$port/metrics" | awk '/^go_memstats_alloc_bytes_total / {printf "%d", $2}')
    sc=$(awk '$NF == "total" { print $(NF-2) + 0 }' "$TMP/ne.strace" | tail -1)
    series=$(grep -vc '^#' "$TMP/ne.prom")
    hz=$(getconf CLK_TCK)
    # K+1 scrapes between the two alloc readings (the second reading is a scrape too).
    awk -v t=$((t1 - t0)) -v hz="$hz" -v k=$K -v sc="$sc" -v a=$((a1 - a0)) -v s="$series" 'BEGIN {
        printf "%-28s series=%-6d scrape_cpu_ms=%.2f (under strace) syscalls_per_scrape=%d bytes_per_scrape=%d\n",
            "node_exporter defaults", s, t / hz * 1000 / k, sc / k, a / (k + 1) }' | tee -a "$TMP/results"
    ne_cpu_ms=$(awk '/^node_exporter/ { for (i=1;i<=NF;i++) if ($i ~ /^scrape_cpu_ms=/) { sub(/.*=/, "", $i); print $i } }' "$TMP/results")
    # A clean CPU figure without strace attached.
    t0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
    for _ in $(seq $K); do curl -fsS -o /dev/null "http://127.0.0.1:$port/metrics"; done
    t1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
    ne_cpu_ms=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v k=$K 'BEGIN { printf "%.2f", t / hz * 1000 / k }')
    echo "node_exporter defaults       scrape_cpu_ms=$ne_cpu_ms (no strace)"
    awk -v ne="$ne_cpu_ms" '/^fixture v2/ && /containers=1000/ {
        for (i=1;i<=NF;i++) if ($i ~ /^cycle_cpu_ms=/) { sub(/.*=/, "", $i); c = $i }
        if (ne > 0) printf "ratio: one hakari cgroup cycle at 1,000 containers costs %.1f node_exporter default scrapes\n", c / ne }' "$TMP/results"
else
    echo "node_exporter anchor: skipped (prometheus-node-exporter not installed)"
fi
echo "target (v2 200x5, issue 16): <= 40 us CPU (stretch 30) and <= 25 syscalls per container per cycle, RSS flat over 1,000 cycles"
