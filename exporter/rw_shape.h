/* SPDX-License-Identifier: Apache-2.0 */
/* The shape of a series' outgoing remote-write 1.0 labels: which labels the target and external
 * labels add (rw_targets.h), where __name__ and each of the series' labels land, and the bytes
 * of everything that does not vary from one series to the next (the added labels' whole Label
 * fields, each label name's field), encoded once. Series of one family nearly always share a
 * shape, so encoding one costs a strlen per value and a few copies instead of the merge, two
 * strlen per label and a varint size per string.
 *
 * A shape depends only on the target, the label names and which values are empty (the merge's
 * rules, see hk_rw_targets_merge_src); hk_rw_shape_fits checks exactly these. Label names are
 * compared by pointer first, so a shape may only be checked against series of snapshots that
 * were alive when it was built (the endpoint forgets its shapes at each snapshot). The bytes
 * are hk_rw_encode_v1_series' for the merged labels (tests/unit/test_rw_shape.c compares). Not
 * for write_relabel_configs: the rules' output depends on the values. */
#ifndef HK_RW_SHAPE_H
#define HK_RW_SHAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/labels.h"
#include "exporter/rw_targets.h"

/* Series with more labels get no shape (hk_rw_shape_build: -E2BIG): encoded the general way. */
#define HK_RW_SHAPE_MAX_LABELS 64

struct hk_rw_shape_part {
    int32_t src; /* HK_RW_SRC_ADDED: bytes[off, off+len) are whole Label fields; else the
                  * value's source (HK_RW_SRC_NAME or a label index) and bytes[off, off+len)
                  * the Label's name field */
    uint32_t off, len;
};

struct hk_rw_shape {
    bool valid;
    uint8_t target;
    uint32_t nlabels;
    uint64_t empty; /* bit i: labels[i].value is "" */
    const char *names[HK_RW_SHAPE_MAX_LABELS];
    struct hk_rw_shape_part *parts;
    size_t nparts, parts_cap;
    uint8_t *bytes;
    size_t nbytes, bytes_cap;
    size_t fixed; /* bytes of the HK_RW_SRC_ADDED parts */
    /* scratch for the merge */
    struct hk_label *merged;
    int32_t *src;
    size_t merged_cap;
};

/* Makes sh the shape of a series (labels[0..n), of target) under t. 0, -E2BIG (more than
 * HK_RW_SHAPE_MAX_LABELS labels or a string over 64 KiB: no shape), -ENOMEM; sh is invalid on
 * failure. */
int hk_rw_shape_build(struct hk_rw_shape *sh, const struct hk_rw_targets *t, enum hk_target target,
                      const struct hk_label *labels, size_t n);

/* Whether the series has sh's shape. */
bool hk_rw_shape_fits(const struct hk_rw_shape *sh, enum hk_target target,
                      const struct hk_label *labels, size_t n);

/* The 1.0 TimeSeries of a series that fits sh (named name; its labels; a float sample) appended
 * to out, as hk_rw_encode_v1_series writes it. 0, -ENOMEM, -E2BIG (out's cap); out is unchanged
 * on failure. */
int hk_rw_shape_encode(const struct hk_rw_shape *sh, const char *name,
                       const struct hk_label *labels, double value, int64_t ts_ms,
                       struct hk_buf *out);

void hk_rw_shape_free(struct hk_rw_shape *sh);

#endif
