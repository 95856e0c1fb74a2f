/* SPDX-License-Identifier: Apache-2.0 */
/* Builder sections, seal ordering and de-duplication, the series cap, histograms, slots and the
 * registry under concurrent readers. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/snapshot.h"

static const char *const pod_label[] = {"pod", NULL};
static const char *const two_labels[] = {"pod", "container", NULL};
static const struct hk_metric_desc d_b = {"b_metric", "B.", HK_METRIC_GAUGE, "", pod_label};
static const struct hk_metric_desc d_a = {"a_metric_total", "A.", HK_METRIC_COUNTER, "",
                                          two_labels};
static const struct hk_metric_desc d_hist = {"req_duration_seconds", "Latency.",
                                             HK_METRIC_HISTOGRAM, "seconds", pod_label};

static const struct hk_series *find(const struct hk_snapshot *s, const char *name,
                                    const char *label, const char *value)
{
    for (size_t i = 0; i < s->nseries; i++) {
        const struct hk_series *x = &s->series[i];
        if (strcmp(x->name, name) != 0)
            continue;
        if (!label)
            return x;
        const char *v = hk_labels_get(x->labels, x->nlabels, label);
        if (v && strcmp(v, value) == 0)
            return x;
    }
    return NULL;
}

static void test_seal_order_and_duplicates(void **state)
{
    (void)state;
    struct hk_builder *b = hk_builder_new(NULL);
    assert_non_null(b);
    hk_builder_begin(b, "c1");
    const char *p2[] = {"p2"}, *p1[] = {"p1"};
    assert_int_equal(hk_emit(b, &d_b, p2, 2), 0);
    assert_int_equal(hk_emit(b, &d_b, p1, 1), 0);
    const char *ac[] = {"pod-x", "c"};
    assert_int_equal(hk_emit(b, &d_a, ac, 10), 0);
    assert_int_equal(hk_emit(b, &d_b, p1, 99), 0); /* duplicate: dropped, first value wins */
    hk_builder_commit(b);
    hk_builder_begin(b, "c2");
    /* Same series via the dynamic path with labels in another order: still a duplicate. */
    struct hk_label l[] = {{"container", "c"}, {"pod", "pod-x"}};
    struct hk_family_spec fs = {"a_metric_total", "other help", HK_METRIC_COUNTER, ""};
    assert_int_equal(hk_emit_labels(b, &fs, NULL, l, 2, 77, 0), 0);
    hk_builder_commit(b);

    struct hk_seal_stats st;
    struct hk_snapshot *s = hk_builder_seal(b, 1234, &st);
    assert_non_null(s);
    assert_int_equal(st.series, 3);
    assert_int_equal(st.duplicates, 2);
    assert_int_equal(s->duplicates_dropped, 2);
    assert_int_equal(s->nseries, 3);
    assert_int_equal(s->ts_ms, 1234);
    /* Families sorted by name; each family's series contiguous. */
    assert_int_equal(s->nfamilies, 2);
    assert_string_equal(s->families[0].name, "a_metric_total");
    assert_string_equal(s->families[0].help, "A."); /* first declaration wins */
    assert_string_equal(s->families[1].name, "b_metric");
    assert_int_equal(s->families[0].first, 0);
    assert_int_equal(s->families[0].count, 1);
    assert_int_equal(s->families[1].first, 1);
    assert_int_equal(s->families[1].count, 2);
    for (size_t i = 0; i < s->nseries; i++) {
        const struct hk_family *f = &s->families[s->series[i].family];
        assert_true(i >= f->first && i < f->first + f->count);
        /* hash is the hash of what is stored */
        assert_true(s->series[i].hash ==
                    hk_series_hash(s->series[i].name, s->series[i].labels, s->series[i].nlabels));
    }
    assert_true(find(s, "b_metric", "pod", "p1")->value == 1);
    assert_true(find(s, "a_metric_total", "pod", "pod-x")->value == 10);
    /* Labels come out sorted by name whatever the declaration order. */
    const struct hk_series *a = find(s, "a_metric_total", NULL, NULL);
    assert_string_equal(a->labels[0].name, "container");
    assert_string_equal(a->labels[1].name, "pod");
    assert_non_null(hk_snapshot_find_family(s, "b_metric"));
    assert_null(hk_snapshot_find_family(s, "c_metric"));
    hk_snapshot_unref(s);
}

/* One cycle's worth of series; hint from the previous cycle's stats (or NULL). */
static struct hk_snapshot *cycle(size_t n, const struct hk_builder_hint *hint,
                                 struct hk_seal_stats *st)
{
    struct hk_builder *b = hk_builder_new(NULL);
    assert_non_null(b);
    if (hint)
        hk_builder_reserve(b, hint);
    hk_builder_begin(b, "c");
    char pod[32], ctr[32];
    for (size_t i = 0; i < n; i++) {
        snprintf(pod, sizeof(pod), "pod-%zu", i % 97);
        snprintf(ctr, sizeof(ctr), "ctr-%zu", i);
        const char *v1[] = {pod}, *v2[] = {pod, ctr};
        if (i < 97)
            assert_int_equal(hk_emit(b, &d_b, v1, (double)i), 0);
        assert_int_equal(hk_emit(b, &d_a, v2, (double)i), 0);
    }
    hk_builder_commit(b);
    return hk_builder_seal(b, 1000, st);
}

/* A label position whose values are all new (an id) stops being interned; when its values
 * start repeating it goes back to sharing them. Series, their hashes and the de-duplication are
 * the same either way: duplicates planted while the position is interned, while it is not, and
 * across the switch are all dropped (the first wins), and nothing else is. */
static void test_intern_skip(void **state)
{
    (void)state;
    struct hk_builder *b = hk_builder_new(NULL);
    assert_non_null(b);
    hk_builder_begin(b, "c");
    char pod[32], ctr[32];
    const char *v[] = {pod, ctr};
    size_t n = 0, dups = 0;
    /* phases: 0 unique pods (skipped after a while), 1 five pods repeating in turn (found by a
     * sampled lookup: interning resumes), 2 unique again, 3 family-major repeats of phase 0 */
    for (int phase = 0; phase < 4; phase++) {
        for (size_t i = 0; i < 3000; i++) {
            if (phase == 1)
                snprintf(pod, sizeof(pod), "rep-%zu", i % 5);
            else
                snprintf(pod, sizeof(pod), "p%d-%zu", phase == 3 ? 0 : phase, i);
            snprintf(ctr, sizeof(ctr), "c%d-%zu", phase, i);
            assert_int_equal(hk_emit(b, &d_a, v, (double)(phase * 10000 + (int)i)), 0);
            n++;
            if (i % 97 == 5) {
                /* a duplicate of an earlier series of this phase: same labels, later value */
                size_t j = i - 5;
                if (phase == 1)
                    snprintf(pod, sizeof(pod), "rep-%zu", j % 5);
                else
                    snprintf(pod, sizeof(pod), "p%d-%zu", phase == 3 ? 0 : phase, j);
                snprintf(ctr, sizeof(ctr), "c%d-%zu", phase, j);
                assert_int_equal(hk_emit(b, &d_a, v, -1), 0);
                dups++;
            }
        }
    }
    /* one series of phase 0 again, after everything: also a duplicate */
    snprintf(pod, sizeof(pod), "p0-%d", 2999);
    snprintf(ctr, sizeof(ctr), "c0-%d", 2999);
    assert_int_equal(hk_emit(b, &d_a, v, -1), 0);
    dups++;
    hk_builder_commit(b);
    struct hk_seal_stats st;
    struct hk_snapshot *s = hk_builder_seal(b, 0, &st);
    assert_non_null(s);
    assert_int_equal(s->duplicates_dropped, dups);
    assert_int_equal(s->nseries, n);
    /* fewer values interned than distinct ones (3 × 3000 pods + 12000 ctrs): skipping happened */
    assert_true(st.hint.values < 3 * 3000);
    const char *rep[5] = {NULL};
    size_t shared = 0;
    for (size_t k = 0; k < s->nseries; k++) {
        const struct hk_series *x = &s->series[k];
        assert_true(x->hash == hk_series_hash(x->name, x->labels, x->nlabels));
        assert_true(x->value >= 0); /* the first of each pair won */
        const char *p = hk_labels_get(x->labels, x->nlabels, "pod");
        const char *c = hk_labels_get(x->labels, x->nlabels, "container");
        int phase = c[1] - '0';
        size_t i = (size_t)strtoul(c + 3, NULL, 10);
        assert_true(x->value == (double)(phase * 10000 + (int)i));
        char want[32];
        if (phase == 1)
            snprintf(want, sizeof(want), "rep-%zu", i % 5);
        else
            snprintf(want, sizeof(want), "p%d-%zu", phase == 3 ? 0 : phase, i);
        assert_string_equal(p, want);
        if (phase == 1) {
            if (rep[i % 5] == p)
                shared++;
            rep[i % 5] = p;
        }
        if (k)
            assert_true(hk_labels_cmp(x->labels, x->nlabels, s->series[k - 1].labels,
                                      s->series[k - 1].nlabels) != 0);
    }
    /* the repeating pods are shared again (not a copy per series) for nearly all of phase 1 */
    assert_true(shared > 3000 - 200);
    hk_snapshot_unref(s);
}

/* Emits series k of seal_many's set: family k % 3 (a gauge, a counter, a native histogram
 * every 50th), labels and value a function of k. */
static void emit_kth(struct hk_builder *b, size_t k)
{
    static const struct hk_metric_desc d_nh = {"nh_seconds", "N.", HK_METRIC_HISTOGRAM, "",
                                               two_labels};
    char pod[32], ctr[32];
    snprintf(pod, sizeof(pod), "pod-%zu", k / 7);
    snprintf(ctr, sizeof(ctr), "ctr-%zu", k);
    const char *v1[] = {ctr}, *v2[] = {pod, ctr};
    if (k % 50 == 0) {
        uint64_t counts[] = {k, 0, 2, 1};
        struct hk_nhist_in in = {0, 0, 1, -1, counts, 4, (double)k, -2, 2};
        assert_int_equal(hk_emit_native_histogram(b, &d_nh, v2, &in), 0);
    } else if (k % 3 == 0) {
        assert_int_equal(hk_emit(b, &d_b, v1, (double)k), 0);
    } else {
        assert_int_equal(hk_emit(b, &d_a, v2, (double)k), 0);
    }
}

/* The seal sorts the builder's own series array in place (a permutation; the order keys of
 * histogram and suffixed series kept aside) and the snapshot keeps it: whatever the emission
 * order (forward, reversed, strided), with or without a reservation bigger than the cycle or
 * an aborted section of histograms, every series is there once,
 * the same sorted order comes out, duplicates are dropped and native histograms stay on their
 * _count series. Sizes above and below a big block (hk_big_alloc). */
static void test_seal_in_place(void **state)
{
    (void)state;
    const size_t sizes[] = {10, 1000, 40000};
    for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
        size_t n = sizes[z];
        struct hk_snapshot *snaps[3];
        size_t ndup = 0;
        for (int order = 0; order < 3; order++) {
            struct hk_builder *b = hk_builder_new(NULL);
            assert_non_null(b);
            if (order == 2) {
                struct hk_builder_hint hint = {3 * n, 10, 10, 0};
                hk_builder_reserve(b, &hint);
            }
            hk_builder_begin(b, "c");
            for (size_t i = 0; i < n; i++)
                emit_kth(b, order == 0 ? i : order == 1 ? n - 1 - i : (i * 7919) % n);
            /* duplicates of a few early series, emitted last: dropped, the first kept */
            for (size_t i = 3; i < n; i += 3 * (1 + n / 50))
                if (i % 50 && i % 3 == 0) {
                    const char *v1[] = {"x"};
                    char ctr[32];
                    snprintf(ctr, sizeof(ctr), "ctr-%zu", i);
                    v1[0] = ctr;
                    assert_int_equal(hk_emit(b, &d_b, v1, -1), 0);
                    ndup += order == 0;
                }
            hk_builder_commit(b);
            if (order == 2) { /* an aborted section's series and order keys leave no trace */
                hk_builder_begin(b, "d");
                for (size_t j = 0; j < 120; j++)
                    emit_kth(b, n + j);
                hk_builder_abort(b);
            }
            snaps[order] = hk_builder_seal(b, 0, NULL);
            assert_non_null(snaps[order]);
        }
        const struct hk_snapshot *s = snaps[0];
        size_t want = 0, nh = 0;
        for (size_t k = 0; k < n; k++)
            want += k % 50 == 0 ? 6 + 2 : 1; /* le 0.25 0.5 1 2 4 +Inf, _sum, _count */
        for (size_t k = 0; k < n; k += 50)
            nh++;
        assert_int_equal(s->nseries, want);
        assert_int_equal(s->nnhists, nh);
        assert_int_equal(s->duplicates_dropped, ndup);
        assert_true(ndup > 0 || n < 100);
        for (int order = 1; order < 3; order++) {
            const struct hk_snapshot *t = snaps[order];
            assert_int_equal(t->nseries, s->nseries);
            assert_int_equal(t->nfamilies, s->nfamilies);
            assert_int_equal(t->nnhists, s->nnhists);
            assert_int_equal(t->duplicates_dropped, s->duplicates_dropped);
            for (size_t i = 0; i < s->nseries; i++) {
                const struct hk_series *x = &s->series[i], *y = &t->series[i];
                assert_string_equal(x->name, y->name);
                assert_int_equal(x->hash, y->hash);
                assert_int_equal(x->family, y->family);
                assert_true(x->value == y->value);
                assert_int_equal(hk_labels_cmp(x->labels, x->nlabels, y->labels, y->nlabels), 0);
            }
            for (size_t i = 0; i < s->nnhists; i++) {
                assert_int_equal(t->nhists[i].series, s->nhists[i].series);
                assert_int_equal(t->nhists[i].count, s->nhists[i].count);
            }
        }
        /* Families sorted and contiguous; each series' content is its k's; each native
         * histogram sits on a _count series of the same k. */
        size_t seen = 0;
        for (size_t f = 0; f < s->nfamilies; f++) {
            const struct hk_family *fam = &s->families[f];
            assert_int_equal(fam->first, seen);
            if (f)
                assert_true(strcmp(s->families[f - 1].name, fam->name) < 0);
            for (size_t i = fam->first; i < fam->first + fam->count; i++) {
                const struct hk_series *x = &s->series[i];
                assert_int_equal(x->family, f);
                assert_true(x->hash == hk_series_hash(x->name, x->labels, x->nlabels));
                const char *c = hk_labels_get(x->labels, x->nlabels, "container");
                if (!c)
                    c = hk_labels_get(x->labels, x->nlabels, "pod"); /* b_metric's only label */
                assert_non_null(c);
                size_t k = (size_t)strtoul(c + 4, NULL, 10);
                assert_true(k < n);
                if (k % 50 == 0)
                    assert_string_equal(fam->name, "nh_seconds");
                else
                    assert_true(x->value == (double)k); /* a duplicate (-1) never wins */
            }
            seen += fam->count;
        }
        assert_int_equal(seen, s->nseries);
        for (size_t i = 0; i < s->nnhists; i++) {
            const struct hk_series *x = &s->series[s->nhists[i].series];
            assert_string_equal(x->name, "nh_seconds_count");
            assert_true(x->value == (double)s->nhists[i].count);
        }
        for (int order = 0; order < 3; order++)
            hk_snapshot_unref(snaps[order]);
    }
}

/* A builder sized from the previous cycle's stats yields the same snapshot; the stats count
 * what was interned; a hint smaller than the cycle (growth) still works. */
static void test_reserve_hint(void **state)
{
    (void)state;
    struct hk_seal_stats st0, st1, st2;
    struct hk_snapshot *a = cycle(3000, NULL, &st0);
    assert_non_null(a);
    assert_int_equal(st0.hint.series, 97 + 3000);
    /* pod-N values are interned; the ctr-N ones (a new value every time at their position)
     * only until the builder stops interning that position's values */
    assert_true(st0.hint.values >= 97 && st0.hint.values < 97 + 3000 / 2);
    assert_true(st0.hint.sets >= 97 + 3000);
    struct hk_snapshot *b = cycle(3000, &st0.hint, &st1);
    struct hk_builder_hint small = {10, 10, 10, 4096};
    struct hk_snapshot *c = cycle(3000, &small, &st2);
    assert_non_null(b);
    assert_non_null(c);
    assert_int_equal(a->nseries, b->nseries);
    assert_int_equal(a->nseries, c->nseries);
    for (size_t i = 0; i < a->nseries; i++) {
        assert_int_equal(a->series[i].hash, b->series[i].hash);
        assert_int_equal(a->series[i].hash, c->series[i].hash);
        assert_true(a->series[i].value == b->series[i].value);
    }
    assert_int_equal(st1.hint.values, st0.hint.values);
    hk_snapshot_unref(a);
    hk_snapshot_unref(b);
    hk_snapshot_unref(c);
}

static void test_abort_drops_only_section(void **state)
{
    (void)state;
    struct hk_builder *b = hk_builder_new(NULL);
    const char *p1[] = {"p1"}, *p2[] = {"p2"}, *p3[] = {"p3"};
    hk_builder_begin(b, "good1");
    hk_emit(b, &d_b, p1, 1);
    hk_builder_commit(b);
    hk_builder_begin(b, "bad");
    hk_emit(b, &d_b, p2, 2);                       /* existing family */
    struct hk_label l[] = {{"x", "y"}};
    struct hk_family_spec fs = {"only_in_bad", "h", HK_METRIC_GAUGE, ""};
    hk_emit_labels(b, &fs, NULL, l, 1, 5, 0);     /* new family */
    assert_int_equal(hk_builder_section_series(b), 2);
    hk_builder_abort(b);
    hk_builder_begin(b, "good2");
    assert_int_equal(hk_builder_section_series(b), 0);
    hk_emit(b, &d_b, p3, 3);
    /* A family name freed by the abort can be declared again. */
    struct hk_family_spec fs2 = {"only_in_bad", "h2", HK_METRIC_GAUGE, ""};
    assert_int_equal(hk_emit_labels(b, &fs2, NULL, l, 1, 6, 0), 0);
    hk_builder_commit(b);
    struct hk_snapshot *s = hk_builder_seal(b, 0, NULL);
    assert_non_null(s);
    assert_int_equal(s->nseries, 3);
    assert_non_null(find(s, "b_metric", "pod", "p1"));
    assert_null(find(s, "b_metric", "pod", "p2"));
    assert_non_null(find(s, "b_metric", "pod", "p3"));
    const struct hk_family *f = hk_snapshot_find_family(s, "only_in_bad");
    assert_non_null(f);
    assert_int_equal(f->count, 1);
    assert_string_equal(f->help, "h2");
    assert_true(s->series[f->first].value == 6);
    hk_snapshot_unref(s);
}

static double value_of(const struct hk_snapshot *s, const char *name, const char *label,
                       const char *value)
{
    const struct hk_series *x = find(s, name, label, value);
    assert_non_null(x);
    return x->value;
}

/* The builder remembers the last value per label position and the last label array; both are
 * matched by content. A caller reusing one buffer for other strings (collectors do, within a
 * cycle; and the big-block pool gives later cycles the same addresses) gets its new content, an
 * abort forgets what the rewind freed, and a cut or repaired value is never taken as exact. */
static void test_memos_by_content(void **state)
{
    (void)state;
    struct hk_limits lim = {.max_label_value_length = 6};
    char buf[32];
    const char *v1[] = {buf}, *v2[] = {buf, "c"};
    for (int cycle = 0; cycle < 3; cycle++) {
        struct hk_builder *b = hk_builder_new(&lim);
        hk_builder_begin(b, "x");
        const char *seq[] = {"aaa", "bbb", "bb", "bbbb", "aaa", "", "toolong1", "toolong", "a\xff"};
        for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
            snprintf(buf, sizeof(buf), "%s%s", cycle == 1 ? "z" : "", seq[i]);
            assert_int_equal(hk_emit(b, &d_b, v1, (double)i), 0);
            assert_int_equal(hk_emit(b, &d_a, v2, (double)i), 0);
            struct hk_label l[] = {{"pod", buf}, {"container", "c"}};
            struct hk_family_spec fs = {"dyn_metric", "", HK_METRIC_GAUGE, ""};
            assert_int_equal(hk_emit_labels(b, &fs, NULL, l, 2, (double)i, 0), 0);
        }
        hk_builder_commit(b);
        /* An aborted section's copies are freed by the rewind; the next section makes its own. */
        hk_builder_begin(b, "y");
        snprintf(buf, sizeof(buf), "gone");
        assert_int_equal(hk_emit(b, &d_b, v1, 100), 0);
        hk_builder_abort(b);
        hk_builder_begin(b, "z");
        assert_int_equal(hk_emit(b, &d_b, v1, 101), 0);
        snprintf(buf, sizeof(buf), "kept");
        assert_int_equal(hk_emit(b, &d_b, v1, 102), 0);
        hk_builder_commit(b);
        struct hk_snapshot *s = hk_builder_seal(b, 0, NULL);
        assert_non_null(s);
        /* b_metric: 7 distinct pods (toolong1 and toolong both cut to "toolon"), gone, kept */
        const char *z = cycle == 1 ? "z" : "";
        char want[32];
        const char *pods[] = {"aaa", "bbb", "bb", "bbbb", "", "a\xef\xbf\xbd"};
        double vals[] = {0, 1, 2, 3, 5, 8};
        for (size_t i = 0; i < sizeof(pods) / sizeof(pods[0]); i++) {
            if (!*pods[i])
                continue; /* checked below */
            snprintf(want, sizeof(want), "%s%s", z, pods[i]);
            assert_true(value_of(s, "b_metric", "pod", want) == vals[i]);
            assert_true(value_of(s, "a_metric_total", "pod", want) == vals[i]);
            assert_true(value_of(s, "dyn_metric", "pod", want) == vals[i]);
        }
        if (cycle != 1) {
            assert_true(value_of(s, "b_metric", "pod", "") == 5);
            assert_true(value_of(s, "b_metric", "pod", "toolon") == 6); /* first wins */
        } else {
            /* "z" + "" = "z"; "ztoolong1" and "ztoolong" → "ztoolo" */
            assert_true(value_of(s, "b_metric", "pod", "z") == 5);
            assert_true(value_of(s, "b_metric", "pod", "ztoolo") == 6);
        }
        assert_true(value_of(s, "b_metric", "pod", "gone") == 101); /* z's own copy */
        assert_true(value_of(s, "b_metric", "pod", "kept") == 102);
        const struct hk_family *f = hk_snapshot_find_family(s, "b_metric");
        assert_non_null(f);
        assert_int_equal(f->count, 9); /* 7 + "gone" (101, section z) + "kept" */
        for (size_t i = 0; i < s->nseries; i++)
            assert_true(s->series[i].hash ==
                        hk_series_hash(s->series[i].name, s->series[i].labels,
                                       s->series[i].nlabels));
        hk_snapshot_unref(s);
    }
}

/* The per-position memo keeps a name's and a value's hash and their pair hash, the set memo a
 * few label arrays, the family memo desc → family. Six label name lists (more than the set
 * memo holds) alternate per "container" with the values in one rewritten buffer, two of them
 * with the same names in swapped places; a desc struct at one address is rewritten to another
 * family between emits; a histogram's buckets sit among them. Over three builders (the pool
 * hands back the same addresses), every series must carry its own content, its hash must be
 * hk_series_hash of it, and the histogram's series must come out together. */
static void test_memos_sets_and_descs(void **state)
{
    (void)state;
    static const char *const n_pc[] = {"pod", "container", NULL};
    static const char *const n_cp[] = {"container", "pod", NULL};
    static const char *const n_pcx[] = {"pod", "container", "cpu", NULL};
    static const char *const n_pcd[] = {"pod", "container", "device", NULL};
    static const char *const n_pci[] = {"pod", "container", "interface", NULL};
    static const char *const n_pco[] = {"pod", "container", "operation", NULL};
    static const struct hk_metric_desc ds[] = {
        {"m_pc", "h", HK_METRIC_GAUGE, "", n_pc},   {"m_cp", "h", HK_METRIC_GAUGE, "", n_cp},
        {"m_pcx", "h", HK_METRIC_GAUGE, "", n_pcx}, {"m_pcd", "h", HK_METRIC_GAUGE, "", n_pcd},
        {"m_pci", "h", HK_METRIC_GAUGE, "", n_pci}, {"m_pco", "h", HK_METRIC_GAUGE, "", n_pco},
    };
    static const struct hk_metric_desc d_h = {"m_hist", "h", HK_METRIC_HISTOGRAM, "", n_pc};
    char pod[32], ctr[32], extra[32];
    const char *v[] = {pod, ctr, extra};
    for (int cycle = 0; cycle < 3; cycle++) {
        struct hk_builder *b = hk_builder_new(NULL);
        hk_builder_begin(b, "x");
        /* The name list of m_first/m_second is rewritten too: its sorted order changes. */
        const char *mut[] = {"pod", "container", NULL};
        struct hk_metric_desc moving = {"m_first", "h", HK_METRIC_GAUGE, "", mut};
        for (int c = 0; c < 4; c++) {
            snprintf(pod, sizeof(pod), "pod-%d", c / 2);
            snprintf(ctr, sizeof(ctr), "ctr-%d", c);
            for (int k = 0; k < 3; k++)
                for (size_t d = 0; d < sizeof(ds) / sizeof(ds[0]); d++) {
                    snprintf(extra, sizeof(extra), "e%d", k);
                    /* m_cp: the same values at the same positions, under swapped names */
                    assert_int_equal(hk_emit(b, &ds[d], v, c * 100 + k * 10 + (int)d), 0);
                }
            double bounds[] = {0.5, 1};
            uint64_t cum[] = {(uint64_t)c, (uint64_t)c + 1};
            assert_int_equal(hk_emit_histogram(b, &d_h, v, bounds, cum, 2, c, (uint64_t)c + 2), 0);
            /* (a value no other emit has: the set memo misses, the name list is sorted) */
            const char *mv[] = {"solo", ctr};
            moving.name = "m_first";
            mut[0] = "pod";
            assert_int_equal(hk_emit(b, &moving, mv, c), 0);
            moving.name = "m_second"; /* same address, other family */
            mut[0] = "app";           /* sorts first, where pod sorts last */
            assert_int_equal(hk_emit(b, &moving, mv, c), 0);
        }
        hk_builder_commit(b);
        struct hk_snapshot *s = hk_builder_seal(b, 0, NULL);
        assert_non_null(s);
        for (size_t i = 0; i < s->nseries; i++) {
            assert_true(s->series[i].hash == hk_series_hash(s->series[i].name, s->series[i].labels,
                                                            s->series[i].nlabels));
            for (uint32_t j = 1; j < s->series[i].nlabels; j++)
                assert_true(strcmp(s->series[i].labels[j - 1].name, s->series[i].labels[j].name) <
                            0);
        }
        const char *extra_names[] = {NULL, NULL, "cpu", "device", "interface", "operation"};
        for (size_t d = 0; d < sizeof(ds) / sizeof(ds[0]); d++) {
            const struct hk_family *f = hk_snapshot_find_family(s, ds[d].name);
            assert_non_null(f);
            /* m_pc and m_cp: one series per container (k repeats them: first wins) */
            assert_int_equal(f->count, extra_names[d] ? 12 : 4);
            for (uint32_t j = f->first; j < f->first + f->count; j++) {
                const struct hk_series *x = &s->series[j];
                const char *p = hk_labels_get(x->labels, x->nlabels, "pod");
                const char *ct = hk_labels_get(x->labels, x->nlabels, "container");
                assert_non_null(p);
                assert_non_null(ct);
                int c = ct[4] - '0', k = 0;
                if (d == 1) { /* swapped: the pod label holds the container's name */
                    c = p[4] - '0';
                    assert_true(strncmp(p, "ctr-", 4) == 0 && strncmp(ct, "pod-", 4) == 0);
                    assert_int_equal(ct[4] - '0', c / 2);
                } else {
                    assert_true(strncmp(ct, "ctr-", 4) == 0);
                    assert_int_equal(p[4] - '0', c / 2);
                }
                if (extra_names[d]) {
                    const char *e = hk_labels_get(x->labels, x->nlabels, extra_names[d]);
                    assert_non_null(e);
                    k = e[1] - '0';
                }
                assert_true(x->value == c * 100 + k * 10 + (int)d);
            }
        }
        const struct hk_family *f1 = hk_snapshot_find_family(s, "m_first");
        const struct hk_family *f2 = hk_snapshot_find_family(s, "m_second");
        assert_non_null(f1);
        assert_non_null(f2);
        assert_int_equal(f1->count, 4);
        assert_int_equal(f2->count, 4);
        for (uint32_t j = f2->first; j < f2->first + f2->count; j++) {
            const char *ct = hk_labels_get(s->series[j].labels, s->series[j].nlabels, "container");
            assert_non_null(ct);
            assert_true(s->series[j].value == ct[4] - '0');
            assert_non_null(hk_labels_get(s->series[j].labels, s->series[j].nlabels, "app"));
        }
        /* The histogram: per container 3 buckets, _count, _sum, in one run with its group. */
        const struct hk_family *fh = hk_snapshot_find_family(s, "m_hist");
        assert_non_null(fh);
        assert_int_equal(fh->count, 4 * 5);
        for (uint32_t j = fh->first; j < fh->first + fh->count; j += 5) {
            const char *ct = hk_labels_get(s->series[j].labels, s->series[j].nlabels, "container");
            assert_non_null(ct);
            for (uint32_t k = j; k < j + 5; k++)
                assert_string_equal(
                    hk_labels_get(s->series[k].labels, s->series[k].nlabels, "container"), ct);
            assert_string_equal(s->series[j + 2].name, "m_hist_bucket");
            assert_string_equal(s->series[j + 3].name, "m_hist_count");
            assert_true(s->series[j + 3].value == ct[4] - '0' + 2);
        }
        hk_snapshot_unref(s);
    }
}

/* hk_builder_set_help changes families of the current section only. */
static void test_set_help(void **state)
{
    (void)state;
    struct hk_builder *b = hk_builder_new(NULL);
    const char *p1[] = {"p1"};
    struct hk_label l[] = {{"x", "y"}};
    assert_int_equal(hk_builder_set_help(b, "b_metric", "x"), -ENOENT); /* nothing yet */
    hk_builder_begin(b, "first");
    hk_emit(b, &d_b, p1, 1);
    hk_builder_commit(b);
    hk_builder_begin(b, "textfile");
    struct hk_family_spec fs = {"tf_fam", "placeholder", HK_METRIC_GAUGE, ""};
    assert_int_equal(hk_emit_labels(b, &fs, NULL, l, 1, 5, 0), 0);
    assert_int_equal(hk_builder_set_help(b, "tf_fam", "Final help."), 0);
    assert_int_equal(hk_builder_set_help(b, "b_metric", "Stolen."), -ENOENT);
    assert_int_equal(hk_builder_set_help(b, "absent", "x"), -ENOENT);
    hk_builder_commit(b);
    assert_int_equal(hk_builder_set_help(b, "tf_fam", "After commit."), -ENOENT);
    struct hk_snapshot *s = hk_builder_seal(b, 0, NULL);
    assert_non_null(s);
    assert_string_equal(hk_snapshot_find_family(s, "tf_fam")->help, "Final help.");
    assert_string_equal(hk_snapshot_find_family(s, "b_metric")->help, d_b.help);
    hk_snapshot_unref(s);
}

static void test_max_series_cap(void **state)
{
    (void)state;
    struct hk_limits lim = {.max_series = 5};
    struct hk_builder *b = hk_builder_new(&lim);
    hk_builder_begin(b, "big");
    int dropped = 0;
    for (int i = 0; i < 8; i++) {
        char v[16];
        snprintf(v, sizeof(v), "p%d", i);
        const char *vals[] = {v};
        int r = hk_emit(b, &d_b, vals, i);
        if (r == -E2BIG)
            dropped++;
        else
            assert_int_equal(r, 0);
    }
    assert_int_equal(dropped, 3);
    assert_int_equal(hk_builder_section_dropped(b), 3);
    assert_int_equal(hk_builder_section_series(b), 5);
    /* A histogram that does not fit whole is dropped whole (never without +Inf/_count). */
    hk_builder_commit(b);
    hk_builder_begin(b, "hist");
    double bounds[] = {0.1, 1};
    uint64_t cum[] = {1, 2};
    const char *pv[] = {"x"};
    for (int i = 0; i < 3; i++) {
        char v[16];
        snprintf(v, sizeof(v), "g%d", i);
        const char *vals[] = {v};
        assert_int_equal(hk_emit(b, &d_b, vals, i), 0);
    }
    assert_int_equal(hk_emit_histogram(b, &d_hist, pv, bounds, cum, 2, 1.5, 3), -E2BIG);
    assert_int_equal(hk_builder_section_dropped(b), 5);
    hk_builder_commit(b);
    /* The cap is per section: a new section starts from zero. */
    hk_builder_begin(b, "small");
    assert_int_equal(hk_builder_section_dropped(b), 0);
    struct hk_label l[] = {{"k", "v"}};
    struct hk_family_spec fs = {"small_metric", "", HK_METRIC_GAUGE, ""};
    assert_int_equal(hk_emit_labels(b, &fs, NULL, l, 1, 1, 0), 0);
    hk_builder_commit(b);
    struct hk_snapshot *s = hk_builder_seal(b, 0, NULL);
    assert_int_equal(s->nseries, 5 + 3 + 1);
    assert_null(hk_snapshot_find_family(s, "req_duration_seconds"));
    hk_snapshot_unref(s);
}

static void test_label_caps(void **state)
{
    (void)state;
    struct hk_limits lim = {.max_labels = 2, .max_label_value_length = 4};
    struct hk_builder *b = hk_builder_new(&lim);
    hk_builder_begin(b, "x");
    struct hk_label three[] = {{"a", "1"}, {"b", "2"}, {"c", "3"}};
    struct hk_family_spec fs = {"m", "", HK_METRIC_GAUGE, ""};
    assert_int_equal(hk_emit_labels(b, &fs, NULL, three, 3, 1, 0), -E2BIG);
    assert_int_equal(hk_builder_section_dropped(b), 1);
    /* Values are cut to 4 bytes on a UTF-8 edge: "ab€" (5 bytes) keeps "ab". */
    struct hk_label v[] = {{"a", "ab\xe2\x82\xac"}, {"b", "abcdef"}};
    assert_int_equal(hk_emit_labels(b, &fs, NULL, v, 2, 1, 0), 0);
    /* Invalid names and duplicate names are refused. */
    struct hk_label badn[] = {{"1a", "x"}};
    assert_int_equal(hk_emit_labels(b, &fs, NULL, badn, 1, 1, 0), -EINVAL);
    struct hk_label dup[] = {{"a", "x"}, {"a", "y"}};
    assert_int_equal(hk_emit_labels(b, &fs, NULL, dup, 2, 1, 0), -EINVAL);
    struct hk_family_spec badf = {"bad-name", "", HK_METRIC_GAUGE, ""};
    assert_int_equal(hk_emit_labels(b, &badf, NULL, v, 2, 1, 0), -EINVAL);
    assert_int_equal(hk_emit_labels(b, &fs, "bad name", v, 2, 1, 0), -EINVAL);
    hk_builder_commit(b);
    struct hk_snapshot *s = hk_builder_seal(b, 0, NULL);
    assert_int_equal(s->nseries, 1);
    assert_string_equal(hk_labels_get(s->series[0].labels, 2, "a"), "ab");
    assert_string_equal(hk_labels_get(s->series[0].labels, 2, "b"), "abcd");
    hk_snapshot_unref(s);
}

static void test_invalid_utf8_repaired(void **state)
{
    (void)state;
    struct hk_builder *b = hk_builder_new(NULL);
    hk_builder_begin(b, "x");
    const char *v[] = {"bad\xff\xfe" "end"};
    assert_int_equal(hk_emit(b, &d_b, v, 1), 0);
    hk_builder_commit(b);
    struct hk_snapshot *s = hk_builder_seal(b, 0, NULL);
    assert_string_equal(s->series[0].labels[0].value, "bad\xef\xbf\xbd\xef\xbf\xbd" "end");
    hk_snapshot_unref(s);
}

static void test_histogram(void **state)
{
    (void)state;
    struct hk_builder *b = hk_builder_new(NULL);
    hk_builder_begin(b, "h");
    double bounds[] = {0.001, 0.1, 1, 10, INFINITY};
    uint64_t cum[] = {0, 3, 7, 9, 9};
    /* le spelled the way client_golang spells it. */
    static const struct hk_metric_desc d_odd = {"odd", "", HK_METRIC_HISTOGRAM, "", NULL};
    double sorted_odd[] = {-3, 0.00001, 0.0005, 2.5, 100000, 1e6, 1234567.5};
    const char *sorted_le[] = {"-3", "1e-05", "0.0005", "2.5", "100000", "1e+06", "1.2345675e+06"};
    uint64_t zeros[7] = {0};
    assert_int_equal(hk_emit_histogram(b, &d_odd, NULL, sorted_odd, zeros, 7, 0, 0), 0);
    const char *pa[] = {"a"}, *pb[] = {"b"};
    assert_int_equal(hk_emit_histogram(b, &d_hist, pb, bounds, cum, 5, 12.5, 10), 0);
    assert_int_equal(hk_emit_histogram(b, &d_hist, pa, bounds, cum, 4, 2.25, 9), 0);
    hk_builder_commit(b);
    struct hk_snapshot *s = hk_builder_seal(b, 0, NULL);
    assert_int_equal(s->nfamilies, 2);
    const struct hk_family *fo = hk_snapshot_find_family(s, "odd");
    assert_int_equal(fo->count, 7 + 3);
    for (int i = 0; i < 7; i++)
        assert_string_equal(s->series[fo->first + i].labels[0].value, sorted_le[i]);
    const struct hk_family *fh = hk_snapshot_find_family(s, "req_duration_seconds");
    /* 2 × (4 finite buckets + +Inf + _sum + _count); an explicit +Inf bound is not doubled. */
    assert_int_equal(fh->count, 14);
    const char *want_le[] = {"0.001", "0.1", "1", "10", "+Inf"};
    /* Each histogram's series are contiguous: buckets by ascending le, then _count, _sum. */
    for (int h = 0; h < 2; h++) {
        const struct hk_series *x = &s->series[fh->first + (uint32_t)h * 7];
        const char *pod = hk_labels_get(x->labels, x->nlabels, "pod");
        for (int i = 0; i < 5; i++) {
            assert_string_equal(x[i].name, "req_duration_seconds_bucket");
            assert_string_equal(hk_labels_get(x[i].labels, x[i].nlabels, "le"), want_le[i]);
            assert_string_equal(hk_labels_get(x[i].labels, x[i].nlabels, "pod"), pod);
        }
        bool is_b = strcmp(pod, "b") == 0;
        assert_true(x[4].value == (is_b ? 10 : 9)); /* +Inf = count */
        assert_true(x[2].value == 7);
        assert_string_equal(x[5].name, "req_duration_seconds_count");
        assert_true(x[5].value == (is_b ? 10 : 9));
        assert_string_equal(x[6].name, "req_duration_seconds_sum");
        assert_true(x[6].value == (is_b ? 12.5 : 2.25));
        assert_null(hk_labels_get(x[6].labels, x[6].nlabels, "le"));
    }
    hk_snapshot_unref(s);
}

static void test_nan_le_duplicates(void **state)
{
    (void)state;
    /* le="NaN" via the dynamic path must still sort consistently and de-duplicate. */
    struct hk_builder *b = hk_builder_new(NULL);
    hk_builder_begin(b, "t");
    struct hk_family_spec fs = {"h", "", HK_METRIC_HISTOGRAM, ""};
    const char *les[] = {"NaN", "1", "NaN", "+Inf", "0.5", "NaN"};
    for (size_t i = 0; i < 6; i++) {
        struct hk_label l[] = {{"le", les[i]}};
        assert_int_equal(hk_emit_labels(b, &fs, "h_bucket", l, 1, (double)i, 0), 0);
    }
    hk_builder_commit(b);
    struct hk_seal_stats st;
    struct hk_snapshot *s = hk_builder_seal(b, 0, &st);
    assert_int_equal(st.duplicates, 2);
    assert_int_equal(s->nseries, 4);
    assert_string_equal(s->series[0].labels[0].value, "0.5");
    assert_string_equal(s->series[1].labels[0].value, "1");
    assert_string_equal(s->series[2].labels[0].value, "+Inf");
    assert_string_equal(s->series[3].labels[0].value, "NaN");
    assert_true(s->series[3].value == 0); /* first emitted wins */
    hk_snapshot_unref(s);
}

static void test_empty_seal(void **state)
{
    (void)state;
    struct hk_builder *b = hk_builder_new(NULL);
    struct hk_snapshot *s = hk_builder_seal(b, 5, NULL);
    assert_non_null(s);
    assert_int_equal(s->nseries, 0);
    assert_int_equal(s->nfamilies, 0);
    hk_snapshot_unref(s);
    hk_builder_free(NULL);
    hk_snapshot_unref(NULL);
}

static atomic_int freed_count;
static void count_free(void *p)
{
    free(p);
    atomic_fetch_add(&freed_count, 1);
}

static void test_slots(void **state)
{
    (void)state;
    struct hk_builder *b = hk_builder_new(NULL);
    struct hk_snapshot *s = hk_builder_seal(b, 0, NULL);
    atomic_store(&freed_count, 0);
    void *a = malloc(8), *c = malloc(8);
    assert_null(hk_snapshot_slot_get(s, HK_SLOT_TEXT));
    assert_ptr_equal(hk_snapshot_slot_set(s, HK_SLOT_TEXT, a, count_free), a);
    /* The loser's object is freed and the winner returned. */
    assert_ptr_equal(hk_snapshot_slot_set(s, HK_SLOT_TEXT, c, count_free), a);
    assert_int_equal(atomic_load(&freed_count), 1);
    assert_ptr_equal(hk_snapshot_slot_get(s, HK_SLOT_TEXT), a);
    hk_snapshot_ref(s);
    hk_snapshot_unref(s);
    assert_int_equal(atomic_load(&freed_count), 1);
    hk_snapshot_unref(s); /* last reference frees the slot too */
    assert_int_equal(atomic_load(&freed_count), 2);
}

/* ---- registry under concurrency ---- */

struct reader_arg {
    struct hk_registry *reg;
    atomic_bool *stop;
    uint64_t acquired;
    uint64_t last_seq;
    int bad;
};

static void *reader(void *p)
{
    struct reader_arg *a = p;
    while (!atomic_load(a->stop)) {
        struct hk_snapshot *s = hk_registry_acquire(a->reg);
        if (!s)
            continue;
        /* Each published snapshot holds one series whose value equals its own seq. */
        if (s->nseries != 1 || s->series[0].value != (double)s->seq || s->seq < a->last_seq)
            a->bad++;
        a->last_seq = s->seq;
        a->acquired++;
        hk_snapshot_unref(s);
        /* Scrapers do not spin; leave the (shared, 2-core) CPU to the publisher now and then. */
        if (a->acquired % 64 == 0)
            sched_yield();
    }
    return NULL;
}

static int publishes_seen;
static void on_publish(struct hk_snapshot *snap, void *ud)
{
    (void)ud;
    (void)snap;
    publishes_seen++;
}

static void test_registry_threads(void **state)
{
    (void)state;
    struct hk_registry *reg = hk_registry_new();
    assert_non_null(reg);
    assert_null(hk_registry_acquire(reg));
    publishes_seen = 0;
    assert_int_equal(hk_registry_subscribe(reg, on_publish, NULL), 0);
    atomic_bool stop;
    atomic_init(&stop, false);
    enum { READERS = 3, PUBLISHES = 1000 };
    pthread_t t[READERS];
    struct reader_arg args[READERS];
    for (int i = 0; i < READERS; i++) {
        args[i] = (struct reader_arg){reg, &stop, 0, 0, 0};
        assert_int_equal(pthread_create(&t[i], NULL, reader, &args[i]), 0);
    }
    static const struct hk_metric_desc d = {"seq", "", HK_METRIC_GAUGE, "", NULL};
    for (uint64_t i = 1; i <= PUBLISHES; i++) {
        struct hk_builder *b = hk_builder_new(NULL);
        hk_builder_begin(b, "s");
        hk_emit(b, &d, NULL, (double)i); /* seq assigned on publish is i */
        hk_builder_commit(b);
        hk_registry_publish(reg, hk_builder_seal(b, 0, NULL));
    }
    atomic_store(&stop, true);
    uint64_t total = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].bad, 0);
        total += args[i].acquired;
    }
    assert_true(total > 0);
    assert_int_equal(publishes_seen, PUBLISHES);
    struct hk_snapshot *last = hk_registry_acquire(reg);
    assert_int_equal(last->seq, PUBLISHES);
    /* A reader's reference outlives the registry. */
    hk_registry_free(reg);
    assert_true(last->series[0].value == PUBLISHES);
    hk_snapshot_unref(last);
}

/* Native histogram: classic buckets summed from the native ones, spans/deltas, lookup from the
 * family and from the _count series, a duplicate's native form dropped with its series, and an
 * aborted section's histograms gone. */
static void test_native_histogram(void **state)
{
    (void)state;
    struct hk_builder *b = hk_builder_new(NULL);
    assert_non_null(b);
    hk_builder_begin(b, "ebpf");
    /* schema 1: bucket i is (2^((i-1)/2), 2^(i/2)]; le = 2^k is the upper bound of bucket 2k */
    uint64_t counts[] = {3, 0, 5, 0, 0, 0, 7, 1}; /* buckets -2 … 5 */
    struct hk_nhist_in in = {.schema = 1,
                             .zero_threshold = 0.25,
                             .zero_count = 2,
                             .first_index = -2,
                             .counts = counts,
                             .ncounts = 8,
                             .sum = 12.5,
                             .classic_lo = -1,
                             .classic_hi = 1};
    const char *p2[] = {"p2"}, *p1[] = {"p1"};
    assert_int_equal(hk_emit_native_histogram(b, &d_hist, p2, &in), 0);
    assert_int_equal(hk_emit_native_histogram(b, &d_hist, p1, &in), 0);
    in.zero_count = 99;
    assert_int_equal(hk_emit_native_histogram(b, &d_hist, p1, &in), 0); /* duplicate */
    in.zero_count = 2;
    /* a classic-only histogram in the same family */
    const char *p3[] = {"p3"};
    double bounds[] = {1};
    uint64_t cum[] = {1};
    assert_int_equal(hk_emit_histogram(b, &d_hist, p3, bounds, cum, 1, 1, 1), 0);
    /* bad input */
    in.zero_threshold = 1; /* > 2^classic_lo */
    assert_int_equal(hk_emit_native_histogram(b, &d_hist, p3, &in), -EINVAL);
    in.zero_threshold = 0.25;
    in.schema = 9;
    assert_int_equal(hk_emit_native_histogram(b, &d_hist, p3, &in), -EINVAL);
    in.schema = 1;
    assert_int_equal(hk_emit_native_histogram(b, &d_b, p3, &in), -EINVAL); /* a gauge */
    hk_builder_commit(b);
    hk_builder_begin(b, "dropped");
    const char *p9[] = {"p9"};
    assert_int_equal(hk_emit_native_histogram(b, &d_hist, p9, &in), 0);
    hk_builder_abort(b);
    struct hk_snapshot *snap = hk_builder_seal(b, 1000, NULL);
    assert_non_null(snap);
    assert_int_equal(snap->nnhists, 2);

    const struct hk_family *f = hk_snapshot_find_family(snap, "req_duration_seconds");
    assert_non_null(f);
    size_t n;
    const struct hk_nhist *h = hk_snapshot_family_nhists(snap, f, &n);
    assert_int_equal(n, 2);
    const char *pods[2];
    for (size_t i = 0; i < n; i++) {
        const struct hk_series *c = &snap->series[h[i].series];
        assert_string_equal(c->name, "req_duration_seconds_count");
        assert_ptr_equal(hk_snapshot_nhist_of(snap, h[i].series), &h[i]);
        assert_null(hk_snapshot_nhist_of(snap, h[i].series - 1)); /* a _bucket */
        pods[i] = hk_labels_get(c->labels, c->nlabels, "pod");
        assert_int_equal(h[i].schema, 1);
        assert_true(h[i].zero_threshold == 0.25);
        assert_int_equal(h[i].zero_count, 2);
        assert_int_equal(h[i].count, 18);
        assert_true(c->value == 18);
        assert_true(h[i].sum == 12.5);
        /* buckets -2 … 5 = 3 0 5 0 0 0 7 1: the one-bucket gap is filled, the three-bucket one
         * starts a new span 3 buckets after the first ends */
        assert_int_equal(h[i].nspans, 2);
        assert_int_equal(h[i].spans[0].offset, -2);
        assert_int_equal(h[i].spans[0].length, 3);
        assert_int_equal(h[i].spans[1].offset, 3);
        assert_int_equal(h[i].spans[1].length, 2);
        assert_int_equal(h[i].ndeltas, 5);
        const int64_t want[] = {3, -3, 5, 2, -6};
        for (int k = 0; k < 5; k++)
            assert_int_equal(h[i].deltas[k], want[k]);
    }
    assert_string_equal(pods[0], "p1"); /* the first of the duplicates won */
    assert_int_equal(hk_snapshot_nhist_of(snap, h[0].series)->zero_count, 2);
    assert_string_equal(pods[1], "p2");
    /* classic: le=0.5 (bucket -2: zero 2 + 3), le=1 (bucket 0: + 5), le=2 (bucket 2: + 0) */
    const struct hk_series *s;
    const char *want_le[] = {"0.5", "1", "2", "+Inf"};
    const double want_cum[] = {5, 10, 10, 18};
    for (int k = 0; k < 4; k++) {
        s = NULL;
        for (size_t i = f->first; i < f->first + f->count; i++) {
            const struct hk_series *x = &snap->series[i];
            const char *le = hk_labels_get(x->labels, x->nlabels, "le");
            const char *pod = hk_labels_get(x->labels, x->nlabels, "pod");
            if (le && strcmp(le, want_le[k]) == 0 && strcmp(pod, "p2") == 0)
                s = x;
        }
        assert_non_null(s);
        assert_true(s->value == want_cum[k]);
    }
    assert_null(find(snap, "req_duration_seconds_bucket", "pod", "p9"));
    hk_snapshot_unref(snap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_order_and_duplicates),
        cmocka_unit_test(test_abort_drops_only_section),
        cmocka_unit_test(test_memos_by_content),
        cmocka_unit_test(test_memos_sets_and_descs),
        cmocka_unit_test(test_intern_skip),
        cmocka_unit_test(test_seal_in_place),
        cmocka_unit_test(test_reserve_hint),
        cmocka_unit_test(test_max_series_cap),
        cmocka_unit_test(test_set_help),
        cmocka_unit_test(test_label_caps),
        cmocka_unit_test(test_invalid_utf8_repaired),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_native_histogram),
        cmocka_unit_test(test_nan_le_duplicates),
        cmocka_unit_test(test_empty_seal),
        cmocka_unit_test(test_slots),
        cmocka_unit_test(test_registry_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
