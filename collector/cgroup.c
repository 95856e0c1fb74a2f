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
 *   container_network_address_info (sandbox rows; collector/netaddr.c). */
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

#include "collector/cgroup_fs.h"
#include "collector/cgroup_internal.h"
#include "collector/containers.h"
#include "collector/netaddr.h"
#include "collector/workload.h"
#include "core/collector.h"
#include "core/log.h"
#include "core/parse.h"

/* ---- families ---- */

#define BASE_LABELS "container", "id", "image", "name", "namespace", "pod"
static const char *const l_base[] = {BASE_LABELS, NULL};
static const char *const l_cpu[] = {BASE_LABELS, "cpu", NULL};
static const char *const l_fail[] = {BASE_LABELS, "failure_type", "scope", NULL};
static const char *const l_dev[] = {BASE_LABELS, "device", NULL};
static const char *const l_blkio[] = {BASE_LABELS, "device", "major", "minor", "operation", NULL};
static const char *const l_if[] = {BASE_LABELS, "interface", NULL};
static const char *const l_ulimit[] = {BASE_LABELS, "ulimit", NULL};
static const char *const l_addr[] = {BASE_LABELS, "interface", "ip", "host_network", NULL};
static const char *const l_workload[] = {"namespace", "pod", "workload", "workload_kind", NULL};

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

#define C HK_METRIC_COUNTER
#define G HK_METRIC_GAUGE
/* Bounded resources: cgroups left out because collectors.cgroup.max_cgroups was reached. */
static const struct hk_metric_desc desc_cap_skipped = {
    "hakari_cgroup_limit_skipped_total",
    "Cgroups not reported because collectors.cgroup.max_cgroups was reached (per cycle, summed).",
    HK_METRIC_COUNTER, "", NULL};

static const struct hk_metric_desc fams[M_COUNT] = {
    [M_CPU_USAGE] = {"container_cpu_usage_seconds_total",
                     "Cumulative cpu time consumed in seconds.", C, "seconds", l_cpu},
    [M_CPU_USER] = {"container_cpu_user_seconds_total",
                    "Cumulative user cpu time consumed in seconds.", C, "seconds", l_base},
    [M_CPU_SYSTEM] = {"container_cpu_system_seconds_total",
                      "Cumulative system cpu time consumed in seconds.", C, "seconds", l_base},
    [M_CFS_PERIODS] = {"container_cpu_cfs_periods_total",
                       "Number of elapsed enforcement period intervals.", C, "", l_base},
    [M_CFS_THR_PERIODS] = {"container_cpu_cfs_throttled_periods_total",
                           "Number of throttled period intervals.", C, "", l_base},
    [M_CFS_THR_SECONDS] = {"container_cpu_cfs_throttled_seconds_total",
                           "Total time duration the container has been throttled.", C, "seconds",
                           l_base},
    [M_MEM_USAGE] =
        {"container_memory_usage_bytes",
         "Current memory usage in bytes, including all memory regardless of when it was accessed.",
         G, "bytes", l_base},
    [M_MEM_WS] = {"container_memory_working_set_bytes", "Current working set in bytes.", G, "bytes",
                  l_base},
    [M_MEM_RSS] = {"container_memory_rss", "Size of RSS in bytes.", G, "bytes", l_base},
    [M_MEM_CACHE] = {"container_memory_cache", "Number of bytes of page cache memory.", G, "bytes",
                     l_base},
    [M_MEM_MAPPED] = {"container_memory_mapped_file", "Size of memory mapped files in bytes.", G,
                      "bytes", l_base},
    [M_MEM_SWAP] = {"container_memory_swap", "Container swap usage in bytes.", G, "bytes", l_base},
    [M_MEM_KERNEL] = {"container_memory_kernel_usage", "Size of kernel memory allocated in bytes.",
                      G, "bytes", l_base},
    [M_MEM_MAX_USAGE] = {"container_memory_max_usage_bytes",
                         "Maximum memory usage recorded in bytes.", G, "bytes", l_base},
    [M_MEM_FAILCNT] = {"container_memory_failcnt", "Number of memory usage hits limits.", C, "",
                       l_base},
    [M_MEM_FAILURES] = {"container_memory_failures_total",
                        "Cumulative count of memory allocation failures.", C, "", l_fail},
    [M_MEM_ACTIVE_FILE] = {"container_memory_total_active_file_bytes",
                           "Current total active file in bytes.", G, "bytes", l_base},
    [M_MEM_INACTIVE_FILE] = {"container_memory_total_inactive_file_bytes",
                             "Current total inactive file in bytes.", G, "bytes", l_base},
    [M_OOM] = {"container_oom_events_total",
               "Count of out of memory events observed for the container.", C, "", l_base},
    [M_SPEC_CPU_PERIOD] = {"container_spec_cpu_period", "CPU period of the container.", G, "",
                           l_base},
    [M_SPEC_CPU_QUOTA] = {"container_spec_cpu_quota", "CPU quota of the container.", G, "", l_base},
    [M_SPEC_CPU_SHARES] = {"container_spec_cpu_shares", "CPU share of the container.", G, "",
                           l_base},
    [M_SPEC_MEM_LIMIT] = {"container_spec_memory_limit_bytes", "Memory limit for the container.", G,
                          "bytes", l_base},
    [M_SPEC_MEM_SWAP] = {"container_spec_memory_swap_limit_bytes",
                         "Memory swap limit for the container.", G, "bytes", l_base},
    [M_SPEC_MEM_RES] = {"container_spec_memory_reservation_limit_bytes",
                        "Memory reservation limit for the container.", G, "bytes", l_base},
    [M_START] = {"container_start_time_seconds",
                 "Start time of the container since unix epoch in seconds.", G, "seconds", l_base},
    [M_LAST_SEEN] = {"container_last_seen", "Last time a container was seen by the exporter", G, "",
                     l_base},
    [M_NET_RX_BYTES] = {"container_network_receive_bytes_total",
                        "Cumulative count of bytes received", C, "bytes", l_if},
    [M_NET_RX_PACKETS] = {"container_network_receive_packets_total",
                          "Cumulative count of packets received", C, "", l_if},
    [M_NET_RX_ERRORS] = {"container_network_receive_errors_total",
                         "Cumulative count of errors encountered while receiving", C, "", l_if},
    [M_NET_RX_DROPPED] = {"container_network_receive_packets_dropped_total",
                          "Cumulative count of packets dropped while receiving", C, "", l_if},
    [M_NET_TX_BYTES] = {"container_network_transmit_bytes_total",
                        "Cumulative count of bytes transmitted", C, "bytes", l_if},
    [M_NET_TX_PACKETS] = {"container_network_transmit_packets_total",
                          "Cumulative count of packets transmitted", C, "", l_if},
    [M_NET_TX_ERRORS] = {"container_network_transmit_errors_total",
                         "Cumulative count of errors encountered while transmitting", C, "", l_if},
    [M_NET_TX_DROPPED] = {"container_network_transmit_packets_dropped_total",
                          "Cumulative count of packets dropped while transmitting", C, "", l_if},
    [M_FS_READ_BYTES] = {"container_fs_reads_bytes_total", "Cumulative count of bytes read", C,
                         "bytes", l_dev},
    [M_FS_WRITE_BYTES] = {"container_fs_writes_bytes_total", "Cumulative count of bytes written", C,
                          "bytes", l_dev},
    [M_FS_READS] = {"container_fs_reads_total", "Cumulative count of reads completed", C, "",
                    l_dev},
    [M_FS_WRITES] = {"container_fs_writes_total", "Cumulative count of writes completed", C, "",
                     l_dev},
    [M_BLKIO_USAGE] = {"container_blkio_device_usage_total", "Blkio Device bytes usage", C, "",
                       l_blkio},
    [M_PROCESSES] = {"container_processes", "Number of processes running inside the container.", G,
                     "", l_base},
    [M_THREADS] = {"container_threads", "Number of threads running inside the container", G, "",
                   l_base},
    [M_THREADS_MAX] =
        {"container_threads_max",
         "Maximum number of threads allowed inside the container, infinity if value is zero", G, "",
         l_base},
    [M_FDS] = {"container_file_descriptors", "Number of open file descriptors for the container.",
               G, "", l_base},
    [M_SOCKETS] = {"container_sockets", "Number of open sockets for the container.", G, "", l_base},
    [M_PSI_CPU_WAIT] =
        {"container_pressure_cpu_waiting_seconds_total",
         "Total time duration tasks in the container have waited due to CPU congestion.", C,
         "seconds", l_base},
    [M_PSI_CPU_STALL] =
        {"container_pressure_cpu_stalled_seconds_total",
         "Total time duration no tasks in the container could make progress due to CPU congestion.",
         C, "seconds", l_base},
    [M_PSI_MEM_WAIT] =
        {"container_pressure_memory_waiting_seconds_total",
         "Total time duration tasks in the container have waited due to memory congestion.", C,
         "seconds", l_base},
    [M_PSI_MEM_STALL] = {"container_pressure_memory_stalled_seconds_total",
                         "Total time duration no tasks in the container could make progress due to "
                         "memory congestion.",
                         C, "seconds", l_base},
    [M_PSI_IO_WAIT] =
        {"container_pressure_io_waiting_seconds_total",
         "Total time duration tasks in the container have waited due to IO congestion.", C,
         "seconds", l_base},
    [M_PSI_IO_STALL] =
        {"container_pressure_io_stalled_seconds_total",
         "Total time duration no tasks in the container could make progress due to IO congestion.",
         C, "seconds", l_base},
    /* Spelt out (not G): the metric catalogue finds these in the code, as fixtures have no
     * layers to measure. */
    [M_FS_USAGE] = {"container_fs_usage_bytes",
                    "Number of bytes that are consumed by the container on this filesystem.",
                    HK_METRIC_GAUGE, "bytes", l_dev},
    [M_FS_LIMIT] = {"container_fs_limit_bytes",
                    "Number of bytes that can be consumed by the container on this filesystem.",
                    HK_METRIC_GAUGE, "bytes", l_dev},
    [M_FS_INODES_FREE] = {"container_fs_inodes_free", "Number of available Inodes", HK_METRIC_GAUGE,
                          "", l_dev},
    [M_FS_INODES_TOTAL] = {"container_fs_inodes_total", "Number of Inodes", HK_METRIC_GAUGE, "",
                           l_dev},
    [M_ULIMITS] = {"container_ulimits_soft",
                   "Soft ulimit values for the container root process. Unlimited if -1, except "
                   "priority and nice",
                   G, "", l_ulimit},
    [M_POD_WORKLOAD] = {"container_pod_workload_info",
                        "Workload (controller) running the pod: from its owner reference in the "
                        "kubelet's pod list, else guessed from the pod's name; value 1.",
                        G, "", l_workload},
    [M_NET_ADDR] = {"container_network_address_info",
                    "Addresses of the pod's network namespace (not loopback, not link-local), on "
                    "the sandbox row; host_network=\"true\" when it is the node's; value 1.",
                    G, "", l_addr},
};
#undef C
#undef G

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

/* spec: a limit, read every SPEC_REFRESH_CYCLES cycles and not kept open (saves descriptors). */
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

/* Limits (cpu.max, memory.max, …) change rarely (an in-place pod resize): they are re-read every
 * SPEC_REFRESH_CYCLES cycles (1 min at the default 10 s interval), saving 6–7 reads per cgroup per
 * cycle. cAdvisor caches the spec similarly. */
#define SPEC_REFRESH_CYCLES 6

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
    struct spec spec; /* limits: re-read every SPEC_REFRESH_CYCLES cycles */
    uint32_t spec_gen;
    /* Names from the kubelet's /pods when the runtime records are not readable. */
    struct hk_kube_meta kmeta;
    bool has_kmeta;
    uint32_t kubelet_gen;
    struct hk_cgfs_ctr *fsc; /* main process: limits, writable layer */
    /* Pod rows: the workload, derived again when the kubelet's pod list changes. */
    struct hk_workload *workload;
    uint32_t workload_kgen;
    struct hk_netaddrs *addrs; /* sandbox rows: addresses of the pod's network namespace */
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
    char name[40]; /* "/dev/sda", "" when unknown */
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
        if (fnmatch(pat, fams[i].name, 0) != 0)
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

static void fd_exhausted(struct cgroup_state *st)
{
    if (!st->emfile_logged)
        hk_log_warn("out of file descriptors; raise the open files limit (ulimit -n)", "collector",
                    "cgroup");
    st->emfile_logged = true;
    st->fd_budget = st->nfds; /* keep what we have, open nothing more for caching */
}

/* Reads file f of node n into st->buf with one pread on a cached fd. Returns the length, or
 * -ENOENT (absent, remembered), -ENODEV (cgroup removed), -EFBIG, -errno. */
static ssize_t node_read(struct cgroup_state *st, struct node *n, enum file f)
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
                fd_exhausted(st);
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

static ssize_t read_rel(int dirfd, const char *path, char *buf, size_t cap)
{
    return hk_read_file_at(dirfd, path, buf, cap);
}

static bool node_u64(struct cgroup_state *st, struct node *n, enum file f, uint64_t *ret,
                     bool *ret_max, bool *any)
{
    ssize_t len = node_read(st, n, f);
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

static bool node_keyed(struct cgroup_state *st, struct node *n, enum file f,
                       const char *const *keys, size_t nkeys, uint64_t *vals, uint64_t *found,
                       bool *any)
{
    *found = 0;
    ssize_t len = node_read(st, n, f);
    if (len < 0)
        return false;
    *any = true;
    hk_cg_parse_keyed(st->buf, (size_t)len, keys, nkeys, vals, found);
    return true;
}

/* ---- nodes ---- */

static uint64_t path_hash(const char *p)
{
    return hk_hash_bytes(0x9e3779b97f4a7c15ULL, p, strlen(p));
}

static struct node *node_find(struct cgroup_state *st, const char *path)
{
    if (!st->nbuckets)
        return NULL;
    uint64_t h = path_hash(path);
    for (struct node *n = st->buckets[h & (st->nbuckets - 1)]; n; n = n->next)
        if (n->hash == h && strcmp(n->path, path) == 0)
            return n;
    return NULL;
}

static int node_insert(struct cgroup_state *st, struct node *n)
{
    if (st->nnodes + 1 > st->nbuckets) {
        size_t nb = st->nbuckets ? st->nbuckets * 2 : 64;
        struct node **b = calloc(nb, sizeof(*b));
        if (!b)
            return -ENOMEM;
        for (size_t i = 0; i < st->nbuckets; i++)
            for (struct node *x = st->buckets[i], *next; x; x = next) {
                next = x->next;
                x->next = b[x->hash & (nb - 1)];
                b[x->hash & (nb - 1)] = x;
            }
        free(st->buckets);
        st->buckets = b;
        st->nbuckets = nb;
    }
    n->next = st->buckets[n->hash & (st->nbuckets - 1)];
    st->buckets[n->hash & (st->nbuckets - 1)] = n;
    st->nnodes++;
    return 0;
}

static void node_free(struct cgroup_state *st, struct node *n)
{
    for (int h = 0; h < H_COUNT; h++)
        if (n->dir_fd[h] >= 0 && st->hier_alias[h] == h) {
            close(n->dir_fd[h]);
            st->nfds--;
        }
    for (int f = 0; f < F_COUNT; f++)
        if (n->fd[f] >= 0) {
            close(n->fd[f]);
            st->nfds--;
        }
    if (n->net_fd >= 0) {
        close(n->net_fd);
        st->nfds--;
    }
    hk_cgfs_ctr_free(n->fsc);
    hk_kube_meta_clear(&n->meta);
    hk_kube_meta_clear(&n->kmeta);
    free(n->pod_name);
    free(n->pod_ns);
    free(n->workload);
    free(n->addrs);
    free(n->path);
    free(n);
}

static double stat_mtime(int dirfd, const char *name)
{
    struct stat sb;
    if (fstatat(dirfd, name, &sb, name[0] ? 0 : AT_EMPTY_PATH) < 0)
        return 0;
    return (double)sb.st_mtim.tv_sec + (double)sb.st_mtim.tv_nsec / 1e9;
}

/* cAdvisor: the earliest mtime of each controller dir and of its cgroup.clone_children (v1) or
 * cgroup.events (v2), floored at boot time. */
static double start_time(struct cgroup_state *st, struct node *n)
{
    double t = 0;
    for (int h = 0; h < H_COUNT; h++) {
        if (st->hier_alias[h] != h || n->dir_fd[h] < 0)
            continue;
        if (!st->v2 && h == H_V2)
            continue;
        double a = stat_mtime(n->dir_fd[h], "");
        double b = stat_mtime(n->dir_fd[h], h == H_V2 ? "cgroup.events" : "cgroup.clone_children");
        if (a > 0 && (t == 0 || a < t))
            t = a;
        if (b > 0 && (t == 0 || b < t))
            t = b;
    }
    if (t < st->boot_time)
        t = st->boot_time;
    return t;
}

static void load_meta(struct cgroup_state *st, struct node *n)
{
    const struct hk_kube_path *lp = &n->layout;
    if (lp->kind != HK_KUBE_CONTAINER || n->has_meta || n->meta_tries >= 10)
        return;
    n->meta_tries++;
    const char *id = lp->container_id;
    char path[256];
    char *json = NULL;
    ssize_t len;
    int r = -ENOENT;
    struct hk_kube_meta m = {0};
    int root = st->paths->root_fd;
    if (lp->runtime == HK_RT_CONTAINERD || lp->runtime == HK_RT_UNKNOWN) {
        snprintf(path, sizeof(path),
                 "run/containerd/io.containerd.runtime.v2.task/k8s.io/%s/config.json", id);
        if ((len = hk_read_file_alloc(root, path, 4 << 20, &json)) >= 0) {
            r = hk_kube_parse_containerd_oci(json, (size_t)len, id, st->sandbox_image, &m);
            free(json);
            json = NULL;
        }
    }
    if (r < 0 && (lp->runtime == HK_RT_CRIO || lp->runtime == HK_RT_UNKNOWN)) {
        snprintf(path, sizeof(path),
                 "run/containers/storage/overlay-containers/%s/userdata/config.json", id);
        if ((len = hk_read_file_alloc(root, path, 4 << 20, &json)) >= 0) {
            r = hk_kube_parse_crio_oci(json, (size_t)len, &m);
            free(json);
            json = NULL;
        }
    }
    if (r < 0 && (lp->runtime == HK_RT_DOCKER || lp->runtime == HK_RT_UNKNOWN)) {
        snprintf(path, sizeof(path), "var/lib/docker/containers/%s/config.v2.json", id);
        if ((len = hk_read_file_alloc(root, path, 4 << 20, &json)) >= 0) {
            r = hk_kube_parse_docker(json, (size_t)len, &m);
            free(json);
            json = NULL;
        }
    }
    if (r < 0)
        return;
    n->meta = m;
    n->has_meta = true;
}

static struct node *node_new(struct cgroup_state *st, const char *path)
{
    struct node *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    for (int h = 0; h < H_COUNT; h++)
        n->dir_fd[h] = -1;
    for (int f = 0; f < F_COUNT; f++)
        n->fd[f] = FD_UNOPENED;
    n->net_fd = -1;
    if (!(n->path = strdup(path))) {
        free(n);
        return NULL;
    }
    n->hash = path_hash(path);
    const char *rel = path[1] ? path + 1 : ".";
    for (int h = 0; h < H_COUNT; h++) {
        if (st->hier_alias[h] != h || st->hier_fd[h] < 0)
            continue;
        /* Directory descriptors are needed to walk and to open files: always kept. */
        int fd = openat(st->hier_fd[h], rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE))
            fd_exhausted(st);
        n->dir_fd[h] = fd < 0 ? -1 : fd;
        if (fd >= 0)
            st->nfds++;
    }
    for (int h = 0; h < H_COUNT; h++)
        if (st->hier_alias[h] != h && st->hier_alias[h] >= 0)
            n->dir_fd[h] = n->dir_fd[st->hier_alias[h]];
    if (n->dir_fd[st->walk_hier] < 0) {
        node_free(st, n);
        return NULL;
    }
    hk_kube_parse_path(path, &n->layout);
    n->start_time = start_time(st, n);
    return n;
}

static int list_push(struct cgroup_state *st, struct node *n)
{
    if (st->nlist == st->list_cap) {
        size_t cap = st->list_cap ? st->list_cap * 2 : 256;
        struct node **l = realloc(st->list, cap * sizeof(*l));
        if (!l)
            return -ENOMEM;
        st->list = l;
        st->list_cap = cap;
    }
    st->list[st->nlist++] = n;
    return 0;
}

/* Finds or creates the node for path and marks it seen; NULL if it vanished or on a cap. */
static struct node *visit(struct cgroup_state *st, const char *path)
{
    struct node *n = node_find(st, path);
    if (!n) {
        if (st->nnodes >= st->max_cgroups) {
            /* Counted here, logged once per state change at the end of the cycle. */
            st->cap_skipped_cycle++;
            return NULL;
        }
        if (!(n = node_new(st, path)))
            return NULL;
        if (node_insert(st, n) < 0) {
            node_free(st, n);
            return NULL;
        }
    }
    if (n->seen == st->gen)
        return NULL; /* reached twice (overlapping roots) */
    n->seen = st->gen;
    load_meta(st, n);
    if (list_push(st, n) < 0)
        return NULL;
    return n;
}

static void walk(struct cgroup_state *st, struct node *n, int depth)
{
    if (depth >= MAX_DEPTH)
        return;
    int fd = n->dir_fd[st->walk_hier];
    struct stat sb;
    /* cgroupfs (and ext4/tmpfs fixtures) keep nlink = 2 + subdirectories: leaves need no
     * listing, which saves three syscalls per container. */
    if (fstat(fd, &sb) == 0 && sb.st_nlink == 2)
        return;
    if (lseek(fd, 0, SEEK_SET) < 0)
        return;
    char dbuf[16384];
    char child[4096];
    size_t pl = strlen(n->path);
    if (pl == 1)
        pl = 0;
    for (;;) {
        ssize_t got = getdents64(fd, dbuf, sizeof(dbuf));
        if (got <= 0)
            break;
        for (ssize_t off = 0; off < got;) {
            struct dirent64 *d = (struct dirent64 *)(dbuf + off);
            off += d->d_reclen;
            const char *name = d->d_name;
            if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
                continue;
            if (d->d_type != DT_DIR) {
                if (d->d_type != DT_UNKNOWN)
                    continue;
                struct stat cs;
                if (fstatat(fd, name, &cs, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(cs.st_mode))
                    continue;
            }
            size_t nl = strlen(name);
            if (pl + 1 + nl + 1 > sizeof(child))
                continue;
            memcpy(child, n->path, pl);
            child[pl] = '/';
            memcpy(child + pl + 1, name, nl + 1);
            struct node *c = visit(st, child);
            if (c)
                walk(st, c, depth + 1);
        }
    }
}

/* Drops nodes not seen this cycle (vanished cgroups: normal, not an error). */
static void sweep(struct cgroup_state *st)
{
    for (size_t i = 0; i < st->nbuckets; i++) {
        struct node **pp = &st->buckets[i];
        while (*pp) {
            struct node *n = *pp;
            if (n->seen != st->gen) {
                *pp = n->next;
                st->nnodes--;
                node_free(st, n);
            } else {
                pp = &n->next;
            }
        }
    }
}

/* ---- per-node stats ---- */

/* One instance per scrape, on the stack: each has_* flag stays next to the fields it guards, and
 * the 49 bytes of padding that costs are not worth a reordering:
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
    size_t ndevs;
    struct hk_cg_blkdev devs[HK_CG_MAX_BLKDEVS];
    bool has_procs;
    uint64_t procs;
    uint32_t first_pid;
    bool has_threads;
    uint64_t threads;
    bool has_psi[3];
    struct hk_cg_psi psi[3];
    bool has_fds;
    uint64_t fds, sockets;
};

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

static bool want_any(const struct cgroup_state *st, int from, int to)
{
    for (int m = from; m <= to; m++)
        if (st->enabled[m])
            return true;
    return false;
}

/* Limits of one cgroup (v1 or v2) into n->spec. */
static void read_spec(struct cgroup_state *st, struct node *n, bool *any)
{
    struct spec sp = {.valid = true};
    bool mx = false, mx2 = false, mx3 = false;
    uint64_t a, b, c;
    if (want_any(st, M_CFS_PERIODS, M_CFS_THR_SECONDS) ||
        want_any(st, M_SPEC_CPU_PERIOD, M_SPEC_CPU_SHARES)) {
        if (st->v2) {
            ssize_t len = node_read(st, n, F2_CPU_MAX);
            if (len >= 0) {
                *any = true;
                sp.has_cpu =
                    hk_cg_parse_cpu_max(st->buf, (size_t)len, &sp.cpu_quota, &sp.cpu_period) == 0;
                if (node_u64(st, n, F2_CPU_WEIGHT, &a, NULL, any) && a >= 1 && a <= 10000) {
                    /* cAdvisor's weight → shares conversion (integer math). */
                    sp.cpu_shares = 2 + ((a - 1) * 262142) / 9999;
                    sp.has_shares = true;
                }
            }
        } else if (node_u64(st, n, F1_CFS_PERIOD, &sp.cpu_period, NULL, any)) {
            sp.has_cpu = true;
            if (!node_u64(st, n, F1_CFS_QUOTA, &sp.cpu_quota, &mx, any) || mx)
                sp.cpu_quota = 0;
            sp.has_shares = node_u64(st, n, F1_SHARES, &sp.cpu_shares, NULL, any);
        }
    }
    if (want_any(st, M_SPEC_MEM_LIMIT, M_SPEC_MEM_RES)) {
        enum file fl = st->v2 ? F2_MEM_MAX : F1_MEM_LIMIT;
        enum file fs = st->v2 ? F2_SWAP_MAX : F1_MEMSW_LIMIT;
        enum file fr = st->v2 ? F2_MEM_MIN : F1_MEM_SOFT;
        if (node_u64(st, n, fl, &a, &mx, any)) {
            sp.has_mem = true;
            sp.mem_limit = spec_limit(a, mx);
            sp.swap_limit = node_u64(st, n, fs, &b, &mx2, any) ? spec_limit(b, mx2) : 0;
            sp.mem_reservation = node_u64(st, n, fr, &c, &mx3, any) ? spec_limit(c, mx3) : 0;
        }
    }
    if (st->enabled[M_THREADS_MAX]) {
        sp.has_threads_max =
            node_u64(st, n, st->v2 ? F2_PIDS_MAX : F1_PIDS_MAX, &sp.threads_max, &mx, any);
        if (sp.has_threads_max && mx)
            sp.threads_max = 0;
    }
    n->spec = sp;
    n->spec_gen = st->gen;
}

static void read_psi(struct cgroup_state *st, struct node *n, struct stats *s)
{
    if (!want_any(st, M_PSI_CPU_WAIT, M_PSI_IO_STALL))
        return;
    for (int i = 0; i < 3; i++) {
        ssize_t len = node_read(st, n, (enum file)(F_PSI_CPU + i));
        if (len < 0)
            continue;
        if (st->v2)
            s->any = true;
        s->has_psi[i] = hk_cg_parse_pressure(st->buf, (size_t)len, &s->psi[i]) == 0;
    }
}

static void read_v2(struct cgroup_state *st, struct node *n, struct stats *s, bool is_root)
{
    uint64_t v[16], found;
    if (want_any(st, M_CPU_USAGE, M_CFS_THR_SECONDS)) {
        static const char *const k[] = {"usage_usec", "user_usec",    "system_usec",
                                        "nr_periods", "nr_throttled", "throttled_usec"};
        memset(v, 0, sizeof(v));
        if (node_keyed(st, n, F2_CPU_STAT, k, 6, v, &found, &s->any) && (found & 1)) {
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
        bool have_stat = node_keyed(st, n, F2_MEM_STAT, k, 8, v, &found, &s->any);
        uint64_t usage;
        bool have_usage = node_u64(st, n, F2_MEM_CURRENT, &usage, NULL, &s->any);
        if (!have_usage && is_root && have_stat) {
            usage = v[0] + v[1]; /* the root has no memory.current (cAdvisor emulates it too) */
            have_usage = true;
        }
        if (have_usage && have_stat) {
            s->has_mem = true;
            s->mem_usage = usage;
            s->rss = v[0];
            s->cache = v[1];
            s->mapped = v[2];
            s->active_file = v[3];
            s->inactive_file = v[4];
            s->pgfault = v[5];
            s->pgmajfault = v[6];
            s->kernel = v[7];
            s->mem_ws = (found & (1 << 4)) ? (usage > v[4] ? usage - v[4] : 0) : usage;
            /* No swap on the host: nothing to read (saves a read per cgroup). */
            if (is_root)
                s->swap = st->meminfo.swap_total - st->meminfo.swap_free;
            else if (!st->meminfo.swap_total ||
                     !node_u64(st, n, F2_SWAP_CURRENT, &s->swap, NULL, &s->any))
                s->swap = 0;
            if (!node_u64(st, n, F2_MEM_PEAK, &s->max_usage, NULL, &s->any))
                s->max_usage = 0;
        }
        static const char *const ek[] = {"max", "oom_kill"};
        memset(v, 0, sizeof(v));
        if (node_keyed(st, n, F2_MEM_EVENTS, ek, 2, v, &found, &s->any)) {
            s->failcnt = v[0];
            s->has_oom = (found & 2) != 0;
            s->oom_kills = v[1];
        }
    }
    if (want_any(st, M_FS_READ_BYTES, M_BLKIO_USAGE)) {
        len = node_read(st, n, F2_IO_STAT);
        if (len >= 0) {
            s->any = true;
            int k = hk_cg_parse_io_stat(st->buf, (size_t)len, s->devs, HK_CG_MAX_BLKDEVS);
            s->ndevs = k > 0 ? (size_t)k : 0;
        }
    }
    len = node_read(st, n, F2_PROCS);
    if (len >= 0) {
        s->any = true;
        s->has_procs = true;
        s->procs = hk_cg_count_procs(st->buf, (size_t)len, &s->first_pid);
    }
    if (want_any(st, M_THREADS, M_THREADS_MAX)) {
        s->has_threads = node_u64(st, n, F2_PIDS_CURRENT, &s->threads, NULL, &s->any);
        if (!s->has_threads && s->has_procs) {
            s->threads = s->procs;
            s->has_threads = true;
        }
    }
    read_psi(st, n, s);
}

static void read_v1(struct cgroup_state *st, struct node *n, struct stats *s, bool is_root)
{
    uint64_t v[16], found, x;
    if (want_any(st, M_CPU_USAGE, M_CFS_THR_SECONDS)) {
        if (node_u64(st, n, F1_CPUACCT_USAGE, &x, NULL, &s->any)) {
            s->has_cpu = true;
            s->cpu_usage_s = (double)x / 1e9;
            static const char *const k[] = {"user", "system"};
            memset(v, 0, sizeof(v));
            node_keyed(st, n, F1_CPUACCT_STAT, k, 2, v, &found, &s->any);
            /* USER_HZ is 100 on every Linux ABI. */
            s->cpu_user_s = (double)v[0] / 100.0;
            s->cpu_system_s = (double)v[1] / 100.0;
        }
    }
    if (s->has_cpu && n->spec.has_cpu && n->spec.cpu_quota != 0 &&
        want_any(st, M_CFS_PERIODS, M_CFS_THR_SECONDS)) {
        static const char *const k[] = {"nr_periods", "nr_throttled", "throttled_time"};
        memset(v, 0, sizeof(v));
        if (node_keyed(st, n, F1_CPU_STAT, k, 3, v, &found, &s->any) && (found & 1)) {
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
        bool have_usage = node_u64(st, n, F1_MEM_USAGE, &usage, NULL, &s->any);
        if (have_usage && node_keyed(st, n, F1_MEM_STAT, k, 14, v, &found, &s->any)) {
            /* Hierarchical total_* keys (use_hierarchy=1, always on modern kernels), else the
             * local ones. */
            for (int i = 0; i < 5; i++)
                if (!(found & (1u << i)) && (found & (1u << (8 + i))))
                    v[i] = v[8 + i], found |= 1u << i;
            if (!(found & (1u << 7)))
                v[7] = v[13];
            s->has_mem = true;
            s->mem_usage = usage;
            s->rss = v[0];
            s->cache = v[1];
            s->mapped = v[2];
            s->active_file = v[3];
            s->inactive_file = v[4];
            s->pgfault = v[5];
            s->pgmajfault = v[6];
            s->swap = is_root ? st->meminfo.swap_total - st->meminfo.swap_free : v[7];
            s->mem_ws = (found & (1u << 4)) ? (usage > v[4] ? usage - v[4] : 0) : usage;
            if (!node_u64(st, n, F1_MEM_MAX_USAGE, &s->max_usage, NULL, &s->any))
                s->max_usage = 0;
            if (!node_u64(st, n, F1_MEM_FAILCNT, &s->failcnt, NULL, &s->any))
                s->failcnt = 0;
            if (!node_u64(st, n, F1_KMEM_USAGE, &s->kernel, NULL, &s->any))
                s->kernel = 0;
        }
        static const char *const ok[] = {"oom_kill"};
        memset(v, 0, sizeof(v));
        if (node_keyed(st, n, F1_MEM_OOM, ok, 1, v, &found, &s->any) && (found & 1)) {
            s->has_oom = true;
            s->oom_kills = v[0];
        }
    }
    if (want_any(st, M_FS_READ_BYTES, M_BLKIO_USAGE)) {
        ssize_t len = node_read(st, n, F1_BLKIO_BYTES);
        if (len >= 0) {
            s->any = true;
            hk_cg_parse_blkio(st->buf, (size_t)len, true, s->devs, &s->ndevs, HK_CG_MAX_BLKDEVS);
        }
        len = node_read(st, n, F1_BLKIO_IOS);
        if (len >= 0) {
            s->any = true;
            hk_cg_parse_blkio(st->buf, (size_t)len, false, s->devs, &s->ndevs, HK_CG_MAX_BLKDEVS);
        }
    }
    ssize_t len = node_read(st, n, F1_PROCS);
    if (len >= 0) {
        s->any = true;
        s->has_procs = true;
        s->procs = hk_cg_count_procs(st->buf, (size_t)len, &s->first_pid);
    }
    if (want_any(st, M_THREADS, M_THREADS_MAX)) {
        s->has_threads = node_u64(st, n, F1_PIDS_CURRENT, &s->threads, NULL, &s->any);
    }
    read_psi(st, n, s); /* hybrid: the unified hierarchy's PSI for the same path */
}

/* Σ /proc/<pid>/fd entries over the cgroup's pids, and those that are sockets. Costly (one
 * readlink per fd), hence off by default. */
static void count_fds(struct cgroup_state *st, struct node *n, struct stats *s)
{
    ssize_t len = node_read(st, n, st->v2 ? F2_PROCS : F1_PROCS);
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

/* ---- emission ---- */

static const char *dev_name(struct cgroup_state *st, uint32_t maj, uint32_t min)
{
    for (size_t i = 0; i < st->nblk; i++)
        if (st->blk[i].major == maj && st->blk[i].minor == min)
            return st->blk[i].name;
    struct blkname tmp = {maj, min, ""};
    struct blkname *b =
        st->nblk < sizeof(st->blk) / sizeof(st->blk[0]) ? &st->blk[st->nblk++] : &tmp;
    *b = tmp;
    char path[64], buf[512], name[32];
    snprintf(path, sizeof(path), "dev/block/%u:%u/uevent", maj, min);
    ssize_t len = read_rel(st->paths->sys_fd, path, buf, sizeof(buf));
    if (len >= 0 && hk_cg_parse_uevent_devname(buf, (size_t)len, name, sizeof(name)) == 0)
        snprintf(b->name, sizeof(b->name), "/dev/%s", name);
    return b == &tmp ? "" : b->name;
}

#define EMIT(m, vals, x)                                                                           \
    do {                                                                                           \
        if (st->enabled[m])                                                                        \
            hk_emit(b, &fams[m], vals, (double)(x));                                               \
    } while (0)

static void emit_net(struct cgroup_state *st, struct hk_builder *b, struct node *n,
                     const char *const *base, uint32_t pid)
{
    if (!want_any(st, M_NET_RX_BYTES, M_NET_TX_DROPPED) || pid == 0 || st->paths->proc_fd < 0)
        return;
    if (n->net_fd >= 0 && n->net_pid != pid) {
        close(n->net_fd);
        n->net_fd = -1;
        st->nfds--;
    }
    if (n->net_fd < 0) {
        char path[64];
        snprintf(path, sizeof(path), "%u/net/dev", pid);
        n->net_fd = openat(st->paths->proc_fd, path, O_RDONLY | O_CLOEXEC);
        if (n->net_fd < 0)
            return;
        n->net_pid = pid;
        st->nfds++;
    }
    ssize_t len = pread(n->net_fd, st->buf, READ_BUF - 1, 0);
    if (len < 0 || len == READ_BUF - 1)
        return;
    struct hk_cg_netdev devs[HK_CG_MAX_NETDEVS];
    int k = hk_cg_parse_net_dev(st->buf, (size_t)len, devs, HK_CG_MAX_NETDEVS);
    for (int i = 0; i < k; i++) {
        const char *v[7] = {base[0], base[1], base[2], base[3], base[4], base[5], devs[i].name};
        EMIT(M_NET_RX_BYTES, v, devs[i].rx_bytes);
        EMIT(M_NET_RX_PACKETS, v, devs[i].rx_packets);
        EMIT(M_NET_RX_ERRORS, v, devs[i].rx_errors);
        EMIT(M_NET_RX_DROPPED, v, devs[i].rx_dropped);
        EMIT(M_NET_TX_BYTES, v, devs[i].tx_bytes);
        EMIT(M_NET_TX_PACKETS, v, devs[i].tx_packets);
        EMIT(M_NET_TX_ERRORS, v, devs[i].tx_errors);
        EMIT(M_NET_TX_DROPPED, v, devs[i].tx_dropped);
    }
}

/* Sandbox rows: container_network_address_info, re-read every HK_NETADDR_REFRESH_CYCLES cycles
 * or when the sandbox's pid changes (collector/netaddr.c). */
static void emit_addrs(struct cgroup_state *st, struct hk_builder *b, struct node *n,
                       const char *const *base, uint32_t pid)
{
    if (!st->enabled[M_NET_ADDR] || pid == 0 || st->paths->proc_fd < 0 ||
        hk_netaddrs_refresh(&n->addrs, st->paths->proc_fd, pid, st->gen) < 0)
        return;
    const struct hk_netaddrs *a = n->addrs;
    if (a->dropped && !st->addrs_logged) {
        char kept[16];
        snprintf(kept, sizeof(kept), "%d", HK_NETADDR_MAX);
        hk_log_warn("network namespace has more addresses than reported", "id", n->path, "kept",
                    kept);
        st->addrs_logged = true;
    }
    for (size_t i = 0; i < a->n; i++) {
        const char *v[9] = {base[0],        base[1],    base[2],
                            base[3],        base[4],    base[5],
                            a->a[i].ifname, a->a[i].ip, a->host_network ? "true" : "false"};
        hk_emit(b, &fams[M_NET_ADDR], v, 1);
    }
}

static void node_labels(struct node *n, const char *lab[6])
{
    static const char empty[] = "";
    for (int i = 0; i < 6; i++)
        lab[i] = empty;
    lab[1] = n->path;
    const struct hk_kube_meta *m = n->has_meta ? &n->meta : n->has_kmeta ? &n->kmeta : NULL;
    if (m) {
        lab[0] = m->container;
        lab[2] = m->image;
        lab[3] = m->name;
        lab[4] = m->namespace_;
        lab[5] = m->pod;
    } else if (n->layout.kind == HK_KUBE_POD && n->pod_name) {
        lab[4] = n->pod_ns;
        lab[5] = n->pod_name;
    }
}

/* What cAdvisor reads through the container's root process (the runtime's task pid; 1 for "/"):
 * the soft open-files limit, and for containers the writable layer. Limits are re-read with the
 * spec (every SPEC_REFRESH_CYCLES cycles). */
static void emit_main_process(struct cgroup_state *st, struct hk_builder *b, struct node *n,
                              const struct stats *s, const char *const *base)
{
    bool is_root = n->layout.kind == HK_KUBE_ROOT;
    if (!is_root && n->layout.kind != HK_KUBE_CONTAINER)
        return;
    uint32_t pid = is_root ? 1 : n->has_meta && n->meta.pid ? n->meta.pid : s->first_pid;
    if (!pid || st->paths->proc_fd < 0)
        return;
    int64_t soft;
    if (st->enabled[M_ULIMITS] &&
        hk_cgfs_nofile(st->fs, &n->fsc, pid, n->spec_gen == st->gen, &soft) == 0) {
        const char *v[7] = {base[0], base[1], base[2], base[3], base[4], base[5], "max_open_files"};
        hk_emit(b, &fams[M_ULIMITS], v, (double)soft);
    }
    struct hk_cgfs_layer l;
    if (is_root || !want_any(st, M_FS_USAGE, M_FS_INODES_TOTAL) ||
        hk_cgfs_layer(st->fs, &n->fsc, pid, &l) < 0)
        return;
    const char *v[7] = {base[0], base[1], base[2], base[3], base[4], base[5], l.device};
    EMIT(M_FS_USAGE, v, l.usage_bytes);
    EMIT(M_FS_INODES_TOTAL, v, l.inodes);
    if (l.has_fs) {
        EMIT(M_FS_LIMIT, v, l.limit_bytes);
        EMIT(M_FS_INODES_FREE, v, l.inodes_free);
    }
}

static const struct kpod *kpod_find(const struct cgroup_state *st, const char *uid);

/* Pod rows: container_pod_workload_info, from the kubelet's owner reference when it lists the
 * pod, else from the pod's name (collector/workload.c). */
static void emit_workload(struct cgroup_state *st, struct hk_builder *b, struct node *n)
{
    if (!st->enabled[M_POD_WORKLOAD] || n->layout.kind != HK_KUBE_POD || !n->pod_name ||
        !n->pod_name[0])
        return;
    uint32_t kgen = st->kubelet_gen + 1; /* 0: never derived */
    if (!n->workload || n->workload_kgen != kgen) {
        struct hk_workload w;
        const struct kpod *p = st->nkpods ? kpod_find(st, n->layout.pod_uid) : NULL;
        int r = p ? hk_workload_from_owner(n->pod_name, p->owner_kind, p->owner_name, &w)
                  : hk_workload_from_pod_name(n->pod_name, &w);
        if (r < 0)
            return;
        if (!n->workload && !(n->workload = malloc(sizeof(*n->workload))))
            return;
        *n->workload = w;
        n->workload_kgen = kgen;
    }
    const char *v[4] = {n->pod_ns ? n->pod_ns : "", n->pod_name, n->workload->name,
                        n->workload->kind};
    hk_emit(b, &fams[M_POD_WORKLOAD], v, 1);
}

static void emit_node(struct cgroup_state *st, struct hk_collect_ctx *ctx, struct node *n,
                      const struct stats *s, const char *const *base)
{
    struct hk_builder *b = ctx->b;
    bool is_root = n->layout.kind == HK_KUBE_ROOT;
    /* cAdvisor emits no usage series when the total is 0 and there is no per-CPU data. */
    if (s->has_cpu) {
        const char *v[7] = {base[0], base[1], base[2], base[3], base[4], base[5], "total"};
        if (s->cpu_usage_s > 0)
            EMIT(M_CPU_USAGE, v, s->cpu_usage_s);
        EMIT(M_CPU_USER, base, s->cpu_user_s);
        EMIT(M_CPU_SYSTEM, base, s->cpu_system_s);
    }
    if (s->has_cfs) {
        EMIT(M_CFS_PERIODS, base, s->nr_periods);
        EMIT(M_CFS_THR_PERIODS, base, s->nr_throttled);
        EMIT(M_CFS_THR_SECONDS, base, s->throttled_s);
    }
    if (s->has_mem) {
        EMIT(M_MEM_USAGE, base, s->mem_usage);
        EMIT(M_MEM_WS, base, s->mem_ws);
        EMIT(M_MEM_RSS, base, s->rss);
        EMIT(M_MEM_CACHE, base, s->cache);
        EMIT(M_MEM_MAPPED, base, s->mapped);
        EMIT(M_MEM_SWAP, base, s->swap);
        EMIT(M_MEM_KERNEL, base, s->kernel);
        EMIT(M_MEM_MAX_USAGE, base, s->max_usage);
        EMIT(M_MEM_FAILCNT, base, s->failcnt);
        EMIT(M_MEM_ACTIVE_FILE, base, s->active_file);
        EMIT(M_MEM_INACTIVE_FILE, base, s->inactive_file);
        static const char *const ft[2] = {"pgfault", "pgmajfault"};
        static const char *const sc[2] = {"container", "hierarchy"};
        for (int t = 0; t < 2; t++)
            for (int c = 0; c < 2; c++) {
                const char *v[8] = {base[0], base[1], base[2], base[3],
                                    base[4], base[5], ft[t],   sc[c]};
                EMIT(M_MEM_FAILURES, v, t == 0 ? s->pgfault : s->pgmajfault);
            }
    }
    if (s->has_oom)
        EMIT(M_OOM, base, s->oom_kills);
    const struct spec *sp = &n->spec;
    if (sp->has_cpu) {
        EMIT(M_SPEC_CPU_PERIOD, base, sp->cpu_period);
        if (sp->cpu_quota != 0)
            EMIT(M_SPEC_CPU_QUOTA, base, sp->cpu_quota);
        if (sp->has_shares)
            EMIT(M_SPEC_CPU_SHARES, base, sp->cpu_shares);
    }
    if (is_root && st->meminfo.mem_total) {
        /* cAdvisor's root spec comes from machine info. */
        EMIT(M_SPEC_MEM_LIMIT, base, st->meminfo.mem_total);
        EMIT(M_SPEC_MEM_SWAP, base, st->meminfo.swap_total);
        EMIT(M_SPEC_MEM_RES, base, sp->has_mem ? sp->mem_reservation : 0);
    } else if (sp->has_mem) {
        EMIT(M_SPEC_MEM_LIMIT, base, sp->mem_limit);
        EMIT(M_SPEC_MEM_SWAP, base, sp->swap_limit);
        EMIT(M_SPEC_MEM_RES, base, sp->mem_reservation);
    }
    EMIT(M_START, base, n->start_time);
    /* Whole seconds on purpose, as cAdvisor (time.Now().Unix()):
     * NOLINTNEXTLINE(bugprone-integer-division) */
    EMIT(M_LAST_SEEN, base, (double)(ctx->now_ms / 1000));
    for (size_t i = 0; i < s->ndevs; i++) {
        const struct hk_cg_blkdev *d = &s->devs[i];
        const char *dev = dev_name(st, d->major, d->minor);
        const char *v[7] = {base[0], base[1], base[2], base[3], base[4], base[5], dev};
        EMIT(M_FS_READ_BYTES, v, d->read_bytes);
        EMIT(M_FS_WRITE_BYTES, v, d->write_bytes);
        EMIT(M_FS_READS, v, d->reads);
        EMIT(M_FS_WRITES, v, d->writes);
        if (!st->enabled[M_BLKIO_USAGE])
            continue;
        char maj[12], min[12];
        snprintf(maj, sizeof(maj), "%u", d->major);
        snprintf(min, sizeof(min), "%u", d->minor);
        static const char *const ops[6] = {"Read", "Write", "Sync", "Async", "Discard", "Total"};
        const uint64_t vals[6] = {d->read_bytes,  d->write_bytes,   d->sync_bytes,
                                  d->async_bytes, d->discard_bytes, d->total_bytes};
        for (int o = 0; o < (d->has_v1_ops ? 6 : 2); o++) {
            const char *u[10] = {base[0], base[1], base[2], base[3], base[4],
                                 base[5], dev,     maj,     min,     ops[o]};
            hk_emit(b, &fams[M_BLKIO_USAGE], u, (double)vals[o]);
        }
    }
    if (s->has_procs)
        EMIT(M_PROCESSES, base, s->procs);
    if (s->has_threads)
        EMIT(M_THREADS, base, s->threads);
    if (sp->has_threads_max)
        EMIT(M_THREADS_MAX, base, sp->threads_max);
    if (s->has_fds) {
        EMIT(M_FDS, base, s->fds);
        EMIT(M_SOCKETS, base, s->sockets);
    }
    static const enum fam psi_fams[3][2] = {{M_PSI_CPU_WAIT, M_PSI_CPU_STALL},
                                            {M_PSI_MEM_WAIT, M_PSI_MEM_STALL},
                                            {M_PSI_IO_WAIT, M_PSI_IO_STALL}};
    for (int i = 0; i < 3; i++)
        if (s->has_psi[i]) {
            EMIT(psi_fams[i][0], base, (double)s->psi[i].some_total_us / 1e6);
            EMIT(psi_fams[i][1], base, (double)s->psi[i].full_total_us / 1e6);
        }
    /* Network: only rows that own a network namespace — the pod sandbox and "/". */
    if (is_root)
        emit_net(st, b, n, base, 1);
    else if (n->has_meta ? n->meta.sandbox : (n->has_kmeta && n->kmeta.sandbox)) {
        uint32_t pid = n->meta.pid ? n->meta.pid : s->first_pid;
        emit_net(st, b, n, base, pid);
        emit_addrs(st, b, n, base, pid);
    }
    emit_main_process(st, b, n, s, base);
    emit_workload(st, b, n);
}

/* Pod rows take pod/namespace from any of their containers (the kubelet resolves the pod UID
 * through its pod manager; the runtime records carry the same names). */
static void learn_pod_names(struct cgroup_state *st, struct node *n)
{
    const struct hk_kube_meta *m = n->has_meta ? &n->meta : n->has_kmeta ? &n->kmeta : NULL;
    if (!m || !m->pod[0] || n->layout.kind != HK_KUBE_CONTAINER || !n->layout.pod_uid[0])
        return;
    char parent[4096];
    const char *slash = strrchr(n->path, '/');
    size_t pl = slash ? (size_t)(slash - n->path) : 0;
    if (pl == 0 || pl >= sizeof(parent))
        return;
    memcpy(parent, n->path, pl);
    parent[pl] = '\0';
    struct node *p = node_find(st, parent);
    if (!p || p->pod_name)
        return;
    p->pod_name = strdup(m->pod);
    p->pod_ns = strdup(m->namespace_);
    if (!p->pod_name || !p->pod_ns) {
        free(p->pod_name);
        free(p->pod_ns);
        p->pod_name = p->pod_ns = NULL;
    }
}

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
        node_labels(st->list[i], lab);
        st->entries[i] =
            (struct hk_container_entry){lab[1], lab[0], lab[2], lab[3], lab[4], lab[5]};
    }
    return hk_containers_publish(st->entries, st->nlist);
}

static void read_meminfo(struct cgroup_state *st)
{
    char buf[8192];
    ssize_t len = read_rel(st->paths->proc_fd, "meminfo", buf, sizeof(buf));
    if (len < 0 || hk_cg_parse_meminfo(buf, (size_t)len, &st->meminfo) < 0)
        memset(&st->meminfo, 0, sizeof(st->meminfo));
}

static void kubelet_clear(struct cgroup_state *st)
{
    for (size_t i = 0; i < st->nkpods; i++) {
        free(st->kpods[i].uid);
        free(st->kpods[i].name);
        free(st->kpods[i].ns);
        free(st->kpods[i].owner_kind);
        free(st->kpods[i].owner_name);
    }
    for (size_t i = 0; i < st->nkctrs; i++) {
        free(st->kctrs[i].id);
        free(st->kctrs[i].name);
        free(st->kctrs[i].image);
        free(st->kctrs[i].uid);
    }
    free(st->kpods);
    free(st->kctrs);
    st->kpods = NULL;
    st->kctrs = NULL;
    st->nkpods = st->nkctrs = 0;
}

static char *dup0(const char *s)
{
    return strdup(s ? s : "");
}

static void kubelet_add_pod(const char *uid, const char *name, const char *ns,
                            const struct hk_kubelet_owner *owner,
                            const struct hk_kubelet_container *cs, size_t n, void *ud)
{
    struct cgroup_state *st = ud;
    struct kpod *p = realloc(st->kpods, (st->nkpods + 1) * sizeof(*p));
    if (!p)
        return;
    st->kpods = p;
    st->kpods[st->nkpods++] =
        (struct kpod){dup0(uid), dup0(name), dup0(ns), owner->kind ? strdup(owner->kind) : NULL,
                      owner->name ? strdup(owner->name) : NULL};
    struct kctr *c = realloc(st->kctrs, (st->nkctrs + n) * sizeof(*c));
    if (!c)
        return;
    st->kctrs = c;
    for (size_t i = 0; i < n; i++)
        st->kctrs[st->nkctrs++] =
            (struct kctr){dup0(cs[i].id), dup0(cs[i].name), dup0(cs[i].image), dup0(uid)};
}

static const struct kpod *kpod_find(const struct cgroup_state *st, const char *uid)
{
    for (size_t i = 0; i < st->nkpods; i++)
        if (strcmp(st->kpods[i].uid, uid) == 0)
            return &st->kpods[i];
    return NULL;
}

/* Names from the kubelet for cgroups the runtime records did not cover. The kubelet lists app
 * containers only: an unlisted container cgroup under a known pod is its sandbox. */
static void kubelet_apply(struct cgroup_state *st, struct node *n)
{
    if (n->has_meta || n->layout.kind != HK_KUBE_CONTAINER || n->kubelet_gen == st->kubelet_gen)
        return;
    n->kubelet_gen = st->kubelet_gen;
    hk_kube_meta_clear(&n->kmeta);
    n->has_kmeta = false;
    const struct kpod *p = n->layout.pod_uid[0] ? kpod_find(st, n->layout.pod_uid) : NULL;
    const struct kctr *c = NULL;
    for (size_t i = 0; i < st->nkctrs && !c; i++)
        if (strcmp(st->kctrs[i].id, n->layout.container_id) == 0)
            c = &st->kctrs[i];
    if (c && !p)
        p = kpod_find(st, c->uid);
    if (!p)
        return;
    struct hk_kube_meta *m = &n->kmeta;
    m->container = dup0(c ? c->name : "");
    m->image = dup0(c ? c->image : "");
    m->name = dup0(n->layout.container_id);
    m->namespace_ = dup0(p->ns);
    m->pod = dup0(p->name);
    m->pod_uid = dup0(p->uid);
    m->sandbox = !c;
    if (!m->container || !m->image || !m->name || !m->namespace_ || !m->pod || !m->pod_uid) {
        hk_kube_meta_clear(m);
        return;
    }
    n->has_kmeta = true;
}

/* Asks the kubelet (at most every refresh_interval) when some cgroup lacks names, or a pod is
 * not in the last list (its owner, for container_pod_workload_info). */
static void kubelet_refresh(struct cgroup_state *st, int64_t now_ms)
{
    if (!st->kubelet.url || now_ms - st->kubelet_last_ms < st->kubelet.refresh_ms)
        return;
    bool need = false;
    for (size_t i = 0; i < st->nlist && !need; i++) {
        const struct node *n = st->list[i];
        need = (n->layout.kind == HK_KUBE_CONTAINER && !n->has_meta && !n->has_kmeta) ||
               (n->layout.kind == HK_KUBE_POD && !kpod_find(st, n->layout.pod_uid) &&
                (!n->pod_name || st->enabled[M_POD_WORKLOAD]));
    }
    if (!need)
        return;
    st->kubelet_last_ms = now_ms;
    char *body = NULL;
    ssize_t len = hk_kubelet_fetch_pods(&st->kubelet, &body);
    if (len < 0)
        return;
    kubelet_clear(st);
    if (hk_kubelet_parse_pods(body, (size_t)len, kubelet_add_pod, st) < 0)
        hk_log_warn("kubelet: /pods is not a PodList", "url", st->kubelet.url);
    free(body);
    st->kubelet_gen++;
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
    struct node *root = visit(st, "/");
    if (!root) {
        sweep(st);
        return 0;
    }
    for (size_t i = 0; i < st->nroots; i++) {
        char path[512];
        snprintf(path, sizeof(path), "/%s", st->roots[i]);
        struct node *n = visit(st, path);
        if (n)
            walk(st, n, 1);
    }
    sweep(st);
    kubelet_refresh(st, ctx->now_ms);
    for (size_t i = 0; i < st->nlist; i++) {
        struct node *n = st->list[i];
        kubelet_apply(st, n);
        learn_pod_names(st, n);
        if (n->layout.kind == HK_KUBE_POD && !n->pod_name && st->nkpods) {
            const struct kpod *p = kpod_find(st, n->layout.pod_uid);
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
        memset(&s, 0, sizeof(s));
        if (!n->spec.valid || st->gen - n->spec_gen >= SPEC_REFRESH_CYCLES)
            read_spec(st, n, &s.any);
        if (st->v2)
            read_v2(st, n, &s, n->layout.kind == HK_KUBE_ROOT);
        else
            read_v1(st, n, &s, n->layout.kind == HK_KUBE_ROOT);
        if (!s.any)
            continue; /* vanished after listing: no error, gone from this snapshot */
        if (st->count_fds && want_any(st, M_FDS, M_SOCKETS))
            count_fds(st, n, &s);
        const char *lab[6];
        node_labels(n, lab);
        emit_node(st, ctx, n, &s, lab);
    }
    st->cap_skipped_total += st->cap_skipped_cycle;
    if (st->cap_skipped_cycle && !st->cap_logged)
        hk_log_warn("cgroup limit reached; further cgroups are not reported", "collector",
                    "cgroup", "option", "max_cgroups");
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

/* ---- discovery ---- */

/* Opens a mount point from mountinfo relative to the configured roots: "/sys/…" under sysfs
 * (a DaemonSet mounts the host's /sys there), anything else under rootfs. */
static int open_mount(const struct hk_paths *paths, const char *mp)
{
    int at = paths->root_fd;
    const char *rel = mp;
    if (strncmp(mp, "/sys/", 5) == 0 && paths->sys_fd >= 0) {
        at = paths->sys_fd;
        rel = mp + 5;
    } else if (strcmp(paths->rootfs, "/") != 0) {
        size_t rl = strlen(paths->rootfs);
        while (rl > 1 && paths->rootfs[rl - 1] == '/')
            rl--;
        if (strncmp(mp, paths->rootfs, rl) == 0 && mp[rl] == '/')
            rel = mp + rl;
    }
    while (*rel == '/')
        rel++;
    int fd = openat(at, *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static void discover(struct cgroup_state *st)
{
    const struct hk_paths *paths = st->paths;
    struct hk_cg_mounts m;
    memset(&m, 0, sizeof(m));
    char *mi = NULL;
    ssize_t len = hk_read_file_alloc(paths->proc_fd, "self/mountinfo", 4 << 20, &mi);
    int found = len >= 0 ? hk_cg_parse_mountinfo(mi, (size_t)len, &m) : 0;
    free(mi);
    if (found <= 0) {
        /* Conventional layout: cgroup2 at /sys/fs/cgroup, or v1 per controller (plus
         * /sys/fs/cgroup/unified on hybrid hosts). */
        static const char *const v1names[HK_CG_NCTRL] = {"cpu", "cpuacct", "memory", "blkio",
                                                         "pids"};
        char probe[64];
        if (hk_read_file_at(paths->sys_fd, "fs/cgroup/cgroup.controllers", probe, sizeof(probe)) >=
            0) {
            snprintf(m.v2, sizeof(m.v2), "/sys/fs/cgroup");
        } else {
            for (int i = 0; i < HK_CG_NCTRL; i++)
                snprintf(m.v1[i], sizeof(m.v1[i]), "/sys/fs/cgroup/%s", v1names[i]);
            snprintf(m.v2, sizeof(m.v2), "/sys/fs/cgroup/unified");
        }
    }
    static const enum hier map[HK_CG_NCTRL] = {H_CPU, H_CPUACCT, H_MEMORY, H_BLKIO, H_PIDS};
    for (int h = 0; h < H_COUNT; h++) {
        st->hier_fd[h] = -1;
        st->hier_alias[h] = h;
    }
    bool any_v1 = false;
    for (int i = 0; i < HK_CG_NCTRL; i++) {
        if (!m.v1[i][0])
            continue;
        int h = map[i];
        /* Co-mounted controllers (cpu,cpuacct) share one directory tree. */
        for (int j = 0; j < i; j++)
            if (m.v1[j][0] && strcmp(m.v1[j], m.v1[i]) == 0 && st->hier_fd[map[j]] >= 0)
                st->hier_alias[h] = st->hier_alias[map[j]];
        if (st->hier_alias[h] != h)
            continue;
        int fd = open_mount(paths, m.v1[i]);
        if (fd >= 0) {
            st->hier_fd[h] = fd;
            any_v1 = true;
        }
    }
    if (m.v2[0]) {
        int fd = open_mount(paths, m.v2);
        if (fd >= 0)
            st->hier_fd[H_V2] = fd;
    }
    st->v2 = !any_v1 && st->hier_fd[H_V2] >= 0;
    if (st->v2) {
        st->walk_hier = H_V2;
    } else {
        static const enum hier order[] = {H_CPU, H_MEMORY, H_CPUACCT, H_PIDS, H_BLKIO};
        st->walk_hier = H_CPU;
        for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
            if (st->hier_fd[st->hier_alias[order[i]]] >= 0) {
                st->walk_hier = st->hier_alias[order[i]];
                break;
            }
    }
    for (int h = 0; h < H_COUNT; h++)
        if (st->hier_alias[h] != h)
            st->hier_fd[h] = -1; /* reached through the alias */
}

static void read_boot_time(struct cgroup_state *st)
{
    char buf[16384];
    ssize_t len = read_rel(st->paths->proc_fd, "stat", buf, sizeof(buf));
    static const char *const k[] = {"btime"};
    uint64_t v = 0, found = 0;
    if (len == -EFBIG) {
        char *big = NULL;
        len = hk_read_file_alloc(st->paths->proc_fd, "stat", 1 << 20, &big);
        if (len >= 0)
            hk_cg_parse_keyed(big, (size_t)len, k, 1, &v, &found);
        free(big);
    } else if (len >= 0) {
        hk_cg_parse_keyed(buf, (size_t)len, k, 1, &v, &found);
    }
    st->boot_time = (double)v;
}

static void read_sandbox_image(struct cgroup_state *st)
{
    char *toml = NULL;
    ssize_t len =
        hk_read_file_alloc(st->paths->root_fd, "etc/containerd/config.toml", 1 << 20, &toml);
    if (len >= 0 && hk_kube_parse_sandbox_image(toml, (size_t)len, st->sandbox_image,
                                                sizeof(st->sandbox_image)) < 0)
        st->sandbox_image[0] = '\0';
    free(toml);
}

static void cgroup_fini(void *state)
{
    struct cgroup_state *st = state;
    if (!st)
        return;
    for (size_t i = 0; i < st->nbuckets; i++)
        for (struct node *n = st->buckets[i], *next; n; n = next) {
            next = n->next;
            node_free(st, n);
        }
    free(st->buckets);
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
    kubelet_clear(st);
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
    discover(st);
    read_boot_time(st);
    read_sandbox_image(st);
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
