#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The container image's runtime layout is complete: build it with `make rootfs`, then run the
# agent chrooted into it (private mount namespace, host /proc and /sys bound under /host) and check
# it collects and renders.
source "$(dirname "$0")/../lib.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root for chroot and mounts"
make -C "$TOP" --no-print-directory O="$O" rootfs >/dev/null
R="$TOP/$O/rootfs"
# Every library the binary needs resolves inside the rootfs.
missing=$(chroot "$R" /usr/bin/hakari --version 2>&1 >/dev/null || true)
[ -z "$missing" ] || fail "binary does not start in the rootfs: $missing"
out=$(unshare --mount --fork bash -c "
    mount --bind /proc '$R/host/proc' && mount --bind /sys '$R/host/sys' &&
    chroot '$R' /usr/bin/hakari --once --path.rootfs=/ --path.procfs=/host/proc --path.sysfs=/host/sys")
grep -q '^node_load1 ' <<<"$out" || fail "no node_load1 in chrooted --once output"
grep -q '^hakari_build_info{' <<<"$out" || fail "no hakari_build_info"
# The non-root user of the image exists.
grep -q '^hakari:x:65532:' "$R/etc/passwd" || fail "no hakari user in rootfs"
echo ok
