/* Hugging Face model directories (config.json, model.safetensors,
 * tokenizer.json, optionally tokenizer_config.json) turned into the same
 * in-memory tables a GGUF file gives (bn_gguf): metadata under GGUF key
 * names (general.architecture, llama.embedding_length,
 * tokenizer.ggml.tokens, ...) and tensors under GGUF names
 * (token_embd.weight, blk.N.attn_q.weight, ...). Architecture binding, the
 * forward pass, the tokenizer and the tensor API then run unchanged.
 *
 * Supported: BitNetForCausalLM (bitnet-b1.58 with relu2, bitnet with silu;
 * packed ternary or float weights), BitnetForCausalLM (1bitLLM: bitnet),
 * LlamaForCausalLM (llama); byte-level BPE tokenizers with the GPT-2 or
 * Llama 3 pre-tokenizer. Tensors are used where they lie in the
 * SafeTensors file when no conversion is needed; converted tensors (see
 * hf.c) live in the tables' arena. */
#ifndef BN_HF_H
#define BN_HF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bitnet.h"
#include "loader/gguf.h"
#include "loader/source.h"

/* Documented input limits (README "Input limits"). */
#define BN_HF_MAX_CONFIG (1u << 20)      /* config.json, tokenizer_config.json */
#define BN_HF_MAX_TOKENIZER (256u << 20) /* tokenizer.json */

typedef struct bn_hf_files {
    const uint8_t *st; /* model.safetensors; must outlive the tables */
    uint64_t st_size;
    const char *config; /* config.json */
    size_t config_len;
    const char *tokenizer; /* tokenizer.json */
    size_t tokenizer_len;
    const char *tokenizer_config; /* tokenizer_config.json, or NULL */
    size_t tokenizer_config_len;
    const char *name; /* general.name when config.json has no _name_or_path; may be NULL */
    /* The SafeTensors bytes are a private read-only file mapping: pages of
     * packed weights that were repacked are handed back (madvise). */
    bool st_mapped;
} bn_hf_files;

/* Build the tables from the files' bytes (nothing but `st` is referenced
 * afterwards). On failure *g is released and the message names the file
 * and the key or tensor. */
bitnet_status bn_hf_build(const bn_hf_files *in, bn_gguf *g);

/* A model directory, or the path of its model.safetensors whose bytes are
 * already open in *st (then `st_open` is true and *st is used, not
 * reopened). Reads the JSON files beside it, opens model.safetensors into
 * *st when needed (mapped when use_mmap) and builds *g. On failure *st is
 * closed, whoever opened it. A SafeTensors file without config.json
 * and tokenizer.json beside it is BITNET_ERR_BAD_FORMAT (it is not a
 * model by itself), as loading its bytes from memory is. */
bitnet_status bn_hf_load(const char *path, bool st_open, bool use_mmap, bn_source *st, bn_gguf *g);

#endif
