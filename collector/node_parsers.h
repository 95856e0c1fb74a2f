/* SPDX-License-Identifier: Apache-2.0 */
/* Pure parsers of the procfs/sysfs files the node collectors read, exposed for unit tests.
 * None allocates; each takes the file's bytes and returns 0 or -EINVAL (malformed) / -ERANGE.
 * Parsers that report records through a callback may be run first with a NULL callback to
 * validate the whole file, so a collector never emits half of a malformed file. A callback
 * returning a negative value stops the parse and that value is returned. */
#ifndef HK_NODE_PARSERS_H
#define HK_NODE_PARSERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/cgroupfs.h"

/* ---- /proc/stat ---- */

/* Fields of a cpu line in kernel order, in USER_HZ ticks. */
enum {
    HK_CPU_USER,
    HK_CPU_NICE,
    HK_CPU_SYSTEM,
    HK_CPU_IDLE,
    HK_CPU_IOWAIT,
    HK_CPU_IRQ,
    HK_CPU_SOFTIRQ,
    HK_CPU_STEAL,
    HK_CPU_GUEST,
    HK_CPU_GUEST_NICE,
    HK_CPU_NFIELDS,
};

struct hk_stat_cpu {
    const char *id; /* "0", "1", … (not NUL-terminated) */
    size_t id_len;
    uint64_t ticks[HK_CPU_NFIELDS];
    unsigned nfields; /* 4 … 10 present (older kernels have fewer) */
};

enum {
    HK_STAT_HAVE_BTIME = 1u << 0,
    HK_STAT_HAVE_CTXT = 1u << 1,
    HK_STAT_HAVE_PROCESSES = 1u << 2,
    HK_STAT_HAVE_INTR = 1u << 3,
    HK_STAT_HAVE_RUNNING = 1u << 4,
    HK_STAT_HAVE_BLOCKED = 1u << 5,
};

struct hk_stat_misc {
    uint64_t btime, ctxt, processes, intr, procs_running, procs_blocked;
    unsigned have; /* HK_STAT_HAVE_* */
};

typedef int (*hk_stat_cpu_fn)(const struct hk_stat_cpu *cpu, void *userdata);
/* Calls fn for each "cpuN" line (not the aggregate "cpu" line). */
int hk_stat_parse(const char *buf, size_t len, hk_stat_cpu_fn fn, void *userdata,
                  struct hk_stat_misc *ret_misc);

/* ---- /proc/meminfo ---- */

/* key is the field name before ':' ("Active(anon)"); has_kb when the value is followed by "kB". */
typedef int (*hk_meminfo_fn)(const char *key, size_t key_len, uint64_t value, bool has_kb,
                             void *userdata);
int hk_meminfo_parse(const char *buf, size_t len, hk_meminfo_fn fn, void *userdata);
/* node_exporter's family name for a meminfo key: node_memory_<Key>[_bytes] with "(x)" → "_x".
 * Returns the length or -EINVAL (bad key chars) / -ENOSPC. */
int hk_meminfo_metric_name(const char *key, size_t key_len, bool has_kb, char *out, size_t cap);

/* ---- /proc/pressure/{cpu,memory,io} ---- */

struct hk_pressure {
    uint64_t some_total_us, full_total_us;
    bool have_some, have_full;
};
int hk_pressure_parse(const char *buf, size_t len, struct hk_pressure *ret);

/* ---- /proc/net/dev ---- */

/* Columns of /proc/net/dev in kernel order. */
enum {
    HK_NETDEV_RX_BYTES,
    HK_NETDEV_RX_PACKETS,
    HK_NETDEV_RX_ERRS,
    HK_NETDEV_RX_DROP,
    HK_NETDEV_RX_FIFO,
    HK_NETDEV_RX_FRAME,
    HK_NETDEV_RX_COMPRESSED,
    HK_NETDEV_RX_MULTICAST,
    HK_NETDEV_TX_BYTES,
    HK_NETDEV_TX_PACKETS,
    HK_NETDEV_TX_ERRS,
    HK_NETDEV_TX_DROP,
    HK_NETDEV_TX_FIFO,
    HK_NETDEV_TX_COLLS,
    HK_NETDEV_TX_CARRIER,
    HK_NETDEV_TX_COMPRESSED,
    HK_NETDEV_NFIELDS,
};

typedef int (*hk_netdev_fn)(const char *device, size_t device_len,
                            const uint64_t values[HK_NETDEV_NFIELDS], void *userdata);
int hk_netdev_parse(const char *buf, size_t len, hk_netdev_fn fn, void *userdata);

/* ---- /proc/diskstats ---- */

/* Fields after major, minor and name, in kernel order (Documentation/admin-guide/iostats). */
enum {
    HK_DISK_READS,
    HK_DISK_READS_MERGED,
    HK_DISK_SECTORS_READ,
    HK_DISK_READ_MS,
    HK_DISK_WRITES,
    HK_DISK_WRITES_MERGED,
    HK_DISK_SECTORS_WRITTEN,
    HK_DISK_WRITE_MS,
    HK_DISK_IO_NOW,
    HK_DISK_IO_MS,
    HK_DISK_IO_WEIGHTED_MS,
    HK_DISK_DISCARDS, /* 4.18+ */
    HK_DISK_DISCARDS_MERGED,
    HK_DISK_SECTORS_DISCARDED,
    HK_DISK_DISCARD_MS,
    HK_DISK_FLUSHES, /* 5.5+ */
    HK_DISK_FLUSH_MS,
    HK_DISK_NFIELDS,
};

struct hk_diskstat {
    unsigned major, minor;
    const char *name; /* not NUL-terminated */
    size_t name_len;
    uint64_t v[HK_DISK_NFIELDS];
    unsigned nfields; /* 11, 15 or 17 */
};

typedef int (*hk_diskstats_fn)(const struct hk_diskstat *disk, void *userdata);
int hk_diskstats_parse(const char *buf, size_t len, hk_diskstats_fn fn, void *userdata);

/* ---- /proc/<pid>/mountinfo: collector/cgroupfs.h ---- */

/* ---- /proc/cpuinfo (machine_cpu_physical_cores, machine_cpu_sockets) ---- */

#define HK_CPUINFO_MAX_CPUS 8192

struct hk_cpuinfo {
    unsigned processors;     /* "processor" entries */
    unsigned physical_cores; /* distinct (physical id, core id) */
    unsigned sockets;        /* distinct physical id */
    /* scratch for the distinct counts */
    uint32_t pairs[HK_CPUINFO_MAX_CPUS][2];
};
/* Architectures without "physical id"/"core id" (arm64) report 0 cores/sockets. -E2BIG beyond
 * HK_CPUINFO_MAX_CPUS processors. */
int hk_cpuinfo_parse(const char *buf, size_t len, struct hk_cpuinfo *ret);

/* ==== nodeproc block: vmstat, netstat, sockstat, softnet, filefd, conntrack, entropy ==== */

/* A whole token that is a decimal integer, signed or not (kernel counters are printed with %lu,
 * a few with %ld), as a double. 0, -EINVAL, -ERANGE. */
int hk_parse_kernel_int(const char *s, size_t len, double *ret);
/* A whole token of 1-16 hex digits (no 0x). 0 or -EINVAL. */
int hk_parse_hex_u64(const char *s, size_t len, uint64_t *ret);

/* ---- /proc/vmstat: "name value" lines ---- */

typedef int (*hk_vmstat_fn)(const char *key, size_t key_len, double value, void *userdata);
int hk_vmstat_parse(const char *buf, size_t len, hk_vmstat_fn fn, void *userdata);

/* ---- /proc/net/netstat, /proc/net/snmp, /proc/net/snmp6 ---- */

/* proto "TcpExt", field "ListenDrops" (neither NUL-terminated). */
typedef int (*hk_netstat_fn)(const char *proto, size_t proto_len, const char *field,
                             size_t field_len, double value, void *userdata);
/* netstat/snmp: pairs of lines "Proto: Name1 Name2 …" / "Proto: v1 v2 …". */
int hk_netstat_parse(const char *buf, size_t len, hk_netstat_fn fn, void *userdata);
/* snmp6: "Ip6InReceives  123" lines; the protocol is the name up to its first '6' ("Ip6",
 * "Icmp6", "Udp6", "UdpLite6"); names without a '6' are skipped, as node_exporter does. */
int hk_snmp6_parse(const char *buf, size_t len, hk_netstat_fn fn, void *userdata);

/* ---- /proc/net/sockstat, /proc/net/sockstat6: "PROTO: key value key value …" ---- */

/* proto "TCP", "sockets", …; key "inuse", "used", … */
typedef int (*hk_sockstat_fn)(const char *proto, size_t proto_len, const char *key, size_t key_len,
                              int64_t value, void *userdata);
int hk_sockstat_parse(const char *buf, size_t len, hk_sockstat_fn fn, void *userdata);

/* ---- /proc/net/softnet_stat: one line of hex columns per CPU ---- */

struct hk_softnet {
    unsigned cpu; /* column 13 when present (5.10+: CPUs may be offline), else the line number */
    uint32_t processed, dropped, time_squeezed, cpu_collision; /* columns 1-3, 9 */
    uint32_t received_rps, flow_limit_count;                   /* 10-11 (4.17+, else 0) */
    uint32_t backlog_len;                                      /* 12 (5.10+, else 0) */
};
typedef int (*hk_softnet_fn)(const struct hk_softnet *s, void *userdata);
int hk_softnet_parse(const char *buf, size_t len, hk_softnet_fn fn, void *userdata);

/* ---- /proc/sys/fs/file-nr: "allocated unused maximum" ---- */

int hk_filefd_parse(const char *buf, size_t len, uint64_t *ret_allocated, uint64_t *ret_maximum);

/* ---- one unsigned integer and a newline (entropy_avail, nf_conntrack_count, …) ---- */

int hk_uint_file_parse(const char *buf, size_t len, uint64_t *ret);

/* ---- /proc/net/stat/nf_conntrack: header of names, one line of hex columns per CPU ---- */

/* Summed over CPUs, as node_exporter reports them. Columns are found by their header name;
 * search_restart is missing before Linux 2.6.35 (then 0). */
struct hk_conntrack_stat {
    uint64_t found, invalid, ignore, insert, insert_failed, drop, early_drop, search_restart;
    unsigned cpus;
};
int hk_conntrack_stat_parse(const char *buf, size_t len, struct hk_conntrack_stat *ret);

/* ==== end of nodeproc block ==== */
/* ==== nodesys: sysfs attributes, adjtimex, os-release (netclass.c, timex.c, os.c) ==== */

struct timex;

/* Trims ASCII whitespace at both ends of s[0..len); moves *s, returns the new length. */
size_t hk_sysfs_trim(const char **s, size_t len);
/* A numeric sysfs attribute as node_exporter's procfs reads it: trimmed, decimal with an
 * optional sign, or "0x" + hex (flags, dev_id). 0, -EINVAL, -ERANGE (beyond int64). */
int hk_sysfs_parse_i64(const char *buf, size_t len, int64_t *ret);

/* node_timex_* values in the collector's order (sync_status, offset, frequency ratio, maxerror,
 * esterror, status, constant, tick, pps frequency, pps jitter, pps shift, pps stability, pps
 * jitter/calibration/error/stability counts, tai), converted as node_exporter does; state is
 * adjtimex's return value (TIME_ERROR = unsynchronised). */
#define HK_TIMEX_NVALUES 17
void hk_timex_values(const struct timex *tx, int state, double ret[HK_TIMEX_NVALUES]);

/* os-release keys node_exporter reports. */
enum {
    HK_OS_BUILD_ID,
    HK_OS_ID,
    HK_OS_ID_LIKE,
    HK_OS_IMAGE_ID,
    HK_OS_IMAGE_VERSION,
    HK_OS_NAME,
    HK_OS_PRETTY_NAME,
    HK_OS_VARIANT,
    HK_OS_VARIANT_ID,
    HK_OS_VERSION,
    HK_OS_VERSION_CODENAME,
    HK_OS_VERSION_ID,
    HK_OS_SUPPORT_END,
    HK_OS_NFIELDS,
};
#define HK_OS_VALUE_MAX 512 /* bytes per value with its NUL; longer is -ERANGE */
struct hk_os_release {
    char v[HK_OS_NFIELDS][HK_OS_VALUE_MAX]; /* "" when absent */
};
/* Shell-style KEY=value lines ('…' literal, "…" with \ \" \$ \` escapes, unquoted with
 * backslash escapes, # comments, optional "export"). -EINVAL on a line that is not an
 * assignment or an unterminated quote, -ERANGE on a value longer than HK_OS_VALUE_MAX - 1. */
int hk_os_release_parse(const char *buf, size_t len, struct hk_os_release *ret);
/* The leading major[.minor] of VERSION_ID as a number ("20.04" → 20.04), 0 when none. */
double hk_os_version_number(const char *version_id);
/* How often the os collector looks for a changed os-release (ms; tests set 0). */
extern int64_t hk_os_check_interval_ms;
/* SUPPORT_END "YYYY-MM-DD" → Unix time of that midnight UTC. 0 or -EINVAL. */
int hk_os_support_end(const char *date, int64_t *ret);

#endif
