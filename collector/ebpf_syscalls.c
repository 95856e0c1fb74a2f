/* SPDX-License-Identifier: Apache-2.0 */
/* Syscall probe (bpf/syscalls.bpf.c), opt-in with collectors.ebpf.syscalls: true because it taxes
 * every syscall on the host (see bench/ebpf.sh for the figure). Emits container_syscalls_total
 * and container_syscall_errors_total (sys_exit only), and with syscall_latency: true also
 * container_syscall_latency_seconds (histogram, 256 ns … 1 s; adds the sys_enter hook), keyed by
 * the calling task's v1 cpu hierarchy (or cgroup2). */
#include <errno.h>
#include <string.h>

#include "bpf/syscalls.h"
#include "collector/ebpf_internal.h"

HK_EBPF_DESC desc_count = {"container_syscalls_total",
                           "System calls made by the container's tasks (eBPF, opt-in).",
                           HK_METRIC_COUNTER, "", hk_ebpf_base_labels};
HK_EBPF_DESC desc_errors = {"container_syscall_errors_total",
                            "System calls of the container that returned an error (eBPF, opt-in).",
                            HK_METRIC_COUNTER, "", hk_ebpf_base_labels};
HK_EBPF_DESC desc_lat = {"container_syscall_latency_seconds",
                         "System call latency, entry to exit, of the container's tasks (eBPF, "
                         "opt-in).",
                         HK_METRIC_HISTOGRAM, "seconds", hk_ebpf_base_labels};

#define LAT_LO (-22) /* classic le from 2^-22 s ≈ 238 ns */
#define LAT_HI 0 /* to 1 s */

#if HK_WITH_BPF
#include "bpf/syscalls.skel.h"

static void configure(void *skel, const struct hk_ebpf_env *env)
{
    struct hk_syscalls *s = skel;
    s->rodata->cg_v1 = env->hier[HK_HIER_CPU].v1;
    s->rodata->latency = env->syscall_latency;
    if (!env->syscall_latency) {
        bpf_program__set_autoload(s->progs.btf_enter, false);
        bpf_program__set_autoload(s->progs.raw_enter, false);
    }
}
HK_EBPF_SKEL_OPS(skel_ops, hk_syscalls, configure, sys_stats);

static void attached(struct hk_ebpf_prog *p, const struct hk_ebpf_env *env)
{
    *(bool *)p->priv = env->syscall_latency;
}

static int decode(struct hk_ebpf_prog *p, const void *key, const void *vals, int ncpu,
                  struct hk_ebpf_entry *ret)
{
    const struct hk_sys_val *v = vals;
    memcpy(&ret->id, key, sizeof(ret->id));
    for (int c = 0; c < ncpu; c++) {
        ret->v[0] += (int64_t)v[c].count;
        ret->v[1] += (int64_t)v[c].errors;
        ret->v[2] += (int64_t)v[c].sum_ns;
        ret->v[3] += (int64_t)v[c].timed;
        hk_ebpf_slots_add(ret->slots, v[c].slots);
    }
    return 0;
}

static int emit(struct hk_ebpf_prog *p, struct hk_ebpf_collect *c, struct hk_ebpf_rows *rows)
{
    struct hk_builder *b = c->ctx->b;
    bool latency = *(const bool *)p->priv;
    int r;
    if ((r = hk_ebpf_emit_counter(b, &desc_count, rows, 0, 1, NULL)) == 0)
        r = hk_ebpf_emit_counter(b, &desc_errors, rows, 1, 1, NULL);
    for (size_t i = 0; i < rows->n && r >= 0 && latency; i++) {
        const struct hk_ebpf_row *row = &rows->rows[i];
        r = hk_ebpf_emit_latency(b, &desc_lat, row->labels, row->slots, LAT_LO, LAT_HI,
                              (double)row->v[2] / 1e9);
    }
    return r;
}

static const struct hk_ebpf_prog_def def = {
    .ops = &skel_ops,
    .hier = HK_HIER_CPU,
    .key_size = sizeof(uint64_t),
    .value_size = sizeof(struct hk_sys_val),
    .priv_size = sizeof(bool), /* the latency histogram is on */
    .attached = attached,
    .decode = decode,
    .emit = emit,
};
#endif

const struct hk_ebpf_probe hk_ebpf_probe_syscalls = {
    .name = "syscalls",
    .opt_in = true,
    .def = HK_EBPF_DEF(def),
};
