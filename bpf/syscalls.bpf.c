/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Syscalls per cgroup (opt-in: hooking raw_syscalls puts every syscall of every task on the
 * slow path). sys_exit counts the call and its error, charged to the calling task (the owner:
 * syscalls run in its context); with `latency`, sys_enter also stores the start time in task
 * storage and sys_exit adds enter → exit time to a log2 histogram. */
#include "syscalls.h"
#include "hk_bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL"; /* SPDX: GPL-2.0-only OR BSD-2-Clause */

const volatile bool cg_v1 = true;
/* Latency needs the sys_enter hook too (about twice the cost): only with syscall_latency. */
const volatile bool latency = false;

struct {
    __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, __u64);
} start SEC(".maps");

/* raw_tp fallback: no BTF task pointer, so a tid-keyed hash. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, __u32);
    __type(value, __u64);
} start_tid SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, struct hk_sys_val);
} sys_stats SEC(".maps");

HK_LOST_MAP

static const struct hk_sys_val zero_val;

static __always_inline int on_enter(bool btf)
{
    __u64 now = bpf_ktime_get_ns();
    if (btf) {
        struct task_struct *t = bpf_get_current_task_btf();
        __u64 *ts = bpf_task_storage_get(&start, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
        if (ts)
            *ts = now;
    } else {
        __u32 tid = (__u32)bpf_get_current_pid_tgid();
        if (bpf_map_update_elem(&start_tid, &tid, &now, BPF_ANY) < 0)
            hk_lost();
    }
    return 0;
}

static __always_inline int on_exit(long nr, long ret, bool btf)
{
    if (nr < 0)
        return 0; /* id -1: not a real syscall (e.g. seccomp/ptrace skipped it) */
    __u64 since = 0, id;
    int ssid = bpf_core_enum_value(enum cgroup_subsys_id, cpu_cgrp_id);
    if (btf) {
        struct task_struct *t = bpf_get_current_task_btf();
        if (latency) {
            __u64 *ts = bpf_task_storage_get(&start, t, 0, 0);
            if (ts) {
                since = *ts;
                *ts = 0;
            }
        }
        id = hk_task_cgid_btf(t, cg_v1, ssid);
    } else {
        if (latency) {
            __u32 tid = (__u32)bpf_get_current_pid_tgid();
            __u64 *ts = bpf_map_lookup_elem(&start_tid, &tid);
            if (ts) {
                since = *ts;
                bpf_map_delete_elem(&start_tid, &tid);
            }
        }
        id = hk_task_cgid((struct task_struct *)bpf_get_current_task(), cg_v1, ssid);
    }
    struct hk_sys_val *v = HK_LOOKUP_OR_INIT(&sys_stats, &id, &zero_val);
    if (!v)
        return 0;
    v->count++;
    if (ret < 0 && ret >= -4095)
        v->errors++;
    if (since) {
        __u64 delta = bpf_ktime_get_ns() - since;
        if ((__s64)delta >= 0) {
            v->sum_ns += delta;
            v->timed++;
            __u32 slot = hk_nh_slot(delta);
            if (slot < HK_NH_SLOTS)
                v->slots[slot]++;
        }
    }
    return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(btf_enter, struct pt_regs *regs, long nr)
{
    return on_enter(true);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(btf_exit, struct pt_regs *regs, long ret)
{
    return on_exit(regs->orig_ax, ret, true);
}

SEC("raw_tp/sys_enter")
int BPF_PROG(raw_enter, struct pt_regs *regs, long nr)
{
    return on_enter(false);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(raw_exit, struct pt_regs *regs, long ret)
{
    return on_exit(BPF_CORE_READ(regs, orig_ax), ret, false);
}
