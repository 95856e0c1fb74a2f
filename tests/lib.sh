# SPDX-License-Identifier: Apache-2.0
# Shared helpers for integration scripts (source it). Every process started with `bg` is stopped
# on exit; every wait is bounded.
set -euo pipefail
TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
O=${O:-build}
HAKARI=${HAKARI:-$TOP/$O/hakari}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hakari-test.XXXXXX")
_PIDS=()
# Debian's interpreter directly: a version-manager shim first in PATH costs seconds per start
# on a loaded machine.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

cleanup() {
    local p
    for p in "${_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${_PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    done
    [ -n "${KEEP_TMP:-}" ] && echo "kept $TMP" >&2 || rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
log() { echo "--- $*" >&2; }

# A free TCP port on 127.0.0.1.
free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# bg NAME CMD... : start in the background, log to $TMP/NAME.log, remember the pid in $BG_PID.
bg() {
    local name=$1
    shift
    "$@" >"$TMP/$name.log" 2>&1 &
    BG_PID=$!
    _PIDS+=("$BG_PID")
}

# wait_http URL [SECONDS]: until it answers 2xx.
wait_http() {
    local url=$1 t=${2:-30} i
    for i in $(seq $((t * 10))); do
        curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "timeout waiting for $url"
}

# until_true SECONDS CMD...: retry CMD every 0.5 s.
until_true() {
    local t=$1 i
    shift
    for i in $(seq $((t * 2))); do
        "$@" && return 0
        sleep 0.5
    done
    return 1
}

# cgroup_v1_mount CONTROLLER: where the cgroup v1 hierarchy holding CONTROLLER is mounted ("" when
# none is: a v2-only host).
cgroup_v1_mount() {
    awk -v c="$1" '$0 ~ / - cgroup cgroup / { n=split($NF,o,","); for(i=1;i<=n;i++) if(o[i]==c) {print $5; exit} }' /proc/self/mountinfo
}

# rmdir_reverse DIR...: removes the directories last first (deepest first when they were made
# top-down), each retried for 2 s: a cgroup stays busy for a moment after its last process died.
rmdir_reverse() {
    local i dirs=("$@")
    for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            rmdir "${dirs[$i]}" 2>/dev/null && break
            [ -d "${dirs[$i]}" ] || break
            sleep 0.2
        done
    done
}

# prom_query BASE_URL QUERY: prints the JSON result.
prom_query() {
    curl -fsS --get "$1/api/v1/query" --data-urlencode "query=$2"
}

# Starts Prometheus on a free port with config file $1; sets PROM_URL. Data under $PROM_DATA
# (default $TMP/prom-data; a second instance needs its own).
start_prometheus() {
    local cfg=$1
    shift
    local port data=${PROM_DATA:-$TMP/prom-data}
    port=$(free_port)
    mkdir -p "$data"
    bg prometheus prometheus --config.file="$cfg" --storage.tsdb.path="$data" \
        --web.listen-address="127.0.0.1:$port" "$@"
    PROM_URL="http://127.0.0.1:$port"
    PROM_PID=$BG_PID
    wait_http "$PROM_URL/-/ready" 60
}

# promtool_check FILE: `promtool check metrics` must report nothing, except the camelCase lint on
# node_memory_*, node_netstat_* and node_sockstat_* families and the "bits" unit lint on
# node_entropy_*: those are node_exporter's names (node_memory_MemTotal_bytes,
# node_netstat_Tcp_RetransSegs, node_entropy_available_bits …), which dashboards and alerts
# depend on; node_exporter's own output draws the same lint. Likewise cAdvisor's counter
# container_memory_failcnt (no _total) and gauge container_fs_inodes_total (with _total), kept as
# cAdvisor names and types them.
promtool_check() {
    local out rc=0
    out=$(promtool check metrics <"$1" 2>&1) || rc=$?
    out=$(printf '%s\n' "$out" | grep -Ev "^node_(memory|netstat|sockstat)_[A-Za-z0-9_]+ metric names should be written in 'snake_case' not 'camelCase'$" |
        grep -Ev '^node_entropy_(available|pool_size)_bits use base unit "bytes" instead of "bits"$' |
        grep -v '^container_memory_failcnt counter metrics should have "_total" suffix$' |
        grep -v '^container_fs_inodes_total non-counter metrics should not have "_total" suffix$' |
        grep -v '^$' || true)
    if [ -n "$out" ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; }; then
        echo "promtool check metrics $1 (exit $rc):" >&2
        printf '%s\n' "$out" >&2
        return 1
    fi
}
