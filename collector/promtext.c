/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus text format 0.0.4 parser: validation pass that records samples, and on-demand
 * decoding of each recorded sample. Error messages follow the Go expfmt parser's wording so that
 * users see what node_exporter would have told them.
 * Over 800 lines because one line-oriented parser (HELP, TYPE, samples, escapes, validation) whose
 * hot loop must stay in one translation unit to inline. */
#include "collector/promtext.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum role {
    ROLE_PLAIN,      /* counter, gauge, untyped sample */
    ROLE_BUCKET,     /* <histogram>_bucket */
    ROLE_SUM,        /* <histogram|summary>_sum */
    ROLE_COUNT,      /* <histogram|summary>_count */
    ROLE_HIST_BASE,  /* sample named like a histogram family: invalid */
    ROLE_QUANTILE,   /* sample named like a summary family: needs quantile="" */
};

/* 24 bytes: one per sample of the input (100k samples: 2.4 MB, faulted in afresh each time a
 * caller trims between inputs). Timestamps are rare (textfiles refuse them), so they live in a
 * side array. */
struct hk_promtext_rec {
    uint32_t off; /* start of the line in the input */
    uint32_t len; /* without the newline */
    uint32_t fam;
    uint32_t ts;  /* 0: no timestamp; else index + 1 into hk_promtext.tss */
    double value;
};

struct hk_promtext_lname {
    const char *p;
    uint32_t len;
};

struct hk_promtext_fam {
    const char *name; /* in the input while parsing */
    uint32_t len;
    uint32_t hash;
    enum hk_metric_type type;
    bool has_type, has_help;
    uint32_t help_off; /* in pool */
    uint32_t name_off; /* in pool, after the parse */
    uint32_t nsamples;
};

void hk_promtext_init(struct hk_promtext *p, size_t max_line, size_t max_samples)
{
    memset(p, 0, sizeof(*p));
    p->max_line = max_line ? max_line : HK_PROMTEXT_DEFAULT_MAX_LINE;
    p->max_samples = max_samples;
}

void hk_promtext_fini(struct hk_promtext *p)
{
    if (!p)
        return;
    free(p->families);
    free(p->fam);
    free(p->fam_index);
    free(p->recs);
    free(p->tss);
    free(p->pool);
    free(p->scratch);
    free(p->labels);
    free(p->lnames);
    size_t ml = p->max_line, ms = p->max_samples;
    memset(p, 0, sizeof(*p));
    p->max_line = ml;
    p->max_samples = ms;
}

void hk_promtext_trim(struct hk_promtext *p, size_t max_bytes)
{
    size_t held = p->caprecs * sizeof(*p->recs) + p->captss * sizeof(*p->tss) + p->pool_cap +
                  p->scratch_cap +
                  p->capfam * sizeof(*p->fam) + p->fam_index_cap * sizeof(*p->fam_index) +
                  p->nfamilies * sizeof(*p->families);
    if (held > max_bytes)
        hk_promtext_fini(p);
}

/* ------------------------------------------------------------------ helpers */

static int fail(struct hk_promtext *p, unsigned line, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct hk_promtext *p, unsigned line, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err_msg, sizeof(p->err_msg), fmt, ap);
    va_end(ap);
    p->err_line = line;
    return err;
}

/* Printable, bounded excerpt of input bytes for error messages (non-printables as \xNN). */
static const char *excerpt(char *out, size_t cap, const char *s, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out[o++] = (char)c;
        } else {
            int w = snprintf(out + o, cap - o, "\\x%02x", c);
            if (w < 0)
                break;
            o += (size_t)w;
        }
    }
    if (len > 0 && o + 5 >= cap && cap > 4) {
        out[cap - 4] = '.';
        out[cap - 3] = '.';
        out[cap - 2] = '.';
        o = cap - 1;
    }
    out[o] = '\0';
    return out;
}

static const char *char_desc(char *out, size_t cap, const char *s, const char *end)
{
    if (s >= end)
        return "end of line";
    return excerpt(out, cap, s, 1);
}

/* Character classes by table: the scans below run over every byte of the input, and one load
 * and test per byte took a third fewer instructions than the chains of range compares. */
enum {
    C_NAME_START = 1, /* [a-zA-Z_] */
    C_NAME = 2,       /* [a-zA-Z0-9_] */
    C_METRIC = 4,     /* [a-zA-Z0-9_:] */
    C_BLANK = 8,      /* ' ', '\t' */
    C_VALUE_STOP = 16 /* ends a run of plain label-value bytes: '"', '\\', NUL, >= 0x80 */
};
#define C_LETTER (C_NAME_START | C_NAME | C_METRIC)
static const unsigned char cclass[256] = {
    ['a' ... 'z'] = C_LETTER,
    ['A' ... 'Z'] = C_LETTER,
    ['_'] = C_LETTER,
    ['0' ... '9'] = C_NAME | C_METRIC,
    [':'] = C_METRIC,
    [' '] = C_BLANK,
    ['\t'] = C_BLANK,
    ['"'] = C_VALUE_STOP,
    ['\\'] = C_VALUE_STOP,
    [0] = C_VALUE_STOP,
    [0x80 ... 0xff] = C_VALUE_STOP,
};

static inline bool is_blank(char c)
{
    return cclass[(unsigned char)c] & C_BLANK;
}

static inline bool is_name_start(unsigned char c)
{
    return cclass[c] & C_NAME_START;
}

static inline bool is_name_char(unsigned char c)
{
    return cclass[c] & C_NAME;
}

static inline bool is_metric_char(unsigned char c)
{
    return cclass[c] & C_METRIC;
}

static uint32_t name_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h ? h : 1;
}

static bool grow(void **ptr, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : first;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem)
            return false;
        n *= 2;
    }
    void *q = realloc(*ptr, n * elem);
    if (!q)
        return false;
    *ptr = q;
    *cap = n;
    return true;
}

static int pool_put(struct hk_promtext *p, const char *s, size_t len, uint32_t *ret_off)
{
    if (!grow((void **)&p->pool, &p->pool_cap, p->pool_len + len + 1, 1, 256))
        return -ENOMEM;
    if (p->pool_len + len + 1 > UINT32_MAX)
        return -E2BIG;
    memcpy(p->pool + p->pool_len, s, len);
    p->pool[p->pool_len + len] = '\0';
    *ret_off = (uint32_t)p->pool_len;
    p->pool_len += len + 1;
    return 0;
}

/* ------------------------------------------------------------------ numbers */

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static bool ieq(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

int hk_promtext_parse_value(const char *s, size_t len, double *ret)
{
    size_t i = 0;
    bool neg = false;
    if (len == 0)
        return -EINVAL;
    if (ieq(s, len, "nan")) {
        *ret = NAN;
        return 0;
    }
    if (s[0] == '+' || s[0] == '-') {
        neg = s[0] == '-';
        i = 1;
    }
    if (ieq(s + i, len - i, "inf") || ieq(s + i, len - i, "infinity")) {
        *ret = neg ? -INFINITY : INFINITY;
        return 0;
    }
    /* Syntax: digits [. digits] [e [+-] digits], at least one mantissa digit. While checking,
     * collect up to 19 significant digits for the exact fast path. */
    uint64_t mant = 0;
    int sig = 0, frac_digits = 0, dropped = 0;
    size_t ndigits = 0;
    bool dot = false;
    for (; i < len; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            ndigits++;
            if (sig < 19) {
                if (mant || c != '0')
                    sig++;
                mant = mant * 10 + (uint64_t)(c - '0');
                if (dot)
                    frac_digits++;
            } else {
                dropped++;
                if (dot)
                    ; /* ignored fractional digit */
                else
                    frac_digits--; /* an integer digit we did not keep scales by 10 */
            }
        } else if (c == '.' && !dot) {
            dot = true;
        } else {
            break;
        }
    }
    if (ndigits == 0)
        return -EINVAL;
    long exp10 = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < len && (s[i] == '+' || s[i] == '-')) {
            eneg = s[i] == '-';
            i++;
        }
        size_t es = i;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            if (exp10 < 100000)
                exp10 = exp10 * 10 + (s[i] - '0');
        if (i == es)
            return -EINVAL;
        if (eneg)
            exp10 = -exp10;
    }
    if (i != len)
        return -EINVAL;
    long e = exp10 - frac_digits;
    if (dropped == 0 && mant < (1ULL << 53) && e >= -22 && e <= 22) {
        double v = (double)mant;
        v = e >= 0 ? v * pow10_exact[e] : v / pow10_exact[-e];
        *ret = neg ? -v : v;
        return 0;
    }
    char buf[128];
    if (len >= sizeof(buf)) {
        char *copy = strndup(s, len);
        if (!copy)
            return -ENOMEM;
        errno = 0;
        double v = strtod(copy, NULL);
        int er = errno;
        free(copy);
        if (er == ERANGE && isinf(v))
            return -EINVAL;
        *ret = v;
        return 0;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    double v = strtod(buf, NULL);
    if (errno == ERANGE && isinf(v))
        return -EINVAL;
    *ret = v;
    return 0;
}

static int parse_ts(const char *s, size_t len, int64_t *ret)
{
    size_t i = 0;
    bool neg = false;
    if (len && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == len)
        return -EINVAL;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -EINVAL;
        v = v * 10 + d;
    }
    if (v > (uint64_t)INT64_MAX + (neg ? 1 : 0))
        return -EINVAL;
    *ret = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* ------------------------------------------------------------------ families */

static long fam_find(const struct hk_promtext *p, const char *name, size_t len, uint32_t h)
{
    if (!p->fam_index_cap)
        return -1;
    size_t mask = p->fam_index_cap - 1;
    for (size_t i = h & mask; p->fam_index[i]; i = (i + 1) & mask) {
        const struct hk_promtext_fam *f = &p->fam[p->fam_index[i] - 1];
        if (f->hash == h && f->len == len && memcmp(f->name, name, len) == 0)
            return (long)(p->fam_index[i] - 1);
    }
    return -1;
}

static void fam_index_put(struct hk_promtext *p, uint32_t idx)
{
    size_t mask = p->fam_index_cap - 1;
    size_t i = p->fam[idx].hash & mask;
    while (p->fam_index[i])
        i = (i + 1) & mask;
    p->fam_index[i] = idx + 1;
}

static long fam_add(struct hk_promtext *p, const char *name, size_t len, uint32_t h)
{
    if (!grow((void **)&p->fam, &p->capfam, p->nfamilies + 1, sizeof(*p->fam), 64))
        return -ENOMEM;
    if ((p->nfamilies + 1) * 2 > p->fam_index_cap) {
        size_t cap = p->fam_index_cap ? p->fam_index_cap * 2 : 128;
        uint32_t *ix = calloc(cap, sizeof(*ix));
        if (!ix)
            return -ENOMEM;
        free(p->fam_index);
        p->fam_index = ix;
        p->fam_index_cap = cap;
        for (size_t i = 0; i < p->nfamilies; i++)
            fam_index_put(p, (uint32_t)i);
    }
    p->fam[p->nfamilies] = (struct hk_promtext_fam){
        .name = name, .len = (uint32_t)len, .hash = h, .type = HK_METRIC_UNTYPED};
    fam_index_put(p, (uint32_t)p->nfamilies);
    return (long)p->nfamilies++;
}

static bool has_suffix(const char *s, size_t len, const char *suf, size_t *ret_base)
{
    size_t n = strlen(suf);
    if (len <= n || memcmp(s + len - n, suf, n) != 0)
        return false;
    *ret_base = len - n;
    return true;
}

/* expfmt's rules: the exact name first; then <summary>_sum/_count; then
 * <histogram>_bucket/_sum/_count; else a new untyped family of that name. */
static long resolve(struct hk_promtext *p, const char *name, size_t len, enum role *ret_role)
{
    uint32_t h = name_hash(name, len);
    long f = fam_find(p, name, len, h);
    if (f >= 0) {
        enum hk_metric_type t = p->fam[f].type;
        *ret_role = t == HK_METRIC_HISTOGRAM ? ROLE_HIST_BASE
                    : t == HK_METRIC_SUMMARY ? ROLE_QUANTILE
                                             : ROLE_PLAIN;
        return f;
    }
    static const struct {
        const char *suf;
        enum role role;
        bool summary;
    } sufs[] = {{"_sum", ROLE_SUM, true},
                {"_count", ROLE_COUNT, true},
                {"_bucket", ROLE_BUCKET, false},
                {"_sum", ROLE_SUM, false},
                {"_count", ROLE_COUNT, false}};
    for (size_t i = 0; i < sizeof(sufs) / sizeof(sufs[0]); i++) {
        size_t base;
        if (!has_suffix(name, len, sufs[i].suf, &base))
            continue;
        long b = fam_find(p, name, base, name_hash(name, base));
        if (b < 0)
            continue;
        enum hk_metric_type want = sufs[i].summary ? HK_METRIC_SUMMARY : HK_METRIC_HISTOGRAM;
        if (p->fam[b].type == want) {
            *ret_role = sufs[i].role;
            return b;
        }
    }
    *ret_role = ROLE_PLAIN;
    return fam_add(p, name, len, h);
}

/* ------------------------------------------------------------------ lines */

static const char *unescape_help(struct hk_promtext *p, unsigned line, const char *s, size_t len,
                                 int *ret_err, size_t *ret_len)
{
    /* Decode into the scratch buffer (help ≤ line length). */
    if (!grow((void **)&p->scratch, &p->scratch_cap, len + 1, 1, 256)) {
        *ret_err = -ENOMEM;
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\0') {
            /* Strings are NUL-terminated from here on: refuse rather than cut the text. */
            *ret_err = fail(p, line, -EINVAL, "NUL byte in HELP text");
            return NULL;
        }
        if (c == '\\') {
            if (i + 1 == len) {
                *ret_err = fail(p, line, -EINVAL, "invalid escape sequence at end of HELP");
                return NULL;
            }
            c = s[++i];
            if (c == 'n') {
                c = '\n';
            } else if (c != '\\') {
                char d[8];
                *ret_err = fail(p, line, -EINVAL, "invalid escape sequence '\\%s'",
                                excerpt(d, sizeof(d), s + i, 1));
                return NULL;
            }
        }
        p->scratch[o++] = c;
    }
    p->scratch[o] = '\0';
    *ret_len = o;
    return p->scratch;
}

static int parse_comment(struct hk_promtext *p, unsigned line, const char *s, const char *end)
{
    char d[80];
    while (s < end && is_blank(*s))
        s++;
    const char *kw = s;
    while (s < end && !is_blank(*s))
        s++;
    size_t kwl = (size_t)(s - kw);
    bool help = kwl == 4 && memcmp(kw, "HELP", 4) == 0;
    bool type = kwl == 4 && memcmp(kw, "TYPE", 4) == 0;
    if (!help && !type)
        return 0; /* plain comment */
    while (s < end && is_blank(*s))
        s++;
    if (s == end)
        return 0; /* "# HELP" alone: expfmt ignores it */
    const char *name = s;
    while (s < end && !is_blank(*s))
        s++;
    size_t nl = (size_t)(s - name);
    if (!hk_metric_name_valid(name, nl))
        return fail(p, line, -EINVAL, "invalid metric name in comment: \"%s\"",
                    excerpt(d, sizeof(d), name, nl));
    while (s < end && is_blank(*s))
        s++;
    uint32_t h = name_hash(name, nl);
    long f = fam_find(p, name, nl, h);
    if (help) {
        if (s == end)
            return 0; /* no docstring: expfmt ignores the line, as if there were no HELP */
        if (f < 0 && (f = fam_add(p, name, nl, h)) < 0)
            return (int)f;
        struct hk_promtext_fam *fam = &p->fam[f];
        if (fam->has_help)
            return fail(p, line, -EINVAL, "second HELP line for metric name \"%s\"",
                        excerpt(d, sizeof(d), name, nl));
        int err = 0;
        size_t hl = 0;
        const char *text = unescape_help(p, line, s, (size_t)(end - s), &err, &hl);
        if (!text)
            return err;
        int r = pool_put(p, text, hl, &fam->help_off);
        if (r < 0)
            return r;
        fam->has_help = true;
        return 0;
    }
    const char *tn = s;
    while (s < end && !is_blank(*s))
        s++;
    size_t tl = (size_t)(s - tn);
    while (s < end && is_blank(*s))
        s++;
    enum hk_metric_type t;
    if (ieq(tn, tl, "counter"))
        t = HK_METRIC_COUNTER;
    else if (ieq(tn, tl, "gauge"))
        t = HK_METRIC_GAUGE;
    else if (ieq(tn, tl, "histogram"))
        t = HK_METRIC_HISTOGRAM;
    else if (ieq(tn, tl, "summary"))
        t = HK_METRIC_SUMMARY;
    else if (ieq(tn, tl, "untyped"))
        t = HK_METRIC_UNTYPED;
    else
        return fail(p, line, -EINVAL, "unknown metric type \"%s\"", excerpt(d, sizeof(d), tn, tl));
    if (s != end)
        return fail(p, line, -EINVAL, "unexpected text after the type in TYPE line");
    if (f < 0 && (f = fam_add(p, name, nl, h)) < 0)
        return (int)f;
    struct hk_promtext_fam *fam = &p->fam[f];
    if (fam->has_type || fam->nsamples)
        return fail(p, line, -EINVAL,
                    "second TYPE line for metric name \"%s\", or TYPE reported after samples",
                    excerpt(d, sizeof(d), name, nl));
    fam->type = t;
    fam->has_type = true;
    return 0;
}

/* Parses a float held in a label value (le, quantile) that may contain escapes. */
static int label_float(const char *v, size_t len, bool esc, double *ret)
{
    if (!esc)
        return hk_promtext_parse_value(v, len, ret);
    char buf[128];
    size_t o = 0;
    for (size_t i = 0; i < len && o < sizeof(buf); i++) {
        if (v[i] == '\\')
            i++;
        buf[o++] = v[i];
    }
    if (o >= sizeof(buf))
        return -EINVAL;
    return hk_promtext_parse_value(buf, o, ret);
}

static int lname_cmp(const void *a, const void *b)
{
    const struct hk_promtext_lname *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static bool names_unique(struct hk_promtext *p, size_t n)
{
    if (n <= 16) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                if (p->lnames[i].len == p->lnames[j].len &&
                    memcmp(p->lnames[i].p, p->lnames[j].p, p->lnames[i].len) == 0)
                    return false;
        return true;
    }
    qsort(p->lnames, n, sizeof(*p->lnames), lname_cmp);
    for (size_t i = 1; i < n; i++)
        if (lname_cmp(&p->lnames[i - 1], &p->lnames[i]) == 0)
            return false;
    return true;
}

struct line_cache {
    const char *name;
    size_t len;
    long fam;
    enum role role;
};

static int parse_sample(struct hk_promtext *p, unsigned line, const char *start, const char *s,
                        const char *end, struct line_cache *lc)
{
    char d[80];
    const char *name = s;
    while (s < end && is_metric_char((unsigned char)*s))
        s++;
    size_t nl = (size_t)(s - name);
    if (nl == 0 || (name[0] >= '0' && name[0] <= '9') ||
        (s < end && *s != '{' && !is_blank(*s)))
        return fail(p, line, -EINVAL, "invalid metric name");
    long f;
    enum role role;
    if (lc->name && lc->len == nl && memcmp(lc->name, name, nl) == 0) {
        f = lc->fam;
        role = lc->role;
    } else {
        f = resolve(p, name, nl, &role);
        if (f < 0)
            return (int)f;
        *lc = (struct line_cache){name, nl, f, role};
    }
    while (s < end && is_blank(*s))
        s++;
    size_t nlab = 0;
    bool have_le = false, have_q = false;
    if (s < end && *s == '{') {
        s++;
        for (;;) {
            while (s < end && is_blank(*s))
                s++;
            if (s < end && *s == '}') {
                s++;
                break;
            }
            const char *ln = s;
            if (s < end && is_name_start((unsigned char)*s))
                for (s++; s < end && is_name_char((unsigned char)*s); s++)
                    ;
            size_t ll = (size_t)(s - ln);
            if (ll == 0)
                return fail(p, line, -EINVAL, "invalid label name, found %s",
                            char_desc(d, sizeof(d), s, end));
            if (ll == 8 && memcmp(ln, "__name__", 8) == 0)
                return fail(p, line, -EINVAL, "label name \"__name__\" is reserved");
            while (s < end && is_blank(*s))
                s++;
            if (s >= end || *s != '=')
                return fail(p, line, -EINVAL, "expected '=' after label name, found %s",
                            char_desc(d, sizeof(d), s, end));
            s++;
            while (s < end && is_blank(*s))
                s++;
            if (s >= end || *s != '"')
                return fail(p, line, -EINVAL, "expected '\"' at start of label value, found %s",
                            char_desc(d, sizeof(d), s, end));
            const char *v = ++s;
            bool esc = false, high = false;
            for (;;) {
                while (s < end && !(cclass[(unsigned char)*s] & C_VALUE_STOP))
                    s++; /* plain bytes: nothing to check */
                if (s >= end)
                    return fail(p, line, -EINVAL, "label value not terminated");
                unsigned char c = (unsigned char)*s;
                if (c == '"')
                    break;
                if (c == '\\') {
                    if (s + 1 >= end)
                        return fail(p, line, -EINVAL, "label value not terminated");
                    char e = s[1];
                    if (e != '\\' && e != '"' && e != 'n')
                        return fail(p, line, -EINVAL, "invalid escape sequence '\\%s'",
                                    excerpt(d, sizeof(d), s + 1, 1));
                    esc = true;
                    s += 2;
                    continue;
                }
                if (c == '\0')
                    return fail(p, line, -EINVAL, "NUL byte in label value (not representable)");
                high |= c >= 0x80;
                s++;
            }
            size_t vl = (size_t)(s - v);
            s++; /* closing quote */
            if (high && !hk_utf8_valid(v, vl))
                return fail(p, line, -EINVAL, "invalid label value \"%s\": not valid UTF-8",
                            excerpt(d, sizeof(d), v, vl));
            if (!grow((void **)&p->lnames, &p->caplnames, nlab + 1, sizeof(*p->lnames), 16))
                return -ENOMEM;
            p->lnames[nlab].p = ln;
            p->lnames[nlab].len = (uint32_t)ll;
            nlab++;
            if (ll == 2 && ln[0] == 'l' && ln[1] == 'e' && role == ROLE_BUCKET) {
                double b;
                if (label_float(v, vl, esc, &b) < 0)
                    return fail(p, line, -EINVAL,
                                "expected float as value for 'le' label, got \"%s\"",
                                excerpt(d, sizeof(d), v, vl));
                have_le = true;
            } else if (ll == 8 && memcmp(ln, "quantile", 8) == 0 && role == ROLE_QUANTILE) {
                double q;
                if (label_float(v, vl, esc, &q) < 0)
                    return fail(p, line, -EINVAL,
                                "expected float as value for 'quantile' label, got \"%s\"",
                                excerpt(d, sizeof(d), v, vl));
                have_q = true;
            }
            while (s < end && is_blank(*s))
                s++;
            if (s < end && *s == ',') {
                s++;
                continue;
            }
            if (s < end && *s == '}') {
                s++;
                break;
            }
            return fail(p, line, -EINVAL, "unexpected %s after label value, expected ',' or '}'",
                        char_desc(d, sizeof(d), s, end));
        }
        if (nlab > 1 && !names_unique(p, nlab))
            return fail(p, line, -EINVAL, "duplicate label names for metric \"%s\"",
                        excerpt(d, sizeof(d), name, nl));
        while (s < end && is_blank(*s))
            s++;
    }
    const char *vs = s;
    while (s < end && !is_blank(*s))
        s++;
    if (s == vs)
        return fail(p, line, -EINVAL, "expected a value after the metric, found end of line");
    double value;
    if (hk_promtext_parse_value(vs, (size_t)(s - vs), &value) < 0)
        return fail(p, line, -EINVAL, "expected float as value, got \"%s\"",
                    excerpt(d, sizeof(d), vs, (size_t)(s - vs)));
    while (s < end && is_blank(*s))
        s++;
    bool has_ts = false;
    int64_t ts = 0;
    if (s < end) {
        const char *ts0 = s;
        while (s < end && !is_blank(*s))
            s++;
        if (parse_ts(ts0, (size_t)(s - ts0), &ts) < 0)
            return fail(p, line, -EINVAL, "expected integer as timestamp, got \"%s\"",
                        excerpt(d, sizeof(d), ts0, (size_t)(s - ts0)));
        has_ts = true;
        while (s < end && is_blank(*s))
            s++;
        if (s < end)
            return fail(p, line, -EINVAL, "spurious string after timestamp: \"%s\"",
                        excerpt(d, sizeof(d), s, (size_t)(end - s)));
    }
    switch (role) {
    case ROLE_HIST_BASE:
        return fail(p, line, -EINVAL,
                    "sample \"%s\" of histogram needs the suffix _bucket, _sum or _count",
                    excerpt(d, sizeof(d), name, nl));
    case ROLE_BUCKET:
        if (!have_le)
            return fail(p, line, -EINVAL, "histogram bucket \"%s\" without 'le' label",
                        excerpt(d, sizeof(d), name, nl));
        break;
    case ROLE_QUANTILE:
        if (!have_q)
            return fail(p, line, -EINVAL, "summary sample \"%s\" without 'quantile' label",
                        excerpt(d, sizeof(d), name, nl));
        break;
    default:
        break;
    }
    if (p->max_samples && p->nsamples >= p->max_samples)
        return fail(p, line, -E2BIG, "more than %zu samples", p->max_samples);
    if (!grow((void **)&p->recs, &p->caprecs, p->nsamples + 1, sizeof(*p->recs), 1024))
        return -ENOMEM;
    uint32_t ts_ref = 0;
    if (has_ts) {
        if (!grow((void **)&p->tss, &p->captss, (size_t)p->timestamps + 1, sizeof(*p->tss), 64))
            return -ENOMEM;
        if (!p->timestamps)
            p->first_ts_line = line;
        p->tss[p->timestamps++] = ts;
        ts_ref = p->timestamps; /* at most nsamples + 1 <= UINT32_MAX: the input is < 4 GiB */
    }
    p->fam[f].nsamples++;
    p->recs[p->nsamples++] = (struct hk_promtext_rec){
        (uint32_t)(start - p->input), (uint32_t)(end - start), (uint32_t)f, ts_ref, value};
    return 0;
}

int hk_promtext_parse(struct hk_promtext *p, const char *buf, size_t len)
{
    int r = 0;
    p->input = buf;
    p->input_len = len;
    p->nfamilies = 0;
    p->nsamples = 0;
    p->timestamps = 0;
    p->first_ts_line = 0;
    p->err_line = 0;
    p->err_msg[0] = '\0';
    p->pool_len = 0;
    if (p->fam_index_cap)
        memset(p->fam_index, 0, p->fam_index_cap * sizeof(*p->fam_index));
    if (len >= UINT32_MAX)
        return fail(p, 0, -E2BIG, "input larger than 4 GiB");

    struct line_cache lc = {0};
    unsigned line = 0;
    size_t pos = 0;
    while (pos < len) {
        line++;
        const char *s = buf + pos;
        const char *nlp = memchr(s, '\n', len - pos);
        const char *end = nlp ? nlp : buf + len;
        size_t ll = (size_t)(end - s);
        if (ll > p->max_line)
            return fail(p, line, -E2BIG, "line longer than %zu bytes", p->max_line);
        const char *t = s;
        while (t < end && is_blank(*t))
            t++;
        if (!nlp) {
            if (t < end)
                return fail(p, line, -EINVAL, "unexpected end of input stream (no newline at "
                                              "the end of the last line)");
            break;
        }
        if (t == end) {
            /* blank line */
        } else if (*t == '#') {
            lc.name = NULL; /* HELP/TYPE may change how names resolve */
            r = parse_comment(p, line, t + 1, end);
        } else {
            r = parse_sample(p, line, s, t, end, &lc);
        }
        if (r < 0) {
            if (r == -ENOMEM)
                fail(p, line, r, "out of memory");
            return r;
        }
        pos += ll + 1;
    }

    /* Publish the families: names and helps as NUL-terminated strings in the pool. */
    for (size_t i = 0; i < p->nfamilies; i++)
        if ((r = pool_put(p, p->fam[i].name, p->fam[i].len, &p->fam[i].name_off)) < 0)
            return fail(p, 0, r, "out of memory");
    free(p->families);
    p->families = calloc(p->nfamilies ? p->nfamilies : 1, sizeof(*p->families));
    if (!p->families)
        return fail(p, 0, -ENOMEM, "out of memory");
    for (size_t i = 0; i < p->nfamilies; i++) {
        const struct hk_promtext_fam *f = &p->fam[i];
        p->families[i] = (struct hk_promtext_family){
            p->pool + f->name_off, f->has_help ? p->pool + f->help_off : NULL, f->type,
            f->nsamples};
    }
    return 0;
}

int hk_promtext_sample(struct hk_promtext *p, size_t i, struct hk_promtext_sample *ret)
{
    const struct hk_promtext_rec *rec = &p->recs[i];
    const char *s = p->input + rec->off, *end = s + rec->len;
    /* Every output string is shorter than its source plus one NUL per string, and each string
     * is followed in the source by at least one delimiter: len + 2 always fits. */
    if (!grow((void **)&p->scratch, &p->scratch_cap, rec->len + 2, 1, 256))
        return -ENOMEM;
    char *o = p->scratch;
    while (is_blank(*s))
        s++;
    const char *name = o;
    while (s < end && is_metric_char((unsigned char)*s))
        *o++ = *s++;
    *o++ = '\0';
    size_t n = 0;
    while (s < end && is_blank(*s))
        s++;
    if (s < end && *s == '{') {
        s++;
        for (;;) {
            while (is_blank(*s))
                s++;
            if (*s == '}')
                break;
            if (!grow((void **)&p->labels, &p->caplabels, n + 1, sizeof(*p->labels), 16))
                return -ENOMEM;
            p->labels[n].name = o;
            while (is_name_char((unsigned char)*s))
                *o++ = *s++;
            *o++ = '\0';
            while (*s != '"')
                s++;
            s++;
            p->labels[n].value = o;
            while (*s != '"') {
                if (*s == '\\') {
                    s++;
                    if (*s == 'n')
                        *o++ = '\n';
                    else
                        *o++ = *s;
                    s++;
                } else {
                    *o++ = *s++;
                }
            }
            *o++ = '\0';
            s++;
            n++;
            while (is_blank(*s))
                s++;
            if (*s == ',')
                s++;
        }
    }
    *ret = (struct hk_promtext_sample){name, rec->fam, p->labels, n, rec->value,
                                       rec->ts != 0, rec->ts ? p->tss[rec->ts - 1] : 0};
    return 0;
}
