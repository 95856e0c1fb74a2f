#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# eBPF hook ladder: the same exec and TCP workloads counted with each rung forced
# (collectors.ebpf.attach = raw_tp, then tracepoint with tracefs mounted in a private mount
# namespace); run-queue and OOM have no classic-tracepoint variant and must report down there
# with a reason, and without tracefs the tracepoint rung must say so.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/ebpf_lib.sh"
command -v unshare >/dev/null || fail "unshare (util-linux) missing"

CPU=$(cg_mount cpu)
[ -n "$CPU" ] || CPU=$(cg_mount "")
N=10

run_rung() { # RUNG [tracefs]
    local rung=$1 tracefs=${2:-} d="/hk-ebpf-ladder-$$-$1"
    local A B
    A=$(mkcg "$CPU" "$d-a")
    B=$(mkcg "$CPU" "$d-b")
    local port
    port=$(free_port)
    if [ -n "$tracefs" ]; then
        # The host may already have tracefs mounted (then it is used as is).
        DRIVER_WRAP=(unshare -m sh -c 'mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing || exit 1; exec "$0" "$@"')
    else
        DRIVER_WRAP=(unshare -m sh -c 'umount /sys/kernel/tracing 2>/dev/null; exec "$0" "$@"')
    fi
    coproc DRV { exec "${DRIVER_WRAP[@]}" "$DRIVER" --options "attach: $rung" 2>"$TMP/driver-$rung.err"; }
    _PIDS+=("$DRV_PID")
    local line
    read -r -t 60 line <&"${DRV[0]}" || { cat "$TMP/driver-$rung.err" >&2; fail "$rung: driver did not start"; }
    in_cg "$B" python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $port)); s.listen(16); open('$TMP/l-$rung', 'w').close()
c = [s.accept()[0] for _ in range($N)]; time.sleep(30)" &
    _PIDS+=($!)
    until_true 20 test -e "$TMP/l-$rung" || fail "$rung: server did not listen"
    in_cg "$A" bash -c "for i in \$(seq $N); do /bin/true; done; python3 -c '
import socket
c = [socket.create_connection((\"127.0.0.1\", $port)) for _ in range($N)]'"
    sleep 0.5
    driver_collect "$TMP/out-$rung.txt"
    local out=$TMP/out-$rung.txt
    grep -E "program_up|not loaded" "$out" "$TMP/driver-$rung.err" >&2 || true
    for p in proc tcp; do
        grep -q "hakari_ebpf_program_up{program=\"$p\"} 1" "$out" || fail "$rung: $p not up"
    done
    local execs ok acc
    execs=$(val "$out" container_process_execs_total "id=\"$d-a\"")
    ok=$(val "$out" container_tcp_connects_total "id=\"$d-a\"" 'result="success"')
    acc=$(val "$out" container_tcp_accepts_total "id=\"$d-b\"")
    echo "$rung: execs=$execs connects=$ok accepts(server)=$acc"
    ge "$execs" $N || fail "$rung: execs $execs < $N"
    ge "$ok" $N || fail "$rung: connects $ok < $N"
    ge "$acc" $N || fail "$rung: accepts $acc < $N"
    if [ "$rung" = raw_tp ]; then
        for p in sched oom; do
            grep -q "hakari_ebpf_program_up{program=\"$p\"} 1" "$out" || fail "$rung: $p not up"
        done
    else
        for p in sched oom; do
            grep -q "hakari_ebpf_program_up{program=\"$p\"} 0" "$out" || fail "$rung: $p should be down"
            grep -q "program=$p reason=\"no usable hook type\"" "$TMP/driver-$rung.err" ||
                fail "$rung: no reason logged for $p"
        done
    fi
    exec {DRV[1]}>&-
    wait "$DRV_PID" 2>/dev/null || true
}

run_rung raw_tp
run_rung tracepoint tracefs

# Without tracefs, the tracepoint rung reports why.
coproc NT { exec unshare -m sh -c 'umount /sys/kernel/tracing 2>/dev/null; exec "$0" "$@"' "$DRIVER" --options "attach: tracepoint" 2>"$TMP/notracefs.err"; }
_PIDS+=("$NT_PID")
read -r -t 60 line <&"${NT[0]}" || fail "driver without tracefs did not start"
grep -q 'program=proc reason="tracefs not mounted' "$TMP/notracefs.err" || { cat "$TMP/notracefs.err" >&2; fail "no tracefs reason logged"; }
echo "no tracefs: proc reports 'tracefs not mounted'"
