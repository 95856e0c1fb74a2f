/* SPDX-License-Identifier: Apache-2.0 */
/* Mounts and cgroup trees, once for every collector (see cgroupfs.h): the mountinfo parser, the
 * cgroup mount discovery, the getdents64 subdirectory lister and tree walker, the cgroup id →
 * path index and the inotify watch that tells which cgroup directories changed.
 * Reads: <procfs>/self/mountinfo, <sysfs>/fs/cgroup/cgroup.controllers (layout fallback), the
 *   cgroup directories (getdents64), inotify events on them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/cgroupfs.h"
#include "core/fsread.h"
#include "core/parse.h"

/* ---- mountinfo ---- */

int hk_mountinfo_unescape(const char *src, size_t len, char *dst, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = src[i];
        if (ch == '\0')
            return -EINVAL; /* never from the kernel; would cut the string short */
        if (ch == '\\') {
            /* The kernel escapes space, tab, newline and backslash as \ooo (show_mountinfo). */
            if (len - i < 4)
                return -EINVAL;
            int v = 0;
            for (size_t k = 1; k <= 3; k++) {
                char d = src[i + k];
                if (d < '0' || d > '7')
                    return -EINVAL;
                v = v * 8 + (d - '0');
            }
            if (v == 0 || v > 255)
                return -EINVAL;
            ch = (char)v;
            i += 3;
        }
        if (o + 1 >= cap)
            return -ENOSPC;
        dst[o++] = ch;
    }
    if (o >= cap)
        return -ENOSPC;
    dst[o] = '\0';
    return (int)o;
}

bool hk_mountinfo_opt_has(const char *list, size_t len, const char *word)
{
    size_t wl = strlen(word);
    const char *p = list, *end = list + len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        if ((size_t)(e - p) == wl && memcmp(p, word, wl) == 0)
            return true;
        p = e + 1;
    }
    return false;
}

static int parse_u32(const char *s, size_t len, uint32_t *ret)
{
    uint64_t v;
    if (hk_parse_u64(s, len, &v) < 0 || v > UINT32_MAX)
        return -EINVAL;
    *ret = (uint32_t)v;
    return 0;
}

struct mi_bufs {
    char mountpoint[PATH_MAX], root[PATH_MAX], source[PATH_MAX], fstype[256];
};

/* Parses one non-empty line into *m (strings in b). Returns 0, or -EINVAL with *ret_field. */
static int parse_line(const char *line, size_t ll, struct mi_bufs *b, struct hk_mount *m,
                      const char **ret_field)
{
    struct hk_cursor c;
    const char *tok[6];
    size_t tl[6];
    size_t n = 0;
    hk_cursor_init(&c, line, ll);
    while (n < 6 && hk_cursor_token(&c, &tok[n], &tl[n]))
        n++;
    static const char *const names[6] = {"mount id",    "parent id",   "major:minor",
                                         "root",        "mount point", "mount options"};
    if (n < 6) {
        *ret_field = names[n];
        return -EINVAL;
    }
    memset(m, 0, sizeof(*m));
    *ret_field = names[0];
    if (hk_parse_u64(tok[0], tl[0], &m->id) < 0)
        return -EINVAL;
    *ret_field = names[1];
    if (hk_parse_u64(tok[1], tl[1], &m->parent) < 0)
        return -EINVAL;
    *ret_field = names[2];
    const char *colon = memchr(tok[2], ':', tl[2]);
    if (!colon || parse_u32(tok[2], (size_t)(colon - tok[2]), &m->major) < 0 ||
        parse_u32(colon + 1, (size_t)(tok[2] + tl[2] - colon - 1), &m->minor) < 0)
        return -EINVAL;
    *ret_field = names[3];
    if (hk_mountinfo_unescape(tok[3], tl[3], b->root, sizeof(b->root)) < 0)
        return -EINVAL;
    *ret_field = names[4];
    if (hk_mountinfo_unescape(tok[4], tl[4], b->mountpoint, sizeof(b->mountpoint)) < 0 ||
        b->mountpoint[0] != '/')
        return -EINVAL;
    m->options = tok[5];
    m->options_len = tl[5];
    /* Optional fields ("shared:1 master:3"), zero or more, end at a lone "-". */
    const char *t, *opt_start = NULL, *opt_end = NULL;
    size_t l;
    bool sep = false;
    while (hk_cursor_token(&c, &t, &l)) {
        if (hk_token_eq(t, l, "-")) {
            sep = true;
            break;
        }
        if (!opt_start)
            opt_start = t;
        opt_end = t + l;
    }
    *ret_field = "separator";
    if (!sep)
        return -EINVAL;
    m->optional = opt_start ? opt_start : "";
    m->optional_len = opt_start ? (size_t)(opt_end - opt_start) : 0;
    const char *fs, *src;
    size_t fsl, srcl;
    *ret_field = "filesystem type";
    if (!hk_cursor_token(&c, &fs, &fsl) ||
        hk_mountinfo_unescape(fs, fsl, b->fstype, sizeof(b->fstype)) < 0)
        return -EINVAL;
    *ret_field = "mount source";
    if (!hk_cursor_token(&c, &src, &srcl) ||
        hk_mountinfo_unescape(src, srcl, b->source, sizeof(b->source)) < 0)
        return -EINVAL;
    /* Super options: always written by the kernel; tolerated missing (hand-made files). */
    if (!hk_cursor_token(&c, &m->super, &m->super_len)) {
        m->super = "";
        m->super_len = 0;
    }
    m->mountpoint = b->mountpoint;
    m->root = b->root;
    m->fstype = b->fstype;
    m->source = b->source;
    m->readonly = hk_mountinfo_opt_has(m->options, m->options_len, "ro");
    return 0;
}

int hk_mountinfo_scan(const char *buf, size_t len, unsigned flags, hk_mountinfo_fn fn,
                      void *userdata, struct hk_mountinfo_error *ret_err, unsigned *ret_skipped)
{
    struct mi_bufs *b = malloc(sizeof(*b));
    if (!b)
        return -ENOMEM;
    struct hk_cursor c;
    const char *line;
    size_t ll;
    unsigned lineno = 0, skipped = 0;
    int r = 0;
    hk_cursor_init(&c, buf, len);
    while (hk_cursor_line(&c, &line, &ll)) {
        lineno++;
        size_t i = 0;
        while (i < ll && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i == ll)
            continue;
        struct hk_mount m;
        const char *field = NULL;
        if (parse_line(line, ll, b, &m, &field) < 0) {
            if (flags & HK_MOUNTINFO_SKIP_BAD) {
                skipped++;
                continue;
            }
            if (ret_err)
                *ret_err = (struct hk_mountinfo_error){lineno, field};
            r = -EINVAL;
            break;
        }
        if (fn && (r = fn(&m, userdata)) < 0)
            break;
        r = 0;
    }
    free(b);
    if (ret_skipped)
        *ret_skipped = skipped;
    return r;
}

int hk_mountinfo_parse(const char *buf, size_t len, hk_mountinfo_fn fn, void *userdata)
{
    return hk_mountinfo_scan(buf, len, 0, fn, userdata, NULL, NULL);
}

/* ---- cgroup mounts ---- */

struct mounts_ctx {
    struct hk_cg_mounts *m;
    int found;
};

static void copy_path(char *dst, size_t cap, const char *src)
{
    size_t l = strlen(src);
    if (l >= cap)
        return; /* longer than any usable cgroup mount: treated as absent */
    memcpy(dst, src, l + 1);
}

static int cg_mount(const struct hk_mount *mt, void *userdata)
{
    static const char *const names[HK_CG_NCTRL] = {"cpu", "cpuacct", "memory", "blkio", "pids"};
    struct mounts_ctx *x = userdata;
    if (strcmp(mt->fstype, "cgroup2") == 0) {
        if (!x->m->v2[0]) {
            copy_path(x->m->v2, sizeof(x->m->v2), mt->mountpoint);
            x->found += x->m->v2[0] != '\0';
        }
    } else if (strcmp(mt->fstype, "cgroup") == 0) {
        bool any = false;
        for (int i = 0; i < HK_CG_NCTRL; i++) {
            if (x->m->v1[i][0] || !hk_mountinfo_opt_has(mt->super, mt->super_len, names[i]))
                continue;
            copy_path(x->m->v1[i], sizeof(x->m->v1[i]), mt->mountpoint);
            any = x->m->v1[i][0] != '\0';
        }
        x->found += any;
    }
    return 0;
}

int hk_cgroupfs_parse_mounts(const char *buf, size_t len, struct hk_cg_mounts *ret)
{
    memset(ret, 0, sizeof(*ret));
    struct mounts_ctx x = {ret, 0};
    hk_mountinfo_scan(buf, len, HK_MOUNTINFO_SKIP_BAD, cg_mount, &x, NULL, NULL);
    return x.found;
}

int hk_cgroupfs_discover(const struct hk_paths *paths, struct hk_cg_mounts *ret)
{
    char *mi = NULL;
    ssize_t len = hk_read_file_alloc(paths->proc_fd, "self/mountinfo", 4 << 20, &mi);
    int found = len >= 0 ? hk_cgroupfs_parse_mounts(mi, (size_t)len, ret) : 0;
    free(mi);
    if (found > 0)
        return found;
    /* Conventional layout: cgroup2 at /sys/fs/cgroup, or v1 per controller (plus
     * /sys/fs/cgroup/unified on hybrid hosts). */
    static const char *const v1names[HK_CG_NCTRL] = {"cpu", "cpuacct", "memory", "blkio", "pids"};
    memset(ret, 0, sizeof(*ret));
    char probe[64];
    if (hk_read_file_at(paths->sys_fd, "fs/cgroup/cgroup.controllers", probe, sizeof(probe)) >= 0) {
        snprintf(ret->v2, sizeof(ret->v2), "/sys/fs/cgroup");
    } else {
        for (int i = 0; i < HK_CG_NCTRL; i++)
            snprintf(ret->v1[i], sizeof(ret->v1[i]), "/sys/fs/cgroup/%s", v1names[i]);
        snprintf(ret->v2, sizeof(ret->v2), "/sys/fs/cgroup/unified");
    }
    return 0;
}

int hk_cgroupfs_open_mount(const struct hk_paths *paths, const char *mp)
{
    int at = paths->root_fd;
    const char *rel = mp;
    if (strncmp(mp, "/sys/", 5) == 0 && paths->sys_fd >= 0) {
        at = paths->sys_fd;
        rel = mp + 5;
    } else if (strcmp(paths->rootfs, "/") != 0) {
        size_t rl = strlen(paths->rootfs);
        while (rl > 1 && paths->rootfs[rl - 1] == '/')
            rl--;
        if (strncmp(mp, paths->rootfs, rl) == 0 && mp[rl] == '/')
            rel = mp + rl;
    }
    while (*rel == '/')
        rel++;
    int fd = openat(at, *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* ---- directories ---- */

int hk_cgroupfs_subdirs(int dirfd, hk_cgroupfs_subdir_fn fn, void *userdata)
{
    /* 16 KiB hold ~190 entries of 64-hex container ids: a pod or QoS directory in one call. */
    char dbuf[16384];
    int n = 0;
    if (lseek(dirfd, 0, SEEK_SET) < 0)
        return -errno;
    for (;;) {
        ssize_t got = getdents64(dirfd, dbuf, sizeof(dbuf));
        if (got < 0) /* removed while listed: normal life */
            return errno == ENOENT || errno == ENODEV ? n : -errno;
        if (got == 0)
            return n;
        for (ssize_t off = 0; off < got;) {
            struct dirent64 *d = (struct dirent64 *)(dbuf + off);
            off += d->d_reclen;
            const char *name = d->d_name;
            if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
                continue;
            if (d->d_type != DT_DIR) {
                if (d->d_type != DT_UNKNOWN)
                    continue;
                struct stat cs;
                if (fstatat(dirfd, name, &cs, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(cs.st_mode))
                    continue;
            }
            n++;
            int r = fn(name, strlen(name), d->d_ino, userdata);
            if (r < 0)
                return r;
        }
    }
}

#define WALK_PATH_MAX 4096

struct walk_ctx {
    hk_cgroupfs_walk_fn fn;
    void *userdata;
    int dirfd, depth, max_depth;
    char *path;
    size_t len;
};

static int walk_dir(struct walk_ctx *w);

static int walk_child(const char *name, size_t nl, uint64_t ino, void *userdata)
{
    struct walk_ctx *w = userdata;
    size_t sep = w->len > 1 ? 1 : 0; /* "/" + name, or "/a" + "/" + name */
    if (w->len + sep + nl + 1 > WALK_PATH_MAX)
        return 0;
    char *p = w->path + w->len;
    if (sep)
        *p++ = '/';
    memcpy(p, name, nl + 1);
    int r = w->fn(w->path, ino, w->userdata);
    if (r >= 0 && w->depth < w->max_depth) {
        int sub = openat(w->dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sub >= 0) {
            struct walk_ctx c = *w;
            c.dirfd = sub;
            c.depth = w->depth + 1;
            c.len = w->len + sep + nl;
            r = walk_dir(&c);
            close(sub);
            /* A subdirectory removed while we list it: normal life, the walk goes on. */
            if (r < 0 && r != -ENOMEM && r != -E2BIG)
                r = 0;
        }
    }
    w->path[w->len] = '\0';
    return r;
}

static int walk_dir(struct walk_ctx *w)
{
    int r = hk_cgroupfs_subdirs(w->dirfd, walk_child, w);
    return r < 0 ? r : 0;
}

int hk_cgroupfs_walk(int root_dirfd, int max_depth, hk_cgroupfs_walk_fn fn, void *userdata)
{
    struct stat st;
    if (root_dirfd < 0)
        return -ENOENT;
    /* Our own descriptor: the caller's may be O_PATH (no getdents) and its offset is not ours
     * to move. */
    int fd = openat(root_dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    char *path = malloc(WALK_PATH_MAX);
    if (!path) {
        close(fd);
        return -ENOMEM;
    }
    path[0] = '/';
    path[1] = '\0';
    int r = fn(path, (uint64_t)st.st_ino, userdata);
    if (r >= 0) {
        struct walk_ctx w = {fn, userdata, fd, 0, max_depth, path, 1};
        r = walk_dir(&w);
    }
    free(path);
    close(fd);
    return r < 0 ? r : 0;
}

/* ---- id → path index: open addressing, ids are never 0 ---- */

struct idx_slot {
    uint64_t id;
    char *path;
};

struct hk_cgid_index {
    struct idx_slot *slots;
    size_t cap, n; /* cap is a power of two */
    /* Paths replaced or dropped since the last hk_cgid_index_release: a caller may still hold
     * them (rows labelled earlier in the same collection), so they are freed only there. */
    char **retired;
    size_t nretired, retired_cap;
};

struct hk_cgid_index *hk_cgid_index_new(void)
{
    return calloc(1, sizeof(struct hk_cgid_index));
}

void hk_cgid_index_release(struct hk_cgid_index *idx)
{
    if (!idx)
        return;
    for (size_t i = 0; i < idx->nretired; i++)
        free(idx->retired[i]);
    idx->nretired = 0;
}

void hk_cgid_index_clear(struct hk_cgid_index *idx)
{
    if (!idx)
        return;
    hk_cgid_index_release(idx);
    for (size_t i = 0; i < idx->cap; i++)
        free(idx->slots[i].path);
    free(idx->slots);
    idx->slots = NULL;
    idx->cap = idx->n = 0;
}

void hk_cgid_index_free(struct hk_cgid_index *idx)
{
    hk_cgid_index_clear(idx);
    if (idx)
        free(idx->retired);
    free(idx);
}

/* Makes room for extra retired paths; -ENOMEM leaves the index as it was. */
static int retire(struct hk_cgid_index *idx, size_t extra)
{
    if (idx->nretired + extra <= idx->retired_cap)
        return 0;
    size_t ncap = idx->retired_cap ? idx->retired_cap : 64;
    while (ncap < idx->nretired + extra)
        ncap *= 2;
    char **nr = realloc(idx->retired, ncap * sizeof(*nr));
    if (!nr)
        return -ENOMEM;
    idx->retired = nr;
    idx->retired_cap = ncap;
    return 0;
}

static size_t idx_hash(uint64_t id)
{
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdULL;
    id ^= id >> 33;
    return (size_t)id;
}

static struct idx_slot *idx_find(const struct hk_cgid_index *idx, uint64_t id)
{
    if (!idx->cap)
        return NULL;
    for (size_t i = idx_hash(id) & (idx->cap - 1);; i = (i + 1) & (idx->cap - 1)) {
        if (idx->slots[i].id == id || idx->slots[i].id == 0)
            return &idx->slots[i];
    }
}

static int idx_grow(struct hk_cgid_index *idx)
{
    size_t ncap = idx->cap ? idx->cap * 2 : 64;
    struct idx_slot *ns = calloc(ncap, sizeof(*ns));
    if (!ns)
        return -ENOMEM;
    struct hk_cgid_index tmp = {.slots = ns, .cap = ncap};
    for (size_t i = 0; i < idx->cap; i++) {
        if (!idx->slots[i].id)
            continue;
        *idx_find(&tmp, idx->slots[i].id) = idx->slots[i];
        tmp.n++;
    }
    free(idx->slots);
    idx->slots = tmp.slots; /* the retired list stays */
    idx->cap = tmp.cap;
    idx->n = tmp.n;
    return 0;
}

int hk_cgid_index_add(struct hk_cgid_index *idx, uint64_t id, const char *path)
{
    if (!id || !path)
        return -EINVAL;
    struct idx_slot *s = idx->cap ? idx_find(idx, id) : NULL;
    if (s && s->id == id) {
        if (strcmp(s->path, path) == 0)
            return 0;
        char *p = strdup(path);
        if (!p || retire(idx, 1) < 0) {
            free(p);
            return -ENOMEM;
        }
        idx->retired[idx->nretired++] = s->path;
        s->path = p;
        return 0;
    }
    if (idx->n >= HK_CGID_INDEX_MAX)
        return -E2BIG;
    if ((idx->n + 1) * 4 > idx->cap * 3) { /* keep load ≤ 75 % so probes terminate */
        int r = idx_grow(idx);
        if (r < 0)
            return r;
    }
    char *p = strdup(path);
    if (!p)
        return -ENOMEM;
    s = idx_find(idx, id);
    s->id = id;
    s->path = p;
    idx->n++;
    return 0;
}

const char *hk_cgid_index_lookup(const struct hk_cgid_index *idx, uint64_t id)
{
    if (!idx || !id)
        return NULL;
    struct idx_slot *s = idx_find(idx, id);
    return s && s->id == id ? s->path : NULL;
}

size_t hk_cgid_index_count(const struct hk_cgid_index *idx)
{
    return idx ? idx->n : 0;
}

int hk_cgid_index_foreach(const struct hk_cgid_index *idx,
                          int (*fn)(uint64_t id, const char *path, void *arg), void *arg)
{
    for (size_t i = 0; idx && i < idx->cap; i++) {
        if (!idx->slots[i].id)
            continue;
        int r = fn(idx->slots[i].id, idx->slots[i].path, arg);
        if (r < 0)
            return r;
    }
    return 0;
}

static int index_visit(const char *path, uint64_t ino, void *userdata)
{
    return hk_cgid_index_add(userdata, ino, path);
}

int hk_cgid_index_walk(struct hk_cgid_index *idx, int root_dirfd)
{
    if (root_dirfd < 0)
        return -ENOENT;
    /* The old paths are retired, not freed: lookups earlier in this collection stay valid. */
    if (retire(idx, idx->n) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < idx->cap; i++)
        if (idx->slots[i].id)
            idx->retired[idx->nretired++] = idx->slots[i].path;
    free(idx->slots);
    idx->slots = NULL;
    idx->cap = idx->n = 0;
    int r = hk_cgroupfs_walk(root_dirfd, 32, index_visit, idx);
    return r == -E2BIG ? (int)idx->n : r < 0 ? r : (int)idx->n;
}

/* ---- change notification ---- */

struct wd_slot {
    int wd; /* -1: free; -2: deleted (probe chains go on) */
    void *cookie;
};

struct hk_cgroupfs_watch {
    int fd;
    struct wd_slot *slots;
    size_t cap, n, used; /* used: live + deleted slots */
};

#define WATCH_MASK                                                                                 \
    (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |        \
     IN_ONLYDIR)

int hk_cgroupfs_watch_new(struct hk_cgroupfs_watch **ret)
{
    struct hk_cgroupfs_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) {
        int e = -errno;
        free(w);
        return e;
    }
    *ret = w;
    return 0;
}

void hk_cgroupfs_watch_free(struct hk_cgroupfs_watch *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    free(w->slots);
    free(w);
}

static struct wd_slot *wd_find(const struct hk_cgroupfs_watch *w, int wd, bool for_insert)
{
    if (!w->cap)
        return NULL;
    for (size_t i = idx_hash((uint64_t)wd) & (w->cap - 1);; i = (i + 1) & (w->cap - 1)) {
        struct wd_slot *s = &w->slots[i];
        if (s->wd == wd)
            return s;
        if (s->wd == -1)
            return for_insert ? s : NULL;
        if (s->wd == -2 && for_insert)
            return s;
    }
}

static int wd_rehash(struct hk_cgroupfs_watch *w, size_t ncap)
{
    struct wd_slot *ns = malloc(ncap * sizeof(*ns));
    if (!ns)
        return -ENOMEM;
    for (size_t i = 0; i < ncap; i++)
        ns[i].wd = -1;
    struct hk_cgroupfs_watch tmp = {w->fd, ns, ncap, 0, 0};
    for (size_t i = 0; i < w->cap; i++) {
        if (w->slots[i].wd < 0)
            continue;
        *wd_find(&tmp, w->slots[i].wd, true) = w->slots[i];
        tmp.n++;
    }
    free(w->slots);
    w->slots = ns;
    w->cap = ncap;
    w->used = w->n = tmp.n;
    return 0;
}

/* Watches path (named through one of our descriptors: inotify has no *at form) with mask. */
static int watch_path(struct hk_cgroupfs_watch *w, const char *path, uint32_t mask, void *cookie)
{
    if ((w->used + 1) * 4 > w->cap * 3) {
        size_t ncap = w->cap ? w->cap : 256;
        while ((w->n + 1) * 2 > ncap)
            ncap *= 2;
        int r = wd_rehash(w, ncap); /* same size: only drops the deleted slots */
        if (r < 0)
            return r;
    }
    int wd = inotify_add_watch(w->fd, path, mask);
    if (wd < 0)
        return -errno;
    struct wd_slot *s = wd_find(w, wd, false);
    if (s) { /* the same inode twice: the kernel returns its existing watch */
        s->cookie = cookie;
        return wd;
    }
    s = wd_find(w, wd, true);
    if (s->wd == -1)
        w->used++;
    s->wd = wd;
    s->cookie = cookie;
    w->n++;
    return wd;
}

int hk_cgroupfs_watch_add(struct hk_cgroupfs_watch *w, int dirfd, void *cookie)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", dirfd);
    return watch_path(w, path, WATCH_MASK, cookie);
}

int hk_cgroupfs_watch_add_file(struct hk_cgroupfs_watch *w, int dirfd, const char *name,
                               void *cookie)
{
    char path[128];
    int n = snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, name);
    if (n < 0 || (size_t)n >= sizeof(path) || strchr(name, '/'))
        return -EINVAL;
    /* A write to the file (vfs_write → IN_MODIFY, whichever mount of the hierarchy it came
     * through), or the file replaced, removed or renamed (fixtures; a cgroup removed). */
    return watch_path(w, path, IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF, cookie);
}

void hk_cgroupfs_watch_rm(struct hk_cgroupfs_watch *w, int wd)
{
    if (!w || wd < 0)
        return;
    struct wd_slot *s = wd_find(w, wd, false);
    if (!s)
        return;
    s->wd = -2;
    s->cookie = NULL;
    w->n--;
    /* EINVAL when the directory is gone already (its watch ended with it): nothing to do. */
    inotify_rm_watch(w->fd, wd);
}

int hk_cgroupfs_watch_poll(struct hk_cgroupfs_watch *w, hk_cgroupfs_change_fn fn, void *userdata)
{
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    int n = 0;
    bool overflow = false;
    for (;;) {
        ssize_t got = read(w->fd, buf, sizeof(buf));
        if (got < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (got == 0)
            break;
        for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= got;) {
            const struct inotify_event *ev = (const struct inotify_event *)(buf + off);
            off += (ssize_t)sizeof(*ev) + ev->len;
            n++;
            if (ev->mask & IN_Q_OVERFLOW) {
                overflow = true;
                continue;
            }
            /* Files created in a directory (fixtures, tools) are no cgroups. */
            if ((ev->mask & (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)) &&
                !(ev->mask & IN_ISDIR))
                continue;
            struct wd_slot *s = wd_find(w, ev->wd, false);
            if (!s)
                continue; /* removed by the caller already */
            bool gone = (ev->mask & IN_IGNORED) != 0;
            void *cookie = s->cookie;
            if (gone) {
                s->wd = -2;
                s->cookie = NULL;
                w->n--;
            }
            fn(cookie, gone, userdata);
        }
        /* Room left for one more event of any name: the read drained the queue, spare the
         * EAGAIN read. */
        if ((size_t)got + sizeof(struct inotify_event) + NAME_MAX + 1 <= sizeof(buf))
            break;
    }
    return overflow ? HK_CGROUPFS_OVERFLOW : n;
}

size_t hk_cgroupfs_watch_count(const struct hk_cgroupfs_watch *w)
{
    return w ? w->n : 0;
}
