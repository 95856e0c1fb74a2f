#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# docs/configuration.md documents exactly the keys the parsers accept: the allowed-key arrays are
# extracted from the C source (every hk_yaml_check_keys call) and compared both ways with the
# tables of the docs; every collector in the tree has a section.
source "$(dirname "$0")/../lib.sh"
# Debian's interpreter: python3-yaml (mk/packages-test.txt) is installed for it.
TOP="$TOP" HAKARI="$HAKARI" "$PY" "$TOP/tests/tools/check_config_docs.py"
# The extractor itself finds a key added to a parser: add one to a copy and expect a failure.
mkdir -p "$TMP/t/agent" "$TMP/t/core" "$TMP/t/docs"
cp "$TOP/agent/config.c" "$TMP/t/agent/" && cp "$TOP/core/collector.h" "$TMP/t/core/"
cp "$TOP/docs/configuration.md" "$TMP/t/docs/"
sed -i 's/"collection_interval", "external_labels",/"collection_interval", "external_labels", "undocumented_key",/' \
    "$TMP/t/agent/config.c"
grep -q undocumented_key "$TMP/t/agent/config.c" || fail "could not plant a key in parse_global"
out=$(TOP="$TMP/t" "$PY" "$TOP/tests/tools/check_config_docs.py" 2>&1) && fail "planted key not detected"
echo "$out" | grep -q "not documented: undocumented_key" || fail "unexpected message: $out"
echo ok
