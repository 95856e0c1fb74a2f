/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for exporter/rw_http.c: real receivers' answers (recorded from Prometheus and
 * VictoriaMetrics into the fuzz seed corpus) and spec answers read line by line as libcurl hands
 * them over, Retry-After in both forms, the kept body, and the status → action table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "exporter/rw_http.h"

#define CORPUS "tests/fuzz/corpus/rw_http/"
#define NOW_S 1700000000 /* Tue, 14 Nov 2023 22:13:20 GMT */

struct answer {
    struct hk_rw_resp_hdrs h;
    long status; /* of the last status line */
    struct hk_buf body;
};

/* Feeds a recorded answer (`curl -i` output) through the header and body readers. */
static void read_answer(const char *file, struct answer *a)
{
    char path[256], raw[8192];
    snprintf(path, sizeof(path), CORPUS "%s", file);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(raw, 1, sizeof(raw), f);
    fclose(f);
    hk_rw_resp_hdrs_reset(&a->h);
    hk_buf_init(&a->body, HK_RW_RESP_MAX + 1);
    a->status = 0;
    size_t off = 0;
    for (;;) {
        const char *nl = memchr(raw + off, '\n', n - off);
        assert_non_null(nl);
        size_t len = (size_t)(nl - (raw + off)) + 1;
        hk_rw_resp_header(&a->h, raw + off, len, NOW_S);
        if (!strncmp(raw + off, "HTTP/", 5))
            a->status = strtol(raw + off + 9, NULL, 10);
        off += len;
        if (len <= 2 && strncmp(raw + off, "HTTP/", 5) != 0)
            break;
    }
    hk_rw_resp_body(&a->body, raw + off, n - off);
}

static void test_real_receivers(void **state)
{
    struct answer a;
    /* Prometheus 2.42 takes 1.0 only: its 204 has no written header, so a 2.0 sender falls
     * back; so does VictoriaMetrics'. */
    static const char *const plain_204[] = {"prometheus-204", "prometheus-v2-ignored", "vm-204",
                                            "vm-v2"};
    for (size_t i = 0; i < 4; i++) {
        read_answer(plain_204[i], &a);
        assert_int_equal(a.status, 204);
        assert_false(a.h.samples_written);
        assert_int_equal(a.h.retry_after_ms, -1);
        assert_int_equal(a.body.len, 0);
        assert_int_equal(hk_rw_verdict(a.status, HK_RW_V1, &a.h, false), HK_RW_ACCEPTED);
        assert_int_equal(hk_rw_verdict(a.status, HK_RW_V2, &a.h, false), HK_RW_FALLBACK_NO_HEADER);
        hk_buf_free(&a.body);
    }
    read_answer("prometheus-out-of-bounds", &a);
    assert_int_equal(a.status, 400);
    assert_int_equal(hk_rw_verdict(a.status, HK_RW_V1, &a.h, true), HK_RW_DROP);
    char text[HK_RW_RESP_MAX + 1];
    assert_int_equal(hk_rw_resp_text(&a.body, text, sizeof(text)), strlen("out of bounds "));
    assert_string_equal(text, "out of bounds "); /* the newline made a space */
    hk_buf_free(&a.body);
    read_answer("vm-400-snappy", &a);
    assert_int_equal(a.status, 400);
    hk_rw_resp_text(&a.body, text, sizeof(text));
    assert_non_null(strstr(text, "snappy: corrupt input"));
    assert_null(strchr(text, '\n'));
    hk_buf_free(&a.body);
}

static void test_spec_answers(void **state)
{
    struct answer a;
    read_answer("spec-v2-204", &a);
    assert_true(a.h.samples_written);
    assert_int_equal(hk_rw_verdict(a.status, HK_RW_V2, &a.h, false), HK_RW_ACCEPTED);
    hk_buf_free(&a.body);
    read_answer("spec-429-seconds", &a);
    assert_int_equal(a.h.retry_after_ms, 30000);
    assert_int_equal(hk_rw_verdict(a.status, HK_RW_V2, &a.h, false), HK_RW_DROP);
    assert_int_equal(hk_rw_verdict(a.status, HK_RW_V2, &a.h, true), HK_RW_RETRY);
    hk_buf_free(&a.body);
    read_answer("spec-503-date", &a); /* 22:15:00 is 100 s after NOW_S */
    assert_int_equal(a.h.retry_after_ms, 100000);
    assert_int_equal(hk_rw_verdict(a.status, HK_RW_V1, &a.h, false), HK_RW_RETRY);
    hk_buf_free(&a.body);
    read_answer("spec-503-past-date", &a); /* lower-case name, no space, a past date */
    assert_int_equal(a.h.retry_after_ms, -1);
    hk_buf_free(&a.body);
    read_answer("spec-415", &a);
    assert_int_equal(hk_rw_verdict(a.status, HK_RW_V2, &a.h, false), HK_RW_FALLBACK_415);
    assert_int_equal(hk_rw_verdict(a.status, HK_RW_V1, &a.h, false), HK_RW_DROP);
    hk_buf_free(&a.body);
    /* A followed redirect's Retry-After does not outlive it (libcurl hands over both answers). */
    read_answer("spec-307-then-204", &a);
    assert_int_equal(a.status, 204);
    assert_int_equal(a.h.retry_after_ms, -1);
    hk_buf_free(&a.body);
    read_answer("spec-413", &a);
    assert_int_equal(hk_rw_verdict(a.status, HK_RW_V1, &a.h, false), HK_RW_SPLIT);
    hk_buf_free(&a.body);
}

static void test_retry_after_values(void **state)
{
    assert_int_equal(hk_rw_parse_retry_after("0", NOW_S), 0);
    assert_int_equal(hk_rw_parse_retry_after("600", NOW_S), 600000);
    assert_int_equal(hk_rw_parse_retry_after("601", NOW_S), HK_RW_MAX_RETRY_AFTER_MS);
    assert_int_equal(hk_rw_parse_retry_after("99999999999999999999999", NOW_S), -1);
    assert_int_equal(hk_rw_parse_retry_after("12abc", NOW_S), -1);
    assert_int_equal(hk_rw_parse_retry_after("", NOW_S), -1);
    assert_int_equal(hk_rw_parse_retry_after(" \t", NOW_S), -1);
    /* The obsolete RFC 850 form is still an HTTP-date: 22:20:00 is 400 s ahead. */
    assert_int_equal(hk_rw_parse_retry_after("Tuesday, 14-Nov-23 22:20:00 GMT", NOW_S), 400000);
    /* A date far ahead is capped like a large number of seconds. */
    assert_int_equal(hk_rw_parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", NOW_S),
                     HK_RW_MAX_RETRY_AFTER_MS);
}

/* fuzz_rw_http found it: an HTTP-date in a year near 10^9 (libcurl takes it) overflowed the
 * milliseconds (UBSan aborts here on the old code). The recorded input, then the value alone. */
static void test_regress_date_overflow(void **state)
{
    char raw[4096];
    FILE *f = fopen(CORPUS "regress-retry-after-overflow", "rb");
    assert_non_null(f);
    size_t n = fread(raw, 1, sizeof(raw), f), off = 0;
    fclose(f);
    struct hk_rw_resp_hdrs h;
    hk_rw_resp_hdrs_reset(&h);
    bool seen = false;
    while (off < n) {
        const char *nl = memchr(raw + off, '\n', n - off);
        size_t len = nl ? (size_t)(nl - (raw + off)) + 1 : n - off;
        hk_rw_resp_header(&h, raw + off, len, NOW_S);
        assert_true(h.retry_after_ms >= -1 && h.retry_after_ms <= HK_RW_MAX_RETRY_AFTER_MS);
        seen |= h.retry_after_ms == HK_RW_MAX_RETRY_AFTER_MS;
        off += len;
    }
    assert_true(seen);
    assert_int_equal(hk_rw_parse_retry_after("Sun, 06 Nov 999999999 08:49:37 GMT", NOW_S),
                     HK_RW_MAX_RETRY_AFTER_MS);
}

static void test_header_lines(void **state)
{
    struct hk_rw_resp_hdrs h;
    hk_rw_resp_hdrs_reset(&h);
    /* Not NUL-terminated: the reader must stop at len. */
    const char line[] = {'R', 'e', 't', 'r', 'y', '-', 'A', 'f', 't', 'e', 'r', ':', ' ', '9'};
    hk_rw_resp_header(&h, line, sizeof(line), NOW_S);
    assert_int_equal(h.retry_after_ms, 9000);
    /* Only the name followed by a colon counts. */
    hk_rw_resp_header(&h, "Retry-After-Extra: 5\r\n", 22, NOW_S);
    hk_rw_resp_header(&h, "Retry-After\r\n", 13, NOW_S);
    assert_int_equal(h.retry_after_ms, 9000);
    hk_rw_resp_header(&h, "x-prometheus-remote-write-samples-written: 0\r\n", 46, NOW_S);
    assert_true(h.samples_written);
    /* A value longer than the copy buffer is cut, not overrun (and too large a number). */
    char big[300];
    memset(big, '7', sizeof(big));
    memcpy(big, "Retry-After: ", 13); /* NOLINT(bugprone-not-null-terminated-result): a line */
    hk_rw_resp_header(&h, big, sizeof(big), NOW_S);
    assert_int_equal(h.retry_after_ms, -1);
}

/* The end of the headers is seen per response: an interim 100's blank line does not count for the
 * final response, whose own blank line does. */
static void test_headers_complete(void **state)
{
    struct hk_rw_resp_hdrs h;
    hk_rw_resp_hdrs_reset(&h);
    hk_rw_resp_header(&h, "HTTP/1.1 100 Continue\r\n", 23, NOW_S);
    hk_rw_resp_header(&h, "\r\n", 2, NOW_S);
    assert_true(h.complete);
    hk_rw_resp_header(&h, "HTTP/1.1 200 OK\r\n", 17, NOW_S);
    assert_false(h.complete);
    hk_rw_resp_header(&h, "Content-Length: 100\r\n", 21, NOW_S);
    assert_false(h.complete);
    hk_rw_resp_header(&h, "\n", 1, NOW_S);
    assert_true(h.complete);
    hk_rw_resp_header(&h, " \r\n", 3, NOW_S); /* not a blank line */
    hk_rw_resp_hdrs_reset(&h);
    assert_false(h.complete);
}

static void test_body_kept_capped(void **state)
{
    struct hk_buf b;
    char chunk[700], text[16];
    memset(chunk, 'x', sizeof(chunk));
    hk_buf_init(&b, HK_RW_RESP_MAX + 1);
    hk_rw_resp_body(&b, chunk, sizeof(chunk));
    hk_rw_resp_body(&b, chunk, sizeof(chunk));
    hk_rw_resp_body(&b, chunk, sizeof(chunk));
    assert_int_equal(b.err, 0);
    assert_int_equal(b.len, HK_RW_RESP_MAX);
    assert_int_equal(hk_rw_resp_text(&b, text, sizeof(text)), sizeof(text) - 1);
    assert_int_equal(strlen(text), sizeof(text) - 1);
    hk_buf_free(&b);
}

static void test_verdict_table(void **state)
{
    struct hk_rw_resp_hdrs h;
    hk_rw_resp_hdrs_reset(&h);
    assert_int_equal(hk_rw_verdict(500, HK_RW_V1, &h, false), HK_RW_RETRY);
    assert_int_equal(hk_rw_verdict(599, HK_RW_V2, &h, false), HK_RW_RETRY);
    assert_int_equal(hk_rw_verdict(401, HK_RW_V1, &h, false), HK_RW_AUTH);
    assert_int_equal(hk_rw_verdict(403, HK_RW_V2, &h, false), HK_RW_AUTH);
    assert_int_equal(hk_rw_verdict(404, HK_RW_V1, &h, true), HK_RW_DROP);
    assert_int_equal(hk_rw_verdict(307, HK_RW_V1, &h, true), HK_RW_DROP);
    assert_int_equal(hk_rw_verdict(0, HK_RW_V1, &h, true), HK_RW_DROP);
    h.samples_written = true;
    assert_int_equal(hk_rw_verdict(200, HK_RW_V2, &h, false), HK_RW_ACCEPTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_receivers),     cmocka_unit_test(test_spec_answers),
        cmocka_unit_test(test_retry_after_values), cmocka_unit_test(test_header_lines),
        cmocka_unit_test(test_body_kept_capped),   cmocka_unit_test(test_regress_date_overflow),
        cmocka_unit_test(test_verdict_table),      cmocka_unit_test(test_headers_complete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
