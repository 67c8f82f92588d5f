/* The original 32-element formats. In every one, element j < 16 lives in
 * the low nibble of qs[j] and element j + 16 in its high nibble; the 5-bit
 * formats keep bit 4 of element j in bit j of the little-endian word qh. */
#include <float.h>
#include <math.h>

#include "blocks.h"
#include "quant_internal.h"

#define QK BN_QK_LEGACY

/* Comparisons rather than fminf/fmaxf so that signed zeros resolve the
 * same way as in ggml (the first one seen wins). */
static void min_max(const float *x, int n, float *mn, float *mx)
{
    *mn = FLT_MAX;
    *mx = -FLT_MAX;
    for (int i = 0; i < n; i++) {
        if (x[i] < *mn)
            *mn = x[i];
        if (x[i] > *mx)
            *mx = x[i];
    }
}

static uint32_t pack_nibbles(const int q[QK], uint8_t qs[16])
{
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 0xf) | ((q[j + 16] & 0xf) << 4));
        qh |= (uint32_t)((q[j] >> 4) & 1) << j;
        qh |= (uint32_t)((q[j + 16] >> 4) & 1) << (j + 16);
    }
    return qh;
}

/* Code of element j from nibbles (and qh bit j, when qh is given), as a
 * float ready for scaling. */
static float unpack_code(const uint8_t qs[16], uint32_t qh, int j)
{
    int lo = j < 16 ? (qs[j] & 0xf) : (qs[j - 16] >> 4);
    int code = lo | (int)(((qh >> j) & 1u) << 4);
    return (float)code;
}

/* ---- dequantization ---- */

static void dq_q4_0(const void *blk, float *y)
{
    const bn_block_q4_0 *b = blk;
    float d = bn_load_half(b->d);
    for (int j = 0; j < QK; j++)
        y[j] = (unpack_code(b->qs, 0, j) - 8.0f) * d;
}

static void dq_q4_1(const void *blk, float *y)
{
    const bn_block_q4_1 *b = blk;
    float d = bn_load_half(b->d), m = bn_load_half(b->m);
    for (int j = 0; j < QK; j++)
        y[j] = unpack_code(b->qs, 0, j) * d + m;
}

static void dq_q5_0(const void *blk, float *y)
{
    const bn_block_q5_0 *b = blk;
    float d = bn_load_half(b->d);
    uint32_t qh = bn_load_u32(b->qh);
    for (int j = 0; j < QK; j++)
        y[j] = (unpack_code(b->qs, qh, j) - 16.0f) * d;
}

static void dq_q5_1(const void *blk, float *y)
{
    const bn_block_q5_1 *b = blk;
    float d = bn_load_half(b->d), m = bn_load_half(b->m);
    uint32_t qh = bn_load_u32(b->qh);
    for (int j = 0; j < QK; j++)
        y[j] = unpack_code(b->qs, qh, j) * d + m;
}

static void dq_q8_0(const void *blk, float *y)
{
    const bn_block_q8_0 *b = blk;
    float d = bn_load_half(b->d);
    for (int j = 0; j < QK; j++)
        y[j] = (float)b->qs[j] * d;
}

static void dq_q8_1(const void *blk, float *y)
{
    const bn_block_q8_1 *b = blk;
    float d = bn_load_half(b->d);
    for (int j = 0; j < QK; j++)
        y[j] = (float)b->qs[j] * d;
}

/* ---- quantization ----
 * Same scale choice, arithmetic and rounding as ggml's reference quantizers,
 * so re-quantizing reproduces llama.cpp files byte for byte: codes are taken
 * against the exact float scale, which is then stored as f16. */

/* Symmetric: the largest magnitude maps to code -2^(bits-1); codes are
 * stored offset by 2^(bits-1) and rounded half up. */
static void quant_sym(const float *x, int bits, int q[QK], uint8_t d_out[2])
{
    int half = 1 << (bits - 1);
    float d = bn_signed_absmax(x, QK) / (float)-half, id = bn_safe_inv(d);
    float offset = (float)half + 0.5f;
    bn_store_half(d_out, d);
    for (int j = 0; j < QK; j++)
        q[j] = bn_trunc_clamp(x[j] * id + offset, 0, 2 * half - 1);
}

/* Affine: x ~ q * d + min with q in [0, 2^bits - 1], rounded half up. */
static void quant_affine(const float *x, int bits, int q[QK], uint8_t d_out[2], uint8_t m_out[2])
{
    int qmax = (1 << bits) - 1;
    float mn, mx;
    min_max(x, QK, &mn, &mx);
    float d = (mx - mn) / (float)qmax, id = bn_safe_inv(d);
    bn_store_half(d_out, d);
    bn_store_half(m_out, mn);
    for (int j = 0; j < QK; j++)
        q[j] = bn_trunc_clamp((x[j] - mn) * id + 0.5f, 0, qmax);
}

static void q_q4_0(const float *x, void *blk)
{
    bn_block_q4_0 *b = blk;
    int q[QK];
    quant_sym(x, 4, q, b->d);
    pack_nibbles(q, b->qs);
}

static void q_q4_1(const float *x, void *blk)
{
    bn_block_q4_1 *b = blk;
    int q[QK];
    quant_affine(x, 4, q, b->d, b->m);
    pack_nibbles(q, b->qs);
}

static void q_q5_0(const float *x, void *blk)
{
    bn_block_q5_0 *b = blk;
    int q[QK];
    quant_sym(x, 5, q, b->d);
    bn_store_u32(b->qh, pack_nibbles(q, b->qs));
}

static void q_q5_1(const float *x, void *blk)
{
    bn_block_q5_1 *b = blk;
    int q[QK];
    quant_affine(x, 5, q, b->d, b->m);
    bn_store_u32(b->qh, pack_nibbles(q, b->qs));
}

/* Q8: d = amax / 127, codes rounded half away from zero. Returns the code
 * sum; *d_exact gets the unrounded scale (Q8_1's s uses it). */
static int quant_8(const float *x, int8_t qs[QK], uint8_t d_out[2], float *d_exact)
{
    float amax = 0.0f;
    for (int j = 0; j < QK; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    float d = amax / 127.0f, id = bn_safe_inv(d);
    bn_store_half(d_out, d);
    *d_exact = d;
    int sum = 0;
    for (int j = 0; j < QK; j++) {
        qs[j] = (int8_t)bn_round_clamp(x[j] * id, -127, 127);
        sum += qs[j];
    }
    return sum;
}

static void q_q8_0(const float *x, void *blk)
{
    bn_block_q8_0 *b = blk;
    float d;
    quant_8(x, b->qs, b->d, &d);
}

static void q_q8_1(const float *x, void *blk)
{
    bn_block_q8_1 *b = blk;
    float d;
    int sum = quant_8(x, b->qs, b->d, &d);
    bn_store_half(b->s, (float)sum * d);
}

/* ---- table entry points ---- */

#define LEGACY_ENTRY(name, blk_type)                                                           \
    void bn_dequantize_row_##name(const void *src, float *dst, int64_t n, const void *tail)     \
    {                                                                                           \
        (void)tail;                                                                             \
        bn_dequant_blocks(src, dst, n, QK, (int)sizeof(blk_type), dq_##name);                   \
    }                                                                                           \
    void bn_quantize_##name(const float *src, void *dst, int64_t n_rows, int64_t n_per_row)     \
    {                                                                                           \
        bn_quant_blocks(src, dst, n_rows, n_per_row, QK, (int)sizeof(blk_type), q_##name);      \
    }

LEGACY_ENTRY(q4_0, bn_block_q4_0)
LEGACY_ENTRY(q4_1, bn_block_q4_1)
LEGACY_ENTRY(q5_0, bn_block_q5_0)
LEGACY_ENTRY(q5_1, bn_block_q5_1)
LEGACY_ENTRY(q8_0, bn_block_q8_0)
LEGACY_ENTRY(q8_1, bn_block_q8_1)
