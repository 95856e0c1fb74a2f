/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the node collectors (see node_common.h). */
#include "collector/node_common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/log.h"

void hk_node_buf_init(struct hk_node_buf *b, size_t initial, size_t max)
{
    b->data = NULL;
    b->cap = initial < 64 ? 64 : initial;
    b->max = max < b->cap ? b->cap : max;
}

void hk_node_buf_free(struct hk_node_buf *b)
{
    free(b->data);
    b->data = NULL;
}

ssize_t hk_node_buf_read(struct hk_node_buf *b, int dirfd, const char *path)
{
    for (;;) {
        if (!b->data) {
            b->data = malloc(b->cap);
            if (!b->data)
                return -ENOMEM;
        }
        ssize_t n = hk_read_file_at(dirfd, path, b->data, b->cap);
        if (n != -EFBIG)
            return n;
        if (b->cap >= b->max)
            return -EFBIG;
        /* The file grew past the buffer (more CPUs/disks/mounts than last time): double and
         * read again from the start, so nothing is ever parsed truncated. */
        size_t ncap = b->cap * 2 > b->max ? b->max : b->cap * 2;
        free(b->data);
        b->data = NULL;
        b->cap = ncap;
    }
}

void hk_node_soft_error(struct hk_node_health *h, struct hk_collect_ctx *ctx, const char *collector,
                        const char *file, int err)
{
    ctx->soft_errors++;
    if (h->bad)
        return;
    h->bad = true;
    const char *msg = err == -EINVAL || err == -ERANGE ? "malformed file skipped"
                      : err == -EFBIG                  ? "file too large, skipped"
                                                       : "unreadable file skipped";
    hk_log_warn(msg, "collector", collector, "file", file, "err", strerror(err < 0 ? -err : err));
}

void hk_node_ok(struct hk_node_health *h, const char *collector, const char *file)
{
    if (!h->bad)
        return;
    h->bad = false;
    hk_log_info("file readable again", "collector", collector, "file", file);
}

struct hk_node_regex {
    pcre2_code *code;
    pcre2_match_data *md;
};

int hk_node_regex_new(const char *pattern, struct hk_node_regex **ret,
                      const struct hk_yaml_node *node, struct hk_error *err)
{
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &errcode, &erroff, NULL);
    if (!code) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(errcode, msg, sizeof(msg));
        return hk_error_at(err, node, "invalid regular expression %s: %s at offset %zu", pattern,
                           (const char *)msg, (size_t)erroff);
    }
    struct hk_node_regex *re = calloc(1, sizeof(*re));
    if (re)
        re->md = pcre2_match_data_create_from_pattern(code, NULL);
    if (!re || !re->md) {
        free(re);
        pcre2_code_free(code);
        return -ENOMEM;
    }
    re->code = code;
    *ret = re;
    return 0;
}

bool hk_node_regex_match(const struct hk_node_regex *re, const char *s, size_t len)
{
    if (!re)
        return false;
    /* Byte-wise (no UTF mode): kernel names need not be UTF-8. Match data is per regex;
     * a collector runs on one thread, one cycle at a time. */
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, re->md, NULL);
    return rc >= 0;
}

void hk_node_regex_free(struct hk_node_regex *re)
{
    if (!re)
        return;
    pcre2_match_data_free(re->md);
    pcre2_code_free(re->code);
    free(re);
}

int hk_node_regex_option(const struct hk_collector_env *env, const char *key, const char *def,
                         struct hk_node_regex **ret)
{
    const struct hk_yaml_node *node = hk_yaml_get(env->options, key);
    const char *pattern = def;
    if (node) {
        int r = hk_yaml_expect(node, HK_YAML_SCALAR, env->err);
        if (r < 0)
            return r;
        pattern = node->scalar ? node->scalar : "";
    }
    struct hk_node_regex *re = NULL;
    if (pattern[0]) { /* "" disables the filter */
        int r = hk_node_regex_new(pattern, &re, node, env->err);
        if (r < 0)
            return r;
    }
    if (ret)
        *ret = re;
    else
        hk_node_regex_free(re);
    return 0;
}
