/* SPDX-License-Identifier: Apache-2.0 */
/* Target labels and external labels for remote write (see rw_targets.h): the label sets per
 * profile and target, built once per configuration load, and the per-series merge. The
 * kube-prometheus sets follow its ServiceMonitors (nodeExporter-serviceMonitor.yaml,
 * kubernetesControlPlane-serviceMonitorKubelet.yaml) where the node-mixin and kubernetes-mixin
 * rules and dashboards select or join on a label; docs/remote-write.md lists what is left out. */
#include "exporter/rw_targets.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TARGET_LABELS 4

struct target_label {
    const char *name;
    const char *value;
    bool override; /* honor_labels: false */
};

/* The labels a scrape of target would attach under mode (values may be NULL or ""). */
static size_t target_labels(enum hk_target_labels mode, enum hk_target target,
                            const struct hk_rw_identity *id, struct target_label *out)
{
    size_t n = 0;
    switch (mode) {
    case HK_TARGET_LABELS_NONE:
        break;
    case HK_TARGET_LABELS_HAKARI:
        out[n++] = (struct target_label){"job", "hakari", false};
        out[n++] = (struct target_label){"instance", id->node, false};
        break;
    case HK_TARGET_LABELS_KUBE_PROMETHEUS:
        switch (target) {
        case HK_TARGET_NODE:
            /* node-exporter's ServiceMonitor: job from the Service's app.kubernetes.io/name,
             * instance relabelled to the pod's node name, namespace and pod of the exporter's
             * pod (node:node_num_cpu:sum joins kube_pod_info on them); honorLabels unset. */
            out[n++] = (struct target_label){"job", "node-exporter", true};
            out[n++] = (struct target_label){"instance", id->node, true};
            out[n++] = (struct target_label){"namespace", id->pod_namespace, true};
            out[n++] = (struct target_label){"pod", id->pod_name, true};
            break;
        case HK_TARGET_CADVISOR:
            /* The kubelet's /metrics/cadvisor endpoint: metrics_path from __metrics_path__,
             * node from the Endpoints' target (dashboards filter node=~"$node"); instance is the
             * node name here, not <node IP>:10250 (no mixin rule joins cAdvisor series with the
             * kubelet's own /metrics on instance). honorLabels: true. */
            out[n++] = (struct target_label){"job", "kubelet", false};
            out[n++] = (struct target_label){"metrics_path", "/metrics/cadvisor", false};
            out[n++] = (struct target_label){"instance", id->node, false};
            out[n++] = (struct target_label){"node", id->node, false};
            break;
        case HK_TARGET_SELF:
        default:
            /* hakari's own ServiceMonitor (deploy/kubernetes/base): honorLabels: true. */
            out[n++] = (struct target_label){"job", "hakari", false};
            out[n++] = (struct target_label){"instance", id->node, false};
            out[n++] = (struct target_label){"namespace", id->pod_namespace, false};
            out[n++] = (struct target_label){"pod", id->pod_name, false};
            break;
        }
        break;
    }
    return n;
}

static int add_cmp(const void *a, const void *b)
{
    return strcmp(((const struct hk_rw_add_label *)a)->name,
                  ((const struct hk_rw_add_label *)b)->name);
}

static int add_one(struct hk_rw_add_label *a, const char *name, const char *value, bool override)
{
    size_t nlen = strlen(name);
    a->name = strdup(name);
    a->value = strdup(value);
    if (override) {
        char *e = malloc(nlen + sizeof("exported_"));
        if (e) {
            memcpy(e, "exported_", sizeof("exported_") - 1);
            memcpy(e + sizeof("exported_") - 1, name, nlen + 1);
        }
        a->exported = e;
    }
    return a->name && a->value && (!override || a->exported) ? 0 : -ENOMEM;
}

void hk_rw_targets_free(struct hk_rw_targets *t)
{
    if (!t)
        return;
    for (size_t k = 0; k < HK_TARGET_COUNT; k++) {
        for (size_t i = 0; t->add[k] && i < t->nadd[k]; i++) {
            free((char *)t->add[k][i].name);
            free((char *)t->add[k][i].value);
            free((char *)t->add[k][i].exported);
        }
        free(t->add[k]);
        t->add[k] = NULL;
        t->nadd[k] = 0;
    }
    t->max_add = 0;
}

int hk_rw_targets_build(struct hk_rw_targets *t, enum hk_target_labels mode,
                        const struct hk_label *ext, size_t next, const struct hk_rw_identity *id)
{
    int r = 0;
    memset(t, 0, sizeof(*t));
    for (size_t k = 0; k < HK_TARGET_COUNT; k++) {
        struct target_label tl[MAX_TARGET_LABELS];
        size_t ntl = target_labels(mode, (enum hk_target)k, id, tl);
        struct hk_rw_add_label *a = calloc(ntl + next + 1, sizeof(*a));
        size_t *n = &t->nadd[k]; /* counts half-built entries too, so free finds them */
        if (!(t->add[k] = a)) {
            r = -ENOMEM;
            goto out;
        }
        /* hakari's defaults give way to an external label of the same name; a kube-prometheus
         * target label does not (Prometheus: external labels never override a series label). */
        bool ext_wins = mode == HK_TARGET_LABELS_HAKARI;
        for (size_t i = 0; i < ntl; i++) {
            if (!tl[i].value || !tl[i].value[0])
                continue;
            if (ext_wins && hk_labels_get(ext, next, tl[i].name))
                continue;
            if ((r = add_one(&a[(*n)++], tl[i].name, tl[i].value, tl[i].override)) < 0)
                goto out;
        }
        for (size_t i = 0; i < next; i++) {
            bool shadowed = false;
            for (size_t j = 0; j < ntl && !ext_wins && !shadowed; j++)
                shadowed = tl[j].value && tl[j].value[0] && strcmp(tl[j].name, ext[i].name) == 0;
            if (shadowed || !ext[i].value[0])
                continue;
            if ((r = add_one(&a[(*n)++], ext[i].name, ext[i].value, false)) < 0)
                goto out;
        }
        qsort(a, *n, sizeof(*a), add_cmp);
        if (*n > t->max_add)
            t->max_add = *n;
    }
out:
    if (r < 0)
        hk_rw_targets_free(t);
    return r;
}

void hk_rw_identity_from_env(struct hk_rw_identity *id, char *host, size_t hostcap)
{
    const char *node = getenv("NODE_NAME");
    if ((!node || !node[0]) && hostcap) {
        host[0] = '\0';
        /* A name that does not fit is left out rather than cut. */
        if (gethostname(host, hostcap) < 0 || memchr(host, '\0', hostcap) == NULL)
            host[0] = '\0';
        node = host;
    }
    id->node = node;
    id->pod_namespace = getenv("POD_NAMESPACE");
    id->pod_name = getenv("POD_NAME");
}

/* Puts the renamed (exported_*) labels in place: rare, only when a series has a label that an
 * honor_labels: false target sets. src (or NULL) is permuted along. */
static void sort_small(struct hk_label *l, int32_t *src, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct hk_label x = l[i];
        int32_t xs = src ? src[i] : 0;
        size_t j = i;
        while (j > 0 && strcmp(l[j - 1].name, x.name) > 0) {
            l[j] = l[j - 1];
            if (src)
                src[j] = src[j - 1];
            j--;
        }
        l[j] = x;
        if (src)
            src[j] = xs;
    }
}

size_t hk_rw_targets_merge(const struct hk_rw_targets *t, enum hk_target target, const char *name,
                           const struct hk_label *labels, size_t n, struct hk_label *out)
{
    return hk_rw_targets_merge_src(t, target, name, labels, n, out, NULL);
}

size_t hk_rw_targets_merge_src(const struct hk_rw_targets *t, enum hk_target target,
                               const char *name, const struct hk_label *labels, size_t n,
                               struct hk_label *out, int32_t *src)
{
    const struct hk_rw_add_label *a = t->add[target];
    size_t na = t->nadd[target], i = 0, j = 0, o = 1;
    bool renamed = false;
    /* Merge into out[1..], then put __name__ in front of the first name that sorts after it
     * (nearly always out[0]: only names starting with A-Z or "_" + a byte below 'n' sort
     * before it). */
    while (i < n || j < na) {
        if (i < n && !labels[i].value[0]) {
            i++;
            continue;
        }
        int c = i >= n ? 1 : j >= na ? -1 : strcmp(labels[i].name, a[j].name);
        if (c < 0) {
            if (src)
                src[o] = (int32_t)i;
            out[o++] = labels[i++];
        } else if (c > 0) {
            if (src)
                src[o] = HK_RW_SRC_ADDED;
            out[o++] = (struct hk_label){a[j].name, a[j].value};
            j++;
        } else if (a[j].exported) {
            if (src)
                src[o] = HK_RW_SRC_ADDED;
            out[o++] = (struct hk_label){a[j].name, a[j].value};
            /* A series that also has exported_<name> keeps its own (Prometheus would go on to
             * exported_exported_<name>). */
            const char *own = hk_labels_get(labels, n, a[j].exported);
            if (!own || !own[0]) {
                if (src)
                    src[o] = (int32_t)i;
                out[o++] = (struct hk_label){a[j].exported, labels[i].value};
                renamed = true;
            }
            i++;
            j++;
        } else {
            if (src)
                src[o] = (int32_t)i;
            out[o++] = labels[i++];
            j++;
        }
    }
    if (renamed)
        sort_small(out + 1, src ? src + 1 : NULL, o - 1);
    size_t k = 0;
    while (k + 1 < o && strcmp(out[k + 1].name, "__name__") < 0) {
        out[k] = out[k + 1];
        if (src)
            src[k] = src[k + 1];
        k++;
    }
    out[k] = (struct hk_label){"__name__", name};
    if (src)
        src[k] = HK_RW_SRC_NAME;
    return o;
}
