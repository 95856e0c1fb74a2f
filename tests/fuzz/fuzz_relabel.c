/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for relabelling: arbitrary regexes (RE2→pcre2 translation and compilation),
 * replacement and target templates, separators and label sets, under every action; checks that
 * results are sorted, free of empty values, and the same when applied twice.
 * Input: [action byte][field-mask byte] then NUL-separated fields: regex, replacement,
 * target_label, separator, then label name/value pairs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/labels.h"
#include "core/log.h"
#include "core/yaml.h"
#include "exporter/relabel.h"
#include "exporter/relabel_internal.h"
#include "exporter/relabel_regex.h"

#define MAX_FIELDS 24
#define MAX_LABELS 8

static const char *const actions[] = {"replace",   "keep",      "drop",      "keepequal",
                                      "dropequal", "hashmod",   "labelmap",  "labeldrop",
                                      "labelkeep", "lowercase", "uppercase", "Replace"};

static void scalar(struct hk_yaml_node *n, char *text)
{
    memset(n, 0, sizeof(*n));
    n->kind = HK_YAML_SCALAR;
    n->line = 1;
    n->col = 1;
    n->file = "fuzz";
    n->scalar = text;
}

static void check(const struct hk_relabel_result *out)
{
    for (size_t i = 0; i < out->n; i++) {
        if (!out->labels[i].value[0])
            abort();
        if (i > 0 && strcmp(out->labels[i - 1].name, out->labels[i].name) >= 0)
            abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    hk_log_setup(HK_LOG_ERROR, HK_LOG_LOGFMT);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 8192)
        return 0;
    uint8_t act = data[0], mask = data[1];
    char *copy = malloc(size - 2 + 1);
    if (!copy)
        return 0;
    memcpy(copy, data + 2, size - 2);
    copy[size - 2] = '\0';
    char *fields[MAX_FIELDS];
    size_t nf = 0;
    for (char *p = copy; nf < MAX_FIELDS && p <= copy + (size - 2); p += strlen(p) + 1)
        fields[nf++] = p;
    static char empty[] = "";
    while (nf < 4)
        fields[nf++] = empty;

    /* The translator on the raw text (no anchoring wrapper). */
    struct hk_buf buf;
    char why[256];
    hk_buf_init(&buf, 1 << 20);
    (void)hk_relabel_translate_regex(fields[0], strlen(fields[0]), &buf, why, sizeof(why));
    hk_buf_free(&buf);

    /* One rule built from the fields, optionally followed by a fixed labelmap + replace. */
    static char k_action[] = "action", k_regex[] = "regex", k_rep[] = "replacement",
                k_tgt[] = "target_label", k_sep[] = "separator", k_src[] = "source_labels",
                k_mod[] = "modulus", s_a[] = "a", s_b[] = "b", s_name[] = "__name__",
                mod_small[] = "7", mod_big[] = "18446744073709551615";
    struct hk_yaml_node keys[7], vals[7], srcs[3], item, item2, list;
    struct hk_yaml_node *kp[7], *vp[7], *sp[3], *items[2];
    size_t nk = 0;
    char action_buf[16];
    snprintf(action_buf, sizeof(action_buf), "%s",
             actions[act % (sizeof(actions) / sizeof(actions[0]))]);
    scalar(&keys[nk], k_action);
    scalar(&vals[nk++], action_buf);
    if (mask & 1) {
        scalar(&keys[nk], k_regex);
        scalar(&vals[nk++], fields[0]);
    }
    if (mask & 2) {
        scalar(&keys[nk], k_rep);
        scalar(&vals[nk++], fields[1]);
    }
    if (mask & 4) {
        scalar(&keys[nk], k_tgt);
        scalar(&vals[nk++], fields[2]);
    }
    if (mask & 8) {
        scalar(&keys[nk], k_sep);
        scalar(&vals[nk++], fields[3]);
    }
    if (mask & 16) {
        scalar(&srcs[0], s_a);
        scalar(&srcs[1], s_name);
        scalar(&srcs[2], s_b);
        for (int i = 0; i < 3; i++)
            sp[i] = &srcs[i];
        scalar(&keys[nk], k_src);
        memset(&vals[nk], 0, sizeof(vals[nk]));
        vals[nk].kind = HK_YAML_SEQ;
        vals[nk].file = "fuzz";
        vals[nk].n = 1 + (size_t)(act >> 6) % 3;
        vals[nk++].items = sp;
    }
    if (mask & 32) {
        scalar(&keys[nk], k_mod);
        scalar(&vals[nk++], (mask & 64) ? mod_big : mod_small);
    }
    for (size_t i = 0; i < nk; i++) {
        kp[i] = &keys[i];
        vp[i] = &vals[i];
    }
    memset(&item, 0, sizeof(item));
    item.kind = HK_YAML_MAP;
    item.file = "fuzz";
    item.n = nk;
    item.keys = kp;
    item.items = vp;
    /* Second rule: labelmap with the fuzzed regex and replacement. */
    struct hk_yaml_node k2[3], v2[3], *k2p[3], *v2p[3];
    static char labelmap[] = "labelmap";
    scalar(&k2[0], k_action);
    scalar(&v2[0], labelmap);
    scalar(&k2[1], k_regex);
    scalar(&v2[1], fields[0]);
    scalar(&k2[2], k_rep);
    scalar(&v2[2], fields[1]);
    for (int i = 0; i < 3; i++) {
        k2p[i] = &k2[i];
        v2p[i] = &v2[i];
    }
    memset(&item2, 0, sizeof(item2));
    item2.kind = HK_YAML_MAP;
    item2.file = "fuzz";
    item2.n = 3;
    item2.keys = k2p;
    item2.items = v2p;
    items[0] = &item;
    items[1] = &item2;
    memset(&list, 0, sizeof(list));
    list.kind = HK_YAML_SEQ;
    list.file = "fuzz";
    list.n = (mask & 128) ? 2 : 1;
    list.items = items;

    struct hk_relabel_rules *rules = NULL;
    struct hk_error err;
    if (hk_relabel_parse(&list, &rules, &err) == 0) {
        struct hk_label in[MAX_LABELS];
        size_t n = 0;
        for (size_t f = 4; f + 1 < nf && n < MAX_LABELS; f += 2) {
            if (!fields[f][0])
                continue;
            in[n++] = (struct hk_label){.name = fields[f], .value = fields[f + 1]};
        }
        struct hk_relabel_result out = {0}, again = {0};
        int r1 = hk_relabel_apply(rules, in, n, &out);
        int r2 = hk_relabel_apply(rules, in, n, &again);
        if (r1 != r2)
            abort();
        if (r1 == 1) {
            check(&out);
            if (out.n != again.n)
                abort();
            for (size_t i = 0; i < out.n; i++)
                if (strcmp(out.labels[i].name, again.labels[i].name) != 0 ||
                    strcmp(out.labels[i].value, again.labels[i].value) != 0)
                    abort();
        }
        hk_relabel_result_free(&out);
        hk_relabel_result_free(&again);
        hk_relabel_free(rules);
    }
    free(copy);
    return 0;
}
