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
char *hk_arena_strndup(struct hk_arena *arena, const char *s, size_t len);
struct hk_arena_mark hk_arena_mark(const struct hk_arena *arena);
void hk_arena_rewind(struct hk_arena *arena, struct hk_arena_mark mark);
/* Bytes reserved from the system (all chunks). */
size_t hk_arena_reserved_bytes(const struct hk_arena *arena);

#endif
