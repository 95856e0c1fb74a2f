#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Textfile collector parity with node_exporter's own test cases: every case of its
# TestTextfileCollector (tests/fixtures/textfile-upstream/cases.txt, the files copied from
# node_exporter's collector/fixtures/textfile) run through `hakari --once` with only the textfile
# collector on, from a root where fixtures/textfile is that copy (so the file labels and the
# "Metric read from" HELP carry the same relative paths as node_exporter's expected output).
# The output must equal the case's .out semantically (tests/tools/promtext_compare.py: families,
# TYPE, HELP, series and values; ordering ignored; node_textfile_mtime_seconds by presence only,
# as textfile_test.go fixes its value to 1). Prints N of M and fails below M.
# Then the installed node_exporter 1.5 on the same cases: where its output equals the upstream
# expected output (the versions agree), hakari's must equal node_exporter's too; cases where 1.5
# differs from upstream are listed, not counted. Last, inputs of ours (tests/fixtures/textfile-extra)
# on which hakari must answer as node_exporter 1.5 does.
. "$(dirname "$0")/../lib.sh"

[ -x "$HAKARI" ] || fail "no binary at $HAKARI"
FIX="$TOP/tests/fixtures/textfile-upstream"
CMP=("$PY" "$TOP/tests/tools/promtext_compare.py" --any-value node_textfile_mtime_seconds)
# Cases hakari deliberately answers differently, with the reason (also in docs/configuration.md,
# "Differences from node_exporter"). Only for node_exporter behaviour that is clearly a bug.
declare -A DIFFER=()

# The comparison is not vacuous: two neighbouring cases must compare unequal, both ways it can
# (a label more; a HELP and a scrape error).
for pair in "histogram.out histogram_extra_dimension.out" \
    "metrics_merge_same_help.out metrics_merge_different_help.out"; do
    # shellcheck disable=SC2086
    "${CMP[@]}" $(printf "$FIX/%s " $pair) >/dev/null && fail "comparator finds no difference in $pair"
done

ROOT="$TMP/root"
mkdir -p "$ROOT/fixtures"
ln -s "$FIX" "$ROOT/fixtures/textfile"
# Every collector but textfile off (the list comes from --help: new collectors are covered).
NOCOLL=()
for c in $("$HAKARI" --help | awk '/^Collectors/{on=1; next} on && NF>=2 && $1 ~ /^[a-z0-9_]+$/ {print $1}'); do
    [ "$c" = textfile ] || NOCOLL+=("--no-collector.$c")
done
[ "${#NOCOLL[@]}" -gt 3 ] || fail "could not read the collector list from --help"

total=0 pass=0 differ=0
while IFS= read -r line || [ -n "$line" ]; do
    [[ -z "$line" || "$line" == \#* ]] && continue
    read -ra words <<<"$line"
    out=${words[0]}
    dirs=("${words[@]:1}")
    total=$((total + 1))
    id="$total:$out"
    flags=()
    for d in "${dirs[@]}"; do flags+=("--collector.textfile.directory=$d"); done
    "$HAKARI" --once --path.rootfs="$ROOT" "${NOCOLL[@]}" "${flags[@]}" >"$TMP/$total.hk" \
        2>"$TMP/$total.err" || { cat "$TMP/$total.err" >&2; fail "$id: hakari --once failed"; }
    if "${CMP[@]}" --ignore '^(hakari|process)_|^node_exporter_build_info$' "$FIX/$out" "$TMP/$total.hk" >"$TMP/$total.diff"; then
        pass=$((pass + 1))
        echo "ok   $id (${dirs[*]})"
    elif [ -n "${DIFFER[$out]:-}" ]; then
        differ=$((differ + 1))
        echo "diff $id: deliberate: ${DIFFER[$out]}"
    else
        echo "FAIL $id (${dirs[*]}):"
        cat "$TMP/$total.diff"
    fi
done <"$FIX/cases.txt"
echo "textfile upstream cases: $pass of $total pass ($differ deliberate differences)"
[ "$total" -ge 16 ] || fail "expected node_exporter's 16 cases, found $total"
[ $((pass + differ)) -eq "$total" ] || fail "$((total - pass - differ)) case(s) differ from node_exporter's expected output"

# Flags override the file: a directory list in the configuration file is replaced by the first
# --collector.textfile.directory, and the next one adds to it.
printf 'collectors:\n  textfile:\n    directory: [fixtures/textfile/histogram, fixtures/textfile/summary]\n' \
    >"$TMP/cfg.yml"
"$HAKARI" --once --config.file="$TMP/cfg.yml" --path.rootfs="$ROOT" "${NOCOLL[@]}" \
    --collector.textfile.directory=fixtures/textfile/histogram_extra_dimension \
    --collector.textfile.directory='fixtures/textfile/summary_extra_*sion' >"$TMP/cfg.hk" 2>"$TMP/cfg.err" ||
    { cat "$TMP/cfg.err" >&2; fail "config file + repeated flags: hakari failed"; }
"${CMP[@]}" --ignore '^(hakari|process)_|^node_exporter_build_info$' "$FIX/glob_extra_dimension.out" "$TMP/cfg.hk" ||
    fail "repeated --collector.textfile.directory did not replace the configuration file's list"

log "node_exporter 1.5 on the same cases"
command -v prometheus-node-exporter >/dev/null || fail "prometheus-node-exporter missing (mk/packages-test.txt)"
# run_ne ROOT DIRECTORY OUT: node_exporter's textfile collector alone, run from ROOT, one scrape.
run_ne() {
    local port pid
    port=$(free_port)
    (cd "$1" && exec prometheus-node-exporter --web.listen-address="127.0.0.1:$port" \
        --collector.disable-defaults --collector.textfile --collector.textfile.directory="$2") \
        >"$3.log" 2>&1 &
    pid=$!
    _PIDS+=("$pid")
    wait_http "http://127.0.0.1:$port/metrics" 30
    curl -fsS -o "$3" "http://127.0.0.1:$port/metrics"
    kill -TERM "$pid"
}
NE_IGNORE='^(go|process|promhttp|node_scrape_collector|node_exporter)_'
n=0 agree=0 same=0
while IFS= read -r line || [ -n "$line" ]; do
    [[ -z "$line" || "$line" == \#* ]] && continue
    read -ra words <<<"$line"
    out=${words[0]}
    dirs=("${words[@]:1}")
    n=$((n + 1))
    if [ "${#dirs[@]}" -ne 1 ]; then
        echo "skip $n:$out: node_exporter 1.5's --collector.textfile.directory is not repeatable"
        continue
    fi
    run_ne "$ROOT" "${dirs[0]}" "$TMP/$n.ne"
    if ! "${CMP[@]}" --ignore "$NE_IGNORE" "$FIX/$out" "$TMP/$n.ne" >"$TMP/$n.nediff"; then
        echo "skip $n:$out: node_exporter 1.5 differs from upstream's expected output here:"
        cat "$TMP/$n.nediff"
        continue
    fi
    agree=$((agree + 1))
    # Both sides' own families differ; compare what both serve for the case.
    if "${CMP[@]}" --ignore "$NE_IGNORE|^hakari_|^node_exporter_build_info$" "$TMP/$n.ne" "$TMP/$n.hk" >"$TMP/$n.hkne"; then
        same=$((same + 1))
    else
        echo "FAIL $n:$out: hakari differs from node_exporter 1.5:"
        cat "$TMP/$n.hkne"
    fi
done <"$FIX/cases.txt"
echo "node_exporter 1.5: agrees with upstream on $agree of $n cases; hakari equals it on $same of $agree"
[ "$agree" -ge 10 ] || fail "node_exporter 1.5 agrees with upstream on only $agree cases: setup problem?"
[ "$same" -eq "$agree" ] || fail "hakari differs from node_exporter 1.5 on $((agree - same)) case(s)"

log "inputs of ours: hakari equals node_exporter 1.5 (tests/fixtures/textfile-extra)"
# Gaps in histograms and summaries, path forms, a glob in the middle of the path, escapes and
# special values, an empty HELP after TYPE; here the mtimes compare by value too.
ROOT2="$TMP/root2"
mkdir -p "$ROOT2"
ln -s "$TOP/tests/fixtures/textfile-extra" "$ROOT2/extra"
n=0 same=0
while IFS= read -r dir || [ -n "$dir" ]; do
    [[ -z "$dir" || "$dir" == \#* ]] && continue
    n=$((n + 1))
    "$HAKARI" --once --path.rootfs="$ROOT2" "${NOCOLL[@]}" --collector.textfile.directory="$dir" \
        >"$TMP/x$n.hk" 2>"$TMP/x$n.err" || { cat "$TMP/x$n.err" >&2; fail "extra $dir: hakari failed"; }
    run_ne "$ROOT2" "$dir" "$TMP/x$n.ne"
    grep -q '^node_textfile_scrape_error 0' "$TMP/x$n.ne" || fail "extra $dir: node_exporter reports an error"
    if "$PY" "$TOP/tests/tools/promtext_compare.py" --ignore "$NE_IGNORE|^hakari_|^node_exporter_build_info$" \
        "$TMP/x$n.ne" "$TMP/x$n.hk" >"$TMP/x$n.diff"; then
        same=$((same + 1))
        echo "ok   extra $dir"
    else
        echo "FAIL extra $dir: hakari differs from node_exporter 1.5:"
        cat "$TMP/x$n.diff"
    fi
done <"$TOP/tests/fixtures/textfile-extra/cases.txt"
echo "inputs of ours: hakari equals node_exporter 1.5 on $same of $n"
[ "$n" -ge 6 ] && [ "$same" -eq "$n" ] || fail "hakari differs from node_exporter 1.5 on $((n - same)) of our inputs"
