/* AVX2 (+FMA, F16C) matmul_f32.
 *
 * Float weights (F32/F16/BF16): tiles of rows x batch rows; each (row,
 * batch row) pair owns two float32 accumulator vectors fed in a fixed
 * order and reduced in a fixed order, so a row's value never depends on the
 * tile shape or on how rows were split. One batch row streams the weights
 * row by row; several share 256 KiB row blocks kept in L2.
 *
 * Quantized weights: each activation row is quantized into `scratch` at
 * two int8 levels (x ~ d q1 + (d/256) q2 per block: int8 alone moves the
 * logits of small models past the fixtures' tolerance), stored as two
 * activation rows of int8 blocks + float scales in natural order. One
 * weight row at a time is unpacked once and dotted with both levels (more
 * rows only spill with 16 registers) with maddubs (unsigned x signed
 * bytes -> int16 pairs):
 *  - legacy types: signed weights via the sign trick
 *    maddubs(|w|, sign(y, w)), then madd with ones, one float FMA per block
 *    (Q4_1/Q5_1: unsigned codes, the min term from activation sums);
 *  - K-quants: unsigned codes, maddubs, then madd with the 16-bit sub-block
 *    scales, one float FMA per super-block; code offsets and mins come from
 *    per-16/32 activation sums. */
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/x86/quant_simd.h"
#include "quant/blocks.h"

#define INLINE static inline __attribute__((always_inline))

INLINE float load_half(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, sizeof h);
    return _cvtsh_ss(h);
}

INLINE uint32_t load_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static size_t round64(size_t v)
{
    return (v + 63) & ~(size_t)63;
}

INLINE float hsum128(__m128 v)
{
    v = _mm_add_ps(v, _mm_movehl_ps(v, v));
    return _mm_cvtss_f32(_mm_add_ss(v, _mm_movehdup_ps(v)));
}

INLINE float hsum256(__m256 v)
{
    return hsum128(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)));
}

INLINE int hsum_i32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* ======================= float weights ======================= */

enum { FT_F32, FT_F16, FT_BF16 };

INLINE __m256 load_w8(int ft, const uint8_t *p)
{
    if (ft == FT_F32)
        return _mm256_loadu_ps((const float *)p);
    const __m128i h = _mm_loadu_si128((const __m128i *)p);
    if (ft == FT_F16)
        return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* 8 weights from p, the first `cnt` (< 8 allowed) only, rest 0. */
INLINE __m256 load_w8_part(int ft, const uint8_t *p, int64_t cnt)
{
    const int esz = ft == FT_F32 ? 4 : 2;
    if (cnt >= 8)
        return load_w8(ft, p);
    uint8_t t[32] = {0};
    memcpy(t, p, (size_t)cnt * esz);
    return load_w8(ft, t);
}

INLINE __m256 load_x8_part(const float *p, int64_t cnt)
{
    if (cnt >= 8)
        return _mm256_loadu_ps(p);
    float t[8] = {0};
    memcpy(t, p, sizeof(float) * (size_t)cnt);
    return _mm256_loadu_ps(t);
}

/* R weight rows x B batch rows; y points at (row 0, batch 0) of the tile.
 * Each (row, batch row) pair owns 2 accumulators, chunk c of 8 going to
 * acc[c % 2] (a zero-padded tail chunk included), then acc[0] + acc[1]:
 * the same sequence whatever the tile shape. */
INLINE void float_tile(int ft, int R, int B, const uint8_t *w, size_t rb, const float *x, int64_t ldx, int64_t n,
                       float *y, int64_t ldy)
{
    const int esz = ft == FT_F32 ? 4 : 2;
    __m256 acc[3][2][2];
    for (int i = 0; i < R; i++)
        for (int b = 0; b < B; b++)
            acc[i][b][0] = acc[i][b][1] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= n; k += 16)
        for (int j = 0; j < 2; j++) {
            __m256 xv[2];
            for (int b = 0; b < B; b++)
                xv[b] = _mm256_loadu_ps(x + b * ldx + k + 8 * j);
            for (int i = 0; i < R; i++) {
                const __m256 wv = load_w8(ft, w + i * rb + (size_t)(k + 8 * j) * esz);
                for (int b = 0; b < B; b++)
                    acc[i][b][j] = _mm256_fmadd_ps(wv, xv[b], acc[i][b][j]);
            }
        }
    /* under 16 left: chunk 0 and maybe chunk 1, constant indices so the
     * accumulators stay in registers */
    for (int j = 0; j < 2; j++, k += 8) {
        if (k >= n)
            break;
        __m256 xv[2];
        for (int b = 0; b < B; b++)
            xv[b] = load_x8_part(x + b * ldx + k, n - k);
        for (int i = 0; i < R; i++) {
            const __m256 wv = load_w8_part(ft, w + i * rb + (size_t)k * esz, n - k);
            for (int b = 0; b < B; b++)
                acc[i][b][j] = _mm256_fmadd_ps(wv, xv[b], acc[i][b][j]);
        }
    }
    for (int i = 0; i < R; i++)
        for (int b = 0; b < B; b++)
            y[b * ldy + i] = hsum256(_mm256_add_ps(acc[i][b][0], acc[i][b][1]));
}

/* Weight rows per cache block when batch rows share them: ~256 KiB, so a
 * block stays in L2 while every batch row passes over it. */
static int64_t rows_per_block(size_t row_bytes, size_t kib)
{
    const int64_t r = (int64_t)((kib << 10) / (row_bytes ? row_bytes : 1));
    return r < 16 ? 16 : r;
}

/* Rows per pass of the quantized kernels. With several batch rows (each
 * quantized in turn into the scratch) and rows too many to stay in the
 * last-level cache (8 MiB), walk them in 512 KiB blocks that stay in L2 and
 * quantize each batch row again per block: far cheaper than streaming the
 * matrix from DRAM once per batch row. */
static int64_t quant_row_block(const bitnet_weights *w, bool several, int64_t r0, int64_t r1)
{
    if (!several || (uint64_t)(r1 - r0) * w->row_bytes <= ((uint64_t)8 << 20))
        return r1 - r0;
    return rows_per_block(w->row_bytes, 512);
}

/* Rows [q0, q1) against B batch rows: 3-row tiles, then single rows. */
#define FLOAT_ROWS(ft, B)                                                                          \
    do {                                                                                           \
        int64_t r = q0;                                                                            \
        for (; r + 3 <= q1; r += 3)                                                                \
            float_tile(ft, 3, B, wd + (size_t)r * rb, rb, xb, ldx, n, yb + r, ldy);                \
        for (; r < q1; r++)                                                                        \
            float_tile(ft, 1, B, wd + (size_t)r * rb, rb, xb, ldx, n, yb + r, ldy);                \
    } while (0)

INLINE void matmul_float(int ft, const bitnet_weights *w, const float *x, int64_t ldx, int64_t n_batch, float *y,
                         int64_t ldy, int64_t r0, int64_t r1)
{
    const uint8_t *wd = w->data;
    const size_t rb = w->row_bytes;
    const int64_t n = w->n;
    if (n_batch == 1) { /* one sequential weight stream: the hardware prefetch likes it best */
        for (int64_t r = r0; r < r1; r++)
            float_tile(ft, 1, 1, wd + (size_t)r * rb, rb, x, ldx, n, y + r, ldy);
        return;
    }
    const int64_t blk = rows_per_block(rb, 256);
    for (int64_t q0 = r0; q0 < r1; q0 += blk) {
        const int64_t q1 = r1 - q0 < blk ? r1 : q0 + blk;
        for (int64_t b = 0; b < n_batch; b += 2) {
            const float *xb = x + b * ldx;
            float *yb = y + b * ldy;
            if (n_batch - b >= 2)
                FLOAT_ROWS(ft, 2);
            else
                FLOAT_ROWS(ft, 1);
        }
    }
}

static void matmul_f32w(const bitnet_weights *w, const float *x, int64_t ldx, int64_t nb, float *y, int64_t ldy,
                        int64_t r0, int64_t r1)
{
    matmul_float(FT_F32, w, x, ldx, nb, y, ldy, r0, r1);
}

static void matmul_f16w(const bitnet_weights *w, const float *x, int64_t ldx, int64_t nb, float *y, int64_t ldy,
                        int64_t r0, int64_t r1)
{
    matmul_float(FT_F16, w, x, ldx, nb, y, ldy, r0, r1);
}

static void matmul_bf16w(const bitnet_weights *w, const float *x, int64_t ldx, int64_t nb, float *y, int64_t ldy,
                         int64_t r0, int64_t r1)
{
    matmul_float(FT_BF16, w, x, ldx, nb, y, ldy, r0, r1);
}

/* ======================= activation quantization ======================= */

/* 1/d for a block whose largest magnitude is amax (0 for an all-zero block
 * or one so tiny that 127/amax overflows). */
INLINE float inv_scale(float amax)
{
    float id = amax > 0.0f ? 127.0f / amax : 0.0f;
    return id <= 3.0e38f ? id : 0.0f;
}

INLINE float hmax256(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}

/* 32 int32 codes (4 vectors) -> 32 int8 in order. */
INLINE __m256i pack32(const __m256i q[4])
{
    /* packs interleave 128-bit lanes; the permute restores order */
    const __m256i a = _mm256_packs_epi32(q[0], q[1]), b = _mm256_packs_epi32(q[2], q[3]);
    return _mm256_permutevar8x32_epi32(_mm256_packs_epi16(a, b), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* Two-level codes of 32 floats against a block scale d (id = 1/d):
 * q1 = round(x / d), q2 = round((x - q1 d) / (d / 256)) clamped to
 * [-127, 127], so that x = d q1 + (d / 256) q2 within d / 256: int8 alone
 * (error d / 2) moves the logits of small models past their tolerance.
 * s1/s2 get the code sums of each 16. */
INLINE void quant32x2(const float *x, __m256 id, __m256 d, __m256i *o1, __m256i *o2, int s1[2], int s2[2])
{
    const __m256 id256 = _mm256_mul_ps(id, _mm256_set1_ps(256.0f));
    __m256i q[4], r[4];
    for (int i = 0; i < 4; i++) {
        const __m256 v = _mm256_loadu_ps(x + 8 * i);
        /* Clamped like q2: finite inputs are within range already, but NaN
         * and inf convert to INT_MIN, whose code sums would overflow int. */
        q[i] = _mm256_max_epi32(_mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(v, id)), _mm256_set1_epi32(127)),
                                _mm256_set1_epi32(-127));
        const __m256 res = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(q[i]), d, v);
        const __m256i t = _mm256_cvtps_epi32(_mm256_mul_ps(res, id256));
        r[i] = _mm256_max_epi32(_mm256_min_epi32(t, _mm256_set1_epi32(127)), _mm256_set1_epi32(-127));
    }
    s1[0] = hsum_i32(_mm256_add_epi32(q[0], q[1]));
    s1[1] = hsum_i32(_mm256_add_epi32(q[2], q[3]));
    s2[0] = hsum_i32(_mm256_add_epi32(r[0], r[1]));
    s2[1] = hsum_i32(_mm256_add_epi32(r[2], r[3]));
    *o1 = pack32(q);
    *o2 = pack32(r);
}

INLINE float absmax(const float *x, int n)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 8)
        m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
    return hmax256(m);
}

/* Legacy activations: per 32-block d = amax/127, codes round(x/d) in
 * [-127, 127], and d * sum(codes) (for the min term of Q4_1/Q5_1). */
typedef struct {
    int8_t *qs;
    float *d;
    float *ds;
} act_leg;

static size_t leg_act_bytes(int64_t n)
{
    return round64((size_t)n) + 2 * round64((size_t)(n / 32) * sizeof(float));
}

static act_leg leg_act_at(uint8_t *p, int64_t n)
{
    act_leg a;
    a.qs = (int8_t *)p;
    a.d = (float *)(p + round64((size_t)n));
    a.ds = (float *)(p + round64((size_t)n) + round64((size_t)(n / 32) * sizeof(float)));
    return a;
}

/* One activation row as two activation rows: a (scale d) and a2 (d / 256). */
static void quantize_leg(const float *x, int64_t n, act_leg a, act_leg a2)
{
    for (int64_t blk = 0; blk < n / 32; blk++) {
        const float amax = absmax(x + 32 * blk, 32);
        const float d = amax / 127.0f;
        int s1[2], s2[2];
        __m256i q1, q2;
        quant32x2(x + 32 * blk, _mm256_set1_ps(inv_scale(amax)), _mm256_set1_ps(d), &q1, &q2, s1, s2);
        _mm256_storeu_si256((__m256i *)(a.qs + 32 * blk), q1);
        _mm256_storeu_si256((__m256i *)(a2.qs + 32 * blk), q2);
        a.d[blk] = d;
        a2.d[blk] = d * (1.0f / 256.0f);
        a.ds[blk] = d * (float)(s1[0] + s1[1]);
        a2.ds[blk] = d * (1.0f / 256.0f) * (float)(s2[0] + s2[1]);
    }
}

/* K-quant activations: per 256 d = amax/127, codes in natural order, int16
 * sums per 16 (bs16) and per 32 (bs32). */
typedef struct {
    int8_t *qs;
    float *d;
    int16_t *bs16;
    int16_t *bs32;
} act_k;

static size_t k_act_bytes(int64_t n)
{
    const size_t nsb = (size_t)(n / 256);
    return round64((size_t)n) + round64(nsb * 4) + round64(nsb * 32) + round64(nsb * 16);
}

static act_k k_act_at(uint8_t *p, int64_t n)
{
    const size_t nsb = (size_t)(n / 256);
    act_k a;
    a.qs = (int8_t *)p;
    p += round64((size_t)n);
    a.d = (float *)p;
    p += round64(nsb * 4);
    a.bs16 = (int16_t *)p;
    p += round64(nsb * 32);
    a.bs32 = (int16_t *)p;
    return a;
}

/* One activation row as two activation rows: a (scale d) and a2 (d / 256). */
static void quantize_k(const float *x, int64_t n, act_k a, act_k a2)
{
    for (int64_t sb = 0; sb < n / 256; sb++) {
        const float *xs = x + 256 * sb;
        const float amax = absmax(xs, 256), d = amax / 127.0f;
        const __m256 id = _mm256_set1_ps(inv_scale(amax)), vd = _mm256_set1_ps(d);
        a.d[sb] = d;
        a2.d[sb] = d * (1.0f / 256.0f);
        for (int g = 0; g < 8; g++) {
            int s1[2], s2[2];
            __m256i q1, q2;
            quant32x2(xs + 32 * g, id, vd, &q1, &q2, s1, s2);
            _mm256_storeu_si256((__m256i *)(a.qs + 256 * sb + 32 * g), q1);
            _mm256_storeu_si256((__m256i *)(a2.qs + 256 * sb + 32 * g), q2);
            a.bs16[16 * sb + 2 * g] = (int16_t)s1[0];
            a.bs16[16 * sb + 2 * g + 1] = (int16_t)s1[1];
            a.bs32[8 * sb + g] = (int16_t)(s1[0] + s1[1]);
            a2.bs16[16 * sb + 2 * g] = (int16_t)s2[0];
            a2.bs16[16 * sb + 2 * g + 1] = (int16_t)s2[1];
            a2.bs32[8 * sb + g] = (int16_t)(s2[0] + s2[1]);
        }
    }
}

/* ======================= legacy quant kernels ======================= */

enum { L_Q8_0, L_Q8_1, L_Q4_0, L_Q4_1, L_Q5_0, L_Q5_1 };

INLINE int leg_bs(int T)
{
    static const int bs[] = {34, 36, 18, 20, 22, 24};
    return bs[T];
}

INLINE int leg_qs(int T)
{
    static const int qs[] = {2, 4, 2, 4, 6, 8};
    return qs[T];
}

INLINE int leg_affine(int T)
{
    return T == L_Q4_1 || T == L_Q5_1;
}

/* qh bit j -> 0xff in byte j. */
INLINE __m256i bits_to_bytes(uint32_t bits)
{
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3,
                                          3, 3, 3, 3, 3, 3);
    const __m256i sel = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    const __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), shuf);
    return _mm256_cmpeq_epi8(_mm256_and_si256(b, sel), sel);
}

/* One block as 32 int8 weights in natural order: signed for Q8/Q4_0/Q5_0,
 * unsigned codes for Q4_1/Q5_1. */
INLINE __m256i leg_unpack(int T, const uint8_t *b0)
{
    const int qs = leg_qs(T);
    if (T == L_Q8_0 || T == L_Q8_1)
        return _mm256_loadu_si256((const __m256i *)(b0 + qs));
    const __m128i t = _mm_loadu_si128((const __m128i *)(b0 + qs));
    const __m256i z = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0x0f));
    if (T == L_Q4_0)
        return _mm256_sub_epi8(z, _mm256_set1_epi8(8));
    if (T == L_Q4_1)
        return z;
    const __m256i hb = bits_to_bytes(load_u32(b0 + (T == L_Q5_0 ? 2 : 4)));
    if (T == L_Q5_0) /* code - 16: set the top bits (0xf0) where bit 4 is clear */
        return _mm256_or_si256(z, _mm256_andnot_si256(hb, _mm256_set1_epi8((char)0xf0)));
    return _mm256_or_si256(z, _mm256_and_si256(hb, _mm256_set1_epi8(0x10)));
}

/* Block blk of one weight row against B activation rows. */
INLINE void leg_block(int T, int B, const uint8_t *b0, const act_leg *a, int64_t blk, __m256 *acc, float *macc)
{
    const __m256i wq = leg_unpack(T, b0);
    const __m256i ones = _mm256_set1_epi16(1);
    const float d = load_half(b0);
    const __m256i aw = leg_affine(T) ? wq : _mm256_sign_epi8(wq, wq);
    for (int b = 0; b < B; b++) {
        __m256i yv = _mm256_loadu_si256((const __m256i *)(a[b].qs + 32 * blk));
        if (!leg_affine(T))
            yv = _mm256_sign_epi8(yv, wq);
        const __m256i v = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, yv), ones);
        acc[b] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(v), _mm256_set1_ps(d * a[b].d[blk]), acc[b]);
        if (leg_affine(T))
            macc[b] += load_half(b0 + 2) * a[b].ds[blk];
    }
}

/* One weight row against B activation rows: block j accumulates into
 * acc[j & 1]. */
INLINE void leg_row(int T, int B, const uint8_t *row, int64_t nblk, const act_leg *a, float *y, int64_t ldy)
{
    const int bs = leg_bs(T);
    __m256 acc0[4], acc1[4];
    float macc[4];
    for (int b = 0; b < B; b++) {
        acc0[b] = acc1[b] = _mm256_setzero_ps();
        macc[b] = 0.0f;
    }
    int64_t j = 0;
    for (; j + 2 <= nblk; j += 2) {
        leg_block(T, B, row + j * bs, a, j, acc0, macc);
        leg_block(T, B, row + (j + 1) * bs, a, j + 1, acc1, macc);
    }
    if (j < nblk)
        leg_block(T, B, row + j * bs, a, j, acc0, macc);
    /* activation rows come in level pairs (d, d / 256): one output each */
    for (int b = 0; b < B; b += 2)
        y[b / 2 * ldy] = (hsum256(_mm256_add_ps(acc0[b], acc1[b])) + macc[b]) +
                         (hsum256(_mm256_add_ps(acc0[b + 1], acc1[b + 1])) + macc[b + 1]);
}

/* ======================= K-quant kernels ======================= */

enum { K_Q2, K_Q3, K_Q4, K_Q5, K_Q6 };

INLINE int k_bs(int T)
{
    static const int bs[] = {84, 110, 144, 176, 210};
    return bs[T];
}

/* Q4_K/Q5_K packed 6-bit scales -> 8 scales (bytes 0-7) and 8 mins (8-15). */
INLINE __m128i k4_scales(const uint8_t *s)
{
    const uint32_t a = load_u32(s), b = load_u32(s + 4), c = load_u32(s + 8);
    const uint32_t sc_lo = a & 0x3f3f3f3fu, m_lo = b & 0x3f3f3f3fu;
    const uint32_t sc_hi = (c & 0x0f0f0f0fu) | (((a >> 6) & 0x03030303u) << 4);
    const uint32_t m_hi = ((c >> 4) & 0x0f0f0f0fu) | (((b >> 6) & 0x03030303u) << 4);
    return _mm_set_epi32((int)m_hi, (int)m_lo, (int)sc_hi, (int)sc_lo);
}

/* Q3_K packed scales -> 16 signed bytes. */
INLINE __m128i k3_scales(const uint8_t *s)
{
    const uint32_t a = load_u32(s), b = load_u32(s + 4), c = load_u32(s + 8);
    const uint32_t m4 = 0x0f0f0f0fu, m2 = 0x03030303u;
    const uint32_t s0 = (a & m4) | ((c & m2) << 4);
    const uint32_t s1 = (b & m4) | (((c >> 2) & m2) << 4);
    const uint32_t s2 = ((a >> 4) & m4) | (((c >> 4) & m2) << 4);
    const uint32_t s3 = ((b >> 4) & m4) | (((c >> 6) & m2) << 4);
    return _mm_sub_epi8(_mm_set_epi32((int)s3, (int)s2, (int)s1, (int)s0), _mm_set1_epi8(32));
}

/* From 8 int16 scales broadcast to both lanes: scale i in every lane of the
 * low half and scale j in the high half. */
INLINE __m256i pick2(__m256i s8x16, int i, int j)
{
    const __m256i ctl = _mm256_setr_epi8((char)(2 * i), (char)(2 * i + 1), (char)(2 * i), (char)(2 * i + 1),
                                         (char)(2 * i), (char)(2 * i + 1), (char)(2 * i), (char)(2 * i + 1),
                                         (char)(2 * i), (char)(2 * i + 1), (char)(2 * i), (char)(2 * i + 1),
                                         (char)(2 * i), (char)(2 * i + 1), (char)(2 * i), (char)(2 * i + 1),
                                         (char)(2 * j), (char)(2 * j + 1), (char)(2 * j), (char)(2 * j + 1),
                                         (char)(2 * j), (char)(2 * j + 1), (char)(2 * j), (char)(2 * j + 1),
                                         (char)(2 * j), (char)(2 * j + 1), (char)(2 * j), (char)(2 * j + 1),
                                         (char)(2 * j), (char)(2 * j + 1), (char)(2 * j), (char)(2 * j + 1));
    return _mm256_shuffle_epi8(s8x16, ctl);
}

/* Bit p of every byte moved to bit t (the only bit kept). */
INLINE __m256i move_bit(__m256i v, int p, int t)
{
    const __m256i b = _mm256_and_si256(v, _mm256_set1_epi8((char)(1 << p)));
    if (p < t)
        return _mm256_slli_epi16(b, t - p);
    if (p > t)
        return _mm256_srli_epi16(b, p - t);
    return b;
}

/* 32 codes (unsigned) times 32 activations, scaled per 16 by sc (int16
 * lanes), added to acc as int32. */
INLINE __m256i dot32(__m256i acc, __m256i codes, const int8_t *y, __m256i sc)
{
    const __m256i p = _mm256_maddubs_epi16(codes, _mm256_loadu_si256((const __m256i *)y));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p, sc));
}

/* Super-block sb of one weight row against B activation rows. */
INLINE void k_step(int T, int B, const uint8_t *blk, const act_k *a, int64_t sb, __m256 *acc, __m128 *macc)
{
    const __m256i m0f = _mm256_set1_epi8(0x0f), m03 = _mm256_set1_epi8(0x03);
    __m256i iacc[4];
    float d, dmin = 0.0f;

    if (T == K_Q4 || T == K_Q5) {
        const bn_block_q4_k *b4 = (const void *)blk;
        const bn_block_q5_k *b5 = (const void *)blk;
        d = load_half(T == K_Q4 ? b4->d : b5->d);
        dmin = load_half(T == K_Q4 ? b4->dmin : b5->dmin);
        const __m256i s16 = _mm256_cvtepu8_epi16(k4_scales(T == K_Q4 ? b4->scales : b5->scales));
        const __m256i scb = _mm256_permute2x128_si256(s16, s16, 0x00);
        const uint8_t *qs = T == K_Q4 ? b4->qs : b5->qs;
        __m256i qh = _mm256_setzero_si256();
        if (T == K_Q5)
            qh = _mm256_loadu_si256((const __m256i *)b5->qh);
        for (int b = 0; b < B; b++)
            iacc[b] = _mm256_setzero_si256();
        for (int g = 0; g < 4; g++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * g));
            __m256i lo = _mm256_and_si256(q, m0f), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m0f);
            if (T == K_Q5) {
                lo = _mm256_or_si256(lo, move_bit(qh, 2 * g, 4));
                hi = _mm256_or_si256(hi, move_bit(qh, 2 * g + 1, 4));
            }
            const __m256i sl = pick2(scb, 2 * g, 2 * g), sh = pick2(scb, 2 * g + 1, 2 * g + 1);
            for (int b = 0; b < B; b++) {
                const int8_t *ya = a[b].qs + 256 * sb + 64 * g;
                iacc[b] = dot32(iacc[b], lo, ya, sl);
                iacc[b] = dot32(iacc[b], hi, ya + 32, sh);
            }
        }
        const __m128i mins = _mm256_extracti128_si256(s16, 1);
        for (int b = 0; b < B; b++) {
            const __m128i mi = _mm_madd_epi16(mins, _mm_loadu_si128((const __m128i *)(a[b].bs32 + 8 * sb)));
            macc[b] = _mm_fmadd_ps(_mm_cvtepi32_ps(mi), _mm_set1_ps(-dmin * a[b].d[sb]), macc[b]);
        }
    } else if (T == K_Q6) {
        const bn_block_q6_k *b6 = (const void *)blk;
        d = load_half(b6->d);
        const __m128i s8 = _mm_loadu_si128((const __m128i *)b6->scales);
        const __m256i s16 = _mm256_cvtepi8_epi16(s8);
        /* codes are stored +32: seed with -32 * sum(scale * bsum16) */
        for (int b = 0; b < B; b++) {
            const __m256i c = _mm256_madd_epi16(s16, _mm256_loadu_si256((const __m256i *)(a[b].bs16 + 16 * sb)));
            iacc[b] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(c, 5));
        }
        const __m256i m30 = _mm256_set1_epi8(0x30);
        for (int h = 0; h < 2; h++) {
            const __m256i sch = h ? _mm256_permute2x128_si256(s16, s16, 0x11) : _mm256_permute2x128_si256(s16, s16, 0x00);
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)(b6->ql + 64 * h));
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)(b6->ql + 64 * h + 32));
            const __m256i qh = _mm256_loadu_si256((const __m256i *)(b6->qh + 32 * h));
            __m256i c[4];
            c[0] = _mm256_or_si256(_mm256_and_si256(l0, m0f), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
            c[1] = _mm256_or_si256(_mm256_and_si256(l1, m0f), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
            c[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m0f), _mm256_and_si256(qh, m30));
            c[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m0f),
                                   _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
            for (int g = 0; g < 4; g++) {
                const __m256i sc = pick2(sch, 2 * g, 2 * g + 1);
                for (int b = 0; b < B; b++)
                    iacc[b] = dot32(iacc[b], c[g], a[b].qs + 256 * sb + 128 * h + 32 * g, sc);
            }
        }
    } else { /* Q2_K, Q3_K: 2-bit codes; 32 bytes per 128, shift 2s = group s */
        const bn_block_q2_k *b2 = (const void *)blk;
        const bn_block_q3_k *b3 = (const void *)blk;
        __m256i s16;
        const uint8_t *qs;
        __m256i hm = _mm256_setzero_si256();
        if (T == K_Q2) {
            d = load_half(b2->d);
            dmin = load_half(b2->dmin);
            const __m128i raw = _mm_loadu_si128((const __m128i *)b2->scales);
            s16 = _mm256_cvtepu8_epi16(_mm_and_si128(raw, _mm_set1_epi8(0x0f)));
            const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0f)));
            for (int b = 0; b < B; b++) {
                const __m256i mi = _mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)(a[b].bs16 + 16 * sb)));
                const __m128i m4 = _mm_add_epi32(_mm256_castsi256_si128(mi), _mm256_extracti128_si256(mi, 1));
                macc[b] = _mm_fmadd_ps(_mm_cvtepi32_ps(m4), _mm_set1_ps(-dmin * a[b].d[sb]), macc[b]);
                iacc[b] = _mm256_setzero_si256();
            }
            qs = b2->qs;
        } else {
            d = load_half(b3->d);
            s16 = _mm256_cvtepi8_epi16(k3_scales(b3->scales));
            qs = b3->qs;
            hm = _mm256_loadu_si256((const __m256i *)b3->hmask);
            /* codes are stored +4: seed with -4 * sum(scale * bsum16) */
            for (int b = 0; b < B; b++) {
                const __m256i c = _mm256_madd_epi16(s16, _mm256_loadu_si256((const __m256i *)(a[b].bs16 + 16 * sb)));
                iacc[b] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(c, 2));
            }
        }
        for (int h = 0; h < 2; h++) {
            const __m256i sch = h ? _mm256_permute2x128_si256(s16, s16, 0x11) : _mm256_permute2x128_si256(s16, s16, 0x00);
            const __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * h));
            for (int s = 0; s < 4; s++) {
                __m256i c = _mm256_and_si256(_mm256_srli_epi16(q, 2 * s), m03);
                if (T == K_Q3)
                    c = _mm256_or_si256(c, move_bit(hm, 4 * h + s, 2));
                const __m256i sc = pick2(sch, 2 * s, 2 * s + 1);
                for (int b = 0; b < B; b++)
                    iacc[b] = dot32(iacc[b], c, a[b].qs + 256 * sb + 128 * h + 32 * s, sc);
            }
        }
    }

    for (int b = 0; b < B; b++)
        acc[b] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(iacc[b]), _mm256_set1_ps(d * a[b].d[sb]), acc[b]);
}

/* One weight row against B activation rows: super-block sb accumulates
 * into acc[sb & 1]. */
INLINE void k_row(int T, int B, const uint8_t *row, int64_t nsb, const act_k *a, float *y, int64_t ldy)
{
    const int bs = k_bs(T);
    __m256 acc0[4], acc1[4];
    __m128 macc[4];
    for (int b = 0; b < B; b++) {
        acc0[b] = acc1[b] = _mm256_setzero_ps();
        macc[b] = _mm_setzero_ps();
    }
    int64_t sb = 0;
    for (; sb + 2 <= nsb; sb += 2) {
        k_step(T, B, row + sb * bs, a, sb, acc0, macc);
        k_step(T, B, row + (sb + 1) * bs, a, sb + 1, acc1, macc);
    }
    if (sb < nsb)
        k_step(T, B, row + sb * bs, a, sb, acc0, macc);
    /* activation rows come in level pairs (d, d / 256): one output each */
    for (int b = 0; b < B; b += 2)
        y[b / 2 * ldy] = (hsum256(_mm256_add_ps(acc0[b], acc1[b])) + hsum128(macc[b])) +
                         (hsum256(_mm256_add_ps(acc0[b + 1], acc1[b + 1])) + hsum128(macc[b + 1]));
}

/* ======================= drivers ======================= */

typedef struct {
    const uint8_t *wd;
    size_t rb;
    int64_t n, r0, r1;
} rows_job;

/* One function per weight type: each weight row against one batch row
 * quantized at two levels (2 activation rows; with 16 vector registers,
 * more only spill). */
#define ROWS_FN(name, rowfn, T, act_t, blk)                                                         \
    static void name(const rows_job *j, const act_t *a, float *y)                                   \
    {                                                                                               \
        const int64_t nb = j->n / (blk);                                                            \
        for (int64_t r = j->r0; r < j->r1; r++)                                                     \
            rowfn(T, 2, j->wd + (size_t)r * j->rb, nb, a, y + r, 1);                                \
    }

ROWS_FN(rows_q8_0, leg_row, L_Q8_0, act_leg, 32)
ROWS_FN(rows_q8_1, leg_row, L_Q8_1, act_leg, 32)
ROWS_FN(rows_q4_0, leg_row, L_Q4_0, act_leg, 32)
ROWS_FN(rows_q4_1, leg_row, L_Q4_1, act_leg, 32)
ROWS_FN(rows_q5_0, leg_row, L_Q5_0, act_leg, 32)
ROWS_FN(rows_q5_1, leg_row, L_Q5_1, act_leg, 32)
ROWS_FN(rows_q2_k, k_row, K_Q2, act_k, 256)
ROWS_FN(rows_q3_k, k_row, K_Q3, act_k, 256)
ROWS_FN(rows_q4_k, k_row, K_Q4, act_k, 256)
ROWS_FN(rows_q5_k, k_row, K_Q5, act_k, 256)
ROWS_FN(rows_q6_k, k_row, K_Q6, act_k, 256)

/* Quantize each batch row (two levels) into scratch, then run the rows. */
static bool matmul_legacy(int T, const bitnet_weights *w, const float *x, int64_t ldx, int64_t n_batch, float *y,
                          int64_t ldy, int64_t r0, int64_t r1, void *scratch)
{
    static void (*const fns[])(const rows_job *, const act_leg *, float *) = {
        rows_q8_0, rows_q8_1, rows_q4_0, rows_q4_1, rows_q5_0, rows_q5_1};
    const int64_t n = w->n;
    uint8_t *base = (uint8_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    const size_t avail = 4 * (size_t)n + 1024 - (size_t)(base - (uint8_t *)scratch);
    const size_t per = leg_act_bytes(n); /* one level of one batch row */
    if (avail < 2 * per)
        return false;
    const act_leg acts[2] = {leg_act_at(base, n), leg_act_at(base + per, n)};
    const int64_t blk = quant_row_block(w, n_batch > 1, r0, r1);
    for (int64_t q0 = r0; q0 < r1; q0 += blk) {
        const rows_job job = {w->data, w->row_bytes, n, q0, r1 - q0 < blk ? r1 : q0 + blk};
        for (int64_t b = 0; b < n_batch; b++) {
            quantize_leg(x + b * ldx, n, acts[0], acts[1]);
            fns[T](&job, acts, y + b * ldy);
        }
    }
    return true;
}

static bool matmul_kquant(int T, const bitnet_weights *w, const float *x, int64_t ldx, int64_t n_batch, float *y,
                          int64_t ldy, int64_t r0, int64_t r1, void *scratch)
{
    static void (*const fns[])(const rows_job *, const act_k *, float *) = {
        rows_q2_k, rows_q3_k, rows_q4_k, rows_q5_k, rows_q6_k};
    const int64_t n = w->n;
    uint8_t *base = (uint8_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    const size_t avail = 4 * (size_t)n + 1024 - (size_t)(base - (uint8_t *)scratch);
    const size_t per = k_act_bytes(n); /* one level of one batch row */
    if (avail < 2 * per)
        return false;
    const act_k acts[2] = {k_act_at(base, n), k_act_at(base + per, n)};
    const int64_t blk = quant_row_block(w, n_batch > 1, r0, r1);
    for (int64_t q0 = r0; q0 < r1; q0 += blk) {
        const rows_job job = {w->data, w->row_bytes, n, q0, r1 - q0 < blk ? r1 : q0 + blk};
        for (int64_t b = 0; b < n_batch; b++) {
            quantize_k(x + b * ldx, n, acts[0], acts[1]);
            fns[T](&job, acts, y + b * ldy);
        }
    }
    return true;
}

bool bn_avx2_matmul_f32(const bitnet_weights *w, const float *x, int64_t ldx, int64_t n_batch, float *y,
                        int64_t ldy, int64_t r0, int64_t r1, void *scratch)
{
    if (!w || w->n <= 0)
        return false;
    const bool empty = n_batch <= 0 || r0 >= r1;
    switch (w->type) {
    case BITNET_TYPE_F32:
        if (!empty)
            matmul_f32w(w, x, ldx, n_batch, y, ldy, r0, r1);
        return true;
    case BITNET_TYPE_F16:
        if (!empty)
            matmul_f16w(w, x, ldx, n_batch, y, ldy, r0, r1);
        return true;
    case BITNET_TYPE_BF16:
        if (!empty)
            matmul_bf16w(w, x, ldx, n_batch, y, ldy, r0, r1);
        return true;
    default:
        break;
    }
    int lt = -1, kt = -1;
    switch (w->type) {
    case BITNET_TYPE_Q8_0: lt = L_Q8_0; break;
    case BITNET_TYPE_Q8_1: lt = L_Q8_1; break;
    case BITNET_TYPE_Q4_0: lt = L_Q4_0; break;
    case BITNET_TYPE_Q4_1: lt = L_Q4_1; break;
    case BITNET_TYPE_Q5_0: lt = L_Q5_0; break;
    case BITNET_TYPE_Q5_1: lt = L_Q5_1; break;
    case BITNET_TYPE_Q2_K: kt = K_Q2; break;
    case BITNET_TYPE_Q3_K: kt = K_Q3; break;
    case BITNET_TYPE_Q4_K: kt = K_Q4; break;
    case BITNET_TYPE_Q5_K: kt = K_Q5; break;
    case BITNET_TYPE_Q6_K: kt = K_Q6; break;
    default: return false;
    }
    if (lt >= 0) {
        if (w->n % 32 != 0)
            return false;
        return empty || matmul_legacy(lt, w, x, ldx, n_batch, y, ldy, r0, r1, scratch);
    }
    if (w->n % 256 != 0)
        return false;
    return empty || matmul_kquant(kt, w, x, ldx, n_batch, y, ldy, r0, r1, scratch);
}
