/* Plain element types: floats are converted, integer tensors are read as
 * their numeric value. One element per "block", no tail. */
#include "quant_internal.h"

void bn_dequantize_row_f32(const void *src, float *dst, int64_t n, const void *tail)
{
    (void)tail;
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = bn_load_f32(p + 4 * i);
}

void bn_dequantize_row_f16(const void *src, float *dst, int64_t n, const void *tail)
{
    (void)tail;
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = bn_fp16_to_fp32(bn_load_u16(p + 2 * i));
}

void bn_dequantize_row_bf16(const void *src, float *dst, int64_t n, const void *tail)
{
    (void)tail;
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = bn_bf16_to_fp32(bn_load_u16(p + 2 * i));
}

void bn_dequantize_row_i8(const void *src, float *dst, int64_t n, const void *tail)
{
    (void)tail;
    const int8_t *p = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = (float)p[i];
}

void bn_dequantize_row_i16(const void *src, float *dst, int64_t n, const void *tail)
{
    (void)tail;
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = (float)(int16_t)bn_load_u16(p + 2 * i);
}

void bn_dequantize_row_i32(const void *src, float *dst, int64_t n, const void *tail)
{
    (void)tail;
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = (float)(int32_t)bn_load_u32(p + 4 * i);
}

void bn_quantize_f32(const float *src, void *dst, int64_t n_rows, int64_t n_per_row)
{
    int64_t n = bn_quant_elems(n_rows, n_per_row, 1);
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i++)
        bn_store_f32(p + 4 * i, src[i]);
}

void bn_quantize_f16(const float *src, void *dst, int64_t n_rows, int64_t n_per_row)
{
    int64_t n = bn_quant_elems(n_rows, n_per_row, 1);
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i++)
        bn_store_u16(p + 2 * i, bn_fp32_to_fp16(src[i]));
}

void bn_quantize_bf16(const float *src, void *dst, int64_t n_rows, int64_t n_per_row)
{
    int64_t n = bn_quant_elems(n_rows, n_per_row, 1);
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i++)
        bn_store_u16(p + 2 * i, bn_fp32_to_bf16(src[i]));
}
