/* Weights under a memory budget (issue 5): prefill's float weights come
 * dequantized from the model's LRU cache; with a budget smaller than the
 * model's dequantized size generation still works and gives exactly the
 * logits of the unbudgeted run; a budget below one matrix is refused at
 * context creation; the prefetch worker changes nothing in the results;
 * the context's counters add up. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bitnet.h"
#include "context/blas.h"
#include "support/fixtures.h"
#include "support/greedy.h"

#define MODEL "kjv-llama/kjv-llama-5m-q4_k_m.gguf"
#define PROMPT "In the beginning God created the heaven and the earth. And the earth was"
#define N_GEN 8

static bitnet_model *load(uint64_t cache_bytes, bool prefetch)
{
    char path[1024];
    bitnet_model_params p = bitnet_model_params_default();
    p.cache_bytes = cache_bytes;
    p.prefetch = prefetch;
    bitnet_model *m = NULL;
    fixture_path(path, sizeof path, MODEL);
    if (bitnet_model_load_file(path, &p, &m))
        fail_msg("%s: %s", path, bitnet_last_error());
    return m;
}

/* Dequantized bytes of the layer matrices: the largest one and the total. */
static void layer_sizes(const bitnet_model *m, uint64_t *largest, uint64_t *total)
{
    *largest = *total = 0;
    for (int64_t i = 0; i < bitnet_model_tensor_count(m); i++) {
        bitnet_tensor_info ti = {.struct_size = sizeof ti};
        assert_int_equal(bitnet_model_tensor_info(m, i, &ti), BITNET_OK);
        if (strncmp(ti.name, "blk.", 4) || ti.n_dims != 2 || ti.type == BITNET_TYPE_F32)
            continue;
        const uint64_t b = (uint64_t)ti.n_elements * 4;
        *total += b;
        if (b > *largest)
            *largest = b;
    }
}

static bitnet_context *context(bitnet_model *m, int32_t blas_min_batch)
{
    bitnet_context_params cp = bitnet_context_params_default();
    cp.n_ctx = 128;
    cp.blas_min_batch = blas_min_batch;
    bitnet_context *c = NULL;
    if (bitnet_context_new(m, &cp, &c))
        fail_msg("context: %s", bitnet_last_error());
    return c;
}

/* The prompt batch and N_GEN greedy steps, every step's logits into out. */
static void run(bitnet_context *c, float *out)
{
    greedy_logits(c, PROMPT, N_GEN, out);
}

static void test_budgets_same_logits(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    if (!bn_blas_available())
        skip(); /* without OpenBLAS no layer is used dequantized */
    bitnet_model *probe = load(0, false);
    uint64_t largest, total;
    layer_sizes(probe, &largest, &total);
    const int32_t nv = bitnet_vocab_size(probe);
    bitnet_model_release(probe);
    assert_true(largest > 0 && total > 2 * largest);

    const size_t rows = (size_t)(N_GEN + 1) * (size_t)nv;
    float *ref = malloc(rows * sizeof(float)), *got = malloc(rows * sizeof(float));
    assert_non_null(ref);
    assert_non_null(got);
    /* budget 0: the context's own buffer (the run before this issue) */
    bitnet_model *m = load(0, false);
    bitnet_context *c = context(m, 2);
    run(c, ref);
    bitnet_context_free(c);
    bitnet_model_release(m);

    const uint64_t budgets[] = {2 * total, largest + largest / 2, largest};
    for (size_t b = 0; b < sizeof budgets / sizeof budgets[0]; b++)
        for (int pf = 0; pf < 2; pf++) {
            m = load(budgets[b], pf);
            c = context(m, 2);
            run(c, got);
            assert_memory_equal(ref, got, rows * sizeof(float));
            bitnet_store_stats st = {.struct_size = sizeof st};
            bitnet_context_stats cs = {.struct_size = sizeof cs};
            assert_int_equal(bitnet_model_store_stats(m, &st), BITNET_OK);
            assert_int_equal(bitnet_context_stats_get(c, &cs), BITNET_OK);
            assert_true(st.bytes_peak <= budgets[b]);
            assert_true(st.bytes_resident <= budgets[b]);
            /* one prompt batch through sgemm: every layer matrix looked up once */
            assert_true(cs.cache_hits + cs.cache_misses > 0);
            if (budgets[b] < total)
                assert_true(st.evictions > 0); /* it could not hold everything */
            else
                assert_int_equal(st.evictions, 0);
            if (pf)
                assert_true(st.prefetch_issued > 0);
            else
                assert_int_equal(st.prefetch_issued, 0);
            assert_int_equal(cs.n_decode_calls, N_GEN + 1);
            assert_int_equal(cs.n_decode_tokens, N_GEN);
            assert_true(cs.n_prefill_tokens >= 8);
            bitnet_context_free(c);
            bitnet_model_release(m);
        }
    free(ref);
    free(got);
}

static void test_budget_below_one_matrix_is_refused(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    if (!bn_blas_available())
        skip();
    bitnet_model *probe = load(0, false);
    uint64_t largest, total;
    layer_sizes(probe, &largest, &total);
    bitnet_model_release(probe);

    bitnet_model *m = load(largest - 1, true);
    bitnet_context_params cp = bitnet_context_params_default();
    cp.n_ctx = 64;
    cp.blas_min_batch = 2;
    bitnet_context *c = NULL;
    assert_int_equal(bitnet_context_new(m, &cp, &c), BITNET_ERR_MEMORY_BUDGET);
    assert_null(c);
    assert_non_null(strstr(bitnet_last_error(), "cannot hold one layer"));
    assert_non_null(strstr(bitnet_last_error(), "blk."));
    /* without the sgemm path nothing needs the cache: fine */
    cp.blas_min_batch = 0;
    assert_int_equal(bitnet_context_new(m, &cp, &c), BITNET_OK);
    bitnet_context_free(c);
    bitnet_model_release(m);
}

static void test_memory_and_stats_api(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *m = load(0, true);
    bitnet_context *c = context(m, 0);
    bitnet_context_memory_info mi = {.struct_size = sizeof mi};
    assert_int_equal(bitnet_context_memory(c, &mi), BITNET_OK);
    assert_true(mi.kv_bytes > 0 && mi.scratch_bytes > 0);
    assert_true(mi.total_bytes >= mi.kv_bytes + mi.scratch_bytes);
    /* KV: 2 x layers x n_ctx x kv_dim x 4 bytes (f32) */
    int64_t n_layer = 0, n_head = 0, n_head_kv = 0, n_embd = 0;
    assert_int_equal(bitnet_model_meta_int(m, "llama.block_count", &n_layer), BITNET_OK);
    assert_int_equal(bitnet_model_meta_int(m, "llama.attention.head_count", &n_head), BITNET_OK);
    assert_int_equal(bitnet_model_meta_int(m, "llama.attention.head_count_kv", &n_head_kv), BITNET_OK);
    assert_int_equal(bitnet_model_meta_int(m, "llama.embedding_length", &n_embd), BITNET_OK);
    assert_int_equal(mi.kv_bytes, (uint64_t)(2 * n_layer * 128 * (n_embd / n_head * n_head_kv) * 4));
    /* an older, smaller struct only gets its fields */
    struct {
        size_t struct_size;
        uint64_t kv_bytes;
        uint64_t canary;
    } old = {offsetof(bitnet_context_memory_info, scratch_bytes), 0, 0x5A5A};
    assert_int_equal(bitnet_context_memory(c, (bitnet_context_memory_info *)&old), BITNET_OK);
    assert_int_equal(old.kv_bytes, mi.kv_bytes);
    assert_int_equal(old.canary, 0x5A5A);
    bitnet_context_stats cs = {.struct_size = 0};
    assert_int_equal(bitnet_context_stats_get(c, &cs), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_context_stats_get(NULL, &cs), BITNET_ERR_INVALID_ARGUMENT);
    cs.struct_size = sizeof cs;
    bitnet_token t = 1;
    assert_int_equal(bitnet_context_decode(c, &t, 1), BITNET_OK);
    assert_int_equal(bitnet_context_stats_get(c, &cs), BITNET_OK);
    assert_int_equal(cs.n_decode_calls, 1);
    assert_int_equal(cs.n_decode_tokens, 1);
    assert_true(cs.decode_ns > 0);
    bitnet_context_stats_reset(c);
    assert_int_equal(bitnet_context_stats_get(c, &cs), BITNET_OK);
    assert_int_equal(cs.n_decode_calls, 0);
    bitnet_context_stats_reset(NULL);
    bitnet_context_free(c);
    bitnet_model_release(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budgets_same_logits),
        cmocka_unit_test(test_budget_below_one_matrix_is_refused),
        cmocka_unit_test(test_memory_and_stats_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
