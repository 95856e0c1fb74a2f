/* SPDX-License-Identifier: Apache-2.0 */
/* TCP probe (bpf/tcp.bpf.c): sock:inet_sock_set_state and tcp:tcp_retransmit_skb, attributed to
 * the socket's cgroup. Emits container_tcp_connects_total{result}, container_tcp_accepts_total,
 * container_tcp_closes_total, container_tcp_active_connections, container_tcp_retransmits_total.
 * The active gauge is seeded at start (collector/ebpf_tcp_seed.c); on v1 hosts the seeded
 * sockets' cookies go to the kernel so that their close decrements the right cgroup.
 * With collectors.ebpf.topology (default on) it also reads the per-peer edge map into
 * collector/ebpf_topo.c, which emits the container_tcp_peer_* families. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/tcp.h"
#include "collector/ebpf_internal.h"
#include "collector/ebpf_topo.h"
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
    struct seed *seeds; /* active connections per cgroup id at attach time */
    size_t nseeds;
    bool *seed_used;        /* per collection: the seed's cgroup has a map entry */
    uint64_t (*cookies)[2]; /* cookie, owner id: until attached */
    size_t ncookies, cap;
    struct hk_topo *topo; /* NULL when collectors.ebpf.topology is off */
    struct hk_ct_lookup ct;
};

/* Edges unchanged for this long are forgotten (their series go stale). */
#define TOPO_GRACE_MS (5 * 60 * 1000)

static void configure(void *skel, const struct hk_ebpf_env *env)
{
    struct hk_tcp *t = skel;
    t->rodata->cg_v1 = env->hier[HK_HIER_CPU].v1;
    t->rodata->topology = env->topology;
}
HK_EBPF_SKEL_OPS(skel_ops, hk_tcp, configure, tcp_stats);

int hk_ebpf_tcp_seed(const struct hk_ebpf_env *env,
                     int (*fn)(uint64_t cookie, uint64_t id, void *arg), void *arg);

static int add_seed(uint64_t cookie, uint64_t id, void *arg)
{
    struct tcp_state *s = arg;
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
    if (s->ncookies == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        if (nc > HK_TCP_SEED_MAX)
            return 0;
        void *nv = realloc(s->cookies, nc * sizeof(*s->cookies));
        if (!nv)
            return -ENOMEM;
        s->cookies = nv;
        s->cap = nc;
    }
    s->cookies[s->ncookies][0] = cookie;
    s->cookies[s->ncookies][1] = id;
    s->ncookies++;
    return 0;
}

/* Established connections before attach (the gap until attach is a few hundred ms). */
static int setup(struct hk_ebpf_prog *p, const struct hk_ebpf_env *env, const char **ret_why)
{
    struct tcp_state *s = p->priv;
    s->ct.fd = -1;
    if (env->topology &&
        !(s->topo = hk_topo_new(env->topology_max_peers, TOPO_GRACE_MS, hk_ct_resolve, &s->ct)))
        return -ENOMEM;
    if (s->topo) /* the /proc/self/net/nf_conntrack scan once ctnetlink is not permitted */
        hk_topo_set_batch(s->topo, hk_ct_batch);
    int r = hk_ebpf_tcp_seed(env, add_seed, s);
    if (r < 0)
        hk_log_warn("ebpf: cannot seed active TCP connections", "program", "tcp", "err",
                    strerror(-r));
    return (s->seed_used = calloc(s->nseeds + 1, sizeof(bool))) ? 0 : -ENOMEM;
}

/* On v1 hosts the kernel knows a seeded socket's owner only through its cookie. */
static void attached(struct hk_ebpf_prog *p, const struct hk_ebpf_env *env)
{
    struct tcp_state *s = p->priv;
    if (env->hier[HK_HIER_CPU].v1) {
        int fd = bpf_map__fd(((struct hk_tcp *)p->skel)->maps.seed_owner);
        for (size_t i = 0; i < s->ncookies; i++)
            if (s->cookies[i][0])
                bpf_map_update_elem(fd, &s->cookies[i][0], &s->cookies[i][1], BPF_ANY);
    }
    free(s->cookies);
    s->cookies = NULL;
    s->ncookies = s->cap = 0;
}

static int decode(struct hk_ebpf_prog *p, const void *key, const void *vals, int ncpu,
                  struct hk_ebpf_entry *ret)
{
    struct tcp_state *s = p->priv;
    memcpy(&ret->id, key, sizeof(ret->id));
    hk_ebpf_tcp_decode(vals, ncpu, ret->v);
    for (size_t i = 0; i < s->nseeds; i++)
        if (s->seeds[i].id == ret->id) {
            ret->v[V_ACTIVE] += s->seeds[i].n;
            s->seed_used[i] = true;
        }
    return 0;
}

/* Cgroups whose seeded connections saw no event since attach. */
static int after_walk(struct hk_ebpf_prog *p, struct hk_ebpf_collect *c, struct hk_ebpf_rows *rows)
{
    struct tcp_state *s = p->priv;
    int r = 0;
    for (size_t i = 0; i < s->nseeds && r == 0; i++) {
        if (s->seed_used[i])
            continue;
        int64_t v[V_N] = {0};
        v[V_ACTIVE] = s->seeds[i].n;
        r = hk_ebpf_add(c, rows, HK_HIER_CPU, s->seeds[i].id, 0, v, V_N, NULL);
        if (r == 1) { /* cgroup gone: its seeded connections went with it */
            s->seeds[i].n = 0;
            r = 0;
        }
    }
    memset(s->seed_used, 0, (s->nseeds + 1) * sizeof(bool));
    return r;
}

struct edge_walk {
    struct hk_topo *topo;
    struct hk_ebpf_collect *c;
    int map_fd;
};

static int edge_entry(const void *key, const void *vals, int ncpu, void *arg)
{
    struct edge_walk *w = arg;
    const struct hk_tcp_edge_key *k = key;
    const struct hk_tcp_edge_val *v = vals;
    struct hk_topo_kentry e = {.cgid = k->cgid, .port = k->port, .direction = k->direction};
    memcpy(e.addr, k->addr, 16);
    e.v[HK_TOPO_CONN] = v->connections;
    e.v[HK_TOPO_FAILED] = v->failed;
    e.v[HK_TOPO_RETRANS] = v->retransmits;
    e.v[HK_TOPO_RTT_US] = v->rtt_us_sum;
    e.v[HK_TOPO_RTT_N] = v->rtt_count;
    memcpy(e.sample_saddr, v->sample_saddr, 16);
    e.sample_sport = v->sample_sport;
    (void)ncpu;
    const char *path = w->c->path_of(w->c->self, HK_HIER_CPU, k->cgid);
    const char *labels[HK_EBPF_NBASE];
    if (path)
        hk_ebpf_labels_for(w->c->containers, path, labels);
    bool gone = !path && w->c->gone(w->c->self, HK_HIER_CPU, k->cgid);
    return hk_topo_add(w->topo, &e, path ? labels : NULL, gone);
}

static void edge_delete(void *arg, uint64_t cgid, const uint8_t addr[16], uint16_t port,
                        uint8_t direction)
{
    struct edge_walk *w = arg;
    struct hk_tcp_edge_key k = {.cgid = cgid, .port = port, .direction = direction};
    memcpy(k.addr, addr, 16);
    bpf_map_delete_elem(w->map_fd, &k);
}

/* The edge map → per-container edges (collector/ebpf_topo.c). */
static int emit_edges(struct hk_ebpf_prog *p, struct hk_ebpf_collect *c)
{
    struct tcp_state *s = p->priv;
    struct bpf_map *map = ((struct hk_tcp *)p->skel)->maps.tcp_edges;
    struct edge_walk w = {s->topo, c, bpf_map__fd(map)};
    hk_topo_begin(s->topo, c->ctx->now_ms);
    int r = hk_ebpf_map_walk(map, sizeof(struct hk_tcp_edge_key), sizeof(struct hk_tcp_edge_val),
                             edge_entry, &w);
    hk_topo_end(s->topo, edge_delete, &w);
    if (r == -ENOMEM)
        return r;
    int e = hk_topo_emit(s->topo, c->ctx->b);
    if (e == 0)
        e = hk_ct_emit(&s->ct, c->ctx->b);
    return e < 0 ? e : r;
}

static int emit(struct hk_ebpf_prog *p, struct hk_ebpf_collect *c, struct hk_ebpf_rows *rows)
{
    struct tcp_state *s = p->priv;
    struct hk_builder *b = c->ctx->b;
    int r;
    for (size_t i = 0; i < rows->n; i++)
        if (rows->rows[i].v[V_ACTIVE] < 0)
            rows->rows[i].v[V_ACTIVE] = 0; /* closes of sockets older than the probe */
    if ((r = hk_ebpf_emit_counter(b, &desc_connects, rows, V_OK, 1, "success")) == 0 &&
        (r = hk_ebpf_emit_counter(b, &desc_connects, rows, V_FAILED, 1, "failed")) == 0 &&
        (r = hk_ebpf_emit_counter(b, &desc_accepts, rows, V_ACCEPTS, 1, NULL)) == 0 &&
        (r = hk_ebpf_emit_counter(b, &desc_closes, rows, V_CLOSES, 1, NULL)) == 0 &&
        (r = hk_ebpf_emit_counter(b, &desc_active, rows, V_ACTIVE, 1, NULL)) == 0)
        r = hk_ebpf_emit_counter(b, &desc_retrans, rows, V_RETRANS, 1, NULL);
    if (r == 0 && s->topo)
        r = emit_edges(p, c);
    return r;
}

static void fini(struct hk_ebpf_prog *p)
{
    struct tcp_state *s = p->priv;
    if (!s)
        return;
    free(s->seeds);
    free(s->seed_used);
    free(s->cookies);
    if (s->topo) { /* ct.fd is set up with it */
        hk_topo_free(s->topo);
        hk_ct_lookup_close(&s->ct);
    }
}

static const struct hk_ebpf_prog_def def = {
    .ops = &skel_ops,
    .hier = HK_HIER_CPU,
    .key_size = sizeof(uint64_t),
    .value_size = sizeof(struct hk_tcp_val),
    .gauges = HK_TCP_GAUGES,
    .priv_size = sizeof(struct tcp_state),
    .setup = setup,
    .attached = attached,
    .decode = decode,
    .after_walk = after_walk,
    .emit = emit,
    .fini = fini,
};
#endif

const struct hk_ebpf_probe hk_ebpf_probe_tcp = {
    .name = "tcp",
    .def = HK_EBPF_DEF(def),
};
