#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Compatibility with node_exporter's own expected output: hakari --once on a copy of
# node_exporter's fixture tree (tests/fixtures/node-upstream, see its README.md) must give, for
# every node_* family it emits, exactly what node_exporter's collector/fixtures/e2e-output.txt
# says for the same files: names, labels, values, TYPE and HELP. Families of e2e-output that an
# enabled hakari collector owns must be there unless tests/tools/node_upstream.py lists
# them as deliberately not emitted (with the reason). Prints how many families/series matched.
source "$(dirname "$0")/../lib.sh"
FIX="$TOP/tests/fixtures/node-upstream"
E2E="$FIX/e2e-output.txt"
[ -f "$E2E" ] || fail "missing $E2E"
# As node_exporter's end-to-end-test.sh: the collectors it runs with --no-collector (timex, uname,
# filesystem) are off; so are the ones that read the real host rather than the fixture (machine,
# cgroup, eBPF). Collectors this build lacks are simply not named.
args=(--once --path.rootfs="$FIX" --path.procfs="$FIX/proc" --path.sysfs="$FIX/sys")
have_collectors=$("$HAKARI" --help 2>&1 | awk '/^Collectors/ { on = 1; next } on && NF >= 2 { print $1 }')
for c in filesystem machine cgroup ebpf timex uname; do
    grep -qx "$c" <<<"$have_collectors" && args+=(--no-collector."$c")
done
# node_exporter's end-to-end flags for netclass: its fixture's dmz and int interfaces are ignored
# (--collector.netclass.ignored-devices) and invalid speeds left out.
grep -qx netclass <<<"$have_collectors" &&
    args+=(--collector.netclass.device_exclude='(dmz|int)' --collector.netclass.ignore_invalid_speed=true)
TZ=UTC "$HAKARI" "${args[@]}" >"$TMP/hk.prom" 2>"$TMP/hk.err" ||
    { cat "$TMP/hk.err" >&2; fail "hakari --once failed"; }
grep -E '^hakari_collector_errors_total\{.*\} [1-9]' "$TMP/hk.prom" >&2 &&
    fail "collectors counted errors on node_exporter's fixtures"
"$PY" "$TOP/tests/tools/node_upstream.py" "$TMP/hk.prom" "$E2E" ||
    fail "hakari differs from node_exporter's e2e-output.txt"
echo ok
