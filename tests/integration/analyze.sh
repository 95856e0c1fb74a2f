#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Static analysis in CI: mk/analyze.sh (cppcheck and clang-tidy, with the checks and commented
# exclusions of .clang-tidy, over core/ agent/ collector/ exporter/) must report nothing. About
# 4 CPU-minutes of clang-tidy on a fresh build directory (2 at a time); files unchanged since a
# clean run come from $O/analyze/tidy-cache (see mk/analyze.sh).
source "$(dirname "$0")/../lib.sh"
command -v cppcheck >/dev/null || skip "cppcheck not installed (mk/packages-test.txt)"
command -v clang-tidy-14 >/dev/null || command -v clang-tidy >/dev/null ||
    skip "clang-tidy not installed (mk/packages-test.txt)"
unset ANALYZE_TIDY_DIRS # CI analyses every directory
O="$O" timeout 600 "$TOP/mk/analyze.sh" >"$TMP/analyze.log" 2>&1 || {
    cat "$TMP/analyze.log" >&2
    fail "static analysis reported findings"
}
cat "$TMP/analyze.log"
grep -q '^cppcheck: clean' "$TMP/analyze.log" || fail "cppcheck did not run"
grep -q '^clang-tidy: clean' "$TMP/analyze.log" || fail "clang-tidy did not run"
grep -q '^clang-tidy: [0-9]* files in core agent collector exporter$' "$TMP/analyze.log" ||
    fail "clang-tidy did not cover core/ agent/ collector/ exporter/"
