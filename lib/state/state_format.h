/* State file layout, format version 1. Every integer is little-endian.
 *
 * Header, BN_STATE_HEADER_SIZE bytes:
 *    0  u8[8]  magic "BNSTATE\0"
 *    8  u32    format version (1)
 *   12  u32    header size (96)
 *   16  u8[32] model fingerprint: sha256 of the GGUF bytes before the tensor
 *              data (header, metadata, tensor table, padding)
 *   48  u32    kv_type (BITNET_TYPE_F32 or BITNET_TYPE_F16)
 *   52  u32    n_layer
 *   56  u32    kv_dim (n_head_kv x head_dim)
 *   60  u32    n_vocab
 *   64  u32    n_past (positions saved)
 *   68  u32    n_logits (rows of logits saved: 0 or 1, or up to n_past
 *              from a context with logits_all)
 *   72  u32    flags (BN_STATE_FLAG_SAMPLER; other bits zero)
 *   76  u32    n_history (sampler history tokens; 0 without a sampler)
 *   80  u64    payload size, uncompressed: it must equal the sum below
 *   88  u64    reserved, zero
 *
 * Then exactly one zstd frame, with its content size and content checksum,
 * and nothing after it, holding the payload:
 *   tokens    n_past x i32
 *   KV        for each layer, K then V rows [0, n_past): n_past x kv_dim
 *             elements of kv_type, as byte planes
 *   logits    n_logits x n_vocab f32, as byte planes
 *   sampler   (with BN_STATE_FLAG_SAMPLER) 4 x u64 xoshiro256** state, then
 *             n_history x i32 penalty history, oldest first
 *
 * Byte planes: an array of n elements of e bytes is stored as e runs of n
 * bytes (byte 0 of every element, then byte 1, ...), so that exponents sit
 * together; zstd compresses that much better than interleaved floats. The
 * element bytes themselves are the host's (little-endian hosts only, like
 * the GGUF loader). */
#ifndef BN_STATE_FORMAT_H
#define BN_STATE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bitnet.h"

#define BN_STATE_MAGIC "BNSTATE"    /* 7 characters and the NUL: 8 bytes */
#define BN_STATE_VERSION 1u
#define BN_STATE_HEADER_SIZE 96u
#define BN_STATE_FLAG_SAMPLER 1u
/* The longest sampler history a state may hold (a larger one is rejected). */
#define BN_STATE_MAX_HISTORY (1 << 24)

/* Byte offsets of the header fields (tests patch them). */
enum {
    BN_STATE_OFF_VERSION = 8,
    BN_STATE_OFF_HEADER_SIZE = 12,
    BN_STATE_OFF_FINGERPRINT = 16,
    BN_STATE_OFF_KV_TYPE = 48,
    BN_STATE_OFF_N_LAYER = 52,
    BN_STATE_OFF_KV_DIM = 56,
    BN_STATE_OFF_N_VOCAB = 60,
    BN_STATE_OFF_N_PAST = 64,
    BN_STATE_OFF_N_LOGITS = 68,
    BN_STATE_OFF_FLAGS = 72,
    BN_STATE_OFF_N_HISTORY = 76,
    BN_STATE_OFF_PAYLOAD_SIZE = 80,
    BN_STATE_OFF_RESERVED = 88,
};

typedef struct bn_state_header {
    uint8_t fingerprint[32];
    uint32_t kv_type, n_layer, kv_dim, n_vocab;
    uint32_t n_past, n_logits, flags, n_history;
    uint64_t payload_size;
} bn_state_header;

void bn_state_header_write(const bn_state_header *h, uint8_t out[BN_STATE_HEADER_SIZE]);
/* Parse and check what the header alone determines (magic, version, size,
 * flags, reserved bytes, and payload_size against the sizes); BAD_FORMAT
 * with a message otherwise. */
bitnet_status bn_state_header_read(const uint8_t *data, size_t size, bn_state_header *h);
/* The payload size the header's counts imply; false on overflow. */
bool bn_state_payload_size(const bn_state_header *h, uint64_t *out);

#endif
