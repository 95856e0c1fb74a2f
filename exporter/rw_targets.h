/* SPDX-License-Identifier: Apache-2.0 */
/* The labels remote write adds to a series: the scrape-target labels of global.target_labels
 * (job, instance; with kube-prometheus also namespace, pod, metrics_path, node) merged with
 * global.external_labels, once per configuration load, into one sorted array per target (enum
 * hk_target: node_exporter's part, cAdvisor's part, hakari's own). Per series it costs one merge
 * pass over two sorted arrays and no allocation.
 *
 * Precedence, as in Prometheus (the remote-write spec's job/instance SHOULD):
 *  - hakari: job="hakari" and instance=<node> are defaults; the series' own labels and the
 *    external labels win over them.
 *  - kube-prometheus: the labels kube-prometheus' scrape would attach; the series' own labels win
 *    (honorLabels: true, the kubelet's and hakari's ServiceMonitors) except on node_exporter's
 *    part, whose ServiceMonitor has honorLabels: false (a series' own label is kept as
 *    exported_<name>); external labels never override a target label.
 *  - none: external labels only.
 * write_relabel_configs see the result. */
#ifndef HK_RW_TARGETS_H
#define HK_RW_TARGETS_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/labels.h"
#include "core/snapshot.h"

struct hk_rw_add_label {
    const char *name;
    const char *value;
    /* "exported_<name>" when this label overrides a series' own label of that name (which is
     * kept under this name); NULL when the series' own label wins. */
    const char *exported;
};

/* Who this agent is: the values of instance/node and of namespace/pod on node_exporter's part.
 * NULL or "" leaves the label out. */
struct hk_rw_identity {
    const char *node;
    const char *pod_namespace;
    const char *pod_name;
};

struct hk_rw_targets {
    struct hk_rw_add_label *add[HK_TARGET_COUNT]; /* sorted by name, unique names; owned */
    size_t nadd[HK_TARGET_COUNT];
    size_t max_add; /* the largest nadd */
};

/* Builds the per-target arrays for mode from the sorted external labels ext[0..next) and id.
 * t is overwritten; free with hk_rw_targets_free. Returns 0 or -ENOMEM. */
int hk_rw_targets_build(struct hk_rw_targets *t, enum hk_target_labels mode,
                        const struct hk_label *ext, size_t next, const struct hk_rw_identity *id);
void hk_rw_targets_free(struct hk_rw_targets *t);

/* The identity from the environment: NODE_NAME (the DaemonSet sets it from spec.nodeName),
 * else the host name (written into host, hostcap bytes); POD_NAMESPACE, POD_NAME (downward
 * API). The strings live as long as the environment and host. */
void hk_rw_identity_from_env(struct hk_rw_identity *id, char *host, size_t hostcap);

/* The outgoing label set of one series of family target: __name__=name, the series' labels
 * (sorted; empty values are absent labels) and the target's added labels, sorted by name.
 * out must hold n + t->nadd[target] + 1 labels. Returns the count. Strings are borrowed from the
 * series and from t. */
size_t hk_rw_targets_merge(const struct hk_rw_targets *t, enum hk_target target, const char *name,
                           const struct hk_label *labels, size_t n, struct hk_label *out);

/* The same, and where each outgoing label's value comes from: src[k] is i for labels[i]'s
 * value (under its own name or as exported_<name>), HK_RW_SRC_NAME for __name__ (name),
 * HK_RW_SRC_ADDED for a target or external label. src has the room of out. Which labels come
 * from where depends only on target, the label names and which values are empty. */
#define HK_RW_SRC_NAME (-1)
#define HK_RW_SRC_ADDED (-2)
size_t hk_rw_targets_merge_src(const struct hk_rw_targets *t, enum hk_target target,
                               const char *name, const struct hk_label *labels, size_t n,
                               struct hk_label *out, int32_t *src);

#endif
