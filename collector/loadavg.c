/* SPDX-License-Identifier: Apache-2.0 */
/* Load averages, node_exporter's loadavg collector.
 * Reads: <procfs>/loadavg. Emits: node_load1, node_load5, node_load15. */
#include <errno.h>

#include "core/collector.h"
#include "core/log.h"
#include "core/parse.h"

static const struct hk_metric_desc desc_load[3] = {
    {"node_load1", "1m load average.", HK_METRIC_GAUGE, "", NULL},
    {"node_load5", "5m load average.", HK_METRIC_GAUGE, "", NULL},
    {"node_load15", "15m load average.", HK_METRIC_GAUGE, "", NULL},
};

/* Parses the first three fields of /proc/loadavg. Returns 0 or -EINVAL. */
int hk_loadavg_parse(const char *buf, size_t len, double ret_load[3]);

int hk_loadavg_parse(const char *buf, size_t len, double ret_load[3])
{
    struct hk_cursor c;
    double v[3];
    hk_cursor_init(&c, buf, len);
    for (int i = 0; i < 3; i++) {
        const char *tok;
        size_t tl;
        if (!hk_cursor_token(&c, &tok, &tl) || hk_parse_double(tok, tl, &v[i]) < 0 || v[i] < 0)
            return -EINVAL;
    }
    for (int i = 0; i < 3; i++)
        ret_load[i] = v[i];
    return 0;
}

static int loadavg_collect(void *state, struct hk_collect_ctx *ctx)
{
    char buf[256];
    ssize_t n = hk_read_file_at(ctx->paths->proc_fd, "loadavg", buf, sizeof(buf));
    if (n == -ENOENT)
        return 0;
    if (n < 0)
        return (int)n;
    double load[3];
    if (hk_loadavg_parse(buf, (size_t)n, load) < 0) {
        static bool logged;
        if (!logged)
            hk_log_warn("malformed file skipped", "file", "loadavg");
        logged = true;
        ctx->soft_errors++;
        return 0;
    }
    for (int i = 0; i < 3; i++)
        hk_emit(ctx->b, &desc_load[i], NULL, load[i]);
    return 0;
}

const struct hk_collector_ops hk_collector_loadavg = {
    .name = "loadavg",
    .help = "load averages from /proc/loadavg (node_load1/5/15)",
    .default_enabled = true,
    .collect = loadavg_collect,
};
