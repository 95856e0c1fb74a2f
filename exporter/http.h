/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP server (libmicrohttpd): GET/HEAD /metrics (everything) and the per-target
 * /metrics/node (node_exporter's families: node_*, textfile), /metrics/cadvisor (container_*,
 * machine_*) and /metrics/self (hakari_*, process_*), in text 0.0.4 or OpenMetrics (by Accept),
 * gzip (by Accept-Encoding); /-/healthy, /-/ready, and a landing page at /. Each body is rendered
 * once per snapshot and shared by concurrent scrapes; a render failure answers 500. The probes
 * need no credentials; the web config reloads on hk_http_reload, its TLS files when they change
 * on disk; slow and idle connections are closed past a header deadline or the connection limit. */
#ifndef HK_HTTP_H
#define HK_HTTP_H

#include <stdint.h>

#include "core/snapshot.h"
#include "core/error.h"

struct hk_http_options {
    const char *listen_address;  /* "host:port", ":port", "[::1]:port" */
    unsigned max_connections;    /* default 64; past it the oldest waiting connection is evicted */
    unsigned timeout_s;          /* idle connection timeout, default 30 */
    unsigned header_timeout_ms;  /* deadline for a complete request header, default 10000 */
    unsigned threads;            /* thread pool size, default 2 */
    size_t max_body_bytes;       /* cap on a rendered body, default 512 MiB */
    const char *web_config_file; /* TLS + basic auth (Prometheus web-config); NULL = none */
};

struct hk_http;

/* Checks options (address syntax, web config file) without binding. */
int hk_http_check(const struct hk_http_options *opt, struct hk_error *err);
int hk_http_start(const struct hk_http_options *opt, struct hk_registry *reg, struct hk_http **ret,
                  struct hk_error *err);
/* Re-reads the web config file (users, headers, TLS settings and files). 1 when reloaded, 0
 * without a web config file, -errno with err set when the new one is invalid (the old one stays
 * in force). Switching TLS on or off is refused: the listener's protocol is fixed at start. */
int hk_http_reload(struct hk_http *h, struct hk_error *err);
/* The bound port (useful with port 0). */
uint16_t hk_http_port(const struct hk_http *h);
void hk_http_stop(struct hk_http *h);
/* Adds hakari_http_* self-metrics; a hk_self_metrics_fn. */
void hk_http_self_metrics(struct hk_builder *b, void *http);

#endif
