/* SPDX-License-Identifier: Apache-2.0 */
/* Go regular expressions (regexp/syntax, RE2 syntax with Perl flags) for relabelling: the
 * translation of a Go pattern into an equivalent pcre2 pattern, and its compilation anchored as
 * Prometheus anchors relabel regexes. Reads no file, emits no family.
 * Over 800 lines because one grammar: the RE2-to-PCRE2 translation of every construct Prometheus
 * accepts. */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "exporter/relabel_regex.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/labels.h"

/* Longest relabel regex accepted, before anchoring. */
#define RELABEL_MAX_REGEX_BYTES 65536
/* Go's regexp/syntax refuses repeat counts above this. */
#define RE2_MAX_REPEAT 1000

/* Decodes one UTF-8 character as Go's utf8.DecodeRune accepts it (no overlongs, surrogates or
 * values past U+10FFFF). Returns its length, or 0 when the bytes are not a valid character. */
size_t hk_relabel_utf8_decode(const char *str, size_t len, uint32_t *ret_cp)
{
    const unsigned char *s = (const unsigned char *)str;
    if (len == 0)
        return 0;
    if (s[0] < 0x80) {
        *ret_cp = s[0];
        return 1;
    }
    size_t n;
    uint32_t cp, min;
    if ((s[0] & 0xe0) == 0xc0) {
        n = 2, cp = s[0] & 0x1f, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3, cp = s[0] & 0x0f, min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4, cp = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    *ret_cp = cp;
    return n;
}

/* ---------------------------------------------------------------------------------------------
 * RE2 (Go regexp/syntax, Perl flags) → pcre2 translation.
 *
 * Everything is re-emitted in a form whose meaning is the same in both dialects: single
 * characters in classes and escapes become \x{..}, a '{' that Go reads as a literal is escaped,
 * \s becomes Go's [\t\n\f\r ] (pcre2's includes \v), octal escapes become \x{..} (pcre2 would read
 * \12 as a backreference), assertions are wrapped so they can be repeated, a flag group before a
 * quantifier moves after it. Constructs RE2 does not have are rejected with a reason.
 * Checked against Go's regexp by tools/relabel-oracle. One known difference remains: when a
 * repeated capture group can match the empty string, pcre2 records a final empty iteration
 * ("(a*)+" on "a" gives $1 = "") where Go keeps the last non-empty one ($1 = "a"); matching
 * itself is the same. */

/* What a quantifier would apply to, as Go's parser sees its stack: nothing (start, after '(' or
 * '|'), an atom, a repeat that was the last token (a second one is "nested repetition"), or a
 * repeat with a flag group after it (Go then repeats the repeat). */
enum prev_item { PREV_NONE, PREV_ATOM, PREV_REPEAT, PREV_REPEATED };

#define RE2_MAX_DEPTH 1000

struct xlat {
    const char *s;
    size_t len;
    size_t i;
    struct hk_buf *out;
    char *err;
    size_t errlen;
    unsigned depth;
    enum prev_item prev;
    size_t atom_start; /* output offset of the item a quantifier would repeat */
    /* Bare flag groups "(?i)" are held back until after a following quantifier: Go repeats the
     * item before the flags, pcre2 cannot quantify a flag setting. */
    struct hk_buf pending;
    size_t group_start[RE2_MAX_DEPTH];
};

__attribute__((format(printf, 2, 3))) static int xfail(struct xlat *x, const char *fmt, ...)
{
    if (x->err && x->errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(x->err, x->errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static void emit(struct xlat *x, const char *s)
{
    hk_buf_puts(x->out, s);
}

static void flush_pending(struct xlat *x)
{
    if (x->pending.len > 0) {
        hk_buf_put(x->out, x->pending.data, x->pending.len);
        hk_buf_reset(&x->pending);
    }
}

/* Starts a new quantifiable item in the output. */
static void begin_atom(struct xlat *x)
{
    flush_pending(x);
    x->atom_start = x->out->len;
    x->prev = PREV_ATOM;
}

static void emit_cp(struct xlat *x, uint32_t cp)
{
    hk_buf_printf(x->out, "\\x{%" PRIx32 "}", cp);
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Go's parseEscape: octal, hex, \a \f \t \n \r \v and escaped punctuation. x->i at the '\'. */
static int esc_char(struct xlat *x, uint32_t *ret_cp)
{
    const char *s = x->s;
    size_t len = x->len, i = x->i + 1;
    if (i >= len)
        return xfail(x, "trailing backslash at end of expression");
    unsigned char c = (unsigned char)s[i++];
    uint32_t cp = 0;
    switch (c) {
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
        /* A single non-zero digit is a backreference in Perl; RE2 has none. */
        if (i >= len || s[i] < '0' || s[i] > '7')
            return xfail(x, "backreferences are not supported (RE2 syntax): \\%c", c);
        /* fallthrough */
    case '0':
        cp = c - '0';
        for (int k = 1; k < 3 && i < len && s[i] >= '0' && s[i] <= '7'; k++)
            cp = cp * 8 + (uint32_t)(s[i++] - '0');
        break;
    case 'x':
        if (i < len && s[i] == '{') {
            size_t digits = 0;
            for (i++; i < len && hexval((unsigned char)s[i]) >= 0; i++, digits++) {
                cp = cp * 16 + (uint32_t)hexval((unsigned char)s[i]);
                if (cp > 0x10ffff)
                    return xfail(x, "invalid escape sequence: \\x{ value beyond U+10FFFF");
            }
            if (digits == 0 || i >= len || s[i] != '}')
                return xfail(x, "invalid escape sequence: malformed \\x{...}");
            i++;
        } else {
            if (i + 1 >= len || hexval((unsigned char)s[i]) < 0 ||
                hexval((unsigned char)s[i + 1]) < 0)
                return xfail(x, "invalid escape sequence: \\x needs two hex digits");
            cp = (uint32_t)(hexval((unsigned char)s[i]) * 16 + hexval((unsigned char)s[i + 1]));
            i += 2;
        }
        break;
    case 'a':
        cp = 7;
        break;
    case 'f':
        cp = 12;
        break;
    case 't':
        cp = 9;
        break;
    case 'n':
        cp = 10;
        break;
    case 'r':
        cp = 13;
        break;
    case 'v':
        cp = 11;
        break;
    default:
        if (c < 0x80 && !isalnum(c)) {
            cp = c;
            break;
        }
        if (c == 'k' || c == 'g' || c == '8' || c == '9')
            return xfail(x, "backreferences are not supported (RE2 syntax): \\%c", c);
        if (c >= 0x80)
            return xfail(x, "invalid escape sequence: backslash before a non-ASCII character");
        return xfail(x, "invalid or unsupported escape sequence \\%c (not RE2 syntax)", c);
    }
    x->i = i;
    *ret_cp = cp;
    return 0;
}

/* \pN, \p{Greek}, \P{^Lu}. x->i at the '\'. */
static int esc_unicode_class(struct xlat *x)
{
    const char *s = x->s;
    size_t len = x->len, i = x->i + 1;
    char kind = s[i++];
    if (i >= len)
        return xfail(x, "invalid character class range: \\%c", kind);
    if (s[i] != '{') {
        if (!isalpha((unsigned char)s[i]))
            return xfail(x, "invalid character class range: \\%c%c", kind, s[i]);
        hk_buf_printf(x->out, "\\%c{%c}", kind, s[i]);
        x->i = i + 1;
        return 0;
    }
    const char *close = memchr(s + i, '}', len - i);
    if (!close)
        return xfail(x, "invalid character class range: unterminated \\%c{", kind);
    size_t start = i + 1, end = (size_t)(close - s);
    size_t k = start;
    if (k < end && s[k] == '^')
        k++;
    if (k == end)
        return xfail(x, "invalid character class range: empty \\%c{}", kind);
    for (; k < end; k++)
        if (!isalpha((unsigned char)s[k]) && s[k] != '_')
            return xfail(x, "invalid character class range: \\%c{%.*s}", kind, (int)(end - start),
                         s + start);
    hk_buf_printf(x->out, "\\%c{%.*s}", kind, (int)(end - start), s + start);
    x->i = end + 1;
    return 0;
}

static const char *const posix_classes[] = {"alnum", "alpha", "ascii", "blank",  "cntrl",
                                            "digit", "graph", "lower", "print",  "punct",
                                            "space", "upper", "word",  "xdigit", NULL};

/* One character of a class (literal or Go escape); x->i advanced past it. */
static int class_char(struct xlat *x, uint32_t *ret_cp)
{
    if (x->i >= x->len)
        return xfail(x, "missing closing ]");
    if (x->s[x->i] == '\\')
        return esc_char(x, ret_cp);
    size_t n = hk_relabel_utf8_decode(x->s + x->i, x->len - x->i, ret_cp);
    if (n == 0)
        return xfail(x, "invalid UTF-8");
    x->i += n;
    return 0;
}

/* x->i at '['. */
static int xlat_class(struct xlat *x)
{
    const char *s = x->s;
    size_t len = x->len;
    begin_atom(x);
    x->i++;
    emit(x, "[");
    if (x->i < len && s[x->i] == '^') {
        emit(x, "^");
        x->i++;
    }
    bool first = true;
    for (;;) {
        if (x->i >= len)
            return xfail(x, "missing closing ]");
        size_t i = x->i;
        if (s[i] == ']' && !first) {
            emit(x, "]");
            x->i++;
            break;
        }
        first = false;
        if (len - i > 2 && s[i] == '[' && s[i + 1] == ':') {
            const char *close = memmem(s + i + 2, len - i - 2, ":]", 2);
            if (close) {
                const char *name = s + i + 2;
                size_t nlen = (size_t)(close - name);
                const char *bare = name;
                size_t blen = nlen;
                if (blen > 0 && bare[0] == '^')
                    bare++, blen--;
                bool known = false;
                for (const char *const *p = posix_classes; *p; p++)
                    if (strlen(*p) == blen && memcmp(*p, bare, blen) == 0)
                        known = true;
                if (!known)
                    return xfail(x, "invalid character class range: [:%.*s:]", (int)nlen, name);
                hk_buf_printf(x->out, "[:%.*s:]", (int)nlen, name);
                x->i = (size_t)(close - s) + 2;
                continue;
            }
        }
        if (s[i] == '\\' && i + 1 < len) {
            char c = s[i + 1];
            if (c == 'p' || c == 'P') {
                int r = esc_unicode_class(x);
                if (r < 0)
                    return r;
                continue;
            }
            if (c == 'd' || c == 'D' || c == 'w' || c == 'W') {
                hk_buf_printf(x->out, "\\%c", c);
                x->i += 2;
                continue;
            }
            if (c == 's') {
                emit(x, "\\x{9}\\x{a}\\x{c}\\x{d}\\x{20}");
                x->i += 2;
                continue;
            }
            if (c == 'S') {
                emit(x, "\\x{0}-\\x{8}\\x{b}\\x{e}-\\x{1f}\\x{21}-\\x{10ffff}");
                x->i += 2;
                continue;
            }
        }
        uint32_t lo, hi;
        int r = class_char(x, &lo);
        if (r < 0)
            return r;
        hi = lo;
        if (len - x->i >= 2 && s[x->i] == '-' && s[x->i + 1] != ']') {
            size_t range_start = i;
            x->i++;
            r = class_char(x, &hi);
            if (r < 0)
                return r;
            if (hi < lo)
                return xfail(x, "invalid character class range: %.*s", (int)(x->i - range_start),
                             s + range_start);
        }
        emit_cp(x, lo);
        if (hi != lo) {
            emit(x, "-");
            emit_cp(x, hi);
        }
    }
    x->prev = PREV_ATOM;
    return 0;
}

/* Outside a class, x->i at '\'. */
static int xlat_escape(struct xlat *x)
{
    const char *s = x->s;
    size_t i = x->i + 1;
    if (i >= x->len)
        return xfail(x, "trailing backslash at end of expression");
    char c = s[i];
    if (c != 'Q')
        begin_atom(x);
    switch (c) {
    case 'A':
    case 'z':
    case 'b':
    case 'B':
        /* Go lets an assertion be repeated; pcre2 only a group holding one. */
        hk_buf_printf(x->out, "(?:\\%c)", c);
        x->i = i + 1;
        break;
    case 'd':
    case 'D':
    case 'w':
    case 'W':
        hk_buf_printf(x->out, "\\%c", c);
        x->i = i + 1;
        break;
    case 's':
        emit(x, "[\\t\\n\\f\\r ]");
        x->i = i + 1;
        break;
    case 'S':
        emit(x, "[^\\t\\n\\f\\r ]");
        x->i = i + 1;
        break;
    case 'p':
    case 'P': {
        int r = esc_unicode_class(x);
        if (r < 0)
            return r;
        break;
    }
    case 'Q': {
        /* Literal text up to \E (or the end). */
        size_t start = i + 1, end = start;
        while (end < x->len && !(x->s[end] == '\\' && end + 1 < x->len && x->s[end + 1] == 'E'))
            end++;
        for (size_t k = start; k < end;) {
            uint32_t cp;
            size_t n = hk_relabel_utf8_decode(s + k, end - k, &cp);
            if (n == 0)
                return xfail(x, "invalid UTF-8");
            begin_atom(x);
            emit_cp(x, cp);
            k += n;
        }
        x->i = end < x->len ? end + 2 : end;
        if (end == start && x->prev == PREV_REPEAT)
            x->prev = PREV_REPEATED; /* like a flag group: a token that adds nothing */
        return 0;
    }
    default: {
        uint32_t cp = 0; /* set by esc_char on success (xfail is not followed by the analyzer) */
        int r = esc_char(x, &cp);
        if (r < 0)
            return r;
        emit_cp(x, cp);
        break;
    }
    }
    x->prev = PREV_ATOM;
    return 0;
}

/* Go's parseInt for repeat counts: digits without a leading zero; -1 for huge values. */
static bool repeat_int(const char *s, size_t len, size_t *i, long *ret)
{
    size_t k = *i;
    if (k >= len || s[k] < '0' || s[k] > '9')
        return false;
    if (len - k >= 2 && s[k] == '0' && s[k + 1] >= '0' && s[k + 1] <= '9')
        return false;
    long v = 0;
    for (; k < len && s[k] >= '0' && s[k] <= '9'; k++)
        if (v >= 0)
            v = v >= 100000000 ? -1 : v * 10 + (s[k] - '0');
    *i = k;
    *ret = v;
    return true;
}

/* Parses {n}, {n,} or {n,m} at x->i like Go; false when Go would read '{' as a literal. */
static bool repeat_braces(struct xlat *x, long *ret_min, long *ret_max, size_t *ret_end)
{
    const char *s = x->s;
    size_t len = x->len, i = x->i + 1;
    long min, max;
    if (!repeat_int(s, len, &i, &min) || i >= len)
        return false;
    if (s[i] != ',') {
        max = min;
    } else {
        i++;
        if (i >= len)
            return false;
        if (s[i] == '}') {
            max = -2; /* unbounded */
        } else {
            if (!repeat_int(s, len, &i, &max))
                return false;
            if (max < 0)
                min = -1;
        }
    }
    if (i >= len || s[i] != '}')
        return false;
    *ret_min = min;
    *ret_max = max;
    *ret_end = i + 1;
    return true;
}

static int xlat_repeat(struct xlat *x, size_t oplen)
{
    const char *op = x->s + x->i;
    if (x->prev == PREV_NONE)
        return xfail(x, "missing argument to repetition operator: %.*s", (int)oplen, op);
    if (x->prev == PREV_REPEAT)
        return xfail(x, "invalid nested repetition operator: %.*s", (int)oplen, op);
    if (x->prev == PREV_REPEATED) {
        /* "a*(?i)*": Go repeats "a*"; pcre2 needs it in a group. */
        if (hk_buf_reserve(x->out, 3) == 0) {
            char *d = x->out->data;
            memmove(d + x->atom_start + 3, d + x->atom_start, x->out->len - x->atom_start);
            memcpy(d + x->atom_start, "(?:", 3);
            x->out->len += 3;
            d[x->out->len] = '\0';
        }
        emit(x, ")");
    }
    hk_buf_put(x->out, op, oplen);
    x->i += oplen;
    if (x->i < x->len && x->s[x->i] == '?') {
        emit(x, "?");
        x->i++;
    }
    flush_pending(x);
    x->prev = PREV_REPEAT;
    return 0;
}

/* x->i at '('. */
static int xlat_group(struct xlat *x)
{
    const char *s = x->s;
    size_t len = x->len, i = x->i;
    bool flags_only = false;
    if (i + 1 < len && s[i + 1] == '?') {
        /* A bare flag group "(?i)" opens nothing; anything else opens a group. */
        size_t k = i + 2;
        while (k < len && (s[k] == 'i' || s[k] == 'm' || s[k] == 's' || s[k] == 'U' || s[k] == '-'))
            k++;
        flags_only = k < len && s[k] == ')';
    }
    if (!flags_only) {
        if (x->depth >= RE2_MAX_DEPTH)
            return xfail(x, "expression nests too deeply");
        flush_pending(x);
        x->group_start[x->depth] = x->out->len;
    }
    if (i + 1 >= len || s[i + 1] != '?') {
        emit(x, "(");
        x->i++;
        x->depth++;
        x->prev = PREV_NONE;
        return 0;
    }
    size_t rest = len - i;
    bool p_name = rest > 4 && s[i + 2] == 'P' && s[i + 3] == '<';
    bool name = rest > 3 && s[i + 2] == '<';
    if (name && (s[i + 3] == '=' || s[i + 3] == '!'))
        return xfail(x, "lookbehind assertions (?<%c are not supported (RE2 syntax)", s[i + 3]);
    if (p_name || name) {
        size_t start = i + (p_name ? 4 : 3);
        const char *close = memchr(s + start, '>', len - start);
        if (!close)
            return xfail(x, "invalid named capture: %.*s", (int)(len - i), s + i);
        size_t nlen = (size_t)(close - (s + start));
        bool valid = nlen > 0;
        for (size_t k = 0; k < nlen; k++)
            if (!hk_relabel_word_char((unsigned char)s[start + k]))
                valid = false;
        if (!valid)
            return xfail(x, "invalid named capture: %.*s", (int)(close - (s + i) + 1), s + i);
        hk_buf_printf(x->out, "(?<%.*s>", (int)nlen, s + start);
        x->i = (size_t)(close - s) + 1;
        x->depth++;
        x->prev = PREV_NONE;
        return 0;
    }
    if (rest > 2) {
        switch (s[i + 2]) {
        case '=':
        case '!':
            return xfail(x, "lookahead assertions (?%c are not supported (RE2 syntax)", s[i + 2]);
        case '>':
            return xfail(x, "atomic groups (?> are not supported (RE2 syntax)");
        case '#':
            return xfail(x, "comments (?# are not supported (RE2 syntax)");
        case '|':
            return xfail(x, "branch reset groups (?| are not supported (RE2 syntax)");
        case '(':
            return xfail(x, "conditional groups (?( are not supported (RE2 syntax)");
        case 'P':
        case 'R':
        case '&':
        case '+':
        case 'C':
            return xfail(x,
                         "backreferences, recursion and callouts (?%c are not supported "
                         "(RE2 syntax)",
                         s[i + 2]);
        default:
            if (s[i + 2] >= '0' && s[i + 2] <= '9')
                return xfail(x, "recursion (?%c is not supported (RE2 syntax)", s[i + 2]);
        }
    }
    /* Flags: (?imsU-imsU) or (?imsU-imsU:re), as Go's parsePerlFlags accepts them. */
    bool negated = false, saw_flag = false;
    for (size_t k = i + 2; k < len; k++) {
        char c = s[k];
        switch (c) {
        case 'i':
        case 'm':
        case 's':
        case 'U':
            saw_flag = true;
            continue;
        case '-':
            if (negated)
                break;
            negated = true;
            saw_flag = false;
            continue;
        case ':':
        case ')':
            if (negated && !saw_flag)
                break;
            x->i = k + 1;
            if (c == ':') {
                hk_buf_put(x->out, s + i, k + 1 - i);
                x->depth++;
                x->prev = PREV_NONE;
            } else {
                hk_buf_put(&x->pending, s + i, k + 1 - i);
                if (x->prev == PREV_REPEAT)
                    x->prev = PREV_REPEATED;
            }
            return 0;
        default:
            break;
        }
        return xfail(x, "invalid or unsupported Perl syntax: %.*s", (int)(k + 1 - i), s + i);
    }
    return xfail(x, "missing closing ): %.*s", (int)(len - i), s + i);
}

static int translate(struct xlat *x)
{
    const char *re = x->s;
    size_t len = x->len;
    if (!hk_utf8_valid(re, len))
        return xfail(x, "invalid UTF-8");
    while (x->i < len) {
        int r = 0;
        char c = re[x->i];
        switch (c) {
        case '\\':
            r = xlat_escape(x);
            break;
        case '[':
            r = xlat_class(x);
            break;
        case '(':
            r = xlat_group(x);
            break;
        case ')':
            if (x->depth == 0)
                return xfail(x, "unexpected ): more closing than opening parentheses");
            flush_pending(x);
            x->depth--;
            x->atom_start = x->group_start[x->depth];
            emit(x, ")");
            x->i++;
            x->prev = PREV_ATOM;
            break;
        case '|':
            flush_pending(x);
            emit(x, "|");
            x->i++;
            x->prev = PREV_NONE;
            break;
        case '*':
        case '+':
        case '?':
            r = xlat_repeat(x, 1);
            break;
        case '{': {
            long min, max;
            size_t end;
            if (!repeat_braces(x, &min, &max, &end)) {
                begin_atom(x);
                emit(x, "\\{");
                x->i++;
                break;
            }
            if (min < 0 || min > RE2_MAX_REPEAT || max > RE2_MAX_REPEAT ||
                (max >= 0 && min > max) || max == -1)
                return xfail(x, "invalid repeat count: %.*s", (int)(end - x->i), re + x->i);
            r = xlat_repeat(x, end - x->i);
            break;
        }
        case '^':
        case '$':
            /* Go lets an assertion be repeated; pcre2 only a group holding one. */
            begin_atom(x);
            emit(x, c == '^' ? "(?:^)" : "(?:$)");
            x->i++;
            break;
        case '.':
            begin_atom(x);
            emit(x, ".");
            x->i++;
            break;
        default: {
            uint32_t cp;
            size_t n = hk_relabel_utf8_decode(re + x->i, len - x->i, &cp);
            if (n == 0)
                return xfail(x, "invalid UTF-8");
            begin_atom(x);
            if (cp < 0x20 || cp == 0x7f)
                emit_cp(x, cp);
            else
                hk_buf_put(x->out, re + x->i, n);
            x->i += n;
            break;
        }
        }
        if (r < 0)
            return r;
    }
    if (x->depth != 0)
        return xfail(x, "missing closing )");
    flush_pending(x);
    return x->pending.err ? x->pending.err : x->out->err;
}

int hk_relabel_translate_regex(const char *re, size_t len, struct hk_buf *out, char *err,
                               size_t errlen)
{
    struct xlat *x = calloc(1, sizeof(*x));
    if (!x)
        return -ENOMEM;
    x->s = re;
    x->len = len;
    x->out = out;
    x->err = err;
    x->errlen = errlen;
    hk_buf_init(&x->pending, len + 1);
    int r = translate(x);
    hk_buf_free(&x->pending);
    free(x);
    return r;
}

/* ---------------------------------------------------------------------------------------------
 * Regex compilation (anchored as Prometheus anchors: ^(?s:re)$) */

int hk_relabel_regex_compile(const char *src, pcre2_code **ret_code, uint32_t *ret_groups,
                             char *err, size_t errlen)
{
    struct hk_buf wrapped, pattern;
    pcre2_compile_context *cctx = NULL;
    int r;
    hk_buf_init(&wrapped, RELABEL_MAX_REGEX_BYTES + 16);
    hk_buf_init(&pattern, 16 * RELABEL_MAX_REGEX_BYTES);
    hk_buf_puts(&wrapped, "^(?s:");
    hk_buf_puts(&wrapped, src);
    hk_buf_puts(&wrapped, ")$");
    if (wrapped.err) {
        r = wrapped.err;
        snprintf(err, errlen, "%s", r == -E2BIG ? "expression too long" : strerror(-r));
        goto out;
    }
    r = hk_relabel_translate_regex(wrapped.data, wrapped.len, &pattern, err, errlen);
    if (r < 0) {
        if (r != -EINVAL)
            snprintf(err, errlen, "%s", r == -E2BIG ? "expression too large" : strerror(-r));
        goto out;
    }
    cctx = pcre2_compile_context_create(NULL);
    if (!cctx) {
        r = -ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    pcre2_set_newline(cctx, PCRE2_NEWLINE_LF);
    /* Go semantics: $ is end of text only, (?m)^ also matches after a final \n; \C and (*UCP)
     * cannot sneak in; \d \w \b stay ASCII (no UCP), like RE2. */
    uint32_t options = PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_CIRCUMFLEX |
                       PCRE2_NEVER_BACKSLASH_C | PCRE2_NEVER_UCP | PCRE2_DUPNAMES;
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)pattern.data, pattern.len, options, &errcode, &erroff, cctx);
    if (!code) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(errcode, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "pcre2 error %d", errcode);
        snprintf(err, errlen, "%s", (const char *)msg);
        r = errcode == PCRE2_ERROR_NOMEMORY ? -ENOMEM : -EINVAL;
        goto out;
    }
    /* JIT is an optimisation only: without it (hardened kernels) the interpreter runs. */
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    uint32_t groups = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &groups);
    *ret_code = code;
    *ret_groups = groups;
    r = 0;
out:
    pcre2_compile_context_free(cctx);
    hk_buf_free(&wrapped);
    hk_buf_free(&pattern);
    return r;
}
