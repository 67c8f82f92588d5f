/* AVX2 (+FMA, F16C) vector operations: rmsnorm, rope, attention, silu_mul,
 * relu2_mul. Cheap next to the matmuls, so where double costs little
 * (rmsnorm, rope, relu2) it is used to stay within an ulp of the reference.
 * Ragged tails go through zero-padded copies. */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/rope_angles.h"
#include "kernels/x86/kv_prefetch.h"
#include "kernels/x86/quant_simd.h"

#define INLINE static inline __attribute__((always_inline))

INLINE float hsum128(__m128 v)
{
    v = _mm_add_ps(v, _mm_movehl_ps(v, v));
    return _mm_cvtss_f32(_mm_add_ss(v, _mm_movehdup_ps(v)));
}

INLINE float hsum256(__m256 v)
{
    return hsum128(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)));
}

/* e^x, relative error ~2 ulp: x = n ln2 + r, |r| <= ln2/2, e^r by a
 * degree-7 polynomial (Cephes' expf coefficients), 2^n built in the
 * exponent field. x is clamped to [-87.3, 88]: below, the result stays at
 * ~1e-38 instead of underflowing, harmless for softmax and silu. */
INLINE __m256 exp256(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.33654f)), _mm256_set1_ps(88.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* 4 floats from p, the first `cnt` (< 4 allowed) only, rest 0. */
INLINE __m128 load4(const float *p, int64_t cnt)
{
    if (cnt >= 4)
        return _mm_loadu_ps(p);
    float t[4] = {0};
    memcpy(t, p, sizeof(float) * (size_t)cnt);
    return _mm_loadu_ps(t);
}

INLINE void store4(float *p, __m128 v, int64_t cnt)
{
    if (cnt >= 4) {
        _mm_storeu_ps(p, v);
        return;
    }
    float t[4];
    _mm_storeu_ps(t, v);
    memcpy(p, t, sizeof(float) * (size_t)cnt);
}

INLINE __m256 load8(const float *p, int64_t cnt)
{
    if (cnt >= 8)
        return _mm256_loadu_ps(p);
    float t[8] = {0};
    memcpy(t, p, sizeof(float) * (size_t)cnt);
    return _mm256_loadu_ps(t);
}

INLINE void store8(float *p, __m256 v, int64_t cnt)
{
    if (cnt >= 8) {
        _mm256_storeu_ps(p, v);
        return;
    }
    float t[8];
    _mm256_storeu_ps(t, v);
    memcpy(p, t, sizeof(float) * (size_t)cnt);
}

void bn_avx2_rmsnorm(const float *x, const float *w, int64_t n, float eps, float *y)
{
    /* sum of squares in double, as the reference; four chains hide the
     * FMA latency */
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd(), s2 = _mm256_setzero_pd(), s3 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 v = _mm256_loadu_ps(x + i), u = _mm256_loadu_ps(x + i + 8);
        const __m256d a = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        const __m256d c = _mm256_cvtps_pd(_mm256_castps256_ps128(u)), d = _mm256_cvtps_pd(_mm256_extractf128_ps(u, 1));
        s0 = _mm256_fmadd_pd(a, a, s0);
        s1 = _mm256_fmadd_pd(b, b, s1);
        s2 = _mm256_fmadd_pd(c, c, s2);
        s3 = _mm256_fmadd_pd(d, d, s3);
    }
    for (; i < n; i += 8) {
        const __m256 v = load8(x + i, n - i);
        const __m256d a = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        s0 = _mm256_fmadd_pd(a, a, s0);
        s1 = _mm256_fmadd_pd(b, b, s1);
    }
    const __m256d s = _mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3));
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    h = _mm_add_sd(h, _mm_unpackhi_pd(h, h));
    const double inv = 1.0 / sqrt(_mm_cvtsd_f64(h) / (double)n + eps);
    const __m256d vinv = _mm256_set1_pd(inv);
    for (i = 0; i < n; i += 4) {
        const __m256d a = _mm256_cvtps_pd(load4(x + i, n - i)), b = _mm256_cvtps_pd(load4(w + i, n - i));
        store4(y + i, _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_mul_pd(a, vinv), b)), n - i);
    }
}

/* Angles in double (the reference's formula, memoized per position);
 * rotation in double too, rounded once to float. Pairs are done in chunks
 * of ROPE_CH. */
#define ROPE_CH 128

void bn_avx2_rope(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, int32_t pos, float freq_base,
                  bool neox)
{
    const int64_t half = n_rot / 2;
    double ct[2 * ROPE_CH], st[2 * ROPE_CH];
    const bn_rope_angles ang = bn_rope_angles_of(pos, freq_base, n_rot);
    for (int64_t i0 = 0; i0 < half; i0 += ROPE_CH) {
        const int64_t m = half - i0 < ROPE_CH ? half - i0 : ROPE_CH;
        for (int64_t i = 0; i < m; i++) {
            double c, s;
            bn_rope_pair(&ang, i0 + i, &c, &s);
            if (neox) {
                ct[i] = c;
                st[i] = s;
            } else { /* interleaved pairs: y = x * c + swap(x) * (-s, s) */
                ct[2 * i] = ct[2 * i + 1] = c;
                st[2 * i] = -s;
                st[2 * i + 1] = s;
            }
        }
        for (int64_t h = 0; h < n_heads; h++) {
            float *v = x + h * head_dim;
            if (neox) {
                float *a = v + i0, *b = v + i0 + half;
                for (int64_t j = 0; j < m; j += 4) {
                    const __m256d x0 = _mm256_cvtps_pd(load4(a + j, m - j)), x1 = _mm256_cvtps_pd(load4(b + j, m - j));
                    __m256d c, s;
                    if (m - j >= 4) {
                        c = _mm256_loadu_pd(ct + j);
                        s = _mm256_loadu_pd(st + j);
                    } else {
                        double tc[4] = {0}, ts[4] = {0};
                        memcpy(tc, ct + j, sizeof(double) * (size_t)(m - j));
                        memcpy(ts, st + j, sizeof(double) * (size_t)(m - j));
                        c = _mm256_loadu_pd(tc);
                        s = _mm256_loadu_pd(ts);
                    }
                    store4(a + j, _mm256_cvtpd_ps(_mm256_fmsub_pd(x0, c, _mm256_mul_pd(x1, s))), m - j);
                    store4(b + j, _mm256_cvtpd_ps(_mm256_fmadd_pd(x0, s, _mm256_mul_pd(x1, c))), m - j);
                }
            } else {
                float *a = v + 2 * i0;
                /* 2m is even, so the tail is 0 or 2 elements */
                for (int64_t j = 0; j < 2 * m; j += 4) {
                    const int64_t left = 2 * m - j;
                    const __m256d xv = _mm256_cvtps_pd(load4(a + j, left));
                    __m256d c, s;
                    if (left >= 4) {
                        c = _mm256_loadu_pd(ct + j);
                        s = _mm256_loadu_pd(st + j);
                    } else {
                        c = _mm256_setr_pd(ct[j], ct[j + 1], 0.0, 0.0);
                        s = _mm256_setr_pd(st[j], st[j + 1], 0.0, 0.0);
                    }
                    const __m256d sw = _mm256_permute_pd(xv, 0x5);
                    store4(a + j, _mm256_cvtpd_ps(_mm256_fmadd_pd(xv, c, _mm256_mul_pd(sw, s))), left);
                }
            }
        }
    }
}

/* 8 keys/values of one position as floats (cnt < 8: zero-padded). */
INLINE __m256 kv_load(const void *base, uint32_t kv_type, int64_t off, int64_t cnt)
{
    if (kv_type == BITNET_TYPE_F16) {
        const uint16_t *p = (const uint16_t *)base + off;
        if (cnt >= 8)
            return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
        uint16_t t[8] = {0};
        memcpy(t, p, sizeof(uint16_t) * (size_t)cnt);
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)t));
    }
    return load8((const float *)base + off, cnt);
}

INLINE float score(const float *q, const void *k, uint32_t kv_type, int64_t off, int64_t head_dim)
{
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t d = 0;
    for (; d + 16 <= head_dim; d += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), kv_load(k, kv_type, off + d, 8), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d + 8), kv_load(k, kv_type, off + d + 8, 8), acc1);
    }
    for (; d < head_dim; d += 8)
        acc0 = _mm256_fmadd_ps(load8(q + d, head_dim - d), kv_load(k, kv_type, off + d, head_dim - d), acc0);
    return hsum256(_mm256_add_ps(acc0, acc1));
}

#define ATT_CH 8 /* output vectors (of 8 dims) kept in registers */

void bn_avx2_attention(const float *q, const void *k, const void *v, uint32_t kv_type, int64_t stride,
                       int64_t n_pos, int64_t head_dim, float scale, float *out, float *scratch)
{
    if (n_pos <= 0) {
        for (int64_t d = 0; d < head_dim; d++)
            out[d] = NAN; /* the reference divides 0 by 0 */
        return;
    }
    float mx = -INFINITY;
    const size_t elem = kv_type == BITNET_TYPE_F16 ? 2 : 4;
    for (int64_t p = 0; p < n_pos; p++) {
        bn_kv_prefetch(k, v, elem, stride, p, n_pos, head_dim);
        scratch[p] = score(q, k, kv_type, p * stride, head_dim) * scale;
        mx = scratch[p] > mx ? scratch[p] : mx;
    }
    const __m256 vmx = _mm256_set1_ps(mx);
    __m256 vsum = _mm256_setzero_ps();
    int64_t p = 0;
    for (; p + 8 <= n_pos; p += 8) {
        const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(scratch + p), vmx));
        _mm256_storeu_ps(scratch + p, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    float sum = hsum256(vsum);
    if (p < n_pos) {
        float t[8];
        _mm256_storeu_ps(t, exp256(_mm256_sub_ps(load8(scratch + p, n_pos - p), vmx)));
        for (int64_t i = 0; i < n_pos - p; i++) {
            scratch[p + i] = t[i];
            sum += t[i];
        }
    }
    const __m256 vsum_b = _mm256_set1_ps(sum);
    /* out = sum_p e_p v_p / sum, ATT_CH*8 dims at a time */
    for (int64_t d0 = 0; d0 < head_dim; d0 += 8 * ATT_CH) {
        __m256 acc[ATT_CH];
        int nv = 0;
        for (; nv < ATT_CH && d0 + 8 * nv < head_dim; nv++)
            acc[nv] = _mm256_setzero_ps();
        if (nv == ATT_CH && d0 + 8 * ATT_CH <= head_dim) {
            for (int64_t i = 0; i < n_pos; i++) {
                const __m256 e = _mm256_set1_ps(scratch[i]);
                for (int j = 0; j < ATT_CH; j++)
                    acc[j] = _mm256_fmadd_ps(e, kv_load(v, kv_type, i * stride + d0 + 8 * j, 8), acc[j]);
            }
        } else {
            for (int64_t i = 0; i < n_pos; i++) {
                const __m256 e = _mm256_set1_ps(scratch[i]);
                for (int j = 0; j < nv; j++)
                    acc[j] = _mm256_fmadd_ps(e, kv_load(v, kv_type, i * stride + d0 + 8 * j, head_dim - d0 - 8 * j),
                                             acc[j]);
            }
        }
        for (int j = 0; j < nv; j++)
            store8(out + d0 + 8 * j, _mm256_div_ps(acc[j], vsum_b), head_dim - d0 - 8 * j);
    }
}

void bn_avx2_silu_mul(const float *g, const float *u, float *y, int64_t n)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    for (int64_t i = 0; i < n; i += 8) {
        const __m256 a = load8(g + i, n - i), b = load8(u + i, n - i);
        const __m256 s = _mm256_div_ps(a, _mm256_add_ps(one, exp256(_mm256_sub_ps(_mm256_setzero_ps(), a))));
        store8(y + i, _mm256_mul_ps(s, b), n - i);
    }
}

void bn_avx2_relu2_mul(const float *g, const float *u, float *y, int64_t n)
{
    /* in double: a*a is exact, so one rounding as in the reference */
    const __m256d zero = _mm256_setzero_pd();
    for (int64_t i = 0; i < n; i += 4) {
        const __m256d a = _mm256_max_pd(_mm256_cvtps_pd(load4(g + i, n - i)), zero);
        const __m256d b = _mm256_cvtps_pd(load4(u + i, n - i));
        store4(y + i, _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_mul_pd(a, a), b)), n - i);
    }
}

void bn_avx2_store_f16(const float *x, int64_t n, uint16_t *out)
{
    /* vcvtps2ph with an explicit rounding mode ignores MXCSR: nearest even,
     * NaNs quieted keeping their top payload bits, as bn_fp32_to_fp16 */
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(out + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    if (i < n) {
        float tail[8] = {0};
        uint16_t h[8];
        memcpy(tail, x + i, (size_t)(n - i) * sizeof *tail);
        _mm_storeu_si128((__m128i *)h,
                         _mm256_cvtps_ph(_mm256_loadu_ps(tail), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        memcpy(out + i, h, (size_t)(n - i) * sizeof *h);
    }
}
