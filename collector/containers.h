/* SPDX-License-Identifier: Apache-2.0 */
/* The node's container index: cgroup path → the cAdvisor base labels (container, id, image, name,
 * namespace, pod). The cgroup collector publishes a fresh table each cycle; other collectors
 * (eBPF, …) look cgroups up in it, rolling nested cgroups up to their nearest listed ancestor.
 * Tables are immutable and reference counted: lookups never block the publisher. */
#ifndef HK_CONTAINERS_H
#define HK_CONTAINERS_H

#include <stddef.h>

struct hk_container_entry {
    const char *path; /* cgroup path relative to the hierarchy root, "/" for the root */
    const char *container;
    const char *image;
    const char *name;
    const char *namespace_;
    const char *pod;
};

struct hk_containers;

/* Copies entries into a new table and makes it current. 0 or -ENOMEM. */
int hk_containers_publish(const struct hk_container_entry *entries, size_t n);
/* The current table (a reference; NULL before the first publish). */
struct hk_containers *hk_containers_acquire(void);
void hk_containers_unref(struct hk_containers *t);
/* Entry for path, or for its longest listed ancestor ("/" last); NULL if none. The pointer lives
 * as long as the table reference. */
const struct hk_container_entry *hk_containers_lookup(const struct hk_containers *t,
                                                      const char *path);
size_t hk_containers_count(const struct hk_containers *t);
/* Drops the current table (tests, shutdown). */
void hk_containers_reset(void);

#endif
