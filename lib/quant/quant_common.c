/* Shared plumbing for the per-format (de)quantizers: argument checks,
 * rounding, and the block-walking drivers. */
#include <math.h>

#include "quant_internal.h"

int bn_round_clamp(float v, int lo, int hi)
{
    if (isnan(v))
        v = 0.0f;
    if (v < (float)lo)
        return lo;
    if (v > (float)hi)
        return hi;
    int r = (int)roundf(v);
    return r < lo ? lo : (r > hi ? hi : r);
}

float bn_safe_inv(float d)
{
    if (d == 0.0f || !isfinite(d))
        return 0.0f;
    return 1.0f / d;
}

int64_t bn_quant_elems(int64_t n_rows, int64_t n_per_row, int64_t block_elems)
{
    if (n_rows < 0 || n_per_row < 0 || block_elems <= 0 || n_per_row % block_elems != 0)
        return -1;
    if (n_per_row != 0 && n_rows > INT64_MAX / n_per_row)
        return -1;
    return n_rows * n_per_row;
}

void bn_dequant_blocks(const void *src, float *dst, int64_t n, int block_elems, int block_bytes,
                       bn_block_dequant_fn fn)
{
    const uint8_t *p = src;
    int64_t nb = n > 0 ? n / block_elems : 0;
    for (int64_t i = 0; i < nb; i++)
        fn(p + i * block_bytes, dst + i * block_elems);
}

void bn_quant_blocks(const float *src, void *dst, int64_t n_rows, int64_t n_per_row, int block_elems,
                     int block_bytes, bn_block_quant_fn fn)
{
    int64_t n = bn_quant_elems(n_rows, n_per_row, block_elems);
    uint8_t *p = dst;
    for (int64_t i = 0; n > 0 && i < n / block_elems; i++)
        fn(src + i * block_elems, p + i * block_bytes);
}
