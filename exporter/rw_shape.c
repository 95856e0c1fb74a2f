/* SPDX-License-Identifier: Apache-2.0 */
/* Shapes of outgoing 1.0 label sets (see rw_shape.h): built from one merge with the sources of
 * each label, then used to encode every series of the same shape. */
#include "exporter/rw_shape.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "exporter/pb_wire.h"
#include "exporter/rw_encode.h"

/* Longest name or value a shape stores (anything longer is encoded the general way). */
#define MAX_STRING (64u << 10)

void hk_rw_shape_free(struct hk_rw_shape *sh)
{
    if (!sh)
        return;
    free(sh->parts);
    free(sh->bytes);
    free(sh->merged);
    free(sh->src);
    memset(sh, 0, sizeof(*sh));
}

/* Appends a field (tag, length, bytes) to the shape's bytes; room was reserved. */
static void put_field(struct hk_rw_shape *sh, uint8_t tag, const char *s, size_t len)
{
    uint8_t *p = sh->bytes + sh->nbytes;
    *p++ = tag;
    p = hk_pb_put_varint(p, len);
    memcpy(p, s, len);
    sh->nbytes = (size_t)(p + len - sh->bytes);
}

static size_t field_len(size_t len)
{
    return len ? 1 + hk_pb_varint_len(len) + len : 0;
}

int hk_rw_shape_build(struct hk_rw_shape *sh, const struct hk_rw_targets *t, enum hk_target target,
                      const struct hk_label *labels, size_t n)
{
    sh->valid = false;
    if (n > HK_RW_SHAPE_MAX_LABELS)
        return -E2BIG;
    size_t need = n + 1 + t->nadd[target];
    if (need > sh->merged_cap) {
        struct hk_label *m = realloc(sh->merged, need * sizeof(*m));
        if (!m)
            return -ENOMEM;
        sh->merged = m;
        int32_t *s = realloc(sh->src, need * sizeof(*s));
        if (!s)
            return -ENOMEM;
        sh->src = s;
        sh->merged_cap = need;
    }
    /* The name's value does not matter: only where __name__ lands. */
    size_t o = hk_rw_targets_merge_src(t, target, "", labels, n, sh->merged, sh->src);
    size_t nbytes = 0;
    for (size_t k = 0; k < o; k++) {
        size_t nl = strlen(sh->merged[k].name), vl = strlen(sh->merged[k].value);
        if (nl > MAX_STRING || vl > MAX_STRING)
            return -E2BIG;
        size_t l = field_len(nl) + field_len(vl);
        nbytes += 1 + hk_pb_varint_len(l) + l;
    }
    if (hk_grow_array((void **)&sh->bytes, &sh->bytes_cap, nbytes, 1, 16) < 0 ||
        hk_grow_array((void **)&sh->parts, &sh->parts_cap, o, sizeof(*sh->parts), 16) < 0)
        return -ENOMEM;
    sh->nbytes = sh->nparts = sh->fixed = 0;
    for (size_t k = 0; k < o; k++) {
        const struct hk_label *l = &sh->merged[k];
        size_t nl = strlen(l->name), off = sh->nbytes;
        if (sh->src[k] != HK_RW_SRC_ADDED) {
            put_field(sh, 0x0a, l->name, nl); /* Label.name = 1 */
            sh->parts[sh->nparts++] =
                (struct hk_rw_shape_part){sh->src[k], (uint32_t)off, (uint32_t)(sh->nbytes - off)};
            continue;
        }
        /* A whole Label field: TimeSeries.labels = 1, then Label.name = 1, Label.value = 2
         * (an empty string is omitted, as protobuf-c does). */
        size_t vl = strlen(l->value);
        uint8_t *p = sh->bytes + sh->nbytes;
        *p++ = 0x0a;
        p = hk_pb_put_varint(p, field_len(nl) + field_len(vl));
        sh->nbytes = (size_t)(p - sh->bytes);
        if (nl)
            put_field(sh, 0x0a, l->name, nl);
        if (vl)
            put_field(sh, 0x12, l->value, vl);
        sh->fixed += sh->nbytes - off;
        struct hk_rw_shape_part *prev = sh->nparts ? &sh->parts[sh->nparts - 1] : NULL;
        if (prev && prev->src == HK_RW_SRC_ADDED) /* adjacent added labels: one copy */
            prev->len += (uint32_t)(sh->nbytes - off);
        else
            sh->parts[sh->nparts++] = (struct hk_rw_shape_part){HK_RW_SRC_ADDED, (uint32_t)off,
                                                                (uint32_t)(sh->nbytes - off)};
    }
    sh->target = (uint8_t)target;
    sh->nlabels = (uint32_t)n;
    sh->empty = 0;
    for (size_t i = 0; i < n; i++) {
        sh->names[i] = labels[i].name;
        if (!labels[i].value[0])
            sh->empty |= 1ull << i;
    }
    sh->valid = true;
    return 0;
}

bool hk_rw_shape_fits(const struct hk_rw_shape *sh, enum hk_target target,
                      const struct hk_label *labels, size_t n)
{
    if (!sh->valid || sh->target != (uint8_t)target || sh->nlabels != n)
        return false;
    uint64_t empty = 0;
    for (size_t i = 0; i < n; i++) {
        if (labels[i].name != sh->names[i] && strcmp(labels[i].name, sh->names[i]) != 0)
            return false;
        if (!labels[i].value[0])
            empty |= 1ull << i;
    }
    return empty == sh->empty;
}

int hk_rw_shape_encode(const struct hk_rw_shape *sh, const char *name,
                       const struct hk_label *labels, double value, int64_t ts_ms,
                       struct hk_buf *out)
{
    /* The varying values, measured once: at most one per series label and the name. */
    uint32_t vlen[HK_RW_SHAPE_MAX_LABELS + 1];
    size_t t = sh->fixed, nv = 0;
    for (size_t k = 0; k < sh->nparts; k++) {
        const struct hk_rw_shape_part *pt = &sh->parts[k];
        if (pt->src == HK_RW_SRC_ADDED)
            continue;
        const char *v = pt->src == HK_RW_SRC_NAME ? name : labels[pt->src].value;
        size_t vl = strlen(v);
        if (vl > UINT32_MAX / 4)
            return -E2BIG;
        vlen[nv++] = (uint32_t)vl;
        size_t l = pt->len + field_len(vl);
        t += 1 + hk_pb_varint_len(l) + l;
    }
    size_t sl = hk_rw_v1_sample_len(value, ts_ms);
    t += 1 + hk_pb_varint_len(sl) + sl;
    size_t need = 1 + hk_pb_varint_len(t) + t;
    /* hk_buf_reserve only when the room is not there already (its checks, inlined) */
    bool room = !out->err && out->data && need < out->cap - out->len &&
                (!out->max || out->len + need + 1 <= out->max + 1);
    int r = t > UINT32_MAX / 4 ? -E2BIG : room ? 0 : hk_buf_reserve(out, need);
    if (r < 0)
        return r;
    uint8_t *p = (uint8_t *)out->data + out->len;
    *p++ = 0x0a; /* WriteRequest.timeseries = 1, LEN */
    p = hk_pb_put_varint(p, t);
    nv = 0;
    for (size_t k = 0; k < sh->nparts; k++) {
        const struct hk_rw_shape_part *pt = &sh->parts[k];
        if (pt->src == HK_RW_SRC_ADDED) {
            memcpy(p, sh->bytes + pt->off, pt->len);
            p += pt->len;
            continue;
        }
        const char *v = pt->src == HK_RW_SRC_NAME ? name : labels[pt->src].value;
        uint32_t vl = vlen[nv++];
        *p++ = 0x0a; /* TimeSeries.labels = 1, LEN */
        p = hk_pb_put_varint(p, pt->len + field_len(vl));
        p = hk_pb_copy_small(p, (const char *)sh->bytes + pt->off, pt->len);
        if (vl) {
            *p++ = 0x12; /* Label.value = 2 */
            p = hk_pb_put_varint(p, vl);
            p = hk_pb_copy_small(p, v, vl);
        }
    }
    p = hk_rw_v1_sample_put(p, value, ts_ms, sl);
    out->len = (size_t)(p - (uint8_t *)out->data);
    out->data[out->len] = '\0';
    return 0;
}
