/* SPDX-License-Identifier: Apache-2.0 */
/* Parsers of collector/netaddr.c on the kernel's own text: /proc/net/fib_trie, route and
 * if_inet6 as a real host prints them (the fib_trie and if_inet6 below are this build host's,
 * a veth-attached container with 192.0.2.2/24 and fd00::2/64), plus hostile input. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "collector/netaddr.h"

#define S(lit) (lit), (sizeof(lit) - 1)

static const char fib_trie[] = "Main:\n"
                               "  +-- 0.0.0.0/0 3 0 5\n"
                               "     |-- 0.0.0.0\n"
                               "        /0 universe UNICAST\n"
                               "     +-- 127.0.0.0/8 2 0 2\n"
                               "        +-- 127.0.0.0/31 1 0 0\n"
                               "           |-- 127.0.0.0\n"
                               "              /8 host LOCAL\n"
                               "           |-- 127.0.0.1\n"
                               "              /32 host LOCAL\n"
                               "        |-- 127.255.255.255\n"
                               "           /32 link BROADCAST\n"
                               "     +-- 192.0.2.0/24 2 0 2\n"
                               "        +-- 192.0.2.0/30 2 0 2\n"
                               "           |-- 192.0.2.0\n"
                               "              /24 link UNICAST\n"
                               "           |-- 192.0.2.2\n"
                               "              /32 host LOCAL\n"
                               "        |-- 192.0.2.255\n"
                               "           /32 link BROADCAST\n"
                               "Local:\n"
                               "  +-- 0.0.0.0/0 3 0 5\n"
                               "     |-- 0.0.0.0\n"
                               "        /0 universe UNICAST\n"
                               "     +-- 127.0.0.0/8 2 0 2\n"
                               "        +-- 127.0.0.0/31 1 0 0\n"
                               "           |-- 127.0.0.0\n"
                               "              /8 host LOCAL\n"
                               "           |-- 127.0.0.1\n"
                               "              /32 host LOCAL\n"
                               "        |-- 127.255.255.255\n"
                               "           /32 link BROADCAST\n"
                               "     +-- 192.0.2.0/24 2 0 2\n"
                               "        +-- 192.0.2.0/30 2 0 2\n"
                               "           |-- 192.0.2.0\n"
                               "              /24 link UNICAST\n"
                               "           |-- 192.0.2.2\n"
                               "              /32 host LOCAL\n"
                               "        |-- 192.0.2.255\n"
                               "           /32 link BROADCAST\n";

static const char route[] =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"
    "                                                       \n"
    "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0"
    "                                                                               \n"
    "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0"
    "                                                                               \n";

static const char if_inet6[] = "fd000000000000000000000000000002 04 40 00 82     eth0\n"
                               "fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n"
                               "00000000000000000000000000000001 01 80 10 80       lo\n";

static uint32_t ip4(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a.s_addr;
}

static void test_fib_trie(void **state)
{
    (void)state;
    uint32_t a[4];
    /* 192.0.2.2 once (both tables), not 127.0.0.1, not the /8 or broadcast leaves. */
    assert_int_equal(hk_netaddr_parse_fib_trie(S(fib_trie), a, 4), 1);
    assert_int_equal(a[0], ip4("192.0.2.2"));
    /* More addresses than room: counted, only cap stored. */
    static const char two[] = "Main:\n     |-- 10.0.0.1\n        /32 host LOCAL\n"
                              "     |-- 10.0.0.2\n        /32 host LOCAL\n"
                              "     |-- 169.254.20.10\n        /32 host LOCAL\n";
    assert_int_equal(hk_netaddr_parse_fib_trie(S(two), a, 1), 2);
    assert_int_equal(a[0], ip4("10.0.0.1"));
    assert_int_equal(
        hk_netaddr_parse_fib_trie(S("Main:\n  |-- 300.1.1.1\n  /32 host LOCAL\n"), a, 4), -EINVAL);
    assert_int_equal(hk_netaddr_parse_fib_trie(S("Main:\n  |-- 1.2.3.4.5.6.7.8.9\n"), a, 4),
                     -EINVAL);
    assert_int_equal(hk_netaddr_parse_fib_trie(S(""), a, 4), 0);
}

static void test_route(void **state)
{
    (void)state;
    struct hk_netaddr_route r[4];
    assert_int_equal(hk_netaddr_parse_route(S(route), r, 4), 2);
    assert_string_equal(r[0].ifname, "eth0");
    assert_true(r[0].gateway);
    assert_int_equal(r[1].dst, ip4("192.0.2.0"));
    assert_int_equal(r[1].mask, ip4("255.255.255.0"));
    assert_string_equal(hk_netaddr_route_dev(r, 2, ip4("192.0.2.2")), "eth0");
    /* A /32 address outside every subnet: the default route's interface (Calico's pods). */
    struct hk_netaddr_route calico[2] = {{"eth0", 0, 0, true},
                                         {"eth1", ip4("192.0.2.0"), ip4("255.255.255.0"), false}};
    assert_string_equal(hk_netaddr_route_dev(calico, 2, ip4("10.244.1.13")), "eth0");
    assert_string_equal(hk_netaddr_route_dev(calico, 2, ip4("192.0.2.9")), "eth1");
    assert_null(hk_netaddr_route_dev(calico, 0, ip4("10.244.1.13")));
    assert_int_equal(hk_netaddr_parse_route(S("h\neth0\tXYZ\t0\t1\t0\t0\t0\t0\n"), r, 4), -EINVAL);
    assert_int_equal(hk_netaddr_parse_route(S("h\neth0 00000000\n"), r, 4), -EINVAL);
}

static void test_if_inet6(void **state)
{
    (void)state;
    struct hk_netaddr a[2];
    size_t n = 0;
    /* The global address only: link-local (scope 20) and ::1 (scope 10, lo) are left out. */
    assert_int_equal(hk_netaddr_parse_if_inet6(S(if_inet6), a, &n, 2), 0);
    assert_int_equal(n, 1);
    assert_string_equal(a[0].ifname, "eth0");
    assert_string_equal(a[0].ip, "fd00::2");
    /* Full: the rest is counted. */
    assert_int_equal(hk_netaddr_parse_if_inet6(S(if_inet6), a, &n, 1), 1);
    assert_int_equal(n, 1);
    /* DAD failed (flag 08): unusable. */
    n = 0;
    assert_int_equal(hk_netaddr_parse_if_inet6(
                         S("fd000000000000000000000000000003 04 40 00 08     eth0\n"), a, &n, 2),
                     0);
    assert_int_equal(n, 0);
    assert_int_equal(hk_netaddr_parse_if_inet6(S("fd00 04 40 00 80 eth0\n"), a, &n, 2), -EINVAL);
    assert_int_equal(hk_netaddr_parse_if_inet6(
                         S("fd00000000000000000000000000000g 04 40 00 80 eth0\n"), a, &n, 2),
                     -EINVAL);
    assert_int_equal(
        hk_netaddr_parse_if_inet6(
            S("fd000000000000000000000000000003 04 40 00 80 averyveryverylongname\n"), a, &n, 2),
        -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fib_trie),
        cmocka_unit_test(test_route),
        cmocka_unit_test(test_if_inet6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
