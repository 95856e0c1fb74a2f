/* SPDX-License-Identifier: Apache-2.0 */
/* Socket statistics, node_exporter's sockstat collector.
 * Reads: <procfs>/net/sockstat, <procfs>/net/sockstat6 (either may be absent: skipped).
 * Emits: node_sockstat_sockets_used (IPv4 file's "sockets: used"), node_sockstat_<PROTO>_<state>
 * for the states inuse, orphan, tw, alloc, mem (pages), memory (bytes, FRAG) as the file gives
 * them, and node_sockstat_<PROTO>_mem_bytes = mem × page size. All gauges. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/node_common.h"
#include "collector/node_file.h"
#include "collector/node_parsers.h"
#include "core/collector.h"
#include "core/parse.h"

#define SOCKSTAT_MAX_NAME 32

static bool word_ok(const char *s, size_t len)
{
    if (len == 0 || len > SOCKSTAT_MAX_NAME)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return false;
    }
    return true;
}

int hk_sockstat_parse(const char *buf, size_t len, hk_sockstat_fn fn, void *userdata)
{
    struct hk_cursor c;
    unsigned lines = 0;
    hk_cursor_init(&c, buf, len);
    while (!hk_cursor_eof(&c)) {
        const char *proto, *key, *tok;
        size_t pl, kl, tl;
        if (!hk_cursor_token(&c, &proto, &pl)) {
            hk_cursor_next_line(&c);
            continue;
        }
        if (pl < 2 || proto[pl - 1] != ':' || !word_ok(proto, pl - 1))
            return -EINVAL;
        pl--;
        unsigned pairs = 0;
        while (hk_cursor_token(&c, &key, &kl)) {
            int64_t v;
            if (!word_ok(key, kl) || !hk_cursor_token(&c, &tok, &tl))
                return -EINVAL; /* a key without its value */
            int r = hk_parse_i64(tok, tl, &v);
            if (r < 0)
                return r;
            pairs++;
            if (fn && (r = fn(proto, pl, key, kl, v, userdata)) < 0)
                return r;
        }
        if (!pairs)
            return -EINVAL;
        hk_cursor_next_line(&c);
        lines++;
    }
    return lines ? 0 : -EINVAL;
}

/* The states node_exporter exports (procfs' NetSockstatProtocol fields); others are skipped. */
static bool known_state(const char *key, size_t kl)
{
    static const char *const states[] = {"inuse", "orphan", "tw", "alloc", "mem", "memory"};
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
        if (hk_token_eq(key, kl, states[i]))
            return true;
    return false;
}

struct emit_ctx {
    struct hk_builder *b;
    bool ipv6;
    double page_size;
};

static int emit_gauge(struct hk_builder *b, const char *proto, size_t pl, const char *state,
                      size_t sl, double v)
{
    static const char prefix[] = "node_sockstat_";
    char name[sizeof(prefix) + 2 * SOCKSTAT_MAX_NAME + 16], help[3 * SOCKSTAT_MAX_NAME + 64];
    memcpy(name, prefix, sizeof(prefix) - 1);
    size_t o = sizeof(prefix) - 1;
    memcpy(name + o, proto, pl);
    name[o + pl] = '_';
    memcpy(name + o + pl + 1, state, sl);
    name[o + pl + 1 + sl] = '\0';
    /* "Number of %s sockets in state %s." */
    static const char h1[] = "Number of ", h2[] = " sockets in state ";
    size_t h = sizeof(h1) - 1;
    memcpy(help, h1, h);
    memcpy(help + h, proto, pl);
    h += pl;
    memcpy(help + h, h2, sizeof(h2) - 1);
    h += sizeof(h2) - 1;
    memcpy(help + h, state, sl);
    h += sl;
    memcpy(help + h, ".", 2);
    struct hk_family_spec spec = {name, help, HK_METRIC_GAUGE, ""};
    int r = hk_emit_labels(b, &spec, NULL, NULL, 0, v, 0);
    return r == -ENOMEM ? r : 0;
}

static int emit_pair(const char *proto, size_t pl, const char *key, size_t kl, int64_t value,
                     void *userdata)
{
    const struct emit_ctx *e = userdata;
    if (hk_token_eq(proto, pl, "sockets")) {
        if (e->ipv6 || !hk_token_eq(key, kl, "used"))
            return 0;
        static const struct hk_metric_desc used = {"node_sockstat_sockets_used",
                                                   "Number of IPv4 sockets in use.",
                                                   HK_METRIC_GAUGE, "", NULL};
        int r = hk_emit(e->b, &used, NULL, (double)value);
        return r == -ENOMEM ? r : 0;
    }
    if (!known_state(key, kl))
        return 0;
    int r = emit_gauge(e->b, proto, pl, key, kl, (double)value);
    if (r == 0 && hk_token_eq(key, kl, "mem"))
        r = emit_gauge(e->b, proto, pl, "mem_bytes", 9, (double)value * e->page_size);
    return r;
}

enum { F_V4, F_V6, F_N };
static const char *const files[F_N] = {"net/sockstat", "net/sockstat6"};

struct sockstat_state {
    struct hk_node_file file[F_N];
    char buf[F_N][4096]; /* ~200 bytes each today */
    struct hk_node_health health[F_N];
    double page_size;
};

static int sockstat_init(void **ret_state, const struct hk_collector_env *env)
{
    (void)env;
    struct sockstat_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    long ps = sysconf(_SC_PAGESIZE);
    s->page_size = ps > 0 ? (double)ps : 4096.0;
    for (int i = 0; i < F_N; i++)
        s->file[i] = (struct hk_node_file)HK_NODE_FILE_INIT;
    *ret_state = s;
    return 0;
}

static void sockstat_fini(void *state)
{
    struct sockstat_state *s = state;
    if (!s)
        return;
    for (int i = 0; i < F_N; i++)
        hk_node_file_close(&s->file[i]);
    free(s);
}

static int sockstat_collect(void *state, struct hk_collect_ctx *ctx)
{
    struct sockstat_state *s = state;
    for (int i = 0; i < F_N; i++) {
        ssize_t n = hk_node_file_read(&s->file[i], ctx->paths->proc_fd, files[i], s->buf[i],
                                      sizeof(s->buf[i]));
        if (n == -ENOENT)
            continue;
        int r = n < 0 ? (int)n : hk_sockstat_parse(s->buf[i], (size_t)n, NULL, NULL);
        if (r < 0) {
            hk_node_soft_error(&s->health[i], ctx, "sockstat", files[i], r);
            continue;
        }
        hk_node_ok(&s->health[i], "sockstat", files[i]);
        struct emit_ctx e = {ctx->b, i == F_V6, s->page_size};
        r = hk_sockstat_parse(s->buf[i], (size_t)n, emit_pair, &e);
        if (r < 0)
            return r;
    }
    return 0;
}

const struct hk_collector_ops hk_collector_sockstat = {
    .name = "sockstat",
    .help = "socket statistics from /proc/net/sockstat{,6} (node_sockstat_*)",
    .default_enabled = true,
    .init = sockstat_init,
    .collect = sockstat_collect,
    .fini = sockstat_fini,
};
