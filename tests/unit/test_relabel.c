/* SPDX-License-Identifier: Apache-2.0 */
/* Relabelling: a table of cases written from Prometheus' documented relabel_config semantics
 * (every action, missing labels, separators, anchoring, Go template expansion, labelmap order),
 * hashmod against Python-computed vectors and its MD5 (GnuTLS) against RFC 1321's suite,
 * RE2-vs-pcre2 syntax differences, validation errors with file:line:col, pcre2 limits, and the
 * allocation-free steady state. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/yaml.h"
#include "exporter/relabel.h"
#include "exporter/relabel_internal.h"
#include "exporter/relabel_regex.h"
#include "relabel_go_cases.h"
#include "relabel_vectors.h"

#define MAXL 16

static struct hk_relabel_rules *parse_rules(const char *yaml, struct hk_error *err, int *ret)
{
    struct hk_yaml_node *root = NULL;
    struct hk_relabel_rules *rules = NULL;
    memset(err, 0, sizeof(*err));
    int r = hk_yaml_parse_string("test.yml", yaml, strlen(yaml), &root, err);
    if (r < 0)
        fail_msg("YAML of the test itself does not parse: %s\n%s", err->msg, yaml);
    *ret = hk_relabel_parse(root, &rules, err);
    hk_yaml_free(root);
    return rules;
}

static struct hk_relabel_rules *parse_ok(const char *yaml)
{
    struct hk_error err;
    int r;
    struct hk_relabel_rules *rules = parse_rules(yaml, &err, &r);
    if (r < 0)
        fail_msg("relabel config rejected: %s\n%s", err.msg, yaml);
    return rules;
}

static void render(const struct hk_label *l, size_t n, char *out, size_t cap)
{
    size_t w = 0;
    w += (size_t)snprintf(out + w, cap - w, "{");
    for (size_t i = 0; i < n && w < cap; i++)
        w +=
            (size_t)snprintf(out + w, cap - w, "%s%s=\"%s\"", i ? ", " : "", l[i].name, l[i].value);
    if (w < cap)
        snprintf(out + w, cap - w, "}");
}

static size_t to_labels(const char *const *kv, struct hk_label *out)
{
    size_t n = 0;
    for (; kv[2 * n]; n++)
        out[n] = (struct hk_label){.name = kv[2 * n], .value = kv[2 * n + 1]};
    return n;
}

/* ---------------------------------------------------------------------------------------------
 * The behaviour table. want == NULL (all entries) with dropped = true means the series goes. */

struct rcase {
    const char *what;
    const char *yaml;
    const char *in[2 * MAXL + 1];
    bool dropped;
    const char *want[2 * MAXL + 1];
};

static const struct rcase cases[] = {
    /* --- replace --- */
    {"replace copies a value with the default regex and $1",
     "- {source_labels: [job], target_label: service}",
     {"__name__", "up", "job", "api", NULL},
     false,
     {"__name__", "up", "job", "api", "service", "api", NULL}},
    {"a missing source label is the empty string; empty result deletes the target",
     "- {source_labels: [nothere], target_label: job}",
     {"__name__", "up", "job", "api", NULL},
     false,
     {"__name__", "up", NULL}},
    {"values are joined with the default ';'",
     "- {source_labels: [a, b], regex: 'x;(.*)', target_label: c}",
     {"a", "x", "b", "y", NULL},
     false,
     {"a", "x", "b", "y", "c", "y", NULL}},
    {"custom separator",
     "- {source_labels: [a, b], separator: '/', target_label: c}",
     {"a", "x", "b", "y", NULL},
     false,
     {"a", "x", "b", "y", "c", "x/y", NULL}},
    {"empty separator",
     "- {source_labels: [a, b], separator: '', target_label: c}",
     {"a", "x", "b", "y", NULL},
     false,
     {"a", "x", "b", "y", "c", "xy", NULL}},
    {"a missing label in the middle still gets its separators",
     "- {source_labels: [a, gone, b], target_label: c}",
     {"a", "x", "b", "y", NULL},
     false,
     {"a", "x", "b", "y", "c", "x;;y", NULL}},
    {"no match: nothing changes",
     "- {source_labels: [a], regex: 'z.*', target_label: a, replacement: changed}",
     {"a", "x", NULL},
     false,
     {"a", "x", NULL}},
    {"the regex is anchored at both ends",
     "- {source_labels: [a], regex: 'oo', target_label: b, replacement: hit}",
     {"a", "foo", NULL},
     false,
     {"a", "foo", NULL}},
    {"anchoring wraps the whole alternation",
     "- {source_labels: [a], regex: 'f|foo', target_label: b, replacement: hit}",
     {"a", "foo", NULL},
     false,
     {"a", "foo", "b", "hit", NULL}},
    {"anchoring: alternation must still match everything",
     "- {source_labels: [a], regex: 'f|o', target_label: b, replacement: hit}",
     {"a", "foo", NULL},
     false,
     {"a", "foo", NULL}},
    {"two groups swapped with ${n}",
     "- {source_labels: [a], regex: '(\\w+)-(\\w+)', target_label: b, replacement: '${2}_${1}'}",
     {"a", "left-right", NULL},
     false,
     {"a", "left-right", "b", "right_left", NULL}},
    {"Go template: $2_ names group \"2_\", which does not exist",
     "- {source_labels: [a], regex: '(\\w+)-(\\w+)', target_label: b, replacement: '$2_$1'}",
     {"a", "left-right", NULL},
     false,
     {"a", "left-right", "b", "left", NULL}},
    {"named groups, both syntaxes, $name and ${name}",
     "- source_labels: [addr]\n"
     "  regex: '(?P<host>[^:]+):(?<port>\\d+)'\n"
     "  target_label: ep\n"
     "  replacement: '${port}@$host'\n",
     {"addr", "10.1.2.3:9100", NULL},
     false,
     {"addr", "10.1.2.3:9100", "ep", "9100@10.1.2.3", NULL}},
    {"$$ is a literal dollar",
     "- {source_labels: [a], regex: '(\\d+)', target_label: price, replacement: 'USD$$$1'}",
     {"a", "42", NULL},
     false,
     {"a", "42", "price", "USD$42", NULL}},
    {"$$1 is a literal $1",
     "- {source_labels: [a], target_label: b, replacement: '$$1'}",
     {"a", "v", NULL},
     false,
     {"a", "v", "b", "$1", NULL}},
    {"an unknown group and an unset optional group expand to nothing",
     "- {source_labels: [a], regex: '(a)(b)?', target_label: b, replacement: '[$2|$7|${9}]'}",
     {"a", "a", NULL},
     false,
     {"a", "a", "b", "[||]", NULL}},
    {"$1x names group \"1x\": empty, so the target is deleted",
     "- {source_labels: [a], regex: '(a)', target_label: b, replacement: '$1x'}",
     {"a", "a", "b", "old", NULL},
     false,
     {"a", "a", NULL}},
    {"${1}x keeps the x",
     "- {source_labels: [a], regex: '(a)', target_label: b, replacement: '${1}x'}",
     {"a", "a", NULL},
     false,
     {"a", "a", "b", "ax", NULL}},
    {"malformed references stay literal: trailing $, ${1, ${}, $-",
     "- {source_labels: [a], regex: '(a)', target_label: b, replacement: 'p$ ${1 ${} $-'}",
     {"a", "a", NULL},
     false,
     {"a", "a", "b", "p$ ${1 ${} $-", NULL}},
    {"leading zero and huge numbers are names, not group numbers",
     "- {source_labels: [a], regex: '(a)', target_label: b, replacement: '<$01><$100000000>'}",
     {"a", "a", NULL},
     false,
     {"a", "a", "b", "<><>", NULL}},
    {"a non-ASCII letter continues a template name (Go's unicode.IsLetter)",
     "- {source_labels: [a], regex: '(a)', target_label: b, replacement: 'x$1é-${1}é'}",
     {"a", "a", NULL},
     false,
     {"a", "a", "b", "x-aé", NULL}},
    {"target label from a template",
     "- {source_labels: [a], regex: 'key-(\\w+)=(.*)', target_label: 'tag_$1', replacement: $2}",
     {"a", "key-zone=eu-1", NULL},
     false,
     {"a", "key-zone=eu-1", "tag_zone", "eu-1", NULL}},
    {"a target template expanding to an invalid name is skipped",
     "- {source_labels: [a], regex: '(.*)', target_label: '${1}', replacement: v}",
     {"a", "9lives", NULL},
     false,
     {"a", "9lives", NULL}},
    {"explicit empty replacement deletes the target",
     "- {source_labels: [a], regex: 'x', target_label: b, replacement: ''}",
     {"a", "x", "b", "gone", NULL},
     false,
     {"a", "x", NULL}},
    {"static label without source labels",
     "- {target_label: env, replacement: prod}",
     {"__name__", "up", NULL},
     false,
     {"__name__", "up", "env", "prod", NULL}},
    {"static label overwrites an existing one",
     "- {target_label: env, replacement: prod}",
     {"env", "dev", NULL},
     false,
     {"env", "prod", NULL}},
    {"(?s): dot matches a newline",
     "- {source_labels: [a], regex: 'a.b', target_label: m, replacement: yes}",
     {"a", "a\nb", NULL},
     false,
     {"a", "a\nb", "m", "yes", NULL}},
    {"$ is the end of the text, not before a final newline",
     "- {source_labels: [a], regex: 'a', target_label: m, replacement: yes}",
     {"a", "a\n", NULL},
     false,
     {"a", "a\n", NULL}},
    {"(?m) makes ^ and $ line anchors",
     "- {source_labels: [a], regex: '(?m)x\\n^(b)$\\n', target_label: m}",
     {"a", "x\nb\n", NULL},
     false,
     {"a", "x\nb\n", "m", "b", NULL}},
    {"(?i) case-insensitive, also for non-ASCII",
     "- {source_labels: [a], regex: '(?i)GRÖSSE', target_label: m, replacement: yes}",
     {"a", "grösse", NULL},
     false,
     {"a", "grösse", "m", "yes", NULL}},
    {"UTF-8: . is one character",
     "- {source_labels: [a], regex: '(.)(.)', target_label: m, replacement: '$2$1'}",
     {"a", "éñ", NULL},
     false,
     {"a", "éñ", "m", "ñé", NULL}},
    {"\\d is ASCII only, as in RE2",
     "- {source_labels: [a], regex: '\\d+', target_label: m, replacement: yes}",
     {"a", "١٢", NULL},
     false,
     {"a", "١٢", NULL}},
    {"\\pN matches any Unicode number",
     "- {source_labels: [a], regex: '\\pN+', target_label: m, replacement: yes}",
     {"a", "١٢3", NULL},
     false,
     {"a", "١٢3", "m", "yes", NULL}},
    {"\\s is [\\t\\n\\f\\r ] (no vertical tab), as in RE2",
     "- {source_labels: [a], regex: 'a\\sb', target_label: m, replacement: yes}",
     {"a", "a\vb", NULL},
     false,
     {"a", "a\vb", NULL}},
    {"\\v is the vertical tab character",
     "- {source_labels: [a], regex: 'a\\vb', target_label: m, replacement: yes}",
     {"a", "a\vb", NULL},
     false,
     {"a", "a\vb", "m", "yes", NULL}},
    {"octal escape \\101 is 'A', not a backreference",
     "- {source_labels: [a], regex: '\\101\\12', target_label: m, replacement: yes}",
     {"a", "A\n", NULL},
     false,
     {"a", "A\n", "m", "yes", NULL}},
    {"a '{' that is not a repeat is literal",
     "- {source_labels: [a], regex: 'a{,2}x{01}', target_label: m, replacement: yes}",
     {"a", "a{,2}x{01}", NULL},
     false,
     {"a", "a{,2}x{01}", "m", "yes", NULL}},
    {"bounded repeat",
     "- {source_labels: [a], regex: '(ab){2,3}', target_label: m, replacement: '$1'}",
     {"a", "ababab", NULL},
     false,
     {"a", "ababab", "m", "ab", NULL}},
    {"\\Q...\\E quotes metacharacters",
     "- {source_labels: [a], regex: '\\Q(*.+)\\E', target_label: m, replacement: yes}",
     {"a", "(*.+)", NULL},
     false,
     {"a", "(*.+)", "m", "yes", NULL}},
    {"a dash after a class escape is literal ([\\d-z] is digit, '-' or 'z')",
     "- {source_labels: [a], regex: '[\\d-z]+', target_label: m, replacement: yes}",
     {"a", "1-z", NULL},
     false,
     {"a", "1-z", "m", "yes", NULL}},
    {"POSIX classes and ']' first in a class",
     "- {source_labels: [a], regex: '[[:alpha:]]+[]x]', target_label: m, replacement: yes}",
     {"a", "abc]", NULL},
     false,
     {"a", "abc]", "m", "yes", NULL}},
    {"lazy quantifiers and leftmost-first groups",
     "- {source_labels: [a], regex: '(.*?)(\\d*)', target_label: m, replacement: '$1|$2'}",
     {"a", "ab12", NULL},
     false,
     {"a", "ab12", "m", "ab|12", NULL}},
    {"alternation order decides the groups (leftmost-first)",
     "- {source_labels: [a], regex: '(a|ab)(c|bcd)', target_label: m, replacement: '$1/$2'}",
     {"a", "abcd", NULL},
     false,
     {"a", "abcd", "m", "a/bcd", NULL}},
    {"regex: null is the empty regex (matches only the empty value)",
     "- {source_labels: [gone], regex: null, target_label: m, replacement: empty}",
     {"a", "x", NULL},
     false,
     {"a", "x", "m", "empty", NULL}},
    {"replace of the metric name",
     "- {source_labels: [__name__], regex: 'container_(.*)', target_label: __name__, "
     "replacement: 'ctr_$1'}",
     {"__name__", "container_cpu_usage_seconds_total", NULL},
     false,
     {"__name__", "ctr_cpu_usage_seconds_total", NULL}},

    /* --- keep / drop --- */
    {"keep on match",
     "- {source_labels: [job], regex: 'api|web', action: keep}",
     {"__name__", "up", "job", "web", NULL},
     false,
     {"__name__", "up", "job", "web", NULL}},
    {"keep drops on no match",
     "- {source_labels: [job], regex: 'api|web', action: keep}",
     {"__name__", "up", "job", "db", NULL},
     true,
     {NULL}},
    {"drop on match",
     "- {source_labels: [__name__], regex: 'go_.*', action: drop}",
     {"__name__", "go_goroutines", NULL},
     true,
     {NULL}},
    {"drop keeps on no match",
     "- {source_labels: [__name__], regex: 'go_.*', action: drop}",
     {"__name__", "up", NULL},
     false,
     {"__name__", "up", NULL}},
    {"drop series lacking a label: missing is the empty string",
     "- {source_labels: [pod], regex: '', action: drop}",
     {"__name__", "up", NULL},
     true,
     {NULL}},
    {"keep with the default regex keeps everything",
     "- {source_labels: [x], action: keep}",
     {"a", "b", NULL},
     false,
     {"a", "b", NULL}},
    {"action names are case-insensitive",
     "- {source_labels: [a], regex: 'b', action: DROP}",
     {"a", "b", NULL},
     true,
     {NULL}},
    {"keep on joined values",
     "- {source_labels: [ns, pod], regex: 'kube-system;coredns-.*', action: keep}",
     {"ns", "kube-system", "pod", "coredns-1", NULL},
     false,
     {"ns", "kube-system", "pod", "coredns-1", NULL}},

    /* --- keepequal / dropequal --- */
    {"keepequal keeps when target equals the joined sources",
     "- {source_labels: [a], target_label: b, action: keepequal}",
     {"a", "1", "b", "1", NULL},
     false,
     {"a", "1", "b", "1", NULL}},
    {"keepequal drops when they differ",
     "- {source_labels: [a], target_label: b, action: keepequal}",
     {"a", "1", "b", "2", NULL},
     true,
     {NULL}},
    {"keepequal: two missing labels are equal",
     "- {source_labels: [x], target_label: y, action: keepequal}",
     {"a", "1", NULL},
     false,
     {"a", "1", NULL}},
    {"keepequal compares with the joined value",
     "- {source_labels: [a, b], target_label: c, action: keepequal}",
     {"a", "1", "b", "2", "c", "1;2", NULL},
     false,
     {"a", "1", "b", "2", "c", "1;2", NULL}},
    {"dropequal drops when equal",
     "- {source_labels: [a], target_label: b, action: dropequal}",
     {"a", "1", "b", "1", NULL},
     true,
     {NULL}},
    {"dropequal keeps when different",
     "- {source_labels: [a], target_label: b, action: dropequal}",
     {"a", "1", "b", "2", NULL},
     false,
     {"a", "1", "b", "2", NULL}},

    /* --- labelmap --- */
    {"labelmap copies matching labels under new names",
     "- {regex: '__meta_kubernetes_pod_label_(.+)', action: labelmap}",
     {"__meta_kubernetes_pod_label_app", "web", "__meta_kubernetes_pod_label_tier", "front", "job",
      "k", NULL},
     false,
     {"__meta_kubernetes_pod_label_app", "web", "__meta_kubernetes_pod_label_tier", "front", "app",
      "web", "job", "k", "tier", "front", NULL}},
    {"labelmap with a replacement template",
     "- {regex: 'label_(.+)', replacement: 'k8s_${1}', action: labelmap}",
     {"label_app", "web", NULL},
     false,
     {"k8s_app", "web", "label_app", "web", NULL}},
    {"labelmap: names that come out invalid are skipped",
     "- {regex: 'l_(.*)', action: labelmap}",
     {"l_", "empty", "l_9a", "digit", "l_ok", "yes", NULL},
     false,
     {"l_", "empty", "l_9a", "digit", "l_ok", "yes", "ok", "yes", NULL}},
    {"labelmap collision: input labels are visited by name, the last wins",
     "- {regex: '[ab]_(x)', action: labelmap}",
     {"a_x", "1", "b_x", "2", NULL},
     false,
     {"a_x", "1", "b_x", "2", "x", "2", NULL}},
    {"labelmap collision: labels set by earlier rules are visited after untouched ones",
     "- {target_label: a_x, replacement: '9'}\n"
     "- {regex: '[ab]_(x)', action: labelmap}",
     {"a_x", "1", "b_x", "2", NULL},
     false,
     {"a_x", "9", "b_x", "2", "x", "9", NULL}},
    {"labelmap collision: added labels are visited in insertion order",
     "- {target_label: d_x, replacement: first}\n"
     "- {target_label: c_x, replacement: second}\n"
     "- {regex: '[cd]_(x)', action: labelmap}",
     {"z", "1", NULL},
     false,
     {"c_x", "second", "d_x", "first", "x", "second", "z", "1", NULL}},
    {"a name shared by two groups expands to the first that took part (Go's Expand)",
     "- {source_labels: [a], regex: '(?P<n>x)-(?P<n>y)|(?P<n>z)', target_label: b, "
     "replacement: '[$n]'}\n"
     "- {source_labels: [c], regex: '(?P<n>x)-(?P<n>y)|(?P<n>z)', target_label: d, "
     "replacement: '[$n]'}",
     {"a", "x-y", "c", "z", NULL},
     false,
     {"a", "x-y", "b", "[x]", "c", "z", "d", "[z]", NULL}},
    {"a quantifier after a flag group repeats the item before it",
     "- {source_labels: [a], regex: 'ab(?i)*C', target_label: m, replacement: yes}",
     {"a", "abbbc", NULL},
     false,
     {"a", "abbbc", "m", "yes", NULL}},
    {"repeated assertions are accepted, as RE2 does",
     "- {source_labels: [a], regex: '^*a\\b+$?', target_label: m, replacement: yes}",
     {"a", "a", NULL},
     false,
     {"a", "a", "m", "yes", NULL}},
    {"labelmap overwrites an existing label",
     "- {regex: 'src_(.+)', action: labelmap}",
     {"app", "old", "src_app", "new", NULL},
     false,
     {"app", "new", "src_app", "new", NULL}},

    /* --- labeldrop / labelkeep --- */
    {"labeldrop removes matching names",
     "- {regex: 'tmp_.*', action: labeldrop}",
     {"__name__", "up", "tmp_a", "1", "tmp_b", "2", "x", "3", NULL},
     false,
     {"__name__", "up", "x", "3", NULL}},
    {"labeldrop: the regex is anchored on names",
     "- {regex: 'tmp', action: labeldrop}",
     {"tmp", "1", "tmp_b", "2", NULL},
     false,
     {"tmp_b", "2", NULL}},
    {"labelkeep keeps only matching names",
     "- {regex: '__name__|job|instance', action: labelkeep}",
     {"__name__", "up", "instance", "i", "job", "j", "pod", "p", NULL},
     false,
     {"__name__", "up", "instance", "i", "job", "j", NULL}},
    {"dropping every label drops the series",
     "- {regex: '.*', action: labeldrop}",
     {"__name__", "up", NULL},
     true,
     {NULL}},

    /* --- lowercase / uppercase --- */
    {"lowercase ASCII",
     "- {source_labels: [a], target_label: b, action: lowercase}",
     {"a", "Hello-WORLD_1", NULL},
     false,
     {"a", "Hello-WORLD_1", "b", "hello-world_1", NULL}},
    {"uppercase Unicode (simple case mapping: ß has no single-character upper case)",
     "- {source_labels: [a], target_label: a, action: uppercase}",
     {"a", "größe μs ǆ", NULL},
     false,
     {"a", "GRÖßE ΜS Ǆ", NULL}},
    {"lowercase Unicode, length may change (Ⱥ is 2 bytes, ⱥ is 3)",
     "- {source_labels: [a, b], separator: '+', target_label: c, action: lowercase}",
     {"a", "ÀÉÎ", "b", "Ⱥ", NULL},
     false,
     {"a", "ÀÉÎ", "b", "Ⱥ", "c", "àéî+ⱥ", NULL}},
    {"lowercase of a missing label deletes the target",
     "- {source_labels: [gone], target_label: b, action: lowercase}",
     {"a", "1", "b", "x", NULL},
     false,
     {"a", "1", NULL}},

    /* --- sequences and input handling --- */
    {"rules apply in order; later rules see earlier results",
     "- {source_labels: [__address__], regex: '(.*):\\d+', target_label: host}\n"
     "- {source_labels: [host], regex: 'db-.*', action: drop}\n"
     "- {regex: '__address__', action: labeldrop}",
     {"__address__", "web-1:80", "__name__", "up", NULL},
     false,
     {"__name__", "up", "host", "web-1", NULL}},
    {"the same chain drops a db host",
     "- {source_labels: [__address__], regex: '(.*):\\d+', target_label: host}\n"
     "- {source_labels: [host], regex: 'db-.*', action: drop}",
     {"__address__", "db-1:5432", "__name__", "up", NULL},
     true,
     {NULL}},
    {"input labels with empty values are absent",
     "- {source_labels: [e], regex: '', target_label: was_empty, replacement: yes}",
     {"a", "1", "e", "", NULL},
     false,
     {"a", "1", "was_empty", "yes", NULL}},
    {"unsorted input is sorted",
     "- {target_label: m, replacement: x}",
     {"z", "1", "a", "2", NULL},
     false,
     {"a", "2", "m", "x", "z", "1", NULL}},
    {"no rules: input returned as is",
     "[]",
     {"__name__", "up", "a", "1", NULL},
     false,
     {"__name__", "up", "a", "1", NULL}},
};

static void run_case(const struct rcase *c, struct hk_relabel_result *out)
{
    struct hk_relabel_rules *rules = parse_ok(c->yaml);
    struct hk_label in[MAXL];
    size_t n = to_labels(c->in, in);
    int r = hk_relabel_apply(rules, in, n, out);
    char got[2048], want[2048];
    render(out->labels, out->n, got, sizeof(got));
    if (c->dropped) {
        if (r != 0)
            fail_msg("%s: want dropped, got r=%d %s", c->what, r, got);
    } else {
        struct hk_label wl[MAXL];
        size_t wn = to_labels(c->want, wl);
        render(wl, wn, want, sizeof(want));
        if (r != 1 || strcmp(got, want) != 0)
            fail_msg("%s:\n  rules %s\n  got  r=%d %s\n  want %s", c->what, c->yaml, r, got, want);
    }
    hk_relabel_free(rules);
}

static void test_table(void **state)
{
    struct hk_relabel_result out = {0};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i], &out);
    hk_relabel_result_free(&out);
    /* A fresh result per case gives the same answers as a reused one. */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hk_relabel_result fresh = {0};
        run_case(&cases[i], &fresh);
        hk_relabel_result_free(&fresh);
    }
}

static void test_hashmod_vectors(void **state)
{
    struct hk_relabel_result out = {0};
    for (size_t v = 0; v < sizeof(hashmod_vectors) / sizeof(hashmod_vectors[0]); v++) {
        const struct hashmod_vector *hv = &hashmod_vectors[v];
        static const char *const names[] = {"s0", "s1", "s2", "s3"};
        char yaml[512];
        snprintf(yaml, sizeof(yaml),
                 "- source_labels: [%s%s%s%s%s%s%s]\n"
                 "  separator: \"%s\"\n"
                 "  modulus: %s\n"
                 "  target_label: shard\n"
                 "  action: hashmod\n",
                 names[0], hv->n_values > 1 ? ", " : "", hv->n_values > 1 ? names[1] : "",
                 hv->n_values > 2 ? ", " : "", hv->n_values > 2 ? names[2] : "",
                 hv->n_values > 3 ? ", " : "", hv->n_values > 3 ? names[3] : "", hv->separator,
                 hv->modulus);
        struct hk_relabel_rules *rules = parse_ok(yaml);
        struct hk_label in[4];
        size_t n = 0;
        for (size_t k = 0; k < hv->n_values; k++)
            if (hv->values[k][0])
                in[n++] = (struct hk_label){.name = names[k], .value = hv->values[k]};
        assert_int_equal(hk_relabel_apply(rules, in, n, &out), 1);
        const char *got = hk_labels_get(out.labels, out.n, "shard");
        assert_non_null(got);
        if (strcmp(got, hv->expected) != 0)
            fail_msg("hashmod vector %zu (modulus %s): got %s want %s", v, hv->modulus, got,
                     hv->expected);
        hk_relabel_free(rules);
    }
    hk_relabel_result_free(&out);
}

/* hashmod with modulus 2^64-1 shows bytes 8..15 of the MD5 digest (big-endian, as Prometheus
 * reads them), which GnuTLS computes: returns that label for value v ("" = no source label). */
static uint64_t hashmod_low_half(struct hk_relabel_rules *rules, const char *v,
                                 struct hk_relabel_result *out)
{
    struct hk_label in[1] = {{.name = "s0", .value = v}};
    assert_int_equal(hk_relabel_apply(rules, in, v[0] ? 1 : 0, out), 1);
    const char *got = hk_labels_get(out->labels, out->n, "shard");
    assert_non_null(got);
    char *end;
    errno = 0;
    uint64_t h = strtoull(got, &end, 10);
    assert_true(errno == 0 && *end == '\0');
    return h;
}

/* The digest's low half from its hex form, reduced as hashmod reduces it. */
static uint64_t want_low_half(const char *hex)
{
    assert_int_equal(strlen(hex), 32);
    uint64_t h = 0;
    for (size_t i = 16; i < 32; i++)
        h = h << 4 | (uint64_t)(hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
    return h % UINT64_MAX;
}

static void test_hashmod_md5_digests(void **state)
{
    /* RFC 1321 appendix A.5. */
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
    struct hk_relabel_rules *rules = parse_ok("- source_labels: [s0]\n"
                                              "  modulus: 18446744073709551615\n"
                                              "  target_label: shard\n"
                                              "  action: hashmod\n");
    struct hk_relabel_result out = {0};
    for (size_t i = 0; i < sizeof(suite) / sizeof(suite[0]); i++)
        if (hashmod_low_half(rules, suite[i].in, &out) != want_low_half(suite[i].hex))
            fail_msg("RFC 1321 \"%s\": digest low half differs from %s", suite[i].in, suite[i].hex);
    /* Lengths around the 56/64-byte padding edges, digests from Python's hashlib. */
    static char buf[65538];
    for (size_t v = 0; v < sizeof(md5_vectors) / sizeof(md5_vectors[0]); v++) {
        size_t n = md5_vectors[v].len;
        assert_true(n < sizeof(buf));
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)(0x21 + (i * 31 + 7) % 94);
        buf[n] = '\0';
        if (hashmod_low_half(rules, buf, &out) != want_low_half(md5_vectors[v].hex))
            fail_msg("length %zu: digest low half differs from %s", n, md5_vectors[v].hex);
    }
    hk_relabel_free(rules);
    hk_relabel_result_free(&out);
}

/* ---------------------------------------------------------------------------------------------
 * Validation: Prometheus' messages, at the position of the offending node. */

struct vcase {
    const char *yaml;
    const char *want; /* substring of the error, including file:line:col */
};

static const struct vcase invalid[] = {
    {"- source_labels: [a]\n", "test.yml:1:3: relabel configuration for replace action requires "
                               "'target_label' value"},
    {"- action: hashmod\n  target_label: s\n",
     "test.yml:1:3: relabel configuration for hashmod requires non-zero modulus"},
    {"- action: hashmod\n  target_label: s\n  modulus: 0\n",
     "test.yml:3:12: relabel configuration for hashmod requires non-zero modulus"},
    {"- action: hashmod\n  modulus: 8\n",
     "relabel configuration for hashmod action requires 'target_label' value"},
    {"- action: hashmod\n  modulus: 8\n  target_label: '$1'\n",
     "test.yml:3:17: \"$1\" is invalid 'target_label' for hashmod action"},
    {"- action: hashmod\n  modulus: -1\n  target_label: s\n", "test.yml:2:12:"},
    {"- action: foo\n", "test.yml:1:11: unknown relabel action \"foo\""},
    {"- action: ''\n", "test.yml:1:11: relabel action cannot be empty"},
    {"- target_label: 1abc\n",
     "test.yml:1:17: \"1abc\" is invalid 'target_label' for replace action"},
    {"- target_label: a-b\n", "\"a-b\" is invalid 'target_label' for replace action"},
    {"- target_label: '${1'\n", "\"${1\" is invalid 'target_label' for replace action"},
    {"- target_label: '$1-x'\n", "\"$1-x\" is invalid 'target_label' for replace action"},
    {"- {action: lowercase, source_labels: [a]}\n",
     "relabel configuration for lowercase action requires 'target_label' value"},
    {"- {action: uppercase, target_label: 'x$1'}\n",
     "\"x$1\" is invalid 'target_label' for uppercase action"},
    {"- action: lowercase\n  target_label: b\n  replacement: x\n",
     "test.yml:3:16: 'replacement' can not be set for lowercase action"},
    {"- action: keepequal\n  target_label: b\n  regex: '(.*)'\n",
     "test.yml:1:3: keepequal action requires only 'source_labels' and `target_label`, and no "
     "other fields"},
    {"- {action: dropequal, target_label: b, separator: ','}\n",
     "dropequal action requires only 'source_labels' and `target_label`, and no other fields"},
    {"- {action: dropequal, target_label: b, modulus: 3}\n",
     "dropequal action requires only 'source_labels' and `target_label`"},
    {"- {action: keepequal, source_labels: [a]}\n",
     "relabel configuration for keepequal action requires 'target_label' value"},
    {"- {action: labeldrop, regex: x, source_labels: [a]}\n",
     "test.yml:1:3: labeldrop action requires only 'regex', and no other fields"},
    {"- {action: labelkeep, regex: x, source_labels: []}\n",
     "labelkeep action requires only 'regex', and no other fields"},
    {"- {action: labelkeep, regex: x, target_label: y}\n",
     "labelkeep action requires only 'regex', and no other fields"},
    {"- {action: labeldrop, regex: x, replacement: y}\n",
     "labeldrop action requires only 'regex', and no other fields"},
    {"- {action: labelmap, regex: 'a(.*)', replacement: '1$1'}\n",
     "\"1$1\" is invalid 'replacement' for labelmap action"},
    {"- {action: labelmap, regex: 'a(.*)', replacement: 'x-$1'}\n",
     "\"x-$1\" is invalid 'replacement' for labelmap action"},
    {"- source_labels: [a, 'b-c']\n  target_label: x\n",
     "test.yml:1:22: \"b-c\" is not a valid label name"},
    {"- source_labels: a\n  target_label: x\n", "test.yml:1:18:"},
    {"- sorce_labels: [a]\n", "test.yml:1:3: unknown key \"sorce_labels\""},
    {"source_labels: [a]\n", "test.yml:1:1:"},
    {"- [a]\n", "test.yml:1:3:"},
    /* Regexes RE2 does not accept. */
    {"- {source_labels: [a], target_label: b, regex: '(a)\\1'}\n",
     "test.yml:1:48: invalid regex \"(a)\\1\": backreferences are not supported"},
    {"- {source_labels: [a], target_label: b, regex: '(?P<n>a)\\k<n>'}\n",
     "backreferences are not supported"},
    {"- {source_labels: [a], target_label: b, regex: 'a(?=b)'}\n",
     "lookahead assertions (?= are not supported"},
    {"- {source_labels: [a], target_label: b, regex: 'a(?!b)'}\n",
     "lookahead assertions (?! are not supported"},
    {"- {source_labels: [a], target_label: b, regex: '(?<=a)b'}\n",
     "lookbehind assertions (?<= are not supported"},
    {"- {source_labels: [a], target_label: b, regex: '(?<!a)b'}\n",
     "lookbehind assertions (?<! are not supported"},
    {"- {source_labels: [a], target_label: b, regex: '(?>a+)b'}\n",
     "atomic groups (?> are not supported"},
    {"- {source_labels: [a], target_label: b, regex: 'a*+'}\n",
     "invalid nested repetition operator: +"},
    {"- {source_labels: [a], target_label: b, regex: 'a**'}\n",
     "invalid nested repetition operator: *"},
    {"- {source_labels: [a], target_label: b, regex: 'a{2}{3}'}\n",
     "invalid nested repetition operator: {3}"},
    {"- {source_labels: [a], target_label: b, regex: 'a{1001}'}\n", "invalid repeat count: {1001}"},
    {"- {source_labels: [a], target_label: b, regex: 'a{3,2}'}\n", "invalid repeat count: {3,2}"},
    {"- {source_labels: [a], target_label: b, regex: '*a'}\n",
     "missing argument to repetition operator: *"},
    {"- {source_labels: [a], target_label: b, regex: 'a|+'}\n",
     "missing argument to repetition operator: +"},
    {"- {source_labels: [a], target_label: b, regex: '(*UTF)a'}\n",
     "missing argument to repetition operator: *"},
    {"- {source_labels: [a], target_label: b, regex: 'a\\Z'}\n", "unsupported escape sequence \\Z"},
    {"- {source_labels: [a], target_label: b, regex: 'a\\Kb'}\n",
     "unsupported escape sequence \\K"},
    {"- {source_labels: [a], target_label: b, regex: '\\Ga'}\n", "unsupported escape sequence \\G"},
    {"- {source_labels: [a], target_label: b, regex: 'a\\hb'}\n",
     "unsupported escape sequence \\h"},
    {"- {source_labels: [a], target_label: b, regex: '[\\b]'}\n",
     "unsupported escape sequence \\b"},
    {"- {source_labels: [a], target_label: b, regex: '(?#note)a'}\n",
     "comments (?# are not supported"},
    {"- {source_labels: [a], target_label: b, regex: '(?x)a b'}\n",
     "invalid or unsupported Perl syntax: (?x"},
    {"- {source_labels: [a], target_label: b, regex: '(?i-)a'}\n",
     "invalid or unsupported Perl syntax: (?i-)"},
    {"- {source_labels: [a], target_label: b, regex: '(?R)'}\n", "are not supported (RE2 syntax)"},
    {"- {source_labels: [a], target_label: b, regex: '(?P<n-x>a)'}\n", "invalid named capture"},
    {"- {source_labels: [a], target_label: b, regex: '(a'}\n", "missing closing )"},
    {"- {source_labels: [a], target_label: b, regex: 'a)b'}\n", "unexpected )"},
    {"- {source_labels: [a], target_label: b, regex: '[z-a]'}\n",
     "invalid character class range: z-a"},
    {"- {source_labels: [a], target_label: b, regex: '[[:foo:]]'}\n",
     "invalid character class range: [:foo:]"},
    {"- {source_labels: [a], target_label: b, regex: '[a'}\n", "missing closing ]"},
    {"- {source_labels: [a], target_label: b, regex: 'a\\'}\n", "missing closing )"},
    {"- {source_labels: [a], target_label: b, regex: '\\x{110000}'}\n", "beyond U+10FFFF"},
    {"- {source_labels: [a], target_label: b, regex: '\\p{'}\n", "invalid character class range"},
    {"- {source_labels: [a], target_label: b, regex: '\\8'}\n", "backreferences are not supported"},
};

static void test_validation_errors(void **state)
{
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        struct hk_error err;
        int r;
        struct hk_relabel_rules *rules = parse_rules(invalid[i].yaml, &err, &r);
        if (r != -EINVAL) {
            hk_relabel_free(rules);
            fail_msg("accepted (r=%d) but should fail with \"%s\":\n%s", r, invalid[i].want,
                     invalid[i].yaml);
        }
        assert_null(rules);
        if (!strstr(err.msg, invalid[i].want))
            fail_msg("error for\n%s  got  %s\n  want ...%s...", invalid[i].yaml, err.msg,
                     invalid[i].want);
    }
}

/* Valid configs Prometheus accepts, including RE2 syntax pcre2 would read differently. */
static const char *const valid[] = {
    "null",
    "[]",
    "- {target_label: x, replacement: y}",
    "- {target_label: 'lbl_$1'}",
    "- {target_label: 'l${1}_${name}'}",
    "- {source_labels: [a], action: keep, regex: '(?i)abc|d{2,}|[[:^alpha:]]+'}",
    "- {action: labelmap, regex: 'x_(.*)', replacement: '${1}'}",
    "- {action: labeldrop, regex: 'tmp_.*'}",
    "- {action: keepequal, source_labels: [a], target_label: b, replacement: '$1', separator: ';'}",
    "- {action: lowercase, source_labels: [a], target_label: b, replacement: '$1'}",
    "- {action: hashmod, source_labels: [a], modulus: 18446744073709551615, target_label: s}",
    "- {source_labels: [a], target_label: b, regex: '\\pL\\p{Greek}\\PN\\p{^Han}[\\p{Lu}\\d]'}",
    "- {source_labels: [a], target_label: b, regex: '(?U)a+(?i-s:b.)(?:c)(?s)d'}",
    "- {source_labels: [a], target_label: b, regex: '[]a][^]a][a-][-a]\\x41\\x{1F600}\\Q(*\\E'}",
    "- {source_labels: [a], target_label: b, regex: '\\A\\b\\B\\z^$.|\\t\\n\\r\\f\\a\\v\\0'}",
    "- {source_labels: [a], target_label: b, regex: 'a{1000}b{0,1000}c{5,}'}",
    "- {source_labels: [a], target_label: b, regex: '#\\#\\ \\-\\!\\\"\\~'}",
    "- {source_labels: [a], target_label: b, regex: '(?P<host>.*)(?<port>\\d+)'}",
    "- source_labels: [a]\n  separator:\n  regex:\n  modulus:\n  target_label: b\n",
    "- action: Replace\n  target_label: b\n",
};

static void test_valid_configs(void **state)
{
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        struct hk_error err;
        int r;
        struct hk_relabel_rules *rules = parse_rules(valid[i], &err, &r);
        if (r < 0)
            fail_msg("rejected: %s\n%s", err.msg, valid[i]);
        hk_relabel_free(rules);
    }
    struct hk_relabel_rules *rules = NULL;
    struct hk_error err;
    assert_int_equal(hk_relabel_parse(NULL, &rules, &err), 0);
    assert_int_equal(hk_relabel_count(rules), 0);
    hk_relabel_free(rules);
    rules = parse_ok("- {target_label: a}\n- {target_label: b}\n- {target_label: c}\n");
    assert_int_equal(hk_relabel_count(rules), 3);
    hk_relabel_free(rules);
}

/* ${1} and $$ reach the relabel rules as written (the YAML layer otherwise expands ${VAR}). */
static void test_env_expansion_does_not_touch_templates(void **state)
{
    setenv("HK_TEST_RELABEL_VAR", "from-env", 1);
    struct hk_relabel_rules *rules =
        parse_ok("- {source_labels: [a], regex: '(?P<name>x)(y)', target_label: b,\n"
                 "   replacement: '${1}-${name}-${2}-$$-${HK_TEST_RELABEL_VAR}'}\n");
    struct hk_label in[] = {{"a", "xy"}};
    struct hk_relabel_result out = {0};
    assert_int_equal(hk_relabel_apply(rules, in, 1, &out), 1);
    assert_string_equal(hk_labels_get(out.labels, out.n, "b"), "x-x-y-$-");
    hk_relabel_result_free(&out);
    hk_relabel_free(rules);
    unsetenv("HK_TEST_RELABEL_VAR");
}

static void test_translation(void **state)
{
    static const struct {
        const char *re2, *pcre2;
    } t[] = {
        {"a\\sb", "a[\\t\\n\\f\\r ]b"},
        {"\\S", "[^\\t\\n\\f\\r ]"},
        {"\\101\\0\\x41\\x{263a}\\v", "\\x{41}\\x{0}\\x{41}\\x{263a}\\x{b}"},
        {"a{,2}", "a\\{,2}"},
        {"a{01}", "a\\{01}"},
        {"a{2,3}?", "a{2,3}?"},
        {"[\\d-z]", "[\\d\\x{2d}\\x{7a}]"},
        {"[a-c]", "[\\x{61}-\\x{63}]"},
        {"(?P<x>a)", "(?<x>a)"},
        {"\\Q.*\\E", "\\x{2e}\\x{2a}"},
        /* Go repeats the item before a flag group, and lets assertions be repeated. */
        {"a(?i)*b", "a*(?i)b"},
        {"a*(?i)+", "(?:a*)+(?i)"},
        {"(a)(?m)(?s){2}", "(a){2}(?m)(?s)"},
        {"x*\\Q\\E+", "(?:x*)+"},
        {"^*$+\\b?", "(?:^)*(?:$)+(?:\\b)?"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct hk_buf out;
        char err[256] = "";
        hk_buf_init(&out, 4096);
        int r = hk_relabel_translate_regex(t[i].re2, strlen(t[i].re2), &out, err, sizeof(err));
        if (r < 0)
            fail_msg("%s: %s", t[i].re2, err);
        hk_buf_putc(&out, '\0');
        if (strcmp(out.data, t[i].pcre2) != 0)
            fail_msg("%s -> %s, want %s", t[i].re2, out.data, t[i].pcre2);
        hk_buf_free(&out);
    }
    /* Invalid UTF-8 in a pattern is an error, like Go's. */
    struct hk_buf out;
    char err[256] = "";
    hk_buf_init(&out, 4096);
    assert_int_equal(hk_relabel_translate_regex("a\xff", 2, &out, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "UTF-8"));
    hk_buf_free(&out);
}

static void scalar_node(struct hk_yaml_node *n, char *text)
{
    memset(n, 0, sizeof(*n));
    n->kind = HK_YAML_SCALAR;
    n->file = "go";
    n->line = n->col = 1;
    n->scalar = text;
}

/* Every recorded Go regexp case (compile error, no match, or the exact expansion) through a
 * replace rule {source_labels: [v], regex, target_label: out, replacement: "<template>"}. */
static void test_against_go_regexp(void **state)
{
    struct hk_relabel_result out = {0};
    size_t matched = 0;
    for (size_t i = 0; i < sizeof(go_cases) / sizeof(go_cases[0]); i++) {
        const struct go_case *c = &go_cases[i];
        char rep[512];
        snprintf(rep, sizeof(rep), "<%s>", c->tmpl);
        static char k_src[] = "source_labels", k_re[] = "regex", k_tgt[] = "target_label",
                    k_rep[] = "replacement", s_v[] = "v", s_out[] = "out";
        struct hk_yaml_node keys[4], vals[4], src, *kp[4], *vp[4], *sp[1], item, list, *items[1];
        scalar_node(&keys[0], k_src);
        scalar_node(&src, s_v);
        sp[0] = &src;
        memset(&vals[0], 0, sizeof(vals[0]));
        vals[0].kind = HK_YAML_SEQ;
        vals[0].n = 1;
        vals[0].items = sp;
        scalar_node(&keys[1], k_re);
        scalar_node(&vals[1], (char *)c->regex);
        scalar_node(&keys[2], k_tgt);
        scalar_node(&vals[2], s_out);
        scalar_node(&keys[3], k_rep);
        scalar_node(&vals[3], rep);
        for (int k = 0; k < 4; k++) {
            kp[k] = &keys[k];
            vp[k] = &vals[k];
        }
        memset(&item, 0, sizeof(item));
        item.kind = HK_YAML_MAP;
        item.n = 4;
        item.keys = kp;
        item.items = vp;
        items[0] = &item;
        memset(&list, 0, sizeof(list));
        list.kind = HK_YAML_SEQ;
        list.n = 1;
        list.items = items;
        struct hk_relabel_rules *rules = NULL;
        struct hk_error err = {{0}};
        int r = hk_relabel_parse(&list, &rules, &err);
        if (c->result == 'E') {
            if (r != -EINVAL)
                fail_msg("Go rejects /%s/, we accept it", c->regex);
            continue;
        }
        if (r < 0)
            fail_msg("Go accepts /%s/, we reject it: %s", c->regex, err.msg);
        struct hk_label in[] = {{"__name__", "m"}, {"v", c->value}};
        r = hk_relabel_apply(rules, in, 2, &out);
        assert_int_equal(r, 1);
        const char *got = hk_labels_get(out.labels, out.n, "out");
        if (c->result == 'N') {
            if (got)
                fail_msg("/%s/ on \"%s\": Go: no match, we: %s", c->regex, c->value, got);
        } else {
            char want[512];
            snprintf(want, sizeof(want), "<%s>", c->expansion);
            if (!got || strcmp(got, want) != 0)
                fail_msg("/%s/ on \"%s\" template \"%s\": Go %s, we %s", c->regex, c->value,
                         c->tmpl, want, got ? got : "(no match)");
            matched++;
        }
        hk_relabel_free(rules);
    }
    assert_true(matched > 500);
    hk_relabel_result_free(&out);
}

/* Catastrophic backtracking is stopped by pcre2's limits: keep/drop still get the exact answer
 * (DFA matcher), replace skips the rule and counts it. */
static void test_match_limits(void **state)
{
    char value[64];
    memset(value, 'a', 40);
    value[40] = '\0';
    struct hk_label in[] = {{"v", value}};
    struct hk_relabel_result out = {0};

    struct hk_relabel_rules *keep =
        parse_ok("- {source_labels: [v], regex: '(a+)+(b|c)', action: keep}");
    assert_int_equal(hk_relabel_apply(keep, in, 1, &out), 0);
    assert_int_equal(hk_relabel_dfa_fallbacks(keep), 1);
    assert_int_equal(hk_relabel_limit_hits(keep), 0);
    hk_relabel_free(keep);

    struct hk_relabel_rules *keep2 =
        parse_ok("- {source_labels: [v], regex: '(a+)+(b|c)|a*', action: keep}");
    assert_int_equal(hk_relabel_apply(keep2, in, 1, &out), 1);
    assert_int_equal(hk_relabel_dfa_fallbacks(keep2), 1);
    hk_relabel_free(keep2);

    struct hk_relabel_rules *drop =
        parse_ok("- {source_labels: [v], regex: '(a+)+(b|c)', action: drop}");
    assert_int_equal(hk_relabel_apply(drop, in, 1, &out), 1);
    assert_int_equal(hk_relabel_dfa_fallbacks(drop), 1);
    hk_relabel_free(drop);

    struct hk_relabel_rules *rep =
        parse_ok("- {source_labels: [v], regex: '(a+)+(b|c)', target_label: x, replacement: y}\n"
                 "- {target_label: after, replacement: ok}");
    assert_int_equal(hk_relabel_apply(rep, in, 1, &out), 1);
    assert_null(hk_labels_get(out.labels, out.n, "x"));
    assert_string_equal(hk_labels_get(out.labels, out.n, "after"), "ok");
    assert_int_equal(hk_relabel_limit_hits(rep), 1);
    hk_relabel_free(rep);
    hk_relabel_result_free(&out);
}

static void test_input_errors_and_utf8(void **state)
{
    struct hk_relabel_rules *rules = parse_ok("- {source_labels: [a], regex: '(.)(.*)', "
                                              "target_label: first, replacement: '$1'}");
    struct hk_relabel_result out = {0};
    struct hk_label dup[] = {{"b", "1"}, {"a", "2"}, {"b", "3"}};
    assert_int_equal(hk_relabel_apply(rules, dup, 3, &out), -EINVAL);
    /* Invalid UTF-8 in a value is matched as U+FFFD, as Go does. */
    struct hk_label bad[] = {{"a", "\xffz"}};
    assert_int_equal(hk_relabel_apply(rules, bad, 1, &out), 1);
    assert_string_equal(hk_labels_get(out.labels, out.n, "first"), "\xef\xbf\xbd");
    hk_relabel_free(rules);
    /* NULL rules: the input, sorted, without empty values. */
    struct hk_label in[] = {{"b", "1"}, {"a", ""}};
    assert_int_equal(hk_relabel_apply(NULL, in, 2, &out), 1);
    assert_int_equal(out.n, 1);
    assert_string_equal(out.labels[0].name, "b");
    hk_relabel_result_free(&out);
    hk_relabel_result_free(&out); /* idempotent */
}

/* After warm-up, applying rules allocates nothing (pcre2's allocations are counted too). */
static void test_steady_state_does_not_allocate(void **state)
{
    struct hk_relabel_rules *rules = parse_ok(
        "- {source_labels: [pod], regex: '(?P<app>[a-z]+)-(\\w+)-(\\w+)', target_label: app, "
        "replacement: '${app}'}\n"
        "- {source_labels: [namespace, pod], separator: '/', target_label: shard, modulus: 8, "
        "action: hashmod}\n"
        "- {regex: '__meta_(.+)', action: labelmap}\n"
        "- {source_labels: [app], target_label: APP, action: uppercase}\n"
        "- {regex: '__meta_.*', action: labeldrop}\n"
        "- {source_labels: [namespace], regex: 'kube-.*', action: drop}\n"
        "- {source_labels: [pod], regex: '(a+)+b', target_label: never, replacement: x}\n");
    struct hk_relabel_result out = {0};
    char pod[64], ns[32];
    struct hk_label in[] = {
        {"__meta_node", "node-1"}, {"__name__", "container_cpu"}, {"namespace", ns}, {"pod", pod}};
    uint64_t warm = 0;
    for (int i = 0; i < 2000; i++) {
        snprintf(pod, sizeof(pod), "web%c-%05d-x%d", 'a' + i % 26, i, i % 7);
        snprintf(ns, sizeof(ns), "team-%d", i % 5);
        int r = hk_relabel_apply(rules, in, 4, &out);
        assert_int_equal(r, 1);
        assert_non_null(hk_labels_get(out.labels, out.n, "shard"));
        assert_non_null(hk_labels_get(out.labels, out.n, "node"));
        if (i == 10)
            warm = hk_relabel_result_allocs(&out);
    }
    assert_true(warm > 0);
    assert_int_equal(hk_relabel_result_allocs(&out), warm);
    hk_relabel_result_free(&out);
    hk_relabel_free(rules);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_hashmod_vectors),
        cmocka_unit_test(test_hashmod_md5_digests),
        cmocka_unit_test(test_validation_errors),
        cmocka_unit_test(test_valid_configs),
        cmocka_unit_test(test_env_expansion_does_not_touch_templates),
        cmocka_unit_test(test_translation),
        cmocka_unit_test(test_against_go_regexp),
        cmocka_unit_test(test_match_limits),
        cmocka_unit_test(test_input_errors_and_utf8),
        cmocka_unit_test(test_steady_state_does_not_allocate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
