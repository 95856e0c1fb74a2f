/* SPDX-License-Identifier: Apache-2.0 */
/* Loads the YAML configuration (global, limits, collectors, remote_write, kubernetes) and
 * validates every section, including the ones owned by collectors and exporters. */
#include "core/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/sections.h"
#include "core/collector.h"
#include "core/fsread.h"

void hk_config_init(struct hk_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->collection_interval_ms = 10000;
    cfg->limits.max_series = 200000;
    cfg->limits.max_labels = 64;
    cfg->limits.max_label_value_length = 4096;
    for (size_t i = 0; i < HK_MAX_COLLECTORS; i++)
        cfg->collector_enabled[i] = -1;
}

void hk_config_free(struct hk_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n_external_labels; i++) {
        free((char *)cfg->external_labels[i].name);
        free((char *)cfg->external_labels[i].value);
    }
    free(cfg->external_labels);
    hk_yaml_free(cfg->root);
    free(cfg->path);
    cfg->external_labels = NULL;
    cfg->n_external_labels = 0;
    cfg->root = NULL;
    cfg->path = NULL;
}

static int parse_external_labels(struct hk_config *cfg, const struct hk_yaml_node *map,
                                 struct hk_error *err)
{
    int r = hk_yaml_expect(map, HK_YAML_MAP, err);
    if (r < 0)
        return r;
    if (map->kind != HK_YAML_MAP || map->n == 0)
        return 0;
    cfg->external_labels = calloc(map->n, sizeof(*cfg->external_labels));
    if (!cfg->external_labels)
        return -ENOMEM;
    for (size_t i = 0; i < map->n; i++) {
        const struct hk_yaml_node *k = map->keys[i], *v = map->items[i];
        if (!hk_label_name_valid(k->scalar, strlen(k->scalar)) ||
            strncmp(k->scalar, "__", 2) == 0)
            return hk_error_at(err, k, "invalid external label name \"%s\"", k->scalar);
        if (v->kind != HK_YAML_SCALAR)
            return hk_error_at(err, v, "external label \"%s\" must have a string value",
                               k->scalar);
        size_t vlen = strlen(v->scalar);
        if (!hk_utf8_valid(v->scalar, vlen))
            return hk_error_at(err, v, "external label \"%s\" is not valid UTF-8", k->scalar);
        /* Refused, not cut: like Prometheus' label_value_length_limit (a scrape with a longer
         * value fails whole), and a cut value would label every sent series with something
         * other than what the file says. */
        size_t cap = cfg->limits.max_label_value_length;
        if (cap && vlen > cap)
            return hk_error_at(err, v,
                               "external label \"%s\": value is %zu bytes, over "
                               "limits.max_label_value_length (%zu)",
                               k->scalar, vlen, cap);
        struct hk_label *l = &cfg->external_labels[cfg->n_external_labels];
        l->name = strdup(k->scalar);
        l->value = strdup(v->scalar);
        cfg->n_external_labels++;
        if (!l->name || !l->value)
            return -ENOMEM;
    }
    hk_labels_sort(cfg->external_labels, cfg->n_external_labels);
    return 0;
}

static const char *const target_labels_names[] = {
    [HK_TARGET_LABELS_HAKARI] = "hakari",
    [HK_TARGET_LABELS_KUBE_PROMETHEUS] = "kube-prometheus",
    [HK_TARGET_LABELS_NONE] = "none",
};

const char *hk_target_labels_name(enum hk_target_labels v)
{
    return (size_t)v < sizeof(target_labels_names) / sizeof(target_labels_names[0])
               ? target_labels_names[v]
               : "?";
}

static int parse_target_labels(struct hk_config *cfg, const struct hk_yaml_node *n,
                               struct hk_error *err)
{
    const char *const *names = target_labels_names;
    int r = hk_yaml_expect(n, HK_YAML_SCALAR, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < sizeof(target_labels_names) / sizeof(target_labels_names[0]); i++)
        if (strcmp(n->scalar, names[i]) == 0) {
            cfg->target_labels = (enum hk_target_labels)i;
            return 0;
        }
    return hk_error_at(err, n,
                       "target_labels: unknown value \"%s\" (one of: hakari, kube-prometheus, "
                       "none)",
                       n->scalar);
}

static int parse_global(struct hk_config *cfg, const struct hk_yaml_node *g, struct hk_error *err)
{
    static const char *const keys[] = {"collection_interval", "external_labels", "target_labels",
                                       NULL};
    int r = hk_yaml_check_keys(g, keys, err);
    if (r < 0)
        return r;
    const struct hk_yaml_node *n = hk_yaml_get(g, "target_labels");
    if (n && (r = parse_target_labels(cfg, n, err)) < 0)
        return r;
    n = hk_yaml_get(g, "collection_interval");
    if (n) {
        r = hk_yaml_duration_ms(n, &cfg->collection_interval_ms, err);
        if (r < 0)
            return r;
        if (cfg->collection_interval_ms < 100)
            return hk_error_at(err, n, "collection_interval must be at least 100ms");
    }
    n = hk_yaml_get(g, "external_labels");
    if (n)
        return parse_external_labels(cfg, n, err);
    return 0;
}

static int parse_limits(struct hk_config *cfg, const struct hk_yaml_node *l, struct hk_error *err)
{
    static const char *const keys[] = {"max_series", "max_labels", "max_label_value_length", NULL};
    int r = hk_yaml_check_keys(l, keys, err);
    if (r < 0)
        return r;
    uint64_t v;
    const struct hk_yaml_node *n;
    if ((n = hk_yaml_get(l, "max_series"))) {
        if ((r = hk_yaml_u64(n, 0, UINT32_MAX, &v, err)) < 0)
            return r;
        cfg->limits.max_series = (uint32_t)v;
    }
    if ((n = hk_yaml_get(l, "max_labels"))) {
        if ((r = hk_yaml_u64(n, 0, 1024, &v, err)) < 0)
            return r;
        cfg->limits.max_labels = (uint32_t)v;
    }
    if ((n = hk_yaml_get(l, "max_label_value_length"))) {
        if ((r = hk_yaml_u64(n, 0, 1 << 20, &v, err)) < 0)
            return r;
        cfg->limits.max_label_value_length = (uint32_t)v;
    }
    return 0;
}

static int parse_collectors(struct hk_config *cfg, const struct hk_yaml_node *c,
                            struct hk_error *err)
{
    int r = hk_yaml_expect(c, HK_YAML_MAP, err);
    if (r < 0 || c->kind != HK_YAML_MAP)
        return r;
    for (size_t i = 0; i < c->n; i++) {
        const char *name = c->keys[i]->scalar;
        size_t idx = 0;
        while (hk_collectors[idx] && strcmp(hk_collectors[idx]->name, name) != 0)
            idx++;
        if (!hk_collectors[idx]) {
            char list[400] = "";
            size_t o = 0;
            for (size_t j = 0; hk_collectors[j]; j++) {
                int w = snprintf(list + o, sizeof(list) - o, "%s%s", o ? ", " : "",
                                 hk_collectors[j]->name);
                if (w < 0 || (size_t)w >= sizeof(list) - o)
                    break;
                o += (size_t)w;
            }
            return hk_error_at(err, c->keys[i], "unknown collector \"%s\" (known: %s)", name, list);
        }
        const struct hk_yaml_node *opts = c->items[i];
        if ((r = hk_yaml_expect(opts, HK_YAML_MAP, err)) < 0)
            return r;
        const struct hk_yaml_node *en = hk_yaml_get(opts, "enabled");
        if (en) {
            bool b;
            if ((r = hk_yaml_bool(en, &b, err)) < 0)
                return r;
            cfg->collector_enabled[idx] = b ? 1 : 0;
        }
        const struct hk_collector_ops *ops = hk_collectors[idx];
        if (ops->check) {
            struct hk_collector_env env = {NULL, cfg, opts->kind == HK_YAML_MAP ? opts : NULL, err};
            if ((r = ops->check(&env)) < 0)
                return r;
        } else if (opts->kind == HK_YAML_MAP) {
            static const char *const only_enabled[] = {HK_COLLECTOR_COMMON_KEYS, NULL};
            if ((r = hk_yaml_check_keys(opts, only_enabled, err)) < 0)
                return r;
        }
    }
    return 0;
}

int hk_config_load(struct hk_config *cfg, const char *path,
                   const struct hk_config_override *overrides, size_t noverrides,
                   struct hk_error *err)
{
    static const char *const top[] = {"global", "limits", "collectors", "remote_write",
                                      "kubernetes", NULL};
    int r;
    if (path && noverrides) {
        /* The file must be valid on its own: a flag that overrides a bad value must not hide it
         * (`collection_interval: "5x"` would pass --config.check as long as the flag is given,
         * and break the first run without it). */
        struct hk_config alone;
        hk_config_init(&alone);
        r = hk_config_load(&alone, path, NULL, 0, err);
        hk_config_free(&alone);
        if (r < 0)
            return r;
    }
    if (path) {
        if ((r = hk_yaml_parse_file(path, &cfg->root, err)) < 0)
            return r;
        if (!(cfg->path = strdup(path)))
            return -ENOMEM;
    } else if (!(cfg->root = hk_yaml_new_root("<flags>"))) {
        return -ENOMEM;
    }
    if (cfg->root->kind == HK_YAML_SCALAR && cfg->root->plain_null) {
        hk_yaml_free(cfg->root);
        if (!(cfg->root = hk_yaml_new_root(path)))
            return -ENOMEM;
    }
    for (size_t i = 0; i < noverrides; i++) {
        r = overrides[i].append ? hk_yaml_append_path(cfg->root, overrides[i].path,
                                                      overrides[i].value, overrides[i].flag)
                                : hk_yaml_set_path(cfg->root, overrides[i].path,
                                                   overrides[i].value, overrides[i].flag);
        if (r == -EINVAL)
            return hk_error_at(err, NULL, "flag %s: conflicts with the structure of %s",
                               overrides[i].flag, path ? path : "the configuration");
        if (r < 0)
            return r;
    }
    const struct hk_yaml_node *root = cfg->root;
    if ((r = hk_yaml_expect(root, HK_YAML_MAP, err)) < 0)
        return r;
    if ((r = hk_yaml_check_keys(root, top, err)) < 0)
        return r;
    const struct hk_yaml_node *n;
    /* limits first: global.external_labels are checked against max_label_value_length. */
    if ((n = hk_yaml_get(root, "limits")) && (r = parse_limits(cfg, n, err)) < 0)
        return r;
    if ((n = hk_yaml_get(root, "global")) && (r = parse_global(cfg, n, err)) < 0)
        return r;
    if ((n = hk_yaml_get(root, "collectors"))) {
        cfg->collectors = n;
        if ((r = parse_collectors(cfg, n, err)) < 0)
            return r;
    }
    if ((n = hk_yaml_get(root, "remote_write"))) {
        if (!(n->kind == HK_YAML_SCALAR && n->plain_null) &&
            (r = hk_yaml_expect(n, HK_YAML_SEQ, err)) < 0)
            return r;
        cfg->remote_write = n->kind == HK_YAML_SEQ ? n : NULL;
    }
    if ((n = hk_yaml_get(root, "kubernetes"))) {
        if ((r = hk_yaml_expect(n, HK_YAML_MAP, err)) < 0)
            return r;
        cfg->kubernetes = n->kind == HK_YAML_MAP ? n : NULL;
    }
    /* Sections owned by other modules. */
    for (const struct hk_config_section *s = hk_config_sections; s->check; s++)
        if ((r = s->check(cfg, err)) < 0)
            return r;
    return 0;
}

bool hk_config_collector_enabled(const struct hk_config *cfg, size_t index)
{
    if (index < HK_MAX_COLLECTORS && cfg->collector_enabled[index] >= 0)
        return cfg->collector_enabled[index] == 1;
    return hk_collectors[index]->default_enabled;
}

const struct hk_yaml_node *hk_config_collector_options(const struct hk_config *cfg,
                                                       const char *name)
{
    const struct hk_yaml_node *n = hk_yaml_get(cfg->collectors, name);
    return n && n->kind == HK_YAML_MAP ? n : NULL;
}
