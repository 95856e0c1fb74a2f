/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the topology edges' user-space side (collector/ebpf_topo.h): kernel entries to
 * per-container edges by deltas (monotonic across re-made kernel entries and vanished cgroups,
 * several cgroups of one container summed), the per-container cap with peer_ip="other" and the
 * dropped counter, aging after the grace period (kernel entries deleted), conntrack resolution
 * (a resolver standing in for ctnetlink, the per-cycle lookup budget), the exposition, the
 * ctnetlink reply parser on hand-built messages, and the /proc/net/nf_conntrack fallback: its line
 * parser on a real table (tests/fixtures/nf_conntrack, IPv4 and IPv6) and hostile or cut lines,
 * deferred lookups answered by one scan per cycle, its line and byte bounds, a missing table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>

#include "collector/ebpf_topo.h"
#include "core/buf.h"
#include "exporter/textfmt.h"

static const char *const base_a[] = {"app", "/pod-a/app", "img:1", "app-1", "ns", "pod-a"};
static const char *const base_b[] = {"web", "/pod-b/web", "img:2", "web-1", "ns", "pod-b"};

static struct hk_topo_kentry kent(uint64_t cgid, const char *ip4, uint16_t port, int dir,
                                  uint64_t conns)
{
    struct hk_topo_kentry e;
    memset(&e, 0, sizeof(e));
    e.cgid = cgid;
    e.addr[10] = e.addr[11] = 0xff;
    inet_pton(AF_INET, ip4, e.addr + 12);
    e.port = port;
    e.direction = (uint8_t)dir;
    e.v[HK_TOPO_CONN] = conns;
    return e;
}

static struct hk_builder *begin_ebpf(void)
{
    struct hk_builder *b = hk_builder_new(NULL);
    assert_non_null(b);
    hk_builder_begin(b, "ebpf");
    return b;
}

/* Seals what was emitted into b (from begin_ebpf) as text exposition (caller frees). */
static char *seal_text(struct hk_builder *b)
{
    hk_builder_commit(b);
    struct hk_snapshot *s = hk_builder_seal(b, 1000, NULL);
    assert_non_null(s);
    struct hk_buf out;
    hk_buf_init(&out, 0);
    assert_int_equal(hk_textfmt_render(s, HK_TEXTFMT_TEXT, &out), 0);
    char *text = strndup(out.data, out.len);
    hk_buf_free(&out);
    hk_snapshot_unref(s);
    return text;
}

/* Renders the edges as text exposition (caller frees). */
static char *render(struct hk_topo *t)
{
    struct hk_builder *b = begin_ebpf();
    assert_int_equal(hk_topo_emit(t, b), 0);
    return seal_text(b);
}

/* Value of the one series of `family` whose line contains every needle ("" when none). */
static double value_of(const char *text, const char *family, const char *n1, const char *n2)
{
    const char *p = text;
    size_t fl = strlen(family);
    while ((p = strstr(p, family))) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char line[1024];
        snprintf(line, sizeof(line), "%.*s", (int)len, p);
        bool start = p == text || p[-1] == '\n';
        p += fl;
        if (!start || line[fl] != '{' || (n1 && !strstr(line, n1)) || (n2 && !strstr(line, n2)))
            continue;
        return strtod(strrchr(line, ' ') + 1, NULL);
    }
    return -1;
}

static double peer_conns(const char *text, const char *n1, const char *n2)
{
    return value_of(text, "container_tcp_peer_connections_total", n1, n2);
}

static size_t count_lines(const char *text, const char *prefix, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char line[1024];
        snprintf(line, sizeof(line), "%.*s", (int)len, p);
        if (!strncmp(line, prefix, strlen(prefix)) && (!needle || strstr(line, needle)))
            n++;
    }
    return n;
}

struct dels {
    int n;
    uint16_t ports[64];
};

static void on_del(void *arg, uint64_t cgid, const uint8_t addr[16], uint16_t port, uint8_t dir)
{
    struct dels *d = arg;
    (void)cgid;
    (void)addr;
    (void)dir;
    if (d->n < 64)
        d->ports[d->n++] = port;
}

static void test_deltas_are_monotonic(void **st)
{
    (void)st;
    struct hk_topo *t = hk_topo_new(64, 60000, NULL, NULL);
    assert_non_null(t);
    struct hk_topo_kentry e = kent(7, "10.0.0.2", 8080, 0, 5);
    hk_topo_begin(t, 1000);
    assert_int_equal(hk_topo_add(t, &e, base_a, false), 0);
    /* A second cgroup of the same container (a child): summed into the same edge. */
    struct hk_topo_kentry e2 = kent(8, "10.0.0.2", 8080, 0, 2);
    assert_int_equal(hk_topo_add(t, &e2, base_a, false), 0);
    hk_topo_end(t, NULL, NULL);
    char *txt = render(t);
    assert_true(peer_conns(txt, "peer_ip=\"10.0.0.2\"", "port=\"8080\"") == 7);
    assert_non_null(strstr(txt, "direction=\"client\""));
    assert_non_null(strstr(txt, "peer_resolved=\"none\""));
    free(txt);

    /* The kernel entry grows by 3; then it is deleted and made again with 1 (reset): 7+3+1. */
    hk_topo_begin(t, 2000);
    e.v[HK_TOPO_CONN] = 8;
    assert_int_equal(hk_topo_add(t, &e, base_a, false), 0);
    hk_topo_end(t, NULL, NULL);
    hk_topo_begin(t, 3000);
    e.v[HK_TOPO_CONN] = 1;
    assert_int_equal(hk_topo_add(t, &e, base_a, false), 0);
    /* The child cgroup is gone: its last delta still counts, and its kernel entry goes. */
    e2.v[HK_TOPO_CONN] = 4;
    assert_int_equal(hk_topo_add(t, &e2, NULL, true), 1);
    hk_topo_end(t, NULL, NULL);
    txt = render(t);
    assert_true(peer_conns(txt, "peer_ip=\"10.0.0.2\"", NULL) == 7 + 3 + 1 + 2);
    free(txt);
    /* An unresolvable cgroup never seen before: skipped (deleted once gone). */
    struct hk_topo_kentry e3 = kent(9, "10.0.0.3", 80, 0, 1);
    assert_int_equal(hk_topo_add(t, &e3, NULL, false), 0);
    assert_int_equal(hk_topo_add(t, &e3, NULL, true), 1);
    hk_topo_free(t);
}

static void test_cap_and_other(void **st)
{
    (void)st;
    struct hk_topo *t = hk_topo_new(3, 60000, NULL, NULL);
    hk_topo_begin(t, 1000);
    int deleted = 0;
    for (int p = 1; p <= 7; p++) {
        struct hk_topo_kentry e = kent(7, "10.0.0.2", (uint16_t)p, 0, 0);
        e.v[HK_TOPO_FAILED] = (uint64_t)p;
        int r = hk_topo_add(t, &e, base_a, false);
        assert_true(r == 0 || r == 1);
        deleted += r;
    }
    /* Another container has its own cap; server edges count too. */
    struct hk_topo_kentry s = kent(11, "10.0.0.1", 8080, 1, 4);
    assert_int_equal(hk_topo_add(t, &s, base_b, false), 0);
    hk_topo_end(t, NULL, NULL);
    assert_int_equal(deleted, 4); /* drained into "other": the kernel entries go */
    assert_int_equal(hk_topo_dropped(t), 4);
    char *txt = render(t);
    assert_int_equal(count_lines(txt, "container_tcp_peer_failed_connects_total{", "pod-a/app"),
                     3 + 1);
    assert_true(value_of(txt, "container_tcp_peer_failed_connects_total", "peer_ip=\"other\"",
                         "port=\"other\"") == 4 + 5 + 6 + 7);
    assert_true(value_of(txt, "hakari_topology_peers_dropped_total", NULL, NULL) < 0); /* no { */
    assert_non_null(strstr(txt, "\nhakari_topology_peers_dropped_total 4\n"));
    assert_true(peer_conns(txt, "direction=\"server\"", "pod=\"pod-b\"") == 4);
    /* Failed connects exist only for the client side. */
    assert_int_equal(count_lines(txt, "container_tcp_peer_failed_connects_total{", "pod-b"), 0);
    free(txt);

    /* Next cycle: the drained entries come back with new counts and go to "other" again; the
     * edges that made it keep their place. */
    hk_topo_begin(t, 2000);
    struct hk_topo_kentry e = kent(7, "10.0.0.2", 7, 0, 0);
    e.v[HK_TOPO_FAILED] = 1;
    assert_int_equal(hk_topo_add(t, &e, base_a, false), 1);
    e = kent(7, "10.0.0.2", 1, 0, 0);
    e.v[HK_TOPO_FAILED] = 2;
    assert_int_equal(hk_topo_add(t, &e, base_a, false), 0);
    hk_topo_end(t, NULL, NULL);
    txt = render(t);
    assert_true(
        value_of(txt, "container_tcp_peer_failed_connects_total", "peer_ip=\"other\"", NULL) == 23);
    assert_true(value_of(txt, "container_tcp_peer_failed_connects_total", "port=\"1\"", NULL) == 2);
    free(txt);
    assert_int_equal(hk_topo_edges(t), 3 + 1 + 1);
    hk_topo_free(t);
}

static void test_aging(void **st)
{
    (void)st;
    struct hk_topo *t = hk_topo_new(2, 10000, NULL, NULL);
    struct hk_topo_kentry a = kent(7, "10.0.0.2", 80, 0, 1);
    struct hk_topo_kentry b = kent(7, "10.0.0.3", 80, 0, 1);
    hk_topo_begin(t, 1000);
    hk_topo_add(t, &a, base_a, false);
    hk_topo_add(t, &b, base_a, false);
    hk_topo_end(t, NULL, NULL);
    /* a keeps changing, b does not: after the grace period b is forgotten, its kernel entry
     * deleted, and its slot under the cap free again. */
    struct dels d = {0};
    for (int64_t now = 2000; now <= 11000; now += 1000) {
        hk_topo_begin(t, now);
        a.v[HK_TOPO_CONN]++;
        hk_topo_add(t, &a, base_a, false);
        hk_topo_add(t, &b, base_a, false);
        hk_topo_end(t, on_del, &d);
    }
    assert_int_equal(d.n, 0); /* exactly the grace period (10 s) since its last change */
    hk_topo_begin(t, 11001);
    hk_topo_add(t, &a, base_a, false);
    hk_topo_add(t, &b, base_a, false);
    hk_topo_end(t, on_del, &d);
    assert_int_equal(d.n, 1);
    assert_int_equal(hk_topo_edges(t), 1);
    char *txt = render(t);
    assert_null(strstr(txt, "10.0.0.3"));
    assert_non_null(strstr(txt, "10.0.0.2"));
    free(txt);
    /* A new peer takes the freed slot (no "other"). */
    struct hk_topo_kentry c = kent(7, "10.0.0.4", 80, 0, 1);
    hk_topo_begin(t, 13000);
    assert_int_equal(hk_topo_add(t, &c, base_a, false), 0);
    hk_topo_end(t, NULL, NULL);
    assert_int_equal(hk_topo_dropped(t), 0);
    /* Everything idle: the container's state goes entirely. */
    hk_topo_begin(t, 100000);
    hk_topo_end(t, NULL, NULL);
    assert_int_equal(hk_topo_edges(t), 0);
    hk_topo_free(t);
}

static int calls;
static int fake_ct(void *arg, const uint8_t saddr[16], uint16_t sport, const uint8_t daddr[16],
                   uint16_t dport, uint8_t ret_addr[16], uint16_t *ret_port)
{
    (void)arg;
    (void)saddr;
    calls++;
    assert_int_equal(sport, 40000);
    if (dport != 80 || daddr[15] != 100)
        return 0;
    memcpy(ret_addr, daddr, 16);
    ret_addr[15] = 7; /* 10.96.0.100:80 → 10.96.0.7:8080 */
    *ret_port = 8080;
    return 1;
}

static void test_conntrack_resolution(void **st)
{
    (void)st;
    struct hk_topo *t = hk_topo_new(64, 60000, fake_ct, NULL);
    calls = 0;
    hk_topo_begin(t, 1000);
    struct hk_topo_kentry vip = kent(7, "10.96.0.100", 80, 0, 3);
    vip.sample_sport = 40000;
    struct hk_topo_kentry direct = kent(7, "10.96.0.7", 8080, 0, 2);
    direct.sample_sport = 40000;
    struct hk_topo_kentry server = kent(7, "10.0.0.9", 9090, 1, 1); /* never looked up */
    assert_int_equal(hk_topo_add(t, &vip, base_a, false), 0);
    assert_int_equal(hk_topo_add(t, &direct, base_a, false), 0);
    assert_int_equal(hk_topo_add(t, &server, base_a, false), 0);
    hk_topo_end(t, NULL, NULL);
    assert_int_equal(calls, 2);
    /* Once per kernel entry, not per cycle. */
    hk_topo_begin(t, 2000);
    vip.v[HK_TOPO_CONN] = 5;
    assert_int_equal(hk_topo_add(t, &vip, base_a, false), 0);
    hk_topo_end(t, NULL, NULL);
    assert_int_equal(calls, 2);
    char *txt = render(t);
    assert_true(peer_conns(txt, "peer_ip=\"10.96.0.7\"", "peer_resolved=\"conntrack\"") == 5);
    assert_true(peer_conns(txt, "peer_ip=\"10.96.0.7\"", "peer_resolved=\"none\"") == 2);
    assert_null(strstr(txt, "10.96.0.100"));
    free(txt);
    /* The lookup budget: new edges beyond it wait for the next cycle, nothing is lost. */
    hk_topo_begin(t, 3000);
    int deferred = 0;
    for (unsigned i = 0; i < HK_TOPO_RESOLVE_PER_CYCLE + 10; i++) {
        struct hk_topo_kentry e = kent(100 + i, "10.1.0.1", 443, 0, 1);
        e.sample_sport = 40000;
        assert_int_equal(hk_topo_add(t, &e, base_b, false), 0);
    }
    hk_topo_end(t, NULL, NULL);
    txt = render(t);
    deferred = HK_TOPO_RESOLVE_PER_CYCLE + 10 - (int)peer_conns(txt, "10.1.0.1", NULL);
    free(txt);
    assert_int_equal(deferred, 10);
    hk_topo_begin(t, 4000);
    for (unsigned i = 0; i < HK_TOPO_RESOLVE_PER_CYCLE + 10; i++) {
        struct hk_topo_kentry e = kent(100 + i, "10.1.0.1", 443, 0, 1);
        e.sample_sport = 40000;
        assert_int_equal(hk_topo_add(t, &e, base_b, false), 0);
    }
    hk_topo_end(t, NULL, NULL);
    txt = render(t);
    assert_true(peer_conns(txt, "10.1.0.1", NULL) == HK_TOPO_RESOLVE_PER_CYCLE + 10);
    free(txt);
    hk_topo_free(t);
}

static void test_addr_text(void **st)
{
    (void)st;
    char buf[64];
    struct hk_topo_kentry e = kent(1, "192.168.1.20", 1, 0, 0);
    hk_topo_addr_text(e.addr, buf, sizeof(buf));
    assert_string_equal(buf, "192.168.1.20");
    uint8_t a6[16];
    inet_pton(AF_INET6, "fd00:0:0:1::0:5", a6);
    hk_topo_addr_text(a6, buf, sizeof(buf));
    assert_string_equal(buf, "fd00:0:0:1::5");
}

/* ---- ctnetlink reply parsing ---- */

static size_t put_attr(char *buf, size_t off, uint16_t type, const void *data, size_t n)
{
    struct nlattr *a = (struct nlattr *)(buf + off);
    a->nla_type = type;
    a->nla_len = (uint16_t)(NLA_HDRLEN + n);
    if (data)
        memcpy(buf + off + NLA_HDRLEN, data, n);
    return off + NLA_ALIGN(NLA_HDRLEN + n);
}

/* A CT_NEW message with a reply tuple src = ip:port (IPv4). */
static size_t ct_msg(char *buf, const char *ip, uint16_t port, bool with_port)
{
    memset(buf, 0, 512);
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    h->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
    size_t off = NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct nfgenmsg)));
    uint32_t a;
    inet_pton(AF_INET, "10.9.9.9", &a);
    /* An orig tuple first (must be skipped). */
    size_t orig = off;
    off = put_attr(buf, off, CTA_TUPLE_ORIG | NLA_F_NESTED, NULL, 0);
    size_t ip4 = off;
    off = put_attr(buf, off, CTA_TUPLE_IP | NLA_F_NESTED, NULL, 0);
    off = put_attr(buf, off, CTA_IP_V4_SRC, &a, 4);
    ((struct nlattr *)(buf + ip4))->nla_len = (uint16_t)(off - ip4);
    ((struct nlattr *)(buf + orig))->nla_len = (uint16_t)(off - orig);
    size_t rep = off;
    off = put_attr(buf, off, CTA_TUPLE_REPLY | NLA_F_NESTED, NULL, 0);
    ip4 = off;
    off = put_attr(buf, off, CTA_TUPLE_IP | NLA_F_NESTED, NULL, 0);
    inet_pton(AF_INET, ip, &a);
    off = put_attr(buf, off, CTA_IP_V4_SRC, &a, 4);
    ((struct nlattr *)(buf + ip4))->nla_len = (uint16_t)(off - ip4);
    size_t pr = off;
    off = put_attr(buf, off, CTA_TUPLE_PROTO | NLA_F_NESTED, NULL, 0);
    uint8_t proto = 6;
    off = put_attr(buf, off, CTA_PROTO_NUM, &proto, 1);
    if (with_port) {
        uint16_t be = htons(port);
        off = put_attr(buf, off, CTA_PROTO_SRC_PORT, &be, 2);
    }
    ((struct nlattr *)(buf + pr))->nla_len = (uint16_t)(off - pr);
    ((struct nlattr *)(buf + rep))->nla_len = (uint16_t)(off - rep);
    h->nlmsg_len = (uint32_t)off;
    return off;
}

static void test_ct_parse(void **st)
{
    (void)st;
    char buf[512] __attribute__((aligned(4)));
    uint8_t addr[16];
    uint16_t port = 0;
    size_t n = ct_msg(buf, "10.244.1.7", 8080, true);
    assert_int_equal(hk_ct_parse_reply(buf, n, addr, &port), 0);
    char text[64];
    hk_topo_addr_text(addr, text, sizeof(text));
    assert_string_equal(text, "10.244.1.7");
    assert_int_equal(port, 8080);
    /* Truncated anywhere: an error, never a read past the end. */
    for (size_t cut = 0; cut < n; cut++)
        assert_true(hk_ct_parse_reply(buf, cut, addr, &port) < 0);
    n = ct_msg(buf, "10.244.1.7", 8080, false);
    assert_int_equal(hk_ct_parse_reply(buf, n, addr, &port), -EINVAL);
    /* NLMSG_ERROR: ENOENT (no such connection) and EPERM come back as such; the ACK too. */
    struct {
        struct nlmsghdr h;
        struct nlmsgerr e;
    } err;
    memset(&err, 0, sizeof(err));
    err.h.nlmsg_type = NLMSG_ERROR;
    err.h.nlmsg_len = sizeof(err);
    err.e.error = -ENOENT;
    assert_int_equal(hk_ct_parse_reply(&err, sizeof(err), addr, &port), -ENOENT);
    err.e.error = -EPERM;
    assert_int_equal(hk_ct_parse_reply(&err, sizeof(err), addr, &port), -EPERM);
    err.e.error = 0;
    assert_int_equal(hk_ct_parse_reply(&err, sizeof(err), addr, &port), -ENOENT);
}

/* ---- /proc/net/nf_conntrack ---- */

#define CT_TABLE "tests/fixtures/nf_conntrack/table.txt"

static void addr_of(const char *text, uint8_t ret[16])
{
    memset(ret, 0, 16);
    if (strchr(text, ':')) {
        assert_int_equal(inet_pton(AF_INET6, text, ret), 1);
    } else {
        ret[10] = ret[11] = 0xff;
        assert_int_equal(inet_pton(AF_INET, text, ret + 12), 1);
    }
}

static void assert_addr(const uint8_t a[16], const char *text)
{
    uint8_t want[16];
    addr_of(text, want);
    assert_memory_equal(a, want, 16);
}

/* Every line of the fixture (the first four as this kernel printed them: DNAT v4 and v6, UDP, a
 * direct connection; then ICMP, UNREPLIED SYN_SENT, accounting and secctx fields, TIME_WAIT in
 * the same format). */
static void test_ct_parse_line(void **st)
{
    (void)st;
    FILE *f = fopen(CT_TABLE, "r");
    assert_non_null(f);
    char line[2048];
    struct hk_ct_entry e;
    int n = 0, tcp = 0;
    while (fgets(line, sizeof(line), f)) {
        size_t len = strcspn(line, "\n");
        int r = hk_ct_parse_line(line, len, &e);
        assert_true(r == 0 || r == 1);
        tcp += r == 0;
        if (++n == 1) { /* 10.77.0.1:57128 → VIP 10.96.0.10:80, DNATed to 10.77.0.1:8080 */
            assert_int_equal(r, 0);
            assert_addr(e.src, "10.77.0.1");
            assert_addr(e.dst, "10.96.0.10");
            assert_int_equal(e.sport, 57128);
            assert_int_equal(e.dport, 80);
            assert_addr(e.rsrc, "10.77.0.1");
            assert_int_equal(e.rsport, 8080);
        } else if (n == 2 || n == 5) { /* udp, icmp */
            assert_int_equal(r, 1);
        } else if (n == 4) { /* v6 in the kernel's full form */
            assert_addr(e.src, "fd00:77::1");
            assert_addr(e.dst, "fd00:96::a");
            assert_int_equal(e.dport, 443);
            assert_addr(e.rsrc, "fd00:77::1");
            assert_int_equal(e.rsport, 8443);
        } else if (n == 7) { /* packets=/bytes= between the tuples' fields */
            assert_addr(e.rsrc, "192.168.1.10");
            assert_int_equal(e.rsport, 6443);
            assert_int_equal(e.sport, 51234);
        }
    }
    fclose(f);
    assert_int_equal(n, 8);
    assert_int_equal(tcp, 6);

    /* Hostile and broken lines: rejected, never read past len (ASan). */
    static const char *const bad[] = {
        "",
        "ipv4",
        "ipv5     2 tcp      6 1 ESTABLISHED src=1.2.3.4 dst=1.2.3.5 sport=1 dport=2 src=1.2.3.5 "
        "dst=1.2.3.4 sport=2 dport=1",
        "ipv4     2 tcp      17 1 ESTABLISHED src=1.2.3.4 dst=1.2.3.5 sport=1 dport=2 "
        "src=1.2.3.5 dst=1.2.3.4 sport=2 dport=1",
        "ipv4     2 tcp      6 x ESTABLISHED src=1.2.3.4 dst=1.2.3.5 sport=1 dport=2 src=1.2.3.5 "
        "dst=1.2.3.4 sport=2 dport=1",
        "ipv4     2 tcp      6 1 ESTABLISHED src=1.2.3.4 dst=1.2.3.5 sport=1 dport=2",
        "ipv4     2 tcp      6 1 ESTABLISHED src=1.2.3.4 dst=1.2.3.5 sport=70000 dport=2 "
        "src=1.2.3.5 dst=1.2.3.4 sport=2 dport=1",
        "ipv4     2 tcp      6 1 ESTABLISHED src=1.2.3.4 dst=1.2.3.5 sport=-1 dport=2 "
        "src=1.2.3.5 dst=1.2.3.4 sport=2 dport=1",
        "ipv4     2 tcp      6 1 ESTABLISHED src=1.2.3.4 dst=fd00::1 sport=1 dport=2 src=1.2.3.5 "
        "dst=1.2.3.4 sport=2 dport=1",
        "ipv6     10 tcp      6 1 ESTABLISHED src=1.2.3.4 dst=1.2.3.5 sport=1 dport=2 "
        "src=1.2.3.5 dst=1.2.3.4 sport=2 dport=1",
        "ipv4     2 tcp      6 1 ESTABLISHED src=1.2.3.4 dst=1.2.3.5 sport=1 dport=2 src=1.2.3.5 "
        "dst=1.2.3.4 sport=2 dport=1 src=9.9.9.9",
        "ipv4     2 tcp      6 1 ESTABLISHED src=1.2.3.4 dst=1.2.3.5 sport=1 dport=2 src= "
        "dst=1.2.3.4 sport=2 dport=1",
        "ipv4     2 tcp      6 1 ESTABLISHED src=1.2.3.4\x01 dst=1.2.3.5 sport=1 dport=2 "
        "src=1.2.3.5 dst=1.2.3.4 sport=2 dport=1",
        "ipv4     2 tcp      6 1 ESTABLISHED src=1.2.3.4\xc3\xa9 dst=1.2.3.5 sport=1 dport=2 "
        "src=1.2.3.5 dst=1.2.3.4 sport=2 dport=1",
        "ipv4     2 tcp      6 1 ESTABLISHED src=1.2.3.4 dst=1.2.3.5 sport=99999999999 dport=2 "
        "src=1.2.3.5 dst=1.2.3.4 sport=2 dport=1",
        "ipv4     2 tcp      6 1 ESTABLISHED src=1111:2222:3333:4444:5555:6666:7777:8888:9999 "
        "dst=1.2.3.5 sport=1 dport=2 src=1.2.3.5 dst=1.2.3.4 sport=2 dport=1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = strlen(bad[i]);
        char *copy = malloc(len ? len : 1); /* exactly len bytes, no terminator */
        memcpy(copy, bad[i], len);
        if (hk_ct_parse_line(copy, len, &e) >= 0)
            fail_msg("accepted bad line %zu: %s", i, bad[i]);
        free(copy);
    }
    /* Over HK_CT_LINE_MAX: rejected however well formed it looks. */
    char big[HK_CT_LINE_MAX + 64];
    int k = snprintf(big, sizeof(big),
                     "ipv4 2 tcp 6 1 ESTABLISHED src=1.2.3.4 dst=1.2.3.5 sport=1 dport=2 "
                     "src=1.2.3.5 dst=1.2.3.4 sport=2 dport=1 ");
    memset(big + k, 'x', sizeof(big) - (size_t)k);
    assert_true(hk_ct_parse_line(big, sizeof(big), &e) < 0);
    /* The first line cut at every byte: malformed until the reply's dport is there. */
    const char *full = "ipv4     2 tcp      6 431998 ESTABLISHED src=10.77.0.1 dst=10.96.0.10 "
                       "sport=57128 dport=80 src=10.77.0.1 dst=10.77.0.1 sport=8080 "
                       "dport=57128 [ASSURED] mark=0 zone=0 use=2";
    size_t need = (size_t)(strstr(full, "dport=57128") - full) + strlen("dport=5");
    for (size_t cut = 0; cut <= strlen(full); cut++) {
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, full, cut);
        int r = hk_ct_parse_line(copy, cut, &e);
        if (cut < need)
            assert_true(r < 0);
        else
            assert_int_equal(r, 0);
        free(copy);
    }
}

static struct hk_topo_kentry kent_tuple(uint64_t cgid, const char *saddr, uint16_t sport,
                                        const char *daddr, uint16_t dport)
{
    struct hk_topo_kentry e;
    memset(&e, 0, sizeof(e));
    e.cgid = cgid;
    addr_of(daddr, e.addr);
    e.port = dport;
    addr_of(saddr, e.sample_saddr);
    e.sample_sport = sport;
    e.v[HK_TOPO_CONN] = 2;
    return e;
}

/* A lookup that cannot use ctnetlink, on the fixture table (as after EPERM). */
static struct hk_ct_lookup *ct_on(const char *path)
{
    struct hk_ct_lookup *ct = calloc(1, sizeof(*ct));
    assert_non_null(ct);
    ct->fd = -1;
    ct->broken = true;
    ct->proc_path = path;
    return ct;
}

/* A topology resolving through ct (with its per-cycle batch scan), in its first cycle. */
static struct hk_topo *ct_topo(struct hk_ct_lookup *ct)
{
    struct hk_topo *t = hk_topo_new(64, 60000, hk_ct_resolve, ct);
    assert_non_null(t);
    hk_topo_set_batch(t, hk_ct_batch);
    hk_topo_begin(t, 1000);
    return t;
}

static char *ct_render(const struct hk_ct_lookup *ct)
{
    struct hk_builder *b = begin_ebpf();
    assert_int_equal(hk_ct_emit(ct, b), 0);
    return seal_text(b);
}

/* Deferred lookups answered by one scan per cycle, in the same cycle; none without new edges. */
static void test_ct_scan(void **st)
{
    (void)st;
    struct hk_ct_lookup *ct = ct_on(CT_TABLE);
    struct hk_topo *t = ct_topo(ct);
    struct hk_topo_kentry v4 = kent_tuple(1, "10.77.0.1", 57128, "10.96.0.10", 80);
    struct hk_topo_kentry v6 = kent_tuple(1, "fd00:77::1", 58986, "fd00:96::a", 443);
    struct hk_topo_kentry direct = kent_tuple(1, "10.77.0.1", 46484, "10.77.0.1", 9000);
    struct hk_topo_kentry absent = kent_tuple(3, "10.77.0.1", 1111, "10.96.0.10", 80);
    struct hk_topo_kentry tw = kent_tuple(2, "10.244.1.5", 51300, "10.96.0.12", 8080);
    assert_int_equal(hk_topo_add(t, &v4, base_a, false), 0);
    assert_int_equal(hk_topo_add(t, &v6, base_a, false), 0);
    assert_int_equal(hk_topo_add(t, &direct, base_a, false), 0);
    assert_int_equal(hk_topo_add(t, &absent, base_a, false), 0);
    assert_int_equal(hk_topo_add(t, &tw, base_b, false), 0);
    assert_int_equal(ct->scans[HK_CT_SCAN_COMPLETE], 0); /* deferred to the end of the cycle */
    hk_topo_end(t, NULL, NULL);
    assert_int_equal(ct->scans[HK_CT_SCAN_COMPLETE], 1);
    assert_int_equal(ct->malformed, 0);
    char *txt = render(t);
    assert_true(peer_conns(txt, "peer_ip=\"10.77.0.1\"",
                           "peer_resolved=\"conntrack\",pod=\"pod-a\",port=\"8080\"") == 2);
    assert_true(peer_conns(txt, "peer_ip=\"fd00:77::1\"",
                           "peer_resolved=\"conntrack\",pod=\"pod-a\",port=\"8443\"") == 2);
    assert_true(peer_conns(txt, "port=\"9000\"", "peer_resolved=\"none\"") == 2);
    assert_true(peer_conns(txt, "peer_ip=\"10.96.0.10\"",
                           "peer_resolved=\"none\",pod=\"pod-a\",port=\"80\"") ==
                2); /* not in the table: the VIP */
    assert_true(
        peer_conns(txt, "peer_ip=\"10.244.2.9\",peer_resolved=\"conntrack\"", "/pod-b/web") == 2);
    assert_null(strstr(txt, "fd00:96::a"));
    free(txt);
    /* Known edges: no lookup, no scan. */
    hk_topo_begin(t, 2000);
    v4.v[HK_TOPO_CONN] = 5;
    assert_int_equal(hk_topo_add(t, &v4, base_a, false), 0);
    hk_topo_end(t, NULL, NULL);
    assert_int_equal(ct->scans[HK_CT_SCAN_COMPLETE], 1);
    txt = render(t);
    assert_true(peer_conns(txt, "peer_resolved=\"conntrack\"", "pod-a\",port=\"8080\"") == 5);
    free(txt);
    txt = ct_render(ct);
    assert_true(
        value_of(txt, "hakari_topology_conntrack_scans_total", "result=\"complete\"", NULL) == 1);
    assert_true(
        value_of(txt, "hakari_topology_conntrack_scans_total", "result=\"truncated\"", NULL) == 0);
    free(txt);
    hk_topo_free(t);

    /* The bound: line 4 (the v6 entry) is past max_lines 3: truncated, counted, not resolved. */
    struct hk_ct_lookup *c2 = ct_on(CT_TABLE);
    c2->max_lines = 3;
    t = ct_topo(c2);
    assert_int_equal(hk_topo_add(t, &v6, base_a, false), 0);
    hk_topo_end(t, NULL, NULL);
    assert_int_equal(c2->scans[HK_CT_SCAN_TRUNCATED], 1);
    txt = render(t);
    assert_true(peer_conns(txt, "peer_ip=\"fd00:96::a\"", "peer_resolved=\"none\"") == 2);
    free(txt);
    /* The same by bytes: only the first two lines fit. */
    c2->max_lines = 0;
    c2->max_bytes = 400;
    hk_topo_begin(t, 2000);
    assert_int_equal(hk_topo_add(t, &direct, base_a, false), 0);
    hk_topo_end(t, NULL, NULL);
    assert_int_equal(c2->scans[HK_CT_SCAN_TRUNCATED], 2);
    /* Stops as soon as every lookup is answered: the first line, within any bound. */
    c2->max_bytes = 200;
    hk_topo_begin(t, 3000);
    assert_int_equal(hk_topo_add(t, &v4, base_a, false), 0);
    hk_topo_end(t, NULL, NULL);
    assert_int_equal(c2->scans[HK_CT_SCAN_COMPLETE], 1);
    hk_topo_free(t);
    /* A deferred entry over the cap goes to "other" and its kernel entry is deleted. */
    struct hk_ct_lookup *c4 = ct_on(CT_TABLE);
    t = hk_topo_new(1, 60000, hk_ct_resolve, c4);
    hk_topo_set_batch(t, hk_ct_batch);
    hk_topo_begin(t, 1000);
    struct hk_topo_kentry srv = kent(1, "10.0.0.9", 9090, 1, 1); /* server: no lookup */
    assert_int_equal(hk_topo_add(t, &srv, base_a, false), 0);
    assert_int_equal(hk_topo_add(t, &v6, base_a, false), 0);
    struct dels d = {0};
    hk_topo_end(t, on_del, &d);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.ports[0], 443);
    assert_int_equal(hk_topo_dropped(t), 1);
    hk_topo_free(t);
    free(c4);
    /* No table (no CONFIG_NF_CONNTRACK_PROCFS, no permission): failed, peer as the socket saw. */
    struct hk_ct_lookup *c3 = ct_on("/nonexistent/nf_conntrack");
    v4.v[HK_TOPO_CONN] = 2;
    t = ct_topo(c3);
    assert_int_equal(hk_topo_add(t, &v4, base_a, false), 0);
    hk_topo_end(t, NULL, NULL);
    assert_int_equal(c3->scans[HK_CT_SCAN_FAILED], 1);
    txt = render(t);
    assert_true(peer_conns(txt, "peer_ip=\"10.96.0.10\"", "peer_resolved=\"none\"") == 2);
    free(txt);
    hk_topo_free(t);
    free(ct);
    free(c2);
    free(c3);
}

/* A hostile table: garbage, an over-long line, binary, a line cut short at the end. The good
 * lines are still found, the bad ones counted. */
static void test_ct_scan_hostile(void **st)
{
    (void)st;
    char path[] = "/tmp/hk-ct-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fprintf(f, "garbage\n\n");
    fprintf(f, "ipv4 2 tcp 6 1 ESTABLISHED src=10.0.0.1 dst=10.96.0.1 sport=1000 dport=80 ");
    for (int i = 0; i < 200000; i++) /* over-long, across the scan's 64 KiB reads */
        fputc('z', f);
    fprintf(f, " src=10.0.0.66 dst=10.0.0.1 sport=6666 dport=1000\n");
    static const char binary[] = "\0\xff\x01 src=dst=\n";
    fwrite(binary, 1, sizeof(binary) - 1, f);
    fprintf(f, "ipv4 2 tcp 6 1 ESTABLISHED src=10.0.0.1 dst=10.96.0.1 sport=2000 dport=80 "
               "src=10.0.0.7 dst=10.0.0.1 sport=8080 dport=2000 [ASSURED] use=1\n");
    fprintf(f, "ipv4 2 tcp 6 1 ESTABLISHED src=10.0.0.1 dst=10.96.0.1 sport=3000 dport=80 "
               "src=10.0.0.8 dst=10.0.0.1 sport=80");
    fclose(f);
    struct hk_ct_lookup *ct = ct_on(path);
    struct hk_topo *t = ct_topo(ct);
    struct hk_topo_kentry a = kent_tuple(1, "10.0.0.1", 1000, "10.96.0.1", 80);
    struct hk_topo_kentry b = kent_tuple(2, "10.0.0.1", 2000, "10.96.0.1", 80);
    struct hk_topo_kentry c = kent_tuple(3, "10.0.0.1", 3000, "10.96.0.1", 80);
    assert_int_equal(hk_topo_add(t, &a, base_a, false), 0);
    assert_int_equal(hk_topo_add(t, &b, base_a, false), 0);
    assert_int_equal(hk_topo_add(t, &c, base_a, false), 0);
    hk_topo_end(t, NULL, NULL);
    unlink(path);
    assert_int_equal(ct->scans[HK_CT_SCAN_COMPLETE], 1);
    assert_int_equal(ct->malformed, 5); /* garbage, empty, over-long, binary, cut short */
    char *txt = render(t);
    assert_true(peer_conns(txt, "peer_ip=\"10.0.0.7\"", "peer_resolved=\"conntrack\"") == 2);
    assert_true(peer_conns(txt, "peer_ip=\"10.96.0.1\"", "peer_resolved=\"none\"") == 4);
    assert_null(strstr(txt, "10.0.0.66"));
    assert_null(strstr(txt, "10.0.0.8\""));
    free(txt);
    txt = ct_render(ct);
    assert_non_null(strstr(txt, "\nhakari_topology_conntrack_malformed_lines_total 5\n"));
    free(txt);
    hk_topo_free(t);
    free(ct);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deltas_are_monotonic),
        cmocka_unit_test(test_cap_and_other),
        cmocka_unit_test(test_aging),
        cmocka_unit_test(test_conntrack_resolution),
        cmocka_unit_test(test_addr_text),
        cmocka_unit_test(test_ct_parse),
        cmocka_unit_test(test_ct_parse_line),
        cmocka_unit_test(test_ct_scan),
        cmocka_unit_test(test_ct_scan_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
