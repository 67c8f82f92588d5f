/* The ABI promises of bitnet.h (README "ABI policy") that a C program can
 * check: pinned enum values and size-prefixed structs (at compile time),
 * every free/release and every handle argument accepting NULL, and structs
 * with an older (smaller) struct_size honoured in both directions. The
 * binary side (symbols, layouts against the last release) is checked by
 * tests/check_exports.sh and tests/check_abi.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "bitnet.h"
#include "support/fixtures.h"

/* Every struct bitnet.h defines starts with its size. */
#define SIZE_PREFIXED(T) _Static_assert(offsetof(T, struct_size) == 0 && sizeof(((T *)0)->struct_size) == sizeof(size_t), #T)
SIZE_PREFIXED(bitnet_model_params);
SIZE_PREFIXED(bitnet_tensor_info);
SIZE_PREFIXED(bitnet_store_stats);
SIZE_PREFIXED(bitnet_context_params);
SIZE_PREFIXED(bitnet_context_memory_info);
SIZE_PREFIXED(bitnet_context_stats);
SIZE_PREFIXED(bitnet_sampler_params);
SIZE_PREFIXED(bitnet_config_generate);

/* Enum values are ABI: renumbering one must not compile. */
#define PINNED(name, value) _Static_assert((name) == (value), #name " is pinned to " #value)
PINNED(BITNET_OK, 0);
PINNED(BITNET_ERR_INVALID_ARGUMENT, 1);
PINNED(BITNET_ERR_IO, 2);
PINNED(BITNET_ERR_BAD_FORMAT, 3);
PINNED(BITNET_ERR_UNSUPPORTED, 4);
PINNED(BITNET_ERR_OUT_OF_MEMORY, 5);
PINNED(BITNET_ERR_OUT_OF_RANGE, 6);
PINNED(BITNET_ERR_NOT_FOUND, 7);
PINNED(BITNET_ERR_TYPE_MISMATCH, 8);
PINNED(BITNET_ERR_BUFFER_TOO_SMALL, 9);
PINNED(BITNET_ERR_CONTEXT_FULL, 10);
PINNED(BITNET_ERR_ABORTED, 11);
PINNED(BITNET_ERR_INTERNAL, 12);
PINNED(BITNET_ERR_MEMORY_BUDGET, 13);
PINNED(BITNET_LOG_ERROR, 0);
PINNED(BITNET_LOG_WARN, 1);
PINNED(BITNET_LOG_INFO, 2);
PINNED(BITNET_LOG_DEBUG, 3);
PINNED(BITNET_TYPE_F32, 0);
PINNED(BITNET_TYPE_F16, 1);
PINNED(BITNET_TYPE_Q4_0, 2);
PINNED(BITNET_TYPE_Q4_1, 3);
PINNED(BITNET_TYPE_Q5_0, 6);
PINNED(BITNET_TYPE_Q5_1, 7);
PINNED(BITNET_TYPE_Q8_0, 8);
PINNED(BITNET_TYPE_Q8_1, 9);
PINNED(BITNET_TYPE_Q2_K, 10);
PINNED(BITNET_TYPE_Q3_K, 11);
PINNED(BITNET_TYPE_Q4_K, 12);
PINNED(BITNET_TYPE_Q5_K, 13);
PINNED(BITNET_TYPE_Q6_K, 14);
PINNED(BITNET_TYPE_Q8_K, 15);
PINNED(BITNET_TYPE_I8, 24);
PINNED(BITNET_TYPE_I16, 25);
PINNED(BITNET_TYPE_I32, 26);
PINNED(BITNET_TYPE_BF16, 30);
PINNED(BITNET_TYPE_TQ1_0, 34);
PINNED(BITNET_TYPE_TQ2_0, 35);
PINNED(BITNET_TYPE_I2_S, 36);
PINNED(BITNET_VALUE_UINT8, 0);
PINNED(BITNET_VALUE_INT8, 1);
PINNED(BITNET_VALUE_UINT16, 2);
PINNED(BITNET_VALUE_INT16, 3);
PINNED(BITNET_VALUE_UINT32, 4);
PINNED(BITNET_VALUE_INT32, 5);
PINNED(BITNET_VALUE_FLOAT32, 6);
PINNED(BITNET_VALUE_BOOL, 7);
PINNED(BITNET_VALUE_STRING, 8);
PINNED(BITNET_VALUE_ARRAY, 9);
PINNED(BITNET_VALUE_UINT64, 10);
PINNED(BITNET_VALUE_INT64, 11);
PINNED(BITNET_VALUE_FLOAT64, 12);
PINNED(BITNET_TOKEN_NULL, -1);
PINNED(BITNET_TOKENIZE_ADD_SPECIAL, 0x1u);
PINNED(BITNET_TOKENIZE_PARSE_SPECIAL, 0x2u);
PINNED(BITNET_DETOKENIZE_SPECIAL, 0x1u);
PINNED(BITNET_MAX_DIMS, 4);

static const char *model_path(char *buf, size_t cap)
{
    return fixture_path(buf, cap, "kjv-bitnet/kjv-bitnet-4m-i2_s.gguf");
}

/* Every free/release, and every void function on a handle, accepts NULL. */
static void test_free_null(void **state)
{
    (void)state;
    bitnet_model_release(NULL);
    bitnet_model_retain(NULL);
    bitnet_context_free(NULL);
    bitnet_context_clear(NULL);
    bitnet_context_stats_reset(NULL);
    bitnet_sampler_free(NULL);
    bitnet_sampler_reset(NULL);
    bitnet_config_free(NULL);
}

/* A NULL handle gives a status (or 0 / NULL / false), never a crash. */
static void test_null_handles(void **state)
{
    (void)state;
    const int inv = BITNET_ERR_INVALID_ARGUMENT;
    bitnet_token t = 1;
    size_t n = 0;
    int32_t n32 = 0;
    char buf[8];
    assert_int_equal(bitnet_model_gguf_version(NULL), 0);
    assert_int_equal(bitnet_model_meta_at(NULL, 0, NULL, NULL), inv);
    assert_int_equal(bitnet_model_tensor_info(NULL, 0, NULL), inv);
    assert_int_equal(bitnet_model_tensor_find(NULL, "x", NULL), inv);
    assert_int_equal(bitnet_model_tensor_info_by_name(NULL, "x", NULL), inv);
    assert_int_equal(bitnet_model_store_stats(NULL, NULL), inv);
    assert_int_equal(bitnet_vocab_size(NULL), 0);
    assert_int_equal(bitnet_token_bos(NULL), BITNET_TOKEN_NULL);
    assert_int_equal(bitnet_token_eos(NULL), BITNET_TOKEN_NULL);
    assert_false(bitnet_token_is_eog(NULL, 0));
    assert_null(bitnet_token_text(NULL, 0));
    assert_int_equal(bitnet_tokenize(NULL, "a", 1, 0, NULL, 0, &n), inv);
    assert_int_equal(bitnet_token_to_piece(NULL, 0, 0, buf, sizeof buf, &n), inv);
    assert_int_equal(bitnet_detokenize(NULL, &t, 1, 0, buf, sizeof buf, &n), inv);
    assert_int_equal(bitnet_context_new(NULL, NULL, NULL), inv);
    assert_null(bitnet_context_model(NULL));
    assert_int_equal(bitnet_context_decode(NULL, &t, 1), inv);
    assert_null(bitnet_context_logits(NULL, -1));
    assert_int_equal(bitnet_context_memory(NULL, NULL), inv);
    assert_int_equal(bitnet_context_stats_get(NULL, NULL), inv);
    assert_int_equal(bitnet_context_n_past(NULL), 0);
    assert_int_equal(bitnet_context_n_ctx(NULL), 0);
    assert_null(bitnet_context_tokens(NULL, &n32));
    assert_int_equal(bitnet_context_trim(NULL, 0), inv);
    assert_int_equal(bitnet_sampler_new(NULL, NULL), inv);
    assert_int_equal(bitnet_sampler_sample(NULL, NULL, 0, &t), inv);
    assert_int_equal(bitnet_sampler_accept(NULL, 0), inv);
    assert_int_equal(bitnet_context_state_save(NULL, NULL, "x"), inv);
    assert_int_equal(bitnet_context_state_load(NULL, NULL, "x"), inv);
    assert_int_equal(bitnet_context_state_save_memory(NULL, NULL, NULL, 0, &n), inv);
    assert_int_equal(bitnet_context_state_load_memory(NULL, NULL, buf, sizeof buf), inv);
    assert_int_equal(bitnet_config_load_file(NULL, NULL), inv);
    assert_int_equal(bitnet_config_load_string(NULL, 0, NULL), inv);
    assert_null(bitnet_config_model_path(NULL));
    assert_int_equal(bitnet_config_model_params(NULL, NULL), inv);
    assert_int_equal(bitnet_config_context_params(NULL, NULL), inv);
    assert_int_equal(bitnet_config_sampler_params(NULL, NULL), inv);
    assert_int_equal(bitnet_config_generate_params(NULL, NULL), inv);
    assert_int_equal(bitnet_value_get_type(NULL), BITNET_VALUE_UINT8);
    assert_non_null(bitnet_value_type_name(999));
    assert_non_null(bitnet_type_name(999));
}

#define CANARY 0xA5

static int untouched(const void *p, size_t from, size_t to)
{
    const unsigned char *b = p;
    for (size_t i = from; i < to; i++)
        if (b[i] != CANARY)
            return 0;
    return 1;
}

/* An out-struct of an older, smaller layout: the library fills only
 * struct_size bytes and leaves the rest of the caller's memory alone. */
static void test_old_out_structs(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    char path[1024];
    bitnet_model *m;
    assert_int_equal(bitnet_model_load_file(model_path(path, sizeof path), NULL, &m), BITNET_OK);

    bitnet_store_stats ss;
    memset(&ss, CANARY, sizeof ss);
    ss.struct_size = offsetof(bitnet_store_stats, prefetch_issued); /* the 0.1 layout */
    assert_int_equal(bitnet_model_store_stats(m, &ss), BITNET_OK);
    assert_int_equal(ss.struct_size, offsetof(bitnet_store_stats, prefetch_issued));
    assert_true(untouched(&ss, offsetof(bitnet_store_stats, prefetch_issued), sizeof ss));
    assert_true(ss.bytes_mapped > 0);

    bitnet_tensor_info ti;
    memset(&ti, CANARY, sizeof ti);
    ti.struct_size = offsetof(bitnet_tensor_info, n_bytes);
    assert_int_equal(bitnet_model_tensor_info(m, 0, &ti), BITNET_OK);
    assert_true(untouched(&ti, offsetof(bitnet_tensor_info, n_bytes), sizeof ti));
    assert_non_null(ti.name);

    bitnet_context *ctx;
    assert_int_equal(bitnet_context_new(m, NULL, &ctx), BITNET_OK);
    bitnet_context_stats cs;
    memset(&cs, CANARY, sizeof cs);
    cs.struct_size = offsetof(bitnet_context_stats, decode_ns);
    assert_int_equal(bitnet_context_stats_get(ctx, &cs), BITNET_OK);
    assert_true(untouched(&cs, offsetof(bitnet_context_stats, decode_ns), sizeof cs));
    assert_int_equal(cs.n_decode_calls, 0);

    bitnet_context_memory_info mi;
    memset(&mi, CANARY, sizeof mi);
    mi.struct_size = offsetof(bitnet_context_memory_info, total_bytes);
    assert_int_equal(bitnet_context_memory(ctx, &mi), BITNET_OK);
    assert_true(untouched(&mi, offsetof(bitnet_context_memory_info, total_bytes), sizeof mi));
    assert_true(mi.kv_bytes > 0);
    bitnet_context_free(ctx);

    static const char yaml[] = "generate:\n  prompt: hi\n  n_predict: 3\n  state_save: out.bnstate\n";
    bitnet_config *cfg;
    assert_int_equal(bitnet_config_load_string(yaml, sizeof yaml - 1, &cfg), BITNET_OK);
    bitnet_config_generate g;
    memset(&g, CANARY, sizeof g);
    g.struct_size = offsetof(bitnet_config_generate, state_load);
    assert_int_equal(bitnet_config_generate_params(cfg, &g), BITNET_OK);
    assert_string_equal(g.prompt, "hi");
    assert_int_equal(g.n_predict, 3);
    assert_true(untouched(&g, offsetof(bitnet_config_generate, state_load), sizeof g));
    bitnet_config_free(cfg);
    bitnet_model_release(m);
}

/* Params of an older layout are accepted, the missing fields defaulted. */
static void test_old_params(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    char path[1024];
    bitnet_model_params mp = bitnet_model_params_default();
    mp.struct_size = offsetof(bitnet_model_params, prefetch);
    bitnet_model *m;
    assert_int_equal(bitnet_model_load_file(model_path(path, sizeof path), &mp, &m), BITNET_OK);

    bitnet_context_params cp = bitnet_context_params_default();
    cp.struct_size = offsetof(bitnet_context_params, blas_min_batch);
    bitnet_context *ctx;
    assert_int_equal(bitnet_context_new(m, &cp, &ctx), BITNET_OK);

    bitnet_sampler_params sp = bitnet_sampler_params_default();
    sp.struct_size = offsetof(bitnet_sampler_params, seed);
    bitnet_sampler *smp;
    assert_int_equal(bitnet_sampler_new(&sp, &smp), BITNET_OK);

    /* A newer caller's larger struct is refused with a message, not read past. */
    sp.struct_size = sizeof sp + 64;
    bitnet_sampler *smp2 = (bitnet_sampler *)0x1;
    assert_int_equal(bitnet_sampler_new(&sp, &smp2), BITNET_ERR_INVALID_ARGUMENT);
    assert_null(smp2);

    bitnet_sampler_free(smp);
    bitnet_context_free(ctx);
    bitnet_model_release(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_free_null),
        cmocka_unit_test(test_null_handles),
        cmocka_unit_test(test_old_out_structs),
        cmocka_unit_test(test_old_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
