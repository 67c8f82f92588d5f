/* x86 ternary kernels (kernels/x86/ternary_*.c) against the scalar
 * reference: matmul_i8 over I2_S, TQ2_0 and TQ1_0, and quantize_i8.
 *
 * The kernels promise bit-identical results to bn_ref_matmul_i8 (exact
 * int32 block sums, then the reference's double arithmetic in the same
 * order), so every comparison here is exact: the error bound is 0. Each
 * test is skipped at run time on a CPU without the kernel's ISA. */
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
#include "kernels/x86/ternary.h"
#include "quant/quant.h"

typedef bool (*matmul_i8_fn)(const bitnet_weights *w, const int8_t *xq, int64_t ldx, const float *x_scale,
                             int64_t n_batch, float *y, int64_t ldy, int64_t r0, int64_t r1, void *scratch);
typedef void (*quantize_i8_fn)(const float *x, int64_t n, int8_t *q, float *scale);

typedef struct {
    const char *name;
    bool (*supported)(void);
    matmul_i8_fn matmul;
    quantize_i8_fn quantize;
} kernel;

static bool has_avx2(void)
{
    __builtin_cpu_init();
    return bn_x86_has_avx2();
}

static bool has_avx512(void)
{
    return bn_x86_has_avx512();
}

static const kernel K_AVX2 = {"avx2", has_avx2, bn_avx2_matmul_i8, bn_avx2_quantize_i8};
static const kernel K_AVX512 = {"avx512", has_avx512, bn_avx512_matmul_i8, bn_avx512_quantize_i8};

#define REQUIRE_ISA(k)                                                              \
    do {                                                                            \
        if (!(k)->supported()) {                                                    \
            print_message("[  SKIP    ] this CPU lacks the %s ISA\n", (k)->name); \
            skip();                                                                 \
        }                                                                           \
    } while (0)

/* ---- random numbers (xorshift64*, fixed seed: reproducible) ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static int64_t rnd_int(int64_t lo, int64_t hi) /* inclusive */
{
    return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static double rnd_unit(void)
{
    return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0);
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* ---- weights ---- */

typedef struct {
    bitnet_weights w;
    uint8_t *buf; /* the packed bytes, `phase` bytes past a cache line */
    uint8_t *mem; /* the allocation */
} weights;

/* Where the packed bytes of the next make_weights start in their cache line:
 * -1 for a random multiple of 16 (GGUF aligns to 32; I2_S tensors start 0 or
 * 32 bytes into a line in practice). */
static int weights_phase = -1;

static int64_t block_elems(uint32_t type)
{
    return bn_type_traits_get(type)->block_elems;
}

/* n_rows x n ternary weights through the library's reference quantizer.
 * TQ types get a different magnitude per 256-block (varied f16 scales);
 * `raw` instead fills the packed bytes at random, which also produces the
 * codes a quantizer never writes (I2_S and TQ2_0 code 3). */
static weights make_weights(uint32_t type, int64_t n_rows, int64_t n, bool raw)
{
    const bn_type_traits *tr = bn_type_traits_get(type);
    weights r;
    const uint64_t bytes = bn_type_tensor_bytes(type, n_rows * n);
    assert_true(bytes > 0);
    const size_t phase = weights_phase >= 0 ? (size_t)weights_phase : (size_t)rnd_int(0, 3) * 16;
    r.mem = aligned_alloc(64, (bytes + 64 + 63) / 64 * 64);
    assert_non_null(r.mem);
    r.buf = r.mem + phase;
    if (raw) {
        for (uint64_t i = 0; i < bytes; i++)
            r.buf[i] = (uint8_t)rnd();
        if (type == BITNET_TYPE_I2_S) {
            const float s = (float)(0.001 + rnd_unit());
            memcpy(r.buf + n_rows * n / 4, &s, sizeof s);
        } else {
            /* finite f16 scales: random mantissa, exponent 1..30, either sign */
            const int64_t nblk = n_rows * n / 256;
            for (int64_t b = 0; b < nblk; b++) {
                uint8_t *d = r.buf + b * tr->block_bytes + tr->block_bytes - 2;
                const uint16_t h = (uint16_t)((rnd() & 0x83FF) | (uint16_t)rnd_int(1, 30) << 10);
                d[0] = (uint8_t)h, d[1] = (uint8_t)(h >> 8);
            }
        }
    } else {
        float *f = malloc((size_t)(n_rows * n) * sizeof *f);
        assert_non_null(f);
        for (int64_t i = 0; i < n_rows * n; i += 256) {
            const double mag = 0.001 + 4.0 * rnd_unit() * rnd_unit();
            for (int64_t k = i; k < i + 256 && k < n_rows * n; k++) {
                const double u = rnd_unit();
                /* mostly clean ternary values, some noise so rounding matters */
                f[k] = (float)(mag * (u < 0.33 ? -1.0 : u < 0.66 ? 0.0 : 1.0) + mag * 0.4 * (rnd_unit() - 0.5));
            }
        }
        tr->quantize(f, r.buf, n_rows, n);
        free(f);
    }
    const int64_t row_bytes = n / tr->block_elems * tr->block_bytes;
    r.w = (bitnet_weights){
        .type = type,
        .data = r.buf,
        .row_bytes = (size_t)row_bytes,
        .tail = type == BITNET_TYPE_I2_S ? r.buf + n_rows * row_bytes : NULL,
        .n = n,
        .n_rows = n_rows,
    };
    return r;
}

/* int8 activations over the whole range, the extremes always present. */
static void fill_act(int8_t *x, int64_t count)
{
    for (int64_t i = 0; i < count; i++)
        x[i] = (int8_t)(rnd() & 0xFF);
    if (count >= 2)
        x[rnd_int(0, count - 1)] = -128, x[rnd_int(0, count - 1)] = 127;
}

/* Scratch of exactly the documented size, at a deliberately odd offset so
 * ASan sees any overrun and the kernel cannot rely on alignment. */
typedef struct {
    uint8_t *mem;
    void *p;
} scratch_buf;

static scratch_buf make_scratch(int64_t n)
{
    const size_t off = (size_t)rnd_int(0, 63), size = (size_t)(4 * n + 1024);
    scratch_buf s;
    s.mem = malloc(size + off);
    assert_non_null(s.mem);
    s.p = s.mem + off;
    return s;
}

#define SENTINEL 0x7FC01234u /* a NaN the kernels never write */

/* One random case: kernel vs reference over random row ranges. */
static void check_case(const kernel *k, uint32_t type, int64_t n, int64_t n_rows, int64_t n_batch, bool raw)
{
    weights W = make_weights(type, n_rows, n, raw);
    const int64_t ldx = n + rnd_int(0, 1) * rnd_int(1, 70), ldy = n_rows + rnd_int(0, 3);
    int8_t *x = malloc((size_t)(n_batch * ldx));
    float *xs = malloc((size_t)n_batch * sizeof *xs);
    float *yr = malloc((size_t)(n_batch * ldy) * sizeof *yr);
    float *yk = malloc((size_t)(n_batch * ldy) * sizeof *yk);
    float *ys = malloc((size_t)(n_batch * ldy) * sizeof *ys);
    void *rs = malloc((size_t)(4 * n + 1024));
    assert_true(x && xs && yr && yk && ys && rs);
    fill_act(x, n_batch * ldx);
    for (int64_t b = 0; b < n_batch; b++)
        xs[b] = (float)(1e-4 + rnd_unit() * 0.05);

    assert_true(bn_backend_ref.matmul_i8(&W.w, x, ldx, xs, n_batch, yr, ldy, 0, n_rows, rs));

    /* all rows at once */
    scratch_buf sc = make_scratch(n);
    assert_true(k->matmul(&W.w, x, ldx, xs, n_batch, yk, ldy, 0, n_rows, sc.p));
    for (int64_t b = 0; b < n_batch; b++)
        for (int64_t r = 0; r < n_rows; r++)
            if (f32_bits(yk[b * ldy + r]) != f32_bits(yr[b * ldy + r]))
                fail_msg("%s type %u n %lld rows %lld batch %lld: y[%lld][%lld] = %.9g, reference %.9g", k->name,
                         type, (long long)n, (long long)n_rows, (long long)n_batch, (long long)b, (long long)r,
                         (double)yk[b * ldy + r], (double)yr[b * ldy + r]);

    /* a random range alone: same bits, nothing outside it written */
    for (int rep = 0; rep < 3; rep++) {
        const int64_t r0 = rnd_int(0, n_rows - 1), r1 = rnd_int(r0 + 1, n_rows);
        for (int64_t i = 0; i < n_batch * ldy; i++)
            memcpy(&ys[i], &(uint32_t){SENTINEL}, sizeof(float));
        assert_true(k->matmul(&W.w, x, ldx, xs, n_batch, ys, ldy, r0, r1, sc.p));
        for (int64_t b = 0; b < n_batch; b++)
            for (int64_t r = 0; r < ldy; r++) {
                const uint32_t want = r >= r0 && r < r1 ? f32_bits(yk[b * ldy + r]) : SENTINEL;
                if (f32_bits(ys[b * ldy + r]) != want)
                    fail_msg("%s type %u rows [%lld,%lld): y[%lld][%lld] bits %08x, want %08x", k->name, type,
                             (long long)r0, (long long)r1, (long long)b, (long long)r,
                             f32_bits(ys[b * ldy + r]), want);
            }
    }
    /* a random split into consecutive ranges (as threads would) */
    for (int64_t r0 = 0; r0 < n_rows;) {
        const int64_t r1 = rnd_int(r0 + 1, n_rows);
        assert_true(k->matmul(&W.w, x, ldx, xs, n_batch, ys, ldy, r0, r1, sc.p));
        r0 = r1;
    }
    for (int64_t b = 0; b < n_batch; b++)
        for (int64_t r = 0; r < n_rows; r++)
            assert_int_equal(f32_bits(ys[b * ldy + r]), f32_bits(yk[b * ldy + r]));

    free(sc.mem);
    free(x), free(xs), free(yr), free(yk), free(ys), free(rs);
    free(W.mem);
}

static const uint32_t TYPES[3] = {BITNET_TYPE_I2_S, BITNET_TYPE_TQ2_0, BITNET_TYPE_TQ1_0};

static void run_matmul_random(const kernel *k)
{
    static const int64_t ns[] = {128, 256, 384, 512, 1152, 2560, 6912};
    for (int t = 0; t < 3; t++)
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
            const int64_t n = ns[i];
            if (n % block_elems(TYPES[t]))
                continue;
            for (int rep = 0; rep < 4; rep++) {
                /* the last repetitions favour the tile edges: 1..3, 16+ rows */
                const int64_t rows = rep == 0 ? rnd_int(1, 5) : rep == 1 ? rnd_int(16, 40) : rnd_int(1, 67);
                const int64_t nb = rep == 2 ? rnd_int(1, 3) : rnd_int(1, 9);
                check_case(k, TYPES[t], n, rows, nb, false);
                check_case(k, TYPES[t], n, rows, nb, rep & 1);
            }
        }
}

/* Prefill-sized batches (several batch chunks of the kernels' scratch), and
 * ranges over several row blocks. */
static void run_matmul_big_batch(const kernel *k)
{
    for (int t = 0; t < 3; t++) {
        check_case(k, TYPES[t], 6912, 9, 150, false);
        check_case(k, TYPES[t], 2560, 23, 130, true);
        check_case(k, TYPES[t], 256, 5, 300, false);
        /* several row blocks, decode and prefill */
        check_case(k, TYPES[t], 512, 300, 1, true);
        check_case(k, TYPES[t], 512, 300, 6, false);
    }
    check_case(k, BITNET_TYPE_I2_S, 128, 7, 400, true);
}

/* I2_S weights at each start within a cache line: 32 bytes in, whole-line
 * rows are read from block 0 alone and then aligned pairs (the AVX-512
 * kernels), which must give the same bits; odd block counts, decode and
 * prefill batches, and edge tiles included. */
static void run_matmul_i2s_phases(const kernel *k)
{
    static const int64_t ns[] = {128, 256, 384, 2560, 6912};
    for (int phase = 0; phase < 64; phase += 16) {
        weights_phase = phase;
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
            check_case(k, BITNET_TYPE_I2_S, ns[i], rnd_int(16, 70), rnd_int(1, 3), rnd_int(0, 1));
            check_case(k, BITNET_TYPE_I2_S, ns[i], rnd_int(1, 40), rnd_int(4, 9), rnd_int(0, 1));
        }
    }
    weights_phase = -1;
}

static void run_matmul_declines(const kernel *k)
{
    uint8_t buf[64 * 34] = {0};
    float xs[2] = {1.0f, 1.0f}, y[8];
    int8_t x[2 * 256] = {0};
    char scratch[4 * 256 + 1024];
    bitnet_weights w = {.type = BITNET_TYPE_Q8_0, .data = buf, .row_bytes = 8 * 34, .n = 256, .n_rows = 2};
    assert_false(k->matmul(&w, x, 256, xs, 1, y, 2, 0, 2, scratch));
    /* I2_S without its tail: the scale is unknown; the reference decides */
    w = (bitnet_weights){.type = BITNET_TYPE_I2_S, .data = buf, .row_bytes = 32, .tail = NULL, .n = 128, .n_rows = 2};
    assert_false(k->matmul(&w, x, 128, xs, 1, y, 2, 0, 2, scratch));
    const float inf = INFINITY;
    memcpy(buf + 64, &inf, sizeof inf);
    w.tail = buf + 64;
    assert_false(k->matmul(&w, x, 128, xs, 1, y, 2, 0, 2, scratch));
    /* n not a whole number of blocks */
    w = (bitnet_weights){.type = BITNET_TYPE_TQ2_0, .data = buf, .row_bytes = 66, .n = 200, .n_rows = 2};
    assert_false(k->matmul(&w, x, 256, xs, 1, y, 2, 0, 2, scratch));
    /* empty ranges are fine */
    w.n = 256;
    assert_true(k->matmul(&w, x, 256, xs, 1, y, 2, 1, 1, scratch));
    assert_true(k->matmul(&w, x, 256, xs, 0, y, 2, 0, 2, scratch));
}

/* ---- quantize_i8 ---- */

static void check_quantize(const kernel *k, const float *x, int64_t n)
{
    int8_t *qr = malloc((size_t)n + 1), *qk = malloc((size_t)n + 1);
    assert_true(qr && qk);
    float sr, sk;
    bn_ref_quantize_i8(x, n, qr, &sr);
    k->quantize(x, n, qk, &sk);
    assert_int_equal(f32_bits(sk), f32_bits(sr));
    for (int64_t i = 0; i < n; i++)
        if (qk[i] != qr[i])
            fail_msg("%s quantize n %lld: q[%lld] = %d, reference %d (x = %.9g)", k->name, (long long)n, (long long)i,
                     qk[i], qr[i], (double)x[i]);
    free(qr), free(qk);
}

static void run_quantize(const kernel *k)
{
    float *x = malloc(7000 * sizeof *x);
    assert_non_null(x);
    /* random lengths and magnitudes, every tail length */
    for (int rep = 0; rep < 300; rep++) {
        const int64_t n = rep < 40 ? rep : rep < 280 ? rnd_int(1, 300) : rnd_int(2000, 7000);
        const double mag = pow(10.0, rnd_int(-7, 4));
        for (int64_t i = 0; i < n; i++)
            x[i] = (float)(mag * (rnd_unit() * 2.0 - 1.0) * (rnd() % 17 == 0 ? 30.0 : 1.0));
        check_quantize(k, x, n);
    }
    /* exact ties: amax 127 (scale 1) and 254 (scale 1/2) give x.5 products,
     * and their float neighbours just below and above */
    for (int a = 0; a < 2; a++) {
        const float amax = a ? 254.0f : 127.0f;
        for (int base = 0; base < 3; base++) {
            int64_t n = 0;
            x[n++] = base == 2 ? -amax : amax;
            for (int v = -254; v <= 254 && n < 6990; v++) {
                const float t = a ? (float)v : (float)v * 0.5f;
                if (fabsf(t) > amax)
                    continue;
                x[n++] = base == 0 ? t : base == 1 ? nextafterf(t, 0.0f) : nextafterf(t, 1000.0f);
            }
            check_quantize(k, x, n);
        }
    }
    /* all zero and tiny: amax clamped to 1e-5 */
    for (int64_t i = 0; i < 37; i++)
        x[i] = 0.0f;
    check_quantize(k, x, 37);
    for (int64_t i = 0; i < 37; i++)
        x[i] = (float)(((int)i - 18) * 1e-7);
    check_quantize(k, x, 37);
    free(x);
}

/* NaN is ignored by the absmax and quantizes to 0 (documented in ternary.h). */
static void run_quantize_nan(const kernel *k)
{
    float x[21];
    int8_t q[21];
    float s;
    for (int i = 0; i < 21; i++)
        x[i] = (float)(i - 10);
    x[3] = NAN, x[20] = NAN;
    k->quantize(x, 21, q, &s);
    assert_int_equal(f32_bits(s), f32_bits((float)(10.0 / 127.0)));
    assert_int_equal(q[3], 0);
    assert_int_equal(q[20], 0);
    assert_int_equal(q[0], -127);
    assert_int_equal(q[19], 114);
}

#define KERNEL_TESTS(K, tag)                                              \
    static void test_matmul_random_##tag(void **st)                       \
    {                                                                     \
        (void)st;                                                         \
        REQUIRE_ISA(&K);                                                  \
        run_matmul_random(&K);                                            \
    }                                                                     \
    static void test_matmul_big_batch_##tag(void **st)                    \
    {                                                                     \
        (void)st;                                                         \
        REQUIRE_ISA(&K);                                                  \
        run_matmul_big_batch(&K);                                         \
    }                                                                     \
    static void test_matmul_i2s_phases_##tag(void **st)                   \
    {                                                                     \
        (void)st;                                                         \
        REQUIRE_ISA(&K);                                                  \
        run_matmul_i2s_phases(&K);                                        \
    }                                                                     \
    static void test_matmul_declines_##tag(void **st)                     \
    {                                                                     \
        (void)st;                                                         \
        REQUIRE_ISA(&K);                                                  \
        run_matmul_declines(&K);                                          \
    }                                                                     \
    static void test_quantize_##tag(void **st)                            \
    {                                                                     \
        (void)st;                                                         \
        REQUIRE_ISA(&K);                                                  \
        run_quantize(&K);                                                 \
    }                                                                     \
    static void test_quantize_nan_##tag(void **st)                        \
    {                                                                     \
        (void)st;                                                         \
        REQUIRE_ISA(&K);                                                  \
        run_quantize_nan(&K);                                             \
    }

KERNEL_TESTS(K_AVX2, avx2)
KERNEL_TESTS(K_AVX512, avx512)

/* AVX-512 TQ1_0 decode has two kernels: table lookups (CPUs with VBMI and
 * GFNI) and base-3 arithmetic; each against the reference, one batch row,
 * canonical and raw (arbitrary) bytes, row counts around the 16-row tile
 * and the 64-row block, ranges as threads split them. */
static void test_tq1_decode_kernels_avx512(void **st)
{
    (void)st;
    REQUIRE_ISA(&K_AVX512);
    static const int64_t ns[] = {256, 512, 2560, 6912};
    static const int64_t rows[] = {1, 15, 16, 17, 48, 64, 65, 130};
    int ran = 0;
    for (int allow = 1; allow >= 0; allow--) {
        if (bn_avx512_tq1_lut_allow(allow) != (bool)allow) {
            print_message("this CPU lacks VBMI/GFNI: the lookup kernel is not tested here\n");
            continue;
        }
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
            for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
                check_case(&K_AVX512, BITNET_TYPE_TQ1_0, ns[i], rows[r], 1, r & 1);
                ran++;
            }
    }
    bn_avx512_tq1_lut_allow(true);
    assert_true(ran > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_random_avx2),     cmocka_unit_test(test_matmul_big_batch_avx2),
        cmocka_unit_test(test_matmul_i2s_phases_avx2), cmocka_unit_test(test_matmul_declines_avx2),
        cmocka_unit_test(test_quantize_avx2),
        cmocka_unit_test(test_quantize_nan_avx2),      cmocka_unit_test(test_matmul_random_avx512),
        cmocka_unit_test(test_matmul_big_batch_avx512), cmocka_unit_test(test_matmul_i2s_phases_avx512),
        cmocka_unit_test(test_matmul_declines_avx512),
        cmocka_unit_test(test_quantize_avx512),        cmocka_unit_test(test_quantize_nan_avx512),
        cmocka_unit_test(test_tq1_decode_kernels_avx512),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
