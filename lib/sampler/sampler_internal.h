/* Sampler internals other parts of the library use (state files save and
 * restore the random stream). */
#ifndef BN_SAMPLER_INTERNAL_H
#define BN_SAMPLER_INTERNAL_H

#include <stdint.h>

#include "bitnet.h"

/* The xoshiro256** state of the sampler's random stream. */
void bn_sampler_get_rng(const bitnet_sampler *sampler, uint64_t state[4]);
/* Restore a state from bn_sampler_get_rng; an all-zero state (which the
 * generator can never leave) gives BITNET_ERR_INVALID_ARGUMENT. */
bitnet_status bn_sampler_set_rng(bitnet_sampler *sampler, const uint64_t state[4]);

#endif
