/* Syscall probe (bpf/syscalls.bpf.c), opt-in with collectors.ebpf.syscalls: true because it taxes
 * every syscall on the host (see bench/ebpf.sh for the figure). Emits container_syscalls_total
 * and container_syscall_errors_total (sys_exit only), and with syscall_latency: true also
 * container_syscall_latency_seconds (histogram, 256 ns … 1 s; adds the sys_enter hook), keyed by
 * the calling task's v1 cpu hierarchy (or cgroup2). */
#include <errno.h>
#include <stdlib.h>
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

#define LAT_LO 8  /* 256 ns */
#define LAT_HI 30 /* 1.07 s */

#if HK_WITH_BPF
#include <bpf/bpf.h>

#include "bpf/syscalls.skel.h"

struct sys_state {
    struct hk_syscalls *skel;
    struct hk_ebpf_ledger *ledger; /* keeps rows from going backwards */
    bool latency;
};

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
HK_EBPF_SKEL_OPS(skel_ops, hk_syscalls, configure);

static int sys_open(void **ret_state, const struct hk_ebpf_env *env, const char **ret_why)
{
    struct sys_state *s = calloc(1, sizeof(*s));
    if (s && !(s->ledger = hk_ebpf_ledger_new(0))) {
        free(s);
        s = NULL;
    }
    if (!s)
        return -ENOMEM;
    int kind;
    int r = hk_ebpf_open_ladder(&skel_ops, env, (void **)&s->skel, &kind, ret_why);
    if (r < 0) {
        hk_ebpf_ledger_free(s->ledger);
        free(s);
        return r;
    }
    s->latency = env->syscall_latency;
    *ret_state = s;
    return 0;
}

struct walk_arg {
    struct hk_ebpf_collect *c;
    struct hk_ebpf_rows rows;
};

static int add_entry(uint64_t id, const void *vals, int ncpu, void *arg)
{
    struct walk_arg *w = arg;
    const struct hk_sys_val *v = vals;
    int64_t sum[4] = {0};
    uint64_t slots[HK_LOG2_SLOTS] = {0};
    for (int c = 0; c < ncpu; c++) {
        sum[0] += (int64_t)v[c].count;
        sum[1] += (int64_t)v[c].errors;
        sum[2] += (int64_t)v[c].sum_ns;
        sum[3] += (int64_t)v[c].timed;
        for (int k = 0; k < HK_LOG2_SLOTS; k++)
            slots[k] += v[c].slots[k];
    }
    return hk_ebpf_add(w->c, &w->rows, HK_HIER_CPU, id, 0, sum, 4, slots);
}

static int sys_collect(void *state, struct hk_ebpf_collect *c)
{
    struct sys_state *s = state;
    struct walk_arg w = {c, {.ledger = s->ledger}};
    int r = hk_ebpf_percpu_foreach(bpf_map__fd(s->skel->maps.sys_stats), sizeof(struct hk_sys_val),
                                   add_entry, &w);
    int settled = hk_ebpf_rows_settle(&w.rows, c->containers);
    if (r == 0)
        r = settled;
    if (r == 0) {
        struct hk_builder *b = c->ctx->b;
        if ((r = hk_ebpf_emit_counter(b, &desc_count, &w.rows, 0, 1, NULL)) == 0)
            r = hk_ebpf_emit_counter(b, &desc_errors, &w.rows, 1, 1, NULL);
        for (size_t i = 0; i < w.rows.n && r >= 0 && s->latency; i++) {
            const struct hk_ebpf_row *row = &w.rows.rows[i];
            double bounds[LAT_HI - LAT_LO + 1];
            uint64_t cum[LAT_HI - LAT_LO + 1], count;
            int nb = hk_ebpf_log2_buckets(row->slots, LAT_LO, LAT_HI, bounds, cum,
                                          LAT_HI - LAT_LO + 1, &count);
            if (nb < 0)
                r = nb;
            else if ((r = hk_emit_histogram(b, &desc_lat, row->labels, bounds, cum, (size_t)nb,
                                            (double)row->v[2] / 1e9, count)) == -E2BIG)
                r = 0;
        }
    }
    hk_ebpf_rows_free(&w.rows);
    return r;
}

static void sys_fini(void *state)
{
    struct sys_state *s = state;
    if (!s)
        return;
    hk_syscalls__destroy(s->skel);
    hk_ebpf_ledger_free(s->ledger);
    free(s);
}

static size_t sys_prog_fds(void *state, int *fds, size_t cap)
{
    return hk_ebpf_obj_prog_fds(((struct sys_state *)state)->skel->obj, fds, cap);
}

static uint64_t sys_lost(void *state)
{
    return hk_ebpf_percpu_u64(bpf_map__fd(((struct sys_state *)state)->skel->maps.lost));
}
#else
static int sys_open(void **ret_state, const struct hk_ebpf_env *env, const char **ret_why)
{
    *ret_why = "built without eBPF support (make BPF=0)";
    return -EOPNOTSUPP;
}
#define sys_collect NULL
#define sys_fini NULL
#define sys_prog_fds NULL
#define sys_lost NULL
#endif

const struct hk_ebpf_probe hk_ebpf_probe_syscalls = {
    .name = "syscalls",
    .opt_in = true,
    .open = sys_open,
    .collect = sys_collect,
    .fini = sys_fini,
    .prog_fds = sys_prog_fds,
    .lost = sys_lost,
};
