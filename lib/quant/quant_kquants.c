/* K-quants: 256-element super-blocks split into sub-blocks whose scales (and
 * mins) are themselves quantized against one or two f16 super-scales.
 *
 * Bit layouts (i = element index in the super-block, 0..255):
 *   2-bit codes (Q2_K, Q3_K): byte qs[32*(i/128) + i%32], bits 2*((i%128)/32).
 *   Q3_K high bit: hmask[i%32] bit i/32; code = low2 - 4 when it is clear.
 *   4-bit codes (Q4_K, Q5_K): byte qs[32*(i/64) + i%32], high nibble for odd
 *   i/32. Q5_K's fifth bit: qh[i%32] bit i/32.
 *   Q6_K: h = i/128, g = (i%128)/32, l = i%32; low nibble in
 *   ql[64h + 32*(g&1) + l] (high nibble when g >= 2), two high bits at
 *   qh[32h + l] bits 2g.
 * The references use per-sub-block min/max (absmax for the symmetric
 * formats) rather than ggml's iterative search: simpler, slightly less
 * accurate, same format. */
#include <float.h>
#include <math.h>

#include "blocks.h"
#include "quant_internal.h"

#define QK BN_QK_K

/* ---- code accessors ---- */

static int code2(const uint8_t qs[64], int i)
{
    return (qs[32 * (i / 128) + i % 32] >> (2 * ((i % 128) / 32))) & 3;
}

static int bit_at(const uint8_t bits[32], int i)
{
    return (bits[i % 32] >> (i / 32)) & 1;
}

static int code4(const uint8_t qs[128], int i)
{
    uint8_t byte = qs[32 * (i / 64) + i % 32];
    return ((i / 32) & 1) ? byte >> 4 : byte & 0xf;
}

static int code6(const uint8_t ql[128], const uint8_t qh[64], int i)
{
    int h = i / 128, g = (i % 128) / 32, l = i % 32;
    uint8_t lo = ql[64 * h + 32 * (g & 1) + l];
    int low = (g >= 2) ? lo >> 4 : lo & 0xf;
    int high = (qh[32 * h + l] >> (2 * g)) & 3;
    return low | (high << 4);
}

/* Q4_K/Q5_K: eight 6-bit (scale, min) pairs in 12 bytes. Pairs 0-3 use the
 * low 6 bits of bytes 0-3 / 4-7; pairs 4-7 keep their low nibbles in bytes
 * 8-11 and their top 2 bits in the spare top bits of bytes 0-3 / 4-7. */
static void get_scale_min(const uint8_t s[12], int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xf) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

static void put_scale_min(uint8_t s[12], int j, int sc, int m)
{
    if (j < 4) {
        s[j] = (uint8_t)((s[j] & 0xc0) | sc);
        s[j + 4] = (uint8_t)((s[j + 4] & 0xc0) | m);
    } else {
        s[j + 4] = (uint8_t)((sc & 0xf) | ((m & 0xf) << 4));
        s[j - 4] = (uint8_t)((s[j - 4] & 0x3f) | ((sc >> 4) << 6));
        s[j] = (uint8_t)((s[j] & 0x3f) | ((m >> 4) << 6));
    }
}

/* Q3_K: sixteen 6-bit scales biased by 32. Low nibbles: bytes 0-7 (j < 8)
 * then the high nibbles of the same bytes; top 2 bits: byte 8 + j%4 at bit
 * 2*(j/4). */
static int get_scale3(const uint8_t s[12], int j)
{
    int low = j < 8 ? s[j] & 0xf : s[j - 8] >> 4;
    int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | (high << 4)) - 32;
}

static void put_scale3(uint8_t s[12], int j, int sc)
{
    int v = sc + 32;
    if (j < 8)
        s[j] = (uint8_t)((s[j] & 0xf0) | (v & 0xf));
    else
        s[j - 8] = (uint8_t)((s[j - 8] & 0x0f) | ((v & 0xf) << 4));
    int shift = 2 * (j / 4);
    s[8 + j % 4] = (uint8_t)((s[8 + j % 4] & ~(3 << shift)) | ((v >> 4) << shift));
}

/* ---- dequantization ---- */

static void dq_q2_k(const void *blk, float *y)
{
    const bn_block_q2_k *b = blk;
    float d = bn_load_half(b->d), dmin = bn_load_half(b->dmin);
    for (int j = 0; j < 16; j++) {
        float dl = d * (float)(b->scales[j] & 0xf), ml = dmin * (float)(b->scales[j] >> 4);
        for (int i = 16 * j; i < 16 * j + 16; i++) {
            int q = code2(b->qs, i);
            y[i] = dl * (float)q - ml;
        }
    }
}

static void dq_q3_k(const void *blk, float *y)
{
    const bn_block_q3_k *b = blk;
    float d = bn_load_half(b->d);
    for (int j = 0; j < 16; j++) {
        int sc = get_scale3(b->scales, j);
        float dl = d * (float)sc;
        for (int i = 16 * j; i < 16 * j + 16; i++) {
            int q = code2(b->qs, i) - (bit_at(b->hmask, i) ? 0 : 4);
            y[i] = dl * (float)q;
        }
    }
}

static void dq_q4_k(const void *blk, float *y)
{
    const bn_block_q4_k *b = blk;
    float d = bn_load_half(b->d), dmin = bn_load_half(b->dmin);
    for (int j = 0; j < 8; j++) {
        int sc, m;
        get_scale_min(b->scales, j, &sc, &m);
        float dl = d * (float)sc, ml = dmin * (float)m;
        for (int i = 32 * j; i < 32 * j + 32; i++) {
            int q = code4(b->qs, i);
            y[i] = dl * (float)q - ml;
        }
    }
}

static void dq_q5_k(const void *blk, float *y)
{
    const bn_block_q5_k *b = blk;
    float d = bn_load_half(b->d), dmin = bn_load_half(b->dmin);
    for (int j = 0; j < 8; j++) {
        int sc, m;
        get_scale_min(b->scales, j, &sc, &m);
        float dl = d * (float)sc, ml = dmin * (float)m;
        for (int i = 32 * j; i < 32 * j + 32; i++) {
            int q = code4(b->qs, i) | (bit_at(b->qh, i) << 4);
            y[i] = dl * (float)q - ml;
        }
    }
}

static void dq_q6_k(const void *blk, float *y)
{
    const bn_block_q6_k *b = blk;
    float d = bn_load_half(b->d);
    for (int j = 0; j < 16; j++) {
        float dl = d * (float)b->scales[j];
        for (int i = 16 * j; i < 16 * j + 16; i++) {
            int q = code6(b->ql, b->qh, i) - 32;
            y[i] = dl * (float)q;
        }
    }
}

static void dq_q8_k(const void *blk, float *y)
{
    const bn_block_q8_k *b = blk;
    float d = bn_load_f32(b->d);
    for (int i = 0; i < QK; i++)
        y[i] = d * (float)b->qs[i];
}

/* ---- quantization helpers ---- */

static float max_of(const float *x, int n)
{
    float mx = 0.0f;
    for (int i = 0; i < n; i++)
        mx = fmaxf(mx, x[i]);
    return mx;
}

/* Affine sub-block fit x ~ s*q - m, q in [0, nmax], m >= 0 (the min is
 * clamped to at most 0, as the format can only subtract). */
static void fit_affine(const float *x, int n, int nmax, float *s, float *m)
{
    float mn = 0.0f, mx = -FLT_MAX;
    for (int i = 0; i < n; i++) {
        mn = fminf(mn, x[i]);
        mx = fmaxf(mx, x[i]);
    }
    *s = (mx - mn) / (float)nmax;
    *m = -mn;
}

/* One affine K-quant super-block: n_sub sub-blocks of len, codes in
 * [0, nmax], scale/min codes in [0, smax]. Writes d, dmin (f16), the
 * integer sub-block scales/mins and the element codes. */
typedef struct {
    int n_sub, len, nmax, smax;
} affine_shape;

static void quant_affine_k(const float *x, affine_shape sh, uint8_t d_out[2], uint8_t dmin_out[2],
                           int *sc, int *mq, int *q)
{
    float s[16], m[16];
    for (int j = 0; j < sh.n_sub; j++)
        fit_affine(x + j * sh.len, sh.len, sh.nmax, &s[j], &m[j]);
    float d = bn_store_scale(d_out, max_of(s, sh.n_sub) / (float)sh.smax, sh.smax);
    float dmin = bn_store_scale(dmin_out, max_of(m, sh.n_sub) / (float)sh.smax, sh.smax);
    float id = bn_safe_inv(d), idmin = bn_safe_inv(dmin);
    for (int j = 0; j < sh.n_sub; j++) {
        sc[j] = bn_round_clamp(s[j] * id, 0, sh.smax);
        mq[j] = bn_round_clamp(m[j] * idmin, 0, sh.smax);
        float dl = d * (float)sc[j], dm = dmin * (float)mq[j], idl = bn_safe_inv(dl);
        for (int i = j * sh.len; i < (j + 1) * sh.len; i++)
            q[i] = bn_round_clamp((x[i] + dm) * idl, 0, sh.nmax);
    }
}

/* One symmetric K-quant super-block: 16 sub-blocks of 16, codes in
 * [-h, h-1], sub-block scales in [-S, S-1] times the f16 super-scale. */
static void quant_sym_k(const float *x, int h, int big_s, uint8_t d_out[2], int sc[16], int q[QK])
{
    float s[16];
    for (int j = 0; j < 16; j++)
        s[j] = bn_signed_absmax(x + 16 * j, 16) / (float)-h;
    float d = bn_store_scale(d_out, bn_signed_absmax(s, 16) / (float)-big_s, big_s);
    float id = bn_safe_inv(d);
    for (int j = 0; j < 16; j++) {
        sc[j] = bn_round_clamp(s[j] * id, -big_s, big_s - 1);
        float idl = bn_safe_inv(d * (float)sc[j]);
        for (int i = 16 * j; i < 16 * j + 16; i++)
            q[i] = bn_round_clamp(x[i] * idl, -h, h - 1);
    }
}

/* Store 2-bit codes (low bits of q) in the Q2_K/Q3_K layout. */
static void pack_code2(const int q[QK], uint8_t qs[64])
{
    memset(qs, 0, 64);
    for (int i = 0; i < QK; i++)
        qs[32 * (i / 128) + i % 32] |= (uint8_t)((q[i] & 3) << (2 * ((i % 128) / 32)));
}

static void pack_code4(const int q[QK], uint8_t qs[128])
{
    memset(qs, 0, 128);
    for (int i = 0; i < QK; i++)
        qs[32 * (i / 64) + i % 32] |= (uint8_t)((q[i] & 0xf) << (4 * ((i / 32) & 1)));
}

/* Bit `bit` of each code into bits[i%32] bit i/32 (Q3_K hmask, Q5_K qh). */
static void pack_bit(const int q[QK], int bit, uint8_t bits[32])
{
    memset(bits, 0, 32);
    for (int i = 0; i < QK; i++)
        bits[i % 32] |= (uint8_t)(((q[i] >> bit) & 1) << (i / 32));
}

/* ---- per-format quantizers ---- */

static void q_q2_k(const float *x, void *blk)
{
    bn_block_q2_k *b = blk;
    int sc[16], mq[16], q[QK];
    quant_affine_k(x, (affine_shape){16, 16, 3, 15}, b->d, b->dmin, sc, mq, q);
    for (int j = 0; j < 16; j++)
        b->scales[j] = (uint8_t)(sc[j] | (mq[j] << 4));
    pack_code2(q, b->qs);
}

static void q_q3_k(const float *x, void *blk)
{
    bn_block_q3_k *b = blk;
    int sc[16], q[QK];
    quant_sym_k(x, 4, 32, b->d, sc, q);
    memset(b->scales, 0, sizeof b->scales);
    for (int j = 0; j < 16; j++)
        put_scale3(b->scales, j, sc[j]);
    for (int i = 0; i < QK; i++)
        q[i] += 4; /* [0, 7]: bit 2 is the hmask bit */
    pack_bit(q, 2, b->hmask);
    pack_code2(q, b->qs);
}

static void q_q4_k(const float *x, void *blk)
{
    bn_block_q4_k *b = blk;
    int sc[8], mq[8], q[QK];
    quant_affine_k(x, (affine_shape){8, 32, 15, 63}, b->d, b->dmin, sc, mq, q);
    memset(b->scales, 0, sizeof b->scales);
    for (int j = 0; j < 8; j++)
        put_scale_min(b->scales, j, sc[j], mq[j]);
    pack_code4(q, b->qs);
}

static void q_q5_k(const float *x, void *blk)
{
    bn_block_q5_k *b = blk;
    int sc[8], mq[8], q[QK];
    quant_affine_k(x, (affine_shape){8, 32, 31, 63}, b->d, b->dmin, sc, mq, q);
    memset(b->scales, 0, sizeof b->scales);
    for (int j = 0; j < 8; j++)
        put_scale_min(b->scales, j, sc[j], mq[j]);
    pack_bit(q, 4, b->qh);
    pack_code4(q, b->qs);
}

static void q_q6_k(const float *x, void *blk)
{
    bn_block_q6_k *b = blk;
    int sc[16], q[QK];
    quant_sym_k(x, 32, 128, b->d, sc, q);
    for (int j = 0; j < 16; j++)
        b->scales[j] = (int8_t)sc[j];
    memset(b->ql, 0, sizeof b->ql);
    memset(b->qh, 0, sizeof b->qh);
    for (int i = 0; i < QK; i++) {
        int v = q[i] + 32, h = i / 128, g = (i % 128) / 32, l = i % 32;
        b->ql[64 * h + 32 * (g & 1) + l] |= (uint8_t)((v & 0xf) << (4 * (g >> 1)));
        b->qh[32 * h + l] |= (uint8_t)((v >> 4) << (2 * g));
    }
}

/* Q8_K keeps a float32 scale: the largest magnitude maps to -127, codes
 * round half to even (as ggml computes it, so the bytes match). */
static void q_q8_k(const float *x, void *blk)
{
    bn_block_q8_k *b = blk;
    float mx = bn_signed_absmax(x, QK);
    float id = mx != 0.0f ? -127.0f / mx : 0.0f;
    bn_store_f32(b->d, id != 0.0f ? 1.0f / id : 0.0f);
    for (int j = 0; j < QK / 16; j++) {
        int sum = 0;
        for (int i = 16 * j; i < 16 * j + 16; i++) {
            b->qs[i] = (int8_t)bn_round_even_clamp(x[i] * id, -128, 127);
            sum += b->qs[i];
        }
        bn_store_u16(b->bsums + 2 * j, (uint16_t)(int16_t)sum);
    }
}

/* ---- table entry points ---- */

#define KQUANT_ENTRY(name, blk_type)                                                           \
    void bn_dequantize_row_##name(const void *src, float *dst, int64_t n, const void *tail)     \
    {                                                                                           \
        (void)tail;                                                                             \
        bn_dequant_blocks(src, dst, n, QK, (int)sizeof(blk_type), dq_##name);                   \
    }                                                                                           \
    void bn_quantize_##name(const float *src, void *dst, int64_t n_rows, int64_t n_per_row)     \
    {                                                                                           \
        bn_quant_blocks(src, dst, n_rows, n_per_row, QK, (int)sizeof(blk_type), q_##name);      \
    }

KQUANT_ENTRY(q2_k, bn_block_q2_k)
KQUANT_ENTRY(q3_k, bn_block_q3_k)
KQUANT_ENTRY(q4_k, bn_block_q4_k)
KQUANT_ENTRY(q5_k, bn_block_q5_k)
KQUANT_ENTRY(q6_k, bn_block_q6_k)
KQUANT_ENTRY(q8_k, bn_block_q8_k)
