/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* TCP probe: per-cgroup values shared between tcp.bpf.c and collector/ebpf_tcp.c.
 * Key: u64 cgroup id of the socket's owner (cgroup2 id from sk_cgrp_data, or on cgroup v1 hosts
 * the v1 cpu hierarchy id of the task that created the connection/listener). */
#ifndef HK_BPF_TCP_H
#define HK_BPF_TCP_H

#include "hk_common.h"

struct hk_tcp_val {
    __u64 connects_ok;     /* SYN_SENT → ESTABLISHED */
    __u64 connects_failed; /* SYN_SENT → CLOSE */
    __u64 accepts;         /* SYN_RECV → ESTABLISHED (passive open completed) */
    __u64 closes;          /* an established connection reached CLOSE */
    __u64 retransmits;     /* tcp_retransmit_skb */
    __s64 active;          /* entered minus left ESTABLISHED since attach (user space seeds) */
};

/* Topology edges: per (owner cgroup, peer address, server port, direction). The port is always
 * the server's (remote port of a client socket, local port of an accepted one), so ephemeral
 * ports never become keys. IPv4 peers are stored v4-mapped (::ffff:a.b.c.d). */
enum { HK_TCP_CLIENT = 0, HK_TCP_SERVER = 1 };

struct hk_tcp_edge_key {
    __u64 cgid;
    __u8 addr[16];
    __u16 port;
    __u8 direction; /* HK_TCP_CLIENT / HK_TCP_SERVER */
    __u8 pad[5];
};

/* Plain hash (not per-CPU: edges × CPUs would not scale), counters added atomically. */
struct hk_tcp_edge_val {
    __u64 connections; /* reached ESTABLISHED */
    __u64 failed;      /* client: SYN_SENT → CLOSE */
    __u64 retransmits; /* tcp_retransmit_skb on a socket of the edge */
    __u64 rtt_us_sum;  /* smoothed RTT of each connection when it closed, µs */
    __u64 rtt_count;
    /* Client edges: local address and port of the latest connection, so that user space can
     * find its DNAT in conntrack (a torn write only makes that lookup miss). */
    __u8 sample_saddr[16];
    __u16 sample_sport;
    __u16 pad[3];
};

/* The RTT at close is taken for one connection in this many (at random). */
#define HK_TCP_RTT_SAMPLE 4

/* Kernel edge map size: when full, new edges are counted in hakari_ebpf_events_lost_total. */
#define HK_TCP_EDGES_MAX 16384

/* Socket cookie → owner id for connections that existed before attach (seeded by user space
 * from sock_diag), so their close still decrements the right cgroup's active gauge. */
#define HK_TCP_SEED_MAX 65536

#endif
