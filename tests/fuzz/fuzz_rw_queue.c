/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the durable remote-write queue's reading side (exporter/rw_queue.c): the
 * input becomes a queue directory on tmpfs (segment files and a savepoint file), which is opened
 * (tail recovery, savepoint, pending count) and drained with hk_rw_queue_read, every record also
 * decoded as the sender does. The records read must be exactly those an independent scan finds
 * (a valid record: magic, length inside the segment, CRC32C over header and payload; after a bad
 * one, the next valid record in the segment), in order, with the same number of skips. Then the
 * drained queue is committed, reopened (it must be empty) and must take and return a new record.
 *
 * Input: [flags] [16 savepoint bytes if FL_SAVEPOINT] [u64 LE position of the first segment if
 * FL_BASE, else 0] then segment contents separated by SEP.
 * Flags let the fuzzer reach deep states past the checksums: FL_FIX_SP writes a correct savepoint
 * CRC; FL_FIX_CRC recomputes the CRC of every well-formed record header; FL_GAP leaves a hole in
 * the positions before each further segment (as after segments were removed by hand). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "exporter/rw_encode.h"
#include "exporter/rw_queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FL_SAVEPOINT 0x01
#define FL_FIX_SP 0x02
#define FL_FIX_CRC 0x04
#define FL_GAP 0x08
#define FL_BASE 0x10
#define SEP "HKSEG\n"
#define SEP_LEN 6
#define MAX_SEGS 8
#define HDR 24
#define MAGIC 0x32514b48u    /* "HKQ2" */
#define MAGIC_V1 0x31514b48u /* "HKQ1", still read */
#define MAGIC_OK(m) ((m) == MAGIC || (m) == MAGIC_V1)
#define GAP 4096

static char dir[64];

struct seg {
    uint64_t start;
    uint8_t *data;
    size_t size;
};

struct rec {
    uint64_t pos, next;
    uint32_t nsamples;
    int64_t oldest_ms;
};

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The oracle's notion of a valid record at off of a segment (the format in rw_queue.c's header),
 * with the portable CRC so the reader's hardware CRC is checked as well. */
static bool valid_at(const struct seg *s, size_t off)
{
    if (off + HDR > s->size || !MAGIC_OK(rd32(s->data + off)))
        return false;
    uint32_t len = rd32(s->data + off + 4);
    if (len > (64u << 20) || off + HDR + len > s->size)
        return false;
    uint32_t crc = hk_crc32c_sw(hk_crc32c_sw(0, s->data + off + 4, 16), s->data + off + HDR, len);
    return crc == rd32(s->data + off + 20);
}

/* Scans a segment from off the way the queue is meant to: records in a row, a bad one (or a
 * fragment shorter than a header at the end) skipped to the next valid record. Appends what it
 * finds to recs (if given); returns the end of the last valid record (or off when none) and counts
 * skips. */
static size_t scan(const struct seg *s, size_t off, struct rec *recs, size_t *nrecs,
                   uint64_t *skips)
{
    size_t good_end = off;
    while (off < s->size) {
        if (valid_at(s, off)) {
            size_t next = off + HDR + rd32(s->data + off + 4);
            if (recs) {
                struct rec *r = &recs[(*nrecs)++];
                r->pos = s->start + off;
                r->next = s->start + next;
                r->nsamples = rd32(s->data + off + 8);
                memcpy(&r->oldest_ms, s->data + off + 12, 8);
            }
            off = good_end = next;
            continue;
        }
        if (skips)
            (*skips)++;
        size_t q = off + 1;
        while (q + HDR <= s->size && !valid_at(s, q))
            q++;
        off = q + HDR <= s->size ? q : s->size;
    }
    return good_end;
}

static void fix_crcs(struct seg *s)
{
    size_t off = 0;
    while (off + HDR <= s->size) {
        uint32_t len = rd32(s->data + off + 4);
        if (MAGIC_OK(rd32(s->data + off)) && off + HDR + (uint64_t)len <= s->size) {
            uint32_t crc =
                hk_crc32c_sw(hk_crc32c_sw(0, s->data + off + 4, 16), s->data + off + HDR, len);
            memcpy(s->data + off + 20, &crc, 4);
            off += HDR + len;
        } else {
            off++;
        }
    }
}

static void write_file(const char *name, const void *p, size_t n)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, p, n) != (ssize_t)n)
        abort();
    close(fd);
}

/* Empties the queue directory (what the previous input and the queue itself left). */
static void clear_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    if (!d)
        abort();
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            unlinkat(dirfd(d), de->d_name, 0);
    closedir(d);
}

static void remove_dir(void)
{
    clear_dir();
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    hk_log_setup(HK_LOG_ERROR, HK_LOG_LOGFMT);
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof(dir), "%s/hk-fuzz-rwq.%d", base, (int)getpid());
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        abort();
    atexit(remove_dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 16))
        return 0;
    uint8_t flags = data[0];
    const uint8_t *p = data + 1, *end = data + size;
    uint8_t sp[16];
    size_t splen = 0;
    if (flags & FL_SAVEPOINT) {
        splen = (size_t)(end - p) < sizeof(sp) ? (size_t)(end - p) : sizeof(sp);
        memcpy(sp, p, splen);
        p += splen;
        if ((flags & FL_FIX_SP) && splen == sizeof(sp)) {
            uint32_t crc = hk_crc32c_sw(0, sp, 12);
            memcpy(sp + 12, &crc, 4);
        }
    }
    uint64_t start = 0;
    if ((flags & FL_BASE) && end - p >= 8) {
        memcpy(&start, p, 8);
        start &= (UINT64_C(1) << 40) - 1; /* a terabyte written: far enough */
        p += 8;
    }
    struct seg segs[MAX_SEGS];
    size_t nsegs = 0;
    while (nsegs < MAX_SEGS) {
        const uint8_t *q = p;
        while (q + SEP_LEN <= end && memcmp(q, SEP, SEP_LEN) != 0)
            q++;
        bool last = q + SEP_LEN > end || nsegs + 1 == MAX_SEGS;
        if (last)
            q = end;
        struct seg *s = &segs[nsegs++];
        s->start = start;
        s->size = (size_t)(q - p);
        s->data = malloc(s->size + 1);
        if (!s->data)
            abort();
        memcpy(s->data, p, s->size);
        if (flags & FL_FIX_CRC)
            fix_crcs(s);
        start += s->size + ((flags & FL_GAP) ? GAP : 0);
        if (last)
            break;
        p = q + SEP_LEN;
    }

    /* A fresh directory: files of the previous input removed. */
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        abort();
    clear_dir();
    for (size_t i = 0; i < nsegs; i++) {
        char name[32];
        snprintf(name, sizeof(name), "%016" PRIx64 ".seg", segs[i].start);
        write_file(name, segs[i].data, segs[i].size);
    }
    if (splen)
        write_file("savepoint", sp, splen);

    /* What opening should make of it (rw_queue.h's contract, computed independently). */
    uint64_t committed = segs[0].start;
    uint32_t crc;
    if (splen == 16)
        memcpy(&crc, sp + 12, 4);
    if (splen == 16 && !memcmp(sp, "HKSP", 4) && crc == hk_crc32c_sw(0, sp, 12))
        memcpy(&committed, sp + 4, 8);
    struct seg *lastseg = &segs[nsegs - 1];
    lastseg->size = scan(lastseg, 0, NULL, NULL, NULL); /* a torn tail is cut */
    size_t first = 0;
    while (nsegs - first > 1 && segs[first].start + segs[first].size <= committed)
        first++;
    if (committed > lastseg->start + lastseg->size)
        committed = lastseg->start + lastseg->size;
    if (committed < segs[first].start)
        committed = segs[first].start;
    struct rec *want = calloc(size / HDR + 1, sizeof(*want));
    size_t nwant = 0;
    uint64_t want_skips = 0;
    if (!want)
        abort();
    for (size_t i = first; i < nsegs; i++) {
        struct seg *s = &segs[i];
        if (s->start + s->size <= committed)
            continue;
        scan(s, committed > s->start ? (size_t)(committed - s->start) : 0, want, &nwant,
             &want_skips);
    }

    struct hk_rw_queue_opts o = {.dir = dir};
    struct hk_rw_queue *q = NULL;
    struct hk_buf payload;
    hk_buf_init(&payload, 0);
    if (hk_rw_queue_open(&o, &q) < 0)
        abort();
    if (hk_rw_queue_committed(q) != committed)
        abort();
    uint64_t pos = committed, nsamples = 0;
    size_t got = 0;
    for (;;) {
        struct hk_rw_qrec r;
        int rc = hk_rw_queue_read(q, &pos, &payload, &r);
        if (rc < 0)
            abort();
        if (rc == 0)
            break;
        if (got >= nwant)
            abort(); /* a record the oracle does not know */
        const struct rec *w = &want[got++];
        if (r.pos != w->pos || r.next != w->next || r.nsamples != w->nsamples ||
            r.oldest_ms != w->oldest_ms || pos != r.next || payload.len != r.next - r.pos - HDR)
            abort();
        const struct seg *s = &segs[first];
        while (s + 1 < segs + nsegs && s[1].start <= r.pos)
            s++;
        if (memcmp(payload.data, s->data + (r.pos - s->start) + HDR, payload.len) != 0)
            abort();
        nsamples += r.nsamples;
        struct hk_rw_record dec;
        struct hk_rw_payload_info info;
        if (r.format != (rd32(s->data + (r.pos - s->start)) == MAGIC ? 2u : 1u))
            abort();
        if (r.format == 1 && hk_rw_record_decode(payload.data, payload.len, &dec) == 0)
            hk_rw_record_free(&dec);
        if (r.format == 2 && hk_rw_payload_parse(payload.data, payload.len, &info) == 0 &&
            hk_rw_request_decode(info.proto, payload.data + HK_RW_PAYLOAD_PREFIX,
                                 payload.len - HK_RW_PAYLOAD_PREFIX, &dec) == 0)
            hk_rw_record_free(&dec);
    }
    struct hk_rw_queue_stats st;
    hk_rw_queue_get_stats(q, &st);
    if (got != nwant || st.corrupt_records != want_skips)
        abort();

    /* Drained and committed, the queue reopens empty and works on. */
    if (hk_rw_queue_commit(q, pos, nsamples, true) < 0)
        abort();
    hk_rw_queue_close(q);
    if (hk_rw_queue_open(&o, &q) < 0)
        abort();
    hk_rw_queue_get_stats(q, &st);
    uint64_t at = hk_rw_queue_committed(q);
    struct hk_rw_qrec r;
    if (st.pending_bytes != 0 || hk_rw_queue_read(q, &at, &payload, &r) != 0)
        abort();
    /* Positions near 2^64 (a savepoint with a valid CRC but absurd) are out of scope here. */
    if (at < (UINT64_C(1) << 48)) {
        if (hk_rw_queue_append(q, "fuzz", 4, 1, 42) < 0)
            abort();
        at = hk_rw_queue_committed(q);
        if (hk_rw_queue_read(q, &at, &payload, &r) != 1 || payload.len != 4 ||
            memcmp(payload.data, "fuzz", 4) != 0 || r.nsamples != 1 || r.oldest_ms != 42)
            abort();
        hk_rw_queue_get_stats(q, &st);
        if (st.corrupt_records != 0)
            abort();
    }
    hk_rw_queue_close(q);
    hk_buf_free(&payload);
    free(want);
    clear_dir();
    for (size_t i = 0; i < nsegs; i++)
        free(segs[i].data);
    return 0;
}
