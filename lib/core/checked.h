/* Overflow-checked arithmetic for sizes read from untrusted files. */
#ifndef BN_CHECKED_H
#define BN_CHECKED_H

#include <stdbool.h>
#include <stdint.h>

/* Each returns false (leaving *out unspecified) when the result overflows. */
static inline bool bn_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

static inline bool bn_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

static inline bool bn_mul_i64(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* Round up to a multiple of a power-of-two `align`. */
static inline bool bn_align_u64(uint64_t v, uint64_t align, uint64_t *out)
{
    uint64_t t;
    if (!bn_add_u64(v, align - 1, &t))
        return false;
    *out = t & ~(align - 1);
    return true;
}

#endif
