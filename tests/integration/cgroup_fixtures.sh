#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cgroup collector on the fixture node roots (tests/fixtures/{v2-systemd-containerd,
# v1-cgroupfs-docker,v2-crio}): the cAdvisor row model (root, QoS, pods, sandboxes, containers,
# nothing else), network only on sandboxes and "/", cfs only with a quota, start time and
# last_seen from the clock and mtimes, extra_roots, the metrics allow/deny list, limits.max_series,
# option validation, and a container that vanishes (and one that appears) while the agent runs.
. "$(dirname "$0")/../lib.sh"

[ -x "$HAKARI" ] || fail "no binary at $HAKARI"
FIX=$TOP/tests/fixtures

# Only the cgroup collector: the node collectors would read the fixtures' /proc as well.
OTHERS=()
for c in $("$HAKARI" --help 2>&1 | awk '/^Collectors/ { on = 1; next } on && NF >= 2 && $2 ~ /^(on|off)$/ { print $1 }'); do
    [ "$c" = cgroup ] || OTHERS+=(--no-collector."$c")
done
once() { # fixture, extra flags...
    local fx=$1
    shift
    "$HAKARI" --once "${OTHERS[@]}" --path.rootfs="$fx" "$@" 2>"$TMP/once.err" ||
        { cat "$TMP/once.err" >&2; fail "hakari --once on $fx failed"; }
}

# Distinct id label values of one family.
ids_of() { # file family
    grep "^$2{" "$1" | sed -E 's/.*[{,]id="([^"]*)".*/\1/' | sort -u
}

check_self() { # file
    grep -qE '^hakari_collector_up\{collector="cgroup"\} 1$' "$1" || fail "cgroup collector not up"
    grep -qE '^hakari_collector_errors_total\{collector="cgroup"\} 0$' "$1" ||
        fail "cgroup collector reported errors: $(grep errors_total "$1")"
}

# Goldens (tests/golden/<case>.prom with <case>.args; tests/integration/golden.sh checks them
# too once it is in the tree): exact output without the agent's own families, and promtool-clean
# except for cAdvisor's one counter without _total (container_memory_failcnt, kept as cAdvisor
# names and types it).
for case in v2-systemd-containerd v1-cgroupfs-docker v2-crio; do
    args=()
    while IFS= read -r line || [ -n "$line" ]; do
        [[ -z "$line" || "$line" == \#* ]] && continue
        args+=("$line")
    done <"$TOP/tests/golden/$case.args"
    "$HAKARI" --once --path.rootfs="$FIX/$case" "${args[@]}" 2>"$TMP/g.err" |
        awk '{ n = ($1 == "#") ? $3 : $1; sub(/[{ ].*/, "", n); if (n !~ /^(hakari|process)_/ && n != "node_exporter_build_info") print }' \
            >"$TMP/$case.golden" || fail "$case: hakari --once"
    diff -u "$TOP/tests/golden/$case.prom" "$TMP/$case.golden" >&2 || fail "$case: differs from its golden"
    lint=$(promtool check metrics <"$TOP/tests/golden/$case.prom" 2>&1 |
        grep -v '^container_memory_failcnt counter metrics should have "_total" suffix$' | grep -v '^$' || true)
    [ -z "$lint" ] || fail "$case: promtool check metrics: $lint"
done

for case in v2-systemd-containerd v1-cgroupfs-docker v2-crio; do
    fx=$FIX/$case
    log "$case: row model"
    before=$(date +%s)
    once "$fx" >"$TMP/$case.prom"
    after=$(date +%s)
    check_self "$TMP/$case.prom"
    ids_of "$TMP/$case.prom" container_memory_usage_bytes >"$TMP/ids"
    # Expected rows, from the fixture's directories: "/" plus everything under the kubepods root.
    if [ -d "$fx/sys/fs/cgroup/kubepods.slice" ]; then base="$fx/sys/fs/cgroup"; kp=kubepods.slice
    else base="$fx/sys/fs/cgroup/memory"; kp=kubepods; fi
    { echo /; (cd "$base" && find "$kp" -mindepth 0 -type d | sed 's|^|/|'); } | sort -u >"$TMP/want"
    diff -u "$TMP/want" "$TMP/ids" >&2 || fail "$case: rows differ from the fixture's kubepods tree"
    grep -q 'system.slice' "$TMP/$case.prom" && fail "$case: system.slice must not be reported by default"

    # Network: only "/" and sandboxes (containerd: container=""; docker/CRI-O: container="POD").
    grep '^container_network_receive_bytes_total{' "$TMP/$case.prom" >"$TMP/net"
    [ "$(grep -c 'id="/"' "$TMP/net")" -ge 1 ] || fail "$case: no network series on /"
    nsandbox=$(grep -v 'id="/"' "$TMP/net" | sed -E 's/.*[{,]id="([^"]*)".*/\1/' | sort -u | wc -l)
    [ "$nsandbox" -eq 3 ] || fail "$case: expected network on 3 sandboxes, got $nsandbox"
    if grep -v 'id="/"' "$TMP/net" | grep -vqE 'container="(POD)?",'; then
        fail "$case: network series on a non-sandbox row"
    fi
    grep -qE 'interface="(lo|veth|docker)' "$TMP/net" && fail "$case: lo/veth/docker not skipped"

    # Pod addresses: on the sandbox rows, exactly the global addresses gen.py gave each pod's
    # namespace (its fib_trie, route and if_inet6), with their interfaces; none on "/".
    grep '^container_network_address_info{' "$TMP/$case.prom" >"$TMP/addr" || true
    grep -vqE 'container="(POD)?",' "$TMP/addr" && fail "$case: address series on a non-sandbox row"
    sed -E 's/.*[{,]interface="([^"]*)".*[{,]ip="([^"]*)".*[{,]pod="([^"]*)".*/\3 \1 \2/' "$TMP/addr" |
        sort >"$TMP/addr.got"
    python3 -c '
import argparse, sys
sys.path.insert(0, sys.argv[1])
import gen
for i, p in enumerate(gen.pods_spec(argparse.Namespace(pods=None))):
    v4, v6 = gen.pod_net(i)
    for dev, ip, _ in v4: print(p["name"], dev, ip)
    for dev, ip, _, scope, _ in v6:
        if scope == 0: print(p["name"], dev, ip)' "$FIX" | sort >"$TMP/addr.want"
    diff -u "$TMP/addr.want" "$TMP/addr.got" >&2 || fail "$case: pod addresses differ from the fixture's"
    grep -q 'host_network="true"' "$TMP/addr" && fail "$case: a pod namespace taken for the node's"

    # Every container row carries pod, namespace, image and name; pause/POD rows included.
    ctr_rows=$(grep '^container_cpu_usage_seconds_total{' "$TMP/$case.prom" | grep -c 'image="[^"]')
    [ "$ctr_rows" -eq 7 ] || fail "$case: expected 7 rows with an image (3 sandboxes + 4 containers), got $ctr_rows"
    grep '^container_cpu_usage_seconds_total{' "$TMP/$case.prom" | grep 'image="[^"]' |
        grep -E 'namespace="",|pod=""|name=""' && fail "$case: container row without pod/namespace/name"
    # Pod rows learn pod/namespace from their containers, as the kubelet's GetPodByCgroupfs does.
    grep '^container_memory_usage_bytes{' "$TMP/$case.prom" | grep -E 'id="[^"]*pod[0-9a-f_-]+(\.slice)?"' |
        grep 'pod=""' && fail "$case: pod row without pod label"

    # CFS series only where a quota is set (the Guaranteed pod and its containers).
    while read -r id; do
        dir="$base$id"
        if [ -f "$dir/cpu.max" ]; then q=$(cut -d' ' -f1 "$dir/cpu.max"); [ "$q" = max ] && q=-1
        else q=$(cat "$FIX/$case/sys/fs/cgroup/cpu,cpuacct$id/cpu.cfs_quota_us"); fi
        has=$(grep -c "^container_cpu_cfs_periods_total{.*id=\"$id\"" "$TMP/$case.prom" || true)
        if [ "$q" = -1 ]; then [ "$has" -eq 0 ] || fail "$case: cfs series without quota on $id"
        else [ "$has" -eq 1 ] || fail "$case: no cfs series with quota $q on $id"; fi
    done < <(ids_of "$TMP/$case.prom" container_cpu_usage_seconds_total | grep -v '^/$')

    # container_last_seen = collection time; start time = earliest mtime of the cgroup dir and its
    # cgroup.events / cgroup.clone_children, floored at boot time (btime).
    ls_val=$(grep '^container_last_seen{.*id="/"' "$TMP/$case.prom" | awk '{print $2}')
    [ "$ls_val" -ge "$before" ] && [ "$ls_val" -le "$after" ] || fail "$case: last_seen $ls_val not in [$before,$after]"
    id=$(grep '^container_start_time_seconds{' "$TMP/$case.prom" | grep 'container="[a-z]' | head -1 |
        sed -E 's/.*[{,]id="([^"]*)".*/\1/')
    got=$(grep "^container_start_time_seconds{.*id=\"$id\"" "$TMP/$case.prom" | awk '{print $2}')
    if [ "$base" = "$fx/sys/fs/cgroup" ]; then files=("$base$id" "$base$id/cgroup.events")
    else files=(); for c in cpu,cpuacct memory blkio pids; do files+=("$fx/sys/fs/cgroup/$c$id" "$fx/sys/fs/cgroup/$c$id/cgroup.clone_children"); done; fi
    want=$(stat -c %.9Y "${files[@]}" | sort -n | head -1)
    python3 -c "import sys; g,w=float(sys.argv[1]),max(float(sys.argv[2]),1700000000); sys.exit(0 if abs(g-w)<1e-3 else 1)" "$got" "$want" ||
        fail "$case: start time $got, want $want"
done

log "no mountinfo: conventional paths; working set floored at 0"
cp -a "$FIX/v2-systemd-containerd" "$TMP/nomi"
rm "$TMP/nomi/proc/self/mountinfo"
once "$FIX/v2-systemd-containerd" | grep '^container_' >"$TMP/with.prom"
once "$TMP/nomi" | grep '^container_' | grep -v '^container_\(last_seen\|start_time\)' >"$TMP/without.prom"
grep -v '^container_\(last_seen\|start_time\)' "$TMP/with.prom" | diff -u - "$TMP/without.prom" >&2 ||
    fail "output differs without mountinfo"
c=$TMP/nomi/sys/fs/cgroup/kubepods.slice/kubepods-pod62d00c3d_b41b_67ce_3daf_f83232502e4c.slice/cri-containerd-4cfc8596883c222c82e5cbbc16c3e8eade034b688ea2d7cf365f16d6e2df1181.scope
echo 4096 >"$c/memory.current" # less than inactive_file
grep -q '^container_memory_working_set_bytes{container="nginx",.*} 0$' <(once "$TMP/nomi") ||
    fail "working set not floored at 0"

log "extra_roots brings in system.slice (a plain systemd service, raw labels)"
once "$FIX/v2-systemd-containerd" --collector.cgroup.extra_roots=system.slice >"$TMP/extra.prom"
grep -q '^container_memory_usage_bytes{container="",id="/system.slice/containerd.service",image="",name="",namespace="",pod=""} ' "$TMP/extra.prom" ||
    fail "extra root not reported"

log "metrics allow/deny"
cat >"$TMP/cfg.yml" <<'EOF'
collectors:
  cgroup:
    metrics:
      allow: [container_cpu_*, container_memory_working_set_bytes]
      deny: [container_cpu_cfs_*]
EOF
once "$FIX/v2-crio" --config.file="$TMP/cfg.yml" >"$TMP/allow.prom"
fams=$(grep -v '^#' "$TMP/allow.prom" | sed -E 's/[{ ].*//' | sort -u | grep -v '^\(hakari\|process\)_\|^node_exporter_build_info$' | tr '\n' ' ')
[ "$fams" = "container_cpu_system_seconds_total container_cpu_usage_seconds_total container_cpu_user_seconds_total container_memory_working_set_bytes " ] ||
    fail "allow/deny gave families: $fams"

log "limits.max_series caps the collector and counts the drops"
printf 'limits:\n  max_series: 50\n' >"$TMP/lim.yml"
once "$FIX/v2-crio" --config.file="$TMP/lim.yml" >"$TMP/lim.prom"
n=$(grep -c '^container_' "$TMP/lim.prom")
[ "$n" -le 50 ] || fail "max_series 50 but $n container series"
grep -qE '^hakari_series_dropped_total\{collector="cgroup"\} [1-9]' "$TMP/lim.prom" || fail "drops not counted"

log "option validation with positions"
printf 'collectors:\n  cgroup:\n    metrics:\n      deny: [container_nope_*]\n' >"$TMP/bad.yml"
"$HAKARI" --config.check --config.file="$TMP/bad.yml" >"$TMP/check.out" 2>&1 && fail "bad pattern accepted"
grep -q 'bad.yml:4:.*matches no cgroup metric family' "$TMP/check.out" || { cat "$TMP/check.out" >&2; fail "no positioned error"; }
printf 'collectors:\n  cgroup:\n    extra_root: [x]\n' >"$TMP/bad2.yml"
"$HAKARI" --config.check --config.file="$TMP/bad2.yml" >"$TMP/check2.out" 2>&1 && fail "unknown key accepted"
grep -q 'extra_root' "$TMP/check2.out" || fail "unknown key not named"

log "a container vanishes and another appears while the agent runs"
cp -a "$FIX/v2-systemd-containerd" "$TMP/node"
port=$(free_port)
bg hakari "$HAKARI" --path.rootfs="$TMP/node" "${OTHERS[@]}" --collection.interval=200ms \
    --web.listen-address="127.0.0.1:$port"
wait_http "http://127.0.0.1:$port/metrics"
M="http://127.0.0.1:$port/metrics"
pod=$TMP/node/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod286d6465_07c7_3735_9972_1570c1a41de5.slice
gone=$pod/cri-containerd-65877a050bee2819a5d8d744cdb5dc7c2673850036a3fa42afe181ef2b0ff805.scope
newid=$(printf 'f%.0s' $(seq 64))
until_true 10 sh -c "curl -fsS '$M' | grep -q 'container=\"envoy\"'" || fail "envoy not reported at start"
cycles() { curl -fsS "$M" | awk '/^hakari_collection_cycles_total/ {print $2}'; }
rm -rf "$gone"
cp -a "$pod/cri-containerd-bb6669d9867d5251f1cffc1b7185e4c32d7e3b4c36cb40f53953721bb72278bc.scope" "$pod/cri-containerd-$newid.scope"
c0=$(cycles)
until_true 10 sh -c "[ \$(curl -fsS '$M' | awk '/^hakari_collection_cycles_total/ {print \$2}') -ge $((c0 + 2)) ]" ||
    fail "no new cycles"
curl -fsS "$M" >"$TMP/after.prom"
grep -q '65877a050bee2819' "$TMP/after.prom" && fail "vanished container still reported"
grep -q "cri-containerd-$newid.scope" "$TMP/after.prom" || fail "new container not discovered"
grep -q 'container="api"' "$TMP/after.prom" || fail "sibling container lost"
check_self "$TMP/after.prom"
kill -0 "$BG_PID" || fail "agent died"
echo "cgroup fixtures: ok"
