/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the procfs parsers of the vmstat, netstat, sockstat, softnet, filefd, conntrack
 * and entropy collectors (collector/node_parsers.h, nodeproc block) and of the field filter's
 * memo (collector/node_filter.h). Real files: node_exporter's own fixtures
 * (tests/fixtures/node-upstream), with the values its e2e-output.txt gives for them; then empty,
 * truncated, huge, non-numeric and misshapen inputs, and every truncation of every fixture. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit_files.h"
#define read_fixture hk_test_read_fixture

#include "collector/node_filter.h"
#include "collector/node_parsers.h"
#include "core/collector.h"
#include "core/fsread.h"
#include "core/snapshot.h"
#include "core/yaml.h"

#define FIXTURE "tests/fixtures/node-upstream/proc/"


#define S(lit) (lit), (sizeof(lit) - 1)

/* A name=value list collected from a parser, looked up by name. */
struct kv {
    unsigned n;
    char name[512][80];
    double value[512];
};

static void kv_add(struct kv *kv, const char *a, size_t al, const char *b, size_t bl, double v)
{
    if (kv->n >= 512 || al + bl + 2 > sizeof(kv->name[0]))
        return;
    char *p = kv->name[kv->n];
    memcpy(p, a, al);
    p[al] = bl ? '_' : '\0';
    if (bl) {
        memcpy(p + al + 1, b, bl);
        p[al + 1 + bl] = '\0';
    }
    kv->value[kv->n++] = v;
}

static double kv_get(const struct kv *kv, const char *name)
{
    for (unsigned i = 0; i < kv->n; i++)
        if (strcmp(kv->name[i], name) == 0)
            return kv->value[i];
    fail_msg("no field %s", name);
    return -1;
}

static bool kv_has(const struct kv *kv, const char *name)
{
    for (unsigned i = 0; i < kv->n; i++)
        if (strcmp(kv->name[i], name) == 0)
            return true;
    return false;
}

/* ---- vmstat ---- */

static int vm_fn(const char *key, size_t kl, double v, void *ud)
{
    kv_add(ud, key, kl, "", 0, v);
    return 0;
}

static void test_vmstat_fixture(void **state)
{
    size_t len;
    char *buf = read_fixture(FIXTURE "vmstat", &len);
    struct kv *kv = calloc(1, sizeof(*kv));
    assert_int_equal(hk_vmstat_parse(buf, len, vm_fn, kv), 0);
    /* e2e-output.txt: node_vmstat_* */
    assert_true(kv_get(kv, "oom_kill") == 0);
    assert_true(kv_get(kv, "pgfault") == 2320168809.0);
    assert_true(kv_get(kv, "pgmajfault") == 507162);
    assert_true(kv_get(kv, "pgpgin") == 7344136);
    assert_true(kv_get(kv, "pgpgout") == 1541180581.0);
    assert_true(kv_get(kv, "pswpin") == 1476);
    assert_true(kv_get(kv, "pswpout") == 35045);
    assert_true(kv->n > 100);
    free(kv);
    free(buf);
}

static void test_vmstat_bad(void **state)
{
    struct kv *kv = calloc(1, sizeof(*kv));
    assert_int_equal(hk_vmstat_parse(S("nr_free_pages 1\n\npgfault -3\n"), vm_fn, kv), 0);
    assert_true(kv_get(kv, "pgfault") == -3); /* %ld fields may be negative */
    assert_int_equal(hk_vmstat_parse(S(""), NULL, NULL), -EINVAL);
    assert_int_equal(hk_vmstat_parse(S("\n\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_vmstat_parse(S("nr_free_pages 1\npgfa"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_vmstat_parse(S("pgfault 12x\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_vmstat_parse(S("pgfault 1.5\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_vmstat_parse(S("pgfault 1 2\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_vmstat_parse(S("pg-fault 1\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_vmstat_parse(S("pgfault 99999999999999999999\n"), NULL, NULL), -ERANGE);
    char longkey[200];
    memset(longkey, 'a', sizeof(longkey));
    memcpy(longkey + 150, " 1\n", 3);
    assert_int_equal(hk_vmstat_parse(longkey, 153, NULL, NULL), -EINVAL);
    free(kv);
}

/* ---- netstat / snmp / snmp6 ---- */

static int ns_fn(const char *proto, size_t pl, const char *field, size_t fl, double v, void *ud)
{
    kv_add(ud, proto, pl, field, fl, v);
    return 0;
}

static void test_netstat_fixture(void **state)
{
    static const char *const files[] = {FIXTURE "net/netstat", FIXTURE "net/snmp",
                                        FIXTURE "net/snmp6"};
    struct kv *kv = calloc(1, sizeof(*kv));
    for (int i = 0; i < 3; i++) {
        size_t len;
        char *buf = read_fixture(files[i], &len);
        int r =
            i == 2 ? hk_snmp6_parse(buf, len, ns_fn, kv) : hk_netstat_parse(buf, len, ns_fn, kv);
        assert_int_equal(r, 0);
        free(buf);
    }
    /* e2e-output.txt: node_netstat_* */
    assert_true(kv_get(kv, "Tcp_RetransSegs") == 227);
    assert_true(kv_get(kv, "Tcp_OutSegs") == 54915039);
    assert_true(kv_get(kv, "Tcp_CurrEstab") == 0);
    assert_true(kv_get(kv, "TcpExt_ListenDrops") == 0);
    assert_true(kv_get(kv, "TcpExt_SyncookiesFailed") == 2);
    assert_true(kv_get(kv, "Ip6_InOctets") == 460);
    assert_true(kv_get(kv, "Icmp6_OutMsgs") == 8);
    assert_true(kv_get(kv, "Ip_Forwarding") == 1);
    assert_true(kv_get(kv, "UdpLite6_InErrors") == 0);
    assert_true(kv_get(kv, "IpExt_InOctets") == 6286396970.0);
    assert_true(kv_get(kv, "Tcp_MaxConn") == -1); /* printed with %ld */
    free(kv);
}

static void test_netstat_bad(void **state)
{
    struct kv *kv = calloc(1, sizeof(*kv));
    assert_int_equal(hk_netstat_parse(S("Tcp: A B\nTcp: 1 2\n\nUdp: C\nUdp: 3"), ns_fn, kv), 0);
    assert_true(kv_get(kv, "Udp_C") == 3);
    assert_int_equal(hk_netstat_parse(S(""), NULL, NULL), -EINVAL);
    assert_int_equal(hk_netstat_parse(S("Tcp: A B\n"), NULL, NULL), -EINVAL); /* truncated */
    assert_int_equal(hk_netstat_parse(S("Tcp: A B\nTcp: 1\n"), NULL, NULL), -EINVAL); /* count */
    assert_int_equal(hk_netstat_parse(S("Tcp: A\nTcp: 1 2\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_netstat_parse(S("Tcp: A\nUdp: 1\n"), NULL, NULL), -EINVAL); /* proto */
    assert_int_equal(hk_netstat_parse(S("Tcp A\nTcp 1\n"), NULL, NULL), -EINVAL);   /* no ':' */
    assert_int_equal(hk_netstat_parse(S("Tcp: A\nTcp: x\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_netstat_parse(S("Tcp: A-B\nTcp: 1\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_netstat_parse(S("Tcp: A\nTcp: 123456789012345678901234\n"), NULL, NULL),
                     -ERANGE);
    kv->n = 0;
    assert_int_equal(
        hk_snmp6_parse(S("Ip6InOctets 5\nFooBar 1\n\nUdpLite6InErrors 2\n"), ns_fn, kv), 0);
    assert_int_equal(kv->n, 2); /* FooBar: no protocol, skipped as node_exporter does */
    assert_true(kv_get(kv, "Ip6_InOctets") == 5);
    assert_true(kv_get(kv, "UdpLite6_InErrors") == 2);
    assert_false(kv_has(kv, "FooBar"));
    assert_int_equal(hk_snmp6_parse(S(""), NULL, NULL), -EINVAL);
    assert_int_equal(hk_snmp6_parse(S("Ip6InOctets\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_snmp6_parse(S("Ip6InOctets 1 2\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_snmp6_parse(S("Ip6InOctets abc\n"), NULL, NULL), -EINVAL);
    free(kv);
}

/* ---- sockstat ---- */

static int ss_fn(const char *proto, size_t pl, const char *key, size_t kl, int64_t v, void *ud)
{
    kv_add(ud, proto, pl, key, kl, (double)v);
    return 0;
}

static void test_sockstat(void **state)
{
    struct kv *kv = calloc(1, sizeof(*kv));
    size_t len;
    char *buf = read_fixture(FIXTURE "net/sockstat", &len);
    assert_int_equal(hk_sockstat_parse(buf, len, ss_fn, kv), 0);
    free(buf);
    buf = read_fixture(FIXTURE "net/sockstat6", &len);
    assert_int_equal(hk_sockstat_parse(buf, len, ss_fn, kv), 0);
    free(buf);
    /* e2e-output.txt: node_sockstat_* */
    assert_true(kv_get(kv, "sockets_used") == 229);
    assert_true(kv_get(kv, "TCP_inuse") == 4);
    assert_true(kv_get(kv, "TCP_tw") == 4);
    assert_true(kv_get(kv, "TCP_alloc") == 17);
    assert_true(kv_get(kv, "TCP_mem") == 1);
    assert_true(kv_get(kv, "TCP6_inuse") == 17);
    assert_true(kv_get(kv, "UDP6_inuse") == 9);
    assert_true(kv_get(kv, "RAW6_inuse") == 1);
    assert_true(kv_get(kv, "FRAG6_memory") == 0);

    assert_int_equal(hk_sockstat_parse(S(""), NULL, NULL), -EINVAL);
    assert_int_equal(hk_sockstat_parse(S("TCP: inuse\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_sockstat_parse(S("TCP: inuse 4 orph"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_sockstat_parse(S("TCP inuse 4\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_sockstat_parse(S("TCP:\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_sockstat_parse(S("TCP: inuse four\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_sockstat_parse(S("TCP: inuse 99999999999999999999\n"), NULL, NULL),
                     -ERANGE);
    free(kv);
}

/* ---- softnet ---- */

struct softnets {
    unsigned n;
    struct hk_softnet s[8];
};

static int sn_fn(const struct hk_softnet *s, void *ud)
{
    struct softnets *sn = ud;
    if (sn->n < 8)
        sn->s[sn->n] = *s;
    sn->n++;
    return 0;
}

static void test_softnet(void **state)
{
    struct softnets sn = {0};
    size_t len;
    char *buf = read_fixture(FIXTURE "net/softnet_stat", &len);
    assert_int_equal(hk_softnet_parse(buf, len, sn_fn, &sn), 0);
    free(buf);
    /* e2e-output.txt: node_softnet_*{cpu="0".."3"} */
    assert_int_equal(sn.n, 4);
    assert_int_equal(sn.s[1].cpu, 1);
    assert_int_equal(sn.s[1].processed, 916354);
    assert_int_equal(sn.s[1].dropped, 41);
    assert_int_equal(sn.s[2].processed, 5577791);
    assert_int_equal(sn.s[2].time_squeezed, 85);
    assert_int_equal(sn.s[3].time_squeezed, 50);
    assert_int_equal(sn.s[3].backlog_len, 0);

    /* 5.10+: column 12 is the backlog, 13 the CPU (offline CPUs leave gaps); 6.x has 15 */
    sn.n = 0;
    assert_int_equal(hk_softnet_parse(S("00000010 00000001 00000002 0 0 0 0 0 00000003 00000004 "
                                        "00000005 00000006 0000000c 00000007 00000008\n"),
                                      sn_fn, &sn),
                     0);
    assert_int_equal(sn.n, 1);
    assert_int_equal(sn.s[0].cpu, 12);
    assert_int_equal(sn.s[0].processed, 16);
    assert_int_equal(sn.s[0].cpu_collision, 3);
    assert_int_equal(sn.s[0].received_rps, 4);
    assert_int_equal(sn.s[0].flow_limit_count, 5);
    assert_int_equal(sn.s[0].backlog_len, 6);
    /* 2.6.23: 9 columns */
    sn.n = 0;
    assert_int_equal(hk_softnet_parse(S("1 2 3 4 5 6 7 8 9\n\n1 2 3 4 5 6 7 8 a\n"), sn_fn, &sn),
                     0);
    assert_int_equal(sn.n, 2);
    assert_int_equal(sn.s[1].cpu, 1);
    assert_int_equal(sn.s[1].cpu_collision, 10);
    assert_int_equal(sn.s[1].received_rps, 0);

    assert_int_equal(hk_softnet_parse(S(""), NULL, NULL), -EINVAL);
    assert_int_equal(hk_softnet_parse(S("1 2 3 4 5 6 7 8\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_softnet_parse(S("1 2 3 4 5 6 7 8 9\n1 2 3"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_softnet_parse(S("1 2 3 4 5 6 7 8 g\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_softnet_parse(S("1 2 3 4 5 6 7 8 123456789\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_softnet_parse(S("1 2 3 4 5 6 7 8 -9\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_softnet_parse(S("1 2 3 4 5 6 7 8 9 1 2 3 4 5 6 7 8 9 1 2 3 4 5 6 7 8 9 1 "
                                        "2 3 4 5 6\n"),
                                      NULL, NULL),
                     -EINVAL); /* 33 columns */
}

/* ---- filefd, single-value files ---- */

static void test_filefd_and_uint(void **state)
{
    uint64_t a = 0, m = 0, v = 0;
    size_t len;
    char *buf = read_fixture(FIXTURE "sys/fs/file-nr", &len);
    assert_int_equal(hk_filefd_parse(buf, len, &a, &m), 0);
    free(buf);
    assert_int_equal(a, 1024); /* e2e-output.txt: node_filefd_* */
    assert_int_equal(m, 1631329);
    assert_int_equal(hk_filefd_parse(S(""), &a, &m), -EINVAL);
    assert_int_equal(hk_filefd_parse(S("1024\t0"), &a, &m), -EINVAL);
    assert_int_equal(hk_filefd_parse(S("1024\t0\t5\t6\n"), &a, &m), -EINVAL);
    assert_int_equal(hk_filefd_parse(S("1024\t0\t5\n7\n"), &a, &m), -EINVAL);
    assert_int_equal(hk_filefd_parse(S("1024\tx\t5\n"), &a, &m), -EINVAL);
    assert_int_equal(hk_filefd_parse(S("1\t0\t999999999999999999999\n"), &a, &m), -ERANGE);

    buf = read_fixture(FIXTURE "sys/kernel/random/entropy_avail", &len);
    assert_int_equal(hk_uint_file_parse(buf, len, &v), 0);
    free(buf);
    assert_int_equal(v, 1337);
    buf = read_fixture(FIXTURE "sys/net/netfilter/nf_conntrack_max", &len);
    assert_int_equal(hk_uint_file_parse(buf, len, &v), 0);
    free(buf);
    assert_int_equal(v, 65536);
    assert_int_equal(hk_uint_file_parse(S("4096"), &v), 0); /* no newline: still whole */
    assert_int_equal(hk_uint_file_parse(S(""), &v), -EINVAL);
    assert_int_equal(hk_uint_file_parse(S("\n"), &v), -EINVAL);
    assert_int_equal(hk_uint_file_parse(S("12 13\n"), &v), -EINVAL);
    assert_int_equal(hk_uint_file_parse(S("12\n13\n"), &v), -EINVAL);
    assert_int_equal(hk_uint_file_parse(S("-1\n"), &v), -EINVAL);
    assert_int_equal(hk_uint_file_parse(S("0x10\n"), &v), -EINVAL);
    assert_int_equal(hk_uint_file_parse(S("18446744073709551616\n"), &v), -ERANGE);
}

/* ---- conntrack stat ---- */

static void test_conntrack_stat(void **state)
{
    struct hk_conntrack_stat st;
    size_t len;
    char *buf = read_fixture(FIXTURE "net/stat/nf_conntrack", &len);
    assert_int_equal(hk_conntrack_stat_parse(buf, len, &st), 0);
    free(buf);
    /* e2e-output.txt: node_nf_conntrack_stat_* */
    assert_int_equal(st.cpus, 4);
    assert_int_equal(st.ignore, 89738);
    assert_int_equal(st.invalid, 53);
    assert_int_equal(st.search_restart, 7);
    assert_int_equal(st.found, 0);
    assert_int_equal(st.drop, 0);

    /* before 2.6.35: no search_restart column */
    static const char old[] = "entries searched found new invalid ignore delete delete_list "
                              "insert insert_failed drop early_drop icmp_error expect_new "
                              "expect_create expect_delete\n"
                              "1 2 3 4 5 6 7 8 9 a b c d e f 10\n";
    assert_int_equal(hk_conntrack_stat_parse(S(old), &st), 0);
    assert_int_equal(st.found, 3);
    assert_int_equal(st.insert_failed, 10);
    assert_int_equal(st.early_drop, 12);
    assert_int_equal(st.search_restart, 0);
    /* 6.x renames columns (clashres, chaintoolong): found by name, not position */
    static const char renamed[] = "entries clashres found new invalid ignore delete chaintoolong "
                                  "insert insert_failed drop early_drop icmp_error expect_new "
                                  "expect_create expect_delete search_restart\n"
                                  "0 5 1 0 2 3 0 9 4 5 6 7 0 0 0 0 8\n"
                                  "0 5 1 0 2 3 0 9 4 5 6 7 0 0 0 0 8\n";
    assert_int_equal(hk_conntrack_stat_parse(S(renamed), &st), 0);
    assert_int_equal(st.cpus, 2);
    assert_int_equal(st.found, 2);
    assert_int_equal(st.search_restart, 16);

    assert_int_equal(hk_conntrack_stat_parse(S(""), &st), -EINVAL);
    assert_int_equal(hk_conntrack_stat_parse(S("entries found\n"), &st), -EINVAL); /* names */
    char hdr[] = "found invalid ignore insert insert_failed drop early_drop search_restart\n";
    char buf2[512];
    snprintf(buf2, sizeof(buf2), "%s", hdr);
    assert_int_equal(hk_conntrack_stat_parse(buf2, strlen(buf2), &st), -EINVAL); /* no CPU */
    snprintf(buf2, sizeof(buf2), "%s1 2 3 4 5 6 7\n", hdr);
    assert_int_equal(hk_conntrack_stat_parse(buf2, strlen(buf2), &st), -EINVAL); /* short row */
    snprintf(buf2, sizeof(buf2), "%s1 2 3 4 5 6 7 8 9\n", hdr);
    assert_int_equal(hk_conntrack_stat_parse(buf2, strlen(buf2), &st), -EINVAL); /* long row */
    snprintf(buf2, sizeof(buf2), "%s1 2 3 4 5 6 7 zz\n", hdr);
    assert_int_equal(hk_conntrack_stat_parse(buf2, strlen(buf2), &st), -EINVAL);
    snprintf(buf2, sizeof(buf2), "%sffffffffffffffff 1 1 1 1 1 1 1\n1 1 1 1 1 1 1 1\n", hdr);
    assert_int_equal(hk_conntrack_stat_parse(buf2, strlen(buf2), &st), -ERANGE); /* sum wraps */
    snprintf(buf2, sizeof(buf2), "%s10000000000000000 1 1 1 1 1 1 1\n", hdr);
    assert_int_equal(hk_conntrack_stat_parse(buf2, strlen(buf2), &st), -EINVAL); /* 17 digits */
}

/* ---- callbacks stop the parse ---- */

static int stop_vm(const char *k, size_t kl, double v, void *ud)
{
    (void)k, (void)kl, (void)v;
    return ++*(int *)ud == 2 ? -ECANCELED : 0;
}

static int stop_ns(const char *p, size_t pl, const char *f, size_t fl, double v, void *ud)
{
    (void)p, (void)pl, (void)f, (void)fl, (void)v;
    return ++*(int *)ud == 2 ? -ECANCELED : 0;
}

static void test_callback_error(void **state)
{
    int calls = 0;
    assert_int_equal(hk_vmstat_parse(S("a 1\nb 2\nc 3\n"), stop_vm, &calls), -ECANCELED);
    assert_int_equal(calls, 2);
    calls = 0;
    assert_int_equal(hk_netstat_parse(S("T: a b c\nT: 1 2 3\n"), stop_ns, &calls), -ECANCELED);
    assert_int_equal(calls, 2);
    calls = 0;
    assert_int_equal(hk_snmp6_parse(S("Ip6A 1\nIp6B 2\nIp6C 3\n"), stop_ns, &calls), -ECANCELED);
    assert_int_equal(calls, 2);
}

/* ---- the field filter's memo ---- */

static void test_field_filter(void **state)
{
    struct hk_error err = {{0}};
    struct hk_collector_env env = {NULL, NULL, NULL, &err};
    struct hk_node_field_filter *f = NULL;
    /* node_exporter's vmstat default */
    assert_int_equal(
        hk_node_field_filter_new(&env, "fields", "^(oom_kill|pgpg|pswp|pg.*fault).*", &f), 0);
    for (int round = 0; round < 3; round++) { /* memo filled, then hit */
        assert_true(hk_node_field_filter_match(f, 0, S("nr_free_pages")) == false);
        assert_true(hk_node_field_filter_match(f, 1, S("pgfault")));
        assert_true(hk_node_field_filter_match(f, 2, S("pgmajfault")));
        assert_true(hk_node_field_filter_match(f, 3, S("oom_kill")));
    }
    /* the file changed shape: a position holds another name */
    assert_true(hk_node_field_filter_match(f, 1, S("nr_dirty")) == false);
    assert_true(hk_node_field_filter_match(f, 0, S("pswpin")));
    assert_true(hk_node_field_filter_match(f, 1, S("pgfault"))); /* a prefix of nothing cached */
    assert_true(hk_node_field_filter_match(f, 1, S("pgfaul")) == false);
    /* beyond the memo, and a name longer than a slot: matched directly */
    assert_true(hk_node_field_filter_match(f, 100000, S("pgpgin")));
    char longname[100];
    memset(longname, 'x', sizeof(longname));
    memcpy(longname, "pgpg", 4);
    assert_true(hk_node_field_filter_match(f, 5, longname, sizeof(longname)));
    hk_node_field_filter_free(f);
    /* "" keeps every field */
    assert_int_equal(hk_node_field_filter_new(&env, "fields", "", &f), 0);
    assert_true(hk_node_field_filter_match(f, 0, S("anything")));
    hk_node_field_filter_free(f);
    hk_node_field_filter_free(NULL);
    /* a bad regex is refused */
    assert_int_equal(hk_node_field_filter_new(&env, "fields", "(", &f), -EINVAL);
}

/* ---- every truncation and a byte flip at each position of every fixture: no crash, no read
 * past the end (ASan), and a result of 0 or a negative errno ---- */

static void parse_all(const char *buf, size_t len, int which)
{
    uint64_t a, m;
    struct hk_conntrack_stat st;
    int r = 0;
    switch (which) {
    case 0:
        r = hk_vmstat_parse(buf, len, NULL, NULL);
        break;
    case 1:
        r = hk_netstat_parse(buf, len, NULL, NULL);
        break;
    case 2:
        r = hk_snmp6_parse(buf, len, NULL, NULL);
        break;
    case 3:
        r = hk_sockstat_parse(buf, len, NULL, NULL);
        break;
    case 4:
        r = hk_softnet_parse(buf, len, NULL, NULL);
        break;
    case 5:
        r = hk_filefd_parse(buf, len, &a, &m);
        break;
    case 6:
        r = hk_conntrack_stat_parse(buf, len, &st);
        break;
    case 7:
        r = hk_uint_file_parse(buf, len, &a);
        break;
    }
    assert_true(r == 0 || r == -EINVAL || r == -ERANGE);
}

static void test_mutations(void **state)
{
    static const struct {
        const char *path;
        int which;
    } files[] = {
        {FIXTURE "vmstat", 0},
        {FIXTURE "net/netstat", 1},
        {FIXTURE "net/snmp", 1},
        {FIXTURE "net/snmp6", 2},
        {FIXTURE "net/sockstat", 3},
        {FIXTURE "net/sockstat6", 3},
        {FIXTURE "net/softnet_stat", 4},
        {FIXTURE "sys/fs/file-nr", 5},
        {FIXTURE "net/stat/nf_conntrack", 6},
        {FIXTURE "sys/kernel/random/poolsize", 7},
    };
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        size_t len;
        char *orig = read_fixture(files[f].path, &len);
        assert_true(len > 0);
        parse_all(orig, len, files[f].which);
        for (size_t cut = 0; cut < len; cut++) {
            /* exactly cut bytes on the heap, so ASan sees any read past them */
            char *t = malloc(cut ? cut : 1);
            memcpy(t, orig, cut);
            parse_all(t, cut, files[f].which);
            free(t);
        }
        static const char flips[] = {'x', ' ', '\n', '-', '\0', ':'};
        char *t = malloc(len);
        for (size_t i = 0; i < len; i += (len > 4096 ? 7 : 1)) {
            for (size_t k = 0; k < sizeof(flips); k++) {
                memcpy(t, orig, len);
                t[i] = flips[k];
                parse_all(t, len, files[f].which);
            }
        }
        free(t);
        free(orig);
    }
}

/* ---- the collectors themselves: on node_exporter's fixture tree, options, kept-open files ---- */

struct inst {
    const struct hk_collector_ops *ops;
    void *state;
    struct hk_paths paths;
    struct hk_yaml_node *options;
};

static int inst_open(struct inst *in, const char *root, const char *name, const char *yaml)
{
    memset(in, 0, sizeof(*in));
    in->ops = hk_collector_find(name);
    assert_non_null(in->ops);
    assert_true(in->ops->default_enabled); /* node_exporter enables them all by default */
    assert_int_equal(hk_paths_open(&in->paths, root, NULL, NULL), 0);
    struct hk_error err = {{0}};
    if (yaml)
        assert_int_equal(hk_yaml_parse_string("test", yaml, strlen(yaml), &in->options, &err), 0);
    struct hk_collector_env env = {&in->paths, NULL, in->options, &err};
    int r = in->ops->check ? in->ops->check(&env) : 0;
    if (r == 0 && in->ops->init)
        r = in->ops->init(&in->state, &env);
    if (r < 0) {
        hk_paths_close(&in->paths);
        hk_yaml_free(in->options);
        in->ops = NULL;
    }
    return r;
}

static void inst_close(struct inst *in)
{
    if (in->ops->fini)
        in->ops->fini(in->state);
    hk_paths_close(&in->paths);
    hk_yaml_free(in->options);
}

/* One cycle: series emitted and soft errors. */
static struct hk_snapshot *cycle(struct inst *in, uint64_t *ret_soft)
{
    struct hk_limits limits = {0};
    struct hk_builder *b = hk_builder_new(&limits);
    assert_non_null(b);
    hk_builder_begin(b, in->ops->name);
    struct hk_collect_ctx ctx = {.b = b, .paths = &in->paths};
    assert_int_equal(in->ops->collect(in->state, &ctx), 0);
    hk_builder_commit(b);
    struct hk_snapshot *snap = hk_builder_seal(b, 0, NULL);
    assert_non_null(snap);
    assert_int_equal(snap->duplicates_dropped, 0);
    *ret_soft = ctx.soft_errors;
    return snap;
}

static double only_value(const struct hk_snapshot *snap, const char *family)
{
    const struct hk_family *f = hk_snapshot_find_family(snap, family);
    assert_non_null(f);
    assert_int_equal(f->count, 1);
    return snap->series[f->first].value;
}

#define UPSTREAM "tests/fixtures/node-upstream"

static void test_collectors_on_fixture(void **state)
{
    /* series counts: node_exporter's e2e-output.txt for the same tree */
    static const struct {
        const char *name;
        size_t series;
    } want[] = {{"vmstat", 7}, {"netstat", 41},   {"sockstat", 20}, {"softnet", 28},
                {"filefd", 2}, {"conntrack", 10}, {"entropy", 2}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        struct inst in;
        assert_int_equal(inst_open(&in, UPSTREAM, want[i].name, NULL), 0);
        for (int round = 0; round < 3; round++) { /* kept-open files and memo: same output */
            uint64_t soft = 99;
            struct hk_snapshot *snap = cycle(&in, &soft);
            assert_int_equal(soft, 0);
            if (snap->nseries != want[i].series)
                fail_msg("%s: %zu series, want %zu", want[i].name, snap->nseries, want[i].series);
            hk_snapshot_unref(snap);
        }
        inst_close(&in);
    }
    /* families and HELP/TYPE of a few, as e2e-output has them */
    struct inst in;
    uint64_t soft;
    assert_int_equal(inst_open(&in, UPSTREAM, "netstat", NULL), 0);
    struct hk_snapshot *snap = cycle(&in, &soft);
    const struct hk_family *f = hk_snapshot_find_family(snap, "node_netstat_Tcp_RetransSegs");
    assert_non_null(f);
    assert_string_equal(f->help, "Statistic TcpRetransSegs.");
    assert_int_equal(f->type, HK_METRIC_UNTYPED);
    assert_true(only_value(snap, "node_netstat_Tcp_RetransSegs") == 227);
    hk_snapshot_unref(snap);
    inst_close(&in);
    assert_int_equal(inst_open(&in, UPSTREAM, "sockstat", NULL), 0);
    snap = cycle(&in, &soft);
    f = hk_snapshot_find_family(snap, "node_sockstat_TCP_mem_bytes");
    assert_non_null(f);
    assert_string_equal(f->help, "Number of TCP sockets in state mem_bytes.");
    assert_true(only_value(snap, "node_sockstat_TCP_mem_bytes") == (double)sysconf(_SC_PAGESIZE));
    hk_snapshot_unref(snap);
    inst_close(&in);
}

static void test_collector_options(void **state)
{
    struct inst in;
    uint64_t soft;
    /* "" keeps every field */
    assert_int_equal(inst_open(&in, UPSTREAM, "vmstat", "fields: ''\n"), 0);
    struct hk_snapshot *snap = cycle(&in, &soft);
    assert_int_equal(snap->nseries, 120); /* every line of the fixture */
    assert_true(only_value(snap, "node_vmstat_nr_free_pages") == 977769);
    hk_snapshot_unref(snap);
    inst_close(&in);
    assert_int_equal(inst_open(&in, UPSTREAM, "netstat", "fields: '^Tcp_(RetransSegs|MaxConn)$'\n"),
                     0);
    snap = cycle(&in, &soft);
    assert_int_equal(snap->nseries, 2);
    assert_true(only_value(snap, "node_netstat_Tcp_MaxConn") == -1);
    hk_snapshot_unref(snap);
    inst_close(&in);
    /* a bad pattern or an unknown key is refused before anything runs */
    assert_int_equal(inst_open(&in, UPSTREAM, "netstat", "fields: '(('\n"), -EINVAL);
    assert_int_equal(inst_open(&in, UPSTREAM, "vmstat", "field: x\n"), -EINVAL);
}


static void test_kept_open_files(void **state)
{
    char root[256], dir[300];
    snprintf(root, sizeof(root), "%s/hk-net-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(root));
    snprintf(dir, sizeof(dir), "%s/proc", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    struct inst in;
    uint64_t soft;
    assert_int_equal(inst_open(&in, root, "vmstat", NULL), 0);
    struct hk_snapshot *snap = cycle(&in, &soft); /* missing: quiet, nothing */
    assert_int_equal(snap->nseries + soft, 0);
    hk_snapshot_unref(snap);
    hk_test_put(root, "proc/vmstat", "nr_free_pages 5\npgfault 1\n");
    snap = cycle(&in, &soft); /* appeared */
    assert_true(only_value(snap, "node_vmstat_pgfault") == 1 && soft == 0);
    hk_snapshot_unref(snap);
    hk_test_put(root, "proc/vmstat", "nr_free_pages 5\npgfault 2\n"); /* rewritten in place */
    snap = cycle(&in, &soft);
    assert_true(only_value(snap, "node_vmstat_pgfault") == 2 && soft == 0);
    hk_snapshot_unref(snap);
    hk_test_put(root, "proc/vmstat", "nr_free_pages 5\npgfault 3\npgmajfault x\n");
    snap = cycle(&in, &soft); /* malformed: nothing from it, one soft error */
    assert_int_equal(snap->nseries, 0);
    assert_int_equal(soft, 1);
    hk_snapshot_unref(snap);
    hk_test_put(root, "proc/vmstat", "pgmajfault 7\nnr_free_pages 5\npgfault 4\n"); /* reordered */
    snap = cycle(&in, &soft);
    assert_true(only_value(snap, "node_vmstat_pgfault") == 4 && soft == 0);
    assert_true(only_value(snap, "node_vmstat_pgmajfault") == 7);
    hk_snapshot_unref(snap);
    char path[512];
    snprintf(path, sizeof(path), "%s/proc/vmstat", root);
    assert_int_equal(unlink(path), 0);
    inst_close(&in);
    assert_int_equal(rmdir(dir), 0);
    assert_int_equal(rmdir(root), 0);
}

/* The layouts (netstat/snmp names lines, snmp6 and vmstat keys) remembered from the last whole
 * parse: a long-lived instance, which takes the fast path whenever the layout holds, must give
 * exactly what a fresh instance (always the whole parse) gives, for every rewrite of the files
 * — same values, a value gone bad, fields added, removed, moved, renamed, a short line. */
struct layout_case {
    const char *rel, *content;
};

static void assert_same_snapshots(const struct hk_snapshot *a, const struct hk_snapshot *b)
{
    assert_int_equal(a->nseries, b->nseries);
    assert_int_equal(a->nfamilies, b->nfamilies);
    for (size_t i = 0; i < a->nfamilies; i++) {
        assert_string_equal(a->families[i].name, b->families[i].name);
        assert_string_equal(a->families[i].help, b->families[i].help);
    }
    for (size_t i = 0; i < a->nseries; i++) {
        assert_string_equal(a->series[i].name, b->series[i].name);
        assert_true(a->series[i].value == b->series[i].value);
    }
}

static void run_layout_cases(const char *root, const char *name, const char *yaml,
                             const struct layout_case *cases, size_t n, size_t *ret_fast_seen)
{
    struct inst in;
    assert_int_equal(inst_open(&in, root, name, yaml), 0);
    for (size_t i = 0; i < n; i++) {
        hk_test_put(root, cases[i].rel, cases[i].content);
        struct inst fresh;
        assert_int_equal(inst_open(&fresh, root, name, yaml), 0);
        uint64_t soft_a, soft_b;
        struct hk_snapshot *a = cycle(&in, &soft_a), *b = cycle(&fresh, &soft_b);
        if (soft_a != soft_b)
            fail_msg("%s case %zu: soft errors %lu, fresh instance %lu", name, i,
                     (unsigned long)soft_a, (unsigned long)soft_b);
        assert_same_snapshots(a, b);
        *ret_fast_seen += a->nseries;
        hk_snapshot_unref(a);
        hk_snapshot_unref(b);
        inst_close(&fresh);
    }
    inst_close(&in);
}

static void test_layout_fast_path(void **state)
{
    char root[256], dir[300];
    snprintf(root, sizeof(root), "%s/hk-lay-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(root));
    snprintf(dir, sizeof(dir), "%s/proc", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(dir, sizeof(dir), "%s/proc/net", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    size_t seen = 0;
    static const struct layout_case vm[] = {
        {"proc/vmstat", "nr_free_pages 5\npgfault 1\npgmajfault 2\n"},
        {"proc/vmstat", "nr_free_pages 6\npgfault 3\npgmajfault 4\n"},   /* same layout */
        {"proc/vmstat", "nr_free_pages 6\npgfault 3\npgmajfault x\n"},   /* bad value */
        {"proc/vmstat", "nr_free_pages 6\npgfault 5\npgmajfault 6\n"},   /* good again */
        {"proc/vmstat", "nr_free_pages 6\npgfault 5\n"},                 /* line gone */
        {"proc/vmstat", "nr_free_pages 6\npgfault 5\npgmajfault 6\npswpin 1\n"}, /* added */
        {"proc/vmstat", "pgfault 5\nnr_free_pages 6\npgmajfault 6\npswpin 2\n"}, /* moved */
        {"proc/vmstat", "pgfault 5\nnr_free_pages 6\npgmajfault 6 7\npswpin 2\n"}, /* 3 tokens */
        {"proc/vmstat", "pgfault 5\n\nnr_free_pages 6\npgmajfault 8\npswpin 2\n"}, /* blank */
        {"proc/vmstat", "pgfault 5\n\nnr_free_pages 6\npgmajfault 9\npswpin 2\n"},
        {"proc/vmstat", "pgfault 5\nnr_free_pages 6\npgmajfault 9\npswpout 2\n"}, /* renamed */
        {"proc/vmstat", "pgfault 5\nnr_free_pages 6\npgmajfault 99999999999999999999999\n"},
    };
    run_layout_cases(root, "vmstat", NULL, vm, sizeof(vm) / sizeof(vm[0]), &seen);
    static const char *const fields = "fields: '^(Tcp_(MaxConn|RetransSegs)|Ip_Forwarding|"
                                      "Udp_InErrors|Ip6_InReceives|Udp6_InErrors)$'\n";
    static const struct layout_case ns[] = {
        {"proc/net/snmp", "Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: MaxConn RetransSegs\n"
                          "Tcp: -1 5\n"},
        {"proc/net/snmp6", "Ip6InReceives 10\nIp6OutRequests 3\nUdp6InErrors 2\nFoo 1\n"},
        {"proc/net/snmp", "Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: MaxConn RetransSegs\n"
                          "Tcp: -1 7\n"}, /* same layout */
        {"proc/net/snmp6", "Ip6InReceives 11\nIp6OutRequests 3\nUdp6InErrors 2\nFoo 1\n"},
        {"proc/net/snmp", "Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: MaxConn RetransSegs\n"
                          "Tcp: -1 x\n"}, /* bad value */
        {"proc/net/snmp6", "Ip6InReceives 11\nIp6OutRequests 3\nUdp6InErrors -\nFoo 1\n"},
        {"proc/net/snmp", "Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: MaxConn RetransSegs\n"
                          "Tcp: -1\n"}, /* a value short */
        {"proc/net/snmp", "Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: MaxConn RetransSegs\n"
                          "Tcp: -1 8 9\n"}, /* one too many */
        {"proc/net/snmp", "Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: MaxConn RetransSegs\n"
                          "Udp: -1 8\n"}, /* values of another protocol */
        {"proc/net/snmp", "Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: RetransSegs MaxConn\n"
                          "Tcp: 9 -1\n"}, /* moved */
        {"proc/net/snmp", "Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: RetransSegs MaxConn\n"
                          "Tcp: 9 -1\nUdp: InErrors\nUdp: 3\n"}, /* a pair added */
        {"proc/net/snmp", "Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: RetransSegs MaxConn\n"
                          "Tcp: 10 -1\nUdp: InErrors\nUdp: 4\n"},
        {"proc/net/snmp", "Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: RetransSegs MaxConn\n"
                          "Tcp: 10 -1\nUdp: InErrors\n"}, /* truncated */
        {"proc/net/snmp", "Ip: Forwarding DefaultTTL\nIp: 1 64\n"}, /* a pair removed */
        {"proc/net/snmp", "Ip: Forwarding DefaultTTL\nIp: 2 64\n\n"},
        {"proc/net/snmp6", "Ip6InReceives 12\nUdp6InErrors 2\nIp6OutRequests 3\nFoo 1\n"},
        {"proc/net/snmp6", "Ip6InReceives 12\nUdp6InErrors 2\nIp6OutRequests 3\nFoo 1\nBar6 2\n"},
    };
    run_layout_cases(root, "netstat", fields, ns, sizeof(ns) / sizeof(ns[0]), &seen);
    assert_true(seen > 0);
    static const char *const files[] = {"proc/vmstat", "proc/net/snmp", "proc/net/snmp6"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[600];
        snprintf(path, sizeof(path), "%s/%s", root, files[i]);
        assert_int_equal(unlink(path), 0);
    }
    assert_int_equal(rmdir(dir), 0);
    snprintf(dir, sizeof(dir), "%s/proc", root);
    assert_int_equal(rmdir(dir), 0);
    assert_int_equal(rmdir(root), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vmstat_fixture),    cmocka_unit_test(test_vmstat_bad),
        cmocka_unit_test(test_netstat_fixture),   cmocka_unit_test(test_netstat_bad),
        cmocka_unit_test(test_sockstat),          cmocka_unit_test(test_softnet),
        cmocka_unit_test(test_filefd_and_uint),   cmocka_unit_test(test_conntrack_stat),
        cmocka_unit_test(test_callback_error),    cmocka_unit_test(test_field_filter),
        cmocka_unit_test(test_mutations),         cmocka_unit_test(test_collectors_on_fixture),
        cmocka_unit_test(test_collector_options), cmocka_unit_test(test_kept_open_files),
        cmocka_unit_test(test_layout_fast_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
