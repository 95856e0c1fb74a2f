/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Process execs and exits per cgroup: sched_process_exec (the task that exec'd) and
 * sched_process_exit counted once per process, when its last thread exits (signal->live == 0),
 * with the reason taken from exit_code (signal / non-zero status / ok). */
#include "proc.h"
#include "hk_bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL"; /* SPDX: GPL-2.0-only OR BSD-2-Clause */

const volatile bool cg_v1 = true;

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, struct hk_proc_val);
} proc_stats SEC(".maps");

HK_LOST_MAP

static const struct hk_proc_val zero_val;

static __always_inline struct hk_proc_val *val_of(struct task_struct *t)
{
    __u64 id = hk_task_cgid(t, cg_v1, bpf_core_enum_value(enum cgroup_subsys_id, cpu_cgrp_id));
    return HK_LOOKUP_OR_INIT(&proc_stats, &id, &zero_val);
}

static __always_inline int on_exec(struct task_struct *p)
{
    struct hk_proc_val *v = val_of(p);
    if (v)
        v->execs++;
    return 0;
}

static __always_inline int on_exit(struct task_struct *p)
{
    if (BPF_CORE_READ(p, signal, live.counter) != 0)
        return 0; /* other threads of the process still run */
    int code = BPF_CORE_READ(p, exit_code);
    struct hk_proc_val *v = val_of(p);
    if (!v)
        return 0;
    if (code & 0x7f)
        v->exits_signal++;
    else if ((code >> 8) & 0xff)
        v->exits_error++;
    else
        v->exits_ok++;
    return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(btf_exec, struct task_struct *p)
{
    return on_exec(p);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(btf_exit, struct task_struct *p)
{
    return on_exit(p);
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(raw_exec, struct task_struct *p)
{
    return on_exec(p);
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(raw_exit, struct task_struct *p)
{
    return on_exit(p);
}

/* Classic tracepoints run in the exec'ing / exiting task itself, so `current` is the owner. */
SEC("tracepoint/sched/sched_process_exec")
int tp_exec(void *ctx)
{
    return on_exec((struct task_struct *)bpf_get_current_task());
}

SEC("tracepoint/sched/sched_process_exit")
int tp_exit(void *ctx)
{
    return on_exit((struct task_struct *)bpf_get_current_task());
}
