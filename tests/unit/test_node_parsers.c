/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the node collectors' procfs parsers (collector/node_parsers.h): real files from
 * the node-basic fixture (copied from a Debian 12 VM), then empty, truncated, huge, incomplete
 * and garbage inputs. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit_files.h"
#define read_fixture hk_test_read_fixture

#include "collector/node_parsers.h"
#include "core/fsread.h"

#define FIXTURE "tests/fixtures/node-basic/"


#define S(lit) (lit), (sizeof(lit) - 1)

/* ---- /proc/stat ---- */

struct cpus {
    unsigned n;
    char ids[8][8];
    struct hk_stat_cpu cpu[8];
};

static int collect_cpu(const struct hk_stat_cpu *cpu, void *userdata)
{
    struct cpus *c = userdata;
    if (c->n < 8) {
        memcpy(c->ids[c->n], cpu->id, cpu->id_len);
        c->ids[c->n][cpu->id_len] = '\0';
        c->cpu[c->n] = *cpu;
    }
    c->n++;
    return 0;
}

static const char stat_real[] =
    "cpu  7885 0 8102 122345 440 0 158 0 0 0\n"
    "cpu0 3380 0 3690 62308 19 0 68 0 0 0\n"
    "cpu1 4505 0 4412 60036 421 0 90 0 0 0\n"
    "intr 194891 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 1 8 0 0\n"
    "ctxt 363115\n"
    "btime 1795802817\n"
    "processes 9838\n"
    "procs_running 4\n"
    "procs_blocked 0\n"
    "softirq 155280 0 21631 4 2378 42616 0 4 41718 0 46929\n";

static void test_stat_real(void **state)
{
    struct cpus c = {0};
    struct hk_stat_misc m;
    assert_int_equal(hk_stat_parse(S(stat_real), collect_cpu, &c, &m), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.ids[0], "0");
    assert_string_equal(c.ids[1], "1");
    assert_int_equal(c.cpu[0].nfields, 10);
    assert_int_equal(c.cpu[0].ticks[HK_CPU_USER], 3380);
    assert_int_equal(c.cpu[0].ticks[HK_CPU_SYSTEM], 3690);
    assert_int_equal(c.cpu[1].ticks[HK_CPU_IDLE], 60036);
    assert_int_equal(c.cpu[1].ticks[HK_CPU_IOWAIT], 421);
    assert_int_equal(c.cpu[1].ticks[HK_CPU_SOFTIRQ], 90);
    assert_int_equal(m.have, HK_STAT_HAVE_BTIME | HK_STAT_HAVE_CTXT | HK_STAT_HAVE_PROCESSES |
                                 HK_STAT_HAVE_INTR | HK_STAT_HAVE_RUNNING | HK_STAT_HAVE_BLOCKED);
    assert_int_equal(m.intr, 194891);
    assert_int_equal(m.ctxt, 363115);
    assert_int_equal(m.btime, 1795802817);
    assert_int_equal(m.processes, 9838);
    assert_int_equal(m.procs_running, 4);
    assert_int_equal(m.procs_blocked, 0);
}

static void test_stat_fixture(void **state)
{
    size_t len;
    char *buf = read_fixture(FIXTURE "proc/stat", &len);
    struct cpus c = {0};
    struct hk_stat_misc m;
    assert_int_equal(hk_stat_parse(buf, len, collect_cpu, &c, &m), 0);
    assert_int_equal(c.n, 2);
    assert_true(m.have & HK_STAT_HAVE_BTIME);
    /* validation pass without a callback agrees */
    assert_int_equal(hk_stat_parse(buf, len, NULL, NULL, NULL), 0);
    free(buf);
}

static void test_stat_empty(void **state)
{
    struct hk_stat_misc m;
    assert_int_equal(hk_stat_parse("", 0, NULL, NULL, &m), -EINVAL);
    assert_int_equal(hk_stat_parse(S("\n\n"), NULL, NULL, &m), -EINVAL);
}

static void test_stat_truncated(void **state)
{
    /* cut in the middle of cpu0's line: only three numbers left */
    assert_int_equal(hk_stat_parse(S("cpu  7885 0 8102 122345 440 0 158 0 0 0\ncpu0 3380 0 36"),
                                   NULL, NULL, NULL),
                     -EINVAL);
    /* cut in the middle of the aggregate line: no per-CPU line at all */
    assert_int_equal(hk_stat_parse(S("cpu  7885 0 81"), NULL, NULL, NULL), -EINVAL);
    /* cut right after "ctxt": key without value */
    assert_int_equal(hk_stat_parse(S("cpu0 1 2 3 4\nctxt"), NULL, NULL, NULL), -EINVAL);
}

static void test_stat_huge(void **state)
{
    struct cpus c = {0};
    struct hk_stat_misc m;
    assert_int_equal(hk_stat_parse(S("cpu0 18446744073709551615 0 0 0\n"
                                     "ctxt 18446744073709551615\n"),
                                   collect_cpu, &c, &m),
                     0);
    assert_true(c.cpu[0].ticks[HK_CPU_USER] == UINT64_MAX);
    assert_true(m.ctxt == UINT64_MAX);
    assert_int_equal(hk_stat_parse(S("cpu0 18446744073709551616 0 0 0\n"), NULL, NULL, NULL),
                     -ERANGE);
    /* a huge CPU number is not an index into anything: 9 digits max */
    assert_int_equal(hk_stat_parse(S("cpu1234567890 1 2 3 4\n"), NULL, NULL, NULL), -EINVAL);
}

static void test_stat_missing_fields(void **state)
{
    struct cpus c = {0};
    struct hk_stat_misc m;
    /* a 2.6.10-era line: four fields; no btime/intr lines */
    assert_int_equal(hk_stat_parse(S("cpu0 1 2 3 4\n"), collect_cpu, &c, &m), 0);
    assert_int_equal(c.cpu[0].nfields, 4);
    assert_int_equal(m.have, 0);
    assert_int_equal(hk_stat_parse(S("cpu0 1 2 3\n"), NULL, NULL, NULL), -EINVAL);
    /* more fields than known (a future kernel): extra ones ignored */
    c.n = 0;
    assert_int_equal(hk_stat_parse(S("cpu0 1 2 3 4 5 6 7 8 9 10 11 12\n"), collect_cpu, &c, &m), 0);
    assert_int_equal(c.cpu[0].nfields, 10);
    assert_int_equal(c.cpu[0].ticks[HK_CPU_GUEST_NICE], 10);
}

static void test_stat_garbage(void **state)
{
    assert_int_equal(hk_stat_parse(S("cpu0 a b c d\n"), NULL, NULL, NULL), -EINVAL);
    assert_int_equal(hk_stat_parse(S("cpuX 1 2 3 4\n"), NULL, NULL, NULL), -EINVAL);
    assert_int_equal(hk_stat_parse(S("cpu0 1 2 3 4\nbtime -5\n"), NULL, NULL, NULL), -EINVAL);
    assert_int_equal(hk_stat_parse(S("\x01\x02\xff\xfe garbage\n"), NULL, NULL, NULL), -EINVAL);
    /* unknown lines are fine */
    assert_int_equal(hk_stat_parse(S("cpu0 1 2 3 4\nnewthing x y z\n"), NULL, NULL, NULL), 0);
}

static int stop_at_second(const struct hk_stat_cpu *cpu, void *userdata)
{
    unsigned *n = userdata;
    return ++*n == 2 ? -ECANCELED : 0;
}

static void test_stat_callback_error(void **state)
{
    unsigned n = 0;
    assert_int_equal(hk_stat_parse(S(stat_real), stop_at_second, &n, NULL), -ECANCELED);
    assert_int_equal(n, 2);
}

/* ---- /proc/meminfo ---- */

struct memfields {
    unsigned n;
    char names[128][128];
    uint64_t values[128];
    bool kb[128];
};

static int collect_mem(const char *key, size_t key_len, uint64_t value, bool has_kb, void *userdata)
{
    struct memfields *f = userdata;
    if (f->n < 128) {
        assert_true(hk_meminfo_metric_name(key, key_len, has_kb, f->names[f->n], 128) > 0);
        f->values[f->n] = value;
        f->kb[f->n] = has_kb;
    }
    f->n++;
    return 0;
}

static int find_mem(const struct memfields *f, const char *name)
{
    for (unsigned i = 0; i < f->n && i < 128; i++)
        if (strcmp(f->names[i], name) == 0)
            return (int)i;
    return -1;
}

static void test_meminfo_fixture(void **state)
{
    size_t len;
    char *buf = read_fixture(FIXTURE "proc/meminfo", &len);
    struct memfields *f = calloc(1, sizeof(*f));
    assert_int_equal(hk_meminfo_parse(buf, len, collect_mem, f), 0);
    /* one callback per line */
    unsigned lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    assert_int_equal(f->n, lines);
    int i = find_mem(f, "node_memory_MemTotal_bytes");
    assert_true(i >= 0 && f->kb[i] && f->values[i] > 0);
    assert_true(find_mem(f, "node_memory_Active_anon_bytes") >= 0);
    assert_true(find_mem(f, "node_memory_Inactive_file_bytes") >= 0);
    i = find_mem(f, "node_memory_HugePages_Total");
    assert_true(i >= 0 && !f->kb[i]);
    assert_true(find_mem(f, "node_memory_HugePages_Total_bytes") < 0);
    free(f);
    free(buf);
}

static void test_meminfo_values(void **state)
{
    struct memfields *f = calloc(1, sizeof(*f));
    assert_int_equal(hk_meminfo_parse(S("MemTotal:       24683620 kB\n"
                                        "Active(anon):       1568 kB\n"
                                        "HugePages_Total:       0\n"
                                        "VmallocTotal:   18446744073709551615 kB\n"),
                                      collect_mem, f),
                     0);
    assert_int_equal(f->n, 4);
    assert_string_equal(f->names[0], "node_memory_MemTotal_bytes");
    assert_int_equal(f->values[0], 24683620);
    assert_string_equal(f->names[1], "node_memory_Active_anon_bytes");
    assert_string_equal(f->names[2], "node_memory_HugePages_Total");
    assert_string_equal(f->names[3], "node_memory_VmallocTotal_bytes");
    assert_true(f->values[3] == UINT64_MAX);
    free(f);
}

static void test_meminfo_bad(void **state)
{
    assert_int_equal(hk_meminfo_parse("", 0, NULL, NULL), -EINVAL);
    /* truncated: value cut off, unit cut ("k") */
    assert_int_equal(hk_meminfo_parse(S("MemTotal:       24683620 kB\nMemFree:"), NULL, NULL),
                     -EINVAL);
    assert_int_equal(hk_meminfo_parse(S("MemTotal:       24683620 k"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_meminfo_parse(S("MemTotal 24683620 kB\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_meminfo_parse(S("MemTotal: 18446744073709551616 kB\n"), NULL, NULL),
                     -ERANGE);
    assert_int_equal(hk_meminfo_parse(S("MemTotal: abc kB\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_meminfo_parse(S("Mem Total: 1 kB\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_meminfo_parse(S("Mem\"{}: 1 kB\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_meminfo_parse(S(": 1 kB\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_meminfo_parse(S("MemTotal: 1 kB extra\n"), NULL, NULL), -EINVAL);
    char name[16];
    assert_int_equal(hk_meminfo_metric_name(S("VeryLongFieldName"), true, name, sizeof(name)),
                     -ENOSPC);
}

/* ---- /proc/pressure ---- */

static void test_pressure(void **state)
{
    size_t len;
    char *buf = read_fixture(FIXTURE "proc/pressure/io", &len);
    struct hk_pressure p;
    assert_int_equal(hk_pressure_parse(buf, len, &p), 0);
    assert_true(p.have_some && p.have_full);
    free(buf);

    assert_int_equal(
        hk_pressure_parse(S("some avg10=67.89 avg60=37.65 avg300=10.39 total=39406790\n"
                            "full avg10=0.00 avg60=0.00 avg300=0.00 total=18446744073709551615\n"),
                          &p),
        0);
    assert_int_equal(p.some_total_us, 39406790);
    assert_true(p.full_total_us == UINT64_MAX);
    /* a pre-5.13 cpu file has only "some" */
    assert_int_equal(hk_pressure_parse(S("some avg10=0.00 avg60=0.00 avg300=0.00 total=12\n"), &p),
                     0);
    assert_true(p.have_some && !p.have_full);

    assert_int_equal(hk_pressure_parse("", 0, &p), -EINVAL);
    assert_int_equal(hk_pressure_parse(S("some avg10=0.00 avg60=0.00 avg3"), &p), -EINVAL);
    assert_int_equal(hk_pressure_parse(S("some avg10=0.00 avg60=0.00 avg300=0.00 total="), &p),
                     -EINVAL);
    assert_int_equal(hk_pressure_parse(S("some avg10=0.00 avg60=0.00 avg300=0.00\n"), &p), -EINVAL);
    assert_int_equal(hk_pressure_parse(S("some total=18446744073709551616\n"), &p), -ERANGE);
    assert_int_equal(hk_pressure_parse(S("half total=1\n"), &p), -EINVAL);
    assert_int_equal(hk_pressure_parse(S("some total=x\n"), &p), -EINVAL);
    assert_int_equal(hk_pressure_parse(S("some avg10=zz total=1\n"), &p), -EINVAL);
}

/* ---- /proc/net/dev ---- */

struct devs {
    unsigned n;
    char names[8][16];
    uint64_t v[8][HK_NETDEV_NFIELDS];
};

static int collect_dev(const char *device, size_t device_len,
                       const uint64_t values[HK_NETDEV_NFIELDS], void *userdata)
{
    struct devs *d = userdata;
    if (d->n < 8) {
        memcpy(d->names[d->n], device, device_len);
        d->names[d->n][device_len] = '\0';
        memcpy(d->v[d->n], values, sizeof(d->v[0]));
    }
    d->n++;
    return 0;
}

static const char netdev_header[] =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n";

static void test_netdev(void **state)
{
    size_t len;
    char *buf = read_fixture(FIXTURE "proc/net/dev", &len);
    struct devs d = {0};
    assert_int_equal(hk_netdev_parse(buf, len, collect_dev, &d), 0);
    assert_int_equal(d.n, 4);
    assert_string_equal(d.names[0], "lo");
    assert_string_equal(d.names[3], "eth0");
    free(buf);

    char in[1024];
    snprintf(in, sizeof(in), "%s%s", netdev_header,
             "  eth0:86670972    2546    1    2    3     4          5         6    99984    1338"
             "    7    8    9    10       11          12\n"
             "veth1:18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
    memset(&d, 0, sizeof(d));
    assert_int_equal(hk_netdev_parse(in, strlen(in), collect_dev, &d), 0);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.v[0][HK_NETDEV_RX_BYTES], 86670972);
    assert_int_equal(d.v[0][HK_NETDEV_RX_ERRS], 1);
    assert_int_equal(d.v[0][HK_NETDEV_RX_MULTICAST], 6);
    assert_int_equal(d.v[0][HK_NETDEV_TX_BYTES], 99984);
    assert_int_equal(d.v[0][HK_NETDEV_TX_COLLS], 10);
    assert_int_equal(d.v[0][HK_NETDEV_TX_COMPRESSED], 12);
    /* name glued to a 20-digit counter, as the kernel prints it */
    assert_string_equal(d.names[1], "veth1");
    assert_true(d.v[1][HK_NETDEV_RX_BYTES] == UINT64_MAX);

    /* headers only (no interfaces) and empty file: nothing, no error */
    memset(&d, 0, sizeof(d));
    assert_int_equal(hk_netdev_parse(S(netdev_header), collect_dev, &d), 0);
    assert_int_equal(hk_netdev_parse("", 0, collect_dev, &d), 0);
    assert_int_equal(d.n, 0);
    /* truncated mid-line, missing fields, too many, garbage, overflow */
    assert_int_equal(hk_netdev_parse(S("  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13"), NULL, NULL),
                     -EINVAL);
    assert_int_equal(
        hk_netdev_parse(S("  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n"), NULL, NULL),
        -EINVAL);
    assert_int_equal(
        hk_netdev_parse(S("  eth0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_netdev_parse(S("  : 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"), NULL, NULL),
                     -EINVAL);
    assert_int_equal(
        hk_netdev_parse(S("  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 x\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_netdev_parse(S("eth0: 18446744073709551616 2 3 4 5 6 7 8 9 10 11 12 13 "
                                       "14 15 16\n"),
                                     NULL, NULL),
                     -ERANGE);
}

/* ---- /proc/diskstats ---- */

struct disks {
    unsigned n;
    char names[16][32];
    struct hk_diskstat d[16];
};

static int collect_disk(const struct hk_diskstat *disk, void *userdata)
{
    struct disks *d = userdata;
    if (d->n < 16) {
        memcpy(d->names[d->n], disk->name, disk->name_len);
        d->names[d->n][disk->name_len] = '\0';
        d->d[d->n] = *disk;
    }
    d->n++;
    return 0;
}

static void test_diskstats(void **state)
{
    size_t len;
    char *buf = read_fixture(FIXTURE "proc/diskstats", &len);
    struct disks *d = calloc(1, sizeof(*d));
    assert_int_equal(hk_diskstats_parse(buf, len, collect_disk, d), 0);
    assert_int_equal(d->n, 10); /* loop0-7, vda, zram0 */
    assert_string_equal(d->names[8], "vda");
    assert_int_equal(d->d[8].major, 254);
    assert_int_equal(d->d[8].nfields, HK_DISK_NFIELDS);
    free(buf);

    memset(d, 0, sizeof(*d));
    assert_int_equal(
        hk_diskstats_parse(
            S(" 254       0 vda 33289 6924 2382514 10800 12202 7551 1584360 4012 0 7372 16564 "
              "6154 17 190704 1004 1761 746\n"
              "   8       1 sda1 18446744073709551615 2 3 4 5 6 7 8 9 10 11\n"
              "   8       2 sda2 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n"),
            collect_disk, d),
        0);
    assert_int_equal(d->n, 3);
    assert_int_equal(d->d[0].v[HK_DISK_READS], 33289);
    assert_int_equal(d->d[0].v[HK_DISK_SECTORS_READ], 2382514);
    assert_int_equal(d->d[0].v[HK_DISK_IO_WEIGHTED_MS], 16564);
    assert_int_equal(d->d[0].v[HK_DISK_SECTORS_DISCARDED], 190704);
    assert_int_equal(d->d[0].v[HK_DISK_FLUSH_MS], 746);
    /* pre-4.18 line: 11 fields; 4.18–5.4: 15 */
    assert_int_equal(d->d[1].nfields, 11);
    assert_true(d->d[1].v[HK_DISK_READS] == UINT64_MAX);
    assert_int_equal(d->d[2].nfields, 15);

    assert_int_equal(hk_diskstats_parse("", 0, NULL, NULL), 0); /* no block devices */
    assert_int_equal(hk_diskstats_parse(S(" 254 0 vda 33289 6924 2382514 10800 12"), NULL, NULL),
                     -EINVAL); /* truncated: 5 fields */
    assert_int_equal(hk_diskstats_parse(S(" 254 0\n"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_diskstats_parse(S(" 254 0 vda 1 2 3 4 5 6 7 8 9 10 x\n"), NULL, NULL),
                     -EINVAL);
    assert_int_equal(hk_diskstats_parse(S(" x 0 vda 1 2 3 4 5 6 7 8 9 10 11\n"), NULL, NULL),
                     -EINVAL);
    assert_int_equal(
        hk_diskstats_parse(S(" 99999999999 0 vda 1 2 3 4 5 6 7 8 9 10 11\n"), NULL, NULL), -ERANGE);
    assert_int_equal(
        hk_diskstats_parse(S(" 8 0 sda 18446744073709551616 2 3 4 5 6 7 8 9 10 11\n"), NULL, NULL),
        -ERANGE);
    free(d);
}

/* ---- mountinfo ---- */

struct mounts {
    unsigned n;
    char mp[8][128], fs[8][32], src[8][64];
    bool ro[8];
};

static int collect_mount(const struct hk_mount *m, void *userdata)
{
    struct mounts *x = userdata;
    if (x->n < 8) {
        snprintf(x->mp[x->n], sizeof(x->mp[0]), "%s", m->mountpoint);
        snprintf(x->fs[x->n], sizeof(x->fs[0]), "%s", m->fstype);
        snprintf(x->src[x->n], sizeof(x->src[0]), "%s", m->source);
        x->ro[x->n] = m->readonly;
    }
    x->n++;
    return 0;
}

static const char mountinfo_real[] =
    "21 26 0:20 / /proc rw,relatime - proc proc rw\n"
    "26 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534\n"
    "27 26 0:24 / /srv/readonly ro,nosuid,nodev,relatime - tmpfs "
    "ro-src ro,size=4k,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime shared:7 master:1 - cgroup cgroup rw,cpu\n"
    "90 26 0:50 / /mnt/with\\040space\\011tab\\134back rw,relatime - tmpfs my\\040src rw\n";

static void test_mountinfo(void **state)
{
    struct mounts x = {0};
    assert_int_equal(hk_mountinfo_parse(S(mountinfo_real), collect_mount, &x), 0);
    assert_int_equal(x.n, 5);
    assert_string_equal(x.mp[1], "/");
    assert_string_equal(x.fs[1], "ext4");
    assert_string_equal(x.src[1], "/dev/vda");
    assert_false(x.ro[1]);
    assert_true(x.ro[2]); /* per-mount "ro" */
    /* optional fields (shared:7 master:1) before the separator */
    assert_string_equal(x.mp[3], "/sys/fs/cgroup/cpu");
    assert_string_equal(x.fs[3], "cgroup");
    /* octal escapes decoded */
    assert_string_equal(x.mp[4], "/mnt/with space\ttab\\back");
    assert_string_equal(x.src[4], "my src");

    assert_int_equal(hk_mountinfo_parse("", 0, NULL, NULL), 0);
    /* truncated before the separator / fstype / source */
    assert_int_equal(hk_mountinfo_parse(S("26 1 254:0 / / rw,relat"), NULL, NULL), -EINVAL);
    assert_int_equal(hk_mountinfo_parse(S("26 1 254:0 / / rw,relatime - ext4"), NULL, NULL),
                     -EINVAL);
    assert_int_equal(
        hk_mountinfo_parse(S("26 1 254:0 / / rw,relatime ext4 /dev/vda rw\n"), NULL, NULL),
        -EINVAL); /* no "-" */
    assert_int_equal(hk_mountinfo_parse(S("x 1 254:0 / / rw - ext4 /dev/vda rw\n"), NULL, NULL),
                     -EINVAL);
    assert_int_equal(hk_mountinfo_parse(S("1 1 254:0 / rel rw - ext4 /dev/vda rw\n"), NULL, NULL),
                     -EINVAL); /* mount point must be absolute */
    assert_int_equal(
        hk_mountinfo_parse(S("1 1 254:0 / /a\\09 rw - ext4 /dev/vda rw\n"), NULL, NULL),
        -EINVAL); /* bad escape */
    assert_int_equal(
        hk_mountinfo_parse(S("1 1 254:0 / /a\\04 rw - ext4 /dev/vda rw\n"), NULL, NULL),
        -EINVAL); /* escape cut short */
    assert_int_equal(hk_mountinfo_parse(S("\xff\xfe\x01\n"), NULL, NULL), -EINVAL);
    /* a 20-digit mount id overflows */
    assert_int_equal(hk_mountinfo_parse(
                         S("18446744073709551616 1 254:0 / / rw - ext4 /dev/vda rw\n"), NULL, NULL),
                     -EINVAL);

    char out[8];
    assert_int_equal(hk_mountinfo_unescape(S("/a\\040b"), out, sizeof(out)), 4);
    assert_string_equal(out, "/a b");
    assert_int_equal(hk_mountinfo_unescape(S("/abcdefgh"), out, sizeof(out)), -ENOSPC);
    assert_int_equal(hk_mountinfo_unescape(S("/\\000"), out, sizeof(out)), -EINVAL);
}

/* ---- cpuinfo ---- */

static void test_cpuinfo(void **state)
{
    struct hk_cpuinfo *ci = calloc(1, sizeof(*ci));
    size_t len;
    char *buf = read_fixture(FIXTURE "proc/cpuinfo", &len);
    assert_int_equal(hk_cpuinfo_parse(buf, len, ci), 0);
    assert_int_equal(ci->processors, 2);
    assert_int_equal(ci->physical_cores, 2);
    assert_int_equal(ci->sockets, 1);
    free(buf);

    /* 2 sockets × 2 cores × 2 threads; core ids repeat across sockets */
    static const char smt[] = "processor\t: 0\nphysical id\t: 0\ncore id\t\t: 0\n\n"
                              "processor\t: 1\nphysical id\t: 0\ncore id\t\t: 1\n\n"
                              "processor\t: 2\nphysical id\t: 1\ncore id\t\t: 0\n\n"
                              "processor\t: 3\nphysical id\t: 1\ncore id\t\t: 1\n\n"
                              "processor\t: 4\nphysical id\t: 0\ncore id\t\t: 0\n\n"
                              "processor\t: 5\nphysical id\t: 0\ncore id\t\t: 1\n\n"
                              "processor\t: 6\nphysical id\t: 1\ncore id\t\t: 0\n\n"
                              "processor\t: 7\nphysical id\t: 1\ncore id\t\t: 1\n";
    assert_int_equal(hk_cpuinfo_parse(S(smt), ci), 0);
    assert_int_equal(ci->processors, 8);
    assert_int_equal(ci->physical_cores, 4);
    assert_int_equal(ci->sockets, 2);

    /* arm64 style: no topology keys */
    assert_int_equal(hk_cpuinfo_parse(S("processor\t: 0\nBogoMIPS\t: 50.00\n\n"
                                        "processor\t: 1\nBogoMIPS\t: 50.00\n"),
                                      ci),
                     0);
    assert_int_equal(ci->processors, 2);
    assert_int_equal(ci->physical_cores, 0);
    assert_int_equal(ci->sockets, 0);

    assert_int_equal(hk_cpuinfo_parse("", 0, ci), -EINVAL);
    assert_int_equal(hk_cpuinfo_parse(S("processor\t: 0\nphysical id\t: "), ci), -EINVAL);
    assert_int_equal(hk_cpuinfo_parse(S("processor\t: x\n"), ci), -EINVAL);
    assert_int_equal(hk_cpuinfo_parse(S("processor\t: 0\ncore id\t: 99999999999\n"), ci), -EINVAL);
    assert_int_equal(hk_cpuinfo_parse(S("physical id\t: 0\n"), ci), -EINVAL);
    free(ci);
}

/* ---- robustness: every parser on mutated real files (under ASan/UBSan) ---- */

static int any_cpu(const struct hk_stat_cpu *cpu, void *userdata)
{
    assert_true(cpu->nfields >= 4 && cpu->nfields <= HK_CPU_NFIELDS && cpu->id_len > 0);
    return 0;
}
static int any_mem(const char *key, size_t key_len, uint64_t value, bool has_kb, void *userdata)
{
    assert_true(key_len > 0);
    return 0;
}
static int any_dev(const char *device, size_t device_len, const uint64_t *v, void *userdata)
{
    assert_true(device_len > 0 && device_len < 16);
    return 0;
}
static int any_disk(const struct hk_diskstat *d, void *userdata)
{
    assert_true(d->nfields >= 11 && d->nfields <= HK_DISK_NFIELDS);
    return 0;
}
static int any_mount(const struct hk_mount *m, void *userdata)
{
    assert_true(m->mountpoint[0] == '/');
    return 0;
}

/* xorshift: deterministic, so a failure reproduces */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void run_all(const char *buf, size_t len, struct hk_cpuinfo *ci)
{
    struct hk_stat_misc m;
    struct hk_pressure p;
    hk_stat_parse(buf, len, any_cpu, NULL, &m);
    hk_meminfo_parse(buf, len, any_mem, NULL);
    hk_pressure_parse(buf, len, &p);
    hk_netdev_parse(buf, len, any_dev, NULL);
    hk_diskstats_parse(buf, len, any_disk, NULL);
    hk_mountinfo_parse(buf, len, any_mount, NULL);
    hk_cpuinfo_parse(buf, len, ci);
}

static void mutate_and_parse(const char *orig, size_t len, struct hk_cpuinfo *ci)
{
    static const char alphabet[] = " \t\n:-\\0123456789()=kBcpu/";
    run_all(orig, len, ci);
    for (int round = 0; round < 2000; round++) {
        /* an exact-size heap copy, so ASan sees any read past the end */
        size_t n = rnd() % 4 == 0 ? rnd() % (len + 1) : len; /* truncation */
        char *buf = malloc(n ? n : 1);
        assert_non_null(buf);
        memcpy(buf, orig, n);
        unsigned edits = (unsigned)(rnd() % 8);
        for (unsigned e = 0; e < edits && n; e++) {
            size_t at = rnd() % n;
            buf[at] = rnd() % 2 ? alphabet[rnd() % (sizeof(alphabet) - 1)] : (char)rnd();
        }
        run_all(buf, n, ci);
        free(buf);
    }
}

static void test_mutations(void **state)
{
    static const char *const files[] = {"proc/stat",    "proc/meminfo",   "proc/pressure/io",
                                        "proc/net/dev", "proc/diskstats", "proc/cpuinfo"};
    struct hk_cpuinfo *ci = calloc(1, sizeof(*ci));
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        char path[128];
        snprintf(path, sizeof(path), FIXTURE "%s", files[f]);
        size_t len;
        char *orig = read_fixture(path, &len);
        mutate_and_parse(orig, len, ci);
        free(orig);
    }
    mutate_and_parse(S(mountinfo_real), ci);
    free(ci);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stat_real),       cmocka_unit_test(test_stat_fixture),
        cmocka_unit_test(test_stat_empty),      cmocka_unit_test(test_stat_truncated),
        cmocka_unit_test(test_stat_huge),       cmocka_unit_test(test_stat_missing_fields),
        cmocka_unit_test(test_stat_garbage),    cmocka_unit_test(test_stat_callback_error),
        cmocka_unit_test(test_meminfo_fixture), cmocka_unit_test(test_meminfo_values),
        cmocka_unit_test(test_meminfo_bad),     cmocka_unit_test(test_pressure),
        cmocka_unit_test(test_netdev),          cmocka_unit_test(test_diskstats),
        cmocka_unit_test(test_mountinfo),       cmocka_unit_test(test_cpuinfo),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
