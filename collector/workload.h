/* SPDX-License-Identifier: Apache-2.0 */
/* Which workload runs a pod: the controller that owns it, followed up the usual chains
 * (ReplicaSet → Deployment, Job → CronJob) by name, since the kubelet's /pods lists pods only.
 * Without the kubelet, from the pod's name alone (a guess; see collector/workload.c). Pure
 * functions on strings, used by the cgroup collector for container_pod_workload_info. */
#ifndef HK_WORKLOAD_H
#define HK_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>

/* Kubernetes object names are at most 253 bytes. */
#define HK_WORKLOAD_NAME_MAX 254

struct hk_workload {
    char kind[32]; /* "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob",
                      "Pod", or the owner's kind as given */
    char name[HK_WORKLOAD_NAME_MAX];
};

/* From the pod's controller owner reference (kind, name; NULL or "" when the pod has none):
 * a ReplicaSet named <d>-<pod-template-hash> is Deployment <d>, a Job named <c>-<digits> is
 * CronJob <c>, a Node (static pods' mirror) or no owner makes the pod its own workload ("Pod").
 * 0, or -EINVAL when a name does not fit. */
int hk_workload_from_owner(const char *pod, const char *owner_kind, const char *owner_name,
                           struct hk_workload *ret);

/* From the pod's name alone: <d>-<hash>-<xxxxx> Deployment, <c>-<digits>-<xxxxx> CronJob,
 * <s>-<ordinal> StatefulSet, <ds>-<xxxxx> DaemonSet (a plain Job's pods look the same),
 * anything else "Pod". 0 or -EINVAL. */
int hk_workload_from_pod_name(const char *pod, struct hk_workload *ret);

/* Whether s (len) could be a name suffix the controllers generate: pod-template-hash
 * (1..10 characters of "bcdfghjklmnpqrstvwxz2456789") / a 5-character random suffix. */
bool hk_workload_is_hash(const char *s, size_t len, size_t min, size_t max);

#endif
