/* The attention kernels' prefetch over the KV cache. In decode a layer's
 * keys and values were last touched a token ago and come from DRAM; a head's
 * rows are `stride` elements apart (the other heads' slots lie between), a
 * pattern the hardware prefetchers follow poorly: software prefetch of the
 * keys KV_PREFETCH_AHEAD positions ahead and of each position's values (the
 * second pass) cut the per-position cost by about a quarter. */
#ifndef BN_KV_PREFETCH_H
#define BN_KV_PREFETCH_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#define KV_PREFETCH_AHEAD 8

static inline void bn_kv_prefetch(const void *k, const void *v, size_t elem, int64_t stride, int64_t p, int64_t n_pos,
                                  int64_t head_dim)
{
    const size_t row = (size_t)head_dim * elem;
    const char *vn = (const char *)v + (size_t)(p * stride) * elem;
    for (size_t o = 0; o < row; o += 64)
        _mm_prefetch(vn + o, _MM_HINT_T0);
    if (p + KV_PREFETCH_AHEAD >= n_pos) /* no pointer past the cache is formed */
        return;
    const char *kn = (const char *)k + (size_t)((p + KV_PREFETCH_AHEAD) * stride) * elem;
    for (size_t o = 0; o < row; o += 64)
        _mm_prefetch(kn + o, _MM_HINT_T0);
}

#endif
