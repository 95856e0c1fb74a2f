/* SPDX-License-Identifier: Apache-2.0 */
/* The cgroup collector's state and row model, shared by its files (cgroup.c: ops, options, the
 * cycle; cgroup_tree.c: the node index and the walk; cgroup_stats.c: v1/v2 reads; cgroup_meta.c:
 * runtime/kubelet names; cgroup_emit.c: the descriptor table and rows; cgroup_discover.c:
 * hierarchies). Not for use outside them. */
#ifndef HK_CGROUP_COLLECTOR_H
#define HK_CGROUP_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "collector/cgroup_fs.h"
#include "collector/cgroup_internal.h"
#include "core/collector.h"

struct hk_container_entry;
struct hk_netaddrs;
struct hk_workload;

/* ---- families ---- */

enum fam {
    M_CPU_USAGE,
    M_CPU_USER,
    M_CPU_SYSTEM,
    M_CFS_PERIODS,
    M_CFS_THR_PERIODS,
    M_CFS_THR_SECONDS,
    M_MEM_USAGE,
    M_MEM_WS,
    M_MEM_RSS,
    M_MEM_CACHE,
    M_MEM_MAPPED,
    M_MEM_SWAP,
    M_MEM_KERNEL,
    M_MEM_MAX_USAGE,
    M_MEM_FAILCNT,
    M_MEM_FAILURES,
    M_MEM_ACTIVE_FILE,
    M_MEM_INACTIVE_FILE,
    M_OOM,
    M_SPEC_CPU_PERIOD,
    M_SPEC_CPU_QUOTA,
    M_SPEC_CPU_SHARES,
    M_SPEC_MEM_LIMIT,
    M_SPEC_MEM_SWAP,
    M_SPEC_MEM_RES,
    M_START,
    M_LAST_SEEN,
    M_NET_RX_BYTES,
    M_NET_RX_PACKETS,
    M_NET_RX_ERRORS,
    M_NET_RX_DROPPED,
    M_NET_TX_BYTES,
    M_NET_TX_PACKETS,
    M_NET_TX_ERRORS,
    M_NET_TX_DROPPED,
    M_FS_READ_BYTES,
    M_FS_WRITE_BYTES,
    M_FS_READS,
    M_FS_WRITES,
    M_BLKIO_USAGE,
    M_PROCESSES,
    M_THREADS,
    M_THREADS_MAX,
    M_FDS,
    M_SOCKETS,
    M_PSI_CPU_WAIT,
    M_PSI_CPU_STALL,
    M_PSI_MEM_WAIT,
    M_PSI_MEM_STALL,
    M_PSI_IO_WAIT,
    M_PSI_IO_STALL,
    M_FS_USAGE, /* writable layer (cgroup_fs.c) */
    M_FS_LIMIT,
    M_FS_INODES_FREE,
    M_FS_INODES_TOTAL,
    M_ULIMITS,
    M_POD_WORKLOAD, /* pod rows (collector/workload.c) */
    M_NET_ADDR,     /* sandbox rows (collector/netaddr.c) */
    M_COUNT,
};

/* ---- hierarchies and files ---- */

enum hier { H_V2, H_CPU, H_CPUACCT, H_MEMORY, H_BLKIO, H_PIDS, H_COUNT };

enum file {
    /* v2 */
    F2_CPU_STAT,
    F2_CPU_MAX,
    F2_CPU_WEIGHT,
    F2_MEM_CURRENT,
    F2_MEM_STAT,
    F2_MEM_MAX,
    F2_MEM_MIN,
    F2_MEM_PEAK,
    F2_MEM_EVENTS,
    F2_SWAP_CURRENT,
    F2_SWAP_MAX,
    F2_IO_STAT,
    F2_PIDS_CURRENT,
    F2_PIDS_MAX,
    F2_PROCS,
    /* PSI: v2, or the unified hierarchy of a hybrid host */
    F_PSI_CPU,
    F_PSI_MEM,
    F_PSI_IO,
    /* v1 */
    F1_CPUACCT_USAGE,
    F1_CPUACCT_STAT,
    F1_CPU_STAT,
    F1_CFS_PERIOD,
    F1_CFS_QUOTA,
    F1_SHARES,
    F1_MEM_USAGE,
    F1_MEM_MAX_USAGE,
    F1_MEM_FAILCNT,
    F1_MEM_STAT,
    F1_MEM_LIMIT,
    F1_MEMSW_LIMIT,
    F1_MEM_SOFT,
    F1_MEM_OOM,
    F1_KMEM_USAGE,
    F1_BLKIO_BYTES,
    F1_BLKIO_IOS,
    F1_PIDS_CURRENT,
    F1_PIDS_MAX,
    F1_PROCS,
    F_COUNT,
};

/* Limits (cpu.max, memory.max, …) change rarely (an in-place pod resize), and only by a write
 * to their file: each limit file is watched for writes (inotify IN_MODIFY, which the kernel
 * raises for a write through any mount of the hierarchy) and re-read in the cycle after one.
 * A cgroup whose limit files could not all be watched (no inotify, watch limit reached, a watch
 * ended) re-reads them every SPEC_REFRESH_CYCLES cycles (1 min at the default 10 s interval), as
 * cAdvisor caches the spec. The main process' open-files limit follows the same period. */
#define SPEC_REFRESH_CYCLES 6
#define SPEC_MAX_FILES 8

struct spec {
    bool valid;
    bool has_cpu, has_shares, has_mem, has_threads_max;
    uint64_t cpu_period, cpu_quota, cpu_shares; /* quota 0 = unlimited */
    uint64_t mem_limit, swap_limit, mem_reservation, threads_max;
};

#define FD_UNOPENED (-1)
#define FD_ABSENT (-2)
#define MAX_DEPTH 16
#define READ_BUF (64 * 1024)

struct node {
    char *path; /* "/" or "/kubepods.slice/…" */
    uint64_t hash;
    struct node *next; /* hash chain */
    uint32_t seen;     /* cycle generation */
    int dir_fd[H_COUNT];
    int fd[F_COUNT];
    struct hk_kube_path layout;
    struct hk_kube_meta meta;
    bool has_meta;
    uint8_t meta_tries;
    char *pod_name, *pod_ns; /* pod rows: learnt from their containers */
    double start_time;
    int net_fd;
    uint32_t net_pid;
    struct spec spec; /* limits: re-read when written, or every SPEC_REFRESH_CYCLES cycles */
    uint32_t spec_gen;
    int spec_wd[SPEC_MAX_FILES]; /* watches of the limit files (st->spec_watch) */
    uint8_t nspec_wd;
    bool spec_watch_tried; /* the watches were set up (before the first read) */
    bool spec_watched;     /* every limit file read is watched: re-read only when written */
    bool spec_dirty;       /* a limit file was written since the last read */
    uint32_t nofile_gen;   /* cycle of the last /proc/<pid>/limits read; 0 = none */
    /* Names from the kubelet's /pods when the runtime records are not readable. */
    struct hk_kube_meta kmeta;
    bool has_kmeta;
    uint32_t kubelet_gen;
    struct hk_cgfs_ctr *fsc; /* main process: limits, writable layer */
    /* Pod rows: the workload, derived again when the kubelet's pod list changes. */
    struct hk_workload *workload;
    uint32_t workload_kgen;
    struct hk_netaddrs *addrs; /* sandbox rows: addresses of the pod's network namespace */
    /* The directory's subdirectories as last listed (names, NUL-separated): walked from here
     * while its watch (wd ≥ 0) reports no change; listed again when dirty. */
    char *kids;
    size_t kids_len;
    uint64_t ino; /* of the walk hierarchy's directory: a same-named successor differs */
    int wd;       /* inotify watch (collector/cgroupfs.h), -1 when unwatched */
    bool listed;  /* kids holds a listing */
    bool dirty;   /* changed since listed (or never listed) */
    bool stale;   /* the directory was replaced by another of the same name */
};

struct kpod {
    char *uid, *name, *ns;
    char *owner_kind, *owner_name; /* NULL when the pod has no controller */
};
struct kctr {
    char *id, *name, *image, *uid;
};

struct blkname {
    uint32_t major, minor;
    char name[40];         /* "/dev/sda", "" when unknown */
    char maj[11], min[11]; /* the numbers as labels */
};

struct cgroup_state {
    const struct hk_paths *paths;
    bool v2; /* unified mode; else v1 (with optional cgroup2 for PSI on hybrid hosts) */
    int hier_fd[H_COUNT]; /* -1 when absent */
    int hier_alias[H_COUNT];
    enum hier walk_hier;
    /* options */
    bool enabled[M_COUNT];
    bool count_fds;
    bool cache_files;
    uint32_t max_cgroups;
    char **roots; /* tracked subtrees besides "/" */
    size_t nroots;
    char sandbox_image[256];
    struct hk_cgfs_options fs_opts;
    struct hk_cgfs *fs;
    /* state */
    uint32_t gen;
    struct node **buckets;
    size_t nbuckets, nnodes;
    struct node **list; /* per cycle: the nodes seen, in walk order */
    size_t nlist, list_cap;
    struct hk_container_entry *entries;
    size_t entries_cap;
    struct blkname blk[64];
    size_t nblk;
    double boot_time;
    struct hk_cg_meminfo meminfo;
    bool emfile_logged, cap_logged, addrs_logged;
    uint64_t cap_skipped_cycle, cap_skipped_total; /* cgroups not reported: max_cgroups */
    /* kubelet /pods (optional) */
    struct hk_kubelet_config kubelet;
    int64_t kubelet_last_ms;
    uint32_t kubelet_gen; /* bumped per successful fetch */
    struct kpod *kpods;
    size_t nkpods;
    struct kctr *kctrs;
    size_t nkctrs;
    /* Descriptors this collector keeps open, and how many it may: files beyond the budget are
     * opened, read and closed each cycle (3 syscalls instead of 1) rather than failing. */
    size_t nfds, fd_budget;
    char *buf; /* READ_BUF bytes, reused by every read */
    /* Which directories changed (NULL without inotify: every directory is listed each cycle). */
    struct hk_cgroupfs_watch *watch;
    bool watch_logged;
    /* Writes to limit files (NULL without inotify: limits re-read every SPEC_REFRESH_CYCLES). */
    struct hk_cgroupfs_watch *spec_watch;
    bool spec_watch_logged;
};

/* One instance per scrape, on the stack: each has_* flag stays next to the fields it guards, and
 * the padding that costs is not worth a reordering. The device table comes last: only the part
 * before it is cleared per cgroup (STATS_CLEAR), the parsers clear each device they add.
 * NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding) */
struct stats {
    bool any; /* at least one file was read: the cgroup exists */
    bool has_cpu;
    double cpu_usage_s, cpu_user_s, cpu_system_s;
    bool has_cfs;
    uint64_t nr_periods, nr_throttled;
    double throttled_s;
    bool has_mem;
    uint64_t mem_usage, mem_ws, rss, cache, mapped, swap, kernel, max_usage, failcnt, pgfault,
        pgmajfault, active_file, inactive_file;
    bool has_oom;
    uint64_t oom_kills;
    bool has_procs;
    uint64_t procs;
    uint32_t first_pid;
    bool has_threads;
    uint64_t threads;
    bool has_psi[3];
    struct hk_cg_psi psi[3];
    bool has_fds;
    uint64_t fds, sockets;
    size_t ndevs;
    struct hk_cg_blkdev devs[HK_CG_MAX_BLKDEVS]; /* [0, ndevs) valid */
};
#define STATS_CLEAR offsetof(struct stats, devs)

/* The families, indexed by enum fam (cgroup_emit.c). */
extern const struct hk_metric_desc hk_cgroup_fams[M_COUNT];

/* cgroup.c: reads of one node's files into st->buf, and the node index. */
ssize_t hk_cgroup_node_read(struct cgroup_state *st, struct node *n, enum file f);
bool hk_cgroup_node_u64(struct cgroup_state *st, struct node *n, enum file f, uint64_t *ret,
                        bool *ret_max, bool *any);
bool hk_cgroup_node_keyed(struct cgroup_state *st, struct node *n, enum file f,
                          const char *const *keys, size_t nkeys, uint64_t *vals, uint64_t *found,
                          bool *any);
struct node *hk_cgroup_node_find(struct cgroup_state *st, const char *path);
/* Out of descriptors: logs once and stops caching more. */
void hk_cgroup_fd_exhausted(struct cgroup_state *st);
/* Whether n's limits are to be read this cycle (first, written since, or due by the period).
 * The first call watches its limit files, before they are first read. */
bool hk_cgroup_spec_due(struct cgroup_state *st, struct node *n);

/* cgroup_tree.c: the node index and the walk. */
/* Drains the inotify queues: marks the directories that changed, and the cgroups whose limit
 * files were written. */
void hk_cgroup_poll_changes(struct cgroup_state *st);
/* Finds or creates the node for path and marks it seen this cycle; NULL if it vanished, on the
 * max_cgroups cap, or when already seen (overlapping roots). */
struct node *hk_cgroup_visit(struct cgroup_state *st, const char *path);
/* Visits n's subtree (depth < MAX_DEPTH), listing only directories that changed. */
void hk_cgroup_walk(struct cgroup_state *st, struct node *n, int depth);
/* Drops the nodes not seen this cycle (vanished cgroups: normal, not an error). */
void hk_cgroup_sweep(struct cgroup_state *st);
/* Frees every node and the watches. */
void hk_cgroup_tree_free(struct cgroup_state *st);

/* cgroup_stats.c */
bool hk_cgroup_want_any(const struct cgroup_state *st, int from, int to);
void hk_cgroup_read_spec(struct cgroup_state *st, struct node *n, bool *any);
void hk_cgroup_read_v2(struct cgroup_state *st, struct node *n, struct stats *s, bool is_root);
void hk_cgroup_read_v1(struct cgroup_state *st, struct node *n, struct stats *s, bool is_root);
void hk_cgroup_count_fds(struct cgroup_state *st, struct node *n, struct stats *s);

/* cgroup_meta.c */
void hk_cgroup_load_meta(struct cgroup_state *st, struct node *n);
void hk_cgroup_learn_pod_names(struct cgroup_state *st, struct node *n);
void hk_cgroup_kubelet_clear(struct cgroup_state *st);
const struct kpod *hk_cgroup_kpod_find(const struct cgroup_state *st, const char *uid);
void hk_cgroup_kubelet_apply(struct cgroup_state *st, struct node *n);
void hk_cgroup_kubelet_refresh(struct cgroup_state *st, int64_t now_ms);

/* cgroup_emit.c */
void hk_cgroup_node_labels(struct node *n, const char *lab[6]);
void hk_cgroup_emit_node(struct cgroup_state *st, struct hk_collect_ctx *ctx, struct node *n,
                         const struct stats *s, const char *const *base);

/* cgroup_discover.c */
void hk_cgroup_discover(struct cgroup_state *st);
void hk_cgroup_read_boot_time(struct cgroup_state *st);
void hk_cgroup_read_sandbox_image(struct cgroup_state *st);

#endif
