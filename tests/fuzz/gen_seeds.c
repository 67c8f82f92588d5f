/* Writes fuzzing seeds into a directory.
 *
 *   gen_seeds OUT_DIR                                  fuzz_gguf (as --kind gguf)
 *   gen_seeds --kind KIND OUT_DIR [FIXTURES_DIR]
 *
 * KIND: gguf (small valid GGUF files: the fixtures are megabytes, and cut
 * to 64 KiB they never load, while these load and so let the fuzzer reach
 * the getters and every dequantizer quickly), models (fuzz_decode),
 * tokenizer, config, state (these two read the fixtures, when given). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/bitnet.h"
#include "fuzz/gen_seeds.h"
#include "loader/gguf_writer.h"
#include "quant/quant.h"

/* Deterministic filler; raw bytes, so quantized scales may be any value. */
static uint32_t rng_state = 0x12345678u;

static uint8_t next_byte(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (uint8_t)(rng_state >> 24);
}

static int save(bn_gguf_writer *w, const char *dir, const char *name)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s.gguf", dir, name);
    bitnet_status st = n > 0 && (size_t)n < sizeof path ? bn_gguf_writer_to_file(w, path) : BITNET_ERR_INVALID_ARGUMENT;
    if (st != BITNET_OK)
        fprintf(stderr, "gen_seeds: %s: %s\n", path, bitnet_status_str(st));
    bn_gguf_writer_free(w);
    return st == BITNET_OK ? 0 : 1;
}

static bn_gguf_writer *writer(uint32_t version)
{
    bn_gguf_writer *w = NULL;
    return bn_gguf_writer_new(version, &w) == BITNET_OK ? w : NULL;
}

/* Every value type, string arrays, nested arrays. */
static int seed_values(const char *dir, uint32_t version)
{
    static const uint8_t u8s[3] = {0, 1, 255};
    static const int64_t i64s[2] = {-1, 1};
    static const float f32s[2] = {0.5f, -2.0f};
    static const double f64s[1] = {3.25};
    static const bool bools[2] = {true, false};
    static const char *const strs[3] = {"a", "", "<s>"};
    static const int32_t inner[2] = {1, 2};
    static const bn_gguf_array nested[2] = {{BITNET_VALUE_INT32, 2, inner}, {BITNET_VALUE_STRING, 3, strs}};
    bn_gguf_writer *w = writer(version);
    if (!w)
        return 1;
    int bad = 0;
    bad |= bn_gguf_writer_add_string(w, "general.architecture", "llama") != BITNET_OK;
    bad |= bn_gguf_writer_add_u8(w, "v.u8", 1) != BITNET_OK;
    bad |= bn_gguf_writer_add_i8(w, "v.i8", -1) != BITNET_OK;
    bad |= bn_gguf_writer_add_u16(w, "v.u16", 2) != BITNET_OK;
    bad |= bn_gguf_writer_add_i16(w, "v.i16", -2) != BITNET_OK;
    bad |= bn_gguf_writer_add_u32(w, "v.u32", 3) != BITNET_OK;
    bad |= bn_gguf_writer_add_i32(w, "v.i32", -3) != BITNET_OK;
    bad |= bn_gguf_writer_add_u64(w, "v.u64", 4) != BITNET_OK;
    bad |= bn_gguf_writer_add_i64(w, "v.i64", -4) != BITNET_OK;
    bad |= bn_gguf_writer_add_f32(w, "v.f32", 1.5f) != BITNET_OK;
    bad |= bn_gguf_writer_add_f64(w, "v.f64", -1.5) != BITNET_OK;
    bad |= bn_gguf_writer_add_bool(w, "v.bool", true) != BITNET_OK;
    bad |= bn_gguf_writer_add_string(w, "v.str", "text") != BITNET_OK;
    bad |= bn_gguf_writer_add_array(w, "a.u8", BITNET_VALUE_UINT8, u8s, 3) != BITNET_OK;
    bad |= bn_gguf_writer_add_array(w, "a.i64", BITNET_VALUE_INT64, i64s, 2) != BITNET_OK;
    bad |= bn_gguf_writer_add_array(w, "a.f32", BITNET_VALUE_FLOAT32, f32s, 2) != BITNET_OK;
    bad |= bn_gguf_writer_add_array(w, "a.f64", BITNET_VALUE_FLOAT64, f64s, 1) != BITNET_OK;
    bad |= bn_gguf_writer_add_array(w, "a.bool", BITNET_VALUE_BOOL, bools, 2) != BITNET_OK;
    bad |= bn_gguf_writer_add_string_array(w, "a.str", strs, 3) != BITNET_OK;
    bad |= bn_gguf_writer_add_array(w, "a.nested", BITNET_VALUE_ARRAY, nested, 2) != BITNET_OK;
    if (bad) {
        bn_gguf_writer_free(w);
        return 1;
    }
    return save(w, dir, version == 2 ? "values-v2" : "values-v3");
}

/* Two rows of one block each for every type the traits table knows. */
static int seed_all_types(const char *dir, uint32_t alignment)
{
    bn_gguf_writer *w = writer(3);
    if (!w || bn_gguf_writer_set_alignment(w, alignment) != BITNET_OK) {
        bn_gguf_writer_free(w);
        return 1;
    }
    int bad = 0;
    for (uint32_t t = 0; t < bn_type_traits_count(); t++) {
        const bn_type_traits *tr = bn_type_traits_get(t);
        if (!tr)
            continue;
        int64_t ne[2] = {tr->block_elems, 2};
        uint64_t nbytes = bn_type_tensor_bytes(t, ne[0] * ne[1]);
        uint8_t *data = malloc(nbytes ? (size_t)nbytes : 1);
        if (!data)
            break;
        for (uint64_t i = 0; i < nbytes; i++)
            data[i] = next_byte();
        char name[64];
        snprintf(name, sizeof name, "t.%s", tr->name);
        bad |= bn_gguf_writer_add_tensor_copy(w, name, t, 2, ne, data, nbytes) != BITNET_OK;
        free(data);
    }
    if (bad) {
        bn_gguf_writer_free(w);
        return 1;
    }
    char file[64];
    snprintf(file, sizeof file, "all-types-align%u", alignment);
    return save(w, dir, file);
}

/* A llama-shaped skeleton: the keys and tensor names a real model has. */
static int seed_llama(const char *dir)
{
    static const char *const tokens[4] = {"<unk>", "<s>", "</s>", "a"};
    static const float scores[4] = {0, 0, 0, -1};
    static const int32_t types[4] = {2, 3, 3, 1};
    bn_gguf_writer *w = writer(3);
    if (!w)
        return 1;
    int bad = 0;
    bad |= bn_gguf_writer_add_string(w, "general.architecture", "llama") != BITNET_OK;
    bad |= bn_gguf_writer_add_string(w, "general.name", "seed") != BITNET_OK;
    bad |= bn_gguf_writer_add_u32(w, "llama.context_length", 16) != BITNET_OK;
    bad |= bn_gguf_writer_add_u32(w, "llama.embedding_length", 32) != BITNET_OK;
    bad |= bn_gguf_writer_add_u32(w, "llama.block_count", 1) != BITNET_OK;
    bad |= bn_gguf_writer_add_u32(w, "llama.feed_forward_length", 32) != BITNET_OK;
    bad |= bn_gguf_writer_add_u32(w, "llama.attention.head_count", 2) != BITNET_OK;
    bad |= bn_gguf_writer_add_u32(w, "llama.attention.head_count_kv", 1) != BITNET_OK;
    bad |= bn_gguf_writer_add_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f) != BITNET_OK;
    bad |= bn_gguf_writer_add_f32(w, "llama.rope.freq_base", 10000.0f) != BITNET_OK;
    bad |= bn_gguf_writer_add_string(w, "tokenizer.ggml.model", "llama") != BITNET_OK;
    bad |= bn_gguf_writer_add_string_array(w, "tokenizer.ggml.tokens", tokens, 4) != BITNET_OK;
    bad |= bn_gguf_writer_add_array(w, "tokenizer.ggml.scores", BITNET_VALUE_FLOAT32, scores, 4) != BITNET_OK;
    bad |= bn_gguf_writer_add_array(w, "tokenizer.ggml.token_type", BITNET_VALUE_INT32, types, 4) != BITNET_OK;
    bad |= bn_gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 1) != BITNET_OK;
    bad |= bn_gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", 2) != BITNET_OK;
    static const char *const names[4] = {"token_embd.weight", "output_norm.weight", "blk.0.attn_q.weight",
                                         "blk.0.ffn_down.weight"};
    static const int64_t shapes[4][2] = {{32, 4}, {32, 1}, {32, 32}, {32, 32}};
    static const uint32_t ttypes[4] = {BITNET_TYPE_F16, BITNET_TYPE_F32, BITNET_TYPE_Q8_0, BITNET_TYPE_Q4_0};
    for (int i = 0; i < 4 && !bad; i++) {
        uint64_t nbytes = bn_type_tensor_bytes(ttypes[i], shapes[i][0] * shapes[i][1]);
        bad |= bn_gguf_writer_add_tensor(w, names[i], ttypes[i], shapes[i][1] > 1 ? 2 : 1, shapes[i], NULL, nbytes) !=
               BITNET_OK;
    }
    if (bad) {
        bn_gguf_writer_free(w);
        return 1;
    }
    return save(w, dir, "llama-skeleton");
}

/* A tensor of a type id this build does not know (loads, cannot be read). */
static int seed_unknown_type(const char *dir)
{
    static const uint8_t data[16] = {1, 2, 3, 4};
    static const int64_t ne[1] = {4};
    bn_gguf_writer *w = writer(3);
    if (!w)
        return 1;
    bn_gguf_writer_set_checks(w, false);
    if (bn_gguf_writer_add_tensor(w, "mystery", 200, 1, ne, data, sizeof data) != BITNET_OK) {
        bn_gguf_writer_free(w);
        return 1;
    }
    return save(w, dir, "unknown-type");
}

static int seed_empty(const char *dir)
{
    bn_gguf_writer *w = writer(3);
    return w ? save(w, dir, "empty") : 1;
}

static int seeds_gguf(const char *dir)
{
    int failures = 0;
    failures += seed_empty(dir);
    failures += seed_values(dir, 2);
    failures += seed_values(dir, 3);
    failures += seed_all_types(dir, 32);
    failures += seed_all_types(dir, 1);
    failures += seed_llama(dir);
    failures += seed_unknown_type(dir);
    return failures;
}

int main(int argc, char **argv)
{
    const char *kind = "gguf";
    int first = 1;
    if (argc >= 3 && !strcmp(argv[1], "--kind"))
        kind = argv[2], first = 3;
    if (argc - first < 1 || argc - first > 2) {
        fprintf(stderr, "usage: %s [--kind gguf|models|tokenizer|config|state] OUT_DIR [FIXTURES_DIR]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[first];
    const char *fixtures = argc - first == 2 && argv[first + 1][0] ? argv[first + 1] : NULL;
    int failures;
    if (!strcmp(kind, "gguf"))
        failures = seeds_gguf(dir);
    else if (!strcmp(kind, "models"))
        failures = gen_seeds_models(dir);
    else if (!strcmp(kind, "tokenizer"))
        failures = gen_seeds_tokenizer(dir, fixtures);
    else if (!strcmp(kind, "config"))
        failures = gen_seeds_config(dir);
    else if (!strcmp(kind, "state"))
        failures = gen_seeds_state(dir, fixtures);
    else {
        fprintf(stderr, "gen_seeds: unknown kind '%s'\n", kind);
        return 2;
    }
    if (failures)
        fprintf(stderr, "gen_seeds: %d seed(s) failed\n", failures);
    return failures ? 1 : 0;
}
