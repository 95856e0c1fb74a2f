#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Golden exposition tests: for every tests/golden/<case>.prom, `hakari --once` on the fixture root
# tests/fixtures/<case> (plus the flags in tests/golden/<case>.args, one per line, optional) must
# print exactly that file once the agent's own hakari_*/process_* families are removed; and each
# golden file must pass `promtool check metrics`. Regenerate with tests/golden/update.sh.
. "$(dirname "$0")/../lib.sh"

[ -x "$HAKARI" ] || fail "no binary at $HAKARI (make O=$O first)"
command -v promtool >/dev/null || fail "promtool missing (apt-get install prometheus)"
n=0
for golden in "$TOP"/tests/golden/*.prom; do
    [ -e "$golden" ] || continue
    case_name=$(basename "$golden" .prom)
    fixture="$TOP/tests/fixtures/$case_name"
    [ -d "$fixture" ] || fail "$case_name: no fixture directory $fixture"
    args=()
    if [ -f "$TOP/tests/golden/$case_name.args" ]; then
        while IFS= read -r line || [ -n "$line" ]; do
            [[ -z "$line" || "$line" == \#* ]] && continue
            args+=("$line")
        done <"$TOP/tests/golden/$case_name.args"
    fi
    log "$case_name: hakari --once --path.rootfs=$fixture ${args[*]}"
    "$HAKARI" --once --path.rootfs="$fixture" "${args[@]}" >"$TMP/$case_name.raw" 2>"$TMP/$case_name.err" ||
        { cat "$TMP/$case_name.err" >&2; fail "$case_name: hakari --once failed"; }
    awk -f "$TOP/tests/golden/strip-self.awk" "$TMP/$case_name.raw" >"$TMP/$case_name.prom"
    if ! diff -u "$golden" "$TMP/$case_name.prom" >&2; then
        fail "$case_name: output differs from $golden (tests/golden/update.sh regenerates it)"
    fi
    # A malformed fixture file would be skipped quietly: the run must not have counted any.
    grep -E '^hakari_collector_errors_total\{.*\} [1-9]' "$TMP/$case_name.raw" >&2 &&
        fail "$case_name: collectors reported errors"
    grep -E '^hakari_collector_up\{.*\} 0' "$TMP/$case_name.raw" >&2 &&
        fail "$case_name: a collector failed"
    promtool_check "$golden" || fail "$case_name: promtool check metrics"
    n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "no golden files under tests/golden"
echo "$n golden case(s) match"
