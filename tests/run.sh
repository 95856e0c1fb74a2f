#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the test suites and prints one closing line "N passed, N failed, N skipped".
#   tests/run.sh unit   cmocka binaries in $O/tests (built with ASan+UBSan)
#   tests/run.sh all    unit, then every tests/integration/*.sh (golden, real servers, kernel)
# A script exits 0 = pass, 77 = skip (it prints why), anything else = fail.
# ONLY=<glob> restricts the integration scripts (e.g. ONLY='*http*'; extglob patterns work).
# JOBS=<n> integration scripts at a time (default 2; the SERIAL ones below always run alone).
# KEEP_TMP=1 keeps each script's $TMP directory (logs, queues, receiver logs) and prints its path.
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

run_one() { # name, command...
    local name=$1
    shift
    local log="$logdir/${name//\//_}.log" start=$SECONDS rc
    "$@" >"$log" 2>&1
    rc=$?
    local took=$((SECONDS - start))
    case $rc in
    0) pass=$((pass + 1)); printf 'PASS  %-50s %4ss\n' "$name" "$took" ;;
    77) skip=$((skip + 1)); printf 'SKIP  %-50s %s\n' "$name" "$(tail -n 1 "$log")" ;;
    *)
        fail=$((fail + 1)); failed+=("$name")
        printf 'FAIL  %-50s (exit %s) log: %s\n' "$name" "$rc" "$log"
        tail -n 40 "$log" | sed 's/^/      | /'
        ;;
    esac
}

for t in "$O"/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "unit/$(basename "$t")" "$t"
done

# Integration scripts run $JOBS at a time (default 2, the machine's cores), except those matching
# SERIAL, which run alone: they create cgroups, veths or eBPF state under fixed names, or measure
# timing, rates or counters that a neighbour would disturb. Results are printed as scripts finish.
SERIAL='@(cgroup_*|ebpf_*|native_hist|topology|kube_prometheus|load|tsan|privs|rw_shards|rw_budget|node_host|node_netclass_live|node_upstream_sys|podview)'
JOBS=${JOBS:-2}
declare -A running=() # pid -> name
reap() { # waits for one running script and records its result
    local pid rc name
    wait -n -p pid "${!running[@]}"
    rc=$?
    name=${running[$pid]}
    unset "running[$pid]"
    record "integration/$name" "$rc" "$(<"$logdir/integration_$name.took")"
}
record() { # name, rc, seconds
    local name=$1 rc=$2 took=$3 log="$logdir/${1//\//_}.log"
    case $rc in
    0) pass=$((pass + 1)); printf 'PASS  %-50s %4ss\n' "$name" "$took" ;;
    77) skip=$((skip + 1)); printf 'SKIP  %-50s %s\n' "$name" "$(tail -n 1 "$log")" ;;
    *)
        fail=$((fail + 1)); failed+=("$name")
        printf 'FAIL  %-50s (exit %s) log: %s\n' "$name" "$rc" "$log"
        tail -n 40 "$log" | sed 's/^/      | /'
        ;;
    esac
}
start_bg() { # name, script
    local name=$1 script=$2
    (
        start=$SECONDS
        timeout --kill-after=10 600 bash "$script" >"$logdir/integration_$name.log" 2>&1
        rc=$?
        echo $((SECONDS - start)) >"$logdir/integration_$name.took"
        exit $rc
    ) &
    running[$!]=$name
}
if [ "$mode" = all ]; then
    shopt -s extglob
    for s in tests/integration/*.sh; do
        [ -e "$s" ] || continue
        n=$(basename "$s" .sh)
        [[ -n "${ONLY:-}" && "$n" != ${ONLY} ]] && continue
        if [[ "$n" == $SERIAL || "$JOBS" -le 1 ]]; then
            while [ ${#running[@]} -gt 0 ]; do reap; done
            start_bg "$n" "$s"
            reap
        else
            while [ ${#running[@]} -ge "$JOBS" ]; do reap; done
            start_bg "$n" "$s"
        fi
    done
    while [ ${#running[@]} -gt 0 ]; do reap; done
fi

[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
