/* AVX-512 (F/BW/VL/DQ/VNNI) matmul_f32.
 *
 * Float weights (F32/F16/BF16): tiles of rows x batch rows; each (row,
 * batch row) pair owns two float32 accumulator vectors fed in a fixed
 * order and reduced in a fixed order, so a row's value never depends on the
 * tile shape or on how rows were split. One batch row streams the weights
 * row by row; several share 256 KiB row blocks kept in L2.
 *
 * Quantized weights: each activation row is quantized once per call into
 * `scratch` at two int8 levels (x ~ d q1 + (d/256) q2 per block: int8
 * alone moves the logits of small models past the fixtures' tolerance),
 * stored as two activation rows of int8 blocks + float scales in the byte
 * order each weight format unpacks to, so weights need no shuffles. One
 * weight row at a time is unpacked once and dotted with up to 4 activation
 * rows (1 or 2 batch rows at both levels):
 *  - Q8_0/Q8_1/Q4_0/Q5_0: VNNI dpbusd of offset activations (y + 128,
 *    unsigned) with signed weights; the 128 * sum(w) excess is removed by
 *    seeding the accumulator with -dpbusd(128, w);
 *  - Q4_1/Q5_1: dpbusd of unsigned codes with signed activations, the min
 *    term from per-block activation sums;
 *  - K-quants: maddubs of unsigned codes with signed activations, then
 *    dpwssd with the 16-bit sub-block scales, one float FMA per super-block;
 *    code offsets and mins come from per-16/32 activation sums. */
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

INLINE uint16_t load_u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
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

/* ======================= float weights ======================= */

enum { FT_F32, FT_F16, FT_BF16 };

INLINE __m512 load_w16(int ft, const uint8_t *p)
{
    if (ft == FT_F32)
        return _mm512_loadu_ps(p);
    __m256i h = _mm256_loadu_si256((const __m256i *)p);
    if (ft == FT_F16)
        return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

INLINE __m512 load_w16_mask(int ft, const uint8_t *p, __mmask16 m)
{
    if (ft == FT_F32)
        return _mm512_maskz_loadu_ps(m, p);
    __m256i h = _mm256_maskz_loadu_epi16(m, p);
    if (ft == FT_F16)
        return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* R weight rows x B batch rows; y points at (row 0, batch 0) of the tile.
 * Each (row, batch row) pair owns 2 accumulators, chunk c of 16 going to
 * acc[c % 2] (the masked tail chunk included), then acc[0] + acc[1]: the
 * same sequence whatever the tile shape. */
INLINE void float_tile(int ft, int R, int B, const uint8_t *w, size_t rb, const float *x, int64_t ldx, int64_t n,
                       float *y, int64_t ldy)
{
    const int esz = ft == FT_F32 ? 4 : 2;
    __m512 acc[4][3][2];
    for (int i = 0; i < R; i++)
        for (int b = 0; b < B; b++)
            acc[i][b][0] = acc[i][b][1] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 32 <= n; k += 32)
        for (int j = 0; j < 2; j++) {
            __m512 xv[3];
            for (int b = 0; b < B; b++)
                xv[b] = _mm512_loadu_ps(x + b * ldx + k + 16 * j);
            for (int i = 0; i < R; i++) {
                const __m512 wv = load_w16(ft, w + i * rb + (size_t)(k + 16 * j) * esz);
                for (int b = 0; b < B; b++)
                    acc[i][b][j] = _mm512_fmadd_ps(wv, xv[b], acc[i][b][j]);
            }
        }
    /* under 32 left: chunk 0 and maybe chunk 1, constant indices so the
     * accumulators stay in registers */
    for (int j = 0; j < 2; j++, k += 16) {
        if (k >= n)
            break;
        const __mmask16 m = n - k >= 16 ? 0xffff : (__mmask16)((1u << (n - k)) - 1);
        __m512 xv[3];
        for (int b = 0; b < B; b++)
            xv[b] = _mm512_maskz_loadu_ps(m, x + b * ldx + k);
        for (int i = 0; i < R; i++) {
            const __m512 wv = load_w16_mask(ft, w + i * rb + (size_t)k * esz, m);
            for (int b = 0; b < B; b++)
                acc[i][b][j] = _mm512_fmadd_ps(wv, xv[b], acc[i][b][j]);
        }
    }
    for (int i = 0; i < R; i++)
        for (int b = 0; b < B; b++)
            y[b * ldy + i] = _mm512_reduce_add_ps(_mm512_add_ps(acc[i][b][0], acc[i][b][1]));
}

/* Weight rows per cache block when batch rows share them: ~256 KiB, so a
 * block stays in L2 while every batch row passes over it. */
static int64_t rows_per_block(size_t row_bytes, size_t kib)
{
    const int64_t r = (int64_t)((kib << 10) / (row_bytes ? row_bytes : 1));
    return r < 16 ? 16 : r & ~(int64_t)3;
}

/* Rows per pass of the quantized kernels. When batch rows need several
 * activation groups and the rows are too many to stay in the last-level
 * cache (8 MiB), walk them in 512 KiB blocks that stay in L2 and quantize
 * each group again per block: far cheaper than streaming the matrix from
 * DRAM once per group. */
static int64_t quant_row_block(const bitnet_weights *w, bool groups, int64_t r0, int64_t r1)
{
    if (!groups || (uint64_t)(r1 - r0) * w->row_bytes <= ((uint64_t)8 << 20))
        return r1 - r0;
    return rows_per_block(w->row_bytes, 512);
}

/* Rows [q0, q1) against B batch rows: 4-row tiles, then single rows. */
#define FLOAT_ROWS(ft, B)                                                                          \
    do {                                                                                           \
        int64_t r = q0;                                                                            \
        for (; r + 4 <= q1; r += 4)                                                                \
            float_tile(ft, 4, B, wd + (size_t)r * rb, rb, xb, ldx, n, yb + r, ldy);                \
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
        for (int64_t b = 0; b < n_batch; b += 3) {
            const float *xb = x + b * ldx;
            float *yb = y + b * ldy;
            switch (n_batch - b >= 3 ? 3 : n_batch - b) {
            case 3: FLOAT_ROWS(ft, 3); break;
            case 2: FLOAT_ROWS(ft, 2); break;
            default: FLOAT_ROWS(ft, 1); break;
            }
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

/* Legacy activations: per 32-block a float scale d = amax/127 and codes
 * round(x/d) in [-127, 127]; optionally stored +128 (XOR80, for dpbusd's
 * unsigned operand), in block-pair nibble order (PERM: lo halves of both
 * blocks, then hi halves, which is how two 4/5-bit blocks unpack), and with
 * d * sum(codes) per block (SUMS, for the min term of Q4_1/Q5_1). */
enum { ACT_XOR80 = 1, ACT_PERM = 2, ACT_SUMS = 4 };

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

/* 1/d for a block whose largest magnitude is amax (0 for an all-zero block
 * or one so tiny that 127/amax overflows). */
INLINE float inv_scale(float amax)
{
    float id = amax > 0.0f ? 127.0f / amax : 0.0f;
    return id <= 3.0e38f ? id : 0.0f;
}

/* Two-level codes of 16 values against a block scale d (id = 1/d):
 * q1 = round(x / d), q2 = round((x - q1 d) / (d / 256)) clamped to
 * [-127, 127], so that x = d q1 + (d / 256) q2 within d / 256: int8 alone
 * (error d / 2) moves the logits of small models past their tolerance.
 * q1 is clamped too: finite inputs are within range already, but NaN and
 * inf convert to INT_MIN, whose sums (reduce_add) would overflow int. */
INLINE void quant2(__m512 v, __m512 id, __m512 d, __m512i *q1, __m512i *q2)
{
    const __m512i lim = _mm512_set1_epi32(127), neg = _mm512_set1_epi32(-127);
    *q1 = _mm512_max_epi32(_mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v, id)), lim), neg);
    const __m512 r = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(*q1), d, v);
    const __m512i t = _mm512_cvtps_epi32(_mm512_mul_ps(r, _mm512_mul_ps(id, _mm512_set1_ps(256.0f))));
    *q2 = _mm512_max_epi32(_mm512_min_epi32(t, _mm512_set1_epi32(127)), _mm512_set1_epi32(-127));
}

/* 16 codes to bytes at dst (offset by 128 for XOR80). */
INLINE void store16(int8_t *dst, __m512i q, int flags)
{
    __m128i p = _mm512_cvtepi32_epi8(q);
    if (flags & ACT_XOR80)
        p = _mm_xor_si128(p, _mm_set1_epi8((char)0x80));
    _mm_storeu_si128((__m128i *)dst, p);
}

/* One activation row as two activation rows: a (scale d) and a2 (d / 256). */
static void quantize_leg(const float *x, int64_t n, act_leg a, act_leg a2, int flags)
{
    const int64_t nblk = n / 32;
    for (int64_t blk = 0; blk < nblk; blk++) {
        const __m512 v0 = _mm512_loadu_ps(x + 32 * blk), v1 = _mm512_loadu_ps(x + 32 * blk + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        const float d = amax / 127.0f;
        const __m512 id = _mm512_set1_ps(inv_scale(amax)), vd = _mm512_set1_ps(d);
        __m512i q0, q1, r0, r1;
        quant2(v0, id, vd, &q0, &r0);
        quant2(v1, id, vd, &q1, &r1);
        if (flags & ACT_SUMS) {
            a.ds[blk] = d * (float)_mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
            a2.ds[blk] = d * (1.0f / 256.0f) * (float)_mm512_reduce_add_epi32(_mm512_add_epi32(r0, r1));
        }
        int64_t o0 = 32 * blk, o1 = o0 + 16;
        if ((flags & ACT_PERM) && (blk | 1) < nblk) { /* a lone last block stays in natural order */
            o0 = 64 * (blk / 2) + 16 * (blk & 1);
            o1 = o0 + 32;
        }
        store16(a.qs + o0, q0, flags);
        store16(a.qs + o1, q1, flags);
        store16(a2.qs + o0, r0, flags);
        store16(a2.qs + o1, r1, flags);
        a.d[blk] = d;
        a2.d[blk] = d * (1.0f / 256.0f);
    }
}

/* K-quant activations: per 256 a float scale (amax/127), codes in
 * [-127, 127] stored 32 at a time in the order the weight format unpacks
 * to (see k_slot), int16 sums per natural 16 (bs16) and per natural 32
 * (bs32). */
enum { KORD_NATURAL, KORD_Q4K, KORD_Q2K };

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

/* Storage slot of natural 32-group g (0..7) of a super-block.
 * Q4K: a 64-byte load of Q4_K/Q5_K codes holds groups (0, 2) in its low
 * nibbles and (1, 3) in its high ones (then 4..7 alike).
 * Q2K: shift s of the 64 Q2_K/Q3_K code bytes holds groups (s, s + 4). */
static int k_slot(int ord, int g)
{
    static const int8_t q4k[8] = {0, 2, 1, 3, 4, 6, 5, 7};
    static const int8_t q2k[8] = {0, 2, 4, 6, 1, 3, 5, 7};
    return ord == KORD_Q4K ? q4k[g] : ord == KORD_Q2K ? q2k[g] : g;
}

/* One activation row as two activation rows: a (scale d) and a2 (d / 256). */
static void quantize_k(const float *x, int64_t n, act_k a, act_k a2, int ord)
{
    for (int64_t sb = 0; sb < n / 256; sb++) {
        const float *xs = x + 256 * sb;
        __m512 mx = _mm512_setzero_ps();
        for (int j = 0; j < 16; j++)
            mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_loadu_ps(xs + 16 * j)));
        const float amax = _mm512_reduce_max_ps(mx), d = amax / 127.0f;
        const __m512 id = _mm512_set1_ps(inv_scale(amax)), vd = _mm512_set1_ps(d);
        a.d[sb] = d;
        a2.d[sb] = d * (1.0f / 256.0f);
        for (int j = 0; j < 16; j++) {
            __m512i q, r;
            quant2(_mm512_loadu_ps(xs + 16 * j), id, vd, &q, &r);
            const int s1 = _mm512_reduce_add_epi32(q), s2 = _mm512_reduce_add_epi32(r);
            a.bs16[16 * sb + j] = (int16_t)s1;
            a2.bs16[16 * sb + j] = (int16_t)s2;
            if (j & 1) {
                a.bs32[8 * sb + j / 2] = (int16_t)(a.bs16[16 * sb + j - 1] + s1);
                a2.bs32[8 * sb + j / 2] = (int16_t)(a2.bs16[16 * sb + j - 1] + s2);
            }
            const int64_t at = 256 * sb + 32 * k_slot(ord, j / 2) + 16 * (j & 1);
            store16(a.qs + at, q, 0);
            store16(a2.qs + at, r, 0);
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

INLINE int leg_qh(int T)
{
    return T == L_Q5_0 ? 2 : 4;
}

/* Q4_1/Q5_1 weights are unsigned codes against signed activations; the
 * others are signed weights against activations offset by 128. */
INLINE int leg_affine(int T)
{
    return T == L_Q4_1 || T == L_Q5_1;
}

INLINE int leg_act_flags(int T)
{
    if (T == L_Q8_0 || T == L_Q8_1)
        return ACT_XOR80;
    return leg_affine(T) ? ACT_PERM | ACT_SUMS : ACT_PERM | ACT_XOR80;
}

/* Two consecutive blocks as 64 int8 weights, in the activation order. */
INLINE __m512i leg_unpack2(int T, const uint8_t *b0, const uint8_t *b1)
{
    const int qs = leg_qs(T);
    if (T == L_Q8_0 || T == L_Q8_1)
        return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(b0 + qs))),
                                  _mm256_loadu_si256((const __m256i *)(b1 + qs)), 1);
    const __m256i t = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(b0 + qs))),
                                              _mm_loadu_si128((const __m128i *)(b1 + qs)), 1);
    const __m512i z = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(t), _mm256_srli_epi16(t, 4), 1),
                                       _mm512_set1_epi8(0x0f));
    if (T == L_Q4_0)
        return _mm512_sub_epi8(z, _mm512_set1_epi8(8));
    if (T == L_Q4_1)
        return z;
    const uint32_t h0 = load_u32(b0 + leg_qh(T)), h1 = load_u32(b1 + leg_qh(T));
    const __mmask64 m = (uint64_t)(h0 & 0xffff) | ((uint64_t)(h1 & 0xffff) << 16) | ((uint64_t)(h0 >> 16) << 32) |
                        ((uint64_t)(h1 >> 16) << 48);
    const __m512i c16 = _mm512_set1_epi8(16);
    if (T == L_Q5_0) /* code - 16: subtract where bit 4 is clear */
        return _mm512_mask_sub_epi8(z, (__mmask64)~m, z, c16);
    return _mm512_mask_add_epi8(z, m, z, c16);
}

/* A lone block as 32 int8 weights in natural order. */
INLINE __m256i leg_unpack1(int T, const uint8_t *b0)
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
    const __mmask32 m = load_u32(b0 + leg_qh(T));
    const __m256i c16 = _mm256_set1_epi8(16);
    if (T == L_Q5_0)
        return _mm256_mask_sub_epi8(z, (__mmask32)~m, z, c16);
    return _mm256_mask_add_epi8(z, m, z, c16);
}

/* d (and m) of two blocks: [d0, d1, m0, m1]. */
INLINE __m128 leg_dm2(int T, const uint8_t *b0, const uint8_t *b1)
{
    uint64_t h = (uint64_t)load_u16(b0) | ((uint64_t)load_u16(b1) << 16);
    if (leg_affine(T))
        h |= ((uint64_t)load_u16(b0 + 2) << 32) | ((uint64_t)load_u16(b1 + 2) << 48);
    return _mm_cvtph_ps(_mm_cvtsi64_si128((long long)h));
}

/* Block pair p of one weight row against B activation rows. */
INLINE void leg_pair(int T, int B, const uint8_t *b0, const act_leg *a, int64_t p, __m512 *acc, __m128 *macc)
{
    const uint8_t *b1 = b0 + leg_bs(T);
    const __m512i wq = leg_unpack2(T, b0, b1);
    const __m128 dm = leg_dm2(T, b0, b1);
    /* lanes 0-7 of the dpbusd result belong to block 0 in natural order;
     * in PERM order lanes 0-3 and 8-11 do */
    const __m512i pidx = (T == L_Q8_0 || T == L_Q8_1)
                             ? _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0)
                             : _mm512_set_epi32(1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0);
    const __m512i zero = _mm512_setzero_si512();
    __m512i seed = zero;
    if (!leg_affine(T))
        seed = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, _mm512_set1_epi8((char)0x80), wq));
    for (int b = 0; b < B; b++) {
        const __m512i yv = _mm512_loadu_si512(a[b].qs + 64 * p);
        const __m512i v = leg_affine(T) ? _mm512_dpbusd_epi32(zero, wq, yv) : _mm512_dpbusd_epi32(seed, yv, wq);
        const __m128 dx = _mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(a[b].d + 2 * p)));
        const __m512 s = _mm512_permutexvar_ps(pidx, _mm512_castps128_ps512(_mm_mul_ps(dm, dx)));
        acc[b] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), s, acc[b]);
        if (leg_affine(T)) {
            const __m128 ds = _mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(a[b].ds + 2 * p)));
            macc[b] = _mm_fmadd_ps(_mm_movehl_ps(dm, dm), ds, macc[b]);
        }
    }
}

/* The lone last block (index blk) of a row with an odd block count. */
INLINE void leg_one(int T, int B, const uint8_t *b0, const act_leg *a, int64_t blk, __m512 *acc, __m128 *macc)
{
    const __m256i wq = leg_unpack1(T, b0);
    const float d = load_half(b0), m = leg_affine(T) ? load_half(b0 + 2) : 0.0f;
    const __m256i zero = _mm256_setzero_si256();
    __m256i seed = zero;
    if (!leg_affine(T))
        seed = _mm256_sub_epi32(zero, _mm256_dpbusd_epi32(zero, _mm256_set1_epi8((char)0x80), wq));
    for (int b = 0; b < B; b++) {
        const __m256i yv = _mm256_loadu_si256((const __m256i *)(a[b].qs + 32 * blk));
        const __m256i v = leg_affine(T) ? _mm256_dpbusd_epi32(zero, wq, yv) : _mm256_dpbusd_epi32(seed, yv, wq);
        acc[b] = _mm512_fmadd_ps(_mm512_zextps256_ps512(_mm256_cvtepi32_ps(v)), _mm512_set1_ps(d * a[b].d[blk]),
                                 acc[b]);
        if (leg_affine(T))
            macc[b] = _mm_fmadd_ps(_mm_set_ss(m), _mm_set_ss(a[b].ds[blk]), macc[b]);
    }
}

INLINE float hsum128(__m128 v)
{
    v = _mm_add_ps(v, _mm_movehl_ps(v, v));
    return _mm_cvtss_f32(_mm_add_ss(v, _mm_movehdup_ps(v)));
}

/* One weight row against B activation rows: pair p accumulates into
 * acc[p & 1], a lone last block into acc[(nblk / 2) & 1]. */
INLINE void leg_row(int T, int B, const uint8_t *row, int64_t nblk, const act_leg *a, float *y, int64_t ldy)
{
    const int bs = leg_bs(T);
    __m512 acc0[4], acc1[4];
    __m128 macc[4];
    for (int b = 0; b < B; b++) {
        acc0[b] = acc1[b] = _mm512_setzero_ps();
        macc[b] = _mm_setzero_ps();
    }
    const int64_t npair = nblk / 2;
    int64_t p = 0;
    for (; p + 2 <= npair; p += 2) {
        leg_pair(T, B, row + 2 * p * bs, a, p, acc0, macc);
        leg_pair(T, B, row + 2 * (p + 1) * bs, a, p + 1, acc1, macc);
    }
    if (p < npair)
        leg_pair(T, B, row + 2 * p * bs, a, p, acc0, macc);
    if ((nblk & 1) && (npair & 1))
        leg_one(T, B, row + (nblk - 1) * bs, a, nblk - 1, acc1, macc);
    else if (nblk & 1)
        leg_one(T, B, row + (nblk - 1) * bs, a, nblk - 1, acc0, macc);
    /* activation rows come in level pairs (d, d / 256): one output each */
    for (int b = 0; b < B; b += 2) {
        float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0[b], acc1[b]));
        float s2 = _mm512_reduce_add_ps(_mm512_add_ps(acc0[b + 1], acc1[b + 1]));
        if (leg_affine(T)) {
            s += hsum128(macc[b]);
            s2 += hsum128(macc[b + 1]);
        }
        y[b / 2 * ldy] = s + s2;
    }
}

/* ======================= K-quant kernels ======================= */

enum { K_Q2, K_Q3, K_Q4, K_Q5, K_Q6 };

INLINE int k_bs(int T)
{
    static const int bs[] = {84, 110, 144, 176, 210};
    return bs[T];
}

INLINE int k_ord(int T)
{
    return T == K_Q4 || T == K_Q5 ? KORD_Q4K : T == K_Q6 ? KORD_NATURAL : KORD_Q2K;
}

/* int16 lane -> sub-block index tables for permutexvar_epi16. */
static const int16_t k4_idx[4][32] __attribute__((aligned(64))) = {
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2},
    {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3},
    {4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6},
    {5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7},
};
/* Q6_K: 64 natural codes = sub-blocks 4k..4k+3, 8 lanes each. */
static const int16_t k6_idx[4][32] __attribute__((aligned(64))) = {
    {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
    {4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7},
    {8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9, 10, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11},
    {12, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13, 13, 13,
     14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15},
};
/* Q2_K/Q3_K: shift s holds sub-blocks 2s, 2s+1 (first 128) and 8+2s, 9+2s. */
static const int16_t k2_idx[4][32] __attribute__((aligned(64))) = {
    {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9},
    {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 10, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11},
    {4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 12, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13, 13, 13},
    {6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15},
};

INLINE __m512i load_idx(const int16_t *p)
{
    return _mm512_load_si512((const void *)p);
}

/* Byte pattern selecting one qh bit for the low and the high 32 bytes. */
INLINE __m512i bit_pair(int lo, int hi)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi8((char)(1 << lo))),
                              _mm256_set1_epi8((char)(1 << hi)), 1);
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

/* Super-block sb of one weight row against B activation rows. The scaled
 * integer sum goes to acc[b] (times d * dx); min terms to macc[b]. */
INLINE void k_step(int T, int B, const uint8_t *blk, const act_k *a, int64_t sb, __m512 *acc, __m256 *macc)
{
    const __m512i m0f = _mm512_set1_epi8(0x0f), m03 = _mm512_set1_epi8(0x03);
    __m512i iacc[4];
    float d, dmin = 0.0f;
    __m512i sc[4];
    __m256i mins = _mm256_setzero_si256(); /* int16 per sub-block (Q2_K: 16, Q4/5_K: 8) */

    if (T == K_Q4 || T == K_Q5) {
        const bn_block_q4_k *b4 = (const void *)blk;
        const bn_block_q5_k *b5 = (const void *)blk;
        d = load_half(T == K_Q4 ? b4->d : b5->d);
        dmin = load_half(T == K_Q4 ? b4->dmin : b5->dmin);
        const __m256i s16 = _mm256_cvtepu8_epi16(k4_scales(T == K_Q4 ? b4->scales : b5->scales));
        const __m512i zs = _mm512_castsi256_si512(s16);
        for (int i = 0; i < 4; i++)
            sc[i] = _mm512_permutexvar_epi16(load_idx(k4_idx[i]), zs);
        mins = _mm256_zextsi128_si256(_mm256_extracti128_si256(s16, 1));
        for (int b = 0; b < B; b++)
            iacc[b] = _mm512_setzero_si512();
        const uint8_t *qs = T == K_Q4 ? b4->qs : b5->qs;
        __m512i hb = _mm512_setzero_si512();
        if (T == K_Q5)
            hb = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)b5->qh));
        for (int g = 0; g < 2; g++) {
            const __m512i q = _mm512_loadu_si512(qs + 64 * g);
            __m512i lo = _mm512_and_si512(q, m0f), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m0f);
            if (T == K_Q5) {
                const __m512i c16 = _mm512_set1_epi8(16);
                lo = _mm512_mask_add_epi8(lo, _mm512_test_epi8_mask(hb, bit_pair(4 * g, 4 * g + 2)), lo, c16);
                hi = _mm512_mask_add_epi8(hi, _mm512_test_epi8_mask(hb, bit_pair(4 * g + 1, 4 * g + 3)), hi, c16);
            }
            for (int b = 0; b < B; b++) {
                const int8_t *ya = a[b].qs + 256 * sb + 128 * g;
                iacc[b] = _mm512_dpwssd_epi32(iacc[b], _mm512_maddubs_epi16(lo, _mm512_loadu_si512(ya)), sc[2 * g]);
                iacc[b] = _mm512_dpwssd_epi32(iacc[b], _mm512_maddubs_epi16(hi, _mm512_loadu_si512(ya + 64)),
                                              sc[2 * g + 1]);
            }
        }
    } else if (T == K_Q6) {
        const bn_block_q6_k *b6 = (const void *)blk;
        d = load_half(b6->d);
        const __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b6->scales));
        const __m512i zs = _mm512_castsi256_si512(s16);
        for (int i = 0; i < 4; i++)
            sc[i] = _mm512_permutexvar_epi16(load_idx(k6_idx[i]), zs);
        /* codes are stored +32: seed with -32 * sum(scale * bsum16) */
        for (int b = 0; b < B; b++) {
            const __m256i c = _mm256_madd_epi16(s16, _mm256_loadu_si256((const __m256i *)(a[b].bs16 + 16 * sb)));
            iacc[b] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_zextsi256_si512(_mm256_slli_epi32(c, 5)));
        }
        const __m512i m30 = _mm512_set1_epi8(0x30);
        const __m512i sl = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
        const __m512i sr = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
        for (int h = 0; h < 2; h++) {
            const __m512i l = _mm512_loadu_si512(b6->ql + 64 * h);
            const __m512i hb = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b6->qh + 32 * h)));
            const __m512i lo = _mm512_or_si512(_mm512_and_si512(l, m0f), _mm512_and_si512(_mm512_sllv_epi16(hb, sl), m30));
            const __m512i hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m0f),
                                               _mm512_and_si512(_mm512_srlv_epi16(hb, sr), m30));
            for (int b = 0; b < B; b++) {
                const int8_t *ya = a[b].qs + 256 * sb + 128 * h;
                iacc[b] = _mm512_dpwssd_epi32(iacc[b], _mm512_maddubs_epi16(lo, _mm512_loadu_si512(ya)), sc[2 * h]);
                iacc[b] = _mm512_dpwssd_epi32(iacc[b], _mm512_maddubs_epi16(hi, _mm512_loadu_si512(ya + 64)),
                                              sc[2 * h + 1]);
            }
        }
    } else { /* Q2_K, Q3_K: 2-bit codes, shift s of the 64 bytes = groups s and s + 4 */
        const bn_block_q2_k *b2 = (const void *)blk;
        const bn_block_q3_k *b3 = (const void *)blk;
        __m256i s16;
        const uint8_t *qs;
        __m512i hm = _mm512_setzero_si512();
        if (T == K_Q2) {
            d = load_half(b2->d);
            dmin = load_half(b2->dmin);
            const __m128i raw = _mm_loadu_si128((const __m128i *)b2->scales);
            s16 = _mm256_cvtepu8_epi16(_mm_and_si128(raw, _mm_set1_epi8(0x0f)));
            mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0f)));
            qs = b2->qs;
            for (int b = 0; b < B; b++)
                iacc[b] = _mm512_setzero_si512();
        } else {
            d = load_half(b3->d);
            s16 = _mm256_cvtepi8_epi16(k3_scales(b3->scales));
            qs = b3->qs;
            hm = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)b3->hmask));
            /* codes are stored +4: seed with -4 * sum(scale * bsum16) */
            for (int b = 0; b < B; b++) {
                const __m256i c = _mm256_madd_epi16(s16, _mm256_loadu_si256((const __m256i *)(a[b].bs16 + 16 * sb)));
                iacc[b] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_zextsi256_si512(_mm256_slli_epi32(c, 2)));
            }
        }
        const __m512i zs = _mm512_castsi256_si512(s16);
        const __m512i q = _mm512_loadu_si512(qs);
        for (int s = 0; s < 4; s++) {
            __m512i c = _mm512_and_si512(_mm512_srli_epi16(q, 2 * s), m03);
            if (T == K_Q3)
                c = _mm512_mask_add_epi8(c, _mm512_test_epi8_mask(hm, bit_pair(s, s + 4)), c, _mm512_set1_epi8(4));
            const __m512i scv = _mm512_permutexvar_epi16(load_idx(k2_idx[s]), zs);
            for (int b = 0; b < B; b++) {
                const __m512i yv = _mm512_loadu_si512(a[b].qs + 256 * sb + 64 * s);
                iacc[b] = _mm512_dpwssd_epi32(iacc[b], _mm512_maddubs_epi16(c, yv), scv);
            }
        }
    }

    for (int b = 0; b < B; b++) {
        const float dx = a[b].d[sb];
        acc[b] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[b]), _mm512_set1_ps(d * dx), acc[b]);
        if (T == K_Q4 || T == K_Q5) {
            const __m128i mi = _mm_madd_epi16(_mm256_castsi256_si128(mins),
                                              _mm_loadu_si128((const __m128i *)(a[b].bs32 + 8 * sb)));
            macc[b] = _mm256_fmadd_ps(_mm256_zextps128_ps256(_mm_cvtepi32_ps(mi)), _mm256_set1_ps(-dmin * dx),
                                      macc[b]);
        } else if (T == K_Q2) {
            const __m256i mi = _mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)(a[b].bs16 + 16 * sb)));
            macc[b] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mi), _mm256_set1_ps(-dmin * dx), macc[b]);
        }
    }
}

INLINE float hsum256(__m256 v)
{
    return hsum128(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)));
}

/* One weight row against B activation rows: super-block sb accumulates
 * into acc[sb & 1]. */
INLINE void k_row(int T, int B, const uint8_t *row, int64_t nsb, const act_k *a, float *y, int64_t ldy)
{
    const int bs = k_bs(T);
    __m512 acc0[4], acc1[4];
    __m256 macc[4];
    for (int b = 0; b < B; b++) {
        acc0[b] = acc1[b] = _mm512_setzero_ps();
        macc[b] = _mm256_setzero_ps();
    }
    int64_t sb = 0;
    for (; sb + 2 <= nsb; sb += 2) {
        k_step(T, B, row + sb * bs, a, sb, acc0, macc);
        k_step(T, B, row + (sb + 1) * bs, a, sb + 1, acc1, macc);
    }
    if (sb < nsb)
        k_step(T, B, row + sb * bs, a, sb, acc0, macc);
    /* activation rows come in level pairs (d, d / 256): one output each */
    for (int b = 0; b < B; b += 2) {
        float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0[b], acc1[b]));
        float s2 = _mm512_reduce_add_ps(_mm512_add_ps(acc0[b + 1], acc1[b + 1]));
        if (T == K_Q2 || T == K_Q4 || T == K_Q5) {
            s += hsum256(macc[b]);
            s2 += hsum256(macc[b + 1]);
        }
        y[b / 2 * ldy] = s + s2;
    }
}

/* ======================= drivers ======================= */

typedef struct {
    const uint8_t *wd;
    size_t rb;
    int64_t n, r0, r1;
} rows_job;

/* One function per weight type; B (2 or 4 activation rows: 1 or 2 batch
 * rows at two levels) picks an unrolled instance. */
#define ROWS_FN(name, rowfn, T, act_t, blk)                                                         \
    static void name(const rows_job *j, int B, const act_t *a, float *y, int64_t ldy)               \
    {                                                                                               \
        const int64_t nb = j->n / (blk);                                                            \
        for (int64_t r = j->r0; r < j->r1; r++) {                                                   \
            const uint8_t *row = j->wd + (size_t)r * j->rb;                                         \
            switch (B) {                                                                            \
            case 4: rowfn(T, 4, row, nb, a, y + r, ldy); break;                                     \
            default: rowfn(T, 2, row, nb, a, y + r, ldy); break;                                    \
            }                                                                                       \
        }                                                                                           \
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

/* Quantize batch rows in groups that fit the scratch (two levels each),
 * then run the rows, in L2-sized row blocks when the matrix is large. */
static bool matmul_legacy(int T, const bitnet_weights *w, const float *x, int64_t ldx, int64_t n_batch, float *y,
                          int64_t ldy, int64_t r0, int64_t r1, void *scratch)
{
    static void (*const fns[])(const rows_job *, int, const act_leg *, float *, int64_t) = {
        rows_q8_0, rows_q8_1, rows_q4_0, rows_q4_1, rows_q5_0, rows_q5_1};
    const int64_t n = w->n;
    if (n % 32 != 0)
        return false;
    uint8_t *base = (uint8_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    const size_t avail = 4 * (size_t)n + 1024 - (size_t)(base - (uint8_t *)scratch);
    const size_t per = 2 * leg_act_bytes(n); /* two levels per batch row */
    int64_t group = (int64_t)(avail / per);
    if (group < 1)
        return false;
    if (group > 32)
        group = 32;
    const int64_t blk = quant_row_block(w, n_batch > group, r0, r1);
    act_leg acts[64];
    for (int64_t q0 = r0; q0 < r1; q0 += blk) {
        const rows_job job = {w->data, w->row_bytes, n, q0, r1 - q0 < blk ? r1 : q0 + blk};
        for (int64_t b0 = 0; b0 < n_batch; b0 += group) {
            const int64_t g = n_batch - b0 < group ? n_batch - b0 : group;
            for (int64_t i = 0; i < g; i++) {
                acts[2 * i] = leg_act_at(base + (size_t)i * per, n);
                acts[2 * i + 1] = leg_act_at(base + (size_t)i * per + per / 2, n);
                quantize_leg(x + (b0 + i) * ldx, n, acts[2 * i], acts[2 * i + 1], leg_act_flags(T));
            }
            for (int64_t s = 0; s < g; s += 2)
                fns[T](&job, g - s >= 2 ? 4 : 2, acts + 2 * s, y + (b0 + s) * ldy, ldy);
        }
    }
    return true;
}

static bool matmul_kquant(int T, const bitnet_weights *w, const float *x, int64_t ldx, int64_t n_batch, float *y,
                          int64_t ldy, int64_t r0, int64_t r1, void *scratch)
{
    static void (*const fns[])(const rows_job *, int, const act_k *, float *, int64_t) = {
        rows_q2_k, rows_q3_k, rows_q4_k, rows_q5_k, rows_q6_k};
    const int64_t n = w->n;
    if (n % 256 != 0)
        return false;
    uint8_t *base = (uint8_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    const size_t avail = 4 * (size_t)n + 1024 - (size_t)(base - (uint8_t *)scratch);
    const size_t per = 2 * k_act_bytes(n); /* two levels per batch row */
    int64_t group = (int64_t)(avail / per);
    if (group < 1)
        return false;
    if (group > 32)
        group = 32;
    const int64_t blk = quant_row_block(w, n_batch > group, r0, r1);
    act_k acts[64];
    for (int64_t q0 = r0; q0 < r1; q0 += blk) {
        const rows_job job = {w->data, w->row_bytes, n, q0, r1 - q0 < blk ? r1 : q0 + blk};
        for (int64_t b0 = 0; b0 < n_batch; b0 += group) {
            const int64_t g = n_batch - b0 < group ? n_batch - b0 : group;
            for (int64_t i = 0; i < g; i++) {
                acts[2 * i] = k_act_at(base + (size_t)i * per, n);
                acts[2 * i + 1] = k_act_at(base + (size_t)i * per + per / 2, n);
                quantize_k(x + (b0 + i) * ldx, n, acts[2 * i], acts[2 * i + 1], k_ord(T));
            }
            for (int64_t s = 0; s < g; s += 2)
                fns[T](&job, g - s >= 2 ? 4 : 2, acts + 2 * s, y + (b0 + s) * ldy, ldy);
        }
    }
    return true;
}

bool bn_avx512_matmul_f32(const bitnet_weights *w, const float *x, int64_t ldx, int64_t n_batch, float *y,
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
