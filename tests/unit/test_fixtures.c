/* Every fixture GGUF loads; its metadata and tensor table match what
 * ../shared/fixtures/README.md states; quantized variants dequantize to the
 * values of the float32 file of the same model. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bitnet.h"
#include "quant/quant.h"
#include "support/fixtures.h"

typedef struct family {
    const char *dir, *stem, *arch, *tokenizer;
    int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx, n_vocab;
    double rope_base;
    int64_t bos, eos;
    int64_t n_tensors;
    int has_output; /* separate output.weight */
    const char *variants[14];
} family;

/* Transcribed from ../shared/fixtures/README.md. */
static const family families[] = {
    {"kjv-bitnet", "kjv-bitnet-4m", "bitnet-b1.58", "gpt2", 256, 4, 4, 1, 768, 128, 4096, 500000.0, 4094, 4095,
     46, 0, {"f32", "f16", "i2_s", "tq2_0", "tq1_0"}},
    {"kjv-llama", "kjv-llama-5m", "llama", "llama", 256, 4, 4, 2, 768, 128, 4096, 10000.0, 1, 2, 39, 1,
     {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k", "q3_k_m", "q4_k_m", "q5_k_m",
      "q6_k"}},
    {"stories260k", "stories260k", "llama", "llama", 64, 5, 8, 4, 172, 512, 512, 10000.0, 1, 2, 48, 1,
     {"f32", "q8_0", "q4_0", "q5_1"}},
};

static bitnet_model *load(const family *f, const char *variant)
{
    char rel[256], path[1024];
    snprintf(rel, sizeof rel, "%s/%s-%s.gguf", f->dir, f->stem, variant);
    fixture_path(path, sizeof path, rel);
    bitnet_model *m = NULL;
    bitnet_status s = bitnet_model_load_file(path, NULL, &m);
    if (s)
        fail_msg("%s: %s: %s", path, bitnet_status_str(s), bitnet_last_error());
    return m;
}

static int64_t meta_int(const bitnet_model *m, const char *arch, const char *suffix)
{
    char key[128];
    int64_t v = -1;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (bitnet_model_meta_int(m, key, &v))
        fail_msg("%s: %s", key, bitnet_last_error());
    return v;
}

static void check_metadata(const family *f, const bitnet_model *m)
{
    const char *s;
    assert_int_equal(bitnet_model_meta_string(m, "general.architecture", &s, NULL), BITNET_OK);
    assert_string_equal(s, f->arch);
    assert_int_equal(meta_int(m, f->arch, "embedding_length"), f->n_embd);
    assert_int_equal(meta_int(m, f->arch, "block_count"), f->n_layer);
    assert_int_equal(meta_int(m, f->arch, "attention.head_count"), f->n_head);
    assert_int_equal(meta_int(m, f->arch, "attention.head_count_kv"), f->n_head_kv);
    assert_int_equal(meta_int(m, f->arch, "feed_forward_length"), f->n_ff);
    assert_int_equal(meta_int(m, f->arch, "context_length"), f->n_ctx);
    double base = 0;
    char key[128];
    snprintf(key, sizeof key, "%s.rope.freq_base", f->arch);
    if (bitnet_model_meta_float(m, key, &base) == BITNET_OK) /* stories260k leaves the default */
        assert_true(base == f->rope_base);
    assert_int_equal(bitnet_model_meta_string(m, "tokenizer.ggml.model", &s, NULL), BITNET_OK);
    assert_string_equal(s, f->tokenizer);
    const bitnet_value *tokens;
    bitnet_value_type et;
    uint64_t n;
    assert_int_equal(bitnet_model_meta_get(m, "tokenizer.ggml.tokens", &tokens), BITNET_OK);
    assert_int_equal(bitnet_value_array_info(tokens, &et, &n), BITNET_OK);
    assert_int_equal(et, BITNET_VALUE_STRING);
    assert_int_equal(n, f->n_vocab);
    int64_t id;
    assert_int_equal(bitnet_model_meta_int(m, "tokenizer.ggml.bos_token_id", &id), BITNET_OK);
    assert_int_equal(id, f->bos);
    assert_int_equal(bitnet_model_meta_int(m, "tokenizer.ggml.eos_token_id", &id), BITNET_OK);
    assert_int_equal(id, f->eos);
}

/* Tensor table: count, the shapes a model of these hyper-parameters has, and
 * every tensor readable as finite float32. */
static void check_tensors(const family *f, bitnet_model *m)
{
    assert_int_equal(bitnet_model_tensor_count(m), f->n_tensors);
    int64_t idx;
    bitnet_tensor_info t = {.struct_size = sizeof t};
    assert_int_equal(bitnet_model_tensor_find(m, "token_embd.weight", &idx), BITNET_OK);
    assert_int_equal(bitnet_model_tensor_info(m, idx, &t), BITNET_OK);
    assert_int_equal(t.ne[0], f->n_embd);
    assert_int_equal(t.ne[1], f->n_vocab);
    assert_int_equal(bitnet_model_tensor_find(m, "output.weight", &idx) == BITNET_OK, f->has_output);
    int64_t head_dim = f->n_embd / f->n_head;
    assert_int_equal(bitnet_model_tensor_find(m, "blk.0.attn_k.weight", &idx), BITNET_OK);
    assert_int_equal(bitnet_model_tensor_info(m, idx, &t), BITNET_OK);
    assert_int_equal(t.ne[0], f->n_embd);
    assert_int_equal(t.ne[1], head_dim * f->n_head_kv);
    assert_int_equal(bitnet_model_tensor_find(m, "blk.0.ffn_down.weight", &idx), BITNET_OK);
    assert_int_equal(bitnet_model_tensor_info(m, idx, &t), BITNET_OK);
    assert_int_equal(t.ne[0], f->n_ff);
    assert_int_equal(t.ne[1], f->n_embd);
    for (int64_t i = 0; i < bitnet_model_tensor_count(m); i++) {
        assert_int_equal(bitnet_model_tensor_info(m, i, &t), BITNET_OK);
        assert_true(t.n_bytes > 0);
        size_t cap = (size_t)t.n_elements * sizeof(float), written = 0;
        float *buf = malloc(cap);
        assert_non_null(buf);
        bitnet_status s = bitnet_model_tensor_read(m, t.name, 0, t.n_rows, BITNET_TYPE_F32, buf, cap, &written);
        if (s)
            fail_msg("%s: %s", t.name, bitnet_last_error());
        assert_int_equal(written, cap);
        for (int64_t k = 0; k < t.n_elements; k++)
            if (!isfinite(buf[k]))
                fail_msg("%s[%lld] is not finite", t.name, (long long)k);
        free(buf);
    }
}

static void test_all_fixtures_load(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        const family *f = &families[i];
        for (int v = 0; f->variants[v]; v++) {
            bitnet_model *m = load(f, f->variants[v]);
            check_metadata(f, m);
            check_tensors(f, m);
            bitnet_model_release(m);
        }
    }
}

static void test_vocab_files_load(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    static const char *const files[] = {"vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-llama-bpe.gguf",
                                        "vocab/ggml-vocab-gpt-2.gguf"};
    static const uint64_t n_vocab[] = {32000, 128256, 50257};
    for (int i = 0; i < 3; i++) {
        char path[1024];
        bitnet_model *m;
        fixture_path(path, sizeof path, files[i]);
        assert_int_equal(bitnet_model_load_file(path, NULL, &m), BITNET_OK);
        assert_int_equal(bitnet_model_tensor_count(m), 0);
        const bitnet_value *tokens;
        uint64_t n;
        assert_int_equal(bitnet_model_meta_get(m, "tokenizer.ggml.tokens", &tokens), BITNET_OK);
        assert_int_equal(bitnet_value_array_info(tokens, NULL, &n), BITNET_OK);
        assert_int_equal(n, n_vocab[i]);
        bitnet_model_release(m);
    }
}

static float *read_all(bitnet_model *m, const char *name, bitnet_type type, int64_t *n)
{
    int64_t idx;
    bitnet_tensor_info t = {.struct_size = sizeof t};
    assert_int_equal(bitnet_model_tensor_find(m, name, &idx), BITNET_OK);
    assert_int_equal(bitnet_model_tensor_info(m, idx, &t), BITNET_OK);
    size_t cap = (size_t)t.n_elements * 4;
    float *buf = malloc(cap);
    assert_non_null(buf);
    assert_int_equal(bitnet_model_tensor_read(m, name, 0, t.n_rows, type, buf, cap, NULL), BITNET_OK);
    if (type == BITNET_TYPE_F16) { /* widen in place, back to front */
        const uint16_t *h = (const uint16_t *)buf;
        for (int64_t k = t.n_elements - 1; k >= 0; k--)
            buf[k] = bn_fp16_to_fp32(h[k]);
    }
    *n = t.n_elements;
    return buf;
}

static uint32_t tensor_type(const bitnet_model *m, int64_t i, const char **name)
{
    bitnet_tensor_info t = {.struct_size = sizeof t};
    assert_int_equal(bitnet_model_tensor_info(m, i, &t), BITNET_OK);
    *name = t.name;
    return t.type;
}

/* kjv-bitnet: i2_s and f32 tensors equal the f32 file exactly; f16, tq1_0 and
 * tq2_0 equal it rounded to f16 (the f16 of code x scale is code x f16(scale)). */
static void test_bitnet_variants_match_f32(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    const family *f = &families[0];
    bitnet_model *ref = load(f, "f32");
    static const char *const variants[] = {"i2_s", "tq2_0", "tq1_0", "f16"};
    for (int v = 0; v < 4; v++) {
        bitnet_model *m = load(f, variants[v]);
        int ternary_seen = 0;
        for (int64_t i = 0; i < bitnet_model_tensor_count(m); i++) {
            const char *name;
            uint32_t type = tensor_type(m, i, &name);
            int exact = type == BITNET_TYPE_F32 || type == BITNET_TYPE_I2_S;
            int64_t n, nr;
            float *got = read_all(m, name, BITNET_TYPE_F32, &n);
            float *want = read_all(ref, name, exact ? BITNET_TYPE_F32 : BITNET_TYPE_F16, &nr);
            assert_int_equal(n, nr);
            for (int64_t k = 0; k < n; k++)
                if (got[k] != want[k])
                    fail_msg("%s %s[%lld]: %.9g != %.9g", variants[v], name, (long long)k, got[k], want[k]);
            ternary_seen += type == BITNET_TYPE_I2_S || type == BITNET_TYPE_TQ1_0 || type == BITNET_TYPE_TQ2_0;
            free(got);
            free(want);
        }
        if (v < 3)
            assert_int_equal(ternary_seen, 7 * f->n_layer);
        bitnet_model_release(m);
    }
    bitnet_model_release(ref);
}

/* kjv-llama q8_0: within half a quantization step of the f32 file per block,
 * and our reference quantizer reproduces the file's bytes. */
static void test_q8_0_matches_f32(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    const family *f = &families[1];
    bitnet_model *ref = load(f, "f32");
    bitnet_model *m = load(f, "q8_0");
    const bn_type_traits *q8 = bn_type_traits_get(BITNET_TYPE_Q8_0);
    int q8_seen = 0, bytes_equal = 0;
    for (int64_t i = 0; i < bitnet_model_tensor_count(m); i++) {
        const char *name;
        if (tensor_type(m, i, &name) != BITNET_TYPE_Q8_0)
            continue;
        q8_seen++;
        int64_t n, nr;
        float *got = read_all(m, name, BITNET_TYPE_F32, &n);
        float *want = read_all(ref, name, BITNET_TYPE_F32, &nr);
        assert_int_equal(n, nr);
        for (int64_t b = 0; b < n; b += 32) {
            float amax = 0;
            for (int k = 0; k < 32; k++)
                amax = fmaxf(amax, fabsf(want[b + k]));
            /* Half a step, plus the f16 rounding of the scale (2^-11
             * relative) times the largest code, 127. */
            float bound = amax / 127.0f * (0.5f + 127.0f / 2048.0f) + 1e-7f;
            for (int k = 0; k < 32; k++)
                if (fabsf(got[b + k] - want[b + k]) > bound)
                    fail_msg("%s[%lld]: %g vs %g (bound %g)", name, (long long)(b + k), got[b + k], want[b + k],
                             bound);
        }
        /* Re-quantize the float weights with the library's reference. */
        bitnet_tensor_info t = {.struct_size = sizeof t};
        assert_int_equal(bitnet_model_tensor_info(m, i, &t), BITNET_OK);
        uint8_t *mine = malloc(t.n_bytes);
        assert_non_null(mine);
        q8->quantize(want, mine, t.n_rows, t.ne[0]);
        FILE *fp = NULL;
        char path[1024], rel[256];
        snprintf(rel, sizeof rel, "%s/%s-q8_0.gguf", f->dir, f->stem);
        fp = fopen(fixture_path(path, sizeof path, rel), "rb");
        assert_non_null(fp);
        uint8_t *theirs = malloc(t.n_bytes);
        assert_non_null(theirs);
        assert_int_equal(fseek(fp, (long)t.offset, SEEK_SET), 0);
        assert_int_equal(fread(theirs, 1, t.n_bytes, fp), t.n_bytes);
        fclose(fp);
        bytes_equal += memcmp(mine, theirs, t.n_bytes) == 0;
        free(mine);
        free(theirs);
        free(got);
        free(want);
    }
    assert_true(q8_seen >= 7 * f->n_layer);
    assert_int_equal(bytes_equal, q8_seen);
    bitnet_model_release(m);
    bitnet_model_release(ref);
}

/* Lower-precision llama variants stay close to the f32 weights: a coarse
 * guard against a wrong block layout (which gives errors of the order of the
 * weights themselves). Bound: relative RMS error per tensor. */
static void test_llama_variants_close_to_f32(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    const family *f = &families[1];
    bitnet_model *ref = load(f, "f32");
    static const struct { const char *variant; double max_rel_rms; } cases[] = {
        {"f16", 1e-3}, {"bf16", 8e-3}, {"q8_0", 0.01}, {"q6_k", 0.03}, {"q5_0", 0.06}, {"q5_1", 0.06},
        {"q5_k_m", 0.06}, {"q4_0", 0.12}, {"q4_1", 0.12}, {"q4_k_m", 0.12}, {"q3_k_m", 0.25}, {"q2_k", 0.5},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        bitnet_model *m = load(f, cases[c].variant);
        for (int64_t i = 0; i < bitnet_model_tensor_count(m); i++) {
            const char *name;
            tensor_type(m, i, &name);
            int64_t n, nr;
            float *got = read_all(m, name, BITNET_TYPE_F32, &n);
            float *want = read_all(ref, name, BITNET_TYPE_F32, &nr);
            double err = 0, mag = 0;
            for (int64_t k = 0; k < n; k++) {
                err += (double)(got[k] - want[k]) * (got[k] - want[k]);
                mag += (double)want[k] * want[k];
            }
            double rel = mag > 0 ? sqrt(err / mag) : sqrt(err);
            if (rel > cases[c].max_rel_rms)
                fail_msg("%s %s: relative RMS error %.4g > %.4g", cases[c].variant, name, rel,
                         cases[c].max_rel_rms);
            free(got);
            free(want);
        }
        bitnet_model_release(m);
    }
    bitnet_model_release(ref);
}

/* use_mmap=false reads the same bytes. */
static void test_read_into_memory_equals_mmap(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    char path[1024];
    fixture_path(path, sizeof path, "kjv-llama/kjv-llama-5m-q4_k_m.gguf");
    bitnet_model_params p = bitnet_model_params_default();
    p.use_mmap = false;
    bitnet_model *a, *b;
    assert_int_equal(bitnet_model_load_file(path, NULL, &a), BITNET_OK);
    assert_int_equal(bitnet_model_load_file(path, &p, &b), BITNET_OK);
    int64_t n1, n2;
    float *x = read_all(a, "blk.2.ffn_down.weight", BITNET_TYPE_F32, &n1);
    float *y = read_all(b, "blk.2.ffn_down.weight", BITNET_TYPE_F32, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(x, y, (size_t)n1 * 4);
    free(x);
    free(y);
    bitnet_model_release(a);
    bitnet_model_release(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_fixtures_load),
        cmocka_unit_test(test_vocab_files_load),
        cmocka_unit_test(test_bitnet_variants_match_f32),
        cmocka_unit_test(test_q8_0_matches_f32),
        cmocka_unit_test(test_llama_variants_close_to_f32),
        cmocka_unit_test(test_read_into_memory_equals_mmap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
