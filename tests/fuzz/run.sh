#!/usr/bin/env bash
# Runs every libFuzzer target built under $O/fuzz for FUZZ_SECONDS each (default 60), seeded from
# tests/fuzz/corpus/<target>/ (the corpus grows in a scratch copy, not in git). A crash fails the
# run; its input is kept in $O/fuzz/artifacts/ — make it a regression fixture.
set -uo pipefail
cd "$(dirname "$0")/../.."
O=${O:-build}
secs=${FUZZ_SECONDS:-60}
rc=0
mkdir -p "$O/fuzz/artifacts"
for bin in "$O"/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    work="$O/fuzz/corpus-$name"
    mkdir -p "$work"
    [ -d "tests/fuzz/corpus/$name" ] && cp -n "tests/fuzz/corpus/$name"/* "$work"/ 2>/dev/null
    echo "== $name: ${secs}s"
    if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$O/fuzz/artifacts/$name-" "$work" 2>"$O/fuzz/$name.log"; then
        echo "FAIL $name (see $O/fuzz/$name.log)"
        tail -30 "$O/fuzz/$name.log"
        rc=1
    else
        tail -2 "$O/fuzz/$name.log"
    fi
done
exit $rc
