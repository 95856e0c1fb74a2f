#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The filesystem collector against real mounts: in a private mount namespace, tmpfs mounts of
# known size become a host root ($R), its proc/1/mountinfo is the kernel's own mountinfo lines
# for them (rebased to $R), and `hakari --once --path.rootfs=$R` must report their exact sizes,
# inode counts, read-only flags, an escaped mount point, a vanished mount as device_error, and
# skip the filtered types.
source "$(dirname "$0")/../lib.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root to mount tmpfs"
command -v unshare >/dev/null || fail "unshare missing (util-linux)"
R="$TMP/root"
mkdir -p "$R"
cat >"$TMP/inner.sh" <<'INNER'
set -euo pipefail
R=$1
mount -t tmpfs -o size=16m,nr_inodes=5000 hk-root "$R"
mkdir -p "$R/data" "$R/with space" "$R/ro" "$R/proc/1"
mount -t tmpfs -o size=8m,nr_inodes=1000 hk-data "$R/data"
mount -t tmpfs -o size=4m hk-space "$R/with space"
mount -t tmpfs -o size=2m,ro hk-ro "$R/ro"
# The kernel's lines for our mounts, mount points made relative to $R ("$R" → "/"); then a
# network mount whose directory is gone and a proc mount that the default filter drops.
awk -v r="$R" '$5 == r { $5 = "/"; print; next }
               index($5, r "/") == 1 { $5 = substr($5, length(r) + 1); print }' \
    /proc/self/mountinfo >"$R/proc/1/mountinfo.tmp"
echo '900 26 0:99 / /stale rw,relatime - nfs4 server:/export rw,vers=4.2' >>"$R/proc/1/mountinfo.tmp"
echo '901 26 0:98 / /proc rw,relatime - proc proc rw' >>"$R/proc/1/mountinfo.tmp"
mv "$R/proc/1/mountinfo.tmp" "$R/proc/1/mountinfo"
"$HAKARI" --once --path.rootfs="$R" --collector.filesystem.statfs_timeout=3s
INNER
unshare --mount --propagation private bash "$TMP/inner.sh" "$R" >"$TMP/out.prom" 2>"$TMP/err.log" ||
    { cat "$TMP/err.log" >&2; fail "hakari --once in the mount namespace failed"; }
cat "$TMP/out.prom" | grep '^node_filesystem' >&2 || true

expect() { # exact sample line
    grep -qxF "$1" "$TMP/out.prom" || fail "missing: $1"
}
expect 'node_filesystem_size_bytes{device="hk-root",fstype="tmpfs",mountpoint="/"} 16777216'
expect 'node_filesystem_files{device="hk-root",fstype="tmpfs",mountpoint="/"} 5000'
expect 'node_filesystem_readonly{device="hk-root",fstype="tmpfs",mountpoint="/"} 0'
expect 'node_filesystem_device_error{device="hk-root",fstype="tmpfs",mountpoint="/"} 0'
expect 'node_filesystem_size_bytes{device="hk-data",fstype="tmpfs",mountpoint="/data"} 8388608'
expect 'node_filesystem_free_bytes{device="hk-data",fstype="tmpfs",mountpoint="/data"} 8388608'
expect 'node_filesystem_avail_bytes{device="hk-data",fstype="tmpfs",mountpoint="/data"} 8388608'
expect 'node_filesystem_files{device="hk-data",fstype="tmpfs",mountpoint="/data"} 1000'
expect 'node_filesystem_files_free{device="hk-data",fstype="tmpfs",mountpoint="/data"} 999'
expect 'node_filesystem_size_bytes{device="hk-space",fstype="tmpfs",mountpoint="/with space"} 4194304'
expect 'node_filesystem_size_bytes{device="hk-ro",fstype="tmpfs",mountpoint="/ro"} 2097152'
expect 'node_filesystem_readonly{device="hk-ro",fstype="tmpfs",mountpoint="/ro"} 1'
expect 'node_filesystem_device_error{device="server:/export",fstype="nfs4",mountpoint="/stale"} 1'
# the root tmpfs holds the directories and the mountinfo copy: less than all of it is free
free_root=$(awk '/^node_filesystem_free_bytes\{device="hk-root"/ { print $2 }' "$TMP/out.prom")
[ -n "$free_root" ] && awk -v f="$free_root" 'BEGIN { exit !(f > 0 && f < 16777216) }' ||
    fail "free bytes of / not in (0, 16 MiB): $free_root"
grep -q 'mountpoint="/stale"' <(grep -v device_error "$TMP/out.prom") &&
    fail "a mount whose statfs failed must only report device_error"
grep -q 'fstype="proc"' "$TMP/out.prom" && fail "proc mounts must be filtered out"
[ "$(grep -c '^node_filesystem_size_bytes' "$TMP/out.prom")" -eq 4 ] ||
    fail "expected 4 filesystems (/, /data, /with space, /ro)"
grep -qx 'hakari_collector_errors_total{collector="filesystem"} 0' "$TMP/out.prom" ||
    fail "filesystem collector counted errors"
promtool_check "$TMP/out.prom" || fail "promtool check metrics"
echo ok
