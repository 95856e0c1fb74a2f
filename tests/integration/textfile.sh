#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Textfile collector end to end:
#  1. golden: `hakari --once` on tests/fixtures/textfile-basic (several *.prom files, one of them
#     broken) prints tests/golden/textfile-basic.prom (without hakari_*/process_* and without
#     node_textfile_mtime_seconds, whose value is the checkout time), which passes
#     `promtool check metrics`; the broken file is skipped whole and reported;
#  2. mtimes: with known mtimes (touch -d) node_textfile_mtime_seconds is exact, and absent for
#     the broken file;
#  3. live: a running hakari picks up a new file, drops a file that became invalid (scrape error,
#     per-file error counter) and takes it back once fixed.
. "$(dirname "$0")/../lib.sh"

[ -x "$HAKARI" ] || fail "no binary at $HAKARI"
command -v promtool >/dev/null || fail "promtool missing (apt-get install prometheus)"
CASE=textfile-basic
FIX="$TOP/tests/fixtures/$CASE"
DIR=/var/lib/node_exporter/textfile_collector
strip() { # drop the agent's own families (its node_exporter_build_info too) and the checkout-dependent mtimes
    awk '{ name = ($1 == "#") ? $3 : $1; sub(/[{ ].*/, "", name)
           if (name ~ /^(hakari|process)_/ || name == "node_exporter_build_info" ||
               name == "node_textfile_mtime_seconds") next; print }' "$@"
}
args=()
while IFS= read -r line || [ -n "$line" ]; do
    [[ -z "$line" || "$line" == \#* ]] && continue
    args+=("$line")
done <"$TOP/tests/golden/$CASE.args"

log "1. golden"
"$HAKARI" --once --path.rootfs="$FIX" "${args[@]}" >"$TMP/raw.prom" 2>"$TMP/once.err" ||
    { cat "$TMP/once.err" >&2; fail "hakari --once failed"; }
strip "$TMP/raw.prom" >"$TMP/out.prom"
diff -u "$TOP/tests/golden/$CASE.prom" "$TMP/out.prom" >&2 || fail "output differs from the golden file"
promtool check metrics <"$TOP/tests/golden/$CASE.prom" >&2 || fail "promtool check metrics on the golden file"
grep -qx 'node_textfile_scrape_error 1' "$TMP/raw.prom" || fail "scrape error not set for broken.prom"
grep -qx "hakari_textfile_errors_total{file=\"$DIR/broken.prom\"} 1" "$TMP/raw.prom" ||
    fail "hakari_textfile_errors_total for broken.prom is not 1"
grep -qx "hakari_textfile_errors_total{file=\"$DIR/apt.prom\"} 0" "$TMP/raw.prom" ||
    fail "hakari_textfile_errors_total for apt.prom missing"
grep -q '^broken_' "$TMP/raw.prom" && fail "series of the broken file were emitted"
grep -qx 'hakari_collector_up{collector="textfile"} 1' "$TMP/raw.prom" || fail "textfile collector not up"
grep -q "msg=\"textfile skipped\" file=$DIR/broken.prom line=4 err=" "$TMP/once.err" ||
    { cat "$TMP/once.err" >&2; fail "no log line naming broken.prom:4"; }
[ "$(grep -c 'textfile skipped' "$TMP/once.err")" -eq 1 ] || fail "expected exactly one log line"

log "2. mtimes"
mkdir -p "$TMP/root"
cp -a "$FIX/." "$TMP/root/"
i=0
for f in "$TMP/root$DIR"/*.prom; do
    i=$((i + 1))
    touch -d "@$((1700000000 + i))" "$f"
done
"$HAKARI" --once --path.rootfs="$TMP/root" "${args[@]}" >"$TMP/raw2.prom" 2>/dev/null
i=0
for f in "$TMP/root$DIR"/*.prom; do
    i=$((i + 1))
    b=$(basename "$f")
    line="node_textfile_mtime_seconds{file=\"$DIR/$b\"} $((1700000000 + i))"
    if [ "$b" = broken.prom ]; then
        grep -q "file=\"$DIR/$b\"} " <(grep '^node_textfile_mtime_seconds' "$TMP/raw2.prom") &&
            fail "mtime reported for the broken file"
    else
        grep -qxF "$line" "$TMP/raw2.prom" || fail "missing: $line"
    fi
done
[ "$(grep -c '^node_textfile_mtime_seconds' "$TMP/raw2.prom")" -eq 4 ] || fail "expected 4 mtimes"

log "3. live"
LIVE="$TMP/live"
mkdir -p "$LIVE"
port=$(free_port)
bg hakari "$HAKARI" --web.listen-address="127.0.0.1:$port" --collection.interval=200ms \
    --collector.textfile.directory="$LIVE"
wait_http "http://127.0.0.1:$port/metrics" 30
scrape() { curl -fsS "http://127.0.0.1:$port/metrics" >"$TMP/scrape.prom"; }
has() { scrape && grep -qxF "$1" "$TMP/scrape.prom"; }
lacks() { scrape && ! grep -q "^$1" "$TMP/scrape.prom"; }
printf '# TYPE job_ok gauge\njob_ok{job="a"} 1\n' >"$LIVE/.job.prom.tmp"
mv "$LIVE/.job.prom.tmp" "$LIVE/job.prom"
until_true 20 has 'job_ok{job="a"} 1' || fail "new file not picked up"
has 'node_textfile_scrape_error 0' || fail "scrape error set without a bad file"
printf '# TYPE job_ok gauge\njob_ok{job="a"} 2\njob_ok{job=b} 3\n' >"$LIVE/.job.prom.tmp"
mv "$LIVE/.job.prom.tmp" "$LIVE/job.prom"
until_true 20 has 'node_textfile_scrape_error 1' || fail "broken file not reported"
lacks 'job_ok' || fail "series of a broken file still exposed"
grep -qE "^hakari_textfile_errors_total\{file=\"$LIVE/job.prom\"\} [1-9]" "$TMP/scrape.prom" ||
    fail "per-file error counter not increased"
printf '# TYPE job_ok gauge\njob_ok{job="a"} 4\n' >"$LIVE/.job.prom.tmp"
mv "$LIVE/.job.prom.tmp" "$LIVE/job.prom"
until_true 20 has 'job_ok{job="a"} 4' || fail "fixed file not picked up again"
has 'node_textfile_scrape_error 0' || fail "scrape error still set"
# One warning when it broke and one info line when it recovered, however many cycles passed.
[ "$(grep -c 'textfile skipped' "$TMP/hakari.log")" -eq 1 ] ||
    { cat "$TMP/hakari.log" >&2; fail "log not once per state change"; }
grep -q 'textfile readable again' "$TMP/hakari.log" || fail "no recovery log line"

log "4. a textfile may not override hakari's or another collector's families"
printf 'node_load1 12345\nhakari_build_info{version="evil",revision="x"} 1\nprocess_cpu_seconds_total 3\nmine_ok 7\n' \
    >"$LIVE/.evil.prom.tmp"
mv "$LIVE/.evil.prom.tmp" "$LIVE/evil.prom"
until_true 20 has 'mine_ok 7' || fail "the file's own family not exposed"
has 'node_textfile_scrape_error 1' || fail "refused families not reported in node_textfile_scrape_error"
lacks 'node_load1 12345' || fail "textfile overrode node_load1"
lacks 'hakari_build_info{revision="x",version="evil"}' || fail "textfile overrode hakari_build_info"
lacks 'process_cpu_seconds_total 3$' || fail "textfile overrode process_cpu_seconds_total"
grep -qE '^hakari_textfile_families_refused_total [1-9]' "$TMP/scrape.prom" || fail "refusals not counted"
[ "$(grep -c 'textfile family refused' "$TMP/hakari.log")" -eq 3 ] ||
    fail "refusals not logged once each: $(grep -c 'textfile family refused' "$TMP/hakari.log")"
echo "textfile: golden, mtimes, live reload and refused overrides OK"
