/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the cgroup collector shared by its files and its unit tests: pure parsers of
 * cgroup v1/v2 interface files and /proc/self/mountinfo, the Kubernetes cgroup path layout, and
 * the runtime metadata readers (OCI config.json, docker config.v2.json). Nothing here touches
 * the builder; everything is testable on byte buffers. */
#ifndef HK_CGROUP_INTERNAL_H
#define HK_CGROUP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "collector/cgroupfs.h"

/* ---- flat keyed files: "key value\n" (cpu.stat, memory.stat, memory.events, cpuacct.stat,
 * memory.oom_control). Only the requested keys are converted. ---- */

/* Fills vals[i] for each keys[i] found and sets bit i of *ret_found. Lines that do not parse are
 * skipped. Returns 0, or -EINVAL when nkeys > 64. */
int hk_cg_parse_keyed(const char *buf, size_t len, const char *const *keys, size_t nkeys,
                      uint64_t *vals, uint64_t *ret_found);

/* Single value files: a u64, or "max" (*ret_max = true, *ret = UINT64_MAX). v1 "-1" also maps to
 * max (cpu.cfs_quota_us). Returns 0 or -EINVAL. */
int hk_cg_parse_value(const char *buf, size_t len, uint64_t *ret, bool *ret_max);

/* cpu.max: "<quota|max> <period>". quota = 0 means unlimited ("max"). 0 or -EINVAL. */
int hk_cg_parse_cpu_max(const char *buf, size_t len, uint64_t *ret_quota_us,
                        uint64_t *ret_period_us);

/* PSI file ("some avg10=… total=N" and "full …"): totals in µs. Missing lines leave 0. */
struct hk_cg_psi {
    uint64_t some_total_us;
    uint64_t full_total_us;
};
int hk_cg_parse_pressure(const char *buf, size_t len, struct hk_cg_psi *ret);

/* Block I/O per device, merged from v2 io.stat or v1 blkio files. */
struct hk_cg_blkdev {
    uint32_t major, minor;
    uint64_t read_bytes, write_bytes, reads, writes;
    /* v1 only (every Op of io_service_bytes_recursive, for container_blkio_device_usage_total). */
    uint64_t sync_bytes, async_bytes, discard_bytes, total_bytes;
    bool has_v1_ops;
};
#define HK_CG_MAX_BLKDEVS 32

/* v2 io.stat: "MAJ:MIN rbytes=… wbytes=… rios=… wios=… …". Returns the number of devices (≤ cap),
 * extra devices ignored. */
int hk_cg_parse_io_stat(const char *buf, size_t len, struct hk_cg_blkdev *devs, size_t cap);

/* v1 blkio.*_recursive: "MAJ:MIN Op value" lines plus "Total N". bytes=true for
 * io_service_bytes, false for io_serviced. Merges into devs[0..*n), appending new devices up to
 * cap. Returns 0. */
int hk_cg_parse_blkio(const char *buf, size_t len, bool bytes, struct hk_cg_blkdev *devs, size_t *n,
                      size_t cap);

/* /proc/<pid>/net/dev: calls fn for each interface (skipping lo, veth*, docker*, nerdctl*). */
struct hk_cg_netdev {
    char name[32];
    uint64_t rx_bytes, rx_packets, rx_errors, rx_dropped;
    uint64_t tx_bytes, tx_packets, tx_errors, tx_dropped;
};
#define HK_CG_MAX_NETDEVS 16
int hk_cg_parse_net_dev(const char *buf, size_t len, struct hk_cg_netdev *devs, size_t cap);
bool hk_cg_netdev_skipped(const char *name);

/* /sys/dev/block/MAJ:MIN/uevent: "DEVNAME=sda". Copies the name (≤ cap-1). 0 or -EINVAL. */
int hk_cg_parse_uevent_devname(const char *buf, size_t len, char *name, size_t cap);

/* /proc/meminfo keys (kB → bytes) MemTotal, SwapTotal, SwapFree. */
struct hk_cg_meminfo {
    uint64_t mem_total, swap_total, swap_free;
};
int hk_cg_parse_meminfo(const char *buf, size_t len, struct hk_cg_meminfo *ret);

/* Number of lines (pids) in cgroup.procs and the first pid (0 when empty). */
uint64_t hk_cg_count_procs(const char *buf, size_t len, uint32_t *ret_first_pid);

/* ---- mounts ---- */

/* ---- Kubernetes cgroup path layout ---- */

enum hk_kube_kind {
    HK_KUBE_OTHER,     /* raw cgroup (extra roots, unknown layout) */
    HK_KUBE_ROOT,      /* "/" */
    HK_KUBE_KUBEPODS,  /* /kubepods, /kubepods.slice */
    HK_KUBE_QOS,       /* burstable / besteffort */
    HK_KUBE_POD,       /* pod<uid> */
    HK_KUBE_CONTAINER, /* runtime container (sandbox or app) */
};
enum hk_kube_qos { HK_QOS_NONE, HK_QOS_GUARANTEED, HK_QOS_BURSTABLE, HK_QOS_BESTEFFORT };
enum hk_kube_runtime {
    HK_RT_UNKNOWN,
    HK_RT_CONTAINERD,
    HK_RT_CRIO,
    HK_RT_DOCKER,
};

struct hk_kube_path {
    enum hk_kube_kind kind;
    enum hk_kube_qos qos;
    enum hk_kube_runtime runtime; /* from the leaf prefix; UNKNOWN for a bare 64-hex id */
    char pod_uid[40];             /* with dashes; "" outside a pod */
    char container_id[65];        /* 64 hex; "" unless kind == CONTAINER */
};

/* Classifies a cgroup path relative to the hierarchy root ("/kubepods.slice/…"). Works for the
 * cgroupfs and systemd drivers and leaves cri-containerd-<id>.scope, crio-<id>(.scope),
 * docker-<id>.scope, <id>. crio-conmon-<id> is not a container (raw). */
void hk_kube_parse_path(const char *path, struct hk_kube_path *ret);
/* Whether s (len) is a container id: exactly 64 lowercase hex digits. */
bool hk_kube_is_container_id(const char *s, size_t len);

/* ---- runtime metadata ---- */

struct hk_kube_meta {
    char *container; /* "" for sandboxes (containerd) or "POD" (docker, CRI-O) */
    char *image;
    char *name;
    char *namespace_;
    char *pod;
    char *pod_uid;
    bool sandbox;
    uint32_t pid; /* docker State.Pid when known, else 0 */
};
void hk_kube_meta_clear(struct hk_kube_meta *m);

/* containerd OCI bundle config.json (annotations io.kubernetes.cri.*). id is the container id
 * (the `name` label). 0, -EINVAL (not JSON / no annotations), -ENOMEM. */
int hk_kube_parse_containerd_oci(const char *json, size_t len, const char *id,
                                 const char *sandbox_image, struct hk_kube_meta *ret);
/* CRI-O userdata/config.json (annotations io.kubernetes.cri-o.*, io.kubernetes.pod.*). */
int hk_kube_parse_crio_oci(const char *json, size_t len, struct hk_kube_meta *ret);
/* docker config.v2.json (Name, Config.Image, Config.Labels, State.Pid). */
int hk_kube_parse_docker(const char *json, size_t len, struct hk_kube_meta *ret);
/* containerd config.toml: the CRI sandbox (pause) image, which OCI bundles do not record.
 * Copies it into buf; 0, or -ENOENT when not set. */
int hk_kube_parse_sandbox_image(const char *toml, size_t len, char *buf, size_t cap);

/* ---- kubelet /pods (collector/kubelet.c) ---- */

struct hk_config;
struct hk_error;

/* `kubernetes:` config section: validated by hk_kubelet_config_check (agent/sections.c). */
struct hk_kubelet_config {
    char *url;               /* base URL, e.g. https://10.0.0.7:10250; NULL = off */
    char *bearer_token_file; /* re-read on every request (token rotation) */
    char *ca_file;
    bool insecure_skip_verify;
    int64_t refresh_ms; /* minimum interval between requests */
    int64_t timeout_ms;
};
int hk_kubelet_config_parse(const struct hk_config *cfg, struct hk_kubelet_config *ret,
                            struct hk_error *err);
void hk_kubelet_config_free(struct hk_kubelet_config *c);
int hk_kubelet_config_check(const struct hk_config *cfg, struct hk_error *err);

/* One pod of a PodList, and one of its containers. Strings point into the parsed JSON. */
struct hk_kubelet_container {
    const char *name;
    const char *id; /* 64 hex, runtime prefix ("containerd://") stripped */
    const char *image;
};
/* The pod's controller (metadata.ownerReferences[controller=true]); NULLs when none. */
struct hk_kubelet_owner {
    const char *kind;
    const char *name;
};
typedef void (*hk_kubelet_pod_fn)(const char *uid, const char *name, const char *namespace_,
                                  const struct hk_kubelet_owner *owner,
                                  const struct hk_kubelet_container *containers, size_t n,
                                  void *ud);
/* Parses a PodList (kubelet /pods): calls fn per pod (up to 64 containers each, init and
 * ephemeral ones included). Returns the number of pods, -EINVAL or -ENOMEM. */
int hk_kubelet_parse_pods(const char *json, size_t len, hk_kubelet_pod_fn fn, void *ud);
/* GET <url>/pods with the bearer token and CA of c. Returns the body length (malloc'd in
 * *ret_body), or -errno (-EIO: transport or HTTP error, logged). */
ssize_t hk_kubelet_fetch_pods(const struct hk_kubelet_config *c, char **ret_body);

#endif
