/* SPDX-License-Identifier: Apache-2.0 */
/* Chunked bump allocator. Chunks are never moved, so pointers stay valid until the arena is freed. */
#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void *hk_big_alloc(size_t bytes)
{
    if (bytes < HK_BIG_BYTES)
        return malloc(bytes ? bytes : 1);
    size_t rounded = (bytes + HK_BIG_BYTES - 1) & ~(HK_BIG_BYTES - 1);
    if (rounded < bytes)
        return NULL;
    void *p = aligned_alloc(HK_BIG_BYTES, rounded);
    if (p)
        madvise(p, rounded, MADV_HUGEPAGE); /* advice only: ignore failure */
    return p;
}

void *hk_big_realloc(void *p, size_t old_bytes, size_t new_bytes)
{
    if (new_bytes < HK_BIG_BYTES)
        return realloc(p, new_bytes ? new_bytes : 1);
    void *n = hk_big_alloc(new_bytes);
    if (!n)
        return NULL;
    if (p) {
        memcpy(n, p, old_bytes < new_bytes ? old_bytes : new_bytes);
        free(p);
    }
    return n;
}

struct chunk {
    struct chunk *prev;
    size_t size;
    size_t used;
    max_align_t data[];
};

struct hk_arena {
    struct chunk *cur;
    size_t chunk_bytes;
    size_t reserved;
};

struct hk_arena *hk_arena_new(size_t chunk_bytes)
{
    struct hk_arena *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->chunk_bytes = chunk_bytes < 4096 ? 4096 : chunk_bytes;
    return a;
}

void hk_arena_free(struct hk_arena *arena)
{
    if (!arena)
        return;
    struct chunk *c = arena->cur;
    while (c) {
        struct chunk *prev = c->prev;
        free(c);
        c = prev;
    }
    free(arena);
}

/* size bytes at an offset that is a multiple of align (a power of two, at most 16). */
static void *arena_take(struct hk_arena *arena, size_t size, size_t align)
{
    struct chunk *c = arena->cur;
    size_t at = c ? (c->used + align - 1) & ~(align - 1) : 0;
    if (!c || at > c->size || c->size - at < size) {
        size_t want = size > arena->chunk_bytes ? size : arena->chunk_bytes;
        if (want > SIZE_MAX - sizeof(struct chunk))
            return NULL;
        /* A chunk of chunk_bytes fills the huge pages it asked for exactly. */
        if (want == arena->chunk_bytes && want >= HK_BIG_BYTES &&
            size <= want - sizeof(struct chunk))
            want -= sizeof(struct chunk);
        struct chunk *n = hk_big_alloc(sizeof(struct chunk) + want);
        if (!n)
            return NULL;
        n->prev = c;
        n->size = want;
        n->used = 0;
        arena->cur = n;
        arena->reserved += want;
        c = n;
        at = 0;
    }
    void *p = (char *)c->data + at;
    c->used = at + size;
    return p;
}

void *hk_arena_alloc(struct hk_arena *arena, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (size == 0)
        size = 16;
    return arena_take(arena, size, 16);
}

char *hk_arena_strndup(struct hk_arena *arena, const char *s, size_t len)
{
    /* Byte-aligned: label values are mostly a few bytes, and rounding each to 16 took twice
     * their size at 100k distinct values. */
    char *p = len < SIZE_MAX - 16 ? arena_take(arena, len + 1, 1) : NULL;
    if (!p)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

struct hk_arena_mark hk_arena_mark(const struct hk_arena *arena)
{
    struct hk_arena_mark m = {arena->cur, arena->cur ? arena->cur->used : 0};
    return m;
}

void hk_arena_rewind(struct hk_arena *arena, struct hk_arena_mark mark)
{
    while (arena->cur && arena->cur != mark.chunk) {
        struct chunk *prev = arena->cur->prev;
        arena->reserved -= arena->cur->size;
        free(arena->cur);
        arena->cur = prev;
    }
    if (arena->cur)
        arena->cur->used = mark.used;
}

void hk_arena_trim(struct hk_arena *arena)
{
    const uintptr_t page = 4096;
    for (struct chunk *c = arena->cur; c; c = c->prev) {
        size_t total = sizeof(struct chunk) + c->size;
        if (total < HK_BIG_BYTES)
            continue; /* a malloc'ed chunk: not ours to advise on */
        /* hk_big_alloc gave whole huge pages: everything past the used part is ours. */
        uintptr_t end = (uintptr_t)c + ((total + HK_BIG_BYTES - 1) & ~(HK_BIG_BYTES - 1));
        uintptr_t start = ((uintptr_t)c->data + c->used + page - 1) & ~(page - 1);
        if (end > start)
            madvise((void *)start, end - start, MADV_DONTNEED); /* advice: failure is harmless */
    }
}

void hk_arena_set_chunk_bytes(struct hk_arena *arena, size_t chunk_bytes)
{
    arena->chunk_bytes = chunk_bytes < 4096 ? 4096 : chunk_bytes;
}

size_t hk_arena_reserved_bytes(const struct hk_arena *arena)
{
    return arena->reserved;
}
