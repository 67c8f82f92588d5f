/* AVX-512 vector operations: rmsnorm, rope, attention, silu_mul, relu2_mul.
 * Cheap next to the matmuls, so where double costs little (rmsnorm, rope,
 * relu2) it is used to stay within an ulp of the reference. */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "kernels/rope_angles.h"
#include "kernels/x86/kv_prefetch.h"
#include "kernels/x86/quant_simd.h"

#define INLINE static inline __attribute__((always_inline))

INLINE __mmask16 tail16(int64_t left)
{
    return (__mmask16)(left >= 16 ? 0xffff : (1u << left) - 1);
}

INLINE __mmask8 tail8(int64_t left)
{
    return (__mmask8)(left >= 8 ? 0xff : (1u << left) - 1);
}

/* e^x, relative error ~2 ulp: x = n ln2 + r, |r| <= ln2/2, e^r by a
 * degree-7 polynomial (Cephes' expf coefficients), 2^n by scalef, which
 * also underflows gracefully to 0 for very negative x. */
INLINE __m512 exp512(__m512 x)
{
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(88.3762626647949f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

/* Square-sum 16 floats into two double accumulators. */
INLINE void sumsq16(__m512 v, __m512d *s0, __m512d *s1)
{
    const __m512d a = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    const __m512d b = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
    *s0 = _mm512_fmadd_pd(a, a, *s0);
    *s1 = _mm512_fmadd_pd(b, b, *s1);
}

/* x * inv * w for 8 floats, in double, rounded once. */
INLINE __m256 scale8(__m256 x, __m256 w, __m512d inv)
{
    return _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_mul_pd(_mm512_cvtps_pd(x), inv), _mm512_cvtps_pd(w)));
}

/* Full vectors load and store unmasked (masked stores are slow on AMD);
 * only the tail is masked. */
void bn_avx512_rmsnorm(const float *x, const float *w, int64_t n, float eps, float *y)
{
    /* sum of squares in double, as the reference; four chains hide the
     * FMA latency */
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd(), s2 = _mm512_setzero_pd(), s3 = _mm512_setzero_pd();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        sumsq16(_mm512_loadu_ps(x + i), &s0, &s1);
        sumsq16(_mm512_loadu_ps(x + i + 16), &s2, &s3);
    }
    for (; i < n; i += 16)
        sumsq16(_mm512_maskz_loadu_ps(tail16(n - i), x + i), &s0, &s1);
    const double ss = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
    const double inv = 1.0 / sqrt(ss / (double)n + eps);
    const __m512d vinv = _mm512_set1_pd(inv);
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, scale8(_mm256_loadu_ps(x + i), _mm256_loadu_ps(w + i), vinv));
    if (i < n) {
        const __mmask8 m = tail8(n - i);
        _mm256_mask_storeu_ps(y + i, m, scale8(_mm256_maskz_loadu_ps(m, x + i), _mm256_maskz_loadu_ps(m, w + i), vinv));
    }
}

/* Angles in double (the reference's formula, memoized per position);
 * rotation in double too, rounded once to float. Pairs are done in chunks
 * of ROPE_CH. */
#define ROPE_CH 128

void bn_avx512_rope(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, int32_t pos, float freq_base,
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
                for (int64_t j = 0; j < m; j += 8) {
                    const __mmask8 k = tail8(m - j);
                    const __m512d x0 = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(k, a + j));
                    const __m512d x1 = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(k, b + j));
                    const __m512d c = _mm512_maskz_loadu_pd(k, ct + j), s = _mm512_maskz_loadu_pd(k, st + j);
                    _mm256_mask_storeu_ps(a + j, k, _mm512_cvtpd_ps(_mm512_fmsub_pd(x0, c, _mm512_mul_pd(x1, s))));
                    _mm256_mask_storeu_ps(b + j, k, _mm512_cvtpd_ps(_mm512_fmadd_pd(x0, s, _mm512_mul_pd(x1, c))));
                }
            } else {
                float *a = v + 2 * i0;
                for (int64_t j = 0; j < 2 * m; j += 8) {
                    const __mmask8 k = tail8(2 * m - j);
                    const __m512d xv = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(k, a + j));
                    const __m512d c = _mm512_maskz_loadu_pd(k, ct + j), s = _mm512_maskz_loadu_pd(k, st + j);
                    const __m512d sw = _mm512_permute_pd(xv, 0x55);
                    _mm256_mask_storeu_ps(a + j, k, _mm512_cvtpd_ps(_mm512_fmadd_pd(xv, c, _mm512_mul_pd(sw, s))));
                }
            }
        }
    }
}

/* 16 keys/values of one position as floats. */
INLINE __m512 kv_load(const void *base, uint32_t kv_type, int64_t off, __mmask16 m)
{
    if (kv_type == BITNET_TYPE_F16)
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)base + off));
    return _mm512_maskz_loadu_ps(m, (const float *)base + off);
}

INLINE float score(const float *q, const void *k, uint32_t kv_type, int64_t off, int64_t head_dim)
{
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t d = 0;
    for (; d + 32 <= head_dim; d += 32) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + d), kv_load(k, kv_type, off + d, 0xffff), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + d + 16), kv_load(k, kv_type, off + d + 16, 0xffff), acc1);
    }
    for (; d < head_dim; d += 16) {
        const __mmask16 m = tail16(head_dim - d);
        acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + d), kv_load(k, kv_type, off + d, m), acc0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

#define ATT_CH 8 /* output vectors (of 16 dims) kept in registers */

void bn_avx512_attention(const float *q, const void *k, const void *v, uint32_t kv_type, int64_t stride,
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
    const __m512 vmx = _mm512_set1_ps(mx);
    __m512 vsum = _mm512_setzero_ps();
    for (int64_t p = 0; p < n_pos; p += 16) {
        const __mmask16 m = tail16(n_pos - p);
        const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, scratch + p), vmx));
        _mm512_mask_storeu_ps(scratch + p, m, e);
        vsum = _mm512_add_ps(vsum, _mm512_maskz_mov_ps(m, e));
    }
    const __m512 vsum_b = _mm512_set1_ps(_mm512_reduce_add_ps(vsum));
    /* out = sum_p e_p v_p / sum, ATT_CH*16 dims at a time */
    for (int64_t d0 = 0; d0 < head_dim; d0 += 16 * ATT_CH) {
        __m512 acc[ATT_CH];
        __mmask16 mk[ATT_CH];
        int nv = 0;
        for (; nv < ATT_CH && d0 + 16 * nv < head_dim; nv++) {
            acc[nv] = _mm512_setzero_ps();
            mk[nv] = tail16(head_dim - d0 - 16 * nv);
        }
        if (nv == ATT_CH && mk[ATT_CH - 1] == 0xffff) {
            for (int64_t p = 0; p < n_pos; p++) {
                const __m512 e = _mm512_set1_ps(scratch[p]);
                for (int i = 0; i < ATT_CH; i++)
                    acc[i] = _mm512_fmadd_ps(e, kv_load(v, kv_type, p * stride + d0 + 16 * i, 0xffff), acc[i]);
            }
        } else {
            for (int64_t p = 0; p < n_pos; p++) {
                const __m512 e = _mm512_set1_ps(scratch[p]);
                for (int i = 0; i < nv; i++)
                    acc[i] = _mm512_fmadd_ps(e, kv_load(v, kv_type, p * stride + d0 + 16 * i, mk[i]), acc[i]);
            }
        }
        for (int i = 0; i < nv; i++)
            _mm512_mask_storeu_ps(out + d0 + 16 * i, mk[i], _mm512_div_ps(acc[i], vsum_b));
    }
}

INLINE __m512 silu_mul16(__m512 a, __m512 b)
{
    const __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), a));
    return _mm512_mul_ps(_mm512_div_ps(a, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), b);
}

void bn_avx512_silu_mul(const float *g, const float *u, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, silu_mul16(_mm512_loadu_ps(g + i), _mm512_loadu_ps(u + i)));
    if (i < n) {
        const __mmask16 m = tail16(n - i);
        _mm512_mask_storeu_ps(y + i, m, silu_mul16(_mm512_maskz_loadu_ps(m, g + i), _mm512_maskz_loadu_ps(m, u + i)));
    }
}

/* in double: a*a is exact, so one rounding as in the reference */
INLINE __m256 relu2_mul8(__m256 g, __m256 u)
{
    const __m512d a = _mm512_max_pd(_mm512_cvtps_pd(g), _mm512_setzero_pd());
    return _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_mul_pd(a, a), _mm512_cvtps_pd(u)));
}

void bn_avx512_relu2_mul(const float *g, const float *u, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, relu2_mul8(_mm256_loadu_ps(g + i), _mm256_loadu_ps(u + i)));
    if (i < n) {
        const __mmask8 m = tail8(n - i);
        _mm256_mask_storeu_ps(y + i, m, relu2_mul8(_mm256_maskz_loadu_ps(m, g + i), _mm256_maskz_loadu_ps(m, u + i)));
    }
}
