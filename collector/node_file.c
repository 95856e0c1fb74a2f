/* SPDX-License-Identifier: Apache-2.0 */
/* Kept-open procfs files (see node_file.h). */
#include "collector/node_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/fsread.h"

void hk_node_file_close(struct hk_node_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

static int node_file_open(struct hk_node_file *f, int dirfd, const char *path)
{
    if (dirfd < 0)
        return -ENOENT;
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    f->fd = fd;
    return 0;
}

ssize_t hk_node_file_read(struct hk_node_file *f, int dirfd, const char *path, char *buf,
                          size_t cap)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        bool fresh = f->fd < 0;
        if (fresh) {
            int r = node_file_open(f, dirfd, path);
            if (r < 0)
                return r;
        }
        ssize_t n = hk_read_fd(f->fd, buf, cap);
        if (n >= 0 || n == -EFBIG)
            return n;
        hk_node_file_close(f);
        if (fresh)
            return n;
    }
    return -EIO; /* not reached */
}

ssize_t hk_node_file_read_buf(struct hk_node_file *f, int dirfd, const char *path,
                              struct hk_node_buf *b)
{
    for (;;) {
        if (!b->data) {
            b->data = malloc(b->cap);
            if (!b->data)
                return -ENOMEM;
        }
        ssize_t n = hk_node_file_read(f, dirfd, path, b->data, b->cap);
        if (n != -EFBIG)
            return n;
        if (b->cap >= b->max)
            return -EFBIG;
        size_t ncap = b->cap * 2 > b->max ? b->max : b->cap * 2;
        free(b->data);
        b->data = NULL;
        b->cap = ncap;
    }
}
