/* SPDX-License-Identifier: Apache-2.0 */
/* Shared user-space logic of the eBPF collector: its hierarchies (found and indexed by
 * collector/cgroupfs.c), base labels through the container index, row aggregation per
 * container, latency slots → native and classic histograms, and the tp_btf → raw_tp →
 * tracepoint load ladder. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/ebpf_internal.h"
#include "core/log.h"
#include "core/parse.h"

/* ---- hierarchies ---- */

int hk_ebpf_hierarchies_open(struct hk_hierarchy h[HK_HIER_COUNT], const struct hk_paths *paths)
{
    static const enum hk_cg_ctrl ctrl[HK_HIER_COUNT] = {HK_CG_CPU, HK_CG_MEMORY, HK_CG_BLKIO};
    for (int i = 0; i < HK_HIER_COUNT; i++) {
        h[i].dirfd = -1;
        h[i].v1 = false;
        h[i].mount[0] = '\0';
        h[i].walked_cycle = -1;
        if (!(h[i].index = hk_cgid_index_new()))
            return -ENOMEM;
    }
    struct hk_cg_mounts m;
    hk_cgroupfs_discover(paths, &m);
    for (int i = 0; i < HK_HIER_COUNT; i++) {
        /* The v1 hierarchy holding the controller, else the cgroup2 one. */
        const char *mp = m.v1[ctrl[i]][0] ? m.v1[ctrl[i]] : m.v2;
        if (!mp[0])
            continue;
        int fd = hk_cgroupfs_open_mount(paths, mp);
        if (fd < 0)
            continue;
        h[i].v1 = mp != m.v2;
        h[i].dirfd = fd;
        const char *rel = strncmp(mp, "/sys/", 5) ? mp : mp + 5;
        size_t rl = strnlen(rel, sizeof(h[i].mount) - 1); /* for logs only: may be cut */
        memcpy(h[i].mount, rel, rl);
        h[i].mount[rl] = '\0';
    }
    return 0;
}

void hk_ebpf_hierarchies_close(struct hk_hierarchy h[HK_HIER_COUNT])
{
    for (int i = 0; i < HK_HIER_COUNT; i++) {
        if (h[i].dirfd >= 0)
            close(h[i].dirfd);
        h[i].dirfd = -1;
        hk_cgid_index_free(h[i].index);
        h[i].index = NULL;
    }
}

/* ---- labels ---- */

const char *const hk_ebpf_base_labels[] = {"container", "id",  "image", "name",
                                           "namespace", "pod", NULL};

void hk_ebpf_labels_for(const struct hk_containers *t, const char *path,
                        const char *ret[HK_EBPF_NBASE])
{
    const struct hk_container_entry *e = hk_containers_lookup(t, path);
    /* Rolling an unlisted cgroup up into the root row would mix it with the whole machine;
     * cAdvisor shows such cgroups under their own id instead. */
    if (e && !strcmp(e->path, "/") && strcmp(path, "/") != 0)
        e = NULL;
    if (!e) {
        ret[0] = "";
        ret[1] = path;
        ret[2] = ret[3] = ret[4] = ret[5] = "";
        return;
    }
    ret[0] = e->container ? e->container : "";
    ret[1] = e->path;
    ret[2] = e->image ? e->image : "";
    ret[3] = e->name ? e->name : "";
    ret[4] = e->namespace_ ? e->namespace_ : "";
    ret[5] = e->pod ? e->pod : "";
}

/* ---- rows ---- */

#define ROWS_MAX 65536

int hk_ebpf_rows_add(struct hk_ebpf_rows *rows, const struct hk_ebpf_row *row)
{
    if (rows->n == rows->cap) {
        if (rows->cap >= ROWS_MAX)
            return -E2BIG;
        size_t ncap = rows->cap ? rows->cap * 2 : 32;
        struct hk_ebpf_row *nr = realloc(rows->rows, ncap * sizeof(*nr));
        if (!nr)
            return -ENOMEM;
        rows->rows = nr;
        rows->cap = ncap;
    }
    rows->rows[rows->n++] = *row;
    return 0;
}

static int row_cmp(const void *a, const void *b)
{
    const struct hk_ebpf_row *x = a, *y = b;
    int c = strcmp(x->labels[1], y->labels[1]);
    if (c)
        return c;
    return x->sub < y->sub ? -1 : x->sub > y->sub;
}

void hk_ebpf_rows_finish(struct hk_ebpf_rows *rows)
{
    if (rows->n < 2)
        return;
    qsort(rows->rows, rows->n, sizeof(*rows->rows), row_cmp);
    size_t w = 0;
    for (size_t i = 1; i < rows->n; i++) {
        struct hk_ebpf_row *dst = &rows->rows[w], *src = &rows->rows[i];
        if (row_cmp(dst, src) == 0) {
            for (int k = 0; k < HK_EBPF_ROW_VALUES; k++)
                dst->v[k] += src->v[k];
            for (int k = 0; k < HK_NH_SLOTS; k++)
                dst->slots[k] += src->slots[k];
        } else {
            rows->rows[++w] = *src;
        }
    }
    rows->n = w + 1;
}

void hk_ebpf_rows_free(struct hk_ebpf_rows *rows)
{
    free(rows->rows);
    rows->rows = NULL;
    rows->n = rows->cap = 0;
}

/* ---- ledger ---- */

#define LEDGER_MAX_ENTRIES (1 << 18) /* beyond: untracked (such rows may drop again) */
#define LEDGER_KEEP_CYCLES 3         /* an entry the walk missed keeps its row this long */

struct ledger_entry {
    uint64_t id;
    uint32_t sub;
    uint32_t hier;
    char *row; /* id label of the row it was attributed to; NULL once taken or folded */
    int64_t seen_cycle;
};

struct ledger_row {
    char *row;
    uint32_t sub;
    int64_t v[HK_EBPF_ROW_VALUES];
    uint64_t slots[HK_NH_SLOTS];
};

struct hk_ebpf_ledger {
    unsigned gauges;
    int64_t cycle;
    struct ledger_entry *prev, *now; /* prev sorted by key; now in add order */
    size_t nprev, capprev, nnow, capnow;
    struct ledger_row *carried; /* sorted by (row, sub) */
    size_t ncarried, capcarried;
};

struct hk_ebpf_ledger *hk_ebpf_ledger_new(unsigned gauges)
{
    struct hk_ebpf_ledger *l = calloc(1, sizeof(*l));
    if (l)
        l->gauges = gauges;
    return l;
}

void hk_ebpf_ledger_free(struct hk_ebpf_ledger *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->nprev; i++)
        free(l->prev[i].row);
    for (size_t i = 0; i < l->nnow; i++)
        free(l->now[i].row);
    for (size_t i = 0; i < l->ncarried; i++)
        free(l->carried[i].row);
    free(l->prev);
    free(l->now);
    free(l->carried);
    free(l);
}

size_t hk_ebpf_ledger_carried(const struct hk_ebpf_ledger *l)
{
    return l ? l->ncarried : 0;
}

static int entry_cmp(const void *a, const void *b)
{
    const struct ledger_entry *x = a, *y = b;
    if (x->hier != y->hier)
        return x->hier < y->hier ? -1 : 1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->sub < y->sub ? -1 : x->sub > y->sub;
}

/* The previous cycle's attribution of (h, id, sub), still untaken, or NULL. */
static struct ledger_entry *ledger_find(struct hk_ebpf_ledger *l, enum hk_hier h, uint64_t id,
                                        uint32_t sub)
{
    struct ledger_entry key = {id, sub, (uint32_t)h, NULL, 0};
    struct ledger_entry *e =
        l->nprev ? bsearch(&key, l->prev, l->nprev, sizeof(key), entry_cmp) : NULL;
    return e && e->row ? e : NULL;
}

/* Records (h, id, sub) → row for the next cycle; row is owned (freed when not kept). 0 kept,
 * 1 not kept (ledger full), -ENOMEM. */
static int ledger_put(struct hk_ebpf_ledger *l, enum hk_hier h, uint64_t id, uint32_t sub,
                      char *row, int64_t seen_cycle)
{
    if (!row)
        return -ENOMEM;
    if (l->nnow == l->capnow) {
        size_t nc = l->capnow ? l->capnow * 2 : 64;
        struct ledger_entry *ne =
            nc <= LEDGER_MAX_ENTRIES ? realloc(l->now, nc * sizeof(*ne)) : NULL;
        if (!ne) {
            free(row);
            return nc <= LEDGER_MAX_ENTRIES ? -ENOMEM : 1;
        }
        l->now = ne;
        l->capnow = nc;
    }
    l->now[l->nnow++] = (struct ledger_entry){id, sub, (uint32_t)h, row, seen_cycle};
    return 0;
}

static int carried_cmp(const char *row, uint32_t sub, const struct ledger_row *c)
{
    int k = strcmp(row, c->row);
    return k ? k : sub < c->sub ? -1 : sub > c->sub;
}

/* Entry e leaves its row with the values in from: the row keeps them (counters only). */
static int ledger_fold(struct hk_ebpf_ledger *l, const char *row, uint32_t sub,
                       const struct hk_ebpf_row *from)
{
    size_t lo = 0, hi = l->ncarried;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int k = carried_cmp(row, sub, &l->carried[mid]);
        if (k == 0) {
            lo = mid;
            break;
        }
        if (k < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    struct ledger_row *c = lo < l->ncarried ? &l->carried[lo] : NULL;
    if (!c || carried_cmp(row, sub, c) != 0) {
        if (l->ncarried == l->capcarried) {
            size_t nc = l->capcarried ? l->capcarried * 2 : 16;
            struct ledger_row *nr = nc <= ROWS_MAX ? realloc(l->carried, nc * sizeof(*nr)) : NULL;
            if (!nr)
                return nc <= ROWS_MAX ? -ENOMEM : 0;
            l->carried = nr;
            l->capcarried = nc;
        }
        char *name = strdup(row);
        if (!name)
            return -ENOMEM;
        c = &l->carried[lo];
        memmove(c + 1, c, (l->ncarried - lo) * sizeof(*c));
        l->ncarried++;
        memset(c, 0, sizeof(*c));
        c->row = name;
        c->sub = sub;
    }
    for (int k = 0; k < HK_EBPF_ROW_VALUES; k++)
        if (!(l->gauges & (1u << k)))
            c->v[k] += from->v[k];
    for (int k = 0; k < HK_NH_SLOTS; k++)
        c->slots[k] += from->slots[k];
    return 0;
}

/* Labels of the row whose id label is row, if the index still reports such a row. */
static bool row_labels(const struct hk_containers *t, const char *row,
                       const char *ret[HK_EBPF_NBASE])
{
    hk_ebpf_labels_for(t, row, ret);
    return strcmp(ret[1], row) == 0;
}

static bool row_listed(const struct hk_containers *t, const char *row)
{
    const struct hk_container_entry *e = hk_containers_lookup(t, row);
    return e && strcmp(e->path, row) == 0;
}

int hk_ebpf_rows_settle(struct hk_ebpf_rows *rows, const struct hk_containers *t)
{
    struct hk_ebpf_ledger *l = rows->ledger;
    hk_ebpf_rows_finish(rows);
    if (!l)
        return 0;
    int r = 0;
    size_t n0 = rows->n, w = 0;
    for (size_t i = 0; i < l->ncarried; i++) {
        struct ledger_row *c = &l->carried[i];
        struct hk_ebpf_row key;
        key.labels[1] = c->row;
        key.sub = c->sub;
        struct hk_ebpf_row *row = n0 ? bsearch(&key, rows->rows, n0, sizeof(key), row_cmp) : NULL;
        struct hk_ebpf_row add;
        if (!row && r == 0 && row_listed(t, c->row)) {
            /* A listed container whose entries all left: it still reports what they did. */
            memset(&add, 0, sizeof(add));
            row_labels(t, c->row, add.labels);
            add.sub = c->sub;
            row = &add;
        } else if (!row) {
            free(c->row); /* nobody reports this row any more */
            continue;
        }
        for (int k = 0; k < HK_EBPF_ROW_VALUES; k++)
            if (!(l->gauges & (1u << k)))
                row->v[k] += c->v[k];
        for (int k = 0; k < HK_NH_SLOTS; k++)
            row->slots[k] += c->slots[k];
        if (row == &add && (r = hk_ebpf_rows_add(rows, &add)) == -E2BIG)
            r = 0;
        l->carried[w++] = *c;
    }
    l->ncarried = w;
    if (rows->n > n0)
        hk_ebpf_rows_finish(rows);

    /* Attributions the walk did not visit stay a few cycles (a walk cut short by an error). */
    for (size_t i = 0; i < l->nprev; i++) {
        struct ledger_entry *e = &l->prev[i];
        if (!e->row)
            continue;
        if (l->cycle - e->seen_cycle < LEDGER_KEEP_CYCLES) {
            int k = ledger_put(l, (enum hk_hier)e->hier, e->id, e->sub, e->row, e->seen_cycle);
            if (k < 0 && r == 0)
                r = k;
        } else {
            free(e->row);
        }
        e->row = NULL;
    }
    if (l->nnow > 1) /* qsort(NULL, 0, …) is undefined (UBSan) */
        qsort(l->now, l->nnow, sizeof(*l->now), entry_cmp);
    struct ledger_entry *tmp = l->prev;
    size_t tcap = l->capprev;
    l->prev = l->now;
    l->nprev = l->nnow;
    l->capprev = l->capnow;
    l->now = tmp;
    l->capnow = tcap;
    l->nnow = 0;
    l->cycle++;
    return r;
}

int hk_ebpf_add(struct hk_ebpf_collect *c, struct hk_ebpf_rows *rows, enum hk_hier h, uint64_t id,
                uint32_t sub, const int64_t *v, size_t nv, const uint64_t *slots)
{
    struct hk_ebpf_ledger *l = rows->ledger;
    struct ledger_entry *e = l ? ledger_find(l, h, id, sub) : NULL;
    struct hk_ebpf_row row;
    memset(&row, 0, sizeof(row));
    row.sub = sub;
    for (size_t i = 0; i < nv && i < HK_EBPF_ROW_VALUES; i++)
        row.v[i] = v[i];
    if (slots)
        memcpy(row.slots, slots, sizeof(row.slots));
    int r;
    const char *path = c->path_of(c->self, h, id);
    if (!path) {
        bool gone = c->gone && c->gone(c->self, h, id);
        if (!e)
            return gone ? 1 : 0;
        if (gone) { /* its row keeps the final values */
            r = ledger_fold(l, e->row, sub, &row);
            free(e->row);
            e->row = NULL;
            return r < 0 ? r : 1;
        }
        /* Unresolvable this cycle (removed, not yet gone for good): stays in its row. */
        bool reported = row_labels(c->containers, e->row, row.labels);
        char *name = e->row;
        e->row = NULL;
        /* The labels may point into name, which lives until the next settle if kept. */
        if ((r = ledger_put(l, h, id, sub, name, l->cycle)) != 0)
            return r < 0 ? r : 0;
        return reported ? hk_ebpf_rows_add(rows, &row) : 0;
    }
    hk_ebpf_labels_for(c->containers, path, row.labels);
    if (l) {
        char *name = NULL;
        if (e && strcmp(e->row, row.labels[1]) == 0) {
            name = e->row;
        } else if (e) { /* moved to another row: the old one keeps what it reported */
            if ((r = ledger_fold(l, e->row, sub, &row)) < 0)
                return r;
            free(e->row);
        }
        if (e)
            e->row = NULL;
        if (!name)
            name = strdup(row.labels[1]);
        if ((r = ledger_put(l, h, id, sub, name, l->cycle)) < 0)
            return r;
    }
    return hk_ebpf_rows_add(rows, &row);
}

int hk_ebpf_emit_counter(struct hk_builder *b, const struct hk_metric_desc *desc,
                         const struct hk_ebpf_rows *rows, int vi, double scale,
                         const char *extra_value)
{
    for (size_t i = 0; i < rows->n; i++) {
        const char *values[HK_EBPF_NBASE + 1];
        memcpy(values, rows->rows[i].labels, sizeof(rows->rows[i].labels));
        values[HK_EBPF_NBASE] = extra_value;
        int r = hk_emit(b, desc, values, (double)rows->rows[i].v[vi] * scale);
        if (r < 0 && r != -E2BIG)
            return r;
    }
    return 0;
}

/* ---- histograms ---- */

uint64_t hk_ebpf_slots_total(const uint64_t slots[HK_NH_SLOTS])
{
    uint64_t total = 0;
    for (unsigned k = 0; k < HK_NH_SLOTS; k++)
        total += slots[k];
    return total;
}

int hk_ebpf_emit_latency(struct hk_builder *b, const struct hk_metric_desc *desc,
                         const char *const *labels, const uint64_t slots[HK_NH_SLOTS], int lo,
                         int hi, double sum_seconds)
{
    if (lo < HK_NH_ZERO_EXP || lo > hi || hi > 9)
        return -EINVAL;
    /* only the non-empty range of buckets (slot 0 is the zero bucket) */
    unsigned first = 1, last = HK_NH_SLOTS - 1;
    while (first <= last && !slots[first])
        first++;
    while (last >= first && !slots[last])
        last--;
    struct hk_nhist_in in = {
        .schema = HK_NH_SCHEMA,
        .zero_threshold = ldexp(1, HK_NH_ZERO_EXP),
        .zero_count = slots[0],
        .first_index = HK_NH_SLOT0_INDEX + (int32_t)first,
        .counts = first <= last ? &slots[first] : NULL,
        .ncounts = first <= last ? last - first + 1 : 0,
        .sum = sum_seconds,
        .classic_lo = lo,
        .classic_hi = hi,
    };
    int r = hk_emit_native_histogram(b, desc, labels, &in);
    return r == -E2BIG ? 0 : r;
}
