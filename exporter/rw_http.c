/* SPDX-License-Identifier: Apache-2.0 */
/* Reading a remote-write receiver's answer (see rw_http.h). Only libcurl's date parser is used
 * from outside; everything else is plain byte handling. */
#include "exporter/rw_http.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

void hk_rw_resp_hdrs_reset(struct hk_rw_resp_hdrs *h)
{
    h->retry_after_ms = -1;
    h->samples_written = false;
    h->complete = false;
}

int64_t hk_rw_parse_retry_after(const char *v, int64_t now_s)
{
    while (*v == ' ' || *v == '\t')
        v++;
    if (!*v)
        return -1;
    if (isdigit((unsigned char)*v)) {
        char *end;
        errno = 0;
        unsigned long long s = strtoull(v, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
            end++;
        if (errno || *end)
            return -1;
        return s > HK_RW_MAX_RETRY_AFTER_MS / 1000 ? HK_RW_MAX_RETRY_AFTER_MS : (int64_t)s * 1000;
    }
    time_t t = curl_getdate(v, NULL);
    if (t < 0 || (int64_t)t <= now_s)
        return -1;
    /* Compared in seconds first: libcurl takes years up to 2^31, whose milliseconds overflow. */
    int64_t ahead_s = (int64_t)t - now_s;
    return ahead_s > HK_RW_MAX_RETRY_AFTER_MS / 1000 ? HK_RW_MAX_RETRY_AFTER_MS : ahead_s * 1000;
}

/* Whether line (len bytes, not NUL-terminated) is the header name; *val: just after the colon. */
static bool header_is(const char *line, size_t len, const char *name, const char **val)
{
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return false;
    *val = line + nl + 1;
    return true;
}

void hk_rw_resp_header(struct hk_rw_resp_hdrs *h, const char *line, size_t len, int64_t now_s)
{
    const char *v;
    char tmp[128];
    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0)
        hk_rw_resp_hdrs_reset(h); /* a new response: an interim or redirect one's headers go */
    else if ((len == 2 && line[0] == '\r' && line[1] == '\n') || (len == 1 && line[0] == '\n'))
        h->complete = true;
    else if (header_is(line, len, "X-Prometheus-Remote-Write-Samples-Written", &v))
        h->samples_written = true;
    else if (header_is(line, len, "Retry-After", &v)) {
        size_t vl = len - (size_t)(v - line);
        if (vl >= sizeof(tmp))
            vl = sizeof(tmp) - 1;
        memcpy(tmp, v, vl);
        tmp[vl] = '\0';
        h->retry_after_ms = hk_rw_parse_retry_after(tmp, now_s);
    }
}

void hk_rw_resp_body(struct hk_buf *body, const void *data, size_t len)
{
    size_t room = HK_RW_RESP_MAX > body->len ? HK_RW_RESP_MAX - body->len : 0;
    hk_buf_put(body, data, len < room ? len : room);
}

size_t hk_rw_resp_text(const struct hk_buf *body, char *out, size_t cap)
{
    size_t n = body->len < cap - 1 ? body->len : cap - 1;
    if (n)
        memcpy(out, body->data, n);
    out[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (out[i] == '\n' || out[i] == '\r')
            out[i] = ' ';
    return n;
}

enum hk_rw_verdict hk_rw_verdict(long status, enum hk_rw_proto sent_proto,
                                 const struct hk_rw_resp_hdrs *h, bool retry_on_http_429)
{
    if (status / 100 == 2)
        return sent_proto == HK_RW_V2 && !h->samples_written ? HK_RW_FALLBACK_NO_HEADER
                                                             : HK_RW_ACCEPTED;
    if (status == 415 && sent_proto == HK_RW_V2)
        return HK_RW_FALLBACK_415;
    if (status == 413)
        return HK_RW_SPLIT;
    if ((status == 429 && retry_on_http_429) || status >= 500)
        return HK_RW_RETRY;
    if (status == 401 || status == 403)
        return HK_RW_AUTH;
    return HK_RW_DROP;
}
