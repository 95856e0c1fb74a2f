#!/usr/bin/env bash
# Runs the benchmarks (`make bench`), one section per benchmark, each bounded in time, and prints
# what each measured. BENCH_ONLY='<glob>' restricts the sections (e.g. BENCH_ONLY='textfile*').
# A benchmark is not a test: a missed target is printed, not a failure; a crash is a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
O=${O:-build}
export O HAKARI="$PWD/$O/hakari"
rc=0
section() { # NAME TIMEOUT_S CMD...
    local name=$1 to=$2
    shift 2
    [[ -n "${BENCH_ONLY:-}" && "$name" != ${BENCH_ONLY} ]] && return 0
    echo "==== $name"
    if ! timeout --kill-after=10 "$to" "$@"; then
        echo "==== $name: FAILED"
        rc=1
    fi
}

# Textfile parser: parse alone and parse+decode+emit into a snapshot builder, 100k series.
section textfile-parse 120 "$O/bench/textfile_parse"
# Remote-write on the peers' workload: hakari (textfile + remote-write) vs vmagent and the
# Prometheus agent, 100k series every 1 s and 5 s into victoria-metrics (~10 min).
section rw 1500 ./bench/rw.sh -n "${BENCH_RW_RUNS:-1}"

exit $rc
