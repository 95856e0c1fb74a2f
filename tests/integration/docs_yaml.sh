#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Docs that hold when followed: every YAML example in README.md and docs/*.md passes
# `hakari --config.check` (configuration and web-config examples) or `promtool check config`
# (Prometheus examples), with placeholder files for the secrets and certificates they name
# (tests/tools/docs_yaml.py). The checker itself must catch a broken example.
source "$(dirname "$0")/../lib.sh"
"$PY" -c 'import yaml' 2>/dev/null || fail "python3-yaml missing (mk/packages-test.txt)"
mkdir -p "$TMP/run"
"$PY" "$TOP/tests/tools/docs_yaml.py" "$HAKARI" "$TOP" "$TMP/run" || fail "a documented YAML example does not check"
# Plant an invalid value in a copy of the docs: it must be reported with its place.
mkdir -p "$TMP/t/docs" "$TMP/t/run"
cp "$TOP/README.md" "$TMP/t/"
printf '# t\n\n```yaml\nglobal:\n  collection_interval: 5x\n```\n' >"$TMP/t/docs/planted.md"
out=$("$PY" "$TOP/tests/tools/docs_yaml.py" "$HAKARI" "$TMP/t" "$TMP/t/run" 2>&1) && fail "planted bad example not detected"
grep -q 'FAIL docs/planted.md:4:' <<<"$out" || fail "unexpected report: $out"
echo ok
