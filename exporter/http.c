/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP exposition on libmicrohttpd: a thread pool with a connection limit and idle timeouts.
 * Rendered bodies (plain and gzip, per format) hang off the snapshot they came from, so every
 * scrape of one snapshot shares one rendering, and each response holds a snapshot reference
 * until libmicrohttpd has sent it.
 *
 * The web config (users, headers, TLS settings) lives in a reference-counted state that
 * hk_http_reload swaps; each request takes the current one. TLS credentials are our own GnuTLS
 * credentials, set on every session before its handshake (replacing libmicrohttpd's), and are
 * rebuilt when the cert, key or client CA files change on disk (checked at most once a second, at
 * a handshake), so a rotated certificate is served without a signal or a restart.
 *
 * Every connection is tracked from accept to close: one waiting for a complete request header
 * longer than the header timeout is shut down (a reaper thread), and past the connection limit a
 * new connection evicts the oldest one that is not being answered, or is refused when all are;
 * each is counted and logged (rate-limited). Files read: the web config and the TLS files it
 * names. Families: hakari_http_*.
 * Over 800 lines because the libmicrohttpd glue, per-session TLS credentials and their reload,
 * connection tracking (header deadline, eviction) and the render cache share the server state. */
#include "exporter/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/yaml.h"
#include "exporter/negotiate.h"
#include "exporter/protofmt.h"
#include "exporter/textfmt.h"
#include "exporter/webconfig.h"

struct rendered {
    char *body;
    size_t len;
    int err;                 /* render error: answer 500 */
    _Atomic(struct gz *) gz; /* gzip of body, made on first demand */
};

struct gz {
    char *data;
    size_t len;
};

enum {
    H_METRICS,
    H_METRICS_NODE,
    H_METRICS_CADVISOR,
    H_METRICS_SELF,
    H_HEALTHY,
    H_READY,
    H_ROOT,
    H_OTHER,
    H_N
};
static const char *const handler_names[H_N] = {
    [H_METRICS] = "/metrics",
    [H_METRICS_NODE] = "/metrics/node",
    [H_METRICS_CADVISOR] = "/metrics/cadvisor",
    [H_METRICS_SELF] = "/metrics/self",
    [H_HEALTHY] = "/-/healthy",
    [H_READY] = "/-/ready",
    [H_ROOT] = "/",
    [H_OTHER] = "other",
};

/* The exposition endpoints: which targets' families each serves, and the snapshot slots of its
 * bodies by format (enum hk_textfmt: text, OpenMetrics, protobuf). */
struct scope {
    unsigned targets; /* HK_TEXTFMT_TARGET bits */
    enum hk_snapshot_slot_id slot[3];
};
static const struct scope scopes[] = {
    [H_METRICS] = {HK_TEXTFMT_ALL_TARGETS, {HK_SLOT_TEXT, HK_SLOT_OPENMETRICS, HK_SLOT_PROTOBUF}},
    [H_METRICS_NODE] = {HK_TEXTFMT_TARGET(HK_TARGET_NODE),
                        {HK_SLOT_NODE_TEXT, HK_SLOT_NODE_OPENMETRICS, HK_SLOT_NODE_PROTOBUF}},
    [H_METRICS_CADVISOR] = {HK_TEXTFMT_TARGET(HK_TARGET_CADVISOR),
                            {HK_SLOT_CADVISOR_TEXT, HK_SLOT_CADVISOR_OPENMETRICS,
                             HK_SLOT_CADVISOR_PROTOBUF}},
    [H_METRICS_SELF] = {HK_TEXTFMT_TARGET(HK_TARGET_SELF),
                        {HK_SLOT_SELF_TEXT, HK_SLOT_SELF_OPENMETRICS, HK_SLOT_SELF_PROTOBUF}},
};

/* Web config in force; requests and TLS sessions hold a reference while they use it. */
struct state {
    atomic_uint refs;
    struct hk_webconfig *wc; /* NULL: plain HTTP, no auth */
    gnutls_priority_t prio;  /* NULL without TLS */
};

/* TLS credentials and the file contents they were built from (to notice a rotation). */
struct tls_cred {
    atomic_uint refs;
    gnutls_certificate_credentials_t cred;
    struct hk_webconfig_tls_files files;
};

enum { CLOSE_HEADER_TIMEOUT, CLOSE_EVICTED, CLOSE_REFUSED, CLOSE_N };
static const char *const close_reasons[CLOSE_N] = {"header_timeout", "evicted", "refused"};

/* One accepted connection (libmicrohttpd's socket context). */
struct conn {
    struct conn *prev, *next; /* hk_http.conns, under hk_http.lock */
    struct hk_http *h;
    struct state *st; /* TLS: the settings its handshake uses */
    struct tls_cred *cred;
    int fd;
    unsigned char peer[16]; /* client IP address (v4 in the first 4 bytes), for eviction */
    uint64_t waiting_since; /* mono ns: accepted, or its last response completed */
    bool busy;              /* a request is being answered */
    bool shut;              /* shut down by us; libmicrohttpd closes it */
};

struct hk_http {
    struct MHD_Daemon *daemon;
    struct hk_registry *reg;
    char *web_config_file; /* NULL: none */
    bool tls;              /* fixed at start: the listener's protocol */
    size_t max_body;
    uint16_t port;
    unsigned max_conns;
    uint64_t header_timeout_ns;

    pthread_mutex_t lock; /* state, cred, conns, the counters below it */
    struct state *state;
    struct tls_cred *cred;
    uint64_t tls_checked;     /* mono ns of the last look at the TLS files */
    uint64_t tls_warned;      /* mono ns of the last rotation failure logged */
    struct conn conns;        /* list head; oldest first */
    size_t nlive;             /* tracked and not shut */
    uint64_t closed[CLOSE_N]; /* connections we closed, by reason */
    uint64_t closed_logged[CLOSE_N];
    uint64_t close_logged_at;

    pthread_t reaper;
    pthread_cond_t reaper_cond;
    bool reaper_started, stopping;

    atomic_uint_fast64_t requests[H_N];
    atomic_uint_fast64_t errors_500;
    atomic_uint_fast64_t render_ns_total;
    atomic_uint_fast64_t renders;
    atomic_uint_fast64_t unauthorized;
    atomic_uint_fast64_t tls_rejected;
    atomic_uint_fast64_t reloads[2];     /* web config: failure, success */
    atomic_uint_fast64_t tls_reloads[2]; /* rotated TLS files: failure, success */
};

static void gz_free(struct gz *g)
{
    if (g) {
        free(g->data);
        free(g);
    }
}

static void rendered_free(void *p)
{
    struct rendered *r = p;
    if (!r)
        return;
    gz_free(atomic_load(&r->gz));
    free(r->body);
    free(r);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static struct rendered *get_rendered(struct hk_http *h, struct hk_snapshot *snap,
                                     const struct scope *sc, enum hk_textfmt fmt)
{
    enum hk_snapshot_slot_id slot = sc->slot[fmt];
    struct rendered *r = hk_snapshot_slot_get(snap, slot);
    if (r)
        return r;
    r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    atomic_init(&r->gz, NULL);
    uint64_t t0 = mono_ns();
    struct hk_buf b;
    hk_buf_init(&b, h->max_body);
    r->err = fmt == HK_TEXTFMT_PROTOBUF ? hk_protofmt_render(snap, sc->targets, &b)
                                        : hk_textfmt_render_targets(snap, fmt, sc->targets, &b);
    if (r->err == 0)
        r->body = hk_buf_steal(&b, &r->len);
    hk_buf_free(&b);
    if (r->err == 0 && !r->body)
        r->err = -ENOMEM;
    atomic_fetch_add(&h->render_ns_total, mono_ns() - t0);
    atomic_fetch_add(&h->renders, 1);
    return hk_snapshot_slot_set(snap, slot, r, rendered_free);
}

static struct gz *get_gzip(struct rendered *r)
{
    struct gz *g = atomic_load(&r->gz);
    if (g)
        return g;
    g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    z_stream zs = {0};
    if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(g);
        return NULL;
    }
    uLong bound = deflateBound(&zs, (uLong)r->len);
    g->data = malloc(bound);
    if (!g->data) {
        deflateEnd(&zs);
        free(g);
        return NULL;
    }
    zs.next_in = (Bytef *)r->body;
    zs.avail_in = (uInt)r->len;
    zs.next_out = (Bytef *)g->data;
    zs.avail_out = (uInt)bound;
    int zr = deflate(&zs, Z_FINISH);
    g->len = zs.total_out;
    deflateEnd(&zs);
    if (zr != Z_STREAM_END) {
        gz_free(g);
        return NULL;
    }
    struct gz *expected = NULL;
    if (atomic_compare_exchange_strong(&r->gz, &expected, g))
        return g;
    gz_free(g);
    return expected;
}

/* ------------------------------------------------------------ state and TLS credentials */

static void state_put(struct state *st)
{
    if (!st || atomic_fetch_sub(&st->refs, 1) != 1)
        return;
    if (st->prio)
        gnutls_priority_deinit(st->prio);
    hk_webconfig_free(st->wc);
    free(st);
}

static struct state *state_get(struct hk_http *h)
{
    pthread_mutex_lock(&h->lock);
    struct state *st = h->state;
    atomic_fetch_add(&st->refs, 1);
    pthread_mutex_unlock(&h->lock);
    return st;
}

/* Takes ownership of wc (freed on failure too). */
static int state_new(struct hk_webconfig *wc, struct state **ret, struct hk_error *err)
{
    struct state *st = calloc(1, sizeof(*st));
    if (!st) {
        hk_webconfig_free(wc);
        return -ENOMEM;
    }
    atomic_init(&st->refs, 1);
    st->wc = wc;
    if (wc && wc->tls) {
        const char *errpos = NULL;
        int g = gnutls_priority_init(&st->prio, wc->priorities, &errpos);
        if (g < 0) {
            st->prio = NULL;
            state_put(st);
            snprintf(err->msg, sizeof(err->msg), "GnuTLS priority \"%.200s\": %s", wc->priorities,
                     gnutls_strerror(g));
            return -EINVAL;
        }
    }
    *ret = st;
    return 0;
}

static void cred_put(struct tls_cred *c)
{
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    gnutls_certificate_free_credentials(c->cred);
    hk_webconfig_tls_files_free(&c->files);
    free(c);
}

/* Takes ownership of f (cleared on failure too). */
static int cred_new(struct hk_webconfig_tls_files *f, struct tls_cred **ret, struct hk_error *err)
{
    struct tls_cred *c = calloc(1, sizeof(*c));
    if (!c) {
        hk_webconfig_tls_files_free(f);
        return -ENOMEM;
    }
    int r = hk_webconfig_credentials(f, &c->cred, err);
    if (r < 0) {
        hk_webconfig_tls_files_free(f);
        free(c);
        return r;
    }
    atomic_init(&c->refs, 1);
    c->files = *f;
    memset(f, 0, sizeof(*f));
    *ret = c;
    return 0;
}

static int cred_from_wc(const struct hk_webconfig *wc, struct tls_cred **ret, struct hk_error *err)
{
    struct hk_webconfig_tls_files f = {strdup(wc->cert_pem), strdup(wc->key_pem),
                                       wc->ca_pem ? strdup(wc->ca_pem) : NULL};
    if (!f.cert_pem || !f.key_pem || (wc->ca_pem && !f.ca_pem)) {
        hk_webconfig_tls_files_free(&f);
        return -ENOMEM;
    }
    return cred_new(&f, ret, err);
}

static bool same_text(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* At a handshake, at most once a second: when the cert, key or CA files of the web config in
 * force (st) differ from the credentials' sources, build new credentials from them. A failure
 * (a half-written rotation, a key that does not match) keeps the old ones and is logged at most
 * once a minute; the next look retries. */
static void tls_maybe_rotate(struct hk_http *h, struct state *st)
{
    uint64_t now = mono_ns();
    pthread_mutex_lock(&h->lock);
    bool due = now - h->tls_checked >= 1000000000ULL;
    if (due)
        h->tls_checked = now;
    pthread_mutex_unlock(&h->lock);
    if (!due)
        return;
    struct hk_webconfig_tls_files f;
    struct hk_error err = {""};
    int r = hk_webconfig_read_tls_files(st->wc, &f, &err);
    if (r == 0) {
        pthread_mutex_lock(&h->lock);
        const struct hk_webconfig_tls_files *cur = &h->cred->files;
        bool unchanged = same_text(cur->cert_pem, f.cert_pem) &&
                         same_text(cur->key_pem, f.key_pem) && same_text(cur->ca_pem, f.ca_pem);
        pthread_mutex_unlock(&h->lock);
        if (unchanged) {
            hk_webconfig_tls_files_free(&f);
            return;
        }
    }
    struct tls_cred *c = NULL;
    if (r == 0)
        r = cred_new(&f, &c, &err);
    if (r < 0) {
        atomic_fetch_add(&h->tls_reloads[0], 1);
        pthread_mutex_lock(&h->lock);
        bool say = h->tls_warned == 0 || now - h->tls_warned >= 60000000000ULL;
        if (say)
            h->tls_warned = now;
        pthread_mutex_unlock(&h->lock);
        if (say)
            hk_log_warn("TLS files changed but cannot be used, keeping the previous certificate",
                        "cert_file", st->wc->cert_file, "err", err.msg);
        return;
    }
    pthread_mutex_lock(&h->lock);
    struct tls_cred *old = c;
    if (h->state == st) { /* a reload in between brought its own credentials */
        old = h->cred;
        h->cred = c;
    }
    pthread_mutex_unlock(&h->lock);
    cred_put(old);
    if (old != c) {
        atomic_fetch_add(&h->tls_reloads[1], 1);
        hk_log_info("TLS certificate files changed, new credentials in use", "cert_file",
                    st->wc->cert_file);
    }
}

/* ------------------------------------------------------------ requests */

/* Queues resp with the configured extra headers (http_server_config.headers) and drops our
 * reference to it. */
static enum MHD_Result queue(const struct hk_webconfig *wc, struct MHD_Connection *c,
                             unsigned status, struct MHD_Response *resp)
{
    if (wc)
        for (size_t i = 0; i < wc->nheaders; i++)
            MHD_add_response_header(resp, wc->headers[i].name, wc->headers[i].value);
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_text(const struct hk_webconfig *wc, struct MHD_Connection *c,
                                 unsigned status, const char *type, const char *text)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    return queue(wc, c, status, resp);
}

static void unref_cb(void *cls)
{
    hk_snapshot_unref(cls);
}

static enum MHD_Result serve_metrics(struct hk_http *h, const struct hk_webconfig *wc,
                                     struct MHD_Connection *c, int handler)
{
    struct hk_snapshot *snap = hk_registry_acquire(h->reg);
    if (!snap)
        return send_text(wc, c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
                         "no snapshot collected yet\n");
    enum hk_textfmt fmt = hk_negotiate_format(
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
    struct rendered *r = get_rendered(h, snap, &scopes[handler], fmt);
    if (!r || r->err) {
        char msg[160];
        snprintf(msg, sizeof(msg), "rendering failed: %s\n",
                 r ? strerror(-r->err) : "out of memory");
        hk_snapshot_unref(snap);
        atomic_fetch_add(&h->errors_500, 1);
        hk_log_error("cannot render the exposition", "path", handler_names[handler], "err", msg);
        return send_text(wc, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", msg);
    }
    const char *body = r->body;
    size_t len = r->len;
    bool gzip = hk_negotiate_gzip(
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING));
    if (gzip) {
        struct gz *g = get_gzip(r);
        if (g) {
            body = g->data;
            len = g->len;
        } else {
            gzip = false; /* fall back to identity rather than fail */
        }
    }
    /* The response points into the snapshot's cached body; our reference keeps it alive until
     * libmicrohttpd calls unref_cb after the last byte. */
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback_cls(len, (void *)body, unref_cb, snap);
    if (!resp) {
        hk_snapshot_unref(snap);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            fmt == HK_TEXTFMT_PROTOBUF      ? HK_PROTOFMT_CONTENT_TYPE
                            : fmt == HK_TEXTFMT_OPENMETRICS ? HK_TEXTFMT_CONTENT_TYPE_OPENMETRICS
                                                            : HK_TEXTFMT_CONTENT_TYPE_TEXT);
    if (gzip)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept, Accept-Encoding");
    return queue(wc, c, MHD_HTTP_OK, resp);
}

/* Basic auth (when basic_auth_users is configured): 401 with WWW-Authenticate otherwise. */
static bool authorized(struct hk_webconfig *wc, struct MHD_Connection *c)
{
    if (!wc || !wc->auth)
        return true;
    char *pass = NULL;
    char *user = MHD_basic_auth_get_username_password(c, &pass);
    bool ok = user && pass && hk_webconfig_authorize(wc, user, pass);
    if (pass) {
        explicit_bzero(pass, strlen(pass));
        MHD_free(pass);
    }
    if (user)
        MHD_free(user);
    return ok;
}

static enum MHD_Result send_unauthorized(struct hk_http *h, const struct hk_webconfig *wc,
                                         struct MHD_Connection *c)
{
    static const char body[] = "Unauthorized\n";
    atomic_fetch_add(&h->unauthorized, 1);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (wc)
        for (size_t i = 0; i < wc->nheaders; i++)
            MHD_add_response_header(resp, wc->headers[i].name, wc->headers[i].value);
    /* Adds WWW-Authenticate: Basic realm="hakari" and answers 401. */
    enum MHD_Result ret = MHD_queue_basic_auth_fail_response(c, "hakari", resp);
    MHD_destroy_response(resp);
    return ret;
}

static const char landing[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>hakari</title></head>\n"
    "<body><h1>hakari</h1><p>Container, pod and node metrics, the Prometheus way.</p>\n"
    "<ul><li><a href=\"metrics\">/metrics</a>: everything</li>\n"
    "<li><a href=\"metrics/node\">/metrics/node</a>: node_exporter's part (node_*, textfile)</li>\n"
    "<li><a href=\"metrics/cadvisor\">/metrics/cadvisor</a>: cAdvisor's part (container_*, "
    "machine_*)</li>\n"
    "<li><a href=\"metrics/self\">/metrics/self</a>: hakari's own (hakari_*, process_*)</li>\n"
    "<li><a href=\"-/healthy\">/-/healthy</a></li>"
    "<li><a href=\"-/ready\">/-/ready</a></li></ul>\n<p>version " HK_VERSION "</p></body></html>\n";

static struct conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static enum MHD_Result handle(struct hk_http *h, struct hk_webconfig *wc, struct MHD_Connection *c,
                              const char *url, const char *method)
{
    bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
    bool head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    int handler = H_OTHER;
    for (int i = 0; i < H_OTHER; i++)
        if (strcmp(url, handler_names[i]) == 0)
            handler = i;
    atomic_fetch_add(&h->requests[handler], 1);
    /* The probes disclose nothing (a fixed sentence, a status): the kubelet and load balancers
     * reach them without credentials, as Prometheus' own /-/healthy and /-/ready. */
    bool probe = handler == H_HEALTHY || handler == H_READY;
    if (!probe && !authorized(wc, c))
        return send_unauthorized(h, wc, c);
    if (!get && !head) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            19, (void *)"method not allowed\n", MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        return queue(wc, c, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
    }
    switch (handler) {
    case H_METRICS:
    case H_METRICS_NODE:
    case H_METRICS_CADVISOR:
    case H_METRICS_SELF:
        return serve_metrics(h, wc, c, handler);
    case H_HEALTHY:
        return send_text(wc, c, MHD_HTTP_OK, "text/plain; charset=utf-8", "hakari is healthy.\n");
    case H_READY: {
        struct hk_snapshot *s = hk_registry_acquire(h->reg);
        hk_snapshot_unref(s);
        return s ? send_text(wc, c, MHD_HTTP_OK, "text/plain; charset=utf-8", "hakari is ready.\n")
                 : send_text(wc, c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
                             "hakari is not ready: no snapshot collected yet.\n");
    }
    case H_ROOT:
        return send_text(wc, c, MHD_HTTP_OK, "text/html; charset=utf-8", landing);
    default:
        return send_text(wc, c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", "not found\n");
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    struct hk_http *h = cls;
    (void)version;
    (void)upload;
    if (*req_cls == NULL) {
        /* First call for this request: the header is complete, the connection is busy (not
         * subject to the header timeout or eviction) until on_completed. */
        *req_cls = (void *)1;
        struct conn *cn = conn_of(c);
        if (cn) {
            pthread_mutex_lock(&h->lock);
            cn->busy = true;
            pthread_mutex_unlock(&h->lock);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* GET/HEAD carry no body; discard whatever was sent */
        return MHD_YES;
    }
    struct state *st = state_get(h);
    enum MHD_Result r = handle(h, st->wc, c, url, method);
    state_put(st);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct hk_http *h = cls;
    (void)req_cls;
    (void)toe;
    struct conn *cn = conn_of(c);
    if (!cn)
        return;
    pthread_mutex_lock(&h->lock);
    cn->busy = false;
    cn->waiting_since = mono_ns();
    pthread_mutex_unlock(&h->lock);
}

/* Parses "host:port", ":port", "[v6]:port". */
static int parse_address(const char *addr, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon || colon[1] == '\0')
        return -EINVAL;
    size_t hl = (size_t)(colon - addr);
    if (hl >= sizeof(host))
        return -EINVAL;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end || errno || port > 65535)
        return -EINVAL;
    memset(ss, 0, sizeof(*ss));
    if (host[0] == '\0') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_any;
        s6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*s6);
        return 0;
    }
    struct addrinfo hints = {.ai_flags = AI_NUMERICSERV | AI_PASSIVE, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || !ai)
        return -EADDRNOTAVAIL;
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

int hk_http_check(const struct hk_http_options *opt, struct hk_error *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    const char *addr = opt->listen_address ? opt->listen_address : ":9810";
    if (parse_address(addr, &ss, &len) < 0) {
        snprintf(err->msg, sizeof(err->msg),
                 "--web.listen-address \"%s\": expected host:port, :port or [v6]:port", addr);
        return -EINVAL;
    }
    if (opt->web_config_file) {
        struct hk_webconfig *wc = NULL;
        int r = hk_webconfig_load(opt->web_config_file, &wc, err);
        hk_webconfig_free(wc);
        if (r < 0)
            return r;
    }
    return 0;
}

/* ------------------------------------------------------------ connections */

/* Client certificate policy, applied to each TLS session before its handshake (libmicrohttpd
 * only ever asks for an optional certificate and verifies nothing). A refused certificate fails
 * the handshake, as it does in Go's crypto/tls. */
static int verify_client_cert(gnutls_session_t session)
{
    struct conn *cn = gnutls_session_get_ptr(session);
    struct hk_http *h = cn->h;
    unsigned n = 0;
    const gnutls_datum_t *peers = gnutls_certificate_get_peers(session, &n);
    if (!peers || n == 0) {
        if (cn->st->wc->client_auth == HK_CLIENT_AUTH_VERIFY_IF_GIVEN)
            return 0;
        atomic_fetch_add(&h->tls_rejected, 1);
        return GNUTLS_E_CERTIFICATE_ERROR;
    }
    /* Chain to client_ca_file, validity period, and the key purpose of a TLS client. */
    gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID,
                                     (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0};
    unsigned status = 0;
    int r = gnutls_certificate_verify_peers(session, &purpose, 1, &status);
    if (r < 0 || status != 0) {
        atomic_fetch_add(&h->tls_rejected, 1);
        if (hk_log_enabled(HK_LOG_DEBUG)) {
            gnutls_datum_t why = {NULL, 0};
            if (r >= 0 && gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509,
                                                                       &why, 0) >= 0) {
                hk_log_debug("client certificate refused", "reason", (const char *)why.data);
                gnutls_free(why.data);
            }
        }
        return GNUTLS_E_CERTIFICATE_ERROR;
    }
    return 0;
}

/* Our credentials, priorities and client certificate policy on a session about to handshake. */
static void tls_session_setup(struct hk_http *h, struct conn *cn, gnutls_session_t session)
{
    cn->st = state_get(h);
    tls_maybe_rotate(h, cn->st);
    pthread_mutex_lock(&h->lock);
    cn->cred = h->cred;
    atomic_fetch_add(&cn->cred->refs, 1);
    pthread_mutex_unlock(&h->lock);
    gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, cn->cred->cred);
    gnutls_priority_set(session, cn->st->prio);
    gnutls_session_set_ptr(session, cn);
    switch (cn->st->wc->client_auth) {
    case HK_CLIENT_AUTH_NONE:
        gnutls_certificate_server_set_request(session, GNUTLS_CERT_IGNORE);
        break;
    case HK_CLIENT_AUTH_REQUEST:
        gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUEST);
        break;
    case HK_CLIENT_AUTH_REQUIRE_ANY:
        gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
        break;
    case HK_CLIENT_AUTH_VERIFY_IF_GIVEN:
    case HK_CLIENT_AUTH_REQUIRE_VERIFY:
        gnutls_certificate_server_set_request(session, cn->st->wc->client_auth ==
                                                               HK_CLIENT_AUTH_REQUIRE_VERIFY
                                                           ? GNUTLS_CERT_REQUIRE
                                                           : GNUTLS_CERT_REQUEST);
        gnutls_session_set_verify_function(session, verify_client_cert);
        break;
    }
}

/* Under h->lock: shuts cn down (libmicrohttpd sees the end of the stream and closes it, calling
 * on_connection(CLOSED) before it closes the descriptor, so cn->fd is still ours here). */
static void conn_shut(struct hk_http *h, struct conn *cn, int reason)
{
    shutdown(cn->fd, SHUT_RDWR);
    cn->shut = true;
    h->nlive--;
    h->closed[reason]++;
}

/* Under h->lock: one line per 10 s at most with what was closed since the last one. */
static void close_log(struct hk_http *h, uint64_t now)
{
    if (h->close_logged_at && now - h->close_logged_at < 10000000000ULL)
        return;
    char n[CLOSE_N][24];
    bool any = false;
    for (int i = 0; i < CLOSE_N; i++) {
        uint64_t d = h->closed[i] - h->closed_logged[i];
        any |= d > 0;
        snprintf(n[i], sizeof(n[i]), "%llu", (unsigned long long)d);
        h->closed_logged[i] = h->closed[i];
    }
    if (!any)
        return;
    h->close_logged_at = now;
    char limit[24];
    snprintf(limit, sizeof(limit), "%u", h->max_conns);
    hk_log_warn("HTTP connections closed: slow or idle clients, or too many connections (see "
                "hakari_http_connections_closed_total)",
                "header_timeout", n[CLOSE_HEADER_TIMEOUT], "evicted", n[CLOSE_EVICTED], "refused",
                n[CLOSE_REFUSED], "max_connections", limit);
}

static void conn_start(struct hk_http *h, struct MHD_Connection *c, void **socket_context)
{
    struct conn *cn = calloc(1, sizeof(*cn));
    if (!cn)
        return; /* untracked: served, never evicted */
    cn->h = h;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    cn->fd = ci ? ci->connect_fd : -1;
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            memcpy(cn->peer, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        else if (sa->sa_family == AF_INET6)
            memcpy(cn->peer, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
    }
    if (h->tls) {
        ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (ci && ci->tls_session)
            tls_session_setup(h, cn, (gnutls_session_t)ci->tls_session);
    }
    uint64_t now = mono_ns();
    cn->waiting_since = now;
    pthread_mutex_lock(&h->lock);
    cn->prev = h->conns.prev;
    cn->next = &h->conns;
    h->conns.prev->next = cn;
    h->conns.prev = cn;
    h->nlive++;
    if (h->nlive > h->max_conns) {
        /* Full: make room by closing, among the client addresses holding the most connections,
         * the connection that has waited longest for a request (idle, or trickling its
         * header), or refuse this one if all are being answered. One address flooding us
         * thus evicts its own connections before a scraper's. */
        struct conn *victim = cn;
        size_t victim_n = 0;
        for (struct conn *o = h->conns.next; o != &h->conns; o = o->next) {
            if (o == cn || o->busy || o->shut || o->fd < 0)
                continue;
            size_t n = 0;
            for (struct conn *p = h->conns.next; p != &h->conns; p = p->next)
                n += !p->shut && memcmp(p->peer, o->peer, sizeof(o->peer)) == 0;
            if (victim == cn || n > victim_n ||
                (n == victim_n && o->waiting_since < victim->waiting_since)) {
                victim = o;
                victim_n = n;
            }
        }
        if (cn->fd >= 0 || victim != cn)
            conn_shut(h, victim, victim == cn ? CLOSE_REFUSED : CLOSE_EVICTED);
        close_log(h, now);
    }
    pthread_mutex_unlock(&h->lock);
    *socket_context = cn;
}

static void conn_end(struct hk_http *h, struct conn *cn)
{
    pthread_mutex_lock(&h->lock);
    cn->prev->next = cn->next;
    cn->next->prev = cn->prev;
    if (!cn->shut)
        h->nlive--;
    pthread_mutex_unlock(&h->lock);
    cred_put(cn->cred);
    state_put(cn->st);
    free(cn);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct hk_http *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        conn_start(h, c, socket_context);
    else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context)
        conn_end(h, *socket_context);
}

/* Shuts down connections that have waited longer than the header timeout for a complete
 * request header: a client trickling its header byte by byte keeps libmicrohttpd's idle timeout
 * from ever firing. Wakes every quarter of the timeout (at most every second). */
static void *reaper_main(void *arg)
{
    struct hk_http *h = arg;
    uint64_t step = h->header_timeout_ns / 4;
    if (step > 1000000000ULL)
        step = 1000000000ULL;
    pthread_mutex_lock(&h->lock);
    while (!h->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t at = (uint64_t)ts.tv_nsec + step;
        ts.tv_sec += (time_t)(at / 1000000000ULL);
        ts.tv_nsec = (long)(at % 1000000000ULL);
        pthread_cond_timedwait(&h->reaper_cond, &h->lock, &ts);
        if (h->stopping)
            break;
        uint64_t now = mono_ns();
        for (struct conn *o = h->conns.next; o != &h->conns; o = o->next)
            if (!o->busy && !o->shut && o->fd >= 0 && now - o->waiting_since > h->header_timeout_ns)
                conn_shut(h, o, CLOSE_HEADER_TIMEOUT);
        close_log(h, now); /* also what the accept path could not log yet */
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    hk_log_debug("http", "detail", msg);
}

static void http_free(struct hk_http *h)
{
    if (h->reaper_started) {
        pthread_mutex_lock(&h->lock);
        h->stopping = true;
        pthread_cond_signal(&h->reaper_cond);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->reaper, NULL);
    }
    if (h->daemon)
        MHD_stop_daemon(h->daemon); /* closes every connection: conn_end for each */
    cred_put(h->cred);
    state_put(h->state);
    pthread_cond_destroy(&h->reaper_cond);
    pthread_mutex_destroy(&h->lock);
    free(h->web_config_file);
    free(h);
}

int hk_http_start(const struct hk_http_options *opt, struct hk_registry *reg, struct hk_http **ret,
                  struct hk_error *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int r = hk_http_check(opt, err);
    if (r < 0)
        return r;
    /* Checked above, but a host name may resolve differently a moment later. */
    if (parse_address(opt->listen_address ? opt->listen_address : ":9810", &ss, &len) < 0)
        return hk_error_at(err, NULL, "--web.listen-address \"%s\": cannot be resolved",
                           opt->listen_address ? opt->listen_address : ":9810");
    struct hk_http *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->reaper_cond, &ca);
    pthread_condattr_destroy(&ca);
    h->conns.next = h->conns.prev = &h->conns;
    h->reg = reg;
    h->max_body = opt->max_body_bytes ? opt->max_body_bytes : 512u << 20;
    h->max_conns = opt->max_connections ? opt->max_connections : 64;
    h->header_timeout_ns =
        (uint64_t)(opt->header_timeout_ms ? opt->header_timeout_ms : 10000) * 1000000ULL;
    struct hk_webconfig *wc = NULL;
    if (opt->web_config_file) {
        if (!(h->web_config_file = strdup(opt->web_config_file))) {
            r = -ENOMEM;
            goto fail;
        }
        if ((r = hk_webconfig_load(opt->web_config_file, &wc, err)) < 0)
            goto fail;
    }
    h->tls = wc && wc->tls;
    r = state_new(wc, &h->state, err); /* owns wc from here, on failure too */
    wc = h->state ? h->state->wc : NULL;
    if (r < 0)
        goto fail;
    if (h->tls && (r = cred_from_wc(h->state->wc, &h->cred, err)) < 0)
        goto fail;
    h->tls_checked = mono_ns();

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_AUTO;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_DUAL_STACK;
    struct MHD_OptionItem tls_opts[4];
    size_t nt = 0;
    if (h->tls) {
        /* libmicrohttpd wants a certificate to start; every session gets ours instead
         * (tls_session_setup), so later rotations and reloads apply. */
        flags |= MHD_USE_TLS;
        tls_opts[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, wc->key_pem};
        tls_opts[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, wc->cert_pem};
        tls_opts[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, wc->priorities};
    }
    tls_opts[nt] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    unsigned threads = opt->threads ? opt->threads : 2;
    /* libmicrohttpd's own limit (split between the pool's threads) stays above ours, so a new
     * connection reaches conn_start, which makes room by eviction, or refuses and counts. */
    unsigned hard_limit = 2 * h->max_conns + 4 * threads;
    h->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT, hard_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(opt->timeout_s ? opt->timeout_s : 30),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, h, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, NULL, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err->msg, sizeof(err->msg), "cannot listen on %s: %s",
                 opt->listen_address ? opt->listen_address : ":9810",
                 errno ? strerror(errno) : "libmicrohttpd refused the options");
        r = -EADDRINUSE;
        goto fail;
    }
    if ((r = -pthread_create(&h->reaper, NULL, reaper_main, h)) < 0) {
        snprintf(err->msg, sizeof(err->msg), "cannot start the HTTP reaper thread: %s",
                 strerror(-r));
        goto fail;
    }
    h->reaper_started = true;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    *ret = h;
    return 0;
fail:
    http_free(h); /* wc: NULL, freed by state_new, or the state's */
    return r;
}

int hk_http_reload(struct hk_http *h, struct hk_error *err)
{
    if (!h || !h->web_config_file)
        return 0;
    struct hk_webconfig *wc = NULL;
    int r = hk_webconfig_load(h->web_config_file, &wc, err);
    if (r < 0)
        goto fail;
    if (wc->tls != h->tls) {
        hk_webconfig_free(wc);
        snprintf(err->msg, sizeof(err->msg),
                 "%.300s: tls_server_config %s: switching between HTTP and HTTPS needs a restart",
                 h->web_config_file, h->tls ? "removed" : "added");
        r = -EINVAL;
        goto fail;
    }
    struct tls_cred *c = NULL;
    if (h->tls && (r = cred_from_wc(wc, &c, err)) < 0) {
        hk_webconfig_free(wc);
        goto fail;
    }
    struct state *st = NULL;
    if ((r = state_new(wc, &st, err)) < 0) {
        cred_put(c);
        goto fail;
    }
    pthread_mutex_lock(&h->lock);
    struct state *old_st = h->state;
    struct tls_cred *old_c = h->cred;
    h->state = st;
    if (h->tls) {
        h->cred = c;
        h->tls_checked = mono_ns();
    }
    pthread_mutex_unlock(&h->lock);
    state_put(old_st);
    if (h->tls)
        cred_put(old_c);
    atomic_fetch_add(&h->reloads[1], 1);
    return 1;
fail:
    atomic_fetch_add(&h->reloads[0], 1);
    return r;
}

uint16_t hk_http_port(const struct hk_http *h)
{
    return h->port;
}

void hk_http_stop(struct hk_http *h)
{
    if (h)
        http_free(h);
}

static const char *const handler_label[] = {"handler", NULL};
static const struct hk_metric_desc desc_requests = {"hakari_http_requests_total",
                                                    "HTTP requests received, by handler.",
                                                    HK_METRIC_COUNTER, "", handler_label};
static const struct hk_metric_desc desc_500 = {"hakari_http_render_errors_total",
                                               "Scrapes answered 500 because rendering failed.",
                                               HK_METRIC_COUNTER, "", NULL};
static const struct hk_metric_desc desc_render = {"hakari_http_render_seconds_total",
                                                  "Time spent rendering exposition bodies.",
                                                  HK_METRIC_COUNTER, "seconds", NULL};
static const struct hk_metric_desc desc_renders = {
    "hakari_http_renders_total",
    "Exposition bodies rendered (one per snapshot, endpoint and format).", HK_METRIC_COUNTER, "",
    NULL};

static const struct hk_metric_desc desc_unauth = {
    "hakari_http_unauthorized_total", "Requests refused with 401 (basic auth missing or wrong).",
    HK_METRIC_COUNTER, "", NULL};
static const struct hk_metric_desc desc_tls_rejected = {
    "hakari_http_tls_client_cert_rejected_total",
    "TLS client certificates that did not verify against client_ca_file (a missing one is "
    "refused by the handshake itself and not counted here).",
    HK_METRIC_COUNTER, "", NULL};

static const struct hk_metric_desc desc_bcrypt = {
    "hakari_http_auth_bcrypt_total",
    "bcrypt verifications run for basic auth (successes are cached for 60 s).", HK_METRIC_COUNTER,
    "", NULL};

static const char *const reason_label[] = {"reason", NULL};
static const struct hk_metric_desc desc_closed = {
    "hakari_http_connections_closed_total",
    "Connections closed by hakari: header_timeout (no complete request header within "
    "--web.read-header-timeout), evicted (the longest-waiting connection of the client address "
    "holding the most, to make room past --web.max-connections), refused (past the limit with "
    "every connection busy).",
    HK_METRIC_COUNTER, "", reason_label};
static const struct hk_metric_desc desc_conns = {
    "hakari_http_connections", "Open HTTP connections (not counting those being closed).",
    HK_METRIC_GAUGE, "", NULL};
static const char *const result_label[] = {"result", NULL};
static const struct hk_metric_desc desc_reloads = {
    "hakari_http_web_config_reloads_total",
    "Reloads of --web.config.file on SIGHUP, by result (a failure keeps the previous one).",
    HK_METRIC_COUNTER, "", result_label};
static const struct hk_metric_desc desc_tls_reloads = {
    "hakari_http_tls_credentials_reloads_total",
    "Certificate, key or client CA files found changed on disk and loaded (success) or left "
    "unused because they did not load (failure).",
    HK_METRIC_COUNTER, "", result_label};

void hk_http_self_metrics(struct hk_builder *b, void *http)
{
    struct hk_http *h = http;
    struct state *st = state_get(h);
    const struct hk_webconfig *wc = st->wc;
    if (wc && wc->auth) {
        hk_emit(b, &desc_unauth, NULL, (double)atomic_load(&h->unauthorized));
        hk_emit(b, &desc_bcrypt, NULL, (double)hk_webconfig_bcrypt_runs(wc));
    }
    if (wc && wc->tls && wc->client_auth >= HK_CLIENT_AUTH_VERIFY_IF_GIVEN)
        hk_emit(b, &desc_tls_rejected, NULL, (double)atomic_load(&h->tls_rejected));
    state_put(st);
    static const char *const results[2] = {"failure", "success"};
    if (h->web_config_file)
        for (int i = 0; i < 2; i++) {
            const char *v[] = {results[i]};
            hk_emit(b, &desc_reloads, v, (double)atomic_load(&h->reloads[i]));
        }
    if (h->tls)
        for (int i = 0; i < 2; i++) {
            const char *v[] = {results[i]};
            hk_emit(b, &desc_tls_reloads, v, (double)atomic_load(&h->tls_reloads[i]));
        }
    for (int i = 0; i < H_N; i++) {
        const char *v[] = {handler_names[i]};
        hk_emit(b, &desc_requests, v, (double)atomic_load(&h->requests[i]));
    }
    uint64_t closed[CLOSE_N];
    pthread_mutex_lock(&h->lock);
    memcpy(closed, h->closed, sizeof(closed));
    size_t live = h->nlive;
    pthread_mutex_unlock(&h->lock);
    for (int i = 0; i < CLOSE_N; i++) {
        const char *v[] = {close_reasons[i]};
        hk_emit(b, &desc_closed, v, (double)closed[i]);
    }
    hk_emit(b, &desc_conns, NULL, (double)live);
    hk_emit(b, &desc_500, NULL, (double)atomic_load(&h->errors_500));
    hk_emit(b, &desc_render, NULL, (double)atomic_load(&h->render_ns_total) / 1e9);
    hk_emit(b, &desc_renders, NULL, (double)atomic_load(&h->renders));
}
