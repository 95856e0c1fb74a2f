#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every libFuzzer target ($O/fuzz/fuzz_*, built by `make fuzz`) for a short bounded time
# (FUZZ_SECONDS, default 5 each here) with its seed corpus: any crash, leak, sanitizer report or
# timeout fails. Skips only when clang's libFuzzer runtime cannot be linked at all.
source "$(dirname "$0")/../lib.sh"
command -v clang >/dev/null || skip "clang not installed (mk/packages-fuzz.txt)"
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\n%s\n' \
    'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }' \
    >"$TMP/probe.c"
clang -fsanitize=fuzzer,address,undefined -o "$TMP/probe" "$TMP/probe.c" >"$TMP/probe.log" 2>&1 ||
    skip "clang cannot link libFuzzer (libclang-rt-14-dev): $(head -n 3 "$TMP/probe.log")"

# Two fuzzers at a time: each still runs its full FUZZ_SECONDS, on a core of its own (tests/run.sh
# counts this script as two cores busy).
export FUZZ_SECONDS=${FUZZ_SECONDS:-5} FUZZ_JOBS=${FUZZ_JOBS:-2}
rm -rf "$TOP/$O/fuzz/crashes"
if ! make -C "$TOP" --no-print-directory -j2 O="$O" fuzz >"$TMP/fuzz.log" 2>&1; then
    cat "$TMP/fuzz.log" >&2
    fail "make fuzz failed (crashers in $O/fuzz/crashes/)"
fi
cat "$TMP/fuzz.log"
targets=0
for bin in "$TOP/$O"/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    name=${name#fuzz_}
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$TOP/$O/fuzz/$name.log")
    [ -n "$execs" ] && [ "$execs" -gt 0 ] || fail "fuzz_$name ran no inputs"
    crashes=$(find "$TOP/$O/fuzz/crashes/$name" -type f | wc -l)
    [ "$crashes" -eq 0 ] || fail "fuzz_$name left $crashes crasher(s) in $O/fuzz/crashes/$name"
    echo "fuzz_$name: $execs executions in ${FUZZ_SECONDS}s, 0 crashes"
    targets=$((targets + 1))
done
[ "$targets" -ge 4 ] || fail "only $targets fuzz targets were built"
