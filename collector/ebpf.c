/* SPDX-License-Identifier: Apache-2.0 */
/* The eBPF collector: loads each probe (collector/ebpf_<name>.c; bpf/<name>.bpf.c) down the
 * tp_btf → raw_tp → tracepoint ladder, and each cycle reads their per-cgroup maps, resolves
 * cgroup ids to paths (own id → path index per hierarchy, re-walked on a miss) and paths to
 * containers (collector/containers.h). A probe that cannot load logs one line and reports
 * hakari_ebpf_program_up 0; where docs/ebpf.md lists a cheap fallback it is emitted instead.
 * Reads: <procfs>/self/mountinfo, cgroup hierarchies under <sysfs>/fs/cgroup, BPF maps.
 * Emits: hakari_ebpf_program_up, hakari_ebpf_events_lost_total,
 * hakari_ebpf_program_run_seconds_total, and the container_* families of the probes. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "collector/ebpf_internal.h"
#include "core/log.h"

#if HK_WITH_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#endif

static const struct hk_ebpf_probe *const probes[] = {
    &hk_ebpf_probe_sched, &hk_ebpf_probe_proc, &hk_ebpf_probe_oom,
    &hk_ebpf_probe_tcp,   &hk_ebpf_probe_blk,  &hk_ebpf_probe_syscalls,
};
#define NPROBES (sizeof(probes) / sizeof(probes[0]))

static const char *const program_label[] = {"program", NULL};
static const struct hk_metric_desc desc_up = {
    "hakari_ebpf_program_up", "1 if the eBPF program is loaded and attached, else 0.",
    HK_METRIC_GAUGE, "", program_label};
HK_EBPF_DESC desc_lost = {"hakari_ebpf_events_lost_total",
                          "Events an eBPF program could not record (a map was full).",
                          HK_METRIC_COUNTER, "", program_label};
#if HK_WITH_BPF
static const struct hk_metric_desc desc_run = {
    "hakari_ebpf_program_run_seconds_total",
    "Time spent running the eBPF program's hooks (kernel BPF run statistics; only while "
    "kernel.bpf_stats_enabled or collectors.ebpf.run_stats is on).",
    HK_METRIC_COUNTER, "seconds", program_label};
#endif

enum probe_status { PROBE_LOADING, PROBE_UP, PROBE_DOWN };

/* Ids a hierarchy could not resolve in one cycle (sorted for lookups in the next). */
struct idset {
    uint64_t *ids;
    size_t n, cap;
};

struct ebpf_state {
    struct hk_paths *paths;
    struct hk_hierarchy hier[HK_HIER_COUNT];
    void *probe_state[NPROBES]; /* written by the loader before status[i] leaves LOADING */
    bool enabled[NPROBES];
    _Atomic int status[NPROBES]; /* enum probe_status */
    struct hk_ebpf_env penv;
    pthread_t loader;
    bool loader_started;
    atomic_bool stop;
    int64_t cycle;
    int stats_fd; /* BPF_ENABLE_STATS handle while run_stats is on */
    struct idset missing_prev[HK_HIER_COUNT], missing_now[HK_HIER_COUNT];
};

#define MISSING_MAX 65536

static void idset_add(struct idset *set, uint64_t id)
{
    if (set->n == set->cap) {
        size_t nc = set->cap ? set->cap * 2 : 64;
        uint64_t *ni = nc <= MISSING_MAX ? realloc(set->ids, nc * sizeof(*ni)) : NULL;
        if (!ni)
            return; /* best effort: the entry is retried next cycle */
        set->ids = ni;
        set->cap = nc;
    }
    set->ids[set->n++] = id;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static const char *const option_keys[] = {
    HK_COLLECTOR_COMMON_KEYS, "syscalls", "syscall_latency",    "attach", "run_stats", "programs",
    "load_in_background",     "topology", "topology_max_peers", NULL};

struct ebpf_opts {
    bool load_in_background;
    bool syscalls;
    bool syscall_latency;
    bool run_stats;
    bool topology;
    unsigned topology_max_peers;
    int attach_min, attach_max;
    bool only_listed; /* `programs:` given: exactly those */
    bool listed[NPROBES];
};

/* programs: [sched, tcp, …] — restricts (or, for opt-in ones, adds) programs. */
static int parse_programs(const struct hk_yaml_node *n, struct ebpf_opts *o, struct hk_error *err)
{
    int r = hk_yaml_expect(n, HK_YAML_SEQ, err);
    if (r < 0)
        return r;
    o->only_listed = true;
    for (size_t i = 0; i < n->n; i++) {
        const struct hk_yaml_node *it = n->items[i];
        if ((r = hk_yaml_expect(it, HK_YAML_SCALAR, err)) < 0)
            return r;
        size_t k = 0;
        while (k < NPROBES && strcmp(probes[k]->name, it->scalar) != 0)
            k++;
        if (k == NPROBES)
            return hk_error_at(err, it, "unknown eBPF program \"%s\"", it->scalar);
        o->listed[k] = true;
    }
    return 0;
}

static int parse_opts(const struct hk_collector_env *env, struct ebpf_opts *o)
{
    const struct hk_yaml_node *n;
    int r;
    memset(o, 0, sizeof(*o));
    o->load_in_background = false; /* see load_probes */
    o->attach_min = HK_ATTACH_TP_BTF;
    o->topology = true;
    o->topology_max_peers = 64;
    o->attach_max = HK_ATTACH_TRACEPOINT;
    if ((r = hk_yaml_check_keys(env->options, option_keys, env->err)) < 0)
        return r;
    if ((n = hk_yaml_get(env->options, "programs")) && (r = parse_programs(n, o, env->err)) < 0)
        return r;
    if ((n = hk_yaml_get(env->options, "syscalls")) &&
        (r = hk_yaml_bool(n, &o->syscalls, env->err)) < 0)
        return r;
    if ((n = hk_yaml_get(env->options, "syscall_latency")) &&
        (r = hk_yaml_bool(n, &o->syscall_latency, env->err)) < 0)
        return r;
    if ((n = hk_yaml_get(env->options, "load_in_background")) &&
        (r = hk_yaml_bool(n, &o->load_in_background, env->err)) < 0)
        return r;
    if ((n = hk_yaml_get(env->options, "run_stats")) &&
        (r = hk_yaml_bool(n, &o->run_stats, env->err)) < 0)
        return r;
    if ((n = hk_yaml_get(env->options, "topology")) &&
        (r = hk_yaml_bool(n, &o->topology, env->err)) < 0)
        return r;
    if ((n = hk_yaml_get(env->options, "topology_max_peers"))) {
        uint64_t v;
        if ((r = hk_yaml_u64(n, 1, HK_TOPO_MAX_PEERS_MAX, &v, env->err)) < 0)
            return r;
        o->topology_max_peers = (unsigned)v;
    }
    if ((n = hk_yaml_get(env->options, "attach"))) {
        static const char *const names[] = {"tp_btf", "raw_tp", "tracepoint"};
        if ((r = hk_yaml_expect(n, HK_YAML_SCALAR, env->err)) < 0)
            return r;
        if (!strcmp(n->scalar, "auto"))
            return 0;
        for (int i = 0; i < 3; i++)
            if (!strcmp(n->scalar, names[i])) {
                o->attach_min = o->attach_max = i;
                return 0;
            }
        return hk_error_at(env->err, n, "attach: expected auto, tp_btf, raw_tp or tracepoint");
    }
    return 0;
}

static int ebpf_check(const struct hk_collector_env *env)
{
    struct ebpf_opts o;
    return parse_opts(env, &o);
}

static bool tracefs_mounted(const struct hk_paths *paths)
{
    return paths->sys_fd >= 0 &&
           (faccessat(paths->sys_fd, "kernel/tracing/events", F_OK, 0) == 0 ||
            faccessat(paths->sys_fd, "kernel/debug/tracing/events", F_OK, 0) == 0);
}

#if HK_WITH_BPF
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    if (level == LIBBPF_DEBUG || !hk_log_enabled(HK_LOG_DEBUG))
        return 0;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = '\0';
    hk_log_debug("libbpf", "detail", line);
    return 0;
}
#endif

/* ---- one program's lifecycle (struct hk_ebpf_prog_def says what differs per probe) ---- */
#if HK_WITH_BPF

static void prog_free(void *state)
{
    struct hk_ebpf_prog *p = state;
    if (!p)
        return;
    if (p->def->fini)
        p->def->fini(p);
    if (p->skel)
        p->def->ops->destroy(p->skel);
    hk_ebpf_ledger_free(p->ledger);
    free(p->priv);
    free(p);
}

static int prog_open(const struct hk_ebpf_probe *probe, void **ret_state,
                     const struct hk_ebpf_env *env, const char **ret_why)
{
    const struct hk_ebpf_prog_def *def = probe->def;
    struct hk_ebpf_prog *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->def = def;
    int r = -ENOMEM, kind;
    if (!(p->ledger = hk_ebpf_ledger_new(def->gauges)) ||
        (def->priv_size && !(p->priv = calloc(1, def->priv_size))))
        goto fail;
    if (def->setup && (r = def->setup(p, env, ret_why)) < 0)
        goto fail;
    if ((r = hk_ebpf_open_ladder(def->ops, env, &p->skel, &kind, ret_why)) < 0)
        goto fail;
    if (def->attached)
        def->attached(p, env);
    *ret_state = p;
    return 0;
fail:
    prog_free(p);
    return r;
}

struct prog_walk {
    struct hk_ebpf_prog *p;
    struct hk_ebpf_collect *c;
    struct hk_ebpf_rows rows;
};

static int prog_entry(const void *key, const void *vals, int ncpu, void *arg)
{
    struct prog_walk *w = arg;
    struct hk_ebpf_entry e;
    memset(&e, 0, sizeof(e));
    if (w->p->def->decode(w->p, key, vals, ncpu, &e) != 0)
        return 0;
    return hk_ebpf_add(w->c, &w->rows, w->p->def->hier, e.id, e.sub, e.v, HK_EBPF_ROW_VALUES,
                       e.slots);
}

static int prog_collect(void *state, struct hk_ebpf_collect *c)
{
    struct hk_ebpf_prog *p = state;
    const struct hk_ebpf_prog_def *def = p->def;
    struct prog_walk w = {p, c, {.ledger = p->ledger}};
    int r =
        hk_ebpf_map_walk(def->ops->stats(p->skel), def->key_size, def->value_size, prog_entry, &w);
    if (r == 0 && def->after_walk)
        r = def->after_walk(p, c, &w.rows);
    int settled = hk_ebpf_rows_settle(&w.rows, c->containers); /* also after a failed walk */
    if (r == 0)
        r = settled;
    if (r == 0)
        r = def->emit(p, c, &w.rows);
    hk_ebpf_rows_free(&w.rows);
    return r;
}

static int ncpus(void)
{
    int n = libbpf_num_possible_cpus();
    return n > 0 ? n : 1;
}

/* Sum over CPUs of the `lost` map's only slot. */
static uint64_t prog_lost(struct hk_ebpf_prog *p)
{
    int n = ncpus();
    uint64_t *v = calloc((size_t)n, sizeof(*v)), sum = 0;
    uint32_t zero = 0;
    if (v && bpf_map_lookup_elem(bpf_map__fd(p->def->ops->lost(p->skel)), &zero, v) == 0)
        for (int i = 0; i < n; i++)
            sum += v[i];
    free(v);
    return sum;
}

/* Time spent in the program's hooks (BPF run statistics). */
static uint64_t prog_run_ns(struct hk_ebpf_prog *p)
{
    struct bpf_program *prog;
    uint64_t ns = 0;
    bpf_object__for_each_program(prog, p->def->ops->obj(p->skel))
    {
        int fd = bpf_program__fd(prog);
        struct bpf_prog_info info;
        uint32_t len = sizeof(info);
        memset(&info, 0, sizeof(info));
        if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
            ns += info.run_time_ns;
    }
    return ns;
}
#else
static int prog_open(const struct hk_ebpf_probe *probe, void **ret_state,
                     const struct hk_ebpf_env *env, const char **ret_why)
{
    *ret_why = "built without eBPF support (make BPF=0)";
    return -EOPNOTSUPP;
}
static void prog_free(void *state)
{
}
static int prog_collect(void *state, struct hk_ebpf_collect *c)
{
    return 0;
}
#endif

/* Loads every enabled probe. BPF verification takes a few hundred ms each; by default this runs
 * in init, before main drops capabilities (they are per thread). load_in_background moves it to
 * a thread that keeps the start-up capabilities until it is done. */
static void *load_probes(void *arg)
{
    struct ebpf_state *s = arg;
    for (size_t i = 0; i < NPROBES; i++) {
        const struct hk_ebpf_probe *p = probes[i];
        if (!s->enabled[i])
            continue;
        const char *why = "agent stopping";
        int r =
            atomic_load(&s->stop) ? -ECANCELED : prog_open(p, &s->probe_state[i], &s->penv, &why);
        if (r < 0) {
            s->probe_state[i] = NULL;
            hk_log_warn("ebpf program not loaded; its metrics are missing or from a fallback",
                        "program", p->name, "reason", why ? why : "error", "err", strerror(-r));
        } else {
            hk_log_info("ebpf program attached", "program", p->name);
        }
        atomic_store(&s->status[i], r < 0 ? PROBE_DOWN : PROBE_UP);
    }
    return NULL;
}

static void ebpf_fini(void *state)
{
    struct ebpf_state *s = state;
    if (!s)
        return;
    atomic_store(&s->stop, true);
    if (s->loader_started)
        pthread_join(s->loader, NULL);
    for (size_t i = 0; i < NPROBES; i++)
        prog_free(s->probe_state[i]);
    hk_ebpf_hierarchies_close(s->hier);
    for (int h = 0; h < HK_HIER_COUNT; h++) {
        free(s->missing_prev[h].ids);
        free(s->missing_now[h].ids);
    }
    if (s->stats_fd >= 0)
        close(s->stats_fd);
    free(s);
}

static int ebpf_init(void **ret_state, const struct hk_collector_env *env)
{
    struct ebpf_opts o;
    int r = parse_opts(env, &o);
    if (r < 0)
        return r;
    struct ebpf_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->stats_fd = -1;
    s->paths = (struct hk_paths *)env->paths;
    if ((r = hk_ebpf_hierarchies_open(s->hier, env->paths)) < 0)
        hk_log_warn("ebpf: cannot find cgroup hierarchies", "err", strerror(-r));
#if HK_WITH_BPF
    libbpf_set_print(libbpf_log);
    if (o.run_stats) {
        s->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
        if (s->stats_fd < 0)
            hk_log_warn("ebpf: cannot enable BPF run statistics", "err", strerror(errno));
    }
#endif
    s->penv = (struct hk_ebpf_env){env->paths,
                                   s->hier,
                                   o.attach_max,
                                   o.attach_min,
                                   tracefs_mounted(env->paths),
                                   o.syscall_latency,
                                   o.topology,
                                   o.topology_max_peers};
    o.syscalls |= o.syscall_latency;
    for (size_t i = 0; i < NPROBES; i++) {
        const struct hk_ebpf_probe *p = probes[i];
        s->enabled[i] = o.only_listed ? o.listed[i] : !p->opt_in || o.syscalls;
        atomic_init(&s->status[i], PROBE_LOADING);
    }
    atomic_init(&s->stop, false);
    if (o.load_in_background && pthread_create(&s->loader, NULL, load_probes, s) == 0)
        s->loader_started = true;
    else
        load_probes(s);
    *ret_state = s;
    return 0;
}

/* Full re-walks of a hierarchy also happen every REWALK_CYCLES cycles, so that removed cgroups
 * leave the index (and then, via gone(), the kernel maps). */
#define REWALK_CYCLES 6

static const char *path_of(void *self, enum hk_hier h, uint64_t id)
{
    struct ebpf_state *s = self;
    struct hk_hierarchy *hh = &s->hier[h];
    if (hh->dirfd < 0)
        return NULL;
    bool stale = hh->walked_cycle < 0 || s->cycle - hh->walked_cycle >= REWALK_CYCLES;
    const char *p = stale ? NULL : hk_cgid_index_lookup(hh->index, id);
    if (p || hh->walked_cycle == s->cycle)
        return p;
    /* Unknown id (a cgroup made since the last walk) or a periodic refresh: re-walk, at most
     * once per cycle. */
    hh->walked_cycle = s->cycle;
    int r = hk_cgid_index_walk(hh->index, hh->dirfd);
    if (r < 0)
        hk_log_debug("ebpf: cgroup walk failed", "hierarchy", hh->mount, "err", strerror(-r));
    return hk_cgid_index_lookup(hh->index, id);
}

static bool gone(void *self, enum hk_hier h, uint64_t id)
{
    struct ebpf_state *s = self;
    if (!id || s->hier[h].walked_cycle != s->cycle)
        return false; /* only after a fresh walk of this cycle failed to find it */
    idset_add(&s->missing_now[h], id);
    const struct idset *prev = &s->missing_prev[h];
    return prev->n && bsearch(&id, prev->ids, prev->n, sizeof(id), u64_cmp);
}

/* The ids missing in the cycle that ends become the "previous" set of the next one. */
static void rotate_missing(struct ebpf_state *s)
{
    for (int h = 0; h < HK_HIER_COUNT; h++) {
        struct idset tmp = s->missing_prev[h];
        s->missing_prev[h] = s->missing_now[h];
        if (s->missing_prev[h].n > 1) /* ids may be NULL when empty: qsort(NULL) is UB */
            qsort(s->missing_prev[h].ids, s->missing_prev[h].n, sizeof(uint64_t), u64_cmp);
        s->missing_now[h] = tmp;
        s->missing_now[h].n = 0;
    }
}

static int ebpf_collect(void *state, struct hk_collect_ctx *ctx)
{
    struct ebpf_state *s = state;
    s->cycle++;
    struct hk_ebpf_collect c = {ctx, hk_containers_acquire(), path_of, gone, s, s->hier};
    int ret = 0;
#if HK_WITH_BPF
    bool stats_on = s->stats_fd >= 0;
    if (!stats_on) {
        char buf[16];
        stats_on = hk_read_file_at(ctx->paths->proc_fd, "sys/kernel/bpf_stats_enabled", buf,
                                   sizeof(buf)) > 0 &&
                   buf[0] == '1';
    }
#endif
    for (size_t i = 0; i < NPROBES; i++) {
        if (!s->enabled[i])
            continue;
        const struct hk_ebpf_probe *p = probes[i];
        const char *label[] = {p->name};
        int st = atomic_load(&s->status[i]);
        if (st == PROBE_LOADING)
            continue; /* still being verified: reported once it is up or down */
        void *ps = st == PROBE_UP ? s->probe_state[i] : NULL;
        hk_emit(ctx->b, &desc_up, label, ps ? 1 : 0);
        int r = ps ? prog_collect(ps, &c) : p->fallback ? p->fallback(&c) : 0;
        if (r < 0) {
            if (r == -ENOMEM) {
                ret = r;
                break;
            }
            ctx->soft_errors++;
        }
#if HK_WITH_BPF
        if (!ps)
            continue;
        hk_emit(ctx->b, &desc_lost, label, (double)prog_lost(ps));
        if (stats_on)
            hk_emit(ctx->b, &desc_run, label, (double)prog_run_ns(ps) / 1e9);
#endif
    }
    hk_containers_unref((struct hk_containers *)c.containers);
    rotate_missing(s);
    /* Every row of this cycle is emitted: the paths re-walks retired can go now. */
    for (int h = 0; h < HK_HIER_COUNT; h++)
        hk_cgid_index_release(s->hier[h].index);
    return ret;
}

const struct hk_collector_ops hk_collector_ebpf = {
    .name = "ebpf",
    .help = "per-container kernel signals from eBPF (run queue, processes, OOM, TCP)",
    .default_enabled = true,
    .check = ebpf_check,
    .init = ebpf_init,
    .collect = ebpf_collect,
    .fini = ebpf_fini,
};

/* ---- libbpf helpers shared by the probes ---- */
#if HK_WITH_BPF
static const char *const kind_prefix[] = {"tp_btf/", "raw_tp/", "tracepoint/"};
static const char *const kind_name[] = {"tp_btf", "raw_tp", "tracepoint"};

/* Enables only the programs of one attach kind; returns how many there are. */

/* Whether the running kernel is at least major.minor (uname release "6.1.0-…"). */
static bool kernel_at_least(unsigned major, unsigned minor)
{
    struct utsname u;
    unsigned ma = 0, mi = 0;
    if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &ma, &mi) != 2)
        return false;
    return ma > major || (ma == major && mi >= minor);
}

/* A per-CPU hash whose values hold latency histograms (2 KiB of slots) costs its full size on
 * every possible CPU when preallocated: 34 MiB per CPU for 16384 cgroups. Since Linux 6.1, hash
 * maps without preallocation take their elements from bpf_mem_alloc, safe in any program
 * context (sched_switch included), so there the map grows with the cgroups that have events.
 * Older kernels allocate such elements with kmalloc from the tracepoint (the verifier warns it is
 * unsafe): they keep preallocation. */
static void lazy_histograms(struct bpf_map *m)
{
    if (m && bpf_map__type(m) == BPF_MAP_TYPE_PERCPU_HASH &&
        bpf_map__value_size(m) >= HK_NH_SLOTS * sizeof(__u64) && kernel_at_least(6, 1))
        bpf_map__set_map_flags(m, bpf_map__map_flags(m) | BPF_F_NO_PREALLOC);
}
static int select_kind(struct bpf_object *obj, int kind)
{
    struct bpf_program *prog;
    int n = 0;
    bpf_object__for_each_program(prog, obj)
    {
        const char *sec = bpf_program__section_name(prog);
        bool on = !strncmp(sec, kind_prefix[kind], strlen(kind_prefix[kind]));
        bpf_program__set_autoload(prog, on);
        n += on;
    }
    return n;
}

int hk_ebpf_open_ladder(const struct hk_ebpf_skel_ops *ops, const struct hk_ebpf_env *env,
                        void **ret_skel, int *ret_kind, const char **ret_why)
{
    int r = -ENOENT;
    *ret_why = "no usable hook type";
    for (int kind = env->attach_min; kind <= env->attach_max; kind++) {
        if (kind == HK_ATTACH_TRACEPOINT && !env->tracefs) {
            if (r == -ENOENT)
                *ret_why = "tracefs not mounted at /sys/kernel/tracing";
            continue;
        }
        void *skel = ops->open();
        if (!skel) {
            *ret_why = "cannot open BPF object";
            return -errno ? -errno : -ENOMEM;
        }
        if (select_kind(ops->obj(skel), kind) == 0) {
            ops->destroy(skel);
            continue;
        }
        ops->configure(skel, env);
        lazy_histograms(ops->stats(skel));
        r = ops->load(skel);
        if (r < 0) {
            *ret_why = r == -EPERM ? "BPF load not permitted (needs root or CAP_BPF+CAP_PERFMON)"
                                   : "BPF load failed (no BTF, or the verifier rejected it)";
            hk_log_debug("ebpf: load failed", "hook", kind_name[kind], "err", strerror(-r));
            ops->destroy(skel);
            continue;
        }
        r = ops->attach(skel);
        if (r < 0) {
            *ret_why = "attach failed";
            hk_log_debug("ebpf: attach failed", "hook", kind_name[kind], "err", strerror(-r));
            ops->destroy(skel);
            continue;
        }
        *ret_skel = skel;
        *ret_kind = kind;
        hk_log_debug("ebpf: attached", "hook", kind_name[kind]);
        return 0;
    }
    return r;
}

#define DELETE_MAX 65536 /* keys deleted per walk; the rest go next cycle */

int hk_ebpf_map_walk(struct bpf_map *map, size_t key_size, size_t value_size,
                     int (*fn)(const void *key, const void *vals, int ncpu, void *arg), void *arg)
{
    int map_fd = bpf_map__fd(map);
    int ncpu = bpf_map__type(map) == BPF_MAP_TYPE_PERCPU_HASH ? ncpus() : 1;
    size_t stride = (value_size + 7) & ~(size_t)7;
    char *vals = malloc(stride * (size_t)ncpu);
    char *key = malloc(key_size), *next = malloc(key_size);
    char *dead = NULL; /* keys to delete once the walk is over */
    size_t ndead = 0, capdead = 0;
    int r = 0;
    if (!vals || !key || !next) {
        r = -ENOMEM;
        goto out;
    }
    void *prev = NULL;
    /* Bounded: a hash never yields more keys than max_entries, but entries can be added while
     * iterating, so stop after a generous number of steps. Entries are not deleted during the
     * walk: get_next_key from a deleted key starts over at the first key, and the entries seen
     * twice would be counted twice. */
    for (int steps = 0; steps < (1 << 20); steps++) {
        if (bpf_map_get_next_key(map_fd, prev, next) < 0)
            break;
        memcpy(key, next, key_size);
        prev = key;
        if (bpf_map_lookup_elem(map_fd, key, vals) < 0)
            continue; /* deleted meanwhile */
        if ((r = fn(key, vals, ncpu, arg)) < 0)
            break;
        if (r == 1 && ndead < DELETE_MAX) { /* its cgroup is gone */
            if (ndead == capdead) {
                size_t nc = capdead ? capdead * 2 : 16;
                char *nd = realloc(dead, nc * key_size);
                if (!nd) {
                    r = -ENOMEM;
                    break;
                }
                dead = nd;
                capdead = nc;
            }
            memcpy(dead + ndead++ * key_size, key, key_size);
        }
        r = 0;
    }
    for (size_t i = 0; i < ndead; i++)
        bpf_map_delete_elem(map_fd, dead + i * key_size);
out:
    free(dead);
    free(vals);
    free(key);
    free(next);
    return r;
}
#endif
