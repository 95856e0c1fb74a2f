/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel clock discipline state, node_exporter's timex collector (Linux, 1.5's set).
 * Reads: adjtimex(2) with modes 0 (read-only; allowed without CAP_SYS_TIME).
 * Emits: node_timex_sync_status, node_timex_offset_seconds, node_timex_frequency_adjustment_ratio,
 * node_timex_maxerror_seconds, node_timex_estimated_error_seconds, node_timex_status,
 * node_timex_loop_time_constant, node_timex_tick_seconds, node_timex_pps_frequency_hertz,
 * node_timex_pps_jitter_seconds, node_timex_pps_shift_seconds, node_timex_pps_stability_hertz,
 * node_timex_pps_{jitter,calibration,error,stability_exceeded}_total,
 * node_timex_tai_offset_seconds. The clock is the kernel's (not per --path.*): in a container
 * it is still the host's. */
#include <errno.h>
#include <sys/timex.h>

#include "collector/node_parsers.h"
#include "core/collector.h"

#define TIMEX_DESC(name, help, type)                                                               \
    {                                                                                              \
        name, help, type, "", NULL                                                                 \
    }

enum {
    TX_SYNC,
    TX_OFFSET,
    TX_FREQ,
    TX_MAXERROR,
    TX_ESTERROR,
    TX_STATUS,
    TX_CONSTANT,
    TX_TICK,
    TX_PPSFREQ,
    TX_JITTER,
    TX_SHIFT,
    TX_STABIL,
    TX_JITCNT,
    TX_CALCNT,
    TX_ERRCNT,
    TX_STBCNT,
    TX_TAI,
    TX_N,
};

static const struct hk_metric_desc desc_timex[TX_N] = {
    [TX_SYNC] = TIMEX_DESC("node_timex_sync_status",
                           "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
                           HK_METRIC_GAUGE),
    [TX_OFFSET] = TIMEX_DESC("node_timex_offset_seconds",
                             "Time offset in between local system and reference clock.",
                             HK_METRIC_GAUGE),
    [TX_FREQ] = TIMEX_DESC("node_timex_frequency_adjustment_ratio", "Local clock frequency adjustment.",
                           HK_METRIC_GAUGE),
    [TX_MAXERROR] = TIMEX_DESC("node_timex_maxerror_seconds", "Maximum error in seconds.", HK_METRIC_GAUGE),
    [TX_ESTERROR] = TIMEX_DESC("node_timex_estimated_error_seconds", "Estimated error in seconds.",
                               HK_METRIC_GAUGE),
    [TX_STATUS] = TIMEX_DESC("node_timex_status", "Value of the status array bits.", HK_METRIC_GAUGE),
    [TX_CONSTANT] = TIMEX_DESC("node_timex_loop_time_constant", "Phase-locked loop time constant.",
                               HK_METRIC_GAUGE),
    [TX_TICK] = TIMEX_DESC("node_timex_tick_seconds", "Seconds between clock ticks.", HK_METRIC_GAUGE),
    [TX_PPSFREQ] = TIMEX_DESC("node_timex_pps_frequency_hertz", "Pulse per second frequency.",
                              HK_METRIC_GAUGE),
    [TX_JITTER] = TIMEX_DESC("node_timex_pps_jitter_seconds", "Pulse per second jitter.", HK_METRIC_GAUGE),
    [TX_SHIFT] = TIMEX_DESC("node_timex_pps_shift_seconds", "Pulse per second interval duration.",
                            HK_METRIC_GAUGE),
    [TX_STABIL] = TIMEX_DESC("node_timex_pps_stability_hertz",
                             "Pulse per second stability, average of recent frequency changes.",
                             HK_METRIC_GAUGE),
    [TX_JITCNT] = TIMEX_DESC("node_timex_pps_jitter_total",
                             "Pulse per second count of jitter limit exceeded events.",
                             HK_METRIC_COUNTER),
    [TX_CALCNT] = TIMEX_DESC("node_timex_pps_calibration_total",
                             "Pulse per second count of calibration intervals.", HK_METRIC_COUNTER),
    [TX_ERRCNT] = TIMEX_DESC("node_timex_pps_error_total", "Pulse per second count of calibration errors.",
                             HK_METRIC_COUNTER),
    [TX_STBCNT] = TIMEX_DESC("node_timex_pps_stability_exceeded_total",
                             "Pulse per second count of stability limit exceeded events.",
                             HK_METRIC_COUNTER),
    [TX_TAI] = TIMEX_DESC("node_timex_tai_offset_seconds", "International Atomic Time (TAI) offset.",
                          HK_METRIC_GAUGE),
};

/* adjtimex(2) NOTES: freq, ppsfreq and stabil are ppm with a 16-bit fraction. */
#define PPM16FRAC (1000000.0 * 65536.0)

void hk_timex_values(const struct timex *tx, int state, double ret[HK_TIMEX_NVALUES])
{
    /* offset and jitter are in ns with STA_NANO, else µs; maxerror, esterror and tick in µs. */
    double divisor = (tx->status & STA_NANO) ? 1e9 : 1e6;
    ret[TX_SYNC] = state == TIME_ERROR ? 0 : 1;
    ret[TX_OFFSET] = (double)tx->offset / divisor;
    ret[TX_FREQ] = 1 + (double)tx->freq / PPM16FRAC;
    ret[TX_MAXERROR] = (double)tx->maxerror / 1e6;
    ret[TX_ESTERROR] = (double)tx->esterror / 1e6;
    ret[TX_STATUS] = (double)tx->status;
    ret[TX_CONSTANT] = (double)tx->constant;
    ret[TX_TICK] = (double)tx->tick / 1e6;
    ret[TX_PPSFREQ] = (double)tx->ppsfreq / PPM16FRAC;
    ret[TX_JITTER] = (double)tx->jitter / divisor;
    ret[TX_SHIFT] = (double)tx->shift;
    ret[TX_STABIL] = (double)tx->stabil / PPM16FRAC;
    ret[TX_JITCNT] = (double)tx->jitcnt;
    ret[TX_CALCNT] = (double)tx->calcnt;
    ret[TX_ERRCNT] = (double)tx->errcnt;
    ret[TX_STBCNT] = (double)tx->stbcnt;
    ret[TX_TAI] = (double)tx->tai;
}

_Static_assert(TX_N == HK_TIMEX_NVALUES, "HK_TIMEX_NVALUES");

static int timex_collect(void *state, struct hk_collect_ctx *ctx)
{
    (void)state;
    struct timex tx = {0}; /* modes 0: read only */
    int st = adjtimex(&tx);
    if (st < 0)
        return errno == EPERM ? 0 : -errno; /* seccomp may forbid it: no data, as node_exporter */
    double v[TX_N];
    hk_timex_values(&tx, st, v);
    for (unsigned i = 0; i < TX_N; i++)
        hk_emit(ctx->b, &desc_timex[i], NULL, v[i]);
    return 0;
}

const struct hk_collector_ops hk_collector_timex = {
    .name = "timex",
    .help = "kernel clock synchronisation state from adjtimex(2) (node_timex_*)",
    .default_enabled = true,
    .collect = timex_collect,
};
