/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Run-queue latency and context switches per cgroup. Context switches are charged to `prev` at
 * sched_switch. A run-queue wait (runnable → running, after a wakeup or a preemption) is charged
 * to the task that waited, never to `current`, in one of two ways:
 *  - sched_info (tp_btf, when the kernel keeps per-task sched_info: CONFIG_SCHED_INFO, the
 *    source of /proc/<tid>/schedstat): sched_switch alone. The kernel adds every wait to
 *    prev->sched_info.run_delay and counts it in .pcount when the task is switched in; when the
 *    task is switched out again the growth of both since its last switch-out (kept in task
 *    storage) is that wait. One hook, one task-storage access and one map lookup per switch, no
 *    clock read; the wait shows when the task leaves the CPU rather than when it arrives.
 *  - timestamps (raw_tp, or no sched_info): sched_wakeup / sched_wakeup_new, or a preemption at
 *    sched_switch, store "runnable since"; sched_switch takes it when the task is `next`. */
#include "sched.h"
#include "hk_bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL"; /* SPDX: GPL-2.0-only OR BSD-2-Clause */

const volatile bool cg_v1 = true;
/* Waits from the kernel's sched_info (set by user space for tp_btf when sched_info is kept; the
 * wakeup programs are then not loaded). */
const volatile bool sched_info = false;

/* Per task: "runnable since" (timestamps), or run_delay / pcount at the last switch-out
 * (sched_info; seen = 1 once they are valid). */
struct task_mark {
    __u64 t;
    __u64 pcount;
    __u64 seen;
};

struct {
    __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct task_mark);
} start SEC(".maps");

/* raw_tp fallback: arguments are not BTF pointers there, so task storage cannot be used;
 * start times go to a pid-keyed hash instead (slower: a hash lookup per event instead of task storage). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, __u32);
    __type(value, __u64);
} start_pid SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, struct hk_sched_val);
} sched_stats SEC(".maps");

HK_LOST_MAP

static const struct hk_sched_val zero_val;

static __always_inline __u64 cgid(struct task_struct *t, bool btf)
{
    int ssid = bpf_core_enum_value(enum cgroup_subsys_id, cpu_cgrp_id);
    return btf ? hk_task_cgid_btf(t, cg_v1, ssid) : hk_task_cgid(t, cg_v1, ssid);
}

/* Records "runnable since now" for p: task storage (btf) or the pid hash (raw_tp). */
static __always_inline void mark_runnable(struct task_struct *p, __u32 pid, __u64 now, bool btf)
{
    if (btf) {
        struct task_mark *m = bpf_task_storage_get(&start, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
        if (m)
            m->t = now;
    } else if (bpf_map_update_elem(&start_pid, &pid, &now, BPF_ANY) < 0) {
        hk_lost();
    }
}

/* Takes and clears p's runnable-since time; 0 when unknown. */
static __always_inline __u64 take_runnable(struct task_struct *p, __u32 pid, bool btf)
{
    __u64 t = 0;
    if (btf) {
        struct task_mark *m = bpf_task_storage_get(&start, p, 0, 0);
        if (m) {
            t = m->t;
            m->t = 0;
        }
    } else {
        __u64 *ts = bpf_map_lookup_elem(&start_pid, &pid);
        if (ts) {
            t = *ts;
            bpf_map_delete_elem(&start_pid, &pid);
        }
    }
    return t;
}

static __always_inline int on_wakeup(struct task_struct *p, bool btf)
{
    __u32 pid = btf ? p->pid : BPF_CORE_READ(p, pid);
    if (pid)
        mark_runnable(p, pid, bpf_ktime_get_ns(), btf);
    return 0;
}

static __always_inline long task_state(struct task_struct *t, bool btf)
{
    struct task_struct___old {
        long state;
    } *old = (void *)t;
    if (bpf_core_field_exists(t->__state))
        return btf ? t->__state : BPF_CORE_READ(t, __state);
    return BPF_CORE_READ(old, state);
}

/* Adds n waits totalling delta ns to v (n > 1 only if switch-outs were missed: the mean goes to
 * the histogram, so its sum stays the wait total). */
static __always_inline void add_waits(struct hk_sched_val *v, __u64 n, __u64 delta)
{
    v->wait_ns += delta;
    v->waits += n;
    __u32 slot = hk_nh_slot(n == 1 ? delta : delta / n);
    if (slot < HK_NH_SLOTS)
        v->slots[slot] += n;
}

/* sched_info mode (tp_btf only): everything is charged to prev, with one map lookup. */
static __always_inline int on_switch_sched_info(bool preempt, struct task_struct *prev)
{
    if (!prev->pid)
        return 0; /* the idle task */
    bool runnable = preempt || task_state(prev, true) == TASK_RUNNING;
    __u64 delay = prev->sched_info.run_delay;
    __u64 pcount = prev->sched_info.pcount;
    __u64 n = 0, delta = 0;
    struct task_mark *m = bpf_task_storage_get(&start, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (m) {
        if (m->seen && pcount > m->pcount && delay >= m->t) {
            n = pcount - m->pcount;
            delta = delay - m->t;
        }
        m->t = delay;
        m->pcount = pcount;
        m->seen = 1;
    }
    __u64 id = cgid(prev, true);
    struct hk_sched_val *v = HK_LOOKUP_OR_INIT(&sched_stats, &id, &zero_val);
    if (!v)
        return 0;
    if (runnable)
        v->involuntary++;
    else
        v->voluntary++;
    if (n)
        add_waits(v, n, delta);
    return 0;
}

static __always_inline int on_switch(bool preempt, struct task_struct *prev,
                                     struct task_struct *next, bool btf)
{
    __u64 now = bpf_ktime_get_ns();
    __u64 id, prev_id = 0;
    struct hk_sched_val *v, *prev_v = NULL;

    __u32 prev_pid = btf ? prev->pid : BPF_CORE_READ(prev, pid);
    __u32 next_pid = btf ? next->pid : BPF_CORE_READ(next, pid);

    if (prev_pid) {
        bool runnable = preempt || task_state(prev, btf) == TASK_RUNNING;
        prev_id = cgid(prev, btf);
        v = prev_v = HK_LOOKUP_OR_INIT(&sched_stats, &prev_id, &zero_val);
        if (v) {
            if (runnable)
                v->involuntary++;
            else
                v->voluntary++;
        }
        if (runnable)
            mark_runnable(prev, prev_pid, now, btf);
    }
    if (!next_pid)
        return 0;
    __u64 since = take_runnable(next, next_pid, btf);
    if (!since)
        return 0;
    __u64 delta = now - since;
    if ((__s64)delta < 0)
        return 0;
    id = cgid(next, btf);
    /* prev and next often share a cgroup (tasks of one container handing over): one lookup. */
    v = prev_v && id == prev_id ? prev_v : HK_LOOKUP_OR_INIT(&sched_stats, &id, &zero_val);
    if (v)
        add_waits(v, 1, delta);
    return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(btf_wakeup, struct task_struct *p)
{
    return on_wakeup(p, true);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(btf_wakeup_new, struct task_struct *p)
{
    return on_wakeup(p, true);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(btf_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
    /* The field guard keeps the object loadable on a kernel without CONFIG_SCHED_INFO (user
     * space then leaves sched_info off). */
    if (sched_info && bpf_core_field_exists(prev->sched_info))
        return on_switch_sched_info(preempt, prev);
    return on_switch(preempt, prev, next, true);
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(raw_wakeup, struct task_struct *p)
{
    return on_wakeup(p, false);
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(raw_wakeup_new, struct task_struct *p)
{
    return on_wakeup(p, false);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(raw_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
    return on_switch(preempt, prev, next, false);
}
