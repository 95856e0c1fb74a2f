/* SPDX-License-Identifier: Apache-2.0 */
/* The durable remote-write queue (see rw_queue.h). Files under dir:
 *   <16 hex digits>.seg  records; the name is the global position of the segment's first byte
 *   savepoint            two slots, at offsets 0 and SP_SLOT1, each "HKSP", u64 committed
 *                        position, u32 CRC32C of the previous 12 bytes (older hakari wrote the
 *                        first slot alone: a 16-byte file)
 * Record header (24 bytes, little endian): u32 magic "HKQ1", u32 length, u32 nsamples,
 * i64 oldest_ms, u32 CRC32C over bytes 4..20 of the header and the payload. */
#include "exporter/rw_queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/log.h"

#define HDR 24
#define MAGIC 0x32514b48u    /* "HKQ2": written; payload = a ready request (rw_encode.h) */
#define MAGIC_V1 0x31514b48u /* "HKQ1": read only (HKR1 payloads of older versions) */
#define MAGIC_OK(m) ((m) == MAGIC || (m) == MAGIC_V1)
#define MAX_RECORD (64u << 20)
#define MAX_SEGMENTS 100000
#define SP_SLOT 16     /* bytes of a savepoint slot */
#define SP_SLOT1 4096u /* the second slot: another file system block than the first */

struct seg {
    uint64_t start;
    uint64_t size;
};

struct hk_rw_queue {
    int dirfd;
    int wfd; /* last segment, open for append */
    struct seg *segs;
    size_t nsegs, capsegs;
    uint64_t committed; /* savepoint position */
    uint64_t saved;     /* what the savepoint file holds */
    int spfd;           /* the savepoint file, open for writing its slots in place; -1: none */
    unsigned sp_next;   /* the slot to write next (the other holds the last savepoint) */
    uint64_t read_hint; /* furthest position handed out by read */
    uint64_t max_disk_bytes, segment_bytes;
    bool fsync_each, dirty;
    int rfd; /* cached reader fd */
    uint64_t rfd_start;
    struct hk_rw_queue_stats st;
};

/* ---- CRC32C (Castagnoli), table driven ---- */

static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        crc_table[i] = c;
    }
}

#if defined(__x86_64__)
/* SSE4.2 has a CRC32C instruction; used when the CPU has it (checked once at run time). */
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = ~crc;
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return ~c32;
}
#define HK_CRC_HW 1
static bool hw_present(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
}
#elif defined(__aarch64__)
/* ARMv8's optional CRC32 extension (on every arm64 server core) has CRC32C instructions;
 * the kernel reports it in AT_HWCAP. */
#include <arm_acle.h>
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
__attribute__((target("+crc"))) static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t len)
{
    uint32_t c = ~crc;
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __crc32cd(c, v);
        p += 8;
        len -= 8;
    }
    while (len--)
        c = __crc32cb(c, *p++);
    return ~c;
}
#define HK_CRC_HW 1
static bool hw_present(void)
{
    return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
}
#endif

#ifdef HK_CRC_HW
static bool use_hw;
#endif

static void crc_setup(void)
{
    crc_init();
#ifdef HK_CRC_HW
    use_hw = hw_present();
#endif
}

uint32_t hk_crc32c(uint32_t crc, const void *data, size_t len)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, crc_setup);
    const uint8_t *p = data;
#ifdef HK_CRC_HW
    if (use_hw)
        return crc_hw(crc, p, len);
#endif
    crc = ~crc;
    while (len--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* Exposed for the unit test: the table version, whatever the CPU. */
uint32_t hk_crc32c_sw(uint32_t crc, const void *data, size_t len)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, crc_init);
    const uint8_t *p = data;
    crc = ~crc;
    while (len--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- helpers ---- */

static int full_pread(int fd, void *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return -ENODATA;
        done += (size_t)r;
    }
    return 0;
}

static void seg_name(char *buf, size_t len, uint64_t start)
{
    snprintf(buf, len, "%016" PRIx64 ".seg", start);
}

static int open_seg(struct hk_rw_queue *q, uint64_t start, int flags)
{
    char name[32];
    seg_name(name, sizeof(name), start);
    int fd = openat(q->dirfd, name, flags | O_CLOEXEC, 0600);
    return fd < 0 ? -errno : fd;
}

static uint32_t record_crc(const uint8_t *hdr, const void *payload, uint32_t len)
{
    return hk_crc32c(hk_crc32c(0, hdr + 4, 16), payload, len);
}

static void parse_hdr(const uint8_t *h, uint32_t *magic, uint32_t *len, uint32_t *ns, int64_t *ts,
                      uint32_t *crc)
{
    memcpy(magic, h, 4);
    memcpy(len, h + 4, 4);
    memcpy(ns, h + 8, 4);
    memcpy(ts, h + 12, 8);
    memcpy(crc, h + 20, 4);
}

/* Validates the record at off of a segment (fd, size). Fills payload when given. */
static int check_record(int fd, uint64_t size, uint64_t off, struct hk_buf *payload,
                        struct hk_rw_qrec *rec)
{
    uint8_t h[HDR];
    uint32_t magic, len, ns, crc;
    int64_t ts;
    if (off + HDR > size)
        return -EBADMSG;
    int r = full_pread(fd, h, HDR, off);
    if (r < 0)
        return r == -ENODATA ? -EBADMSG : r;
    parse_hdr(h, &magic, &len, &ns, &ts, &crc);
    if (!MAGIC_OK(magic) || len > MAX_RECORD || off + HDR + len > size)
        return -EBADMSG;
    struct hk_buf local = {0};
    struct hk_buf *b = payload ? payload : &local;
    if (!payload)
        hk_buf_init(&local, MAX_RECORD + 1);
    hk_buf_reset(b);
    if ((r = hk_buf_reserve(b, len)) < 0)
        goto out;
    if ((r = full_pread(fd, b->data, len, off + HDR)) < 0) {
        r = r == -ENODATA ? -EBADMSG : r;
        goto out;
    }
    b->len = len;
    if (record_crc(h, b->data, len) != crc) {
        r = -EBADMSG;
        goto out;
    }
    if (rec) {
        rec->nsamples = ns;
        rec->oldest_ms = ts;
        rec->next = off + HDR + len;
        rec->format = magic == MAGIC ? 2 : 1;
    }
    r = 0;
out:
    if (!payload)
        hk_buf_free(&local);
    return r;
}

/* After a bad record at off, the offset of the next valid record in the segment, or size. */
static uint64_t resync(int fd, uint64_t size, uint64_t off)
{
    uint8_t buf[4096];
    for (uint64_t p = off + 1; p + HDR <= size;) {
        size_t want = size - p < sizeof(buf) ? (size_t)(size - p) : sizeof(buf);
        if (full_pread(fd, buf, want, p) < 0)
            return size;
        for (size_t i = 0; i + 4 <= want; i++) {
            uint32_t m;
            memcpy(&m, buf + i, 4);
            if (MAGIC_OK(m) && check_record(fd, size, p + i, NULL, NULL) == 0)
                return p + i;
        }
        p += want > 3 ? want - 3 : 1;
    }
    return size;
}

/* ---- savepoint ---- */

static void savepoint_slot(const struct hk_rw_queue *q, uint8_t b[SP_SLOT])
{
    /* a 4-byte magic, not a string */
    memcpy(b, "HKSP", 4); /* NOLINT(bugprone-not-null-terminated-result) */
    memcpy(b + 4, &q->committed, 8);
    uint32_t crc = hk_crc32c(0, b, 12);
    memcpy(b + 12, &crc, 4);
}

/* A new savepoint file, both slots holding the committed position, put in place atomically
 * (temp file, fsync, rename, directory fsync) and kept open for the in-place writes. Once per
 * queue open, and again only after a failed in-place write. */
static int create_savepoint(struct hk_rw_queue *q)
{
    uint8_t b[SP_SLOT1 + SP_SLOT] = {0};
    savepoint_slot(q, b);
    memcpy(b + SP_SLOT1, b, SP_SLOT);
    if (q->spfd >= 0) {
        close(q->spfd);
        q->spfd = -1;
    }
    int r, fd = openat(q->dirfd, "savepoint.tmp", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    if (write(fd, b, sizeof(b)) != (ssize_t)sizeof(b) || fsync(fd) < 0) {
        r = errno ? -errno : -EIO;
        close(fd);
        unlinkat(q->dirfd, "savepoint.tmp", 0);
        return r;
    }
    if (renameat(q->dirfd, "savepoint.tmp", q->dirfd, "savepoint") < 0 || fsync(q->dirfd) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    q->spfd = fd; /* the renamed file */
    q->sp_next = 0;
    q->saved = q->committed;
    return 0;
}

/* The committed position made durable: written over the older of the two slots and
 * fdatasync'ed, so a crash in the middle of the write leaves the other slot (the previous
 * savepoint) intact. Two system calls, no new file: the sender writes one at every round. */
static int write_savepoint(struct hk_rw_queue *q)
{
    if (q->spfd < 0)
        return create_savepoint(q);
    uint8_t b[SP_SLOT];
    savepoint_slot(q, b);
    off_t off = q->sp_next ? SP_SLOT1 : 0;
    if (pwrite(q->spfd, b, sizeof(b), off) != (ssize_t)sizeof(b) || fdatasync(q->spfd) < 0) {
        int r = errno ? -errno : -EIO;
        /* A new file next time: whatever state this one is in, create_savepoint replaces it. */
        close(q->spfd);
        q->spfd = -1;
        return r;
    }
    q->sp_next ^= 1;
    q->saved = q->committed;
    return 0;
}

/* 1 and *ret set (the newer of the valid slots), 0 when missing or corrupt (a corrupt one is
 * reported). A 16-byte file (older hakari) is its first slot alone. */
static int read_savepoint(struct hk_rw_queue *q, uint64_t *ret)
{
    uint8_t b[SP_SLOT1 + SP_SLOT];
    int fd = openat(q->dirfd, "savepoint", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t got = read(fd, b, sizeof(b));
    close(fd);
    int found = 0;
    for (size_t off = 0; off <= SP_SLOT1; off += SP_SLOT1) {
        const uint8_t *sl = b + off;
        uint32_t crc;
        uint64_t pos;
        if (got < (ssize_t)(off + SP_SLOT) || memcmp(sl, "HKSP", 4) != 0)
            continue;
        memcpy(&crc, sl + 12, 4);
        if (crc != hk_crc32c(0, sl, 12))
            continue;
        memcpy(&pos, sl + 4, 8);
        if (!found || pos > *ret)
            *ret = pos;
        found = 1;
    }
    if (!found)
        hk_log_warn("remote-write savepoint is corrupt, resending the whole queue");
    return found;
}

/* ---- segments ---- */

static int seg_cmp(const void *a, const void *b)
{
    const struct seg *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int add_seg(struct hk_rw_queue *q, uint64_t start, uint64_t size)
{
    if (q->nsegs == q->capsegs) {
        size_t nc = q->capsegs ? q->capsegs * 2 : 16;
        if (nc > MAX_SEGMENTS)
            return -E2BIG;
        struct seg *n = realloc(q->segs, nc * sizeof(*n));
        if (!n)
            return -ENOMEM;
        q->segs = n;
        q->capsegs = nc;
    }
    q->segs[q->nsegs++] = (struct seg){start, size};
    return 0;
}

static void close_reader(struct hk_rw_queue *q)
{
    if (q->rfd >= 0)
        close(q->rfd);
    q->rfd = -1;
}

/* Sum of samples (and count of bad records) in [from, to) of segment i, by headers. */
static uint64_t count_samples(struct hk_rw_queue *q, size_t i, uint64_t from)
{
    struct seg *s = &q->segs[i];
    int fd = open_seg(q, s->start, O_RDONLY);
    uint64_t total = 0;
    if (fd < 0)
        return 0;
    uint64_t off = from > s->start ? from - s->start : 0;
    while (off + HDR <= s->size) {
        uint8_t h[HDR];
        uint32_t magic, len, ns, crc;
        int64_t ts;
        if (full_pread(fd, h, HDR, off) < 0)
            break;
        parse_hdr(h, &magic, &len, &ns, &ts, &crc);
        if (!MAGIC_OK(magic) || len > MAX_RECORD || off + HDR + len > s->size) {
            off = resync(fd, s->size, off);
            continue;
        }
        total += ns;
        off += HDR + len;
    }
    close(fd);
    return total;
}

static void drop_oldest(struct hk_rw_queue *q)
{
    struct seg *s = &q->segs[0];
    uint64_t from = q->committed > q->read_hint ? q->committed : q->read_hint;
    uint64_t lost = 0;
    if (from < s->start + s->size)
        lost = count_samples(q, 0, from);
    char name[32];
    seg_name(name, sizeof(name), s->start);
    if (q->rfd >= 0 && q->rfd_start == s->start)
        close_reader(q);
    unlinkat(q->dirfd, name, 0);
    q->st.dropped_samples += lost;
    q->st.dropped_segments++;
    q->st.pending_samples = q->st.pending_samples > lost ? q->st.pending_samples - lost : 0;
    char lost_s[32];
    snprintf(lost_s, sizeof(lost_s), "%" PRIu64, lost);
    hk_log_warn("remote-write disk budget full, dropped the oldest segment", "segment", name,
                "samples", lost_s);
    memmove(q->segs, q->segs + 1, (q->nsegs - 1) * sizeof(*q->segs));
    q->nsegs--;
    if (q->committed < q->segs[0].start) {
        q->committed = q->segs[0].start;
        write_savepoint(q);
    }
}

static uint64_t total_bytes(const struct hk_rw_queue *q)
{
    uint64_t t = 0;
    for (size_t i = 0; i < q->nsegs; i++)
        t += q->segs[i].size;
    return t;
}

static int new_segment(struct hk_rw_queue *q)
{
    uint64_t start =
        q->nsegs ? q->segs[q->nsegs - 1].start + q->segs[q->nsegs - 1].size : q->committed;
    if (q->wfd >= 0) {
        if (q->dirty && fsync(q->wfd) < 0)
            return -errno;
        close(q->wfd);
        q->wfd = -1;
        q->dirty = false;
    }
    int fd = open_seg(q, start, O_WRONLY | O_CREAT | O_APPEND);
    if (fd < 0)
        return fd;
    int r = add_seg(q, start, 0);
    if (r < 0) {
        close(fd);
        return r;
    }
    if (fsync(q->dirfd) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    q->wfd = fd;
    return 0;
}

/* Cuts the last segment after its last valid record (a crash can leave half a record). */
static int recover_tail(struct hk_rw_queue *q)
{
    struct seg *s = &q->segs[q->nsegs - 1];
    int fd = open_seg(q, s->start, O_RDWR);
    if (fd < 0)
        return fd;
    uint64_t off = 0, good_end = 0;
    struct hk_rw_qrec rec;
    while (off + HDR <= s->size) {
        if (check_record(fd, s->size, off, NULL, &rec) == 0) {
            off = good_end = rec.next;
            continue;
        }
        off = resync(fd, s->size, off);
    }
    if (good_end < s->size) {
        if (ftruncate(fd, (off_t)good_end) < 0 || fsync(fd) < 0) {
            int r = -errno;
            close(fd);
            return r;
        }
        s->size = good_end;
    }
    close(fd);
    return 0;
}

int hk_rw_queue_open(const struct hk_rw_queue_opts *o, struct hk_rw_queue **ret)
{
    struct hk_rw_queue *q = calloc(1, sizeof(*q));
    DIR *d = NULL;
    int r;
    if (!q)
        return -ENOMEM;
    q->dirfd = q->wfd = q->rfd = q->spfd = -1;
    q->max_disk_bytes = o->max_disk_bytes;
    q->segment_bytes = o->segment_bytes ? o->segment_bytes : 8u << 20;
    if (q->max_disk_bytes && q->segment_bytes > q->max_disk_bytes / 4)
        q->segment_bytes = q->max_disk_bytes / 4;
    q->fsync_each = o->fsync_each_append;
    /* mkdir -p */
    char path[4096];
    if (snprintf(path, sizeof(path), "%s", o->dir) >= (int)sizeof(path)) {
        r = -ENAMETOOLONG;
        goto fail;
    }
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
            r = -errno;
            goto fail;
        }
        *p = '/';
    }
    if (mkdir(path, 0700) < 0 && errno != EEXIST) {
        r = -errno;
        goto fail;
    }
    if ((q->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        r = -errno;
        goto fail;
    }
    int dfd = dup(q->dirfd);
    if (dfd < 0 || !(d = fdopendir(dfd))) {
        r = -errno;
        if (dfd >= 0)
            close(dfd);
        goto fail;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t nl = strlen(de->d_name);
        if (nl != 20 || strcmp(de->d_name + 16, ".seg") != 0)
            continue;
        char *end;
        errno = 0;
        uint64_t start = strtoull(de->d_name, &end, 16);
        if (errno || end != de->d_name + 16)
            continue;
        struct stat stb;
        if (fstatat(q->dirfd, de->d_name, &stb, 0) < 0)
            continue;
        if ((r = add_seg(q, start, (uint64_t)stb.st_size)) < 0)
            goto fail;
    }
    closedir(d);
    d = NULL;
    unlinkat(q->dirfd, "savepoint.tmp", 0); /* a crash between write and rename */
    if (q->nsegs)
        qsort(q->segs, q->nsegs, sizeof(*q->segs), seg_cmp);
    uint64_t sp = 0;
    if (!read_savepoint(q, &sp))
        sp = q->nsegs ? q->segs[0].start : 0;
    q->committed = q->saved = sp;
    if (q->nsegs && (r = recover_tail(q)) < 0)
        goto fail;
    /* Segments wholly consumed (and not the last) go. */
    while (q->nsegs > 1 && q->segs[0].start + q->segs[0].size <= q->committed) {
        char name[32];
        seg_name(name, sizeof(name), q->segs[0].start);
        unlinkat(q->dirfd, name, 0);
        memmove(q->segs, q->segs + 1, (q->nsegs - 1) * sizeof(*q->segs));
        q->nsegs--;
    }
    /* A savepoint past the end (segments removed by hand) restarts at the end. */
    if (q->nsegs) {
        struct seg *last = &q->segs[q->nsegs - 1];
        if (q->committed > last->start + last->size)
            q->committed = last->start + last->size;
        if (q->committed < q->segs[0].start)
            q->committed = q->segs[0].start;
        for (size_t i = 0; i < q->nsegs; i++)
            if (q->segs[i].start + q->segs[i].size > q->committed)
                q->st.pending_samples += count_samples(q, i, q->committed);
        if ((q->wfd = open_seg(q, last->start, O_WRONLY | O_APPEND)) < 0) {
            r = q->wfd;
            goto fail;
        }
    }
    /* The savepoint file in the two-slot layout, holding the position reading resumes at (also
     * when it was clamped above, which an older slot must not undo). Failing here (a full
     * disk) is not fatal: the first commit tries again. */
    (void)create_savepoint(q);
    q->read_hint = q->committed;
    *ret = q;
    return 0;
fail:
    if (d)
        closedir(d);
    hk_rw_queue_close(q);
    return r;
}

void hk_rw_queue_close(struct hk_rw_queue *q)
{
    if (!q)
        return;
    if (q->wfd >= 0) {
        if (q->dirty)
            fsync(q->wfd);
        close(q->wfd);
    }
    if (q->dirfd >= 0 && q->committed != q->saved)
        write_savepoint(q);
    close_reader(q);
    if (q->spfd >= 0)
        close(q->spfd);
    if (q->dirfd >= 0)
        close(q->dirfd);
    free(q->segs);
    free(q);
}

static void remove_consumed(struct hk_rw_queue *q, uint64_t upto);

/* Appends one record (header + payload) to the last segment. A short write is cut off again so
 * the segment stays well-formed. Returns 0 or -errno (-ENOSPC for a short write). */
static int write_record(struct hk_rw_queue *q, const uint8_t *h, const struct iovec *parts,
                        int nparts, uint32_t len)
{
    struct iovec iov[1 + HK_RW_QUEUE_MAX_PARTS];
    iov[0] = (struct iovec){(void *)h, HDR};
    for (int i = 0; i < nparts; i++)
        iov[1 + i] = parts[i];
    struct seg *s = &q->segs[q->nsegs - 1];
    ssize_t w = writev(q->wfd, iov, 1 + nparts);
    if (w == (ssize_t)(HDR + len)) {
        s->size += HDR + len;
        return 0;
    }
    int r = w < 0 ? -errno : -ENOSPC;
    if (ftruncate(q->wfd, (off_t)s->size) < 0)
        hk_log_warn("remote-write queue: cannot cut a partial record");
    return r;
}

int hk_rw_queue_append(struct hk_rw_queue *q, const void *payload, uint32_t len, uint32_t nsamples,
                       int64_t oldest_ms)
{
    struct iovec part = {(void *)payload, len};
    return hk_rw_queue_appendv(q, &part, 1, nsamples, oldest_ms);
}

int hk_rw_queue_appendv(struct hk_rw_queue *q, const struct iovec *parts, int nparts,
                        uint32_t nsamples, int64_t oldest_ms)
{
    int r;
    size_t total = 0;
    if (nparts < 1 || nparts > HK_RW_QUEUE_MAX_PARTS)
        return -EINVAL;
    for (int i = 0; i < nparts; i++)
        total += parts[i].iov_len;
    if (total > MAX_RECORD)
        return -E2BIG;
    uint32_t len = (uint32_t)total;
    if (!q->nsegs || q->segs[q->nsegs - 1].size >= q->segment_bytes)
        if ((r = new_segment(q)) < 0)
            return r;
    uint8_t h[HDR];
    uint32_t magic = MAGIC;
    memcpy(h, &magic, 4);
    memcpy(h + 4, &len, 4);
    memcpy(h + 8, &nsamples, 4);
    memcpy(h + 12, &oldest_ms, 8);
    uint32_t crc = hk_crc32c(0, h + 4, 16);
    for (int i = 0; i < nparts; i++)
        crc = hk_crc32c(crc, parts[i].iov_base, parts[i].iov_len);
    memcpy(h + 20, &crc, 4);
    r = write_record(q, h, parts, nparts, len);
    if ((r == -ENOSPC || r == -EDQUOT) && q->segs[q->nsegs - 1].size > 0) {
        /* The file system is full. Space comes back only by removing segments, and the segment
         * being written is never removed: without a disk budget a backlog that filled the disk
         * stays in it after it was delivered, and every later append (also after a restart)
         * fails. So start a new segment: the full one becomes removable once consumed — at once
         * when it already is. Then try once more. */
        if (new_segment(q) == 0) {
            remove_consumed(q, q->committed);
            r = write_record(q, h, parts, nparts, len);
        }
    }
    if (r < 0)
        return r;
    q->st.pending_samples += nsamples;
    q->dirty = true;
    if (q->fsync_each && (r = hk_rw_queue_sync(q)) < 0)
        return r;
    if (q->max_disk_bytes)
        while (q->nsegs > 1 && total_bytes(q) > q->max_disk_bytes)
            drop_oldest(q);
    return 0;
}

int hk_rw_queue_sync(struct hk_rw_queue *q)
{
    if (!q->dirty || q->wfd < 0)
        return 0;
    if (fdatasync(q->wfd) < 0)
        return -errno;
    q->dirty = false;
    return 0;
}

uint64_t hk_rw_queue_committed(const struct hk_rw_queue *q)
{
    return q->committed;
}

int hk_rw_queue_read(struct hk_rw_queue *q, uint64_t *pos, struct hk_buf *payload,
                     struct hk_rw_qrec *rec)
{
    for (;;) {
        if (!q->nsegs)
            return 0;
        if (*pos < q->segs[0].start)
            *pos = q->segs[0].start; /* dropped by the budget (counted there) */
        size_t i = 0;
        while (i + 1 < q->nsegs && q->segs[i + 1].start <= *pos)
            i++;
        struct seg *s = &q->segs[i];
        if (*pos >= s->start + s->size) {
            if (i + 1 >= q->nsegs)
                return 0;
            *pos = q->segs[i + 1].start;
            continue;
        }
        if (q->rfd < 0 || q->rfd_start != s->start) {
            close_reader(q);
            int fd = open_seg(q, s->start, O_RDONLY);
            if (fd < 0)
                return fd;
            q->rfd = fd;
            q->rfd_start = s->start;
        }
        uint64_t off = *pos - s->start;
        int r = check_record(q->rfd, s->size, off, payload, rec);
        if (r == 0) {
            rec->pos = *pos;
            rec->next = s->start + rec->next;
            *pos = rec->next;
            if (*pos > q->read_hint)
                q->read_hint = *pos;
            return 1;
        }
        if (r != -EBADMSG)
            return r;
        q->st.corrupt_records++;
        uint64_t nx = resync(q->rfd, s->size, off);
        char at[32];
        snprintf(at, sizeof(at), "%" PRIu64, *pos);
        hk_log_warn("remote-write queue: skipped a corrupt record", "position", at);
        *pos = s->start + nx;
    }
}

/* Removes consumed segments (never the one being written) that end at or before `upto`. */
static void remove_consumed(struct hk_rw_queue *q, uint64_t upto)
{
    while (q->nsegs > 1 && q->segs[0].start + q->segs[0].size <= upto) {
        char name[32];
        seg_name(name, sizeof(name), q->segs[0].start);
        if (q->rfd >= 0 && q->rfd_start == q->segs[0].start)
            close_reader(q);
        unlinkat(q->dirfd, name, 0);
        memmove(q->segs, q->segs + 1, (q->nsegs - 1) * sizeof(*q->segs));
        q->nsegs--;
    }
}

int hk_rw_queue_commit(struct hk_rw_queue *q, uint64_t pos, uint64_t samples, bool durable)
{
    int r = 0;
    if (pos > q->committed)
        q->committed = pos;
    q->st.pending_samples = q->st.pending_samples > samples ? q->st.pending_samples - samples : 0;
    if (durable && q->committed != q->saved && (r = write_savepoint(q)) < 0) {
        /* A full file system refuses the savepoint too, and only removing consumed segments can
         * free space: remove those the receiver acknowledged (everything before `committed`),
         * then try once more. Safe across a crash: a savepoint older than the first remaining
         * segment resumes at that segment on open, and what was removed had been delivered. */
        remove_consumed(q, q->committed);
        r = write_savepoint(q);
        if (r < 0)
            return r;
    }
    /* Normally segments go only after the savepoint that makes them unnecessary is on disk. */
    remove_consumed(q, q->saved);
    return r;
}

void hk_rw_queue_get_stats(const struct hk_rw_queue *q, struct hk_rw_queue_stats *ret)
{
    *ret = q->st;
    ret->disk_bytes = total_bytes(q);
    ret->segments = q->nsegs;
    uint64_t end = q->nsegs ? q->segs[q->nsegs - 1].start + q->segs[q->nsegs - 1].size : 0;
    ret->pending_bytes = end > q->committed ? end - q->committed : 0;
}
