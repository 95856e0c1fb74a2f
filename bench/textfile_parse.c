/* SPDX-License-Identifier: Apache-2.0 */
/* Parse+emit speed of the textfile collector's parser: the 100k-series file of the remote-write
 * benchmark (100 gauge names x 1,000 label sets, same shape as tools/peers/gen_metrics.py) is
 * generated in memory (or read from argv[1]), then validated, decoded and emitted into a snapshot
 * builder as the collector does, N times; then the real collector reads it from a directory.
 * Prints samples per CPU second (process CPU time, so a busy machine distorts it less). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/stat.h>
#include <unistd.h>

#include "collector/promtext.h"
#include "core/collector.h"
#include "core/yaml.h"
#include "core/buf.h"
#include "core/fsread.h"
#include "core/snapshot.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

extern const struct hk_collector_ops hk_collector_textfile;

/* The real collector on a directory holding the file: read + parse + emit, CPU time. */
static int bench_collector(const char *data, size_t len, int rounds)
{
    char root[] = "/tmp/hk-textfile-bench-XXXXXX", path[128];
    if (!mkdtemp(root))
        return -1;
    snprintf(path, sizeof(path), "%s/tf", root);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/tf/synth.prom", root);
    FILE *f = fopen(path, "w");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        return -1;
    struct hk_paths paths;
    struct hk_error err = {""};
    struct hk_yaml_node *opts = NULL;
    const char *y = "directory: /tf\n";
    void *state = NULL;
    if (hk_paths_open(&paths, root, NULL, NULL) < 0 ||
        hk_yaml_parse_string("bench", y, strlen(y), &opts, &err) < 0)
        return -1;
    struct hk_collector_env env = {&paths, NULL, opts, &err};
    if (hk_collector_textfile.init(&state, &env) < 0)
        return -1;
    struct hk_limits lim = {0, 64, 4096};
    double cpu = 0, wall = 0;
    size_t series = 0;
    for (int r = 0; r < rounds; r++) {
        struct hk_builder *b = hk_builder_new(&lim);
        hk_builder_begin(b, "textfile");
        struct hk_collect_ctx ctx = {b, &paths, 0, 0};
        double c0 = cpu_s(), w0 = now_s();
        hk_collector_textfile.collect(state, &ctx);
        cpu += cpu_s() - c0;
        wall += now_s() - w0;
        series = hk_builder_section_series(b);
        hk_builder_commit(b);
        hk_snapshot_unref(hk_builder_seal(b, 0, NULL));
    }
    printf("collector read+parse+emit: %.0f samples/s CPU (%.0f wall), %zu series per cycle\n",
           (double)series * rounds / cpu, (double)series * rounds / wall, series);
    hk_collector_textfile.fini(state);
    hk_yaml_free(opts);
    hk_paths_close(&paths);
    unlink(path);
    snprintf(path, sizeof(path), "%s/tf", root);
    rmdir(path);
    rmdir(root);
    return 0;
}

static void generate(struct hk_buf *out, int series, int names)
{
    int per = (series + names - 1) / names, n = 0;
    unsigned long long x = 42;
    for (int m = 0; m < names && n < series; m++) {
        hk_buf_printf(out, "# HELP synth_metric_%03d Synthetic gauge %d.\n", m, m);
        hk_buf_printf(out, "# TYPE synth_metric_%03d gauge\n", m);
        for (int i = 0; i < per && n < series; i++, n++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            double v = (double)(x >> 11) / 9007199254740992.0 * 1e6;
            hk_buf_printf(out,
                          "synth_metric_%03d{host=\"host-%02d\",shard=\"%d\",idx=\"%06d\"} %.3f\n",
                          m, i % 50, i % 7, n, v);
        }
    }
}

int main(int argc, char **argv)
{
    struct hk_buf in;
    hk_buf_init(&in, 0);
    char *file = NULL;
    size_t len;
    if (argc > 1) {
        ssize_t n = hk_read_file_alloc(AT_FDCWD, argv[1], 1u << 30, &file);
        if (n < 0) {
            fprintf(stderr, "cannot read %s: %s\n", argv[1], strerror((int)-n));
            return 1;
        }
        len = (size_t)n;
    } else {
        generate(&in, 100000, 100);
        file = in.data;
        len = in.len;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 10;
    struct hk_promtext p;
    hk_promtext_init(&p, 0, 0);
    double t0 = cpu_s();
    size_t samples = 0;
    for (int r = 0; r < rounds; r++) {
        if (hk_promtext_parse(&p, file, len) < 0) {
            fprintf(stderr, "parse error line %u: %s\n", p.err_line, p.err_msg);
            return 1;
        }
        samples += p.nsamples;
    }
    double t_parse = cpu_s() - t0;

    struct hk_limits lim = {0, 64, 4096};
    double t_emit = 0, t_seal = 0;
    for (int r = 0; r < rounds; r++) {
        struct hk_builder *b = hk_builder_new(&lim);
        double a = cpu_s();
        hk_builder_begin(b, "textfile");
        hk_promtext_parse(&p, file, len);
        struct hk_family_spec *specs = calloc(p.nfamilies, sizeof(*specs));
        for (size_t i = 0; i < p.nfamilies; i++)
            specs[i] = (struct hk_family_spec){p.families[i].name, p.families[i].help,
                                               p.families[i].type, ""};
        for (size_t i = 0; i < p.nsamples; i++) {
            struct hk_promtext_sample s;
            hk_promtext_sample(&p, i, &s);
            hk_emit_labels(b, &specs[s.family], s.name, s.labels, s.nlabels, s.value, 0);
        }
        hk_builder_commit(b);
        double m = cpu_s();
        struct hk_snapshot *snap = hk_builder_seal(b, 0, NULL);
        t_seal += cpu_s() - m;
        t_emit += m - a;
        hk_snapshot_unref(snap);
        free(specs);
    }
    printf("input: %zu bytes, %zu samples; %d rounds\n", len, p.nsamples, rounds);
    printf("parse (validate+record):   %.0f samples/s (%.1f ns/sample)\n", samples / t_parse,
           t_parse / samples * 1e9);
    printf("parse+decode+emit:         %.0f samples/s (%.1f ns/sample)\n", samples / t_emit,
           t_emit / samples * 1e9);
    printf("builder seal (sort+dedup): %.1f ns/sample\n", t_seal / samples * 1e9);
    printf("parse+emit+seal:           %.0f samples/s\n", samples / (t_emit + t_seal));
    if (bench_collector(file, len, rounds) < 0)
        fprintf(stderr, "collector bench failed\n");
    hk_promtext_fini(&p);
    hk_buf_free(&in);
    free(argc > 1 ? file : NULL);
    return 0;
}
