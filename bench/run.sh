#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every benchmark section bench/*.sh (each bounded in time, printing its own figures and
# ratios against peers measured in the same run). BENCH=<glob> restricts the sections.
# The profile section (bench/profile.sh, perf) is a mode of its own: it runs only when BENCH
# names it (`make bench BENCH=profile`) or PROFILE=1 adds it to the others.
set -uo pipefail
cd "$(dirname "$0")/.."
O=${O:-build}
export O HAKARI="$PWD/$O/hakari" TOP="$PWD"
rc=0
for s in bench/*.sh; do
    n=$(basename "$s" .sh)
    [ "$n" = run ] && continue
    [ "$n" = profile ] && [ "${PROFILE:-0}" != 1 ] && [ "${BENCH:-}" != profile ] && continue
    [[ -n "${BENCH:-}" && "$n" != ${BENCH} ]] && continue
    echo "== $n"
    # A section may raise its time bound with a line "# bench-timeout: SECONDS".
    to=$(sed -n 's/^# bench-timeout: *\([0-9][0-9]*\).*/\1/p' "$s" | head -n 1)
    timeout --kill-after=10 "${to:-300}" bash "$s"
    r=$?
    [ "$r" -eq 0 ] || [ "$r" -eq 77 ] || { echo "bench $n failed (exit $r)"; rc=1; }
done
exit $rc
