/* SPDX-License-Identifier: Apache-2.0 */
/* Remote-write sender (see rw_send.h). Rounds: read consecutive queue records of one snapshot
 * (each a ready request, at most max_samples_per_send x shards samples in all), deal them out to
 * the shards, send each shard's records one after the other (retried until accepted or refused
 * for good), then commit the savepoint to the end of the round. A snapshot's records hold
 * disjoint series and a round's requests are all settled before the savepoint moves and the next
 * round starts, so a crash resends at most one round and every series stays in timestamp order.
 * Over 800 lines because shards, request building, authentication, the curl multi loop and response
 * classification share the shard and round state. */
#include "exporter/rw_send.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "core/log.h"
#include "exporter/rw_creds.h"
#include "exporter/rw_encode.h"
#include "exporter/rw_http.h"

#define SHARD_EVAL_MS 5000 /* how often the shard count is reconsidered */
#define BACKLOG_DRAIN_S 10 /* a backlog should be gone within this many seconds */
#define HK_RW_AUTH_GRACE_MS 120000 /* 401/403 retried this long when credentials rotate */

const double hk_rw_duration_bounds[HK_RW_DURATION_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                              0.5,   1,    2.5,   5,    10,  30};

struct range {
    uint32_t lo, hi;
};

/* One queue record of the round: a ready request (format 2), or an HKR1 record of an older
 * version (format 1, always decoded). */
struct item {
    char *data; /* the payload as read */
    size_t len;
    struct hk_rw_qrec q;
    struct hk_rw_payload_info info; /* format 2 */
};

struct shard {
    struct hk_rw_sender *s;
    unsigned idx;
    CURL *easy;
    struct curl_slist *hdrs;
    /* The round's records this shard sends, one after the other (indexes into s->items). */
    size_t *items;
    size_t nitems, capitems, icur;
    /* Slow path: the current record decoded, sent in ranges of its samples (a 413 splits a
     * range) re-encoded in the sender's protocol. Fast path (!slow): the stored body as it is. */
    bool slow;
    struct hk_rw_record dec;
    const struct hk_rw_sample **samples; /* dec's samples; NULL once dropped as too old */
    size_t cap;
    struct range *ranges;
    size_t nranges, capranges, cur;
    const struct hk_rw_sample **enc;
    size_t nenc;
    /* the request in flight */
    const char *send_body;
    size_t send_len;
    uint32_t nsend;
    int64_t send_newest_ms;
    bool inflight;
    int64_t next_try_ms;
    unsigned attempt;
    bool auth_refreshed;
    uint64_t sent_gen;      /* cred_gen when the request in flight was prepared */
    int64_t auth_fail_ms;   /* first 401/403 of the current range; 0 = none */
    struct hk_buf pb, body, resp;
    struct hk_rw_resp_hdrs hdrs_seen;
    enum hk_rw_proto sent_proto;
    int64_t start_ms;
};

struct hk_rw_sender {
    const struct hk_rw_config *cfg;
    struct hk_rw_queue *q;
    struct hk_rw_stats *st;
    CURLM *multi;
    struct shard *shards;
    uint32_t nshards, round_shards;
    enum hk_rw_proto proto;
    /* round */
    bool round_active, round_full, round_had_retry;
    struct item *items;
    size_t nitems, capitems;
    uint64_t round_end, round_samples;
    bool has_carry;
    struct item carry;
    uint64_t read_pos;
    int64_t first_pending_ms; /* monotonic; 0 = nothing pending, -1 = send now */
    int64_t last_durable_ms, last_sync_ms;
    struct hk_buf qbuf;
    /* shard controller (see adjust_shards) */
    int64_t round_start_ms;
    int64_t eval_start_ms;
    uint64_t eval_appended0; /* samples_total at eval_start_ms */
    uint64_t eval_round_samples;
    double eval_shard_ms; /* sum over rounds of wall time x shards */
    uint64_t eval_min_pending; /* lowest backlog seen after a round in this window */
    double prev_per_shard; /* the previous window's per-shard rate, 0 = none */
    bool flushing;         /* stopping: no new samples come, the backlog is all there is */
    uint64_t rng;
    long last_logged_status;
    /* auth */
    char *auth_header;
    int64_t token_expiry_ms;
    char *sigv4_param;
    struct hk_rw_aws *aws; /* current SigV4 keys */
    struct hk_rw_secret basic_pw, bearer, oauth_secret; /* path NULL = not from a file */
    uint64_t cred_gen; /* bumped whenever a credential changes */
    struct curl_slist *connect_to;
    char *url;
    /* metadata */
    CURL *meta_easy;
    struct curl_slist *meta_hdrs;
    struct hk_buf meta_body;
    bool meta_inflight;
};

int64_t hk_rw_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t hk_rw_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t rng_next(uint64_t *x)
{
    /* xorshift64* */
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 0x2545F4914F6CDD1DULL;
}

int64_t hk_rw_backoff_ms(int64_t min_ms, int64_t max_ms, unsigned attempt, uint64_t *rng)
{
    /* Capped exponential backoff with full jitter: uniform in [min, min(max, min*2^attempt)]. */
    int64_t cap = min_ms;
    for (unsigned i = 0; i < attempt && cap < max_ms; i++)
        cap *= 2;
    if (cap > max_ms)
        cap = max_ms;
    if (cap <= min_ms)
        return min_ms;
    return min_ms + (int64_t)(rng_next(rng) % (uint64_t)(cap - min_ms + 1));
}

/* ---- auth ---- */

static size_t collect_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct hk_buf *b = ud;
    size_t n = size * nmemb;
    hk_buf_put(b, ptr, n); /* capped buffer: the rest is ignored */
    return n;
}

static void apply_tls(const struct hk_rw_config *c, CURL *e)
{
    if (c->tls_ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, c->tls_ca_file);
    if (c->tls_cert_file) {
        curl_easy_setopt(e, CURLOPT_SSLCERT, c->tls_cert_file);
        curl_easy_setopt(e, CURLOPT_SSLKEY, c->tls_key_file);
    }
    if (c->tls_insecure_skip_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (c->tls_min_version) {
        long v = CURL_SSLVERSION_TLSv1_2;
        if (!strcmp(c->tls_min_version, "TLS10"))
            v = CURL_SSLVERSION_TLSv1_0;
        else if (!strcmp(c->tls_min_version, "TLS11"))
            v = CURL_SSLVERSION_TLSv1_1;
        else if (!strcmp(c->tls_min_version, "TLS13"))
            v = CURL_SSLVERSION_TLSv1_3;
        curl_easy_setopt(e, CURLOPT_SSLVERSION, v);
    }
    if (c->proxy_url)
        curl_easy_setopt(e, CURLOPT_PROXY, c->proxy_url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
}

/* OAuth2 client credentials: POST the token URL, cache the token until half its lifetime. */
static int oauth2_fetch(struct hk_rw_sender *s)
{
    const struct hk_rw_config *c = s->cfg;
    CURL *e = curl_easy_init();
    struct hk_buf form, resp;
    cJSON *json = NULL;
    int r = -ENOMEM;
    hk_buf_init(&form, 64 * 1024);
    hk_buf_init(&resp, 256 * 1024);
    if (!e)
        goto out;
    char *esc;
    hk_buf_puts(&form, "grant_type=client_credentials&client_id=");
    if ((esc = curl_easy_escape(e, c->oauth2_client_id, 0))) {
        hk_buf_puts(&form, esc);
        curl_free(esc);
    }
    hk_buf_puts(&form, "&client_secret=");
    const char *secret = s->oauth_secret.path ? s->oauth_secret.value : c->oauth2_client_secret;
    if ((esc = curl_easy_escape(e, secret ? secret : "", 0))) {
        hk_buf_puts(&form, esc);
        curl_free(esc);
    }
    if (c->oauth2_nscopes) {
        hk_buf_puts(&form, "&scope=");
        for (size_t i = 0; i < c->oauth2_nscopes; i++) {
            if (i)
                hk_buf_puts(&form, "%20");
            if ((esc = curl_easy_escape(e, c->oauth2_scopes[i], 0))) {
                hk_buf_puts(&form, esc);
                curl_free(esc);
            }
        }
    }
    for (size_t i = 0; i < c->oauth2_nparams; i++) {
        char *k = curl_easy_escape(e, c->oauth2_params[i].name, 0);
        char *v = curl_easy_escape(e, c->oauth2_params[i].value, 0);
        if (k && v)
            hk_buf_printf(&form, "&%s=%s", k, v);
        curl_free(k);
        curl_free(v);
    }
    if (form.err) {
        r = form.err;
        goto out;
    }
    curl_easy_setopt(e, CURLOPT_URL, c->oauth2_token_url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, form.data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)form.len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->remote_timeout_ms);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "hakari/" HK_VERSION);
    apply_tls(c, e);
    CURLcode cc = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK || status / 100 != 2) {
        char st[16];
        snprintf(st, sizeof(st), "%ld", status);
        hk_log_warn("remote-write oauth2 token request failed", "remote_name", c->name, "status",
                    st, "err", cc != CURLE_OK ? curl_easy_strerror(cc) : "http status");
        r = -EACCES;
        goto out;
    }
    hk_buf_putc(&resp, '\0');
    json = cJSON_Parse(resp.data ? resp.data : "");
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(json, "access_token");
    const cJSON *typ = cJSON_GetObjectItemCaseSensitive(json, "token_type");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(json, "expires_in");
    if (!cJSON_IsString(tok) || !tok->valuestring[0]) {
        hk_log_warn("remote-write oauth2 token response has no access_token", "remote_name",
                    c->name);
        r = -EBADMSG;
        goto out;
    }
    const char *type = cJSON_IsString(typ) && typ->valuestring[0] ? typ->valuestring : "Bearer";
    if (!strcasecmp(type, "bearer"))
        type = "Bearer";
    struct hk_buf h;
    hk_buf_init(&h, 64 * 1024);
    hk_buf_printf(&h, "Authorization: %s %s", type, tok->valuestring);
    if (h.err) {
        r = h.err;
        hk_buf_free(&h);
        goto out;
    }
    free(s->auth_header);
    s->auth_header = hk_buf_steal(&h, NULL);
    double life_s = cJSON_IsNumber(exp) && exp->valuedouble > 0 ? exp->valuedouble : 3600;
    s->token_expiry_ms = hk_rw_now_ms() + (int64_t)(life_s * 1000 / 2);
    r = 0;
out:
    cJSON_Delete(json);
    hk_buf_free(&form);
    hk_buf_free(&resp);
    if (e)
        curl_easy_cleanup(e);
    return r;
}

/* Credentials from files or STS: checked before each request (rate-limited inside), forced after
 * a 401/403. Rebuilds what the requests carry when something changed; bumps cred_gen. */
static void creds_refresh(struct hk_rw_sender *s, bool force)
{
    const struct hk_rw_config *c = s->cfg;
    int64_t now = hk_rw_now_ms();
    bool changed = false;
    if (hk_rw_secret_poll(&s->basic_pw, now, force, c->name) > 0)
        changed = true;
    if (hk_rw_secret_poll(&s->bearer, now, force, c->name) > 0) {
        struct hk_buf b;
        hk_buf_init(&b, HK_RW_SMALL_MAX);
        hk_buf_printf(&b, "Authorization: %s %s", c->auth_type, s->bearer.value);
        char *h = hk_buf_steal(&b, NULL);
        if (h) {
            if (s->auth_header)
                explicit_bzero(s->auth_header, strlen(s->auth_header));
            free(s->auth_header);
            s->auth_header = h;
            changed = true;
        }
    }
    if (hk_rw_secret_poll(&s->oauth_secret, now, force, c->name) > 0) {
        s->token_expiry_ms = 0; /* a new token with the new secret before the next request */
        changed = true;
    }
    if (s->aws && hk_rw_aws_refresh(s->aws, force) > 0)
        changed = true;
    if (changed)
        s->cred_gen++;
}

/* Whether a 401/403 may be cured by credentials that change at run time. */
static bool creds_rotate(const struct hk_rw_sender *s)
{
    return s->basic_pw.path || s->bearer.path || s->oauth_secret.path ||
           (s->aws && hk_rw_aws_rotates(s->aws));
}

static const char *basic_password(const struct hk_rw_sender *s)
{
    return s->basic_pw.path ? s->basic_pw.value : s->cfg->basic_password;
}

/* tls_config.server_name: request the URL with that host name (SNI and certificate check) and
 * connect to the configured host with CURLOPT_CONNECT_TO. */
static int server_name_setup(struct hk_rw_sender *s)
{
    const struct hk_rw_config *c = s->cfg;
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL;
    int r = -EINVAL;
    if (!u || curl_url_set(u, CURLUPART_URL, c->url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
        goto out;
    char ct[1024];
    snprintf(ct, sizeof(ct), "%s:%s:%s:%s", c->tls_server_name, port, host, port);
    if (!(s->connect_to = curl_slist_append(NULL, ct)))
        goto out;
    if (curl_url_set(u, CURLUPART_HOST, c->tls_server_name, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &s->url, 0) != CURLUE_OK)
        goto out;
    r = 0;
out:
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return r;
}

/* ---- requests ---- */

static size_t resp_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct shard *sh = ud;
    size_t n = size * nmemb;
    hk_rw_resp_body(&sh->resp, ptr, n);
    return n;
}

static size_t header_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct shard *sh = ud;
    size_t n = size * nmemb;
    hk_rw_resp_header(&sh->hdrs_seen, ptr, n, hk_rw_wall_ms() / 1000);
    return n;
}

static struct curl_slist *base_headers(struct hk_rw_sender *s, enum hk_rw_proto proto,
                                       unsigned attempt)
{
    const struct hk_rw_config *c = s->cfg;
    struct curl_slist *h = NULL, *t;
    char line[64];
#define ADD(x)                                                                                     \
    do {                                                                                           \
        if (!(t = curl_slist_append(h, (x))))                                                      \
            goto fail;                                                                             \
        h = t;                                                                                     \
    } while (0)
    ADD("Content-Encoding: snappy");
    if (proto == HK_RW_V2) {
        ADD("Content-Type: application/x-protobuf;proto=io.prometheus.write.v2.Request");
        ADD("X-Prometheus-Remote-Write-Version: 2.0.0");
    } else {
        ADD("Content-Type: application/x-protobuf");
        ADD("X-Prometheus-Remote-Write-Version: 0.1.0");
    }
    ADD("User-Agent: hakari/" HK_VERSION);
    ADD("Expect:");
    if (attempt > 0) {
        snprintf(line, sizeof(line), "Retry-Attempt: %u", attempt);
        ADD(line);
    }
    for (size_t i = 0; i < c->nheaders; i++) {
        struct hk_buf b;
        hk_buf_init(&b, 16384);
        hk_buf_printf(&b, "%s: %s", c->headers[i].name, c->headers[i].value);
        if (b.err) {
            hk_buf_free(&b);
            goto fail;
        }
        t = curl_slist_append(h, b.data);
        hk_buf_free(&b);
        if (!t)
            goto fail;
        h = t;
    }
    if (s->auth_header)
        ADD(s->auth_header);
    if (s->aws && hk_rw_aws_token_header(s->aws))
        ADD(hk_rw_aws_token_header(s->aws));
#undef ADD
    return h;
fail:
    curl_slist_free_all(h);
    return NULL;
}

static void setup_easy(struct hk_rw_sender *s, CURL *e)
{
    const struct hk_rw_config *c = s->cfg;
    curl_easy_setopt(e, CURLOPT_URL, s->url ? s->url : c->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->remote_timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(c->remote_timeout_ms < 10000 ? c->remote_timeout_ms : 10000));
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, c->follow_redirects ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(e, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    if (c->basic_username) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, c->basic_username);
        curl_easy_setopt(e, CURLOPT_PASSWORD, basic_password(s));
    }
    if (s->sigv4_param) {
        curl_easy_setopt(e, CURLOPT_AWS_SIGV4, s->sigv4_param);
        curl_easy_setopt(e, CURLOPT_USERPWD, s->aws ? hk_rw_aws_userpwd(s->aws) : NULL);
    }
    if (s->connect_to)
        curl_easy_setopt(e, CURLOPT_CONNECT_TO, s->connect_to);
    apply_tls(c, e);
}

static void log_status_change(struct hk_rw_sender *s, long status, CURLcode cc,
                              const struct hk_buf *body, const char *action)
{
    long key = cc != CURLE_OK ? -(long)cc : status;
    if (key == s->last_logged_status)
        return;
    s->last_logged_status = key;
    char st[16];
    snprintf(st, sizeof(st), "%ld", status);
    char text[HK_RW_RESP_MAX + 1];
    hk_rw_resp_text(body, text, sizeof(text));
    hk_log_warn("remote-write request failed", "remote_name", s->cfg->name, "url", s->cfg->url,
                "status", st, "err", cc != CURLE_OK ? curl_easy_strerror(cc) : "", "action", action,
                "body", text);
}

static void observe_duration(struct hk_rw_stats *st, int64_t ms)
{
    double sec = (double)ms / 1000.0;
    for (int i = 0; i < HK_RW_DURATION_BUCKETS; i++)
        if (sec <= hk_rw_duration_bounds[i]) {
            atomic_fetch_add(&st->duration_buckets[i], 1);
            break;
        }
    atomic_fetch_add(&st->duration_count, 1);
    atomic_fetch_add(&st->duration_sum_us, (uint64_t)ms * 1000);
}

static void bump_max(atomic_int_fast64_t *a, int64_t v)
{
    int64_t cur = atomic_load(a);
    while (v > cur && !atomic_compare_exchange_weak(a, &cur, v))
        ;
}

/* Leaves the shard's current record: the next one starts on the fast path. */
static void item_done(struct shard *sh)
{
    if (sh->slow)
        hk_rw_record_free(&sh->dec);
    sh->slow = false;
    sh->nranges = sh->cur = 0;
    sh->icur++;
    sh->attempt = 0;
    sh->auth_refreshed = false;
    sh->auth_fail_ms = 0;
    sh->next_try_ms = 0;
}

/* Decodes the shard's current record for the slow path: one range of all its samples.
 * Returns 0, 1 (undecodable: counted and skipped) or -ENOMEM. */
static int slow_begin(struct shard *sh, const struct item *it)
{
    struct hk_rw_sender *s = sh->s;
    int r = it->q.format == 1
                ? hk_rw_record_decode(it->data, it->len, &sh->dec)
                : hk_rw_request_decode(it->info.proto, it->data + HK_RW_PAYLOAD_PREFIX,
                                       it->len - HK_RW_PAYLOAD_PREFIX, &sh->dec);
    if (r == -ENOMEM)
        return r;
    if (r < 0) {
        atomic_fetch_add(&s->st->samples_dropped[HK_RW_DROP_CORRUPT], it->q.nsamples);
        hk_log_warn("remote-write queue: undecodable record skipped", "remote_name", s->cfg->name);
        return 1;
    }
    size_t n = sh->dec.nsamples;
    if (n > sh->cap) {
        const struct hk_rw_sample **a = realloc(sh->samples, n * sizeof(*a));
        const struct hk_rw_sample **b = a ? realloc(sh->enc, n * sizeof(*b)) : NULL;
        if (a)
            sh->samples = a;
        if (!b) {
            hk_rw_record_free(&sh->dec);
            return -ENOMEM;
        }
        sh->enc = b;
        sh->cap = n;
    }
    if (!sh->capranges) {
        if (!(sh->ranges = calloc(4, sizeof(*sh->ranges)))) {
            hk_rw_record_free(&sh->dec);
            return -ENOMEM;
        }
        sh->capranges = 4;
    }
    for (size_t i = 0; i < n; i++)
        sh->samples[i] = &sh->dec.samples[i];
    sh->ranges[0] = (struct range){0, (uint32_t)n};
    sh->nranges = 1;
    sh->cur = 0;
    sh->slow = true;
    return 0;
}

/* Picks what the shard sends next: its current record's stored body (fast path: a format-2
 * record in a protocol the receiver takes, none of its samples past sample_age_limit), or the
 * current range of the decoded record re-encoded (slow path). Returns 1 (sh->send_* set), 0
 * (nothing left) or -errno. */
static int next_request(struct shard *sh)
{
    struct hk_rw_sender *s = sh->s;
    const struct hk_rw_config *c = s->cfg;
    int r;
    while (sh->icur < sh->nitems) {
        const struct item *it = &s->items[sh->items[sh->icur]];
        int64_t now_wall = hk_rw_wall_ms();
        if (!sh->slow) {
            bool old = c->queue.sample_age_limit_ms &&
                       now_wall - it->q.oldest_ms > c->queue.sample_age_limit_ms;
            if (it->q.format == 2 && !old &&
                (it->info.proto == HK_RW_V1 || it->info.proto == s->proto)) {
                sh->sent_proto = it->info.proto;
                sh->send_body = it->data + HK_RW_PAYLOAD_PREFIX;
                sh->send_len = it->len - HK_RW_PAYLOAD_PREFIX;
                sh->nsend = it->q.nsamples;
                sh->send_newest_ms = it->info.newest_ms;
                return 1;
            }
            if ((r = slow_begin(sh, it)) < 0)
                return r;
            if (r > 0) {
                item_done(sh);
                continue;
            }
        }
        while (sh->cur < sh->nranges) {
            struct range rg = sh->ranges[sh->cur];
            sh->nenc = 0;
            uint64_t too_old = 0;
            for (uint32_t i = rg.lo; i < rg.hi; i++) {
                const struct hk_rw_sample *x = sh->samples[i];
                if (!x)
                    continue; /* dropped as too old by an earlier attempt */
                if (c->queue.sample_age_limit_ms &&
                    now_wall - x->ts_ms > c->queue.sample_age_limit_ms) {
                    sh->samples[i] = NULL; /* counted once */
                    too_old++;
                    continue;
                }
                sh->enc[sh->nenc++] = x;
            }
            if (too_old)
                atomic_fetch_add(&s->st->samples_dropped[HK_RW_DROP_TOO_OLD], too_old);
            if (sh->nenc)
                break;
            sh->cur++;
            sh->attempt = 0;
        }
        if (sh->cur >= sh->nranges) {
            item_done(sh);
            continue;
        }
        hk_buf_reset(&sh->pb);
        sh->sent_proto = s->proto;
        r = sh->sent_proto == HK_RW_V2 ? hk_rw_encode_v2(sh->enc, sh->nenc, &sh->pb)
                                       : hk_rw_encode_v1(sh->enc, sh->nenc, &sh->pb);
        if (r == 0)
            r = hk_rw_snappy_compress(sh->pb.data, sh->pb.len, &sh->body);
        if (r < 0)
            return r;
        int64_t newest = 0;
        for (size_t i = 0; i < sh->nenc; i++)
            if (sh->enc[i]->ts_ms > newest)
                newest = sh->enc[i]->ts_ms;
        sh->send_body = sh->body.data;
        sh->send_len = sh->body.len;
        sh->nsend = (uint32_t)sh->nenc;
        sh->send_newest_ms = newest;
        return 1;
    }
    return 0;
}

/* Prepares and starts the shard's next request. Returns 1 started, 0 nothing to send. */
static int launch(struct shard *sh)
{
    struct hk_rw_sender *s = sh->s;
    const struct hk_rw_config *c = s->cfg;
    int r = next_request(sh);
    if (r <= 0)
        return r;
    creds_refresh(s, false);
    if (s->aws && !hk_rw_aws_userpwd(s->aws)) { /* STS has not answered yet */
        sh->next_try_ms =
            hk_rw_now_ms() + hk_rw_backoff_ms(c->queue.min_backoff_ms, c->queue.max_backoff_ms,
                                              sh->attempt++, &s->rng);
        return 0;
    }
    if (s->auth_header && s->cfg->oauth2_client_id && hk_rw_now_ms() >= s->token_expiry_ms)
        oauth2_fetch(s); /* on failure the old token is tried; a 401 leads to a retry */
    else if (!s->auth_header && s->cfg->oauth2_client_id && oauth2_fetch(s) < 0) {
        sh->next_try_ms =
            hk_rw_now_ms() + hk_rw_backoff_ms(c->queue.min_backoff_ms, c->queue.max_backoff_ms,
                                              sh->attempt++, &s->rng);
        return 0;
    }
    curl_slist_free_all(sh->hdrs);
    if (!(sh->hdrs = base_headers(s, sh->sent_proto, sh->attempt)))
        return -ENOMEM;
    hk_buf_reset(&sh->resp);
    hk_rw_resp_hdrs_reset(&sh->hdrs_seen);
    CURL *e = sh->easy;
    sh->sent_gen = s->cred_gen;
    if (c->basic_username)
        curl_easy_setopt(e, CURLOPT_PASSWORD, basic_password(s));
    if (s->aws)
        curl_easy_setopt(e, CURLOPT_USERPWD, hk_rw_aws_userpwd(s->aws));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, sh->hdrs);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, sh->send_body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)sh->send_len);
    if (curl_multi_add_handle(s->multi, e) != CURLM_OK)
        return -EIO;
    sh->inflight = true;
    sh->start_ms = hk_rw_now_ms();
    return 1;
}

static void fallback_v1(struct hk_rw_sender *s, const char *why)
{
    if (s->proto == HK_RW_V1)
        return;
    s->proto = HK_RW_V1;
    atomic_fetch_add(&s->st->fallbacks_v1, 1);
    hk_log_warn("remote-write receiver does not take 2.0, falling back to 1.0 and resending",
                "remote_name", s->cfg->name, "url", s->cfg->url, "reason", why);
}

static void schedule_retry(struct shard *sh, long status, CURLcode cc)
{
    struct hk_rw_sender *s = sh->s;
    const struct hk_rw_config *c = s->cfg;
    atomic_fetch_add(&s->st->samples_retried, sh->nsend);
    int64_t delay =
        hk_rw_backoff_ms(c->queue.min_backoff_ms, c->queue.max_backoff_ms, sh->attempt, &s->rng);
    /* Retry-After replaces the backoff, but never shortens it below min_backoff: "Retry-After: 0"
     * (or a date in the past) must not turn retries into a busy loop. */
    if (sh->hdrs_seen.retry_after_ms >= 0)
        delay = sh->hdrs_seen.retry_after_ms > c->queue.min_backoff_ms
                    ? sh->hdrs_seen.retry_after_ms
                    : hk_rw_backoff_ms(c->queue.min_backoff_ms, c->queue.max_backoff_ms,
                                       sh->attempt, &s->rng);
    sh->attempt++;
    sh->next_try_ms = hk_rw_now_ms() + delay;
    s->round_had_retry = true;
    log_status_change(s, status, cc, &sh->resp, "retry");
}

/* The request in flight is settled: the next range of a decoded record, or the next record. */
static void range_done(struct shard *sh)
{
    if (sh->slow && sh->cur + 1 < sh->nranges) {
        sh->cur++;
        sh->attempt = 0;
        sh->auth_refreshed = false;
        sh->auth_fail_ms = 0;
        sh->next_try_ms = 0;
        return;
    }
    item_done(sh);
}

static void complete(struct shard *sh, CURLcode cc)
{
    struct hk_rw_sender *s = sh->s;
    long status = 0;
    curl_easy_getinfo(sh->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(s->multi, sh->easy);
    sh->inflight = false;
    observe_duration(s->st, hk_rw_now_ms() - sh->start_ms);
    /* A 2xx whose headers all arrived is the receiver's word that it took the samples, even when
     * the body after them is cut off or garbage (curl reports a partial transfer): resending would
     * deliver them twice. */
    if (cc != CURLE_OK && status >= 200 && status < 300 && sh->hdrs_seen.complete)
        cc = CURLE_OK;
    if (cc != CURLE_OK) {
        schedule_retry(sh, status, cc);
        return;
    }
    switch (
        hk_rw_verdict(status, sh->sent_proto, &sh->hdrs_seen, s->cfg->queue.retry_on_http_429)) {
    case HK_RW_FALLBACK_NO_HEADER:
        fallback_v1(s, "2xx without X-Prometheus-Remote-Write-Samples-Written");
        return; /* same range, re-encoded as 1.0 */
    case HK_RW_ACCEPTED: {
        atomic_fetch_add(&s->st->samples_sent, sh->nsend);
        atomic_fetch_add(&s->st->bytes_sent, sh->send_len);
        bump_max(&s->st->highest_sent_ts_ms, sh->send_newest_ms);
        if (s->last_logged_status != 0 && s->last_logged_status != 200) {
            hk_log_info("remote-write requests succeed again", "remote_name", s->cfg->name);
            s->last_logged_status = 200;
        }
        range_done(sh);
        return;
    }
    case HK_RW_FALLBACK_415:
        /* The receiver's own words, as for every other refusal (once per change of status). */
        log_status_change(s, status, cc, &sh->resp, "fallback to 1.0");
        fallback_v1(s, "415 Unsupported Media Type");
        return;
    case HK_RW_SPLIT: {
        if (!sh->slow && sh->nsend > 1) {
            /* A stored body too large for the receiver: decoded, then sent in halves. */
            int r = slow_begin(sh, &s->items[sh->items[sh->icur]]);
            if (r < 0) {
                schedule_retry(sh, status, cc);
                return;
            }
            if (r > 0) {
                item_done(sh);
                return;
            }
        }
        if (!sh->slow)
            break; /* a single sample too large: dropped */
        struct range rg = sh->ranges[sh->cur];
        if (rg.hi - rg.lo > 1) {
            /* Split in two, in order: [lo, mid) then [mid, hi) replace the current range. */
            if (sh->nranges + 1 > sh->capranges) {
                size_t nc = sh->capranges * 2 + 4;
                struct range *n = realloc(sh->ranges, nc * sizeof(*n));
                if (!n) {
                    schedule_retry(sh, status, cc);
                    return;
                }
                sh->ranges = n;
                sh->capranges = nc;
            }
            memmove(&sh->ranges[sh->cur + 2], &sh->ranges[sh->cur + 1],
                    (sh->nranges - sh->cur - 1) * sizeof(*sh->ranges));
            uint32_t mid = rg.lo + (rg.hi - rg.lo) / 2;
            sh->ranges[sh->cur] = (struct range){rg.lo, mid};
            sh->ranges[sh->cur + 1] = (struct range){mid, rg.hi};
            sh->nranges++;
            atomic_fetch_add(&s->st->requests_split, 1);
            log_status_change(s, status, cc, &sh->resp, "split");
            return;
        }
        break; /* a single sample too large: dropped */
    }
    case HK_RW_RETRY:
        schedule_retry(sh, status, cc);
        return;
    case HK_RW_AUTH:
        if (s->cfg->oauth2_client_id && !sh->auth_refreshed && !s->oauth_secret.path) {
            sh->auth_refreshed = true;
            if (oauth2_fetch(s) == 0)
                return; /* resend now with the new token */
        }
        if (creds_rotate(s)) {
            /* The secret may have been rotated under us: re-read it now. Sent with an older
             * secret than the current one: resend at once. Else retry with backoff for
             * HK_RW_AUTH_GRACE_MS (a mounted Secret reaches the file a minute or so after the
             * receiver switched), then drop as Prometheus does. */
            creds_refresh(s, true);
            if (s->cfg->oauth2_client_id && !sh->auth_refreshed) {
                sh->auth_refreshed = true;
                if (oauth2_fetch(s) == 0)
                    return;
            }
            if (s->cred_gen != sh->sent_gen) {
                log_status_change(s, status, cc, &sh->resp, "resend with new credentials");
                return;
            }
            int64_t now = hk_rw_now_ms();
            if (!sh->auth_fail_ms)
                sh->auth_fail_ms = now;
            if (now - sh->auth_fail_ms < HK_RW_AUTH_GRACE_MS) {
                schedule_retry(sh, status, cc);
                return;
            }
        }
        break;
    case HK_RW_DROP:
        break;
    }
    atomic_fetch_add(&s->st->samples_failed, sh->nsend);
    log_status_change(s, status, cc, &sh->resp, "drop");
    range_done(sh);
}

/* ---- rounds ---- */

static void round_free(struct hk_rw_sender *s)
{
    for (size_t i = 0; i < s->nitems; i++)
        free(s->items[i].data);
    s->nitems = 0;
    for (uint32_t i = 0; i < s->cfg->queue.max_shards; i++) {
        struct shard *sh = &s->shards[i];
        if (sh->slow)
            hk_rw_record_free(&sh->dec);
        sh->slow = false;
        sh->nitems = sh->icur = 0;
        sh->nranges = sh->cur = 0;
        sh->attempt = 0;
    }
}

/* Next record (carried over, or from the queue). 1, 0 (none), -errno. Records whose format-2
 * prefix does not parse are skipped and counted here. */
static int next_item(struct hk_rw_sender *s, struct item *it)
{
    if (s->has_carry) {
        *it = s->carry;
        s->has_carry = false;
        return 1;
    }
    for (;;) {
        int r = hk_rw_queue_read(s->q, &s->read_pos, &s->qbuf, &it->q);
        if (r <= 0)
            return r;
        memset(&it->info, 0, sizeof(it->info));
        if (it->q.format == 1 || hk_rw_payload_parse(s->qbuf.data, s->qbuf.len, &it->info) == 0) {
            it->data = hk_buf_steal(&s->qbuf, &it->len);
            return it->data ? 1 : -ENOMEM;
        }
        atomic_fetch_add(&s->st->samples_dropped[HK_RW_DROP_CORRUPT], it->q.nsamples);
        s->round_end = it->q.next;
        s->round_samples += it->q.nsamples;
        hk_log_warn("remote-write queue: undecodable record skipped", "remote_name", s->cfg->name);
    }
}

/* Whether b may be sent in the same round as a (in parallel with it): records of one snapshot
 * hold disjoint series, so no series can overtake itself. Old-format records go alone. */
static bool same_round(const struct item *a, const struct item *b)
{
    return a->q.format == 2 && b->q.format == 2 && a->info.group == b->info.group;
}

static int shard_add(struct shard *sh, size_t idx)
{
    if (sh->nitems == sh->capitems) {
        size_t nc = sh->capitems ? sh->capitems * 2 : 16;
        size_t *n = realloc(sh->items, nc * sizeof(*n));
        if (!n)
            return -ENOMEM;
        sh->items = n;
        sh->capitems = nc;
    }
    sh->items[sh->nitems++] = idx;
    return 0;
}

/* A round: consecutive records of one snapshot, at most max_samples_per_send x shards samples,
 * dealt out to the shards in turn. Each record is one request. */
static int start_round(struct hk_rw_sender *s)
{
    const uint32_t max = s->cfg->queue.max_samples_per_send;
    int r = 0;
    s->round_full = s->round_had_retry = false;
    s->round_end = hk_rw_queue_committed(s->q);
    s->round_samples = 0;
    size_t total = 0;
    for (;;) {
        struct item it;
        if (total >= (size_t)max * s->nshards) {
            s->round_full = true;
            break;
        }
        r = next_item(s, &it);
        if (r < 0)
            goto out;
        if (r == 0)
            break;
        if (s->nitems > 0 && !same_round(&s->items[0], &it)) {
            s->carry = it;
            s->has_carry = true;
            s->round_full = true;
            break;
        }
        if (s->nitems == s->capitems) {
            size_t nc = s->capitems ? s->capitems * 2 : 16;
            struct item *n = realloc(s->items, nc * sizeof(*n));
            if (!n) {
                free(it.data);
                r = -ENOMEM;
                goto out;
            }
            s->items = n;
            s->capitems = nc;
        }
        s->items[s->nitems++] = it;
        total += it.q.nsamples;
        s->round_end = it.q.next;
        s->round_samples += it.q.nsamples;
    }
    /* As many shards as records, at most nshards (never 0: min_shards >= 1). */
    s->round_shards = s->nshards ? s->nshards : 1;
    if (s->nitems < s->round_shards)
        s->round_shards = s->nitems ? (uint32_t)s->nitems : 1;
    for (uint32_t k = 0; k < s->round_shards; k++) {
        struct shard *sh = &s->shards[k];
        sh->nitems = sh->icur = 0;
        sh->nranges = sh->cur = 0;
        sh->attempt = 0;
        sh->next_try_ms = 0;
    }
    for (size_t i = 0; i < s->nitems; i++)
        if ((r = shard_add(&s->shards[i % s->round_shards], i)) < 0)
            goto out;
    s->round_active = true;
    s->round_start_ms = hk_rw_now_ms();
    s->first_pending_ms = s->round_full || s->has_carry ? -1 : 0;
    r = 0;
out:
    return r;
}

static void shard_eval_reset(struct hk_rw_sender *s, int64_t now)
{
    s->eval_start_ms = now;
    s->eval_appended0 = atomic_load(&s->st->samples_total);
    s->eval_round_samples = 0;
    s->eval_shard_ms = 0;
    s->eval_min_pending = UINT64_MAX;
}

/* Shards needed = rate to deliver / rate one shard achieves, both measured over the last
 * SHARD_EVAL_MS. The rate to deliver is what was appended plus the backlog spread over
 * BACKLOG_DRAIN_S; a shard's rate is the samples of the rounds divided by their wall time times
 * their shards (so a receiver that slows down as requests are added raises the per-sample cost
 * and stops the growth where more parallel requests no longer help). 30% headroom; a change
 * smaller than that is ignored. Rounds are sequential, so a new count applies from the next
 * round and every series stays in order. */
static void adjust_shards(struct hk_rw_sender *s, int64_t now, const struct hk_rw_queue_stats *qs)
{
    const struct hk_rw_queue_config *qc = &s->cfg->queue;
    if (!s->eval_start_ms) {
        shard_eval_reset(s, now);
        return;
    }
    int64_t span = now - s->eval_start_ms;
    if (span < SHARD_EVAL_MS || !s->eval_round_samples || s->eval_shard_ms <= 0)
        return;
    /* Kept up: the backlog fell below one round's worth at some point in the window, so the
     * shards in use delivered everything queued. Per-shard rates measured on a few small rounds
     * (start-up, a busy host) can be far too low; they must not add shards that are not needed. */
    bool kept_up = s->eval_min_pending < (uint64_t)qc->max_samples_per_send * s->nshards;
    double appended = (double)(atomic_load(&s->st->samples_total) - s->eval_appended0);
    double need = appended * 1000.0 / (double)span + (double)qs->pending_samples / BACKLOG_DRAIN_S;
    /* A shard's rate: the better of this window's and the last one's, so one window spent in a
     * receiver's stall (a merge, a GC pause) does not multiply the count by ten. */
    double measured = (double)s->eval_round_samples * 1000.0 / s->eval_shard_ms;
    double per_shard = measured > s->prev_per_shard ? measured : s->prev_per_shard;
    double want = need * 1.3 / per_shard;
    uint32_t desired = qc->max_shards;
    if (want <= qc->min_shards)
        desired = qc->min_shards;
    else if (want < qc->max_shards) {
        desired = (uint32_t)want;
        if ((double)desired < want)
            desired++; /* rounded up */
    }
    if (desired > s->nshards && kept_up)
        desired = s->nshards;
    if (desired != s->nshards) {
        char a[32], b[32], c[32], d[32];
        snprintf(a, sizeof(a), "%.0f", need);
        snprintf(b, sizeof(b), "%.0f", per_shard);
        snprintf(c, sizeof(c), "%u", s->nshards);
        snprintf(d, sizeof(d), "%u", desired);
        hk_log_debug("remote-write shards", "remote_name", s->cfg->name, "need_samples_per_s", a,
                     "per_shard_samples_per_s", b, "shards", c, "desired", d);
    }
    if (desired > s->nshards || ((double)desired < (double)s->nshards * 0.7 && !s->flushing))
        s->nshards = desired;
    s->prev_per_shard = measured;
    shard_eval_reset(s, now);
}

static void finish_round(struct hk_rw_sender *s)
{
    const struct hk_rw_queue_config *qc = &s->cfg->queue;
    int64_t now = hk_rw_now_ms();
    bool durable =
        qc->fsync == HK_RW_FSYNC_BATCH || now - s->last_durable_ms >= qc->fsync_interval_ms;
    int r = hk_rw_queue_commit(s->q, s->round_end, s->round_samples, durable);
    if (r < 0)
        hk_log_error("remote-write: cannot write the savepoint", "remote_name", s->cfg->name, "err",
                     strerror(-r));
    else if (durable)
        s->last_durable_ms = now;
    round_free(s);
    s->round_active = false;
    if (s->round_had_retry) {
        /* Trouble at the receiver: halve, and measure afresh. */
        s->nshards = s->nshards / 2 > qc->min_shards ? s->nshards / 2 : qc->min_shards;
        s->prev_per_shard = 0;
        shard_eval_reset(s, now);
    } else {
        struct hk_rw_queue_stats qs;
        hk_rw_queue_get_stats(s->q, &qs);
        s->eval_round_samples += s->round_samples;
        s->eval_shard_ms += (double)(now - s->round_start_ms + 1) * s->round_shards;
        if (qs.pending_samples < s->eval_min_pending)
            s->eval_min_pending = qs.pending_samples;
        adjust_shards(s, now, &qs);
    }
    atomic_store(&s->st->shards, s->nshards);
    /* Shards no longer in use give their buffers back. */
    for (uint32_t k = s->nshards; k < qc->max_shards; k++) {
        struct shard *sh = &s->shards[k];
        if (!sh->cap)
            continue;
        free(sh->samples);
        free(sh->enc);
        sh->samples = sh->enc = NULL;
        sh->cap = 0;
        hk_buf_free(&sh->pb);
        hk_buf_free(&sh->body);
    }
}

static void update_queue_stats(struct hk_rw_sender *s)
{
    struct hk_rw_queue_stats qs;
    hk_rw_queue_get_stats(s->q, &qs);
    atomic_store(&s->st->samples_pending, qs.pending_samples);
    atomic_store(&s->st->disk_bytes, qs.disk_bytes);
    atomic_store(&s->st->samples_dropped[HK_RW_DROP_DISK_FULL], qs.dropped_samples);
    int64_t oldest = 0;
    if (s->round_active)
        for (size_t i = 0; i < s->nitems && !oldest; i++)
            if (s->items[i].q.nsamples)
                oldest = s->items[i].q.oldest_ms;
    if (!oldest && qs.pending_samples)
        oldest = atomic_load(&s->st->oldest_pending_ms); /* keep the last known */
    atomic_store(&s->st->oldest_pending_ms, qs.pending_samples ? oldest : 0);
}

static bool should_start(struct hk_rw_sender *s, int64_t now, bool flushing)
{
    struct hk_rw_queue_stats qs;
    if (s->has_carry)
        return true;
    hk_rw_queue_get_stats(s->q, &qs);
    if (!qs.pending_bytes)
        return false;
    if (flushing || s->first_pending_ms < 0)
        return true;
    if (qs.pending_samples >= (uint64_t)s->cfg->queue.max_samples_per_send * s->nshards)
        return true;
    if (s->first_pending_ms == 0)
        s->first_pending_ms = now;
    return now - s->first_pending_ms >= s->cfg->queue.batch_send_deadline_ms;
}

static int step(struct hk_rw_sender *s, int max_wait_ms, bool flushing)
{
    int64_t now = hk_rw_now_ms();
    int r;
    /* Secret files and STS keys are kept current even while nothing is sent, so STS keys are
     * renewed ahead of their expiry rather than at the first request after it. */
    creds_refresh(s, false);
    if (!s->round_active && should_start(s, now, flushing)) {
        if ((r = start_round(s)) < 0) {
            round_free(s);
            return r;
        }
    }
    int64_t wake = now + max_wait_ms;
    if (s->round_active) {
        bool busy = false;
        for (uint32_t k = 0; k < s->round_shards; k++) {
            struct shard *sh = &s->shards[k];
            if (sh->inflight) {
                busy = true;
                continue;
            }
            if (sh->icur >= sh->nitems)
                continue;
            if (sh->next_try_ms > now) {
                busy = true;
                if (sh->next_try_ms < wake)
                    wake = sh->next_try_ms;
                continue;
            }
            r = launch(sh);
            if (r < 0)
                hk_log_error("remote-write: cannot build a request", "remote_name", s->cfg->name,
                             "err", strerror(-r));
            if (r != 0 || sh->icur < sh->nitems)
                busy = true;
            if (r == 0 && sh->icur < sh->nitems && sh->next_try_ms < wake)
                wake = sh->next_try_ms;
        }
        if (!busy) {
            finish_round(s);
            update_queue_stats(s);
            return 0; /* loop again at once: the next round may be ready */
        }
    } else if (s->first_pending_ms > 0) {
        int64_t due = s->first_pending_ms + s->cfg->queue.batch_send_deadline_ms;
        if (due < wake)
            wake = due;
    }
    if (s->cfg->queue.fsync == HK_RW_FSYNC_INTERVAL &&
        now - s->last_sync_ms >= s->cfg->queue.fsync_interval_ms) {
        hk_rw_queue_sync(s->q);
        s->last_sync_ms = now;
    }
    if (s->aws) {
        int64_t due = hk_rw_aws_due_ms(s->aws);
        if (due < wake)
            wake = due > now ? due : now + 100; /* at most 10 STS attempts a second */
    }
    int running = 0;
    curl_multi_perform(s->multi, &running);
    int timeout = (int)(wake > now ? wake - now : 0);
    curl_multi_poll(s->multi, NULL, 0, timeout, NULL);
    curl_multi_perform(s->multi, &running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(s->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct shard *sh = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&sh);
        CURLcode cc = m->data.result;
        if (sh)
            complete(sh, cc);
        else if (m->easy_handle == s->meta_easy) {
            long status = 0;
            curl_easy_getinfo(s->meta_easy, CURLINFO_RESPONSE_CODE, &status);
            curl_multi_remove_handle(s->multi, s->meta_easy);
            s->meta_inflight = false;
            if (cc == CURLE_OK && status / 100 == 2)
                atomic_fetch_add(&s->st->metadata_sent, 1);
        }
    }
    update_queue_stats(s);
    return 0;
}

int hk_rw_sender_poll(struct hk_rw_sender *s, int max_wait_ms)
{
    return step(s, max_wait_ms, false);
}

enum hk_rw_proto hk_rw_sender_proto(const struct hk_rw_sender *s)
{
    return s->proto;
}

void hk_rw_sender_wakeup(struct hk_rw_sender *s)
{
    curl_multi_wakeup(s->multi);
}

void hk_rw_sender_notify_append(struct hk_rw_sender *s)
{
    if (s->first_pending_ms == 0)
        s->first_pending_ms = hk_rw_now_ms();
}

void hk_rw_sender_flush(struct hk_rw_sender *s, int64_t deadline_ms)
{
    /* Deliver what is queued until the deadline, or until the receiver fails (the data is on
     * disk, so waiting out a down receiver would only delay the stop); the rest stays queued
     * for the next start. */
    s->flushing = true; /* the shard count may still grow, but no longer shrinks */
    while (hk_rw_now_ms() < deadline_ms && !s->round_had_retry) {
        if (!s->round_active && !should_start(s, hk_rw_now_ms(), true))
            break;
        int64_t left = deadline_ms - hk_rw_now_ms();
        if (step(s, left < 100 ? (int)left : 100, true) < 0)
            break;
    }
    if (s->round_active)
        hk_log_warn("remote-write: stopping with data queued on disk; it is sent after the "
                    "next start",
                    "remote_name", s->cfg->name);
    hk_rw_queue_sync(s->q);
}

int hk_rw_sender_send_metadata(struct hk_rw_sender *s, const void *body, size_t len)
{
    if (s->meta_inflight || s->proto != HK_RW_V1)
        return -EBUSY;
    int r = hk_rw_snappy_compress(body, len, &s->meta_body);
    if (r < 0)
        return r;
    curl_slist_free_all(s->meta_hdrs);
    if (!(s->meta_hdrs = base_headers(s, HK_RW_V1, 0)))
        return -ENOMEM;
    if (s->cfg->basic_username)
        curl_easy_setopt(s->meta_easy, CURLOPT_PASSWORD, basic_password(s));
    if (s->aws)
        curl_easy_setopt(s->meta_easy, CURLOPT_USERPWD, hk_rw_aws_userpwd(s->aws));
    curl_easy_setopt(s->meta_easy, CURLOPT_HTTPHEADER, s->meta_hdrs);
    curl_easy_setopt(s->meta_easy, CURLOPT_POSTFIELDS, s->meta_body.data);
    curl_easy_setopt(s->meta_easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->meta_body.len);
    if (curl_multi_add_handle(s->multi, s->meta_easy) != CURLM_OK)
        return -EIO;
    s->meta_inflight = true;
    return 0;
}

static size_t discard_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    return size * nmemb;
}

int hk_rw_sender_new(const struct hk_rw_config *cfg, struct hk_rw_queue *q,
                     struct hk_rw_stats *stats, struct hk_rw_sender **ret)
{
    struct hk_rw_sender *s = calloc(1, sizeof(*s));
    struct hk_buf b;
    int r = -ENOMEM;
    if (!s)
        return -ENOMEM;
    s->cfg = cfg;
    s->q = q;
    s->st = stats;
    s->proto = cfg->proto;
    s->nshards = cfg->queue.min_shards;
    s->read_pos = hk_rw_queue_committed(q);
    s->rng = (uint64_t)hk_rw_wall_ms() * 0x9E3779B97F4A7C15ULL ^ (uintptr_t)s;
    if (!s->rng)
        s->rng = 1;
    hk_buf_init(&s->qbuf, HK_RW_RECORD_MAX);
    hk_buf_init(&s->meta_body, HK_RW_BODY_MAX);
    atomic_store(&stats->shards, s->nshards);
    if (!(s->multi = curl_multi_init()))
        goto fail;
    s->shards = calloc(cfg->queue.max_shards, sizeof(*s->shards));
    if (!s->shards)
        goto fail;
    if (cfg->tls_server_name && (r = server_name_setup(s)) < 0)
        goto fail;
    if (cfg->sigv4) {
        hk_buf_init(&b, HK_RW_SMALL_MAX);
        hk_buf_printf(&b, "aws:amz:%s:aps", cfg->sigv4_region);
        if (!(s->sigv4_param = hk_buf_steal(&b, NULL)))
            goto fail;
        if ((r = hk_rw_aws_new(cfg, &s->aws)) < 0)
            goto fail;
        r = -ENOMEM;
    }
    if ((cfg->basic_password_file &&
         hk_rw_secret_init(&s->basic_pw, cfg->basic_password_file, cfg->basic_password) < 0) ||
        (cfg->auth_credentials_file &&
         hk_rw_secret_init(&s->bearer, cfg->auth_credentials_file, cfg->auth_credentials) < 0) ||
        (cfg->oauth2_client_secret_file &&
         hk_rw_secret_init(&s->oauth_secret, cfg->oauth2_client_secret_file,
                           cfg->oauth2_client_secret) < 0))
        goto fail;
    if (cfg->auth_credentials) {
        hk_buf_init(&b, HK_RW_SMALL_MAX);
        hk_buf_printf(&b, "Authorization: %s %s", cfg->auth_type, cfg->auth_credentials);
        if (!(s->auth_header = hk_buf_steal(&b, NULL)))
            goto fail;
    }
    for (uint32_t k = 0; k < cfg->queue.max_shards; k++) {
        struct shard *sh = &s->shards[k];
        sh->s = s;
        sh->idx = k;
        hk_buf_init(&sh->pb, HK_RW_BODY_MAX);
        hk_buf_init(&sh->body, HK_RW_BODY_MAX);
        hk_buf_init(&sh->resp, HK_RW_RESP_MAX + 1);
        if (!(sh->easy = curl_easy_init())) {
            r = -ENOMEM;
            goto fail;
        }
        setup_easy(s, sh->easy);
        curl_easy_setopt(sh->easy, CURLOPT_WRITEFUNCTION, resp_cb);
        curl_easy_setopt(sh->easy, CURLOPT_WRITEDATA, sh);
        curl_easy_setopt(sh->easy, CURLOPT_HEADERFUNCTION, header_cb);
        curl_easy_setopt(sh->easy, CURLOPT_HEADERDATA, sh);
        curl_easy_setopt(sh->easy, CURLOPT_PRIVATE, sh);
    }
    if (!(s->meta_easy = curl_easy_init()))
        goto fail;
    setup_easy(s, s->meta_easy);
    curl_easy_setopt(s->meta_easy, CURLOPT_WRITEFUNCTION, discard_cb);
    *ret = s;
    return 0;
fail:
    hk_rw_sender_free(s);
    return r;
}

void hk_rw_sender_free(struct hk_rw_sender *s)
{
    if (!s)
        return;
    if (s->shards) {
        for (uint32_t k = 0; k < s->cfg->queue.max_shards; k++) {
            struct shard *sh = &s->shards[k];
            if (sh->easy) {
                if (sh->inflight)
                    curl_multi_remove_handle(s->multi, sh->easy);
                curl_easy_cleanup(sh->easy);
            }
            curl_slist_free_all(sh->hdrs);
            free(sh->samples);
            free(sh->enc);
            free(sh->ranges);
            free(sh->items);
            hk_buf_free(&sh->pb);
            hk_buf_free(&sh->body);
            hk_buf_free(&sh->resp);
        }
    }
    if (s->meta_easy) {
        if (s->meta_inflight)
            curl_multi_remove_handle(s->multi, s->meta_easy);
        curl_easy_cleanup(s->meta_easy);
    }
    curl_slist_free_all(s->meta_hdrs);
    hk_buf_free(&s->meta_body);
    round_free(s);
    if (s->has_carry)
        free(s->carry.data);
    free(s->items);
    free(s->shards);
    hk_buf_free(&s->qbuf);
    if (s->auth_header)
        explicit_bzero(s->auth_header, strlen(s->auth_header));
    free(s->auth_header);
    free(s->sigv4_param);
    hk_rw_aws_free(s->aws);
    hk_rw_secret_free(&s->basic_pw);
    hk_rw_secret_free(&s->bearer);
    hk_rw_secret_free(&s->oauth_secret);
    curl_slist_free_all(s->connect_to);
    curl_free(s->url);
    if (s->multi)
        curl_multi_cleanup(s->multi);
    free(s);
}
