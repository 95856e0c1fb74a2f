/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* OOM probe: the per-cgroup map of oom.bpf.c is u64 cgroup id (v1 memory hierarchy, or
 * cgroup2) → u64 number of OOM victims. Nothing else is shared. */
#ifndef HK_BPF_OOM_H
#define HK_BPF_OOM_H

#include "hk_common.h"

#define HK_OOM_MAX_CGROUPS 4096

#endif
