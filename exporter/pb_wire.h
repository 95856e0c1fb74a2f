/* SPDX-License-Identifier: Apache-2.0 */
/* Protocol-buffer wire primitives shared by the hand-written encoders (remote-write 1.0 in
 * exporter/rw_encode.c, the exposition format in exporter/protofmt.c): varint size and write,
 * and short-string copies. Header-only so they inline into the encoders' hot loops. */
#ifndef HK_PB_WIRE_H
#define HK_PB_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Bytes of v as a varint: 1 + floor(log2(v)) / 7, with v | 1 so that 0 takes one byte. */
static inline size_t hk_pb_varint_len(uint64_t v)
{
    if (v < 0x80) /* nearly every length written */
        return 1;
    return (size_t)(63 - __builtin_clzll(v | 1)) / 7 + 1;
}

static inline uint8_t *hk_pb_put_varint(uint8_t *p, uint64_t v)
{
    if (v < 0x80) {
        *p = (uint8_t)v;
        return p + 1;
    }
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Label names and values are mostly a few bytes long: copied with fixed-size moves (two
 * overlapping ones cover any length in a range) instead of a libc call per string, which was
 * most of the encoders' time. Reads and writes stay within [s, s+len) and [p, p+len). */
static inline uint8_t *hk_pb_copy_small(uint8_t *p, const char *s, size_t len)
{
    if (len >= 8 && len <= 16) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + len - 8, 8);
        memcpy(p, &a, 8);
        memcpy(p + len - 8, &b, 8);
    } else if (len >= 4 && len < 8) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + len - 4, 4);
        memcpy(p, &a, 4);
        memcpy(p + len - 4, &b, 4);
    } else if (len < 4) {
        for (size_t i = 0; i < len; i++)
            p[i] = (uint8_t)s[i];
    } else {
        memcpy(p, s, len);
    }
    return p + len;
}

#endif
