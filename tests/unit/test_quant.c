/* Tests for lib/quant. Golden blocks are assembled byte by byte in this file
 * from the GGUF layouts and their expected values come from the codes and
 * scales chosen here, never from the library's own decoders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant.h"

enum {
    T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q5_0 = 6, T_Q5_1 = 7, T_Q8_0 = 8,
    T_Q8_1 = 9, T_Q2_K = 10, T_Q3_K = 11, T_Q4_K = 12, T_Q5_K = 13, T_Q6_K = 14,
    T_Q8_K = 15, T_I8 = 24, T_I16 = 25, T_I32 = 26, T_BF16 = 30, T_TQ1_0 = 34,
    T_TQ2_0 = 35, T_I2_S = 36,
};

/* Exactly representable f16 / f32 bit patterns used as scales. */
#define H_0_0625 0x2c00u
#define H_0_125 0x3000u
#define H_0_25 0x3400u
#define H_0_5 0x3800u
#define H_1 0x3c00u
#define H_2 0x4000u
#define H_M1 0xbc00u
#define H_M2 0xc000u

/* ---- small helpers ---- */

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)((v >> 8) & 0xff);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)((v >> (8 * i)) & 0xff);
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static float f32_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Half value by definition (ldexp), independent of the library. */
static double half_value(uint32_t h)
{
    int e = (int)((h >> 10) & 31), m = (int)(h & 1023);
    double v;
    if (e == 31)
        v = m ? NAN : INFINITY;
    else if (e == 0)
        v = ldexp(m, -24);
    else
        v = ldexp(1024 + m, e - 25);
    return (h & 0x8000) ? -v : v;
}

static uint64_t rng_state;

static void rng_seed(uint64_t s)
{
    rng_state = s ? s : 0x9e3779b97f4a7c15ull;
}

static uint32_t rng_u32(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static double rng_unit(void)
{
    uint32_t r = rng_u32();
    return (double)r / 4294967296.0;
}

static int rng_int(int lo, int hi)
{
    return lo + (int)(rng_u32() % (uint32_t)(hi - lo + 1));
}

static const bn_type_traits *traits(uint32_t type)
{
    const bn_type_traits *t = bn_type_traits_get(type);
    assert_non_null(t);
    return t;
}

static void dequant(uint32_t type, const void *src, float *dst, int64_t n, const void *tail)
{
    const bn_type_traits *t = traits(type);
    assert_non_null(t->dequantize_row);
    t->dequantize_row(src, dst, n, tail);
}

static void expect_exact(const float *got, const double *want, int n, const char *what)
{
    for (int i = 0; i < n; i++) {
        if ((double)got[i] != want[i] && !(isnan(got[i]) && isnan(want[i])))
            fail_msg("%s[%d]: got %.9g want %.9g", what, i, (double)got[i], want[i]);
    }
}

/* ---- golden blocks: plain types ---- */

static void test_golden_f32(void **state)
{
    (void)state;
    uint8_t b[16];
    put32(b, 0x3fc00000u);      /* 1.5 */
    put32(b + 4, 0xc0100000u);  /* -2.25 */
    put32(b + 8, 0x00000001u);  /* smallest subnormal */
    put32(b + 12, 0xff800000u); /* -inf */
    float y[4];
    dequant(T_F32, b, y, 4, NULL);
    const double want[4] = {1.5, -2.25, ldexp(1.0, -149), -INFINITY};
    expect_exact(y, want, 4, "f32");
}

static void test_golden_f16(void **state)
{
    (void)state;
    const uint16_t h[8] = {0x3c00, 0xc000, 0x0001, 0x7bff, 0x7c00, 0x8000, 0x3555, 0x7e00};
    const double want[8] = {1.0, -2.0, ldexp(1.0, -24), 65504.0, INFINITY, -0.0,
                            1365.0 / 4096.0, NAN};
    uint8_t b[16];
    for (int i = 0; i < 8; i++)
        put16(b + 2 * i, h[i]);
    float y[8];
    dequant(T_F16, b, y, 8, NULL);
    expect_exact(y, want, 8, "f16");
    assert_true(signbit(y[5]));
}

static void test_golden_bf16(void **state)
{
    (void)state;
    const uint16_t h[5] = {0x3f80, 0xc0a0, 0x0001, 0x7f80, 0x7fc1};
    const double want[5] = {1.0, -5.0, ldexp(1.0, -133), INFINITY, NAN};
    uint8_t b[10];
    for (int i = 0; i < 5; i++)
        put16(b + 2 * i, h[i]);
    float y[5];
    dequant(T_BF16, b, y, 5, NULL);
    expect_exact(y, want, 5, "bf16");
}

static void test_golden_ints(void **state)
{
    (void)state;
    const uint8_t i8[4] = {0x80, 0x7f, 0xff, 0x00};
    const uint8_t i16[6] = {0x00, 0x80, 0xff, 0x7f, 0xfe, 0xff};
    const uint8_t i32[8] = {0xc0, 0x1d, 0xfe, 0xff, 0xff, 0xff, 0xff, 0x7f};
    float y[4];
    dequant(T_I8, i8, y, 4, NULL);
    expect_exact(y, (const double[]){-128, 127, -1, 0}, 4, "i8");
    dequant(T_I16, i16, y, 3, NULL);
    expect_exact(y, (const double[]){-32768, 32767, -2}, 3, "i16");
    dequant(T_I32, i32, y, 2, NULL);
    expect_exact(y, (const double[]){-123456, 2147483648.0}, 2, "i32");
}

/* ---- golden blocks: 32-element formats ----
 * Element j < 16 is the low nibble of qs[j], element j >= 16 the high nibble
 * of qs[j-16]; 5-bit formats add bit j of the little-endian qh word. */

static int nibble_at(const uint8_t *qs, int j)
{
    return j < 16 ? (qs[j] & 0xf) : (qs[j - 16] >> 4);
}

static void test_golden_q4_0(void **state)
{
    (void)state;
    uint8_t b[36];
    put16(b, H_0_5);
    for (int j = 0; j < 16; j++)
        b[2 + j] = (uint8_t)(j | ((15 - j) << 4));
    put16(b + 18, H_M2); /* second block: stride is 18 bytes */
    memset(b + 20, 0x8f, 16);
    double want[64];
    for (int j = 0; j < 32; j++) {
        want[j] = (nibble_at(b + 2, j) - 8) * 0.5;
        want[32 + j] = j < 16 ? 7 * -2.0 : 0.0;
    }
    float y[64];
    dequant(T_Q4_0, b, y, 64, NULL);
    expect_exact(y, want, 64, "q4_0");
    assert_true(y[0] == -4.0f && y[16] == 3.5f && y[31] == -4.0f && y[32] == -14.0f);
}

static void test_golden_q4_1(void **state)
{
    (void)state;
    uint8_t b[20];
    put16(b, H_0_25);
    put16(b + 2, H_M1);
    for (int j = 0; j < 16; j++)
        b[4 + j] = (uint8_t)(((j * 7) & 15) | (((j * 3) & 15) << 4));
    double want[32];
    for (int j = 0; j < 32; j++)
        want[j] = nibble_at(b + 4, j) * 0.25 - 1.0;
    float y[32];
    dequant(T_Q4_1, b, y, 32, NULL);
    expect_exact(y, want, 32, "q4_1");
    assert_true(y[1] == 0.75f && y[17] == -0.25f);
}

static void fill_q5_bits(uint8_t *qh, uint8_t *qs)
{
    const uint8_t h[4] = {0x0f, 0xf0, 0x5a, 0x81};
    memcpy(qh, h, 4);
    for (int j = 0; j < 16; j++)
        qs[j] = (uint8_t)(j | (j << 4));
}

static int q5_code(const uint8_t *qh, const uint8_t *qs, int j)
{
    uint32_t word = get32(qh);
    return nibble_at(qs, j) | (int)(((word >> j) & 1u) << 4);
}

static void test_golden_q5_0(void **state)
{
    (void)state;
    uint8_t b[22];
    put16(b, H_1);
    fill_q5_bits(b + 2, b + 6);
    double want[32];
    for (int j = 0; j < 32; j++)
        want[j] = q5_code(b + 2, b + 6, j) - 16;
    float y[32];
    dequant(T_Q5_0, b, y, 32, NULL);
    expect_exact(y, want, 32, "q5_0");
    /* qh = 0x815af00f: bit 0 set, 4 clear, 15 set, 16 clear, 17 set, 31 set */
    assert_true(y[0] == 0.0f && y[4] == -12.0f && y[15] == 15.0f);
    assert_true(y[16] == -16.0f && y[17] == 1.0f && y[31] == 15.0f);
}

static void test_golden_q5_1(void **state)
{
    (void)state;
    uint8_t b[24];
    put16(b, H_0_5);
    put16(b + 2, H_2);
    fill_q5_bits(b + 4, b + 8);
    double want[32];
    for (int j = 0; j < 32; j++)
        want[j] = q5_code(b + 4, b + 8, j) * 0.5 + 2.0;
    float y[32];
    dequant(T_Q5_1, b, y, 32, NULL);
    expect_exact(y, want, 32, "q5_1");
    assert_true(y[15] == 17.5f && y[16] == 2.0f && y[31] == 17.5f);
}

static void test_golden_q8_0_q8_1(void **state)
{
    (void)state;
    uint8_t b0[34], b1[36];
    put16(b0, H_0_125);
    put16(b1, H_0_0625);
    put16(b1 + 2, 0x1234); /* s: only used by dot products */
    double w0[32], w1[32];
    for (int j = 0; j < 32; j++) {
        int q0 = j * 8 - 128, q1 = 127 - 8 * j;
        b0[2 + j] = (uint8_t)(q0 & 0xff);
        b1[4 + j] = (uint8_t)(q1 & 0xff);
        w0[j] = q0 * 0.125;
        w1[j] = q1 * 0.0625;
    }
    float y[32];
    dequant(T_Q8_0, b0, y, 32, NULL);
    expect_exact(y, w0, 32, "q8_0");
    assert_true(y[0] == -16.0f);
    dequant(T_Q8_1, b1, y, 32, NULL);
    expect_exact(y, w1, 32, "q8_1");
}

/* ---- golden blocks: K-quants ----
 * Random codes and scales are chosen here, packed by the spec, and the
 * expected values computed from the chosen numbers. Scales are powers of two
 * so every product is exact in float. */

/* 2-bit codes of Q2_K/Q3_K: element i at qs[32*(i/128) + i%32], bits 2*((i%128)/32). */
static void spec_put_2bit(uint8_t *qs, int i, int code)
{
    qs[32 * (i / 128) + i % 32] |= (uint8_t)((code & 3) << (2 * ((i % 128) / 32)));
}

static void test_golden_q2_k(void **state)
{
    (void)state;
    uint8_t b[84] = {0};
    int code[256], sc[16], mn[16];
    for (int j = 0; j < 16; j++) {
        sc[j] = rng_int(0, 15);
        mn[j] = rng_int(0, 15);
        b[j] = (uint8_t)(sc[j] | (mn[j] << 4));
    }
    for (int i = 0; i < 256; i++) {
        code[i] = rng_int(0, 3);
        spec_put_2bit(b + 16, i, code[i]);
    }
    put16(b + 80, H_0_5);  /* d */
    put16(b + 82, H_0_25); /* dmin */
    double want[256];
    for (int i = 0; i < 256; i++)
        want[i] = 0.5 * sc[i / 16] * code[i] - 0.25 * mn[i / 16];
    float y[256];
    dequant(T_Q2_K, b, y, 256, NULL);
    expect_exact(y, want, 256, "q2_k random");

    /* Hand-built: only sub-block 11 has scale 3 / min 2; element 181 sits
     * in qs[53] bits 2-3 (half 1, group 1, lane 21) with code 3. */
    memset(b, 0, sizeof b);
    b[11] = 0x23;
    b[16 + 53] = 0x0c;
    put16(b + 80, H_0_5);
    put16(b + 82, H_1);
    dequant(T_Q2_K, b, y, 256, NULL);
    for (int i = 0; i < 256; i++) {
        double w = (i == 181) ? 0.5 * 3 * 3 - 2.0 : (i / 16 == 11 ? -2.0 : 0.0);
        if ((double)y[i] != w)
            fail_msg("q2_k hand[%d]: got %g want %g", i, (double)y[i], w);
    }
}

/* Q3_K scales: value+32 as 6 bits; low nibble in byte j%8 (low nibble for
 * j < 8, high nibble otherwise), top 2 bits in byte 8 + j%4 at bit 2*(j/4). */
static void spec_put_q3_scale(uint8_t *s, int j, int scale)
{
    int v = scale + 32;
    s[j % 8] |= (uint8_t)((v & 0xf) << (j < 8 ? 0 : 4));
    s[8 + j % 4] |= (uint8_t)(((v >> 4) & 3) << (2 * (j / 4)));
}

static void test_golden_q3_k(void **state)
{
    (void)state;
    uint8_t b[110] = {0};
    uint8_t *hmask = b, *qs = b + 32, *scales = b + 96;
    int code[256], sc[16];
    for (int j = 0; j < 16; j++) {
        sc[j] = rng_int(-32, 31);
        spec_put_q3_scale(scales, j, sc[j]);
    }
    for (int i = 0; i < 256; i++) {
        code[i] = rng_int(-4, 3);
        spec_put_2bit(qs, i, code[i] + 4);
        if (code[i] >= 0) /* hmask set: no -4 offset */
            hmask[i % 32] |= (uint8_t)(1u << (i / 32));
    }
    put16(b + 108, H_0_5);
    double want[256];
    for (int i = 0; i < 256; i++)
        want[i] = 0.5 * sc[i / 16] * code[i];
    float y[256];
    dequant(T_Q3_K, b, y, 256, NULL);
    expect_exact(y, want, 256, "q3_k random");

    /* Hand-built: scale 13 = 27 (59 = 0b111011: low nibble 0xb in byte 5's
     * high half, top bits 3 at byte 9 bits 6-7); every other scale byte is 0,
     * i.e. scale -32. Element 210 (half 1, group 2, lane 18): qs[50] bits 4-5
     * = 3 and hmask[18] bit 6 set -> code 3. */
    memset(b, 0, sizeof b);
    scales[5] = 0xb0;
    scales[9] = 0xc0;
    qs[50] = 0x30;
    hmask[18] = 0x40;
    put16(b + 108, H_0_5);
    dequant(T_Q3_K, b, y, 256, NULL);
    for (int i = 0; i < 256; i++) {
        double w = i / 16 == 13 ? 0.5 * 27 * -4 : 0.5 * -32 * -4;
        if (i == 210)
            w = 0.5 * 27 * 3;
        if ((double)y[i] != w)
            fail_msg("q3_k hand[%d]: got %g want %g", i, (double)y[i], w);
    }
}

/* Q4_K/Q5_K scales: bytes 0-3 hold scale 0-3 (bits 0-5) and the top 2 bits
 * of scale 4-7 (bits 6-7); bytes 4-7 the same for the mins; bytes 8-11 the
 * low nibbles of scale 4-7 (low half) and min 4-7 (high half). */
static void spec_put_k_scales(uint8_t *s, const int sc[8], const int mn[8])
{
    for (int k = 0; k < 4; k++) {
        s[k] = (uint8_t)(sc[k] | ((sc[k + 4] >> 4) << 6));
        s[k + 4] = (uint8_t)(mn[k] | ((mn[k + 4] >> 4) << 6));
        s[k + 8] = (uint8_t)((sc[k + 4] & 0xf) | ((mn[k + 4] & 0xf) << 4));
    }
}

/* 4-bit codes: element i at qs[32*(i/64) + i%32], high nibble for odd i/32. */
static void spec_put_4bit(uint8_t *qs, int i, int code)
{
    qs[32 * (i / 64) + i % 32] |= (uint8_t)((code & 0xf) << ((i / 32) % 2 ? 4 : 0));
}

static void random_k_scales(int sc[8], int mn[8])
{
    for (int j = 0; j < 8; j++) {
        sc[j] = rng_int(0, 63);
        mn[j] = rng_int(0, 63);
    }
    sc[6] = 63; /* make sure the high bits of j >= 4 are exercised */
    mn[5] = 62;
}

static void test_golden_q4_k(void **state)
{
    (void)state;
    uint8_t b[144] = {0};
    int code[256], sc[8], mn[8];
    random_k_scales(sc, mn);
    put16(b, H_0_5);
    put16(b + 2, H_0_25);
    spec_put_k_scales(b + 4, sc, mn);
    for (int i = 0; i < 256; i++) {
        code[i] = rng_int(0, 15);
        spec_put_4bit(b + 16, i, code[i]);
    }
    double want[256];
    for (int i = 0; i < 256; i++)
        want[i] = 0.5 * sc[i / 32] * code[i] - 0.25 * mn[i / 32];
    float y[256];
    dequant(T_Q4_K, b, y, 256, NULL);
    expect_exact(y, want, 256, "q4_k random");

    /* Hand-built: sub-block 5 has scale 45 (0b101101) and min 50 (0b110010):
     * byte 9 = 0x2d, top bits 2 -> byte 1 = 0x80, top bits 3 -> byte 5 =
     * 0xc0. Element 163 (chunk 2, lane 3, high nibble) has code 7. */
    memset(b, 0, sizeof b);
    put16(b, H_1);
    put16(b + 2, H_0_5);
    b[4 + 9] = 0x2d;
    b[4 + 1] = 0x80;
    b[4 + 5] = 0xc0;
    b[16 + 64 + 3] = 0x70;
    dequant(T_Q4_K, b, y, 256, NULL);
    for (int i = 0; i < 256; i++) {
        double w = i / 32 == 5 ? -25.0 : 0.0;
        if (i == 163)
            w = 45.0 * 7 - 25.0;
        if ((double)y[i] != w)
            fail_msg("q4_k hand[%d]: got %g want %g", i, (double)y[i], w);
    }
}

static void test_golden_q5_k(void **state)
{
    (void)state;
    uint8_t b[176] = {0};
    int code[256], sc[8], mn[8];
    random_k_scales(sc, mn);
    put16(b, H_0_25);
    put16(b + 2, H_0_5);
    spec_put_k_scales(b + 4, sc, mn);
    for (int i = 0; i < 256; i++) {
        code[i] = rng_int(0, 31);
        spec_put_4bit(b + 48, i, code[i]);
        b[16 + i % 32] |= (uint8_t)(((code[i] >> 4) & 1) << (i / 32)); /* qh */
    }
    double want[256];
    for (int i = 0; i < 256; i++)
        want[i] = 0.25 * sc[i / 32] * code[i] - 0.5 * mn[i / 32];
    float y[256];
    dequant(T_Q5_K, b, y, 256, NULL);
    expect_exact(y, want, 256, "q5_k random");

    /* Hand-built as for Q4_K, plus qh[3] bit 5 -> element 163 code 23. */
    memset(b, 0, sizeof b);
    put16(b, H_1);
    put16(b + 2, H_0_5);
    b[4 + 9] = 0x2d;
    b[4 + 1] = 0x80;
    b[4 + 5] = 0xc0;
    b[16 + 3] = 0x20;
    b[48 + 64 + 3] = 0x70;
    dequant(T_Q5_K, b, y, 256, NULL);
    for (int i = 0; i < 256; i++) {
        double w = i / 32 == 5 ? -25.0 : 0.0;
        if (i == 163)
            w = 45.0 * 23 - 25.0;
        if ((double)y[i] != w)
            fail_msg("q5_k hand[%d]: got %g want %g", i, (double)y[i], w);
    }
}

/* Q6_K: per 128-element half h and lane l, elements l, l+32, l+64, l+96
 * share ql[64h+l] (low/high nibble: +0/+64), ql[64h+32+l] (+32/+96) and
 * qh[32h+l] (2 bits each, in that order). */
static void spec_put_q6(uint8_t *ql, uint8_t *qh, const int code[256])
{
    for (int h = 0; h < 2; h++) {
        for (int l = 0; l < 32; l++) {
            int u[4];
            for (int g = 0; g < 4; g++)
                u[g] = code[128 * h + 32 * g + l] + 32;
            ql[64 * h + l] = (uint8_t)((u[0] & 0xf) | ((u[2] & 0xf) << 4));
            ql[64 * h + 32 + l] = (uint8_t)((u[1] & 0xf) | ((u[3] & 0xf) << 4));
            qh[32 * h + l] = (uint8_t)((u[0] >> 4) | ((u[1] >> 4) << 2) | ((u[2] >> 4) << 4) |
                                       ((u[3] >> 4) << 6));
        }
    }
}

static void test_golden_q6_k(void **state)
{
    (void)state;
    uint8_t b[210] = {0};
    int code[256], sc[16];
    for (int i = 0; i < 256; i++)
        code[i] = rng_int(-32, 31);
    for (int j = 0; j < 16; j++) {
        sc[j] = rng_int(-128, 127);
        b[192 + j] = (uint8_t)(sc[j] & 0xff);
    }
    sc[3] = -128;
    b[192 + 3] = 0x80;
    spec_put_q6(b, b + 128, code);
    put16(b + 208, H_0_25);
    double want[256];
    for (int i = 0; i < 256; i++)
        want[i] = 0.25 * sc[i / 16] * code[i];
    float y[256];
    dequant(T_Q6_K, b, y, 256, NULL);
    expect_exact(y, want, 256, "q6_k random");

    /* Hand-built: scale 13 = -7, element 212 (half 1, group 2, lane 20):
     * ql[84] high nibble 5, qh[52] bits 4-5 = 2 -> 37 - 32 = 5. Scale 2 = 3,
     * element 40 (half 0, group 1, lane 8): ql[40] low nibble 15, qh[8]
     * bits 2-3 = 3 -> 63 - 32 = 31. All other codes are 0 - 32. */
    memset(b, 0, sizeof b);
    b[192 + 13] = 0xf9;
    b[192 + 2] = 3;
    b[84] = 0x50;
    b[128 + 52] = 0x20;
    b[40] = 0x0f;
    b[128 + 8] = 0x0c;
    put16(b + 208, H_0_25);
    dequant(T_Q6_K, b, y, 256, NULL);
    for (int i = 0; i < 256; i++) {
        int s = i / 16 == 13 ? -7 : (i / 16 == 2 ? 3 : 0);
        double w = 0.25 * s * -32;
        if (i == 212)
            w = 0.25 * -7 * 5;
        if (i == 40)
            w = 0.25 * 3 * 31;
        if ((double)y[i] != w)
            fail_msg("q6_k hand[%d]: got %g want %g", i, (double)y[i], w);
    }
}

static void test_golden_q8_k(void **state)
{
    (void)state;
    uint8_t b[292] = {0};
    put32(b, 0x3ec00000u); /* f32 0.375 */
    double want[256];
    for (int i = 0; i < 256; i++) {
        int q = rng_int(-128, 127);
        b[4 + i] = (uint8_t)(q & 0xff);
        want[i] = 0.375 * q;
    }
    float y[256];
    dequant(T_Q8_K, b, y, 256, NULL);
    expect_exact(y, want, 256, "q8_k");
}

/* ---- golden blocks: ternary ---- */

/* TQ1_0: a byte stores trits t0..t4 as ceil(v * 256 / 243) with
 * v = t0*81 + t1*27 + t2*9 + t3*3 + t4 (qh bytes: t4 = 0). Groups: qs[0..31]
 * hold elements m + 32k, qs[32..47] elements 160 + m + 16k, qh[0..3]
 * elements 240 + m + 4k (k = trit index). */
static uint8_t spec_tq1_byte(const int t[5])
{
    int v = t[0] * 81 + t[1] * 27 + t[2] * 9 + t[3] * 3 + t[4];
    return (uint8_t)((v * 256 + 242) / 243);
}

static void spec_tq1_pack(uint8_t *blk, const int code[256])
{
    for (int m = 0; m < 32; m++) {
        int t[5];
        for (int k = 0; k < 5; k++)
            t[k] = code[m + 32 * k];
        blk[m] = spec_tq1_byte(t);
    }
    for (int m = 0; m < 16; m++) {
        int t[5];
        for (int k = 0; k < 5; k++)
            t[k] = code[160 + m + 16 * k];
        blk[32 + m] = spec_tq1_byte(t);
    }
    for (int m = 0; m < 4; m++) {
        int t[5] = {0};
        for (int k = 0; k < 4; k++)
            t[k] = code[240 + m + 4 * k];
        blk[48 + m] = spec_tq1_byte(t);
    }
}

static void test_golden_tq1_0(void **state)
{
    (void)state;
    uint8_t b[54];
    int code[256];
    double want[256];
    for (int i = 0; i < 256; i++) {
        code[i] = rng_int(0, 2);
        want[i] = (code[i] - 1) * 2.0;
    }
    spec_tq1_pack(b, code);
    put16(b + 52, H_2);
    float y[256];
    dequant(T_TQ1_0, b, y, 256, NULL);
    expect_exact(y, want, 256, "tq1_0 random");

    /* Hand-built. 128 = all trits 1 (v = 121), 127 = qh all 1 (v = 120).
     * qs[0]: (2,0,1,1,2) v=176 -> 186; qs[40]: (0,2,2,1,0) v=75 -> 80;
     * qh[2]: (2,1,0,2) v=195 -> 206. */
    memset(b, 128, 48);
    memset(b + 48, 127, 4);
    b[0] = 186;
    b[40] = 80;
    b[48 + 2] = 206;
    put16(b + 52, H_1);
    dequant(T_TQ1_0, b, y, 256, NULL);
    static const int hand[][2] = {
        {0, 1},    {32, -1},  {64, 0},   {96, 0},  {128, 1},  /* qs[0] */
        {168, -1}, {184, 1},  {200, 1},  {216, 0}, {232, -1}, /* qs[40] */
        {242, 1},  {246, 0},  {250, -1}, {254, 1},            /* qh[2] */
    };
    for (int i = 0; i < 256; i++)
        want[i] = 0.0;
    for (size_t k = 0; k < sizeof hand / sizeof hand[0]; k++)
        want[hand[k][0]] = hand[k][1];
    expect_exact(y, want, 256, "tq1_0 hand");
}

static void test_golden_tq2_0(void **state)
{
    (void)state;
    uint8_t b[66] = {0};
    int code[256];
    double want[256];
    for (int i = 0; i < 256; i++) {
        code[i] = rng_int(0, 2);
        want[i] = (code[i] - 1) * 0.5;
        spec_put_2bit(b, i, code[i]);
    }
    put16(b + 64, H_0_5);
    float y[256];
    dequant(T_TQ2_0, b, y, 256, NULL);
    expect_exact(y, want, 256, "tq2_0 random");

    /* Hand-built: 0x55 = all codes 1 (zero). qs[39] = 0x24 -> elements
     * 135, 167, 199, 231 get codes 0, 1, 2, 0. qs[0] = 0x57: element 0 gets
     * code 3, which ggml reads as +2d. */
    memset(b, 0x55, 64);
    b[39] = 0x24;
    b[0] = 0x57;
    put16(b + 64, H_2);
    dequant(T_TQ2_0, b, y, 256, NULL);
    for (int i = 0; i < 256; i++)
        want[i] = 0.0;
    want[135] = -2;
    want[199] = 2;
    want[231] = -2;
    want[0] = 4;
    expect_exact(y, want, 256, "tq2_0 hand");
}

/* I2_S: element j of a 128-block in byte j%32 at bits 6 - 2*(j/32); codes
 * 0/1/2 = -1/0/+1, 3 reads as 0; f32 scale in the first 4 tail bytes. */
static void test_golden_i2_s(void **state)
{
    (void)state;
    uint8_t b[64 + 32];
    memset(b, 0x55, 64);
    memset(b + 64, 0xee, 32); /* tail padding is not read */
    b[31] = 0x1b;             /* j=31: 0, j=63: 1, j=95: 2, j=127: 3 */
    b[32 + 5] = 0x87;         /* block 1, j=5: 2, j=37: 0, j=69: 1, j=101: 3 */
    put32(b + 64, 0x3f400000u); /* 0.75 */
    double want[256] = {0};
    want[31] = -0.75;
    want[95] = 0.75;
    want[128 + 5] = 0.75;
    want[128 + 37] = -0.75;
    float y[256];
    dequant(T_I2_S, b, y, 256, b + 64);
    expect_exact(y, want, 256, "i2_s hand");

    /* Random codes, second block dequantized on its own with the same tail. */
    uint8_t r[64 + 32] = {0};
    int code[256];
    for (int i = 0; i < 256; i++) {
        code[i] = rng_int(0, 2);
        int j = i % 128;
        r[32 * (i / 128) + j % 32] |= (uint8_t)(code[i] << (6 - 2 * (j / 32)));
        want[i] = (code[i] - 1) * -1.5;
    }
    put32(r + 64, 0xbfc00000u); /* -1.5: a negative scale just flips signs */
    dequant(T_I2_S, r, y, 256, r + 64);
    expect_exact(y, want, 256, "i2_s random");
    dequant(T_I2_S, r + 32, y, 128, r + 64);
    expect_exact(y, want + 128, 128, "i2_s row 1");
}

/* ---- round trips ---- */

/* Blocks of varied shape: zero, constant, all negative, one spike, then
 * random blocks whose amplitude spans six decades, with some quiet
 * 16-element stretches so sub-block scales round to small codes. */
static void fill_inputs(float *x, int n, int qk)
{
    for (int i = 0; i < n; i++) {
        int blk = i / qk, k = i % qk;
        double amp = pow(10.0, (double)((blk * 7919) % 61) / 10.0 - 3.0);
        double v = (rng_unit() * 2.0 - 1.0) * amp;
        if (blk == 0)
            v = 0.0;
        else if (blk == 1)
            v = 0.3;
        else if (blk == 2)
            v = -fabs(v) - 0.01;
        else if (blk == 3)
            v = (k == qk / 3) ? 5.0 : 0.0;
        else if ((k / 16) % 5 == 2)
            v *= 0.01;
        x[i] = (float)v;
    }
}

/* Per-element error bound from the stored block and the block's inputs. */
typedef double (*bound_fn)(const uint8_t *blk, const float *xb, int j);

/* Quantize n elements, check the output size exactly (canary), dequantize
 * and hold every element to the per-type bound. Returns the relative RMS
 * error over the random blocks. */
static double round_trip(uint32_t type, int nblocks, bound_fn bound)
{
    const bn_type_traits *t = traits(type);
    int qk = t->block_elems, n = nblocks * qk;
    uint64_t size = bn_type_tensor_bytes(type, n);
    assert_true(size > 0);
    float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    uint8_t *q = malloc((size_t)size + 16);
    assert_true(x && y && q);
    fill_inputs(x, n, qk);
    memset(q, 0xa5, (size_t)size + 16);
    t->quantize(x, q, 1, n);
    for (int i = 0; i < 16; i++)
        assert_int_equal(q[size + (uint64_t)i], 0xa5);
    dequant(type, q, y, n, t->tail_bytes ? q + size - (uint64_t)t->tail_bytes : NULL);
    double se = 0.0, sx = 0.0;
    for (int i = 0; i < n; i++) {
        double err = fabs((double)y[i] - (double)x[i]);
        const uint8_t *blk = q + (size_t)(i / qk) * (size_t)t->block_bytes;
        double lim = bound(blk, x + i / qk * qk, i % qk);
        lim += 1e-6 * (fabs((double)x[i]) + lim); /* float evaluation slack */
        if (!(err <= lim))
            fail_msg("%s[%d]: x=%.9g y=%.9g err=%.3g bound=%.3g", t->name, i, (double)x[i],
                     (double)y[i], err, lim);
        if (i >= 4 * qk) {
            se += err * err;
            sx += (double)x[i] * (double)x[i];
        }
    }
    free(x);
    free(y);
    free(q);
    return sqrt(se / sx);
}

static double absmax_of(const float *x, int n)
{
    double a = 0.0;
    for (int i = 0; i < n; i++)
        a = fmax(a, fabs((double)x[i]));
    return a;
}

/* Legacy and TQ quantizers pick codes against the exact scale d and store
 * f16(d); a code c then carries an extra |c| * |f16(d) - d|. */

/* Symmetric, largest magnitude at code -h: half a step, except values past
 * (h - 0.5) steps on the positive side, which clamp to h - 1. */
static double sym_bound(const uint8_t *blk, const float *xb, int j, int h)
{
    double d = absmax_of(xb, 32) / h, d16 = fabs(half_value(get16(blk)));
    double x = fabs((double)xb[j]);
    return 0.5 * d + fmax(0.0, x - (h - 0.5) * d) + h * fabs(d16 - d);
}

static double b_q4_0(const uint8_t *blk, const float *xb, int j)
{
    return sym_bound(blk, xb, j, 8);
}

static double b_q5_0(const uint8_t *blk, const float *xb, int j)
{
    return sym_bound(blk, xb, j, 16);
}

/* Affine: half a step, code times the scale's rounding, plus the min's. */
static double affine_bound(const uint8_t *blk, const float *xb, int qmax)
{
    double mn = xb[0], mx = xb[0];
    for (int i = 1; i < 32; i++) {
        mn = fmin(mn, (double)xb[i]);
        mx = fmax(mx, (double)xb[i]);
    }
    double d = (mx - mn) / qmax;
    double d16 = half_value(get16(blk)), m16 = half_value(get16(blk + 2));
    return 0.5 * d + qmax * fabs(d16 - d) + fabs(m16 - mn);
}

static double b_q4_1(const uint8_t *blk, const float *xb, int j)
{
    (void)j;
    return affine_bound(blk, xb, 15);
}

static double b_q5_1(const uint8_t *blk, const float *xb, int j)
{
    (void)j;
    return affine_bound(blk, xb, 31);
}

static double b_q8(const uint8_t *blk, const float *xb, int j)
{
    (void)j;
    double d = absmax_of(xb, 32) / 127.0;
    return 0.5 * d + 127.0 * fabs(half_value(get16(blk)) - d);
}

static void test_round_trip_legacy(void **state)
{
    (void)state;
    double r;
    r = round_trip(T_Q4_0, 64, b_q4_0);
    assert_true(r < 0.09);
    r = round_trip(T_Q4_1, 64, b_q4_1);
    assert_true(r < 0.09);
    r = round_trip(T_Q5_0, 64, b_q5_0);
    assert_true(r < 0.045);
    r = round_trip(T_Q5_1, 64, b_q5_1);
    assert_true(r < 0.045);
    r = round_trip(T_Q8_0, 64, b_q8);
    assert_true(r < 0.006);
    r = round_trip(T_Q8_1, 64, b_q8);
    assert_true(r < 0.006);
}

static void test_q8_1_sum_field(void **state)
{
    (void)state;
    float x[64];
    uint8_t q[72];
    fill_inputs(x, 64, 16);
    traits(T_Q8_1)->quantize(x, q, 2, 32);
    for (int b = 0; b < 2; b++) {
        const uint8_t *blk = q + 36 * b;
        double d = half_value(get16(blk)), s = half_value(get16(blk + 2)), sum = 0.0;
        for (int j = 0; j < 32; j++)
            sum += (int8_t)blk[4 + j];
        assert_true(fabs(s - d * sum) <= ldexp(fabs(d * sum), -10) + 1e-30);
    }
}

/* K-quant affine formats (Q2_K, Q4_K, Q5_K): with sub-block step dl and
 * super-scales d, dmin, min/max fitting gives |err| <= max(dl/2,
 * dmin/2 + nmax*d/2); the second term covers codes clamped because the
 * quantized scale/min fell short of the sub-block range. */
static double affine_k_bound(double d, double dmin, int sc, int nmax)
{
    return fmax(0.5 * d * sc, 0.5 * dmin + 0.5 * nmax * d);
}

/* Test-side decoder of the Q4_K/Q5_K 6-bit scale/min pairs. */
static void spec_get_k_scale(const uint8_t *s, int j, int *sc, int *mn)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *mn = s[j + 4] & 63;
        return;
    }
    *sc = (s[j + 4] & 15) + 16 * (s[j - 4] >> 6);
    *mn = (s[j + 4] >> 4) + 16 * (s[j] >> 6);
}

static double b_q2_k(const uint8_t *blk, const float *xb, int j)
{
    (void)xb;
    return affine_k_bound(half_value(get16(blk + 80)), half_value(get16(blk + 82)),
                          blk[j / 16] & 15, 3);
}

static double b_q4_k(const uint8_t *blk, const float *xb, int j)
{
    (void)xb;
    int sc, mn;
    spec_get_k_scale(blk + 4, j / 32, &sc, &mn);
    return affine_k_bound(half_value(get16(blk)), half_value(get16(blk + 2)), sc, 15);
}

static double b_q5_k(const uint8_t *blk, const float *xb, int j)
{
    (void)xb;
    int sc, mn;
    spec_get_k_scale(blk + 4, j / 32, &sc, &mn);
    return affine_k_bound(half_value(get16(blk)), half_value(get16(blk + 2)), sc, 31);
}

/* Symmetric K formats (Q3_K, Q6_K), codes [-h, h-1]: the sub-block step dl
 * is within about one super-step d of the ideal one, so a clamped code is off
 * by at most |dl| + h*|d|*(1 + 1/16). */
static double sym_k_bound(double d, int sc, int h)
{
    return fabs(d * sc) + 1.0625 * h * fabs(d);
}

static double b_q3_k(const uint8_t *blk, const float *xb, int j)
{
    (void)xb;
    const uint8_t *s = blk + 96;
    int sub = j / 16;
    int low = sub < 8 ? (s[sub] & 15) : (s[sub - 8] >> 4);
    int sc = low + 16 * ((s[8 + sub % 4] >> (2 * (sub / 4))) & 3) - 32;
    return sym_k_bound(half_value(get16(blk + 108)), sc, 4);
}

static double b_q6_k(const uint8_t *blk, const float *xb, int j)
{
    (void)xb;
    return sym_k_bound(half_value(get16(blk + 208)), (int8_t)blk[192 + j / 16], 32);
}

static double b_q8_k(const uint8_t *blk, const float *xb, int j)
{
    (void)xb;
    (void)j;
    return 0.5 * fabs((double)f32_of(get32(blk)));
}

static void test_round_trip_kquants(void **state)
{
    (void)state;
    double r;
    r = round_trip(T_Q2_K, 24, b_q2_k);
    assert_true(r < 0.35);
    r = round_trip(T_Q3_K, 24, b_q3_k);
    assert_true(r < 0.18);
    r = round_trip(T_Q4_K, 24, b_q4_k);
    assert_true(r < 0.09);
    r = round_trip(T_Q5_K, 24, b_q5_k);
    assert_true(r < 0.045);
    r = round_trip(T_Q6_K, 24, b_q6_k);
    assert_true(r < 0.02);
    r = round_trip(T_Q8_K, 24, b_q8_k);
    assert_true(r < 0.006);
}

static void test_q8_k_bsums(void **state)
{
    (void)state;
    float x[512];
    uint8_t q[584];
    fill_inputs(x, 512, 64);
    traits(T_Q8_K)->quantize(x, q, 1, 512);
    for (int b = 0; b < 2; b++) {
        const uint8_t *blk = q + 292 * b;
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int i = 0; i < 16; i++)
                sum += (int8_t)blk[4 + 16 * g + i];
            assert_int_equal((int16_t)get16(blk + 260 + 2 * g), sum);
        }
    }
}

static double b_tq(const uint8_t *blk, const float *xb, int d_off)
{
    double d = absmax_of(xb, 256);
    return 0.5 * d + fabs(half_value(get16(blk + d_off)) - d);
}

static double b_tq1_0(const uint8_t *blk, const float *xb, int j)
{
    (void)j;
    return b_tq(blk, xb, 52);
}

static double b_tq2_0(const uint8_t *blk, const float *xb, int j)
{
    (void)j;
    return b_tq(blk, xb, 64);
}

static void test_round_trip_ternary_random(void **state)
{
    (void)state;
    round_trip(T_TQ1_0, 16, b_tq1_0);
    round_trip(T_TQ2_0, 16, b_tq2_0);
}

/* Exactly ternary inputs t*s come back as t * f16(s): exact but for the
 * rounding of s, which the block's d field must reflect. */
static void check_ternary_exact(uint32_t type, int d_off, float s)
{
    const bn_type_traits *t = traits(type);
    enum { N = 512 };
    float x[N], y[N];
    int tr[N];
    uint8_t q[2 * 66];
    for (int i = 0; i < N; i++) {
        tr[i] = rng_int(-1, 1);
        x[i] = (float)tr[i] * s;
    }
    /* every block needs its full-scale value */
    tr[7] = 1;
    x[7] = s;
    tr[300] = -1;
    x[300] = -s;
    t->quantize(x, q, 2, N / 2);
    dequant(type, q, y, N, NULL);
    for (int b = 0; b < N / 256; b++) {
        double d = half_value(get16(q + b * t->block_bytes + d_off));
        assert_true(fabs(d - (double)s) <= ldexp((double)s, -11));
        for (int i = 256 * b; i < 256 * b + 256; i++)
            if ((double)y[i] != tr[i] * d)
                fail_msg("%s[%d]: got %g want %g", t->name, i, (double)y[i], tr[i] * d);
    }
}

static void test_round_trip_ternary_exact(void **state)
{
    (void)state;
    check_ternary_exact(T_TQ1_0, 52, 0.75f);
    check_ternary_exact(T_TQ1_0, 52, 0.0123f);
    check_ternary_exact(T_TQ2_0, 64, 3.0f);
    check_ternary_exact(T_TQ2_0, 64, 0.0123f);
}

/* TQ1_0 -> TQ2_0 re-encoding (load-time repacking): the codes and scales of
 * every block come out the same through each format's own unpacking, for
 * quantizer output and for arbitrary bytes (every byte value in every
 * position, so non-canonical TQ1_0 bytes too). */
static void test_tq1_to_tq2(void **state)
{
    (void)state;
    enum { NB = 260, N = NB * 256 };
    static uint8_t q1[NB * 54], q2[NB * 66];
    static int8_t c1[N], c2[N];
    static float s1[NB], s2[NB], x[4 * 256];
    for (int i = 0; i < NB * 54; i++)
        q1[i] = (uint8_t)((i / 54) % 256 + i * 7); /* block b's byte j: b + 7 i (mod 256), all 256 values */
    for (int i = 0; i < 4 * 256; i++)
        x[i] = (float)rng_int(-1000, 1000) / 300.0f;
    traits(T_TQ1_0)->quantize(x, q1, 4, 256); /* the first four blocks from the quantizer */
    memset(q2, 0xA5, sizeof q2);
    bn_tq1_0_to_tq2_0(q1, q2, NB);
    traits(T_TQ1_0)->unpack_ternary(q1, c1, s1, N, NULL);
    traits(T_TQ2_0)->unpack_ternary(q2, c2, s2, N, NULL);
    for (int i = 0; i < N; i++)
        if (c1[i] != c2[i])
            fail_msg("element %d (block %d, %d): tq1 code %d, tq2 code %d", i, i / 256, i % 256, c1[i], c2[i]);
    assert_memory_equal(s1, s2, sizeof s1);
    for (int b = 0; b < NB; b++)
        assert_memory_equal(q1 + 54 * b + 52, q2 + 66 * b + 64, 2);
}

/* TQ2_0 -> I2_S re-encoding (load-time repacking): every element's code
 * comes out the same through each format's own unpacking (every byte
 * without a code 3 in every position), and the code-3 probe finds a lone 3
 * in any field of any byte, and nothing in canonical blocks. */
static void test_tq2_to_i2s(void **state)
{
    (void)state;
    enum { NB = 6, N = NB * 256 };
    static uint8_t q2[NB * 66], qi[N / 4 + 32];
    static int8_t c2[N], ci[N];
    static float s2[NB], si[N / 128];
    int canonical[81], nc = 0; /* the bytes whose four fields are 0-2 */
    for (int b = 0; b < 256; b++)
        if ((b & (b >> 1) & 0x55) == 0)
            canonical[nc++] = b;
    assert_int_equal(nc, 81);
    for (int i = 0; i < NB * 66; i++)
        q2[i] = (uint8_t)canonical[(i * 7 + i / 66) % 81];
    assert_false(bn_tq2_0_has_code3(q2, NB));
    memset(qi, 0xA5, sizeof qi);
    bn_tq2_0_to_i2_s(q2, qi, NB);
    const float scale = 0.5f;
    memcpy(qi + N / 4, &scale, sizeof scale);
    traits(T_TQ2_0)->unpack_ternary(q2, c2, s2, N, NULL);
    traits(T_I2_S)->unpack_ternary(qi, ci, si, N, qi + N / 4);
    for (int i = 0; i < N; i++)
        if (c2[i] != ci[i])
            fail_msg("element %d: tq2 code %d, i2_s code %d", i, c2[i], ci[i]);
    for (int byte = 0; byte < 64; byte += 9)
        for (int field = 0; field < 4; field++) {
            uint8_t one[66] = {0};
            one[byte] = (uint8_t)(3u << (2 * field));
            assert_true(bn_tq2_0_has_code3(one, 1));
            one[byte] = (uint8_t)(2u << (2 * field)) | (uint8_t)(1u << (2 * ((field + 1) % 4)));
            assert_false(bn_tq2_0_has_code3(one, 1));
        }
}

/* I2_S on exactly ternary tensors (codes x s, zeros included, as BitNet
 * checkpoints store them): the tail keeps s itself and every row, read on
 * its own with the shared tail, comes back bit for bit. */
static void test_round_trip_i2_s(void **state)
{
    (void)state;
    const bn_type_traits *t = traits(T_I2_S);
    enum { ROWS = 3, COLS = 256, N = ROWS * COLS };
    float x[N], y[N];
    int tr[N];
    uint8_t q[N / 4 + 32 + 8];
    assert_int_equal(bn_type_tensor_bytes(T_I2_S, N), N / 4 + 32);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < N; i++) {
            tr[i] = pass == 0 ? (rng_int(0, 1) ? 1 : -1) : rng_int(-1, 1);
            x[i] = (float)tr[i] * 0.3f;
        }
        memset(q, 0xa5, sizeof q);
        t->quantize(x, q, ROWS, COLS);
        for (int i = N / 4 + 32; i < (int)sizeof q; i++)
            assert_int_equal(q[i], 0xa5);
        for (int i = N / 4 + 4; i < N / 4 + 32; i++)
            assert_int_equal(q[i], 0); /* tail padding is zeroed */
        assert_true(f32_of(get32(q + N / 4)) == 0.3f);
        for (int r = 0; r < ROWS; r++)
            dequant(T_I2_S, q + r * COLS / 4, y + r * COLS, COLS, q + N / 4);
        assert_memory_equal(x, y, sizeof x);
    }
}

/* Anything not exactly ternary gets the absmean scale and RoundClip codes:
 * |err| <= max(s/2, |x| - s). */
static void check_i2_s_absmean(float *x, int n)
{
    float y[1024];
    uint8_t q[1024 / 4 + 32];
    assert_true(n <= 1024);
    traits(T_I2_S)->quantize(x, q, 1, n);
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += fabs((double)x[i]);
    double s = (double)f32_of(get32(q + n / 4));
    assert_true(fabs(s - sum / n) <= 1e-6 * sum / n);
    dequant(T_I2_S, q, y, n, q + n / 4);
    for (int i = 0; i < n; i++) {
        double lim = fmax(0.5 * s, fabs((double)x[i]) - s) * (1 + 1e-6);
        if (!(fabs((double)y[i] - (double)x[i]) <= lim))
            fail_msg("i2_s[%d]: x=%g y=%g s=%g", i, (double)x[i], (double)y[i], s);
    }
}

static void test_round_trip_i2_s_absmean(void **state)
{
    (void)state;
    float x[1024];
    fill_inputs(x, 1024, 128);
    check_i2_s_absmean(x, 1024);
    /* One off-magnitude weight is enough to leave the ternary path. */
    for (int i = 0; i < 256; i++) {
        int t = rng_int(-1, 1);
        x[i] = (float)t * 0.5f;
    }
    x[17] = 0.25f;
    check_i2_s_absmean(x, 256);
    /* An all-zero tensor falls back to scale 1. */
    uint8_t q[256 / 4 + 32];
    memset(x, 0, sizeof x);
    traits(T_I2_S)->quantize(x, q, 2, 128);
    assert_true(f32_of(get32(q + 256 / 4)) == 1.0f);
}

static void test_round_trip_floats(void **state)
{
    (void)state;
    enum { N = 4096 };
    float x[N], y[N];
    uint8_t q[4 * N];
    /* f16: random non-NaN halves survive float -> f16 -> float exactly. */
    for (int i = 0; i < N; i++) {
        uint32_t h = rng_u32() & 0xffff;
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
            h &= 0xfc00u; /* NaN -> inf */
        x[i] = (float)half_value(h);
    }
    traits(T_F16)->quantize(x, q, 2, N / 2);
    dequant(T_F16, q, y, N, NULL);
    for (int i = 0; i < N; i++)
        assert_true(bits_of(y[i]) == bits_of(x[i]));
    /* bf16: same with the top 16 bits of random floats. */
    for (int i = 0; i < N; i++) {
        uint32_t u = rng_u32() & 0xffff0000u;
        if ((u & 0x7f800000u) == 0x7f800000u)
            u &= 0xff800000u;
        x[i] = f32_of(u);
    }
    traits(T_BF16)->quantize(x, q, 1, N);
    dequant(T_BF16, q, y, N, NULL);
    for (int i = 0; i < N; i++)
        assert_true(bits_of(y[i]) == bits_of(x[i]));
    /* f32: a copy. */
    for (int i = 0; i < N; i++)
        x[i] = f32_of(rng_u32());
    traits(T_F32)->quantize(x, q, N, 1);
    dequant(T_F32, q, y, N, NULL);
    assert_memory_equal(x, y, sizeof x);
}

/* The reference quantizers round like ggml's, so files re-quantized here
 * match llama.cpp's byte for byte: Q4_0 takes floor(x/d + 8.5) (ties up),
 * Q8_0 rounds ties away from zero, Q8_K ties to even. d = 1 in all three. */
static void test_reference_rounding(void **state)
{
    (void)state;
    float x[256] = {-8.0f, 0.5f, -0.5f, 7.6f, 1.49f, -7.5f};
    uint8_t q[292];
    traits(T_Q4_0)->quantize(x, q, 1, 32);
    static const uint8_t q4[18] = {0x00, 0x3c, 0x80, 0x89, 0x88, 0x8f, 0x89, 0x81, 0x88,
                                   0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88};
    assert_memory_equal(q, q4, sizeof q4);

    memset(x, 0, sizeof x);
    x[0] = 127.0f;
    x[1] = 2.5f;
    x[2] = -2.5f;
    x[3] = 1.5f;
    traits(T_Q8_0)->quantize(x, q, 1, 32);
    assert_int_equal(get16(q), 0x3c00);
    assert_true((int8_t)q[3] == 3 && (int8_t)q[4] == -3 && (int8_t)q[5] == 2);

    x[0] = -127.0f;
    x[3] = 3.5f;
    traits(T_Q8_K)->quantize(x, q, 1, 256);
    assert_true(f32_of(get32(q)) == 1.0f);
    assert_true((int8_t)q[4] == -127 && (int8_t)q[5] == 2 && (int8_t)q[6] == -2 && (int8_t)q[7] == 4);
}

/* Rows are contiguous: one call over R rows equals R single-row calls. */
static void test_quantize_rows(void **state)
{
    (void)state;
    static const uint32_t types[] = {T_F16, T_BF16, T_Q4_0, T_Q4_1, T_Q5_0, T_Q5_1, T_Q8_0,
                                     T_Q8_1, T_Q2_K, T_Q3_K, T_Q4_K, T_Q5_K, T_Q6_K, T_Q8_K,
                                     T_TQ1_0, T_TQ2_0};
    enum { COLS = 512, ROWS = 3 };
    static float x[ROWS * COLS];
    static uint8_t all[ROWS * COLS * 4], one[ROWS * COLS * 4];
    fill_inputs(x, ROWS * COLS, 64);
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        const bn_type_traits *t = traits(types[k]);
        uint64_t row = bn_type_tensor_bytes(types[k], COLS);
        t->quantize(x, all, ROWS, COLS);
        for (int r = 0; r < ROWS; r++)
            t->quantize(x + r * COLS, one + (uint64_t)r * row, 1, COLS);
        assert_memory_equal(all, one, (size_t)(row * ROWS));
    }
}

/* Bad shapes are ignored rather than trusted: nothing is written. */
static void test_bad_shapes(void **state)
{
    (void)state;
    float x[64] = {1.0f}, y[8];
    uint8_t q[64];
    memset(q, 0x5a, sizeof q);
    traits(T_Q4_0)->quantize(x, q, 1, 33);
    traits(T_Q4_0)->quantize(x, q, -1, 32);
    traits(T_Q4_K)->quantize(x, q, 1, 64);
    traits(T_I2_S)->quantize(x, q, 1, 64);
    traits(T_F16)->quantize(x, q, INT64_MAX, 2);
    for (size_t i = 0; i < sizeof q; i++)
        assert_int_equal(q[i], 0x5a);
    for (int i = 0; i < 8; i++)
        y[i] = 42.0f;
    traits(T_Q4_0)->dequantize_row(q, y, 0, NULL);
    traits(T_Q4_0)->dequantize_row(q, y, -32, NULL);
    traits(T_Q4_K)->dequantize_row(q, y, -256, NULL);
    for (int i = 0; i < 8; i++)
        assert_true(y[i] == 42.0f);
}

/* ---- fp16 / bf16 ---- */

static void test_fp16_exhaustive(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = bn_fp16_to_fp32((uint16_t)h);
        double want = half_value(h);
        uint16_t back = bn_fp32_to_fp16(f);
        if (isnan(want)) {
            assert_true(isnan(f));
            assert_true((back & 0x7c00) == 0x7c00 && (back & 0x3ff) != 0);
            assert_true((back & 0x8000) == (h & 0x8000));
            continue;
        }
        if ((double)f != want || back != h)
            fail_msg("half %04x: float %.9g back %04x", (unsigned)h, (double)f, (unsigned)back);
    }
}

/* Every tie between neighbouring halves (exact midpoints are floats) goes
 * to the even one; one float ulp either side goes to the nearer one. */
static void test_fp16_rne_ties(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 0x7bff; h++) {
        float mid = (float)((half_value(h) + half_value(h + 1)) / 2.0);
        uint32_t even = (h & 1) ? h + 1 : h;
        assert_int_equal(bn_fp32_to_fp16(mid), even);
        assert_int_equal(bn_fp32_to_fp16(-mid), even | 0x8000);
        assert_int_equal(bn_fp32_to_fp16(nextafterf(mid, 0.0f)), h);
        assert_int_equal(bn_fp32_to_fp16(nextafterf(mid, INFINITY)), h + 1);
    }
}

static void test_fp16_hand_picked(void **state)
{
    (void)state;
    assert_int_equal(bn_fp32_to_fp16(1.0f), 0x3c00);
    assert_int_equal(bn_fp32_to_fp16(0.1f), 0x2e66);
    assert_int_equal(bn_fp32_to_fp16(f32_of(0x3f801000u)), 0x3c00); /* 1 + 2^-11: tie, even */
    assert_int_equal(bn_fp32_to_fp16(f32_of(0x3f803000u)), 0x3c02); /* 1 + 3*2^-11: up */
    assert_int_equal(bn_fp32_to_fp16(f32_of(0x3f801001u)), 0x3c01);
    assert_int_equal(bn_fp32_to_fp16(65504.0f), 0x7bff);
    assert_int_equal(bn_fp32_to_fp16(65519.99f), 0x7bff);
    assert_int_equal(bn_fp32_to_fp16(65520.0f), 0x7c00); /* rounds to inf */
    assert_int_equal(bn_fp32_to_fp16(1e10f), 0x7c00);
    assert_int_equal(bn_fp32_to_fp16(-INFINITY), 0xfc00);
    assert_int_equal(bn_fp32_to_fp16((float)ldexp(1.0, -24)), 0x0001);
    assert_int_equal(bn_fp32_to_fp16((float)ldexp(1.0, -25)), 0x0000); /* tie to 0 */
    assert_int_equal(bn_fp32_to_fp16(nextafterf((float)ldexp(1.0, -25), 1.0f)), 0x0001);
    assert_int_equal(bn_fp32_to_fp16((float)ldexp(3.0, -25)), 0x0002);
    assert_int_equal(bn_fp32_to_fp16((float)ldexp(2047.0, -25)), 0x0400); /* to min normal */
    assert_int_equal(bn_fp32_to_fp16(1e-30f), 0x0000);
    assert_int_equal(bn_fp32_to_fp16(-0.0f), 0x8000);
    uint16_t n = bn_fp32_to_fp16(-NAN);
    assert_true((n & 0x7c00) == 0x7c00 && (n & 0x3ff) && (n & 0x8000));
    n = bn_fp32_to_fp16(f32_of(0x7f800001u)); /* signalling NaN, low payload only */
    assert_true((n & 0x7c00) == 0x7c00 && (n & 0x3ff));
}

static void test_bf16(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = bn_bf16_to_fp32((uint16_t)h);
        assert_true(bits_of(f) == h << 16);
        uint16_t back = bn_fp32_to_bf16(f);
        if (isnan(f))
            assert_true((back & 0x7f80) == 0x7f80 && (back & 0x7f) && (back & 0x8000) == (h & 0x8000));
        else
            assert_int_equal(back, h);
        if ((h & 0x7f80) != 0x7f80 && (h & 0x7fff) != 0x7f7f) {
            uint32_t mid = (h << 16) | 0x8000u; /* exact midpoint to h + 1 */
            uint32_t even = (h & 1) ? h + 1 : h;
            assert_int_equal(bn_fp32_to_bf16(f32_of(mid)), even);
            assert_int_equal(bn_fp32_to_bf16(f32_of(mid - 1)), h);
            assert_int_equal(bn_fp32_to_bf16(f32_of(mid + 1)), h + 1);
        }
    }
    assert_int_equal(bn_fp32_to_bf16(f32_of(0x7f7fffffu)), 0x7f80); /* FLT_MAX -> inf */
    assert_int_equal(bn_fp32_to_bf16(f32_of(0x7f7f7fffu)), 0x7f7f);
    uint16_t n = bn_fp32_to_bf16(f32_of(0x7f800001u)); /* must not truncate to inf */
    assert_true((n & 0x7f80) == 0x7f80 && (n & 0x7f));
}

/* ---- traits table and sizes ---- */

static void test_traits_rows(void **state)
{
    (void)state;
    static const struct {
        uint32_t id;
        int elems, bytes, tail, has_quant;
    } rows[] = {
        {T_F32, 1, 4, 0, 1},      {T_F16, 1, 2, 0, 1},      {T_Q4_0, 32, 18, 0, 1},
        {T_Q4_1, 32, 20, 0, 1},   {T_Q5_0, 32, 22, 0, 1},   {T_Q5_1, 32, 24, 0, 1},
        {T_Q8_0, 32, 34, 0, 1},   {T_Q8_1, 32, 36, 0, 1},   {T_Q2_K, 256, 84, 0, 1},
        {T_Q3_K, 256, 110, 0, 1}, {T_Q4_K, 256, 144, 0, 1}, {T_Q5_K, 256, 176, 0, 1},
        {T_Q6_K, 256, 210, 0, 1}, {T_Q8_K, 256, 292, 0, 1}, {T_I8, 1, 1, 0, 0},
        {T_I16, 1, 2, 0, 0},      {T_I32, 1, 4, 0, 0},      {T_BF16, 1, 2, 0, 1},
        {T_TQ1_0, 256, 54, 0, 1}, {T_TQ2_0, 256, 66, 0, 1}, {T_I2_S, 128, 32, 32, 1},
    };
    int known = 0;
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        const bn_type_traits *t = traits(rows[k].id);
        assert_int_equal(t->type, rows[k].id);
        assert_int_equal(t->block_elems, rows[k].elems);
        assert_int_equal(t->block_bytes, rows[k].bytes);
        assert_int_equal(t->tail_bytes, rows[k].tail);
        assert_non_null(t->name);
        assert_non_null(t->dequantize_row);
        assert_int_equal(t->quantize != NULL, rows[k].has_quant);
    }
    assert_true(bn_type_traits_count() >= 37);
    for (uint32_t id = 0; id < bn_type_traits_count(); id++)
        known += bn_type_traits_get(id) != NULL;
    assert_int_equal(known, (int)(sizeof rows / sizeof rows[0]));
    static const uint32_t unused[] = {4, 5, 16, 20, 23, 27, 28, 29, 31, 32, 33};
    for (size_t k = 0; k < sizeof unused / sizeof unused[0]; k++)
        assert_null(bn_type_traits_get(unused[k]));
    assert_null(bn_type_traits_get(bn_type_traits_count()));
    assert_null(bn_type_traits_get(UINT32_MAX));
    assert_string_equal(traits(T_Q4_K)->name, "q4_k");
    assert_string_equal(traits(T_I2_S)->name, "i2_s");
}

static void test_tensor_bytes(void **state)
{
    (void)state;
    assert_int_equal(bn_type_tensor_bytes(T_F32, 10), 40);
    assert_int_equal(bn_type_tensor_bytes(T_Q4_0, 64), 36);
    assert_int_equal(bn_type_tensor_bytes(T_Q6_K, 512), 420);
    assert_int_equal(bn_type_tensor_bytes(T_TQ1_0, 256), 54);
    assert_int_equal(bn_type_tensor_bytes(T_I2_S, 256), 96); /* n/4 + 32 */
    assert_int_equal(bn_type_tensor_bytes(T_I2_S, 0), 32);
    assert_int_equal(bn_type_tensor_bytes(T_Q4_0, 0), 0);
    assert_int_equal(bn_type_tensor_bytes(T_Q4_0, 33), 0);
    assert_int_equal(bn_type_tensor_bytes(T_Q4_K, 128), 0);
    assert_int_equal(bn_type_tensor_bytes(T_I2_S, 64), 0);
    assert_int_equal(bn_type_tensor_bytes(T_Q4_0, -32), 0);
    assert_int_equal(bn_type_tensor_bytes(T_F32, INT64_MAX), 0);
    assert_int_equal(bn_type_tensor_bytes(T_F32, INT64_C(1) << 62), 0);
    assert_int_equal(bn_type_tensor_bytes(T_F32, (INT64_C(1) << 62) - 1), UINT64_MAX - 3);
    assert_int_equal(bn_type_tensor_bytes(T_I32, INT64_MAX / 2 + 1), 0);
    assert_int_equal(bn_type_tensor_bytes(T_Q8_K, INT64_MAX / 256 * 256),
                     (uint64_t)(INT64_MAX / 256) * 292);
    assert_true(bn_type_tensor_bytes(T_F16, INT64_MAX) == UINT64_MAX - 1); /* fits */
    assert_int_equal(bn_type_tensor_bytes(T_I2_S, INT64_MAX / 128 * 128),
                     (uint64_t)(INT64_MAX / 128) * 32 + 32);
    assert_int_equal(bn_type_tensor_bytes(31, 32), 0);
    assert_int_equal(bn_type_tensor_bytes(1000, 32), 0);
    assert_int_equal(bn_type_tensor_bytes(UINT32_MAX, 32), 0);
}

static int setup_seed(void **state)
{
    (void)state;
    rng_seed(0x5eed1234abcdull);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_f32),
        cmocka_unit_test(test_golden_f16),
        cmocka_unit_test(test_golden_bf16),
        cmocka_unit_test(test_golden_ints),
        cmocka_unit_test(test_golden_q4_0),
        cmocka_unit_test(test_golden_q4_1),
        cmocka_unit_test(test_golden_q5_0),
        cmocka_unit_test(test_golden_q5_1),
        cmocka_unit_test(test_golden_q8_0_q8_1),
        cmocka_unit_test_setup(test_golden_q2_k, setup_seed),
        cmocka_unit_test_setup(test_golden_q3_k, setup_seed),
        cmocka_unit_test_setup(test_golden_q4_k, setup_seed),
        cmocka_unit_test_setup(test_golden_q5_k, setup_seed),
        cmocka_unit_test_setup(test_golden_q6_k, setup_seed),
        cmocka_unit_test_setup(test_golden_q8_k, setup_seed),
        cmocka_unit_test_setup(test_golden_tq1_0, setup_seed),
        cmocka_unit_test_setup(test_golden_tq2_0, setup_seed),
        cmocka_unit_test_setup(test_golden_i2_s, setup_seed),
        cmocka_unit_test_setup(test_round_trip_legacy, setup_seed),
        cmocka_unit_test_setup(test_q8_1_sum_field, setup_seed),
        cmocka_unit_test_setup(test_round_trip_kquants, setup_seed),
        cmocka_unit_test_setup(test_q8_k_bsums, setup_seed),
        cmocka_unit_test_setup(test_round_trip_ternary_random, setup_seed),
        cmocka_unit_test_setup(test_round_trip_ternary_exact, setup_seed),
        cmocka_unit_test_setup(test_tq1_to_tq2, setup_seed),
        cmocka_unit_test(test_tq2_to_i2s),
        cmocka_unit_test_setup(test_round_trip_i2_s, setup_seed),
        cmocka_unit_test_setup(test_round_trip_i2_s_absmean, setup_seed),
        cmocka_unit_test_setup(test_round_trip_floats, setup_seed),
        cmocka_unit_test(test_reference_rounding),
        cmocka_unit_test_setup(test_quantize_rows, setup_seed),
        cmocka_unit_test(test_bad_shapes),
        cmocka_unit_test(test_fp16_exhaustive),
        cmocka_unit_test(test_fp16_rne_ties),
        cmocka_unit_test(test_fp16_hand_picked),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_traits_rows),
        cmocka_unit_test(test_tensor_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
