/* SPDX-License-Identifier: Apache-2.0 */
/* Relabel cache of one remote-write endpoint: the outgoing label set of a series (target and
 * external labels merged, then write_relabel_configs applied) or the fact that the rules drop it,
 * kept from one snapshot to the next so that pcre2 runs only for series that are new.
 *
 * Keyed by the series hash (hk_series.hash) and the target. A hit is verified: the entry points
 * at the series it was last seen with (in the previous or the current snapshot, which the
 * endpoint holds) and the name and labels are compared by content, so two series whose hashes
 * collide each get their own entry and never each other's labels.
 *
 * An entry stores, per outgoing label, where its name and value come from: the series' name or
 * one of its labels, one of the target's added labels (rw_targets.h), or a string a rule made
 * (copied into the entry). The rules' output is a function of the merged input, which is a
 * function of the series' content and target, so rebuilding from the current series gives the
 * same strings.
 *
 * Memory is bounded by the snapshot: hk_rw_lcache_cycle_end evicts every entry whose series was
 * not in the snapshot just taken in. The rules, the targets and the cache live and die with the
 * endpoint (a reload builds new endpoints), so a cached result never outlives the rules that
 * made it. One thread (the endpoint's) uses it. */
#ifndef HK_RW_LCACHE_H
#define HK_RW_LCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/snapshot.h"
#include "exporter/rw_targets.h"

struct hk_rw_lcache;

struct hk_rw_lcache_stats {
    uint64_t hits, misses, evicted;
    size_t entries;
    size_t bytes; /* entries, index and the strings rules made */
};

/* targets must outlive the cache. NULL when out of memory. */
struct hk_rw_lcache *hk_rw_lcache_new(const struct hk_rw_targets *targets);
void hk_rw_lcache_free(struct hk_rw_lcache *c);

/* Brackets one snapshot's ingestion. */
void hk_rw_lcache_cycle_begin(struct hk_rw_lcache *c);
/* Evicts the entries of series not looked up with `present` since cycle_begin. Labels returned
 * by hk_rw_lcache_get stay valid until here. */
void hk_rw_lcache_cycle_end(struct hk_rw_lcache *c);

/* The cached outcome for series s of target t: 1 = kept, labels written to out (room for
 * HK_RW_LCACHE_MAX_OUT labels; strings borrowed from s, the targets or the cache) and their
 * hash to *out_hash; 0 = dropped by the rules; -ENOENT = not cached. present: s belongs to the
 * snapshot being taken in (false for the previous snapshot's series a stale marker is sent for),
 * which keeps its entry at cycle_end. */
int hk_rw_lcache_get(struct hk_rw_lcache *c, const struct hk_series *s, enum hk_target t,
                     bool present, struct hk_label *out, size_t *nout, uint64_t *out_hash);

/* Records the outcome computed for s: out[0..nout) kept (nout 0: dropped) with hash out_hash.
 * out's strings may point anywhere; those that are not s's or the targets' are copied.
 * Returns 0 or -ENOMEM (nothing cached). */
int hk_rw_lcache_put(struct hk_rw_lcache *c, const struct hk_series *s, enum hk_target t,
                     bool present, const struct hk_label *out, size_t nout, uint64_t out_hash);

void hk_rw_lcache_get_stats(const struct hk_rw_lcache *c, struct hk_rw_lcache_stats *st);

/* The most labels an entry holds; a larger outcome is not cached (computed each time). */
#define HK_RW_LCACHE_MAX_OUT 255

#endif
