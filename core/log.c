/* SPDX-License-Identifier: Apache-2.0 */
/* Structured logging: logfmt or JSON lines on stderr, written with one write(2) per line so
 * lines from different threads never interleave. */
#include "core/log.h"

#include "core/labels.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level = HK_LOG_INFO;
static _Atomic int log_format = HK_LOG_LOGFMT;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int hk_log_parse_level(const char *name, enum hk_log_level *ret_level)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *ret_level = (enum hk_log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

int hk_log_parse_format(const char *name, enum hk_log_format *ret_format)
{
    if (strcmp(name, "logfmt") == 0)
        *ret_format = HK_LOG_LOGFMT;
    else if (strcmp(name, "json") == 0)
        *ret_format = HK_LOG_JSON;
    else
        return -EINVAL;
    return 0;
}

void hk_log_setup(enum hk_log_level level, enum hk_log_format format)
{
    atomic_store(&log_level, level);
    atomic_store(&log_format, format);
}

bool hk_log_enabled(enum hk_log_level level)
{
    return (int)level >= atomic_load(&log_level);
}

/* ---- repeated lines ------------------------------------------------------------------------
 * A warning or error that repeats with the same message and the same field values (a receiver
 * down, a file that stays broken) is let through at most RL_BURST times in a row, then at the
 * refill rate (one per RL_REFILL_MS); the next line let through says how many were held back
 * (suppressed=N). The first occurrence always shows, and so does any change: a different
 * message or any different field value is a different key. Keys live in a small direct-mapped
 * table; a collision only forgets history (the line shows), it never hides one. */
#define RL_SLOTS 128
#define RL_BURST 5
#define RL_REFILL_MS 12000 /* 5 per minute per key once the burst is spent */

struct rl_slot {
    uint64_t key;    /* 0 = empty */
    int64_t last_ms; /* when tokens were last refilled */
    uint64_t suppressed;
    uint32_t tokens;
    enum hk_log_level level;
    char msg[96]; /* for the summary of held-back lines (hk_log_flush_suppressed) */
};

static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rl_slot rl_table[RL_SLOTS];
static int64_t (*rl_clock)(void);

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void hk_log_test_clock(int64_t (*now_ms)(void))
{
    pthread_mutex_lock(&rl_lock);
    rl_clock = now_ms;
    memset(rl_table, 0, sizeof(rl_table));
    pthread_mutex_unlock(&rl_lock);
}

static uint64_t line_key(enum hk_log_level level, const char *msg, va_list ap)
{
    uint64_t h = hk_hash_bytes(0x6c6f67ULL + (uint64_t)level, msg, strlen(msg));
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k)
            break;
        const char *v = va_arg(ap, const char *);
        h = hk_hash_bytes(h ^ 0xFF, k, strlen(k));
        h = hk_hash_bytes(h ^ 0xFE, v ? v : "", v ? strlen(v) : 0);
    }
    return h ? h : 1;
}

/* True if the line may be written; *ret_suppressed = lines of this key held back before it. */
static bool rl_admit(uint64_t key, enum hk_log_level level, const char *msg,
                     uint64_t *ret_suppressed)
{
    bool ok;
    pthread_mutex_lock(&rl_lock);
    int64_t now = rl_clock ? rl_clock() : monotonic_ms();
    struct rl_slot *s = &rl_table[key % RL_SLOTS];
    if (s->key != key) {
        /* New key, or a colliding one taking the slot (the old key's held-back count is
         * forgotten: 128 slots make that rare, and it never hides a line). */
        *s = (struct rl_slot){.key = key, .last_ms = now, .tokens = RL_BURST, .level = level};
        snprintf(s->msg, sizeof(s->msg), "%s", msg);
    } else if (now - s->last_ms >= RL_REFILL_MS) {
        int64_t add = (now - s->last_ms) / RL_REFILL_MS;
        s->tokens = add >= RL_BURST - (int64_t)s->tokens ? RL_BURST : s->tokens + (uint32_t)add;
        s->last_ms += add * RL_REFILL_MS;
    }
    ok = s->tokens > 0;
    if (ok) {
        s->tokens--;
        *ret_suppressed = s->suppressed;
        s->suppressed = 0;
    } else {
        s->suppressed++;
    }
    pthread_mutex_unlock(&rl_lock);
    return ok;
}

/* ---- line assembly ---------------------------------------------------------------------------
 * Lines are capped at 4096 bytes. Text is added in whole units (a character or an escape), and
 * LINE_RESERVE bytes are kept back for the closing of the line, so a cut line is still valid
 * JSON / logfmt: the cut value ends in "...", a field that does not fit is left out whole. */
#define LINE_RESERVE 16

struct line {
    char buf[4096];
    size_t len;
    bool cut;
};

static bool put(struct line *l, const char *s, size_t n)
{
    /* A closing quote may already sit in the reserve: never compute a negative room. */
    size_t limit = sizeof(l->buf) - LINE_RESERVE;
    if (l->cut || l->len > limit || n > limit - l->len) {
        l->cut = true;
        return false;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    return true;
}

static bool puts_(struct line *l, const char *s)
{
    return put(l, s, strlen(s));
}

/* Closers use the reserve (at most LINE_RESERVE - 1 bytes in all, the newline included). */
static void put_closer(struct line *l, const char *s)
{
    size_t n = strlen(s);
    if (n > sizeof(l->buf) - 1 - l->len)
        n = sizeof(l->buf) - 1 - l->len;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

/* Length of the UTF-8 character at p (NUL-terminated), or 0 if the byte there starts no valid
 * character (it is then written as U+FFFD). */
static size_t utf8_char(const unsigned char *p)
{
    size_t left = 1;
    while (left < 4 && p[left])
        left++;
    return hk_utf8_char_len((const char *)p, left);
}

static bool logfmt_needs_quotes(const char *v)
{
    if (*v == '\0')
        return true;
    for (const unsigned char *p = (const unsigned char *)v; *p;) {
        if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' || *p == 0x7f)
            return true;
        size_t n = utf8_char(p);
        if (n == 0)
            return true;
        p += n;
    }
    return false;
}

/* A logfmt value: bare when it can be, else quoted with \" \\ \n \t \r \xNN escapes; invalid
 * UTF-8 becomes U+FFFD, so a line is always valid UTF-8 and one line. */
static bool put_quoted(struct line *l, const char *v, bool json);

static bool put_logfmt_value(struct line *l, const char *v)
{
    if (!logfmt_needs_quotes(v)) {
        if (!puts_(l, v)) {
            /* Cut: put what fits, whole characters only. */
            l->cut = false;
            for (const unsigned char *p = (const unsigned char *)v; *p;) {
                size_t n = utf8_char(p);
                if (!put(l, (const char *)p, n))
                    break;
                p += n;
            }
            put_closer(l, "...");
        }
        return true;
    }
    return put_quoted(l, v, false);
}

/* A quoted string: \" \\ \n \t \r; other controls and DEL as \u00XX (JSON, RFC 8259) or \xXX
 * (logfmt); invalid UTF-8 as \ufffd (JSON) or U+FFFD itself (logfmt). So every line is valid
 * UTF-8, and a JSON line parses whatever bytes a file name or a receiver's body holds. */
static bool put_quoted(struct line *l, const char *v, bool json)
{
    if (!put(l, "\"", 1))
        return false; /* nothing written */
    for (const unsigned char *p = (const unsigned char *)v; *p;) {
        char esc[8];
        size_t n = 1;
        bool ok;
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            ok = put(l, esc, 2);
        } else if (*p == '\n') {
            ok = put(l, "\\n", 2);
        } else if (*p == '\t') {
            ok = put(l, "\\t", 2);
        } else if (*p == '\r') {
            ok = put(l, "\\r", 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            int w = snprintf(esc, sizeof(esc), json ? "\\u%04x" : "\\x%02x", *p);
            ok = put(l, esc, (size_t)w);
        } else if ((n = utf8_char(p)) == 0) {
            n = 1;
            ok = json ? put(l, "\\ufffd", 6) : put(l, "\xEF\xBF\xBD", 3);
        } else {
            ok = put(l, (const char *)p, n);
        }
        if (!ok) {
            put_closer(l, "...");
            break;
        }
        p += n;
    }
    put_closer(l, "\"");
    return true;
}

static bool put_json(struct line *l, const char *v)
{
    return put_quoted(l, v, true);
}

/* One key/value field; a field whose key or value does not start to fit is left out whole. */
static void put_field(struct line *l, bool json, const char *k, const char *v)
{
    if (l->cut)
        return;
    size_t mark = l->len;
    bool ok = json ? put(l, ",", 1) && put_json(l, k) && !l->cut && put(l, ":", 1)
                   : put(l, " ", 1) && puts_(l, k) && put(l, "=", 1);
    if (ok)
        ok = json ? put_json(l, v ? v : "") : put_logfmt_value(l, v ? v : "");
    if (!ok) {
        l->len = mark;
        l->cut = true;
    }
}

/* Formats and writes one line; suppressed > 0 adds suppressed=N first. */
static void write_linev(enum hk_log_level level, uint64_t suppressed, const char *msg,
                        va_list ap)
{
    struct line l = {.len = 0};
    char ts[40];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", now.tv_nsec / 1000000);
    bool json = atomic_load(&log_format) == HK_LOG_JSON;
    char supp[24];
    snprintf(supp, sizeof(supp), "%llu", (unsigned long long)suppressed);

    if (json) {
        puts_(&l, "{\"ts\":");
        put_json(&l, ts);
        puts_(&l, ",\"level\":");
        put_json(&l, level_names[level]);
        puts_(&l, ",\"msg\":");
        put_json(&l, msg);
    } else {
        puts_(&l, "ts=");
        puts_(&l, ts);
        puts_(&l, " level=");
        puts_(&l, level_names[level]);
        puts_(&l, " msg=");
        put_logfmt_value(&l, msg);
    }
    /* Put first so a long body cannot push it out of the line. */
    if (suppressed)
        put_field(&l, json, "suppressed", supp);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k)
            break;
        const char *v = va_arg(ap, const char *);
        put_field(&l, json, k, v);
    }
    if (json)
        put_closer(&l, "}");
    l.buf[l.len++] = '\n';
    ssize_t w = write(STDERR_FILENO, l.buf, l.len);
    (void)w;
}

static void write_line(enum hk_log_level level, const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    write_linev(level, 0, msg, ap);
    va_end(ap);
}

void hk_log(enum hk_log_level level, const char *msg, ...)
{
    if (!hk_log_enabled(level))
        return;
    int saved_errno = errno;
    uint64_t suppressed = 0;
    va_list ap;
    if (level >= HK_LOG_WARN) {
        va_start(ap, msg);
        uint64_t key = line_key(level, msg, ap);
        va_end(ap);
        if (!rl_admit(key, level, msg, &suppressed)) {
            errno = saved_errno;
            return;
        }
    }
    va_start(ap, msg);
    write_linev(level, suppressed, msg, ap);
    va_end(ap);
    errno = saved_errno;
}

void hk_log_flush_suppressed(bool all)
{
    struct {
        enum hk_log_level level;
        char msg[96];
        uint64_t n;
    } due[RL_SLOTS];
    size_t ndue = 0;
    pthread_mutex_lock(&rl_lock);
    int64_t now = rl_clock ? rl_clock() : monotonic_ms();
    for (size_t i = 0; i < RL_SLOTS; i++) {
        struct rl_slot *s = &rl_table[i];
        if (!s->key || !s->suppressed || (!all && now - s->last_ms < RL_REFILL_MS))
            continue;
        due[ndue].level = s->level;
        memcpy(due[ndue].msg, s->msg, sizeof(s->msg));
        due[ndue].n = s->suppressed;
        ndue++;
        s->suppressed = 0;
    }
    pthread_mutex_unlock(&rl_lock);
    /* Written without the limiter (the summary is itself the rate-limited form). */
    int saved_errno = errno;
    for (size_t i = 0; i < ndue; i++) {
        char n[24];
        snprintf(n, sizeof(n), "%llu", (unsigned long long)due[i].n);
        write_line(due[i].level, "repeated log lines held back", "suppressed", n, "last_msg",
                   due[i].msg, (const char *)NULL);
    }
    errno = saved_errno;
}
