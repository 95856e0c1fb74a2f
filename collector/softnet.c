/* SPDX-License-Identifier: Apache-2.0 */
/* Per-CPU packet processing statistics, node_exporter's softnet collector.
 * Reads: <procfs>/net/softnet_stat (one line of hex columns per CPU; 9 columns on 2.6.23, 11
 * since 4.17, 13 since 5.10 with the backlog length and the CPU number, more on 6.x).
 * Emits: node_softnet_processed_total, node_softnet_dropped_total,
 * node_softnet_times_squeezed_total, node_softnet_cpu_collision_total,
 * node_softnet_received_rps_total, node_softnet_flow_limit_count_total (counters) and
 * node_softnet_backlog_len (gauge), each {cpu}. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/node_common.h"
#include "collector/node_file.h"
#include "collector/node_parsers.h"
#include "core/collector.h"
#include "core/parse.h"

int hk_parse_hex_u64(const char *s, size_t len, uint64_t *ret)
{
    if (len == 0 || len > 16)
        return -EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        unsigned d;
        if (ch >= '0' && ch <= '9')
            d = (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            d = (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            d = (unsigned)(ch - 'A' + 10);
        else
            return -EINVAL;
        v = v << 4 | d;
    }
    *ret = v;
    return 0;
}

#define SOFTNET_MAX_CPUS 65536
#define SOFTNET_MAX_COLUMNS 32

int hk_softnet_parse(const char *buf, size_t len, hk_softnet_fn fn, void *userdata)
{
    struct hk_cursor c;
    unsigned line = 0;
    hk_cursor_init(&c, buf, len);
    while (!hk_cursor_eof(&c)) {
        uint64_t col[SOFTNET_MAX_COLUMNS];
        unsigned n = 0;
        const char *tok;
        size_t tl;
        while (hk_cursor_token(&c, &tok, &tl)) {
            if (n == SOFTNET_MAX_COLUMNS)
                return -EINVAL;
            /* The kernel prints each column with %08x: wider is not a softnet_stat file. */
            if (tl > 8 || hk_parse_hex_u64(tok, tl, &col[n]) < 0)
                return -EINVAL;
            n++;
        }
        hk_cursor_next_line(&c);
        if (n == 0)
            continue; /* blank line */
        if (n < 9 || line >= SOFTNET_MAX_CPUS)
            return -EINVAL;
        struct hk_softnet s = {
            .cpu = n >= 13 ? (unsigned)col[12] : line,
            .processed = (uint32_t)col[0],
            .dropped = (uint32_t)col[1],
            .time_squeezed = (uint32_t)col[2],
            .cpu_collision = (uint32_t)col[8],
            .received_rps = n >= 11 ? (uint32_t)col[9] : 0,
            .flow_limit_count = n >= 11 ? (uint32_t)col[10] : 0,
            .backlog_len = n >= 12 ? (uint32_t)col[11] : 0,
        };
        line++;
        int r;
        if (fn && (r = fn(&s, userdata)) < 0)
            return r;
    }
    return line ? 0 : -EINVAL;
}

static const char *const cpu_label[] = {"cpu", NULL};

enum {
    D_PROCESSED,
    D_DROPPED,
    D_SQUEEZED,
    D_COLLISION,
    D_RPS,
    D_FLOW_LIMIT,
    D_BACKLOG,
    D_N,
};

static const struct hk_metric_desc desc_softnet[D_N] = {
    {"node_softnet_processed_total", "Number of processed packets", HK_METRIC_COUNTER, "",
     cpu_label},
    {"node_softnet_dropped_total", "Number of dropped packets", HK_METRIC_COUNTER, "", cpu_label},
    {"node_softnet_times_squeezed_total", "Number of times processing packets ran out of quota",
     HK_METRIC_COUNTER, "", cpu_label},
    {"node_softnet_cpu_collision_total",
     "Number of collision occur while obtaining device lock while transmitting", HK_METRIC_COUNTER,
     "", cpu_label},
    {"node_softnet_received_rps_total", "Number of times cpu woken up received_rps",
     HK_METRIC_COUNTER, "", cpu_label},
    {"node_softnet_flow_limit_count_total", "Number of times flow limit has been reached",
     HK_METRIC_COUNTER, "", cpu_label},
    {"node_softnet_backlog_len", "Softnet backlog status", HK_METRIC_GAUGE, "", cpu_label},
};

struct softnet_state {
    struct hk_node_file file;
    struct hk_node_buf buf;
    struct hk_node_health health;
};

static void softnet_fini(void *state)
{
    struct softnet_state *s = state;
    if (!s)
        return;
    hk_node_file_close(&s->file);
    hk_node_buf_free(&s->buf);
    free(s);
}

static int softnet_init(void **ret_state, const struct hk_collector_env *env)
{
    (void)env;
    struct softnet_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->file = (struct hk_node_file)HK_NODE_FILE_INIT;
    hk_node_buf_init(&s->buf, 8192, 16u << 20); /* 136 bytes per CPU (15 columns) */
    *ret_state = s;
    return 0;
}

static int emit_cpu(const struct hk_softnet *sn, void *userdata)
{
    struct hk_builder *b = userdata;
    char cpu[16];
    /* unsigned → decimal without snprintf's locale machinery */
    char tmp[16];
    size_t n = 0;
    unsigned v = sn->cpu;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        cpu[i] = tmp[n - 1 - i];
    cpu[n] = '\0';
    const char *values[] = {cpu};
    const double v_all[D_N] = {sn->processed,     sn->dropped,      sn->time_squeezed,
                               sn->cpu_collision, sn->received_rps, sn->flow_limit_count,
                               sn->backlog_len};
    for (int i = 0; i < D_N; i++)
        if (hk_emit(b, &desc_softnet[i], values, v_all[i]) == -ENOMEM)
            return -ENOMEM;
    return 0;
}

static int softnet_collect(void *state, struct hk_collect_ctx *ctx)
{
    struct softnet_state *s = state;
    ssize_t n = hk_node_file_read_buf(&s->file, ctx->paths->proc_fd, "net/softnet_stat", &s->buf);
    if (n == -ENOENT)
        return 0;
    if (n == -ENOMEM)
        return -ENOMEM;
    int r = n < 0 ? (int)n : hk_softnet_parse(s->buf.data, (size_t)n, NULL, NULL);
    if (r < 0) {
        hk_node_soft_error(&s->health, ctx, "softnet", "net/softnet_stat", r);
        return 0;
    }
    hk_node_ok(&s->health, "softnet", "net/softnet_stat");
    return hk_softnet_parse(s->buf.data, (size_t)n, emit_cpu, ctx->b);
}

const struct hk_collector_ops hk_collector_softnet = {
    .name = "softnet",
    .help = "per-CPU packet processing statistics from /proc/net/softnet_stat (node_softnet_*)",
    .default_enabled = true,
    .init = softnet_init,
    .collect = softnet_collect,
    .fini = softnet_fini,
};
