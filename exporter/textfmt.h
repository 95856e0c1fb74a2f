/* SPDX-License-Identifier: Apache-2.0 */
/* Renders a sealed snapshot as Prometheus text 0.0.4 or OpenMetrics 1.0.0. Pure: snapshot in,
 * bytes out; the HTTP server caches the result per snapshot. */
#ifndef HK_TEXTFMT_H
#define HK_TEXTFMT_H

#include <stddef.h>

#include "core/buf.h"
#include "core/labels.h"
#include "core/snapshot.h"

/* HK_TEXTFMT_PROTOBUF is rendered by exporter/protofmt.c (the delimited protobuf exposition);
 * hk_textfmt_render* render only the two text formats. */
enum hk_textfmt { HK_TEXTFMT_TEXT, HK_TEXTFMT_OPENMETRICS, HK_TEXTFMT_PROTOBUF };

#define HK_TEXTFMT_CONTENT_TYPE_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define HK_TEXTFMT_CONTENT_TYPE_OPENMETRICS                                                       \
    "application/openmetrics-text; version=1.0.0; charset=utf-8"

/* Appends the exposition to out; returns 0 or out->err. Series whose name is <stem>_created are
 * written in OpenMetrics only (text 0.0.4 has no such concept). */
int hk_textfmt_render(const struct hk_snapshot *snap, enum hk_textfmt fmt, struct hk_buf *out);

/* Bit of a target (enum hk_target) in the mask below. */
#define HK_TEXTFMT_TARGET(t) (1u << (t))
#define HK_TEXTFMT_ALL_TARGETS ((1u << HK_TARGET_COUNT) - 1)
/* Same, with only the families whose target (hk_family.target) is in the mask: the bodies of
 * /metrics/node (HK_TEXTFMT_TARGET(HK_TARGET_NODE)), /metrics/cadvisor, /metrics/self. */
int hk_textfmt_render_targets(const struct hk_snapshot *snap, enum hk_textfmt fmt, unsigned targets,
                              struct hk_buf *out);
/* Shortest text that parses back to v (Go's 'g' -1 style); +Inf, -Inf, NaN. Returns length. */
size_t hk_format_double(char *buf, size_t cap, double v);
/* Escapes a label value for both formats (\\, \", \n). */
int hk_textfmt_escape_value(struct hk_buf *out, const char *v);

#endif
