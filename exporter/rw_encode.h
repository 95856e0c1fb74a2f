/* SPDX-License-Identifier: Apache-2.0 */
/* Remote-write encoding: samples → prometheus.WriteRequest (1.0) or io.prometheus.write.v2.Request
 * (2.0, with the per-request symbol table and inline metadata), metadata-only 1.0 requests, snappy
 * block compression, and the queue's own record format (a compact, snappy-compressed list of
 * samples with their label sets and family metadata). Only rw_encode.c and rw_nhist.c see
 * protobuf-c code. */
#ifndef HK_RW_ENCODE_H
#define HK_RW_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/labels.h"
#include "core/snapshot.h"
#include "exporter/rw_config.h"
#include "exporter/rw_nhist.h"

struct hk_rw_family {
    const char *name, *help, *unit;
    enum hk_metric_type type;
};

struct hk_rw_sample {
    const struct hk_label *labels; /* sorted by name, includes __name__, no empty values */
    uint32_t nlabels;
    const struct hk_rw_family *family; /* NULL: unknown */
    double value;
    int64_t ts_ms;
    uint64_t hash; /* the series' hash; only format-1 queue records (hk_rw_record_encode) keep it */
    /* strlen of each label's name and value (2 per label) when already known (decoded queue
     * records carry them), else NULL. */
    const uint32_t *lens;
    /* A native histogram (send_native_histograms) instead of value: sent as
     * TimeSeries.histograms; counts as one sample everywhere. NULL: a float sample. */
    const struct hk_nhist *hist;
};

/* Caps of the remote-write buffers (curl's rule: every buffer has one). A queue record holds at
 * most one snapshot chunk; a request at most max_samples_per_send samples of such records; both
 * stay far below these in practice, which only turn a runaway into -E2BIG instead of unbounded
 * memory. Small header/parameter strings built from config values: HK_RW_SMALL_MAX. */
#define HK_RW_RECORD_MAX (256u << 20)
#define HK_RW_BODY_MAX (512u << 20)
#define HK_RW_SMALL_MAX (64u << 10)

/* Plain protobuf bytes (not compressed) appended to out. */
int hk_rw_encode_v1(const struct hk_rw_sample *const *samples, size_t n, struct hk_buf *out);
int hk_rw_encode_v2(const struct hk_rw_sample *const *samples, size_t n, struct hk_buf *out);
/* One 1.0 TimeSeries (a request is a run of them): appended to out, which is unchanged on
 * failure. */
int hk_rw_encode_v1_series(const struct hk_rw_sample *x, struct hk_buf *out);
/* The 1.0 Sample field of a TimeSeries: its payload length, and the field (tag, length sl,
 * value, timestamp) written at p (returns the end). */
size_t hk_rw_v1_sample_len(double value, int64_t ts_ms);
uint8_t *hk_rw_v1_sample_put(uint8_t *p, double value, int64_t ts_ms, size_t sl);
/* A 1.0 request carrying only metadata (field 3). */
int hk_rw_encode_metadata_v1(const struct hk_rw_family *fams, size_t n, struct hk_buf *out);

/* Snappy block format (never the framed format). out is reset first. */
int hk_rw_snappy_compress(const void *in, size_t len, struct hk_buf *out);
/* Fails with -EBADMSG on corrupt input and -E2BIG if the decoded size exceeds max. */
int hk_rw_snappy_uncompress(const void *in, size_t len, size_t max, struct hk_buf *out);

/* ---- queue records ---- */

/* Serialises samples (with the families they point to) and snappy-compresses the result into
 * out (reset first). scratch (reset first; NULL: a temporary one) holds the uncompressed bytes: a
 * caller that encodes record after record keeps its memory instead of faulting in fresh pages
 * for each one. */
int hk_rw_record_encode(const struct hk_rw_sample *samples, size_t n, struct hk_buf *scratch,
                        struct hk_buf *out);

struct hk_rw_record {
    char *data; /* decoded bytes; strings point into it */
    struct hk_rw_family *families;
    size_t nfamilies;
    struct hk_label *labels;
    uint32_t *lens; /* 2 per label: name and value lengths */
    struct hk_rw_sample *samples;
    size_t nsamples;
    void *hist_mem; /* the samples' histograms, their spans and deltas (decoded requests) */
};

/* Decodes a compressed HKR1 record (written by hakari before queue format 2, read to drain an
 * old queue); -EBADMSG if it is malformed. */
int hk_rw_record_decode(const void *in, size_t len, struct hk_rw_record *ret);
void hk_rw_record_free(struct hk_rw_record *rec);

/* ---- queue payloads (queue format 2): a ready request ----
 * A 20-byte prefix (docs/architecture.md, "The remote-write queue on disk") then the
 * snappy-compressed request body, POSTed as it is. */
#define HK_RW_PAYLOAD_PREFIX 20u

struct hk_rw_payload_info {
    enum hk_rw_proto proto; /* of the body */
    uint64_t group;    /* the snapshot the samples come from: one group's series are disjoint */
    int64_t newest_ms; /* newest sample timestamp */
};

void hk_rw_payload_prefix(uint8_t out[HK_RW_PAYLOAD_PREFIX], const struct hk_rw_payload_info *in);
/* -EBADMSG when the payload is too short or names an unknown protocol. */
int hk_rw_payload_parse(const void *data, size_t len, struct hk_rw_payload_info *ret);

/* Decodes a snappy-compressed request hakari encoded (hk_rw_encode_v1/v2, a queue payload's body)
 * back into samples: the sender's slow path (413 split, 2.0 → 1.0 fallback, sample_age_limit).
 * Samples carry label lengths (lens) and, for 2.0, their metadata as families; hash is 0.
 * -EBADMSG if it is malformed. rw_decode.c. */
int hk_rw_request_decode(enum hk_rw_proto proto, const void *in, size_t len,
                         struct hk_rw_record *ret);

#endif
