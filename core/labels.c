/* SPDX-License-Identifier: Apache-2.0 */
/* Label validation, UTF-8 repair, ordering and series hashing. */
#include "core/labels.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Name character classes, one table load per byte (names are checked on every dynamic family
 * and label of every cycle): C_FIRST may start a label name, C_REST continue one; metric names
 * also allow ':' (C_COLON) anywhere. */
enum { C_FIRST = 1, C_REST = 2, C_COLON = 4 };
static const unsigned char name_class[256] = {
    ['a' ... 'z'] = C_FIRST | C_REST,
    ['A' ... 'Z'] = C_FIRST | C_REST,
    ['_'] = C_FIRST | C_REST,
    ['0' ... '9'] = C_REST,
    [':'] = C_COLON,
};

bool hk_label_name_valid(const char *name, size_t len)
{
    if (len == 0 || !(name_class[(unsigned char)name[0]] & C_FIRST))
        return false;
    for (size_t i = 1; i < len; i++)
        if (!(name_class[(unsigned char)name[i]] & C_REST))
            return false;
    return true;
}

bool hk_metric_name_valid(const char *name, size_t len)
{
    if (len == 0 || !(name_class[(unsigned char)name[0]] & (C_FIRST | C_COLON)))
        return false;
    for (size_t i = 1; i < len; i++)
        if (!(name_class[(unsigned char)name[i]] & (C_REST | C_COLON)))
            return false;
    return true;
}

/* Length of the valid UTF-8 sequence starting at s[0], or 0 if invalid (RFC 3629: no overlongs,
 * no surrogates, max U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (left < n)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

size_t hk_utf8_char_len(const char *s, size_t left)
{
    return left ? utf8_seq((const unsigned char *)s, left) : 0;
}

size_t hk_utf8_valid_prefix(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        /* ASCII eight bytes at a time: label values and helps are nearly always plain ASCII. */
        uint64_t w;
        if (len - i >= 8 && (memcpy(&w, p + i, 8), (w & 0x8080808080808080ULL) == 0)) {
            i += 8;
            continue;
        }
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_seq(p + i, len - i);
        if (n == 0)
            return i;
        i += n;
    }
    return len;
}

bool hk_utf8_valid(const char *s, size_t len)
{
    return hk_utf8_valid_prefix(s, len) == len;
}

size_t hk_utf8_repair(char *dst, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0;
    while (i < len) {
        size_t n = p[i] < 0x80 ? 1 : utf8_seq(p + i, len - i);
        if (n == 0) {
            dst[o++] = (char)0xEF;
            dst[o++] = (char)0xBF;
            dst[o++] = (char)0xBD;
            i++;
        } else {
            memcpy(dst + o, p + i, n);
            o += n;
            i += n;
        }
    }
    dst[o] = '\0';
    return o;
}

bool hk_label_value_valid(const char *s, size_t len)
{
    return !memchr(s, '\0', len) && hk_utf8_valid(s, len);
}

bool hk_json_has_nul(const char *json, size_t len)
{
    if (memchr(json, '\0', len))
        return true;
    /* Escapes only occur in strings; skipping each escape's second byte keeps "\\u0000" (an
     * escaped backslash, then text) apart from "\u0000". */
    for (size_t i = 0; i + 1 < len; i++) {
        if (json[i] != '\\')
            continue;
        if (json[i + 1] == 'u' && i + 6 <= len && memcmp(json + i + 2, "0000", 4) == 0)
            return true;
        i++;
    }
    return false;
}

static int label_name_cmp(const void *a, const void *b)
{
    return strcmp(((const struct hk_label *)a)->name, ((const struct hk_label *)b)->name);
}

bool hk_labels_sort(struct hk_label *labels, size_t n)
{
    /* Label sets are small (typically < 12): insertion sort beats qsort and needs no callback.
     * Large sets (external_labels from a config) must not go quadratic: qsort. */
    if (n > 32)
        qsort(labels, n, sizeof(*labels), label_name_cmp);
    for (size_t i = 1; i < n && n <= 32; i++) {
        struct hk_label t = labels[i];
        size_t j = i;
        while (j > 0 && strcmp(labels[j - 1].name, t.name) > 0) {
            labels[j] = labels[j - 1];
            j--;
        }
        labels[j] = t;
    }
    for (size_t i = 1; i < n; i++)
        if (strcmp(labels[i - 1].name, labels[i].name) == 0)
            return false;
    return true;
}

int hk_labels_cmp(const struct hk_label *a, size_t na, const struct hk_label *b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    for (size_t i = 0; i < n; i++) {
        int c = strcmp(a[i].name, b[i].name);
        if (c)
            return c;
        c = strcmp(a[i].value, b[i].value);
        if (c)
            return c;
    }
    return na < nb ? -1 : na > nb ? 1 : 0;
}

const char *hk_labels_get(const struct hk_label *labels, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(labels[i].name, name) == 0)
            return labels[i].value;
    return NULL;
}

/* 64-bit multiply-xorshift mixing over 8-byte words (wyhash-style folding, our own constants
 * from splitmix64). Fast on short strings, good avalanche; stable across runs. */
static inline uint64_t mix(uint64_t a, uint64_t b)
{
    return hk_mix64(a, b);
}

uint64_t hk_hash_bytes(uint64_t seed, const void *data, size_t len)
{
    const unsigned char *p = data;
    const uint64_t k1 = 0x9E3779B97F4A7C15ULL, k2 = 0xBF58476D1CE4E5B9ULL;
    uint64_t h = seed ^ (len * k1);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mix(h ^ w, k2);
        p += 8;
        len -= 8;
    }
    /* The 0..7 tail bytes, little-endian and zero-extended, read with fixed-size loads (a
     * variable-length memcpy is a libc call, and most label strings end in a tail). */
    uint64_t w = 0;
    if (len >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + len - 4, 4);
        w = lo | (uint64_t)hi << (8 * (len - 4));
    } else if (len) {
        w = (uint64_t)p[0] | (uint64_t)p[len / 2] << (8 * (len / 2)) |
            (uint64_t)p[len - 1] << (8 * (len - 1));
    }
    h = mix(h ^ w ^ ((uint64_t)len << 56), k1);
    return h;
}

/* Series hash (see labels.h): the name's hash and the set's hash, combined. A set's hash is the
 * sum of its labels' pair hashes, so it does not depend on the order of the labels: the builder
 * adds the parts it remembers per label position, before sorting, and a histogram's group hash
 * is the set's minus its le pair. Names in a set are unique, so no pair can appear twice. */
uint64_t hk_hash_str(const char *s, size_t len)
{
    return hk_hash_bytes(0, s, len);
}

uint64_t hk_labels_hash(const struct hk_label *labels, size_t n)
{
    uint64_t h = 0;
    for (size_t i = 0; i < n; i++)
        h += hk_label_hash(hk_hash_str(labels[i].name, strlen(labels[i].name)),
                           hk_hash_str(labels[i].value, strlen(labels[i].value)));
    return h;
}

uint64_t hk_series_hash(const char *series_name, const struct hk_label *labels, size_t n)
{
    return hk_series_hash_of(hk_hash_str(series_name, strlen(series_name)),
                             hk_labels_hash(labels, n));
}

uint64_t hk_series_hash_skip(const char *name, const struct hk_label *labels, size_t n,
                             const char *skip_label)
{
    uint64_t h = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(labels[i].name, skip_label) != 0)
            h += hk_label_hash(hk_hash_str(labels[i].name, strlen(labels[i].name)),
                               hk_hash_str(labels[i].value, strlen(labels[i].value)));
    return hk_series_hash_of(hk_hash_str(name, strlen(name)), h);
}
