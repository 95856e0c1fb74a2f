/* The config sections owned by other modules; see sections.h. */
#include "agent/sections.h"

int hk_kubelet_config_check(const struct hk_config *cfg, struct hk_error *err);

const struct hk_config_section hk_config_sections[] = {
    {"kubernetes", hk_kubelet_config_check},
    {NULL, NULL},
};
