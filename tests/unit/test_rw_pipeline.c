/* SPDX-License-Identifier: Apache-2.0 */
/* rw pipeline: snapshots published to a registry with a remote-write endpoint attached (its
 * receiver refuses connections, so everything stays queued) end up in the durable queue as
 * expected: label sets sorted with __name__ and the external labels (which never override a
 * series' own label), write_relabel_configs applied, and one stale marker (exact NaN bits) for a
 * series that vanished - only once; with target_labels: kube-prometheus every family carries
 * the labels of the scrape target it stands in for. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit_rw.h"

#include "core/config.h"
#include "core/log.h"
#include "core/snapshot.h"
#include "exporter/rw.h"
#include "exporter/rw_encode.h"
#include "exporter/rw_queue.h"
#include "exporter/rw_targets.h"

static const char *const lnames[] = {"cpu", "job", NULL};
static const struct hk_metric_desc desc = {"test_seconds_total", "Test counter.", HK_METRIC_COUNTER,
                                           "seconds", lnames};

static struct hk_snapshot *snap_with(int ncpus, int64_t ts)
{
    struct hk_limits lim = {0};
    struct hk_builder *b = hk_builder_new(&lim);
    hk_builder_begin(b, "test");
    for (int i = 0; i < ncpus; i++) {
        char cpu[16];
        snprintf(cpu, sizeof(cpu), "%d", i);
        const char *v[] = {cpu, i == 0 ? "own" : NULL};
        assert_int_equal(hk_emit(b, &desc, v, 10.0 * i + (double)ts / 1000), 0);
    }
    hk_builder_commit(b);
    return hk_builder_seal(b, ts, NULL);
}

/* A queue record is a ready request: its prefix names the protocol, the snapshot (group) and
 * the newest timestamp; the body decodes back into the samples. */
static void decode_payload(const struct hk_buf *b, const struct hk_rw_qrec *qr,
                           enum hk_rw_proto want, struct hk_rw_payload_info *info,
                           struct hk_rw_record *rec)
{
    assert_int_equal(qr->format, 2);
    assert_int_equal(hk_rw_payload_parse(b->data, b->len, info), 0);
    assert_int_equal(info->proto, want);
    assert_int_equal(hk_rw_request_decode(info->proto, b->data + HK_RW_PAYLOAD_PREFIX,
                                          b->len - HK_RW_PAYLOAD_PREFIX, rec),
                     0);
    assert_int_equal(rec->nsamples, qr->nsamples);
    int64_t newest = 0, oldest = 0;
    for (size_t i = 0; i < rec->nsamples; i++) {
        if (rec->samples[i].ts_ms > newest)
            newest = rec->samples[i].ts_ms;
        if (!oldest || rec->samples[i].ts_ms < oldest)
            oldest = rec->samples[i].ts_ms;
    }
    assert_int_equal(info->newest_ms, newest);
    assert_int_equal(qr->oldest_ms, oldest);
}

static void test_pipeline(void **state)
{
    char dir[] = "/tmp/hk-rwp-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char yml[1000];
    snprintf(yml, sizeof(yml),
             "global:\n  external_labels: {cluster: c1, job: ext}\n"
             "remote_write:\n  - url: http://127.0.0.1:1/api/v1/write\n    name: t\n"
             "    metadata_config: {send: false}\n"
             "    protobuf_message: io.prometheus.write.v2.Request\n"
             "    write_relabel_configs:\n"
             "      - {source_labels: [cpu], regex: '2', action: drop}\n"
             "    queue_config: {disk_path: %s/q, batch_send_deadline: 1h, min_backoff: 1h,"
             " max_backoff: 1h}\n",
             dir);
    struct hk_test_rw t;
    hk_test_rw_start(&t, dir, yml);
    hk_registry_publish(t.reg, snap_with(3, 1000000)); /* cpu 0,1,2 (2 relabel-dropped) */
    hk_registry_publish(t.reg, snap_with(1, 2000000)); /* cpu 1 vanished: stale marker */
    hk_registry_publish(t.reg, snap_with(1, 3000000)); /* no second stale marker */
    hk_test_rw_stop(&t);

    struct hk_rw_queue *q = hk_test_rw_queue(dir, "t");
    uint64_t pos = hk_rw_queue_committed(q);
    struct hk_buf b;
    struct hk_rw_qrec qr;
    hk_buf_init(&b, 0);
    int nrec = 0, stale = 0;
    size_t counts[3] = {0};
    uint64_t groups[3] = {0};
    while (hk_rw_queue_read(q, &pos, &b, &qr) == 1) {
        struct hk_rw_record rec;
        struct hk_rw_payload_info info;
        assert_true(nrec < 3);
        decode_payload(&b, &qr, HK_RW_V2, &info, &rec);
        groups[nrec] = info.group;
        counts[nrec] = rec.nsamples;
        for (size_t i = 0; i < rec.nsamples; i++) {
            const struct hk_rw_sample *s = &rec.samples[i];
            /* sorted, __name__ first, external cluster, own job kept on cpu 0 */
            for (uint32_t k = 1; k < s->nlabels; k++)
                assert_true(strcmp(s->labels[k - 1].name, s->labels[k].name) < 0);
            assert_string_equal(s->labels[0].name, "__name__");
            assert_string_equal(s->labels[0].value, "test_seconds_total");
            const char *cpu = hk_labels_get(s->labels, s->nlabels, "cpu");
            assert_non_null(cpu);
            assert_string_not_equal(cpu, "2");
            assert_string_equal(hk_labels_get(s->labels, s->nlabels, "cluster"), "c1");
            assert_string_equal(hk_labels_get(s->labels, s->nlabels, "job"),
                                strcmp(cpu, "0") == 0 ? "own" : "ext");
            assert_non_null(s->family);
            assert_string_equal(s->family->unit, "seconds");
            uint64_t bits;
            memcpy(&bits, &s->value, 8);
            if (bits == HK_STALE_NAN_BITS) {
                stale++;
                assert_string_equal(cpu, "1");
                assert_int_equal(s->ts_ms, 2000000);
            }
        }
        hk_rw_record_free(&rec);
        nrec++;
    }
    assert_int_equal(nrec, 3);
    assert_int_equal(counts[0], 2); /* cpu 0, 1 */
    assert_int_equal(counts[1], 2); /* cpu 0 + stale cpu 1 */
    assert_int_equal(counts[2], 1);
    assert_int_equal(stale, 1);
    /* one record per snapshot here, each its own group */
    assert_true(groups[0] != groups[1] && groups[1] != groups[2] && groups[0] != groups[2]);
    hk_buf_free(&b);
    hk_rw_queue_close(q);
    hk_test_rmtree(dir);
}

/* target_labels: kube-prometheus through the whole pipeline: each family's target comes from
 * the snapshot (its name and the collector that emitted it: a textfile family is node_exporter's
 * whatever its name), the identity from NODE_NAME / POD_NAMESPACE / POD_NAME, and
 * write_relabel_configs see the result (here: rewriting hakari's own job). */
static void test_kube_prometheus_targets(void **state)
{
    (void)state;
    char dir[] = "/tmp/hk-rwp-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char yml[1000];
    snprintf(yml, sizeof(yml),
             "global:\n  target_labels: kube-prometheus\n"
             "  external_labels: {cluster: c1, job: ext}\n"
             "remote_write:\n  - url: http://127.0.0.1:1/api/v1/write\n    name: t\n"
             "    metadata_config: {send: false}\n"
             "    protobuf_message: io.prometheus.write.v2.Request\n"
             "    write_relabel_configs:\n"
             "      - {source_labels: [job], regex: hakari, target_label: job, replacement: me}\n"
             "    queue_config: {disk_path: %s/q, batch_send_deadline: 1h, min_backoff: 1h,"
             " max_backoff: 1h}\n",
             dir);
    setenv("NODE_NAME", "n1", 1);
    setenv("POD_NAMESPACE", "monitoring", 1);
    setenv("POD_NAME", "hakari-abc", 1);
    struct hk_test_rw t;
    hk_test_rw_start(&t, dir, yml);

    static const char *const no_labels[] = {NULL};
    static const char *const pod_labels[] = {"namespace", "pod", NULL};
    static const struct hk_metric_desc node_d = {"node_load1", "1m load average.", HK_METRIC_GAUGE,
                                                 NULL, no_labels};
    static const struct hk_metric_desc tf_d = {"backup_ok", "Backup ok.", HK_METRIC_GAUGE, NULL,
                                               no_labels};
    static const struct hk_metric_desc c_d = {"container_memory_rss", "RSS.", HK_METRIC_GAUGE,
                                              "bytes", pod_labels};
    static const struct hk_metric_desc h_d = {"hakari_up", "Up.", HK_METRIC_GAUGE, NULL, no_labels};
    struct hk_limits lim = {0};
    struct hk_builder *b = hk_builder_new(&lim);
    const char *pv[] = {"shop", "web-1"};
    hk_builder_begin(b, "loadavg");
    assert_int_equal(hk_emit(b, &node_d, NULL, 1.5), 0);
    hk_builder_commit(b);
    hk_builder_begin(b, "textfile");
    assert_int_equal(hk_emit(b, &tf_d, NULL, 1), 0);
    hk_builder_commit(b);
    hk_builder_begin(b, "cgroup");
    assert_int_equal(hk_emit(b, &c_d, pv, 4096), 0);
    hk_builder_commit(b);
    hk_builder_begin(b, "self");
    assert_int_equal(hk_emit(b, &h_d, NULL, 1), 0);
    hk_builder_commit(b);
    hk_registry_publish(t.reg, hk_builder_seal(b, 1000000, NULL));
    hk_test_rw_stop(&t);
    unsetenv("POD_NAMESPACE");
    unsetenv("POD_NAME");
    unsetenv("NODE_NAME");

    /* Every label set, as name=value pairs joined by commas, by series name. */
    static const char *const want[][2] = {
        {"backup_ok", "__name__=backup_ok,cluster=c1,instance=n1,job=node-exporter,"
                      "namespace=monitoring,pod=hakari-abc"},
        {"container_memory_rss", "__name__=container_memory_rss,cluster=c1,instance=n1,job=kubelet,"
                                 "metrics_path=/metrics/cadvisor,namespace=shop,node=n1,pod=web-1"},
        {"hakari_up", "__name__=hakari_up,cluster=c1,instance=n1,job=me,namespace=monitoring,"
                      "pod=hakari-abc"},
        {"node_load1", "__name__=node_load1,cluster=c1,instance=n1,job=node-exporter,"
                       "namespace=monitoring,pod=hakari-abc"},
    };
    struct hk_rw_queue *q = hk_test_rw_queue(dir, "t");
    uint64_t pos = hk_rw_queue_committed(q);
    struct hk_buf qb;
    struct hk_rw_qrec qr;
    hk_buf_init(&qb, 0);
    size_t seen = 0;
    while (hk_rw_queue_read(q, &pos, &qb, &qr) == 1) {
        struct hk_rw_record rec;
        struct hk_rw_payload_info info;
        decode_payload(&qb, &qr, HK_RW_V2, &info, &rec);
        for (size_t i = 0; i < rec.nsamples; i++) {
            const struct hk_rw_sample *s = &rec.samples[i];
            char got[512] = "";
            size_t g = 0;
            for (uint32_t k = 0; k < s->nlabels; k++) {
                int w = snprintf(got + g, sizeof(got) - g, "%s%s=%s", k ? "," : "",
                                 s->labels[k].name, s->labels[k].value);
                assert_true(w > 0 && (size_t)w < sizeof(got) - g);
                g += (size_t)w;
            }
            const char *name = hk_labels_get(s->labels, s->nlabels, "__name__");
            assert_non_null(name);
            bool found = false;
            for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++)
                if (strcmp(want[k][0], name) == 0) {
                    found = true;
                    if (strcmp(want[k][1], got) != 0)
                        fail_msg("%s:\n got  %s\n want %s", name, got, want[k][1]);
                }
            assert_true(found);
            seen++;
        }
        hk_rw_record_free(&rec);
    }
    assert_int_equal(seen, 4);
    hk_buf_free(&qb);
    hk_rw_queue_close(q);
    hk_test_rmtree(dir);
}

/* Remote-write 1.0 without rules (the path that encodes through label shapes, rw_shape.h):
 * families of many label layouts (more than the endpoint remembers, some values empty, own
 * labels colliding with target and external labels, names sorting before __name__) in three
 * snapshots with series vanishing and coming back, split into requests of 3 samples. The queue,
 * read in order, holds for each snapshot a stale marker for each series of the previous snapshot
 * that is gone, then exactly its series, with the merged labels (rw_targets, tested on its own). */
static const char *const l_cpu_mode[] = {"cpu", "mode", NULL};
static const char *const l_inst_zone[] = {"instance", "zone", NULL};
static const char *const l_none[] = {NULL};
static const char *const l_upper_job[] = {"A_upper", "job", NULL};
static const char *const l_three[] = {"x1", "x2", "x3", NULL};
static const char *const l_cluster[] = {"cluster", "pod", NULL};
static const struct hk_metric_desc shape_descs[] = {
    {"node_a", "A.", HK_METRIC_GAUGE, NULL, l_cpu_mode},
    {"node_b", "B.", HK_METRIC_GAUGE, NULL, l_inst_zone},
    {"c_metric", "C.", HK_METRIC_GAUGE, NULL, l_none},
    {"d_metric", "D.", HK_METRIC_GAUGE, NULL, l_upper_job},
    {"container_e", "E.", HK_METRIC_GAUGE, NULL, l_three},
    {"container_f", "F.", HK_METRIC_GAUGE, "bytes", l_cluster},
    {"hakari_g", "G.", HK_METRIC_COUNTER, NULL, l_cpu_mode},
};
#define NSHAPE_DESCS (sizeof(shape_descs) / sizeof(shape_descs[0]))

/* Cycle c's snapshot: family k's series i (some left out in cycle 1, some values empty). */
static struct hk_snapshot *shapes_snap(int c, int64_t ts)
{
    struct hk_limits lim = {0};
    struct hk_builder *b = hk_builder_new(&lim);
    hk_builder_begin(b, "textfile");
    for (size_t k = 0; k < NSHAPE_DESCS; k++) {
        for (int i = 0; i < 4; i++) {
            if (c == 1 && (k == 3 || (k == 0 && i == 2)))
                continue; /* vanish in cycle 1, back in cycle 2 */
            char v0[16], v1[16], v2[16];
            snprintf(v0, sizeof(v0), "%d", i);
            snprintf(v1, sizeof(v1), "v%zu-%d", k, i);
            snprintf(v2, sizeof(v2), "w%d", i * 7);
            const char *v[] = {v0, i == 1 ? "" : v1, i == 3 ? "" : v2};
            assert_int_equal(hk_emit(b, &shape_descs[k], v, (double)(c * 100 + i)), 0);
        }
    }
    hk_builder_commit(b);
    return hk_builder_seal(b, ts, NULL);
}

struct want_sample {
    struct hk_label labels[32];
    size_t n;
    uint64_t value_bits;
    int64_t ts;
};

static size_t want_add(struct want_sample *w, size_t nw, const struct hk_rw_targets *t,
                       const struct hk_snapshot *snap, const struct hk_series *s, double value,
                       int64_t ts)
{
    struct want_sample *x = &w[nw];
    enum hk_target k = (enum hk_target)snap->families[s->family].target;
    assert_true(s->nlabels + 1 + t->nadd[k] <= 32);
    x->n = hk_rw_targets_merge(t, k, s->name, s->labels, s->nlabels, x->labels);
    memcpy(&x->value_bits, &value, 8);
    x->ts = ts;
    return nw + 1;
}

static void test_v1_shapes(void **state)
{
    (void)state;
    char dir[] = "/tmp/hk-rwp-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char yml[1000];
    snprintf(yml, sizeof(yml),
             "global:\n  target_labels: kube-prometheus\n"
             "  external_labels: {cluster: c1, zone: ext}\n"
             "remote_write:\n  - url: http://127.0.0.1:1/api/v1/write\n    name: t\n"
             "    metadata_config: {send: false}\n"
             "    queue_config: {disk_path: %s/q, max_samples_per_send: 3,"
             " batch_send_deadline: 1h, min_backoff: 1h, max_backoff: 1h}\n",
             dir);
    setenv("NODE_NAME", "n1", 1);
    setenv("POD_NAMESPACE", "monitoring", 1);
    setenv("POD_NAME", "hakari-abc", 1);
    struct hk_rw_targets t;
    const struct hk_label ext[] = {{"cluster", "c1"}, {"zone", "ext"}};
    struct hk_rw_identity id = {"n1", "monitoring", "hakari-abc"};
    assert_int_equal(hk_rw_targets_build(&t, HK_TARGET_LABELS_KUBE_PROMETHEUS, ext, 2, &id), 0);
    struct hk_test_rw tr;
    hk_test_rw_start(&tr, dir, yml);
    struct hk_snapshot *snaps[3];
    for (int c = 0; c < 3; c++) {
        snaps[c] = shapes_snap(c, 1000000 + 1000 * c);
        hk_registry_publish(tr.reg, hk_snapshot_ref(snaps[c]));
    }
    hk_test_rw_stop(&tr);
    unsetenv("POD_NAMESPACE");
    unsetenv("POD_NAME");
    unsetenv("NODE_NAME");

    /* What the queue must hold, in order. */
    static struct want_sample want[256];
    size_t nw = 0;
    double stale;
    uint64_t bits = HK_STALE_NAN_BITS;
    memcpy(&stale, &bits, sizeof(stale));
    for (int c = 0; c < 3; c++) {
        const struct hk_snapshot *snap = snaps[c];
        const struct hk_snapshot *prev = c ? snaps[c - 1] : NULL;
        for (size_t i = 0; prev && i < prev->nseries; i++) {
            bool present = false;
            for (size_t j = 0; j < snap->nseries; j++)
                present = present || snap->series[j].hash == prev->series[i].hash;
            if (!present)
                nw = want_add(want, nw, &t, prev, &prev->series[i], stale, snap->ts_ms);
        }
        for (size_t i = 0; i < snap->nseries; i++)
            nw = want_add(want, nw, &t, snap, &snap->series[i], snap->series[i].value, snap->ts_ms);
    }
    /* 7 families x 4 (c_metric, without labels, is one series); 5 gone in cycle 1 (stale
     * markers), back in cycle 2. */
    assert_int_equal(snaps[0]->nseries, 25);
    assert_int_equal(snaps[1]->nseries, 20);
    assert_int_equal(nw, 25 + 20 + 5 + 25);

    struct hk_rw_queue *q = hk_test_rw_queue(dir, "t");
    uint64_t pos = hk_rw_queue_committed(q);
    struct hk_buf b;
    struct hk_rw_qrec qr;
    hk_buf_init(&b, 0);
    size_t got = 0, nrec = 0;
    while (hk_rw_queue_read(q, &pos, &b, &qr) == 1) {
        struct hk_rw_record rec;
        struct hk_rw_payload_info info;
        decode_payload(&b, &qr, HK_RW_V1, &info, &rec);
        assert_true(rec.nsamples >= 1 && rec.nsamples <= 3);
        for (size_t i = 0; i < rec.nsamples; i++, got++) {
            const struct hk_rw_sample *s = &rec.samples[i];
            assert_true(got < nw);
            const struct want_sample *w = &want[got];
            assert_int_equal(s->nlabels, w->n);
            for (size_t k = 0; k < w->n; k++) {
                assert_string_equal(s->labels[k].name, w->labels[k].name);
                assert_string_equal(s->labels[k].value, w->labels[k].value);
            }
            uint64_t vb;
            memcpy(&vb, &s->value, 8);
            assert_int_equal(vb, w->value_bits);
            assert_int_equal(s->ts_ms, w->ts);
        }
        hk_rw_record_free(&rec);
        nrec++;
    }
    assert_int_equal(got, nw);
    assert_true(nrec >= nw / 3);
    hk_buf_free(&b);
    hk_rw_queue_close(q);
    for (int c = 0; c < 3; c++)
        hk_snapshot_unref(snaps[c]);
    hk_rw_targets_free(&t);
    hk_test_rmtree(dir);
}

int main(void)
{
    hk_log_setup(HK_LOG_ERROR, HK_LOG_LOGFMT);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_pipeline),
                                       cmocka_unit_test(test_kube_prometheus_targets),
                                       cmocka_unit_test(test_v1_shapes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
