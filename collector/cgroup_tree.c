/* SPDX-License-Identifier: Apache-2.0 */
/* The cgroup collector's tree: the node index (path → node, with the node's directory and file
 * descriptors) and the walk of the tracked roots. A directory is listed again only when its
 * inotify watch (collector/cgroupfs.h) reported a child created, removed or renamed; unchanged
 * directories are walked from their last listing, so a steady cycle costs no fstat or getdents.
 * Without inotify (or past the watch limit) a directory is listed every cycle (leaves skipped
 * by their link count). Nodes not reached in a cycle are dropped with their descriptors. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/cgroup_collector.h"
#include "core/log.h"

static uint64_t path_hash(const char *p)
{
    return hk_hash_bytes(0x9e3779b97f4a7c15ULL, p, strlen(p));
}

struct node *hk_cgroup_node_find(struct cgroup_state *st, const char *path)
{
    if (!st->nbuckets)
        return NULL;
    uint64_t h = path_hash(path);
    for (struct node *n = st->buckets[h & (st->nbuckets - 1)]; n; n = n->next)
        if (n->hash == h && strcmp(n->path, path) == 0)
            return n;
    return NULL;
}

static int node_insert(struct cgroup_state *st, struct node *n)
{
    if (st->nnodes + 1 > st->nbuckets) {
        size_t nb = st->nbuckets ? st->nbuckets * 2 : 64;
        struct node **b = calloc(nb, sizeof(*b));
        if (!b)
            return -ENOMEM;
        for (size_t i = 0; i < st->nbuckets; i++)
            for (struct node *x = st->buckets[i], *next; x; x = next) {
                next = x->next;
                x->next = b[x->hash & (nb - 1)];
                b[x->hash & (nb - 1)] = x;
            }
        free(st->buckets);
        st->buckets = b;
        st->nbuckets = nb;
    }
    n->next = st->buckets[n->hash & (st->nbuckets - 1)];
    st->buckets[n->hash & (st->nbuckets - 1)] = n;
    st->nnodes++;
    return 0;
}

static void node_free(struct cgroup_state *st, struct node *n)
{
    for (int h = 0; h < H_COUNT; h++)
        if (n->dir_fd[h] >= 0 && st->hier_alias[h] == h) {
            close(n->dir_fd[h]);
            st->nfds--;
        }
    for (int f = 0; f < F_COUNT; f++)
        if (n->fd[f] >= 0) {
            close(n->fd[f]);
            st->nfds--;
        }
    if (n->net_fd >= 0) {
        close(n->net_fd);
        st->nfds--;
    }
    hk_cgroupfs_watch_rm(st->watch, n->wd);
    for (int i = 0; i < n->nspec_wd; i++)
        hk_cgroupfs_watch_rm(st->spec_watch, n->spec_wd[i]);
    free(n->kids);
    hk_cgfs_ctr_free(n->fsc);
    hk_kube_meta_clear(&n->meta);
    hk_kube_meta_clear(&n->kmeta);
    free(n->pod_name);
    free(n->pod_ns);
    free(n->workload);
    free(n->addrs);
    free(n->path);
    free(n);
}

static double stat_mtime(int dirfd, const char *name)
{
    struct stat sb;
    if (fstatat(dirfd, name, &sb, name[0] ? 0 : AT_EMPTY_PATH) < 0)
        return 0;
    return (double)sb.st_mtim.tv_sec + (double)sb.st_mtim.tv_nsec / 1e9;
}

/* cAdvisor: the earliest mtime of each controller dir and of its cgroup.clone_children (v1) or
 * cgroup.events (v2), floored at boot time. */
static double start_time(struct cgroup_state *st, struct node *n)
{
    double t = 0;
    for (int h = 0; h < H_COUNT; h++) {
        if (st->hier_alias[h] != h || n->dir_fd[h] < 0)
            continue;
        if (!st->v2 && h == H_V2)
            continue;
        double a = stat_mtime(n->dir_fd[h], "");
        double b = stat_mtime(n->dir_fd[h], h == H_V2 ? "cgroup.events" : "cgroup.clone_children");
        if (a > 0 && (t == 0 || a < t))
            t = a;
        if (b > 0 && (t == 0 || b < t))
            t = b;
    }
    if (t < st->boot_time)
        t = st->boot_time;
    return t;
}

/* Watches n's directory for new and removed children; without a watch it is listed every
 * cycle as before. */
static void watch_node(struct cgroup_state *st, struct node *n)
{
    if (!st->watch)
        return;
    int wd = hk_cgroupfs_watch_add(st->watch, n->dir_fd[st->walk_hier], n);
    if (wd >= 0) {
        n->wd = wd;
        return;
    }
    if (!st->watch_logged) {
        char why[32];
        snprintf(why, sizeof(why), "%d", wd);
        hk_log_warn("cgroup directory not watched; unwatched ones are listed every cycle",
                    "collector", "cgroup", "errno", why, "hint",
                    wd == -ENOSPC ? "raise fs.inotify.max_user_watches" : "");
        st->watch_logged = true;
    }
}

/* Unlinks n from the index (it stays allocated). */
static void node_unlink(struct cgroup_state *st, struct node *n)
{
    for (struct node **pp = &st->buckets[n->hash & (st->nbuckets - 1)]; *pp; pp = &(*pp)->next)
        if (*pp == n) {
            *pp = n->next;
            st->nnodes--;
            return;
        }
}

static struct node *node_new(struct cgroup_state *st, const char *path)
{
    struct node *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    for (int h = 0; h < H_COUNT; h++)
        n->dir_fd[h] = -1;
    for (int f = 0; f < F_COUNT; f++)
        n->fd[f] = FD_UNOPENED;
    n->net_fd = -1;
    n->wd = -1;
    n->dirty = true;
    if (!(n->path = strdup(path))) {
        free(n);
        return NULL;
    }
    n->hash = path_hash(path);
    const char *rel = path[1] ? path + 1 : ".";
    for (int h = 0; h < H_COUNT; h++) {
        if (st->hier_alias[h] != h || st->hier_fd[h] < 0)
            continue;
        /* Directory descriptors are needed to walk and to open files: always kept. */
        int fd = openat(st->hier_fd[h], rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE))
            hk_cgroup_fd_exhausted(st);
        n->dir_fd[h] = fd < 0 ? -1 : fd;
        if (fd >= 0)
            st->nfds++;
    }
    for (int h = 0; h < H_COUNT; h++)
        if (st->hier_alias[h] != h && st->hier_alias[h] >= 0)
            n->dir_fd[h] = n->dir_fd[st->hier_alias[h]];
    if (n->dir_fd[st->walk_hier] < 0) {
        node_free(st, n);
        return NULL;
    }
    struct stat sb;
    if (fstat(n->dir_fd[st->walk_hier], &sb) == 0)
        n->ino = (uint64_t)sb.st_ino;
    watch_node(st, n);
    hk_kube_parse_path(path, &n->layout);
    n->start_time = start_time(st, n);
    return n;
}

static int list_push(struct cgroup_state *st, struct node *n)
{
    if (st->nlist == st->list_cap) {
        size_t cap = st->list_cap ? st->list_cap * 2 : 256;
        struct node **l = realloc(st->list, cap * sizeof(*l));
        if (!l)
            return -ENOMEM;
        st->list = l;
        st->list_cap = cap;
    }
    st->list[st->nlist++] = n;
    return 0;
}

/* Finds or creates the node for path and marks it seen; NULL if it vanished or on a cap. */
struct node *hk_cgroup_visit(struct cgroup_state *st, const char *path)
{
    struct node *n = hk_cgroup_node_find(st, path);
    if (n && n->stale) {
        /* Removed and created again under the same name between two cycles: a new cgroup
         * (new descriptors, counters from zero), not the old one. */
        node_unlink(st, n);
        node_free(st, n);
        n = NULL;
    }
    if (!n) {
        if (st->nnodes >= st->max_cgroups) {
            /* Counted here, logged once per state change at the end of the cycle. */
            st->cap_skipped_cycle++;
            return NULL;
        }
        if (!(n = node_new(st, path)))
            return NULL;
        if (node_insert(st, n) < 0) {
            node_free(st, n);
            return NULL;
        }
    }
    if (n->seen == st->gen)
        return NULL; /* reached twice (overlapping roots) */
    n->seen = st->gen;
    hk_cgroup_load_meta(st, n);
    if (list_push(st, n) < 0)
        return NULL;
    return n;
}

struct listing {
    struct cgroup_state *st;
    struct node *n;
    char *buf;
    size_t len, cap;
    int err;
};

/* Appends a subdirectory's name to the listing; a known child with another inode was replaced. */
static int list_child(const char *name, size_t nl, uint64_t ino, void *userdata)
{
    struct listing *l = userdata;
    if (l->len + nl + 1 > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        while (cap < l->len + nl + 1)
            cap *= 2;
        char *b = realloc(l->buf, cap);
        if (!b) {
            l->err = -ENOMEM;
            return -ENOMEM;
        }
        l->buf = b;
        l->cap = cap;
    }
    memcpy(l->buf + l->len, name, nl + 1);
    l->len += nl + 1;
    size_t pl = strlen(l->n->path);
    char child[4096];
    if (pl == 1)
        pl = 0;
    if (pl + 1 + nl + 1 <= sizeof(child)) {
        memcpy(child, l->n->path, pl);
        child[pl] = '/';
        memcpy(child + pl + 1, name, nl + 1);
        struct node *c = hk_cgroup_node_find(l->st, child);
        if (c && c->ino && ino && c->ino != ino)
            c->stale = true;
    }
    return 0;
}

/* Lists n's subdirectories into n->kids. Returns false when n cannot be listed. */
static bool list_node(struct cgroup_state *st, struct node *n)
{
    int fd = n->dir_fd[st->walk_hier];
    if (n->wd < 0) {
        /* Unwatched: cgroupfs (and ext4/tmpfs fixtures) keep nlink = 2 + subdirectories, so
         * leaves need no listing, which saves three syscalls per container. */
        struct stat sb;
        if (fstat(fd, &sb) == 0 && sb.st_nlink == 2) {
            n->kids_len = 0;
            return true;
        }
    }
    /* Cleared first: a change while we list marks it dirty again for the next cycle. */
    n->dirty = false;
    struct listing l = {st, n, n->kids, 0, n->kids ? n->kids_len : 0, 0};
    l.cap = n->kids ? n->kids_len : 0; /* the old buffer's size is at least its length */
    int r = hk_cgroupfs_subdirs(fd, list_child, &l);
    n->kids = l.buf;
    if (r < 0 || l.err < 0) {
        n->kids_len = 0;
        n->listed = false;
        n->dirty = true;
        return false;
    }
    n->kids_len = l.len;
    n->listed = true;
    return true;
}

void hk_cgroup_walk(struct cgroup_state *st, struct node *n, int depth)
{
    if (depth >= MAX_DEPTH)
        return;
    /* A watched directory that did not change is walked from its last listing: no syscall. */
    if ((n->wd < 0 || n->dirty || !n->listed) && !list_node(st, n))
        return;
    char child[4096];
    size_t pl = strlen(n->path);
    if (pl == 1)
        pl = 0;
    for (size_t off = 0; off < n->kids_len;) {
        const char *name = n->kids + off;
        size_t nl = strlen(name);
        off += nl + 1;
        if (pl + 1 + nl + 1 > sizeof(child))
            continue;
        memcpy(child, n->path, pl);
        child[pl] = '/';
        memcpy(child + pl + 1, name, nl + 1);
        struct node *c = hk_cgroup_visit(st, child);
        /* visit may have freed n's stale child, never n itself: n->kids stays valid. */
        if (c)
            hk_cgroup_walk(st, c, depth + 1);
    }
}

static void on_change(void *cookie, bool gone, void *userdata)
{
    (void)userdata;
    struct node *n = cookie;
    n->dirty = true;
    if (gone)
        n->wd = -1; /* its watch ended: listed every cycle until the parent drops it */
}

static void on_spec_change(void *cookie, bool gone, void *userdata)
{
    (void)userdata;
    struct node *n = cookie;
    n->spec_dirty = true;
    if (gone)
        n->spec_watched = false; /* a limit file's watch ended: re-read every period from now */
}

/* Marks the directories that changed since the last cycle, and the cgroups whose limits were
 * written (all of them after an overflow). Runs before the walk and the sweep: every cookie
 * reported is a live node (a freed node's watches were removed with it). */
void hk_cgroup_poll_changes(struct cgroup_state *st)
{
    if (st->spec_watch) {
        int r = hk_cgroupfs_watch_poll(st->spec_watch, on_spec_change, st);
        if (r == HK_CGROUPFS_OVERFLOW || r < 0)
            for (size_t i = 0; i < st->nbuckets; i++)
                for (struct node *n = st->buckets[i]; n; n = n->next)
                    n->spec_dirty = true;
    }
    if (!st->watch)
        return;
    int r = hk_cgroupfs_watch_poll(st->watch, on_change, st);
    if (r == HK_CGROUPFS_OVERFLOW || r < 0)
        for (size_t i = 0; i < st->nbuckets; i++)
            for (struct node *n = st->buckets[i]; n; n = n->next)
                n->dirty = true;
}

/* Drops nodes not seen this cycle (vanished cgroups: normal, not an error). */
void hk_cgroup_sweep(struct cgroup_state *st)
{
    for (size_t i = 0; i < st->nbuckets; i++) {
        struct node **pp = &st->buckets[i];
        while (*pp) {
            struct node *n = *pp;
            if (n->seen != st->gen) {
                *pp = n->next;
                st->nnodes--;
                node_free(st, n);
            } else {
                pp = &n->next;
            }
        }
    }
}

void hk_cgroup_tree_free(struct cgroup_state *st)
{
    hk_cgroupfs_watch_free(st->watch); /* its watches end with it: no removal one by one */
    st->watch = NULL;
    hk_cgroupfs_watch_free(st->spec_watch);
    st->spec_watch = NULL;
    for (size_t i = 0; i < st->nbuckets; i++)
        for (struct node *n = st->buckets[i], *next; n; n = next) {
            next = n->next;
            node_free(st, n);
        }
    free(st->buckets);
    st->buckets = NULL;
    st->nbuckets = st->nnodes = 0;
}
