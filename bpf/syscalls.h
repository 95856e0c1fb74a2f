/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Syscall probe (opt-in): per-cgroup counts, errors and latency shared between syscalls.bpf.c
 * and collector/ebpf_syscalls.c. Key: u64 cgroup id of the calling task (v1 cpu, or cgroup2). */
#ifndef HK_BPF_SYSCALLS_H
#define HK_BPF_SYSCALLS_H

#include "hk_common.h"

struct hk_sys_val {
    __u64 count;
    __u64 errors; /* returned -1 … -4095 */
    __u64 sum_ns; /* enter → exit, for syscalls whose enter was seen */
    __u64 timed;
    __u64 slots[HK_NH_SLOTS];
};

#endif
