/* Field filter with a per-position memo (see node_filter.h). */
#include "collector/node_filter.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/node_common.h"

/* /proc/vmstat has ~180 fields, netstat+snmp+snmp6 ~420: room for both with margin. Positions
 * beyond, or names longer than a slot, are matched with the regex every time (still correct). */
#define MEMO_SLOTS 1024
#define MEMO_NAME 62

struct memo_slot {
    uint8_t len; /* 0 = empty */
    bool match;
    char name[MEMO_NAME];
};

struct hk_node_field_filter {
    struct hk_node_regex *re; /* NULL: every field matches */
    struct memo_slot memo[MEMO_SLOTS];
};

int hk_node_field_filter_new(const struct hk_collector_env *env, const char *key, const char *def,
                             struct hk_node_field_filter **ret)
{
    struct hk_node_regex *re = NULL;
    int r = hk_node_regex_option(env, key, def, ret ? &re : NULL);
    if (r < 0 || !ret)
        return r;
    struct hk_node_field_filter *f = calloc(1, sizeof(*f));
    if (!f) {
        hk_node_regex_free(re);
        return -ENOMEM;
    }
    f->re = re;
    *ret = f;
    return 0;
}

bool hk_node_field_filter_match(struct hk_node_field_filter *f, size_t pos, const char *name,
                                size_t len)
{
    if (!f->re)
        return true;
    if (pos >= MEMO_SLOTS || len == 0 || len > MEMO_NAME)
        return hk_node_regex_match(f->re, name, len);
    struct memo_slot *m = &f->memo[pos];
    if (m->len == len && memcmp(m->name, name, len) == 0)
        return m->match;
    m->match = hk_node_regex_match(f->re, name, len);
    memcpy(m->name, name, len);
    m->len = (uint8_t)len;
    return m->match;
}

void hk_node_field_filter_free(struct hk_node_field_filter *f)
{
    if (!f)
        return;
    hk_node_regex_free(f->re);
    free(f);
}
