/* SPDX-License-Identifier: Apache-2.0 */
/* Log lines: JSON lines parse (cJSON) and are valid UTF-8 whatever bytes a field holds, logfmt
 * lines stay one line, long lines are cut into valid lines, repeated warnings are rate-limited
 * without hiding the first occurrence or a change. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "core/labels.h"
#include "core/log.h"

static int saved_stderr = -1;
static FILE *capture_file;

static void capture_begin(void)
{
    fflush(stderr);
    capture_file = tmpfile();
    assert_non_null(capture_file);
    saved_stderr = dup(STDERR_FILENO);
    assert_true(saved_stderr >= 0);
    assert_true(dup2(fileno(capture_file), STDERR_FILENO) >= 0);
}

/* The captured text (malloc'd, NUL-terminated; binary NULs would show as a short string). */
static char *capture_end(size_t *ret_len)
{
    assert_true(dup2(saved_stderr, STDERR_FILENO) >= 0);
    close(saved_stderr);
    long n = ftell(capture_file) >= 0 ? lseek(fileno(capture_file), 0, SEEK_END) : -1;
    assert_true(n >= 0);
    char *text = calloc(1, (size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(pread(fileno(capture_file), text, (size_t)n, 0), n);
    fclose(capture_file);
    *ret_len = (size_t)n;
    return text;
}

static size_t count_lines(const char *text)
{
    size_t n = 0;
    for (const char *p = text; (p = strchr(p, '\n')); p++)
        n++;
    return n;
}

/* One JSON line: valid UTF-8, parses, returns field k (caller frees the cJSON root). */
static cJSON *json_line(const char *text, size_t len)
{
    assert_int_equal(count_lines(text), 1);
    assert_true(len <= 4096);
    assert_true(hk_utf8_valid(text, len));
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root)
        fail_msg("not JSON (%zu bytes), ends: %s", len, text + (len > 60 ? len - 60 : 0));
    return root;
}

static const char *field(const cJSON *root, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_json_hostile_bytes(void **state)
{
    (void)state;
    hk_log_setup(HK_LOG_INFO, HK_LOG_JSON);
    size_t len;
    capture_begin();
    hk_log_info("msg \xc3(", "file", "/x/a\xff" "b\"\\\n\x01\x7f \xc3\xa9", "tail", "x\xe2\x82",
                "surrogate", "\xed\xa0\x80", "overlong", "\xc0\xaf");
    char *text = capture_end(&len);
    cJSON *root = json_line(text, len);
    assert_string_equal(field(root, "msg"), "msg \xef\xbf\xbd(");
    assert_string_equal(field(root, "file"),
                        "/x/a\xef\xbf\xbd" "b\"\\\n\x01\x7f \xc3\xa9");
    /* A cut-off sequence: each byte replaced. */
    assert_string_equal(field(root, "tail"), "x\xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(field(root, "surrogate"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(field(root, "overlong"), "\xef\xbf\xbd\xef\xbf\xbd");
    /* Escapes as RFC 8259 spells them. */
    assert_non_null(strstr(text, "\\u0001\\u007f"));
    cJSON_Delete(root);
    free(text);
}

static void test_json_long_lines(void **state)
{
    (void)state;
    hk_log_setup(HK_LOG_INFO, HK_LOG_JSON);
    /* 3-byte characters and escapes around the cut: the line is cut on a unit edge. */
    for (size_t shift = 0; shift < 8; shift++) {
        char big[10000];
        size_t o = 0;
        for (size_t i = 0; i < shift; i++)
            big[o++] = 'a';
        while (o + 4 < sizeof(big)) {
            memcpy(big + o, "\xe2\x82\xac\x01", 4);
            o += 4;
        }
        big[o] = '\0';
        size_t len;
        capture_begin();
        hk_log_warn("long", "k", "short", "body", big, "after", "left out");
        char *text = capture_end(&len);
        cJSON *root = json_line(text, len);
        assert_string_equal(field(root, "k"), "short");
        const char *body = field(root, "body");
        assert_non_null(body);
        size_t bl = strlen(body);
        assert_true(bl > 1000 && bl < 4096);
        assert_string_equal(body + bl - 3, "...");
        assert_null(field(root, "after"));
        cJSON_Delete(root);
        free(text);
        hk_log_test_clock(NULL); /* identical lines: keep the rate limiter out of it */
    }
    /* A field whose key no longer fits is left out whole. */
    char nearly[4200];
    memset(nearly, 'y', sizeof(nearly) - 1);
    nearly[sizeof(nearly) - 1] = '\0';
    for (size_t cut = 3990; cut < 4080; cut++) {
        nearly[cut] = '\0';
        size_t len;
        capture_begin();
        hk_log_info(nearly, "some_longer_key_name", "v");
        char *text = capture_end(&len);
        cJSON *root = json_line(text, len);
        cJSON_Delete(root);
        free(text);
        nearly[cut] = 'y';
    }
}

static void test_logfmt(void **state)
{
    (void)state;
    hk_log_setup(HK_LOG_INFO, HK_LOG_LOGFMT);
    size_t len;
    capture_begin();
    hk_log_info("m", "plain", "abc", "q", "a\"b\nc\xff", "bs", "a\\b", "ctl", "x\x1b[0m\x7f",
                "empty", "", "utf8", "\xc3\xa9t\xc3\xa9");
    char *text = capture_end(&len);
    assert_int_equal(count_lines(text), 1);
    assert_true(hk_utf8_valid(text, len));
    assert_non_null(strstr(text, " msg=m plain=abc q=\"a\\\"b\\nc\xef\xbf\xbd\" bs=\"a\\\\b\" "
                                 "ctl=\"x\\x1b[0m\\x7f\" empty=\"\" utf8=\xc3\xa9t\xc3\xa9\n"));
    free(text);
    /* Long bare and quoted values are cut on a character edge, one valid line. */
    char big[6000];
    for (size_t i = 0; i + 2 < sizeof(big); i += 2)
        memcpy(big + i, "\xc3\xa9", 2);
    big[sizeof(big) - 2] = '\0';
    capture_begin();
    hk_log_info("m", "big", big);
    text = capture_end(&len);
    assert_int_equal(count_lines(text), 1);
    assert_true(len <= 4096 && hk_utf8_valid(text, len));
    assert_non_null(strstr(text, "...\n"));
    free(text);
    big[100] = '"';
    capture_begin();
    hk_log_info("m", "big", big);
    text = capture_end(&len);
    assert_int_equal(count_lines(text), 1);
    assert_true(len <= 4096 && hk_utf8_valid(text, len));
    assert_non_null(strstr(text, "...\"\n"));
    free(text);
}

static int64_t fake_now_ms;

static int64_t fake_clock(void)
{
    return fake_now_ms;
}

static void test_rate_limit(void **state)
{
    (void)state;
    hk_log_setup(HK_LOG_INFO, HK_LOG_LOGFMT);
    fake_now_ms = 1000000;
    hk_log_test_clock(fake_clock);
    size_t len;
    capture_begin();
    for (int i = 0; i < 20; i++) {
        hk_log_warn("remote-write request failed", "status", "500", "body", "down");
        fake_now_ms += 100;
    }
    /* A change (another status) shows at once; so do infos. */
    hk_log_warn("remote-write request failed", "status", "400", "body", "down");
    for (int i = 0; i < 3; i++)
        hk_log_info("remote-write request failed", "status", "500", "body", "down");
    char *text = capture_end(&len);
    assert_int_equal(count_lines(text), 5 + 1 + 3);
    /* The first occurrence is the first line. */
    assert_non_null(strstr(text, "level=warn msg=\"remote-write request failed\" status=500"));
    assert_true(strstr(text, "status=500") < strstr(text, "status=400"));
    assert_null(strstr(text, "suppressed="));
    free(text);

    /* After the refill interval the next one shows, with the count held back. */
    fake_now_ms += 12000;
    capture_begin();
    hk_log_warn("remote-write request failed", "status", "500", "body", "down");
    hk_log_warn("remote-write request failed", "status", "500", "body", "down");
    text = capture_end(&len);
    assert_int_equal(count_lines(text), 1);
    assert_non_null(strstr(text, " suppressed=15 status=500 body=down\n"));
    free(text);

    /* Errors too; a long pause refills the whole burst. */
    fake_now_ms += 3600 * 1000;
    capture_begin();
    for (int i = 0; i < 7; i++)
        hk_log_error("cannot write queue", "err", "No space left on device");
    text = capture_end(&len);
    assert_int_equal(count_lines(text), 5);
    free(text);
    hk_log_test_clock(NULL);
}

/* A flapping state (failed, recovered, failed, …) runs out of its burst: the last "failed" is
 * held back, and the flush says so once the message went quiet, so the log's last word on the
 * state is not a stale "recovered". */
static void test_flush_suppressed(void **state)
{
    (void)state;
    hk_log_setup(HK_LOG_INFO, HK_LOG_JSON);
    fake_now_ms = 5000000;
    hk_log_test_clock(fake_clock);
    size_t len;
    capture_begin();
    for (int i = 0; i < 6; i++) {
        hk_log_warn("collector failed", "collector", "cgroup");
        if (i < 5)
            hk_log_warn("collector recovered", "collector", "cgroup");
    }
    hk_log_flush_suppressed(false); /* not quiet long enough yet: nothing */
    char *text = capture_end(&len);
    assert_int_equal(count_lines(text), 10);
    free(text);
    fake_now_ms += 12000;
    capture_begin();
    hk_log_flush_suppressed(false);
    hk_log_flush_suppressed(false); /* once only */
    text = capture_end(&len);
    cJSON *root = json_line(text, len);
    assert_string_equal(field(root, "level"), "warn");
    assert_string_equal(field(root, "msg"), "repeated log lines held back");
    assert_string_equal(field(root, "suppressed"), "1");
    assert_string_equal(field(root, "last_msg"), "collector failed");
    cJSON_Delete(root);
    free(text);
    /* all = true (shutdown) reports at once. */
    for (int i = 0; i < 8; i++)
        hk_log_error("cannot write queue", "err", "EIO");
    capture_begin();
    hk_log_flush_suppressed(true);
    text = capture_end(&len);
    root = json_line(text, len);
    assert_string_equal(field(root, "level"), "error");
    assert_string_equal(field(root, "suppressed"), "3");
    cJSON_Delete(root);
    free(text);
    hk_log_test_clock(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_hostile_bytes),
        cmocka_unit_test(test_json_long_lines),
        cmocka_unit_test(test_logfmt),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_flush_suppressed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
