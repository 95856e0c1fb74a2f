/* SPDX-License-Identifier: Apache-2.0 */
/* The cgroup collector's families (the descriptor table, cAdvisor names, help and labels) and the
 * rows it emits per cgroup: usage, limits, network of sandboxes, block devices, PSI, the main
 * process' ulimits and writable layer, and the pod workload. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "collector/cgroup_collector.h"
#include "collector/netaddr.h"
#include "collector/workload.h"
#include "core/fsread.h"
#include "core/log.h"

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

#define C HK_METRIC_COUNTER
#define G HK_METRIC_GAUGE
const struct hk_metric_desc hk_cgroup_fams[M_COUNT] = {
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

/* The device's name and numbers as labels: looked up once per device (the table keeps them),
 * into *tmp when the table is full. */
static const struct blkname *dev_get(struct cgroup_state *st, uint32_t maj, uint32_t min,
                                     struct blkname *tmp)
{
    for (size_t i = 0; i < st->nblk; i++)
        if (st->blk[i].major == maj && st->blk[i].minor == min)
            return &st->blk[i];
    struct blkname *b =
        st->nblk < sizeof(st->blk) / sizeof(st->blk[0]) ? &st->blk[st->nblk++] : tmp;
    *b = (struct blkname){maj, min, "", "", ""};
    snprintf(b->maj, sizeof(b->maj), "%u", maj);
    snprintf(b->min, sizeof(b->min), "%u", min);
    if (b == tmp)
        return b; /* past the table: no name (as before) */
    char path[64], buf[512], name[32];
    snprintf(path, sizeof(path), "dev/block/%u:%u/uevent", maj, min);
    ssize_t len = hk_read_file_at(st->paths->sys_fd, path, buf, sizeof(buf));
    if (len >= 0 && hk_cg_parse_uevent_devname(buf, (size_t)len, name, sizeof(name)) == 0)
        snprintf(b->name, sizeof(b->name), "/dev/%s", name);
    return b;
}

#define EMIT(m, vals, x)                                                                           \
    do {                                                                                           \
        if (st->enabled[m])                                                                        \
            hk_emit(b, &hk_cgroup_fams[m], vals, (double)(x));                                     \
    } while (0)

static void emit_net(struct cgroup_state *st, struct hk_builder *b, struct node *n,
                     const char *const *base, uint32_t pid)
{
    if (!hk_cgroup_want_any(st, M_NET_RX_BYTES, M_NET_TX_DROPPED) || pid == 0 ||
        st->paths->proc_fd < 0)
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
        hk_emit(b, &hk_cgroup_fams[M_NET_ADDR], v, 1);
    }
}

void hk_cgroup_node_labels(struct node *n, const char *lab[6])
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
 * the soft open-files limit, and for containers the writable layer. The limit is re-read every
 * SPEC_REFRESH_CYCLES cycles. */
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
    bool refresh = !n->nofile_gen || st->gen - n->nofile_gen >= SPEC_REFRESH_CYCLES;
    if (refresh)
        n->nofile_gen = st->gen;
    if (st->enabled[M_ULIMITS] && hk_cgfs_nofile(st->fs, &n->fsc, pid, refresh, &soft) == 0) {
        const char *v[7] = {base[0], base[1], base[2], base[3], base[4], base[5], "max_open_files"};
        hk_emit(b, &hk_cgroup_fams[M_ULIMITS], v, (double)soft);
    }
    struct hk_cgfs_layer l;
    if (is_root || !hk_cgroup_want_any(st, M_FS_USAGE, M_FS_INODES_TOTAL) ||
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
        const struct kpod *p = st->nkpods ? hk_cgroup_kpod_find(st, n->layout.pod_uid) : NULL;
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
    hk_emit(b, &hk_cgroup_fams[M_POD_WORKLOAD], v, 1);
}

void hk_cgroup_emit_node(struct cgroup_state *st, struct hk_collect_ctx *ctx, struct node *n,
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
        struct blkname tmp;
        const struct blkname *bn = dev_get(st, d->major, d->minor, &tmp);
        const char *dev = bn->name;
        const char *v[7] = {base[0], base[1], base[2], base[3], base[4], base[5], dev};
        EMIT(M_FS_READ_BYTES, v, d->read_bytes);
        EMIT(M_FS_WRITE_BYTES, v, d->write_bytes);
        EMIT(M_FS_READS, v, d->reads);
        EMIT(M_FS_WRITES, v, d->writes);
        if (!st->enabled[M_BLKIO_USAGE])
            continue;
        const char *maj = bn->maj, *min = bn->min;
        static const char *const ops[6] = {"Read", "Write", "Sync", "Async", "Discard", "Total"};
        const uint64_t vals[6] = {d->read_bytes,  d->write_bytes,   d->sync_bytes,
                                  d->async_bytes, d->discard_bytes, d->total_bytes};
        for (int o = 0; o < (d->has_v1_ops ? 6 : 2); o++) {
            const char *u[10] = {base[0], base[1], base[2], base[3], base[4],
                                 base[5], dev,     maj,     min,     ops[o]};
            hk_emit(b, &hk_cgroup_fams[M_BLKIO_USAGE], u, (double)vals[o]);
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
