#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# deploy/kubernetes is valid: manifests parse and render (base and every overlay), selectors,
# probes, mounts, capabilities and references hold, generated files are in sync, and every
# rendered hakari.yml with the container's args passes `hakari --config.check`.
source "$(dirname "$0")/../lib.sh"
# Debian's interpreter: python3-yaml (mk/packages-test.txt) is installed for it.
[ -x "$HAKARI" ] || fail "no binary at $HAKARI"
"$PY" -c 'import yaml' 2>/dev/null || fail "python3-yaml missing (mk/packages-test.txt)"
TOP="$TOP" HAKARI="$HAKARI" "$PY" "$TOP/tests/tools/check_manifests.py"
