/* SPDX-License-Identifier: Apache-2.0 */
/* Block device I/O counters, node_exporter's diskstats collector.
 * Reads: <procfs>/diskstats.
 * Emits: node_disk_{reads,writes}_completed_total, node_disk_{reads,writes}_merged_total,
 * node_disk_read_bytes_total, node_disk_written_bytes_total (512-byte sectors),
 * node_disk_{read,write}_time_seconds_total, node_disk_io_now, node_disk_io_time_seconds_total,
 * node_disk_io_time_weighted_seconds_total, and when the kernel has them (4.18+, 5.5+)
 * node_disk_discards_{completed,merged}_total, node_disk_discarded_sectors_total,
 * node_disk_discard_time_seconds_total, node_disk_flush_requests_total,
 * node_disk_flush_requests_time_seconds_total; label device.
 * Option: collectors.diskstats.device_exclude (regex; default node_exporter's, which drops
 * ram/loop/fd devices and partitions). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/node_common.h"
#include "collector/node_parsers.h"
#include "core/collector.h"
#include "core/parse.h"

#define DISKSTATS_DEFAULT_EXCLUDE "^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\\d+n\\d+p)\\d+$"

static int parse_uint(const char *tok, size_t tl, unsigned *ret)
{
    uint64_t v;
    int r = hk_parse_u64(tok, tl, &v);
    if (r < 0)
        return r;
    if (v > 0xffffffffu)
        return -ERANGE;
    *ret = (unsigned)v;
    return 0;
}

int hk_diskstats_parse(const char *buf, size_t len, hk_diskstats_fn fn, void *userdata)
{
    struct hk_cursor c;
    hk_cursor_init(&c, buf, len);
    while (!hk_cursor_eof(&c)) {
        struct hk_diskstat d = {0};
        const char *tok;
        size_t tl;
        int r;
        if (!hk_cursor_token(&c, &tok, &tl)) {
            hk_cursor_next_line(&c);
            continue;
        }
        if ((r = parse_uint(tok, tl, &d.major)) < 0)
            return r;
        if (!hk_cursor_token(&c, &tok, &tl) || parse_uint(tok, tl, &d.minor) < 0)
            return -EINVAL;
        if (!hk_cursor_token(&c, &d.name, &d.name_len) || d.name_len > 255)
            return -EINVAL;
        while (hk_cursor_token(&c, &tok, &tl)) {
            uint64_t v;
            if ((r = hk_parse_u64(tok, tl, &v)) < 0)
                return r;
            if (d.nfields < HK_DISK_NFIELDS)
                d.v[d.nfields] = v;
            d.nfields++; /* later kernels may append fields: counted, ignored */
        }
        if (d.nfields < HK_DISK_DISCARDS)
            return -EINVAL;
        if (d.nfields > HK_DISK_NFIELDS)
            d.nfields = HK_DISK_NFIELDS;
        if (fn && (r = fn(&d, userdata)) < 0)
            return r;
        hk_cursor_next_line(&c);
    }
    return 0;
}

static const char *const device_label[] = {"device", NULL};

/* How a field becomes a sample. */
enum conv { AS_IS, SECTORS_TO_BYTES, MS_TO_SECONDS };

static const struct {
    struct hk_metric_desc desc;
    enum conv conv;
} disk_fields[HK_DISK_NFIELDS] = {
    [HK_DISK_READS] = {{"node_disk_reads_completed_total",
                        "The total number of reads completed successfully.", HK_METRIC_COUNTER, "",
                        device_label},
                       AS_IS},
    [HK_DISK_READS_MERGED] = {{"node_disk_reads_merged_total", "The total number of reads merged.",
                               HK_METRIC_COUNTER, "", device_label},
                              AS_IS},
    [HK_DISK_SECTORS_READ] = {{"node_disk_read_bytes_total",
                               "The total number of bytes read successfully.", HK_METRIC_COUNTER,
                               "bytes", device_label},
                              SECTORS_TO_BYTES},
    [HK_DISK_READ_MS] = {{"node_disk_read_time_seconds_total",
                          "The total number of seconds spent by all reads.", HK_METRIC_COUNTER,
                          "seconds", device_label},
                         MS_TO_SECONDS},
    [HK_DISK_WRITES] = {{"node_disk_writes_completed_total",
                         "The total number of writes completed successfully.", HK_METRIC_COUNTER,
                         "", device_label},
                        AS_IS},
    [HK_DISK_WRITES_MERGED] = {{"node_disk_writes_merged_total", "The number of writes merged.",
                                HK_METRIC_COUNTER, "", device_label},
                               AS_IS},
    [HK_DISK_SECTORS_WRITTEN] = {{"node_disk_written_bytes_total",
                                  "The total number of bytes written successfully.",
                                  HK_METRIC_COUNTER, "bytes", device_label},
                                 SECTORS_TO_BYTES},
    [HK_DISK_WRITE_MS] = {{"node_disk_write_time_seconds_total",
                           "This is the total number of seconds spent by all writes.",
                           HK_METRIC_COUNTER, "seconds", device_label},
                          MS_TO_SECONDS},
    [HK_DISK_IO_NOW] = {{"node_disk_io_now", "The number of I/Os currently in progress.",
                         HK_METRIC_GAUGE, "", device_label},
                        AS_IS},
    [HK_DISK_IO_MS] = {{"node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.",
                        HK_METRIC_COUNTER, "seconds", device_label},
                       MS_TO_SECONDS},
    [HK_DISK_IO_WEIGHTED_MS] = {{"node_disk_io_time_weighted_seconds_total",
                                 "The weighted # of seconds spent doing I/Os.", HK_METRIC_COUNTER,
                                 "seconds", device_label},
                                MS_TO_SECONDS},
    [HK_DISK_DISCARDS] = {{"node_disk_discards_completed_total",
                           "The total number of discards completed successfully.",
                           HK_METRIC_COUNTER, "", device_label},
                          AS_IS},
    [HK_DISK_DISCARDS_MERGED] = {{"node_disk_discards_merged_total",
                                  "The total number of discards merged.", HK_METRIC_COUNTER, "",
                                  device_label},
                                 AS_IS},
    [HK_DISK_SECTORS_DISCARDED] = {{"node_disk_discarded_sectors_total",
                                    "The total number of sectors discarded successfully.",
                                    HK_METRIC_COUNTER, "", device_label},
                                   AS_IS},
    [HK_DISK_DISCARD_MS] = {{"node_disk_discard_time_seconds_total",
                             "This is the total number of seconds spent by all discards.",
                             HK_METRIC_COUNTER, "seconds", device_label},
                            MS_TO_SECONDS},
    [HK_DISK_FLUSHES] = {{"node_disk_flush_requests_total",
                          "The total number of flush requests completed successfully",
                          HK_METRIC_COUNTER, "", device_label},
                         AS_IS},
    [HK_DISK_FLUSH_MS] = {{"node_disk_flush_requests_time_seconds_total",
                           "This is the total number of seconds spent by all flush requests.",
                           HK_METRIC_COUNTER, "seconds", device_label},
                          MS_TO_SECONDS},
};

struct diskstats_state {
    struct hk_node_buf buf;
    struct hk_node_health health;
    struct hk_node_regex *exclude;
};

static const char *const diskstats_keys[] = {HK_COLLECTOR_COMMON_KEYS, "device_exclude", NULL};

static int diskstats_check(const struct hk_collector_env *env)
{
    int r = hk_yaml_check_keys(env->options, diskstats_keys, env->err);
    return r < 0 ? r : hk_node_regex_option(env, "device_exclude", DISKSTATS_DEFAULT_EXCLUDE, NULL);
}

static void diskstats_fini(void *state)
{
    struct diskstats_state *s = state;
    if (!s)
        return;
    hk_node_buf_free(&s->buf);
    hk_node_regex_free(s->exclude);
    free(s);
}

static int diskstats_init(void **ret_state, const struct hk_collector_env *env)
{
    int r = diskstats_check(env);
    if (r < 0)
        return r;
    struct diskstats_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    hk_node_buf_init(&s->buf, 8192, 16u << 20); /* ~100 bytes per device */
    r = hk_node_regex_option(env, "device_exclude", DISKSTATS_DEFAULT_EXCLUDE, &s->exclude);
    if (r < 0) {
        diskstats_fini(s);
        return r;
    }
    *ret_state = s;
    return 0;
}

struct emit_ctx {
    struct hk_builder *b;
    const struct hk_node_regex *exclude;
};

static int emit_disk(const struct hk_diskstat *d, void *userdata)
{
    const struct emit_ctx *e = userdata;
    if (hk_node_regex_match(e->exclude, d->name, d->name_len))
        return 0;
    char name[256];
    memcpy(name, d->name, d->name_len);
    name[d->name_len] = '\0';
    const char *values[] = {name};
    for (unsigned i = 0; i < d->nfields; i++) {
        double v = (double)d->v[i];
        if (disk_fields[i].conv == SECTORS_TO_BYTES)
            v *= 512.0; /* diskstats counts 512-byte units whatever the device's sector size */
        else if (disk_fields[i].conv == MS_TO_SECONDS)
            v /= 1000.0;
        hk_emit(e->b, &disk_fields[i].desc, values, v);
    }
    return 0;
}

static int diskstats_collect(void *state, struct hk_collect_ctx *ctx)
{
    struct diskstats_state *s = state;
    ssize_t n = hk_node_buf_read(&s->buf, ctx->paths->proc_fd, "diskstats");
    if (n == -ENOENT)
        return 0;
    if (n == -ENOMEM)
        return -ENOMEM;
    int r = n < 0 ? (int)n : hk_diskstats_parse(s->buf.data, (size_t)n, NULL, NULL);
    if (r < 0) {
        hk_node_soft_error(&s->health, ctx, "diskstats", "diskstats", r);
        return 0;
    }
    hk_node_ok(&s->health, "diskstats", "diskstats");
    struct emit_ctx e = {ctx->b, s->exclude};
    return hk_diskstats_parse(s->buf.data, (size_t)n, emit_disk, &e);
}

const struct hk_collector_ops hk_collector_diskstats = {
    .name = "diskstats",
    .help = "block device I/O counters from /proc/diskstats (node_disk_*)",
    .default_enabled = true,
    .check = diskstats_check,
    .init = diskstats_init,
    .collect = diskstats_collect,
    .fini = diskstats_fini,
};
