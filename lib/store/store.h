/* Host-side weight store: tensors stay as stored (mapped); reads dequantize
 * row ranges on demand into the caller's buffer, through an LRU cache of
 * whole dequantized (float32) tensors bounded by a byte budget. */
#ifndef BN_STORE_H
#define BN_STORE_H

#include <stdint.h>

#include "bitnet.h"
#include "loader/gguf.h"

typedef struct bn_store bn_store;

/* budget 0 turns the cache off. */
bitnet_status bn_store_new(uint64_t budget, int64_t n_tensors, bn_store **out);
void bn_store_free(bn_store *s);

/* Rows [r0, r1) of tensor `t` (index `idx`) as dst_type (F32/F16/BF16) into
 * dst. Arguments are validated by the caller except the tensor's type. */
bitnet_status bn_store_read(bn_store *s, const bn_gguf_tensor *t, int64_t idx, int64_t r0, int64_t r1,
                            bitnet_type dst_type, void *dst);

/* Fills every field but bytes_mapped. */
void bn_store_get_stats(bn_store *s, bitnet_store_stats *out);

#endif
