/* SPDX-License-Identifier: Apache-2.0 */
/* What the remote-write sender reads from a receiver's answer, as pure functions over bytes so
 * they can be tested and fuzzed without a network: response header lines (Retry-After in seconds
 * or HTTP-date, the 2.0 X-Prometheus-Remote-Write-Samples-Written header), the body kept for the
 * log, and the decision an HTTP status leads to (accept, fall back to 1.0, split, retry, drop). */
#ifndef HK_RW_HTTP_H
#define HK_RW_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "exporter/rw_config.h"

/* Response bytes kept per request (for the log line of a failed request). */
#define HK_RW_RESP_MAX 1024
/* Longest wait a Retry-After can ask for. */
#define HK_RW_MAX_RETRY_AFTER_MS (10 * 60 * 1000)

/* What the headers of the final response said. */
struct hk_rw_resp_hdrs {
    int64_t retry_after_ms; /* -1: none (or invalid, or in the past) */
    bool samples_written;   /* X-Prometheus-Remote-Write-Samples-Written present (a 2.0 receiver) */
    bool complete;          /* the blank line that ends the headers arrived */
};

void hk_rw_resp_hdrs_reset(struct hk_rw_resp_hdrs *h);
/* One header line as libcurl hands it over: not NUL-terminated, CRLF included, the status line of
 * every response (interim ones and followed redirects too) first. A status line resets h, so only
 * the final response's headers count. now_s: wall clock seconds (for an HTTP-date). */
void hk_rw_resp_header(struct hk_rw_resp_hdrs *h, const char *line, size_t len, int64_t now_s);
/* Parses a Retry-After value (seconds or HTTP-date) relative to now_s; -1 if invalid/past. */
int64_t hk_rw_parse_retry_after(const char *v, int64_t now_s);
/* Appends response body bytes to body, keeping at most HK_RW_RESP_MAX of them. */
void hk_rw_resp_body(struct hk_buf *body, const void *data, size_t len);
/* The kept body as one log-safe line: NUL-terminated in out (cap > 0), CR/LF turned into spaces,
 * cut at cap - 1 bytes. Returns the length. */
size_t hk_rw_resp_text(const struct hk_buf *body, char *out, size_t cap);

enum hk_rw_verdict {
    HK_RW_ACCEPTED,
    HK_RW_FALLBACK_NO_HEADER, /* 2xx to a 2.0 request without the written header: a 1.0 receiver */
    HK_RW_FALLBACK_415,       /* 415 to a 2.0 request */
    HK_RW_SPLIT,              /* 413: send halves (a single sample is dropped) */
    HK_RW_RETRY,              /* 5xx, 429 when configured */
    HK_RW_AUTH,               /* 401/403: refresh an OAuth2 token once, else drop */
    HK_RW_DROP,               /* refused for good */
};

/* What to do with a request the transport delivered and the receiver answered with status. */
enum hk_rw_verdict hk_rw_verdict(long status, enum hk_rw_proto sent_proto,
                                 const struct hk_rw_resp_hdrs *h, bool retry_on_http_429);

#endif
