/* An inlinable copy of hk_cursor_token for the parsers that split thousands of tokens per cycle
 * (vmstat, netstat/snmp/snmp6): the out-of-line call was a tenth of their parse time. Same
 * contract as hk_cursor_token (core/parse.h). */
#ifndef HK_NODE_TOKEN_H
#define HK_NODE_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/parse.h"

static inline bool hk_node_token(struct hk_cursor *c, const char **ret_tok, size_t *ret_len)
{
    const char *p = c->p, *end = c->end;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p >= end || *p == '\n') {
        c->p = p;
        return false;
    }
    const char *s = p;
    while (p < end && *p != ' ' && *p != '\t' && *p != '\n')
        p++;
    c->p = p;
    *ret_tok = s;
    *ret_len = (size_t)(p - s);
    return true;
}

#endif
