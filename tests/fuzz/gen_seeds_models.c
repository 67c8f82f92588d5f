/* Seeds of fuzz_decode: tiny models that load, build a context and decode,
 * so that mutations start from the whole path. Every architecture, most
 * weight types (32-wide rows for the 32-element block types, 256-wide for
 * the K-quants and ternary types), tied and separate output heads,
 * per-tensor scales, SentencePiece and byte-level BPE vocabularies. Weights
 * are deterministic pseudo-random floats through the reference quantizers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/bitnet.h"
#include "fuzz/gen_seeds.h"
#include "loader/gguf_writer.h"
#include "quant/quant.h"

#define N_VOCAB 32

typedef enum vocab_kind { V_SPM, V_GPT2, V_LLAMA3 } vocab_kind;

typedef struct tiny_spec {
    const char *name;
    const char *arch;    /* llama, bitnet-b1.58, bitnet */
    uint32_t wtype;      /* layer matrices */
    uint32_t embd_type;  /* token_embd */
    int head_type;       /* -1: tied to token_embd */
    int64_t n_embd, n_ff, n_layer, n_head, n_head_kv;
    vocab_kind vocab;
    int scales; /* bitnet: per-tensor "<stem>.scale" tensors */
} tiny_spec;

static uint32_t rng = 0x2545F491u;

static float frand(void) /* uniform in [-1, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return (float)((double)rng / 2147483648.0 - 1.0);
}

/* rows x cols floats scaled by `scale` (plus `bias`), quantized to `type`. */
static int add_tensor(bn_gguf_writer *w, const char *name, uint32_t type, int64_t cols, int64_t rows, float scale,
                      float bias)
{
    const bn_type_traits *tr = bn_type_traits_get(type);
    const int64_t n = cols * rows;
    const uint64_t nbytes = bn_type_tensor_bytes(type, n);
    float *src = malloc((size_t)n * sizeof *src);
    uint8_t *dst = malloc(nbytes ? (size_t)nbytes : 1);
    int bad = !tr || !tr->quantize || !nbytes || !src || !dst;
    if (!bad) {
        for (int64_t i = 0; i < n; i++)
            src[i] = bias + scale * frand();
        tr->quantize(src, dst, rows, cols);
        const int64_t ne[2] = {cols, rows};
        bad = bn_gguf_writer_add_tensor_copy(w, name, type, rows > 1 ? 2 : 1, ne, dst, nbytes) != BITNET_OK;
    }
    free(src);
    free(dst);
    if (bad)
        fprintf(stderr, "gen_seeds: tensor %s of type %u failed\n", name, type);
    return bad;
}

static int add_vocab(bn_gguf_writer *w, vocab_kind kind)
{
    const char *tokens[N_VOCAB];
    char storage[N_VOCAB][16];
    int32_t types[N_VOCAB];
    float scores[N_VOCAB];
    int n = 0;
    int bad = 0;
    if (kind == V_SPM) {
        static const char *const head[6] = {"<unk>", "<s>", "</s>", "\xE2\x96\x81", ("\xE2\x96\x81" "a"),
                                            ("\xE2\x96\x81" "b")};
        static const int32_t head_types[6] = {2, 3, 3, 1, 1, 1};
        for (; n < 6; n++)
            tokens[n] = head[n], types[n] = head_types[n], scores[n] = n < 3 ? 0.0f : -1.0f - (float)n;
        for (int c = 0; n < N_VOCAB - 2; n++, c++) {
            snprintf(storage[n], sizeof storage[n], "%c", 'a' + c);
            tokens[n] = storage[n], types[n] = 1, scores[n] = -10.0f - (float)c;
        }
        tokens[n] = "<0x0A>", types[n] = 6, scores[n++] = 0.0f; /* byte fallback for '\n' */
        tokens[n] = "<0x21>", types[n] = 6, scores[n++] = 0.0f; /* and '!' */
        bad |= bn_gguf_writer_add_string(w, "tokenizer.ggml.model", "llama") != BITNET_OK;
        bad |= bn_gguf_writer_add_array(w, "tokenizer.ggml.scores", BITNET_VALUE_FLOAT32, scores, N_VOCAB) != BITNET_OK;
        bad |= bn_gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 1) != BITNET_OK;
        bad |= bn_gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", 2) != BITNET_OK;
        bad |= bn_gguf_writer_add_u32(w, "tokenizer.ggml.unknown_token_id", 0) != BITNET_OK;
    } else {
        static const char *const head[4] = {"<|endoftext|>", "\xC4\xA0", "!", "<|eot_id|>"};
        static const int32_t head_types[4] = {3, 1, 1, 3};
        for (; n < 4; n++)
            tokens[n] = head[n], types[n] = head_types[n];
        for (int c = 0; n < N_VOCAB - 3; n++, c++) {
            snprintf(storage[n], sizeof storage[n], "%c", 'a' + c);
            tokens[n] = storage[n], types[n] = 1;
        }
        tokens[n] = "\xC4\xA0" "a", types[n++] = 1;
        tokens[n] = "ab", types[n++] = 1;
        tokens[n] = "\xC4\xA0" "ab", types[n++] = 1;
        static const char *const merges[3] = {"\xC4\xA0 a", "a b", ("\xC4\xA0" "a b")};
        bad |= bn_gguf_writer_add_string(w, "tokenizer.ggml.model", "gpt2") != BITNET_OK;
        bad |= bn_gguf_writer_add_string(w, "tokenizer.ggml.pre", kind == V_GPT2 ? "gpt-2" : "llama-bpe") !=
               BITNET_OK;
        bad |= bn_gguf_writer_add_string_array(w, "tokenizer.ggml.merges", merges, 3) != BITNET_OK;
        bad |= bn_gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 0) != BITNET_OK;
        bad |= bn_gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", 0) != BITNET_OK;
        bad |= bn_gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", kind == V_LLAMA3) != BITNET_OK;
    }
    bad |= bn_gguf_writer_add_string_array(w, "tokenizer.ggml.tokens", tokens, N_VOCAB) != BITNET_OK;
    bad |= bn_gguf_writer_add_array(w, "tokenizer.ggml.token_type", BITNET_VALUE_INT32, types, N_VOCAB) != BITNET_OK;
    return bad;
}

static int add_key(bn_gguf_writer *w, const char *arch, const char *suffix, uint32_t v)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return bn_gguf_writer_add_u32(w, key, v) != BITNET_OK;
}

static int tiny_model(const char *dir, const tiny_spec *sp)
{
    bn_gguf_writer *w = NULL;
    if (bn_gguf_writer_new(3, &w) != BITNET_OK)
        return 1;
    const char *a = sp->arch;
    const int sub_norms = strcmp(a, "llama") != 0;
    const int64_t e = sp->n_embd, ff = sp->n_ff, kv = sp->n_head_kv * (e / sp->n_head);
    int bad = bn_gguf_writer_add_string(w, "general.architecture", a) != BITNET_OK;
    bad |= bn_gguf_writer_add_string(w, "general.name", sp->name) != BITNET_OK;
    bad |= add_key(w, a, "context_length", 16) || add_key(w, a, "embedding_length", (uint32_t)e);
    bad |= add_key(w, a, "block_count", (uint32_t)sp->n_layer) || add_key(w, a, "feed_forward_length", (uint32_t)ff);
    bad |= add_key(w, a, "attention.head_count", (uint32_t)sp->n_head);
    bad |= add_key(w, a, "attention.head_count_kv", (uint32_t)sp->n_head_kv);
    char key[128];
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", a);
    bad |= bn_gguf_writer_add_f32(w, key, 1e-5f) != BITNET_OK;
    snprintf(key, sizeof key, "%s.rope.freq_base", a);
    bad |= bn_gguf_writer_add_f32(w, key, 10000.0f) != BITNET_OK;
    bad |= add_vocab(w, sp->vocab);
    bad |= add_tensor(w, "token_embd.weight", sp->embd_type, e, N_VOCAB, 0.5f, 0.0f);
    bad |= add_tensor(w, "output_norm.weight", BITNET_TYPE_F32, e, 1, 0.1f, 1.0f);
    if (sp->head_type >= 0)
        bad |= add_tensor(w, "output.weight", (uint32_t)sp->head_type, e, N_VOCAB, 0.5f, 0.0f);
    static const char *const mats[7] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up",
                                        "ffn_down"};
    for (int64_t l = 0; l < sp->n_layer && !bad; l++) {
        char name[96];
        snprintf(name, sizeof name, "blk.%lld.attn_norm.weight", (long long)l);
        bad |= add_tensor(w, name, BITNET_TYPE_F32, e, 1, 0.1f, 1.0f);
        snprintf(name, sizeof name, "blk.%lld.ffn_norm.weight", (long long)l);
        bad |= add_tensor(w, name, BITNET_TYPE_F32, e, 1, 0.1f, 1.0f);
        if (sub_norms) {
            snprintf(name, sizeof name, "blk.%lld.attn_sub_norm.weight", (long long)l);
            bad |= add_tensor(w, name, BITNET_TYPE_F32, e, 1, 0.1f, 1.0f);
            snprintf(name, sizeof name, "blk.%lld.ffn_sub_norm.weight", (long long)l);
            bad |= add_tensor(w, name, BITNET_TYPE_F32, ff, 1, 0.1f, 1.0f);
        }
        const int64_t cols[7] = {e, e, e, e, e, e, ff}, rows[7] = {e, kv, kv, e, ff, ff, e};
        for (int i = 0; i < 7; i++) {
            snprintf(name, sizeof name, "blk.%lld.%s.weight", (long long)l, mats[i]);
            bad |= add_tensor(w, name, sp->wtype, cols[i], rows[i], 0.3f, 0.0f);
            if (sp->scales) {
                snprintf(name, sizeof name, "blk.%lld.%s.scale", (long long)l, mats[i]);
                bad |= add_tensor(w, name, BITNET_TYPE_F32, 1, 1, 0.2f, 1.0f);
            }
        }
    }
    int rc = 1;
    void *buf = NULL;
    size_t size = 0;
    if (!bad && bn_gguf_writer_to_memory(w, &buf, &size, NULL) == BITNET_OK) {
        char file[128];
        snprintf(file, sizeof file, "%s.gguf", sp->name);
        rc = gen_write_file(dir, file, buf, size);
    }
    free(buf);
    bn_gguf_writer_free(w);
    if (rc)
        fprintf(stderr, "gen_seeds: model %s failed\n", sp->name);
    return rc;
}

int gen_seeds_models(const char *dir)
{
    static const tiny_spec specs[] = {
        {"llama-f32-spm", "llama", BITNET_TYPE_F32, BITNET_TYPE_F32, -1, 32, 64, 2, 4, 2, V_SPM, 0},
        {"llama-f16-gpt2", "llama", BITNET_TYPE_F16, BITNET_TYPE_F16, BITNET_TYPE_F16, 32, 64, 1, 2, 1, V_GPT2, 0},
        {"llama-bf16-llama3", "llama", BITNET_TYPE_BF16, BITNET_TYPE_F32, BITNET_TYPE_Q8_0, 32, 32, 1, 4, 4,
         V_LLAMA3, 0},
        {"llama-q4_0", "llama", BITNET_TYPE_Q4_0, BITNET_TYPE_Q4_0, BITNET_TYPE_Q8_0, 32, 64, 2, 2, 2, V_SPM, 0},
        {"llama-q4_1", "llama", BITNET_TYPE_Q4_1, BITNET_TYPE_F16, -1, 32, 32, 1, 1, 1, V_GPT2, 0},
        {"llama-q5_0", "llama", BITNET_TYPE_Q5_0, BITNET_TYPE_Q5_0, -1, 64, 64, 1, 4, 1, V_SPM, 0},
        {"llama-q5_1", "llama", BITNET_TYPE_Q5_1, BITNET_TYPE_F16, BITNET_TYPE_Q5_1, 32, 64, 1, 2, 2, V_LLAMA3, 0},
        {"llama-q8_0", "llama", BITNET_TYPE_Q8_0, BITNET_TYPE_Q8_0, -1, 32, 96, 1, 2, 1, V_GPT2, 0},
        {"llama-q2_k", "llama", BITNET_TYPE_Q2_K, BITNET_TYPE_F16, BITNET_TYPE_Q6_K, 256, 256, 1, 4, 1, V_SPM, 0},
        {"llama-q3_k", "llama", BITNET_TYPE_Q3_K, BITNET_TYPE_Q4_K, -1, 256, 256, 1, 4, 1, V_GPT2, 0},
        {"llama-q4_k", "llama", BITNET_TYPE_Q4_K, BITNET_TYPE_F16, BITNET_TYPE_Q6_K, 256, 256, 1, 4, 1, V_LLAMA3,
         0},
        {"llama-q5_k", "llama", BITNET_TYPE_Q5_K, BITNET_TYPE_Q5_K, -1, 256, 256, 1, 8, 2, V_SPM, 0},
        {"llama-q6_k", "llama", BITNET_TYPE_Q6_K, BITNET_TYPE_F16, -1, 256, 256, 1, 4, 1, V_SPM, 0},
        {"bitnet158-i2_s", "bitnet-b1.58", BITNET_TYPE_I2_S, BITNET_TYPE_F16, -1, 128, 128, 2, 4, 1, V_LLAMA3, 0},
        {"bitnet158-tq1_0", "bitnet-b1.58", BITNET_TYPE_TQ1_0, BITNET_TYPE_F16, BITNET_TYPE_Q8_0, 256, 256, 1, 4, 2,
         V_GPT2, 0},
        {"bitnet158-tq2_0", "bitnet-b1.58", BITNET_TYPE_TQ2_0, BITNET_TYPE_Q8_0, -1, 256, 256, 1, 4, 1, V_SPM, 0},
        {"bitnet-tq2_0-scales", "bitnet", BITNET_TYPE_TQ2_0, BITNET_TYPE_F16, BITNET_TYPE_F16, 256, 256, 1, 4, 4,
         V_LLAMA3, 1},
        {"bitnet-i2_s-scales", "bitnet", BITNET_TYPE_I2_S, BITNET_TYPE_F32, -1, 128, 256, 1, 2, 1, V_SPM, 1},
        /* Crossed: int8 activations with non-ternary weights, and the reverse. */
        {"bitnet158-q8_0", "bitnet-b1.58", BITNET_TYPE_Q8_0, BITNET_TYPE_F16, -1, 32, 64, 1, 2, 1, V_GPT2, 0},
        {"bitnet-f16", "bitnet", BITNET_TYPE_F16, BITNET_TYPE_F16, BITNET_TYPE_Q4_0, 32, 32, 1, 2, 2, V_SPM, 1},
        {"bitnet158-q4_k", "bitnet-b1.58", BITNET_TYPE_Q4_K, BITNET_TYPE_F16, -1, 256, 256, 1, 4, 1, V_SPM, 0},
        {"llama-tq2_0", "llama", BITNET_TYPE_TQ2_0, BITNET_TYPE_F16, -1, 256, 256, 1, 4, 1, V_LLAMA3, 0},
        {"llama-i2_s", "llama", BITNET_TYPE_I2_S, BITNET_TYPE_F16, -1, 128, 128, 1, 2, 1, V_GPT2, 0},
    };
    int failures = 0;
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        failures += tiny_model(dir, &specs[i]);
    return failures;
}
