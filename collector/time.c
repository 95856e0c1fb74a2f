/* SPDX-License-Identifier: Apache-2.0 */
/* System time, time zone and clock sources, node_exporter's time collector (Linux).
 * Reads: the real-time clock and hakari's own time zone (TZ, else its /etc/localtime, as
 * node_exporter's Go runtime does); <sysfs>/devices/system/clocksource/clocksource<N>/
 * {available,current}_clocksource (kept open, re-read each cycle: the kernel switches the
 * current one when a clock turns unstable).
 * Emits: node_time_seconds, node_time_zone_offset_seconds{time_zone},
 * node_time_clocksource_available_info{clocksource,device},
 * node_time_clocksource_current_info{clocksource,device} — device is the index of the
 * clocksource<N> directory in name order, as node_exporter numbers them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector/node_common.h"
#include "collector/node_parsers.h"
#include "core/collector.h"
#include "core/parse.h"

#define CS_MAX 64        /* clocksource<N> directories followed */
#define CS_READ_CAP 4097 /* sysfs shows at most a page */

static const struct hk_metric_desc desc_time = {"node_time_seconds",
                                                "System time in seconds since epoch (1970).",
                                                HK_METRIC_GAUGE, "seconds", NULL};
static const char *const zone_labels[] = {"time_zone", NULL};
static const struct hk_metric_desc desc_zone = {"node_time_zone_offset_seconds",
                                                "System time zone offset in seconds.",
                                                HK_METRIC_GAUGE, "seconds", zone_labels};
static const char *const cs_labels[] = {"clocksource", "device", NULL};
static const struct hk_metric_desc desc_cs_available = {
    "node_time_clocksource_available_info",
    "Available clocksources read from '/sys/devices/system/clocksource'.", HK_METRIC_GAUGE, "",
    cs_labels};
static const struct hk_metric_desc desc_cs_current = {
    "node_time_clocksource_current_info",
    "Current clocksource read from '/sys/devices/system/clocksource'.", HK_METRIC_GAUGE, "",
    cs_labels};

struct clocksource {
    char name[32]; /* clocksource<N> */
    int available_fd, current_fd;
};

struct time_state {
    struct clocksource cs[CS_MAX];
    size_t ncs;
    bool scanned;
    struct hk_node_health health;
};

static void cs_close(struct time_state *s)
{
    for (size_t i = 0; i < s->ncs; i++) {
        if (s->cs[i].available_fd >= 0)
            close(s->cs[i].available_fd);
        if (s->cs[i].current_fd >= 0)
            close(s->cs[i].current_fd);
    }
    s->ncs = 0;
    s->scanned = false;
}

static int cs_name_cmp(const void *a, const void *b)
{
    return strcmp(((const struct clocksource *)a)->name, ((const struct clocksource *)b)->name);
}

/* Finds the clocksource<N> directories and opens their two files. Returns 0, -ENOENT (none)
 * or -errno. */
static int cs_scan(struct time_state *s, int sys_fd)
{
    cs_close(s);
    s->scanned = true;
    if (sys_fd < 0)
        return -ENOENT;
    int fd = openat(sys_fd, "devices/system/clocksource", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -ENOMEM;
    }
    struct dirent *e;
    while ((e = readdir(d)) && s->ncs < CS_MAX) {
        /* node_exporter globs clocksource[0-9]* */
        if (strncmp(e->d_name, "clocksource", 11) != 0 || e->d_name[11] < '0' ||
            e->d_name[11] > '9' || strlen(e->d_name) >= sizeof(s->cs[0].name))
            continue;
        struct clocksource *c = &s->cs[s->ncs];
        memcpy(c->name, e->d_name, strlen(e->d_name) + 1);
        char path[64];
        snprintf(path, sizeof(path), "%s/available_clocksource", c->name);
        c->available_fd = openat(dirfd(d), path, O_RDONLY | O_CLOEXEC);
        snprintf(path, sizeof(path), "%s/current_clocksource", c->name);
        c->current_fd = openat(dirfd(d), path, O_RDONLY | O_CLOEXEC);
        s->ncs++;
    }
    closedir(d);
    qsort(s->cs, s->ncs, sizeof(s->cs[0]), cs_name_cmp);
    return 0;
}

static ssize_t read_kept(int fd, char *buf, size_t cap)
{
    if (fd < 0)
        return -ENOENT;
    ssize_t n;
    do
        n = pread(fd, buf, cap - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if ((size_t)n == cap - 1)
        return -EFBIG;
    buf[n] = '\0';
    return n;
}

/* Emits one clocksource; returns 0 or -errno (nothing emitted for it). */
static int emit_clocksource(const struct clocksource *c, unsigned index, struct hk_builder *b)
{
    char avail[CS_READ_CAP], cur[CS_READ_CAP];
    ssize_t na = read_kept(c->available_fd, avail, sizeof(avail));
    if (na < 0)
        return (int)na;
    ssize_t nc = read_kept(c->current_fd, cur, sizeof(cur));
    if (nc < 0)
        return (int)nc;
    if (memchr(avail, '\0', (size_t)na) || memchr(cur, '\0', (size_t)nc))
        return -EINVAL;
    const char *cv = cur;
    size_t cl = hk_sysfs_trim(&cv, (size_t)nc);
    char device[16];
    snprintf(device, sizeof(device), "%u", index);
    struct hk_cursor k;
    const char *tok;
    size_t tl;
    hk_cursor_init(&k, avail, (size_t)na);
    while (!hk_cursor_eof(&k)) { /* whitespace-separated, possibly over lines */
        if (!hk_cursor_token(&k, &tok, &tl)) {
            hk_cursor_next_line(&k);
            continue;
        }
        char name[CS_READ_CAP];
        memcpy(name, tok, tl);
        name[tl] = '\0';
        const char *v[] = {name, device};
        hk_emit(b, &desc_cs_available, v, 1);
    }
    cur[(cv - cur) + (ptrdiff_t)cl] = '\0';
    const char *v[] = {cv, device};
    hk_emit(b, &desc_cs_current, v, 1);
    return 0;
}

static int time_collect(void *state, struct hk_collect_ctx *ctx)
{
    struct time_state *s = state;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    hk_emit(ctx->b, &desc_time, NULL, (double)now.tv_sec + (double)now.tv_nsec / 1e9);
    struct tm tm;
    time_t t = now.tv_sec;
    if (localtime_r(&t, &tm)) {
        const char *zone[] = {tm.tm_zone ? tm.tm_zone : ""};
        hk_emit(ctx->b, &desc_zone, zone, (double)tm.tm_gmtoff);
    }
    if (!s->scanned) {
        int r = cs_scan(s, ctx->paths->sys_fd);
        if (r < 0 && r != -ENOENT) {
            hk_node_soft_error(&s->health, ctx, "time", "devices/system/clocksource", r);
            return r == -ENOMEM ? r : 0;
        }
    }
    for (size_t i = 0; i < s->ncs; i++) {
        int r = emit_clocksource(&s->cs[i], (unsigned)i, ctx->b);
        if (r < 0) {
            /* Quietly absent files stay absent; anything else is counted. Rescan next cycle. */
            if (r != -ENOENT)
                hk_node_soft_error(&s->health, ctx, "time", s->cs[i].name, r);
            s->scanned = false;
            return 0;
        }
    }
    hk_node_ok(&s->health, "time", "devices/system/clocksource");
    return 0;
}

static int time_init(void **ret_state, const struct hk_collector_env *env)
{
    (void)env;
    struct time_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    tzset();
    *ret_state = s;
    return 0;
}

static void time_fini(void *state)
{
    struct time_state *s = state;
    if (!s)
        return;
    cs_close(s);
    free(s);
}

const struct hk_collector_ops hk_collector_time = {
    .name = "time",
    .help = "system time, time zone offset and clock sources (node_time_*)",
    .default_enabled = true,
    .init = time_init,
    .collect = time_collect,
    .fini = time_fini,
};
