/* MD5 against the RFC 1321 appendix A.5 test suite, against digests Python's hashlib computed
 * for every length around the padding edges, and split into arbitrary update() chunks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/md5.h"
#include "relabel_vectors.h"

static void hex(const uint8_t d[16], char out[33])
{
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void test_rfc1321_suite(void **state)
{
    static const struct {
        const char *in, *hex;
    } suite[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"1234567890123456789012345678901234567890123456789012345678901234567890123456789"
         "0",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (size_t i = 0; i < sizeof(suite) / sizeof(suite[0]); i++) {
        uint8_t d[16];
        char h[33];
        hk_md5(suite[i].in, strlen(suite[i].in), d);
        hex(d, h);
        assert_string_equal(h, suite[i].hex);
    }
}

static void fill(uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)((i * 31 + 7) & 0xff);
}

static void test_lengths_against_hashlib(void **state)
{
    static uint8_t buf[65537];
    for (size_t v = 0; v < sizeof(md5_vectors) / sizeof(md5_vectors[0]); v++) {
        size_t n = md5_vectors[v].len;
        assert_true(n <= sizeof(buf));
        fill(buf, n);
        uint8_t d[16];
        char h[33];
        hk_md5(buf, n, d);
        hex(d, h);
        if (strcmp(h, md5_vectors[v].hex) != 0)
            fail_msg("length %zu: got %s want %s", n, h, md5_vectors[v].hex);
    }
}

static void test_chunked_updates(void **state)
{
    static uint8_t buf[4096];
    fill(buf, sizeof(buf));
    static const size_t steps[] = {1, 3, 7, 55, 56, 63, 64, 65, 100, 1000};
    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        struct hk_md5 ctx;
        hk_md5_init(&ctx);
        for (size_t off = 0; off < sizeof(buf); off += steps[s]) {
            size_t n = sizeof(buf) - off < steps[s] ? sizeof(buf) - off : steps[s];
            hk_md5_update(&ctx, buf + off, n);
        }
        uint8_t d[16];
        char h[33];
        hk_md5_final(&ctx, d);
        hex(d, h);
        int found = 0;
        for (size_t v = 0; v < sizeof(md5_vectors) / sizeof(md5_vectors[0]); v++)
            if (md5_vectors[v].len == sizeof(buf)) {
                assert_string_equal(h, md5_vectors[v].hex);
                found = 1;
            }
        assert_true(found);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc1321_suite),
        cmocka_unit_test(test_lengths_against_hashlib),
        cmocka_unit_test(test_chunked_updates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
