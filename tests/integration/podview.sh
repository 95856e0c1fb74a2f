#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The DaemonSet sees the node, not its own pod. The rendered base DaemonSet is reproduced as a
# runtime would run it (tests/tools/podspec_plan.py: the image's rootfs, the spec's host mounts
# bound recursively under a private mount namespace, read-only root, capabilities bounded to the
# spec's, no_new_privs, the spec's args), in the host's network namespace when the spec says
# hostNetwork and in one of its own (`unshare --net`, as a pod without hostNetwork gets) otherwise,
# and `hakari --once` there is compared with `hakari --once` run on the host directly: the
# node_network_* and node_filesystem_* series (devices, mountpoints, fstypes; sizes, inode totals,
# read-only and device-error flags) must be the same. The DaemonSet as shipped before
# (tests/fixtures/podspec-pre-hostnetwork: no hostNetwork, only /proc, /sys and runtime
# directories under /host) must fail the same comparison: the test tells the two apart.
source "$(dirname "$0")/../lib.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root for chroot, mounts and network namespaces"
command -v setpriv >/dev/null || fail "setpriv (util-linux) missing"
R="$TMP/rootfs"
"$TOP/deploy/mkrootfs.sh" "$HAKARI" "$R" >/dev/null
install -D -m 0755 "$(command -v setpriv)" "$R/usr/bin/setpriv"
ldd "$(command -v setpriv)" | awk '/=>/ && $3 ~ /^\// {print $3}' | while read -r lib; do
    install -D -m 0644 "$lib" "$R$lib"
done

# Only the collectors of the compared families (node_network_*: netdev and, where built,
# netclass; node_filesystem_*: filesystem): the others cost time and compare nothing here.
off=()
for c in $("$HAKARI" --help | awk '/^Collectors/ {on = 1; next} on && /^  [a-z]/ {print $1}'); do
    case $c in netdev | netclass | filesystem) ;; *) off+=("--no-collector.$c") ;; esac
done

# once_in_pod NAME KUSTOMIZATION: the spec's `hakari --once` output in $TMP/NAME.prom.
once_in_pod() {
    local name=$1 kdir=$2 scratch="$TMP/scratch-$1" a net=()
    mkdir -p "$scratch"
    local plan=("$TOP/tests/tools/podspec_plan.py" "$kdir" "$R" "$scratch" "$(free_port)" --arg=--once)
    for a in "${off[@]}"; do plan+=("--arg=$a"); done
    "$PY" "${plan[@]}" >"$TMP/start-$name.sh" || fail "podspec_plan.py $kdir"
    [ "$(cat "$scratch/hostnetwork")" = true ] || net=(--net)
    echo "$name: hostNetwork=$(cat "$scratch/hostnetwork"), args: $(tr '\n' ' ' <"$scratch/args")"
    timeout 60 unshare --mount "${net[@]}" --fork bash "$TMP/start-$name.sh" \
        >"$TMP/$name.prom" 2>"$TMP/$name.err" || { tail "$TMP/$name.err" >&2; fail "$name: hakari --once failed"; }
}

# compare A B: exit 0 when the node_network_* / node_filesystem_* views agree; prints the
# differences otherwise.
compare() {
    "$PY" - "$1" "$2" <<'PY'
import re, sys

STABLE = ("node_filesystem_size_bytes", "node_filesystem_files", "node_filesystem_readonly",
          "node_filesystem_device_error")
LINE = re.compile(r'^(node_(?:network|filesystem)_[a-zA-Z0-9_]*)(\{[^}]*\})? (\S+)')

def load(path):
    out = {}
    for line in open(path, encoding="utf-8"):
        m = LINE.match(line)
        if m:
            out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out

pod, host = load(sys.argv[1]), load(sys.argv[2])
bad = []
for key in sorted(set(pod) | set(host)):
    if key not in pod:
        bad.append("only on the host: %s%s" % key)
    elif key not in host:
        bad.append("only in the pod:  %s%s" % key)
    elif key[0] in STABLE and pod[key] != host[key]:
        bad.append("differs: %s%s pod %g host %g" % (key + (pod[key], host[key])))
devs = lambda d: sorted({re.search(r'device="([^"]*)"', k[1]).group(1) for k in d
                         if k[0] == "node_network_receive_bytes_total"})
mps = lambda d: sorted({re.search(r'mountpoint="([^"]*)"', k[1]).group(1) for k in d
                        if k[0] == "node_filesystem_size_bytes"})
errs = lambda d: sum(1 for k, v in d.items() if k[0] == "node_filesystem_device_error" and v)
print("  network devices: pod %s, host %s" % (devs(pod), devs(host)))
print("  mountpoints: pod %d, host %d; device_error 1: pod %d, host %d"
      % (len(mps(pod)), len(mps(host)), errs(pod), errs(host)))
if not devs(host) or not mps(host):
    sys.exit("the host run has no network devices or no mountpoints: nothing compared")
for b in bad[:15]:
    print("  " + b)
if len(bad) > 15:
    print("  ... %d differences in all" % len(bad))
sys.exit(1 if bad else 0)
PY
}

"$HAKARI" --once "${off[@]}" >"$TMP/host.prom" 2>"$TMP/host.err" || fail "hakari --once on the host failed"

log "the DaemonSet of deploy/kubernetes"
once_in_pod current "$TOP/deploy/kubernetes"
compare "$TMP/current.prom" "$TMP/host.prom" || fail "the DaemonSet's view of the node differs from the host's"

log "the DaemonSet as shipped before (no hostNetwork, no host /)"
once_in_pod old "$TOP/tests/fixtures/podspec-pre-hostnetwork"
if compare "$TMP/old.prom" "$TMP/host.prom"; then
    fail "the old spec's view matches the host's too: the comparison tells nothing"
fi
echo "PASS podview: the DaemonSet's node_network_*/node_filesystem_* are the host's; the old spec's are not"
