/* SPDX-License-Identifier: Apache-2.0 */
/* Per-container and per-pod metrics from cgroups v1 and v2, cAdvisor-compatible (names, types,
 * units, the six base labels and the root / QoS / pod / sandbox / container row model of the
 * kubelet's /metrics/cadvisor). Directory and file descriptors stay open between cycles; each
 * file is read with one pread into a preallocated buffer and only the needed keys are parsed.
 *
 * Reads (relative to each hierarchy's mount, found in <procfs>/self/mountinfo):
 *   v2: cpu.stat cpu.max cpu.weight memory.{current,stat,max,min,peak,events,swap.current,
 *       swap.max} io.stat pids.{current,max} cgroup.procs cgroup.events {cpu,memory,io}.pressure
 *   v1: cpuacct.{usage,stat} cpu.{stat,cfs_period_us,cfs_quota_us,shares} memory.{usage_in_bytes,
 *       max_usage_in_bytes,failcnt,stat,limit_in_bytes,memsw.limit_in_bytes,soft_limit_in_bytes,
 *       oom_control,kmem.usage_in_bytes} blkio.throttle.io_service{_bytes,d}_recursive
 *       pids.{current,max} cgroup.procs; hybrid hosts: PSI from the same path under cgroup2
 *   <procfs>/<pid>/net/dev of the sandbox's first pid (and pid 1 for "/"), <procfs>/meminfo,
 *   <procfs>/stat (btime), <sysfs>/dev/block/MAJ:MIN/uevent, <procfs>/<pid>/fd (optional)
 *   runtime records for names: see collector/kube.c; the main process' limits and writable
 *   layer: see collector/cgroup_fs.c
 * Emits: container_cpu_{usage,user,system}_seconds_total, container_cpu_cfs_{periods,
 *   throttled_periods,throttled_seconds}_total, container_memory_{usage_bytes,working_set_bytes,
 *   rss,cache,mapped_file,swap,kernel_usage,max_usage_bytes,failcnt,failures_total,
 *   total_active_file_bytes,total_inactive_file_bytes}, container_oom_events_total,
 *   container_spec_{cpu_period,cpu_quota,cpu_shares,memory_limit_bytes,memory_swap_limit_bytes,
 *   memory_reservation_limit_bytes}, container_start_time_seconds, container_last_seen,
 *   container_network_{receive,transmit}_{bytes,packets,errors,packets_dropped}_total,
 *   container_fs_{reads,writes}{,_bytes}_total, container_blkio_device_usage_total,
 *   container_processes, container_threads, container_threads_max, container_file_descriptors,
 *   container_sockets, container_pressure_{cpu,memory,io}_{waiting,stalled}_seconds_total,
 *   container_ulimits_soft, container_fs_{usage_bytes,limit_bytes,inodes_total,inodes_free},
 *   container_pod_workload_info (pod rows; collector/workload.c),
 *   container_network_address_info (sandbox rows; collector/netaddr.c).
 * This file holds the collector ops, options and the cycle; the node index and the walk are in
 * cgroup_tree.c, the reads in cgroup_stats.c, the names in cgroup_meta.c, the families and rows
 * in cgroup_emit.c and the hierarchies in cgroup_discover.c (shared state: cgroup_collector.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/cgroup_collector.h"
#include "collector/containers.h"
#include "core/log.h"

/* ---- families ---- */

/* Bounded resources: cgroups left out because collectors.cgroup.max_cgroups was reached. */
static const struct hk_metric_desc desc_cap_skipped = {
    "hakari_cgroup_limit_skipped_total",
    "Cgroups not reported because collectors.cgroup.max_cgroups was reached (per cycle, summed).",
    HK_METRIC_COUNTER, "", NULL};

/* ---- hierarchies and files ---- */

/* spec: a limit, read when written (or every SPEC_REFRESH_CYCLES cycles) and not kept open
 * (saves descriptors). */
static const struct {
    const char *name;
    enum hier hier;
    bool spec;
} files[F_COUNT] = {
    [F2_CPU_STAT] = {"cpu.stat", H_V2},
    [F2_CPU_MAX] = {"cpu.max", H_V2, true},
    [F2_CPU_WEIGHT] = {"cpu.weight", H_V2, true},
    [F2_MEM_CURRENT] = {"memory.current", H_V2},
    [F2_MEM_STAT] = {"memory.stat", H_V2},
    [F2_MEM_MAX] = {"memory.max", H_V2, true},
    [F2_MEM_MIN] = {"memory.min", H_V2, true},
    [F2_MEM_PEAK] = {"memory.peak", H_V2},
    [F2_MEM_EVENTS] = {"memory.events", H_V2},
    [F2_SWAP_CURRENT] = {"memory.swap.current", H_V2},
    [F2_SWAP_MAX] = {"memory.swap.max", H_V2, true},
    [F2_IO_STAT] = {"io.stat", H_V2},
    [F2_PIDS_CURRENT] = {"pids.current", H_V2},
    [F2_PIDS_MAX] = {"pids.max", H_V2, true},
    [F2_PROCS] = {"cgroup.procs", H_V2},
    [F_PSI_CPU] = {"cpu.pressure", H_V2},
    [F_PSI_MEM] = {"memory.pressure", H_V2},
    [F_PSI_IO] = {"io.pressure", H_V2},
    [F1_CPUACCT_USAGE] = {"cpuacct.usage", H_CPUACCT},
    [F1_CPUACCT_STAT] = {"cpuacct.stat", H_CPUACCT},
    [F1_CPU_STAT] = {"cpu.stat", H_CPU},
    [F1_CFS_PERIOD] = {"cpu.cfs_period_us", H_CPU, true},
    [F1_CFS_QUOTA] = {"cpu.cfs_quota_us", H_CPU, true},
    [F1_SHARES] = {"cpu.shares", H_CPU, true},
    [F1_MEM_USAGE] = {"memory.usage_in_bytes", H_MEMORY},
    [F1_MEM_MAX_USAGE] = {"memory.max_usage_in_bytes", H_MEMORY},
    [F1_MEM_FAILCNT] = {"memory.failcnt", H_MEMORY},
    [F1_MEM_STAT] = {"memory.stat", H_MEMORY},
    [F1_MEM_LIMIT] = {"memory.limit_in_bytes", H_MEMORY, true},
    [F1_MEMSW_LIMIT] = {"memory.memsw.limit_in_bytes", H_MEMORY, true},
    [F1_MEM_SOFT] = {"memory.soft_limit_in_bytes", H_MEMORY, true},
    [F1_MEM_OOM] = {"memory.oom_control", H_MEMORY},
    [F1_KMEM_USAGE] = {"memory.kmem.usage_in_bytes", H_MEMORY},
    [F1_BLKIO_BYTES] = {"blkio.throttle.io_service_bytes_recursive", H_BLKIO},
    [F1_BLKIO_IOS] = {"blkio.throttle.io_serviced_recursive", H_BLKIO},
    [F1_PIDS_CURRENT] = {"pids.current", H_PIDS},
    [F1_PIDS_MAX] = {"pids.max", H_PIDS, true},
    [F1_PROCS] = {"cgroup.procs", H_CPU},
};

/* ---- options ---- */

static const char *const option_keys[] = {HK_COLLECTOR_COMMON_KEYS,
                                          "roots",
                                          "extra_roots",
                                          "metrics",
                                          "file_descriptors",
                                          "keep_files_open",
                                          "max_cgroups",
                                          "fs_usage_interval",
                                          "fs_usage_budget",
                                          NULL};

/* Items of a list option, or of a comma-separated scalar (flags set scalars). */
static int for_each_item(const struct hk_yaml_node *n, struct hk_error *err,
                         int (*fn)(const char *s, size_t len, const struct hk_yaml_node *at,
                                   void *ud),
                         void *ud)
{
    if (!n || (n->kind == HK_YAML_SCALAR && n->plain_null))
        return 0;
    if (n->kind == HK_YAML_SEQ) {
        for (size_t i = 0; i < n->n; i++) {
            if (n->items[i]->kind != HK_YAML_SCALAR)
                return hk_error_at(err, n->items[i], "expected a string");
            int r = fn(n->items[i]->scalar, strlen(n->items[i]->scalar), n->items[i], ud);
            if (r < 0)
                return r;
        }
        return 0;
    }
    if (n->kind != HK_YAML_SCALAR)
        return hk_error_at(err, n, "expected a list or a comma-separated string");
    const char *p = n->scalar;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        while (l && (*p == ' '))
            p++, l--;
        while (l && p[l - 1] == ' ')
            l--;
        if (l) {
            int r = fn(p, l, n, ud);
            if (r < 0)
                return r;
        }
        p = comma ? comma + 1 : p + strlen(p);
    }
    return 0;
}

struct pattern_ctx {
    struct hk_error *err;
    bool *mask; /* NULL: validate only */
    bool value;
    bool matched_any;
};

static int apply_pattern(const char *s, size_t len, const struct hk_yaml_node *at, void *ud)
{
    struct pattern_ctx *pc = ud;
    char pat[128];
    if (len >= sizeof(pat))
        return hk_error_at(pc->err, at, "metric pattern too long");
    memcpy(pat, s, len);
    pat[len] = '\0';
    bool any = false;
    for (int i = 0; i < M_COUNT; i++) {
        if (fnmatch(pat, hk_cgroup_fams[i].name, 0) != 0)
            continue;
        any = true;
        if (pc->mask)
            pc->mask[i] = pc->value;
    }
    if (!any)
        return hk_error_at(pc->err, at, "\"%s\" matches no cgroup metric family", pat);
    return 0;
}

static int check_root(const char *s, size_t len, const struct hk_yaml_node *at, void *ud)
{
    struct hk_error *err = ud;
    if (len == 0 || len > 200 || memmem(s, len, "..", 2))
        return hk_error_at(err, at, "extra_roots: invalid cgroup path");
    return 0;
}

/* Validates options and, with st, applies them. */
static int parse_options(const struct hk_yaml_node *opts, struct hk_error *err,
                         struct cgroup_state *st)
{
    int r = hk_yaml_check_keys(opts, option_keys, err);
    if (r < 0)
        return r;
    const struct hk_yaml_node *n;
    bool b;
    uint64_t v;
    if ((n = hk_yaml_get(opts, "file_descriptors"))) {
        if ((r = hk_yaml_bool(n, &b, err)) < 0)
            return r;
        if (st)
            st->count_fds = b;
    }
    if ((n = hk_yaml_get(opts, "keep_files_open"))) {
        if ((r = hk_yaml_bool(n, &b, err)) < 0)
            return r;
        if (st)
            st->cache_files = b;
    }
    if ((n = hk_yaml_get(opts, "max_cgroups"))) {
        if ((r = hk_yaml_u64(n, 1, 1000000, &v, err)) < 0)
            return r;
        if (st)
            st->max_cgroups = (uint32_t)v;
    }
    int64_t ms;
    if ((n = hk_yaml_get(opts, "fs_usage_interval"))) {
        if ((r = hk_yaml_duration_ms(n, &ms, err)) < 0)
            return r;
        if (ms < 1000 || ms > 86400000)
            return hk_error_at(err, n, "fs_usage_interval must be between 1s and 24h");
        if (st)
            st->fs_opts.interval_ms = ms;
    }
    if ((n = hk_yaml_get(opts, "fs_usage_budget"))) {
        if ((r = hk_yaml_duration_ms(n, &ms, err)) < 0)
            return r;
        if (ms < 0 || ms > 10000)
            return hk_error_at(err, n, "fs_usage_budget must be between 0s and 10s");
        if (st)
            st->fs_opts.budget_us = ms * 1000;
    }
    if ((n = hk_yaml_get(opts, "extra_roots")) && (r = for_each_item(n, err, check_root, err)) < 0)
        return r;
    if ((n = hk_yaml_get(opts, "roots")) && (r = for_each_item(n, err, check_root, err)) < 0)
        return r;
    if ((n = hk_yaml_get(opts, "metrics"))) {
        static const char *const mkeys[] = {"allow", "deny", NULL};
        if ((r = hk_yaml_expect(n, HK_YAML_MAP, err)) < 0 ||
            (r = hk_yaml_check_keys(n, mkeys, err)) < 0)
            return r;
        const struct hk_yaml_node *allow = hk_yaml_get(n, "allow");
        const struct hk_yaml_node *deny = hk_yaml_get(n, "deny");
        struct pattern_ctx pc = {err, st ? st->enabled : NULL, true, false};
        if (allow && !(allow->kind == HK_YAML_SCALAR && allow->plain_null)) {
            if (st)
                for (int i = 0; i < M_COUNT; i++)
                    st->enabled[i] = false;
            if ((r = for_each_item(allow, err, apply_pattern, &pc)) < 0)
                return r;
        }
        pc.value = false;
        if (deny && (r = for_each_item(deny, err, apply_pattern, &pc)) < 0)
            return r;
    }
    return 0;
}

static int add_root(const char *s, size_t len, const struct hk_yaml_node *at, void *ud)
{
    struct cgroup_state *st = ud;
    while (len && *s == '/')
        s++, len--;
    while (len && s[len - 1] == '/')
        len--;
    if (!len)
        return 0;
    char **nr = realloc(st->roots, (st->nroots + 1) * sizeof(*nr));
    if (!nr)
        return -ENOMEM;
    st->roots = nr;
    if (!(st->roots[st->nroots] = strndup(s, len)))
        return -ENOMEM;
    st->nroots++;
    return 0;
}

static int cgroup_check(const struct hk_collector_env *env)
{
    return parse_options(env->options, env->err, NULL);
}

/* ---- low-level reads ---- */

void hk_cgroup_fd_exhausted(struct cgroup_state *st)
{
    if (!st->emfile_logged)
        hk_log_warn("out of file descriptors; raise the open files limit (ulimit -n)", "collector",
                    "cgroup");
    st->emfile_logged = true;
    st->fd_budget = st->nfds; /* keep what we have, open nothing more for caching */
}

/* Reads file f of node n into st->buf with one pread on a cached fd. Returns the length, or
 * -ENOENT (absent, remembered), -ENODEV (cgroup removed), -EFBIG, -errno. */
ssize_t hk_cgroup_node_read(struct cgroup_state *st, struct node *n, enum file f)
{
    int fd = n->fd[f];
    if (fd == FD_ABSENT)
        return -ENOENT;
    bool temp = false;
    if (fd == FD_UNOPENED) {
        int dfd = n->dir_fd[st->hier_alias[files[f].hier]];
        if (dfd < 0) {
            n->fd[f] = FD_ABSENT;
            return -ENOENT;
        }
        fd = openat(dfd, files[f].name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            int e = errno;
            if (e == ENOENT)
                n->fd[f] = FD_ABSENT;
            if (e == EMFILE || e == ENFILE)
                hk_cgroup_fd_exhausted(st);
            return -e;
        }
        if (st->cache_files && !files[f].spec && st->nfds < st->fd_budget) {
            n->fd[f] = fd;
            st->nfds++;
        } else {
            temp = true;
        }
    }
    ssize_t r = pread(fd, st->buf, READ_BUF - 1, 0);
    if (r < 0)
        r = -errno;
    else if (r == READ_BUF - 1)
        r = -EFBIG;
    else
        st->buf[r] = '\0';
    if (temp)
        close(fd);
    return r;
}

/* Watches n's limit files (the files[] marked spec, of this hierarchy's version) before their
 * first read, so no write after it goes unseen. n is "spec_watched" only when every limit file
 * it has is watched. */
static void spec_watch_setup(struct cgroup_state *st, struct node *n)
{
    n->spec_watch_tried = true;
    if (!st->spec_watch)
        return;
    for (enum file f = 0; f < F_COUNT; f++) {
        if (!files[f].spec || (files[f].hier == H_V2) != st->v2)
            continue;
        int dfd = n->dir_fd[st->hier_alias[files[f].hier]];
        if (n->fd[f] == FD_ABSENT || dfd < 0)
            continue;
        int wd = n->nspec_wd < SPEC_MAX_FILES
                     ? hk_cgroupfs_watch_add_file(st->spec_watch, dfd, files[f].name, n)
                     : -E2BIG;
        if (wd >= 0) {
            n->spec_wd[n->nspec_wd++] = (int)wd;
            continue;
        }
        /* Absent: never read (hk_cgroup_node_read remembers the same). Unless the file is there
         * and only its path through /proc/self/fd was not (no /proc): then not watched. */
        if (wd == -ENOENT && faccessat(dfd, files[f].name, F_OK, 0) < 0 && errno == ENOENT) {
            n->fd[f] = FD_ABSENT;
            continue;
        }
        if (!st->spec_watch_logged) {
            char err[16];
            snprintf(err, sizeof(err), "%d", -wd);
            hk_log_warn("cgroup limit file not watched; such cgroups re-read their limits "
                        "every 6 cycles",
                        "file", files[f].name, "errno", err, "hint",
                        wd == -ENOSPC ? "raise fs.inotify.max_user_watches" : "");
            st->spec_watch_logged = true;
        }
        return; /* not all watched: the periodic re-read */
    }
    n->spec_watched = true;
}

bool hk_cgroup_spec_due(struct cgroup_state *st, struct node *n)
{
    if (!n->spec_watch_tried)
        spec_watch_setup(st, n);
    if (!n->spec.valid)
        return true;
    if (n->spec_watched)
        return n->spec_dirty;
    return st->gen - n->spec_gen >= SPEC_REFRESH_CYCLES;
}

bool hk_cgroup_node_u64(struct cgroup_state *st, struct node *n, enum file f, uint64_t *ret,
                        bool *ret_max, bool *any)
{
    ssize_t len = hk_cgroup_node_read(st, n, f);
    if (len < 0)
        return false;
    *any = true;
    bool is_max = false;
    if (hk_cg_parse_value(st->buf, (size_t)len, ret, &is_max) < 0)
        return false;
    if (ret_max)
        *ret_max = is_max;
    return true;
}

bool hk_cgroup_node_keyed(struct cgroup_state *st, struct node *n, enum file f,
                          const char *const *keys, size_t nkeys, uint64_t *vals, uint64_t *found,
                          bool *any)
{
    *found = 0;
    ssize_t len = hk_cgroup_node_read(st, n, f);
    if (len < 0)
        return false;
    *any = true;
    hk_cg_parse_keyed(st->buf, (size_t)len, keys, nkeys, vals, found);
    return true;
}

/* ---- nodes ---- */

static int publish_index(struct cgroup_state *st)
{
    if (st->entries_cap < st->nlist) {
        struct hk_container_entry *e = realloc(st->entries, st->nlist * sizeof(*e));
        if (!e)
            return -ENOMEM;
        st->entries = e;
        st->entries_cap = st->nlist;
    }
    for (size_t i = 0; i < st->nlist; i++) {
        const char *lab[6];
        hk_cgroup_node_labels(st->list[i], lab);
        st->entries[i] =
            (struct hk_container_entry){lab[1], lab[0], lab[2], lab[3], lab[4], lab[5]};
    }
    return hk_containers_publish(st->entries, st->nlist);
}

static void read_meminfo(struct cgroup_state *st)
{
    char buf[8192];
    ssize_t len = hk_read_file_at(st->paths->proc_fd, "meminfo", buf, sizeof(buf));
    if (len < 0 || hk_cg_parse_meminfo(buf, (size_t)len, &st->meminfo) < 0)
        memset(&st->meminfo, 0, sizeof(st->meminfo));
}

static int cgroup_collect(void *state, struct hk_collect_ctx *ctx)
{
    struct cgroup_state *st = state;
    if (st->hier_fd[st->walk_hier] < 0)
        return 0;
    st->gen++;
    st->nlist = 0;
    st->cap_skipped_cycle = 0;
    hk_cgfs_begin(st->fs, ctx->now_ms);
    read_meminfo(st);
    hk_cgroup_poll_changes(st);
    struct node *root = hk_cgroup_visit(st, "/");
    if (!root) {
        hk_cgroup_sweep(st);
        return 0;
    }
    for (size_t i = 0; i < st->nroots; i++) {
        char path[512];
        snprintf(path, sizeof(path), "/%s", st->roots[i]);
        struct node *n = hk_cgroup_visit(st, path);
        if (n)
            hk_cgroup_walk(st, n, 1);
    }
    hk_cgroup_sweep(st);
    hk_cgroup_kubelet_refresh(st, ctx->now_ms);
    for (size_t i = 0; i < st->nlist; i++) {
        struct node *n = st->list[i];
        hk_cgroup_kubelet_apply(st, n);
        hk_cgroup_learn_pod_names(st, n);
        if (n->layout.kind == HK_KUBE_POD && !n->pod_name && st->nkpods) {
            const struct kpod *p = hk_cgroup_kpod_find(st, n->layout.pod_uid);
            if (p) {
                n->pod_name = strdup(p->name);
                n->pod_ns = strdup(p->ns);
                if (!n->pod_name || !n->pod_ns) {
                    free(n->pod_name);
                    free(n->pod_ns);
                    n->pod_name = n->pod_ns = NULL;
                }
            }
        }
    }
    for (size_t i = 0; i < st->nlist; i++) {
        struct node *n = st->list[i];
        struct stats s;
        memset(&s, 0, STATS_CLEAR);
        s.ndevs = 0;
        if (hk_cgroup_spec_due(st, n)) {
            n->spec_dirty = false; /* a write from here on is in the next cycle's events */
            hk_cgroup_read_spec(st, n, &s.any);
        }
        if (st->v2)
            hk_cgroup_read_v2(st, n, &s, n->layout.kind == HK_KUBE_ROOT);
        else
            hk_cgroup_read_v1(st, n, &s, n->layout.kind == HK_KUBE_ROOT);
        if (!s.any)
            continue; /* vanished after listing: no error, gone from this snapshot */
        if (st->count_fds && hk_cgroup_want_any(st, M_FDS, M_SOCKETS))
            hk_cgroup_count_fds(st, n, &s);
        const char *lab[6];
        hk_cgroup_node_labels(n, lab);
        hk_cgroup_emit_node(st, ctx, n, &s, lab);
    }
    st->cap_skipped_total += st->cap_skipped_cycle;
    if (st->cap_skipped_cycle && !st->cap_logged)
        hk_log_warn("cgroup limit reached; further cgroups are not reported", "collector", "cgroup",
                    "option", "max_cgroups");
    else if (!st->cap_skipped_cycle && st->cap_logged)
        hk_log_info("cgroup count back under the limit", "collector", "cgroup", "option",
                    "max_cgroups");
    st->cap_logged = st->cap_skipped_cycle > 0;
    hk_emit(ctx->b, &desc_cap_skipped, NULL, (double)st->cap_skipped_total);
    int r = publish_index(st);
    if (r < 0)
        return r;
    return 0;
}

static void cgroup_fini(void *state)
{
    struct cgroup_state *st = state;
    if (!st)
        return;
    hk_cgroup_tree_free(st);
    for (int h = 0; h < H_COUNT; h++)
        if (st->hier_fd[h] >= 0)
            close(st->hier_fd[h]);
    for (size_t i = 0; i < st->nroots; i++)
        free(st->roots[i]);
    free(st->roots);
    free(st->list);
    free(st->entries);
    free(st->buf);
    hk_cgfs_free(st->fs);
    hk_cgroup_kubelet_clear(st);
    hk_kubelet_config_free(&st->kubelet);
    free(st);
}

static int cgroup_init(void **ret_state, const struct hk_collector_env *env)
{
    struct cgroup_state *st = calloc(1, sizeof(*st));
    int r = -ENOMEM;
    if (!st)
        return -ENOMEM;
    st->paths = env->paths;
    for (int h = 0; h < H_COUNT; h++)
        st->hier_fd[h] = -1;
    for (int i = 0; i < M_COUNT; i++)
        st->enabled[i] = i != M_FDS && i != M_SOCKETS;
    st->cache_files = true;
    st->max_cgroups = 20000;
    /* cAdvisor measures a container's layer once a minute (its du period). */
    st->fs_opts = (struct hk_cgfs_options){
        .interval_ms = 60000, .budget_us = 5000, .statfs_timeout_ms = 5000};
    if (!(st->buf = malloc(READ_BUF)))
        goto out;
    if ((r = parse_options(env->options, env->err, st)) < 0)
        goto out;
    if ((r = hk_kubelet_config_parse(env->config, &st->kubelet, env->err)) < 0)
        goto out;
    if (st->count_fds)
        st->enabled[M_FDS] = st->enabled[M_SOCKETS] = true;
    /* The kubelet's node-allocatable roots (both drivers), unless configured (--cgroup-root). */
    const struct hk_yaml_node *roots = hk_yaml_get(env->options, "roots");
    if (roots) {
        if ((r = for_each_item(roots, env->err, add_root, st)) < 0)
            goto out;
    } else if ((r = add_root("kubepods.slice", 14, NULL, st)) < 0 ||
               (r = add_root("kubepods", 8, NULL, st)) < 0) {
        goto out;
    }
    if ((r = for_each_item(hk_yaml_get(env->options, "extra_roots"), env->err, add_root, st)) < 0)
        goto out;
    /* The metrics allow/deny options may have re-enabled fd counting families. */
    if (!st->count_fds)
        st->enabled[M_FDS] = st->enabled[M_SOCKETS] = false;
    if ((r = hk_cgfs_new(st->paths, &st->fs_opts, &st->fs)) < 0)
        goto out;
    hk_cgroup_discover(st);
    if (hk_cgroupfs_watch_new(&st->watch) < 0)
        hk_log_info("no inotify: cgroup directories are listed every cycle", "collector",
                    "cgroup");
    if (hk_cgroupfs_watch_new(&st->spec_watch) < 0)
        st->spec_watch = NULL; /* limits re-read every SPEC_REFRESH_CYCLES cycles */
    hk_cgroup_read_boot_time(st);
    hk_cgroup_read_sandbox_image(st);
    /* Up to ~24 descriptors per cgroup stay open: raise the soft limit to the hard one, and
     * leave a reserve for the HTTP server, remote write and the other collectors. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (st->cache_files && rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                getrlimit(RLIMIT_NOFILE, &rl);
        }
        size_t lim = rl.rlim_cur == RLIM_INFINITY ? 1 << 20 : (size_t)rl.rlim_cur;
        st->fd_budget = lim > 1024 ? lim - lim / 16 - 256 : lim / 2;
    }
    hk_log_debug("cgroup discovery", "mode", st->v2 ? "v2" : "v1", "unified",
                 st->hier_fd[H_V2] >= 0 ? "yes" : "no");
    *ret_state = st;
    return 0;
out:
    cgroup_fini(st);
    return r;
}

const struct hk_collector_ops hk_collector_cgroup = {
    .name = "cgroup",
    .help = "per-container and per-pod metrics from cgroups v1/v2 (cAdvisor-compatible)",
    .default_enabled = true,
    .check = cgroup_check,
    .init = cgroup_init,
    .collect = cgroup_collect,
    .fini = cgroup_fini,
};
