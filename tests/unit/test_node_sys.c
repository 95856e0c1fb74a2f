/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the netclass, time, timex, uname and os collectors and their parsers: values on
 * real-shaped files in a temporary root (node_exporter's fixture values), and hostile inputs —
 * truncated, empty, huge and non-numeric attribute files, missing files, interfaces that vanish
 * between the listing and the read or are replaced under the same name, too many or badly named
 * entries, malformed os-release files. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit_files.h"

#include "collector/node_parsers.h"
#include "core/collector.h"
#include "core/config.h"
#include "core/labels.h"
#include "core/snapshot.h"
#include "core/yaml.h"

static char root[256];

#define put(rel, content) hk_test_put(root, (rel), (content))


static void sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "%s/hk-sys-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(root));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sh("rm -rf '%s'", root);
    return 0;
}

struct inst {
    const struct hk_collector_ops *ops;
    void *state;
    struct hk_paths paths;
    struct hk_yaml_node *options;
};

static void inst_open_env(struct inst *in, const char *name, const char *options_yaml,
                          const struct hk_config *config)
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
    struct hk_collector_env env = {&in->paths, config, in->options, &err};
    if (in->ops->check)
        assert_int_equal(in->ops->check(&env), 0);
    if (in->ops->init)
        assert_int_equal(in->ops->init(&in->state, &env), 0);
}

static void inst_open(struct inst *in, const char *name, const char *options_yaml)
{
    inst_open_env(in, name, options_yaml, NULL);
}

static void inst_close(struct inst *in)
{
    if (in->ops->fini)
        in->ops->fini(in->state);
    hk_paths_close(&in->paths);
    hk_yaml_free(in->options);
}

static struct hk_snapshot *cycle(struct inst *in, uint64_t *ret_soft)
{
    struct hk_limits limits = {0};
    struct hk_builder *b = hk_builder_new(&limits);
    assert_non_null(b);
    hk_builder_begin(b, in->ops->name);
    struct hk_collect_ctx ctx = {.b = b, .paths = &in->paths, .now_ms = 0};
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

static const struct hk_series *find(const struct hk_snapshot *snap, const char *name,
                                    const char *k, const char *v)
{
    const struct hk_family *f = hk_snapshot_find_family(snap, name);
    if (!f)
        return NULL;
    for (uint32_t i = f->first; i < f->first + f->count; i++) {
        const struct hk_series *s = &snap->series[i];
        const char *got = k ? hk_labels_get(s->labels, s->nlabels, k) : NULL;
        if (!k || (got && strcmp(got, v) == 0))
            return s;
    }
    return NULL;
}

static double value_of(const struct hk_snapshot *snap, const char *name, const char *k,
                       const char *v)
{
    const struct hk_series *s = find(snap, name, k, v);
    if (!s)
        fail_msg("no series %s{%s=%s}", name, k ? k : "", v ? v : "");
    return s ? s->value : 0;
}

static const char *label_of(const struct hk_snapshot *snap, const char *name, const char *k,
                            const char *v, const char *label)
{
    const struct hk_series *s = find(snap, name, k, v);
    assert_non_null(s);
    const char *l = hk_labels_get(s->labels, s->nlabels, label);
    assert_non_null(l);
    return l;
}

/* ---- parsers ---- */

static void test_sysfs_parse_i64(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(hk_sysfs_parse_i64("1500\n", 5, &v), 0);
    assert_int_equal(v, 1500);
    assert_int_equal(hk_sysfs_parse_i64("-1\n", 3, &v), 0);
    assert_int_equal(v, -1);
    assert_int_equal(hk_sysfs_parse_i64("  0x1303 \n", 10, &v), 0); /* flags */
    assert_int_equal(v, 4867);
    assert_int_equal(hk_sysfs_parse_i64("0x20", 4, &v), 0); /* dev_id, no newline */
    assert_int_equal(v, 32);
    assert_int_equal(hk_sysfs_parse_i64("9223372036854775807", 19, &v), 0);
    assert_int_equal(v, INT64_MAX);
    /* hostile */
    assert_int_equal(hk_sysfs_parse_i64("", 0, &v), -EINVAL);
    assert_int_equal(hk_sysfs_parse_i64("\n", 1, &v), -EINVAL);
    assert_int_equal(hk_sysfs_parse_i64("abc\n", 4, &v), -EINVAL);
    assert_int_equal(hk_sysfs_parse_i64("15 00\n", 6, &v), -EINVAL);
    assert_int_equal(hk_sysfs_parse_i64("0x", 2, &v), -EINVAL);
    assert_int_equal(hk_sysfs_parse_i64("0xzz", 4, &v), -EINVAL);
    assert_int_equal(hk_sysfs_parse_i64("0x-1", 4, &v), -EINVAL);
    assert_int_equal(hk_sysfs_parse_i64("1\0002", 3, &v), -EINVAL);
    assert_int_equal(hk_sysfs_parse_i64("9223372036854775808", 19, &v), -ERANGE);
    assert_int_equal(hk_sysfs_parse_i64("0xffffffffffffffff", 18, &v), -ERANGE);
    assert_int_equal(hk_sysfs_parse_i64("0x1111111111111111111111111", 27, &v), -ERANGE);
    char huge[5000];
    memset(huge, '9', sizeof(huge));
    assert_true(hk_sysfs_parse_i64(huge, sizeof(huge), &v) < 0);
}

/* node_exporter's collector/fixtures/usr/lib/os-release */
static const char ubuntu_os_release[] =
    "NAME=\"Ubuntu\"\nVERSION=\"20.04.2 LTS (Focal Fossa)\"\nID=ubuntu\nID_LIKE=debian\n"
    "PRETTY_NAME=\"Ubuntu 20.04.2 LTS\"\nVERSION_ID=\"20.04\"\n"
    "HOME_URL=\"https://www.ubuntu.com/\"\nSUPPORT_URL=\"https://help.ubuntu.com/\"\n"
    "BUG_REPORT_URL=\"https://bugs.launchpad.net/ubuntu/\"\n"
    "PRIVACY_POLICY_URL=\"https://www.ubuntu.com/legal/terms-and-policies/privacy-policy\"\n"
    "VERSION_CODENAME=focal\nUBUNTU_CODENAME=focal\n";

static void test_os_release_parse(void **state)
{
    (void)state;
    static struct hk_os_release os;
    assert_int_equal(hk_os_release_parse(ubuntu_os_release, strlen(ubuntu_os_release), &os), 0);
    assert_string_equal(os.v[HK_OS_NAME], "Ubuntu");
    assert_string_equal(os.v[HK_OS_VERSION], "20.04.2 LTS (Focal Fossa)");
    assert_string_equal(os.v[HK_OS_ID], "ubuntu");
    assert_string_equal(os.v[HK_OS_ID_LIKE], "debian");
    assert_string_equal(os.v[HK_OS_PRETTY_NAME], "Ubuntu 20.04.2 LTS");
    assert_string_equal(os.v[HK_OS_VERSION_ID], "20.04");
    assert_string_equal(os.v[HK_OS_VERSION_CODENAME], "focal");
    assert_string_equal(os.v[HK_OS_BUILD_ID], "");
    assert_true(hk_os_version_number(os.v[HK_OS_VERSION_ID]) == 20.04);

    static const char quoting[] = "# comment\n\n  export NAME='It''s \"x\"'  # trailing\n"
                                  "PRETTY_NAME=\"a \\\"b\\\" \\$c \\\\d \\e\"\nID=plain\\ word\n"
                                  "VARIANT=#\nVERSION_ID=8.10.1\nID=again\nSUPPORT_END=2025-06-30\n"
                                  "no_newline_at_end=1";
    assert_int_equal(hk_os_release_parse(quoting, strlen(quoting), &os), 0);
    assert_string_equal(os.v[HK_OS_NAME], "Its \"x\"");
    assert_string_equal(os.v[HK_OS_PRETTY_NAME], "a \"b\" $c \\d \\e");
    assert_string_equal(os.v[HK_OS_ID], "again"); /* a later assignment wins, as in a shell */
    assert_string_equal(os.v[HK_OS_VARIANT], "");
    assert_true(hk_os_version_number(os.v[HK_OS_VERSION_ID]) == 8.1);
    int64_t t = 0;
    assert_int_equal(hk_os_support_end(os.v[HK_OS_SUPPORT_END], &t), 0);
    assert_int_equal(t, 1751241600);

    /* hostile */
    static const char *const bad[] = {
        "NAME=\"Ubuntu\nID=x\n",     /* unterminated quote (truncated file) */
        "NAME='x\n",                 /* same, single quote */
        "just words\n",              /* not an assignment */
        "=value\n",                  /* no key */
        "1NAME=x\n",                 /* bad key */
        "NAME=two words\n",          /* unquoted blank */
        "NAME=x\\",                  /* dangling backslash */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(hk_os_release_parse(bad[i], strlen(bad[i]), &os), -EINVAL);
    assert_int_equal(hk_os_release_parse("A=1\0B=2\n", 8, &os), -EINVAL);
    char *huge = malloc(HK_OS_VALUE_MAX + 16);
    assert_non_null(huge);
    memcpy(huge, "NAME=", 5);
    memset(huge + 5, 'x', HK_OS_VALUE_MAX);
    assert_int_equal(hk_os_release_parse(huge, HK_OS_VALUE_MAX + 5, &os), -ERANGE);
    free(huge);
    /* empty file: every field empty */
    assert_int_equal(hk_os_release_parse("", 0, &os), 0);
    assert_string_equal(os.v[HK_OS_NAME], "");

    assert_true(hk_os_version_number("12") == 12);
    assert_true(hk_os_version_number("rolling") == 0);
    assert_true(hk_os_version_number("") == 0);
    assert_true(hk_os_version_number("7.") == 7);
    assert_int_equal(hk_os_support_end("2024-02-29", &t), 0);
    assert_int_equal(hk_os_support_end("2023-02-29", &t), -EINVAL);
    assert_int_equal(hk_os_support_end("2023-13-01", &t), -EINVAL);
    assert_int_equal(hk_os_support_end("2023-1-01", &t), -EINVAL);
    assert_int_equal(hk_os_support_end("soon", &t), -EINVAL);
}

static void test_timex_values(void **state)
{
    (void)state;
    struct timex tx = {0};
    double v[HK_TIMEX_NVALUES];
    tx.status = STA_NANO | STA_PLL;
    tx.offset = -1500000; /* ns */
    tx.freq = 65536 * 10; /* +10 ppm */
    tx.maxerror = 16000;  /* µs */
    tx.esterror = 250;
    tx.constant = 7;
    tx.tick = 10000;
    tx.jitter = 2000;
    tx.shift = 4;
    tx.tai = 37;
    tx.calcnt = 3;
    hk_timex_values(&tx, TIME_OK, v);
    assert_true(v[0] == 1);                        /* sync_status */
    assert_true(v[1] == -0.0015);                  /* offset_seconds (ns) */
    assert_true(v[2] == 1 + 10 / 1e6);             /* frequency_adjustment_ratio */
    assert_true(v[3] == 0.016);                    /* maxerror_seconds */
    assert_true(v[4] == 0.00025);                  /* estimated_error_seconds */
    assert_true(v[5] == (double)(STA_NANO | STA_PLL));
    assert_true(v[6] == 7);
    assert_true(v[7] == 0.01);                     /* tick_seconds */
    assert_true(v[9] == 2e-6);                     /* pps_jitter_seconds (ns) */
    assert_true(v[10] == 4);                       /* pps_shift_seconds */
    assert_true(v[13] == 3);                       /* pps_calibration_total */
    assert_true(v[16] == 37);                      /* tai_offset_seconds */
    tx.status = 0;                                 /* µs resolution */
    hk_timex_values(&tx, TIME_ERROR, v);
    assert_true(v[0] == 0);
    assert_true(v[1] == -1.5);
    assert_true(v[9] == 0.002);
}

/* ---- netclass ---- */

/* node_exporter's sys.ttar class/net/eth0 */
static void put_iface(const char *dir, const char *speed)
{
    static const char *const attrs[][2] = {
        {"addr_assign_type", "3\n"}, {"addr_len", "6\n"},
        {"address", "01:01:01:01:01:01\n"}, {"broadcast", "ff:ff:ff:ff:ff:ff\n"},
        {"carrier", "1\n"}, {"carrier_changes", "2\n"}, {"carrier_down_count", "1\n"},
        {"carrier_up_count", "1\n"}, {"dev_id", "0x20\n"}, {"dormant", "1\n"},
        {"duplex", "full\n"}, {"flags", "0x1303\n"}, {"ifalias", "\n"}, {"ifindex", "2\n"},
        {"iflink", "2\n"}, {"link_mode", "1\n"}, {"mtu", "1500\n"}, {"name_assign_type", "2\n"},
        {"netdev_group", "0\n"}, {"operstate", "up\n"}, {"phys_port_id", "\n"},
        {"tx_queue_len", "1000\n"}, {"type", "1\n"},
    };
    char p[256];
    for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, attrs[i][0]);
        put(p, attrs[i][1]);
    }
    snprintf(p, sizeof(p), "%s/speed", dir);
    put(p, speed);
}

static void test_netclass_values(void **state)
{
    (void)state;
    put_iface("sys/class/net/eth0", "1000\n");
    put_iface("sys/class/net/bond0", "-1\n");
    put("sys/class/net/bonding_masters", "bond0\n"); /* a regular file: not an interface */
    /* the real layout: class/net/<iface> is a symlink into devices/ */
    put_iface("sys/devices/pci0000:00/0000:00:03.0/net/enp3s0", "10000\n");
    put("sys/devices/pci0000:00/0000:00:03.0/net/enp3s0/operstate", "down\n");
    put("sys/devices/pci0000:00/0000:00:03.0/net/enp3s0/flags", "0x1002\n");
    put("sys/devices/pci0000:00/0000:00:03.0/net/enp3s0/ifalias", "uplink to rack 7\n");
    sh("ln -s ../../devices/pci0000:00/0000:00:03.0/net/enp3s0 '%s/sys/class/net/enp3s0'", root);

    struct inst in;
    inst_open(&in, "netclass", NULL);
    uint64_t soft = 1;
    struct hk_snapshot *snap = cycle(&in, &soft);
    assert_int_equal(soft, 0);
    assert_int_equal(count_family(snap, "node_network_up"), 3);
    assert_null(find(snap, "node_network_up", "device", "bonding_masters"));
    /* e2e-output.txt's values for eth0 */
    assert_true(value_of(snap, "node_network_up", "device", "eth0") == 1);
    assert_true(value_of(snap, "node_network_address_assign_type", "device", "eth0") == 3);
    assert_true(value_of(snap, "node_network_carrier", "device", "eth0") == 1);
    assert_true(value_of(snap, "node_network_carrier_changes_total", "device", "eth0") == 2);
    assert_true(value_of(snap, "node_network_carrier_up_changes_total", "device", "eth0") == 1);
    assert_true(value_of(snap, "node_network_carrier_down_changes_total", "device", "eth0") == 1);
    assert_true(value_of(snap, "node_network_device_id", "device", "eth0") == 32);
    assert_true(value_of(snap, "node_network_dormant", "device", "eth0") == 1);
    assert_true(value_of(snap, "node_network_flags", "device", "eth0") == 4867);
    assert_true(value_of(snap, "node_network_iface_id", "device", "eth0") == 2);
    assert_true(value_of(snap, "node_network_iface_link", "device", "eth0") == 2);
    assert_true(value_of(snap, "node_network_iface_link_mode", "device", "eth0") == 1);
    assert_true(value_of(snap, "node_network_mtu_bytes", "device", "eth0") == 1500);
    assert_true(value_of(snap, "node_network_name_assign_type", "device", "eth0") == 2);
    assert_true(value_of(snap, "node_network_net_dev_group", "device", "eth0") == 0);
    assert_true(value_of(snap, "node_network_protocol_type", "device", "eth0") == 1);
    assert_true(value_of(snap, "node_network_speed_bytes", "device", "eth0") == 1.25e8);
    assert_true(value_of(snap, "node_network_transmit_queue_length", "device", "eth0") == 1000);
    assert_string_equal(label_of(snap, "node_network_info", "device", "eth0", "address"),
                        "01:01:01:01:01:01");
    assert_string_equal(label_of(snap, "node_network_info", "device", "eth0", "adminstate"), "up");
    assert_string_equal(label_of(snap, "node_network_info", "device", "eth0", "duplex"), "full");
    assert_string_equal(label_of(snap, "node_network_info", "device", "eth0", "ifalias"), "");
    assert_string_equal(label_of(snap, "node_network_info", "device", "eth0", "operstate"), "up");
    /* unknown speed -1: node_exporter's default keeps it (-1 Mbit/s) */
    assert_true(value_of(snap, "node_network_speed_bytes", "device", "bond0") == -125000);
    /* through the symlink */
    assert_true(value_of(snap, "node_network_up", "device", "enp3s0") == 0);
    assert_true(value_of(snap, "node_network_speed_bytes", "device", "enp3s0") == 1.25e9);
    assert_string_equal(label_of(snap, "node_network_info", "device", "enp3s0", "adminstate"),
                        "down");
    assert_string_equal(label_of(snap, "node_network_info", "device", "enp3s0", "ifalias"),
                        "uplink to rack 7");
    hk_snapshot_unref(snap);
    inst_close(&in);

    inst_open(&in, "netclass", "ignore_invalid_speed: true\ndevice_exclude: '^bond'\n");
    snap = cycle(&in, NULL);
    assert_int_equal(count_family(snap, "node_network_up"), 2);
    assert_null(find(snap, "node_network_up", "device", "bond0"));
    assert_int_equal(count_family(snap, "node_network_speed_bytes"), 2);
    hk_snapshot_unref(snap);
    inst_close(&in);
}

/* No netclass options: netdev's device_exclude applies; netclass's own one wins. */
static void test_netclass_inherits_netdev_filter(void **state)
{
    (void)state;
    put_iface("sys/class/net/eth0", "1000\n");
    put_iface("sys/class/net/veth1234", "10000\n");
    struct hk_config cfg;
    hk_config_init(&cfg);
    struct hk_error err = {{0}};
    const struct hk_config_override ov[] = {
        {"collectors.netdev.device_exclude", "^veth", "--collector.netdev.device_exclude", false}};
    assert_int_equal(hk_config_load(&cfg, NULL, ov, 1, &err), 0);
    struct inst in;
    inst_open_env(&in, "netclass", NULL, &cfg);
    struct hk_snapshot *snap = cycle(&in, NULL);
    assert_int_equal(count_family(snap, "node_network_up"), 1);
    assert_non_null(find(snap, "node_network_up", "device", "eth0"));
    hk_snapshot_unref(snap);
    inst_close(&in);
    inst_open_env(&in, "netclass", "device_exclude: '^eth'\n", &cfg);
    snap = cycle(&in, NULL);
    assert_int_equal(count_family(snap, "node_network_up"), 1);
    assert_non_null(find(snap, "node_network_up", "device", "veth1234"));
    hk_snapshot_unref(snap);
    inst_close(&in);
    hk_config_free(&cfg);
}

static void test_netclass_hostile(void **state)
{
    (void)state;
    /* only operstate: up and info (empty labels, adminstate unknown), nothing else, quietly */
    put("sys/class/net/sparse/operstate", "up");
    /* non-numeric, empty, huge and NUL-carrying attributes: that family left out, counted */
    put_iface("sys/class/net/bad0", "1000\n");
    put("sys/class/net/bad0/mtu", "fifteen hundred\n");
    put("sys/class/net/bad0/tx_queue_len", "");
    char huge[6000];
    memset(huge, '1', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    put("sys/class/net/bad0/iflink", huge);
    memset(huge, 'a', 300);
    huge[300] = '\0';
    put("sys/class/net/bad0/ifalias", huge); /* longer than IFALIASZ */
    /* a directory where a file should be */
    sh("rm '%s/sys/class/net/bad0/type' && mkdir '%s/sys/class/net/bad0/type'", root, root);
    /* a name the kernel never makes (> 15 bytes) */
    put("sys/class/net/an_interface_name_too_long/operstate", "up\n");
    /* an entry that is no directory: counted */
    put("sys/devices/virtual/net/notadir", "x\n");
    sh("ln -s ../../devices/virtual/net/notadir '%s/sys/class/net/notadir'", root);
    /* listed, but gone when read: a dangling link */
    sh("ln -s ../../devices/virtual/net/ghost '%s/sys/class/net/ghost'", root);

    struct inst in;
    inst_open(&in, "netclass", NULL);
    uint64_t soft = 0;
    struct hk_snapshot *snap = cycle(&in, &soft);
    /* mtu, tx_queue_len, iflink, ifalias, type (EISDIR), the long name, notadir */
    assert_int_equal(soft, 7);
    assert_int_equal(count_family(snap, "node_network_up"), 2);
    assert_true(value_of(snap, "node_network_up", "device", "sparse") == 1);
    assert_string_equal(label_of(snap, "node_network_info", "device", "sparse", "adminstate"),
                        "unknown");
    assert_string_equal(label_of(snap, "node_network_info", "device", "sparse", "address"), "");
    assert_null(find(snap, "node_network_mtu_bytes", "device", "sparse"));
    assert_null(find(snap, "node_network_carrier", "device", "sparse"));
    assert_null(find(snap, "node_network_mtu_bytes", "device", "bad0"));
    assert_null(find(snap, "node_network_transmit_queue_length", "device", "bad0"));
    assert_null(find(snap, "node_network_iface_link", "device", "bad0"));
    assert_null(find(snap, "node_network_protocol_type", "device", "bad0"));
    assert_string_equal(label_of(snap, "node_network_info", "device", "bad0", "ifalias"), "");
    assert_true(value_of(snap, "node_network_iface_id", "device", "bad0") == 2);
    assert_null(find(snap, "node_network_up", "device", "ghost"));
    hk_snapshot_unref(snap);

    /* nothing changed and nothing re-read: still counted, every cycle, logged only once */
    snap = cycle(&in, &soft);
    assert_int_equal(soft, 7);
    assert_null(find(snap, "node_network_up", "device", "notadir"));
    hk_snapshot_unref(snap);
    /* fixed: read again (the per-cycle attributes stayed the same, so force it) */
    put("sys/class/net/bad0/mtu", "9000\n");
    put("sys/class/net/bad0/carrier_changes", "3\n");
    snap = cycle(&in, &soft);
    assert_int_equal(soft, 6);
    assert_true(value_of(snap, "node_network_mtu_bytes", "device", "bad0") == 9000);
    hk_snapshot_unref(snap);
    inst_close(&in);

    /* no class/net at all: nothing, quietly */
    sh("rm -rf '%s/sys/class'", root);
    inst_open(&in, "netclass", NULL);
    snap = cycle(&in, &soft);
    assert_int_equal(soft, 0);
    assert_int_equal(snap->nseries, 0);
    hk_snapshot_unref(snap);
    inst_close(&in);
}

static void test_netclass_refresh_and_churn(void **state)
{
    (void)state;
    put_iface("sys/class/net/eth0", "1000\n");
    put_iface("sys/class/net/eth1", "1000\n");
    struct inst in, every;
    inst_open(&in, "netclass", NULL);
    inst_open(&every, "netclass", "refresh_interval: 0s\n");
    struct hk_snapshot *snap = cycle(&in, NULL);
    hk_snapshot_unref(snap);
    snap = cycle(&every, NULL);
    hk_snapshot_unref(snap);

    /* An administrative change (mtu) is seen at the next refresh, or at once with 0s … */
    put("sys/class/net/eth0/mtu", "9000\n");
    snap = cycle(&in, NULL);
    assert_true(value_of(snap, "node_network_mtu_bytes", "device", "eth0") == 1500);
    hk_snapshot_unref(snap);
    snap = cycle(&every, NULL);
    assert_true(value_of(snap, "node_network_mtu_bytes", "device", "eth0") == 9000);
    hk_snapshot_unref(snap);
    /* … and at once when the link changes (operstate, carrier, carrier_changes, flags). */
    put("sys/class/net/eth0/operstate", "down\n");
    put("sys/class/net/eth0/speed", "");
    snap = cycle(&in, NULL);
    assert_true(value_of(snap, "node_network_up", "device", "eth0") == 0);
    assert_true(value_of(snap, "node_network_mtu_bytes", "device", "eth0") == 9000);
    hk_snapshot_unref(snap);

    /* eth1 vanishes; eth0 is replaced by another device under the same name (a new directory,
     * made before the old one is removed so it cannot reuse its inode). */
    sh("rm -rf '%s/sys/class/net/eth1'", root);
    put_iface("sys/class/net/eth0.new", "100\n");
    put("sys/class/net/eth0.new/mtu", "1280\n");
    sh("rm -rf '%s/sys/class/net/eth0' && mv '%s/sys/class/net/eth0.new' '%s/sys/class/net/eth0'",
       root, root, root);
    uint64_t soft = 1;
    snap = cycle(&in, &soft);
    assert_int_equal(soft, 0);
    assert_int_equal(count_family(snap, "node_network_up"), 1);
    assert_null(find(snap, "node_network_up", "device", "eth1"));
    assert_true(value_of(snap, "node_network_up", "device", "eth0") == 1);
    assert_true(value_of(snap, "node_network_mtu_bytes", "device", "eth0") == 1280);
    assert_true(value_of(snap, "node_network_speed_bytes", "device", "eth0") == 1.25e7);
    hk_snapshot_unref(snap);
    /* eth1 comes back */
    put_iface("sys/class/net/eth1", "1000\n");
    snap = cycle(&in, NULL);
    assert_int_equal(count_family(snap, "node_network_up"), 2);
    hk_snapshot_unref(snap);
    inst_close(&every);
    inst_close(&in);
}

/* More interfaces than may keep their files open: the rest are read by path, all reported. */
static void test_netclass_many(void **state)
{
    (void)state;
    enum { N = 1100 };
    for (int i = 0; i < N; i++) {
        char p[64], v[32];
        snprintf(p, sizeof(p), "sys/class/net/v%04d/operstate", i);
        put(p, "up\n");
        snprintf(p, sizeof(p), "sys/class/net/v%04d/mtu", i);
        snprintf(v, sizeof(v), "%d\n", 1000 + i);
        put(p, v);
    }
    struct inst in;
    inst_open(&in, "netclass", NULL);
    for (int c = 0; c < 2; c++) {
        uint64_t soft = 1;
        struct hk_snapshot *snap = cycle(&in, &soft);
        assert_int_equal(soft, 0);
        assert_int_equal(count_family(snap, "node_network_up"), N);
        assert_int_equal(count_family(snap, "node_network_mtu_bytes"), N);
        assert_true(value_of(snap, "node_network_mtu_bytes", "device", "v1099") == 2099);
        assert_true(value_of(snap, "node_network_mtu_bytes", "device", "v0000") == 1000);
        hk_snapshot_unref(snap);
    }
    inst_close(&in);
}

static void test_bad_options(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "device_exclude: '(unclosed'\n", "ignore_invalid_speed: maybe\n",
        "refresh_interval: -1s\n",       "refresh_interval: 2d\n",
        "refresh_intervall: 1m\n",
    };
    const struct hk_collector_ops *ops = hk_collector_find("netclass");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hk_yaml_node *opts = NULL;
        struct hk_error err = {{0}};
        assert_int_equal(hk_yaml_parse_string("test.yml", cases[i], strlen(cases[i]), &opts, &err),
                         0);
        struct hk_collector_env env = {NULL, NULL, opts, &err};
        assert_int_equal(ops->check(&env), -EINVAL);
        assert_non_null(strstr(err.msg, "test.yml:1:"));
        hk_yaml_free(opts);
    }
}

/* ---- time, timex, uname ---- */

static void test_time(void **state)
{
    (void)state;
    put("sys/devices/system/clocksource/clocksource0/available_clocksource", "tsc hpet acpi_pm\n");
    put("sys/devices/system/clocksource/clocksource0/current_clocksource", "tsc\n");
    put("sys/devices/system/clocksource/clocksource1/available_clocksource", "jiffies\n");
    put("sys/devices/system/clocksource/clocksource1/current_clocksource", "jiffies\n");
    put("sys/devices/system/clocksource/uevent", "");
    setenv("TZ", "XYZ-2", 1);
    struct inst in;
    inst_open(&in, "time", NULL);
    time_t before = time(NULL);
    uint64_t soft = 1;
    struct hk_snapshot *snap = cycle(&in, &soft);
    assert_int_equal(soft, 0);
    double now = value_of(snap, "node_time_seconds", NULL, NULL);
    assert_true(now >= (double)before && now < (double)before + 60);
    assert_true(value_of(snap, "node_time_zone_offset_seconds", "time_zone", "XYZ") == 7200);
    assert_int_equal(count_family(snap, "node_time_clocksource_available_info"), 4);
    assert_non_null(find(snap, "node_time_clocksource_available_info", "clocksource", "acpi_pm"));
    assert_string_equal(
        label_of(snap, "node_time_clocksource_current_info", "clocksource", "tsc", "device"), "0");
    assert_string_equal(
        label_of(snap, "node_time_clocksource_current_info", "clocksource", "jiffies", "device"),
        "1");
    hk_snapshot_unref(snap);
    /* the kernel switches clocksource: seen on the kept file */
    put("sys/devices/system/clocksource/clocksource0/current_clocksource", "hpet\n");
    snap = cycle(&in, NULL);
    assert_non_null(find(snap, "node_time_clocksource_current_info", "clocksource", "hpet"));
    assert_null(find(snap, "node_time_clocksource_current_info", "clocksource", "tsc"));
    hk_snapshot_unref(snap);
    /* hostile: a huge file is counted and skipped; the clock is still reported */
    char huge[5000];
    memset(huge, 'x', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    put("sys/devices/system/clocksource/clocksource1/available_clocksource", huge);
    snap = cycle(&in, &soft);
    assert_int_equal(soft, 1);
    assert_int_equal(count_family(snap, "node_time_seconds"), 1);
    hk_snapshot_unref(snap);
    inst_close(&in);
    setenv("TZ", "UTC0", 1);

    /* no clocksource directory: the clock only, quietly */
    sh("rm -rf '%s/sys'", root);
    inst_open(&in, "time", NULL);
    snap = cycle(&in, &soft);
    assert_int_equal(soft, 0);
    assert_int_equal(count_family(snap, "node_time_seconds"), 1);
    assert_true(value_of(snap, "node_time_zone_offset_seconds", "time_zone", "UTC") == 0);
    assert_int_equal(count_family(snap, "node_time_clocksource_current_info"), 0);
    hk_snapshot_unref(snap);
    inst_close(&in);
}

static void test_timex_uname(void **state)
{
    (void)state;
    struct inst in;
    inst_open(&in, "timex", NULL);
    struct hk_snapshot *snap = cycle(&in, NULL);
    struct timex tx = {0};
    if (adjtimex(&tx) >= 0) {
        assert_int_equal(snap->nseries, HK_TIMEX_NVALUES);
        assert_true(value_of(snap, "node_timex_tick_seconds", NULL, NULL) == tx.tick / 1e6);
        assert_true(value_of(snap, "node_timex_status", NULL, NULL) == tx.status);
    }
    hk_snapshot_unref(snap);
    inst_close(&in);

    inst_open(&in, "uname", NULL);
    snap = cycle(&in, NULL);
    struct utsname u;
    assert_int_equal(uname(&u), 0);
    assert_int_equal(count_family(snap, "node_uname_info"), 1);
    assert_string_equal(label_of(snap, "node_uname_info", NULL, NULL, "nodename"), u.nodename);
    assert_string_equal(label_of(snap, "node_uname_info", NULL, NULL, "release"), u.release);
    assert_string_equal(label_of(snap, "node_uname_info", NULL, NULL, "domainname"), u.domainname);
    hk_snapshot_unref(snap);
    inst_close(&in);
}

/* ---- os ---- */

static void test_os(void **state)
{
    (void)state;
    struct inst in;
    inst_open(&in, "os", NULL);
    uint64_t soft = 1;
    int64_t saved_interval = hk_os_check_interval_ms;
    hk_os_check_interval_ms = 0; /* look every cycle */
    /* neither file: nothing, quietly */
    struct hk_snapshot *snap = cycle(&in, &soft);
    assert_int_equal(soft, 0);
    assert_int_equal(snap->nseries, 0);
    hk_snapshot_unref(snap);

    /* the fallback usr/lib/os-release (node_exporter's fixture) */
    put("usr/lib/os-release", ubuntu_os_release);
    snap = cycle(&in, &soft);
    assert_int_equal(soft, 0);
    assert_string_equal(label_of(snap, "node_os_info", NULL, NULL, "pretty_name"),
                        "Ubuntu 20.04.2 LTS");
    assert_string_equal(label_of(snap, "node_os_info", NULL, NULL, "variant"), "");
    assert_true(value_of(snap, "node_os_version", "id", "ubuntu") == 20.04);
    assert_string_equal(label_of(snap, "node_os_version", NULL, NULL, "id_like"), "debian");
    assert_int_equal(count_family(snap, "node_os_support_end_timestamp_seconds"), 0);
    hk_snapshot_unref(snap);

    /* etc/os-release wins; an absolute symlink resolves inside the root, not on this host */
    put("opt/os-release", "NAME=Inside\nID=inside\nVERSION_ID=3.18.4\nSUPPORT_END=2025-06-30\n");
    sh("mkdir -p '%s/etc'", root);
    sh("ln -s /opt/os-release '%s/etc/os-release'", root);
    snap = cycle(&in, &soft);
    assert_int_equal(soft, 0);
    assert_string_equal(label_of(snap, "node_os_info", NULL, NULL, "name"), "Inside");
    assert_true(value_of(snap, "node_os_version", "id", "inside") == 3.18);
    assert_true(value_of(snap, "node_os_support_end_timestamp_seconds", NULL, NULL) == 1751241600);
    hk_snapshot_unref(snap);

    /* with the default interval, a rewrite is not looked at before a minute has passed */
    hk_os_check_interval_ms = saved_interval;
    put("opt/os-release", "NAME=Other\nID=other\nVERSION_ID=rolling\n");
    snap = cycle(&in, &soft);
    assert_string_equal(label_of(snap, "node_os_info", NULL, NULL, "name"), "Inside");
    hk_snapshot_unref(snap);
    hk_os_check_interval_ms = 0;
    /* rewritten (size and mtime change): read again */
    put("opt/os-release", "NAME=Other\nID=other\nVERSION_ID=rolling\n");
    snap = cycle(&in, &soft);
    assert_string_equal(label_of(snap, "node_os_info", NULL, NULL, "name"), "Other");
    assert_int_equal(count_family(snap, "node_os_version"), 0); /* no number in VERSION_ID */
    hk_snapshot_unref(snap);

    /* malformed (truncated mid-quote): counted, nothing emitted; recovers */
    put("opt/os-release", "NAME=\"Trunc");
    snap = cycle(&in, &soft);
    assert_int_equal(soft, 1);
    assert_int_equal(snap->nseries, 0);
    hk_snapshot_unref(snap);
    put("opt/os-release", "NAME=Fine\nSUPPORT_END=someday\n");
    snap = cycle(&in, &soft);
    assert_int_equal(soft, 1); /* the bad date only */
    assert_string_equal(label_of(snap, "node_os_info", NULL, NULL, "name"), "Fine");
    assert_int_equal(count_family(snap, "node_os_support_end_timestamp_seconds"), 0);
    hk_snapshot_unref(snap);
    /* huge: too large, counted */
    char path[512];
    snprintf(path, sizeof(path), "%s/opt/os-release", root);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 20000; i++)
        fputs("# padding\n", f);
    fclose(f);
    snap = cycle(&in, &soft);
    assert_int_equal(soft, 1);
    assert_int_equal(snap->nseries, 0);
    hk_snapshot_unref(snap);
    inst_close(&in);
}

int main(void)
{
    setenv("TZ", "UTC0", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sysfs_parse_i64),
        cmocka_unit_test(test_os_release_parse),
        cmocka_unit_test(test_timex_values),
        cmocka_unit_test_setup_teardown(test_netclass_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_netclass_inherits_netdev_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_netclass_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_netclass_refresh_and_churn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_netclass_many, setup, teardown),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test_setup_teardown(test_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timex_uname, setup, teardown),
        cmocka_unit_test_setup_teardown(test_os, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
