/* SPDX-License-Identifier: Apache-2.0 */
/* rw_config and rw_send helpers: every key parses, defaults match Prometheus, reserved headers
 * and conflicting auth are refused with file:line:col, secrets from files never show up in error
 * messages; backoff bounds and Retry-After parsing. */
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

#include "exporter/rw_config.h"
#include "exporter/rw_send.h"

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

static void test_full(void **state)
{
    char secret[] = "/tmp/hk-rw-secret-XXXXXX";
    int fd = mkstemp(secret);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cr3t-pw\n", 10), 10);
    close(fd);
    char yaml[4096];
    snprintf(
        yaml, sizeof(yaml),
        "remote_write:\n"
        "  - url: https://mimir.example:443/api/v1/push\n"
        "    name: mimir\n"
        "    remote_timeout: 10s\n"
        "    headers: {X-Scope-OrgID: team-a, THANOS-TENANT: t1}\n"
        "    basic_auth: {username: u, password_file: %s}\n"
        "    tls_config: {insecure_skip_verify: true, server_name: mimir, min_version: TLS12}\n"
        "    follow_redirects: false\n"
        "    protobuf_message: io.prometheus.write.v2.Request\n"
        "    send_exemplars: true\n"
        "    send_native_histograms: true\n"
        "    metadata_config: {send: false, send_interval: 2m}\n"
        "    write_relabel_configs: []\n"
        "    queue_config:\n"
        "      capacity: 5000\n"
        "      min_shards: 2\n"
        "      max_shards: 8\n"
        "      max_samples_per_send: 1000\n"
        "      batch_send_deadline: 2s\n"
        "      min_backoff: 100ms\n"
        "      max_backoff: 10s\n"
        "      retry_on_http_429: false\n"
        "      sample_age_limit: 1h\n"
        "      disk_path: /var/tmp/q\n"
        "      max_disk_bytes: 2GiB\n"
        "      fsync: interval\n"
        "  - url: http://127.0.0.1:8428/api/v1/write\n",
        secret);
    struct hk_rw_config *l;
    size_t n;
    struct hk_error err = {""};
    assert_int_equal(parse(yaml, &l, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(l[0].name, "mimir");
    assert_int_equal(l[0].remote_timeout_ms, 10000);
    assert_int_equal(l[0].nheaders, 2);
    assert_string_equal(l[0].basic_password, "s3cr3t-pw");
    assert_true(l[0].tls_insecure_skip_verify);
    assert_false(l[0].follow_redirects);
    assert_int_equal(l[0].proto, HK_RW_V2);
    assert_false(l[0].metadata_send);
    assert_true(l[0].send_native_histograms);
    assert_int_equal(l[0].metadata_send_interval_ms, 120000);
    assert_int_equal(l[0].queue.min_shards, 2);
    assert_int_equal(l[0].queue.max_shards, 8);
    assert_int_equal(l[0].queue.max_samples_per_send, 1000);
    assert_int_equal(l[0].queue.batch_send_deadline_ms, 2000);
    assert_int_equal(l[0].queue.min_backoff_ms, 100);
    assert_int_equal(l[0].queue.sample_age_limit_ms, 3600000);
    assert_int_equal(l[0].queue.max_disk_bytes, 2ULL << 30);
    assert_false(l[0].queue.retry_on_http_429);
    assert_int_equal(l[0].queue.fsync, HK_RW_FSYNC_INTERVAL);
    /* Defaults (Prometheus' values) for the second endpoint, with a stable derived name. */
    assert_int_equal(strncmp(l[1].name, "rw-", 3), 0);
    assert_int_equal(l[1].remote_timeout_ms, 30000);
    assert_int_equal(l[1].proto, HK_RW_V1);
    assert_int_equal(l[1].queue.max_samples_per_send, 2000);
    assert_int_equal(l[1].queue.max_shards, 50);
    assert_int_equal(l[1].queue.min_backoff_ms, 30);
    assert_int_equal(l[1].queue.max_backoff_ms, 5000);
    assert_int_equal(l[1].queue.batch_send_deadline_ms, 5000);
    assert_true(l[1].metadata_send);
    assert_false(l[1].send_native_histograms); /* classic series unless asked, as Prometheus */
    hk_rw_config_free_list(l, n);
    unlink(secret);
}

static void expect_error(const char *yaml, const char *pos, const char *needle)
{
    struct hk_rw_config *l = NULL;
    size_t n = 0;
    struct hk_error err = {""};
    assert_int_equal(parse(yaml, &l, &n, &err), -EINVAL);
    if (!strstr(err.msg, needle) || strncmp(err.msg, pos, strlen(pos)) != 0)
        fail_msg("error \"%s\" lacks \"%s\" or does not start with \"%s\"", err.msg, needle, pos);
}

static void test_errors(void **state)
{
    expect_error("remote_write:\n  - url: http://x/\n    headers: {Content-Type: a}\n",
                 "rw.yml:3:15:", "reserved");
    expect_error("remote_write:\n  - url: http://x/\n    headers: {user-agent: a}\n",
                 "rw.yml:3:15:", "reserved");
    expect_error(
        "remote_write:\n  - url: http://x/\n    headers: {X-Prometheus-Remote-Write-Version: 2}\n",
        "rw.yml:3:15:", "reserved");
    expect_error("remote_write:\n  - url: http://x/\n    bogus: 1\n",
                 "rw.yml:3:5:", "unknown key \"bogus\"");
    expect_error("remote_write:\n  - name: a\n", "rw.yml:2:5:", "url is required");
    expect_error("remote_write:\n  - url: ftp://x/\n", "rw.yml:2:10:", "http");
    expect_error("remote_write:\n  - url: http://x/\n    basic_auth: {username: u}\n"
                 "    authorization: {credentials: c}\n",
                 "rw.yml:4:20:", "cannot be combined");
    expect_error(
        "remote_write:\n  - url: http://x/\n    queue_config: {min_shards: 5, max_shards: 2}\n",
        "rw.yml:3:19:", "min_shards");
    expect_error("remote_write:\n  - url: http://x/\n    queue_config: {fsync: always}\n",
                 "rw.yml:3:27:", "batch or interval");
    expect_error("remote_write:\n  - url: http://x/\n    protobuf_message: v3\n",
                 "rw.yml:3:23:", "protobuf_message");
    expect_error(
        "remote_write:\n  - url: http://x/\n    name: a\n  - url: http://y/\n    name: a\n",
        "rw.yml:5:11:", "duplicate");
    expect_error("remote_write:\n  - url: http://x/\n    name: ../etc\n", "rw.yml:3:11:", "name");
    expect_error(
        "remote_write:\n  - url: http://x/\n    sigv4: {region: eu-west-1, access_key: A}\n",
        "rw.yml:3:12:", "secret_key");
    expect_error("remote_write:\n  - url: http://x/\n    oauth2: {client_id: a}\n",
                 "rw.yml:3:13:", "token_url");
}

static void test_secret_not_in_errors(void **state)
{
    /* A secret file that is fine, next to an error: the message names the key, not the secret. */
    char secret[] = "/tmp/hk-rw-secret-XXXXXX";
    int fd = mkstemp(secret);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "TOPSECRET\n", 10), 10);
    close(fd);
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "remote_write:\n  - url: http://x/\n    authorization: {credentials_file: %s, "
             "type: Basic}\n",
             secret);
    struct hk_rw_config *l = NULL;
    size_t n = 0;
    struct hk_error err = {""};
    assert_int_equal(parse(yaml, &l, &n, &err), -EINVAL);
    assert_null(strstr(err.msg, "TOPSECRET"));
    snprintf(yaml, sizeof(yaml),
             "remote_write:\n  - url: http://x/\n    authorization: {credentials: TOPSECRET, "
             "credentials_file: %s}\n",
             secret);
    assert_int_equal(parse(yaml, &l, &n, &err), -EINVAL);
    assert_null(strstr(err.msg, "TOPSECRET"));
    unlink(secret);
    snprintf(yaml, sizeof(yaml), "remote_write:\n  - url: http://x/\n    bearer_token_file: %s\n",
             secret);
    assert_int_equal(parse(yaml, &l, &n, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "cannot read"));
}

static void test_backoff_and_retry_after(void **state)
{
    uint64_t rng = 42;
    for (unsigned a = 0; a < 20; a++)
        for (int i = 0; i < 200; i++) {
            int64_t d = hk_rw_backoff_ms(30, 5000, a, &rng);
            int64_t cap = 30;
            for (unsigned k = 0; k < a && cap < 5000; k++)
                cap *= 2;
            if (cap > 5000)
                cap = 5000;
            assert_true(d >= 30 && d <= cap);
        }
    assert_int_equal(hk_rw_parse_retry_after("7", 1000), 7000);
    assert_int_equal(hk_rw_parse_retry_after(" 120 ", 1000), 120000);
    assert_int_equal(hk_rw_parse_retry_after("99999", 1000), 600000); /* capped at 10 min */
    assert_int_equal(hk_rw_parse_retry_after("soon", 1000), -1);
    /* HTTP-date: Sun, 06 Nov 1994 08:49:37 GMT = 784111777 */
    assert_int_equal(hk_rw_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111770), 7000);
    assert_int_equal(hk_rw_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111800), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_secret_not_in_errors),
        cmocka_unit_test(test_backoff_and_retry_after),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
