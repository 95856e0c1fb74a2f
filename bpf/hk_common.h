/* Constants shared by every probe's kernel and user side: histogram slots and the cgroup
 * hierarchy modes. Plain C, included by both clang -target bpf and the collector. */
#ifndef HK_BPF_COMMON_H
#define HK_BPF_COMMON_H

/* log2 histogram slots: slot k counts values v (ns) with 2^(k-1) < v <= 2^k; slot 0 counts
 * v <= 1; the last slot also takes everything larger. */
#define HK_LOG2_SLOTS 40

/* Ladder of attach types, tried in this order (collectors.ebpf.attach may force one). */
enum hk_attach_kind {
    HK_ATTACH_TP_BTF = 0,
    HK_ATTACH_RAW_TP = 1,
    HK_ATTACH_TRACEPOINT = 2,
};

#endif
