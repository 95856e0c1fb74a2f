/* SPDX-License-Identifier: Apache-2.0 */
/* Native histograms on the remote-write path (send_native_histograms: true): the histogram a
 * sample can carry instead of a float value, its prompb Histogram message (the same field
 * numbers in 1.0's prometheus.Histogram and 2.0's io.prometheus.write.v2.Histogram), the native
 * stale marker, and the histogram section of a queue record. Only positive buckets: every
 * histogram hakari has is a latency. */
#ifndef HK_RW_NHIST_H
#define HK_RW_NHIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct hk_rw_sample;
struct hk_rw_record;
struct Io__Prometheus__Write__V2__Histogram;
struct Io__Prometheus__Write__V2__BucketSpan;

/* Limits of one histogram (a queue record that claims more is corrupt; the pipeline sends the
 * classic series of a histogram past them). Schema 8 over 1 ns .. 1 h spans ~11,000 buckets. */
#define HK_RW_HIST_MAX_BUCKETS 32768u
#define HK_RW_HIST_MIN_SCHEMA (-4)
#define HK_RW_HIST_MAX_SCHEMA 8

struct hk_rw_hist_span {
    int32_t offset; /* gap in buckets from the end of the previous span (first: from index 0) */
    uint32_t length;
};

/* A native histogram with integer counts, as the protobuf defines it: bucket i of schema s is
 * (2^((i-1)/2^s), 2^(i/2^s)]; spans say which buckets are present, deltas their counts, each
 * relative to the previous present bucket (the first absolute). */
struct hk_rw_hist {
    double sum;
    double zero_threshold;
    uint64_t count;      /* observations, the zero bucket's included */
    uint64_t zero_count; /* observations in [-zero_threshold, zero_threshold] */
    int32_t schema;
    uint32_t nspans;
    const struct hk_rw_hist_span *spans;
    const int64_t *deltas; /* one per present bucket: the sum of the span lengths */
    uint32_t ndeltas;
};

/* The native stale marker (what Prometheus appends when a histogram series vanishes): nothing
 * but a sum with the StaleNaN bits. */
extern const struct hk_rw_hist hk_rw_hist_stale;
bool hk_rw_hist_is_stale(const struct hk_rw_hist *h);

/* 0, or -EINVAL when the histogram breaks a rule above (schema range, bucket limit, deltas not
 * matching the spans, a zero-length span). */
int hk_rw_hist_check(const struct hk_rw_hist *h);

/* The Histogram message of a sample at ts_ms: its length, and its bytes written at p (returns the
 * end). Bytes as protobuf-c packs the generated message (proto3: zero scalars omitted, the
 * count and zero_count oneofs always present, deltas packed). */
size_t hk_rw_hist_pb_len(const struct hk_rw_hist *h, int64_t ts_ms);
uint8_t *hk_rw_hist_pb_put(uint8_t *p, const struct hk_rw_hist *h, int64_t ts_ms);

/* 2.0: fills the generated message m for h at ts_ms; sm and sp (h->nspans each) receive the
 * span messages and the pointers to them. m points into h, sm and sp: keep them until packed. */
void hk_rw_hist_v2_fill(const struct hk_rw_hist *h, int64_t ts_ms,
                        struct Io__Prometheus__Write__V2__Histogram *m,
                        struct Io__Prometheus__Write__V2__BucketSpan *sm,
                        struct Io__Prometheus__Write__V2__BucketSpan **sp);

/* ---- queue records ---- */

/* Histograms among n samples (records with none keep the histogram-free layout). */
size_t hk_rw_hist_count(const struct hk_rw_sample *samples, size_t n);
/* Appends the histogram section of a record to raw (errors land in raw->err). */
void hk_rw_hist_record_put(struct hk_buf *raw, const struct hk_rw_sample *samples, size_t n);
/* Parses the section at [*p, end) and points rec's samples at their histograms (memory in
 * rec->hist_mem); advances *p. -EBADMSG on anything malformed, -ENOMEM. */
int hk_rw_hist_record_get(const char **p, const char *end, struct hk_rw_record *rec);

#endif
