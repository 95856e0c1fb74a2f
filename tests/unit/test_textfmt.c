/* SPDX-License-Identifier: Apache-2.0 */
/* Exposition rendering: value formatting, escaping, text 0.0.4 versus OpenMetrics 1.0.0. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "exporter/textfmt.h"

static void roundtrip(double v, const char *want)
{
    char buf[64];
    size_t n = hk_format_double(buf, sizeof(buf), v);
    assert_int_equal(n, strlen(buf));
    if (want)
        assert_string_equal(buf, want);
    if (!isnan(v)) {
        double back = strtod(buf, NULL);
        assert_memory_equal(&back, &v, sizeof(v)); /* bit-exact, including -0 vs 0 aside */
    }
}

static void test_format_double(void **state)
{
    (void)state;
    roundtrip(0, "0");
    roundtrip(1, "1");
    roundtrip(-42, "-42");
    roundtrip(0.1, "0.1");
    roundtrip(0.3, "0.3");
    roundtrip(1.5e-7, "1.5e-07");
    roundtrip(123456789012, "123456789012");
    roundtrip(9007199254740991.0, "9007199254740991");
    roundtrip(0.1 + 0.2, "0.30000000000000004"); /* needs 17 digits */
    roundtrip(1.0 / 3.0, "0.3333333333333333"); /* 16 */
    roundtrip(1e300, "1e+300");                  /* beyond int64: no UB on the way */
    roundtrip(-1e300, "-1e+300");
    roundtrip(1.8446744073709552e19, "1.8446744073709552e+19");
    roundtrip(DBL_MAX, "1.7976931348623157e+308");
    roundtrip(DBL_MIN, "2.2250738585072014e-308");
    roundtrip(5e-324, "5e-324"); /* smallest subnormal: shortest form */
    roundtrip(1.5e-320, "1.5e-320");
    /* Values of the fixed-point fast path print exactly what the printf search prints. */
    for (int i = -200000; i <= 200000; i += 7) {
        double vals[] = {i / 100.0, i / 1024.0, i / 3.0, i * 1234.5678, i / 1e6, i * 1e-4,
                         i + 0.5, (double)i * 1e9 + 0.25};
        for (size_t j = 0; j < sizeof(vals) / sizeof(vals[0]); j++) {
            double v = vals[j];
            char got[64], ref[64];
            hk_format_double(got, sizeof(got), v);
            if (v == (double)(int64_t)v && fabs(v) < 9007199254740992.0)
                snprintf(ref, sizeof(ref), "%lld", (long long)v);
            else {
                snprintf(ref, sizeof(ref), "%.15g", v);
                if (strtod(ref, NULL) != v) {
                    snprintf(ref, sizeof(ref), "%.16g", v);
                    if (strtod(ref, NULL) != v)
                        snprintf(ref, sizeof(ref), "%.17g", v);
                }
            }
            if (strcmp(got, ref) != 0)
                fail_msg("%.17g: got %s, want %s", v, got, ref);
        }
    }
    roundtrip(0.005, "0.005");
    roundtrip(-0.25, "-0.25");
    roundtrip(12345.67, "12345.67");
    roundtrip(0.0001, "0.0001");
    roundtrip(0.00001, "1e-05");
    roundtrip(123456789012345.5, "123456789012345.5");
    char buf[16];
    hk_format_double(buf, sizeof(buf), INFINITY);
    assert_string_equal(buf, "+Inf");
    hk_format_double(buf, sizeof(buf), -INFINITY);
    assert_string_equal(buf, "-Inf");
    hk_format_double(buf, sizeof(buf), NAN);
    assert_string_equal(buf, "NaN");
    /* Shortest round trip over many values: never longer than 17 digits, always exact. */
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof(v));
        if (isnan(v) || isinf(v))
            continue;
        roundtrip(v, NULL);
        char b2[64];
        hk_format_double(b2, sizeof(b2), v);
        /* shortest: one digit fewer must not round-trip */
        char mant[64];
        size_t k = 0;
        for (const char *p = b2; *p && *p != 'e'; p++)
            if (*p >= '0' && *p <= '9')
                mant[k++] = *p;
        mant[k] = '\0';
        const char *sig = mant;
        while (*sig == '0')
            sig++;
        size_t ndig = strlen(sig);
        while (ndig > 1 && sig[ndig - 1] == '0')
            ndig--;
        if (ndig > 1) {
            char shorter[64];
            snprintf(shorter, sizeof(shorter), "%.*e", (int)ndig - 2, v);
            assert_true(strtod(shorter, NULL) != v);
        }
    }
}

static void test_escape_value(void **state)
{
    (void)state;
    struct hk_buf b;
    hk_buf_init(&b, 0);
    assert_int_equal(hk_textfmt_escape_value(&b, "a\\b\"c\nd\te"), 0);
    assert_string_equal(b.data, "a\\\\b\\\"c\\nd\te");
    hk_buf_reset(&b);
    hk_textfmt_escape_value(&b, "");
    assert_int_equal(b.len, 0);
    hk_buf_reset(&b);
    hk_textfmt_escape_value(&b, "\\\\\n\n\"");
    assert_string_equal(b.data, "\\\\\\\\\\n\\n\\\"");
    hk_buf_free(&b);
}

static const char *const pod_l[] = {"pod", NULL};
static const struct hk_metric_desc d_cnt = {"http_requests_total", "Requests \"served\"\\ok\nyes.",
                                            HK_METRIC_COUNTER, "", pod_l};
static const struct hk_metric_desc d_bytes = {"mem_usage_bytes", "Memory.", HK_METRIC_GAUGE,
                                              "bytes", NULL};
static const struct hk_metric_desc d_odd_counter = {"legacy_counter", "No _total.",
                                                    HK_METRIC_COUNTER, "", NULL};
static const struct hk_metric_desc d_info = {"hakari_build_info", "Build.", HK_METRIC_INFO, "",
                                             pod_l};
static const struct hk_metric_desc d_hist = {"lat_seconds", "Latency.", HK_METRIC_HISTOGRAM,
                                             "seconds", NULL};

static struct hk_snapshot *make_snapshot(void)
{
    struct hk_builder *b = hk_builder_new(NULL);
    hk_builder_begin(b, "t");
    const char *v[] = {"we\"ird\\pod\nx"};
    hk_emit(b, &d_cnt, v, 7);
    struct hk_label l[] = {{"pod", "we\"ird\\pod\nx"}};
    struct hk_family_spec fs = {"http_requests_total", "", HK_METRIC_COUNTER, ""};
    hk_emit_labels(b, &fs, "http_requests_created", l, 1, 1700000000.5, 0);
    hk_emit(b, &d_bytes, NULL, 1048576);
    hk_emit(b, &d_odd_counter, NULL, 3);
    const char *iv[] = {"p"};
    hk_emit(b, &d_info, iv, 1);
    double bounds[] = {0.5, 1};
    uint64_t cum[] = {1, 2};
    hk_emit_histogram(b, &d_hist, NULL, bounds, cum, 2, 1.25, 3);
    struct hk_family_spec hs = {"lat_seconds", "", HK_METRIC_HISTOGRAM, "seconds"};
    hk_emit_labels(b, &hs, "lat_seconds_created", NULL, 0, 1600000000, 0);
    static const struct hk_metric_desc d_ts = {"with_ts", "T.", HK_METRIC_GAUGE, "", NULL};
    hk_emit_ts(b, &d_ts, NULL, 2, 1700000000123);
    hk_builder_commit(b);
    return hk_builder_seal(b, 0, NULL);
}

static char *render(struct hk_snapshot *s, enum hk_textfmt fmt)
{
    struct hk_buf b;
    hk_buf_init(&b, 0);
    assert_int_equal(hk_textfmt_render(s, fmt, &b), 0);
    return hk_buf_steal(&b, NULL);
}

static void test_text(void **state)
{
    (void)state;
    struct hk_snapshot *s = make_snapshot();
    char *t = render(s, HK_TEXTFMT_TEXT);
    const char *want =
        "# HELP hakari_build_info Build.\n"
        "# TYPE hakari_build_info gauge\n"
        "hakari_build_info{pod=\"p\"} 1\n"
        "# HELP http_requests_total Requests \"served\"\\\\ok\\nyes.\n"
        "# TYPE http_requests_total counter\n"
        "http_requests_total{pod=\"we\\\"ird\\\\pod\\nx\"} 7\n"
        "# HELP lat_seconds Latency.\n"
        "# TYPE lat_seconds histogram\n"
        "lat_seconds_bucket{le=\"0.5\"} 1\n"
        "lat_seconds_bucket{le=\"1\"} 2\n"
        "lat_seconds_bucket{le=\"+Inf\"} 3\n"
        "lat_seconds_count 3\n"
        "lat_seconds_sum 1.25\n"
        "# HELP legacy_counter No _total.\n"
        "# TYPE legacy_counter counter\n"
        "legacy_counter 3\n"
        "# HELP mem_usage_bytes Memory.\n"
        "# TYPE mem_usage_bytes gauge\n"
        "mem_usage_bytes 1048576\n"
        "# HELP with_ts T.\n"
        "# TYPE with_ts gauge\n"
        "with_ts 2 1700000000123\n";
    assert_string_equal(t, want);
    /* No _created, no UNIT, no EOF in text 0.0.4. */
    assert_null(strstr(t, "_created"));
    assert_null(strstr(t, "# UNIT"));
    assert_null(strstr(t, "# EOF"));
    free(t);
    hk_snapshot_unref(s);
}

static void test_openmetrics(void **state)
{
    (void)state;
    struct hk_snapshot *s = make_snapshot();
    char *t = render(s, HK_TEXTFMT_OPENMETRICS);
    const char *want =
        "# HELP hakari_build Build.\n"
        "# TYPE hakari_build info\n"
        "hakari_build_info{pod=\"p\"} 1\n"
        "# HELP http_requests Requests \\\"served\\\"\\\\ok\\nyes.\n"
        "# TYPE http_requests counter\n"
        "http_requests_total{pod=\"we\\\"ird\\\\pod\\nx\"} 7\n"
        "http_requests_created{pod=\"we\\\"ird\\\\pod\\nx\"} 1700000000.5\n"
        "# HELP lat_seconds Latency.\n"
        "# TYPE lat_seconds histogram\n"
        "# UNIT lat_seconds seconds\n"
        "lat_seconds_bucket{le=\"0.5\"} 1\n"
        "lat_seconds_bucket{le=\"1\"} 2\n"
        "lat_seconds_bucket{le=\"+Inf\"} 3\n"
        "lat_seconds_count 3\n"
        "lat_seconds_sum 1.25\n"
        "lat_seconds_created 1600000000\n"
        "# HELP legacy_counter No _total.\n"
        "# TYPE legacy_counter unknown\n"
        "legacy_counter 3\n"
        "# HELP mem_usage_bytes Memory.\n"
        "# TYPE mem_usage_bytes gauge\n"
        "# UNIT mem_usage_bytes bytes\n"
        "mem_usage_bytes 1048576\n"
        "# HELP with_ts T.\n"
        "# TYPE with_ts gauge\n"
        "with_ts 2 1700000000.123\n"
        "# EOF\n";
    assert_string_equal(t, want);
    free(t);
    hk_snapshot_unref(s);
}

static void test_cap_and_empty(void **state)
{
    (void)state;
    struct hk_snapshot *s = make_snapshot();
    char *full = render(s, HK_TEXTFMT_TEXT);
    size_t need = strlen(full);
    free(full);
    /* A cap below the size hint but above the real size still renders. */
    struct hk_buf b;
    hk_buf_init(&b, need);
    assert_int_equal(hk_textfmt_render(s, HK_TEXTFMT_TEXT, &b), 0);
    assert_int_equal(b.len, need);
    hk_buf_free(&b);
    /* One byte short: -E2BIG, never a silently truncated body. */
    hk_buf_init(&b, need - 1);
    assert_int_equal(hk_textfmt_render(s, HK_TEXTFMT_TEXT, &b), -E2BIG);
    hk_buf_free(&b);
    hk_snapshot_unref(s);

    struct hk_snapshot *e = hk_builder_seal(hk_builder_new(NULL), 0, NULL);
    char *t = render(e, HK_TEXTFMT_TEXT);
    assert_string_equal(t, "");
    free(t);
    t = render(e, HK_TEXTFMT_OPENMETRICS);
    assert_string_equal(t, "# EOF\n");
    free(t);
    hk_snapshot_unref(e);
}

/* One family per target, as the collectors that own them emit them. A textfile family is
 * node_exporter's whatever its name (node_exporter serves it), even a container_* one. */
static struct hk_snapshot *make_targets_snapshot(void)
{
    static const char *const cpu_l[] = {"cpu", "mode", NULL};
    static const char *const ctr_l[] = {"container", "id",  "image", "name",
                                        "namespace", "pod", NULL};
    static const struct hk_metric_desc d_load = {"node_load1", "1m load average.", HK_METRIC_GAUGE,
                                                 "", NULL};
    static const struct hk_metric_desc d_cpu = {"node_cpu_seconds_total", "CPU seconds.",
                                                HK_METRIC_COUNTER, "seconds", cpu_l};
    static const struct hk_metric_desc d_ccpu = {"container_cpu_usage_seconds_total", "CPU.",
                                                 HK_METRIC_COUNTER, "seconds", ctr_l};
    static const struct hk_metric_desc d_cores = {"machine_cpu_cores", "Cores.", HK_METRIC_GAUGE,
                                                  "", NULL};
    static const struct hk_metric_desc d_fds = {"process_open_fds", "FDs.", HK_METRIC_GAUGE, "",
                                                NULL};
    struct hk_builder *b = hk_builder_new(NULL);
    hk_builder_begin(b, "loadavg");
    hk_emit(b, &d_load, NULL, 0.5);
    hk_builder_commit(b);
    hk_builder_begin(b, "cpu");
    const char *c0[] = {"0", "user"};
    hk_emit(b, &d_cpu, c0, 7.25);
    hk_builder_commit(b);
    hk_builder_begin(b, "cgroup");
    const char *root[] = {"", "/", "", "", "", ""};
    hk_emit(b, &d_ccpu, root, 1000);
    hk_builder_commit(b);
    hk_builder_begin(b, "machine");
    hk_emit(b, &d_cores, NULL, 4);
    hk_builder_commit(b);
    hk_builder_begin(b, "textfile");
    struct hk_family_spec tf = {"backup_last_success_timestamp_seconds", "From a file.",
                                HK_METRIC_GAUGE, ""};
    struct hk_label tl[] = {{"job_name", "nightly"}};
    hk_emit_labels(b, &tf, NULL, tl, 1, 1700000000, 0);
    struct hk_family_spec tc = {"container_textfile_thing", "Odd but a file's.", HK_METRIC_GAUGE,
                                ""};
    hk_emit_labels(b, &tc, NULL, NULL, 0, 1, 0);
    hk_builder_commit(b);
    hk_builder_begin(b, "self");
    const char *iv[] = {"p"};
    hk_emit(b, &d_info, iv, 1);
    hk_emit(b, &d_fds, NULL, 9);
    hk_builder_commit(b);
    return hk_builder_seal(b, 0, NULL);
}

static char *render_targets(struct hk_snapshot *s, enum hk_textfmt fmt, unsigned targets)
{
    struct hk_buf b;
    hk_buf_init(&b, 0);
    assert_int_equal(hk_textfmt_render_targets(s, fmt, targets, &b), 0);
    char *t = hk_buf_steal(&b, NULL);
    hk_buf_free(&b);
    return t ? t : strdup("");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of body (without "# EOF"), sorted, joined by \n. */
static char *sorted_lines(const char *body)
{
    char *copy = strdup(body);
    char *lines[256];
    size_t n = 0;
    for (char *p = copy, *nl; *p; p = nl + 1) {
        nl = strchr(p, '\n');
        assert_non_null(nl);
        *nl = '\0';
        if (strcmp(p, "# EOF") != 0) {
            assert_true(n < 256);
            lines[n++] = p;
        }
    }
    qsort(lines, n, sizeof(lines[0]), cmp_str);
    struct hk_buf b;
    hk_buf_init(&b, 0);
    for (size_t i = 0; i < n; i++) {
        hk_buf_puts(&b, lines[i]);
        hk_buf_putc(&b, '\n');
    }
    free(copy);
    char *t = hk_buf_steal(&b, NULL);
    hk_buf_free(&b);
    return t ? t : strdup("");
}

static void test_targets(void **state)
{
    (void)state;
    struct hk_snapshot *s = make_targets_snapshot();
    char *node = render_targets(s, HK_TEXTFMT_TEXT, HK_TEXTFMT_TARGET(HK_TARGET_NODE));
    assert_string_equal(node,
                        "# HELP backup_last_success_timestamp_seconds From a file.\n"
                        "# TYPE backup_last_success_timestamp_seconds gauge\n"
                        "backup_last_success_timestamp_seconds{job_name=\"nightly\"} 1700000000\n"
                        "# HELP container_textfile_thing Odd but a file's.\n"
                        "# TYPE container_textfile_thing gauge\n"
                        "container_textfile_thing 1\n"
                        "# HELP node_cpu_seconds_total CPU seconds.\n"
                        "# TYPE node_cpu_seconds_total counter\n"
                        "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 7.25\n"
                        "# HELP node_load1 1m load average.\n"
                        "# TYPE node_load1 gauge\n"
                        "node_load1 0.5\n");
    char *cadv = render_targets(s, HK_TEXTFMT_TEXT, HK_TEXTFMT_TARGET(HK_TARGET_CADVISOR));
    assert_string_equal(
        cadv, "# HELP container_cpu_usage_seconds_total CPU.\n"
              "# TYPE container_cpu_usage_seconds_total counter\n"
              "container_cpu_usage_seconds_total{container=\"\",id=\"/\",image=\"\",name=\"\","
              "namespace=\"\",pod=\"\"} 1000\n"
              "# HELP machine_cpu_cores Cores.\n"
              "# TYPE machine_cpu_cores gauge\n"
              "machine_cpu_cores 4\n");
    char *self = render_targets(s, HK_TEXTFMT_TEXT, HK_TEXTFMT_TARGET(HK_TARGET_SELF));
    assert_string_equal(self, "# HELP hakari_build_info Build.\n"
                              "# TYPE hakari_build_info gauge\n"
                              "hakari_build_info{pod=\"p\"} 1\n"
                              "# HELP process_open_fds FDs.\n"
                              "# TYPE process_open_fds gauge\n"
                              "process_open_fds 9\n");
    /* The three parts are the whole, in both formats: no family lost or served twice. */
    for (int f = 0; f < 2; f++) {
        enum hk_textfmt fmt = f ? HK_TEXTFMT_OPENMETRICS : HK_TEXTFMT_TEXT;
        char *whole = render(s, fmt);
        char *all = render_targets(s, fmt, HK_TEXTFMT_ALL_TARGETS);
        assert_string_equal(whole, all);
        struct hk_buf cat;
        hk_buf_init(&cat, 0);
        for (int t = 0; t < HK_TARGET_COUNT; t++) {
            char *part = render_targets(s, fmt, HK_TEXTFMT_TARGET(t));
            if (fmt == HK_TEXTFMT_OPENMETRICS) {
                size_t l = strlen(part);
                assert_true(l >= 6 && strcmp(part + l - 6, "# EOF\n") == 0);
            }
            hk_buf_puts(&cat, part);
            free(part);
        }
        char *a = sorted_lines(whole), *b = sorted_lines(cat.data ? cat.data : "");
        assert_string_equal(a, b);
        free(a);
        free(b);
        hk_buf_free(&cat);
        free(whole);
        free(all);
    }
    /* Nothing selected: an empty text body, a bare # EOF in OpenMetrics. */
    char *none = render_targets(s, HK_TEXTFMT_TEXT, 0);
    assert_string_equal(none, "");
    free(none);
    none = render_targets(s, HK_TEXTFMT_OPENMETRICS, 0);
    assert_string_equal(none, "# EOF\n");
    free(none);
    /* The cap holds for a filtered body too: exactly its size renders, one byte less is E2BIG. */
    struct hk_buf b;
    hk_buf_init(&b, strlen(cadv));
    assert_int_equal(
        hk_textfmt_render_targets(s, HK_TEXTFMT_TEXT, HK_TEXTFMT_TARGET(HK_TARGET_CADVISOR), &b),
        0);
    assert_string_equal(b.data, cadv);
    hk_buf_free(&b);
    hk_buf_init(&b, strlen(cadv) - 1);
    assert_int_equal(
        hk_textfmt_render_targets(s, HK_TEXTFMT_TEXT, HK_TEXTFMT_TARGET(HK_TARGET_CADVISOR), &b),
        -E2BIG);
    hk_buf_free(&b);
    free(node);
    free(cadv);
    free(self);
    hk_snapshot_unref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_double), cmocka_unit_test(test_escape_value),
        cmocka_unit_test(test_text),          cmocka_unit_test(test_openmetrics),
        cmocka_unit_test(test_cap_and_empty), cmocka_unit_test(test_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
