/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the node collectors' procfs parsers (collector/node_parsers.h).
 * Input: [parser byte] then the file's bytes. Each parser runs on an exact-size copy (so a read
 * past the end is caught), first validating, then with a callback that checks every record
 * against the parser's documented bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/node_parsers.h"

static int on_cpu(const struct hk_stat_cpu *cpu, void *userdata)
{
    if (cpu->nfields < 4 || cpu->nfields > HK_CPU_NFIELDS || cpu->id_len == 0 || cpu->id_len > 9)
        abort();
    return 0;
}

static int on_mem(const char *key, size_t key_len, uint64_t value, bool has_kb, void *userdata)
{
    char name[160];
    if (key_len == 0 || hk_meminfo_metric_name(key, key_len, has_kb, name, sizeof(name)) < 0)
        abort();
    return 0;
}

static int on_dev(const char *device, size_t device_len, const uint64_t *values, void *userdata)
{
    if (device_len == 0 || device_len > 15 || memchr(device, ' ', device_len))
        abort();
    return 0;
}

static int on_disk(const struct hk_diskstat *d, void *userdata)
{
    if (d->nfields < 11 || d->nfields > HK_DISK_NFIELDS || d->name_len == 0 || d->name_len > 255)
        abort();
    return 0;
}

static int on_mount(const struct hk_mount *m, void *userdata)
{
    if (m->mountpoint[0] != '/' || !m->fstype || !m->source)
        abort();
    return 0;
}

static struct hk_cpuinfo cpuinfo;

/* nodeproc: vmstat, netstat/snmp/snmp6, sockstat, softnet, filefd, conntrack, one-number files */
static int on_vm(const char *key, size_t key_len, double value, void *userdata)
{
    if (key_len == 0 || key_len > 64 || memchr(key, ' ', key_len) || value != value)
        abort();
    return 0;
}

static int on_ns(const char *proto, size_t proto_len, const char *field, size_t field_len,
                 double value, void *userdata)
{
    if (proto_len == 0 || proto_len > 64 || field_len == 0 || field_len > 64 ||
        memchr(proto, ':', proto_len) || value != value)
        abort();
    return 0;
}

static int on_ss(const char *proto, size_t proto_len, const char *key, size_t key_len,
                 int64_t value, void *userdata)
{
    if (proto_len == 0 || proto_len > 32 || key_len == 0 || key_len > 32)
        abort();
    return 0;
}

static int on_sn(const struct hk_softnet *s, void *userdata)
{
    unsigned *rows = userdata;
    if (++*rows > 65536)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t len = size - 1;
    char *buf = malloc(len ? len : 1);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, len);
    struct hk_stat_misc misc;
    struct hk_pressure p;
    uint64_t u1, u2;
    unsigned rows = 0;
    struct hk_conntrack_stat ct;
    switch (data[0] % 15) {
    case 0:
        if (hk_stat_parse(buf, len, NULL, NULL, &misc) == 0 &&
            hk_stat_parse(buf, len, on_cpu, NULL, &misc) != 0)
            abort(); /* validation and emission passes must agree */
        break;
    case 1:
        if (hk_meminfo_parse(buf, len, NULL, NULL) == 0 &&
            hk_meminfo_parse(buf, len, on_mem, NULL) != 0)
            abort();
        break;
    case 2:
        if (hk_pressure_parse(buf, len, &p) == 0 && !p.have_some && !p.have_full)
            abort();
        break;
    case 3:
        if (hk_netdev_parse(buf, len, NULL, NULL) == 0 &&
            hk_netdev_parse(buf, len, on_dev, NULL) != 0)
            abort();
        break;
    case 4:
        if (hk_diskstats_parse(buf, len, NULL, NULL) == 0 &&
            hk_diskstats_parse(buf, len, on_disk, NULL) != 0)
            abort();
        break;
    case 5:
        if (hk_mountinfo_parse(buf, len, NULL, NULL) == 0 &&
            hk_mountinfo_parse(buf, len, on_mount, NULL) != 0)
            abort();
        break;
    case 6:
        if (hk_cpuinfo_parse(buf, len, &cpuinfo) == 0 &&
            (cpuinfo.physical_cores > cpuinfo.processors ||
             cpuinfo.sockets > cpuinfo.physical_cores))
            abort();
        break;
    case 7:
        if (hk_vmstat_parse(buf, len, NULL, NULL) == 0 &&
            hk_vmstat_parse(buf, len, on_vm, NULL) != 0)
            abort();
        break;
    case 8:
        if (hk_netstat_parse(buf, len, NULL, NULL) == 0 &&
            hk_netstat_parse(buf, len, on_ns, NULL) != 0)
            abort();
        break;
    case 9:
        if (hk_snmp6_parse(buf, len, NULL, NULL) == 0 && hk_snmp6_parse(buf, len, on_ns, NULL) != 0)
            abort();
        break;
    case 10:
        if (hk_sockstat_parse(buf, len, NULL, NULL) == 0 &&
            hk_sockstat_parse(buf, len, on_ss, NULL) != 0)
            abort();
        break;
    case 11:
        if (hk_softnet_parse(buf, len, NULL, NULL) == 0 &&
            (hk_softnet_parse(buf, len, on_sn, &rows) != 0 || rows == 0))
            abort();
        break;
    case 12:
        if (hk_filefd_parse(buf, len, &u1, &u2) == 0 && hk_uint_file_parse(buf, len, &u1) == 0)
            abort(); /* three numbers are never one */
        break;
    case 13:
        if (hk_conntrack_stat_parse(buf, len, &ct) == 0 && ct.cpus == 0)
            abort();
        break;
    case 14:
        (void)hk_uint_file_parse(buf, len, &u1);
        break;
    }
    free(buf);
    return 0;
}
