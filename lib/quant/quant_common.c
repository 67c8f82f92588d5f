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
    float r = roundf(v);
    int ri = (int)r;
    return ri < lo ? lo : (ri > hi ? hi : ri);
}

int bn_trunc_clamp(float v, int lo, int hi)
{
    if (isnan(v) || v < (float)lo)
        return lo;
    if (v > (float)hi)
        return hi;
    return (int)v;
}

int bn_round_even_clamp(float v, int lo, int hi)
{
    if (isnan(v))
        v = 0.0f;
    if (v < (float)lo)
        return lo;
    if (v > (float)hi)
        return hi;
    float f = floorf(v), frac = v - f;
    if (frac > 0.5f || (frac == 0.5f && fmodf(f, 2.0f) != 0.0f))
        f += 1.0f;
    int r = (int)f;
    return r > hi ? hi : r;
}

float bn_safe_inv(float d)
{
    if (d == 0.0f || !isfinite(d))
        return 0.0f;
    return 1.0f / d;
}

float bn_store_scale(uint8_t out[2], float d, int reach)
{
    uint16_t h = isnan(d) ? 0 : bn_fp32_to_fp16(d);
    if ((h & 0x7fffu) >= 0x7c00u)
        h = (uint16_t)((h & 0x8000u) | 0x7bffu);
    float dh = bn_fp16_to_fp32(h);
    if (dh != 0.0f && (h & 0x7fffu) < 0x7bffu &&
        fabsf(d * (float)reach / dh) >= (float)reach + 0.5f)
        h++; /* sign-magnitude: +1 grows the magnitude */
    bn_store_u16(out, h);
    return bn_fp16_to_fp32(h);
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
