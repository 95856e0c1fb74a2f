# SPDX-License-Identifier: Apache-2.0
# Helpers for the remote-write integration scripts (source after tests/lib.sh).


# start_vm NAME: VictoriaMetrics on a free port; sets VM_URL and VM_PID.
start_vm() {
    local name=$1 port
    port=$(free_port)
    mkdir -p "$TMP/$name"
    bg "$name" victoria-metrics -httpListenAddr "127.0.0.1:$port" -storageDataPath "$TMP/$name" \
        -search.latencyOffset=0s -search.disableCache -loggerLevel=WARN
    VM_URL="http://127.0.0.1:$port"
    VM_PID=$BG_PID
    wait_http "$VM_URL/health" 60
}

# start_prom_rw NAME [PORT] [ARGS...]: Prometheus as a remote-write receiver; sets PROM_URL,
# PROM_PID. The data directory survives a restart with the same NAME.
start_prom_rw() {
    local name=$1 port=${2:-}
    shift $(($# >= 2 ? 2 : 1))
    [ -n "$port" ] || port=$(free_port)
    mkdir -p "$TMP/$name"
    printf 'global:\n  scrape_interval: 1h\n' >"$TMP/$name.yml"
    bg "$name" prometheus --config.file="$TMP/$name.yml" --storage.tsdb.path="$TMP/$name" \
        --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver "$@"
    PROM_URL="http://127.0.0.1:$port"
    PROM_PID=$BG_PID
    wait_http "$PROM_URL/-/ready" 60
}

# hk_value BASE_URL METRIC_LINE_PREFIX: value of the first exposition line starting with it.
hk_value() {
    local body
    body=$(curl -fsS "$1/metrics" 2>/dev/null) || return 0
    awk -v p="$2" 'index($0, p) == 1 { print $NF; exit }' <<<"$body"
}

# num_ge A B / num_lt A B: numeric comparisons of exposition values (awk: python3 may be a slow
# pyenv shim).
num_ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
num_lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }

# wait_cycles BASE_URL N [SECONDS]: until hakari completed N collection cycles.
wait_cycles() {
    local url=$1 n=$2 t=${3:-60} i v
    for i in $(seq $((t * 5))); do
        v=$(hk_value "$url" "hakari_collection_cycles_total ")
        [ -n "$v" ] && num_ge "$v" "$n" && return 0
        sleep 0.2
    done
    fail "hakari did not reach $n cycles"
}

# hk_rootfs: the node fixture when present, else the host (self-consistency checks still hold).
hk_rootfs() {
    if [ -d "$TOP/tests/fixtures/node-basic" ]; then echo "$TOP/tests/fixtures/node-basic"; else echo /; fi
}

# stop_pid PID: TERM and wait (bounded) for exit.
stop_pid() {
    local p=$1 i
    kill -TERM "$p" 2>/dev/null || return 0
    for i in $(seq 200); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
}

# hk_stopped_field LOG REMOTE_NAME FIELD: a figure from the "remote-write endpoint stopped" line.
hk_stopped_field() {
    grep 'remote-write endpoint stopped' "$1" | grep "remote_name=$2 " | tail -1 |
        tr ' ' '\n' | awk -F= -v k="$3" '$1 == k { print $2 }'
}

# phase NAME "RECEIVER ARGS" "EXTRA YAML" CYCLES: one hakari against rw_fault_receiver.py, then
# rw_fault_check.py NAME on the request log. PHASE_SCHEME=https for a TLS receiver; PHASE_ENV
# (array, @PORT@ = the receiver's port) is put in hakari's environment; PHASE_MID (shell code) runs once half the cycles are done.
PHASE_SCHEME=http
PHASE_ENV=()
phase() {
    local name=$1 rargs=$2 extra=$3 cycles=$4 port hkport
    port=$(free_port)
    hkport=$(free_port)
    # shellcheck disable=SC2086
    bg "recv-$name" "$PY" "$TOP/tests/tools/rw_fault_receiver.py" --port "$port" \
        --log "$TMP/$name.jsonl" $rargs
    local rpid=$BG_PID
    until_true 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null || fail "receiver did not start"
    : >"$TMP/$name.jsonl"
    extra=${extra//@PORT@/$port}
    cat >"$TMP/$name.yml" <<YML
global:
  collection_interval: 1s
  external_labels: {cluster: faults, region: here}
remote_write:
  - url: $PHASE_SCHEME://127.0.0.1:$port/api/v1/write
    name: $name
    remote_timeout: 1s
    metadata_config: {send: false}
$extra
YML
    RECV_PORT=$port
    "$HAKARI" --config.file="$TMP/$name.yml" --config.check >"$TMP/check-$name.out" 2>&1 ||
        { cat "$TMP/check-$name.out" >&2; fail "$name: config check"; }
    local envs=() e
    for e in "${PHASE_ENV[@]}"; do envs+=("${e//@PORT@/$port}"); done
    bg "hakari-$name" env "${envs[@]}" "$HAKARI" --config.file="$TMP/$name.yml" \
        --web.listen-address="127.0.0.1:$hkport" --path.rootfs="$(hk_rootfs)"
    local hk=$BG_PID
    wait_http "http://127.0.0.1:$hkport/-/ready" 30
    if [ -n "${PHASE_MID:-}" ]; then
        wait_cycles "http://127.0.0.1:$hkport" "$((cycles / 2))" 60
        eval "$PHASE_MID"
    fi
    wait_cycles "http://127.0.0.1:$hkport" "$cycles" 60
    # Let the last retries settle, then a graceful stop (drains the queue).
    sleep 1
    stop_pid "$hk"
    stop_pid "$rpid"
    local total failed dropped pending
    total=$(hk_stopped_field "$TMP/hakari-$name.log" "$name" samples_total)
    failed=$(hk_stopped_field "$TMP/hakari-$name.log" "$name" samples_failed)
    dropped=$(hk_stopped_field "$TMP/hakari-$name.log" "$name" samples_dropped)
    pending=$(hk_stopped_field "$TMP/hakari-$name.log" "$name" samples_pending)
    [ -n "$total" ] || { cat "$TMP/hakari-$name.log" >&2; fail "$name: no stop line"; }
    "$PY" "$TOP/tests/tools/rw_fault_check.py" "$name" "$TMP/$name.jsonl" --total "$total" \
        --failed "$failed" --dropped "$dropped" --pending "$pending" --min-backoff 0.2 \
        --max-backoff 1 || {
        grep -E 'level=(warn|error)' "$TMP/hakari-$name.log" | tail -20 >&2 || true
        fail "phase $name"
    }
}

