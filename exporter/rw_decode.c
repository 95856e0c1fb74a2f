/* SPDX-License-Identifier: Apache-2.0 */
/* Decoder of the remote-write requests hakari itself stores in its queue (rw_encode.h,
 * hk_rw_request_decode): the slow path of the sender, used only when a stored request cannot be
 * sent as it is (a 413 split, the 2.0 → 1.0 fallback, sample_age_limit). Hand-written on the wire
 * format, strict about lengths (a corrupt record is refused with -EBADMSG, never read past its
 * end), lenient about fields it does not know (skipped). */
#include "exporter/rw_encode.h"

#include "exporter/pb_read.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Where decoded strings go: each copied with a NUL (the encoders hash and compare C strings). The
 * area is sized by the caller for every string the request can hold. */
struct strs {
    char *buf;
    size_t len, cap;
};

static const char *strs_add(struct strs *s, const uint8_t *p, size_t len, bool *bad)
{
    if (len + 1 > s->cap - s->len) {
        *bad = true;
        return "";
    }
    char *d = s->buf + s->len;
    memcpy(d, p, len);
    d[len] = '\0';
    s->len += len + 1;
    return d;
}

struct sample_val {
    double value;
    int64_t ts;
};

/* Reads a Sample (1.0 and 2.0 share value = 1, timestamp = 2). */
static struct sample_val read_sample(struct hk_pb_cursor *c)
{
    struct sample_val v = {0, 0};
    uint32_t f, wt;
    while (hk_pb_read_key(c, &f, &wt)) {
        if (f == 1 && wt == 1) {
            uint64_t bits = hk_pb_read_fixed64(c);
            memcpy(&v.value, &bits, 8);
        } else if (f == 2 && wt == 0) {
            v.ts = (int64_t)hk_pb_read_varint(c);
        } else {
            hk_pb_skip(c, wt);
        }
    }
    return v;
}

static enum hk_metric_type from_v2_type(uint64_t t)
{
    switch (t) {
    case 1:
        return HK_METRIC_COUNTER;
    case 2:
        return HK_METRIC_GAUGE;
    case 3:
        return HK_METRIC_HISTOGRAM;
    case 5:
        return HK_METRIC_SUMMARY;
    case 6:
        return HK_METRIC_INFO;
    default:
        return HK_METRIC_UNTYPED;
    }
}

/* Counts, over the request's series, the samples and the label pairs one series' samples will
 * need (every sample of a series gets its own label array view, so pairs are counted once per
 * series and shared). */
struct counts {
    size_t series, samples, labels, symbols;
    size_t hists, spans, deltas; /* native histograms (rw_nhist.h), each also one sample */
};

/* A native histogram (TimeSeries.histograms) counted: one sample, and room for its buckets. */
static int count_hist(struct hk_pb_cursor *ts, struct counts *n)
{
    struct hk_pb_cursor h = hk_pb_read_sub(ts);
    uint32_t ns, nd;
    if (h.bad || hk_rw_hist_pb_measure(h.p, (size_t)(h.end - h.p), &ns, &nd) < 0)
        return -EBADMSG;
    n->samples++;
    n->hists++;
    n->spans += ns;
    n->deltas += nd;
    return 0;
}

static int count_v1(struct hk_pb_cursor top, struct counts *n)
{
    uint32_t f, wt;
    struct hk_pb_cursor ts;
    while (hk_pb_read_next(&top, 1, &ts)) { /* WriteRequest.timeseries */
        n->series++;
        while (hk_pb_read_key(&ts, &f, &wt)) {
            if (f == 1 && wt == 2)
                n->labels++;
            else if (f == 2 && wt == 2)
                n->samples++;
            else if (f == 4 && wt == 2) { /* TimeSeries.histograms */
                if (count_hist(&ts, n) < 0)
                    return -EBADMSG;
                continue;
            }
            hk_pb_skip(&ts, wt);
        }
        if (ts.bad)
            return -EBADMSG;
    }
    return top.bad ? -EBADMSG : 0;
}

static int count_v2(struct hk_pb_cursor top, struct counts *n)
{
    uint32_t f, wt;
    while (hk_pb_read_key(&top, &f, &wt)) {
        if (f == 4 && wt == 2) {
            n->symbols++;
            hk_pb_skip(&top, wt);
            continue;
        }
        if (f != 5 || wt != 2) {
            hk_pb_skip(&top, wt);
            continue;
        }
        struct hk_pb_cursor ts = hk_pb_read_sub(&top);
        n->series++;
        while (hk_pb_read_key(&ts, &f, &wt)) {
            if (f == 1 && wt == 2) { /* packed refs */
                struct hk_pb_cursor refs = hk_pb_read_sub(&ts);
                while (!refs.bad && refs.p < refs.end) {
                    hk_pb_read_varint(&refs);
                    n->labels++;
                }
                if (refs.bad)
                    return -EBADMSG;
                continue;
            }
            if (f == 1 && wt == 0) { /* unpacked ref */
                hk_pb_read_varint(&ts);
                n->labels++;
                continue;
            }
            if (f == 2 && wt == 2)
                n->samples++;
            if (f == 3 && wt == 2) { /* TimeSeries.histograms */
                if (count_hist(&ts, n) < 0)
                    return -EBADMSG;
                continue;
            }
            hk_pb_skip(&ts, wt);
        }
        if (ts.bad)
            return -EBADMSG;
    }
    if (top.bad)
        return -EBADMSG;
    n->labels = (n->labels + 1) / 2;
    return 0;
}

struct out {
    struct hk_rw_record *rec;
    size_t nsamples, nlabels, nfams;
    /* native histograms, their spans and deltas: in rec->hist_mem, sized by the counts */
    struct hk_nhist *hists;
    struct hk_nhist_span *spans;
    int64_t *deltas;
    size_t nhists, nspans, ndeltas;
    size_t cap_hists, cap_spans, cap_deltas;
};

/* Adds one sample per Sample field of the series and one per Histogram field (1.0: 4, 2.0: 3),
 * all sharing its labels. */
static int emit_series(struct out *o, struct hk_pb_cursor ts, uint32_t samples_field,
                       uint32_t hist_field, size_t lab0, uint32_t nlab,
                       const struct hk_rw_family *fam)
{
    uint32_t f, wt;
    while (hk_pb_read_key(&ts, &f, &wt)) {
        struct sample_val v = {0, 0};
        const struct hk_nhist *hist = NULL;
        if (f == hist_field && wt == 2) {
            struct hk_pb_cursor hm = hk_pb_read_sub(&ts);
            uint32_t ns, nd;
            /* Room as the counting pass found it, checked again rather than trusted. */
            if (hm.bad || !o->hists || o->nhists >= o->cap_hists ||
                hk_rw_hist_pb_measure(hm.p, (size_t)(hm.end - hm.p), &ns, &nd) < 0 ||
                ns > o->cap_spans - o->nspans || nd > o->cap_deltas - o->ndeltas)
                return -EBADMSG;
            struct hk_nhist *h = &o->hists[o->nhists];
            if (hk_rw_hist_pb_decode(hm.p, (size_t)(hm.end - hm.p), h, &o->spans[o->nspans],
                                     &o->deltas[o->ndeltas], &v.ts) < 0)
                return -EBADMSG;
            o->nhists++;
            o->nspans += h->nspans;
            o->ndeltas += h->ndeltas;
            hist = h;
        } else if (f == samples_field && wt == 2) {
            struct hk_pb_cursor sm = hk_pb_read_sub(&ts);
            v = read_sample(&sm);
            if (sm.bad)
                return -EBADMSG;
        } else {
            hk_pb_skip(&ts, wt);
            continue;
        }
        struct hk_rw_sample *x = &o->rec->samples[o->nsamples++];
        x->hist = hist;
        x->labels = &o->rec->labels[lab0];
        x->lens = &o->rec->lens[2 * lab0];
        x->nlabels = nlab;
        x->family = fam;
        x->value = v.value;
        x->ts_ms = v.ts;
        x->hash = 0;
    }
    return ts.bad ? -EBADMSG : 0;
}

static int fill_v1(struct hk_pb_cursor top, struct out *o, struct strs *st)
{
    struct hk_rw_record *rec = o->rec;
    uint32_t f, wt;
    struct hk_pb_cursor ts, lab;
    while (hk_pb_read_next(&top, 1, &ts)) { /* WriteRequest.timeseries */
        struct hk_pb_cursor walk = ts;
        size_t lab0 = o->nlabels;
        bool bad = false;
        while (hk_pb_read_next(&walk, 1, &lab)) { /* TimeSeries.labels */
            struct hk_label *l = &rec->labels[o->nlabels];
            uint32_t *lens = &rec->lens[2 * o->nlabels];
            l->name = l->value = "";
            lens[0] = lens[1] = 0;
            while (hk_pb_read_key(&lab, &f, &wt)) {
                if ((f == 1 || f == 2) && wt == 2) {
                    struct hk_pb_cursor s = hk_pb_read_sub(&lab);
                    if (s.bad)
                        break;
                    const char *str = strs_add(st, s.p, (size_t)(s.end - s.p), &bad);
                    if (f == 1)
                        l->name = str;
                    else
                        l->value = str;
                    lens[f - 1] = (uint32_t)(s.end - s.p);
                } else {
                    hk_pb_skip(&lab, wt);
                }
            }
            if (lab.bad || bad)
                return -EBADMSG;
            o->nlabels++;
        }
        if (walk.bad)
            return -EBADMSG;
        int r = emit_series(o, ts, 2, 4, lab0, (uint32_t)(o->nlabels - lab0), NULL);
        if (r < 0)
            return r;
    }
    return top.bad ? -EBADMSG : 0;
}

static int fill_v2(struct hk_pb_cursor top, struct out *o, struct strs *st, size_t nsym)
{
    struct hk_rw_record *rec = o->rec;
    const char **sym = calloc(nsym ? nsym : 1, sizeof(*sym));
    uint32_t *symlen = calloc(nsym ? nsym : 1, sizeof(*symlen));
    size_t n = 0;
    int r = -ENOMEM;
    if (!sym || !symlen)
        goto out;
    r = -EBADMSG;
    uint32_t f, wt;
    struct hk_pb_cursor walk = top, s, ts;
    bool bad = false;
    while (hk_pb_read_next(&walk, 4, &s)) { /* Request.symbols */
        if (s.bad || n >= nsym)
            goto out;
        sym[n] = strs_add(st, s.p, (size_t)(s.end - s.p), &bad);
        symlen[n++] = (uint32_t)(s.end - s.p);
        if (bad)
            goto out;
    }
    if (walk.bad)
        goto out;
    while (hk_pb_read_next(&top, 5, &ts)) { /* Request.timeseries */
        struct hk_pb_cursor w = ts;
        size_t lab0 = o->nlabels;
        unsigned half = 0;
        uint64_t type = 0, help = 0, unit = 0;
        bool has_md = false;
        while (hk_pb_read_key(&w, &f, &wt)) {
            if (f == 1 && (wt == 2 || wt == 0)) {
                struct hk_pb_cursor refs = wt == 2 ? hk_pb_read_sub(&w) : w;
                do {
                    uint64_t ref = hk_pb_read_varint(&refs);
                    if (refs.bad || ref >= n)
                        goto out;
                    struct hk_label *l = &rec->labels[o->nlabels];
                    uint32_t *lens = &rec->lens[2 * o->nlabels];
                    if (!half) {
                        l->name = sym[ref];
                        lens[0] = symlen[ref];
                    } else {
                        l->value = sym[ref];
                        lens[1] = symlen[ref];
                        o->nlabels++;
                    }
                    half ^= 1;
                } while (wt == 2 && refs.p < refs.end);
                if (wt == 0)
                    w = refs;
                continue;
            }
            if (f == 5 && wt == 2) {
                struct hk_pb_cursor md = hk_pb_read_sub(&w);
                has_md = true;
                while (hk_pb_read_key(&md, &f, &wt)) {
                    if (wt != 0) {
                        hk_pb_skip(&md, wt);
                        continue;
                    }
                    uint64_t v = hk_pb_read_varint(&md);
                    if (f == 1)
                        type = v;
                    else if (f == 3)
                        help = v;
                    else if (f == 4)
                        unit = v;
                }
                if (md.bad || help >= n || unit >= n)
                    goto out;
                continue;
            }
            hk_pb_skip(&w, wt);
        }
        if (w.bad || half)
            goto out;
        const struct hk_rw_family *fam = NULL;
        if (has_md && (type || help || unit)) {
            struct hk_rw_family *fm = &rec->families[o->nfams++];
            const char *name = "";
            for (size_t k = lab0; k < o->nlabels; k++)
                if (!strcmp(rec->labels[k].name, "__name__"))
                    name = rec->labels[k].value;
            *fm = (struct hk_rw_family){name, sym[help], sym[unit], from_v2_type(type)};
            fam = fm;
        }
        if ((r = emit_series(o, ts, 2, 3, lab0, (uint32_t)(o->nlabels - lab0), fam)) < 0)
            goto out;
        r = -EBADMSG;
    }
    r = top.bad ? -EBADMSG : 0;
out:
    free(sym);
    free(symlen);
    return r;
}

int hk_rw_request_decode(enum hk_rw_proto proto, const void *in, size_t len,
                         struct hk_rw_record *ret)
{
    struct hk_buf raw;
    struct hk_rw_record rec = {0};
    struct counts n = {0};
    int r;
    hk_buf_init(&raw, HK_RW_BODY_MAX);
    if ((r = hk_rw_snappy_uncompress(in, len, HK_RW_BODY_MAX, &raw)) < 0)
        goto out;
    struct hk_pb_cursor top = {(const uint8_t *)raw.data, (const uint8_t *)raw.data + raw.len,
                               false};
    r = proto == HK_RW_V2 ? count_v2(top, &n) : count_v1(top, &n);
    if (r < 0)
        goto out;
    /* Every string is at least its key and length bytes long on the wire: raw.len / 2 NULs. */
    struct strs st = {malloc(raw.len + raw.len / 2 + 1), 0, raw.len + raw.len / 2 + 1};
    rec.data = st.buf;
    rec.samples = calloc(n.samples ? n.samples : 1, sizeof(*rec.samples));
    rec.labels = calloc(n.labels ? n.labels : 1, sizeof(*rec.labels));
    rec.lens = calloc(n.labels ? 2 * n.labels : 1, sizeof(*rec.lens));
    rec.families = calloc(n.series ? n.series : 1, sizeof(*rec.families));
    /* histograms first, then the deltas (8-aligned), then the spans (4-aligned) */
    size_t hbytes = n.hists * sizeof(struct hk_nhist) + n.deltas * sizeof(int64_t) +
                    n.spans * sizeof(struct hk_nhist_span);
    rec.hist_mem = n.hists ? malloc(hbytes) : NULL;
    r = -ENOMEM;
    if (!st.buf || !rec.samples || !rec.labels || !rec.lens || !rec.families ||
        (n.hists && !rec.hist_mem))
        goto out;
    struct out o = {&rec, 0, 0, 0, NULL, NULL, NULL, 0, 0, 0, n.hists, n.spans, n.deltas};
    if (n.hists) {
        o.hists = rec.hist_mem;
        o.deltas = (int64_t *)(void *)(o.hists + n.hists);
        o.spans = (struct hk_nhist_span *)(void *)(o.deltas + n.deltas);
    }
    r = proto == HK_RW_V2 ? fill_v2(top, &o, &st, n.symbols) : fill_v1(top, &o, &st);
    if (r < 0)
        goto out;
    rec.nsamples = o.nsamples;
    rec.nfamilies = o.nfams;
    *ret = rec;
    memset(&rec, 0, sizeof(rec));
out:
    hk_buf_free(&raw);
    hk_rw_record_free(&rec);
    return r;
}
