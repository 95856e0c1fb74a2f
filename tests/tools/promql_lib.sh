# SPDX-License-Identifier: Apache-2.0
# Shared by promql.sh and promql_data.sh (source after tests/lib.sh, from $TOP): the rule and
# dashboard files, and `step`, which runs a check, keeps going and remembers failures in $failed.
CHECK=tests/tools/promqlcheck.py
RULES=(promql-tests/rules/*.yml)
RULE_FILES=()
TEST_FILES=()
for f in "${RULES[@]}"; do
    case $f in *_test.yml) TEST_FILES+=("$f") ;; *) RULE_FILES+=("$f") ;; esac
done
DASHES=(dashboards/hakari-*.json)
failed=()
step() { # name, command...
    local name=$1
    shift
    local t0=$SECONDS
    log "$name"
    if "$@"; then echo "ok   $name ($((SECONDS - t0))s)"; else echo "FAIL $name"; failed+=("$name"); fi
}
