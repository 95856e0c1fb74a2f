/* Test seam of the filesystem collector: the function that opens a mount point under the root
 * and statfs's it, replaceable by unit tests to simulate a hanging network filesystem. */
#ifndef HK_FILESYSTEM_INTERNAL_H
#define HK_FILESYSTEM_INTERNAL_H

#include <sys/statfs.h>

/* path is relative to root_fd ("." for the root). Returns 0 or -errno. Called on a helper
 * thread. */
typedef int (*hk_filesystem_statfs_fn)(int root_fd, const char *path, struct statfs *st);
extern hk_filesystem_statfs_fn hk_filesystem_statfs;
int hk_filesystem_statfs_in_root(int root_fd, const char *path, struct statfs *st);

#endif
