#!/usr/bin/env bash
# Runs the test suites and prints one closing line "N passed, N failed, N skipped".
#   tests/run.sh unit   cmocka binaries in $O/tests (built with ASan+UBSan)
#   tests/run.sh all    unit, then every tests/integration/*.sh (golden, real servers, kernel)
# A script exits 0 = pass, 77 = skip (it prints why), anything else = fail.
# ONLY=<glob> restricts the integration scripts (e.g. ONLY='*http*').
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

if [ "$mode" = all ]; then
    for s in tests/integration/*.sh; do
        [ -e "$s" ] || continue
        n=$(basename "$s" .sh)
        [[ -n "${ONLY:-}" && "$n" != ${ONLY} ]] && continue
        run_one "integration/$n" timeout --kill-after=10 600 bash "$s"
    done
fi

[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
