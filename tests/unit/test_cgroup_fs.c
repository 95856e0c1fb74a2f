/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of collector/cgroup_fs.c: the parsers of /proc/<pid>/limits and of a container
 * process' mountinfo (as the kernel prints them for a containerd container, then readonly
 * views, escapes, truncation and garbage), and the writable-layer walk on a real directory tree
 * under $TMPDIR: counts, hard links, budget-limited resumption across cycles, the re-measure
 * interval, and the open-files limit cache. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "collector/cgroup_fs.h"
#include "collector/filesystem_internal.h"
#include "core/fsread.h"

#define S(lit) (lit), (sizeof(lit) - 1)

/* Layout of the kernel's proc_pid_limits (fs/proc/base.c): "%-25s %-20s %-20s %-10s". */
static const char limits_text[] =
    "Limit                     Soft Limit           Hard Limit           Units     \n"
    "Max cpu time              unlimited            unlimited            seconds   \n"
    "Max file size             unlimited            unlimited            bytes     \n"
    "Max data size             unlimited            unlimited            bytes     \n"
    "Max stack size            8388608              unlimited            bytes     \n"
    "Max core file size        0                    unlimited            bytes     \n"
    "Max resident set          unlimited            unlimited            bytes     \n"
    "Max processes             63371                63371                processes \n"
    "Max open files            1048576              1048576              files     \n"
    "Max locked memory         8388608              8388608              bytes     \n"
    "Max address space         unlimited            unlimited            bytes     \n"
    "Max file locks            unlimited            unlimited            locks     \n"
    "Max pending signals       63371                63371                signals   \n"
    "Max msgqueue size         819200               819200               bytes     \n"
    "Max nice priority         0                    0                    \n"
    "Max realtime priority     0                    0                    \n"
    "Max realtime timeout      unlimited            unlimited            us        \n";

static void test_limits(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(hk_cg_parse_limits_nofile(S(limits_text), &v), 0);
    assert_int_equal(v, 1048576);
    assert_int_equal(hk_cg_parse_limits_nofile(
                         S("Max open files            unlimited            unlimited            "
                           "files     \n"),
                         &v),
                     0);
    assert_int_equal(v, -1);
    /* Last line without a newline. */
    assert_int_equal(hk_cg_parse_limits_nofile(S("Max open files 1024 4096 files"), &v), 0);
    assert_int_equal(v, 1024);
    assert_int_equal(hk_cg_parse_limits_nofile(S(""), &v), -EINVAL);
    assert_int_equal(hk_cg_parse_limits_nofile(S("Max processes 10 10 processes\n"), &v), -EINVAL);
    assert_int_equal(hk_cg_parse_limits_nofile(S("Max open files many 10 files\n"), &v), -EINVAL);
    assert_int_equal(hk_cg_parse_limits_nofile(S("Max open files \n"), &v), -EINVAL);
    assert_int_equal(
        hk_cg_parse_limits_nofile(S("Max open files 9223372036854775808 1 files\n"), &v), -EINVAL);
    assert_int_equal(hk_cg_parse_limits_nofile(S("Max open files 99999999999999999999999 1\n"), &v),
                     -EINVAL);
}

/* /proc/<pid>/mountinfo of a process in a containerd container (overlayfs snapshotter). */
static const char ctr_mountinfo[] =
    "1403 1247 0:389 / / rw,relatime master:593 - overlay overlay "
    "rw,lowerdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/331/fs:"
    "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/330/fs,"
    "upperdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/342/fs,"
    "workdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/342/work,"
    "uuid=on\n"
    "1404 1403 0:391 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
    "1405 1403 0:392 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755,inode64\n"
    "1411 1403 259:2 /var/lib/kubelet/pods/1b2c/etc-hosts /etc/hosts rw,relatime - ext4 "
    "/dev/nvme0n1p2 rw\n";

static void test_upperdir(void **state)
{
    (void)state;
    char out[4096];
    int r = hk_cg_parse_root_upperdir(S(ctr_mountinfo), out, sizeof(out));
    assert_int_equal(r, (int)strlen(out));
    assert_string_equal(
        out, "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/342/fs");
    /* No trailing newline. */
    r = hk_cg_parse_root_upperdir(
        S("1 0 0:1 / / rw - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w"), out,
        sizeof(out));
    assert_int_equal(r, 2);
    assert_string_equal(out, "/u");
    /* Optional fields (several) before the separator; a comma in the path is \054. */
    r = hk_cg_parse_root_upperdir(S("1 0 0:1 / / rw shared:1 master:2 - overlay overlay "
                                    "rw,lowerdir=/l,upperdir=/var/a\\054b,workdir=/w\n"),
                                  out, sizeof(out));
    assert_true(r > 0);
    assert_string_equal(out, "/var/a,b");
    /* A readonly view (sandbox): lowerdirs only. */
    assert_int_equal(
        hk_cg_parse_root_upperdir(S("1 0 0:1 / / ro - overlay overlay ro,lowerdir=/a:/b\n"), out,
                                  sizeof(out)),
        -EROFS);
    /* Root on a plain filesystem (the host, a VM sandbox). */
    assert_int_equal(
        hk_cg_parse_root_upperdir(S("21 1 259:2 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"),
                                  out, sizeof(out)),
        -ENOENT);
    /* Something mounted over the overlay at "/" hides it. */
    assert_int_equal(
        hk_cg_parse_root_upperdir(S("1 0 0:1 / / rw - overlay overlay rw,upperdir=/u,workdir=/w\n"
                                    "2 1 0:2 / / rw - tmpfs tmpfs rw\n"),
                                  out, sizeof(out)),
        -ENOENT);
    /* Garbage, truncation, relative and oversized paths. */
    assert_int_equal(hk_cg_parse_root_upperdir(S(""), out, sizeof(out)), -ENOENT);
    assert_int_equal(hk_cg_parse_root_upperdir(S("1 0 0:1 / / rw overlay\n"), out, sizeof(out)),
                     -EINVAL);
    assert_int_equal(hk_cg_parse_root_upperdir(S("1 0 0:1 / / rw - overlay\n"), out, sizeof(out)),
                     -EINVAL);
    assert_int_equal(
        hk_cg_parse_root_upperdir(S("1 0 0:1 / / rw - overlay overlay rw,upperdir=rel/dir\n"), out,
                                  sizeof(out)),
        -EINVAL);
    assert_int_equal(
        hk_cg_parse_root_upperdir(S("1 0 0:1 / / rw - overlay overlay rw,upperdir=,workdir=/w\n"),
                                  out, sizeof(out)),
        -EINVAL);
    assert_int_equal(
        hk_cg_parse_root_upperdir(S("1 0 0:1 / / rw - overlay overlay rw,upperdir=/bad\\9z\n"), out,
                                  sizeof(out)),
        -EINVAL);
    assert_int_equal(hk_cg_parse_root_upperdir(
                         S("1 0 0:1 / / rw - overlay overlay rw,upperdir=/0123456789\n"), out, 8),
                     -ENOSPC);
    /* A NUL inside the value (fuzzer find): not a path. */
    assert_int_equal(hk_cg_parse_root_upperdir(
                         S("1 0 0:1 / / rw - overlay overlay rw,upperdir=/var/a\0b,workdir=/w\n"),
                         out, sizeof(out)),
                     -EINVAL);
}

/* ---- the walk on a real tree ---- */

struct tree {
    char dir[256];   /* scratch root */
    char upper[300]; /* the "layer" */
    char proc[300];  /* fake procfs: <pid>/mountinfo, <pid>/limits, 1/mountinfo */
    struct hk_paths paths;
};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* mkdir "<a>/<prefix><i>" */
static void mkdirf(const char *a, const char *prefix, int i)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s%d", a, prefix, i);
    assert_int_equal(mkdir(p, 0755), 0);
}

static void tree_setup(struct tree *t)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(t->dir, sizeof(t->dir), "%s/cgfs.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->upper, sizeof(t->upper), "%s/upper", t->dir);
    snprintf(t->proc, sizeof(t->proc), "%s/proc", t->dir);
    assert_int_equal(mkdir(t->upper, 0755), 0);
    assert_int_equal(mkdir(t->proc, 0755), 0);
    mkdirf(t->proc, "", 1);
    mkdirf(t->proc, "", 4242);
    char p[512], text[1024];
    /* The container process sees the layer as its root; the host mount table puts the scratch
     * directory on a device of its own. */
    snprintf(p, sizeof(p), "%s/4242/mountinfo", t->proc);
    snprintf(text, sizeof(text),
             "900 800 0:99 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=%s,"
             "workdir=/w\n901 900 0:3 / /proc rw - proc proc rw\n",
             t->upper);
    write_file(p, text);
    snprintf(p, sizeof(p), "%s/1/mountinfo", t->proc);
    snprintf(text, sizeof(text),
             "21 1 259:2 / / rw,relatime shared:1 - ext4 /dev/rootdisk rw\n"
             "30 21 259:3 / %s rw,relatime shared:2 - ext4 /dev/scratchdisk rw\n",
             t->dir);
    write_file(p, text);
    snprintf(p, sizeof(p), "%s/4242/limits", t->proc);
    write_file(p, limits_text);
    assert_int_equal(hk_paths_open(&t->paths, "/", t->proc, "/sys"), 0);
}

static void tree_teardown(struct tree *t)
{
    hk_paths_close(&t->paths);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
    assert_int_equal(system(cmd), 0);
}

/* Σ st_blocks·512 and entries of the layer, as du and find count them (hard links once). */
static void expected(const char *upper, uint64_t *bytes, uint64_t *entries)
{
    char cmd[600], line[128];
    snprintf(cmd, sizeof(cmd), "du -s -B1 '%s' && find '%s' -links 1 -o -type d | wc -l", upper,
             upper);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(line, sizeof(line), p));
    *bytes = strtoull(line, NULL, 10);
    assert_non_null(fgets(line, sizeof(line), p));
    *entries = strtoull(line, NULL, 10);
    pclose(p);
}

static void populate(const struct tree *t, int dirs, int files)
{
    char p[600];
    for (int d = 0; d < dirs; d++) {
        mkdirf(t->upper, "d", d);
        for (int f = 0; f < files; f++) {
            snprintf(p, sizeof(p), "%s/d%d/f%d", t->upper, d, f);
            write_file(p, f % 2 ? "some bytes\n" : "");
        }
    }
}

static void test_layer(void **state)
{
    (void)state;
    struct tree t;
    tree_setup(&t);
    populate(&t, 3, 5);
    char p[700], q[600];
    snprintf(p, sizeof(p), "%s/big", t.upper);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    for (int i = 0; i < 1000; i++)
        fputs("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n", f);
    fclose(f);
    snprintf(q, sizeof(q), "%s/d0/big-link", t.upper);
    assert_int_equal(link(p, q), 0); /* a hard link counts once */
    snprintf(q, sizeof(q), "%s/sym", t.upper);
    assert_int_equal(symlink("/etc", q), 0); /* not followed */
    snprintf(q, sizeof(q), "%s/d1/deep/er/est", t.upper);
    snprintf(p, sizeof(p), "mkdir -p '%s'", q);
    assert_int_equal(system(p), 0);

    struct hk_cgfs_options o = {
        .interval_ms = 60000, .budget_us = 1000000, .statfs_timeout_ms = 5000};
    struct hk_cgfs *s = NULL;
    assert_int_equal(hk_cgfs_new(&t.paths, &o, &s), 0);
    struct hk_cgfs_ctr *c = NULL;
    struct hk_cgfs_layer l;
    hk_cgfs_begin(s, 1000);
    assert_int_equal(hk_cgfs_layer(s, &c, 4242, &l), 0);
    uint64_t bytes, entries;
    expected(t.upper, &bytes, &entries);
    assert_int_equal(l.usage_bytes, bytes);
    assert_int_equal(l.inodes, entries + 1); /* find -links 1 left out the linked file */
    assert_string_equal(l.device, "/dev/scratchdisk");
    struct statfs sf;
    assert_int_equal(statfs(t.dir, &sf), 0);
    assert_true(l.has_fs);
    assert_int_equal(l.limit_bytes, (uint64_t)sf.f_blocks * (uint64_t)sf.f_bsize);
    assert_true(l.inodes_free > 0);

    /* Within the interval the figure is the cached one; after it, measured again. */
    populate(&t, 0, 0);
    mkdirf(t.upper, "new", 1);
    hk_cgfs_begin(s, 30000);
    assert_int_equal(hk_cgfs_layer(s, &c, 4242, &l), 0);
    assert_int_equal(l.inodes, entries + 1);
    hk_cgfs_begin(s, 61000);
    assert_int_equal(hk_cgfs_layer(s, &c, 4242, &l), 0);
    assert_int_equal(l.inodes, entries + 2);

    /* Open-files limit: cached until refresh. */
    int64_t soft = 0;
    assert_int_equal(hk_cgfs_nofile(s, &c, 4242, false, &soft), 0);
    assert_int_equal(soft, 1048576);
    snprintf(p, sizeof(p), "%s/4242/limits", t.proc);
    write_file(p, "Max open files            unlimited            unlimited            files\n");
    assert_int_equal(hk_cgfs_nofile(s, &c, 4242, false, &soft), 0);
    assert_int_equal(soft, 1048576);
    assert_int_equal(hk_cgfs_nofile(s, &c, 4242, true, &soft), 0);
    assert_int_equal(soft, -1);
    assert_int_equal(hk_cgfs_nofile(s, &c, 5555, false, &soft), -ENOENT);

    /* The layer goes away (container removed): no figure, no error. */
    snprintf(p, sizeof(p), "rm -rf '%s'", t.upper);
    assert_int_equal(system(p), 0);
    hk_cgfs_begin(s, 200000);
    assert_int_equal(hk_cgfs_layer(s, &c, 4242, &l), -ENOENT);
    hk_cgfs_ctr_free(c);

    /* A process whose root is no overlay has no layer. */
    c = NULL;
    assert_int_equal(hk_cgfs_layer(s, &c, 1, &l), -ENOENT);
    assert_int_equal(hk_cgfs_layer(s, &c, 777, &l), -ENOENT); /* no such process */
    hk_cgfs_ctr_free(c);
    hk_cgfs_free(s);
    tree_teardown(&t);
}

/* A zero budget lets each cycle list one directory batch: the walk resumes where it stopped
 * and ends with the same figures as an unbounded one, reported only when complete. */
static void test_layer_budget(void **state)
{
    (void)state;
    struct tree t;
    tree_setup(&t);
    populate(&t, 40, 3);
    struct hk_cgfs_options o = {.interval_ms = 60000, .budget_us = 0, .statfs_timeout_ms = 5000};
    struct hk_cgfs *s = NULL;
    assert_int_equal(hk_cgfs_new(&t.paths, &o, &s), 0);
    struct hk_cgfs_ctr *c = NULL, *other = NULL;
    struct hk_cgfs_layer l;
    int cycles = 0, r;
    do {
        hk_cgfs_begin(s, 1000 + cycles);
        r = hk_cgfs_layer(s, &c, 4242, &l);
        /* The budget is spent: a second container waits for the next cycle. */
        assert_int_equal(hk_cgfs_layer(s, &other, 4242, &l), r == 0 && cycles == 0 ? 0 : -EAGAIN);
        cycles++;
    } while (r == -EAGAIN && cycles < 1000);
    assert_int_equal(r, 0);
    assert_true(cycles > 40); /* one batch per directory at least */
    uint64_t bytes, entries;
    expected(t.upper, &bytes, &entries);
    assert_int_equal(l.usage_bytes, bytes);
    assert_int_equal(l.inodes, entries);
    hk_cgfs_ctr_free(c);
    hk_cgfs_ctr_free(other);
    hk_cgfs_free(s);
    tree_teardown(&t);
}

/* A statfs that blocks (a dead network filesystem under the layers) until released. */
static pthread_mutex_t hang_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hang_cond = PTHREAD_COND_INITIALIZER;
static bool hang_release;

static int hanging_statfs(int root_fd, const char *path, struct statfs *st)
{
    pthread_mutex_lock(&hang_lock);
    while (!hang_release)
        pthread_cond_wait(&hang_cond, &hang_lock);
    pthread_mutex_unlock(&hang_lock);
    return hk_filesystem_statfs_in_root(root_fd, path, st);
}

/* While the statfs of the layer's filesystem does not return, the layer is not walked (the walk
 * would block the same way) and the collector does not wait again: one blocked call, no
 * figure; once it returns, the layer is measured. */
static void test_layer_stuck_statfs(void **state)
{
    (void)state;
    struct tree t;
    tree_setup(&t);
    populate(&t, 2, 2);
    hk_filesystem_statfs = hanging_statfs;
    struct hk_cgfs_options o = {
        .interval_ms = 60000, .budget_us = 1000000, .statfs_timeout_ms = 20};
    struct hk_cgfs *s = NULL;
    assert_int_equal(hk_cgfs_new(&t.paths, &o, &s), 0);
    struct hk_cgfs_ctr *c = NULL;
    struct hk_cgfs_layer l;
    for (int cycle = 1; cycle <= 3; cycle++) {
        hk_cgfs_begin(s, 1000 * cycle);
        assert_int_equal(hk_cgfs_layer(s, &c, 4242, &l), -EAGAIN);
    }
    pthread_mutex_lock(&hang_lock);
    hang_release = true;
    pthread_cond_broadcast(&hang_cond);
    pthread_mutex_unlock(&hang_lock);
    /* The blocked call returns on its own thread; the next cycles notice and measure. */
    int r = -EAGAIN;
    /* Waits on the condition (up to ~30 s on a loaded machine), never on a fixed delay. */
    for (int cycle = 4; cycle < 30000 && r != 0; cycle++) {
        hk_cgfs_begin(s, 1000 * cycle);
        r = hk_cgfs_layer(s, &c, 4242, &l);
        if (r != 0)
            usleep(1000);
    }
    assert_int_equal(r, 0);
    assert_true(l.has_fs);
    uint64_t bytes, entries;
    expected(t.upper, &bytes, &entries);
    assert_int_equal(l.usage_bytes, bytes);
    hk_filesystem_statfs = hk_filesystem_statfs_in_root;
    hk_cgfs_ctr_free(c);
    hk_cgfs_free(s);
    tree_teardown(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_upperdir),
        cmocka_unit_test(test_layer),
        cmocka_unit_test(test_layer_budget),
        cmocka_unit_test(test_layer_stuck_statfs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
