/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus text 0.0.4 and OpenMetrics 1.0.0 rendering, of a whole snapshot or of the families
 * of some scrape targets (node_exporter's, cAdvisor's, hakari's own). */
#include "exporter/textfmt.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Values with at most 6 decimals and 16 digits (cpu seconds from USER_HZ ticks, ratios, byte
 * counts / 1024) without printf: m = v * 10^k is an integer and m / 10^k gives v back exactly
 * (a correctly rounded division of two exact numbers is what strtod returns for the decimal), so
 * the decimal round-trips; the smallest such k gives the shortest one. Restricted to
 * 1e-4 <= |v| < 1e15, where %.15g..%.17g print the same digits in fixed notation. Returns 0 when
 * the value does not qualify. */
static size_t format_fixed_fast(char *buf, size_t cap, double v)
{
    static const double p10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
    double a = fabs(v);
    if (!(a >= 1e-4 && a < 1e15) || cap < 32)
        return 0;
    for (int k = 1; k <= 6; k++) {
        double m = v * p10[k];
        if (fabs(m) >= 9007199254740992.0)
            return 0;
        if (m != trunc(m) || m / p10[k] != v)
            continue;
        int64_t im = (int64_t)m;
        if (im % 10 == 0)
            return 0; /* a smaller k should have matched: leave odd cases to the slow path */
        uint64_t u = im < 0 ? (uint64_t)0 - (uint64_t)im : (uint64_t)im;
        char digits[24];
        int nd = 0;
        do {
            digits[nd++] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        while (nd <= k)
            digits[nd++] = '0'; /* 0.005 → at least one integer digit */
        size_t o = 0;
        if (im < 0)
            buf[o++] = '-';
        for (int i = nd - 1; i >= 0; i--) {
            buf[o++] = digits[i];
            if (i == k)
                buf[o++] = '.';
        }
        buf[o] = '\0';
        return o;
    }
    return 0;
}

size_t hk_format_double(char *buf, size_t cap, double v)
{
    int n;
    size_t fast = format_fixed_fast(buf, cap, v);
    if (fast)
        return fast;
    if (isnan(v))
        n = snprintf(buf, cap, "NaN");
    else if (isinf(v))
        n = snprintf(buf, cap, v > 0 ? "+Inf" : "-Inf");
    else if (fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v) /* exact integer < 2^53 */
        /* The range test comes first: converting an out-of-range double to int64 is undefined. */
        n = snprintf(buf, cap, "%" PRId64, (int64_t)v);
    else if (fabs(v) < DBL_MIN) {
        /* Subnormals carry fewer digits, so %.15g is not the shortest form: search upwards. */
        n = 0;
        for (int prec = 1; prec <= 17; prec++) {
            n = snprintf(buf, cap, "%.*g", prec, v);
            if (strtod(buf, NULL) == v)
                break;
        }
    } else {
        /* For normal doubles the nearest 15-, 16- or 17-digit decimal that round-trips is also
         * the shortest one (every decimal of <= 15 digits round-trips through a double). */
        n = snprintf(buf, cap, "%.15g", v);
        if (strtod(buf, NULL) != v) {
            n = snprintf(buf, cap, "%.16g", v);
            if (strtod(buf, NULL) != v)
                n = snprintf(buf, cap, "%.17g", v);
        }
    }
    return n < 0 ? 0 : (size_t)n;
}

int hk_textfmt_escape_value(struct hk_buf *out, const char *v)
{
    const char *run = v;
    for (const char *p = v; *p; p++) {
        const char *esc = NULL;
        if (*p == '\\')
            esc = "\\\\";
        else if (*p == '"')
            esc = "\\\"";
        else if (*p == '\n')
            esc = "\\n";
        if (esc) {
            hk_buf_put(out, run, (size_t)(p - run));
            hk_buf_put(out, esc, 2);
            run = p + 1;
        }
    }
    return hk_buf_puts(out, run);
}

static void escape_help(struct hk_buf *out, const char *h, bool om)
{
    const char *run = h;
    for (const char *p = h; *p; p++) {
        const char *esc = NULL;
        if (*p == '\\')
            esc = "\\\\";
        else if (*p == '\n')
            esc = "\\n";
        else if (om && *p == '"')
            esc = "\\\"";
        if (esc) {
            hk_buf_put(out, run, (size_t)(p - run));
            hk_buf_put(out, esc, 2);
            run = p + 1;
        }
    }
    hk_buf_puts(out, run);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

/* "<stem>_created" for a family named <stem>_total (counter) or <stem> (histogram, summary). */
static bool is_created(const struct hk_family *f, const char *series)
{
    if (!ends_with(series, "_created"))
        return false;
    size_t stem = strlen(series) - 8;
    size_t fl = strlen(f->name);
    if (f->type == HK_METRIC_COUNTER && ends_with(f->name, "_total"))
        fl -= 6;
    return stem == fl && memcmp(series, f->name, fl) == 0;
}

static const char *om_type(const struct hk_family *f)
{
    switch (f->type) {
    case HK_METRIC_COUNTER:
        return ends_with(f->name, "_total") ? "counter" : "unknown";
    case HK_METRIC_GAUGE:
        return "gauge";
    case HK_METRIC_HISTOGRAM:
        return "histogram";
    case HK_METRIC_SUMMARY:
        return "summary";
    case HK_METRIC_INFO:
        return "info";
    case HK_METRIC_UNTYPED:
        break;
    }
    return "unknown";
}

/* Escapes v into dst (room for 2 * strlen(v) bytes); returns the end. Runs without specials are
 * copied whole. */
static char *escape_into(char *dst, const char *v, size_t len)
{
    const char *p = v, *end = v + len;
    while (p < end) {
        const char *run = p;
        while (p < end && *p != '\\' && *p != '"' && *p != '\n')
            p++;
        memcpy(dst, run, (size_t)(p - run));
        dst += p - run;
        if (p == end)
            break;
        *dst++ = '\\';
        *dst++ = (char)(*p == '\n' ? 'n' : *p);
        p++;
    }
    return dst;
}

/* Decimal of an integer-valued double below 2^53 (the common case: bytes, counts). */
static size_t format_int(char *buf, int64_t v)
{
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t o = 0;
    if (v < 0)
        buf[o++] = '-';
    while (n)
        buf[o++] = tmp[--n];
    buf[o] = '\0';
    return o;
}

/* One sample line. The line's worst-case size is reserved once, then written directly: this is
 * the hot loop of every scrape (100k+ series). */
static void write_series(struct hk_buf *out, const struct hk_series *s, bool om)
{
    size_t name_len = strlen(s->name);
    size_t need = name_len + 2 /* {} */ + 1 /* space */ + 48 /* value */ + 48 /* timestamp */ + 1;
    size_t lens[2 * 64];
    bool small = s->nlabels <= 64;
    for (uint32_t i = 0; small && i < s->nlabels; i++) {
        lens[2 * i] = strlen(s->labels[i].name);
        lens[2 * i + 1] = strlen(s->labels[i].value);
        need += lens[2 * i] + 2 * lens[2 * i + 1] + 4; /* ,name="value" */
    }
    if (!small || (out->max && need > out->max - out->len)) {
        /* Many labels, or near the cap (the worst case might not fit where the real line does):
         * the plain, checked path. */
        char num[48];
        hk_buf_puts(out, s->name);
        if (s->nlabels) {
            hk_buf_putc(out, '{');
            for (uint32_t i = 0; i < s->nlabels; i++) {
                if (i)
                    hk_buf_putc(out, ',');
                hk_buf_puts(out, s->labels[i].name);
                hk_buf_put(out, "=\"", 2);
                hk_textfmt_escape_value(out, s->labels[i].value);
                hk_buf_putc(out, '"');
            }
            hk_buf_putc(out, '}');
        }
        hk_buf_putc(out, ' ');
        hk_buf_put(out, num, hk_format_double(num, sizeof(num), s->value));
        if (s->ts_ms) {
            if (om)
                hk_buf_printf(out, " %s%" PRId64 ".%03" PRId64, s->ts_ms < 0 ? "-" : "",
                              (int64_t)llabs(s->ts_ms / 1000), (int64_t)llabs(s->ts_ms % 1000));
            else
                hk_buf_printf(out, " %" PRId64, s->ts_ms);
        }
        hk_buf_putc(out, '\n');
        return;
    }
    if (hk_buf_reserve(out, need) < 0)
        return;
    char *start = out->data + out->len, *w = start;
    memcpy(w, s->name, name_len);
    w += name_len;
    if (s->nlabels) {
        *w++ = '{';
        for (uint32_t i = 0; i < s->nlabels; i++) {
            if (i)
                *w++ = ',';
            memcpy(w, s->labels[i].name, lens[2 * i]);
            w += lens[2 * i];
            *w++ = '=';
            *w++ = '"';
            w = escape_into(w, s->labels[i].value, lens[2 * i + 1]);
            *w++ = '"';
        }
        *w++ = '}';
    }
    *w++ = ' ';
    double v = s->value;
    if (fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v)
        w += format_int(w, (int64_t)v);
    else
        w += hk_format_double(w, 48, v);
    if (s->ts_ms) {
        int n;
        if (om)
            n = snprintf(w, 48, " %s%" PRId64 ".%03" PRId64, s->ts_ms < 0 ? "-" : "",
                         (int64_t)llabs(s->ts_ms / 1000), (int64_t)llabs(s->ts_ms % 1000));
        else
            n = snprintf(w, 48, " %" PRId64, s->ts_ms);
        w += n > 0 ? n : 0;
    }
    *w++ = '\n';
    out->len += (size_t)(w - start);
    out->data[out->len] = '\0';
}

/* Expected body size, from an even sample of up to 256 of the selected series (labels dominate
 * and vary a lot between snapshots and between targets, so a fixed per-series guess reallocates
 * and copies large bodies). */
static size_t estimate_size(const struct hk_snapshot *snap, unsigned targets)
{
    size_t selected = 0, selected_families = 0;
    for (size_t fi = 0; fi < snap->nfamilies; fi++)
        if (targets & HK_TEXTFMT_TARGET(snap->families[fi].target)) {
            selected += snap->families[fi].count;
            selected_families++;
        }
    if (selected == 0)
        return 4096 + selected_families * 160;
    size_t step = selected / 256 + 1, sampled = 0, bytes = 0, seen = 0;
    for (size_t fi = 0; fi < snap->nfamilies; fi++) {
        const struct hk_family *f = &snap->families[fi];
        if (!(targets & HK_TEXTFMT_TARGET(f->target)))
            continue;
        /* The k-th selected series overall is sampled when k is a multiple of step. */
        for (size_t k = (step - seen % step) % step; k < f->count; k += step) {
            const struct hk_series *s = &snap->series[f->first + k];
            bytes += strlen(s->name) + 32;
            for (uint32_t j = 0; j < s->nlabels; j++)
                bytes += strlen(s->labels[j].name) + strlen(s->labels[j].value) + 4;
            sampled++;
        }
        seen += f->count;
    }
    if (sampled == 0) /* not reached: the first selected series is always sampled */
        return 4096 + selected_families * 160;
    return bytes / sampled * selected * 9 / 8 + selected_families * 160 + 4096;
}

/* Series are sorted, but their label arrays and strings sit in the arena in emission order, so
 * rendering walks memory at random: most of its time went to cache and TLB misses on the label
 * array. Fetch the label array 8 series ahead and its strings 4 ahead. */
static inline void prefetch_ahead(const struct hk_snapshot *snap, size_t idx)
{
    if (idx + 8 < snap->nseries)
        __builtin_prefetch(snap->series[idx + 8].labels);
    if (idx + 4 < snap->nseries) {
        const struct hk_series *n = &snap->series[idx + 4];
        for (uint32_t j = 0; j < n->nlabels && j < 16; j++)
            __builtin_prefetch(n->labels[j].value);
    }
}

int hk_textfmt_render(const struct hk_snapshot *snap, enum hk_textfmt fmt, struct hk_buf *out)
{
    return hk_textfmt_render_targets(snap, fmt, HK_TEXTFMT_ALL_TARGETS, out);
}

int hk_textfmt_render_targets(const struct hk_snapshot *snap, enum hk_textfmt fmt, unsigned targets,
                              struct hk_buf *out)
{
    bool om = fmt == HK_TEXTFMT_OPENMETRICS;
    /* Rough size hint: avoids most reallocations for big snapshots. Never more than the
     * buffer's cap: a failed hint would poison the buffer for output that fits. */
    size_t hint = estimate_size(snap, targets);
    if (out->max && hint > out->max - out->len)
        hint = out->max > out->len ? out->max - out->len : 0;
    hk_buf_reserve(out, hint);
    for (size_t fi = 0; fi < snap->nfamilies && !out->err; fi++) {
        const struct hk_family *f = &snap->families[fi];
        if (!(targets & HK_TEXTFMT_TARGET(f->target)))
            continue;
        char om_name[512];
        const char *name = f->name;
        if (om) {
            /* OpenMetrics names the counter family without its _total suffix. */
            size_t l = strlen(f->name);
            if (f->type == HK_METRIC_COUNTER && ends_with(f->name, "_total") && l - 6 < sizeof(om_name)) {
                memcpy(om_name, f->name, l - 6);
                om_name[l - 6] = '\0';
                name = om_name;
            } else if (f->type == HK_METRIC_INFO && ends_with(f->name, "_info") &&
                       l - 5 < sizeof(om_name)) {
                memcpy(om_name, f->name, l - 5);
                om_name[l - 5] = '\0';
                name = om_name;
            }
        }
        if (f->help && *f->help) {
            hk_buf_puts(out, "# HELP ");
            hk_buf_puts(out, name);
            hk_buf_putc(out, ' ');
            escape_help(out, f->help, om);
            hk_buf_putc(out, '\n');
        }
        hk_buf_puts(out, "# TYPE ");
        hk_buf_puts(out, name);
        hk_buf_putc(out, ' ');
        hk_buf_puts(out, om ? om_type(f) : (f->type == HK_METRIC_INFO ? "gauge"
                                                                       : hk_metric_type_name(f->type)));
        hk_buf_putc(out, '\n');
        if (om && f->unit && *f->unit && ends_with(name, f->unit)) {
            size_t ln = strlen(name), lu = strlen(f->unit);
            if (ln > lu && name[ln - lu - 1] == '_')
                hk_buf_printf(out, "# UNIT %s %s\n", name, f->unit);
        }
        for (uint32_t i = 0; i < f->count; i++) {
            size_t idx = f->first + i;
            const struct hk_series *s = &snap->series[idx];
            prefetch_ahead(snap, idx);
            if (!om && is_created(f, s->name))
                continue;
            write_series(out, s, om);
        }
    }
    if (om)
        hk_buf_puts(out, "# EOF\n");
    return out->err;
}
