/* SPDX-License-Identifier: Apache-2.0 */
/* Operating system identification, node_exporter's os collector.
 * Reads: <rootfs>/etc/os-release, else <rootfs>/usr/lib/os-release (symlinks resolved inside
 * the root, so /host/etc/os-release -> /usr/lib/os-release stays on the host's side). The file
 * is looked up once a minute (it changes with an OS upgrade) and parsed again only when it
 * changed (device, inode, size, mtime or ctime); the cycles in between emit the cached result.
 * Emits: node_os_info{build_id,id,id_like,image_id,image_version,name,pretty_name,variant,
 * variant_id,version,version_codename,version_id} 1, node_os_version{id,id_like,name} (the
 * leading major[.minor] of VERSION_ID, when there is one), node_os_support_end_timestamp_seconds
 * (SUPPORT_END, when present). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "collector/node_common.h"
#include "collector/node_parsers.h"
#include "core/collector.h"

#define OS_RELEASE_MAX 65536 /* real files are ~400 bytes */
int64_t hk_os_check_interval_ms = 60000;

static const char *const info_labels[] = {"build_id",    "id",
                                          "id_like",     "image_id",
                                          "image_version", "name",
                                          "pretty_name", "variant",
                                          "variant_id",  "version",
                                          "version_codename", "version_id",
                                          NULL};
static const struct hk_metric_desc desc_info = {
    "node_os_info",
    "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, "
    "image_version, name, pretty_name, variant, variant_id, version, version_codename, "
    "version_id.",
    HK_METRIC_GAUGE, "", info_labels};
static const char *const version_labels[] = {"id", "id_like", "name", NULL};
static const struct hk_metric_desc desc_version = {
    "node_os_version", "Metric containing the major.minor part of the OS version.",
    HK_METRIC_GAUGE, "", version_labels};
static const struct hk_metric_desc desc_support_end = {
    "node_os_support_end_timestamp_seconds",
    "Metric containing the end-of-life date timestamp of the OS.", HK_METRIC_GAUGE, "seconds",
    NULL};

/* The keys, indexed like HK_OS_* (node_parsers.h). */
static const char *const os_keys[HK_OS_NFIELDS] = {
    [HK_OS_BUILD_ID] = "BUILD_ID",
    [HK_OS_ID] = "ID",
    [HK_OS_ID_LIKE] = "ID_LIKE",
    [HK_OS_IMAGE_ID] = "IMAGE_ID",
    [HK_OS_IMAGE_VERSION] = "IMAGE_VERSION",
    [HK_OS_NAME] = "NAME",
    [HK_OS_PRETTY_NAME] = "PRETTY_NAME",
    [HK_OS_VARIANT] = "VARIANT",
    [HK_OS_VARIANT_ID] = "VARIANT_ID",
    [HK_OS_VERSION] = "VERSION",
    [HK_OS_VERSION_CODENAME] = "VERSION_CODENAME",
    [HK_OS_VERSION_ID] = "VERSION_ID",
    [HK_OS_SUPPORT_END] = "SUPPORT_END",
};

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static bool key_char(char c, bool first)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

/* Decodes a shell-style value (quotes, backslash escapes) from p..end into out. Returns the
 * length, -EINVAL (unterminated quote, stray text after the value) or -ERANGE (too long). */
static int decode_value(const char *p, const char *end, char *out, size_t cap)
{
    size_t n = 0;
#define PUT(ch)                                                                                    \
    do {                                                                                           \
        if (n + 1 >= cap)                                                                          \
            return -ERANGE;                                                                        \
        out[n++] = (ch);                                                                           \
    } while (0)
    while (p < end && !is_blank(*p)) {
        if (*p == '\'') {
            const char *q = memchr(p + 1, '\'', (size_t)(end - p - 1));
            if (!q)
                return -EINVAL;
            for (p++; p < q; p++)
                PUT(*p);
            p++;
        } else if (*p == '"') {
            for (p++;; p++) {
                if (p >= end)
                    return -EINVAL;
                if (*p == '"')
                    break;
                if (*p == '\\' && p + 1 < end &&
                    (p[1] == '"' || p[1] == '\\' || p[1] == '$' || p[1] == '`'))
                    p++;
                PUT(*p);
            }
            p++;
        } else if (*p == '\\') {
            if (p + 1 >= end)
                return -EINVAL;
            PUT(p[1]);
            p += 2;
        } else if (*p == '#' && n == 0) {
            break; /* KEY=#comment: empty value */
        } else {
            PUT(*p);
            p++;
        }
    }
#undef PUT
    while (p < end && is_blank(*p))
        p++;
    if (p < end && *p != '#')
        return -EINVAL;
    out[n] = '\0';
    return (int)n;
}

int hk_os_release_parse(const char *buf, size_t len, struct hk_os_release *ret)
{
    struct hk_os_release os;
    memset(&os, 0, sizeof(os));
    const char *p = buf, *end = buf + len;
    if (memchr(buf, '\0', len))
        return -EINVAL;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *q = p;
        while (q < le && is_blank(*q))
            q++;
        if (q < le && *q != '#') {
            if (le - q > 7 && memcmp(q, "export", 6) == 0 && is_blank(q[6]))
                for (q += 6; q < le && is_blank(*q); q++)
                    ;
            const char *k = q;
            while (q < le && key_char(*q, q == k))
                q++;
            size_t kl = (size_t)(q - k);
            if (kl == 0 || q >= le || *q != '=')
                return -EINVAL;
            char value[HK_OS_VALUE_MAX];
            int n = decode_value(q + 1, le, value, sizeof(value));
            if (n < 0)
                return n;
            for (unsigned i = 0; i < HK_OS_NFIELDS; i++)
                if (strlen(os_keys[i]) == kl && memcmp(os_keys[i], k, kl) == 0)
                    memcpy(os.v[i], value, (size_t)n + 1); /* a later assignment wins */
        }
        p = nl ? nl + 1 : end;
    }
    *ret = os;
    return 0;
}

double hk_os_version_number(const char *version_id)
{
    /* node_exporter: the match of ^[0-9]+\.?[0-9]* as a float, 0 when none. */
    const char *p = version_id;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p == version_id)
        return 0;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    char num[64];
    size_t n = (size_t)(p - version_id);
    if (n >= sizeof(num))
        return 0;
    memcpy(num, version_id, n);
    num[n] = '\0';
    return strtod(num, NULL);
}

int hk_os_support_end(const char *date, int64_t *ret)
{
    /* YYYY-MM-DD, midnight UTC (Go's time.DateOnly layout). */
    if (strlen(date) != 10 || date[4] != '-' || date[7] != '-')
        return -EINVAL;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (date[i] < '0' || date[i] > '9'))
            return -EINVAL;
    struct tm tm = {0};
    tm.tm_year = (date[0] - '0') * 1000 + (date[1] - '0') * 100 + (date[2] - '0') * 10 +
                 (date[3] - '0') - 1900;
    tm.tm_mon = (date[5] - '0') * 10 + (date[6] - '0') - 1;
    tm.tm_mday = (date[8] - '0') * 10 + (date[9] - '0');
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > mdays[tm.tm_mon])
        return -EINVAL;
    int year = tm.tm_year + 1900;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (tm.tm_mon == 1 && tm.tm_mday == 29 && !leap)
        return -EINVAL;
    *ret = (int64_t)timegm(&tm);
    return 0;
}

struct os_state {
    struct hk_os_release os;
    bool have;                /* os holds a parsed file */
    bool support_end_ok;
    int64_t support_end;
    double version;
    struct stat st;           /* of the file parsed */
    int which;                /* 0 etc/os-release, 1 usr/lib/os-release */
    int last_result;          /* of the last lookup: 0, -ENOENT or the soft error */
    bool checked;
    int64_t checked_ms;       /* monotonic */
    struct hk_node_health health;
};

static const char *const os_files[] = {"etc/os-release", "usr/lib/os-release"};

/* Without openat2 (kernels before 5.6, qemu-user): path resolved one component at a time with
 * readlinkat, so that symlinks — absolute ones too, and ".." — stay inside root_fd's tree as
 * with RESOLVE_IN_ROOT (not race-free against a concurrent rename, as the kernel's is). */
static int open_in_root_compat(int root_fd, const char *path)
{
    char cur[PATH_MAX] = "", rest[PATH_MAX], cand[PATH_MAX], target[PATH_MAX];
    if (snprintf(rest, sizeof(rest), "%s", path) >= (int)sizeof(rest))
        return -ENAMETOOLONG;
    int links = 0;
    for (;;) {
        char *p = rest;
        while (*p == '/')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, "/");
        char *next = p + len;
        if (len == 1 && p[0] == '.') {
            memmove(rest, next, strlen(next) + 1);
            continue;
        }
        if (len == 2 && p[0] == '.' && p[1] == '.') { /* never above the root */
            char *slash = strrchr(cur, '/');
            *(slash ? slash : cur) = '\0';
            memmove(rest, next, strlen(next) + 1);
            continue;
        }
        if (snprintf(cand, sizeof(cand), "%s%s%.*s", cur, *cur ? "/" : "", (int)len, p) >=
            (int)sizeof(cand))
            return -ENAMETOOLONG;
        ssize_t n = readlinkat(root_fd, cand, target, sizeof(target) - 1);
        if (n < 0) {
            if (errno != EINVAL) /* ENOENT included */
                return -errno;
            memcpy(cur, cand, sizeof(cur)); /* not a symlink */
            memmove(rest, next, strlen(next) + 1);
            continue;
        }
        if (++links > 40)
            return -ELOOP;
        target[n] = '\0';
        if (target[0] == '/')
            cur[0] = '\0'; /* absolute: from the root */
        if (snprintf(cand, sizeof(cand), "%s%s", target, next) >= (int)sizeof(cand))
            return -ENAMETOOLONG;
        memcpy(rest, cand, sizeof(rest));
    }
    int fd = openat(root_fd, *cur ? cur : ".", O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
    return fd < 0 ? -errno : fd;
}

static int open_in_root(int root_fd, const char *path)
{
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY, .resolve = RESOLVE_IN_ROOT};
    int fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
    if (fd < 0 && errno == ENOSYS)
        return open_in_root_compat(root_fd, path);
    return fd < 0 ? -errno : fd;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Brings s->os up to date with the file. Returns 0, -ENOENT (neither file) or -errno. */
static int os_refresh(struct os_state *s, int root_fd)
{
    int fd = -ENOENT, which = 0;
    for (; which < 2; which++) {
        fd = open_in_root(root_fd, os_files[which]);
        if (fd != -ENOENT)
            break;
    }
    if (fd < 0) {
        s->have = false;
        return fd;
    }
    int r = 0;
    char *buf = NULL;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    if (s->have && which == s->which && same_file(&st, &s->st))
        goto out;
    s->have = false;
    buf = malloc(OS_RELEASE_MAX + 1);
    if (!buf) {
        r = -ENOMEM;
        goto out;
    }
    ssize_t n = hk_read_fd(fd, buf, OS_RELEASE_MAX + 1);
    if (n < 0) {
        r = (int)n;
        goto out;
    }
    r = hk_os_release_parse(buf, (size_t)n, &s->os);
    if (r < 0)
        goto out;
    s->version = hk_os_version_number(s->os.v[HK_OS_VERSION_ID]);
    s->support_end_ok = s->os.v[HK_OS_SUPPORT_END][0] &&
                        hk_os_support_end(s->os.v[HK_OS_SUPPORT_END], &s->support_end) == 0;
    s->st = st;
    s->which = which;
    s->have = true;
out:
    free(buf);
    close(fd);
    return r;
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int os_collect(void *state, struct hk_collect_ctx *ctx)
{
    struct os_state *s = state;
    int64_t now = monotonic_ms();
    int r = s->last_result;
    if (!s->checked || now - s->checked_ms >= hk_os_check_interval_ms || r < 0) {
        r = os_refresh(s, ctx->paths->root_fd);
        s->last_result = r == -ENOENT ? 0 : r;
        s->checked = r != -ENOENT; /* a missing file is looked for every cycle */
        s->checked_ms = now;
    }
    if (r == -ENOENT)
        return 0;
    if (r == -ENOMEM)
        return r;
    const char *file = os_files[s->which];
    if (r < 0) {
        hk_node_soft_error(&s->health, ctx, "os", file, r);
        return 0;
    }
    if (s->os.v[HK_OS_SUPPORT_END][0] && !s->support_end_ok) {
        /* node_exporter fails the collector on a bad date; the rest is still good here. */
        hk_node_soft_error(&s->health, ctx, "os", file, -EINVAL);
    } else {
        hk_node_ok(&s->health, "os", file);
    }
    const char *const *v = (const char *const[]){
        s->os.v[HK_OS_BUILD_ID],        s->os.v[HK_OS_ID],         s->os.v[HK_OS_ID_LIKE],
        s->os.v[HK_OS_IMAGE_ID],        s->os.v[HK_OS_IMAGE_VERSION], s->os.v[HK_OS_NAME],
        s->os.v[HK_OS_PRETTY_NAME],     s->os.v[HK_OS_VARIANT],    s->os.v[HK_OS_VARIANT_ID],
        s->os.v[HK_OS_VERSION],         s->os.v[HK_OS_VERSION_CODENAME],
        s->os.v[HK_OS_VERSION_ID]};
    hk_emit(ctx->b, &desc_info, v, 1);
    if (s->version > 0) {
        const char *vv[] = {s->os.v[HK_OS_ID], s->os.v[HK_OS_ID_LIKE], s->os.v[HK_OS_NAME]};
        hk_emit(ctx->b, &desc_version, vv, s->version);
    }
    if (s->support_end_ok)
        hk_emit(ctx->b, &desc_support_end, NULL, (double)s->support_end);
    return 0;
}

static int os_init(void **ret_state, const struct hk_collector_env *env)
{
    (void)env;
    struct os_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    *ret_state = s;
    return 0;
}

static void os_fini(void *state)
{
    free(state);
}

const struct hk_collector_ops hk_collector_os = {
    .name = "os",
    .help = "operating system name and version from /etc/os-release (node_os_info, node_os_version)",
    .default_enabled = true,
    .init = os_init,
    .collect = os_collect,
    .fini = os_fini,
};
