/* SPDX-License-Identifier: Apache-2.0 */
/* CPU time and kernel activity counters, node_exporter's cpu and stat collectors.
 * Reads: <procfs>/stat.
 * Emits: node_cpu_seconds_total{cpu,mode}, node_cpu_guest_seconds_total{cpu,mode},
 * node_boot_time_seconds, node_context_switches_total, node_forks_total, node_intr_total,
 * node_procs_running, node_procs_blocked. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/node_common.h"
#include "collector/node_parsers.h"
#include "core/collector.h"
#include "core/parse.h"

static const char *const cpu_mode_labels[] = {"cpu", "mode", NULL};

static const struct hk_metric_desc desc_cpu = {"node_cpu_seconds_total",
                                               "Seconds the CPUs spent in each mode.",
                                               HK_METRIC_COUNTER, "seconds", cpu_mode_labels};
static const struct hk_metric_desc desc_guest = {
    "node_cpu_guest_seconds_total", "Seconds the CPUs spent in guests (VMs) for each mode.",
    HK_METRIC_COUNTER, "seconds", cpu_mode_labels};
static const struct hk_metric_desc desc_boot = {
    "node_boot_time_seconds", "Node boot time, in unixtime.", HK_METRIC_GAUGE, "seconds", NULL};
static const struct hk_metric_desc desc_ctxt = {"node_context_switches_total",
                                                "Total number of context switches.",
                                                HK_METRIC_COUNTER, "", NULL};
static const struct hk_metric_desc desc_forks = {"node_forks_total", "Total number of forks.",
                                                 HK_METRIC_COUNTER, "", NULL};
static const struct hk_metric_desc desc_intr = {
    "node_intr_total", "Total number of interrupts serviced.", HK_METRIC_COUNTER, "", NULL};
static const struct hk_metric_desc desc_running = {
    "node_procs_running", "Number of processes in runnable state.", HK_METRIC_GAUGE, "", NULL};
static const struct hk_metric_desc desc_blocked = {
    "node_procs_blocked", "Number of processes blocked waiting for I/O to complete.",
    HK_METRIC_GAUGE, "", NULL};

/* node_exporter's mode names for the first eight fields; guest fields go to their own family. */
static const char *const cpu_modes[] = {"user",   "nice", "system",  "idle",
                                        "iowait", "irq",  "softirq", "steal"};

/* Reads n numbers of the current line into v (at most max); returns how many, or -EINVAL when a
 * token is not a number. */
static int parse_numbers(struct hk_cursor *c, uint64_t *v, unsigned max)
{
    const char *tok;
    size_t tl;
    unsigned n = 0;
    while (hk_cursor_token(c, &tok, &tl)) {
        uint64_t x;
        int r = hk_parse_u64(tok, tl, &x);
        if (r < 0)
            return r;
        if (n < max)
            v[n] = x;
        n++;
    }
    return (int)(n > max ? max : n);
}

static int parse_one(struct hk_cursor *c, uint64_t *ret)
{
    uint64_t v;
    int n = parse_numbers(c, &v, 1);
    if (n < 0)
        return n;
    if (n < 1)
        return -EINVAL;
    *ret = v;
    return 0;
}

int hk_stat_parse(const char *buf, size_t len, hk_stat_cpu_fn fn, void *userdata,
                  struct hk_stat_misc *ret_misc)
{
    static const struct {
        const char *key;
        unsigned bit;
        size_t off;
    } singles[] = {
        {"btime", HK_STAT_HAVE_BTIME, offsetof(struct hk_stat_misc, btime)},
        {"ctxt", HK_STAT_HAVE_CTXT, offsetof(struct hk_stat_misc, ctxt)},
        {"processes", HK_STAT_HAVE_PROCESSES, offsetof(struct hk_stat_misc, processes)},
        {"procs_running", HK_STAT_HAVE_RUNNING, offsetof(struct hk_stat_misc, procs_running)},
        {"procs_blocked", HK_STAT_HAVE_BLOCKED, offsetof(struct hk_stat_misc, procs_blocked)},
    };
    struct hk_stat_misc misc = {0};
    struct hk_cursor c;
    unsigned ncpus = 0;
    hk_cursor_init(&c, buf, len);
    while (!hk_cursor_eof(&c)) {
        const char *key;
        size_t kl;
        int r;
        if (!hk_cursor_token(&c, &key, &kl)) {
            hk_cursor_next_line(&c);
            continue;
        }
        if (kl >= 3 && memcmp(key, "cpu", 3) == 0) {
            struct hk_stat_cpu cpu = {.id = key + 3, .id_len = kl - 3};
            for (size_t i = 0; i < cpu.id_len; i++)
                if (cpu.id[i] < '0' || cpu.id[i] > '9' || cpu.id_len > 9)
                    return -EINVAL;
            r = parse_numbers(&c, cpu.ticks, HK_CPU_NFIELDS);
            if (r < 0)
                return r;
            if (r < 4) /* user nice system idle exist on every kernel */
                return -EINVAL;
            cpu.nfields = (unsigned)r;
            if (cpu.id_len > 0) {
                ncpus++;
                if (fn && (r = fn(&cpu, userdata)) < 0)
                    return r;
            }
        } else if (hk_token_eq(key, kl, "intr")) {
            if ((r = parse_one(&c, &misc.intr)) < 0)
                return r;
            misc.have |= HK_STAT_HAVE_INTR;
        } else {
            for (size_t i = 0; i < sizeof(singles) / sizeof(singles[0]); i++) {
                if (!hk_token_eq(key, kl, singles[i].key))
                    continue;
                if ((r = parse_one(&c, (uint64_t *)((char *)&misc + singles[i].off))) < 0)
                    return r;
                misc.have |= singles[i].bit;
            }
        }
        hk_cursor_next_line(&c);
    }
    if (ncpus == 0)
        return -EINVAL;
    if (ret_misc)
        *ret_misc = misc;
    return 0;
}

struct cpu_state {
    struct hk_node_buf buf;
    struct hk_node_health health;
    double user_hz;
};

struct emit_ctx {
    struct hk_builder *b;
    double user_hz;
};

static int emit_cpu(const struct hk_stat_cpu *cpu, void *userdata)
{
    const struct emit_ctx *e = userdata;
    char id[16];
    memcpy(id, cpu->id, cpu->id_len);
    id[cpu->id_len] = '\0';
    for (unsigned i = 0; i < cpu->nfields && i < 8; i++) {
        const char *values[] = {id, cpu_modes[i]};
        hk_emit(e->b, &desc_cpu, values, (double)cpu->ticks[i] / e->user_hz);
    }
    if (cpu->nfields > HK_CPU_GUEST) {
        const char *values[] = {id, "user"};
        hk_emit(e->b, &desc_guest, values, (double)cpu->ticks[HK_CPU_GUEST] / e->user_hz);
    }
    if (cpu->nfields > HK_CPU_GUEST_NICE) {
        const char *values[] = {id, "nice"};
        hk_emit(e->b, &desc_guest, values, (double)cpu->ticks[HK_CPU_GUEST_NICE] / e->user_hz);
    }
    return 0;
}

static int cpu_init(void **ret_state, const struct hk_collector_env *env)
{
    struct cpu_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    /* 2 CPUs need ~3 KiB (the intr line dominates); 4 MiB covers thousands of CPUs. */
    hk_node_buf_init(&s->buf, 16384, 4u << 20);
    long hz = sysconf(_SC_CLK_TCK);
    s->user_hz = hz > 0 ? (double)hz : 100.0;
    *ret_state = s;
    return 0;
}

static void cpu_fini(void *state)
{
    struct cpu_state *s = state;
    if (!s)
        return;
    hk_node_buf_free(&s->buf);
    free(s);
}

static int cpu_collect(void *state, struct hk_collect_ctx *ctx)
{
    struct cpu_state *s = state;
    ssize_t n = hk_node_buf_read(&s->buf, ctx->paths->proc_fd, "stat");
    if (n == -ENOENT)
        return 0;
    if (n == -ENOMEM)
        return -ENOMEM;
    struct hk_stat_misc misc;
    int r = n < 0 ? (int)n : hk_stat_parse(s->buf.data, (size_t)n, NULL, NULL, &misc);
    if (r < 0) {
        hk_node_soft_error(&s->health, ctx, "cpu", "stat", r);
        return 0;
    }
    hk_node_ok(&s->health, "cpu", "stat");
    struct emit_ctx e = {ctx->b, s->user_hz};
    hk_stat_parse(s->buf.data, (size_t)n, emit_cpu, &e, NULL);
    if (misc.have & HK_STAT_HAVE_BTIME)
        hk_emit(ctx->b, &desc_boot, NULL, (double)misc.btime);
    if (misc.have & HK_STAT_HAVE_CTXT)
        hk_emit(ctx->b, &desc_ctxt, NULL, (double)misc.ctxt);
    if (misc.have & HK_STAT_HAVE_PROCESSES)
        hk_emit(ctx->b, &desc_forks, NULL, (double)misc.processes);
    if (misc.have & HK_STAT_HAVE_INTR)
        hk_emit(ctx->b, &desc_intr, NULL, (double)misc.intr);
    if (misc.have & HK_STAT_HAVE_RUNNING)
        hk_emit(ctx->b, &desc_running, NULL, (double)misc.procs_running);
    if (misc.have & HK_STAT_HAVE_BLOCKED)
        hk_emit(ctx->b, &desc_blocked, NULL, (double)misc.procs_blocked);
    return 0;
}

const struct hk_collector_ops hk_collector_cpu = {
    .name = "cpu",
    .help =
        "CPU seconds per mode and kernel counters from /proc/stat (node_cpu_*, node_forks_total…)",
    .default_enabled = true,
    .init = cpu_init,
    .collect = cpu_collect,
    .fini = cpu_fini,
};
