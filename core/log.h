/* SPDX-License-Identifier: Apache-2.0 */
/* Structured logging to stderr: logfmt (`ts= level= msg= k=v`) or JSON, one line per event.
 * Fields are passed as NULL-terminated key/value string pairs so both formats stay exact. */
#ifndef HK_LOG_H
#define HK_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum hk_log_level { HK_LOG_DEBUG, HK_LOG_INFO, HK_LOG_WARN, HK_LOG_ERROR };
enum hk_log_format { HK_LOG_LOGFMT, HK_LOG_JSON };

/* Returns 0, or -EINVAL for an unknown name ("debug", "info", "warn", "error"). */
int hk_log_parse_level(const char *name, enum hk_log_level *ret_level);
int hk_log_parse_format(const char *name, enum hk_log_format *ret_format);
void hk_log_setup(enum hk_log_level level, enum hk_log_format format);
bool hk_log_enabled(enum hk_log_level level);

/* Warnings and errors repeated with the same message and field values are rate-limited per
 * message: 5 in a row, then 5 a minute; the next line let through carries suppressed=N. */
/* hk_log(HK_LOG_WARN, "cannot read file", "path", path, "err", strerror(e), NULL); */
void hk_log(enum hk_log_level level, const char *msg, ...) __attribute__((sentinel));

/* Writes, for each message whose repeats were held back, one line
 * msg="repeated log lines held back" suppressed=N last_msg=<message>, so the last state is never
 * hidden: with all false only for messages quiet for a refill interval (the scheduler calls it
 * every cycle), with all true for every one (at shutdown). */
void hk_log_flush_suppressed(bool all);
/* Tests: the monotonic clock (ms) of the rate limiter (NULL = the real one); resets its state. */
void hk_log_test_clock(int64_t (*now_ms)(void));

#define hk_log_debug(...) hk_log(HK_LOG_DEBUG, __VA_ARGS__, (const char *)NULL)
#define hk_log_info(...) hk_log(HK_LOG_INFO, __VA_ARGS__, (const char *)NULL)
#define hk_log_warn(...) hk_log(HK_LOG_WARN, __VA_ARGS__, (const char *)NULL)
#define hk_log_error(...) hk_log(HK_LOG_ERROR, __VA_ARGS__, (const char *)NULL)

#endif
