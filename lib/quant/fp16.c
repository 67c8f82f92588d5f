/* IEEE binary16 and bfloat16 conversions done on the bit patterns, so the
 * results are exact and identical on every host (no F16C, no FPU modes). */
#include <string.h>

#include "quant.h"

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* v >> s rounded to nearest, ties to even (1 <= s <= 31). */
static uint32_t shift_rne(uint32_t v, unsigned s)
{
    uint32_t q = v >> s;
    uint32_t rem = v & ((1u << s) - 1u);
    uint32_t half = 1u << (s - 1u);
    if (rem > half || (rem == half && (q & 1u)))
        q++;
    return q;
}

float bn_fp16_to_fp32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;

    if (exp == 0x1fu) /* inf / NaN: payload moves to the top mantissa bits */
        return bits_f32(sign | 0x7f800000u | (man << 13));
    if (exp != 0)
        return bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
    if (man == 0)
        return bits_f32(sign);
    /* Subnormal half: every one is a normal float; renormalise. */
    int e = 1;
    while (!(man & 0x400u)) {
        man <<= 1;
        e--;
    }
    return bits_f32(sign | ((uint32_t)(e + 112) << 23) | ((man & 0x3ffu) << 13));
}

uint16_t bn_fp32_to_fp16(float f)
{
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;

    if (ax > 0x7f800000u) /* NaN: keep the top payload bits, force quiet */
        return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    if (ax >= 0x477ff000u) /* >= 65520 rounds past the largest half (65504) */
        return (uint16_t)(sign | 0x7c00u);
    if (ax >= 0x38800000u) { /* normal half: rebias, round off 13 bits */
        uint32_t r = shift_rne(ax - 0x38000000u, 13);
        return (uint16_t)(sign | r);
    }
    if (ax <= 0x33000000u) /* <= 2^-25: ties to even give zero */
        return sign;
    /* Subnormal half: value / 2^-24 = mantissa * 2^(exp - 126). */
    uint32_t exp = ax >> 23;
    uint32_t man = (ax & 0x7fffffu) | 0x800000u;
    return (uint16_t)(sign | shift_rne(man, 126u - exp));
}

float bn_bf16_to_fp32(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

uint16_t bn_fp32_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) /* NaN: truncating could give inf */
        return (uint16_t)((x >> 16) | 0x0040u);
    /* Adding 0x7fff plus the kept low bit rounds to nearest, ties to even;
     * a carry out of the mantissa correctly bumps the exponent (to inf). */
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}
