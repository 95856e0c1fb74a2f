#!/usr/bin/env bash
# Regenerates tests/golden/<case>.prom (all cases, or those named) from `hakari --once` on
# tests/fixtures/<case>, with the flags of <case>.args and without hakari_*/process_* families.
# Review the diff before committing: a golden file is a claim about correct output.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-build}
HAKARI=${HAKARI:-$TOP/$O/hakari}
cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
    for g in "$TOP"/tests/golden/*.prom; do [ -e "$g" ] && cases+=("$(basename "$g" .prom)"); done
fi
for c in "${cases[@]}"; do
    [ -d "$TOP/tests/fixtures/$c" ] || { echo "no fixture tests/fixtures/$c" >&2; exit 1; }
    args=()
    if [ -f "$TOP/tests/golden/$c.args" ]; then
        while IFS= read -r line || [ -n "$line" ]; do
            [[ -z "$line" || "$line" == \#* ]] && continue
            args+=("$line")
        done <"$TOP/tests/golden/$c.args"
    fi
    "$HAKARI" --once --path.rootfs="$TOP/tests/fixtures/$c" "${args[@]}" |
        awk -f "$TOP/tests/golden/strip-self.awk" >"$TOP/tests/golden/$c.prom.tmp"
    mv "$TOP/tests/golden/$c.prom.tmp" "$TOP/tests/golden/$c.prom"
    echo "updated tests/golden/$c.prom"
done
