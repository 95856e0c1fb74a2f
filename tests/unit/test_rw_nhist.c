/* SPDX-License-Identifier: Apache-2.0 */
/* rw_nhist: native histograms on the remote-write path. The 1.0 request bytes equal protobuf-c's
 * packing of the same generated messages on random histograms; 2.0 requests decode (symbols,
 * label refs, spans, deltas, counts) back to the buckets that went in; the native stale marker
 * keeps its bits; queue records keep histograms, and a queue written by a process that dies
 * without closing it gives them back, in order, after a reopen. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit_rw.h"

#include "core/config.h"
#include "core/log.h"
#include "core/snapshot.h"
#include "exporter/rw.h"
#include "exporter/rw_encode.h"
#include "exporter/rw_nhist.h"
#include "exporter/rw_queue.h"
#include "proto/remote.pb-c.h"
#include "proto/write_v2.pb-c.h"

static uint64_t bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}

static double from_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, 8);
    return d;
}

/* Same bits, except that -0.0 travels as 0 (proto3 omits a double equal to 0, and protobuf-c
 * tests it with ==). */
static bool same_double(double got, double want)
{
    return bits(got) == bits(want) || (want == 0.0 && bits(got) == 0);
}

static uint64_t xs(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static const struct hk_rw_family fam_rq = {"container_cpu_runqueue_latency_seconds",
                                           "Run-queue latency.", "seconds", HK_METRIC_HISTOGRAM};
static const struct hk_label lab_a[] = {{"__name__", "container_cpu_runqueue_latency_seconds"},
                                        {"container", "app"},
                                        {"namespace", "shop"},
                                        {"pod", "cart-0"}};
static const struct hk_label lab_b[] = {
    {"__name__", "container_cpu_usage_seconds_total"}, {"container", "app"}, {"cpu", "total"}};

/* A random histogram and the absolute bucket counts it stands for (index → count). */
struct rh {
    struct hk_nhist h;
    struct hk_nhist_span spans[8];
    int64_t deltas[64];
    int32_t idx[64];  /* absolute bucket index of each delta */
    uint64_t cnt[64]; /* absolute count of each bucket */
};

static void rand_hist(struct rh *r, uint64_t *seed)
{
    memset(r, 0, sizeof(*r));
    r->h.schema = (int8_t)((int)(xs(seed) % 13) - 4); /* -4 .. 8 */
    static const double sums[] = {0.0, -0.0, 1.5e-3, 12345.678, 1e300};
    r->h.sum = xs(seed) % 3 ? (double)(xs(seed) % 100000) / 1e4 : sums[xs(seed) % 5];
    r->h.zero_threshold = xs(seed) % 2 ? 0 : 1e-9 * (double)(1 + xs(seed) % 4);
    r->h.zero_count = xs(seed) % 3 ? 0 : xs(seed) % 5000;
    uint32_t nspans = (uint32_t)(xs(seed) % 5); /* 0: a histogram with only the zero bucket */
    int32_t at = (int32_t)(xs(seed) % 400) - 200;
    uint64_t total = r->h.zero_count, prev = 0;
    for (uint32_t s = 0; s < nspans; s++) {
        int32_t off = s == 0 ? at : (int32_t)(1 + xs(seed) % 300);
        uint32_t len = (uint32_t)(1 + xs(seed) % 12);
        r->spans[s] = (struct hk_nhist_span){off, len};
        at = s == 0 ? off : at + off;
        for (uint32_t k = 0; k < len; k++, at++) {
            /* Counts of every size (multi-byte varints), zeros inside spans, and decreases. */
            uint64_t c = xs(seed) % 4 == 0 ? 0 : xs(seed) % (1ULL << (xs(seed) % 40));
            r->idx[r->h.ndeltas] = at;
            r->cnt[r->h.ndeltas] = c;
            r->deltas[r->h.ndeltas++] = (int64_t)(c - prev);
            prev = c;
            total += c;
        }
    }
    r->h.nspans = nspans;
    r->h.spans = r->spans;
    r->h.deltas = r->deltas;
    r->h.count = total;
    assert_int_equal(hk_rw_hist_check(&r->h), 0);
}

static void test_stale_marker_bits(void **state)
{
    (void)state;
    assert_true(bits(hk_rw_hist_stale.sum) == HK_STALE_NAN_BITS);
    assert_true(hk_rw_hist_is_stale(&hk_rw_hist_stale));
    assert_int_equal(hk_rw_hist_stale.count, 0);
    assert_int_equal(hk_rw_hist_stale.nspans, 0);
    struct hk_nhist h = {.sum = NAN};
    assert_false(hk_rw_hist_is_stale(&h)); /* an ordinary NaN is a value, not the marker */
}

static void test_check(void **state)
{
    (void)state;
    struct hk_nhist_span sp[2] = {{-3, 2}, {4, 1}};
    int64_t d[3] = {1, 2, -1};
    struct hk_nhist h = {.schema = 3, .nspans = 2, .spans = sp, .deltas = d, .ndeltas = 3};
    assert_int_equal(hk_rw_hist_check(&h), 0);
    h.ndeltas = 2; /* deltas must cover the spans exactly */
    assert_int_equal(hk_rw_hist_check(&h), -EINVAL);
    h.ndeltas = 3;
    h.schema = 9;
    assert_int_equal(hk_rw_hist_check(&h), -EINVAL);
    h.schema = -5;
    assert_int_equal(hk_rw_hist_check(&h), -EINVAL);
    h.schema = 0;
    sp[1].length = 0; /* a zero-length span */
    h.ndeltas = 2;
    assert_int_equal(hk_rw_hist_check(&h), -EINVAL);
}

/* The reference: the request built as generated protobuf-c messages and packed by protobuf-c. */
static void pack_reference_v1(const struct hk_rw_sample *const *p, size_t n, struct hk_buf *out)
{
    Prometheus__TimeSeries ts[16], *tsp[16];
    Prometheus__Sample sm[16], *smp[16];
    Prometheus__Histogram hm[16], *hmp[16];
    Prometheus__BucketSpan bs[16 * 8], *bsp[16 * 8];
    Prometheus__Label lb[16 * 8], *lbp[16 * 8];
    size_t li = 0, si = 0;
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++) {
        prometheus__time_series__init(&ts[i]);
        ts[i].n_labels = p[i]->nlabels;
        ts[i].labels = &lbp[li];
        for (uint32_t k = 0; k < p[i]->nlabels; k++, li++) {
            prometheus__label__init(&lb[li]);
            lb[li].name = (char *)p[i]->labels[k].name;
            lb[li].value = (char *)p[i]->labels[k].value;
            lbp[li] = &lb[li];
        }
        const struct hk_nhist *h = p[i]->hist;
        if (!h) {
            prometheus__sample__init(&sm[i]);
            sm[i].value = p[i]->value;
            sm[i].timestamp = p[i]->ts_ms;
            smp[i] = &sm[i];
            ts[i].n_samples = 1;
            ts[i].samples = &smp[i];
        } else {
            prometheus__histogram__init(&hm[i]);
            hm[i].count_case = PROMETHEUS__HISTOGRAM__COUNT_COUNT_INT;
            hm[i].count_int = h->count;
            hm[i].zero_count_case = PROMETHEUS__HISTOGRAM__ZERO_COUNT_ZERO_COUNT_INT;
            hm[i].zero_count_int = h->zero_count;
            hm[i].sum = h->sum;
            hm[i].schema = h->schema;
            hm[i].zero_threshold = h->zero_threshold;
            hm[i].timestamp = p[i]->ts_ms;
            hm[i].n_positive_spans = h->nspans;
            hm[i].positive_spans = &bsp[si];
            for (uint32_t k = 0; k < h->nspans; k++, si++) {
                prometheus__bucket_span__init(&bs[si]);
                bs[si].offset = h->spans[k].offset;
                bs[si].length = h->spans[k].length;
                bsp[si] = &bs[si];
            }
            hm[i].n_positive_deltas = h->ndeltas;
            hm[i].positive_deltas = (int64_t *)h->deltas;
            hmp[i] = &hm[i];
            ts[i].n_histograms = 1;
            ts[i].histograms = &hmp[i];
        }
        tsp[i] = &ts[i];
    }
    Prometheus__WriteRequest req = PROMETHEUS__WRITE_REQUEST__INIT;
    req.n_timeseries = n;
    req.timeseries = tsp;
    size_t sz = prometheus__write_request__get_packed_size(&req);
    assert_int_equal(hk_buf_reserve(out, sz), 0);
    out->len += prometheus__write_request__pack(&req, (uint8_t *)out->data + out->len);
}

/* Spans + deltas of a decoded message back to absolute (index, count) pairs. */
static void expect_buckets(const struct rh *want, size_t nspans, const int32_t *offs,
                           const uint32_t *lens, size_t ndeltas, const int64_t *deltas)
{
    assert_int_equal(ndeltas, want->h.ndeltas);
    int32_t at = 0;
    uint64_t c = 0;
    size_t k = 0;
    for (size_t s = 0; s < nspans; s++) {
        at += offs[s];
        for (uint32_t j = 0; j < lens[s]; j++, at++, k++) {
            c += (uint64_t)deltas[k];
            assert_int_equal(at, want->idx[k]);
            assert_int_equal(c, want->cnt[k]);
        }
    }
    assert_int_equal(k, ndeltas);
}

static void test_v1_differential(void **state)
{
    (void)state;
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    for (int round = 0; round < 500; round++) {
        struct rh rh[12];
        struct hk_rw_sample s[12];
        const struct hk_rw_sample *p[12];
        size_t n = 1 + xs(&seed) % 12;
        for (size_t i = 0; i < n; i++) {
            int kind = (int)(xs(&seed) % 4); /* histogram, stale marker, float, stale float */
            s[i] = (struct hk_rw_sample){kind >= 2 ? lab_b : lab_a,
                                         kind >= 2 ? 3 : 4,
                                         &fam_rq,
                                         kind == 3 ? from_bits(HK_STALE_NAN_BITS) : 2.5,
                                         xs(&seed) % 8 ? 1700000000000 + (int64_t)i : 0,
                                         xs(&seed),
                                         NULL,
                                         NULL};
            if (kind == 0) {
                rand_hist(&rh[i], &seed);
                s[i].hist = &rh[i].h;
            } else if (kind == 1) {
                s[i].hist = &hk_rw_hist_stale;
            }
            p[i] = &s[i];
        }
        struct hk_buf got, want;
        hk_buf_init(&got, 0);
        hk_buf_init(&want, 0);
        assert_int_equal(hk_rw_encode_v1(p, n, &got), 0);
        pack_reference_v1(p, n, &want);
        assert_int_equal(got.len, want.len);
        assert_memory_equal(got.data, want.data, got.len);
        /* And it decodes to what went in. */
        Prometheus__WriteRequest *req =
            prometheus__write_request__unpack(NULL, got.len, (const uint8_t *)got.data);
        assert_non_null(req);
        assert_int_equal(req->n_timeseries, n);
        for (size_t i = 0; i < n; i++) {
            Prometheus__TimeSeries *t = req->timeseries[i];
            if (!s[i].hist) {
                assert_int_equal(t->n_histograms, 0);
                assert_int_equal(t->n_samples, 1);
                continue;
            }
            assert_int_equal(t->n_samples, 0);
            assert_int_equal(t->n_histograms, 1);
            Prometheus__Histogram *h = t->histograms[0];
            assert_int_equal(h->timestamp, s[i].ts_ms);
            assert_int_equal(h->count_case, PROMETHEUS__HISTOGRAM__COUNT_COUNT_INT);
            assert_int_equal(h->count_int, s[i].hist->count);
            assert_int_equal(h->zero_count_int, s[i].hist->zero_count);
            assert_int_equal(h->schema, s[i].hist->schema);
            assert_true(same_double(h->sum, s[i].hist->sum));
            if (s[i].hist == &hk_rw_hist_stale) {
                assert_true(bits(h->sum) == HK_STALE_NAN_BITS);
                assert_int_equal(h->n_positive_spans, 0);
                continue;
            }
            int32_t offs[8];
            uint32_t lens[8];
            for (size_t k = 0; k < h->n_positive_spans; k++) {
                offs[k] = h->positive_spans[k]->offset;
                lens[k] = h->positive_spans[k]->length;
            }
            expect_buckets(&rh[i], h->n_positive_spans, offs, lens, h->n_positive_deltas,
                           h->positive_deltas);
        }
        prometheus__write_request__free_unpacked(req, NULL);
        hk_buf_free(&got);
        hk_buf_free(&want);
    }
}

/* The decoder of the sender's slow path reads back what the encoder wrote and what protobuf-c
 * packs, and refuses every truncation it cannot take without reading past the end. */
static void test_pb_decode(void **state)
{
    (void)state;
    uint64_t seed = 1234;
    for (int round = 0; round < 400; round++) {
        struct rh rh;
        rand_hist(&rh, &seed);
        const struct hk_nhist *want = round % 10 == 0 ? &hk_rw_hist_stale : &rh.h;
        int64_t ts = round % 7 ? 1700000000000 + round : 0;
        size_t len = hk_rw_hist_pb_len(want, ts);
        uint8_t *ours = malloc(len);
        assert_non_null(ours);
        assert_true(hk_rw_hist_pb_put(ours, want, ts) == ours + len);
        /* protobuf-c's packing of the same message */
        Prometheus__Histogram m;
        Prometheus__BucketSpan bs[8], *bsp[8];
        prometheus__histogram__init(&m);
        m.count_case = PROMETHEUS__HISTOGRAM__COUNT_COUNT_INT;
        m.count_int = want->count;
        m.zero_count_case = PROMETHEUS__HISTOGRAM__ZERO_COUNT_ZERO_COUNT_INT;
        m.zero_count_int = want->zero_count;
        m.sum = want->sum;
        m.schema = want->schema;
        m.zero_threshold = want->zero_threshold;
        m.timestamp = ts;
        for (uint32_t k = 0; k < want->nspans; k++) {
            prometheus__bucket_span__init(&bs[k]);
            bs[k].offset = want->spans[k].offset;
            bs[k].length = want->spans[k].length;
            bsp[k] = &bs[k];
        }
        m.n_positive_spans = want->nspans;
        m.positive_spans = bsp;
        m.n_positive_deltas = want->ndeltas;
        m.positive_deltas = (int64_t *)want->deltas;
        size_t rlen = prometheus__histogram__get_packed_size(&m);
        uint8_t *ref = malloc(rlen);
        assert_non_null(ref);
        assert_int_equal(prometheus__histogram__pack(&m, ref), rlen);
        assert_int_equal(rlen, len);
        assert_memory_equal(ref, ours, len);
        for (int which = 0; which < 2; which++) {
            const uint8_t *b = which ? ref : ours;
            uint32_t ns = 99, nd = 99;
            assert_int_equal(hk_rw_hist_pb_measure(b, len, &ns, &nd), 0);
            assert_int_equal(ns, want->nspans);
            assert_int_equal(nd, want->ndeltas);
            struct hk_nhist_span sp[8];
            int64_t dl[64];
            struct hk_nhist got;
            int64_t got_ts = -1;
            assert_int_equal(hk_rw_hist_pb_decode(b, len, &got, sp, dl, &got_ts), 0);
            assert_int_equal(got_ts, ts);
            assert_int_equal(got.count, want->count);
            assert_int_equal(got.zero_count, want->zero_count);
            assert_int_equal(got.schema, want->schema);
            assert_true(same_double(got.sum, want->sum));
            assert_true(same_double(got.zero_threshold, want->zero_threshold));
            assert_int_equal(got.nspans, want->nspans);
            for (uint32_t k = 0; k < got.nspans; k++) {
                assert_int_equal(got.spans[k].offset, want->spans[k].offset);
                assert_int_equal(got.spans[k].length, want->spans[k].length);
            }
            assert_int_equal(got.ndeltas, want->ndeltas);
            if (got.ndeltas)
                assert_memory_equal(got.deltas, want->deltas, got.ndeltas * 8);
            if (want == &hk_rw_hist_stale)
                assert_true(hk_rw_hist_is_stale(&got));
        }
        /* Truncated copies (exactly sized, so ASan sees any read past the end). */
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *t = malloc(cut ? cut : 1);
            assert_non_null(t);
            memcpy(t, ours, cut);
            uint32_t ns, nd;
            if (hk_rw_hist_pb_measure(t, cut, &ns, &nd) == 0 && ns <= 8 && nd <= 64) {
                struct hk_nhist_span sp[8];
                int64_t dl[64];
                struct hk_nhist got;
                int64_t got_ts;
                if (hk_rw_hist_pb_decode(t, cut, &got, sp, dl, &got_ts) == 0)
                    assert_int_equal(hk_rw_hist_check(&got), 0);
            }
            free(t);
        }
        free(ours);
        free(ref);
    }
}

static void test_v2_decode(void **state)
{
    (void)state;
    uint64_t seed = 42;
    for (int round = 0; round < 200; round++) {
        struct rh rh[8];
        struct hk_rw_sample s[8];
        const struct hk_rw_sample *p[8];
        size_t n = 1 + xs(&seed) % 8;
        for (size_t i = 0; i < n; i++) {
            int kind = (int)(xs(&seed) % 3);
            s[i] =
                (struct hk_rw_sample){kind == 2 ? lab_b : lab_a,  kind == 2 ? 3 : 4, &fam_rq, 7.25,
                                      1700000000000 + (int64_t)i, xs(&seed),         NULL,    NULL};
            if (kind == 0) {
                rand_hist(&rh[i], &seed);
                s[i].hist = &rh[i].h;
            } else if (kind == 1) {
                s[i].hist = &hk_rw_hist_stale;
            }
            p[i] = &s[i];
        }
        struct hk_buf got;
        hk_buf_init(&got, 0);
        assert_int_equal(hk_rw_encode_v2(p, n, &got), 0);
        Io__Prometheus__Write__V2__Request *req =
            io__prometheus__write__v2__request__unpack(NULL, got.len, (const uint8_t *)got.data);
        assert_non_null(req);
        assert_true(req->n_symbols >= 1);
        assert_string_equal(req->symbols[0], ""); /* the spec's rule for symbol 0 */
        assert_int_equal(req->n_timeseries, n);
        for (size_t i = 0; i < n; i++) {
            Io__Prometheus__Write__V2__TimeSeries *t = req->timeseries[i];
            /* Labels through the symbol table. */
            assert_int_equal(t->n_labels_refs, 2 * s[i].nlabels);
            for (uint32_t k = 0; k < s[i].nlabels; k++) {
                assert_true(t->labels_refs[2 * k] < req->n_symbols);
                assert_true(t->labels_refs[2 * k + 1] < req->n_symbols);
                assert_string_equal(req->symbols[t->labels_refs[2 * k]], s[i].labels[k].name);
                assert_string_equal(req->symbols[t->labels_refs[2 * k + 1]], s[i].labels[k].value);
            }
            assert_non_null(t->metadata);
            assert_int_equal(
                t->metadata->type,
                IO__PROMETHEUS__WRITE__V2__METADATA__METRIC_TYPE__METRIC_TYPE_HISTOGRAM);
            assert_string_equal(req->symbols[t->metadata->unit_ref], "seconds");
            if (!s[i].hist) {
                assert_int_equal(t->n_samples, 1);
                assert_int_equal(t->n_histograms, 0);
                assert_true(t->samples[0]->value == 7.25);
                continue;
            }
            assert_int_equal(t->n_samples, 0);
            assert_int_equal(t->n_histograms, 1);
            Io__Prometheus__Write__V2__Histogram *h = t->histograms[0];
            assert_int_equal(h->timestamp, s[i].ts_ms);
            assert_int_equal(h->count_case, IO__PROMETHEUS__WRITE__V2__HISTOGRAM__COUNT_COUNT_INT);
            assert_int_equal(h->count_int, s[i].hist->count);
            assert_int_equal(h->zero_count_case,
                             IO__PROMETHEUS__WRITE__V2__HISTOGRAM__ZERO_COUNT_ZERO_COUNT_INT);
            assert_int_equal(h->zero_count_int, s[i].hist->zero_count);
            assert_true(same_double(h->zero_threshold, s[i].hist->zero_threshold));
            assert_int_equal(h->schema, s[i].hist->schema);
            assert_true(same_double(h->sum, s[i].hist->sum));
            if (s[i].hist == &hk_rw_hist_stale) {
                assert_true(bits(h->sum) == HK_STALE_NAN_BITS);
                assert_int_equal(h->count_int, 0);
                assert_int_equal(h->n_positive_spans, 0);
                assert_int_equal(h->n_positive_deltas, 0);
                continue;
            }
            int32_t offs[8];
            uint32_t lens[8];
            for (size_t k = 0; k < h->n_positive_spans; k++) {
                offs[k] = h->positive_spans[k]->offset;
                lens[k] = h->positive_spans[k]->length;
            }
            expect_buckets(&rh[i], h->n_positive_spans, offs, lens, h->n_positive_deltas,
                           h->positive_deltas);
        }
        io__prometheus__write__v2__request__free_unpacked(req, NULL);
        hk_buf_free(&got);
    }
}

static void expect_same_hist(const struct hk_nhist *a, const struct hk_nhist *b)
{
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->schema, b->schema);
    assert_int_equal(a->count, b->count);
    assert_int_equal(a->zero_count, b->zero_count);
    assert_true(same_double(a->sum, b->sum));
    assert_true(same_double(a->zero_threshold, b->zero_threshold));
    assert_int_equal(a->nspans, b->nspans);
    assert_int_equal(a->ndeltas, b->ndeltas);
    for (uint32_t k = 0; k < a->nspans; k++) {
        assert_int_equal(a->spans[k].offset, b->spans[k].offset);
        assert_int_equal(a->spans[k].length, b->spans[k].length);
    }
    if (a->ndeltas)
        assert_memory_equal(a->deltas, b->deltas, a->ndeltas * sizeof(int64_t));
}

/* n samples, histograms on two in three (one a stale marker); batch `tag` is visible after
 * decoding in the timestamps and in the histograms' counts. */
static void make_batch(struct rh *rh, struct hk_rw_sample *s, size_t n, uint64_t *seed,
                       uint64_t tag)
{
    for (size_t i = 0; i < n; i++) {
        s[i] = (struct hk_rw_sample){i % 3 == 2 ? lab_b : lab_a,
                                     i % 3 == 2 ? 3 : 4,
                                     &fam_rq,
                                     (double)(tag * 100 + i),
                                     1700000000000 + (int64_t)(tag * 100 + i),
                                     tag * 100 + i,
                                     NULL,
                                     NULL};
        if (i % 3 == 0) {
            rand_hist(&rh[i], seed);
            rh[i].h.count += tag << 40;
            s[i].hist = &rh[i].h;
        } else if (i % 3 == 1) {
            s[i].hist = &hk_rw_hist_stale;
        }
    }
}

/* A request as the queue stores it: encoded in proto, snappy-compressed into z. */
static void store(const struct hk_rw_sample *s, size_t n, enum hk_rw_proto proto, struct hk_buf *z)
{
    const struct hk_rw_sample *p[16];
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++)
        p[i] = &s[i];
    struct hk_buf pb;
    hk_buf_init(&pb, 0);
    assert_int_equal(proto == HK_RW_V2 ? hk_rw_encode_v2(p, n, &pb) : hk_rw_encode_v1(p, n, &pb),
                     0);
    assert_int_equal(hk_rw_snappy_compress(pb.data, pb.len, z), 0);
    hk_buf_free(&pb);
}

/* Decoded samples against the originals: order, timestamps, labels, values or histograms. */
static void expect_same_samples(const struct hk_rw_record *d, const struct hk_rw_sample *s,
                                size_t n)
{
    assert_int_equal(d->nsamples, n);
    for (size_t i = 0; i < n; i++) {
        const struct hk_rw_sample *x = &d->samples[i];
        assert_int_equal(x->ts_ms, s[i].ts_ms);
        assert_int_equal(x->nlabels, s[i].nlabels);
        for (uint32_t k = 0; k < x->nlabels; k++) {
            assert_string_equal(x->labels[k].name, s[i].labels[k].name);
            assert_string_equal(x->labels[k].value, s[i].labels[k].value);
        }
        if (!s[i].hist) {
            assert_null(x->hist);
            assert_true(bits(x->value) == bits(s[i].value));
            continue;
        }
        expect_same_hist(x->hist, s[i].hist);
        if (s[i].hist == &hk_rw_hist_stale)
            assert_true(hk_rw_hist_is_stale(x->hist));
    }
}

/* The sender's slow path (413 split, 2.0 → 1.0 fallback, sample_age_limit) decodes a stored
 * request back into samples and encodes them again: histograms come through whole, in both
 * protocols, and the 1.0 bytes come out the same. */
static void test_request_round_trip(void **state)
{
    (void)state;
    uint64_t seed = 7;
    struct rh rh[9];
    struct hk_rw_sample s[9];
    make_batch(rh, s, 9, &seed, 1);
    struct hk_buf z, a, b, raw, cut;
    hk_buf_init(&z, 0);
    hk_buf_init(&a, 0);
    hk_buf_init(&b, 0);
    hk_buf_init(&raw, 0);
    hk_buf_init(&cut, 0);
    for (int v = 1; v <= 2; v++) {
        enum hk_rw_proto proto = v == 2 ? HK_RW_V2 : HK_RW_V1;
        store(s, 9, proto, &z);
        struct hk_rw_record d;
        assert_int_equal(hk_rw_request_decode(proto, z.data, z.len, &d), 0);
        expect_same_samples(&d, s, 9);
        const struct hk_rw_sample *p1[9], *p2[9];
        for (size_t i = 0; i < 9; i++) {
            p1[i] = &s[i];
            p2[i] = &d.samples[i];
        }
        hk_buf_reset(&a);
        hk_buf_reset(&b);
        assert_int_equal(hk_rw_encode_v1(p1, 9, &a), 0);
        assert_int_equal(hk_rw_encode_v1(p2, 9, &b), 0);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
        hk_rw_record_free(&d);
        /* Flipped bytes are refused or decode to histograms that pass the checks; never a
         * crash or a read past the end (ASan watches). */
        assert_int_equal(hk_rw_snappy_uncompress(z.data, z.len, 1 << 20, &raw), 0);
        for (int k = 0; k < 300; k++) {
            char *m = malloc(raw.len);
            assert_non_null(m);
            memcpy(m, raw.data, raw.len);
            m[xs(&seed) % raw.len] ^= (char)(1 + xs(&seed) % 255);
            assert_int_equal(hk_rw_snappy_compress(m, raw.len, &cut), 0);
            if (hk_rw_request_decode(proto, cut.data, cut.len, &d) == 0) {
                for (size_t i = 0; i < d.nsamples; i++)
                    if (d.samples[i].hist)
                        assert_int_equal(hk_rw_hist_check(d.samples[i].hist), 0);
                hk_rw_record_free(&d);
            }
            free(m);
        }
    }
    /* The old queue format cannot hold a histogram: refused, never dropped silently. */
    assert_int_equal(hk_rw_record_encode(s, 9, NULL, &z), -EINVAL);
    hk_buf_free(&cut);
    hk_buf_free(&raw);
    hk_buf_free(&z);
    hk_buf_free(&a);
    hk_buf_free(&b);
}

/* ---- queue: crash and restart ---- */

static char qdir[256];

static struct hk_rw_queue *open_q(void)
{
    struct hk_rw_queue_opts o = {qdir, 0, 4096, true}; /* small segments: several files */
    struct hk_rw_queue *q = NULL;
    assert_int_equal(hk_rw_queue_open(&o, &q), 0);
    return q;
}

#define NREC 12
#define PER 6

static enum hk_rw_proto proto_of(int k)
{
    return k % 2 ? HK_RW_V2 : HK_RW_V1;
}

/* Reads every record from pos, expecting records first, first+1, … of the writer's sequence
 * (regenerated from its seed): same samples in the same order, same histograms. Returns the
 * number read. */
static int read_check(struct hk_rw_queue *q, uint64_t *pos, int first, uint64_t seed)
{
    struct hk_buf b;
    struct hk_rw_qrec qr;
    hk_buf_init(&b, 0);
    struct rh rh[NREC][PER];
    struct hk_rw_sample s[NREC][PER];
    for (int k = 0; k < NREC; k++)
        make_batch(rh[k], s[k], PER, &seed, (uint64_t)k);
    int k = first, r;
    while ((r = hk_rw_queue_read(q, pos, &b, &qr)) == 1) {
        struct hk_rw_record d;
        struct hk_rw_payload_info info;
        assert_true(k < NREC);
        assert_int_equal(qr.nsamples, PER);
        assert_int_equal(hk_rw_payload_parse(b.data, b.len, &info), 0);
        assert_int_equal(info.proto, proto_of(k));
        assert_int_equal(hk_rw_request_decode(info.proto, b.data + HK_RW_PAYLOAD_PREFIX,
                                              b.len - HK_RW_PAYLOAD_PREFIX, &d),
                         0);
        expect_same_samples(&d, s[k], PER); /* record k, whole, in order */
        hk_rw_record_free(&d);
        k++;
    }
    assert_int_equal(r, 0);
    hk_buf_free(&b);
    return k - first;
}

static void test_queue_crash_restart(void **state)
{
    (void)state;
    snprintf(qdir, sizeof(qdir), "/tmp/hk-rwnh-XXXXXX");
    assert_non_null(mkdtemp(qdir));
    strcat(qdir, "/q");
    const uint64_t seed0 = 99;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The writer: appends NREC requests of histograms and floats (1.0 and 2.0 in turn) as
         * the pipeline does, commits after the first two durably, and dies without closing
         * anything (no savepoint flush, no cleanup). */
        struct hk_rw_queue *q = open_q();
        uint64_t seed = seed0;
        struct hk_buf z;
        hk_buf_init(&z, 0);
        uint64_t pos = 0;
        for (int k = 0; k < NREC; k++) {
            struct rh rh[PER];
            struct hk_rw_sample s[PER];
            make_batch(rh, s, PER, &seed, (uint64_t)k);
            store(s, PER, proto_of(k), &z);
            struct hk_rw_payload_info info = {proto_of(k), 1, s[PER - 1].ts_ms};
            uint8_t prefix[HK_RW_PAYLOAD_PREFIX];
            hk_rw_payload_prefix(prefix, &info);
            struct iovec parts[2] = {{prefix, sizeof(prefix)}, {z.data, z.len}};
            if (hk_rw_queue_appendv(q, parts, 2, PER, s[0].ts_ms) < 0)
                _exit(2);
        }
        struct hk_buf b;
        struct hk_rw_qrec qr;
        hk_buf_init(&b, 0);
        for (int k = 0; k < 2; k++)
            if (hk_rw_queue_read(q, &pos, &b, &qr) != 1)
                _exit(3);
        if (hk_rw_queue_commit(q, pos, 2 * PER, true) < 0)
            _exit(4);
        _exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    /* Restart: reading resumes at the savepoint, record 2, and every later record comes back
     * whole and in order. */
    struct hk_rw_queue *q = open_q();
    struct hk_rw_queue_stats qs;
    hk_rw_queue_get_stats(q, &qs);
    assert_int_equal(qs.pending_samples, (NREC - 2) * PER);
    uint64_t pos = hk_rw_queue_committed(q);
    assert_int_equal(read_check(q, &pos, 2, seed0), NREC - 2);
    hk_rw_queue_close(q);
    char cmd[600];
    char *slash = strrchr(qdir, '/');
    *slash = '\0';
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", qdir);
    assert_int_equal(system(cmd), 0);
}

/* ---- the pipeline: which series go, and the stale marker ---- */

static const char *const pod_l[] = {"pod", NULL};
static const struct hk_metric_desc d_rq = {"container_cpu_runqueue_latency_seconds",
                                           "Run-queue latency.", HK_METRIC_HISTOGRAM, "seconds",
                                           pod_l};
static const struct hk_metric_desc d_tf = {"textfile_latency_seconds", "Classic only.",
                                           HK_METRIC_HISTOGRAM, "seconds", pod_l};
static const struct hk_metric_desc d_ctr = {"container_cpu_usage_seconds_total", "CPU.",
                                            HK_METRIC_COUNTER, "seconds", pod_l};

/* pods "a" and (with_b) "b": a native run-queue histogram each (schema 3, like the eBPF
 * families), a classic-only histogram and a counter for "a". */
static struct hk_snapshot *nh_snap(bool with_b, int64_t ts)
{
    struct hk_builder *b = hk_builder_new(NULL);
    hk_builder_begin(b, "ebpf");
    uint64_t counts[] = {4, 0, 1, 0, 0, 0, 9, 2, 0, 3}; /* a gap of 3: two spans */
    struct hk_nhist_in in = {.schema = 3,
                             .zero_threshold = 0x1p-22,
                             .zero_count = 1,
                             .first_index = -150,
                             .counts = counts,
                             .ncounts = 10,
                             .sum = 0.125,
                             .classic_lo = -20,
                             .classic_hi = -16};
    const char *pa[] = {"a"}, *pb[] = {"b"};
    assert_int_equal(hk_emit_native_histogram(b, &d_rq, pa, &in), 0);
    if (with_b)
        assert_int_equal(hk_emit_native_histogram(b, &d_rq, pb, &in), 0);
    double bounds[] = {0.1, 1};
    uint64_t cum[] = {1, 2};
    assert_int_equal(hk_emit_histogram(b, &d_tf, pa, bounds, cum, 2, 1.5, 3), 0);
    assert_int_equal(hk_emit(b, &d_ctr, pa, 7), 0);
    hk_builder_commit(b);
    return hk_builder_seal(b, ts, NULL);
}

struct seen {
    int native, native_stale, classic_rq, classic_stale, tf, ctr;
};

static void read_queue(const char *dir, const char *name, enum hk_rw_proto want, struct seen out[3])
{
    struct hk_rw_queue *q = hk_test_rw_queue(dir, name);
    uint64_t pos = hk_rw_queue_committed(q);
    struct hk_buf b;
    struct hk_rw_qrec qr;
    hk_buf_init(&b, 0);
    int k = 0;
    while (hk_rw_queue_read(q, &pos, &b, &qr) == 1) {
        struct hk_rw_record rec;
        struct hk_rw_payload_info info;
        assert_true(k < 3);
        assert_int_equal(hk_rw_payload_parse(b.data, b.len, &info), 0);
        assert_int_equal(info.proto, want);
        assert_int_equal(hk_rw_request_decode(info.proto, b.data + HK_RW_PAYLOAD_PREFIX,
                                              b.len - HK_RW_PAYLOAD_PREFIX, &rec),
                         0);
        for (size_t i = 0; i < rec.nsamples; i++) {
            const struct hk_rw_sample *x = &rec.samples[i];
            const char *n = hk_labels_get(x->labels, x->nlabels, "__name__");
            const char *pod = hk_labels_get(x->labels, x->nlabels, "pod");
            assert_non_null(n);
            assert_non_null(pod);
            bool stale =
                x->hist ? hk_rw_hist_is_stale(x->hist) : bits(x->value) == HK_STALE_NAN_BITS;
            if (stale)
                assert_string_equal(pod, "b"); /* only b vanishes */
            if (strcmp(n, "container_cpu_runqueue_latency_seconds") == 0) {
                assert_non_null(x->hist);
                assert_null(hk_labels_get(x->labels, x->nlabels, "le"));
                if (want == HK_RW_V2) /* 1.0 requests carry no metadata */
                    assert_int_equal(x->family->type, HK_METRIC_HISTOGRAM);
                if (stale) {
                    out[k].native_stale++;
                    assert_int_equal(x->ts_ms, 2000000);
                    continue;
                }
                out[k].native++;
                assert_int_equal(x->hist->schema, 3);
                assert_int_equal(x->hist->count, 20);
                assert_int_equal(x->hist->zero_count, 1);
                assert_true(x->hist->sum == 0.125);
                assert_int_equal(x->hist->nspans, 2);
                assert_int_equal(x->hist->spans[0].offset, -150);
                assert_int_equal(x->hist->ndeltas, 7);
            } else if (strncmp(n, "container_cpu_runqueue_latency_seconds_", 39) == 0) {
                assert_null(x->hist);
                if (stale)
                    out[k].classic_stale++;
                else
                    out[k].classic_rq++;
            } else if (strncmp(n, "textfile_latency_seconds", 24) == 0) {
                assert_null(x->hist);
                out[k].tf++;
            } else {
                assert_string_equal(n, "container_cpu_usage_seconds_total");
                assert_null(x->hist);
                out[k].ctr++;
            }
        }
        hk_rw_record_free(&rec);
        k++;
    }
    assert_int_equal(k, 3);
    hk_buf_free(&b);
    hk_rw_queue_close(q);
}

static void test_pipeline(void **state)
{
    (void)state;
    char dir[] = "/tmp/hk-rwnp-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char yml[1600];
    snprintf(yml, sizeof(yml),
             "remote_write:\n"
             "  - url: http://127.0.0.1:1/api/v1/write\n    name: native\n"
             "    send_native_histograms: true\n    metadata_config: {send: false}\n"
             "    queue_config: {disk_path: %s/q, batch_send_deadline: 1h, min_backoff: 1h,"
             " max_backoff: 1h}\n"
             "  - url: http://127.0.0.1:1/api/v1/write\n    name: native2\n"
             "    send_native_histograms: true\n    metadata_config: {send: false}\n"
             "    protobuf_message: io.prometheus.write.v2.Request\n"
             "    queue_config: {disk_path: %s/q, batch_send_deadline: 1h, min_backoff: 1h,"
             " max_backoff: 1h}\n"
             "  - url: http://127.0.0.1:1/api/v1/write\n    name: classic\n"
             "    metadata_config: {send: false}\n"
             "    queue_config: {disk_path: %s/q, batch_send_deadline: 1h, min_backoff: 1h,"
             " max_backoff: 1h}\n",
             dir, dir, dir);
    struct hk_test_rw t;
    hk_test_rw_start(&t, dir, yml);
    hk_registry_publish(t.reg, nh_snap(true, 1000000));
    hk_registry_publish(t.reg, nh_snap(false, 2000000)); /* b vanished: one stale marker */
    hk_registry_publish(t.reg, nh_snap(false, 3000000)); /* and only once */
    hk_test_rw_stop(&t);

    /* classic series of the text exposition: _bucket per le (-20 … -16, +Inf), _sum, _count */
    const int classic_per = 5 + 1 + 2;
    struct seen n[3] = {{0}}, n2[3] = {{0}}, c[3] = {{0}};
    read_queue(dir, "native", HK_RW_V1, n);
    read_queue(dir, "native2", HK_RW_V2, n2);
    read_queue(dir, "classic", HK_RW_V1, c);
    assert_memory_equal(n, n2, sizeof(n)); /* 2.0 carries the same */
    /* send_native_histograms: one native series per pod instead of its classic series; the
     * classic-only histogram and the counter as before. */
    assert_int_equal(n[0].native, 2);
    assert_int_equal(n[0].classic_rq, 0);
    assert_int_equal(n[0].tf, 2 + 1 + 2);
    assert_int_equal(n[0].ctr, 1);
    assert_int_equal(n[1].native, 1);
    assert_int_equal(n[1].native_stale, 1);
    assert_int_equal(n[1].classic_stale, 0);
    assert_int_equal(n[2].native, 1);
    assert_int_equal(n[2].native_stale, 0);
    /* default: classic series only, float stale markers for each of b's */
    for (int k = 0; k < 3; k++) {
        assert_int_equal(c[k].native + c[k].native_stale, 0);
        assert_int_equal(c[k].classic_rq, (k == 0 ? 2 : 1) * classic_per);
        assert_int_equal(c[k].ctr, 1);
    }
    assert_int_equal(c[1].classic_stale, classic_per);
    assert_int_equal(c[2].classic_stale, 0);
    hk_test_rmtree(dir);
}

int main(void)
{
    hk_log_setup(HK_LOG_ERROR, HK_LOG_LOGFMT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stale_marker_bits),   cmocka_unit_test(test_check),
        cmocka_unit_test(test_v1_differential),     cmocka_unit_test(test_v2_decode),
        cmocka_unit_test(test_pb_decode),           cmocka_unit_test(test_request_round_trip),
        cmocka_unit_test(test_queue_crash_restart), cmocka_unit_test(test_pipeline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
