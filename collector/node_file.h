/* SPDX-License-Identifier: Apache-2.0 */
/* A procfs file kept open between cycles and re-read from offset 0 (pread), for collectors that
 * read the same small kernel files every cycle: it saves the path walk and open/close of each
 * read (a third of the cost of the smaller /proc/net files). Kernel files regenerate their
 * content on each read from 0. A failed read closes the file and opens it again once, so a file
 * that went away (a module unloaded) reads as the path now says. A regular file replaced by a
 * rename keeps being read from the old inode (kernel files never are; fixture tests rewrite
 * files in place). */
#ifndef HK_NODE_FILE_H
#define HK_NODE_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "collector/node_common.h"

struct hk_node_file {
    int fd; /* -1: not open */
};

#define HK_NODE_FILE_INIT                                                                          \
    {                                                                                              \
        -1                                                                                         \
    }

/* Reads dirfd/path whole into buf (cap bytes, NUL-terminated). Returns the length or -errno;
 * -ENOENT when the file is missing, -EFBIG when it does not fit. */
ssize_t hk_node_file_read(struct hk_node_file *f, int dirfd, const char *path, char *buf,
                          size_t cap);
/* Same into a growable buffer (see hk_node_buf_read). */
ssize_t hk_node_file_read_buf(struct hk_node_file *f, int dirfd, const char *path,
                              struct hk_node_buf *b);
void hk_node_file_close(struct hk_node_file *f);

#endif
