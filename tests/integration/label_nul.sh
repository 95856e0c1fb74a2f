#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A NUL byte in a label value never cuts it short, and a warning that repeats every cycle is
# rate-limited. The containerd fixture is copied and two container records get a name with a
# JSON \u0000 escape ("env\u0000oy", "env\u0000api"): cJSON would cut both to "env", so two
# containers would carry the same wrong name. The records must be refused (no container="env"),
# the refusal logged, and — as the agent re-reads the records every cycle — logged at most 5
# times over 20+ cycles (the rate limit of core/log.c; the first occurrence shows), with the
# number held back reported at shutdown.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/tools/rw_lib.sh"

CASE=v2-systemd-containerd
cp -a "$TOP/tests/fixtures/$CASE" "$TMP/root"
D=$TMP/root/run/containerd/io.containerd.runtime.v2.task/k8s.io
n=0
for name in envoy api; do
    f=$(grep -l "\"io.kubernetes.cri.container-name\": *\"$name\"" "$D"/*/config.json)
    [ -n "$f" ] || fail "fixture has no $name container"
    sed -i "s/\"io.kubernetes.cri.container-name\": *\"$name\"/\"io.kubernetes.cri.container-name\":\"env\\\\u0000$name\"/" "$f"
    grep -q 'env\\u0000' "$f" || fail "could not inject the NUL escape into $f"
    n=$((n + 1))
done
args=()
while IFS= read -r line || [ -n "$line" ]; do
    [[ -z "$line" || "$line" == \#* ]] && continue
    args+=("$line")
done <"$TOP/tests/golden/$CASE.args"

log "once"
"$HAKARI" --once --path.rootfs="$TMP/root" "${args[@]}" >"$TMP/once.prom" 2>"$TMP/once.err" ||
    { cat "$TMP/once.err" >&2; fail "hakari --once failed"; }
if grep -q 'container="env"' "$TMP/once.prom"; then fail "a name was cut at its NUL byte"; fi
grep -q '^container_cpu_usage_seconds_total{.*container="nginx"' "$TMP/once.prom" ||
    fail "the other containers lost their names"
grep -q 'container runtime record refused: a string holds a NUL byte' "$TMP/once.err" ||
    fail "the refusal was not logged"

log "agent: repeated warning rate-limited"
port=$(free_port)
printf 'global:\n  collection_interval: 100ms\n' >"$TMP/cfg.yml"
bg hakari "$HAKARI" --config.file="$TMP/cfg.yml" --path.rootfs="$TMP/root" "${args[@]}" \
    --web.listen-address="127.0.0.1:$port"
wait_http "http://127.0.0.1:$port/-/ready" 30
wait_cycles "http://127.0.0.1:$port" 20 60
c=$(grep -c 'container runtime record refused' "$TMP/hakari.log" || true)
if [ "$c" -lt 1 ] || [ "$c" -gt 5 ]; then
    cat "$TMP/hakari.log" >&2
    fail "refusal logged $c times over 20 cycles (want 1..5)"
fi
echo "refusal logged $c times over 20+ cycles"
# Stopping reports how many were held back.
stop_pid "$BG_PID"
grep -q 'msg="repeated log lines held back" suppressed=[1-9][0-9]* last_msg="container runtime record refused' \
    "$TMP/hakari.log" || { tail -5 "$TMP/hakari.log" >&2; fail "no count of the held-back lines at stop"; }
echo PASS
