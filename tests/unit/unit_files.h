/* SPDX-License-Identifier: Apache-2.0 */
/* File helpers the unit tests share: write a file under a test root (creating its directories)
 * and read a committed fixture. Include after <cmocka.h>. */
#ifndef HK_UNIT_FILES_H
#define HK_UNIT_FILES_H

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsread.h"

/* Writes content to root/rel, creating missing directories below root. An existing file is
 * rewritten in place (same inode), so collectors that keep files open see the new bytes. */
static inline void hk_test_put(const char *root, const char *rel, const char *content)
{
    char path[512], dir[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    snprintf(dir, sizeof(dir), "%s", path);
    for (char *p = dir + strlen(root) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0755);
            *p = '/';
        }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(content, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* Reads a committed fixture (path relative to the repo root, where the tests run). */
static inline char *hk_test_read_fixture(const char *path, size_t *ret_len)
{
    char *buf = NULL;
    int dirfd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(dirfd >= 0);
    ssize_t n = hk_read_file_alloc(dirfd, path, 1 << 20, &buf);
    close(dirfd);
    assert_true(n >= 0);
    *ret_len = (size_t)n;
    return buf;
}

#endif
