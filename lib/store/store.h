/* Host-side weight store: tensors stay as stored (mapped); reads dequantize
 * row ranges on demand into the caller's buffer, through an LRU cache of
 * whole dequantized (float32) tensors bounded by a byte budget. */
#ifndef BN_STORE_H
#define BN_STORE_H

#include <stdbool.h>
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

/* True when the cache has a budget (params.cache_bytes > 0). */
bool bn_store_enabled(const bn_store *s);
uint64_t bn_store_budget(const bn_store *s);

/* One caller's share of the store's counters (a context's stats). */
typedef struct bn_store_counters {
    uint64_t hits, misses, evictions, prefetch_hits;
} bn_store_counters;

/* Fills `out` (t->n_elements floats) with the tensor's dequantization. */
typedef void (*bn_store_fill_fn)(void *arg, const bn_gguf_tensor *t, float *out);

/* The whole tensor as float32, pinned: *data stays valid until
 * bn_store_release(s, *pin). A miss calls `fill` on a new buffer and caches
 * it, evicting least recently used unpinned entries; when the budget is held
 * by pinned entries the buffer is returned uncached (freed on release).
 * Only OUT_OF_MEMORY can fail. `c` (may be NULL) receives this call's counts. */
bitnet_status bn_store_acquire_f32(bn_store *s, const bn_gguf_tensor *t, int64_t idx, bn_store_fill_fn fill,
                                   void *fill_arg, const float **data, void **pin, bn_store_counters *c);
void bn_store_release(bn_store *s, void *pin);

/* Prefetch: dequantize the tensor into the cache when it is absent and fits
 * without evicting anything; its first later use counts as a prefetch hit. */
void bn_store_prefetch(bn_store *s, const bn_gguf_tensor *t, int64_t idx);
/* Count a prefetch request (bitnet_store_stats.prefetch_issued). */
void bn_store_note_prefetch(bn_store *s);

#endif
