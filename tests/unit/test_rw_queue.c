/* SPDX-License-Identifier: Apache-2.0 */
/* rw_queue: append/read/commit/reopen, corruption (bad CRC, broken length, truncated tail: only
 * that record is lost), savepoint crash points, the disk budget dropping the oldest segment. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "exporter/rw_queue.h"

static char dir[256];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/hk-rwq-XXXXXX");
    assert_non_null(mkdtemp(dir));
    strcat(dir, "/q");
    return 0;
}

static int teardown(void **state)
{
    char cmd[600];
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct hk_rw_queue *open_q(uint64_t budget, uint64_t seg)
{
    struct hk_rw_queue_opts o = {dir, budget, seg, true};
    struct hk_rw_queue *q = NULL;
    assert_int_equal(hk_rw_queue_open(&o, &q), 0);
    return q;
}

static void append_n(struct hk_rw_queue *q, int from, int to, size_t size)
{
    char *buf = malloc(size);
    assert_non_null(buf);
    for (int i = from; i < to; i++) {
        memset(buf, 'a' + i % 26, size);
        snprintf(buf, size, "record-%d", i);
        assert_int_equal(hk_rw_queue_append(q, buf, (uint32_t)size, (uint32_t)(i + 1), 1000 + i),
                         0);
    }
    free(buf);
}

/* Reads everything from pos; returns the record numbers in ids. */
static int read_all(struct hk_rw_queue *q, uint64_t *pos, int *ids, int max)
{
    struct hk_buf b;
    struct hk_rw_qrec rec;
    int n = 0, r;
    hk_buf_init(&b, 0);
    while ((r = hk_rw_queue_read(q, pos, &b, &rec)) == 1 && n < max) {
        int id = -1;
        assert_int_equal(sscanf(b.data, "record-%d", &id), 1);
        assert_int_equal(rec.nsamples, (uint32_t)(id + 1));
        assert_int_equal(rec.oldest_ms, 1000 + id);
        ids[n++] = id;
    }
    assert_int_equal(r == 1 ? 0 : r, 0);
    hk_buf_free(&b);
    return n;
}

static char *seg_path(uint64_t start)
{
    static char p[400];
    snprintf(p, sizeof(p), "%s/%016llx.seg", dir, (unsigned long long)start);
    return p;
}

static void test_append_read_commit_reopen(void **state)
{
    struct hk_rw_queue *q = open_q(0, 0);
    int ids[16];
    append_n(q, 0, 5, 100);
    uint64_t pos = hk_rw_queue_committed(q);
    assert_int_equal(read_all(q, &pos, ids, 16), 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(ids[i], i);
    /* Commit the first three records only. */
    uint64_t p3 = 0;
    assert_int_equal(read_all(q, &p3, ids, 3), 3);
    p3 = 3 * (24 + 100);
    assert_int_equal(hk_rw_queue_commit(q, p3, 1 + 2 + 3, true), 0);
    struct hk_rw_queue_stats st;
    hk_rw_queue_get_stats(q, &st);
    assert_int_equal(st.pending_samples, 4 + 5);
    hk_rw_queue_close(q);
    q = open_q(0, 0);
    hk_rw_queue_get_stats(q, &st);
    assert_int_equal(st.pending_samples, 4 + 5);
    pos = hk_rw_queue_committed(q);
    assert_int_equal(read_all(q, &pos, ids, 16), 2);
    assert_int_equal(ids[0], 3);
    assert_int_equal(ids[1], 4);
    append_n(q, 5, 6, 100);
    assert_int_equal(read_all(q, &pos, ids, 16), 1);
    assert_int_equal(ids[0], 5);
    hk_rw_queue_close(q);
}

/* Queue format 2 is written (HKQ2, a payload given in parts is stored as one); a format-1 record
 * (HKQ1, as hakari wrote before) already in the segment is still read, validated and reported as
 * format 1, and appends after it work. */
static void test_formats(void **state)
{
    mkdir(dir, 0700);
    uint8_t rec1[24 + 5] = {'H', 'K', 'Q', '1'};
    uint32_t len = 5, ns = 7, crc;
    int64_t ts = 1234;
    memcpy(rec1 + 4, &len, 4);
    memcpy(rec1 + 8, &ns, 4);
    memcpy(rec1 + 12, &ts, 8);
    memcpy(rec1 + 24, "old-1", 5);
    crc = hk_crc32c_sw(hk_crc32c_sw(0, rec1 + 4, 16), rec1 + 24, 5);
    memcpy(rec1 + 20, &crc, 4);
    FILE *f = fopen(seg_path(0), "w");
    assert_non_null(f);
    assert_int_equal(fwrite(rec1, 1, sizeof(rec1), f), sizeof(rec1));
    fclose(f);
    struct hk_rw_queue *q = open_q(0, 0);
    struct hk_rw_queue_stats st;
    hk_rw_queue_get_stats(q, &st);
    assert_int_equal(st.pending_samples, 7);
    struct iovec parts[2] = {{"new-", 4}, {"2", 1}};
    assert_int_equal(hk_rw_queue_appendv(q, parts, 2, 3, 5678), 0);
    assert_int_equal(hk_rw_queue_appendv(q, parts, 0, 3, 5678), -EINVAL);
    struct hk_buf b;
    struct hk_rw_qrec r;
    uint64_t pos = hk_rw_queue_committed(q);
    hk_buf_init(&b, 0);
    assert_int_equal(hk_rw_queue_read(q, &pos, &b, &r), 1);
    assert_int_equal(r.format, 1);
    assert_int_equal(r.nsamples, 7);
    assert_memory_equal(b.data, "old-1", 5);
    assert_int_equal(hk_rw_queue_read(q, &pos, &b, &r), 1);
    assert_int_equal(r.format, 2);
    assert_int_equal(r.nsamples, 3);
    assert_int_equal(r.oldest_ms, 5678);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "new-2", 5);
    assert_int_equal(hk_rw_queue_read(q, &pos, &b, &r), 0);
    hk_buf_free(&b);
    f = fopen(seg_path(0), "r");
    char magic[4];
    assert_int_equal(fseek(f, 29, SEEK_SET), 0);
    assert_int_equal(fread(magic, 1, 4, f), 4);
    fclose(f);
    assert_memory_equal(magic, "HKQ2", 4);
    hk_rw_queue_close(q);
}

static void corrupt_at(uint64_t off, uint8_t x)
{
    int fd = open(seg_path(0), O_RDWR);
    uint8_t b;
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
    b ^= x;
    assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

static void test_bad_crc_skips_one_record(void **state)
{
    struct hk_rw_queue *q = open_q(0, 0);
    append_n(q, 0, 5, 200);
    hk_rw_queue_close(q);
    corrupt_at(2 * 224 + 24 + 50, 0x01); /* payload byte of record 2 */
    q = open_q(0, 0);
    int ids[16];
    uint64_t pos = hk_rw_queue_committed(q);
    assert_int_equal(read_all(q, &pos, ids, 16), 4);
    int want[] = {0, 1, 3, 4};
    for (int i = 0; i < 4; i++)
        assert_int_equal(ids[i], want[i]);
    struct hk_rw_queue_stats st;
    hk_rw_queue_get_stats(q, &st);
    assert_int_equal(st.corrupt_records, 1);
    hk_rw_queue_close(q);
}

static void test_bad_length_skips_one_record(void **state)
{
    struct hk_rw_queue *q = open_q(0, 0);
    append_n(q, 0, 5, 200);
    hk_rw_queue_close(q);
    corrupt_at(1 * 224 + 6, 0x40); /* length field of record 1: now far too long */
    q = open_q(0, 0);
    int ids[16];
    uint64_t pos = hk_rw_queue_committed(q);
    assert_int_equal(read_all(q, &pos, ids, 16), 4);
    int want[] = {0, 2, 3, 4};
    for (int i = 0; i < 4; i++)
        assert_int_equal(ids[i], want[i]);
    hk_rw_queue_close(q);
}

static void test_truncated_tail(void **state)
{
    struct hk_rw_queue *q = open_q(0, 0);
    append_n(q, 0, 4, 200);
    hk_rw_queue_close(q);
    /* A crash in the middle of writing record 3. */
    assert_int_equal(truncate(seg_path(0), 3 * 224 + 100), 0);
    q = open_q(0, 0);
    struct stat sb;
    assert_int_equal(stat(seg_path(0), &sb), 0);
    assert_int_equal(sb.st_size, 3 * 224); /* the half record was cut */
    append_n(q, 10, 11, 200);
    int ids[16];
    uint64_t pos = hk_rw_queue_committed(q);
    assert_int_equal(read_all(q, &pos, ids, 16), 4);
    int want[] = {0, 1, 2, 10};
    for (int i = 0; i < 4; i++)
        assert_int_equal(ids[i], want[i]);
    hk_rw_queue_close(q);
}

static void write_file(const char *name, const void *data, size_t len)
{
    char p[400];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

/* A savepoint slot as the queue writes it. */
static void sp_slot(uint8_t b[16], uint64_t pos)
{
    memcpy(b, "HKSP", 4);
    memcpy(b + 4, &pos, 8);
    uint32_t crc = hk_crc32c(0, b, 12);
    memcpy(b + 12, &crc, 4);
}

/* The positions in the savepoint file's two slots (UINT64_MAX: not valid). */
static void sp_read(uint64_t pos[2])
{
    char p[400];
    uint8_t b[4096 + 16];
    snprintf(p, sizeof(p), "%s/savepoint", dir);
    int fd = open(p, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, b, sizeof(b)), (ssize_t)sizeof(b));
    close(fd);
    for (int k = 0; k < 2; k++) {
        const uint8_t *sl = b + 4096 * k;
        uint32_t crc;
        memcpy(&crc, sl + 12, 4);
        pos[k] = UINT64_MAX;
        if (memcmp(sl, "HKSP", 4) == 0 && crc == hk_crc32c(0, sl, 12))
            memcpy(&pos[k], sl + 4, 8);
    }
}

static void sp_patch(off_t off, const void *data, size_t len)
{
    char p[400];
    snprintf(p, sizeof(p), "%s/savepoint", dir);
    int fd = open(p, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, data, len, off), (ssize_t)len);
    close(fd);
}

static void test_savepoint_crash_points(void **state)
{
    struct hk_rw_queue *q = open_q(0, 0);
    int ids[16];
    append_n(q, 0, 4, 100);
    /* Durable commit: the savepoint file holds the position before anything is closed, in one
     * of its two slots (the other keeps the previous one). */
    assert_int_equal(hk_rw_queue_commit(q, 2 * 124, 3, true), 0);
    char p[400];
    snprintf(p, sizeof(p), "%s/savepoint", dir);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_size, 4096 + 16);
    uint64_t pos2[2];
    sp_read(pos2);
    assert_int_equal(pos2[0], 2 * 124);
    assert_int_equal(pos2[1], 0);
    /* Non-durable commit then a crash (simulated by copying the files before close). */
    assert_int_equal(hk_rw_queue_commit(q, 3 * 124, 3, false), 0);
    char cmd[1000];
    snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s.crash'", dir, dir);
    assert_int_equal(system(cmd), 0);
    hk_rw_queue_close(q);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mv '%s.crash' '%s'", dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    /* Crash between writing the temp file and the rename: a half-written temp file is ignored
     * and the last renamed savepoint counts. */
    write_file("savepoint.tmp", "HKSP\x01", 5);
    q = open_q(0, 0);
    assert_int_equal(hk_rw_queue_committed(q), 2 * 124);
    uint64_t pos = hk_rw_queue_committed(q);
    assert_int_equal(read_all(q, &pos, ids, 16), 2);
    assert_int_equal(ids[0], 2);
    snprintf(p, sizeof(p), "%s/savepoint.tmp", dir);
    assert_int_equal(access(p, F_OK), -1);
    /* Opening rewrote both slots; then the slots alternate, the older one overwritten. */
    sp_read(pos2);
    assert_int_equal(pos2[0], 2 * 124);
    assert_int_equal(pos2[1], 2 * 124);
    assert_int_equal(hk_rw_queue_commit(q, 3 * 124, 1, true), 0);
    assert_int_equal(hk_rw_queue_commit(q, 4 * 124, 1, true), 0);
    sp_read(pos2);
    assert_int_equal(pos2[0], 3 * 124);
    assert_int_equal(pos2[1], 4 * 124);
    hk_rw_queue_close(q);
    /* A crash in the middle of the last slot write (torn: its CRC fails): the other slot, the
     * savepoint before, counts: one more round resent, nothing skipped. */
    sp_patch(4096 + 6, "\xff\xff", 2);
    q = open_q(0, 0);
    assert_int_equal(hk_rw_queue_committed(q), 3 * 124);
    hk_rw_queue_close(q);
    /* A savepoint of an older hakari (one 16-byte slot) is read. */
    uint8_t old[16];
    sp_slot(old, 1 * 124);
    write_file("savepoint", (const char *)old, 16);
    q = open_q(0, 0);
    assert_int_equal(hk_rw_queue_committed(q), 1 * 124);
    hk_rw_queue_close(q);
    /* A savepoint past the end restarts at the end, and that is what both slots say from the
     * open on: the stale larger slot must not come back at the next open (once the queue has
     * grown past it, it would skip records). */
    sp_slot(old, 1000000);
    write_file("savepoint", (const char *)old, 16);
    q = open_q(0, 0);
    assert_int_equal(hk_rw_queue_committed(q), 4 * 124);
    sp_read(pos2);
    assert_int_equal(pos2[0], 4 * 124);
    assert_int_equal(pos2[1], 4 * 124);
    hk_rw_queue_close(q);
    /* A corrupt savepoint (bad CRC in both slots) means resending from the oldest record,
     * never skipping. */
    write_file("savepoint", "HKSP\x7c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 16);
    q = open_q(0, 0);
    assert_int_equal(hk_rw_queue_committed(q), 0);
    pos = 0;
    assert_int_equal(read_all(q, &pos, ids, 16), 4);
    hk_rw_queue_close(q);
    /* No savepoint at all: the same. */
    snprintf(p, sizeof(p), "%s/savepoint", dir);
    unlink(p);
    q = open_q(0, 0);
    assert_int_equal(hk_rw_queue_committed(q), 0);
    hk_rw_queue_close(q);
}

static void test_budget_drops_oldest(void **state)
{
    /* 1 MiB budget with 64 KiB segments; 40 records of 16 KiB each (656 KiB)... then 60 more. */
    struct hk_rw_queue *q = open_q(1 << 20, 64 << 10);
    append_n(q, 0, 100, 16 << 10);
    struct hk_rw_queue_stats st;
    hk_rw_queue_get_stats(q, &st);
    assert_true(st.disk_bytes <= 1 << 20);
    assert_true(st.dropped_segments > 0);
    /* Every record of a dropped segment is counted: 4 records per segment of 64 KiB. */
    uint64_t lost = 0;
    int ids[128];
    uint64_t pos = 0;
    int n = read_all(q, &pos, ids, 128);
    assert_true(n > 0 && n < 100);
    assert_int_equal(ids[n - 1], 99);
    for (int i = 1; i < n; i++)
        assert_int_equal(ids[i], ids[i - 1] + 1); /* what is left is contiguous and in order */
    for (int i = 0; i < ids[0]; i++)
        lost += (uint64_t)(i + 1);
    assert_int_equal(st.dropped_samples, lost);
    hk_rw_queue_close(q);
}

static void test_crc32c(void **state)
{
    /* RFC 3720 test vector: 32 bytes of zeros → 0x8a9136aa; "123456789" → 0xe3069283. */
    uint8_t z[32] = {0};
    assert_int_equal(hk_crc32c(0, z, 32), 0x8a9136aa);
    assert_int_equal(hk_crc32c(0, "123456789", 9), 0xe3069283);
    assert_int_equal(hk_crc32c_sw(0, z, 32), 0x8a9136aa);
    assert_int_equal(hk_crc32c_sw(0, "123456789", 9), 0xe3069283);
    /* Hardware and table versions agree on every length and alignment, and chain. */
    uint8_t buf[300];
    for (int i = 0; i < 300; i++)
        buf[i] = (uint8_t)(i * 31 + 7);
    for (size_t off = 0; off < 9; off++)
        for (size_t len = 0; len + off <= 300; len += 13)
            assert_int_equal(hk_crc32c(0, buf + off, len), hk_crc32c_sw(0, buf + off, len));
    assert_int_equal(hk_crc32c(hk_crc32c(0, buf, 100), buf + 100, 200), hk_crc32c(0, buf, 300));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_read_commit_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_formats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_crc_skips_one_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_length_skips_one_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_savepoint_crash_points, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget_drops_oldest, setup, teardown),
        cmocka_unit_test(test_crc32c),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
