/* AVX2 kernels: ternary weights (I2_S, TQ2_0, TQ1_0) times int8
 * activations, and per-token activation quantization. Contract: ternary.h.
 *
 * Same scheme as ternary_avx512.c with 256-bit vectors and no VNNI:
 *  - Codes c in {0,1,2} (value c-1) are decoded to unsigned bytes;
 *    vpmaddubsw multiplies them with the signed activations into int16
 *    pairs (|pair| <= 2*3*128, no saturation), up to 32 of those are summed
 *    in int16 and vpmaddwd widens to int32. sum((c-1)*q) = sum(c*q) -
 *    sum(q), the activation sums computed once per call into scratch:
 *    exact int32.
 *  - Tiles of R weight rows x B batch rows: 2x2 for prefill, 4x1 for decode
 *    (AVX2 has 16 registers). Each decoded weight vector is used B times;
 *    a 32-byte I2_S block decodes to its 4 x 32 elements in natural order.
 *  - The float part is the reference's (double, block order), so results
 *    are bit-identical to it.
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

/* I2_S blocks summed in int16 before widening: 8 blocks = 32 vpmaddubsw of
 * at most 2*2*128 = 512 each, 16384 < 32767. */
#define I2S_I16_BLOCKS 8
/* Rows per row block (multiple of 4); TQ's block scales take 2n bytes. */
#define ROW_BLOCK_I2S 128
#define ROW_BLOCK_TQ 64
#define PF_DIST 1024
#define MAXN 4

typedef struct {
    const uint8_t *w; /* weight rows, rb bytes apart */
    size_t rb;
    int64_t nblk;
    const int8_t *x; /* activations of the chunk, batch row b at x + b * ldx */
    int64_t ldx;
    const float *xs;
    float *y;
    int64_t ldy;
    const int32_t *sq; /* activation sums, sq[blk * sqs + b] (I2_S: one block) */
    int64_t sqs;
    const double *dt; /* TQ: row scales of the row block, dt[blk * dts + row - dr0] */
    int64_t dts, dr0;
    double scale;
} job;

/* I2_S nibble -> code of its upper (A) or lower (B) two bits; 3 reads as 1. */
static const uint8_t I2S_LUT_A[32] __attribute__((aligned(32))) = {
    0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1};
static const uint8_t I2S_LUT_B[32] __attribute__((aligned(32))) = {
    0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1};

static inline uint8_t *align64(void *p)
{
    return (uint8_t *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

AI int32_t hsum(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

/* int16 accumulators -> int32 sums, lane p = sum of v<p> */
AI __m128i red4w(__m256i v0, __m256i v1, __m256i v2, __m256i v3)
{
    const __m256i ones = _mm256_set1_epi16(1);
    v0 = _mm256_madd_epi16(v0, ones), v1 = _mm256_madd_epi16(v1, ones);
    v2 = _mm256_madd_epi16(v2, ones), v3 = _mm256_madd_epi16(v3, ones);
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(v0, v1), _mm256_hadd_epi32(v2, v3));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

/* acc += c * x in int16. The saturating add never saturates here (the
 * bounds above); it is used because GCC does not reassociate it: a plain
 * add gets rebalanced into a tree that needs more than 16 registers. */
#define MADD(acc, c, xp) \
    (acc) = _mm256_adds_epi16((acc), _mm256_maddubs_epi16((c), _mm256_loadu_si256((const __m256i *)(xp))))

/* ---- weight decoding ---- */

/* I2_S block: c[g] = codes of elements 32g..32g+31 (bits 6-2g of byte j). */
AI void i2s_codes(const uint8_t *q, __m256i *c)
{
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i la = _mm256_load_si256((const __m256i *)I2S_LUT_A);
    const __m256i lb = _mm256_load_si256((const __m256i *)I2S_LUT_B);
    const __m256i w = _mm256_loadu_si256((const __m256i *)q);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), m4), lo = _mm256_and_si256(w, m4);
    c[0] = _mm256_shuffle_epi8(la, hi);
    c[1] = _mm256_shuffle_epi8(lb, hi);
    c[2] = _mm256_shuffle_epi8(la, lo);
    c[3] = _mm256_shuffle_epi8(lb, lo);
}

/* TQ2_0 half block (32 bytes): c[g] = codes of elements 32g.. (bits 2g). */
AI void tq2_codes(const uint8_t *q, __m256i *c)
{
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m256i w = _mm256_loadu_si256((const __m256i *)q);
    c[0] = _mm256_and_si256(w, m3);
    c[1] = _mm256_and_si256(_mm256_srli_epi16(w, 2), m3);
    c[2] = _mm256_and_si256(_mm256_srli_epi16(w, 4), m3);
    c[3] = _mm256_and_si256(_mm256_srli_epi16(w, 6), m3);
}

/* floor(3y/256) for bytes y: (y > 85) + (y > 170), unsigned via the sign flip. */
AI __m256i trit(__m256i y)
{
    const __m256i ys = _mm256_xor_si256(y, _mm256_set1_epi8((char)0x80));
    const __m256i g1 = _mm256_cmpgt_epi8(ys, _mm256_set1_epi8(85 - 128));
    const __m256i g2 = _mm256_cmpgt_epi8(ys, _mm256_set1_epi8(170 - 128));
    return _mm256_sub_epi8(_mm256_sub_epi8(_mm256_setzero_si256(), g1), g2);
}

AI __m256i times3(__m256i y)
{
    return _mm256_add_epi8(_mm256_add_epi8(y, y), y); /* bytes wrap mod 256 */
}

/* TQ1_0 block: c[g] = codes of elements 32g..32g+31. Trit k of a byte is
 * floor(3y/256), y = byte * 3^k mod 256. Elements 0-159: trit i/32 of
 * qs[i%32] (c[0..4]); 160-239: trit r/16 of qs[32 + r%16]; 240-255: trit
 * r/4 of qh[r%4] (c[5..7]). */
AI void tq1_codes_a(const uint8_t *q, __m256i *c)
{
    __m256i y = _mm256_loadu_si256((const __m256i *)q);
    c[0] = trit(y);
    for (int k = 1; k < 5; k++) {
        y = times3(y);
        c[k] = trit(y);
    }
}

AI void tq1_codes_b(const uint8_t *q, __m256i *c)
{
    const __m256i r = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(q + 32)));
    const __m256i y5 = _mm256_blend_epi32(r, times3(r), 0xF0); /* [r | 3r]   160..191 */
    c[0] = trit(y5);
    const __m256i y6 = times3(times3(y5)); /* [9r | 27r] 192..223 */
    c[1] = trit(y6);
    /* [81r | qh * 1, 3, 9, 27]: 16-bit multiplies, the low byte of each
     * product is right, the high byte when the low byte is zeroed first */
    uint32_t h32;
    memcpy(&h32, q + 48, sizeof h32);
    const __m128i h = _mm_set1_epi32((int)h32), m = _mm_setr_epi16(1, 1, 3, 3, 9, 9, 27, 27);
    const __m128i hlo = _mm_and_si128(_mm_mullo_epi16(h, m), _mm_set1_epi16(0x00FF));
    const __m128i hhi = _mm_mullo_epi16(_mm_and_si128(h, _mm_set1_epi16((short)0xFF00)), m);
    c[2] = trit(_mm256_inserti128_si256(times3(times3(y6)), _mm_or_si128(hlo, hhi), 1));
}

/* ---- finishing a tile ---- */

AI void store_tile(const job *j, int64_t r, int64_t b, int R, int B, const double *vals)
{
    for (int p = 0; p < R * B; p++) {
        const int64_t bb = b + p / R;
        j->y[bb * j->ldy + r + p % R] = (float)(vals[p] * (double)j->xs[bb]);
    }
}

/* I2_S: row sums s[p] (p = k * R + i) scaled once, as the reference's
 * per-block sum would be (every partial sum scale * k is exact). */
AI void i2s_finish(const job *j, int64_t r, int64_t b, int R, int B, const int32_t *s)
{
    double vals[MAXN];
    for (int p = 0; p < R * B; p++) {
        double a = 0.0; /* the reference's sum starts at +0.0 */
        a += j->scale * (double)(s[p] - j->sq[b + p / R]);
        vals[p] = a;
    }
    store_tile(j, r, b, R, B, vals);
}

/* TQ: acc += d * (sum(c*q) - sum(q)) for the 4 lanes of a 4x1 or 2x2 tile,
 * in double and block order (multiply, then add: no FMA). */
AI __m256d tq_scale4(const job *j, int64_t r, int64_t b, int64_t blk, const int R, __m128i s, __m256d dacc)
{
    const int32_t *sq = j->sq + blk * j->sqs + b;
    const double *d = j->dt + blk * j->dts + (r - j->dr0);
    __m256d dv;
    if (R == 4) {
        s = _mm_sub_epi32(s, _mm_set1_epi32(sq[0]));
        dv = _mm256_loadu_pd(d);
    } else { /* 2x2: lanes (r, b), (r+1, b), (r, b+1), (r+1, b+1) */
        s = _mm_sub_epi32(s, _mm_setr_epi32(sq[0], sq[0], sq[1], sq[1]));
        dv = _mm256_broadcast_pd((const __m128d *)d);
    }
    return _mm256_add_pd(dacc, _mm256_mul_pd(_mm256_cvtepi32_pd(s), dv));
}

/* ---- the main tiles: 4x1 (decode) and 2x2 (prefill), 4 named int16
 * accumulators a<p>, p = k * R + i ---- */

#define MAC4(acc, xp)           \
    do {                        \
        MADD(acc, c[0], (xp));      \
        MADD(acc, c[1], (xp) + 32); \
        MADD(acc, c[2], (xp) + 64); \
        MADD(acc, c[3], (xp) + 96); \
    } while (0)

AI void i2s_main(const job *j, int64_t r, int64_t b, const int R)
{
    const uint8_t *w0 = j->w + (size_t)r * j->rb;
    const size_t rb = j->rb;
    const int8_t *x0 = j->x + b * j->ldx, *x1 = x0 + j->ldx;
    __m128i tot = _mm_setzero_si128();
    for (int64_t b0 = 0; b0 < j->nblk; b0 += I2S_I16_BLOCKS) {
        const int64_t b1 = b0 + I2S_I16_BLOCKS < j->nblk ? b0 + I2S_I16_BLOCKS : j->nblk;
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t blk = b0; blk < b1; blk++) {
            const uint8_t *p = w0 + I2S_BYTES * blk;
            const int64_t xo = 128 * blk;
            __m256i c[4];
            if (R == 4) {
                if (!(blk & 1))
                    for (int i = 0; i < 4; i++)
                        _mm_prefetch((const char *)(p + i * rb + PF_DIST), _MM_HINT_T0);
                i2s_codes(p, c);
                MAC4(a0, x0 + xo);
                i2s_codes(p + rb, c);
                MAC4(a1, x0 + xo);
                i2s_codes(p + 2 * rb, c);
                MAC4(a2, x0 + xo);
                i2s_codes(p + 3 * rb, c);
                MAC4(a3, x0 + xo);
            } else {
                i2s_codes(p, c);
                MAC4(a0, x0 + xo);
                MAC4(a2, x1 + xo);
                i2s_codes(p + rb, c);
                MAC4(a1, x0 + xo);
                MAC4(a3, x1 + xo);
            }
        }
        tot = _mm_add_epi32(tot, red4w(a0, a1, a2, a3));
    }
    int32_t s[4];
    _mm_storeu_si128((__m128i *)s, tot);
    i2s_finish(j, r, b, R, 4 / R, s);
}

AI void tq_main(const job *j, int64_t r, int64_t b, const int R, const int kind)
{
    const uint8_t *w0 = j->w + (size_t)r * j->rb;
    const size_t rb = j->rb, bbytes = kind == KIND_TQ2 ? TQ2_BYTES : TQ1_BYTES;
    const int8_t *x0 = j->x + b * j->ldx, *x1 = x0 + j->ldx;
    __m256d dacc = _mm256_setzero_pd();
    for (int64_t blk = 0; blk < j->nblk; blk++) {
        const uint8_t *p = w0 + bbytes * blk;
        const int64_t xo = 256 * blk;
        /* one block in int16: 8 products of at most 3*128*2 = 768 */
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
        __m256i c[5];
        if (R == 4 && !(blk & 1))
            for (int i = 0; i < 4; i++)
                _mm_prefetch((const char *)(p + i * rb + PF_DIST), _MM_HINT_T0);
        if (kind == KIND_TQ2) {
            /* qs[0..32) holds elements 0..127, qs[32..64) 128..255 */
            for (int h = 0; h < 2; h++) {
                const uint8_t *q = p + 32 * h;
                const int8_t *y0 = x0 + xo + 128 * h, *y1 = x1 + xo + 128 * h;
                tq2_codes(q, c);
                MAC4(a0, y0);
                if (R == 2) {
                    MAC4(a2, y1);
                    tq2_codes(q + rb, c);
                    MAC4(a1, y0);
                    MAC4(a3, y1);
                } else {
                    tq2_codes(q + rb, c);
                    MAC4(a1, y0);
                    tq2_codes(q + 2 * rb, c);
                    MAC4(a2, y0);
                    tq2_codes(q + 3 * rb, c);
                    MAC4(a3, y0);
                }
            }
        } else {
            /* TQ1_0: all 8 code vectors of a row, then plain int16 adds,
             * which GCC may rebalance: here that measures faster */
            __m256i acc[4] = {a0, a1, a2, a3};
#pragma GCC unroll 4
            for (int i = 0; i < R; i++) {
                __m256i cc[8];
                tq1_codes_a(p + i * rb, cc);
                tq1_codes_b(p + i * rb, cc + 5);
#pragma GCC unroll 8
                for (int g = 0; g < 8; g++)
#pragma GCC unroll 2
                    for (int k = 0; k < 4 / R; k++)
                        acc[k * R + i] = _mm256_add_epi16(
                            acc[k * R + i],
                            _mm256_maddubs_epi16(cc[g], _mm256_loadu_si256((const __m256i *)((k ? x1 : x0) + xo + 32 * g))));
            }
            a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
        }
        dacc = tq_scale4(j, r, b, blk, R, red4w(a0, a1, a2, a3), dacc);
    }
    double vals[4];
    _mm256_storeu_pd(vals, dacc);
    store_tile(j, r, b, R, 4 / R, vals);
}

/* ---- the edges: any R x B with R * B <= 4 ---- */

AI void edge_tile(const job *j, int64_t r, int64_t b, const int R, const int B, const int kind)
{
    const int N = R * B;
    const int64_t bbytes = kind == KIND_TQ2 ? TQ2_BYTES : kind == KIND_TQ1 ? TQ1_BYTES : I2S_BYTES;
    const int64_t bs = kind == KIND_I2S ? 128 : 256;
    int64_t isum[MAXN] = {0};
    double dv[MAXN] = {0.0, 0.0, 0.0, 0.0};
    for (int64_t blk = 0; blk < j->nblk; blk++) {
        __m256i acc[MAXN];
        for (int p = 0; p < N; p++)
            acc[p] = _mm256_setzero_si256();
        for (int i = 0; i < R; i++) {
            const uint8_t *q = j->w + (size_t)(r + i) * j->rb + blk * bbytes;
            __m256i c[8];
            int nv = 8;
            if (kind == KIND_I2S) {
                i2s_codes(q, c);
                nv = 4;
            } else if (kind == KIND_TQ2) {
                tq2_codes(q, c);
                tq2_codes(q + 32, c + 4);
            } else {
                tq1_codes_a(q, c);
                tq1_codes_b(q, c + 5);
            }
            for (int k = 0; k < B; k++)
                for (int g = 0; g < nv; g++)
                    MADD(acc[k * R + i], c[g], j->x + (b + k) * j->ldx + blk * bs + 32 * g);
        }
        for (int p = 0; p < N; p++) {
            const int32_t s = hsum(_mm256_madd_epi16(acc[p], _mm256_set1_epi16(1)));
            if (kind == KIND_I2S)
                isum[p] += s;
            else
                dv[p] += j->dt[blk * j->dts + (r - j->dr0) + p % R] *
                         (double)(s - j->sq[blk * j->sqs + b + p / R]);
        }
    }
    if (kind == KIND_I2S) {
        int32_t s[MAXN];
        for (int p = 0; p < N; p++)
            s[p] = (int32_t)isum[p];
        i2s_finish(j, r, b, R, B, s);
    } else {
        store_tile(j, r, b, R, B, dv);
    }
}

typedef void (*tile_fn)(const job *j, int64_t r, int64_t b);
typedef struct {
    tile_fn pf, pf_b1, pf_r1, t11, dec; /* 2x2, 2x1, 1x2, 1x1; 4x1 */
} tile_set;

#define MAIN(kind, name, R)                                  \
    static void name(const job *j, int64_t r, int64_t b)     \
    {                                                        \
        if (kind == KIND_I2S)                                \
            i2s_main(j, r, b, R);                            \
        else                                                 \
            tq_main(j, r, b, R, kind);                       \
    }
#define EDGE(kind, name, R, B)                               \
    static void name(const job *j, int64_t r, int64_t b)     \
    {                                                        \
        edge_tile(j, r, b, R, B, kind);                      \
    }
MAIN(KIND_I2S, i2s_2x2, 2)
MAIN(KIND_I2S, i2s_4x1, 4)
MAIN(KIND_TQ2, tq2_2x2, 2)
MAIN(KIND_TQ2, tq2_4x1, 4)
MAIN(KIND_TQ1, tq1_2x2, 2)
MAIN(KIND_TQ1, tq1_4x1, 4)
EDGE(KIND_I2S, i2s_2x1, 2, 1)
EDGE(KIND_I2S, i2s_1x2, 1, 2)
EDGE(KIND_I2S, i2s_1x1, 1, 1)
EDGE(KIND_TQ2, tq2_2x1, 2, 1)
EDGE(KIND_TQ2, tq2_1x2, 1, 2)
EDGE(KIND_TQ2, tq2_1x1, 1, 1)
EDGE(KIND_TQ1, tq1_2x1, 2, 1)
EDGE(KIND_TQ1, tq1_1x2, 1, 2)
EDGE(KIND_TQ1, tq1_1x1, 1, 1)

static const tile_set TILE_SETS[3] = {
    {i2s_2x2, i2s_2x1, i2s_1x2, i2s_1x1, i2s_4x1},
    {tq2_2x2, tq2_2x1, tq2_1x2, tq2_1x1, tq2_4x1},
    {tq1_2x2, tq1_2x1, tq1_1x2, tq1_1x1, tq1_4x1},
};

/* ---- driver ---- */

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

static void act_sums(const int8_t *x, int64_t ldx, int64_t nb, int64_t n, int64_t bs, int32_t *sq, int64_t sqs)
{
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; b++) {
        const int8_t *xb = x + b * ldx;
        for (int64_t blk = 0; blk < n / bs; blk++) {
            __m256i acc = _mm256_setzero_si256();
            for (int64_t k = blk * bs; k < (blk + 1) * bs; k += 32) {
                const __m256i p = _mm256_maddubs_epi16(ones8, _mm256_loadu_si256((const __m256i *)(xb + k)));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones16));
            }
            sq[blk * sqs + b] = hsum(acc);
        }
    }
}

bool bn_avx2_matmul_i8(const bitnet_weights *w, const int8_t *xq, int64_t ldx, const float *x_scale,
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

    /* scratch, 4n + 1024 bytes: TQ [block scales of a row block (2n)][sums];
     * I2_S [sums] */
    const int64_t nblk = n / bs;
    uint8_t *base = align64(scratch);
    const int64_t avail = 4 * n + 1024 - (int64_t)(base - (uint8_t *)scratch);
    const bool tq = kind != KIND_I2S;
    const int64_t rb_rows = tq ? ROW_BLOCK_TQ : ROW_BLOCK_I2S;
    const int64_t head = tq ? nblk * rb_rows * (int64_t)sizeof(double) : 0;
    double *dt = (double *)base;
    int32_t *sq = (int32_t *)(base + head);
    const int64_t nbc = (avail - head) / (4 * (tq ? nblk : 1));

    const tile_set *ts = &TILE_SETS[kind];
    for (int64_t c0 = 0; c0 < n_batch; c0 += nbc) {
        const int64_t nb = n_batch - c0 < nbc ? n_batch - c0 : nbc;
        const int8_t *xc = xq + c0 * ldx;
        job j = {
            .w = w->data, .rb = w->row_bytes, .nblk = nblk, .x = xc, .ldx = ldx, .xs = x_scale + c0,
            .y = y + c0 * ldy, .ldy = ldy, .sq = sq, .sqs = nb, .dt = dt, .dts = rb_rows, .scale = scale,
        };
        act_sums(xc, ldx, nb, n, tq ? bs : n, sq, nb);
        /* row blocks that stay in L2 while the batch rows pass over them */
        for (int64_t rb0 = r0; rb0 < r1; rb0 += rb_rows) {
            const int64_t rb1 = r1 - rb0 < rb_rows ? r1 : rb0 + rb_rows;
            if (tq)
                fill_scales(dt, rb_rows, w, rb0, rb1, nblk, bbytes, doff);
            j.dr0 = rb0;
            int64_t r, b = 0;
            if (nb == 1) {
                for (r = rb0; r + 4 <= rb1; r += 4)
                    ts->dec(&j, r, 0);
                for (; r < rb1; r++)
                    ts->t11(&j, r, 0);
                continue;
            }
            for (; b + 2 <= nb; b += 2) {
                for (r = rb0; r + 2 <= rb1; r += 2)
                    ts->pf(&j, r, b);
                for (; r < rb1; r++)
                    ts->pf_r1(&j, r, b);
            }
            for (; b < nb; b++) {
                for (r = rb0; r + 2 <= rb1; r += 2)
                    ts->pf_b1(&j, r, b);
                for (; r < rb1; r++)
                    ts->t11(&j, r, b);
            }
        }
    }
    return true;
}

/* ---- activation quantization ---- */

/* round half away from zero: trunc, then step away when the dropped
 * fraction is at least one half (v - trunc(v) is exact) */
AI __m256d round_away(__m256d v)
{
    const __m256d sign = _mm256_set1_pd(-0.0);
    const __m256d t = _mm256_round_pd(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256d f = _mm256_andnot_pd(sign, _mm256_sub_pd(v, t));
    const __m256d up = _mm256_cmp_pd(f, _mm256_set1_pd(0.5), _CMP_GE_OQ);
    const __m256d one = _mm256_or_pd(_mm256_and_pd(v, sign), _mm256_set1_pd(1.0));
    return _mm256_add_pd(t, _mm256_and_pd(up, one));
}

/* 4 doubles -> 4 int32 codes: clamp (max/min return their second operand
 * for NaN, so NaN survives), then NaN -> 0. */
AI __m128i to_codes(__m256d v)
{
    v = _mm256_min_pd(_mm256_set1_pd(127.0), _mm256_max_pd(_mm256_set1_pd(-128.0), v));
    v = _mm256_and_pd(v, _mm256_cmp_pd(v, v, _CMP_ORD_Q));
    return _mm256_cvttpd_epi32(v);
}

/* 8 codes of v in double, bit for bit the reference. */
AI __m128i codes8_double(__m256 v, __m256d s)
{
    const __m128i lo = to_codes(round_away(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), s)));
    const __m128i hi = to_codes(round_away(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), s)));
    return _mm_packs_epi32(lo, hi); /* in range: packing is exact */
}

void bn_avx2_quantize_i8(const float *x, int64_t n, int8_t *q, float *scale)
{
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    __m256 m = _mm256_setzero_ps(), m1 = _mm256_setzero_ps();
    int64_t i = 0;
    /* max(|x|, m) returns m when x is NaN, as fmax ignores NaN */
    for (; i + 16 <= n; i += 16) {
        m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask), m);
        m1 = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i + 8), abs_mask), m1);
    }
    for (; i + 8 <= n; i += 8)
        m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask), m);
    m = _mm256_max_ps(m, m1);
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ps(m4, _mm_shuffle_ps(m4, m4, 0x55));
    double amax = (double)_mm_cvtss_f32(m4);
    for (; i < n; i++)
        amax = fmax(amax, fabs((double)x[i]));
    if (amax < 1e-5)
        amax = 1e-5;
    const double sd = 127.0 / amax;
    const __m256d s = _mm256_set1_pd(sd);
    /* In float, x * (float)sd is within 127 * 2^-23 of the reference's
     * double product, so it rounds to the same integer unless it lies within
     * that of a tie: vectors with a product that near a tie (or NaN, from NaN
     * or inf input) take the double path. */
    const __m256 sf = _mm256_set1_ps((float)sd), near_tie = _mm256_set1_ps(0.5f - 0x1p-12f);
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 y = _mm256_mul_ps(v, sf);
        const __m256 r = _mm256_round_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __m256 dist = _mm256_and_ps(_mm256_sub_ps(y, r), abs_mask);
        __m128i w16;
        if (_mm256_movemask_ps(_mm256_cmp_ps(dist, near_tie, _CMP_NLT_UQ)))
            w16 = codes8_double(v, s);
        else {
            const __m256i c = _mm256_cvtps_epi32(r);
            w16 = _mm_packs_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
        }
        _mm_storel_epi64((__m128i *)(q + i), _mm_packs_epi16(w16, w16));
    }
    for (; i < n; i++) {
        double v = round((double)x[i] * sd);
        v = v > 127.0 ? 127.0 : v < -128.0 ? -128.0 : v;
        q[i] = (int8_t)(v == v ? v : 0.0);
    }
    *scale = (float)(amax / 127.0);
}
