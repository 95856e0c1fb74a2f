/* SPDX-License-Identifier: Apache-2.0 */
/* Host path handling and bounded file reads. */
#include "core/fsread.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int open_dir(int at, const char *path)
{
    int fd = openat(at, path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);
    if (!p)
        return NULL;
    memcpy(p, a, la); /* NOLINT(bugprone-not-null-terminated-result): b and its NUL follow */
    size_t o = la;
    if (o == 0 || p[o - 1] != '/')
        p[o++] = '/';
    memcpy(p + o, b, lb + 1);
    return p;
}

int hk_paths_open(struct hk_paths *paths, const char *rootfs, const char *procfs,
                  const char *sysfs)
{
    memset(paths, 0, sizeof(*paths));
    paths->root_fd = paths->proc_fd = paths->sys_fd = -1;
    paths->rootfs = strdup(rootfs ? rootfs : "/");
    paths->procfs = procfs ? strdup(procfs) : join(paths->rootfs ? paths->rootfs : "/", "proc");
    paths->sysfs = sysfs ? strdup(sysfs) : join(paths->rootfs ? paths->rootfs : "/", "sys");
    if (!paths->rootfs || !paths->procfs || !paths->sysfs) {
        hk_paths_close(paths);
        return -ENOMEM;
    }
    int fd = open_dir(AT_FDCWD, paths->rootfs);
    if (fd < 0) {
        hk_paths_close(paths);
        return fd;
    }
    paths->root_fd = fd;
    fd = open_dir(AT_FDCWD, paths->procfs);
    paths->proc_fd = fd < 0 ? -1 : fd;
    fd = open_dir(AT_FDCWD, paths->sysfs);
    paths->sys_fd = fd < 0 ? -1 : fd;
    return 0;
}

void hk_paths_close(struct hk_paths *paths)
{
    if (paths->root_fd >= 0)
        close(paths->root_fd);
    if (paths->proc_fd >= 0)
        close(paths->proc_fd);
    if (paths->sys_fd >= 0)
        close(paths->sys_fd);
    free(paths->rootfs);
    free(paths->procfs);
    free(paths->sysfs);
    memset(paths, 0, sizeof(*paths));
    paths->root_fd = paths->proc_fd = paths->sys_fd = -1;
}

ssize_t hk_read_fd(int fd, char *buf, size_t cap)
{
    if (cap < 2)
        return -EINVAL;
    size_t len = 0, room = cap - 1; /* one byte for the terminator */
    for (;;) {
        ssize_t n = pread(fd, buf + len, room - len, (off_t)len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len == room) {
            /* Full buffer: it fits only if the file ends exactly here. */
            char probe;
            ssize_t m = pread(fd, &probe, 1, (off_t)len);
            if (m != 0)
                return m < 0 ? -errno : -EFBIG;
            break;
        }
    }
    buf[len] = '\0';
    return (ssize_t)len;
}

/* fd (opened O_NONBLOCK, so that opening a FIFO did not block) must be a regular file; it is
 * made blocking again. 0, -EINVAL (not a regular file) or -errno. */
static int regular_blocking(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -EINVAL;
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

/* Opens dirfd/path without blocking (a FIFO would), refusing anything but a regular file. */
static int open_regular_at(int dirfd, const char *path)
{
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    int r = regular_blocking(fd);
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

int hk_open_regular(const char *path)
{
    return open_regular_at(AT_FDCWD, path);
}

ssize_t hk_read_file_at(int dirfd, const char *path, char *buf, size_t cap)
{
    if (dirfd < 0)
        return -ENOENT;
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    ssize_t r = hk_read_fd(fd, buf, cap);
    close(fd);
    return r;
}

static ssize_t read_alloc_fd(int fd, size_t max, char **ret_buf);

ssize_t hk_read_file_alloc(int dirfd, const char *path, size_t max, char **ret_buf)
{
    if (dirfd < 0)
        return -ENOENT;
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    return read_alloc_fd(fd, max, ret_buf);
}

ssize_t hk_read_regular_alloc(int dirfd, const char *path, size_t max, char **ret_buf)
{
    int fd = open_regular_at(dirfd, path);
    if (fd < 0)
        return fd;
    return read_alloc_fd(fd, max, ret_buf);
}

/* Reads fd whole into a malloc'd buffer and closes it. */
static ssize_t read_alloc_fd(int fd, size_t max, char **ret_buf)
{
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    ssize_t r;
    if (!buf) {
        r = -ENOMEM;
        goto out;
    }
    for (;;) {
        if (len + 1 >= cap) {
            /* Room for max bytes, one more to notice a larger file, and the terminator: a file
             * of exactly max bytes fits, one of max + 1 does not. */
            size_t want = max <= SIZE_MAX - 2 ? max + 2 : SIZE_MAX;
            size_t ncap = cap * 2 < want ? cap * 2 : want;
            if (ncap <= cap) {
                r = -EFBIG;
                goto out;
            }
            char *nb = realloc(buf, ncap);
            if (!nb) {
                r = -ENOMEM;
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max) {
            r = -EFBIG;
            goto out;
        }
    }
    buf[len] = '\0';
    *ret_buf = buf;
    buf = NULL;
    r = (ssize_t)len;
out:
    free(buf);
    close(fd);
    return r;
}
