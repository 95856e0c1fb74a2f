#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Slow and idle clients do not lock scrapes out. 70 connections trickling one header byte per
# second (reopened as soon as they are closed) used to keep /metrics unreachable for as long as
# they went on, and 64 idle ones for 30 s: now a connection past --web.max-connections evicts
# the one that has waited longest for a request, and one without a complete header within
# --web.read-header-timeout is closed; both are counted and logged. Eviction picks the address
# holding the most connections. Bounded: ~20 s.
source "$(dirname "$0")/../lib.sh"

cd "$TMP"
cat >loris.py <<'PY'
import socket, sys, time
# loris.py PORT N MODE SECONDS [reconnect]: N connections to 127.0.0.1:PORT. MODE trickle sends a
# request line, then one header byte per second on each; idle sends nothing. A connection the
# server closes is counted, and opened again with "reconnect".
port, n, mode, secs = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
reconnect = len(sys.argv) > 5
def opened():
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    s.setblocking(False)
    if mode == "trickle":
        s.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    return s
socks = [opened() for _ in range(n)]
print("open", len(socks), flush=True)
closed = 0
end = time.time() + secs
while time.time() < end:
    time.sleep(1)
    for i, s in enumerate(socks):
        if s is None:
            continue
        dead = False
        try:
            dead = s.recv(4096) == b""
        except BlockingIOError:
            pass
        except OSError:
            dead = True
        if not dead and mode == "trickle":
            try:
                s.send(b"X")
            except OSError:
                dead = True
        if dead:
            closed += 1
            s.close()
            socks[i] = opened() if reconnect else None
print("closed_by_server", closed, flush=True)
PY
port=$(free_port)
url="http://127.0.0.1:$port"
bg hakari "$HAKARI" --web.listen-address="127.0.0.1:$port" --collection.interval=1s
wait_http "$url/-/ready" 30
scrape() { # path: must answer 200 within 2 s
    local out
    out=$(curl -sS -o /dev/null --max-time 2 -w '%{http_code} %{time_total}' "$url$1" 2>&1) ||
        fail "$1 not answered within 2 s during the attack: $out"
    [ "${out%% *}" = 200 ] || fail "$1: $out"
    echo "$1: $out"
}
counter() { # reason
    curl -fsS "$url/metrics/self" |
        sed -n "s/^hakari_http_connections_closed_total{reason=\"$1\"} //p"
}

log "70 connections trickling their headers, reopened when closed"
"$PY" loris.py "$port" 70 trickle 8 reconnect >trickle.out 2>&1 &
loris=$!
_PIDS+=("$loris")
until_true 10 grep -q '^open 70' trickle.out || fail "attack did not start: $(cat trickle.out)"
sleep 1
for path in /metrics /-/healthy /metrics/node /metrics; do scrape "$path"; sleep 1; done
wait "$loris" || fail "attacker failed: $(cat trickle.out)"
cat trickle.out
until_true 10 eval '[ "$(counter evicted)" -ge 6 ]' || fail "evictions not counted: $(counter evicted)"
grep -q 'HTTP connections closed' hakari.log || fail "evictions not logged"

log "64 idle connections"
"$PY" loris.py "$port" 64 idle 4 >idle.out 2>&1 &
loris=$!
_PIDS+=("$loris")
until_true 10 grep -q '^open 64' idle.out || fail "idle connections not opened: $(cat idle.out)"
before=$(counter evicted)
scrape /-/ready
scrape /metrics
wait "$loris" || true
until_true 10 eval '[ "$(counter evicted)" -gt "$before" ]' || fail "idle evictions not counted"

log "a flood from one address evicts its own connections before another address's"
"$PY" - "$port" <<'PY' || fail "eviction picked the wrong address"
import socket, sys, time
port = int(sys.argv[1])
def conn(src):
    s = socket.socket()
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s
def closed(s):
    s.setblocking(False)
    try:
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
mine = conn("127.0.0.1")  # the oldest: a scraper's idle keep-alive connection
time.sleep(0.3)
flood = [conn("127.0.0.2") for _ in range(63)]
time.sleep(0.3)
flood += [conn("127.0.0.2") for _ in range(10)]
time.sleep(1)
n = sum(closed(s) for s in flood)
print("127.0.0.2: %d of %d closed; 127.0.0.1: %s" % (n, len(flood), "closed" if closed(mine) else "open"))
assert not closed(mine)
assert n >= 10
PY

log "the header deadline closes a trickling connection"
port2=$(free_port)
bg hakari2 "$HAKARI" --web.listen-address="127.0.0.1:$port2" --web.read-header-timeout=2s \
    --collection.interval=1s
wait_http "http://127.0.0.1:$port2/-/ready" 30
"$PY" loris.py "$port2" 5 trickle 6 >deadline.out 2>&1 || fail "attacker: $(cat deadline.out)"
cat deadline.out
grep -q '^closed_by_server 5$' deadline.out || fail "trickling connections not closed in 6 s"
timeouts() {
    curl -fsS "http://127.0.0.1:$port2/metrics/self" |
        sed -n 's/^hakari_http_connections_closed_total{reason="header_timeout"} //p'
}
until_true 10 eval '[ "$(timeouts)" = 5 ]' || fail "header timeouts counted: $(timeouts), want 5"
until_true 10 grep -q 'header_timeout=5' hakari2.log || fail "header timeouts not logged"
if "$HAKARI" --web.read-header-timeout=5x --config.check >out 2>&1; then fail "5x accepted"; fi
grep -q 'web.read-header-timeout' out || fail "bad flag error: $(cat out)"
