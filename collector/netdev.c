/* SPDX-License-Identifier: Apache-2.0 */
/* Network interface counters, node_exporter's netdev collector (procfs variant).
 * Reads: <procfs>/net/dev (the network namespace of the process whose procfs that is; with
 * --path.procfs=/host/proc that is the host's init process view).
 * Emits: node_network_receive_{bytes,packets,errs,drop,fifo,frame,compressed,multicast}_total,
 * node_network_transmit_{bytes,packets,errs,drop,fifo,colls,carrier,compressed}_total {device}.
 * Option: collectors.netdev.device_exclude (regex, default "" = keep all, node_exporter's
 * upstream default). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/node_common.h"
#include "collector/node_parsers.h"
#include "core/collector.h"
#include "core/parse.h"

int hk_netdev_parse(const char *buf, size_t len, hk_netdev_fn fn, void *userdata)
{
    struct hk_cursor c;
    const char *line;
    size_t ll;
    hk_cursor_init(&c, buf, len);
    while (hk_cursor_line(&c, &line, &ll)) {
        if (ll == 0 || memchr(line, '|', ll))
            continue; /* the two header lines */
        /* "%6s:%8llu …": the name and the first number may touch ("eth0:12345678901"). */
        const char *colon = memchr(line, ':', ll);
        if (!colon)
            return -EINVAL;
        const char *name = line;
        while (name < colon && (*name == ' ' || *name == '\t'))
            name++;
        size_t nl = (size_t)(colon - name);
        if (nl == 0 || nl > 15) /* IFNAMSIZ - 1 */
            return -EINVAL;
        for (size_t i = 0; i < nl; i++)
            if (name[i] == ' ' || name[i] == '\t')
                return -EINVAL;
        struct hk_cursor lc;
        hk_cursor_init(&lc, colon + 1, ll - (size_t)(colon + 1 - line));
        uint64_t v[HK_NETDEV_NFIELDS];
        unsigned n = 0;
        const char *tok;
        size_t tl;
        while (hk_cursor_token(&lc, &tok, &tl)) {
            if (n == HK_NETDEV_NFIELDS)
                return -EINVAL;
            int r = hk_parse_u64(tok, tl, &v[n++]);
            if (r < 0)
                return r;
        }
        if (n != HK_NETDEV_NFIELDS)
            return -EINVAL;
        int r;
        if (fn && (r = fn(name, nl, v, userdata)) < 0)
            return r;
    }
    return 0;
}

static const char *const device_label[] = {"device", NULL};

#define NETDEV_DESC(dir, field, what)                                                              \
    {                                                                                              \
        "node_network_" dir "_" field "_total",                                                    \
            "Network device statistic " dir "_" field " (" what ").", HK_METRIC_COUNTER, "",       \
            device_label                                                                           \
    }

/* Indexed like the HK_NETDEV_* columns. */
static const struct hk_metric_desc desc_netdev[HK_NETDEV_NFIELDS] = {
    NETDEV_DESC("receive", "bytes", "bytes received"),
    NETDEV_DESC("receive", "packets", "packets received"),
    NETDEV_DESC("receive", "errs", "receive errors"),
    NETDEV_DESC("receive", "drop", "packets dropped on receive"),
    NETDEV_DESC("receive", "fifo", "receive FIFO overruns"),
    NETDEV_DESC("receive", "frame", "receive framing errors"),
    NETDEV_DESC("receive", "compressed", "compressed packets received"),
    NETDEV_DESC("receive", "multicast", "multicast packets received"),
    NETDEV_DESC("transmit", "bytes", "bytes sent"),
    NETDEV_DESC("transmit", "packets", "packets sent"),
    NETDEV_DESC("transmit", "errs", "transmit errors"),
    NETDEV_DESC("transmit", "drop", "packets dropped on transmit"),
    NETDEV_DESC("transmit", "fifo", "transmit FIFO overruns"),
    NETDEV_DESC("transmit", "colls", "collisions"),
    NETDEV_DESC("transmit", "carrier", "carrier losses"),
    NETDEV_DESC("transmit", "compressed", "compressed packets sent"),
};

struct netdev_state {
    struct hk_node_buf buf;
    struct hk_node_health health;
    struct hk_node_regex *exclude;
};

static const char *const netdev_keys[] = {HK_COLLECTOR_COMMON_KEYS, "device_exclude", NULL};

static int netdev_check(const struct hk_collector_env *env)
{
    int r = hk_yaml_check_keys(env->options, netdev_keys, env->err);
    return r < 0 ? r : hk_node_regex_option(env, "device_exclude", "", NULL);
}

static void netdev_fini(void *state)
{
    struct netdev_state *s = state;
    if (!s)
        return;
    hk_node_buf_free(&s->buf);
    hk_node_regex_free(s->exclude);
    free(s);
}

static int netdev_init(void **ret_state, const struct hk_collector_env *env)
{
    int r = netdev_check(env);
    if (r < 0)
        return r;
    struct netdev_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    hk_node_buf_init(&s->buf, 8192, 16u << 20); /* ~130 bytes per interface */
    r = hk_node_regex_option(env, "device_exclude", "", &s->exclude);
    if (r < 0) {
        netdev_fini(s);
        return r;
    }
    *ret_state = s;
    return 0;
}

struct emit_ctx {
    struct hk_builder *b;
    const struct hk_node_regex *exclude;
};

static int emit_device(const char *device, size_t device_len, const uint64_t *v, void *userdata)
{
    const struct emit_ctx *e = userdata;
    if (hk_node_regex_match(e->exclude, device, device_len))
        return 0;
    char name[16];
    memcpy(name, device, device_len);
    name[device_len] = '\0';
    const char *values[] = {name};
    for (unsigned i = 0; i < HK_NETDEV_NFIELDS; i++)
        hk_emit(e->b, &desc_netdev[i], values, (double)v[i]);
    return 0;
}

static int netdev_collect(void *state, struct hk_collect_ctx *ctx)
{
    struct netdev_state *s = state;
    ssize_t n = hk_node_buf_read(&s->buf, ctx->paths->proc_fd, "net/dev");
    if (n == -ENOENT)
        return 0;
    if (n == -ENOMEM)
        return -ENOMEM;
    int r = n < 0 ? (int)n : hk_netdev_parse(s->buf.data, (size_t)n, NULL, NULL);
    if (r < 0) {
        hk_node_soft_error(&s->health, ctx, "netdev", "net/dev", r);
        return 0;
    }
    hk_node_ok(&s->health, "netdev", "net/dev");
    struct emit_ctx e = {ctx->b, s->exclude};
    return hk_netdev_parse(s->buf.data, (size_t)n, emit_device, &e);
}

const struct hk_collector_ops hk_collector_netdev = {
    .name = "netdev",
    .help = "network interface counters from /proc/net/dev (node_network_*_total)",
    .default_enabled = true,
    .check = netdev_check,
    .init = netdev_init,
    .collect = netdev_collect,
    .fini = netdev_fini,
};
