/* SPDX-License-Identifier: Apache-2.0 */
/* --web.config.file: the Prometheus exporter web configuration (TLS server settings, basic auth
 * users with bcrypt hashes, extra response headers), parsed and checked up front so
 * --config.check reports every problem as file:line:col. */
#ifndef HK_WEBCONFIG_H
#define HK_WEBCONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include <gnutls/gnutls.h>

#include "core/error.h"

enum hk_client_auth {
    HK_CLIENT_AUTH_NONE,            /* NoClientCert (default) */
    HK_CLIENT_AUTH_REQUEST,         /* RequestClientCert: ask, do not verify */
    HK_CLIENT_AUTH_REQUIRE_ANY,     /* RequireAnyClientCert: must send one, not verified */
    HK_CLIENT_AUTH_VERIFY_IF_GIVEN, /* VerifyClientCertIfGiven */
    HK_CLIENT_AUTH_REQUIRE_VERIFY,  /* RequireAndVerifyClientCert */
};

struct hk_webconfig_header {
    char *name;
    char *value;
};

struct hk_webconfig {
    bool tls;
    char *cert_pem; /* file contents, NUL-terminated */
    char *key_pem;
    char *ca_pem; /* NULL without client_ca_file */
    /* Where they came from, to re-read them when rotated: the config file's directory (an open
     * O_PATH descriptor, -1 without TLS) and the names as written in the config. */
    int dirfd;
    char *cert_file, *key_file, *ca_file;
    enum hk_client_auth client_auth;
    char *priorities; /* GnuTLS priority string from min/max_version and cipher_suites */
    size_t nusers;
    struct hk_webconfig_header *headers;
    size_t nheaders;
    struct hk_webconfig_auth *auth; /* users and the verification cache; NULL without users */
};

/* Reads and validates path (cert/key/CA files are read, relative paths are relative to the
 * config file's directory, key and certificate must match). 0 or -errno with err set. */
int hk_webconfig_load(const char *path, struct hk_webconfig **ret, struct hk_error *err);
void hk_webconfig_free(struct hk_webconfig *wc);

/* The TLS files as they are on disk now, NUL-terminated (ca NULL without client_ca_file). */
struct hk_webconfig_tls_files {
    char *cert_pem, *key_pem, *ca_pem;
};
/* Re-reads wc's cert_file, key_file and client_ca_file (same limits and errors as at load). */
int hk_webconfig_read_tls_files(const struct hk_webconfig *wc, struct hk_webconfig_tls_files *f,
                                struct hk_error *err);
void hk_webconfig_tls_files_free(struct hk_webconfig_tls_files *f);
/* GnuTLS credentials holding the certificate and key (which must match) and, when ca_pem is
 * set, the client CA as trust. 0, or -errno with err naming the failing part. */
int hk_webconfig_credentials(const struct hk_webconfig_tls_files *f,
                             gnutls_certificate_credentials_t *ret, struct hk_error *err);

/* Basic auth: true when user/password match a configured user (bcrypt via crypt_r, compared in
 * constant time; successes are cached for a short while under a keyed hash of user+password).
 * Always true when no users are configured. Thread-safe. */
bool hk_webconfig_authorize(struct hk_webconfig *wc, const char *user, const char *password);
/* Number of bcrypt verifications done (for tests and self-metrics). */
unsigned long hk_webconfig_bcrypt_runs(const struct hk_webconfig *wc);

#endif
