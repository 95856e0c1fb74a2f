/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Constants shared by every probe's kernel and user side: histogram slots and the cgroup
 * hierarchy modes. Plain C, included by both clang -target bpf and the collector. */
#ifndef HK_BPF_COMMON_H
#define HK_BPF_COMMON_H

/* log2 histogram slots: slot k counts values v (ns) with 2^(k-1) < v <= 2^k; slot 0 counts
 * v <= 1; the last slot also takes everything larger. */
#define HK_LOG2_SLOTS 40

#ifdef __bpf__
#include "vmlinux.h" /* kernel types (include-guarded) */
#else
#include <linux/types.h>
#endif

/* Number of significant bits of v (0 for 0). */
static inline __attribute__((always_inline)) __u32 hk_bits(__u64 v)
{
    __u32 r = 0;
    if (v >> 32) {
        v >>= 32;
        r += 32;
    }
    if (v >> 16) {
        v >>= 16;
        r += 16;
    }
    if (v >> 8) {
        v >>= 8;
        r += 8;
    }
    if (v >> 4) {
        v >>= 4;
        r += 4;
    }
    if (v >> 2) {
        v >>= 2;
        r += 2;
    }
    if (v >> 1) {
        v >>= 1;
        r += 1;
    }
    return r + (__u32)v;
}

/* Slot k such that 2^(k-1) < v <= 2^k (slot 0 for v <= 1), capped at the last slot: so slot k
 * is exactly the Prometheus bucket le = 2^k. Shared so unit tests check the kernel's code. */
static inline __attribute__((always_inline)) __u32 hk_log2_slot(__u64 v)
{
    __u32 k = v <= 1 ? 0 : hk_bits(v - 1);
    return k < HK_LOG2_SLOTS ? k : HK_LOG2_SLOTS - 1;
}

/* Ladder of attach types, tried in this order (collectors.ebpf.attach may force one). */
enum hk_attach_kind {
    HK_ATTACH_TP_BTF = 0,
    HK_ATTACH_RAW_TP = 1,
    HK_ATTACH_TRACEPOINT = 2,
};

#endif
