/* SPDX-License-Identifier: Apache-2.0 */
/* Container index: immutable sorted tables swapped under a short mutex; readers hold a reference. */
#include "collector/containers.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct hk_containers {
    atomic_uint refs;
    size_t n;
    struct hk_container_entry *entries; /* sorted by path */
    char *strings;
};

static pthread_mutex_t cur_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hk_containers *cur;

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct hk_container_entry *)a)->path,
                  ((const struct hk_container_entry *)b)->path);
}

static size_t slen(const char *s)
{
    return s ? strlen(s) + 1 : 1;
}

static const char *scopy(char **p, const char *s)
{
    const char *out = *p;
    size_t n = slen(s);
    if (s)
        memcpy(*p, s, n);
    else
        **p = '\0';
    *p += n;
    return out;
}

void hk_containers_unref(struct hk_containers *t)
{
    if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
        return;
    free(t->entries);
    free(t->strings);
    free(t);
}

static void swap_current(struct hk_containers *t)
{
    pthread_mutex_lock(&cur_lock);
    struct hk_containers *old = cur;
    cur = t;
    pthread_mutex_unlock(&cur_lock);
    hk_containers_unref(old);
}

int hk_containers_publish(const struct hk_container_entry *entries, size_t n)
{
    struct hk_containers *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += slen(entries[i].path) + slen(entries[i].container) + slen(entries[i].image) +
                 slen(entries[i].name) + slen(entries[i].namespace_) + slen(entries[i].pod);
    t->entries = calloc(n ? n : 1, sizeof(*t->entries));
    t->strings = malloc(bytes ? bytes : 1);
    if (!t->entries || !t->strings) {
        free(t->entries);
        free(t->strings);
        free(t);
        return -ENOMEM;
    }
    char *p = t->strings;
    for (size_t i = 0; i < n; i++) {
        t->entries[i].path = scopy(&p, entries[i].path);
        t->entries[i].container = scopy(&p, entries[i].container);
        t->entries[i].image = scopy(&p, entries[i].image);
        t->entries[i].name = scopy(&p, entries[i].name);
        t->entries[i].namespace_ = scopy(&p, entries[i].namespace_);
        t->entries[i].pod = scopy(&p, entries[i].pod);
    }
    t->n = n;
    qsort(t->entries, n, sizeof(*t->entries), entry_cmp);
    atomic_init(&t->refs, 1);
    swap_current(t);
    return 0;
}

struct hk_containers *hk_containers_acquire(void)
{
    pthread_mutex_lock(&cur_lock);
    struct hk_containers *t = cur;
    if (t)
        atomic_fetch_add(&t->refs, 1);
    pthread_mutex_unlock(&cur_lock);
    return t;
}

static const struct hk_container_entry *find_exact(const struct hk_containers *t, const char *path,
                                                   size_t len)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *p = t->entries[mid].path;
        int c = strncmp(p, path, len);
        if (c == 0)
            c = p[len] == '\0' ? 0 : 1;
        if (c == 0)
            return &t->entries[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const struct hk_container_entry *hk_containers_lookup(const struct hk_containers *t,
                                                      const char *path)
{
    if (!t || !path)
        return NULL;
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    for (;;) {
        const struct hk_container_entry *e = find_exact(t, path, len);
        if (e)
            return e;
        if (len <= 1)
            return NULL;
        /* Up one level: "/a/b" → "/a", "/a" → "/". */
        while (len > 0 && path[len - 1] != '/')
            len--;
        if (len > 1)
            len--;
        if (len == 0)
            return NULL;
    }
}

size_t hk_containers_count(const struct hk_containers *t)
{
    return t ? t->n : 0;
}

void hk_containers_reset(void)
{
    swap_current(NULL);
}
