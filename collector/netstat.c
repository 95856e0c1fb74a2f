/* SPDX-License-Identifier: Apache-2.0 */
/* Network protocol statistics, node_exporter's netstat collector.
 * Reads: <procfs>/net/netstat, <procfs>/net/snmp, <procfs>/net/snmp6 (absent without IPv6: then
 * skipped), all of the network namespace whose procfs that is.
 * Emits: node_netstat_<Proto>_<Field> (untyped, as node_exporter), for the "<Proto>_<Field>"
 * keys matching collectors.netstat.fields (default: node_exporter's newest default, which adds
 * TcpExt_TCPTimeouts, TCPOFOQueue and TCPRcvQDrop to 1.5's; it includes Tcp_RetransSegs,
 * Tcp_OutSegs and TcpExt_TCPSynRetrans). */
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

#define NETSTAT_FIELDS_DEFAULT                                                                     \
    "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|" \
    "TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|"            \
    "Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|"                 \
    "Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$"
#define NETSTAT_MAX_NAME 64 /* a protocol or a field name */

static bool name_ok(const char *s, size_t len)
{
    return len > 0 && len <= NETSTAT_MAX_NAME && hk_node_word_ok(s, len);
}

/* "Proto:" token → Proto. */
static bool proto_token(const char *tok, size_t tl, size_t *ret_len)
{
    if (tl < 2 || tok[tl - 1] != ':' || !name_ok(tok, tl - 1))
        return false;
    *ret_len = tl - 1;
    return true;
}

int hk_netstat_parse(const char *buf, size_t len, hk_netstat_fn fn, void *userdata)
{
    struct hk_cursor c;
    const char *names, *values;
    size_t nl, vl;
    unsigned pairs = 0;
    hk_cursor_init(&c, buf, len);
    while (hk_cursor_line(&c, &names, &nl)) {
        if (nl == 0)
            continue;
        if (!hk_cursor_line(&c, &values, &vl))
            return -EINVAL; /* a names line without its values line: truncated */
        struct hk_cursor nc, vc;
        const char *p1, *p2;
        size_t p1l, p2l;
        hk_cursor_init(&nc, names, nl);
        hk_cursor_init(&vc, values, vl);
        if (!hk_node_token(&nc, &p1, &p1l) || !hk_node_token(&vc, &p2, &p2l) ||
            !proto_token(p1, p1l, &p1l) || !proto_token(p2, p2l, &p2l) || p1l != p2l ||
            memcmp(p1, p2, p1l) != 0)
            return -EINVAL;
        const char *field = NULL, *tok = NULL;
        size_t fl = 0, tl = 0;
        for (;;) {
            bool have_name = hk_node_token(&nc, &field, &fl);
            bool have_value = hk_node_token(&vc, &tok, &tl);
            if (have_name != have_value)
                return -EINVAL; /* field count mismatch */
            if (!have_name)
                break;
            double v;
            if (!name_ok(field, fl))
                return -EINVAL;
            int r = hk_parse_kernel_int(tok, tl, &v);
            if (r < 0)
                return r;
            if (fn && (r = fn(p1, p1l, field, fl, v, userdata)) < 0)
                return r;
        }
        pairs++;
    }
    return pairs ? 0 : -EINVAL;
}

int hk_snmp6_parse(const char *buf, size_t len, hk_netstat_fn fn, void *userdata)
{
    struct hk_cursor c;
    unsigned n = 0;
    hk_cursor_init(&c, buf, len);
    while (!hk_cursor_eof(&c)) {
        const char *key, *tok;
        size_t kl, tl;
        if (!hk_node_token(&c, &key, &kl)) {
            hk_cursor_next_line(&c);
            continue;
        }
        double v;
        if (!name_ok(key, kl) || !hk_node_token(&c, &tok, &tl))
            return -EINVAL;
        int r = hk_parse_kernel_int(tok, tl, &v);
        if (r < 0)
            return r;
        if (hk_node_token(&c, &tok, &tl))
            return -EINVAL;
        hk_cursor_next_line(&c);
        n++;
        const char *six = memchr(key, '6', kl);
        if (!six || six == key + kl - 1)
            continue; /* no protocol prefix (or no field after it): node_exporter skips it */
        size_t pl = (size_t)(six + 1 - key);
        if (fn && (r = fn(key, pl, key + pl, kl - pl, v, userdata)) < 0)
            return r;
    }
    return n ? 0 : -EINVAL;
}

enum { F_NETSTAT, F_SNMP, F_SNMP6, F_N };
static const char *const files[F_N] = {"net/netstat", "net/snmp", "net/snmp6"};

/* Fields kept from one cycle's parse (the default regex keeps ~45 of ~420). */
#define NETSTAT_MAX_HITS 2048

struct netstat_hit {
    const char *proto, *field; /* into the file's buffer */
    size_t proto_len, field_len;
    double value;
};

/* The names lines of a netstat/snmp file as last parsed whole: while a read has the very same
 * names lines in the same places (always, on one kernel), the values lines are walked alone
 * (every value still checked) and the selected fields picked by position, without splitting
 * and matching the ~300 names each cycle. Anything else (a line added, moved or changed, a
 * count mismatch, a bad value) goes to hk_netstat_parse, which decides. */
struct netstat_sel {
    uint32_t index;   /* field position over the file's values */
    uint16_t proto;   /* offset of the protocol name in names */
    uint16_t field;   /* offset of the field name in names */
    uint8_t proto_len, field_len;
};

struct netstat_layout {
    char *names;          /* the names lines, each followed by '\n' */
    size_t names_len;
    uint32_t *line_len;   /* per pair: names line length */
    uint32_t *proto_tok;  /* per pair: offset in names of its "Proto:" token … */
    uint8_t *proto_tok_len; /* … and that token's length */
    uint32_t *nfields;    /* per pair: field count (without the "Proto:" token) */
    size_t npairs;
    struct netstat_sel *sel; /* selected fields, by index */
    size_t nsel;
};

struct netstat_state {
    struct netstat_layout layout[F_N]; /* netstat, snmp */
    struct hk_node_kv_layout layout6;  /* snmp6 */
    struct hk_node_file file[F_N];
    struct hk_node_buf buf[F_N];
    struct hk_node_health health[F_N];
    struct hk_node_field_filter *fields;
    size_t pos; /* field position over the three files, the filter's memo slot */
    size_t nhits;
    struct netstat_hit hits[NETSTAT_MAX_HITS];
};

static const char *const netstat_keys[] = {HK_COLLECTOR_COMMON_KEYS, "fields", NULL};

static int netstat_check(const struct hk_collector_env *env)
{
    int r = hk_yaml_check_keys(env->options, netstat_keys, env->err);
    return r < 0 ? r : hk_node_field_filter_new(env, "fields", NETSTAT_FIELDS_DEFAULT, NULL);
}

static void layout_clear(struct netstat_layout *l)
{
    free(l->names);
    free(l->line_len);
    free(l->proto_tok);
    free(l->proto_tok_len);
    free(l->nfields);
    free(l->sel);
    *l = (struct netstat_layout){0};
}

static void netstat_fini(void *state)
{
    struct netstat_state *s = state;
    if (!s)
        return;
    for (int i = 0; i < F_N; i++) {
        hk_node_file_close(&s->file[i]);
        hk_node_buf_free(&s->buf[i]);
        layout_clear(&s->layout[i]);
    }
    hk_node_kv_layout_clear(&s->layout6);
    hk_node_field_filter_free(s->fields);
    free(s);
}

static int netstat_init(void **ret_state, const struct hk_collector_env *env)
{
    int r = netstat_check(env);
    if (r < 0)
        return r;
    struct netstat_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    /* netstat ~4 KiB, snmp ~2 KiB, snmp6 ~6 KiB today */
    for (int i = 0; i < F_N; i++) {
        s->file[i] = (struct hk_node_file)HK_NODE_FILE_INIT;
        hk_node_buf_init(&s->buf[i], 16384, 1u << 20);
    }
    r = hk_node_field_filter_new(env, "fields", NETSTAT_FIELDS_DEFAULT, &s->fields);
    if (r < 0) {
        netstat_fini(s);
        return r;
    }
    *ret_state = s;
    return 0;
}

/* One pass: every field is validated, the selected ones kept for emitting once their file
 * turned out well-formed. */
static int keep_field(const char *proto, size_t proto_len, const char *field, size_t field_len,
                      double value, void *userdata)
{
    struct netstat_state *s = userdata;
    char key[2 * NETSTAT_MAX_NAME + 2]; /* "Proto_Field", what the regex sees */
    memcpy(key, proto, proto_len);
    key[proto_len] = '_';
    memcpy(key + proto_len + 1, field, field_len);
    if (!hk_node_field_filter_match(s->fields, s->pos++, key, proto_len + 1 + field_len))
        return 0;
    if (s->nhits == NETSTAT_MAX_HITS)
        return -EFBIG; /* a fields regex selecting more than we keep */
    s->hits[s->nhits++] = (struct netstat_hit){proto, field, proto_len, field_len, value};
    return 0;
}

/* Records the layout of buf, a netstat/snmp file hk_netstat_parse just accepted (so every line
 * is well-formed) and whose selected fields keep_field marked from position pos0 on. A layout
 * that does not fit (too large for the offsets) is simply not recorded: the full parse runs. */
static void layout_record(struct netstat_state *s, struct netstat_layout *l, const char *buf,
                          size_t len, size_t pos0, size_t nkept)
{
    layout_clear(l);
    size_t npairs = 0, names_len = 0, nsel = 0;
    struct hk_cursor c;
    const char *line;
    size_t ll;
    hk_cursor_init(&c, buf, len);
    while (hk_cursor_line(&c, &line, &ll)) {
        if (ll == 0)
            continue;
        npairs++;
        names_len += ll + 1;
        hk_cursor_line(&c, &line, &ll); /* the values line */
    }
    if (names_len > UINT16_MAX)
        return;
    l->names = malloc(names_len ? names_len : 1);
    l->line_len = calloc(npairs ? npairs : 1, sizeof(*l->line_len));
    l->proto_tok = calloc(npairs ? npairs : 1, sizeof(*l->proto_tok));
    l->proto_tok_len = calloc(npairs ? npairs : 1, sizeof(*l->proto_tok_len));
    l->nfields = calloc(npairs ? npairs : 1, sizeof(*l->nfields));
    l->sel = calloc(nkept ? nkept : 1, sizeof(*l->sel));
    if (!l->names || !l->line_len || !l->proto_tok || !l->proto_tok_len || !l->nfields ||
        !l->sel) {
        layout_clear(l);
        return;
    }
    size_t o = 0, pair = 0, index = 0, pos = pos0;
    hk_cursor_init(&c, buf, len);
    while (hk_cursor_line(&c, &line, &ll)) {
        if (ll == 0)
            continue;
        memcpy(l->names + o, line, ll);
        l->names[o + ll] = '\n';
        l->line_len[pair] = (uint32_t)ll;
        struct hk_cursor nc;
        const char *proto = NULL, *field = NULL;
        size_t pl = 0, fl = 0;
        hk_cursor_init(&nc, l->names + o, ll);
        if (!hk_node_token(&nc, &proto, &pl) || pl < 2) { /* cannot happen: parsed whole */
            layout_clear(l);
            return;
        }
        l->proto_tok[pair] = (uint32_t)(proto - l->names);
        l->proto_tok_len[pair] = (uint8_t)pl;
        pl--; /* the ':' */
        uint32_t n = 0;
        while (hk_node_token(&nc, &field, &fl)) {
            char key[2 * NETSTAT_MAX_NAME + 2];
            memcpy(key, proto, pl);
            key[pl] = '_';
            memcpy(key + pl + 1, field, fl);
            /* the memo answers: keep_field just matched this position */
            if (hk_node_field_filter_match(s->fields, pos++, key, pl + 1 + fl)) {
                if (nsel == nkept) { /* cannot happen: keep_field kept as many */
                    layout_clear(l);
                    return;
                }
                l->sel[nsel++] = (struct netstat_sel){
                    (uint32_t)index, (uint16_t)(proto - l->names), (uint16_t)(field - l->names),
                    (uint8_t)pl, (uint8_t)fl};
            }
            index++;
            n++;
        }
        l->nfields[pair++] = n;
        o += ll + 1;
        hk_cursor_line(&c, &line, &ll);
    }
    l->names_len = names_len;
    l->npairs = npairs;
    l->nsel = nsel;
}

/* The fast path: buf has the recorded layout and every value is a kernel integer. Appends the
 * selected fields to s->hits and returns 0, or returns -EAGAIN (nothing appended) when the full
 * parse must decide. */
static int layout_parse(struct netstat_state *s, const struct netstat_layout *l, const char *buf,
                        size_t len)
{
    if (!l->names || s->nhits + l->nsel > NETSTAT_MAX_HITS)
        return -EAGAIN;
    struct hk_cursor c;
    const char *line, *values;
    size_t ll, vl, pair = 0, o = 0, index = 0, next = 0, kept = s->nhits;
    hk_cursor_init(&c, buf, len);
    while (hk_cursor_line(&c, &line, &ll)) {
        if (ll == 0)
            continue;
        if (pair == l->npairs || ll != l->line_len[pair] || memcmp(line, l->names + o, ll) != 0 ||
            !hk_cursor_line(&c, &values, &vl))
            goto slow;
        /* "Proto:" as on the names line, then exactly nfields values */
        struct hk_cursor vc;
        const char *tok;
        size_t tl;
        hk_cursor_init(&vc, values, vl);
        if (!hk_node_token(&vc, &tok, &tl) || tl != l->proto_tok_len[pair] ||
            memcmp(tok, l->names + l->proto_tok[pair], tl) != 0)
            goto slow;
        for (uint32_t f = 0; f < l->nfields[pair]; f++, index++) {
            double v;
            if (!hk_node_token(&vc, &tok, &tl) || hk_parse_kernel_int(tok, tl, &v) < 0)
                goto slow;
            if (next < l->nsel && l->sel[next].index == index) {
                const struct netstat_sel *e = &l->sel[next++];
                s->hits[s->nhits++] = (struct netstat_hit){l->names + e->proto, l->names + e->field,
                                                           e->proto_len, e->field_len, v};
            }
        }
        if (hk_node_token(&vc, &tok, &tl))
            goto slow;
        o += ll + 1;
        pair++;
    }
    if (pair != l->npairs)
        goto slow;
    s->pos += index;
    return 0;
slow:
    s->nhits = kept;
    return -EAGAIN;
}

/* snmp6's layout selection: positions move only on the keys hk_snmp6_parse hands to
 * keep_field (those with a protocol prefix), the memo answers as it just did. */
static bool select6(const char *key, size_t kl, void *userdata)
{
    struct netstat_state *s = userdata;
    const char *six = memchr(key, '6', kl);
    if (!six || six == key + kl - 1)
        return false;
    size_t pl = (size_t)(six + 1 - key);
    char k[2 * NETSTAT_MAX_NAME + 2];
    memcpy(k, key, pl);
    k[pl] = '_';
    memcpy(k + pl + 1, key + pl, kl - pl);
    return hk_node_field_filter_match(s->fields, s->pos++, k, kl + 1);
}

static int keep6(const char *key, size_t kl, double value, void *userdata)
{
    struct netstat_state *s = userdata;
    const char *six = memchr(key, '6', kl); /* selected: there is one, not last */
    size_t pl = six ? (size_t)(six + 1 - key) : 0;
    if (!six || s->nhits == NETSTAT_MAX_HITS)
        return -EAGAIN; /* the full parse decides */
    s->hits[s->nhits++] = (struct netstat_hit){key, key + pl, pl, kl - pl, value};
    return 0;
}

static int emit_field(struct hk_builder *b, const struct netstat_hit *h)
{
    static const char prefix[] = "node_netstat_", hprefix[] = "Statistic ";
    char name[sizeof(prefix) + 2 * NETSTAT_MAX_NAME + 1];
    char help[sizeof(hprefix) + 2 * NETSTAT_MAX_NAME + 1];
    size_t o = sizeof(prefix) - 1;
    memcpy(name, prefix, o);
    memcpy(name + o, h->proto, h->proto_len);
    name[o + h->proto_len] = '_';
    memcpy(name + o + h->proto_len + 1, h->field, h->field_len);
    name[o + h->proto_len + 1 + h->field_len] = '\0';
    o = sizeof(hprefix) - 1;
    memcpy(help, hprefix, o);
    memcpy(help + o, h->proto, h->proto_len);
    memcpy(help + o + h->proto_len, h->field, h->field_len);
    memcpy(help + o + h->proto_len + h->field_len, ".", 2);
    struct hk_family_spec spec = {name, help, HK_METRIC_UNTYPED, ""};
    int r = hk_emit_labels(b, &spec, NULL, NULL, 0, h->value, 0);
    return r == -ENOMEM ? r : 0;
}

static int netstat_collect(void *state, struct hk_collect_ctx *ctx)
{
    struct netstat_state *s = state;
    s->pos = 0;
    s->nhits = 0;
    /* A bad file is skipped alone, its fields dropped (node_exporter drops all three). */
    for (int i = 0; i < F_N; i++) {
        ssize_t n = hk_node_file_read_buf(&s->file[i], ctx->paths->proc_fd, files[i], &s->buf[i]);
        if (n == -ENOMEM)
            return -ENOMEM;
        if (n == -ENOENT)
            continue; /* snmp6 without IPv6 */
        size_t kept = s->nhits, pos0 = s->pos;
        int r = (int)n;
        if (n >= 0 && i == F_SNMP6) {
            r = hk_node_kv_layout_parse(&s->layout6, s->buf[i].data, (size_t)n, keep6, s);
            if (r == 0) {
                s->pos += s->layout6.advance;
            } else if (r == -EAGAIN) {
                s->nhits = kept;
                r = hk_snmp6_parse(s->buf[i].data, (size_t)n, keep_field, s);
                if (r == 0) {
                    size_t advance = s->pos - pos0;
                    s->pos = pos0;
                    hk_node_kv_layout_record(&s->layout6, s->buf[i].data, (size_t)n, advance,
                                             select6, s);
                    s->pos = pos0 + advance;
                }
            }
        } else if (n >= 0) {
            r = layout_parse(s, &s->layout[i], s->buf[i].data, (size_t)n);
            if (r == -EAGAIN) {
                r = hk_netstat_parse(s->buf[i].data, (size_t)n, keep_field, s);
                if (r == 0)
                    layout_record(s, &s->layout[i], s->buf[i].data, (size_t)n, pos0,
                                  s->nhits - kept);
            }
        }
        if (r < 0) {
            s->nhits = kept;
            hk_node_soft_error(&s->health[i], ctx, "netstat", files[i], r);
            continue;
        }
        hk_node_ok(&s->health[i], "netstat", files[i]);
    }
    for (size_t i = 0; i < s->nhits; i++) {
        int r = emit_field(ctx->b, &s->hits[i]);
        if (r < 0)
            return r;
    }
    return 0;
}

const struct hk_collector_ops hk_collector_netstat = {
    .name = "netstat",
    .help = "protocol statistics from /proc/net/{netstat,snmp,snmp6} (node_netstat_*)",
    .default_enabled = true,
    .check = netstat_check,
    .init = netstat_init,
    .collect = netstat_collect,
    .fini = netstat_fini,
};
