/* SPDX-License-Identifier: Apache-2.0 */
/* Native histograms on the remote-write path (send_native_histograms: true): a sample can carry
 * a struct hk_nhist (core/snapshot.h) instead of a float value. Here: its Histogram message (the
 * same field numbers in 1.0's prometheus.Histogram and 2.0's io.prometheus.write.v2.Histogram), the
 * native stale marker, and its decoder (for rw_decode.c). Only positive buckets: every
 * histogram hakari has is a latency. */
#ifndef HK_RW_NHIST_H
#define HK_RW_NHIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/snapshot.h"

struct Io__Prometheus__Write__V2__Histogram;
struct Io__Prometheus__Write__V2__BucketSpan;

/* Limits of one histogram (a stored request that claims more is corrupt; the pipeline sends the
 * classic series of a histogram past them). Schema 8 over 1 ns .. 1 h spans ~11,000 buckets. */
#define HK_RW_HIST_MAX_BUCKETS 32768u
#define HK_RW_HIST_MIN_SCHEMA (-4)
#define HK_RW_HIST_MAX_SCHEMA 8

/* The native stale marker (what Prometheus appends when a histogram series vanishes): nothing
 * but a sum with the StaleNaN bits. */
extern const struct hk_nhist hk_rw_hist_stale;
bool hk_rw_hist_is_stale(const struct hk_nhist *h);

/* 0, or -EINVAL when the histogram breaks a rule above (schema range, bucket limit, deltas not
 * matching the spans, a zero-length span). */
int hk_rw_hist_check(const struct hk_nhist *h);

/* The Histogram message of a sample at ts_ms: its length, and its bytes written at p (returns the
 * end). Bytes as protobuf-c packs the generated message (proto3: zero scalars omitted, the
 * count and zero_count oneofs always present, deltas packed). */
size_t hk_rw_hist_pb_len(const struct hk_nhist *h, int64_t ts_ms);
uint8_t *hk_rw_hist_pb_put(uint8_t *p, const struct hk_nhist *h, int64_t ts_ms);

/* Decoding a Histogram message (both versions; the sender's slow path decodes stored requests):
 * hk_rw_hist_pb_measure tells how many spans and deltas [p, p+len) holds, hk_rw_hist_pb_decode
 * fills h with them written to spans and deltas (room for what was measured) and the sample's
 * timestamp to *ret_ts_ms. Unknown fields are skipped; float counts, negative buckets and a
 * histogram breaking hk_rw_hist_check are refused: -EBADMSG (hakari never sends them). */
int hk_rw_hist_pb_measure(const uint8_t *p, size_t len, uint32_t *ret_nspans,
                          uint32_t *ret_ndeltas);
int hk_rw_hist_pb_decode(const uint8_t *p, size_t len, struct hk_nhist *h,
                         struct hk_nhist_span *spans, int64_t *deltas, int64_t *ret_ts_ms);

/* 2.0: fills the generated message m for h at ts_ms; sm and sp (h->nspans each) receive the
 * span messages and the pointers to them. m points into h, sm and sp: keep them until packed. */
void hk_rw_hist_v2_fill(const struct hk_nhist *h, int64_t ts_ms,
                        struct Io__Prometheus__Write__V2__Histogram *m,
                        struct Io__Prometheus__Write__V2__BucketSpan *sm,
                        struct Io__Prometheus__Write__V2__BucketSpan **sp);

/* ---- which series a native histogram replaces ---- */

/* Walks a snapshot's series in order (indexes never decreasing) and tells, for each, whether it
 * belongs to a histogram that has a native form: its label group (the _bucket, _sum, _count and
 * _created series with the _count's labels, le aside) is sent as that one native histogram, in
 * the place of its _count series. No memory beyond this struct. */
struct hk_rw_nhist_cursor {
    const struct hk_snapshot *snap;
    size_t k;      /* next candidate in snap->nhists */
    size_t lo, hi; /* series of nhists[k]'s group: [lo, hi] (valid when k < nnhists) */
};

void hk_rw_nhist_cursor_init(struct hk_rw_nhist_cursor *c, const struct hk_snapshot *snap);
/* NULL: series i is not part of a native histogram (send it as it is). Otherwise its native
 * histogram; *ret_count is true when i is the _count series (send the histogram there) and
 * false for the group's other series (send nothing). */
const struct hk_nhist *hk_rw_nhist_cursor_at(struct hk_rw_nhist_cursor *c, size_t i,
                                             bool *ret_count);

#endif
