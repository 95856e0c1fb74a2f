/* SPDX-License-Identifier: Apache-2.0 */
/* Growable byte buffer with a hard cap: every append fails (and the buffer stays failed) once the
 * cap would be exceeded, so callers check once at the end instead of after each write. */
#ifndef HK_BUF_H
#define HK_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct hk_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* 0 = unlimited */
    int err;    /* 0, -ENOMEM or -E2BIG; sticky */
};

void hk_buf_init(struct hk_buf *b, size_t max);
void hk_buf_free(struct hk_buf *b);
void hk_buf_reset(struct hk_buf *b);
int hk_buf_reserve(struct hk_buf *b, size_t more);
int hk_buf_put(struct hk_buf *b, const void *data, size_t len);
int hk_buf_puts(struct hk_buf *b, const char *s);
int hk_buf_putc(struct hk_buf *b, char c);
int hk_buf_printf(struct hk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Detaches the data (NUL-terminated); the buffer becomes empty. */
char *hk_buf_steal(struct hk_buf *b, size_t *ret_len);

/* A growable array of elem-byte items: makes *arr hold at least need items, doubling *cap from
 * first (when 0). 0, -EINVAL (elem 0) or -ENOMEM (nothing changed; also when the size would
 * overflow). */
int hk_grow_array(void **arr, size_t *cap, size_t need, size_t elem, size_t first);

#endif
