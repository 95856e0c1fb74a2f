/* SPDX-License-Identifier: Apache-2.0 */
/* rw_creds: STS responses parsed as AWS documents them (Credentials/AccessKeyId, SecretAccessKey,
 * SessionToken, Expiration in ISO 8601 UTC, XML entities), refusals of incomplete answers; secret
 * files re-read when replaced, the old secret kept when the file goes missing or turns into
 * something else; the AWS shared credentials file followed; sigv4.role_arn accepted as an ARN. */
#include <errno.h>
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

#include "exporter/rw_config.h"
#include "exporter/rw_creds.h"

static void write_file(const char *path, const char *text)
{
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(rename(tmp, path), 0); /* as a Secret volume swaps its files */
}

static void test_sts_parse(void **state)
{
    (void)state;
    const char *ok =
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
        "  <AssumeRoleWithWebIdentityResult>\n"
        "    <SubjectFromWebIdentityToken>system:serviceaccount:hakari:hakari"
        "</SubjectFromWebIdentityToken>\n"
        "    <Credentials>\n"
        "      <SessionToken>FwoG/a+b=&amp;c&lt;d</SessionToken>\n"
        "      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCY</SecretAccessKey>\n"
        "      <Expiration>2026-12-07T22:04:05.123Z</Expiration>\n"
        "      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>\n"
        "    </Credentials>\n"
        "  </AssumeRoleWithWebIdentityResult>\n"
        "</AssumeRoleWithWebIdentityResponse>\n";
    char *ak, *sk, *tok;
    int64_t exp = 0;
    assert_int_equal(hk_rw_sts_parse(ok, &ak, &sk, &tok, &exp), 0);
    assert_string_equal(ak, "ASIAIOSFODNN7EXAMPLE");
    assert_string_equal(sk, "wJalrXUtnFEMI/K7MDENG/bPxRfiCY");
    assert_string_equal(tok, "FwoG/a+b=&c<d");
    assert_int_equal(exp, 1796681045); /* date -u -d 2026-12-07T22:04:05Z +%s */
    free(ak);
    free(sk);
    free(tok);
    static const char *const bad[] = {
        /* STS's error answer */
        "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code></Error></ErrorResponse>",
        /* no Expiration, a bad one, a non-UTC one, an empty key */
        "<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAccessKey>"
        "<SessionToken>T</SessionToken></Credentials>",
        "<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAccessKey>"
        "<SessionToken>T</SessionToken><Expiration>tomorrow</Expiration></Credentials>",
        "<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAccessKey>"
        "<SessionToken>T</SessionToken><Expiration>2026-12-07T22:04:05+02:00</Expiration>"
        "</Credentials>",
        "<Credentials><AccessKeyId></AccessKeyId><SecretAccessKey>S</SecretAccessKey>"
        "<SessionToken>T</SessionToken><Expiration>2026-12-07T22:04:05Z</Expiration>"
        "</Credentials>",
        /* cut off */
        "<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAcc",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(hk_rw_sts_parse(bad[i], &ak, &sk, &tok, &exp), -EBADMSG);
        assert_null(ak);
        assert_null(sk);
        assert_null(tok);
    }
}

static void test_secret_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/hk-rw-creds-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/pw", dir);
    write_file(path, "first\n");
    char *v = NULL;
    assert_int_equal(hk_rw_read_secret(path, &v), 0);
    struct hk_rw_secret s;
    assert_int_equal(hk_rw_secret_init(&s, path, v), 0);
    free(v);
    assert_string_equal(s.value, "first");
    /* Not due yet (checked at most once a second) and nothing changed. */
    assert_int_equal(hk_rw_secret_poll(&s, 0, false, "t"), 0);
    assert_int_equal(hk_rw_secret_poll(&s, INT64_MAX / 2, false, "t"), 0);
    /* Replaced: the new content, once. */
    write_file(path, "second  \n");
    assert_int_equal(hk_rw_secret_poll(&s, 0, true, "t"), 1);
    assert_string_equal(s.value, "second");
    assert_int_equal(hk_rw_secret_poll(&s, 0, true, "t"), 0);
    /* Replaced by the same content: not a change. */
    write_file(path, "second");
    assert_int_equal(hk_rw_secret_poll(&s, 0, true, "t"), 0);
    /* Gone, a directory, too large: the old secret stays. */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(hk_rw_secret_poll(&s, 0, true, "t"), 0);
    assert_string_equal(s.value, "second");
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(hk_rw_secret_poll(&s, 0, true, "t"), 0);
    assert_string_equal(s.value, "second");
    assert_int_equal(rmdir(path), 0);
    char *big = malloc(HK_RW_SECRET_MAX + 2);
    assert_non_null(big);
    memset(big, 'x', HK_RW_SECRET_MAX + 1);
    big[HK_RW_SECRET_MAX + 1] = '\0';
    write_file(path, big);
    free(big);
    assert_int_equal(hk_rw_secret_poll(&s, 0, true, "t"), 0);
    assert_string_equal(s.value, "second");
    /* Readable again: followed again. */
    write_file(path, "third");
    assert_int_equal(hk_rw_secret_poll(&s, 0, true, "t"), 1);
    assert_string_equal(s.value, "third");
    hk_rw_secret_free(&s);
    unlink(path);
    rmdir(dir);
}

static int parse(const char *yaml, struct hk_rw_config **list, size_t *n, struct hk_error *err)
{
    struct hk_yaml_node *root = NULL;
    int r = hk_yaml_parse_string("rw.yml", yaml, strlen(yaml), &root, err);
    if (r < 0)
        return r;
    r = hk_rw_config_parse_list(hk_yaml_get(root, "remote_write"), list, n, err);
    hk_yaml_free(root);
    return r;
}

static void test_shared_file_rotation(void **state)
{
    (void)state;
    char dir[] = "/tmp/hk-rw-creds-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/credentials", dir);
    write_file(path, "[default]\naws_access_key_id = WRONG\naws_secret_access_key = WRONG\n"
                     "[hk]\naws_access_key_id = AKID1\naws_secret_access_key = sk1\n");
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_ROLE_ARN");
    struct hk_rw_config *l = NULL;
    size_t n = 0;
    struct hk_error err = {""};
    assert_int_equal(parse("remote_write:\n  - url: http://x/\n    sigv4: {region: eu-west-1, "
                           "profile: hk}\n",
                           &l, &n, &err),
                     0);
    struct hk_rw_aws *a = NULL;
    assert_int_equal(hk_rw_aws_new(&l[0], &a), 0);
    assert_true(hk_rw_aws_rotates(a));
    assert_string_equal(hk_rw_aws_userpwd(a), "AKID1:sk1");
    assert_null(hk_rw_aws_token_header(a));
    assert_int_equal(hk_rw_aws_due_ms(a), INT64_MAX); /* no STS */
    write_file(path, "[hk]\naws_access_key_id = AKID2\naws_secret_access_key = sk2\n"
                     "aws_session_token = tok2\n");
    assert_int_equal(hk_rw_aws_refresh(a, true), 1);
    assert_string_equal(hk_rw_aws_userpwd(a), "AKID2:sk2");
    assert_string_equal(hk_rw_aws_token_header(a), "X-Amz-Security-Token: tok2");
    /* The profile disappears from the file: the last keys stay. */
    write_file(path, "[other]\naws_access_key_id = X\naws_secret_access_key = Y\n");
    assert_int_equal(hk_rw_aws_refresh(a, true), 0);
    assert_string_equal(hk_rw_aws_userpwd(a), "AKID2:sk2");
    hk_rw_aws_free(a);
    hk_rw_config_free_list(l, n);
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    unlink(path);
    rmdir(dir);
}

static void test_role_arn_config(void **state)
{
    (void)state;
    struct hk_rw_config *l = NULL;
    size_t n = 0;
    struct hk_error err = {""};
    assert_int_equal(parse("remote_write:\n  - url: http://x/\n    sigv4: {region: eu-west-1, "
                           "role_arn: 'arn:aws:iam::123456789012:role/amp'}\n",
                           &l, &n, &err),
                     0);
    assert_string_equal(l[0].sigv4_role_arn, "arn:aws:iam::123456789012:role/amp");
    hk_rw_config_free_list(l, n);
    l = NULL;
    assert_true(parse("remote_write:\n  - url: http://x/\n    sigv4: {region: eu-west-1, "
                      "role_arn: amp}\n",
                      &l, &n, &err) < 0);
    assert_non_null(strstr(err.msg, "rw.yml:3:"));
    assert_non_null(strstr(err.msg, "role_arn"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sts_parse),
        cmocka_unit_test(test_secret_file),
        cmocka_unit_test(test_shared_file_rotation),
        cmocka_unit_test(test_role_arn_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
