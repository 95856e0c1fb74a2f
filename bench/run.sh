#!/usr/bin/env bash
# Runs every benchmark section (bench/<name>.sh, each bounded in time) or the ones named:
#   bench/run.sh [NAME...]      e.g. bench/run.sh rw
set -uo pipefail
cd "$(dirname "$0")/.."
export O=${O:-build}
status=0
if [ $# -gt 0 ]; then sections=("$@"); else
    sections=()
    for f in bench/*.sh; do
        n=$(basename "$f" .sh)
        [ "$n" = run ] || sections+=("$n")
    done
fi
for n in "${sections[@]}"; do
    echo "### $n"
    timeout --kill-after=10 1200 bash "bench/$n.sh" || { echo "bench $n failed"; status=1; }
done
exit $status
