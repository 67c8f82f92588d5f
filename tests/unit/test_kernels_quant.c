/* Tests for the x86 float-activation kernels (kernels/x86/quant_*.c and
 * ops_*.c) against the scalar reference backend, for every ISA this CPU
 * has (a missing ISA skips its tests with a message).
 *
 * matmul_f32 bounds, per output y = sum_k w_k x_k, with w_k the weights as
 * the library's own dequantizer reads them:
 *  - F32/F16/BF16 (float32 FMA accumulation): |y - ref| <= 1e-5 sum|w_k x_k|.
 *  - quantized weights: activations are quantized per block B (32 elements
 *    for Q4_0..Q8_1, 256 for K-quants) at two int8 levels, d_B = max_B|x|/127:
 *    q1 = round(x / d_B), q2 = round((x - d_B q1) / (d_B / 256)) clamped to
 *    [-127, 127]. Then |x_k - d_B q1_k - (d_B / 256) q2_k| <= d_B / 256
 *    (d_B / 512 when the clamp does not bite), and the kernel computes
 *    sum w_k (d_B q1_k + d_B/256 q2_k) with exact integer dot products, so
 *        |y - ref| <= sum_B (d_B / 256)(1 + 1e-3) sum_{k in B} |w_k|
 *                     + 1e-5 sum|w_k x_k|
 *    where the 1e-3 covers float rounding of the codes and the last term
 *    the float scaling and accumulation.
 * Also: rows [r0, r1) alone give the same bits as all rows, rows outside
 * are not written, and one batch row alone gives the same bits as within a
 * batch (results depend only on the weight row and the activation row). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kernels/x86/x86_backend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/ref/ref.h"
#include "quant/quant.h"

#if defined(__x86_64__) || defined(_M_X64)
#define HAVE_X86 1
#include "kernels/x86/quant_simd.h"
#else
#define HAVE_X86 0
#endif

/* ---- random numbers ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double unif(void)
{
    return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0);
}

static int64_t irand(int64_t lo, int64_t hi) /* inclusive */
{
    return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static float gauss(void)
{
    double u = unif(), v = unif();
    if (u < 1e-300)
        u = 1e-300;
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* ---- the ISAs under test ---- */

typedef struct isa {
    const char *name;
    bool (*supported)(void);
    bool (*matmul)(const bitnet_weights *, const float *, int64_t, int64_t, float *, int64_t, int64_t, int64_t,
                   void *);
    void (*rmsnorm)(const float *, const float *, int64_t, float, float *);
    void (*rope)(float *, int64_t, int64_t, int64_t, int32_t, float, bool);
    void (*attention)(const float *, const void *, const void *, uint32_t, int64_t, int64_t, int64_t, float, float *,
                      float *);
    void (*silu_mul)(const float *, const float *, float *, int64_t);
    void (*relu2_mul)(const float *, const float *, float *, int64_t);
    void (*store_f16)(const float *, int64_t, uint16_t *);
} isa;

#if HAVE_X86
static bool have_avx2(void)
{
    __builtin_cpu_init();
    return bn_x86_has_avx2();
}

static bool have_avx512(void)
{
    return bn_x86_has_avx512();
}

static const isa isas[] = {
    {"avx2", have_avx2, bn_avx2_matmul_f32, bn_avx2_rmsnorm, bn_avx2_rope, bn_avx2_attention, bn_avx2_silu_mul,
     bn_avx2_relu2_mul, bn_avx2_store_f16},
    {"avx512", have_avx512, bn_avx512_matmul_f32, bn_avx512_rmsnorm, bn_avx512_rope, bn_avx512_attention,
     bn_avx512_silu_mul, bn_avx512_relu2_mul, bn_avx2_store_f16},
};
#define N_ISAS 2
#else
static const isa isas[1];
#define N_ISAS 0
#endif

/* Skips the calling test when the CPU lacks the ISA; returns it otherwise. */
static const isa *need(const isa *s)
{
    if (!s->supported()) {
        printf("SKIP: this CPU lacks %s\n", s->name);
        skip();
    }
    return s;
}

/* ---- matmul ---- */

typedef struct mm_case {
    const isa *s;
    uint32_t type;
    char name[48];
} mm_case;

static bool is_float_type(uint32_t t)
{
    return t == BITNET_TYPE_F32 || t == BITNET_TYPE_F16 || t == BITNET_TYPE_BF16;
}

/* Weights shaped like real layers: per-row magnitude varies, a few
 * outliers, now and then an all-zero row. */
static void gen_weights(float *w, int64_t rows, int64_t n)
{
    for (int64_t r = 0; r < rows; r++) {
        const float s = (float)(0.01 + unif());
        const bool zero = unif() < 0.03;
        for (int64_t k = 0; k < n; k++) {
            float v = gauss() * s;
            if (unif() < 0.002)
                v *= 8.0f;
            w[r * n + k] = zero ? 0.0f : v;
        }
    }
}

/* Activations: some large channels, now and then a zero stretch (a block
 * with max |x| = 0). */
static void gen_acts(float *x, int64_t n)
{
    const float s = (float)(0.1 + 3.0 * unif());
    for (int64_t k = 0; k < n; k++) {
        float v = gauss() * s;
        if (unif() < 0.01)
            v *= 20.0f;
        x[k] = v;
    }
    if (unif() < 0.3) {
        const int64_t a = irand(0, n - 1), len = irand(1, 300);
        for (int64_t k = a; k < n && k < a + len; k++)
            x[k] = 0.0f;
    }
}

static void run_matmul_case(const isa *s, uint32_t type, int64_t n, double *worst)
{
    const bn_type_traits *tr = bn_type_traits_get(type);
    assert_non_null(tr);
    const int64_t rows = irand(1, 67), nb = irand(1, 9);
    const int64_t r0 = irand(0, rows - 1), r1 = irand(r0 + 1, rows);
    const int64_t ldx = n + irand(0, 2) * 7, ldy = rows + irand(0, 3);
    const uint64_t bytes = bn_type_tensor_bytes(type, rows * n);
    assert_true(bytes > 0);

    float *wf = malloc(sizeof(float) * (size_t)(rows * n));
    float *wd = malloc(sizeof(float) * (size_t)(rows * n));
    uint8_t *wq = malloc((size_t)bytes);
    float *x = malloc(sizeof(float) * (size_t)(nb * ldx));
    float *yref = malloc(sizeof(float) * (size_t)(nb * ldy));
    float *yall = malloc(sizeof(float) * (size_t)(nb * ldy));
    float *ypart = malloc(sizeof(float) * (size_t)(nb * ldy));
    float *yone = malloc(sizeof(float) * (size_t)rows);
    /* exactly the promised scratch, deliberately misaligned */
    const size_t scratch_bytes = 4 * (size_t)n + 1024;
    uint8_t *scratch_mem = malloc(scratch_bytes + 4);
    void *scratch = scratch_mem + 4 * (size_t)irand(0, 1);
    void *ref_scratch = malloc(scratch_bytes);
    assert_true(wf && wd && wq && x && yref && yall && ypart && yone && scratch_mem && ref_scratch);

    gen_weights(wf, rows, n);
    tr->quantize(wf, wq, rows, n);
    const size_t row_bytes = (size_t)bytes / (size_t)rows;
    for (int64_t r = 0; r < rows; r++)
        tr->dequantize_row(wq + (size_t)r * row_bytes, wd + r * n, n, NULL);
    for (int64_t b = 0; b < nb; b++) {
        gen_acts(x + b * ldx, n);
        for (int64_t k = n; k < ldx; k++)
            x[b * ldx + k] = NAN; /* padding must never be read */
    }

    const bitnet_weights w = {type, wq, row_bytes, NULL, n, rows};
    assert_true(bn_backend_ref.matmul_f32(&w, x, ldx, nb, yref, ldy, 0, rows, ref_scratch));

    for (int64_t i = 0; i < nb * ldy; i++)
        yall[i] = ypart[i] = -12345.0f;
    assert_true(s->matmul(&w, x, ldx, nb, yall, ldy, 0, rows, scratch));

    const int64_t blk = type >= BITNET_TYPE_Q2_K && type <= BITNET_TYPE_Q6_K ? 256 : 32;
    for (int64_t b = 0; b < nb; b++) {
        const float *xb = x + b * ldx;
        for (int64_t r = 0; r < rows; r++) {
            const float *wr = wd + r * n;
            double sum_abs = 0.0, qerr = 0.0;
            for (int64_t k = 0; k < n; k++)
                sum_abs += fabs((double)wr[k] * xb[k]);
            if (!is_float_type(type)) {
                for (int64_t k0 = 0; k0 < n; k0 += blk) {
                    double amax = 0.0, wabs = 0.0;
                    for (int64_t k = k0; k < k0 + blk; k++) {
                        amax = fmax(amax, fabs((double)xb[k]));
                        wabs += fabs((double)wr[k]);
                    }
                    qerr += amax / 127.0 / 256.0 * (1.0 + 1e-3) * wabs;
                }
            }
            const double tol = qerr + 1e-5 * sum_abs + 1e-30;
            const double err = fabs((double)yall[b * ldy + r] - (double)yref[b * ldy + r]);
            if (!(err <= tol))
                fail_msg("%s %s n=%lld row %lld batch %lld: got %.9g want %.9g (err %.3g > bound %.3g)", s->name,
                         tr->name, (long long)n, (long long)r, (long long)b, yall[b * ldy + r],
                         yref[b * ldy + r], err, tol);
            if (tol > 0.0 && err / tol > *worst)
                *worst = err / tol;
        }
        for (int64_t r = rows; r < ldy; r++)
            assert_true(yall[b * ldy + r] == -12345.0f);
    }

    /* a row range alone: same bits, nothing else written */
    assert_true(s->matmul(&w, x, ldx, nb, ypart, ldy, r0, r1, scratch));
    for (int64_t b = 0; b < nb; b++)
        for (int64_t r = 0; r < ldy; r++) {
            const float got = ypart[b * ldy + r];
            if (r >= r0 && r < r1) {
                if (memcmp(&got, &yall[b * ldy + r], sizeof got) != 0)
                    fail_msg("%s %s n=%lld rows [%lld,%lld) differ from all rows at row %lld batch %lld", s->name,
                             tr->name, (long long)n, (long long)r0, (long long)r1, (long long)r, (long long)b);
            } else {
                assert_true(got == -12345.0f);
            }
        }

    /* one batch row alone: same bits as within the batch */
    const int64_t b1 = irand(0, nb - 1);
    assert_true(s->matmul(&w, x + b1 * ldx, ldx, 1, yone, 1, 0, rows, scratch));
    for (int64_t r = 0; r < rows; r++)
        if (memcmp(&yone[r], &yall[b1 * ldy + r], sizeof(float)) != 0)
            fail_msg("%s %s n=%lld batch row %lld alone differs at row %lld", s->name, tr->name, (long long)n,
                     (long long)b1, (long long)r);

    free(wf);
    free(wd);
    free(wq);
    free(x);
    free(yref);
    free(yall);
    free(ypart);
    free(yone);
    free(scratch_mem);
    free(ref_scratch);
}

static void test_matmul(void **state)
{
    const mm_case *c = *state;
    const isa *s = need(c->s);
    static const int64_t shapes[] = {256, 512, 2560, 6912};
    double worst = 0.0;
    for (int rep = 0; rep < 3; rep++)
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
            run_matmul_case(s, c->type, shapes[i], &worst);
    /* odd block counts (legacy) and ragged tails (float types) */
    if (c->type != BITNET_TYPE_Q2_K && c->type != BITNET_TYPE_Q3_K && c->type != BITNET_TYPE_Q4_K &&
        c->type != BITNET_TYPE_Q5_K && c->type != BITNET_TYPE_Q6_K) {
        run_matmul_case(s, c->type, 32, &worst);
        run_matmul_case(s, c->type, 96, &worst);
        run_matmul_case(s, c->type, 2592, &worst);
    }
    if (is_float_type(c->type)) {
        run_matmul_case(s, c->type, 1, &worst);
        run_matmul_case(s, c->type, 100, &worst);
        run_matmul_case(s, c->type, 2567, &worst);
    }
    printf("%s %s: max |err| / bound = %.3f\n", s->name, bn_type_traits_get(c->type)->name, worst);
}

/* A matrix past the kernels' 8 MiB cache threshold with several batch rows
 * takes the row-blocked path (activations quantized again per block): its
 * rows must equal, bit for bit, the same rows computed as a small range
 * (the unblocked path), and the reference within the bound above. The
 * weights are 64 random rows repeated, so building them stays cheap. */
static void test_matmul_big(void **state)
{
    const isa *s = need(*state);
    static const uint32_t types[] = {BITNET_TYPE_Q8_0, BITNET_TYPE_Q4_K, BITNET_TYPE_Q6_K};
    const int64_t n = 2560, nb = 5;
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        const uint32_t type = types[t];
        const bn_type_traits *tr = bn_type_traits_get(type);
        const size_t row_bytes = (size_t)bn_type_tensor_bytes(type, n);
        const int64_t rows = (int64_t)((((size_t)9 << 20) / row_bytes) + 37);
        float *wf = malloc(sizeof(float) * 64 * (size_t)n), *wd = malloc(sizeof(float) * 64 * (size_t)n);
        uint8_t *wq = malloc(row_bytes * (size_t)rows);
        float *x = malloc(sizeof(float) * (size_t)(nb * n));
        float *yall = malloc(sizeof(float) * (size_t)(nb * rows)), *ywin = malloc(sizeof(float) * (size_t)(nb * rows));
        float *yref = malloc(sizeof(float) * (size_t)(nb * rows));
        void *scratch = malloc(4 * (size_t)n + 1024);
        assert_true(wf && wd && wq && x && yall && ywin && yref && scratch);
        gen_weights(wf, 64, n);
        tr->quantize(wf, wq, 64, n);
        for (int64_t r = 0; r < 64; r++)
            tr->dequantize_row(wq + (size_t)r * row_bytes, wd + r * n, n, NULL);
        for (int64_t r = 64; r < rows; r++)
            memcpy(wq + (size_t)r * row_bytes, wq + (size_t)(r % 64) * row_bytes, row_bytes);
        for (int64_t b = 0; b < nb; b++)
            gen_acts(x + b * n, n);
        const bitnet_weights w = {type, wq, row_bytes, NULL, n, rows};
        assert_true(s->matmul(&w, x, n, nb, yall, rows, 0, rows, scratch));
        const int64_t wins[3] = {0, rows / 2 - 7, rows - 64};
        for (int i = 0; i < 3; i++) {
            const int64_t a = wins[i], e = a + 64;
            assert_true(s->matmul(&w, x, n, nb, ywin, rows, a, e, scratch));
            assert_true(bn_backend_ref.matmul_f32(&w, x, n, nb, yref, rows, a, e, scratch));
            for (int64_t b = 0; b < nb; b++)
                for (int64_t r = a; r < e; r++) {
                    const float got = yall[b * rows + r];
                    if (memcmp(&got, &ywin[b * rows + r], sizeof got) != 0)
                        fail_msg("%s %s: row %lld batch %lld differs between the blocked and plain paths", s->name,
                                 tr->name, (long long)r, (long long)b);
                    const float *wr = wd + (r % 64) * n, *xb = x + b * n;
                    double qerr = 0.0, sum_abs = 0.0;
                    const int64_t blk = type == BITNET_TYPE_Q8_0 ? 32 : 256;
                    for (int64_t k0 = 0; k0 < n; k0 += blk) {
                        double amax = 0.0, wabs = 0.0;
                        for (int64_t k = k0; k < k0 + blk; k++) {
                            amax = fmax(amax, fabs((double)xb[k]));
                            wabs += fabs((double)wr[k]);
                            sum_abs += fabs((double)wr[k] * xb[k]);
                        }
                        qerr += amax / 127.0 / 256.0 * (1.0 + 1e-3) * wabs;
                    }
                    assert_true(fabs((double)got - yref[b * rows + r]) <= qerr + 1e-5 * sum_abs + 1e-30);
                }
        }
        free(wf);
        free(wd);
        free(wq);
        free(x);
        free(yall);
        free(ywin);
        free(yref);
        free(scratch);
    }
}

/* Types the float-activation kernels leave to others (ternary: the int8
 * path) must be declined. */
static void test_declines(void **state)
{
    const isa *s = need(*state);
    static const uint32_t types[] = {BITNET_TYPE_TQ1_0, BITNET_TYPE_TQ2_0, BITNET_TYPE_I2_S, BITNET_TYPE_Q8_K,
                                     BITNET_TYPE_I8};
    uint8_t data[4096] = {0};
    float x[256] = {0}, y[4];
    uint8_t scratch[4 * 256 + 1024];
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const bitnet_weights w = {types[i], data, 64, data, 256, 1};
        assert_false(s->matmul(&w, x, 256, 1, y, 1, 0, 1, scratch));
    }
}

/* ---- vector ops ---- */

/* rmsnorm: sum of squares and scaling in double, one float rounding:
 * |y - ref| <= 2^-22 |ref| (1 ulp either way). */
static void test_rmsnorm(void **state)
{
    const isa *s = need(*state);
    static const int64_t ns[] = {1, 7, 16, 33, 100, 2560, 6912};
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
        const int64_t n = ns[t];
        float *x = malloc(sizeof(float) * (size_t)n), *w = malloc(sizeof(float) * (size_t)n);
        float *y = malloc(sizeof(float) * (size_t)n), *r = malloc(sizeof(float) * (size_t)n);
        assert_true(x && w && y && r);
        for (int64_t i = 0; i < n; i++) {
            x[i] = gauss() * 3.0f;
            w[i] = 1.0f + 0.2f * gauss();
        }
        const float eps = t & 1 ? 1e-5f : 1e-6f;
        bn_ref_rmsnorm(x, w, n, eps, r);
        s->rmsnorm(x, w, n, eps, y);
        for (int64_t i = 0; i < n; i++)
            assert_true(fabsf(y[i] - r[i]) <= 0x1p-22f * fabsf(r[i]));
        s->rmsnorm(x, w, n, eps, x); /* in place */
        assert_memory_equal(x, y, sizeof(float) * (size_t)n);
        free(x);
        free(w);
        free(y);
        free(r);
    }
}

/* rope: angles as the reference (double), rotation in double, one float
 * rounding: |y - ref| <= 2^-22 (|x_a| + |x_b|); dims past n_rot untouched. */
static void test_rope(void **state)
{
    const isa *s = need(*state);
    static const int64_t dims[][2] = {{64, 64}, {128, 128}, {128, 64}, {80, 80}, {96, 32}, {256, 256}, {64, 2}};
    static const int32_t poss[] = {0, 1, 17, 4095, 131071};
    for (size_t t = 0; t < sizeof dims / sizeof dims[0]; t++)
        for (size_t p = 0; p < sizeof poss / sizeof poss[0]; p++)
            for (int neox = 0; neox < 2; neox++) {
                const int64_t hd = dims[t][0], nr = dims[t][1], nh = irand(1, 6);
                const float base = p & 1 ? 500000.0f : 10000.0f;
                float *x = malloc(sizeof(float) * (size_t)(nh * hd)), *a = malloc(sizeof(float) * (size_t)(nh * hd));
                float *b = malloc(sizeof(float) * (size_t)(nh * hd));
                assert_true(x && a && b);
                for (int64_t i = 0; i < nh * hd; i++)
                    x[i] = a[i] = b[i] = gauss();
                bn_ref_rope(a, nh, hd, nr, poss[p], base, neox);
                s->rope(b, nh, hd, nr, poss[p], base, neox);
                for (int64_t h = 0; h < nh; h++)
                    for (int64_t i = 0; i < hd; i++) {
                        const int64_t at = h * hd + i;
                        if (i >= nr) {
                            assert_true(b[at] == x[at]);
                            continue;
                        }
                        const int64_t j = neox ? (i < nr / 2 ? i + nr / 2 : i - nr / 2) : (i ^ 1);
                        const float tol = 0x1p-22f * (fabsf(x[at]) + fabsf(x[h * hd + j]));
                        if (!(fabsf(b[at] - a[at]) <= tol))
                            fail_msg("rope hd=%lld nr=%lld pos=%d neox=%d: [%lld] %.9g vs %.9g", (long long)hd,
                                     (long long)nr, poss[p], neox, (long long)at, b[at], a[at]);
                    }
                free(x);
                free(a);
                free(b);
            }
}

/* attention: scores q.k in float32 (error <= n 2^-24 sum_d |q_d k_d|
 * before scaling, n = head_dim / 16 + 8 accumulation steps), softmax with
 * an exp of ~2 ulp, output a convex combination of v. A score error ds
 * moves a weight by <= 2 ds relative, so
 *   |out_d - ref_d| <= max_p |v_pd| (2 max_p ds_p + 1e-6). */
static void test_attention(void **state)
{
    const isa *s = need(*state);
    static const int64_t hds[] = {64, 128, 80, 256, 40};
    static const int64_t nps[] = {1, 2, 15, 100, 512};
    double worst = 0.0;
    for (size_t t = 0; t < sizeof hds / sizeof hds[0]; t++)
        for (size_t u = 0; u < sizeof nps / sizeof nps[0]; u++)
            for (int f16 = 0; f16 < 2; f16++) {
                const int64_t hd = hds[t], np = nps[u], stride = hd * irand(1, 3) + irand(0, 5);
                const uint32_t kt = f16 ? BITNET_TYPE_F16 : BITNET_TYPE_F32;
                const size_t esz = f16 ? 2 : 4, cnt = (size_t)(stride * (np - 1) + hd);
                float *q = malloc(sizeof(float) * (size_t)hd), *kf = malloc(sizeof(float) * cnt);
                float *vf = malloc(sizeof(float) * cnt);
                void *k = malloc(esz * cnt), *v = malloc(esz * cnt);
                float *out = malloc(sizeof(float) * (size_t)hd), *ref = malloc(sizeof(float) * (size_t)hd);
                float *sc = malloc(sizeof(float) * (size_t)np), *sc2 = malloc(sizeof(float) * (size_t)np);
                assert_true(q && kf && vf && k && v && out && ref && sc && sc2);
                const float spread = (float)(0.5 + 2.0 * unif());
                for (int64_t d = 0; d < hd; d++)
                    q[d] = gauss() * spread;
                for (size_t i = 0; i < cnt; i++) {
                    kf[i] = gauss();
                    vf[i] = gauss() * 2.0f;
                    if (f16) {
                        ((uint16_t *)k)[i] = bn_fp32_to_fp16(kf[i]);
                        ((uint16_t *)v)[i] = bn_fp32_to_fp16(vf[i]);
                        kf[i] = bn_fp16_to_fp32(((uint16_t *)k)[i]);
                        vf[i] = bn_fp16_to_fp32(((uint16_t *)v)[i]);
                    } else {
                        ((float *)k)[i] = kf[i];
                        ((float *)v)[i] = vf[i];
                    }
                }
                const float scale = 1.0f / sqrtf((float)hd);
                bn_ref_attention(q, k, v, kt, stride, np, hd, scale, ref, sc);
                s->attention(q, k, v, kt, stride, np, hd, scale, out, sc2);
                double ds = 0.0;
                for (int64_t p = 0; p < np; p++) {
                    double a = 0.0;
                    for (int64_t d = 0; d < hd; d++)
                        a += fabs((double)q[d] * kf[p * stride + d]);
                    ds = fmax(ds, (double)(hd / 16 + 8) * 0x1p-24 * a * scale + 0x1p-24 * fabs(sc[p]));
                }
                for (int64_t d = 0; d < hd; d++) {
                    double vmax = 0.0;
                    for (int64_t p = 0; p < np; p++)
                        vmax = fmax(vmax, fabs((double)vf[p * stride + d]));
                    const double tol = vmax * (2.0 * ds + 1e-6), err = fabs((double)out[d] - ref[d]);
                    worst = err / tol > worst ? err / tol : worst;
                    if (!(err <= tol))
                        fail_msg("attention hd=%lld np=%lld %s: out[%lld] %.9g vs %.9g (bound %.3g)", (long long)hd,
                                 (long long)np, f16 ? "f16" : "f32", (long long)d, out[d], ref[d], tol);
                }
                free(q);
                free(kf);
                free(vf);
                free(k);
                free(v);
                free(out);
                free(ref);
                free(sc);
                free(sc2);
            }
    printf("%s attention: max |err| / bound = %.3f\n", s->name, worst);
}

/* silu(g) * u with a ~2 ulp exp and a true division:
 * |y - ref| <= 1e-6 |ref| + 1e-30 (the absolute term: g < -87, where the
 * reference underflows toward subnormals). relu(g)^2 * u in double:
 * |y - ref| <= 2^-23 |ref|. Both may be computed in place. */
static void test_glu(void **state)
{
    const isa *s = need(*state);
    static const int64_t ns[] = {1, 5, 16, 31, 100, 6912};
    double worst = 0.0;
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
        const int64_t n = ns[t];
        float *g = malloc(sizeof(float) * (size_t)n), *u = malloc(sizeof(float) * (size_t)n);
        float *y = malloc(sizeof(float) * (size_t)n), *r = malloc(sizeof(float) * (size_t)n);
        float *g2 = malloc(sizeof(float) * (size_t)n);
        assert_true(g && u && y && r && g2);
        for (int64_t i = 0; i < n; i++) {
            g[i] = gauss() * 4.0f;
            if (i % 37 == 3)
                g[i] = (float)(i % 2 ? 95.0 : -95.0) * (float)unif();
            u[i] = gauss();
        }
        bn_ref_silu_mul(g, u, r, n);
        s->silu_mul(g, u, y, n);
        for (int64_t i = 0; i < n; i++) {
            const double tol = 1e-6 * fabs((double)r[i]) + 1e-30, err = fabs((double)y[i] - r[i]);
            worst = err / tol > worst ? err / tol : worst;
            if (!(err <= tol))
                fail_msg("silu_mul g=%.9g u=%.9g: %.9g vs %.9g", g[i], u[i], y[i], r[i]);
        }
        memcpy(g2, g, sizeof(float) * (size_t)n);
        s->silu_mul(g2, u, g2, n);
        assert_memory_equal(g2, y, sizeof(float) * (size_t)n);

        bn_ref_relu2_mul(g, u, r, n);
        s->relu2_mul(g, u, y, n);
        for (int64_t i = 0; i < n; i++)
            if (!(fabsf(y[i] - r[i]) <= 0x1p-23f * fabsf(r[i])))
                fail_msg("relu2_mul g=%.9g u=%.9g: %.9g vs %.9g", g[i], u[i], y[i], r[i]);
        memcpy(g2, u, sizeof(float) * (size_t)n);
        s->relu2_mul(g, g2, g2, n);
        assert_memory_equal(g2, y, sizeof(float) * (size_t)n);
        free(g);
        free(u);
        free(y);
        free(r);
        free(g2);
    }
    printf("%s silu_mul: max |err| / bound = %.3f\n", s->name, worst);
}

/* KV rows to half: bit-identical to bn_fp32_to_fp16 for every kind of
 * float (each half and the midpoints next to it, NaNs with payloads,
 * infinities, float subnormals, random bit patterns), any length, and no
 * write past the end. */
static void test_store_f16(void **state)
{
    const isa *s = need(*state);
    enum { N = 65536 * 4 + 4096 };
    float *x = malloc(sizeof(float) * N);
    uint16_t *got = malloc(sizeof(uint16_t) * (N + 8)), *want = malloc(sizeof(uint16_t) * N);
    assert_true(x && got && want);
    int64_t n = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = bn_fp16_to_fp32((uint16_t)h), g = bn_fp16_to_fp32((uint16_t)(h + 1));
        x[n++] = f;
        if (isfinite(f) && isfinite(g) && (h & 0x7fff) != 0x7bff && (h & 0x7fff) != 0x7fff) {
            const float mid = (float)(((double)f + (double)g) / 2.0); /* exact: 11 + 1 bits */
            x[n++] = mid;
            x[n++] = nextafterf(mid, f);
        } else {
            uint32_t bits = 0x7f800001u + (h << 7) % 0x7fffffu; /* NaN payloads, signalling ones too */
            memcpy(&x[n++], &bits, sizeof bits);
            bits = (h << 4) | (h & 1u) << 31; /* float subnormals and tiny normals */
            memcpy(&x[n++], &bits, sizeof bits);
        }
        uint32_t r = (uint32_t)rnd();
        memcpy(&x[n++], &r, sizeof r);
    }
    while (n < N) {
        uint32_t r = (uint32_t)rnd();
        memcpy(&x[n++], &r, sizeof r);
    }
    for (int64_t i = 0; i < n; i++)
        want[i] = bn_fp32_to_fp16(x[i]);
    for (int64_t len = 0; len <= 17; len++) {
        memset(got, 0xA5, sizeof(uint16_t) * (size_t)(len + 8));
        s->store_f16(x + 3, len, got);
        assert_memory_equal(got, want + 3, sizeof(uint16_t) * (size_t)len);
        for (int k = 0; k < 8; k++)
            assert_int_equal(got[len + k], 0xA5A5);
    }
    s->store_f16(x, n, got);
    for (int64_t i = 0; i < n; i++)
        if (got[i] != want[i]) {
            uint32_t bits;
            memcpy(&bits, &x[i], sizeof bits);
            fail_msg("store_f16 of 0x%08x: 0x%04x, reference 0x%04x", bits, got[i], want[i]);
        }
    printf("%s store_f16: %lld values bit-identical to the reference\n", s->name, (long long)n);
    free(x);
    free(got);
    free(want);
}

/* Non-finite activations (NaN and inf, as garbage weights produce) give
 * garbage out but no undefined behaviour: the code sums of the activation
 * quantizers once overflowed int for them (UBSan, found by fuzz_decode).
 * The reference int8 quantizer maps NaN to code 0. */
static void test_non_finite(void **state)
{
    const isa *s = need(*state);
    static const uint32_t types[] = {BITNET_TYPE_Q8_0, BITNET_TYPE_Q4_0, BITNET_TYPE_Q5_1, BITNET_TYPE_Q2_K,
                                     BITNET_TYPE_Q4_K, BITNET_TYPE_Q6_K, BITNET_TYPE_F16};
    enum { N = 512, ROWS = 4, NB = 3 };
    static float x[NB * N], wf[ROWS * N], y[NB * ROWS];
    static uint8_t wq[ROWS * N * 4];
    static uint8_t scratch[4 * N + 1024];
    for (int i = 0; i < NB * N; i++)
        x[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? (i % 2 ? INFINITY : -INFINITY) : 1e30f;
    gen_weights(wf, ROWS, N);
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        const bn_type_traits *tr = bn_type_traits_get(types[t]);
        tr->quantize(wf, wq, ROWS, N);
        const bitnet_weights w = {types[t], wq, (size_t)bn_type_tensor_bytes(types[t], N), NULL, N, ROWS};
        (void)s->matmul(&w, x, N, NB, y, ROWS, 0, ROWS, scratch);
        (void)bn_backend_ref.matmul_f32(&w, x, N, NB, y, ROWS, 0, ROWS, scratch);
    }
    int8_t q[8];
    float scale;
    const float xs[8] = {NAN, INFINITY, -INFINITY, 1.0f, -1.0f, 0.0f, NAN, 3.0f};
    bn_ref_quantize_i8(xs, 8, q, &scale);
    assert_int_equal(q[0], 0);
    assert_int_equal(q[6], 0);
    printf("%s: non-finite activations handled\n", s->name);
}

#if !HAVE_X86
static void test_not_x86(void **state)
{
    (void)state;
    printf("SKIP: not an x86-64 build\n");
    skip();
}
#endif

int main(void)
{
    static const uint32_t types[] = {
        BITNET_TYPE_F32,  BITNET_TYPE_F16,  BITNET_TYPE_BF16, BITNET_TYPE_Q8_0, BITNET_TYPE_Q8_1,
        BITNET_TYPE_Q4_0, BITNET_TYPE_Q4_1, BITNET_TYPE_Q5_0, BITNET_TYPE_Q5_1, BITNET_TYPE_Q2_K,
        BITNET_TYPE_Q3_K, BITNET_TYPE_Q4_K, BITNET_TYPE_Q5_K, BITNET_TYPE_Q6_K,
    };
    enum { N_TYPES = sizeof types / sizeof types[0], N_OPS = 9 };
    static mm_case cases[2 * N_TYPES];
    static char op_names[2 * N_OPS][48];
    struct CMUnitTest tests[2 * (N_TYPES + N_OPS) + 1];
    size_t nt = 0;
    memset(tests, 0, sizeof tests);
#if HAVE_X86
    static const struct {
        const char *name;
        CMUnitTestFunction fn;
    } ops[N_OPS] = {{"matmul_big", test_matmul_big}, {"declines", test_declines}, {"rmsnorm", test_rmsnorm}, {"rope", test_rope},
                    {"attention", test_attention}, {"silu_relu2_mul", test_glu}, {"non_finite", test_non_finite},
                    {"store_f16", test_store_f16}, {NULL, NULL}};
    for (int i = 0; i < N_ISAS; i++) {
        for (size_t t = 0; t < N_TYPES; t++) {
            mm_case *c = &cases[i * N_TYPES + t];
            c->s = &isas[i];
            c->type = types[t];
            snprintf(c->name, sizeof c->name, "%s_matmul_%s", isas[i].name, bn_type_traits_get(types[t])->name);
            tests[nt].name = c->name;
            tests[nt].test_func = test_matmul;
            tests[nt].initial_state = c;
            nt++;
        }
        for (int o = 0; ops[o].name; o++) {
            snprintf(op_names[i * N_OPS + o], sizeof op_names[0], "%s_%s", isas[i].name, ops[o].name);
            tests[nt].name = op_names[i * N_OPS + o];
            tests[nt].test_func = ops[o].fn;
            tests[nt].initial_state = (void *)&isas[i];
            nt++;
        }
    }
#else
    (void)types;
    (void)cases;
    (void)op_names;
    tests[nt].name = "not_x86";
    tests[nt].test_func = test_not_x86;
    nt++;
#endif
    return _cmocka_run_group_tests("kernels_quant", tests, nt, NULL, NULL);
}
