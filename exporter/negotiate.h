/* SPDX-License-Identifier: Apache-2.0 */
/* Content negotiation for the exposition endpoints: Accept (text 0.0.4 or OpenMetrics) and
 * Accept-Encoding (gzip or identity), parsed as RFC 9110 lists of tokens with parameters and
 * q-values. Pure functions of the header value, no allocation. */
#ifndef HK_NEGOTIATE_H
#define HK_NEGOTIATE_H

#include <stdbool.h>

#include "exporter/textfmt.h"

/* The format for an Accept header (NULL: absent), as Prometheus' client_golang picks it
 * (expfmt.NegotiateIncludingOpenMetrics): among the entries with q > 0, highest q first, ties
 * in header order, the first that is text/plain (version absent or 0.0.4),
 * application/openmetrics-text (version absent, 0.0.1 or 1.0.0) or
 * application/vnd.google.protobuf with proto=io.prometheus.client.MetricFamily and
 * encoding=delimited decides; none: text. Media types
 * and parameter names compare case-insensitively; a malformed q counts as 0. */
enum hk_textfmt hk_negotiate_format(const char *accept);

/* True when an Accept-Encoding header (NULL: absent) lets us answer gzip: gzip's q (an explicit
 * gzip or x-gzip entry, else "*", else 0) is above 0 and not below identity's (explicit, else "*",
 * else 1). Tokens match exactly ("notgzip" is not gzip), case-insensitively. */
bool hk_negotiate_gzip(const char *accept_encoding);

#endif
