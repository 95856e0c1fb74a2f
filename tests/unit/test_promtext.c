/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the Prometheus text format parser (collector/promtext.c): every line form,
 * escapes, special values, histogram/summary naming, and each class of rejected input with its
 * line number. Expectations follow what node_exporter 1.5's parser (Go expfmt) does, checked by
 * hand against prometheus-node-exporter on the same inputs. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collector/promtext.h"

static struct hk_promtext P;

static int setup(void **state)
{
    hk_promtext_init(&P, 0, 0);
    return 0;
}

static int teardown(void **state)
{
    hk_promtext_fini(&P);
    return 0;
}

static int parse(const char *s)
{
    return hk_promtext_parse(&P, s, strlen(s));
}

static const struct hk_promtext_family *fam(const char *name)
{
    for (size_t i = 0; i < P.nfamilies; i++)
        if (strcmp(P.families[i].name, name) == 0)
            return &P.families[i];
    return NULL;
}

static struct hk_promtext_sample sample(size_t i)
{
    struct hk_promtext_sample s;
    assert_int_equal(hk_promtext_sample(&P, i, &s), 0);
    return s;
}

static const char *label(const struct hk_promtext_sample *s, const char *name)
{
    for (size_t i = 0; i < s->nlabels; i++)
        if (strcmp(s->labels[i].name, name) == 0)
            return s->labels[i].value;
    return NULL;
}

static void expect_error(const char *input, int err, unsigned line, const char *msg_part)
{
    int r = parse(input);
    if (r != err || P.err_line != line || !strstr(P.err_msg, msg_part))
        fail_msg("input %s: got %d line %u \"%s\", want %d line %u \"%s\"", input, r, P.err_line,
                 P.err_msg, err, line, msg_part);
}

static void test_line_forms(void **state)
{
    const char *in = "# A plain comment\n"
                     "\n"
                     "   \t\n"
                     "#\n"
                     "# HELP\n"
                     "#HELP http_requests_total Requests served.\n"
                     "# TYPE http_requests_total counter\n"
                     "http_requests_total{method=\"get\",code=\"200\"} 1027\n"
                     "http_requests_total { method = \"post\" , code=\"400\" , } 3\n"
                     "  # TYPE temp gauge\n"
                     "temp\t-12.5\n"
                     "# TYPE up untyped\n"
                     "up{} 1\n"
                     "plain 7\n"
                     "# HELP late Help after the sample.\n"
                     "late 2\n"
                     "# TYPE Mixed GaUgE\n"
                     "Mixed 0\n"
                     "colon:name:rate5m 4e-3\n";
    assert_int_equal(parse(in), 0);
    assert_int_equal(P.nsamples, 8);
    assert_int_equal(P.timestamps, 0);
    const struct hk_promtext_family *f = fam("http_requests_total");
    assert_non_null(f);
    assert_int_equal(f->type, HK_METRIC_COUNTER);
    assert_string_equal(f->help, "Requests served.");
    assert_int_equal(f->nsamples, 2);
    assert_int_equal(fam("temp")->type, HK_METRIC_GAUGE);
    assert_null(fam("temp")->help);
    assert_int_equal(fam("up")->type, HK_METRIC_UNTYPED);
    assert_int_equal(fam("plain")->type, HK_METRIC_UNTYPED);
    assert_string_equal(fam("late")->help, "Help after the sample.");
    assert_int_equal(fam("Mixed")->type, HK_METRIC_GAUGE);
    assert_non_null(fam("colon:name:rate5m"));

    struct hk_promtext_sample s = sample(0);
    assert_string_equal(s.name, "http_requests_total");
    assert_int_equal(s.nlabels, 2);
    assert_string_equal(s.labels[0].name, "method");
    assert_string_equal(s.labels[0].value, "get");
    assert_string_equal(label(&s, "code"), "200");
    assert_true(s.value == 1027);
    s = sample(1);
    assert_int_equal(s.nlabels, 2);
    assert_string_equal(label(&s, "method"), "post");
    assert_string_equal(label(&s, "code"), "400");
    assert_true(s.value == 3);
    s = sample(2);
    assert_string_equal(s.name, "temp");
    assert_int_equal(s.nlabels, 0);
    assert_true(s.value == -12.5);
    s = sample(3);
    assert_string_equal(s.name, "up");
    assert_int_equal(s.nlabels, 0);
    s = sample(7);
    assert_true(s.value == 4e-3);
}

static void test_escapes(void **state)
{
    const char *in = "# HELP esc Back\\\\slash and\\nnewline, \"quotes\" kept.\n"
                     "esc{path=\"C:\\\\dir\",q=\"say \\\"hi\\\"\",nl=\"a\\nb\",utf=\"żółw ✓\"} 1\n";
    assert_int_equal(parse(in), 0);
    assert_string_equal(fam("esc")->help, "Back\\slash and\nnewline, \"quotes\" kept.");
    struct hk_promtext_sample s = sample(0);
    assert_string_equal(label(&s, "path"), "C:\\dir");
    assert_string_equal(label(&s, "q"), "say \"hi\"");
    assert_string_equal(label(&s, "nl"), "a\nb");
    assert_string_equal(label(&s, "utf"), "żółw ✓");
    expect_error("x{a=\"\\t\"} 1\n", -EINVAL, 1, "invalid escape sequence '\\t'");
    expect_error("ok 1\n# HELP h bad \\q escape\n", -EINVAL, 2, "invalid escape sequence '\\q'");
    expect_error("# HELP h trailing \\\n", -EINVAL, 1, "invalid escape");
    expect_error("x{a=\"unterminated} 1\n", -EINVAL, 1, "not terminated");
    expect_error("x{a=\"ends with backslash\\", -EINVAL, 1, "no newline");
}

static void test_values(void **state)
{
    assert_int_equal(parse("a +Inf\nb -Inf\nc NaN\nd inf\ne -infinity\nf nan\ng 1.5e3\n"
                           "h -0.000123\ni 12345678901234567890123\nj .5\nk 5.\nl 1E-400\n"),
                     0);
    assert_int_equal(P.nsamples, 12);
    assert_true(isinf(sample(0).value) && sample(0).value > 0);
    assert_true(isinf(sample(1).value) && sample(1).value < 0);
    assert_true(isnan(sample(2).value));
    assert_true(isinf(sample(3).value));
    assert_true(isinf(sample(4).value) && sample(4).value < 0);
    assert_true(isnan(sample(5).value));
    assert_true(sample(6).value == 1500);
    assert_true(sample(7).value == -0.000123);
    assert_true(sample(8).value == 12345678901234567890123.0);
    assert_true(sample(9).value == 0.5);
    assert_true(sample(10).value == 5);
    assert_true(sample(11).value == 0); /* underflow is not an error, as in Go */
    expect_error("v 1e400\n", -EINVAL, 1, "expected float as value, got \"1e400\"");
    expect_error("v 0x1p-2\n", -EINVAL, 1, "expected float as value");
    expect_error("v 1_000\n", -EINVAL, 1, "expected float as value");
    expect_error("v abc\n", -EINVAL, 1, "expected float as value");
    expect_error("v\n", -EINVAL, 1, "expected a value");
    expect_error("v{a=\"b\"}\n", -EINVAL, 1, "expected a value");
}

/* The fast decimal path must give exactly what strtod gives. */
static void test_value_exactness(void **state)
{
    char buf[64];
    unsigned long long x = 12345;
    for (int i = 0; i < 200000; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        double v = (double)(x >> 11) / 9007199254740992.0 * pow(10, (int)(x % 40) - 20);
        int n = snprintf(buf, sizeof(buf), i % 3 ? "%.*f" : "%.*e", (int)(x % 17), v);
        double got, want = strtod(buf, NULL);
        assert_int_equal(hk_promtext_parse_value(buf, (size_t)n, &got), 0);
        if (got != want)
            fail_msg("%s: got %.17g want %.17g", buf, got, want);
    }
}

static void test_timestamps(void **state)
{
    assert_int_equal(parse("a 1\nb 2 1700000000000\nc 3 -5\n"), 0);
    assert_int_equal(P.timestamps, 2);
    assert_int_equal(P.first_ts_line, 2);
    struct hk_promtext_sample s = sample(1);
    assert_true(s.has_timestamp);
    assert_int_equal(s.timestamp_ms, 1700000000000LL);
    assert_false(sample(0).has_timestamp);
    s = sample(2); /* the second timestamp: records refer to theirs by index */
    assert_true(s.has_timestamp);
    assert_int_equal(s.timestamp_ms, -5);
    assert_true(s.value == 3);
    expect_error("a 1 1.5\n", -EINVAL, 1, "expected integer as timestamp, got \"1.5\"");
    expect_error("a 1 99999999999999999999\n", -EINVAL, 1, "expected integer as timestamp");
    expect_error("a 1 2 3\n", -EINVAL, 1, "spurious string after timestamp");
}

static void test_histogram_summary(void **state)
{
    const char *in = "# HELP rpc_seconds RPC latency.\n"
                     "# TYPE rpc_seconds histogram\n"
                     "rpc_seconds_bucket{le=\"0.1\"} 1\n"
                     "rpc_seconds_bucket{le=\"+Inf\"} 3\n"
                     "rpc_seconds_sum 1.5\n"
                     "rpc_seconds_count 3\n"
                     "# TYPE q summary\n"
                     "q{quantile=\"0.99\"} 0.2\n"
                     "q_sum 10\n"
                     "q_count 50\n"
                     "q_created 1\n"
                     "q_bucket 9\n";
    assert_int_equal(parse(in), 0);
    const struct hk_promtext_family *h = fam("rpc_seconds");
    assert_int_equal(h->type, HK_METRIC_HISTOGRAM);
    assert_int_equal(h->nsamples, 4);
    struct hk_promtext_sample s = sample(0);
    assert_string_equal(s.name, "rpc_seconds_bucket");
    assert_string_equal(P.families[s.family].name, "rpc_seconds");
    assert_string_equal(label(&s, "le"), "0.1");
    assert_int_equal(fam("q")->type, HK_METRIC_SUMMARY);
    assert_int_equal(fam("q")->nsamples, 3);
    /* _created and _bucket are not summary series: separate untyped families (as expfmt). */
    assert_int_equal(fam("q_created")->type, HK_METRIC_UNTYPED);
    assert_int_equal(fam("q_bucket")->type, HK_METRIC_UNTYPED);
    /* Without a TYPE line the suffixes mean nothing. */
    assert_int_equal(parse("x_bucket 1\nx_sum 2\n"), 0);
    assert_int_equal(P.nfamilies, 2);

    expect_error("# TYPE h histogram\nh 1\n", -EINVAL, 2, "needs the suffix _bucket");
    expect_error("# TYPE h histogram\nh_bucket 1\n", -EINVAL, 2, "without 'le' label");
    expect_error("# TYPE h histogram\nh_bucket{le=\"x\"} 1\n", -EINVAL, 2,
                 "expected float as value for 'le' label");
    expect_error("# TYPE s summary\ns 1\n", -EINVAL, 2, "without 'quantile' label");
    expect_error("# TYPE s summary\ns{quantile=\"high\"} 1\n", -EINVAL, 2,
                 "expected float as value for 'quantile' label");
}

static void test_type_help_rules(void **state)
{
    expect_error("t 1\n# TYPE t gauge\n", -EINVAL, 2, "or TYPE reported after samples");
    expect_error("# TYPE t gauge\n# TYPE t counter\n", -EINVAL, 2, "second TYPE line");
    expect_error("# HELP t a\n# HELP t b\n", -EINVAL, 2, "second HELP line");
    expect_error("# TYPE t info\n", -EINVAL, 1, "unknown metric type \"info\"");
    expect_error("# TYPE t gauge extra\n", -EINVAL, 1, "unexpected text after the type");
    expect_error("# TYPE 1t gauge\n", -EINVAL, 1, "invalid metric name in comment");
    /* A comment that is not HELP/TYPE may say anything. */
    assert_int_equal(parse("# TYPEFOO bar baz\n# help t lower case is a comment\n"), 0);
    /* An empty HELP is ignored as expfmt ignores it, also for a family already known (so it is
     * no "second HELP", and the textfile merge sees no HELP: node_exporter's
     * metrics_merge_empty_help case). */
    assert_int_equal(parse("# TYPE t counter\n# HELP t \n# HELP t \t\nt 1\n"), 0);
    assert_null(fam("t")->help);
    assert_int_equal(parse("# HELP t \n# HELP t Real.\nt 1\n"), 0);
    assert_string_equal(fam("t")->help, "Real.");
    /* HELP/TYPE without a sample still names a family, with no samples (the caller skips it). */
    assert_int_equal(parse("# HELP lonely Nothing follows.\n"), 0);
    assert_int_equal(fam("lonely")->nsamples, 0);
}

/* NUL bytes: C strings cannot carry them, so a label value or HELP holding one is an error
 * rather than a value cut short; elsewhere they fail as the characters they are. */
static void test_nul_bytes(void **state)
{
    static const char value[] = "ok 1\nx{a=\"b\0c\"} 1\n";
    assert_int_equal(hk_promtext_parse(&P, value, sizeof(value) - 1), -EINVAL);
    assert_int_equal(P.err_line, 2);
    assert_non_null(strstr(P.err_msg, "NUL byte in label value"));
    static const char help[] = "# HELP x a\0b\nx 1\n";
    assert_int_equal(hk_promtext_parse(&P, help, sizeof(help) - 1), -EINVAL);
    assert_int_equal(P.err_line, 1);
    assert_non_null(strstr(P.err_msg, "NUL byte in HELP"));
    static const char name[] = "x\0y 1\n";
    assert_int_equal(hk_promtext_parse(&P, name, sizeof(name) - 1), -EINVAL);
    static const char val[] = "x 1\0\n";
    assert_int_equal(hk_promtext_parse(&P, val, sizeof(val) - 1), -EINVAL);
    static const char comment[] = "# a \0 comment\nx 1\n";
    assert_int_equal(hk_promtext_parse(&P, comment, sizeof(comment) - 1), 0);
    assert_int_equal(P.nsamples, 1);
}

static void test_names_and_labels(void **state)
{
    expect_error("1abc 1\n", -EINVAL, 1, "invalid metric name");
    expect_error("a-b 1\n", -EINVAL, 1, "invalid metric name");
    expect_error("ok 1\nx{1a=\"v\"} 1\n", -EINVAL, 2, "invalid label name");
    expect_error("x{a=\"1\",a=\"2\"} 1\n", -EINVAL, 1, "duplicate label names");
    expect_error("x{__name__=\"y\"} 1\n", -EINVAL, 1, "\"__name__\" is reserved");
    expect_error("x{a=v} 1\n", -EINVAL, 1, "expected '\"' at start of label value");
    expect_error("x{a} 1\n", -EINVAL, 1, "expected '=' after label name");
    expect_error("x{a=\"v\" b=\"w\"} 1\n", -EINVAL, 1, "expected ',' or '}'");
    expect_error("x{a=\"v\"\n", -EINVAL, 1, "expected ',' or '}'");
    expect_error("x 1\r\n", -EINVAL, 1, "expected float as value");
    expect_error("\r\n", -EINVAL, 1, "invalid metric name");
    /* Many labels take the sort-based duplicate check. */
    char buf[4096];
    size_t o = (size_t)snprintf(buf, sizeof(buf), "m{");
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "l%d=\"%d\",", i, i);
    snprintf(buf + o, sizeof(buf) - o, "l7=\"x\"} 1\n");
    expect_error(buf, -EINVAL, 1, "duplicate label names");
    buf[o] = '\0';
    strcat(buf, "} 1\n");
    assert_int_equal(parse(buf), 0);
    assert_int_equal(sample(0).nlabels, 40);
}

static void test_bad_utf8(void **state)
{
    expect_error("good{a=\"ok\"} 1\nbad{a=\"\xff\xfe\"} 1\n", -EINVAL, 2, "not valid UTF-8");
    expect_error("bad{a=\"\xed\xa0\x80\"} 1\n", -EINVAL, 1, "not valid UTF-8"); /* surrogate */
    expect_error("bad{a=\"\xc0\xaf\"} 1\n", -EINVAL, 1, "not valid UTF-8");     /* overlong */
    /* HELP text is not checked by expfmt either; the builder repairs it on emission. */
    assert_int_equal(parse("# HELP h \xff\nh 1\n"), 0);
}

static void test_limits_and_truncation(void **state)
{
    /* Truncated mid-line (a writer caught mid-write, or a cut file). */
    expect_error("a 1\nb 2\nc{x=\"1", -EINVAL, 3, "unexpected end of input stream");
    expect_error("a 1\nb 2", -EINVAL, 2, "unexpected end of input stream");
    assert_int_equal(parse(""), 0);
    assert_int_equal(P.nsamples, 0);
    assert_int_equal(parse("a 1\n  "), 0); /* only blanks after the last newline */

    hk_promtext_fini(&P);
    hk_promtext_init(&P, 64, 3);
    char line[200];
    memset(line, 'a', sizeof(line));
    memcpy(line + 100, " 1\n", 4);
    char in[300];
    snprintf(in, sizeof(in), "ok 1\n%s", line);
    expect_error(in, -E2BIG, 2, "line longer than 64 bytes");
    expect_error("a 1\nb 1\nc 1\nd 1\n", -E2BIG, 4, "more than 3 samples");
    assert_int_equal(parse("a 1\nb 1\nc 1\n"), 0);
}

/* Duplicate series are not a parse error (expfmt accepts them; node_exporter's registry keeps
 * the first): both are recorded, the snapshot builder drops the later one. */
static void test_duplicate_series(void **state)
{
    assert_int_equal(parse("d{a=\"1\"} 1\nd{a=\"1\"} 2\nd{a=\"2\"} 3\n"), 0);
    assert_int_equal(P.nsamples, 3);
    assert_int_equal(fam("d")->nsamples, 3);
    struct hk_limits lim = {0, 0, 0};
    struct hk_builder *b = hk_builder_new(&lim);
    hk_builder_begin(b, "t");
    struct hk_family_spec spec = {"d", "h", HK_METRIC_UNTYPED, ""};
    for (size_t i = 0; i < P.nsamples; i++) {
        struct hk_promtext_sample s = sample(i);
        assert_int_equal(hk_emit_labels(b, &spec, s.name, s.labels, s.nlabels, s.value, 0), 0);
    }
    hk_builder_commit(b);
    struct hk_seal_stats st;
    struct hk_snapshot *snap = hk_builder_seal(b, 0, &st);
    assert_non_null(snap);
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(snap->nseries, 2);
    for (size_t i = 0; i < snap->nseries; i++)
        if (strcmp(snap->series[i].labels[0].value, "1") == 0)
            assert_true(snap->series[i].value == 1); /* the first one wins */
    hk_snapshot_unref(snap);
}

/* A parser is reused between files: nothing leaks from one input into the next. */
static void test_reuse(void **state)
{
    assert_int_equal(parse("# TYPE a gauge\na 1\n"), 0);
    assert_int_equal(parse("a 2\n"), 0);
    assert_int_equal(P.nfamilies, 1);
    assert_int_equal(fam("a")->type, HK_METRIC_UNTYPED);
    assert_int_equal(parse("bad line here\n"), -EINVAL);
    assert_int_equal(parse("b 1\n"), 0);
    assert_int_equal(P.err_line, 0);
    assert_null(fam("a"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_line_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values, setup, teardown),
        cmocka_unit_test(test_value_exactness),
        cmocka_unit_test_setup_teardown(test_timestamps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_histogram_summary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type_help_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_and_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nul_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_and_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_series, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reuse, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
