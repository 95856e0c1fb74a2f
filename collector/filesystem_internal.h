/* SPDX-License-Identifier: Apache-2.0 */
/* Test seam of the filesystem collector: the function that opens a mount point under the root
 * and statfs's it, replaceable by unit tests to simulate a hanging network filesystem; and the
 * deadline-bounded statfs shared with the cgroup collector. */
#ifndef HK_FILESYSTEM_INTERNAL_H
#define HK_FILESYSTEM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/statfs.h>

/* path is relative to root_fd ("." for the root). Returns 0 or -errno. Called on a helper
 * thread. */
typedef int (*hk_filesystem_statfs_fn)(int root_fd, const char *path, struct statfs *st);
extern hk_filesystem_statfs_fn hk_filesystem_statfs;
int hk_filesystem_statfs_in_root(int root_fd, const char *path, struct statfs *st);

/* One statfs on the helper thread with a deadline, for other collectors (the cgroup collector's
 * writable-layer figures). path is absolute or relative to root_fd. Returns 0 with *ret filled,
 * the statfs -errno, -ENOMEM, or -ETIMEDOUT: the call is still blocked and *ret_pending holds it;
 * the caller must not query that filesystem again until hk_statfs_probe_done says it returned,
 * then releases it with hk_statfs_probe_free (NULL accepted). */
struct hk_statfs_probe;
int hk_statfs_deadline(int root_fd, const char *path, int64_t timeout_ms, struct statfs *ret,
                       struct hk_statfs_probe **ret_pending);
bool hk_statfs_probe_done(struct hk_statfs_probe *p);
/* The result of a probe that hk_statfs_probe_done says returned: 0 and *ret, or -errno. */
int hk_statfs_probe_result(struct hk_statfs_probe *p, struct statfs *ret);
void hk_statfs_probe_free(struct hk_statfs_probe *p);

#endif
