/* Load-time repacking (bitnet_model_params.repack): TQ1_0 layer weights
 * re-encoded as TQ2_0 give exactly the logits of the stored TQ1_0 weights
 * (prompt batch, greedy steps, prefill through the cache-backed sgemm too),
 * with every backend this CPU has; the copies are built once per model and
 * shared by its contexts; the store stats report their size; other types
 * are left as stored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bitnet.h"
#include "support/fixtures.h"
#include "support/greedy.h"

#define PROMPT "In the beginning God created the heaven and the earth. And the earth was"
#define N_GEN 6

static bitnet_model *load(const char *rel, bool repack, uint64_t cache_bytes)
{
    char path[1024];
    bitnet_model_params p = bitnet_model_params_default();
    p.repack = repack;
    p.cache_bytes = cache_bytes;
    bitnet_model *m = NULL;
    fixture_path(path, sizeof path, rel);
    if (bitnet_model_load_file(path, &p, &m))
        fail_msg("%s: %s", path, bitnet_last_error());
    return m;
}

/* NULL when the backend is not on this CPU. */
static bitnet_context *context(bitnet_model *m, const char *backend, int32_t blas_min_batch)
{
    bitnet_context_params cp = bitnet_context_params_default();
    cp.n_ctx = 96;
    cp.backend = backend;
    cp.blas_min_batch = blas_min_batch;
    bitnet_context *c = NULL;
    const bitnet_status s = bitnet_context_new(m, &cp, &c);
    if (s == BITNET_ERR_UNSUPPORTED && backend)
        return NULL;
    if (s)
        fail_msg("context (%s): %s", backend ? backend : "best", bitnet_last_error());
    return c;
}

/* The prompt batch and N_GEN greedy steps, every step's logits into out. */
static void run(bitnet_context *c, float *out)
{
    greedy_logits(c, PROMPT, N_GEN, out);
}

/* TQ2_0 bytes of the model's TQ1_0 layer matrices: what repacking builds. */
static uint64_t expected_repacked(const bitnet_model *m)
{
    uint64_t sum = 0;
    for (int64_t i = 0; i < bitnet_model_tensor_count(m); i++) {
        bitnet_tensor_info ti = {.struct_size = sizeof ti};
        assert_int_equal(bitnet_model_tensor_info(m, i, &ti), BITNET_OK);
        if (strncmp(ti.name, "blk.", 4) == 0 && ti.type == BITNET_TYPE_TQ1_0)
            sum += (uint64_t)ti.n_elements / 256 * 66;
    }
    return sum;
}

static uint64_t repacked_bytes(const bitnet_model *m)
{
    bitnet_store_stats st = {.struct_size = sizeof st};
    assert_int_equal(bitnet_model_store_stats(m, &st), BITNET_OK);
    return st.bytes_repacked;
}

static void test_same_logits_every_backend(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    static const char *const backends[] = {NULL, "ref", "avx2", "avx512"};
    bitnet_model *stored = load("kjv-bitnet/kjv-bitnet-4m-tq1_0.gguf", false, 0);
    bitnet_model *packed = load("kjv-bitnet/kjv-bitnet-4m-tq1_0.gguf", true, 0);
    const uint64_t want = expected_repacked(stored);
    assert_true(want > 0);
    assert_int_equal(repacked_bytes(packed), 0); /* built with the first context */
    const size_t rows = (size_t)(N_GEN + 1) * (size_t)bitnet_vocab_size(stored);
    float *a = malloc(rows * sizeof(float)), *b = malloc(rows * sizeof(float));
    assert_true(a && b);
    int ran = 0;
    for (size_t k = 0; k < sizeof backends / sizeof backends[0]; k++) {
        bitnet_context *cs = context(stored, backends[k], 0), *cp = context(packed, backends[k], 0);
        if (!cs || !cp) {
            bitnet_context_free(cs);
            bitnet_context_free(cp);
            continue;
        }
        run(cs, a);
        run(cp, b);
        assert_memory_equal(a, b, rows * sizeof(float));
        bitnet_context_free(cs);
        bitnet_context_free(cp);
        ran++;
    }
    assert_true(ran >= 2); /* best and ref at least */
    assert_int_equal(repacked_bytes(packed), want);
    assert_int_equal(repacked_bytes(stored), 0);
    free(a);
    free(b);
    bitnet_model_release(stored);
    bitnet_model_release(packed);
}

/* Prefill through sgemm with a cache budget: the cache fills from the
 * repacked copy; still the same logits. */
static void test_same_logits_cached_prefill(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *stored = load("kjv-bitnet/kjv-bitnet-4m-tq1_0.gguf", false, 64u << 20);
    bitnet_model *packed = load("kjv-bitnet/kjv-bitnet-4m-tq1_0.gguf", true, 64u << 20);
    const size_t rows = (size_t)(N_GEN + 1) * (size_t)bitnet_vocab_size(stored);
    float *a = malloc(rows * sizeof(float)), *b = malloc(rows * sizeof(float));
    assert_true(a && b);
    bitnet_context *cs = context(stored, NULL, 2), *cp = context(packed, NULL, 2);
    run(cs, a);
    run(cp, b);
    assert_memory_equal(a, b, rows * sizeof(float));
    bitnet_context_free(cs);
    bitnet_context_free(cp);
    free(a);
    free(b);
    bitnet_model_release(stored);
    bitnet_model_release(packed);
}

/* Contexts share one set of copies: a second context adds nothing, and a
 * context created after the first is freed still computes the same. */
static void test_built_once(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *m = load("kjv-bitnet/kjv-bitnet-4m-tq1_0.gguf", true, 0);
    const size_t rows = (size_t)(N_GEN + 1) * (size_t)bitnet_vocab_size(m);
    float *a = malloc(rows * sizeof(float)), *b = malloc(rows * sizeof(float));
    assert_true(a && b);
    bitnet_context *c1 = context(m, NULL, 0);
    const uint64_t once = repacked_bytes(m);
    bitnet_context *c2 = context(m, NULL, 0);
    assert_int_equal(repacked_bytes(m), once);
    run(c1, a);
    bitnet_context_free(c1);
    run(c2, b);
    assert_memory_equal(a, b, rows * sizeof(float));
    bitnet_context_free(c2);
    free(a);
    free(b);
    bitnet_model_release(m);
}

/* Other ternary types are not touched. */
static void test_other_types_untouched(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    static const char *const files[] = {"kjv-bitnet/kjv-bitnet-4m-tq2_0.gguf", "kjv-bitnet/kjv-bitnet-4m-i2_s.gguf"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        bitnet_model *m = load(files[i], true, 0);
        bitnet_context *c = context(m, NULL, 0);
        assert_int_equal(repacked_bytes(m), 0);
        bitnet_context_free(c);
        bitnet_model_release(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_logits_every_backend),
        cmocka_unit_test(test_same_logits_cached_prefill),
        cmocka_unit_test(test_built_once),
        cmocka_unit_test(test_other_types_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
