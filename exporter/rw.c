/* SPDX-License-Identifier: Apache-2.0 */
/* Remote-write pipeline per endpoint (see rw.h): snapshot mailbox → diff + stale markers →
 * target labels + external labels (rw_targets.h) + write_relabel_configs → queue records of at
 * most max_samples_per_send samples → durable queue → sender. One thread per endpoint does all
 * of it, so the queue and the sender need no locks; the scheduler thread only takes a snapshot
 * reference and wakes it.
 * Over 800 lines because one endpoint pipeline (mailbox, diff, stale markers, queue appends,
 * self-metrics) over one endpoint structure. */
#include "exporter/rw.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/arena.h"
#include "core/log.h"
#include "exporter/relabel.h"
#include "exporter/rw_config.h"
#include "exporter/rw_encode.h"
#include "exporter/rw_lcache.h"
#include "exporter/rw_queue.h"
#include "exporter/rw_send.h"
#include "exporter/rw_shape.h"
#include "exporter/rw_targets.h"

#define MAILBOX 16
#define FLUSH_DEADLINE_MS 10000
#define INGEST_SLICE 4096 /* samples taken in between two sender polls */
#define SHAPES 4          /* label shapes remembered (1.0 without rules, see rw_shape.h) */

struct endpoint {
    struct hk_rw_config cfg;
    bool append_failing; /* the queue refuses appends (ENOSPC …): log once per state change */
    struct hk_rw_targets targets; /* job/instance/… and external labels, per target */
    struct hk_relabel_rules *rules;
    struct hk_relabel_result rres;
    struct hk_rw_lcache *lcache; /* the rules' results per series; NULL without rules */
    atomic_uint_fast64_t lc_hits, lc_misses, lc_series; /* its stats, for the self-metrics */
    struct hk_rw_queue *q;
    struct hk_rw_sender *snd;
    struct hk_rw_stats st;
    pthread_t thr;
    bool thr_started;
    atomic_bool stop;
    pthread_mutex_t mu;
    struct hk_snapshot *mail[MAILBOX];
    size_t nmail;
    struct hk_snapshot *prev;
    /* The snapshot being taken in, a slice at a time between sender polls, so a large snapshot
     * never stalls the requests in flight (one thread drives both). */
    struct hk_snapshot *cur;
    struct hk_rw_family *fams, *pfams;
    size_t pos;
    bool stale_phase;
    bool set_built; /* set (below) indexes the snapshot being taken in */
    /* send_native_histograms: which series of the snapshot being walked (cur, then prev for the
     * stale markers) a native histogram replaces. */
    struct hk_rw_nhist_cursor ncur;
    int ingest_err;
    /* The chunk's protocol, the sender's when its first sample came. 1.0: each sample is
     * encoded into rec_raw as it comes (a request is a run of TimeSeries), so chunk, arena and
     * the label copies are not used; 2.0 needs the whole chunk for its symbol table. */
    enum hk_rw_proto chunk_proto;
    int64_t last_meta_ms;
    /* ingest scratch */
    struct hk_rw_sample *chunk;
    const struct hk_rw_sample **chunkp; /* chunk[i]'s address at i, for the encoders */
    size_t nchunk;
    /* 1.0 without rules: the shapes of the snapshot's label sets, forgotten at each snapshot
     * (they compare label names by pointer); shape_next is the one to replace. */
    struct hk_rw_shape shapes[SHAPES];
    size_t shape_last, shape_next;
    int64_t chunk_oldest, chunk_newest;
    uint64_t group;         /* the snapshot being taken in (queue payload prefix) */
    struct hk_arena *arena; /* labels of the chunk being built; rewound after each flush */
    struct hk_arena_mark arena_base;
    struct hk_buf rec, rec_raw; /* a request body, and its bytes before snappy */
    /* Stale markers: which series of the previous snapshot the current one has (by hash).
     * diff_pos: the current snapshot's series after the last one found (checked first); set:
     * an index of its series by hash (position + 1; 0 empty), built only when that misses. */
    size_t diff_pos;
    uint32_t *set;
    size_t setcap;
    struct hk_label *tmp;
    size_t tmpcap;
};

struct hk_rw {
    pthread_mutex_t mu;
    struct endpoint **eps;
    size_t n;
    struct hk_registry *reg;
    const struct hk_config *cfg; /* the running config (main keeps it alive) */
    /* While endpoints are being replaced, snapshots wait here for the new ones. */
    bool replacing;
    struct hk_snapshot *held[MAILBOX];
    size_t nheld;
};

/* ---- ingest ---- */

static size_t set_slot(uint64_t h, size_t mask)
{
    return (size_t)((h * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

static void set_build(struct endpoint *ep, const struct hk_snapshot *snap)
{
    size_t need = 16;
    while (need < snap->nseries * 2)
        need <<= 1;
    if (snap->nseries >= UINT32_MAX) { /* positions + 1 must fit */
        ep->setcap = 0;
        return;
    }
    if (need > ep->setcap) {
        uint32_t *n = realloc(ep->set, need * sizeof(*n));
        if (!n) {
            ep->setcap = 0;
            return;
        }
        ep->set = n;
        ep->setcap = need;
    }
    memset(ep->set, 0, ep->setcap * sizeof(*ep->set));
    size_t mask = ep->setcap - 1;
    for (size_t i = 0; i < snap->nseries; i++) {
        uint64_t h = snap->series[i].hash;
        size_t k = set_slot(h, mask);
        while (ep->set[k] && snap->series[ep->set[k] - 1].hash != h)
            k = (k + 1) & mask;
        if (!ep->set[k])
            ep->set[k] = (uint32_t)(i + 1);
    }
}

/* Whether the snapshot being taken in has a series with hash h (the previous snapshot's series
 * are asked in their order). Snapshots list their series in the same order every cycle, so the
 * one after the last found nearly always answers: a sequential walk, and the index is built
 * only in a cycle where series came or went. */
static bool cur_has(struct endpoint *ep, uint64_t h)
{
    const struct hk_snapshot *cur = ep->cur;
    if (ep->diff_pos < cur->nseries && cur->series[ep->diff_pos].hash == h) {
        ep->diff_pos++;
        return true;
    }
    if (!ep->set_built) {
        set_build(ep, cur);
        ep->set_built = true;
    }
    if (!ep->setcap)
        return true; /* no index (out of memory): send no stale markers rather than wrong ones */
    size_t mask = ep->setcap - 1;
    for (size_t k = set_slot(h, mask); ep->set[k]; k = (k + 1) & mask)
        if (cur->series[ep->set[k] - 1].hash == h) {
            ep->diff_pos = ep->set[k]; /* the one after it */
            return true;
        }
    return false;
}

static int flush_chunk(struct endpoint *ep)
{
    int r = 0;
    if (!ep->nchunk)
        goto out;
    /* The record is the request as it will be sent: encoded in the sender's protocol and
     * compressed once, here; the sender only reads and POSTs it. */
    struct hk_rw_payload_info info = {ep->chunk_proto, ep->group, ep->chunk_newest};
    uint8_t prefix[HK_RW_PAYLOAD_PREFIX];
    if (info.proto == HK_RW_V2) {
        hk_buf_reset(&ep->rec_raw);
        r = hk_rw_encode_v2(ep->chunkp, ep->nchunk, &ep->rec_raw);
    } else {
        r = ep->rec_raw.err; /* its TimeSeries are there already */
    }
    if (r == 0)
        r = hk_rw_snappy_compress(ep->rec_raw.data, ep->rec_raw.len, &ep->rec);
    if (r == 0) {
        hk_rw_payload_prefix(prefix, &info);
        struct iovec parts[2] = {{prefix, sizeof(prefix)}, {ep->rec.data, ep->rec.len}};
        r = hk_rw_queue_appendv(ep->q, parts, 2, (uint32_t)ep->nchunk, ep->chunk_oldest);
    }
    /* Every sample offered counts in samples_total, queued or not, so that total = sent +
     * failed + dropped + pending holds. */
    atomic_fetch_add(&ep->st.samples_total, ep->nchunk);
    if (r < 0) {
        /* Logged once per state change; every lost sample is counted: dropped{disk_full} when
         * the file system is full, dropped{queue_error} for any other refusal (permissions, I/O
         * errors, a vanished directory). */
        if (!ep->append_failing)
            hk_log_error("remote-write: cannot append to the queue, samples lost until it can",
                         "remote_name", ep->cfg.name, "err", strerror(-r));
        ep->append_failing = true;
        if (r == -ENOSPC || r == -EDQUOT)
            atomic_fetch_add(&ep->st.samples_unqueued_disk, ep->nchunk);
        else
            atomic_fetch_add(&ep->st.samples_unqueued_error, ep->nchunk);
        /* Counted and logged: the rest of the snapshot is still offered (each refused chunk is
         * counted the same way), so the count is exact. Only an encoding failure is fatal. */
        if (r != -ENOMEM)
            r = 0;
    } else {
        if (ep->append_failing)
            hk_log_info("remote-write: the queue accepts appends again", "remote_name",
                        ep->cfg.name);
        ep->append_failing = false;
        hk_rw_sender_notify_append(ep->snd);
    }
out:
    ep->nchunk = 0;
    ep->chunk_oldest = ep->chunk_newest = 0;
    hk_buf_reset(&ep->rec_raw);
    if (ep->arena)
        hk_arena_rewind(ep->arena, ep->arena_base);
    return r;
}

/* The outgoing labels of series s (named name) by the rules: from the relabel cache, or computed
 * (and cached). The cache knows a series under its own name, so a native histogram, which goes
 * out under its family's name, is computed each time (one per histogram, not one per bucket).
 * Returns 1 (kept: *out, *nout, *out_hash; *copy when the strings are the relabel result's, valid
 * only until the next application), 0 (dropped), -ENOMEM. */
static int relabel(struct endpoint *ep, const struct hk_series *s, const char *name,
                   enum hk_target target, bool present, const struct hk_label **out, size_t *nout,
                   uint64_t *out_hash, bool *copy)
{
    int r = -ENOENT;
    bool cached = ep->lcache && name == s->name;
    if (cached)
        r = hk_rw_lcache_get(ep->lcache, s, target, present, ep->tmp, nout, out_hash);
    if (r != -ENOENT) {
        *out = ep->tmp; /* strings of s, of the targets or of the cache: valid this cycle */
        return r;
    }
    size_t n = hk_rw_targets_merge(&ep->targets, target, name, s->labels, s->nlabels, ep->tmp);
    r = hk_relabel_apply(ep->rules, ep->tmp, n, &ep->rres);
    if (r == -ENOMEM)
        return r;
    /* Dropped by a rule, over the relabel caps, or without a name left. */
    if (r <= 0 || !ep->rres.n || !hk_labels_get(ep->rres.labels, ep->rres.n, "__name__"))
        r = 0;
    *out = ep->rres.labels;
    *nout = r ? ep->rres.n : 0;
    *out_hash = r ? s->hash : 0; /* nothing picks a shard by it any more (queue format 2) */
    *copy = true;
    /* Out of memory for the cache only means computing it again next cycle. */
    if (cached)
        (void)hk_rw_lcache_put(ep->lcache, s, target, present, *out, *nout, *out_hash);
    return r;
}

static void forget_shapes(struct endpoint *ep)
{
    for (size_t i = 0; i < SHAPES; i++)
        ep->shapes[i].valid = false;
}

/* The shape (rw_shape.h) of series s of target, made from it when none of those remembered
 * fits; NULL when s gets none (too many labels, out of memory: encoded the general way). */
static const struct hk_rw_shape *shape_of(struct endpoint *ep, const struct hk_series *s,
                                          enum hk_target target)
{
    struct hk_rw_shape *sh = &ep->shapes[ep->shape_last];
    if (hk_rw_shape_fits(sh, target, s->labels, s->nlabels))
        return sh;
    for (size_t i = 0; i < SHAPES; i++)
        if (hk_rw_shape_fits(&ep->shapes[i], target, s->labels, s->nlabels)) {
            ep->shape_last = i;
            return &ep->shapes[i];
        }
    size_t k = ep->shape_next;
    ep->shape_next = (k + 1) % SHAPES;
    if (hk_rw_shape_build(&ep->shapes[k], &ep->targets, target, s->labels, s->nlabels) < 0)
        return NULL;
    ep->shape_last = k;
    return &ep->shapes[k];
}

/* The chunk's labels (2.0): out[0..nout) copied into the arena (copy: the strings too). */
static int chunk_labels(struct endpoint *ep, const struct hk_label *out, size_t nout, bool copy,
                        const struct hk_label **ret)
{
    if (!ep->arena) {
        /* One byte first so the mark keeps the first chunk across rewinds. */
        if (!(ep->arena = hk_arena_new(256 * 1024)) || !hk_arena_alloc(ep->arena, 1))
            return -ENOMEM;
        ep->arena_base = hk_arena_mark(ep->arena);
    }
    struct hk_label *labels = hk_arena_alloc(ep->arena, nout * sizeof(*labels));
    if (!labels)
        return -ENOMEM;
    for (size_t i = 0; i < nout; i++) {
        labels[i] = out[i];
        if (copy) {
            labels[i].name = hk_arena_strndup(ep->arena, out[i].name, strlen(out[i].name));
            labels[i].value = hk_arena_strndup(ep->arena, out[i].value, strlen(out[i].value));
            if (!labels[i].name || !labels[i].value)
                return -ENOMEM;
        }
    }
    *ret = labels;
    return 0;
}

/* Builds the outgoing label set of one series (named name: s->name, or a native histogram's
 * family name) and adds a sample (value, or the native histogram hist) to the chunk. present: s
 * is in the snapshot being taken in (false: a stale marker for a series of the previous one). */
static int add_sample(struct endpoint *ep, const struct hk_series *s, const char *name,
                      const struct hk_rw_family *fam, enum hk_target target, double value,
                      const struct hk_nhist *hist, int64_t ts_ms, bool present)
{
    int r;
    if (!ep->nchunk) {
        ep->chunk_proto = hk_rw_sender_proto(ep->snd);
        hk_buf_reset(&ep->rec_raw);
    }
    bool v1 = ep->chunk_proto != HK_RW_V2;
    const struct hk_rw_shape *sh = v1 && !ep->rules && !hist ? shape_of(ep, s, target) : NULL;
    if (sh) {
        /* The common case: no label set built at all. */
        if ((r = hk_rw_shape_encode(sh, name, s->labels, value, ts_ms, &ep->rec_raw)) < 0)
            return r;
        goto added;
    }
    size_t need = s->nlabels + 1 + ep->targets.max_add;
    if (ep->lcache && need < HK_RW_LCACHE_MAX_OUT)
        need = HK_RW_LCACHE_MAX_OUT; /* room for any cached outcome */
    if (need > ep->tmpcap) {
        struct hk_label *t = realloc(ep->tmp, need * sizeof(*t));
        if (!t)
            return -ENOMEM;
        ep->tmp = t;
        ep->tmpcap = need;
    }
    const struct hk_label *out = ep->tmp;
    size_t nout;
    /* The series' own hash: since queue format 2 the sender deals whole records to the shards,
     * so no hash of the outgoing labels is needed (it is only written into format-1 records). */
    uint64_t out_hash = s->hash;
    bool copy = false;
    if (ep->rules) {
        r = relabel(ep, s, name, target, present, &out, &nout, &out_hash, &copy);
        if (r < 0)
            return r;
        if (r == 0) {
            atomic_fetch_add(&ep->st.samples_dropped[HK_RW_DROP_RELABEL], 1);
            return 0;
        }
    } else {
        nout = hk_rw_targets_merge(&ep->targets, target, name, s->labels, s->nlabels, ep->tmp);
    }
    if (!nout || !hk_labels_get(out, nout, "__name__")) {
        atomic_fetch_add(&ep->st.samples_dropped[HK_RW_DROP_RELABEL], 1);
        return 0;
    }
    struct hk_rw_sample one = {out, (uint32_t)nout, fam, value, ts_ms, out_hash, NULL, hist};
    if (v1) {
        /* Encoded now, while the strings (the relabel result's too) are valid. */
        if ((r = hk_rw_encode_v1_series(&one, &ep->rec_raw)) < 0)
            return r;
        goto added;
    }
    if ((r = chunk_labels(ep, out, nout, copy, &one.labels)) < 0)
        return r;
    ep->chunk[ep->nchunk] = one;
added:
    ep->nchunk++;
    if (!ep->chunk_oldest || ts_ms < ep->chunk_oldest)
        ep->chunk_oldest = ts_ms;
    if (ts_ms > ep->chunk_newest)
        ep->chunk_newest = ts_ms;
    if (ep->nchunk == ep->cfg.queue.max_samples_per_send)
        return flush_chunk(ep);
    return 0;
}

static struct hk_rw_family *family_view(const struct hk_snapshot *snap)
{
    struct hk_rw_family *f = calloc(snap->nfamilies ? snap->nfamilies : 1, sizeof(*f));
    if (!f)
        return NULL;
    for (size_t i = 0; i < snap->nfamilies; i++)
        f[i] = (struct hk_rw_family){snap->families[i].name, snap->families[i].help,
                                     snap->families[i].unit, snap->families[i].type};
    return f;
}

/* Ends the snapshot being taken in: last chunk, fsync (fsync: batch), bookkeeping; it becomes
 * the previous snapshot (the reference for the next one's stale markers). */
static void ingest_end(struct endpoint *ep)
{
    struct hk_snapshot *snap = ep->cur;
    int r = ep->ingest_err;
    if (r >= 0)
        r = flush_chunk(ep);
    if (ep->lcache) { /* after the last chunk: its labels may point into the cache */
        struct hk_rw_lcache_stats ls;
        hk_rw_lcache_cycle_end(ep->lcache);
        hk_rw_lcache_get_stats(ep->lcache, &ls);
        atomic_store(&ep->lc_hits, ls.hits);
        atomic_store(&ep->lc_misses, ls.misses);
        atomic_store(&ep->lc_series, ls.entries);
    }
    if (r >= 0 && ep->cfg.queue.fsync == HK_RW_FSYNC_BATCH && (r = hk_rw_queue_sync(ep->q)) < 0)
        hk_log_error("remote-write: cannot fsync the queue", "remote_name", ep->cfg.name, "err",
                     strerror(-r));
    int64_t cur = atomic_load(&ep->st.highest_ts_ms);
    while (snap->ts_ms > cur &&
           !atomic_compare_exchange_weak(&ep->st.highest_ts_ms, &cur, snap->ts_ms))
        ;
    if (r < 0) {
        if (!ep->append_failing) /* a refused append was already logged, once */
            hk_log_error("remote-write: cannot queue a snapshot", "remote_name", ep->cfg.name,
                         "err", strerror(-r));
        ep->nchunk = 0;
        if (ep->arena)
            hk_arena_rewind(ep->arena, ep->arena_base);
    }
    free(ep->fams);
    free(ep->pfams);
    ep->fams = ep->pfams = NULL;
    hk_snapshot_unref(ep->prev);
    ep->prev = snap;
    ep->cur = NULL;
}

static void ingest_begin(struct endpoint *ep, struct hk_snapshot *snap)
{
    ep->cur = snap;
    /* A new group: the sender sends records of one group in parallel, so a snapshot's records
     * must never share a group with another's (also across restarts: random high half). */
    ep->group = (ep->group & 0xffffffff00000000ull) | (uint32_t)(ep->group + 1);
    ep->pos = 0;
    if (ep->lcache)
        hk_rw_lcache_cycle_begin(ep->lcache);
    ep->stale_phase = ep->prev != NULL; /* the gone series first, see ingest_step */
    ep->diff_pos = 0;
    ep->set_built = false;
    ep->ingest_err = 0;
    forget_shapes(ep); /* they point at the label names of older snapshots */
    ep->fams = family_view(snap);
    ep->pfams = ep->prev ? family_view(ep->prev) : NULL;
    hk_rw_nhist_cursor_init(&ep->ncur, ep->stale_phase ? ep->prev : snap);
    if (!ep->fams || (ep->prev && !ep->pfams))
        ep->ingest_err = -ENOMEM;
}

/* The previous snapshot is no longer needed once its gone series have their stale markers: let
 * go before the (long) walk of the new one, so an endpoint holds one snapshot, not two, for most
 * of a cycle. Kept until ingest_end with write_relabel_configs (the relabel cache's entries point
 * at the previous snapshot's series until the new one's are found, rw_lcache.h) and while a 2.0
 * chunk holds stale markers (its label sets point at that snapshot's strings until encoded). */
static void release_prev(struct endpoint *ep)
{
    if (ep->lcache || (ep->chunk_proto == HK_RW_V2 && ep->nchunk))
        return;
    forget_shapes(ep); /* the shapes of the stale markers compare names of that snapshot */
    free(ep->pfams);
    ep->pfams = NULL;
    hk_snapshot_unref(ep->prev);
    ep->prev = NULL;
}

/* Takes in up to max samples of the current snapshot: first stale markers for the previous
 * snapshot's series that are gone (they carry the new snapshot's timestamp; gone and present
 * series are disjoint, so no series' samples change order), then its series. Returns true when
 * the snapshot is done. */
static bool ingest_step(struct endpoint *ep, size_t max)
{
    struct hk_snapshot *snap = ep->cur;
    int r = ep->ingest_err;
    size_t done = 0;
    if (ep->stale_phase && r >= 0) {
        const struct hk_snapshot *prev = ep->prev; /* set whenever stale_phase is */
        size_t nprev = prev ? prev->nseries : 0;
        double stale;
        uint64_t bits = HK_STALE_NAN_BITS;
        memcpy(&stale, &bits, sizeof(stale));
        /* Checking presence is cheap: a slice covers several times max series here. */
        for (; ep->pos < nprev && r >= 0 && done < max * 8; ep->pos++, done++) {
            const struct hk_series *s = &prev->series[ep->pos];
            const struct hk_family *f = &prev->families[s->family];
            bool at_count = false;
            const struct hk_nhist *nh = ep->cfg.send_native_histograms
                                            ? hk_rw_nhist_cursor_at(&ep->ncur, ep->pos, &at_count)
                                            : NULL;
            if ((nh && !at_count) || cur_has(ep, s->hash))
                continue;
            /* A vanished native histogram gets the native stale marker (a histogram whose sum
             * has the StaleNaN bits), as Prometheus appends for one. */
            r = add_sample(ep, s, nh ? f->name : s->name, &ep->pfams[s->family],
                           (enum hk_target)f->target, stale, nh ? &hk_rw_hist_stale : NULL,
                           snap->ts_ms, false);
        }
        if (r >= 0 && ep->pos == nprev) {
            ep->stale_phase = false;
            ep->pos = 0;
            hk_rw_nhist_cursor_init(&ep->ncur, snap);
            release_prev(ep);
        }
    }
    if (!ep->stale_phase && r >= 0) {
        for (; ep->pos < snap->nseries && r >= 0 && done < max; ep->pos++, done++) {
            const struct hk_series *s = &snap->series[ep->pos];
            const struct hk_family *f = &snap->families[s->family];
            int64_t ts = s->ts_ms ? s->ts_ms : snap->ts_ms;
            bool at_count = false;
            const struct hk_nhist *nh = ep->cfg.send_native_histograms
                                            ? hk_rw_nhist_cursor_at(&ep->ncur, ep->pos, &at_count)
                                            : NULL;
            if (nh && !at_count)
                continue; /* a classic series of a histogram sent natively */
            r = add_sample(ep, s, nh ? f->name : s->name, &ep->fams[s->family],
                           (enum hk_target)f->target, s->value, nh, ts, true);
        }
    }
    ep->ingest_err = r;
    bool finished = r < 0 || (!ep->stale_phase && ep->pos == snap->nseries);
    if (finished)
        ingest_end(ep);
    return finished;
}

static void send_metadata(struct endpoint *ep)
{
    int64_t now = hk_rw_now_ms();
    if (!ep->cfg.metadata_send || ep->cfg.proto != HK_RW_V1 || !ep->prev ||
        (ep->last_meta_ms && now - ep->last_meta_ms < ep->cfg.metadata_send_interval_ms))
        return;
    ep->last_meta_ms = now;
    struct hk_rw_family *f = family_view(ep->prev);
    struct hk_buf b;
    hk_buf_init(&b, HK_RW_BODY_MAX);
    if (f && hk_rw_encode_metadata_v1(f, ep->prev->nfamilies, &b) == 0)
        hk_rw_sender_send_metadata(ep->snd, b.data, b.len);
    hk_buf_free(&b);
    free(f);
}

/* The oldest snapshot in the mailbox, or NULL. */
static struct hk_snapshot *take_one(struct endpoint *ep)
{
    struct hk_snapshot *snap = NULL;
    pthread_mutex_lock(&ep->mu);
    if (ep->nmail) {
        snap = ep->mail[0];
        memmove(ep->mail, ep->mail + 1, (ep->nmail - 1) * sizeof(*ep->mail));
        ep->nmail--;
    }
    pthread_mutex_unlock(&ep->mu);
    return snap;
}

static void *endpoint_main(void *arg)
{
    struct endpoint *ep = arg;
    struct hk_snapshot *snap;
    pthread_setname_np(pthread_self(), "hk-remote-write"); /* top -H, perf, /proc/PID/task */
    while (!atomic_load(&ep->stop)) {
        if (!ep->cur && (snap = take_one(ep)))
            ingest_begin(ep, snap);
        if (ep->cur && ingest_step(ep, INGEST_SLICE) && (snap = take_one(ep)))
            ingest_begin(ep, snap);
        send_metadata(ep);
        /* No waiting while a snapshot is being taken in; a publish wakes the poll. */
        int r = hk_rw_sender_poll(ep->snd, ep->cur ? 0 : 1000);
        if (r < 0) {
            hk_log_error("remote-write sender error", "remote_name", ep->cfg.name, "err",
                         strerror(-r));
            struct timespec ts = {0, 200 * 1000000};
            nanosleep(&ts, NULL);
        }
    }
    /* Everything published is made durable, then the round in flight gets a little time. */
    for (;;) {
        while (ep->cur && !ingest_step(ep, SIZE_MAX / 16))
            ;
        if (!(snap = take_one(ep)))
            break;
        ingest_begin(ep, snap);
    }
    int64_t budget = FLUSH_DEADLINE_MS;
    hk_rw_sender_flush(ep->snd, hk_rw_now_ms() + budget);
    struct hk_rw_queue_stats qs;
    hk_rw_queue_get_stats(ep->q, &qs);
    char total[24], sent[24], failed[24], dropped[24], pending[24], unqueued[24];
    /* Dropped after they were offered to the queue (so total = sent + failed + dropped +
     * pending), and those that never got that far (relabel, overload). */
    uint64_t d = atomic_load(&ep->st.samples_dropped[HK_RW_DROP_TOO_OLD]) +
                 atomic_load(&ep->st.samples_dropped[HK_RW_DROP_DISK_FULL]) +
                 atomic_load(&ep->st.samples_unqueued_disk) +
                 atomic_load(&ep->st.samples_unqueued_error) +
                 atomic_load(&ep->st.samples_dropped[HK_RW_DROP_CORRUPT]);
    uint64_t u = atomic_load(&ep->st.samples_dropped[HK_RW_DROP_RELABEL]) +
                 atomic_load(&ep->st.samples_dropped[HK_RW_DROP_OVERLOAD]);
    snprintf(unqueued, sizeof(unqueued), "%llu", (unsigned long long)u);
    snprintf(total, sizeof(total), "%llu", (unsigned long long)atomic_load(&ep->st.samples_total));
    snprintf(sent, sizeof(sent), "%llu", (unsigned long long)atomic_load(&ep->st.samples_sent));
    snprintf(failed, sizeof(failed), "%llu",
             (unsigned long long)atomic_load(&ep->st.samples_failed));
    snprintf(dropped, sizeof(dropped), "%llu", (unsigned long long)d);
    snprintf(pending, sizeof(pending), "%llu", (unsigned long long)qs.pending_samples);
    hk_log_info("remote-write endpoint stopped", "remote_name", ep->cfg.name, "samples_total",
                total, "samples_sent", sent, "samples_failed", failed, "samples_dropped", dropped,
                "samples_pending", pending, "samples_not_queued", unqueued);
    return NULL;
}

/* ---- lifecycle ---- */

static void endpoint_free(struct endpoint *ep)
{
    if (!ep)
        return;
    if (ep->thr_started) {
        atomic_store(&ep->stop, true);
        hk_rw_sender_wakeup(ep->snd);
        pthread_join(ep->thr, NULL);
    }
    for (size_t i = 0; i < ep->nmail; i++)
        hk_snapshot_unref(ep->mail[i]);
    hk_snapshot_unref(ep->prev);
    hk_snapshot_unref(ep->cur);
    free(ep->fams);
    free(ep->pfams);
    hk_rw_sender_free(ep->snd);
    hk_rw_queue_close(ep->q); /* writes the savepoint */
    hk_relabel_result_free(&ep->rres);
    hk_rw_lcache_free(ep->lcache);
    hk_relabel_free(ep->rules);
    hk_arena_free(ep->arena);
    for (size_t i = 0; i < SHAPES; i++)
        hk_rw_shape_free(&ep->shapes[i]);
    hk_buf_free(&ep->rec);
    hk_buf_free(&ep->rec_raw);
    free(ep->chunk);
    free(ep->chunkp);
    free(ep->set);
    free(ep->tmp);
    hk_rw_targets_free(&ep->targets);
    hk_rw_config_free(&ep->cfg);
    pthread_mutex_destroy(&ep->mu);
    free(ep);
}

static int endpoint_new(const struct hk_yaml_node *item, const struct hk_config *cfg,
                        struct endpoint **ret, struct hk_error *err)
{
    struct endpoint *ep = calloc(1, sizeof(*ep));
    int r;
    if (!ep)
        return -ENOMEM;
    pthread_mutex_init(&ep->mu, NULL);
    hk_buf_init(&ep->rec, HK_RW_RECORD_MAX);
    hk_buf_init(&ep->rec_raw, HK_RW_RECORD_MAX);
    if ((r = hk_rw_config_parse(item, &ep->cfg, err)) < 0)
        goto fail;
    if ((r = hk_relabel_parse(ep->cfg.write_relabel_configs, &ep->rules, err)) < 0)
        goto fail;
    if (ep->rules && hk_relabel_count(ep->rules) == 0) {
        hk_relabel_free(ep->rules);
        ep->rules = NULL;
    }
    struct hk_rw_identity id;
    char host[256];
    hk_rw_identity_from_env(&id, host, sizeof(host));
    if ((r = hk_rw_targets_build(&ep->targets, cfg->target_labels, cfg->external_labels,
                                 cfg->n_external_labels, &id)) < 0)
        goto fail;
    if (ep->rules && !(ep->lcache = hk_rw_lcache_new(&ep->targets))) {
        r = -ENOMEM;
        goto fail;
    }
    if (!(ep->chunk = calloc(ep->cfg.queue.max_samples_per_send, sizeof(*ep->chunk))) ||
        !(ep->chunkp = calloc(ep->cfg.queue.max_samples_per_send, sizeof(*ep->chunkp)))) {
        r = -ENOMEM;
        goto fail;
    }
    for (uint32_t i = 0; i < ep->cfg.queue.max_samples_per_send; i++)
        ep->chunkp[i] = &ep->chunk[i];
    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
        rnd = (uint32_t)hk_rw_wall_ms() ^ (uint32_t)getpid() << 16;
    ep->group = (uint64_t)rnd << 32;
    char dir[4096];
    if (snprintf(dir, sizeof(dir), "%s/%s", ep->cfg.queue.disk_path, ep->cfg.name) >=
        (int)sizeof(dir)) {
        r = hk_error_at(err, item, "remote_write %s: disk_path too long", ep->cfg.name);
        goto fail;
    }
    struct hk_rw_queue_opts qo = {
        .dir = dir,
        .max_disk_bytes = ep->cfg.queue.max_disk_bytes,
        .fsync_each_append = false, /* fsync: batch syncs once per snapshot (ingest) */
    };
    if ((r = hk_rw_queue_open(&qo, &ep->q)) < 0) {
        hk_error_at(err, item, "remote_write %s: cannot open queue %s: %s", ep->cfg.name, dir,
                    strerror(-r));
        goto fail;
    }
    if ((r = hk_rw_sender_new(&ep->cfg, ep->q, &ep->st, &ep->snd)) < 0) {
        hk_error_at(err, item, "remote_write %s: cannot set up the sender: %s", ep->cfg.name,
                    strerror(-r));
        goto fail;
    }
    struct hk_rw_queue_stats qs;
    hk_rw_queue_get_stats(ep->q, &qs);
    if (qs.pending_samples) {
        char n[32];
        snprintf(n, sizeof(n), "%llu", (unsigned long long)qs.pending_samples);
        hk_log_info("remote-write: resuming from the savepoint", "remote_name", ep->cfg.name,
                    "pending_samples", n);
    }
    *ret = ep;
    return 0;
fail:
    endpoint_free(ep);
    return r < 0 ? r : -EINVAL;
}

static void on_publish(struct hk_snapshot *snap, void *ud)
{
    struct hk_rw *rw = ud;
    pthread_mutex_lock(&rw->mu);
    if (rw->replacing && rw->nheld < MAILBOX)
        rw->held[rw->nheld++] = hk_snapshot_ref(snap);
    for (size_t i = 0; i < rw->n; i++) {
        struct endpoint *ep = rw->eps[i];
        pthread_mutex_lock(&ep->mu);
        if (ep->nmail < MAILBOX)
            ep->mail[ep->nmail++] = hk_snapshot_ref(snap);
        else
            atomic_fetch_add(&ep->st.samples_dropped[HK_RW_DROP_OVERLOAD], snap->nseries);
        pthread_mutex_unlock(&ep->mu);
        hk_rw_sender_wakeup(ep->snd);
    }
    pthread_mutex_unlock(&rw->mu);
}

/* Once per (re)start: a target label that cannot be given is left out, which some joins miss. */
static void warn_identity(const struct hk_config *cfg)
{
    struct hk_rw_identity id;
    char host[256];
    if (cfg->target_labels == HK_TARGET_LABELS_NONE)
        return;
    hk_rw_identity_from_env(&id, host, sizeof(host));
    if (!id.node || !id.node[0])
        hk_log_warn("remote-write: no node name (NODE_NAME unset, no host name): series get no "
                    "instance label");
    if (cfg->target_labels == HK_TARGET_LABELS_KUBE_PROMETHEUS &&
        (!id.pod_namespace || !id.pod_namespace[0] || !id.pod_name || !id.pod_name[0]))
        hk_log_warn("remote-write: target_labels: kube-prometheus without POD_NAMESPACE and "
                    "POD_NAME (downward API): node_* series get no namespace/pod, so "
                    "node:node_num_cpu:sum cannot join them to kube_pod_info");
}

static int start_all(const struct hk_config *cfg, struct endpoint ***ret, size_t *ret_n,
                     struct hk_error *err)
{
    const struct hk_yaml_node *list = cfg->remote_write;
    size_t n = list ? list->n : 0;
    struct endpoint **eps = calloc(n ? n : 1, sizeof(*eps));
    int r = 0;
    if (!eps)
        return -ENOMEM;
    /* Names must be unique: validate the whole list first. */
    if ((r = hk_rw_config_check(cfg, err)) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++)
        if ((r = endpoint_new(list->items[i], cfg, &eps[i], err)) < 0)
            goto fail;
    if (n)
        warn_identity(cfg);
    for (size_t i = 0; i < n; i++) {
        if ((r = -pthread_create(&eps[i]->thr, NULL, endpoint_main, eps[i])) < 0) {
            hk_error_at(err, NULL, "cannot start a remote-write thread");
            goto fail;
        }
        eps[i]->thr_started = true;
        hk_log_info("remote-write endpoint started", "remote_name", eps[i]->cfg.name, "url",
                    eps[i]->cfg.url);
    }
    *ret = eps;
    *ret_n = n;
    return 0;
fail:
    for (size_t i = 0; i < n; i++)
        endpoint_free(eps[i]);
    free(eps);
    return r;
}

static void stop_all(struct endpoint **eps, size_t n)
{
    /* Signal all first so they flush in parallel. */
    for (size_t i = 0; i < n; i++) {
        atomic_store(&eps[i]->stop, true);
        hk_rw_sender_wakeup(eps[i]->snd);
    }
    for (size_t i = 0; i < n; i++)
        endpoint_free(eps[i]);
    free(eps);
}

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int hk_rw_start(const struct hk_config *cfg, struct hk_registry *reg, struct hk_rw **ret,
                struct hk_error *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    struct hk_rw *rw = calloc(1, sizeof(*rw));
    int r;
    if (!rw)
        return -ENOMEM;
    pthread_once(&once, global_init);
    pthread_mutex_init(&rw->mu, NULL);
    rw->reg = reg;
    rw->cfg = cfg;
    if ((r = start_all(cfg, &rw->eps, &rw->n, err)) < 0) {
        pthread_mutex_destroy(&rw->mu);
        free(rw);
        return r;
    }
    /* Subscriptions cannot be undone, so the hub subscribes once and lives until exit. */
    if ((r = hk_registry_subscribe(reg, on_publish, rw)) < 0) {
        hk_error_at(err, NULL, "cannot subscribe the remote-write exporter");
        stop_all(rw->eps, rw->n);
        rw->eps = NULL;
        rw->n = 0;
        *ret = rw; /* already subscribed maybe: keep the hub alive, empty */
        return r;
    }
    *ret = rw;
    return 0;
}

/* Hands the snapshots held during a replacement to the new endpoints (caller holds rw->mu). */
static void release_held(struct hk_rw *rw)
{
    for (size_t k = 0; k < rw->nheld; k++) {
        for (size_t i = 0; i < rw->n; i++) {
            struct endpoint *ep = rw->eps[i];
            pthread_mutex_lock(&ep->mu);
            if (ep->nmail < MAILBOX)
                ep->mail[ep->nmail++] = hk_snapshot_ref(rw->held[k]);
            pthread_mutex_unlock(&ep->mu);
            hk_rw_sender_wakeup(ep->snd);
        }
        hk_snapshot_unref(rw->held[k]);
    }
    rw->nheld = 0;
    rw->replacing = false;
}

int hk_rw_reconfigure(struct hk_rw *rw, const struct hk_config *cfg, struct hk_error *err)
{
    struct endpoint **eps, **old;
    size_t n, oldn;
    /* Validate first so a bad config leaves the old endpoints untouched. */
    int r = hk_rw_config_check(cfg, err);
    if (r < 0)
        return r;
    pthread_mutex_lock(&rw->mu);
    old = rw->eps;
    oldn = rw->n;
    rw->eps = NULL;
    rw->n = 0;
    rw->replacing = true; /* snapshots published meanwhile go to the new endpoints */
    pthread_mutex_unlock(&rw->mu);
    stop_all(old, oldn); /* queues closed: the new endpoints can open the same directories */
    if ((r = start_all(cfg, &eps, &n, err)) < 0) {
        struct hk_error ignored;
        if (start_all(rw->cfg, &eps, &n, &ignored) < 0) {
            eps = NULL;
            n = 0;
        }
    } else {
        rw->cfg = cfg;
    }
    pthread_mutex_lock(&rw->mu);
    rw->eps = eps;
    rw->n = n;
    release_held(rw);
    pthread_mutex_unlock(&rw->mu);
    return r;
}

void hk_rw_stop(struct hk_rw *rw)
{
    if (!rw)
        return;
    pthread_mutex_lock(&rw->mu);
    struct endpoint **eps = rw->eps;
    size_t n = rw->n;
    rw->eps = NULL;
    rw->n = 0;
    pthread_mutex_unlock(&rw->mu);
    stop_all(eps, n);
    for (size_t k = 0; k < rw->nheld; k++)
        hk_snapshot_unref(rw->held[k]);
    /* The registry keeps the subscription; main stops the scheduler (no more publishes) before
     * it stops the exporters, so the hub can go. */
    pthread_mutex_destroy(&rw->mu);
    free(rw);
}

/* ---- self-metrics ---- */

static const char *const rw_labels[] = {"remote_name", "url", NULL};
static const char *const rw_reason_labels[] = {"remote_name", "url", "reason", NULL};

#define RW_DESC(var, nm, hp, tp, un)                                                               \
    static const struct hk_metric_desc var = {nm, hp, tp, un, rw_labels}

RW_DESC(d_total, "hakari_remote_storage_samples_total",
        "Samples offered to the remote-write queue (after relabelling, including stale markers).",
        HK_METRIC_COUNTER, "");
RW_DESC(d_sent, "hakari_remote_storage_samples_sent_total", "Samples the receiver accepted (2xx).",
        HK_METRIC_COUNTER, "");
RW_DESC(d_failed, "hakari_remote_storage_samples_failed_total",
        "Samples the receiver refused for good (4xx other than 429) and that were dropped.",
        HK_METRIC_COUNTER, "");
RW_DESC(d_retried, "hakari_remote_storage_samples_retried_total",
        "Samples in requests that are retried (5xx, 429, timeouts, connection errors).",
        HK_METRIC_COUNTER, "");
static const struct hk_metric_desc d_dropped = {
    "hakari_remote_storage_samples_dropped_total",
    "Samples dropped before delivery, by reason (too_old, disk_full, queue_error, corrupt, "
    "relabel, "
    "overload).",
    HK_METRIC_COUNTER, "", rw_reason_labels};
RW_DESC(d_bytes, "hakari_remote_storage_bytes_total",
        "Compressed request bytes the receiver accepted.", HK_METRIC_COUNTER, "bytes");
RW_DESC(d_pending, "hakari_remote_storage_samples_pending",
        "Samples in the durable queue not yet delivered.", HK_METRIC_GAUGE, "");
RW_DESC(d_disk, "hakari_remote_storage_disk_queue_bytes",
        "Bytes of the durable queue's segment files.", HK_METRIC_GAUGE, "bytes");
RW_DESC(d_disk_max, "hakari_remote_storage_disk_queue_max_bytes",
        "Configured budget of the durable queue (queue_config.max_disk_bytes; 0 = unlimited).",
        HK_METRIC_GAUGE, "bytes");
RW_DESC(d_oldest, "hakari_remote_storage_oldest_pending_sample_age_seconds",
        "Age of the oldest sample in the round being delivered (0 when nothing is pending).",
        HK_METRIC_GAUGE, "seconds");
RW_DESC(d_high, "hakari_remote_storage_queue_highest_timestamp_seconds",
        "Newest sample timestamp taken into the queue.", HK_METRIC_GAUGE, "seconds");
RW_DESC(d_highsent, "hakari_remote_storage_queue_highest_sent_timestamp_seconds",
        "Newest sample timestamp the receiver accepted.", HK_METRIC_GAUGE, "seconds");
RW_DESC(d_shards, "hakari_remote_storage_shards", "Shards (parallel requests) in use.",
        HK_METRIC_GAUGE, "");
RW_DESC(d_split, "hakari_remote_storage_requests_split_total",
        "Requests split in two after a 413 answer.", HK_METRIC_COUNTER, "");
RW_DESC(d_fallback, "hakari_remote_storage_protocol_fallbacks_total",
        "Switches from remote-write 2.0 to 1.0 (415, or 2xx without written-count headers).",
        HK_METRIC_COUNTER, "");
RW_DESC(d_meta, "hakari_remote_storage_metadata_requests_total",
        "Metadata-only (1.0) requests the receiver accepted.", HK_METRIC_COUNTER, "");
RW_DESC(d_lc_hits, "hakari_remote_storage_relabel_cache_hits_total",
        "Series whose write_relabel_configs outcome came from the relabel cache (0 without "
        "write_relabel_configs).",
        HK_METRIC_COUNTER, "");
RW_DESC(d_lc_misses, "hakari_remote_storage_relabel_cache_misses_total",
        "Series the write_relabel_configs were applied to because the relabel cache had no "
        "outcome for them (new series).",
        HK_METRIC_COUNTER, "");
RW_DESC(d_lc_series, "hakari_remote_storage_relabel_cache_series",
        "Series in the relabel cache after the last snapshot (those of the snapshot).",
        HK_METRIC_GAUGE, "");
RW_DESC(d_dur, "hakari_remote_storage_sent_batch_duration_seconds",
        "Duration of remote-write requests, retries counted separately.", HK_METRIC_HISTOGRAM,
        "seconds");

static const char *const reason_names[HK_RW_DROP_N] = {"too_old", "disk_full", "corrupt", "relabel",
                                                       "overload"};

void hk_rw_self_metrics(struct hk_builder *b, void *arg)
{
    struct hk_rw *rw = arg;
    pthread_mutex_lock(&rw->mu);
    int64_t now = hk_rw_wall_ms();
    for (size_t i = 0; i < rw->n; i++) {
        struct endpoint *ep = rw->eps[i];
        struct hk_rw_stats *st = &ep->st;
        const char *v[] = {ep->cfg.name, ep->cfg.url};
        hk_emit(b, &d_total, v, (double)atomic_load(&st->samples_total));
        hk_emit(b, &d_sent, v, (double)atomic_load(&st->samples_sent));
        hk_emit(b, &d_failed, v, (double)atomic_load(&st->samples_failed));
        hk_emit(b, &d_retried, v, (double)atomic_load(&st->samples_retried));
        for (int k = 0; k < HK_RW_DROP_N; k++) {
            const char *rv[] = {ep->cfg.name, ep->cfg.url, reason_names[k]};
            uint64_t dropped = atomic_load(&st->samples_dropped[k]);
            if (k == HK_RW_DROP_DISK_FULL)
                dropped += atomic_load(&st->samples_unqueued_disk);
            hk_emit(b, &d_dropped, rv, (double)dropped);
        }
        const char *qe[] = {ep->cfg.name, ep->cfg.url, "queue_error"};
        hk_emit(b, &d_dropped, qe, (double)atomic_load(&st->samples_unqueued_error));
        hk_emit(b, &d_bytes, v, (double)atomic_load(&st->bytes_sent));
        hk_emit(b, &d_pending, v, (double)atomic_load(&st->samples_pending));
        hk_emit(b, &d_disk, v, (double)atomic_load(&st->disk_bytes));
        hk_emit(b, &d_disk_max, v, (double)ep->cfg.queue.max_disk_bytes);
        int64_t oldest = atomic_load(&st->oldest_pending_ms);
        hk_emit(b, &d_oldest, v, oldest && now > oldest ? (double)(now - oldest) / 1000.0 : 0);
        hk_emit(b, &d_high, v, (double)atomic_load(&st->highest_ts_ms) / 1000.0);
        hk_emit(b, &d_highsent, v, (double)atomic_load(&st->highest_sent_ts_ms) / 1000.0);
        hk_emit(b, &d_shards, v, (double)atomic_load(&st->shards));
        hk_emit(b, &d_split, v, (double)atomic_load(&st->requests_split));
        hk_emit(b, &d_fallback, v, (double)atomic_load(&st->fallbacks_v1));
        hk_emit(b, &d_meta, v, (double)atomic_load(&st->metadata_sent));
        /* Zero without write_relabel_configs (no cache), so the families do not depend on them. */
        hk_emit(b, &d_lc_hits, v, (double)atomic_load(&ep->lc_hits));
        hk_emit(b, &d_lc_misses, v, (double)atomic_load(&ep->lc_misses));
        hk_emit(b, &d_lc_series, v, (double)atomic_load(&ep->lc_series));
        uint64_t cum[HK_RW_DURATION_BUCKETS], acc = 0;
        for (int k = 0; k < HK_RW_DURATION_BUCKETS; k++) {
            acc += atomic_load(&st->duration_buckets[k]);
            cum[k] = acc;
        }
        hk_emit_histogram(b, &d_dur, v, hk_rw_duration_bounds, cum, HK_RW_DURATION_BUCKETS,
                          (double)atomic_load(&st->duration_sum_us) / 1e6,
                          atomic_load(&st->duration_count));
    }
    pthread_mutex_unlock(&rw->mu);
}
