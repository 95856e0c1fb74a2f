/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the eBPF collector's user-space logic (collector/ebpf_internal.h): the latency
 * slot function the kernel programs use (native-histogram buckets, schema 3) and its native and
 * classic histograms (value ≤ le), per-CPU
 * value decoding, the cgroup id → path index (including a walk of a real directory tree),
 * label resolution with roll-up through the container index, row merging, the
 * ledger that keeps rolled-up rows from going backwards, the oom_kill fallback parser and the
 * TCP seed's socket -> v1 cgroup attribution. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit_files.h"
#define put hk_test_put
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "bpf/sched.h"
#include "bpf/tcp.h"
#include "collector/ebpf_internal.h"

int hk_ebpf_oom_kill_parse(const char *buf, size_t len, uint64_t *ret);
int hk_ebpf_blk_devname(const char *uevent, size_t len, char *ret, size_t cap);
int hk_ebpf_schedstat_delay(const char *buf, size_t len, uint64_t *ret_ns);
int hk_ebpf_schedstat_pcount(const char *buf, size_t len, uint64_t *ret_n);

#define S(lit) (lit), (sizeof(lit) - 1)

/* ---- latency slots (native-histogram buckets) ---- */

/* The native bucket index of v ns by the definition, in long double: the smallest i with
 * v·1e-9 ≤ 2^(i/8); *near when v lies within 1e-9 (relative) of a bucket bound, where the
 * long double logarithm cannot decide. */
static long ref_index(uint64_t v, bool *near)
{
    long double x = 8.0L * log2l((long double)v / 1e9L);
    long double c = ceill(x);
    *near = fabsl(x - roundl(x)) < 1e-8L;
    return (long)c;
}

static void test_nh_slot_bounds(void **st)
{
    (void)st;
    assert_int_equal(HK_NH_SCHEMA, 3);
    assert_int_equal(HK_NH_SLOT0_INDEX, -176);
    /* The table is floor(2^(i/8) s in ns), re-derived here in long double. */
    for (unsigned k = 0; k + 1 < HK_NH_SLOTS; k++) {
        long double b = exp2l((long double)(HK_NH_SLOT0_INDEX + (int)k) / 8.0L) * 1e9L;
        long double f = b - floorl(b);
        if (f > 1e-6L && f < 1 - 1e-6L)
            assert_true(hk_nh_bounds_ns[k] == (uint64_t)floorl(b));
        else
            assert_true(hk_nh_bounds_ns[k] == (uint64_t)roundl(b)); /* a whole number of ns */
        if (k)
            assert_true(hk_nh_bounds_ns[k] > hk_nh_bounds_ns[k - 1]);
    }
    assert_true(hk_nh_bounds_ns[HK_NH_SLOTS - 1] == UINT64_MAX);
    /* zero bucket: v ≤ 2^-22 s = 238.4 ns */
    assert_int_equal(hk_nh_slot(0), 0);
    assert_int_equal(hk_nh_slot(1), 0);
    assert_int_equal(hk_nh_slot(238), 0);
    assert_int_equal(hk_nh_slot(239), 1);
    /* whole-ns bounds are inclusive: 1 s is the top of bucket 0, 2 s of bucket 8 */
    assert_int_equal(hk_nh_slot(1000000000), 176);
    assert_int_equal(hk_nh_slot(1000000001), 177);
    assert_int_equal(hk_nh_slot(2000000000), 184);
    assert_int_equal(hk_nh_slot(2000000001), 185);
    assert_int_equal(hk_nh_slot(1953125), 176 - 72);    /* 2^-9 s exactly */
    assert_int_equal(hk_nh_slot(1500000000), 176 + 5);  /* 8·log2(1.5) = 4.68 */
    /* every edge: the bound itself in the slot, one ns more in the next */
    for (unsigned k = 0; k + 1 < HK_NH_SLOTS; k++) {
        assert_int_equal(hk_nh_slot(hk_nh_bounds_ns[k]), k);
        assert_int_equal(hk_nh_slot(hk_nh_bounds_ns[k] + 1), k + 1);
        if (k)
            assert_int_equal(hk_nh_slot(hk_nh_bounds_ns[k] - 1),
                             hk_nh_bounds_ns[k] - 1 > hk_nh_bounds_ns[k - 1] ? k : k - 1);
    }
    /* overflow: everything above 2^(78/8) s in the last slot */
    assert_int_equal(hk_nh_slot(hk_nh_bounds_ns[HK_NH_SLOTS - 2] + 1), HK_NH_SLOTS - 1);
    assert_int_equal(hk_nh_slot(1000000000000000ULL), HK_NH_SLOTS - 1);
    assert_int_equal(hk_nh_slot(UINT64_MAX), HK_NH_SLOTS - 1);
    /* random values against the definition */
    uint64_t r = 1;
    int checked = 0;
    for (int i = 0; i < 20000; i++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t v = r >> (r % 48 + 16);
        if (!v)
            continue;
        bool near;
        long idx = ref_index(v, &near);
        long want = idx - HK_NH_SLOT0_INDEX;
        if (want < 0)
            want = 0;
        if (want > HK_NH_SLOTS - 1)
            want = HK_NH_SLOTS - 1;
        if (near)
            continue;
        assert_int_equal(hk_nh_slot(v), want);
        checked++;
    }
    assert_true(checked > 19000);
}

/* Native and classic forms of one latency histogram: buckets rebuilt from spans and deltas are
 * the slots, and each classic le = 2^k s counts the values ≤ 2^k s. */
static void test_latency_emit(void **st)
{
    (void)st;
    static const uint64_t values[] = {0,          100,        238,        239,       900,
                                      953,        954,        1024,       5000,      1000000,
                                      1048576,    999999999,  1000000000, 1000000001,
                                      1073741825, 50000000000ULL, 2000000000000ULL};
    size_t nv = sizeof(values) / sizeof(values[0]);
    uint64_t slots[HK_NH_SLOTS] = {0};
    for (size_t i = 0; i < nv; i++)
        slots[hk_nh_slot(values[i])]++;
    static const char *const names[] = {"id", NULL};
    static const struct hk_metric_desc d = {"x_latency_seconds", "L.", HK_METRIC_HISTOGRAM,
                                            "seconds", names};
    struct hk_builder *b = hk_builder_new(NULL);
    assert_non_null(b);
    hk_builder_begin(b, "ebpf");
    const char *id[] = {"/a"};
    assert_int_equal(hk_ebpf_emit_latency(b, &d, id, slots, -20, 3, 12.5), 0);
    assert_int_equal(hk_ebpf_emit_latency(b, &d, id, slots, -23, 3, 1), -EINVAL);
    assert_int_equal(hk_ebpf_emit_latency(b, &d, id, slots, 3, 2, 1), -EINVAL);
    hk_builder_commit(b);
    struct hk_snapshot *snap = hk_builder_seal(b, 1, NULL);
    assert_non_null(snap);
    assert_int_equal(snap->nnhists, 1);
    const struct hk_nhist *h = &snap->nhists[0];
    assert_int_equal(h->schema, 3);
    assert_true(h->zero_threshold == 0x1p-22);
    assert_int_equal(h->zero_count, 3); /* 0, 100, 238 */
    assert_int_equal(h->count, nv);
    assert_true(h->sum == 12.5);
    uint64_t rebuilt[HK_NH_SLOTS] = {0};
    rebuilt[0] = h->zero_count;
    int64_t idx = 0, cnt = 0;
    size_t d_i = 0;
    for (uint32_t sp = 0; sp < h->nspans; sp++) {
        idx += h->spans[sp].offset;
        for (uint32_t j = 0; j < h->spans[sp].length; j++, idx++) {
            cnt += h->deltas[d_i++];
            assert_true(cnt >= 0);
            long slot = (long)idx - HK_NH_SLOT0_INDEX;
            assert_true(slot >= 1 && slot < HK_NH_SLOTS);
            rebuilt[slot] = (uint64_t)cnt;
        }
    }
    assert_int_equal(d_i, h->ndeltas);
    assert_memory_equal(rebuilt, slots, sizeof(slots));
    /* classic */
    const struct hk_family *f = hk_snapshot_find_family(snap, "x_latency_seconds");
    assert_non_null(f);
    int nb = 0;
    for (size_t i = f->first; i < f->first + f->count; i++) {
        const struct hk_series *s = &snap->series[i];
        const char *le = hk_labels_get(s->labels, s->nlabels, "le");
        if (!le)
            continue;
        double bound = strcmp(le, "+Inf") == 0 ? INFINITY : strtod(le, NULL);
        uint64_t brute = 0;
        for (size_t j = 0; j < nv; j++)
            brute += (long double)values[j] / 1e9L <= (long double)bound;
        assert_true(s->value == (double)brute);
        if (!isinf(bound)) {
            int e;
            assert_true(frexp(bound, &e) == 0.5); /* a power of two */
            assert_true(e - 1 >= -20 && e - 1 <= 3);
        }
        nb++;
    }
    assert_int_equal(nb, 24 + 1);
    hk_snapshot_unref(snap);
}

/* ---- per-CPU decoding ---- */

static void test_decode(void **st)
{
    (void)st;
    struct hk_sched_val sv[2];
    memset(sv, 0, sizeof(sv));
    sv[0].wait_ns = 1000;
    sv[0].waits = 2;
    sv[0].voluntary = 3;
    sv[0].slots[10] = 2;
    sv[1].wait_ns = 500;
    sv[1].waits = 1;
    sv[1].involuntary = 7;
    sv[1].slots[9] = 1;
    int64_t r[4];
    uint64_t slots[HK_NH_SLOTS];
    hk_ebpf_sched_decode(sv, 2, r, slots);
    assert_int_equal(r[0], 1500);
    assert_int_equal(r[1], 3);
    assert_int_equal(r[2], 3);
    assert_int_equal(r[3], 7);
    assert_int_equal(slots[10], 2);
    assert_int_equal(slots[9], 1);

    struct hk_tcp_val tv[3];
    memset(tv, 0, sizeof(tv));
    tv[0].connects_ok = 4;
    tv[0].active = 4;  /* opened on CPU 0 … */
    tv[1].active = -3; /* … three closed on CPU 1 */
    tv[1].closes = 3;
    tv[2].connects_failed = 2;
    tv[2].accepts = 5;
    tv[2].retransmits = 9;
    int64_t t[6];
    hk_ebpf_tcp_decode(tv, 3, t);
    assert_int_equal(t[0], 4);
    assert_int_equal(t[1], 2);
    assert_int_equal(t[2], 5);
    assert_int_equal(t[3], 3);
    assert_int_equal(t[4], 9);
    assert_int_equal(t[5], 1);
}

/* ---- id → path index ---- */

static void test_index_updates(void **st)
{
    (void)st;
    struct hk_cgid_index *idx = hk_cgid_index_new();
    assert_non_null(idx);
    assert_null(hk_cgid_index_lookup(idx, 5));
    assert_int_equal(hk_cgid_index_add(idx, 0, "/x"), -EINVAL);
    assert_int_equal(hk_cgid_index_add(idx, 5, "/a"), 0);
    assert_string_equal(hk_cgid_index_lookup(idx, 5), "/a");
    assert_int_equal(hk_cgid_index_add(idx, 5, "/renamed"), 0); /* replace keeps the count */
    assert_string_equal(hk_cgid_index_lookup(idx, 5), "/renamed");
    assert_int_equal(hk_cgid_index_count(idx), 1);
    /* Many ids (forces growth); colliding low bits. */
    char path[32];
    for (uint64_t id = 1000; id < 3000; id++) {
        snprintf(path, sizeof(path), "/c%llu", (unsigned long long)id);
        assert_int_equal(hk_cgid_index_add(idx, id << 20, path), 0);
    }
    assert_int_equal(hk_cgid_index_count(idx), 2001);
    for (uint64_t id = 1000; id < 3000; id++) {
        snprintf(path, sizeof(path), "/c%llu", (unsigned long long)id);
        assert_string_equal(hk_cgid_index_lookup(idx, id << 20), path);
    }
    assert_null(hk_cgid_index_lookup(idx, 999 << 20));
    hk_cgid_index_clear(idx);
    assert_int_equal(hk_cgid_index_count(idx), 0);
    assert_null(hk_cgid_index_lookup(idx, 5));
    hk_cgid_index_free(idx);
    hk_cgid_index_free(NULL);
}

static uint64_t ino_of(const char *p)
{
    struct stat s;
    assert_int_equal(stat(p, &s), 0);
    return (uint64_t)s.st_ino;
}

static int count_cb(uint64_t id, const char *path, void *arg)
{
    (void)id;
    (void)path;
    (*(int *)arg)++;
    return 0;
}

static void test_index_walk(void **st)
{
    (void)st;
    char root[] = "/tmp/hk-ebpf-unit-XXXXXX";
    assert_non_null(mkdtemp(root));
    char p[256];
    static const char *const dirs[] = {"kubepods", "kubepods/pod1", "kubepods/pod1/ctr",
                                       "system.slice"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof(p), "%s/%s", root, dirs[i]);
        assert_int_equal(mkdir(p, 0755), 0);
    }
    snprintf(p, sizeof(p), "%s/kubepods/cpu.stat", root); /* files are not cgroups */
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    close(fd);

    int rootfd = open(root, O_PATH | O_DIRECTORY);
    assert_true(rootfd >= 0);
    struct hk_cgid_index *idx = hk_cgid_index_new();
    assert_int_equal(hk_cgid_index_add(idx, 424242, "/stale"), 0);
    assert_int_equal(hk_cgid_index_walk(idx, rootfd), 5);
    assert_null(hk_cgid_index_lookup(idx, 424242)); /* a walk replaces the contents */
    assert_string_equal(hk_cgid_index_lookup(idx, ino_of(root)), "/");
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof(p), "%s/%s", root, dirs[i]);
        char want[64];
        snprintf(want, sizeof(want), "/%s", dirs[i]);
        assert_string_equal(hk_cgid_index_lookup(idx, ino_of(p)), want);
    }
    int n = 0;
    assert_int_equal(hk_cgid_index_foreach(idx, count_cb, &n), 0);
    assert_int_equal(n, 5);
    /* A new cgroup appears: found after a re-walk. */
    snprintf(p, sizeof(p), "%s/kubepods/pod2", root);
    assert_int_equal(mkdir(p, 0755), 0);
    assert_null(hk_cgid_index_lookup(idx, ino_of(p)));
    /* A path looked up before the re-walk labels rows already added this cycle: it must stay
     * readable until hk_cgid_index_release (under ASan a freed one fails here). */
    const char *held = hk_cgid_index_lookup(idx, ino_of(root));
    assert_non_null(held);
    assert_int_equal(hk_cgid_index_walk(idx, rootfd), 6);
    assert_string_equal(hk_cgid_index_lookup(idx, ino_of(p)), "/kubepods/pod2");
    assert_string_equal(held, "/");
    const char *renamed = hk_cgid_index_lookup(idx, ino_of(p));
    assert_int_equal(hk_cgid_index_add(idx, ino_of(p), "/kubepods/pod2-moved"), 0);
    assert_string_equal(renamed, "/kubepods/pod2"); /* a replacing add retires it too */
    assert_string_equal(hk_cgid_index_lookup(idx, ino_of(p)), "/kubepods/pod2-moved");
    hk_cgid_index_release(idx);
    assert_string_equal(hk_cgid_index_lookup(idx, ino_of(p)), "/kubepods/pod2-moved");
    assert_int_equal(hk_cgid_index_walk(idx, rootfd), 6);
    assert_string_equal(hk_cgid_index_lookup(idx, ino_of(p)), "/kubepods/pod2");
    assert_int_equal(hk_cgid_index_walk(idx, -1), -ENOENT);
    hk_cgid_index_free(idx);
    close(rootfd);
    for (int i = 3; i >= 0; i--) {
        snprintf(p, sizeof(p), "%s/%s", root, dirs[i]);
        rmdir(p);
    }
    snprintf(p, sizeof(p), "%s/kubepods/cpu.stat", root);
    unlink(p);
    snprintf(p, sizeof(p), "%s/kubepods/pod2", root);
    rmdir(p);
    snprintf(p, sizeof(p), "%s/kubepods", root);
    rmdir(p);
    rmdir(root);
}

/* ---- labels, roll-up, rows ---- */

static void test_labels_rollup(void **st)
{
    (void)st;
    const struct hk_container_entry entries[] = {
        {"/", "", "", "", "", ""},
        {"/kubepods/burstable/pod1/abc", "app", "nginx:1", "k8s_app_pod1", "default", "pod1"},
        {"/kubepods/burstable/pod1", "", "", "", "default", "pod1"},
    };
    assert_int_equal(hk_containers_publish(entries, 3), 0);
    struct hk_containers *t = hk_containers_acquire();
    const char *l[HK_EBPF_NBASE];

    hk_ebpf_labels_for(t, "/kubepods/burstable/pod1/abc/nested/deeper", l);
    assert_string_equal(l[0], "app");
    assert_string_equal(l[1], "/kubepods/burstable/pod1/abc");
    assert_string_equal(l[2], "nginx:1");
    assert_string_equal(l[3], "k8s_app_pod1");
    assert_string_equal(l[4], "default");
    assert_string_equal(l[5], "pod1");
    hk_ebpf_labels_for(t, "/kubepods/burstable/pod1/other", l);
    assert_string_equal(l[1], "/kubepods/burstable/pod1"); /* pod row */
    assert_string_equal(l[0], "");
    hk_ebpf_labels_for(t, "/system.slice/cron.service", l); /* unlisted: own id, no root roll-up */
    assert_string_equal(l[1], "/system.slice/cron.service");
    for (int i = 0; i < HK_EBPF_NBASE; i++)
        if (i != 1)
            assert_string_equal(l[i], "");
    hk_ebpf_labels_for(t, "/", l);
    assert_string_equal(l[1], "/");
    hk_ebpf_labels_for(NULL, "/x", l); /* no index yet */
    assert_string_equal(l[1], "/x");

    /* Rows of nested cgroups merge into their container; sub keys stay apart. */
    struct hk_ebpf_rows rows = {0};
    struct hk_ebpf_row r;
    memset(&r, 0, sizeof(r));
    hk_ebpf_labels_for(t, "/kubepods/burstable/pod1/abc", r.labels);
    r.v[0] = 10;
    r.slots[3] = 1;
    assert_int_equal(hk_ebpf_rows_add(&rows, &r), 0);
    hk_ebpf_labels_for(t, "/system.slice", r.labels);
    r.v[0] = 100;
    assert_int_equal(hk_ebpf_rows_add(&rows, &r), 0);
    hk_ebpf_labels_for(t, "/kubepods/burstable/pod1/abc/nested", r.labels);
    r.v[0] = 5;
    r.v[1] = -2;
    r.slots[3] = 2;
    assert_int_equal(hk_ebpf_rows_add(&rows, &r), 0);
    r.sub = 7;
    assert_int_equal(hk_ebpf_rows_add(&rows, &r), 0);
    hk_ebpf_rows_finish(&rows);
    assert_int_equal(rows.n, 3);
    assert_string_equal(rows.rows[0].labels[1], "/kubepods/burstable/pod1/abc");
    assert_int_equal(rows.rows[0].sub, 0);
    assert_int_equal(rows.rows[0].v[0], 15);
    assert_int_equal(rows.rows[0].v[1], -2);
    assert_int_equal(rows.rows[0].slots[3], 3);
    assert_int_equal(rows.rows[1].sub, 7);
    assert_int_equal(rows.rows[1].v[0], 5);
    assert_string_equal(rows.rows[2].labels[1], "/system.slice");
    assert_int_equal(rows.rows[2].v[0], 100);
    hk_ebpf_rows_free(&rows);
    hk_containers_unref(t);
    hk_containers_reset();
}

/* ---- ledger: rows never go backwards ---- */

/* A fake hierarchy: ids 1..8 with paths; a NULL path is a removed cgroup, gone after `misses`
 * unresolved lookups. */
struct fake_hier {
    const char *path[9];
    int misses[9];
};

static const char *fake_path_of(void *self, enum hk_hier h, uint64_t id)
{
    (void)h;
    struct fake_hier *f = self;
    return id < 9 ? f->path[id] : NULL;
}

static bool fake_gone(void *self, enum hk_hier h, uint64_t id)
{
    (void)h;
    struct fake_hier *f = self;
    return id < 9 && ++f->misses[id] >= 2;
}

static int64_t ledger_gauge; /* v[1] of the row ledger_cycle looked at */

/* One collection of (id, value) pairs; returns the settled rows' v[0] for row id label `want`
 * (-1 if absent) and counts the entries to delete in *ret_dead. */
static int64_t ledger_cycle(struct hk_ebpf_ledger *l, struct hk_ebpf_collect *c,
                            const uint64_t *ids, const int64_t *vals, size_t n, const char *want,
                            int *ret_dead)
{
    struct hk_ebpf_rows rows = {.ledger = l};
    *ret_dead = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t v[2] = {vals[i], 1}; /* v[1] is a gauge: never carried */
        int r = hk_ebpf_add(c, &rows, HK_HIER_CPU, ids[i], 0, v, 2, NULL);
        assert_true(r >= 0);
        *ret_dead += r == 1;
    }
    assert_int_equal(hk_ebpf_rows_settle(&rows, c->containers), 0);
    int64_t got = -1;
    for (size_t i = 0; i < rows.n; i++)
        if (!strcmp(rows.rows[i].labels[1], want)) {
            got = rows.rows[i].v[0];
            ledger_gauge = rows.rows[i].v[1];
        }
    hk_ebpf_rows_free(&rows);
    return got;
}

static void test_ledger(void **st)
{
    (void)st;
    const struct hk_container_entry entries[] = {
        {"/pod", "", "", "", "ns", "pod"},
        {"/pod/ctr", "app", "img", "app", "ns", "pod"},
    };
    assert_int_equal(hk_containers_publish(entries, 2), 0);
    struct hk_containers *t = hk_containers_acquire();
    struct fake_hier f = {{NULL, "/pod", "/pod/ctr", "/pod/ctr/a", "/pod/ctr/b", "/pod/new"}, {0}};
    struct hk_ebpf_collect c = {NULL, t, fake_path_of, fake_gone, &f, NULL};
    struct hk_ebpf_ledger *l = hk_ebpf_ledger_new(1u << 1);
    assert_non_null(l);
    int dead;

    /* ctr itself 10, nested a 5, b 7: the container row is 22. */
    uint64_t ids[] = {2, 3, 4};
    int64_t v1[] = {10, 5, 7};
    assert_int_equal(ledger_cycle(l, &c, ids, v1, 3, "/pod/ctr", &dead), 22);
    assert_int_equal(ledger_gauge, 3);
    /* a is removed after reaching 6: unresolved for a cycle it stays in its row ... */
    f.path[3] = NULL;
    int64_t v2[] = {11, 6, 8};
    assert_int_equal(ledger_cycle(l, &c, ids, v2, 3, "/pod/ctr", &dead), 25);
    assert_int_equal(dead, 0);
    /* ... then it is gone: its entry is to be deleted and its final value is carried. */
    int64_t v3[] = {12, 6, 9};
    assert_int_equal(ledger_cycle(l, &c, ids, v3, 3, "/pod/ctr", &dead), 27);
    assert_int_equal(dead, 1);
    assert_int_equal(hk_ebpf_ledger_carried(l), 1);
    /* The kernel entry is gone now: the row still counts a's 6. */
    uint64_t ids2[] = {2, 4};
    int64_t v4[] = {12, 9};
    assert_int_equal(ledger_cycle(l, &c, ids2, v4, 2, "/pod/ctr", &dead), 27);
    assert_int_equal(ledger_gauge, 2); /* gauges are not carried */

    /* A new cgroup the index does not list yet rolls up into the pod row (3 + pod's own 1) ... */
    uint64_t ids3[] = {1, 2, 4, 5};
    int64_t v5[] = {1, 12, 9, 3};
    assert_int_equal(ledger_cycle(l, &c, ids3, v5, 4, "/pod", &dead), 4);
    /* ... and once it is listed it gets its own row with its whole count, while the pod row
     * keeps what it reported (with the move's cycle: the value at the move, 4, is carried). */
    const struct hk_container_entry entries2[] = {
        {"/pod", "", "", "", "ns", "pod"},
        {"/pod/ctr", "app", "img", "app", "ns", "pod"},
        {"/pod/new", "new", "img", "new", "ns", "pod"},
    };
    assert_int_equal(hk_containers_publish(entries2, 3), 0);
    struct hk_containers *t2 = hk_containers_acquire();
    c.containers = t2;
    int64_t v6[] = {1, 12, 9, 4};
    assert_int_equal(ledger_cycle(l, &c, ids3, v6, 4, "/pod", &dead), 5);
    assert_int_equal(ledger_cycle(l, &c, ids3, v6, 4, "/pod/new", &dead), 4);

    /* b is removed the same way. */
    f.path[4] = NULL;
    f.misses[4] = 0;
    uint64_t ids4[] = {1, 2, 4, 5};
    assert_int_equal(ledger_cycle(l, &c, ids4, v6, 4, "/pod/ctr", &dead), 27);
    assert_int_equal(ledger_cycle(l, &c, ids4, v6, 4, "/pod/ctr", &dead), 27);
    assert_int_equal(dead, 1);
    /* A listed container whose entries are all gone still reports what they did. */
    f.path[2] = NULL;
    uint64_t ids5[] = {1, 2, 5};
    int64_t v7[] = {1, 12, 4};
    assert_int_equal(ledger_cycle(l, &c, ids5, v7, 3, "/pod/ctr", &dead), 27);
    assert_int_equal(ledger_cycle(l, &c, ids5, v7, 3, "/pod/ctr", &dead), 27);
    assert_int_equal(dead, 1);
    uint64_t ids6[] = {1, 5};
    int64_t v8[] = {1, 4};
    assert_int_equal(ledger_cycle(l, &c, ids6, v8, 2, "/pod/ctr", &dead), 27);
    assert_int_equal(ledger_gauge, 0);
    hk_ebpf_ledger_free(l);
    hk_containers_unref(t);
    hk_containers_unref(t2);
    hk_containers_reset();
}

static void test_oom_kill_parse(void **st)
{
    (void)st;
    uint64_t n = 0;
    assert_int_equal(hk_ebpf_oom_kill_parse(S("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"), &n),
                     0);
    assert_int_equal(n, 3);
    assert_int_equal(hk_ebpf_oom_kill_parse(
                         S("low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n"), &n),
                     0);
    assert_int_equal(n, 2);
    assert_int_equal(hk_ebpf_oom_kill_parse(S("oom_kill_disable 0\n"), &n), -ENOENT);
    assert_int_equal(hk_ebpf_oom_kill_parse(S("oom_kill\n"), &n), -EINVAL);
    assert_int_equal(hk_ebpf_oom_kill_parse(S("oom_kill x1\n"), &n), -EINVAL);
    assert_int_equal(hk_ebpf_oom_kill_parse(S(""), &n), -ENOENT);
}

static void test_blk_devname(void **st)
{
    (void)st;
    char name[32];
    assert_int_equal(hk_ebpf_blk_devname(S("MAJOR=7\nMINOR=0\nDEVNAME=loop0\nDEVTYPE=disk\n"), name,
                                         sizeof(name)),
                     0);
    assert_string_equal(name, "/dev/loop0");
    assert_int_equal(hk_ebpf_blk_devname(S("MAJOR=254\nDEVNAME=vda"), name, sizeof(name)), 0);
    assert_string_equal(name, "/dev/vda");
    assert_int_equal(hk_ebpf_blk_devname(S("MAJOR=254\nDEVNAME=\n"), name, sizeof(name)), -ENOENT);
    assert_int_equal(hk_ebpf_blk_devname(S("DEVNAME=a-very-long-device-name-that-does-not-fit\n"),
                                         name, sizeof(name)),
                     -EINVAL);
}

static void test_schedstat(void **st)
{
    (void)st;
    uint64_t ns = 0;
    assert_int_equal(hk_ebpf_schedstat_delay(S("2034998611 12345678 4321\n"), &ns), 0);
    assert_int_equal(ns, 12345678);
    assert_int_equal(hk_ebpf_schedstat_delay(S("2034998611\n"), &ns), -EINVAL);
    assert_int_equal(hk_ebpf_schedstat_delay(S("1 -5 3\n"), &ns), -EINVAL);
    assert_int_equal(hk_ebpf_schedstat_delay(S(""), &ns), -EINVAL);
    /* Field 3 (pcount): what the sched probe checks before it measures waits from sched_info. */
    assert_int_equal(hk_ebpf_schedstat_pcount(S("2034998611 12345678 4321\n"), &ns), 0);
    assert_int_equal(ns, 4321);
    assert_int_equal(hk_ebpf_schedstat_pcount(S("2034998611 12345678\n"), &ns), -EINVAL);
    assert_int_equal(hk_ebpf_schedstat_pcount(S("1 2 x\n"), &ns), -EINVAL);
    /* The running kernel's own file, where it has one: this thread has been on a CPU. */
    char buf[128];
    int fd = open("/proc/thread-self/schedstat", O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof(buf));
        close(fd);
        assert_true(n > 0);
        assert_int_equal(hk_ebpf_schedstat_pcount(buf, (size_t)n, &ns), 0);
        assert_true(ns > 0);
    }
}

static void test_proc_cgroup_path(void **st)
{
    (void)st;
    static const char hybrid[] = "12:pids:/user.slice\n"
                                 "4:memory:/docker/abc\n"
                                 "3:cpuset:/\n"
                                 "2:cpuacct:/x\n"
                                 "1:cpu:/kubepods/pod1/ctr:with:colons\n"
                                 "0::/init.scope\n";
    char p[64];
    assert_int_equal(hk_ebpf_proc_cgroup_path(S(hybrid), "cpu", p, sizeof(p)), 0);
    assert_string_equal(p, "/kubepods/pod1/ctr:with:colons");
    assert_int_equal(hk_ebpf_proc_cgroup_path(S(hybrid), "cpuacct", p, sizeof(p)), 0);
    assert_string_equal(p, "/x");
    assert_int_equal(hk_ebpf_proc_cgroup_path(S(hybrid), "", p, sizeof(p)), 0);
    assert_string_equal(p, "/init.scope");
    assert_int_equal(hk_ebpf_proc_cgroup_path(S("5:cpu,cpuacct:/a\n"), "cpuacct", p, sizeof(p)), 0);
    assert_string_equal(p, "/a");
    assert_int_equal(hk_ebpf_proc_cgroup_path(S(hybrid), "blkio", p, sizeof(p)), -ENOENT);
    assert_int_equal(hk_ebpf_proc_cgroup_path(S("garbage\n"), "cpu", p, sizeof(p)), -EINVAL);
    assert_int_equal(hk_ebpf_proc_cgroup_path(S(hybrid), "cpu", p, 8), -EINVAL);

    uint64_t ino = 0;
    assert_int_equal(hk_ebpf_socket_inode(S("socket:[123456]"), &ino), 0);
    assert_int_equal(ino, 123456);
    assert_int_equal(hk_ebpf_socket_inode(S("pipe:[5]"), &ino), -EINVAL);
    assert_int_equal(hk_ebpf_socket_inode(S("socket:[]"), &ino), -EINVAL);
    assert_int_equal(hk_ebpf_socket_inode(S("socket:[12"), &ino), -EINVAL);
}

static int diag_cb(const struct hk_tcp_sock *s, void *arg)
{
    struct hk_tcp_sock *out = arg;
    size_t i = 0;
    while (out[i].inode)
        i++;
    out[i] = *s;
    return 0;
}

static void test_diag_parse(void **st)
{
    (void)st;
    /* Two SOCK_DIAG_BY_FAMILY messages (one with INET_DIAG_CGROUP_ID), then NLMSG_DONE. */
    _Alignas(8) char buf[1024];
    memset(buf, 0, sizeof(buf));
    size_t off = 0;
    for (int k = 0; k < 2; k++) {
        struct nlmsghdr *h = (void *)(buf + off);
        struct inet_diag_msg *m = NLMSG_DATA(h);
        size_t len = NLMSG_LENGTH(sizeof(*m));
        m->idiag_inode = 1000 + (unsigned)k;
        m->id.idiag_cookie[0] = 0x11 + (unsigned)k;
        m->id.idiag_cookie[1] = 0x1;
        if (k == 1) {
            struct nlattr *a = (void *)(buf + off + NLMSG_ALIGN(len));
            a->nla_type = INET_DIAG_CGROUP_ID;
            a->nla_len = NLA_HDRLEN + 8;
            uint64_t id = 4242;
            memcpy((char *)a + NLA_HDRLEN, &id, 8);
            len = NLMSG_ALIGN(len) + NLA_ALIGN(a->nla_len);
        }
        h->nlmsg_len = (uint32_t)len;
        h->nlmsg_type = SOCK_DIAG_BY_FAMILY;
        off += NLMSG_ALIGN(len);
    }
    struct hk_tcp_sock socks[4];
    memset(socks, 0, sizeof(socks));
    assert_int_equal(hk_ebpf_diag_parse(buf, off, diag_cb, socks), 0); /* no DONE yet */
    assert_int_equal(socks[0].inode, 1000);
    assert_int_equal(socks[0].cookie, 0x100000011ULL);
    assert_int_equal(socks[0].cgroup2_id, 0);
    assert_int_equal(socks[1].inode, 1001);
    assert_int_equal(socks[1].cgroup2_id, 4242);
    struct nlmsghdr *done = (void *)(buf + off);
    done->nlmsg_len = NLMSG_LENGTH(4);
    done->nlmsg_type = NLMSG_DONE;
    memset(socks, 0, sizeof(socks));
    assert_int_equal(hk_ebpf_diag_parse(buf, off + NLMSG_ALIGN(done->nlmsg_len), diag_cb, socks),
                     1);
    /* An error reply. */
    _Alignas(8) char ebuf[64];
    memset(ebuf, 0, sizeof(ebuf));
    struct nlmsghdr *eh = (void *)ebuf;
    eh->nlmsg_len = NLMSG_LENGTH(sizeof(struct nlmsgerr));
    eh->nlmsg_type = NLMSG_ERROR;
    ((struct nlmsgerr *)NLMSG_DATA(eh))->error = -EPERM;
    assert_int_equal(hk_ebpf_diag_parse(ebuf, eh->nlmsg_len, diag_cb, socks), -EPERM);
    /* Truncated input: nothing parsed, no crash. */
    assert_int_equal(hk_ebpf_diag_parse(buf, 7, diag_cb, socks), 0);
}

static void mkdirs(const char *root, const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    assert_int_equal(mkdir(path, 0755), 0);
}


static void link_at(const char *root, const char *rel, const char *target)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    assert_int_equal(symlink(target, path), 0);
}

/* v1 seeding: a socket held by a process gets the inode of that process's cpu cgroup directory;
 * sockets nobody in <procfs> holds keep 0. With no sockets at all (socks NULL, a host without
 * established TCP connections) the walk must not reach bsearch(…, NULL, 0, …), which UBSan
 * reports as undefined, although the processes there do hold sockets. */
static void test_tcp_attribute_v1(void **st)
{
    (void)st;
    char root[] = "/tmp/hk-seed-XXXXXX";
    assert_non_null(mkdtemp(root));
    mkdirs(root, "proc/4242/fd");
    put(root, "proc/4242/cgroup", "4:memory:/elsewhere\n3:cpu,cpuacct:/kubepods/pod1/ctr\n");
    link_at(root, "proc/4242/fd/3", "socket:[777]");
    link_at(root, "proc/4242/fd/4", "pipe:[5]");
    link_at(root, "proc/4242/fd/5", "socket:[31337]"); /* not established: not in the list */
    mkdirs(root, "proc/77/fd");
    put(root, "proc/77/cgroup", "3:cpu,cpuacct:/\n");
    link_at(root, "proc/77/fd/0", "socket:[555]");
    mkdirs(root, "cpu/kubepods/pod1/ctr");

    char path[512];
    snprintf(path, sizeof(path), "%s/proc", root);
    int proc_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    snprintf(path, sizeof(path), "%s/cpu", root);
    int hier_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(proc_fd >= 0 && hier_fd >= 0);
    struct stat ctr, top;
    assert_int_equal(fstatat(hier_fd, "kubepods/pod1/ctr", &ctr, 0), 0);
    assert_int_equal(fstat(hier_fd, &top), 0);

    hk_ebpf_tcp_attribute_v1(NULL, 0, proc_fd, hier_fd, "cpu");

    struct hk_tcp_sock socks[] = {{888, 3, 0}, {777, 1, 0}, {555, 2, 0}};
    hk_ebpf_tcp_attribute_v1(socks, 3, proc_fd, hier_fd, "cpu");
    /* Sorted by inode: 555, 777, 888. */
    assert_int_equal(socks[0].inode, 555);
    assert_int_equal(socks[0].cgroup2_id, (uint64_t)top.st_ino); /* pid 77 sits in the root */
    assert_int_equal(socks[1].inode, 777);
    assert_int_equal(socks[1].cookie, 1);
    assert_int_equal(socks[1].cgroup2_id, (uint64_t)ctr.st_ino);
    assert_int_equal(socks[2].inode, 888);
    assert_int_equal(socks[2].cgroup2_id, 0); /* no process holds it */

    close(proc_fd);
    close(hier_fd);
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nh_slot_bounds), cmocka_unit_test(test_latency_emit),
        cmocka_unit_test(test_decode),           cmocka_unit_test(test_index_updates),
        cmocka_unit_test(test_index_walk),
        cmocka_unit_test(test_labels_rollup),    cmocka_unit_test(test_ledger),
        cmocka_unit_test(test_oom_kill_parse),   cmocka_unit_test(test_blk_devname),
        cmocka_unit_test(test_schedstat),        cmocka_unit_test(test_proc_cgroup_path),
        cmocka_unit_test(test_diag_parse),       cmocka_unit_test(test_tcp_attribute_v1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
