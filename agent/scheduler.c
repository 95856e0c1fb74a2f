/* SPDX-License-Identifier: Apache-2.0 */
/* Collection cycles: run collectors in table order, isolate failures, add self-metrics, seal,
 * publish. Per-collector counters are kept by table index so they survive a reload. */
#include "agent/scheduler.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/collector.h"
#include "core/log.h"

struct coll {
    const struct hk_collector_ops *ops;
    size_t index; /* in hk_collectors */
    void *state;
    const struct hk_yaml_node *options; /* owned by the config the instance was made from */
};

struct coll_stats {
    uint64_t errors;
    uint64_t dropped;
    double duration_s;
    bool up;
    bool ran;
    bool failing; /* for logging once per state change */
};

struct provider {
    hk_self_metrics_fn fn;
    void *userdata;
};

struct hk_scheduler {
    const struct hk_config *cfg;
    const struct hk_paths *paths;
    struct hk_registry *reg;
    pthread_mutex_t lock; /* collectors + stats; held for a whole cycle */
    struct coll *colls;
    size_t ncolls;
    struct coll_stats stats[HK_MAX_COLLECTORS];
    struct provider providers[16];
    size_t nproviders;
    uint64_t cycles;
    int64_t interval_ms; /* copied from cfg under lock: main frees old configs */
    uint64_t duplicates_total;
    uint64_t last_series;
    struct hk_builder_hint last_hint; /* sizes the next cycle's builder */
    double start_time_s;
    pthread_t thread;
    bool running;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    bool stop;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void colls_free(struct coll *colls, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (colls[i].ops && colls[i].ops->fini)
            colls[i].ops->fini(colls[i].state);
    free(colls);
}

/* Builds the collector set for cfg. A collector of `old` whose options are unchanged keeps its
 * instance (on success it is moved out of old, whose entry gets ops = NULL), so a reload does not
 * reopen what needed privileges the agent has since dropped (BPF programs), nor lose caches. */
static int colls_init(const struct hk_config *cfg, const struct hk_paths *paths,
                      struct coll *old, size_t nold, struct coll **ret, size_t *ret_n,
                      struct hk_error *err)
{
    size_t n = 0;
    while (hk_collectors[n])
        n++;
    struct coll *colls = calloc(n ? n : 1, sizeof(*colls));
    long *from = calloc(n ? n : 1, sizeof(*from)); /* index in old, or -1 when new */
    if (!colls || !from) {
        free(colls);
        free(from);
        return -ENOMEM;
    }
    size_t k = 0;
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        if (!hk_config_collector_enabled(cfg, i))
            continue;
        const struct hk_collector_ops *ops = hk_collectors[i];
        const struct hk_yaml_node *opts = hk_config_collector_options(cfg, ops->name);
        from[k] = -1;
        for (size_t j = 0; j < nold && from[k] < 0; j++)
            if (old[j].index == i && old[j].ops && hk_yaml_equal(old[j].options, opts))
                from[k] = (long)j;
        void *state = from[k] >= 0 ? old[from[k]].state : NULL;
        if (from[k] < 0 && ops->init) {
            struct hk_collector_env env = {paths, cfg, opts, err};
            r = ops->init(&state, &env);
            if (r < 0) {
                if (!err->msg[0])
                    snprintf(err->msg, sizeof(err->msg), "collector %s: init failed: %s",
                             ops->name, strerror(-r));
                break;
            }
        }
        colls[k++] = (struct coll){ops, i, state, opts};
    }
    if (r < 0) {
        for (size_t i = 0; i < k; i++)
            if (from[i] < 0 && colls[i].ops->fini)
                colls[i].ops->fini(colls[i].state);
        free(colls);
        free(from);
        return r;
    }
    for (size_t i = 0; i < k; i++)
        if (from[i] >= 0)
            old[from[i]].ops = NULL; /* moved */
    free(from);
    *ret = colls;
    *ret_n = k;
    return 0;
}

int hk_scheduler_new(const struct hk_config *cfg, const struct hk_paths *paths,
                     struct hk_registry *reg, struct hk_scheduler **ret, struct hk_error *err)
{
    struct hk_scheduler *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->cfg = cfg;
    s->paths = paths;
    s->reg = reg;
    s->start_time_s = (double)wall_ms() / 1000.0;
    s->interval_ms = cfg->collection_interval_ms;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->stop_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->stop_cond, &ca);
    pthread_condattr_destroy(&ca);
    int r = colls_init(cfg, paths, NULL, 0, &s->colls, &s->ncolls, err);
    if (r < 0) {
        hk_scheduler_free(s);
        return r;
    }
    *ret = s;
    return 0;
}

void hk_scheduler_free(struct hk_scheduler *s)
{
    if (!s)
        return;
    hk_scheduler_stop(s);
    colls_free(s->colls, s->ncolls);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->stop_lock);
    pthread_cond_destroy(&s->stop_cond);
    free(s);
}

int hk_scheduler_add_self_metrics(struct hk_scheduler *s, hk_self_metrics_fn fn, void *userdata)
{
    pthread_mutex_lock(&s->lock);
    int r = -ENOSPC;
    if (s->nproviders < sizeof(s->providers) / sizeof(s->providers[0])) {
        s->providers[s->nproviders++] = (struct provider){fn, userdata};
        r = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

static const char *const collector_label[] = {"collector", NULL};
static const struct hk_metric_desc desc_up = {
    "hakari_collector_up", "1 if the collector's last cycle succeeded, 0 if it failed.",
    HK_METRIC_GAUGE, "", collector_label};
static const struct hk_metric_desc desc_duration = {
    "hakari_collector_duration_seconds", "Wall time of the collector's last cycle.",
    HK_METRIC_GAUGE, "seconds", collector_label};
static const struct hk_metric_desc desc_errors = {
    "hakari_collector_errors_total",
    "Failed cycles plus malformed inputs skipped by the collector.", HK_METRIC_COUNTER, "",
    collector_label};
static const struct hk_metric_desc desc_dropped = {
    "hakari_series_dropped_total",
    "Series dropped because the collector exceeded limits.max_series (or a label cap).",
    HK_METRIC_COUNTER, "", collector_label};
static const char *const build_labels[] = {"version", "revision", NULL};
static const struct hk_metric_desc desc_build = {
    "hakari_build_info", "Version and git revision of this hakari binary (always 1).",
    HK_METRIC_GAUGE, "", build_labels};
/* node_exporter's build-info family, with hakari's version: kube-prometheus' node dashboards list
 * their instances from it (label_values(node_exporter_build_info{job="node-exporter"}, instance)),
 * so without it a drop-in's node-rsrc-use dashboard shows nothing. Served with node_exporter's
 * part (/metrics/node, job="node-exporter" over remote-write). */
static const char *const ne_build_labels[] = {"branch", "goversion", "revision", "version", NULL};
static const struct hk_metric_desc desc_ne_build = {
    "node_exporter_build_info",
    "hakari standing in for node_exporter: a constant 1 labeled by hakari's version and revision "
    "(branch and goversion empty).",
    HK_METRIC_GAUGE, "", ne_build_labels};
static const struct hk_metric_desc desc_cycles = {
    "hakari_collection_cycles_total", "Collection cycles completed.", HK_METRIC_COUNTER, "", NULL};
static const struct hk_metric_desc desc_series = {
    "hakari_snapshot_series", "Series in the previous published snapshot.", HK_METRIC_GAUGE, "",
    NULL};
static const struct hk_metric_desc desc_dups = {
    "hakari_snapshot_duplicates_dropped_total",
    "Series emitted twice in one cycle (same name and labels); later copies dropped.",
    HK_METRIC_COUNTER, "", NULL};
static const struct hk_metric_desc desc_interval = {
    "hakari_collection_interval_seconds", "Configured collection interval.", HK_METRIC_GAUGE,
    "seconds", NULL};
static const struct hk_metric_desc desc_cpu = {
    "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
    HK_METRIC_COUNTER, "seconds", NULL};
static const struct hk_metric_desc desc_rss = {
    "process_resident_memory_bytes", "Resident memory size in bytes.", HK_METRIC_GAUGE, "bytes",
    NULL};
static const struct hk_metric_desc desc_vsz = {
    "process_virtual_memory_bytes", "Virtual memory size in bytes.", HK_METRIC_GAUGE, "bytes",
    NULL};
static const struct hk_metric_desc desc_start = {
    "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
    HK_METRIC_GAUGE, "seconds", NULL};
static const struct hk_metric_desc desc_fds = {
    "process_open_fds", "Number of open file descriptors.", HK_METRIC_GAUGE, "", NULL};

/* The agent's own process, from the real /proc (not --path.procfs, which may be a fixture). */
static void emit_process(struct hk_scheduler *s, struct hk_builder *b)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "re");
    if (f) {
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *p = strrchr(buf, ')');
        unsigned long utime = 0, stime = 0, vsize = 0;
        long rss = 0;
        /* Fields after the command: state(3) … utime(14) stime(15) … vsize(23) rss(24). */
        /* NOLINTNEXTLINE(cert-err34-c): kernel-written fields, conversions counted */
        if (p && sscanf(p + 2,
                        "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d "
                        "%*d %*u %lu %ld",
                        &utime, &stime, &vsize, &rss) == 4) {
            long hz = sysconf(_SC_CLK_TCK);
            long page = sysconf(_SC_PAGESIZE);
            hk_emit(b, &desc_cpu, NULL, (double)(utime + stime) / (double)(hz > 0 ? hz : 100));
            hk_emit(b, &desc_rss, NULL, (double)rss * (double)page);
            hk_emit(b, &desc_vsz, NULL, (double)vsize);
        }
    }
    hk_emit(b, &desc_start, NULL, s->start_time_s);
    /* Count the entries of /proc/self/fd (one getdents, not a probe per possible fd). */
    int fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.')
                fds++;
        closedir(d);
        fds--; /* the directory stream's own descriptor */
    }
    hk_emit(b, &desc_fds, NULL, fds);
}

int hk_scheduler_run_once(struct hk_scheduler *s)
{
    pthread_mutex_lock(&s->lock);
    hk_big_cycle_begin(); /* blocks released from here are reused within the cycle */
    struct hk_builder *b = hk_builder_new(&s->cfg->limits);
    if (!b) {
        pthread_mutex_unlock(&s->lock);
        return -ENOMEM;
    }
    hk_builder_reserve(b, &s->last_hint);
    int64_t now = wall_ms();
    for (size_t i = 0; i < s->ncolls; i++) {
        struct coll *c = &s->colls[i];
        struct coll_stats *st = &s->stats[c->index];
        struct hk_collect_ctx ctx = {b, s->paths, now, 0};
        hk_builder_begin(b, c->ops->name);
        double t0 = mono_s();
        int r = c->ops->collect(c->state, &ctx);
        st->duration_s = mono_s() - t0;
        st->ran = true;
        st->dropped += hk_builder_section_dropped(b);
        st->errors += ctx.soft_errors;
        if (r < 0) {
            hk_builder_abort(b);
            st->errors++;
            st->up = false;
            if (!st->failing)
                hk_log_warn("collector failed; its output is dropped this cycle", "collector",
                            c->ops->name, "err", strerror(-r));
            st->failing = true;
        } else {
            hk_builder_commit(b);
            st->up = true;
            if (st->failing)
                hk_log_info("collector recovered", "collector", c->ops->name);
            st->failing = false;
        }
    }

    hk_builder_begin(b, "self");
    for (size_t i = 0; i < HK_MAX_COLLECTORS && hk_collectors[i]; i++) {
        struct coll_stats *st = &s->stats[i];
        if (!st->ran)
            continue;
        const char *v[] = {hk_collectors[i]->name};
        hk_emit(b, &desc_up, v, st->up ? 1 : 0);
        hk_emit(b, &desc_duration, v, st->duration_s);
        hk_emit(b, &desc_errors, v, (double)st->errors);
        hk_emit(b, &desc_dropped, v, (double)st->dropped);
    }
    const char *bv[] = {HK_VERSION, HK_REVISION};
    hk_emit(b, &desc_build, bv, 1);
    const char *nbv[] = {"", "", HK_REVISION, HK_VERSION};
    hk_emit(b, &desc_ne_build, nbv, 1);
    hk_emit(b, &desc_cycles, NULL, (double)s->cycles);
    hk_emit(b, &desc_series, NULL, (double)s->last_series);
    hk_emit(b, &desc_dups, NULL, (double)s->duplicates_total);
    hk_emit(b, &desc_interval, NULL, (double)s->cfg->collection_interval_ms / 1000.0);
    emit_process(s, b);
    for (size_t i = 0; i < s->nproviders; i++)
        s->providers[i].fn(b, s->providers[i].userdata);
    hk_builder_commit(b);

    struct hk_seal_stats stats;
    struct hk_snapshot *snap = hk_builder_seal(b, now, &stats);
    if (!snap) {
        pthread_mutex_unlock(&s->lock);
        hk_log_error("cannot seal snapshot: out of memory");
        return -ENOMEM;
    }
    s->cycles++;
    s->last_series = stats.series;
    s->last_hint = stats.hint;
    s->duplicates_total += stats.duplicates;
    bool reuse = s->interval_ms <= HK_BIG_POOL_MAX_INTERVAL_MS;
    pthread_mutex_unlock(&s->lock);
    hk_registry_publish(s->reg, snap);
    /* What this cycle took bounds what the big-block pool keeps for the next (core/arena.h);
     * at longer intervals nothing is kept between cycles. */
    hk_big_cycle_end(reuse);
    return 0;
}

static void *loop(void *arg)
{
    struct hk_scheduler *s = arg;
    struct timespec next;
    pthread_setname_np(pthread_self(), "hk-collect"); /* top -H, perf, /proc/PID/task */
    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&s->stop_lock);
    while (!s->stop) {
        pthread_mutex_unlock(&s->stop_lock);
        hk_scheduler_run_once(s);
        /* Counts of repeated log lines that went quiet (core/log.c's rate limit). */
        hk_log_flush_suppressed(false);
        pthread_mutex_lock(&s->lock);
        int64_t iv = s->interval_ms;
        pthread_mutex_unlock(&s->lock);
        next.tv_sec += iv / 1000;
        next.tv_nsec += (iv % 1000) * 1000000;
        if (next.tv_nsec >= 1000000000) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000;
        }
        /* If a cycle overran, skip the missed ticks instead of running back to back. */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        while (next.tv_sec < now.tv_sec ||
               (next.tv_sec == now.tv_sec && next.tv_nsec < now.tv_nsec)) {
            next.tv_sec += iv / 1000;
            next.tv_nsec += (iv % 1000) * 1000000;
            if (next.tv_nsec >= 1000000000) {
                next.tv_sec++;
                next.tv_nsec -= 1000000000;
            }
        }
        pthread_mutex_lock(&s->stop_lock);
        while (!s->stop && pthread_cond_timedwait(&s->stop_cond, &s->stop_lock, &next) == 0)
            ;
    }
    pthread_mutex_unlock(&s->stop_lock);
    return NULL;
}

int hk_scheduler_start(struct hk_scheduler *s)
{
    s->stop = false;
    int r = pthread_create(&s->thread, NULL, loop, s);
    if (r)
        return -r;
    s->running = true;
    return 0;
}

void hk_scheduler_stop(struct hk_scheduler *s)
{
    if (!s->running)
        return;
    pthread_mutex_lock(&s->stop_lock);
    s->stop = true;
    pthread_cond_broadcast(&s->stop_cond);
    pthread_mutex_unlock(&s->stop_lock);
    pthread_join(s->thread, NULL);
    s->running = false;
}

int hk_scheduler_reconfigure(struct hk_scheduler *s, const struct hk_config *cfg,
                             struct hk_error *err)
{
    struct coll *colls;
    size_t n;
    pthread_mutex_lock(&s->lock);
    int r = colls_init(cfg, s->paths, s->colls, s->ncolls, &colls, &n, err);
    if (r < 0) {
        pthread_mutex_unlock(&s->lock);
        return r;
    }
    struct coll *old = s->colls;
    size_t oldn = s->ncolls;
    s->colls = colls;
    s->ncolls = n;
    s->cfg = cfg;
    s->interval_ms = cfg->collection_interval_ms;
    for (size_t i = 0; i < HK_MAX_COLLECTORS; i++)
        s->stats[i].ran = false;
    pthread_mutex_unlock(&s->lock);
    colls_free(old, oldn);
    return 0;
}
