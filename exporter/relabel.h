/* SPDX-License-Identifier: Apache-2.0 */
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

/* Output of one application; reusable across calls (holds its own storage). Zero-initialise it
 * before the first apply; release it with hk_relabel_result_free. */
struct hk_relabel_result {
    struct hk_label *labels; /* sorted by name, no empty values; valid until the next apply/free */
    size_t n;
    void *priv;
};

/* Parses a YAML list of relabel configs (NULL, null or empty list: no rules). Keys and checks
 * as Prometheus' relabel_config (label names in the legacy [a-zA-Z_][a-zA-Z0-9_]* scheme);
 * regex, replacement, target_label and separator are taken as written, without ${VAR}
 * expansion, since "${1}" and "$$" mean something there. Errors carry file:line:col. */
int hk_relabel_parse(const struct hk_yaml_node *list, struct hk_relabel_rules **ret,
                     struct hk_error *err);
void hk_relabel_free(struct hk_relabel_rules *rules);
size_t hk_relabel_count(const struct hk_relabel_rules *rules);

/* Applies rules to a sorted label set that includes __name__ (unsorted input is sorted; labels
 * with empty values count as absent). Returns 1 (keep; result in out), 0 (dropped by a rule, or
 * no label left), or -EINVAL (a name repeats), -E2BIG (label/byte caps), -ENOMEM, -ENOTSUP
 * (GnuTLS refused MD5 for hashmod, which parsing already checked).
 * out's names and values point into `in`, into the rules, or into out's own storage: valid
 * until the next apply/free on out, and while `in` and the rules live. Rules are immutable and
 * may be shared by threads; each thread uses its own result. After warm-up an application does
 * not allocate. */
int hk_relabel_apply(const struct hk_relabel_rules *rules, const struct hk_label *in, size_t n,
                     struct hk_relabel_result *out);
void hk_relabel_result_free(struct hk_relabel_result *out);

#endif
