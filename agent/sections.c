/* SPDX-License-Identifier: Apache-2.0 */
/* The config sections owned by other modules; see sections.h. */
#include "agent/sections.h"

#include "exporter/rw_config.h"
int hk_kubelet_config_check(const struct hk_config *cfg, struct hk_error *err);

const struct hk_config_section hk_config_sections[] = {
    {"remote_write", hk_rw_config_check},
    {"kubernetes", hk_kubelet_config_check},
    {NULL, NULL},
};
