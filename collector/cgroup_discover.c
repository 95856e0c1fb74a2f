/* SPDX-License-Identifier: Apache-2.0 */
/* The cgroup collector's hierarchies: the cgroup mounts found by collector/cgroupfs.c (v2, v1 or
 * hybrid), boot time from <procfs>/stat and the sandbox image from containerd's config.toml. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/cgroup_collector.h"
#include "core/fsread.h"

/* ---- discovery ---- */

void hk_cgroup_discover(struct cgroup_state *st)
{
    const struct hk_paths *paths = st->paths;
    struct hk_cg_mounts m;
    hk_cgroupfs_discover(paths, &m);
    static const enum hier map[HK_CG_NCTRL] = {H_CPU, H_CPUACCT, H_MEMORY, H_BLKIO, H_PIDS};
    for (int h = 0; h < H_COUNT; h++) {
        st->hier_fd[h] = -1;
        st->hier_alias[h] = h;
    }
    bool any_v1 = false;
    for (int i = 0; i < HK_CG_NCTRL; i++) {
        if (!m.v1[i][0])
            continue;
        int h = map[i];
        /* Co-mounted controllers (cpu,cpuacct) share one directory tree. */
        for (int j = 0; j < i; j++)
            if (m.v1[j][0] && strcmp(m.v1[j], m.v1[i]) == 0 && st->hier_fd[map[j]] >= 0)
                st->hier_alias[h] = st->hier_alias[map[j]];
        if (st->hier_alias[h] != h)
            continue;
        int fd = hk_cgroupfs_open_mount(paths, m.v1[i]);
        if (fd >= 0) {
            st->hier_fd[h] = fd;
            any_v1 = true;
        }
    }
    if (m.v2[0]) {
        int fd = hk_cgroupfs_open_mount(paths, m.v2);
        if (fd >= 0)
            st->hier_fd[H_V2] = fd;
    }
    st->v2 = !any_v1 && st->hier_fd[H_V2] >= 0;
    if (st->v2) {
        st->walk_hier = H_V2;
    } else {
        static const enum hier order[] = {H_CPU, H_MEMORY, H_CPUACCT, H_PIDS, H_BLKIO};
        st->walk_hier = H_CPU;
        for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
            if (st->hier_fd[st->hier_alias[order[i]]] >= 0) {
                st->walk_hier = st->hier_alias[order[i]];
                break;
            }
    }
    for (int h = 0; h < H_COUNT; h++)
        if (st->hier_alias[h] != h)
            st->hier_fd[h] = -1; /* reached through the alias */
}

void hk_cgroup_read_boot_time(struct cgroup_state *st)
{
    char buf[16384];
    ssize_t len = hk_read_file_at(st->paths->proc_fd, "stat", buf, sizeof(buf));
    static const char *const k[] = {"btime"};
    uint64_t v = 0, found = 0;
    if (len == -EFBIG) {
        char *big = NULL;
        len = hk_read_file_alloc(st->paths->proc_fd, "stat", 1 << 20, &big);
        if (len >= 0)
            hk_cg_parse_keyed(big, (size_t)len, k, 1, &v, &found);
        free(big);
    } else if (len >= 0) {
        hk_cg_parse_keyed(buf, (size_t)len, k, 1, &v, &found);
    }
    st->boot_time = (double)v;
}

void hk_cgroup_read_sandbox_image(struct cgroup_state *st)
{
    char *toml = NULL;
    ssize_t len =
        hk_read_file_alloc(st->paths->root_fd, "etc/containerd/config.toml", 1 << 20, &toml);
    if (len >= 0 && hk_kube_parse_sandbox_image(toml, (size_t)len, st->sandbox_image,
                                                sizeof(st->sandbox_image)) < 0)
        st->sandbox_image[0] = '\0';
    free(toml);
}
