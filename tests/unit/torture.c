/* SPDX-License-Identifier: Apache-2.0 */
/* Allocation-failure torture (curl's idea): every allocation hakari's own code makes through
 * malloc/calloc/realloc/strdup/strndup (linked with -Wl,--wrap=…, so libraries' internal
 * allocations are not touched) is counted; then each scenario runs again once per N with the Nth
 * allocation failing, in a forked child, under ASan/UBSan/LeakSanitizer. A child that crashes,
 * trips a sanitizer or leaks fails the run; returning an error is the expected outcome, and so is
 * succeeding when the failed allocation was optional.
 *
 * Scenarios: the config loader (YAML with remote_write, relabelling, collector options), the
 * Prometheus text parser, the snapshot builder and seal, the remote-write record encoder/decoder
 * and the 1.0/2.0 encoders, the durable queue (open, append, read, commit, reopen), and the
 * cgroup and node collectors on a fixture node root.
 *
 * TORTURE_MAX_RUNS (default 200) bounds the runs per scenario: past it, failure points are
 * spread evenly over the scenario's allocations. TORTURE_MAX_RUNS=0 tries every one
 * (`make torture`). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/collector.h"
#include "core/config.h"
#include "core/fsread.h"
#include "core/snapshot.h"
#include "core/yaml.h"
#include "collector/containers.h"
#include "collector/promtext.h"
#include "exporter/rw_encode.h"
#include "exporter/rw_queue.h"
#include "exporter/rw_shape.h"
#include "exporter/rw_targets.h"

/* ---- the wrapped allocator ---- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static unsigned long alloc_count; /* allocations made while counting is on */
static unsigned long fail_at;     /* 1-based allocation to fail; 0 = none */
static bool counting;

static bool should_fail(void)
{
    if (!counting)
        return false;
    alloc_count++;
    if (fail_at && alloc_count == fail_at) {
        errno = ENOMEM;
        return true;
    }
    return false;
}

void *__wrap_malloc(size_t n)
{
    return should_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return should_fail() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    return should_fail() ? NULL : __real_strndup(s, n);
}

/* ---- scenarios: each returns 0 or a negative errno, and frees what it made ---- */

static const char *top = ".";
static char tmpdir[256];

static int sc_config(void)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/torture.yml", tmpdir);
    struct hk_config cfg;
    hk_config_init(&cfg);
    struct hk_error err = {{0}};
    struct hk_config_override ov[] = {
        {"collectors.ebpf.programs", "sched,tcp", "--collector.ebpf.programs", false},
        {"global.collection_interval", "5s", "--collection.interval", false},
    };
    int r = hk_config_load(&cfg, path, ov, 2, &err);
    hk_config_free(&cfg);
    return r;
}

static int sc_promtext(void)
{
    static const char text[] =
        "# HELP http_requests_total The total number of HTTP requests.\n"
        "# TYPE http_requests_total counter\n"
        "http_requests_total{method=\"post\",code=\"200\"} 1027\n"
        "http_requests_total{method=\"post\",code=\"400\"}    3\n"
        "# TYPE rpc_duration_seconds summary\n"
        "rpc_duration_seconds{quantile=\"0.5\"} 4773\n"
        "rpc_duration_seconds_sum 1.7560473e+07\n"
        "rpc_duration_seconds_count 2693\n"
        "# TYPE lat histogram\n"
        "lat_bucket{le=\"0.1\"} 3\nlat_bucket{le=\"+Inf\"} 5\nlat_sum 2.5\nlat_count 5\n"
        "escaped{a=\"x\\\"y\\\\z\\n\",b=\"żółw\"} NaN\n";
    struct hk_promtext p;
    hk_promtext_init(&p, 1 << 16, 1000);
    int r = hk_promtext_parse(&p, text, sizeof(text) - 1);
    for (size_t i = 0; r == 0 && i < p.nsamples; i++) {
        struct hk_promtext_sample s;
        r = hk_promtext_sample(&p, i, &s);
    }
    hk_promtext_fini(&p);
    return r;
}

static struct hk_snapshot *build_snapshot(int *ret)
{
    static const char *const lbl[] = {"container", "pod", NULL};
    static const struct hk_metric_desc g = {"t_gauge", "A gauge.", HK_METRIC_GAUGE, "", lbl};
    static const struct hk_metric_desc h = {"t_seconds", "A histogram.", HK_METRIC_HISTOGRAM,
                                            "seconds", lbl};
    static const struct hk_metric_desc hn = {"t_native_seconds", "A native histogram.",
                                             HK_METRIC_HISTOGRAM, "seconds", lbl};
    struct hk_limits limits = {0, 0, 0};
    struct hk_builder *b = hk_builder_new(&limits);
    if (!b) {
        *ret = -ENOMEM;
        return NULL;
    }
    int r = 0;
    hk_builder_begin(b, "torture");
    for (int i = 0; i < 40 && (r == 0 || r == -E2BIG); i++) {
        char c[16], p[16];
        snprintf(c, sizeof(c), "c%d", i % 7);
        snprintf(p, sizeof(p), "pod-%d", i);
        const char *v[] = {c, p};
        r = hk_emit(b, &g, v, i * 1.5);
        if (r == 0) {
            static const double bounds[] = {0.001, 0.01, 0.1};
            const uint64_t cum[] = {1, 2, 3};
            r = hk_emit_histogram(b, &h, v, bounds, cum, 3, 0.25, 4);
        }
        if (r == 0) { /* a native histogram; every 4th with > 256 buckets (heap scratch) */
            static uint64_t counts[300];
            for (size_t k = 0; k < 300; k++)
                counts[k] = (k * 7 + (size_t)i) % 5 == 0 ? k : 0;
            const struct hk_nhist_in in = {.schema = 3,
                                           .zero_threshold = 0x1p-22,
                                           .zero_count = 2,
                                           .first_index = -100,
                                           .counts = counts,
                                           .ncounts = i % 4 ? 40 : 300,
                                           .sum = 1.5,
                                           .classic_lo = -12,
                                           .classic_hi = 4};
            r = hk_emit_native_histogram(b, &hn, v, &in);
        }
    }
    struct hk_family_spec spec = {"t_dynamic", "Dynamic.", HK_METRIC_UNTYPED, ""};
    struct hk_label l[] = {{"z", "1"}, {"a", "2"}};
    if (r == 0)
        r = hk_emit_labels(b, &spec, NULL, l, 2, 7, 0);
    if (r < 0) {
        hk_builder_abort(b);
        hk_builder_free(b);
        *ret = r;
        return NULL;
    }
    hk_builder_commit(b);
    struct hk_snapshot *snap = hk_builder_seal(b, 1700000000000, NULL);
    *ret = snap ? 0 : -ENOMEM;
    return snap;
}

static int sc_snapshot(void)
{
    int r;
    struct hk_snapshot *snap = build_snapshot(&r);
    hk_snapshot_unref(snap);
    return r;
}

/* Remote-write samples from a snapshot (labels: __name__ first then the series' own; the test
 * snapshot's label names all sort after __name__). */
static int samples_of(const struct hk_snapshot *snap, struct hk_rw_sample **ret,
                      struct hk_rw_family **ret_fams, struct hk_label **ret_labels)
{
    size_t nl = 0;
    for (size_t i = 0; i < snap->nseries; i++)
        nl += snap->series[i].nlabels + 1;
    struct hk_rw_sample *s = calloc(snap->nseries ? snap->nseries : 1, sizeof(*s));
    struct hk_rw_family *f = calloc(snap->nfamilies ? snap->nfamilies : 1, sizeof(*f));
    struct hk_label *l = calloc(nl ? nl : 1, sizeof(*l));
    if (!s || !f || !l) {
        free(s);
        free(f);
        free(l);
        return -ENOMEM;
    }
    for (size_t i = 0; i < snap->nfamilies; i++)
        f[i] = (struct hk_rw_family){snap->families[i].name, snap->families[i].help,
                                     snap->families[i].unit, snap->families[i].type};
    size_t k = 0;
    for (size_t i = 0; i < snap->nseries; i++) {
        const struct hk_series *ser = &snap->series[i];
        struct hk_label *mine = &l[k];
        l[k++] = (struct hk_label){"__name__", ser->name};
        for (uint32_t j = 0; j < ser->nlabels; j++)
            l[k++] = ser->labels[j];
        s[i] = (struct hk_rw_sample){mine, ser->nlabels + 1, &f[ser->family], ser->value,
                                     1700000000000, ser->hash, NULL, NULL};
    }
    *ret = s;
    *ret_fams = f;
    *ret_labels = l;
    return 0;
}

static int sc_rw_encode(void)
{
    int r;
    struct hk_snapshot *snap = build_snapshot(&r);
    if (!snap)
        return r;
    struct hk_rw_sample *s = NULL;
    struct hk_rw_family *f = NULL;
    struct hk_label *l = NULL;
    struct hk_buf scratch, rec, out;
    hk_buf_init(&scratch, 0);
    hk_buf_init(&rec, 0);
    hk_buf_init(&out, 0);
    struct hk_rw_record dec = {0}, back = {0};
    const struct hk_rw_sample **ptrs = NULL;
    if ((r = samples_of(snap, &s, &f, &l)) < 0)
        goto out;
    if ((r = hk_rw_record_encode(s, snap->nseries, &scratch, &rec)) < 0)
        goto out;
    if ((r = hk_rw_record_decode(rec.data, rec.len, &dec)) < 0)
        goto out;
    if (!(ptrs = calloc(dec.nsamples ? dec.nsamples : 1, sizeof(*ptrs)))) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < dec.nsamples; i++)
        ptrs[i] = &dec.samples[i];
    if ((r = hk_rw_encode_v1(ptrs, dec.nsamples, &out)) < 0)
        goto out;
    hk_buf_reset(&out);
    if ((r = hk_rw_encode_v2(ptrs, dec.nsamples, &out)) < 0)
        goto out;
    if ((r = hk_rw_snappy_compress(out.data, out.len, &rec)) < 0)
        goto out;
    /* the sender's slow path: a stored request decoded back */
    r = hk_rw_request_decode(HK_RW_V2, rec.data, rec.len, &back);
out:
    free(ptrs);
    hk_rw_record_free(&dec);
    hk_rw_record_free(&back);
    hk_buf_free(&scratch);
    hk_buf_free(&rec);
    hk_buf_free(&out);
    free(s);
    free(f);
    free(l);
    hk_snapshot_unref(snap);
    return r;
}

/* The 1.0 encoding through label shapes (rw_shape.h), as the pipeline does it: a shape per
 * label layout, built when none of the last ones fits. */
static int sc_rw_shape(void)
{
    int r;
    struct hk_snapshot *snap = build_snapshot(&r);
    if (!snap)
        return r;
    struct hk_rw_targets t;
    const struct hk_label ext[] = {{"cluster", "c1"}};
    const struct hk_rw_identity id = {"node-1", "ns", "pod"};
    struct hk_rw_shape sh = {0};
    struct hk_buf out;
    hk_buf_init(&out, 0);
    if ((r = hk_rw_targets_build(&t, HK_TARGET_LABELS_KUBE_PROMETHEUS, ext, 1, &id)) < 0)
        goto out_snap;
    for (size_t i = 0; i < snap->nseries && r >= 0; i++) {
        const struct hk_series *ser = &snap->series[i];
        enum hk_target k = (enum hk_target)snap->families[ser->family].target;
        if (!hk_rw_shape_fits(&sh, k, ser->labels, ser->nlabels) &&
            (r = hk_rw_shape_build(&sh, &t, k, ser->labels, ser->nlabels)) < 0)
            break;
        r = hk_rw_shape_encode(&sh, ser->name, ser->labels, ser->value, 1700000000000, &out);
    }
    hk_rw_shape_free(&sh);
    hk_rw_targets_free(&t);
out_snap:
    hk_buf_free(&out);
    hk_snapshot_unref(snap);
    return r;
}

static int sc_queue(void)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/queue-%d", tmpdir, (int)getpid());
    struct hk_rw_queue_opts o = {dir, 0, 4096, false};
    struct hk_rw_queue *q = NULL;
    struct hk_buf payload;
    hk_buf_init(&payload, 0);
    int r = hk_rw_queue_open(&o, &q);
    char rec[700];
    memset(rec, 'x', sizeof(rec));
    for (int i = 0; r == 0 && i < 20; i++)
        r = hk_rw_queue_append(q, rec, sizeof(rec), 3, 1700000000000 + i);
    uint64_t pos = r == 0 ? hk_rw_queue_committed(q) : 0;
    for (int i = 0; r == 0 && i < 10; i++) {
        struct hk_rw_qrec qr;
        int k = hk_rw_queue_read(q, &pos, &payload, &qr);
        if (k < 0)
            r = k;
        else if (k == 0)
            break;
    }
    if (r == 0)
        r = hk_rw_queue_commit(q, pos, 30, true);
    hk_rw_queue_close(q);
    q = NULL;
    if (r == 0)
        r = hk_rw_queue_open(&o, &q); /* reopen: recovery from the savepoint */
    hk_rw_queue_close(q);
    hk_buf_free(&payload);
    return r;
}

extern const struct hk_collector_ops hk_collector_cgroup;
extern const struct hk_collector_ops hk_collector_netstat;
extern const struct hk_collector_ops hk_collector_cpu;

static int run_collector(const struct hk_collector_ops *ops, const char *fixture)
{
    char root[512];
    snprintf(root, sizeof(root), "%s/tests/fixtures/%s", top, fixture);
    struct hk_paths paths;
    int r = hk_paths_open(&paths, root, NULL, NULL);
    if (r < 0)
        return r;
    struct hk_error err = {{0}};
    struct hk_collector_env env = {&paths, NULL, NULL, &err};
    void *st = NULL;
    struct hk_builder *b = NULL;
    if (ops->init && (r = ops->init(&st, &env)) < 0)
        goto out;
    struct hk_limits limits = {0, 0, 0};
    if (!(b = hk_builder_new(&limits))) {
        r = -ENOMEM;
        goto out;
    }
    for (int cycle = 0; cycle < 2 && r >= 0; cycle++) {
        struct hk_collect_ctx ctx = {b, &paths, 1700000000000 + cycle * 10000, 0};
        hk_builder_begin(b, ops->name);
        r = ops->collect(st, &ctx);
        if (r < 0)
            hk_builder_abort(b);
        else
            hk_builder_commit(b);
    }
    if (r >= 0) {
        struct hk_snapshot *snap = hk_builder_seal(b, 0, NULL);
        b = NULL;
        if (!snap)
            r = -ENOMEM;
        hk_snapshot_unref(snap);
    }
out:
    hk_builder_free(b);
    if (ops->fini)
        ops->fini(st);
    hk_containers_reset();
    hk_paths_close(&paths);
    return r;
}

static int sc_cgroup(void)
{
    return run_collector(&hk_collector_cgroup, "v2-systemd-containerd");
}

static int sc_node(void)
{
    int r = run_collector(&hk_collector_cpu, "node-upstream");
    return r < 0 ? r : run_collector(&hk_collector_netstat, "node-upstream");
}

static const struct {
    const char *name;
    int (*fn)(void);
} scenarios[] = {
    {"config", sc_config},       {"promtext", sc_promtext}, {"snapshot", sc_snapshot},
    {"rw_encode", sc_rw_encode}, {"rw_shape", sc_rw_shape}, {"queue", sc_queue},
    {"cgroup", sc_cgroup},       {"node", sc_node},
};

/* Runs fn in a child with allocation n failing (0: none). Returns the child's wait status. */
static int run_child(int (*fn)(void), unsigned long n, unsigned long *ret_count, int *ret_result)
{
    int pipefd[2];
    if (pipe(pipefd) < 0)
        return -1;
    fflush(stdout); /* or the child's exit prints the parent's buffered lines again */
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(pipefd[0]);
        alloc_count = 0;
        fail_at = n;
        counting = true;
        int r = fn();
        counting = false;
        long out[2] = {(long)alloc_count, r};
        ssize_t w = write(pipefd[1], out, sizeof(out));
        (void)w;
        close(pipefd[1]);
        exit(0); /* exit, not _exit: LeakSanitizer checks at exit */
    }
    close(pipefd[1]);
    long in[2] = {0, 0};
    ssize_t got = read(pipefd[0], in, sizeof(in));
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (got == (ssize_t)sizeof(in)) {
        *ret_count = (unsigned long)in[0];
        *ret_result = (int)in[1];
    }
    return status;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        top = argv[1];
    else if (getenv("TOP"))
        top = getenv("TOP");
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/hakari-torture.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[512];
    snprintf(path, sizeof(path), "%s/torture.yml", tmpdir);
    FILE *f = fopen(path, "w");
    if (!f)
        return 1;
    fputs("global:\n  collection_interval: 10s\n  external_labels: {cluster: c1, env: prod}\n"
          "limits: {max_series: 1000}\n"
          "collectors:\n  netdev: {device_exclude: '^lo$'}\n  textfile: {directory: [/a, /b]}\n"
          "remote_write:\n  - url: http://127.0.0.1:1/api/v1/write\n    name: t\n"
          "    headers: {X-Scope-OrgID: team-a}\n"
          "    write_relabel_configs:\n"
          "      - {source_labels: [__name__], regex: 'go_.*', action: drop}\n"
          "      - {source_labels: [pod], regex: '(.+)-[a-z0-9]+', target_label: app, "
          "replacement: '${1}'}\n"
          "      - {regex: 'id', action: labeldrop}\n"
          "    queue_config: {max_shards: 4, disk_path: /tmp/hakari-torture-q}\n",
          f);
    fclose(f);
    long max_runs = getenv("TORTURE_MAX_RUNS") ? atol(getenv("TORTURE_MAX_RUNS")) : 200;
    int bad = 0;
    for (size_t s = 0; s < sizeof(scenarios) / sizeof(scenarios[0]); s++) {
        unsigned long total = 0;
        int result = 0;
        int st = run_child(scenarios[s].fn, 0, &total, &result);
        if (st != 0 || result < 0) {
            printf("FAIL %s: fails without any injected failure (status %d, result %d)\n",
                   scenarios[s].name, st, result);
            bad++;
            continue;
        }
        unsigned long step = 1;
        if (max_runs > 0 && total > (unsigned long)max_runs)
            step = (total + (unsigned long)max_runs - 1) / (unsigned long)max_runs;
        unsigned long runs = 0, errors = 0, survived = 0;
        for (unsigned long n = 1; n <= total; n += step) {
            unsigned long count = 0;
            int r = 0;
            st = run_child(scenarios[s].fn, n, &count, &r);
            runs++;
            if (st != 0) {
                printf("FAIL %s: allocation %lu of %lu failing: child %s %d (see its report "
                       "above)\n",
                       scenarios[s].name, n, total, WIFSIGNALED(st) ? "killed by signal" : "exit",
                       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
                bad++;
                break;
            }
            if (r < 0)
                errors++;
            else
                survived++;
        }
        printf("%-10s %6lu allocations, %5lu runs (every %lu): %lu failed cleanly, %lu "
               "succeeded without the allocation\n",
               scenarios[s].name, total, runs, step, errors, survived);
    }
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", tmpdir);
    printf("%s\n", bad ? "torture: FAILED" : "torture: no crash, no leak, no sanitizer report");
    return bad ? 1 : 0;
}
