/* SPDX-License-Identifier: Apache-2.0 */
/* Remote-write encoders on the protobuf-c code generated from the proto/ files, snappy block
 * compression, and the durable queue's record format. The only file that includes generated
 * protobuf headers. */
#include "exporter/rw_encode.h"
#include "exporter/pb_wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>

#include "proto/remote.pb-c.h"
#include "proto/write_v2.pb-c.h"

static int pack_into(const ProtobufCMessage *msg, struct hk_buf *out)
{
    size_t sz = protobuf_c_message_get_packed_size(msg);
    int r = hk_buf_reserve(out, sz);
    if (r < 0)
        return r;
    size_t got = protobuf_c_message_pack(msg, (uint8_t *)out->data + out->len);
    out->len += got;
    return 0;
}

static Prometheus__MetricMetadata__MetricType v1_type(enum hk_metric_type t)
{
    switch (t) {
    case HK_METRIC_COUNTER:
        return PROMETHEUS__METRIC_METADATA__METRIC_TYPE__COUNTER;
    case HK_METRIC_GAUGE:
        return PROMETHEUS__METRIC_METADATA__METRIC_TYPE__GAUGE;
    case HK_METRIC_HISTOGRAM:
        return PROMETHEUS__METRIC_METADATA__METRIC_TYPE__HISTOGRAM;
    case HK_METRIC_SUMMARY:
        return PROMETHEUS__METRIC_METADATA__METRIC_TYPE__SUMMARY;
    case HK_METRIC_INFO:
        return PROMETHEUS__METRIC_METADATA__METRIC_TYPE__INFO;
    default:
        return PROMETHEUS__METRIC_METADATA__METRIC_TYPE__UNKNOWN;
    }
}

static uint8_t *put_bytes(uint8_t *p, uint8_t tag, const char *s, uint32_t len)
{
    *p++ = tag;
    p = hk_pb_put_varint(p, len);
    return hk_pb_copy_small(p, s, len);
}

/* The name and value lengths of x's labels (2 per label): x->lens when the sample carries them,
 * else measured into stack (room for 64 labels) or, beyond that, a malloc'ed array the caller
 * frees when it is not stack. NULL with *err set: -ENOMEM, or -E2BIG for a string over 1 GiB. */
static const uint32_t *label_lens(const struct hk_rw_sample *x, uint32_t stack[2 * 64], int *err)
{
    if (x->lens)
        return x->lens;
    uint32_t *lp = x->nlabels <= 64 ? stack : malloc(2 * (size_t)x->nlabels * sizeof(*lp));
    if (!lp) {
        *err = -ENOMEM;
        return NULL;
    }
    for (uint32_t k = 0; k < 2 * x->nlabels; k++) {
        size_t l = strlen(k & 1 ? x->labels[k / 2].value : x->labels[k / 2].name);
        if (l > UINT32_MAX / 4) {
            if (lp != stack)
                free(lp);
            *err = -E2BIG;
            return NULL;
        }
        lp[k] = (uint32_t)l;
    }
    return lp;
}

static void label_lens_free(const uint32_t *lp, const uint32_t *stack, const struct hk_rw_sample *x)
{
    if (lp != stack && lp != x->lens)
        free((void *)lp);
}

size_t hk_rw_v1_sample_len(double value, int64_t ts_ms)
{
    /* A value that compares equal to 0 (so -0.0 too) is omitted, as protobuf-c does. */
    return (value != 0.0 ? 9 : 0) + (ts_ms ? 1 + hk_pb_varint_len((uint64_t)ts_ms) : 0);
}

uint8_t *hk_rw_v1_sample_put(uint8_t *p, double value, int64_t ts_ms, size_t sl)
{
    uint64_t vbits;
    memcpy(&vbits, &value, sizeof(vbits)); /* the stale-NaN bits travel unchanged */
    *p++ = 0x12;                           /* TimeSeries.samples = 2, LEN */
    p = hk_pb_put_varint(p, sl);
    if (value != 0.0) {
        *p++ = 0x09; /* Sample.value = 1, I64 (little-endian double) */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(p, &vbits, 8);
        p += 8;
#else
        for (int b = 0; b < 8; b++)
            *p++ = (uint8_t)(vbits >> (8 * b));
#endif
    }
    if (ts_ms) {
        *p++ = 0x10; /* Sample.timestamp = 2, VARINT (int64: two's complement) */
        p = hk_pb_put_varint(p, (uint64_t)ts_ms);
    }
    return p;
}

/* One TimeSeries of a 1.0 request appended to out; on failure out is unchanged. */
static int encode_v1_series(const struct hk_rw_sample *x, struct hk_buf *out)
{
    uint32_t stack[2 * 64];
    int r = 0;
    const uint32_t *lp = label_lens(x, stack, &r);
    if (!lp)
        return r;
    size_t t = 0;
    for (uint32_t k = 0; k < x->nlabels; k++) {
        uint32_t nl = lp[2 * k], vl = lp[2 * k + 1];
        size_t l =
            (nl ? 1 + hk_pb_varint_len(nl) + nl : 0) + (vl ? 1 + hk_pb_varint_len(vl) + vl : 0);
        t += 1 + hk_pb_varint_len(l) + l;
    }
    /* A histogram sample is a Histogram message (rw_nhist.c) instead of a Sample. */
    size_t sl =
        x->hist ? hk_rw_hist_pb_len(x->hist, x->ts_ms) : hk_rw_v1_sample_len(x->value, x->ts_ms);
    t += 1 + hk_pb_varint_len(sl) + sl;
    r = t > UINT32_MAX / 4 ? -E2BIG : hk_buf_reserve(out, 1 + hk_pb_varint_len(t) + t);
    if (r < 0) {
        label_lens_free(lp, stack, x);
        return r;
    }
    uint8_t *p = (uint8_t *)out->data + out->len;
    *p++ = 0x0a; /* WriteRequest.timeseries = 1, LEN */
    p = hk_pb_put_varint(p, t);
    for (uint32_t k = 0; k < x->nlabels; k++) {
        uint32_t nl = lp[2 * k], vl = lp[2 * k + 1];
        size_t l =
            (nl ? 1 + hk_pb_varint_len(nl) + nl : 0) + (vl ? 1 + hk_pb_varint_len(vl) + vl : 0);
        *p++ = 0x0a; /* TimeSeries.labels = 1, LEN */
        p = hk_pb_put_varint(p, l);
        if (nl)
            p = put_bytes(p, 0x0a, x->labels[k].name, nl); /* Label.name = 1 */
        if (vl)
            p = put_bytes(p, 0x12, x->labels[k].value, vl); /* Label.value = 2 */
    }
    label_lens_free(lp, stack, x);
    if (x->hist) {
        *p++ = 0x22; /* TimeSeries.histograms = 4, LEN */
        p = hk_pb_put_varint(p, sl);
        p = hk_rw_hist_pb_put(p, x->hist, x->ts_ms);
    } else {
        p = hk_rw_v1_sample_put(p, x->value, x->ts_ms, sl);
    }
    out->len = (size_t)(p - (uint8_t *)out->data);
    out->data[out->len] = '\0';
    return 0;
}

int hk_rw_encode_v1_series(const struct hk_rw_sample *x, struct hk_buf *out)
{
    return encode_v1_series(x, out);
}

/* prometheus.WriteRequest written directly, without building protobuf-c message trees: the
 * sender encodes every sample it delivers, and the generic packer (a tree of calloc'ed
 * messages, two strlen per string, a size pass per nesting level) was its largest cost. The
 * bytes are those protobuf-c produces for the same request (proto3: zero scalars and empty
 * strings omitted, fields in number order); tests/unit/test_rw_encode.c compares them. A
 * request is its TimeSeries one after the other, so it can also be built a series at a time
 * (hk_rw_encode_v1_series, rw_shape.h). */
int hk_rw_encode_v1(const struct hk_rw_sample *const *samples, size_t n, struct hk_buf *out)
{
    /* One pass, each series sized and then written while its labels are in cache: a shard's
     * samples are scattered over the round's records, and reading them twice (size pass, write
     * pass) cost twice the cache misses. */
    size_t start = out->len;
    for (size_t i = 0; i < n; i++) {
        /* Prefetch: the sample 8 ahead, the label array and lengths of the one 4 ahead, the
         * strings of the one 2 ahead (each needs the line fetched by the step before). */
        if (i + 8 < n)
            __builtin_prefetch(samples[i + 8]);
        if (i + 4 < n) {
            __builtin_prefetch(samples[i + 4]->labels);
            __builtin_prefetch(samples[i + 4]->lens);
        }
        if (i + 2 < n && samples[i + 2]->nlabels) {
            __builtin_prefetch(samples[i + 2]->labels[0].name);
            __builtin_prefetch(samples[i + 2]->labels[0].name + 64);
        }
        int r = encode_v1_series(samples[i], out);
        if (r < 0) {
            out->len = start;
            if (out->data)
                out->data[out->len] = '\0';
            return r;
        }
    }
    if (out->data)
        out->data[out->len] = '\0';
    return 0;
}

int hk_rw_encode_metadata_v1(const struct hk_rw_family *fams, size_t n, struct hk_buf *out)
{
    Prometheus__MetricMetadata *md = calloc(n ? n : 1, sizeof(*md));
    Prometheus__MetricMetadata **mdp = calloc(n ? n : 1, sizeof(*mdp));
    int r = -ENOMEM;
    if (!md || !mdp)
        goto out;
    for (size_t i = 0; i < n; i++) {
        prometheus__metric_metadata__init(&md[i]);
        md[i].type = v1_type(fams[i].type);
        md[i].metric_family_name = (char *)fams[i].name;
        md[i].help = (char *)(fams[i].help ? fams[i].help : "");
        md[i].unit = (char *)(fams[i].unit ? fams[i].unit : "");
        mdp[i] = &md[i];
    }
    Prometheus__WriteRequest req = PROMETHEUS__WRITE_REQUEST__INIT;
    req.n_metadata = n;
    req.metadata = mdp;
    r = pack_into(&req.base, out);
out:
    free(md);
    free(mdp);
    return r;
}

/* ---- 2.0: per-request symbol table (open addressing on string content) ---- */

struct symtab {
    char **strs; /* index → string (borrowed) */
    size_t n, cap;
    uint32_t *slots; /* hash slot → index + 1 (0 = empty) */
    size_t nslots;
};

static int symtab_init(struct symtab *t, size_t expect)
{
    memset(t, 0, sizeof(*t));
    t->nslots = 16;
    while (t->nslots < expect * 2)
        t->nslots <<= 1;
    t->cap = expect + 1;
    t->slots = calloc(t->nslots, sizeof(*t->slots));
    t->strs = calloc(t->cap, sizeof(*t->strs));
    if (!t->slots || !t->strs)
        return -ENOMEM;
    t->strs[t->n++] = ""; /* index 0 MUST be the empty string */
    return 0;
}

static void symtab_free(struct symtab *t)
{
    free(t->slots);
    free(t->strs);
}

static uint32_t symtab_ref(struct symtab *t, const char *s)
{
    if (!*s)
        return 0;
    size_t len = strlen(s);
    size_t mask = t->nslots - 1, i = hk_hash_bytes(0x5eed, s, len) & mask;
    for (;; i = (i + 1) & mask) {
        uint32_t v = t->slots[i];
        if (!v)
            break;
        if (strcmp(t->strs[v - 1], s) == 0)
            return v - 1;
    }
    /* capacity was sized by the caller for every string it can add */
    t->strs[t->n] = (char *)s;
    t->slots[i] = (uint32_t)(t->n + 1);
    return (uint32_t)t->n++;
}

static Io__Prometheus__Write__V2__Metadata__MetricType v2_type(enum hk_metric_type t)
{
    switch (t) {
    case HK_METRIC_COUNTER:
        return IO__PROMETHEUS__WRITE__V2__METADATA__METRIC_TYPE__METRIC_TYPE_COUNTER;
    case HK_METRIC_GAUGE:
        return IO__PROMETHEUS__WRITE__V2__METADATA__METRIC_TYPE__METRIC_TYPE_GAUGE;
    case HK_METRIC_HISTOGRAM:
        return IO__PROMETHEUS__WRITE__V2__METADATA__METRIC_TYPE__METRIC_TYPE_HISTOGRAM;
    case HK_METRIC_SUMMARY:
        return IO__PROMETHEUS__WRITE__V2__METADATA__METRIC_TYPE__METRIC_TYPE_SUMMARY;
    case HK_METRIC_INFO:
        return IO__PROMETHEUS__WRITE__V2__METADATA__METRIC_TYPE__METRIC_TYPE_INFO;
    default:
        return IO__PROMETHEUS__WRITE__V2__METADATA__METRIC_TYPE__METRIC_TYPE_UNSPECIFIED;
    }
}

int hk_rw_encode_v2(const struct hk_rw_sample *const *samples, size_t n, struct hk_buf *out)
{
    size_t nlabels = 0;
    for (size_t i = 0; i < n; i++)
        nlabels += samples[i]->nlabels;
    struct symtab st;
    Io__Prometheus__Write__V2__TimeSeries *ts = calloc(n ? n : 1, sizeof(*ts));
    Io__Prometheus__Write__V2__TimeSeries **tsp = calloc(n ? n : 1, sizeof(*tsp));
    Io__Prometheus__Write__V2__Sample *sm = calloc(n ? n : 1, sizeof(*sm));
    Io__Prometheus__Write__V2__Sample **smp = calloc(n ? n : 1, sizeof(*smp));
    Io__Prometheus__Write__V2__Metadata *md = calloc(n ? n : 1, sizeof(*md));
    uint32_t *refs = calloc(nlabels ? 2 * nlabels : 1, sizeof(*refs));
    /* Histogram samples: one message each, their span messages in one array. */
    size_t nhist = 0, nspans = 0;
    for (size_t i = 0; i < n; i++)
        if (samples[i]->hist) {
            nhist++;
            nspans += samples[i]->hist->nspans;
        }
    Io__Prometheus__Write__V2__Histogram *hm = calloc(nhist ? nhist : 1, sizeof(*hm));
    Io__Prometheus__Write__V2__Histogram **hmp = calloc(nhist ? nhist : 1, sizeof(*hmp));
    Io__Prometheus__Write__V2__BucketSpan *spm = calloc(nspans ? nspans : 1, sizeof(*spm));
    Io__Prometheus__Write__V2__BucketSpan **spp = calloc(nspans ? nspans : 1, sizeof(*spp));
    size_t hi = 0, si = 0;
    int r = symtab_init(&st, 2 * nlabels + 2 * n);
    if (r < 0 || !ts || !tsp || !sm || !smp || !md || !refs || !hm || !hmp || !spm || !spp) {
        r = -ENOMEM;
        goto out;
    }
    size_t ri = 0;
    for (size_t i = 0; i < n; i++) {
        const struct hk_rw_sample *s = samples[i];
        io__prometheus__write__v2__time_series__init(&ts[i]);
        io__prometheus__write__v2__sample__init(&sm[i]);
        io__prometheus__write__v2__metadata__init(&md[i]);
        sm[i].value = s->value;
        sm[i].timestamp = s->ts_ms;
        smp[i] = &sm[i];
        if (s->hist) {
            hk_rw_hist_v2_fill(s->hist, s->ts_ms, &hm[hi], &spm[si], &spp[si]);
            si += s->hist->nspans;
            hmp[hi] = &hm[hi];
            ts[i].n_histograms = 1;
            ts[i].histograms = &hmp[hi++];
        } else {
            ts[i].n_samples = 1;
            ts[i].samples = &smp[i];
        }
        ts[i].labels_refs = &refs[ri];
        ts[i].n_labels_refs = 2 * (size_t)s->nlabels;
        for (uint32_t k = 0; k < s->nlabels; k++) {
            refs[ri++] = symtab_ref(&st, s->labels[k].name);
            refs[ri++] = symtab_ref(&st, s->labels[k].value);
        }
        if (s->family) {
            md[i].type = v2_type(s->family->type);
            md[i].help_ref = symtab_ref(&st, s->family->help ? s->family->help : "");
            md[i].unit_ref = symtab_ref(&st, s->family->unit ? s->family->unit : "");
        }
        ts[i].metadata = &md[i];
        tsp[i] = &ts[i];
    }
    Io__Prometheus__Write__V2__Request req = IO__PROMETHEUS__WRITE__V2__REQUEST__INIT;
    req.n_symbols = st.n;
    req.symbols = st.strs;
    req.n_timeseries = n;
    req.timeseries = tsp;
    r = pack_into(&req.base, out);
out:
    symtab_free(&st);
    free(ts);
    free(tsp);
    free(sm);
    free(smp);
    free(md);
    free(refs);
    free(hm);
    free(hmp);
    free(spm);
    free(spp);
    return r;
}

/* ---- snappy ---- */

int hk_rw_snappy_compress(const void *in, size_t len, struct hk_buf *out)
{
    hk_buf_reset(out);
    size_t cap = snappy_max_compressed_length(len);
    int r = hk_buf_reserve(out, cap);
    if (r < 0)
        return r;
    if (snappy_compress(in, len, out->data, &cap) != SNAPPY_OK)
        return -EIO;
    out->len = cap;
    return 0;
}

int hk_rw_snappy_uncompress(const void *in, size_t len, size_t max, struct hk_buf *out)
{
    size_t ulen;
    hk_buf_reset(out);
    if (snappy_uncompressed_length(in, len, &ulen) != SNAPPY_OK)
        return -EBADMSG;
    if (ulen > max)
        return -E2BIG;
    /* Snappy expands at most 64 bytes per 3-byte copy element: a larger claimed length is a
     * corrupt header, refused before it costs an allocation of that size. */
    if (ulen / 22 > len)
        return -EBADMSG;
    int r = hk_buf_reserve(out, ulen + 1);
    if (r < 0)
        return r;
    if (snappy_uncompress(in, len, out->data, &ulen) != SNAPPY_OK)
        return -EBADMSG;
    out->len = ulen;
    out->data[ulen] = '\0';
    return 0;
}

/* ---- queue records ----
 * Layout (little endian, before snappy):
 *   "HKR1" u32 nfamilies { u8 type, str name, str help, str unit }
 *   u32 nsamples { u32 family (0xffffffff = none), u64 hash, u64 value bits, i64 ts_ms,
 *                  u32 nlabels { str name, str value } }
 *   str = u32 length, bytes, NUL
 * Native histograms have no place in it (queue format 1 predates them): encoding one is -EINVAL.
 */

#define HK_RW_NO_FAMILY 0xffffffffu

static void put_u32(struct hk_buf *b, uint32_t v)
{
    hk_buf_put(b, &v, 4);
}

static void put_str(struct hk_buf *b, const char *s)
{
    size_t len = s ? strlen(s) : 0;
    put_u32(b, (uint32_t)len);
    hk_buf_put(b, s ? s : "", len + 1);
}

int hk_rw_record_encode(const struct hk_rw_sample *samples, size_t n, struct hk_buf *scratch,
                        struct hk_buf *out)
{
    struct hk_buf own; /* used without a scratch buffer; freeing it unused is a no-op */
    hk_buf_init(&own, HK_RW_RECORD_MAX);
    struct hk_buf *raw = scratch ? scratch : &own;
    const struct hk_rw_family **fams = NULL;
    uint32_t *fam_of = NULL;
    size_t nfams = 0;
    int r = -ENOMEM;
    hk_buf_reset(raw);
    raw->max = HK_RW_RECORD_MAX;
    fams = calloc(n ? n : 1, sizeof(*fams));
    fam_of = calloc(n ? n : 1, sizeof(*fam_of));
    if (!fams || !fam_of)
        goto out;
    /* Samples of one family are adjacent in a snapshot, so comparing with the last one found
     * dedups nearly everything; a rare repeat just costs a duplicate table entry. */
    for (size_t i = 0; i < n; i++) {
        const struct hk_rw_family *f = samples[i].family;
        if (!f) {
            fam_of[i] = HK_RW_NO_FAMILY;
            continue;
        }
        if (nfams && fams[nfams - 1] == f) {
            fam_of[i] = (uint32_t)(nfams - 1);
            continue;
        }
        fams[nfams] = f;
        fam_of[i] = (uint32_t)nfams++;
    }
    for (size_t i = 0; i < n; i++)
        if (samples[i].hist) {
            r = -EINVAL;
            goto out;
        }
    hk_buf_put(raw, "HKR1", 4);
    put_u32(raw, (uint32_t)nfams);
    for (size_t i = 0; i < nfams; i++) {
        uint8_t t = (uint8_t)fams[i]->type;
        hk_buf_put(raw, &t, 1);
        put_str(raw, fams[i]->name);
        put_str(raw, fams[i]->help);
        put_str(raw, fams[i]->unit);
    }
    put_u32(raw, (uint32_t)n);
    for (size_t i = 0; i < n && !raw->err; i++) {
        const struct hk_rw_sample *s = &samples[i];
        uint64_t bits;
        memcpy(&bits, &s->value, 8);
        /* Sized first, then written in one reservation. */
        uint32_t stack[2 * 64];
        int err = 0;
        const uint32_t *len = label_lens(s, stack, &err);
        if (!len) {
            raw->err = err;
            break;
        }
        size_t need = 4 + 8 + 8 + 8 + 4;
        for (uint32_t k = 0; k < 2 * s->nlabels; k++)
            need += 4 + (size_t)len[k] + 1;
        if (hk_buf_reserve(raw, need) < 0) {
            label_lens_free(len, stack, s);
            break;
        }
        uint8_t *p = (uint8_t *)raw->data + raw->len;
        uint32_t u32 = fam_of[i], nlab = s->nlabels;
        uint64_t ts = (uint64_t)s->ts_ms;
        memcpy(p, &u32, 4);
        memcpy(p + 4, &s->hash, 8);
        memcpy(p + 12, &bits, 8);
        memcpy(p + 20, &ts, 8);
        memcpy(p + 28, &nlab, 4);
        p += 32;
        for (uint32_t k = 0; k < 2 * s->nlabels; k++) {
            const char *str = k & 1 ? s->labels[k / 2].value : s->labels[k / 2].name;
            memcpy(p, &len[k], 4);
            p = hk_pb_copy_small(p + 4, str, len[k]);
            *p++ = '\0';
        }
        label_lens_free(len, stack, s);
        raw->len = (size_t)((char *)p - raw->data);
        raw->data[raw->len] = '\0';
    }
    if (raw->err) {
        r = raw->err;
        goto out;
    }
    r = hk_rw_snappy_compress(raw->data, raw->len, out);
out:
    hk_buf_free(&own);
    free(fams);
    free(fam_of);
    return r;
}

struct cursor {
    const char *p, *end;
    bool bad;
};

static uint32_t get_u32(struct cursor *c)
{
    uint32_t v = 0;
    if (c->end - c->p < 4) {
        c->bad = true;
        return 0;
    }
    memcpy(&v, c->p, 4);
    c->p += 4;
    return v;
}

static uint64_t get_u64(struct cursor *c)
{
    uint64_t v = 0;
    if (c->end - c->p < 8) {
        c->bad = true;
        return 0;
    }
    memcpy(&v, c->p, 8);
    c->p += 8;
    return v;
}

/* A stored string (u32 length, bytes, NUL); its length in *ret_len when asked. */
static const char *get_str_len(struct cursor *c, uint32_t *ret_len)
{
    uint32_t len = get_u32(c);
    if (c->bad || (size_t)(c->end - c->p) < (size_t)len + 1 || c->p[len] != '\0') {
        c->bad = true;
        if (ret_len)
            *ret_len = 0;
        return "";
    }
    const char *s = c->p;
    c->p += len + 1;
    if (ret_len)
        *ret_len = len;
    return s;
}

static const char *get_str(struct cursor *c)
{
    return get_str_len(c, NULL);
}

int hk_rw_record_decode(const void *in, size_t len, struct hk_rw_record *ret)
{
    struct hk_buf raw;
    struct hk_rw_record rec = {0};
    int r;
    hk_buf_init(&raw, HK_RW_RECORD_MAX);
    if ((r = hk_rw_snappy_uncompress(in, len, HK_RW_RECORD_MAX, &raw)) < 0)
        goto out;
    size_t total = 0;
    rec.data = hk_buf_steal(&raw, &total);
    r = -EBADMSG;
    if (!rec.data)
        goto out;
    struct cursor c = {rec.data, rec.data + total, false};
    if (total < 8 || memcmp(rec.data, "HKR1", 4) != 0)
        goto out;
    c.p += 4;
    uint32_t nf = get_u32(&c);
    if (c.bad || nf > total / 13)
        goto out;
    rec.families = calloc(nf ? nf : 1, sizeof(*rec.families));
    if (!rec.families) {
        r = -ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < nf && !c.bad; i++) {
        if (c.p >= c.end) {
            c.bad = true;
            break;
        }
        uint8_t t = (uint8_t)*c.p++;
        rec.families[i].type = t <= HK_METRIC_INFO ? (enum hk_metric_type)t : HK_METRIC_UNTYPED;
        rec.families[i].name = get_str(&c);
        rec.families[i].help = get_str(&c);
        rec.families[i].unit = get_str(&c);
    }
    rec.nfamilies = nf;
    uint32_t ns = get_u32(&c);
    if (c.bad || ns > total / 32)
        goto out;
    /* First pass counts labels so one array holds them all. */
    struct cursor c2 = c;
    size_t nl = 0;
    for (uint32_t i = 0; i < ns && !c2.bad; i++) {
        if ((size_t)(c2.end - c2.p) < 4 + 8 + 8 + 8) { /* checked before moving the pointer */
            c2.bad = true;
            break;
        }
        c2.p += 4 + 8 + 8 + 8;
        uint32_t k = get_u32(&c2);
        if (k > 4096) {
            c2.bad = true;
            break;
        }
        nl += k;
        for (uint32_t j = 0; j < 2 * k && !c2.bad; j++)
            get_str(&c2);
    }
    if (c2.bad)
        goto out;
    rec.samples = calloc(ns ? ns : 1, sizeof(*rec.samples));
    rec.labels = calloc(nl ? nl : 1, sizeof(*rec.labels));
    rec.lens = malloc((nl ? nl : 1) * 2 * sizeof(*rec.lens));
    if (!rec.samples || !rec.labels || !rec.lens) {
        r = -ENOMEM;
        goto out;
    }
    size_t li = 0;
    for (uint32_t i = 0; i < ns && !c.bad; i++) {
        struct hk_rw_sample *s = &rec.samples[i];
        uint32_t fi = get_u32(&c);
        s->family = fi < nf ? &rec.families[fi] : NULL;
        s->hash = get_u64(&c);
        uint64_t bits = get_u64(&c);
        memcpy(&s->value, &bits, 8);
        s->ts_ms = (int64_t)get_u64(&c);
        s->nlabels = get_u32(&c);
        s->labels = &rec.labels[li];
        s->lens = &rec.lens[2 * li];
        if (s->nlabels > nl - li) { /* the first pass counted these; a mismatch is corruption */
            c.bad = true;
            break;
        }
        for (uint32_t k = 0; k < s->nlabels && !c.bad; k++, li++) {
            rec.labels[li].name = get_str_len(&c, &rec.lens[2 * li]);
            rec.labels[li].value = get_str_len(&c, &rec.lens[2 * li + 1]);
        }
    }
    if (c.bad)
        goto out;
    rec.nsamples = ns;
    *ret = rec;
    memset(&rec, 0, sizeof(rec));
    r = 0;
out:
    hk_buf_free(&raw);
    hk_rw_record_free(&rec);
    return r;
}

void hk_rw_record_free(struct hk_rw_record *rec)
{
    if (!rec)
        return;
    free(rec->data);
    free(rec->families);
    free(rec->labels);
    free(rec->lens);
    free(rec->samples);
    free(rec->hist_mem);
    memset(rec, 0, sizeof(*rec));
}

/* ---- queue payloads ---- */

void hk_rw_payload_prefix(uint8_t out[HK_RW_PAYLOAD_PREFIX], const struct hk_rw_payload_info *in)
{
    uint64_t ts = (uint64_t)in->newest_ms;
    memset(out, 0, HK_RW_PAYLOAD_PREFIX);
    out[0] = (uint8_t)in->proto;
    for (int b = 0; b < 8; b++) {
        out[4 + b] = (uint8_t)(in->group >> (8 * b));
        out[12 + b] = (uint8_t)(ts >> (8 * b));
    }
}

int hk_rw_payload_parse(const void *data, size_t len, struct hk_rw_payload_info *ret)
{
    const uint8_t *p = data;
    if (len < HK_RW_PAYLOAD_PREFIX || (p[0] != HK_RW_V1 && p[0] != HK_RW_V2))
        return -EBADMSG;
    uint64_t g = 0, ts = 0;
    for (int b = 7; b >= 0; b--) {
        g = g << 8 | p[4 + b];
        ts = ts << 8 | p[12 + b];
    }
    ret->proto = (enum hk_rw_proto)p[0];
    ret->group = g;
    ret->newest_ms = (int64_t)ts;
    return 0;
}
