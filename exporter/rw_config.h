/* SPDX-License-Identifier: Apache-2.0 */
/* Remote-write endpoint configuration: the `remote_write:` list with Prometheus' keys plus
 * hakari's durable-queue keys (queue_config.disk_path, max_disk_bytes, fsync). Secrets given as
 * files are read here; no function of this module prints or logs a secret. */
#ifndef HK_RW_CONFIG_H
#define HK_RW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/labels.h"
#include "core/yaml.h"

enum hk_rw_proto { HK_RW_V1 = 1, HK_RW_V2 = 2 };
enum hk_rw_fsync { HK_RW_FSYNC_BATCH, HK_RW_FSYNC_INTERVAL };

struct hk_rw_queue_config {
    uint64_t capacity;
    uint32_t min_shards, max_shards;
    uint32_t max_samples_per_send;
    int64_t batch_send_deadline_ms;
    int64_t min_backoff_ms, max_backoff_ms;
    bool retry_on_http_429;
    int64_t sample_age_limit_ms; /* 0 = off */
    char *disk_path;
    uint64_t max_disk_bytes; /* 0 = unlimited */
    enum hk_rw_fsync fsync;
    int64_t fsync_interval_ms;
};

struct hk_rw_config {
    char *name; /* unique; default derived from the url */
    char *url;
    int64_t remote_timeout_ms;
    struct hk_label *headers; /* owned strings */
    size_t nheaders;
    /* basic_auth */
    char *basic_username, *basic_password;
    /* the *_file paths, kept to re-read the secret when the file changes (NULL = inline) */
    char *basic_password_file, *auth_credentials_file, *oauth2_client_secret_file;
    /* authorization / bearer_token(_file) */
    char *auth_type, *auth_credentials;
    /* oauth2 client credentials */
    char *oauth2_client_id, *oauth2_client_secret, *oauth2_token_url;
    char **oauth2_scopes;
    size_t oauth2_nscopes;
    struct hk_label *oauth2_params;
    size_t oauth2_nparams;
    /* sigv4 */
    bool sigv4;
    char *sigv4_region, *sigv4_access_key, *sigv4_secret_key, *sigv4_profile, *sigv4_role_arn;
    /* tls_config */
    char *tls_ca_file, *tls_cert_file, *tls_key_file, *tls_server_name, *tls_min_version;
    bool tls_insecure_skip_verify;
    char *proxy_url;
    bool follow_redirects;
    enum hk_rw_proto proto;
    bool send_exemplars;
    /* Histogram families that carry a native histogram go as one native histogram series
     * (TimeSeries.histograms) instead of their classic _bucket/_sum/_count series. */
    bool send_native_histograms;
    bool metadata_send;
    int64_t metadata_send_interval_ms;
    const struct hk_yaml_node *write_relabel_configs; /* borrowed from the config tree */
    struct hk_rw_queue_config queue;
};

/* Parses one list item. External labels are not part of it (they come from global). */
int hk_rw_config_parse(const struct hk_yaml_node *item, struct hk_rw_config *ret,
                       struct hk_error *err);
void hk_rw_config_free(struct hk_rw_config *c);
/* Parses the whole list (NULL = none); names are checked for uniqueness. */
int hk_rw_config_parse_list(const struct hk_yaml_node *list, struct hk_rw_config **ret,
                            size_t *ret_n, struct hk_error *err);
void hk_rw_config_free_list(struct hk_rw_config *list, size_t n);
/* The section validator registered in agent/sections.c. */
int hk_rw_config_check(const struct hk_config *cfg, struct hk_error *err);

#endif
