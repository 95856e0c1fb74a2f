#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# eBPF TCP probe: a client in cgroup A makes N successful loopback connects to a server in
# cgroup B and M connects to a closed port; it closes all but one. A must show ≥ N successes,
# ≥ M failures, ≥ N-1 closes, ≥ 1 active and no accepts; B ≥ N accepts, ≥ 1 active and no
# connects — attribution by the socket's cgroup, not by whichever task ran the softirq.
# K connections A → B established before the probe attaches are seeded into the active gauges
# (sock_diag + owner process) and leave both gauges when the client closes them.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/ebpf_lib.sh"

CPU=$(cg_mount cpu)
[ -n "$CPU" ] || CPU=$(cg_mount "")
base=/hk-ebpf-tcp-$$
A=$(mkcg "$CPU" "$base-client")
B=$(mkcg "$CPU" "$base-server")
N=20
M=7
port=$(free_port)
closed=$(free_port)

cat >"$TMP/server.py" <<PY
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", $port))
s.listen(64)
open("$TMP/listening", "w").close()
conns = [s.accept()[0] for _ in range($N)]
for c in conns[:-1]:
    c.close()
open("$TMP/served", "w").close()
time.sleep(60)
PY
cat >"$TMP/client.py" <<PY
import socket, time
conns = []
for _ in range($N):
    c = socket.create_connection(("127.0.0.1", $port))
    conns.append(c)
for _ in range($M):
    try:
        socket.create_connection(("127.0.0.1", $closed)).close()
        raise SystemExit("port $closed unexpectedly open")
    except ConnectionRefusedError:
        pass
for c in conns[:-1]:
    c.close()
open("$TMP/connected", "w").close()
time.sleep(60)
PY

K=3
preport=$(free_port)
in_cg "$B" python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $preport)); s.listen(8); open('$TMP/pre-listening', 'w').close()
c = [s.accept()[0] for _ in range($K)]; time.sleep(60)" &
_PIDS+=($!)
until_true 20 test -e "$TMP/pre-listening" || fail "pre server did not listen"
A_PRE=$(mkcg "$CPU" "$base-client/pre") # nested: rolls up into the client container
in_cg "$A_PRE" python3 -c "
import socket, time
c = [socket.create_connection(('127.0.0.1', $preport)) for _ in range($K)]
open('$TMP/pre-connected', 'w').close(); time.sleep(60)" &
PRE_PID=$!
until_true 20 test -e "$TMP/pre-connected" || fail "pre client did not connect"

driver_start --publish "$base-client=client" --publish "$base-server=server"
in_cg "$B" python3 "$TMP/server.py" &
_PIDS+=($!)
until_true 20 test -e "$TMP/listening" || fail "server did not listen"
in_cg "$A" python3 "$TMP/client.py" &
_PIDS+=($!)
until_true 30 test -e "$TMP/connected" -a -e "$TMP/served" || fail "client/server did not finish"
sleep 1 # let the FIN/ACK exchange of the closed connections settle
driver_collect "$TMP/out.txt"
grep -E "$base" "$TMP/out.txt" >&2 || true

grep -q 'hakari_ebpf_program_up{program="tcp"} 1' "$TMP/out.txt" || fail "tcp program not up"
a='id="'$base-client'"'
b='id="'$base-server'"'
ok=$(val "$TMP/out.txt" container_tcp_connects_total "$a" 'result="success"' 'container="client"')
failed=$(val "$TMP/out.txt" container_tcp_connects_total "$a" 'result="failed"')
closes=$(val "$TMP/out.txt" container_tcp_closes_total "$a")
act_a=$(val "$TMP/out.txt" container_tcp_active_connections "$a")
acc_a=$(val "$TMP/out.txt" container_tcp_accepts_total "$a")
acc_b=$(val "$TMP/out.txt" container_tcp_accepts_total "$b" 'container="server"')
act_b=$(val "$TMP/out.txt" container_tcp_active_connections "$b")
conn_b=$(val "$TMP/out.txt" container_tcp_connects_total "$b")
echo "client: success=$ok failed=$failed closes=$closes active=$act_a accepts=$acc_a"
echo "server: accepts=$acc_b active=$act_b connects=$conn_b"
ge "$ok" $N || fail "client successful connects $ok < $N"
ge "$failed" $M || fail "client failed connects $failed < $M"
ge "$closes" $((N - 1)) || fail "client closes $closes < $((N - 1))"
ge "$act_a" 1 || fail "client active $act_a < 1"
[ "$acc_a" = 0 ] || fail "client got $acc_a accepts"
ge "$acc_b" $N || fail "server accepts $acc_b < $N"
ge "$act_b" 1 || fail "server active $act_b < 1"
[ "$conn_b" = 0 ] || fail "server got $conn_b connects"
ge "$act_a" $((K + 1)) || fail "client active $act_a < $((K + 1)) (seeded connections missing)"
ge "$act_b" $((K + 1)) || fail "server active $act_b < $((K + 1)) (seeded connections missing)"

# The pre-existing connections close: both gauges drop by K.
# Waits for the pre client itself (bash reaps it), not for an empty cgroup.procs: in one CI run
# the client died of the TERM ("Terminated") while the v1 cgroup.procs still listed a task 10 s
# later. What the cgroup holds then goes to the log.
cg_kill "$A_PRE" TERM
pre_gone() { ! kill -0 "$PRE_PID" 2>/dev/null; }
until_true 30 pre_gone || fail "pre client did not exit"
for p in $(cat "$A_PRE/cgroup.procs" 2>/dev/null); do
    echo "still in $A_PRE after the pre client exited: $(ps -o pid=,stat=,wchan:32=,args= -p "$p")" >&2
done
sleep 1
driver_collect "$TMP/out2.txt"
act_a2=$(val "$TMP/out2.txt" container_tcp_active_connections "$a")
act_b2=$(val "$TMP/out2.txt" container_tcp_active_connections "$b")
echo "after closing the $K seeded connections: client active $act_a -> $act_a2, server $act_b -> $act_b2"
[ "$act_a2" = $((act_a - K)) ] || fail "client active $act_a2 != $act_a - $K"
[ "$act_b2" = $((act_b - K)) ] || fail "server active $act_b2 != $act_b - $K"
