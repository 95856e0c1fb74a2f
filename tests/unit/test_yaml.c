/* SPDX-License-Identifier: Apache-2.0 */
/* The YAML tree: positions, errors with file:line:col, env expansion, typed getters, limits. */
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

#include "core/yaml.h"

static struct hk_yaml_node *parse_ok(const char *text)
{
    struct hk_yaml_node *root = NULL;
    struct hk_error err = {""};
    int r = hk_yaml_parse_string("t.yml", text, strlen(text), &root, &err);
    if (r < 0)
        fail_msg("unexpected parse error: %s", err.msg);
    return root;
}

static void parse_fails(const char *text, const char *want_msg_prefix)
{
    struct hk_yaml_node *root = NULL;
    struct hk_error err = {""};
    int r = hk_yaml_parse_string("t.yml", text, strlen(text), &root, &err);
    assert_int_equal(r, -EINVAL);
    assert_null(root);
    if (strncmp(err.msg, want_msg_prefix, strlen(want_msg_prefix)) != 0)
        fail_msg("error \"%s\" does not start with \"%s\"", err.msg, want_msg_prefix);
}

static void test_tree_and_positions(void **state)
{
    (void)state;
    struct hk_yaml_node *root = parse_ok("global:\n"
                                         "  collection_interval: 15s\n"
                                         "  external_labels:\n"
                                         "    cluster: prod\n"
                                         "list:\n"
                                         "  - a\n"
                                         "  - 'b'\n"
                                         "empty:\n"
                                         "quoted_empty: \"\"\n");
    assert_int_equal(root->kind, HK_YAML_MAP);
    const struct hk_yaml_node *g = hk_yaml_get(root, "global");
    assert_non_null(g);
    const struct hk_yaml_node *ci = hk_yaml_get(g, "collection_interval");
    assert_string_equal(ci->scalar, "15s");
    assert_int_equal(ci->line, 2);
    assert_int_equal(ci->col, 24);
    assert_string_equal(g->keys[0]->file, "t.yml");
    const struct hk_yaml_node *l = hk_yaml_get(root, "list");
    assert_int_equal(l->kind, HK_YAML_SEQ);
    assert_int_equal(l->n, 2);
    assert_string_equal(l->items[1]->scalar, "b");
    assert_int_equal(l->items[1]->line, 7);
    assert_true(hk_yaml_get(root, "empty")->plain_null);
    assert_false(hk_yaml_get(root, "quoted_empty")->plain_null);
    assert_null(hk_yaml_get(root, "absent"));
    assert_null(hk_yaml_get(NULL, "x"));
    assert_null(hk_yaml_get(l, "x")); /* not a map */
    hk_yaml_free(root);
    /* An empty document is an empty map. */
    root = parse_ok("");
    assert_int_equal(root->kind, HK_YAML_MAP);
    assert_int_equal(root->n, 0);
    hk_yaml_free(root);
}

static void test_rejections(void **state)
{
    (void)state;
    parse_fails("a: 1\nb: 2\na: 3\n", "t.yml:3:1: duplicate key \"a\" (first at line 1)");
    parse_fails("base: &b {x: 1}\nother: *b\n", "t.yml:1:7: anchors are not supported");
    parse_fails("x: *nope\n", "t.yml:1:4:");
    parse_fails("a: [1, 2\n", "t.yml:");
    parse_fails("? [a]\n: 1\n", "t.yml:1:3: mapping keys must be plain strings");
    parse_fails("a: 1\n---\nb: 2\n", "t.yml:3:1: only one YAML document is allowed");
    /* A NUL byte would end the C string: "a\0b" and "a\0c" would both read as "a". */
    parse_fails("x: \"a\\0b\"\n", "t.yml:1:4: a NUL byte (\\0) is not allowed in a string");
    parse_fails("m:\n  \"k\\0\": v\n", "t.yml:2:3: a NUL byte");
    /* Nesting is bounded (billion-laughs style depth). */
    char deep[400];
    size_t o = 0;
    for (int i = 0; i < 100; i++)
        deep[o++] = '[';
    for (int i = 0; i < 100; i++)
        deep[o++] = ']';
    deep[o] = '\0';
    parse_fails(deep, "t.yml:1:");
}

/* Parse cost must be linear in the number of keys: a 10 MB config of 100k external labels took
 * 28 s (2 min on a busy machine) when each new key was compared with every earlier one. Counted,
 * not timed: key comparisons for 4N keys stay within 4x (+ slack) of those for N keys. */
static uint64_t compares_for_map(size_t nkeys, bool reversed)
{
    size_t cap = nkeys * 32 + 16, o = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    o += (size_t)snprintf(text + o, cap - o, "m:\n");
    for (size_t i = 0; i < nkeys; i++) {
        size_t k = reversed ? nkeys - 1 - i : i;
        o += (size_t)snprintf(text + o, cap - o, "  key_%07zu: v%zu\n", k, k);
    }
    uint64_t before = hk_yaml_key_compares();
    struct hk_yaml_node *root = NULL;
    struct hk_error err = {""};
    int r = hk_yaml_parse_string("big.yml", text, o, &root, &err);
    if (r < 0)
        fail_msg("parse error: %s", err.msg);
    uint64_t used = hk_yaml_key_compares() - before;
    const struct hk_yaml_node *m = hk_yaml_get(root, "m");
    assert_non_null(m);
    assert_int_equal(m->n, nkeys);
    hk_yaml_free(root);
    free(text);
    return used;
}

static void test_large_map_linear(void **state)
{
    (void)state;
    for (int rev = 0; rev < 2; rev++) {
        uint64_t small = compares_for_map(5000, rev), big = compares_for_map(20000, rev);
        /* Quadratic would be ~16x (and ~12.5M comparisons for 5000 keys). */
        if (big > 5 * small || small > 4 * 5000)
            fail_msg("key comparisons not linear: %llu for 5000 keys, %llu for 20000",
                     (unsigned long long)small, (unsigned long long)big);
    }
    /* The duplicate check still works past the hashed threshold. */
    char text[4096];
    size_t o = (size_t)snprintf(text, sizeof(text), "m:\n");
    for (int i = 0; i < 100; i++)
        o += (size_t)snprintf(text + o, sizeof(text) - o, "  k%d: 1\n", i);
    snprintf(text + o, sizeof(text) - o, "  k42: 2\n");
    parse_fails(text, "t.yml:102:3: duplicate key \"k42\" (first at line 44)");
}

static void test_env_expansion(void **state)
{
    (void)state;
    setenv("HK_TEST_NODE", "node-7", 1);
    unsetenv("HK_TEST_UNSET");
    struct hk_yaml_node *root = parse_ok("a: ${HK_TEST_NODE}\n"
                                         "b: pre-${HK_TEST_NODE}-post\n"
                                         "c: cost $$5 and $${HK_TEST_NODE}\n"
                                         "d: x${HK_TEST_UNSET}y\n"
                                         "e: ${unterminated\n"
                                         "f: $HK_TEST_NODE\n"
                                         "g: \"${HK_TEST_NODE}\"\n"
                                         "h: ${}\n");
    assert_string_equal(hk_yaml_get(root, "a")->scalar, "node-7");
    assert_string_equal(hk_yaml_get(root, "b")->scalar, "pre-node-7-post");
    assert_string_equal(hk_yaml_get(root, "c")->scalar, "cost $5 and ${HK_TEST_NODE}");
    assert_string_equal(hk_yaml_get(root, "d")->scalar, "xy");
    assert_string_equal(hk_yaml_get(root, "e")->scalar, "${unterminated");
    assert_string_equal(hk_yaml_get(root, "f")->scalar, "$HK_TEST_NODE"); /* only ${} form */
    assert_string_equal(hk_yaml_get(root, "g")->scalar, "node-7");
    assert_string_equal(hk_yaml_get(root, "h")->scalar, "${}");
    hk_yaml_free(root);
    /* A long expansion grows the buffer. */
    char *big = malloc(10001);
    memset(big, 'v', 10000);
    big[10000] = '\0';
    setenv("HK_TEST_BIG", big, 1);
    root = parse_ok("a: ${HK_TEST_BIG}${HK_TEST_BIG}\n");
    assert_int_equal(strlen(hk_yaml_get(root, "a")->scalar), 20000);
    hk_yaml_free(root);
    free(big);
}

static void test_durations(void **state)
{
    (void)state;
    struct {
        const char *s;
        int64_t ms;
    } ok[] = {{"0", 0},          {"0s", 0},       {"10s", 10000},  {"500ms", 500},
              {"1m30s", 90000},  {"1h", 3600000}, {"1d", 86400000}, {"1w", 604800000},
              {"1y", 31536000000LL}, {"2h45m10s5ms", 9910005}, {"90m", 5400000}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
        int64_t ms = -1;
        assert_int_equal(hk_parse_duration_ms(ok[i].s, &ms), 0);
        assert_true(ms == ok[i].ms);
    }
    const char *bad[] = {"", "10", "s", "1.5s", "-1s", "10S", "1s1m", "1s1s", "1mm", "1 s",
                         "10sx", "1ms1s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        int64_t ms;
        if (hk_parse_duration_ms(bad[i], &ms) == 0)
            fail_msg("duration \"%s\" accepted", bad[i]);
    }
    int64_t ms;
    assert_int_equal(hk_parse_duration_ms("9999999999999999y", &ms), -ERANGE);
    assert_int_equal(hk_parse_duration_ms("99999999999999999999s", &ms), -ERANGE);
    /* Through the tree: error names the position. */
    struct hk_yaml_node *root = parse_ok("i: 10x\nj: 2m\n");
    struct hk_error err = {""};
    assert_int_equal(hk_yaml_duration_ms(hk_yaml_get(root, "i"), &ms, &err), -EINVAL);
    assert_string_equal(err.msg,
                        "t.yml:1:4: expected a duration like 10s, 1m30s or 500ms, found \"10x\"");
    assert_int_equal(hk_yaml_duration_ms(hk_yaml_get(root, "j"), &ms, &err), 0);
    assert_true(ms == 120000);
    hk_yaml_free(root);
}

static void test_sizes(void **state)
{
    (void)state;
    struct {
        const char *s;
        uint64_t v;
    } ok[] = {{"0", 0},          {"123", 123},         {"10B", 10},
              {"10KB", 10000},   {"10KiB", 10240},     {"512MiB", 512ULL << 20},
              {"1GB", 1000000000ULL}, {"2GiB", 2ULL << 30}, {"1TiB", 1ULL << 40}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
        uint64_t v = 1;
        assert_int_equal(hk_parse_bytes(ok[i].s, &v), 0);
        assert_true(v == ok[i].v);
    }
    const char *bad[] = {"", "MiB", "-1", "1.5GB", "10 MiB", "10mib", "10XB", " 1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        uint64_t v;
        if (hk_parse_bytes(bad[i], &v) == 0)
            fail_msg("size \"%s\" accepted", bad[i]);
    }
    uint64_t v;
    assert_int_equal(hk_parse_bytes("20000000TiB", &v), -ERANGE);
    assert_int_equal(hk_parse_bytes("99999999999999999999", &v), -ERANGE);
}

static void test_typed_getters(void **state)
{
    (void)state;
    struct hk_yaml_node *root = parse_ok("t: true\nf: False\nn: 42\nneg: -1\nbig: 300\n"
                                         "s: text\nm: {a: 1}\nbadb: yes\n");
    struct hk_error err = {""};
    bool b;
    uint64_t u;
    char *s;
    assert_int_equal(hk_yaml_bool(hk_yaml_get(root, "t"), &b, &err), 0);
    assert_true(b);
    assert_int_equal(hk_yaml_bool(hk_yaml_get(root, "f"), &b, &err), 0);
    assert_false(b);
    assert_int_equal(hk_yaml_bool(hk_yaml_get(root, "badb"), &b, &err), -EINVAL);
    assert_string_equal(err.msg, "t.yml:8:7: expected true or false, found \"yes\"");
    assert_int_equal(hk_yaml_u64(hk_yaml_get(root, "n"), 0, 100, &u, &err), 0);
    assert_true(u == 42);
    assert_int_equal(hk_yaml_u64(hk_yaml_get(root, "neg"), 0, 100, &u, &err), -EINVAL);
    assert_int_equal(hk_yaml_u64(hk_yaml_get(root, "big"), 0, 255, &u, &err), -EINVAL);
    assert_string_equal(err.msg, "t.yml:5:6: 300 is out of range [0, 255]");
    assert_int_equal(hk_yaml_u64(hk_yaml_get(root, "m"), 0, 255, &u, &err), -EINVAL);
    assert_int_equal(hk_yaml_string(hk_yaml_get(root, "s"), &s, &err), 0);
    assert_string_equal(s, "text");
    free(s);
    assert_int_equal(hk_yaml_expect(hk_yaml_get(root, "m"), HK_YAML_SEQ, &err), -EINVAL);
    assert_string_equal(err.msg, "t.yml:7:4: expected a list, found a mapping");
    static const char *const allowed[] = {"t", "f", NULL};
    assert_int_equal(hk_yaml_check_keys(root, allowed, &err), -EINVAL);
    assert_string_equal(err.msg, "t.yml:3:1: unknown key \"n\" (allowed: t, f)");
    assert_int_equal(hk_yaml_check_keys(NULL, allowed, &err), 0);
    hk_yaml_free(root);
}

static void test_set_path(void **state)
{
    (void)state;
    struct hk_yaml_node *root = parse_ok("collectors:\n  cpu:\n    enabled: false\nglobal:\n"
                                         "scalar: 1\n");
    assert_int_equal(hk_yaml_set_path(root, "collectors.cpu.enabled", "true", "--collector.cpu"),
                     0);
    assert_string_equal(hk_yaml_get(hk_yaml_get(hk_yaml_get(root, "collectors"), "cpu"),
                                    "enabled")->scalar,
                        "true");
    /* Creates missing maps, including under "global:" (null). */
    assert_int_equal(hk_yaml_set_path(root, "global.collection_interval", "5s", "--x"), 0);
    const struct hk_yaml_node *ci = hk_yaml_get(hk_yaml_get(root, "global"), "collection_interval");
    assert_string_equal(ci->scalar, "5s");
    assert_int_equal(ci->line, 0); /* synthetic: errors say "command-line flag" */
    struct hk_error err;
    hk_error_at(&err, ci, "bad");
    assert_string_equal(err.msg, "command-line flag: bad");
    assert_int_equal(hk_yaml_set_path(root, "a.b.c", "v", "--y"), 0);
    assert_string_equal(hk_yaml_get(hk_yaml_get(hk_yaml_get(root, "a"), "b"), "c")->scalar, "v");
    /* A scalar in the way is a conflict. */
    assert_int_equal(hk_yaml_set_path(root, "scalar.x", "v", "--z"), -EINVAL);
    assert_int_equal(hk_yaml_set_path(root, "collectors.cpu", "v", "--z"), -EINVAL);
    assert_int_equal(hk_yaml_set_path(root, "a..b", "v", "--z"), -EINVAL);
    hk_yaml_free(root);
}

/* Repeatable flags: the first use replaces the file's value, each later one appends. */
static void test_append_path(void **state)
{
    (void)state;
    struct hk_yaml_node *root = parse_ok("collectors:\n  textfile:\n    directory: [/f1, /f2]\n"
                                         "  cpu: {x: {y: 1}}\n");
    assert_int_equal(hk_yaml_set_path(root, "collectors.textfile.directory", "/a", "--f"), 0);
    assert_int_equal(hk_yaml_append_path(root, "collectors.textfile.directory", "/b", "--f"), 0);
    assert_int_equal(hk_yaml_append_path(root, "collectors.textfile.directory", "/c*", "--f"), 0);
    const struct hk_yaml_node *d =
        hk_yaml_get(hk_yaml_get(hk_yaml_get(root, "collectors"), "textfile"), "directory");
    assert_int_equal(d->kind, HK_YAML_SEQ);
    assert_int_equal(d->n, 3);
    assert_string_equal(d->items[0]->scalar, "/a");
    assert_string_equal(d->items[1]->scalar, "/b");
    assert_string_equal(d->items[2]->scalar, "/c*");
    /* Nothing there yet: a plain set, creating the maps. */
    assert_int_equal(hk_yaml_append_path(root, "new.key", "v", "--g"), 0);
    assert_string_equal(hk_yaml_get(hk_yaml_get(root, "new"), "key")->scalar, "v");
    assert_int_equal(hk_yaml_append_path(root, "collectors.cpu.x", "v", "--h"), -EINVAL);
    hk_yaml_free(root);
}

static void test_parse_file(void **state)
{
    (void)state;
    struct hk_yaml_node *root = NULL;
    struct hk_error err = {""};
    assert_int_equal(hk_yaml_parse_file("/nonexistent/hk.yml", &root, &err), -ENOENT);
    assert_string_equal(err.msg, "/nonexistent/hk.yml: No such file or directory");
    char path[] = "/tmp/hk-yaml-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    /* Bigger than the first read buffer (16 KiB). */
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i < 3000; i++)
        fprintf(f, "key_%d: value_%d\n", i, i);
    fprintf(f, "bad: [\n");
    fclose(f);
    assert_int_equal(hk_yaml_parse_file(path, &root, &err), -EINVAL);
    char want[64];
    snprintf(want, sizeof(want), "%s:3002:1:", path);
    assert_true(strncmp(err.msg, want, strlen(want)) == 0);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_and_positions), cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_env_expansion),      cmocka_unit_test(test_durations),
        cmocka_unit_test(test_sizes),              cmocka_unit_test(test_typed_getters),
        cmocka_unit_test(test_set_path),           cmocka_unit_test(test_parse_file),
        cmocka_unit_test(test_append_path),
        cmocka_unit_test(test_large_map_linear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
