/* SPDX-License-Identifier: Apache-2.0 */
/* Native histograms for remote-write (see rw_nhist.h): the Histogram message written by hand
 * for 1.0 (the request encoder in rw_encode.c writes its other messages the same way), filled
 * into protobuf-c messages for 2.0, and decoded back for the sender's slow path (rw_decode.c). */
#include "exporter/rw_nhist.h"
#include "exporter/pb_read.h"
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
    return ((uint32_t)v << 1) ^ (0u - ((uint32_t)v >> 31)); /* sign in unsigned arithmetic */
}

static uint64_t zz64(int64_t v)
{
    return ((uint64_t)v << 1) ^ (0ull - ((uint64_t)v >> 63));
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

/* ---- decoding ---- */

/* One pass for both: with h NULL it only counts. */
static int hist_walk(const uint8_t *p, size_t len, struct hk_nhist *h, struct hk_nhist_span *spans,
                     int64_t *deltas, uint32_t *nspans, uint32_t *ndeltas, int64_t *ts_ms)
{
    struct hk_pb_cursor c = {p, p + len, false};
    uint32_t f, wt, ns = 0, nd = 0;
    while (hk_pb_read_key(&c, &f, &wt)) {
        if (f == 11 && wt == 2) { /* positive_spans */
            struct hk_pb_cursor sp = hk_pb_read_sub(&c);
            int32_t off = 0;
            uint32_t length = 0;
            while (hk_pb_read_key(&sp, &f, &wt)) {
                uint64_t v = wt == 0 ? hk_pb_read_varint(&sp) : (hk_pb_skip(&sp, wt), 0);
                if (f == 1 && wt == 0)
                    off = (int32_t)((uint32_t)(v >> 1) ^ (uint32_t) - (int32_t)(v & 1));
                else if (f == 2 && wt == 0)
                    length = (uint32_t)v;
            }
            if (sp.bad || ns >= HK_RW_HIST_MAX_BUCKETS)
                return -EBADMSG;
            if (h)
                spans[ns] = (struct hk_nhist_span){off, length};
            ns++;
        } else if (f == 12 && (wt == 2 || wt == 0)) { /* positive_deltas, packed or not */
            struct hk_pb_cursor one = c, d = wt == 2 ? hk_pb_read_sub(&c) : one;
            if (d.bad)
                return -EBADMSG;
            do {
                if (wt == 2 && d.p == d.end)
                    break; /* an empty packed field */
                uint64_t v = hk_pb_read_varint(&d);
                if (d.bad || nd >= HK_RW_HIST_MAX_BUCKETS)
                    return -EBADMSG;
                if (h)
                    deltas[nd] = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
                nd++;
            } while (wt == 2);
            if (wt == 0)
                c = d;
        } else if (((f == 2 || f == 7) && wt == 1) || (f >= 8 && f <= 10)) {
            return -EBADMSG; /* float counts (count_float, zero_count_float), negative buckets */
        } else if (h && f == 1 && wt == 0) {
            h->count = hk_pb_read_varint(&c);
        } else if (h && f == 3 && wt == 1) {
            uint64_t b = hk_pb_read_fixed64(&c);
            memcpy(&h->sum, &b, 8);
        } else if (h && f == 4 && wt == 0) {
            uint64_t v = hk_pb_read_varint(&c);
            h->schema = (int8_t)((int32_t)((uint32_t)(v >> 1) ^ (uint32_t) - (int32_t)(v & 1)));
            if ((v >> 1) > 8)
                return -EBADMSG; /* beyond any schema */
        } else if (h && f == 5 && wt == 1) {
            uint64_t b = hk_pb_read_fixed64(&c);
            memcpy(&h->zero_threshold, &b, 8);
        } else if (h && f == 6 && wt == 0) {
            h->zero_count = hk_pb_read_varint(&c);
        } else if (h && f == 15 && wt == 0) {
            *ts_ms = (int64_t)hk_pb_read_varint(&c);
        } else {
            hk_pb_skip(&c, wt);
        }
    }
    if (c.bad)
        return -EBADMSG;
    *nspans = ns;
    *ndeltas = nd;
    return 0;
}

int hk_rw_hist_pb_measure(const uint8_t *p, size_t len, uint32_t *ret_nspans, uint32_t *ret_ndeltas)
{
    int64_t ts = 0;
    return hist_walk(p, len, NULL, NULL, NULL, ret_nspans, ret_ndeltas, &ts);
}

int hk_rw_hist_pb_decode(const uint8_t *p, size_t len, struct hk_nhist *h,
                         struct hk_nhist_span *spans, int64_t *deltas, int64_t *ret_ts_ms)
{
    struct hk_nhist out = {0};
    int64_t ts = 0;
    uint32_t ns = 0, nd = 0;
    int r = hist_walk(p, len, &out, spans, deltas, &ns, &nd, &ts);
    if (r < 0)
        return r;
    out.nspans = ns;
    out.spans = ns ? spans : NULL;
    out.ndeltas = nd;
    out.deltas = nd ? deltas : NULL;
    if (hk_rw_hist_check(&out) < 0)
        return -EBADMSG;
    *h = out;
    *ret_ts_ms = ts;
    return 0;
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
        if (a->labels[i].name != b->labels[j].name &&
            strcmp(a->labels[i].name, b->labels[j].name) != 0)
            return false;
        if (a->labels[i].value != b->labels[j].value &&
            strcmp(a->labels[i].value, b->labels[j].value) != 0)
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
        c->lo = at + 1; /* past the limits the decoder takes: its classic series go instead */
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
    m->schema = h->schema; /* NOLINT(bugprone-signed-char-misuse,cert-str34-c): signed by design */
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
