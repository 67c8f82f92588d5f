/* Contexts: bad input gives clear statuses; clear/trim; F16 KV cache;
 * logits for every token; a caller-registered backend is used and agrees
 * with the reference. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bitnet.h"
#include "bitnet_experimental.h"
#include "support/fixtures.h"

static bitnet_model *load(const char *rel)
{
    char path[1024];
    bitnet_model *m = NULL;
    if (bitnet_model_load_file(fixture_path(path, sizeof path, rel), NULL, &m))
        fail_msg("%s: %s", rel, bitnet_last_error());
    return m;
}

static bitnet_context *context(bitnet_model *m, bitnet_context_params p)
{
    bitnet_context *c = NULL;
    if (bitnet_context_new(m, &p, &c))
        fail_msg("context: %s", bitnet_last_error());
    return c;
}

static const bitnet_token prompt[] = {4094, 1147, 258, 2080, 387, 3320};
#define N_PROMPT 6

static void test_bad_input(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *m = load("kjv-bitnet/kjv-bitnet-4m-i2_s.gguf");
    bitnet_context_params p = bitnet_context_params_default();
    bitnet_context *c = NULL;
    p.n_threads = 0;
    assert_int_equal(bitnet_context_new(m, &p, &c), BITNET_ERR_INVALID_ARGUMENT);
    assert_null(c);
    assert_non_null(strstr(bitnet_last_error(), "n_threads"));
    p.n_threads = 1000;
    assert_int_equal(bitnet_context_new(m, &p, &c), BITNET_ERR_INVALID_ARGUMENT);
    p = bitnet_context_params_default();
    p.kv_type = BITNET_TYPE_Q4_0;
    assert_int_equal(bitnet_context_new(m, &p, &c), BITNET_ERR_INVALID_ARGUMENT);
    p = bitnet_context_params_default();
    p.backend = "no-such-backend";
    assert_int_equal(bitnet_context_new(m, &p, &c), BITNET_ERR_NOT_FOUND);
    assert_int_equal(bitnet_context_new(NULL, NULL, &c), BITNET_ERR_INVALID_ARGUMENT);

    p = bitnet_context_params_default();
    p.n_ctx = 8;
    c = context(m, p);
    assert_int_equal(bitnet_context_decode(c, prompt, 0), BITNET_ERR_INVALID_ARGUMENT); /* empty */
    const bitnet_token bad[] = {4094, 4096};
    assert_int_equal(bitnet_context_decode(c, bad, 2), BITNET_ERR_OUT_OF_RANGE);
    assert_non_null(strstr(bitnet_last_error(), "4096"));
    const bitnet_token neg[] = {-1};
    assert_int_equal(bitnet_context_decode(c, neg, 1), BITNET_ERR_OUT_OF_RANGE);
    assert_int_equal(bitnet_context_n_past(c), 0); /* nothing appended */
    assert_int_equal(bitnet_context_decode(c, prompt, N_PROMPT), BITNET_OK);
    /* 6 + 3 > 8: full, and nothing is appended. */
    assert_int_equal(bitnet_context_decode(c, prompt, 3), BITNET_ERR_CONTEXT_FULL);
    assert_int_equal(bitnet_context_n_past(c), N_PROMPT);
    assert_int_equal(bitnet_context_decode(c, prompt, 2), BITNET_OK);
    assert_int_equal(bitnet_context_decode(c, prompt, 1), BITNET_ERR_CONTEXT_FULL);
    assert_null(bitnet_context_logits(c, 0)); /* only -1 without logits_all */
    assert_int_equal(bitnet_context_trim(c, 9), BITNET_ERR_OUT_OF_RANGE);
    bitnet_context_free(c);

    /* A prompt longer than the whole context. */
    p.n_ctx = 4;
    c = context(m, p);
    assert_int_equal(bitnet_context_decode(c, prompt, N_PROMPT), BITNET_ERR_CONTEXT_FULL);
    bitnet_context_free(c);

    /* Tokenizer input. */
    bitnet_token t[8];
    size_t n;
    assert_int_equal(bitnet_tokenize(m, "ab\xff", 3, 0, t, 8, &n), BITNET_ERR_INVALID_ARGUMENT);
    bitnet_context_free(NULL);
    bitnet_model_release(m);
}

static float *copy_logits(const bitnet_context *c, int32_t i, int n_vocab)
{
    const float *lg = bitnet_context_logits(c, i);
    assert_non_null(lg);
    float *out = malloc((size_t)n_vocab * 4);
    assert_non_null(out);
    memcpy(out, lg, (size_t)n_vocab * 4);
    return out;
}

/* Trim back to the prompt and decode again: the same logits as the first time. */
static void test_clear_and_trim(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *m = load("kjv-bitnet/kjv-bitnet-4m-i2_s.gguf");
    const int nv = bitnet_vocab_size(m);
    bitnet_context *c = context(m, bitnet_context_params_default());
    assert_int_equal(bitnet_context_decode(c, prompt, N_PROMPT), BITNET_OK);
    bitnet_token next = 258;
    assert_int_equal(bitnet_context_decode(c, &next, 1), BITNET_OK);
    float *first = copy_logits(c, -1, nv);
    bitnet_token other = 999;
    assert_int_equal(bitnet_context_decode(c, &other, 1), BITNET_OK);
    assert_int_equal(bitnet_context_trim(c, N_PROMPT), BITNET_OK);
    assert_null(bitnet_context_logits(c, -1));
    assert_int_equal(bitnet_context_decode(c, &next, 1), BITNET_OK);
    assert_memory_equal(first, bitnet_context_logits(c, -1), (size_t)nv * 4);
    bitnet_context_clear(c);
    assert_int_equal(bitnet_context_n_past(c), 0);
    assert_int_equal(bitnet_context_decode(c, prompt, N_PROMPT), BITNET_OK);
    assert_int_equal(bitnet_context_decode(c, &next, 1), BITNET_OK);
    assert_memory_equal(first, bitnet_context_logits(c, -1), (size_t)nv * 4);
    free(first);
    bitnet_context_free(c);
    bitnet_model_release(m);
}

/* logits_all rows equal the logits of token-by-token decoding; an F16 KV
 * cache stays close to F32. */
static void test_logits_all_and_f16_kv(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *m = load("kjv-llama/kjv-llama-5m-f32.gguf");
    const int nv = bitnet_vocab_size(m);
    const bitnet_token toks[] = {1, 450, 365, 2, 3000, 17, 99};
    bitnet_context_params p = bitnet_context_params_default();
    p.logits_all = true;
    p.n_batch = 3; /* decode splits the 7 tokens into batches of 3 */
    bitnet_context *all = context(m, p);
    assert_int_equal(bitnet_context_decode(all, toks, 7), BITNET_OK);
    bitnet_context *one = context(m, bitnet_context_params_default());
    p = bitnet_context_params_default();
    p.kv_type = BITNET_TYPE_F16;
    bitnet_context *half = context(m, p);
    double worst = 0;
    for (int i = 0; i < 7; i++) {
        assert_int_equal(bitnet_context_decode(one, &toks[i], 1), BITNET_OK);
        assert_int_equal(bitnet_context_decode(half, &toks[i], 1), BITNET_OK);
        assert_memory_equal(bitnet_context_logits(all, i), bitnet_context_logits(one, -1), (size_t)nv * 4);
        const float *a = bitnet_context_logits(one, -1), *b = bitnet_context_logits(half, -1);
        for (int v = 0; v < nv; v++)
            worst = fmax(worst, fabs((double)a[v] - b[v]));
    }
    assert_memory_equal(bitnet_context_logits(all, -1), bitnet_context_logits(all, 6), (size_t)nv * 4);
    assert_null(bitnet_context_logits(all, 7));
    print_message("F16 KV cache: max |logit diff| %.3g vs F32\n", worst);
    assert_true(worst > 0 && worst < 0.05);
    bitnet_context_free(all);
    bitnet_context_free(one);
    bitnet_context_free(half);
    bitnet_model_release(m);
}

/* ---- a caller's backend ---------------------------------------------- */

static int f32_calls, i8_calls;
static bitnet_backend ref_copy;

/* Counts calls, handles only f16 weights itself (through ref), declines the rest. */
static bool counting_matmul_f32(const bitnet_weights *w, const float *x, int64_t ldx, int64_t n_batch, float *y,
                                int64_t ldy, int64_t r0, int64_t r1, void *scratch)
{
    __atomic_fetch_add(&f32_calls, 1, __ATOMIC_RELAXED);
    if (w->type != BITNET_TYPE_F16)
        return false;
    /* Compute a F16 product by dequantizing row by row. */
    for (int64_t r = r0; r < r1; r++)
        for (int64_t b = 0; b < n_batch; b++) {
            const uint16_t *row = (const uint16_t *)((const uint8_t *)w->data + (size_t)r * w->row_bytes);
            double acc = 0;
            for (int64_t k = 0; k < w->n; k++) {
                uint16_t h = row[k];
                int e = (h >> 10) & 31, mant = h & 1023;
                double v = e ? ldexp(1024 + mant, e - 25) : ldexp(mant, -24);
                acc += (h & 0x8000 ? -v : v) * x[b * ldx + k];
            }
            y[b * ldy + r] = (float)acc;
        }
    (void)scratch;
    return true;
}

static bool counting_matmul_i8(const bitnet_weights *w, const int8_t *xq, int64_t ldx, const float *xs,
                               int64_t n_batch, float *y, int64_t ldy, int64_t r0, int64_t r1, void *scratch)
{
    (void)w, (void)xq, (void)ldx, (void)xs, (void)n_batch, (void)y, (void)ldy, (void)r0, (void)r1, (void)scratch;
    __atomic_fetch_add(&i8_calls, 1, __ATOMIC_RELAXED);
    return false; /* always falls back to the reference */
}

static void test_registered_backend(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_backend b;
    memset(&b, 0, sizeof b);
    b.api_version = BITNET_BACKEND_API_VERSION + 1;
    b.name = "counting";
    assert_int_equal(bitnet_backend_register(&b), BITNET_ERR_UNSUPPORTED);
    b.api_version = BITNET_BACKEND_API_VERSION;
    b.priority = -1; /* never chosen by default */
    b.matmul_f32 = counting_matmul_f32;
    b.matmul_i8 = counting_matmul_i8;
    assert_int_equal(bitnet_backend_register(&b), BITNET_OK);
    assert_int_equal(bitnet_backend_register(&b), BITNET_ERR_INVALID_ARGUMENT); /* duplicate */
    int found = 0;
    for (int32_t i = 0; i < bitnet_backend_count(); i++)
        found += strcmp(bitnet_backend_name(i), "counting") == 0 && bitnet_backend_supported(i);
    assert_int_equal(found, 1);
    (void)ref_copy;

    bitnet_model *m = load("kjv-bitnet/kjv-bitnet-4m-i2_s.gguf"); /* f16 tied head, i2_s layers */
    const int nv = bitnet_vocab_size(m);
    bitnet_context_params p = bitnet_context_params_default();
    p.backend = "ref";
    bitnet_context *ref = context(m, p);
    p.backend = "counting";
    p.n_threads = 2;
    bitnet_context *mine = context(m, p);
    assert_int_equal(bitnet_context_decode(ref, prompt, N_PROMPT), BITNET_OK);
    assert_int_equal(bitnet_context_decode(mine, prompt, N_PROMPT), BITNET_OK);
    assert_true(f32_calls > 0 && i8_calls > 0);
    const float *a = bitnet_context_logits(ref, -1), *c = bitnet_context_logits(mine, -1);
    for (int v = 0; v < nv; v++)
        assert_float_equal(a[v], c[v], 1e-4);
    bitnet_context_free(ref);
    bitnet_context_free(mine);
    bitnet_model_release(m);
}

/* head_type re-quantizes the F16 head once; logits stay close. */
static void test_head_requantization(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    char path[1024];
    fixture_path(path, sizeof path, "kjv-bitnet/kjv-bitnet-4m-i2_s.gguf");
    bitnet_model_params mp = bitnet_model_params_default();
    bitnet_model *bad = NULL;
    mp.head_type = BITNET_TYPE_I2_S; /* per-tensor tail: not a head format */
    assert_int_equal(bitnet_model_load_file(path, &mp, &bad), BITNET_ERR_INVALID_ARGUMENT);
    mp.head_type = 999;
    assert_int_equal(bitnet_model_load_file(path, &mp, &bad), BITNET_ERR_INVALID_ARGUMENT);
    assert_null(bad);
    bitnet_model *plain = load("kjv-bitnet/kjv-bitnet-4m-i2_s.gguf");
    const int nv = bitnet_vocab_size(plain);
    bitnet_context *a = context(plain, bitnet_context_params_default());
    assert_int_equal(bitnet_context_decode(a, prompt, N_PROMPT), BITNET_OK);
    static const int32_t types[] = {BITNET_TYPE_Q8_0, BITNET_TYPE_Q6_K};
    for (int t = 0; t < 2; t++) {
        mp.head_type = types[t];
        bitnet_model *m;
        assert_int_equal(bitnet_model_load_file(path, &mp, &m), BITNET_OK);
        bitnet_context *b = context(m, bitnet_context_params_default());
        bitnet_context *b2 = context(m, bitnet_context_params_default()); /* shares the copy */
        assert_int_equal(bitnet_context_decode(b, prompt, N_PROMPT), BITNET_OK);
        assert_int_equal(bitnet_context_decode(b2, prompt, N_PROMPT), BITNET_OK);
        const float *x = bitnet_context_logits(a, -1), *y = bitnet_context_logits(b, -1);
        double worst = 0;
        for (int v = 0; v < nv; v++)
            worst = fmax(worst, fabs((double)x[v] - y[v]));
        print_message("head %s: max |logit diff| %.3g vs f16\n", bitnet_type_name((uint32_t)types[t]), worst);
        assert_true(worst > 0 && worst < 0.6); /* quantization error of the head, not a bug-sized one */
        assert_memory_equal(y, bitnet_context_logits(b2, -1), (size_t)nv * 4);
        bitnet_context_free(b);
        bitnet_context_free(b2);
        bitnet_model_release(m);
    }
    bitnet_context_free(a);
    bitnet_model_release(plain);
}

/* A 40-token prefill of a float model goes through OpenBLAS (when built
 * with it): bit-identical for 1-3 threads, close to the kernels' result. */
static void test_blas_prefill(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *m = load("kjv-llama/kjv-llama-5m-f16.gguf");
    const int nv = bitnet_vocab_size(m);
    bitnet_token toks[40];
    for (int i = 0; i < 40; i++)
        toks[i] = (bitnet_token)(1 + (i * 97) % 4000);
    float *first = NULL;
    for (int threads = 0; threads <= 3; threads++) {
        bitnet_context_params p = bitnet_context_params_default();
        p.n_threads = threads ? threads : 2;
        p.blas_min_batch = threads ? 32 : 0; /* threads == 0: the kernels only */
        bitnet_context *c = context(m, p);
        assert_int_equal(bitnet_context_decode(c, toks, 40), BITNET_OK);
        const float *lg = bitnet_context_logits(c, -1);
        if (!first) {
            first = copy_logits(c, -1, nv);
        } else if (threads == 1) {
            double worst = 0;
            for (int v = 0; v < nv; v++)
                worst = fmax(worst, fabs((double)first[v] - lg[v]));
            print_message("sgemm vs kernels: max |logit diff| %.3g\n", worst);
            assert_true(worst < 1e-3);
            memcpy(first, lg, (size_t)nv * 4);
        } else {
            assert_memory_equal(first, lg, (size_t)nv * 4);
        }
        bitnet_context_free(c);
    }
    free(first);
    bitnet_model_release(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_clear_and_trim),
        cmocka_unit_test(test_logits_all_and_f16_kv),
        cmocka_unit_test(test_registered_backend),
        cmocka_unit_test(test_head_requantization),
        cmocka_unit_test(test_blas_prefill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
