/* SPDX-License-Identifier: Apache-2.0 */
/* Protocol-buffer wire reading primitives shared by the hand-written decoders (the queued
 * remote-write requests in exporter/rw_decode.c, their native histograms in exporter/rw_nhist.c);
 * the writing ones are in pb_wire.h. A cursor never reads past its end: the first short or
 * malformed field sets `bad`, after which every read returns 0 and hk_pb_read_key() false, so a
 * caller checks once after its loop. Header-only so they inline into the decoders' loops. */
#ifndef HK_PB_READ_H
#define HK_PB_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hk_pb_cursor {
    const uint8_t *p, *end;
    bool bad;
};

static inline uint64_t hk_pb_read_varint(struct hk_pb_cursor *c)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64 && c->p < c->end; shift += 7) {
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    c->bad = true;
    return 0;
}

/* Little-endian, whatever the host's byte order. */
static inline uint64_t hk_pb_read_fixed64(struct hk_pb_cursor *c)
{
    uint64_t v = 0;
    if (c->end - c->p < 8) {
        c->bad = true;
        return 0;
    }
    for (int i = 7; i >= 0; i--)
        v = v << 8 | c->p[i];
    c->p += 8;
    return v;
}

/* A LEN field's bytes as a sub-cursor; on a bad length an empty one marked bad (and c too). */
static inline struct hk_pb_cursor hk_pb_read_sub(struct hk_pb_cursor *c)
{
    struct hk_pb_cursor s = {c->p, c->p, true};
    uint64_t len = hk_pb_read_varint(c);
    if (c->bad || len > (uint64_t)(c->end - c->p)) {
        c->bad = true;
        return s;
    }
    s.p = c->p;
    s.end = c->p + len;
    s.bad = false;
    c->p += len;
    return s;
}

/* Steps over a field of a kind the caller does not want; groups (3, 4) are refused. */
static inline void hk_pb_skip(struct hk_pb_cursor *c, uint32_t wt)
{
    if (wt == 0)
        hk_pb_read_varint(c);
    else if (wt == 1)
        hk_pb_read_fixed64(c);
    else if (wt == 2)
        hk_pb_read_sub(c);
    else if (wt == 5 && c->end - c->p >= 4)
        c->p += 4;
    else
        c->bad = true;
}

/* Reads a field key; false at the end or on corruption (a key beyond 32 bits included). */
static inline bool hk_pb_read_key(struct hk_pb_cursor *c, uint32_t *field, uint32_t *wt)
{
    if (c->bad || c->p >= c->end)
        return false;
    uint64_t k = hk_pb_read_varint(c);
    if (c->bad || k >> 32)
        return c->bad = true, false;
    *field = (uint32_t)(k >> 3);
    *wt = (uint32_t)(k & 7);
    return true;
}

/* Steps to the next LEN field numbered `field`, skipping any other, and returns its bytes in
 * *ret; false at the end or on corruption (a bad sub-message is returned, marked bad). */
static inline bool hk_pb_read_next(struct hk_pb_cursor *c, uint32_t field, struct hk_pb_cursor *ret)
{
    uint32_t f, wt;
    while (hk_pb_read_key(c, &f, &wt)) {
        if (f == field && wt == 2) {
            *ret = hk_pb_read_sub(c);
            return true;
        }
        hk_pb_skip(c, wt);
    }
    return false;
}

#endif
