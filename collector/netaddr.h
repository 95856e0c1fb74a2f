/* SPDX-License-Identifier: Apache-2.0 */
/* The addresses of a pod's network namespace, read through the sandbox's /proc/<pid>/net files
 * without entering the namespace, for container_network_address_info. Parsers are pure (byte
 * buffers); hk_netaddrs_refresh reads a namespace and caches the result. */
#ifndef HK_NETADDR_H
#define HK_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hk_netaddr {
    char ifname[16]; /* IFNAMSIZ; "" when no route names the interface of an IPv4 address */
    char ip[46];     /* INET6_ADDRSTRLEN, canonical text form */
};

/* Addresses kept per namespace; more are counted in `dropped` (a host-network pod on a node with
 * many addresses). */
#define HK_NETADDR_MAX 32
/* Addresses rarely change: re-read every this many cycles, or when the sandbox's pid changes. */
#define HK_NETADDR_REFRESH_CYCLES 6

/* IPv4 routes of the main table (/proc/<pid>/net/route), addresses in network byte order. */
struct hk_netaddr_route {
    char ifname[16];
    uint32_t dst, mask;
    bool gateway;
};

/* /proc/<pid>/net/if_inet6: appends the global-scope (not loopback, not link-local, not
 * DAD-failed) addresses to out[*n..cap); returns how many did not fit, or -EINVAL on a
 * malformed line. */
int hk_netaddr_parse_if_inet6(const char *buf, size_t len, struct hk_netaddr *out, size_t *n,
                              size_t cap);
/* /proc/<pid>/net/fib_trie: the addresses of the namespace ("/32 host LOCAL" leaves), without
 * 127.0.0.0/8 and 169.254.0.0/16, each once, network byte order. Returns the number found (may
 * exceed cap: only cap are stored), or -EINVAL. */
int hk_netaddr_parse_fib_trie(const char *buf, size_t len, uint32_t *addrs, size_t cap);
/* /proc/<pid>/net/route: returns the number of routes stored (≤ cap) or -EINVAL. */
int hk_netaddr_parse_route(const char *buf, size_t len, struct hk_netaddr_route *routes,
                           size_t cap);
/* Interface of a local IPv4 address: the longest-prefix route without a gateway that holds it
 * (the address' subnet), else the longest-prefix route (a /32 address behind a default route,
 * as Calico's pods and GCE nodes have). NULL when none. */
const char *hk_netaddr_route_dev(const struct hk_netaddr_route *routes, size_t n, uint32_t addr);

/* Cached addresses of one sandbox. */
struct hk_netaddrs {
    uint32_t pid;
    uint32_t read_gen;
    bool host_network; /* same network namespace as pid 1 */
    size_t n, dropped;
    struct hk_netaddr a[HK_NETADDR_MAX];
};
/* Reads <proc_fd>/<pid>/net/{fib_trie,route,if_inet6} and <pid>/ns/net when *cache is NULL, pid
 * changed or HK_NETADDR_REFRESH_CYCLES cycles passed since gen of the last read; allocates
 * *cache. 0 (cache valid), -ENOENT (the process is gone), -ENOMEM, -EINVAL (malformed). */
int hk_netaddrs_refresh(struct hk_netaddrs **cache, int proc_fd, uint32_t pid, uint32_t gen);

#endif
