/* SPDX-License-Identifier: Apache-2.0 */
/* Growable capped buffer. */
#include "core/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HK_BUF_HUGE (4u << 20)
#define HK_BUF_HUGE_ALIGN ((size_t)2 << 20)

void hk_buf_init(struct hk_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void hk_buf_free(struct hk_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void hk_buf_reset(struct hk_buf *b)
{
    b->len = 0;
    b->err = 0;
}

int hk_buf_reserve(struct hk_buf *b, size_t more)
{
    if (b->err)
        return b->err;
    /* len + more + 1 must not wrap (the old `need < len` test missed more == SIZE_MAX). */
    if (more > SIZE_MAX - b->len - 1)
        return b->err = -E2BIG;
    size_t need = b->len + more + 1;
    if (b->max && need > b->max + 1)
        return b->err = -E2BIG;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (b->max && cap > b->max + 1)
        cap = b->max + 1;
    char *d;
    if (cap >= HK_BUF_HUGE) {
        /* Large bodies (scrape output of 100k series is tens of MiB) are filled once, front to
         * back: backed by transparent huge pages they take 1/512 of the page faults, which on
         * virtualised nodes cost more than the rendering itself. */
        size_t huge = (cap + HK_BUF_HUGE_ALIGN - 1) & ~(HK_BUF_HUGE_ALIGN - 1);
        if (huge < cap)
            return b->err = -E2BIG;
        d = aligned_alloc(HK_BUF_HUGE_ALIGN, huge);
        if (!d)
            return b->err = -ENOMEM;
        madvise(d, huge, MADV_HUGEPAGE); /* advice only: ignore failure */
        if (b->data) {
            memcpy(d, b->data, b->len + 1);
            free(b->data);
        }
        cap = huge;
    } else {
        d = realloc(b->data, cap);
        if (!d)
            return b->err = -ENOMEM;
    }
    d[b->len] = '\0'; /* data is a C string even before the first append (hk_buf_steal) */
    b->data = d;
    b->cap = cap;
    return 0;
}

int hk_buf_put(struct hk_buf *b, const void *data, size_t len)
{
    /* hk_buf_reserve only when the room is not there already (its checks, inlined) */
    bool room = !b->err && b->data && len < b->cap - b->len &&
                (!b->max || b->len + len + 1 <= b->max + 1);
    int r = room ? 0 : hk_buf_reserve(b, len);
    if (r < 0)
        return r;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int hk_buf_puts(struct hk_buf *b, const char *s)
{
    return hk_buf_put(b, s, strlen(s));
}

int hk_buf_putc(struct hk_buf *b, char c)
{
    /* The renderers' separators: room already there (the case hk_buf_reserve answers 0 to
     * without touching anything) takes two stores, no calls. */
    size_t need = b->len + 2;
    if (!b->err && b->data && need <= b->cap && (!b->max || need <= b->max + 1)) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return 0;
    }
    return hk_buf_put(b, &c, 1);
}

int hk_buf_printf(struct hk_buf *b, const char *fmt, ...)
{
    if (b->err)
        return b->err;
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return b->err = -EINVAL;
    if ((size_t)n < sizeof(small))
        return hk_buf_put(b, small, (size_t)n);
    int r = hk_buf_reserve(b, (size_t)n);
    if (r < 0)
        return r;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int hk_grow_array(void **arr, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap)
        return 0;
    if (!elem)
        return -EINVAL;
    size_t n = *cap ? *cap : (first ? first : 1);
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return -ENOMEM;
        n *= 2;
    }
    if (n > SIZE_MAX / elem)
        return -ENOMEM;
    void *p = realloc(*arr, n * elem);
    if (!p)
        return -ENOMEM;
    *arr = p;
    *cap = n;
    return 0;
}

char *hk_buf_steal(struct hk_buf *b, size_t *ret_len)
{
    if (!b->data && hk_buf_reserve(b, 0) < 0)
        return NULL;
    char *d = b->data;
    if (ret_len)
        *ret_len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}
