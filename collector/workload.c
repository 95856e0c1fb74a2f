/* SPDX-License-Identifier: Apache-2.0 */
/* Workload of a pod, from its owner reference or from its name. Kubernetes builds the names of
 * the objects its controllers create from the parent's name and a generated suffix:
 *   Deployment d → ReplicaSet d-<pod-template-hash> → pods d-<hash>-<5 random>
 *   CronJob c → Job c-<scheduled time in minutes> → pods c-<minutes>-<5 random>
 *   StatefulSet s → pods s-<ordinal>;  DaemonSet ds and Job j → pods ds-<5 random>, j-<5 random>
 * Hash and random suffixes use the alphabet of k8s.io/apimachinery's rand.SafeEncodeString
 * ("bcdfghjklmnpqrstvwxz2456789": no vowels, no 0/1/3), so an English word never looks like one.
 *
 * Owner references are exact up to the by-name step (a ReplicaSet or Job created by hand with a
 * name of that shape is taken for a Deployment's or CronJob's). Names alone are a guess, and the
 * choices are conservative:
 *   - <x>-<y>-<5 random> is a Deployment only when y is a hash, a CronJob's Job when y is all
 *     digits (a hash of digits only is read as a CronJob's minutes);
 *   - <x>-<5 random> is reported as a DaemonSet: a plain Job's pods have the same shape, and on
 *     a node DaemonSet pods are the common case; the workload name is right either way;
 *   - <x>-<ordinal> (decimal, no leading zero, at most 4 digits: a longer number is more likely
 *     a timestamp or a build number than a StatefulSet's 10000th replica) is a StatefulSet;
 *   - anything else is its own workload, kind "Pod". */
#include <errno.h>
#include <string.h>

#include "collector/workload.h"

static bool in_alphabet(char c)
{
    return c && strchr("bcdfghjklmnpqrstvwxz2456789", c) != NULL;
}

bool hk_workload_is_hash(const char *s, size_t len, size_t min, size_t max)
{
    if (len < min || len > max)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!in_alphabet(s[i]))
            return false;
    return true;
}

static bool all_digits(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int set(struct hk_workload *w, const char *kind, const char *name, size_t len)
{
    size_t kl = strlen(kind);
    if (kl >= sizeof(w->kind) || len >= sizeof(w->name))
        return -EINVAL;
    memcpy(w->kind, kind, kl + 1);
    memcpy(w->name, name, len);
    w->name[len] = '\0';
    return 0;
}

/* Length of s up to its last '-', or 0 when there is none (or nothing before it). */
static size_t before_last_dash(const char *s, size_t len)
{
    for (size_t i = len; i > 0; i--)
        if (s[i - 1] == '-')
            return i - 1;
    return 0;
}

int hk_workload_from_owner(const char *pod, const char *owner_kind, const char *owner_name,
                           struct hk_workload *ret)
{
    struct hk_workload w;
    if (!pod || !pod[0])
        return -EINVAL;
    if (!owner_kind || !owner_kind[0] || !owner_name || !owner_name[0] ||
        strcmp(owner_kind, "Node") == 0) {
        /* No controller, or a static pod (its mirror is owned by the Node). */
        int r = set(&w, "Pod", pod, strlen(pod));
        if (r == 0)
            *ret = w;
        return r;
    }
    size_t len = strlen(owner_name), head = before_last_dash(owner_name, len);
    const char *tail = owner_name + head + 1;
    size_t tl = head ? len - head - 1 : 0;
    int r;
    if (head && strcmp(owner_kind, "ReplicaSet") == 0 && hk_workload_is_hash(tail, tl, 1, 10))
        r = set(&w, "Deployment", owner_name, head);
    else if (head && strcmp(owner_kind, "Job") == 0 && all_digits(tail, tl))
        r = set(&w, "CronJob", owner_name, head);
    else
        r = set(&w, owner_kind, owner_name, len);
    if (r == 0)
        *ret = w;
    return r;
}

int hk_workload_from_pod_name(const char *pod, struct hk_workload *ret)
{
    struct hk_workload w;
    if (!pod || !pod[0])
        return -EINVAL;
    size_t len = strlen(pod), h1 = before_last_dash(pod, len);
    const char *s1 = pod + h1 + 1;
    size_t l1 = h1 ? len - h1 - 1 : 0;
    int r;
    if (h1 && hk_workload_is_hash(s1, l1, 5, 5)) {
        size_t h2 = before_last_dash(pod, h1);
        const char *s2 = pod + h2 + 1;
        size_t l2 = h2 ? h1 - h2 - 1 : 0;
        if (h2 && all_digits(s2, l2))
            r = set(&w, "CronJob", pod, h2);
        else if (h2 && hk_workload_is_hash(s2, l2, 1, 10))
            r = set(&w, "Deployment", pod, h2);
        else
            r = set(&w, "DaemonSet", pod, h1);
    } else if (h1 && l1 <= 4 && all_digits(s1, l1) && (l1 == 1 || s1[0] != '0')) {
        r = set(&w, "StatefulSet", pod, h1);
    } else {
        r = set(&w, "Pod", pod, len);
    }
    if (r == 0)
        *ret = w;
    return r;
}
