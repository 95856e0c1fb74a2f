/* Prometheus relabelling (write_relabel_configs): replace, keep, drop, keepequal, dropequal,
 * hashmod, labelmap, labeldrop, labelkeep, lowercase, uppercase — same semantics as Prometheus,
 * regexes anchored (^(?:re)$) and compiled with pcre2 in an RE2-compatible subset. */
#ifndef HK_RELABEL_H
#define HK_RELABEL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/labels.h"
#include "core/yaml.h"

struct hk_relabel_rules;

/* Output of one application; reusable across calls (holds its own storage). */
struct hk_relabel_result {
    struct hk_label *labels; /* sorted by name, no empty values; valid until the next apply/free */
    size_t n;
    void *priv;
};

/* Parses a YAML list of relabel configs (NULL or empty list: no rules). */
int hk_relabel_parse(const struct hk_yaml_node *list, struct hk_relabel_rules **ret,
                     struct hk_error *err);
void hk_relabel_free(struct hk_relabel_rules *rules);
size_t hk_relabel_count(const struct hk_relabel_rules *rules);

/* Applies rules to a sorted label set that includes __name__. Returns 1 (keep; result in out),
 * 0 (dropped), or -errno. */
int hk_relabel_apply(const struct hk_relabel_rules *rules, const struct hk_label *in, size_t n,
                     struct hk_relabel_result *out);
void hk_relabel_result_free(struct hk_relabel_result *out);

#endif
