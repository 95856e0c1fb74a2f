/* SPDX-License-Identifier: Apache-2.0 */
/* What the cgroup collector learns about a container through its main process rather than its
 * cgroup: the soft open-files limit (container_ulimits_soft) and the size of its writable layer
 * (container_fs_usage_bytes, _limit_bytes, _inodes_total, _inodes_free). The layer is found in
 * the process' own mountinfo (the overlay mounted at its "/", option upperdir=) and measured by
 * a resumable walk that spends at most a time budget per collection cycle; the filesystem
 * holding it is statfs'd on the filesystem collector's helper thread with a deadline. */
#ifndef HK_CGROUP_FS_H
#define HK_CGROUP_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hk_paths;
struct hk_cgfs;     /* one per collector */
struct hk_cgfs_ctr; /* one per container row; the row owns it (hk_cgfs_ctr_free) */

struct hk_cgfs_options {
    int64_t interval_ms;       /* re-measure a layer at most this often */
    int64_t budget_us;         /* walking time per cycle, all layers together */
    int64_t statfs_timeout_ms; /* wait for a statfs at most this long */
};

int hk_cgfs_new(const struct hk_paths *paths, const struct hk_cgfs_options *opts,
                struct hk_cgfs **ret);
void hk_cgfs_free(struct hk_cgfs *s);
/* Starts a cycle: a fresh walking budget; filesystems are statfs'd again on first use. */
void hk_cgfs_begin(struct hk_cgfs *s, int64_t now_ms);
void hk_cgfs_ctr_free(struct hk_cgfs_ctr *c);

/* Soft "Max open files" of pid from <procfs>/<pid>/limits, -1 for unlimited (cAdvisor's
 * ulimit="max_open_files"). Cached per row: re-read when pid changes or refresh is set.
 * 0, -ENOENT (no such process), -EINVAL (unparsable), -ENOMEM. */
int hk_cgfs_nofile(struct hk_cgfs *s, struct hk_cgfs_ctr **c, uint32_t pid, bool refresh,
                   int64_t *ret);

struct hk_cgfs_layer {
    const char *device;   /* mount source of the filesystem holding the layer ("" unknown) */
    uint64_t usage_bytes; /* Σ st_blocks·512 over the layer, hard links once */
    uint64_t inodes;      /* entries in the layer, the layer's directory included */
    bool has_fs;          /* the filesystem's statfs succeeded this cycle: */
    uint64_t limit_bytes; /*   its capacity (f_blocks·f_bsize) */
    uint64_t inodes_free; /*   its free inodes */
};
/* The last complete measurement of the writable layer of the container whose main process is
 * pid, continuing (or starting) its walk within the cycle's budget. 0 with *ret filled,
 * -EAGAIN (no complete measurement yet), -ENOENT (no writable layer found), -ENOMEM. */
int hk_cgfs_layer(struct hk_cgfs *s, struct hk_cgfs_ctr **c, uint32_t pid,
                  struct hk_cgfs_layer *ret);

/* ---- parsers (pure; unit tested and fuzzed) ---- */

/* <procfs>/<pid>/limits: the soft value of "Max open files", -1 for "unlimited".
 * 0 or -EINVAL. */
int hk_cg_parse_limits_nofile(const char *buf, size_t len, int64_t *ret_soft);
/* A process' mountinfo: the upperdir= option of the overlay mounted at "/" (the last mount at
 * "/"), unescaped into out (cap bytes). Returns its length, -ENOENT (the root is no overlay),
 * -EROFS (an overlay without an upper layer: a read-only view), -EINVAL (malformed),
 * -ENOSPC. */
int hk_cg_parse_root_upperdir(const char *buf, size_t len, char *out, size_t cap);

#endif
