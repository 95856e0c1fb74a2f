/* The static collector table: one line per collector, in the order they run each cycle. */
#include <stddef.h>
#include <string.h>

#include "core/collector.h"

extern const struct hk_collector_ops hk_collector_loadavg;
extern const struct hk_collector_ops hk_collector_textfile;

const struct hk_collector_ops *const hk_collectors[] = {
    &hk_collector_loadavg,
    &hk_collector_textfile,
    NULL,
};

const struct hk_collector_ops *hk_collector_find(const char *name)
{
    for (size_t i = 0; hk_collectors[i]; i++)
        if (strcmp(hk_collectors[i]->name, name) == 0)
            return hk_collectors[i];
    return NULL;
}
