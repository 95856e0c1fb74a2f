/* SPDX-License-Identifier: Apache-2.0 */
/* rw_targets: the labels remote write adds per target and profile, their precedence against the
 * series' own labels and the external labels (hakari: defaults that give way; kube-prometheus:
 * what its ServiceMonitors attach, honorLabels false on node_exporter's part → exported_*),
 * and the merged set: sorted, unique, __name__ in its byte-order place, empty values absent.
 * The merge is also compared with a plain reference (map semantics, then sort) over a grid of
 * label sets. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "exporter/rw_targets.h"

#define L(n, v) ((struct hk_label){n, v})

static const struct hk_rw_identity ident = {"node-1", "monitoring", "hakari-x7k2p"};

/* Merges and checks the result equals want (a NULL-terminated name/value list, in order). */
static void expect_merge(const struct hk_rw_targets *t, enum hk_target target, const char *name,
                         const struct hk_label *labels, size_t n, const char *const *want)
{
    struct hk_label out[64];
    assert_true(n + t->nadd[target] + 1 <= 64);
    size_t o = hk_rw_targets_merge(t, target, name, labels, n, out);
    size_t nw = 0;
    while (want[nw * 2])
        nw++;
    char got[2048] = "";
    size_t g = 0;
    for (size_t i = 0; i < o; i++) {
        int w = snprintf(got + g, sizeof(got) - g, "%s=\"%s\" ", out[i].name, out[i].value);
        assert_true(w > 0 && (size_t)w < sizeof(got) - g);
        g += (size_t)w;
    }
    if (o != nw)
        fail_msg("%zu labels, want %zu: %s", o, nw, got);
    for (size_t i = 0; i < o; i++)
        if (strcmp(out[i].name, want[2 * i]) != 0 || strcmp(out[i].value, want[2 * i + 1]) != 0)
            fail_msg("label %zu: %s=\"%s\", want %s=\"%s\" (all: %s)", i, out[i].name, out[i].value,
                     want[2 * i], want[2 * i + 1], got);
}

static void test_hakari_defaults(void **state)
{
    (void)state;
    struct hk_rw_targets t;
    const struct hk_label ext[] = {L("cluster", "c1")};
    assert_int_equal(hk_rw_targets_build(&t, HK_TARGET_LABELS_HAKARI, ext, 1, &ident), 0);
    /* The same two labels for every target. */
    for (int k = 0; k < HK_TARGET_COUNT; k++)
        assert_int_equal(t.nadd[k], 3);
    const struct hk_label s[] = {L("cpu", "0"), L("mode", "idle")};
    const char *const want[] = {"__name__", "node_cpu_seconds_total",
                                "cluster",  "c1",
                                "cpu",      "0",
                                "instance", "node-1",
                                "job",      "hakari",
                                "mode",     "idle",
                                NULL};
    expect_merge(&t, HK_TARGET_NODE, "node_cpu_seconds_total", s, 2, want);
    /* The series' own job wins over the default. */
    const struct hk_label own[] = {L("job", "batch"), L("zone", "a")};
    const char *const want_own[] = {"__name__", "m",     "cluster", "c1", "instance", "node-1",
                                    "job",      "batch", "zone",    "a",  NULL};
    expect_merge(&t, HK_TARGET_SELF, "m", own, 2, want_own);
    hk_rw_targets_free(&t);

    /* External labels named job/instance replace the defaults (they are what the user set). */
    const struct hk_label ext2[] = {L("instance", "i-9"), L("job", "agent")};
    assert_int_equal(hk_rw_targets_build(&t, HK_TARGET_LABELS_HAKARI, ext2, 2, &ident), 0);
    const char *const want2[] = {"__name__", "container_cpu_usage_seconds_total",
                                 "instance", "i-9",
                                 "job",      "agent",
                                 "pod",      "p",
                                 NULL};
    const struct hk_label pod[] = {L("pod", "p")};
    expect_merge(&t, HK_TARGET_CADVISOR, "container_cpu_usage_seconds_total", pod, 1, want2);
    hk_rw_targets_free(&t);
}

static void test_kube_prometheus(void **state)
{
    (void)state;
    struct hk_rw_targets t;
    /* job in external labels does not override a target label (Prometheus); cluster is added. */
    const struct hk_label ext[] = {L("cluster", "c1"), L("job", "ext"), L("node", "ext-node")};
    assert_int_equal(hk_rw_targets_build(&t, HK_TARGET_LABELS_KUBE_PROMETHEUS, ext, 3, &ident), 0);

    /* node_exporter's part: job, instance, namespace and pod of hakari's pod; the external node
     * label stays (node-exporter's scrape does not set node). */
    const struct hk_label cpu[] = {L("cpu", "0"), L("mode", "idle")};
    const char *const want_node[] = {"__name__",  "node_cpu_seconds_total",
                                     "cluster",   "c1",
                                     "cpu",       "0",
                                     "instance",  "node-1",
                                     "job",       "node-exporter",
                                     "mode",      "idle",
                                     "namespace", "monitoring",
                                     "node",      "ext-node",
                                     "pod",       "hakari-x7k2p",
                                     NULL};
    expect_merge(&t, HK_TARGET_NODE, "node_cpu_seconds_total", cpu, 2, want_node);

    /* honorLabels: false: a textfile series' own job and pod are kept as exported_*. */
    const struct hk_label tf[] = {L("job", "backup"), L("pod", "cron-1")};
    const char *const want_tf[] = {"__name__",
                                   "backup_last_success",
                                   "cluster",
                                   "c1",
                                   "exported_job",
                                   "backup",
                                   "exported_pod",
                                   "cron-1",
                                   "instance",
                                   "node-1",
                                   "job",
                                   "node-exporter",
                                   "namespace",
                                   "monitoring",
                                   "node",
                                   "ext-node",
                                   "pod",
                                   "hakari-x7k2p",
                                   NULL};
    expect_merge(&t, HK_TARGET_NODE, "backup_last_success", tf, 2, want_tf);
    /* ... unless the series already has exported_job: its own stays, nothing duplicates. */
    const struct hk_label tf2[] = {L("exported_job", "mine"), L("job", "backup")};
    const char *const want_tf2[] = {
        "__name__",     "x",          "cluster", "c1",       "exported_job",
        "mine",         "instance",   "node-1",  "job",      "node-exporter",
        "namespace",    "monitoring", "node",    "ext-node", "pod",
        "hakari-x7k2p", NULL};
    expect_merge(&t, HK_TARGET_NODE, "x", tf2, 2, want_tf2);

    /* cAdvisor's part (honorLabels: true): the container's own namespace/pod stay, an empty
     * value is an absent label, node is the node name (target label over the external one). */
    const struct hk_label c[] = {L("container", "app"), L("id", "/kubepods/x"), L("image", ""),
                                 L("namespace", "shop"), L("pod", "web-1")};
    const char *const want_c[] = {"__name__",
                                  "container_memory_rss",
                                  "cluster",
                                  "c1",
                                  "container",
                                  "app",
                                  "id",
                                  "/kubepods/x",
                                  "instance",
                                  "node-1",
                                  "job",
                                  "kubelet",
                                  "metrics_path",
                                  "/metrics/cadvisor",
                                  "namespace",
                                  "shop",
                                  "node",
                                  "node-1",
                                  "pod",
                                  "web-1",
                                  NULL};
    expect_merge(&t, HK_TARGET_CADVISOR, "container_memory_rss", c, 5, want_c);
    const char *const want_m[] = {
        "__name__", "machine_cpu_cores", "cluster",           "c1",   "instance", "node-1", "job",
        "kubelet",  "metrics_path",      "/metrics/cadvisor", "node", "node-1",   NULL};
    expect_merge(&t, HK_TARGET_CADVISOR, "machine_cpu_cores", NULL, 0, want_m);

    /* hakari's own: job="hakari", its pod. */
    const struct hk_label h[] = {L("collector", "cpu")};
    const char *const want_h[] = {"__name__",  "hakari_collector_up",
                                  "cluster",   "c1",
                                  "collector", "cpu",
                                  "instance",  "node-1",
                                  "job",       "hakari",
                                  "namespace", "monitoring",
                                  "node",      "ext-node",
                                  "pod",       "hakari-x7k2p",
                                  NULL};
    expect_merge(&t, HK_TARGET_SELF, "hakari_collector_up", h, 1, want_h);
    hk_rw_targets_free(&t);
}

static void test_missing_identity_and_none(void **state)
{
    (void)state;
    struct hk_rw_targets t;
    /* No node name, no pod: those labels are left out, never set to "". */
    const struct hk_rw_identity none_id = {NULL, "", NULL};
    assert_int_equal(hk_rw_targets_build(&t, HK_TARGET_LABELS_KUBE_PROMETHEUS, NULL, 0, &none_id),
                     0);
    const char *const want[] = {"__name__", "node_load1", "job", "node-exporter", NULL};
    expect_merge(&t, HK_TARGET_NODE, "node_load1", NULL, 0, want);
    hk_rw_targets_free(&t);

    /* none: external labels only, never overriding the series' own. */
    const struct hk_label ext[] = {L("cluster", "c1"), L("pod", "ext")};
    assert_int_equal(hk_rw_targets_build(&t, HK_TARGET_LABELS_NONE, ext, 2, &ident), 0);
    const struct hk_label s[] = {L("pod", "own")};
    const char *const want_none[] = {"__name__", "node_load1", "cluster", "c1", "pod", "own", NULL};
    expect_merge(&t, HK_TARGET_NODE, "node_load1", s, 1, want_none);
    hk_rw_targets_free(&t);
    hk_rw_targets_free(NULL);
}

static void test_name_order(void **state)
{
    (void)state;
    struct hk_rw_targets t;
    assert_int_equal(hk_rw_targets_build(&t, HK_TARGET_LABELS_HAKARI, NULL, 0, &ident), 0);
    /* Byte order: "A…" and "_A…" sort before "__name__", "_a" after it. */
    const struct hk_label s[] = {L("Zone", "z"), L("_Ab", "1"), L("_a", "2"), L("le", "+Inf")};
    const char *const want[] = {"Zone",     "z",      "_Ab", "1",        "__name__",
                                "h_bucket", "_a",     "2",   "instance", "node-1",
                                "job",      "hakari", "le",  "+Inf",     NULL};
    expect_merge(&t, HK_TARGET_SELF, "h_bucket", s, 4, want);
    hk_rw_targets_free(&t);
}

/* The reference: a map filled with the series' non-empty labels, then each added label by the
 * documented rule, then sorted. */
static size_t reference(const struct hk_rw_targets *t, enum hk_target k, const char *name,
                        const struct hk_label *s, size_t n, struct hk_label *out)
{
    size_t o = 0;
    out[o++] = L("__name__", name);
    for (size_t i = 0; i < n; i++)
        if (s[i].value[0])
            out[o++] = s[i];
    for (size_t j = 0; j < t->nadd[k]; j++) {
        const struct hk_rw_add_label *a = &t->add[k][j];
        const char *own = NULL;
        size_t at = 0;
        for (size_t i = 1; i < o; i++)
            if (strcmp(out[i].name, a->name) == 0) {
                own = out[i].value;
                at = i;
            }
        if (!own) {
            out[o++] = L(a->name, a->value);
        } else if (a->exported) {
            bool has = false;
            for (size_t i = 0; i < n; i++)
                has = has || (strcmp(s[i].name, a->exported) == 0 && s[i].value[0]);
            if (!has)
                out[o++] = L(a->exported, own);
            out[at].value = a->value;
        }
    }
    for (size_t i = 1; i < o; i++)
        for (size_t j = i; j > 0 && strcmp(out[j - 1].name, out[j].name) > 0; j--) {
            struct hk_label x = out[j];
            out[j] = out[j - 1];
            out[j - 1] = x;
        }
    return o;
}

static void test_against_reference(void **state)
{
    (void)state;
    /* Every subset of these names (sorted, some with empty values) against every profile and
     * target, with external labels that collide with target labels. */
    static const char *const names[] = {"A",         "cluster", "exported_job", "instance", "job",
                                        "namespace", "node",    "pod",          "zz"};
    const size_t nn = sizeof(names) / sizeof(names[0]);
    const struct hk_label ext[] = {L("cluster", "c1"), L("instance", "ext-i"), L("x", "1")};
    size_t checked = 0;
    for (int mode = 0; mode < 3; mode++) {
        struct hk_rw_targets t;
        assert_int_equal(hk_rw_targets_build(&t, (enum hk_target_labels)mode, ext, 3, &ident), 0);
        for (int k = 0; k < HK_TARGET_COUNT; k++) {
            for (unsigned mask = 0; mask < (1u << nn); mask++) {
                struct hk_label s[16], got[32], want[32];
                size_t n = 0;
                for (size_t i = 0; i < nn; i++)
                    if (mask & (1u << i))
                        s[n++] = L(names[i], (mask >> i) % 5 == 3 ? "" : names[(i + 3) % nn]);
                size_t ng = hk_rw_targets_merge(&t, (enum hk_target)k, "m", s, n, got);
                size_t nw = reference(&t, (enum hk_target)k, "m", s, n, want);
                assert_int_equal(ng, nw);
                for (size_t i = 0; i < ng; i++) {
                    assert_string_equal(got[i].name, want[i].name);
                    assert_string_equal(got[i].value, want[i].value);
                    if (i)
                        assert_true(strcmp(got[i - 1].name, got[i].name) < 0);
                }
                /* The same labels with their sources: each value is the one its source names
                 * (the very pointer). */
                struct hk_label got2[32];
                int32_t src[32];
                const char *nm = "m";
                assert_int_equal(
                    hk_rw_targets_merge_src(&t, (enum hk_target)k, nm, s, n, got2, src), ng);
                for (size_t i = 0; i < ng; i++) {
                    assert_string_equal(got2[i].name, got[i].name);
                    if (src[i] == HK_RW_SRC_NAME) {
                        assert_string_equal(got2[i].name, "__name__");
                        assert_ptr_equal(got2[i].value, nm);
                    } else if (src[i] == HK_RW_SRC_ADDED) {
                        bool found = false;
                        for (size_t j = 0; j < t.nadd[k]; j++)
                            found = found || got2[i].value == t.add[k][j].value;
                        assert_true(found);
                    } else {
                        assert_true(src[i] >= 0 && (size_t)src[i] < n);
                        assert_ptr_equal(got2[i].value, s[src[i]].value);
                        /* under its own name, or renamed exported_<name> */
                        const char *own = s[src[i]].name;
                        if (strcmp(got2[i].name, own) != 0) {
                            assert_true(strncmp(got2[i].name, "exported_", 9) == 0);
                            assert_string_equal(got2[i].name + 9, own);
                        }
                    }
                }
                checked++;
            }
        }
        hk_rw_targets_free(&t);
    }
    assert_int_equal(checked, 3 * HK_TARGET_COUNT * (1u << nn));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hakari_defaults),           cmocka_unit_test(test_kube_prometheus),
        cmocka_unit_test(test_missing_identity_and_none), cmocka_unit_test(test_name_order),
        cmocka_unit_test(test_against_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
