/* SPDX-License-Identifier: Apache-2.0 */
/* The static collector table: one line per collector, in the order they run each cycle. */
#include <stddef.h>
#include <string.h>

#include "core/collector.h"

extern const struct hk_collector_ops hk_collector_loadavg;
extern const struct hk_collector_ops hk_collector_cpu;
extern const struct hk_collector_ops hk_collector_diskstats;
extern const struct hk_collector_ops hk_collector_filesystem;
extern const struct hk_collector_ops hk_collector_machine;
extern const struct hk_collector_ops hk_collector_meminfo;
extern const struct hk_collector_ops hk_collector_netdev;
extern const struct hk_collector_ops hk_collector_pressure;
/* nodeproc: procfs network/VM collectors */
extern const struct hk_collector_ops hk_collector_vmstat;
extern const struct hk_collector_ops hk_collector_netstat;
extern const struct hk_collector_ops hk_collector_sockstat;
extern const struct hk_collector_ops hk_collector_softnet;
extern const struct hk_collector_ops hk_collector_filefd;
extern const struct hk_collector_ops hk_collector_conntrack;
extern const struct hk_collector_ops hk_collector_entropy;
/* end nodeproc */
extern const struct hk_collector_ops hk_collector_cgroup;
extern const struct hk_collector_ops hk_collector_ebpf;
extern const struct hk_collector_ops hk_collector_textfile;
/* nodesys: sysfs and system-call node collectors */
extern const struct hk_collector_ops hk_collector_netclass;
extern const struct hk_collector_ops hk_collector_time;
extern const struct hk_collector_ops hk_collector_timex;
extern const struct hk_collector_ops hk_collector_uname;
extern const struct hk_collector_ops hk_collector_os;

const struct hk_collector_ops *const hk_collectors[] = {
    &hk_collector_loadavg,
    &hk_collector_cpu,
    &hk_collector_diskstats,
    &hk_collector_filesystem,
    &hk_collector_machine,
    &hk_collector_meminfo,
    &hk_collector_netdev,
    &hk_collector_pressure,
    /* nodeproc */
    &hk_collector_vmstat,
    &hk_collector_netstat,
    &hk_collector_sockstat,
    &hk_collector_softnet,
    &hk_collector_filefd,
    &hk_collector_conntrack,
    &hk_collector_entropy,
    /* end nodeproc */
    /* nodesys: sysfs and system-call node collectors */
    &hk_collector_netclass,
    &hk_collector_time,
    &hk_collector_timex,
    &hk_collector_uname,
    &hk_collector_os,
    &hk_collector_cgroup,
    /* After the cgroup collector: it resolves cgroup ids through the container index. */
    &hk_collector_ebpf,
    &hk_collector_textfile,
    NULL,
};

const struct hk_collector_ops *hk_collector_find(const char *name)
{
    for (size_t i = 0; hk_collectors[i]; i++)
        if (strcmp(hk_collectors[i]->name, name) == 0)
            return hk_collectors[i];
    return NULL;
}
