/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Block I/O latency per cgroup, device and operation: block_rq_issue stores the issue time and
 * the owner (rq->bio->bi_blkg->blkcg: the cgroup that submitted the bio, even when a kworker
 * issues the request) keyed by the request; block_rq_complete adds issue → completion time to
 * a log2 histogram. */
#include "blk.h"
#include "hk_bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL"; /* SPDX: GPL-2.0-only OR BSD-2-Clause */

struct start_val {
    __u64 ts;
    struct hk_blk_key key;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, struct start_val);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, 8192);
    __type(key, struct hk_blk_key);
    __type(value, struct hk_blk_val);
} blk_stats SEC(".maps");

HK_LOST_MAP

static const struct hk_blk_val zero_val;

#define REQ_OP_MASK 0xff

static __always_inline __u32 op_of(struct request *rq)
{
    __u32 op = BPF_CORE_READ(rq, cmd_flags) & REQ_OP_MASK;
    switch (op) {
    case 0:
        return HK_BLK_READ;
    case 1:
        return HK_BLK_WRITE;
    case 2:
        return HK_BLK_FLUSH;
    case 3:
        return HK_BLK_DISCARD;
    default:
        return HK_BLK_OTHER;
    }
}

static __always_inline int on_issue(struct request *rq)
{
    struct start_val sv = {};
    struct gendisk *disk = BPF_CORE_READ(rq, q, disk);
    sv.ts = bpf_ktime_get_ns();
    sv.key.cgid = BPF_CORE_READ(rq, bio, bi_blkg, blkcg, css.cgroup, kn, id);
    sv.key.dev =
        ((__u32)BPF_CORE_READ(disk, major) << 20) | (__u32)BPF_CORE_READ(disk, first_minor);
    sv.key.op = op_of(rq);
    __u64 k = (__u64)rq;
    if (bpf_map_update_elem(&start, &k, &sv, BPF_ANY) < 0)
        hk_lost();
    return 0;
}

static __always_inline int on_complete(struct request *rq)
{
    __u64 k = (__u64)rq;
    struct start_val *sv = bpf_map_lookup_elem(&start, &k);
    if (!sv)
        return 0;
    __u64 delta = bpf_ktime_get_ns() - sv->ts;
    struct hk_blk_key key = sv->key;
    bpf_map_delete_elem(&start, &k);
    if ((__s64)delta < 0)
        return 0;
    struct hk_blk_val *v = HK_LOOKUP_OR_INIT(&blk_stats, &key, &zero_val);
    if (!v)
        return 0;
    v->count++;
    v->sum_ns += delta;
    __u32 slot = hk_nh_slot(delta);
    if (slot < HK_NH_SLOTS)
        v->slots[slot]++;
    return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(btf_issue, struct request *rq)
{
    return on_issue(rq);
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(btf_complete, struct request *rq)
{
    return on_complete(rq);
}

SEC("raw_tp/block_rq_issue")
int BPF_PROG(raw_issue, struct request *rq)
{
    return on_issue(rq);
}

SEC("raw_tp/block_rq_complete")
int BPF_PROG(raw_complete, struct request *rq)
{
    return on_complete(rq);
}
