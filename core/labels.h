/* SPDX-License-Identifier: Apache-2.0 */
/* Label sets: validation of names, UTF-8 repair of values, ordering and 64-bit series hashing.
 * A label set is an array of name/value pairs sorted by name with unique names. */
#ifndef HK_LABELS_H
#define HK_LABELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hk_label {
    const char *name;
    const char *value;
};

/* [a-zA-Z_][a-zA-Z0-9_]* */
bool hk_label_name_valid(const char *name, size_t len);
/* [a-zA-Z_:][a-zA-Z0-9_:]* */
bool hk_metric_name_valid(const char *name, size_t len);
/* Length of the longest prefix of s (len bytes) that is valid UTF-8 ending on a character edge,
 * or len if all of it is valid. */
size_t hk_utf8_valid_prefix(const char *s, size_t len);
bool hk_utf8_valid(const char *s, size_t len);
/* Length (1-4) of the valid UTF-8 character at s (left bytes available), or 0 if none starts
 * there. */
size_t hk_utf8_char_len(const char *s, size_t left);
/* Copies s into dst replacing each invalid byte with U+FFFD (3 bytes); dst must hold 3*len+1.
 * Returns the output length (dst is NUL-terminated). */
size_t hk_utf8_repair(char *dst, const char *s, size_t len);

/* Label values are C strings: a NUL byte inside one would end it early, so "a\0b" and "a\0c"
 * would both become "a" (two series collapsed, one value kept). Producers that hold values with
 * a length refuse those with a NUL (and count them) instead of passing them on:
 * hk_label_value_valid is false for a NUL byte or invalid UTF-8 in s (len bytes). */
bool hk_label_value_valid(const char *s, size_t len);
/* Whether JSON text (len bytes) has a string that would decode to a NUL byte: a raw NUL or a
 * \u0000 escape. cJSON ends such strings at the NUL, so documents holding one are refused. */
bool hk_json_has_nul(const char *json, size_t len);

/* Sorts by name (byte order). Returns false if a name repeats. */
bool hk_labels_sort(struct hk_label *labels, size_t n);
int hk_labels_cmp(const struct hk_label *a, size_t na, const struct hk_label *b, size_t nb);
/* Value of name in a sorted set, or NULL. */
const char *hk_labels_get(const struct hk_label *labels, size_t n, const char *name);

/* Hash of series name + labels: content only, the same in every run and on every host (the
 * remote-write sender compares it across snapshots for staleness markers). Nothing on disk
 * depends on it any more (queue format 1 records stored it; format 2 stores ready requests).
 * Built from parts, so the builder can reuse them: hk_series_hash_of(hk_hash_str(name),
 * hk_labels_hash(labels)), where a set's hash is the sum (mod 2^64) of hk_label_hash(name hash,
 * value hash) over its labels, in any order. */
uint64_t hk_series_hash(const char *series_name, const struct hk_label *labels, size_t n);
/* Same, skipping one label name (e.g. "le"), so a histogram's series group together. */
uint64_t hk_series_hash_skip(const char *name, const struct hk_label *labels, size_t n,
                             const char *skip_label);
uint64_t hk_hash_str(const char *s, size_t len); /* a name's or a value's hash */
uint64_t hk_labels_hash(const struct hk_label *labels, size_t n);

/* 64-bit multiply, high half folded into the low one (the hashes' mixing step). */
static inline uint64_t hk_mix64(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* One label's part of a set hash. The constants tell a name from a value: {a="b"} and {b="a"}
 * differ. */
static inline uint64_t hk_label_hash(uint64_t name_hash, uint64_t value_hash)
{
    return hk_mix64(name_hash ^ 0xA0761D6478BD642FULL, value_hash ^ 0xE7037ED1A0B428DBULL);
}

static inline uint64_t hk_series_hash_of(uint64_t name_hash, uint64_t set_hash)
{
    return hk_mix64(hk_mix64(set_hash ^ 0x8EBC6AF09C88C6E3ULL, name_hash ^ 0x589965CC75374CC3ULL),
                    0x94D049BB133111EBULL);
}
uint64_t hk_hash_bytes(uint64_t seed, const void *data, size_t len);

#endif
