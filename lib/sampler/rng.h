/* xoshiro256** seeded through splitmix64: a small PRNG of our own so that a
 * seed gives the same stream on every platform and libc. */
#ifndef BN_SAMPLER_RNG_H
#define BN_SAMPLER_RNG_H

#include <stdint.h>

typedef struct bn_rng {
    uint64_t s[4];
} bn_rng;

/* Expand `seed` into a full (never all-zero) state with splitmix64. */
void bn_rng_seed(bn_rng *rng, uint64_t seed);
uint64_t bn_rng_next(bn_rng *rng);
/* Uniform in [0, 1) with 53 random bits. */
double bn_rng_uniform(bn_rng *rng);

#endif
