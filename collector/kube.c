/* SPDX-License-Identifier: Apache-2.0 */
/* Kubernetes metadata for cgroups: pod UID, QoS class and container id from the cgroup path
 * (cgroupfs and systemd drivers), and names from the runtimes' on-disk records — containerd OCI
 * bundle annotations, CRI-O userdata config.json, docker config.v2.json — parsed with cJSON. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/cgroup_internal.h"
#include "core/labels.h"
#include "core/log.h"

bool hk_kube_is_container_id(const char *s, size_t len)
{
    if (len != 64)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static bool has_suffix(const char *s, size_t len, const char *suf)
{
    size_t sl = strlen(suf);
    return len >= sl && memcmp(s + len - sl, suf, sl) == 0;
}

static bool has_prefix(const char *s, size_t len, const char *pre)
{
    size_t pl = strlen(pre);
    return len >= pl && memcmp(s, pre, pl) == 0;
}

/* Pod component: "pod<uid>" (cgroupfs) or "kubepods[-<qos>]-pod<uid_>.slice" (systemd). */
static bool parse_pod(const char *s, size_t len, char *uid, size_t cap)
{
    if (has_suffix(s, len, ".slice")) {
        len -= 6;
        const char *dash = NULL;
        for (size_t i = len; i > 0; i--)
            if (s[i - 1] == '-') {
                dash = s + i - 1;
                break;
            }
        if (!dash || !has_prefix(s, len, "kubepods-"))
            return false;
        len -= (size_t)(dash + 1 - s);
        s = dash + 1;
    }
    if (!has_prefix(s, len, "pod") || len <= 3 || len - 3 >= cap)
        return false;
    for (size_t i = 3; i < len; i++) {
        char ch = s[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              ch == '-' || ch == '_'))
            return false;
        if (ch == '_')
            ch = '-';
        uid[i - 3] = ch;
    }
    uid[len - 3] = '\0';
    return true;
}

static enum hk_kube_qos parse_qos(const char *s, size_t len)
{
    if (hk_kube_is_container_id(s, len))
        return HK_QOS_NONE;
    if ((len == 9 && memcmp(s, "burstable", 9) == 0) ||
        (len == 24 && memcmp(s, "kubepods-burstable.slice", 24) == 0))
        return HK_QOS_BURSTABLE;
    if ((len == 10 && memcmp(s, "besteffort", 10) == 0) ||
        (len == 25 && memcmp(s, "kubepods-besteffort.slice", 25) == 0))
        return HK_QOS_BESTEFFORT;
    return HK_QOS_NONE;
}

/* Runtime container leaf; copies the id. */
static bool parse_leaf(const char *s, size_t len, enum hk_kube_runtime *rt, char *id)
{
    if (has_suffix(s, len, ".scope"))
        len -= 6;
    *rt = HK_RT_UNKNOWN;
    if (has_prefix(s, len, "cri-containerd-")) {
        *rt = HK_RT_CONTAINERD;
        s += 15, len -= 15;
    } else if (has_prefix(s, len, "crio-conmon-")) {
        return false; /* conmon, rejected like cAdvisor's CRI-O factory does */
    } else if (has_prefix(s, len, "crio-")) {
        *rt = HK_RT_CRIO;
        s += 5, len -= 5;
    } else if (has_prefix(s, len, "docker-")) {
        *rt = HK_RT_DOCKER;
        s += 7, len -= 7;
    }
    if (!hk_kube_is_container_id(s, len))
        return false;
    memcpy(id, s, 64);
    id[64] = '\0';
    return true;
}

void hk_kube_parse_path(const char *path, struct hk_kube_path *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (!path[0] || (path[0] == '/' && !path[1])) {
        ret->kind = HK_KUBE_ROOT;
        return;
    }
    /* Components. */
    const char *comp[32];
    size_t clen[32], n = 0;
    const char *p = path;
    while (*p && n < 32) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        comp[n] = p;
        clen[n++] = l;
        p += l;
    }
    if (n == 0) {
        ret->kind = HK_KUBE_ROOT;
        return;
    }
    size_t k = 0;
    while (k < n && !((clen[k] == 8 && memcmp(comp[k], "kubepods", 8) == 0) ||
                      (clen[k] == 14 && memcmp(comp[k], "kubepods.slice", 14) == 0)))
        k++;
    if (k == n) {
        /* Not Kubernetes: a plain docker/podman/systemd container under an extra root. */
        char id[65];
        enum hk_kube_runtime rt;
        if (parse_leaf(comp[n - 1], clen[n - 1], &rt, id)) {
            ret->kind = HK_KUBE_CONTAINER;
            ret->runtime = rt;
            memcpy(ret->container_id, id, sizeof(id));
        }
        return;
    }
    ret->kind = HK_KUBE_KUBEPODS;
    size_t i = k + 1;
    if (i == n)
        return;
    enum hk_kube_qos qos = parse_qos(comp[i], clen[i]);
    if (qos != HK_QOS_NONE) {
        ret->qos = qos;
        if (++i == n) {
            ret->kind = HK_KUBE_QOS;
            return;
        }
    }
    if (!parse_pod(comp[i], clen[i], ret->pod_uid, sizeof(ret->pod_uid))) {
        ret->kind = HK_KUBE_OTHER;
        ret->qos = HK_QOS_NONE;
        return;
    }
    if (qos == HK_QOS_NONE)
        ret->qos = HK_QOS_GUARANTEED;
    if (++i == n) {
        ret->kind = HK_KUBE_POD;
        return;
    }
    if (i + 1 == n && parse_leaf(comp[i], clen[i], &ret->runtime, ret->container_id)) {
        ret->kind = HK_KUBE_CONTAINER;
        return;
    }
    /* Deeper or unknown: a raw cgroup inside a pod; cAdvisor gives it empty labels. */
    ret->kind = HK_KUBE_OTHER;
    ret->pod_uid[0] = '\0';
    ret->container_id[0] = '\0';
    ret->runtime = HK_RT_UNKNOWN;
    ret->qos = HK_QOS_NONE;
}

/* ---- metadata ---- */

void hk_kube_meta_clear(struct hk_kube_meta *m)
{
    if (!m)
        return;
    free(m->container);
    free(m->image);
    free(m->name);
    free(m->namespace_);
    free(m->pod);
    free(m->pod_uid);
    memset(m, 0, sizeof(*m));
}

static const char *jstr(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

static int set(char **dst, const char *v)
{
    char *s = strdup(v ? v : "");
    if (!s)
        return -ENOMEM;
    free(*dst);
    *dst = s;
    return 0;
}

/* Fills every field (empty strings for unknowns) so callers never see NULL. */
static int meta_fill(struct hk_kube_meta *m, const char *container, const char *image,
                     const char *name, const char *ns, const char *pod, const char *uid)
{
    if (set(&m->container, container) < 0 || set(&m->image, image) < 0 || set(&m->name, name) < 0 ||
        set(&m->namespace_, ns) < 0 || set(&m->pod, pod) < 0 || set(&m->pod_uid, uid) < 0) {
        hk_kube_meta_clear(m);
        return -ENOMEM;
    }
    return 0;
}

/* A record with a string that decodes to a NUL byte is refused whole (as an unreadable one):
 * cJSON would end the string there, and two containers named "a\0b" and "a\0c" would both be
 * "a". Kubernetes names never hold one; a record that does is broken or hostile. */
static cJSON *parse_json(const char *json, size_t len)
{
    if (hk_json_has_nul(json, len)) {
        hk_log_warn("container runtime record refused: a string holds a NUL byte",
                    "collector", "cgroup");
        return NULL;
    }
    return cJSON_ParseWithLength(json, len);
}

int hk_kube_parse_containerd_oci(const char *json, size_t len, const char *id,
                                 const char *sandbox_image, struct hk_kube_meta *ret)
{
    cJSON *root = parse_json(json, len);
    int r = -EINVAL;
    const cJSON *ann = root ? cJSON_GetObjectItemCaseSensitive(root, "annotations") : NULL;
    const char *type = ann ? jstr(ann, "io.kubernetes.cri.container-type") : NULL;
    if (!type)
        goto out;
    struct hk_kube_meta m = {0};
    m.sandbox = strcmp(type, "sandbox") == 0;
    r = meta_fill(&m, m.sandbox ? "" : jstr(ann, "io.kubernetes.cri.container-name"),
                  m.sandbox ? sandbox_image : jstr(ann, "io.kubernetes.cri.image-name"), id,
                  jstr(ann, "io.kubernetes.cri.sandbox-namespace"),
                  jstr(ann, "io.kubernetes.cri.sandbox-name"),
                  jstr(ann, "io.kubernetes.cri.sandbox-uid"));
    if (r == 0)
        *ret = m;
out:
    cJSON_Delete(root);
    return r;
}

/* CRI-O keeps the kubelet's labels as a JSON string annotation. */
static const char *crio_label(const cJSON *ann, const cJSON *labels, const char *key)
{
    const char *v = jstr(ann, key);
    return v ? v : (labels ? jstr(labels, key) : NULL);
}

int hk_kube_parse_crio_oci(const char *json, size_t len, struct hk_kube_meta *ret)
{
    cJSON *root = parse_json(json, len), *labels = NULL;
    int r = -EINVAL;
    const cJSON *ann = root ? cJSON_GetObjectItemCaseSensitive(root, "annotations") : NULL;
    const char *type = ann ? jstr(ann, "io.kubernetes.cri-o.ContainerType") : NULL;
    if (!type)
        goto out;
    const char *lj = jstr(ann, "io.kubernetes.cri-o.Labels");
    if (lj)
        labels = parse_json(lj, strlen(lj));
    struct hk_kube_meta m = {0};
    m.sandbox = strcmp(type, "sandbox") == 0;
    const char *container = crio_label(ann, labels, "io.kubernetes.container.name");
    const char *name = jstr(ann, "io.kubernetes.cri-o.ContainerName");
    const char *image = jstr(ann, "io.kubernetes.cri-o.ImageName");
    r = meta_fill(&m, container ? container : (m.sandbox ? "POD" : ""),
                  image ? image : jstr(ann, "io.kubernetes.cri-o.Image"),
                  name ? name : jstr(ann, "io.kubernetes.cri-o.Name"),
                  crio_label(ann, labels, "io.kubernetes.pod.namespace"),
                  crio_label(ann, labels, "io.kubernetes.pod.name"),
                  crio_label(ann, labels, "io.kubernetes.pod.uid"));
    if (r == 0)
        *ret = m;
out:
    cJSON_Delete(labels);
    cJSON_Delete(root);
    return r;
}

int hk_kube_parse_docker(const char *json, size_t len, struct hk_kube_meta *ret)
{
    cJSON *root = parse_json(json, len);
    int r = -EINVAL;
    const cJSON *config = root ? cJSON_GetObjectItemCaseSensitive(root, "Config") : NULL;
    const char *name = root ? jstr(root, "Name") : NULL;
    if (!config || !name)
        goto out;
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(config, "Labels");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(root, "State");
    const cJSON *pid = state ? cJSON_GetObjectItemCaseSensitive(state, "Pid") : NULL;
    const char *container = labels ? jstr(labels, "io.kubernetes.container.name") : NULL;
    const char *type = labels ? jstr(labels, "io.kubernetes.docker.type") : NULL;
    struct hk_kube_meta m = {0};
    m.sandbox =
        (container && strcmp(container, "POD") == 0) || (type && strcmp(type, "podsandbox") == 0);
    /* cJSON_IsNumber(NULL) is false; the analyzer cannot see into libcjson and assumes it may be
     * true: NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
    if (cJSON_IsNumber(pid) && pid->valuedouble > 0 && pid->valuedouble < 4294967296.0)
        m.pid = (uint32_t)pid->valuedouble;
    r = meta_fill(&m, container, jstr(config, "Image"), name[0] == '/' ? name + 1 : name,
                  labels ? jstr(labels, "io.kubernetes.pod.namespace") : NULL,
                  labels ? jstr(labels, "io.kubernetes.pod.name") : NULL,
                  labels ? jstr(labels, "io.kubernetes.pod.uid") : NULL);
    if (r == 0)
        *ret = m;
out:
    cJSON_Delete(root);
    return r;
}

int hk_kube_parse_sandbox_image(const char *toml, size_t len, char *buf, size_t cap)
{
    /* containerd 1.x: sandbox_image = "…" under the CRI plugin; 2.x: sandbox = "…" under
     * [plugins.'io.containerd.cri.v1.images'.pinned_images]. -EINVAL (besides the -ENOENT of
     * cgroup_internal.h) for a value with a NUL byte or invalid UTF-8. */
    const char *p = toml, *end = toml + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        size_t kl = 0;
        if (has_prefix(p, (size_t)(e - p), "sandbox_image"))
            kl = 13;
        else if (has_prefix(p, (size_t)(e - p), "sandbox") &&
                 (p + 7 == e || p[7] == ' ' || p[7] == '='))
            kl = 7;
        if (kl) {
            const char *q = p + kl;
            while (q < e && (*q == ' ' || *q == '\t'))
                q++;
            if (q < e && *q == '=') {
                q++;
                while (q < e && (*q == ' ' || *q == '\t'))
                    q++;
                if (q < e && (*q == '"' || *q == '\'')) {
                    char quote = *q++;
                    const char *close = memchr(q, quote, (size_t)(e - q));
                    if (close && (size_t)(close - q) < cap && close > q) {
                        /* The image label value: no NUL byte (it would cut the name short)
                         * and valid UTF-8. */
                        if (!hk_label_value_valid(q, (size_t)(close - q)))
                            return -EINVAL;
                        memcpy(buf, q, (size_t)(close - q));
                        buf[close - q] = '\0';
                        return 0;
                    }
                }
            }
        }
        p = nl ? nl + 1 : end;
    }
    return -ENOENT;
}
