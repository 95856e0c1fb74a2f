/* A field filter for collectors whose families are named after the fields of a kernel file
 * (vmstat, netstat): node_exporter's include regex plus a per-position memo, so the regex runs
 * once per field name and not every cycle (the files list the same fields in the same order
 * from one read to the next; a position whose name changed is matched again). */
#ifndef HK_NODE_FILTER_H
#define HK_NODE_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/collector.h"

struct hk_node_field_filter;

/* Reads the regex option `key` of env (default def; "" keeps every field), validates it and,
 * when ret is not NULL, builds the filter. Returns 0 or -EINVAL (env->err set) / -ENOMEM. */
int hk_node_field_filter_new(const struct hk_collector_env *env, const char *key, const char *def,
                             struct hk_node_field_filter **ret);
/* Whether name (len bytes) matches; pos is the field's position in this cycle's read (0, 1, …),
 * the memo slot. */
bool hk_node_field_filter_match(struct hk_node_field_filter *f, size_t pos, const char *name,
                                size_t len);
void hk_node_field_filter_free(struct hk_node_field_filter *f);

#endif
