/* AVX2 kernels: ternary weights (I2_S, TQ2_0, TQ1_0) times int8
 * activations, and per-token activation quantization. Contract: ternary.h.
 *
 * Same scheme as ternary_avx512.c with 256-bit vectors and no VNNI:
 *  - Codes c in {0,1,2} (value c-1) are decoded to unsigned bytes;
 *    vpmaddubsw multiplies them with the signed activations into int16
 *    pairs (|pair| <= 2*3*128, no saturation), a few are summed in int16
 *    and vpmaddwd widens to int32. sum((c-1)*q) = sum(c*q) - sum(q), the
 *    activation sums computed once per call into scratch: exact int32.
 *  - Tiles of R weight rows x B batch rows (2x2 for prefill, 4x1 for
 *    decode; AVX2 has only 16 registers) reuse each decoded weight vector B
 *    times and stream the packed weights once per tile.
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

typedef struct {
    const uint8_t *w;
    size_t rb;
    int64_t nblk;
    const int8_t *x;
    int64_t ldx;
    const float *xs;
    float *y;
    int64_t ldy;
    const int32_t *sq; /* sq[blk * sqs + b] */
    int64_t sqs;
    const double *dt;  /* TQ: row scales, 16 lanes per block (lane p: row p % R) */
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

/* lane p = sum of v[p] */
AI __m128i red4(const __m256i *v)
{
    __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

/* ---- weight decoding ---- */

/* I2_S block: c[g] = codes of elements 32g..32g+31 (bits 6-2g of byte j). */
AI void i2s_codes(const uint8_t *q, __m256i lut_a, __m256i lut_b, __m256i *c)
{
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i w = _mm256_loadu_si256((const __m256i *)q);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), m4), lo = _mm256_and_si256(w, m4);
    c[0] = _mm256_shuffle_epi8(lut_a, hi);
    c[1] = _mm256_shuffle_epi8(lut_b, hi);
    c[2] = _mm256_shuffle_epi8(lut_a, lo);
    c[3] = _mm256_shuffle_epi8(lut_b, lo);
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
 * qs[i%32]; 160-239: trit r/16 of qs[32 + r%16]; 240-255: trit r/4 of
 * qh[r%4]. */
AI void tq1_codes(const uint8_t *q, __m256i *c)
{
    __m256i y = _mm256_loadu_si256((const __m256i *)q);
    c[0] = trit(y);
    for (int k = 1; k < 5; k++) {
        y = times3(y);
        c[k] = trit(y);
    }
    const __m256i r = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(q + 32)));
    const __m256i y5 = _mm256_blend_epi32(r, times3(r), 0xF0); /* [r | 3r]   160..191 */
    c[5] = trit(y5);
    const __m256i y6 = times3(times3(y5)); /* [9r | 27r] 192..223 */
    c[6] = trit(y6);
    /* [81r | qh * 1, 3, 9, 27]: 16-bit multiplies, the low byte of each
     * product is right, the high byte when the low byte is zeroed first */
    uint32_t h32;
    memcpy(&h32, q + 48, sizeof h32);
    const __m128i h = _mm_set1_epi32((int)h32), m = _mm_setr_epi16(1, 1, 3, 3, 9, 9, 27, 27);
    const __m128i hlo = _mm_and_si128(_mm_mullo_epi16(h, m), _mm_set1_epi16(0x00FF));
    const __m128i hhi = _mm_mullo_epi16(_mm_and_si128(h, _mm_set1_epi16((short)0xFF00)), m);
    const __m256i y7 = _mm256_inserti128_si256(times3(times3(y6)), _mm_or_si128(hlo, hhi), 1);
    c[7] = trit(y7);
}

/* ---- tiles ---- */

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
    const __m256i lut_a = _mm256_load_si256((const __m256i *)I2S_LUT_A);
    const __m256i lut_b = _mm256_load_si256((const __m256i *)I2S_LUT_B);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc[4];
    const uint8_t *wp[4];
    const int8_t *xp[4];
    for (int p = 0; p < N; p++)
        acc[p] = _mm256_setzero_si256();
    for (int i = 0; i < R; i++)
        wp[i] = j->w + (size_t)(r + i) * j->rb;
    for (int k = 0; k < B; k++)
        xp[k] = j->x + (b + k) * j->ldx;

    for (int64_t b0 = 0; b0 < j->nblk; b0 += I2S_I16_BLOCKS) {
        const int64_t b1 = b0 + I2S_I16_BLOCKS < j->nblk ? b0 + I2S_I16_BLOCKS : j->nblk;
        __m256i a16[4];
        for (int p = 0; p < N; p++)
            a16[p] = _mm256_setzero_si256();
        for (int64_t blk = b0; blk < b1; blk++) {
#pragma GCC unroll 4
            for (int i = 0; i < R; i++) {
                __m256i c[4];
                i2s_codes(wp[i] + blk * I2S_BYTES, lut_a, lut_b, c);
#pragma GCC unroll 4
                for (int g = 0; g < 4; g++)
#pragma GCC unroll 4
                    for (int k = 0; k < B; k++) {
                        const __m256i a = _mm256_loadu_si256((const __m256i *)(xp[k] + blk * 128 + 32 * g));
                        a16[k * R + i] = _mm256_add_epi16(a16[k * R + i], _mm256_maddubs_epi16(c[g], a));
                    }
            }
        }
        for (int p = 0; p < N; p++)
            acc[p] = _mm256_add_epi32(acc[p], _mm256_madd_epi16(a16[p], ones));
    }

    double vals[4];
    for (int p = 0; p < N; p++) {
        double a = 0.0; /* the reference's sum starts at +0.0 */
        a += j->scale * (double)(hsum(acc[p]) - j->sq[b + p / R]);
        vals[p] = a;
    }
    store_tile(j, r, b, R, B, vals);
}

AI void tq_tile(const job *j, int64_t r, int64_t b, const int R, const int B, const int kind)
{
    const int N = R * B;
    const int64_t bbytes = kind == KIND_TQ2 ? TQ2_BYTES : TQ1_BYTES;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256d d4 = _mm256_setzero_pd();
    double dv[4] = {0.0, 0.0, 0.0, 0.0};
    const uint8_t *wp[4];
    const int8_t *xp[4];
    for (int i = 0; i < R; i++)
        wp[i] = j->w + (size_t)(r + i) * j->rb;
    for (int k = 0; k < B; k++)
        xp[k] = j->x + (b + k) * j->ldx;

    for (int64_t blk = 0; blk < j->nblk; blk++) {
        const int64_t wo = blk * bbytes, xo = blk * 256;
        /* one block in int16: 8 products of at most 3*128*2 = 768 */
        __m256i a16[4];
        for (int p = 0; p < N; p++)
            a16[p] = _mm256_setzero_si256();
        if (kind == KIND_TQ2) {
#pragma GCC unroll 2
            for (int hf = 0; hf < 2; hf++)
#pragma GCC unroll 4
                for (int i = 0; i < R; i++) {
                    __m256i c[4];
                    tq2_codes(wp[i] + wo + 32 * hf, c);
#pragma GCC unroll 4
                    for (int g = 0; g < 4; g++)
#pragma GCC unroll 4
                        for (int k = 0; k < B; k++) {
                            const __m256i a =
                                _mm256_loadu_si256((const __m256i *)(xp[k] + xo + 128 * hf + 32 * g));
                            a16[k * R + i] = _mm256_add_epi16(a16[k * R + i], _mm256_maddubs_epi16(c[g], a));
                        }
                }
        } else {
#pragma GCC unroll 4
            for (int i = 0; i < R; i++) {
                __m256i c[8];
                tq1_codes(wp[i] + wo, c);
#pragma GCC unroll 8
                for (int g = 0; g < 8; g++)
#pragma GCC unroll 4
                    for (int k = 0; k < B; k++) {
                        const __m256i a = _mm256_loadu_si256((const __m256i *)(xp[k] + xo + 32 * g));
                        a16[k * R + i] = _mm256_add_epi16(a16[k * R + i], _mm256_maddubs_epi16(c[g], a));
                    }
            }
        }
        __m256i acc[4];
        for (int p = 0; p < N; p++)
            acc[p] = _mm256_madd_epi16(a16[p], ones);

        /* acc += d * (sum(c*q) - sum(q)) in double, block order, no FMA:
         * exactly the reference's arithmetic */
        const int32_t *sqb = j->sq + blk * j->sqs + b;
        const double *dtb = j->dt + blk * 16;
        if (N == 4) {
            const __m128i sq = R == 4   ? _mm_set1_epi32(sqb[0])
                               : R == 2 ? _mm_setr_epi32(sqb[0], sqb[0], sqb[1], sqb[1])
                                        : _mm_loadu_si128((const __m128i *)sqb);
            const __m128i s = _mm_sub_epi32(red4(acc), sq);
            d4 = _mm256_add_pd(d4, _mm256_mul_pd(_mm256_cvtepi32_pd(s), _mm256_loadu_pd(dtb)));
        } else {
            for (int p = 0; p < N; p++)
                dv[p] += dtb[p] * (double)(hsum(acc[p]) - sqb[p / R]);
        }
    }
    if (N == 4)
        _mm256_storeu_pd(dv, d4);
    store_tile(j, r, b, R, B, dv);
}

typedef void (*tile_fn)(const job *j, int64_t r, int64_t b);
typedef struct {
    tile_fn t22, t21, t12, t11, t41; /* RxB */
} tile_set;

#define TILE(kind, R, B)                                                    \
    static void tile_##kind##_##R##x##B(const job *j, int64_t r, int64_t b) \
    {                                                                       \
        if (kind == KIND_I2S)                                               \
            i2s_tile(j, r, b, R, B);                                        \
        else                                                                \
            tq_tile(j, r, b, R, B, kind);                                   \
    }
#define TILES(kind) TILE(kind, 2, 2) TILE(kind, 2, 1) TILE(kind, 1, 2) TILE(kind, 1, 1) TILE(kind, 4, 1)
TILES(KIND_I2S)
TILES(KIND_TQ2)
TILES(KIND_TQ1)
#define SET(kind) \
    {tile_##kind##_2x2, tile_##kind##_2x1, tile_##kind##_1x2, tile_##kind##_1x1, tile_##kind##_4x1}
static const tile_set TILE_SETS[3] = {SET(KIND_I2S), SET(KIND_TQ2), SET(KIND_TQ1)};

/* ---- driver ---- */

static void fill_scales(double *dt, const bitnet_weights *w, int64_t r, int R, int64_t nblk, int64_t bbytes,
                        int64_t doff)
{
    for (int i = 0; i < R; i++) {
        const uint8_t *row = (const uint8_t *)w->data + (size_t)(r + i) * w->row_bytes + doff;
        for (int64_t blk = 0; blk < nblk; blk++) {
            const uint8_t *d = row + blk * bbytes;
            const double v = (double)_cvtsh_ss((unsigned short)(d[0] | d[1] << 8));
            for (int p = i; p < 16; p += R)
                dt[blk * 16 + p] = v;
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

#define CHUNK_ACT_BYTES (384 * 1024)

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

    const int64_t nblk = n / bs;
    uint8_t *base = align64(scratch);
    const int64_t avail = 4 * n + 1024 - (int64_t)(base - (uint8_t *)scratch);
    double *dt = (double *)base;
    const int64_t dt_bytes = kind == KIND_I2S ? 0 : nblk * 16 * (int64_t)sizeof(double);
    int32_t *sq = (int32_t *)(base + dt_bytes);
    const int64_t sq_blocks = kind == KIND_I2S ? 1 : nblk;
    int64_t nbc = (avail - dt_bytes) / (4 * sq_blocks);
    int64_t cache_rows = CHUNK_ACT_BYTES / n;
    if (cache_rows < 16)
        cache_rows = 16;
    if (nbc > cache_rows)
        nbc = cache_rows & ~(int64_t)1;

    const tile_set *ts = &TILE_SETS[kind];
    const bool tq = kind != KIND_I2S;
    for (int64_t c0 = 0; c0 < n_batch; c0 += nbc) {
        const int64_t nb = n_batch - c0 < nbc ? n_batch - c0 : nbc;
        job j = {
            .w = w->data, .rb = w->row_bytes, .nblk = nblk, .x = xq + c0 * ldx, .ldx = ldx,
            .xs = x_scale + c0, .y = y + c0 * ldy, .ldy = ldy, .sq = sq, .sqs = nb, .dt = dt, .scale = scale,
        };
        act_sums(j.x, ldx, nb, n, tq ? bs : n, sq, nb);
        int64_t r = r0;
        if (nb >= 2) {
            for (; r + 2 <= r1; r += 2) {
                if (tq)
                    fill_scales(dt, w, r, 2, nblk, bbytes, doff);
                int64_t b = 0;
                for (; b + 2 <= nb; b += 2)
                    ts->t22(&j, r, b);
                for (; b < nb; b++)
                    ts->t21(&j, r, b);
            }
        } else {
            for (; r + 4 <= r1; r += 4) {
                if (tq)
                    fill_scales(dt, w, r, 4, nblk, bbytes, doff);
                for (int64_t b = 0; b < nb; b++)
                    ts->t41(&j, r, b);
            }
        }
        for (; r < r1; r++) {
            if (tq)
                fill_scales(dt, w, r, 1, nblk, bbytes, doff);
            int64_t b = 0;
            for (; b + 2 <= nb; b += 2)
                ts->t12(&j, r, b);
            for (; b < nb; b++)
                ts->t11(&j, r, b);
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

void bn_avx2_quantize_i8(const float *x, int64_t n, int8_t *q, float *scale)
{
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    __m256 m = _mm256_setzero_ps();
    int64_t i = 0;
    /* max(|x|, m) returns m when x is NaN, as fmax ignores NaN */
    for (; i + 8 <= n; i += 8)
        m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask), m);
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
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m128i lo = to_codes(round_away(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), s)));
        const __m128i hi = to_codes(round_away(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), s)));
        const __m128i w16 = _mm_packs_epi32(lo, hi); /* in range: packing is exact */
        _mm_storel_epi64((__m128i *)(q + i), _mm_packs_epi16(w16, w16));
    }
    for (; i < n; i++) {
        double v = round((double)x[i] * sd);
        v = v > 127.0 ? 127.0 : v < -128.0 ? -128.0 : v;
        q[i] = (int8_t)(v == v ? v : 0.0);
    }
    *scale = (float)(amax / 127.0);
}
