/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* TCP connects/accepts/closes/retransmits and established connections per cgroup, from
 * sock:inet_sock_set_state and tcp:tcp_retransmit_skb. The owner is the socket's cgroup, never
 * `current` (state changes run in softirq, often inside the peer). On cgroup2 that is
 * sk_cgrp_data; sockets carry no v1 cgroup, so on v1 hosts each socket is tagged with the v1 cpu
 * id of the task that called connect()/listen() (those transitions run in process context), and
 * an accepted child (LISTEN → SYN_RECV, softirq) inherits the tag of its listener, looked up by
 * netns + local port (CLOSE → LISTEN runs in listen(), process context). */
#include "tcp.h"
#include "hk_bpf.h"
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL"; /* SPDX: GPL-2.0-only OR BSD-2-Clause */

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

enum {
    S_ESTABLISHED = 1,
    S_SYN_SENT = 2,
    S_SYN_RECV = 3,
    S_CLOSE = 7,
    S_LISTEN = 10,
};

const volatile bool cg_v1 = true;
const volatile bool topology = true; /* collectors.ebpf.topology */
const volatile bool rtt = true;      /* topology: RTT at close */

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, struct hk_tcp_val);
} tcp_stats SEC(".maps");

/* v1 only: socket address → owner id, from connect/listen until CLOSE. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, __u64);
    __type(value, __u64);
} sock_owner SEC(".maps");

struct listen_key {
    __u32 netns;
    __u16 port;
    __u16 pad;
};

/* (netns, listening port) → owner id of the listener: on v1 hosts for the owner of accepted
 * children; with topology also on cgroup2, to tell a server's socket from a client's at close
 * and retransmit (a socket whose local port is listened on in its namespace is a server's). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, struct listen_key);
    __type(value, __u64);
} listen_owner SEC(".maps");

/* Socket cookie → owner id for connections established before attach (user space fills it). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, HK_TCP_SEED_MAX);
    __type(key, __u64);
    __type(value, __u64);
} seed_owner SEC(".maps");

/* Topology edges (bpf/tcp.h). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, HK_TCP_EDGES_MAX);
    __type(key, struct hk_tcp_edge_key);
    __type(value, struct hk_tcp_edge_val);
} tcp_edges SEC(".maps");

HK_LOST_MAP

static const struct hk_tcp_val zero_val;
static const struct hk_tcp_edge_val zero_edge;

/* btf: sk is a BTF pointer (tp_btf) and is read with plain loads the verifier makes fault-safe,
 * instead of one probe-read helper call per field (raw_tp, classic tracepoint). */
static __always_inline __u64 current_cgid(bool btf)
{
    int ssid = bpf_core_enum_value(enum cgroup_subsys_id, cpu_cgrp_id);
    if (btf)
        return hk_task_cgid_btf(bpf_get_current_task_btf(), true, ssid);
    return hk_task_cgid((struct task_struct *)bpf_get_current_task(), true, ssid);
}

static __always_inline struct listen_key listen_key_of(const struct sock *sk, bool btf)
{
    struct listen_key k = {};
    if (btf) {
        k.netns = sk->__sk_common.skc_net.net->ns.inum;
        k.port = sk->__sk_common.skc_num;
    } else {
        k.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
        k.port = BPF_CORE_READ(sk, __sk_common.skc_num);
    }
    return k;
}

static __always_inline __u64 cookie_of(const struct sock *sk, bool btf)
{
    return btf ? sk->__sk_common.skc_cookie.counter
               : BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
}

/* Owner of sk for an event after its creation; 0 when unknown. */
static __always_inline __u64 owner_of(const struct sock *sk, bool btf)
{
    if (!cg_v1)
        return btf ? sk->sk_cgrp_data.cgroup->kn->id
                   : BPF_CORE_READ(sk, sk_cgrp_data.cgroup, kn, id);
    __u64 key = (__u64)sk;
    __u64 *id = bpf_map_lookup_elem(&sock_owner, &key);
    if (id)
        return *id;
    __u64 cookie = cookie_of(sk, btf);
    if (cookie && (id = bpf_map_lookup_elem(&seed_owner, &cookie)))
        return *id;
    return 0;
}

static __always_inline void tag(const struct sock *sk, __u64 id)
{
    __u64 key = (__u64)sk;
    if (bpf_map_update_elem(&sock_owner, &key, &id, BPF_ANY) < 0)
        hk_lost();
}

/* The edge of sk (owner id) seen from its side dir: peer address and the server's port. */
static __always_inline void edge_key_of(const struct sock *sk, bool btf, __u64 id, int dir,
                                        struct hk_tcp_edge_key *k)
{
    __builtin_memset(k, 0, sizeof(*k));
    k->cgid = id;
    k->direction = dir;
    __u16 family = btf ? sk->__sk_common.skc_family : BPF_CORE_READ(sk, __sk_common.skc_family);
    if (family == AF_INET6) {
        if (btf)
            __builtin_memcpy(k->addr, &sk->__sk_common.skc_v6_daddr, 16);
        else
            bpf_core_read(k->addr, 16, &sk->__sk_common.skc_v6_daddr);
    } else {
        __u32 a = btf ? sk->__sk_common.skc_daddr : BPF_CORE_READ(sk, __sk_common.skc_daddr);
        k->addr[10] = k->addr[11] = 0xff;
        __builtin_memcpy(&k->addr[12], &a, 4);
    }
    if (dir == HK_TCP_CLIENT) {
        __u16 be = btf ? sk->__sk_common.skc_dport : BPF_CORE_READ(sk, __sk_common.skc_dport);
        k->port = bpf_ntohs(be);
    } else {
        k->port = btf ? sk->__sk_common.skc_num : BPF_CORE_READ(sk, __sk_common.skc_num);
    }
}

/* Local address and port of a client socket, into the edge's conntrack sample. */
static __always_inline void edge_sample(const struct sock *sk, bool btf, struct hk_tcp_edge_val *v)
{
    __u16 family = btf ? sk->__sk_common.skc_family : BPF_CORE_READ(sk, __sk_common.skc_family);
    if (family == AF_INET6) {
        if (btf)
            __builtin_memcpy(v->sample_saddr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
        else
            bpf_core_read(v->sample_saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
    } else {
        __u32 a =
            btf ? sk->__sk_common.skc_rcv_saddr : BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
        __builtin_memset(v->sample_saddr, 0, 10);
        v->sample_saddr[10] = v->sample_saddr[11] = 0xff;
        __builtin_memcpy(&v->sample_saddr[12], &a, 4);
    }
    v->sample_sport = btf ? sk->__sk_common.skc_num : BPF_CORE_READ(sk, __sk_common.skc_num);
}

/* Direction of an established socket: server when its local port is listened on in its
 * network namespace (a client bound to a listener's port is taken for a server). */
static __always_inline int direction_of(const struct sock *sk, bool btf)
{
    struct listen_key k = listen_key_of(sk, btf);
    return bpf_map_lookup_elem(&listen_owner, &k) ? HK_TCP_SERVER : HK_TCP_CLIENT;
}

/* Smoothed RTT in µs (srtt_us holds 8 × RTT); tcp_sock lies beyond struct sock. */
static __always_inline __u32 srtt_of(const struct sock *sk, bool btf)
{
    if (btf) {
        struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
        return tp ? tp->srtt_us >> 3 : 0;
    }
    return BPF_CORE_READ((struct tcp_sock *)sk, srtt_us) >> 3;
}

/* Edge bookkeeping of one state change of a socket owned by id (non-zero). No per-socket state:
 * the edge key is computed again from the socket when needed. */
static __always_inline void on_edge_state(const struct sock *sk, int old, int new, bool btf,
                                          __u64 id)
{
    struct hk_tcp_edge_key k;
    struct hk_tcp_edge_val *v;

    if (new == S_ESTABLISHED && (old == S_SYN_SENT || old == S_SYN_RECV)) {
        int dir = old == S_SYN_SENT ? HK_TCP_CLIENT : HK_TCP_SERVER;
        edge_key_of(sk, btf, id, dir, &k);
        v = HK_LOOKUP_OR_INIT(&tcp_edges, &k, &zero_edge);
        if (!v)
            return;
        __sync_fetch_and_add(&v->connections, 1);
        if (dir == HK_TCP_CLIENT)
            edge_sample(sk, btf, v);
        return;
    }
    if (new != S_CLOSE)
        return;
    if (old == S_SYN_SENT) {
        edge_key_of(sk, btf, id, HK_TCP_CLIENT, &k);
        v = HK_LOOKUP_OR_INIT(&tcp_edges, &k, &zero_edge);
        if (v) {
            __sync_fetch_and_add(&v->failed, 1);
            edge_sample(sk, btf, v);
        }
        return;
    }
    /* RTT of one closing connection in HK_TCP_RTT_SAMPLE: finding the edge again costs a
     * listening-port and an edge lookup (~135 ns here), too much for every close. */
    if (!rtt || old == S_SYN_RECV || bpf_get_prandom_u32() % HK_TCP_RTT_SAMPLE)
        return;
    __u32 srtt = srtt_of(sk, btf);
    if (!srtt)
        return;
    edge_key_of(sk, btf, id, direction_of(sk, btf), &k);
    v = bpf_map_lookup_elem(&tcp_edges, &k); /* an edge aged out meanwhile is not made again */
    if (v) {
        __sync_fetch_and_add(&v->rtt_us_sum, srtt);
        __sync_fetch_and_add(&v->rtt_count, 1);
    }
}

static __always_inline int on_state(const struct sock *sk, int old, int new, bool btf)
{
    __u64 id = 0;

    if (cg_v1) {
        if (old == S_CLOSE && (new == S_SYN_SENT || new == S_LISTEN)) {
            /* connect() / listen(): process context, current owns the socket. */
            id = current_cgid(btf);
            tag(sk, id);
            if (new == S_LISTEN) {
                struct listen_key k = listen_key_of(sk, btf);
                if (bpf_map_update_elem(&listen_owner, &k, &id, BPF_ANY) < 0)
                    hk_lost();
            }
            return 0;
        }
        if (old == S_LISTEN && new == S_SYN_RECV) {
            /* Child of a listener (softirq): inherit the listener's owner. */
            struct listen_key k = listen_key_of(sk, btf);
            __u64 *lid = bpf_map_lookup_elem(&listen_owner, &k);
            if (lid)
                tag(sk, *lid);
            return 0;
        }
    }
    if (old == S_LISTEN || new == S_LISTEN) {
        if (cg_v1 && old == S_LISTEN && new == S_CLOSE) {
            /* Listener closed: forget it (unless another socket took the port meanwhile). */
            struct listen_key k = listen_key_of(sk, btf);
            __u64 key = (__u64)sk;
            __u64 *lid = bpf_map_lookup_elem(&listen_owner, &k);
            __u64 *own = bpf_map_lookup_elem(&sock_owner, &key);
            if (lid && own && *lid == *own)
                bpf_map_delete_elem(&listen_owner, &k);
            bpf_map_delete_elem(&sock_owner, &key);
        } else if (!cg_v1 && topology && (new == S_LISTEN || old == S_LISTEN) &&
                   (old == S_CLOSE || new == S_CLOSE)) {
            /* cgroup2: listening ports only tell servers from clients (direction_of). */
            struct listen_key k = listen_key_of(sk, btf);
            __u64 own = owner_of(sk, btf);
            if (new == S_LISTEN) {
                if (bpf_map_update_elem(&listen_owner, &k, &own, BPF_ANY) < 0)
                    hk_lost();
            } else {
                __u64 *lid = bpf_map_lookup_elem(&listen_owner, &k);
                if (lid && *lid == own)
                    bpf_map_delete_elem(&listen_owner, &k);
            }
        }
        return 0; /* LISTEN → SYN_RECV on cgroup2: the child counts from ESTABLISHED */
    }
    if (old == S_CLOSE)
        return 0; /* CLOSE → SYN_SENT/LISTEN on cgroup2: nothing to count yet */

    id = owner_of(sk, btf);
    if (topology && id)
        on_edge_state(sk, old, new, btf, id);
    if (id) {
        struct hk_tcp_val *v = HK_LOOKUP_OR_INIT(&tcp_stats, &id, &zero_val);
        if (v) {
            if (new == S_ESTABLISHED) {
                v->active++;
                if (old == S_SYN_SENT)
                    v->connects_ok++;
                else if (old == S_SYN_RECV)
                    v->accepts++;
            } else if (old == S_ESTABLISHED) {
                v->active--;
            }
            if (new == S_CLOSE) {
                if (old == S_SYN_SENT)
                    v->connects_failed++;
                else if (old != S_SYN_RECV)
                    v->closes++;
            }
        }
    }
    if (new == S_CLOSE && cg_v1) {
        __u64 key = (__u64)sk;
        bpf_map_delete_elem(&sock_owner, &key);
        __u64 cookie = cookie_of(sk, btf);
        if (cookie)
            bpf_map_delete_elem(&seed_owner, &cookie);
    }
    return 0;
}

/* The retransmitting socket's edge. Only a SYN (SYN_SENT: a client, the server's port known)
 * makes a new edge: for other states the direction is inferred, and a wrong guess or an aged-out
 * edge must not create one keyed by an ephemeral port. */
static __always_inline void on_edge_retransmit(const struct sock *sk, bool btf, __u64 id)
{
    int state = btf ? sk->__sk_common.skc_state : BPF_CORE_READ(sk, __sk_common.skc_state);
    struct hk_tcp_edge_key k;
    struct hk_tcp_edge_val *v;
    if (state == S_SYN_SENT) {
        edge_key_of(sk, btf, id, HK_TCP_CLIENT, &k);
        v = HK_LOOKUP_OR_INIT(&tcp_edges, &k, &zero_edge);
    } else {
        edge_key_of(sk, btf, id, direction_of(sk, btf), &k);
        v = bpf_map_lookup_elem(&tcp_edges, &k);
    }
    if (v)
        __sync_fetch_and_add(&v->retransmits, 1);
}

static __always_inline int on_retransmit(const struct sock *sk, bool btf)
{
    __u64 id = owner_of(sk, btf);
    if (!id)
        return 0;
    if (topology)
        on_edge_retransmit(sk, btf, id);
    struct hk_tcp_val *v = HK_LOOKUP_OR_INIT(&tcp_stats, &id, &zero_val);
    if (v)
        v->retransmits++;
    return 0;
}

static __always_inline bool is_tcp(const struct sock *sk, bool btf)
{
    return (btf ? sk->sk_protocol : BPF_CORE_READ(sk, sk_protocol)) == IPPROTO_TCP;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(btf_state, const struct sock *sk, const int old, const int new)
{
    return is_tcp(sk, true) ? on_state(sk, old, new, true) : 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(btf_retransmit, const struct sock *sk)
{
    return on_retransmit(sk, true);
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(raw_state, const struct sock *sk, const int old, const int new)
{
    return is_tcp(sk, false) ? on_state(sk, old, new, false) : 0;
}

SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(raw_retransmit, const struct sock *sk)
{
    return on_retransmit(sk, false);
}

SEC("tracepoint/sock/inet_sock_set_state")
int tp_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
    if (ctx->protocol != IPPROTO_TCP)
        return 0;
    return on_state(ctx->skaddr, ctx->oldstate, ctx->newstate, false);
}

/* The tracepoint's record is its own struct since Linux 6.10 (it gained `err`); before, the
 * event shared tcp_event_sk_skb's. Both start alike, but CO-RE matches the record by name, so
 * each is declared here by its own name and the one the running kernel has is read (a header
 * from either era then builds: the arm64 vmlinux.h is 6.1's, the x86 one 6.18's). */
struct trace_event_raw_tcp_retransmit_skb___hk {
    const void *skaddr;
} __attribute__((preserve_access_index));
struct trace_event_raw_tcp_event_sk_skb___hk {
    const void *skaddr;
} __attribute__((preserve_access_index));

SEC("tracepoint/tcp/tcp_retransmit_skb")
int tp_retransmit(void *ctx)
{
    const struct trace_event_raw_tcp_retransmit_skb___hk *rec = ctx;
    const struct trace_event_raw_tcp_event_sk_skb___hk *old = ctx;
    if (bpf_core_type_exists(struct trace_event_raw_tcp_retransmit_skb___hk))
        return on_retransmit(rec->skaddr, false);
    return on_retransmit(old->skaddr, false);
}
