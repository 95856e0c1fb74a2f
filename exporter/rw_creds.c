/* SPDX-License-Identifier: Apache-2.0 */
/* Remote-write credentials that rotate (see rw_creds.h). Files read: the configured secret files,
 * the AWS shared credentials file, the web identity token file. STS is called over libcurl: a
 * form POST (Action, Version=2011-06-15, RoleArn, RoleSessionName, WebIdentityToken), unsigned for
 * AssumeRoleWithWebIdentity, SigV4-signed (service sts) with the base credentials for
 * AssumeRole; the XML answer's Credentials (AccessKeyId, SecretAccessKey, SessionToken,
 * Expiration) are kept until shortly before they expire. */
#include "exporter/rw_creds.h"
#include "exporter/rw_encode.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>

#include "core/buf.h"
#include "core/fsread.h"
#include "core/log.h"
#include "exporter/rw_http.h"

#define STS_BODY_MAX (64 * 1024)
#define STS_MIN_BACKOFF_MS 1000
#define STS_MAX_BACKOFF_MS 60000
#define STS_FORCE_MIN_MS 10000 /* a 401/403 renews STS credentials at most this often */
#define STS_MARGIN_MAX_MS 300000
#define STS_TIMEOUT_MIN_MS 10000 /* remote_timeout, but at least this: STS is another service */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void free_secret(char *p)
{
    if (p)
        explicit_bzero(p, strlen(p));
    free(p);
}

/* ---- secret files ---- */

int hk_rw_read_secret(const char *path, char **ret)
{
    char *buf = NULL;
    ssize_t n = hk_read_regular_alloc(AT_FDCWD, path, HK_RW_SECRET_MAX, &buf);
    if (n < 0)
        return (int)n;
    size_t len = (size_t)n;
    while (len && isspace((unsigned char)buf[len - 1]))
        len--;
    buf[len] = '\0';
    *ret = buf;
    return 0;
}

static int64_t st_mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

int hk_rw_secret_init(struct hk_rw_secret *s, const char *path, const char *initial)
{
    memset(s, 0, sizeof(*s));
    if (!(s->path = strdup(path)) || !(s->value = strdup(initial ? initial : ""))) {
        free(s->path);
        s->path = NULL;
        return -ENOMEM;
    }
    /* No identity yet: the first poll reads the file again (a change since the config was loaded
     * counts; the same content does not). */
    s->ino = (ino_t)-1;
    return 0;
}

int hk_rw_secret_poll(struct hk_rw_secret *s, int64_t now_ms, bool force, const char *remote_name)
{
    struct stat st;
    char *v = NULL;
    int r;
    if (!s->path || (!force && now_ms < s->next_check_ms))
        return 0;
    s->next_check_ms = now_ms + HK_RW_SECRET_CHECK_MS;
    if (stat(s->path, &st) < 0) {
        r = -errno;
        goto fail;
    }
    if (!force && st.st_dev == s->dev && st.st_ino == s->ino && st.st_size == s->size &&
        st_mtime_ns(&st) == s->mtime_ns)
        return 0;
    if ((r = hk_rw_read_secret(s->path, &v)) < 0)
        goto fail;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->size = st.st_size;
    s->mtime_ns = st_mtime_ns(&st);
    if (s->last_err) {
        hk_log_info("remote-write secret file readable again", "remote_name", remote_name, "file",
                    s->path);
        s->last_err = 0;
    }
    if (!strcmp(v, s->value)) {
        free_secret(v);
        return 0;
    }
    free_secret(s->value);
    s->value = v;
    hk_log_info("remote-write secret file changed, using the new content", "remote_name",
                remote_name, "file", s->path);
    return 1;
fail:
    if (r != s->last_err) {
        s->last_err = r;
        hk_log_warn("remote-write secret file cannot be read, keeping the previous secret",
                    "remote_name", remote_name, "file", s->path, "err",
                    r == -EINVAL  ? "not a regular file"
                    : r == -EFBIG ? "larger than 64 KiB"
                                  : strerror(-r));
    }
    return 0;
}

void hk_rw_secret_free(struct hk_rw_secret *s)
{
    free(s->path);
    free_secret(s->value);
    memset(s, 0, sizeof(*s));
}

/* ---- AWS ---- */

enum aws_src { AWS_STATIC, AWS_FILE, AWS_WEBID };

struct aws_keys {
    char *ak, *sk, *tok;
    int64_t expiry_ms;  /* wall clock; 0 = does not expire */
    int64_t renew_ms;   /* wall clock when to renew; 0 = never */
    int64_t fetched_ms; /* monotonic */
};

struct sts_state {
    int64_t next_try_ms; /* monotonic */
    unsigned fails;
    long last_status; /* logged once per change; 0 = ok */
};

struct hk_rw_aws {
    const struct hk_rw_config *cfg;
    enum aws_src src;
    char *file, *profile;
    struct hk_rw_secret filewatch; /* only the identity fields are used */
    char *webid_role, *webid_token_file, *session_name;
    char *sts_url;
    struct aws_keys base, role;
    struct sts_state base_sts, role_sts;
    char *userpwd, *token_header;
    bool sts_allowed; /* false while hk_rw_aws_new runs */
};

static void keys_free(struct aws_keys *k)
{
    free(k->ak);
    free_secret(k->sk);
    free_secret(k->tok);
    memset(k, 0, sizeof(*k));
}

static bool keys_same(const struct aws_keys *a, const struct aws_keys *b)
{
    return a->ak && b->ak && !strcmp(a->ak, b->ak) && !strcmp(a->sk, b->sk) &&
           !a->tok == !b->tok && (!a->tok || !strcmp(a->tok, b->tok));
}

/* Shared credentials file: [profile] aws_access_key_id / aws_secret_access_key /
 * aws_session_token. */
static int shared_file_keys(const char *path, const char *profile, struct aws_keys *k)
{
    char *text = NULL;
    int r = hk_rw_read_secret(path, &text);
    if (r < 0)
        return r;
    bool in = false;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *p = line, *e = line + strlen(line);
        while (e > p && isspace((unsigned char)e[-1]))
            *--e = '\0';
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '#' || *p == ';' || !*p)
            continue;
        if (*p == '[') {
            char *close = strchr(p, ']');
            if (close) {
                *close = '\0';
                in = strcmp(p + 1, profile) == 0;
            }
            continue;
        }
        char *eq = strchr(p, '=');
        if (!in || !eq)
            continue;
        char *ke = eq, *v = eq + 1;
        while (ke > p && isspace((unsigned char)ke[-1]))
            ke--;
        *ke = '\0';
        while (isspace((unsigned char)*v))
            v++;
        char **dst = !strcmp(p, "aws_access_key_id")       ? &k->ak
                     : !strcmp(p, "aws_secret_access_key") ? &k->sk
                     : !strcmp(p, "aws_session_token")     ? &k->tok
                                                           : NULL;
        if (dst) {
            free_secret(*dst);
            if (!(*dst = strdup(v))) {
                r = -ENOMEM;
                break;
            }
        }
    }
    free_secret(text);
    if (r == 0 && (!k->ak || !k->sk))
        r = -ENOENT;
    if (r < 0)
        keys_free(k);
    return r;
}

/* An XML entity at p (&amp; &lt; &gt; &quot; &apos;): its character in *c, returns its length
 * (0 = none). */
static size_t xml_entity(const char *p, char *c)
{
    static const char *const names[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    static const char chars[] = "&<>\"'";
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t n = strlen(names[i]);
        if (!strncmp(p, names[i], n)) {
            *c = chars[i];
            return n;
        }
    }
    return 0;
}

/* The text of <tag>...</tag> inside xml, white space dropped, entities decoded. */
static char *xml_text(const char *xml, const char *tag)
{
    char open[64], close[64];
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    const char *b = strstr(xml, open);
    if (!b)
        return NULL;
    b += strlen(open);
    const char *e = strstr(b, close);
    if (!e)
        return NULL;
    char *out = malloc((size_t)(e - b) + 1), *o = out;
    if (!out)
        return NULL;
    while (b < e) {
        char c;
        size_t n = xml_entity(b, &c);
        if (n) {
            *o++ = c;
            b += n;
        } else if (!isspace((unsigned char)*b)) {
            *o++ = *b++;
        } else {
            b++;
        }
    }
    *o = '\0';
    return out;
}

/* digits decimal digits at *p into *out, then the separator sep (0 = none). */
static int iso_field(const char **p, int digits, char sep, int *out)
{
    int v = 0;
    for (int i = 0; i < digits; i++, (*p)++) {
        if (!isdigit((unsigned char)**p))
            return -EINVAL;
        v = v * 10 + (**p - '0');
    }
    if (sep) {
        if (**p != sep)
            return -EINVAL;
        (*p)++;
    }
    *out = v;
    return 0;
}

/* ISO 8601 UTC (2026-12-07T21:45:00Z, fractions allowed) → Unix seconds. */
static int parse_iso8601(const char *s, int64_t *ret)
{
    struct tm tm;
    const char *p = s;
    memset(&tm, 0, sizeof(tm));
    if (iso_field(&p, 4, '-', &tm.tm_year) < 0 || iso_field(&p, 2, '-', &tm.tm_mon) < 0 ||
        iso_field(&p, 2, 'T', &tm.tm_mday) < 0 || iso_field(&p, 2, ':', &tm.tm_hour) < 0 ||
        iso_field(&p, 2, ':', &tm.tm_min) < 0 || iso_field(&p, 2, 0, &tm.tm_sec) < 0)
        return -EINVAL;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++)
            ;
    if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
        return -EINVAL;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return -EINVAL;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -EINVAL;
    *ret = (int64_t)t;
    return 0;
}

int hk_rw_sts_parse(const char *xml, char **ak, char **sk, char **tok, int64_t *expiry_s)
{
    const char *cred = strstr(xml, "<Credentials>");
    char *exp = NULL;
    int r = -EBADMSG;
    *ak = *sk = *tok = NULL;
    if (!cred)
        goto out;
    *ak = xml_text(cred, "AccessKeyId");
    *sk = xml_text(cred, "SecretAccessKey");
    *tok = xml_text(cred, "SessionToken");
    exp = xml_text(cred, "Expiration");
    if (!*ak || !*sk || !*tok || !exp || !**ak || !**sk || parse_iso8601(exp, expiry_s) < 0)
        goto out;
    r = 0;
out:
    free(exp);
    if (r < 0) {
        free(*ak);
        free_secret(*sk);
        free_secret(*tok);
        *ak = *sk = *tok = NULL;
    }
    return r;
}

static size_t sts_body_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    hk_buf_put(ud, ptr, size * nmemb); /* capped: the rest is ignored */
    return size * nmemb;
}

static void form_add(struct hk_buf *f, CURL *e, const char *k, const char *v)
{
    char *esc = curl_easy_escape(e, v, 0);
    if (!esc) {
        f->err = -ENOMEM;
        return;
    }
    hk_buf_printf(f, "%s%s=%s", f->len ? "&" : "", k, esc);
    curl_free(esc);
}

static void sts_log(struct hk_rw_aws *a, struct sts_state *st, const char *action, long status,
                    const char *err, const struct hk_buf *body)
{
    if (status == st->last_status)
        return;
    st->last_status = status;
    char sts[24], text[HK_RW_RESP_MAX + 1];
    snprintf(sts, sizeof(sts), "%ld", status > 0 ? status : 0);
    hk_rw_resp_text(body, text, sizeof(text));
    hk_log_warn("remote-write sigv4: STS request failed, keeping the current credentials until "
                "they expire and retrying with backoff",
                "remote_name", a->cfg->name, "action", action, "url", a->sts_url, "status", sts,
                "err", err, "body", text);
}

/* One STS call. signer: NULL for AssumeRoleWithWebIdentity, else the base credentials. */
static int sts_call(struct hk_rw_aws *a, struct sts_state *st, const struct aws_keys *signer,
                    struct aws_keys *out)
{
    const struct hk_rw_config *c = a->cfg;
    const char *action = signer ? "AssumeRole" : "AssumeRoleWithWebIdentity";
    CURL *e = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    struct hk_buf form, body, tmp;
    char *token = NULL, *ak = NULL, *sk = NULL, *tok = NULL;
    char *userpwd = NULL, *sigparam = NULL;
    long status = 0;
    int64_t exp_s = 0;
    int r = -ENOMEM;
    hk_buf_init(&form, STS_BODY_MAX);
    hk_buf_init(&body, STS_BODY_MAX);
    hk_buf_init(&tmp, STS_BODY_MAX);
    if (!e)
        goto out;
    form_add(&form, e, "Action", action);
    form_add(&form, e, "Version", "2011-06-15");
    form_add(&form, e, "RoleArn", signer ? c->sigv4_role_arn : a->webid_role);
    form_add(&form, e, "RoleSessionName", a->session_name);
    if (!signer) {
        if ((r = hk_rw_read_secret(a->webid_token_file, &token)) < 0) {
            if (st->last_status != -2)
                hk_log_warn("remote-write sigv4: cannot read the web identity token file",
                            "remote_name", c->name, "file", a->webid_token_file, "err",
                            strerror(-r));
            st->last_status = -2;
            goto out;
        }
        form_add(&form, e, "WebIdentityToken", token);
    }
    if (form.err) {
        r = form.err;
        goto out;
    }
    curl_easy_setopt(e, CURLOPT_URL, a->sts_url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, form.data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)form.len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sts_body_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(c->remote_timeout_ms > STS_TIMEOUT_MIN_MS
                                                       ? c->remote_timeout_ms
                                                       : STS_TIMEOUT_MIN_MS));
    curl_easy_setopt(e, CURLOPT_USERAGENT, "hakari/" HK_VERSION);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (c->proxy_url)
        curl_easy_setopt(e, CURLOPT_PROXY, c->proxy_url);
    struct curl_slist *t = curl_slist_append(NULL, "Accept: application/xml");
    if (!t)
        goto out;
    hdrs = t;
    if (signer) {
        hk_buf_printf(&tmp, "aws:amz:%s:sts", c->sigv4_region);
        sigparam = hk_buf_steal(&tmp, NULL);
        hk_buf_init(&tmp, STS_BODY_MAX);
        hk_buf_printf(&tmp, "%s:%s", signer->ak, signer->sk);
        userpwd = hk_buf_steal(&tmp, NULL);
        hk_buf_init(&tmp, STS_BODY_MAX);
        if (!sigparam || !userpwd)
            goto out;
        if (signer->tok) {
            hk_buf_printf(&tmp, "X-Amz-Security-Token: %s", signer->tok);
            if (tmp.err || !(t = curl_slist_append(hdrs, tmp.data)))
                goto out;
            hdrs = t;
        }
        curl_easy_setopt(e, CURLOPT_AWS_SIGV4, sigparam);
        curl_easy_setopt(e, CURLOPT_USERPWD, userpwd);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    CURLcode cc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK || status / 100 != 2) {
        sts_log(a, st, action, cc != CURLE_OK ? -(long)cc - 10 : status,
                cc != CURLE_OK ? curl_easy_strerror(cc) : "http status", &body);
        r = -EACCES;
        goto out;
    }
    hk_buf_putc(&body, '\0');
    if (body.err || hk_rw_sts_parse(body.data, &ak, &sk, &tok, &exp_s) < 0) {
        sts_log(a, st, action, -1, "response without Credentials/Expiration", &body);
        r = -EBADMSG;
        goto out;
    }
    keys_free(out);
    out->ak = ak;
    out->sk = sk;
    out->tok = tok;
    ak = sk = tok = NULL;
    int64_t now = wall_ms();
    out->expiry_ms = exp_s * 1000;
    int64_t life = out->expiry_ms - now, margin = life / 10;
    if (margin > STS_MARGIN_MAX_MS)
        margin = STS_MARGIN_MAX_MS;
    out->renew_ms = out->expiry_ms - (margin > 0 ? margin : 0);
    out->fetched_ms = mono_ms();
    if (st->last_status != 0)
        hk_log_info("remote-write sigv4: STS credentials obtained", "remote_name", c->name,
                    "action", action);
    st->last_status = 0;
    st->fails = 0;
    st->next_try_ms = 0;
    r = 0;
out:
    if (r < 0) {
        int64_t d = STS_MIN_BACKOFF_MS;
        for (unsigned i = 0; i < st->fails && d < STS_MAX_BACKOFF_MS; i++)
            d *= 2;
        st->next_try_ms = mono_ms() + (d < STS_MAX_BACKOFF_MS ? d : STS_MAX_BACKOFF_MS);
        st->fails++;
    }
    free(ak);
    free_secret(sk);
    free_secret(tok);
    free_secret(token);
    free_secret(userpwd);
    free(sigparam);
    if (hdrs) {
        /* the token header holds a secret */
        for (struct curl_slist *h = hdrs; h; h = h->next)
            explicit_bzero(h->data, strlen(h->data));
        curl_slist_free_all(hdrs);
    }
    hk_buf_free(&form);
    hk_buf_free(&body);
    hk_buf_free(&tmp);
    if (e)
        curl_easy_cleanup(e);
    return r;
}

/* Whether STS keys k are due: none yet, renewal time reached, or forced (rate-limited). */
static bool sts_due(const struct aws_keys *k, const struct sts_state *st, bool force)
{
    int64_t now = mono_ms();
    if (k->ak && st->next_try_ms && now < st->next_try_ms)
        return false; /* backing off */
    if (!k->ak)
        return !st->next_try_ms || now >= st->next_try_ms;
    if (force && now - k->fetched_ms >= STS_FORCE_MIN_MS)
        return true;
    return k->renew_ms && wall_ms() >= k->renew_ms;
}

static int rebuild(struct hk_rw_aws *a)
{
    const struct aws_keys *k = a->cfg->sigv4_role_arn ? &a->role : &a->base;
    struct hk_buf b;
    free_secret(a->userpwd);
    free_secret(a->token_header);
    a->userpwd = a->token_header = NULL;
    if (!k->ak)
        return -ENOKEY;
    hk_buf_init(&b, HK_RW_SMALL_MAX);
    hk_buf_printf(&b, "%s:%s", k->ak, k->sk);
    if (!(a->userpwd = hk_buf_steal(&b, NULL)))
        return -ENOMEM;
    if (k->tok) {
        hk_buf_init(&b, HK_RW_SMALL_MAX);
        hk_buf_printf(&b, "X-Amz-Security-Token: %s", k->tok);
        if (!(a->token_header = hk_buf_steal(&b, NULL)))
            return -ENOMEM;
    }
    return 0;
}

int hk_rw_aws_refresh(struct hk_rw_aws *a, bool force)
{
    bool changed = false, base_changed = false;
    int r;
    if (a->src == AWS_FILE) {
        int64_t now = mono_ms();
        struct stat st;
        if ((force || now >= a->filewatch.next_check_ms) && stat(a->file, &st) == 0) {
            a->filewatch.next_check_ms = now + HK_RW_SECRET_CHECK_MS;
            if (st.st_dev != a->filewatch.dev || st.st_ino != a->filewatch.ino ||
                st.st_size != a->filewatch.size || st_mtime_ns(&st) != a->filewatch.mtime_ns) {
                struct aws_keys k = {0};
                if ((r = shared_file_keys(a->file, a->profile, &k)) == 0) {
                    a->filewatch.dev = st.st_dev;
                    a->filewatch.ino = st.st_ino;
                    a->filewatch.size = st.st_size;
                    a->filewatch.mtime_ns = st_mtime_ns(&st);
                    if (!keys_same(&k, &a->base)) {
                        if (a->base.ak)
                            hk_log_info("remote-write sigv4: shared credentials file changed, "
                                        "using the new keys",
                                        "remote_name", a->cfg->name, "file", a->file);
                        keys_free(&a->base);
                        a->base = k;
                        base_changed = true;
                    } else {
                        keys_free(&k);
                    }
                } else if (r != a->filewatch.last_err) {
                    hk_log_warn("remote-write sigv4: shared credentials file unreadable or "
                                "without the profile's keys, keeping the previous ones",
                                "remote_name", a->cfg->name, "file", a->file, "profile",
                                a->profile, "err",
                                r == -ENOENT ? "no aws_access_key_id/aws_secret_access_key"
                                             : strerror(-r));
                }
                a->filewatch.last_err = r;
            }
        }
    } else if (a->src == AWS_WEBID && a->sts_allowed && sts_due(&a->base, &a->base_sts, force)) {
        base_changed = sts_call(a, &a->base_sts, NULL, &a->base) == 0;
    }
    changed = base_changed;
    if (a->cfg->sigv4_role_arn && a->base.ak && a->sts_allowed &&
        (base_changed || sts_due(&a->role, &a->role_sts, force)))
        changed = sts_call(a, &a->role_sts, &a->base, &a->role) == 0 || changed;
    if (changed || !a->userpwd) {
        if ((r = rebuild(a)) < 0)
            return r;
        return 1;
    }
    return 0;
}

static int dup_env(const char *name, char **dst)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return 0;
    return (*dst = strdup(v)) ? 1 : -ENOMEM;
}

int hk_rw_aws_new(const struct hk_rw_config *c, struct hk_rw_aws **ret)
{
    struct hk_rw_aws *a = calloc(1, sizeof(*a));
    struct hk_buf b;
    int r = -ENOMEM;
    if (!a)
        return -ENOMEM;
    a->cfg = c;
    const char *env_ak = getenv("AWS_ACCESS_KEY_ID"), *env_sk = getenv("AWS_SECRET_ACCESS_KEY");
    const char *role_env = getenv("AWS_ROLE_ARN"), *tokf = getenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    if (c->sigv4_access_key) {
        a->src = AWS_STATIC;
        if (!(a->base.ak = strdup(c->sigv4_access_key)) ||
            !(a->base.sk = strdup(c->sigv4_secret_key)))
            goto fail;
    } else if (env_ak && *env_ak && env_sk && *env_sk && !c->sigv4_profile) {
        a->src = AWS_STATIC;
        if (!(a->base.ak = strdup(env_ak)) || !(a->base.sk = strdup(env_sk)) ||
            dup_env("AWS_SESSION_TOKEN", &a->base.tok) < 0)
            goto fail;
    } else if (role_env && *role_env && tokf && *tokf && !c->sigv4_profile) {
        a->src = AWS_WEBID;
        if (!(a->webid_role = strdup(role_env)) || !(a->webid_token_file = strdup(tokf)))
            goto fail;
    } else {
        const char *f = getenv("AWS_SHARED_CREDENTIALS_FILE"), *home = getenv("HOME");
        const char *profile = c->sigv4_profile ? c->sigv4_profile : getenv("AWS_PROFILE");
        a->src = AWS_FILE;
        hk_buf_init(&b, 4096);
        if (f && *f)
            hk_buf_puts(&b, f);
        else if (home && *home)
            hk_buf_printf(&b, "%s/.aws/credentials", home);
        if (!(a->file = hk_buf_steal(&b, NULL)) ||
            !(a->profile = strdup(profile && *profile ? profile : "default")))
            goto fail;
        a->filewatch.next_check_ms = 0;
        a->filewatch.ino = (ino_t)-1; /* read at the first refresh */
    }
    if (dup_env("AWS_ROLE_SESSION_NAME", &a->session_name) < 0)
        goto fail;
    if (!a->session_name) {
        hk_buf_init(&b, 128);
        hk_buf_printf(&b, "hakari-%lld", (long long)(wall_ms() / 1000));
        if (!(a->session_name = hk_buf_steal(&b, NULL)))
            goto fail;
    }
    if ((r = dup_env("AWS_ENDPOINT_URL_STS", &a->sts_url)) == 0)
        r = dup_env("AWS_ENDPOINT_URL", &a->sts_url);
    if (r < 0)
        goto fail;
    if (!a->sts_url) {
        hk_buf_init(&b, 1024);
        hk_buf_printf(&b, "https://sts.%s.amazonaws.com/", c->sigv4_region);
        if (!(a->sts_url = hk_buf_steal(&b, NULL))) {
            r = -ENOMEM;
            goto fail;
        }
    }
    /* STS is first called from the sender's thread (its first poll), never here: this runs at
     * start and reload, which must not wait on a remote service. Static keys and the shared
     * credentials file are checked now: without them the endpoint cannot work. */
    r = hk_rw_aws_refresh(a, false);
    a->sts_allowed = true;
    if (r == -ENOKEY && a->src != AWS_WEBID && !a->base.ak) {
        hk_log_error("remote-write sigv4: no AWS credentials (config, environment, web identity "
                     "or shared credentials file)",
                     "remote_name", c->name, "file", a->file ? a->file : "", "profile",
                     a->profile ? a->profile : "");
        goto fail;
    }
    if (r < 0 && r != -ENOKEY)
        goto fail;
    *ret = a;
    return 0;
fail:
    hk_rw_aws_free(a);
    return r < 0 ? r : -ENOKEY;
}

const char *hk_rw_aws_userpwd(const struct hk_rw_aws *a)
{
    return a->userpwd;
}

const char *hk_rw_aws_token_header(const struct hk_rw_aws *a)
{
    return a->token_header;
}

static int64_t keys_due(const struct aws_keys *k, const struct sts_state *st, int64_t mono,
                        int64_t wall)
{
    if (st->next_try_ms && (!k->ak || (k->renew_ms && wall >= k->renew_ms)))
        return st->next_try_ms; /* backing off */
    if (!k->ak)
        return mono;
    if (!k->renew_ms)
        return INT64_MAX;
    return mono + (k->renew_ms > wall ? k->renew_ms - wall : 0);
}

int64_t hk_rw_aws_due_ms(const struct hk_rw_aws *a)
{
    int64_t mono = mono_ms(), wall = wall_ms(), due = INT64_MAX, d;
    if (a->src == AWS_WEBID && (d = keys_due(&a->base, &a->base_sts, mono, wall)) < due)
        due = d;
    if (a->cfg->sigv4_role_arn && a->base.ak &&
        (d = keys_due(&a->role, &a->role_sts, mono, wall)) < due)
        due = d;
    return due;
}

bool hk_rw_aws_rotates(const struct hk_rw_aws *a)
{
    return a->src != AWS_STATIC || a->cfg->sigv4_role_arn;
}

void hk_rw_aws_free(struct hk_rw_aws *a)
{
    if (!a)
        return;
    keys_free(&a->base);
    keys_free(&a->role);
    free(a->file);
    free(a->profile);
    free(a->webid_role);
    free(a->webid_token_file);
    free(a->session_name);
    free(a->sts_url);
    free_secret(a->userpwd);
    free_secret(a->token_header);
    free(a);
}
