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
 *    vector R times, and the packed weights are streamed once per tile.
 *    Prefill uses 4x4 tiles (rows outer, batch inner, so a tile's weight
 *    rows stay in L1); decode uses 16x1 (16 weight streams per pass).
 *  - TQ types have one f16 scale per 256 elements: after each block the
 *    16 accumulators are reduced by one shuffle tree and scaled in double,
 *    exactly like the reference, so results are bit-identical to it.
 *    I2_S has one scale per tensor: one reduction per row.
 */
#include <immintrin.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/x86/ternary.h"

#define AI static inline __attribute__((always_inline))

enum { KIND_I2S, KIND_TQ2, KIND_TQ1 };
enum { I2S_BYTES = 32, TQ2_BYTES = 66, TQ1_BYTES = 54 }; /* per block */

/* Everything a tile needs, for one chunk of batch rows. */
typedef struct {
    const uint8_t *w; /* weight rows, rb bytes apart */
    size_t rb;
    int64_t nblk;      /* blocks per row */
    const int8_t *x;   /* activations of the chunk's first batch row */
    int64_t ldx;
    const float *xs;   /* x_scale of the chunk */
    float *y;          /* output of the chunk's first batch row */
    int64_t ldy;
    const int32_t *sq; /* activation sums, sq[blk * sqs + b] (I2_S: one block) */
    int64_t sqs;
    const double *dt;  /* TQ: row scales of the row block, dt[blk * dts + row - dr0] */
    int64_t dts, dr0;
    double scale;      /* I2_S tensor scale */
} job;

/* I2_S nibble -> code: lanes 0-1 take the upper two bits of the nibble,
 * lanes 2-3 the lower two; code 3 reads as 1 (value 0), as in the
 * reference. */
static const uint8_t I2S_LUT[64] __attribute__((aligned(64))) = {
    0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1,
    0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1,
};

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

/* Tile shapes: prefill RP weight rows x BP batch rows, decode RD x 1. */
#ifndef I2S_RP
#define I2S_RP 4
#endif
#ifndef I2S_BP
#define I2S_BP 4
#endif
#ifndef TQ_RP
#define TQ_RP 4
#endif
#ifndef TQ_BP
#define TQ_BP 4
#endif
#ifndef RD
#define RD 16
#endif
/* Rows per row block (multiples of RP and RD); TQ's block scales of a row
 * block take 64 * n / 32 = 2n bytes of scratch. */
#ifndef ROW_BLOCK_I2S
#define ROW_BLOCK_I2S 128
#endif
#define ROW_BLOCK_TQ 64
#ifdef EXPL
#define EXPL_ON 1
#else
#define EXPL_ON 0
static void i2s_tile_4x4(const job *j, int64_t r, int64_t b);
static void i2s_tile_4x6(const job *j, int64_t r, int64_t b);
#endif
#define MAXR 16
#define MAXB 16
#define MAXN 32

static inline uint8_t *align64(void *p)
{
    return (uint8_t *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

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

/* I2_S block (32 bytes, 128 elements): codes of elements 0-63 and 64-127. */
AI void i2s_codes(const uint8_t *q, __m512i lut, __m512i *c0, __m512i *c1)
{
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512i w = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)q));
    /* high nibble: elements j (bits 6-7) and 32+j (bits 4-5); low nibble:
     * 64+j and 96+j. The LUT's halves pick the right pair of bits. */
#ifdef NOFIX
    (void)lut; (void)m4;
    const __m512i m3 = _mm512_set1_epi8(3);
    const __m512i shv = _mm512_set_epi64(0x0004000400040004LL, 0x0004000400040004LL, 0x0004000400040004LL,
                                         0x0004000400040004LL, 0x0006000600060006LL, 0x0006000600060006LL, 0x0006000600060006LL, 0x0006000600060006LL);
    __m512i s = _mm512_srlv_epi16(w, shv);
    *c0 = _mm512_and_si512(s, m3);
    *c1 = _mm512_and_si512(_mm512_srli_epi16(w, 4) , m3); /* wrong order placeholder: timing only */
    *c1 = _mm512_and_si512(_mm512_srlv_epi16(w, _mm512_srli_epi16(shv, 1)), m3);
#else
    *c0 = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(w, 4), m4));
    *c1 = _mm512_shuffle_epi8(lut, _mm512_and_si512(w, m4));
#endif
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
    /* floor(3y/256) = (y > 85) + (y > 170) */
    const __m512i one = _mm512_set1_epi8(1);
    __mmask64 k1 = _mm512_cmpgt_epu8_mask(y, _mm512_set1_epi8(85));
    __mmask64 k2 = _mm512_cmpgt_epu8_mask(y, _mm512_set1_epi8((char)170));
    __m512i c = _mm512_maskz_mov_epi8(k1, one);
    return _mm512_mask_add_epi8(c, k2, c, one);
}

/* ---- tiles ---- */

/* Writes the R x B tile's outputs: vals[p] is the double accumulator of
 * (row r + p % R, chunk batch row b + p / R). */
AI void store_tile(const job *j, int64_t r, int64_t b, int R, int B, const double *vals)
{
    for (int p = 0; p < R * B; p++) {
        const int64_t bb = b + p / R;
        j->y[bb * j->ldy + r + p % R] = (float)(vals[p] * (double)j->xs[bb]);
    }
}

AI void i2s_tile(const job *j, int64_t r, int64_t b, const int R, const int B)
{
    const int N = R * B;
    const __m512i lut = _mm512_load_si512(I2S_LUT);
    __m512i acc[MAXN];
    const uint8_t *wp[MAXR];
    const int8_t *xp[MAXB];
    for (int p = 0; p < N; p++)
        acc[p] = _mm512_setzero_si512();
    for (int i = 0; i < R; i++)
        wp[i] = j->w + (size_t)(r + i) * j->rb;
    for (int k = 0; k < B; k++)
        xp[k] = j->x + (b + k) * j->ldx;

    for (int64_t blk = 0; blk < j->nblk; blk++) {
        const int64_t wo = blk * I2S_BYTES, xo = blk * 128;
        if (B == 1) {
            /* decode: one activation stream, many weight streams */
            const __m512i a0 = _mm512_loadu_si512(xp[0] + xo), a1 = _mm512_loadu_si512(xp[0] + xo + 64);
#pragma GCC unroll 16
            for (int i = 0; i < R; i++) {
                __m512i c0, c1;
#ifdef PFD
                if (!(blk & 1))
                    _mm_prefetch((const char *)(wp[i] + wo + PFD), _MM_HINT_T0);
#endif
                i2s_codes(wp[i] + wo, lut, &c0, &c1);
                acc[i] = _mm512_dpbusd_epi32(acc[i], c0, a0);
                acc[i] = _mm512_dpbusd_epi32(acc[i], c1, a1);
            }
        } else {
            __m512i c0[MAXR], c1[MAXR];
#pragma GCC unroll 16
            for (int i = 0; i < R; i++)
                i2s_codes(wp[i] + wo, lut, &c0[i], &c1[i]);
#pragma GCC unroll 16
            for (int k = 0; k < B; k++) {
                const __m512i a = _mm512_loadu_si512(xp[k] + xo);
#pragma GCC unroll 16
                for (int i = 0; i < R; i++)
                    acc[k * R + i] = _mm512_dpbusd_epi32(acc[k * R + i], c0[i], a);
            }
#pragma GCC unroll 16
            for (int k = 0; k < B; k++) {
                const __m512i a = _mm512_loadu_si512(xp[k] + xo + 64);
#pragma GCC unroll 16
                for (int i = 0; i < R; i++)
                    acc[k * R + i] = _mm512_dpbusd_epi32(acc[k * R + i], c1[i], a);
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
    double vals[MAXN];
    for (int p = 0; p < N; p++) {
        /* 0.0 + ...: the reference's sum starts at +0.0 (turns -0.0 into +0.0) */
        double a = 0.0;
        a += j->scale * (double)(s[p] - j->sq[b + p / R]);
        vals[p] = a;
    }
    store_tile(j, r, b, R, B, vals);
}

/* Scales for result lanes 8h..8h+7 (lane p: row p % R) from the R row
 * scales at d. */
AI __m512d dvec8(const double *d, const int R, const int h)
{
    if (R >= 16)
        return _mm512_loadu_pd(d + 8 * h);
    if (R == 8)
        return _mm512_loadu_pd(d);
    if (R == 4)
        return _mm512_broadcast_f64x4(_mm256_loadu_pd(d));
    if (R == 2)
        return _mm512_broadcast_f64x2(_mm_loadu_pd(d));
    if (R == 1)
        return _mm512_set1_pd(d[0]);
    const __m512i idx = _mm512_setr_epi64((8 * h + 0) % R, (8 * h + 1) % R, (8 * h + 2) % R, (8 * h + 3) % R,
                                          (8 * h + 4) % R, (8 * h + 5) % R, (8 * h + 6) % R, (8 * h + 7) % R);
    return _mm512_permutexvar_pd(idx, _mm512_maskz_loadu_pd((__mmask8)((1u << (R < 8 ? R : 8)) - 1), d));
}

#ifdef EXPL
#define DP4(k, x, c)                                    \
    s0##k = _mm512_dpbusd_epi32(s0##k, c##0, x); \
    s1##k = _mm512_dpbusd_epi32(s1##k, c##1, x); \
    s2##k = _mm512_dpbusd_epi32(s2##k, c##2, x); \
    s3##k = _mm512_dpbusd_epi32(s3##k, c##3, x);
static void i2s_tile_4x4(const job *j, int64_t r, int64_t b)
{
    const __m512i lut = _mm512_load_si512(I2S_LUT);
    const uint8_t *w0 = j->w + (size_t)r * j->rb, *w1 = w0 + j->rb, *w2 = w1 + j->rb, *w3 = w2 + j->rb;
    const int8_t *x0 = j->x + b * j->ldx, *x1 = x0 + j->ldx, *x2 = x1 + j->ldx, *x3 = x2 + j->ldx;
    __m512i s00 = _mm512_setzero_si512(), s01 = s00, s02 = s00, s03 = s00, s10 = s00, s11 = s00, s12 = s00,
            s13 = s00, s20 = s00, s21 = s00, s22 = s00, s23 = s00, s30 = s00, s31 = s00, s32 = s00, s33 = s00;
    for (int64_t blk = 0; blk < j->nblk; blk++) {
        const int64_t wo = blk * I2S_BYTES, xo = blk * 128;
        __m512i c0, c1, c2, c3, d0, d1, d2, d3, x;
        i2s_codes(w0 + wo, lut, &c0, &d0);
        i2s_codes(w1 + wo, lut, &c1, &d1);
        i2s_codes(w2 + wo, lut, &c2, &d2);
        i2s_codes(w3 + wo, lut, &c3, &d3);
        x = _mm512_loadu_si512(x0 + xo);
        DP4(0, x, c)
        x = _mm512_loadu_si512(x1 + xo);
        DP4(1, x, c)
        x = _mm512_loadu_si512(x2 + xo);
        DP4(2, x, c)
        x = _mm512_loadu_si512(x3 + xo);
        DP4(3, x, c)
        x = _mm512_loadu_si512(x0 + xo + 64);
        DP4(0, x, d)
        x = _mm512_loadu_si512(x1 + xo + 64);
        DP4(1, x, d)
        x = _mm512_loadu_si512(x2 + xo + 64);
        DP4(2, x, d)
        x = _mm512_loadu_si512(x3 + xo + 64);
        DP4(3, x, d)
    }
    const __m512i acc[16] = {s00, s10, s20, s30, s01, s11, s21, s31, s02, s12, s22, s32, s03, s13, s23, s33};
    int32_t s[16];
    _mm512_storeu_si512(s, red16(acc));
    double vals[16];
    for (int p = 0; p < 16; p++) {
        double a = 0.0;
        a += j->scale * (double)(s[p] - j->sq[b + p / 4]);
        vals[p] = a;
    }
    store_tile(j, r, b, 4, 4, vals);
}

#define DP4B(k, x, c)                                    \
    s0##k = _mm512_dpbusd_epi32(s0##k, c##0, x); \
    s1##k = _mm512_dpbusd_epi32(s1##k, c##1, x); \
    s2##k = _mm512_dpbusd_epi32(s2##k, c##2, x); \
    s3##k = _mm512_dpbusd_epi32(s3##k, c##3, x);
static void i2s_tile_4x6(const job *j, int64_t r, int64_t b)
{
    const __m512i lut = _mm512_load_si512(I2S_LUT), m4 = _mm512_set1_epi8(0x0F);
    const uint8_t *w0 = j->w + (size_t)r * j->rb, *w1 = w0 + j->rb, *w2 = w1 + j->rb, *w3 = w2 + j->rb;
    const int8_t *x0 = j->x + b * j->ldx, *x1 = x0 + j->ldx, *x2 = x1 + j->ldx, *x3 = x2 + j->ldx,
                 *x4 = x3 + j->ldx, *x5 = x4 + j->ldx;
    __m512i s00 = _mm512_setzero_si512(), s01 = s00, s02 = s00, s03 = s00, s04 = s00, s05 = s00, s10 = s00,
            s11 = s00, s12 = s00, s13 = s00, s14 = s00, s15 = s00, s20 = s00, s21 = s00, s22 = s00, s23 = s00,
            s24 = s00, s25 = s00, s30 = s00, s31 = s00, s32 = s00, s33 = s00, s34 = s00, s35 = s00;
    for (int64_t blk = 0; blk < j->nblk; blk++) {
        const int64_t wo = blk * I2S_BYTES, xo = blk * 128;
        __m512i c0, c1, c2, c3, x;
#define HI(wp) _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(_mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(wp + wo))), 4), m4))
#define LO(wp) _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(wp + wo))), m4))
        c0 = HI(w0), c1 = HI(w1), c2 = HI(w2), c3 = HI(w3);
        x = _mm512_loadu_si512(x0 + xo); DP4B(0, x, c)
        x = _mm512_loadu_si512(x1 + xo); DP4B(1, x, c)
        x = _mm512_loadu_si512(x2 + xo); DP4B(2, x, c)
        x = _mm512_loadu_si512(x3 + xo); DP4B(3, x, c)
        x = _mm512_loadu_si512(x4 + xo); DP4B(4, x, c)
        x = _mm512_loadu_si512(x5 + xo); DP4B(5, x, c)
        c0 = LO(w0), c1 = LO(w1), c2 = LO(w2), c3 = LO(w3);
        x = _mm512_loadu_si512(x0 + xo + 64); DP4B(0, x, c)
        x = _mm512_loadu_si512(x1 + xo + 64); DP4B(1, x, c)
        x = _mm512_loadu_si512(x2 + xo + 64); DP4B(2, x, c)
        x = _mm512_loadu_si512(x3 + xo + 64); DP4B(3, x, c)
        x = _mm512_loadu_si512(x4 + xo + 64); DP4B(4, x, c)
        x = _mm512_loadu_si512(x5 + xo + 64); DP4B(5, x, c)
    }
    const __m512i acc[24] = {s00, s10, s20, s30, s01, s11, s21, s31, s02, s12, s22, s32,
                             s03, s13, s23, s33, s04, s14, s24, s34, s05, s15, s25, s35};
    int32_t s[24];
    _mm512_storeu_si512(s, red16(acc));
    _mm_storeu_si128((__m128i *)(s + 16), red4(acc + 16));
    _mm_storeu_si128((__m128i *)(s + 20), red4(acc + 20));
    double vals[24];
    for (int p = 0; p < 24; p++) {
        double a = 0.0;
        a += j->scale * (double)(s[p] - j->sq[b + p / 4]);
        vals[p] = a;
    }
    store_tile(j, r, b, 4, 6, vals);
}
#endif

AI void tq_tile(const job *j, int64_t r, int64_t b, const int R, const int B, const int kind)
{
    const int N = R * B;
    const int64_t bbytes = kind == KIND_TQ2 ? TQ2_BYTES : TQ1_BYTES;
    /* lane p of a result vector belongs to batch row p / R */
    const __m512i sq_idx = _mm512_setr_epi32(0 / R, 1 / R, 2 / R, 3 / R, 4 / R, 5 / R, 6 / R, 7 / R, 8 / R, 9 / R,
                                             10 / R, 11 / R, 12 / R, 13 / R, 14 / R, 15 / R);
    const __mmask16 bmask = (__mmask16)((1u << B) - 1);
    __m512d dlo = _mm512_setzero_pd(), dhi = _mm512_setzero_pd();
    __m256d d4 = _mm256_setzero_pd();
    const uint8_t *wp[MAXR];
    const int8_t *xp[MAXB];
    double dv[MAXN];
    for (int p = 0; p < N; p++)
        dv[p] = 0.0;
    for (int i = 0; i < R; i++)
        wp[i] = j->w + (size_t)(r + i) * j->rb;
    for (int k = 0; k < B; k++)
        xp[k] = j->x + (b + k) * j->ldx;

    for (int64_t blk = 0; blk < j->nblk; blk++) {
        const int64_t wo = blk * bbytes, xo = blk * 256;
        __m512i acc[MAXN];
        for (int p = 0; p < N; p++)
            acc[p] = _mm512_setzero_si512();
        if (kind == KIND_TQ2) {
            for (int h = 0; h < 2; h++) {
                if (B == 1) {
                    const __m512i a0 = _mm512_loadu_si512(xp[0] + xo + 128 * h);
                    const __m512i a1 = _mm512_loadu_si512(xp[0] + xo + 128 * h + 64);
#pragma GCC unroll 16
                    for (int i = 0; i < R; i++) {
                        __m512i c0, c1;
                        tq2_codes(wp[i] + wo + 32 * h, &c0, &c1);
                        acc[i] = _mm512_dpbusd_epi32(acc[i], c0, a0);
                        acc[i] = _mm512_dpbusd_epi32(acc[i], c1, a1);
                    }
                } else {
                    __m512i c0[MAXR], c1[MAXR];
#pragma GCC unroll 16
                    for (int i = 0; i < R; i++)
                        tq2_codes(wp[i] + wo + 32 * h, &c0[i], &c1[i]);
#pragma GCC unroll 16
                    for (int k = 0; k < B; k++) {
                        const __m512i a = _mm512_loadu_si512(xp[k] + xo + 128 * h);
#pragma GCC unroll 16
                        for (int i = 0; i < R; i++)
                            acc[k * R + i] = _mm512_dpbusd_epi32(acc[k * R + i], c0[i], a);
                    }
#pragma GCC unroll 16
                    for (int k = 0; k < B; k++) {
                        const __m512i a = _mm512_loadu_si512(xp[k] + xo + 128 * h + 64);
#pragma GCC unroll 16
                        for (int i = 0; i < R; i++)
                            acc[k * R + i] = _mm512_dpbusd_epi32(acc[k * R + i], c1[i], a);
                    }
                }
            }
        } else {
#pragma GCC unroll 4
            for (int g = 0; g < 4; g++) {
                if (B == 1) {
                    const __m512i a = _mm512_loadu_si512(xp[0] + xo + 64 * g);
#pragma GCC unroll 16
                    for (int i = 0; i < R; i++)
                        acc[i] = _mm512_dpbusd_epi32(acc[i], tq1_quarter(wp[i] + wo, g), a);
                } else {
                    __m512i c[MAXR];
#pragma GCC unroll 16
                    for (int i = 0; i < R; i++)
                        c[i] = tq1_quarter(wp[i] + wo, g);
#pragma GCC unroll 16
                    for (int k = 0; k < B; k++) {
                        const __m512i a = _mm512_loadu_si512(xp[k] + xo + 64 * g);
#pragma GCC unroll 16
                        for (int i = 0; i < R; i++)
                            acc[k * R + i] = _mm512_dpbusd_epi32(acc[k * R + i], c[i], a);
                    }
                }
            }
        }

        /* acc += d * (sum(c*q) - sum(q)), in double and block order as the
         * reference does (separate multiply and add: no FMA). */
        const int32_t *sqb = j->sq + blk * j->sqs + b;
        const double *dtb = j->dt + blk * j->dts + (r - j->dr0);
        if (N == 16) {
            __m512i sq = _mm512_permutexvar_epi32(sq_idx, _mm512_maskz_loadu_epi32(bmask, sqb));
            __m512i s = _mm512_sub_epi32(red16(acc), sq);
            __m512d lo = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(s)), dvec8(dtb, R, 0));
            __m512d hi = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(s, 1)), dvec8(dtb, R, 1));
            dlo = _mm512_add_pd(dlo, lo);
            dhi = _mm512_add_pd(dhi, hi);
        } else if (N == 4) {
            __m512i sq = _mm512_permutexvar_epi32(sq_idx, _mm512_maskz_loadu_epi32(bmask, sqb));
            __m128i s = _mm_sub_epi32(red4(acc), _mm512_castsi512_si128(sq));
            d4 = _mm256_add_pd(d4, _mm256_mul_pd(_mm256_cvtepi32_pd(s), _mm512_castpd512_pd256(dvec8(dtb, R, 0))));
        } else {
            for (int p = 0; p < N; p++)
                dv[p] += dtb[p % R] * (double)(_mm512_reduce_add_epi32(acc[p]) - sqb[p / R]);
        }
    }

    if (N == 16) {
        _mm512_storeu_pd(dv, dlo);
        _mm512_storeu_pd(dv + 8, dhi);
    } else if (N == 4) {
        _mm256_storeu_pd(dv, d4);
    }
    store_tile(j, r, b, R, B, dv);
}

typedef void (*tile_fn)(const job *j, int64_t r, int64_t b);
typedef struct {
    tile_fn pf, pf_b1, pf_r1, t11, dec, dec4; /* prefill RPxBP, RPx1, 1xBP, 1x1; decode RDx1, 4x1 */
} tile_set;

#define TILE(kind, role, R, B)                                       \
    static void tile_##kind##_##role(const job *j, int64_t r, int64_t b) \
    {                                                                \
        if (kind == KIND_I2S && EXPL_ON && R == 4 && B == 4)         \
            i2s_tile_4x4(j, r, b);                                   \
        else if (kind == KIND_I2S && EXPL_ON && R == 4 && B == 6)    \
            i2s_tile_4x6(j, r, b);                                   \
        else if (kind == KIND_I2S)                                   \
            i2s_tile(j, r, b, R, B);                                 \
        else                                                         \
            tq_tile(j, r, b, R, B, kind);                            \
    }
#define TILES(kind, RP, BP)                                                                \
    TILE(kind, pf, RP, BP) TILE(kind, pf_b1, RP, 1) TILE(kind, pf_r1, 1, BP) TILE(kind, t11, 1, 1) \
    TILE(kind, dec, RD, 1) TILE(kind, dec4, 4, 1)
#define SET(kind)                                                                                   \
    {tile_##kind##_pf, tile_##kind##_pf_b1, tile_##kind##_pf_r1, tile_##kind##_t11, tile_##kind##_dec, \
     tile_##kind##_dec4}
TILES(KIND_I2S, I2S_RP, I2S_BP)
TILES(KIND_TQ2, TQ_RP, TQ_BP)
TILES(KIND_TQ1, TQ_RP, TQ_BP)
static const tile_set TILE_SETS[3] = {SET(KIND_I2S), SET(KIND_TQ2), SET(KIND_TQ1)};
static const int TILE_RP[3] = {I2S_RP, TQ_RP, TQ_RP}, TILE_BP[3] = {I2S_BP, TQ_BP, TQ_BP};

/* ---- driver ---- */

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

    /* scratch: [TQ: block scales of a row block][activation sums] */
    const int64_t nblk = n / bs;
    uint8_t *base = align64(scratch);
    const int64_t avail = 4 * n + 1024 - (int64_t)(base - (uint8_t *)scratch);
    const bool tq = kind != KIND_I2S;
    const int64_t rb_rows = tq ? ROW_BLOCK_TQ : ROW_BLOCK_I2S;
    double *dt = (double *)base;
    const int64_t dt_bytes = tq ? nblk * rb_rows * (int64_t)sizeof(double) : 0;
    int32_t *sq = (int32_t *)(base + dt_bytes);
    const int64_t nbc = (avail - dt_bytes) / (4 * (tq ? nblk : 1));

    const tile_set *ts = &TILE_SETS[kind];
    const int RP = TILE_RP[kind], BP = TILE_BP[kind];
    for (int64_t c0 = 0; c0 < n_batch; c0 += nbc) {
        const int64_t nb = n_batch - c0 < nbc ? n_batch - c0 : nbc;
        job j = {
            .w = w->data, .rb = w->row_bytes, .nblk = nblk, .x = xq + c0 * ldx, .ldx = ldx,
            .xs = x_scale + c0, .y = y + c0 * ldy, .ldy = ldy, .sq = sq, .sqs = nb, .dt = dt, .dts = rb_rows,
            .scale = scale,
        };
        act_sums(j.x, ldx, nb, n, tq ? bs : n, sq, nb);
        /* Row blocks small enough to stay in L2 while every batch tile
         * passes over them; a batch tile's activations stay in L1. */
        for (int64_t rb0 = r0; rb0 < r1; rb0 += rb_rows) {
            const int64_t rb1 = r1 - rb0 < rb_rows ? r1 : rb0 + rb_rows;
            if (tq)
                fill_scales(dt, rb_rows, w, rb0, rb1, nblk, bbytes, doff);
            j.dr0 = rb0;
            int64_t b = 0, r;
            if (nb >= 4) {
                for (; b + BP <= nb; b += BP) {
                    for (r = rb0; r + RP <= rb1; r += RP)
                        ts->pf(&j, r, b);
                    for (; r < rb1; r++)
                        ts->pf_r1(&j, r, b);
                }
                for (; b < nb; b++) {
                    for (r = rb0; r + RP <= rb1; r += RP)
                        ts->pf_b1(&j, r, b);
                    for (; r < rb1; r++)
                        ts->t11(&j, r, b);
                }
            } else {
                for (; b < nb; b++) {
                    for (r = rb0; r + RD <= rb1; r += RD)
                        ts->dec(&j, r, b);
                    for (; r + 4 <= rb1; r += 4)
                        ts->dec4(&j, r, b);
                    for (; r < rb1; r++)
                        ts->t11(&j, r, b);
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

void bn_avx512_quantize_i8(const float *x, int64_t n, int8_t *q, float *scale)
{
    __m512 m = _mm512_setzero_ps();
    int64_t i = 0;
    /* max(|x|, m) returns m when x is NaN, as fmax ignores NaN */
    for (; i + 16 <= n; i += 16)
        m = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + i)), m);
    if (i < n) {
        const __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        m = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(k, x + i)), m);
    }
    double amax = (double)_mm512_reduce_max_ps(m);
    if (amax < 1e-5)
        amax = 1e-5;
    const __m512d s = _mm512_set1_pd(127.0 / amax);
    for (i = 0; i < n; i += 16) {
        const int64_t left = n - i;
        const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        const __m512 v = _mm512_maskz_loadu_ps(k, x + i);
        const __m512d lo = round_away(_mm512_mul_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), s));
        const __m512d hi = round_away(
            _mm512_mul_pd(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))), s));
        const __m512i c = _mm512_inserti64x4(_mm512_castsi256_si512(to_codes(lo)), to_codes(hi), 1);
        _mm_mask_storeu_epi8(q + i, k, _mm512_cvtepi32_epi8(c));
    }
    *scale = (float)(amax / 127.0);
}
