/* SPDX-License-Identifier: Apache-2.0 */
/* The collector interface. Each source (collector/<name>.c) exports one
 * `const struct hk_collector_ops hk_collector_<name>`; collector/collectors.c lists them. */
#ifndef HK_COLLECTOR_H
#define HK_COLLECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/fsread.h"
#include "core/snapshot.h"
#include "core/yaml.h"

struct hk_config;

/* What init/check get: host paths, the whole config, and this collector's own options: the map
 * `collectors.<name>` of the YAML (NULL when absent). It includes the generic key `enabled`, so
 * allowed-key lists start with HK_COLLECTOR_COMMON_KEYS. Unknown keys and bad values fail with
 * hk_error_at(err, node, …). */
#define HK_COLLECTOR_COMMON_KEYS "enabled"
struct hk_collector_env {
    const struct hk_paths *paths;
    const struct hk_config *config;
    const struct hk_yaml_node *options;
    struct hk_error *err;
};

struct hk_collect_ctx {
    struct hk_builder *b;
    const struct hk_paths *paths;
    int64_t now_ms; /* wall clock at the start of the cycle */
    /* Set by a collector to report non-fatal problems (a malformed file skipped): counted in
     * hakari_collector_errors_total without dropping the rest of its output. */
    uint64_t soft_errors;
};

struct hk_collector_ops {
    const char *name; /* [a-z0-9_]+ : flag --collector.<name>, label collector="<name>" */
    const char *help; /* one line for --help */
    bool default_enabled;
    /* Validates options without touching the host (--config.check, reload). May be NULL. */
    int (*check)(const struct hk_collector_env *env);
    /* Allocates state; returns 0 or -errno (with err set). May be NULL. */
    int (*init)(void **ret_state, const struct hk_collector_env *env);
    /* One cycle. A negative return means failure: everything emitted in this call is dropped,
     * hakari_collector_up is 0 and the error is counted. -ENOENT for a whole missing source is
     * not a failure: return 0 and emit nothing. */
    int (*collect)(void *state, struct hk_collect_ctx *ctx);
    void (*fini)(void *state); /* accepts NULL */
};

/* The static table (collector/collectors.c), NULL-terminated. */
extern const struct hk_collector_ops *const hk_collectors[];
const struct hk_collector_ops *hk_collector_find(const char *name);

#endif
