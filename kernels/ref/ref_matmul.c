/* Reference matrix products: clear, not fast. Each weight row is decoded
 * once and dotted with every batch row; sums are accumulated in double so the
 * reference sits as close as it can to a float64 forward pass. */
#include <stdint.h>

#include "kernels/ref/ref.h"
#include "quant/quant.h"

static const void *row_ptr(const bitnet_weights *w, int64_t r)
{
    return (const uint8_t *)w->data + (size_t)r * w->row_bytes;
}

bool bn_ref_matmul_f32(const bitnet_weights *w, const float *x, int64_t ldx, int64_t n_batch, float *y,
                       int64_t ldy, int64_t r0, int64_t r1, void *scratch)
{
    const bn_type_traits *tr = bn_type_traits_get(w->type);
    if (!tr || !tr->dequantize_row)
        return false;
    float *row = scratch;
    for (int64_t r = r0; r < r1; r++) {
        tr->dequantize_row(row_ptr(w, r), row, w->n, w->tail);
        for (int64_t b = 0; b < n_batch; b++) {
            const float *xb = x + b * ldx;
            double acc = 0.0;
            for (int64_t k = 0; k < w->n; k++)
                acc += (double)row[k] * xb[k];
            y[b * ldy + r] = (float)acc;
        }
    }
    return true;
}

/* Ternary weights: int32 dot product of codes and int8 activations per block,
 * scaled by the block's scale. */
static void matmul_i8_ternary(const bn_type_traits *tr, const bitnet_weights *w, const int8_t *xq, int64_t ldx,
                              const float *x_scale, int64_t n_batch, float *y, int64_t ldy, int64_t r0, int64_t r1,
                              void *scratch)
{
    const int64_t bs = tr->block_elems, n_blocks = w->n / bs;
    float *scales = scratch;
    int8_t *codes = (int8_t *)(scales + n_blocks);
    for (int64_t r = r0; r < r1; r++) {
        tr->unpack_ternary(row_ptr(w, r), codes, scales, w->n, w->tail);
        for (int64_t b = 0; b < n_batch; b++) {
            const int8_t *qb = xq + b * ldx;
            double acc = 0.0;
            for (int64_t blk = 0; blk < n_blocks; blk++) {
                int32_t isum = 0;
                for (int64_t k = blk * bs; k < (blk + 1) * bs; k++)
                    isum += codes[k] * qb[k];
                acc += (double)scales[blk] * isum;
            }
            y[b * ldy + r] = (float)(acc * x_scale[b]);
        }
    }
}

bool bn_ref_matmul_i8(const bitnet_weights *w, const int8_t *xq, int64_t ldx, const float *x_scale,
                      int64_t n_batch, float *y, int64_t ldy, int64_t r0, int64_t r1, void *scratch)
{
    const bn_type_traits *tr = bn_type_traits_get(w->type);
    if (!tr || !tr->dequantize_row)
        return false;
    if (tr->unpack_ternary) {
        matmul_i8_ternary(tr, w, xq, ldx, x_scale, n_batch, y, ldy, r0, r1, scratch);
        return true;
    }
    /* Float weights (e.g. an f32 BitNet file): same semantics, float products. */
    float *row = scratch;
    for (int64_t r = r0; r < r1; r++) {
        tr->dequantize_row(row_ptr(w, r), row, w->n, w->tail);
        for (int64_t b = 0; b < n_batch; b++) {
            const int8_t *qb = xq + b * ldx;
            double acc = 0.0;
            for (int64_t k = 0; k < w->n; k++)
                acc += (double)row[k] * qb[k];
            y[b * ldy + r] = (float)(acc * x_scale[b]);
        }
    }
    return true;
}
