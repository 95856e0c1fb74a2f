/* SPDX-License-Identifier: Apache-2.0 */
/* Configuration YAML as a small tree with source positions (libyaml underneath), plus typed
 * getters that produce `file:line:col: message` errors. ${VAR} in scalars expands from the
 * environment ($$ is a literal $); an unset variable expands to "" and is reported once. */
#ifndef HK_YAML_H
#define HK_YAML_H

#include "core/error.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hk_yaml_kind { HK_YAML_SCALAR, HK_YAML_MAP, HK_YAML_SEQ };

struct hk_yaml_node {
    enum hk_yaml_kind kind;
    unsigned line, col;   /* 1-based */
    const char *file;     /* shared, owned by the root */
    char *scalar;         /* SCALAR: expanded value */
    char *raw;            /* SCALAR: text as written when it holds a '$' (else NULL): for
                           * fields with their own $-syntax, e.g. relabel replacement "${1}" */
    bool plain_null;      /* SCALAR: unquoted "", "~" or "null" */
    bool from_flag;       /* SCALAR set by a command-line flag (hk_yaml_set_path): where a list
                           * is expected, its value is split at commas ("a,b" → [a, b]) */
    size_t n;             /* MAP: pairs, SEQ: items */
    struct hk_yaml_node **keys;  /* MAP: scalar keys */
    struct hk_yaml_node **items; /* MAP: values, SEQ: items */
};


/* Formats "file:line:col: message" into err (node may be NULL: no position). Returns -EINVAL. */
int hk_error_at(struct hk_error *err, const struct hk_yaml_node *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int hk_yaml_parse_file(const char *path, struct hk_yaml_node **ret_root, struct hk_error *err);
int hk_yaml_parse_string(const char *name, const char *text, size_t len,
                         struct hk_yaml_node **ret_root, struct hk_error *err);
void hk_yaml_free(struct hk_yaml_node *root);

/* MAP lookup; NULL when absent or when map is NULL. */
const struct hk_yaml_node *hk_yaml_get(const struct hk_yaml_node *map, const char *key);
/* Fails on a key not in allowed (NULL-terminated), naming it and its position. node NULL is ok. */
int hk_yaml_check_keys(const struct hk_yaml_node *map, const char *const *allowed,
                       struct hk_error *err);
/* Checks node's kind (an empty "key:" counts as an empty mapping). Where a list is expected, a
 * scalar that came from a command-line flag is turned into the list of its comma-separated
 * parts, so --collector.NAME.OPTION=a,b sets a list option. */
int hk_yaml_expect(const struct hk_yaml_node *node, enum hk_yaml_kind kind, struct hk_error *err);

/* Typed scalar conversions (node must be non-NULL). */
int hk_yaml_bool(const struct hk_yaml_node *node, bool *ret, struct hk_error *err);
int hk_yaml_u64(const struct hk_yaml_node *node, uint64_t min, uint64_t max, uint64_t *ret,
                struct hk_error *err);
/* Prometheus durations: 1d2h3m4s5ms, units y w d h m s ms. */
int hk_yaml_duration_ms(const struct hk_yaml_node *node, int64_t *ret_ms, struct hk_error *err);
/* Sizes: 123, 10KB, 512MiB, 1GB (KB=1000, KiB=1024 …). */
int hk_yaml_bytes(const struct hk_yaml_node *node, uint64_t *ret, struct hk_error *err);
/* strdup of the scalar (ret freed by the caller). */
int hk_yaml_string(const struct hk_yaml_node *node, char **ret, struct hk_error *err);

/* Key comparisons made so far on this thread by the parser's duplicate-key checks: a counted
 * measure of parse cost for tests (it must grow linearly with the number of keys). */
uint64_t hk_yaml_key_compares(void);

/* Plain parsers shared with flags. */
int hk_parse_duration_ms(const char *s, int64_t *ret_ms);
int hk_parse_bytes(const char *s, uint64_t *ret);



/* Sets a dotted path ("collectors.textfile.directory") in a MAP tree to a scalar (replacing a
 * scalar or a sequence there), creating intermediate maps; origin names where the value came from ("flag --x") in later errors.
 * Returns 0, -ENOMEM, or -EINVAL if a path element exists but is not a map. */
int hk_yaml_set_path(struct hk_yaml_node *root, const char *dotted, const char *value,
                     const char *origin);
/* Same, but a key set before (by an earlier flag or the file) becomes a sequence with value
 * appended: for repeatable flags. -EINVAL when the key holds a map. */
int hk_yaml_append_path(struct hk_yaml_node *root, const char *dotted, const char *value,
                        const char *origin);
/* Same structure and scalars (positions ignored). NULL equals only NULL. */
bool hk_yaml_equal(const struct hk_yaml_node *a, const struct hk_yaml_node *b);
/* An empty MAP root for running without a config file. */
struct hk_yaml_node *hk_yaml_new_root(const char *name);
#endif
