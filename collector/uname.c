/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel and host identification, node_exporter's uname collector.
 * Reads: uname(2) — the UTS namespace hakari runs in: in a DaemonSet with hostNetwork (which
 * shares the host's UTS namespace) nodename is the node's host name, otherwise the pod's.
 * Emits: node_uname_info{domainname,machine,nodename,release,sysname,version} 1. */
#include <errno.h>
#include <sys/utsname.h>

#include "core/collector.h"

static const char *const uname_labels[] = {"domainname", "machine", "nodename", "release",
                                           "sysname",    "version", NULL};
static const struct hk_metric_desc desc_uname = {
    "node_uname_info", "Labeled system information as provided by the uname system call.",
    HK_METRIC_GAUGE, "", uname_labels};

static int uname_collect(void *state, struct hk_collect_ctx *ctx)
{
    (void)state;
    struct utsname u;
    if (uname(&u) < 0)
        return -errno;
    /* The kernel NUL-terminates every field (__NEW_UTS_LEN + 1 bytes). */
    const char *values[] = {u.domainname, u.machine, u.nodename, u.release, u.sysname, u.version};
    hk_emit(ctx->b, &desc_uname, values, 1);
    return 0;
}

const struct hk_collector_ops hk_collector_uname = {
    .name = "uname",
    .help = "kernel name, release, version, machine and host name from uname(2) (node_uname_info)",
    .default_enabled = true,
    .collect = uname_collect,
};
