/* SPDX-License-Identifier: Apache-2.0 */
/* Snapshot builder, seal (sort + de-duplicate), reference counting and the lock-free registry.
 * Over 800 lines because builder, interning, seal and registry share the builder's private tables;
 * splitting them would publish those internals. */
#include "core/snapshot.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/arena.h"

const char *hk_metric_type_name(enum hk_metric_type type)
{
    switch (type) {
    case HK_METRIC_COUNTER:
        return "counter";
    case HK_METRIC_GAUGE:
        return "gauge";
    case HK_METRIC_HISTOGRAM:
        return "histogram";
    case HK_METRIC_SUMMARY:
        return "summary";
    case HK_METRIC_INFO:
        return "info";
    case HK_METRIC_UNTYPED:
        break;
    }
    return "untyped";
}

/* Whether s starts with the literal p (n = sizeof(p) - 1): inlined byte compares instead of a
 * strncmp call, for hk_target_of on every new family of every cycle. */
static inline bool has_prefix(const char *s, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != p[i])
            return false; /* also stops at s's NUL, which never equals p[i] */
    return true;
}
#define HAS_PREFIX(s, lit) has_prefix((s), (lit), sizeof(lit) - 1)

enum hk_target hk_target_of(const char *family_name, const char *collector)
{
    /* hakari's own figures stay hakari's, whichever collector reports them (the textfile
     * collector's hakari_textfile_errors_total). */
    if (HAS_PREFIX(family_name, "hakari_") || HAS_PREFIX(family_name, "process_"))
        return HK_TARGET_SELF;
    /* node_exporter serves its textfile collector's families whatever their names. */
    if (collector && strcmp(collector, "textfile") == 0)
        return HK_TARGET_NODE;
    if (HAS_PREFIX(family_name, "node_"))
        return HK_TARGET_NODE;
    if (HAS_PREFIX(family_name, "container_") || HAS_PREFIX(family_name, "machine_"))
        return HK_TARGET_CADVISOR;
    return HK_TARGET_SELF;
}

/* ---------------------------------------------------------------- builder */

struct bfamily {
    const char *name;
    const char *help;
    const char *unit;
    enum hk_metric_type type;
    uint32_t nseries;
    uint8_t target;      /* enum hk_target */
    const char *section; /* the collector that created it (static name) */
    uint64_t name_hash;  /* hk_hash_str(name): the family index's key and the series hash part */
};

struct bseries {
    struct hk_series s;
};
/* The seal hands the builder's array to the snapshot as its hk_series array. */
_Static_assert(sizeof(struct bseries) == sizeof(struct hk_series), "bseries has hk_series' stride");

/* The seal's order keys of a series that is not its family's own sample or belongs to a
 * histogram or summary (the others have group = s.hash, sub = 0, suffix = 0): kept aside, in
 * series order, so the builder's series array has hk_series' stride (the seal then sorts it
 * in place into the snapshot's). */
struct bside {
    uint64_t group; /* hash without le/quantile: keeps a histogram's series together */
    double sub;     /* le or quantile, for ordering inside a group */
    uint32_t idx;   /* the series' index in hk_builder.ser */
    uint8_t suffix; /* order of _bucket/_count/_sum/_created inside a group */
};

struct intern {
    const char *s; /* NULL = empty slot */
    uint32_t len;
    uint32_t hash;
};

#define NAME_MEMO 8
/* Per-cycle memos, all compared by CONTENT (never by the caller's pointers: collectors reuse
 * buffers within a cycle, and the big-block pool hands the same addresses to later cycles).
 * What they hold points into this builder's arena, so they die with it (and are cleared on
 * abort, whose rewind frees what they point to). Label names are the exception: by the API
 * contract they outlive the builder (static, or interned by it), so equal name pointers mean
 * equal names, as intern_set has always assumed. */
#define VALUE_MEMO 32
#define SET_MEMO_MAX 32
#define SET_MEMOS 4
#define FAM_MEMO 64
#define ORDER_MEMO 16
struct name_memo {
    const char *s; /* interned label name, NULL = none */
    uint32_t len;
};

/* One label position: the value last interned there (an exact copy, checked by strcmp against
 * the next value) with its hash, and the label name last seen there with its hash, and the two's
 * pair hash (hk_label_hash). A container's series repeat the same values in the same places. */
struct pos_memo {
    const char *value; /* this builder's interned copy, or the literal ""; NULL = none */
    const char *name;  /* NULL = none */
    uint64_t value_hash, name_hash, pair;
    /* Values that are new every time at this position (an id per series): after `threshold`
     * intern probes in a row found nothing, the next INTERN_SKIP values are copied without
     * being interned (no table slot, ~40 bytes each, and no probe: one cache miss each).
     * Every INTERN_SAMPLE-th of them is still interned; when one is found, the position's
     * values repeat after all: interning resumes at once and the threshold doubles (a family-
     * major emitter repeats the first family's values only from the second family on). */
    uint32_t misses;    /* intern probes in a row that found nothing */
    uint32_t skip;      /* values still to copy without interning */
    uint32_t threshold; /* misses in a row that start skipping; 0 = INTERN_MISSES */
};
#define INTERN_MISSES 64
#define INTERN_SKIP 4096
#define INTERN_SAMPLE 16

/* The sorted order of a label name list (a desc's names plus the extra one): sorting
 * depends on the names only, and names are static or builder-lived (API contract), so an equal
 * pointer list has an equal order. */
struct order_memo {
    const char *names[SET_MEMO_MAX];
    size_t n;                   /* 0 = none */
    uint8_t perm[SET_MEMO_MAX]; /* sorted[i] = unsorted[perm[i]] */
};

/* A desc label array before sorting (names, memoized value copies) and its sorted, interned
 * result: the next emit with the same array skips the sort and the set probe. */
struct set_memo {
    struct hk_label in[SET_MEMO_MAX];
    size_t n;
    uint64_t hash;        /* hk_labels_hash of in: a different one rules a match out */
    struct hk_label *out; /* NULL = none */
};

struct hk_builder {
    struct hk_limits limits;
    struct name_memo name_memo[NAME_MEMO]; /* hk_emit_labels: last name per label position */
    /* Per label position: one strcmp replaces strlen, the UTF-8 check, the hashes and the
     * probe. Only exact copies (valid, uncut) are remembered. */
    struct pos_memo pos[VALUE_MEMO];
    /* The last few desc label arrays (a container's families alternate between a few label
     * name lists). Equal pointers here mean equal content: the names outlive the builder by
     * contract and the values are this builder's interned copies. */
    struct set_memo set_memo[SET_MEMOS];
    unsigned set_memo_next;                   /* the slot a miss replaces */
    struct order_memo order_memo[ORDER_MEMO]; /* direct-mapped by the name list's address */
    /* desc → family index, direct-mapped by the desc's address; a hit also needs the family's
     * name to be the desc's name (the same pointer), so an address reused by another desc
     * within the cycle cannot map to a wrong family. */
    struct {
        const struct hk_metric_desc *desc;
        uint32_t fam;
    } fam_memo[FAM_MEMO];
    struct hk_arena *arena;
    struct bfamily *fam;
    size_t nfam, capfam;
    uint32_t *fam_index; /* open addressing: name hash → family index + 1 */
    size_t fam_index_cap;
    struct bseries *ser;
    size_t nser, capser;
    struct bside *side; /* order keys of the series that need them, by idx */
    size_t nside, capside;
    const uint32_t *seal_side; /* during the seal: per series, its side entry + 1, or 0 */
    struct hk_nhist *nh; /* native histograms; .series: its _count's index in ser until seal */
    size_t nnh, capnh;
    const struct hk_metric_desc *last_desc; /* one-entry cache: desc → family */
    uint32_t last_fam;
    /* current section */
    const char *section;
    size_t section_start;
    size_t section_nh_start;
    size_t section_fam_start;
    struct hk_arena_mark section_mark;
    uint64_t section_dropped;
    bool failed_alloc;
    /* Interned label values (open addressing). A container's labels repeat on each of its ~50
     * series; storing them once shrinks the arena several-fold and keeps rendering in cache. */
    struct intern *intern;
    size_t intern_n, intern_cap;
    /* Interned label arrays: a container's label set is the same array on every family that
     * declares the same label names (names and values compared by pointer, both being static
     * or interned). */
    struct intern *sets;
    size_t sets_n, sets_cap;
};

struct hk_builder *hk_builder_new(const struct hk_limits *limits)
{
    struct hk_builder *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    if (limits)
        b->limits = *limits;
    b->arena = hk_arena_new(256 * 1024);
    if (!b->arena) {
        free(b);
        return NULL;
    }
    return b;
}

static int intern_resize(struct intern **table, size_t *table_cap, size_t cap);

static int table_reserve(struct intern **table, size_t *table_cap, size_t n)
{
    size_t cap = 1024;
    while (cap < n * 2 + 2 && cap < ((size_t)1 << 40))
        cap <<= 1;
    if (cap <= *table_cap || *table)
        return 0; /* only before the first use: no rehash here */
    return intern_resize(table, table_cap, cap);
}

void hk_builder_reserve(struct hk_builder *b, const struct hk_builder_hint *hint)
{
    /* A little headroom: cycles grow by a few series (new containers) all the time. */
    size_t series = hint->series + hint->series / 8;
    if (series > b->capser && b->nser == 0) {
        struct bseries *s = hk_big_realloc(b->ser, b->capser * sizeof(*s), series * sizeof(*s));
        if (s) {
            b->ser = s;
            b->capser = series;
        }
    }
    /* Arena chunks of about a quarter of the last cycle's arena (huge-page backed once they
     * reach 2 MiB), so a large cycle is not assembled from hundreds of 256 KiB chunks. */
    size_t chunk = hint->arena_bytes / 4;
    if (chunk >= HK_BIG_BYTES)
        hk_arena_set_chunk_bytes(b->arena, chunk < 4 * HK_BIG_BYTES ? HK_BIG_BYTES * (chunk / HK_BIG_BYTES)
                                                                    : 4 * HK_BIG_BYTES);
    /* Failures are harmless: the tables then grow on demand. */
    (void)table_reserve(&b->intern, &b->intern_cap, hint->values + hint->values / 8);
    (void)table_reserve(&b->sets, &b->sets_cap, hint->sets + hint->sets / 8);
}

void hk_builder_free(struct hk_builder *b)
{
    if (!b)
        return;
    hk_arena_free(b->arena);
    free(b->fam);
    free(b->fam_index);
    /* The big ones go to the pool for the next cycle's builder (arena.h). */
    hk_big_free(b->ser, b->capser * sizeof(*b->ser));
    hk_big_free(b->side, b->capside * sizeof(*b->side));
    free(b->nh);
    hk_big_free(b->intern, b->intern_cap * sizeof(*b->intern));
    hk_big_free(b->sets, b->sets_cap * sizeof(*b->sets));
    free(b);
}

void hk_builder_begin(struct hk_builder *b, const char *collector)
{
    b->section = collector;
    b->section_start = b->nser;
    b->section_nh_start = b->nnh;
    b->section_fam_start = b->nfam;
    b->section_mark = hk_arena_mark(b->arena);
    b->section_dropped = 0;
}

void hk_builder_commit(struct hk_builder *b)
{
    b->section = NULL;
}

static void fam_index_rebuild(struct hk_builder *b);

void hk_builder_abort(struct hk_builder *b)
{
    b->nser = b->section_start;
    while (b->nside && b->side[b->nside - 1].idx >= b->nser)
        b->nside--;
    b->nnh = b->section_nh_start;
    if (b->nfam != b->section_fam_start) {
        b->nfam = b->section_fam_start;
        fam_index_rebuild(b);
    }
    for (size_t i = 0; i < b->nfam; i++)
        b->fam[i].nseries = 0;
    for (size_t i = 0; i < b->nser; i++)
        b->fam[b->ser[i].s.family].nseries++;
    hk_arena_rewind(b->arena, b->section_mark);
    /* Interned strings of the dropped section are gone with the rewind; forget them all (an
     * abort is rare, re-interning is cheap). */
    if (b->intern)
        memset(b->intern, 0, b->intern_cap * sizeof(*b->intern));
    b->intern_n = 0;
    if (b->sets)
        memset(b->sets, 0, b->sets_cap * sizeof(*b->sets));
    b->sets_n = 0;
    memset(b->name_memo, 0, sizeof(b->name_memo));
    memset(b->pos, 0, sizeof(b->pos));
    memset(b->set_memo, 0, sizeof(b->set_memo));
    memset(b->order_memo, 0, sizeof(b->order_memo));
    memset(b->fam_memo, 0, sizeof(b->fam_memo));
    b->last_desc = NULL;
    b->section = NULL;
}

uint64_t hk_builder_section_dropped(const struct hk_builder *b)
{
    return b->section_dropped;
}

uint64_t hk_builder_section_series(const struct hk_builder *b)
{
    return b->nser - b->section_start;
}

static uint64_t name_hash(const char *name)
{
    return hk_hash_str(name, strlen(name));
}

static void fam_index_insert_hash(struct hk_builder *b, uint32_t idx, uint64_t hash)
{
    size_t mask = b->fam_index_cap - 1;
    size_t h = (size_t)hash & mask;
    while (b->fam_index[h])
        h = (h + 1) & mask;
    b->fam_index[h] = idx + 1;
}

static void fam_index_insert(struct hk_builder *b, uint32_t idx)
{
    fam_index_insert_hash(b, idx, b->fam[idx].name_hash);
}

static void fam_index_rebuild(struct hk_builder *b)
{
    memset(b->fam_index, 0, b->fam_index_cap * sizeof(*b->fam_index));
    for (size_t i = 0; i < b->nfam; i++)
        fam_index_insert(b, (uint32_t)i);
}

/* The index of the family called name (whose name_hash is hash), or -1. */
static long family_find(const struct hk_builder *b, const char *name, uint64_t hash)
{
    if (!b->fam_index_cap)
        return -1;
    size_t mask = b->fam_index_cap - 1;
    for (size_t h = (size_t)hash & mask; b->fam_index[h]; h = (h + 1) & mask) {
        uint32_t i = b->fam_index[h] - 1;
        if (strcmp(b->fam[i].name, name) == 0)
            return i;
    }
    return -1;
}

/* Adds a family whose name the caller validated (hash = name_hash(name)); the strings must
 * outlive the builder. Returns the index, or -ENOMEM. */
static long family_add(struct hk_builder *b, const char *name, uint64_t hash, const char *help,
                       enum hk_metric_type type, const char *unit)
{
    if (b->nfam == b->capfam) {
        size_t cap = b->capfam ? b->capfam * 2 : 64;
        struct bfamily *f = realloc(b->fam, cap * sizeof(*f));
        if (!f)
            return -ENOMEM;
        b->fam = f;
        b->capfam = cap;
    }
    if ((b->nfam + 1) * 2 > b->fam_index_cap) {
        size_t cap = b->fam_index_cap ? b->fam_index_cap * 2 : 128;
        uint32_t *ix = calloc(cap, sizeof(*ix));
        if (!ix)
            return -ENOMEM;
        free(b->fam_index);
        b->fam_index = ix;
        b->fam_index_cap = cap;
        fam_index_rebuild(b);
    }
    b->fam[b->nfam] = (struct bfamily){name,
                                       help ? help : "",
                                       unit ? unit : "",
                                       type,
                                       0,
                                       (uint8_t)hk_target_of(name, b->section),
                                       b->section,
                                       hash};
    fam_index_insert_hash(b, (uint32_t)b->nfam, hash);
    return (long)b->nfam++;
}

/* Finds or adds a family; the name/help/unit strings must outlive the builder (static, or copied
 * into the arena by the caller). Returns the index, or -errno. */
static long family_get(struct hk_builder *b, const char *name, const char *help,
                       enum hk_metric_type type, const char *unit)
{
    uint64_t hash = name_hash(name);
    long fam = family_find(b, name, hash);
    if (fam >= 0)
        return fam;
    if (!hk_metric_name_valid(name, strlen(name)))
        return -EINVAL;
    return family_add(b, name, hash, help, type, unit);
}

/* A table of cap slots (a power of two) holding the entries of the old one. */
static int intern_resize(struct intern **table, size_t *table_cap, size_t cap)
{
    struct intern *t = hk_big_alloc(cap * sizeof(*t));
    if (!t)
        return -ENOMEM;
    memset(t, 0, cap * sizeof(*t));
    for (size_t i = 0; i < *table_cap; i++) {
        const struct intern *e = &(*table)[i];
        if (!e->s)
            continue;
        size_t h = e->hash & (cap - 1);
        while (t[h].s)
            h = (h + 1) & (cap - 1);
        t[h] = *e;
    }
    hk_big_free(*table, *table_cap * sizeof(**table));
    *table = t;
    *table_cap = cap;
    return 0;
}

static int intern_grow(struct intern **table, size_t *table_cap)
{
    return intern_resize(table, table_cap, *table_cap ? *table_cap * 2 : 1024);
}

/* The interned copy of v (hash: its hk_hash_str's low 32 bits), or NULL; *ret_slot: where it
 * is, or the empty slot that ends its probe. The table must exist. */
static const char *intern_find(const struct hk_builder *b, const char *v, size_t len, uint32_t hash,
                               size_t *ret_slot)
{
    size_t mask = b->intern_cap - 1, h = hash & mask;
    for (; b->intern[h].s; h = (h + 1) & mask) {
        const struct intern *e = &b->intern[h];
        if (e->hash == hash && e->len == len && memcmp(e->s, v, len) == 0) {
            *ret_slot = h;
            return e->s;
        }
    }
    *ret_slot = h;
    return NULL;
}

/* The arena copy of a valid value, shared with every earlier equal value of this cycle; its
 * hk_hash_str in *ret_hash. *ret_found: an earlier copy was found (false also when the table
 * could not grow). */
static const char *intern_value(struct hk_builder *b, const char *v, size_t len, uint64_t *ret_hash,
                                bool *ret_found)
{
    uint64_t h64 = hk_hash_str(v, len);
    *ret_hash = h64;
    *ret_found = false;
    if ((b->intern_n + 1) * 2 > b->intern_cap && intern_grow(&b->intern, &b->intern_cap) < 0)
        return hk_arena_strndup(b->arena, v, len); /* no table: just copy */
    uint32_t hash = (uint32_t)h64;
    size_t h;
    const char *found = intern_find(b, v, len, hash, &h);
    if (found) {
        *ret_found = true;
        return found;
    }
    const char *copy = hk_arena_strndup(b->arena, v, len);
    if (copy) {
        b->intern[h] = (struct intern){copy, (uint32_t)len, hash};
        b->intern_n++;
    }
    return copy;
}

/* Copies a label value into the arena: invalid UTF-8 repaired, length capped on a char edge;
 * its hk_hash_str in *ret_hash. *ret_exact: the copy equals v (valid, uncut). m: the label
 * position (its intern miss counters), or NULL. A copy made without interning is equal in
 * content to, but not the same pointer as, an earlier equal value: every reader compares
 * values by content (pointer equality is only ever a shortcut), and the set memo and intern_set
 * then merely miss. */
static const char *copy_value(struct hk_builder *b, struct pos_memo *m, const char *v,
                              uint64_t *ret_hash, bool *ret_exact)
{
    size_t len = strlen(v);
    size_t cap = b->limits.max_label_value_length;
    bool valid = hk_utf8_valid(v, len);
    *ret_exact = false;
    if (valid && (cap == 0 || len <= cap) && len < UINT32_MAX) {
        *ret_exact = true;
        if (m && m->skip) {
            m->skip--;
            if (m->skip % INTERN_SAMPLE) {
                *ret_hash = hk_hash_str(v, len);
                return hk_arena_strndup(b->arena, v, len);
            }
            bool found; /* a sample: interned, so a value that repeats is found next time */
            const char *copy = intern_value(b, v, len, ret_hash, &found);
            if (found) { /* this position's values repeat: intern them again, skip later */
                m->skip = 0;
                m->misses = 0;
                uint32_t t = m->threshold ? m->threshold : INTERN_MISSES;
                m->threshold = t < (UINT32_C(1) << 20) ? t * 2 : t;
            }
            return copy;
        }
        bool found;
        const char *copy = intern_value(b, v, len, ret_hash, &found);
        if (m) {
            m->misses = found ? 0 : m->misses + 1;
            if (m->misses >= (m->threshold ? m->threshold : INTERN_MISSES)) {
                m->misses = 0;
                m->skip = INTERN_SKIP;
            }
        }
        return copy;
    }
    char *out = hk_arena_alloc(b->arena, 3 * len + 1);
    if (!out)
        return NULL;
    size_t n = valid ? (memcpy(out, v, len), out[len] = '\0', len) : hk_utf8_repair(out, v, len);
    if (cap && n > cap) {
        n = hk_utf8_valid_prefix(out, cap);
        out[n] = '\0';
    }
    *ret_hash = hk_hash_str(out, n);
    return out;
}

/* label_at's path for a value or name not remembered at its position. */
static uint64_t label_new(struct hk_builder *b, struct pos_memo *m, const char *name, const char *v,
                          struct hk_label *out)
{
    if (!v)
        v = "";
    out->name = name;
    if (!m->value || strcmp(m->value, v) != 0) {
        uint64_t vh = 0;
        bool exact = true;
        const char *copy = *v ? copy_value(b, m, v, &vh, &exact) : "";
        out->value = copy;
        if (!copy)
            return 0;
        if (!*v)
            vh = hk_hash_str("", 0);
        if (!exact) { /* a cut or repaired copy is never remembered */
            uint64_t nh = name == m->name ? m->name_hash : hk_hash_str(name, strlen(name));
            return hk_label_hash(nh, vh);
        }
        m->value = copy;
        m->value_hash = vh;
    }
    if (name != m->name) { /* set only with a value: m->name set means m->value set */
        m->name = name;
        m->name_hash = hk_hash_str(name, strlen(name));
    }
    m->pair = hk_label_hash(m->name_hash, m->value_hash);
    out->value = m->value;
    return m->pair;
}

/* The label (name, value v) at position i of an emit, into *out (value NULL: out of memory);
 * returns its pair hash. name is static or this builder's (API contract). Inline: it runs for
 * every label of every series. */
static inline uint64_t label_at(struct hk_builder *b, size_t i, const char *name, const char *v,
                                struct hk_label *out)
{
    struct pos_memo *m = &b->pos[i % VALUE_MEMO];
    if (m->name == name && v && strcmp(m->value, v) == 0) {
        out->name = name;
        out->value = m->value;
        return m->pair;
    }
    return label_new(b, m, name, v, out);
}

/* Same as copy_value for a family's help or unit: copied, not interned (each family has its own,
 * so the table probe never found a match; it cost a hash per dynamic family per cycle). */
static const char *copy_text(struct hk_builder *b, const char *v)
{
    if (!v || !*v)
        return "";
    size_t len = strlen(v);
    size_t cap = b->limits.max_label_value_length;
    if ((cap == 0 || len <= cap) && hk_utf8_valid(v, len))
        return hk_arena_strndup(b->arena, v, len);
    uint64_t h;
    bool exact;
    return copy_value(b, NULL, v, &h, &exact);
}

static uint8_t suffix_rank(const char *family, enum hk_metric_type type, const char *series)
{
    size_t fl = strlen(family);
    /* A counter family is named <stem>_total; its _created sample is <stem>_created. */
    if (type == HK_METRIC_COUNTER && fl > 6 && strcmp(family + fl - 6, "_total") == 0 &&
        strncmp(series, family, fl - 6) == 0 && strcmp(series + fl - 6, "_created") == 0)
        return 3;
    if (strncmp(series, family, fl) != 0)
        return 0;
    const char *s = series + fl;
    if (*s == '\0')
        return 0;
    if (strcmp(s, "_bucket") == 0)
        return 0;
    if (strcmp(s, "_count") == 0)
        return 1;
    if (strcmp(s, "_sum") == 0)
        return 2;
    if (strcmp(s, "_created") == 0)
        return 3;
    return 4;
}

static double parse_sub(const char *v)
{
    if (!v)
        return 0;
    if (strcmp(v, "+Inf") == 0)
        return INFINITY;
    char *end;
    double d = strtod(v, &end);
    return *end ? 0 : d;
}

/* The group hash of a histogram's or summary's series: its set's hash without the skip
 * label's pair, under the family name. */
static uint64_t group_skip(const struct bfamily *f, const struct hk_label *labels, size_t n,
                           uint64_t set_hash, const char *skip)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(labels[i].name, skip) == 0) {
            set_hash -= hk_label_hash(hk_hash_str(skip, strlen(skip)),
                                      hk_hash_str(labels[i].value, strlen(labels[i].value)));
            break;
        }
    return hk_series_hash_of(f->name_hash, set_hash);
}

/* Adds a series whose labels are already arena-owned and sorted. name_hash: hk_hash_str of
 * series_name; set_hash: hk_labels_hash of the labels. */
static int add_series(struct hk_builder *b, uint32_t fam, const char *series_name,
                      uint64_t name_hash, struct hk_label *labels, size_t n, uint64_t set_hash,
                      double value, int64_t ts_ms)
{
    if (b->limits.max_series && hk_builder_section_series(b) >= b->limits.max_series) {
        b->section_dropped++;
        return -E2BIG;
    }
    if (b->limits.max_labels && n > b->limits.max_labels) {
        b->section_dropped++;
        return -E2BIG;
    }
    if (b->nser == b->capser) {
        size_t cap = b->capser ? b->capser * 2 : 1024;
        struct bseries *s = hk_big_realloc(b->ser, b->nser * sizeof(*s), cap * sizeof(*s));
        if (!s)
            return -ENOMEM;
        b->ser = s;
        b->capser = cap;
    }
    struct bfamily *f = &b->fam[fam];
    const char *skip = f->type == HK_METRIC_HISTOGRAM ? "le"
                       : f->type == HK_METRIC_SUMMARY ? "quantile"
                                                      : NULL;
    bool own = series_name == f->name; /* the family's own sample: most series */
    if ((skip || !own) && b->nside == b->capside) {
        size_t cap = b->capside ? b->capside * 2 : 256;
        struct bside *d = hk_big_realloc(b->side, b->nside * sizeof(*d), cap * sizeof(*d));
        if (!d)
            return -ENOMEM;
        b->side = d;
        b->capside = cap;
    }
    struct bseries *s = &b->ser[b->nser];
    s->s.name = series_name;
    s->s.labels = labels;
    s->s.nlabels = (uint32_t)n;
    s->s.family = fam;
    s->s.value = value;
    s->s.ts_ms = ts_ms;
    /* The parts are at hand: the name's hash is the family's (or the caller's), the set's the
     * sum its labels' remembered pair hashes. */
    s->s.hash = hk_series_hash_of(name_hash, set_hash);
    /* group: the series of one metric point (a histogram's buckets, _sum, _count, _created; a
     * counter's _total and _created) share it, so they come out together and in order. A
     * family's own sample outside histograms and summaries has group = hash, no suffix or sub:
     * nothing aside. */
    if (skip || !own) {
        struct bside *d = &b->side[b->nside++];
        if (skip)
            d->group = group_skip(f, labels, n, set_hash, skip);
        else if (f->type == HK_METRIC_COUNTER)
            /* a counter's sample named as the family: the same hash as above */
            d->group = strcmp(series_name, f->name) == 0
                           ? s->s.hash
                           : hk_series_hash_of(f->name_hash, set_hash);
        else
            d->group = s->s.hash;
        d->suffix = own ? 0 : suffix_rank(f->name, f->type, series_name);
        d->sub = skip ? parse_sub(hk_labels_get(labels, n, skip)) : 0;
        d->idx = (uint32_t)b->nser;
    }
    f->nseries++;
    b->nser++;
    return 0;
}

static long desc_family(struct hk_builder *b, const struct hk_metric_desc *desc)
{
    if (b->last_desc == desc && b->fam[b->last_fam].name == desc->name)
        return b->last_fam;
    size_t k = (size_t)(((uintptr_t)desc * 0x9E3779B97F4A7C15ULL) >> 58) % FAM_MEMO;
    long fam;
    if (b->fam_memo[k].desc == desc && b->fam_memo[k].fam < b->nfam &&
        b->fam[b->fam_memo[k].fam].name == desc->name) {
        fam = b->fam_memo[k].fam;
    } else {
        fam = family_get(b, desc->name, desc->help, desc->type, desc->unit);
        if (fam < 0)
            return fam;
        b->fam_memo[k].desc = desc;
        b->fam_memo[k].fam = (uint32_t)fam;
    }
    b->last_desc = desc;
    b->last_fam = (uint32_t)fam;
    return fam;
}

/* The arena copy of a sorted label array, shared with equal earlier arrays of this cycle.
 * set_hash: its hk_labels_hash (content; equal arrays have equal ones). */
static struct hk_label *intern_set(struct hk_builder *b, const struct hk_label *l, size_t n,
                                   uint64_t set_hash)
{
    size_t bytes = (n ? n : 1) * sizeof(*l);
    if ((b->sets_n + 1) * 2 > b->sets_cap && intern_grow(&b->sets, &b->sets_cap) < 0)
        b->sets_cap = 0; /* below: no table, plain copy */
    uint32_t hash = (uint32_t)(set_hash ^ set_hash >> 32);
    size_t h = 0;
    if (b->sets_cap) {
        size_t mask = b->sets_cap - 1;
        for (h = hash & mask; b->sets[h].s; h = (h + 1) & mask) {
            const struct intern *e = &b->sets[h];
            if (e->hash == hash && e->len == n && memcmp(e->s, l, n * sizeof(*l)) == 0)
                return (struct hk_label *)e->s;
        }
    }
    struct hk_label *copy = hk_arena_alloc(b->arena, bytes);
    if (!copy)
        return NULL;
    memcpy(copy, l, n * sizeof(*l));
    if (b->sets_cap) {
        b->sets[h] = (struct intern){(const char *)copy, (uint32_t)n, hash};
        b->sets_n++;
    }
    return copy;
}

/* Fills l (room for n + 1) with the desc's labels plus the extra one, unsorted, and *set_hash
 * with their hk_labels_hash; returns the count, or SIZE_MAX (out of memory). */
static size_t fill_labels(struct hk_builder *b, const struct hk_metric_desc *desc,
                          const char *const *values, const char *extra_name,
                          const char *extra_value, size_t n, struct hk_label *l, uint64_t *set_hash)
{
    uint64_t h = 0;
    const char *const *names = desc->label_names;
    for (size_t i = 0; i < n; i++) {
        h += label_at(b, i, names[i], values ? values[i] : NULL, &l[i]);
        if (!l[i].value)
            return SIZE_MAX;
    }
    if (extra_name) {
        l[n].name = extra_name;
        l[n].value = extra_value;
        h += hk_label_hash(hk_hash_str(extra_name, strlen(extra_name)),
                           hk_hash_str(extra_value, strlen(extra_value)));
        n++;
    }
    *set_hash = h;
    return n;
}

/* Sorts l (m labels: the desc's, then extra_name's when set), a copy of in, by name, with
 * the order remembered for the name list. Returns false if a name repeats. */
static bool sort_by_names(struct hk_builder *b, const struct hk_metric_desc *desc,
                          const char *extra_name, struct hk_label *l, const struct hk_label *in,
                          size_t m)
{
    uintptr_t key = (uintptr_t)desc->label_names ^ (uintptr_t)extra_name * 31;
    struct order_memo *om =
        &b->order_memo[(size_t)((key * 0x9E3779B97F4A7C15ULL) >> 58) % ORDER_MEMO];
    bool hit = om->n == m;
    for (size_t i = 0; hit && i < m; i++)
        hit = om->names[i] == in[i].name;
    if (hit) {
        for (size_t i = 0; i < m; i++)
            l[i] = in[om->perm[i]];
        return true;
    }
    /* Sort indices by name, then apply them. */
    uint8_t perm[SET_MEMO_MAX] = {0};
    for (size_t i = 0; i < m; i++) {
        size_t j = i;
        for (; j > 0 && strcmp(in[perm[j - 1]].name, in[i].name) > 0; j--)
            perm[j] = perm[j - 1];
        perm[j] = (uint8_t)i;
    }
    for (size_t i = 0; i < m; i++) {
        l[i] = in[perm[i]];
        if (i && strcmp(l[i - 1].name, l[i].name) == 0)
            return false;
    }
    for (size_t i = 0; i < m; i++)
        om->names[i] = in[i].name;
    memcpy(om->perm, perm, m);
    om->n = m;
    return true;
}

/* Builds the sorted label array for a desc emit, with room for one extra label; its
 * hk_labels_hash in *set_hash. */
static struct hk_label *desc_labels(struct hk_builder *b, const struct hk_metric_desc *desc,
                                    const char *const *values, const char *extra_name,
                                    const char *extra_value, size_t *ret_n, uint64_t *set_hash)
{
    size_t n = 0;
    if (desc->label_names)
        while (desc->label_names[n])
            n++;
    struct hk_label tmp[SET_MEMO_MAX];
    if (n + 1 <= SET_MEMO_MAX) {
        size_t m = fill_labels(b, desc, values, extra_name, extra_value, n, tmp, set_hash);
        if (m == SIZE_MAX)
            return NULL;
        *ret_n = m;
        for (unsigned k = 0; k < SET_MEMOS; k++) {
            const struct set_memo *sm = &b->set_memo[k];
            if (sm->hash == *set_hash && sm->out && sm->n == m &&
                memcmp(sm->in, tmp, m * sizeof(*tmp)) == 0)
                return sm->out;
        }
        struct set_memo *sm = &b->set_memo[b->set_memo_next];
        b->set_memo_next = (b->set_memo_next + 1) % SET_MEMOS;
        memcpy(sm->in, tmp, m * sizeof(*tmp));
        sm->n = m;
        sm->hash = *set_hash;
        sm->out = NULL;
        if (!sort_by_names(b, desc, extra_name, tmp, sm->in, m))
            return NULL;
        sm->out = intern_set(b, tmp, m, *set_hash);
        return sm->out;
    }
    struct hk_label *l = hk_arena_alloc(b->arena, (n + 1) * sizeof(*l));
    size_t m = l ? fill_labels(b, desc, values, extra_name, extra_value, n, l, set_hash) : SIZE_MAX;
    if (m == SIZE_MAX || !hk_labels_sort(l, m))
        return NULL;
    *ret_n = m;
    return l;
}

int hk_emit_ts(struct hk_builder *b, const struct hk_metric_desc *desc, const char *const *values,
               double value, int64_t ts_ms)
{
    long fam = desc_family(b, desc);
    if (fam < 0)
        return (int)fam;
    size_t n;
    uint64_t set_hash;
    struct hk_label *l = desc_labels(b, desc, values, NULL, NULL, &n, &set_hash);
    if (!l)
        return -ENOMEM;
    return add_series(b, (uint32_t)fam, desc->name, b->fam[fam].name_hash, l, n, set_hash, value,
                      ts_ms);
}

int hk_emit(struct hk_builder *b, const struct hk_metric_desc *desc, const char *const *values,
            double value)
{
    return hk_emit_ts(b, desc, values, value, 0);
}

static const char *series_name(struct hk_builder *b, const char *family, const char *suffix)
{
    size_t fl = strlen(family), sl = strlen(suffix);
    char *p = hk_arena_alloc(b->arena, fl + sl + 1);
    if (!p)
        return NULL;
    memcpy(p, family, fl); /* NOLINT(bugprone-not-null-terminated-result): suffix and its NUL follow */
    memcpy(p + fl, suffix, sl + 1);
    return p;
}

/* The le value the way client_golang writes it (strconv 'g', shortest): the shortest digits that
 * round-trip, exponent form when the decimal exponent is < -4 or >= 6. Matching it keeps our
 * bucket series identical to other exporters' (le="10", le="0.005", le="1e+06"). */
static const char *format_bound(struct hk_builder *b, double bound)
{
    char buf[48];
    if (isinf(bound))
        return bound > 0 ? "+Inf" : "-Inf";
    if (isnan(bound))
        return "NaN";
    int digits = 17;
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof(buf), "%.*e", p - 1, bound);
        if (strtod(buf, NULL) == bound) {
            digits = p;
            break;
        }
    }
    snprintf(buf, sizeof(buf), "%.*e", digits - 1, bound);
    const char *e = strchr(buf, 'e');
    long exp10 = e ? strtol(e + 1, NULL, 10) : 0;
    int n;
    if (exp10 < -4 || exp10 >= 6) {
        n = (int)strlen(buf);
    } else {
        long decimals = digits - 1 - exp10;
        n = snprintf(buf, sizeof(buf), "%.*f", decimals > 0 ? (int)decimals : 0, bound);
    }
    if (n < 0 || (size_t)n >= sizeof(buf))
        return NULL;
    return hk_arena_strndup(b->arena, buf, (size_t)n);
}

int hk_emit_histogram(struct hk_builder *b, const struct hk_metric_desc *desc,
                      const char *const *values, const double *bounds,
                      const uint64_t *cumulative, size_t nbounds, double sum, uint64_t count)
{
    long fam = desc_family(b, desc);
    if (fam < 0)
        return (int)fam;
    /* A histogram is emitted whole or not at all: one cut by the series cap would lack its
     * +Inf bucket or _count, which Prometheus rejects. */
    size_t need = nbounds + 3;
    for (size_t i = 0; i < nbounds; i++)
        if (isinf(bounds[i]))
            need--;
    size_t nlab = 1; /* le */
    if (desc->label_names)
        while (desc->label_names[nlab - 1])
            nlab++;
    if ((b->limits.max_series && hk_builder_section_series(b) + need > b->limits.max_series) ||
        (b->limits.max_labels && nlab > b->limits.max_labels)) {
        b->section_dropped += need;
        return -E2BIG;
    }
    const char *bucket = series_name(b, desc->name, "_bucket");
    const char *sum_name = series_name(b, desc->name, "_sum");
    const char *count_name = series_name(b, desc->name, "_count");
    if (!bucket || !sum_name || !count_name)
        return -ENOMEM;
    uint64_t bucket_h = hk_hash_str(bucket, strlen(bucket)),
             sum_h = hk_hash_str(sum_name, strlen(sum_name)),
             count_h = hk_hash_str(count_name, strlen(count_name));
    int r;
    uint64_t set_hash;
    for (size_t i = 0; i <= nbounds; i++) {
        bool inf = i == nbounds;
        if (!inf && isinf(bounds[i]))
            continue; /* +Inf is always added last with the total count */
        const char *le = inf ? "+Inf" : format_bound(b, bounds[i]);
        size_t n;
        struct hk_label *l = le ? desc_labels(b, desc, values, "le", le, &n, &set_hash) : NULL;
        if (!l)
            return -ENOMEM;
        r = add_series(b, (uint32_t)fam, bucket, bucket_h, l, n, set_hash,
                       (double)(inf ? count : cumulative[i]), 0);
        if (r < 0)
            return r;
    }
    size_t n;
    struct hk_label *l = desc_labels(b, desc, values, NULL, NULL, &n, &set_hash);
    if (!l)
        return -ENOMEM;
    r = add_series(b, (uint32_t)fam, sum_name, sum_h, l, n, set_hash, sum, 0);
    if (r < 0)
        return r;
    return add_series(b, (uint32_t)fam, count_name, count_h, l, n, set_hash, (double)count, 0);
}

void hk_nhist_encode(int32_t first_index, const uint64_t *counts, size_t ncounts,
                     struct hk_nhist_span *spans, uint32_t *ret_nspans, int64_t *deltas,
                     uint32_t *ret_ndeltas)
{
    uint32_t nspans = 0, ndeltas = 0;
    uint64_t prev = 0;
    size_t end = 0; /* one past the last bucket put in a span */
    for (size_t k = 0; k < ncounts; k++) {
        if (!counts[k])
            continue;
        size_t gap = k - end;
        if (nspans == 0 || gap > 2) {
            /* a new span: the first one's offset is its index, later ones' the gap */
            spans[nspans].offset = nspans == 0 ? first_index + (int32_t)k : (int32_t)gap;
            spans[nspans].length = 0;
            nspans++;
        } else {
            /* a gap of one or two empty buckets costs less as zero deltas than as a span */
            for (size_t g = 0; g < gap; g++) {
                deltas[ndeltas++] = -(int64_t)prev;
                prev = 0;
                spans[nspans - 1].length++;
            }
        }
        deltas[ndeltas++] = (int64_t)(counts[k] - prev);
        prev = counts[k];
        spans[nspans - 1].length++;
        end = k + 1;
    }
    *ret_nspans = nspans;
    *ret_ndeltas = ndeltas;
}

#define NHIST_MAX_BUCKETS 4096 /* per histogram: far above any schema's useful range */
#define NHIST_MAX_CLASSIC 128

int hk_emit_native_histogram(struct hk_builder *b, const struct hk_metric_desc *desc,
                             const char *const *values, const struct hk_nhist_in *in)
{
    if (desc->type != HK_METRIC_HISTOGRAM || in->schema < 0 || in->schema > 8 ||
        !(in->zero_threshold >= 0) || in->ncounts > NHIST_MAX_BUCKETS ||
        (in->ncounts && !in->counts) || in->classic_lo > in->classic_hi ||
        in->classic_hi - in->classic_lo >= NHIST_MAX_CLASSIC || in->classic_lo < -1000 ||
        in->classic_hi > 1000 || in->zero_threshold > ldexp(1, in->classic_lo) ||
        (int64_t)in->first_index + (int64_t)in->ncounts > INT32_MAX)
        return -EINVAL;
    int32_t classic_span = in->classic_hi - in->classic_lo; /* < NHIST_MAX_CLASSIC */
    size_t nclassic = (size_t)classic_span + 1;
    double bounds[NHIST_MAX_CLASSIC];
    uint64_t cum[NHIST_MAX_CLASSIC];
    uint64_t acc = in->zero_count; /* cumulative count up to the current classic bound */
    size_t k = 0;
    for (size_t c = 0; c < nclassic; c++) {
        int32_t exp2 = in->classic_lo + (int32_t)c;
        /* 2^exp2 is the upper bound of native bucket exp2 * 2^schema */
        int64_t idx = (int64_t)exp2 * ((int64_t)1 << in->schema);
        for (; k < in->ncounts && (int64_t)in->first_index + (int64_t)k <= idx; k++)
            acc += in->counts[k];
        bounds[c] = ldexp(1, exp2);
        cum[c] = acc;
    }
    uint64_t count = in->zero_count;
    for (size_t j = 0; j < in->ncounts; j++)
        count += in->counts[j];

    struct hk_nhist_span span_buf[256];
    int64_t delta_buf[256];
    struct hk_nhist_span *spans = span_buf;
    int64_t *deltas = delta_buf;
    if (in->ncounts > 256) {
        spans = malloc(in->ncounts * sizeof(*spans));
        deltas = malloc(in->ncounts * sizeof(*deltas));
    }
    int r = -ENOMEM;
    if (!spans || !deltas)
        goto out;
    uint32_t nspans, ndeltas;
    hk_nhist_encode(in->first_index, in->counts, in->ncounts, spans, &nspans, deltas, &ndeltas);

    if (b->nnh == b->capnh) {
        size_t cap = b->capnh ? b->capnh * 2 : 256;
        struct hk_nhist *nh = realloc(b->nh, cap * sizeof(*nh));
        if (!nh)
            goto out;
        b->nh = nh;
        b->capnh = cap;
    }
    struct hk_nhist_span *aspans = NULL;
    int64_t *adeltas = NULL;
    if (nspans) {
        aspans = hk_arena_alloc(b->arena, nspans * sizeof(*aspans));
        adeltas = hk_arena_alloc(b->arena, ndeltas * sizeof(*adeltas));
        if (!aspans || !adeltas)
            goto out;
        memcpy(aspans, spans, nspans * sizeof(*aspans));
        memcpy(adeltas, deltas, ndeltas * sizeof(*adeltas));
    }
    size_t before = b->nser;
    r = hk_emit_histogram(b, desc, values, bounds, cum, nclassic, in->sum, count);
    if (r < 0)
        goto out;
    /* hk_emit_histogram added the _count series last */
    if (b->nser == before)
        goto out;
    b->nh[b->nnh] = (struct hk_nhist){(uint32_t)(b->nser - 1),
                                      in->schema,
                                      in->zero_threshold,
                                      in->zero_count,
                                      count,
                                      in->sum,
                                      nspans,
                                      aspans,
                                      ndeltas,
                                      adeltas};
    b->nnh++;
out:
    if (spans != span_buf)
        free(spans);
    if (deltas != delta_buf)
        free(deltas);
    return r;
}

const char *hk_builder_family_collector(const struct hk_builder *b, const char *name)
{
    if (!b->fam_index_cap)
        return NULL;
    size_t mask = b->fam_index_cap - 1;
    for (size_t h = (size_t)name_hash(name) & mask; b->fam_index[h]; h = (h + 1) & mask) {
        uint32_t i = b->fam_index[h] - 1;
        if (strcmp(b->fam[i].name, name) == 0)
            return b->fam[i].section ? b->fam[i].section : "";
    }
    return NULL;
}

int hk_emit_labels(struct hk_builder *b, const struct hk_family_spec *family,
                   const char *series_name_in, const struct hk_label *labels, size_t nlabels,
                   double value, int64_t ts_ms)
{
    /* Dynamic names must be copied: the caller's buffers do not outlive the cycle. A family that
     * already exists keeps its first help/type. The name is hashed and validated once. */
    size_t name_len = strlen(family->name);
    uint64_t hash = hk_hash_str(family->name, name_len);
    long fam = family_find(b, family->name, hash);
    if (fam < 0) {
        if (!hk_metric_name_valid(family->name, name_len))
            return -EINVAL;
        const char *name = hk_arena_strndup(b->arena, family->name, name_len);
        const char *help = family->help ? copy_text(b, family->help) : "";
        const char *unit = family->unit ? copy_text(b, family->unit) : "";
        if (!name || !help || !unit)
            return -ENOMEM;
        fam = family_add(b, name, hash, help, family->type, unit);
        if (fam < 0)
            return (int)fam;
    }
    const char *sname = b->fam[fam].name;
    uint64_t sname_hash = b->fam[fam].name_hash;
    if (series_name_in && strcmp(series_name_in, sname) != 0) {
        size_t sl = strlen(series_name_in);
        if (!hk_metric_name_valid(series_name_in, sl))
            return -EINVAL;
        sname = hk_arena_strndup(b->arena, series_name_in, sl);
        if (!sname)
            return -ENOMEM;
        sname_hash = hk_hash_str(sname, sl);
    }
    struct hk_label *l = hk_arena_alloc(b->arena, (nlabels ? nlabels : 1) * sizeof(*l));
    if (!l)
        return -ENOMEM;
    uint64_t set_hash = 0;
    for (size_t i = 0; i < nlabels; i++) {
        size_t nl = strlen(labels[i].name);
        /* Names repeat on every series of a file, mostly in the same places: the name interned
         * last at this position is checked first (already validated, no hash, no probe). */
        struct name_memo *m = &b->name_memo[i % NAME_MEMO];
        if (m->s && m->len == nl && memcmp(m->s, labels[i].name, nl) == 0) {
            l[i].name = m->s;
        } else {
            if (!hk_label_name_valid(labels[i].name, nl))
                return -EINVAL;
            /* Interned like values, stored once. */
            uint64_t h;
            bool found;
            l[i].name = nl < UINT32_MAX ? intern_value(b, labels[i].name, nl, &h, &found)
                                        : hk_arena_strndup(b->arena, labels[i].name, nl);
            if (l[i].name && nl < UINT32_MAX)
                *m = (struct name_memo){l[i].name, (uint32_t)nl};
        }
        if (!l[i].name)
            return -ENOMEM;
        set_hash += label_at(b, i, l[i].name, labels[i].value, &l[i]);
        if (!l[i].value)
            return -ENOMEM;
    }
    if (!hk_labels_sort(l, nlabels))
        return -EINVAL;
    return add_series(b, (uint32_t)fam, sname, sname_hash, l, nlabels, set_hash, value, ts_ms);
}

int hk_builder_set_help(struct hk_builder *b, const char *family, const char *help)
{
    if (!b->fam_index_cap)
        return -ENOENT;
    size_t mask = b->fam_index_cap - 1;
    for (size_t h = (size_t)name_hash(family) & mask; b->fam_index[h]; h = (h + 1) & mask) {
        uint32_t i = b->fam_index[h] - 1;
        if (strcmp(b->fam[i].name, family) != 0)
            continue;
        if (!b->section || i < b->section_fam_start)
            return -ENOENT;
        /* Whole (a help is no label value: max_label_value_length does not apply), valid UTF-8. */
        size_t len = strlen(help);
        char *copy;
        if (hk_utf8_valid(help, len)) {
            copy = hk_arena_strndup(b->arena, help, len);
        } else if ((copy = hk_arena_alloc(b->arena, 3 * len + 1))) {
            hk_utf8_repair(copy, help, len);
        }
        if (!copy)
            return -ENOMEM;
        b->fam[i].help = copy;
        return 0;
    }
    return -ENOENT;
}

/* ---------------------------------------------------------------- seal */

struct sort_ctx_item {
    uint64_t group; /* the series' group: most comparisons end here, without a cache miss */
    uint32_t rank;  /* family rank by name */
    uint32_t idx;
};

static int series_cmp(const void *pa, const void *pb, void *ctx)
{
    const struct hk_builder *sort_builder = ctx;
    const struct sort_ctx_item *a = pa, *b = pb;
    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    if (a->group != b->group)
        return a->group < b->group ? -1 : 1;
    const struct bseries *sa = &sort_builder->ser[a->idx], *sb = &sort_builder->ser[b->idx];
    static const struct bside none = {0, 0, 0, 0};
    uint32_t ka = sort_builder->seal_side ? sort_builder->seal_side[a->idx] : 0,
             kb = sort_builder->seal_side ? sort_builder->seal_side[b->idx] : 0;
    const struct bside *da = ka ? &sort_builder->side[ka - 1] : &none,
                       *db = kb ? &sort_builder->side[kb - 1] : &none;
    if (da->suffix != db->suffix)
        return da->suffix < db->suffix ? -1 : 1;
    if (da->sub != db->sub) {
        /* A total order even for le="NaN" (possible via hk_emit_labels): NaN sorts last. A
         * comparator that is not consistent leaves qsort's output unordered, and duplicates
         * then escape the adjacent-pair check below. */
        if (isnan(da->sub) || isnan(db->sub)) {
            if (isnan(da->sub) != isnan(db->sub))
                return isnan(da->sub) ? 1 : -1;
        } else {
            return da->sub < db->sub ? -1 : 1;
        }
    }
    if (sa->s.hash != sb->s.hash)
        return sa->s.hash < sb->s.hash ? -1 : 1;
    int c = strcmp(sa->s.name, sb->s.name);
    if (c)
        return c;
    c = hk_labels_cmp(sa->s.labels, sa->s.nlabels, sb->s.labels, sb->s.nlabels);
    if (c)
        return c;
    /* Equal series: keep emission order so the first one wins. */
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Sorts the family indices v[0..n) by name (tmp: n more), the same merge sort as sort_items
 * below; names are unique within a builder, so the order is total. */
static void sort_families(uint32_t *v, uint32_t *tmp, size_t n, const struct bfamily *fam)
{
    enum { RUN = 16 };
    for (size_t lo = 0; lo < n; lo += RUN) {
        size_t hi = lo + RUN < n ? lo + RUN : n;
        for (size_t i = lo + 1; i < hi; i++) {
            uint32_t x = v[i];
            size_t j = i;
            for (; j > lo && strcmp(fam[x].name, fam[v[j - 1]].name) < 0; j--)
                v[j] = v[j - 1];
            v[j] = x;
        }
    }
    uint32_t *src = v, *dst = tmp;
    for (size_t width = RUN; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi)
                dst[o++] = strcmp(fam[src[j]].name, fam[src[i]].name) < 0 ? src[j++] : src[i++];
            while (i < mid)
                dst[o++] = src[i++];
            while (j < hi)
                dst[o++] = src[j++];
        }
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, n * sizeof(*v));
}

/* series_cmp < 0 for two items of one family (seal buckets them by rank first), its leading
 * key compared inline: nearly every comparison ends there. */
static inline bool item_less(const struct sort_ctx_item *a, const struct sort_ctx_item *b,
                             const struct hk_builder *sb)
{
    if (a->group != b->group)
        return a->group < b->group;
    return series_cmp(a, b, (void *)sb) < 0;
}

/* Sorts v[0..n) (one family's items) by item_less, tmp holding n items: a merge sort over
 * insertion-sorted runs of 16. Called per seal on every series; glibc's qsort_r (an indirect merge
 * sort copying each 16-byte item with memcpy and calling the comparator through a pointer) took
 * several times longer. series_cmp is a total order (ties end on idx), so the result is the same as
 * qsort_r's whatever the algorithm. */
static void sort_items(struct sort_ctx_item *v, struct sort_ctx_item *tmp, size_t n,
                       const struct hk_builder *sb)
{
    enum { RUN = 16 };
    for (size_t lo = 0; lo < n; lo += RUN) {
        size_t hi = lo + RUN < n ? lo + RUN : n;
        for (size_t i = lo + 1; i < hi; i++) {
            struct sort_ctx_item x = v[i];
            size_t j = i;
            for (; j > lo && item_less(&x, &v[j - 1], sb); j--)
                v[j] = v[j - 1];
            v[j] = x;
        }
    }
    struct sort_ctx_item *src = v, *dst = tmp;
    for (size_t width = RUN; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi)
                dst[o++] = item_less(&src[j], &src[i], sb) ? src[j++] : src[i++];
            while (i < mid)
                dst[o++] = src[i++];
            while (j < hi)
                dst[o++] = src[j++];
        }
        struct sort_ctx_item *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, n * sizeof(*v));
}

/* Sorts one family's items v[0..n) by item_less (tmp: n more): bucketed first by the top bits
 * of their group hash (about two items per bucket; hashes are uniform), then each bucket by
 * insertion, or by sort_items when one is large (many series of one group, or equal hashes). */
static void sort_family(struct sort_ctx_item *v, struct sort_ctx_item *tmp, size_t n,
                        const struct hk_builder *sb)
{
    enum { MAX_BITS = 12, SMALL = 32 };
    if (n <= SMALL) {
        sort_items(v, tmp, n, sb);
        return;
    }
    unsigned bits = 1;
    while (bits < MAX_BITS && ((size_t)2 << bits) < n)
        bits++;
    uint32_t start[(1u << MAX_BITS) + 1];
    size_t nb = (size_t)1 << bits;
    memset(start, 0, (nb + 1) * sizeof(*start));
    for (size_t i = 0; i < n; i++)
        start[(v[i].group >> (64 - bits)) + 1]++;
    for (size_t k = 0; k < nb; k++)
        start[k + 1] += start[k];
    /* start[k]: bucket k's next free slot; once all are placed, the end of bucket k. */
    for (size_t i = 0; i < n; i++)
        tmp[start[v[i].group >> (64 - bits)]++] = v[i];
    for (size_t k = 0, lo = 0; k < nb; lo = start[k], k++) {
        size_t hi = start[k], len = hi - lo;
        if (len > SMALL) {
            sort_items(tmp + lo, v + lo, len, sb); /* v's same range is free scratch */
            continue;
        }
        for (size_t i = lo + 1; i < hi; i++) {
            struct sort_ctx_item x = tmp[i];
            size_t j = i;
            for (; j > lo && item_less(&x, &tmp[j - 1], sb); j--)
                tmp[j] = tmp[j - 1];
            tmp[j] = x;
        }
    }
    memcpy(v, tmp, n * sizeof(*v));
}

/* Gives back the pages of a big block (hk_big_alloc, bytes asked for) past its first used
 * bytes: the snapshot keeps the block for its life, and the reservation's headroom (1/8) or
 * the dropped duplicates leave a tail unused. */
static void trim_block(void *p, size_t used, size_t bytes)
{
    const uintptr_t page = 4096;
    if (bytes < HK_BIG_BYTES)
        return; /* malloc'ed: not ours to advise on */
    uintptr_t start = ((uintptr_t)p + used + page - 1) & ~(page - 1);
    uintptr_t end = ((uintptr_t)p + bytes) & ~(page - 1);
    if (end > start)
        (void)madvise((void *)start, end - start, MADV_DONTNEED); /* advice: failure is harmless */
}

struct hk_snapshot *hk_builder_seal(struct hk_builder *b, int64_t ts_ms,
                                    struct hk_seal_stats *ret_stats)
{
    struct hk_snapshot *snap = NULL;
    uint32_t *order = NULL, *rank = NULL;
    struct sort_ctx_item *items = NULL;
    size_t items_bytes = (b->nser ? b->nser : 1) * 2 * sizeof(*items);
    uint32_t *sidx = NULL; /* per series: its side entry + 1, or 0 (only when there are some) */
    size_t sidx_bytes = (b->nser ? b->nser : 1) * sizeof(*sidx);

    /* Nothing is interned from here on: the tables go before the sort scratch and the series
     * array are taken, which lowers the cycle's peak by their size (16 bytes a slot, two slots
     * per distinct value: 4 MiB at 100k distinct values). Their counts stay for the hint. */
    hk_big_free(b->intern, b->intern_cap * sizeof(*b->intern));
    b->intern = NULL;
    b->intern_cap = 0;
    hk_big_free(b->sets, b->sets_cap * sizeof(*b->sets));
    b->sets = NULL;
    b->sets_cap = 0;

    snap = calloc(1, sizeof(*snap));
    order = malloc((b->nfam ? b->nfam : 1) * 2 * sizeof(*order)); /* + the sort's scratch */
    rank = malloc((b->nfam ? b->nfam : 1) * 2 * sizeof(*rank));   /* + start per rank */
    /* items, then as many again: the merge sort's scratch */
    items = hk_big_alloc(items_bytes);
    if (b->nside)
        sidx = hk_big_alloc(sidx_bytes);
    if (!snap || !order || !rank || !items || (b->nside && !sidx))
        goto fail;
    if (sidx) {
        memset(sidx, 0, sidx_bytes);
        for (size_t k = 0; k < b->nside; k++)
            sidx[b->side[k].idx] = (uint32_t)k + 1;
    }
    b->seal_side = sidx;

    for (uint32_t i = 0; i < b->nfam; i++)
        order[i] = i;
    sort_families(order, order + b->nfam, b->nfam, b->fam);
    for (uint32_t i = 0; i < b->nfam; i++)
        rank[order[i]] = i;
    /* Series by family rank first (a counting sort: each family's count is known, and emission
     * order stays), then each family's run by group: short sorts instead of one long one. */
    uint32_t *start = rank + b->nfam; /* per rank: where its next series goes */
    uint32_t at = 0;
    for (uint32_t r = 0; r < b->nfam; r++) {
        start[r] = at;
        at += b->fam[order[r]].nseries;
    }
    for (uint32_t i = 0; i < b->nser; i++) {
        uint32_t r = rank[b->ser[i].s.family];
        uint64_t group = sidx && sidx[i] ? b->side[sidx[i] - 1].group : b->ser[i].s.hash;
        items[start[r]++] = (struct sort_ctx_item){group, r, i};
    }
    for (uint32_t r = 0, lo = 0; r < b->nfam; lo = start[r], r++)
        sort_family(items + lo, items + b->nser, start[r] - lo, b);

    struct hk_family *fams = hk_arena_alloc(b->arena, (b->nfam ? b->nfam : 1) * sizeof(*fams));
    struct hk_nhist *nhists =
        b->nnh ? hk_arena_alloc(b->arena, b->nnh * sizeof(*nhists)) : NULL;
    /* The series array is the builder's own block, permuted into the sorted order in place
     * and the duplicates squeezed out (no second array: 48 bytes a series less at the cycle's
     * peak). An empty builder may have no block: one element of the arena then. */
    struct hk_series *out = b->ser ? &b->ser[0].s : hk_arena_alloc(b->arena, sizeof(*out));
    if (!out || !fams || (b->nnh && !nhists))
        goto fail;
    b->seal_side = NULL;
    /* Nothing fails from here on. Each series' family field carries its native histogram's
     * index + 1 (0: none) through the permutation; the family comes from the item's rank. */
    for (size_t i = 0; i < b->nser; i++)
        b->ser[i].s.family = 0;
    for (size_t k = 0; b->ser && k < b->nnh; k++) /* a histogram has series: b->ser is set */
        b->ser[b->nh[k].series].s.family = (uint32_t)k + 1;
    /* The permutation follows its cycles: position j takes ser[items[j].idx]; a position done
     * is marked by items[j].idx = j. */
    for (size_t i = 0; i < b->nser; i++) {
        if (items[i].idx == i)
            continue;
        struct bseries first = b->ser[i];
        for (size_t j = i;;) {
            size_t src = items[j].idx;
            items[j].idx = (uint32_t)j;
            if (src == i) {
                b->ser[j] = first;
                break;
            }
            b->ser[j] = b->ser[src];
            j = src;
        }
    }

    size_t nout = 0, nfams = 0, nnh = 0;
    uint64_t dups = 0;
    long cur_rank = -1;
    for (size_t i = 0; i < b->nser; i++) {
        struct hk_series o = b->ser[i].s;
        uint32_t nhist = o.family;
        if (nout > 0 && (long)items[i].rank == cur_rank) {
            const struct hk_series *p = &out[nout - 1];
            if (p->hash == o.hash && strcmp(p->name, o.name) == 0 &&
                hk_labels_cmp(p->labels, p->nlabels, o.labels, o.nlabels) == 0) {
                dups++;
                continue;
            }
        }
        if ((long)items[i].rank != cur_rank) {
            const struct bfamily *f = &b->fam[order[items[i].rank]];
            fams[nfams] = (struct hk_family){f->name, f->help,          f->unit,
                                             f->type, (uint32_t)nout, 0, f->target};
            nfams++;
            cur_rank = items[i].rank;
        }
        o.family = (uint32_t)(nfams - 1);
        out[nout] = o;
        if (nhist && nhists) { /* nhists is set whenever b->nnh > 0 */
            nhists[nnh] = b->nh[nhist - 1];
            nhists[nnh].series = (uint32_t)nout;
            nnh++;
        }
        fams[nfams - 1].count++;
        nout++;
    }

    atomic_init(&snap->refs, 1);
    hk_arena_trim(b->arena); /* the snapshot is read-only from here: its chunks' tails go */
    snap->arena = b->arena;
    snap->families = fams;
    snap->nfamilies = nfams;
    snap->series = out;
    snap->nseries = nout;
    snap->ts_ms = ts_ms;
    snap->duplicates_dropped = dups;
    snap->nhists = nhists;
    snap->nnhists = nnh;
    for (int i = 0; i < HK_SNAPSHOT_SLOTS; i++)
        atomic_init(&snap->slots[i].ptr, NULL);
    if (ret_stats) {
        ret_stats->series = nout;
        ret_stats->duplicates = dups;
        ret_stats->arena_bytes = hk_arena_reserved_bytes(b->arena);
        ret_stats->hint =
            (struct hk_builder_hint){b->nser, b->intern_n, b->sets_n, ret_stats->arena_bytes};
    }
    if (b->ser) { /* the series block is the snapshot's now; its unused tail goes */
        snap->series_block = b->ser;
        snap->series_block_bytes = b->capser * sizeof(*b->ser);
        trim_block(b->ser, nout * sizeof(*out), snap->series_block_bytes);
        b->ser = NULL;
        b->capser = 0;
    }
    b->arena = NULL; /* now owned by the snapshot */
    free(order);
    free(rank);
    hk_big_free(items, items_bytes);
    hk_big_free(sidx, sidx_bytes);
    hk_builder_free(b);
    return snap;

fail:
    b->seal_side = NULL;
    free(snap);
    free(order);
    free(rank);
    hk_big_free(items, items_bytes);
    hk_big_free(sidx, sidx_bytes);
    hk_builder_free(b);
    return NULL;
}

/* ---------------------------------------------------------------- snapshot */

struct hk_snapshot *hk_snapshot_ref(struct hk_snapshot *snap)
{
    if (snap)
        atomic_fetch_add(&snap->refs, 1);
    return snap;
}

void hk_snapshot_unref(struct hk_snapshot *snap)
{
    if (!snap || atomic_fetch_sub(&snap->refs, 1) != 1)
        return;
    for (int i = 0; i < HK_SNAPSHOT_SLOTS; i++) {
        void *p = atomic_load(&snap->slots[i].ptr);
        if (p && snap->slots[i].free_fn)
            snap->slots[i].free_fn(p);
    }
    hk_arena_free(snap->arena);
    hk_big_free(snap->series_block, snap->series_block_bytes);
    free(snap);
}

void *hk_snapshot_slot_set(struct hk_snapshot *snap, enum hk_snapshot_slot_id id, void *ptr,
                           void (*free_fn)(void *))
{
    void *expected = NULL;
    /* Only the winner writes free_fn (concurrent losers writing it too was a data race). It is
     * read only when the last reference is dropped, which the winner's own reference orders
     * after this store. */
    if (atomic_compare_exchange_strong(&snap->slots[id].ptr, &expected, ptr)) {
        snap->slots[id].free_fn = free_fn;
        return ptr;
    }
    if (free_fn)
        free_fn(ptr);
    return expected;
}

void *hk_snapshot_slot_get(const struct hk_snapshot *snap, enum hk_snapshot_slot_id id)
{
    return atomic_load(&((struct hk_snapshot *)snap)->slots[id].ptr);
}

const struct hk_family *hk_snapshot_find_family(const struct hk_snapshot *snap, const char *name)
{
    size_t lo = 0, hi = snap->nfamilies;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(snap->families[mid].name, name);
        if (c == 0)
            return &snap->families[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Index of the first native histogram whose series is ≥ series_index. */
static size_t nhist_lower(const struct hk_snapshot *snap, size_t series_index)
{
    size_t lo = 0, hi = snap->nnhists;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (snap->nhists[mid].series < series_index)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const struct hk_nhist *hk_snapshot_family_nhists(const struct hk_snapshot *snap,
                                                 const struct hk_family *f, size_t *ret_n)
{
    size_t lo = nhist_lower(snap, f->first), hi = nhist_lower(snap, (size_t)f->first + f->count);
    *ret_n = hi - lo;
    return hi > lo ? &snap->nhists[lo] : NULL;
}

const struct hk_nhist *hk_snapshot_nhist_of(const struct hk_snapshot *snap, size_t series_index)
{
    size_t i = nhist_lower(snap, series_index);
    return i < snap->nnhists && snap->nhists[i].series == series_index ? &snap->nhists[i] : NULL;
}

/* ---------------------------------------------------------------- registry */

struct subscriber {
    hk_publish_fn fn;
    void *userdata;
};

/* Readers between loading cur and taking their reference register in the counter of the
 * current epoch. A publisher swaps cur, moves the epoch on and waits only for the previous
 * epoch's counter to drain: readers arriving meanwhile count in the other one, so a steady
 * stream of scrapes cannot starve the publisher (one shared counter could stay non-zero). */
struct hk_registry {
    _Atomic(struct hk_snapshot *) cur;
    atomic_uint epoch;
    atomic_uint acquiring[2];
    uint64_t seq;
    pthread_mutex_t publish_lock;
    struct subscriber subs[8];
    int nsubs;
};

struct hk_registry *hk_registry_new(void)
{
    struct hk_registry *reg = calloc(1, sizeof(*reg));
    if (!reg)
        return NULL;
    atomic_init(&reg->cur, NULL);
    atomic_init(&reg->epoch, 0);
    atomic_init(&reg->acquiring[0], 0);
    atomic_init(&reg->acquiring[1], 0);
    pthread_mutex_init(&reg->publish_lock, NULL);
    return reg;
}

void hk_registry_free(struct hk_registry *reg)
{
    if (!reg)
        return;
    hk_snapshot_unref(atomic_load(&reg->cur));
    pthread_mutex_destroy(&reg->publish_lock);
    free(reg);
}

int hk_registry_subscribe(struct hk_registry *reg, hk_publish_fn fn, void *userdata)
{
    pthread_mutex_lock(&reg->publish_lock);
    int r = -ENOSPC;
    if (reg->nsubs < 8) {
        reg->subs[reg->nsubs++] = (struct subscriber){fn, userdata};
        r = 0;
    }
    pthread_mutex_unlock(&reg->publish_lock);
    return r;
}

void hk_registry_publish(struct hk_registry *reg, struct hk_snapshot *snap)
{
    pthread_mutex_lock(&reg->publish_lock);
    snap->seq = ++reg->seq;
    struct hk_snapshot *old = atomic_exchange(&reg->cur, snap);
    /* Grace period: a reader that loaded `old` before the exchange is still about to take its
     * reference; wait for it before dropping ours. Readers never wait. */
    unsigned e = atomic_fetch_add(&reg->epoch, 1);
    while (atomic_load(&reg->acquiring[e & 1]) != 0)
        sched_yield();
    hk_snapshot_unref(old);
    for (int i = 0; i < reg->nsubs; i++)
        reg->subs[i].fn(snap, reg->subs[i].userdata);
    pthread_mutex_unlock(&reg->publish_lock);
}

struct hk_snapshot *hk_registry_acquire(struct hk_registry *reg)
{
    unsigned e;
    for (;;) {
        e = atomic_load(&reg->epoch);
        atomic_fetch_add(&reg->acquiring[e & 1], 1);
        if (atomic_load(&reg->epoch) == e)
            break;
        /* A publisher moved on between the two loads: register in the new epoch instead. */
        atomic_fetch_sub(&reg->acquiring[e & 1], 1);
    }
    struct hk_snapshot *s = atomic_load(&reg->cur);
    if (s)
        atomic_fetch_add(&s->refs, 1);
    atomic_fetch_sub(&reg->acquiring[e & 1], 1);
    return s;
}
