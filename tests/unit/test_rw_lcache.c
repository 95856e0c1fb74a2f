/* SPDX-License-Identifier: Apache-2.0 */
/* rw_lcache: the relabel cache gives, for every series, exactly what merging the target and
 * external labels and applying the rules (pcre2) gives — compared label by label with a fresh
 * computation over cycles of snapshots whose strings are new copies each cycle (as a new
 * snapshot's are), with series appearing and going; hits from the second cycle on, misses only
 * for new series; entries of gone series evicted; two series whose hashes collide (forced) each
 * get their own labels, and a series that changes under an unchanged hash is recomputed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/yaml.h"
#include "exporter/relabel.h"
#include "exporter/rw_lcache.h"
#include "exporter/rw_targets.h"

#define MAXL 64

/* Rules that keep labels, make new strings (replace, __name__ rewrite), drop series and
 * labels, and read an added target label. */
static const char *const rules_yaml =
    "- source_labels: [__name__]\n"
    "  regex: 'drop_me_.*'\n"
    "  action: drop\n"
    "- source_labels: [job, cpu]\n"
    "  separator: '-'\n"
    "  regex: '(.+)-(.+)'\n"
    "  target_label: combo\n"
    "  replacement: 'c_${2}_${1}'\n"
    "- action: labeldrop\n"
    "  regex: 'mode'\n"
    "- source_labels: [__name__]\n"
    "  regex: '(.*)_total'\n"
    "  target_label: __name__\n"
    "  replacement: '${1}_count'\n"
    "- source_labels: [device]\n"
    "  target_label: disk\n"
    "- source_labels: [exported_instance]\n"
    "  regex: 'gone'\n"
    "  action: drop\n";

static struct hk_relabel_rules *parse_rules(void)
{
    struct hk_yaml_node *root = NULL;
    struct hk_relabel_rules *rules = NULL;
    struct hk_error err = {""};
    if (hk_yaml_parse_string("test.yml", rules_yaml, strlen(rules_yaml), &root, &err) < 0)
        fail_msg("yaml: %s", err.msg);
    if (hk_relabel_parse(root, &rules, &err) < 0)
        fail_msg("rules: %s", err.msg);
    hk_yaml_free(root);
    return rules;
}

/* One series of a generated snapshot, its strings owned (fresh copies each cycle). */
struct gseries {
    struct hk_series s;
    struct hk_label labels[4];
    char *strs[9];
    enum hk_target target;
};

static char *dup(struct gseries *g, size_t k, const char *s)
{
    g->strs[k] = strdup(s);
    assert_non_null(g->strs[k]);
    return g->strs[k];
}

/* Series number id (a stable identity: same content in every cycle it exists in). */
static void make_series(struct gseries *g, unsigned id)
{
    static const char *const names[] = {"node_cpu_seconds_total", "drop_me_please",
                                        "node_disk_reads_total", "up", "container_x"};
    char v[32];
    memset(g, 0, sizeof(*g));
    size_t nl = 0;
    unsigned kind = id % 5;
    g->s.name = dup(g, 0, names[kind]);
    g->target = kind == 4 ? HK_TARGET_CADVISOR : kind == 3 ? HK_TARGET_SELF : HK_TARGET_NODE;
    snprintf(v, sizeof(v), "%u", id % 7);
    g->labels[nl++] = (struct hk_label){dup(g, 1, "cpu"), dup(g, 2, v)};
    if (id % 3 == 0) {
        snprintf(v, sizeof(v), "sd%c", 'a' + (char)(id % 26));
        g->labels[nl++] = (struct hk_label){dup(g, 3, "device"), dup(g, 4, v)};
    }
    if (id % 4 == 0) /* overridden on node_exporter's part (kube-prometheus: exported_instance) */
        g->labels[nl++] = (struct hk_label){dup(g, 5, "instance"), dup(g, 6, id % 8 ? "x" : "gone")};
    snprintf(v, sizeof(v), "m%u", id);
    g->labels[nl++] = (struct hk_label){dup(g, 7, "mode"), dup(g, 8, v)};
    assert_true(hk_labels_sort(g->labels, nl));
    g->s.labels = g->labels;
    g->s.nlabels = (uint32_t)nl;
    g->s.hash = hk_series_hash(g->s.name, g->labels, nl);
}

static void free_series(struct gseries *g)
{
    for (size_t k = 0; k < 9; k++)
        free(g->strs[k]);
}

/* The fresh outcome: merged, relabelled, name checked. */
static int compute(const struct hk_rw_targets *t, const struct hk_relabel_rules *rules,
                   struct hk_relabel_result *res, const struct gseries *g, struct hk_label *tmp,
                   const struct hk_label **out, size_t *nout)
{
    size_t n = hk_rw_targets_merge(t, g->target, g->s.name, g->s.labels, g->s.nlabels, tmp);
    int r = hk_relabel_apply(rules, tmp, n, res);
    assert_true(r >= 0);
    if (r <= 0 || !res->n || !hk_labels_get(res->labels, res->n, "__name__"))
        return 0;
    *out = res->labels;
    *nout = res->n;
    return 1;
}

static void expect_same(const struct hk_label *a, size_t na, const struct hk_label *b, size_t nb,
                        const struct gseries *g)
{
    if (na != nb)
        fail_msg("%s: %zu labels from the cache, %zu computed", g->s.name, na, nb);
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i].name, b[i].name) != 0 || strcmp(a[i].value, b[i].value) != 0)
            fail_msg("%s label %zu: cache %s=\"%s\", computed %s=\"%s\"", g->s.name, i, a[i].name,
                     a[i].value, b[i].name, b[i].value);
}

struct fixture {
    struct hk_rw_targets t;
    struct hk_relabel_rules *rules;
    struct hk_relabel_result res, res2;
    struct hk_rw_lcache *c;
    struct hk_label tmp[MAXL], out[HK_RW_LCACHE_MAX_OUT];
};

static void fixture_init(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    static const struct hk_rw_identity id = {"node-1", "monitoring", "hakari-x7k2p"};
    const struct hk_label ext[] = {{"cluster", "c1"}, {"region", "eu"}};
    assert_int_equal(hk_rw_targets_build(&f->t, HK_TARGET_LABELS_KUBE_PROMETHEUS, ext, 2, &id), 0);
    f->rules = parse_rules();
    f->c = hk_rw_lcache_new(&f->t);
    assert_non_null(f->c);
}

static void fixture_free(struct fixture *f)
{
    hk_rw_lcache_free(f->c);
    hk_relabel_result_free(&f->res);
    hk_relabel_result_free(&f->res2);
    hk_relabel_free(f->rules);
    hk_rw_targets_free(&f->t);
}

/* The cached outcome of g (computed and put on a miss), checked against a fresh computation.
 * Returns whether it was a hit. */
static bool check_one(struct fixture *f, const struct gseries *g, bool present)
{
    size_t n = 0;
    uint64_t h = 0;
    int r = hk_rw_lcache_get(f->c, &g->s, g->target, present, f->out, &n, &h);
    const struct hk_label *want = NULL;
    size_t nwant = 0;
    int wr = compute(&f->t, f->rules, &f->res2, g, f->tmp, &want, &nwant);
    if (r == -ENOENT) {
        struct hk_label tmp[MAXL];
        const struct hk_label *o = NULL;
        size_t no = 0;
        int cr = compute(&f->t, f->rules, &f->res, g, tmp, &o, &no);
        assert_int_equal(hk_rw_lcache_put(f->c, &g->s, g->target, present, o, cr ? no : 0,
                                          cr ? hk_series_hash("", o, no) : 0),
                         0);
        return false;
    }
    assert_int_equal(r, wr);
    if (r == 1) {
        expect_same(f->out, n, want, nwant, g);
        assert_true(h == hk_series_hash("", want, nwant));
    }
    return true;
}

static void test_matches_fresh_relabelling(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    enum { N = 400, CYCLES = 6 };
    struct gseries *cur = calloc(N, sizeof(*cur)), *prev = calloc(N, sizeof(*prev));
    unsigned *prev_ids = calloc(N, sizeof(*prev_ids));
    size_t nprev = 0, dropped_seen = 0, literal_seen = 0;
    assert_non_null(cur);
    assert_non_null(prev);
    for (unsigned cyc = 0; cyc < CYCLES; cyc++) {
        /* Series ids [cyc*40, cyc*40 + 360): 40 new and 40 gone per cycle. */
        size_t n = 0;
        unsigned ids[N];
        for (unsigned id = cyc * 40; id < cyc * 40 + 360; id++) {
            ids[n] = id;
            make_series(&cur[n++], id);
        }
        hk_rw_lcache_cycle_begin(f.c);
        size_t hits = 0, misses = 0;
        for (size_t i = 0; i < n; i++) {
            if (check_one(&f, &cur[i], true))
                hits++;
            else
                misses++;
            size_t no = 0;
            uint64_t h;
            int r = hk_rw_lcache_get(f.c, &cur[i].s, cur[i].target, true, f.out, &no, &h);
            assert_true(r == 0 || r == 1);
            dropped_seen += r == 0;
            for (size_t k = 0; r == 1 && k < no; k++)
                literal_seen += strcmp(f.out[k].name, "combo") == 0;
        }
        /* Stale markers for the gone ones, looked up in the previous snapshot. */
        for (size_t i = 0; i < nprev; i++)
            if (prev_ids[i] < cyc * 40)
                assert_true(check_one(&f, &prev[i], false)); /* cached last cycle */
        hk_rw_lcache_cycle_end(f.c);
        if (cyc == 0) {
            assert_int_equal(hits, 0);
            assert_int_equal(misses, 360);
        } else {
            assert_int_equal(hits, 320);
            assert_int_equal(misses, 40);
        }
        struct hk_rw_lcache_stats st;
        hk_rw_lcache_get_stats(f.c, &st);
        assert_int_equal(st.entries, 360); /* the gone ones evicted */
        for (size_t i = 0; i < nprev; i++)
            free_series(&prev[i]);
        struct gseries *t = prev;
        prev = cur;
        cur = t;
        memcpy(prev_ids, ids, n * sizeof(*ids));
        nprev = n;
    }
    assert_true(dropped_seen > 0);
    assert_true(literal_seen > 0);
    for (size_t i = 0; i < nprev; i++)
        free_series(&prev[i]);
    /* An empty cycle evicts everything. */
    hk_rw_lcache_cycle_begin(f.c);
    hk_rw_lcache_cycle_end(f.c);
    struct hk_rw_lcache_stats st;
    hk_rw_lcache_get_stats(f.c, &st);
    assert_int_equal(st.entries, 0);
    free(cur);
    free(prev);
    free(prev_ids);
    fixture_free(&f);
}

static void test_hash_collisions_keep_their_own_labels(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    struct gseries a, b, a2, b2, c;
    make_series(&a, 1);
    make_series(&b, 2);
    make_series(&c, 5); /* will change content under the same hash */
    b.s.hash = a.s.hash; /* forced collision */
    hk_rw_lcache_cycle_begin(f.c);
    assert_false(check_one(&f, &a, true));
    assert_false(check_one(&f, &b, true)); /* not a's entry: a miss, its own entry */
    assert_false(check_one(&f, &c, true));
    assert_true(check_one(&f, &a, true));
    assert_true(check_one(&f, &b, true));
    hk_rw_lcache_cycle_end(f.c);
    /* Next cycle: fresh copies (other pointers); c's content is now another series' with c's
     * old hash, as a collision across cycles would look. */
    make_series(&a2, 1);
    make_series(&b2, 2);
    b2.s.hash = a2.s.hash;
    struct gseries c2;
    make_series(&c2, 7);
    c2.s.hash = c.s.hash;
    hk_rw_lcache_cycle_begin(f.c);
    assert_true(check_one(&f, &b2, true));
    assert_true(check_one(&f, &a2, true));
    assert_false(check_one(&f, &c2, true)); /* recomputed, not c's labels */
    assert_true(check_one(&f, &c2, true));
    hk_rw_lcache_cycle_end(f.c);
    struct hk_rw_lcache_stats st;
    hk_rw_lcache_get_stats(f.c, &st);
    assert_int_equal(st.entries, 3); /* a, b, c2; c evicted */
    free_series(&a);
    free_series(&b);
    free_series(&c);
    free_series(&a2);
    free_series(&b2);
    free_series(&c2);
    fixture_free(&f);
}

/* The same series under another target gets that target's labels. */
static void test_target_is_part_of_the_key(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    struct gseries a;
    make_series(&a, 12); /* node target, own instance label (exported_instance there) */
    hk_rw_lcache_cycle_begin(f.c);
    assert_false(check_one(&f, &a, true));
    a.target = HK_TARGET_SELF;
    assert_false(check_one(&f, &a, true));
    assert_true(check_one(&f, &a, true));
    a.target = HK_TARGET_NODE;
    assert_true(check_one(&f, &a, true));
    hk_rw_lcache_cycle_end(f.c);
    free_series(&a);
    fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_fresh_relabelling),
        cmocka_unit_test(test_hash_collisions_keep_their_own_labels),
        cmocka_unit_test(test_target_is_part_of_the_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
