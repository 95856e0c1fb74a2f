/* TCP probe (bpf/tcp.bpf.c): sock:inet_sock_set_state and tcp:tcp_retransmit_skb, attributed to
 * the socket's cgroup. Emits container_tcp_connects_total{result}, container_tcp_accepts_total,
 * container_tcp_closes_total, container_tcp_active_connections, container_tcp_retransmits_total.
 * The active gauge is seeded at start (collector/ebpf_tcp_seed.c); on v1 hosts the seeded
 * sockets' cookies go to the kernel so that their close decrements the right cgroup. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/tcp.h"
#include "collector/ebpf_internal.h"
#include "core/log.h"

static const char *const labels_result[] = {"container", "id",  "image",  "name",
                                            "namespace", "pod", "result", NULL};
HK_EBPF_DESC desc_connects = {"container_tcp_connects_total",
                              "Outgoing TCP connection attempts of the container by result (eBPF).",
                              HK_METRIC_COUNTER, "", labels_result};
HK_EBPF_DESC desc_accepts = {
    "container_tcp_accepts_total",
    "Incoming TCP connections established on the container's listeners (eBPF).", HK_METRIC_COUNTER,
    "", hk_ebpf_base_labels};
HK_EBPF_DESC desc_closes = {"container_tcp_closes_total",
                            "Established TCP connections of the container that closed (eBPF).",
                            HK_METRIC_COUNTER, "", hk_ebpf_base_labels};
HK_EBPF_DESC desc_active = {
    "container_tcp_active_connections",
    "TCP connections of the container currently in state ESTABLISHED (eBPF).", HK_METRIC_GAUGE, "",
    hk_ebpf_base_labels};
HK_EBPF_DESC desc_retrans = {"container_tcp_retransmits_total",
                             "TCP segments retransmitted by the container's sockets (eBPF).",
                             HK_METRIC_COUNTER, "", hk_ebpf_base_labels};

enum { V_OK, V_FAILED, V_ACCEPTS, V_CLOSES, V_RETRANS, V_ACTIVE, V_N };
#define HK_TCP_GAUGES (1u << V_ACTIVE) /* not carried when a cgroup vanishes */

void hk_ebpf_tcp_decode(const void *vals, int ncpu, int64_t ret[6])
{
    const struct hk_tcp_val *v = vals;
    memset(ret, 0, V_N * sizeof(*ret));
    for (int c = 0; c < ncpu; c++) {
        ret[V_OK] += (int64_t)v[c].connects_ok;
        ret[V_FAILED] += (int64_t)v[c].connects_failed;
        ret[V_ACCEPTS] += (int64_t)v[c].accepts;
        ret[V_CLOSES] += (int64_t)v[c].closes;
        ret[V_RETRANS] += (int64_t)v[c].retransmits;
        ret[V_ACTIVE] += v[c].active; /* per-CPU deltas: one CPU may be negative */
    }
}

#if HK_WITH_BPF
#include <bpf/bpf.h>

#include "bpf/tcp.skel.h"

struct seed {
    uint64_t id;
    int64_t n;
};

struct tcp_state {
    struct hk_tcp *skel;
    struct hk_ebpf_ledger *ledger; /* keeps rows from going backwards */
    enum hk_hier hier;
    struct seed *seeds; /* active connections per cgroup id at attach time */
    size_t nseeds;
};

static void configure(void *skel, const struct hk_ebpf_env *env)
{
    ((struct hk_tcp *)skel)->rodata->cg_v1 = env->hier[HK_HIER_CPU].v1;
}
HK_EBPF_SKEL_OPS(skel_ops, hk_tcp, configure);

int hk_ebpf_tcp_seed(const struct hk_ebpf_env *env,
                     int (*fn)(uint64_t cookie, uint64_t id, void *arg), void *arg);

struct seed_arg {
    struct tcp_state *s;
    uint64_t (*cookies)[2]; /* cookie, owner id */
    size_t ncookies, cap;
};

static int add_seed(uint64_t cookie, uint64_t id, void *arg)
{
    struct seed_arg *a = arg;
    struct tcp_state *s = a->s;
    size_t i = 0;
    while (i < s->nseeds && s->seeds[i].id != id)
        i++;
    if (i == s->nseeds) {
        struct seed *ns = realloc(s->seeds, (s->nseeds + 1) * sizeof(*ns));
        if (!ns)
            return -ENOMEM;
        s->seeds = ns;
        s->seeds[s->nseeds++] = (struct seed){id, 0};
    }
    s->seeds[i].n++;
    if (a->ncookies == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 64;
        if (nc > HK_TCP_SEED_MAX)
            return 0;
        void *nv = realloc(a->cookies, nc * sizeof(*a->cookies));
        if (!nv)
            return -ENOMEM;
        a->cookies = nv;
        a->cap = nc;
    }
    a->cookies[a->ncookies][0] = cookie;
    a->cookies[a->ncookies][1] = id;
    a->ncookies++;
    return 0;
}

static int tcp_open(void **ret_state, const struct hk_ebpf_env *env, const char **ret_why)
{
    struct tcp_state *s = calloc(1, sizeof(*s));
    if (s && !(s->ledger = hk_ebpf_ledger_new(HK_TCP_GAUGES))) {
        free(s);
        s = NULL;
    }
    if (!s)
        return -ENOMEM;
    /* Established connections before attach (the gap until attach is a few hundred ms). */
    struct seed_arg seeds = {s, NULL, 0, 0};
    int r = hk_ebpf_tcp_seed(env, add_seed, &seeds);
    if (r < 0)
        hk_log_warn("ebpf: cannot seed active TCP connections", "program", "tcp", "err",
                    strerror(-r));
    int kind;
    r = hk_ebpf_open_ladder(&skel_ops, env, (void **)&s->skel, &kind, ret_why);
    if (r < 0) {
        free(seeds.cookies);
        free(s->seeds);
        hk_ebpf_ledger_free(s->ledger);
        free(s);
        return r;
    }
    /* On v1 hosts the kernel knows a seeded socket's owner only through its cookie. */
    if (env->hier[HK_HIER_CPU].v1) {
        int fd = bpf_map__fd(s->skel->maps.seed_owner);
        for (size_t i = 0; i < seeds.ncookies; i++)
            if (seeds.cookies[i][0])
                bpf_map_update_elem(fd, &seeds.cookies[i][0], &seeds.cookies[i][1], BPF_ANY);
    }
    free(seeds.cookies);
    s->hier = HK_HIER_CPU;
    *ret_state = s;
    return 0;
}

struct walk_arg {
    struct tcp_state *s;
    struct hk_ebpf_collect *c;
    struct hk_ebpf_rows rows;
    bool *seed_used;
};

static int add_entry(uint64_t id, const void *vals, int ncpu, void *arg)
{
    struct walk_arg *w = arg;
    int64_t sum[V_N];
    hk_ebpf_tcp_decode(vals, ncpu, sum);
    for (size_t i = 0; i < w->s->nseeds; i++)
        if (w->s->seeds[i].id == id) {
            sum[V_ACTIVE] += w->s->seeds[i].n;
            w->seed_used[i] = true;
        }
    return hk_ebpf_add(w->c, &w->rows, w->s->hier, id, 0, sum, V_N, NULL);
}

static int tcp_collect(void *state, struct hk_ebpf_collect *c)
{
    struct tcp_state *s = state;
    struct walk_arg w = {s, c, {.ledger = s->ledger}, calloc(s->nseeds + 1, sizeof(bool))};
    if (!w.seed_used)
        return -ENOMEM;
    int r = hk_ebpf_percpu_foreach(bpf_map__fd(s->skel->maps.tcp_stats), sizeof(struct hk_tcp_val),
                                   add_entry, &w);
    /* Cgroups whose seeded connections saw no event since attach. */
    for (size_t i = 0; i < s->nseeds && r == 0; i++) {
        if (w.seed_used[i])
            continue;
        int64_t v[V_N] = {0};
        v[V_ACTIVE] = s->seeds[i].n;
        r = hk_ebpf_add(c, &w.rows, s->hier, s->seeds[i].id, 0, v, V_N, NULL);
        if (r == 1) { /* cgroup gone: its seeded connections went with it */
            s->seeds[i].n = 0;
            r = 0;
        }
    }
    free(w.seed_used);
    int settled = hk_ebpf_rows_settle(&w.rows, c->containers);
    if (r == 0)
        r = settled;
    if (r == 0) {
        struct hk_builder *b = c->ctx->b;
        for (size_t i = 0; i < w.rows.n; i++)
            if (w.rows.rows[i].v[V_ACTIVE] < 0)
                w.rows.rows[i].v[V_ACTIVE] = 0; /* closes of sockets older than the probe */
        if ((r = hk_ebpf_emit_counter(b, &desc_connects, &w.rows, V_OK, 1, "success")) == 0 &&
            (r = hk_ebpf_emit_counter(b, &desc_connects, &w.rows, V_FAILED, 1, "failed")) == 0 &&
            (r = hk_ebpf_emit_counter(b, &desc_accepts, &w.rows, V_ACCEPTS, 1, NULL)) == 0 &&
            (r = hk_ebpf_emit_counter(b, &desc_closes, &w.rows, V_CLOSES, 1, NULL)) == 0 &&
            (r = hk_ebpf_emit_counter(b, &desc_active, &w.rows, V_ACTIVE, 1, NULL)) == 0)
            r = hk_ebpf_emit_counter(b, &desc_retrans, &w.rows, V_RETRANS, 1, NULL);
    }
    hk_ebpf_rows_free(&w.rows);
    return r;
}

static void tcp_fini(void *state)
{
    struct tcp_state *s = state;
    if (!s)
        return;
    hk_tcp__destroy(s->skel);
    hk_ebpf_ledger_free(s->ledger);
    free(s->seeds);
    free(s);
}

static size_t tcp_prog_fds(void *state, int *fds, size_t cap)
{
    return hk_ebpf_obj_prog_fds(((struct tcp_state *)state)->skel->obj, fds, cap);
}

static uint64_t tcp_lost(void *state)
{
    return hk_ebpf_percpu_u64(bpf_map__fd(((struct tcp_state *)state)->skel->maps.lost));
}
#else
static int tcp_open(void **ret_state, const struct hk_ebpf_env *env, const char **ret_why)
{
    *ret_why = "built without eBPF support (make BPF=0)";
    return -EOPNOTSUPP;
}
#define tcp_collect NULL
#define tcp_fini NULL
#define tcp_prog_fds NULL
#define tcp_lost NULL
#endif

const struct hk_ebpf_probe hk_ebpf_probe_tcp = {
    .name = "tcp",
    .open = tcp_open,
    .collect = tcp_collect,
    .fini = tcp_fini,
    .prog_fds = tcp_prog_fds,
    .lost = tcp_lost,
};
