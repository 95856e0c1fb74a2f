#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The shard controller against a real (fault-injecting) receiver: shards follow what delivery
# needs, measured, not the mere presence of a backlog.
#   slow: every answer takes 0.4 s and requests carry at most 25 samples, so one shard delivers
#         ~60 samples/s, less than the node fixture's collection rate: the shard count must grow
#         above 1 (and stay within max_shards), and every sample arrives exactly once.
#   fast: the same load and batch size, answered at once: one or two shards carry it, so the count
#         must stay low (the former rule, one more shard per full round, climbed to max_shards
#         here because each snapshot fills several rounds).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/tools/rw_lib.sh"

run() { # NAME RECEIVER_ARGS SECONDS -> prints the highest shard count seen
    local name=$1 rargs=$2 secs=$3 port hkport rpid hk i v max=0
    port=$(free_port)
    hkport=$(free_port)
    # shellcheck disable=SC2086
    bg "recv-$name" "$PY" "$TOP/tests/tools/rw_fault_receiver.py" --port "$port" \
        --log "$TMP/$name.jsonl" $rargs
    rpid=$BG_PID
    until_true 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null || fail "receiver did not start"
    cat >"$TMP/$name.yml" <<YML
global:
  collection_interval: 1s
remote_write:
  - url: http://127.0.0.1:$port/api/v1/write
    name: $name
    remote_timeout: 5s
    metadata_config: {send: false}
    queue_config: {disk_path: $TMP/queue-$name, batch_send_deadline: 200ms, min_shards: 1,
                   max_shards: 12, max_samples_per_send: 25, min_backoff: 100ms, max_backoff: 1s}
YML
    bg "hakari-$name" "$HAKARI" --config.file="$TMP/$name.yml" --log.level=debug \
        --web.listen-address="127.0.0.1:$hkport" --path.rootfs="$(hk_rootfs)"
    hk=$BG_PID
    wait_http "http://127.0.0.1:$hkport/-/ready" 30
    for ((i = 0; i < secs; i++)); do
        sleep 1
        v=$(hk_value "http://127.0.0.1:$hkport" 'hakari_remote_storage_shards{')
        v=${v%.*}
        [ -n "$v" ] && [ "$v" -gt "$max" ] && max=$v
    done
    stop_pid "$hk"
    stop_pid "$rpid"
    local total failed dropped pending
    total=$(hk_stopped_field "$TMP/hakari-$name.log" "$name" samples_total)
    failed=$(hk_stopped_field "$TMP/hakari-$name.log" "$name" samples_failed)
    dropped=$(hk_stopped_field "$TMP/hakari-$name.log" "$name" samples_dropped)
    pending=$(hk_stopped_field "$TMP/hakari-$name.log" "$name" samples_pending)
    [ -n "$total" ] || { cat "$TMP/hakari-$name.log" >&2; fail "$name: no stop line"; }
    grep 'remote-write shards' "$TMP/hakari-$name.log" >&2 || true
    "$PY" "$TOP/tests/tools/rw_fault_check.py" "$name" "$TMP/$name.jsonl" --total "$total" \
        --failed "$failed" --dropped "$dropped" --pending "$pending" >&2 || fail "$name: delivery"
    echo "$max"
}

slow=$(run slow "--delay-s 0.4" 16)
log "slow receiver: highest shard count $slow"
[ "$slow" -ge 2 ] || fail "a slow receiver did not get more shards (max $slow)"
[ "$slow" -le 12 ] || fail "shards above max_shards ($slow)"
fast=$(run fast "" 12)
log "fast receiver: highest shard count $fast"
[ "$fast" -le 3 ] || fail "a fast receiver was given $fast shards"
echo "ok: slow receiver up to $slow shards, fast receiver up to $fast"
