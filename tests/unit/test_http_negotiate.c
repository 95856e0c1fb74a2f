/* SPDX-License-Identifier: Apache-2.0 */
/* Accept / Accept-Encoding negotiation (exporter/negotiate.c): exact tokens, q-values, ties in
 * header order, quoted parameters, malformed input. The Accept cases follow client_golang's
 * expfmt.NegotiateIncludingOpenMetrics; the Accept-Encoding ones RFC 9110 section 12.5.3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "exporter/negotiate.h"

#define OM HK_TEXTFMT_OPENMETRICS
#define PB HK_TEXTFMT_PROTOBUF
#define TEXT HK_TEXTFMT_TEXT

static void test_format(void **state)
{
    (void)state;
    static const struct {
        const char *accept;
        enum hk_textfmt want;
    } cases[] = {
        {NULL, TEXT},
        {"", TEXT},
        {"*/*", TEXT},
        /* Prometheus 2.42 with native histograms on, as sent (no spaces) */
        {"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding="
         "delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-"
         "text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
         PB},
        {"application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
         "encoding=delimited",
         PB},
        /* other encodings or messages, or no proto parameter: not ours */
        {"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text",
         TEXT},
        {"application/vnd.google.protobuf;proto=other.Message;encoding=delimited", TEXT},
        {"application/vnd.google.protobuf;encoding=delimited", TEXT},
        {"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding="
         "delimited;q=0.4,text/plain;q=0.5",
         TEXT},
        {"application/openmetrics-text", OM},
        {"Application/OpenMetrics-Text; Version=1.0.0", OM},
        {"application/openmetrics-text;version=0.0.1", OM},
        /* Prometheus 2.42's scrape Accept header. */
        {"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
         "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
         OM},
        /* Prometheus with OpenMetrics disabled (scrape_protocols without it). */
        {"text/plain;version=0.0.4;q=1,*/*;q=0.1", TEXT},
        {"application/openmetrics-text;q=0", TEXT},
        {"application/openmetrics-text;q=0.000", TEXT},
        {"application/openmetrics-text; q=0 , text/plain", TEXT},
        {"application/openmetrics-text;version=2.0.0", TEXT}, /* a version we do not speak */
        {"application/openmetrics-textual", TEXT},            /* not a prefix match */
        {"xapplication/openmetrics-text", TEXT},
        {"text/plain;q=0.5, application/openmetrics-text;q=0.9", OM},
        {"application/openmetrics-text;q=0.5, text/plain;q=0.9", TEXT},
        {"text/plain, application/openmetrics-text", TEXT}, /* tie: header order */
        {"application/openmetrics-text, text/plain", OM},
        {"text/plain;version=0.0.3, application/openmetrics-text;q=0.1", OM},
        {"text/html, application/openmetrics-text;q=0.2", OM},
        /* A quoted parameter may hold ',' and ';' without splitting the list. */
        {"text/plain;foo=\"a,b;q=0\";q=0.1, application/openmetrics-text;q=0.2", OM},
        {"application/openmetrics-text;version=\"1.0.0\"", OM},
        /* Malformed q-values count as 0 (refused), as goautoneg's parse error does. */
        {"application/openmetrics-text;q=2", TEXT},
        {"application/openmetrics-text;q=abc", TEXT},
        {"application/openmetrics-text;q=1.5", TEXT},
        {"application/openmetrics-text;q=0.0001", TEXT},
        {"application/openmetrics-text;q=1.000", OM},
        {",,;;,", TEXT},
        {";q=1,application/openmetrics-text", OM},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum hk_textfmt got = hk_negotiate_format(cases[i].accept);
        if (got != cases[i].want)
            fail_msg("Accept \"%s\": got %s, want %s", cases[i].accept ? cases[i].accept : "(none)",
                     got == OM ? "OpenMetrics" : "text",
                     cases[i].want == OM ? "OpenMetrics" : "text");
    }
}

static void test_gzip(void **state)
{
    (void)state;
    static const struct {
        const char *ae;
        bool want;
    } cases[] = {
        {NULL, false},
        {"", false},
        {"gzip", true},
        {"GZip", true},
        {"x-gzip", true},
        {"gzip, deflate, br", true},
        {"deflate, gzip;q=1.0, *;q=0.5", true},
        {"notgzip", false},
        {"gzipped", false},
        {"br, notgzip, deflate", false},
        {"gzip;q=0", false},
        {"gzip; q=0.0", false},
        {"gzip;q=0, identity", false},
        {"*", true},
        {"*;q=0", false},
        {"*, gzip;q=0", false}, /* the explicit entry beats the wildcard */
        {"gzip;q=0, *", false},
        {"identity;q=0.5, gzip;q=0.4", false},
        {"identity;q=0.5, gzip;q=0.5", true}, /* tie: gzip, as client_golang offers it first */
        {"identity;q=0, gzip;q=0.1", true},
        {"gzip;q=0.001", false}, /* identity (q=1 unless listed) is preferred */
        {"gzip;q=0.001, identity;q=0", true},
        {"gzip;q=bogus", false},
        {"gzip;q=1.1", false},
        {"gzip;level=\"9,q=0\"", true},
        {"deflate;q=\"a,gzip\"", false},
        {" gzip ; q=0.5 , identity ;q=0.2", true},
        {"gzip, gzip;q=0", true}, /* listed twice: the higher q counts */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (hk_negotiate_gzip(cases[i].ae) != cases[i].want)
            fail_msg("Accept-Encoding \"%s\": got %s, want %s",
                     cases[i].ae ? cases[i].ae : "(none)", cases[i].want ? "identity" : "gzip",
                     cases[i].want ? "gzip" : "identity");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_gzip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
