/* SPDX-License-Identifier: Apache-2.0 */
/* Pressure stall information (PSI), node_exporter's pressure collector.
 * Reads: <procfs>/pressure/cpu, <procfs>/pressure/memory, <procfs>/pressure/io.
 * Emits: node_pressure_cpu_waiting_seconds_total, node_pressure_memory_waiting_seconds_total,
 * node_pressure_memory_stalled_seconds_total, node_pressure_io_waiting_seconds_total,
 * node_pressure_io_stalled_seconds_total ("some" → waiting, "full" → stalled; µs → s). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/node_common.h"
#include "collector/node_parsers.h"
#include "core/collector.h"
#include "core/parse.h"

int hk_pressure_parse(const char *buf, size_t len, struct hk_pressure *ret)
{
    struct hk_pressure p = {0};
    struct hk_cursor c;
    hk_cursor_init(&c, buf, len);
    while (!hk_cursor_eof(&c)) {
        const char *kind, *tok;
        size_t kl, tl;
        if (!hk_cursor_token(&c, &kind, &kl)) {
            hk_cursor_next_line(&c);
            continue;
        }
        bool some = hk_token_eq(kind, kl, "some");
        if (!some && !hk_token_eq(kind, kl, "full"))
            return -EINVAL;
        bool have_total = false;
        uint64_t total = 0;
        while (hk_cursor_token(&c, &tok, &tl)) {
            const char *eq = memchr(tok, '=', tl);
            if (!eq)
                return -EINVAL;
            size_t nl = (size_t)(eq - tok);
            if (hk_token_eq(tok, nl, "total")) {
                int r = hk_parse_u64(eq + 1, tl - nl - 1, &total);
                if (r < 0)
                    return r;
                have_total = true;
            } else {
                double avg; /* avg10/avg60/avg300: validated, not exported (as node_exporter) */
                int r = hk_parse_double(eq + 1, tl - nl - 1, &avg);
                if (r < 0)
                    return r;
            }
        }
        if (!have_total)
            return -EINVAL;
        if (some) {
            p.some_total_us = total;
            p.have_some = true;
        } else {
            p.full_total_us = total;
            p.have_full = true;
        }
        hk_cursor_next_line(&c);
    }
    if (!p.have_some && !p.have_full)
        return -EINVAL;
    *ret = p;
    return 0;
}

static const struct hk_metric_desc desc_cpu_waiting = {
    "node_pressure_cpu_waiting_seconds_total",
    "Total time in seconds that processes have waited for CPU time", HK_METRIC_COUNTER, "seconds",
    NULL};
static const struct hk_metric_desc desc_memory_waiting = {
    "node_pressure_memory_waiting_seconds_total",
    "Total time in seconds that processes have waited for memory", HK_METRIC_COUNTER, "seconds",
    NULL};
static const struct hk_metric_desc desc_memory_stalled = {
    "node_pressure_memory_stalled_seconds_total",
    "Total time in seconds no process could make progress due to memory congestion",
    HK_METRIC_COUNTER, "seconds", NULL};
static const struct hk_metric_desc desc_io_waiting = {
    "node_pressure_io_waiting_seconds_total",
    "Total time in seconds that processes have waited due to IO congestion", HK_METRIC_COUNTER,
    "seconds", NULL};
static const struct hk_metric_desc desc_io_stalled = {
    "node_pressure_io_stalled_seconds_total",
    "Total time in seconds no process could make progress due to IO congestion", HK_METRIC_COUNTER,
    "seconds", NULL};

static const struct {
    const char *file;
    const struct hk_metric_desc *some, *full; /* full NULL: not exported (cpu) */
} resources[] = {
    {"pressure/cpu", &desc_cpu_waiting, NULL},
    {"pressure/memory", &desc_memory_waiting, &desc_memory_stalled},
    {"pressure/io", &desc_io_waiting, &desc_io_stalled},
};
#define NRESOURCES (sizeof(resources) / sizeof(resources[0]))

struct pressure_state {
    struct hk_node_health health[NRESOURCES];
};

static int pressure_init(void **ret_state, const struct hk_collector_env *env)
{
    struct pressure_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    *ret_state = s;
    return 0;
}

static int pressure_collect(void *state, struct hk_collect_ctx *ctx)
{
    struct pressure_state *s = state;
    for (size_t i = 0; i < NRESOURCES; i++) {
        char buf[512];
        ssize_t n = hk_read_file_at(ctx->paths->proc_fd, resources[i].file, buf, sizeof(buf));
        /* Kernels built with PSI but booted with psi=0 answer EOPNOTSUPP: same as absent. */
        if (n == -ENOENT || n == -EOPNOTSUPP)
            continue;
        struct hk_pressure p;
        int r = n < 0 ? (int)n : hk_pressure_parse(buf, (size_t)n, &p);
        if (r < 0) {
            hk_node_soft_error(&s->health[i], ctx, "pressure", resources[i].file, r);
            continue;
        }
        hk_node_ok(&s->health[i], "pressure", resources[i].file);
        if (p.have_some)
            hk_emit(ctx->b, resources[i].some, NULL, (double)p.some_total_us / 1e6);
        if (p.have_full && resources[i].full)
            hk_emit(ctx->b, resources[i].full, NULL, (double)p.full_total_us / 1e6);
    }
    return 0;
}

const struct hk_collector_ops hk_collector_pressure = {
    .name = "pressure",
    .help = "pressure stall totals from /proc/pressure (node_pressure_*)",
    .default_enabled = true,
    .init = pressure_init,
    .collect = pressure_collect,
    .fini = free,
};
