/* SPDX-License-Identifier: Apache-2.0 */
/* Config loading: defaults, the file, flag overrides on top, validation with file:line:col. */
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

#include "core/collector.h"
#include "core/config.h"

static char path[64];

static const char *write_cfg(const char *text)
{
    snprintf(path, sizeof(path), "/tmp/hk-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static int load(const char *text, const struct hk_config_override *ov, size_t nov,
                struct hk_config *cfg, struct hk_error *err)
{
    hk_config_init(cfg);
    err->msg[0] = '\0';
    const char *p = text ? write_cfg(text) : NULL;
    int r = hk_config_load(cfg, p, ov, nov, err);
    if (p)
        unlink(p);
    return r;
}

static void expect_error(const char *text, const char *want_suffix)
{
    struct hk_config cfg;
    struct hk_error err;
    assert_int_equal(load(text, NULL, 0, &cfg, &err), -EINVAL);
    /* "<path>:line:col: message" */
    size_t pl = strlen(path);
    if (strncmp(err.msg, path, pl) != 0 || strcmp(err.msg + pl, want_suffix) != 0)
        fail_msg("got \"%s\", want \"%s%s\"", err.msg, path, want_suffix);
    hk_config_free(&cfg);
}

static void test_defaults(void **state)
{
    (void)state;
    struct hk_config cfg;
    struct hk_error err;
    assert_int_equal(load(NULL, NULL, 0, &cfg, &err), 0);
    assert_true(cfg.collection_interval_ms == 10000);
    assert_int_equal(cfg.n_external_labels, 0);
    assert_int_equal(cfg.target_labels, HK_TARGET_LABELS_HAKARI);
    assert_true(cfg.limits.max_series > 0);
    assert_null(cfg.remote_write);
    for (size_t i = 0; hk_collectors[i]; i++)
        assert_int_equal(hk_config_collector_enabled(&cfg, i), hk_collectors[i]->default_enabled);
    hk_config_free(&cfg);
    /* An empty file and a file with just a comment are the defaults too. */
    assert_int_equal(load("", NULL, 0, &cfg, &err), 0);
    hk_config_free(&cfg);
    assert_int_equal(load("# nothing\n", NULL, 0, &cfg, &err), 0);
    assert_true(cfg.collection_interval_ms == 10000);
    hk_config_free(&cfg);
}

static void test_full_file(void **state)
{
    (void)state;
    setenv("HK_TEST_CLUSTER", "eu-1", 1);
    struct hk_config cfg;
    struct hk_error err;
    int r = load("global:\n"
                 "  collection_interval: 1m30s\n"
                 "  external_labels:\n"
                 "    region: ${HK_TEST_CLUSTER}\n"
                 "    cluster: c-$$1\n"
                 "  target_labels: kube-prometheus\n"
                 "limits:\n"
                 "  max_series: 1000\n"
                 "  max_labels: 20\n"
                 "  max_label_value_length: 256\n"
                 "collectors:\n"
                 "  loadavg:\n"
                 "    enabled: false\n"
                 "remote_write: []\n",
                 NULL, 0, &cfg, &err);
    if (r < 0)
        fail_msg("%s", err.msg);
    assert_true(cfg.collection_interval_ms == 90000);
    assert_int_equal(cfg.target_labels, HK_TARGET_LABELS_KUBE_PROMETHEUS);
    assert_int_equal(cfg.n_external_labels, 2);
    /* sorted by name */
    assert_string_equal(cfg.external_labels[0].name, "cluster");
    assert_string_equal(cfg.external_labels[0].value, "c-$1");
    assert_string_equal(cfg.external_labels[1].name, "region");
    assert_string_equal(cfg.external_labels[1].value, "eu-1");
    assert_int_equal(cfg.limits.max_series, 1000);
    assert_int_equal(cfg.limits.max_labels, 20);
    assert_int_equal(cfg.limits.max_label_value_length, 256);
    const struct hk_collector_ops *la = hk_collector_find("loadavg");
    assert_non_null(la);
    size_t idx = 0;
    while (hk_collectors[idx] != la)
        idx++;
    assert_false(hk_config_collector_enabled(&cfg, idx));
    assert_non_null(cfg.remote_write);
    assert_int_equal(cfg.remote_write->n, 0);
    assert_string_equal(cfg.path, path);
    hk_config_free(&cfg);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("global:\n  scrape_interval: 10s\n",
                 ":2:3: unknown key \"scrape_interval\" (allowed: collection_interval, "
                 "external_labels, target_labels)");
    expect_error("global:\n  external_labels: {a: b}\n  target_labels: kube_prometheus\n",
                 ":3:18: target_labels: unknown value \"kube_prometheus\" (one of: hakari, "
                 "kube-prometheus, none)");
    expect_error("global:\n  target_labels: [hakari]\n", ":2:18: expected a scalar, found a list");
    expect_error("globl: {}\n",
                 ":1:1: unknown key \"globl\" (allowed: global, limits, collectors, "
                 "remote_write, kubernetes)");
    expect_error("global:\n  collection_interval: 10\n",
                 ":2:24: expected a duration like 10s, 1m30s or 500ms, found \"10\"");
    expect_error("global:\n  collection_interval: 50ms\n",
                 ":2:24: collection_interval must be at least 100ms");
    expect_error("global:\n  external_labels:\n    __x: y\n",
                 ":3:5: invalid external label name \"__x\"");
    expect_error("global:\n  external_labels:\n    bad-name: y\n",
                 ":3:5: invalid external label name \"bad-name\"");
    expect_error("global:\n  external_labels:\n    a: [1]\n",
                 ":3:8: external label \"a\" must have a string value");
    /* Raw invalid UTF-8 never reaches us: libyaml rejects the stream, with a position. */
    expect_error("global:\n  external_labels:\n    a: \xff\n",
                 ":3:8: invalid leading UTF-8 octet");
    expect_error("limits:\n  max_series: -5\n",
                 ":2:15: expected a non-negative integer, found \"-5\"");
    expect_error("limits:\n  max_labels: 5000\n", ":2:15: 5000 is out of range [0, 1024]");
    {
        /* The list of known collectors grows with the build: check its shape, not its length. */
        struct hk_config cfg;
        struct hk_error err;
        assert_int_equal(load("collectors:\n  nope: {}\n", NULL, 0, &cfg, &err), -EINVAL);
        hk_config_free(&cfg);
        assert_non_null(strstr(err.msg, ":2:3: unknown collector \"nope\" (known: "));
        assert_non_null(strstr(err.msg, "loadavg"));
    }
    expect_error("collectors:\n  loadavg:\n    enabled: maybe\n",
                 ":3:14: expected true or false, found \"maybe\"");
    expect_error("collectors:\n  loadavg:\n    color: red\n",
                 ":3:5: unknown key \"color\" (allowed: enabled)");
    expect_error("remote_write: {}\n", ":1:15: expected a list, found a mapping");
    expect_error("global:\n  collection_interval: 10s\nglobal: {}\n",
                 ":3:1: duplicate key \"global\" (first at line 1)");
    expect_error("global: &g\n  collection_interval: 10s\n", ":1:9: anchors are not supported");
    expect_error("- a\n- b\n", ":1:1: expected a mapping, found a list");
}

static void test_overrides(void **state)
{
    (void)state;
    struct hk_config cfg;
    struct hk_error err;
    /* Flags beat the file. */
    struct hk_config_override ov[] = {
        {"global.collection_interval", "2s", "--collection.interval", false},
        {"collectors.loadavg.enabled", "true", "--collector.loadavg", false},
    };
    int r = load("global:\n  collection_interval: 1m\ncollectors:\n  loadavg:\n"
                 "    enabled: false\n",
                 ov, 2, &cfg, &err);
    if (r < 0)
        fail_msg("%s", err.msg);
    assert_true(cfg.collection_interval_ms == 2000);
    assert_true(hk_config_collector_enabled(&cfg, 0));
    hk_config_free(&cfg);
    /* Without a file. */
    assert_int_equal(load(NULL, ov, 1, &cfg, &err), 0);
    assert_true(cfg.collection_interval_ms == 2000);
    hk_config_free(&cfg);
    /* A list option from a flag: its value is split at commas where a list is expected. */
    struct hk_config_override list[] = {
        {"collectors.ebpf.programs", "sched,tcp", "--collector.ebpf.programs", false}};
    assert_int_equal(load(NULL, list, 1, &cfg, &err), 0);
    const struct hk_yaml_node *progs =
        hk_yaml_get(hk_config_collector_options(&cfg, "ebpf"), "programs");
    assert_non_null(progs);
    assert_int_equal(progs->kind, HK_YAML_SEQ);
    assert_int_equal(progs->n, 2);
    assert_string_equal(progs->items[0]->scalar, "sched");
    assert_string_equal(progs->items[1]->scalar, "tcp");
    hk_config_free(&cfg);
    /* A bad flag value is reported as a flag, not as a file position. */
    struct hk_config_override bad[] = {
        {"global.collection_interval", "soon", "--collection.interval", false}};
    assert_int_equal(load("global: {}\n", bad, 1, &cfg, &err), -EINVAL);
    assert_string_equal(err.msg, "command-line flag: expected a duration like 10s, 1m30s or "
                                 "500ms, found \"soon\"");
    hk_config_free(&cfg);
    /* A file whose structure a flag would collide with is invalid on its own: the file is
     * blamed, at its position, not the flag. */
    struct hk_config_override clash[] = {
        {"global.collection_interval", "1s", "--collection.interval", false}};
    assert_int_equal(load("global: 5\n", clash, 1, &cfg, &err), -EINVAL);
    assert_non_null(strstr(err.msg, ":1:9: expected a mapping"));
    assert_null(strstr(err.msg, "flag"));
    hk_config_free(&cfg);
    /* An invalid value stays invalid when a flag overrides it (--config.check must say so). */
    assert_int_equal(load("global:\n  collection_interval: 5x\n", clash, 1, &cfg, &err), -EINVAL);
    assert_non_null(strstr(err.msg, ":2:24: expected a duration"));
    hk_config_free(&cfg);
    /* A repeatable flag: its first use replaces the file's list, the next ones append. */
    struct hk_config_override dirs[] = {
        {"collectors.textfile.directory", "/a", "--collector.textfile.directory=/a", false},
        {"collectors.textfile.directory", "/b*", "--collector.textfile.directory=/b*", true},
    };
    r = load("collectors:\n  textfile:\n    directory: [/x, /y]\n", dirs, 2, &cfg, &err);
    if (r < 0)
        fail_msg("%s", err.msg);
    const struct hk_yaml_node *d = hk_yaml_get(hk_config_collector_options(&cfg, "textfile"),
                                               "directory");
    assert_non_null(d);
    assert_int_equal(d->kind, HK_YAML_SEQ);
    assert_int_equal(d->n, 2);
    assert_string_equal(d->items[0]->scalar, "/a");
    assert_string_equal(d->items[1]->scalar, "/b*");
    hk_config_free(&cfg);
}

static void test_missing_file(void **state)
{
    (void)state;
    struct hk_config cfg;
    struct hk_error err = {""};
    hk_config_init(&cfg);
    assert_int_equal(hk_config_load(&cfg, "/nonexistent/hakari.yml", NULL, 0, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "/nonexistent/hakari.yml"));
    hk_config_free(&cfg);
    hk_config_free(NULL);
}

/* External label values are held to limits.max_label_value_length like every other label value:
 * refused at load (Prometheus' label_value_length_limit fails a scrape; nothing is cut), whatever
 * the order of the sections in the file. */
static void test_external_label_limits(void **state)
{
    (void)state;
    expect_error("global:\n  external_labels:\n    cluster: abcdefghi\n"
                 "limits:\n  max_label_value_length: 8\n",
                 ":3:14: external label \"cluster\": value is 9 bytes, over "
                 "limits.max_label_value_length (8)");
    /* Exactly at the limit, and 0 = unlimited. */
    struct hk_config cfg;
    struct hk_error err;
    assert_int_equal(load("limits:\n  max_label_value_length: 8\nglobal:\n  external_labels:\n"
                          "    cluster: abcdefgh\n",
                          NULL, 0, &cfg, &err),
                     0);
    assert_string_equal(cfg.external_labels[0].value, "abcdefgh");
    hk_config_free(&cfg);
    assert_int_equal(load("limits:\n  max_label_value_length: 0\nglobal:\n  external_labels:\n"
                          "    cluster: abcdefghijklmnopqrstuvwxyz\n",
                          NULL, 0, &cfg, &err),
                     0);
    hk_config_free(&cfg);
    /* The default limit (4096 bytes) applies without a limits section. */
    char text[8192];
    int o = snprintf(text, sizeof(text), "global:\n  external_labels:\n    big: ");
    memset(text + o, 'x', 4097);
    snprintf(text + o + 4097, sizeof(text) - (size_t)o - 4097, "\n");
    expect_error(text, ":3:10: external label \"big\": value is 4097 bytes, over "
                       "limits.max_label_value_length (4096)");
    /* A NUL byte would make "a\0b" and "a\0c" the same value "a": refused by the parser. */
    expect_error("global:\n  external_labels:\n    a: \"x\\0y\"\n",
                 ":3:8: a NUL byte (\\0) is not allowed in a string");
}

/* 50k external labels in reverse order: loads (sorted) without quadratic work. */
static void test_many_external_labels(void **state)
{
    (void)state;
    size_t n = 50000, cap = n * 40 + 64, o = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    o += (size_t)snprintf(text, cap, "global:\n  external_labels:\n");
    for (size_t i = n; i-- > 0;)
        o += (size_t)snprintf(text + o, cap - o, "    l%06zu: v%zu\n", i, i);
    struct hk_config cfg;
    struct hk_error err;
    int r = load(text, NULL, 0, &cfg, &err);
    free(text);
    if (r < 0)
        fail_msg("load failed: %s", err.msg);
    assert_int_equal(cfg.n_external_labels, n);
    assert_string_equal(cfg.external_labels[0].name, "l000000");
    assert_string_equal(cfg.external_labels[n - 1].name, "l049999");
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(cfg.external_labels[i - 1].name, cfg.external_labels[i].name) < 0);
    hk_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults), cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_errors),   cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_external_label_limits),
        cmocka_unit_test(test_many_external_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
