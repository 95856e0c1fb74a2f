/* SPDX-License-Identifier: Apache-2.0 */
/* Accept / Accept-Encoding negotiation (see negotiate.h). One pass over the header, element by
 * element: `type/subtype *( OWS ";" OWS name=value )`, comma-separated, OWS around. q-values are
 * kept in thousandths. */
#include "exporter/negotiate.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#define Q_ONE 1000

struct span {
    const char *p;
    size_t n;
};

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static struct span trim(const char *p, size_t n)
{
    while (n && is_ows(*p)) {
        p++;
        n--;
    }
    while (n && is_ows(p[n - 1]))
        n--;
    return (struct span){p, n};
}

static bool span_is(struct span s, const char *lit)
{
    size_t l = strlen(lit);
    return s.n == l && strncasecmp(s.p, lit, l) == 0;
}

/* RFC 9110 qvalue: "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3"0" ]; anything else is -1. */
static int parse_q(struct span v)
{
    if (v.n == 0 || v.n > 5 || (v.p[0] != '0' && v.p[0] != '1'))
        return -1;
    int q = (v.p[0] - '0') * Q_ONE;
    if (v.n == 1)
        return q;
    if (v.p[1] != '.')
        return -1;
    int scale = 100;
    for (size_t i = 2; i < v.n; i++, scale /= 10) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return -1;
        q += (v.p[i] - '0') * scale;
    }
    return q > Q_ONE ? -1 : q;
}

/* One list element split into its value (media range or coding) and the parameters we use. */
struct element {
    struct span value;
    struct span version; /* p == NULL: absent */
    struct span proto, encoding; /* protobuf parameters; p == NULL: absent */
    int q;               /* thousandths; malformed counts as 0 */
};

/* Parses the element in [p, end). Quoted parameter values may hold ';' and ','; the caller's
 * element boundary (next_element) skips quoted strings too. */
static void parse_element(const char *p, const char *end, struct element *e)
{
    const char *semi = p;
    while (semi < end && *semi != ';')
        semi++;
    e->value = trim(p, (size_t)(semi - p));
    e->version = (struct span){NULL, 0};
    e->proto = e->encoding = (struct span){NULL, 0};
    e->q = Q_ONE;
    p = semi;
    while (p < end) {
        p++; /* the ';' */
        const char *eq = p, *stop = p;
        bool quoted = false;
        while (stop < end && (quoted || *stop != ';')) {
            if (*stop == '"')
                quoted = !quoted;
            else if (*stop == '\\' && quoted && stop + 1 < end)
                stop++;
            stop++;
        }
        while (eq < stop && *eq != '=')
            eq++;
        struct span name = trim(p, (size_t)(eq - p));
        struct span val = eq < stop ? trim(eq + 1, (size_t)(stop - eq - 1)) : (struct span){eq, 0};
        if (val.n >= 2 && val.p[0] == '"' && val.p[val.n - 1] == '"') {
            val.p++;
            val.n -= 2;
        }
        if (span_is(name, "q")) {
            int q = parse_q(val);
            e->q = q < 0 ? 0 : q;
        } else if (span_is(name, "version")) {
            e->version = val;
        } else if (span_is(name, "proto")) {
            e->proto = val;
        } else if (span_is(name, "encoding")) {
            e->encoding = val;
        }
        p = stop;
    }
}

/* End of the element starting at p: the next ',' outside a quoted string, or the NUL. */
static const char *next_element(const char *p)
{
    bool quoted = false;
    for (; *p; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (*p == '\\' && quoted && p[1])
            p++;
        else if (*p == ',' && !quoted)
            break;
    }
    return p;
}

enum hk_textfmt hk_negotiate_format(const char *accept)
{
    enum hk_textfmt best = HK_TEXTFMT_TEXT;
    int best_q = 0;
    for (const char *p = accept; p && *p;) {
        const char *end = next_element(p);
        struct element e;
        parse_element(p, end, &e);
        p = *end ? end + 1 : end;
        if (e.q <= best_q)
            continue; /* refused (q=0) or not above an earlier match: header order breaks ties */
        bool noversion = e.version.p == NULL;
        if (span_is(e.value, "text/plain") && (noversion || span_is(e.version, "0.0.4"))) {
            best = HK_TEXTFMT_TEXT;
            best_q = e.q;
        } else if (span_is(e.value, "application/vnd.google.protobuf") && e.proto.p &&
                   span_is(e.proto, "io.prometheus.client.MetricFamily") && e.encoding.p &&
                   span_is(e.encoding, "delimited")) {
            best = HK_TEXTFMT_PROTOBUF;
            best_q = e.q;
        } else if (span_is(e.value, "application/openmetrics-text") &&
                   (noversion || span_is(e.version, "1.0.0") || span_is(e.version, "0.0.1"))) {
            best = HK_TEXTFMT_OPENMETRICS;
            best_q = e.q;
        }
    }
    return best;
}

bool hk_negotiate_gzip(const char *accept_encoding)
{
    int gzip = -1, identity = -1, star = -1;
    for (const char *p = accept_encoding; p && *p;) {
        const char *end = next_element(p);
        struct element e;
        parse_element(p, end, &e);
        p = *end ? end + 1 : end;
        /* A coding listed twice: the highest q counts. */
        if (span_is(e.value, "gzip") || span_is(e.value, "x-gzip")) {
            if (e.q > gzip)
                gzip = e.q;
        } else if (span_is(e.value, "identity")) {
            if (e.q > identity)
                identity = e.q;
        } else if (span_is(e.value, "*")) {
            if (e.q > star)
                star = e.q;
        }
    }
    if (gzip < 0)
        gzip = star < 0 ? 0 : star;
    if (identity < 0)
        identity = star < 0 ? Q_ONE : star;
    return gzip > 0 && gzip >= identity;
}
