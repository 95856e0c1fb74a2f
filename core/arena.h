/* SPDX-License-Identifier: Apache-2.0 */
/* Chunked bump allocator: one per snapshot, freed whole. Marks let a failed collector's partial
 * output be rewound without touching what other collectors wrote before it. */
#ifndef HK_ARENA_H
#define HK_ARENA_H

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
 * cycles on virtualised nodes). Smaller requests are plain malloc. Release with free(). */
#define HK_BIG_BYTES ((size_t)2 << 20)
void *hk_big_alloc(size_t bytes);
/* Grows a block from hk_big_alloc or malloc (old_bytes valid bytes are kept). */
void *hk_big_realloc(void *p, size_t old_bytes, size_t new_bytes);

#endif
