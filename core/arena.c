/* SPDX-License-Identifier: Apache-2.0 */
/* Chunked bump allocator. Chunks are never moved, so pointers stay valid until the arena is freed. */
#include "core/arena.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---- the pool of big blocks (see arena.h) ----
 * Blocks freed with hk_big_free wait here, unchanged and resident, for an allocation of about
 * the same rounded size (the smallest pooled block of at least that size and at most twice it);
 * in steady state a cycle then fills pages that are already mapped instead of pages the kernel
 * must fault in and zero. Bounded: at most POOL_SLOTS blocks and at most `limit` bytes, the
 * bytes the last cycle took (hk_big_cycle_end); a block that does not fit is given back to the
 * kernel. The pool is open (keeps what is freed) within a cycle (hk_big_cycle_begin ..
 * hk_big_cycle_end) and, when the scheduler keeps between cycles, also between them. Any thread
 * may free (the last reference of a snapshot drops on HTTP or remote-write threads). */
#define POOL_SLOTS 64

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

static struct {
    pthread_mutex_t mu;
    void *blocks[POOL_SLOTS];
    size_t sizes[POOL_SLOTS];
    size_t n;
    size_t bytes;
    size_t limit;         /* bytes the last cycle took; 0 before the first cycle end */
    size_t taken;         /* bytes taken (pool or fresh) since the last cycle end */
    bool open;            /* frees are kept (within a cycle; between cycles when keeping) */
    struct hk_big_stats st;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER};

static size_t big_round(size_t bytes)
{
    return (bytes + HK_BIG_BYTES - 1) & ~(HK_BIG_BYTES - 1);
}

void *hk_big_alloc(size_t bytes)
{
    if (bytes < HK_BIG_BYTES)
        return malloc(bytes ? bytes : 1);
    size_t rounded = big_round(bytes);
    if (rounded < bytes)
        return NULL;
    void *p = NULL;
    size_t got = 0;
    pthread_mutex_lock(&pool.mu);
    pool.taken += rounded;
    /* The smallest block that fits, at most twice the size (a big block is not spent on a
     * small request); of equal ones the most recently freed, the likeliest to be in the CPU's
     * caches. The taker frees it with its own size: the pool then counts that much of it. */
    size_t best = POOL_SLOTS;
    for (size_t i = pool.n; i-- > 0;)
        if (pool.sizes[i] >= rounded && pool.sizes[i] / 2 <= rounded &&
            (best == POOL_SLOTS || pool.sizes[i] < pool.sizes[best]))
            best = i;
    if (best != POOL_SLOTS) {
        p = pool.blocks[best];
        got = pool.sizes[best];
        pool.bytes -= got;
        pool.n--;
        pool.blocks[best] = pool.blocks[pool.n];
        pool.sizes[best] = pool.sizes[pool.n];
        pool.st.reused_bytes += rounded;
    }
    if (!p)
        pool.st.fresh_bytes += rounded;
    pthread_mutex_unlock(&pool.mu);
    if (p) {
        UNPOISON(p, rounded);
        /* A bigger block: its tail will not be used again (the taker frees it with its own
         * size), so its pages go back now rather than stay resident with the taker's data
         * (a snapshot's series array would hold them for its whole life). */
        if (got > rounded)
            madvise((char *)p + rounded, got - rounded, MADV_DONTNEED); /* advice only */
        return p;
    }
    p = aligned_alloc(HK_BIG_BYTES, rounded);
    if (p)
        madvise(p, rounded, MADV_HUGEPAGE); /* advice only: ignore failure */
    return p;
}

void hk_big_free(void *p, size_t bytes)
{
    if (!p)
        return;
    if (bytes < HK_BIG_BYTES) {
        free(p);
        return;
    }
    size_t rounded = big_round(bytes);
    pthread_mutex_lock(&pool.mu);
    bool keep = pool.open && pool.n < POOL_SLOTS && pool.bytes + rounded <= pool.limit;
    if (keep) {
        POISON(p, rounded); /* under the lock: taken only after it, unpoisoned by the taker */
        pool.blocks[pool.n] = p;
        pool.sizes[pool.n] = rounded;
        pool.n++;
        pool.bytes += rounded;
    }
    pthread_mutex_unlock(&pool.mu);
    if (!keep)
        free(p);
}

void hk_big_cycle_begin(void)
{
    pthread_mutex_lock(&pool.mu);
    pool.open = pool.limit > 0;
    pthread_mutex_unlock(&pool.mu);
}

void hk_big_cycle_end(bool keep)
{
    void *drop[POOL_SLOTS];
    size_t ndrop = 0;
    pthread_mutex_lock(&pool.mu);
    pool.limit = pool.taken; /* the bound within the next cycle, and between when keeping */
    pool.taken = 0;
    pool.open = keep && pool.limit > 0;
    size_t bound = keep ? pool.limit : 0;
    /* Oldest first: what the cycle just ended did not ask for again. */
    while (pool.bytes > bound && pool.n > 0) {
        drop[ndrop++] = pool.blocks[0];
        pool.bytes -= pool.sizes[0];
        pool.n--;
        memmove(pool.blocks, pool.blocks + 1, pool.n * sizeof(pool.blocks[0]));
        memmove(pool.sizes, pool.sizes + 1, pool.n * sizeof(pool.sizes[0]));
    }
    pthread_mutex_unlock(&pool.mu);
    for (size_t i = 0; i < ndrop; i++)
        free(drop[i]); /* ASan's free does not mind poisoned bytes */
}

void hk_big_get_stats(struct hk_big_stats *st)
{
    pthread_mutex_lock(&pool.mu);
    *st = pool.st;
    st->pooled_bytes = pool.bytes;
    st->limit_bytes = pool.open ? pool.limit : 0;
    pthread_mutex_unlock(&pool.mu);
}

void hk_big_pool_drain(void)
{
    pthread_mutex_lock(&pool.mu);
    size_t n = pool.n;
    void *drop[POOL_SLOTS];
    memcpy(drop, pool.blocks, n * sizeof(drop[0]));
    pool.n = 0;
    pool.bytes = 0;
    pool.limit = 0;
    pool.taken = 0;
    pool.open = false;
    pthread_mutex_unlock(&pool.mu);
    for (size_t i = 0; i < n; i++)
        free(drop[i]);
}

void *hk_big_realloc(void *p, size_t old_bytes, size_t new_bytes)
{
    if (new_bytes < HK_BIG_BYTES && old_bytes < HK_BIG_BYTES)
        return realloc(p, new_bytes ? new_bytes : 1);
    void *n = hk_big_alloc(new_bytes);
    if (!n)
        return NULL;
    if (p) {
        memcpy(n, p, old_bytes < new_bytes ? old_bytes : new_bytes);
        hk_big_free(p, old_bytes);
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
        hk_big_free(c, sizeof(struct chunk) + c->size);
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
        hk_big_free(arena->cur, sizeof(struct chunk) + arena->cur->size);
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
