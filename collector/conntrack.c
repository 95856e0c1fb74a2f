/* SPDX-License-Identifier: Apache-2.0 */
/* Connection tracking, node_exporter's conntrack collector.
 * Reads: <procfs>/sys/net/netfilter/nf_conntrack_count, .../nf_conntrack_max (absent while the
 * nf_conntrack module is not loaded: nothing is emitted), <procfs>/net/stat/nf_conntrack (per-CPU
 * counters, summed).
 * Emits: node_nf_conntrack_entries, node_nf_conntrack_entries_limit, and where the stat file
 * exists node_nf_conntrack_stat_{found,invalid,ignore,insert,insert_failed,drop,early_drop,
 * search_restart} (gauges, as node_exporter types them). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/node_common.h"
#include "collector/node_file.h"
#include "collector/node_parsers.h"
#include "core/collector.h"
#include "core/parse.h"

#define CT_MAX_COLUMNS 32
#define CT_MAX_CPUS 65536

enum {
    CT_FOUND,
    CT_INVALID,
    CT_IGNORE,
    CT_INSERT,
    CT_INSERT_FAILED,
    CT_DROP,
    CT_EARLY_DROP,
    CT_SEARCH_RESTART,
    CT_N,
};
static const char *const ct_names[CT_N] = {"found",      "invalid",       "ignore",
                                           "insert",     "insert_failed", "drop",
                                           "early_drop", "search_restart"};

int hk_conntrack_stat_parse(const char *buf, size_t len, struct hk_conntrack_stat *ret)
{
    struct hk_cursor c;
    int col_of[CT_N];
    unsigned ncols = 0;
    const char *tok;
    size_t tl;
    for (int i = 0; i < CT_N; i++)
        col_of[i] = -1;
    hk_cursor_init(&c, buf, len);
    /* header: column names */
    while (hk_cursor_token(&c, &tok, &tl)) {
        if (ncols == CT_MAX_COLUMNS)
            return -EINVAL;
        for (size_t i = 0; i < tl; i++)
            if (!((tok[i] >= 'a' && tok[i] <= 'z') || tok[i] == '_'))
                return -EINVAL;
        for (int i = 0; i < CT_N; i++)
            if (hk_token_eq(tok, tl, ct_names[i]))
                col_of[i] = (int)ncols;
        ncols++;
    }
    hk_cursor_next_line(&c);
    for (int i = 0; i < CT_N; i++)
        if (col_of[i] < 0 && i != CT_SEARCH_RESTART) /* search_restart: 2.6.35+ */
            return -EINVAL;
    uint64_t sum[CT_N] = {0};
    unsigned cpus = 0;
    while (!hk_cursor_eof(&c)) {
        uint64_t v[CT_MAX_COLUMNS];
        unsigned n = 0;
        while (hk_cursor_token(&c, &tok, &tl)) {
            if (n == ncols || hk_parse_hex_u64(tok, tl, &v[n]) < 0)
                return -EINVAL;
            n++;
        }
        hk_cursor_next_line(&c);
        if (n == 0)
            continue;
        if (n != ncols || cpus == CT_MAX_CPUS)
            return -EINVAL;
        for (int i = 0; i < CT_N; i++) {
            if (col_of[i] < 0)
                continue;
            uint64_t x = v[col_of[i]];
            if (sum[i] + x < sum[i])
                return -ERANGE;
            sum[i] += x;
        }
        cpus++;
    }
    if (!cpus)
        return -EINVAL;
    *ret = (struct hk_conntrack_stat){sum[CT_FOUND],      sum[CT_INVALID],        sum[CT_IGNORE],
                                      sum[CT_INSERT],     sum[CT_INSERT_FAILED],  sum[CT_DROP],
                                      sum[CT_EARLY_DROP], sum[CT_SEARCH_RESTART], cpus};
    return 0;
}

static const struct hk_metric_desc desc_entries = {
    "node_nf_conntrack_entries",
    "Number of currently allocated flow entries for connection tracking.", HK_METRIC_GAUGE, "",
    NULL};
static const struct hk_metric_desc desc_limit = {"node_nf_conntrack_entries_limit",
                                                 "Maximum size of connection tracking table.",
                                                 HK_METRIC_GAUGE, "", NULL};

/* Indexed like CT_*. */
static const struct hk_metric_desc desc_stat[CT_N] = {
    {"node_nf_conntrack_stat_found", "Number of searched entries which were successful.",
     HK_METRIC_GAUGE, "", NULL},
    {"node_nf_conntrack_stat_invalid", "Number of packets seen which can not be tracked.",
     HK_METRIC_GAUGE, "", NULL},
    {"node_nf_conntrack_stat_ignore",
     "Number of packets seen which are already connected to a conntrack entry.", HK_METRIC_GAUGE,
     "", NULL},
    {"node_nf_conntrack_stat_insert", "Number of entries inserted into the list.", HK_METRIC_GAUGE,
     "", NULL},
    {"node_nf_conntrack_stat_insert_failed",
     "Number of entries for which list insertion was attempted but failed.", HK_METRIC_GAUGE, "",
     NULL},
    {"node_nf_conntrack_stat_drop", "Number of packets dropped due to conntrack failure.",
     HK_METRIC_GAUGE, "", NULL},
    {"node_nf_conntrack_stat_early_drop",
     "Number of dropped conntrack entries to make room for new ones, if maximum table size was "
     "reached.",
     HK_METRIC_GAUGE, "", NULL},
    {"node_nf_conntrack_stat_search_restart",
     "Number of conntrack table lookups which had to be restarted due to hashtable resizes.",
     HK_METRIC_GAUGE, "", NULL},
};

enum { F_COUNT, F_MAX, F_STAT, F_N };
static const char *const files[F_N] = {"sys/net/netfilter/nf_conntrack_count",
                                       "sys/net/netfilter/nf_conntrack_max",
                                       "net/stat/nf_conntrack"};

struct conntrack_state {
    struct hk_node_file file[F_N];
    struct hk_node_buf stat_buf;
    struct hk_node_health health[F_N];
};

static void conntrack_fini(void *state)
{
    struct conntrack_state *s = state;
    if (!s)
        return;
    for (int i = 0; i < F_N; i++)
        hk_node_file_close(&s->file[i]);
    hk_node_buf_free(&s->stat_buf);
    free(s);
}

static int conntrack_init(void **ret_state, const struct hk_collector_env *env)
{
    (void)env;
    struct conntrack_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (int i = 0; i < F_N; i++)
        s->file[i] = (struct hk_node_file)HK_NODE_FILE_INIT;
    hk_node_buf_init(&s->stat_buf, 4096, 16u << 20); /* 163 bytes per CPU */
    *ret_state = s;
    return 0;
}

static int conntrack_collect(void *state, struct hk_collect_ctx *ctx)
{
    struct conntrack_state *s = state;
    const struct hk_metric_desc *desc[2] = {&desc_entries, &desc_limit};
    for (int i = F_COUNT; i <= F_MAX; i++) {
        char buf[64];
        uint64_t v;
        ssize_t n = hk_node_file_read(&s->file[i], ctx->paths->proc_fd, files[i], buf, sizeof(buf));
        if (n == -ENOENT) {
            if (i == F_COUNT)
                return 0; /* module not loaded: node_exporter reports no data at all */
            continue;
        }
        int r = n < 0 ? (int)n : hk_uint_file_parse(buf, (size_t)n, &v);
        if (r < 0) {
            hk_node_soft_error(&s->health[i], ctx, "conntrack", files[i], r);
            continue;
        }
        hk_node_ok(&s->health[i], "conntrack", files[i]);
        hk_emit(ctx->b, desc[i], NULL, (double)v);
    }
    ssize_t n =
        hk_node_file_read_buf(&s->file[F_STAT], ctx->paths->proc_fd, files[F_STAT], &s->stat_buf);
    if (n == -ENOENT)
        return 0;
    if (n == -ENOMEM)
        return -ENOMEM;
    struct hk_conntrack_stat st;
    int r = n < 0 ? (int)n : hk_conntrack_stat_parse(s->stat_buf.data, (size_t)n, &st);
    if (r < 0) {
        hk_node_soft_error(&s->health[F_STAT], ctx, "conntrack", files[F_STAT], r);
        return 0;
    }
    hk_node_ok(&s->health[F_STAT], "conntrack", files[F_STAT]);
    const uint64_t v[CT_N] = {st.found,         st.invalid, st.ignore,     st.insert,
                              st.insert_failed, st.drop,    st.early_drop, st.search_restart};
    for (int i = 0; i < CT_N; i++)
        hk_emit(ctx->b, &desc_stat[i], NULL, (double)v[i]);
    return 0;
}

const struct hk_collector_ops hk_collector_conntrack = {
    .name = "conntrack",
    .help = "connection tracking from /proc/sys/net/netfilter and /proc/net/stat/nf_conntrack "
            "(node_nf_conntrack_*)",
    .default_enabled = true,
    .init = conntrack_init,
    .collect = conntrack_collect,
    .fini = conntrack_fini,
};
