/* Block I/O probe (bpf/blk.bpf.c): block_rq_issue / block_rq_complete, owner from the bio's
 * blkcg. Emits container_blkio_latency_seconds{device,op} (histogram, 1 µs … 8.6 s) keyed by
 * the v1 blkio hierarchy (or cgroup2). Device names come from <sysfs>/dev/block/M:m/uevent. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/blk.h"
#include "collector/ebpf_internal.h"
#include "core/parse.h"

static const char *const labels_blk[] = {"container", "id",     "image", "name", "namespace",
                                         "pod",       "device", "op",    NULL};
HK_EBPF_DESC desc_lat = {"container_blkio_latency_seconds",
                         "Block I/O request latency (issue to completion) of the container's "
                         "I/O by device and operation (eBPF).",
                         HK_METRIC_HISTOGRAM, "seconds", labels_blk};

#define LAT_LO 10 /* 2^10 ns ≈ 1 µs */
#define LAT_HI 33 /* 2^33 ns ≈ 8.6 s */

int hk_ebpf_blk_devname(const char *uevent, size_t len, char *ret, size_t cap);

/* "/dev/<DEVNAME>" from a sysfs uevent file. 0, -ENOENT, -EINVAL. */
int hk_ebpf_blk_devname(const char *uevent, size_t len, char *ret, size_t cap)
{
    struct hk_cursor c;
    const char *line;
    size_t ll;
    hk_cursor_init(&c, uevent, len);
    while (hk_cursor_line(&c, &line, &ll)) {
        if (ll <= 8 || memcmp(line, "DEVNAME=", 8) != 0)
            continue;
        int n = snprintf(ret, cap, "/dev/%.*s", (int)(ll - 8), line + 8);
        return n < 0 || (size_t)n >= cap ? -EINVAL : 0;
    }
    return -ENOENT;
}

#if HK_WITH_BPF
#include <bpf/bpf.h>

#include "bpf/blk.skel.h"

static const char *const op_names[] = {"read", "write", "flush", "discard", "other"};

#define MAX_DEVS 256

struct blk_state {
    struct hk_blk *skel;
    struct hk_ebpf_ledger *ledger; /* keeps rows from going backwards */
    int sys_fd;
    uint32_t devs[MAX_DEVS]; /* kernel dev numbers seen, index = row sub / 8 */
    char names[MAX_DEVS][48];
    size_t ndevs;
};

static void configure(void *skel, const struct hk_ebpf_env *env)
{
}
HK_EBPF_SKEL_OPS(skel_ops, hk_blk, configure);

static int blk_open(void **ret_state, const struct hk_ebpf_env *env, const char **ret_why)
{
    struct blk_state *s = calloc(1, sizeof(*s));
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
    s->sys_fd = env->paths->sys_fd;
    *ret_state = s;
    return 0;
}

/* Index of dev in the device table (adding it, with its name), or -E2BIG. */
static int dev_index(struct blk_state *s, uint32_t dev)
{
    for (size_t i = 0; i < s->ndevs; i++)
        if (s->devs[i] == dev)
            return (int)i;
    if (s->ndevs == MAX_DEVS)
        return -E2BIG;
    unsigned major = dev >> 20, minor = dev & 0xfffff;
    char path[64], buf[512];
    char *name = s->names[s->ndevs];
    snprintf(path, sizeof(path), "dev/block/%u:%u/uevent", major, minor);
    ssize_t n = hk_read_file_at(s->sys_fd, path, buf, sizeof(buf));
    if (n < 0 || hk_ebpf_blk_devname(buf, (size_t)n, name, sizeof(s->names[0])) < 0)
        snprintf(name, sizeof(s->names[0]), "%u:%u", major, minor);
    s->devs[s->ndevs] = dev;
    return (int)s->ndevs++;
}

struct walk_arg {
    struct blk_state *s;
    struct hk_ebpf_collect *c;
    struct hk_ebpf_rows rows;
};

static int add_entry(const void *key, const void *vals, int ncpu, void *arg)
{
    struct walk_arg *w = arg;
    const struct hk_blk_key *k = key;
    const struct hk_blk_val *v = vals;
    int64_t sum[2] = {0};
    uint64_t slots[HK_LOG2_SLOTS] = {0};
    for (int c = 0; c < ncpu; c++) {
        sum[0] += (int64_t)v[c].count;
        sum[1] += (int64_t)v[c].sum_ns;
        for (int i = 0; i < HK_LOG2_SLOTS; i++)
            slots[i] += v[c].slots[i];
    }
    int di = dev_index(w->s, k->dev);
    if (di < 0 || k->op > HK_BLK_OTHER)
        return 0;
    return hk_ebpf_add(w->c, &w->rows, HK_HIER_BLKIO, k->cgid, (uint32_t)di * 8 + k->op, sum, 2,
                       slots);
}

static int blk_collect(void *state, struct hk_ebpf_collect *c)
{
    struct blk_state *s = state;
    struct walk_arg w = {s, c, {.ledger = s->ledger}};
    int r =
        hk_ebpf_percpu_foreach_key(bpf_map__fd(s->skel->maps.blk_stats), sizeof(struct hk_blk_key),
                                   sizeof(struct hk_blk_val), add_entry, &w);
    int settled = hk_ebpf_rows_settle(&w.rows, c->containers);
    if (r == 0)
        r = settled;
    if (r == 0) {
        for (size_t i = 0; i < w.rows.n && r >= 0; i++) {
            const struct hk_ebpf_row *row = &w.rows.rows[i];
            const char *values[HK_EBPF_NBASE + 2];
            memcpy(values, row->labels, sizeof(row->labels));
            values[HK_EBPF_NBASE] = s->names[row->sub / 8];
            values[HK_EBPF_NBASE + 1] = op_names[row->sub % 8];
            double bounds[LAT_HI - LAT_LO + 1];
            uint64_t cum[LAT_HI - LAT_LO + 1], count;
            int nb = hk_ebpf_log2_buckets(row->slots, LAT_LO, LAT_HI, bounds, cum,
                                          LAT_HI - LAT_LO + 1, &count);
            if (nb < 0)
                r = nb;
            else if ((r = hk_emit_histogram(c->ctx->b, &desc_lat, values, bounds, cum, (size_t)nb,
                                            (double)row->v[1] / 1e9, count)) == -E2BIG)
                r = 0;
        }
    }
    hk_ebpf_rows_free(&w.rows);
    return r;
}

static void blk_fini(void *state)
{
    struct blk_state *s = state;
    if (!s)
        return;
    hk_blk__destroy(s->skel);
    hk_ebpf_ledger_free(s->ledger);
    free(s);
}

static size_t blk_prog_fds(void *state, int *fds, size_t cap)
{
    return hk_ebpf_obj_prog_fds(((struct blk_state *)state)->skel->obj, fds, cap);
}

static uint64_t blk_lost(void *state)
{
    return hk_ebpf_percpu_u64(bpf_map__fd(((struct blk_state *)state)->skel->maps.lost));
}
#else
static int blk_open(void **ret_state, const struct hk_ebpf_env *env, const char **ret_why)
{
    *ret_why = "built without eBPF support (make BPF=0)";
    return -EOPNOTSUPP;
}
#define blk_collect NULL
#define blk_fini NULL
#define blk_prog_fds NULL
#define blk_lost NULL
#endif

const struct hk_ebpf_probe hk_ebpf_probe_blk = {
    .name = "blkio",
    .open = blk_open,
    .collect = blk_collect,
    .fini = blk_fini,
    .prog_fds = blk_prog_fds,
    .lost = blk_lost,
};
