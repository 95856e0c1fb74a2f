/* SPDX-License-Identifier: Apache-2.0 */
/* Chunked bump allocator: one per snapshot, freed whole. Marks let a failed collector's partial
 * output be rewound without touching what other collectors wrote before it. */
#ifndef HK_ARENA_H
#define HK_ARENA_H

#include <stdbool.h>
#include <stddef.h>

struct hk_arena;

struct hk_arena_mark {
    void *chunk;
    size_t used;
};

struct hk_arena *hk_arena_new(size_t chunk_bytes);
void hk_arena_free(struct hk_arena *arena);
/* 16-byte aligned; NULL when out of memory. */
void *hk_arena_alloc(struct hk_arena *arena, size_t size);
/* A NUL-terminated copy, byte-aligned (strings need no alignment). */
char *hk_arena_strndup(struct hk_arena *arena, const char *s, size_t len);
struct hk_arena_mark hk_arena_mark(const struct hk_arena *arena);
void hk_arena_rewind(struct hk_arena *arena, struct hk_arena_mark mark);
/* Bytes reserved from the system (all chunks). */
size_t hk_arena_reserved_bytes(const struct hk_arena *arena);
/* Gives back the unused tails of the huge-page chunks (a huge page is resident whole once
 * touched): for an arena that is complete, such as a sealed snapshot's. Its contents stay; later
 * allocations still work (the pages come back zeroed). */
void hk_arena_trim(struct hk_arena *arena);
/* Size of the chunks allocated from now on (a builder that expects a large cycle asks for
 * bigger ones: see hk_big_alloc). */
void hk_arena_set_chunk_bytes(struct hk_arena *arena, size_t chunk_bytes);

/* Blocks of at least HK_BIG_BYTES that are filled once per collection cycle (series arrays,
 * hash tables, arena chunks, file buffers): 2 MiB-aligned and advised for transparent huge
 * pages, so filling one costs one page fault per 2 MiB instead of 512 (faults dominate such
 * cycles on virtualised nodes). Smaller requests are plain malloc.
 * Released with hk_big_free and the size asked for (or with free(), which never pools), a big
 * block goes to a process-wide pool and is handed out again, not zeroed, for a request of its
 * rounded size or one down to half of it (the block is then bigger than asked for): memory
 * is reused within a cycle, and across cycles when the scheduler keeps it, instead of being
 * faulted in and zeroed by the kernel. The pool keeps at most what the last cycle took (see
 * hk_big_cycle_end) and gives the rest back to the kernel. Under AddressSanitizer pooled blocks are
 * poisoned, so a use after release is still reported. Thread-safe. */
#define HK_BIG_BYTES ((size_t)2 << 20)
void *hk_big_alloc(size_t bytes);
void hk_big_free(void *p, size_t bytes);
/* Grows a block from hk_big_alloc or malloc (old_bytes valid bytes are kept; old_bytes also
 * tells hk_big_free the old block's size, 0 = unknown: not pooled). */
void *hk_big_realloc(void *p, size_t old_bytes, size_t new_bytes);
/* Start of a collection cycle (the scheduler, before the builder): from here to the cycle's
 * end, released blocks are kept (up to what the last cycle took) for later allocations of the
 * same cycle: the textfile collector's read buffer comes back as the seal's series array, the
 * builder's intern table as the seal's sort items. */
void hk_big_cycle_begin(void);
/* End of a collection cycle (the scheduler, after publishing). The pool's bound becomes the
 * bytes taken since the previous call. keep: the pool stays open between cycles and what it
 * holds beyond the bound is given back; !keep: everything pooled is given back, and blocks
 * released until the next hk_big_cycle_begin go straight back to the kernel. The scheduler
 * keeps only when cycles follow each other within HK_BIG_POOL_MAX_INTERVAL_MS. Keeping is
 * purely memory held between cycles: at 100k textfile series ~27 MiB of RSS (the builder's
 * tables and the previous snapshot's chunks) against the page faults and zeroing of ~35 MB a
 * cycle, ~13 % of the agent's CPU at 1 s (docs/remote-write.md, "Cost"). At 1 s and longer the
 * resident memory is worth more; below, the same bytes save that CPU twice or more often per
 * second. */
void hk_big_cycle_end(bool keep);
#define HK_BIG_POOL_MAX_INTERVAL_MS 500
/* Gives every pooled block back (exit, tests). */
void hk_big_pool_drain(void);

struct hk_big_stats {
    unsigned long long reused_bytes; /* taken from the pool, total */
    unsigned long long fresh_bytes;  /* mapped afresh, total */
    size_t pooled_bytes;             /* in the pool now */
    size_t limit_bytes;              /* its bound now */
};
void hk_big_get_stats(struct hk_big_stats *st);

#endif
