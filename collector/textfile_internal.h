/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the textfile collector exposed to its unit tests. */
#ifndef HK_TEXTFILE_INTERNAL_H
#define HK_TEXTFILE_INTERNAL_H

#include <stddef.h>
#include <sys/stat.h>

/* Called after a file's bytes were read and before the read is checked for concurrent changes
 * (attempt 0 or 1). Tests use it to replace or rewrite the file in that window. */
extern void (*hk_textfile_read_hook)(int dirfd, const char *name, int attempt);

/* Reads dirfd/name whole into *buf (NULL, or a block of hk_big_alloc (core/arena.h) of *cap
 * bytes: replaced by a bigger one as needed, the old one released with hk_big_free; at most
 * max_bytes of content) and checks that size, mtime and inode did not change during the read,
 * retrying once. Returns the length; -EFBIG (too large), -EAGAIN (kept changing), -EISDIR/-EINVAL
 * (not a regular file), -ENOMEM or the open/read errno. *ret_st is the file's stat at the
 * successful read. */
long hk_textfile_read_stable(int dirfd, const char *name, size_t max_bytes, char **buf, size_t *cap,
                             struct stat *ret_st);

#endif
