#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Dashboards and PromQL rules, static part: generated files are current, house lint, every
# dashboard query parses (promtool check rules), every rule has a passing `promtool test rules`
# test, exact values of key panel queries. The data part (names, catalogue, two clusters into a
# real Prometheus) is promql_data.sh.
source "$(dirname "$0")/../lib.sh"
cd "$TOP"

command -v promtool >/dev/null || fail "promtool missing (Debian package prometheus)"

source "$TOP/tests/tools/promql_lib.sh"

# ---- static checks ----
step "dashboards match dashboards/gen.py" "$PY" dashboards/gen.py --check
step "dashboard lint" "$PY" "$CHECK" lint "${DASHES[@]}"
step "dashboard queries as rules file" "$PY" "$CHECK" syntax "$TMP/dashboards.rules.yml" "${DASHES[@]}"
step "promtool check rules (dashboard queries)" promtool check rules "$TMP/dashboards.rules.yml"
step "promtool check rules (rules)" promtool check rules "${RULE_FILES[@]}"
step "promtool test rules" promtool test rules "${TEST_FILES[@]}"
step "panel queries as a promtool test" "$PY" "$CHECK" panels promql-tests/panels_test.json "$TMP/panels_test.json" "${DASHES[@]}"
step "promtool test rules (exact panel values)" promtool test rules "$TMP/panels_test.json"
step "every rule has a test, runbooks name real panels" "$PY" "$CHECK" coverage promql-tests/rules "${DASHES[@]}"


if [ ${#failed[@]} -gt 0 ]; then
    printf 'failed: %s\n' "${failed[@]}"
    exit 1
fi
echo "all PromQL checks passed"
