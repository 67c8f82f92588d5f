/* Load-time repacking (bitnet_model_params.repack): TQ1_0 and TQ2_0 layer
 * weights re-encoded (as I2_S when a tensor's blocks share one scale, as
 * the fixtures' do; else TQ1_0 as TQ2_0, and TQ2_0 left alone) give
 * exactly the logits of the stored weights (prompt batch, greedy steps,
 * prefill through the cache-backed sgemm too), with every backend this CPU
 * has; the copies are built once per model and shared by its contexts; the
 * store stats report their size and the stored bytes they replace. I2_S
 * layer weights are copied as stored (same logits, same sizes); other
 * types are left alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bitnet.h"
#include "support/fixtures.h"
#include "support/greedy.h"

#define PROMPT "In the beginning God created the heaven and the earth. And the earth was"
#define N_GEN 6

#define TQ1 "kjv-bitnet/kjv-bitnet-4m-tq1_0.gguf"
#define TQ2 "kjv-bitnet/kjv-bitnet-4m-tq2_0.gguf"
#define I2S "kjv-bitnet/kjv-bitnet-4m-i2_s.gguf"

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

/* What repacking should build for the model's TQ layer matrices: I2_S
 * (2 bits a weight and a 32-byte tail) for each, except the tensors named
 * in `as_tq2` (TQ1_0 -> TQ2_0: 66 bytes a block) and `kept` (not copied).
 * *source: the stored bytes of the copied tensors. */
static uint64_t expected_repacked(const bitnet_model *m, const char *as_tq2, const char *kept, uint64_t *source)
{
    uint64_t sum = 0;
    *source = 0;
    for (int64_t i = 0; i < bitnet_model_tensor_count(m); i++) {
        bitnet_tensor_info ti = {.struct_size = sizeof ti};
        assert_int_equal(bitnet_model_tensor_info(m, i, &ti), BITNET_OK);
        if (strncmp(ti.name, "blk.", 4) != 0 || (ti.type != BITNET_TYPE_TQ1_0 && ti.type != BITNET_TYPE_TQ2_0))
            continue;
        if (kept && strcmp(ti.name, kept) == 0)
            continue;
        sum += as_tq2 && strcmp(ti.name, as_tq2) == 0 ? (uint64_t)ti.n_elements / 256 * 66
                                                       : (uint64_t)ti.n_elements / 4 + 32;
        *source += ti.n_bytes;
    }
    return sum;
}

static uint64_t repacked_bytes(const bitnet_model *m)
{
    bitnet_store_stats st = {.struct_size = sizeof st};
    assert_int_equal(bitnet_model_store_stats(m, &st), BITNET_OK);
    return st.bytes_repacked;
}

static uint64_t repack_source_bytes(const bitnet_model *m)
{
    bitnet_store_stats st = {.struct_size = sizeof st};
    assert_int_equal(bitnet_model_store_stats(m, &st), BITNET_OK);
    return st.bytes_repack_source;
}

/* Logits of `stored` and `packed` on every backend this CPU has (at least
 * the best one and ref): identical. */
static void expect_same_logits(bitnet_model *stored, bitnet_model *packed)
{
    static const char *const backends[] = {NULL, "ref", "avx2", "avx512"};
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
    assert_true(ran >= 2);
    free(a);
    free(b);
}

static void test_same_logits_every_backend(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    static const char *const files[] = {TQ1, TQ2};
    for (size_t f = 0; f < 2; f++) {
        bitnet_model *stored = load(files[f], false, 0);
        bitnet_model *packed = load(files[f], true, 0);
        uint64_t source;
        const uint64_t want = expected_repacked(stored, NULL, NULL, &source);
        assert_true(want > 0);
        assert_int_equal(repacked_bytes(packed), 0); /* built with the first context */
        expect_same_logits(stored, packed);
        assert_int_equal(repacked_bytes(packed), want);
        assert_int_equal(repack_source_bytes(packed), source);
        assert_int_equal(repacked_bytes(stored), 0);
        bitnet_model_release(stored);
        bitnet_model_release(packed);
    }
}

static uint8_t *read_fixture(const char *rel, size_t *size)
{
    char path[1024];
    fixture_path(path, sizeof path, rel);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    const long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    uint8_t *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static bitnet_model *load_memory(const uint8_t *buf, size_t size, bool repack)
{
    bitnet_model_params p = bitnet_model_params_default();
    p.repack = repack;
    bitnet_model *m = NULL;
    if (bitnet_model_load_memory(buf, size, &p, &m))
        fail_msg("%s", bitnet_last_error());
    return m;
}

static bitnet_tensor_info tensor(const bitnet_model *m, const char *name)
{
    bitnet_tensor_info ti = {.struct_size = sizeof ti};
    assert_int_equal(bitnet_model_tensor_info_by_name(m, name, &ti), BITNET_OK);
    return ti;
}

/* A tensor whose blocks do not share one scale cannot become I2_S: TQ1_0
 * falls back to TQ2_0, TQ2_0 stays as stored; so does a TQ2_0 tensor with
 * a code 3 (+2 in TQ2_0, 0 in I2_S). The rest still become I2_S, and the
 * logits stay identical. */
static void test_mixed_scales_and_code3(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    static const char *const files[] = {TQ1, TQ2};
    static const char *const mixed = "blk.1.ffn_down.weight", *code3 = "blk.2.attn_q.weight";
    for (size_t f = 0; f < 2; f++) {
        size_t size;
        uint8_t *buf = read_fixture(files[f], &size);
        bitnet_model *probe = load_memory(buf, size, false);
        const bitnet_tensor_info tm = tensor(probe, mixed), t3 = tensor(probe, code3);
        const bool tq1 = tm.type == BITNET_TYPE_TQ1_0;
        bitnet_model_release(probe);
        /* block 1's f16 scale doubled (exponent + 1) */
        const size_t bbytes = tq1 ? 54 : 66, doff = tq1 ? 52 : 64;
        buf[tm.offset + bbytes + doff + 1] = (uint8_t)(buf[tm.offset + bbytes + doff + 1] + 0x04);
        if (!tq1)
            buf[t3.offset + 5] |= 0x03; /* code 3 for one element */
        bitnet_model *stored = load_memory(buf, size, false), *packed = load_memory(buf, size, true);
        uint64_t source;
        const uint64_t want = expected_repacked(stored, tq1 ? mixed : NULL, tq1 ? NULL : mixed, &source);
        /* in TQ2_0 the code-3 tensor is kept too */
        const uint64_t want2 = tq1 ? want : want - (uint64_t)t3.n_elements / 4 - 32;
        const uint64_t source2 = tq1 ? source : source - t3.n_bytes;
        expect_same_logits(stored, packed);
        assert_int_equal(repacked_bytes(packed), want2);
        assert_int_equal(repack_source_bytes(packed), source2);
        bitnet_model_release(stored);
        bitnet_model_release(packed);
        free(buf);
    }
}

/* Prefill through sgemm with a cache budget: the cache fills from the
 * repacked copy; still the same logits. */
static void test_same_logits_cached_prefill(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *stored = load(TQ1, false, 64u << 20);
    bitnet_model *packed = load(TQ1, true, 64u << 20);
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
    bitnet_model *m = load(TQ1, true, 0);
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

/* I2_S layer weights are copied as they are: rows and the 32-byte tail of
 * every one, the stored rows handed back, the same logits on every backend. */
static void test_i2s_copied(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *stored = load(I2S, false, 0), *packed = load(I2S, true, 0);
    uint64_t want = 0, source = 0;
    for (int64_t i = 0; i < bitnet_model_tensor_count(stored); i++) {
        bitnet_tensor_info ti = {.struct_size = sizeof ti};
        assert_int_equal(bitnet_model_tensor_info(stored, i, &ti), BITNET_OK);
        if (strncmp(ti.name, "blk.", 4) != 0 || ti.type != BITNET_TYPE_I2_S)
            continue;
        want += (uint64_t)ti.n_elements / 4 + 32;
        source += (uint64_t)ti.n_elements / 4;
    }
    assert_true(want > 0);
    expect_same_logits(stored, packed);
    assert_int_equal(repacked_bytes(packed), want);
    assert_int_equal(repack_source_bytes(packed), source);
    bitnet_model_release(stored);
    bitnet_model_release(packed);
}

/* Other types are not touched. */
static void test_other_types_untouched(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *m = load("kjv-bitnet/kjv-bitnet-4m-f16.gguf", true, 0);
    bitnet_context *c = context(m, NULL, 0);
    assert_int_equal(repacked_bytes(m), 0);
    bitnet_context_free(c);
    bitnet_model_release(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_logits_every_backend),
        cmocka_unit_test(test_same_logits_cached_prefill),
        cmocka_unit_test(test_built_once),
        cmocka_unit_test(test_mixed_scales_and_code3),
        cmocka_unit_test(test_i2s_copied),
        cmocka_unit_test(test_other_types_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
