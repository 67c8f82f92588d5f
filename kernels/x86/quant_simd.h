/* x86 SIMD kernels for float activations: matmul_f32 over float and
 * block-quantized weights, and the vector operations of the backend table.
 *
 * bn_avx2_*   need AVX2 + FMA + F16C (+ BMI2); compiled with those flags only.
 * bn_avx512_* need AVX-512 F/BW/VL/DQ/VNNI on top of that.
 * Callers must probe the CPU before calling either family.
 *
 * matmul_f32 contract (bitnet_experimental.h) with these choices:
 *  - F32, F16, BF16: float FMA, two float32 accumulator vectors per
 *    (row, batch row), reduced in a fixed order.
 *  - Q8_0, Q8_1, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K: each
 *    activation row is quantized once per call into `scratch` at two int8
 *    levels, x ~ d q1 + (d/256) q2 per block (32 elements with a float scale
 *    for the legacy types, 256 with per-16 sums for K-quants; error within
 *    d/256, where int8 alone, d/2, fails the small fixture models), then
 *    integer dot products (maddubs / VNNI) are scaled per block.
 *  - Anything else (ternary types included) returns false.
 *  - The value written for (row r, batch row b) depends only on W row r and
 *    x row b: never on r0/r1, n_batch or the thread count.
 */
#ifndef BN_X86_QUANT_SIMD_H
#define BN_X86_QUANT_SIMD_H

#include "bitnet_experimental.h"

bool bn_avx2_matmul_f32(const bitnet_weights *w, const float *x, int64_t ldx, int64_t n_batch, float *y,
                        int64_t ldy, int64_t r0, int64_t r1, void *scratch);
void bn_avx2_rmsnorm(const float *x, const float *w, int64_t n, float eps, float *y);
void bn_avx2_rope(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, int32_t pos, float freq_base,
                  bool neox);
void bn_avx2_attention(const float *q, const void *k, const void *v, uint32_t kv_type, int64_t stride,
                       int64_t n_pos, int64_t head_dim, float scale, float *out, float *scratch);
void bn_avx2_silu_mul(const float *g, const float *u, float *y, int64_t n);
void bn_avx2_relu2_mul(const float *g, const float *u, float *y, int64_t n);
/* bn_kernels.store_f16 by F16C, for both x86 backends. */
void bn_avx2_store_f16(const float *x, int64_t n, uint16_t *out);

bool bn_avx512_matmul_f32(const bitnet_weights *w, const float *x, int64_t ldx, int64_t n_batch, float *y,
                          int64_t ldy, int64_t r0, int64_t r1, void *scratch);
void bn_avx512_rmsnorm(const float *x, const float *w, int64_t n, float eps, float *y);
void bn_avx512_rope(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, int32_t pos, float freq_base,
                    bool neox);
void bn_avx512_attention(const float *q, const void *k, const void *v, uint32_t kv_type, int64_t stride,
                         int64_t n_pos, int64_t head_dim, float scale, float *out, float *scratch);
void bn_avx512_silu_mul(const float *g, const float *u, float *y, int64_t n);
void bn_avx512_relu2_mul(const float *g, const float *u, float *y, int64_t n);

#endif
