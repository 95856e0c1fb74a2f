/* SPDX-License-Identifier: Apache-2.0 */
/* The agent configuration: defaults < YAML file < command-line flags. Sections owned by other
 * modules (remote_write, collector options, kubernetes) stay YAML nodes here and are validated by
 * their owners when the config is loaded, so --config.check catches every error. */
#ifndef HK_CONFIG_H
#define HK_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/labels.h"
#include "core/snapshot.h"
#include "core/yaml.h"

#define HK_MAX_COLLECTORS 64

/* global.target_labels: the scrape-target labels (job, instance, …) remote write gives a series,
 * since no scrape gives them (exporter/rw_targets.h has the label sets). */
enum hk_target_labels {
    HK_TARGET_LABELS_HAKARI = 0,      /* job="hakari", instance=<node> unless set otherwise */
    HK_TARGET_LABELS_KUBE_PROMETHEUS, /* what kube-prometheus' scrapes of node_exporter, the
                                       * kubelet's cAdvisor and hakari would attach */
    HK_TARGET_LABELS_NONE,            /* none (external_labels and relabelling only) */
};
/* "hakari", "kube-prometheus", "none". */
const char *hk_target_labels_name(enum hk_target_labels v);

struct hk_config {
    char *path;                /* NULL: no file */
    struct hk_yaml_node *root; /* owned; NULL when no file */
    int64_t collection_interval_ms;
    struct hk_label *external_labels; /* sorted, owned strings */
    size_t n_external_labels;
    enum hk_target_labels target_labels;
    struct hk_limits limits;
    /* Per collector: -1 default, 0 off, 1 on (YAML `collectors.<name>.enabled`, then flags). */
    int8_t collector_enabled[HK_MAX_COLLECTORS];
    const struct hk_yaml_node *collectors;   /* collectors: map */
    const struct hk_yaml_node *remote_write; /* remote_write: list */
    const struct hk_yaml_node *kubernetes;   /* kubernetes: map */
};

/* Defaults only. */
void hk_config_init(struct hk_config *cfg);
/* A command-line override of one config key, as a dotted path: --collector.cpu is
 * {"collectors.cpu.enabled", "true"}. Applied to the YAML tree before validation. */
struct hk_config_override {
    const char *path;
    const char *value;
    const char *flag; /* for error messages */
    bool append;      /* a repeated repeatable flag: add to the list set by its first use */
};

/* Loads path (NULL: no file) plus overrides into cfg (initialised with hk_config_init) and
 * validates everything. Returns 0 or -errno with err set ("file:line:col: message"). */
int hk_config_load(struct hk_config *cfg, const char *path,
                   const struct hk_config_override *overrides, size_t noverrides,
                   struct hk_error *err);
void hk_config_free(struct hk_config *cfg);
/* Whether a collector runs: flag/YAML override, else its default. */
bool hk_config_collector_enabled(const struct hk_config *cfg, size_t index);
/* `collectors.<name>` options node minus the generic `enabled` key, or NULL. */
const struct hk_yaml_node *hk_config_collector_options(const struct hk_config *cfg,
                                                       const char *name);

#endif
