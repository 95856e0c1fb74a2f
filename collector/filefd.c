/* SPDX-License-Identifier: Apache-2.0 */
/* File handle statistics, node_exporter's filefd collector.
 * Reads: <procfs>/sys/fs/file-nr ("allocated unused maximum"; unused is always 0 since 2.6).
 * Emits: node_filefd_allocated, node_filefd_maximum (gauges). */
#include <errno.h>
#include <stdlib.h>

#include "collector/node_common.h"
#include "collector/node_file.h"
#include "collector/node_parsers.h"
#include "core/collector.h"
#include "core/parse.h"

int hk_filefd_parse(const char *buf, size_t len, uint64_t *ret_allocated, uint64_t *ret_maximum)
{
    struct hk_cursor c;
    uint64_t v[3];
    hk_cursor_init(&c, buf, len);
    for (int i = 0; i < 3; i++) {
        const char *tok;
        size_t tl;
        if (!hk_cursor_token(&c, &tok, &tl))
            return -EINVAL;
        int r = hk_parse_u64(tok, tl, &v[i]);
        if (r < 0)
            return r;
    }
    const char *tok;
    size_t tl;
    if (hk_cursor_token(&c, &tok, &tl))
        return -EINVAL;
    hk_cursor_next_line(&c);
    if (!hk_cursor_eof(&c))
        return -EINVAL; /* one line only */
    *ret_allocated = v[0];
    *ret_maximum = v[2];
    return 0;
}

int hk_uint_file_parse(const char *buf, size_t len, uint64_t *ret)
{
    struct hk_cursor c;
    const char *tok;
    size_t tl;
    uint64_t v;
    hk_cursor_init(&c, buf, len);
    if (!hk_cursor_token(&c, &tok, &tl))
        return -EINVAL;
    int r = hk_parse_u64(tok, tl, &v);
    if (r < 0)
        return r;
    if (hk_cursor_token(&c, &tok, &tl))
        return -EINVAL;
    hk_cursor_next_line(&c);
    if (!hk_cursor_eof(&c))
        return -EINVAL;
    *ret = v;
    return 0;
}

static const struct hk_metric_desc desc_allocated = {
    "node_filefd_allocated", "File descriptor statistics: allocated.", HK_METRIC_GAUGE, "", NULL};
static const struct hk_metric_desc desc_maximum = {
    "node_filefd_maximum", "File descriptor statistics: maximum.", HK_METRIC_GAUGE, "", NULL};

struct filefd_state {
    struct hk_node_file file;
    struct hk_node_health health;
};

static void filefd_fini(void *state)
{
    struct filefd_state *s = state;
    if (!s)
        return;
    hk_node_file_close(&s->file);
    free(s);
}

static int filefd_init(void **ret_state, const struct hk_collector_env *env)
{
    (void)env;
    struct filefd_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->file = (struct hk_node_file)HK_NODE_FILE_INIT;
    *ret_state = s;
    return 0;
}

static int filefd_collect(void *state, struct hk_collect_ctx *ctx)
{
    struct filefd_state *s = state;
    char buf[128];
    uint64_t allocated, maximum;
    ssize_t n =
        hk_node_file_read(&s->file, ctx->paths->proc_fd, "sys/fs/file-nr", buf, sizeof(buf));
    if (n == -ENOENT)
        return 0;
    int r = n < 0 ? (int)n : hk_filefd_parse(buf, (size_t)n, &allocated, &maximum);
    if (r < 0) {
        hk_node_soft_error(&s->health, ctx, "filefd", "sys/fs/file-nr", r);
        return 0;
    }
    hk_node_ok(&s->health, "filefd", "sys/fs/file-nr");
    hk_emit(ctx->b, &desc_allocated, NULL, (double)allocated);
    hk_emit(ctx->b, &desc_maximum, NULL, (double)maximum);
    return 0;
}

const struct hk_collector_ops hk_collector_filefd = {
    .name = "filefd",
    .help = "file handle statistics from /proc/sys/fs/file-nr (node_filefd_*)",
    .default_enabled = true,
    .init = filefd_init,
    .collect = filefd_collect,
    .fini = filefd_fini,
};
