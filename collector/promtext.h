/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus text exposition format 0.0.4 parser (the rules of the Go expfmt text parser that
 * node_exporter and Prometheus use), in two steps so that a caller can reject a whole input before
 * emitting any of it: hk_promtext_parse validates every line and records where each sample is;
 * hk_promtext_sample then decodes one recorded sample (unescaped, NUL-terminated) on demand.
 * No allocation per sample: buffers are reused between inputs; every size is capped. */
#ifndef HK_PROMTEXT_H
#define HK_PROMTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/labels.h"
#include "core/snapshot.h"

#define HK_PROMTEXT_DEFAULT_MAX_LINE (64 * 1024)

struct hk_promtext_family {
    const char *name; /* NUL-terminated, owned by the parser */
    const char *help; /* unescaped, NUL-terminated; NULL when the input had no HELP line */
    enum hk_metric_type type;
    uint32_t nsamples;
};

/* One decoded sample; pointers stay valid until the next hk_promtext_sample/parse call. */
struct hk_promtext_sample {
    const char *name; /* series name (family name, or with _bucket/_sum/_count) */
    uint32_t family;  /* index into hk_promtext_family */
    const struct hk_label *labels; /* in input order; empty values are kept */
    size_t nlabels;
    double value;
    bool has_timestamp;
    int64_t timestamp_ms;
};

struct hk_promtext_rec; /* private: per-sample record */
struct hk_promtext_fam; /* private: family while parsing */
struct hk_promtext_lname; /* private: label name seen on the current line */

struct hk_promtext {
    /* limits (set by hk_promtext_init; may be changed between inputs) */
    size_t max_line;    /* bytes per line, without the newline */
    size_t max_samples; /* 0 = unlimited; more samples → -E2BIG with the line */
    /* result of the last parse */
    const char *input;
    size_t input_len;
    struct hk_promtext_family *families;
    size_t nfamilies;
    size_t nsamples;
    uint32_t timestamps;    /* samples that carried a timestamp */
    unsigned first_ts_line; /* line of the first of them (0: none) */
    unsigned err_line;      /* 1-based line of the error, 0 when none */
    char err_msg[192];
    /* private */
    struct hk_promtext_fam *fam;
    size_t capfam;
    uint32_t *fam_index; /* open addressing: hash → index + 1 */
    size_t fam_index_cap;
    struct hk_promtext_rec *recs;
    size_t caprecs;
    int64_t *tss; /* the samples' timestamps, in input order (hk_promtext_rec.ts) */
    size_t captss;
    char *pool; /* family names and helps */
    size_t pool_len, pool_cap;
    char *scratch; /* decoded sample strings */
    size_t scratch_cap;
    struct hk_label *labels;
    size_t caplabels;
    struct hk_promtext_lname *lnames;
    size_t caplnames;
};

void hk_promtext_init(struct hk_promtext *p, size_t max_line, size_t max_samples);
void hk_promtext_fini(struct hk_promtext *p);
/* Frees the buffers of the last input when they hold more than max_bytes (the last result is
 * gone afterwards); limits are kept. For callers that parse big inputs rarely. */
void hk_promtext_trim(struct hk_promtext *p, size_t max_bytes);

/* Validates buf[0..len) and records its samples (buf is not modified and must stay unchanged and
 * alive while samples are decoded). An empty input is valid. Returns 0; -EINVAL for a syntax
 * error (err_line, err_msg set); -E2BIG for a line longer than max_line or more than max_samples
 * samples (err_line, err_msg set); -ENOMEM. */
int hk_promtext_parse(struct hk_promtext *p, const char *buf, size_t len);

/* Decodes sample i (0 ≤ i < nsamples) of the last successful parse. Returns 0 or -ENOMEM. */
int hk_promtext_sample(struct hk_promtext *p, size_t i, struct hk_promtext_sample *ret);

/* Parses a sample value as expfmt does: decimal float (no hex, no '_'), or Inf/+Inf/-Inf/NaN in
 * any case ("inf", "infinity" too). Out-of-range values are errors. 0 or -EINVAL. */
int hk_promtext_parse_value(const char *s, size_t len, double *ret);

#endif
