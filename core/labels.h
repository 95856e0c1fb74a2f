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

/* Hash of series name + labels; stable across runs and hosts (used for sharding on disk). */
uint64_t hk_series_hash(const char *series_name, const struct hk_label *labels, size_t n);
/* Same, skipping one label name (e.g. "le"), so a histogram's series group together. */
/* hk_series_hash (the same value) with the lengths known: lens[2i] and lens[2i + 1] are
 * strlen of labels[i].name and labels[i].value. */
uint64_t hk_series_hash_lens(const char *series_name, size_t name_len,
                             const struct hk_label *labels, const uint32_t *lens, size_t n);
uint64_t hk_series_hash_skip(const char *name, const struct hk_label *labels, size_t n,
                             const char *skip_label);
uint64_t hk_hash_bytes(uint64_t seed, const void *data, size_t len);

#endif
