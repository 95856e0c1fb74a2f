/* SPDX-License-Identifier: Apache-2.0 */
/* The Prometheus exporter web configuration: parsing and validation (TLS material is loaded and
 * checked with GnuTLS, the library libmicrohttpd serves TLS with), and basic auth against bcrypt
 * hashes with a short-lived cache of successful verifications. */
#include "exporter/webconfig.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/fsread.h"
#include "core/yaml.h"

#define MAX_PEM_BYTES (1u << 20)
#define MAX_USERS 1024
#define MAX_HEADERS 64
#define CACHE_SLOTS 64
#define CACHE_TTL_S 60.0
#define DIGEST_LEN 32

struct user {
    char *name;
    char *hash;
};

struct cache_entry {
    uint8_t digest[DIGEST_LEN];
    double expires; /* monotonic seconds; 0 = empty */
};

struct hk_webconfig_auth {
    struct user *users;
    size_t nusers;
    uint8_t key[DIGEST_LEN]; /* random per process: cache keys say nothing outside it */
    pthread_mutex_t cache_lock;
    struct cache_entry cache[CACHE_SLOTS];
    size_t cache_next;
    /* One bcrypt at a time: a flood of wrong passwords costs one core, not all of them. */
    pthread_mutex_t bcrypt_lock;
    atomic_ulong bcrypt_runs;
};

/* A valid bcrypt hash (cost 10) that no password we check is expected to match: verifying an
 * unknown user against it costs the same as a known one, so timing does not reveal user names. */
static const char dummy_hash[] = "$2b$10$GoNuYlFOuyiOsrvBv3C5Eunzg9g5SrlM8xH6oIMojsMF5acu9SXDa";

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool ct_equal(const void *a, size_t na, const void *b, size_t nb)
{
    if (na != nb)
        return false;
    const volatile unsigned char *x = a, *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < na; i++)
        d |= (unsigned char)(x[i] ^ y[i]);
    return d == 0;
}

static void auth_free(struct hk_webconfig_auth *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nusers; i++) {
        free(a->users[i].name);
        if (a->users[i].hash)
            explicit_bzero(a->users[i].hash, strlen(a->users[i].hash));
        free(a->users[i].hash);
    }
    free(a->users);
    pthread_mutex_destroy(&a->cache_lock);
    pthread_mutex_destroy(&a->bcrypt_lock);
    explicit_bzero(a, sizeof(*a));
    free(a);
}

void hk_webconfig_free(struct hk_webconfig *wc)
{
    if (!wc)
        return;
    free(wc->cert_pem);
    if (wc->key_pem) {
        explicit_bzero(wc->key_pem, strlen(wc->key_pem));
        free(wc->key_pem);
    }
    free(wc->ca_pem);
    free(wc->cert_file);
    free(wc->key_file);
    free(wc->ca_file);
    if (wc->dirfd >= 0)
        close(wc->dirfd);
    free(wc->priorities);
    for (size_t i = 0; i < wc->nheaders; i++) {
        free(wc->headers[i].name);
        free(wc->headers[i].value);
    }
    free(wc->headers);
    auth_free(wc->auth);
    free(wc);
}

static int digest_of(const struct hk_webconfig_auth *a, const char *user, const char *password,
                     uint8_t out[DIGEST_LEN])
{
    size_t ul = strlen(user), pl = strlen(password);
    char *msg = malloc(ul + pl + 1);
    if (!msg)
        return -ENOMEM;
    memcpy(msg, user, ul);
    msg[ul] = '\0'; /* separator: ("ab","c") and ("a","bc") differ */
    memcpy(msg + ul + 1, password, pl);
    int r = gnutls_hmac_fast(GNUTLS_MAC_SHA256, a->key, sizeof(a->key), msg, ul + pl + 1, out);
    explicit_bzero(msg, ul + pl + 1);
    free(msg);
    return r < 0 ? -EIO : 0;
}

bool hk_webconfig_authorize(struct hk_webconfig *wc, const char *user, const char *password)
{
    struct hk_webconfig_auth *a = wc ? wc->auth : NULL;
    if (!a)
        return true;
    if (!user || !password)
        return false;
    uint8_t digest[DIGEST_LEN];
    bool have_digest = digest_of(a, user, password, digest) == 0;
    double now = mono_s();
    if (have_digest) {
        bool hit = false;
        pthread_mutex_lock(&a->cache_lock);
        for (size_t i = 0; i < CACHE_SLOTS; i++)
            if (a->cache[i].expires > now &&
                ct_equal(a->cache[i].digest, DIGEST_LEN, digest, DIGEST_LEN))
                hit = true;
        pthread_mutex_unlock(&a->cache_lock);
        if (hit)
            return true;
    }
    const struct user *u = NULL;
    for (size_t i = 0; i < a->nusers; i++)
        if (strcmp(a->users[i].name, user) == 0)
            u = &a->users[i];
    const char *hash = u ? u->hash : dummy_hash;
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    if (!cd)
        return false;
    pthread_mutex_lock(&a->bcrypt_lock);
    const char *out = crypt_r(password, hash, cd);
    atomic_fetch_add(&a->bcrypt_runs, 1);
    pthread_mutex_unlock(&a->bcrypt_lock);
    bool ok = u && out && out[0] != '*' && ct_equal(out, strlen(out), hash, strlen(hash));
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    if (ok && have_digest) {
        pthread_mutex_lock(&a->cache_lock);
        /* Replace an equal or expired entry, else the oldest (ring order). */
        size_t slot = a->cache_next;
        for (size_t i = 0; i < CACHE_SLOTS; i++)
            if (a->cache[i].expires <= now) {
                slot = i;
                break;
            }
        memcpy(a->cache[slot].digest, digest, DIGEST_LEN);
        a->cache[slot].expires = now + CACHE_TTL_S;
        if (slot == a->cache_next)
            a->cache_next = (a->cache_next + 1) % CACHE_SLOTS;
        pthread_mutex_unlock(&a->cache_lock);
    }
    explicit_bzero(digest, sizeof(digest));
    return ok;
}

unsigned long hk_webconfig_bcrypt_runs(const struct hk_webconfig *wc)
{
    return wc && wc->auth ? atomic_load(&wc->auth->bcrypt_runs) : 0;
}

/* ---------------------------------------------------------------- parsing */

/* Reads a file named in the config, relative to the config's directory. */
static int read_named_file(int dirfd, const struct hk_yaml_node *node, char **ret,
                           struct hk_error *err)
{
    if (node->kind != HK_YAML_SCALAR || !node->scalar[0])
        return hk_error_at(err, node, "expected a file name");
    char *buf = NULL;
    ssize_t n = hk_read_regular_alloc(dirfd, node->scalar, MAX_PEM_BYTES, &buf);
    if (n < 0)
        return hk_error_at(err, node, "cannot read \"%s\": %s", node->scalar,
                           n == -EFBIG    ? "larger than 1 MiB"
                           : n == -EINVAL ? "not a regular file"
                                          : strerror((int)-n));
    *ret = buf;
    return 0;
}

int hk_webconfig_credentials(const struct hk_webconfig_tls_files *f,
                             gnutls_certificate_credentials_t *ret, struct hk_error *err)
{
    gnutls_certificate_credentials_t cred = NULL;
    if (gnutls_certificate_allocate_credentials(&cred) < 0)
        return -ENOMEM;
    gnutls_datum_t c = {(unsigned char *)f->cert_pem, (unsigned)strlen(f->cert_pem)};
    gnutls_datum_t k = {(unsigned char *)f->key_pem, (unsigned)strlen(f->key_pem)};
    int g = gnutls_certificate_set_x509_key_mem(cred, &c, &k, GNUTLS_X509_FMT_PEM);
    if (g < 0) {
        gnutls_certificate_free_credentials(cred);
        snprintf(err->msg, sizeof(err->msg), "%s", gnutls_strerror(g));
        return -EINVAL;
    }
    if (f->ca_pem) {
        gnutls_datum_t d = {(unsigned char *)f->ca_pem, (unsigned)strlen(f->ca_pem)};
        g = gnutls_certificate_set_x509_trust_mem(cred, &d, GNUTLS_X509_FMT_PEM);
        if (g <= 0) {
            gnutls_certificate_free_credentials(cred);
            snprintf(err->msg, sizeof(err->msg), "%s",
                     g < 0 ? gnutls_strerror(g) : "no certificate in the file");
            return -ENOKEY;
        }
    }
    *ret = cred;
    return 0;
}

void hk_webconfig_tls_files_free(struct hk_webconfig_tls_files *f)
{
    free(f->cert_pem);
    if (f->key_pem) {
        explicit_bzero(f->key_pem, strlen(f->key_pem));
        free(f->key_pem);
    }
    free(f->ca_pem);
    memset(f, 0, sizeof(*f));
}

static int reread(int dirfd, const char *name, char **ret, struct hk_error *err)
{
    ssize_t n = hk_read_regular_alloc(dirfd, name, MAX_PEM_BYTES, ret);
    if (n >= 0)
        return 0;
    snprintf(err->msg, sizeof(err->msg), "cannot read \"%.300s\": %s", name,
             n == -EFBIG    ? "larger than 1 MiB"
             : n == -EINVAL ? "not a regular file"
                            : strerror((int)-n));
    return (int)n;
}

int hk_webconfig_read_tls_files(const struct hk_webconfig *wc, struct hk_webconfig_tls_files *f,
                                struct hk_error *err)
{
    memset(f, 0, sizeof(*f));
    if (!wc->tls || wc->dirfd < 0)
        return -EINVAL;
    int r;
    if ((r = reread(wc->dirfd, wc->cert_file, &f->cert_pem, err)) < 0 ||
        (r = reread(wc->dirfd, wc->key_file, &f->key_pem, err)) < 0 ||
        (wc->ca_file && (r = reread(wc->dirfd, wc->ca_file, &f->ca_pem, err)) < 0)) {
        hk_webconfig_tls_files_free(f);
        return r;
    }
    return 0;
}

static const struct {
    const char *go;
    enum hk_client_auth type;
} client_auth_names[] = {
    {"NoClientCert", HK_CLIENT_AUTH_NONE},
    {"RequestClientCert", HK_CLIENT_AUTH_REQUEST},
    {"RequireAnyClientCert", HK_CLIENT_AUTH_REQUIRE_ANY},
    {"RequireClientCert", HK_CLIENT_AUTH_REQUIRE_ANY}, /* old spelling, still accepted upstream */
    {"VerifyClientCertIfGiven", HK_CLIENT_AUTH_VERIFY_IF_GIVEN},
    {"RequireAndVerifyClientCert", HK_CLIENT_AUTH_REQUIRE_VERIFY},
};

static const struct {
    const char *go;
    const char *gnutls;
} versions[] = {
    {"TLS10", "VERS-TLS1.0"},
    {"TLS11", "VERS-TLS1.1"},
    {"TLS12", "VERS-TLS1.2"},
    {"TLS13", "VERS-TLS1.3"},
};

/* Go cipher suite names → GnuTLS key exchange, cipher and MAC. GnuTLS priorities select
 * components, not whole suites, so the allowed set is every combination of the listed suites'
 * components (a superset when suites with different parts are mixed). TLS 1.3 suites (Go does
 * not let them be configured either) map to their ciphers only. */
static const struct {
    const char *go;
    const char *kx, *cipher, *mac;
} suites[] = {
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "RSA", "AES-128-CBC", "SHA1"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "RSA", "AES-256-CBC", "SHA1"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA256", "RSA", "AES-128-CBC", "SHA256"},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "RSA", "AES-128-GCM", "AEAD"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "RSA", "AES-256-GCM", "AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA", "AES-128-CBC", "SHA1"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA", "AES-256-CBC", "SHA1"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA", "AES-128-CBC", "SHA1"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA", "AES-256-CBC", "SHA1"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA", "AES-128-CBC", "SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA", "AES-128-CBC", "SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA", "AES-128-GCM", "AEAD"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA", "AES-128-GCM", "AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA", "AES-256-GCM", "AEAD"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA", "AES-256-GCM", "AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA", "CHACHA20-POLY1305", "AEAD"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA", "CHACHA20-POLY1305", "AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA", "CHACHA20-POLY1305", "AEAD"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA", "CHACHA20-POLY1305", "AEAD"},
    {"TLS_AES_128_GCM_SHA256", NULL, "AES-128-GCM", "AEAD"},
    {"TLS_AES_256_GCM_SHA384", NULL, "AES-256-GCM", "AEAD"},
    {"TLS_CHACHA20_POLY1305_SHA256", NULL, "CHACHA20-POLY1305", "AEAD"},
};

static const struct {
    const char *go;
    const char *gnutls;
} curves[] = {
    {"CurveP256", "GROUP-SECP256R1"},
    {"CurveP384", "GROUP-SECP384R1"},
    {"CurveP521", "GROUP-SECP521R1"},
    {"X25519", "GROUP-X25519"},
};

static int version_index(const struct hk_yaml_node *n, struct hk_error *err)
{
    if (n->kind == HK_YAML_SCALAR)
        for (int i = 0; i < 4; i++)
            if (strcmp(n->scalar, versions[i].go) == 0)
                return i;
    return hk_error_at(err, n, "unknown TLS version \"%s\" (TLS10, TLS11, TLS12, TLS13)",
                       n->kind == HK_YAML_SCALAR ? n->scalar : "?");
}

/* Appends ":+item" unless already present. */
static int prio_add(char *buf, size_t cap, const char *sign, const char *item)
{
    char tok[64];
    snprintf(tok, sizeof(tok), ":%s%s", sign, item);
    size_t tl = strlen(tok);
    const char *p = buf;
    while ((p = strstr(p, tok)))
        if (p[tl] == ':' || p[tl] == '\0')
            return 0;
        else
            p++;
    size_t l = strlen(buf);
    if (l + tl + 1 > cap)
        return -E2BIG;
    memcpy(buf + l, tok, tl + 1);
    return 0;
}

static int parse_tls(struct hk_webconfig *wc, const struct hk_yaml_node *t, int dirfd,
                     struct hk_error *err)
{
    static const char *const keys[] = {
        "cert_file",         "key_file",    "client_ca_file", "client_auth_type",
        "min_version",       "max_version", "cipher_suites",  "prefer_server_cipher_suites",
        "curve_preferences", NULL};
    int r = hk_yaml_check_keys(t, keys, err);
    if (r < 0)
        return r;
    if (t->kind != HK_YAML_MAP || t->n == 0)
        return 0; /* empty: plain HTTP, as upstream */
    const struct hk_yaml_node *cert = hk_yaml_get(t, "cert_file");
    const struct hk_yaml_node *key = hk_yaml_get(t, "key_file");
    if (!cert)
        return hk_error_at(err, t, "tls_server_config: missing cert_file");
    if (!key)
        return hk_error_at(err, t, "tls_server_config: missing key_file");
    if ((r = read_named_file(dirfd, cert, &wc->cert_pem, err)) < 0 ||
        (r = read_named_file(dirfd, key, &wc->key_pem, err)) < 0)
        return r;
    wc->tls = true;

    const struct hk_yaml_node *n;
    if ((n = hk_yaml_get(t, "client_auth_type"))) {
        bool found = false;
        for (size_t i = 0; i < sizeof(client_auth_names) / sizeof(client_auth_names[0]); i++)
            if (n->kind == HK_YAML_SCALAR && strcmp(n->scalar, client_auth_names[i].go) == 0) {
                wc->client_auth = client_auth_names[i].type;
                found = true;
            }
        if (!found)
            return hk_error_at(err, n,
                               "invalid client_auth_type \"%s\" (NoClientCert, RequestClientCert, "
                               "RequireAnyClientCert, VerifyClientCertIfGiven, "
                               "RequireAndVerifyClientCert)",
                               n->kind == HK_YAML_SCALAR ? n->scalar : "?");
    }
    const struct hk_yaml_node *ca = hk_yaml_get(t, "client_ca_file");
    if (ca) {
        if ((r = read_named_file(dirfd, ca, &wc->ca_pem, err)) < 0)
            return r;
        if (wc->client_auth == HK_CLIENT_AUTH_NONE)
            return hk_error_at(err, ca,
                               "client_ca_file is set but client_auth_type is NoClientCert");
    } else if (wc->client_auth == HK_CLIENT_AUTH_VERIFY_IF_GIVEN ||
               wc->client_auth == HK_CLIENT_AUTH_REQUIRE_VERIFY) {
        return hk_error_at(err, hk_yaml_get(t, "client_auth_type"),
                           "client_auth_type verifies client certificates: set client_ca_file");
    }

    /* Key, certificate and CA must load, and the key must match the certificate. */
    struct hk_webconfig_tls_files f = {wc->cert_pem, wc->key_pem, wc->ca_pem};
    gnutls_certificate_credentials_t cred = NULL;
    struct hk_error cerr = {""};
    if ((r = hk_webconfig_credentials(&f, &cred, &cerr)) == -ENOKEY && ca)
        return hk_error_at(err, ca, "client_ca_file \"%s\": %s", ca->scalar, cerr.msg);
    if (r < 0)
        return hk_error_at(err, cert, "certificate \"%s\" with key \"%s\": %s", cert->scalar,
                           key->scalar, cerr.msg);
    gnutls_certificate_free_credentials(cred);
    if (!(wc->cert_file = strdup(cert->scalar)) || !(wc->key_file = strdup(key->scalar)) ||
        (ca && !(wc->ca_file = strdup(ca->scalar))))
        return -ENOMEM;
    if ((wc->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0)) < 0)
        return -errno;

    /* Priority string: versions, then suites and curves when restricted. */
    char prio[2048] = "NORMAL:-VERS-ALL";
    int vmin = 2, vmax = 3; /* TLS12 .. TLS13, the upstream defaults */
    if ((n = hk_yaml_get(t, "min_version")) && (vmin = version_index(n, err)) < 0)
        return vmin;
    if ((n = hk_yaml_get(t, "max_version")) && (vmax = version_index(n, err)) < 0)
        return vmax;
    if (vmin > vmax)
        return hk_error_at(err, hk_yaml_get(t, "min_version"), "min_version is above max_version");
    for (int v = vmax; v >= vmin; v--)
        prio_add(prio, sizeof(prio), "+", versions[v].gnutls);
    if ((n = hk_yaml_get(t, "cipher_suites"))) {
        if ((r = hk_yaml_expect(n, HK_YAML_SEQ, err)) < 0)
            return r;
        if (n->kind == HK_YAML_SEQ && n->n > 0) {
            prio_add(prio, sizeof(prio), "-", "CIPHER-ALL");
            prio_add(prio, sizeof(prio), "-", "MAC-ALL");
            prio_add(prio, sizeof(prio), "-", "KX-ALL");
            for (size_t i = 0; i < n->n; i++) {
                const struct hk_yaml_node *s = n->items[i];
                size_t j;
                for (j = 0; j < sizeof(suites) / sizeof(suites[0]); j++)
                    if (s->kind == HK_YAML_SCALAR && strcmp(s->scalar, suites[j].go) == 0)
                        break;
                if (j == sizeof(suites) / sizeof(suites[0]))
                    return hk_error_at(err, s, "unknown cipher suite \"%s\"",
                                       s->kind == HK_YAML_SCALAR ? s->scalar : "?");
                if (suites[j].kx)
                    prio_add(prio, sizeof(prio), "+", suites[j].kx);
                prio_add(prio, sizeof(prio), "+", suites[j].cipher);
                prio_add(prio, sizeof(prio), "+", suites[j].mac);
            }
            if (vmax == 3) {
                /* As in Go, cipher_suites does not restrict TLS 1.3. */
                prio_add(prio, sizeof(prio), "+", "AES-128-GCM");
                prio_add(prio, sizeof(prio), "+", "AES-256-GCM");
                prio_add(prio, sizeof(prio), "+", "CHACHA20-POLY1305");
                prio_add(prio, sizeof(prio), "+", "AEAD");
            }
        }
    }
    if ((n = hk_yaml_get(t, "curve_preferences"))) {
        if ((r = hk_yaml_expect(n, HK_YAML_SEQ, err)) < 0)
            return r;
        if (n->kind == HK_YAML_SEQ && n->n > 0) {
            prio_add(prio, sizeof(prio), "-", "GROUP-ALL");
            for (size_t i = 0; i < n->n; i++) {
                const struct hk_yaml_node *s = n->items[i];
                size_t j;
                for (j = 0; j < sizeof(curves) / sizeof(curves[0]); j++)
                    if (s->kind == HK_YAML_SCALAR && strcmp(s->scalar, curves[j].go) == 0)
                        break;
                if (j == sizeof(curves) / sizeof(curves[0]))
                    return hk_error_at(err, s, "unknown curve \"%s\"",
                                       s->kind == HK_YAML_SCALAR ? s->scalar : "?");
                prio_add(prio, sizeof(prio), "+", curves[j].gnutls);
            }
        }
    }
    bool server_order = true; /* upstream default */
    if ((n = hk_yaml_get(t, "prefer_server_cipher_suites")) &&
        (r = hk_yaml_bool(n, &server_order, err)) < 0)
        return r;
    if (server_order)
        prio_add(prio, sizeof(prio), "", "%SERVER_PRECEDENCE");
    gnutls_priority_t pc;
    const char *errpos = NULL;
    int g = gnutls_priority_init(&pc, prio, &errpos);
    if (g < 0)
        return hk_error_at(err, t,
                           "TLS settings give an invalid GnuTLS priority \"%s\" (at \"%s\")", prio,
                           errpos ? errpos : "?");
    gnutls_priority_deinit(pc);
    if (!(wc->priorities = strdup(prio)))
        return -ENOMEM;
    return 0;
}

static int parse_users(struct hk_webconfig *wc, const struct hk_yaml_node *u, struct hk_error *err)
{
    int r = hk_yaml_expect(u, HK_YAML_MAP, err);
    if (r < 0 || u->kind != HK_YAML_MAP || u->n == 0)
        return r;
    if (u->n > MAX_USERS)
        return hk_error_at(err, u, "more than %d basic_auth_users", MAX_USERS);
    struct hk_webconfig_auth *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    pthread_mutex_init(&a->cache_lock, NULL);
    pthread_mutex_init(&a->bcrypt_lock, NULL);
    atomic_init(&a->bcrypt_runs, 0);
    wc->auth = a;
    if (gnutls_rnd(GNUTLS_RND_KEY, a->key, sizeof(a->key)) < 0)
        return -EIO;
    a->users = calloc(u->n, sizeof(*a->users));
    if (!a->users)
        return -ENOMEM;
    for (size_t i = 0; i < u->n; i++) {
        const struct hk_yaml_node *k = u->keys[i], *v = u->items[i];
        if (!k->scalar[0] || strchr(k->scalar, ':'))
            return hk_error_at(err, k, "invalid basic auth user name \"%s\"", k->scalar);
        /* bcrypt: $2a$, $2b$ or $2y$, two-digit cost, 53 characters of salt and hash. */
        const char *h = v->kind == HK_YAML_SCALAR ? v->scalar : "";
        bool shape = strlen(h) == 60 && h[0] == '$' && h[1] == '2' &&
                     (h[2] == 'a' || h[2] == 'b' || h[2] == 'y') && h[3] == '$' && h[4] >= '0' &&
                     h[4] <= '3' && h[5] >= '0' && h[5] <= '9' && h[6] == '$';
        if (!shape)
            return hk_error_at(err, v,
                               "basic_auth_users.%s: expected a bcrypt hash ($2y$…, 60 "
                               "characters)",
                               k->scalar);
        a->users[i].name = strdup(k->scalar);
        a->users[i].hash = strdup(h);
        a->nusers++;
        if (!a->users[i].name || !a->users[i].hash)
            return -ENOMEM;
    }
    wc->nusers = a->nusers;
    return 0;
}

static int parse_http(struct hk_webconfig *wc, const struct hk_yaml_node *h, struct hk_error *err)
{
    static const char *const keys[] = {"http2", "headers", NULL};
    int r = hk_yaml_check_keys(h, keys, err);
    if (r < 0)
        return r;
    const struct hk_yaml_node *n;
    bool b;
    if ((n = hk_yaml_get(h, "http2")) && (r = hk_yaml_bool(n, &b, err)) < 0)
        return r; /* accepted for compatibility: libmicrohttpd speaks HTTP/1.1 only */
    if (!(n = hk_yaml_get(h, "headers")))
        return 0;
    if ((r = hk_yaml_expect(n, HK_YAML_MAP, err)) < 0 || n->kind != HK_YAML_MAP)
        return r;
    if (n->n > MAX_HEADERS)
        return hk_error_at(err, n, "more than %d headers", MAX_HEADERS);
    /* Headers the server itself owns cannot be overridden (as upstream). */
    static const char *const reserved[] = {
        "Authorization", "Content-Length",   "Content-Type",      "Content-Encoding", "Date",
        "Server",        "WWW-Authenticate", "Transfer-Encoding", "Connection",       NULL};
    wc->headers = calloc(n->n, sizeof(*wc->headers));
    if (!wc->headers)
        return -ENOMEM;
    for (size_t i = 0; i < n->n; i++) {
        const struct hk_yaml_node *k = n->keys[i], *v = n->items[i];
        for (const char *const *rv = reserved; *rv; rv++)
            if (strcasecmp(*rv, k->scalar) == 0)
                return hk_error_at(err, k, "header \"%s\" cannot be set", k->scalar);
        if (!k->scalar[0] || strpbrk(k->scalar, " \t\r\n:"))
            return hk_error_at(err, k, "invalid header name \"%s\"", k->scalar);
        if (v->kind != HK_YAML_SCALAR || strpbrk(v->scalar, "\r\n"))
            return hk_error_at(err, v, "header \"%s\": expected a one-line string", k->scalar);
        wc->headers[i].name = strdup(k->scalar);
        wc->headers[i].value = strdup(v->scalar);
        wc->nheaders++;
        if (!wc->headers[i].name || !wc->headers[i].value)
            return -ENOMEM;
    }
    return 0;
}

int hk_webconfig_load(const char *path, struct hk_webconfig **ret, struct hk_error *err)
{
    struct hk_yaml_node *root = NULL;
    struct hk_webconfig *wc = NULL;
    int dirfd = -1;
    int r = hk_yaml_parse_file(path, &root, err);
    if (r < 0)
        goto out;
    wc = calloc(1, sizeof(*wc));
    if (!wc) {
        r = -ENOMEM;
        goto out;
    }
    wc->dirfd = -1;
    /* Files named in the config are relative to its directory. */
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (slash && (size_t)(slash - path) < sizeof(dir)) {
        size_t dl = slash == path ? 1 : (size_t)(slash - path);
        memcpy(dir, path, dl);
        dir[dl] = '\0';
    } else {
        snprintf(dir, sizeof(dir), ".");
    }
    dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        r = -errno;
        snprintf(err->msg, sizeof(err->msg), "%.400s: %s", dir, strerror(-r));
        goto out;
    }
    static const char *const top[] = {"tls_server_config", "http_server_config", "basic_auth_users",
                                      NULL};
    if ((r = hk_yaml_expect(root, HK_YAML_MAP, err)) < 0 ||
        (r = hk_yaml_check_keys(root, top, err)) < 0)
        goto out;
    const struct hk_yaml_node *n;
    if ((n = hk_yaml_get(root, "tls_server_config")) && (r = parse_tls(wc, n, dirfd, err)) < 0)
        goto out;
    if ((n = hk_yaml_get(root, "http_server_config")) && (r = parse_http(wc, n, err)) < 0)
        goto out;
    if ((n = hk_yaml_get(root, "basic_auth_users")) && (r = parse_users(wc, n, err)) < 0)
        goto out;
    *ret = wc;
    wc = NULL;
    r = 0;
out:
    if (dirfd >= 0)
        close(dirfd);
    hk_webconfig_free(wc);
    hk_yaml_free(root);
    return r;
}
