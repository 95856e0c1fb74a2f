#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The threaded parts (HTTP pool, scheduler, reload, remote-write senders when configured) under
# ThreadSanitizer: scrapes in parallel with 1 s collection and a SIGHUP reload; any TSan report
# fails the test.
source "$(dirname "$0")/../lib.sh"
command -v wrk >/dev/null || skip "wrk not installed"
make -C "$TOP" --no-print-directory -j2 O="$O" "$O/hakari-tsan" >"$TMP/build.log" 2>&1 || {
    cat "$TMP/build.log" >&2
    fail "tsan build failed"
}
cat >"$TMP/hakari.yml" <<'YML'
global:
  collection_interval: 1s
YML
port=$(free_port)
export TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1"
bg hakari "$TOP/$O/hakari-tsan" --config.file="$TMP/hakari.yml" --web.listen-address="127.0.0.1:$port"
pid=$BG_PID
wait_http "http://127.0.0.1:$port/-/ready" 60
wrk -t2 -c16 -d6s "http://127.0.0.1:$port/metrics" >/dev/null 2>&1 &
_PIDS+=("$!")
sleep 2
printf 'global:\n  collection_interval: 2s\n' >"$TMP/hakari.yml"
kill -HUP "$pid"
curl -fsS -H 'Accept-Encoding: gzip' -o /dev/null "http://127.0.0.1:$port/metrics"
curl -fsS -H 'Accept: application/openmetrics-text' -o /dev/null "http://127.0.0.1:$port/metrics"
sleep 5
kill -TERM "$pid"
wait "$pid" || true
if grep -q 'WARNING: ThreadSanitizer' "$TMP/hakari.log"; then
    grep -A30 'WARNING: ThreadSanitizer' "$TMP/hakari.log" | head -80 >&2
    fail "ThreadSanitizer reported a problem"
fi
grep -q 'configuration reloaded' "$TMP/hakari.log" || fail "reload did not happen"
echo ok
