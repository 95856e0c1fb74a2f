#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every libFuzzer binary $O/fuzz/fuzz_<name> for FUZZ_SECONDS (default 60) with its seed
# corpus tests/fuzz/corpus/<name>/; new inputs go to $O/fuzz/corpus/<name>/, crashers to
# $O/fuzz/crashes/<name>/ (turn each into a unit test case). FUZZ_JOBS=<n>: n fuzzers at a time.
set -uo pipefail
cd "$(dirname "$0")/../.."
O=${O:-build}
secs=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1} # fuzzers at a time (each runs for its full FUZZ_SECONDS regardless)
rc=0
fuzz_one() { # bin name: runs one fuzzer, output in $O/fuzz/<name>.log
    local bin=$1 name=$2 work="$O/fuzz/corpus/$2" crashes="$O/fuzz/crashes/$2" seeds=()
    mkdir -p "$work" "$crashes"
    [ -d "tests/fuzz/corpus/$name" ] && seeds=("tests/fuzz/corpus/$name")
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$crashes/" "$work" "${seeds[@]}" >"$O/fuzz/$name.log" 2>&1
}
declare -A running=() # pid -> name
finish() { # waits for one fuzzer and reports it
    local pid name
    wait -n -p pid "${!running[@]}"
    local st=$?
    name=${running[$pid]}
    unset "running[$pid]"
    if [ "$st" -ne 0 ]; then
        echo "FAIL fuzz $name: see $O/fuzz/$name.log and $O/fuzz/crashes/$name/"
        tail -n 30 "$O/fuzz/$name.log"
        rc=1
    else
        echo "fuzz $name: done"
        grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$O/fuzz/$name.log" || true
    fi
}
for bin in "$O"/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    name=${name#fuzz_}
    while [ ${#running[@]} -ge "$jobs" ]; do finish; done
    echo "fuzz $name for ${secs}s"
    fuzz_one "$bin" "$name" &
    running[$!]=$name
done
while [ ${#running[@]} -gt 0 ]; do finish; done
exit $rc
