/* SPDX-License-Identifier: Apache-2.0 */
/* rw_encode: 1.0 and 2.0 requests decode with protobuf-c to what went in (labels in order,
 * stale-marker bits intact, symbol table rules), snappy block round trip, queue records. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "exporter/rw_encode.h"
#include "proto/remote.pb-c.h"
#include "proto/write_v2.pb-c.h"

static const struct hk_rw_family fam_cpu = {"node_cpu_seconds_total", "Seconds the CPUs spent.",
                                            "seconds", HK_METRIC_COUNTER};
static const struct hk_label l1[] = {
    {"__name__", "node_cpu_seconds_total"}, {"cluster", "c1"}, {"cpu", "0"}, {"mode", "idle"}};
static const struct hk_label l2[] = {{"__name__", "up"}, {"job", "hakari"}};

static double stale_nan(void)
{
    uint64_t b = HK_STALE_NAN_BITS;
    double d;
    memcpy(&d, &b, 8);
    return d;
}

static uint64_t bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}

static void make(struct hk_rw_sample s[2], const struct hk_rw_sample *p[2])
{
    s[0] = (struct hk_rw_sample){l1, 4, &fam_cpu, 12345.5, 1700000000123, 1, NULL, NULL};
    s[1] = (struct hk_rw_sample){l2, 2, NULL, stale_nan(), 1700000000456, 2, NULL, NULL};
    p[0] = &s[0];
    p[1] = &s[1];
}

static void test_v1_round_trip(void **state)
{
    struct hk_rw_sample s[2];
    const struct hk_rw_sample *p[2];
    struct hk_buf out;
    make(s, p);
    hk_buf_init(&out, 0);
    assert_int_equal(hk_rw_encode_v1(p, 2, &out), 0);
    Prometheus__WriteRequest *req =
        prometheus__write_request__unpack(NULL, out.len, (const uint8_t *)out.data);
    assert_non_null(req);
    assert_int_equal(req->n_timeseries, 2);
    assert_int_equal(req->n_metadata, 0);
    Prometheus__TimeSeries *t = req->timeseries[0];
    assert_int_equal(t->n_labels, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(t->labels[i]->name, l1[i].name);
        assert_string_equal(t->labels[i]->value, l1[i].value);
    }
    assert_int_equal(t->n_samples, 1);
    assert_true(t->samples[0]->value == 12345.5);
    assert_int_equal(t->samples[0]->timestamp, 1700000000123);
    t = req->timeseries[1];
    assert_string_equal(t->labels[0]->name, "__name__");
    assert_string_equal(t->labels[1]->value, "hakari");
    /* The staleness marker keeps its exact bit pattern through encoding. */
    assert_true(bits(t->samples[0]->value) == HK_STALE_NAN_BITS);
    prometheus__write_request__free_unpacked(req, NULL);
    hk_buf_free(&out);
}

/* The reference: the same request built as protobuf-c messages and packed by protobuf-c. */
static void pack_reference(const struct hk_rw_sample *const *p, size_t n, struct hk_buf *out)
{
    Prometheus__TimeSeries ts[8], *tsp[8];
    Prometheus__Sample sm[8], *smp[8];
    Prometheus__Label lb[80], *lbp[80];
    size_t li = 0;
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        prometheus__time_series__init(&ts[i]);
        prometheus__sample__init(&sm[i]);
        sm[i].value = p[i]->value;
        sm[i].timestamp = p[i]->ts_ms;
        smp[i] = &sm[i];
        ts[i].n_samples = 1;
        ts[i].samples = &smp[i];
        ts[i].n_labels = p[i]->nlabels;
        ts[i].labels = &lbp[li];
        for (uint32_t k = 0; k < p[i]->nlabels; k++, li++) {
            assert_true(li < 80);
            prometheus__label__init(&lb[li]);
            lb[li].name = (char *)p[i]->labels[k].name;
            lb[li].value = (char *)p[i]->labels[k].value;
            lbp[li] = &lb[li];
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

static uint64_t xs(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* The hand-written 1.0 encoder produces exactly protobuf-c's bytes: random label sets (empty,
 * 1-byte, 127/128/16383/16384-byte strings at varint edges), zero / negative / NaN / stale
 * values, zero / negative / large timestamps. */
static void test_v1_matches_protobuf_c(void **state)
{
    static char big[16400];
    /* 3…17: the short-copy branches (under 4, 4–7, 8–16 bytes, longer) */
    static const size_t edges[] = {0,  1,  2,  3,   4,   5,   7,     8,     9,    15,
                                   16, 17, 60, 126, 127, 128, 129, 16383, 16384, 16385};
    static const int64_t stamps[] = {0, 1, -1, 127, 128, 1700000000123, INT64_MAX, INT64_MIN};
    const double values[] = {0.0, -0.0, 1.5, -2.25, 1e300, stale_nan(), 5e-324};
    memset(big, 'x', sizeof(big) - 1);
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    struct hk_buf mine, ref;
    hk_buf_init(&mine, 0);
    hk_buf_init(&ref, 0);
    for (int round = 0; round < 500; round++) {
        struct hk_label labels[8][8];
        char strs[8][8][2][32];
        struct hk_rw_sample s[8];
        const struct hk_rw_sample *p[8];
        size_t n = xs(&rng) % 9;
        for (size_t i = 0; i < n; i++) {
            uint32_t nl = (uint32_t)(xs(&rng) % 9);
            for (uint32_t k = 0; k < nl; k++) {
                for (int f = 0; f < 2; f++) {
                    uint64_t pick = xs(&rng) % 4;
                    size_t len = edges[xs(&rng) % (sizeof(edges) / sizeof(edges[0]))];
                    const char *v;
                    if (pick == 0 && len < sizeof(big)) {
                        v = big + sizeof(big) - 1 - len; /* a suffix of len bytes */
                    } else {
                        snprintf(strs[i][k][f], sizeof(strs[i][k][f]), "%c%llu", f ? 'v' : 'n',
                                 (unsigned long long)(xs(&rng) % 100000));
                        v = pick == 1 ? "" : strs[i][k][f];
                    }
                    if (f == 0)
                        labels[i][k].name = v;
                    else
                        labels[i][k].value = v;
                }
            }
            s[i] = (struct hk_rw_sample){labels[i], nl, NULL,
                                         values[xs(&rng) % (sizeof(values) / sizeof(values[0]))],
                                         stamps[xs(&rng) % (sizeof(stamps) / sizeof(stamps[0]))],
                                         0, NULL, NULL};
            p[i] = &s[i];
        }
        hk_buf_reset(&mine);
        hk_buf_reset(&ref);
        hk_buf_putc(&mine, 'A'); /* appends after what the buffer holds */
        hk_buf_putc(&ref, 'A');
        assert_int_equal(hk_rw_encode_v1(p, n, &mine), 0);
        pack_reference(p, n, &ref);
        assert_int_equal(mine.len, ref.len);
        assert_memory_equal(mine.data, ref.data, ref.len);
        /* Same bytes when the lengths come with the samples (as decoded records give them). */
        uint32_t lens[8][16];
        for (size_t i = 0; i < n; i++) {
            for (uint32_t k = 0; k < s[i].nlabels; k++) {
                lens[i][2 * k] = (uint32_t)strlen(s[i].labels[k].name);
                lens[i][2 * k + 1] = (uint32_t)strlen(s[i].labels[k].value);
            }
            s[i].lens = lens[i];
        }
        hk_buf_reset(&mine);
        hk_buf_putc(&mine, 'A');
        assert_int_equal(hk_rw_encode_v1(p, n, &mine), 0);
        assert_int_equal(mine.len, ref.len);
        assert_memory_equal(mine.data, ref.data, ref.len);
    }
    /* A series with more labels than the encoder's on-stack length table (64). */
    {
        static struct hk_label many[70];
        static char names[70][16];
        for (int k = 0; k < 70; k++) {
            snprintf(names[k], sizeof(names[k]), "l%02d", k);
            many[k] = (struct hk_label){names[k], k % 3 ? names[k] : ""};
        }
        struct hk_rw_sample one = {many, 70, NULL, 2.5, 1700000000123, 0, NULL, NULL};
        const struct hk_rw_sample *p1 = &one;
        hk_buf_reset(&mine);
        hk_buf_reset(&ref);
        assert_int_equal(hk_rw_encode_v1(&p1, 1, &mine), 0);
        pack_reference(&p1, 1, &ref);
        assert_int_equal(mine.len, ref.len);
        assert_memory_equal(mine.data, ref.data, ref.len);
    }
    hk_buf_free(&mine);
    hk_buf_free(&ref);
}

static void test_v2_round_trip(void **state)
{
    struct hk_rw_sample s[2];
    const struct hk_rw_sample *p[2];
    struct hk_buf out;
    make(s, p);
    hk_buf_init(&out, 0);
    assert_int_equal(hk_rw_encode_v2(p, 2, &out), 0);
    Io__Prometheus__Write__V2__Request *req =
        io__prometheus__write__v2__request__unpack(NULL, out.len, (const uint8_t *)out.data);
    assert_non_null(req);
    assert_true(req->n_symbols >= 1);
    assert_string_equal(req->symbols[0], "");
    /* Symbols are unique. */
    for (size_t i = 0; i < req->n_symbols; i++)
        for (size_t j = i + 1; j < req->n_symbols; j++)
            assert_string_not_equal(req->symbols[i], req->symbols[j]);
    assert_int_equal(req->n_timeseries, 2);
    Io__Prometheus__Write__V2__TimeSeries *t = req->timeseries[0];
    assert_int_equal(t->n_labels_refs, 8);
    for (size_t i = 0; i < 4; i++) {
        assert_true(t->labels_refs[2 * i] < req->n_symbols);
        assert_true(t->labels_refs[2 * i + 1] < req->n_symbols);
        assert_string_equal(req->symbols[t->labels_refs[2 * i]], l1[i].name);
        assert_string_equal(req->symbols[t->labels_refs[2 * i + 1]], l1[i].value);
    }
    assert_non_null(t->metadata);
    assert_int_equal(t->metadata->type,
                     IO__PROMETHEUS__WRITE__V2__METADATA__METRIC_TYPE__METRIC_TYPE_COUNTER);
    assert_string_equal(req->symbols[t->metadata->help_ref], "Seconds the CPUs spent.");
    assert_string_equal(req->symbols[t->metadata->unit_ref], "seconds");
    assert_int_equal(t->samples[0]->timestamp, 1700000000123);
    t = req->timeseries[1];
    assert_true(bits(t->samples[0]->value) == HK_STALE_NAN_BITS);
    assert_int_equal(t->metadata->type,
                     IO__PROMETHEUS__WRITE__V2__METADATA__METRIC_TYPE__METRIC_TYPE_UNSPECIFIED);
    /* A 1.0 decoder reading a 2.0 body sees an empty request (fields 1-3 are reserved). */
    Prometheus__WriteRequest *v1 =
        prometheus__write_request__unpack(NULL, out.len, (const uint8_t *)out.data);
    assert_non_null(v1);
    assert_int_equal(v1->n_timeseries, 0);
    prometheus__write_request__free_unpacked(v1, NULL);
    io__prometheus__write__v2__request__free_unpacked(req, NULL);
    hk_buf_free(&out);
}

static void test_metadata_v1(void **state)
{
    struct hk_rw_family f[2] = {fam_cpu, {"node_load1", "1m load average.", "", HK_METRIC_GAUGE}};
    struct hk_buf out;
    hk_buf_init(&out, 0);
    assert_int_equal(hk_rw_encode_metadata_v1(f, 2, &out), 0);
    Prometheus__WriteRequest *req =
        prometheus__write_request__unpack(NULL, out.len, (const uint8_t *)out.data);
    assert_non_null(req);
    assert_int_equal(req->n_timeseries, 0);
    assert_int_equal(req->n_metadata, 2);
    assert_int_equal(req->metadata[0]->type, PROMETHEUS__METRIC_METADATA__METRIC_TYPE__COUNTER);
    assert_string_equal(req->metadata[0]->metric_family_name, "node_cpu_seconds_total");
    assert_string_equal(req->metadata[0]->unit, "seconds");
    assert_int_equal(req->metadata[1]->type, PROMETHEUS__METRIC_METADATA__METRIC_TYPE__GAUGE);
    assert_string_equal(req->metadata[1]->help, "1m load average.");
    prometheus__write_request__free_unpacked(req, NULL);
    hk_buf_free(&out);
}

static void test_snappy_block(void **state)
{
    char in[5000];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (char)("remote_write"[i % 12] + (i / 1000));
    struct hk_buf c, d;
    hk_buf_init(&c, 0);
    hk_buf_init(&d, 0);
    assert_int_equal(hk_rw_snappy_compress(in, sizeof(in), &c), 0);
    assert_true(c.len < sizeof(in));
    /* Block format: starts with the varint of the length (5000 = 0x88 0x27), not the framed
     * stream identifier 0xff 0x06 0x00 0x00 "sNaPpY". */
    assert_int_equal((unsigned char)c.data[0], 0x88);
    assert_int_equal((unsigned char)c.data[1], 0x27);
    assert_int_equal(hk_rw_snappy_uncompress(c.data, c.len, 1 << 20, &d), 0);
    assert_int_equal(d.len, sizeof(in));
    assert_memory_equal(d.data, in, sizeof(in));
    assert_int_equal(hk_rw_snappy_uncompress(c.data, c.len, 100, &d), -E2BIG);
    c.data[c.len / 2] ^= 0x55;
    c.data[3] = (char)0xff;
    int r = hk_rw_snappy_uncompress(c.data, c.len, 1 << 20, &d);
    assert_true(r == -EBADMSG || (r == 0 && memcmp(d.data, in, sizeof(in)) != 0));
    hk_buf_free(&c);
    hk_buf_free(&d);
}

static void test_record_round_trip(void **state)
{
    struct hk_rw_sample s[2];
    const struct hk_rw_sample *p[2];
    struct hk_buf out;
    struct hk_rw_record rec;
    make(s, p);
    hk_buf_init(&out, 0);
    assert_int_equal(hk_rw_record_encode(s, 2, NULL, &out), 0);
    assert_int_equal(hk_rw_record_decode(out.data, out.len, &rec), 0);
    assert_int_equal(rec.nsamples, 2);
    assert_int_equal(rec.samples[0].nlabels, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(rec.samples[0].labels[i].name, l1[i].name);
        assert_string_equal(rec.samples[0].labels[i].value, l1[i].value);
        /* Decoding records the lengths the 1.0 encoder uses instead of strlen. */
        assert_non_null(rec.samples[0].lens);
        assert_int_equal(rec.samples[0].lens[2 * i], strlen(l1[i].name));
        assert_int_equal(rec.samples[0].lens[2 * i + 1], strlen(l1[i].value));
    }
    assert_non_null(rec.samples[0].family);
    assert_string_equal(rec.samples[0].family->help, fam_cpu.help);
    assert_int_equal(rec.samples[0].family->type, HK_METRIC_COUNTER);
    assert_null(rec.samples[1].family);
    assert_true(bits(rec.samples[1].value) == HK_STALE_NAN_BITS);
    assert_int_equal(rec.samples[1].ts_ms, 1700000000456);
    assert_int_equal(rec.samples[1].hash, 2);
    hk_rw_record_free(&rec);
    /* Garbage is refused, not trusted. */
    struct hk_buf junk;
    hk_buf_init(&junk, 0);
    assert_int_equal(hk_rw_snappy_compress("HKR1\xff\xff\xff\xff", 8, &junk), 0);
    assert_int_equal(hk_rw_record_decode(junk.data, junk.len, &rec), -EBADMSG);
    assert_int_equal(hk_rw_record_decode("\x01", 1, &rec), -EBADMSG);
    hk_buf_free(&junk);
    hk_buf_free(&out);
}

/* A stored request (what the queue holds) decodes back into what was encoded, in both
 * protocols: labels in order with their lengths, values with the stale-marker bits, timestamps,
 * and for 2.0 the metadata (type, help, unit). Re-encoding the decoded samples gives the same
 * request bytes. */
static void check_decode(enum hk_rw_proto proto)
{
    struct hk_rw_sample s[2];
    const struct hk_rw_sample *p[2];
    struct hk_buf pb, z, again;
    struct hk_rw_record rec;
    make(s, p);
    hk_buf_init(&pb, 0);
    hk_buf_init(&z, 0);
    hk_buf_init(&again, 0);
    assert_int_equal(proto == HK_RW_V2 ? hk_rw_encode_v2(p, 2, &pb) : hk_rw_encode_v1(p, 2, &pb),
                     0);
    assert_int_equal(hk_rw_snappy_compress(pb.data, pb.len, &z), 0);
    assert_int_equal(hk_rw_request_decode(proto, z.data, z.len, &rec), 0);
    assert_int_equal(rec.nsamples, 2);
    for (size_t i = 0; i < 2; i++) {
        const struct hk_rw_sample *x = &rec.samples[i];
        assert_int_equal(x->nlabels, s[i].nlabels);
        for (uint32_t k = 0; k < x->nlabels; k++) {
            assert_string_equal(x->labels[k].name, s[i].labels[k].name);
            assert_string_equal(x->labels[k].value, s[i].labels[k].value);
            assert_int_equal(x->lens[2 * k], strlen(s[i].labels[k].name));
            assert_int_equal(x->lens[2 * k + 1], strlen(s[i].labels[k].value));
        }
        assert_true(bits(x->value) == bits(s[i].value));
        assert_int_equal(x->ts_ms, s[i].ts_ms);
    }
    if (proto == HK_RW_V2) {
        assert_non_null(rec.samples[0].family);
        assert_int_equal(rec.samples[0].family->type, HK_METRIC_COUNTER);
        assert_string_equal(rec.samples[0].family->help, fam_cpu.help);
        assert_string_equal(rec.samples[0].family->unit, "seconds");
        assert_null(rec.samples[1].family);
    }
    const struct hk_rw_sample *q[2] = {&rec.samples[0], &rec.samples[1]};
    assert_int_equal(proto == HK_RW_V2 ? hk_rw_encode_v2(q, 2, &again)
                                       : hk_rw_encode_v1(q, 2, &again),
                     0);
    assert_int_equal(again.len, pb.len);
    assert_memory_equal(again.data, pb.data, pb.len);
    hk_rw_record_free(&rec);
    hk_buf_free(&pb);
    hk_buf_free(&z);
    hk_buf_free(&again);
}

static void test_request_decode(void **state)
{
    check_decode(HK_RW_V1);
    check_decode(HK_RW_V2);
}

/* Every truncation of a stored request, and a symbol reference past the table, are refused with
 * -EBADMSG (never read past the end: the sanitizers watch). */
static void test_request_decode_corrupt(void **state)
{
    struct hk_rw_sample s[2];
    const struct hk_rw_sample *p[2];
    struct hk_buf pb, z;
    struct hk_rw_record rec;
    make(s, p);
    hk_buf_init(&pb, 0);
    hk_buf_init(&z, 0);
    for (int proto = HK_RW_V1; proto <= HK_RW_V2; proto++) {
        hk_buf_reset(&pb);
        assert_int_equal(proto == HK_RW_V2 ? hk_rw_encode_v2(p, 2, &pb)
                                           : hk_rw_encode_v1(p, 2, &pb),
                         0);
        for (size_t cut = 1; cut < pb.len; cut++) {
            assert_int_equal(hk_rw_snappy_compress(pb.data, cut, &z), 0);
            int r = hk_rw_request_decode((enum hk_rw_proto)proto, z.data, z.len, &rec);
            if (r == 0) /* a cut at a message boundary is a shorter valid request */
                hk_rw_record_free(&rec);
            else
                assert_int_equal(r, -EBADMSG);
        }
    }
    /* 2.0: symbols [""] and one series referring to symbol 5 */
    static const char bad[] = "\x22\x00\x2a\x04\x0a\x02\x05\x00";
    assert_int_equal(hk_rw_snappy_compress(bad, sizeof(bad) - 1, &z), 0);
    assert_int_equal(hk_rw_request_decode(HK_RW_V2, z.data, z.len, &rec), -EBADMSG);
    assert_int_equal(hk_rw_request_decode(HK_RW_V1, "junk", 4, &rec), -EBADMSG);
    hk_buf_free(&pb);
    hk_buf_free(&z);
}

static void test_payload_prefix(void **state)
{
    uint8_t b[HK_RW_PAYLOAD_PREFIX];
    struct hk_rw_payload_info in = {HK_RW_V2, 0x1234567890abcdefull, 1700000000999}, out;
    hk_rw_payload_prefix(b, &in);
    assert_int_equal(b[0], 2);
    assert_int_equal(hk_rw_payload_parse(b, sizeof(b), &out), 0);
    assert_int_equal(out.proto, HK_RW_V2);
    assert_true(out.group == in.group);
    assert_int_equal(out.newest_ms, in.newest_ms);
    assert_int_equal(hk_rw_payload_parse(b, sizeof(b) - 1, &out), -EBADMSG);
    b[0] = 3;
    assert_int_equal(hk_rw_payload_parse(b, sizeof(b), &out), -EBADMSG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_round_trip),     cmocka_unit_test(test_v1_matches_protobuf_c),     cmocka_unit_test(test_v2_round_trip),
        cmocka_unit_test(test_metadata_v1),       cmocka_unit_test(test_snappy_block),
        cmocka_unit_test(test_record_round_trip),
        cmocka_unit_test(test_request_decode),    cmocka_unit_test(test_request_decode_corrupt),
        cmocka_unit_test(test_payload_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
