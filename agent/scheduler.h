/* SPDX-License-Identifier: Apache-2.0 */
/* Runs the enabled collectors every collection interval, seals and publishes one snapshot per
 * cycle, and adds the agent's own metrics (hakari_collector_*, hakari_build_info, process_*). */
#ifndef HK_SCHEDULER_H
#define HK_SCHEDULER_H

#include "core/config.h"
#include "core/fsread.h"
#include "core/snapshot.h"
#include "core/yaml.h"

struct hk_scheduler;

/* Self-metric providers (remote-write, HTTP server …) add series to every snapshot; called on
 * the scheduler thread, so they read their own state with atomics or a lock. */
typedef void (*hk_self_metrics_fn)(struct hk_builder *b, void *userdata);

/* Initialises every enabled collector. Fails (err set) if a collector's init fails. */
int hk_scheduler_new(const struct hk_config *cfg, const struct hk_paths *paths,
                     struct hk_registry *reg, struct hk_scheduler **ret, struct hk_error *err);
void hk_scheduler_free(struct hk_scheduler *s);
int hk_scheduler_add_self_metrics(struct hk_scheduler *s, hk_self_metrics_fn fn, void *userdata);
/* One cycle: collect, seal, publish. Returns 0 or -ENOMEM. */
int hk_scheduler_run_once(struct hk_scheduler *s);
/* Starts the ticking thread (first cycle immediately). */
int hk_scheduler_start(struct hk_scheduler *s);
void hk_scheduler_stop(struct hk_scheduler *s);
/* Replaces the collectors with those of cfg (for SIGHUP); on failure the old set stays. The
 * scheduler keeps a pointer to cfg: it must live until the next reconfigure or free. */
int hk_scheduler_reconfigure(struct hk_scheduler *s, const struct hk_config *cfg,
                             struct hk_error *err);

#endif
