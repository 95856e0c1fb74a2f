/* SPDX-License-Identifier: Apache-2.0 */
/* Host paths and small-file reading relative to the configured roots (--path.rootfs, .procfs,
 * .sysfs), so fixtures, a DaemonSet's /host and the real host are read the same way. */
#ifndef HK_FSREAD_H
#define HK_FSREAD_H

#include <stddef.h>
#include <sys/types.h>

struct hk_paths {
    char *rootfs; /* absolute or relative path as given */
    char *procfs;
    char *sysfs;
    int root_fd; /* O_PATH|O_DIRECTORY handles */
    int proc_fd;
    int sys_fd;
};

/* procfs/sysfs NULL → <rootfs>/proc, <rootfs>/sys. A missing procfs/sysfs is not an error: its
 * fd is -1 and reads under it return -ENOENT. Returns 0 or -errno (rootfs unusable). */
int hk_paths_open(struct hk_paths *paths, const char *rootfs, const char *procfs,
                  const char *sysfs);
void hk_paths_close(struct hk_paths *paths);

/* Reads a whole file at dirfd/path into buf (cap bytes, NUL-terminated). Returns the length, or
 * -errno; -EFBIG when the file does not fit (nothing is silently truncated). dirfd may be -1
 * (then -ENOENT). path must be relative. */
ssize_t hk_read_file_at(int dirfd, const char *path, char *buf, size_t cap);
/* Same with pread on an open fd (from offset 0): for files kept open between cycles. */
ssize_t hk_read_fd(int fd, char *buf, size_t cap);
/* Opens a configuration or secret file given by the user (absolute, or relative to the working
 * directory) for reading, refusing anything but a regular file with -EINVAL: a FIFO, a device or
 * a directory at that path would block the reader or feed it garbage. Never blocks: the open is
 * non-blocking. Returns the fd or -errno. */
int hk_open_regular(const char *path);
/* hk_read_file_alloc for a file named by the user (relative to dirfd, or absolute): anything
 * but a regular file is refused with -EINVAL, without blocking on a FIFO. */
ssize_t hk_read_regular_alloc(int dirfd, const char *path, size_t max, char **ret_buf);
/* Reads a file of any size into a malloc'd buffer (≤ max bytes, else -EFBIG). */
ssize_t hk_read_file_alloc(int dirfd, const char *path, size_t max, char **ret_buf);

#endif
