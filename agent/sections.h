/* SPDX-License-Identifier: Apache-2.0 */
/* Config sections validated by modules outside agent/ (remote_write, kubernetes, …): each adds
 * one line to hk_config_sections in agent/sections.c. */
#ifndef HK_SECTIONS_H
#define HK_SECTIONS_H

#include "core/config.h"
#include "core/error.h"

struct hk_config_section {
    const char *name;
    /* Validates its part of cfg (cfg->remote_write …); 0 or -errno with err set. */
    int (*check)(const struct hk_config *cfg, struct hk_error *err);
};

extern const struct hk_config_section hk_config_sections[];

#endif
