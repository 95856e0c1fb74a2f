/* SPDX-License-Identifier: Apache-2.0 */
/* One conntrack entry by its original tuple over ctnetlink (NETLINK_NETFILTER,
 * IPCTNL_MSG_CT_GET), in the agent's network namespace: where a Service VIP was DNATed to, for
 * the topology edges (collector/ebpf_topo.h). One request per new client edge, never per packet.
 * The kernel answers only callers holding CAP_NET_ADMIN; without it the first lookup fails with
 * EPERM and lookups stop (peer_resolved="none"). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "collector/ebpf_topo.h"
#include "core/log.h"

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

struct req {
    char *buf;
    size_t len, cap;
};

/* Appends an attribute; returns its offset (for nesting) or -1 when the buffer is full. */
static long put_attr(struct req *q, uint16_t type, const void *data, size_t n)
{
    size_t need = NLA_ALIGN(NLA_HDRLEN + n);
    if (q->len + need > q->cap)
        return -1;
    struct nlattr *a = (struct nlattr *)(q->buf + q->len);
    a->nla_type = type;
    a->nla_len = (uint16_t)(NLA_HDRLEN + n);
    if (n)
        memcpy(q->buf + q->len + NLA_HDRLEN, data, n);
    memset(q->buf + q->len + NLA_HDRLEN + n, 0, need - NLA_HDRLEN - n);
    long off = (long)q->len;
    q->len += need;
    return off;
}

static void end_nest(struct req *q, long off)
{
    ((struct nlattr *)(q->buf + off))->nla_len = (uint16_t)(q->len - (size_t)off);
}

/* The orig tuple (src, dst, sport, dport) as CTA_TUPLE_ORIG. */
static int put_tuple(struct req *q, bool v4, const uint8_t s[16], const uint8_t d[16],
                     uint16_t sport, uint16_t dport)
{
    long t = put_attr(q, CTA_TUPLE_ORIG | NLA_F_NESTED, NULL, 0);
    long ip = put_attr(q, CTA_TUPLE_IP | NLA_F_NESTED, NULL, 0);
    if (t < 0 || ip < 0)
        return -ENOSPC;
    if (v4) {
        if (put_attr(q, CTA_IP_V4_SRC, s + 12, 4) < 0 || put_attr(q, CTA_IP_V4_DST, d + 12, 4) < 0)
            return -ENOSPC;
    } else if (put_attr(q, CTA_IP_V6_SRC, s, 16) < 0 || put_attr(q, CTA_IP_V6_DST, d, 16) < 0) {
        return -ENOSPC;
    }
    end_nest(q, ip);
    long pr = put_attr(q, CTA_TUPLE_PROTO | NLA_F_NESTED, NULL, 0);
    uint8_t proto = IPPROTO_TCP;
    uint16_t bs = htons(sport), bd = htons(dport);
    if (pr < 0 || put_attr(q, CTA_PROTO_NUM, &proto, 1) < 0 ||
        put_attr(q, CTA_PROTO_SRC_PORT, &bs, 2) < 0 || put_attr(q, CTA_PROTO_DST_PORT, &bd, 2) < 0)
        return -ENOSPC;
    end_nest(q, pr);
    end_nest(q, t);
    return 0;
}

/* Finds attribute `type` (nesting flags ignored) among the attributes in [p, p + n). */
static const struct nlattr *find_attr(const char *p, size_t n, uint16_t type)
{
    while (n >= NLA_HDRLEN) {
        const struct nlattr *a = (const struct nlattr *)p;
        if (a->nla_len < NLA_HDRLEN || a->nla_len > n)
            return NULL;
        if ((a->nla_type & NLA_TYPE_MASK) == type)
            return a;
        size_t step = NLA_ALIGN(a->nla_len);
        if (step >= n)
            break;
        p += step;
        n -= step;
    }
    return NULL;
}

static const char *attr_data(const struct nlattr *a)
{
    return (const char *)a + NLA_HDRLEN;
}
static size_t attr_len(const struct nlattr *a)
{
    return a->nla_len - NLA_HDRLEN;
}

int hk_ct_parse_reply(const void *buf, size_t len, uint8_t ret_addr[16], uint16_t *ret_port)
{
    const struct nlmsghdr *h = buf;
    if (len < sizeof(*h) || h->nlmsg_len < sizeof(*h) || h->nlmsg_len > len)
        return -EINVAL;
    if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
            return -EINVAL;
        const struct nlmsgerr *e = NLMSG_DATA(h);
        return e->error ? e->error : -ENOENT;
    }
    if ((h->nlmsg_type & 0xff) != IPCTNL_MSG_CT_NEW ||
        h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nfgenmsg)))
        return -EINVAL;
    const char *p = (const char *)NLMSG_DATA(h) + NLMSG_ALIGN(sizeof(struct nfgenmsg));
    size_t n = h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct nfgenmsg)));
    const struct nlattr *rep = find_attr(p, n, CTA_TUPLE_REPLY);
    const struct nlattr *ip = rep ? find_attr(attr_data(rep), attr_len(rep), CTA_TUPLE_IP) : NULL;
    const struct nlattr *pr =
        rep ? find_attr(attr_data(rep), attr_len(rep), CTA_TUPLE_PROTO) : NULL;
    if (!ip || !pr)
        return -EINVAL;
    const struct nlattr *src4 = find_attr(attr_data(ip), attr_len(ip), CTA_IP_V4_SRC);
    const struct nlattr *src6 = find_attr(attr_data(ip), attr_len(ip), CTA_IP_V6_SRC);
    const struct nlattr *sp = find_attr(attr_data(pr), attr_len(pr), CTA_PROTO_SRC_PORT);
    if (!sp || attr_len(sp) != 2)
        return -EINVAL;
    if (src4 && attr_len(src4) == 4) {
        memcpy(ret_addr, v4mapped, 12);
        memcpy(ret_addr + 12, attr_data(src4), 4);
    } else if (src6 && attr_len(src6) == 16) {
        memcpy(ret_addr, attr_data(src6), 16);
    } else {
        return -EINVAL;
    }
    uint16_t be;
    memcpy(&be, attr_data(sp), 2);
    *ret_port = ntohs(be);
    return 0;
}

void hk_ct_lookup_close(struct hk_ct_lookup *ct)
{
    if (ct->fd >= 0)
        close(ct->fd);
    ct->fd = -1;
}

int hk_ct_resolve(void *arg, const uint8_t saddr[16], uint16_t sport, const uint8_t daddr[16],
                  uint16_t dport, uint8_t ret_addr[16], uint16_t *ret_port)
{
    struct hk_ct_lookup *ct = arg;
    if (ct->broken)
        return 0;
    if (ct->fd < 0) {
        ct->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
        if (ct->fd < 0) {
            ct->broken = true;
            hk_log_warn("topology: no conntrack lookups (peer_resolved=\"none\")", "err",
                        strerror(errno));
            return 0;
        }
        struct timeval tv = {0, 200000}; /* bounded: a lookup never blocks a cycle long */
        setsockopt(ct->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    bool v4 = !memcmp(saddr, v4mapped, 12) && !memcmp(daddr, v4mapped, 12);
    char buf[512] __attribute__((aligned(4)));
    struct req q = {buf, 0, sizeof(buf)};
    memset(buf, 0, sizeof(buf));
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    h->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
    h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    h->nlmsg_seq = ++ct->seq;
    struct nfgenmsg *g = NLMSG_DATA(h);
    g->nfgen_family = v4 ? AF_INET : AF_INET6;
    g->version = NFNETLINK_V0;
    q.len = NLMSG_LENGTH(NLMSG_ALIGN(sizeof(*g)));
    if (put_tuple(&q, v4, saddr, daddr, sport, dport) < 0)
        return -ENOSPC;
    h->nlmsg_len = (uint32_t)q.len;
    struct sockaddr_nl to = {.nl_family = AF_NETLINK};
    if (sendto(ct->fd, buf, q.len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
        return -errno;
    /* The entry (if any), then the ACK; skip stale replies of an earlier timed-out request. */
    char rbuf[4096] __attribute__((aligned(4)));
    int found = 0;
    for (int i = 0; i < 4; i++) {
        ssize_t n = recv(ct->fd, rbuf, sizeof(rbuf), 0);
        if (n < 0)
            return -errno;
        const struct nlmsghdr *rh = (const struct nlmsghdr *)rbuf;
        if ((size_t)n < sizeof(*rh) || rh->nlmsg_seq != ct->seq)
            continue;
        uint8_t a[16];
        uint16_t p = 0;
        int r = hk_ct_parse_reply(rbuf, (size_t)n, a, &p);
        if (r == -ENOENT) /* the ACK (error 0) or "no such entry" */
            return found;
        if (r == -EPERM) {
            ct->broken = true;
            hk_log_warn("topology: conntrack lookups not permitted (needs CAP_NET_ADMIN); "
                        "peer_resolved=\"none\"");
            return 0;
        }
        if (r < 0)
            return r;
        found = memcmp(a, daddr, 16) != 0 || p != dport;
        if (found) {
            memcpy(ret_addr, a, 16);
            *ret_port = p;
        }
    }
    return found;
}
