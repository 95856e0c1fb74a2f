/* SPDX-License-Identifier: Apache-2.0 */
/* Durable on-disk queue of remote-write records for one endpoint: append-only segment files
 * (each record: magic, length, sample count, oldest timestamp, CRC32C), read by position, with a
 * savepoint (the committed read position) written to a temp file, fsynced, renamed and the
 * directory fsynced. A corrupt record is skipped alone (the reader resyncs on the next valid
 * record); a disk budget drops the oldest segment and counts what it held. Not thread-safe: one
 * endpoint thread owns it. */
#ifndef HK_RW_QUEUE_H
#define HK_RW_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include <sys/uio.h>

#include "core/buf.h"

struct hk_rw_queue;

struct hk_rw_queue_opts {
    const char *dir;         /* created if missing */
    uint64_t max_disk_bytes; /* 0 = unlimited */
    uint64_t segment_bytes;  /* rotate after this much (0 = 8 MiB, capped by the budget / 4) */
    bool fsync_each_append;  /* false: hk_rw_queue_sync does it */
};

struct hk_rw_queue_stats {
    uint64_t disk_bytes;       /* all segment files */
    uint64_t pending_bytes;    /* from the savepoint to the end */
    uint64_t pending_samples;  /* samples in records not yet committed */
    int64_t oldest_pending_ms; /* oldest timestamp of the first pending record, 0 = none */
    uint64_t dropped_samples;  /* by the disk budget */
    uint64_t dropped_segments;
    uint64_t corrupt_records; /* skipped */
    uint64_t segments;
};

struct hk_rw_qrec {
    uint64_t pos;  /* where the record starts */
    uint64_t next; /* position after it */
    uint32_t nsamples;
    int64_t oldest_ms;
    unsigned format; /* 2: a ready request (rw_encode.h); 1: an HKR1 record of an older version */
};

#define HK_RW_QUEUE_MAX_PARTS 4

int hk_rw_queue_open(const struct hk_rw_queue_opts *opts, struct hk_rw_queue **ret);
/* Flushes the savepoint (if changed) and closes. Accepts NULL. */
void hk_rw_queue_close(struct hk_rw_queue *q);
int hk_rw_queue_append(struct hk_rw_queue *q, const void *payload, uint32_t len, uint32_t nsamples,
                       int64_t oldest_ms);
/* The same, the payload given in parts (written with one writev, checked as one). */
int hk_rw_queue_appendv(struct hk_rw_queue *q, const struct iovec *parts, int nparts,
                        uint32_t nsamples, int64_t oldest_ms);
/* fsyncs the current segment if anything was appended since the last sync. */
int hk_rw_queue_sync(struct hk_rw_queue *q);
/* Position of the savepoint (where reading resumes after a restart). */
uint64_t hk_rw_queue_committed(const struct hk_rw_queue *q);
/* Reads the next valid record at or after *pos into payload. Returns 1 (rec filled, *pos moved
 * past it), 0 (no more data), or -errno. */
int hk_rw_queue_read(struct hk_rw_queue *q, uint64_t *pos, struct hk_buf *payload,
                     struct hk_rw_qrec *rec);
/* Moves the savepoint to pos (samples: how many samples were consumed since the last commit)
 * and deletes segments wholly before it. durable: write and fsync the savepoint file now. */
int hk_rw_queue_commit(struct hk_rw_queue *q, uint64_t pos, uint64_t samples, bool durable);
void hk_rw_queue_get_stats(const struct hk_rw_queue *q, struct hk_rw_queue_stats *ret);

/* CRC32C (Castagnoli); SSE4.2 when available. hk_crc32c_sw: the portable table version. */
uint32_t hk_crc32c(uint32_t crc, const void *data, size_t len);
uint32_t hk_crc32c_sw(uint32_t crc, const void *data, size_t len);

#endif
