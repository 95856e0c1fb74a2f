#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# eBPF collector inside the real agent: hakari serves /metrics at once (programs load in the
# background), then every default program reports up, and N execs in a fresh v1 cpu cgroup show
# up on /metrics under id="<cgroup path>" (a cgroup the container index does not list).
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/ebpf_lib.sh"

CPU=$(cg_mount cpu)
[ -n "$CPU" ] || CPU=$(cg_mount "")
base=/hk-ebpf-agent-$$
A=$(mkcg "$CPU" "$base")
N=15
port=$(free_port)
bg hakari "$HAKARI" --web.listen-address=127.0.0.1:$port --collection.interval=1s
URL=http://127.0.0.1:$port/metrics
wait_http "$URL" 30

all_up() {
    curl -fsS "$URL" >"$TMP/m.txt" || return 1
    local p
    for p in sched proc oom tcp blkio; do
        grep -q "hakari_ebpf_program_up{program=\"$p\"} 1" "$TMP/m.txt" || return 1
    done
}
until_true 60 all_up || { cat "$TMP/hakari.log" >&2; fail "programs not all up on /metrics"; }
grep -q 'program="syscalls"' "$TMP/m.txt" && fail "opt-in syscalls program reported by default"

in_cg "$A" bash -c "for i in \$(seq $N); do /bin/true; done"
execs_seen() {
    curl -fsS "$URL" >"$TMP/m.txt" || return 1
    ge "$(val "$TMP/m.txt" container_process_execs_total "id=\"$base\"")" $N
}
until_true 30 execs_seen || fail "execs of $base not on /metrics"
grep "id=\"$base\"" "$TMP/m.txt" | grep process_ >&2
grep -q "container_process_execs_total{container=\"\",id=\"$base\",image=\"\",name=\"\",namespace=\"\",pod=\"\"}" "$TMP/m.txt" ||
    fail "unlisted cgroup not reported with id=<path> and empty labels"
echo "agent: all default programs up; $N execs seen for $base"
