/* Ternary formats: TQ1_0 and TQ2_0 (ggml, per-block f16 scale) and I2_S
 * (bitnet.cpp x86 layout, one f32 scale for the whole tensor). */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "blocks.h"
#include "quant_internal.h"

/* ---- TQ1_0 ----
 * A byte holds up to 5 trits t0..t4 (codes 0..2) as the fraction
 * v/243, v = t0*81 + t1*27 + t2*9 + t3*3 + t4, stored as ceil(v*256/243).
 * Trit k is then the integer part of 3 * frac(byte * 3^k / 256), which is
 * what ((uint8_t)(byte * 3^k) * 3) >> 8 computes; the ceiling keeps the
 * fixed-point fraction from falling below a trit boundary.
 * Elements 0-159: byte i%32, trit i/32. Elements 160-239: byte 32 + r%16,
 * trit r/16 (r = i - 160). Elements 240-255: qh byte r%4, trit r/4
 * (r = i - 240), with t4 = 0. */

static const uint8_t pow3[5] = {1, 3, 9, 27, 81};

static int trit_of(uint8_t byte, int k)
{
    uint8_t shifted = (uint8_t)(byte * pow3[k]);
    return (shifted * 3) >> 8;
}

static uint8_t pack_trits(const int t[5])
{
    int v = 0;
    for (int k = 0; k < 5; k++)
        v = v * 3 + t[k];
    return (uint8_t)((v * 256 + 242) / 243);
}

/* Where element i lives: *byte indexes qs[0..47] then qh[0..3] as 48..51. */
static void tq1_locate(int i, int *byte, int *trit)
{
    if (i < 160) {
        *byte = i % 32;
        *trit = i / 32;
    } else if (i < 240) {
        *byte = 32 + (i - 160) % 16;
        *trit = (i - 160) / 16;
    } else {
        *byte = 48 + (i - 240) % 4;
        *trit = (i - 240) / 4;
    }
}

static void dq_tq1_0(const void *blk, float *y)
{
    const bn_block_tq1_0 *b = blk;
    float d = bn_load_half(b->d);
    for (int i = 0; i < BN_QK_K; i++) {
        int byte, trit;
        tq1_locate(i, &byte, &trit);
        uint8_t v = byte < 48 ? b->qs[byte] : b->qh[byte - 48];
        y[i] = (float)(trit_of(v, trit) - 1) * d;
    }
}

/* Codes 0..2 for -1, 0, +1 with d = absmax (stored as f16), rounded half
 * away from zero against the exact scale, as ggml does. */
static void ternary_codes(const float *x, int n, int *q, uint8_t d_out[2])
{
    float amax = 0.0f;
    for (int i = 0; i < n; i++)
        amax = fmaxf(amax, fabsf(x[i]));
    bn_store_half(d_out, amax);
    float id = bn_safe_inv(amax);
    for (int i = 0; i < n; i++)
        q[i] = bn_round_clamp(x[i] * id, -1, 1) + 1;
}

static void q_tq1_0(const float *x, void *blk)
{
    bn_block_tq1_0 *b = blk;
    int q[BN_QK_K], t[52][5] = {{0}};
    ternary_codes(x, BN_QK_K, q, b->d);
    for (int i = 0; i < BN_QK_K; i++) {
        int byte, trit;
        tq1_locate(i, &byte, &trit);
        t[byte][trit] = q[i];
    }
    for (int j = 0; j < 48; j++)
        b->qs[j] = pack_trits(t[j]);
    for (int j = 0; j < 4; j++)
        b->qh[j] = pack_trits(t[48 + j]);
}

/* ---- TQ2_0 ----
 * Element i: qs[32*(i/128) + i%32], bits 2*((i%128)/32); value (code-1)*d.
 * Code 3 is never written; it reads as +2d, as in ggml. */

static void dq_tq2_0(const void *blk, float *y)
{
    const bn_block_tq2_0 *b = blk;
    float d = bn_load_half(b->d);
    for (int i = 0; i < BN_QK_K; i++) {
        int q = (b->qs[32 * (i / 128) + i % 32] >> (2 * ((i % 128) / 32))) & 3;
        y[i] = (float)(q - 1) * d;
    }
}

static void q_tq2_0(const float *x, void *blk)
{
    bn_block_tq2_0 *b = blk;
    int q[BN_QK_K];
    ternary_codes(x, BN_QK_K, q, b->d);
    memset(b->qs, 0, sizeof b->qs);
    for (int i = 0; i < BN_QK_K; i++)
        b->qs[32 * (i / 128) + i % 32] |= (uint8_t)(q[i] << (2 * ((i % 128) / 32)));
}

void bn_dequantize_row_tq1_0(const void *src, float *dst, int64_t n, const void *tail)
{
    (void)tail;
    bn_dequant_blocks(src, dst, n, BN_QK_K, (int)sizeof(bn_block_tq1_0), dq_tq1_0);
}

void bn_dequantize_row_tq2_0(const void *src, float *dst, int64_t n, const void *tail)
{
    (void)tail;
    bn_dequant_blocks(src, dst, n, BN_QK_K, (int)sizeof(bn_block_tq2_0), dq_tq2_0);
}

void bn_quantize_tq1_0(const float *src, void *dst, int64_t n_rows, int64_t n_per_row)
{
    bn_quant_blocks(src, dst, n_rows, n_per_row, BN_QK_K, (int)sizeof(bn_block_tq1_0), q_tq1_0);
}

void bn_quantize_tq2_0(const float *src, void *dst, int64_t n_rows, int64_t n_per_row)
{
    bn_quant_blocks(src, dst, n_rows, n_per_row, BN_QK_K, (int)sizeof(bn_block_tq2_0), q_tq2_0);
}

/* ---- I2_S ----
 * 128 elements per 32-byte block: element j in byte j%32 at bits
 * 6 - 2*(j/32). Codes 0, 1, 2 mean -1, 0, +1 (3 is never written and reads
 * as 0). After the blocks, a 32-byte tail starts with the f32 scale. */

static int i2s_code(const uint8_t qs[32], int j)
{
    return (qs[j % 32] >> (6 - 2 * (j / 32))) & 3;
}

void bn_dequantize_row_i2_s(const void *src, float *dst, int64_t n, const void *tail)
{
    /* Without the tail the scale is unknown; NaN makes that bug loud. */
    float scale = tail ? bn_load_f32(tail) : NAN;
    const bn_block_i2_s *b = src;
    for (int64_t blk = 0; n > 0 && blk < n / BN_QK_I2S; blk++) {
        float *y = dst + blk * BN_QK_I2S;
        for (int j = 0; j < BN_QK_I2S; j++) {
            int q = i2s_code(b[blk].qs, j);
            y[j] = q == 3 ? 0.0f : (float)(q - 1) * scale;
        }
    }
}

/* The common magnitude if every nonzero |x| is the same (weights already
 * ternary, e.g. code x scale from a BitNet checkpoint), else 0. */
static float ternary_magnitude(const float *x, int64_t n)
{
    float c = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        if (a == 0.0f)
            continue;
        if (c == 0.0f)
            c = a;
        else if (a != c)
            return 0.0f;
    }
    return c;
}

/* Tensor scale: already-ternary weights keep their own scale, so f32 ->
 * I2_S -> f32 is lossless (bitnet.cpp's converter relies on the same);
 * anything else gets the absmean, as BitNet b1.58 quantizes latent weights.
 * The mean is accumulated in double so large tensors keep the small terms. */
static float i2s_scale(const float *x, int64_t n)
{
    float c = ternary_magnitude(x, n);
    if (c > 0.0f && isfinite(c))
        return c;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += fabs((double)x[i]);
    float s = n > 0 ? (float)(sum / (double)n) : 0.0f;
    return (s > 0.0f && isfinite(s)) ? s : 1.0f;
}

void bn_quantize_i2_s(const float *src, void *dst, int64_t n_rows, int64_t n_per_row)
{
    int64_t n = bn_quant_elems(n_rows, n_per_row, BN_QK_I2S);
    if (n < 0)
        return;
    float scale = i2s_scale(src, n), inv = 1.0f / scale;
    uint8_t *out = dst;
    memset(out, 0, (size_t)(n / 4 + BN_I2S_TAIL));
    for (int64_t i = 0; i < n; i++) {
        int64_t blk = i / BN_QK_I2S;
        int j = (int)(i % BN_QK_I2S);
        int code = bn_round_clamp(src[i] * inv, -1, 1) + 1;
        out[blk * 32 + j % 32] |= (uint8_t)(code << (6 - 2 * (j / 32)));
    }
    bn_store_f32(out + n / 4, scale);
}

/* ---- TQ1_0 -> TQ2_0 ----
 * With the element positions of both formats (above), a TQ1_0 block maps
 * onto a TQ2_0 block byte by byte:
 *   qs2[j]      (j < 32)  = trits 0-3 of qs[j] at bits 0, 2, 4, 6
 *   qs2[32 + j] (j < 32)  bits 0 = trit 4 of qs[j]
 *   qs2[32 + m] (m < 16)  bits 2, 4, 6 = trits 0, 2, 4 of qs[32 + m]
 *   qs2[48 + m] (m < 16)  bits 2, 4 = trits 1, 3 of qs[32 + m];
 *                         bits 6 = trit m / 4 of qh[m % 4]
 * Tables of the trits of every byte keep it at a few operations per byte
 * (a 2B-4T model is ~2 billion weights). */

static uint8_t tq1_low4[256];     /* trits 0-3 at bits 0, 2, 4, 6 */
static uint8_t tq1_trits[5][256]; /* trit k of a byte */
static pthread_once_t tq1_tables_once = PTHREAD_ONCE_INIT;

static void tq1_tables_init(void)
{
    for (int b = 0; b < 256; b++) {
        for (int k = 0; k < 5; k++)
            tq1_trits[k][b] = (uint8_t)trit_of((uint8_t)b, k);
        tq1_low4[b] = (uint8_t)(tq1_trits[0][b] | tq1_trits[1][b] << 2 | tq1_trits[2][b] << 4 | tq1_trits[3][b] << 6);
    }
}

void bn_tq1_0_to_tq2_0(const void *src, void *dst, int64_t n_blocks)
{
    (void)pthread_once(&tq1_tables_once, tq1_tables_init);
    const bn_block_tq1_0 *in = src;
    bn_block_tq2_0 *out = dst;
    for (int64_t blk = 0; blk < n_blocks; blk++) {
        const uint8_t *qs = in[blk].qs, *qh = in[blk].qh;
        uint8_t *q2 = out[blk].qs;
        for (int j = 0; j < 32; j++) {
            q2[j] = tq1_low4[qs[j]];
            q2[32 + j] = tq1_trits[4][qs[j]];
        }
        for (int m = 0; m < 16; m++) {
            const uint8_t b = qs[32 + m];
            q2[32 + m] |= (uint8_t)(tq1_trits[0][b] << 2 | tq1_trits[2][b] << 4 | tq1_trits[4][b] << 6);
            q2[48 + m] |= (uint8_t)(tq1_trits[1][b] << 2 | tq1_trits[3][b] << 4 | tq1_trits[m / 4][qh[m % 4]] << 6);
        }
        memcpy(out[blk].d, in[blk].d, sizeof out[blk].d);
    }
}

/* ---- TQ2_0 -> I2_S ----
 * Half h of a TQ2_0 block holds its elements 128h + k at byte 32h + k%32,
 * bits 2*(k/32); an I2_S block holds element k at byte k%32, bits
 * 6 - 2*(k/32): the same bytes with their four 2-bit fields reversed. */

static uint8_t reverse_fields(uint8_t b)
{
    return (uint8_t)((b & 0x03u) << 6 | (b & 0x0cu) << 2 | (b & 0x30u) >> 2 | (b & 0xc0u) >> 6);
}

void bn_tq2_0_to_i2_s(const void *src, void *dst, int64_t n_blocks)
{
    const bn_block_tq2_0 *in = src;
    bn_block_i2_s *out = dst;
    for (int64_t blk = 0; blk < n_blocks; blk++)
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < 32; j++)
                out[2 * blk + h].qs[j] = reverse_fields(in[blk].qs[32 * h + j]);
}

bool bn_tq2_0_has_code3(const void *src, int64_t n_blocks)
{
    const bn_block_tq2_0 *in = src;
    uint8_t any = 0;
    for (int64_t blk = 0; blk < n_blocks; blk++)
        for (int j = 0; j < 64; j++)
            any |= (uint8_t)(in[blk].qs[j] & (in[blk].qs[j] >> 1) & 0x55u);
    return any != 0;
}

/* ---- codes and scales, for kernels that multiply in integers ---- */

void bn_unpack_ternary_tq1_0(const void *src, int8_t *codes, float *scales, int64_t n, const void *tail)
{
    (void)tail;
    const bn_block_tq1_0 *b = src;
    for (int64_t blk = 0; blk < n / BN_QK_K; blk++) {
        scales[blk] = bn_load_half(b[blk].d);
        for (int i = 0; i < BN_QK_K; i++) {
            int byte, trit;
            tq1_locate(i, &byte, &trit);
            uint8_t v = byte < 48 ? b[blk].qs[byte] : b[blk].qh[byte - 48];
            codes[blk * BN_QK_K + i] = (int8_t)(trit_of(v, trit) - 1);
        }
    }
}

void bn_unpack_ternary_tq2_0(const void *src, int8_t *codes, float *scales, int64_t n, const void *tail)
{
    (void)tail;
    const bn_block_tq2_0 *b = src;
    for (int64_t blk = 0; blk < n / BN_QK_K; blk++) {
        scales[blk] = bn_load_half(b[blk].d);
        for (int i = 0; i < BN_QK_K; i++)
            codes[blk * BN_QK_K + i] =
                (int8_t)(((b[blk].qs[32 * (i / 128) + i % 32] >> (2 * ((i % 128) / 32))) & 3) - 1);
    }
}

void bn_unpack_ternary_i2_s(const void *src, int8_t *codes, float *scales, int64_t n, const void *tail)
{
    float scale = tail ? bn_load_f32(tail) : NAN;
    const bn_block_i2_s *b = src;
    for (int64_t blk = 0; blk < n / BN_QK_I2S; blk++) {
        scales[blk] = scale;
        for (int j = 0; j < BN_QK_I2S; j++) {
            int q = i2s_code(b[blk].qs, j);
            codes[blk * BN_QK_I2S + j] = (int8_t)(q == 3 ? 0 : q - 1);
        }
    }
}
