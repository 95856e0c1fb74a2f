/* SPDX-License-Identifier: Apache-2.0 */
/* Conntrack entries by their original tuple, in the agent's network namespace: where a Service
 * VIP was DNATed to, for the topology edges (collector/ebpf_topo.h). Never per packet.
 * - ctnetlink (NETLINK_NETFILTER, IPCTNL_MSG_CT_GET): one request per new client edge. The kernel
 *   answers only threads holding CAP_NET_ADMIN, which the daemon drops after start-up
 *   (agent/privs.c); the first EPERM switches to
 * - /proc/self/net/nf_conntrack: the lookups of a cycle are deferred and answered by one scan of
 *   the table (hk_ct_batch), bounded in lines and bytes; the file is mode 0440 root (uid 0, or
 *   CAP_DAC_READ_SEARCH), the kernel checks no capability. It lists the reader's network
 *   namespace only, the same one the netlink lookup asks. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
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

/* ctnetlink: 1 / 0 / -errno; sets ct->broken when netlink cannot be used at all. */
static int nl_resolve(struct hk_ct_lookup *ct, const uint8_t saddr[16], uint16_t sport,
                      const uint8_t daddr[16], uint16_t dport, uint8_t ret_addr[16],
                      uint16_t *ret_port)
{
    if (ct->fd < 0) {
        ct->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
        if (ct->fd < 0) {
            ct->broken = true;
            hk_log_warn(
                "topology: no ctnetlink, conntrack lookups read /proc/self/net/nf_conntrack", "err",
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
            hk_log_info("topology: ctnetlink lookups not permitted (no CAP_NET_ADMIN), "
                        "conntrack lookups read /proc/self/net/nf_conntrack instead");
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

static bool same_tuple(const struct hk_ct_query *q, const uint8_t saddr[16], uint16_t sport,
                       const uint8_t daddr[16], uint16_t dport)
{
    return q->sport == sport && q->dport == dport && !memcmp(q->saddr, saddr, 16) &&
           !memcmp(q->daddr, daddr, 16);
}

int hk_ct_resolve(void *arg, const uint8_t saddr[16], uint16_t sport, const uint8_t daddr[16],
                  uint16_t dport, uint8_t ret_addr[16], uint16_t *ret_port)
{
    struct hk_ct_lookup *ct = arg;
    if (ct->answered) { /* a deferred lookup, answered by this cycle's scan */
        for (size_t i = 0; i < ct->nq; i++) {
            const struct hk_ct_query *q = &ct->q[i];
            if (q->found && same_tuple(q, saddr, sport, daddr, dport)) {
                memcpy(ret_addr, q->ret_addr, 16);
                *ret_port = q->ret_port;
                return 1;
            }
        }
        return 0;
    }
    if (!ct->broken) {
        int r = nl_resolve(ct, saddr, sport, daddr, dport, ret_addr, ret_port);
        if (!ct->broken && r >= 0)
            return r;
        /* EPERM (from now on), or this request failed (timeout, ...): the table scan answers */
    }
    if (ct->nq >= sizeof(ct->q) / sizeof(ct->q[0]))
        return 0;
    struct hk_ct_query *q = &ct->q[ct->nq++];
    memset(q, 0, sizeof(*q));
    memcpy(q->saddr, saddr, 16);
    memcpy(q->daddr, daddr, 16);
    q->sport = sport;
    q->dport = dport;
    return HK_TOPO_DEFER;
}

/* ---- /proc/net/nf_conntrack ---- */

/* A decimal in [0, max], the whole of [p, p + n). */
static int parse_uint(const char *p, size_t n, unsigned long max, unsigned long *ret)
{
    if (n == 0 || n > 10)
        return -EINVAL;
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -EINVAL;
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    if (v > max)
        return -EINVAL;
    *ret = v;
    return 0;
}

static int parse_addr(int family, const char *p, size_t n, uint8_t ret[16])
{
    char s[INET6_ADDRSTRLEN + 1];
    if (n == 0 || n >= sizeof(s))
        return -EINVAL;
    memcpy(s, p, n);
    s[n] = '\0';
    if (family == AF_INET) {
        memcpy(ret, v4mapped, 12);
        return inet_pton(AF_INET, s, ret + 12) == 1 ? 0 : -EINVAL;
    }
    return inet_pton(AF_INET6, s, ret) == 1 ? 0 : -EINVAL;
}

static bool tok_is(const char *p, size_t n, const char *word)
{
    return n == strlen(word) && !memcmp(p, word, n);
}

/* "ipv4 2 tcp 6 431999 ESTABLISHED src=A dst=B sport=P dport=Q [UNREPLIED] src=B' dst=A
 *  sport=Q' dport=P [ASSURED] mark=0 zone=0 use=2" (plus packets=/bytes=, secctx=, ... which are
 * ignored): the first src/dst/sport/dport are the original direction, the second the reply. */
int hk_ct_parse_line(const char *line, size_t len, struct hk_ct_entry *e)
{
    if (len > HK_CT_LINE_MAX)
        return -EINVAL;
    enum { SRC, DST, SPORT, DPORT, NKEY };
    static const char *const keys[NKEY] = {"src=", "dst=", "sport=", "dport="};
    unsigned seen[NKEY] = {0};
    int family = 0, tok = 0;
    bool tcp = false;
    const char *p = line, *end = line + len;
    memset(e, 0, sizeof(*e));
    while (p < end) {
        while (p < end && *p == ' ')
            p++;
        const char *t = p;
        while (p < end && *p != ' ')
            p++;
        size_t n = (size_t)(p - t);
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e)
                return -EINVAL;
        unsigned long v;
        switch (tok++) {
        case 0:
            if (tok_is(t, n, "ipv4"))
                family = AF_INET;
            else if (tok_is(t, n, "ipv6"))
                family = AF_INET6;
            else
                return -EINVAL;
            continue;
        case 1: /* l3 protocol number */
        case 3: /* l4 protocol number */
        case 4: /* timeout */
            if (parse_uint(t, n, 0xffffffffUL, &v) < 0)
                return -EINVAL;
            if (tok == 4 && (v == IPPROTO_TCP) != tcp)
                return -EINVAL;
            if (tok == 4 && !tcp)
                return 1;
            continue;
        case 2:
            tcp = tok_is(t, n, "tcp");
            continue;
        default:
            break;
        }
        int k = 0;
        while (k < NKEY && !(n > strlen(keys[k]) && !memcmp(t, keys[k], strlen(keys[k]))))
            k++;
        if (k == NKEY)
            continue; /* state, [FLAGS], mark=, zone=, use=, packets=, bytes=, ... */
        if (seen[k] >= 2)
            return -EINVAL;
        const char *val = t + strlen(keys[k]);
        size_t vn = n - strlen(keys[k]);
        bool orig = seen[k]++ == 0;
        if (k == SRC || k == DST) {
            uint8_t scratch[16]; /* the reply's destination is only checked */
            uint8_t *to = k == SRC ? (orig ? e->src : e->rsrc) : (orig ? e->dst : scratch);
            if (parse_addr(family, val, vn, to) < 0)
                return -EINVAL;
            continue;
        }
        if (parse_uint(val, vn, 65535, &v) < 0)
            return -EINVAL;
        if (k == SPORT && orig)
            e->sport = (uint16_t)v;
        else if (k == DPORT && orig)
            e->dport = (uint16_t)v;
        else if (k == SPORT)
            e->rsport = (uint16_t)v;
    }
    if (tok < 5)
        return -EINVAL;
    for (int k = 0; k < NKEY; k++)
        if (seen[k] != 2)
            return -EINVAL;
    return 0;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Warnings of the scan: at most one per 10 minutes (every cycle may scan). */
static bool may_warn(struct hk_ct_lookup *ct)
{
    int64_t now = mono_ms();
    if (ct->warned_ms && now - ct->warned_ms < 10 * 60 * 1000)
        return false;
    ct->warned_ms = now;
    return true;
}

struct scan {
    struct hk_ct_lookup *ct;
    uint8_t sports[65536 / 8]; /* original source ports asked for: a cheap filter */
    size_t lines, bad, first_bad, left;
};

static void scan_line(struct scan *s, const char *line, size_t len)
{
    s->lines++;
    struct hk_ct_entry e;
    int r = hk_ct_parse_line(line, len, &e);
    if (r < 0) {
        if (!s->bad++)
            s->first_bad = s->lines;
        return;
    }
    if (r > 0 || !(s->sports[e.sport / 8] & (1u << (e.sport % 8))))
        return;
    for (size_t i = 0; i < s->ct->nq; i++) {
        struct hk_ct_query *q = &s->ct->q[i];
        if (q->seen || !same_tuple(q, e.src, e.sport, e.dst, e.dport))
            continue;
        q->seen = true;
        s->left--;
        q->found = memcmp(e.rsrc, e.dst, 16) != 0 || e.rsport != e.dport;
        memcpy(q->ret_addr, e.rsrc, 16);
        q->ret_port = e.rsport;
    }
}

/* Reads the table once for every deferred lookup; stops when all are answered, at the end, or at
 * the line/byte bound. */
static void scan(struct hk_ct_lookup *ct)
{
    const char *path = ct->proc_path ? ct->proc_path : "/proc/self/net/nf_conntrack";
    size_t max_lines = ct->max_lines ? ct->max_lines : HK_CT_SCAN_MAX_LINES;
    size_t max_bytes = ct->max_bytes ? ct->max_bytes : HK_CT_SCAN_MAX_BYTES;
    enum { CHUNK = 65536 };
    struct scan *s = calloc(1, sizeof(*s));
    char *buf = malloc(CHUNK + HK_CT_LINE_MAX + 1);
    int fd = s && buf ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0) {
        int e = s && buf ? errno : ENOMEM;
        ct->scans[HK_CT_SCAN_FAILED]++;
        if (may_warn(ct))
            hk_log_warn("topology: cannot read the conntrack table, peer_resolved=\"none\"", "path",
                        path, "err", strerror(e));
        free(s);
        free(buf);
        return;
    }
    s->ct = ct;
    s->left = ct->nq;
    for (size_t i = 0; i < ct->nq; i++)
        s->sports[ct->q[i].sport / 8] |= (uint8_t)(1u << (ct->q[i].sport % 8));
    size_t have = 0, bytes = 0;
    bool skipping = false, truncated = false, failed = false;
    int err = 0;
    while (s->left > 0) {
        size_t want = CHUNK;
        if (bytes >= max_bytes)
            want = 1; /* only to learn whether there is more */
        else if (want > max_bytes - bytes)
            want = max_bytes - bytes;
        ssize_t n = read(fd, buf + have, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            failed = true;
            err = errno;
            break;
        }
        if (n == 0) {
            if (have > 0 && !skipping) { /* a last line without its newline: cut short */
                if (!s->bad++)
                    s->first_bad = s->lines + 1;
            }
            break;
        }
        if (bytes >= max_bytes || s->lines >= max_lines) {
            truncated = true;
            break;
        }
        bytes += (size_t)n;
        size_t end = have + (size_t)n, start = 0;
        const char *nl;
        while (s->left > 0 && (nl = memchr(buf + start, '\n', end - start))) {
            size_t len = (size_t)(nl - (buf + start));
            if (skipping) { /* the tail of an over-long line, counted already */
                skipping = false;
            } else if (s->lines >= max_lines) {
                truncated = true;
                break;
            } else {
                scan_line(s, buf + start, len);
            }
            start = (size_t)(nl - buf) + 1;
        }
        if (truncated)
            break;
        size_t rest = end - start;
        if (skipping) {
            rest = 0;
        } else if (rest > HK_CT_LINE_MAX) {
            skipping = true;
            s->lines++;
            if (!s->bad++)
                s->first_bad = s->lines;
            rest = 0;
        }
        memmove(buf, buf + start, rest);
        have = rest;
    }
    close(fd);
    ct->scans[failed      ? HK_CT_SCAN_FAILED
              : truncated ? HK_CT_SCAN_TRUNCATED
                          : HK_CT_SCAN_COMPLETE]++;
    ct->malformed += s->bad;
    char lines[24], bad[24], first[24], left[24];
    snprintf(lines, sizeof(lines), "%zu", s->lines);
    snprintf(bad, sizeof(bad), "%zu", s->bad);
    snprintf(first, sizeof(first), "%zu", s->first_bad);
    snprintf(left, sizeof(left), "%zu", s->left);
    if ((failed || truncated || s->bad) && may_warn(ct)) {
        if (failed)
            hk_log_warn("topology: reading the conntrack table failed", "path", path, "line", lines,
                        "err", strerror(err));
        else if (truncated)
            hk_log_warn("topology: conntrack table scan stopped at its bound; the lookups not "
                        "answered report peer_resolved=\"none\" (counted in "
                        "hakari_topology_conntrack_scans_total{result=\"truncated\"})",
                        "path", path, "lines", lines, "unanswered", left);
        if (s->bad)
            hk_log_warn("topology: malformed conntrack lines skipped", "path", path, "line", first,
                        "count", bad);
    }
    free(s);
    free(buf);
}

void hk_ct_batch(void *arg, int stage)
{
    struct hk_ct_lookup *ct = arg;
    if (stage == 0 && ct->nq > 0) {
        scan(ct);
        ct->answered = true;
    } else if (stage == 1) {
        ct->answered = false;
        ct->nq = 0;
    }
}

static const char *const labels_result[] = {"result", NULL};
static const struct hk_metric_desc desc_scans = {
    "hakari_topology_conntrack_scans_total",
    "Scans of /proc/self/net/nf_conntrack for the topology's DNAT lookups (when ctnetlink is not "
    "permitted), by result: complete, truncated (stopped at the line/byte bound), failed.",
    HK_METRIC_COUNTER, "", labels_result};
static const struct hk_metric_desc desc_malformed = {
    "hakari_topology_conntrack_malformed_lines_total",
    "Lines of /proc/self/net/nf_conntrack skipped as malformed by the topology's DNAT lookups.",
    HK_METRIC_COUNTER, "", NULL};

int hk_ct_emit(const struct hk_ct_lookup *ct, struct hk_builder *b)
{
    static const char *const names[HK_CT_SCAN_N] = {"complete", "truncated", "failed"};
    for (int i = 0; i < HK_CT_SCAN_N; i++) {
        const char *lv[] = {names[i]};
        if (hk_emit(b, &desc_scans, lv, (double)ct->scans[i]) == -ENOMEM)
            return -ENOMEM;
    }
    return hk_emit(b, &desc_malformed, NULL, (double)ct->malformed) == -ENOMEM ? -ENOMEM : 0;
}
