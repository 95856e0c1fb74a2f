/* SPDX-License-Identifier: Apache-2.0 */
/* Starts and stops the exporters for main: the HTTP server now; remote-write endpoints are added
 * here by the remote-write module. */
#include "agent/exporters.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/yaml.h"
#include "exporter/http.h"
#include "exporter/rw.h"

struct hk_exporters {
    struct hk_http *http;
    struct hk_rw *rw;
};

static int http_options(const struct hk_exporter_flags *f, struct hk_http_options *o,
                        struct hk_error *err)
{
    memset(o, 0, sizeof(*o));
    o->listen_address = f->listen_address ? f->listen_address : ":9810";
    o->web_config_file = f->config_file;
    if (f->max_connections) {
        char *end;
        unsigned long v = strtoul(f->max_connections, &end, 10);
        if (*end || v == 0 || v > 100000) {
            snprintf(err->msg, sizeof(err->msg), "--web.max-connections: expected 1..100000");
            return -EINVAL;
        }
        o->max_connections = (unsigned)v;
    }
    if (f->timeout) {
        int64_t ms;
        if (hk_parse_duration_ms(f->timeout, &ms) < 0 || ms < 1000 || ms > 3600000) {
            snprintf(err->msg, sizeof(err->msg), "--web.timeout: expected a duration 1s..1h");
            return -EINVAL;
        }
        o->timeout_s = (unsigned)(ms / 1000);
    }
    if (f->header_timeout) {
        int64_t ms;
        if (hk_parse_duration_ms(f->header_timeout, &ms) < 0 || ms < 100 || ms > 3600000) {
            snprintf(err->msg, sizeof(err->msg),
                     "--web.read-header-timeout: expected a duration 100ms..1h");
            return -EINVAL;
        }
        o->header_timeout_ms = (unsigned)ms;
    }
    return 0;
}

int hk_exporters_check(const struct hk_exporter_flags *flags, const struct hk_config *cfg,
                       struct hk_error *err)
{
    struct hk_http_options o;
    int r = http_options(flags, &o, err);
    if (r < 0)
        return r;
    if (o.listen_address[0])
        return hk_http_check(&o, err);
    return 0;
}

int hk_exporters_start(const struct hk_exporter_flags *flags, const struct hk_config *cfg,
                       struct hk_registry *reg, struct hk_scheduler *sched,
                       struct hk_exporters **ret, struct hk_error *err)
{
    struct hk_exporters *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    struct hk_http_options o;
    int r = http_options(flags, &o, err);
    if (r == 0 && o.listen_address[0]) {
        r = hk_http_start(&o, reg, &e->http, err);
        if (r == 0)
            r = hk_scheduler_add_self_metrics(sched, hk_http_self_metrics, e->http);
    }
    if (r == 0)
        r = hk_rw_start(cfg, reg, &e->rw, err);
    if (r == 0 && (r = hk_scheduler_add_self_metrics(sched, hk_rw_self_metrics, e->rw)) < 0)
        hk_error_at(err, NULL, "cannot register the remote-write self-metrics");
    if (r < 0) {
        hk_exporters_stop(e);
        return r;
    }
    *ret = e;
    return 0;
}

int hk_exporters_reconfigure(struct hk_exporters *e, const struct hk_config *cfg,
                             struct hk_error *err)
{
    return hk_rw_reconfigure(e->rw, cfg, err);
}

int hk_exporters_reload_web(struct hk_exporters *e, struct hk_error *err)
{
    return e && e->http ? hk_http_reload(e->http, err) : 0;
}

void hk_exporters_stop(struct hk_exporters *e)
{
    if (!e)
        return;
    hk_rw_stop(e->rw);
    hk_http_stop(e->http);
    free(e);
}
