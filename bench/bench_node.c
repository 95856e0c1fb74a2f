/* Benchmark of the node collectors in-process on this host: CPU time (whole process, so the
 * filesystem collector's statfs helper thread counts) per collection cycle and per collector,
 * and the cost of sealing and rendering their series as text. Prints one line per collector
 * and a total; `bench/node_collectors.sh` compares the total with node_exporter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/collector.h"
#include "core/snapshot.h"
#include "exporter/textfmt.h"

static double cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    static const char *const names[] = {"cpu",    "meminfo",   "loadavg",    "pressure",
                                        "netdev", "diskstats", "filesystem", "machine",
                                        /* nodesys */
                                        "netclass", "time", "timex", "uname", "os"};
    enum { N = sizeof(names) / sizeof(names[0]), FIRST_ADDED = 8 };
    int cycles = argc > 1 ? atoi(argv[1]) : 1000;
    const char *root = argc > 2 ? argv[2] : "/";
    struct hk_paths paths;
    if (hk_paths_open(&paths, root, NULL, NULL) < 0) {
        fprintf(stderr, "cannot open %s\n", root);
        return 1;
    }
    const struct hk_collector_ops *ops[N];
    void *state[N] = {0};
    double ns[N] = {0};
    for (int i = 0; i < N; i++) {
        struct hk_error err = {{0}};
        struct hk_collector_env env = {&paths, NULL, NULL, &err};
        ops[i] = hk_collector_find(names[i]);
        if (!ops[i] || (ops[i]->init && ops[i]->init(&state[i], &env) < 0)) {
            fprintf(stderr, "collector %s: %s\n", names[i], err.msg);
            return 1;
        }
    }
    struct hk_limits limits = {0};
    struct hk_buf out;
    hk_buf_init(&out, 64u << 20);
    double render_ns = 0, t_all = cpu_ns();
    size_t series = 0, bytes = 0;
    for (int c = 0; c < cycles; c++) {
        struct hk_builder *b = hk_builder_new(&limits);
        for (int i = 0; i < N; i++) {
            struct hk_collect_ctx ctx = {b, &paths, 0, 0};
            double t0 = cpu_ns();
            hk_builder_begin(b, names[i]);
            if (ops[i]->collect(state[i], &ctx) < 0)
                hk_builder_abort(b);
            else
                hk_builder_commit(b);
            ns[i] += cpu_ns() - t0;
        }
        double t0 = cpu_ns();
        struct hk_snapshot *snap = hk_builder_seal(b, 0, NULL);
        hk_buf_reset(&out);
        if (!snap || hk_textfmt_render(snap, HK_TEXTFMT_TEXT, &out) < 0) {
            fprintf(stderr, "seal/render failed\n");
            return 1;
        }
        render_ns += cpu_ns() - t0;
        series = snap->nseries;
        bytes = out.len;
        hk_snapshot_unref(snap);
    }
    double total = cpu_ns() - t_all;
    printf("hakari node collectors in-process, %d cycles on %s, CPU µs per cycle:\n", cycles, root);
    for (int i = 0; i < N; i++)
        printf("  %-11s %8.1f\n", names[i], ns[i] / cycles / 1e3);
    printf("  %-11s %8.1f  (%zu series, %zu bytes of text)\n", "seal+render",
           render_ns / cycles / 1e3, series, bytes);
    printf("  %-11s %8.1f\n", "total", total / cycles / 1e3);
    /* issue 13's bound: the collectors added for kube-prometheus against the earlier ones */
    double added = 0, earlier = 0;
    for (int i = 0; i < N; i++) {
        if (i >= FIRST_ADDED)
            added += ns[i];
        else
            earlier += ns[i];
    }
    printf("  added collectors (netclass…os) %.1f µs = %.1f%% of the earlier ones' %.1f µs "
           "(collect only; their series also add to seal+render)\n",
           added / cycles / 1e3, earlier > 0 ? 100 * added / earlier : 0, earlier / cycles / 1e3);
    for (int i = 0; i < N; i++)
        if (ops[i]->fini)
            ops[i]->fini(state[i]);
    hk_buf_free(&out);
    hk_paths_close(&paths);
    return 0;
}
