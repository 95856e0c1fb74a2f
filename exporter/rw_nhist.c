/* SPDX-License-Identifier: Apache-2.0 */
/* Native histograms for remote-write (see rw_nhist.h): the Histogram message written by hand
 * for 1.0 (the request encoder in rw_encode.c writes its other messages the same way), filled
 * into protobuf-c messages for 2.0, and the histogram section of a queue record. */
#include "exporter/rw_nhist.h"
#include "exporter/pb_wire.h"
#include "exporter/rw_encode.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/snapshot.h"
#include "proto/write_v2.pb-c.h"

/* A signalling NaN with payload 2 is exactly HK_STALE_NAN_BITS (0x7ff0000000000002); the unit
 * test checks the bits. */
const struct hk_nhist hk_rw_hist_stale = {.sum = __builtin_nans("2")};

static uint64_t dbits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof(b));
    return b;
}

bool hk_rw_hist_is_stale(const struct hk_nhist *h)
{
    return dbits(h->sum) == HK_STALE_NAN_BITS;
}

int hk_rw_hist_check(const struct hk_nhist *h)
{
    if (h->schema < HK_RW_HIST_MIN_SCHEMA || h->schema > HK_RW_HIST_MAX_SCHEMA ||
        h->ndeltas > HK_RW_HIST_MAX_BUCKETS || h->nspans > h->ndeltas || (h->nspans && !h->spans) ||
        (h->ndeltas && !h->deltas))
        return -EINVAL;
    uint64_t n = 0;
    for (uint32_t i = 0; i < h->nspans; i++) {
        if (!h->spans[i].length)
            return -EINVAL;
        n += h->spans[i].length;
    }
    return n == h->ndeltas ? 0 : -EINVAL;
}

/* ---- the Histogram message ---- */

static uint32_t zz32(int32_t v)
{
    return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
}

static uint64_t zz64(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static size_t span_len(const struct hk_nhist_span *s)
{
    return (s->offset ? 1 + hk_pb_varint_len(zz32(s->offset)) : 0) +
           (s->length ? 1 + hk_pb_varint_len(s->length) : 0);
}

static size_t deltas_len(const struct hk_nhist *h)
{
    size_t l = 0;
    for (uint32_t i = 0; i < h->ndeltas; i++)
        l += hk_pb_varint_len(zz64(h->deltas[i]));
    return l;
}

/* Field numbers and types are the same in prometheus.Histogram and
 * io.prometheus.write.v2.Histogram: count_int = 1, sum = 3, schema = 4 (sint32),
 * zero_threshold = 5, zero_count_int = 6, positive_spans = 11, positive_deltas = 12 (packed
 * sint64), timestamp = 15. A double that compares equal to 0 (-0.0 too) is omitted, as
 * protobuf-c does; NaN (the stale marker's sum) is sent. */
size_t hk_rw_hist_pb_len(const struct hk_nhist *h, int64_t ts_ms)
{
    size_t l = 1 + hk_pb_varint_len(h->count);
    if (h->sum != 0.0)
        l += 9;
    if (h->schema)
        l += 1 + hk_pb_varint_len(zz32(h->schema));
    if (h->zero_threshold != 0.0)
        l += 9;
    l += 1 + hk_pb_varint_len(h->zero_count);
    for (uint32_t i = 0; i < h->nspans; i++) {
        size_t sl = span_len(&h->spans[i]);
        l += 1 + hk_pb_varint_len(sl) + sl;
    }
    if (h->ndeltas) {
        size_t dl = deltas_len(h);
        l += 1 + hk_pb_varint_len(dl) + dl;
    }
    if (ts_ms)
        l += 1 + hk_pb_varint_len((uint64_t)ts_ms);
    return l;
}

static uint8_t *put_double(uint8_t *p, uint8_t tag, double d)
{
    uint64_t b = dbits(d);
    *p++ = tag;
    for (int i = 0; i < 8; i++)
        *p++ = (uint8_t)(b >> (8 * i));
    return p;
}

uint8_t *hk_rw_hist_pb_put(uint8_t *p, const struct hk_nhist *h, int64_t ts_ms)
{
    *p++ = 0x08; /* count_int = 1, VARINT */
    p = hk_pb_put_varint(p, h->count);
    if (h->sum != 0.0)
        p = put_double(p, 0x19, h->sum); /* sum = 3, I64 */
    if (h->schema) {
        *p++ = 0x20; /* schema = 4, VARINT (zigzag) */
        p = hk_pb_put_varint(p, zz32(h->schema));
    }
    if (h->zero_threshold != 0.0)
        p = put_double(p, 0x29, h->zero_threshold); /* zero_threshold = 5, I64 */
    *p++ = 0x30;                                    /* zero_count_int = 6, VARINT */
    p = hk_pb_put_varint(p, h->zero_count);
    for (uint32_t i = 0; i < h->nspans; i++) {
        const struct hk_nhist_span *s = &h->spans[i];
        *p++ = 0x5a; /* positive_spans = 11, LEN */
        p = hk_pb_put_varint(p, span_len(s));
        if (s->offset) {
            *p++ = 0x08; /* BucketSpan.offset = 1, VARINT (zigzag) */
            p = hk_pb_put_varint(p, zz32(s->offset));
        }
        if (s->length) {
            *p++ = 0x10; /* BucketSpan.length = 2, VARINT */
            p = hk_pb_put_varint(p, s->length);
        }
    }
    if (h->ndeltas) {
        *p++ = 0x62; /* positive_deltas = 12, LEN (packed) */
        p = hk_pb_put_varint(p, deltas_len(h));
        for (uint32_t i = 0; i < h->ndeltas; i++)
            p = hk_pb_put_varint(p, zz64(h->deltas[i]));
    }
    if (ts_ms) {
        *p++ = 0x78; /* timestamp = 15, VARINT */
        p = hk_pb_put_varint(p, (uint64_t)ts_ms);
    }
    return p;
}

/* ---- which series a native histogram replaces ---- */

/* Same labels apart from le (a _bucket's extra label). */
static bool same_group(const struct hk_series *a, const struct hk_series *b)
{
    if (a->family != b->family)
        return false;
    uint32_t i = 0, j = 0;
    for (;;) {
        while (i < a->nlabels && strcmp(a->labels[i].name, "le") == 0)
            i++;
        while (j < b->nlabels && strcmp(b->labels[j].name, "le") == 0)
            j++;
        if (i == a->nlabels || j == b->nlabels)
            return i == a->nlabels && j == b->nlabels;
        if (a->labels[i].name != b->labels[j].name && strcmp(a->labels[i].name, b->labels[j].name))
            return false;
        if (a->labels[i].value != b->labels[j].value &&
            strcmp(a->labels[i].value, b->labels[j].value))
            return false;
        i++;
        j++;
    }
}

/* The builder keeps a label group's series together (sorted by the group's hash), so the group
 * of nhists[k] is the run around its _count series with the same labels. */
static void group_of(struct hk_rw_nhist_cursor *c)
{
    const struct hk_snapshot *snap = c->snap;
    size_t at = snap->nhists[c->k].series;
    const struct hk_family *f = &snap->families[snap->series[at].family];
    c->lo = c->hi = at;
    if (hk_rw_hist_check(&snap->nhists[c->k]) < 0) {
        c->lo = at + 1; /* past the limits of a queue record: its classic series go instead */
        return;
    }
    while (c->lo > f->first && same_group(&snap->series[c->lo - 1], &snap->series[at]))
        c->lo--;
    while (c->hi + 1 < (size_t)f->first + f->count &&
           same_group(&snap->series[c->hi + 1], &snap->series[at]))
        c->hi++;
}

void hk_rw_nhist_cursor_init(struct hk_rw_nhist_cursor *c, const struct hk_snapshot *snap)
{
    c->snap = snap;
    c->k = 0;
    c->lo = c->hi = 0;
    if (snap->nnhists)
        group_of(c);
}

const struct hk_nhist *hk_rw_nhist_cursor_at(struct hk_rw_nhist_cursor *c, size_t i,
                                             bool *ret_count)
{
    const struct hk_snapshot *snap = c->snap;
    while (c->k < snap->nnhists && i > c->hi) {
        c->k++;
        if (c->k < snap->nnhists)
            group_of(c);
    }
    if (c->k >= snap->nnhists || i < c->lo)
        return NULL;
    *ret_count = i == snap->nhists[c->k].series;
    return &snap->nhists[c->k];
}

/* ---- queue records ----
 * Section after the samples of an "HKR2" record (little endian):
 *   u32 nhist { u32 sample index (ascending), i32 schema, u32 nspans, u32 ndeltas, u64 count,
 *               u64 zero_count, f64 sum, f64 zero_threshold, nspans × {i32 offset, u32 length},
 *               ndeltas × i64 } */

#define HIST_FIXED (4 + 4 + 4 + 4 + 8 + 8 + 8 + 8)

size_t hk_rw_hist_count(const struct hk_rw_sample *samples, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += samples[i].hist != NULL;
    return k;
}

void hk_rw_hist_record_put(struct hk_buf *raw, const struct hk_rw_sample *samples, size_t n)
{
    uint32_t nh = (uint32_t)hk_rw_hist_count(samples, n);
    hk_buf_put(raw, &nh, 4);
    for (size_t i = 0; i < n && !raw->err; i++) {
        const struct hk_nhist *h = samples[i].hist;
        if (!h)
            continue;
        size_t need = HIST_FIXED + (size_t)h->nspans * 8 + (size_t)h->ndeltas * 8;
        if (hk_buf_reserve(raw, need) < 0)
            return;
        uint8_t *p = (uint8_t *)raw->data + raw->len;
        uint32_t idx = (uint32_t)i, ns = h->nspans, nd = h->ndeltas;
        uint64_t sum = dbits(h->sum), zt = dbits(h->zero_threshold);
        int32_t schema = h->schema;
        memcpy(p, &idx, 4);
        memcpy(p + 4, &schema, 4);
        memcpy(p + 8, &ns, 4);
        memcpy(p + 12, &nd, 4);
        memcpy(p + 16, &h->count, 8);
        memcpy(p + 24, &h->zero_count, 8);
        memcpy(p + 32, &sum, 8);
        memcpy(p + 40, &zt, 8);
        p += HIST_FIXED;
        for (uint32_t k = 0; k < ns; k++, p += 8) {
            memcpy(p, &h->spans[k].offset, 4);
            memcpy(p + 4, &h->spans[k].length, 4);
        }
        if (nd)
            memcpy(p, h->deltas, (size_t)nd * 8);
        p += (size_t)nd * 8;
        raw->len = (size_t)((char *)p - raw->data);
        raw->data[raw->len] = '\0';
    }
}

static bool take(const char **p, const char *end, void *dst, size_t len)
{
    if ((size_t)(end - *p) < len)
        return false;
    memcpy(dst, *p, len);
    *p += len;
    return true;
}

int hk_rw_hist_record_get(const char **pp, const char *end, struct hk_rw_record *rec)
{
    const char *p = *pp;
    uint32_t nh;
    if (!take(&p, end, &nh, 4) || nh > rec->nsamples || nh > (size_t)(end - p) / HIST_FIXED)
        return -EBADMSG;
    /* First pass: validate and count the spans and deltas, so one allocation holds them all. */
    const char *q = p;
    size_t nspans = 0, ndeltas = 0;
    int64_t last = -1;
    for (uint32_t i = 0; i < nh; i++) {
        uint32_t idx, ns, nd;
        int32_t schema;
        if ((size_t)(end - q) < HIST_FIXED)
            return -EBADMSG;
        memcpy(&idx, q, 4);
        memcpy(&schema, q + 4, 4);
        memcpy(&ns, q + 8, 4);
        memcpy(&nd, q + 12, 4);
        q += HIST_FIXED;
        if ((int64_t)idx <= last || idx >= rec->nsamples || schema < HK_RW_HIST_MIN_SCHEMA ||
            schema > HK_RW_HIST_MAX_SCHEMA || nd > HK_RW_HIST_MAX_BUCKETS || ns > nd ||
            (size_t)(end - q) < ((size_t)ns + nd) * 8)
            return -EBADMSG;
        last = idx;
        q += ((size_t)ns + nd) * 8;
        nspans += ns;
        ndeltas += nd;
    }
    size_t bytes = nh * sizeof(struct hk_nhist) + ndeltas * sizeof(int64_t) +
                   nspans * sizeof(struct hk_nhist_span);
    char *mem = malloc(bytes ? bytes : 1);
    if (!mem)
        return -ENOMEM;
    /* hk_nhist first, then the deltas (8-aligned), then the spans (4-aligned). */
    struct hk_nhist *hs = (struct hk_nhist *)(void *)mem;
    int64_t *dl = (int64_t *)(void *)(mem + nh * sizeof(*hs));
    struct hk_nhist_span *sp = (struct hk_nhist_span *)(void *)(dl + ndeltas);
    for (uint32_t i = 0; i < nh; i++) {
        struct hk_nhist *h = &hs[i];
        uint32_t idx = 0;
        int32_t schema = 0; /* range checked by the first pass */
        uint64_t sum = 0, zt = 0;
        memset(h, 0, sizeof(*h));
        take(&p, end, &idx, 4);
        take(&p, end, &schema, 4);
        h->schema = (int8_t)schema;
        take(&p, end, &h->nspans, 4);
        take(&p, end, &h->ndeltas, 4);
        take(&p, end, &h->count, 8);
        take(&p, end, &h->zero_count, 8);
        take(&p, end, &sum, 8);
        take(&p, end, &zt, 8);
        memcpy(&h->sum, &sum, 8);
        memcpy(&h->zero_threshold, &zt, 8);
        h->spans = sp;
        for (uint32_t k = 0; k < h->nspans; k++, sp++) {
            take(&p, end, &sp->offset, 4);
            take(&p, end, &sp->length, 4);
        }
        h->deltas = dl;
        take(&p, end, dl, (size_t)h->ndeltas * 8);
        dl += h->ndeltas;
        if (hk_rw_hist_check(h) < 0) {
            free(mem);
            return -EBADMSG;
        }
        rec->samples[idx].hist = h;
    }
    rec->hist_mem = mem;
    *pp = p;
    return 0;
}

/* ---- 2.0 ---- */

void hk_rw_hist_v2_fill(const struct hk_nhist *h, int64_t ts_ms,
                        Io__Prometheus__Write__V2__Histogram *m,
                        Io__Prometheus__Write__V2__BucketSpan *sm,
                        Io__Prometheus__Write__V2__BucketSpan **sp)
{
    io__prometheus__write__v2__histogram__init(m);
    m->count_case = IO__PROMETHEUS__WRITE__V2__HISTOGRAM__COUNT_COUNT_INT;
    m->count_int = h->count;
    m->zero_count_case = IO__PROMETHEUS__WRITE__V2__HISTOGRAM__ZERO_COUNT_ZERO_COUNT_INT;
    m->zero_count_int = h->zero_count;
    m->sum = h->sum;
    m->schema = h->schema;
    m->zero_threshold = h->zero_threshold;
    m->timestamp = ts_ms;
    for (uint32_t i = 0; i < h->nspans; i++) {
        io__prometheus__write__v2__bucket_span__init(&sm[i]);
        sm[i].offset = h->spans[i].offset;
        sm[i].length = h->spans[i].length;
        sp[i] = &sm[i];
    }
    m->n_positive_spans = h->nspans;
    m->positive_spans = sp;
    m->n_positive_deltas = h->ndeltas;
    m->positive_deltas = (int64_t *)h->deltas;
}
