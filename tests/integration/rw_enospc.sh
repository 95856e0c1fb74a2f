#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The queue's file system fills up (a 256 KiB tmpfs; max_disk_bytes 512 KiB is never reached, it
# only makes segments small: budget/4) while the receiver is
# down: the agent keeps collecting and serving, every sample it cannot queue is counted in
# hakari_remote_storage_samples_dropped_total{reason="disk_full"}, the failure is logged once (not
# every cycle), and once the receiver is back the queued data drains and appends work again.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/tools/rw_lib.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root to mount a small tmpfs"
mkdir -p "$TMP/q"
mount -t tmpfs -o size=256k tmpfs "$TMP/q" || skip "cannot mount tmpfs"
trap 'umount -l "$TMP/q" 2>/dev/null; cleanup' EXIT
vm_port=$(free_port)
cat >"$TMP/hakari.yml" <<YML
global:
  collection_interval: 1s
  external_labels: {cluster: enospc}
remote_write:
  - url: http://127.0.0.1:$vm_port/api/v1/write
    name: full
    queue_config:
      disk_path: $TMP/q
      max_disk_bytes: 512KiB
      min_backoff: 100ms
      max_backoff: 1s
YML
port=$(free_port)
bg hakari "$HAKARI" --config.file="$TMP/hakari.yml" --web.listen-address="127.0.0.1:$port" \
    --path.rootfs="$(hk_rootfs)" --no-collector.ebpf --no-collector.cgroup
url="http://127.0.0.1:$port"
wait_http "$url/-/ready" 30
drop_line='hakari_remote_storage_samples_dropped_total{reason="disk_full",remote_name="full"'
# Fill the file system: wait until samples are being refused.
until_true 60 bash -c "v=\$(curl -fsS '$url/metrics' | awk -v p='$drop_line' 'index(\$0,p)==1{print \$NF}'); [ \"\${v:-0}\" != 0 ]" ||
    fail "no disk_full drops counted after 60 s (df: $(df -k "$TMP/q" | tail -1))"
wait_cycles "$url" "$(($(hk_value "$url" "hakari_collection_cycles_total ") + 3))" 30
d1=$(hk_value "$url" "$drop_line")
num_ge "$d1" 1 || fail "drops not counted: $d1"
curl -fsS "$url/-/healthy" >/dev/null || fail "agent unhealthy with a full queue disk"
n=$(grep -c 'cannot append to the queue' "$TMP/hakari.log" || true)
[ "$n" -eq 1 ] || fail "the append failure was logged $n times (want once per state change)"
if grep -q 'cannot queue a snapshot' "$TMP/hakari.log"; then fail "per-cycle error log while the disk is full"; fi
# Receiver back: the backlog drains, appends work again (logged once), samples arrive.
mkdir -p "$TMP/vm"
bg vm victoria-metrics -httpListenAddr "127.0.0.1:$vm_port" -storageDataPath "$TMP/vm" \
    -search.latencyOffset=0s -loggerLevel=WARN
wait_http "http://127.0.0.1:$vm_port/health" 60
until_true 60 grep -q 'the queue accepts appends again' "$TMP/hakari.log" ||
    fail "appends never recovered after the receiver came back"
sent=$(hk_value "$url" 'hakari_remote_storage_samples_sent_total{remote_name="full"')
num_ge "$sent" 1 || fail "nothing sent after recovery"
curl -fsS "http://127.0.0.1:$vm_port/internal/force_flush" >/dev/null
until_true 30 bash -c "curl -fsS 'http://127.0.0.1:$vm_port/api/v1/query?query=count(hakari_build_info%7Bcluster%3D%22enospc%22%7D)' | grep -q '\"value\"'" ||
    fail "receiver holds no samples from the agent"
echo "ok: $d1 samples counted as disk_full while the tmpfs was full; $sent sent after recovery"
