#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# container_fs_* (the writable layer) and container_ulimits_soft on real things: a container made
# the way runc makes one — a process in its own cgroup (kubelet cgroupfs layout on v1 hosts,
# systemd layout on v2) and its own mount namespace whose "/" is a real overlay mount
# (lowerdir/upperdir/workdir under $TMP), with `ulimit -n 777` — writes 3 MiB and 150 files, then
# 1 MiB and 70 files more. hakari's figures must equal what du, find, stat -f, findmnt and
# prlimit say about the same upper directory, filesystem and process (a generous walking budget:
# a loaded machine must not turn the one --once cycle into "not measured yet"). Always cleans up.
. "$(dirname "$0")/../lib.sh"
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR

[ "$(id -u)" -eq 0 ] || skip "needs root to create cgroups and mount overlayfs"
[ -x "$HAKARI" ] || fail "no binary at $HAKARI"
for t in unshare chroot findmnt du prlimit stat find; do
    command -v "$t" >/dev/null || fail "$t missing (util-linux / coreutils / findutils)"
done
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
grep -qw overlay /proc/filesystems || skip "kernel without overlayfs"

UID_=$("$PY" -c 'import uuid; print(uuid.uuid4())')
CID=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
# v1 hosts: the cpu hierarchy (the one the collector walks); else the cgroup2 mount.
CGROOT=$(cgroup_v1_mount cpu)
if [ -n "$CGROOT" ]; then
    REL=/kubepods/burstable/pod$UID_/$CID
else
    CGROOT=/sys/fs/cgroup
    u=${UID_//-/_}
    REL=/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$u.slice/cri-containerd-$CID.scope
fi
[ -n "$CGROOT" ] && [ -d "$CGROOT" ] || fail "no cpu cgroup hierarchy"
log "container cgroup $CGROOT$REL"

CREATED=()
CHILD=
O_=$TMP/ovl
cleanup_all() {
    if [ -n "$CHILD" ]; then
        kill -KILL "$CHILD" 2>/dev/null || true
        wait "$CHILD" 2>/dev/null || true
    fi
    rmdir_reverse "${CREATED[@]}"
    cleanup
}
trap cleanup_all EXIT

cur=$CGROOT
IFS=/ read -ra parts <<<"${REL#/}"
for p in "${parts[@]}"; do
    cur=$cur/$p
    [ -d "$cur" ] && continue
    mkdir "$cur" || fail "mkdir $cur"
    CREATED+=("$cur")
done

mkdir -p "$O_/lower" "$O_/upper" "$O_/work" "$O_/merged"
# The container's program: fills its root, says so in a marker file, waits for "go", writes more.
cat >"$O_/lower/work.sh" <<'EOF'
head -c 3145728 /dev/zero >/data
mkdir /files
i=0
while [ $i -lt 150 ]; do : >/files/f$i; i=$((i + 1)); done
echo x >/files/hard && ln /files/hard /files/hard2
: >/ready
while [ ! -e /go ]; do sleep 0.1; done
head -c 1048576 /dev/zero >/data2
mkdir /more
i=0
while [ $i -lt 69 ]; do : >/more/m$i; i=$((i + 1)); done
: >/done2
exec sleep 600
EOF
# Like runc: join the cgroup, mount the overlay in a private mount namespace, enter it as "/".
unshare -m --propagation private sh -c '
    set -e
    echo $$ >"$1/cgroup.procs"
    O=$2
    mount -t overlay overlay -o "lowerdir=$O/lower,upperdir=$O/upper,workdir=$O/work" "$O/merged"
    for d in usr bin sbin lib lib32 lib64 dev; do
        [ -e "/$d" ] || continue
        if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$O/merged/$d"
        else mkdir -p "$O/merged/$d" && mount --rbind "/$d" "$O/merged/$d"; fi
    done
    ulimit -n 777
    exec chroot "$O/merged" /bin/sh /work.sh' sh "$CGROOT$REL" "$O_" 2>"$TMP/child.err" &
CHILD=$!
until_true 20 test -e "$O_/upper/ready" || { cat "$TMP/child.err" >&2; fail "container did not start"; }

val() { # file family [extra label regex]
    { grep -E "^$2\{.*[{,]id=\"$3\"" "$1" | grep -E "${4:-.}" | awk '{print $2}' | head -1; } || true
}
label() { # file family id label
    { grep -E "^$2\{.*[{,]id=\"$3\"" "$1" | head -1 | sed -E "s/.*[{,]$4=\"([^\"]*)\".*/\1/"; } || true
}

check() { # out phase
    local out=$1 usage inodes du_b find_n
    "$HAKARI" --once --no-collector.loadavg --collector.cgroup.fs_usage_budget=10s >"$out" 2>"$TMP/err" || { cat "$TMP/err" >&2; fail "hakari --once"; }
    du_b=$(du -s -B1 "$O_/upper" | awk '{print $1}')
    find_n=$(find "$O_/upper" | wc -l)
    usage=$(val "$out" container_fs_usage_bytes "$REL")
    inodes=$(val "$out" container_fs_inodes_total "$REL")
    log "$2: usage $usage (du $du_b), inodes $inodes (find $find_n)"
    if [ -z "$usage" ]; then
        grep -E "^container_(processes|ulimits_soft)\{.*id=\"$REL\"" "$out" >&2 || true
        echo "cgroup.procs: $(cat "$CGROOT$REL/cgroup.procs" | tr '\n' ' ')" >&2
        fail "no container_fs_usage_bytes for $REL"
    fi
    [ "$usage" = "$du_b" ] || fail "$2: container_fs_usage_bytes $usage, du -s -B1 says $du_b"
    # find lists the hard-linked file twice; the layer holds it once (as du counts it).
    [ "$inodes" = $((find_n - 1)) ] || fail "$2: container_fs_inodes_total $inodes, find lists $find_n entries (one hard link)"
    USAGE=$usage INODES=$inodes
}

check "$TMP/a.prom" "after 3 MiB + 150 files"
A=$TMP/a.prom
"$PY" -c "import sys; sys.exit(0 if $USAGE >= 3145728 and $INODES >= 150 else 1)" ||
    fail "usage $USAGE / inodes $INODES do not cover what the container wrote"
dev=$(label "$A" container_fs_usage_bytes "$REL" device)
want_dev=$(findmnt -n -o SOURCE --target "$O_/upper")
[ "$dev" = "$want_dev" ] || fail "device \"$dev\", findmnt says \"$want_dev\""
read -r blocks bsize ffree < <(stat -f -c '%b %s %d' "$O_/upper")
limit=$(val "$A" container_fs_limit_bytes "$REL")
[ "$limit" = $((blocks * bsize)) ] || fail "container_fs_limit_bytes $limit, stat -f says $((blocks * bsize))"
free=$(val "$A" container_fs_inodes_free "$REL")
# Other processes create and delete files on the same filesystem meanwhile.
"$PY" -c "import sys; sys.exit(0 if abs($free - $ffree) < 100000 else 1)" ||
    fail "container_fs_inodes_free $free, stat -f says $ffree"
soft=$(val "$A" container_ulimits_soft "$REL" 'ulimit="max_open_files"')
want=$(prlimit --pid "$CHILD" --nofile -o SOFT --noheadings | tr -d ' ')
[ "$soft" = 777 ] && [ "$soft" = "$want" ] || fail "container_ulimits_soft $soft, prlimit says $want (set 777)"
root_soft=$(val "$A" container_ulimits_soft / 'ulimit="max_open_files"')
want=$(prlimit --pid 1 --nofile -o SOFT --noheadings | tr -d ' ')
[ "$want" = unlimited ] && want=-1
[ "$root_soft" = "$want" ] || fail "root container_ulimits_soft $root_soft, prlimit --pid 1 says $want"
# Pod and QoS rows have no main process: no ulimits, no layer (cAdvisor's raw handler).
grep -E "^container_(ulimits_soft|fs_usage_bytes)\{.*id=\"${REL%/*}\"" "$A" && fail "pod row with process figures"
promtool_check "$A" || fail "promtool check metrics"

: >"/proc/$CHILD/root/go"
until_true 20 test -e "$O_/upper/done2" || fail "container did not write its second batch"
u1=$USAGE i1=$INODES
check "$TMP/b.prom" "after 1 MiB + 70 more"
"$PY" -c "import sys; sys.exit(0 if $USAGE - $u1 >= 1048576 and $INODES - $i1 >= 71 else 1)" ||
    fail "layer growth not seen: usage $u1 -> $USAGE, inodes $i1 -> $INODES"
echo "cgroup writable layer and ulimits: ok"
