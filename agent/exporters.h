/* SPDX-License-Identifier: Apache-2.0 */
/* Glue between main and the exporters (HTTP /metrics, remote-write): start, reload, stop. */
#ifndef HK_EXPORTERS_H
#define HK_EXPORTERS_H

#include "agent/scheduler.h"
#include "core/config.h"
#include "core/snapshot.h"
#include "core/yaml.h"

struct hk_exporter_flags {
    const char *listen_address;  /* NULL = ":9810"; "" = no HTTP server */
    const char *config_file;     /* --web.config.file */
    const char *max_connections; /* --web.max-connections */
    const char *timeout;         /* --web.timeout */
    const char *header_timeout;  /* --web.read-header-timeout */
};

struct hk_exporters;

/* Validates flags and exporter config without starting anything. */
int hk_exporters_check(const struct hk_exporter_flags *flags, const struct hk_config *cfg,
                       struct hk_error *err);
int hk_exporters_start(const struct hk_exporter_flags *flags, const struct hk_config *cfg,
                       struct hk_registry *reg, struct hk_scheduler *sched,
                       struct hk_exporters **ret, struct hk_error *err);
/* Applies a new config (remote-write endpoints …); on failure the old one stays. */
int hk_exporters_reconfigure(struct hk_exporters *e, const struct hk_config *cfg,
                             struct hk_error *err);
/* SIGHUP for the HTTP server: re-reads --web.config.file (see hk_http_reload). */
int hk_exporters_reload_web(struct hk_exporters *e, struct hk_error *err);
/* Stops serving and flushes (remote-write savepoints). Accepts NULL. */
void hk_exporters_stop(struct hk_exporters *e);

#endif
