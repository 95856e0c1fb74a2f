/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel entropy pool, node_exporter's entropy collector.
 * Reads: <procfs>/sys/kernel/random/entropy_avail, <procfs>/sys/kernel/random/poolsize.
 * Emits: node_entropy_available_bits, node_entropy_pool_size_bits (gauges; a missing file skips
 * its family). */
#include <errno.h>
#include <stdlib.h>

#include "collector/node_common.h"
#include "collector/node_file.h"
#include "collector/node_parsers.h"
#include "core/collector.h"

static const struct hk_metric_desc desc_entropy[2] = {
    {"node_entropy_available_bits", "Bits of available entropy.", HK_METRIC_GAUGE, "", NULL},
    {"node_entropy_pool_size_bits", "Bits of entropy pool.", HK_METRIC_GAUGE, "", NULL},
};
static const char *const files[2] = {"sys/kernel/random/entropy_avail",
                                     "sys/kernel/random/poolsize"};

struct entropy_state {
    struct hk_node_file file[2];
    struct hk_node_health health[2];
};

static void entropy_fini(void *state)
{
    struct entropy_state *s = state;
    if (!s)
        return;
    for (int i = 0; i < 2; i++)
        hk_node_file_close(&s->file[i]);
    free(s);
}

static int entropy_init(void **ret_state, const struct hk_collector_env *env)
{
    (void)env;
    struct entropy_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (int i = 0; i < 2; i++)
        s->file[i] = (struct hk_node_file)HK_NODE_FILE_INIT;
    *ret_state = s;
    return 0;
}

static int entropy_collect(void *state, struct hk_collect_ctx *ctx)
{
    struct entropy_state *s = state;
    for (int i = 0; i < 2; i++) {
        char buf[64];
        uint64_t v;
        ssize_t n = hk_node_file_read(&s->file[i], ctx->paths->proc_fd, files[i], buf, sizeof(buf));
        if (n == -ENOENT)
            continue;
        int r = n < 0 ? (int)n : hk_uint_file_parse(buf, (size_t)n, &v);
        if (r < 0) {
            hk_node_soft_error(&s->health[i], ctx, "entropy", files[i], r);
            continue;
        }
        hk_node_ok(&s->health[i], "entropy", files[i]);
        hk_emit(ctx->b, &desc_entropy[i], NULL, (double)v);
    }
    return 0;
}

const struct hk_collector_ops hk_collector_entropy = {
    .name = "entropy",
    .help = "kernel entropy pool from /proc/sys/kernel/random (node_entropy_*)",
    .default_enabled = true,
    .init = entropy_init,
    .collect = entropy_collect,
    .fini = entropy_fini,
};
