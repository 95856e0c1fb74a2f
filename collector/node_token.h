/* SPDX-License-Identifier: Apache-2.0 */
/* An inlinable copy of hk_cursor_token for the parsers that split thousands of tokens per cycle
 * (vmstat, netstat/snmp/snmp6): the out-of-line call was a tenth of their parse time. Same
 * contract as hk_cursor_token (core/parse.h). Also a table-driven check of field-name
 * characters. */
#ifndef HK_NODE_TOKEN_H
#define HK_NODE_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/parse.h"

/* Byte classes: HK_NODE_SEP ends a token (' ', '\t', '\n'; the cursor's end too), HK_NODE_WORD
 * is [A-Za-z0-9_], a kernel field name's characters. One table load per byte. */
enum { HK_NODE_SEP = 1, HK_NODE_WORD = 2 };
static const unsigned char hk_node_class[256] = {
    [' '] = HK_NODE_SEP,           ['\t'] = HK_NODE_SEP,          ['\n'] = HK_NODE_SEP,
    ['a' ... 'z'] = HK_NODE_WORD, ['A' ... 'Z'] = HK_NODE_WORD, ['0' ... '9'] = HK_NODE_WORD,
    ['_'] = HK_NODE_WORD,
};

/* Whether s[0..len) is all [A-Za-z0-9_] (true when len is 0). */
static inline bool hk_node_word_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!(hk_node_class[(unsigned char)s[i]] & HK_NODE_WORD))
            return false;
    return true;
}

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
    while (p < end && !(hk_node_class[(unsigned char)*p] & HK_NODE_SEP))
        p++;
    c->p = p;
    *ret_tok = s;
    *ret_len = (size_t)(p - s);
    return true;
}

#endif
