#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Load and fault behaviour of the HTTP side: wrk with 64 connections for 30 s while collection
# runs every second (zero errors, RSS bounded, p99 reported); slow-loris clients holding
# half-sent requests do not block other scrapers; SIGTERM during scrapes exits cleanly and fast.
source "$(dirname "$0")/../lib.sh"
command -v wrk >/dev/null || skip "wrk not installed (mk/packages-test.txt installs it)"
port=$(free_port)
bg hakari "$HAKARI" --web.listen-address="127.0.0.1:$port" --collection.interval=1s
pid=$BG_PID
url="http://127.0.0.1:$port/metrics"
wait_http "http://127.0.0.1:$port/-/ready" 20
rss() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }
rss0=$(rss "$pid")

wrk -t2 -c64 -d30s --timeout 10s --latency "$url" >"$TMP/wrk.txt" 2>&1 || fail "wrk failed: $(cat "$TMP/wrk.txt")"
cat "$TMP/wrk.txt" >&2
grep -q 'Socket errors' "$TMP/wrk.txt" && fail "socket errors under load: $(grep 'Socket errors' "$TMP/wrk.txt")"
grep -q 'Non-2xx' "$TMP/wrk.txt" && fail "non-2xx responses under load"
reqs=$(awk '/requests in/{print $1}' "$TMP/wrk.txt")
[ "${reqs:-0}" -gt 100 ] || fail "only ${reqs:-0} requests completed in 30 s"
p99=$(awk '$1=="99%"{print $2}' "$TMP/wrk.txt")
rss1=$(rss "$pid")
echo "load: $reqs requests, p99 $p99, RSS ${rss0} kB -> ${rss1} kB" >&2
[ "$rss1" -lt $((rss0 + 65536)) ] || fail "RSS grew from $rss0 kB to $rss1 kB under load"

# Slow-loris: 20 clients dribbling headers; normal scrapes still succeed promptly.
python3 - "$port" >"$TMP/loris.log" 2>&1 <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
socks = []
for i in range(20):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    socks.append(s)
end = time.time() + 12
while time.time() < end:
    for s in socks:
        try:
            s.sendall(b"X-Slow: 1\r\n")
        except OSError:
            pass
    time.sleep(1)
PY
loris=$!
_PIDS+=("$loris")
sleep 1
for i in $(seq 5); do
    curl -fsS --max-time 5 -o /dev/null "$url" || fail "scrape $i blocked by slow clients"
done
kill "$loris" 2>/dev/null || true

# SIGTERM while scrapes are in flight: exits 0 within 5 s.
wrk -t1 -c8 -d5s "$url" >/dev/null 2>&1 &
_PIDS+=("$!")
sleep 1
kill -TERM "$pid"
for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "hakari still running 5 s after SIGTERM"
wait "$pid"
rc=$?
[ "$rc" -eq 0 ] || fail "exit status $rc after SIGTERM"
grep -q 'shutting down' "$TMP/hakari.log" || fail "no shutdown log line"
echo "ok: $reqs requests, p99 $p99"
