/* SPDX-License-Identifier: Apache-2.0 */
/* cAdvisor's machine_* gauges: the node's CPU and memory capacity, labelled with its identity.
 * Reads: <sysfs>/devices/system/cpu (cpuN entries), <procfs>/cpuinfo, <procfs>/meminfo,
 * <procfs>/sys/kernel/random/boot_id, <rootfs>/etc/machine-id (else
 * <rootfs>/var/lib/dbus/machine-id), <sysfs>/class/dmi/id/product_uuid.
 * Emits: machine_cpu_cores, machine_cpu_physical_cores, machine_cpu_sockets,
 * machine_memory_bytes, machine_swap_bytes {boot_id,machine_id,system_uuid} (an unreadable
 * identity file gives ""). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/node_common.h"
#include "collector/node_parsers.h"
#include "core/collector.h"
#include "core/parse.h"

static int cmp_pair(const void *a, const void *b)
{
    const uint32_t *x = a, *y = b;
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

static int parse_id(const char *s, size_t len, uint32_t *ret)
{
    uint64_t v;
    int r = hk_parse_u64(s, len, &v);
    if (r < 0)
        return r;
    if (v > 0xffffffffu)
        return -ERANGE;
    *ret = (uint32_t)v;
    return 0;
}

int hk_cpuinfo_parse(const char *buf, size_t len, struct hk_cpuinfo *ret)
{
    struct hk_cursor c;
    const char *line;
    size_t ll;
    unsigned nproc = 0, npairs = 0;
    /* Current processor's ids; a processor without both is not counted in cores/sockets. */
    bool in_proc = false, have_phys = false, have_core = false;
    uint32_t phys = 0, core = 0;
    hk_cursor_init(&c, buf, len);
    for (;;) {
        bool more = hk_cursor_line(&c, &line, &ll);
        const char *colon = more ? memchr(line, ':', ll) : NULL;
        size_t kl = 0;
        if (colon) {
            kl = (size_t)(colon - line);
            while (kl > 0 && (line[kl - 1] == ' ' || line[kl - 1] == '\t'))
                kl--;
        }
        bool new_proc = colon && hk_token_eq(line, kl, "processor");
        if ((!more || new_proc) && in_proc && have_phys && have_core) {
            ret->pairs[npairs][0] = phys;
            ret->pairs[npairs][1] = core;
            npairs++;
        }
        if (!more)
            break;
        if (ll == 0)
            continue;
        if (!colon) {
            /* x86 has only key: value lines; other architectures add free text we ignore. */
            continue;
        }
        const char *v = colon + 1;
        size_t vl = ll - (size_t)(v - line);
        while (vl > 0 && (*v == ' ' || *v == '\t'))
            v++, vl--;
        if (new_proc) {
            uint32_t id;
            if (parse_id(v, vl, &id) < 0)
                return -EINVAL;
            if (nproc == HK_CPUINFO_MAX_CPUS)
                return -E2BIG;
            nproc++;
            in_proc = true;
            have_phys = have_core = false;
        } else if (hk_token_eq(line, kl, "physical id")) {
            if (!in_proc || parse_id(v, vl, &phys) < 0)
                return -EINVAL;
            have_phys = true;
        } else if (hk_token_eq(line, kl, "core id")) {
            if (!in_proc || parse_id(v, vl, &core) < 0)
                return -EINVAL;
            have_core = true;
        }
    }
    if (nproc == 0)
        return -EINVAL;
    qsort(ret->pairs, npairs, sizeof(ret->pairs[0]), cmp_pair);
    unsigned cores = 0, sockets = 0;
    for (unsigned i = 0; i < npairs; i++) {
        if (i == 0 || cmp_pair(ret->pairs[i], ret->pairs[i - 1]) != 0)
            cores++;
        if (i == 0 || ret->pairs[i][0] != ret->pairs[i - 1][0])
            sockets++;
    }
    ret->processors = nproc;
    ret->physical_cores = cores;
    ret->sockets = sockets;
    return 0;
}

static const char *const machine_labels[] = {"boot_id", "machine_id", "system_uuid", NULL};

static const struct hk_metric_desc desc_cores = {
    "machine_cpu_cores", "Number of logical CPU cores.", HK_METRIC_GAUGE, "", machine_labels};
static const struct hk_metric_desc desc_physical_cores = {"machine_cpu_physical_cores",
                                                          "Number of physical CPU cores.",
                                                          HK_METRIC_GAUGE, "", machine_labels};
static const struct hk_metric_desc desc_sockets = {"machine_cpu_sockets", "Number of CPU sockets.",
                                                   HK_METRIC_GAUGE, "", machine_labels};
static const struct hk_metric_desc desc_memory = {"machine_memory_bytes",
                                                  "Amount of memory installed on the machine.",
                                                  HK_METRIC_GAUGE, "bytes", machine_labels};
static const struct hk_metric_desc desc_swap = {"machine_swap_bytes",
                                                "Amount of swap memory available on the machine.",
                                                HK_METRIC_GAUGE, "bytes", machine_labels};

/* /proc/cpuinfo is costly to generate (the kernel samples every CPU's frequency) and its
 * topology only changes with CPU hotplug, so it is re-read when the number of CPUs in sysfs
 * changes, when it could not be parsed, and at least every CPUINFO_REFRESH_MS. */
#define CPUINFO_REFRESH_MS (5 * 60 * 1000)

struct machine_state {
    struct hk_node_buf buf;
    struct hk_node_health cpuinfo_health, meminfo_health;
    struct hk_cpuinfo cpuinfo;
    bool have_cpuinfo;
    int64_t cpuinfo_ms;                                /* ctx->now_ms of the last successful read */
    int cpuinfo_sysfs_cpus;                            /* count_sysfs_cpus() at that read */
    char boot_id[64], machine_id[64], system_uuid[64]; /* label values, "" when unreadable */
};

static int machine_init(void **ret_state, const struct hk_collector_env *env)
{
    struct machine_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    hk_node_buf_init(&s->buf, 16384, 32u << 20); /* ~1.5 KiB of cpuinfo per CPU on x86 */
    *ret_state = s;
    return 0;
}

static void machine_fini(void *state)
{
    struct machine_state *s = state;
    if (!s)
        return;
    hk_node_buf_free(&s->buf);
    free(s);
}

/* First line of a small identity file, trimmed; "" when unreadable (cAdvisor does the same). */
static void read_id(int dirfd, const char *path, char *out, size_t cap)
{
    char buf[256];
    out[0] = '\0';
    ssize_t n = hk_read_file_at(dirfd, path, buf, sizeof(buf));
    if (n <= 0)
        return;
    size_t b = 0, e = (size_t)n;
    const char *nl = memchr(buf, '\n', (size_t)n);
    if (nl)
        e = (size_t)(nl - buf);
    while (b < e && (buf[b] == ' ' || buf[b] == '\t'))
        b++;
    while (e > b && (buf[e - 1] == ' ' || buf[e - 1] == '\t' || buf[e - 1] == '\r'))
        e--;
    if (e - b >= cap)
        return;
    memcpy(out, buf + b, e - b);
    out[e - b] = '\0';
}

/* Logical CPUs: the cpuN entries of sysfs' CPU directory; -ENOENT without sysfs. */
static int count_sysfs_cpus(int sys_fd)
{
    if (sys_fd < 0)
        return -ENOENT;
    int fd = openat(sys_fd, "devices/system/cpu", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int r = -errno;
        close(fd);
        return r;
    }
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *p = de->d_name;
        if (strncmp(p, "cpu", 3) != 0 || !p[3])
            continue;
        p += 3;
        while (*p >= '0' && *p <= '9')
            p++;
        if (!*p)
            n++;
    }
    closedir(d);
    return n > 0 ? n : -ENOENT;
}

struct mem_totals {
    uint64_t mem_kb, swap_kb;
    bool have_mem, have_swap;
};

static int pick_totals(const char *key, size_t key_len, uint64_t value, bool has_kb, void *userdata)
{
    struct mem_totals *t = userdata;
    if (hk_token_eq(key, key_len, "MemTotal")) {
        t->mem_kb = value;
        t->have_mem = true;
    } else if (hk_token_eq(key, key_len, "SwapTotal")) {
        t->swap_kb = value;
        t->have_swap = true;
    }
    return 0;
}

static int machine_collect(void *state, struct hk_collect_ctx *ctx)
{
    struct machine_state *s = state;
    const struct hk_paths *paths = ctx->paths;
    int cores = count_sysfs_cpus(paths->sys_fd);
    int64_t age = ctx->now_ms - s->cpuinfo_ms;
    if (!s->have_cpuinfo || cores != s->cpuinfo_sysfs_cpus || age < 0 ||
        age >= CPUINFO_REFRESH_MS) {
        /* The identity files are re-read on the same schedule: they change only with a reboot
         * (or a first boot writing machine-id). */
        read_id(paths->proc_fd, "sys/kernel/random/boot_id", s->boot_id, sizeof(s->boot_id));
        read_id(paths->root_fd, "etc/machine-id", s->machine_id, sizeof(s->machine_id));
        if (!s->machine_id[0])
            read_id(paths->root_fd, "var/lib/dbus/machine-id", s->machine_id,
                    sizeof(s->machine_id));
        read_id(paths->sys_fd, "class/dmi/id/product_uuid", s->system_uuid, sizeof(s->system_uuid));
        s->have_cpuinfo = false;
        ssize_t n = hk_node_buf_read(&s->buf, paths->proc_fd, "cpuinfo");
        if (n == -ENOMEM)
            return -ENOMEM;
        if (n != -ENOENT) {
            int r = n < 0 ? (int)n : hk_cpuinfo_parse(s->buf.data, (size_t)n, &s->cpuinfo);
            if (r < 0) {
                hk_node_soft_error(&s->cpuinfo_health, ctx, "machine", "cpuinfo", r);
            } else {
                hk_node_ok(&s->cpuinfo_health, "machine", "cpuinfo");
                s->have_cpuinfo = true;
                s->cpuinfo_ms = ctx->now_ms;
                s->cpuinfo_sysfs_cpus = cores;
            }
        }
    }
    bool have_cpuinfo = s->have_cpuinfo;
    const char *values[] = {s->boot_id, s->machine_id, s->system_uuid};
    if (cores < 0 && have_cpuinfo)
        cores = (int)s->cpuinfo.processors;
    if (cores >= 0)
        hk_emit(ctx->b, &desc_cores, values, cores);
    if (have_cpuinfo) {
        hk_emit(ctx->b, &desc_physical_cores, values, s->cpuinfo.physical_cores);
        hk_emit(ctx->b, &desc_sockets, values, s->cpuinfo.sockets);
    }

    char buf[8192];
    ssize_t n = hk_read_file_at(paths->proc_fd, "meminfo", buf, sizeof(buf));
    if (n == -ENOENT)
        return 0;
    struct mem_totals t = {0};
    int r = n < 0 ? (int)n : hk_meminfo_parse(buf, (size_t)n, pick_totals, &t);
    if (r < 0) {
        hk_node_soft_error(&s->meminfo_health, ctx, "machine", "meminfo", r);
        return 0;
    }
    hk_node_ok(&s->meminfo_health, "machine", "meminfo");
    if (t.have_mem)
        hk_emit(ctx->b, &desc_memory, values, (double)t.mem_kb * 1024.0);
    if (t.have_swap)
        hk_emit(ctx->b, &desc_swap, values, (double)t.swap_kb * 1024.0);
    return 0;
}

const struct hk_collector_ops hk_collector_machine = {
    .name = "machine",
    .help = "cAdvisor's machine_* capacity gauges (CPUs, sockets, memory, swap)",
    .default_enabled = true,
    .init = machine_init,
    .collect = machine_collect,
    .fini = machine_fini,
};
