/* SPDX-License-Identifier: Apache-2.0 */
/* Run-queue probe (bpf/sched.bpf.c): sched_wakeup, sched_wakeup_new, sched_switch.
 * Emits container_cpu_runqueue_wait_seconds_total, container_cpu_runqueue_latency_seconds
 * (histogram, 1 µs … 1 s) and container_context_switches_total{kind}, keyed by the v1 cpu
 * hierarchy (or cgroup2). Fallback without eBPF (docs/ebpf.md, "Cheap fallbacks"): the wait total alone, summed
 * from <procfs>/<tid>/schedstat (run_delay) over each cgroup's `tasks` / `cgroup.threads` —
 * live tasks only, so it drops when tasks exit (no histogram, no context switches). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/sched.h"
#include "collector/ebpf_internal.h"
#include "core/parse.h"

static const char *const labels_kind[] = {"container", "id",  "image", "name",
                                          "namespace", "pod", "kind",  NULL};

static const struct hk_metric_desc desc_wait = {
    "container_cpu_runqueue_wait_seconds_total",
    "Time the container's runnable tasks waited on a CPU run queue (eBPF; without eBPF the sum "
    "of run_delay in /proc/<tid>/schedstat over the live tasks).",
    HK_METRIC_COUNTER, "seconds", hk_ebpf_base_labels};
static const struct hk_metric_desc desc_lat = {
    "container_cpu_runqueue_latency_seconds",
    "Run-queue waits of the container's tasks, from becoming runnable to running (eBPF).",
    HK_METRIC_HISTOGRAM, "seconds", hk_ebpf_base_labels};
static const struct hk_metric_desc desc_cs = {
    "container_context_switches_total",
    "Context switches away from the container's tasks (eBPF); voluntary = the task blocked.",
    HK_METRIC_COUNTER, "", labels_kind};

enum { V_WAIT_NS, V_WAITS, V_VOL, V_INVOL };
#define LAT_LO (-20) /* classic le from 2^-20 s ≈ 0.95 µs */
#define LAT_HI 0 /* to 2^0 s = 1 s */

int hk_ebpf_emit_runqueue(struct hk_builder *b, const struct hk_ebpf_rows *rows);

int hk_ebpf_emit_runqueue(struct hk_builder *b, const struct hk_ebpf_rows *rows)
{
    int r;
    if ((r = hk_ebpf_emit_counter(b, &desc_wait, rows, V_WAIT_NS, 1e-9, NULL)) < 0 ||
        (r = hk_ebpf_emit_counter(b, &desc_cs, rows, V_VOL, 1, "voluntary")) < 0 ||
        (r = hk_ebpf_emit_counter(b, &desc_cs, rows, V_INVOL, 1, "involuntary")) < 0)
        return r;
    /* The sum is computed exactly as the counter above (ns * 1e-9, not ns / 1e9, which can
     * differ in the last bit), so _sum and the wait total print the same. */
    for (size_t i = 0; i < rows->n; i++)
        if ((r = hk_ebpf_emit_latency(b, &desc_lat, rows->rows[i].labels, rows->rows[i].slots, LAT_LO,
                                   LAT_HI, (double)rows->rows[i].v[V_WAIT_NS] * 1e-9)) < 0)
            return r;
    return 0;
}

void hk_ebpf_sched_decode(const void *vals, int ncpu, int64_t ret[4],
                          uint64_t ret_slots[HK_NH_SLOTS])
{
    const struct hk_sched_val *v = vals;
    memset(ret, 0, 4 * sizeof(*ret));
    memset(ret_slots, 0, HK_NH_SLOTS * sizeof(*ret_slots));
    for (int c = 0; c < ncpu; c++) {
        ret[V_WAIT_NS] += (int64_t)v[c].wait_ns;
        ret[V_WAITS] += (int64_t)v[c].waits;
        ret[V_VOL] += (int64_t)v[c].voluntary;
        ret[V_INVOL] += (int64_t)v[c].involuntary;
        hk_ebpf_slots_add(ret_slots, v[c].slots);
    }
}

int hk_ebpf_schedstat_delay(const char *buf, size_t len, uint64_t *ret_ns);
int hk_ebpf_schedstat_pcount(const char *buf, size_t len, uint64_t *ret_n);

/* Field `field` (1-based) of /proc/<tid>/schedstat ("<on-cpu ns> <run-queue ns> <timeslices>"
 * of struct sched_info). 0 or -EINVAL. */
static int schedstat_field(const char *buf, size_t len, int field, uint64_t *ret)
{
    struct hk_cursor c;
    const char *tok = NULL;
    size_t tl = 0;
    hk_cursor_init(&c, buf, len);
    for (int i = 0; i < field; i++)
        if (!hk_cursor_token(&c, &tok, &tl))
            return -EINVAL;
    return hk_parse_u64(tok, tl, ret);
}

/* Field 2 of /proc/<tid>/schedstat: time spent waiting on a run queue (ns). 0 or -EINVAL. */
int hk_ebpf_schedstat_delay(const char *buf, size_t len, uint64_t *ret_ns)
{
    return schedstat_field(buf, len, 2, ret_ns);
}

/* Field 3: times the task was switched in after waiting (sched_info.pcount). 0 or -EINVAL. */
int hk_ebpf_schedstat_pcount(const char *buf, size_t len, uint64_t *ret_n)
{
    return schedstat_field(buf, len, 3, ret_n);
}

#define FALLBACK_MAX_TASKS 65536

struct fallback_arg {
    struct hk_ebpf_collect *c;
    struct hk_ebpf_rows rows;
    int dirfd;
    const char *tasks_file;
    size_t tasks_seen;
    char *buf; /* 1 MiB for a tasks file */
};

static int fallback_one(uint64_t id, const char *path, void *arg)
{
    struct fallback_arg *f = arg;
    char rel[4200];
    int n = snprintf(rel, sizeof(rel), "%s%s%s", path + 1, path[1] ? "/" : "", f->tasks_file);
    if (n < 0 || (size_t)n >= sizeof(rel) || f->tasks_seen >= FALLBACK_MAX_TASKS)
        return 0;
    ssize_t len = hk_read_file_at(f->dirfd, rel, f->buf, 1 << 20);
    if (len <= 0)
        return 0;
    struct hk_cursor cur;
    const char *tok;
    size_t tl;
    uint64_t sum = 0;
    bool any = false;
    hk_cursor_init(&cur, f->buf, (size_t)len);
    while (!hk_cursor_eof(&cur) && f->tasks_seen < FALLBACK_MAX_TASKS) {
        if (!hk_cursor_token(&cur, &tok, &tl)) {
            hk_cursor_next_line(&cur);
            continue;
        }
        hk_cursor_next_line(&cur);
        uint64_t tid, ns;
        char p[48], st[128];
        if (hk_parse_u64(tok, tl, &tid) < 0)
            continue;
        f->tasks_seen++;
        snprintf(p, sizeof(p), "%llu/schedstat", (unsigned long long)tid);
        ssize_t sl = hk_read_file_at(f->c->ctx->paths->proc_fd, p, st, sizeof(st));
        if (sl > 0 && hk_ebpf_schedstat_delay(st, (size_t)sl, &ns) == 0) {
            sum += ns;
            any = true;
        }
    }
    if (!any)
        return 0;
    struct hk_ebpf_row row;
    memset(&row, 0, sizeof(row));
    hk_ebpf_labels_for(f->c->containers, path, row.labels);
    row.v[V_WAIT_NS] = (int64_t)sum;
    return hk_ebpf_rows_add(&f->rows, &row);
}

static int sched_fallback(struct hk_ebpf_collect *c)
{
    struct hk_hierarchy *h = &c->hier[HK_HIER_CPU];
    if (h->dirfd < 0)
        return 0;
    int r = hk_cgid_index_walk(h->index, h->dirfd);
    if (r < 0)
        return r;
    struct fallback_arg f = {
        c, {0}, h->dirfd, h->v1 ? "tasks" : "cgroup.threads", 0, malloc((1 << 20) + 1)};
    if (!f.buf)
        return -ENOMEM;
    r = hk_cgid_index_foreach(h->index, fallback_one, &f);
    if (r == 0) {
        hk_ebpf_rows_finish(&f.rows);
        r = hk_ebpf_emit_counter(c->ctx->b, &desc_wait, &f.rows, V_WAIT_NS, 1e-9, NULL);
    }
    free(f.buf);
    hk_ebpf_rows_free(&f.rows);
    return r;
}

#if HK_WITH_BPF
#include "bpf/sched.skel.h"

/* The kernel keeps sched_info (CONFIG_SCHED_INFO; older kernels only with schedstats or delay
 * accounting on): this thread's schedstat exists and counts at least its own arrival on a CPU. */
static bool sched_info_kept(const struct hk_ebpf_env *env)
{
    char buf[128];
    uint64_t n;
    ssize_t len = hk_read_file_at(env->paths->proc_fd, "thread-self/schedstat", buf, sizeof(buf));
    return len > 0 && hk_ebpf_schedstat_pcount(buf, (size_t)len, &n) == 0 && n > 0;
}

/* tp_btf with sched_info: sched_switch alone measures the waits (bpf/sched.bpf.c), so the
 * wakeup hooks are not loaded at all. */
static void configure(void *skel, const struct hk_ebpf_env *env)
{
    struct hk_sched *s = skel;
    s->rodata->cg_v1 = env->hier[HK_HIER_CPU].v1;
    if (bpf_program__autoload(s->progs.btf_switch) && sched_info_kept(env)) {
        s->rodata->sched_info = true;
        bpf_program__set_autoload(s->progs.btf_wakeup, false);
        bpf_program__set_autoload(s->progs.btf_wakeup_new, false);
    }
}
HK_EBPF_SKEL_OPS(skel_ops, hk_sched, configure, sched_stats);

static int decode(struct hk_ebpf_prog *p, const void *key, const void *vals, int ncpu,
                  struct hk_ebpf_entry *ret)
{
    memcpy(&ret->id, key, sizeof(ret->id));
    hk_ebpf_sched_decode(vals, ncpu, ret->v, ret->slots);
    return 0;
}

static int emit(struct hk_ebpf_prog *p, struct hk_ebpf_collect *c, struct hk_ebpf_rows *rows)
{
    return hk_ebpf_emit_runqueue(c->ctx->b, rows);
}

static const struct hk_ebpf_prog_def def = {
    .ops = &skel_ops,
    .hier = HK_HIER_CPU,
    .key_size = sizeof(uint64_t),
    .value_size = sizeof(struct hk_sched_val),
    .decode = decode,
    .emit = emit,
};
#endif

const struct hk_ebpf_probe hk_ebpf_probe_sched = {
    .name = "sched",
    .def = HK_EBPF_DEF(def),
    .fallback = sched_fallback,
};
