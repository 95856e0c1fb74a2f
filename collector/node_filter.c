/* SPDX-License-Identifier: Apache-2.0 */
/* Field filter with a per-position memo (see node_filter.h). */
#include "collector/node_filter.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/node_common.h"
#include "collector/node_parsers.h"
#include "collector/node_token.h"

/* /proc/vmstat has ~180 fields, netstat+snmp+snmp6 ~420: room for both with margin. Positions
 * beyond, or names longer than a slot, are matched with the regex every time (still correct). */
#define MEMO_SLOTS 1024
#define MEMO_NAME 62

struct memo_slot {
    uint8_t len; /* 0 = empty */
    bool match;
    char name[MEMO_NAME];
};

struct hk_node_field_filter {
    struct hk_node_regex *re; /* NULL: every field matches */
    struct memo_slot memo[MEMO_SLOTS];
};

int hk_node_field_filter_new(const struct hk_collector_env *env, const char *key, const char *def,
                             struct hk_node_field_filter **ret)
{
    struct hk_node_regex *re = NULL;
    int r = hk_node_regex_option(env, key, def, ret ? &re : NULL);
    if (r < 0 || !ret)
        return r;
    struct hk_node_field_filter *f = calloc(1, sizeof(*f));
    if (!f) {
        hk_node_regex_free(re);
        return -ENOMEM;
    }
    f->re = re;
    *ret = f;
    return 0;
}

bool hk_node_field_filter_match(struct hk_node_field_filter *f, size_t pos, const char *name,
                                size_t len)
{
    if (!f->re)
        return true;
    if (pos >= MEMO_SLOTS || len == 0 || len > MEMO_NAME)
        return hk_node_regex_match(f->re, name, len);
    struct memo_slot *m = &f->memo[pos];
    if (m->len == len && memcmp(m->name, name, len) == 0)
        return m->match;
    m->match = hk_node_regex_match(f->re, name, len);
    memcpy(m->name, name, len);
    m->len = (uint8_t)len;
    return m->match;
}

void hk_node_field_filter_free(struct hk_node_field_filter *f)
{
    if (!f)
        return;
    hk_node_regex_free(f->re);
    free(f);
}

void hk_node_kv_layout_clear(struct hk_node_kv_layout *l)
{
    free(l->keys);
    free(l->off);
    free(l->len);
    free(l->sel);
    *l = (struct hk_node_kv_layout){0};
}

void hk_node_kv_layout_record(struct hk_node_kv_layout *l, const char *buf, size_t len,
                              size_t advance, hk_node_kv_select_fn select, void *userdata)
{
    hk_node_kv_layout_clear(l);
    struct hk_cursor c;
    const char *key;
    size_t kl, n = 0, bytes = 0;
    hk_cursor_init(&c, buf, len);
    while (!hk_cursor_eof(&c)) {
        if (hk_node_token(&c, &key, &kl)) {
            if (kl > UINT8_MAX)
                return;
            n++;
            bytes += kl;
        }
        hk_cursor_next_line(&c);
    }
    if (bytes > UINT32_MAX)
        return;
    l->keys = malloc(bytes ? bytes : 1);
    l->off = calloc(n ? n : 1, sizeof(*l->off));
    l->len = calloc(n ? n : 1, sizeof(*l->len));
    l->sel = calloc(n ? n : 1, sizeof(*l->sel));
    if (!l->keys || !l->off || !l->len || !l->sel) {
        hk_node_kv_layout_clear(l);
        return;
    }
    size_t i = 0, o = 0;
    hk_cursor_init(&c, buf, len);
    while (!hk_cursor_eof(&c)) {
        if (hk_node_token(&c, &key, &kl)) {
            memcpy(l->keys + o, key, kl);
            l->off[i] = (uint32_t)o;
            l->len[i] = (uint8_t)kl;
            if (select(key, kl, userdata))
                l->sel[l->nsel++] = (uint32_t)i;
            o += kl;
            i++;
        }
        hk_cursor_next_line(&c);
    }
    l->nlines = n;
    l->advance = advance;
}

int hk_node_kv_layout_parse(const struct hk_node_kv_layout *l, const char *buf, size_t len,
                            hk_node_kv_fn fn, void *userdata)
{
    if (!l->keys)
        return -EAGAIN;
    struct hk_cursor c;
    size_t i = 0, next = 0;
    hk_cursor_init(&c, buf, len);
    while (c.p < c.end) {
        const char *key, *tok;
        size_t kl, tl;
        if (!hk_node_token(&c, &key, &kl)) {
            hk_cursor_next_line(&c); /* blank, as the full parsers skip it */
            continue;
        }
        double v;
        if (i == l->nlines || kl != l->len[i] || memcmp(key, l->keys + l->off[i], kl) != 0 ||
            !hk_node_token(&c, &tok, &tl) || hk_parse_kernel_int(tok, tl, &v) < 0 ||
            hk_node_token(&c, &tok, &tl))
            return -EAGAIN;
        /* no token left: the cursor is at the line's '\n' (or the end); hk_cursor_next_line */
        if (c.p < c.end)
            c.p++;
        c.line++;
        if (next < l->nsel && l->sel[next] == i) {
            next++;
            int r = fn(key, kl, v, userdata);
            if (r < 0)
                return r;
        }
        i++;
    }
    return i == l->nlines ? 0 : -EAGAIN;
}
