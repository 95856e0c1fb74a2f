/* Process lifecycle probe (bpf/proc.bpf.c): sched_process_exec / sched_process_exit.
 * Emits container_process_execs_total and container_process_exits_total{reason=ok|error|signal}
 * keyed by the v1 cpu hierarchy (or cgroup2). */
#include <errno.h>
#include <stdlib.h>

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

struct proc_state {
    struct hk_proc *skel;
    struct hk_ebpf_ledger *ledger; /* keeps rows from going backwards */
};

static void configure(void *skel, const struct hk_ebpf_env *env)
{
    ((struct hk_proc *)skel)->rodata->cg_v1 = env->hier[HK_HIER_CPU].v1;
}
HK_EBPF_SKEL_OPS(skel_ops, hk_proc, configure);

static int proc_open(void **ret_state, const struct hk_ebpf_env *env, const char **ret_why)
{
    struct proc_state *s = calloc(1, sizeof(*s));
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
    const struct hk_proc_val *v = vals;
    int64_t sum[4] = {0};
    for (int c = 0; c < ncpu; c++) {
        sum[0] += (int64_t)v[c].execs;
        sum[1] += (int64_t)v[c].exits_ok;
        sum[2] += (int64_t)v[c].exits_error;
        sum[3] += (int64_t)v[c].exits_signal;
    }
    return hk_ebpf_add(w->c, &w->rows, HK_HIER_CPU, id, 0, sum, 4, NULL);
}

static int proc_collect(void *state, struct hk_ebpf_collect *c)
{
    struct proc_state *s = state;
    struct walk_arg w = {c, {.ledger = s->ledger}};
    int r = hk_ebpf_percpu_foreach(bpf_map__fd(s->skel->maps.proc_stats),
                                   sizeof(struct hk_proc_val), add_entry, &w);
    int settled = hk_ebpf_rows_settle(&w.rows, c->containers);
    if (r == 0)
        r = settled;
    if (r == 0) {
        struct hk_builder *b = c->ctx->b;
        if ((r = hk_ebpf_emit_counter(b, &desc_execs, &w.rows, 0, 1, NULL)) == 0 &&
            (r = hk_ebpf_emit_counter(b, &desc_exits, &w.rows, 1, 1, "ok")) == 0 &&
            (r = hk_ebpf_emit_counter(b, &desc_exits, &w.rows, 2, 1, "error")) == 0)
            r = hk_ebpf_emit_counter(b, &desc_exits, &w.rows, 3, 1, "signal");
    }
    hk_ebpf_rows_free(&w.rows);
    return r;
}

static void proc_fini(void *state)
{
    struct proc_state *s = state;
    if (!s)
        return;
    hk_proc__destroy(s->skel);
    hk_ebpf_ledger_free(s->ledger);
    free(s);
}

static size_t proc_prog_fds(void *state, int *fds, size_t cap)
{
    return hk_ebpf_obj_prog_fds(((struct proc_state *)state)->skel->obj, fds, cap);
}

static uint64_t proc_lost(void *state)
{
    return hk_ebpf_percpu_u64(bpf_map__fd(((struct proc_state *)state)->skel->maps.lost));
}
#else
static int proc_open(void **ret_state, const struct hk_ebpf_env *env, const char **ret_why)
{
    *ret_why = "built without eBPF support (make BPF=0)";
    return -EOPNOTSUPP;
}
#define proc_collect NULL
#define proc_fini NULL
#define proc_prog_fds NULL
#define proc_lost NULL
#endif

const struct hk_ebpf_probe hk_ebpf_probe_proc = {
    .name = "proc",
    .open = proc_open,
    .collect = proc_collect,
    .fini = proc_fini,
    .prog_fds = proc_prog_fds,
    .lost = proc_lost,
};
