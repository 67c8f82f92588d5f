/* Shared by the Hugging Face directory loader's files: hf.c (config.json
 * and tensors), hf_tokenizer.c (tokenizer.json), hf_dir.c (the files). */
#ifndef BN_HF_INTERNAL_H
#define BN_HF_INTERNAL_H

#include "core/json.h"
#include "loader/hf.h"
#include "loader/safetensors.h"

typedef struct bn_hf_ctx {
    const bn_hf_files *in;
    bn_gguf *g;      /* the tables being built */
    bn_arena tmp;    /* parsed JSON documents, freed after the build */
    const bn_json *config, *tokenizer, *tok_config;
    bn_safetensors st;
    uint8_t *used; /* per SafeTensors tensor: consumed by the model */
    const char *arch; /* GGUF architecture name */
    bool ternary;     /* BitNet: linear layers run ternary (I2_S) */
    bool permute_qk;  /* llama: q/k rows to GGUF's adjacent-pair order */
    bool tied;        /* tie_word_embeddings */
    int64_t n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx, head_dim;
    double eps, rope_base;
    size_t cap_kv, cap_tensors;
} bn_hf_ctx;

/* Metadata pairs appended to c->g (key and strings copied into its arena;
 * numeric arrays must already live there). */
bitnet_status bn_hf_kv_u32(bn_hf_ctx *c, const char *key, uint32_t v);
bitnet_status bn_hf_kv_f32(bn_hf_ctx *c, const char *key, float v);
bitnet_status bn_hf_kv_bool(bn_hf_ctx *c, const char *key, bool v);
bitnet_status bn_hf_kv_string(bn_hf_ctx *c, const char *key, const char *s, size_t len);
bitnet_status bn_hf_kv_strings(bn_hf_ctx *c, const char *key, const bn_gguf_str *strs, uint64_t n);
bitnet_status bn_hf_kv_i32s(bn_hf_ctx *c, const char *key, const int32_t *v, uint64_t n);

/* tokenizer.json (+ tokenizer_config.json) to tokenizer.ggml.* pairs. */
bitnet_status bn_hf_tokenizer(bn_hf_ctx *c);

#endif
