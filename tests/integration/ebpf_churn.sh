#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# eBPF counters under cgroup churn: a listed pod and container (real v1 cpu + blkio cgroups, or
# cgroup2) get unlisted child cgroups created, used (execs, a failed connect, syscalls, run-queue
# waits, direct writes) and removed, one after another (~1.5 s each), for CHURN_SECONDS
# (default 30) while the collector runs every second. The children roll up into the pod /
# container rows; once they are gone their kernel map entries are deleted. Asserts: no counter or histogram series of the root,
# pod or container row ever decreases between collections, and the container row still holds
# the execs of every child that ran in it (a vanished child's counts stay in its parent's row).
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/ebpf_lib.sh"

CPU=$(cg_mount cpu)
[ -n "$CPU" ] || CPU=$(cg_mount "")
BLK=$(cg_mount blkio)
[ -n "$BLK" ] || BLK=$(cg_mount "")
[ -n "$CPU" ] || skip "no cpu cgroup hierarchy"
secs=${CHURN_SECONDS:-30}
base=/hk-ebpf-churn-$$
mounts=("$CPU")
[ -n "$BLK" ] && [ "$BLK" != "$CPU" ] && mounts+=("$BLK")
for m in "${mounts[@]}"; do
    mkcg "$m" "$base" >/dev/null
    mkcg "$m" "$base/pod" >/dev/null
    mkcg "$m" "$base/pod/ctr" >/dev/null
done
rm_tree() { # REL: removes REL (and anything below) in every hierarchy, retrying while busy
    local m
    for m in "${mounts[@]}"; do
        [ -d "$m$1" ] || continue
        find "$m$1" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
}
trap 'rm_tree "$base"; ebpf_cleanup; cleanup' EXIT

driver_start --publish "$base/pod=pod" --publish "$base/pod/ctr=ctr" \
    --options 'programs: [sched, proc, tcp, blkio, syscalls]'

EXECS=20
# One child: EXECS execs, a refused connect (TCP series), direct writes, a short busy loop;
# then removal.
child() { # REL
    local m dirs=""
    for m in "${mounts[@]}"; do
        mkdir -p "$m$1" && dirs+="$m$1 "
    done
    # The sleep first: a collection sees the child alive (resolves its cgroup id to a path; a
    # cgroup made and removed between two collections cannot be attributed to any row).
    in_cg "$dirs" bash -c 'sleep 1.2; for ((k = 0; k < '$EXECS'; k++)); do /bin/true; done
        (: </dev/tcp/127.0.0.1/1) 2>/dev/null
        dd if=/dev/zero of="$0" bs=4k count=8 oflag=direct status=none 2>/dev/null
        rm -f "$0"
        timeout 0.2 bash -c "while :; do :; done"' "$TMP/io.$BASHPID" || true
    for _ in 1 2 3 4 5; do
        rm_tree "$1"
        [ -d "$CPU$1" ] || return 0
        sleep 0.1
    done
}
churn() {
    local i=0 end=$((SECONDS + secs))
    while [ "$SECONDS" -lt "$end" ]; do
        child "$base/pod/ctr/sub$i" # rolls up into the container row
        child "$base/pod/new$i"     # unlisted: rolls up into the pod row
        echo "$i" >"$TMP/done"
        i=$((i + 1))
    done
}
: >"$TMP/done"
churn &
churn_pid=$!
_PIDS+=("$churn_pid")

n=0
while kill -0 "$churn_pid" 2>/dev/null; do
    driver_collect "$TMP/m.$n"
    n=$((n + 1))
    sleep 1
done
wait "$churn_pid" || true
sleep 2.5 # removed children's entries: unresolved, then gone for good (two collections)
for k in 0 1 2; do driver_collect "$TMP/m.$n"; n=$((n + 1)); sleep 1; done
children=$(($(cat "$TMP/done") + 1))
log "$children children per row churned, $n collections"

for p in sched proc tcp blkio syscalls; do
    grep -q "hakari_ebpf_program_up{program=\"$p\"} 1" "$TMP/m.0" || fail "$p program not up"
done
/usr/bin/python3 - "$TMP" "$n" "$base" "$children" "$EXECS" <<'PY' || fail "see above"
import re, sys
tmp, n, base, children, execs = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
ids = {"/", base + "/pod", base + "/pod/ctr"}
mono = re.compile(r"^(container_\w+?(_total|_count|_sum|_bucket))\{(.*)\} (\S+)$")
prev, bad, last = {}, 0, {}
for i in range(n):
    cur = {}
    for line in open(f"{tmp}/m.{i}"):
        m = mono.match(line.strip())
        if not m:
            continue
        ident = re.search(r'\bid="([^"]*)"', m.group(3))
        if ident and ident.group(1) in ids:
            cur[m.group(1) + "{" + m.group(3) + "}"] = float(m.group(4))
    for k, v in cur.items():
        if k in prev and v < prev[k]:
            print(f"collection {i}: {k} went from {prev[k]} to {v}")
            bad += 1
    prev = cur
    last = cur
def get(name, ident, extra=""):
    return sum(v for k, v in last.items()
               if k.startswith(name + "{") and f'id="{ident}"' in k and extra in k)
ctr_execs = get("container_process_execs_total", base + "/pod/ctr")
pod_execs = get("container_process_execs_total", base + "/pod")
print(f"final: container row execs={ctr_execs:.0f}, pod row execs={pod_execs:.0f}, "
      f"{children} children each, {execs} execs per child")
# Each child execs `bash` (in_cg) + EXECS × /bin/true (+ dd, timeout, ...).
if ctr_execs < children * execs:
    print(f"container row lost the execs of vanished children: {ctr_execs} < {children * execs}")
    bad += 1
if pod_execs < children * execs:
    print(f"pod row lost the execs of vanished children: {pod_execs} < {children * execs}")
    bad += 1
for name in ("container_cpu_runqueue_wait_seconds_total", "container_syscalls_total",
             "container_blkio_latency_seconds_count"):
    if get(name, base + "/pod/ctr") <= 0:
        print(f"no {name} in the container row")
        bad += 1
sys.exit(1 if bad else 0)
PY
echo "root, pod and container rows monotonic over $n collections; $children children per row"
