/* The limits of README "Input limits" at their exact boundaries: the
 * largest accepted value works, one more is refused with the documented
 * status (the malformed-file suite covers values far past them). GGUF key
 * and tensor name lengths, array nesting depth, and a context's n_ctx,
 * n_batch and n_threads, explicit and taken from the model. */
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

static bitnet_status load_status(bn_gguf_writer *w)
{
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(bn_gguf_writer_to_memory(w, &buf, &size, NULL), BITNET_OK);
    bn_gguf_writer_free(w);
    bitnet_model *m = NULL;
    bitnet_status s = bitnet_model_load_memory(buf, size, NULL, &m);
    assert_true((s == BITNET_OK) == (m != NULL));
    bitnet_model_release(m);
    free(buf);
    return s;
}

static bn_gguf_writer *writer(void)
{
    bn_gguf_writer *w = NULL;
    assert_int_equal(bn_gguf_writer_new(3, &w), BITNET_OK);
    bn_gguf_writer_set_checks(w, false);
    return w;
}

/* A key of `len` bytes ('k' repeated) with a uint32 value. */
static bitnet_status key_of_length(size_t len)
{
    char *key = malloc(len);
    assert_non_null(key);
    memset(key, 'k', len);
    const uint8_t value[4] = {1, 0, 0, 0};
    bn_gguf_writer *w = writer();
    assert_int_equal(bn_gguf_writer_add_raw(w, key, len, BITNET_VALUE_UINT32, value, sizeof value), BITNET_OK);
    free(key);
    return load_status(w);
}

static void test_key_length(void **state)
{
    (void)state;
    assert_int_equal(key_of_length(1), BITNET_OK);
    assert_int_equal(key_of_length(65535), BITNET_OK);
    assert_int_equal(key_of_length(65536), BITNET_ERR_BAD_FORMAT);
    assert_non_null(strstr(bitnet_last_error(), "key"));
}

static bitnet_status name_of_length(size_t len)
{
    char name[512];
    memset(name, 't', len);
    name[len] = '\0';
    const int64_t ne[1] = {8};
    bn_gguf_writer *w = writer();
    assert_int_equal(bn_gguf_writer_add_tensor(w, name, BITNET_TYPE_F32, 1, ne, NULL, 32), BITNET_OK);
    return load_status(w);
}

static void test_tensor_name_length(void **state)
{
    (void)state;
    assert_int_equal(name_of_length(256), BITNET_OK);
    assert_int_equal(name_of_length(257), BITNET_ERR_BAD_FORMAT);
    assert_non_null(strstr(bitnet_last_error(), "name"));
}

/* `levels` arrays nested in each other around an array of one int32: the
 * value is an array of depth levels + 1. */
static bitnet_status nested(uint32_t levels)
{
    const size_t n = (size_t)levels * 12 + 16;
    uint8_t *v = calloc(1, n);
    assert_non_null(v);
    for (uint32_t i = 0; i < levels; i++) {
        v[(size_t)i * 12] = BITNET_VALUE_ARRAY; /* element type, then count 1 */
        v[(size_t)i * 12 + 4] = 1;
    }
    v[(size_t)levels * 12] = BITNET_VALUE_INT32;
    v[(size_t)levels * 12 + 4] = 1;
    v[(size_t)levels * 12 + 12] = 7;
    bn_gguf_writer *w = writer();
    assert_int_equal(bn_gguf_writer_add_raw(w, "deep", 4, BITNET_VALUE_ARRAY, v, n), BITNET_OK);
    free(v);
    return load_status(w);
}

static void test_array_depth(void **state)
{
    (void)state;
    assert_int_equal(nested(0), BITNET_OK);
    assert_int_equal(nested(7), BITNET_OK); /* depth 8 */
    assert_int_equal(nested(8), BITNET_ERR_BAD_FORMAT);
    assert_non_null(strstr(bitnet_last_error(), "deeper than 8"));
}

/* ---- context parameters ------------------------------------------------------- */

enum { E = 16, FF = 32, V = 8 };

/* A tiny llama model (1 block) with the given context_length. */
static void *tiny_model(uint32_t context_length, size_t *size)
{
    static float w[FF * E];
    for (int i = 0; i < FF * E; i++)
        w[i] = (float)(i % 7 - 3) * 0.05f;
    bn_gguf_writer *g = NULL;
    assert_int_equal(bn_gguf_writer_new(3, &g), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_string(g, "general.architecture", "llama"), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_u32(g, "llama.embedding_length", E), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_u32(g, "llama.block_count", 1), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_u32(g, "llama.attention.head_count", 2), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_u32(g, "llama.feed_forward_length", FF), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_u32(g, "llama.context_length", context_length), BITNET_OK);
    static const struct {
        const char *name;
        int64_t ne0, ne1;
    } t[] = {
        {"token_embd.weight", E, V},        {"output_norm.weight", E, 1},    {"blk.0.attn_norm.weight", E, 1},
        {"blk.0.ffn_norm.weight", E, 1},    {"blk.0.attn_q.weight", E, E},   {"blk.0.attn_k.weight", E, E},
        {"blk.0.attn_v.weight", E, E},      {"blk.0.attn_output.weight", E, E}, {"blk.0.ffn_gate.weight", E, FF},
        {"blk.0.ffn_up.weight", E, FF},     {"blk.0.ffn_down.weight", FF, E},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const int64_t ne[2] = {t[i].ne0, t[i].ne1};
        assert_int_equal(bn_gguf_writer_add_tensor(g, t[i].name, BITNET_TYPE_F32, t[i].ne1 > 1 ? 2 : 1, ne, w,
                                                   (uint64_t)(t[i].ne0 * t[i].ne1) * 4),
                         BITNET_OK);
    }
    void *buf = NULL;
    assert_int_equal(bn_gguf_writer_to_memory(g, &buf, size, NULL), BITNET_OK);
    bn_gguf_writer_free(g);
    return buf;
}

static bitnet_status context_status(bitnet_model *m, int32_t n_ctx, int32_t n_batch, int32_t n_threads,
                                    int32_t *got_n_ctx)
{
    bitnet_context_params p = bitnet_context_params_default();
    p.n_ctx = n_ctx;
    p.n_batch = n_batch;
    p.n_threads = n_threads;
    bitnet_context *c = NULL;
    bitnet_status s = bitnet_context_new(m, &p, &c);
    assert_true((s == BITNET_OK) == (c != NULL));
    if (c) {
        *got_n_ctx = bitnet_context_n_ctx(c);
        const bitnet_token t[2] = {1, 2};
        assert_int_equal(bitnet_context_decode(c, t, 2), BITNET_OK);
    }
    bitnet_context_free(c);
    return s;
}

static void test_context_limits(void **state)
{
    (void)state;
    size_t size;
    void *buf = tiny_model(64, &size);
    bitnet_model *m = NULL;
    assert_int_equal(bitnet_model_load_memory(buf, size, NULL, &m), BITNET_OK);
    int32_t n = 0;
    /* n_ctx: 1..2^20 (the KV cache of 2^20 positions is 128 MiB here, not touched). */
    assert_int_equal(context_status(m, 1 << 20, 512, 1, &n), BITNET_OK);
    assert_int_equal(n, 1 << 20);
    assert_int_equal(context_status(m, (1 << 20) + 1, 512, 1, &n), BITNET_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(bitnet_last_error(), "n_ctx"));
    assert_int_equal(context_status(m, -1, 512, 1, &n), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(context_status(m, 0, 512, 1, &n), BITNET_OK); /* the model's 64 */
    assert_int_equal(n, 64);
    /* n_batch >= 1 (clamped to n_ctx); n_threads 1..256. */
    assert_int_equal(context_status(m, 8, 0, 1, &n), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(context_status(m, 8, 1, 1, &n), BITNET_OK);
    assert_int_equal(context_status(m, 8, INT32_MAX, 1, &n), BITNET_OK);
    assert_int_equal(context_status(m, 8, 512, 256, &n), BITNET_OK);
    assert_int_equal(context_status(m, 8, 512, 257, &n), BITNET_ERR_INVALID_ARGUMENT);
    bitnet_model_release(m);
    free(buf);

    /* n_ctx 0 takes the model's context_length, which must then fit the limit. */
    buf = tiny_model((1 << 20) + 1, &size);
    assert_int_equal(bitnet_model_load_memory(buf, size, NULL, &m), BITNET_OK);
    assert_int_equal(context_status(m, 0, 512, 1, &n), BITNET_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(bitnet_last_error(), "1048577"));
    assert_int_equal(context_status(m, 16, 512, 1, &n), BITNET_OK); /* an explicit n_ctx is fine */
    bitnet_model_release(m);
    free(buf);
    /* Hyper-parameters above 2^24 are refused at context creation. */
    buf = tiny_model((1 << 24) + 1, &size);
    assert_int_equal(bitnet_model_load_memory(buf, size, NULL, &m), BITNET_OK);
    assert_int_equal(context_status(m, 16, 512, 1, &n), BITNET_ERR_BAD_FORMAT);
    assert_non_null(strstr(bitnet_last_error(), "llama.context_length"));
    bitnet_model_release(m);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_length),
        cmocka_unit_test(test_tensor_name_length),
        cmocka_unit_test(test_array_depth),
        cmocka_unit_test(test_context_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
