/* Allocation-failure injection along context creation (thread pool, cache
 * budget, re-quantized head, F16 KV, logits_all) and decode (prefill and
 * single tokens, through the kernels and through the sgemm path with and
 * without a cache budget, with the prefetch worker): fail the Nth
 * allocation for every N. Every run must return OK or OUT_OF_MEMORY, never
 * crash; ASan checks that nothing leaks; after a failure the model and the
 * context keep working, and a run without failures gives the reference
 * logits. (Not in the valgrind suites: hundreds of model loads.) */
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
#include "core/alloc.h"
#include "support/fixtures.h"

#define LLAMA "kjv-llama/kjv-llama-5m-q4_k_m.gguf"
#define BITNET "kjv-bitnet/kjv-bitnet-4m-i2_s.gguf"
#define BITNET_TQ1 "kjv-bitnet/kjv-bitnet-4m-tq1_0.gguf"

typedef struct variant {
    const char *label;
    const char *model;
    uint64_t cache_bytes;
    int32_t head_type; /* -1: as stored */
    bool prefetch;
    int32_t n_threads, n_batch, blas_min_batch;
    uint32_t kv_type;
    bool logits_all;
    bool repack; /* TQ1_0 re-encoded at the first context (a failed copy falls back to the stored bytes) */
} variant;

static const variant variants[] = {
    {"llama, defaults", LLAMA, 0, -1, false, 1, 512, 0, BITNET_TYPE_F32, false},
    {"llama, cache budget + sgemm prefill", LLAMA, 64u << 20, -1, false, 1, 512, 2, BITNET_TYPE_F32, false},
    {"llama, small budget + sgemm, 2 threads, prefetch", LLAMA, 1u << 20, -1, true, 2, 512, 2, BITNET_TYPE_F32,
     false},
    {"llama, sgemm without budget, F16 KV, logits_all, n_batch 2", LLAMA, 0, -1, false, 1, 2, 2, BITNET_TYPE_F16,
     true},
    {"bitnet i2_s, head re-quantized to q8_0, 2 threads", BITNET, 0, BITNET_TYPE_Q8_0, false, 2, 512, 0,
     BITNET_TYPE_F32, false},
    {"bitnet tq1_0, repacked", BITNET_TQ1, 0, -1, false, 1, 512, 0, BITNET_TYPE_F32, false, true},
};

static bitnet_model *load_variant(const variant *v)
{
    char path[1024];
    bitnet_model_params p = bitnet_model_params_default();
    p.cache_bytes = v->cache_bytes;
    p.head_type = v->head_type;
    p.prefetch = v->prefetch;
    p.repack = v->repack;
    bitnet_model *m = NULL;
    if (bitnet_model_load_file(fixture_path(path, sizeof path, v->model), &p, &m))
        fail_msg("%s: %s", v->model, bitnet_last_error());
    return m;
}

static bitnet_context_params context_params(const variant *v)
{
    bitnet_context_params p = bitnet_context_params_default();
    p.n_ctx = 32;
    p.n_threads = v->n_threads;
    p.n_batch = v->n_batch;
    p.blas_min_batch = v->blas_min_batch;
    p.kv_type = v->kv_type;
    p.logits_all = v->logits_all;
    return p;
}

static const bitnet_token prompt[6] = {1, 450, 3186, 310, 278, 1887};

/* The logits of a clean run: a 6-token prefill and 2 single tokens. */
static void reference(bitnet_context *c, float *out, int32_t n_vocab)
{
    bitnet_context_clear(c);
    assert_int_equal(bitnet_context_decode(c, prompt, 6), BITNET_OK);
    for (int i = 0; i < 2; i++)
        assert_int_equal(bitnet_context_decode(c, &prompt[i + 1], 1), BITNET_OK);
    memcpy(out, bitnet_context_logits(c, -1), (size_t)n_vocab * sizeof *out);
}

/* Check one attempt's status; true when the sweep is done (nothing failed). */
static bool judge(const char *label, long n, bitnet_status s, unsigned long before)
{
    const bool injected = bn_alloc_failures() != before;
    if (s != BITNET_OK && s != BITNET_ERR_OUT_OF_MEMORY)
        fail_msg("%s: failing allocation %ld gave %s: %s", label, n, bitnet_status_str(s), bitnet_last_error());
    if (s == BITNET_ERR_OUT_OF_MEMORY && !injected)
        fail_msg("%s: OUT_OF_MEMORY without an injected failure", label);
    if (!injected && s != BITNET_OK)
        fail_msg("%s: %s without an injected failure", label, bitnet_status_str(s));
    return !injected;
}

static void sweep_context_new(const variant *v)
{
    bitnet_model *m = load_variant(v);
    const bitnet_context_params cp = context_params(v);
    long n;
    for (n = 0; n < 100000; n++) {
        unsigned long before = bn_alloc_failures();
        bitnet_context *c = NULL;
        bn_alloc_fail_after(n);
        bitnet_status s = bitnet_context_new(m, &cp, &c);
        bn_alloc_fail_after(-1);
        assert_true((s == BITNET_OK) == (c != NULL));
        if (c) /* whatever failed inside, a context that was returned works */
            assert_int_equal(bitnet_context_decode(c, prompt, 3), BITNET_OK);
        bitnet_context_free(c);
        if (judge(v->label, n, s, before))
            break;
    }
    print_message("context_new, %s: %ld allocation points checked\n", v->label, n);
    assert_true(n > 5);
    bitnet_model_release(m);
}

/* Each attempt starts from a fresh model and context, so that the first
 * decode's own allocations (logits rows, the sgemm weight buffer, cache
 * entries) are among those that fail. */
static void sweep_decode(const variant *v)
{
    const bitnet_context_params cp = context_params(v);
    float *want = NULL;
    int32_t n_vocab = 0;
    long n, oom = 0;
    for (n = -1; n < 100000; n++) {
        bitnet_model *m = load_variant(v);
        bitnet_context *c = NULL;
        assert_int_equal(bitnet_context_new(m, &cp, &c), BITNET_OK);
        if (n < 0) { /* the reference: no failure */
            n_vocab = bitnet_vocab_size(m);
            want = malloc((size_t)n_vocab * sizeof *want);
            assert_non_null(want);
            reference(c, want, n_vocab);
            bitnet_context_free(c);
            bitnet_model_release(m);
            continue;
        }
        unsigned long before = bn_alloc_failures();
        bn_alloc_fail_after(n);
        bitnet_status s = bitnet_context_decode(c, prompt, 6);
        for (int i = 0; i < 2 && s == BITNET_OK; i++)
            s = bitnet_context_decode(c, &prompt[i + 1], 1);
        bn_alloc_fail_after(-1);
        oom += s == BITNET_ERR_OUT_OF_MEMORY;
        /* With a failure behind it, an OK may come from a fallback (the
         * kernels instead of sgemm) that rounds differently; without one
         * the logits are the reference's. And the context keeps working. */
        const bool done = judge(v->label, n, s, before);
        if (done)
            assert_memory_equal(bitnet_context_logits(c, -1), want, (size_t)n_vocab * sizeof *want);
        else if (s == BITNET_OK)
            assert_non_null(bitnet_context_logits(c, -1));
        bitnet_context_clear(c);
        assert_int_equal(bitnet_context_decode(c, prompt, 2), BITNET_OK);
        bitnet_context_free(c);
        bitnet_model_release(m);
        if (done)
            break;
    }
    print_message("decode, %s: %ld allocation points checked (%ld gave OUT_OF_MEMORY)\n", v->label, n, oom);
    free(want);
}

static void test_alloc_failures_context_new(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
        sweep_context_new(&variants[i]);
}

static void test_alloc_failures_decode(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
        sweep_decode(&variants[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_failures_context_new),
        cmocka_unit_test(test_alloc_failures_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
