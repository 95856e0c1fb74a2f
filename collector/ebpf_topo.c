/* SPDX-License-Identifier: Apache-2.0 */
/* Per-container TCP edges from the tcp probe's edge map (collector/ebpf_topo.h), and the
 * conntrack lookup that resolves a Service VIP to the backend a connection was DNATed to.
 * Emits: container_tcp_peer_connections_total, container_tcp_peer_failed_connects_total,
 * container_tcp_peer_retransmits_total, container_tcp_peer_rtt_seconds (_sum/_count),
 * hakari_topology_peers_dropped_total. */
#include "collector/ebpf_topo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/ebpf_internal.h"

/* ---- a small chained hash (nodes embed struct hnode first) ---- */

struct hnode {
    struct hnode *next;
    uint64_t hash;
};

struct htab {
    struct hnode **b;
    size_t nb, n;
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 0x100000001b3ULL;
    return h;
}
#define FNV0 0xcbf29ce484222325ULL

static int ht_insert(struct htab *h, struct hnode *node)
{
    if (h->n >= h->nb) {
        size_t nb = h->nb ? h->nb * 2 : 64;
        struct hnode **b = calloc(nb, sizeof(*b));
        if (!b)
            return -ENOMEM;
        for (size_t i = 0; i < h->nb; i++)
            for (struct hnode *x = h->b[i], *nx; x; x = nx) {
                nx = x->next;
                x->next = b[x->hash & (nb - 1)];
                b[x->hash & (nb - 1)] = x;
            }
        free(h->b);
        h->b = b;
        h->nb = nb;
    }
    struct hnode **slot = &h->b[node->hash & (h->nb - 1)];
    node->next = *slot;
    *slot = node;
    h->n++;
    return 0;
}

static void ht_remove(struct htab *h, struct hnode *node)
{
    struct hnode **p = &h->b[node->hash & (h->nb - 1)];
    while (*p && *p != node)
        p = &(*p)->next;
    if (*p) {
        *p = node->next;
        h->n--;
    }
}

static struct hnode *ht_first(const struct htab *h, uint64_t hash)
{
    return h->nb ? h->b[hash & (h->nb - 1)] : NULL;
}

/* ---- state ---- */

struct ctr { /* one container (id label) */
    struct hnode h;
    unsigned peers; /* edges other than "other" */
    unsigned edges; /* all edges, "other" rows included */
    char id[];
};

struct edge {
    struct hnode h;
    struct ctr *ctr;
    char *labels[HK_EBPF_NBASE]; /* one allocation: labels[0] owns it */
    uint8_t addr[16];
    uint16_t port;
    uint8_t direction;
    bool resolved; /* peer from conntrack */
    bool other;    /* the overflow row */
    unsigned refs; /* kernel entries (shadows) feeding it */
    int64_t changed_ms;
    uint64_t v[HK_TOPO_NV];
};

struct shadow { /* one kernel entry */
    struct hnode h;
    uint64_t cgid;
    uint8_t addr[16];
    uint16_t port;
    uint8_t direction;
    struct edge *edge;
    int64_t changed_ms;
    uint64_t last[HK_TOPO_NV];
};

struct hk_topo {
    unsigned max_peers;
    int64_t grace_ms, now_ms;
    hk_topo_resolver resolver;
    void *resolver_arg;
    unsigned resolve_budget;
    hk_topo_batch batch;
    struct pending { /* entries whose lookup was deferred this cycle */
        struct hk_topo_kentry e;
        char *labels[HK_EBPF_NBASE]; /* one allocation: labels[0] owns it */
    } * pend;
    size_t npend;
    bool replay; /* hk_topo_end adds the deferred entries again */
    struct htab ctrs, edges, shadows;
    uint64_t dropped;
};

struct hk_topo *hk_topo_new(unsigned max_peers, int64_t grace_ms, hk_topo_resolver resolver,
                            void *resolver_arg)
{
    struct hk_topo *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->max_peers = max_peers ? max_peers : 1;
    t->grace_ms = grace_ms;
    t->resolver = resolver;
    t->resolver_arg = resolver_arg;
    return t;
}

static void edge_free(struct edge *e)
{
    if (e)
        free(e->labels[0]);
    free(e);
}

static void ht_free(struct htab *h, void (*fn)(void *))
{
    for (size_t i = 0; i < h->nb; i++)
        for (struct hnode *x = h->b[i], *nx; x; x = nx) {
            nx = x->next;
            fn(x);
        }
    free(h->b);
}

static void edge_free_v(void *p)
{
    edge_free(p);
}

void hk_topo_set_batch(struct hk_topo *t, hk_topo_batch fn)
{
    t->batch = fn;
}

static void pend_clear(struct hk_topo *t)
{
    for (size_t i = 0; i < t->npend; i++)
        free(t->pend[i].labels[0]);
    t->npend = 0;
}

void hk_topo_free(struct hk_topo *t)
{
    if (!t)
        return;
    pend_clear(t);
    free(t->pend);
    ht_free(&t->shadows, free);
    ht_free(&t->edges, edge_free_v);
    ht_free(&t->ctrs, free);
    free(t);
}

void hk_topo_begin(struct hk_topo *t, int64_t now_ms)
{
    t->now_ms = now_ms;
    t->resolve_budget = HK_TOPO_RESOLVE_PER_CYCLE;
}

size_t hk_topo_edges(const struct hk_topo *t)
{
    return t->edges.n;
}

uint64_t hk_topo_dropped(const struct hk_topo *t)
{
    return t->dropped;
}

static uint64_t shadow_hash(uint64_t cgid, const uint8_t addr[16], uint16_t port, uint8_t dir)
{
    uint64_t h = fnv(FNV0, &cgid, sizeof(cgid));
    h = fnv(h, addr, 16);
    h = fnv(h, &port, sizeof(port));
    return fnv(h, &dir, 1);
}

static struct shadow *shadow_find(const struct hk_topo *t, const struct hk_topo_kentry *e,
                                  uint64_t hash)
{
    for (struct hnode *x = ht_first(&t->shadows, hash); x; x = x->next) {
        struct shadow *s = (struct shadow *)x;
        if (x->hash == hash && s->cgid == e->cgid && s->port == e->port &&
            s->direction == e->direction && !memcmp(s->addr, e->addr, 16))
            return s;
    }
    return NULL;
}

static struct ctr *ctr_get(struct hk_topo *t, const char *id)
{
    uint64_t hash = fnv(FNV0, id, strlen(id));
    for (struct hnode *x = ht_first(&t->ctrs, hash); x; x = x->next)
        if (x->hash == hash && !strcmp(((struct ctr *)x)->id, id))
            return (struct ctr *)x;
    size_t n = strlen(id);
    struct ctr *c = calloc(1, sizeof(*c) + n + 1);
    if (!c)
        return NULL;
    memcpy(c->id, id, n + 1);
    c->h.hash = hash;
    if (ht_insert(&t->ctrs, &c->h) < 0) {
        free(c);
        return NULL;
    }
    return c;
}

static uint64_t edge_hash(const struct ctr *c, const uint8_t addr[16], uint16_t port, uint8_t dir,
                          bool resolved, bool other)
{
    uint64_t h = fnv(c->h.hash, addr, 16);
    h = fnv(h, &port, sizeof(port));
    uint8_t f = (uint8_t)(dir | resolved << 1 | other << 2);
    return fnv(h, &f, 1);
}

static struct edge *edge_find(const struct hk_topo *t, const struct ctr *c, const uint8_t addr[16],
                              uint16_t port, uint8_t dir, bool resolved, bool other)
{
    uint64_t hash = edge_hash(c, addr, port, dir, resolved, other);
    for (struct hnode *x = ht_first(&t->edges, hash); x; x = x->next) {
        struct edge *e = (struct edge *)x;
        if (x->hash == hash && e->ctr == c && e->port == port && e->direction == dir &&
            e->resolved == resolved && e->other == other && !memcmp(e->addr, addr, 16))
            return e;
    }
    return NULL;
}

static struct edge *edge_new(struct hk_topo *t, struct ctr *c, const char *const *base,
                             const uint8_t addr[16], uint16_t port, uint8_t dir, bool resolved,
                             bool other)
{
    size_t len[HK_EBPF_NBASE], total = 0;
    for (int i = 0; i < HK_EBPF_NBASE; i++)
        total += (len[i] = base[i] ? strlen(base[i]) : 0) + 1;
    struct edge *e = calloc(1, sizeof(*e));
    char *p = malloc(total);
    if (!e || !p) {
        free(e);
        free(p);
        return NULL;
    }
    for (int i = 0; i < HK_EBPF_NBASE; i++) {
        e->labels[i] = p;
        if (len[i])
            memcpy(p, base[i], len[i]);
        p[len[i]] = '\0';
        p += len[i] + 1;
    }
    e->ctr = c;
    memcpy(e->addr, addr, 16);
    e->port = port;
    e->direction = dir;
    e->resolved = resolved;
    e->other = other;
    e->changed_ms = t->now_ms;
    e->h.hash = edge_hash(c, addr, port, dir, resolved, other);
    if (ht_insert(&t->edges, &e->h) < 0) {
        edge_free(e);
        return NULL;
    }
    c->edges++;
    c->peers += !other;
    return e;
}

static void edge_bump(struct hk_topo *t, struct edge *e, const uint64_t d[HK_TOPO_NV])
{
    bool any = false;
    for (int i = 0; i < HK_TOPO_NV; i++) {
        e->v[i] += d[i];
        any |= d[i] != 0;
    }
    if (any)
        e->changed_ms = t->now_ms;
}

static void shadow_drop(struct hk_topo *t, struct shadow *s)
{
    ht_remove(&t->shadows, &s->h);
    if (s->edge)
        s->edge->refs--;
    free(s);
}

/* Keeps a new entry (and a copy of its labels) until hk_topo_end resolves the batch; the budget
 * bounds how many. 0 or -ENOMEM. */
static int pend_add(struct hk_topo *t, const struct hk_topo_kentry *e, const char *const *base)
{
    if (!t->pend && !(t->pend = calloc(HK_TOPO_RESOLVE_PER_CYCLE, sizeof(*t->pend))))
        return -ENOMEM;
    if (t->npend >= HK_TOPO_RESOLVE_PER_CYCLE)
        return 0; /* cannot happen (budget); next cycle */
    struct pending *p = &t->pend[t->npend];
    size_t len[HK_EBPF_NBASE], total = 0;
    for (int i = 0; i < HK_EBPF_NBASE; i++)
        total += (len[i] = base[i] ? strlen(base[i]) : 0) + 1;
    char *q = malloc(total);
    if (!q)
        return -ENOMEM;
    for (int i = 0; i < HK_EBPF_NBASE; i++) {
        p->labels[i] = q;
        if (len[i])
            memcpy(q, base[i], len[i]);
        q[len[i]] = '\0';
        q += len[i] + 1;
    }
    p->e = *e;
    t->npend++;
    return 0;
}

int hk_topo_add(struct hk_topo *t, const struct hk_topo_kentry *e, const char *const *base,
                bool gone)
{
    uint64_t hash = shadow_hash(e->cgid, e->addr, e->port, e->direction);
    struct shadow *s = shadow_find(t, e, hash);
    uint64_t d[HK_TOPO_NV];
    if (s) {
        bool reset = false; /* the kernel entry was deleted and made again */
        for (int i = 0; i < HK_TOPO_NV; i++)
            reset |= e->v[i] < s->last[i];
        bool any = false;
        for (int i = 0; i < HK_TOPO_NV; i++) {
            d[i] = reset ? e->v[i] : e->v[i] - s->last[i];
            s->last[i] = e->v[i];
            any |= d[i] != 0;
        }
        if (any)
            s->changed_ms = t->now_ms;
        edge_bump(t, s->edge, d);
        if (gone) {
            shadow_drop(t, s);
            return 1;
        }
        return 0;
    }
    if (!base)
        return gone ? 1 : 0;

    uint8_t addr[16];
    uint16_t port = e->port;
    bool resolved = false;
    memcpy(addr, e->addr, 16);
    if (e->direction == 0 && t->resolver && e->sample_sport) {
        if (!t->replay) { /* a replayed entry was counted when it was deferred */
            if (t->resolve_budget == 0)
                return 0; /* next cycle: the kernel entry keeps counting meanwhile */
            t->resolve_budget--;
        }
        uint8_t ra[16];
        uint16_t rp = 0;
        int r = t->resolver(t->resolver_arg, e->sample_saddr, e->sample_sport, e->addr, e->port, ra,
                            &rp);
        if (r == HK_TOPO_DEFER && t->batch && !t->replay)
            return pend_add(t, e, base);
        if (r == 1) {
            memcpy(addr, ra, 16);
            port = rp;
            resolved = true;
        }
    }
    struct ctr *c = ctr_get(t, base[1] ? base[1] : "");
    if (!c)
        return -ENOMEM;
    struct edge *ed = edge_find(t, c, addr, port, e->direction, resolved, false);
    if (!ed && c->peers < t->max_peers && t->shadows.n < HK_TOPO_SHADOW_MAX) {
        if (!(ed = edge_new(t, c, base, addr, port, e->direction, resolved, false)))
            return -ENOMEM;
    }
    if (!ed) { /* over the cap: drained into "other" every cycle */
        static const uint8_t none[16];
        struct edge *o = edge_find(t, c, none, 0, e->direction, false, true);
        if (!o && !(o = edge_new(t, c, base, none, 0, e->direction, false, true)))
            return -ENOMEM;
        edge_bump(t, o, e->v);
        t->dropped++;
        return 1;
    }
    if (!(s = calloc(1, sizeof(*s))))
        return -ENOMEM;
    s->cgid = e->cgid;
    memcpy(s->addr, e->addr, 16);
    s->port = e->port;
    s->direction = e->direction;
    s->edge = ed;
    s->changed_ms = t->now_ms;
    memcpy(s->last, e->v, sizeof(s->last));
    s->h.hash = hash;
    if (ht_insert(&t->shadows, &s->h) < 0) {
        free(s);
        return -ENOMEM;
    }
    ed->refs++;
    edge_bump(t, ed, e->v);
    if (gone) {
        shadow_drop(t, s);
        return 1;
    }
    return 0;
}

void hk_topo_end(struct hk_topo *t,
                 void (*del)(void *arg, uint64_t cgid, const uint8_t addr[16], uint16_t port,
                             uint8_t direction),
                 void *arg)
{
    if (t->npend) { /* one batch for every lookup deferred this cycle */
        t->batch(t->resolver_arg, 0);
        t->replay = true;
        for (size_t i = 0; i < t->npend; i++) {
            const struct pending *p = &t->pend[i];
            if (hk_topo_add(t, &p->e, (const char *const *)p->labels, false) == 1 && del)
                del(arg, p->e.cgid, p->e.addr, p->e.port, p->e.direction);
        }
        t->replay = false;
        t->batch(t->resolver_arg, 1);
        pend_clear(t);
    }
    for (size_t i = 0; i < t->shadows.nb; i++)
        for (struct hnode *x = t->shadows.b[i], *nx; x; x = nx) {
            nx = x->next;
            struct shadow *s = (struct shadow *)x;
            if (t->now_ms - s->changed_ms <= t->grace_ms)
                continue;
            if (del)
                del(arg, s->cgid, s->addr, s->port, s->direction);
            shadow_drop(t, s);
        }
    for (size_t i = 0; i < t->edges.nb; i++)
        for (struct hnode *x = t->edges.b[i], *nx; x; x = nx) {
            nx = x->next;
            struct edge *e = (struct edge *)x;
            if (e->refs || t->now_ms - e->changed_ms <= t->grace_ms)
                continue;
            ht_remove(&t->edges, x);
            struct ctr *c = e->ctr;
            c->edges--;
            c->peers -= !e->other;
            if (!c->edges) {
                ht_remove(&t->ctrs, &c->h);
                free(c);
            }
            edge_free(e);
        }
}

void hk_topo_addr_text(const uint8_t addr[16], char *ret, size_t cap)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!memcmp(addr, mapped, 12)) {
        if (!inet_ntop(AF_INET, addr + 12, ret, (socklen_t)cap))
            snprintf(ret, cap, "?");
    } else if (!inet_ntop(AF_INET6, addr, ret, (socklen_t)cap)) {
        snprintf(ret, cap, "?");
    }
}

/* ---- emission ---- */

static const char *const labels_dir[] = {
    "container", "id",      "image", "name",          "namespace", "pod",
    "direction", "peer_ip", "port",  "peer_resolved", NULL};
static const char *const labels_nodir[] = {"container",     "id",  "image",   "name",
                                           "namespace",     "pod", "peer_ip", "port",
                                           "peer_resolved", NULL};
static const struct hk_metric_desc desc_conn = {
    "container_tcp_peer_connections_total",
    "TCP connections of the container established with a peer, by direction; port is the "
    "server's port (eBPF, collectors.ebpf.topology).",
    HK_METRIC_COUNTER, "", labels_dir};
static const struct hk_metric_desc desc_failed = {
    "container_tcp_peer_failed_connects_total",
    "Outgoing TCP connects of the container to a peer that failed (refused, timed out, reset "
    "before established) (eBPF, collectors.ebpf.topology).",
    HK_METRIC_COUNTER, "", labels_nodir};
static const struct hk_metric_desc desc_retrans = {
    "container_tcp_peer_retransmits_total",
    "TCP segments the container retransmitted on connections with a peer (eBPF, "
    "collectors.ebpf.topology).",
    HK_METRIC_COUNTER, "", labels_dir};
static const struct hk_family_spec fam_rtt = {
    "container_tcp_peer_rtt_seconds",
    "Smoothed RTT of the container's TCP connections with a peer when they close, 1 in 4 "
    "connections sampled (eBPF, collectors.ebpf.topology).",
    HK_METRIC_SUMMARY, "seconds"};
static const struct hk_metric_desc desc_dropped = {
    "hakari_topology_peers_dropped_total",
    "Kernel TCP edge entries summed into peer_ip=\"other\" because their container had "
    "collectors.ebpf.topology_max_peers edges already.",
    HK_METRIC_COUNTER, "", NULL};

static const char *const dir_names[] = {"client", "server"};

int hk_topo_emit(struct hk_topo *t, struct hk_builder *b)
{
    int r = 0;
    for (int fam = 0; fam < 4 && r != -ENOMEM; fam++)
        for (size_t i = 0; i < t->edges.nb && r != -ENOMEM; i++)
            for (struct hnode *x = t->edges.b[i]; x && r != -ENOMEM; x = x->next) {
                const struct edge *e = (const struct edge *)x;
                char ip[64], port[8];
                if (e->other) {
                    snprintf(ip, sizeof(ip), "other");
                    snprintf(port, sizeof(port), "other");
                } else {
                    hk_topo_addr_text(e->addr, ip, sizeof(ip));
                    snprintf(port, sizeof(port), "%u", (unsigned)e->port);
                }
                const char *res = e->resolved ? "conntrack" : "none";
                const char *lv[HK_EBPF_NBASE + 4];
                for (int k = 0; k < HK_EBPF_NBASE; k++)
                    lv[k] = e->labels[k];
                int n = HK_EBPF_NBASE;
                if (fam != 1)
                    lv[n++] = dir_names[e->direction & 1];
                lv[n++] = ip;
                lv[n++] = port;
                lv[n++] = res;
                if (fam == 0)
                    r = hk_emit(b, &desc_conn, lv, (double)e->v[HK_TOPO_CONN]);
                else if (fam == 1 && e->direction == 0)
                    r = hk_emit(b, &desc_failed, lv, (double)e->v[HK_TOPO_FAILED]);
                else if (fam == 2)
                    r = hk_emit(b, &desc_retrans, lv, (double)e->v[HK_TOPO_RETRANS]);
                else if (fam == 3) {
                    struct hk_label l[HK_EBPF_NBASE + 4];
                    size_t nl = 0;
                    for (int k = 0; k < n; k++) /* same label set as the other families */
                        l[nl++] = (struct hk_label){labels_dir[k], lv[k] ? lv[k] : ""};
                    r = hk_emit_labels(b, &fam_rtt, "container_tcp_peer_rtt_seconds_sum", l, nl,
                                       (double)e->v[HK_TOPO_RTT_US] / 1e6, 0);
                    if (r != -ENOMEM)
                        r = hk_emit_labels(b, &fam_rtt, "container_tcp_peer_rtt_seconds_count", l,
                                           nl, (double)e->v[HK_TOPO_RTT_N], 0);
                }
            }
    if (r != -ENOMEM)
        r = hk_emit(b, &desc_dropped, NULL, (double)t->dropped);
    return r == -ENOMEM ? r : 0;
}
