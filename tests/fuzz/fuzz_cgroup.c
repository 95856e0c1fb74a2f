/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the cgroup collector's parsers (collector/cgroup_internal.h): cgroup v1/v2
 * interface files (cpu.stat/memory.stat keyed files, single values, cpu.max, pressure, io.stat,
 * blkio), net/dev, uevent, meminfo, cgroup.procs, mountinfo, Kubernetes cgroup paths, and the
 * runtime/kubelet JSON (containerd/CRI-O OCI config.json, docker config.v2.json, containerd
 * config.toml, kubelet /pods). Input: [parser byte] then the bytes, on an exact-size copy. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/cgroup_fs.h"
#include "collector/cgroup_internal.h"
#include "collector/netaddr.h"
#include "collector/workload.h"
#include "core/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    hk_log_setup(HK_LOG_ERROR, HK_LOG_LOGFMT);
    return 0;
}

static void check_str(const char *s)
{
    if (s && strlen(s) > (1u << 20))
        abort();
}

static void on_pod(const char *uid, const char *name, const char *namespace_,
                   const struct hk_kubelet_owner *owner,
                   const struct hk_kubelet_container *containers, size_t n, void *ud)
{
    if (n > 64)
        abort();
    check_str(uid);
    check_str(name);
    check_str(namespace_);
    check_str(owner->kind);
    check_str(owner->name);
    for (size_t i = 0; i < n; i++) {
        check_str(containers[i].name);
        check_str(containers[i].image);
        if (containers[i].id && !hk_kube_is_container_id(containers[i].id,
                                                         strlen(containers[i].id)))
            abort();
    }
}

static void check_meta(int r, struct hk_kube_meta *m)
{
    if (r == 0) {
        check_str(m->container);
        check_str(m->image);
        check_str(m->name);
        check_str(m->namespace_);
        check_str(m->pod);
        check_str(m->pod_uid);
    }
    hk_kube_meta_clear(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t len = size - 1;
    char *buf = malloc(len ? len : 1);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, len);
    /* 16–20: added later; seeds 0–15 keep their meaning. */
    unsigned sel = data[0] >= 16 && data[0] <= 20 ? data[0] : data[0] % 16u;
    switch (sel) {
    case 0: {
        static const char *const keys[] = {"usage_usec", "user_usec", "system_usec",
                                           "nr_throttled", "throttled_usec", "anon", "file",
                                           "pgfault", "total_rss", "hierarchical_memory_limit"};
        uint64_t vals[10], found = 0;
        if (hk_cg_parse_keyed(buf, len, keys, 10, vals, &found) == 0 && (found >> 10))
            abort();
        break;
    }
    case 1: {
        uint64_t v;
        bool max = false;
        if (hk_cg_parse_value(buf, len, &v, &max) == 0 && max && v != UINT64_MAX)
            abort();
        break;
    }
    case 2: {
        uint64_t q, p;
        (void)hk_cg_parse_cpu_max(buf, len, &q, &p);
        break;
    }
    case 3: {
        struct hk_cg_psi psi;
        (void)hk_cg_parse_pressure(buf, len, &psi);
        break;
    }
    case 4: {
        struct hk_cg_blkdev devs[HK_CG_MAX_BLKDEVS];
        int n = hk_cg_parse_io_stat(buf, len, devs, HK_CG_MAX_BLKDEVS);
        if (n > HK_CG_MAX_BLKDEVS)
            abort();
        break;
    }
    case 5:
    case 6: {
        struct hk_cg_blkdev devs[HK_CG_MAX_BLKDEVS];
        size_t n = 0;
        memset(devs, 0, sizeof(devs));
        (void)hk_cg_parse_blkio(buf, len, data[0] % 16 == 5, devs, &n, HK_CG_MAX_BLKDEVS);
        /* Twice: the second pass merges into the devices of the first. */
        (void)hk_cg_parse_blkio(buf, len, data[0] % 16 == 5, devs, &n, HK_CG_MAX_BLKDEVS);
        if (n > HK_CG_MAX_BLKDEVS)
            abort();
        break;
    }
    case 7: {
        struct hk_cg_netdev devs[HK_CG_MAX_NETDEVS];
        int n = hk_cg_parse_net_dev(buf, len, devs, HK_CG_MAX_NETDEVS);
        if (n > HK_CG_MAX_NETDEVS)
            abort();
        for (int i = 0; i < n; i++)
            if (!memchr(devs[i].name, '\0', sizeof(devs[i].name)) ||
                hk_cg_netdev_skipped(devs[i].name))
                abort();
        break;
    }
    case 8: {
        char name[64];
        if (hk_cg_parse_uevent_devname(buf, len, name, sizeof(name)) == 0 &&
            !memchr(name, '\0', sizeof(name)))
            abort();
        struct hk_cg_meminfo mi;
        (void)hk_cg_parse_meminfo(buf, len, &mi);
        uint32_t first;
        (void)hk_cg_count_procs(buf, len, &first);
        int64_t soft;
        if (hk_cg_parse_limits_nofile(buf, len, &soft) == 0 && soft < -1)
            abort();
        break;
    }
    case 9: {
        struct hk_cg_mounts m;
        memset(&m, 0, sizeof(m));
        (void)hk_cgroupfs_parse_mounts(buf, len, &m);
        char upper[64];
        int ul = hk_cg_parse_root_upperdir(buf, len, upper, sizeof(upper));
        if (ul > 0 &&
            ((size_t)ul >= sizeof(upper) || strlen(upper) != (size_t)ul || upper[0] != '/'))
            abort();
        for (int i = 0; i < HK_CG_NCTRL; i++)
            if (!memchr(m.v1[i], '\0', sizeof(m.v1[i])))
                abort();
        if (!memchr(m.v2, '\0', sizeof(m.v2)))
            abort();
        break;
    }
    case 10: {
        char *path = strndup(buf, len);
        if (path) {
            struct hk_kube_path kp;
            hk_kube_parse_path(path, &kp);
            if (!memchr(kp.pod_uid, '\0', sizeof(kp.pod_uid)) ||
                !memchr(kp.container_id, '\0', sizeof(kp.container_id)))
                abort();
            if (kp.kind == HK_KUBE_CONTAINER &&
                !hk_kube_is_container_id(kp.container_id, strlen(kp.container_id)))
                abort();
            free(path);
        }
        break;
    }
    case 11: {
        struct hk_kube_meta m = {0};
        check_meta(hk_kube_parse_containerd_oci(
                       buf, len, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                       "registry.k8s.io/pause:3.9", &m),
                   &m);
        break;
    }
    case 12: {
        struct hk_kube_meta m = {0};
        check_meta(hk_kube_parse_crio_oci(buf, len, &m), &m);
        break;
    }
    case 13: {
        struct hk_kube_meta m = {0};
        check_meta(hk_kube_parse_docker(buf, len, &m), &m);
        break;
    }
    case 14: {
        char img[256];
        if (hk_kube_parse_sandbox_image(buf, len, img, sizeof(img)) == 0 &&
            !memchr(img, '\0', sizeof(img)))
            abort();
        break;
    }
    case 16: {
        uint32_t addrs[8];
        int n = hk_netaddr_parse_fib_trie(buf, len, addrs, 8);
        for (int i = 0; i < n && i < 8; i++) {
            const unsigned char *b = (const unsigned char *)&addrs[i];
            if (b[0] == 127)
                abort();
        }
        break;
    }
    case 17: {
        struct hk_netaddr_route routes[16];
        int n = hk_netaddr_parse_route(buf, len, routes, 16);
        if (n > 16)
            abort();
        for (int i = 0; i < n; i++)
            if (!memchr(routes[i].ifname, '\0', sizeof(routes[i].ifname)))
                abort();
        if (n > 0)
            (void)hk_netaddr_route_dev(routes, (size_t)n, routes[0].dst);
        break;
    }
    case 18: {
        struct hk_netaddr a[4];
        size_t n = 0;
        (void)hk_netaddr_parse_if_inet6(buf, len, a, &n, 4);
        if (n > 4)
            abort();
        for (size_t i = 0; i < n; i++)
            if (!memchr(a[i].ip, '\0', sizeof(a[i].ip)) || strcmp(a[i].ifname, "lo") == 0)
                abort();
        break;
    }
    case 19:
    case 20: {
        /* NUL-separated pod name, owner kind, owner name. */
        char *z = malloc(len + 3);
        if (!z)
            break;
        memcpy(z, buf, len);
        z[len] = z[len + 1] = z[len + 2] = '\0';
        const char *kind = z + strlen(z) + 1;
        const char *name = kind < z + len + 1 ? kind + strlen(kind) + 1 : z + len + 2;
        struct hk_workload w;
        int r = sel == 19 ? hk_workload_from_pod_name(z, &w)
                          : hk_workload_from_owner(z, kind, name, &w);
        if (r == 0 && (!memchr(w.name, '\0', sizeof(w.name)) || !w.kind[0]))
            abort();
        free(z);
        break;
    }
    default:
        (void)hk_kubelet_parse_pods(buf, len, on_pod, NULL);
        break;
    }
    free(buf);
    return 0;
}
