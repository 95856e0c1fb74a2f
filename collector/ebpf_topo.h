/* SPDX-License-Identifier: Apache-2.0 */
/* Per-container TCP edges (issue 14) from the tcp probe's edge map, kept apart from libbpf so
 * the unit tests drive it: kernel entries (owner cgroup, peer, server port, direction) are
 * turned into per-container edges by deltas (an entry's counts since it was last read), so a
 * cgroup that vanishes, several cgroups of one container, and kernel entries deleted and re-made
 * all keep the edges' counters monotonic. At most max_peers edges per container; the rest are
 * summed under peer_ip="other". Edges unchanged for longer than the grace period are forgotten
 * (their series go stale) and their kernel entries deleted. */
#ifndef HK_EBPF_TOPO_H
#define HK_EBPF_TOPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/snapshot.h"

enum { HK_TOPO_CONN, HK_TOPO_FAILED, HK_TOPO_RETRANS, HK_TOPO_RTT_US, HK_TOPO_RTT_N, HK_TOPO_NV };

/* One kernel edge map entry (bpf/tcp.h struct hk_tcp_edge_key + value), decoded. */
struct hk_topo_kentry {
    uint64_t cgid;
    uint8_t addr[16];  /* peer, IPv4 v4-mapped */
    uint16_t port;     /* server's port */
    uint8_t direction; /* 0 client, 1 server */
    uint64_t v[HK_TOPO_NV];
    uint8_t sample_saddr[16]; /* client: local address/port of the latest connection */
    uint16_t sample_sport;
};

/* Finds the DNAT of a client connection (orig tuple saddr:sport → daddr:dport) in conntrack:
 * 1 with the backend in ret_addr/ret_port, 0 when not translated or not found, -errno. */
typedef int (*hk_topo_resolver)(void *arg, const uint8_t saddr[16], uint16_t sport,
                                const uint8_t daddr[16], uint16_t dport, uint8_t ret_addr[16],
                                uint16_t *ret_port);

/* Conntrack lookups per cycle at most; new edges beyond wait for the next cycle. */
#define HK_TOPO_RESOLVE_PER_CYCLE 256
/* Kernel entries remembered at most (twice the kernel map). */
#define HK_TOPO_SHADOW_MAX 32768

struct hk_topo;

/* max_peers ≥ 1; grace_ms: an edge whose counters did not change for that long is forgotten.
 * resolver may be NULL (peer_resolved is then always "none"). */
struct hk_topo *hk_topo_new(unsigned max_peers, int64_t grace_ms, hk_topo_resolver resolver,
                            void *resolver_arg);
void hk_topo_free(struct hk_topo *t); /* accepts NULL */

/* Starts a cycle at now_ms. */
void hk_topo_begin(struct hk_topo *t, int64_t now_ms);
/* Accounts one kernel entry. base: the cAdvisor base labels of its cgroup (hk_ebpf_labels_for),
 * or NULL when the cgroup cannot be resolved (its deltas then go to the edge it had, if any).
 * Returns 1 when the caller must delete the kernel entry (folded into "other", or gone: pass
 * gone = true when the cgroup will never resolve again), 0, or -ENOMEM. */
int hk_topo_add(struct hk_topo *t, const struct hk_topo_kentry *e, const char *const *base,
                bool gone);
/* Ends the cycle: forgets edges unchanged for longer than the grace period. del(key) is called
 * for every kernel entry to delete (cgid, addr, port, direction as in the kentry). */
void hk_topo_end(struct hk_topo *t,
                 void (*del)(void *arg, uint64_t cgid, const uint8_t addr[16], uint16_t port,
                             uint8_t direction),
                 void *arg);
/* Emits every edge (families in docs/metrics.md) and hakari_topology_peers_dropped_total.
 * 0 or -ENOMEM. */
int hk_topo_emit(struct hk_topo *t, struct hk_builder *b);
/* Edges held (tests, bench), including "other" rows. */
size_t hk_topo_edges(const struct hk_topo *t);
uint64_t hk_topo_dropped(const struct hk_topo *t);

/* Text form of a peer address: IPv4 for v4-mapped, else RFC 5952 IPv6. cap ≥ 46. */
void hk_topo_addr_text(const uint8_t addr[16], char *ret, size_t cap);

/* A resolver may answer HK_TOPO_DEFER: the entry waits until hk_topo_end, which calls the batch
 * hook set with hk_topo_set_batch once (stage 0: resolve every deferred lookup at once), adds the
 * deferred entries again (the resolver answers them from that batch, never DEFER) and calls the
 * hook with stage 1 (batch done). Without a batch hook DEFER means "not resolved". */
#define HK_TOPO_DEFER 2
typedef void (*hk_topo_batch)(void *arg, int stage);
void hk_topo_set_batch(struct hk_topo *t, hk_topo_batch fn);

/* Conntrack lookup, as hk_topo_resolver (arg: struct hk_ct_lookup), in the agent's network
 * namespace (the node's with hostNetwork, where kube-proxy DNATs): ctnetlink (IPCTNL_MSG_CT_GET,
 * one request per new client edge) while the kernel permits it (CAP_NET_ADMIN); when it answers
 * EPERM or netlink is unavailable, lookups are deferred and answered by one bounded scan of
 * /proc/self/net/nf_conntrack per cycle (hk_ct_batch; mode 0440 root: uid 0 or
 * CAP_DAC_READ_SEARCH, no capability check in the kernel). */
#define HK_CT_SCAN_MAX_LINES 131072              /* entries read per scan at most */
#define HK_CT_SCAN_MAX_BYTES (32u * 1024 * 1024) /* bytes read per scan at most */
#define HK_CT_LINE_MAX 1024                      /* longer lines are malformed */
enum { HK_CT_SCAN_COMPLETE, HK_CT_SCAN_TRUNCATED, HK_CT_SCAN_FAILED, HK_CT_SCAN_N };
struct hk_ct_query {
    uint8_t saddr[16], daddr[16], ret_addr[16];
    uint16_t sport, dport, ret_port;
    bool seen;  /* its entry was in the table */
    bool found; /* ... and translated: ret_addr/ret_port hold the backend */
};
struct hk_ct_lookup {
    int fd; /* netlink socket, -1 until first use / when unavailable */
    uint32_t seq;
    bool broken;           /* netlink not usable (EPERM, no socket): the procfs scan answers */
    const char *proc_path; /* NULL: /proc/self/net/nf_conntrack (tests set a fixture) */
    size_t max_lines, max_bytes;                     /* 0: HK_CT_SCAN_MAX_LINES / _BYTES */
    struct hk_ct_query q[HK_TOPO_RESOLVE_PER_CYCLE]; /* lookups deferred this cycle */
    size_t nq;
    bool answered; /* q[] holds the scan's answers (between batch stages 0 and 1) */
    uint64_t scans[HK_CT_SCAN_N];
    uint64_t malformed; /* lines skipped as malformed, all scans */
    int64_t warned_ms;  /* last truncation/malformed warning (one per 10 min) */
};
int hk_ct_resolve(void *arg, const uint8_t saddr[16], uint16_t sport, const uint8_t daddr[16],
                  uint16_t dport, uint8_t ret_addr[16], uint16_t *ret_port);
void hk_ct_batch(void *arg, int stage); /* hk_topo_batch: the procfs scan */
void hk_ct_lookup_close(struct hk_ct_lookup *ct);
/* hakari_topology_conntrack_scans_total{result}, hakari_topology_conntrack_malformed_lines_total
 * (only once a scan happened). 0 or -ENOMEM. */
int hk_ct_emit(const struct hk_ct_lookup *ct, struct hk_builder *b);
/* One /proc/net/nf_conntrack line (no newline needed): 0 with the TCP entry's original tuple
 * (src, dst, sport, dport) and reply source (the DNAT backend) in e, 1 for an entry of another
 * protocol, -EINVAL when malformed. */
struct hk_ct_entry {
    uint8_t src[16], dst[16], rsrc[16];
    uint16_t sport, dport, rsport;
};
int hk_ct_parse_line(const char *line, size_t len, struct hk_ct_entry *e);
/* Parses one ctnetlink reply (IPCTNL_MSG_CT_NEW) for the reply tuple's source address and port.
 * 0, -ENOENT (an NLMSG_ERROR with ENOENT: no such connection), -errno, -EINVAL (malformed). */
int hk_ct_parse_reply(const void *buf, size_t len, uint8_t ret_addr[16], uint16_t *ret_port);

#endif
