/* A context: KV cache, scratch buffers, kernels and threads for one model. */
#ifndef BN_CONTEXT_INTERNAL_H
#define BN_CONTEXT_INTERNAL_H

#include "bitnet.h"
#include "context/threadpool.h"
#include "kernels/backend.h"
#include "model/arch.h"

typedef struct bn_layer_norms {
    float *attn, *ffn, *attn_sub, *ffn_sub; /* float copies of the norm weights */
} bn_layer_norms;

struct bitnet_context {
    bitnet_model *model; /* retained */
    bn_arch_model am;
    bn_kernels kern;
    bn_pool *pool;
    bitnet_context_params params;
    int32_t n_ctx, n_batch, n_past;
    size_t kv_elem;  /* bytes per cached element */
    void *kv_arena;  /* holds every layer's k_cache and v_cache */
    void **k_cache;  /* per layer: n_ctx x kv_dim */
    void **v_cache;
    bitnet_token *tokens; /* the token at each position: n_ctx, [0, n_past) valid */
    bn_layer_norms *norms;
    float *output_norm;
    /* Scratch, n_batch rows each. */
    float *x, *xb, *q, *k, *v, *att, *gate, *up;
    int8_t *xq;
    float *xscale;
    uint8_t *thread_scratch; /* per thread: thread_scratch_bytes */
    size_t thread_scratch_bytes;
    float *blas_w;     /* dequantized weights for sgemm, blas_w_cap floats */
    size_t blas_w_cap;
    const bitnet_weights *blas_fill_w; /* what the store's fill callback dequantizes */
    bool *advised;     /* per layer: prefetch already paged its weights in */
    float *logits;     /* logits_cap rows of n_vocab */
    int32_t logits_cap;
    int32_t n_logits;  /* rows valid in logits */
    bool logits_all_rows;
    /* Bytes allocated at creation (bitnet_context_memory): KV cache, fixed
     * scratch (activations, per-thread), the rest (norm copies, tables). */
    uint64_t mem_kv, mem_scratch, mem_other;
    bitnet_context_stats stats;
};

/* Run n tokens (n <= n_batch) at positions n_past.. through the model,
 * computing logits when asked (logits_all: for each token, else the last). */
bitnet_status bn_forward(bitnet_context *ctx, const bitnet_token *tokens, int32_t n, bool want_logits);

#endif
