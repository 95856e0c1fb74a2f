/* Run-queue latency and context switches per cgroup. A task becomes runnable at sched_wakeup /
 * sched_wakeup_new, or stays runnable when preempted at sched_switch; the time until
 * sched_switch picks it (as `next`) is its run-queue wait, charged to that task's cgroup (not
 * to `current`). Context switches are charged to `prev`. Start times live in task storage. */
#include "sched.h"
#include "hk_bpf.h"

char LICENSE[] SEC("license") = "GPL";

const volatile bool cg_v1 = true;

struct {
    __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, __u64);
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
        __u64 *ts = bpf_task_storage_get(&start, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
        if (ts)
            *ts = now;
    } else if (bpf_map_update_elem(&start_pid, &pid, &now, BPF_ANY) < 0) {
        hk_lost();
    }
}

/* Takes and clears p's runnable-since time; 0 when unknown. */
static __always_inline __u64 take_runnable(struct task_struct *p, __u32 pid, bool btf)
{
    __u64 t = 0;
    if (btf) {
        __u64 *ts = bpf_task_storage_get(&start, p, 0, 0);
        if (ts) {
            t = *ts;
            *ts = 0;
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

static __always_inline long task_state(struct task_struct *t)
{
    struct task_struct___old {
        long state;
    } *old = (void *)t;
    if (bpf_core_field_exists(t->__state))
        return BPF_CORE_READ(t, __state);
    return BPF_CORE_READ(old, state);
}

static __always_inline int on_switch(bool preempt, struct task_struct *prev,
                                     struct task_struct *next, bool btf)
{
    __u64 now = bpf_ktime_get_ns();
    __u64 id;
    struct hk_sched_val *v;

    __u32 prev_pid = btf ? prev->pid : BPF_CORE_READ(prev, pid);
    __u32 next_pid = btf ? next->pid : BPF_CORE_READ(next, pid);

    if (prev_pid) {
        bool runnable = preempt || task_state(prev) == TASK_RUNNING;
        id = cgid(prev, btf);
        v = HK_LOOKUP_OR_INIT(&sched_stats, &id, &zero_val);
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
    v = HK_LOOKUP_OR_INIT(&sched_stats, &id, &zero_val);
    if (!v)
        return 0;
    v->wait_ns += delta;
    v->waits++;
    __u32 slot = hk_log2_slot(delta);
    if (slot < HK_LOG2_SLOTS)
        v->slots[slot]++;
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
