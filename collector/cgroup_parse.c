/* SPDX-License-Identifier: Apache-2.0 */
/* Parsers for cgroup v1/v2 interface files, /proc/<pid>/net/dev, /proc/meminfo, sysfs uevent,
 * mountinfo and /proc/<pid>/limits. Pure functions over byte buffers (no allocation, C locale);
 * the collector reads the files, these turn them into numbers. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "collector/cgroup_fs.h"
#include "collector/cgroup_internal.h"
#include "collector/node_parsers.h"
#include "core/parse.h"

/* A whole token of decimal digits (what hk_parse_u64 accepts: 1–31 bytes, no sign, no blank)
 * without its copy and strtoull: the cycle converts ~40 numbers per cgroup. 0, -EINVAL, -ERANGE
 * (over UINT64_MAX; *ret untouched then, as on -EINVAL). */
static inline int cg_u64(const char *s, size_t n, uint64_t *ret)
{
    if (n == 0 || n >= 32)
        return -EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned char)s[i] - (unsigned)'0';
        if (d > 9)
            return -EINVAL;
        if (v > (UINT64_MAX - d) / 10) {
            for (i++; i < n; i++) /* the rest must still be digits: -EINVAL wins */
                if ((unsigned char)s[i] - (unsigned)'0' > 9)
                    return -EINVAL;
            return -ERANGE;
        }
        v = v * 10 + d;
    }
    *ret = v;
    return 0;
}

static inline bool cg_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The first blank or newline at or after p (end if none). Eight bytes at a time where the
 * buffer allows: a byte equal to c gives a zero byte in w ^ c·0x01…01, and the lowest byte
 * flagged by (x − 0x01…01) & ~x & 0x80…80 is the first zero byte of x (little-endian loads). */
static inline const char *cg_word_end(const char *p, const char *end)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t a = w ^ (ones * ' '), b = w ^ (ones * '\t'), c = w ^ (ones * '\n');
        uint64_t m = (((a - ones) & ~a) | ((b - ones) & ~b) | ((c - ones) & ~c)) & highs;
        if (m)
            return p + (__builtin_ctzll(m) >> 3);
        p += 8;
    }
#endif
    while (p < end && !cg_blank(*p) && *p != '\n')
        p++;
    return p;
}

/* Past blanks, then past a token (up to a blank, newline or end). */
static inline const char *cg_token(const char *p, const char *end, const char **ret_tok)
{
    while (p < end && cg_blank(*p))
        p++;
    *ret_tok = p;
    return cg_word_end(p, end);
}

static inline const char *cg_next_line(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    return nl ? nl + 1 : end;
}
int hk_cg_parse_keyed(const char *buf, size_t len, const char *const *keys, size_t nkeys,
                      uint64_t *vals, uint64_t *ret_found)
{
    if (nkeys > 64)
        return -EINVAL;
    uint64_t found = 0, all = nkeys == 64 ? UINT64_MAX : ((1ULL << nkeys) - 1);
    /* memory.stat has ~50 lines and we want ~8 keys: one pass; a line's key is compared only
     * with the wanted keys of its length (a mask per length), the value cut only for a match. */
    enum { SHORT = 32 };
    uint64_t by_len[SHORT + 1]; /* the keys of each length; the last: SHORT and longer */
    memset(by_len, 0, sizeof(by_len));
    for (size_t i = 0; i < nkeys; i++) {
        size_t l = strlen(keys[i]);
        by_len[l < SHORT ? l : SHORT] |= 1ULL << i;
    }
    by_len[0] = 0; /* a line without a key (blank) matches nothing */
    const char *p = buf, *end = buf + len;
    while (p < end && found != all) {
        const char *k;
        p = cg_token(p, end, &k);
        size_t kl = (size_t)(p - k);
        uint64_t cand = by_len[kl < SHORT ? kl : SHORT] & ~found;
        for (; cand; cand &= cand - 1) {
            unsigned i = (unsigned)__builtin_ctzll(cand);
            if ((kl >= SHORT && strlen(keys[i]) != kl) || memcmp(k, keys[i], kl) != 0)
                continue;
            const char *v;
            uint64_t x;
            p = cg_token(p, end, &v);
            if (cg_u64(v, (size_t)(p - v), &x) == 0) {
                vals[i] = x;
                found |= 1ULL << i;
            }
            break;
        }
        p = cg_next_line(p, end);
    }
    *ret_found = found;
    return 0;
}

int hk_cg_parse_value(const char *buf, size_t len, uint64_t *ret, bool *ret_max)
{
    const char *t, *end = buf + len;
    const char *e = cg_token(buf, end, &t);
    size_t tl = (size_t)(e - t);
    if (tl == 0)
        return -EINVAL;
    if ((tl == 3 && memcmp(t, "max", 3) == 0) || (tl == 2 && memcmp(t, "-1", 2) == 0)) {
        *ret = UINT64_MAX;
        *ret_max = true;
        return 0;
    }
    uint64_t v;
    if (cg_u64(t, tl, &v) < 0)
        return -EINVAL;
    *ret = v;
    *ret_max = false;
    return 0;
}

int hk_cg_parse_cpu_max(const char *buf, size_t len, uint64_t *ret_quota_us,
                        uint64_t *ret_period_us)
{
    struct hk_cursor c;
    const char *q, *p;
    size_t ql, pl;
    uint64_t quota = 0, period;
    hk_cursor_init(&c, buf, len);
    if (!hk_cursor_token(&c, &q, &ql) || !hk_cursor_token(&c, &p, &pl))
        return -EINVAL;
    if (!hk_token_eq(q, ql, "max") && cg_u64(q, ql, &quota) < 0)
        return -EINVAL;
    if (cg_u64(p, pl, &period) < 0)
        return -EINVAL;
    *ret_quota_us = quota;
    *ret_period_us = period;
    return 0;
}

int hk_cg_parse_pressure(const char *buf, size_t len, struct hk_cg_psi *ret)
{
    struct hk_cg_psi psi = {0, 0};
    int seen = 0;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *t;
        uint64_t *dst = NULL;
        p = cg_token(p, end, &t);
        if (p - t == 4 && memcmp(t, "some", 4) == 0)
            dst = &psi.some_total_us;
        else if (p - t == 4 && memcmp(t, "full", 4) == 0)
            dst = &psi.full_total_us;
        while (dst) {
            p = cg_token(p, end, &t);
            size_t tl = (size_t)(p - t);
            if (tl == 0)
                break;
            if (tl > 6 && memcmp(t, "total=", 6) == 0) {
                if (cg_u64(t + 6, tl - 6, dst) == 0)
                    seen++;
                break;
            }
        }
        p = cg_next_line(p, end);
    }
    if (!seen)
        return -EINVAL;
    *ret = psi;
    return 0;
}

/* "MAJ:MIN" → numbers. */
static int parse_majmin(const char *t, size_t tl, uint32_t *maj, uint32_t *min)
{
    const char *colon = memchr(t, ':', tl);
    uint64_t a, b;
    if (!colon || cg_u64(t, (size_t)(colon - t), &a) < 0 ||
        cg_u64(colon + 1, tl - (size_t)(colon - t) - 1, &b) < 0 || a > UINT32_MAX || b > UINT32_MAX)
        return -EINVAL;
    *maj = (uint32_t)a;
    *min = (uint32_t)b;
    return 0;
}

static struct hk_cg_blkdev *blkdev_get(struct hk_cg_blkdev *devs, size_t *n, size_t cap,
                                       uint32_t maj, uint32_t min)
{
    for (size_t i = 0; i < *n; i++)
        if (devs[i].major == maj && devs[i].minor == min)
            return &devs[i];
    if (*n >= cap)
        return NULL;
    struct hk_cg_blkdev *d = &devs[(*n)++];
    memset(d, 0, sizeof(*d));
    d->major = maj;
    d->minor = min;
    return d;
}

int hk_cg_parse_io_stat(const char *buf, size_t len, struct hk_cg_blkdev *devs, size_t cap)
{
    size_t n = 0;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *t;
        uint32_t maj, min;
        p = cg_token(p, end, &t);
        if (p == t || parse_majmin(t, (size_t)(p - t), &maj, &min) < 0) {
            p = cg_next_line(p, end);
            continue;
        }
        struct hk_cg_blkdev *d = blkdev_get(devs, &n, cap, maj, min);
        while (d) {
            p = cg_token(p, end, &t);
            size_t tl = (size_t)(p - t);
            if (tl == 0)
                break;
            const char *eq = memchr(t, '=', tl);
            if (!eq)
                continue;
            size_t kl = (size_t)(eq - t);
            uint64_t *dst = NULL;
            if (kl == 6 && memcmp(t + 1, "bytes", 5) == 0)
                dst = t[0] == 'r' ? &d->read_bytes : t[0] == 'w' ? &d->write_bytes : NULL;
            else if (kl == 4 && memcmp(t + 1, "ios", 3) == 0)
                dst = t[0] == 'r' ? &d->reads : t[0] == 'w' ? &d->writes : NULL;
            if (dst)
                cg_u64(eq + 1, tl - kl - 1, dst);
        }
        p = cg_next_line(p, end);
    }
    return (int)n;
}

int hk_cg_parse_blkio(const char *buf, size_t len, bool bytes, struct hk_cg_blkdev *devs, size_t *n,
                      size_t cap)
{
    struct hk_cursor c;
    hk_cursor_init(&c, buf, len);
    while (!hk_cursor_eof(&c)) {
        const char *t, *op, *v;
        size_t tl, ol, vl;
        uint32_t maj, min;
        uint64_t x;
        if (!hk_cursor_token(&c, &t, &tl) || parse_majmin(t, tl, &maj, &min) < 0 ||
            !hk_cursor_token(&c, &op, &ol) || !hk_cursor_token(&c, &v, &vl) ||
            cg_u64(v, vl, &x) < 0) {
            hk_cursor_next_line(&c);
            continue;
        }
        hk_cursor_next_line(&c);
        struct hk_cg_blkdev *d = blkdev_get(devs, n, cap, maj, min);
        if (!d)
            continue;
        /* io_serviced keeps Read and Write; io_service_bytes every Op. */
        uint64_t *dst = NULL;
        if (hk_token_eq(op, ol, "Read"))
            dst = bytes ? &d->read_bytes : &d->reads;
        else if (hk_token_eq(op, ol, "Write"))
            dst = bytes ? &d->write_bytes : &d->writes;
        else if (bytes && hk_token_eq(op, ol, "Sync"))
            dst = &d->sync_bytes;
        else if (bytes && hk_token_eq(op, ol, "Async"))
            dst = &d->async_bytes;
        else if (bytes && hk_token_eq(op, ol, "Discard"))
            dst = &d->discard_bytes;
        else if (bytes && hk_token_eq(op, ol, "Total"))
            dst = &d->total_bytes;
        if (!dst)
            continue;
        *dst = x;
        if (bytes)
            d->has_v1_ops = true;
    }
    return 0;
}

bool hk_cg_netdev_skipped(const char *name)
{
    /* cAdvisor's default ignored prefixes, compared case-insensitively. */
    static const char *const prefixes[] = {"lo", "veth", "docker", "nerdctl"};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (strncasecmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

int hk_cg_parse_net_dev(const char *buf, size_t len, struct hk_cg_netdev *devs, size_t cap)
{
    struct hk_cursor c;
    size_t n = 0;
    hk_cursor_init(&c, buf, len);
    while (!hk_cursor_eof(&c) && n < cap) {
        const char *line;
        size_t ll;
        if (!hk_cursor_line(&c, &line, &ll))
            break;
        const char *colon = memchr(line, ':', ll);
        if (!colon)
            continue; /* the two header lines */
        const char *s = line;
        while (s < colon && *s == ' ')
            s++;
        size_t nl = (size_t)(colon - s);
        struct hk_cg_netdev *d = &devs[n];
        if (nl == 0 || nl >= sizeof(d->name))
            continue;
        memcpy(d->name, s, nl);
        d->name[nl] = '\0';
        if (hk_cg_netdev_skipped(d->name))
            continue;
        struct hk_cursor f;
        uint64_t col[16];
        int k = 0;
        hk_cursor_init(&f, colon + 1, ll - (size_t)(colon + 1 - line));
        const char *t;
        size_t tl;
        while (k < 16 && hk_cursor_token(&f, &t, &tl) && cg_u64(t, tl, &col[k]) == 0)
            k++;
        if (k < 12)
            continue;
        d->rx_bytes = col[0];
        d->rx_packets = col[1];
        d->rx_errors = col[2];
        d->rx_dropped = col[3];
        d->tx_bytes = col[8];
        d->tx_packets = col[9];
        d->tx_errors = col[10];
        d->tx_dropped = col[11];
        n++;
    }
    return (int)n;
}

int hk_cg_parse_uevent_devname(const char *buf, size_t len, char *name, size_t cap)
{
    struct hk_cursor c;
    const char *line;
    size_t ll;
    hk_cursor_init(&c, buf, len);
    while (hk_cursor_line(&c, &line, &ll)) {
        if (ll > 8 && memcmp(line, "DEVNAME=", 8) == 0) {
            if (ll - 8 >= cap)
                return -EINVAL;
            memcpy(name, line + 8, ll - 8);
            name[ll - 8] = '\0';
            return 0;
        }
    }
    return -EINVAL;
}

int hk_cg_parse_meminfo(const char *buf, size_t len, struct hk_cg_meminfo *ret)
{
    static const char *const keys[] = {"MemTotal:", "SwapTotal:", "SwapFree:"};
    uint64_t v[3] = {0, 0, 0}, found;
    hk_cg_parse_keyed(buf, len, keys, 3, v, &found);
    if (!(found & 1))
        return -EINVAL;
    ret->mem_total = v[0] * 1024;
    ret->swap_total = v[1] * 1024;
    ret->swap_free = v[2] * 1024;
    return 0;
}

uint64_t hk_cg_count_procs(const char *buf, size_t len, uint32_t *ret_first_pid)
{
    uint64_t n = 0;
    uint32_t first = 0;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        if (e > p) {
            if (n == 0) {
                uint64_t pid;
                if (cg_u64(p, (size_t)(e - p), &pid) == 0 && pid <= UINT32_MAX)
                    first = (uint32_t)pid;
            }
            n++;
        }
        p = nl ? nl + 1 : end;
    }
    if (ret_first_pid)
        *ret_first_pid = first;
    return n;
}

/* ---- the container main process (collector/cgroup_fs.h) ---- */

static bool starts_with(const char *p, const char *end, const char *lit)
{
    size_t l = strlen(lit);
    return (size_t)(end - p) >= l && memcmp(p, lit, l) == 0;
}

int hk_cg_parse_limits_nofile(const char *buf, size_t len, int64_t *ret_soft)
{
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        if (starts_with(p, e, "Max open files ")) {
            const char *v = p + strlen("Max open files ");
            while (v < e && *v == ' ')
                v++;
            const char *ve = v;
            while (ve < e && *ve != ' ')
                ve++;
            if ((size_t)(ve - v) == 9 && memcmp(v, "unlimited", 9) == 0) {
                *ret_soft = -1;
                return 0;
            }
            uint64_t x;
            if (ve == v || cg_u64(v, (size_t)(ve - v), &x) < 0 || x > INT64_MAX)
                return -EINVAL;
            *ret_soft = (int64_t)x;
            return 0;
        }
        p = nl ? nl + 1 : end;
    }
    return -EINVAL;
}

struct upper_ctx {
    char *out;
    size_t cap;
    int r;
};

static int root_upper(const struct hk_mount *m, void *userdata)
{
    struct upper_ctx *x = userdata;
    if (strcmp(m->mountpoint, "/") != 0)
        return 0;
    if (strcmp(m->fstype, "overlay") != 0) {
        x->r = -ENOENT; /* a later mount over "/" hides an earlier overlay */
        return 0;
    }
    x->r = -EROFS; /* an overlay without an upper layer: a read-only view */
    const char *o = m->super, *oe = m->super + m->super_len;
    while (o < oe) {
        const char *comma = memchr(o, ',', (size_t)(oe - o));
        const char *ce = comma ? comma : oe;
        if (starts_with(o, ce, "upperdir=")) {
            const char *v = o + 9;
            if (memchr(v, '\0', (size_t)(ce - v)))
                return -EINVAL; /* never from the kernel; a path cannot hold it */
            /* seq_show_option escapes ',', '=', spaces and '\\' as \ooo. */
            x->r = hk_mountinfo_unescape(v, (size_t)(ce - v), x->out, x->cap);
            if (x->r == 0 || (x->r > 0 && x->out[0] != '/'))
                x->r = -EINVAL;
            break;
        }
        o = comma ? comma + 1 : oe;
    }
    return 0;
}

int hk_cg_parse_root_upperdir(const char *buf, size_t len, char *out, size_t cap)
{
    struct upper_ctx x = {out, cap, -ENOENT};
    int r = hk_mountinfo_parse(buf, len, root_upper, &x);
    return r < 0 ? r : x.r;
}
