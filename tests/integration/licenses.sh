#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Licensing holds: LICENSE is the Apache License 2.0; every source of the project's own (C, proto,
# shell, Python, make) names its licence in an SPDX line near the top, Apache-2.0 everywhere but
# the eBPF programs under bpf/, which are GPL-2.0-only OR BSD-2-Clause (the kernel wants a
# GPL-compatible licence for the helpers they call) and declare "Dual BSD/GPL" to the kernel.
# Copies of other projects' files (fixtures, kube-prometheus' manifests) and the generated
# bpf/arch/*/vmlinux.h keep their own terms and are not checked.
source "$(dirname "$0")/../lib.sh"
cd "$TOP"
head -3 LICENSE | grep -q 'Apache License' && grep -q 'Version 2.0, January 2004' LICENSE ||
    fail "LICENSE is not the Apache License 2.0"
bad=0 n=0
while IFS= read -r f; do
    case "$f" in
    tests/fixtures/* | tests/golden/* | tests/fuzz/corpus/* | tests/fuzz/seeds/* | promql-tests/kube-prometheus/* | bpf/arch/*/vmlinux.h) continue ;;
    *.c | *.h | *.proto | *.sh | *.py | *.mk | Makefile | .ci/run) ;;
    *) continue ;;
    esac
    want='Apache-2.0'
    [[ "$f" == bpf/* ]] && want='GPL-2.0-only OR BSD-2-Clause'
    n=$((n + 1))
    head -3 "$f" | grep -q "SPDX-License-Identifier: $want" || { echo "no SPDX line ($want): $f"; bad=$((bad + 1)); }
done < <(git ls-files)
for f in bpf/*.bpf.c; do
    grep -q 'SEC("license") = "Dual BSD/GPL"' "$f" || { echo "$f: kernel licence string is not Dual BSD/GPL"; bad=$((bad + 1)); }
done
[ "$bad" -eq 0 ] || fail "$bad file(s) without the right SPDX line"
echo "ok: $n sources carry their SPDX line"
