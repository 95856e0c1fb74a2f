/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus protobuf exposition (io.prometheus.client.MetricFamily, varint-length-delimited),
 * written by hand: each family is planned first (which series make which Metric, every message
 * size, label lengths kept in scratch arrays), then written straight into the output buffer with
 * exact length prefixes. Reads only the snapshot; emits no families. The generated protoc-c code
 * for proto/metrics.proto checks the bytes in tests/unit/test_protofmt.c.
 *
 * Native histograms (issue 15): a histogram whose _count series carries one in the snapshot
 * (hk_snapshot_nhist_of) gets schema (5), zero_threshold (6), zero_count (7), positive_span (12)
 * and positive_delta (13, one field per delta: proto2, not packed, as protobuf-c and
 * client_golang write it) next to its classic buckets in the same Histogram message, as
 * client_golang does; Prometheus with native histograms enabled keeps the native form. A
 * classic-only histogram keeps all of them unset: Prometheus 2.42 takes a Histogram for a native
 * one when zero_threshold, zero_count or any span/delta/count is non-zero.
 * Over 800 lines because the size pass and the write pass of every message type must stay in step,
 * so the encoder is kept in one place. */
#include "exporter/protofmt.h"
#include "exporter/pb_wire.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2 };
#define TAG(field, wt) ((uint8_t)(((field) << 3) | (wt)))

/* MetricType */
enum { PT_COUNTER = 0, PT_GAUGE = 1, PT_SUMMARY = 2, PT_UNTYPED = 3, PT_HISTOGRAM = 4 };

/* What a series is to the Metric it belongs to. */
enum role {
    R_VALUE,    /* counter, gauge, untyped, info sample */
    R_CREATED,  /* <stem>_created of a counter, histogram or summary */
    R_BUCKET,   /* histogram _bucket (sub = le) */
    R_COUNT,    /* _count */
    R_SUM,      /* _sum */
    R_QUANTILE, /* summary sample (sub = quantile) */
    R_SKIP,     /* not written: le="+Inf" equal to _count, _created the text format drops too */
    R_STRAY,    /* name does not fit the family's type: an untyped family of its own */
};

#define NONE UINT32_MAX

/* One Metric message of the family being rendered. Series indices are relative to the family. */
struct metric {
    uint32_t first, n; /* its series */
    uint32_t rep;      /* the series whose labels (less skip) are the Metric's */
    uint32_t skip;     /* index of rep's label left out (le, quantile), NONE = none */
    uint32_t lens;     /* offset of the label lengths (name, value per label) in r->lens */
    uint32_t nlab;     /* labels written */
    uint32_t value, count, sum, created; /* series indices, NONE = absent */
    int64_t ts_ms;
    const struct hk_nhist *nh; /* its native histogram, NULL = classic only */
    int64_t created_s; /* created timestamp, when created != NONE */
    int32_t created_ns;
    size_t inner;        /* size of the Counter / Gauge / Untyped / Summary / Histogram message */
    size_t body;         /* size of the Metric message */
    size_t cached_off;   /* its label fields are a copy of out->data[cached_off..+cached_len], */
    uint32_t cached_len; /* written for an earlier family; SIZE_MAX = written afresh */
};

/* Label fields already written, by label array: collectors share one interned array between
 * the families of a container (or device, CPU …), so the second family on copies the encoded
 * block (one contiguous copy) instead of measuring and copying every string again. Direct
 * mapped; a collision only costs a miss. */
#define LCACHE_SIZE 4096
struct lcache_entry {
    const struct hk_label *labels;
    uint32_t nlabels;
    uint32_t len;
    size_t off; /* in out->data */
};

struct render {
    const struct hk_snapshot *snap;
    const struct hk_family *f;
    size_t fname_len;
    struct metric *m;
    size_t nm, capm;
    uint32_t *lens;
    size_t nlens, caplens;
    uint8_t *role; /* per series of the family */
    double *sub;
    size_t caps;
    struct lcache_entry *lcache; /* LCACHE_SIZE entries, NULL = no cache (out of memory) */
};

static inline struct lcache_entry *lcache_slot(const struct render *r, const struct hk_label *l)
{
    uintptr_t h = ((uintptr_t)l >> 4) * 0x9E3779B97F4A7C15ULL;
    return &r->lcache[(h >> 40) & (LCACHE_SIZE - 1)];
}

/* ---- wire primitives (varints and short copies: exporter/pb_wire.h) ---- */

static inline uint8_t *put_double(uint8_t *p, uint8_t tag, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    *p++ = tag;
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(u >> (8 * i)); /* little-endian, whatever the host */
    return p + 8;
}

static inline uint8_t *put_bytes(uint8_t *p, uint8_t tag, const char *s, size_t len)
{
    *p++ = tag;
    p = hk_pb_put_varint(p, len);
    return hk_pb_copy_small(p, s, len);
}

/* Size of a length-delimited field (one-byte tag) whose payload is n bytes. */
static inline size_t field_len(size_t n)
{
    return 1 + hk_pb_varint_len(n) + n;
}

/* ---- numbers ---- */

/* A label value as a float the way strtod reads it (le, quantile). Decimals of at most 19
 * digits with a decimal exponent within ±22 whose digits fit in 2^53 are exact as one
 * multiplication or division of two exactly representable doubles (correctly rounded, as strtod
 * is); anything else goes to strtod. Returns false when v is not a whole number. */
static bool parse_float(const char *v, double *ret)
{
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *p = v;
    bool neg = false;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    uint64_t m = 0;
    int digits = 0, exp10 = 0;
    bool any = false;
    while (*p >= '0' && *p <= '9') {
        if (digits < 19) {
            m = m * 10 + (uint64_t)(*p - '0');
            if (m)
                digits++;
        } else {
            goto slow;
        }
        any = true;
        p++;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            if (digits >= 19)
                goto slow;
            m = m * 10 + (uint64_t)(*p - '0');
            if (m)
                digits++;
            exp10--;
            any = true;
            p++;
        }
    }
    if (!any)
        goto slow;
    if (*p == 'e' || *p == 'E') {
        p++;
        bool eneg = false;
        if (*p == '+' || *p == '-')
            eneg = *p++ == '-';
        int e = 0;
        if (!(*p >= '0' && *p <= '9'))
            goto slow;
        while (*p >= '0' && *p <= '9') {
            if (e > 1000)
                goto slow;
            e = e * 10 + (*p++ - '0');
        }
        exp10 += eneg ? -e : e;
    }
    if (*p != '\0' || m > (1ULL << 53) || exp10 < -22 || exp10 > 22)
        goto slow;
    double d = (double)m;
    d = exp10 < 0 ? d / p10[-exp10] : d * p10[exp10];
    *ret = neg ? -d : d;
    return true;
slow:;
    if (!*v)
        return false;
    char *end;
    double slow = strtod(v, &end);
    if (*end != '\0')
        return false;
    *ret = slow;
    return true;
}

/* A count the format carries as uint64: a whole number in [0, 2^64). */
static inline bool as_count(double v, uint64_t *ret)
{
    if (!(v >= 0 && v < 18446744073709551616.0) || v != trunc(v))
        return false;
    *ret = (uint64_t)v;
    return true;
}

/* Timestamp message (seconds, nanos) of a _created value in seconds since the epoch. */
static bool created_ts(double v, int64_t *ret_s, int32_t *ret_ns)
{
    if (!(fabs(v) < 9.2e18))
        return false;
    double s = floor(v);
    int64_t sec = (int64_t)s;
    int64_t ns = llround((v - s) * 1e9);
    if (ns >= 1000000000) {
        sec++;
        ns -= 1000000000;
    }
    *ret_s = sec;
    *ret_ns = (int32_t)ns;
    return true;
}

static size_t timestamp_len(int64_t s, int32_t ns)
{
    return (s ? 1 + hk_pb_varint_len((uint64_t)s) : 0) +
           (ns ? 1 + hk_pb_varint_len((uint64_t)(int64_t)ns) : 0);
}

static uint8_t *put_timestamp(uint8_t *p, uint8_t tag, int64_t s, int32_t ns)
{
    *p++ = tag;
    p = hk_pb_put_varint(p, timestamp_len(s, ns));
    if (s) {
        *p++ = TAG(1, WT_VARINT);
        p = hk_pb_put_varint(p, (uint64_t)s);
    }
    if (ns) {
        *p++ = TAG(2, WT_VARINT);
        p = hk_pb_put_varint(p, (uint64_t)(int64_t)ns); /* int32: negative values sign-extended */
    }
    return p;
}

/* ---- scratch ---- */

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    return hk_grow_array(arr, cap, need, elem, 64);
}

/* ---- planning ---- */

static const struct hk_series *ser(const struct render *r, uint32_t i)
{
    return &r->snap->series[r->f->first + i];
}

static uint32_t label_index(const struct hk_series *s, const char *name)
{
    for (uint32_t i = 0; i < s->nlabels; i++)
        if (strcmp(s->labels[i].name, name) == 0)
            return i;
    return NONE;
}

static inline bool str_eq(const char *a, const char *b)
{
    return a == b || strcmp(a, b) == 0;
}

/* Same labels, leaving out index sa of a and sb of b. */
static bool labels_eq_skip(const struct hk_series *a, uint32_t sa, const struct hk_series *b,
                           uint32_t sb)
{
    if (a->labels == b->labels && a->nlabels == b->nlabels && sa == sb)
        return true;
    for (uint32_t i = 0, j = 0;; i++, j++) {
        if (i == sa)
            i++;
        if (j == sb)
            j++;
        if (i >= a->nlabels || j >= b->nlabels)
            return i >= a->nlabels && j >= b->nlabels;
        if (!str_eq(a->labels[i].name, b->labels[j].name) ||
            !str_eq(a->labels[i].value, b->labels[j].value))
            return false;
    }
}

/* name == family name + suffix */
static bool is_suffixed(const struct render *r, const char *name, const char *suffix)
{
    return strncmp(name, r->f->name, r->fname_len) == 0 && strcmp(name + r->fname_len, suffix) == 0;
}

/* "<stem>_created" for a family <stem>_total (counter) or <stem> (the same test as the text
 * renderer's, which leaves these out of text 0.0.4). */
static bool is_created(const struct render *r, const char *name)
{
    size_t fl = r->fname_len;
    if (r->f->type == HK_METRIC_COUNTER && fl > 6 && strcmp(r->f->name + fl - 6, "_total") == 0)
        fl -= 6;
    return strncmp(name, r->f->name, fl) == 0 && strcmp(name + fl, "_created") == 0;
}

static enum role classify(const struct render *r, const struct hk_series *s, double *sub,
                          uint32_t *skip)
{
    enum hk_metric_type t = r->f->type;
    *skip = NONE;
    if (s->name == r->f->name || strcmp(s->name, r->f->name) == 0) {
        if (t == HK_METRIC_SUMMARY) {
            uint32_t q = label_index(s, "quantile");
            if (q != NONE && parse_float(s->labels[q].value, sub)) {
                *skip = q;
                return R_QUANTILE;
            }
            return R_STRAY;
        }
        return t == HK_METRIC_HISTOGRAM ? R_STRAY : R_VALUE;
    }
    if (is_created(r, s->name))
        return t == HK_METRIC_COUNTER || t == HK_METRIC_HISTOGRAM || t == HK_METRIC_SUMMARY
                   ? R_CREATED
                   : R_SKIP;
    if (t == HK_METRIC_HISTOGRAM || t == HK_METRIC_SUMMARY) {
        if (is_suffixed(r, s->name, "_count"))
            return R_COUNT;
        if (is_suffixed(r, s->name, "_sum"))
            return R_SUM;
        if (t == HK_METRIC_HISTOGRAM && is_suffixed(r, s->name, "_bucket")) {
            uint32_t le = label_index(s, "le");
            if (le != NONE && parse_float(s->labels[le].value, sub)) {
                *skip = le;
                return R_BUCKET;
            }
        }
    }
    return R_STRAY;
}

/* Records the label lengths of m (rep's labels less skip) and returns the size of its label
 * fields; SIZE_MAX for a string too long for the format. */
static size_t plan_labels(struct render *r, struct metric *m)
{
    const struct hk_series *s = ser(r, m->rep);
    m->lens = (uint32_t)r->nlens;
    m->nlab = 0;
    if (grow((void **)&r->lens, &r->caplens, r->nlens + 2 * (size_t)s->nlabels, sizeof(*r->lens)))
        return SIZE_MAX - 1;
    size_t total = 0;
    for (uint32_t i = 0; i < s->nlabels; i++) {
        if (i == m->skip)
            continue;
        size_t ln = strlen(s->labels[i].name), lv = strlen(s->labels[i].value);
        if (ln > INT32_MAX / 2 || lv > INT32_MAX / 2)
            return SIZE_MAX;
        r->lens[r->nlens++] = (uint32_t)ln;
        r->lens[r->nlens++] = (uint32_t)lv;
        total += field_len(field_len(ln) + field_len(lv));
        m->nlab++;
    }
    return total;
}

/* Size of a Bucket message: cumulative_count (or _float) and upper_bound; at most 20 bytes. */
static size_t bucket_len(double count)
{
    uint64_t c;
    return (as_count(count, &c) ? 1 + hk_pb_varint_len(c) : 9) + 9;
}

static inline uint32_t zigzag32(int32_t v)
{
    return ((uint32_t)v << 1) ^ (v < 0 ? UINT32_MAX : 0);
}

static inline uint64_t zigzag64(int64_t v)
{
    return ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0);
}

/* Size of a BucketSpan message: offset (1, sint32) and length (2), both always written. */
static inline size_t span_len(const struct hk_nhist_span *sp)
{
    return 2 + hk_pb_varint_len(zigzag32(sp->offset)) + hk_pb_varint_len(sp->length);
}

/* Size of the native fields of a Histogram message. */
static size_t native_len(const struct hk_nhist *h)
{
    size_t n = 1 + hk_pb_varint_len(zigzag32(h->schema)) + 9 + 1 + hk_pb_varint_len(h->zero_count);
    for (uint32_t i = 0; i < h->nspans; i++)
        n += field_len(span_len(&h->spans[i]));
    for (uint32_t i = 0; i < h->ndeltas; i++)
        n += 1 + hk_pb_varint_len(zigzag64(h->deltas[i]));
    return n;
}

static uint8_t *put_native(uint8_t *p, const struct hk_nhist *h)
{
    *p++ = TAG(5, WT_VARINT);
    p = hk_pb_put_varint(p, zigzag32(h->schema));
    p = put_double(p, TAG(6, WT_I64), h->zero_threshold);
    *p++ = TAG(7, WT_VARINT);
    p = hk_pb_put_varint(p, h->zero_count);
    for (uint32_t i = 0; i < h->nspans; i++) {
        const struct hk_nhist_span *sp = &h->spans[i];
        *p++ = TAG(12, WT_LEN);
        p = hk_pb_put_varint(p, span_len(sp));
        *p++ = TAG(1, WT_VARINT);
        p = hk_pb_put_varint(p, zigzag32(sp->offset));
        *p++ = TAG(2, WT_VARINT);
        p = hk_pb_put_varint(p, sp->length);
    }
    for (uint32_t i = 0; i < h->ndeltas; i++) {
        *p++ = TAG(13, WT_VARINT);
        p = hk_pb_put_varint(p, zigzag64(h->deltas[i]));
    }
    return p;
}

/* Size of the value message of m. */
static size_t inner_len(const struct render *r, const struct metric *m)
{
    const struct hk_family *f = r->f;
    size_t n = 0;
    size_t created = m->created != NONE ? field_len(timestamp_len(m->created_s, m->created_ns)) : 0;
    switch (f->type) {
    case HK_METRIC_COUNTER:
        return (m->value != NONE ? 9 : 0) + created;
    case HK_METRIC_SUMMARY:
        if (m->count != NONE) {
            uint64_t c;
            n += 1 + hk_pb_varint_len(as_count(ser(r, m->count)->value, &c) ? c : 0);
        }
        if (m->sum != NONE)
            n += 9;
        for (uint32_t i = m->first; i < m->first + m->n; i++)
            if (r->role[i] == R_QUANTILE)
                n += field_len(18);
        return n + created;
    case HK_METRIC_HISTOGRAM:
        if (m->count != NONE) {
            uint64_t c;
            if (m->nh) /* the exact count (the series holds it as a double) */
                n += 1 + hk_pb_varint_len(m->nh->count);
            else
                n += as_count(ser(r, m->count)->value, &c) ? 1 + hk_pb_varint_len(c) : 9;
        }
        if (m->sum != NONE)
            n += 9;
        for (uint32_t i = m->first; i < m->first + m->n; i++)
            if (r->role[i] == R_BUCKET)
                n += field_len(bucket_len(ser(r, i)->value));
        if (m->nh)
            n += native_len(m->nh);
        return n + created;
    default: /* gauge, untyped, info */
        return 9;
    }
}

static int add_metric(struct render *r, uint32_t first, uint32_t skip)
{
    if (grow((void **)&r->m, &r->capm, r->nm + 1, sizeof(*r->m)))
        return -ENOMEM;
    r->m[r->nm++] = (struct metric){.first = first,
                                    .rep = first,
                                    .skip = skip,
                                    .value = NONE,
                                    .count = NONE,
                                    .sum = NONE,
                                    .created = NONE,
                                    .cached_off = SIZE_MAX};
    return 0;
}

/* Splits the family into Metrics (series of one label set are adjacent: the snapshot sorts a
 * histogram's or summary's series, and a counter's _created, next to each other) and sizes
 * everything. Returns the size of the MetricFamily message, or -errno. */
static long long plan_family(struct render *r)
{
    const struct hk_family *f = r->f;
    enum hk_metric_type t = f->type;
    bool grouped = t == HK_METRIC_HISTOGRAM || t == HK_METRIC_SUMMARY;
    r->nm = 0;
    r->nlens = 0;
    if (f->count > r->caps) {
        size_t cap = r->caps;
        if (grow((void **)&r->role, &cap, f->count, sizeof(*r->role)))
            return -ENOMEM;
        double *sub = realloc(r->sub, cap * sizeof(*r->sub));
        if (!sub)
            return -ENOMEM;
        r->sub = sub;
        r->caps = cap;
    }
    struct metric *cur = NULL;
    for (uint32_t i = 0; i < f->count; i++) {
        const struct hk_series *s = ser(r, i);
        double sub = 0;
        uint32_t skip;
        enum role role = classify(r, s, &sub, &skip);
        r->sub[i] = sub;
        if (role == R_STRAY || role == R_SKIP) {
            r->role[i] = (uint8_t)role;
            continue;
        }
        if (grouped) {
            bool same = cur && labels_eq_skip(ser(r, cur->rep), cur->skip, s, skip);
            /* A second _count/_sum/_created of one label set cannot come from the builder
             * (duplicates are dropped); if it did, it starts a new Metric. */
            if (same &&
                ((role == R_COUNT && cur->count != NONE) || (role == R_SUM && cur->sum != NONE) ||
                 (role == R_CREATED && cur->created != NONE)))
                same = false;
            if (!same) {
                if (add_metric(r, i, skip) < 0)
                    return -ENOMEM;
                cur = &r->m[r->nm - 1];
            }
            cur->n = i + 1 - cur->first;
        } else if (role == R_VALUE) {
            if (add_metric(r, i, NONE) < 0)
                return -ENOMEM;
            cur = &r->m[r->nm - 1];
            cur->n = 1;
        } else { /* counter _created: belongs to the counter just before it, if any */
            if (!cur || cur->created != NONE || cur->first + cur->n != i ||
                !labels_eq_skip(ser(r, cur->rep), NONE, s, NONE)) {
                r->role[i] = R_SKIP; /* no counter to go with: text 0.0.4 drops it as well */
                continue;
            }
            cur->n++;
        }
        r->role[i] = (uint8_t)role;
        switch (role) {
        case R_VALUE:
            cur->value = i;
            break;
        case R_COUNT:
            cur->count = i;
            break;
        case R_SUM:
            cur->sum = i;
            break;
        case R_CREATED:
            if (created_ts(s->value, &cur->created_s, &cur->created_ns))
                cur->created = i;
            else
                r->role[i] = R_SKIP;
            break;
        default:
            break;
        }
        if (!cur->ts_ms && s->ts_ms)
            cur->ts_ms = s->ts_ms;
    }

    if (grouped) {
        /* A label set with nothing but _created: text 0.0.4 drops the _created, and the scraper
         * would make up _count, _sum (and a +Inf bucket) of 0 for an empty Metric: leave it
         * out. A summary whose _count is no whole number in [0, 2^64) cannot be a Summary
         * (sample_count is an integer and has no float form): its series go out as untyped
         * families of their own names, exact, like any stray. */
        size_t w = 0;
        for (size_t k = 0; k < r->nm; k++) {
            struct metric *m = &r->m[k];
            bool has = m->count != NONE || m->sum != NONE;
            for (uint32_t i = m->first; i < m->first + m->n && !has; i++)
                has = r->role[i] == R_BUCKET || r->role[i] == R_QUANTILE;
            uint64_t c;
            bool bad_count = t == HK_METRIC_SUMMARY && m->count != NONE &&
                             !as_count(ser(r, m->count)->value, &c);
            if (has && !bad_count) {
                r->m[w++] = *m;
                continue;
            }
            for (uint32_t i = m->first; i < m->first + m->n; i++) {
                uint8_t role = r->role[i];
                if (role == R_CREATED || (!has && role != R_STRAY))
                    r->role[i] = R_SKIP;
                else if (role != R_SKIP && role != R_STRAY)
                    r->role[i] = R_STRAY;
            }
        }
        r->nm = w;
    }

    size_t total = field_len(r->fname_len) + 2 /* type */;
    if (f->help && *f->help)
        total += field_len(strlen(f->help));
    size_t nnh = 0, inh = 0; /* the family's native histograms, in series order like r->m */
    const struct hk_nhist *nh =
        t == HK_METRIC_HISTOGRAM ? hk_snapshot_family_nhists(r->snap, f, &nnh) : NULL;
    for (size_t k = 0; k < r->nm; k++) {
        struct metric *m = &r->m[k];
        /* Label arrays and strings sit in the arena in emission order, not in this one: fetch
         * them ahead (as the text renderer does) for plan_labels. */
        if (k + 8 < r->nm)
            __builtin_prefetch(ser(r, r->m[k + 8].rep)->labels);
        if (k + 4 < r->nm) {
            const struct hk_series *n = ser(r, r->m[k + 4].rep);
            for (uint32_t j = 0; j < n->nlabels && j < 16; j++)
                __builtin_prefetch(n->labels[j].value);
        }
        if (t == HK_METRIC_HISTOGRAM && m->count != NONE) {
            size_t abs_count = (size_t)f->first + m->count;
            while (inh < nnh && nh[inh].series < abs_count)
                inh++;
            if (inh < nnh && nh[inh].series == abs_count)
                m->nh = &nh[inh];
            /* le="+Inf" equal to _count is left out, as client_golang does; the scraper adds it
             * back from sample_count. Kept when it is not the last bucket (a NaN bound sorts
             * after it) or differs from _count. */
            uint32_t last = NONE;
            for (uint32_t i = m->first; i < m->first + m->n; i++)
                if (r->role[i] == R_BUCKET)
                    last = i;
            if (last != NONE && isinf(r->sub[last]) && r->sub[last] > 0) {
                double a = ser(r, last)->value, b = ser(r, m->count)->value;
                uint64_t ab, bb; /* the same bits: -0 and 0, or two NaNs, are not the same */
                memcpy(&ab, &a, 8);
                memcpy(&bb, &b, 8);
                if (ab == bb)
                    r->role[last] = R_SKIP;
            }
        }
        size_t lab;
        const struct hk_series *rep = ser(r, m->rep);
        const struct lcache_entry *e =
            r->lcache && m->skip == NONE && rep->nlabels ? lcache_slot(r, rep->labels) : NULL;
        if (e && e->labels == rep->labels && e->nlabels == rep->nlabels) {
            m->cached_off = e->off;
            m->cached_len = e->len;
            lab = e->len;
        } else {
            lab = plan_labels(r, m);
            if (lab == SIZE_MAX - 1)
                return -ENOMEM;
            if (lab == SIZE_MAX)
                return -E2BIG;
        }
        m->inner = inner_len(r, m);
        m->body =
            lab + field_len(m->inner) + (m->ts_ms ? 1 + hk_pb_varint_len((uint64_t)m->ts_ms) : 0);
        total += field_len(m->body);
    }
    if (total > INT32_MAX) /* protobuf messages stay under 2 GiB */
        return -E2BIG;
    return (long long)total;
}

/* ---- writing ---- */

static uint8_t *put_labels(const struct render *r, uint8_t *p, const struct metric *m)
{
    const struct hk_series *s = ser(r, m->rep);
    if (!m->nlab)
        return p; /* (r->lens may still be NULL) */
    const uint32_t *lens = r->lens + m->lens;
    for (uint32_t i = 0, k = 0; i < s->nlabels; i++) {
        if (i == m->skip)
            continue;
        uint32_t ln = lens[2 * k], lv = lens[2 * k + 1];
        k++;
        *p++ = TAG(1, WT_LEN);
        p = hk_pb_put_varint(p, field_len(ln) + field_len(lv));
        p = put_bytes(p, TAG(1, WT_LEN), s->labels[i].name, ln);
        p = put_bytes(p, TAG(2, WT_LEN), s->labels[i].value, lv);
    }
    return p;
}

static uint8_t *put_inner(const struct render *r, uint8_t *p, const struct metric *m)
{
    const struct hk_family *f = r->f;
    uint64_t c;
    switch (f->type) {
    case HK_METRIC_COUNTER:
        *p++ = TAG(3, WT_LEN);
        p = hk_pb_put_varint(p, m->inner);
        if (m->value != NONE)
            p = put_double(p, TAG(1, WT_I64), ser(r, m->value)->value);
        if (m->created != NONE)
            p = put_timestamp(p, TAG(3, WT_LEN), m->created_s, m->created_ns);
        return p;
    case HK_METRIC_SUMMARY:
        *p++ = TAG(4, WT_LEN);
        p = hk_pb_put_varint(p, m->inner);
        if (m->count != NONE) {
            /* always a whole number here: plan_family turned other summaries into strays */
            *p++ = TAG(1, WT_VARINT);
            p = hk_pb_put_varint(p, as_count(ser(r, m->count)->value, &c) ? c : 0);
        }
        if (m->sum != NONE)
            p = put_double(p, TAG(2, WT_I64), ser(r, m->sum)->value);
        for (uint32_t i = m->first; i < m->first + m->n; i++) {
            if (r->role[i] != R_QUANTILE)
                continue;
            *p++ = TAG(3, WT_LEN);
            *p++ = 18;
            p = put_double(p, TAG(1, WT_I64), r->sub[i]);
            p = put_double(p, TAG(2, WT_I64), ser(r, i)->value);
        }
        if (m->created != NONE)
            p = put_timestamp(p, TAG(4, WT_LEN), m->created_s, m->created_ns);
        return p;
    case HK_METRIC_HISTOGRAM: {
        /* Fields in number order, as protobuf encoders write them. */
        *p++ = TAG(7, WT_LEN);
        p = hk_pb_put_varint(p, m->inner);
        double count = m->count != NONE ? ser(r, m->count)->value : 0;
        bool int_count = m->count != NONE && as_count(count, &c);
        if (m->nh) { /* the exact count (the series holds it as a double) */
            int_count = true;
            c = m->nh->count;
        }
        if (int_count) {
            *p++ = TAG(1, WT_VARINT);
            p = hk_pb_put_varint(p, c);
        }
        if (m->sum != NONE)
            p = put_double(p, TAG(2, WT_I64), ser(r, m->sum)->value);
        for (uint32_t i = m->first; i < m->first + m->n; i++) {
            if (r->role[i] != R_BUCKET)
                continue;
            double v = ser(r, i)->value;
            uint64_t bc;
            bool int_bucket = as_count(v, &bc);
            *p++ = TAG(3, WT_LEN);
            *p++ = (uint8_t)bucket_len(v); /* < 128 */
            if (int_bucket) {
                *p++ = TAG(1, WT_VARINT);
                p = hk_pb_put_varint(p, bc);
            }
            p = put_double(p, TAG(2, WT_I64), r->sub[i]);
            if (!int_bucket) /* cumulative_count_float: a count no uint64 holds */
                p = put_double(p, TAG(4, WT_I64), v);
        }
        if (m->count != NONE && !int_count)
            p = put_double(p, TAG(4, WT_I64), count); /* sample_count_float */
        if (m->nh) /* fields 5-13, in field-number order, sized by native_len */
            p = put_native(p, m->nh);
        if (m->created != NONE)
            p = put_timestamp(p, TAG(15, WT_LEN), m->created_s, m->created_ns);
        return p;
    }
    default: /* gauge (and info), untyped */
        *p++ = f->type == HK_METRIC_UNTYPED ? TAG(5, WT_LEN) : TAG(2, WT_LEN);
        *p++ = 9;
        return put_double(p, TAG(1, WT_I64), ser(r, m->value)->value);
    }
}

static int metric_type(enum hk_metric_type t)
{
    switch (t) {
    case HK_METRIC_COUNTER:
        return PT_COUNTER;
    case HK_METRIC_GAUGE:
    case HK_METRIC_INFO: /* no info type in this format: a gauge, like text 0.0.4 does */
        return PT_GAUGE;
    case HK_METRIC_HISTOGRAM:
        return PT_HISTOGRAM;
    case HK_METRIC_SUMMARY:
        return PT_SUMMARY;
    case HK_METRIC_UNTYPED:
        break;
    }
    return PT_UNTYPED;
}

static int write_family(struct render *r, struct hk_buf *out, size_t total)
{
    const struct hk_family *f = r->f;
    int err = hk_buf_reserve(out, hk_pb_varint_len(total) + total);
    if (err < 0)
        return err;
    uint8_t *start = (uint8_t *)out->data + out->len, *p = start;
    p = hk_pb_put_varint(p, total);
    uint8_t *body = p;
    p = put_bytes(p, TAG(1, WT_LEN), f->name, r->fname_len);
    if (f->help && *f->help)
        p = put_bytes(p, TAG(2, WT_LEN), f->help, strlen(f->help));
    *p++ = TAG(3, WT_VARINT);
    *p++ = (uint8_t)metric_type(f->type);
    for (size_t k = 0; k < r->nm; k++) {
        const struct metric *m = &r->m[k];
        *p++ = TAG(4, WT_LEN);
        p = hk_pb_put_varint(p, m->body);
        if (m->cached_off != SIZE_MAX) {
            /* an earlier family's bytes, before this family's start: no overlap */
            memcpy(p, out->data + m->cached_off, m->cached_len);
            p += m->cached_len;
        } else {
            uint8_t *lp = p;
            p = put_labels(r, p, m);
            const struct hk_series *rep = ser(r, m->rep);
            if (r->lcache && m->skip == NONE && rep->nlabels && (size_t)(p - lp) < UINT32_MAX)
                *lcache_slot(r, rep->labels) =
                    (struct lcache_entry){rep->labels, rep->nlabels, (uint32_t)(p - lp),
                                          (size_t)(lp - (uint8_t *)out->data)};
        }
        /* Fields in number order: the histogram (7) comes after timestamp_ms (6). */
        if (f->type != HK_METRIC_HISTOGRAM)
            p = put_inner(r, p, m);
        if (m->ts_ms) {
            *p++ = TAG(6, WT_VARINT);
            p = hk_pb_put_varint(p, (uint64_t)m->ts_ms);
        }
        if (f->type == HK_METRIC_HISTOGRAM)
            p = put_inner(r, p, m);
    }
    if ((size_t)(p - body) != total)
        return -EIO; /* planning and writing disagree: a bug; never send such bytes */
    out->len += (size_t)(p - start);
    out->data[out->len] = '\0';
    return 0;
}

/* A series that fits no Metric of its family (e.g. a textfile's foo_bucket without le): an
 * untyped family named after the series, so the scraper still gets the sample text gives it. */
static int write_stray(struct render *r, uint32_t i, struct hk_buf *out)
{
    const struct hk_series *s = ser(r, i);
    struct metric m = {.first = i,
                       .n = 1,
                       .rep = i,
                       .skip = NONE,
                       .value = i,
                       .count = NONE,
                       .sum = NONE,
                       .created = NONE,
                       .ts_ms = s->ts_ms};
    size_t saved = r->nlens;
    size_t lab = plan_labels(r, &m);
    if (lab == SIZE_MAX - 1)
        return -ENOMEM;
    if (lab == SIZE_MAX)
        return -E2BIG;
    size_t nl = strlen(s->name);
    m.inner = 9;
    m.body = lab + field_len(9) + (m.ts_ms ? 1 + hk_pb_varint_len((uint64_t)m.ts_ms) : 0);
    size_t total = field_len(nl) + 2 + field_len(m.body);
    if (total > INT32_MAX)
        return -E2BIG;
    int err = hk_buf_reserve(out, hk_pb_varint_len(total) + total);
    if (err < 0)
        return err;
    uint8_t *start = (uint8_t *)out->data + out->len, *p = start;
    p = hk_pb_put_varint(p, total);
    uint8_t *body = p;
    p = put_bytes(p, TAG(1, WT_LEN), s->name, nl);
    *p++ = TAG(3, WT_VARINT);
    *p++ = PT_UNTYPED;
    *p++ = TAG(4, WT_LEN);
    p = hk_pb_put_varint(p, m.body);
    p = put_labels(r, p, &m);
    *p++ = TAG(5, WT_LEN);
    *p++ = 9;
    p = put_double(p, TAG(1, WT_I64), s->value);
    if (m.ts_ms) {
        *p++ = TAG(6, WT_VARINT);
        p = hk_pb_put_varint(p, (uint64_t)m.ts_ms);
    }
    r->nlens = saved;
    if ((size_t)(p - body) != total)
        return -EIO;
    out->len += (size_t)(p - start);
    out->data[out->len] = '\0';
    return 0;
}

int hk_protofmt_render(const struct hk_snapshot *snap, unsigned target_mask, struct hk_buf *out)
{
    struct render r = {.snap = snap};
    int err = out->err;
    /* Without the cache (no memory for it) the output is the same, only slower. */
    r.lcache = calloc(LCACHE_SIZE, sizeof(*r.lcache));
    for (size_t fi = 0; fi < snap->nfamilies && !err; fi++) {
        const struct hk_family *f = &snap->families[fi];
        if (!(target_mask & (1u << f->target)) || f->count == 0)
            continue;
        r.f = f;
        r.fname_len = strlen(f->name);
        long long total = plan_family(&r);
        if (total < 0) {
            err = (int)total;
            break;
        }
        if (r.nm) /* a family of strays only has no Metric of its own */
            err = write_family(&r, out, (size_t)total);
        for (uint32_t i = 0; i < f->count && !err; i++)
            if (r.role[i] == R_STRAY)
                err = write_stray(&r, i, out);
    }
    free(r.lcache);
    free(r.m);
    free(r.lens);
    free(r.role);
    free(r.sub);
    /* Partial output on error: the caller drops the body. */
    return out->err ? out->err : err;
}
