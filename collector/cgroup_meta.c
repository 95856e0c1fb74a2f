/* SPDX-License-Identifier: Apache-2.0 */
/* The cgroup collector's names: runtime records (containerd, CRI-O, docker) read once per
 * container, pod names learnt from their containers, and the kubelet's /pods as the fallback
 * (and the owner for container_pod_workload_info). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/cgroup_collector.h"
#include "core/fsread.h"
#include "core/log.h"

void hk_cgroup_load_meta(struct cgroup_state *st, struct node *n)
{
    const struct hk_kube_path *lp = &n->layout;
    if (lp->kind != HK_KUBE_CONTAINER || n->has_meta || n->meta_tries >= 10)
        return;
    n->meta_tries++;
    const char *id = lp->container_id;
    char path[256];
    char *json = NULL;
    ssize_t len;
    int r = -ENOENT;
    struct hk_kube_meta m = {0};
    int root = st->paths->root_fd;
    if (lp->runtime == HK_RT_CONTAINERD || lp->runtime == HK_RT_UNKNOWN) {
        snprintf(path, sizeof(path),
                 "run/containerd/io.containerd.runtime.v2.task/k8s.io/%s/config.json", id);
        if ((len = hk_read_file_alloc(root, path, 4 << 20, &json)) >= 0) {
            r = hk_kube_parse_containerd_oci(json, (size_t)len, id, st->sandbox_image, &m);
            free(json);
            json = NULL;
        }
    }
    if (r < 0 && (lp->runtime == HK_RT_CRIO || lp->runtime == HK_RT_UNKNOWN)) {
        snprintf(path, sizeof(path),
                 "run/containers/storage/overlay-containers/%s/userdata/config.json", id);
        if ((len = hk_read_file_alloc(root, path, 4 << 20, &json)) >= 0) {
            r = hk_kube_parse_crio_oci(json, (size_t)len, &m);
            free(json);
            json = NULL;
        }
    }
    if (r < 0 && (lp->runtime == HK_RT_DOCKER || lp->runtime == HK_RT_UNKNOWN)) {
        snprintf(path, sizeof(path), "var/lib/docker/containers/%s/config.v2.json", id);
        if ((len = hk_read_file_alloc(root, path, 4 << 20, &json)) >= 0) {
            r = hk_kube_parse_docker(json, (size_t)len, &m);
            free(json);
            json = NULL;
        }
    }
    if (r < 0)
        return;
    n->meta = m;
    n->has_meta = true;
}

/* Pod rows take pod/namespace from any of their containers (the kubelet resolves the pod UID
 * through its pod manager; the runtime records carry the same names). */
void hk_cgroup_learn_pod_names(struct cgroup_state *st, struct node *n)
{
    const struct hk_kube_meta *m = n->has_meta ? &n->meta : n->has_kmeta ? &n->kmeta : NULL;
    if (!m || !m->pod[0] || n->layout.kind != HK_KUBE_CONTAINER || !n->layout.pod_uid[0])
        return;
    char parent[4096];
    const char *slash = strrchr(n->path, '/');
    size_t pl = slash ? (size_t)(slash - n->path) : 0;
    if (pl == 0 || pl >= sizeof(parent))
        return;
    memcpy(parent, n->path, pl);
    parent[pl] = '\0';
    struct node *p = hk_cgroup_node_find(st, parent);
    if (!p || p->pod_name)
        return;
    p->pod_name = strdup(m->pod);
    p->pod_ns = strdup(m->namespace_);
    if (!p->pod_name || !p->pod_ns) {
        free(p->pod_name);
        free(p->pod_ns);
        p->pod_name = p->pod_ns = NULL;
    }
}

void hk_cgroup_kubelet_clear(struct cgroup_state *st)
{
    for (size_t i = 0; i < st->nkpods; i++) {
        free(st->kpods[i].uid);
        free(st->kpods[i].name);
        free(st->kpods[i].ns);
        free(st->kpods[i].owner_kind);
        free(st->kpods[i].owner_name);
    }
    for (size_t i = 0; i < st->nkctrs; i++) {
        free(st->kctrs[i].id);
        free(st->kctrs[i].name);
        free(st->kctrs[i].image);
        free(st->kctrs[i].uid);
    }
    free(st->kpods);
    free(st->kctrs);
    st->kpods = NULL;
    st->kctrs = NULL;
    st->nkpods = st->nkctrs = 0;
}

static char *dup0(const char *s)
{
    return strdup(s ? s : "");
}

static void kubelet_add_pod(const char *uid, const char *name, const char *ns,
                            const struct hk_kubelet_owner *owner,
                            const struct hk_kubelet_container *cs, size_t n, void *ud)
{
    struct cgroup_state *st = ud;
    struct kpod *p = realloc(st->kpods, (st->nkpods + 1) * sizeof(*p));
    if (!p)
        return;
    st->kpods = p;
    st->kpods[st->nkpods++] =
        (struct kpod){dup0(uid), dup0(name), dup0(ns), owner->kind ? strdup(owner->kind) : NULL,
                      owner->name ? strdup(owner->name) : NULL};
    struct kctr *c = realloc(st->kctrs, (st->nkctrs + n) * sizeof(*c));
    if (!c)
        return;
    st->kctrs = c;
    for (size_t i = 0; i < n; i++)
        st->kctrs[st->nkctrs++] =
            (struct kctr){dup0(cs[i].id), dup0(cs[i].name), dup0(cs[i].image), dup0(uid)};
}

const struct kpod *hk_cgroup_kpod_find(const struct cgroup_state *st, const char *uid)
{
    for (size_t i = 0; i < st->nkpods; i++)
        if (strcmp(st->kpods[i].uid, uid) == 0)
            return &st->kpods[i];
    return NULL;
}

/* Names from the kubelet for cgroups the runtime records did not cover. The kubelet lists app
 * containers only: an unlisted container cgroup under a known pod is its sandbox. */
void hk_cgroup_kubelet_apply(struct cgroup_state *st, struct node *n)
{
    if (n->has_meta || n->layout.kind != HK_KUBE_CONTAINER || n->kubelet_gen == st->kubelet_gen)
        return;
    n->kubelet_gen = st->kubelet_gen;
    hk_kube_meta_clear(&n->kmeta);
    n->has_kmeta = false;
    const struct kpod *p = n->layout.pod_uid[0] ? hk_cgroup_kpod_find(st, n->layout.pod_uid) : NULL;
    const struct kctr *c = NULL;
    for (size_t i = 0; i < st->nkctrs && !c; i++)
        if (strcmp(st->kctrs[i].id, n->layout.container_id) == 0)
            c = &st->kctrs[i];
    if (c && !p)
        p = hk_cgroup_kpod_find(st, c->uid);
    if (!p)
        return;
    struct hk_kube_meta *m = &n->kmeta;
    m->container = dup0(c ? c->name : "");
    m->image = dup0(c ? c->image : "");
    m->name = dup0(n->layout.container_id);
    m->namespace_ = dup0(p->ns);
    m->pod = dup0(p->name);
    m->pod_uid = dup0(p->uid);
    m->sandbox = !c;
    if (!m->container || !m->image || !m->name || !m->namespace_ || !m->pod || !m->pod_uid) {
        hk_kube_meta_clear(m);
        return;
    }
    n->has_kmeta = true;
}

/* Asks the kubelet (at most every refresh_interval) when some cgroup lacks names, or a pod is
 * not in the last list (its owner, for container_pod_workload_info). */
void hk_cgroup_kubelet_refresh(struct cgroup_state *st, int64_t now_ms)
{
    if (!st->kubelet.url || now_ms - st->kubelet_last_ms < st->kubelet.refresh_ms)
        return;
    bool need = false;
    for (size_t i = 0; i < st->nlist && !need; i++) {
        const struct node *n = st->list[i];
        need = (n->layout.kind == HK_KUBE_CONTAINER && !n->has_meta && !n->has_kmeta) ||
               (n->layout.kind == HK_KUBE_POD && !hk_cgroup_kpod_find(st, n->layout.pod_uid) &&
                (!n->pod_name || st->enabled[M_POD_WORKLOAD]));
    }
    if (!need)
        return;
    st->kubelet_last_ms = now_ms;
    char *body = NULL;
    ssize_t len = hk_kubelet_fetch_pods(&st->kubelet, &body);
    if (len < 0)
        return;
    hk_cgroup_kubelet_clear(st);
    if (hk_kubelet_parse_pods(body, (size_t)len, kubelet_add_pod, st) < 0)
        hk_log_warn("kubelet: /pods is not a PodList", "url", st->kubelet.url);
    free(body);
    st->kubelet_gen++;
}
