/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the cgroup collector's parsers (collector/cgroup_internal.h): kernel file formats
 * as cgroup v1/v2 print them (cpu.stat, memory.stat, io.stat, blkio, pressure, cpu.max,
 * net/dev, mountinfo), the kubelet's cgroup path layouts, and the runtimes' JSON records; then
 * empty, truncated and garbage inputs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collector/cgroup_internal.h"
#include "collector/containers.h"
#include "core/collector.h"
#include "core/config.h"
#include "core/fsread.h"
#include "core/parse.h"
#include "core/snapshot.h"
#include "core/yaml.h"

#define S(lit) (lit), (sizeof(lit) - 1)

static void test_keyed_cpu_stat_v2(void **state)
{
    static const char cpu_stat[] = "usage_usec 161108000\nuser_usec 78756000\n"
                                   "system_usec 82352000\ncore_sched.force_idle_usec 0\n"
                                   "nr_periods 1200\nnr_throttled 31\nthrottled_usec 77500\n"
                                   "nr_bursts 0\nburst_usec 0\n";
    static const char *const keys[] = {"usage_usec", "user_usec",    "system_usec",
                                       "nr_periods", "nr_throttled", "throttled_usec"};
    uint64_t v[6] = {0}, found;
    assert_int_equal(hk_cg_parse_keyed(S(cpu_stat), keys, 6, v, &found), 0);
    assert_int_equal(found, 0x3f);
    assert_int_equal(v[0], 161108000);
    assert_int_equal(v[2], 82352000);
    assert_int_equal(v[3], 1200);
    assert_int_equal(v[4], 31);
    assert_int_equal(v[5], 77500);
    /* Root cgroup: no cfs keys. */
    assert_int_equal(
        hk_cg_parse_keyed(S("usage_usec 5\nuser_usec 3\nsystem_usec 2\n"), keys, 6, v, &found), 0);
    assert_int_equal(found, 0x7);
}

static void test_keyed_memory_stat(void **state)
{
    /* v1 memory.stat: plain and total_ keys must not be confused. */
    static const char v1[] = "cache 4096\nrss 8192\nmapped_file 0\npgfault 10\npgmajfault 1\n"
                             "inactive_file 100\nhierarchical_memory_limit 9223372036854771712\n"
                             "total_cache 40960\ntotal_rss 81920\ntotal_inactive_file 1000\n";
    static const char *const keys[] = {"total_rss", "total_cache", "total_inactive_file", "pgfault",
                                       "rss"};
    uint64_t v[5] = {0}, found;
    hk_cg_parse_keyed(S(v1), keys, 5, v, &found);
    assert_int_equal(found, 0x1f);
    assert_int_equal(v[0], 81920);
    assert_int_equal(v[1], 40960);
    assert_int_equal(v[2], 1000);
    assert_int_equal(v[3], 10);
    assert_int_equal(v[4], 8192);
    /* v2 keys, garbage lines and a value that does not parse are skipped. */
    static const char v2[] = "anon 123\nfile x\n\ngarbage\nfile_mapped 7\nanon_thp 99\n";
    static const char *const k2[] = {"anon", "file", "file_mapped"};
    uint64_t w[3] = {0}, f2;
    hk_cg_parse_keyed(S(v2), k2, 3, w, &f2);
    assert_int_equal(f2, 0x5);
    assert_int_equal(w[0], 123);
    assert_int_equal(w[2], 7);
    assert_int_equal(hk_cg_parse_keyed(S(""), k2, 3, w, &f2), 0);
    assert_int_equal(f2, 0);
    assert_int_equal(hk_cg_parse_keyed(S(""), k2, 65, w, &f2), -EINVAL);
}

/* The keyed parsers convert numbers themselves (no strtoull): every token must come out as
 * core/parse.c's hk_parse_u64 reads it, found or not found alike; keys match whole, at any
 * length, after blanks or tabs, first line wins. */
static void test_keyed_numbers_as_parse_u64(void **state)
{
    static const char *const toks[] = {"0",
                                       "7",
                                       "18446744073709551615",
                                       "18446744073709551616",
                                       "99999999999999999999999",
                                       "0000000000000000000000000000012",
                                       "00000000000000000000000000000012",
                                       "12x",
                                       "x12",
                                       "-1",
                                       "+5",
                                       "1.5",
                                       "18446744073709551616x",
                                       "4294967296"};
    for (size_t i = 0; i < sizeof(toks) / sizeof(toks[0]); i++) {
        char buf[128];
        int n = snprintf(buf, sizeof(buf), "other 1\nkey %s\nkey 3\n", toks[i]);
        static const char *const keys[] = {"key"};
        uint64_t v = 42, want = 42, found;
        int r = hk_parse_u64(toks[i], strlen(toks[i]), &want);
        assert_int_equal(hk_cg_parse_keyed(buf, (size_t)n, keys, 1, &v, &found), 0);
        /* A token that does not parse leaves the key to a later line ("key 3"). */
        assert_int_equal(found, 1);
        assert_int_equal(v, r == 0 ? want : 3);
        bool mx;
        uint64_t one = 42;
        int rv = hk_cg_parse_value(toks[i], strlen(toks[i]), &one, &mx);
        assert_int_equal(rv == 0, r == 0 || strcmp(toks[i], "-1") == 0);
        if (r == 0)
            assert_int_equal(one, want);
    }
    static const char odd[] = "\t a_key_longer_than_thirty_two_bytes_for_sure\t5\n"
                              "anon 1\nanon 2\nano 3\nanonx 4\n \n\nfile\t\t9";
    static const char *const keys[] = {"a_key_longer_than_thirty_two_bytes_for_sure",
                                       "a_key_longer_than_thirty_two_bytes_for_surf", "anon",
                                       "file", "absent"};
    uint64_t v[5] = {0}, found;
    assert_int_equal(hk_cg_parse_keyed(S(odd), keys, 5, v, &found), 0);
    assert_int_equal(found, 0xd);
    assert_int_equal(v[0], 5);
    assert_int_equal(v[2], 1);
    assert_int_equal(v[3], 9);
}

static void test_value(void **state)
{
    uint64_t v;
    bool mx;
    assert_int_equal(hk_cg_parse_value(S("268435456\n"), &v, &mx), 0);
    assert_int_equal(v, 268435456);
    assert_false(mx);
    assert_int_equal(hk_cg_parse_value(S("max\n"), &v, &mx), 0);
    assert_true(mx);
    assert_int_equal(hk_cg_parse_value(S("-1\n"), &v, &mx), 0); /* v1 cfs_quota_us */
    assert_true(mx);
    assert_int_equal(hk_cg_parse_value(S("9223372036854771712\n"), &v, &mx), 0);
    assert_false(mx);
    assert_int_equal(hk_cg_parse_value(S(""), &v, &mx), -EINVAL);
    assert_int_equal(hk_cg_parse_value(S("12x\n"), &v, &mx), -EINVAL);
    assert_int_equal(hk_cg_parse_value(S("99999999999999999999999\n"), &v, &mx), -EINVAL);
}

static void test_cpu_max(void **state)
{
    uint64_t q, p;
    assert_int_equal(hk_cg_parse_cpu_max(S("max 100000\n"), &q, &p), 0);
    assert_int_equal(q, 0);
    assert_int_equal(p, 100000);
    assert_int_equal(hk_cg_parse_cpu_max(S("50000 100000\n"), &q, &p), 0);
    assert_int_equal(q, 50000);
    assert_int_equal(hk_cg_parse_cpu_max(S("max\n"), &q, &p), -EINVAL);
    assert_int_equal(hk_cg_parse_cpu_max(S("x 100000\n"), &q, &p), -EINVAL);
    assert_int_equal(hk_cg_parse_cpu_max(S(""), &q, &p), -EINVAL);
}

static void test_pressure(void **state)
{
    struct hk_cg_psi psi;
    assert_int_equal(
        hk_cg_parse_pressure(S("some avg10=0.00 avg60=0.00 avg300=0.02 total=4630104\n"
                               "full avg10=0.00 avg60=0.00 avg300=0.01 total=3896700\n"),
                             &psi),
        0);
    assert_int_equal(psi.some_total_us, 4630104);
    assert_int_equal(psi.full_total_us, 3896700);
    /* Old kernels: cpu.pressure has no "full" line. */
    assert_int_equal(hk_cg_parse_pressure(S("some avg10=1.00 avg60=0 avg300=0 total=12\n"), &psi),
                     0);
    assert_int_equal(psi.some_total_us, 12);
    assert_int_equal(psi.full_total_us, 0);
    assert_int_equal(hk_cg_parse_pressure(S(""), &psi), -EINVAL);
    assert_int_equal(hk_cg_parse_pressure(S("some avg10=0.00\n"), &psi), -EINVAL);
}

static void test_io_stat(void **state)
{
    struct hk_cg_blkdev d[HK_CG_MAX_BLKDEVS];
    static const char io[] =
        "259:0 rbytes=458752 wbytes=253952 rios=112 wios=62 dbytes=0 dios=0\n"
        "8:0 rbytes=8192 wbytes=0 rios=2 wios=0 dbytes=0 dios=0 cost.vrate=100.00 "
        "cost.usage=12 cost.wait=0 cost.indebt=0 cost.indelay=0\n"
        "garbage line\n";
    assert_int_equal(hk_cg_parse_io_stat(S(io), d, HK_CG_MAX_BLKDEVS), 2);
    assert_int_equal(d[0].major, 259);
    assert_int_equal(d[0].minor, 0);
    assert_int_equal(d[0].read_bytes, 458752);
    assert_int_equal(d[0].write_bytes, 253952);
    assert_int_equal(d[0].reads, 112);
    assert_int_equal(d[0].writes, 62);
    assert_int_equal(d[1].major, 8);
    assert_int_equal(d[1].reads, 2);
    assert_false(d[1].has_v1_ops);
    assert_int_equal(hk_cg_parse_io_stat(S(io), d, 1), 1); /* capped */
    assert_int_equal(hk_cg_parse_io_stat(S(""), d, HK_CG_MAX_BLKDEVS), 0);
}

static void test_blkio(void **state)
{
    struct hk_cg_blkdev d[HK_CG_MAX_BLKDEVS];
    size_t n = 0;
    static const char bytes[] = "259:0 Read 413696\n259:0 Write 208896\n259:0 Sync 208896\n"
                                "259:0 Async 413696\n259:0 Discard 0\n259:0 Total 622592\n"
                                "8:16 Read 4096\n8:16 Total 4096\nTotal 626688\n";
    static const char ios[] = "259:0 Read 101\n259:0 Write 51\n259:0 Total 152\nTotal 152\n";
    hk_cg_parse_blkio(S(bytes), true, d, &n, HK_CG_MAX_BLKDEVS);
    hk_cg_parse_blkio(S(ios), false, d, &n, HK_CG_MAX_BLKDEVS);
    assert_int_equal(n, 2);
    assert_int_equal(d[0].read_bytes, 413696);
    assert_int_equal(d[0].write_bytes, 208896);
    assert_int_equal(d[0].async_bytes, 413696);
    assert_int_equal(d[0].total_bytes, 622592);
    assert_int_equal(d[0].reads, 101);
    assert_int_equal(d[0].writes, 51);
    assert_true(d[0].has_v1_ops);
    assert_int_equal(d[1].major, 8);
    assert_int_equal(d[1].minor, 16);
    assert_int_equal(d[1].read_bytes, 4096);
    /* A host without throttled I/O prints only the total. */
    n = 0;
    hk_cg_parse_blkio(S("Total 0\n"), true, d, &n, HK_CG_MAX_BLKDEVS);
    assert_int_equal(n, 0);
}

static void test_net_dev(void **state)
{
    static const char dev[] =
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
        "errs drop fifo colls carrier compressed\n"
        "    lo: 7789341875 4160193    0    0    0     0          0         0 7789341875 "
        "4160193    0    0    0     0       0          0\n"
        "  eth0: 86670972   2546    1    2    0     0          0         0    99984    1338    "
        "3    4    0     0       0          0\n"
        "veth1a2b3c: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
        "Docker0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
        "  net1: 1 2 3\n";
    struct hk_cg_netdev d[HK_CG_MAX_NETDEVS];
    assert_int_equal(hk_cg_parse_net_dev(S(dev), d, HK_CG_MAX_NETDEVS), 1);
    assert_string_equal(d[0].name, "eth0");
    assert_int_equal(d[0].rx_bytes, 86670972);
    assert_int_equal(d[0].rx_packets, 2546);
    assert_int_equal(d[0].rx_errors, 1);
    assert_int_equal(d[0].rx_dropped, 2);
    assert_int_equal(d[0].tx_bytes, 99984);
    assert_int_equal(d[0].tx_packets, 1338);
    assert_int_equal(d[0].tx_errors, 3);
    assert_int_equal(d[0].tx_dropped, 4);
    assert_true(hk_cg_netdev_skipped("nerdctl0"));
    assert_false(hk_cg_netdev_skipped("cni0"));
}

static void test_misc(void **state)
{
    char name[32];
    assert_int_equal(
        hk_cg_parse_uevent_devname(S("MAJOR=259\nMINOR=0\nDEVNAME=nvme0n1\n"), name, sizeof(name)),
        0);
    assert_string_equal(name, "nvme0n1");
    assert_int_equal(hk_cg_parse_uevent_devname(S("MAJOR=8\n"), name, sizeof(name)), -EINVAL);
    struct hk_cg_meminfo mi;
    assert_int_equal(hk_cg_parse_meminfo(S("MemTotal:       16331228 kB\nMemFree: 1 kB\n"
                                           "SwapTotal:       2097148 kB\n"
                                           "SwapFree:        2096124 kB\n"),
                                         &mi),
                     0);
    assert_int_equal(mi.mem_total, 16331228ULL * 1024);
    assert_int_equal(mi.swap_total - mi.swap_free, 1024ULL * 1024);
    uint32_t first;
    assert_int_equal(hk_cg_count_procs(S("1010\n1011\n1511\n"), &first), 3);
    assert_int_equal(first, 1010);
    assert_int_equal(hk_cg_count_procs(S(""), &first), 0);
    assert_int_equal(first, 0);
}

static void test_mountinfo(void **state)
{
    struct hk_cg_mounts m;
    static const char hybrid[] =
        "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
        "32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
        "33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
        "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        "37 30 0:34 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
        "38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
        "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
        "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
    assert_int_equal(hk_cgroupfs_parse_mounts(S(hybrid), &m), 6);
    assert_string_equal(m.v1[HK_CG_CPU], "/sys/fs/cgroup/cpu");
    assert_string_equal(m.v1[HK_CG_CPUACCT], "/sys/fs/cgroup/cpuacct");
    assert_string_equal(m.v1[HK_CG_MEMORY], "/sys/fs/cgroup/memory");
    assert_string_equal(m.v1[HK_CG_PIDS], "/sys/fs/cgroup/pids");
    assert_string_equal(m.v2, "/sys/fs/cgroup/unified");
    /* Co-mounted controllers, optional fields, octal escapes. */
    static const char comount[] =
        "27 24 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:12 master:3 - cgroup cgroup "
        "rw,cpu,cpuacct\n"
        "28 24 0:27 / /host\\040root/sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
    assert_int_equal(hk_cgroupfs_parse_mounts(S(comount), &m), 2);
    assert_string_equal(m.v1[HK_CG_CPU], "/sys/fs/cgroup/cpu,cpuacct");
    assert_string_equal(m.v1[HK_CG_CPUACCT], "/sys/fs/cgroup/cpu,cpuacct");
    assert_string_equal(m.v1[HK_CG_MEMORY], "/host root/sys/fs/cgroup/memory");
    assert_string_equal(m.v2, "");
    static const char v2[] = "24 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime "
                             "shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";
    assert_int_equal(hk_cgroupfs_parse_mounts(S(v2), &m), 1);
    assert_string_equal(m.v2, "/sys/fs/cgroup");
    assert_int_equal(hk_cgroupfs_parse_mounts(S("garbage\n1 2 3\n"), &m), 0);
    assert_int_equal(hk_cgroupfs_parse_mounts(S(""), &m), 0);
}

#define ID64 "4cfc8596883c222c82e5cbbc16c3e8eade034b688ea2d7cf365f16d6e2df1181"

static void test_path_layouts(void **state)
{
    struct hk_kube_path p;
    hk_kube_parse_path("/", &p);
    assert_int_equal(p.kind, HK_KUBE_ROOT);
    hk_kube_parse_path("/kubepods.slice", &p);
    assert_int_equal(p.kind, HK_KUBE_KUBEPODS);
    hk_kube_parse_path("/kubepods/burstable", &p);
    assert_int_equal(p.kind, HK_KUBE_QOS);
    assert_int_equal(p.qos, HK_QOS_BURSTABLE);
    hk_kube_parse_path("/kubepods.slice/kubepods-besteffort.slice", &p);
    assert_int_equal(p.kind, HK_KUBE_QOS);
    assert_int_equal(p.qos, HK_QOS_BESTEFFORT);
    /* systemd driver: uid with underscores. */
    hk_kube_parse_path("/kubepods.slice/kubepods-burstable.slice/"
                       "kubepods-burstable-pod286d6465_07c7_3735_9972_1570c1a41de5.slice",
                       &p);
    assert_int_equal(p.kind, HK_KUBE_POD);
    assert_int_equal(p.qos, HK_QOS_BURSTABLE);
    assert_string_equal(p.pod_uid, "286d6465-07c7-3735-9972-1570c1a41de5");
    hk_kube_parse_path(
        "/kubepods.slice/kubepods-pod62d00c3d_b41b.slice/cri-containerd-" ID64 ".scope", &p);
    assert_int_equal(p.kind, HK_KUBE_CONTAINER);
    assert_int_equal(p.qos, HK_QOS_GUARANTEED);
    assert_int_equal(p.runtime, HK_RT_CONTAINERD);
    assert_string_equal(p.container_id, ID64);
    assert_string_equal(p.pod_uid, "62d00c3d-b41b");
    /* cgroupfs driver with docker / CRI-O leaves. */
    hk_kube_parse_path("/kubepods/besteffort/poda3097717-2544-9353-38db-bc3cfd47f1bf/" ID64, &p);
    assert_int_equal(p.kind, HK_KUBE_CONTAINER);
    assert_int_equal(p.qos, HK_QOS_BESTEFFORT);
    assert_int_equal(p.runtime, HK_RT_UNKNOWN);
    assert_string_equal(p.pod_uid, "a3097717-2544-9353-38db-bc3cfd47f1bf");
    hk_kube_parse_path("/kubepods/pod1234/crio-" ID64, &p);
    assert_int_equal(p.kind, HK_KUBE_CONTAINER);
    assert_int_equal(p.runtime, HK_RT_CRIO);
    hk_kube_parse_path("/kubepods.slice/kubepods-pod1234.slice/crio-" ID64 ".scope", &p);
    assert_int_equal(p.runtime, HK_RT_CRIO);
    /* conmon is a raw cgroup, as are cgroups nested in a container. */
    hk_kube_parse_path("/kubepods.slice/kubepods-pod1234.slice/crio-conmon-" ID64 ".scope", &p);
    assert_int_equal(p.kind, HK_KUBE_OTHER);
    assert_string_equal(p.pod_uid, "");
    hk_kube_parse_path("/kubepods/pod1234/" ID64 "/nested", &p);
    assert_int_equal(p.kind, HK_KUBE_OTHER);
    /* --cgroup-root prefix. */
    hk_kube_parse_path("/custom/kubepods/burstable/pod99", &p);
    assert_int_equal(p.kind, HK_KUBE_POD);
    assert_string_equal(p.pod_uid, "99");
    /* Plain docker under an extra root; unrelated cgroups. */
    hk_kube_parse_path("/system.slice/docker-" ID64 ".scope", &p);
    assert_int_equal(p.kind, HK_KUBE_CONTAINER);
    assert_int_equal(p.runtime, HK_RT_DOCKER);
    assert_string_equal(p.pod_uid, "");
    hk_kube_parse_path("/system.slice/containerd.service", &p);
    assert_int_equal(p.kind, HK_KUBE_OTHER);
    hk_kube_parse_path("/kubepods/notapod", &p);
    assert_int_equal(p.kind, HK_KUBE_OTHER);
    hk_kube_parse_path("/kubepods/pod", &p);
    assert_int_equal(p.kind, HK_KUBE_OTHER);
    assert_false(hk_kube_is_container_id(ID64 "0", 65));
    assert_false(hk_kube_is_container_id(
        "4CFC8596883c222c82e5cbbc16c3e8eade034b688ea2d7cf365f16d6e2df1181", 64));
}

static void test_containerd_oci(void **state)
{
    static const char sandbox[] = "{\"ociVersion\":\"1.1.0\",\"annotations\":{"
                                  "\"io.kubernetes.cri.container-type\":\"sandbox\","
                                  "\"io.kubernetes.cri.sandbox-id\":\"" ID64 "\","
                                  "\"io.kubernetes.cri.sandbox-name\":\"web-0\","
                                  "\"io.kubernetes.cri.sandbox-namespace\":\"shop\","
                                  "\"io.kubernetes.cri.sandbox-uid\":\"62d00c3d-b41b\"}}";
    struct hk_kube_meta m = {0};
    assert_int_equal(
        hk_kube_parse_containerd_oci(S(sandbox), ID64, "registry.k8s.io/pause:3.9", &m), 0);
    assert_true(m.sandbox);
    assert_string_equal(m.container, "");
    assert_string_equal(m.image, "registry.k8s.io/pause:3.9");
    assert_string_equal(m.name, ID64);
    assert_string_equal(m.pod, "web-0");
    assert_string_equal(m.namespace_, "shop");
    assert_string_equal(m.pod_uid, "62d00c3d-b41b");
    hk_kube_meta_clear(&m);
    static const char ctr[] =
        "{\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\","
        "\"io.kubernetes.cri.container-name\":\"nginx\","
        "\"io.kubernetes.cri.image-name\":\"docker.io/library/nginx:1.25\","
        "\"io.kubernetes.cri.sandbox-name\":\"web-0\","
        "\"io.kubernetes.cri.sandbox-namespace\":\"shop\"}}";
    assert_int_equal(hk_kube_parse_containerd_oci(S(ctr), "abc", "", &m), 0);
    assert_false(m.sandbox);
    assert_string_equal(m.container, "nginx");
    assert_string_equal(m.image, "docker.io/library/nginx:1.25");
    assert_string_equal(m.pod_uid, ""); /* older containerd: no sandbox-uid */
    hk_kube_meta_clear(&m);
    assert_int_equal(hk_kube_parse_containerd_oci(S("{\"annotations\":{}}"), "x", "", &m), -EINVAL);
    assert_int_equal(hk_kube_parse_containerd_oci(S("{\"annot"), "x", "", &m), -EINVAL);
    assert_int_equal(hk_kube_parse_containerd_oci(S("[]"), "x", "", &m), -EINVAL);
}

static void test_crio_oci(void **state)
{
    static const char sandbox[] =
        "{\"annotations\":{\"io.kubernetes.cri-o.ContainerType\":\"sandbox\","
        "\"io.kubernetes.cri-o.ContainerName\":\"k8s_POD_web-0_shop_u1_0\","
        "\"io.kubernetes.cri-o.ImageName\":\"registry.k8s.io/pause:3.9\","
        "\"io.kubernetes.cri-o.Labels\":\"{\\\"io.kubernetes.pod.name\\\":\\\"web-0\\\","
        "\\\"io.kubernetes.pod.namespace\\\":\\\"shop\\\","
        "\\\"io.kubernetes.container.name\\\":\\\"POD\\\"}\"}}";
    struct hk_kube_meta m = {0};
    assert_int_equal(hk_kube_parse_crio_oci(S(sandbox), &m), 0);
    assert_true(m.sandbox);
    assert_string_equal(m.container, "POD");
    assert_string_equal(m.name, "k8s_POD_web-0_shop_u1_0");
    assert_string_equal(m.pod, "web-0");
    assert_string_equal(m.namespace_, "shop");
    assert_string_equal(m.image, "registry.k8s.io/pause:3.9");
    hk_kube_meta_clear(&m);
    static const char ctr[] =
        "{\"annotations\":{\"io.kubernetes.cri-o.ContainerType\":\"container\","
        "\"io.kubernetes.container.name\":\"api\","
        "\"io.kubernetes.pod.name\":\"api-1\","
        "\"io.kubernetes.pod.namespace\":\"shop\","
        "\"io.kubernetes.cri-o.Name\":\"k8s_api_api-1_shop_u2_3\","
        "\"io.kubernetes.cri-o.Labels\":\"not json\"}}";
    assert_int_equal(hk_kube_parse_crio_oci(S(ctr), &m), 0);
    assert_false(m.sandbox);
    assert_string_equal(m.container, "api");
    assert_string_equal(m.name, "k8s_api_api-1_shop_u2_3");
    assert_string_equal(m.image, "");
    hk_kube_meta_clear(&m);
    assert_int_equal(hk_kube_parse_crio_oci(S("{}"), &m), -EINVAL);
}

static void test_docker(void **state)
{
    static const char cfg[] =
        "{\"ID\":\"" ID64 "\",\"Name\":\"/k8s_POD_web-0_shop_u1_0\","
        "\"Config\":{\"Image\":\"registry.k8s.io/pause:3.9\",\"Labels\":{"
        "\"io.kubernetes.container.name\":\"POD\",\"io.kubernetes.pod.name\":\"web-0\","
        "\"io.kubernetes.pod.namespace\":\"shop\",\"io.kubernetes.docker.type\":\"podsandbox\"}},"
        "\"State\":{\"Running\":true,\"Pid\":4242}}";
    struct hk_kube_meta m = {0};
    assert_int_equal(hk_kube_parse_docker(S(cfg), &m), 0);
    assert_true(m.sandbox);
    assert_int_equal(m.pid, 4242);
    assert_string_equal(m.name, "k8s_POD_web-0_shop_u1_0");
    assert_string_equal(m.container, "POD");
    assert_string_equal(m.pod, "web-0");
    hk_kube_meta_clear(&m);
    /* Plain docker container: no Kubernetes labels. */
    assert_int_equal(
        hk_kube_parse_docker(S("{\"Name\":\"/redis\",\"Config\":{\"Image\":\"redis:7\","
                               "\"Labels\":null},\"State\":{\"Pid\":0}}"),
                             &m),
        0);
    assert_false(m.sandbox);
    assert_string_equal(m.name, "redis");
    assert_string_equal(m.image, "redis:7");
    assert_string_equal(m.pod, "");
    assert_int_equal(m.pid, 0);
    hk_kube_meta_clear(&m);
    assert_int_equal(hk_kube_parse_docker(S("{\"Name\":\"/x\"}"), &m), -EINVAL);
}

static void test_sandbox_image(void **state)
{
    char img[128];
    assert_int_equal(
        hk_kube_parse_sandbox_image(S("version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\n"
                                      "  sandbox_image = \"registry.k8s.io/pause:3.8\"\n"),
                                    img, sizeof(img)),
        0);
    assert_string_equal(img, "registry.k8s.io/pause:3.8");
    assert_int_equal(hk_kube_parse_sandbox_image(
                         S("version = 3\n[plugins.'io.containerd.cri.v1.images'.pinned_images]\n"
                           "  sandbox = 'registry.k8s.io/pause:3.10'\n"),
                         img, sizeof(img)),
                     0);
    assert_string_equal(img, "registry.k8s.io/pause:3.10");
    assert_int_equal(hk_kube_parse_sandbox_image(S("sandboxes = 3\n"), img, sizeof(img)), -ENOENT);
    assert_int_equal(
        hk_kube_parse_sandbox_image(S("sandbox_image = \"unterminated\n"), img, sizeof(img)),
        -ENOENT);
}

struct seen_pods {
    int n;
    char names[4][64];
    size_t ncontainers[4];
    char first_id[4][65];
    char first_name[4][64];
    char owner[4][64];
};

static void on_pod(const char *uid, const char *name, const char *ns,
                   const struct hk_kubelet_owner *owner, const struct hk_kubelet_container *cs, size_t n, void *ud)
{
    struct seen_pods *sp = ud;
    if (sp->n >= 4)
        return;
    snprintf(sp->names[sp->n], sizeof(sp->names[0]), "%s/%s/%s", ns, name, uid);
    sp->ncontainers[sp->n] = n;
    snprintf(sp->owner[sp->n], sizeof(sp->owner[0]), "%s/%s", owner->kind ? owner->kind : "-",
             owner->name ? owner->name : "-");
    if (n) {
        snprintf(sp->first_id[sp->n], sizeof(sp->first_id[0]), "%s", cs[0].id);
        snprintf(sp->first_name[sp->n], sizeof(sp->first_name[0]), "%s|%s", cs[0].name,
                 cs[0].image ? cs[0].image : "");
    }
    sp->n++;
}

static void test_kubelet_pods(void **state)
{
    static const char pods[] =
        "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{},\"items\":["
        "{\"metadata\":{\"name\":\"web-0\",\"namespace\":\"shop\",\"uid\":\"u-1\","
        "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"cm\"},"
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"name\":\"web\","
        "\"uid\":\"s-1\",\"controller\":true,\"blockOwnerDeletion\":true}]},"
        "\"status\":{\"qosClass\":\"Guaranteed\",\"containerStatuses\":[{\"name\":\"nginx\","
        "\"image\":\"docker.io/library/nginx:1.25\",\"containerID\":\"containerd://" ID64 "\"},"
        "{\"name\":\"waiting\",\"image\":\"x\"}],"
        "\"initContainerStatuses\":[{\"name\":\"init\",\"image\":\"busybox\","
        "\"containerID\":\"cri-o://" ID64 "\"}]}},"
        "{\"metadata\":{\"name\":\"pending\",\"namespace\":\"jobs\",\"uid\":\"u-2\"},"
        "\"status\":{\"phase\":\"Pending\"}},"
        "{\"metadata\":{\"name\":\"no-uid\"}}]}";
    struct seen_pods sp;
    memset(&sp, 0, sizeof(sp));
    assert_int_equal(hk_kubelet_parse_pods(S(pods), on_pod, &sp), 2);
    assert_int_equal(sp.n, 2);
    assert_string_equal(sp.names[0], "shop/web-0/u-1");
    assert_string_equal(sp.owner[0], "StatefulSet/web"); /* the controller, not the first */
    assert_string_equal(sp.owner[1], "-/-");
    assert_int_equal(sp.ncontainers[0], 2); /* the one without an id is skipped */
    assert_string_equal(sp.first_id[0], ID64);
    assert_string_equal(sp.first_name[0], "nginx|docker.io/library/nginx:1.25");
    assert_string_equal(sp.names[1], "jobs/pending/u-2");
    assert_int_equal(sp.ncontainers[1], 0);
    assert_int_equal(hk_kubelet_parse_pods(S("{\"items\":{}}"), on_pod, &sp), -EINVAL);
    assert_int_equal(hk_kubelet_parse_pods(S("not json"), on_pod, &sp), -EINVAL);
}

static int kube_cfg(const char *yaml, struct hk_kubelet_config *ret, struct hk_error *err)
{
    struct hk_yaml_node *root = NULL;
    assert_int_equal(hk_yaml_parse_string("cfg.yml", yaml, strlen(yaml), &root, err), 0);
    struct hk_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.kubernetes = hk_yaml_get(root, "kubernetes");
    int r = hk_kubelet_config_parse(&cfg, ret, err);
    hk_yaml_free(root);
    return r;
}

static void test_kubelet_config(void **state)
{
    struct hk_kubelet_config c;
    struct hk_error err;
    assert_int_equal(kube_cfg("kubernetes:\n  kubelet_url: https://10.0.0.7:10250/\n"
                              "  bearer_token_file: /var/run/token\n  ca_file: /ca.crt\n"
                              "  refresh_interval: 30s\n",
                              &c, &err),
                     0);
    assert_string_equal(c.url, "https://10.0.0.7:10250");
    assert_string_equal(c.bearer_token_file, "/var/run/token");
    assert_int_equal(c.refresh_ms, 30000);
    assert_int_equal(c.timeout_ms, 5000);
    hk_kubelet_config_free(&c);
    assert_int_equal(kube_cfg("global: {}\n", &c, &err), 0); /* no section: off */
    assert_null(c.url);
    hk_kubelet_config_free(&c);
    assert_int_equal(kube_cfg("kubernetes:\n  kubelet_url: ftp://x\n", &c, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "cfg.yml:2:"));
    assert_int_equal(kube_cfg("kubernetes:\n  kubelet: https://x\n", &c, &err), -EINVAL);
    assert_int_equal(kube_cfg("kubernetes:\n  ca_file: /x\n", &c, &err), -EINVAL);
    assert_int_equal(
        kube_cfg("kubernetes:\n  kubelet_url: https://x\n  refresh_interval: 10ms\n", &c, &err),
        -EINVAL);
}

extern const struct hk_collector_ops hk_collector_cgroup;

/* One cycle on the committed fixture publishes the container index the eBPF collector uses:
 * nested cgroups roll up to their container, unknown paths to "/". */
static void test_container_index(void **state)
{
    struct hk_paths paths;
    assert_int_equal(hk_paths_open(&paths, "tests/fixtures/v2-systemd-containerd", NULL, NULL), 0);
    struct hk_error err = {""};
    struct hk_collector_env env = {&paths, NULL, NULL, &err};
    void *st = NULL;
    assert_int_equal(hk_collector_cgroup.init(&st, &env), 0);
    struct hk_limits limits = {0, 0, 0};
    struct hk_builder *b = hk_builder_new(&limits);
    struct hk_collect_ctx ctx = {b, &paths, 1700000000000, 0};
    hk_builder_begin(b, "cgroup");
    assert_int_equal(hk_collector_cgroup.collect(st, &ctx), 0);
    assert_int_equal(ctx.soft_errors, 0);
    hk_builder_commit(b);
    struct hk_snapshot *snap = hk_builder_seal(b, 0, NULL);
    assert_non_null(snap);
    assert_non_null(hk_snapshot_find_family(snap, "container_cpu_usage_seconds_total"));
    assert_non_null(hk_snapshot_find_family(snap, "container_network_address_info"));
    assert_non_null(hk_snapshot_find_family(snap, "container_pod_workload_info"));
    hk_snapshot_unref(snap);

    struct hk_containers *t = hk_containers_acquire();
    assert_non_null(t);
    assert_int_equal(hk_containers_count(t),
                     14); /* /, kubepods, 2 QoS, 3 pods, 3 sandboxes, 4 apps */
    const struct hk_container_entry *e = hk_containers_lookup(
        t, "/kubepods.slice/kubepods-pod62d00c3d_b41b_67ce_3daf_f83232502e4c.slice/"
           "cri-containerd-" ID64 ".scope/nested/deeper");
    assert_non_null(e);
    assert_string_equal(e->container, "nginx");
    assert_string_equal(e->pod, "web-0");
    assert_string_equal(e->namespace_, "shop");
    assert_string_equal(e->image, "docker.io/library/nginx:1.25");
    e = hk_containers_lookup(
        t, "/kubepods.slice/kubepods-pod62d00c3d_b41b_67ce_3daf_f83232502e4c.slice");
    assert_non_null(e);
    assert_string_equal(e->container, "");
    assert_string_equal(e->pod, "web-0");
    e = hk_containers_lookup(t, "/system.slice/sshd.service");
    assert_non_null(e);
    assert_string_equal(e->path, "/");
    hk_containers_unref(t);
    hk_containers_reset();
    hk_collector_cgroup.fini(st);
    hk_paths_close(&paths);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyed_cpu_stat_v2),
        cmocka_unit_test(test_keyed_memory_stat),
        cmocka_unit_test(test_keyed_numbers_as_parse_u64),
        cmocka_unit_test(test_value),
        cmocka_unit_test(test_cpu_max),
        cmocka_unit_test(test_pressure),
        cmocka_unit_test(test_io_stat),
        cmocka_unit_test(test_blkio),
        cmocka_unit_test(test_net_dev),
        cmocka_unit_test(test_misc),
        cmocka_unit_test(test_mountinfo),
        cmocka_unit_test(test_path_layouts),
        cmocka_unit_test(test_containerd_oci),
        cmocka_unit_test(test_crio_oci),
        cmocka_unit_test(test_docker),
        cmocka_unit_test(test_sandbox_image),
        cmocka_unit_test(test_kubelet_pods),
        cmocka_unit_test(test_kubelet_config),
        cmocka_unit_test(test_container_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
