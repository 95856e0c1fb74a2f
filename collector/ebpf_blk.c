/* SPDX-License-Identifier: Apache-2.0 */
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

#define LAT_LO (-20) /* classic le from 2^-20 s ≈ 0.95 µs */
#define LAT_HI 3 /* to 2^3 s = 8 s */

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
#include "bpf/blk.skel.h"

static const char *const op_names[] = {"read", "write", "flush", "discard", "other"};

#define MAX_DEVS 256

struct blk_state {
    int sys_fd;
    uint32_t devs[MAX_DEVS]; /* kernel dev numbers seen, index = row sub / 8 */
    char names[MAX_DEVS][48];
    size_t ndevs;
};

static void configure(void *skel, const struct hk_ebpf_env *env)
{
}
HK_EBPF_SKEL_OPS(skel_ops, hk_blk, configure, blk_stats);

static void attached(struct hk_ebpf_prog *p, const struct hk_ebpf_env *env)
{
    ((struct blk_state *)p->priv)->sys_fd = env->paths->sys_fd;
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

static int decode(struct hk_ebpf_prog *p, const void *key, const void *vals, int ncpu,
                  struct hk_ebpf_entry *ret)
{
    const struct hk_blk_key *k = key;
    const struct hk_blk_val *v = vals;
    for (int c = 0; c < ncpu; c++) {
        ret->v[0] += (int64_t)v[c].count;
        ret->v[1] += (int64_t)v[c].sum_ns;
        hk_ebpf_slots_add(ret->slots, v[c].slots);
    }
    int di = dev_index(p->priv, k->dev);
    if (di < 0 || k->op > HK_BLK_OTHER)
        return 1;
    ret->id = k->cgid;
    ret->sub = (uint32_t)di * 8 + k->op;
    return 0;
}

static int emit(struct hk_ebpf_prog *p, struct hk_ebpf_collect *c, struct hk_ebpf_rows *rows)
{
    const struct blk_state *s = p->priv;
    int r = 0;
    for (size_t i = 0; i < rows->n && r >= 0; i++) {
        const struct hk_ebpf_row *row = &rows->rows[i];
        const char *values[HK_EBPF_NBASE + 2];
        memcpy(values, row->labels, sizeof(row->labels));
        values[HK_EBPF_NBASE] = s->names[row->sub / 8];
        values[HK_EBPF_NBASE + 1] = op_names[row->sub % 8];
        r = hk_ebpf_emit_latency(c->ctx->b, &desc_lat, values, row->slots, LAT_LO, LAT_HI,
                              (double)row->v[1] / 1e9);
    }
    return r;
}

static const struct hk_ebpf_prog_def def = {
    .ops = &skel_ops,
    .hier = HK_HIER_BLKIO,
    .key_size = sizeof(struct hk_blk_key),
    .value_size = sizeof(struct hk_blk_val),
    .priv_size = sizeof(struct blk_state),
    .attached = attached,
    .decode = decode,
    .emit = emit,
};
#endif

const struct hk_ebpf_probe hk_ebpf_probe_blk = {
    .name = "blkio",
    .def = HK_EBPF_DEF(def),
};
