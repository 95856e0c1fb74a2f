/* SPDX-License-Identifier: Apache-2.0 */
/* Benchmark of the node collectors in-process on this host: CPU time (whole process, so the
 * filesystem collector's statfs helper thread counts) per collection cycle and per collector,
 * and the cost of sealing and rendering their series as text. Prints one line per collector
 * and a total, then the cost the collectors added for issue 13 add to the cycle of those it
 * had before (measured as two runs, with and without them, alternated); `bench/node_collectors.sh`
 * compares the total with node_exporter. */
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

/* The node collectors hakari had before issue 13 (the cost baseline) … */
static const char *const base_names[] = {"cpu",    "meminfo",   "loadavg",    "pressure",
                                         "netdev", "diskstats", "filesystem", "machine"};
/* … and those issue 13 added, whose cost must stay ≤ 10% of the baseline's cycle. */
static const char *const extra_names[] = {
    /* nodeproc */
    "vmstat", "netstat", "sockstat", "softnet", "filefd", "conntrack", "entropy",
    /* end nodeproc */
    "netclass", "time", "timex", "uname", "os",
};
enum {
    NBASE = sizeof(base_names) / sizeof(base_names[0]),
    NEXTRA = sizeof(extra_names) / sizeof(extra_names[0]),
    NMAX = NBASE + NEXTRA,
};

struct run_result {
    double ns[NMAX]; /* per collector, summed over cycles */
    double render_ns, total_ns;
    size_t series, bytes;
};

/* Runs `cycles` collection cycles of the first n collectors of names (seal and render each). */
static int run(const struct hk_paths *paths, const char *const *names, int n, int cycles,
               struct run_result *res)
{
    const struct hk_collector_ops *ops[NMAX];
    void *state[NMAX] = {0};
    memset(res, 0, sizeof(*res));
    for (int i = 0; i < n; i++) {
        struct hk_error err = {{0}};
        struct hk_collector_env env = {paths, NULL, NULL, &err};
        ops[i] = hk_collector_find(names[i]);
        if (!ops[i] || (ops[i]->init && ops[i]->init(&state[i], &env) < 0)) {
            fprintf(stderr, "collector %s: %s\n", names[i], ops[i] ? err.msg : "not built in");
            return -1;
        }
    }
    struct hk_limits limits = {0};
    struct hk_buf out;
    hk_buf_init(&out, 64u << 20);
    double t_all = cpu_ns();
    for (int c = 0; c < cycles; c++) {
        struct hk_builder *b = hk_builder_new(&limits);
        for (int i = 0; i < n; i++) {
            struct hk_collect_ctx ctx = {b, paths, 0, 0};
            double t0 = cpu_ns();
            hk_builder_begin(b, names[i]);
            if (ops[i]->collect(state[i], &ctx) < 0)
                hk_builder_abort(b);
            else
                hk_builder_commit(b);
            res->ns[i] += cpu_ns() - t0;
        }
        double t0 = cpu_ns();
        struct hk_snapshot *snap = hk_builder_seal(b, 0, NULL);
        hk_buf_reset(&out);
        if (!snap || hk_textfmt_render(snap, HK_TEXTFMT_TEXT, &out) < 0) {
            fprintf(stderr, "seal/render failed\n");
            return -1;
        }
        res->render_ns += cpu_ns() - t0;
        res->series = snap->nseries;
        res->bytes = out.len;
        hk_snapshot_unref(snap);
    }
    res->total_ns = cpu_ns() - t_all;
    for (int i = 0; i < n; i++)
        if (ops[i]->fini)
            ops[i]->fini(state[i]);
    hk_buf_free(&out);
    return 0;
}

int main(int argc, char **argv)
{
    int cycles = argc > 1 ? atoi(argv[1]) : 1000;
    const char *root = argc > 2 ? argv[2] : "/";
    struct hk_paths paths;
    if (hk_paths_open(&paths, root, NULL, NULL) < 0) {
        fprintf(stderr, "cannot open %s\n", root);
        return 1;
    }
    const char *all[NMAX];
    for (int i = 0; i < NBASE; i++)
        all[i] = base_names[i];
    for (int i = 0; i < NEXTRA; i++)
        all[NBASE + i] = extra_names[i];
    /* Baseline and baseline + extra collectors, alternated in halves so a noisy neighbour on a
     * shared machine weighs on both alike. */
    struct run_result base = {0}, full = {0}, r;
    for (int half = 0; half < 2; half++) {
        if (run(&paths, base_names, NBASE, cycles / 2, &r) < 0)
            return 1;
        for (int i = 0; i < NBASE; i++)
            base.ns[i] += r.ns[i];
        base.render_ns += r.render_ns;
        base.total_ns += r.total_ns;
        base.series = r.series;
        base.bytes = r.bytes;
        if (run(&paths, all, NMAX, cycles / 2, &r) < 0)
            return 1;
        for (int i = 0; i < NMAX; i++)
            full.ns[i] += r.ns[i];
        full.render_ns += r.render_ns;
        full.total_ns += r.total_ns;
        full.series = r.series;
        full.bytes = r.bytes;
    }
    int done = cycles / 2 * 2;
    printf("hakari node collectors in-process, %d cycles on %s, CPU µs per cycle:\n", done, root);
    for (int i = 0; i < NMAX; i++)
        printf("  %-11s %8.1f\n", all[i], full.ns[i] / done / 1e3);
    printf("  %-11s %8.1f  (%zu series, %zu bytes of text)\n", "seal+render",
           full.render_ns / done / 1e3, full.series, full.bytes);
    printf("  %-11s %8.1f\n", "total", full.total_ns / done / 1e3);
    double extra = 0;
    for (int i = NBASE; i < NMAX; i++)
        extra += full.ns[i];
    printf("baseline (the %d collectors before issue 13): %.1f µs per cycle (%zu series)\n", NBASE,
           base.total_ns / done / 1e3, base.series);
    printf("extra collectors: %.1f µs collecting, %.1f µs more per cycle in all "
           "(+%zu series) = %.1f%% of the baseline (issue 13: <= 10%%)\n",
           extra / done / 1e3, (full.total_ns - base.total_ns) / done / 1e3,
           full.series - base.series, (full.total_ns - base.total_ns) / base.total_ns * 100);
    hk_paths_close(&paths);
    return 0;
}
