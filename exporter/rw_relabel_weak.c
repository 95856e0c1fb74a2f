/* Stand-ins for the relabel API until exporter/relabel.c is merged: weak, so the real
 * definitions replace them at link time. Without relabel support a non-empty
 * write_relabel_configs is refused rather than silently ignored. */
#include <errno.h>
#include <stdlib.h>

#include "exporter/relabel.h"

__attribute__((weak)) int hk_relabel_parse(const struct hk_yaml_node *list,
                                           struct hk_relabel_rules **ret, struct hk_error *err)
{
    *ret = NULL;
    if (list && list->kind == HK_YAML_SEQ && list->n > 0)
        return hk_error_at(err, list, "write_relabel_configs: relabelling is not built in");
    return 0;
}

__attribute__((weak)) void hk_relabel_free(struct hk_relabel_rules *rules)
{
}

__attribute__((weak)) size_t hk_relabel_count(const struct hk_relabel_rules *rules)
{
    return 0;
}

__attribute__((weak)) int hk_relabel_apply(const struct hk_relabel_rules *rules,
                                           const struct hk_label *in, size_t n,
                                           struct hk_relabel_result *out)
{
    return -ENOSYS;
}

__attribute__((weak)) void hk_relabel_result_free(struct hk_relabel_result *out)
{
}
