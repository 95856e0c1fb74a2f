#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kubernetes-mixin recording rules (container CPU rate/irate, working set, rss, cache, swap) and
# the CPUThrottlingHigh alert (promql-tests/cadvisor-compat/rules.yml) evaluated by
# `promtool test rules` over hakari's output: the fixture generator advances a node root minute
# by minute (known CPU rates, memory sizes, throttled fractions), hakari --once collects each
# minute, and the expected rule results come from the generator's model.
. "$(dirname "$0")/../lib.sh"

[ -x "$HAKARI" ] || fail "no binary at $HAKARI"
command -v promtool >/dev/null || fail "promtool missing"
DIR=$TOP/promql-tests/cadvisor-compat
promtool check rules "$DIR/rules.yml" >/dev/null || fail "rules.yml does not load"
TICKS=22
# Many small files per minute: keep them in memory when possible.
ROOT=$TMP/root
[ -d /dev/shm ] && [ -w /dev/shm ] && ROOT=$(mktemp -d /dev/shm/hakari-promql.XXXXXX)
trap 'rm -rf "$ROOT" "$DIR"/.*_test.yml; cleanup' EXIT
for layout in v2-systemd-containerd v1-cgroupfs-docker v2-crio; do
    log "$layout: $TICKS minutes of hakari output"
    mkdir -p "$TMP/$layout"
    python3 "$TOP/tests/fixtures/gen.py" --layout "$layout" --out "$ROOT" --ticks "$TICKS" \
        --each "'$HAKARI' --once --no-collector.loadavg --path.rootfs='$ROOT' >'$TMP/$layout/tick-{tick}.prom'" ||
        fail "$layout: generating or collecting failed"
    python3 "$DIR/build_test.py" --layout "$layout" --ticks "$TICKS" --dir "$TMP/$layout" \
        --out "$DIR/.${layout}_test.yml"
    (cd "$DIR" && promtool test rules ".${layout}_test.yml") >&2 || fail "$layout: promtool test rules"
done
echo "cadvisor-compat rules: ok"
