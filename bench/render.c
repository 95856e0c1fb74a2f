/* SPDX-License-Identifier: Apache-2.0 */
/* Exposition render benchmark: a synthetic snapshot of N series with cAdvisor-like label sets
 * (container, id, image, name, namespace, pod, plus cpu/interface/device on some families) built
 * through the real builder, then rendered as text 0.0.4, OpenMetrics, and text + gzip (level 1,
 * as the HTTP server does) and the protobuf exposition (exporter/protofmt.c); with "node" as third
 * argument, node_exporter-shaped series with short
 * label sets instead. Prints samples per CPU-second for each (thread CPU time, so a busy
 * shared machine does not skew it). usage: render [series] [min_cpu_seconds] [node] */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "core/snapshot.h"
#include "exporter/protofmt.h"
#include "exporter/textfmt.h"

/* CPU time of this thread: the machine the benchmark runs on is shared, and wall time there
 * measures the neighbours as much as us. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const base[] = {"container", "id", "image", "name", "namespace", "pod", NULL};
static const char *const with_cpu[] = {"container", "cpu", "id", "image", "name", "namespace",
                                       "pod", NULL};
static const char *const with_if[] = {"container", "id", "image", "interface", "name",
                                      "namespace", "pod", NULL};
static const char *const with_dev[] = {"container", "device", "id", "image", "major", "minor",
                                       "name", "namespace", "operation", "pod", NULL};

#define F(n, t, l) {n, "cAdvisor-like family " n ".", t, "", l}
static const struct hk_metric_desc fams[] = {
    F("container_cpu_usage_seconds_total", HK_METRIC_COUNTER, with_cpu),
    F("container_cpu_user_seconds_total", HK_METRIC_COUNTER, base),
    F("container_cpu_system_seconds_total", HK_METRIC_COUNTER, base),
    F("container_cpu_cfs_periods_total", HK_METRIC_COUNTER, base),
    F("container_cpu_cfs_throttled_periods_total", HK_METRIC_COUNTER, base),
    F("container_cpu_cfs_throttled_seconds_total", HK_METRIC_COUNTER, base),
    F("container_memory_usage_bytes", HK_METRIC_GAUGE, base),
    F("container_memory_working_set_bytes", HK_METRIC_GAUGE, base),
    F("container_memory_rss", HK_METRIC_GAUGE, base),
    F("container_memory_cache", HK_METRIC_GAUGE, base),
    F("container_memory_swap", HK_METRIC_GAUGE, base),
    F("container_memory_mapped_file", HK_METRIC_GAUGE, base),
    F("container_memory_failcnt", HK_METRIC_COUNTER, base),
    F("container_memory_max_usage_bytes", HK_METRIC_GAUGE, base),
    F("container_spec_memory_limit_bytes", HK_METRIC_GAUGE, base),
    F("container_spec_cpu_shares", HK_METRIC_GAUGE, base),
    F("container_spec_cpu_quota", HK_METRIC_GAUGE, base),
    F("container_spec_cpu_period", HK_METRIC_GAUGE, base),
    F("container_last_seen", HK_METRIC_GAUGE, base),
    F("container_start_time_seconds", HK_METRIC_GAUGE, base),
    F("container_processes", HK_METRIC_GAUGE, base),
    F("container_threads", HK_METRIC_GAUGE, base),
    F("container_file_descriptors", HK_METRIC_GAUGE, base),
    F("container_oom_events_total", HK_METRIC_COUNTER, base),
    F("container_network_receive_bytes_total", HK_METRIC_COUNTER, with_if),
    F("container_network_transmit_bytes_total", HK_METRIC_COUNTER, with_if),
    F("container_network_receive_packets_total", HK_METRIC_COUNTER, with_if),
    F("container_network_transmit_packets_total", HK_METRIC_COUNTER, with_if),
    F("container_network_receive_errors_total", HK_METRIC_COUNTER, with_if),
    F("container_network_transmit_errors_total", HK_METRIC_COUNTER, with_if),
    F("container_blkio_device_usage_total", HK_METRIC_COUNTER, with_dev),
    F("container_fs_reads_bytes_total", HK_METRIC_COUNTER, with_dev),
    F("container_fs_writes_bytes_total", HK_METRIC_COUNTER, with_dev),
};
#define NFAMS (sizeof(fams) / sizeof(fams[0]))

static struct hk_snapshot *build(size_t want, double *ret_build_s)
{
    double t0 = now_s();
    struct hk_builder *b = hk_builder_new(NULL);
    if (!b)
        return NULL;
    hk_builder_begin(b, "synthetic");
    size_t n = 0;
    uint64_t x = 88172645463325252ULL;
    for (size_t c = 0; n < want; c++) {
        char pod[64], ns[32], name[192], id[192], image[96], cont[32];
        snprintf(ns, sizeof(ns), "team-%zu", c % 40);
        snprintf(pod, sizeof(pod), "checkout-api-7d9f8b6c5d-%05zx", c);
        snprintf(cont, sizeof(cont), "app-%zu", c % 3);
        snprintf(name, sizeof(name), "k8s_%s_%s_%s_0f3c9a2e-1b7d-4c55-9e8a-%012zx_0", cont, pod, ns,
                 c);
        snprintf(id, sizeof(id),
                 "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f3c9a2e_1b7d_"
                 "4c55_9e8a_%012zx.slice/cri-containerd-%016zx.scope",
                 c, c * 2654435761u);
        snprintf(image, sizeof(image), "registry.example.com/payments/checkout-api:v1.%zu.%zu",
                 c % 17, c % 5);
        for (size_t f = 0; f < NFAMS && n < want; f++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            /* Half integers (bytes, counts), half fractional (seconds). */
            double v = (x & 1) ? (double)(x >> 20) : (double)(x >> 30) / 1024.0;
            const char *vals[10];
            const char *const *ln = fams[f].label_names;
            for (size_t i = 0; ln[i]; i++) {
                const char *l = ln[i];
                vals[i] = !strcmp(l, "container") ? cont
                          : !strcmp(l, "id")      ? id
                          : !strcmp(l, "image")   ? image
                          : !strcmp(l, "name")    ? name
                          : !strcmp(l, "namespace") ? ns
                          : !strcmp(l, "pod")     ? pod
                          : !strcmp(l, "cpu")     ? "total"
                          : !strcmp(l, "interface") ? "eth0"
                          : !strcmp(l, "device")  ? "/dev/nvme0n1"
                          : !strcmp(l, "major")   ? "259"
                          : !strcmp(l, "minor")   ? "0"
                          : !strcmp(l, "operation") ? "Read"
                                                  : "";
            }
            if (hk_emit(b, &fams[f], vals, v) == 0)
                n++;
        }
    }
    hk_builder_commit(b);
    struct hk_snapshot *s = hk_builder_seal(b, 1700000000000, NULL);
    *ret_build_s = now_s() - t0;
    return s;
}

/* node_exporter-shaped: short label sets (node_cpu_seconds_total{cpu,mode}, node_network_*
 * {device}, node_filesystem_*{device,fstype,mountpoint}), for comparison with label-heavy
 * container series. */
static struct hk_snapshot *build_node(size_t want, double *ret_build_s)
{
    static const char *const cpu_mode[] = {"cpu", "mode", NULL};
    static const char *const dev[] = {"device", NULL};
    static const char *const fs[] = {"device", "fstype", "mountpoint", NULL};
    static const struct hk_metric_desc d_cpu = {"node_cpu_seconds_total", "CPU seconds.",
                                                HK_METRIC_COUNTER, "seconds", cpu_mode};
    static const struct hk_metric_desc d_net = {"node_network_receive_bytes_total", "Bytes.",
                                                HK_METRIC_COUNTER, "bytes", dev};
    static const struct hk_metric_desc d_fs = {"node_filesystem_avail_bytes", "Bytes.",
                                               HK_METRIC_GAUGE, "bytes", fs};
    static const char *const modes[] = {"user", "nice", "system", "idle", "iowait", "irq",
                                        "softirq", "steal"};
    double t0 = now_s();
    struct hk_builder *b = hk_builder_new(NULL);
    if (!b)
        return NULL;
    hk_builder_begin(b, "synthetic");
    size_t n = 0;
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; n < want; i++) {
        char a[32], c[64];
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v = (x & 1) ? (double)(x >> 20) : (double)(x >> 30) / 1024.0;
        int r;
        if (i % 3 == 0) {
            snprintf(a, sizeof(a), "%zu", i / 24);
            const char *vals[] = {a, modes[(i / 3) % 8]};
            r = hk_emit(b, &d_cpu, vals, v);
        } else if (i % 3 == 1) {
            snprintf(a, sizeof(a), "veth%zx", i);
            const char *vals[] = {a};
            r = hk_emit(b, &d_net, vals, v);
        } else {
            snprintf(a, sizeof(a), "/dev/sd%zx", i);
            snprintf(c, sizeof(c), "/var/lib/kubelet/pods/%zx", i);
            const char *vals[] = {a, "ext4", c};
            r = hk_emit(b, &d_fs, vals, v);
        }
        if (r == 0)
            n++;
    }
    hk_builder_commit(b);
    struct hk_snapshot *s = hk_builder_seal(b, 1700000000000, NULL);
    *ret_build_s = now_s() - t0;
    return s;
}

/* Renders repeatedly for at least min_s (and 3 times); returns seconds per render. fresh: a new
 * buffer each time (what a scrape of a new snapshot pays, page faults included); else one warm
 * buffer is reused (the renderer alone). */
/* fmt HK_RENDER_PROTOBUF: the protobuf exposition instead of a text format. */
#define HK_RENDER_PROTOBUF ((enum hk_textfmt)99)

static int render(const struct hk_snapshot *s, enum hk_textfmt fmt, struct hk_buf *b)
{
    if (fmt == HK_RENDER_PROTOBUF)
        return hk_protofmt_render(s, HK_TEXTFMT_ALL_TARGETS, b);
    return hk_textfmt_render(s, fmt, b);
}

static double time_render(const struct hk_snapshot *s, enum hk_textfmt fmt, double min_s,
                          bool fresh, size_t *ret_bytes)
{
    int iters = 0;
    struct hk_buf b;
    hk_buf_init(&b, 0);
    if (!fresh)
        render(s, fmt, &b);
    double t0 = now_s(), el;
    do {
        if (fresh) {
            hk_buf_free(&b);
            hk_buf_init(&b, 0);
        } else {
            hk_buf_reset(&b);
        }
        if (render(s, fmt, &b) < 0) {
            fprintf(stderr, "render failed\n");
            exit(1);
        }
        *ret_bytes = b.len;
        iters++;
        el = now_s() - t0;
    } while (el < min_s || iters < 3);
    hk_buf_free(&b);
    return el / iters;
}

static double time_gzip(const struct hk_snapshot *s, double min_s, size_t *ret_gz)
{
    int iters = 0;
    double t0 = now_s(), el;
    do {
        struct hk_buf b;
        hk_buf_init(&b, 0);
        hk_textfmt_render(s, HK_TEXTFMT_TEXT, &b);
        z_stream zs = {0};
        deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
        uLong bound = deflateBound(&zs, (uLong)b.len);
        unsigned char *out = malloc(bound);
        if (!out)
            exit(1);
        zs.next_in = (Bytef *)b.data;
        zs.avail_in = (uInt)b.len;
        zs.next_out = out;
        zs.avail_out = (uInt)bound;
        if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
            exit(1);
        *ret_gz = zs.total_out;
        deflateEnd(&zs);
        free(out);
        hk_buf_free(&b);
        iters++;
        el = now_s() - t0;
    } while (el < min_s || iters < 3);
    return el / iters;
}

int main(int argc, char **argv)
{
    size_t want = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    bool node = argc > 3 && strcmp(argv[3], "node") == 0;
    double min_s = argc > 2 ? strtod(argv[2], NULL) : 2.0;
    double build_s;
    struct hk_snapshot *s = node ? build_node(want, &build_s) : build(want, &build_s);
    if (!s)
        return 1;
    printf("%s snapshot: %zu series in %zu families, built+sealed in %.1f ms (%.2f M series/s)\n",
           node ? "node_exporter-shaped" : "cAdvisor-shaped", s->nseries, s->nfamilies, build_s * 1e3, (double)s->nseries / build_s / 1e6);
    size_t bytes;
    static const struct {
        const char *name;
        enum hk_textfmt fmt;
        bool fresh;
    } runs[] = {
        {"text 0.0.4, fresh buffer  ", HK_TEXTFMT_TEXT, true},
        {"text 0.0.4, warm buffer   ", HK_TEXTFMT_TEXT, false},
        {"OpenMetrics, fresh buffer ", HK_TEXTFMT_OPENMETRICS, true},
        {"OpenMetrics, warm buffer  ", HK_TEXTFMT_OPENMETRICS, false},
        {"protobuf, fresh buffer    ", HK_RENDER_PROTOBUF, true},
        {"protobuf, warm buffer     ", HK_RENDER_PROTOBUF, false},
    };
    double t;
    for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        t = time_render(s, runs[i].fmt, min_s, runs[i].fresh, &bytes);
        printf("render %s %7.1f ms  %5.1f MB  %6.2f M samples/s  %7.1f MB/s  %5.3f us/sample\n",
               runs[i].name, t * 1e3, (double)bytes / 1e6, (double)s->nseries / t / 1e6,
               (double)bytes / t / 1e6, t * 1e6 / (double)s->nseries);
    }
    size_t gz;
    t = time_gzip(s, min_s, &gz);
    printf("render text + gzip-1, fresh %7.1f ms  %5.1f MB  %6.2f M samples/s  (%.1fx smaller)\n",
           t * 1e3, (double)gz / 1e6, (double)s->nseries / t / 1e6, (double)bytes / (double)gz);
    hk_snapshot_unref(s);
    return 0;
}
