/* SPDX-License-Identifier: Apache-2.0 */
/* The cgroup collector's per-cgroup reads (see the file list in collector/cgroup.c): limits (the
 * spec), the v2 unified hierarchy, the v1 controllers (with PSI from cgroup2 on hybrid hosts) and
 * the optional descriptor count over /proc/<pid>/fd. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/cgroup_collector.h"
#include "core/parse.h"

/* >2^62 means "unlimited" in cAdvisor's spec metrics. */
static uint64_t spec_limit(uint64_t v, bool is_max)
{
    return is_max || v > (1ULL << 62) ? 0 : v;
}

static bool want_mem(const struct cgroup_state *st)
{
    for (int m = M_MEM_USAGE; m <= M_MEM_INACTIVE_FILE; m++)
        if (st->enabled[m])
            return true;
    return false;
}

bool hk_cgroup_want_any(const struct cgroup_state *st, int from, int to)
{
    for (int m = from; m <= to; m++)
        if (st->enabled[m])
            return true;
    return false;
}

/* Limits of one cgroup (v1 or v2) into n->spec. */
void hk_cgroup_read_spec(struct cgroup_state *st, struct node *n, bool *any)
{
    struct spec sp = {.valid = true};
    bool mx = false, mx2 = false, mx3 = false;
    uint64_t a, b, c;
    if (hk_cgroup_want_any(st, M_CFS_PERIODS, M_CFS_THR_SECONDS) ||
        hk_cgroup_want_any(st, M_SPEC_CPU_PERIOD, M_SPEC_CPU_SHARES)) {
        if (st->v2) {
            ssize_t len = hk_cgroup_node_read(st, n, F2_CPU_MAX);
            if (len >= 0) {
                *any = true;
                sp.has_cpu =
                    hk_cg_parse_cpu_max(st->buf, (size_t)len, &sp.cpu_quota, &sp.cpu_period) == 0;
                if (hk_cgroup_node_u64(st, n, F2_CPU_WEIGHT, &a, NULL, any) && a >= 1 &&
                    a <= 10000) {
                    /* cAdvisor's weight → shares conversion (integer math). */
                    sp.cpu_shares = 2 + ((a - 1) * 262142) / 9999;
                    sp.has_shares = true;
                }
            }
        } else if (hk_cgroup_node_u64(st, n, F1_CFS_PERIOD, &sp.cpu_period, NULL, any)) {
            sp.has_cpu = true;
            if (!hk_cgroup_node_u64(st, n, F1_CFS_QUOTA, &sp.cpu_quota, &mx, any) || mx)
                sp.cpu_quota = 0;
            sp.has_shares = hk_cgroup_node_u64(st, n, F1_SHARES, &sp.cpu_shares, NULL, any);
        }
    }
    if (hk_cgroup_want_any(st, M_SPEC_MEM_LIMIT, M_SPEC_MEM_RES)) {
        enum file fl = st->v2 ? F2_MEM_MAX : F1_MEM_LIMIT;
        enum file fs = st->v2 ? F2_SWAP_MAX : F1_MEMSW_LIMIT;
        enum file fr = st->v2 ? F2_MEM_MIN : F1_MEM_SOFT;
        if (hk_cgroup_node_u64(st, n, fl, &a, &mx, any)) {
            sp.has_mem = true;
            sp.mem_limit = spec_limit(a, mx);
            sp.swap_limit = hk_cgroup_node_u64(st, n, fs, &b, &mx2, any) ? spec_limit(b, mx2) : 0;
            sp.mem_reservation =
                hk_cgroup_node_u64(st, n, fr, &c, &mx3, any) ? spec_limit(c, mx3) : 0;
        }
    }
    if (st->enabled[M_THREADS_MAX]) {
        sp.has_threads_max = hk_cgroup_node_u64(st, n, st->v2 ? F2_PIDS_MAX : F1_PIDS_MAX,
                                                &sp.threads_max, &mx, any);
        if (sp.has_threads_max && mx)
            sp.threads_max = 0;
    }
    n->spec = sp;
    n->spec_gen = st->gen;
}

static void read_psi(struct cgroup_state *st, struct node *n, struct stats *s)
{
    if (!hk_cgroup_want_any(st, M_PSI_CPU_WAIT, M_PSI_IO_STALL))
        return;
    for (int i = 0; i < 3; i++) {
        ssize_t len = hk_cgroup_node_read(st, n, (enum file)(F_PSI_CPU + i));
        if (len < 0)
            continue;
        if (st->v2)
            s->any = true;
        s->has_psi[i] = hk_cg_parse_pressure(st->buf, (size_t)len, &s->psi[i]) == 0;
    }
}

/* The memory figures both cgroup versions read from memory.stat, in the order of their key
 * tables: v[0] rss, cache, mapped_file, active_file, inactive_file, pgfault, pgmajfault. The
 * working set is usage less inactive_file (found bit 4), as cAdvisor computes it. */
static void set_mem(struct stats *s, uint64_t usage, const uint64_t *v, uint64_t found)
{
    s->has_mem = true;
    s->mem_usage = usage;
    s->rss = v[0];
    s->cache = v[1];
    s->mapped = v[2];
    s->active_file = v[3];
    s->inactive_file = v[4];
    s->pgfault = v[5];
    s->pgmajfault = v[6];
    s->mem_ws = (found & (1ull << 4)) ? (usage > v[4] ? usage - v[4] : 0) : usage;
}

void hk_cgroup_read_v2(struct cgroup_state *st, struct node *n, struct stats *s, bool is_root)
{
    uint64_t v[16], found;
    if (hk_cgroup_want_any(st, M_CPU_USAGE, M_CFS_THR_SECONDS)) {
        static const char *const k[] = {"usage_usec", "user_usec",    "system_usec",
                                        "nr_periods", "nr_throttled", "throttled_usec"};
        memset(v, 0, sizeof(v));
        if (hk_cgroup_node_keyed(st, n, F2_CPU_STAT, k, 6, v, &found, &s->any) && (found & 1)) {
            s->has_cpu = true;
            s->cpu_usage_s = (double)v[0] / 1e6;
            s->cpu_user_s = (double)v[1] / 1e6;
            s->cpu_system_s = (double)v[2] / 1e6;
            s->nr_periods = v[3];
            s->nr_throttled = v[4];
            s->throttled_s = (double)v[5] / 1e6;
        }
    }
    ssize_t len;
    s->has_cfs = s->has_cpu && n->spec.has_cpu && n->spec.cpu_quota != 0;
    if (want_mem(st) || st->enabled[M_OOM] || st->enabled[M_MEM_FAILCNT]) {
        static const char *const k[] = {"anon",          "file",    "file_mapped", "active_file",
                                        "inactive_file", "pgfault", "pgmajfault",  "kernel"};
        memset(v, 0, sizeof(v));
        bool have_stat = hk_cgroup_node_keyed(st, n, F2_MEM_STAT, k, 8, v, &found, &s->any);
        uint64_t usage;
        bool have_usage = hk_cgroup_node_u64(st, n, F2_MEM_CURRENT, &usage, NULL, &s->any);
        if (!have_usage && is_root && have_stat) {
            usage = v[0] + v[1]; /* the root has no memory.current (cAdvisor emulates it too) */
            have_usage = true;
        }
        if (have_usage && have_stat) {
            set_mem(s, usage, v, found);
            s->kernel = v[7];
            /* No swap on the host, or its family off: nothing to read (a read per cgroup). */
            if (is_root)
                s->swap = st->meminfo.swap_total - st->meminfo.swap_free;
            else if (!st->meminfo.swap_total || !st->enabled[M_MEM_SWAP] ||
                     !hk_cgroup_node_u64(st, n, F2_SWAP_CURRENT, &s->swap, NULL, &s->any))
                s->swap = 0;
            if (!st->enabled[M_MEM_MAX_USAGE] ||
                !hk_cgroup_node_u64(st, n, F2_MEM_PEAK, &s->max_usage, NULL, &s->any))
                s->max_usage = 0;
        }
        static const char *const ek[] = {"max", "oom_kill"};
        memset(v, 0, sizeof(v));
        if ((st->enabled[M_OOM] || st->enabled[M_MEM_FAILCNT]) &&
            hk_cgroup_node_keyed(st, n, F2_MEM_EVENTS, ek, 2, v, &found, &s->any)) {
            s->failcnt = v[0];
            s->has_oom = (found & 2) != 0;
            s->oom_kills = v[1];
        }
    }
    if (hk_cgroup_want_any(st, M_FS_READ_BYTES, M_BLKIO_USAGE)) {
        len = hk_cgroup_node_read(st, n, F2_IO_STAT);
        if (len >= 0) {
            s->any = true;
            int k = hk_cg_parse_io_stat(st->buf, (size_t)len, s->devs, HK_CG_MAX_BLKDEVS);
            s->ndevs = k > 0 ? (size_t)k : 0;
        }
    }
    len = hk_cgroup_node_read(st, n, F2_PROCS);
    if (len >= 0) {
        s->any = true;
        s->has_procs = true;
        s->procs = hk_cg_count_procs(st->buf, (size_t)len, &s->first_pid);
    }
    if (hk_cgroup_want_any(st, M_THREADS, M_THREADS_MAX)) {
        s->has_threads = hk_cgroup_node_u64(st, n, F2_PIDS_CURRENT, &s->threads, NULL, &s->any);
        if (!s->has_threads && s->has_procs) {
            s->threads = s->procs;
            s->has_threads = true;
        }
    }
    read_psi(st, n, s);
}

void hk_cgroup_read_v1(struct cgroup_state *st, struct node *n, struct stats *s, bool is_root)
{
    uint64_t v[16], found, x;
    if (hk_cgroup_want_any(st, M_CPU_USAGE, M_CFS_THR_SECONDS)) {
        if (hk_cgroup_node_u64(st, n, F1_CPUACCT_USAGE, &x, NULL, &s->any)) {
            s->has_cpu = true;
            s->cpu_usage_s = (double)x / 1e9;
            static const char *const k[] = {"user", "system"};
            memset(v, 0, sizeof(v));
            hk_cgroup_node_keyed(st, n, F1_CPUACCT_STAT, k, 2, v, &found, &s->any);
            /* USER_HZ is 100 on every Linux ABI. */
            s->cpu_user_s = (double)v[0] / 100.0;
            s->cpu_system_s = (double)v[1] / 100.0;
        }
    }
    if (s->has_cpu && n->spec.has_cpu && n->spec.cpu_quota != 0 &&
        hk_cgroup_want_any(st, M_CFS_PERIODS, M_CFS_THR_SECONDS)) {
        static const char *const k[] = {"nr_periods", "nr_throttled", "throttled_time"};
        memset(v, 0, sizeof(v));
        if (hk_cgroup_node_keyed(st, n, F1_CPU_STAT, k, 3, v, &found, &s->any) && (found & 1)) {
            s->has_cfs = true;
            s->nr_periods = v[0];
            s->nr_throttled = v[1];
            s->throttled_s = (double)v[2] / 1e9;
        }
    }
    if (want_mem(st) || st->enabled[M_OOM]) {
        static const char *const k[] = {"total_rss",
                                        "total_cache",
                                        "total_mapped_file",
                                        "total_active_file",
                                        "total_inactive_file",
                                        "pgfault",
                                        "pgmajfault",
                                        "total_swap",
                                        "rss",
                                        "cache",
                                        "mapped_file",
                                        "active_file",
                                        "inactive_file",
                                        "swap"};
        memset(v, 0, sizeof(v));
        uint64_t usage;
        bool have_usage = hk_cgroup_node_u64(st, n, F1_MEM_USAGE, &usage, NULL, &s->any);
        if (have_usage && hk_cgroup_node_keyed(st, n, F1_MEM_STAT, k, 14, v, &found, &s->any)) {
            /* Hierarchical total_* keys (use_hierarchy=1, always on modern kernels), else the
             * local ones. */
            for (int i = 0; i < 5; i++)
                if (!(found & (1u << i)) && (found & (1u << (8 + i))))
                    v[i] = v[8 + i], found |= 1u << i;
            if (!(found & (1u << 7)))
                v[7] = v[13];
            set_mem(s, usage, v, found);
            s->swap = is_root ? st->meminfo.swap_total - st->meminfo.swap_free : v[7];
            /* Each file only for its family (the metrics allow/deny option). */
            if (!st->enabled[M_MEM_MAX_USAGE] ||
                !hk_cgroup_node_u64(st, n, F1_MEM_MAX_USAGE, &s->max_usage, NULL, &s->any))
                s->max_usage = 0;
            if (!st->enabled[M_MEM_FAILCNT] ||
                !hk_cgroup_node_u64(st, n, F1_MEM_FAILCNT, &s->failcnt, NULL, &s->any))
                s->failcnt = 0;
            if (!st->enabled[M_MEM_KERNEL] ||
                !hk_cgroup_node_u64(st, n, F1_KMEM_USAGE, &s->kernel, NULL, &s->any))
                s->kernel = 0;
        }
        static const char *const ok[] = {"oom_kill"};
        memset(v, 0, sizeof(v));
        if (st->enabled[M_OOM] &&
            hk_cgroup_node_keyed(st, n, F1_MEM_OOM, ok, 1, v, &found, &s->any) && (found & 1)) {
            s->has_oom = true;
            s->oom_kills = v[0];
        }
    }
    if (hk_cgroup_want_any(st, M_FS_READ_BYTES, M_BLKIO_USAGE)) {
        ssize_t len = hk_cgroup_node_read(st, n, F1_BLKIO_BYTES);
        if (len >= 0) {
            s->any = true;
            hk_cg_parse_blkio(st->buf, (size_t)len, true, s->devs, &s->ndevs, HK_CG_MAX_BLKDEVS);
        }
        len = hk_cgroup_node_read(st, n, F1_BLKIO_IOS);
        if (len >= 0) {
            s->any = true;
            hk_cg_parse_blkio(st->buf, (size_t)len, false, s->devs, &s->ndevs, HK_CG_MAX_BLKDEVS);
        }
    }
    ssize_t len = hk_cgroup_node_read(st, n, F1_PROCS);
    if (len >= 0) {
        s->any = true;
        s->has_procs = true;
        s->procs = hk_cg_count_procs(st->buf, (size_t)len, &s->first_pid);
    }
    if (hk_cgroup_want_any(st, M_THREADS, M_THREADS_MAX)) {
        s->has_threads = hk_cgroup_node_u64(st, n, F1_PIDS_CURRENT, &s->threads, NULL, &s->any);
    }
    read_psi(st, n, s); /* hybrid: the unified hierarchy's PSI for the same path */
}

/* Σ /proc/<pid>/fd entries over the cgroup's pids, and those that are sockets. Costly (one
 * readlink per fd), hence off by default. */
void hk_cgroup_count_fds(struct cgroup_state *st, struct node *n, struct stats *s)
{
    ssize_t len = hk_cgroup_node_read(st, n, st->v2 ? F2_PROCS : F1_PROCS);
    if (len < 0)
        return;
    size_t cap = (size_t)len + 1;
    char *pids = malloc(cap);
    if (!pids)
        return;
    memcpy(pids, st->buf, cap);
    s->has_fds = true;
    const char *p = pids, *end = pids + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        uint64_t pid;
        if (e > p && hk_parse_u64(p, (size_t)(e - p), &pid) == 0) {
            char dir[64];
            snprintf(dir, sizeof(dir), "%llu/fd", (unsigned long long)pid);
            int dfd = openat(st->paths->proc_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd >= 0) {
                char dbuf[8192];
                ssize_t got;
                while ((got = getdents64(dfd, dbuf, sizeof(dbuf))) > 0) {
                    for (ssize_t off = 0; off < got;) {
                        struct dirent64 *d = (struct dirent64 *)(dbuf + off);
                        off += d->d_reclen;
                        if (d->d_name[0] == '.')
                            continue;
                        s->fds++;
                        char target[64];
                        ssize_t tl = readlinkat(dfd, d->d_name, target, sizeof(target) - 1);
                        if (tl > 7 && memcmp(target, "socket:", 7) == 0)
                            s->sockets++;
                    }
                }
                close(dfd);
            }
        }
        p = nl ? nl + 1 : end;
    }
    free(pids);
}
