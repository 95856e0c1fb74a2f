/* The config sections owned by other modules; see sections.h. */
#include "agent/sections.h"

const struct hk_config_section hk_config_sections[] = {
    {NULL, NULL},
};
