/* SPDX-License-Identifier: Apache-2.0 */
/* Native vs classic histograms (issue 15) on a synthetic 200-container node: the eBPF latency
 * families as the collectors emit them (hk_emit_native_histogram with the collectors' schema,
 * zero threshold and classic le ranges: run-queue per container, block I/O per container ×
 * 2 devices × 2 operations, syscalls per container), next to 30 cAdvisor-like counters per
 * container. Prints, for the latency families and for the whole snapshot:
 *   - series a backend stores per scrape: text format (classic: _bucket per le, _sum, _count)
 *     vs protobuf with native histograms (one series per histogram), and the bodies' bytes;
 *   - series and bytes per remote-written cycle: 1.0 requests (snappy), default vs
 *     send_native_histograms: true, built the way the pipeline builds them;
 *   - CPU cost of rendering the protobuf body per sample (thread CPU time, many rounds) and of
 *     encoding native histograms for remote write.
 * usage: nhist_bench [containers] [min_cpu_seconds] */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/snapshot.h"
#include "exporter/protofmt.h"
#include "exporter/rw_encode.h"
#include "exporter/rw_nhist.h"
#include "exporter/textfmt.h"

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t xs(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static const char *const base[] = {"container", "id", "image", "name", "namespace", "pod", NULL};
static const char *const blk[] = {"container", "device", "id",  "image", "name",
                                  "namespace", "op",     "pod", NULL};
static const struct hk_metric_desc d_rq = {"container_cpu_runqueue_latency_seconds",
                                           "Run-queue latency.", HK_METRIC_HISTOGRAM, "seconds",
                                           base};
static const struct hk_metric_desc d_blk = {"container_blkio_latency_seconds", "Block I/O latency.",
                                            HK_METRIC_HISTOGRAM, "seconds", blk};
static const struct hk_metric_desc d_sys = {"container_syscall_latency_seconds",
                                            "System call latency.", HK_METRIC_HISTOGRAM, "seconds",
                                            base};
#define NCOUNTERS 30
static char counter_names[NCOUNTERS][64];
static struct hk_metric_desc d_ctr[NCOUNTERS];

static bool is_latency(const char *family)
{
    return strcmp(family, d_rq.name) == 0 || strcmp(family, d_blk.name) == 0 ||
           strcmp(family, d_sys.name) == 0;
}

/* A latency histogram with a realistic shape: observations spread over `decades` powers of two
 * around 2^center seconds (schema 3: 8 buckets each), a few in the zero bucket. */
static int emit_lat(struct hk_builder *b, const struct hk_metric_desc *d, const char *const *v,
                    int center, int width, int lo, int hi, uint64_t *seed)
{
    uint64_t counts[8 * 16];
    size_t n = (size_t)width * 8;
    double sum = 0;
    int32_t first = (center - width / 2) * 8;
    for (size_t k = 0; k < n; k++) {
        double x = ((double)k - (double)n / 2) / ((double)n / 4);
        counts[k] = (uint64_t)(1e5 * exp(-x * x)) + xs(seed) % 50;
        if (xs(seed) % 7 == 0)
            counts[k] = 0; /* a few empty buckets: gaps in the spans */
        sum += (double)counts[k] * ldexp(1, (first + (int32_t)k) / 8);
    }
    struct hk_nhist_in in = {.schema = 3,
                             .zero_threshold = 0x1p-22,
                             .zero_count = xs(seed) % 10,
                             .first_index = first,
                             .counts = counts,
                             .ncounts = n,
                             .sum = sum,
                             .classic_lo = lo,
                             .classic_hi = hi};
    return hk_emit_native_histogram(b, d, v, &in);
}

static struct hk_snapshot *build(int containers)
{
    struct hk_builder *b = hk_builder_new(NULL);
    uint64_t seed = 0x2545F4914F6CDD1DULL;
    hk_builder_begin(b, "ebpf");
    for (int c = 0; c < containers; c++) {
        char ctr[32], id[128], image[96], name[64], ns[32], pod[64];
        snprintf(ctr, sizeof(ctr), "app-%d", c % 3);
        snprintf(pod, sizeof(pod), "web-%d-7f9c8d6b5-x%04d", c / 3, c);
        snprintf(ns, sizeof(ns), "team-%d", c % 12);
        snprintf(id, sizeof(id),
                 "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%08x_%04x.slice/"
                 "cri-containerd-%016llx.scope",
                 c * 2654435761u, c, (unsigned long long)(c * 0x9e3779b97f4a7c15ULL));
        snprintf(image, sizeof(image), "registry.example.com/team/app-%d:1.%d.3", c % 3, c % 7);
        snprintf(name, sizeof(name), "%016llx", (unsigned long long)(c * 0x9e3779b97f4a7c15ULL));
        const char *v[] = {ctr, id, image, name, ns, pod};
        /* run-queue: µs to ms; le 2^-20 … 2^0 s (ebpf_sched.c) */
        if (emit_lat(b, &d_rq, v, -14 + (int)(xs(&seed) % 4), 8, -20, 0, &seed) < 0)
            return NULL;
        /* syscalls: 100s of ns to ms; le 2^-22 … 2^0 s (ebpf_syscalls.c) */
        if (emit_lat(b, &d_sys, v, -16 + (int)(xs(&seed) % 4), 10, -22, 0, &seed) < 0)
            return NULL;
        /* block I/O: 2 devices × read/write, 50 µs to 50 ms; le 2^-20 … 2^3 s (ebpf_blk.c) */
        for (int dv = 0; dv < 2; dv++)
            for (int op = 0; op < 2; op++) {
                const char *vv[] = {ctr, dv ? "nvme1n1" : "nvme0n1", id, image, name,
                                    ns,  op ? "write" : "read",      pod};
                if (emit_lat(b, &d_blk, vv, -10 + (int)(xs(&seed) % 3), 9, -20, 3, &seed) < 0)
                    return NULL;
            }
    }
    hk_builder_commit(b);
    hk_builder_begin(b, "cgroup");
    for (int c = 0; c < containers; c++) {
        char ctr[32], id[128], pod[64], ns[32];
        snprintf(ctr, sizeof(ctr), "app-%d", c % 3);
        snprintf(pod, sizeof(pod), "web-%d-7f9c8d6b5-x%04d", c / 3, c);
        snprintf(ns, sizeof(ns), "team-%d", c % 12);
        snprintf(id, sizeof(id), "/kubepods/pod%08x/%04x", c * 2654435761u, c);
        const char *v[] = {ctr, id, "registry.example.com/team/app:1", "n", ns, pod};
        for (int k = 0; k < NCOUNTERS; k++)
            if (hk_emit(b, &d_ctr[k], v, (double)(xs(&seed) % 1000000)) < 0)
                return NULL;
    }
    hk_builder_commit(b);
    return hk_builder_seal(b, 1700000000000, NULL);
}

/* The outgoing samples of one remote-write cycle as the pipeline makes them (rw.c ingest_step):
 * __name__ + the series' labels; with native, a histogram with a native form goes once in the
 * place of its _count series and its other series are skipped. */
struct cycle {
    struct hk_rw_sample *s;
    const struct hk_rw_sample **p;
    struct hk_label *labels;
    size_t n, latency;
};

static void make_cycle(const struct hk_snapshot *snap, bool native, bool latency_only,
                       struct cycle *c)
{
    size_t nl = 0;
    for (size_t i = 0; i < snap->nseries; i++)
        nl += snap->series[i].nlabels + 1;
    c->s = calloc(snap->nseries, sizeof(*c->s));
    c->p = calloc(snap->nseries, sizeof(*c->p));
    c->labels = calloc(nl, sizeof(*c->labels));
    c->n = c->latency = 0;
    struct hk_rw_nhist_cursor cur;
    hk_rw_nhist_cursor_init(&cur, snap);
    size_t li = 0;
    for (size_t i = 0; i < snap->nseries; i++) {
        const struct hk_series *s = &snap->series[i];
        const struct hk_family *f = &snap->families[s->family];
        bool at_count = false;
        const struct hk_nhist *nh = native ? hk_rw_nhist_cursor_at(&cur, i, &at_count) : NULL;
        if ((nh && !at_count) || (latency_only && !is_latency(f->name)))
            continue;
        struct hk_label *l = &c->labels[li];
        l[0] = (struct hk_label){"__name__", nh ? f->name : s->name};
        for (uint32_t k = 0; k < s->nlabels; k++)
            l[k + 1] = s->labels[k];
        li += s->nlabels + 1;
        c->s[c->n] = (struct hk_rw_sample){l,           s->nlabels + 1, NULL, s->value,
                                           snap->ts_ms, s->hash,        NULL, nh};
        c->p[c->n] = &c->s[c->n];
        c->n++;
        c->latency += is_latency(f->name);
    }
}

static void free_cycle(struct cycle *c)
{
    free(c->s);
    free(c->p);
    free(c->labels);
}

/* 1.0 requests of at most 2000 samples (max_samples_per_send's default), snappy: total bytes
 * before and after compression. */
static void rw_bytes(const struct cycle *c, size_t *raw, size_t *snappy)
{
    struct hk_buf pb, z;
    hk_buf_init(&pb, 0);
    hk_buf_init(&z, 0);
    *raw = *snappy = 0;
    for (size_t i = 0; i < c->n; i += 2000) {
        size_t n = c->n - i < 2000 ? c->n - i : 2000;
        hk_buf_reset(&pb);
        if (hk_rw_encode_v1(c->p + i, n, &pb) < 0 || hk_rw_snappy_compress(pb.data, pb.len, &z))
            exit(1);
        *raw += pb.len;
        *snappy += z.len;
    }
    hk_buf_free(&pb);
    hk_buf_free(&z);
}

int main(int argc, char **argv)
{
    int containers = argc > 1 ? atoi(argv[1]) : 200;
    double min_cpu = argc > 2 ? atof(argv[2]) : 1.0;
    for (int k = 0; k < NCOUNTERS; k++) {
        snprintf(counter_names[k], sizeof(counter_names[k]), "container_bench_%02d_total", k);
        d_ctr[k] = (struct hk_metric_desc){counter_names[k], "A cAdvisor-like counter.",
                                           HK_METRIC_COUNTER, "", base};
    }
    struct hk_snapshot *snap = build(containers);
    if (!snap) {
        fprintf(stderr, "cannot build the snapshot\n");
        return 1;
    }
    size_t lat_series = 0;
    for (size_t i = 0; i < snap->nseries; i++)
        lat_series += is_latency(snap->families[snap->series[i].family].name);
    size_t hists = snap->nnhists;
    printf("node: %d containers, %zu series in the snapshot, %zu of them latency-histogram "
           "series (%zu histograms)\n",
           containers, snap->nseries, lat_series, hists);

    /* ---- scrape ---- */
    struct hk_buf text, pb;
    hk_buf_init(&text, 0);
    hk_buf_init(&pb, 0);
    if (hk_textfmt_render(snap, HK_TEXTFMT_TEXT, &text) < 0 ||
        hk_protofmt_render(snap, HK_TEXTFMT_ALL_TARGETS, &pb) < 0) {
        fprintf(stderr, "render failed\n");
        return 1;
    }
    size_t other = snap->nseries - lat_series;
    printf("scrape  classic (text 0.0.4):           %7zu series stored (latency %6zu)  body %8zu "
           "bytes\n",
           snap->nseries, lat_series, text.len);
    printf("scrape  native (protobuf, 2.42 keeps native only): %7zu series stored (latency %6zu)  "
           "body %8zu bytes (native + classic buckets, as client_golang)\n",
           other + hists, hists, pb.len);
    printf("scrape  latency series ratio classic/native: %.1fx\n", (double)lat_series / hists);

    /* ---- remote write ---- */
    struct cycle cl, nt;
    make_cycle(snap, false, true, &cl);
    make_cycle(snap, true, true, &nt);
    size_t cl_raw, cl_z, nt_raw, nt_z;
    rw_bytes(&cl, &cl_raw, &cl_z);
    rw_bytes(&nt, &nt_raw, &nt_z);
    printf("rw 1.0  latency families only: classic %zu series %zu bytes snappy (%zu protobuf), "
           "native %zu series %zu bytes snappy (%zu protobuf): %.2fx fewer bytes\n",
           cl.n, cl_z, cl_raw, nt.n, nt_z, nt_raw, (double)cl_z / (double)nt_z);
    free_cycle(&cl);
    free_cycle(&nt);
    make_cycle(snap, false, false, &cl);
    make_cycle(snap, true, false, &nt);
    rw_bytes(&cl, &cl_raw, &cl_z);
    rw_bytes(&nt, &nt_raw, &nt_z);
    printf("rw 1.0  classic: %7zu series/cycle (latency %6zu)  %9zu bytes protobuf  %8zu bytes "
           "snappy\n",
           cl.n, cl.latency, cl_raw, cl_z);
    printf("rw 1.0  native:  %7zu series/cycle (latency %6zu)  %9zu bytes protobuf  %8zu bytes "
           "snappy\n",
           nt.n, nt.latency, nt_raw, nt_z);
    printf("rw      latency series ratio classic/native: %.1fx; whole cycle bytes (snappy) "
           "%.2fx smaller\n",
           (double)cl.latency / (double)nt.latency, (double)cl_z / (double)nt_z);

    /* ---- cost ---- */
    int rounds = 0;
    double t0 = cpu_s(), t;
    do {
        hk_buf_reset(&pb);
        if (hk_protofmt_render(snap, HK_TEXTFMT_ALL_TARGETS, &pb) < 0)
            return 1;
        rounds++;
    } while ((t = cpu_s() - t0) < min_cpu);
    printf("protobuf render: %.3f us/sample (%zu samples = snapshot series, %.2f ms per body, "
           "%d rounds)  target <= 0.1 us/sample\n",
           t / rounds / (double)snap->nseries * 1e6, snap->nseries, t / rounds * 1e3, rounds);
    struct hk_buf enc;
    hk_buf_init(&enc, 0);
    rounds = 0;
    t0 = cpu_s();
    do {
        hk_buf_reset(&enc);
        if (hk_rw_encode_v1(nt.p, nt.n, &enc) < 0)
            return 1;
        rounds++;
    } while ((t = cpu_s() - t0) < min_cpu / 2);
    printf("rw 1.0 encode, native cycle: %.3f us per series sent (%zu, %zu histograms)\n",
           t / rounds / (double)nt.n * 1e6, nt.n, nt.latency);
    free_cycle(&cl);
    free_cycle(&nt);
    hk_buf_free(&enc);
    hk_buf_free(&text);
    hk_buf_free(&pb);
    hk_snapshot_unref(snap);
    return 0;
}
