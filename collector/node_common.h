/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the node collectors: a growable read buffer for procfs files whose size
 * depends on the machine (CPUs, disks, mounts), "log once per state change" bookkeeping for
 * malformed inputs, and device/mount filters with node_exporter's regular expressions (pcre2). */
#ifndef HK_NODE_COMMON_H
#define HK_NODE_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/collector.h"

/* A heap buffer that starts at `initial` bytes and doubles on -EFBIG up to `max`. */
struct hk_node_buf {
    char *data;
    size_t cap;
    size_t max;
};

void hk_node_buf_init(struct hk_node_buf *b, size_t initial, size_t max);
void hk_node_buf_free(struct hk_node_buf *b);
/* Reads dirfd/path whole into b (NUL-terminated), growing it as needed. Returns the length or
 * -errno: -ENOENT when missing, -EFBIG when the file exceeds b->max. */
ssize_t hk_node_buf_read(struct hk_node_buf *b, int dirfd, const char *path);

/* Remembers whether an input was bad in the previous cycle, so a malformed file is logged on
 * the transition to bad (and its recovery on the transition back), never every cycle. */
struct hk_node_health {
    bool bad;
};

/* Counts a malformed (-EINVAL/-ERANGE), too large (-EFBIG) or unreadable input in
 * ctx->soft_errors and logs it if it just turned bad. */
void hk_node_soft_error(struct hk_node_health *h, struct hk_collect_ctx *ctx, const char *collector,
                        const char *file, int err);
/* Marks the input good again (logs the recovery once). */
void hk_node_ok(struct hk_node_health *h, const char *collector, const char *file);

/* A compiled filter pattern (unanchored search, like Go's regexp.MatchString). */
struct hk_node_regex;

/* Compiles pattern; on failure fills err (positioned at node when given) and returns -EINVAL. */
int hk_node_regex_new(const char *pattern, struct hk_node_regex **ret,
                      const struct hk_yaml_node *node, struct hk_error *err);
bool hk_node_regex_match(const struct hk_node_regex *re, const char *s, size_t len);
void hk_node_regex_free(struct hk_node_regex *re);

/* Reads the string option `key` from opts (a scalar), or returns def. Validates it as a regular
 * expression and compiles it into *ret (ret may be NULL to only validate). */
int hk_node_regex_option(const struct hk_collector_env *env, const char *key, const char *def,
                         struct hk_node_regex **ret);

#endif
