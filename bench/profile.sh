#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Profile mode (`make bench BENCH=profile`): where the CPU goes, sampled with perf (Debian's
# linux-perf; cpu-clock software event, so it works in VMs without PMU access) with DWARF call
# chains, for
#   collection  bench/cgroup_cycle on a generated v2 node root (200 pods × sandbox + 4 app
#               containers = 1,000 runtime containers, plus pod/QoS rows), PROF_CYCLES cycles;
#   rw          hakari itself on the remote-write workload of bench/rw_peers.sh (100,000 series
#               from its textfile collector every PROF_INTERVAL s → a fresh VictoriaMetrics),
#               PROF_SECONDS after a PROF_WARMUP, every thread.
# Each prints the user/kernel split, the split by thread, kernel time by entry (system call or
# page fault), and the top PROF_TOP functions by self time and with children (bench/perf_summary.py).
# PROF_ONLY=collection|rw runs one of them; PROF_KEEP=DIR keeps perf.data files there (for
# `perf report -i`); PROF_RELABEL=1 gives the rw workload three write_relabel_configs (a
# replace, a drop, a labeldrop; what the relabel cache saves shows there). HAKARI=binary profiles
# another build (e.g. main's, for a before/after). Not a test; needs root or
# kernel.perf_event_paranoid <= 1.
# bench-timeout: 600
source "$(dirname "$0")/../tests/lib.sh"
command -v perf >/dev/null || skip "perf not installed (linux-perf; make deps-bench)"
PROF_TOP=${PROF_TOP:-25}
PROF_CYCLES=${PROF_CYCLES:-40}
PROF_SECONDS=${PROF_SECONDS:-20}
PROF_WARMUP=${PROF_WARMUP:-12}
PROF_INTERVAL=${PROF_INTERVAL:-1}
PROF_FREQ=${PROF_FREQ:-499}
PROF_ONLY=${PROF_ONLY:-}
OUTD=${PROF_KEEP:-$TMP}
mkdir -p "$OUTD"
perf record -q -e cpu-clock -o "$TMP/probe.data" -- true >/dev/null 2>&1 ||
    skip "perf record -e cpu-clock fails here (kernel.perf_event_paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null))"

RECORD=(perf record -q -e cpu-clock -F "$PROF_FREQ" --call-graph dwarf,16384)
summary() { # DATA TITLE
    perf script -i "$1" -F comm,tid,ip,sym,dso 2>/dev/null | python3 "$TOP/bench/perf_summary.py" "$2" "$PROF_TOP"
}

if [ -z "$PROF_ONLY" ] || [ "$PROF_ONLY" = collection ]; then
    DRIVER=$TOP/$O/bench/cgroup_cycle
    [ -x "$DRIVER" ] || fail "no $DRIVER (make O=$O bench builds it)"
    ulimit -Hn 1048576 2>/dev/null || true
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    SHM=$TMP
    [ -d /dev/shm ] && [ -w /dev/shm ] && SHM=$(mktemp -d /dev/shm/hakari-prof.XXXXXX)
    trap '[ "$SHM" != "$TMP" ] && rm -rf "$SHM"; cleanup' EXIT
    python3 "$TOP/tests/fixtures/gen.py" --layout v2-systemd-containerd --pods 200 --containers 4 \
        --out "$SHM/v2" >/dev/null
    "${RECORD[@]}" -o "$OUTD/collection.data" -- "$DRIVER" "$SHM/v2" "$PROF_CYCLES" >"$TMP/cycle.out" 2>&1 ||
        fail "perf record of cgroup_cycle failed: $(tail -3 "$TMP/cycle.out")"
    echo "collection: $(tail -1 "$TMP/cycle.out") (under perf)"
    summary "$OUTD/collection.data" "collection cycle, v2 fixture, 1,000 containers, $PROF_CYCLES cycles"
    rm -rf "$SHM/v2"
fi

if [ -z "$PROF_ONLY" ] || [ "$PROF_ONLY" = rw ]; then
    command -v victoria-metrics >/dev/null || skip "victoria-metrics not installed (make deps-bench)"
    SYNTH_DIR=$TMP/textfile
    mkdir -p "$SYNTH_DIR" "$TMP/vm" "$TMP/queue"
    python3 "$TOP/bench/rw_util.py" gen "$SYNTH_DIR/synth.prom" --series 100000 >/dev/null 2>&1
    vmport=$(free_port)
    bg vm victoria-metrics -storageDataPath="$TMP/vm" -httpListenAddr="127.0.0.1:$vmport" -retentionPeriod=1
    wait_http "http://127.0.0.1:$vmport/health" 60
    NOCOLL=()
    for c in $("$HAKARI" --help | awk '/^Collectors/{on=1; next} on && NF>=2 && $1 ~ /^[a-z0-9_]+$/ {print $1}'); do
        [ "$c" = textfile ] || NOCOLL+=("--no-collector.$c")
    done
    cat >"$TMP/hakari.yml" <<YML
global:
  collection_interval: ${PROF_INTERVAL}s
remote_write:
  - url: http://127.0.0.1:$vmport/api/v1/write
    queue_config:
      disk_path: $TMP/queue
YML
    [ "${PROF_RELABEL:-0}" = 1 ] && cat >>"$TMP/hakari.yml" <<'YML'
    write_relabel_configs:
      - {source_labels: [__name__], regex: 'synth_(.*)', target_label: family, replacement: '${1}'}
      - {source_labels: [__name__], regex: 'synth_metric_09.*', action: drop}
      - {action: labeldrop, regex: 'unused_.*'}
YML
    aport=$(free_port)
    bg hakari "$HAKARI" --config.file="$TMP/hakari.yml" --web.listen-address="127.0.0.1:$aport" \
        --collector.textfile.directory="$SYNTH_DIR" "${NOCOLL[@]}"
    hpid=$BG_PID
    wait_http "http://127.0.0.1:$aport/metrics" 30
    sleep "$PROF_WARMUP"
    kill -0 "$hpid" 2>/dev/null || fail "hakari died"
    t0=$(awk '{ print $14 + $15 }' "/proc/$hpid/stat")
    "${RECORD[@]}" -o "$OUTD/rw.data" -p "$hpid" -- sleep "$PROF_SECONDS" >"$TMP/rec.out" 2>&1 ||
        fail "perf record -p failed: $(tail -3 "$TMP/rec.out")"
    t1=$(awk '{ print $14 + $15 }' "/proc/$hpid/stat")
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$hpid/status")
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$hpid/status")
    awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v s="$PROF_SECONDS" -v r="$rss" -v h="$hwm" 'BEGIN {
        printf "rw: hakari CPU %.2f s in %d s (under perf), RSS %.1f MiB, VmHWM %.1f MiB\n", t / hz, s, r / 1024, h / 1024 }'
    summary "$OUTD/rw.data" "remote-write, 100,000 series every ${PROF_INTERVAL}s, textfile -> VictoriaMetrics, ${PROF_SECONDS}s$([ "${PROF_RELABEL:-0}" = 1 ] && echo ', 3 relabel rules')"
fi
