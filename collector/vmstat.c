/* SPDX-License-Identifier: Apache-2.0 */
/* Virtual memory statistics, node_exporter's vmstat collector.
 * Reads: <procfs>/vmstat.
 * Emits: node_vmstat_<field> (untyped, as node_exporter) for the fields matching
 * collectors.vmstat.fields (default node_exporter's "^(oom_kill|pgpg|pswp|pg.*fault).*":
 * oom_kill, pgpgin, pgpgout, pswpin, pswpout, pgfault, pgmajfault). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/node_common.h"
#include "collector/node_file.h"
#include "collector/node_filter.h"
#include "collector/node_parsers.h"
#include "collector/node_token.h"
#include "core/collector.h"
#include "core/parse.h"

#define VMSTAT_FIELDS_DEFAULT "^(oom_kill|pgpg|pswp|pg.*fault).*"
#define VMSTAT_MAX_KEY 64

int hk_parse_kernel_int(const char *s, size_t len, double *ret)
{
    /* Hand-rolled rather than strtoull: these files have hundreds of numbers per cycle. */
    bool neg = len > 0 && s[0] == '-';
    size_t i = neg ? 1 : 0;
    if (i == len)
        return -EINVAL;
    uint64_t v = 0;
    /* Up to 19 digits cannot overflow (10^19 - 1 < 2^64): no range check per digit there. */
    size_t fast_end = len - i <= 19 ? len : i + 19;
    for (; i < fast_end; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9)
            return -EINVAL;
        v = v * 10 + d;
    }
    for (; i < len; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9)
            return -EINVAL;
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    if (neg && v > (uint64_t)INT64_MAX + 1)
        return -ERANGE;
    *ret = neg && v ? -(double)v : (double)v;
    return 0;
}

static bool name_chars_ok(const char *s, size_t len)
{
    return len > 0 && hk_node_word_ok(s, len);
}

int hk_vmstat_parse(const char *buf, size_t len, hk_vmstat_fn fn, void *userdata)
{
    struct hk_cursor c;
    unsigned n = 0;
    hk_cursor_init(&c, buf, len);
    while (!hk_cursor_eof(&c)) {
        const char *key, *tok;
        size_t kl, tl;
        if (!hk_node_token(&c, &key, &kl)) {
            hk_cursor_next_line(&c); /* blank line */
            continue;
        }
        double v;
        if (kl > VMSTAT_MAX_KEY || !name_chars_ok(key, kl) || !hk_node_token(&c, &tok, &tl))
            return -EINVAL;
        int r = hk_parse_kernel_int(tok, tl, &v);
        if (r < 0)
            return r;
        if (hk_node_token(&c, &tok, &tl))
            return -EINVAL;
        hk_cursor_next_line(&c);
        n++;
        if (fn && (r = fn(key, kl, v, userdata)) < 0)
            return r;
    }
    return n ? 0 : -EINVAL;
}

/* Fields kept from one parse: at most this many are emitted (the default regex keeps 7). */
#define VMSTAT_MAX_HITS 1024

struct vmstat_hit {
    const char *key; /* into buf */
    size_t key_len;
    double value;
};

struct vmstat_state {
    struct hk_node_kv_layout layout; /* the fast path: same keys as last cycle */
    struct hk_node_file file;
    struct hk_node_buf buf;
    struct hk_node_health health;
    struct hk_node_field_filter *fields;
    size_t pos; /* field position within the current parse: the filter's memo slot */
    size_t nhits;
    struct vmstat_hit hits[VMSTAT_MAX_HITS];
};

static const char *const vmstat_keys[] = {HK_COLLECTOR_COMMON_KEYS, "fields", NULL};

static int vmstat_check(const struct hk_collector_env *env)
{
    int r = hk_yaml_check_keys(env->options, vmstat_keys, env->err);
    return r < 0 ? r : hk_node_field_filter_new(env, "fields", VMSTAT_FIELDS_DEFAULT, NULL);
}

static void vmstat_fini(void *state)
{
    struct vmstat_state *s = state;
    if (!s)
        return;
    hk_node_file_close(&s->file);
    hk_node_buf_free(&s->buf);
    hk_node_kv_layout_clear(&s->layout);
    hk_node_field_filter_free(s->fields);
    free(s);
}

static int vmstat_init(void **ret_state, const struct hk_collector_env *env)
{
    int r = vmstat_check(env);
    if (r < 0)
        return r;
    struct vmstat_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->file = (struct hk_node_file)HK_NODE_FILE_INIT;
    hk_node_buf_init(&s->buf, 16384, 1u << 20); /* ~5 KiB today, ~180 lines */
    r = hk_node_field_filter_new(env, "fields", VMSTAT_FIELDS_DEFAULT, &s->fields);
    if (r < 0) {
        vmstat_fini(s);
        return r;
    }
    *ret_state = s;
    return 0;
}

/* One pass: every line is validated, the selected ones kept for emitting once the whole file
 * turned out well-formed. */
static int keep_field(const char *key, size_t key_len, double value, void *userdata)
{
    struct vmstat_state *s = userdata;
    if (!hk_node_field_filter_match(s->fields, s->pos++, key, key_len))
        return 0;
    if (s->nhits == VMSTAT_MAX_HITS)
        return -EFBIG; /* a fields regex selecting more than we keep */
    s->hits[s->nhits++] = (struct vmstat_hit){key, key_len, value};
    return 0;
}

/* The layout's selection: the memo answers what keep_field just asked at the same positions. */
static bool select_field(const char *key, size_t key_len, void *userdata)
{
    struct vmstat_state *s = userdata;
    return hk_node_field_filter_match(s->fields, s->pos++, key, key_len);
}

static int keep_selected(const char *key, size_t key_len, double value, void *userdata)
{
    struct vmstat_state *s = userdata;
    if (s->nhits == VMSTAT_MAX_HITS)
        return -EAGAIN; /* the full parse reports it */
    s->hits[s->nhits++] = (struct vmstat_hit){key, key_len, value};
    return 0;
}

static int emit_field(struct hk_builder *b, const struct vmstat_hit *h)
{
    static const char prefix[] = "node_vmstat_", hprefix[] = "/proc/vmstat information field ";
    char name[sizeof(prefix) + VMSTAT_MAX_KEY], help[sizeof(hprefix) + VMSTAT_MAX_KEY + 1];
    memcpy(name, prefix, sizeof(prefix) - 1);
    memcpy(name + sizeof(prefix) - 1, h->key, h->key_len);
    name[sizeof(prefix) - 1 + h->key_len] = '\0';
    memcpy(help, hprefix, sizeof(hprefix) - 1);
    memcpy(help + sizeof(hprefix) - 1, h->key, h->key_len);
    memcpy(help + sizeof(hprefix) - 1 + h->key_len, ".", 2);
    struct hk_family_spec spec = {name, help, HK_METRIC_UNTYPED, ""};
    int r = hk_emit_labels(b, &spec, NULL, NULL, 0, h->value, 0);
    return r == -ENOMEM ? r : 0;
}

static int vmstat_collect(void *state, struct hk_collect_ctx *ctx)
{
    struct vmstat_state *s = state;
    ssize_t n = hk_node_file_read_buf(&s->file, ctx->paths->proc_fd, "vmstat", &s->buf);
    if (n == -ENOENT)
        return 0;
    if (n == -ENOMEM)
        return -ENOMEM;
    s->pos = 0;
    s->nhits = 0;
    int r = (int)n;
    if (n >= 0 && (r = hk_node_kv_layout_parse(&s->layout, s->buf.data, (size_t)n, keep_selected,
                                               s)) == -EAGAIN) {
        s->nhits = 0;
        r = hk_vmstat_parse(s->buf.data, (size_t)n, keep_field, s);
        if (r == 0) {
            size_t advance = s->pos;
            s->pos = 0;
            hk_node_kv_layout_record(&s->layout, s->buf.data, (size_t)n, advance, select_field, s);
        }
    }
    if (r < 0) {
        hk_node_soft_error(&s->health, ctx, "vmstat", "vmstat", r);
        return 0;
    }
    hk_node_ok(&s->health, "vmstat", "vmstat");
    for (size_t i = 0; i < s->nhits; i++)
        if ((r = emit_field(ctx->b, &s->hits[i])) < 0)
            return r;
    return 0;
}

const struct hk_collector_ops hk_collector_vmstat = {
    .name = "vmstat",
    .help = "virtual memory statistics from /proc/vmstat (node_vmstat_*)",
    .default_enabled = true,
    .check = vmstat_check,
    .init = vmstat_init,
    .collect = vmstat_collect,
    .fini = vmstat_fini,
};
