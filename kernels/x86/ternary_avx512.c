/* AVX-512 VNNI kernels: ternary weights (I2_S, TQ2_0, TQ1_0) times int8
 * activations, and per-token activation quantization. Contract: ternary.h.
 *
 * The matmul:
 *  - A weight code c in {0,1,2} (value c-1) is decoded to an unsigned byte
 *    and vpdpbusd multiplies it with the signed activations, four products
 *    per int32 lane. sum((c-1)*q) = sum(c*q) - sum(q); the activation sums
 *    are computed once per call into scratch. All of it is exact int32.
 *  - A tile of R weight rows x B batch rows holds R*B accumulators in
 *    registers: each decoded weight vector is used B times, each activation
 *    vector R times. Prefill runs 4x4 tiles over row blocks that stay in L2
 *    (batch tiles outer, so a tile's activations stay in L1); decode runs
 *    16x1 tiles, 16 weight streams at a time, each read once.
 *  - The hot tiles are written out with named accumulators: GCC keeps
 *    those in registers, while arrays of vectors cost it moves and spills.
 *  - TQ types have one f16 scale per 256 elements: after each block the
 *    16 accumulators are reduced by one shuffle tree and scaled in double,
 *    exactly like the reference, so results are bit-identical to it.
 *    I2_S has one scale per tensor: one reduction per row.
 *  - I2_S stores element j of a 128-block at bits 6-2*(j/32) of byte j%32,
 *    so one 64-byte load holds two blocks and four nibble lookups give the
 *    codes of 4 x 32 elements of each. The activations are permuted to
 *    match (once per call, or per batch tile) instead of broadcasting each
 *    block: 7 instead of 10 vector operations per 256 weights.
 */
#include <cpuid.h>
#include <immintrin.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/x86/ternary.h"

#define AI static inline __attribute__((always_inline))

enum { KIND_I2S, KIND_TQ2, KIND_TQ1 };
enum { I2S_BYTES = 32, TQ2_BYTES = 66, TQ1_BYTES = 54 }; /* per block */

/* Rows per row block, a multiple of 16: I2_S's stay in L2 while the batch
 * tiles pass; TQ's block scales of a row block take 64 * n / 32 = 2n bytes
 * of scratch. */
#define ROW_BLOCK_I2S 128
#define ROW_BLOCK_TQ 64
/* Array bounds of the generic tiles. */
#define MAXR 16
#define MAXB 4
#define MAXN 16

/* Everything a tile needs, for one chunk of batch rows. */
typedef struct {
    const uint8_t *w; /* weight rows, rb bytes apart */
    size_t rb;
    int64_t nblk;      /* blocks per row */
    int64_t lead;      /* I2_S: blocks before the first pair (see i2s_lead) */
    const int8_t *x;   /* activations: batch row b at x + (b - xb0) * ldx */
    int64_t ldx, xb0;
    const float *xs;   /* x_scale of the chunk */
    float *y;          /* output of the chunk's first batch row */
    int64_t ldy;
    const int32_t *sq; /* activation sums, sq[blk * sqs + b] (I2_S: one block) */
    int64_t sqs;
    const double *dt;  /* TQ: row scales of the row block, dt[blk * dts + row - dr0] */
    int64_t dts, dr0;
    int64_t pfo;       /* TQ decode: prefetch offset, the next row block */
    int64_t n_rows;    /* decode: the tensor's rows; prefetches stop at its end */
    double scale;      /* I2_S tensor scale */
} job;

/* I2_S nibble -> code of its upper (HI2) or lower (LO2) two bits; code 3
 * reads as 1 (value 0), as in the reference. MIX: HI2 in lanes 0-1, LO2 in
 * lanes 2-3, for a block broadcast to both halves. */
#define LUT_HI2_16 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1
#define LUT_LO2_16 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1
static const uint8_t I2S_LUT_HI2[64] __attribute__((aligned(64))) = {LUT_HI2_16, LUT_HI2_16, LUT_HI2_16,
                                                                    LUT_HI2_16};
static const uint8_t I2S_LUT_LO2[64] __attribute__((aligned(64))) = {LUT_LO2_16, LUT_LO2_16, LUT_LO2_16,
                                                                    LUT_LO2_16};
static const uint8_t I2S_LUT_MIX[64] __attribute__((aligned(64))) = {LUT_HI2_16, LUT_HI2_16, LUT_LO2_16,
                                                                    LUT_LO2_16};

/* TQ1_0 trit multipliers 3^k per 16-bit word for the four 64-element
 * quarters of a block (see tq1_quarter). */
static const uint16_t TQ1_MUL[4][32] __attribute__((aligned(64))) = {
    {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3},
    {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27},
    {81, 81, 81, 81, 81, 81, 81, 81, 81, 81, 81, 81, 81, 81, 81, 81, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3},
    {9, 9, 9, 9, 9, 9, 9, 9, 27, 27, 27, 27, 27, 27, 27, 27, 81, 81, 81, 81, 81, 81, 81, 81, 1, 1, 3, 3, 9, 9, 27, 27},
};

/* red16's tree leaves v[4j+k] in lane 4k+j; this puts it back in lane 4j+k. */
static const int32_t RED16_IDX[16] __attribute__((aligned(64))) = {0, 4, 8, 12, 1, 5, 9, 13,
                                                                  2, 6, 10, 14, 3, 7, 11, 15};
static const int32_t RED4_IDX[16] __attribute__((aligned(64))) = {0, 4, 8, 12};

static inline uint8_t *align64(void *p)
{
    return (uint8_t *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

#define DP(acc, c, x) (acc) = _mm512_dpbusd_epi32((acc), (c), (x))

/* ---- reductions: lane p of the result = sum of the 16 lanes of v[p] ---- */

AI __m512i red16(const __m512i *v)
{
    __m512i t[8], u[4];
    for (int i = 0; i < 8; i++)
        t[i] = _mm512_add_epi32(_mm512_shuffle_i64x2(v[2 * i], v[2 * i + 1], 0x44),
                                _mm512_shuffle_i64x2(v[2 * i], v[2 * i + 1], 0xEE));
    /* t[i]: 128-bit lanes 0-1 hold v[2i], lanes 2-3 hold v[2i+1] */
    for (int i = 0; i < 4; i++)
        u[i] = _mm512_add_epi32(_mm512_shuffle_i32x4(t[2 * i], t[2 * i + 1], 0x88),
                                _mm512_shuffle_i32x4(t[2 * i], t[2 * i + 1], 0xDD));
    /* u[j]: 128-bit lane k holds four partial sums of v[4j+k] */
    __m512i s01 = _mm512_add_epi32(_mm512_unpacklo_epi32(u[0], u[1]), _mm512_unpackhi_epi32(u[0], u[1]));
    __m512i s23 = _mm512_add_epi32(_mm512_unpacklo_epi32(u[2], u[3]), _mm512_unpackhi_epi32(u[2], u[3]));
    __m512i f = _mm512_add_epi32(_mm512_unpacklo_epi64(s01, s23), _mm512_unpackhi_epi64(s01, s23));
    return _mm512_permutexvar_epi32(_mm512_load_si512(RED16_IDX), f);
}

AI __m128i red4(const __m512i *v)
{
    __m512i t0 = _mm512_add_epi32(_mm512_shuffle_i64x2(v[0], v[1], 0x44), _mm512_shuffle_i64x2(v[0], v[1], 0xEE));
    __m512i t1 = _mm512_add_epi32(_mm512_shuffle_i64x2(v[2], v[3], 0x44), _mm512_shuffle_i64x2(v[2], v[3], 0xEE));
    __m512i u = _mm512_add_epi32(_mm512_shuffle_i32x4(t0, t1, 0x88), _mm512_shuffle_i32x4(t0, t1, 0xDD));
    u = _mm512_add_epi32(u, _mm512_shuffle_epi32(u, _MM_PERM_BADC));
    u = _mm512_add_epi32(u, _mm512_shuffle_epi32(u, _MM_PERM_CDAB));
    return _mm512_castsi512_si128(_mm512_permutexvar_epi32(_mm512_load_si512(RED4_IDX), u));
}

/* ---- weight decoding ---- */

/* I2_S nibbles of a block pair (64 bytes): high nibbles hold groups 0 and 1
 * (bits 6-7, 4-5), low nibbles groups 2 and 3. */
AI __m512i i2s_hi(const uint8_t *q)
{
    return _mm512_and_si512(_mm512_srli_epi16(_mm512_loadu_si512(q), 4), _mm512_set1_epi8(0x0F));
}

AI __m512i i2s_lo(const uint8_t *q)
{
    return _mm512_and_si512(_mm512_loadu_si512(q), _mm512_set1_epi8(0x0F));
}

/* A lone I2_S block (32 bytes) broadcast to both halves: codes of elements
 * 0-63 and 64-127 in natural order. */
AI void i2s_single(const uint8_t *q, __m512i *c0, __m512i *c1)
{
    const __m512i m4 = _mm512_set1_epi8(0x0F), lut = _mm512_load_si512(I2S_LUT_MIX);
    const __m512i w = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)q));
    *c0 = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(w, 4), m4));
    *c1 = _mm512_shuffle_epi8(lut, _mm512_and_si512(w, m4));
}

/* Activations of one batch row in the order the pair decoding produces:
 * after `lead` blocks left as they are, blocks A, B of each pair become
 * [A0-31 B0-31 A32-63 B32-63 A64-95 B64-95 A96-127 B96-127]; an odd last
 * block stays as it is. */
static void i2s_permute(const int8_t *src, int8_t *dst, int64_t nblk, int64_t lead)
{
    memcpy(dst, src, (size_t)(128 * lead));
    src += 128 * lead, dst += 128 * lead, nblk -= lead;
    for (int64_t m = 0; m < nblk / 2; m++) {
        const int8_t *a = src + 256 * m, *b = a + 128;
        for (int g = 0; g < 4; g++) {
            const __m512i v = _mm512_inserti64x4(
                _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(a + 32 * g))),
                _mm256_loadu_si256((const __m256i *)(b + 32 * g)), 1);
            _mm512_storeu_si512(dst + 256 * m + 64 * g, v);
        }
    }
    if (nblk & 1)
        memcpy(dst + 128 * (nblk - 1), src + 128 * (nblk - 1), 128);
}

/* TQ2_0 half block (32 bytes of qs, 128 elements): element j at bits
 * 2*(j/32) of byte j%32. Lower half of the vector shifted by 0, upper by 2. */
AI void tq2_codes(const uint8_t *q, __m512i *c0, __m512i *c1)
{
    const __m512i m3 = _mm512_set1_epi8(3);
    const __m512i shv = _mm512_set_epi64(0x0002000200020002LL, 0x0002000200020002LL, 0x0002000200020002LL,
                                         0x0002000200020002LL, 0, 0, 0, 0);
    __m512i s = _mm512_srlv_epi16(_mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)q)), shv);
    *c0 = _mm512_and_si512(s, m3);
    *c1 = _mm512_and_si512(_mm512_srli_epi16(s, 4), m3);
}

/* floor(3y/256) = (y > 85) + (y > 170): trit of y = byte * 3^k mod 256 */
AI __m512i trit(__m512i y)
{
    const __m512i one = _mm512_set1_epi8(1);
    const __mmask64 k1 = _mm512_cmpgt_epu8_mask(y, _mm512_set1_epi8(85));
    const __mmask64 k2 = _mm512_cmpgt_epu8_mask(y, _mm512_set1_epi8((char)170));
    const __m512i c = _mm512_maskz_mov_epi8(k1, one);
    return _mm512_mask_add_epi8(c, k2, c, one);
}

/* TQ1_0 quarter g (elements 64g..64g+63) of a block. Trit k of a byte is
 * floor(3 * y / 256) with y = byte * 3^k mod 256. Bytes are arranged so the
 * quarter's elements come out in order:
 *   g0: [qs0-31 * 1 | qs0-31 * 3]        elements   0..63
 *   g1: [qs0-31 * 9 | qs0-31 * 27]                 64..127
 *   g2: [qs0-31 * 81 | qs32-47 * 1 | * 3]         128..191
 *   g3: [qs32-47 * 9 | * 27 | * 81 | qh * 1, 3, 9, 27]  192..255 */
AI __m512i tq1_quarter(const uint8_t *q, const int g)
{
    __m512i v;
    if (g < 2) {
        v = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)q));
    } else if (g == 2) {
        v = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)q)),
                               _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(q + 32))), 1);
    } else {
        uint32_t h;
        memcpy(&h, q + 48, sizeof h);
        v = _mm512_mask_set1_epi32(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(q + 32))), 0xF000,
                                   (int)h);
    }
    /* Bytes times 3^k mod 256 with 16-bit multiplies: the low byte of
     * v * m is right; the high byte is right when the low byte is zeroed. */
    const __m512i m = _mm512_load_si512(TQ1_MUL[g]);
    __m512i lo = _mm512_mullo_epi16(v, m);
    __m512i hi = _mm512_mullo_epi16(_mm512_and_si512(v, _mm512_set1_epi16((short)0xFF00)), m);
    __m512i y = _mm512_ternarylogic_epi32(lo, hi, _mm512_set1_epi16(0x00FF), 0xEC); /* (lo & c) | hi */
    return trit(y);
}

/* ---- finishing a tile ---- */

/* Writes the R x B tile's outputs: vals[p] is the double accumulator of
 * (row r + p % R, chunk batch row b + p / R). */
AI void store_tile(const job *j, int64_t r, int64_t b, int R, int B, const double *vals)
{
    for (int p = 0; p < R * B; p++) {
        const int64_t bb = b + p / R;
        j->y[bb * j->ldy + r + p % R] = (float)(vals[p] * (double)j->xs[bb]);
    }
}

/* I2_S: the row sums s[p], p = k * R + i, scaled once as the reference's
 * per-block sum would be (every partial sum scale * k is exact). */
AI void i2s_finish(const job *j, int64_t r, int64_t b, int R, int B, const int32_t *s)
{
    double vals[MAXN];
    for (int p = 0; p < R * B; p++) {
        /* 0.0 + ...: the reference's sum starts at +0.0 (turns -0.0 into +0.0) */
        double a = 0.0;
        a += j->scale * (double)(s[p] - j->sq[b + p / R]);
        vals[p] = a;
    }
    store_tile(j, r, b, R, B, vals);
}

/* TQ: after a block, acc += d * (sum(c*q) - sum(q)) for 16 (r, b) lanes,
 * in double and block order like the reference (multiply, then add: no
 * FMA). Lane p = k * R + i; dl, dh: the lanes' block scales (0-7, 8-15). */
AI void tq_scale16_d(const job *j, int64_t b, int64_t blk, const int R, const __m512i *acc, __m512d dl, __m512d dh,
                     __m512d *dlo, __m512d *dhi)
{
    const int B = 16 / R;
    const __m512i sq_idx = _mm512_setr_epi32(0 / R, 1 / R, 2 / R, 3 / R, 4 / R, 5 / R, 6 / R, 7 / R, 8 / R, 9 / R,
                                             10 / R, 11 / R, 12 / R, 13 / R, 14 / R, 15 / R);
    const __m512i sq = _mm512_permutexvar_epi32(
        sq_idx, _mm512_maskz_loadu_epi32((__mmask16)((1u << B) - 1), j->sq + blk * j->sqs + b));
    const __m512i s = _mm512_sub_epi32(red16(acc), sq);
    const __m512d lo = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(s)), dl);
    const __m512d hi = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(s, 1)), dh);
    *dlo = _mm512_add_pd(*dlo, lo);
    *dhi = _mm512_add_pd(*dhi, hi);
}

/* The same with the scales from the row block's table (fill_scales). */
AI void tq_scale16(const job *j, int64_t r, int64_t b, int64_t blk, const int R, const __m512i *acc, __m512d *dlo,
                   __m512d *dhi)
{
    __m512d dl, dh;
    const double *d = j->dt + blk * j->dts + (r - j->dr0);
    if (R == 16) {
        dl = _mm512_loadu_pd(d), dh = _mm512_loadu_pd(d + 8);
    } else { /* R == 4 */
        dl = dh = _mm512_broadcast_f64x4(_mm256_loadu_pd(d));
    }
    tq_scale16_d(j, b, blk, R, acc, dl, dh, dlo, dhi);
}

/* 16 rows' f16 block scales, read by the decode tiles next to the codes
 * (the lines are in L1 by then): exact in double, as in fill_scales. */
AI void tq_scales_f16(const uint16_t *h, __m512d *dl, __m512d *dh)
{
    const __m512 f = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)h));
    *dl = _mm512_cvtps_pd(_mm512_castps512_ps256(f));
    *dh = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(f), 1)));
}

AI void tq_finish16(const job *j, int64_t r, int64_t b, int R, __m512d dlo, __m512d dhi)
{
    double vals[16];
    _mm512_storeu_pd(vals, dlo);
    _mm512_storeu_pd(vals + 8, dhi);
    store_tile(j, r, b, R, 16 / R, vals);
}

/* ---- I2_S tiles ---- */

/* 4 weight rows x 4 batch rows: s<i><k> accumulates row i, batch row k. */
#define MAC4x4(c, off)                                                                        \
    do {                                                                                      \
        __m512i x_ = _mm512_loadu_si512(x0 + (off));                                          \
        DP(s00, c##0, x_), DP(s10, c##1, x_), DP(s20, c##2, x_), DP(s30, c##3, x_);           \
        x_ = _mm512_loadu_si512(x1 + (off));                                                  \
        DP(s01, c##0, x_), DP(s11, c##1, x_), DP(s21, c##2, x_), DP(s31, c##3, x_);           \
        x_ = _mm512_loadu_si512(x2 + (off));                                                  \
        DP(s02, c##0, x_), DP(s12, c##1, x_), DP(s22, c##2, x_), DP(s32, c##3, x_);           \
        x_ = _mm512_loadu_si512(x3 + (off));                                                  \
        DP(s03, c##0, x_), DP(s13, c##1, x_), DP(s23, c##2, x_), DP(s33, c##3, x_);           \
    } while (0)
#define ZERO4x4                                                                                                   \
    __m512i s00 = _mm512_setzero_si512(), s01 = s00, s02 = s00, s03 = s00, s10 = s00, s11 = s00, s12 = s00,     \
            s13 = s00, s20 = s00, s21 = s00, s22 = s00, s23 = s00, s30 = s00, s31 = s00, s32 = s00, s33 = s00
#define ACC4x4 {s00, s10, s20, s30, s01, s11, s21, s31, s02, s12, s22, s32, s03, s13, s23, s33}

static void i2s_4x4(const job *j, int64_t r, int64_t b)
{
    const __m512i lh = _mm512_load_si512(I2S_LUT_HI2), ll = _mm512_load_si512(I2S_LUT_LO2);
    const uint8_t *w0 = j->w + (size_t)r * j->rb, *w1 = w0 + j->rb, *w2 = w1 + j->rb, *w3 = w2 + j->rb;
    const int8_t *x0 = j->x + (b - j->xb0) * j->ldx, *x1 = x0 + j->ldx, *x2 = x1 + j->ldx, *x3 = x2 + j->ldx;
    ZERO4x4;
    if (j->lead) {
        __m512i c0, c1, c2, c3, d0, d1, d2, d3;
        i2s_single(w0, &c0, &d0);
        i2s_single(w1, &c1, &d1);
        i2s_single(w2, &c2, &d2);
        i2s_single(w3, &c3, &d3);
        MAC4x4(c, 0);
        MAC4x4(d, 64);
    }
    for (int64_t m = 0; m < (j->nblk - j->lead) / 2; m++) {
        const int64_t wo = 32 * j->lead + 64 * m, xo = 128 * j->lead + 256 * m;
        __m512i h0 = i2s_hi(w0 + wo), h1 = i2s_hi(w1 + wo), h2 = i2s_hi(w2 + wo), h3 = i2s_hi(w3 + wo);
        __m512i c0 = _mm512_shuffle_epi8(lh, h0), c1 = _mm512_shuffle_epi8(lh, h1);
        __m512i c2 = _mm512_shuffle_epi8(lh, h2), c3 = _mm512_shuffle_epi8(lh, h3);
        MAC4x4(c, xo);
        c0 = _mm512_shuffle_epi8(ll, h0), c1 = _mm512_shuffle_epi8(ll, h1);
        c2 = _mm512_shuffle_epi8(ll, h2), c3 = _mm512_shuffle_epi8(ll, h3);
        MAC4x4(c, xo + 64);
        h0 = i2s_lo(w0 + wo), h1 = i2s_lo(w1 + wo), h2 = i2s_lo(w2 + wo), h3 = i2s_lo(w3 + wo);
        c0 = _mm512_shuffle_epi8(lh, h0), c1 = _mm512_shuffle_epi8(lh, h1);
        c2 = _mm512_shuffle_epi8(lh, h2), c3 = _mm512_shuffle_epi8(lh, h3);
        MAC4x4(c, xo + 128);
        c0 = _mm512_shuffle_epi8(ll, h0), c1 = _mm512_shuffle_epi8(ll, h1);
        c2 = _mm512_shuffle_epi8(ll, h2), c3 = _mm512_shuffle_epi8(ll, h3);
        MAC4x4(c, xo + 192);
    }
    if ((j->nblk - j->lead) & 1) {
        const int64_t wo = 32 * (j->nblk - 1), xo = 128 * (j->nblk - 1);
        __m512i c0, c1, c2, c3, d0, d1, d2, d3;
        i2s_single(w0 + wo, &c0, &d0);
        i2s_single(w1 + wo, &c1, &d1);
        i2s_single(w2 + wo, &c2, &d2);
        i2s_single(w3 + wo, &c3, &d3);
        MAC4x4(c, xo);
        MAC4x4(d, xo + 64);
    }
    const __m512i acc[16] = ACC4x4;
    int32_t s[16];
    _mm512_storeu_si512(s, red16(acc));
    i2s_finish(j, r, b, 4, 4, s);
}

/* 16 weight rows x 1 batch row (decode): the activations of a block pair
 * are loaded once, each row streams through. Each load prefetches the same
 * bytes of the next tile (16 rows on): the whole next tile arrives while
 * this one computes (from DRAM on huge pages: 16 -> 28-31 GB/s a core
 * against a prefetch 1 KiB ahead). Past the call's rows too: the pool hands
 * each thread contiguous chunks, so those are usually the next call's. */
#define I2S_ROW16(i)                                                              \
    do {                                                                          \
        _mm_prefetch((const char *)(p + pf), _MM_HINT_T0);                        \
        const __m512i h_ = i2s_hi(p), l_ = i2s_lo(p);                             \
        DP(s##i, _mm512_shuffle_epi8(lh, h_), a0);                                \
        DP(s##i, _mm512_shuffle_epi8(ll, h_), a1);                                \
        DP(s##i, _mm512_shuffle_epi8(lh, l_), a2);                                \
        DP(s##i, _mm512_shuffle_epi8(ll, l_), a3);                                \
        p += rb;                                                                  \
    } while (0)
#define I2S_ROW16_SINGLE(i)                                                       \
    do {                                                                          \
        __m512i c_, d_;                                                           \
        _mm_prefetch((const char *)(p + pf), _MM_HINT_T0);                        \
        i2s_single(p, &c_, &d_);                                                  \
        DP(s##i, c_, a0);                                                         \
        DP(s##i, d_, a1);                                                         \
        p += rb;                                                                  \
    } while (0)
#define FOR16(M) M(0); M(1); M(2); M(3); M(4); M(5); M(6); M(7); M(8); M(9); M(10); M(11); M(12); M(13); M(14); M(15)
#define ZERO16                                                                                                    \
    __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0, s8 = s0, \
            s9 = s0, s10 = s0, s11 = s0, s12 = s0, s13 = s0, s14 = s0, s15 = s0
#define ACC16 {s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15}

static void i2s_16x1(const job *j, int64_t r, int64_t b)
{
    const __m512i lh = _mm512_load_si512(I2S_LUT_HI2), ll = _mm512_load_si512(I2S_LUT_LO2);
    const uint8_t *w0 = j->w + (size_t)r * j->rb;
    const size_t rb = j->rb, pf = r + 32 <= j->n_rows ? 16 * rb : 0; /* 0: the line in hand, a no-op */
    const int8_t *x = j->x + (b - j->xb0) * j->ldx;
    ZERO16;
    if (j->lead) {
        const __m512i a0 = _mm512_loadu_si512(x), a1 = _mm512_loadu_si512(x + 64);
        const uint8_t *p = w0;
        FOR16(I2S_ROW16_SINGLE);
    }
    for (int64_t m = 0; m < (j->nblk - j->lead) / 2; m++) {
        const int8_t *xm = x + 128 * j->lead + 256 * m;
        const __m512i a0 = _mm512_loadu_si512(xm), a1 = _mm512_loadu_si512(xm + 64);
        const __m512i a2 = _mm512_loadu_si512(xm + 128), a3 = _mm512_loadu_si512(xm + 192);
        const uint8_t *p = w0 + 32 * j->lead + 64 * m;
        FOR16(I2S_ROW16);
    }
    if ((j->nblk - j->lead) & 1) {
        const int8_t *xm = x + 128 * (j->nblk - 1);
        const __m512i a0 = _mm512_loadu_si512(xm), a1 = _mm512_loadu_si512(xm + 64);
        const uint8_t *p = w0 + 32 * (j->nblk - 1);
        FOR16(I2S_ROW16_SINGLE);
    }
    const __m512i acc[16] = ACC16;
    int32_t s[16];
    _mm512_storeu_si512(s, red16(acc));
    i2s_finish(j, r, b, 16, 1, s);
}

/* Any R x B (R <= 16, B <= 4, R * B <= 16): the edges of the range. */
AI void i2s_tile(const job *j, int64_t r, int64_t b, const int R, const int B)
{
    const int N = R * B;
    const __m512i lh = _mm512_load_si512(I2S_LUT_HI2), ll = _mm512_load_si512(I2S_LUT_LO2);
    __m512i acc[MAXN];
    const int8_t *xp[MAXB];
    for (int p = 0; p < N; p++)
        acc[p] = _mm512_setzero_si512();
    for (int k = 0; k < B; k++)
        xp[k] = j->x + (b + k - j->xb0) * j->ldx;
    for (int i = 0; i < R; i++) {
        const uint8_t *wr = j->w + (size_t)(r + i) * j->rb;
        if (j->lead) {
            __m512i c0, c1;
            i2s_single(wr, &c0, &c1);
            for (int k = 0; k < B; k++) {
                DP(acc[k * R + i], c0, _mm512_loadu_si512(xp[k]));
                DP(acc[k * R + i], c1, _mm512_loadu_si512(xp[k] + 64));
            }
        }
        for (int64_t m = 0; m < (j->nblk - j->lead) / 2; m++) {
            const uint8_t *q = wr + 32 * j->lead + 64 * m;
            const __m512i h = i2s_hi(q), l = i2s_lo(q);
            const __m512i c[4] = {_mm512_shuffle_epi8(lh, h), _mm512_shuffle_epi8(ll, h),
                                  _mm512_shuffle_epi8(lh, l), _mm512_shuffle_epi8(ll, l)};
            for (int k = 0; k < B; k++)
                for (int g = 0; g < 4; g++)
                    DP(acc[k * R + i], c[g], _mm512_loadu_si512(xp[k] + 128 * j->lead + 256 * m + 64 * g));
        }
        if ((j->nblk - j->lead) & 1) {
            __m512i c0, c1;
            i2s_single(wr + 32 * (j->nblk - 1), &c0, &c1);
            for (int k = 0; k < B; k++) {
                DP(acc[k * R + i], c0, _mm512_loadu_si512(xp[k] + 128 * (j->nblk - 1)));
                DP(acc[k * R + i], c1, _mm512_loadu_si512(xp[k] + 128 * (j->nblk - 1) + 64));
            }
        }
    }
    int32_t s[MAXN];
    if (N == 16)
        _mm512_storeu_si512(s, red16(acc));
    else if (N == 4)
        _mm_storeu_si128((__m128i *)s, red4(acc));
    else
        for (int p = 0; p < N; p++)
            s[p] = _mm512_reduce_add_epi32(acc[p]);
    i2s_finish(j, r, b, R, B, s);
}

/* ---- TQ tiles ---- */

static void tq2_4x4(const job *j, int64_t r, int64_t b)
{
    const uint8_t *w0 = j->w + (size_t)r * j->rb, *w1 = w0 + j->rb, *w2 = w1 + j->rb, *w3 = w2 + j->rb;
    const int8_t *x0 = j->x + (b - j->xb0) * j->ldx, *x1 = x0 + j->ldx, *x2 = x1 + j->ldx, *x3 = x2 + j->ldx;
    __m512d dlo = _mm512_setzero_pd(), dhi = _mm512_setzero_pd();
    for (int64_t blk = 0; blk < j->nblk; blk++) {
        const int64_t wo = blk * TQ2_BYTES, xo = blk * 256;
        ZERO4x4;
        for (int h = 0; h < 2; h++) {
            __m512i c0, c1, c2, c3, d0, d1, d2, d3;
            tq2_codes(w0 + wo + 32 * h, &c0, &d0);
            tq2_codes(w1 + wo + 32 * h, &c1, &d1);
            tq2_codes(w2 + wo + 32 * h, &c2, &d2);
            tq2_codes(w3 + wo + 32 * h, &c3, &d3);
            MAC4x4(c, xo + 128 * h);
            MAC4x4(d, xo + 128 * h + 64);
        }
        const __m512i acc[16] = ACC4x4;
        tq_scale16(j, r, b, blk, 4, acc, &dlo, &dhi);
    }
    tq_finish16(j, r, b, 4, dlo, dhi);
}

static void tq1_4x4(const job *j, int64_t r, int64_t b)
{
    const uint8_t *w0 = j->w + (size_t)r * j->rb, *w1 = w0 + j->rb, *w2 = w1 + j->rb, *w3 = w2 + j->rb;
    const int8_t *x0 = j->x + (b - j->xb0) * j->ldx, *x1 = x0 + j->ldx, *x2 = x1 + j->ldx, *x3 = x2 + j->ldx;
    __m512d dlo = _mm512_setzero_pd(), dhi = _mm512_setzero_pd();
    for (int64_t blk = 0; blk < j->nblk; blk++) {
        const int64_t wo = blk * TQ1_BYTES, xo = blk * 256;
        ZERO4x4;
#pragma GCC unroll 4
        for (int g = 0; g < 4; g++) {
            const __m512i c0 = tq1_quarter(w0 + wo, g), c1 = tq1_quarter(w1 + wo, g);
            const __m512i c2 = tq1_quarter(w2 + wo, g), c3 = tq1_quarter(w3 + wo, g);
            MAC4x4(c, xo + 64 * g);
        }
        const __m512i acc[16] = ACC4x4;
        tq_scale16(j, r, b, blk, 4, acc, &dlo, &dhi);
    }
    tq_finish16(j, r, b, 4, dlo, dhi);
}

#define TQ2_ROW16(i)                                                          \
    do {                                                                      \
        __m512i c_, d_;                                                       \
        tq2_codes(p, &c_, &d_);                                               \
        DP(s##i, c_, a0);                                                     \
        DP(s##i, d_, a1);                                                     \
        tq2_codes(p + 32, &c_, &d_);                                          \
        DP(s##i, c_, a2);                                                     \
        DP(s##i, d_, a3);                                                     \
        memcpy(&sc[i], p + 64, 2);                                            \
        _mm_prefetch((const char *)(p + j->pfo), _MM_HINT_T1);                \
        p += rb;                                                              \
    } while (0)
#define TQ1_ROW16(i)                                                          \
    do {                                                                      \
        DP(s##i, tq1_quarter(p, 0), a0);                                      \
        DP(s##i, tq1_quarter(p, 1), a1);                                      \
        DP(s##i, tq1_quarter(p, 2), a2);                                      \
        DP(s##i, tq1_quarter(p, 3), a3);                                      \
        memcpy(&sc[i], p + 52, 2);                                            \
        _mm_prefetch((const char *)(p + j->pfo), _MM_HINT_T1);                \
        p += rb;                                                              \
    } while (0)

/* 16 weight rows x 1 batch row (decode): a block's activations are loaded
 * once, each row streams through. */
AI void tq_16x1(const job *j, int64_t r, int64_t b, const int kind)
{
    const uint8_t *w0 = j->w + (size_t)r * j->rb;
    const size_t rb = j->rb, bbytes = kind == KIND_TQ2 ? TQ2_BYTES : TQ1_BYTES;
    const int8_t *x = j->x + (b - j->xb0) * j->ldx;
    __m512d dlo = _mm512_setzero_pd(), dhi = _mm512_setzero_pd();
    for (int64_t blk = 0; blk < j->nblk; blk++) {
        const int8_t *xm = x + 256 * blk;
        const __m512i a0 = _mm512_loadu_si512(xm), a1 = _mm512_loadu_si512(xm + 64);
        const __m512i a2 = _mm512_loadu_si512(xm + 128), a3 = _mm512_loadu_si512(xm + 192);
        const uint8_t *p = w0 + bbytes * blk;
        uint16_t sc[16];
        ZERO16;
        if (kind == KIND_TQ2) {
            FOR16(TQ2_ROW16);
        } else {
            FOR16(TQ1_ROW16);
        }
        const __m512i acc[16] = ACC16;
        __m512d dl, dh;
        tq_scales_f16(sc, &dl, &dh);
        tq_scale16_d(j, b, blk, 16, acc, dl, dh, &dlo, &dhi);
    }
    tq_finish16(j, r, b, 16, dlo, dhi);
}

static void tq2_16x1(const job *j, int64_t r, int64_t b)
{
    tq_16x1(j, r, b, KIND_TQ2);
}

static void tq1_16x1(const job *j, int64_t r, int64_t b)
{
    tq_16x1(j, r, b, KIND_TQ1);
}

/* ---- TQ1_0 decode by table lookup (AVX-512 VBMI + GFNI) ----
 * One masked 64-byte load takes a block's 52 code bytes. A 256-entry table
 * lookup (two vpermi2b on the low 7 bits, blended on the top bit) turns
 * every byte into its trits 0-3 as 2-bit fields, a second one into its
 * trit 4, and gf2p8affine moves each 2-bit field down to a byte: about 20
 * instructions per 256 weights where tq1_quarter's base-3 arithmetic takes
 * about 48. The codes come out in byte order, so the activations are
 * permuted to match once per call (tq1_stage): per block, vector k (0-3)
 * holds the elements of trit k of each byte, vector 4 those of trit 4, and
 * lanes without an element hold 0. Integer sums are the same as the other
 * kernels', so results stay bit-identical. */
#define TQ1_LUT_TARGET __attribute__((target("avx512vbmi,gfni")))
#define TQ1_TRIT(b, p) (((((b) * (p)) & 0xFF) * 3) >> 8)
#define TQ1_LOW4(b) (TQ1_TRIT(b, 1) | TQ1_TRIT(b, 3) << 2 | TQ1_TRIT(b, 9) << 4 | TQ1_TRIT(b, 27) << 6)
#define TQ1_HIGH(b) TQ1_TRIT(b, 81)
#define REP4(M, b) M(b), M((b) + 1), M((b) + 2), M((b) + 3)
#define REP16(M, b) REP4(M, b), REP4(M, (b) + 4), REP4(M, (b) + 8), REP4(M, (b) + 12)
#define REP64(M, b) REP16(M, b), REP16(M, (b) + 16), REP16(M, (b) + 32), REP16(M, (b) + 48)
#define REP256(M) REP64(M, 0), REP64(M, 64), REP64(M, 128), REP64(M, 192)
static const uint8_t TQ1_LUT_LOW4[256] __attribute__((aligned(64))) = {REP256(TQ1_LOW4)};
static const uint8_t TQ1_LUT_HIGH[256] __attribute__((aligned(64))) = {REP256(TQ1_HIGH)};
enum { TQ1_STAGED = 320 }; /* staged activation bytes per block */

/* Whether the CPU has VBMI and GFNI (cpuid leaf 7, ecx bits 1 and 8), and
 * whether tests allow the path (bn_avx512_tq1_lut_allow). */
static atomic_int tq1_lut_cpu = -1;
static atomic_bool tq1_lut_allowed = true;

static bool tq1_lut_enabled(void)
{
    int c = atomic_load_explicit(&tq1_lut_cpu, memory_order_relaxed);
    if (c < 0) {
        unsigned a, b, cx, d;
        c = __get_cpuid_count(7, 0, &a, &b, &cx, &d) && (cx & (1u << 1)) && (cx & (1u << 8));
        atomic_store_explicit(&tq1_lut_cpu, c, memory_order_relaxed);
    }
    return c && atomic_load_explicit(&tq1_lut_allowed, memory_order_relaxed);
}

bool bn_avx512_tq1_lut_allow(bool allow)
{
    atomic_store(&tq1_lut_allowed, allow);
    return tq1_lut_enabled();
}

/* One batch row's activations in the lookup kernel's order. */
static void tq1_stage(const int8_t *x, int8_t *dst, int64_t nblk)
{
    for (int64_t blk = 0; blk < nblk; blk++) {
        const int8_t *s = x + 256 * blk;
        int8_t *d = dst + TQ1_STAGED * blk;
        memset(d, 0, TQ1_STAGED);
        for (int k = 0; k < 4; k++) {
            memcpy(d + 64 * k, s + 32 * k, 32);            /* qs[0..31], trit k */
            memcpy(d + 64 * k + 32, s + 160 + 16 * k, 16); /* qs[32..47], trit k */
            memcpy(d + 64 * k + 48, s + 240 + 4 * k, 4);   /* qh[0..3], trit k */
        }
        memcpy(d + 256, s + 128, 32); /* qs[0..31], trit 4 */
        memcpy(d + 288, s + 224, 16); /* qs[32..47], trit 4 */
    }
}

TQ1_LUT_TARGET AI __m512i lut256(__m512i v, __mmask64 top, const uint8_t *t)
{
    const __m512i lo = _mm512_permutex2var_epi8(_mm512_load_si512(t), v, _mm512_load_si512(t + 64));
    const __m512i hi = _mm512_permutex2var_epi8(_mm512_load_si512(t + 128), v, _mm512_load_si512(t + 192));
    return _mm512_mask_blend_epi8(top, lo, hi);
}

/* gf2p8affine matrix moving bits 2k, 2k+1 of each byte to bits 0, 1. */
#define TQ1_FIELD(k) _mm512_set1_epi64((long long)((1ull << (2 * (k))) << 56 | (1ull << (2 * (k) + 1)) << 48))

#define TQ1L_ROW16(i)                                                                              \
    do {                                                                                           \
        const __m512i v_ = _mm512_maskz_loadu_epi8(0x000FFFFFFFFFFFFFull, p);                      \
        const __mmask64 t_ = _mm512_movepi8_mask(v_);                                              \
        const __m512i l_ = lut256(v_, t_, TQ1_LUT_LOW4), h_ = lut256(v_, t_, TQ1_LUT_HIGH);         \
        DP(s##i, _mm512_and_si512(l_, m3), a0);                                                    \
        DP(s##i, _mm512_gf2p8affine_epi64_epi8(l_, f1, 0), a1);                                    \
        DP(s##i, _mm512_gf2p8affine_epi64_epi8(l_, f2, 0), a2);                                    \
        DP(s##i, _mm512_gf2p8affine_epi64_epi8(l_, f3, 0), a3);                                    \
        DP(s##i, h_, a4);                                                                          \
        memcpy(&sc[i], p + 52, 2);                                                                 \
        _mm_prefetch((const char *)(p + j->pfo), _MM_HINT_T1);                                     \
        p += rb;                                                                                   \
    } while (0)

/* 16 weight rows x 1 batch row, activations staged by tq1_stage. */
TQ1_LUT_TARGET static void tq1_16x1_lut(const job *j, int64_t r, int64_t b)
{
    const uint8_t *w0 = j->w + (size_t)r * j->rb;
    const size_t rb = j->rb;
    const int8_t *x = j->x + (b - j->xb0) * j->ldx;
    const __m512i m3 = _mm512_set1_epi8(3), f1 = TQ1_FIELD(1), f2 = TQ1_FIELD(2), f3 = TQ1_FIELD(3);
    __m512d dlo = _mm512_setzero_pd(), dhi = _mm512_setzero_pd();
    for (int64_t blk = 0; blk < j->nblk; blk++) {
        const int8_t *xm = x + TQ1_STAGED * blk;
        const __m512i a0 = _mm512_load_si512(xm), a1 = _mm512_load_si512(xm + 64);
        const __m512i a2 = _mm512_load_si512(xm + 128), a3 = _mm512_load_si512(xm + 192);
        const __m512i a4 = _mm512_load_si512(xm + 256);
        const uint8_t *p = w0 + TQ1_BYTES * blk;
        uint16_t sc[16];
        ZERO16;
        FOR16(TQ1L_ROW16);
        const __m512i acc[16] = ACC16;
        __m512d dl, dh;
        tq_scales_f16(sc, &dl, &dh);
        tq_scale16_d(j, b, blk, 16, acc, dl, dh, &dlo, &dhi);
    }
    tq_finish16(j, r, b, 16, dlo, dhi);
}

/* Any R x B (R * B in {1, 4} or any N with scalar reductions): the edges. */
AI void tq_tile(const job *j, int64_t r, int64_t b, const int R, const int B, const int kind)
{
    const int N = R * B;
    const int64_t bbytes = kind == KIND_TQ2 ? TQ2_BYTES : TQ1_BYTES;
    __m256d d4 = _mm256_setzero_pd();
    double dv[MAXN];
    const int8_t *xp[MAXB];
    for (int p = 0; p < N; p++)
        dv[p] = 0.0;
    for (int k = 0; k < B; k++)
        xp[k] = j->x + (b + k - j->xb0) * j->ldx;

    for (int64_t blk = 0; blk < j->nblk; blk++) {
        const int64_t wo = blk * bbytes, xo = blk * 256;
        __m512i acc[MAXN];
        for (int p = 0; p < N; p++)
            acc[p] = _mm512_setzero_si512();
        for (int i = 0; i < R; i++) {
            const uint8_t *q = j->w + (size_t)(r + i) * j->rb + wo;
            __m512i c[4];
            if (kind == KIND_TQ2) {
                tq2_codes(q, &c[0], &c[1]);
                tq2_codes(q + 32, &c[2], &c[3]);
            } else {
                for (int g = 0; g < 4; g++)
                    c[g] = tq1_quarter(q, g);
            }
            for (int k = 0; k < B; k++)
                for (int g = 0; g < 4; g++)
                    DP(acc[k * R + i], c[g], _mm512_loadu_si512(xp[k] + xo + 64 * g));
        }
        const int32_t *sqb = j->sq + blk * j->sqs + b;
        const double *dtb = j->dt + blk * j->dts + (r - j->dr0);
        if (N == 4) {
            const __m128i sqv = _mm_setr_epi32(sqb[0 / R], sqb[1 / R], sqb[2 / R], sqb[3 / R]);
            const __m256d dvec = R == 4 ? _mm256_loadu_pd(dtb) : _mm256_set1_pd(dtb[0]);
            const __m128i s = _mm_sub_epi32(red4(acc), sqv);
            d4 = _mm256_add_pd(d4, _mm256_mul_pd(_mm256_cvtepi32_pd(s), dvec));
        } else {
            for (int p = 0; p < N; p++)
                dv[p] += dtb[p % R] * (double)(_mm512_reduce_add_epi32(acc[p]) - sqb[p / R]);
        }
    }
    if (N == 4)
        _mm256_storeu_pd(dv, d4);
    store_tile(j, r, b, R, B, dv);
}

/* ---- tile tables ---- */

typedef void (*tile_fn)(const job *j, int64_t r, int64_t b);
typedef struct {
    /* prefill 4x4 and its edges 4x1, 1x4, 1x1; decode 16x1 and its edge 4x1 */
    tile_fn pf, pf_b1, pf_r1, t11, dec, dec4;
} tile_set;

#define EDGE(kind, name, R, B)                                    \
    static void name(const job *j, int64_t r, int64_t b)          \
    {                                                             \
        if (kind == KIND_I2S)                                     \
            i2s_tile(j, r, b, R, B);                              \
        else                                                      \
            tq_tile(j, r, b, R, B, kind);                         \
    }
EDGE(KIND_I2S, i2s_4x1, 4, 1)
EDGE(KIND_I2S, i2s_1x4, 1, 4)
EDGE(KIND_I2S, i2s_1x1, 1, 1)
EDGE(KIND_TQ2, tq2_4x1, 4, 1)
EDGE(KIND_TQ2, tq2_1x4, 1, 4)
EDGE(KIND_TQ2, tq2_1x1, 1, 1)
EDGE(KIND_TQ1, tq1_4x1, 4, 1)
EDGE(KIND_TQ1, tq1_1x4, 1, 4)
EDGE(KIND_TQ1, tq1_1x1, 1, 1)

static const tile_set TILE_SETS[3] = {
    {i2s_4x4, i2s_4x1, i2s_1x4, i2s_1x1, i2s_16x1, i2s_4x1},
    {tq2_4x4, tq2_4x1, tq2_1x4, tq2_1x1, tq2_16x1, tq2_4x1},
    {tq1_4x4, tq1_4x1, tq1_1x4, tq1_1x1, tq1_16x1, tq1_4x1},
};

/* ---- driver ---- */

/* GGUF aligns tensors to 32 bytes, and an I2_S tensor's 32-byte scale tail
 * puts every other one 32 bytes into a cache line: each 64-byte pair load
 * would then straddle two lines (~25% slower decode, measured). When all
 * rows start 32 bytes in (data there, rows a whole number of lines), the
 * tiles take block 0 alone and pair blocks 1-2, 3-4, ...: every pair load
 * is aligned. The sums are exact integers, so the order changes nothing. */
static int64_t i2s_lead(const bitnet_weights *w)
{
    return ((uintptr_t)w->data & 63) == 32 && w->row_bytes % 64 == 0 && w->n / 128 >= 2 ? 1 : 0;
}

/* Block scales of rows [r0, r1) as doubles: dt[blk * dts + r - r0]. */
static void fill_scales(double *dt, int64_t dts, const bitnet_weights *w, int64_t r0, int64_t r1, int64_t nblk,
                        int64_t bbytes, int64_t doff)
{
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)w->data + (size_t)r * w->row_bytes + doff;
        for (int64_t blk = 0; blk < nblk; blk++) {
            const uint8_t *d = row + blk * bbytes;
            dt[blk * dts + r - r0] = (double)_cvtsh_ss((unsigned short)(d[0] | d[1] << 8));
        }
    }
}

/* sq[blk * sqs + b] = sum of activations of batch row b over block blk. */
static void act_sums(const int8_t *x, int64_t ldx, int64_t nb, int64_t n, int64_t bs, int32_t *sq, int64_t sqs)
{
    const __m512i ones = _mm512_set1_epi8(1);
    for (int64_t b = 0; b < nb; b++) {
        const int8_t *xb = x + b * ldx;
        for (int64_t blk = 0; blk < n / bs; blk++) {
            __m512i acc = _mm512_setzero_si512();
            for (int64_t k = blk * bs; k < (blk + 1) * bs; k += 64)
                acc = _mm512_dpbusd_epi32(acc, ones, _mm512_loadu_si512(xb + k));
            sq[blk * sqs + b] = _mm512_reduce_add_epi32(acc);
        }
    }
}

/* I2_S's activations of batch rows [b0, b0 + cnt) of the chunk, permuted
 * into xp; the tiles then read them there. */
static void i2s_stage(job *j, const int8_t *x, int64_t ldx, int64_t b0, int64_t cnt, int8_t *xp, int64_t n)
{
    for (int64_t k = 0; k < cnt; k++)
        i2s_permute(x + (b0 + k) * ldx, xp + k * n, j->nblk, j->lead);
    j->x = xp, j->ldx = n, j->xb0 = b0;
}

bool bn_avx512_matmul_i8(const bitnet_weights *w, const int8_t *xq, int64_t ldx, const float *x_scale,
                         int64_t n_batch, float *y, int64_t ldy, int64_t r0, int64_t r1, void *scratch)
{
    int kind;
    int64_t bs, bbytes, doff = 0;
    switch (w->type) {
    case BITNET_TYPE_I2_S:
        kind = KIND_I2S, bs = 128, bbytes = I2S_BYTES;
        break;
    case BITNET_TYPE_TQ2_0:
        kind = KIND_TQ2, bs = 256, bbytes = TQ2_BYTES, doff = 64;
        break;
    case BITNET_TYPE_TQ1_0:
        kind = KIND_TQ1, bs = 256, bbytes = TQ1_BYTES, doff = 52;
        break;
    default:
        return false;
    }
    const int64_t n = w->n;
    if (n <= 0 || n % bs != 0)
        return false;
    double scale = 0.0;
    if (kind == KIND_I2S) {
        /* the reference multiplies per block; one product per row is the
         * same only for a finite scale */
        if (!w->tail)
            return false;
        float f;
        memcpy(&f, w->tail, sizeof f);
        if (!isfinite(f))
            return false;
        scale = f;
    }
    if (r1 <= r0 || n_batch <= 0)
        return true;

    /* scratch, 4n + 1024 bytes: I2_S [4 permuted activation rows][sums];
     * TQ [block scales of a row block (2n)][sums] */
    const int64_t nblk = n / bs;
    uint8_t *base = align64(scratch);
    const int64_t avail = 4 * n + 1024 - (int64_t)(base - (uint8_t *)scratch);
    const bool tq = kind != KIND_I2S, decode = n_batch < 4;
    const int64_t rb_rows = tq ? ROW_BLOCK_TQ : ROW_BLOCK_I2S;
    const int64_t head = tq ? nblk * rb_rows * (int64_t)sizeof(double) : 4 * n;
    double *dt = (double *)base;
    int8_t *xperm = (int8_t *)base;
    int32_t *sq = (int32_t *)(base + head);
    const int64_t nbc = (avail - head) / (4 * (tq ? nblk : 1));

    const int64_t lead = kind == KIND_I2S ? i2s_lead(w) : 0;
    const tile_set *ts = &TILE_SETS[kind];
    for (int64_t c0 = 0; c0 < n_batch; c0 += nbc) {
        const int64_t nb = n_batch - c0 < nbc ? n_batch - c0 : nbc;
        const int8_t *xc = xq + c0 * ldx;
        job j = {
            .w = w->data, .rb = w->row_bytes, .nblk = nblk, .lead = lead, .x = xc, .ldx = ldx, .xb0 = 0,
            .xs = x_scale + c0, .y = y + c0 * ldy, .ldy = ldy, .sq = sq, .sqs = nb, .dt = dt, .dts = rb_rows,
            .scale = scale, .n_rows = w->n_rows,
        };
        act_sums(xc, ldx, nb, n, tq ? bs : n, sq, nb);
        /* TQ1_0, one batch row: the lookup kernel, on activations staged
         * after the sums (2n + 1.25n + a little fits in the 4n + 1024). */
        const int64_t staged_at = (head + 4 * nblk * nb + 63) & ~(int64_t)63;
        const bool lut = kind == KIND_TQ1 && decode && nb == 1 && staged_at + TQ1_STAGED * nblk <= avail &&
                         tq1_lut_enabled();
        int8_t *staged = lut ? (int8_t *)base + staged_at : NULL;
        if (lut)
            tq1_stage(xc, staged, nblk);
        if (decode) {
            /* decode: 16 rows at a time; a row block stays in L2 while the
             * (at most 3) batch rows pass over it */
            if (!tq)
                i2s_stage(&j, xc, ldx, 0, nb, xperm, n);
            for (int64_t rb0 = r0; rb0 < r1; rb0 += rb_rows) {
                const int64_t rb1 = r1 - rb0 < rb_rows ? r1 : rb0 + rb_rows;
                /* the 16-row tiles read their scales themselves; the
                 * table is for the edge tiles' rows only */
                const int64_t rt = rb0 + (rb1 - rb0) / 16 * 16;
                if (tq && rt < rb1)
                    fill_scales(dt + (rt - rb0), rb_rows, w, rt, rb1, nblk, bbytes, doff);
                j.dr0 = rb0;
                /* while this row block computes from L2, the next one is
                 * brought in (fill_scales then finds it there) */
                j.pfo = rb1 < w->n_rows ? (int64_t)rb_rows * (int64_t)w->row_bytes : 0;
                job jl = j; /* the lookup kernel's view: staged activations */
                jl.x = staged, jl.ldx = TQ1_STAGED * nblk, jl.xb0 = 0;
                for (int64_t b = 0; b < nb; b++) {
                    int64_t r = rb0;
                    for (; r + 16 <= rb1; r += 16) {
                        if (lut)
                            tq1_16x1_lut(&jl, r, b);
                        else
                            ts->dec(&j, r, b);
                    }
                    for (; r + 4 <= rb1; r += 4)
                        ts->dec4(&j, r, b);
                    for (; r < rb1; r++)
                        ts->t11(&j, r, b);
                }
            }
            continue;
        }
        /* prefill: row blocks that stay in L2; per block, batch tiles of 4
         * whose activations stay in L1 while the block's rows pass */
        for (int64_t rb0 = r0; rb0 < r1; rb0 += rb_rows) {
            const int64_t rb1 = r1 - rb0 < rb_rows ? r1 : rb0 + rb_rows;
            if (tq)
                fill_scales(dt, rb_rows, w, rb0, rb1, nblk, bbytes, doff);
            j.dr0 = rb0;
            for (int64_t b = 0; b < nb; b += 4) {
                const int64_t cnt = nb - b < 4 ? nb - b : 4;
                if (!tq)
                    i2s_stage(&j, xc, ldx, b, cnt, xperm, n);
                int64_t r = rb0;
                if (cnt == 4) {
                    for (; r + 4 <= rb1; r += 4)
                        ts->pf(&j, r, b);
                    for (; r < rb1; r++)
                        ts->pf_r1(&j, r, b);
                } else {
                    for (int64_t k = b; k < b + cnt; k++) {
                        for (r = rb0; r + 4 <= rb1; r += 4)
                            ts->pf_b1(&j, r, k);
                        for (; r < rb1; r++)
                            ts->t11(&j, r, k);
                    }
                }
            }
        }
    }
    return true;
}

/* ---- activation quantization ---- */

/* round half away from zero of doubles: trunc, then step away when the
 * dropped fraction is at least one half (v - trunc(v) is exact). */
AI __m512d round_away(__m512d v)
{
    const __m512d t = _mm512_roundscale_pd(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m512d f = _mm512_abs_pd(_mm512_sub_pd(v, t));
    const __mmask8 up = _mm512_cmp_pd_mask(f, _mm512_set1_pd(0.5), _CMP_GE_OQ);
    /* copysign(1, v) */
    const __m512d one = _mm512_castsi512_pd(_mm512_ternarylogic_epi64(
        _mm512_castpd_si512(v), _mm512_set1_epi64((long long)0x8000000000000000ull),
        _mm512_castpd_si512(_mm512_set1_pd(1.0)), 0xEA)); /* (v & sign) | 1.0 */
    return _mm512_mask_add_pd(t, up, t, one);
}

/* 8 doubles -> 8 int32 codes: clamp, NaN -> 0. max/min take the NaN from
 * their second operand, so the NaN survives to the explicit mask. */
AI __m256i to_codes(__m512d v)
{
    v = _mm512_min_pd(_mm512_set1_pd(127.0), _mm512_max_pd(_mm512_set1_pd(-128.0), v));
    const __mmask8 ok = _mm512_cmp_pd_mask(v, v, _CMP_ORD_Q);
    return _mm512_maskz_cvttpd_epi32(ok, v);
}

/* 16 codes of v in double, bit for bit the reference (stored under k). */
AI void codes16_double(__m512 v, __m512d s, int8_t *q, __mmask16 k)
{
    const __m512d lo = round_away(_mm512_mul_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), s));
    const __m512d hi =
        round_away(_mm512_mul_pd(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))), s));
    const __m512i c = _mm512_inserti64x4(_mm512_castsi256_si512(to_codes(lo)), to_codes(hi), 1);
    _mm_mask_storeu_epi8(q, k, _mm512_cvtepi32_epi8(c));
}

void bn_avx512_quantize_i8(const float *x, int64_t n, int8_t *q, float *scale)
{
    __m512 m0 = _mm512_setzero_ps(), m1 = _mm512_setzero_ps();
    int64_t i = 0;
    /* max(|x|, m) returns m when x is NaN, as fmax ignores NaN */
    for (; i + 32 <= n; i += 32) {
        m0 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + i)), m0);
        m1 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + i + 16)), m1);
    }
    for (; i < n; i += 16) {
        const __mmask16 k = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        m0 = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(k, x + i)), m0);
    }
    double amax = (double)_mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
    if (amax < 1e-5)
        amax = 1e-5;
    const double sd = 127.0 / amax;
    const __m512d s = _mm512_set1_pd(sd);
    /* In float, x * (float)sd is within 127 * 2^-23 of the reference's
     * double product, so it rounds to the same integer unless it lies within
     * that of a tie: vectors with a product that near a tie (or NaN, from NaN
     * or inf input) take the double path. */
    const __m512 sf = _mm512_set1_ps((float)sd), near_tie = _mm512_set1_ps(0.5f - 0x1p-12f);
    for (i = 0; i < n; i += 16) {
        const int64_t left = n - i;
        const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        const __m512 v = left >= 16 ? _mm512_loadu_ps(x + i) : _mm512_maskz_loadu_ps(k, x + i);
        const __m512 y = _mm512_mul_ps(v, sf);
        const __m512 r = _mm512_roundscale_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        if (_mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(y, r)), near_tie, _CMP_NLT_UQ))
            codes16_double(v, s, q + i, k);
        else if (left >= 16) /* AMD: masked stores are slow */
            _mm_storeu_si128((__m128i *)(q + i), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(r)));
        else
            _mm_mask_storeu_epi8(q + i, k, _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(r)));
    }
    *scale = (float)(amax / 127.0);
}
