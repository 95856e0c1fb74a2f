/* SPDX-License-Identifier: Apache-2.0 */
/* Label names, UTF-8 validation and repair, sorting with duplicate detection, series hashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/labels.h"

/* Computed once with this implementation (see test_hash). */
#define HASH_UP 0xd3754aa26ebe4a06ULL
#define HASH_LOAD1 0x75be97c0e9387764ULL
#define HASH_UP_JOB 0x71770407381be703ULL

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_label_names(void **state)
{
    (void)state;
    const char *good[] = {"a", "_", "pod", "container_name", "A1", "__name__", "x_9_Y"};
    const char *bad[] = {"", "1a", "a-b", "a.b", "a b", "é", "a:b", "pod\n"};
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
        assert_true(hk_label_name_valid(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        assert_false(hk_label_name_valid(bad[i], strlen(bad[i])));
    /* Metric names additionally allow ':' anywhere. */
    assert_true(hk_metric_name_valid("job:rate5m:sum", 14));
    assert_true(hk_metric_name_valid(":x", 2));
    assert_false(hk_metric_name_valid("9x", 2));
    assert_false(hk_metric_name_valid("a-b", 3));
    assert_false(hk_metric_name_valid("", 0));
    /* len is honoured: the prefix "ab" of "ab-c" is valid. */
    assert_true(hk_label_name_valid("ab-c", 2));
}

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_true(hk_utf8_valid("plain ascii", 11));
    assert_true(hk_utf8_valid("\xc3\xa9t\xc3\xa9", 6));          /* été */
    assert_true(hk_utf8_valid("\xe2\x82\xac", 3));                /* € */
    assert_true(hk_utf8_valid("\xf0\x9f\x98\x80", 4));            /* 😀 */
    assert_false(hk_utf8_valid("\xc0\xaf", 2));                   /* overlong '/' */
    assert_false(hk_utf8_valid("\xe0\x80\xaf", 3));               /* overlong 3-byte */
    assert_false(hk_utf8_valid("\xed\xa0\x80", 3));               /* surrogate U+D800 */
    assert_false(hk_utf8_valid("\xf4\x90\x80\x80", 4));           /* > U+10FFFF */
    assert_false(hk_utf8_valid("\xff", 1));
    assert_false(hk_utf8_valid("\xe2\x82", 2));                   /* truncated */
    assert_int_equal(hk_utf8_valid_prefix("ab\xe2\x82", 4), 2);
    assert_int_equal(hk_utf8_valid_prefix("ab\xe2\x82\xac", 5), 5);
}

static void test_utf8_repair(void **state)
{
    (void)state;
    char out[64];
    /* Each invalid byte becomes one U+FFFD; valid sequences are kept. */
    size_t n = hk_utf8_repair(out, "a\xff" "b\xc3\xa9\xe2\x82", 7);
    assert_string_equal(out, "a\xef\xbf\xbd" "b\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd");
    assert_int_equal(n, strlen(out));
    assert_true(hk_utf8_valid(out, n));
    /* Worst case: every byte invalid, output is exactly 3*len. */
    n = hk_utf8_repair(out, "\x80\x80\x80\x80", 4);
    assert_int_equal(n, 12);
    n = hk_utf8_repair(out, "", 0);
    assert_int_equal(n, 0);
    assert_string_equal(out, "");
}

static void test_sort_and_duplicates(void **state)
{
    (void)state;
    struct hk_label l[] = {{"pod", "p"}, {"container", "c"}, {"namespace", "n"}, {"id", "/x"}};
    assert_true(hk_labels_sort(l, 4));
    assert_string_equal(l[0].name, "container");
    assert_string_equal(l[1].name, "id");
    assert_string_equal(l[2].name, "namespace");
    assert_string_equal(l[3].name, "pod");
    assert_string_equal(hk_labels_get(l, 4, "namespace"), "n");
    assert_null(hk_labels_get(l, 4, "image"));

    struct hk_label d[] = {{"b", "1"}, {"a", "2"}, {"b", "3"}};
    assert_false(hk_labels_sort(d, 3));
    /* Byte order, not locale order: uppercase before lowercase, '_' between. */
    struct hk_label c[] = {{"a", ""}, {"_", ""}, {"Z", ""}};
    assert_true(hk_labels_sort(c, 3));
    assert_string_equal(c[0].name, "Z");
    assert_string_equal(c[1].name, "_");
    assert_string_equal(c[2].name, "a");
    assert_true(hk_labels_sort(NULL, 0));
}

static void test_cmp(void **state)
{
    (void)state;
    struct hk_label a[] = {{"a", "1"}, {"b", "2"}};
    struct hk_label b[] = {{"a", "1"}, {"b", "3"}};
    assert_int_equal(hk_labels_cmp(a, 2, a, 2), 0);
    assert_true(hk_labels_cmp(a, 2, b, 2) < 0);
    assert_true(hk_labels_cmp(b, 2, a, 2) > 0);
    assert_true(hk_labels_cmp(a, 1, a, 2) < 0); /* prefix sorts first */
}

static void test_hash(void **state)
{
    (void)state;
    struct hk_label a[] = {{"container", "web"}, {"pod", "p-1"}};
    struct hk_label a2[] = {{"container", "web"}, {"pod", "p-1"}};
    /* Equal content from distinct buffers → equal hash. */
    char *name = strdup("container_cpu_usage_seconds_total");
    assert_non_null(name);
    assert_true(hk_series_hash("container_cpu_usage_seconds_total", a, 2) ==
                hk_series_hash(name, a2, 2));
    free(name);
    /* Any difference in name, label name, label value or count changes the hash. */
    struct hk_label b[] = {{"container", "web"}, {"pod", "p-2"}};
    assert_true(hk_series_hash("m", a, 2) != hk_series_hash("m", b, 2));
    assert_true(hk_series_hash("m", a, 2) != hk_series_hash("n", a, 2));
    assert_true(hk_series_hash("m", a, 2) != hk_series_hash("m", a, 1));
    /* Separators keep {a="bc"} and {ab="c"} apart, and the name apart from label text. */
    struct hk_label s1[] = {{"a", "bc"}};
    struct hk_label s2[] = {{"ab", "c"}};
    assert_true(hk_series_hash("m", s1, 1) != hk_series_hash("m", s2, 1));
    struct hk_label e1[] = {{"a", ""}};
    assert_true(hk_series_hash("m", e1, 1) != hk_series_hash("m", NULL, 0));
    /* Built from parts: the set's hash is the sum of its labels' pair hashes, in any order
     * (the builder sums them per label position before sorting). */
    struct hk_label l3[] = {{"container", "web"}, {"id", "/kubepods.slice/a-very-long-path.scope"},
                            {"le", ""}, {"pod", "p-1"}};
    struct hk_label r3[] = {{"pod", "p-1"},
                            {"le", ""},
                            {"container", "web"},
                            {"id", "/kubepods.slice/a-very-long-path.scope"}};
    uint64_t sum = 0;
    for (size_t i = 0; i < 4; i++)
        sum += hk_label_hash(hk_hash_str(l3[i].name, strlen(l3[i].name)),
                             hk_hash_str(l3[i].value, strlen(l3[i].value)));
    assert_true(hk_labels_hash(l3, 4) == sum);
    assert_true(hk_labels_hash(r3, 4) == sum);
    assert_true(hk_labels_hash(NULL, 0) == 0);
    assert_true(hk_series_hash("container_memory_rss", l3, 4) ==
                hk_series_hash_of(hk_hash_str("container_memory_rss", 20), sum));
    assert_true(hk_series_hash("container_memory_rss", l3, 4) ==
                hk_series_hash("container_memory_rss", r3, 4));
    /* A name and a value do not trade places, and neither do a series name and a label. */
    struct hk_label ab[] = {{"a", "b"}}, ba[] = {{"b", "a"}};
    assert_true(hk_series_hash("m", ab, 1) != hk_series_hash("m", ba, 1));
    struct hk_label xy[] = {{"x", "y"}, {"y", "x"}}, yx[] = {{"x", "x"}, {"y", "y"}};
    assert_true(hk_series_hash("m", xy, 2) != hk_series_hash("m", yx, 2));

    /* Stable across runs and hosts: pinned values. Nothing on disk depends on them since queue
     * format 2, but the series order within a family (and so the golden files) does: change
     * them deliberately. */
    assert_true(hk_hash_bytes(0, "", 0) == hk_hash_bytes(0, "", 0));
    uint64_t h1 = hk_series_hash("up", NULL, 0);
    uint64_t h2 = hk_series_hash("node_load1", NULL, 0);
    struct hk_label job[] = {{"instance", "127.0.0.1:9810"}, {"job", "hakari"}};
    uint64_t h3 = hk_series_hash("up", job, 2);
    print_message("pinned hashes: %016llx %016llx %016llx\n", (unsigned long long)h1,
                  (unsigned long long)h2, (unsigned long long)h3);
    assert_true(h1 == HASH_UP);
    assert_true(h2 == HASH_LOAD1);
    assert_true(h3 == HASH_UP_JOB);

    /* hash_skip ignores one label: the buckets of one histogram share it. */
    struct hk_label b1[] = {{"le", "0.1"}, {"pod", "x"}};
    struct hk_label b2[] = {{"le", "+Inf"}, {"pod", "x"}};
    struct hk_label b0[] = {{"pod", "x"}};
    assert_true(hk_series_hash_skip("h", b1, 2, "le") == hk_series_hash_skip("h", b2, 2, "le"));
    assert_true(hk_series_hash_skip("h", b1, 2, "le") == hk_series_hash("h", b0, 1));
    assert_true(hk_series_hash("h", b1, 2) != hk_series_hash("h", b2, 2));
}

static void test_hash_spread(void **state)
{
    (void)state;
    /* 20k sequential pod names: no two hashes equal, and the low bits (used for sharding)
     * spread evenly over 16 shards (each within ±15% of the mean). */
    enum { N = 20000, SHARDS = 16 };
    uint64_t *h = calloc(N, sizeof(*h));
    assert_non_null(h);
    unsigned counts[SHARDS] = {0};
    for (int i = 0; i < N; i++) {
        char v[32];
        snprintf(v, sizeof(v), "pod-%d", i);
        struct hk_label l[] = {{"pod", v}};
        h[i] = hk_series_hash("container_memory_rss", l, 1);
        counts[h[i] % SHARDS]++;
    }
    qsort(h, N, sizeof(*h), u64_cmp);
    for (int i = 1; i < N; i++)
        assert_true(h[i - 1] != h[i]);
    for (int s = 0; s < SHARDS; s++) {
        assert_true(counts[s] > N / SHARDS * 85 / 100);
        assert_true(counts[s] < N / SHARDS * 115 / 100);
    }
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_names), cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_repair), cmocka_unit_test(test_sort_and_duplicates),
        cmocka_unit_test(test_cmp),         cmocka_unit_test(test_hash),
        cmocka_unit_test(test_hash_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
