/* SPDX-License-Identifier: Apache-2.0 */
/* Network interface properties from sysfs, node_exporter's netclass collector (sysfs variant).
 * Reads: the entries of <sysfs>/class/net (symlinks or directories; regular files such as
 * bonding_masters are not interfaces) and, per interface, <sysfs>/class/net/<iface>/
 * {operstate,carrier_changes,flags} every cycle (kept open, re-read with pread), plus
 * {carrier,carrier_up_count,carrier_down_count,speed,duplex,dormant,mtu,tx_queue_len,address,broadcast,
 * ifalias,addr_assign_type,dev_id,ifindex,iflink,link_mode,name_assign_type,netdev_group,type}
 * for a new interface, whenever one of the four above changed, and every refresh_interval.
 * Emits: node_network_up, node_network_info{address,adminstate,broadcast,device,duplex,ifalias,
 * operstate}, node_network_{address_assign_type,carrier,device_id,dormant,flags,iface_id,
 * iface_link,iface_link_mode,mtu_bytes,name_assign_type,net_dev_group,protocol_type,speed_bytes,
 * transmit_queue_length}, node_network_carrier{,_up,_down}_changes_total — label device.
 * An attribute the kernel refuses to show (EINVAL on a down link for carrier/speed/duplex,
 * EOPNOTSUPP, a missing or unreadable file) leaves out that family for that interface, as
 * node_exporter does; a malformed value does too and is counted as a soft error.
 * Options: collectors.netclass.device_exclude (default: netdev's device_exclude),
 * ignore_invalid_speed, refresh_interval. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collector/node_common.h"
#include "collector/node_parsers.h"
#include "core/collector.h"
#include "core/config.h"
#include "core/log.h"
#include "core/parse.h"

/* Interfaces followed at most (a node with thousands of veths still fits); more are skipped
 * and counted. */
#define NC_MAX_IFACES 8192
/* Interfaces whose attribute files stay open between cycles (5 descriptors each); the others
 * open their files every cycle. */
#define NC_MAX_KEPT 1024
#define NC_DEFAULT_REFRESH_MS 60000

/* ---- parsers (node_parsers.h) ---- */

size_t hk_sysfs_trim(const char **s, size_t len)
{
    const char *p = *s;
    /* The callers pass the len bytes a read() filled, which the analyzer does not follow:
     * NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
    while (len > 0 && (p[0] == ' ' || p[0] == '\t' || p[0] == '\n' || p[0] == '\r' ||
                       p[0] == '\v' || p[0] == '\f')) {
        p++;
        len--;
    }
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\n' ||
                       p[len - 1] == '\r' || p[len - 1] == '\v' || p[len - 1] == '\f'))
        len--;
    *s = p;
    return len;
}

int hk_sysfs_parse_i64(const char *buf, size_t len, int64_t *ret)
{
    const char *s = buf;
    len = hk_sysfs_trim(&s, len);
    if (len == 0 || memchr(s, '\0', len))
        return -EINVAL;
    if (len > 2 && s[0] == '0' && s[1] == 'x') { /* flags, dev_id: "0x1003" */
        char tmp[24];
        if (len - 2 >= sizeof(tmp))
            return -ERANGE;
        memcpy(tmp, s + 2, len - 2);
        tmp[len - 2] = '\0';
        for (size_t i = 0; tmp[i]; i++)
            if (!((tmp[i] >= '0' && tmp[i] <= '9') || (tmp[i] >= 'a' && tmp[i] <= 'f') ||
                  (tmp[i] >= 'A' && tmp[i] <= 'F')))
                return -EINVAL;
        char *end;
        errno = 0;
        long long v = strtoll(tmp, &end, 16);
        if (*end)
            return -EINVAL;
        if (errno == ERANGE)
            return -ERANGE;
        *ret = v;
        return 0;
    }
    return hk_parse_i64(s, len, ret);
}

/* ---- attributes ---- */

enum {
    /* read every cycle: every carrier transition counts in carrier_changes, an administrative
     * up/down or promiscuous switch shows in flags, the rest of the link state in operstate */
    NC_OPERSTATE,
    NC_CARRIER_CHANGES,
    NC_FLAGS,
    NC_NFAST,
    /* read on a change of the above and every refresh_interval */
    NC_CARRIER = NC_NFAST,
    NC_CARRIER_UP,
    NC_CARRIER_DOWN,
    NC_SPEED,
    NC_DUPLEX,
    NC_DORMANT,
    NC_MTU,
    NC_TXQLEN,
    NC_ADDRESS,
    NC_BROADCAST,
    NC_IFALIAS,
    NC_ADDR_ASSIGN,
    NC_DEV_ID,
    NC_IFINDEX,
    NC_IFLINK,
    NC_LINK_MODE,
    NC_NAME_ASSIGN,
    NC_NETDEV_GROUP,
    NC_TYPE,
    NC_NATTR,
};

static const char *const device_label[] = {"device", NULL};

#define NC_PROP(name, type)                                                                        \
    {                                                                                              \
        "node_network_" name, "Network device property: " name, type, "", device_label             \
    }

/* One family per numeric attribute, indexed like the NC_* attributes (strings have none). */
static const struct hk_metric_desc desc_prop[NC_NATTR] = {
    [NC_CARRIER] = NC_PROP("carrier", HK_METRIC_GAUGE),
    [NC_CARRIER_CHANGES] = NC_PROP("carrier_changes_total", HK_METRIC_COUNTER),
    [NC_FLAGS] = NC_PROP("flags", HK_METRIC_GAUGE),
    [NC_CARRIER_UP] = NC_PROP("carrier_up_changes_total", HK_METRIC_COUNTER),
    [NC_CARRIER_DOWN] = NC_PROP("carrier_down_changes_total", HK_METRIC_COUNTER),
    [NC_SPEED] = NC_PROP("speed_bytes", HK_METRIC_GAUGE),
    [NC_DORMANT] = NC_PROP("dormant", HK_METRIC_GAUGE),
    [NC_MTU] = NC_PROP("mtu_bytes", HK_METRIC_GAUGE),
    [NC_TXQLEN] = NC_PROP("transmit_queue_length", HK_METRIC_GAUGE),
    [NC_ADDR_ASSIGN] = NC_PROP("address_assign_type", HK_METRIC_GAUGE),
    [NC_DEV_ID] = NC_PROP("device_id", HK_METRIC_GAUGE),
    [NC_IFINDEX] = NC_PROP("iface_id", HK_METRIC_GAUGE),
    [NC_IFLINK] = NC_PROP("iface_link", HK_METRIC_GAUGE),
    [NC_LINK_MODE] = NC_PROP("iface_link_mode", HK_METRIC_GAUGE),
    [NC_NAME_ASSIGN] = NC_PROP("name_assign_type", HK_METRIC_GAUGE),
    [NC_NETDEV_GROUP] = NC_PROP("net_dev_group", HK_METRIC_GAUGE),
    [NC_TYPE] = NC_PROP("protocol_type", HK_METRIC_GAUGE),
};

static const struct hk_metric_desc desc_up = {
    "node_network_up", "Value is 1 if operstate is 'up', 0 otherwise.", HK_METRIC_GAUGE, "",
    device_label};
static const char *const info_labels[] = {"address", "adminstate", "broadcast", "device",
                                          "duplex",  "ifalias",    "operstate", NULL};
static const struct hk_metric_desc desc_info = {
    "node_network_info", "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
    HK_METRIC_GAUGE, "", info_labels};

static const char *const attr_file[NC_NATTR] = {
    [NC_OPERSTATE] = "operstate",
    [NC_CARRIER] = "carrier",
    [NC_CARRIER_CHANGES] = "carrier_changes",
    [NC_FLAGS] = "flags",
    [NC_CARRIER_UP] = "carrier_up_count",
    [NC_CARRIER_DOWN] = "carrier_down_count",
    [NC_SPEED] = "speed",
    [NC_DUPLEX] = "duplex",
    [NC_DORMANT] = "dormant",
    [NC_MTU] = "mtu",
    [NC_TXQLEN] = "tx_queue_len",
    [NC_ADDRESS] = "address",
    [NC_BROADCAST] = "broadcast",
    [NC_IFALIAS] = "ifalias",
    [NC_ADDR_ASSIGN] = "addr_assign_type",
    [NC_DEV_ID] = "dev_id",
    [NC_IFINDEX] = "ifindex",
    [NC_IFLINK] = "iflink",
    [NC_LINK_MODE] = "link_mode",
    [NC_NAME_ASSIGN] = "name_assign_type",
    [NC_NETDEV_GROUP] = "netdev_group",
    [NC_TYPE] = "type",
};

/* Text attributes and the bytes they may hold (longer values are malformed). */
#define NC_OPERSTATE_CAP 32 /* "lowerlayerdown" */
#define NC_DUPLEX_CAP 16    /* "unknown" */
#define NC_ADDR_CAP 128     /* MAX_ADDR_LEN (32) bytes as "xx:" */
#define NC_IFALIAS_CAP 257  /* IFALIASZ */

struct nc_iface {
    char name[IFNAMSIZ];
    uint64_t ino;         /* of the class/net entry: a new one means a new device */
    int dirfd;            /* O_PATH of class/net/<name>; -1 when not kept */
    int fd[NC_NFAST];     /* the per-cycle attributes, kept open; -1 when not (yet) open */
    bool kept;            /* counts against NC_MAX_KEPT */
    bool complete;        /* the slow attributes were read at least once */
    bool gone;            /* vanished this cycle: not emitted */
    int64_t refreshed_ms; /* monotonic time of their last read */
    uint32_t have;        /* bit per NC_* attribute: readable and well-formed */
    uint32_t bad;         /* bit per NC_* attribute: malformed or unreadable when last read */
    int64_t val[NC_NATTR];
    char operstate[NC_OPERSTATE_CAP], duplex[NC_DUPLEX_CAP];
    char address[NC_ADDR_CAP], broadcast[NC_ADDR_CAP], ifalias[NC_IFALIAS_CAP];
};

struct nc_entry {
    char name[IFNAMSIZ];
    uint64_t ino;
};

struct nc_state {
    DIR *dir; /* <sysfs>/class/net, rewound each cycle */
    struct nc_iface *ifaces, *next;
    size_t n, cap;
    struct nc_entry *entries;
    size_t nentries, entries_cap;
    size_t kept;
    struct hk_node_regex *exclude;
    bool ignore_invalid_speed;
    int64_t refresh_ms;
    struct hk_node_health health;        /* class/net itself */
    struct hk_node_health attr_health;   /* any attribute file */
    bool logged_too_many;
};

static char *str_slot(struct nc_iface *f, unsigned a, size_t *ret_cap)
{
    switch (a) {
    case NC_OPERSTATE:
        *ret_cap = sizeof(f->operstate);
        return f->operstate;
    case NC_DUPLEX:
        *ret_cap = sizeof(f->duplex);
        return f->duplex;
    case NC_ADDRESS:
        *ret_cap = sizeof(f->address);
        return f->address;
    case NC_BROADCAST:
        *ret_cap = sizeof(f->broadcast);
        return f->broadcast;
    case NC_IFALIAS:
        *ret_cap = sizeof(f->ifalias);
        return f->ifalias;
    default:
        return NULL;
    }
}

static void iface_init(struct nc_iface *f, const struct nc_entry *e)
{
    memset(f, 0, sizeof(*f));
    memcpy(f->name, e->name, sizeof(f->name));
    f->ino = e->ino;
    f->dirfd = -1;
    for (unsigned i = 0; i < NC_NFAST; i++)
        f->fd[i] = -1;
}

static void iface_close(struct nc_state *s, struct nc_iface *f)
{
    if (f->dirfd >= 0)
        close(f->dirfd);
    f->dirfd = -1;
    for (unsigned i = 0; i < NC_NFAST; i++) {
        if (f->fd[i] >= 0)
            close(f->fd[i]);
        f->fd[i] = -1;
    }
    if (f->kept)
        s->kept--;
    f->kept = false;
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- options ---- */

static const char *const netclass_keys[] = {HK_COLLECTOR_COMMON_KEYS, "device_exclude",
                                            "ignore_invalid_speed", "refresh_interval", NULL};

/* netclass's own device_exclude, else netdev's (one setting filters both, as kube-prometheus
 * passes node_exporter the same pattern twice), else none. */
static int exclude_option(const struct hk_collector_env *env, struct hk_node_regex **ret)
{
    if (hk_yaml_get(env->options, "device_exclude") || !env->config)
        return hk_node_regex_option(env, "device_exclude", "", ret);
    struct hk_collector_env netdev_env = *env;
    const struct hk_yaml_node *netdev = hk_yaml_get(env->config->collectors, "netdev");
    netdev_env.options = netdev && netdev->kind == HK_YAML_MAP ? netdev : NULL;
    return hk_node_regex_option(&netdev_env, "device_exclude", "", ret);
}

static int netclass_options(const struct hk_collector_env *env, struct nc_state *s)
{
    int r = hk_yaml_check_keys(env->options, netclass_keys, env->err);
    if (r < 0)
        return r;
    bool ignore = false;
    const struct hk_yaml_node *node = hk_yaml_get(env->options, "ignore_invalid_speed");
    if (node && (r = hk_yaml_bool(node, &ignore, env->err)) < 0)
        return r;
    int64_t refresh_ms = NC_DEFAULT_REFRESH_MS;
    node = hk_yaml_get(env->options, "refresh_interval");
    if (node) {
        if ((r = hk_yaml_duration_ms(node, &refresh_ms, env->err)) < 0)
            return r;
        if (refresh_ms < 0 || refresh_ms > 86400000)
            return hk_error_at(env->err, node, "refresh_interval must be between 0s and 1d");
    }
    r = exclude_option(env, s ? &s->exclude : NULL);
    if (r < 0)
        return r;
    if (s) {
        s->ignore_invalid_speed = ignore;
        s->refresh_ms = refresh_ms;
    }
    return 0;
}

static int netclass_check(const struct hk_collector_env *env)
{
    return netclass_options(env, NULL);
}

static void netclass_fini(void *state)
{
    struct nc_state *s = state;
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        iface_close(s, &s->ifaces[i]);
    if (s->dir)
        closedir(s->dir);
    free(s->ifaces);
    free(s->next);
    free(s->entries);
    hk_node_regex_free(s->exclude);
    free(s);
}

static int netclass_init(void **ret_state, const struct hk_collector_env *env)
{
    struct nc_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    int r = netclass_options(env, s);
    if (r < 0) {
        netclass_fini(s);
        return r;
    }
    *ret_state = s;
    return 0;
}

/* ---- listing ---- */

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct nc_entry *)a)->name, ((const struct nc_entry *)b)->name);
}

/* Fills s->entries with the interfaces of class/net (filtered, sorted by name). */
static int list_entries(struct nc_state *s, struct hk_collect_ctx *ctx)
{
    s->nentries = 0;
    rewinddir(s->dir);
    size_t skipped = 0;
    for (;;) {
        errno = 0;
        struct dirent *d = readdir(s->dir);
        if (!d) {
            if (errno)
                return -errno;
            break;
        }
        if (d->d_name[0] == '.' && (!d->d_name[1] || (d->d_name[1] == '.' && !d->d_name[2])))
            continue;
        if (d->d_type == DT_REG)
            continue; /* bonding_masters */
        if (d->d_type == DT_UNKNOWN) {
            struct stat st;
            if (fstatat(dirfd(s->dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                S_ISREG(st.st_mode))
                continue;
        }
        size_t len = strlen(d->d_name);
        if (hk_node_regex_match(s->exclude, d->d_name, len))
            continue;
        if (len >= IFNAMSIZ || s->nentries >= NC_MAX_IFACES) {
            skipped++;
            continue;
        }
        if (s->nentries == s->entries_cap) {
            size_t cap = s->entries_cap ? s->entries_cap * 2 : 16;
            struct nc_entry *e = realloc(s->entries, cap * sizeof(*e));
            if (!e)
                return -ENOMEM;
            s->entries = e;
            s->entries_cap = cap;
        }
        struct nc_entry *e = &s->entries[s->nentries++];
        memcpy(e->name, d->d_name, len + 1);
        e->ino = d->d_ino;
    }
    if (skipped) {
        /* Names the kernel never makes (> IFNAMSIZ-1) or more than NC_MAX_IFACES. */
        ctx->soft_errors += skipped;
        if (!s->logged_too_many)
            hk_log_warn("network interfaces skipped (name too long or too many)", "collector",
                        "netclass", "dir", "class/net");
        s->logged_too_many = true;
    }
    qsort(s->entries, s->nentries, sizeof(*s->entries), entry_cmp);
    return 0;
}

/* Matches the listing against the interfaces followed so far: kept ones keep their open files,
 * vanished or replaced ones (another inode under the same name) are closed. */
static int merge_entries(struct nc_state *s)
{
    if (s->nentries > s->cap) {
        size_t cap = s->cap ? s->cap : 16;
        while (cap < s->nentries)
            cap *= 2;
        struct nc_iface *a = realloc(s->next, cap * sizeof(*a));
        if (!a)
            return -ENOMEM;
        s->next = a;
        a = realloc(s->ifaces, cap * sizeof(*a));
        if (!a)
            return -ENOMEM;
        s->ifaces = a;
        s->cap = cap;
    }
    size_t i = 0, j = 0;
    while (j < s->nentries) {
        const struct nc_entry *e = &s->entries[j];
        int c = i < s->n ? strcmp(s->ifaces[i].name, e->name) : 1;
        if (c < 0) {
            iface_close(s, &s->ifaces[i++]);
        } else if (c == 0) {
            s->next[j] = s->ifaces[i++];
            if (s->next[j].ino != e->ino) {
                iface_close(s, &s->next[j]);
                iface_init(&s->next[j], e);
            }
            j++;
        } else {
            iface_init(&s->next[j++], e);
        }
    }
    while (i < s->n)
        iface_close(s, &s->ifaces[i++]);
    struct nc_iface *t = s->ifaces;
    s->ifaces = s->next;
    s->next = t;
    s->n = s->nentries;
    return 0;
}

/* ---- reading ---- */

/* sysfs shows at most a page; one byte more tells a longer (fixture) file. */
#define NC_READ_CAP 4097

static ssize_t pread_once(int fd, char *buf, size_t cap)
{
    ssize_t n;
    do
        n = pread(fd, buf, cap, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if ((size_t)n == cap)
        return -EFBIG;
    return n;
}

/* Reads attribute a of f into buf: from its kept descriptor, else opened for this read (and
 * kept when it is a per-cycle attribute and the interface may keep files). */
static ssize_t read_attr(struct nc_state *s, struct nc_iface *f, unsigned a, char *buf, size_t cap)
{
    if (a < NC_NFAST && f->fd[a] >= 0)
        return pread_once(f->fd[a], buf, cap);
    int fd;
    if (f->dirfd >= 0) {
        fd = openat(f->dirfd, attr_file[a], O_RDONLY | O_CLOEXEC | O_NOCTTY);
    } else {
        char path[IFNAMSIZ + 32];
        size_t nl = strlen(f->name), al = strlen(attr_file[a]);
        memcpy(path, f->name, nl);
        path[nl] = '/';
        memcpy(path + nl + 1, attr_file[a], al + 1);
        fd = openat(dirfd(s->dir), path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    }
    if (fd < 0)
        return -errno;
    ssize_t n = pread_once(fd, buf, cap);
    if (a < NC_NFAST && f->kept)
        f->fd[a] = fd;
    else
        close(fd);
    return n;
}

/* Whether a read error means "the kernel does not show this attribute here" (node_exporter
 * ignores these too): missing file, no permission, EINVAL on a down link, not supported. */
static bool quiet_error(ssize_t err)
{
    return err == -ENOENT || err == -EACCES || err == -EPERM || err == -EINVAL ||
           err == -EOPNOTSUPP;
}

/* Reads and parses attribute a into f. Returns 1 when its value differs from the previous
 * one, 0 when not, -ENODEV when the interface is gone. */
static int update_attr(struct nc_state *s, struct nc_iface *f, unsigned a,
                       struct hk_collect_ctx *ctx)
{
    char buf[NC_READ_CAP];
    uint32_t bit = 1u << a;
    bool had = f->have & bit;
    ssize_t n = read_attr(s, f, a, buf, sizeof(buf));
    if (n == -ENODEV || n == -ENXIO)
        return -ENODEV;
    if (n == -ENOENT) {
        struct stat st; /* the file, or the whole interface? */
        if (fstatat(dirfd(s->dir), f->name, &st, 0) < 0 && errno == ENOENT)
            return -ENODEV;
    }
    int r = (int)(n < 0 ? n : 0);
    bool malformed = false;
    if (n >= 0) {
        size_t cap;
        char *slot = str_slot(f, a, &cap);
        if (slot) {
            const char *v = buf;
            size_t len = hk_sysfs_trim(&v, (size_t)n);
            if (len >= cap || memchr(v, '\0', len)) {
                r = len >= cap ? -EFBIG : -EINVAL;
                malformed = true;
            } else {
                bool same = had && strlen(slot) == len && memcmp(slot, v, len) == 0;
                memcpy(slot, v, len);
                slot[len] = '\0';
                f->have |= bit;
                f->bad &= ~bit;
                return same ? 0 : 1;
            }
        } else {
            int64_t v;
            r = hk_sysfs_parse_i64(buf, (size_t)n, &v);
            if (r == 0) {
                bool same = had && f->val[a] == v;
                f->val[a] = v;
                f->have |= bit;
                f->bad &= ~bit;
                return same ? 0 : 1;
            }
            malformed = true;
        }
    }
    if (malformed || !quiet_error(r)) {
        /* Counted every cycle while it stays bad (netclass_collect); logged on the change. */
        f->bad |= bit;
        char file[IFNAMSIZ + 48];
        snprintf(file, sizeof(file), "class/net/%s/%s", f->name, attr_file[a]);
        struct hk_collect_ctx scratch = *ctx;
        hk_node_soft_error(&s->attr_health, &scratch, "netclass", file, r);
    } else {
        f->bad &= ~bit;
    }
    f->have &= ~bit;
    if (a < NC_NFAST && f->fd[a] >= 0 && !malformed && r != -EINVAL && r != -EOPNOTSUPP) {
        close(f->fd[a]); /* reopened next cycle: the file may come back */
        f->fd[a] = -1;
    }
    return had ? 1 : 0;
}

/* Reads one interface. Returns 0, -ENODEV when it vanished since the listing, -EIO when its
 * entry cannot be opened as a directory (logged here, counted by the caller). */
static int read_iface(struct nc_state *s, struct nc_iface *f, int64_t now_ms,
                      struct hk_collect_ctx *ctx)
{
    if (f->dirfd < 0 && !f->complete) {
        int fd = openat(dirfd(s->dir), f->name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT || errno == ENODEV)
                return -ENODEV; /* listed, then removed (or a dangling link) */
            if (errno != EMFILE && errno != ENFILE) {
                struct hk_collect_ctx scratch = *ctx; /* counted by the caller */
                hk_node_soft_error(&s->attr_health, &scratch, "netclass", f->name, -errno);
                return -EIO;
            }
        } else if (s->kept < NC_MAX_KEPT) {
            f->dirfd = fd;
            f->kept = true;
            s->kept++;
        } else {
            close(fd);
        }
    }
    bool changed = !f->complete || now_ms - f->refreshed_ms >= s->refresh_ms;
    for (unsigned a = 0; a < NC_NFAST; a++) {
        int r = update_attr(s, f, a, ctx);
        if (r < 0)
            return r;
        changed |= r > 0;
    }
    if (changed) {
        for (unsigned a = NC_NFAST; a < NC_NATTR; a++)
            if (update_attr(s, f, a, ctx) < 0)
                return -ENODEV;
        f->complete = true;
        f->refreshed_ms = now_ms;
    }
    return 0;
}

/* Emits family by family (the builder resolves a family once per run of equal descriptors). */
static void emit_all(const struct nc_state *s, struct hk_builder *b)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct nc_iface *f = &s->ifaces[i];
        if (f->gone)
            continue;
        const char *dev[] = {f->name};
        bool up = (f->have & (1u << NC_OPERSTATE)) && strcmp(f->operstate, "up") == 0;
        hk_emit(b, &desc_up, dev, up ? 1 : 0);
    }
    for (size_t i = 0; i < s->n; i++) {
        const struct nc_iface *f = &s->ifaces[i];
        if (f->gone)
            continue;
        const char *admin = !(f->have & (1u << NC_FLAGS)) ? "unknown"
                            : (f->val[NC_FLAGS] & IFF_UP) ? "up"
                                                           : "down";
        const char *info[] = {
            f->have & (1u << NC_ADDRESS) ? f->address : "",
            admin,
            f->have & (1u << NC_BROADCAST) ? f->broadcast : "",
            f->name,
            f->have & (1u << NC_DUPLEX) ? f->duplex : "",
            f->have & (1u << NC_IFALIAS) ? f->ifalias : "",
            f->have & (1u << NC_OPERSTATE) ? f->operstate : "",
        };
        hk_emit(b, &desc_info, info, 1);
    }
    for (unsigned a = 0; a < NC_NATTR; a++) {
        if (!desc_prop[a].name)
            continue;
        for (size_t i = 0; i < s->n; i++) {
            const struct nc_iface *f = &s->ifaces[i];
            if (f->gone || !(f->have & (1u << a)))
                continue;
            double v = (double)f->val[a];
            if (a == NC_SPEED) {
                /* Mbit/s → bytes/s; -1 (unknown) kept unless ignore_invalid_speed. */
                if (f->val[a] < 0 && s->ignore_invalid_speed)
                    continue;
                v *= 125000.0;
            }
            const char *dev[] = {f->name};
            hk_emit(b, &desc_prop[a], dev, v);
        }
    }
}

static int netclass_collect(void *state, struct hk_collect_ctx *ctx)
{
    struct nc_state *s = state;
    if (!s->dir) {
        if (ctx->paths->sys_fd < 0)
            return 0;
        int fd = openat(ctx->paths->sys_fd, "class/net", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT)
                return 0;
            hk_node_soft_error(&s->health, ctx, "netclass", "class/net", -errno);
            return 0;
        }
        s->dir = fdopendir(fd);
        if (!s->dir) {
            close(fd);
            return -ENOMEM;
        }
    }
    int r = list_entries(s, ctx);
    if (r == -ENOMEM)
        return r;
    if (r < 0) {
        hk_node_soft_error(&s->health, ctx, "netclass", "class/net", r);
        closedir(s->dir); /* reopened next cycle */
        s->dir = NULL;
        for (size_t i = 0; i < s->n; i++)
            iface_close(s, &s->ifaces[i]);
        s->n = 0;
        return 0;
    }
    hk_node_ok(&s->health, "netclass", "class/net");
    if ((r = merge_entries(s)) < 0)
        return r;
    int64_t now_ms = monotonic_ms();
    uint64_t bad = 0;
    for (size_t i = 0; i < s->n; i++) {
        struct nc_iface *f = &s->ifaces[i];
        r = read_iface(s, f, now_ms, ctx);
        bad += r == -EIO; /* not a directory, … */
        f->gone = r < 0;
        if (f->gone) {
            /* Gone between listing and reading: forget it (a new device may take the name). */
            iface_close(s, f);
            f->complete = false;
            f->have = 0;
            f->ino = 0;
        }
    }
    emit_all(s, ctx->b);
    for (size_t i = 0; i < s->n; i++)
        if (!s->ifaces[i].gone)
            bad += (uint64_t)__builtin_popcount(s->ifaces[i].bad);
    ctx->soft_errors += bad;
    if (!bad)
        hk_node_ok(&s->attr_health, "netclass", "class/net/*");
    return 0;
}

const struct hk_collector_ops hk_collector_netclass = {
    .name = "netclass",
    .help = "network interface properties from /sys/class/net (node_network_up, _info, _mtu_bytes…)",
    .default_enabled = true,
    .check = netclass_check,
    .init = netclass_init,
    .collect = netclass_collect,
    .fini = netclass_fini,
};
