/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Block I/O probe: per (cgroup, device, op) latency histograms shared between blk.bpf.c and
 * collector/ebpf_blk.c. The cgroup is the bio's blkcg (v1 blkio hierarchy, or cgroup2). */
#ifndef HK_BPF_BLK_H
#define HK_BPF_BLK_H

#include "hk_common.h"

struct hk_blk_key {
    __u64 cgid;
    __u32 dev; /* major << 20 | minor of the whole disk (kernel MKDEV layout) */
    __u32 op;  /* enum hk_blk_op */
};

enum hk_blk_op { HK_BLK_READ, HK_BLK_WRITE, HK_BLK_FLUSH, HK_BLK_DISCARD, HK_BLK_OTHER };

struct hk_blk_val {
    __u64 count;
    __u64 sum_ns;
    __u64 slots[HK_NH_SLOTS];
};

#endif
