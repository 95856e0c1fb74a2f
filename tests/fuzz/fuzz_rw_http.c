/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for what the remote-write sender reads from a receiver (exporter/rw_http.h).
 * Input: a raw HTTP/1.x answer as `curl -i` records it (status line, header lines, blank line,
 * body; several answers in a row when redirects were followed). The header lines go through
 * hk_rw_resp_header one by one with their line ends, as libcurl's header callback hands them over;
 * the body through hk_rw_resp_body in two pieces; the status of the last status line through
 * hk_rw_verdict for both protocols. The whole input is also tried as a Retry-After value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exporter/rw_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A fixed, realistic wall clock (2023-11-14): HTTP-dates are judged against it. */
#define NOW_S 1700000000

static void check_retry_after(int64_t ms)
{
    if (ms < -1 || ms > HK_RW_MAX_RETRY_AFTER_MS)
        abort();
}

/* The status code of a status line ("HTTP/1.1 204 No Content"), as libcurl reads it; 0 if none. */
static long status_of(const char *line, size_t len)
{
    const char *sp = memchr(line, ' ', len);
    if (!sp || (size_t)(sp - line) + 4 > len)
        return 0;
    long st = 0;
    for (int i = 1; i <= 3; i++) {
        if (sp[i] < '0' || sp[i] > '9')
            return 0;
        st = st * 10 + (sp[i] - '0');
    }
    return st;
}

static void check_verdicts(long status, const struct hk_rw_resp_hdrs *h)
{
    for (int retry429 = 0; retry429 < 2; retry429++) {
        enum hk_rw_verdict v1 = hk_rw_verdict(status, HK_RW_V1, h, retry429);
        enum hk_rw_verdict v2 = hk_rw_verdict(status, HK_RW_V2, h, retry429);
        /* A 1.0 request never falls back; 2.0 only differs from 1.0 by falling back. */
        if (v1 == HK_RW_FALLBACK_415 || v1 == HK_RW_FALLBACK_NO_HEADER)
            abort();
        if (v2 != v1 && v2 != HK_RW_FALLBACK_415 && v2 != HK_RW_FALLBACK_NO_HEADER)
            abort();
        if (status / 100 == 2 && v1 != HK_RW_ACCEPTED)
            abort();
        if (status / 100 == 2 && (v2 == HK_RW_ACCEPTED) != h->samples_written)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    struct hk_rw_resp_hdrs h;
    long status = 0;
    hk_rw_resp_hdrs_reset(&h);
    /* Header block(s): up to a blank line that is not followed by another status line. */
    for (;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        if (!len)
            break;
        /* Exact-size copy, so a read past the line is caught. */
        char *line = malloc(len);
        if (!line)
            return 0;
        memcpy(line, p, len);
        hk_rw_resp_header(&h, line, len, NOW_S);
        if (len >= 5 && memcmp(line, "HTTP/", 5) == 0)
            status = status_of(line, len);
        bool blank = (len == 1 && line[0] == '\n') || (len == 2 && !memcmp(line, "\r\n", 2));
        free(line);
        check_retry_after(h.retry_after_ms);
        p += len;
        if (blank && !(end - p >= 5 && memcmp(p, "HTTP/", 5) == 0))
            break;
    }
    check_verdicts(status, &h);

    /* Body: in two pieces, split where its first byte says, as a stream may deliver it. */
    struct hk_buf body;
    hk_buf_init(&body, HK_RW_RESP_MAX + 1);
    size_t blen = (size_t)(end - p);
    size_t cut = blen ? (unsigned char)p[0] % blen : 0;
    hk_rw_resp_body(&body, p, cut);
    hk_rw_resp_body(&body, p + cut, blen - cut);
    if (body.err || body.len > HK_RW_RESP_MAX ||
        body.len != (blen < HK_RW_RESP_MAX ? blen : HK_RW_RESP_MAX) ||
        (body.len && memcmp(body.data, p, body.len) != 0))
        abort();
    char text[HK_RW_RESP_MAX + 1], small[8];
    size_t n = hk_rw_resp_text(&body, text, sizeof(text));
    if (n != body.len || text[n] != '\0' || memchr(text, '\n', n) || memchr(text, '\r', n))
        abort();
    n = hk_rw_resp_text(&body, small, sizeof(small));
    if (n > sizeof(small) - 1 || small[n] != '\0')
        abort();
    hk_buf_free(&body);

    /* The whole input as one Retry-After value (NUL-terminated copy). */
    char *v = malloc(size + 1);
    if (!v)
        return 0;
    memcpy(v, data, size);
    v[size] = '\0';
    check_retry_after(hk_rw_parse_retry_after(v, NOW_S));
    free(v);
    return 0;
}
