/* Architecture description: hyper-parameters from metadata and the tensors
 * of each role, bound by name and checked for shape. */
#ifndef BN_ARCH_H
#define BN_ARCH_H

#include "bitnet_experimental.h"
#include "loader/gguf.h"

typedef enum bn_arch { BN_ARCH_LLAMA, BN_ARCH_BITNET_B158, BN_ARCH_BITNET } bn_arch;

typedef struct bn_hparams {
    bn_arch arch;
    const char *arch_name;
    int64_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx_train, n_rot;
    float norm_eps, rope_base;
    bool rope_neox;   /* pairs (i, i + d/2) instead of (2i, 2i + 1) */
    bool act_i8;      /* W1.58A8: linear layers run on int8 activations */
    bool sub_norms;   /* attn_sub_norm / ffn_sub_norm */
    bool relu2;       /* relu(g)^2 * u instead of silu(g) * u */
} bn_hparams;

/* A linear layer: its weights and an output scale (the `bitnet` arch's
 * optional blk.N.<name>.scale tensors; 1 otherwise). */
typedef struct bn_linear {
    bitnet_weights w;
    float scale;
    const bn_gguf_tensor *t; /* the stored tensor (the weight store's key) */
    int64_t idx;             /* its index in the GGUF tensor table */
    bool repacked;           /* w is the model's re-encoded copy, not t's bytes */
} bn_linear;

typedef struct bn_layer {
    const bn_gguf_tensor *attn_norm, *ffn_norm, *attn_sub_norm, *ffn_sub_norm;
    bn_linear wq, wk, wv, wo, gate, up, down;
} bn_layer;

typedef struct bn_arch_model {
    bn_hparams hp;
    const bn_gguf_tensor *tok_embd, *output_norm;
    bitnet_weights output; /* output.weight, or token_embd when tied */
    bn_layer *layers;      /* hp.n_layer, owned (bn_free) */
} bn_arch_model;

/* Bind the model's tensors; BAD_FORMAT naming the key or tensor when
 * something is missing or inconsistent, UNSUPPORTED for other architectures. */
bitnet_status bn_arch_bind(const bn_gguf *g, bn_arch_model *out);
void bn_arch_free(bn_arch_model *am);

#endif
