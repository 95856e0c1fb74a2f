/* SPDX-License-Identifier: Apache-2.0 */
/* A field filter for collectors whose families are named after the fields of a kernel file
 * (vmstat, netstat): node_exporter's include regex plus a per-position memo, so the regex runs
 * once per field name and not every cycle (the files list the same fields in the same order
 * from one read to the next; a position whose name changed is matched again). */
#ifndef HK_NODE_FILTER_H
#define HK_NODE_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* The keys of a "key value" per line file (vmstat, snmp6) as last parsed whole, and which lines
 * were selected: while a read has the very same keys on its non-blank lines, the lines are
 * checked against them (no name validation, no filter) and only the values parsed. */
struct hk_node_kv_layout {
    char *keys;     /* the keys, back to back */
    uint32_t *off;  /* per line: offset of its key in keys */
    uint8_t *len;   /* per line: key length (keys are at most 255 bytes, else not recorded) */
    size_t nlines;
    uint32_t *sel;  /* selected line indices, ascending */
    size_t nsel;
    size_t advance; /* the filter positions the file took (what the caller's pos moves by) */
};

/* Whether the line's key is selected; called once per non-blank line, in order. */
typedef bool (*hk_node_kv_select_fn)(const char *key, size_t key_len, void *userdata);
/* A selected line of hk_node_kv_layout_parse: key (into buf) and value. */
typedef int (*hk_node_kv_fn)(const char *key, size_t key_len, double value, void *userdata);

void hk_node_kv_layout_clear(struct hk_node_kv_layout *l);
/* Records buf (len bytes), which the file's full parser just accepted: every non-blank line is
 * "key value" with a valid key and value. Out of memory (or an oversized key) leaves the layout
 * empty, so the full parse keeps running. */
void hk_node_kv_layout_record(struct hk_node_kv_layout *l, const char *buf, size_t len,
                              size_t advance, hk_node_kv_select_fn select, void *userdata);
/* Parses buf by the recorded layout: 0 after calling fn for each selected line, -EAGAIN when
 * buf does not have the layout or a value is not a kernel integer (the full parser decides
 * then; fn may have been called for some lines), or fn's error. */
int hk_node_kv_layout_parse(const struct hk_node_kv_layout *l, const char *buf, size_t len,
                            hk_node_kv_fn fn, void *userdata);

#endif
