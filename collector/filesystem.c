/* SPDX-License-Identifier: Apache-2.0 */
/* Filesystem space and inode figures, node_exporter's filesystem collector.
 * Reads: <procfs>/1/mountinfo (else <procfs>/self/mountinfo), then statfs of
 * <rootfs>/<mountpoint> for each mount that survives the filters.
 * Emits: node_filesystem_{size,free,avail}_bytes, node_filesystem_files,
 * node_filesystem_files_free, node_filesystem_readonly, node_filesystem_device_error
 * {device,fstype,mountpoint}.
 * Options (collectors.filesystem.*): mount_points_exclude, fs_types_exclude (regexes, defaults
 * are node_exporter's upstream ones), statfs_timeout (default 5s).
 *
 * A statfs on a dead NFS/CIFS/FUSE server can block for minutes in uninterruptible sleep, so
 * the statfs calls run on a helper thread and the collector waits at most statfs_timeout for
 * each. A mount whose statfs timed out is "stuck": it is reported with
 * node_filesystem_device_error 1 and not queried again until the blocked call returns. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "collector/cgroupfs.h"
#include "collector/filesystem_internal.h"
#include "collector/node_common.h"
#include "collector/node_parsers.h"
#include "core/collector.h"
#include "core/log.h"
#include "core/parse.h"

#define FS_DEFAULT_MOUNT_POINTS_EXCLUDE                                                            \
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
#define FS_DEFAULT_FS_TYPES_EXCLUDE                                                                \
    "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|"        \
    "iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|"     \
    "sysfs|tracefs)$"
#define FS_DEFAULT_TIMEOUT_MS 5000
#define FS_MAX_STUCK 64
#define FS_MAX_MOUNTS 100000

/* ---- statfs with a deadline ---- */

/* One helper thread statfs's a batch of mount points in order and reports each result as it
 * completes; the collector waits at most timeout for each next result. If one does not come,
 * that mount is stuck: the batch is abandoned (its thread stops after the blocked call returns)
 * and the rest of the list goes to a new batch. Normal cycles cost one thread, not one per
 * mount. */
struct statfs_item {
    const char *path; /* relative to root_fd ("." for "/") */
    int err;
    struct statfs st;
};

struct statfs_batch {
    atomic_uint refs; /* the collector (and its stuck list) + the helper thread */
    pthread_mutex_t lock;
    pthread_cond_t cond; /* signalled after each item */
    int root_fd;         /* our own dup, closed with the batch */
    size_t n;
    size_t done;    /* items[0 .. done) have results; under lock */
    bool abandoned; /* under lock: the thread stops after its current item */
    struct statfs_item items[];
};

static void batch_unref(struct statfs_batch *q)
{
    if (!q || atomic_fetch_sub(&q->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
    if (q->root_fd >= 0)
        close(q->root_fd);
    free(q);
}

/* Whether the batch's thread has finished item index. */
static bool batch_item_done(struct statfs_batch *q, size_t index)
{
    pthread_mutex_lock(&q->lock);
    bool d = q->done > index;
    pthread_mutex_unlock(&q->lock);
    return d;
}

/* Opens the mount point inside the root (symlinks resolved as if root_fd were "/", so a
 * DaemonSet's /host/... never escapes to the container's own tree), then fstatfs. */
int hk_filesystem_statfs_in_root(int root_fd, const char *path, struct statfs *st)
{
    struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
    int fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
    if (fd < 0 && errno == ENOSYS) /* kernels before 5.6 */
        fd = openat(root_fd, path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = fstatfs(fd, st) < 0 ? -errno : 0;
    close(fd);
    return r;
}

hk_filesystem_statfs_fn hk_filesystem_statfs = hk_filesystem_statfs_in_root;

static void *batch_thread(void *arg)
{
    struct statfs_batch *q = arg;
    for (size_t i = 0; i < q->n; i++) {
        pthread_mutex_lock(&q->lock);
        bool abandoned = q->abandoned;
        pthread_mutex_unlock(&q->lock);
        if (abandoned)
            break;
        struct statfs st;
        int r = hk_filesystem_statfs(q->root_fd, q->items[i].path, &st);
        pthread_mutex_lock(&q->lock);
        q->items[i].err = r;
        if (r == 0)
            q->items[i].st = st;
        q->done = i + 1;
        pthread_cond_signal(&q->cond);
        pthread_mutex_unlock(&q->lock);
    }
    batch_unref(q);
    return NULL;
}

static const char *relative(const char *mountpoint)
{
    while (*mountpoint == '/')
        mountpoint++;
    return *mountpoint ? mountpoint : ".";
}

/* Starts a helper thread on paths[0..n). Returns the batch (two references) or NULL. */
static struct statfs_batch *batch_start(int root_fd, const char *const *mountpoints, size_t n)
{
    size_t strings = 0;
    for (size_t i = 0; i < n; i++)
        strings += strlen(relative(mountpoints[i])) + 1;
    struct statfs_batch *q = calloc(1, sizeof(*q) + n * sizeof(q->items[0]) + strings);
    if (!q)
        return NULL;
    char *p = (char *)&q->items[n];
    for (size_t i = 0; i < n; i++) {
        const char *rel = relative(mountpoints[i]);
        size_t l = strlen(rel) + 1;
        q->items[i].path = memcpy(p, rel, l);
        p += l;
    }
    q->n = n;
    atomic_init(&q->refs, 2);
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &ca);
    pthread_condattr_destroy(&ca);
    q->root_fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_t t;
    int r = q->root_fd < 0 ? -1 : pthread_create(&t, &attr, batch_thread, q);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        atomic_store(&q->refs, 1);
        batch_unref(q);
        return NULL;
    }
    return q;
}

static void deadline_after(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

/* Waits for the batch, giving each item timeout_ms from the previous one's completion. Returns
 * how many items have results; fewer than q->n means item [returned] is stuck and the batch was
 * abandoned. */
static size_t batch_wait(struct statfs_batch *q, int64_t timeout_ms)
{
    struct timespec deadline;
    deadline_after(&deadline, timeout_ms);
    pthread_mutex_lock(&q->lock);
    size_t seen = q->done;
    while (q->done < q->n) {
        if (q->done != seen) {
            seen = q->done;
            deadline_after(&deadline, timeout_ms);
        }
        if (pthread_cond_timedwait(&q->cond, &q->lock, &deadline) == ETIMEDOUT && q->done == seen) {
            q->abandoned = true;
            break;
        }
    }
    size_t done = q->done;
    pthread_mutex_unlock(&q->lock);
    return done;
}

/* ---- one statfs with a deadline (other collectors) ---- */

struct hk_statfs_probe {
    struct statfs_batch *batch; /* one item; our reference */
};

int hk_statfs_deadline(int root_fd, const char *path, int64_t timeout_ms, struct statfs *ret,
                       struct hk_statfs_probe **ret_pending)
{
    *ret_pending = NULL;
    struct statfs_batch *q = batch_start(root_fd, &path, 1);
    if (!q)
        return -ENOMEM;
    if (batch_wait(q, timeout_ms) == 1) {
        int r = q->items[0].err; /* written before done advanced */
        if (r == 0)
            *ret = q->items[0].st;
        batch_unref(q);
        return r;
    }
    struct hk_statfs_probe *p = malloc(sizeof(*p));
    if (!p) {
        batch_unref(q); /* the blocked thread keeps its own reference */
        return -ETIMEDOUT;
    }
    p->batch = q;
    *ret_pending = p;
    return -ETIMEDOUT;
}

bool hk_statfs_probe_done(struct hk_statfs_probe *p)
{
    return !p || batch_item_done(p->batch, 0);
}

int hk_statfs_probe_result(struct hk_statfs_probe *p, struct statfs *ret)
{
    pthread_mutex_lock(&p->batch->lock);
    int r = p->batch->done > 0 ? p->batch->items[0].err : -ETIMEDOUT;
    if (r == 0)
        *ret = p->batch->items[0].st;
    pthread_mutex_unlock(&p->batch->lock);
    return r;
}

void hk_statfs_probe_free(struct hk_statfs_probe *p)
{
    if (!p)
        return;
    batch_unref(p->batch);
    free(p);
}

/* ---- collector ---- */

static const char *const fs_labels[] = {"device", "fstype", "mountpoint", NULL};

static const struct hk_metric_desc desc_size = {
    "node_filesystem_size_bytes", "Filesystem size in bytes.", HK_METRIC_GAUGE, "bytes", fs_labels};
static const struct hk_metric_desc desc_free = {"node_filesystem_free_bytes",
                                                "Filesystem free space in bytes.", HK_METRIC_GAUGE,
                                                "bytes", fs_labels};
static const struct hk_metric_desc desc_avail = {
    "node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.",
    HK_METRIC_GAUGE, "bytes", fs_labels};
static const struct hk_metric_desc desc_files = {
    "node_filesystem_files", "Filesystem total file nodes.", HK_METRIC_GAUGE, "", fs_labels};
static const struct hk_metric_desc desc_files_free = {"node_filesystem_files_free",
                                                      "Filesystem total free file nodes.",
                                                      HK_METRIC_GAUGE, "", fs_labels};
static const struct hk_metric_desc desc_readonly = {
    "node_filesystem_readonly", "Filesystem read-only status.", HK_METRIC_GAUGE, "", fs_labels};
static const struct hk_metric_desc desc_device_error = {
    "node_filesystem_device_error",
    "Whether an error occurred while getting statistics for the given device.", HK_METRIC_GAUGE, "",
    fs_labels};

struct stuck_mount {
    char *mountpoint;
    struct statfs_batch *batch; /* holds a reference */
    size_t index;               /* the blocked item */
};

struct fs_mount {
    char *mountpoint, *fstype, *source; /* one allocation, mountpoint first */
    bool readonly;
    bool query; /* not shadowed, not stuck: statfs it this cycle */
    int err;    /* statfs result */
    struct statfs st;
};

struct fs_state {
    struct hk_node_buf buf;
    struct hk_node_health health;
    struct hk_node_regex *mp_exclude, *fs_exclude;
    int64_t timeout_ms;
    struct stuck_mount stuck[FS_MAX_STUCK];
    size_t nstuck;
    /* mounts kept this cycle */
    struct fs_mount *mounts;
    size_t nmounts, cap_mounts;
    const char **query; /* scratch: mount points to statfs, cap_mounts entries */
    bool too_many_logged;
};

static const char *const fs_keys[] = {HK_COLLECTOR_COMMON_KEYS, "mount_points_exclude",
                                      "fs_types_exclude", "statfs_timeout", NULL};

static int fs_options(const struct hk_collector_env *env, struct fs_state *s)
{
    int r = hk_yaml_check_keys(env->options, fs_keys, env->err);
    if (r < 0)
        return r;
    r = hk_node_regex_option(env, "mount_points_exclude", FS_DEFAULT_MOUNT_POINTS_EXCLUDE,
                             s ? &s->mp_exclude : NULL);
    if (r < 0)
        return r;
    r = hk_node_regex_option(env, "fs_types_exclude", FS_DEFAULT_FS_TYPES_EXCLUDE,
                             s ? &s->fs_exclude : NULL);
    if (r < 0)
        return r;
    int64_t timeout_ms = FS_DEFAULT_TIMEOUT_MS;
    const struct hk_yaml_node *node = hk_yaml_get(env->options, "statfs_timeout");
    if (node) {
        if ((r = hk_yaml_duration_ms(node, &timeout_ms, env->err)) < 0)
            return r;
        if (timeout_ms < 1 || timeout_ms > 600000)
            return hk_error_at(env->err, node, "statfs_timeout must be between 1ms and 10m");
    }
    if (s)
        s->timeout_ms = timeout_ms;
    return 0;
}

static int fs_check(const struct hk_collector_env *env)
{
    return fs_options(env, NULL);
}

static void mounts_clear(struct fs_state *s)
{
    for (size_t i = 0; i < s->nmounts; i++)
        free(s->mounts[i].mountpoint);
    s->nmounts = 0;
}

static void fs_fini(void *state)
{
    struct fs_state *s = state;
    if (!s)
        return;
    /* Stuck helper threads keep their own reference and free the request when they return. */
    for (size_t i = 0; i < s->nstuck; i++) {
        batch_unref(s->stuck[i].batch);
        free(s->stuck[i].mountpoint);
    }
    mounts_clear(s);
    free(s->mounts);
    free(s->query);
    hk_node_buf_free(&s->buf);
    hk_node_regex_free(s->mp_exclude);
    hk_node_regex_free(s->fs_exclude);
    free(s);
}

static int fs_init(void **ret_state, const struct hk_collector_env *env)
{
    struct fs_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    hk_node_buf_init(&s->buf, 16384, 64u << 20); /* ~150 bytes per mount */
    int r = fs_options(env, s);
    if (r < 0) {
        fs_fini(s);
        return r;
    }
    *ret_state = s;
    return 0;
}

static int keep_mount(const struct hk_mount *m, void *userdata)
{
    struct fs_state *s = userdata;
    if (hk_node_regex_match(s->mp_exclude, m->mountpoint, strlen(m->mountpoint)) ||
        hk_node_regex_match(s->fs_exclude, m->fstype, strlen(m->fstype)))
        return 0;
    if (s->nmounts == FS_MAX_MOUNTS)
        return -E2BIG;
    if (s->nmounts == s->cap_mounts) {
        size_t ncap = s->cap_mounts ? s->cap_mounts * 2 : 32;
        struct fs_mount *nm = realloc(s->mounts, ncap * sizeof(*nm));
        if (!nm)
            return -ENOMEM;
        s->mounts = nm;
        const char **nq = realloc(s->query, ncap * sizeof(*nq));
        if (!nq)
            return -ENOMEM;
        s->query = nq;
        s->cap_mounts = ncap;
    }
    size_t ml = strlen(m->mountpoint) + 1, fl = strlen(m->fstype) + 1, sl = strlen(m->source) + 1;
    char *p = malloc(ml + fl + sl);
    if (!p)
        return -ENOMEM;
    struct fs_mount *fm = &s->mounts[s->nmounts++];
    memset(fm, 0, sizeof(*fm));
    fm->mountpoint = memcpy(p, m->mountpoint, ml);
    fm->fstype = memcpy(p + ml, m->fstype, fl);
    fm->source = memcpy(p + ml + fl, m->source, sl);
    fm->readonly = m->readonly;
    return 0;
}

static struct stuck_mount *find_stuck(struct fs_state *s, const char *mountpoint)
{
    for (size_t i = 0; i < s->nstuck; i++)
        if (strcmp(s->stuck[i].mountpoint, mountpoint) == 0)
            return &s->stuck[i];
    return NULL;
}

/* Forgets stuck mounts whose helper thread has returned since. */
static void reap_stuck(struct fs_state *s)
{
    for (size_t i = 0; i < s->nstuck;) {
        if (!batch_item_done(s->stuck[i].batch, s->stuck[i].index)) {
            i++;
            continue;
        }
        hk_log_info("statfs returned, mount point queried again", "collector", "filesystem",
                    "mountpoint", s->stuck[i].mountpoint);
        batch_unref(s->stuck[i].batch);
        free(s->stuck[i].mountpoint);
        s->stuck[i] = s->stuck[--s->nstuck];
    }
}

/* statfs of every mount marked query, in batches on helper threads (see batch_wait); fills
 * err/st. A mount that blocks is recorded as stuck and gets -ETIMEDOUT. */
static void statfs_all(struct fs_state *s, int root_fd)
{
    size_t nq = 0;
    for (size_t i = 0; i < s->nmounts; i++)
        if (s->mounts[i].query)
            s->query[nq++] = s->mounts[i].mountpoint;
    /* query[k] ↔ the k-th mount with query set */
    size_t start = 0, mi = 0;
    while (start < nq) {
        struct statfs_batch *q = batch_start(root_fd, s->query + start, nq - start);
        size_t done = q ? batch_wait(q, s->timeout_ms) : 0;
        for (size_t k = 0; k < nq - start; k++) {
            while (!s->mounts[mi].query)
                mi++;
            struct fs_mount *m = &s->mounts[mi];
            if (!q) {
                m->err = -ENOMEM;
            } else if (k < done) {
                m->err = q->items[k].err; /* stable: written before done advanced */
                m->st = q->items[k].st;
            } else if (k == done) {
                m->err = -ETIMEDOUT;
                char *mp = strdup(m->mountpoint);
                if (mp && s->nstuck < FS_MAX_STUCK) {
                    atomic_fetch_add(&q->refs, 1);
                    s->stuck[s->nstuck++] = (struct stuck_mount){mp, q, k};
                    hk_log_warn("statfs timed out, mount point skipped until it returns",
                                "collector", "filesystem", "mountpoint", m->mountpoint);
                } else {
                    free(mp);
                }
                mi++;
                break; /* the rest goes to a new batch */
            }
            mi++;
        }
        batch_unref(q);
        start += q && done < nq - start ? done + 1 : nq - start;
    }
}

static void emit_mount(struct hk_collect_ctx *ctx, const struct fs_mount *m)
{
    const char *values[] = {m->source, m->fstype, m->mountpoint};
    if (m->err < 0) {
        /* node_exporter's semantics: an unreadable mount is reported, only as an error. */
        hk_emit(ctx->b, &desc_device_error, values, 1);
        return;
    }
    const struct statfs *st = &m->st;
    double bsize = (double)st->f_bsize;
    hk_emit(ctx->b, &desc_device_error, values, 0);
    hk_emit(ctx->b, &desc_readonly, values, m->readonly);
    hk_emit(ctx->b, &desc_size, values, (double)st->f_blocks * bsize);
    hk_emit(ctx->b, &desc_free, values, (double)st->f_bfree * bsize);
    hk_emit(ctx->b, &desc_avail, values, (double)st->f_bavail * bsize);
    hk_emit(ctx->b, &desc_files, values, (double)st->f_files);
    hk_emit(ctx->b, &desc_files_free, values, (double)st->f_ffree);
}

static int fs_collect(void *state, struct hk_collect_ctx *ctx)
{
    struct fs_state *s = state;
    const char *file = "1/mountinfo";
    ssize_t n = hk_node_buf_read(&s->buf, ctx->paths->proc_fd, file);
    if (n == -ENOENT || n == -EACCES || n == -EPERM) {
        file = "self/mountinfo";
        n = hk_node_buf_read(&s->buf, ctx->paths->proc_fd, file);
    }
    if (n == -ENOENT)
        return 0;
    if (n == -ENOMEM)
        return -ENOMEM;
    int r = n < 0 ? (int)n : hk_mountinfo_parse(s->buf.data, (size_t)n, NULL, NULL);
    if (r < 0) {
        hk_node_soft_error(&s->health, ctx, "filesystem", file, r);
        return 0;
    }
    hk_node_ok(&s->health, "filesystem", file);
    reap_stuck(s);
    mounts_clear(s);
    r = hk_mountinfo_parse(s->buf.data, (size_t)n, keep_mount, s);
    if (r == -ENOMEM)
        goto out;
    if (r == -E2BIG && !s->too_many_logged) {
        s->too_many_logged = true;
        hk_log_warn("too many mounts, the rest skipped", "collector", "filesystem");
    }
    /* A mount point mounted over several times: statfs sees the top mount, which is the last
     * one listed, so only that entry is reported. */
    for (size_t i = 0; i < s->nmounts; i++) {
        struct fs_mount *m = &s->mounts[i];
        bool over = false;
        for (size_t j = i + 1; j < s->nmounts && !over; j++)
            over = strcmp(m->mountpoint, s->mounts[j].mountpoint) == 0;
        m->query = !over && !find_stuck(s, m->mountpoint);
        m->err = over ? 1 : -EBUSY; /* 1: not reported; -EBUSY: stuck from an earlier cycle */
    }
    statfs_all(s, ctx->paths->root_fd);
    for (size_t i = 0; i < s->nmounts; i++)
        if (s->mounts[i].err <= 0)
            emit_mount(ctx, &s->mounts[i]);
    r = 0;
out:
    mounts_clear(s);
    return r;
}

const struct hk_collector_ops hk_collector_filesystem = {
    .name = "filesystem",
    .help = "filesystem size, free space and inodes via statfs of each mount (node_filesystem_*)",
    .default_enabled = true,
    .check = fs_check,
    .init = fs_init,
    .collect = fs_collect,
    .fini = fs_fini,
};
