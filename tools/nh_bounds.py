#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Prints the body of hk_nh_bounds_ns[] in bpf/hk_common.h: the upper bound in whole nanoseconds of each
native-histogram slot (schema 3, zero threshold 2^-22 s, 256 slots), floor(2^(i/8) s in ns) for
native bucket index i = slot - 176, computed with 60-digit decimals; the last slot is open-ended.
A latency v (integer ns) lies in bucket i exactly when bound[slot-1] < v <= bound[slot]."""
from decimal import Decimal, getcontext, ROUND_FLOOR

SCHEMA, ZERO_EXP, SLOTS = 3, -22, 256


def bounds():
    getcontext().prec = 60
    first = ZERO_EXP << SCHEMA  # native index of slot 0's upper bound (the zero threshold)
    out = []
    for slot in range(SLOTS - 1):
        x = Decimal(2) ** (Decimal(first + slot) / (1 << SCHEMA)) * Decimal(10**9)
        out.append(int(x.to_integral_value(rounding=ROUND_FLOOR)))
    out.append(2**64 - 1)
    return out


def main():
    vals = bounds()
    assert vals == sorted(vals) and len(set(vals)) == len(vals)
    cells = ["0xffffffffffffffffULL" if v == 2**64 - 1 else f"{v}ULL" for v in vals]
    for i in range(0, len(cells), 5):
        print("    " + ", ".join(cells[i:i + 5]) + ",")


if __name__ == "__main__":
    main()
