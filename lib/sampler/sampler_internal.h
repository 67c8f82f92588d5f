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

/* The penalty history, oldest first: returns its length and, when `out` is
 * not NULL, writes that many tokens there. */
int32_t bn_sampler_get_history(const bitnet_sampler *sampler, bitnet_token *out);
/* Replace the history with tokens[0..n) (oldest first), keeping the last
 * penalty_last_n of them. Negative tokens give BITNET_ERR_OUT_OF_RANGE and a
 * failed allocation BITNET_ERR_OUT_OF_MEMORY; on failure the sampler is
 * unchanged. */
bitnet_status bn_sampler_set_history(bitnet_sampler *sampler, const bitnet_token *tokens, int32_t n);

#endif
