#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The DaemonSet's pod spec works as written: the agent from the image's rootfs, started the way a
# container runtime would start it (tests/tools/podspec_plan.py: the spec's volumes, read-only
# mounts and root, environment, args, capabilities bounded to the spec's list, no_new_privs)
# becomes healthy and ready on the probe paths, serves node metrics read through /host, loads the
# same eBPF programs as an unconfined root agent would, ends up
# holding only the capabilities docs/operations.md says it keeps, and stops on SIGTERM. When the
# binary has remote write, overlays/mimir runs too against a local receiver: the tenant header
# arrives and the durable queue is written to the /var/lib/hakari hostPath under a read-only root.
source "$(dirname "$0")/../lib.sh"
# Debian's interpreter: python3-yaml (mk/packages-test.txt) is installed for it.
[ "$(id -u)" -eq 0 ] || skip "needs root for chroot and mounts"
command -v setpriv >/dev/null || fail "setpriv (util-linux) missing"
R="$TMP/rootfs"
"$TOP/deploy/mkrootfs.sh" "$HAKARI" "$R" >/dev/null
# setpriv plays the runtime's part inside the chroot; it is not part of the image.
install -D -m 0755 "$(command -v setpriv)" "$R/usr/bin/setpriv"
ldd "$(command -v setpriv)" | awk '/=>/ && $3 ~ /^\// {print $3}' | while read -r lib; do
    install -D -m 0644 "$lib" "$R$lib"
done
want=$(printf '%016x' $(((1 << 2) | (1 << 19)))) # CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE

# run_pod NAME KUSTOMIZATION [RW_URL]: start it, wait for both probes; sets PORT, APID, SCRATCH.
run_pod() {
    local name=$1 kdir=$2 rw_url=${3:-} rc=0
    PORT=$(free_port)
    SCRATCH="$TMP/scratch-$name"
    mkdir -p "$SCRATCH"
    "$PY" "$TOP/tests/tools/podspec_plan.py" "$kdir" "$R" "$SCRATCH" "$PORT" $rw_url \
        >"$TMP/start-$name.sh" || rc=$?
    [ $rc -eq 77 ] && skip "a host file the spec mounts is missing"
    [ $rc -eq 0 ] || fail "podspec_plan.py $kdir"
    # --kill-child: the agent gets SIGTERM whenever unshare goes, even when unshare is killed.
    bg "$name" unshare --mount --fork --kill-child=TERM bash "$TMP/start-$name.sh"
    local upid=$BG_PID path
    for path in $(cat "$SCRATCH/probes"); do
        wait_http "http://127.0.0.1:$PORT$path" 30
    done
    APID=$(pgrep -P "$upid" -f /usr/bin/hakari | head -n 1)
    [ -n "$APID" ] || fail "agent process not found"
}

stop_pod() {
    kill -TERM "$APID"
    for _ in $(seq 100); do kill -0 "$APID" 2>/dev/null || return 0; sleep 0.1; done
    fail "agent still running 10 s after SIGTERM"
}

# eBPF programs that load for the unconfined agent (full root) on this host ...
"$HAKARI" --once 2>/dev/null | grep '^hakari_ebpf_program_up' | sort >"$TMP/ebpf-root" || true

# ---- base ----
run_pod base "$TOP/deploy/kubernetes"
m=$(curl -fsS "http://127.0.0.1:$PORT/metrics")
# ... load just the same inside the pod: the spec's capabilities are enough for BPF.
echo "$m" | grep '^hakari_ebpf_program_up' | sort >"$TMP/ebpf-pod" || true
diff "$TMP/ebpf-root" "$TMP/ebpf-pod" >&2 || fail "eBPF programs up differ between root and the pod"
echo "eBPF programs up in the pod: $(grep -c ' 1$' "$TMP/ebpf-pod" || true)"
grep -q '^node_load1 ' <<<"$m" || fail "no node_load1 through /host/proc"
grep -q '^hakari_build_info{' <<<"$m" || fail "no hakari_build_info"
st=/proc/$APID/status
[ "$(awk '/^CapEff:/{print $2}' "$st")" = "$want" ] || fail "CapEff $(grep CapEff "$st")"
[ "$(awk '/^CapPrm:/{print $2}' "$st")" = "$want" ] || fail "CapPrm $(grep CapPrm "$st")"
# Capabilities are per thread: every thread (HTTP workers, senders) holds no more.
for t in /proc/"$APID"/task/*; do
    [ "$(awk '/^CapEff:/{print $2}' "$t/status")" = "$want" ] ||
        fail "thread $(cat "$t/comm") has CapEff $(awk '/^CapEff:/{print $2}' "$t/status")"
done
# Without CAP_SETPCAP (not in the spec) the bounding set stays what the runtime gave: exactly the
# spec's list (numbers from linux/capability.h); no_new_privs keeps them out of reach.
bnd=0
for c in $(cat "$SCRATCH/caps"); do
    n=$(awk -v n="CAP_${c^^}" '$1 == "#define" && $2 == n {print $3}' /usr/include/linux/capability.h)
    [ -n "$n" ] || fail "capability $c unknown to linux/capability.h"
    bnd=$((bnd | (1 << n)))
done
# (A capability this test's own bounding set lacks cannot be handed on, as with a runtime.)
bnd=$((bnd & 0x$(awk '/^CapBnd:/{print $2}' /proc/self/status)))
[ "$(awk '/^CapBnd:/{print $2}' "$st")" = "$(printf '%016x' $bnd)" ] ||
    fail "CapBnd $(grep CapBnd "$st"), spec $(printf '%016x' $bnd)"
[ "$(awk '/^NoNewPrivs:/{print $2}' "$st")" = 1 ] || fail "no_new_privs not set"
awk '$5 == "/" {print}' "/proc/$APID/mountinfo" | grep -q ' ro[ ,]' ||
    fail "root of the agent is not read-only"
grep -q 'msg="privileges dropped"' "$TMP/base.log" || fail "no privileges-dropped log line"
stop_pod
echo "base: ok"

# ---- overlays/mimir against a local receiver (needs the remote-write exporter) ----
printf 'remote_write:\n  - url: http://127.0.0.1:1/\n    no_such_key: 1\n' >"$TMP/probe.yml"
if "$HAKARI" --config.check --config.file="$TMP/probe.yml" >/dev/null 2>&1; then
    echo "mimir: skipped, this binary does not validate remote_write (no remote-write exporter)"
    exit 0
fi
rport=$(free_port)
cat >"$TMP/receiver.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[2], "a") as fh:
            fh.write("%s %s %d\n" % (self.headers.get("X-Scope-OrgID"),
                                     self.headers.get("Content-Encoding"), len(body)))
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
bg receiver "$PY" "$TMP/receiver.py" "$rport" "$TMP/received"
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
wait_port "$rport" || fail "receiver did not start"
run_pod mimir "$TOP/deploy/kubernetes/overlays/mimir" "http://127.0.0.1:$rport/api/v1/push"
until_true 30 grep -q '^platform snappy [1-9]' "$TMP/received" ||
    fail "no snappy write request with X-Scope-OrgID: platform: $(head -3 "$TMP/received" 2>/dev/null)"
queue=$(cat "$SCRATCH/queue")
[ -n "$(find "$queue" -type f | head -n 1)" ] || fail "nothing written to the queue hostPath"
stop_pod
echo "mimir: ok ($(wc -l <"$TMP/received") requests)"
