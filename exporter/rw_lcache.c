/* SPDX-License-Identifier: Apache-2.0 */
/* Relabel cache (see rw_lcache.h): a dense array of entries and an open-addressing index of
 * their positions; eviction compacts the array and rebuilds the index. */
#include "exporter/rw_lcache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Where an outgoing label's name or value comes from (one byte each). */
#define C_SERIES 0x00    /* name: "__name__"; value: the series name */
#define C_LABEL 0x01     /* 0x01..0x7f: the series' label code-1 */
#define C_ADD 0x80       /* name 0x80..0xbf, value 0x80..0xfe: the target's added label */
#define C_EXPORTED 0xc0  /* name 0xc0..0xfe: the added label's exported_<name> */
#define C_LITERAL 0xff   /* a string the rules made, stored in the entry */
#define MAX_LABEL_CODES (C_ADD - C_LABEL)
#define MAX_ADD_NAME (C_EXPORTED - C_ADD)
#define MAX_EXPORTED (C_LITERAL - C_EXPORTED)
#define MAX_ADD_VALUE (C_LITERAL - C_ADD)
#define INLINE_CODES 16

struct entry {
    uint64_t hash;     /* the series hash */
    uint64_t out_hash; /* hash of the outgoing label set */
    const struct hk_series *src;
    uint32_t seen; /* cycle the series was last present in */
    uint8_t target;
    uint8_t n; /* outgoing labels; 0 = dropped */
    uint8_t has_blob;
    union {
        uint8_t inl[INLINE_CODES]; /* 2n codes when they fit and no string was made */
        uint8_t *blob;             /* 2n codes, then the literal strings in order */
    } u;
};

struct hk_rw_lcache {
    const struct hk_rw_targets *targets;
    struct entry *ents;
    size_t n, cap;
    uint32_t *idx; /* position + 1; 0 = empty */
    size_t icap;   /* power of two, at least 2n */
    uint32_t gen;
    /* Snapshots list their series in the same order every cycle and entries keep the order they
     * were made in, so the entry after the last one found is nearly always the next one asked
     * for: checked first, it spares the index probe and keeps the accesses sequential. */
    size_t next;
    size_t blob_bytes;
    struct hk_rw_lcache_stats st;
};

struct hk_rw_lcache *hk_rw_lcache_new(const struct hk_rw_targets *targets)
{
    struct hk_rw_lcache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->targets = targets;
    c->gen = 1;
    return c;
}

static const uint8_t *codes_of(const struct entry *e)
{
    return e->has_blob ? e->u.blob : e->u.inl;
}

static size_t blob_size(const struct entry *e)
{
    size_t len = 2 * (size_t)e->n;
    const char *lit = (const char *)e->u.blob + len;
    for (size_t i = 0; i < len; i++)
        if (e->u.blob[i] == C_LITERAL) {
            size_t l = strlen(lit) + 1;
            len += l;
            lit += l;
        }
    return len;
}

void hk_rw_lcache_free(struct hk_rw_lcache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        if (c->ents[i].has_blob)
            free(c->ents[i].u.blob);
    free(c->ents);
    free(c->idx);
    free(c);
}

static size_t slot_of(uint64_t hash, uint8_t target, size_t mask)
{
    uint64_t h = hash ^ ((uint64_t)target * 0x9e3779b97f4a7c15ULL);
    h ^= h >> 29;
    return (size_t)h & mask;
}

static void index_put(struct hk_rw_lcache *c, size_t pos)
{
    size_t mask = c->icap - 1, k = slot_of(c->ents[pos].hash, c->ents[pos].target, mask);
    while (c->idx[k])
        k = (k + 1) & mask;
    c->idx[k] = (uint32_t)(pos + 1);
}

/* A fresh index of at least 2n slots (at least min_cap). */
static int index_rebuild(struct hk_rw_lcache *c, size_t min_cap)
{
    size_t cap = 64;
    while (cap < 2 * c->n || cap < min_cap)
        cap <<= 1;
    if (cap != c->icap) {
        uint32_t *n = calloc(cap, sizeof(*n));
        if (!n)
            return -ENOMEM;
        free(c->idx);
        c->idx = n;
        c->icap = cap;
    } else {
        memset(c->idx, 0, cap * sizeof(*c->idx));
    }
    for (size_t i = 0; i < c->n; i++)
        index_put(c, i);
    return 0;
}

void hk_rw_lcache_cycle_begin(struct hk_rw_lcache *c)
{
    c->next = 0;
    if (++c->gen == 0)
        c->gen = 1;
}

void hk_rw_lcache_cycle_end(struct hk_rw_lcache *c)
{
    size_t j = 0;
    for (size_t i = 0; i < c->n; i++) {
        struct entry *e = &c->ents[i];
        if (e->seen == c->gen) {
            if (i != j)
                c->ents[j] = *e;
            j++;
            continue;
        }
        if (e->has_blob) {
            c->blob_bytes -= blob_size(e);
            free(e->u.blob);
        }
        c->st.evicted++;
    }
    if (j == c->n)
        return;
    c->n = j;
    /* Shrink what a much larger earlier snapshot left, then index what is left. */
    if (c->cap > 1024 && c->n < c->cap / 4) {
        size_t cap = c->n * 2 > 1024 ? c->n * 2 : 1024;
        struct entry *n = realloc(c->ents, cap * sizeof(*n));
        if (n) {
            c->ents = n;
            c->cap = cap;
        }
    }
    size_t keep = c->icap;
    if (c->icap > 256 && 8 * c->n < c->icap)
        keep = 0; /* let index_rebuild size it down */
    if (index_rebuild(c, keep) < 0) {
        /* No memory for an index: forget everything (correct, just slower for a cycle). */
        for (size_t i = 0; i < c->n; i++)
            if (c->ents[i].has_blob)
                free(c->ents[i].u.blob);
        c->st.evicted += c->n;
        c->n = 0;
        c->blob_bytes = 0;
        if (c->idx)
            memset(c->idx, 0, c->icap * sizeof(*c->idx));
    }
}

static bool same_str(const char *a, const char *b)
{
    return a == b || strcmp(a, b) == 0;
}

static bool same_series(const struct hk_series *a, const struct hk_series *b)
{
    if (a == b)
        return true;
    if (a->nlabels != b->nlabels || !same_str(a->name, b->name))
        return false;
    if (a->labels == b->labels)
        return true;
    for (uint32_t i = 0; i < a->nlabels; i++)
        if (!same_str(a->labels[i].name, b->labels[i].name) ||
            !same_str(a->labels[i].value, b->labels[i].value))
            return false;
    return true;
}

static struct entry *find(struct hk_rw_lcache *c, const struct hk_series *s, uint8_t t)
{
    if (c->next < c->n) {
        struct entry *e = &c->ents[c->next];
        if (e->hash == s->hash && e->target == t && same_series(e->src, s)) {
            c->next++;
            return e;
        }
    }
    if (!c->icap)
        return NULL;
    size_t mask = c->icap - 1, k = slot_of(s->hash, t, mask);
    for (; c->idx[k]; k = (k + 1) & mask) {
        struct entry *e = &c->ents[c->idx[k] - 1];
        if (e->hash == s->hash && e->target == t && same_series(e->src, s)) {
            c->next = (size_t)(e - c->ents) + 1;
            return e;
        }
    }
    return NULL;
}

int hk_rw_lcache_get(struct hk_rw_lcache *c, const struct hk_series *s, enum hk_target t,
                     bool present, struct hk_label *out, size_t *nout, uint64_t *out_hash)
{
    struct entry *e = find(c, s, (uint8_t)t);
    if (!e) {
        c->st.misses++;
        return -ENOENT;
    }
    c->st.hits++;
    if (present) {
        e->src = s; /* the previous snapshot goes at the end of this cycle */
        e->seen = c->gen;
    }
    *nout = e->n;
    if (!e->n)
        return 0;
    const struct hk_rw_add_label *a = c->targets->add[t];
    const uint8_t *codes = codes_of(e);
    const char *lit = (const char *)codes + 2 * (size_t)e->n;
    for (size_t i = 0; i < e->n; i++) {
        uint8_t nc = codes[2 * i], vc = codes[2 * i + 1];
        const char *name, *value;
        if (nc == C_SERIES)
            name = "__name__";
        else if (nc < C_ADD)
            name = s->labels[nc - C_LABEL].name;
        else if (nc < C_EXPORTED)
            name = a[nc - C_ADD].name;
        else if (nc < C_LITERAL)
            name = a[nc - C_EXPORTED].exported;
        else {
            name = lit;
            lit += strlen(lit) + 1;
        }
        if (vc == C_SERIES)
            value = s->name;
        else if (vc < C_ADD)
            value = s->labels[vc - C_LABEL].value;
        else if (vc < C_LITERAL)
            value = a[vc - C_ADD].value;
        else {
            value = lit;
            lit += strlen(lit) + 1;
        }
        out[i] = (struct hk_label){name, value};
    }
    *out_hash = e->out_hash;
    return 1;
}

/* The code of a string: the first source with the same content, or C_LITERAL. */
static uint8_t name_code(const struct hk_series *s, const struct hk_rw_add_label *a, size_t na,
                         const char *name)
{
    if (strcmp(name, "__name__") == 0)
        return C_SERIES;
    for (size_t i = 0; i < s->nlabels && i < MAX_LABEL_CODES; i++)
        if (same_str(s->labels[i].name, name))
            return (uint8_t)(C_LABEL + i);
    for (size_t k = 0; k < na && k < MAX_ADD_NAME; k++)
        if (same_str(a[k].name, name))
            return (uint8_t)(C_ADD + k);
    for (size_t k = 0; k < na && k < MAX_EXPORTED; k++)
        if (a[k].exported && same_str(a[k].exported, name))
            return (uint8_t)(C_EXPORTED + k);
    return C_LITERAL;
}

static uint8_t value_code(const struct hk_series *s, const struct hk_rw_add_label *a, size_t na,
                          const char *value)
{
    if (same_str(s->name, value))
        return C_SERIES;
    for (size_t i = 0; i < s->nlabels && i < MAX_LABEL_CODES; i++)
        if (same_str(s->labels[i].value, value))
            return (uint8_t)(C_LABEL + i);
    for (size_t k = 0; k < na && k < MAX_ADD_VALUE; k++)
        if (same_str(a[k].value, value))
            return (uint8_t)(C_ADD + k);
    return C_LITERAL;
}

static int grow(struct hk_rw_lcache *c)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        struct entry *n = realloc(c->ents, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        c->ents = n;
        c->cap = cap;
    }
    if (2 * (c->n + 1) > c->icap)
        return index_rebuild(c, c->icap ? c->icap * 2 : 64);
    return 0;
}

int hk_rw_lcache_put(struct hk_rw_lcache *c, const struct hk_series *s, enum hk_target t,
                     bool present, const struct hk_label *out, size_t nout, uint64_t out_hash)
{
    if (nout > HK_RW_LCACHE_MAX_OUT || c->n >= UINT32_MAX - 1)
        return 0; /* not cached: computed each time */
    const struct hk_rw_add_label *a = c->targets->add[t];
    size_t na = c->targets->nadd[t];
    uint8_t codes[2 * HK_RW_LCACHE_MAX_OUT];
    size_t lit_bytes = 0;
    for (size_t i = 0; i < nout; i++) {
        codes[2 * i] = name_code(s, a, na, out[i].name);
        codes[2 * i + 1] = value_code(s, a, na, out[i].value);
        if (codes[2 * i] == C_LITERAL)
            lit_bytes += strlen(out[i].name) + 1;
        if (codes[2 * i + 1] == C_LITERAL)
            lit_bytes += strlen(out[i].value) + 1;
    }
    if (grow(c) < 0)
        return -ENOMEM;
    struct entry e = {.hash = s->hash,
                      .out_hash = out_hash,
                      .src = s,
                      .seen = present ? c->gen : c->gen - 1,
                      .target = (uint8_t)t,
                      .n = (uint8_t)nout};
    size_t ncodes = 2 * nout;
    if (ncodes <= INLINE_CODES && !lit_bytes) {
        memcpy(e.u.inl, codes, ncodes);
    } else {
        uint8_t *b = malloc(ncodes + lit_bytes);
        if (!b)
            return -ENOMEM;
        memcpy(b, codes, ncodes);
        char *p = (char *)b + ncodes;
        for (size_t i = 0; i < nout; i++) {
            if (codes[2 * i] == C_LITERAL)
                p = stpcpy(p, out[i].name) + 1;
            if (codes[2 * i + 1] == C_LITERAL)
                p = stpcpy(p, out[i].value) + 1;
        }
        e.has_blob = 1;
        e.u.blob = b;
        c->blob_bytes += ncodes + lit_bytes;
    }
    c->ents[c->n] = e;
    index_put(c, c->n);
    c->n++;
    c->next = c->n;
    return 0;
}

void hk_rw_lcache_get_stats(const struct hk_rw_lcache *c, struct hk_rw_lcache_stats *st)
{
    *st = c->st;
    st->entries = c->n;
    st->bytes = c->cap * sizeof(struct entry) + c->icap * sizeof(uint32_t) + c->blob_bytes;
}
