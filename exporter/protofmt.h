/* SPDX-License-Identifier: Apache-2.0 */
/* Renders a sealed snapshot in the Prometheus protobuf exposition format: a stream of
 * varint-length-delimited io.prometheus.client.MetricFamily messages (proto/metrics.proto), what
 * Prometheus asks for first in Accept when native histograms are enabled. Pure: snapshot in,
 * bytes out; meant to be rendered once per snapshot and shared like the text bodies. */
#ifndef HK_PROTOFMT_H
#define HK_PROTOFMT_H

#include "core/buf.h"
#include "core/snapshot.h"

#define HK_PROTOFMT_CONTENT_TYPE                                                                  \
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"

/* Appends the families whose target (hk_family.target) has its bit (1u << enum hk_target, the
 * same bits as HK_TEXTFMT_TARGET) set in target_mask; returns 0 or out->err (-ENOMEM, -E2BIG at
 * the buffer's cap), or -E2BIG for a single string or message too large for the format.
 *
 * What becomes what (the text exposition of the same snapshot, as Prometheus ingests it):
 * counter, gauge, untyped: one Metric per series; info: a gauge (no info type in this format);
 * a counter's <stem>_created: Counter.created_timestamp; histogram: one Metric per label set with
 * sample_count (_count), sample_sum (_sum), the cumulative buckets in le order (the le="+Inf"
 * bucket left out when it equals _count, as client_golang does: the scraper derives it) and
 * created_timestamp (_created); summary: sample_count, sample_sum, quantiles, created_timestamp.
 * A series whose name does not fit its family's type (possible from textfiles) is written as an
 * untyped family of its own name, and so are the series of a summary whose _count is no whole
 * number (the format has no float summary count). Dropped, as text 0.0.4 drops them: _created
 * series without their counter/histogram/summary. A histogram or summary label set without
 * _count or _sum (the builder's and the textfile collector's always have both) gets them as 0
 * from the scraper. Explicit timestamps become Metric.timestamp_ms (one per Metric: the first
 * series' that has one). Within a family, Metrics come in the snapshot's series order. */
int hk_protofmt_render(const struct hk_snapshot *snap, unsigned target_mask, struct hk_buf *out);

#endif
