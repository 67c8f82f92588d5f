/* What the state-file harness loads states into, shared with the seed
 * generator (gen_seeds --kind state), whose states must fit it: the tiny
 * stories260k fixture, and two contexts of STATE_N_CTX positions, one with an
 * F32 KV cache and the last logits row, one with an F16 KV cache and every
 * row (logits_all). A state's KV type picks the context. */
#ifndef BN_FUZZ_STATE_SETUP_H
#define BN_FUZZ_STATE_SETUP_H

#include "bitnet/bitnet.h"

#define STATE_MODEL "stories260k/stories260k-q4_0.gguf"
#define STATE_N_CTX 64

static inline bitnet_context_params state_context_params(bool f16_logits_all)
{
    bitnet_context_params p = bitnet_context_params_default();
    p.n_ctx = STATE_N_CTX;
    p.n_batch = 16;
    p.kv_type = f16_logits_all ? BITNET_TYPE_F16 : BITNET_TYPE_F32;
    p.logits_all = f16_logits_all;
    return p;
}

static inline bitnet_sampler_params state_sampler_params(void)
{
    bitnet_sampler_params p = bitnet_sampler_params_default();
    p.temperature = 0.9f;
    p.repeat_penalty = 1.2f;
    p.penalty_last_n = 8;
    p.seed = 7;
    return p;
}

#endif
