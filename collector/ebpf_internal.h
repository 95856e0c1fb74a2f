/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the eBPF collector shared by collector/ebpf*.c and their unit tests: the cgroup
 * id → path index, hierarchy discovery, label resolution through the container index, the
 * per-container row aggregator and log2 slot → Prometheus bucket conversion, and the probe
 * interface every collector/ebpf_<name>.c implements. */
#ifndef HK_EBPF_INTERNAL_H
#define HK_EBPF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/hk_common.h"
#include "collector/cgroupfs.h"
#include "collector/containers.h"
#include "core/collector.h"

/* ---- cgroup id → path index (one per hierarchy): collector/cgroupfs.h ---- */

/* ---- hierarchies ---- */

enum hk_hier { HK_HIER_CPU, HK_HIER_MEMORY, HK_HIER_BLKIO, HK_HIER_COUNT };

struct hk_hierarchy {
    bool v1;         /* a v1 hierarchy of the controller is mounted; else cgroup2 */
    int dirfd;       /* O_RDONLY|O_DIRECTORY of its root, -1 if none found */
    char mount[128]; /* relative to sysfs, for logs ("fs/cgroup/cpu") */
    struct hk_cgid_index *index;
    int64_t walked_cycle; /* last cycle a re-walk ran (one per cycle at most) */
};

/* Finds (hk_cgroupfs_discover) where each controller's hierarchy is mounted (v1 mount holding
 * the controller, else the cgroup2 mount) and opens it. Missing ones get
 * dirfd -1. Returns 0 or -errno. */
int hk_ebpf_hierarchies_open(struct hk_hierarchy h[HK_HIER_COUNT], const struct hk_paths *paths);
void hk_ebpf_hierarchies_close(struct hk_hierarchy h[HK_HIER_COUNT]);

/* ---- labels ---- */

/* The cAdvisor base label names in emission order, NULL-terminated. */
extern const char *const hk_ebpf_base_labels[];
#define HK_EBPF_NBASE 6

/* Descriptors only the BPF=1 build emits. */
#define HK_EBPF_DESC static const struct hk_metric_desc __attribute__((unused))

/* Base label values for a cgroup path: a container listed in the index (or the nearest listed
 * ancestor other than the root) gives its labels with id = its path; an unlisted cgroup gives
 * id = path and empty other labels. ret[6] points into t or path. */
void hk_ebpf_labels_for(const struct hk_containers *t, const char *path,
                        const char *ret[HK_EBPF_NBASE]);

/* ---- rows: per-container aggregation of per-cgroup kernel values ---- */

#define HK_EBPF_ROW_VALUES 8

struct hk_ebpf_row {
    const char *labels[HK_EBPF_NBASE]; /* base label values (borrowed) */
    uint32_t sub;                      /* probe-specific key part (device/op …), 0 if none */
    int64_t v[HK_EBPF_ROW_VALUES];
    uint64_t slots[HK_NH_SLOTS];
};

struct hk_ebpf_ledger;

struct hk_ebpf_rows {
    struct hk_ebpf_row *rows;
    size_t n, cap;
    struct hk_ebpf_ledger *ledger; /* NULL: plain sums (fallbacks), else see below */
};

/* Adds row (its v and slots) into the row with the same id label and sub, or appends it. A
 * cap of 65536 rows bounds memory: beyond it -E2BIG. 0, -ENOMEM, -E2BIG. */
int hk_ebpf_rows_add(struct hk_ebpf_rows *rows, const struct hk_ebpf_row *row);
/* Sorts by (id label, sub) and merges duplicates (after adds in any order). */
void hk_ebpf_rows_finish(struct hk_ebpf_rows *rows);
void hk_ebpf_rows_free(struct hk_ebpf_rows *rows);

/* ---- ledger: rows that never go backwards ---- *
 * A row sums the kernel counters of the cgroups attributed to it (the cgroup itself and its
 * unlisted descendants), so it would drop when one of them vanishes, or moves to another row
 * (a new container is listed a cycle after its cgroup appears). A probe's ledger remembers, per
 * kernel map entry, the row it was attributed to, and per row the final values of the entries
 * that left it ("carried"), which stay in the row for as long as the row is reported (it has a
 * live entry, or its id is a listed container). Entries that fail to resolve for a cycle stay in
 * their previous row until they are gone. Gauges (bit i of `gauges` set for v[i]) are not
 * carried: they describe the present. */
struct hk_ebpf_ledger *hk_ebpf_ledger_new(unsigned gauges);
void hk_ebpf_ledger_free(struct hk_ebpf_ledger *l); /* accepts NULL */
/* Carried rows the ledger holds (tests). */
size_t hk_ebpf_ledger_carried(const struct hk_ebpf_ledger *l);
/* Ends a cycle of hk_ebpf_add calls into rows (rows->ledger set): merges rows like
 * hk_ebpf_rows_finish, adds the carried values, drops rows nobody reports any more and keeps
 * the attributions for the next cycle. Call once per cycle, also after a failed walk. t is the
 * container index the adds used. 0 or -ENOMEM (rows then hold what could be settled). */
int hk_ebpf_rows_settle(struct hk_ebpf_rows *rows, const struct hk_containers *t);

/* ---- histograms ---- */

/* Emits one latency histogram from native-histogram slots (bpf/hk_common.h): the native
 * histogram (schema 3, zero threshold 2^-22 s) and classic buckets le = 2^lo … 2^hi seconds
 * (exact sums of native buckets), with the given sum. Requires HK_NH_ZERO_EXP ≤ lo ≤ hi ≤ 9.
 * A full builder (-E2BIG) is not an error: 0 or -errno. */
int hk_ebpf_emit_latency(struct hk_builder *b, const struct hk_metric_desc *desc,
                         const char *const *labels, const uint64_t slots[HK_NH_SLOTS], int lo,
                         int hi, double sum_seconds);

/* Sum of a slot array (the histogram's count). */
uint64_t hk_ebpf_slots_total(const uint64_t slots[HK_NH_SLOTS]);

/* ---- per-CPU value decoding (sum over CPUs of one map entry) ---- */

/* dst[k] += src[k] for every latency slot (src: a kernel value's slots). */
static inline void hk_ebpf_slots_add(uint64_t dst[HK_NH_SLOTS], const __u64 *src)
{
    for (int k = 0; k < HK_NH_SLOTS; k++)
        dst[k] += src[k];
}

/* vals: ncpu × struct hk_sched_val (bpf/sched.h). ret: wait_ns, waits, voluntary, involuntary. */
void hk_ebpf_sched_decode(const void *vals, int ncpu, int64_t ret[4],
                          uint64_t ret_slots[HK_NH_SLOTS]);
/* vals: ncpu × struct hk_tcp_val (bpf/tcp.h). ret: connects ok, failed, accepts, closes,
 * retransmits, active (signed sum). */
void hk_ebpf_tcp_decode(const void *vals, int ncpu, int64_t ret[6]);

/* ---- TCP seeding (established connections that predate the probe) ---- */

struct hk_tcp_sock {
    uint64_t inode;
    uint64_t cookie;
    uint64_t cgroup2_id; /* INET_DIAG_CGROUP_ID, 0 if absent */
};

/* Parses one netlink receive buffer of SOCK_DIAG_BY_FAMILY replies, calling fn per socket.
 * Returns 1 at NLMSG_DONE, 0 if more messages follow, -errno on NLMSG_ERROR or malformed input. */
int hk_ebpf_diag_parse(const void *buf, size_t len,
                       int (*fn)(const struct hk_tcp_sock *s, void *arg), void *arg);
/* The path of the v1 hierarchy holding `controller` (or the cgroup2 path, "0::", when controller
 * is "") in a /proc/<pid>/cgroup file. 0, -ENOENT, -EINVAL (too long / malformed). */
int hk_ebpf_proc_cgroup_path(const char *buf, size_t len, const char *controller, char *ret,
                             size_t cap);
/* "socket:[N]" → N. 0 or -EINVAL. */
int hk_ebpf_socket_inode(const char *link, size_t len, uint64_t *ret);
/* v1 hosts: finds the process holding each socket (<procfs>/<pid>/fd → "socket:[inode]") and
 * stores the inode of its `controller` cgroup directory under hier_fd in cgroup2_id (reused as
 * "owner id"); sockets without a known owner keep 0. Sorts socks by inode. socks may be NULL
 * when nsocks is 0. */
void hk_ebpf_tcp_attribute_v1(struct hk_tcp_sock *socks, size_t nsocks, int proc_fd, int hier_fd,
                              const char *controller);

/* ---- probes ---- */

struct hk_ebpf_env {
    const struct hk_paths *paths;
    const struct hk_hierarchy *hier; /* [HK_HIER_COUNT] */
    int attach_max;                  /* highest enum hk_attach_kind allowed (ladder end) */
    int attach_min;                  /* first rung tried */
    bool tracefs;                    /* classic tracepoints usable */
    bool syscall_latency;            /* syscalls probe: also hook sys_enter for latency */
    bool topology;                   /* tcp probe: per-peer edges (collector/ebpf_topo.h) */
    unsigned topology_max_peers;     /* edges per container before peer_ip="other" */
};
#define HK_TOPO_MAX_PEERS_MAX 4096

struct hk_ebpf_collect {
    struct hk_collect_ctx *ctx;
    const struct hk_containers *containers;
    /* Path of a kernel cgroup id in hierarchy h (re-walks once per cycle on a miss), or NULL. */
    const char *(*path_of)(void *self, enum hk_hier h, uint64_t id);
    /* True when id was unresolvable in the previous cycle too: its cgroup is gone and the
     * kernel map entry can be deleted (keeps maps from filling up with dead cgroups). */
    bool (*gone)(void *self, enum hk_hier h, uint64_t id);
    void *self;
    struct hk_hierarchy *hier; /* [HK_HIER_COUNT] */
};

struct hk_ebpf_prog_def;

struct hk_ebpf_probe {
    const char *name; /* hakari_ebpf_program_up{program=name} */
    bool opt_in;      /* only with collectors.ebpf.<name>: true */
    /* The program: skeleton, hooks, map and rows (run by collector/ebpf.c); NULL when built
     * with BPF=0. */
    const struct hk_ebpf_prog_def *def;
    /* Cheap fallback when the program is down (docs/ebpf.md, "Cheap fallbacks"); may be NULL. */
    int (*fallback)(struct hk_ebpf_collect *c);
};

/* &def in BPF=1 builds, NULL in BPF=0 ones (where the def and its skeleton do not exist). */
#if HK_WITH_BPF
#define HK_EBPF_DEF(def) (&(def))
#else
#define HK_EBPF_DEF(def) NULL
#endif

extern const struct hk_ebpf_probe hk_ebpf_probe_sched;
extern const struct hk_ebpf_probe hk_ebpf_probe_proc;
extern const struct hk_ebpf_probe hk_ebpf_probe_oom;
extern const struct hk_ebpf_probe hk_ebpf_probe_tcp;
extern const struct hk_ebpf_probe hk_ebpf_probe_blk;
extern const struct hk_ebpf_probe hk_ebpf_probe_syscalls;

/* Emits every row of rows through fn (after resolving nothing more): helper for a counter family
 * whose value is row->v[vi]; extra label value appended when extra_name != NULL. */
int hk_ebpf_emit_counter(struct hk_builder *b, const struct hk_metric_desc *desc,
                         const struct hk_ebpf_rows *rows, int vi, double scale,
                         const char *extra_value);

/* Aggregates one kernel entry: resolves (h, id) to labels and adds v/slots under sub.
 * Unresolvable ids are skipped: returns 1 when the cgroup is gone for good (the caller deletes
 * the map entry; the foreach helpers do), else 0, or -errno. */
int hk_ebpf_add(struct hk_ebpf_collect *c, struct hk_ebpf_rows *rows, enum hk_hier h, uint64_t id,
                uint32_t sub, const int64_t *v, size_t nv, const uint64_t *slots);

#if HK_WITH_BPF
#include <bpf/libbpf.h>
/* Calls fn(key, values, ncpu, arg) for every entry of a hash (ncpu 1) or per-CPU hash (values
 * of all CPUs, value_size bytes each, 8-byte aligned); an entry for which fn returns 1 is
 * deleted after the walk. 0 or -errno. */
int hk_ebpf_map_walk(struct bpf_map *map, size_t key_size, size_t value_size,
                     int (*fn)(const void *key, const void *vals, int ncpu, void *arg), void *arg);

/* One skeleton type behind void pointers (HK_EBPF_SKEL_OPS writes these). */
struct hk_ebpf_skel_ops {
    void *(*open)(void);
    struct bpf_object *(*obj)(void *skel);
    void (*configure)(void *skel, const struct hk_ebpf_env *env);
    int (*load)(void *skel);
    int (*attach)(void *skel);
    void (*destroy)(void *skel);
    struct bpf_map *(*stats)(void *skel); /* per-cgroup map (hash or per-CPU hash) */
    struct bpf_map *(*lost)(void *skel);  /* per-CPU u64 of lost events (HK_LOST_MAP) */
};

/* A loaded program (the probe state collector/ebpf.c keeps). */
struct hk_ebpf_prog {
    const struct hk_ebpf_prog_def *def;
    void *skel;
    struct hk_ebpf_ledger *ledger;
    void *priv; /* def->priv_size bytes, zeroed */
};

/* One kernel map entry summed over CPUs, as a probe's decode returns it. */
struct hk_ebpf_entry {
    uint64_t id;  /* cgroup id */
    uint32_t sub; /* probe-specific key part, 0 if none */
    int64_t v[HK_EBPF_ROW_VALUES];
    uint64_t slots[HK_NH_SLOTS];
};

/* What differs between probes; collector/ebpf.c does the rest: open → setup → ladder (open,
 * configure, load, attach per hook kind) → attached, and per cycle walk the stats map → decode
 * → rows (through the probe's ledger) → after_walk → settle → emit. */
struct hk_ebpf_prog_def {
    const struct hk_ebpf_skel_ops *ops;
    enum hk_hier hier;           /* hierarchy of the map's cgroup ids */
    size_t key_size, value_size; /* of the stats map (value of one CPU for per-CPU maps) */
    unsigned gauges;             /* bit i: v[i] is a gauge (hk_ebpf_ledger_new) */
    size_t priv_size;
    /* Optional, before loading: 0, or -errno with *ret_why (static string). */
    int (*setup)(struct hk_ebpf_prog *p, const struct hk_ebpf_env *env, const char **ret_why);
    /* Optional, once attached. */
    void (*attached)(struct hk_ebpf_prog *p, const struct hk_ebpf_env *env);
    /* Sums one map entry (vals: ncpu values) into ret (zeroed): 0 to count it, 1 to skip it. */
    int (*decode)(struct hk_ebpf_prog *p, const void *key, const void *vals, int ncpu,
                  struct hk_ebpf_entry *ret);
    /* Optional: more rows after the map walk, before they are settled. */
    int (*after_walk)(struct hk_ebpf_prog *p, struct hk_ebpf_collect *c, struct hk_ebpf_rows *rows);
    /* Emits the settled rows. */
    int (*emit)(struct hk_ebpf_prog *p, struct hk_ebpf_collect *c, struct hk_ebpf_rows *rows);
    /* Optional: frees what priv points to (also after a failed open). */
    void (*fini)(struct hk_ebpf_prog *p);
};

/* The hook ladder for one skeleton: for each attach kind from env->attach_min to
 * env->attach_max (skipping classic tracepoints without tracefs, and kinds the object has no
 * programs for), open → configure → load → attach. */
int hk_ebpf_open_ladder(const struct hk_ebpf_skel_ops *ops, const struct hk_ebpf_env *env,
                        void **ret_skel, int *ret_kind, const char **ret_why);

/* Defines `static const struct hk_ebpf_skel_ops var` for skeleton type `skel`, whose
 * per-cgroup map is maps.stats_map. */
#define HK_EBPF_SKEL_OPS(var, skel, configure_fn, stats_map)                                       \
    static void *var##_open(void)                                                                  \
    {                                                                                              \
        return skel##__open();                                                                     \
    }                                                                                              \
    static struct bpf_object *var##_obj(void *s)                                                   \
    {                                                                                              \
        return ((struct skel *)s)->obj;                                                            \
    }                                                                                              \
    static int var##_load(void *s)                                                                 \
    {                                                                                              \
        return skel##__load(s);                                                                    \
    }                                                                                              \
    static int var##_attach(void *s)                                                               \
    {                                                                                              \
        return skel##__attach(s);                                                                  \
    }                                                                                              \
    static void var##_destroy(void *s)                                                             \
    {                                                                                              \
        skel##__destroy(s);                                                                        \
    }                                                                                              \
    static struct bpf_map *var##_stats(void *s)                                                    \
    {                                                                                              \
        return ((struct skel *)s)->maps.stats_map;                                                 \
    }                                                                                              \
    static struct bpf_map *var##_lost(void *s)                                                     \
    {                                                                                              \
        return ((struct skel *)s)->maps.lost;                                                      \
    }                                                                                              \
    static const struct hk_ebpf_skel_ops var = {var##_open,  var##_obj,    configure_fn,           \
                                                var##_load,  var##_attach, var##_destroy,          \
                                                var##_stats, var##_lost}
#endif

#endif
