#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The man page and --help describe the same flags: every flag printed by --help is in hakari.1,
# and every flag in hakari.1 is accepted by the binary (it is in --help).
source "$(dirname "$0")/../lib.sh"
flags_help=$("$HAKARI" --help | grep -oE -- '--[a-z][a-z.-]*[a-z]' | sed 's/\.$//' | sort -u)
flags_man=$(sed 's/\\-/-/g; s/\\fI//g; s/\\fR//g; s/\\fB//g' "$TOP/hakari.1" | grep -oE -- '--[a-z][a-z.-]*[a-z]' | sed 's/\.$//' | sort -u)
missing_in_man=$(comm -23 <(echo "$flags_help") <(echo "$flags_man"))
missing_in_help=$(comm -13 <(echo "$flags_help") <(echo "$flags_man"))
[ -z "$missing_in_man" ] || fail "flags in --help but not in hakari.1: $missing_in_man"
[ -z "$missing_in_help" ] || fail "flags in hakari.1 but not in --help: $missing_in_help"
# The page renders without warnings.
if command -v groff >/dev/null; then
    warn=$(groff -man -Tutf8 -ww "$TOP/hakari.1" 2>&1 >/dev/null)
    [ -z "$warn" ] || fail "groff warnings: $warn"
fi
echo "ok: $(echo "$flags_help" | wc -l) flags documented"
