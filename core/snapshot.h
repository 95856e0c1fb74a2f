/* SPDX-License-Identifier: Apache-2.0 */
/* The data model: metric descriptors, a builder that collectors emit into during one collection
 * cycle, the sealed immutable snapshot, and the registry that publishes it to readers.
 *
 * Life of a cycle: hk_builder_new → for each collector hk_builder_begin, emit…, then
 * hk_builder_commit (keep) or hk_builder_abort (drop that collector's partial output) →
 * hk_builder_seal → hk_registry_publish. Readers (HTTP threads, remote-write) call
 * hk_registry_acquire and hk_snapshot_unref; the last reference frees the snapshot. */
#ifndef HK_SNAPSHOT_H
#define HK_SNAPSHOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/labels.h"

enum hk_metric_type {
    HK_METRIC_UNTYPED,
    HK_METRIC_COUNTER,
    HK_METRIC_GAUGE,
    HK_METRIC_HISTOGRAM,
    HK_METRIC_SUMMARY,
    HK_METRIC_INFO,
};

const char *hk_metric_type_name(enum hk_metric_type type); /* "counter", … ("untyped") */

/* A metric family as collectors declare it, normally in a static table. */
struct hk_metric_desc {
    const char *name; /* family name; counters end in _total */
    const char *help;
    enum hk_metric_type type;
    const char *unit;               /* "seconds", "bytes", or "" */
    const char *const *label_names; /* NULL-terminated; label values are passed in this order */
};

/* Bit pattern of the Prometheus staleness marker. Compare bits, never floats. */
#define HK_STALE_NAN_BITS 0x7ff0000000000002ULL

struct hk_limits {
    uint32_t max_series;             /* per collector per cycle; 0 = unlimited */
    uint32_t max_labels;             /* per series; 0 = unlimited */
    uint32_t max_label_value_length; /* bytes; longer values are cut on a UTF-8 edge */
};

/* ---- sealed snapshot (immutable; fields are read-only to everyone but core) ---- */

struct hk_series {
    const char *name; /* series name: family name, or with _bucket/_sum/_count/_created */
    const struct hk_label *labels;
    uint32_t nlabels;
    uint32_t family; /* index into hk_snapshot.families */
    double value;
    int64_t ts_ms;   /* explicit sample timestamp, 0 = none (use the snapshot's) */
    uint64_t hash;   /* hk_series_hash(name, labels) */
};

/* Which scrape target a family stands in for, for the per-target endpoints (/metrics/node,
 * /metrics/cadvisor) and the remote-write target labels (job/instance, the kube-prometheus
 * profile). */
enum hk_target {
    HK_TARGET_SELF = 0, /* hakari_*, process_* and anything else of hakari's own */
    HK_TARGET_NODE,     /* node_exporter's part: node_* and every textfile family */
    HK_TARGET_CADVISOR, /* cAdvisor's part: container_*, machine_* */
};
#define HK_TARGET_COUNT 3

/* The target of a family by its name and the collector (builder section) that emitted it. */
enum hk_target hk_target_of(const char *family_name, const char *collector);

struct hk_family {
    const char *name;
    const char *help;
    const char *unit;
    enum hk_metric_type type;
    uint32_t first; /* series[first .. first+count) belong to this family */
    uint32_t count;
    uint8_t target; /* enum hk_target, set by the builder from the emitting collector */
};

/* A native histogram (the native fields of io.prometheus.client's Histogram message, and of
 * remote-write's Histogram with integer counts): exponential buckets with boundaries
 * 2^(i / 2^schema), bucket i holding values v with 2^((i-1) / 2^schema) < v ≤ 2^(i / 2^schema);
 * values with |v| ≤ zero_threshold count in the zero bucket. Only positive buckets exist here
 * (latencies). Immutable, in the snapshot's arena. */
struct hk_nhist_span {
    int32_t offset;  /* first span: index of its first bucket; later ones: gap after the previous */
    uint32_t length; /* consecutive buckets */
};

struct hk_nhist {
    uint32_t series; /* index in hk_snapshot.series of the histogram's _count series: its labels
                      * (without le) and family are the histogram's */
    int8_t schema;   /* -4 … 8 */
    double zero_threshold;
    uint64_t zero_count;
    uint64_t count; /* zero_count + every bucket's count (= the _count series' value) */
    double sum;     /* = the _sum series' value */
    uint32_t nspans;
    const struct hk_nhist_span *spans; /* NULL when nspans is 0 */
    uint32_t ndeltas;                  /* = sum of the spans' lengths */
    const int64_t *deltas; /* first bucket's count, then each bucket's count minus the previous
                            * bucket's (in span order; buckets in gaps are empty). NULL if 0 */
};

#define HK_SNAPSHOT_SLOTS 14

/* Per-snapshot cached artefacts owned by readers (rendered bodies …), freed with the snapshot. */
struct hk_snapshot_slot {
    _Atomic(void *) ptr;
    void (*free_fn)(void *);
};

struct hk_snapshot {
    atomic_uint refs;
    struct hk_arena *arena;
    const struct hk_family *families; /* sorted by name */
    size_t nfamilies;
    const struct hk_series *series; /* grouped by family; within one, by label group */
    size_t nseries;
    int64_t ts_ms; /* collection time (wall clock, ms since the epoch) */
    uint64_t seq;  /* 1, 2, … per registry */
    uint64_t duplicates_dropped;
    /* Native histograms, ordered by .series (so grouped by family, in series order). Each
     * family of type histogram may mix native histograms with classic-only ones. */
    const struct hk_nhist *nhists;
    size_t nnhists;
    struct hk_snapshot_slot slots[HK_SNAPSHOT_SLOTS];
    /* The builder's series array, which became `series` at the seal (compacted in place);
     * freed with the snapshot (hk_big_free with the bytes it was asked for). NULL: series lives
     * in the arena. */
    void *series_block;
    size_t series_block_bytes;
};

enum hk_snapshot_slot_id {
    HK_SLOT_TEXT = 0,        /* exporter: rendered text 0.0.4 */
    HK_SLOT_OPENMETRICS = 1, /* exporter: rendered OpenMetrics */
    HK_SLOT_SPARE1 = 2,
    HK_SLOT_SPARE2 = 3,
    /* exporter: the per-target endpoints' bodies, text and OpenMetrics each */
    HK_SLOT_NODE_TEXT = 4,
    HK_SLOT_NODE_OPENMETRICS = 5,
    HK_SLOT_CADVISOR_TEXT = 6,
    HK_SLOT_CADVISOR_OPENMETRICS = 7,
    HK_SLOT_SELF_TEXT = 8,
    HK_SLOT_SELF_OPENMETRICS = 9,
    /* exporter: the delimited protobuf bodies of /metrics and its three parts */
    HK_SLOT_PROTOBUF = 10,
    HK_SLOT_NODE_PROTOBUF = 11,
    HK_SLOT_CADVISOR_PROTOBUF = 12,
    HK_SLOT_SELF_PROTOBUF = 13,
};

struct hk_snapshot *hk_snapshot_ref(struct hk_snapshot *snap);
void hk_snapshot_unref(struct hk_snapshot *snap);
/* Sets a slot once; returns the winner (ours, or one set concurrently, in which case ours is
 * freed with free_fn). */
void *hk_snapshot_slot_set(struct hk_snapshot *snap, enum hk_snapshot_slot_id id, void *ptr,
                           void (*free_fn)(void *));
void *hk_snapshot_slot_get(const struct hk_snapshot *snap, enum hk_snapshot_slot_id id);
/* Binary search by family name; NULL if absent. */
const struct hk_family *hk_snapshot_find_family(const struct hk_snapshot *snap, const char *name);

/* The native histograms of family f: a run of snap->nhists (*ret_n of them, in series order);
 * NULL and 0 when it has none. */
const struct hk_nhist *hk_snapshot_family_nhists(const struct hk_snapshot *snap,
                                                 const struct hk_family *f, size_t *ret_n);
/* The native histogram whose _count series is snap->series[series_index], or NULL. */
const struct hk_nhist *hk_snapshot_nhist_of(const struct hk_snapshot *snap, size_t series_index);

/* ---- builder ---- */

struct hk_builder;

struct hk_builder *hk_builder_new(const struct hk_limits *limits);
void hk_builder_free(struct hk_builder *b); /* only for a builder that was not sealed */

/* Expected size of a cycle, normally the previous cycle's hk_seal_stats: the builder sizes its
 * tables once instead of doubling and rehashing its way up (each step copies everything and
 * touches fresh pages). Only a hint; a larger cycle still grows. */
struct hk_builder_hint {
    size_t series;
    size_t values; /* distinct interned label values */
    size_t sets;   /* distinct interned label arrays */
    size_t arena_bytes;
};
void hk_builder_reserve(struct hk_builder *b, const struct hk_builder_hint *hint);

/* Starts a collector's section. Series beyond limits.max_series in this section are dropped and
 * counted (hk_builder_section_dropped). */
void hk_builder_begin(struct hk_builder *b, const char *collector);
void hk_builder_commit(struct hk_builder *b);
void hk_builder_abort(struct hk_builder *b);
/* Series dropped in the current section by the series cap. */
uint64_t hk_builder_section_dropped(const struct hk_builder *b);
/* Series emitted in the current section. */
uint64_t hk_builder_section_series(const struct hk_builder *b);

/* Emits one series of a family. values[i] is the value of desc->label_names[i] (NULL = "").
 * Returns 0, -ENOMEM, -EINVAL (bad name), -E2BIG (dropped by a cap, counted). */
int hk_emit(struct hk_builder *b, const struct hk_metric_desc *desc, const char *const *values,
            double value);
/* Same with an explicit timestamp (ms). */
int hk_emit_ts(struct hk_builder *b, const struct hk_metric_desc *desc, const char *const *values,
               double value, int64_t ts_ms);
/* Emits a classic histogram: one _bucket per bound (cumulative counts) plus le="+Inf" = count,
 * _sum and _count. bounds ascending. */
int hk_emit_histogram(struct hk_builder *b, const struct hk_metric_desc *desc,
                      const char *const *values, const double *bounds,
                      const uint64_t *cumulative, size_t nbounds, double sum, uint64_t count);

/* Input of hk_emit_native_histogram: absolute counts of consecutive native buckets. */
struct hk_nhist_in {
    int8_t schema;          /* 0 … 8 (classic bounds 2^k need a schema ≥ 0) */
    double zero_threshold;  /* ≥ 0, ≤ 2^classic_lo */
    uint64_t zero_count;    /* values ≤ zero_threshold */
    int32_t first_index;    /* native bucket index of counts[0] */
    const uint64_t *counts; /* counts[k]: values in bucket first_index + k */
    size_t ncounts;
    double sum;
    /* The classic buckets emitted alongside: le = 2^k for k = classic_lo … classic_hi (each an
     * exact boundary of the native buckets), then +Inf. */
    int32_t classic_lo, classic_hi;
};

/* Emits a histogram both ways: the classic series (one _bucket per 2^k bound and +Inf, _sum,
 * _count; cumulative counts summed from the native buckets) and, attached to its _count series,
 * the native histogram (spans and deltas built here, in the arena). desc->type must be
 * HK_METRIC_HISTOGRAM. Returns 0, -ENOMEM, -EINVAL (bad input), -E2BIG (dropped by a cap). */
int hk_emit_native_histogram(struct hk_builder *b, const struct hk_metric_desc *desc,
                             const char *const *values, const struct hk_nhist_in *in);

/* Encodes absolute bucket counts as spans and deltas, the way client_golang does (gaps of one or
 * two empty buckets are filled with zero deltas rather than starting a new span). spans and
 * deltas need room for ncounts entries each (at most that many are written). Empty buckets at
 * either end are skipped. Sets *ret_nspans and *ret_ndeltas. */
void hk_nhist_encode(int32_t first_index, const uint64_t *counts, size_t ncounts,
                     struct hk_nhist_span *spans, uint32_t *ret_nspans, int64_t *deltas,
                     uint32_t *ret_ndeltas);

/* General form for dynamic families (textfile): family by name, series name (NULL = family name),
 * labels in any order (sorted and validated here; duplicates → -EINVAL). */
struct hk_family_spec {
    const char *name;
    const char *help;
    enum hk_metric_type type;
    const char *unit;
};
int hk_emit_labels(struct hk_builder *b, const struct hk_family_spec *family,
                   const char *series_name, const struct hk_label *labels, size_t nlabels,
                   double value, int64_t ts_ms);
/* Replaces the help of a family created in the current section (textfile: a family's help is
 * only known once every file was read). help is copied whole (invalid UTF-8 repaired, no length
 * cap). Returns 0, -ENOENT (no such family, or
 * one another section created: its help stays), -ENOMEM. */
int hk_builder_set_help(struct hk_builder *b, const char *family, const char *help);

/* The collector (builder section) that created family `name` in this cycle, "" when created
 * outside a section, NULL when no such family exists yet. */
const char *hk_builder_family_collector(const struct hk_builder *b, const char *name);

struct hk_seal_stats {
    uint64_t series;
    uint64_t duplicates; /* same name + labels emitted twice: later ones dropped */
    size_t arena_bytes;
    struct hk_builder_hint hint; /* for the next cycle's hk_builder_reserve */
};

/* Sorts, drops duplicates and freezes. The builder is consumed (even on failure: NULL, -ENOMEM
 * in *ret_err). */
struct hk_snapshot *hk_builder_seal(struct hk_builder *b, int64_t ts_ms,
                                    struct hk_seal_stats *ret_stats);

/* ---- registry: the latest published snapshot ---- */

struct hk_registry;

struct hk_registry *hk_registry_new(void);
void hk_registry_free(struct hk_registry *reg);
/* Publishes snap (takes the caller's reference) and releases the previous one. Assigns seq. */
void hk_registry_publish(struct hk_registry *reg, struct hk_snapshot *snap);
/* A new reference to the latest snapshot, or NULL before the first publish. Lock-free. */
struct hk_snapshot *hk_registry_acquire(struct hk_registry *reg);

typedef void (*hk_publish_fn)(struct hk_snapshot *snap, void *userdata);
/* Called (on the publishing thread) after each publish with a borrowed reference; a subscriber
 * that keeps the snapshot takes its own reference. At most 8 subscribers. */
int hk_registry_subscribe(struct hk_registry *reg, hk_publish_fn fn, void *userdata);

#endif
