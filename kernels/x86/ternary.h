/* x86 SIMD kernels for ternary weights times int8 activations (W1.58A8):
 * the matmul_i8 and quantize_i8 slots of bitnet_backend.
 *
 * bn_avx2_*   need AVX2 + FMA + F16C + BMI2; compiled with those flags only.
 * bn_avx512_* need AVX-512 F/BW/VL/DQ/VNNI on top of that.
 * Callers must probe the CPU before calling either family.
 *
 * matmul_i8 (contract in bitnet_experimental.h), with these choices:
 *  - Weight types I2_S, TQ2_0 and TQ1_0; anything else returns false, as
 *    does I2_S without a tail or with a non-finite tensor scale, and n not
 *    a multiple of the block size (the reference then runs).
 *  - Per block the int32 sum of code * q is exact (codes as the reference's
 *    unpack_ternary reads them: I2_S code 3 reads 0, TQ2_0 code 3 reads +2);
 *    the float part is the reference's: in double, blocks in order, then
 *    (float)(acc * x_scale[b]). Results are therefore bit-identical to
 *    bn_ref_matmul_i8, and the value for (row r, batch row b) depends only
 *    on W row r and x row b, never on r0/r1, n_batch or the thread count.
 *    (I2_S: one product per row instead of one per block; equal because
 *    every partial sum scale * k, |k| < 2^29, is exact in double.)
 *  - scratch: the documented 4*n + 1024 bytes; any alignment.
 *
 * quantize_i8 matches bn_ref_quantize_i8 bit for bit (the products are
 * computed in double as there); a NaN input gives code 0 (what the
 * reference's out-of-range (int8_t) conversion gives on x86).
 */
#ifndef BN_X86_TERNARY_H
#define BN_X86_TERNARY_H

#include "bitnet_experimental.h"

bool bn_avx2_matmul_i8(const bitnet_weights *w, const int8_t *xq, int64_t ldx, const float *x_scale,
                       int64_t n_batch, float *y, int64_t ldy, int64_t r0, int64_t r1, void *scratch);
void bn_avx2_quantize_i8(const float *x, int64_t n, int8_t *q, float *scale);

bool bn_avx512_matmul_i8(const bitnet_weights *w, const int8_t *xq, int64_t ldx, const float *x_scale,
                         int64_t n_batch, float *y, int64_t ldy, int64_t r0, int64_t r1, void *scratch);
void bn_avx512_quantize_i8(const float *x, int64_t n, int8_t *q, float *scale);

/* TQ1_0 decode (one batch row) uses a table-lookup kernel when the CPU also
 * has AVX-512 VBMI and GFNI. Tests call this to run the other kernel too
 * (allow = false); returns whether the lookup kernel is now in use. */
bool bn_avx512_tq1_lut_allow(bool allow);

#endif
