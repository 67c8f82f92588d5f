/* The scalar reference kernels, one function per slot of bitnet_backend. */
#ifndef BN_REF_H
#define BN_REF_H

#include "bitnet_experimental.h"

bool bn_ref_matmul_f32(const bitnet_weights *w, const float *x, int64_t ldx, int64_t n_batch, float *y,
                       int64_t ldy, int64_t r0, int64_t r1, void *scratch);
bool bn_ref_matmul_i8(const bitnet_weights *w, const int8_t *xq, int64_t ldx, const float *x_scale,
                      int64_t n_batch, float *y, int64_t ldy, int64_t r0, int64_t r1, void *scratch);
void bn_ref_quantize_i8(const float *x, int64_t n, int8_t *q, float *scale);
void bn_ref_rmsnorm(const float *x, const float *w, int64_t n, float eps, float *y);
void bn_ref_rope(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, int32_t pos, float freq_base,
                 bool neox);
void bn_ref_attention(const float *q, const void *k, const void *v, uint32_t kv_type, int64_t stride,
                      int64_t n_pos, int64_t head_dim, float scale, float *out, float *scratch);
void bn_ref_silu_mul(const float *g, const float *u, float *y, int64_t n);
void bn_ref_relu2_mul(const float *g, const float *u, float *y, int64_t n);
/* bn_kernels.store_f16's reference. */
void bn_ref_store_f16(const float *x, int64_t n, uint16_t *out);

#endif
