/* Reference vector operations, computed in double where it keeps them
 * closest to a float64 forward pass. */
#include <math.h>

#include "kernels/ref/ref.h"
#include "kernels/rope_angles.h"
#include "quant/quant.h"

void bn_ref_quantize_i8(const float *x, int64_t n, int8_t *q, float *scale)
{
    double amax = 0.0;
    for (int64_t i = 0; i < n; i++)
        amax = fmax(amax, fabs((double)x[i]));
    if (amax < 1e-5)
        amax = 1e-5;
    const double s = 127.0 / amax;
    for (int64_t i = 0; i < n; i++) {
        double v = round((double)x[i] * s); /* half away from zero */
        v = v > 127.0 ? 127.0 : v < -128.0 ? -128.0 : v;
        q[i] = (int8_t)(v == v ? v : 0.0); /* NaN (a NaN or inf input) -> 0, not UB */
    }
    *scale = (float)(amax / 127.0);
}

void bn_ref_rmsnorm(const float *x, const float *w, int64_t n, float eps, float *y)
{
    double ss = 0.0;
    for (int64_t i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    const double inv = 1.0 / sqrt(ss / (double)n + eps);
    for (int64_t i = 0; i < n; i++)
        y[i] = (float)(x[i] * inv * w[i]);
}

void bn_ref_rope(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, int32_t pos, float freq_base,
                 bool neox)
{
    const bn_rope_angles ang = bn_rope_angles_of(pos, freq_base, n_rot);
    for (int64_t h = 0; h < n_heads; h++) {
        float *v = x + h * head_dim;
        for (int64_t i = 0; i < n_rot / 2; i++) {
            double c, s;
            bn_rope_pair(&ang, i, &c, &s); /* theta_i = pos * base^(-2i / n_rot) */
            const int64_t a = neox ? i : 2 * i, b = neox ? i + n_rot / 2 : 2 * i + 1;
            const double x0 = v[a], x1 = v[b];
            v[a] = (float)(x0 * c - x1 * s);
            v[b] = (float)(x0 * s + x1 * c);
        }
    }
}

static float kv_at(const void *base, uint32_t kv_type, int64_t i)
{
    return kv_type == BITNET_TYPE_F16 ? bn_fp16_to_fp32(((const uint16_t *)base)[i])
                                              : ((const float *)base)[i];
}

void bn_ref_attention(const float *q, const void *k, const void *v, uint32_t kv_type, int64_t stride,
                      int64_t n_pos, int64_t head_dim, float scale, float *out, float *scratch)
{
    double max = -INFINITY;
    for (int64_t p = 0; p < n_pos; p++) {
        double dot = 0.0;
        for (int64_t d = 0; d < head_dim; d++)
            dot += (double)q[d] * kv_at(k, kv_type, p * stride + d);
        scratch[p] = (float)(dot * scale);
        max = fmax(max, scratch[p]);
    }
    double sum = 0.0;
    for (int64_t p = 0; p < n_pos; p++) {
        scratch[p] = (float)exp(scratch[p] - max);
        sum += scratch[p];
    }
    for (int64_t d = 0; d < head_dim; d++) {
        double acc = 0.0;
        for (int64_t p = 0; p < n_pos; p++)
            acc += (double)scratch[p] * kv_at(v, kv_type, p * stride + d);
        out[d] = (float)(acc / sum);
    }
}

void bn_ref_silu_mul(const float *g, const float *u, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const double a = g[i];
        y[i] = (float)(a / (1.0 + exp(-a)) * u[i]);
    }
}

void bn_ref_relu2_mul(const float *g, const float *u, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const double a = g[i] > 0.0f ? g[i] : 0.0;
        y[i] = (float)(a * a * u[i]);
    }
}

void bn_ref_store_f16(const float *x, int64_t n, uint16_t *out)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = bn_fp32_to_fp16(x[i]);
}
