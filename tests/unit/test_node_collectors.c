/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the node collectors as the scheduler runs them: against a temporary root with
 * real-shaped files, checking emitted values, missing files (quiet), malformed files (counted,
 * logged once per state change), growth past the initial read buffer, options and filters. */
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

#include "unit_files.h"

#include "collector/filesystem_internal.h"
#include "collector/node_common.h"
#include "core/collector.h"
#include "core/log.h"
#include "core/snapshot.h"
#include "core/yaml.h"

static char root[256];

#define put(rel, content) hk_test_put(root, (rel), (content))


static void rm_rf(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
    snprintf(root, sizeof(root), "%s/hk-node-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(root));
    return 0;
}

static int teardown(void **state)
{
    rm_rf(root);
    return 0;
}

/* One collector instance on the temporary root. */
struct inst {
    const struct hk_collector_ops *ops;
    void *state;
    struct hk_paths paths;
    struct hk_yaml_node *options;
};

static void inst_open(struct inst *in, const char *name, const char *options_yaml)
{
    memset(in, 0, sizeof(*in));
    in->ops = hk_collector_find(name);
    assert_non_null(in->ops);
    assert_int_equal(hk_paths_open(&in->paths, root, NULL, NULL), 0);
    struct hk_error err = {{0}};
    if (options_yaml)
        assert_int_equal(
            hk_yaml_parse_string("test", options_yaml, strlen(options_yaml), &in->options, &err),
            0);
    struct hk_collector_env env = {&in->paths, NULL, in->options, &err};
    if (in->ops->check)
        assert_int_equal(in->ops->check(&env), 0);
    if (in->ops->init)
        assert_int_equal(in->ops->init(&in->state, &env), 0);
}

static void inst_close(struct inst *in)
{
    if (in->ops->fini)
        in->ops->fini(in->state);
    hk_paths_close(&in->paths);
    hk_yaml_free(in->options);
}

static int64_t cycle_now_ms; /* ctx->now_ms of the next cycle */

/* Runs one cycle; returns the sealed snapshot and the soft error count. */
static struct hk_snapshot *cycle(struct inst *in, uint64_t *ret_soft)
{
    struct hk_limits limits = {0};
    struct hk_builder *b = hk_builder_new(&limits);
    assert_non_null(b);
    hk_builder_begin(b, in->ops->name);
    struct hk_collect_ctx ctx = {.b = b, .paths = &in->paths, .now_ms = cycle_now_ms};
    assert_int_equal(in->ops->collect(in->state, &ctx), 0);
    hk_builder_commit(b);
    struct hk_snapshot *snap = hk_builder_seal(b, 0, NULL);
    assert_non_null(snap);
    assert_int_equal(snap->duplicates_dropped, 0);
    if (ret_soft)
        *ret_soft = ctx.soft_errors;
    return snap;
}

static size_t count_family(const struct hk_snapshot *snap, const char *name)
{
    const struct hk_family *f = hk_snapshot_find_family(snap, name);
    return f ? f->count : 0;
}

/* Value of the series of family name whose label k has value v (k NULL: the only series). */
static double value_of(const struct hk_snapshot *snap, const char *name, const char *k,
                       const char *v, const char *k2, const char *v2)
{
    const struct hk_family *f = hk_snapshot_find_family(snap, name);
    assert_non_null(f);
    for (uint32_t i = f->first; i < f->first + f->count; i++) {
        const struct hk_series *s = &snap->series[i];
        if (k && !(hk_labels_get(s->labels, s->nlabels, k) &&
                   strcmp(hk_labels_get(s->labels, s->nlabels, k), v) == 0))
            continue;
        if (k2 && !(hk_labels_get(s->labels, s->nlabels, k2) &&
                    strcmp(hk_labels_get(s->labels, s->nlabels, k2), v2) == 0))
            continue;
        return s->value;
    }
    fail_msg("no series %s{%s=%s}", name, k ? k : "", v ? v : "");
    return 0;
}

/* Captures stderr (the log) into a file while f runs. */
static int saved_stderr = -1;
static char logpath[300];

static void log_capture_start(void)
{
    snprintf(logpath, sizeof(logpath), "%s.log", root);
    int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    saved_stderr = dup(2);
    dup2(fd, 2);
    close(fd);
}

static unsigned log_capture_count(const char *needle)
{
    dup2(saved_stderr, 2);
    close(saved_stderr);
    FILE *f = fopen(logpath, "r");
    assert_non_null(f);
    char line[1024];
    unsigned n = 0;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, needle))
            n++;
    fclose(f);
    unlink(logpath);
    return n;
}

static const char stat_ok[] = "cpu  7885 0 8102 122345 440 0 158 0 0 0\n"
                              "cpu0 3380 0 3690 62308 19 0 68 0 0 0\n"
                              "cpu1 4505 0 4412 60036 421 0 90 0 0 0\n"
                              "intr 194891 0 0 0 0\n"
                              "ctxt 363115\n"
                              "btime 1795802817\n"
                              "processes 9838\n"
                              "procs_running 4\n"
                              "procs_blocked 0\n";

static void test_cpu_values(void **state)
{
    put("proc/stat", stat_ok);
    struct inst in;
    inst_open(&in, "cpu", NULL);
    uint64_t soft;
    struct hk_snapshot *snap = cycle(&in, &soft);
    assert_int_equal(soft, 0);
    double hz = (double)sysconf(_SC_CLK_TCK);
    assert_int_equal(count_family(snap, "node_cpu_seconds_total"), 2 * 8);
    assert_int_equal(count_family(snap, "node_cpu_guest_seconds_total"), 2 * 2);
    assert_true(value_of(snap, "node_cpu_seconds_total", "cpu", "0", "mode", "user") == 3380 / hz);
    assert_true(value_of(snap, "node_cpu_seconds_total", "cpu", "1", "mode", "iowait") == 421 / hz);
    assert_true(value_of(snap, "node_cpu_seconds_total", "cpu", "1", "mode", "steal") == 0);
    assert_true(value_of(snap, "node_boot_time_seconds", NULL, NULL, NULL, NULL) == 1795802817);
    assert_true(value_of(snap, "node_context_switches_total", NULL, NULL, NULL, NULL) == 363115);
    assert_true(value_of(snap, "node_forks_total", NULL, NULL, NULL, NULL) == 9838);
    assert_true(value_of(snap, "node_intr_total", NULL, NULL, NULL, NULL) == 194891);
    assert_true(value_of(snap, "node_procs_running", NULL, NULL, NULL, NULL) == 4);
    assert_true(value_of(snap, "node_procs_blocked", NULL, NULL, NULL, NULL) == 0);
    /* no aggregate "cpu" line as a series */
    assert_int_equal(hk_snapshot_find_family(snap, "node_cpu_seconds_total")->count, 16);
    hk_snapshot_unref(snap);
    inst_close(&in);
}

static void test_malformed_logged_once(void **state)
{
    put("proc/stat", "cpu0 1 2 garbage\n");
    struct inst in;
    inst_open(&in, "cpu", NULL);
    hk_log_setup(HK_LOG_INFO, HK_LOG_LOGFMT);
    log_capture_start();
    uint64_t soft1, soft2, soft3, soft4;
    struct hk_snapshot *s1 = cycle(&in, &soft1);
    struct hk_snapshot *s2 = cycle(&in, &soft2);
    put("proc/stat", stat_ok);
    struct hk_snapshot *s3 = cycle(&in, &soft3);
    put("proc/stat", "");
    struct hk_snapshot *s4 = cycle(&in, &soft4);
    unsigned warn = log_capture_count("malformed file skipped");
    log_capture_start();
    hk_snapshot_unref(cycle(&in, NULL)); /* still bad: no new line */
    unsigned warn_again = log_capture_count("malformed file skipped");
    /* each bad cycle counts, emits nothing, and the collector does not fail */
    assert_int_equal(soft1, 1);
    assert_int_equal(soft2, 1);
    assert_int_equal(s1->nseries, 0);
    assert_int_equal(s2->nseries, 0);
    assert_int_equal(soft3, 0);
    assert_int_equal(s3->nseries, 16 + 4 + 6);
    assert_int_equal(soft4, 1);
    assert_int_equal(s4->nseries, 0);
    /* logged on the two transitions to bad, not on every bad cycle */
    assert_int_equal(warn, 2);
    assert_int_equal(warn_again, 0);
    hk_snapshot_unref(s1);
    hk_snapshot_unref(s2);
    hk_snapshot_unref(s3);
    hk_snapshot_unref(s4);
    inst_close(&in);
    hk_log_setup(HK_LOG_WARN, HK_LOG_LOGFMT);
}

/* Every node collector on an empty root: nothing emitted, nothing counted, nothing logged. */
static void test_missing_files_quiet(void **state)
{
    static const char *const names[] = {"cpu",       "meminfo",    "pressure", "netdev",
                                        "diskstats", "filesystem", "machine",  "loadavg"};
    hk_log_setup(HK_LOG_INFO, HK_LOG_LOGFMT);
    log_capture_start();
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct inst in;
        inst_open(&in, names[i], NULL);
        uint64_t soft;
        struct hk_snapshot *snap = cycle(&in, &soft);
        assert_int_equal(soft, 0);
        /* machine still reports nothing: no CPU source, no meminfo */
        assert_int_equal(snap->nseries, 0);
        hk_snapshot_unref(snap);
        inst_close(&in);
    }
    assert_int_equal(log_capture_count("level="), 0);
    hk_log_setup(HK_LOG_WARN, HK_LOG_LOGFMT);
}

/* A /proc/stat far larger than the initial 16 KiB buffer (3000 CPUs) is read whole. */
static void test_stat_grows_buffer(void **state)
{
    size_t cap = 3000 * 64 + 128, o = 0;
    char *big = malloc(cap);
    assert_non_null(big);
    o += (size_t)snprintf(big + o, cap - o, "cpu  1 2 3 4 5 6 7 8 0 0\n");
    for (int i = 0; i < 3000; i++)
        o += (size_t)snprintf(big + o, cap - o, "cpu%d %d 0 1 2 3 4 5 6 0 0\n", i, i);
    put("proc/stat", big);
    free(big);
    struct inst in;
    inst_open(&in, "cpu", NULL);
    uint64_t soft;
    struct hk_snapshot *snap = cycle(&in, &soft);
    assert_int_equal(soft, 0);
    assert_int_equal(count_family(snap, "node_cpu_seconds_total"), 3000 * 8);
    double hz = (double)sysconf(_SC_CLK_TCK);
    assert_true(value_of(snap, "node_cpu_seconds_total", "cpu", "2999", "mode", "user") ==
                2999 / hz);
    hk_snapshot_unref(snap);
    inst_close(&in);
}

static void test_node_buf_cap(void **state)
{
    char content[5000];
    memset(content, 'x', sizeof(content) - 1);
    content[sizeof(content) - 1] = '\0';
    put("big", content);
    int dirfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct hk_node_buf b;
    hk_node_buf_init(&b, 100, 4096);
    assert_int_equal(hk_node_buf_read(&b, dirfd, "big"), -EFBIG);
    hk_node_buf_free(&b);
    hk_node_buf_init(&b, 100, 8192);
    assert_int_equal(hk_node_buf_read(&b, dirfd, "big"), 4999);
    assert_int_equal(b.cap, 6400); /* 100 doubled until it fits */
    assert_int_equal(hk_node_buf_read(&b, dirfd, "missing"), -ENOENT);
    hk_node_buf_free(&b);
    close(dirfd);
}

static void test_meminfo_values(void **state)
{
    put("proc/meminfo", "MemTotal:       24683620 kB\n"
                        "Active(anon):       1568 kB\n"
                        "HugePages_Total:       3\n"
                        "VmallocTotal:   18446744073709551615 kB\n");
    struct inst in;
    inst_open(&in, "meminfo", NULL);
    struct hk_snapshot *snap = cycle(&in, NULL);
    assert_int_equal(snap->nseries, 4);
    assert_true(value_of(snap, "node_memory_MemTotal_bytes", NULL, NULL, NULL, NULL) ==
                24683620.0 * 1024);
    assert_true(value_of(snap, "node_memory_Active_anon_bytes", NULL, NULL, NULL, NULL) ==
                1568.0 * 1024);
    assert_true(value_of(snap, "node_memory_HugePages_Total", NULL, NULL, NULL, NULL) == 3);
    /* u64-max kB must not wrap: ~1.9e22 */
    assert_true(value_of(snap, "node_memory_VmallocTotal_bytes", NULL, NULL, NULL, NULL) > 1.8e22);
    hk_snapshot_unref(snap);
    inst_close(&in);
}

static void test_pressure_values(void **state)
{
    put("proc/pressure/cpu", "some avg10=1.00 avg60=0.50 avg300=0.10 total=39406790\n"
                             "full avg10=0.00 avg60=0.00 avg300=0.00 total=7\n");
    put("proc/pressure/memory", "some avg10=0.00 avg60=0.00 avg300=0.00 total=1500000\n"
                                "full avg10=0.00 avg60=0.00 avg300=0.00 total=500000\n");
    put("proc/pressure/io", "broken\n");
    struct inst in;
    inst_open(&in, "pressure", NULL);
    hk_log_setup(HK_LOG_ERROR, HK_LOG_LOGFMT);
    uint64_t soft;
    struct hk_snapshot *snap = cycle(&in, &soft);
    assert_int_equal(soft, 1); /* io counted; cpu and memory still reported */
    assert_int_equal(snap->nseries, 3);
    assert_true(value_of(snap, "node_pressure_cpu_waiting_seconds_total", NULL, NULL, NULL, NULL) ==
                39.40679);
    assert_true(value_of(snap, "node_pressure_memory_waiting_seconds_total", NULL, NULL, NULL,
                         NULL) == 1.5);
    assert_true(value_of(snap, "node_pressure_memory_stalled_seconds_total", NULL, NULL, NULL,
                         NULL) == 0.5);
    hk_snapshot_unref(snap);
    inst_close(&in);
    hk_log_setup(HK_LOG_WARN, HK_LOG_LOGFMT);
}

static const char netdev_file[] =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n"
    "    lo:   19535      89    0    0    0     0          0         0    19535      89    0    0"
    "    0     0       0          0\n"
    "  eth0: 86670972    2546    1    2    3     4          5         6    99984    1338    7    8"
    "    9    10       11          12\n";

static void test_netdev_values_and_exclude(void **state)
{
    put("proc/net/dev", netdev_file);
    struct inst in;
    inst_open(&in, "netdev", NULL);
    struct hk_snapshot *snap = cycle(&in, NULL);
    assert_int_equal(snap->nseries, 2 * 16);
    assert_true(value_of(snap, "node_network_receive_bytes_total", "device", "eth0", NULL, NULL) ==
                86670972);
    assert_true(
        value_of(snap, "node_network_receive_multicast_total", "device", "eth0", NULL, NULL) == 6);
    assert_true(value_of(snap, "node_network_transmit_colls_total", "device", "eth0", NULL, NULL) ==
                10);
    assert_true(value_of(snap, "node_network_transmit_compressed_total", "device", "eth0", NULL,
                         NULL) == 12);
    assert_true(value_of(snap, "node_network_receive_packets_total", "device", "lo", NULL, NULL) ==
                89);
    hk_snapshot_unref(snap);
    inst_close(&in);

    inst_open(&in, "netdev", "device_exclude: '^lo$'\n");
    snap = cycle(&in, NULL);
    assert_int_equal(snap->nseries, 16);
    assert_int_equal(count_family(snap, "node_network_receive_bytes_total"), 1);
    hk_snapshot_unref(snap);
    inst_close(&in);
}

static void test_bad_options(void **state)
{
    static const struct {
        const char *collector, *yaml;
    } cases[] = {
        {"netdev", "device_exclude: '(unclosed'\n"}, {"netdev", "device_exlude: 'x'\n"},
        {"diskstats", "device_exclude: [a]\n"},      {"filesystem", "statfs_timeout: 0s\n"},
        {"filesystem", "fs_types_exclude: '*'\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct hk_collector_ops *ops = hk_collector_find(cases[i].collector);
        struct hk_yaml_node *opts = NULL;
        struct hk_error err = {{0}};
        assert_int_equal(
            hk_yaml_parse_string("test.yml", cases[i].yaml, strlen(cases[i].yaml), &opts, &err), 0);
        struct hk_collector_env env = {NULL, NULL, opts, &err};
        assert_int_equal(ops->check(&env), -EINVAL);
        /* the message names the position in the file */
        assert_non_null(strstr(err.msg, "test.yml:1:"));
        hk_yaml_free(opts);
    }
}

static void test_diskstats_values_and_filter(void **state)
{
    put("proc/diskstats",
        "   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
        " 254       0 vda 33289 6924 2382514 10800 12202 7551 1584360 4012 3 7372 16564 6154 17 "
        "190704 1004 1761 746\n"
        " 254       1 vda1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n"
        " 259       0 nvme0n1 1 2 3 4 5 6 7 8 9 10 11\n"
        " 259       1 nvme0n1p1 1 2 3 4 5 6 7 8 9 10 11\n"
        " 253       0 dm-0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n");
    struct inst in;
    inst_open(&in, "diskstats", NULL);
    struct hk_snapshot *snap = cycle(&in, NULL);
    /* loop0, vda1 and nvme0n1p1 excluded by node_exporter's default pattern */
    assert_int_equal(count_family(snap, "node_disk_reads_completed_total"), 3);
    assert_int_equal(snap->nseries, 17 + 11 + 15);
    assert_true(value_of(snap, "node_disk_read_bytes_total", "device", "vda", NULL, NULL) ==
                2382514.0 * 512);
    assert_true(value_of(snap, "node_disk_written_bytes_total", "device", "vda", NULL, NULL) ==
                1584360.0 * 512);
    assert_true(value_of(snap, "node_disk_read_time_seconds_total", "device", "vda", NULL, NULL) ==
                10.8);
    assert_true(value_of(snap, "node_disk_io_now", "device", "vda", NULL, NULL) == 3);
    assert_true(value_of(snap, "node_disk_io_time_weighted_seconds_total", "device", "vda", NULL,
                         NULL) == 16.564);
    assert_true(value_of(snap, "node_disk_discarded_sectors_total", "device", "vda", NULL, NULL) ==
                190704);
    assert_true(value_of(snap, "node_disk_flush_requests_time_seconds_total", "device", "vda", NULL,
                         NULL) == 0.746);
    assert_int_equal(count_family(snap, "node_disk_flush_requests_total"), 1);
    assert_int_equal(count_family(snap, "node_disk_discards_completed_total"), 2);
    hk_snapshot_unref(snap);
    inst_close(&in);
}

static void test_filesystem(void **state)
{
    char mi[2048];
    /* "/" is the temporary root itself; /data and "/with space" are directories in it (same
     * filesystem); /gone does not exist; /proc and the cgroup mount are filtered out;
     * /data appears twice (mounted over): reported once, with the top mount's labels. */
    snprintf(mi, sizeof(mi),
             "26 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
             "21 26 0:20 / /proc rw,relatime - proc proc rw\n"
             "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
             "40 26 0:40 / /data rw,relatime - tmpfs first rw\n"
             "41 26 0:41 / /data ro,relatime - tmpfs second rw\n"
             "42 26 0:42 / /with\\040space rw,relatime - xfs /dev/sdb1 rw\n"
             "43 26 0:43 / /gone rw,relatime - nfs4 server:/export rw\n"
             "44 26 0:44 / /var/lib/docker/overlay2/x/merged rw - ext4 /dev/vda rw\n");
    put("proc/1/mountinfo", mi);
    put("data/.keep", "");
    put("with space/.keep", "");
    struct inst in;
    inst_open(&in, "filesystem", NULL);
    uint64_t soft;
    struct hk_snapshot *snap = cycle(&in, &soft);
    assert_int_equal(soft, 0);
    struct statfs st;
    assert_int_equal(statfs(root, &st), 0);
    double size = (double)st.f_blocks * (double)st.f_bsize;
    assert_true(value_of(snap, "node_filesystem_size_bytes", "mountpoint", "/", NULL, NULL) ==
                size);
    assert_true(value_of(snap, "node_filesystem_files", "mountpoint", "/", NULL, NULL) ==
                (double)st.f_files);
    assert_true(value_of(snap, "node_filesystem_size_bytes", "mountpoint", "/with space", "device",
                         "/dev/sdb1") == size);
    assert_true(
        value_of(snap, "node_filesystem_readonly", "mountpoint", "/data", "device", "second") == 1);
    assert_true(value_of(snap, "node_filesystem_readonly", "mountpoint", "/", NULL, NULL) == 0);
    assert_true(value_of(snap, "node_filesystem_device_error", "mountpoint", "/gone", "fstype",
                         "nfs4") == 1);
    assert_true(value_of(snap, "node_filesystem_device_error", "mountpoint", "/", NULL, NULL) == 0);
    /* /, /data, /with space have 7 families; /gone only device_error */
    assert_int_equal(count_family(snap, "node_filesystem_device_error"), 4);
    assert_int_equal(count_family(snap, "node_filesystem_size_bytes"), 3);
    assert_int_equal(snap->nseries, 3 * 7 + 1);
    hk_snapshot_unref(snap);
    inst_close(&in);

    /* self/mountinfo when 1/ is absent; options narrow the set */
    rm_rf(root);
    assert_int_equal(mkdir(root, 0700), 0);
    put("proc/self/mountinfo", mi);
    put("data/.keep", "");
    inst_open(&in, "filesystem",
              "fs_types_exclude: '^(proc|cgroup|nfs4|xfs|ext4)$'\n"
              "mount_points_exclude: ''\nstatfs_timeout: 2s\n");
    snap = cycle(&in, &soft);
    assert_int_equal(soft, 0);
    assert_int_equal(snap->nseries, 7); /* only /data (tmpfs) */
    hk_snapshot_unref(snap);
    inst_close(&in);
}

/* A statfs that blocks (a dead NFS server) until the test releases it. */
static pthread_mutex_t hang_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hang_cond = PTHREAD_COND_INITIALIZER;
static bool hang_release;
static int hang_calls;

static int hanging_statfs(int root_fd, const char *path, struct statfs *st)
{
    if (strcmp(path, "slow") == 0) {
        pthread_mutex_lock(&hang_lock);
        hang_calls++;
        while (!hang_release)
            pthread_cond_wait(&hang_cond, &hang_lock);
        pthread_mutex_unlock(&hang_lock);
    }
    return hk_filesystem_statfs_in_root(root_fd, path, st);
}

static int slow_calls(void)
{
    pthread_mutex_lock(&hang_lock);
    int n = hang_calls;
    pthread_mutex_unlock(&hang_lock);
    return n;
}

static void test_filesystem_hanging_statfs(void **state)
{
    /* /after follows the blocked mount in the same batch: it must still be reported */
    put("proc/1/mountinfo", "26 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
                            "50 26 0:50 / /slow rw,relatime - nfs4 server:/export rw\n"
                            "51 26 0:51 / /after rw,relatime - tmpfs tmpfs rw\n");
    put("slow/.keep", "");
    put("after/.keep", "");
    hk_filesystem_statfs = hanging_statfs;
    struct inst in;
    /* long enough that "/" never times out on a loaded machine; paid once, by the first cycle */
    inst_open(&in, "filesystem", "statfs_timeout: 1s\n");
    hk_log_setup(HK_LOG_INFO, HK_LOG_LOGFMT);
    log_capture_start();
    /* The cycle returns although the statfs of /slow never does: /slow is an error, / is fine. */
    struct hk_snapshot *snap = cycle(&in, NULL);
    assert_true(value_of(snap, "node_filesystem_device_error", "mountpoint", "/slow", NULL, NULL) ==
                1);
    assert_true(value_of(snap, "node_filesystem_device_error", "mountpoint", "/", NULL, NULL) == 0);
    assert_true(
        value_of(snap, "node_filesystem_device_error", "mountpoint", "/after", NULL, NULL) == 0);
    assert_int_equal(count_family(snap, "node_filesystem_size_bytes"), 2);
    hk_snapshot_unref(snap);
    /* While stuck, /slow is not queried again (no pile of blocked threads). */
    for (int i = 0; i < 3; i++) {
        snap = cycle(&in, NULL);
        assert_true(
            value_of(snap, "node_filesystem_device_error", "mountpoint", "/slow", NULL, NULL) == 1);
        assert_int_equal(count_family(snap, "node_filesystem_size_bytes"), 2);
        hk_snapshot_unref(snap);
    }
    assert_int_equal(slow_calls(), 1);
    /* The server comes back: once the blocked call returns, /slow is reported again. */
    pthread_mutex_lock(&hang_lock);
    hang_release = true;
    pthread_cond_broadcast(&hang_cond);
    pthread_mutex_unlock(&hang_lock);
    bool recovered = false;
    for (int i = 0; i < 500 && !recovered; i++) {
        snap = cycle(&in, NULL);
        recovered =
            value_of(snap, "node_filesystem_device_error", "mountpoint", "/slow", NULL, NULL) == 0;
        if (recovered)
            assert_int_equal(count_family(snap, "node_filesystem_size_bytes"), 3);
        hk_snapshot_unref(snap);
        if (!recovered)
            usleep(10000);
    }
    assert_true(recovered);
    assert_int_equal(slow_calls(), 2);
    assert_int_equal(log_capture_count("statfs timed out"), 1);
    inst_close(&in);
    hk_filesystem_statfs = hk_filesystem_statfs_in_root;
    hk_log_setup(HK_LOG_WARN, HK_LOG_LOGFMT);
}

static void test_machine(void **state)
{
    put("proc/cpuinfo", "processor\t: 0\nphysical id\t: 0\ncore id\t\t: 0\n\n"
                        "processor\t: 1\nphysical id\t: 0\ncore id\t\t: 1\n\n"
                        "processor\t: 2\nphysical id\t: 0\ncore id\t\t: 0\n\n"
                        "processor\t: 3\nphysical id\t: 0\ncore id\t\t: 1\n");
    put("proc/meminfo", "MemTotal:       24683620 kB\nSwapTotal:       1024 kB\n");
    put("proc/sys/kernel/random/boot_id", "59aff553-ffad-4654-964c-68b22fcd0102\n");
    put("var/lib/dbus/machine-id", "3d1219c7c4c5404aaa1f6d2a48adfda4\n");
    struct inst in;
    inst_open(&in, "machine", NULL);
    struct hk_snapshot *snap = cycle(&in, NULL);
    assert_int_equal(snap->nseries, 5);
    /* no sysfs: logical CPUs from cpuinfo */
    assert_true(value_of(snap, "machine_cpu_cores", "machine_id",
                         "3d1219c7c4c5404aaa1f6d2a48adfda4", "boot_id",
                         "59aff553-ffad-4654-964c-68b22fcd0102") == 4);
    assert_true(value_of(snap, "machine_cpu_physical_cores", "system_uuid", "", NULL, NULL) == 2);
    assert_true(value_of(snap, "machine_cpu_sockets", NULL, NULL, NULL, NULL) == 1);
    assert_true(value_of(snap, "machine_memory_bytes", NULL, NULL, NULL, NULL) ==
                24683620.0 * 1024);
    assert_true(value_of(snap, "machine_swap_bytes", NULL, NULL, NULL, NULL) == 1024.0 * 1024);
    hk_snapshot_unref(snap);
    /* sysfs present: cpuN entries win (cpufreq/cpuidle are not CPUs) */
    put("sys/devices/system/cpu/cpu0/online", "1\n");
    put("sys/devices/system/cpu/cpu1/online", "1\n");
    put("sys/devices/system/cpu/cpufreq/x", "");
    put("sys/class/dmi/id/product_uuid", "ec2a1b2c-0000-1111-2222-333344445555\n");
    inst_close(&in);
    inst_open(&in, "machine", NULL);
    snap = cycle(&in, NULL);
    assert_true(value_of(snap, "machine_cpu_cores", "system_uuid",
                         "ec2a1b2c-0000-1111-2222-333344445555", NULL, NULL) == 2);
    hk_snapshot_unref(snap);

    /* cpuinfo is cached: a change is seen when the CPU count in sysfs changes … */
    put("proc/cpuinfo", "processor\t: 0\nphysical id\t: 0\ncore id\t\t: 0\n\n"
                        "processor\t: 1\nphysical id\t: 1\ncore id\t\t: 0\n\n"
                        "processor\t: 2\nphysical id\t: 2\ncore id\t\t: 0\n");
    snap = cycle(&in, NULL);
    assert_true(value_of(snap, "machine_cpu_sockets", NULL, NULL, NULL, NULL) == 1);
    hk_snapshot_unref(snap);
    put("sys/devices/system/cpu/cpu2/online", "1\n");
    snap = cycle(&in, NULL);
    assert_true(value_of(snap, "machine_cpu_cores", NULL, NULL, NULL, NULL) == 3);
    assert_true(value_of(snap, "machine_cpu_sockets", NULL, NULL, NULL, NULL) == 3);
    hk_snapshot_unref(snap);
    /* … or after five minutes, with the identity labels */
    put("proc/cpuinfo", "processor\t: 0\nphysical id\t: 0\ncore id\t\t: 0\n");
    put("proc/sys/kernel/random/boot_id", "00000000-1111-2222-3333-444444444444\n");
    cycle_now_ms = 4 * 60 * 1000;
    snap = cycle(&in, NULL);
    assert_true(value_of(snap, "machine_cpu_sockets", "boot_id",
                         "59aff553-ffad-4654-964c-68b22fcd0102", NULL, NULL) == 3);
    hk_snapshot_unref(snap);
    cycle_now_ms = 5 * 60 * 1000;
    snap = cycle(&in, NULL);
    assert_true(value_of(snap, "machine_cpu_sockets", "boot_id",
                         "00000000-1111-2222-3333-444444444444", NULL, NULL) == 1);
    hk_snapshot_unref(snap);
    cycle_now_ms = 0;
    inst_close(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cpu_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_logged_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_files_quiet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stat_grows_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_buf_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meminfo_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pressure_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_netdev_values_and_exclude, setup, teardown),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test_setup_teardown(test_diskstats_values_and_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filesystem, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filesystem_hanging_statfs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_machine, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
