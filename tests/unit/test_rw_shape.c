/* SPDX-License-Identifier: Apache-2.0 */
/* rw_shape: a series encoded through a shape gives exactly the bytes of the general 1.0 encoder
 * (hk_rw_encode_v1_series, itself compared with protobuf-c in test_rw_encode) for the merged
 * labels (hk_rw_targets_merge), over every subset of a set of names (some colliding with target
 * and external labels, some sorting before __name__, some empty) in every profile and target,
 * for other series of the same shape (other values, other name, other pointers to the same
 * names); a shape fits only series with its target, names and empty values. */
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

#include "exporter/rw_encode.h"
#include "exporter/rw_shape.h"
#include "exporter/rw_targets.h"

#define L(n, v) ((struct hk_label){n, v})

static const struct hk_rw_identity ident = {"node-1", "monitoring", "hakari-x7k2p"};

/* The bytes the general encoder gives for series (name, s[0..n)) of target k. */
static void reference(const struct hk_rw_targets *t, enum hk_target k, const char *name,
                      const struct hk_label *s, size_t n, double value, int64_t ts,
                      struct hk_buf *out)
{
    struct hk_label merged[2 * HK_RW_SHAPE_MAX_LABELS];
    size_t o = hk_rw_targets_merge(t, k, name, s, n, merged);
    struct hk_rw_sample x = {.labels = merged, .nlabels = (uint32_t)o, .value = value, .ts_ms = ts};
    hk_buf_reset(out);
    assert_int_equal(hk_rw_encode_v1_series(&x, out), 0);
}

static void expect_same(const struct hk_rw_shape *sh, const struct hk_rw_targets *t,
                        enum hk_target k, const char *name, const struct hk_label *s, size_t n,
                        double value, int64_t ts)
{
    struct hk_buf want, got;
    hk_buf_init(&want, 0);
    hk_buf_init(&got, 0);
    reference(t, k, name, s, n, value, ts, &want);
    assert_true(hk_rw_shape_fits(sh, k, s, n));
    assert_int_equal(hk_rw_shape_encode(sh, name, s, value, ts, &got), 0);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);
    /* Appends: a second series after the first. */
    assert_int_equal(hk_rw_shape_encode(sh, name, s, value, ts, &got), 0);
    assert_int_equal(got.len, 2 * want.len);
    assert_memory_equal(got.data + want.len, want.data, want.len);
    hk_buf_free(&want);
    hk_buf_free(&got);
}

static void test_against_general_encoder(void **state)
{
    (void)state;
    static const char *const names[] = {"A",   "_a", "cluster", "exported_job", "instance",
                                        "job", "le", "node",    "pod",          "zz"};
    const size_t nn = sizeof(names) / sizeof(names[0]);
    static const char *const values[] = {"x", "0", "node-7", "a-much-longer-value-0123456789"};
    const struct hk_label ext[] = {L("cluster", "c1"), L("instance", "ext-i"), L("x", "1")};
    /* A value over 127 bytes: two-byte varint lengths. */
    char longv[300];
    memset(longv, 'v', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    size_t checked = 0;
    for (int mode = 0; mode < 3; mode++) {
        struct hk_rw_targets t;
        assert_int_equal(hk_rw_targets_build(&t, (enum hk_target_labels)mode, ext, 3, &ident), 0);
        struct hk_rw_shape sh = {0};
        for (int k = 0; k < HK_TARGET_COUNT; k++) {
            for (unsigned mask = 0; mask < (1u << nn); mask += 1 + mask % 3) {
                struct hk_label a[16], b[16];
                char copies[16][32]; /* b's names: the same content at other addresses */
                size_t n = 0;
                for (size_t i = 0; i < nn; i++) {
                    if (!(mask & (1u << i)))
                        continue;
                    bool empty = (mask >> i) % 5 == 3;
                    snprintf(copies[n], sizeof(copies[n]), "%s", names[i]);
                    a[n] = L(names[i], empty ? "" : values[(i + mask) % 4]);
                    b[n] = L(copies[n], empty ? "" : i % 3 == 0 ? longv : values[(i + 1) % 4]);
                    n++;
                }
                enum hk_target tk = (enum hk_target)k;
                assert_int_equal(hk_rw_shape_build(&sh, &t, tk, a, n), 0);
                expect_same(&sh, &t, tk, "m", a, n, 1.5, 1700000000123);
                expect_same(&sh, &t, tk, "node_cpu_seconds_total", b, n, 0.0, 0);
                expect_same(&sh, &t, tk, longv, b, n, -0.0, -5);
                double stale;
                uint64_t bits = HK_STALE_NAN_BITS;
                memcpy(&stale, &bits, sizeof(stale));
                expect_same(&sh, &t, tk, "up", a, n, stale, 1);
                checked++;
            }
        }
        hk_rw_shape_free(&sh);
        hk_rw_targets_free(&t);
    }
    assert_true(checked > 3 * HK_TARGET_COUNT * 200);
}

static void test_fits(void **state)
{
    (void)state;
    struct hk_rw_targets t;
    assert_int_equal(hk_rw_targets_build(&t, HK_TARGET_LABELS_KUBE_PROMETHEUS, NULL, 0, &ident), 0);
    struct hk_rw_shape sh = {0};
    const struct hk_label s[] = {L("cpu", "0"), L("instance", "i"), L("mode", "idle")};
    assert_false(hk_rw_shape_fits(&sh, HK_TARGET_NODE, s, 3)); /* never built */
    assert_int_equal(hk_rw_shape_build(&sh, &t, HK_TARGET_NODE, s, 3), 0);
    assert_true(hk_rw_shape_fits(&sh, HK_TARGET_NODE, s, 3));
    /* Another target adds other labels (and honours the series' own instance). */
    assert_false(hk_rw_shape_fits(&sh, HK_TARGET_CADVISOR, s, 3));
    assert_false(hk_rw_shape_fits(&sh, HK_TARGET_NODE, s, 2));
    const struct hk_label other_name[] = {L("cpu", "0"), L("instance", "i"), L("zone", "idle")};
    assert_false(hk_rw_shape_fits(&sh, HK_TARGET_NODE, other_name, 3));
    const struct hk_label emptied[] = {L("cpu", "0"), L("instance", ""), L("mode", "idle")};
    assert_false(hk_rw_shape_fits(&sh, HK_TARGET_NODE, emptied, 3));
    const struct hk_label other_values[] = {L("cpu", "7"), L("instance", "j"), L("mode", "user")};
    assert_true(hk_rw_shape_fits(&sh, HK_TARGET_NODE, other_values, 3));
    expect_same(&sh, &t, HK_TARGET_NODE, "node_cpu_seconds_total", other_values, 3, 42, 7);
    /* A failed build leaves the shape fitting nothing. */
    struct hk_label many[HK_RW_SHAPE_MAX_LABELS + 1];
    char nm[HK_RW_SHAPE_MAX_LABELS + 1][8];
    for (size_t i = 0; i <= HK_RW_SHAPE_MAX_LABELS; i++) {
        snprintf(nm[i], sizeof(nm[i]), "l%03zu", i);
        many[i] = L(nm[i], "v");
    }
    assert_int_equal(hk_rw_shape_build(&sh, &t, HK_TARGET_NODE, many, HK_RW_SHAPE_MAX_LABELS + 1),
                     -E2BIG);
    assert_false(hk_rw_shape_fits(&sh, HK_TARGET_NODE, s, 3));
    assert_int_equal(hk_rw_shape_build(&sh, &t, HK_TARGET_NODE, many, HK_RW_SHAPE_MAX_LABELS), 0);
    expect_same(&sh, &t, HK_TARGET_NODE, "wide", many, HK_RW_SHAPE_MAX_LABELS, 1, 1);
    hk_rw_shape_free(&sh);
    hk_rw_shape_free(&sh); /* idempotent */
    hk_rw_targets_free(&t);
}

/* The buffer's cap is honoured: -E2BIG and nothing appended. */
static void test_cap(void **state)
{
    (void)state;
    struct hk_rw_targets t;
    assert_int_equal(hk_rw_targets_build(&t, HK_TARGET_LABELS_HAKARI, NULL, 0, &ident), 0);
    struct hk_rw_shape sh = {0};
    const struct hk_label s[] = {L("cpu", "0")};
    assert_int_equal(hk_rw_shape_build(&sh, &t, HK_TARGET_SELF, s, 1), 0);
    struct hk_buf b;
    hk_buf_init(&b, 0);
    assert_int_equal(hk_rw_shape_encode(&sh, "m", s, 1, 1, &b), 0);
    size_t one = b.len;
    hk_buf_free(&b);
    hk_buf_init(&b, one + one / 2); /* room for one series, not two */
    assert_int_equal(hk_rw_shape_encode(&sh, "m", s, 1, 1, &b), 0);
    assert_int_equal(b.len, one);
    assert_int_equal(hk_rw_shape_encode(&sh, "m", s, 1, 1, &b), -E2BIG);
    assert_int_equal(b.len, one);
    hk_buf_free(&b);
    hk_rw_shape_free(&sh);
    hk_rw_targets_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_general_encoder),
        cmocka_unit_test(test_fits),
        cmocka_unit_test(test_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
