/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* OOM kills per cgroup: oom:mark_victim carries the victim task, whose memory cgroup (v1 memory
 * hierarchy, or cgroup2) is charged — not `current`, which is whoever hit the limit. */
#include "oom.h"
#include "hk_bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL"; /* SPDX: GPL-2.0-only OR BSD-2-Clause */

const volatile bool cg_v1 = true;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, HK_OOM_MAX_CGROUPS);
    __type(key, __u64);
    __type(value, __u64);
} oom_kills SEC(".maps");

HK_LOST_MAP

static const __u64 zero_val;

static __always_inline int on_victim(struct task_struct *p)
{
    __u64 id = hk_task_cgid(p, cg_v1, bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id));
    __u64 *n = HK_LOOKUP_OR_INIT(&oom_kills, &id, &zero_val);
    if (n)
        __sync_fetch_and_add(n, 1);
    return 0;
}

SEC("tp_btf/mark_victim")
int BPF_PROG(btf_victim, struct task_struct *p)
{
    return on_victim(p);
}

SEC("raw_tp/mark_victim")
int BPF_PROG(raw_victim, struct task_struct *p)
{
    return on_victim(p);
}
