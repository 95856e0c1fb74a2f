/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Run-queue probe: per-cgroup values shared between sched.bpf.c and collector/ebpf_sched.c.
 * Key: u64 cgroup id (v1 cpu hierarchy, or cgroup2). */
#ifndef HK_BPF_SCHED_H
#define HK_BPF_SCHED_H

#include "hk_common.h"

struct hk_sched_val {
    __u64 wait_ns;     /* time runnable tasks of the cgroup waited for a CPU */
    __u64 waits;       /* number of waits (histogram count) */
    __u64 voluntary;   /* context switches away from a task that blocked */
    __u64 involuntary; /* context switches away from a task that was still runnable */
    __u64 slots[HK_NH_SLOTS];
};

#endif
