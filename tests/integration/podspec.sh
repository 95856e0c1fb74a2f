#!/usr/bin/env bash
# The DaemonSet's pod spec works as written: the agent from the image's rootfs, started the way a
# container runtime would start it (tests/tools/podspec_plan.py: the spec's volumes, read-only
# mounts and root, environment, args, capabilities bounded to the spec's list, no_new_privs)
# becomes healthy and ready on the probe paths, serves node and container metrics read through
# /host, and ends up holding only the capabilities docs/operations.md says it keeps.
source "$(dirname "$0")/../lib.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root for chroot and mounts"
command -v setpriv >/dev/null || fail "setpriv (util-linux) missing"
R="$TMP/rootfs"
"$TOP/deploy/mkrootfs.sh" "$HAKARI" "$R" >/dev/null
# setpriv plays the runtime's part inside the chroot; it is not part of the image.
install -D -m 0755 "$(command -v setpriv)" "$R/usr/bin/setpriv"
ldd "$(command -v setpriv)" | awk '/=>/ && $3 ~ /^\// {print $3}' | while read -r lib; do
    install -D -m 0644 "$lib" "$R$lib"
done
port=$(free_port)
mkdir -p "$TMP/scratch"
python3 "$TOP/tests/tools/podspec_plan.py" "$TOP/deploy/kubernetes" "$R" "$TMP/scratch" "$port" \
    >"$TMP/start.sh" || { rc=$?; [ $rc -eq 77 ] && skip "a host file the spec mounts is missing"; fail "plan"; }
# --kill-child: the agent gets SIGTERM whenever unshare goes, even when unshare is killed.
bg pod unshare --mount --fork --kill-child=TERM bash "$TMP/start.sh"
pid=$BG_PID
for path in $(cat "$TMP/scratch/probes"); do
    wait_http "http://127.0.0.1:$port$path" 30
done
m=$(curl -fsS "http://127.0.0.1:$port/metrics")
echo "$m" | grep -q '^node_load1 ' || fail "no node_load1 through /host/proc"
echo "$m" | grep -q '^hakari_build_info{' || fail "no hakari_build_info"
# The agent process (child of unshare and the exec chain): its capabilities after start-up.
apid=$(pgrep -P "$pid" -f /usr/bin/hakari | head -n 1)
[ -n "$apid" ] || fail "agent process not found"
st=/proc/$apid/status
want=$(printf '%016x' $(((1 << 2) | (1 << 19)))) # CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE
[ "$(awk '/^CapEff:/{print $2}' "$st")" = "$want" ] || fail "CapEff $(grep CapEff "$st")"
[ "$(awk '/^CapPrm:/{print $2}' "$st")" = "$want" ] || fail "CapPrm $(grep CapPrm "$st")"
# Without CAP_SETPCAP (not in the spec) the bounding set stays what the runtime gave: exactly the
# spec's list (numbers from linux/capability.h); no_new_privs keeps them out of reach.
bnd=0
for c in $(cat "$TMP/scratch/caps"); do
    n=$(awk -v n="CAP_${c^^}" '$1 == "#define" && $2 == n {print $3}' /usr/include/linux/capability.h)
    [ -n "$n" ] || fail "capability $c unknown to linux/capability.h"
    bnd=$((bnd | (1 << n)))
done
# (A capability this test's own bounding set lacks cannot be handed on, as with a runtime.)
bnd=$((bnd & 0x$(awk '/^CapBnd:/{print $2}' /proc/self/status)))
[ "$(awk '/^CapBnd:/{print $2}' "$st")" = "$(printf '%016x' $bnd)" ] ||
    fail "CapBnd $(grep CapBnd "$st"), spec $(printf '%016x' $bnd)"
[ "$(awk '/^NoNewPrivs:/{print $2}' "$st")" = 1 ] || fail "no_new_privs not set"
# It ran with a read-only root: nothing it does needs a writable image.
grep -q ' ro[ ,]' <(awk -v r="$R" '$5 == "/" {print}' "/proc/$apid/mountinfo") ||
    fail "root of the agent is not read-only"
grep -q 'msg="privileges dropped"' "$TMP/pod.log" || fail "no privileges-dropped log line"
# SIGTERM, as the kubelet sends it, stops the agent within the pod's grace period.
kill -TERM "$apid"
for _ in $(seq 100); do kill -0 "$apid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$apid" 2>/dev/null && fail "agent still running 10 s after SIGTERM"
echo ok
