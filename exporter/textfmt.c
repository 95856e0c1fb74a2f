/* Prometheus text 0.0.4 and OpenMetrics 1.0.0 rendering. */
#include "exporter/textfmt.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t hk_format_double(char *buf, size_t cap, double v)
{
    int n;
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

static void write_series(struct hk_buf *out, const struct hk_series *s, bool om)
{
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
    size_t n = hk_format_double(num, sizeof(num), s->value);
    hk_buf_put(out, num, n);
    if (s->ts_ms) {
        if (om)
            hk_buf_printf(out, " %s%" PRId64 ".%03" PRId64, s->ts_ms < 0 ? "-" : "",
                          (int64_t)llabs(s->ts_ms / 1000), (int64_t)llabs(s->ts_ms % 1000));
        else
            hk_buf_printf(out, " %" PRId64, s->ts_ms);
    }
    hk_buf_putc(out, '\n');
}

int hk_textfmt_render(const struct hk_snapshot *snap, enum hk_textfmt fmt, struct hk_buf *out)
{
    bool om = fmt == HK_TEXTFMT_OPENMETRICS;
    /* Rough size hint: avoids most reallocations for big snapshots. Never more than the
     * buffer's cap: a failed hint would poison the buffer for output that fits. */
    size_t hint = snap->nseries * 96 + snap->nfamilies * 128;
    if (out->max && hint > out->max - out->len)
        hint = out->max > out->len ? out->max - out->len : 0;
    hk_buf_reserve(out, hint);
    for (size_t fi = 0; fi < snap->nfamilies && !out->err; fi++) {
        const struct hk_family *f = &snap->families[fi];
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
            const struct hk_series *s = &snap->series[f->first + i];
            if (!om && is_created(f, s->name))
                continue;
            write_series(out, s, om);
        }
    }
    if (om)
        hk_buf_puts(out, "# EOF\n");
    return out->err;
}
