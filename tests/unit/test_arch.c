/* Architecture binding: a tiny llama model built in memory loads and runs;
 * each missing or inconsistent hyper-parameter or tensor gives BAD_FORMAT
 * naming the key or tensor, an unknown architecture UNSUPPORTED. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bitnet.h"
#include "loader/gguf_writer.h"

enum { E = 32, KV = 16, FF = 64, V = 16 };

typedef struct defect {
    const char *skip_key;    /* metadata key left out */
    const char *skip_tensor; /* tensor left out */
    uint32_t head_count;     /* llama.attention.head_count */
    const char *arch;
    int64_t k_rows;          /* rows of attn_k */
    float weight_mul;        /* multiplies the linear weights (0: 1) */
    bool scale_tensors;      /* add blk.0.<name>.scale = 2 for each linear layer */
    int n_tokens;            /* tokenizer.ggml.tokens entries (0: no such key) */
    uint32_t block_count;    /* llama.block_count (0: 1) */
} defect;

static float weights[FF * E], scaled[FF * E];
static const float two = 2.0f;

static void add_tensor(bn_gguf_writer *w, const defect *d, const char *name, int64_t ne0, int64_t ne1)
{
    if (d->skip_tensor && strcmp(d->skip_tensor, name) == 0)
        return;
    int64_t ne[2] = {ne0, ne1};
    /* Linear layers (2-D, blk.*) take the multiplier; embeddings and norms not. */
    const bool linear = ne1 > 1 && strncmp(name, "blk.", 4) == 0;
    assert_int_equal(bn_gguf_writer_add_tensor(w, name, BITNET_TYPE_F32, ne1 > 1 ? 2 : 1, ne,
                                               linear ? scaled : weights, (uint64_t)(ne0 * ne1) * 4),
                     BITNET_OK);
    if (linear && d->scale_tensors) {
        char sname[96];
        snprintf(sname, sizeof sname, "%.*s.scale", (int)(strlen(name) - strlen(".weight")), name);
        const int64_t one = 1;
        assert_int_equal(bn_gguf_writer_add_tensor_copy(w, sname, BITNET_TYPE_F32, 1, &one, &two, 4), BITNET_OK);
    }
}

static void add_u32(bn_gguf_writer *w, const defect *d, const char *key, uint32_t v)
{
    if (!d->skip_key || strcmp(d->skip_key, key) != 0)
        assert_int_equal(bn_gguf_writer_add_u32(w, key, v), BITNET_OK);
}

static void *build(const defect *d, size_t *size)
{
    for (int i = 0; i < FF * E; i++) {
        weights[i] = (float)((i * 7919) % 13 - 6) * 0.01f;
        scaled[i] = weights[i] * (d->weight_mul ? d->weight_mul : 1.0f);
    }
    const char *arch = d->arch ? d->arch : "llama";
    char key[96];
#define KEY(suffix) (snprintf(key, sizeof key, "%s." suffix, strcmp(arch, "gpt-neox") ? arch : "llama"), key)
    bn_gguf_writer *w;
    assert_int_equal(bn_gguf_writer_new(3, &w), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_string(w, "general.architecture", arch), BITNET_OK);
    add_u32(w, d, KEY("embedding_length"), E);
    add_u32(w, d, KEY("block_count"), d->block_count ? d->block_count : 1);
    add_u32(w, d, KEY("attention.head_count"), d->head_count ? d->head_count : 4);
    add_u32(w, d, KEY("attention.head_count_kv"), 2);
    add_u32(w, d, KEY("feed_forward_length"), FF);
    add_u32(w, d, KEY("context_length"), 64);
#undef KEY
    if (d->n_tokens) {
        const char *toks[64];
        char text[64][8];
        for (int i = 0; i < d->n_tokens && i < 64; i++) {
            snprintf(text[i], sizeof text[i], "t%d", i);
            toks[i] = text[i];
        }
        assert_int_equal(bn_gguf_writer_add_string(w, "tokenizer.ggml.model", "gpt2"), BITNET_OK);
        assert_int_equal(bn_gguf_writer_add_string_array(w, "tokenizer.ggml.tokens", toks, (uint64_t)d->n_tokens),
                         BITNET_OK);
    }
    if (strncmp(arch, "bitnet", 6) == 0) {
        add_tensor(w, d, "blk.0.attn_sub_norm.weight", E, 1);
        add_tensor(w, d, "blk.0.ffn_sub_norm.weight", FF, 1);
    }
    add_tensor(w, d, "token_embd.weight", E, V);
    add_tensor(w, d, "output_norm.weight", E, 1);
    add_tensor(w, d, "blk.0.attn_norm.weight", E, 1);
    add_tensor(w, d, "blk.0.ffn_norm.weight", E, 1);
    add_tensor(w, d, "blk.0.attn_q.weight", E, E);
    add_tensor(w, d, "blk.0.attn_k.weight", E, d->k_rows ? d->k_rows : KV);
    add_tensor(w, d, "blk.0.attn_v.weight", E, KV);
    add_tensor(w, d, "blk.0.attn_output.weight", E, E);
    add_tensor(w, d, "blk.0.ffn_gate.weight", E, FF);
    add_tensor(w, d, "blk.0.ffn_up.weight", E, FF);
    add_tensor(w, d, "blk.0.ffn_down.weight", FF, E);
    void *buf;
    assert_int_equal(bn_gguf_writer_to_memory(w, &buf, size, NULL), BITNET_OK);
    bn_gguf_writer_free(w);
    return buf;
}

/* Context creation status for a model with one defect; *msg gets the error. */
static bitnet_status try_context(const defect *d, char *msg, size_t cap)
{
    size_t size;
    void *buf = build(d, &size);
    bitnet_model *m;
    assert_int_equal(bitnet_model_load_memory(buf, size, NULL, &m), BITNET_OK);
    bitnet_context *c = NULL;
    bitnet_status s = bitnet_context_new(m, NULL, &c);
    snprintf(msg, cap, "%s", bitnet_last_error());
    if (!s) {
        const bitnet_token toks[] = {1, 2, 3};
        assert_int_equal(bitnet_context_decode(c, toks, 3), BITNET_OK);
        assert_non_null(bitnet_context_logits(c, -1));
    } else {
        assert_null(c);
        assert_string_equal(bitnet_model_last_error(m), msg); /* recorded on the model too */
    }
    bitnet_context_free(c);
    bitnet_model_release(m);
    free(buf);
    return s;
}

static void expect(const defect *d, bitnet_status want, const char *needle)
{
    char msg[512];
    bitnet_status s = try_context(d, msg, sizeof msg);
    if (s != want || (needle && !strstr(msg, needle)))
        fail_msg("got %s '%s', want %s naming '%s'", bitnet_status_str(s), msg, bitnet_status_str(want),
                 needle ? needle : "");
}

static void test_tiny_model_runs(void **state)
{
    (void)state;
    expect(&(defect){0}, BITNET_OK, NULL);
}

static void test_missing_keys(void **state)
{
    (void)state;
    expect(&(defect){.skip_key = "llama.block_count"}, BITNET_ERR_BAD_FORMAT, "llama.block_count");
    expect(&(defect){.skip_key = "llama.embedding_length"}, BITNET_ERR_BAD_FORMAT, "llama.embedding_length");
    expect(&(defect){.skip_key = "llama.feed_forward_length"}, BITNET_ERR_BAD_FORMAT, "llama.feed_forward_length");
    /* head_count_kv defaults to head_count (MHA): 32 != 16 rows of attn_k. */
    expect(&(defect){.skip_key = "llama.attention.head_count_kv"}, BITNET_ERR_BAD_FORMAT, "blk.0.attn_k.weight");
}

static void test_inconsistent_values(void **state)
{
    (void)state;
    expect(&(defect){.head_count = 5}, BITNET_ERR_BAD_FORMAT, "head_count");
    expect(&(defect){.head_count = 3}, BITNET_ERR_BAD_FORMAT, "head_count"); /* 3 % 2 kv heads */
    expect(&(defect){.k_rows = 8}, BITNET_ERR_BAD_FORMAT, "blk.0.attn_k.weight");
    expect(&(defect){.skip_tensor = "blk.0.ffn_up.weight"}, BITNET_ERR_BAD_FORMAT, "blk.0.ffn_up.weight");
    expect(&(defect){.skip_tensor = "output_norm.weight"}, BITNET_ERR_BAD_FORMAT, "output_norm.weight");
    expect(&(defect){.arch = "gpt-neox"}, BITNET_ERR_UNSUPPORTED, "gpt-neox");
    /* Callers read bitnet_vocab_size() logits: a tokenizer larger than the
     * embedding (16 rows) is refused; one as large or smaller is fine. */
    expect(&(defect){.n_tokens = V + 1}, BITNET_ERR_BAD_FORMAT, "tokenizer.ggml.tokens");
    expect(&(defect){.n_tokens = V}, BITNET_OK, NULL);
    expect(&(defect){.n_tokens = V / 2}, BITNET_OK, NULL);
    /* A block count the tensor table cannot back fails before the layer
     * table (gigabytes for 2^24 blocks) is allocated. */
    expect(&(defect){.block_count = 1 << 24}, BITNET_ERR_BAD_FORMAT, "llama.block_count 16777216 needs");
    expect(&(defect){.block_count = 2}, BITNET_ERR_BAD_FORMAT, "llama.block_count 2 needs at least 18 tensors");
}

/* Logits of a model after decoding three tokens (n_vocab floats, malloc'd). */
static float *logits_of(const defect *d)
{
    size_t size;
    void *buf = build(d, &size);
    bitnet_model *m;
    bitnet_context *c;
    assert_int_equal(bitnet_model_load_memory(buf, size, NULL, &m), BITNET_OK);
    assert_int_equal(bitnet_context_new(m, NULL, &c), BITNET_OK);
    const bitnet_token toks[] = {1, 2, 3};
    assert_int_equal(bitnet_context_decode(c, toks, 3), BITNET_OK);
    float *out = malloc(V * sizeof *out);
    assert_non_null(out);
    memcpy(out, bitnet_context_logits(c, -1), V * sizeof *out);
    bitnet_context_free(c);
    bitnet_model_release(m);
    free(buf);
    return out;
}

/* `bitnet` (1bitLLM, llama.cpp's name): per-tensor scale tensors multiply
 * each projection's output, exactly like weights pre-multiplied by them;
 * and its SiLU FFN differs from bitnet-b1.58's ReLU^2. */
static void test_bitnet_arch_scales(void **state)
{
    (void)state;
    float *with_scales = logits_of(&(defect){.arch = "bitnet", .scale_tensors = true});
    float *premultiplied = logits_of(&(defect){.arch = "bitnet", .weight_mul = 2.0f});
    float *plain = logits_of(&(defect){.arch = "bitnet"});
    float *b158 = logits_of(&(defect){.arch = "bitnet-b1.58", .weight_mul = 2.0f});
    assert_memory_equal(with_scales, premultiplied, V * sizeof(float));
    assert_memory_not_equal(with_scales, plain, V * sizeof(float));
    assert_memory_not_equal(premultiplied, b158, V * sizeof(float));
    free(with_scales);
    free(premultiplied);
    free(plain);
    free(b158);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_model_runs),
        cmocka_unit_test(test_missing_keys),
        cmocka_unit_test(test_inconsistent_values),
        cmocka_unit_test(test_bitnet_arch_scales),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
