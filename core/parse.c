/* SPDX-License-Identifier: Apache-2.0 */
/* Cursor helpers for kernel text files. */
#include "core/parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void hk_cursor_init(struct hk_cursor *c, const char *buf, size_t len)
{
    c->p = buf;
    c->end = buf + len;
    c->line = 1;
}

bool hk_cursor_eof(const struct hk_cursor *c)
{
    return c->p >= c->end;
}

void hk_cursor_skip_blanks(struct hk_cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

bool hk_cursor_token(struct hk_cursor *c, const char **ret_tok, size_t *ret_len)
{
    hk_cursor_skip_blanks(c);
    if (c->p >= c->end || *c->p == '\n')
        return false;
    const char *s = c->p;
    while (c->p < c->end && *c->p != ' ' && *c->p != '\t' && *c->p != '\n')
        c->p++;
    *ret_tok = s;
    *ret_len = (size_t)(c->p - s);
    return true;
}

bool hk_cursor_line(struct hk_cursor *c, const char **ret_line, size_t *ret_len)
{
    if (c->p >= c->end)
        return false;
    const char *s = c->p;
    const char *nl = memchr(s, '\n', (size_t)(c->end - s));
    const char *e = nl ? nl : c->end;
    *ret_line = s;
    *ret_len = (size_t)(e - s);
    c->p = nl ? nl + 1 : c->end;
    c->line++;
    return true;
}

void hk_cursor_next_line(struct hk_cursor *c)
{
    const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    c->p = nl ? nl + 1 : c->end;
    c->line++;
}

static int copy_token(const char *s, size_t len, char *buf, size_t cap)
{
    if (len == 0 || len >= cap)
        return -EINVAL;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return 0;
}

int hk_parse_u64(const char *s, size_t len, uint64_t *ret)
{
    char buf[32];
    if (copy_token(s, len, buf, sizeof(buf)) < 0 || buf[0] < '0' || buf[0] > '9')
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (*end)
        return -EINVAL;
    if (errno == ERANGE)
        return -ERANGE;
    *ret = v;
    return 0;
}

int hk_parse_i64(const char *s, size_t len, int64_t *ret)
{
    char buf[32];
    if (copy_token(s, len, buf, sizeof(buf)) < 0)
        return -EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (*end || end == buf)
        return -EINVAL;
    if (errno == ERANGE)
        return -ERANGE;
    *ret = v;
    return 0;
}

int hk_parse_double(const char *s, size_t len, double *ret)
{
    char buf[64];
    if (copy_token(s, len, buf, sizeof(buf)) < 0)
        return -EINVAL;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (*end || end == buf)
        return -EINVAL;
    if (errno == ERANGE && (v > 1 || v < -1))
        return -ERANGE;
    *ret = v;
    return 0;
}

bool hk_token_eq(const char *tok, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return n == len && memcmp(tok, lit, n) == 0;
}
