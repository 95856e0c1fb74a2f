/* SPDX-License-Identifier: Apache-2.0 */
/* Remote-write exporter: one pipeline per `remote_write` endpoint. Each published snapshot is
 * handed (by reference) to the endpoint's thread, diffed against the previous one (vanished
 * series get one stale marker), relabelled, given the external labels, and appended to the
 * endpoint's durable queue; the sender (rw_send.h) delivers it. */
#ifndef HK_RW_H
#define HK_RW_H

#include "core/config.h"
#include "core/snapshot.h"
#include "core/yaml.h"

struct hk_rw;

/* Subscribes to reg (once), then starts the endpoints of cfg. The caller registers
 * hk_rw_self_metrics with its scheduler (agent/exporters.c). */
int hk_rw_start(const struct hk_config *cfg, struct hk_registry *reg, struct hk_rw **ret,
                struct hk_error *err);
/* Replaces the endpoints: the old ones flush and stop (their queues stay on disk), then the new
 * ones start and resume from their savepoints. On failure the old set keeps running. */
int hk_rw_reconfigure(struct hk_rw *rw, const struct hk_config *cfg, struct hk_error *err);
/* Stops every endpoint (flushing the round in flight and the savepoint). Call after the
 * scheduler stopped publishing. Accepts NULL. */
void hk_rw_stop(struct hk_rw *rw);
/* Self-metrics provider (hakari_remote_storage_*). */
void hk_rw_self_metrics(struct hk_builder *b, void *rw);

#endif
