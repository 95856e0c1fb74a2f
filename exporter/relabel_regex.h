/* SPDX-License-Identifier: Apache-2.0 */
/* Go regular expressions (RE2 syntax, as Prometheus' relabel_config takes them) on pcre2:
 * translation, anchored compilation, and the UTF-8 decoding both sides share. */
#ifndef HK_RELABEL_REGEX_H
#define HK_RELABEL_REGEX_H

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include "core/buf.h"

/* Translates a Go/RE2 regular expression (already wrapped by the caller if it wants anchors)
 * into an equivalent pcre2 pattern, rejecting what RE2 lacks (backreferences, lookaround,
 * atomic groups, possessive and nested quantifiers, recursion, verbs, \K \G \Z …).
 * Returns 0, -EINVAL (reason in err), or -ENOMEM/-E2BIG from the buffer. */
int hk_relabel_translate_regex(const char *re, size_t len, struct hk_buf *out, char *err,
                               size_t errlen);

/* Compiles a Go regex anchored as Prometheus anchors it (^(?s:re)$), with Go's semantics for
 * $, ^ and the ASCII classes; JIT when the kernel allows it. On success *ret_code (free with
 * pcre2_code_free) and its capture group count. Returns 0, -EINVAL (reason in err: syntax,
 * a construct RE2 lacks, too long) or -ENOMEM. */
int hk_relabel_regex_compile(const char *src, pcre2_code **ret_code, uint32_t *ret_groups,
                             char *err, size_t errlen);

/* Decodes one UTF-8 character as Go's utf8.DecodeRune accepts it (no overlongs, surrogates or
 * values past U+10FFFF). Returns its length, or 0 when the bytes are not a valid character. */
size_t hk_relabel_utf8_decode(const char *str, size_t len, uint32_t *ret_cp);

/* ASCII letter, digit or '_' (Go's \w, and a template name's ASCII characters). */
static inline bool hk_relabel_word_char(unsigned char c)
{
    return isalnum(c) || c == '_';
}

#endif
