/* SPDX-License-Identifier: Apache-2.0 */
/* Cursor helpers for kernel text files (C locale, no allocation): tokens, lines, numbers with
 * errno-checked conversion. */
#ifndef HK_PARSE_H
#define HK_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hk_cursor {
    const char *p;
    const char *end;
    unsigned line; /* 1-based line of p, for error messages */
};

void hk_cursor_init(struct hk_cursor *c, const char *buf, size_t len);
bool hk_cursor_eof(const struct hk_cursor *c);
/* Skips spaces and tabs (not newlines). */
void hk_cursor_skip_blanks(struct hk_cursor *c);
/* Next whitespace-separated token on the current line; false at end of line/buffer. */
bool hk_cursor_token(struct hk_cursor *c, const char **ret_tok, size_t *ret_len);
/* Rest of the current line (without '\n'); advances past the newline. False at end of buffer. */
bool hk_cursor_line(struct hk_cursor *c, const char **ret_line, size_t *ret_len);
/* Advances past the next newline. */
void hk_cursor_next_line(struct hk_cursor *c);

/* Whole token must be a number. 0, -EINVAL, -ERANGE. */
int hk_parse_u64(const char *s, size_t len, uint64_t *ret);
int hk_parse_i64(const char *s, size_t len, int64_t *ret);
int hk_parse_double(const char *s, size_t len, double *ret);
bool hk_token_eq(const char *tok, size_t len, const char *lit);

#endif
