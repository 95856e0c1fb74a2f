/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Process lifecycle probe: per-cgroup exec/exit counts shared between proc.bpf.c and
 * collector/ebpf_proc.c. Key: u64 cgroup id (v1 cpu hierarchy, or cgroup2). */
#ifndef HK_BPF_PROC_H
#define HK_BPF_PROC_H

#include "hk_common.h"

struct hk_proc_val {
    __u64 execs;
    __u64 exits_ok;     /* whole process exited with status 0 */
    __u64 exits_error;  /* exited with a non-zero status */
    __u64 exits_signal; /* killed by a signal */
};

#endif
