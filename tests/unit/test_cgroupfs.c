/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of collector/cgroupfs.c: the one mountinfo parser (every field, optional fields,
 * octal escapes, hostile lines with their line and field named), the option-list matcher, the
 * cgroup mounts of v1, v2 and hybrid hosts, the subdirectory lister and walker on a real
 * directory tree, and the inotify watch reporting created and removed directories. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "collector/cgroupfs.h"

#define S(lit) (lit), (sizeof(lit) - 1)

/* ---- mountinfo ---- */

struct seen {
    unsigned n;
    uint64_t id[8], parent[8];
    uint32_t major[8], minor[8];
    char root[8][64], mp[8][64], fs[8][32], src[8][32], opt[8][64], optional[8][64], super[8][64];
    bool ro[8];
};

static int collect(const struct hk_mount *m, void *userdata)
{
    struct seen *x = userdata;
    unsigned i = x->n++;
    if (i >= 8)
        return 0;
    x->id[i] = m->id;
    x->parent[i] = m->parent;
    x->major[i] = m->major;
    x->minor[i] = m->minor;
    snprintf(x->root[i], sizeof(x->root[i]), "%s", m->root);
    snprintf(x->mp[i], sizeof(x->mp[i]), "%s", m->mountpoint);
    snprintf(x->fs[i], sizeof(x->fs[i]), "%s", m->fstype);
    snprintf(x->src[i], sizeof(x->src[i]), "%s", m->source);
    snprintf(x->opt[i], sizeof(x->opt[i]), "%.*s", (int)m->options_len, m->options);
    snprintf(x->optional[i], sizeof(x->optional[i]), "%.*s", (int)m->optional_len, m->optional);
    snprintf(x->super[i], sizeof(x->super[i]), "%.*s", (int)m->super_len, m->super);
    x->ro[i] = m->readonly;
    return 0;
}

static void test_fields(void **state)
{
    (void)state;
    static const char mi[] =
        "22 1 254:3 / / rw,relatime shared:1 - ext4 /dev/vda3 rw,errors=remount-ro\n"
        "\n" /* blank lines are skipped */
        "35 22 0:32 /sub\\040dir /mnt/a\\011b ro,nosuid shared:9 master:3 propagate_from:2 - "
        "cgroup cgroup rw,cpu,cpuacct\n"
        "36\t22\t0:33 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"
        "37 22 0:34 / /old rw - tmpfs tmpfs\n"; /* no super options: tolerated */
    struct seen x = {0};
    assert_int_equal(hk_mountinfo_parse(S(mi), collect, &x), 0);
    assert_int_equal(x.n, 4);
    assert_int_equal(x.id[0], 22);
    assert_int_equal(x.parent[0], 1);
    assert_int_equal(x.major[0], 254);
    assert_int_equal(x.minor[0], 3);
    assert_string_equal(x.optional[0], "shared:1");
    assert_string_equal(x.super[0], "rw,errors=remount-ro");
    assert_false(x.ro[0]);
    /* Escapes decoded in root and mount point; three optional fields kept as one slice. */
    assert_string_equal(x.root[1], "/sub dir");
    assert_string_equal(x.mp[1], "/mnt/a\tb");
    assert_string_equal(x.optional[1], "shared:9 master:3 propagate_from:2");
    assert_string_equal(x.opt[1], "ro,nosuid");
    assert_true(x.ro[1]);
    assert_string_equal(x.fs[1], "cgroup");
    assert_string_equal(x.super[1], "rw,cpu,cpuacct");
    /* Tabs separate as well; no optional fields. */
    assert_string_equal(x.mp[2], "/sys/fs/cgroup");
    assert_string_equal(x.optional[2], "");
    assert_string_equal(x.super[3], "");
    assert_string_equal(x.src[3], "tmpfs");
}

/* Each hostile line fails with its line and field named; with SKIP_BAD it is counted and the
 * good lines around it still arrive. */
static void test_hostile(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        const char *field;
    } bad[] = {
        {"26 1 254:0 / / rw,relat\n", "separator"},
        {"26 1 254:0 / /\n", "mount options"},
        {"26 1\n", "major:minor"},
        {"x 1 254:0 / / rw - ext4 /dev/vda rw\n", "mount id"},
        {"1 -1 254:0 / / rw - ext4 /dev/vda rw\n", "parent id"},
        {"1 1 254 / / rw - ext4 /dev/vda rw\n", "major:minor"},
        {"1 1 254:4294967296 / / rw - ext4 /dev/vda rw\n", "major:minor"},
        {"1 1 254:0 / rel rw - ext4 /dev/vda rw\n", "mount point"},
        {"1 1 254:0 / /a\\09 rw - ext4 /dev/vda rw\n", "mount point"},
        {"1 1 254:0 / /a\\04 rw - ext4 /dev/vda rw\n", "mount point"},
        {"1 1 254:0 / /a\\000 rw - ext4 /dev/vda rw\n", "mount point"},
        {"1 1 254:0 /\\400 / rw - ext4 /dev/vda rw\n", "root"},
        {"1 1 254:0 / / rw ext4 /dev/vda rw\n", "separator"},
        {"1 1 254:0 / / rw -\n", "filesystem type"},
        {"1 1 254:0 / / rw - ext4\n", "mount source"},
        {"18446744073709551616 1 254:0 / / rw - ext4 /dev/vda rw\n", "mount id"},
        {"\xff\xfe\x01\n", "parent id"},
    };
    static const char good[] = "2 1 0:5 / /ok rw - tmpfs tmpfs rw\n";
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char buf[256];
        int n = snprintf(buf, sizeof(buf), "%s%s%s", good, bad[i].line, good);
        struct hk_mountinfo_error err = {0, NULL};
        struct seen x = {0};
        unsigned skipped = 0;
        assert_int_equal(hk_mountinfo_scan(buf, (size_t)n, 0, collect, &x, &err, NULL), -EINVAL);
        assert_int_equal(err.line, 2);
        assert_non_null(err.field);
        assert_string_equal(err.field, bad[i].field);
        assert_int_equal(x.n, 1);
        memset(&x, 0, sizeof(x));
        assert_int_equal(
            hk_mountinfo_scan(buf, (size_t)n, HK_MOUNTINFO_SKIP_BAD, collect, &x, NULL, &skipped),
            0);
        assert_int_equal(x.n, 2);
        assert_int_equal(skipped, 1);
    }
    /* A NUL inside a line is a byte like any other: the field holding it is rejected as a
     * path only where one is needed (the mount point must still start with '/'). */
    static const char nul[] = "1 1 0:1 / \0/x rw - tmpfs tmpfs rw\n";
    assert_int_equal(hk_mountinfo_parse(S(nul), NULL, NULL), -EINVAL);
    /* A mount point longer than PATH_MAX does not fit: rejected, not truncated. */
    size_t cap = PATH_MAX + 64;
    char *huge = malloc(cap);
    assert_non_null(huge);
    int off = snprintf(huge, cap, "1 1 0:1 / /");
    memset(huge + off, 'a', PATH_MAX);
    off += PATH_MAX;
    off += snprintf(huge + off, cap - (size_t)off, " rw - tmpfs t rw\n");
    struct hk_mountinfo_error err = {0, NULL};
    assert_int_equal(hk_mountinfo_scan(huge, (size_t)off, 0, NULL, NULL, &err, NULL), -EINVAL);
    assert_string_equal(err.field, "mount point");
    free(huge);
    /* A callback's error stops the parse and is returned. */
    assert_int_equal(hk_mountinfo_parse(S("1 1 0:1 / / rw - ext4 /dev/vda rw\n"), NULL, NULL), 0);
    assert_int_equal(hk_mountinfo_parse("", 0, NULL, NULL), 0);
}

static int stop_cb(const struct hk_mount *m, void *userdata)
{
    (void)m;
    (*(int *)userdata)++;
    return -E2BIG;
}

static void test_unescape_and_options(void **state)
{
    (void)state;
    char out[8];
    assert_int_equal(hk_mountinfo_unescape(S("/a\\040b"), out, sizeof(out)), 4);
    assert_string_equal(out, "/a b");
    assert_int_equal(hk_mountinfo_unescape(S("\\134\\012"), out, sizeof(out)), 2);
    assert_string_equal(out, "\\\n");
    assert_int_equal(hk_mountinfo_unescape(S("/abcdefg"), out, sizeof(out)), -ENOSPC);
    assert_int_equal(hk_mountinfo_unescape(S("/abcdef"), out, sizeof(out)), 7);
    assert_int_equal(hk_mountinfo_unescape(S("/\\000"), out, sizeof(out)), -EINVAL);
    assert_int_equal(hk_mountinfo_unescape(S("/\\8"), out, sizeof(out)), -EINVAL);

    assert_true(hk_mountinfo_opt_has(S("rw,cpu,cpuacct"), "cpu"));
    assert_true(hk_mountinfo_opt_has(S("rw,cpu,cpuacct"), "cpuacct"));
    assert_false(hk_mountinfo_opt_has(S("rw,cpuacct"), "cpu"));
    assert_false(hk_mountinfo_opt_has(S("rw,cpuset"), "cpu"));
    assert_true(hk_mountinfo_opt_has(S("ro"), "ro"));
    assert_false(hk_mountinfo_opt_has(S(""), "ro"));
    assert_false(hk_mountinfo_opt_has(S(",,"), "ro"));
    assert_false(hk_mountinfo_opt_has("rw,memory", 5, "memory")); /* the length bounds it */

    int calls = 0;
    assert_int_equal(hk_mountinfo_parse(S("1 1 0:1 / / rw - ext4 /dev/vda rw\n"
                                          "2 1 0:1 / /b rw - ext4 /dev/vda rw\n"),
                                        stop_cb, &calls),
                     -E2BIG);
    assert_int_equal(calls, 1);
}

/* ---- cgroup mounts ---- */

static void test_cgroup_mounts(void **state)
{
    (void)state;
    struct hk_cg_mounts m;
    /* Hybrid: v1 per controller, net_cls,net_prio co-mounted, cgroup2 at unified. */
    static const char hybrid[] =
        "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
        "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
        "32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
        "35 30 0:32 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory\n"
        "36 30 0:33 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio\n"
        "39 30 0:36 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
    assert_int_equal(hk_cgroupfs_parse_mounts(S(hybrid), &m), 4);
    assert_string_equal(m.v1[HK_CG_CPU], "/sys/fs/cgroup/cpu");
    assert_string_equal(m.v1[HK_CG_CPUACCT], "/sys/fs/cgroup/cpuacct");
    assert_string_equal(m.v1[HK_CG_MEMORY], "/sys/fs/cgroup/memory");
    assert_string_equal(m.v1[HK_CG_BLKIO], ""); /* absent */
    assert_string_equal(m.v2, "/sys/fs/cgroup/unified");
    /* Pure v2, the production layout. */
    static const char v2[] = "29 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"
                             "40 29 0:40 / /sys/fs/cgroup/x rw - cgroup2 cgroup2 rw\n";
    assert_int_equal(hk_cgroupfs_parse_mounts(S(v2), &m), 1);
    assert_string_equal(m.v2, "/sys/fs/cgroup"); /* the first one */
    assert_string_equal(m.v1[HK_CG_CPU], "");
    /* Garbage lines are skipped, not fatal, when looking for cgroup mounts. */
    static const char mixed[] = "garbage\n\n- -\n"
                                "29 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
    assert_int_equal(hk_cgroupfs_parse_mounts(S(mixed), &m), 1);
    assert_string_equal(m.v2, "/sys/fs/cgroup");
    assert_int_equal(hk_cgroupfs_parse_mounts(S("garbage\n- -\n"), &m), 0);
}

/* ---- directories ---- */

static char root[] = "/tmp/hk-cgroupfs-unit-XXXXXX";

static void mk(const char *rel)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static void rm(const char *rel)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    assert_int_equal(rmdir(p), 0);
}

static uint64_t ino_of(const char *rel)
{
    char p[256];
    struct stat sb;
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    assert_int_equal(stat(p, &sb), 0);
    return (uint64_t)sb.st_ino;
}

struct walked {
    unsigned n;
    char path[8][64];
    uint64_t ino[8];
};

static int walked_cb(const char *path, uint64_t ino, void *userdata)
{
    struct walked *w = userdata;
    if (w->n < 8) {
        snprintf(w->path[w->n], sizeof(w->path[0]), "%s", path);
        w->ino[w->n] = ino;
    }
    w->n++;
    return 0;
}

static int subdir_cb(const char *name, size_t len, uint64_t ino, void *userdata)
{
    assert_int_equal(strlen(name), len);
    assert_int_equal(ino, ino_of(name));
    (*(int *)userdata)++;
    return 0;
}

static void test_walk(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(root));
    mk("a");
    mk("a/b");
    mk("c");
    char p[256];
    snprintf(p, sizeof(p), "%s/a/file", root);
    int f = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644); /* files are not cgroups */
    assert_true(f >= 0);
    close(f);
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    int n = 0;
    assert_int_equal(hk_cgroupfs_subdirs(fd, subdir_cb, &n), 2);
    assert_int_equal(n, 2);
    assert_int_equal(hk_cgroupfs_subdirs(fd, subdir_cb, &n), 2); /* re-listable */

    struct walked w = {0};
    assert_int_equal(hk_cgroupfs_walk(fd, 8, walked_cb, &w), 0);
    assert_int_equal(w.n, 4);
    assert_string_equal(w.path[0], "/");
    bool saw_ab = false;
    for (unsigned i = 1; i < w.n; i++)
        if (strcmp(w.path[i], "/a/b") == 0) {
            saw_ab = true;
            assert_int_equal(w.ino[i], ino_of("a/b"));
        }
    assert_true(saw_ab);
    /* Depth limit: only the root's children. */
    memset(&w, 0, sizeof(w));
    assert_int_equal(hk_cgroupfs_walk(fd, 0, walked_cb, &w), 0);
    assert_int_equal(w.n, 3);
    assert_int_equal(hk_cgroupfs_walk(-1, 8, walked_cb, &w), -ENOENT);
    close(fd);
    unlink(p);
    rm("a/b");
    rm("a");
    rm("c");
}

/* ---- change notification ---- */

struct changes {
    unsigned n, gone;
    void *last;
};

static void change_cb(void *cookie, bool gone, void *userdata)
{
    struct changes *c = userdata;
    c->n++;
    c->gone += gone;
    c->last = cookie;
}

static void write_file(const char *rel, const char *text)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    FILE *f = fopen(p, "we");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Limit files: a write is reported with the file's cookie, a read is not; an absent file or a
 * name with a slash is refused; the file removed ends its watch ("gone", once). */
static void test_watch_file(void **state)
{
    (void)state;
    mk("f");
    write_file("f/memory.max", "max\n");
    write_file("f/cpu.max", "max 100000\n");
    struct hk_cgroupfs_watch *w = NULL;
    if (hk_cgroupfs_watch_new(&w) < 0) {
        char p[512];
        snprintf(p, sizeof(p), "%s/f/memory.max", root);
        unlink(p);
        snprintf(p, sizeof(p), "%s/f/cpu.max", root);
        unlink(p);
        rm("f");
        skip();
    }
    char p[256];
    snprintf(p, sizeof(p), "%s/f", root);
    int dir = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dir >= 0);
    int a = 1, b = 2;
    int wd_mem = hk_cgroupfs_watch_add_file(w, dir, "memory.max", &a);
    int wd_cpu = hk_cgroupfs_watch_add_file(w, dir, "cpu.max", &b);
    assert_true(wd_mem >= 0 && wd_cpu >= 0 && wd_mem != wd_cpu);
    assert_int_equal(hk_cgroupfs_watch_add_file(w, dir, "memory.min", &a), -ENOENT);
    assert_int_equal(hk_cgroupfs_watch_add_file(w, dir, "../f/cpu.max", &a), -EINVAL);
    struct changes c = {0};
    assert_int_equal(hk_cgroupfs_watch_poll(w, change_cb, &c), 0);
    char buf[64];
    snprintf(p, sizeof(p), "%s/f/memory.max", root);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0 && pread(fd, buf, sizeof(buf), 0) > 0);
    close(fd);
    assert_int_equal(hk_cgroupfs_watch_poll(w, change_cb, &c), 0); /* reads are no change */
    write_file("f/cpu.max", "50000 100000\n");
    assert_true(hk_cgroupfs_watch_poll(w, change_cb, &c) >= 1);
    assert_ptr_equal(c.last, &b);
    assert_int_equal(c.gone, 0);
    /* Removed: reported, its watch ends once; the other file's watch is unaffected. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(unlink(p), 0);
    assert_true(hk_cgroupfs_watch_poll(w, change_cb, &c) >= 1);
    assert_int_equal(c.gone, 1);
    assert_ptr_equal(c.last, &a);
    assert_int_equal(hk_cgroupfs_watch_count(w), 1);
    hk_cgroupfs_watch_rm(w, wd_mem); /* already ended: harmless */
    hk_cgroupfs_watch_rm(w, wd_cpu);
    write_file("f/cpu.max", "max 100000\n");
    memset(&c, 0, sizeof(c));
    hk_cgroupfs_watch_poll(w, change_cb, &c);
    assert_int_equal(c.n, 0);
    assert_int_equal(hk_cgroupfs_watch_count(w), 0);
    hk_cgroupfs_watch_free(w);
    close(dir);
    snprintf(p, sizeof(p), "%s/f/cpu.max", root);
    unlink(p);
    rm("f");
}

static void test_watch(void **state)
{
    (void)state;
    mk("w");
    mk("w/pod");
    struct hk_cgroupfs_watch *w = NULL;
    int r = hk_cgroupfs_watch_new(&w);
    if (r < 0) {
        rm("w/pod");
        rm("w");
        skip(); /* no inotify here: the collector falls back to listing */
    }
    char p[256];
    snprintf(p, sizeof(p), "%s/w", root);
    int top = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    snprintf(p, sizeof(p), "%s/w/pod", root);
    int pod = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(top >= 0 && pod >= 0);
    int a = 1, b = 2;
    int wd_top = hk_cgroupfs_watch_add(w, top, &a);
    int wd_pod = hk_cgroupfs_watch_add(w, pod, &b);
    assert_true(wd_top >= 0 && wd_pod >= 0);
    assert_int_equal(hk_cgroupfs_watch_count(w), 2);
    struct changes c = {0};
    assert_int_equal(hk_cgroupfs_watch_poll(w, change_cb, &c), 0); /* nothing yet */
    assert_int_equal(c.n, 0);
    /* A container appears in the pod: the pod directory is reported. */
    mk("w/pod/ctr");
    assert_int_equal(hk_cgroupfs_watch_poll(w, change_cb, &c), 1);
    assert_int_equal(c.n, 1);
    assert_ptr_equal(c.last, &b);
    /* Files do not count (IN_ONLYDIR watches directories; creations of files are events on
     * the directory, though: the collector just lists it again). Removal of the container. */
    rm("w/pod/ctr");
    memset(&c, 0, sizeof(c));
    assert_int_equal(hk_cgroupfs_watch_poll(w, change_cb, &c), 1);
    assert_ptr_equal(c.last, &b);
    /* The pod goes: its parent changes, and the pod's own watch ends ("gone"), once. */
    close(pod);
    rm("w/pod");
    memset(&c, 0, sizeof(c));
    assert_true(hk_cgroupfs_watch_poll(w, change_cb, &c) >= 2);
    assert_int_equal(c.gone, 1);
    assert_int_equal(hk_cgroupfs_watch_count(w), 1);
    /* A removed watch reports nothing, and removing it twice is harmless. */
    hk_cgroupfs_watch_rm(w, wd_top);
    hk_cgroupfs_watch_rm(w, wd_top);
    mk("w/x");
    memset(&c, 0, sizeof(c));
    hk_cgroupfs_watch_poll(w, change_cb, &c);
    assert_int_equal(c.n, 0);
    assert_int_equal(hk_cgroupfs_watch_count(w), 0);
    /* Many watches: the table grows and keeps every cookie. */
    int cookies[600];
    for (int i = 0; i < 600; i++) {
        snprintf(p, sizeof(p), "w/x/%d", i);
        mk(p);
        char full[512];
        snprintf(full, sizeof(full), "%s/%s", root, p);
        int fd = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_true(hk_cgroupfs_watch_add(w, fd, &cookies[i]) >= 0);
        close(fd);
    }
    assert_int_equal(hk_cgroupfs_watch_count(w), 600);
    snprintf(p, sizeof(p), "w/x/%d/new", 417);
    mk(p);
    memset(&c, 0, sizeof(c));
    assert_int_equal(hk_cgroupfs_watch_poll(w, change_cb, &c), 1);
    assert_ptr_equal(c.last, &cookies[417]);
    rm(p);
    for (int i = 0; i < 600; i++) {
        snprintf(p, sizeof(p), "w/x/%d", i);
        rm(p);
    }
    hk_cgroupfs_watch_poll(w, change_cb, &c);
    assert_int_equal(hk_cgroupfs_watch_count(w), 0);
    hk_cgroupfs_watch_free(w);
    hk_cgroupfs_watch_free(NULL);
    close(top);
    rm("w/x");
    rm("w");
    rmdir(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_unescape_and_options),
        cmocka_unit_test(test_cgroup_mounts),
        cmocka_unit_test(test_walk),
        cmocka_unit_test(test_watch_file),
        cmocka_unit_test(test_watch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
