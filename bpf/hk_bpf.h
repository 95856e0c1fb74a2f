/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Kernel-side helpers shared by the probes: the cgroup id of a task in a chosen hierarchy
 * (cgroup v1 controller via task->cgroups->subsys[], or the cgroup2 default hierarchy), the
 * log2 slot of a value, and the per-program lost-event counter. */
#ifndef HK_BPF_H
#define HK_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "hk_common.h"

#define TASK_RUNNING 0

/* Cgroup id (kernfs node id = directory inode) of task t. v1 != 0: the v1 hierarchy of the
 * controller `ssid` (an enum cgroup_subsys_id value resolved with CO-RE by the caller);
 * otherwise the cgroup2 (default hierarchy) cgroup. */
static __always_inline __u64 hk_task_cgid(struct task_struct *t, bool v1, int ssid)
{
    struct css_set *cs = BPF_CORE_READ(t, cgroups);
    if (!cs)
        return 0;
    if (!v1)
        return BPF_CORE_READ(cs, dfl_cgrp, kn, id);
    struct cgroup_subsys_state *css = NULL;
    if (ssid < 0 || ssid >= 16)
        return 0;
    bpf_core_read(&css, sizeof(css), &cs->subsys[ssid]);
    if (!css)
        return 0;
    return BPF_CORE_READ(css, cgroup, kn, id);
}

/* Same for a BTF-typed task pointer (tp_btf arguments, bpf_get_current_task_btf()): plain loads
 * the verifier turns into fault-safe direct reads, much cheaper than one probe-read helper call
 * per hop (this runs on every context switch). A NULL hop reads as 0. */
static __always_inline __u64 hk_task_cgid_btf(struct task_struct *t, bool v1, int ssid)
{
    struct css_set *cs = t->cgroups;
    if (!v1)
        return cs->dfl_cgrp->kn->id;
    if (ssid < 0 || ssid >= 16)
        return 0;
    return cs->subsys[ssid]->cgroup->kn->id;
}

/* One per-CPU counter of events dropped because a map was full (hakari_ebpf_events_lost_total). */
#define HK_LOST_MAP                                                                                \
    struct {                                                                                       \
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                                                   \
        __uint(max_entries, 1);                                                                    \
        __type(key, __u32);                                                                        \
        __type(value, __u64);                                                                      \
    } lost SEC(".maps");                                                                           \
    static __always_inline void hk_lost(void)                                                      \
    {                                                                                              \
        __u32 zero = 0;                                                                            \
        __u64 *n = bpf_map_lookup_elem(&lost, &zero);                                              \
        if (n)                                                                                     \
            (*n)++;                                                                                \
    }

/* Looks up key in a per-cgroup map, inserting `zero` (a global of the value type) when absent. */
#define HK_LOOKUP_OR_INIT(map, key, zero)                                                          \
    ({                                                                                             \
        void *v_ = bpf_map_lookup_elem(map, key);                                                  \
        if (!v_) {                                                                                 \
            bpf_map_update_elem(map, key, zero, BPF_NOEXIST);                                      \
            v_ = bpf_map_lookup_elem(map, key);                                                    \
            if (!v_)                                                                               \
                hk_lost();                                                                         \
        }                                                                                          \
        v_;                                                                                        \
    })

#endif
