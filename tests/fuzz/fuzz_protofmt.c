/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the protobuf exposition renderer (exporter/protofmt.c), whose input is a
 * snapshot: any text the Prometheus text parser (collector/promtext.c) accepts is emitted into a
 * builder the way the textfile collector does (hk_emit_labels, with each family's type and
 * whatever series names, le and quantile values it has), sealed and rendered. The body must be
 * a sequence of delimited MetricFamily messages that protobuf-c decodes and re-packs to the same
 * bytes. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/promtext.h"
#include "core/buf.h"
#include "core/snapshot.h"
#include "exporter/protofmt.h"
#include "proto/metrics.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_body(const struct hk_buf *out)
{
    const uint8_t *p = (const uint8_t *)out->data;
    size_t left = out->len;
    while (left) {
        uint64_t len = 0;
        size_t used = 0;
        for (; used < left && used < 10; used++) {
            len |= (uint64_t)(p[used] & 0x7f) << (7 * used);
            if (!(p[used] & 0x80))
                break;
        }
        assert(used < left && used < 5);
        used++;
        assert(len <= left - used);
        Io__Prometheus__Client__MetricFamily *mf =
            io__prometheus__client__metric_family__unpack(NULL, len, p + used);
        assert(mf);
        assert(mf->name && mf->n_metric > 0);
        size_t sz = io__prometheus__client__metric_family__get_packed_size(mf);
        assert(sz == len);
        uint8_t *re = malloc(sz ? sz : 1);
        assert(re);
        io__prometheus__client__metric_family__pack(mf, re);
        assert(memcmp(re, p + used, sz) == 0);
        free(re);
        io__prometheus__client__metric_family__free_unpacked(mf, NULL);
        p += used + len;
        left -= used + len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    struct hk_promtext p;
    hk_promtext_init(&p, 4096, 2000);
    if (hk_promtext_parse(&p, buf, size) == 0) {
        struct hk_builder *b = hk_builder_new(NULL);
        assert(b);
        hk_builder_begin(b, "textfile");
        for (size_t i = 0; i < p.nsamples; i++) {
            struct hk_promtext_sample s;
            if (hk_promtext_sample(&p, i, &s) < 0)
                break;
            const struct hk_promtext_family *f = &p.families[s.family];
            struct hk_family_spec spec = {f->name, f->help, f->type, ""};
            /* -EINVAL (duplicate label names) and the like: that series is left out */
            hk_emit_labels(b, &spec, s.name, s.labels, s.nlabels, s.value,
                           s.has_timestamp ? s.timestamp_ms : 0);
        }
        hk_builder_commit(b);
        struct hk_snapshot *snap = hk_builder_seal(b, 1, NULL);
        assert(snap);
        struct hk_buf out;
        hk_buf_init(&out, 0);
        int r = hk_protofmt_render(snap, 0xff, &out);
        assert(r == 0);
        check_body(&out);
        hk_buf_free(&out);
        hk_snapshot_unref(snap);
    }
    hk_promtext_fini(&p);
    free(buf);
    return 0;
}
