/* SPDX-License-Identifier: Apache-2.0 */
/* Memory statistics, node_exporter's meminfo collector: one gauge family per /proc/meminfo line.
 * Reads: <procfs>/meminfo.
 * Emits: node_memory_<Field>_bytes for fields in kB (×1024; "Active(anon)" → Active_anon), and
 * node_memory_<Field> for unit-less counts (HugePages_Total, HugePages_Free, …). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/node_common.h"
#include "collector/node_parsers.h"
#include "core/collector.h"
#include "core/parse.h"

int hk_meminfo_parse(const char *buf, size_t len, hk_meminfo_fn fn, void *userdata)
{
    struct hk_cursor c;
    const char *line;
    size_t ll;
    unsigned nfields = 0;
    hk_cursor_init(&c, buf, len);
    while (hk_cursor_line(&c, &line, &ll)) {
        if (ll == 0)
            continue;
        const char *colon = memchr(line, ':', ll);
        if (!colon || colon == line)
            return -EINVAL;
        size_t kl = (size_t)(colon - line);
        struct hk_cursor lc;
        hk_cursor_init(&lc, colon + 1, ll - kl - 1);
        const char *tok, *unit;
        size_t tl, ul;
        uint64_t v;
        if (!hk_cursor_token(&lc, &tok, &tl))
            return -EINVAL;
        int r = hk_parse_u64(tok, tl, &v);
        if (r < 0)
            return r;
        bool has_kb = false;
        if (hk_cursor_token(&lc, &unit, &ul)) {
            if (!hk_token_eq(unit, ul, "kB"))
                return -EINVAL;
            has_kb = true;
        }
        if (hk_cursor_token(&lc, &tok, &tl))
            return -EINVAL;
        char name[128];
        if (hk_meminfo_metric_name(line, kl, has_kb, name, sizeof(name)) < 0)
            return -EINVAL;
        nfields++;
        if (fn && (r = fn(line, kl, v, has_kb, userdata)) < 0)
            return r;
    }
    return nfields ? 0 : -EINVAL;
}

int hk_meminfo_metric_name(const char *key, size_t key_len, bool has_kb, char *out, size_t cap)
{
    static const char prefix[] = "node_memory_";
    size_t o = 0;
    if (key_len == 0 || cap < sizeof(prefix))
        return key_len ? -ENOSPC : -EINVAL;
    memcpy(out, prefix, sizeof(prefix) - 1);
    o = sizeof(prefix) - 1;
    for (size_t i = 0; i < key_len; i++) {
        char ch = key[i];
        if (ch == ')' && i == key_len - 1)
            continue; /* "Active(anon)" → "Active_anon" */
        if (ch == '(')
            ch = '_';
        else if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                   (ch >= '0' && ch <= '9') || ch == '_'))
            return -EINVAL;
        if (o + 1 >= cap)
            return -ENOSPC;
        out[o++] = ch;
    }
    if (has_kb) {
        if (o + 7 >= cap)
            return -ENOSPC;
        memcpy(out + o, "_bytes", 6);
        o += 6;
    }
    out[o] = '\0';
    return (int)o;
}

struct meminfo_state {
    struct hk_node_health health;
};

static int emit_field(const char *key, size_t key_len, uint64_t value, bool has_kb, void *userdata)
{
    struct hk_builder *b = userdata;
    char name[128], help[192];
    int nl = hk_meminfo_metric_name(key, key_len, has_kb, name, sizeof(name));
    if (nl < 0)
        return 0; /* not reached: the validating pass rejected the file */
    /* node_exporter's HELP names the field as the metric does: "… field Active_anon_bytes." */
    static const char hprefix[] = "Memory information field ";
    const char *field = name + sizeof("node_memory_") - 1;
    size_t fl = (size_t)nl - (sizeof("node_memory_") - 1);
    memcpy(help, hprefix, sizeof(hprefix) - 1);
    memcpy(help + sizeof(hprefix) - 1, field, fl);
    memcpy(help + sizeof(hprefix) - 1 + fl, ".", 2);
    struct hk_family_spec spec = {name, help, HK_METRIC_GAUGE, has_kb ? "bytes" : ""};
    /* kB × 1024 in double: a u64-max field must not wrap around. */
    double v = has_kb ? (double)value * 1024.0 : (double)value;
    hk_emit_labels(b, &spec, NULL, NULL, 0, v, 0);
    return 0;
}

static int meminfo_init(void **ret_state, const struct hk_collector_env *env)
{
    struct meminfo_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    *ret_state = s;
    return 0;
}

static int meminfo_collect(void *state, struct hk_collect_ctx *ctx)
{
    struct meminfo_state *s = state;
    char buf[8192]; /* ~1.5 KiB today, ~60 lines */
    ssize_t n = hk_read_file_at(ctx->paths->proc_fd, "meminfo", buf, sizeof(buf));
    if (n == -ENOENT)
        return 0;
    int r = n < 0 ? (int)n : hk_meminfo_parse(buf, (size_t)n, NULL, NULL);
    if (r < 0) {
        hk_node_soft_error(&s->health, ctx, "meminfo", "meminfo", r);
        return 0;
    }
    hk_node_ok(&s->health, "meminfo", "meminfo");
    return hk_meminfo_parse(buf, (size_t)n, emit_field, ctx->b);
}

const struct hk_collector_ops hk_collector_meminfo = {
    .name = "meminfo",
    .help = "memory statistics from /proc/meminfo (node_memory_*)",
    .default_enabled = true,
    .init = meminfo_init,
    .collect = meminfo_collect,
    .fini = free,
};
