/* SPDX-License-Identifier: Apache-2.0 */
/* The big-block pool (core/arena.h): blocks released after a cycle end come back for the same
 * rounded size, unchanged; the pool keeps at most what the last cycle took and, when told not to
 * keep, nothing between cycles (only within one); pooled blocks are poisoned under ASan. With
 * snapshots: a sealed snapshot's arena is reused only after its last reference is gone — a snapshot
 * still held keeps every series intact while later cycles are built (from pooled memory) around it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/snapshot.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISONED(p) __asan_address_is_poisoned(p)
#else
#define POISONED(p) 1
#endif

#define MIB ((size_t)1 << 20)

static void test_reuse_and_bounds(void **state)
{
    (void)state;
    struct hk_big_stats st0, st;
    hk_big_pool_drain();
    hk_big_get_stats(&st0);
    /* Before any cycle end nothing is kept. */
    char *x = hk_big_alloc(3 * MIB);
    assert_non_null(x);
    hk_big_free(x, 3 * MIB);
    hk_big_get_stats(&st);
    assert_int_equal(st.pooled_bytes, 0);

    hk_big_pool_drain();
    char *a = hk_big_alloc(4 * MIB), *b = hk_big_alloc(2 * MIB);
    assert_non_null(a);
    assert_non_null(b);
    memset(a, 'a', 4 * MIB);
    hk_big_cycle_end(true); /* this cycle took 6 MiB */
    hk_big_get_stats(&st);
    assert_int_equal(st.limit_bytes, 6 * MIB);
    hk_big_free(a, 4 * MIB);
    hk_big_free(b, 2 * MIB);
    hk_big_get_stats(&st);
    assert_int_equal(st.pooled_bytes, 6 * MIB);
    assert_true(POISONED(a) && POISONED(b + 2 * MIB - 1));
    /* Same rounded size: the same block, as it was (not zeroed). */
    char *a2 = hk_big_alloc(4 * MIB - 100);
    assert_ptr_equal(a2, a);
    assert_int_equal(a2[4 * MIB - 101], 'a');
    hk_big_get_stats(&st);
    assert_int_equal(st.reused_bytes - st0.reused_bytes, 4 * MIB);
    /* Another size: fresh. */
    char *c = hk_big_alloc(8 * MIB);
    assert_ptr_not_equal(c, b);
    hk_big_get_stats(&st);
    assert_int_equal(st.pooled_bytes, 2 * MIB);
    /* Over the bound (6 MiB): given back, not kept. */
    hk_big_free(a2, 4 * MIB);
    hk_big_free(c, 8 * MIB);
    hk_big_get_stats(&st);
    assert_int_equal(st.pooled_bytes, 6 * MIB);
    /* The next cycle took 12 MiB (a2 + c above count in it): the bound follows. */
    hk_big_cycle_end(true);
    hk_big_get_stats(&st);
    assert_int_equal(st.limit_bytes, 12 * MIB);
    /* A cycle that took less: the pool shrinks to it, oldest blocks first. */
    char *d = hk_big_alloc(2 * MIB);
    assert_ptr_equal(d, b);
    hk_big_cycle_end(true);
    hk_big_get_stats(&st);
    assert_int_equal(st.limit_bytes, 2 * MIB);
    assert_true(st.pooled_bytes <= 2 * MIB);
    hk_big_free(d, 2 * MIB);
    /* Not keeping: everything goes. */
    hk_big_cycle_end(false);
    hk_big_get_stats(&st);
    assert_int_equal(st.pooled_bytes, 0);
    assert_int_equal(st.limit_bytes, 0);
    /* Small blocks are plain malloc, never pooled. */
    hk_big_cycle_end(true);
    char *s = hk_big_alloc(1000);
    hk_big_free(s, 1000);
    hk_big_get_stats(&st);
    assert_int_equal(st.pooled_bytes, 0);
    hk_big_pool_drain();
}

/* Not keeping between cycles (the scheduler at intervals of 1 s and more): a block released
 * between two cycles goes back to the kernel, one released within a cycle serves a later request
 * of that cycle of the same size or up to half of it, as it was, and the cycle's end empties the
 * pool. */
static void test_within_cycle_only(void **state)
{
    (void)state;
    struct hk_big_stats st;
    hk_big_pool_drain();
    char *a = hk_big_alloc(8 * MIB);
    assert_non_null(a);
    hk_big_cycle_end(false); /* this cycle took 8 MiB: the bound within the next */
    hk_big_free(a, 8 * MIB); /* between cycles */
    hk_big_get_stats(&st);
    assert_int_equal(st.pooled_bytes, 0);
    hk_big_cycle_begin();
    char *b = hk_big_alloc(8 * MIB);
    assert_non_null(b);
    memset(b, 'b', 8 * MIB);
    hk_big_free(b, 8 * MIB); /* within the cycle: kept */
    hk_big_get_stats(&st);
    assert_int_equal(st.pooled_bytes, 8 * MIB);
    assert_int_equal(st.limit_bytes, 8 * MIB);
    assert_true(POISONED(b) && POISONED(b + 8 * MIB - 1));
    /* 5 MiB (6 rounded): the 8 MiB block, unchanged. */
    char *c = hk_big_alloc(5 * MIB);
    assert_ptr_equal(c, b);
    assert_int_equal(c[5 * MIB - 1], 'b');
    hk_big_free(c, 5 * MIB); /* counted as the 6 MiB it was taken for */
    hk_big_get_stats(&st);
    assert_int_equal(st.pooled_bytes, 6 * MIB);
    /* 2 MiB is under half of it: a fresh block, and the pooled one stays. */
    char *d = hk_big_alloc(2 * MIB);
    assert_non_null(d);
    assert_ptr_not_equal(d, c);
    hk_big_free(d, 2 * MIB);
    hk_big_get_stats(&st);
    assert_int_equal(st.pooled_bytes, 8 * MIB);
    hk_big_cycle_end(false);
    hk_big_get_stats(&st);
    assert_int_equal(st.pooled_bytes, 0);
    assert_int_equal(st.limit_bytes, 0);
    hk_big_pool_drain();
}

static const char *const lnames[] = {"id", "grp", NULL};
static const struct hk_metric_desc d_x = {"pool_test_value", "A value.", HK_METRIC_GAUGE, "",
                                          lnames};

enum { NSER = 100000 };

/* One cycle of NSER series whose values and label values depend on cycle. */
static struct hk_snapshot *build(int cycle, struct hk_builder_hint *hint)
{
    struct hk_builder *b = hk_builder_new(NULL);
    assert_non_null(b);
    hk_builder_reserve(b, hint);
    hk_builder_begin(b, "test");
    char id[32], grp[32];
    for (int i = 0; i < NSER; i++) {
        snprintf(id, sizeof(id), "c%d-series-%06d", cycle, i);
        snprintf(grp, sizeof(grp), "g%d", i % 97);
        const char *v[] = {id, grp};
        assert_int_equal(hk_emit(b, &d_x, v, cycle * 1e6 + i), 0);
    }
    hk_builder_commit(b);
    struct hk_seal_stats stats;
    struct hk_snapshot *snap = hk_builder_seal(b, 1000 + cycle, &stats);
    assert_non_null(snap);
    *hint = stats.hint;
    hk_big_cycle_end(true);
    return snap;
}

static void check(const struct hk_snapshot *snap, int cycle)
{
    assert_int_equal(snap->nseries, NSER);
    char want[32];
    for (size_t k = 0; k < snap->nseries; k++) {
        const struct hk_series *s = &snap->series[k];
        const char *id = hk_labels_get(s->labels, s->nlabels, "id");
        assert_non_null(id);
        int i = atoi(id + strlen("c0-series-") + (cycle >= 10));
        snprintf(want, sizeof(want), "c%d-series-%06d", cycle, i);
        assert_string_equal(id, want);
        assert_true(s->value == cycle * 1e6 + i);
        assert_string_equal(s->name, "pool_test_value");
    }
}

static void test_snapshot_memory_reused_only_after_last_ref(void **state)
{
    (void)state;
    hk_big_pool_drain();
    struct hk_builder_hint hint = {0};
    struct hk_big_stats st0, st;
    /* Two warm-up cycles size the tables and arena chunks (≥ 2 MiB: pooled sizes). */
    hk_snapshot_unref(build(1, &hint));
    hk_snapshot_unref(build(2, &hint));
    /* the snapshot's memory: its arena chunks and its series block (the builder's array) */
    assert_true(hint.arena_bytes >= 2 * HK_BIG_BYTES);
    assert_true(hint.series * sizeof(struct hk_series) >= 2 * HK_BIG_BYTES);
    hk_big_get_stats(&st0);
    /* A reader takes a reference to cycle 3's snapshot and holds it over the next cycles, while
     * the publisher's reference goes. */
    struct hk_snapshot *held = hk_snapshot_ref(build(3, &hint));
    hk_snapshot_unref(held);
    struct hk_snapshot *s4 = build(4, &hint);
    check(held, 3);
    struct hk_snapshot *s5 = build(5, &hint);
    check(held, 3);
    check(s4, 4);
    hk_big_get_stats(&st);
    assert_true(st.reused_bytes > st0.reused_bytes); /* the builders ran on pooled memory */
    hk_snapshot_unref(s4);
    struct hk_snapshot *s6 = build(6, &hint);
    check(held, 3);
    check(s5, 5);
    check(s6, 6);
    hk_snapshot_unref(held);
    struct hk_snapshot *s7 = build(7, &hint);
    check(s5, 5);
    check(s6, 6);
    check(s7, 7);
    hk_snapshot_unref(s5);
    hk_snapshot_unref(s6);
    hk_snapshot_unref(s7);
    hk_big_pool_drain();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_and_bounds),
        cmocka_unit_test(test_within_cycle_only),
        cmocka_unit_test(test_snapshot_memory_reused_only_after_last_ref),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
