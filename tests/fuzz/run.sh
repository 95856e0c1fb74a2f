#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every libFuzzer binary $O/fuzz/fuzz_<name> for FUZZ_SECONDS (default 60) with its seed
# corpus tests/fuzz/corpus/<name>/; new inputs go to $O/fuzz/corpus/<name>/, crashers to
# $O/fuzz/crashes/<name>/ (turn each into a unit test case).
set -uo pipefail
cd "$(dirname "$0")/../.."
O=${O:-build}
secs=${FUZZ_SECONDS:-60}
rc=0
for bin in "$O"/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    name=${name#fuzz_}
    work="$O/fuzz/corpus/$name"
    crashes="$O/fuzz/crashes/$name"
    mkdir -p "$work" "$crashes"
    seeds=()
    [ -d "tests/fuzz/corpus/$name" ] && seeds=("tests/fuzz/corpus/$name")
    echo "fuzz $name for ${secs}s"
    if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$crashes/" "$work" "${seeds[@]}" >"$O/fuzz/$name.log" 2>&1; then
        echo "FAIL fuzz $name: see $O/fuzz/$name.log and $crashes/"
        tail -n 30 "$O/fuzz/$name.log"
        rc=1
    else
        grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$O/fuzz/$name.log" || true
    fi
done
exit $rc
