#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# eBPF block I/O probe: N O_DIRECT 4 KiB reads of a loop device from a fresh v1 blkio cgroup
# show ≥ N read requests on that device in the container's latency histogram (cumulative
# buckets, +Inf = count); an idle sibling cgroup shows no I/O on the loop device.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/ebpf_lib.sh"
command -v losetup >/dev/null || fail "losetup (util-linux) missing"

BLK=$(cg_mount blkio)
[ -n "$BLK" ] || BLK=$(cg_mount "")
base=/hk-ebpf-blkio-$$
A=$(mkcg "$BLK" "$base-reader")
B=$(mkcg "$BLK" "$base-idle")
N=200

truncate -s 16M "$TMP/disk.img"
LOOP=$(losetup --find --show "$TMP/disk.img") || skip "no loop device available"
trap 'losetup -d "$LOOP" 2>/dev/null; ebpf_cleanup; cleanup' EXIT
dd if=/dev/urandom of="$LOOP" bs=1M count=4 oflag=direct status=none

driver_start --publish "$base-reader=reader"
in_cg "$B" sleep 30 &
in_cg "$A" dd if="$LOOP" of=/dev/null bs=4k count=$N iflag=direct status=none || fail "dd failed"
driver_collect "$TMP/out.txt"
grep -E "$base" "$TMP/out.txt" | grep -v _bucket >&2 || true

grep -q 'hakari_ebpf_program_up{program="blkio"} 1' "$TMP/out.txt" || fail "blkio program not up"
sel="id=\"$base-reader\""
dev="device=\"$LOOP\""
count=$(val "$TMP/out.txt" container_blkio_latency_seconds_count "$sel" "$dev" 'op="read"' 'container="reader"')
inf=$(val "$TMP/out.txt" container_blkio_latency_seconds_bucket "$sel" "$dev" 'op="read"' 'le="+Inf"')
sum=$(val "$TMP/out.txt" container_blkio_latency_seconds_sum "$sel" "$dev" 'op="read"')
echo "reader: $count reads on $LOOP, latency sum ${sum}s"
ge "$count" $N || fail "reads on $LOOP for $base-reader: $count < $N"
[ "$inf" = "$count" ] || fail "+Inf $inf != count $count"
ge "$sum" 0.000001 || fail "latency sum $sum"
grep "^container_blkio_latency_seconds_bucket{.*$sel.*op=\"read\"" "$TMP/out.txt" | grep "$dev" |
    grep -v '+Inf' | sed -E 's/.*le="([^"]+)".* ([0-9.e+]+)$/\1 \2/' | sort -g |
    awk -v c="$count" '{ if ($2 < prev || $2 > c) bad = 1; prev = $2 } END { exit bad }' ||
    fail "buckets not cumulative"
idle=$(val "$TMP/out.txt" container_blkio_latency_seconds_count "id=\"$base-idle\"" "$dev")
[ "$idle" = 0 ] || fail "idle cgroup got $idle requests on $LOOP"
