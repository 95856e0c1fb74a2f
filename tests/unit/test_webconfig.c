/* SPDX-License-Identifier: Apache-2.0 */
/* Web configuration: parsing errors with positions, basic auth against bcrypt hashes, the
 * verification cache, TLS material checks. */
#include <crypt.h>
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

#include "exporter/webconfig.h"

static char dir[64];

static const char *put(const char *name, const char *text)
{
    static char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/hk-webconfig-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A cheap bcrypt hash (cost 4) made by libcrypt itself. */
static char *bcrypt_of(const char *password)
{
    char salt[64];
    static const char rnd[16] = "0123456789abcdef";
    assert_non_null(crypt_gensalt_rn("$2b$", 4, rnd, sizeof(rnd), salt, sizeof(salt)));
    struct crypt_data cd;
    memset(&cd, 0, sizeof(cd));
    const char *h = crypt_r(password, salt, &cd);
    assert_non_null(h);
    assert_int_equal(strlen(h), 60);
    return strdup(h);
}

static void test_basic_auth_and_cache(void **state)
{
    (void)state;
    char *h1 = bcrypt_of("correct horse"), *h2 = bcrypt_of("p:ss\nword");
    char text[512];
    snprintf(text, sizeof(text), "basic_auth_users:\n  alice: %s\n  bob: '%s'\n", h1, h2);
    const char *path = put("auth.yml", text);
    struct hk_webconfig *wc = NULL;
    struct hk_error err = {""};
    int r = hk_webconfig_load(path, &wc, &err);
    if (r < 0)
        fail_msg("%s", err.msg);
    assert_false(wc->tls);
    assert_int_equal(wc->nusers, 2);
    assert_int_equal(hk_webconfig_bcrypt_runs(wc), 0);

    assert_false(hk_webconfig_authorize(wc, "alice", "wrong"));
    assert_false(hk_webconfig_authorize(wc, "alice", "correct hors"));
    assert_false(hk_webconfig_authorize(wc, "alice", "correct horse "));
    assert_false(hk_webconfig_authorize(wc, "alice", ""));
    assert_false(hk_webconfig_authorize(wc, "bob", "correct horse"));   /* alice's password */
    assert_false(hk_webconfig_authorize(wc, "mallory", "correct horse")); /* unknown user */
    assert_false(hk_webconfig_authorize(wc, NULL, "x"));
    assert_false(hk_webconfig_authorize(wc, "alice", NULL));
    /* Every wrong attempt ran bcrypt (including the unknown user: no timing difference). */
    assert_int_equal(hk_webconfig_bcrypt_runs(wc), 6);
    assert_true(hk_webconfig_authorize(wc, "alice", "correct horse"));
    assert_true(hk_webconfig_authorize(wc, "bob", "p:ss\nword"));
    assert_int_equal(hk_webconfig_bcrypt_runs(wc), 8);
    /* Cached: no more bcrypt for the same credentials. */
    for (int i = 0; i < 50; i++) {
        assert_true(hk_webconfig_authorize(wc, "alice", "correct horse"));
        assert_true(hk_webconfig_authorize(wc, "bob", "p:ss\nword"));
    }
    assert_int_equal(hk_webconfig_bcrypt_runs(wc), 8);
    /* A cached success never vouches for other credentials. */
    assert_false(hk_webconfig_authorize(wc, "bob", "correct horse"));
    assert_false(hk_webconfig_authorize(wc, "alicecorrect", " horse"));
    assert_int_equal(hk_webconfig_bcrypt_runs(wc), 10);
    hk_webconfig_free(wc);
    /* No users: everything is authorised. */
    assert_true(hk_webconfig_authorize(NULL, "x", "y"));
    free(h1);
    free(h2);
}

static void expect_error(const char *text, const char *want)
{
    const char *path = put("bad.yml", text);
    char p[128];
    snprintf(p, sizeof(p), "%s", path);
    struct hk_webconfig *wc = NULL;
    struct hk_error err = {""};
    assert_int_equal(hk_webconfig_load(p, &wc, &err), -EINVAL);
    assert_null(wc);
    size_t pl = strlen(p);
    if (strncmp(err.msg, p, pl) != 0 || strncmp(err.msg + pl, want, strlen(want)) != 0)
        fail_msg("got \"%s\", want \"%s%s…\"", err.msg, p, want);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("tls_config: {}\n", ":1:1: unknown key \"tls_config\"");
    expect_error("basic_auth_users:\n  alice: $2b$10$short\n",
                 ":2:10: basic_auth_users.alice: expected a bcrypt hash");
    expect_error("basic_auth_users:\n  \"a:b\": x\n", ":2:3: invalid basic auth user name");
    expect_error("basic_auth_users: [a]\n", ":1:19: expected a mapping, found a list");
    expect_error("tls_server_config:\n  key_file: k\n", ":2:3: tls_server_config: missing cert_file");
    expect_error("tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n",
                 ":2:14: cannot read \"nope.crt\": No such file or directory");
    expect_error("http_server_config:\n  headers:\n    Content-Type: x\n",
                 ":3:5: header \"Content-Type\" cannot be set");
    expect_error("http_server_config:\n  http2: maybe\n", ":2:10: expected true or false");
    /* PEM that is not a certificate. */
    put("junk.crt", "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
    put("junk.key", "junk\n");
    expect_error("tls_server_config:\n  cert_file: junk.crt\n  key_file: junk.key\n",
                 ":2:14: certificate \"junk.crt\" with key \"junk.key\":");
    /* An empty tls_server_config means plain HTTP (as upstream). */
    const char *path = put("empty.yml", "tls_server_config: {}\nhttp_server_config:\n  headers:\n"
                                        "    X-A: b\n");
    struct hk_webconfig *wc = NULL;
    struct hk_error err = {""};
    assert_int_equal(hk_webconfig_load(path, &wc, &err), 0);
    assert_false(wc->tls);
    assert_int_equal(wc->nheaders, 1);
    assert_string_equal(wc->headers[0].name, "X-A");
    hk_webconfig_free(wc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_auth_and_cache),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
