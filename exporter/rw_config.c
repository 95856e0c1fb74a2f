/* SPDX-License-Identifier: Apache-2.0 */
/* Parses and validates `remote_write:` entries (Prometheus' keys and defaults, plus the durable
 * queue keys). Secrets read from *_file keys stay in memory only; error messages name the key and
 * the file, never the content. */
#include "exporter/rw_config.h"

#include "core/fsread.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "exporter/relabel.h"
#include "exporter/rw_creds.h"

#define HK_RW_MAX_ENDPOINTS 64

static int get_str(const struct hk_yaml_node *map, const char *key, char **dst,
                   struct hk_error *err)
{
    const struct hk_yaml_node *n = hk_yaml_get(map, key);
    if (!n || (n->kind == HK_YAML_SCALAR && n->plain_null))
        return 0;
    free(*dst);
    *dst = NULL;
    return hk_yaml_string(n, dst, err);
}

static int get_bool(const struct hk_yaml_node *map, const char *key, bool *dst,
                    struct hk_error *err)
{
    const struct hk_yaml_node *n = hk_yaml_get(map, key);
    return n ? hk_yaml_bool(n, dst, err) : 0;
}

static int get_dur(const struct hk_yaml_node *map, const char *key, int64_t *dst,
                   struct hk_error *err)
{
    const struct hk_yaml_node *n = hk_yaml_get(map, key);
    return n ? hk_yaml_duration_ms(n, dst, err) : 0;
}

static int get_u32(const struct hk_yaml_node *map, const char *key, uint32_t min, uint32_t max,
                   uint32_t *dst, struct hk_error *err)
{
    const struct hk_yaml_node *n = hk_yaml_get(map, key);
    uint64_t v;
    int r;
    if (!n)
        return 0;
    if ((r = hk_yaml_u64(n, min, max, &v, err)) < 0)
        return r;
    *dst = (uint32_t)v;
    return 0;
}

/* Reads a secret file (first 64 KiB, trailing newlines/spaces cut; see hk_rw_read_secret). The
 * content is never put in an error message. */
static int read_secret_file(const struct hk_yaml_node *n, char **dst, struct hk_error *err)
{
    char *buf = NULL;
    int r;
    if (n->kind != HK_YAML_SCALAR || !n->scalar[0])
        return hk_error_at(err, n, "expected a file name");
    if ((r = hk_rw_read_secret(n->scalar, &buf)) < 0) {
        if (r == -ENOMEM)
            return r;
        return hk_error_at(err, n, "cannot read %s: %s", n->scalar,
                           r == -EINVAL  ? "not a regular file"
                           : r == -EFBIG ? "secret file larger than 64 KiB"
                                         : strerror(-r));
    }
    if (*dst) {
        explicit_bzero(*dst, strlen(*dst));
        free(*dst);
    }
    *dst = buf;
    return 0;
}

/* key + key_file pair: at most one of them. */
static int get_secret(const struct hk_yaml_node *map, const char *key, const char *file_key,
                      char **dst, char **path_dst, struct hk_error *err)
{
    const struct hk_yaml_node *v = hk_yaml_get(map, key), *f = hk_yaml_get(map, file_key);
    int r;
    if (v && f)
        return hk_error_at(err, f, "at most one of %s and %s may be set", key, file_key);
    if (f) {
        if ((r = read_secret_file(f, dst, err)) < 0)
            return r;
        if (path_dst) {
            free(*path_dst);
            if (!(*path_dst = strdup(f->scalar)))
                return -ENOMEM;
        }
        return 0;
    }
    return get_str(map, key, dst, err);
}

static bool header_reserved(const char *name)
{
    static const char *const reserved[] = {"host",
                                           "content-encoding",
                                           "content-length",
                                           "content-type",
                                           "user-agent",
                                           "connection",
                                           "keep-alive",
                                           "proxy-authenticate",
                                           "proxy-authorization",
                                           "www-authenticate",
                                           "accept-encoding",
                                           "x-prometheus-remote-write-version",
                                           "x-prometheus-remote-read-version",
                                           "x-amz-date",
                                           "x-amz-security-token",
                                           "x-amz-content-sha256",
                                           "retry-attempt",
                                           NULL};
    for (const char *const *r = reserved; *r; r++)
        if (strcasecmp(*r, name) == 0)
            return true;
    return false;
}

static bool token_char(char c)
{
    return isalnum((unsigned char)c) || strchr("!#$%&'*+-.^_`|~", c);
}

static int parse_headers(const struct hk_yaml_node *map, struct hk_rw_config *c,
                         struct hk_error *err)
{
    int r;
    if ((r = hk_yaml_expect(map, HK_YAML_MAP, err)) < 0)
        return r;
    if (map->n == 0)
        return 0;
    if (!(c->headers = calloc(map->n, sizeof(*c->headers))))
        return -ENOMEM;
    for (size_t i = 0; i < map->n; i++) {
        const struct hk_yaml_node *k = map->keys[i], *v = map->items[i];
        bool ok = k->scalar[0] != '\0';
        for (const char *p = k->scalar; *p && ok; p++)
            ok = token_char(*p);
        if (!ok)
            return hk_error_at(err, k, "invalid header name \"%s\"", k->scalar);
        if (header_reserved(k->scalar))
            return hk_error_at(err, k, "header \"%s\" is reserved and cannot be set", k->scalar);
        if (strcasecmp(k->scalar, "authorization") == 0)
            return hk_error_at(err, k, "set Authorization with the authorization key, not headers");
        if (v->kind != HK_YAML_SCALAR)
            return hk_error_at(err, v, "header \"%s\": expected a string", k->scalar);
        for (const char *p = v->scalar; *p; p++)
            if (*p == '\r' || *p == '\n')
                return hk_error_at(err, v, "header \"%s\": value contains a line break", k->scalar);
        char *name = strdup(k->scalar), *value = strdup(v->scalar);
        if (!name || !value) {
            free(name);
            free(value);
            return -ENOMEM;
        }
        c->headers[c->nheaders].name = name;
        c->headers[c->nheaders].value = value;
        c->nheaders++;
    }
    return 0;
}

static int parse_basic_auth(const struct hk_yaml_node *m, struct hk_rw_config *c,
                            struct hk_error *err)
{
    static const char *const keys[] = {"username", "username_file", "password", "password_file",
                                       NULL};
    int r;
    if ((r = hk_yaml_check_keys(m, keys, err)) < 0 ||
        (r = get_secret(m, "username", "username_file", &c->basic_username, NULL, err)) < 0 ||
        (r = get_secret(m, "password", "password_file", &c->basic_password,
                        &c->basic_password_file, err)) < 0)
        return r;
    if (!c->basic_username || !c->basic_username[0])
        return hk_error_at(err, m, "basic_auth: username is required");
    if (!c->basic_password && !(c->basic_password = strdup("")))
        return -ENOMEM;
    return 0;
}

static int parse_authorization(const struct hk_yaml_node *m, struct hk_rw_config *c,
                               struct hk_error *err)
{
    static const char *const keys[] = {"type", "credentials", "credentials_file", NULL};
    int r;
    if ((r = hk_yaml_check_keys(m, keys, err)) < 0 ||
        (r = get_str(m, "type", &c->auth_type, err)) < 0 ||
        (r = get_secret(m, "credentials", "credentials_file", &c->auth_credentials,
                        &c->auth_credentials_file, err)) < 0)
        return r;
    if (c->auth_type && strcasecmp(c->auth_type, "basic") == 0)
        return hk_error_at(err, hk_yaml_get(m, "type"),
                           "authorization type Basic is not allowed, use basic_auth");
    if (c->auth_type)
        for (const char *p = c->auth_type; *p; p++)
            if (!token_char(*p))
                return hk_error_at(err, hk_yaml_get(m, "type"), "invalid authorization type");
    if (!c->auth_type && !(c->auth_type = strdup("Bearer")))
        return -ENOMEM;
    if (!c->auth_credentials)
        return hk_error_at(err, m, "authorization: credentials or credentials_file is required");
    return 0;
}

static int parse_oauth2(const struct hk_yaml_node *m, struct hk_rw_config *c, struct hk_error *err)
{
    static const char *const keys[] = {"client_id",  "client_secret", "client_secret_file",
                                       "token_url",  "scopes",        "endpoint_params",
                                       "tls_config", "proxy_url",     NULL};
    int r;
    if ((r = hk_yaml_check_keys(m, keys, err)) < 0 ||
        (r = get_str(m, "client_id", &c->oauth2_client_id, err)) < 0 ||
        (r = get_secret(m, "client_secret", "client_secret_file", &c->oauth2_client_secret,
                        &c->oauth2_client_secret_file, err)) <
            0 ||
        (r = get_str(m, "token_url", &c->oauth2_token_url, err)) < 0)
        return r;
    if (!c->oauth2_client_id || !c->oauth2_token_url)
        return hk_error_at(err, m, "oauth2: client_id and token_url are required");
    if (strncmp(c->oauth2_token_url, "http://", 7) != 0 &&
        strncmp(c->oauth2_token_url, "https://", 8) != 0)
        return hk_error_at(err, hk_yaml_get(m, "token_url"), "oauth2: token_url must be http(s)");
    const struct hk_yaml_node *s = hk_yaml_get(m, "scopes");
    if (s) {
        if ((r = hk_yaml_expect(s, HK_YAML_SEQ, err)) < 0)
            return r;
        if (s->n && !(c->oauth2_scopes = calloc(s->n, sizeof(char *))))
            return -ENOMEM;
        for (size_t i = 0; i < s->n; i++) {
            if ((r = hk_yaml_string(s->items[i], &c->oauth2_scopes[i], err)) < 0)
                return r;
            c->oauth2_nscopes++;
        }
    }
    const struct hk_yaml_node *p = hk_yaml_get(m, "endpoint_params");
    if (p) {
        if ((r = hk_yaml_expect(p, HK_YAML_MAP, err)) < 0)
            return r;
        if (p->n && !(c->oauth2_params = calloc(p->n, sizeof(*c->oauth2_params))))
            return -ENOMEM;
        for (size_t i = 0; i < p->n; i++) {
            char *k = NULL, *v = NULL;
            if ((r = hk_yaml_string(p->keys[i], &k, err)) < 0 ||
                (r = hk_yaml_string(p->items[i], &v, err)) < 0) {
                free(k);
                return r;
            }
            c->oauth2_params[i].name = k;
            c->oauth2_params[i].value = v;
            c->oauth2_nparams++;
        }
    }
    if (hk_yaml_get(m, "tls_config") || hk_yaml_get(m, "proxy_url"))
        return hk_error_at(err, m,
                           "oauth2: tls_config and proxy_url are not supported; the "
                           "endpoint's tls_config and proxy_url are used");
    return 0;
}

static int parse_sigv4(const struct hk_yaml_node *m, struct hk_rw_config *c, struct hk_error *err)
{
    static const char *const keys[] = {"region",  "access_key", "secret_key",
                                       "profile", "role_arn",   NULL};
    int r;
    c->sigv4 = true;
    if ((r = hk_yaml_check_keys(m, keys, err)) < 0 ||
        (r = get_str(m, "region", &c->sigv4_region, err)) < 0 ||
        (r = get_str(m, "access_key", &c->sigv4_access_key, err)) < 0 ||
        (r = get_str(m, "secret_key", &c->sigv4_secret_key, err)) < 0 ||
        (r = get_str(m, "profile", &c->sigv4_profile, err)) < 0 ||
        (r = get_str(m, "role_arn", &c->sigv4_role_arn, err)) < 0)
        return r;
    if (!c->sigv4_access_key != !c->sigv4_secret_key)
        return hk_error_at(err, m, "sigv4: access_key and secret_key go together");
    if (c->sigv4_role_arn && strncmp(c->sigv4_role_arn, "arn:", 4) != 0)
        return hk_error_at(err, hk_yaml_get(m, "role_arn"),
                           "sigv4: role_arn must be an ARN (arn:aws:iam::ACCOUNT:role/NAME)");
    if (!c->sigv4_region) {
        const char *env = getenv("AWS_REGION");
        if (!env || !*env)
            env = getenv("AWS_DEFAULT_REGION");
        if (!env || !*env)
            return hk_error_at(err, m, "sigv4: region is required (or AWS_REGION)");
        if (!(c->sigv4_region = strdup(env)))
            return -ENOMEM;
    }
    for (const char *p = c->sigv4_region; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-')
            return hk_error_at(err, hk_yaml_get(m, "region"), "sigv4: invalid region");
    return 0;
}

static int parse_tls(const struct hk_yaml_node *m, struct hk_rw_config *c, struct hk_error *err)
{
    static const char *const keys[] = {
        "ca_file",     "cert_file", "key_file", "server_name", "insecure_skip_verify",
        "min_version", NULL};
    int r;
    if ((r = hk_yaml_check_keys(m, keys, err)) < 0 ||
        (r = get_str(m, "ca_file", &c->tls_ca_file, err)) < 0 ||
        (r = get_str(m, "cert_file", &c->tls_cert_file, err)) < 0 ||
        (r = get_str(m, "key_file", &c->tls_key_file, err)) < 0 ||
        (r = get_str(m, "server_name", &c->tls_server_name, err)) < 0 ||
        (r = get_bool(m, "insecure_skip_verify", &c->tls_insecure_skip_verify, err)) < 0 ||
        (r = get_str(m, "min_version", &c->tls_min_version, err)) < 0)
        return r;
    if (!c->tls_cert_file != !c->tls_key_file)
        return hk_error_at(err, m, "tls_config: cert_file and key_file go together");
    const char *files[] = {c->tls_ca_file, c->tls_cert_file, c->tls_key_file};
    const char *names[] = {"ca_file", "cert_file", "key_file"};
    for (int i = 0; i < 3; i++)
        if (files[i] && access(files[i], R_OK) < 0)
            return hk_error_at(err, hk_yaml_get(m, names[i]), "cannot read %s: %s", files[i],
                               strerror(errno));
    if (c->tls_min_version && strcmp(c->tls_min_version, "TLS10") != 0 &&
        strcmp(c->tls_min_version, "TLS11") != 0 && strcmp(c->tls_min_version, "TLS12") != 0 &&
        strcmp(c->tls_min_version, "TLS13") != 0)
        return hk_error_at(err, hk_yaml_get(m, "min_version"),
                           "min_version must be TLS10, TLS11, TLS12 or TLS13");
    return 0;
}

static int parse_queue(const struct hk_yaml_node *m, struct hk_rw_queue_config *q,
                       struct hk_error *err)
{
    static const char *const keys[] = {"capacity",
                                       "min_shards",
                                       "max_shards",
                                       "max_samples_per_send",
                                       "batch_send_deadline",
                                       "min_backoff",
                                       "max_backoff",
                                       "retry_on_http_429",
                                       "sample_age_limit",
                                       "disk_path",
                                       "max_disk_bytes",
                                       "fsync",
                                       "fsync_interval",
                                       NULL};
    int r;
    uint64_t cap = q->capacity;
    const struct hk_yaml_node *n;
    if ((r = hk_yaml_check_keys(m, keys, err)) < 0)
        return r;
    if ((n = hk_yaml_get(m, "capacity")) && (r = hk_yaml_u64(n, 1, 1u << 30, &cap, err)) < 0)
        return r;
    q->capacity = cap;
    if ((r = get_u32(m, "min_shards", 1, 256, &q->min_shards, err)) < 0 ||
        (r = get_u32(m, "max_shards", 1, 256, &q->max_shards, err)) < 0 ||
        (r = get_u32(m, "max_samples_per_send", 1, 1000000, &q->max_samples_per_send, err)) < 0 ||
        (r = get_dur(m, "batch_send_deadline", &q->batch_send_deadline_ms, err)) < 0 ||
        (r = get_dur(m, "min_backoff", &q->min_backoff_ms, err)) < 0 ||
        (r = get_dur(m, "max_backoff", &q->max_backoff_ms, err)) < 0 ||
        (r = get_bool(m, "retry_on_http_429", &q->retry_on_http_429, err)) < 0 ||
        (r = get_dur(m, "sample_age_limit", &q->sample_age_limit_ms, err)) < 0 ||
        (r = get_str(m, "disk_path", &q->disk_path, err)) < 0 ||
        (r = get_dur(m, "fsync_interval", &q->fsync_interval_ms, err)) < 0)
        return r;
    if ((n = hk_yaml_get(m, "max_disk_bytes")) &&
        (r = hk_yaml_bytes(n, &q->max_disk_bytes, err)) < 0)
        return r;
    if ((n = hk_yaml_get(m, "fsync"))) {
        if (n->kind == HK_YAML_SCALAR && strcmp(n->scalar, "batch") == 0)
            q->fsync = HK_RW_FSYNC_BATCH;
        else if (n->kind == HK_YAML_SCALAR && strcmp(n->scalar, "interval") == 0)
            q->fsync = HK_RW_FSYNC_INTERVAL;
        else
            return hk_error_at(err, n, "fsync must be batch or interval");
    }
    if (q->min_shards > q->max_shards)
        return hk_error_at(err, m, "min_shards (%u) is larger than max_shards (%u)", q->min_shards,
                           q->max_shards);
    if (q->min_backoff_ms < 1 || q->max_backoff_ms < q->min_backoff_ms)
        return hk_error_at(err, m, "need 0 < min_backoff <= max_backoff");
    if (q->batch_send_deadline_ms < 1)
        return hk_error_at(err, hk_yaml_get(m, "batch_send_deadline"),
                           "batch_send_deadline must be positive");
    if (q->max_disk_bytes && q->max_disk_bytes < (64u << 10))
        return hk_error_at(err, hk_yaml_get(m, "max_disk_bytes"),
                           "max_disk_bytes must be 0 (unlimited) or at least 64KiB");
    if (!q->disk_path[0])
        return hk_error_at(err, hk_yaml_get(m, "disk_path"), "disk_path must not be empty");
    if (q->fsync_interval_ms < 1)
        return hk_error_at(err, hk_yaml_get(m, "fsync_interval"),
                           "fsync_interval must be positive");
    return 0;
}

static int parse_metadata(const struct hk_yaml_node *m, struct hk_rw_config *c,
                          struct hk_error *err)
{
    static const char *const keys[] = {"send", "send_interval", "max_samples_per_send", NULL};
    int r;
    uint32_t ignored = 0;
    if ((r = hk_yaml_check_keys(m, keys, err)) < 0 ||
        (r = get_bool(m, "send", &c->metadata_send, err)) < 0 ||
        (r = get_dur(m, "send_interval", &c->metadata_send_interval_ms, err)) < 0 ||
        (r = get_u32(m, "max_samples_per_send", 1, 1000000, &ignored, err)) < 0)
        return r;
    if (c->metadata_send_interval_ms < 1000)
        return hk_error_at(err, hk_yaml_get(m, "send_interval"), "send_interval must be >= 1s");
    return 0;
}

/* Stable default name: "rw-" + 8 hex digits of the url's hash (the queue directory uses it). */
static int default_name(struct hk_rw_config *c)
{
    char buf[32];
    uint64_t h = hk_hash_bytes(0, c->url, strlen(c->url));
    snprintf(buf, sizeof(buf), "rw-%08x", (unsigned)(h ^ (h >> 32)));
    return (c->name = strdup(buf)) ? 0 : -ENOMEM;
}

static bool name_ok(const char *s)
{
    if (!*s || strlen(s) > 100 || !strcmp(s, ".") || !strcmp(s, ".."))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("-_.", *s))
            return false;
    return true;
}

int hk_rw_config_parse(const struct hk_yaml_node *item, struct hk_rw_config *c,
                       struct hk_error *err)
{
    static const char *const keys[] = {"url",
                                       "name",
                                       "remote_timeout",
                                       "headers",
                                       "basic_auth",
                                       "authorization",
                                       "bearer_token",
                                       "bearer_token_file",
                                       "oauth2",
                                       "sigv4",
                                       "tls_config",
                                       "proxy_url",
                                       "follow_redirects",
                                       "enable_http2",
                                       "protobuf_message",
                                       "send_exemplars",
                                       "send_native_histograms",
                                       "metadata_config",
                                       "write_relabel_configs",
                                       "queue_config",
                                       NULL};
    int r;
    const struct hk_yaml_node *n;
    memset(c, 0, sizeof(*c));
    c->remote_timeout_ms = 30000;
    c->follow_redirects = true;
    c->proto = HK_RW_V1;
    c->metadata_send = true;
    c->metadata_send_interval_ms = 60000;
    c->queue = (struct hk_rw_queue_config){
        .capacity = 10000,
        .min_shards = 1,
        .max_shards = 50,
        .max_samples_per_send = 2000,
        .batch_send_deadline_ms = 5000,
        .min_backoff_ms = 30,
        .max_backoff_ms = 5000,
        /* Unlike Prometheus (false), 429 is retried by default: the durable queue and
         * sample_age_limit bound what a permanent 429 can hold back. */
        .retry_on_http_429 = true,
        .fsync = HK_RW_FSYNC_BATCH,
        .fsync_interval_ms = 1000,
    };
    if (!(c->queue.disk_path = strdup("/var/lib/hakari/remote-write")))
        return -ENOMEM;
    if ((r = hk_yaml_expect(item, HK_YAML_MAP, err)) < 0 ||
        (r = hk_yaml_check_keys(item, keys, err)) < 0)
        return r;
    if ((r = get_str(item, "url", &c->url, err)) < 0)
        return r;
    if (!c->url)
        return hk_error_at(err, item, "remote_write: url is required");
    if (strncmp(c->url, "http://", 7) != 0 && strncmp(c->url, "https://", 8) != 0)
        return hk_error_at(err, hk_yaml_get(item, "url"),
                           "url must start with http:// or https://");
    if ((r = get_str(item, "name", &c->name, err)) < 0)
        return r;
    if (c->name && !name_ok(c->name))
        return hk_error_at(err, hk_yaml_get(item, "name"),
                           "name may use only letters, digits, '-', '_' and '.' (it names a "
                           "directory)");
    if (!c->name && (r = default_name(c)) < 0)
        return r;
    if ((r = get_dur(item, "remote_timeout", &c->remote_timeout_ms, err)) < 0)
        return r;
    if (c->remote_timeout_ms < 1)
        return hk_error_at(err, hk_yaml_get(item, "remote_timeout"),
                           "remote_timeout must be positive");
    if ((n = hk_yaml_get(item, "headers")) && (r = parse_headers(n, c, err)) < 0)
        return r;

    /* Exactly one way of authenticating. */
    static const char *const auth_keys[] = {
        "basic_auth", "authorization", "bearer_token", "bearer_token_file", "oauth2", "sigv4",
        NULL};
    const struct hk_yaml_node *first = NULL;
    const char *first_key = NULL;
    for (const char *const *k = auth_keys; *k; k++) {
        if (!(n = hk_yaml_get(item, *k)))
            continue;
        if (first)
            return hk_error_at(err, n, "%s cannot be combined with %s", *k, first_key);
        first = n;
        first_key = *k;
    }
    if ((n = hk_yaml_get(item, "basic_auth")) && (r = parse_basic_auth(n, c, err)) < 0)
        return r;
    if ((n = hk_yaml_get(item, "authorization")) && (r = parse_authorization(n, c, err)) < 0)
        return r;
    if (hk_yaml_get(item, "bearer_token") || hk_yaml_get(item, "bearer_token_file")) {
        if ((r = get_secret(item, "bearer_token", "bearer_token_file", &c->auth_credentials,
                             &c->auth_credentials_file, err)) <
            0)
            return r;
        if (!(c->auth_type = strdup("Bearer")))
            return -ENOMEM;
    }
    if ((n = hk_yaml_get(item, "oauth2")) && (r = parse_oauth2(n, c, err)) < 0)
        return r;
    if ((n = hk_yaml_get(item, "sigv4")) && (r = parse_sigv4(n, c, err)) < 0)
        return r;
    if ((n = hk_yaml_get(item, "tls_config")) && (r = parse_tls(n, c, err)) < 0)
        return r;
    if ((r = get_str(item, "proxy_url", &c->proxy_url, err)) < 0 ||
        (r = get_bool(item, "follow_redirects", &c->follow_redirects, err)) < 0 ||
        (r = get_bool(item, "send_exemplars", &c->send_exemplars, err)) < 0)
        return r;
    bool b;
    if ((n = hk_yaml_get(item, "enable_http2")) && (r = hk_yaml_bool(n, &b, err)) < 0)
        return r;
    if ((r = get_bool(item, "send_native_histograms", &c->send_native_histograms, err)) < 0)
        return r;
    if ((n = hk_yaml_get(item, "protobuf_message"))) {
        if (n->kind == HK_YAML_SCALAR && strcmp(n->scalar, "prometheus.WriteRequest") == 0)
            c->proto = HK_RW_V1;
        else if (n->kind == HK_YAML_SCALAR &&
                 strcmp(n->scalar, "io.prometheus.write.v2.Request") == 0)
            c->proto = HK_RW_V2;
        else
            return hk_error_at(err, n,
                               "protobuf_message must be prometheus.WriteRequest or "
                               "io.prometheus.write.v2.Request");
    }
    if ((n = hk_yaml_get(item, "metadata_config")) && (r = parse_metadata(n, c, err)) < 0)
        return r;
    if ((n = hk_yaml_get(item, "queue_config")) && (r = parse_queue(n, &c->queue, err)) < 0)
        return r;
    if ((n = hk_yaml_get(item, "write_relabel_configs"))) {
        struct hk_relabel_rules *rules = NULL;
        if ((r = hk_relabel_parse(n, &rules, err)) < 0)
            return r;
        hk_relabel_free(rules);
        c->write_relabel_configs = n;
    }
    return 0;
}

static void free_labels(struct hk_label *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)l[i].name);
        free((char *)l[i].value);
    }
    free(l);
}

static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

void hk_rw_config_free(struct hk_rw_config *c)
{
    if (!c)
        return;
    free(c->name);
    free(c->url);
    free_labels(c->headers, c->nheaders);
    free(c->basic_username);
    free_secret(c->basic_password);
    free(c->basic_password_file);
    free(c->auth_credentials_file);
    free(c->oauth2_client_secret_file);
    free(c->auth_type);
    free_secret(c->auth_credentials);
    free(c->oauth2_client_id);
    free_secret(c->oauth2_client_secret);
    free(c->oauth2_token_url);
    for (size_t i = 0; i < c->oauth2_nscopes; i++)
        free(c->oauth2_scopes[i]);
    free(c->oauth2_scopes);
    free_labels(c->oauth2_params, c->oauth2_nparams);
    free(c->sigv4_region);
    free(c->sigv4_access_key);
    free_secret(c->sigv4_secret_key);
    free(c->sigv4_profile);
    free(c->sigv4_role_arn);
    free(c->tls_ca_file);
    free(c->tls_cert_file);
    free(c->tls_key_file);
    free(c->tls_server_name);
    free(c->tls_min_version);
    free(c->proxy_url);
    free(c->queue.disk_path);
    memset(c, 0, sizeof(*c));
}

int hk_rw_config_parse_list(const struct hk_yaml_node *list, struct hk_rw_config **ret,
                            size_t *ret_n, struct hk_error *err)
{
    struct hk_rw_config *arr = NULL;
    size_t n = 0;
    int r = 0;
    *ret = NULL;
    *ret_n = 0;
    if (!list || list->kind != HK_YAML_SEQ || list->n == 0)
        return 0;
    if (list->n > HK_RW_MAX_ENDPOINTS)
        return hk_error_at(err, list, "at most %d remote_write endpoints", HK_RW_MAX_ENDPOINTS);
    if (!(arr = calloc(list->n, sizeof(*arr))))
        return -ENOMEM;
    for (size_t i = 0; i < list->n; i++) {
        r = hk_rw_config_parse(list->items[i], &arr[i], err);
        n = i + 1;
        if (r < 0)
            goto out;
        for (size_t j = 0; j < i; j++)
            if (strcmp(arr[j].name, arr[i].name) == 0) {
                const struct hk_yaml_node *at = hk_yaml_get(list->items[i], "name");
                r = hk_error_at(err, at ? at : list->items[i], "duplicate remote_write name \"%s\"",
                                arr[i].name);
                goto out;
            }
    }
    *ret = arr;
    *ret_n = n;
    arr = NULL;
out:
    if (arr)
        hk_rw_config_free_list(arr, n);
    return r;
}

void hk_rw_config_free_list(struct hk_rw_config *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        hk_rw_config_free(&list[i]);
    free(list);
}

int hk_rw_config_check(const struct hk_config *cfg, struct hk_error *err)
{
    struct hk_rw_config *list = NULL;
    size_t n = 0;
    int r = hk_rw_config_parse_list(cfg->remote_write, &list, &n, err);
    hk_rw_config_free_list(list, n); /* NULL on failure: parse_list cleans up after itself */
    return r;
}
