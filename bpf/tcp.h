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

/* Socket cookie → owner id for connections that existed before attach (seeded by user space
 * from sock_diag), so their close still decrements the right cgroup's active gauge. */
#define HK_TCP_SEED_MAX 65536

#endif
