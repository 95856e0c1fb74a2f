/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus relabel_config semantics (model/relabel in Prometheus) on hakari label sets: config
 * parsing and validation with file:line:col errors (regexes compiled by exporter/relabel_regex.c,
 * which translates Go/RE2 syntax to pcre2), Go regexp.Expand templates, and an apply step that
 * reuses the caller's storage. Reads no file, emits no family. Over 800 lines because parsing,
 * templates and apply share the private rule representation defined here. */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "exporter/relabel.h"

#include <ctype.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <inttypes.h>
#include <locale.h>
#include <pcre2.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "core/buf.h"
#include "core/log.h"
#include "exporter/relabel_internal.h"
#include "exporter/relabel_regex.h"

#define RELABEL_MAX_RULES 1000
#define RELABEL_MAX_SOURCES 256
#define RELABEL_MAX_TEMPLATE_BYTES 65536
#define RELABEL_MAX_LABELS 4096
/* Bytes one application may generate (joined values, expansions, case maps). */
#define RELABEL_MAX_BYTES (4u << 20)
/* pcre2 limits: RE2 runs in linear time, a backtracking engine does not, so a pathological
 * pattern is stopped instead of stalling the pipeline (see rx_exec for what happens then). */
#define RELABEL_MATCH_LIMIT 1000000
#define RELABEL_DEPTH_LIMIT 100000
#define RELABEL_HEAP_LIMIT_KIB 16384
#define RELABEL_DFA_WS_MAX (1u << 20)

enum action {
    ACT_REPLACE,
    ACT_KEEP,
    ACT_DROP,
    ACT_KEEPEQUAL,
    ACT_DROPEQUAL,
    ACT_HASHMOD,
    ACT_LABELMAP,
    ACT_LABELDROP,
    ACT_LABELKEEP,
    ACT_LOWERCASE,
    ACT_UPPERCASE,
};

static const char *const action_names[] = {
    [ACT_REPLACE] = "replace",     [ACT_KEEP] = "keep",           [ACT_DROP] = "drop",
    [ACT_KEEPEQUAL] = "keepequal", [ACT_DROPEQUAL] = "dropequal", [ACT_HASHMOD] = "hashmod",
    [ACT_LABELMAP] = "labelmap",   [ACT_LABELDROP] = "labeldrop", [ACT_LABELKEEP] = "labelkeep",
    [ACT_LOWERCASE] = "lowercase", [ACT_UPPERCASE] = "uppercase",
};

/* One piece of a replacement template: literal bytes (group -1), a capture group (group >= 0),
 * or a name several groups share (group -2: the first of dups that took part in the match,
 * as Go's Expand picks). */
struct tpart {
    const char *lit;
    size_t len;
    int group;
    int *dups;
    size_t n_dups;
};

struct tmpl {
    const char *text; /* the whole template, NUL-terminated */
    size_t text_len;
    struct tpart *parts;
    size_t n;
    bool verbatim; /* no '$' at all: the expansion is text itself */
};

struct rule {
    enum action action;
    char **sources;
    size_t n_sources;
    char *separator;
    size_t separator_len;
    char *regex_src;
    pcre2_code *code;
    uint32_t n_groups;
    bool regex_any; /* the default "(.*)": matches everything, group 1 = the whole value */
    uint64_t modulus;
    char *target;
    size_t target_len;
    char *replacement;
    struct tmpl target_t;
    struct tmpl replacement_t;
};

struct relabel_counters {
    _Atomic uint64_t limit_hits;
    _Atomic uint64_t dfa_fallbacks;
    atomic_bool limit_logged;
};

struct hk_relabel_rules {
    struct rule *rules;
    size_t n;
    uint32_t max_pairs; /* ovector pairs the largest regex needs */
    locale_t utf8_locale;
    struct relabel_counters *counters;
};

/* Encodes a code point (valid, as hk_relabel_utf8_decode returns them) as UTF-8 into out
 * (room for 4 bytes). Returns its length. */
static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* ---------------------------------------------------------------------------------------------
 * Templates: Go's regexp.Expand. $1 ${1} $name ${name}; $$ is '$'; a name is the longest run of
 * letters, digits and '_' (so "$1x" names group "1x"); unknown groups expand to nothing; a '$'
 * not followed by a well-formed name is literal. */

/* Length of the letter/digit/'_' character at s (Unicode categories L and Nd, as Go's
 * unicode.IsLetter/IsDigit), or 0. */
static size_t name_char_len(const char *s, size_t len, const pcre2_code *letter_re,
                            pcre2_match_data *md)
{
    unsigned char c = (unsigned char)s[0];
    if (c < 0x80)
        return hk_relabel_word_char(c) ? 1 : 0;
    uint32_t cp;
    size_t n = hk_relabel_utf8_decode(s, len, &cp);
    if (n == 0 || !letter_re)
        return 0;
    int rc = pcre2_match(letter_re, (PCRE2_SPTR)s, n, 0, PCRE2_ANCHORED, md, NULL);
    return rc > 0 ? n : 0;
}

struct tmpl_ctx {
    const pcre2_code *letter_re;
    pcre2_match_data *letter_md;
};

static int tmpl_add(struct tmpl *t, size_t cap, const char *lit, size_t len, int group)
{
    if (group == -1 && len == 0)
        return 0;
    if (t->n >= cap)
        return -EOVERFLOW;
    t->parts[t->n++] = (struct tpart){.lit = lit, .len = len, .group = group};
    return 0;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Resolves a template name to a group index of code, -1 (expands to nothing), or -2 with
 * *ret_dups set when several groups carry the name (-ENOMEM on allocation failure). */
static int tmpl_group(const char *name, size_t len, const pcre2_code *code, uint32_t n_groups,
                      int **ret_dups, size_t *ret_n_dups)
{
    long num = 0;
    for (size_t k = 0; k < len; k++) {
        if (name[k] < '0' || name[k] > '9' || num >= 100000000) {
            num = -1;
            break;
        }
        num = num * 10 + (name[k] - '0');
    }
    if (name[0] == '0' && len > 1)
        num = -1;
    if (num >= 0)
        return num <= (long)n_groups ? (int)num : -1;
    char buf[64];
    if (!code || len >= sizeof(buf))
        return -1;
    memcpy(buf, name, len);
    buf[len] = '\0';
    PCRE2_SPTR first, last;
    int entry = pcre2_substring_nametable_scan(code, (PCRE2_SPTR)buf, &first, &last);
    if (entry <= 0)
        return -1;
    size_t n = (size_t)(last - first) / (size_t)entry + 1;
    if (n == 1)
        return first[0] << 8 | first[1];
    int *dups = calloc(n, sizeof(*dups));
    if (!dups)
        return -ENOMEM;
    for (size_t k = 0; k < n; k++)
        dups[k] = first[k * (size_t)entry] << 8 | first[k * (size_t)entry + 1];
    qsort(dups, n, sizeof(*dups), cmp_int);
    *ret_dups = dups;
    *ret_n_dups = n;
    return -2;
}

static int tmpl_parse(const char *text, const pcre2_code *code, uint32_t n_groups,
                      const struct tmpl_ctx *ctx, struct tmpl *t)
{
    size_t len = strlen(text);
    t->text = text;
    t->text_len = len;
    t->verbatim = memchr(text, '$', len) == NULL;
    if (t->verbatim)
        return 0;
    size_t dollars = 0;
    for (size_t k = 0; k < len; k++)
        dollars += text[k] == '$';
    size_t cap = 2 * dollars + 1;
    t->parts = calloc(cap, sizeof(*t->parts));
    if (!t->parts)
        return -ENOMEM;
    size_t i = 0, lit_start = 0;
    int r = 0;
    while (i < len && r == 0) {
        if (text[i] != '$') {
            i++;
            continue;
        }
        size_t dollar = i++;
        if (i < len && text[i] == '$') {
            r = tmpl_add(t, cap, text + lit_start, dollar + 1 - lit_start, -1);
            lit_start = ++i;
            continue;
        }
        size_t j = i;
        bool brace = j < len && text[j] == '{';
        if (brace)
            j++;
        size_t name_start = j;
        for (size_t w;
             j < len && (w = name_char_len(text + j, len - j, ctx->letter_re, ctx->letter_md)) > 0;)
            j += w;
        size_t name_len = j - name_start;
        bool ok = name_len > 0;
        if (ok && brace) {
            if (j < len && text[j] == '}')
                j++;
            else
                ok = false;
        }
        if (!ok)
            continue; /* the '$' stays in the literal run */
        r = tmpl_add(t, cap, text + lit_start, dollar - lit_start, -1);
        int *dups = NULL;
        size_t n_dups = 0;
        int g =
            r == 0 ? tmpl_group(text + name_start, name_len, code, n_groups, &dups, &n_dups) : -1;
        if (g == -ENOMEM)
            r = g;
        else if (g >= 0 || g == -2)
            r = tmpl_add(t, cap, NULL, 0, g);
        if (r == 0 && g == -2) {
            t->parts[t->n - 1].dups = dups;
            t->parts[t->n - 1].n_dups = n_dups;
        } else {
            free(dups);
        }
        i = j;
        lit_start = j;
    }
    if (r == 0)
        r = tmpl_add(t, cap, text + lit_start, len - lit_start, -1);
    return r;
}

/* Prometheus' relabelTargetLegacy: label-name characters plus $var / ${var}, not starting with
 * a digit. */
static bool target_template_valid(const char *s)
{
    size_t len = strlen(s);
    if (len == 0)
        return false;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        if (c == '$') {
            i++;
            bool brace = i < len && s[i] == '{';
            if (brace)
                i++;
            size_t start = i;
            while (i < len && hk_relabel_word_char((unsigned char)s[i]))
                i++;
            if (i == start)
                return false;
            if (brace) {
                if (i >= len || s[i] != '}')
                    return false;
                i++;
            }
            continue;
        }
        if (!hk_relabel_word_char(c) || (i == 0 && isdigit(c)))
            return false;
        i++;
    }
    return true;
}

/* ---------------------------------------------------------------------------------------------
 * Parsing and validation (Prometheus' Config.UnmarshalYAML and Validate, in that order) */

static void rule_fini(struct rule *ru)
{
    for (size_t i = 0; i < ru->n_sources; i++)
        free(ru->sources[i]);
    free(ru->sources);
    free(ru->separator);
    free(ru->regex_src);
    pcre2_code_free(ru->code);
    free(ru->target);
    free(ru->replacement);
    for (size_t k = 0; k < ru->target_t.n; k++)
        free(ru->target_t.parts[k].dups);
    for (size_t k = 0; k < ru->replacement_t.n; k++)
        free(ru->replacement_t.parts[k].dups);
    free(ru->target_t.parts);
    free(ru->replacement_t.parts);
}

/* Text of a string field: Prometheus does not expand ${VAR} in relabel configs, and "${1}" or
 * "$$" mean something there, so the text as written is used. A YAML null is "". */
static const char *field_text(const struct hk_yaml_node *n)
{
    if (n->plain_null)
        return "";
    return n->raw ? n->raw : n->scalar;
}

static int string_field(const struct hk_yaml_node *n, const char *def, char **ret,
                        struct hk_error *err)
{
    const char *text = def;
    if (n) {
        int r = hk_yaml_expect(n, HK_YAML_SCALAR, err);
        if (r < 0)
            return r;
        text = field_text(n);
        if (strlen(text) > RELABEL_MAX_TEMPLATE_BYTES)
            return hk_error_at(err, n, "value too long (max %d bytes)", RELABEL_MAX_TEMPLATE_BYTES);
    }
    *ret = strdup(text);
    return *ret ? 0 : -ENOMEM;
}

static bool name_valid(const char *s)
{
    return hk_label_name_valid(s, strlen(s));
}

static int parse_rule(const struct hk_yaml_node *item, struct rule *ru, const struct tmpl_ctx *ctx,
                      struct hk_error *err)
{
    static const char *const keys[] = {"source_labels", "separator",   "regex",  "modulus",
                                       "target_label",  "replacement", "action", NULL};
    int r = hk_yaml_expect(item, HK_YAML_MAP, err);
    if (r < 0)
        return r;
    r = hk_yaml_check_keys(item, keys, err);
    if (r < 0)
        return r;
    const struct hk_yaml_node *n_src = hk_yaml_get(item, "source_labels");
    const struct hk_yaml_node *n_sep = hk_yaml_get(item, "separator");
    const struct hk_yaml_node *n_re = hk_yaml_get(item, "regex");
    const struct hk_yaml_node *n_mod = hk_yaml_get(item, "modulus");
    const struct hk_yaml_node *n_tgt = hk_yaml_get(item, "target_label");
    const struct hk_yaml_node *n_rep = hk_yaml_get(item, "replacement");
    const struct hk_yaml_node *n_act = hk_yaml_get(item, "action");

    ru->action = ACT_REPLACE;
    if (n_act) {
        r = hk_yaml_expect(n_act, HK_YAML_SCALAR, err);
        if (r < 0)
            return r;
        const char *text = n_act->plain_null ? "" : n_act->scalar;
        if (!*text)
            return hk_error_at(err, n_act, "relabel action cannot be empty");
        char lower[32];
        size_t len = strlen(text);
        bool found = false;
        if (len < sizeof(lower)) {
            for (size_t k = 0; k <= len; k++)
                lower[k] = (char)tolower((unsigned char)text[k]);
            for (size_t a = 0; a < sizeof(action_names) / sizeof(action_names[0]); a++)
                if (strcmp(lower, action_names[a]) == 0) {
                    ru->action = (enum action)a;
                    found = true;
                }
        }
        if (!found)
            return hk_error_at(err, n_act, "unknown relabel action \"%s\"", text);
    }

    bool sources_set = false;
    if (n_src && !(n_src->kind == HK_YAML_SCALAR && n_src->plain_null)) {
        r = hk_yaml_expect(n_src, HK_YAML_SEQ, err);
        if (r < 0)
            return r;
        if (n_src->n > RELABEL_MAX_SOURCES)
            return hk_error_at(err, n_src, "too many source_labels (max %d)", RELABEL_MAX_SOURCES);
        sources_set = true;
        ru->sources = calloc(n_src->n ? n_src->n : 1, sizeof(*ru->sources));
        if (!ru->sources)
            return -ENOMEM;
        for (size_t k = 0; k < n_src->n; k++) {
            const struct hk_yaml_node *s = n_src->items[k];
            r = hk_yaml_expect(s, HK_YAML_SCALAR, err);
            if (r < 0)
                return r;
            const char *name = s->plain_null ? "" : s->scalar;
            if (!name_valid(name))
                return hk_error_at(err, s, "\"%s\" is not a valid label name", name);
            ru->sources[k] = strdup(name);
            if (!ru->sources[k])
                return -ENOMEM;
            ru->n_sources++;
        }
    }

    r = string_field(n_sep, ";", &ru->separator, err);
    if (r < 0)
        return r;
    ru->separator_len = strlen(ru->separator);

    /* A regex key, even a null one, replaces the default ("(.*)"); null means "". */
    r = string_field(n_re, "(.*)", &ru->regex_src, err);
    if (r < 0)
        return r;

    if (n_mod && !(n_mod->kind == HK_YAML_SCALAR && n_mod->plain_null)) {
        r = hk_yaml_u64(n_mod, 0, UINT64_MAX, &ru->modulus, err);
        if (r < 0)
            return r;
    }
    r = string_field(n_tgt, "", &ru->target, err);
    if (r < 0)
        return r;
    ru->target_len = strlen(ru->target);
    r = string_field(n_rep, "$1", &ru->replacement, err);
    if (r < 0)
        return r;

    /* Prometheus compiles the regex while unmarshalling, before Validate. */
    char why[256] = "";
    r = hk_relabel_regex_compile(ru->regex_src, &ru->code, &ru->n_groups, why, sizeof(why));
    if (r == -ENOMEM)
        return r;
    if (r < 0)
        return hk_error_at(err, n_re ? n_re : item, "invalid regex \"%s\": %s", ru->regex_src, why);
    ru->regex_any = !n_re;

    enum action a = ru->action;
    const char *an = action_names[a];
    const struct hk_yaml_node *at_tgt = n_tgt ? n_tgt : item;
    bool is_default_rep = strcmp(ru->replacement, "$1") == 0;
    bool has_dollar_target = strchr(ru->target, '$') != NULL;
    if (a == ACT_HASHMOD && ru->modulus == 0)
        return hk_error_at(err, n_mod ? n_mod : item,
                           "relabel configuration for hashmod requires non-zero modulus");
    uint8_t probe[16];
    if (a == ACT_HASHMOD && gnutls_hash_fast(GNUTLS_DIG_MD5, "", 0, probe) < 0)
        return hk_error_at(err, item, "hashmod needs MD5, which GnuTLS refuses here (FIPS mode?)");
    if ((a == ACT_REPLACE || a == ACT_HASHMOD || a == ACT_LOWERCASE || a == ACT_UPPERCASE ||
         a == ACT_KEEPEQUAL || a == ACT_DROPEQUAL) &&
        ru->target_len == 0)
        return hk_error_at(err, at_tgt,
                           "relabel configuration for %s action requires 'target_label' value", an);
    if (a == ACT_REPLACE && !has_dollar_target && !name_valid(ru->target))
        return hk_error_at(err, at_tgt, "\"%s\" is invalid 'target_label' for %s action",
                           ru->target, an);
    if (a == ACT_REPLACE && has_dollar_target && !target_template_valid(ru->target))
        return hk_error_at(err, at_tgt, "\"%s\" is invalid 'target_label' for %s action",
                           ru->target, an);
    if ((a == ACT_LOWERCASE || a == ACT_UPPERCASE || a == ACT_KEEPEQUAL || a == ACT_DROPEQUAL) &&
        !name_valid(ru->target))
        return hk_error_at(err, at_tgt, "\"%s\" is invalid 'target_label' for %s action",
                           ru->target, an);
    if ((a == ACT_LOWERCASE || a == ACT_UPPERCASE || a == ACT_KEEPEQUAL || a == ACT_DROPEQUAL) &&
        !is_default_rep)
        return hk_error_at(err, n_rep ? n_rep : item, "'replacement' can not be set for %s action",
                           an);
    if (a == ACT_LABELMAP && !target_template_valid(ru->replacement))
        return hk_error_at(err, n_rep ? n_rep : item,
                           "\"%s\" is invalid 'replacement' for %s action", ru->replacement, an);
    if (a == ACT_HASHMOD && !name_valid(ru->target))
        return hk_error_at(err, at_tgt, "\"%s\" is invalid 'target_label' for %s action",
                           ru->target, an);
    if ((a == ACT_DROPEQUAL || a == ACT_KEEPEQUAL) &&
        (n_re || ru->modulus != 0 || strcmp(ru->separator, ";") != 0 || !is_default_rep))
        return hk_error_at(err, item,
                           "%s action requires only 'source_labels' and `target_label`, and no "
                           "other fields",
                           an);
    if ((a == ACT_LABELDROP || a == ACT_LABELKEEP) &&
        (sources_set || ru->target_len != 0 || ru->modulus != 0 ||
         strcmp(ru->separator, ";") != 0 || !is_default_rep))
        return hk_error_at(err, item, "%s action requires only 'regex', and no other fields", an);

    if (a == ACT_REPLACE) {
        r = tmpl_parse(ru->target, ru->code, ru->n_groups, ctx, &ru->target_t);
        if (r == 0)
            r = tmpl_parse(ru->replacement, ru->code, ru->n_groups, ctx, &ru->replacement_t);
    } else if (a == ACT_LABELMAP) {
        r = tmpl_parse(ru->replacement, ru->code, ru->n_groups, ctx, &ru->replacement_t);
    }
    if (r == -EOVERFLOW)
        return hk_error_at(err, item, "internal error expanding template");
    return r;
}

int hk_relabel_parse(const struct hk_yaml_node *list, struct hk_relabel_rules **ret,
                     struct hk_error *err)
{
    struct hk_relabel_rules *rs = calloc(1, sizeof(*rs));
    struct tmpl_ctx ctx = {0};
    int r = -ENOMEM;
    if (!rs)
        return -ENOMEM;
    rs->counters = calloc(1, sizeof(*rs->counters));
    if (!rs->counters)
        goto out;
    rs->utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    rs->max_pairs = 1;
    if (!list || (list->kind == HK_YAML_SCALAR && list->plain_null))
        goto done;
    r = hk_yaml_expect(list, HK_YAML_SEQ, err);
    if (r < 0)
        goto out;
    if (list->n > RELABEL_MAX_RULES) {
        r = hk_error_at(err, list, "too many relabel configs (max %d)", RELABEL_MAX_RULES);
        goto out;
    }
    if (list->n == 0)
        goto done;
    rs->rules = calloc(list->n, sizeof(*rs->rules));
    if (!rs->rules) {
        r = -ENOMEM;
        goto out;
    }
    /* Classifies non-ASCII template name characters exactly as Go's IsLetter/IsDigit. */
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *letter = pcre2_compile((PCRE2_SPTR) "[\\p{L}\\p{Nd}]", PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF, &errcode, &erroff, NULL);
    ctx.letter_re = letter;
    ctx.letter_md = letter ? pcre2_match_data_create_from_pattern(letter, NULL) : NULL;
    if (!letter || !ctx.letter_md) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t k = 0; k < list->n; k++) {
        r = parse_rule(list->items[k], &rs->rules[k], &ctx, err);
        rs->n++; /* so a half-built rule is freed */
        if (r < 0)
            goto out;
        if (rs->rules[k].n_groups + 1 > rs->max_pairs)
            rs->max_pairs = rs->rules[k].n_groups + 1;
    }
done:
    *ret = rs;
    rs = NULL;
    r = 0;
out:
    pcre2_match_data_free(ctx.letter_md);
    pcre2_code_free((pcre2_code *)ctx.letter_re);
    hk_relabel_free(rs);
    return r;
}

void hk_relabel_free(struct hk_relabel_rules *rules)
{
    if (!rules)
        return;
    for (size_t k = 0; k < rules->n; k++)
        rule_fini(&rules->rules[k]);
    free(rules->rules);
    if (rules->utf8_locale)
        freelocale(rules->utf8_locale);
    free(rules->counters);
    free(rules);
}

size_t hk_relabel_count(const struct hk_relabel_rules *rules)
{
    return rules ? rules->n : 0;
}

uint64_t hk_relabel_limit_hits(const struct hk_relabel_rules *rules)
{
    return rules && rules->counters ? atomic_load(&rules->counters->limit_hits) : 0;
}

uint64_t hk_relabel_dfa_fallbacks(const struct hk_relabel_rules *rules)
{
    return rules && rules->counters ? atomic_load(&rules->counters->dfa_fallbacks) : 0;
}

/* ---------------------------------------------------------------------------------------------
 * Application state, owned by a result and reused across calls */

struct ent {
    const char *name;
    const char *value;
    size_t vlen;
    uint32_t seq; /* 0: from the input, untouched; else order of (re)insertion, as in
                   * Prometheus' labels.Builder, which labelmap iterates in that order */
};

struct chunk {
    struct chunk *next;
    size_t cap, used;
    char data[];
};

struct relabel_state {
    struct ent *ents;
    size_t n, cap;
    struct ent *snap;
    size_t snap_cap;
    char *val; /* joined source values */
    size_t val_cap;
    char *fix; /* UTF-8-repaired match subject */
    size_t fix_cap;
    struct chunk *chunks, *cur;
    size_t arena_used; /* bytes handed out in this application */
    struct hk_label *labels;
    size_t labels_cap;
    pcre2_general_context *gctx;
    pcre2_match_context *mctx;
    pcre2_match_data *md;
    uint32_t md_pairs;
    int *dfa_ws;
    size_t dfa_ws_n;
    uint32_t seq;
    uint64_t allocs;
};

static void *state_pcre2_malloc(PCRE2_SIZE size, void *data)
{
    struct relabel_state *st = data;
    st->allocs++;
    return malloc(size);
}

static void state_pcre2_free(void *p, void *data)
{
    free(p);
}

static int grow(struct relabel_state *st, void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    int r = hk_grow_array(p, cap, need, elem, 16);
    if (r == 0)
        st->allocs++;
    return r;
}

static char *arena_alloc(struct relabel_state *st, size_t n)
{
    if (n > RELABEL_MAX_BYTES - st->arena_used)
        return NULL;
    while (st->cur && st->cur->cap - st->cur->used < n && st->cur->next)
        st->cur = st->cur->next;
    if (!st->cur || st->cur->cap - st->cur->used < n) {
        size_t cap = n > 4096 ? n : 4096;
        struct chunk *c = malloc(sizeof(*c) + cap);
        if (!c)
            return NULL;
        st->allocs++;
        c->next = NULL;
        c->cap = cap;
        c->used = 0;
        if (st->cur) {
            /* Append at the tail so every chunk is reused after the next reset. */
            struct chunk *tail = st->cur;
            while (tail->next)
                tail = tail->next;
            tail->next = c;
        } else {
            st->chunks = c;
        }
        st->cur = c;
    }
    char *p = st->cur->data + st->cur->used;
    st->cur->used += n;
    st->arena_used += n;
    return p;
}

static void arena_reset(struct relabel_state *st)
{
    for (struct chunk *c = st->chunks; c; c = c->next)
        c->used = 0;
    st->cur = st->chunks;
    st->arena_used = 0;
}

static struct relabel_state *state_new(void)
{
    struct relabel_state *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->gctx = pcre2_general_context_create(state_pcre2_malloc, state_pcre2_free, st);
    st->mctx = st->gctx ? pcre2_match_context_create(st->gctx) : NULL;
    if (!st->mctx) {
        pcre2_general_context_free(st->gctx);
        free(st);
        return NULL;
    }
    pcre2_set_match_limit(st->mctx, RELABEL_MATCH_LIMIT);
    pcre2_set_depth_limit(st->mctx, RELABEL_DEPTH_LIMIT);
    pcre2_set_heap_limit(st->mctx, RELABEL_HEAP_LIMIT_KIB);
    return st;
}

void hk_relabel_result_free(struct hk_relabel_result *out)
{
    if (!out)
        return;
    struct relabel_state *st = out->priv;
    if (st) {
        free(st->ents);
        free(st->snap);
        free(st->val);
        free(st->fix);
        for (struct chunk *c = st->chunks, *next; c; c = next) {
            next = c->next;
            free(c);
        }
        free(st->labels);
        free(st->dfa_ws);
        pcre2_match_data_free(st->md);
        pcre2_match_context_free(st->mctx);
        pcre2_general_context_free(st->gctx);
        free(st);
    }
    out->priv = NULL;
    out->labels = NULL;
    out->n = 0;
}

uint64_t hk_relabel_result_allocs(const struct hk_relabel_result *out)
{
    const struct relabel_state *st = out ? out->priv : NULL;
    return st ? st->allocs : 0;
}

/* ---------------------------------------------------------------------------------------------
 * The working label set: sorted by name, no empty values */

static bool ws_find(const struct relabel_state *st, const char *name, size_t *ret_pos)
{
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->ents[mid].name, name);
        if (c == 0) {
            *ret_pos = mid;
            return true;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *ret_pos = lo;
    return false;
}

static const char *ws_get(const struct relabel_state *st, const char *name, size_t *ret_len)
{
    size_t pos;
    if (!ws_find(st, name, &pos)) {
        *ret_len = 0;
        return "";
    }
    *ret_len = st->ents[pos].vlen;
    return st->ents[pos].value;
}

static void ws_del(struct relabel_state *st, const char *name)
{
    size_t pos;
    if (!ws_find(st, name, &pos))
        return;
    memmove(&st->ents[pos], &st->ents[pos + 1], (st->n - pos - 1) * sizeof(st->ents[0]));
    st->n--;
}

/* Prometheus' Builder.Set: an empty value deletes; a label already added keeps its place in
 * the iteration order, anything else moves to the end. */
static int ws_set(struct relabel_state *st, const char *name, const char *value, size_t vlen)
{
    if (vlen == 0) {
        ws_del(st, name);
        return 0;
    }
    size_t pos;
    if (ws_find(st, name, &pos)) {
        struct ent *e = &st->ents[pos];
        e->value = value;
        e->vlen = vlen;
        if (e->seq == 0)
            e->seq = ++st->seq;
        return 0;
    }
    if (st->n >= RELABEL_MAX_LABELS)
        return -E2BIG;
    int r = grow(st, (void **)&st->ents, &st->cap, st->n + 1, sizeof(st->ents[0]));
    if (r < 0)
        return r;
    memmove(&st->ents[pos + 1], &st->ents[pos], (st->n - pos) * sizeof(st->ents[0]));
    st->ents[pos] = (struct ent){.name = name, .value = value, .vlen = vlen, .seq = ++st->seq};
    st->n++;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Matching */

static void note_limit(const struct hk_relabel_rules *rs, const struct rule *ru)
{
    atomic_fetch_add(&rs->counters->limit_hits, 1);
    if (!atomic_exchange(&rs->counters->limit_logged, true))
        hk_log_warn("relabel regex hit the pcre2 match limit; the rule was skipped for that "
                    "series (counted, logged once)",
                    "regex", ru->regex_src, "action", action_names[ru->action]);
}

/* Matches the rule's regex against *subj. Returns 1 (match; groups in st->md when needed),
 * 0 (no match) or -ERANGE when pcre2 gave up (limits). The subject may be switched to a repaired
 * copy when the input is not valid UTF-8 (Go matches such bytes as U+FFFD). */
static int rx_exec(const struct hk_relabel_rules *rs, const struct rule *ru,
                   struct relabel_state *st, const char **subj, size_t *len, bool need_groups)
{
    if (!hk_utf8_valid(*subj, *len)) {
        if (*len > RELABEL_MAX_BYTES / 3)
            return -E2BIG;
        int r = grow(st, (void **)&st->fix, &st->fix_cap, 3 * *len + 1, 1);
        if (r < 0)
            return r;
        *len = hk_utf8_repair(st->fix, *subj, *len);
        *subj = st->fix;
    }
    int rc =
        pcre2_match(ru->code, (PCRE2_SPTR)*subj, *len, 0, PCRE2_NO_UTF_CHECK, st->md, st->mctx);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(ru->code, (PCRE2_SPTR)*subj, *len, 0, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT,
                         st->md, st->mctx);
    if (rc > 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc == PCRE2_ERROR_NOMEMORY)
        return -ENOMEM;
    if (need_groups)
        return -ERANGE;
    /* Only a yes/no answer is needed: the DFA matcher finds it in polynomial time. */
    atomic_fetch_add(&rs->counters->dfa_fallbacks, 1);
    for (;;) {
        if (!st->dfa_ws) {
            size_t n = 4096;
            int r = grow(st, (void **)&st->dfa_ws, &st->dfa_ws_n, n, sizeof(int));
            if (r < 0)
                return r;
        }
        rc = pcre2_dfa_match(ru->code, (PCRE2_SPTR)*subj, *len, 0, PCRE2_NO_UTF_CHECK, st->md,
                             st->mctx, st->dfa_ws, st->dfa_ws_n);
        if (rc >= 0)
            return 1;
        if (rc == PCRE2_ERROR_NOMATCH)
            return 0;
        if (rc != PCRE2_ERROR_DFA_WSSIZE || st->dfa_ws_n >= RELABEL_DFA_WS_MAX)
            return -ERANGE;
        int r = grow(st, (void **)&st->dfa_ws, &st->dfa_ws_n, st->dfa_ws_n * 2, sizeof(int));
        if (r < 0)
            return r;
    }
}

/* The group a template part stands for in this match, or -1 (nothing). */
static int part_group(const struct tpart *p, const PCRE2_SIZE *ov, uint32_t pairs)
{
    if (p->group >= 0)
        return (uint32_t)p->group < pairs && ov[2 * p->group] != PCRE2_UNSET ? p->group : -1;
    for (size_t k = 0; k < p->n_dups; k++) {
        int g = p->dups[k];
        if ((uint32_t)g < pairs && ov[2 * g] != PCRE2_UNSET)
            return g;
    }
    return -1;
}

/* Expands t with the groups of the last match of subj. */
static int tmpl_expand(struct relabel_state *st, const struct tmpl *t, const char *subj,
                       const PCRE2_SIZE *ov, uint32_t pairs, const char **ret, size_t *ret_len)
{
    if (t->verbatim) {
        *ret = t->text;
        *ret_len = t->text_len;
        return 0;
    }
    size_t len = 0;
    for (size_t k = 0; k < t->n; k++) {
        const struct tpart *p = &t->parts[k];
        int g = p->group == -1 ? -1 : part_group(p, ov, pairs);
        if (p->group == -1)
            len += p->len;
        else if (g >= 0)
            len += ov[2 * g + 1] - ov[2 * g];
    }
    char *o = arena_alloc(st, len + 1);
    if (!o)
        return -E2BIG;
    char *w = o;
    for (size_t k = 0; k < t->n; k++) {
        const struct tpart *p = &t->parts[k];
        int g = p->group == -1 ? -1 : part_group(p, ov, pairs);
        if (p->group == -1) {
            memcpy(w, p->lit, p->len);
            w += p->len;
        } else if (g >= 0) {
            size_t n = ov[2 * g + 1] - ov[2 * g];
            memcpy(w, subj + ov[2 * g], n);
            w += n;
        }
    }
    *w = '\0';
    *ret = o;
    *ret_len = len;
    return 0;
}

/* Go's strings.ToLower/ToUpper: per-character simple case mapping; invalid bytes → U+FFFD. */
static int case_map(const struct hk_relabel_rules *rs, struct relabel_state *st, const char *s,
                    size_t len, bool upper, const char **ret, size_t *ret_len)
{
    if (len > RELABEL_MAX_BYTES / 3)
        return -E2BIG;
    char *o = arena_alloc(st, 3 * len + 1);
    if (!o)
        return -E2BIG;
    size_t w = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            if (upper && c >= 'a' && c <= 'z')
                c = (unsigned char)(c - 'a' + 'A');
            else if (!upper && c >= 'A' && c <= 'Z')
                c = (unsigned char)(c - 'A' + 'a');
            o[w++] = (char)c;
            i++;
            continue;
        }
        uint32_t cp;
        size_t n = hk_relabel_utf8_decode(s + i, len - i, &cp);
        if (n == 0) {
            cp = 0xfffd;
            n = 1;
        } else if (rs->utf8_locale) {
            wint_t m = upper ? towupper_l((wint_t)cp, rs->utf8_locale)
                             : towlower_l((wint_t)cp, rs->utf8_locale);
            if (m <= 0x10ffff && !(m >= 0xd800 && m <= 0xdfff))
                cp = (uint32_t)m;
        }
        w += utf8_encode(cp, o + w);
        i += n;
    }
    o[w] = '\0';
    *ret = o;
    *ret_len = w;
    return 0;
}

static int join_sources(const struct rule *ru, struct relabel_state *st, size_t *ret_len)
{
    size_t len = 0;
    for (size_t k = 0; k < ru->n_sources; k++) {
        size_t vlen;
        ws_get(st, ru->sources[k], &vlen);
        len += vlen + (k ? ru->separator_len : 0);
    }
    if (len > RELABEL_MAX_BYTES)
        return -E2BIG;
    int r = grow(st, (void **)&st->val, &st->val_cap, len + 1, 1);
    if (r < 0)
        return r;
    size_t w = 0;
    for (size_t k = 0; k < ru->n_sources; k++) {
        if (k) {
            memcpy(st->val + w, ru->separator, ru->separator_len);
            w += ru->separator_len;
        }
        size_t vlen;
        const char *v = ws_get(st, ru->sources[k], &vlen);
        memcpy(st->val + w, v, vlen);
        w += vlen;
    }
    st->val[w] = '\0';
    *ret_len = w;
    return 0;
}

static int apply_replace(const struct hk_relabel_rules *rs, const struct rule *ru,
                         struct relabel_state *st, size_t vlen)
{
    const char *subj = st->val;
    size_t slen = vlen;
    PCRE2_SIZE any[4];
    const PCRE2_SIZE *ov;
    uint32_t pairs;
    if (ru->regex_any) {
        /* "(.*)" under (?s) matches everything; skip the engine. Group 1 = the value, which
         * must then be valid UTF-8 like any other match subject. */
        if (!hk_utf8_valid(subj, slen)) {
            int r = grow(st, (void **)&st->fix, &st->fix_cap, 3 * slen + 1, 1);
            if (r < 0)
                return r;
            slen = hk_utf8_repair(st->fix, subj, slen);
            subj = st->fix;
        }
        any[0] = any[2] = 0;
        any[1] = any[3] = slen;
        ov = any;
        pairs = 2;
    } else {
        int m = rx_exec(rs, ru, st, &subj, &slen, true);
        if (m == -ERANGE) {
            note_limit(rs, ru);
            return 1;
        }
        if (m <= 0)
            return m < 0 ? m : 1;
        ov = pcre2_get_ovector_pointer(st->md);
        pairs = pcre2_get_ovector_count(st->md);
    }
    const char *target, *value;
    size_t target_len, value_len;
    int r = tmpl_expand(st, &ru->target_t, subj, ov, pairs, &target, &target_len);
    if (r < 0)
        return r;
    if (!hk_label_name_valid(target, target_len))
        return 1;
    r = tmpl_expand(st, &ru->replacement_t, subj, ov, pairs, &value, &value_len);
    if (r < 0)
        return r;
    r = ws_set(st, target, value, value_len);
    return r < 0 ? r : 1;
}

static int apply_labelmap(const struct hk_relabel_rules *rs, const struct rule *ru,
                          struct relabel_state *st)
{
    /* Iterate over the set as it was when the rule started: untouched input labels by name,
     * then added ones in insertion order (what Prometheus' Builder.Range visits). */
    int r = grow(st, (void **)&st->snap, &st->snap_cap, st->n, sizeof(st->snap[0]));
    if (r < 0)
        return r;
    size_t n = 0;
    for (size_t k = 0; k < st->n; k++)
        if (st->ents[k].seq == 0)
            st->snap[n++] = st->ents[k];
    size_t added = n;
    for (size_t k = 0; k < st->n; k++) {
        if (st->ents[k].seq == 0)
            continue;
        size_t j = n++;
        while (j > added && st->snap[j - 1].seq > st->ents[k].seq) {
            st->snap[j] = st->snap[j - 1];
            j--;
        }
        st->snap[j] = st->ents[k];
    }
    for (size_t k = 0; k < n; k++) {
        const char *subj = st->snap[k].name;
        size_t slen = strlen(subj);
        int m = rx_exec(rs, ru, st, &subj, &slen, true);
        if (m == -ERANGE) {
            note_limit(rs, ru);
            continue;
        }
        if (m < 0)
            return m;
        if (m == 0)
            continue;
        const char *name;
        size_t name_len;
        r = tmpl_expand(st, &ru->replacement_t, subj, pcre2_get_ovector_pointer(st->md),
                        pcre2_get_ovector_count(st->md), &name, &name_len);
        if (r < 0)
            return r;
        /* Prometheus would add whatever name comes out; an invalid one could not be encoded
         * or exposed, so it is skipped. */
        if (!hk_label_name_valid(name, name_len))
            continue;
        r = ws_set(st, name, st->snap[k].value, st->snap[k].vlen);
        if (r < 0)
            return r;
    }
    return 1;
}

static int apply_labelfilter(const struct hk_relabel_rules *rs, const struct rule *ru,
                             struct relabel_state *st, bool keep_matching)
{
    size_t w = 0;
    for (size_t k = 0; k < st->n; k++) {
        const char *subj = st->ents[k].name;
        size_t slen = strlen(subj);
        int m = rx_exec(rs, ru, st, &subj, &slen, false);
        if (m == -ERANGE) {
            note_limit(rs, ru);
            m = 0;
        }
        if (m < 0)
            return m;
        if ((m == 1) == keep_matching)
            st->ents[w++] = st->ents[k];
    }
    st->n = w;
    return 1;
}

/* Returns 1 to continue, 0 to drop the series, or -errno. */
static int apply_rule(const struct hk_relabel_rules *rs, const struct rule *ru,
                      struct relabel_state *st)
{
    size_t vlen = 0;
    int r = 0;
    if (ru->action != ACT_LABELMAP && ru->action != ACT_LABELDROP && ru->action != ACT_LABELKEEP) {
        r = join_sources(ru, st, &vlen);
        if (r < 0)
            return r;
    }
    switch (ru->action) {
    case ACT_KEEP:
    case ACT_DROP: {
        const char *subj = st->val;
        size_t slen = vlen;
        int m = ru->regex_any ? 1 : rx_exec(rs, ru, st, &subj, &slen, false);
        if (m == -ERANGE) {
            note_limit(rs, ru);
            m = 0;
        }
        if (m < 0)
            return m;
        return ru->action == ACT_KEEP ? m : !m;
    }
    case ACT_KEEPEQUAL:
    case ACT_DROPEQUAL: {
        size_t tlen;
        const char *tv = ws_get(st, ru->target, &tlen);
        bool equal = tlen == vlen && memcmp(tv, st->val, vlen) == 0;
        return ru->action == ACT_KEEPEQUAL ? equal : !equal;
    }
    case ACT_REPLACE:
        return apply_replace(rs, ru, st, vlen);
    case ACT_LOWERCASE:
    case ACT_UPPERCASE: {
        const char *v;
        size_t len;
        r = case_map(rs, st, st->val, vlen, ru->action == ACT_UPPERCASE, &v, &len);
        if (r == 0)
            r = ws_set(st, ru->target, v, len);
        return r < 0 ? r : 1;
    }
    case ACT_HASHMOD: {
        /* Prometheus defines hashmod by MD5 (not a security use). */
        uint8_t digest[16];
        if (gnutls_hash_fast(GNUTLS_DIG_MD5, st->val, vlen, digest) < 0)
            return -ENOTSUP;
        uint64_t h = 0;
        for (int k = 8; k < 16; k++)
            h = h << 8 | digest[k];
        char *o = arena_alloc(st, 21);
        if (!o)
            return -E2BIG;
        int n = snprintf(o, 21, "%" PRIu64, h % ru->modulus);
        r = ws_set(st, ru->target, o, (size_t)n);
        return r < 0 ? r : 1;
    }
    case ACT_LABELMAP:
        return apply_labelmap(rs, ru, st);
    case ACT_LABELDROP:
        return apply_labelfilter(rs, ru, st, false);
    case ACT_LABELKEEP:
        return apply_labelfilter(rs, ru, st, true);
    }
    return -EINVAL;
}

int hk_relabel_apply(const struct hk_relabel_rules *rules, const struct hk_label *in, size_t n,
                     struct hk_relabel_result *out)
{
    if (!out || (n > 0 && !in))
        return -EINVAL;
    out->labels = NULL;
    out->n = 0;
    if (n > RELABEL_MAX_LABELS)
        return -E2BIG;
    struct relabel_state *st = out->priv;
    if (!st) {
        st = state_new();
        if (!st)
            return -ENOMEM;
        out->priv = st;
    }
    uint32_t pairs = rules ? rules->max_pairs : 1;
    if (!st->md || st->md_pairs < pairs) {
        pcre2_match_data *md = pcre2_match_data_create(pairs, st->gctx);
        if (!md)
            return -ENOMEM;
        pcre2_match_data_free(st->md);
        st->md = md;
        st->md_pairs = pairs;
    }
    arena_reset(st);
    st->seq = 0;
    st->n = 0;
    int r = grow(st, (void **)&st->ents, &st->cap, n, sizeof(st->ents[0]));
    if (r < 0)
        return r;
    bool sorted = true;
    for (size_t k = 0; k < n; k++) {
        if (!in[k].name)
            return -EINVAL;
        const char *v = in[k].value ? in[k].value : "";
        if (!*v)
            continue; /* an empty value is the same as no label */
        struct ent e = {.name = in[k].name, .value = v, .vlen = strlen(v)};
        if (st->n > 0 && strcmp(st->ents[st->n - 1].name, e.name) >= 0)
            sorted = false;
        st->ents[st->n++] = e;
    }
    if (!sorted) {
        for (size_t k = 1; k < st->n; k++) {
            struct ent e = st->ents[k];
            size_t j = k;
            while (j > 0 && strcmp(st->ents[j - 1].name, e.name) > 0) {
                st->ents[j] = st->ents[j - 1];
                j--;
            }
            st->ents[j] = e;
        }
        for (size_t k = 1; k < st->n; k++)
            if (strcmp(st->ents[k - 1].name, st->ents[k].name) == 0)
                return -EINVAL;
    }
    for (size_t k = 0; rules && k < rules->n; k++) {
        r = apply_rule(rules, &rules->rules[k], st);
        if (r <= 0)
            return r;
    }
    /* Prometheus' remote-write queue drops a series whose labels all went away. */
    if (st->n == 0)
        return 0;
    r = grow(st, (void **)&st->labels, &st->labels_cap, st->n, sizeof(st->labels[0]));
    if (r < 0)
        return r;
    for (size_t k = 0; k < st->n; k++)
        st->labels[k] = (struct hk_label){.name = st->ents[k].name, .value = st->ents[k].value};
    out->labels = st->labels;
    out->n = st->n;
    return 1;
}
