/* SPDX-License-Identifier: Apache-2.0 */
/* Container figures read through the container's main process (see cgroup_fs.h): the soft
 * open-files limit and the writable layer's size.
 *
 * Reads: <procfs>/<pid>/limits, <procfs>/<pid>/mountinfo (once per container: the overlay at
 *   its "/" names the layer, e.g. containerd's
 *   /var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/<n>/fs, docker's
 *   /var/lib/docker/overlay2/<id>/diff, CRI-O's /var/lib/containers/storage/overlay/<id>/diff),
 *   <procfs>/1/mountinfo (else self/mountinfo) for the device holding it, every entry of the
 *   layer under <rootfs> (getdents64 + fstatat), statfs of its filesystem.
 * Feeds: container_ulimits_soft, container_fs_{usage_bytes,limit_bytes,inodes_total,
 *   inodes_free} (emitted by collector/cgroup.c).
 *
 * Cost model: a layer is walked at most once per interval (default 1 min, cAdvisor's own du
 * period) and the walks of all layers together spend at most budget (default 5 ms) of each
 * cycle; a walk that runs out of budget keeps its place (open directory descriptor and a list of
 * directories still to visit) and resumes next cycle, while the previous complete figure is
 * reported. So the cycle never pays for a full `du` of every layer: under load the refresh
 * period stretches instead. The statfs runs on a helper thread with a deadline; a filesystem
 * whose statfs is stuck is neither statfs'd nor walked until the blocked call returns. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "collector/cgroup_fs.h"
#include "collector/filesystem_internal.h"
#include "collector/node_parsers.h"
#include "core/fsread.h"
#include "core/log.h"

#define MAX_DEVS 64
#define MAX_TODO_BYTES (1u << 20) /* directories waiting to be listed, per walk */
#define MAX_LINKS 16384           /* hard-linked inodes remembered per walk (dedup) */
/* Walks in progress at once (each holds two descriptors, its pending list and link set: at most
 * ~1.2 MiB); a new walk waits for a free slot. */
#define MAX_WALKS 4
#define MAX_MOUNTINFO (4u << 20)
#define LIMITS_BUF 4096

/* ---- state ---- */

struct fsdev {
    char *mountpoint; /* host path of the mount holding layers */
    char *source;     /* its mount source: the device label */
    uint32_t cycle;   /* statfs'd in this cycle */
    int err;          /* statfs result of that cycle */
    struct statfs st;
    struct hk_statfs_probe *pending; /* a statfs that did not return */
};

struct hk_cgfs {
    int root_fd, proc_fd;
    struct hk_cgfs_options opts;
    struct fsdev devs[MAX_DEVS];
    size_t ndevs;
    uint32_t cycle;
    int64_t now_ms;
    int64_t walked_ns; /* walking time spent this cycle */
    char *mountinfo;   /* host mountinfo, read at most once per cycle */
    ssize_t mountinfo_len;
    uint32_t mountinfo_cycle;
    bool todo_warned;
    int nwalking;                  /* walks in progress */
    _Alignas(8) char dents[16384]; /* getdents64 records are 8-byte aligned */
};

struct hk_cgfs_ctr {
    struct hk_cgfs *owner;
    /* ulimits */
    uint32_t nofile_pid;
    bool has_nofile;
    int64_t nofile;
    /* layer */
    uint32_t layer_pid; /* whose mountinfo was read */
    uint8_t layer_tries;
    char *upperdir; /* NULL: none found */
    int dev;        /* index into devs, -1 unknown */
    bool measured;
    uint64_t usage_bytes, inodes;
    int64_t measured_ms;
    int64_t failed_ms; /* the layer could not be opened: tried again after the interval */
    bool failed;
    /* walk in progress */
    bool walking;
    int upper_fd, cur_fd;
    char *cur_path; /* relative to the layer ("" for its top) */
    char **todo;
    size_t ntodo, cap_todo, todo_bytes;
    dev_t root_dev;
    uint64_t acc_bytes, acc_inodes;
    uint64_t *links; /* open addressing, ino+1; 0 empty */
    size_t links_cap, nlinks;
};

int hk_cgfs_new(const struct hk_paths *paths, const struct hk_cgfs_options *opts,
                struct hk_cgfs **ret)
{
    struct hk_cgfs *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->root_fd = paths->root_fd;
    s->proc_fd = paths->proc_fd;
    s->opts = *opts;
    *ret = s;
    return 0;
}

void hk_cgfs_free(struct hk_cgfs *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ndevs; i++) {
        free(s->devs[i].mountpoint);
        free(s->devs[i].source);
        hk_statfs_probe_free(s->devs[i].pending); /* a blocked thread frees its own part */
    }
    free(s->mountinfo);
    free(s);
}

void hk_cgfs_begin(struct hk_cgfs *s, int64_t now_ms)
{
    s->cycle++;
    s->now_ms = now_ms;
    s->walked_ns = 0;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void walk_reset(struct hk_cgfs_ctr *c)
{
    if (c->walking)
        c->owner->nwalking--;
    if (c->cur_fd >= 0)
        close(c->cur_fd);
    if (c->upper_fd >= 0)
        close(c->upper_fd);
    c->cur_fd = c->upper_fd = -1;
    free(c->cur_path);
    c->cur_path = NULL;
    for (size_t i = 0; i < c->ntodo; i++)
        free(c->todo[i]);
    free(c->todo);
    c->todo = NULL;
    c->ntodo = c->cap_todo = c->todo_bytes = 0;
    free(c->links);
    c->links = NULL;
    c->links_cap = c->nlinks = 0;
    c->walking = false;
}

void hk_cgfs_ctr_free(struct hk_cgfs_ctr *c)
{
    if (!c)
        return;
    walk_reset(c);
    free(c->upperdir);
    free(c);
}

static struct hk_cgfs_ctr *ctr_get(struct hk_cgfs *s, struct hk_cgfs_ctr **cp)
{
    if (!*cp) {
        struct hk_cgfs_ctr *c = calloc(1, sizeof(*c));
        if (!c)
            return NULL;
        c->owner = s;
        c->upper_fd = c->cur_fd = -1;
        c->dev = -1;
        *cp = c;
    }
    return *cp;
}

/* ---- ulimits ---- */

int hk_cgfs_nofile(struct hk_cgfs *s, struct hk_cgfs_ctr **cp, uint32_t pid, bool refresh,
                   int64_t *ret)
{
    if (!s)
        return -EINVAL;
    struct hk_cgfs_ctr *c = ctr_get(s, cp);
    if (!c)
        return -ENOMEM;
    if (c->has_nofile && c->nofile_pid == pid && !refresh) {
        *ret = c->nofile;
        return 0;
    }
    c->has_nofile = false;
    char path[32], buf[LIMITS_BUF];
    snprintf(path, sizeof(path), "%u/limits", pid);
    ssize_t len = hk_read_file_at(s->proc_fd, path, buf, sizeof(buf));
    if (len < 0)
        return (int)len;
    int r = hk_cg_parse_limits_nofile(buf, (size_t)len, &c->nofile);
    if (r < 0)
        return r;
    c->nofile_pid = pid;
    c->has_nofile = true;
    *ret = c->nofile;
    return 0;
}

/* ---- the filesystem holding a layer ---- */

struct longest_ctx {
    const char *path;
    size_t best;
    char mountpoint[PATH_MAX];
    char source[256];
    bool found;
};

static int longest_prefix(const struct hk_mount *m, void *ud)
{
    struct longest_ctx *lc = ud;
    size_t ml = strlen(m->mountpoint);
    if (ml == 1)
        ml = 0; /* "/" prefixes everything */
    if (strncmp(lc->path, m->mountpoint, ml) != 0 || (lc->path[ml] != '/' && lc->path[ml]))
        return 0;
    if (lc->found && ml < lc->best)
        return 0; /* equal length: the later mount is on top */
    lc->best = ml;
    lc->found = true;
    snprintf(lc->mountpoint, sizeof(lc->mountpoint), "%s", m->mountpoint);
    snprintf(lc->source, sizeof(lc->source), "%s", m->source);
    return 0;
}

/* Index of the device entry for the mount holding path (added on first sight), or -1. */
static int device_of(struct hk_cgfs *s, const char *path)
{
    if (s->mountinfo_cycle != s->cycle) {
        free(s->mountinfo);
        s->mountinfo = NULL;
        s->mountinfo_len =
            hk_read_file_alloc(s->proc_fd, "1/mountinfo", MAX_MOUNTINFO, &s->mountinfo);
        if (s->mountinfo_len < 0)
            s->mountinfo_len =
                hk_read_file_alloc(s->proc_fd, "self/mountinfo", MAX_MOUNTINFO, &s->mountinfo);
        s->mountinfo_cycle = s->cycle;
    }
    if (s->mountinfo_len < 0)
        return -1;
    struct longest_ctx *lc = malloc(sizeof(*lc));
    if (!lc)
        return -1;
    lc->path = path;
    lc->best = 0;
    lc->found = false;
    int idx = -1;
    if (hk_mountinfo_parse(s->mountinfo, (size_t)s->mountinfo_len, longest_prefix, lc) < 0 ||
        !lc->found)
        goto out;
    for (size_t i = 0; i < s->ndevs; i++)
        if (strcmp(s->devs[i].mountpoint, lc->mountpoint) == 0 &&
            strcmp(s->devs[i].source, lc->source) == 0) {
            idx = (int)i;
            goto out;
        }
    if (s->ndevs == MAX_DEVS)
        goto out;
    struct fsdev *d = &s->devs[s->ndevs];
    memset(d, 0, sizeof(*d));
    d->mountpoint = strdup(lc->mountpoint);
    d->source = strdup(lc->source);
    if (!d->mountpoint || !d->source) {
        free(d->mountpoint);
        free(d->source);
        goto out;
    }
    idx = (int)s->ndevs++;
out:
    free(lc);
    return idx;
}

/* statfs of the device's mount, once per cycle; -ETIMEDOUT while a call is blocked. */
static int device_statfs(struct hk_cgfs *s, struct fsdev *d)
{
    if (d->cycle == s->cycle)
        return d->err;
    d->cycle = s->cycle;
    if (d->pending) {
        if (!hk_statfs_probe_done(d->pending))
            return d->err = -ETIMEDOUT;
        /* Its late answer is this cycle's: a new call could time out again on a loaded node and
         * never give a figure. */
        d->err = hk_statfs_probe_result(d->pending, &d->st);
        hk_statfs_probe_free(d->pending);
        d->pending = NULL;
        hk_log_info("statfs returned, layers on this filesystem measured again", "collector",
                    "cgroup", "mountpoint", d->mountpoint);
        return d->err;
    }
    d->err = hk_statfs_deadline(s->root_fd, d->mountpoint, s->opts.statfs_timeout_ms, &d->st,
                                &d->pending);
    if (d->err == -ETIMEDOUT)
        hk_log_warn("statfs timed out; container layers on this filesystem not measured until it "
                    "returns",
                    "collector", "cgroup", "mountpoint", d->mountpoint);
    return d->err;
}

/* ---- the walk ---- */

static int open_dir_beneath(int dirfd, const char *rel)
{
    static bool no_openat2;
    if (!no_openat2) {
        struct open_how how = {.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW,
                               .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
                                          RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
        int fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
        if (fd >= 0 || errno != ENOSYS)
            return fd;
        no_openat2 = true; /* kernels before 5.6 */
    }
    return openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
}

/* Whether ino was seen before in this walk (remembers it). */
static bool link_seen(struct hk_cgfs_ctr *c, uint64_t ino)
{
    if (c->nlinks * 2 >= c->links_cap) {
        if (c->links_cap >= MAX_LINKS)
            return false; /* beyond the cap a hard link may count twice */
        size_t ncap = c->links_cap ? c->links_cap * 2 : 256;
        uint64_t *nl = calloc(ncap, sizeof(*nl));
        if (!nl)
            return false;
        for (size_t i = 0; i < c->links_cap; i++)
            if (c->links[i])
                for (size_t h = (c->links[i] * 0x9e3779b97f4a7c15ULL) & (ncap - 1);;
                     h = (h + 1) & (ncap - 1))
                    if (!nl[h]) {
                        nl[h] = c->links[i];
                        break;
                    }
        free(c->links);
        c->links = nl;
        c->links_cap = ncap;
    }
    uint64_t key = ino + 1;
    for (size_t h = (key * 0x9e3779b97f4a7c15ULL) & (c->links_cap - 1);;
         h = (h + 1) & (c->links_cap - 1)) {
        if (c->links[h] == key)
            return true;
        if (!c->links[h]) {
            c->links[h] = key;
            c->nlinks++;
            return false;
        }
    }
}

static void todo_push(struct hk_cgfs *s, struct hk_cgfs_ctr *c, const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    size_t need = dl + (dl ? 1 : 0) + nl + 1;
    if (need > PATH_MAX || c->todo_bytes + need > MAX_TODO_BYTES) {
        if (!s->todo_warned)
            hk_log_warn("container layer too wide or deep; a subtree is left out of its "
                        "container_fs_usage_bytes",
                        "collector", "cgroup", "layer", c->upperdir);
        s->todo_warned = true;
        return;
    }
    if (c->ntodo == c->cap_todo) {
        size_t ncap = c->cap_todo ? c->cap_todo * 2 : 16;
        char **nt = realloc(c->todo, ncap * sizeof(*nt));
        if (!nt)
            return;
        c->todo = nt;
        c->cap_todo = ncap;
    }
    char *p = malloc(need);
    if (!p)
        return;
    snprintf(p, need, "%s%s%s", dir, dl ? "/" : "", name);
    c->todo[c->ntodo++] = p;
    c->todo_bytes += need;
}

/* Continues c's walk within the budget: 0 when it completed, -EAGAIN when the budget ran out,
 * -errno when the layer cannot be opened. Only time spent here counts against the budget. */
static int walk_timed(struct hk_cgfs *s, struct hk_cgfs_ctr *c, int64_t t0)
{
    bool progressed = false;
    if (!c->walking) {
        if (s->nwalking >= MAX_WALKS)
            return -EAGAIN;
        const char *rel = c->upperdir;
        while (*rel == '/')
            rel++;
        struct open_how how = {.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                               .resolve = RESOLVE_IN_ROOT};
        int fd = (int)syscall(SYS_openat2, s->root_fd, rel, &how, sizeof(how));
        if (fd < 0 && errno == ENOSYS)
            fd = openat(s->root_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        c->upper_fd = fd;
        c->cur_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        c->cur_path = strdup("");
        if (c->cur_fd < 0 || !c->cur_path) {
            walk_reset(c);
            return -ENOMEM;
        }
        c->root_dev = st.st_dev;
        c->acc_bytes = (uint64_t)st.st_blocks * 512;
        c->acc_inodes = 1;
        c->walking = true;
        s->nwalking++;
    }
    for (;;) {
        if (c->cur_fd < 0) {
            if (c->ntodo == 0)
                break;
            char *next = c->todo[--c->ntodo];
            c->todo_bytes -= strlen(next) + 1;
            free(c->cur_path);
            c->cur_path = next;
            c->cur_fd = open_dir_beneath(c->upper_fd, next);
            continue; /* gone or replaced since it was listed: skipped */
        }
        if (progressed && s->walked_ns + (mono_ns() - t0) >= s->opts.budget_us * 1000)
            return -EAGAIN;
        progressed = true;
        ssize_t got = getdents64(c->cur_fd, s->dents, sizeof(s->dents));
        if (got <= 0) {
            close(c->cur_fd);
            c->cur_fd = -1;
            continue;
        }
        for (ssize_t off = 0; off < got;) {
            struct dirent64 *d = (struct dirent64 *)(s->dents + off);
            off += d->d_reclen;
            const char *name = d->d_name;
            if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
                continue;
            struct stat st;
            if (fstatat(c->cur_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != c->root_dev)
                continue;
            if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 && link_seen(c, (uint64_t)st.st_ino))
                continue;
            c->acc_bytes += (uint64_t)st.st_blocks * 512;
            c->acc_inodes++;
            if (S_ISDIR(st.st_mode))
                todo_push(s, c, c->cur_path, name);
        }
    }
    c->usage_bytes = c->acc_bytes;
    c->inodes = c->acc_inodes;
    c->measured = true;
    c->measured_ms = s->now_ms;
    walk_reset(c);
    return 0;
}

static int walk(struct hk_cgfs *s, struct hk_cgfs_ctr *c)
{
    /* The cycle's first walk lists at least one batch even with a zero budget, so measurements
     * always advance; once the budget is spent no walk starts or resumes until next cycle. */
    if (s->walked_ns > 0 && s->walked_ns >= s->opts.budget_us * 1000)
        return -EAGAIN;
    int64_t t0 = mono_ns();
    int r = walk_timed(s, c, t0);
    int64_t spent = mono_ns() - t0;
    s->walked_ns += spent > 0 ? spent : 1;
    return r;
}

/* ---- the layer ---- */

static void find_layer(struct hk_cgfs *s, struct hk_cgfs_ctr *c, uint32_t pid)
{
    char path[32];
    snprintf(path, sizeof(path), "%u/mountinfo", pid);
    char *mi = NULL;
    ssize_t len = hk_read_file_alloc(s->proc_fd, path, MAX_MOUNTINFO, &mi);
    if (len < 0) {
        free(mi);
        return; /* not readable (yet): asked again next cycle */
    }
    char upper[PATH_MAX];
    int r = hk_cg_parse_root_upperdir(mi, (size_t)len, upper, sizeof(upper));
    free(mi);
    if (r < 0) {
        /* A starting container's first process joins its cgroup before it pivots into its
         * root: unless the root already is a read-only overlay view (containerd's pause
         * containers), look again for a few cycles before deciding there is no writable layer. */
        if (r != -ENOENT || ++c->layer_tries >= 10)
            c->layer_pid = pid;
        free(c->upperdir);
        c->upperdir = NULL;
        return;
    }
    c->layer_pid = pid;
    if (c->upperdir && strcmp(c->upperdir, upper) == 0)
        return;
    walk_reset(c);
    free(c->upperdir);
    c->upperdir = strdup(upper);
    c->measured = c->failed = false;
    c->dev = c->upperdir ? device_of(s, c->upperdir) : -1;
}

int hk_cgfs_layer(struct hk_cgfs *s, struct hk_cgfs_ctr **cp, uint32_t pid,
                  struct hk_cgfs_layer *ret)
{
    if (!s)
        return -EINVAL;
    struct hk_cgfs_ctr *c = ctr_get(s, cp);
    if (!c)
        return -ENOMEM;
    if (pid && pid != c->layer_pid)
        find_layer(s, c, pid);
    if (!c->upperdir)
        return -ENOENT;
    struct fsdev *d = c->dev >= 0 ? &s->devs[c->dev] : NULL;
    int fs_err = d ? device_statfs(s, d) : -ENODEV;
    bool due = !c->measured || s->now_ms - c->measured_ms >= s->opts.interval_ms;
    if (c->failed && s->now_ms - c->failed_ms < s->opts.interval_ms)
        return -ENOENT;
    if (fs_err != -ETIMEDOUT && (c->walking || due)) {
        int r = walk(s, c);
        if (r < 0 && r != -EAGAIN) {
            walk_reset(c);
            /* The layer went away (container stopping) or is not visible under the root (a
             * DaemonSet without the runtime's directory mounted): nothing to report. */
            c->measured = false;
            c->failed = r != -ENOMEM;
            c->failed_ms = s->now_ms;
            return r == -ENOMEM ? r : -ENOENT;
        }
        c->failed = false;
    }
    if (!c->measured)
        return -EAGAIN;
    ret->device = d ? d->source : "";
    ret->usage_bytes = c->usage_bytes;
    ret->inodes = c->inodes;
    ret->has_fs = fs_err == 0;
    if (ret->has_fs) {
        ret->limit_bytes = (uint64_t)d->st.f_blocks * (uint64_t)d->st.f_bsize;
        ret->inodes_free = (uint64_t)d->st.f_ffree;
    }
    return 0;
}
