/* SPDX-License-Identifier: Apache-2.0 */
/* Remote-write load generator for the benchmark: publishes a snapshot of N synthetic series
 * (100 families, two labels, values changing every cycle) every interval into a registry with
 * the real remote-write pipeline attached (diff, external labels, durable queue, shards, 1.0
 * encoding, snappy, libcurl), for a fixed time. Its CPU and RSS are measured from outside, the
 * same way as vmagent's and the Prometheus agent's.
 * usage: rw_bench URL SERIES INTERVAL_MS SECONDS QUEUE_DIR */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/snapshot.h"
#include "exporter/rw.h"

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s URL SERIES INTERVAL_MS SECONDS QUEUE_DIR\n", argv[0]);
        return 2;
    }
    const char *url = argv[1];
    long nseries = strtol(argv[2], NULL, 10), interval = strtol(argv[3], NULL, 10);
    long seconds = strtol(argv[4], NULL, 10);
    hk_log_setup(HK_LOG_WARN, HK_LOG_LOGFMT);
    char path[4200];
    snprintf(path, sizeof(path), "%s/bench.yml", argv[5]);
    FILE *f = fopen(path, "w");
    if (!f)
        return 1;
    fprintf(f,
            "global:\n  external_labels: {agent: hakari}\n"
            "remote_write:\n  - url: %s\n    name: bench\n"
            "    queue_config: {disk_path: %s, max_shards: 8}\n",
            url, argv[5]);
    fclose(f);
    struct hk_config cfg;
    struct hk_error err = {""};
    hk_config_init(&cfg);
    if (hk_config_load(&cfg, path, NULL, 0, &err) < 0) {
        fprintf(stderr, "config: %s\n", err.msg);
        return 1;
    }
    struct hk_registry *reg = hk_registry_new();
    struct hk_rw *rw = NULL;
    if (!reg || hk_rw_start(&cfg, reg, &rw, &err) < 0) {
        fprintf(stderr, "start: %s\n", err.msg);
        return 1;
    }
    static const char *const label_names[] = {"instance", "series_id", NULL};
    struct hk_metric_desc descs[100];
    char names[100][32];
    for (int k = 0; k < 100; k++) {
        snprintf(names[k], sizeof(names[k]), "synth_metric_%02d", k);
        descs[k] = (struct hk_metric_desc){names[k], "Synthetic benchmark series.", HK_METRIC_GAUGE,
                                           "", label_names};
    }
    struct hk_limits limits = {0};
    int64_t end = wall_ms() + seconds * 1000, next = wall_ms();
    uint64_t cycle = 0;
    char idbuf[24];
    while (wall_ms() < end) {
        struct hk_builder *b = hk_builder_new(&limits);
        if (!b)
            return 1;
        hk_builder_begin(b, "synth");
        for (long i = 0; i < nseries; i++) {
            snprintf(idbuf, sizeof(idbuf), "%ld", i / 100);
            const char *v[] = {"bench:9100", idbuf};
            hk_emit(b, &descs[i % 100], v, (double)((i * 7 + cycle * 13) % 100000) / 7.0);
        }
        hk_builder_commit(b);
        struct hk_snapshot *snap = hk_builder_seal(b, wall_ms(), NULL);
        if (snap)
            hk_registry_publish(reg, snap);
        cycle++;
        next += interval;
        int64_t sleep_ms = next - wall_ms();
        if (sleep_ms > 0) {
            struct timespec ts = {sleep_ms / 1000, (sleep_ms % 1000) * 1000000};
            nanosleep(&ts, NULL);
        }
    }
    hk_rw_stop(rw);
    hk_registry_free(reg);
    hk_config_free(&cfg);
    printf("cycles %llu\n", (unsigned long long)cycle);
    return 0;
}
