/* SPDX-License-Identifier: Apache-2.0 */
/* Steady-state cost of the cgroup collector's cycle on a node root: CPU time and bytes
 * allocated per cycle (malloc/calloc/realloc interposed), after one warm-up cycle that opens the
 * descriptors. Syscalls are counted from outside (strace -c on runs with 1 and N cycles).
 *   cgroup_cycle ROOTFS CYCLES [OPTIONS-YAML]   → prints "cycles=N series=S cpu_us_per_cycle=X
 * bytes_per_cycle=Y allocs_per_cycle=A minflt_per_cycle=F … sys_us_per_cycle=K" (K: the kernel's
 * part of X) */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/arena.h"
#include "core/collector.h"
#include "core/fsread.h"
#include "core/snapshot.h"
#include "core/yaml.h"

extern const struct hk_collector_ops hk_collector_cgroup;

/* glibc's internal entry points: every allocation in the process (cJSON, strdup …) is counted. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static uint64_t alloc_bytes, alloc_calls;

void *malloc(size_t n);
void *calloc(size_t n, size_t m);
void *realloc(void *p, size_t n);
void *malloc(size_t n)
{
    alloc_bytes += n;
    alloc_calls++;
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t m)
{
    alloc_bytes += n * m;
    alloc_calls++;
    return __libc_calloc(n, m);
}
void *realloc(void *p, size_t n)
{
    alloc_bytes += n;
    alloc_calls++;
    return __libc_realloc(p, n);
}

/* Resident set size in KiB (VmRSS of /proc/self/status), 0 if unreadable. */
static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    if (f)
        fclose(f);
    return kb;
}

/* User and system CPU µs of the process so far. */
static double cpu_us_split(double *ret_sys)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *ret_sys = (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
    return (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec;
}

/* As the scheduler does: the builder sized from the last cycle's figures, the big-block pool
 * open within each cycle, and after each cycle it keeps what the cycle took (core/arena.h, as at
 * intervals under 1 s; CGROUP_CYCLE_POOL=0: nothing kept between cycles, as at 1 s and over). */
static struct hk_builder_hint last_hint;
static bool pool_keep = true;

static long minflt(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static size_t cycle(void *state, const struct hk_paths *paths, int collector_only)
{
    struct hk_limits limits = {0, 0, 0};
    hk_big_cycle_begin();
    struct hk_builder *b = hk_builder_new(&limits);
    if (!b)
        exit(1);
    hk_builder_reserve(b, &last_hint);
    struct hk_collect_ctx ctx = {b, paths, 1700000000000, 0};
    hk_builder_begin(b, "cgroup");
    if (hk_collector_cgroup.collect(state, &ctx) < 0)
        exit(1);
    hk_builder_commit(b);
    (void)collector_only;
    struct hk_seal_stats stats;
    struct hk_snapshot *snap = hk_builder_seal(b, 0, &stats);
    if (!snap)
        exit(1);
    last_hint = stats.hint;
    size_t n = snap->nseries;
    hk_snapshot_unref(snap);
    hk_big_cycle_end(pool_keep);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s ROOTFS CYCLES [OPTIONS-YAML]\n", argv[0]);
        return 2;
    }
    int cycles = atoi(argv[2]) > 0 ? atoi(argv[2]) : 1;
    const char *pk = getenv("CGROUP_CYCLE_POOL");
    pool_keep = !pk || strcmp(pk, "0") != 0;
    struct hk_paths paths;
    if (hk_paths_open(&paths, argv[1], NULL, NULL) < 0)
        return 1;
    struct hk_error err = {""};
    struct hk_yaml_node *opts = NULL;
    if (argc == 4 && hk_yaml_parse_string("options", argv[3], strlen(argv[3]), &opts, &err) < 0) {
        fprintf(stderr, "options: %s\n", err.msg);
        return 2;
    }
    struct hk_collector_env env = {&paths, NULL, opts, &err};
    void *state = NULL;
    if (hk_collector_cgroup.init(&state, &env) < 0) {
        fprintf(stderr, "init: %s\n", err.msg);
        return 1;
    }
    size_t series = cycle(state, &paths, 1); /* warm-up: discovery, metadata, open fds */
    /* A second warm-up cycle: the first one's allocations (metadata, buffers) settle. */
    if (cycles > 2)
        cycle(state, &paths, 1);
    long rss0 = rss_kb();
    uint64_t b0 = alloc_bytes, c0 = alloc_calls;
    double s0, u0 = cpu_us_split(&s0);
    long f0 = minflt();
    int first = cycles > 2 ? 2 : 1;
    long rss_q[3] = {0, 0, 0}; /* after each quarter of the run: growth or a plateau */
    for (int i = first; i < cycles; i++) {
        cycle(state, &paths, 1);
        for (int q = 0; q < 3; q++)
            if (i == first + (cycles - first) * (q + 1) / 4)
                rss_q[q] = rss_kb();
    }
    double s1, u1 = cpu_us_split(&s1);
    long f1 = minflt();
    long rss1 = rss_kb();
    int n = cycles > first ? cycles - first : 1;
    printf("cycles=%d series=%zu cpu_us_per_cycle=%.1f bytes_per_cycle=%.0f allocs_per_cycle=%.1f "
           "minflt_per_cycle=%.1f rss_kb_start=%ld rss_kb_quarters=%ld,%ld,%ld rss_kb_end=%ld "
           "sys_us_per_cycle=%.1f\n",
           cycles, series, (u1 - u0 + s1 - s0) / n, (double)(alloc_bytes - b0) / n,
           (double)(alloc_calls - c0) / n, (double)(f1 - f0) / n, rss0, rss_q[0], rss_q[1],
           rss_q[2], rss1, (s1 - s0) / n);
    hk_collector_cgroup.fini(state);
    hk_yaml_free(opts);
    hk_paths_close(&paths);
    return 0;
}
