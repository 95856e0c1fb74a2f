/* HTTP exposition on libmicrohttpd: a thread pool with a connection limit and idle timeouts.
 * Rendered bodies (plain and gzip, per format) hang off the snapshot they came from, so every
 * scrape of one snapshot shares one rendering, and each response holds a snapshot reference
 * until libmicrohttpd has sent it. */
#include "exporter/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/log.h"
#include "exporter/negotiate.h"
#include "exporter/textfmt.h"
#include "exporter/webconfig.h"

struct rendered {
    char *body;
    size_t len;
    int err;                      /* render error: answer 500 */
    _Atomic(struct gz *) gz;      /* gzip of body, made on first demand */
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
 * text and OpenMetrics bodies. */
struct scope {
    unsigned targets; /* HK_TEXTFMT_TARGET bits */
    enum hk_snapshot_slot_id slot_text, slot_openmetrics;
};
static const struct scope scopes[] = {
    [H_METRICS] = {HK_TEXTFMT_ALL_TARGETS, HK_SLOT_TEXT, HK_SLOT_OPENMETRICS},
    [H_METRICS_NODE] = {HK_TEXTFMT_TARGET(HK_TARGET_NODE), HK_SLOT_NODE_TEXT,
                        HK_SLOT_NODE_OPENMETRICS},
    [H_METRICS_CADVISOR] = {HK_TEXTFMT_TARGET(HK_TARGET_CADVISOR), HK_SLOT_CADVISOR_TEXT,
                            HK_SLOT_CADVISOR_OPENMETRICS},
    [H_METRICS_SELF] = {HK_TEXTFMT_TARGET(HK_TARGET_SELF), HK_SLOT_SELF_TEXT,
                        HK_SLOT_SELF_OPENMETRICS},
};

struct hk_http {
    struct MHD_Daemon *daemon;
    struct hk_registry *reg;
    struct hk_webconfig *wc; /* NULL: plain HTTP, no auth */
    size_t max_body;
    uint16_t port;
    atomic_uint_fast64_t requests[H_N];
    atomic_uint_fast64_t errors_500;
    atomic_uint_fast64_t render_ns_total;
    atomic_uint_fast64_t renders;
    atomic_uint_fast64_t unauthorized;
    atomic_uint_fast64_t tls_rejected;
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
    enum hk_snapshot_slot_id slot = fmt == HK_TEXTFMT_TEXT ? sc->slot_text : sc->slot_openmetrics;
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
    r->err = hk_textfmt_render_targets(snap, fmt, sc->targets, &b);
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

/* Queues resp with the configured extra headers (http_server_config.headers) and drops our
 * reference to it. */
static enum MHD_Result queue(struct hk_http *h, struct MHD_Connection *c, unsigned status,
                             struct MHD_Response *resp)
{
    if (h->wc)
        for (size_t i = 0; i < h->wc->nheaders; i++)
            MHD_add_response_header(resp, h->wc->headers[i].name, h->wc->headers[i].value);
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_text(struct hk_http *h, struct MHD_Connection *c, unsigned status,
                                 const char *type, const char *text)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                                                MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    return queue(h, c, status, resp);
}

static void unref_cb(void *cls)
{
    hk_snapshot_unref(cls);
}

static enum MHD_Result serve_metrics(struct hk_http *h, struct MHD_Connection *c, int handler)
{
    struct hk_snapshot *snap = hk_registry_acquire(h->reg);
    if (!snap)
        return send_text(h, c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
                         "no snapshot collected yet\n");
    bool om = hk_negotiate_format(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                              MHD_HTTP_HEADER_ACCEPT)) ==
              HK_TEXTFMT_OPENMETRICS;
    struct rendered *r =
        get_rendered(h, snap, &scopes[handler], om ? HK_TEXTFMT_OPENMETRICS : HK_TEXTFMT_TEXT);
    if (!r || r->err) {
        char msg[160];
        snprintf(msg, sizeof(msg), "rendering failed: %s\n",
                 r ? strerror(-r->err) : "out of memory");
        hk_snapshot_unref(snap);
        atomic_fetch_add(&h->errors_500, 1);
        hk_log_error("cannot render the exposition", "path", handler_names[handler], "err", msg);
        return send_text(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", msg);
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
                            om ? HK_TEXTFMT_CONTENT_TYPE_OPENMETRICS : HK_TEXTFMT_CONTENT_TYPE_TEXT);
    if (gzip)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept, Accept-Encoding");
    return queue(h, c, MHD_HTTP_OK, resp);
}

/* Basic auth (when basic_auth_users is configured): 401 with WWW-Authenticate otherwise. */
static bool authorized(struct hk_http *h, struct MHD_Connection *c)
{
    if (!h->wc || !h->wc->auth)
        return true;
    char *pass = NULL;
    char *user = MHD_basic_auth_get_username_password(c, &pass);
    bool ok = user && pass && hk_webconfig_authorize(h->wc, user, pass);
    if (pass) {
        explicit_bzero(pass, strlen(pass));
        MHD_free(pass);
    }
    if (user)
        MHD_free(user);
    return ok;
}

static enum MHD_Result send_unauthorized(struct hk_http *h, struct MHD_Connection *c)
{
    static const char body[] = "Unauthorized\n";
    atomic_fetch_add(&h->unauthorized, 1);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (h->wc)
        for (size_t i = 0; i < h->wc->nheaders; i++)
            MHD_add_response_header(resp, h->wc->headers[i].name, h->wc->headers[i].value);
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

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    struct hk_http *h = cls;
    if (*req_cls == NULL) {
        /* First call for this request: headers only. */
        *req_cls = (void *)1;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* GET/HEAD carry no body; discard whatever was sent */
        return MHD_YES;
    }
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
    if (!probe && !authorized(h, c))
        return send_unauthorized(h, c);
    if (!get && !head) {
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(19, (void *)"method not allowed\n",
                                            MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        return queue(h, c, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
    }
    switch (handler) {
    case H_METRICS:
    case H_METRICS_NODE:
    case H_METRICS_CADVISOR:
    case H_METRICS_SELF:
        return serve_metrics(h, c, handler);
    case H_HEALTHY:
        return send_text(h, c, MHD_HTTP_OK, "text/plain; charset=utf-8", "hakari is healthy.\n");
    case H_READY: {
        struct hk_snapshot *s = hk_registry_acquire(h->reg);
        hk_snapshot_unref(s);
        return s ? send_text(h, c, MHD_HTTP_OK, "text/plain; charset=utf-8", "hakari is ready.\n")
                 : send_text(h, c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
                             "hakari is not ready: no snapshot collected yet.\n");
    }
    case H_ROOT:
        return send_text(h, c, MHD_HTTP_OK, "text/html; charset=utf-8", landing);
    default:
        return send_text(h, c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", "not found\n");
    }
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

/* Client certificate policy, applied to each TLS session before its handshake (libmicrohttpd
 * only ever asks for an optional certificate and verifies nothing). A refused certificate fails
 * the handshake, as it does in Go's crypto/tls. */
static int verify_client_cert(gnutls_session_t session)
{
    struct hk_http *h = gnutls_session_get_ptr(session);
    unsigned n = 0;
    const gnutls_datum_t *peers = gnutls_certificate_get_peers(session, &n);
    if (!peers || n == 0) {
        if (h->wc->client_auth == HK_CLIENT_AUTH_VERIFY_IF_GIVEN)
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
            if (r >= 0 && gnutls_certificate_verification_status_print(
                              status, GNUTLS_CRT_X509, &why, 0) >= 0) {
                hk_log_debug("client certificate refused", "reason", (const char *)why.data);
                gnutls_free(why.data);
            }
        }
        return GNUTLS_E_CERTIFICATE_ERROR;
    }
    return 0;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct hk_http *h = cls;
    if (toe != MHD_CONNECTION_NOTIFY_STARTED || !h->wc || !h->wc->tls)
        return;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return;
    gnutls_session_t session = (gnutls_session_t)ci->tls_session;
    switch (h->wc->client_auth) {
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
        gnutls_certificate_server_set_request(session, h->wc->client_auth ==
                                                               HK_CLIENT_AUTH_REQUIRE_VERIFY
                                                           ? GNUTLS_CERT_REQUIRE
                                                           : GNUTLS_CERT_REQUEST);
        gnutls_session_set_ptr(session, h);
        gnutls_session_set_verify_function(session, verify_client_cert);
        break;
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    hk_log_debug("http", "detail", msg);
}

int hk_http_start(const struct hk_http_options *opt, struct hk_registry *reg,
                  struct hk_http **ret, struct hk_error *err)
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
    if (opt->web_config_file && (r = hk_webconfig_load(opt->web_config_file, &h->wc, err)) < 0) {
        free(h);
        return r;
    }
    h->reg = reg;
    h->max_body = opt->max_body_bytes ? opt->max_body_bytes : 512u << 20;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_AUTO;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_DUAL_STACK;
    struct MHD_OptionItem tls_opts[6];
    size_t nt = 0;
    if (h->wc && h->wc->tls) {
        flags |= MHD_USE_TLS;
        tls_opts[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, h->wc->key_pem};
        tls_opts[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, h->wc->cert_pem};
        tls_opts[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                                 h->wc->priorities};
        if (h->wc->ca_pem)
            tls_opts[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, h->wc->ca_pem};
        tls_opts[nt++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION,
                                                 (intptr_t)on_connection, h};
    }
    tls_opts[nt] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    h->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(opt->threads ? opt->threads : 2),
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)(opt->max_connections ? opt->max_connections : 64),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(opt->timeout_s ? opt->timeout_s : 30),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, NULL, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err->msg, sizeof(err->msg), "cannot listen on %s: %s",
                 opt->listen_address ? opt->listen_address : ":9810",
                 errno ? strerror(errno) : "libmicrohttpd refused the options");
        hk_webconfig_free(h->wc);
        free(h);
        return -EADDRINUSE;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    *ret = h;
    return 0;
}

uint16_t hk_http_port(const struct hk_http *h)
{
    return h->port;
}

void hk_http_stop(struct hk_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    hk_webconfig_free(h->wc);
    free(h);
}

static const char *const handler_label[] = {"handler", NULL};
static const struct hk_metric_desc desc_requests = {
    "hakari_http_requests_total", "HTTP requests received, by handler.", HK_METRIC_COUNTER, "",
    handler_label};
static const struct hk_metric_desc desc_500 = {
    "hakari_http_render_errors_total", "Scrapes answered 500 because rendering failed.",
    HK_METRIC_COUNTER, "", NULL};
static const struct hk_metric_desc desc_render = {
    "hakari_http_render_seconds_total", "Time spent rendering exposition bodies.",
    HK_METRIC_COUNTER, "seconds", NULL};
static const struct hk_metric_desc desc_renders = {
    "hakari_http_renders_total",
    "Exposition bodies rendered (one per snapshot, endpoint and format).", HK_METRIC_COUNTER, "",
    NULL};

static const struct hk_metric_desc desc_unauth = {
    "hakari_http_unauthorized_total",
    "Requests refused with 401 (basic auth missing or wrong).", HK_METRIC_COUNTER, "", NULL};
static const struct hk_metric_desc desc_tls_rejected = {
    "hakari_http_tls_client_cert_rejected_total",
    "TLS client certificates that did not verify against client_ca_file (a missing one is "
    "refused by the handshake itself and not counted here).",
    HK_METRIC_COUNTER, "", NULL};

static const struct hk_metric_desc desc_bcrypt = {
    "hakari_http_auth_bcrypt_total",
    "bcrypt verifications run for basic auth (successes are cached for 60 s).", HK_METRIC_COUNTER,
    "", NULL};

void hk_http_self_metrics(struct hk_builder *b, void *http)
{
    struct hk_http *h = http;
    if (h->wc && h->wc->auth) {
        hk_emit(b, &desc_unauth, NULL, (double)atomic_load(&h->unauthorized));
        hk_emit(b, &desc_bcrypt, NULL, (double)hk_webconfig_bcrypt_runs(h->wc));
    }
    if (h->wc && h->wc->tls && h->wc->client_auth >= HK_CLIENT_AUTH_VERIFY_IF_GIVEN)
        hk_emit(b, &desc_tls_rejected, NULL, (double)atomic_load(&h->tls_rejected));
    for (int i = 0; i < H_N; i++) {
        const char *v[] = {handler_names[i]};
        hk_emit(b, &desc_requests, v, (double)atomic_load(&h->requests[i]));
    }
    hk_emit(b, &desc_500, NULL, (double)atomic_load(&h->errors_500));
    hk_emit(b, &desc_render, NULL, (double)atomic_load(&h->render_ns_total) / 1e9);
    hk_emit(b, &desc_renders, NULL, (double)atomic_load(&h->renders));
}
