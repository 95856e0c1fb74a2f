/* SPDX-License-Identifier: Apache-2.0 */
/* The sending side of one remote-write endpoint: reads the durable queue in rounds (records of one
 * snapshot, dealt out to the shards, one request in flight per shard), POSTs each stored request
 * as it is with libcurl (multi interface, one thread), decoding and re-encoding one only when it
 * must change (413 split, 2.0 → 1.0 fallback, sample_age_limit, old queue format), retries
 * with capped exponential backoff + full jitter, splits on 413, falls back from 2.0 to 1.0, and
 * commits the queue's savepoint when a round is done. Also holds authentication (basic, bearer,
 * OAuth2 client credentials, SigV4, TLS/mTLS). */
#ifndef HK_RW_SEND_H
#define HK_RW_SEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "exporter/rw_config.h"
#include "exporter/rw_http.h"
#include "exporter/rw_queue.h"

#define HK_RW_DURATION_BUCKETS 12

enum hk_rw_drop_reason {
    HK_RW_DROP_TOO_OLD,
    HK_RW_DROP_DISK_FULL,
    HK_RW_DROP_CORRUPT,
    HK_RW_DROP_RELABEL,
    HK_RW_DROP_OVERLOAD, /* snapshot mailbox full */
    HK_RW_DROP_N,
};

/* Counters read by the self-metrics provider on the scheduler thread. */
struct hk_rw_stats {
    atomic_uint_fast64_t samples_total; /* offered to the queue (appended or refused) */
    atomic_uint_fast64_t samples_sent;
    atomic_uint_fast64_t samples_failed; /* non-recoverable answers */
    atomic_uint_fast64_t samples_retried;
    atomic_uint_fast64_t samples_dropped[HK_RW_DROP_N];
    /* disk_full has two sources: the queue's budget (the sender mirrors the queue's own count into
     * samples_dropped[DISK_FULL]) and appends refused by the file system (ENOSPC …), counted here
     * by the pipeline; the metric reports their sum. */
    atomic_uint_fast64_t samples_unqueued_disk;
    /* Appends refused for any other reason (EACCES, EIO …): reason="queue_error". */
    atomic_uint_fast64_t samples_unqueued_error;
    atomic_uint_fast64_t bytes_sent;
    atomic_uint_fast64_t metadata_sent;
    atomic_uint_fast64_t requests_split;
    atomic_uint_fast64_t fallbacks_v1;
    atomic_uint_fast64_t samples_pending;
    atomic_uint_fast64_t disk_bytes;
    atomic_int_fast64_t oldest_pending_ms;
    atomic_int_fast64_t highest_ts_ms;
    atomic_int_fast64_t highest_sent_ts_ms;
    atomic_uint_fast32_t shards;
    atomic_uint_fast64_t duration_buckets[HK_RW_DURATION_BUCKETS]; /* non-cumulative */
    atomic_uint_fast64_t duration_count;
    atomic_uint_fast64_t duration_sum_us;
};

extern const double hk_rw_duration_bounds[HK_RW_DURATION_BUCKETS];

struct hk_rw_sender;

int hk_rw_sender_new(const struct hk_rw_config *cfg, struct hk_rw_queue *q,
                     struct hk_rw_stats *stats, struct hk_rw_sender **ret);
void hk_rw_sender_free(struct hk_rw_sender *s);
/* The queue received data (starts the batch deadline clock). */
void hk_rw_sender_notify_append(struct hk_rw_sender *s);
/* Runs transfers and rounds for at most max_wait_ms (returns earlier on hk_rw_sender_wakeup).
 * Returns 0 or -errno on a fatal error. */
int hk_rw_sender_poll(struct hk_rw_sender *s, int max_wait_ms);
/* The protocol requests are encoded in now (the configured one until a fallback to 1.0). */
enum hk_rw_proto hk_rw_sender_proto(const struct hk_rw_sender *s);
/* Thread-safe: interrupts a poll. */
void hk_rw_sender_wakeup(struct hk_rw_sender *s);
/* Sends a 1.0 metadata-only request body (already encoded, uncompressed), best effort. */
int hk_rw_sender_send_metadata(struct hk_rw_sender *s, const void *body, size_t len);
/* On stop: finishes the round in progress until deadline_ms (monotonic) and commits. */
void hk_rw_sender_flush(struct hk_rw_sender *s, int64_t deadline_ms);

/* Exposed for tests. */
int64_t hk_rw_backoff_ms(int64_t min_ms, int64_t max_ms, unsigned attempt, uint64_t *rng);
int64_t hk_rw_now_ms(void);  /* monotonic */
int64_t hk_rw_wall_ms(void); /* realtime */

#endif
