/* MD5 (RFC 1321), used only where a peer's behaviour is defined by it (Prometheus' hashmod
 * relabel action). Not for anything security related. */
#ifndef HK_MD5_H
#define HK_MD5_H

#include <stddef.h>
#include <stdint.h>

struct hk_md5 {
    uint32_t state[4];
    uint64_t total_bytes;
    uint8_t block[64];
    size_t block_len;
};

void hk_md5_init(struct hk_md5 *ctx);
void hk_md5_update(struct hk_md5 *ctx, const void *data, size_t len);
void hk_md5_final(struct hk_md5 *ctx, uint8_t digest[16]);
/* One-shot digest of len bytes. */
void hk_md5(const void *data, size_t len, uint8_t digest[16]);

#endif
