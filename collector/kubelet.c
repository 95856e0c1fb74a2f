/* SPDX-License-Identifier: Apache-2.0 */
/* Optional Kubernetes names from the kubelet's /pods API (libcurl + cJSON): pod name and
 * namespace by pod UID, container name and image by container id. Used by the cgroup collector
 * for cgroups whose runtime records are not readable on the node. Also validates the
 * `kubernetes:` config section. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/cgroup_internal.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/labels.h"
#include "core/fsread.h"
#include "core/log.h"
#include "core/yaml.h"

static const char *const keys[] = {
    "kubelet_url",      "bearer_token_file", "ca_file", "insecure_skip_verify",
    "refresh_interval", "timeout",           NULL};

void hk_kubelet_config_free(struct hk_kubelet_config *c)
{
    if (!c)
        return;
    free(c->url);
    free(c->bearer_token_file);
    free(c->ca_file);
    memset(c, 0, sizeof(*c));
}

int hk_kubelet_config_parse(const struct hk_config *cfg, struct hk_kubelet_config *ret,
                            struct hk_error *err)
{
    struct hk_kubelet_config c = {NULL, NULL, NULL, false, 60000, 5000};
    const struct hk_yaml_node *k = cfg ? cfg->kubernetes : NULL, *n;
    int r = hk_yaml_check_keys(k, keys, err);
    if (r < 0)
        goto fail;
    if ((n = hk_yaml_get(k, "kubelet_url"))) {
        if ((r = hk_yaml_string(n, &c.url, err)) < 0)
            goto fail;
        if (strncmp(c.url, "https://", 8) != 0 && strncmp(c.url, "http://", 7) != 0) {
            r = hk_error_at(err, n, "kubelet_url must start with https:// or http://");
            goto fail;
        }
        size_t l = strlen(c.url);
        while (l > 0 && c.url[l - 1] == '/')
            c.url[--l] = '\0';
    }
    if ((n = hk_yaml_get(k, "bearer_token_file")) &&
        (r = hk_yaml_string(n, &c.bearer_token_file, err)) < 0)
        goto fail;
    if ((n = hk_yaml_get(k, "ca_file")) && (r = hk_yaml_string(n, &c.ca_file, err)) < 0)
        goto fail;
    if ((n = hk_yaml_get(k, "insecure_skip_verify")) &&
        (r = hk_yaml_bool(n, &c.insecure_skip_verify, err)) < 0)
        goto fail;
    if ((n = hk_yaml_get(k, "refresh_interval"))) {
        if ((r = hk_yaml_duration_ms(n, &c.refresh_ms, err)) < 0)
            goto fail;
        if (c.refresh_ms < 1000) {
            r = hk_error_at(err, n, "refresh_interval must be at least 1s");
            goto fail;
        }
    }
    if ((n = hk_yaml_get(k, "timeout"))) {
        if ((r = hk_yaml_duration_ms(n, &c.timeout_ms, err)) < 0)
            goto fail;
        if (c.timeout_ms < 100 || c.timeout_ms > 60000) {
            r = hk_error_at(err, n, "timeout must be between 100ms and 60s");
            goto fail;
        }
    }
    if (!c.url && (c.bearer_token_file || c.ca_file)) {
        r = hk_error_at(err, k, "kubernetes: bearer_token_file/ca_file need kubelet_url");
        goto fail;
    }
    *ret = c;
    return 0;
fail:
    hk_kubelet_config_free(&c);
    return r;
}

int hk_kubelet_config_check(const struct hk_config *cfg, struct hk_error *err)
{
    /* Zeroed although parse writes it whenever it returns 0: clang-tidy does not see that
     * hk_error_at (core/yaml.c) always returns -EINVAL, and would free an unwritten c. */
    struct hk_kubelet_config c = {0};
    int r = hk_kubelet_config_parse(cfg, &c, err);
    if (r == 0)
        hk_kubelet_config_free(&c);
    return r;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    /* cJSON_IsString(NULL) is false; the analyzer cannot see into libcjson and assumes it may be
     * true: NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* "containerd://<id>", "cri-o://<id>", "docker://<id>" → id. */
static const char *strip_runtime(const char *id)
{
    const char *p = id ? strstr(id, "://") : NULL;
    return p ? p + 3 : id;
}

static void add_statuses(const cJSON *arr, struct hk_kubelet_container *out, size_t *n, size_t cap)
{
    const cJSON *cs;
    cJSON_ArrayForEach(cs, arr)
    {
        const char *id = strip_runtime(jstr(cs, "containerID"));
        if (*n >= cap || !id || !hk_kube_is_container_id(id, strlen(id)))
            continue;
        out[*n] = (struct hk_kubelet_container){jstr(cs, "name"), id, jstr(cs, "image")};
        (*n)++;
    }
}

/* The owner reference with controller: true (at most one, by the API's validation); else the
 * first one, as older objects may lack the flag. */
static void controller_owner(const cJSON *meta, struct hk_kubelet_owner *ret)
{
    const cJSON *refs = cJSON_GetObjectItemCaseSensitive(meta, "ownerReferences"), *ref;
    const cJSON *first = NULL;
    cJSON_ArrayForEach(ref, refs)
    {
        if (!jstr(ref, "kind") || !jstr(ref, "name"))
            continue;
        if (!first)
            first = ref;
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ref, "controller"))) {
            first = ref;
            break;
        }
    }
    if (first) {
        ret->kind = jstr(first, "kind");
        ret->name = jstr(first, "name");
    }
}

int hk_kubelet_parse_pods(const char *json, size_t len, hk_kubelet_pod_fn fn, void *ud)
{
    /* A string decoding to a NUL byte would be cut there by cJSON ("a\0b" and "a\0c" both
     * "a"): the list is refused whole, as one that is not a PodList. */
    if (hk_json_has_nul(json, len)) {
        hk_log_warn("kubelet: /pods refused: a string holds a NUL byte");
        return -EINVAL;
    }
    cJSON *root = cJSON_ParseWithLength(json, len);
    const cJSON *items = root ? cJSON_GetObjectItemCaseSensitive(root, "items") : NULL;
    if (!cJSON_IsArray(items)) {
        cJSON_Delete(root);
        return -EINVAL;
    }
    int npods = 0;
    const cJSON *pod;
    cJSON_ArrayForEach(pod, items)
    {
        const cJSON *meta = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
        const cJSON *status = cJSON_GetObjectItemCaseSensitive(pod, "status");
        const char *uid = jstr(meta, "uid"), *name = jstr(meta, "name");
        const char *ns = jstr(meta, "namespace");
        if (!uid || !name || !ns)
            continue;
        struct hk_kubelet_container cs[64];
        size_t n = 0;
        static const char *const lists[] = {"containerStatuses", "initContainerStatuses",
                                            "ephemeralContainerStatuses"};
        for (size_t i = 0; i < 3 && status; i++)
            add_statuses(cJSON_GetObjectItemCaseSensitive(status, lists[i]), cs, &n, 64);
        struct hk_kubelet_owner owner = {NULL, NULL};
        controller_owner(meta, &owner);
        fn(uid, name, ns, &owner, cs, n, ud);
        npods++;
    }
    cJSON_Delete(root);
    return npods;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct hk_buf *b = ud;
    return hk_buf_put(b, data, size * nmemb) < 0 ? 0 : size * nmemb;
}

ssize_t hk_kubelet_fetch_pods(const struct hk_kubelet_config *c, char **ret_body)
{
    char url[1024], auth[8192];
    struct hk_buf body;
    struct curl_slist *hdrs = NULL;
    ssize_t r = -EIO;
    hk_buf_init(&body, 64 << 20);
    CURL *h = curl_easy_init();
    if (!h) {
        hk_buf_free(&body);
        return -ENOMEM;
    }
    snprintf(url, sizeof(url), "%s/pods", c->url);
    if (c->bearer_token_file) {
        /* Re-read each time: projected service-account tokens rotate. */
        char tok[7000];
        int tfd = open(c->bearer_token_file, O_RDONLY | O_CLOEXEC);
        ssize_t tl = tfd < 0 ? -errno : hk_read_fd(tfd, tok, sizeof(tok));
        if (tfd >= 0)
            close(tfd);
        if (tl < 0) {
            hk_log_warn("kubelet: cannot read bearer token file", "file", c->bearer_token_file,
                        "err", strerror((int)-tl));
            goto out;
        }
        while (tl > 0 && (tok[tl - 1] == '\n' || tok[tl - 1] == '\r' || tok[tl - 1] == ' '))
            tok[--tl] = '\0';
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
        if (!(hdrs = curl_slist_append(hdrs, auth)))
            goto out;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    if (c->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    if (c->insecure_skip_verify) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    CURLcode cr = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (cr != CURLE_OK || status != 200 || body.err) {
        char st[16];
        snprintf(st, sizeof(st), "%ld", status);
        hk_log_warn("kubelet: /pods request failed", "url", url, "status", st, "err",
                    cr != CURLE_OK ? curl_easy_strerror(cr) : "");
        goto out;
    }
    size_t len;
    *ret_body = hk_buf_steal(&body, &len);
    r = *ret_body ? (ssize_t)len : -ENOMEM;
out:
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    hk_buf_free(&body);
    return r;
}
