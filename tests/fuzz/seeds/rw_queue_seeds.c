/* Writes the seed corpus of fuzz_rw_queue (tests/fuzz/corpus/rw_queue/fmt2-*): real queue
 * directories made by hk_rw_queue_appendv with format-2 records (ready 1.0 and 2.0 requests, as
 * the pipeline writes them; the corpus files without the prefix are format-1 queues written by
 * hakari before queue format 2, kept as they are), turned into the target's input
 * format ([flags] [savepoint] segments separated by "HKSEG\n"), plus the damage the reader must
 * survive: a torn tail, a flipped payload byte, a flipped byte with the CRC made right again (so
 * the record decoder sees it), a corrupt savepoint; and a queue of format-2 records (ready 1.0 and
 * 2.0 requests) carrying native histograms. Run by tests/fuzz/seeds/rw_seeds.sh. Usage:
 * rw_queue_seeds WORKDIR OUTDIR */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "core/buf.h"
#include "exporter/rw_encode.h"
#include "exporter/rw_queue.h"

#define FL_SAVEPOINT 0x01
#define FL_FIX_CRC 0x04
#define FL_BASE 0x10
#define SEP "HKSEG\n"

static const struct hk_rw_family fam_cpu = {
    "node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", "seconds", HK_METRIC_COUNTER};
static const struct hk_rw_family fam_mem = {"container_memory_working_set_bytes",
                                            "Current working set of the container in bytes.",
                                            "bytes", HK_METRIC_GAUGE};

static void die(const char *what)
{
    fprintf(stderr, "rw_queue_seeds: %s\n", what);
    exit(1);
}

/* One cycle's record: a few CPU modes and a container's working set at ts_ms. */
static void append_cycle(struct hk_rw_queue *q, int64_t ts_ms, double v)
{
    static const char *const modes[] = {"idle", "user", "system", "iowait"};
    struct hk_label l[4][4], lm[5] = {
                                 {"__name__", "container_memory_working_set_bytes"},
                                 {"container", "coredns"},
                                 {"namespace", "kube-system"},
                                 {"node", "worker-1"},
                                 {"pod", "coredns-5d78c9869d-x2x7q"},
                             };
    struct hk_rw_sample s[5];
    for (int i = 0; i < 4; i++) {
        l[i][0] = (struct hk_label){"__name__", "node_cpu_seconds_total"};
        l[i][1] = (struct hk_label){"cpu", "0"};
        l[i][2] = (struct hk_label){"mode", modes[i]};
        l[i][3] = (struct hk_label){"node", "worker-1"};
        s[i] = (struct hk_rw_sample){l[i], 4,   &fam_cpu, v * (i + 1), ts_ms, 0x9e3779b9u * (i + 1),
                                     NULL, NULL};
    }
    s[4] = (struct hk_rw_sample){lm, 5, &fam_mem, 18743296, ts_ms, 77, NULL, NULL};
    static uint64_t group = 0x5eed000000000000ull;
    const struct hk_rw_sample *p[5] = {&s[0], &s[1], &s[2], &s[3], &s[4]};
    struct hk_rw_payload_info info = {++group & 1 ? HK_RW_V1 : HK_RW_V2, group, ts_ms};
    uint8_t prefix[HK_RW_PAYLOAD_PREFIX];
    struct hk_buf pb, b;
    hk_buf_init(&pb, 0);
    hk_buf_init(&b, 0);
    hk_rw_payload_prefix(prefix, &info);
    if ((info.proto == HK_RW_V1 ? hk_rw_encode_v1(p, 5, &pb) : hk_rw_encode_v2(p, 5, &pb)) < 0 ||
        hk_rw_snappy_compress(pb.data, pb.len, &b) < 0)
        die("encode");
    struct iovec parts[2] = {{prefix, sizeof(prefix)}, {b.data, b.len}};
    if (hk_rw_queue_appendv(q, parts, 2, 5, ts_ms) < 0)
        die("append");
    hk_buf_free(&pb);
    hk_buf_free(&b);
}

/* One cycle as queue format 2 stores it (a ready request, proto 1.0 or 2.0): two native
 * run-queue histograms (send_native_histograms), one of them the native stale marker, and a
 * float sample, so the fuzzer starts from the request decoder's histogram path. */
static void append_native(struct hk_rw_queue *q, int64_t ts_ms, enum hk_rw_proto proto)
{
    static const struct hk_rw_family fam_rq = {"container_cpu_runqueue_latency_seconds",
                                               "Run-queue latency.", "seconds",
                                               HK_METRIC_HISTOGRAM};
    static const struct hk_label la[] = {{"__name__", "container_cpu_runqueue_latency_seconds"},
                                         {"container", "coredns"},
                                         {"pod", "coredns-5d78c9869d-x2x7q"}};
    static const struct hk_label lb[] = {{"__name__", "container_cpu_runqueue_latency_seconds"},
                                         {"container", "etcd"},
                                         {"pod", "etcd-worker-1"}};
    static const struct hk_nhist_span spans[] = {{-120, 4}, {3, 2}};
    static const int64_t deltas[] = {3, 9, -4, -7, 12, -2};
    const struct hk_nhist h = {.sum = 0.0421,
                               .zero_threshold = 0x1p-22,
                               .count = 30,
                               .zero_count = 2,
                               .schema = 3,
                               .nspans = 2,
                               .spans = spans,
                               .deltas = deltas,
                               .ndeltas = 6};
    struct hk_rw_sample s[3] = {
        {la, 3, &fam_rq, 0, ts_ms, 1, NULL, &h},
        {lb, 3, &fam_rq, 0, ts_ms, 2, NULL, &hk_rw_hist_stale},
        {la, 3, &fam_cpu, 12.5, ts_ms, 3, NULL, NULL},
    };
    const struct hk_rw_sample *p[3] = {&s[0], &s[1], &s[2]};
    struct hk_buf pb, z;
    hk_buf_init(&pb, 0);
    hk_buf_init(&z, 0);
    if ((proto == HK_RW_V2 ? hk_rw_encode_v2(p, 3, &pb) : hk_rw_encode_v1(p, 3, &pb)) < 0 ||
        hk_rw_snappy_compress(pb.data, pb.len, &z) < 0)
        die("encode");
    struct hk_rw_payload_info info = {proto, 7, ts_ms};
    uint8_t prefix[HK_RW_PAYLOAD_PREFIX];
    hk_rw_payload_prefix(prefix, &info);
    struct iovec parts[2] = {{prefix, sizeof(prefix)}, {z.data, z.len}};
    if (hk_rw_queue_appendv(q, parts, 2, 3, ts_ms) < 0)
        die("append");
    hk_buf_free(&pb);
    hk_buf_free(&z);
}

static struct hk_buf read_file(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    struct hk_buf b;
    hk_buf_init(&b, 0);
    FILE *f = fopen(path, "rb");
    if (!f)
        return b;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        hk_buf_put(&b, chunk, n);
    fclose(f);
    return b;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The queue directory as one fuzz input. damage: 0 none, 1 torn tail, 2 flipped byte in the
 * second record's payload, 3 flipped byte and FL_FIX_CRC, 4 corrupt savepoint. */
static void emit(const char *dir, const char *out, const char *name, int damage)
{
    char *segs[64];
    size_t n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    if (!d)
        die("opendir");
    while ((de = readdir(d)) && n < 64)
        if (strlen(de->d_name) == 20 && !strcmp(de->d_name + 16, ".seg"))
            segs[n++] = strdup(de->d_name);
    closedir(d);
    qsort(segs, n, sizeof(*segs), cmp_str);
    struct hk_buf in, sp = read_file(dir, "savepoint");
    hk_buf_init(&in, 0);
    uint8_t flags = (sp.len ? FL_SAVEPOINT : 0) | (damage == 3 ? FL_FIX_CRC : 0) | FL_BASE;
    hk_buf_putc(&in, (char)flags);
    if (sp.len) {
        if (damage == 4)
            sp.data[6] ^= 0x10;
        hk_buf_put(&in, sp.data, sp.len);
    }
    uint64_t base = n ? strtoull(segs[0], NULL, 16) : 0; /* the first segment's name */
    hk_buf_put(&in, &base, 8);
    for (size_t i = 0; i < n; i++) {
        struct hk_buf seg = read_file(dir, segs[i]);
        if (i == 0 && (damage == 2 || damage == 3) && seg.len > 200) {
            uint32_t len0;
            memcpy(&len0, seg.data + 4, 4);
            seg.data[24 + len0 + 24 + 5] ^= 0x01; /* the second record's payload */
        }
        if (i == n - 1 && damage == 1)
            hk_buf_put(&seg, seg.data, seg.len > 40 ? 40 : seg.len); /* half a record */
        if (i)
            hk_buf_puts(&in, SEP);
        hk_buf_put(&in, seg.data, seg.len);
        hk_buf_free(&seg);
        free(segs[i]);
    }
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", out, name);
    FILE *f = fopen(path, "wb");
    if (!f || in.err || fwrite(in.data, 1, in.len, f) != in.len || fclose(f) != 0)
        die("write seed");
    hk_buf_free(&in);
    hk_buf_free(&sp);
}

int main(int argc, char **argv)
{
    if (argc != 3)
        die("usage: rw_queue_seeds WORKDIR OUTDIR");
    char one[512], multi[512], native[512];
    snprintf(one, sizeof(one), "%s/one", argv[1]);
    snprintf(native, sizeof(native), "%s/native", argv[1]);
    snprintf(multi, sizeof(multi), "%s/multi", argv[1]);
    struct hk_rw_queue *q;
    /* One segment of three cycles, nothing committed yet. */
    struct hk_rw_queue_opts o = {.dir = one};
    if (hk_rw_queue_open(&o, &q) < 0)
        die("open");
    for (int i = 0; i < 3; i++)
        append_cycle(q, 1700000000000 + i * 15000, 1234.5 + i);
    hk_rw_queue_close(q);
    /* Small segments (a few records each), the first four records sent and committed: a
     * savepoint past the first segment. */
    struct hk_rw_queue_opts om = {.dir = multi, .segment_bytes = 600};
    if (hk_rw_queue_open(&om, &q) < 0)
        die("open");
    for (int i = 0; i < 8; i++)
        append_cycle(q, 1700000100000 + i * 15000, 99.25 * i);
    struct hk_buf pl;
    struct hk_rw_qrec r;
    hk_buf_init(&pl, 0);
    uint64_t pos = hk_rw_queue_committed(q);
    for (int i = 0; i < 4; i++)
        if (hk_rw_queue_read(q, &pos, &pl, &r) != 1)
            die("read");
    hk_buf_free(&pl);
    if (hk_rw_queue_commit(q, pos, 20, true) < 0)
        die("commit");
    hk_rw_queue_close(q);

    struct hk_rw_queue_opts on = {.dir = native};
    if (hk_rw_queue_open(&on, &q) < 0)
        die("open");
    append_native(q, 1700000200000, HK_RW_V1);
    append_native(q, 1700000215000, HK_RW_V2);
    hk_rw_queue_close(q);

    emit(native, argv[2], "fmt2-native-histograms", 0);
    emit(native, argv[2], "fmt2-native-histograms-flipped-crc-fixed", 3);
    emit(one, argv[2], "fmt2-one-segment", 0);
    emit(one, argv[2], "fmt2-torn-tail", 1);
    emit(one, argv[2], "fmt2-flipped-payload", 2);
    emit(one, argv[2], "fmt2-flipped-payload-crc-fixed", 3);
    emit(multi, argv[2], "fmt2-segments-savepoint", 0);
    emit(multi, argv[2], "fmt2-segments-torn-tail", 1);
    emit(multi, argv[2], "fmt2-segments-savepoint-corrupt", 4);
    return 0;
}
