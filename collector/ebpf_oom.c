/* SPDX-License-Identifier: Apache-2.0 */
/* OOM probe (bpf/oom.bpf.c): oom:mark_victim, charged to the victim's memory cgroup.
 * Emits container_oom_kills_total keyed by the v1 memory hierarchy (or cgroup2). Fallback when
 * the program is down: oom_kill from memory.oom_control (v1) / memory.events (v2) of every
 * container in the index. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/ebpf_internal.h"
#include "core/parse.h"

static const struct hk_metric_desc desc_oom = {
    "container_oom_kills_total", "Processes of the container killed by the OOM killer.",
    HK_METRIC_COUNTER, "", hk_ebpf_base_labels};

int hk_ebpf_oom_kill_parse(const char *buf, size_t len, uint64_t *ret);

/* The "oom_kill N" line of memory.oom_control / memory.events. 0, -ENOENT, -EINVAL. */
int hk_ebpf_oom_kill_parse(const char *buf, size_t len, uint64_t *ret)
{
    struct hk_cursor c;
    const char *line;
    size_t ll;
    hk_cursor_init(&c, buf, len);
    while (hk_cursor_line(&c, &line, &ll)) {
        struct hk_cursor lc;
        const char *k, *v;
        size_t kl, vl;
        hk_cursor_init(&lc, line, ll);
        if (!hk_cursor_token(&lc, &k, &kl) || !hk_token_eq(k, kl, "oom_kill"))
            continue;
        if (!hk_cursor_token(&lc, &v, &vl))
            return -EINVAL;
        return hk_parse_u64(v, vl, ret);
    }
    return -ENOENT;
}

struct fallback_arg {
    struct hk_ebpf_collect *c;
    struct hk_ebpf_rows rows;
    int dirfd;
    const char *file;
};

static int fallback_one(uint64_t id, const char *path, void *arg)
{
    struct fallback_arg *f = arg;
    char rel[4200], buf[1024];
    uint64_t kills;
    /* path is "/" or "/a/b": the file is at "<path without leading />/<file>". */
    int n = snprintf(rel, sizeof(rel), "%s%s%s", path + 1, path[1] ? "/" : "", f->file);
    if (n < 0 || (size_t)n >= sizeof(rel))
        return 0;
    ssize_t len = hk_read_file_at(f->dirfd, rel, buf, sizeof(buf));
    if (len < 0 || hk_ebpf_oom_kill_parse(buf, (size_t)len, &kills) < 0 || !kills)
        return 0;
    struct hk_ebpf_row row;
    memset(&row, 0, sizeof(row));
    hk_ebpf_labels_for(f->c->containers, path, row.labels);
    row.v[0] = (int64_t)kills;
    return hk_ebpf_rows_add(&f->rows, &row);
}

/* Fallback (docs/ebpf.md, "Cheap fallbacks"): the kernel's own per-cgroup oom_kill counters, no eBPF needed.
 * v1 memory.oom_control counts kills of that memcg only; on cgroup2 memory.events.local is the
 * non-hierarchical one. Either way nested cgroups add up into their container's row. */
static int oom_fallback(struct hk_ebpf_collect *c)
{
    struct hk_hierarchy *h = &c->hier[HK_HIER_MEMORY];
    if (h->dirfd < 0)
        return 0;
    int r = hk_cgid_index_walk(h->index, h->dirfd);
    if (r < 0)
        return r;
    struct fallback_arg f = {
        c, {0}, h->dirfd, h->v1 ? "memory.oom_control" : "memory.events.local"};
    r = hk_cgid_index_foreach(h->index, fallback_one, &f);
    if (r == 0) {
        hk_ebpf_rows_finish(&f.rows);
        r = hk_ebpf_emit_counter(c->ctx->b, &desc_oom, &f.rows, 0, 1, NULL);
    }
    hk_ebpf_rows_free(&f.rows);
    return r;
}

#if HK_WITH_BPF
#include <bpf/btf.h>

#include "bpf/oom.h"
#include "bpf/oom.skel.h"

static void configure(void *skel, const struct hk_ebpf_env *env)
{
    ((struct hk_oom *)skel)->rodata->cg_v1 = env->hier[HK_HIER_MEMORY].v1;
}
HK_EBPF_SKEL_OPS(skel_ops, hk_oom, configure, oom_kills);

/* mark_victim carries the victim task only since Linux 6.8 (before: an int pid, which the
 * program would misread). 1 yes, 0 no, -errno when vmlinux BTF is unreadable. */
static int victim_has_task(void)
{
    struct btf *btf = btf__load_vmlinux_btf();
    if (!btf)
        return -errno;
    int r = 0;
    int id = btf__find_by_name_kind(btf, "btf_trace_mark_victim", BTF_KIND_TYPEDEF);
    const struct btf_type *t = id > 0 ? btf__type_by_id(btf, id) : NULL;
    t = t ? btf__type_by_id(btf, t->type) : NULL; /* pointer to the prototype */
    t = t && btf_is_ptr(t) ? btf__type_by_id(btf, t->type) : NULL;
    if (t && btf_is_func_proto(t) && btf_vlen(t) >= 2) {
        const struct btf_param *p = btf_params(t);
        const struct btf_type *a = btf__type_by_id(btf, p[1].type); /* after void *__data */
        while (a && (btf_is_typedef(a) || btf_is_mod(a)))
            a = btf__type_by_id(btf, a->type);
        r = a && btf_is_ptr(a);
    }
    btf__free(btf);
    return r;
}

static int setup(struct hk_ebpf_prog *p, const struct hk_ebpf_env *env, const char **ret_why)
{
    if (victim_has_task() == 0) {
        *ret_why = "oom:mark_victim has no task argument on this kernel (before 6.8)";
        return -EOPNOTSUPP;
    }
    return 0;
}

/* oom_kills is a plain hash: one u64 per cgroup. */
static int decode(struct hk_ebpf_prog *p, const void *key, const void *vals, int ncpu,
                  struct hk_ebpf_entry *ret)
{
    uint64_t kills;
    memcpy(&ret->id, key, sizeof(ret->id));
    memcpy(&kills, vals, sizeof(kills));
    ret->v[0] = (int64_t)kills;
    return 0;
}

static int emit(struct hk_ebpf_prog *p, struct hk_ebpf_collect *c, struct hk_ebpf_rows *rows)
{
    return hk_ebpf_emit_counter(c->ctx->b, &desc_oom, rows, 0, 1, NULL);
}

static const struct hk_ebpf_prog_def def = {
    .ops = &skel_ops,
    .hier = HK_HIER_MEMORY,
    .key_size = sizeof(uint64_t),
    .value_size = sizeof(uint64_t),
    .setup = setup,
    .decode = decode,
    .emit = emit,
};
#endif

const struct hk_ebpf_probe hk_ebpf_probe_oom = {
    .name = "oom",
    .def = HK_EBPF_DEF(def),
    .fallback = oom_fallback,
};
