/* Structured logging: logfmt or JSON lines on stderr, written with one write(2) per line so
 * lines from different threads never interleave. */
#include "core/log.h"

#include <stdarg.h>
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

struct line {
    char buf[4096];
    size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
    /* Keep room for the trailing newline; an over-long line is cut and marked, never overflowed. */
    size_t room = sizeof(l->buf) - 1 - l->len;
    if (n > room)
        n = room;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void puts_(struct line *l, const char *s)
{
    put(l, s, strlen(s));
}

static void put_logfmt_value(struct line *l, const char *v)
{
    bool quote = *v == '\0';
    for (const char *p = v; *p && !quote; p++)
        if (*p == ' ' || *p == '=' || *p == '"' || (unsigned char)*p < 0x20)
            quote = true;
    if (!quote) {
        puts_(l, v);
        return;
    }
    put(l, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            put(l, esc, 2);
        } else if (*p == '\n') {
            put(l, "\\n", 2);
        } else if (*p < 0x20) {
            int n = snprintf(esc, sizeof(esc), "\\x%02x", *p);
            put(l, esc, (size_t)n);
        } else {
            put(l, (const char *)p, 1);
        }
    }
    put(l, "\"", 1);
}

static void put_json_string(struct line *l, const char *v)
{
    put(l, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            put(l, esc, 2);
        } else if (*p < 0x20) {
            int n = snprintf(esc, sizeof(esc), "\\u%04x", *p);
            put(l, esc, (size_t)n);
        } else {
            put(l, (const char *)p, 1);
        }
    }
    put(l, "\"", 1);
}

void hk_log(enum hk_log_level level, const char *msg, ...)
{
    if (!hk_log_enabled(level))
        return;
    int saved_errno = errno;
    struct line l = {.len = 0};
    char ts[40];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", now.tv_nsec / 1000000);
    bool json = atomic_load(&log_format) == HK_LOG_JSON;

    va_list ap;
    va_start(ap, msg);
    if (json) {
        puts_(&l, "{\"ts\":");
        put_json_string(&l, ts);
        puts_(&l, ",\"level\":");
        put_json_string(&l, level_names[level]);
        puts_(&l, ",\"msg\":");
        put_json_string(&l, msg);
        for (;;) {
            const char *k = va_arg(ap, const char *);
            if (!k)
                break;
            const char *v = va_arg(ap, const char *);
            put(&l, ",", 1);
            put_json_string(&l, k);
            put(&l, ":", 1);
            put_json_string(&l, v ? v : "");
        }
        put(&l, "}", 1);
    } else {
        puts_(&l, "ts=");
        puts_(&l, ts);
        puts_(&l, " level=");
        puts_(&l, level_names[level]);
        puts_(&l, " msg=");
        put_logfmt_value(&l, msg);
        for (;;) {
            const char *k = va_arg(ap, const char *);
            if (!k)
                break;
            const char *v = va_arg(ap, const char *);
            put(&l, " ", 1);
            puts_(&l, k);
            put(&l, "=", 1);
            put_logfmt_value(&l, v ? v : "");
        }
    }
    va_end(ap);
    l.buf[l.len++] = '\n';
    ssize_t w = write(STDERR_FILENO, l.buf, l.len);
    (void)w;
    errno = saved_errno;
}
