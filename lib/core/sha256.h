/* SHA-256 (FIPS 180-4): model fingerprints in state files. */
#ifndef BN_SHA256_H
#define BN_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define BN_SHA256_BYTES 32

typedef struct bn_sha256 {
    uint32_t h[8];
    uint8_t buf[64];
    size_t fill;    /* bytes waiting in buf */
    uint64_t total; /* bytes hashed so far */
} bn_sha256;

void bn_sha256_init(bn_sha256 *c);
void bn_sha256_update(bn_sha256 *c, const void *data, size_t n);
void bn_sha256_final(bn_sha256 *c, uint8_t out[BN_SHA256_BYTES]);
/* One call: the digest of data[0..n). */
void bn_sha256_digest(const void *data, size_t n, uint8_t out[BN_SHA256_BYTES]);

#endif
