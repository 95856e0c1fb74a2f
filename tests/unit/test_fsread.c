/* SPDX-License-Identifier: Apache-2.0 */
/* Bounded reads relative to root fds: exact fit, oversize, missing files, paths. */
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

#include "core/fsread.h"

static char dir[256];
static int dfd = -1;

static void put(const char *name, size_t len)
{
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    for (size_t i = 0; i < len; i++) {
        char c = (char)('a' + i % 26);
        assert_int_equal(write(fd, &c, 1), 1);
    }
    close(fd);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/hk-fsread-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    mkdirat(dfd, "proc", 0755);
    mkdirat(dfd, "sys", 0755);
    return dfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    const char *files[] = {"empty", "ten", "nine", "eleven", "big", "proc/loadavg"};
    for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++)
        unlinkat(dfd, files[i], 0);
    unlinkat(dfd, "proc", AT_REMOVEDIR);
    unlinkat(dfd, "sys", AT_REMOVEDIR);
    close(dfd);
    rmdir(dir);
    return 0;
}

static void test_read_file_at(void **state)
{
    (void)state;
    char buf[11]; /* holds 10 bytes + NUL */
    put("empty", 0);
    put("nine", 9);
    put("ten", 10);
    put("eleven", 11);
    assert_int_equal(hk_read_file_at(dfd, "empty", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
    assert_int_equal(hk_read_file_at(dfd, "nine", buf, sizeof(buf)), 9);
    assert_string_equal(buf, "abcdefghi");
    /* Exact fit: 10 bytes in an 11-byte buffer. */
    assert_int_equal(hk_read_file_at(dfd, "ten", buf, sizeof(buf)), 10);
    assert_string_equal(buf, "abcdefghij");
    /* One byte too many: -EFBIG, never a silent truncation. */
    assert_int_equal(hk_read_file_at(dfd, "eleven", buf, sizeof(buf)), -EFBIG);
    assert_int_equal(hk_read_file_at(dfd, "missing", buf, sizeof(buf)), -ENOENT);
    assert_int_equal(hk_read_file_at(-1, "ten", buf, sizeof(buf)), -ENOENT);
    assert_int_equal(hk_read_file_at(dfd, "ten", buf, 1), -EINVAL);
    /* A directory is not readable as a file. */
    assert_int_equal(hk_read_file_at(dfd, "proc", buf, sizeof(buf)), -EISDIR);
    /* hk_read_fd re-reads from offset 0 each time (files kept open between cycles). */
    int fd = openat(dfd, "nine", O_RDONLY | O_CLOEXEC);
    assert_int_equal(hk_read_fd(fd, buf, sizeof(buf)), 9);
    assert_int_equal(hk_read_fd(fd, buf, sizeof(buf)), 9);
    close(fd);
}

static void test_read_file_alloc(void **state)
{
    (void)state;
    char *p = NULL;
    put("big", 20000);
    /* Exactly max, at every size around the internal growth steps. */
    size_t sizes[] = {0, 1, 8190, 8191, 8192, 8193, 16382, 16383, 16384, 20000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
        put("ten", sizes[i]);
        p = NULL;
        assert_int_equal(hk_read_file_alloc(dfd, "ten", sizes[i], &p), (ssize_t)sizes[i]);
        assert_non_null(p);
        assert_int_equal(strlen(p), sizes[i]);
        free(p);
        if (sizes[i] > 0) {
            p = NULL;
            assert_int_equal(hk_read_file_alloc(dfd, "ten", sizes[i] - 1, &p), -EFBIG);
            assert_null(p);
        }
    }
    assert_int_equal(hk_read_file_alloc(dfd, "big", 1 << 20, &p), 20000);
    assert_int_equal(p[19999], (char)('a' + 19999 % 26));
    free(p);
    assert_int_equal(hk_read_file_alloc(dfd, "missing", 100, &p), -ENOENT);
    assert_int_equal(hk_read_file_alloc(-1, "big", 100, &p), -ENOENT);
}

static void test_paths(void **state)
{
    (void)state;
    struct hk_paths paths;
    put("proc/loadavg", 5);
    assert_int_equal(hk_paths_open(&paths, dir, NULL, NULL), 0);
    char buf[64];
    /* procfs defaults to <rootfs>/proc and reads are relative to it. */
    assert_int_equal(hk_read_file_at(paths.proc_fd, "loadavg", buf, sizeof(buf)), 5);
    assert_true(paths.sys_fd >= 0);
    hk_paths_close(&paths);
    hk_paths_close(&paths); /* idempotent */
    /* A missing procfs is not an error; reads under it are -ENOENT. */
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/nope", dir);
    assert_int_equal(hk_paths_open(&paths, dir, missing, NULL), 0);
    assert_int_equal(paths.proc_fd, -1);
    assert_int_equal(hk_read_file_at(paths.proc_fd, "loadavg", buf, sizeof(buf)), -ENOENT);
    hk_paths_close(&paths);
    /* A missing rootfs is. */
    assert_int_equal(hk_paths_open(&paths, missing, NULL, NULL), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_file_at),
        cmocka_unit_test(test_read_file_alloc),
        cmocka_unit_test(test_paths),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
