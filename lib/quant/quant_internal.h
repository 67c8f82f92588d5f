/* Helpers shared by the per-format files, and the row functions the traits
 * table points at. Internal to lib/quant. */
#ifndef BN_QUANT_INTERNAL_H
#define BN_QUANT_INTERNAL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "quant.h"

/* GGUF is little-endian; decode bytes explicitly so host order and
 * alignment never matter. */
static inline uint16_t bn_load_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t bn_load_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline void bn_store_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)(v >> 8);
}

static inline void bn_store_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline float bn_load_f32(const uint8_t *p)
{
    uint32_t u = bn_load_u32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline void bn_store_f32(uint8_t *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    bn_store_u32(p, u);
}

static inline float bn_load_half(const uint8_t *p)
{
    return bn_fp16_to_fp32(bn_load_u16(p));
}

static inline void bn_store_half(uint8_t *p, float f)
{
    bn_store_u16(p, bn_fp32_to_fp16(f));
}

/* The element with the largest magnitude, sign kept: scaling so that it
 * lands on the most negative code uses an asymmetric range fully. */
static inline float bn_signed_absmax(const float *x, int n)
{
    float best = 0.0f;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > fabsf(best))
            best = x[i];
    return best;
}

/* round(v) clamped to [lo, hi]; NaN maps to the code nearest 0. Clamping
 * happens in float first so huge inputs never hit an undefined conversion. */
int bn_round_clamp(float v, int lo, int hi);

/* (int)v clamped to [lo, hi]: truncation toward zero, as ggml's reference
 * quantizers round with (int)(v + 0.5) on non-negative v. NaN gives lo. */
int bn_trunc_clamp(float v, int lo, int hi);

/* v rounded to nearest, ties to even (ggml's nearest_int), clamped. */
int bn_round_even_clamp(float v, int lo, int hi);

/* Store scale d as f16 and return the stored value. The extreme element
 * sits `reach` steps from zero; if rounding shrank d so far that it would
 * land past reach (possible with subnormal f16 scales) the magnitude is
 * bumped one f16 ulp. Overflow saturates at the largest finite half. */
float bn_store_scale(uint8_t out[2], float d, int reach);

/* 1/d, or 0 when d is 0 or not finite, so the quants collapse to zero
 * instead of dividing by zero. */
float bn_safe_inv(float d);

/* Whole-tensor element count for a quantize call, or -1 when the shape is
 * invalid (negative, not whole blocks, or overflowing). */
int64_t bn_quant_elems(int64_t n_rows, int64_t n_per_row, int64_t block_elems);

/* Per-block workers and the drivers that walk a row/tensor with them. The
 * drivers handle whole blocks only; a ragged n is the caller's bug. */
typedef void (*bn_block_dequant_fn)(const void *blk, float *y);
typedef void (*bn_block_quant_fn)(const float *x, void *blk);

void bn_dequant_blocks(const void *src, float *dst, int64_t n, int block_elems, int block_bytes,
                       bn_block_dequant_fn fn);
void bn_quant_blocks(const float *src, void *dst, int64_t n_rows, int64_t n_per_row, int block_elems,
                     int block_bytes, bn_block_quant_fn fn);

/* quant_float.c */
void bn_dequantize_row_f32(const void *src, float *dst, int64_t n, const void *tail);
void bn_dequantize_row_f16(const void *src, float *dst, int64_t n, const void *tail);
void bn_dequantize_row_bf16(const void *src, float *dst, int64_t n, const void *tail);
void bn_dequantize_row_i8(const void *src, float *dst, int64_t n, const void *tail);
void bn_dequantize_row_i16(const void *src, float *dst, int64_t n, const void *tail);
void bn_dequantize_row_i32(const void *src, float *dst, int64_t n, const void *tail);
void bn_quantize_f32(const float *src, void *dst, int64_t n_rows, int64_t n_per_row);
void bn_quantize_f16(const float *src, void *dst, int64_t n_rows, int64_t n_per_row);
void bn_quantize_bf16(const float *src, void *dst, int64_t n_rows, int64_t n_per_row);

/* quant_legacy.c */
void bn_dequantize_row_q4_0(const void *src, float *dst, int64_t n, const void *tail);
void bn_dequantize_row_q4_1(const void *src, float *dst, int64_t n, const void *tail);
void bn_dequantize_row_q5_0(const void *src, float *dst, int64_t n, const void *tail);
void bn_dequantize_row_q5_1(const void *src, float *dst, int64_t n, const void *tail);
void bn_dequantize_row_q8_0(const void *src, float *dst, int64_t n, const void *tail);
void bn_dequantize_row_q8_1(const void *src, float *dst, int64_t n, const void *tail);
void bn_quantize_q4_0(const float *src, void *dst, int64_t n_rows, int64_t n_per_row);
void bn_quantize_q4_1(const float *src, void *dst, int64_t n_rows, int64_t n_per_row);
void bn_quantize_q5_0(const float *src, void *dst, int64_t n_rows, int64_t n_per_row);
void bn_quantize_q5_1(const float *src, void *dst, int64_t n_rows, int64_t n_per_row);
void bn_quantize_q8_0(const float *src, void *dst, int64_t n_rows, int64_t n_per_row);
void bn_quantize_q8_1(const float *src, void *dst, int64_t n_rows, int64_t n_per_row);

/* quant_kquants.c */
void bn_dequantize_row_q2_k(const void *src, float *dst, int64_t n, const void *tail);
void bn_dequantize_row_q3_k(const void *src, float *dst, int64_t n, const void *tail);
void bn_dequantize_row_q4_k(const void *src, float *dst, int64_t n, const void *tail);
void bn_dequantize_row_q5_k(const void *src, float *dst, int64_t n, const void *tail);
void bn_dequantize_row_q6_k(const void *src, float *dst, int64_t n, const void *tail);
void bn_dequantize_row_q8_k(const void *src, float *dst, int64_t n, const void *tail);
void bn_quantize_q2_k(const float *src, void *dst, int64_t n_rows, int64_t n_per_row);
void bn_quantize_q3_k(const float *src, void *dst, int64_t n_rows, int64_t n_per_row);
void bn_quantize_q4_k(const float *src, void *dst, int64_t n_rows, int64_t n_per_row);
void bn_quantize_q5_k(const float *src, void *dst, int64_t n_rows, int64_t n_per_row);
void bn_quantize_q6_k(const float *src, void *dst, int64_t n_rows, int64_t n_per_row);
void bn_quantize_q8_k(const float *src, void *dst, int64_t n_rows, int64_t n_per_row);

/* quant_ternary.c */
void bn_unpack_ternary_tq1_0(const void *src, int8_t *codes, float *scales, int64_t n, const void *tail);
void bn_unpack_ternary_tq2_0(const void *src, int8_t *codes, float *scales, int64_t n, const void *tail);
void bn_unpack_ternary_i2_s(const void *src, int8_t *codes, float *scales, int64_t n, const void *tail);
void bn_dequantize_row_tq1_0(const void *src, float *dst, int64_t n, const void *tail);
void bn_dequantize_row_tq2_0(const void *src, float *dst, int64_t n, const void *tail);
void bn_dequantize_row_i2_s(const void *src, float *dst, int64_t n, const void *tail);
void bn_quantize_tq1_0(const float *src, void *dst, int64_t n_rows, int64_t n_per_row);
void bn_quantize_tq2_0(const float *src, void *dst, int64_t n_rows, int64_t n_per_row);
void bn_quantize_i2_s(const float *src, void *dst, int64_t n_rows, int64_t n_per_row);

#endif
