/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the configuration YAML reader (core/yaml.c) and the small scalar parsers
 * under it: the input is parsed as a YAML document, then every node goes through the typed
 * getters; a selector byte 0xff instead feeds the raw bytes to the number/duration/size and
 * /proc/loadavg parsers. Results are checked against the documented bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/parse.h"
#include "core/log.h"
#include "core/yaml.h"

int hk_loadavg_parse(const char *buf, size_t len, double ret_load[3]);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Warnings (unset ${VAR}s, unknown keys) would be printed for most inputs: errors only. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    hk_log_setup(HK_LOG_ERROR, HK_LOG_LOGFMT);
    return 0;
}

static void walk(const struct hk_yaml_node *n, unsigned depth)
{
    struct hk_error err;
    if (!n || depth > 4096)
        abort();
    if (n->line == 0 || n->col == 0 || !n->file)
        abort();
    if (n->kind == HK_YAML_SCALAR) {
        if (!n->scalar)
            abort();
        bool b;
        uint64_t u;
        int64_t ms;
        char *s = NULL;
        (void)hk_yaml_bool(n, &b, &err);
        if (hk_yaml_u64(n, 5, 1000, &u, &err) == 0 && (u < 5 || u > 1000))
            abort();
        if (hk_yaml_duration_ms(n, &ms, &err) == 0 && ms < 0)
            abort();
        (void)hk_yaml_bytes(n, &u, &err);
        if (hk_yaml_string(n, &s, &err) == 0) {
            if (!s || strcmp(s, n->scalar) != 0)
                abort();
            free(s);
        }
        return;
    }
    if (n->kind == HK_YAML_MAP) {
        static const char *const allowed[] = {"a", "b", NULL};
        (void)hk_yaml_check_keys(n, allowed, &err);
        for (size_t i = 0; i < n->n; i++) {
            if (!n->keys[i] || n->keys[i]->kind != HK_YAML_SCALAR)
                abort();
            if (hk_yaml_get(n, n->keys[i]->scalar) == NULL)
                abort();
            walk(n->items[i], depth + 1);
        }
        return;
    }
    if (n->kind != HK_YAML_SEQ)
        abort();
    for (size_t i = 0; i < n->n; i++)
        walk(n->items[i], depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == 0xff) {
        /* Exact-size copy so a read past the end is caught. */
        size_t len = size - 1;
        char *buf = malloc(len ? len : 1);
        if (!buf)
            return 0;
        memcpy(buf, data + 1, len);
        uint64_t u;
        int64_t i;
        double d, load[3];
        (void)hk_parse_u64(buf, len, &u);
        (void)hk_parse_i64(buf, len, &i);
        (void)hk_parse_double(buf, len, &d);
        if (hk_loadavg_parse(buf, len, load) == 0 && (load[0] < 0 || load[1] < 0 || load[2] < 0))
            abort();
        free(buf);
        /* The duration/size parsers take C strings. */
        char *z = strndup((const char *)data + 1, size - 1);
        if (z) {
            if (hk_parse_duration_ms(z, &i) == 0 && i < 0)
                abort();
            (void)hk_parse_bytes(z, &u);
            free(z);
        }
        return 0;
    }
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    struct hk_yaml_node *root = NULL;
    struct hk_error err;
    memset(&err, 0, sizeof(err));
    if (hk_yaml_parse_string("fuzz.yml", text, size, &root, &err) == 0) {
        walk(root, 0);
        if (!hk_yaml_equal(root, root))
            abort();
        hk_yaml_free(root);
    } else if (!memchr(err.msg, '\0', sizeof(err.msg))) {
        abort();
    }
    free(text);
    return 0;
}
