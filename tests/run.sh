#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the test suites and prints one closing line "N passed, N failed, N skipped".
#   tests/run.sh unit   cmocka binaries in $O/tests (built with ASan+UBSan)
#   tests/run.sh all    unit, then every tests/integration/*.sh (golden, real servers, kernel)
# A script exits 0 = pass, 77 = skip (it prints why), anything else = fail.
# ONLY=<glob> restricts the integration scripts (e.g. ONLY='*http*'; extglob patterns work).
# JOBS=<n> cores to keep busy (default: the machine's); the SERIAL scripts below always run alone.
# KEEP_TMP=1 keeps each script's $TMP directory (logs, queues, receiver logs) and prints its path.
#
# Scheduling (make test must stay well under 20 min on 2 cores; most scripts spend their time
# waiting on servers, outages, backoff and collection cycles, not on a CPU). Two phases:
#  1. a pool: the unit binaries and every integration script not in SERIAL. Each job has a
#     weight in quarter-cores and the pool keeps the sum of the running weights within 4 × JOBS:
#       HEAVY  (6) keep both cores busy by themselves (clang-tidy two at a time, make -j2, two
#                  fuzzers at once, a ThreadSanitizer build and wrk): one at a time, with at most
#                  two light jobs beside it;
#       LIGHT  (1) mostly wait (measured: under 0.3 CPU-seconds per second of wall), so up to
#                  eight run at once;
#       others (4) one core each, the unit binaries (ASan+UBSan) among them.
#     Jobs start in queue order (HEAVY, LIGHT, the rest alphabetically, then the unit binaries),
#     each as soon as its weight fits; a lighter job may pass one that does not fit yet.
#  2. the SERIAL scripts, one at a time with nothing else running: they create cgroups, veths or
#     eBPF state under fixed names, or measure timing, rates or counters that a neighbour would
#     disturb. (cgroup_churn names its cgroups after its pid and cgroup_promql reads fixtures
#     only, so they are not serial.)
# Results are printed as jobs finish, with wall and CPU seconds (the job's processes and the
# children they waited for); a failure prints the end of its log.
set -uo pipefail
cd "$(dirname "$0")/.."
O=${O:-build}
export O HAKARI="$PWD/$O/hakari" TOP="$PWD"
mode=${1:-all}
pass=0 fail=0 skip=0
failed=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
logdir="$O/test-logs"
mkdir -p "$logdir"
shopt -s extglob

SERIAL='@(cgroup_!(churn|promql)|ebpf_*|native_hist|topology|kube_prometheus|load|privs|rw_shards|rw_budget|node_host|node_netclass_live|node_upstream_sys|podview)'
# In start order (longest first); HEAVY weighs 6, LIGHT 1, the rest 4.
HEAVY=(analyze fuzz_smoke tsan cross_arm64)
LIGHT=(cgroup_churn rw_faults rw_disk_recover rw_enospc rw_outage rw_sts rw_auth rw_rotate slowloris
    http_targets rw_targets rw_receivers webconfig rw_crash protofmt rw_fallback_backlog prometheus
    rw_relabel_reload reload web_reload node_malformed hostile)
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
cap=$((JOBS * 4))

record() { # name, rc, "wall cpu"
    local name=$1 rc=$2 wall=${3%% *} cpu=${3#* } log="$logdir/${1//\//_}.log"
    case $rc in
    0) pass=$((pass + 1)); printf 'PASS  %-50s %4ss  cpu %ss\n' "$name" "$wall" "$cpu" ;;
    77) skip=$((skip + 1)); printf 'SKIP  %-50s %s\n' "$name" "$(tail -n 1 "$log")" ;;
    *)
        fail=$((fail + 1)); failed+=("$name")
        printf 'FAIL  %-50s (exit %s, %ss) log: %s\n' "$name" "$rc" "$wall" "$log"
        tail -n 40 "$log" | sed 's/^/      | /'
        ;;
    esac
}

declare -A running=() weight=() # pid -> name, pid -> weight
used=0
start_bg() { # name, weight, command...
    local name=$1 w=$2 log="$logdir/${1//\//_}"
    shift 2
    (
        start=$SECONDS
        timeout --kill-after=10 600 "$@" >"$log.log" 2>&1
        rc=$?
        # CPU of the waited-for children: `times` prints "user sys" of this shell, then of them.
        # (redirected, not piped: a pipe would run it in a fresh subshell that has no children)
        times >"$log.times"
        cpu=$(awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] } printf "%.1f", s }' "$log.times")
        echo "$((SECONDS - start)) ${cpu:-?}" >"$log.took"
        exit $rc
    ) &
    running[$!]=$name
    weight[$!]=$w
    used=$((used + w))
}
reap() { # waits for one running job and records its result
    local pid rc name
    wait -n -p pid "${!running[@]}"
    rc=$?
    name=${running[$pid]}
    used=$((used - weight[$pid]))
    unset "running[$pid]" "weight[$pid]"
    record "$name" "$rc" "$(<"$logdir/${name//\//_}.took")"
}

# The queue: parallel arrays of name, weight, command (a unit binary or a script).
q_name=() q_w=() q_cmd=()
queue() { q_name+=("$1"); q_w+=("$2"); q_cmd+=("$3"); }
serial=()
if [ "$mode" = all ]; then
    declare -A cls=() # script name -> heavy | light
    for n in "${HEAVY[@]}"; do cls[$n]=heavy; done
    for n in "${LIGHT[@]}"; do cls[$n]=light; done
    selected=() # script names, in start order
    all=()
    for s in tests/integration/*.sh; do n=${s##*/} && all+=("${n%.sh}"); done
    for n in "${HEAVY[@]}" "${LIGHT[@]}" ${all[@]+"${all[@]}"}; do
        [ -e "tests/integration/$n.sh" ] || continue
        [[ -n "${ONLY:-}" && "$n" != ${ONLY} ]] && continue
        [[ " ${selected[*]-} " == *" $n "* ]] && continue
        selected+=("$n")
    done
    for n in ${selected[@]+"${selected[@]}"}; do
        s=tests/integration/$n.sh
        if [[ "$n" == $SERIAL ]]; then serial+=("$s")
        elif [ "${cls[$n]-}" = heavy ]; then queue "integration/$n" 6 "$s"
        elif [ "${cls[$n]-}" = light ]; then queue "integration/$n" 1 "$s"
        else queue "integration/$n" 4 "$s"; fi
    done
fi
for t in "$O"/tests/test_*; do
    [ -x "$t" ] || continue
    queue "unit/$(basename "$t")" 4 "$t"
done

# Phase 1: the pool. JOBS=1 runs everything one at a time, in queue order.
todo=("${!q_name[@]}")
while [ ${#todo[@]} -gt 0 ] || [ ${#running[@]} -gt 0 ]; do
    for k in "${!todo[@]}"; do
        i=${todo[$k]}
        if [ ${#running[@]} -eq 0 ] || { [ "$JOBS" -gt 1 ] && [ $((used + q_w[i])) -le "$cap" ]; }; then
            if [[ ${q_cmd[$i]} == *.sh ]]; then
                start_bg "${q_name[$i]}" "${q_w[$i]}" bash "${q_cmd[$i]}"
            else
                start_bg "${q_name[$i]}" "${q_w[$i]}" "${q_cmd[$i]}"
            fi
            unset "todo[$k]"
        fi
    done
    [ ${#running[@]} -gt 0 ] && reap
done

# Phase 2: the SERIAL scripts, alone.
for s in ${serial[@]+"${serial[@]}"}; do
    start_bg "integration/$(basename "$s" .sh)" "$cap" bash "$s"
    reap
done

[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
