#!/usr/bin/env bash
# Static analysis in CI: mk/analyze.sh (cppcheck over core/ agent/ collector/ exporter/, clang-tidy
# with the checks and commented exclusions of .clang-tidy) must report nothing. clang-tidy covers
# core/ and exporter/ here (ANALYZE_TIDY_DIRS) to stay within the time budget on 2 cores;
# `make analyze` runs it over all four directories.
source "$(dirname "$0")/../lib.sh"
command -v cppcheck >/dev/null || skip "cppcheck not installed (mk/packages-test.txt)"
command -v clang-tidy-14 >/dev/null || command -v clang-tidy >/dev/null ||
    skip "clang-tidy not installed (mk/packages-test.txt)"
export ANALYZE_TIDY_DIRS=${ANALYZE_TIDY_DIRS:-core exporter}
O="$O" timeout 600 "$TOP/mk/analyze.sh" >"$TMP/analyze.log" 2>&1 || {
    cat "$TMP/analyze.log" >&2
    fail "static analysis reported findings"
}
cat "$TMP/analyze.log"
grep -q '^cppcheck: clean' "$TMP/analyze.log" || fail "cppcheck did not run"
grep -q '^clang-tidy: clean' "$TMP/analyze.log" || fail "clang-tidy did not run"
