/* SPDX-License-Identifier: Apache-2.0 */
/* The capped growable buffer: appends, sticky errors, the cap, printf, steal. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"

static void test_append(void **state)
{
    (void)state;
    struct hk_buf b;
    hk_buf_init(&b, 0);
    assert_int_equal(hk_buf_puts(&b, "abc"), 0);
    assert_int_equal(hk_buf_putc(&b, '-'), 0);
    assert_int_equal(hk_buf_put(&b, "xyz", 2), 0);
    assert_int_equal(hk_buf_printf(&b, "%d/%s", 42, "ok"), 0);
    assert_string_equal(b.data, "abc-xy42/ok");
    assert_int_equal(b.len, 11);
    /* Growth across many reallocations keeps content. */
    for (int i = 0; i < 100000; i++)
        hk_buf_putc(&b, (char)('a' + i % 26));
    assert_int_equal(b.len, 100011);
    assert_int_equal(b.data[11], 'a');
    assert_int_equal(b.data[100010], (char)('a' + 99999 % 26));
    assert_int_equal(b.data[b.len], '\0');
    /* printf longer than its 256-byte stack buffer. */
    hk_buf_reset(&b);
    char big[1000];
    memset(big, 'q', sizeof(big) - 1);
    big[999] = '\0';
    assert_int_equal(hk_buf_printf(&b, "<%s>", big), 0);
    assert_int_equal(b.len, 1001);
    assert_int_equal(b.data[0], '<');
    assert_int_equal(b.data[1000], '>');
    assert_int_equal(b.data[1001], '\0');
    hk_buf_free(&b);
    hk_buf_free(&b); /* twice is fine */
}

static void test_cap(void **state)
{
    (void)state;
    struct hk_buf b;
    hk_buf_init(&b, 10);
    assert_int_equal(hk_buf_puts(&b, "0123456789"), 0); /* exactly the cap */
    assert_int_equal(b.len, 10);
    assert_int_equal(hk_buf_putc(&b, 'x'), -E2BIG);
    /* Sticky: later small appends fail too and content is unchanged. */
    assert_int_equal(hk_buf_puts(&b, ""), -E2BIG);
    assert_int_equal(hk_buf_printf(&b, "%d", 1), -E2BIG);
    assert_int_equal(b.err, -E2BIG);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "0123456789");
    assert_true(b.cap <= 11);
    /* reset clears the error. */
    hk_buf_reset(&b);
    assert_int_equal(hk_buf_puts(&b, "ok"), 0);
    assert_string_equal(b.data, "ok");
    /* printf that would exceed the cap fails cleanly. */
    assert_int_equal(hk_buf_printf(&b, "%s", "123456789"), -E2BIG);
    assert_int_equal(b.len, 2);
    hk_buf_free(&b);
    /* Overflowing reserve request. */
    hk_buf_init(&b, 0);
    hk_buf_putc(&b, 'a');
    assert_int_equal(hk_buf_reserve(&b, SIZE_MAX), -E2BIG);
    hk_buf_free(&b);
}

static void test_steal(void **state)
{
    (void)state;
    struct hk_buf b;
    hk_buf_init(&b, 0);
    size_t len = 99;
    char *s = hk_buf_steal(&b, &len); /* empty buffer: an empty C string */
    assert_non_null(s);
    assert_int_equal(len, 0);
    assert_string_equal(s, "");
    free(s);
    hk_buf_reserve(&b, 100); /* reserved but unwritten: still a C string */
    s = hk_buf_steal(&b, &len);
    assert_string_equal(s, "");
    free(s);
    hk_buf_puts(&b, "hello");
    s = hk_buf_steal(&b, &len);
    assert_string_equal(s, "hello");
    assert_int_equal(len, 5);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(s);
    hk_buf_free(&b);
}

/* hk_grow_array: first capacity, doubling, contents kept, overflow refused without change. */
static void test_grow_array(void **state)
{
    (void)state;
    int *a = NULL;
    size_t cap = 0;
    assert_int_equal(hk_grow_array((void **)&a, &cap, 0, sizeof(*a), 16), 0);
    assert_int_equal(hk_grow_array((void **)&a, &cap, 1, 0, 16), -EINVAL);
    assert_int_equal(cap, 0);
    assert_null(a);
    assert_int_equal(hk_grow_array((void **)&a, &cap, 3, sizeof(*a), 16), 0);
    assert_int_equal(cap, 16);
    for (int i = 0; i < 16; i++)
        a[i] = i;
    assert_int_equal(hk_grow_array((void **)&a, &cap, 17, sizeof(*a), 16), 0);
    assert_int_equal(cap, 32);
    for (int i = 0; i < 16; i++)
        assert_int_equal(a[i], i);
    assert_int_equal(hk_grow_array((void **)&a, &cap, 100, sizeof(*a), 16), 0);
    assert_int_equal(cap, 128);
    int *before = a;
    assert_int_equal(hk_grow_array((void **)&a, &cap, SIZE_MAX / 2 + 2, sizeof(*a), 16), -ENOMEM);
    assert_int_equal(hk_grow_array((void **)&a, &cap, SIZE_MAX / 4 + 1, sizeof(*a), 16), -ENOMEM);
    assert_ptr_equal(a, before);
    assert_int_equal(cap, 128);
    assert_int_equal(a[15], 15);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_steal),
        cmocka_unit_test(test_grow_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
