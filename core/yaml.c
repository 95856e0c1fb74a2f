/* SPDX-License-Identifier: Apache-2.0 */
/* YAML tree builder on libyaml's event parser; keeps line/column for every node. Anchors and
 * aliases are rejected (configs do not need them, and they allow billion-laughs expansion).
 * Over 800 lines because the event-to-tree builder, duplicate-key index, environment expansion,
 * typed getters and flag overrides all work on the one node representation. */
#include "core/yaml.h"

#include "core/fsread.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "core/labels.h"
#include "core/log.h"

#define MAX_DEPTH 64
#define MAX_NODES 1000000

int hk_error_at(struct hk_error *err, const struct hk_yaml_node *node, const char *fmt, ...)
{
    if (!err)
        return -EINVAL;
    int n = 0;
    if (node && node->line == 0)
        n = snprintf(err->msg, sizeof(err->msg), "command-line flag: ");
    else if (node)
        n = snprintf(err->msg, sizeof(err->msg), "%s:%u:%u: ", node->file ? node->file : "<config>",
                     node->line, node->col);
    if (n < 0 || (size_t)n >= sizeof(err->msg))
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg + n, sizeof(err->msg) - (size_t)n, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

struct builder {
    yaml_parser_t parser;
    const char *text; /* the input, for positions of reader (encoding) errors */
    size_t text_len;
    const char *file;
    struct hk_error *err;
    size_t nodes;
};

static void node_free(struct hk_yaml_node *n)
{
    if (!n)
        return;
    free(n->scalar);
    free(n->raw);
    if (n->keys)
        for (size_t i = 0; i < n->n; i++)
            node_free(n->keys[i]);
    if (n->items)
        for (size_t i = 0; i < n->n; i++)
            node_free(n->items[i]);
    free(n->keys);
    free(n->items);
    free(n);
}

void hk_yaml_free(struct hk_yaml_node *root)
{
    if (!root)
        return;
    char *file = (char *)root->file;
    node_free(root);
    free(file);
}

static struct hk_yaml_node *node_new(struct builder *b, enum hk_yaml_kind kind, yaml_mark_t mark)
{
    if (++b->nodes > MAX_NODES)
        return NULL;
    struct hk_yaml_node *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->kind = kind;
    n->line = (unsigned)mark.line + 1;
    n->col = (unsigned)mark.column + 1;
    n->file = b->file;
    return n;
}

static bool env_name_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && (i == 0 || c < '0' || c > '9'))
            return false;
    }
    return len > 0;
}

/* Expands ${VAR}; $$ → $. */
static char *expand_env(struct builder *b, const char *s, size_t len, const struct hk_yaml_node *at)
{
    size_t cap = len + 1, o = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (size_t i = 0; i < len;) {
        const char *piece = s + i;
        size_t plen = 1;
        char namebuf[256];
        if (s[i] == '$' && i + 1 < len && s[i + 1] == '$') {
            plen = 1;
            i += 2;
        } else if (s[i] == '$' && i + 1 < len && s[i + 1] == '{') {
            const char *close = memchr(s + i + 2, '}', len - i - 2);
            size_t nlen = close ? (size_t)(close - (s + i + 2)) : 0;
            /* Only ${NAME} with an environment-variable name expands; "${1}" (a regex group
             * in a relabel replacement) stays as written. */
            if (!close || nlen == 0 || nlen >= sizeof(namebuf) ||
                !env_name_valid(s + i + 2, nlen)) {
                piece = s + i;
                plen = 1;
                i++;
            } else {
                memcpy(namebuf, s + i + 2, nlen);
                namebuf[nlen] = '\0';
                const char *v = getenv(namebuf);
                if (!v) {
                    char pos[64];
                    snprintf(pos, sizeof(pos), "%u:%u", at->line, at->col);
                    hk_log_warn("environment variable in config is not set, using \"\"", "var",
                                namebuf, "file", b->file, "pos", pos);
                    v = "";
                }
                piece = v;
                plen = strlen(v);
                i += nlen + 3;
            }
        } else {
            i++;
        }
        if (o + plen + 1 > cap) {
            cap = (o + plen + 1) * 2;
            char *nb = realloc(out, cap);
            if (!nb) {
                free(out);
                return NULL;
            }
            out = nb;
        }
        memcpy(out + o, piece, plen);
        o += plen;
    }
    out[o] = '\0';
    return out;
}

/* Arrays grow by doubling; the capacity is implicit (the next power of two >= n, at least 4),
 * so nodes need no extra field and every appender (parser, hk_yaml_set_path) agrees on it. A
 * +1 realloc per item made long lists quadratic in copying on some allocators. */
static bool needs_growth(size_t n)
{
    return n == 0 || (n >= 4 && (n & (n - 1)) == 0);
}

static int append(struct hk_yaml_node *parent, struct hk_yaml_node *key, struct hk_yaml_node *val)
{
    size_t n = parent->n + 1;
    if (needs_growth(parent->n)) {
        size_t cap = parent->n == 0 ? 4 : parent->n * 2;
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
        struct hk_yaml_node **items = realloc(parent->items, cap * sizeof(*items));
        if (!items)
            return -ENOMEM;
        parent->items = items;
        if (parent->kind == HK_YAML_MAP) {
            /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
            struct hk_yaml_node **keys = realloc(parent->keys, cap * sizeof(*keys));
            if (!keys)
                return -ENOMEM;
            parent->keys = keys;
        }
    }
    if (parent->kind == HK_YAML_MAP)
        parent->keys[parent->n] = key;
    parent->items[parent->n] = val;
    parent->n = n;
    return 0;
}

/* Key comparisons made by duplicate-key checks on this thread (see hk_yaml_key_compares). */
static _Thread_local uint64_t key_compares;

uint64_t hk_yaml_key_compares(void)
{
    return key_compares;
}

/* Duplicate-key detection for one map being built. Small maps are scanned (a handful of
 * strcmp); from KEYSET_MIN keys on, an open-addressing table of key indexes makes each check
 * O(1), so a map of 100k keys (external_labels) parses in linear time instead of 5e9 strcmp. */
#define KEYSET_MIN 16

struct keyset {
    uint32_t *slot; /* index + 1 into the map's keys; 0 = empty */
    size_t cap;     /* power of two, kept at least twice the number of keys */
};

static size_t key_hash(const char *s)
{
    return (size_t)hk_hash_bytes(0x6b657973ULL, s, strlen(s));
}

/* The key of map equal to s, or NULL. */
static const struct hk_yaml_node *keyset_find(const struct keyset *ks,
                                              const struct hk_yaml_node *map, const char *s)
{
    if (!ks->slot) {
        for (size_t i = 0; i < map->n; i++) {
            key_compares++;
            if (strcmp(map->keys[i]->scalar, s) == 0)
                return map->keys[i];
        }
        return NULL;
    }
    for (size_t h = key_hash(s) & (ks->cap - 1);; h = (h + 1) & (ks->cap - 1)) {
        if (!ks->slot[h])
            return NULL;
        const struct hk_yaml_node *k = map->keys[ks->slot[h] - 1];
        key_compares++;
        if (strcmp(k->scalar, s) == 0)
            return k;
    }
}

static void keyset_put(struct keyset *ks, const struct hk_yaml_node *map, size_t idx)
{
    size_t h = key_hash(map->keys[idx]->scalar) & (ks->cap - 1);
    while (ks->slot[h])
        h = (h + 1) & (ks->cap - 1);
    ks->slot[h] = (uint32_t)idx + 1;
}

/* Called after a key was appended to map: indexes it, building or doubling the table when due. */
static int keyset_add(struct keyset *ks, const struct hk_yaml_node *map)
{
    if (map->n < KEYSET_MIN)
        return 0;
    if (!ks->slot || map->n * 2 > ks->cap) {
        size_t cap = ks->cap ? ks->cap * 2 : 4 * KEYSET_MIN;
        uint32_t *slot = calloc(cap, sizeof(*slot));
        if (!slot)
            return -ENOMEM;
        free(ks->slot);
        ks->slot = slot;
        ks->cap = cap;
        for (size_t i = 0; i < map->n; i++)
            keyset_put(ks, map, i);
        return 0;
    }
    keyset_put(ks, map, map->n - 1);
    return 0;
}

static int parse_node(struct builder *b, yaml_event_t *ev, int depth, struct hk_yaml_node **ret);

static int next_event(struct builder *b, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&b->parser, ev)) {
        if (b->parser.error == YAML_READER_ERROR) {
            /* Encoding errors carry a byte offset, not a mark: turn it into line:col. */
            size_t line = 1, col = 1, off = b->parser.problem_offset;
            for (size_t i = 0; i < off && i < b->text_len; i++) {
                if (b->text[i] == '\n') {
                    line++;
                    col = 1;
                } else if (((unsigned char)b->text[i] & 0xC0) != 0x80) {
                    col++;
                }
            }
            snprintf(b->err->msg, sizeof(b->err->msg), "%s:%zu:%zu: %s", b->file, line, col,
                     b->parser.problem ? b->parser.problem : "invalid encoding");
            return -EINVAL;
        }
        snprintf(b->err->msg, sizeof(b->err->msg), "%s:%zu:%zu: %s%s%s", b->file,
                 b->parser.problem_mark.line + 1, b->parser.problem_mark.column + 1,
                 b->parser.problem ? b->parser.problem : "YAML syntax error",
                 b->parser.context ? " " : "", b->parser.context ? b->parser.context : "");
        return -EINVAL;
    }
    return 0;
}

static int parse_collection(struct builder *b, struct hk_yaml_node *n, int depth,
                            yaml_event_type_t end_type)
{
    struct keyset ks = {NULL, 0};
    int r;
    for (;;) {
        yaml_event_t ev;
        r = next_event(b, &ev);
        if (r < 0)
            goto out;
        if (ev.type == end_type) {
            yaml_event_delete(&ev);
            r = 0;
            goto out;
        }
        struct hk_yaml_node *key = NULL, *val = NULL;
        if (n->kind == HK_YAML_MAP) {
            r = parse_node(b, &ev, depth + 1, &key);
            if (r < 0)
                goto out;
            if (key->kind != HK_YAML_SCALAR) {
                r = hk_error_at(b->err, key, "mapping keys must be plain strings");
                node_free(key);
                goto out;
            }
            const struct hk_yaml_node *dup = keyset_find(&ks, n, key->scalar);
            if (dup) {
                r = hk_error_at(b->err, key, "duplicate key \"%s\" (first at line %u)",
                                key->scalar, dup->line);
                node_free(key);
                goto out;
            }
            r = next_event(b, &ev);
            if (r < 0) {
                node_free(key);
                goto out;
            }
        }
        r = parse_node(b, &ev, depth + 1, &val);
        if (r < 0) {
            node_free(key);
            goto out;
        }
        if (append(n, key, val) < 0) {
            node_free(key);
            node_free(val);
            r = -ENOMEM;
            goto out;
        }
        if (n->kind == HK_YAML_MAP && (r = keyset_add(&ks, n)) < 0)
            goto out;
    }
out:
    free(ks.slot);
    return r;
}

/* Consumes ev (and the events of its children). */
static int parse_node(struct builder *b, yaml_event_t *ev, int depth, struct hk_yaml_node **ret)
{
    int r = 0;
    struct hk_yaml_node *n = NULL;
    if (depth > MAX_DEPTH) {
        snprintf(b->err->msg, sizeof(b->err->msg), "%s:%zu:%zu: nesting deeper than %d", b->file,
                 ev->start_mark.line + 1, ev->start_mark.column + 1, MAX_DEPTH);
        yaml_event_delete(ev);
        return -EINVAL;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        if (ev->data.scalar.anchor) {
            r = -EINVAL;
            snprintf(b->err->msg, sizeof(b->err->msg), "%s:%zu:%zu: anchors are not supported",
                     b->file, ev->start_mark.line + 1, ev->start_mark.column + 1);
            break;
        }
        n = node_new(b, HK_YAML_SCALAR, ev->start_mark);
        if (!n) {
            r = -ENOMEM;
            break;
        }
        const char *v = (const char *)ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        if (memchr(v, '\0', len)) {
            /* "\0" in a double-quoted scalar: a C string would end there, so "a\0b" and
             * "a\0c" would both mean "a" (two external labels, relabel values …). */
            r = hk_error_at(b->err, n, "a NUL byte (\\0) is not allowed in a string");
            break;
        }
        bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        n->plain_null = plain && (len == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
                                  strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0);
        n->scalar = expand_env(b, v, len, n);
        if (memchr(v, '$', len))
            n->raw = strndup(v, len);
        if (!n->scalar || (memchr(v, '$', len) && !n->raw))
            r = -ENOMEM;
        break;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool map = ev->type == YAML_MAPPING_START_EVENT;
        if ((map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor)) {
            r = -EINVAL;
            snprintf(b->err->msg, sizeof(b->err->msg), "%s:%zu:%zu: anchors are not supported",
                     b->file, ev->start_mark.line + 1, ev->start_mark.column + 1);
            break;
        }
        n = node_new(b, map ? HK_YAML_MAP : HK_YAML_SEQ, ev->start_mark);
        if (!n) {
            r = -ENOMEM;
            break;
        }
        yaml_event_delete(ev);
        r = parse_collection(b, n, depth, map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT);
        if (r < 0) {
            node_free(n);
            return r;
        }
        *ret = n;
        return 0;
    }
    case YAML_ALIAS_EVENT:
        snprintf(b->err->msg, sizeof(b->err->msg), "%s:%zu:%zu: aliases are not supported",
                 b->file, ev->start_mark.line + 1, ev->start_mark.column + 1);
        r = -EINVAL;
        break;
    default:
        snprintf(b->err->msg, sizeof(b->err->msg), "%s:%zu:%zu: unexpected YAML event",
                 b->file, ev->start_mark.line + 1, ev->start_mark.column + 1);
        r = -EINVAL;
        break;
    }
    yaml_event_delete(ev);
    if (r < 0) {
        node_free(n);
        return r;
    }
    *ret = n;
    return 0;
}

int hk_yaml_parse_string(const char *name, const char *text, size_t len,
                         struct hk_yaml_node **ret_root, struct hk_error *err)
{
    struct builder b = {.err = err, .text = text, .text_len = len};
    char *file = strdup(name ? name : "<config>");
    if (!file)
        return -ENOMEM;
    b.file = file;
    if (!yaml_parser_initialize(&b.parser)) {
        free(file);
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&b.parser, (const unsigned char *)text, len);
    struct hk_yaml_node *root = NULL;
    int r = 0;
    bool done = false;
    while (!done) {
        yaml_event_t ev;
        r = next_event(&b, &ev);
        if (r < 0)
            break;
        switch (ev.type) {
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_START_EVENT:
        case YAML_DOCUMENT_END_EVENT:
            yaml_event_delete(&ev);
            break;
        case YAML_STREAM_END_EVENT:
            yaml_event_delete(&ev);
            done = true;
            break;
        default:
            if (root) {
                snprintf(err->msg, sizeof(err->msg), "%s:%zu:%zu: only one YAML document is allowed",
                         file, ev.start_mark.line + 1, ev.start_mark.column + 1);
                yaml_event_delete(&ev);
                r = -EINVAL;
                done = true;
                break;
            }
            r = parse_node(&b, &ev, 0, &root);
            if (r < 0)
                done = true;
            break;
        }
    }
    yaml_parser_delete(&b.parser);
    if (r < 0) {
        node_free(root);
        free(file);
        return r;
    }
    if (!root) {
        /* An empty file is an empty map. */
        yaml_mark_t m = {0, 0, 0};
        root = node_new(&b, HK_YAML_MAP, m);
        if (!root) {
            free(file);
            return -ENOMEM;
        }
    }
    *ret_root = root;
    return 0;
}

int hk_yaml_parse_file(const char *path, struct hk_yaml_node **ret_root, struct hk_error *err)
{
    int fd = hk_open_regular(path);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (!f) {
        int e = fd < 0 ? -fd : errno;
        if (fd >= 0)
            close(fd);
        snprintf(err->msg, sizeof(err->msg), "%s: %s", path,
                 e == EINVAL ? "not a regular file" : strerror(e));
        return -e;
    }
    size_t cap = 16384, len = 0;
    char *buf = malloc(cap);
    int r = 0;
    if (!buf) {
        fclose(f);
        return -ENOMEM;
    }
    for (;;) {
        if (len == cap) {
            if (cap >= 64 * 1024 * 1024) {
                snprintf(err->msg, sizeof(err->msg), "%s: larger than 64 MiB", path);
                r = -EFBIG;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                r = -ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                r = -EIO;
                snprintf(err->msg, sizeof(err->msg), "%s: read error", path);
            }
            break;
        }
    }
    fclose(f);
    if (r == 0)
        r = hk_yaml_parse_string(path, buf, len, ret_root, err);
    free(buf);
    return r;
}

const struct hk_yaml_node *hk_yaml_get(const struct hk_yaml_node *map, const char *key)
{
    if (!map || map->kind != HK_YAML_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->scalar, key) == 0)
            return map->items[i];
    return NULL;
}

static const char *kind_name(enum hk_yaml_kind k)
{
    return k == HK_YAML_MAP ? "a mapping" : k == HK_YAML_SEQ ? "a list" : "a scalar";
}

/* A flag's "a,b,c" becomes the list [a, b, c] in place; "" becomes the empty list. */
static int flag_to_list(struct hk_yaml_node *n)
{
    char *value = n->scalar;
    n->scalar = NULL;
    n->kind = HK_YAML_SEQ;
    n->from_flag = false;
    int r = 0;
    for (char *p = value; value && *value;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        struct hk_yaml_node *item = calloc(1, sizeof(*item));
        if (!item || !(item->scalar = strdup(p)) || append(n, NULL, item) < 0) {
            node_free(item);
            r = -ENOMEM;
            break;
        }
        item->kind = HK_YAML_SCALAR;
        item->file = n->file;
        if (!comma)
            break;
        p = comma + 1;
    }
    free(value);
    return r;
}

int hk_yaml_expect(const struct hk_yaml_node *node, enum hk_yaml_kind kind, struct hk_error *err)
{
    if (node->kind == kind)
        return 0;
    if (kind == HK_YAML_SEQ && node->kind == HK_YAML_SCALAR && node->from_flag) {
        /* The tree is the caller's own (config), so turning the flag's value into a list in
         * place is safe; every later reader sees the list. */
        int r = flag_to_list((struct hk_yaml_node *)node); /* NOLINT: see above */
        if (r < 0)
            return hk_error_at(err, node, "out of memory");
        return 0;
    }
    if (kind == HK_YAML_MAP && node->kind == HK_YAML_SCALAR && node->plain_null)
        return 0; /* "key:" with nothing under it is an empty mapping */
    return hk_error_at(err, node, "expected %s, found %s", kind_name(kind), kind_name(node->kind));
}

int hk_yaml_check_keys(const struct hk_yaml_node *map, const char *const *allowed,
                       struct hk_error *err)
{
    if (!map)
        return 0;
    int r = hk_yaml_expect(map, HK_YAML_MAP, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < map->n; i++) {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, map->keys[i]->scalar) == 0;
        if (!ok) {
            char list[256] = "";
            size_t o = 0;
            for (const char *const *a = allowed; *a; a++) {
                int w = snprintf(list + o, sizeof(list) - o, "%s%s", o ? ", " : "", *a);
                if (w < 0 || (size_t)w >= sizeof(list) - o)
                    break;
                o += (size_t)w;
            }
            return hk_error_at(err, map->keys[i], "unknown key \"%s\" (allowed: %s)",
                               map->keys[i]->scalar, list);
        }
    }
    return 0;
}

int hk_yaml_bool(const struct hk_yaml_node *node, bool *ret, struct hk_error *err)
{
    if (node->kind != HK_YAML_SCALAR)
        return hk_error_at(err, node, "expected true or false");
    const char *s = node->scalar;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        *ret = true;
    else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        *ret = false;
    else
        return hk_error_at(err, node, "expected true or false, found \"%s\"", s);
    return 0;
}

int hk_yaml_u64(const struct hk_yaml_node *node, uint64_t min, uint64_t max, uint64_t *ret,
                struct hk_error *err)
{
    if (node->kind != HK_YAML_SCALAR)
        return hk_error_at(err, node, "expected a number");
    const char *s = node->scalar;
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)s[0]))
        return hk_error_at(err, node, "expected a non-negative integer, found \"%s\"", s);
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno == ERANGE)
        return hk_error_at(err, node, "expected a non-negative integer, found \"%s\"", s);
    if (v < min || v > max)
        return hk_error_at(err, node, "%llu is out of range [%llu, %llu]", v,
                           (unsigned long long)min, (unsigned long long)max);
    *ret = v;
    return 0;
}

int hk_parse_duration_ms(const char *s, int64_t *ret_ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1},         {"s", 1000},           {"m", 60000}, {"h", 3600000},
                 {"d", 86400000},   {"w", 604800000},      {"y", 31536000000LL}};
    if (!*s)
        return -EINVAL;
    if (strcmp(s, "0") == 0) {
        *ret_ms = 0;
        return 0;
    }
    int64_t total = 0;
    const char *p = s;
    int last_rank = 100;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -EINVAL;
        errno = 0;
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno == ERANGE)
            return -ERANGE;
        p = end;
        int found = -1;
        /* "ms" must be tried before "m". */
        for (int i = 0; i < 7; i++) {
            size_t ul = strlen(units[i].unit);
            if (strncmp(p, units[i].unit, ul) == 0 && !(i == 2 && p[1] == 's')) {
                found = i;
                p += ul;
                break;
            }
        }
        if (found < 0)
            return -EINVAL;
        /* Units must go from larger to smaller, each once (as Prometheus requires). */
        int rank = found == 0 ? 0 : found;
        if (rank >= last_rank)
            return -EINVAL;
        last_rank = rank;
        if (v > (unsigned long long)(INT64_MAX / units[found].ms) ||
            total > INT64_MAX - (int64_t)v * units[found].ms)
            return -ERANGE;
        total += (int64_t)v * units[found].ms;
    }
    *ret_ms = total;
    return 0;
}

int hk_yaml_duration_ms(const struct hk_yaml_node *node, int64_t *ret_ms, struct hk_error *err)
{
    if (node->kind != HK_YAML_SCALAR || hk_parse_duration_ms(node->scalar, ret_ms) < 0)
        return hk_error_at(err, node, "expected a duration like 10s, 1m30s or 500ms, found \"%s\"",
                           node->kind == HK_YAML_SCALAR ? node->scalar : "?");
    return 0;
}

int hk_parse_bytes(const char *s, uint64_t *ret)
{
    static const struct {
        const char *unit;
        uint64_t mult;
    } units[] = {{"KiB", 1ULL << 10}, {"MiB", 1ULL << 20}, {"GiB", 1ULL << 30},
                 {"TiB", 1ULL << 40}, {"KB", 1000ULL},     {"MB", 1000000ULL},
                 {"GB", 1000000000ULL}, {"TB", 1000000000000ULL}, {"B", 1}, {"", 1}};
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit) == 0) {
            if (v > UINT64_MAX / units[i].mult)
                return -ERANGE;
            *ret = v * units[i].mult;
            return 0;
        }
    }
    return -EINVAL;
}

int hk_yaml_bytes(const struct hk_yaml_node *node, uint64_t *ret, struct hk_error *err)
{
    if (node->kind != HK_YAML_SCALAR || hk_parse_bytes(node->scalar, ret) < 0)
        return hk_error_at(err, node, "expected a size like 512MiB or 1GB, found \"%s\"",
                           node->kind == HK_YAML_SCALAR ? node->scalar : "?");
    return 0;
}

int hk_yaml_string(const struct hk_yaml_node *node, char **ret, struct hk_error *err)
{
    if (node->kind != HK_YAML_SCALAR)
        return hk_error_at(err, node, "expected a string");
    char *s = strdup(node->scalar);
    if (!s)
        return -ENOMEM;
    *ret = s;
    return 0;
}

struct hk_yaml_node *hk_yaml_new_root(const char *name)
{
    struct hk_yaml_node *n = calloc(1, sizeof(*n));
    char *file = strdup(name ? name : "<flags>");
    if (!n || !file) {
        free(n);
        free(file);
        return NULL;
    }
    n->kind = HK_YAML_MAP;
    n->file = file;
    return n;
}

static struct hk_yaml_node *synthetic(const struct hk_yaml_node *root, enum hk_yaml_kind kind,
                                      const char *scalar)
{
    struct hk_yaml_node *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->kind = kind;
    n->file = root->file;
    if (scalar && !(n->scalar = strdup(scalar))) {
        free(n);
        return NULL;
    }
    return n;
}

int hk_yaml_set_path(struct hk_yaml_node *root, const char *dotted, const char *value,
                     const char *origin)
{
    (void)origin;
    struct hk_yaml_node *map = root;
    const char *p = dotted;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        char key[128];
        if (len == 0 || len >= sizeof(key))
            return -EINVAL;
        memcpy(key, p, len);
        key[len] = '\0';
        if (map->kind == HK_YAML_SCALAR && map->plain_null) {
            /* "key:" with nothing under it becomes a map. */
            free(map->scalar);
            map->scalar = NULL;
            map->kind = HK_YAML_MAP;
        }
        if (map->kind != HK_YAML_MAP)
            return -EINVAL;
        size_t i;
        for (i = 0; i < map->n; i++)
            if (strcmp(map->keys[i]->scalar, key) == 0)
                break;
        if (i == map->n) {
            struct hk_yaml_node *k = synthetic(root, HK_YAML_SCALAR, key);
            struct hk_yaml_node *v = synthetic(root, dot ? HK_YAML_MAP : HK_YAML_SCALAR,
                                               dot ? NULL : value);
            if (v && !dot)
                v->from_flag = true;
            if (!k || !v || append(map, k, v) < 0) {
                node_free(k);
                node_free(v);
                return -ENOMEM;
            }
        } else if (!dot) {
            struct hk_yaml_node *v = map->items[i];
            if (v->kind == HK_YAML_SEQ) {
                /* A list (say textfile directories) set by one flag: the flag's value replaces it
                 * (a repeated repeatable flag then appends: hk_yaml_append_path). */
                for (size_t k = 0; k < v->n; k++)
                    node_free(v->items[k]);
                free(v->items);
                v->items = NULL;
                v->n = 0;
                v->kind = HK_YAML_SCALAR;
            }
            if (v->kind != HK_YAML_SCALAR)
                return -EINVAL;
            char *s = strdup(value);
            if (!s)
                return -ENOMEM;
            free(v->scalar);
            v->scalar = s;
            v->plain_null = false;
            v->from_flag = true;
        }
        if (!dot)
            return 0;
        map = map->items[i];
        p = dot + 1;
    }
}

int hk_yaml_append_path(struct hk_yaml_node *root, const char *dotted, const char *value,
                        const char *origin)
{
    const char *last = strrchr(dotted, '.');
    if (!last || !last[1])
        return -EINVAL;
    char parent[256];
    size_t pl = (size_t)(last - dotted);
    if (pl >= sizeof(parent))
        return -EINVAL;
    memcpy(parent, dotted, pl);
    parent[pl] = '\0';
    struct hk_yaml_node *map = root;
    for (const char *p = parent;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        size_t i;
        for (i = 0; map->kind == HK_YAML_MAP && i < map->n; i++)
            if (strlen(map->keys[i]->scalar) == len && strncmp(map->keys[i]->scalar, p, len) == 0)
                break;
        if (map->kind != HK_YAML_MAP || i == map->n || map->items[i]->kind != HK_YAML_MAP)
            return hk_yaml_set_path(root, dotted, value, origin); /* nothing to append to yet */
        map = map->items[i];
        if (!dot)
            break;
        p = dot + 1;
    }
    const char *key = last + 1;
    size_t i;
    for (i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->scalar, key) == 0)
            break;
    if (i == map->n || (map->items[i]->kind == HK_YAML_SCALAR && map->items[i]->plain_null))
        return hk_yaml_set_path(root, dotted, value, origin);
    struct hk_yaml_node *v = map->items[i];
    if (v->kind == HK_YAML_MAP)
        return -EINVAL;
    if (v->kind == HK_YAML_SCALAR) {
        /* The value so far becomes the first item of a sequence. */
        struct hk_yaml_node *first = synthetic(root, HK_YAML_SCALAR, v->scalar);
        if (!first)
            return -ENOMEM;
        first->line = v->line;
        first->col = v->col;
        free(v->scalar);
        free(v->raw);
        v->scalar = NULL;
        v->raw = NULL;
        v->kind = HK_YAML_SEQ;
        v->items = NULL;
        v->n = 0;
        /* Through append: item arrays grow by doubling, and append knows their capacity. */
        if (append(v, NULL, first) < 0) {
            node_free(first);
            return -ENOMEM;
        }
    }
    struct hk_yaml_node *item = synthetic(root, HK_YAML_SCALAR, value);
    if (!item || append(v, NULL, item) < 0) {
        node_free(item);
        return -ENOMEM;
    }
    return 0;
}

bool hk_yaml_equal(const struct hk_yaml_node *a, const struct hk_yaml_node *b)
{
    if (!a || !b)
        return a == b;
    if (a->kind != b->kind || a->n != b->n)
        return false;
    if (a->kind == HK_YAML_SCALAR)
        return strcmp(a->scalar, b->scalar) == 0;
    for (size_t i = 0; i < a->n; i++) {
        if (a->kind == HK_YAML_MAP && strcmp(a->keys[i]->scalar, b->keys[i]->scalar) != 0)
            return false;
        if (!hk_yaml_equal(a->items[i], b->items[i]))
            return false;
    }
    return true;
}
