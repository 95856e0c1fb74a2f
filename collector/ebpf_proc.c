/* SPDX-License-Identifier: Apache-2.0 */
/* Process lifecycle probe (bpf/proc.bpf.c): sched_process_exec / sched_process_exit.
 * Emits container_process_execs_total and container_process_exits_total{reason=ok|error|signal}
 * keyed by the v1 cpu hierarchy (or cgroup2). */
#include <string.h>

#include "collector/ebpf_internal.h"

static const char *const labels_reason[] = {"container", "id",  "image",  "name",
                                            "namespace", "pod", "reason", NULL};
HK_EBPF_DESC desc_execs = {"container_process_execs_total",
                           "Successful execve calls in the container (eBPF).", HK_METRIC_COUNTER,
                           "", hk_ebpf_base_labels};
HK_EBPF_DESC desc_exits = {
    "container_process_exits_total",
    "Processes of the container that exited (eBPF): ok = status 0, error = non-zero status, "
    "signal = killed by a signal.",
    HK_METRIC_COUNTER, "", labels_reason};

#if HK_WITH_BPF
#include "bpf/proc.h"
#include "bpf/proc.skel.h"

static void configure(void *skel, const struct hk_ebpf_env *env)
{
    ((struct hk_proc *)skel)->rodata->cg_v1 = env->hier[HK_HIER_CPU].v1;
}
HK_EBPF_SKEL_OPS(skel_ops, hk_proc, configure, proc_stats);

static int decode(struct hk_ebpf_prog *p, const void *key, const void *vals, int ncpu,
                  struct hk_ebpf_entry *ret)
{
    const struct hk_proc_val *v = vals;
    memcpy(&ret->id, key, sizeof(ret->id));
    for (int c = 0; c < ncpu; c++) {
        ret->v[0] += (int64_t)v[c].execs;
        ret->v[1] += (int64_t)v[c].exits_ok;
        ret->v[2] += (int64_t)v[c].exits_error;
        ret->v[3] += (int64_t)v[c].exits_signal;
    }
    return 0;
}

static int emit(struct hk_ebpf_prog *p, struct hk_ebpf_collect *c, struct hk_ebpf_rows *rows)
{
    struct hk_builder *b = c->ctx->b;
    int r;
    if ((r = hk_ebpf_emit_counter(b, &desc_execs, rows, 0, 1, NULL)) == 0 &&
        (r = hk_ebpf_emit_counter(b, &desc_exits, rows, 1, 1, "ok")) == 0 &&
        (r = hk_ebpf_emit_counter(b, &desc_exits, rows, 2, 1, "error")) == 0)
        r = hk_ebpf_emit_counter(b, &desc_exits, rows, 3, 1, "signal");
    return r;
}

static const struct hk_ebpf_prog_def def = {
    .ops = &skel_ops,
    .hier = HK_HIER_CPU,
    .key_size = sizeof(uint64_t),
    .value_size = sizeof(struct hk_proc_val),
    .decode = decode,
    .emit = emit,
};
#endif

const struct hk_ebpf_probe hk_ebpf_probe_proc = {
    .name = "proc",
    .def = HK_EBPF_DEF(def),
};
