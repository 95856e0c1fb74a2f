#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# --config.check accepts a good file and rejects bad ones with file:line:col; every flag that
# --help lists is accepted by the parser; --version, --once work.
source "$(dirname "$0")/../lib.sh"

good=$TMP/good.yml
cat >"$good" <<'YML'
# a realistic config
global:
  collection_interval: 15s
  external_labels:
    cluster: ${HK_CHECK_CLUSTER}
    price: "$$5"
limits:
  max_series: 50000
collectors:
  loadavg:
    enabled: true
YML
log "good config"
HK_CHECK_CLUSTER=prod-eu "$HAKARI" --config.check --config.file="$good" >"$TMP/out" 2>&1 ||
    fail "good config rejected: $(cat "$TMP/out")"
grep -q '^configuration OK' "$TMP/out" || fail "no OK line: $(cat "$TMP/out")"
grep -q '^collection_interval: 15s' "$TMP/out" || fail "interval not reported: $(cat "$TMP/out")"
grep -q 'cluster="prod-eu"' "$TMP/out" || fail "\${ENV} not expanded: $(cat "$TMP/out")"
grep -q 'price="\$5"' "$TMP/out" || fail "\$\$ not a literal \$: $(cat "$TMP/out")"
"$HAKARI" --config.check >/dev/null || fail "no config file at all must be valid (defaults)"

# bad <name> <expected message fragment, starting at the position> <<< yaml
bad() {
    local name=$1 want=$2 f=$TMP/$1.yml
    cat >"$f"
    if "$HAKARI" --config.check --config.file="$f" >"$TMP/out" 2>&1; then
        fail "$name: accepted"
    fi
    grep -qF -- "$f:$want" "$TMP/out" || fail "$name: want \"$f:$want\", got: $(cat "$TMP/out")"
}
log "bad configs"
bad unknown_key '4:3: unknown key "colection_interval"' <<'YML'
global:
  external_labels:
    a: b
  colection_interval: 10s
YML
bad bad_duration '2:24: expected a duration' <<'YML'
global:
  collection_interval: ten
YML
bad syntax '3:7: did not find expected' <<'YML'
global:
  collection_interval: [10s
limits: {}
YML
bad duplicate '3:1: duplicate key "global"' <<'YML'
global: {}
limits: {}
global: {}
YML
bad anchor '1:9: anchors are not supported' <<'YML'
global: &g {}
YML
bad unknown_collector '2:3: unknown collector "nosuch"' <<'YML'
collectors:
  nosuch: {}
YML
bad bad_size '2:15: expected a non-negative integer' <<'YML'
limits:
  max_series: lots
YML
if "$HAKARI" --config.check --config.file="$TMP/missing.yml" >"$TMP/out" 2>&1; then fail "missing file accepted"; fi
grep -q "missing.yml: No such file" "$TMP/out" || fail "missing file: $(cat "$TMP/out")"
# A flag overriding an invalid value does not make the file valid.
printf 'global:\n  collection_interval: "5x"\n' >"$TMP/overridden.yml"
if "$HAKARI" --config.check --config.file="$TMP/overridden.yml" --collection.interval=5s >"$TMP/out" 2>&1; then
    fail "an invalid value hidden by a flag override passed --config.check"
fi
grep -q 'overridden.yml:2:' "$TMP/out" || fail "no file:line for the overridden bad value: $(cat "$TMP/out")"
# Non-regular files are refused at once (a FIFO would block the reader for ever).
mkfifo "$TMP/fifo.yml"
rc=0
timeout 5 "$HAKARI" --config.check --config.file="$TMP/fifo.yml" >"$TMP/out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "a FIFO config was not refused at once: $(cat "$TMP/out")"
grep -q 'not a regular file' "$TMP/out" || fail "FIFO refusal does not say why: $(cat "$TMP/out")"

log "bad flags"
if "$HAKARI" --config.check --collection.interval=abc >"$TMP/out" 2>&1; then fail "bad interval flag accepted"; fi
grep -q 'command-line flag: expected a duration' "$TMP/out" || fail "bad flag: $(cat "$TMP/out")"
set +e
"$HAKARI" --no-such-flag >"$TMP/out" 2>&1
rc=$?
set -e
[ $rc -eq 2 ] || fail "unknown flag exit $rc, want 2"
grep -q 'unknown flag --no-such-flag' "$TMP/out" || fail "unknown flag message: $(cat "$TMP/out")"

log "every flag in --help is accepted"
"$HAKARI" --help >"$TMP/help" || fail "--help failed"
collector=$(awk '/^Collectors/{c=1;next} c&&/^  [a-z]/{print $1; exit}' "$TMP/help")
[ -n "$collector" ] || fail "--help lists no collectors"
printf 'basic_auth_users:\n  u: $2y$10$0123456789012345678901uJrNBAGhMZ3n3mkRCH6CNnYu7lXZq5K\n' >"$TMP/web.yml"
flags=$(grep -oE '^  --[a-z.-]+[A-Z.]*' "$TMP/help" | sed 's/^  //')
[ "$(echo "$flags" | wc -l)" -ge 15 ] || fail "suspiciously few flags in --help: $flags"
for f in $flags; do
    case $f in
    --help | --version) args=("$f") ;;
    --once) args=(--once --no-collector."$collector") ;;
    --config.check) args=(--config.check) ;;
    --config.file) args=(--config.check "$f=$good") ;;
    --web.listen-address) args=(--config.check "$f=127.0.0.1:0") ;;
    --web.config.file) args=(--config.check "$f=$TMP/web.yml") ;;
    --web.max-connections) args=(--config.check "$f=10") ;;
    --web.timeout) args=(--config.check "$f=10s") ;;
    --web.read-header-timeout) args=(--config.check "$f=5s") ;;
    --path.rootfs) args=(--config.check "$f=/") ;;
    --path.procfs) args=(--config.check "$f=/proc") ;;
    --path.sysfs) args=(--config.check "$f=/sys") ;;
    --collection.interval) args=(--config.check "$f=5s") ;;
    --collector.NAME) args=(--config.check "--collector.$collector") ;;
    --no-collector.NAME) args=(--config.check "--no-collector.$collector") ;;
    --collector.NAME.OPTION) args=() ;; # checked below: reaches the collector's validation
    --collector.textfile.directory) # repeatable: every use is one more directory
        args=(--config.check "$f=/a" "$f=/b*") ;;
    --runas.user) args=(--config.check "$f=nobody") ;;
    --log.level) args=(--config.check "$f=debug") ;;
    --log.format) args=(--config.check "$f=json") ;;
    *) fail "--help lists $f, which this test does not know: add it here" ;;
    esac
    [ ${#args[@]} -eq 0 ] && continue
    HK_CHECK_CLUSTER=x "$HAKARI" "${args[@]}" >"$TMP/out" 2>&1 || fail "$f: ${args[*]}: $(head -5 "$TMP/out")"
done
if "$HAKARI" --config.check "--collector.$collector.no_such_option=1" >"$TMP/out" 2>&1; then
    fail "unknown collector option accepted"
fi
grep -q 'command-line flag: unknown key "no_such_option"' "$TMP/out" || fail "collector option flag: $(cat "$TMP/out")"
"$HAKARI" --version | grep -qE '^hakari [0-9]+\.[0-9]+\.[0-9]+ \(revision [0-9a-f]+|unknown\)' ||
    fail "--version: $("$HAKARI" --version)"
"$HAKARI" --once >"$TMP/once" || fail "--once failed"
promtool_check "$TMP/once" || fail "--once output rejected by promtool"
echo "PASS check"
