#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Least privilege after start-up: the running agent holds only CAP_SYS_PTRACE and
# CAP_DAC_READ_SEARCH (effective = permitted = bounding), has no_new_privs set, and with
# --runas.user runs under that uid while still serving /metrics; without CAP_NET_ADMIN the
# topology's conntrack lookups fall back to /proc/self/net/nf_conntrack and can read it.
source "$(dirname "$0")/../lib.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root to start with full capabilities"
# CAP_DAC_READ_SEARCH = bit 2, CAP_SYS_PTRACE = bit 19
want=$(printf '%016x' $(((1 << 2) | (1 << 19))))

check_status() { # pid expected_uid
    local st=/proc/$1/status
    local eff prm bnd nnp uid
    eff=$(awk '/^CapEff:/{print $2}' "$st")
    prm=$(awk '/^CapPrm:/{print $2}' "$st")
    bnd=$(awk '/^CapBnd:/{print $2}' "$st")
    nnp=$(awk '/^NoNewPrivs:/{print $2}' "$st")
    uid=$(awk '/^Uid:/{print $3}' "$st")
    [ "$eff" = "$want" ] || fail "CapEff $eff, want $want"
    [ "$prm" = "$want" ] || fail "CapPrm $prm, want $want"
    [ "$bnd" = "$want" ] || fail "CapBnd $bnd, want $want"
    [ "$nnp" = 1 ] || fail "NoNewPrivs $nnp"
    [ "$uid" = "$2" ] || fail "effective uid $uid, want $2"
    # Capabilities are per thread: every thread (HTTP pool, scheduler, …) must hold the same set.
    local t teff
    for t in /proc/$1/task/*; do
        teff=$(awk '/^CapEff:/{print $2}' "$t/status")
        [ "$teff" = "$want" ] || fail "thread $(basename "$t") CapEff $teff, want $want"
        [ "$(awk '/^CapBnd:/{print $2}' "$t/status")" = "$want" ] || fail "thread $(basename "$t") bounding set"
    done
    [ "$(ls /proc/$1/task | wc -l)" -gt 1 ] || fail "expected several threads"
}

for user in "" nobody; do
    port=$(free_port)
    args=(--web.listen-address="127.0.0.1:$port" --collection.interval=1s)
    [ -n "$user" ] && args+=(--runas.user="$user")
    bg "hakari-$user" "$HAKARI" "${args[@]}"
    pid=$BG_PID
    wait_http "http://127.0.0.1:$port/-/ready" 20
    check_status "$pid" "$([ -n "$user" ] && id -u "$user" || echo 0)"
    # To a file first: `curl | grep -q` fails under pipefail once the body outgrows a pipe.
    curl -fsS -o "$TMP/metrics-$user.prom" "http://127.0.0.1:$port/metrics"
    grep -q '^node_load1 ' "$TMP/metrics-$user.prom" || fail "no metrics as ${user:-root}"
    grep -q 'msg="privileges dropped"' "$TMP/hakari-$user.log" || fail "no log line for the drop"
    # Without CAP_NET_ADMIN the topology's conntrack lookups read /proc/self/net/nf_conntrack
    # (mode 0440 root): as root, and as another user through the kept CAP_DAC_READ_SEARCH. The
    # scrapes themselves are new client edges (this shell's cgroup), so a scan happens.
    if grep -q '^hakari_topology_conntrack_scans_total' "$TMP/metrics-$user.prom" && [ -r /proc/net/nf_conntrack ]; then
        scanned() { # plus a refused connect to a port not asked before: a new edge every try
            curl -s -o /dev/null "http://127.0.0.1:$(free_port)/" 2>/dev/null || true
            curl -fsS -o "$TMP/metrics-$user.prom" "http://127.0.0.1:$port/metrics" &&
                ! grep -q '^hakari_topology_conntrack_scans_total{result="complete"} 0$' "$TMP/metrics-$user.prom"
        }
        until_true 30 scanned || { grep -E "conntrack|container_tcp_peer_conn" "$TMP/metrics-$user.prom" >&2; fail "no conntrack table scan as ${user:-root}"; }
        grep -q '^hakari_topology_conntrack_scans_total{result="failed"} 0$' "$TMP/metrics-$user.prom" ||
            { grep -F 'conntrack' "$TMP/hakari-$user.log" >&2; fail "conntrack table not readable as ${user:-root}"; }
        grep -q 'ctnetlink lookups not permitted' "$TMP/hakari-$user.log" || fail "ctnetlink still permitted as ${user:-root}"
    fi
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
done
# An unknown user is a configuration error caught by --config.check.
if "$HAKARI" --config.check --runas.user=no-such-user-hk >/dev/null 2>&1; then
    fail "--config.check accepted an unknown --runas.user"
fi
echo ok
