/* SPDX-License-Identifier: Apache-2.0 */
/* Addresses of a pod's network namespace through its sandbox's /proc/<pid>/net files: the
 * kernel shows the files of the reader-chosen process' namespace, so no setns (and no
 * CAP_SYS_ADMIN) is needed. Netlink would need a socket created inside the namespace.
 *
 * Reads (relative to procfs): <pid>/net/if_inet6 (IPv6 addresses with their interface),
 * <pid>/net/fib_trie (IPv4: the "/32 host LOCAL" leaves; the file names no interface),
 * <pid>/net/route (the main table: gives an IPv4 address its interface), <pid>/ns/net and
 * 1/ns/net, else self/ns/net (host network: the same namespace as pid 1). Emits nothing itself: the cgroup
 * collector turns the result into container_network_address_info on the sandbox row. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/netaddr.h"
#include "core/fsread.h"
#include "core/parse.h"

/* Routing tables of a node can be long (one route per peer node or per pod with some CNIs). */
#define MAX_FILE (8u << 20)
#define MAX_ROUTES 4096

static int hex_u32(const char *s, size_t len, uint32_t *ret)
{
    uint32_t v = 0;
    if (len == 0 || len > 8)
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16u;
        if (d > 15)
            return -EINVAL;
        v = v << 4 | d;
    }
    *ret = v;
    return 0;
}

static int copy_ifname(char *dst, const char *s, size_t len)
{
    if (len == 0 || len >= 16)
        return -EINVAL;
    memcpy(dst, s, len);
    dst[len] = '\0';
    return 0;
}

int hk_netaddr_parse_if_inet6(const char *buf, size_t len, struct hk_netaddr *out, size_t *n,
                              size_t cap)
{
    struct hk_cursor c;
    int dropped = 0;
    hk_cursor_init(&c, buf, len);
    while (!hk_cursor_eof(&c)) {
        const char *tok[6];
        size_t tl[6], k = 0;
        while (k < 6 && hk_cursor_token(&c, &tok[k], &tl[k]))
            k++;
        hk_cursor_next_line(&c);
        if (k == 0)
            continue;
        uint32_t ifindex, plen, scope, flags;
        if (k != 6 || tl[0] != 32 || hex_u32(tok[1], tl[1], &ifindex) < 0 ||
            hex_u32(tok[2], tl[2], &plen) < 0 || hex_u32(tok[3], tl[3], &scope) < 0 ||
            hex_u32(tok[4], tl[4], &flags) < 0)
            return -EINVAL;
        unsigned char a[16];
        for (int i = 0; i < 16; i++) {
            uint32_t b;
            if (hex_u32(tok[0] + 2 * i, 2, &b) < 0)
                return -EINVAL;
            a[i] = (unsigned char)b;
        }
        /* Global scope only: 0x10 host (::1), 0x20 link (fe80::/10, one per veth, never a
         * peer of a TCP connection between pods); 0x08 IFA_F_DADFAILED is unusable. */
        if ((scope & 0xf0) != 0 || (flags & 0x08))
            continue;
        struct hk_netaddr e;
        if (copy_ifname(e.ifname, tok[5], tl[5]) < 0)
            return -EINVAL;
        if (strcmp(e.ifname, "lo") == 0)
            continue;
        if (!inet_ntop(AF_INET6, a, e.ip, sizeof(e.ip)))
            return -EINVAL;
        if (*n < cap)
            out[(*n)++] = e;
        else
            dropped++;
    }
    return dropped;
}

/* Trims leading blanks and tree characters ("|-- ", "+-- ") of a fib_trie line. */
static const char *trie_text(const char *line, size_t len, size_t *ret_len)
{
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    *ret_len = len - i;
    return line + i;
}

int hk_netaddr_parse_fib_trie(const char *buf, size_t len, uint32_t *addrs, size_t cap)
{
    struct hk_cursor c;
    const char *line;
    size_t ll;
    uint32_t leaf = 0;
    bool have_leaf = false;
    size_t found = 0;
    hk_cursor_init(&c, buf, len);
    while (hk_cursor_line(&c, &line, &ll)) {
        size_t tl;
        const char *t = trie_text(line, ll, &tl);
        if (tl >= 4 && memcmp(t, "|-- ", 4) == 0) {
            char ip[16];
            if (tl - 4 >= sizeof(ip))
                return -EINVAL;
            memcpy(ip, t + 4, tl - 4);
            ip[tl - 4] = '\0';
            struct in_addr a;
            if (inet_pton(AF_INET, ip, &a) != 1)
                return -EINVAL;
            leaf = a.s_addr;
            have_leaf = true;
            continue;
        }
        if (tl >= 4 && memcmp(t, "+-- ", 4) == 0) {
            have_leaf = false; /* a subtree node, not an address */
            continue;
        }
        if (!have_leaf || !(tl >= 14 && memcmp(t, "/32 host LOCAL", 14) == 0))
            continue;
        const unsigned char *b = (const unsigned char *)&leaf;
        if (b[0] == 127 || (b[0] == 169 && b[1] == 254))
            continue;
        bool dup = false;
        for (size_t i = 0; i < found && i < cap && !dup; i++)
            dup = addrs[i] == leaf;
        if (dup)
            continue;
        if (found < cap)
            addrs[found] = leaf;
        found++;
    }
    return found > (size_t)INT32_MAX ? -EINVAL : (int)found;
}

int hk_netaddr_parse_route(const char *buf, size_t len, struct hk_netaddr_route *routes, size_t cap)
{
    struct hk_cursor c;
    size_t n = 0;
    hk_cursor_init(&c, buf, len);
    hk_cursor_next_line(&c); /* header */
    while (!hk_cursor_eof(&c)) {
        const char *tok[8];
        size_t tl[8], k = 0;
        while (k < 8 && hk_cursor_token(&c, &tok[k], &tl[k]))
            k++;
        hk_cursor_next_line(&c);
        if (k == 0)
            continue;
        /* Iface Destination Gateway Flags RefCnt Use Metric Mask … */
        struct hk_netaddr_route r;
        uint32_t gw, flags;
        if (k < 8 || copy_ifname(r.ifname, tok[0], tl[0]) < 0 ||
            hex_u32(tok[1], tl[1], &r.dst) < 0 || hex_u32(tok[2], tl[2], &gw) < 0 ||
            hex_u32(tok[3], tl[3], &flags) < 0 || hex_u32(tok[7], tl[7], &r.mask) < 0)
            return -EINVAL;
        /* The kernel prints the big-endian words as host integers ("%08X"): the parsed value
         * has the in-memory bytes of the address, like in_addr.s_addr. */
        r.gateway = (flags & 0x2) != 0; /* RTF_GATEWAY */
        if (!(flags & 0x1))             /* RTF_UP */
            continue;
        if (n < cap)
            routes[n++] = r;
    }
    return (int)n;
}

static int prefix_len(uint32_t mask_be)
{
    return __builtin_popcount(mask_be);
}

const char *hk_netaddr_route_dev(const struct hk_netaddr_route *routes, size_t n, uint32_t addr)
{
    const struct hk_netaddr_route *best = NULL;
    for (int pass = 0; pass < 2 && !best; pass++)
        for (size_t i = 0; i < n; i++) {
            const struct hk_netaddr_route *r = &routes[i];
            if ((pass == 0 && r->gateway) || (addr & r->mask) != r->dst)
                continue;
            if (!best || prefix_len(r->mask) > prefix_len(best->mask))
                best = r;
        }
    return best ? best->ifname : NULL;
}

/* "net:[4026531840]" of <pid>/ns/net; readlink works on fixtures (a plain symlink) too. */
static int netns_id(int proc_fd, const char *pid, char *buf, size_t cap)
{
    char path[48];
    snprintf(path, sizeof(path), "%s/ns/net", pid);
    ssize_t l = readlinkat(proc_fd, path, buf, cap - 1);
    if (l < 0)
        return -errno;
    buf[l] = '\0';
    return 0;
}

static int read_ns(int proc_fd, uint32_t pid, struct hk_netaddrs *ret)
{
    char dir[16], path[48], ns[64], host_ns[64];
    char *fib = NULL, *route = NULL, *inet6 = NULL;
    struct hk_netaddr_route *routes = NULL;
    uint32_t v4[HK_NETADDR_MAX];
    ssize_t l;
    int r, nv4, nroutes = 0;
    snprintf(dir, sizeof(dir), "%u", pid);
    /* The node's namespace is pid 1's. Where that link cannot be read (a container without
     * ptrace rights on pid 1), hakari's own: the shipped DaemonSet runs with hostNetwork. */
    ret->host_network = netns_id(proc_fd, dir, ns, sizeof(ns)) == 0 &&
                        (netns_id(proc_fd, "1", host_ns, sizeof(host_ns)) == 0 ||
                         netns_id(proc_fd, "self", host_ns, sizeof(host_ns)) == 0) &&
                        strcmp(ns, host_ns) == 0;
    snprintf(path, sizeof(path), "%u/net/fib_trie", pid);
    if ((l = hk_read_file_alloc(proc_fd, path, MAX_FILE, &fib)) < 0) {
        r = (int)l;
        goto out;
    }
    if ((nv4 = hk_netaddr_parse_fib_trie(fib, (size_t)l, v4, HK_NETADDR_MAX)) < 0) {
        r = nv4;
        goto out;
    }
    snprintf(path, sizeof(path), "%u/net/route", pid);
    if (nv4 > 0 && (l = hk_read_file_alloc(proc_fd, path, MAX_FILE, &route)) >= 0) {
        if (!(routes = calloc(MAX_ROUTES, sizeof(*routes)))) {
            r = -ENOMEM;
            goto out;
        }
        nroutes = hk_netaddr_parse_route(route, (size_t)l, routes, MAX_ROUTES);
        if (nroutes < 0)
            nroutes = 0; /* addresses without interfaces rather than none */
    }
    ret->n = 0;
    ret->dropped = 0;
    for (int i = 0; i < nv4; i++) {
        if (i >= HK_NETADDR_MAX) {
            ret->dropped++;
            continue;
        }
        struct hk_netaddr *e = &ret->a[ret->n++];
        const char *dev = hk_netaddr_route_dev(routes, (size_t)nroutes, v4[i]);
        snprintf(e->ifname, sizeof(e->ifname), "%s", dev ? dev : "");
        if (!inet_ntop(AF_INET, &v4[i], e->ip, sizeof(e->ip))) {
            r = -EINVAL;
            goto out;
        }
    }
    /* IPv6 may be disabled in the namespace (no if_inet6): IPv4 only then. */
    snprintf(path, sizeof(path), "%u/net/if_inet6", pid);
    if ((l = hk_read_file_alloc(proc_fd, path, MAX_FILE, &inet6)) >= 0) {
        int d = hk_netaddr_parse_if_inet6(inet6, (size_t)l, ret->a, &ret->n, HK_NETADDR_MAX);
        if (d < 0) {
            r = d;
            goto out;
        }
        ret->dropped += (size_t)d;
    }
    r = 0;
out:
    free(fib);
    free(route);
    free(inet6);
    free(routes);
    return r;
}

int hk_netaddrs_refresh(struct hk_netaddrs **cache, int proc_fd, uint32_t pid, uint32_t gen)
{
    struct hk_netaddrs *c = *cache;
    if (c && c->pid == pid && gen - c->read_gen < HK_NETADDR_REFRESH_CYCLES)
        return 0;
    if (!c && !(c = calloc(1, sizeof(*c))))
        return -ENOMEM;
    *cache = c;
    int r = read_ns(proc_fd, pid, c);
    if (r < 0) {
        c->n = 0;
        c->pid = 0; /* read again next cycle */
        return r;
    }
    c->pid = pid;
    c->read_gen = gen;
    return 0;
}
