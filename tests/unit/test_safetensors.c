/* Hugging Face model directories (issue 8): the strict JSON parser, the
 * SafeTensors header checks, config.json / tokenizer.json handling, tensor
 * conversions, and parity of the fixture's hf/ directory with its golden
 * file and with its GGUF twins (tokenizer, tensors, logits).
 *
 * Bad inputs are tables of hand-made documents plus every truncation of
 * small valid files; each must give a status and a message (never a crash;
 * ASan checks for leaks). Allocation failures are injected along a whole
 * build. BITNET_GOLDEN_QUICK=1 runs one golden case (sanitizer builds). */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bitnet.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/json.h"
#include "loader/hf.h"
#include "loader/safetensors.h"
#include "model/arch.h"
#include "support/fixtures.h"
#include "support/hf_model.h"
#include "support/json.h"
#include "tokenizer/tokenizer.h"

/* ---- helpers ------------------------------------------------------------------ */

static char *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/bitnet-hf-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    char *out = strdup(d);
    assert_non_null(out);
    return out;
}

/* s with the first `from` replaced by `to` (which must be found). */
static char *replace(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    if (!at)
        fail_msg("test bug: '%s' not found", from);
    size_t n = strlen(s) - strlen(from) + strlen(to);
    char *out = malloc(n + 1);
    assert_non_null(out);
    size_t head = (size_t)(at - s);
    memcpy(out, s, head);
    strcpy(out + head, to);
    strcat(out, at + strlen(from));
    return out;
}

static bn_hf_files files_of(const hf_model *m)
{
    bn_hf_files in = {
        .st = m->st,
        .st_size = m->st_size,
        .config = m->config,
        .config_len = strlen(m->config),
        .tokenizer = m->tokenizer,
        .tokenizer_len = strlen(m->tokenizer),
        .tokenizer_config = m->tokenizer_config,
        .tokenizer_config_len = strlen(m->tokenizer_config),
        .name = "tiny",
    };
    return in;
}

/* Build; a failure must leave a message. */
static bitnet_status build(const bn_hf_files *in)
{
    bn_gguf g;
    bn_error_set_message("");
    bitnet_status s = bn_hf_build(in, &g);
    if (s) {
        if (!bitnet_last_error()[0])
            fail_msg("status %s without a message", bitnet_status_str(s));
        return s;
    }
    bn_gguf_free(&g);
    return s;
}

static bitnet_model *load(const char *path, bool mmap)
{
    bitnet_model_params p = bitnet_model_params_default();
    p.use_mmap = mmap;
    bitnet_model *m = NULL;
    if (bitnet_model_load_file(path, &p, &m))
        fail_msg("%s: %s", path, bitnet_last_error());
    return m;
}

static bitnet_context *new_context(bitnet_model *m)
{
    bitnet_context_params cp = bitnet_context_params_default();
    cp.n_threads = 2;
    cp.backend = getenv("BITNET_TEST_BACKEND");
    bitnet_context *c = NULL;
    if (bitnet_context_new(m, &cp, &c))
        fail_msg("context: %s", bitnet_last_error());
    return c;
}

/* ---- JSON --------------------------------------------------------------------- */

static void test_json_valid(void **state)
{
    (void)state;
    bn_arena a = {0};
    const bn_json *v;
    const char *doc = " {\"a\": [1, -0, 2.5e3, -12345678901234567890, 9223372036854775807, true, false, null],"
                      " \"s\": \"x\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\\u0000y\", \"o\": {}, \"e\": []} ";
    assert_int_equal(bn_json_parse(doc, strlen(doc), 1 << 20, "t", &a, &v), BITNET_OK);
    assert_int_equal(v->type, BN_JSON_OBJECT);
    const bn_json *arr = bn_json_get(v, "a");
    assert_non_null(arr);
    assert_int_equal(arr->n, 8);
    assert_true(arr->v.items[0].is_int && arr->v.items[0].v.num.i == 1);
    assert_true(arr->v.items[1].is_int && arr->v.items[1].v.num.i == 0);
    assert_false(arr->v.items[2].is_int);
    assert_true(arr->v.items[2].v.num.f == 2500.0);
    assert_false(arr->v.items[3].is_int); /* beyond int64: a double */
    assert_true(arr->v.items[4].is_int && arr->v.items[4].v.num.i == INT64_MAX);
    assert_true(arr->v.items[5].type == BN_JSON_BOOL && arr->v.items[5].b);
    assert_int_equal(arr->v.items[7].type, BN_JSON_NULL);
    const bn_json *s = bn_json_get(v, "s");
    const char want[] = "x\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80\0y";
    assert_int_equal(s->n, sizeof want - 1);
    assert_memory_equal(s->v.s, want, sizeof want - 1);
    assert_int_equal(bn_json_get(v, "o")->n, 0);
    bn_arena_free(&a);
}

static void test_json_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",          " ",           "{",           "}",           "[1,]",         "[1 2]",        "{\"a\":1,}",
        "{\"a\" 1}", "{a:1}",       "{\"a\":1}x",  "01",          "1.",           ".5",           "1e",
        "-",         "+1",          "1e999",       "-1e999",      "tru",          "nul",          "\"abc",
        "\"\\x\"",   "\"\\u12\"",   "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"a\x01\"",  "\"\xff\"",
        "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "{\"a\":1,\"a\":2}", "NaN", "[1]]", "\"a\"\"b\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bn_arena a = {0};
        const bn_json *v = (const bn_json *)1;
        bn_error_set_message("");
        bitnet_status s = bn_json_parse(bad[i], strlen(bad[i]), 1 << 20, "t", &a, &v);
        if (s != BITNET_ERR_BAD_FORMAT)
            fail_msg("bad JSON %zu '%s' gave %s", i, bad[i], bitnet_status_str(s));
        assert_null(v);
        assert_true(bitnet_last_error()[0] != '\0');
        bn_arena_free(&a);
    }
    /* Deep nesting, duplicate keys in a large object, the size limit. */
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    bn_arena a = {0};
    const bn_json *v;
    assert_int_equal(bn_json_parse(deep, sizeof deep, 1 << 20, "t", &a, &v), BITNET_ERR_BAD_FORMAT);
    assert_non_null(strstr(bitnet_last_error(), "nesting"));
    char big[4096] = "{";
    for (int i = 0; i < 100; i++)
        snprintf(big + strlen(big), sizeof big - strlen(big), "\"k%d\":%d,", i % 60, i);
    strcpy(big + strlen(big) - 1, "}");
    assert_int_equal(bn_json_parse(big, strlen(big), 1 << 20, "t", &a, &v), BITNET_ERR_BAD_FORMAT);
    assert_non_null(strstr(bitnet_last_error(), "duplicate key 'k0'"));
    assert_int_equal(bn_json_parse("[1]", 3, 2, "t", &a, &v), BITNET_ERR_BAD_FORMAT);
    /* A message names the line and column. */
    assert_int_equal(bn_json_parse("{\n  \"a\": ?}", 11, 100, "doc.json", &a, &v), BITNET_ERR_BAD_FORMAT);
    assert_non_null(strstr(bitnet_last_error(), "doc.json: line 2, column 8"));
    bn_arena_free(&a);
}

/* ---- SafeTensors headers ----------------------------------------------------- */

/* A file of header `json` followed by `data_len` zero bytes. */
static uint8_t *st_file(const char *header, size_t data_len, size_t *size)
{
    size_t n = strlen(header);
    *size = 8 + n + data_len;
    uint8_t *f = calloc(*size ? *size : 1, 1);
    assert_non_null(f);
    for (int i = 0; i < 8; i++)
        f[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(f + 8, header, n);
    return f;
}

static void test_safetensors_headers(void **state)
{
    (void)state;
    static const struct {
        const char *header;
        size_t data;
        bitnet_status want;
    } cases[] = {
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, BITNET_OK},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, BITNET_OK},
        {"{\"a\":{\"dtype\":\"BF16\",\"shape\":[0,3],\"data_offsets\":[0,0]},"
         "\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},\"__metadata__\":{\"format\":\"pt\"}}",
         3, BITNET_OK},
        {"{}", 0, BITNET_OK},
        {"{}  ", 0, BITNET_OK},
        {"{}", 1, BITNET_ERR_BAD_FORMAT}, /* a byte after the last tensor */
        {"[]", 0, BITNET_ERR_BAD_FORMAT},
        {" {}", 0, BITNET_ERR_BAD_FORMAT},
        {"{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, BITNET_ERR_UNSUPPORTED},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, BITNET_ERR_BAD_FORMAT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, BITNET_ERR_BAD_FORMAT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}", 8, BITNET_ERR_BAD_FORMAT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, BITNET_ERR_BAD_FORMAT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, BITNET_ERR_BAD_FORMAT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,7]}}", 7, BITNET_ERR_BAD_FORMAT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 7, BITNET_ERR_BAD_FORMAT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", 8,
         BITNET_ERR_BAD_FORMAT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
         12, BITNET_ERR_BAD_FORMAT}, /* overlap */
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
         12, BITNET_ERR_BAD_FORMAT}, /* hole */
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
         8, BITNET_ERR_BAD_FORMAT}, /* duplicate */
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, BITNET_ERR_BAD_FORMAT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, BITNET_ERR_BAD_FORMAT},
        {"{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, BITNET_ERR_BAD_FORMAT},
        {"{\"a\":[1]}", 0, BITNET_ERR_BAD_FORMAT},
        {"{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, BITNET_ERR_BAD_FORMAT},
        {"{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, BITNET_ERR_BAD_FORMAT},
        {"{\"__metadata__\":{\"format\":1}}", 0, BITNET_ERR_BAD_FORMAT},
        {"{\"__metadata__\":[]}", 0, BITNET_ERR_BAD_FORMAT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4, BITNET_ERR_BAD_FORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t size;
        uint8_t *f = st_file(cases[i].header, cases[i].data, &size);
        bn_safetensors st;
        bn_error_set_message("");
        bitnet_status s = bn_safetensors_parse(&st, f, size);
        if (s != cases[i].want)
            fail_msg("header %zu (%s) gave %s, want %s: %s", i, cases[i].header, bitnet_status_str(s),
                     bitnet_status_str(cases[i].want), bitnet_last_error());
        if (s)
            assert_true(bitnet_last_error()[0] != '\0');
        else
            bn_safetensors_free(&st);
        free(f);
    }
    /* Header length fields: short file, above the limit, past the end. */
    uint8_t small[8] = {0};
    bn_safetensors st;
    assert_int_equal(bn_safetensors_parse(&st, small, 7), BITNET_ERR_BAD_FORMAT);
    assert_int_equal(bn_safetensors_parse(&st, small, 8), BITNET_ERR_BAD_FORMAT);
    uint8_t huge[16] = {0, 0, 0, 0x10, 0, 0, 0, 0, '{', '}'};
    assert_int_equal(bn_safetensors_parse(&st, huge, sizeof huge), BITNET_ERR_BAD_FORMAT);
    assert_non_null(strstr(bitnet_last_error(), "limit"));
    uint8_t past[16] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    assert_int_equal(bn_safetensors_parse(&st, past, sizeof past), BITNET_ERR_BAD_FORMAT);
    uint8_t top[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'};
    assert_int_equal(bn_safetensors_parse(&st, top, sizeof top), BITNET_ERR_BAD_FORMAT);
}

/* Every truncation of a small valid file fails; the whole file parses. */
static void test_safetensors_truncations(void **state)
{
    (void)state;
    st_writer *w = st_writer_new();
    float v[6] = {1, 2, 3, 4, 5, 6};
    int64_t s23[2] = {2, 3}, s4[1] = {4};
    st_writer_add(w, "model.norm.weight", "F32", 2, s23, v, sizeof v);
    st_writer_add(w, "x.weight", "U8", 1, s4, "abcd", 4);
    st_writer_add(w, "y.weight_scale", "BF16", 0, s4, "\x80\x3f", 2);
    size_t size;
    uint8_t *f = st_writer_finish(w, &size);
    st_writer_free(w);
    bn_safetensors st;
    assert_int_equal(bn_safetensors_parse(&st, f, size), BITNET_OK);
    assert_int_equal(st.n_tensors, 3);
    assert_int_equal(st.tensors[2].n_dims, 0);
    assert_int_equal(st.tensors[2].n_elements, 1);
    assert_int_equal(bn_safetensors_find(&st, "x.weight"), 1);
    bn_safetensors_free(&st);
    for (size_t len = 0; len < size; len++) {
        uint8_t *cut = malloc(len ? len : 1); /* exactly len bytes: ASan sees reads past them */
        assert_non_null(cut);
        memcpy(cut, f, len);
        bitnet_status s = bn_safetensors_parse(&st, cut, len);
        if (s != BITNET_ERR_BAD_FORMAT)
            fail_msg("truncation to %zu of %zu bytes gave %s", len, size, bitnet_status_str(s));
        free(cut);
    }
    free(f);
}

/* ---- the tiny model: builds, bad documents, truncations --------------------- */

static void test_tiny_models_build(void **state)
{
    (void)state;
    const hf_model_opts variants[] = {{0}, {.float_weights = true}, {.llama = true}, {.untied = true},
                                      {.llama = true, .untied = true, .seed = 7}};
    for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
        hf_model m;
        hf_model_make(&variants[i], &m);
        bn_hf_files in = files_of(&m);
        bn_gguf g;
        if (bn_hf_build(&in, &g))
            fail_msg("variant %zu: %s", i, bitnet_last_error());
        bn_arch_model am;
        if (bn_arch_bind(&g, &am))
            fail_msg("variant %zu: bind: %s", i, bitnet_last_error());
        assert_int_equal(am.hp.n_vocab, 260);
        assert_int_equal(am.hp.arch, variants[i].llama ? BN_ARCH_LLAMA : BN_ARCH_BITNET_B158);
        assert_int_equal(am.layers[0].wq.w.type, variants[i].llama ? BITNET_TYPE_BF16 : BITNET_TYPE_I2_S);
        assert_int_equal(bn_gguf_find_tensor(&g, "output.weight") >= 0, variants[i].untied);
        bn_arch_free(&am);
        bn_tokenizer *tok;
        if (bn_tokenizer_new(&g, &tok))
            fail_msg("variant %zu: tokenizer: %s", i, bitnet_last_error());
        bitnet_token *ids;
        size_t n;
        assert_int_equal(bn_tokenizer_encode(tok, " the", 4, BITNET_TOKENIZE_ADD_SPECIAL, &ids, &n), BITNET_OK);
        assert_int_equal(n, 3); /* BOS, "Ġt", "he" */
        assert_int_equal(ids[0], 258);
        assert_int_equal(ids[1], 256);
        assert_int_equal(ids[2], 257);
        bn_free(ids);
        bn_tokenizer_free(tok);
        bn_gguf_free(&g);
        hf_model_free(&m);
    }
}

static void test_bad_config(void **state)
{
    (void)state;
    static const struct {
        const char *from, *to;
        bitnet_status want;
        const char *msg;
    } cases[] = {
        {"\"hidden_size\": 128", "\"hidden_size\": \"128\"", BITNET_ERR_BAD_FORMAT, "hidden_size"},
        {"\"hidden_size\": 128", "\"hidden_size\": 0", BITNET_ERR_BAD_FORMAT, "hidden_size"},
        {"\"hidden_size\": 128", "\"hidden_size\": -128", BITNET_ERR_BAD_FORMAT, "hidden_size"},
        {"\"hidden_size\": 128", "\"hidden_size\": 128.5", BITNET_ERR_BAD_FORMAT, "hidden_size"},
        {"\"hidden_size\": 128", "\"hidden_size\": 99999999999", BITNET_ERR_BAD_FORMAT, "hidden_size"},
        {"\"hidden_size\": 128,", "", BITNET_ERR_BAD_FORMAT, "missing 'hidden_size'"},
        {"\"hidden_size\": 128", "\"hidden_size\": 256", BITNET_ERR_BAD_FORMAT, "shape"},
        {"\"intermediate_size\": 256", "\"intermediate_size\": 512", BITNET_ERR_BAD_FORMAT, "shape"},
        {"\"num_attention_heads\": 2", "\"num_attention_heads\": 3", BITNET_ERR_BAD_FORMAT, "divide"},
        {"\"num_key_value_heads\": 1", "\"num_key_value_heads\": 2", BITNET_ERR_BAD_FORMAT, "shape"},
        {"\"vocab_size\": 260", "\"vocab_size\": 300", BITNET_ERR_BAD_FORMAT, "vocab_size"},
        {"\"num_hidden_layers\": 1", "\"num_hidden_layers\": 2", BITNET_ERR_BAD_FORMAT, "missing tensor"},
        {"\"tie_word_embeddings\": true", "\"tie_word_embeddings\": \"yes\"", BITNET_ERR_BAD_FORMAT, "tie_word"},
        {"\"tie_word_embeddings\": true", "\"tie_word_embeddings\": false", BITNET_ERR_BAD_FORMAT, "lm_head"},
        {"\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": -1", BITNET_ERR_BAD_FORMAT, "rms_norm_eps"},
        {"\"BitNetForCausalLM\"", "\"GPT2LMHeadModel\"", BITNET_ERR_UNSUPPORTED, "GPT2LMHeadModel"},
        {"[\"BitNetForCausalLM\"]", "[]", BITNET_ERR_BAD_FORMAT, "architectures"},
        {"\"relu2\"", "\"gelu\"", BITNET_ERR_UNSUPPORTED, "gelu"},
        {"\"rope_theta\": 500000.0", "\"rope_theta\": 500000.0, \"rope_scaling\": {\"rope_type\": \"llama3\"}",
         BITNET_ERR_UNSUPPORTED, "rope_scaling"},
        {"\"rope_theta\": 500000.0", "\"rope_theta\": 500000.0, \"head_dim\": 32", BITNET_ERR_UNSUPPORTED, "head_dim"},
        {"\"quant_method\": \"bitnet\"", "\"quant_method\": \"gptq\"", BITNET_ERR_UNSUPPORTED, "gptq"},
        {"\"rope_theta\": 500000.0", "\"rope_theta\": 500000.0, \"rope_theta\": 1.0", BITNET_ERR_BAD_FORMAT,
         "duplicate"},
        {"\n}\n", "\n}x", BITNET_ERR_BAD_FORMAT, "after the end"},
        {"{\n", "[\n", BITNET_ERR_BAD_FORMAT, "config.json"},
    };
    hf_model m;
    hf_model_make(&(hf_model_opts){0}, &m);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *cfg = replace(m.config, cases[i].from, cases[i].to);
        bn_hf_files in = files_of(&m);
        in.config = cfg;
        in.config_len = strlen(cfg);
        bitnet_status s = build(&in);
        if (s != cases[i].want || !strstr(bitnet_last_error(), cases[i].msg))
            fail_msg("config case %zu gave %s (want %s, message with '%s'): %s", i, bitnet_status_str(s),
                     bitnet_status_str(cases[i].want), cases[i].msg, bitnet_last_error());
        free(cfg);
    }
    bn_hf_files in = files_of(&m);
    in.config = "";
    in.config_len = 0;
    assert_int_equal(build(&in), BITNET_ERR_BAD_FORMAT);
    hf_model_free(&m);
}

static void test_bad_tokenizer(void **state)
{
    (void)state;
    static const struct {
        const char *from, *to;
        bitnet_status want;
        const char *msg;
    } cases[] = {
        {"\"type\":\"BPE\"", "\"type\":\"Unigram\"", BITNET_ERR_UNSUPPORTED, "Unigram"},
        {"\"byte_fallback\":false", "\"byte_fallback\":true", BITNET_ERR_UNSUPPORTED, "byte_fallback"},
        {"\"normalizer\":null", "\"normalizer\":{\"type\":\"NFC\"}", BITNET_ERR_UNSUPPORTED, "normalizer"},
        {"\"behavior\":\"Isolated\"", "\"behavior\":\"Removed\"", BITNET_ERR_UNSUPPORTED, "pre_tokenizer"},
        {"\\\\p{N}{1,3}", "\\\\p{N}+", BITNET_ERR_UNSUPPORTED, "pre_tokenizer"},
        {"\"use_regex\":false}]", "\"use_regex\":true}]", BITNET_ERR_UNSUPPORTED, "pre_tokenizer"},
        {"\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":false",
         "\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":false", BITNET_ERR_UNSUPPORTED,
         "pre_tokenizer"},
        {"\"he\":257", "\"he\":256", BITNET_ERR_BAD_FORMAT, "id 256"},
        {"\"he\":257", "\"he\":-1", BITNET_ERR_BAD_FORMAT, "'he'"},
        {"\"he\":257", "\"he\":\"257\"", BITNET_ERR_BAD_FORMAT, "'he'"},
        {"\"he\":257", "\"he\":5000", BITNET_ERR_BAD_FORMAT, "outside"},
        {"\"id\":259", "\"id\":258", BITNET_ERR_BAD_FORMAT, "id 258"},
        {"\"id\":259", "\"id\":\"x\"", BITNET_ERR_BAD_FORMAT, "added_tokens[1]"},
        {"\"merges\":[", "\"merges\":[5,", BITNET_ERR_BAD_FORMAT, "merges[0]"},
        {"\"merges\":[\"\xC4\xA0 t\",\"h e\"]", "\"merges\":{}", BITNET_ERR_BAD_FORMAT, "merges"},
        {"\"vocab\":{", "\"vocab\":{\"dup\":1,\"dup\":2,", BITNET_ERR_BAD_FORMAT, "duplicate key 'dup'"},
        {"\"he\":257", "\"h\xff\":257", BITNET_ERR_BAD_FORMAT, "UTF-8"},
        {"\"he\":257", "\"h\\ud800\":257", BITNET_ERR_BAD_FORMAT, "surrogate"},
        {"\"model\":{", "\"model\":[{", BITNET_ERR_BAD_FORMAT, "tokenizer.json"},
        {"\"model\":{\"type\":\"BPE\"", "\"model2\":{\"type\":\"BPE\"", BITNET_ERR_BAD_FORMAT, "'model'"},
    };
    hf_model m;
    hf_model_make(&(hf_model_opts){0}, &m);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *tok = replace(m.tokenizer, cases[i].from, cases[i].to);
        bn_hf_files in = files_of(&m);
        in.tokenizer = tok;
        in.tokenizer_len = strlen(tok);
        bitnet_status s = build(&in);
        if (s != cases[i].want || !strstr(bitnet_last_error(), cases[i].msg))
            fail_msg("tokenizer case %zu gave %s (want %s, message with '%s'): %s", i, bitnet_status_str(s),
                     bitnet_status_str(cases[i].want), cases[i].msg, bitnet_last_error());
        free(tok);
    }
    /* tokenizer_config.json: a bad flag, a bad document; absent is fine. */
    bn_hf_files in = files_of(&m);
    in.tokenizer_config = "{\"add_bos_token\": \"yes\"}";
    in.tokenizer_config_len = strlen(in.tokenizer_config);
    assert_int_equal(build(&in), BITNET_ERR_BAD_FORMAT);
    in.tokenizer_config = "[";
    in.tokenizer_config_len = 1;
    assert_int_equal(build(&in), BITNET_ERR_BAD_FORMAT);
    in.tokenizer_config = NULL;
    in.tokenizer_config_len = 0;
    assert_int_equal(build(&in), BITNET_OK);
    hf_model_free(&m);
}

/* Merges in the list form ["a", "b"] build the same tokenizer metadata. */
static void test_tokenizer_merges_list_form(void **state)
{
    (void)state;
    hf_model m;
    hf_model_make(&(hf_model_opts){0}, &m);
    char *tok = replace(m.tokenizer, "\"merges\":[\"\xC4\xA0 t\",\"h e\"]", "\"merges\":[[\"\xC4\xA0\",\"t\"],[\"h\",\"e\"]]");
    bn_hf_files in = files_of(&m);
    in.tokenizer = tok;
    in.tokenizer_len = strlen(tok);
    bn_gguf g;
    assert_int_equal(bn_hf_build(&in, &g), BITNET_OK);
    const struct bitnet_value *v = &g.kv[bn_gguf_find_kv(&g, "tokenizer.ggml.merges")].value;
    assert_int_equal(v->len, 2);
    assert_string_equal(v->v.strs[0].s, "\xC4\xA0 t");
    assert_string_equal(v->v.strs[1].s, "h e");
    bn_gguf_free(&g);
    free(tok);
    hf_model_free(&m);
}

/* tokenizer_config.json: token objects, flags and the chat template. */
static void test_tokenizer_config(void **state)
{
    (void)state;
    hf_model m;
    hf_model_make(&(hf_model_opts){0}, &m);
    bn_hf_files in = files_of(&m);
    in.tokenizer_config = "{\"bos_token\": {\"content\": \"<|end_of_text|>\"}, \"add_bos_token\": false, "
                          "\"add_eos_token\": true, \"chat_template\": \"{{ messages }}\"}";
    in.tokenizer_config_len = strlen(in.tokenizer_config);
    bn_gguf g;
    assert_int_equal(bn_hf_build(&in, &g), BITNET_OK);
    const struct bitnet_value *v = &g.kv[bn_gguf_find_kv(&g, "tokenizer.chat_template")].value;
    assert_string_equal(v->v.str, "{{ messages }}");
    assert_int_equal(g.kv[bn_gguf_find_kv(&g, "tokenizer.ggml.bos_token_id")].value.v.u, 259);
    assert_int_equal(g.kv[bn_gguf_find_kv(&g, "tokenizer.ggml.add_bos_token")].value.v.u, 0);
    assert_int_equal(g.kv[bn_gguf_find_kv(&g, "tokenizer.ggml.add_eos_token")].value.v.u, 1);
    bn_gguf_free(&g);
    /* Without it: BOS/EOS from config.json, add_bos from the post-processor. */
    in.tokenizer_config = NULL;
    in.tokenizer_config_len = 0;
    assert_int_equal(bn_hf_build(&in, &g), BITNET_OK);
    assert_int_equal(g.kv[bn_gguf_find_kv(&g, "tokenizer.ggml.bos_token_id")].value.v.u, 258);
    assert_int_equal(g.kv[bn_gguf_find_kv(&g, "tokenizer.ggml.eos_token_id")].value.v.u, 259);
    assert_int_equal(g.kv[bn_gguf_find_kv(&g, "tokenizer.ggml.add_bos_token")].value.v.u, 1);
    assert_int_equal(g.kv[bn_gguf_find_kv(&g, "tokenizer.ggml.add_eos_token")].value.v.u, 0);
    assert_true(bn_gguf_find_kv(&g, "tokenizer.chat_template") < 0);
    bn_gguf_free(&g);
    hf_model_free(&m);
}

/* Every truncation of config.json and tokenizer.json gives a status. */
static void test_document_truncations(void **state)
{
    (void)state;
    hf_model m;
    hf_model_make(&(hf_model_opts){0}, &m);
    for (int which = 0; which < 3; which++) {
        const char *doc = which == 0 ? m.config : which == 1 ? m.tokenizer : m.tokenizer_config;
        const size_t full = strlen(doc), close = (size_t)(strrchr(doc, '}') - doc) + 1;
        for (size_t len = 0; len < full; len++) {
            char *cut = malloc(len ? len : 1);
            assert_non_null(cut);
            memcpy(cut, doc, len);
            bn_hf_files in = files_of(&m);
            if (which == 0)
                in.config = cut, in.config_len = len;
            else if (which == 1)
                in.tokenizer = cut, in.tokenizer_len = len;
            else
                in.tokenizer_config = cut, in.tokenizer_config_len = len;
            bitnet_status s = build(&in);
            if (len < close ? s != BITNET_ERR_BAD_FORMAT : s != BITNET_OK)
                fail_msg("document %d cut to %zu of %zu bytes gave %s", which, len, full, bitnet_status_str(s));
            free(cut);
        }
    }
    /* The SafeTensors file: every cut of the header and the first data
     * bytes, then every 61st (each data cut fails the same check). */
    uint64_t header = 0;
    for (int i = 7; i >= 0; i--)
        header = header << 8 | m.st[i];
    for (size_t len = 0; len < m.st_size; len += len < 8 + header + 64 ? 1 : 61) {
        uint8_t *cut = malloc(len ? len : 1);
        assert_non_null(cut);
        memcpy(cut, m.st, len);
        bn_hf_files in = files_of(&m);
        in.st = cut;
        in.st_size = len;
        bitnet_status s = build(&in);
        if (s != BITNET_ERR_BAD_FORMAT)
            fail_msg("model.safetensors cut to %zu gave %s", len, bitnet_status_str(s));
        free(cut);
    }
    hf_model_free(&m);
}

/* ---- tensor-level errors ---------------------------------------------------- */

typedef enum edit_kind { E_DROP, E_EXTRA, E_SHAPE, E_CODE3, E_SCALE, E_SCALE2, E_DTYPE, E_I8, E_I8_BAD } edit_kind;

/* The tiny model's tensors rewritten with one edit. */
static uint8_t *edit_st(const hf_model *m, edit_kind kind, const char *target, float scale, size_t *size)
{
    bn_safetensors st;
    assert_int_equal(bn_safetensors_parse(&st, m->st, m->st_size), BITNET_OK);
    st_writer *w = st_writer_new();
    for (int64_t i = 0; i < st.n_tensors; i++) {
        const bn_st_tensor *t = &st.tensors[i];
        const bool hit = strcmp(t->name, target) == 0;
        if (hit && kind == E_DROP)
            continue;
        if (hit && kind == E_SHAPE) {
            int64_t shape[2] = {t->shape[1], t->shape[0]};
            st_writer_add(w, t->name, t->dtype_name, 2, shape, t->data, t->n_bytes);
            continue;
        }
        if (hit && kind == E_CODE3) {
            uint8_t *d = malloc(t->n_bytes);
            assert_non_null(d);
            memcpy(d, t->data, t->n_bytes);
            d[5] |= 0xC0;
            st_writer_add(w, t->name, t->dtype_name, (int)t->n_dims, t->shape, d, t->n_bytes);
            free(d);
            continue;
        }
        if (hit && kind == E_SCALE) {
            int64_t one = 1;
            st_writer_add(w, t->name, "F32", 1, &one, &scale, 4);
            continue;
        }
        if (hit && kind == E_SCALE2) {
            int64_t two = 2;
            float s2[2] = {1, 1};
            st_writer_add(w, t->name, "F32", 1, &two, s2, 8);
            continue;
        }
        if (hit && kind == E_DTYPE) {
            st_writer_add(w, t->name, "I16", (int)t->n_dims, t->shape, t->data, t->n_bytes);
            continue;
        }
        if (hit && (kind == E_I8 || kind == E_I8_BAD)) {
            /* The packed codes as one int8 per weight. */
            const int64_t p = t->shape[0], n = t->shape[1];
            int8_t *codes = malloc((size_t)(4 * p * n));
            assert_non_null(codes);
            for (int64_t r = 0; r < 4 * p; r++)
                for (int64_t k = 0; k < n; k++)
                    codes[r * n + k] = (int8_t)(((t->data[(r % p) * n + k] >> (2 * (r / p))) & 3) - 1);
            if (kind == E_I8_BAD)
                codes[7] = 2;
            int64_t shape[2] = {4 * p, n};
            st_writer_add(w, t->name, "I8", 2, shape, codes, (size_t)(4 * p * n));
            free(codes);
            continue;
        }
        st_writer_add(w, t->name, t->dtype_name, (int)t->n_dims, t->shape, t->data, t->n_bytes);
    }
    if (kind == E_EXTRA) {
        int64_t one = 1;
        float x = 1;
        st_writer_add(w, target, "F32", 1, &one, &x, 4);
    }
    uint8_t *out = st_writer_finish(w, size);
    st_writer_free(w);
    bn_safetensors_free(&st);
    return out;
}

static void test_bad_tensors(void **state)
{
    (void)state;
    static const struct {
        edit_kind kind;
        const char *target;
        float scale;
        bitnet_status want;
        const char *msg;
    } cases[] = {
        {E_DROP, "model.layers.0.self_attn.q_proj.weight", 0, BITNET_ERR_BAD_FORMAT, "missing tensor"},
        {E_DROP, "model.embed_tokens.weight", 0, BITNET_ERR_BAD_FORMAT, "embed_tokens"},
        {E_DROP, "model.layers.0.mlp.ffn_sub_norm.weight", 0, BITNET_ERR_BAD_FORMAT, "ffn_sub_norm"},
        {E_DROP, "model.layers.0.self_attn.k_proj.weight_scale", 0, BITNET_ERR_BAD_FORMAT, "k_proj"},
        {E_EXTRA, "model.layers.0.self_attn.q_proj.bias", 0, BITNET_ERR_UNSUPPORTED, "q_proj.bias"},
        {E_EXTRA, "model.layers.0.self_attn.rotary_emb.inv_freq", 0, BITNET_OK, ""},
        {E_SHAPE, "model.layers.0.mlp.down_proj.weight", 0, BITNET_ERR_BAD_FORMAT, "shape"},
        {E_SHAPE, "model.embed_tokens.weight", 0, BITNET_ERR_BAD_FORMAT, "shape"},
        {E_CODE3, "model.layers.0.mlp.up_proj.weight", 0, BITNET_ERR_BAD_FORMAT, "not ternary"},
        {E_SCALE, "model.layers.0.mlp.up_proj.weight_scale", 0, BITNET_ERR_BAD_FORMAT, "positive scale"},
        {E_SCALE, "model.layers.0.mlp.up_proj.weight_scale", -2, BITNET_ERR_BAD_FORMAT, "positive scale"},
        {E_SCALE, "model.layers.0.mlp.up_proj.weight_scale", NAN, BITNET_ERR_BAD_FORMAT, "positive scale"},
        {E_SCALE, "model.layers.0.mlp.up_proj.weight_scale", 4, BITNET_OK, ""},
        {E_SCALE2, "model.layers.0.mlp.up_proj.weight_scale", 0, BITNET_ERR_BAD_FORMAT, "one F32"},
        {E_DTYPE, "model.norm.weight", 0, BITNET_ERR_UNSUPPORTED, "I16"},
        {E_I8, "model.layers.0.self_attn.o_proj.weight", 0, BITNET_OK, ""},
        {E_I8_BAD, "model.layers.0.self_attn.o_proj.weight", 0, BITNET_ERR_BAD_FORMAT, "not ternary"},
    };
    hf_model m;
    hf_model_make(&(hf_model_opts){0}, &m);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t size;
        uint8_t *st = edit_st(&m, cases[i].kind, cases[i].target, cases[i].scale, &size);
        bn_hf_files in = files_of(&m);
        in.st = st;
        in.st_size = size;
        bitnet_status s = build(&in);
        if (s != cases[i].want || (s && !strstr(bitnet_last_error(), cases[i].msg)))
            fail_msg("tensor case %zu gave %s (want %s, message with '%s'): %s", i, bitnet_status_str(s),
                     bitnet_status_str(cases[i].want), cases[i].msg, bitnet_last_error());
        free(st);
    }
    hf_model_free(&m);
}

/* I8 codes and packed U8 codes of the same weights repack identically. */
static void test_i8_codes_equal_packed(void **state)
{
    (void)state;
    hf_model m;
    hf_model_make(&(hf_model_opts){0}, &m);
    size_t size;
    uint8_t *st = edit_st(&m, E_I8, "model.layers.0.self_attn.o_proj.weight", 0, &size);
    bn_hf_files a = files_of(&m), b = files_of(&m);
    b.st = st;
    b.st_size = size;
    bn_gguf ga, gb;
    assert_int_equal(bn_hf_build(&a, &ga), BITNET_OK);
    assert_int_equal(bn_hf_build(&b, &gb), BITNET_OK);
    const bn_gguf_tensor *ta = &ga.tensors[bn_gguf_find_tensor(&ga, "blk.0.attn_output.weight")];
    const bn_gguf_tensor *tb = &gb.tensors[bn_gguf_find_tensor(&gb, "blk.0.attn_output.weight")];
    assert_int_equal(ta->type, BITNET_TYPE_I2_S);
    assert_int_equal(ta->n_bytes, tb->n_bytes);
    assert_memory_equal(ta->data, tb->data, ta->n_bytes);
    bn_gguf_free(&ga);
    bn_gguf_free(&gb);
    free(st);
    hf_model_free(&m);
}

/* ---- the public API on a directory ----------------------------------------- */

static void test_directory_dispatch(void **state)
{
    (void)state;
    hf_model m;
    hf_model_make(&(hf_model_opts){0}, &m);
    char *dir = make_tmpdir();
    assert_int_equal(hf_model_write(&m, dir), 0);
    char path[4096];
    for (int mmap = 0; mmap < 2; mmap++) {
        bitnet_model *a = load(dir, mmap);
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        bitnet_model *b = load(path, mmap);
        assert_int_equal(bitnet_model_gguf_version(a), 0);
        assert_int_equal(bitnet_model_tensor_count(a), bitnet_model_tensor_count(b));
        const char *arch;
        assert_int_equal(bitnet_model_meta_string(a, "general.architecture", &arch, NULL), BITNET_OK);
        assert_string_equal(arch, "bitnet-b1.58");
        assert_int_equal(bitnet_vocab_size(a), 260);
        assert_int_equal(bitnet_token_bos(a), 258);
        assert_true(bitnet_token_is_eog(a, 259));
        bitnet_context *c = new_context(a);
        bitnet_token t[3] = {258, 256, 257};
        assert_int_equal(bitnet_context_decode(c, t, 3), BITNET_OK);
        assert_non_null(bitnet_context_logits(c, -1));
        bitnet_context_free(c);
        bitnet_model_release(a);
        bitnet_model_release(b);
    }
    /* Without tokenizer_config.json it still loads; without tokenizer.json
     * or config.json it does not. */
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    unlink(path);
    bitnet_model_release(load(dir, true));
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    unlink(path);
    bitnet_model *x = NULL;
    assert_int_equal(bitnet_model_load_file(dir, NULL, &x), BITNET_ERR_IO);
    assert_null(x);
    assert_non_null(strstr(bitnet_last_error(), "tokenizer.json"));
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_int_equal(bitnet_model_load_file(path, NULL, &x), BITNET_ERR_BAD_FORMAT);
    assert_non_null(strstr(bitnet_last_error(), "tokenizer.json is missing"));
    /* A sharded checkpoint is refused with a message. */
    unlink(path);
    assert_int_equal(write_file(dir, "model.safetensors.index.json", "{}", 2), 0);
    assert_int_equal(write_file(dir, "tokenizer.json", m.tokenizer, strlen(m.tokenizer)), 0);
    assert_int_equal(bitnet_model_load_file(dir, NULL, &x), BITNET_ERR_UNSUPPORTED);
    assert_non_null(strstr(bitnet_last_error(), "split"));
    /* The SafeTensors bytes alone, from memory: not a model. */
    assert_int_equal(bitnet_model_load_memory(m.st, m.st_size, NULL, &x), BITNET_ERR_BAD_FORMAT);
    assert_non_null(strstr(bitnet_last_error(), "SafeTensors"));
    hf_model_remove_dir(dir);
    free(dir);
    hf_model_free(&m);
}

/* Every failing allocation along a build and a directory load gives
 * OUT_OF_MEMORY (ASan: nothing leaks). */
static void test_alloc_failures(void **state)
{
    (void)state;
    hf_model m;
    hf_model_make(&(hf_model_opts){.untied = true}, &m);
    char *dir = make_tmpdir();
    assert_int_equal(hf_model_write(&m, dir), 0);
    for (int mode = 0; mode < 2; mode++) {
        long n;
        for (n = 0; n < 100000; n++) {
            unsigned long before = bn_alloc_failures();
            bn_alloc_fail_after(n);
            bitnet_status s;
            if (mode == 0) {
                bn_hf_files in = files_of(&m);
                bn_gguf g;
                if (!(s = bn_hf_build(&in, &g)))
                    bn_gguf_free(&g);
            } else {
                bitnet_model_params p = bitnet_model_params_default();
                p.use_mmap = false;
                bitnet_model *x = NULL;
                if (!(s = bitnet_model_load_file(dir, &p, &x)))
                    bitnet_model_release(x);
            }
            bn_alloc_fail_after(-1);
            const bool injected = bn_alloc_failures() != before;
            if (s != BITNET_OK && s != BITNET_ERR_OUT_OF_MEMORY)
                fail_msg("mode %d: failing allocation %ld gave %s: %s", mode, n, bitnet_status_str(s),
                         bitnet_last_error());
            if (!injected) {
                assert_int_equal(s, BITNET_OK);
                break;
            }
        }
        print_message("mode %d: %ld allocation points checked\n", mode, n);
        assert_true(n > 10);
    }
    hf_model_remove_dir(dir);
    free(dir);
    hf_model_free(&m);
}

/* ---- the fixture: golden parity, tokenizer and tensors against GGUF --------- */

/* Greedy tokens and logits of the golden file's cases within its tolerance
 * (the logits bar times `slack`); prompt tokens from the model's tokenizer. */
static void check_golden(bitnet_model *m, const char *label, double slack)
{
    char path[2048], lpath[2048];
    json *doc = json_parse_file(fixture_path(path, sizeof path, "kjv-bitnet/kjv-bitnet-4m-hf.golden.json"));
    assert_non_null(doc);
    fixture_path(lpath, sizeof lpath, "kjv-bitnet/kjv-bitnet-4m-hf.logits.f32");
    size_t lsize;
    float *ref_all = (float *)read_all(lpath, &lsize);
    assert_non_null(ref_all);
    const int nv = (int)json_get(doc, "n_vocab")->number;
    const double tol_max = json_get(json_get(doc, "logits_tolerance"), "max")->number * slack;
    const double tol_mean = json_get(json_get(doc, "logits_tolerance"), "mean")->number * slack;
    const json *cases = json_get(doc, "cases");
    const size_t n_cases = getenv("BITNET_GOLDEN_QUICK") ? 1 : cases->n;
    double worst = 0;
    for (size_t ci = 0; ci < n_cases; ci++) {
        const json *cs = &cases->items[ci], *pt = json_get(cs, "prompt_tokens"), *gt = json_get(cs, "greedy_tokens");
        const char *prompt = json_get(cs, "prompt")->string;
        bitnet_token toks[64];
        size_t n;
        assert_int_equal(bitnet_tokenize(m, prompt, strlen(prompt), BITNET_TOKENIZE_ADD_SPECIAL, toks, 64, &n),
                         BITNET_OK);
        assert_int_equal(n, pt->n);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(toks[i], (bitnet_token)pt->items[i].number);
        const float *ref = ref_all + (size_t)json_get(cs, "logits_rows")->items[0].number * (size_t)nv;
        bitnet_context *c = new_context(m);
        assert_int_equal(bitnet_context_decode(c, toks, (int32_t)n), BITNET_OK);
        for (size_t step = 0; step < gt->n; step++) {
            const float *lg = bitnet_context_logits(c, -1), *rf = ref + step * (size_t)nv;
            double dmax = 0, dsum = 0, top = -INFINITY, second = -INFINITY;
            int best = 0;
            for (int v = 0; v < nv; v++) {
                double d = fabs((double)lg[v] - rf[v]);
                dmax = fmax(dmax, d);
                dsum += d;
                if (lg[v] > lg[best])
                    best = v;
                if (rf[v] > top)
                    second = top, top = rf[v];
                else if (rf[v] > second)
                    second = rf[v];
            }
            worst = fmax(worst, dmax);
            if (dmax > tol_max || dsum / nv > tol_mean)
                fail_msg("%s: '%s' step %zu: logits |diff| max %.4g mean %.4g > %g / %g", label, prompt, step, dmax,
                         dsum / nv, tol_max, tol_mean);
            if (best != (bitnet_token)gt->items[step].number) {
                if (top - second < tol_max)
                    break; /* a near tie in the reference: excused, as in the golden test */
                fail_msg("%s: '%s' step %zu: greedy %d, reference %d", label, prompt, step, best,
                         (int)gt->items[step].number);
            }
            bitnet_token t = best;
            if (step + 1 < gt->n)
                assert_int_equal(bitnet_context_decode(c, &t, 1), BITNET_OK);
        }
        bitnet_context_free(c);
    }
    print_message("%-28s %zu cases, logits max |diff| %.3g (tolerance %g)\n", label, n_cases, worst, tol_max);
    free(ref_all);
    json_free(doc);
}

static void test_fixture_golden(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    char dir[1024], file[1100];
    fixture_path(dir, sizeof dir, "kjv-bitnet/hf");
    snprintf(file, sizeof file, "%s/model.safetensors", dir);
    bitnet_model *m = load(dir, true);
    check_golden(m, "hf/ (directory, mmap)", 1.0);
    bitnet_model_release(m);
    m = load(file, false);
    check_golden(m, "hf/model.safetensors (read)", 1.0);
    bitnet_model_release(m);
}

/* The HF tokenizer agrees with the GGUF tokenizer of the same model on the
 * fixtures' tokenizer test strings, with and without special parsing. */
static void test_fixture_tokenizer_agrees(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    char path[1024];
    bitnet_model *hf = load(fixture_path(path, sizeof path, "kjv-bitnet/hf"), true);
    bitnet_model *gg = load(fixture_path(path, sizeof path, "kjv-bitnet/kjv-bitnet-4m-i2_s.gguf"), true);
    assert_int_equal(bitnet_vocab_size(hf), bitnet_vocab_size(gg));
    assert_int_equal(bitnet_token_bos(hf), bitnet_token_bos(gg));
    assert_int_equal(bitnet_token_eos(hf), bitnet_token_eos(gg));
    for (bitnet_token t = 0; t < bitnet_vocab_size(gg); t++) {
        assert_string_equal(bitnet_token_text(hf, t), bitnet_token_text(gg, t));
        assert_int_equal(bitnet_token_is_eog(hf, t), bitnet_token_is_eog(gg, t));
    }
    static const char *const inputs[] = {"vocab/ggml-vocab-llama-bpe.gguf.inp", "vocab/ggml-vocab-gpt-2.gguf.inp",
                                         "text/kjv-eval.txt"};
    size_t checked = 0;
    for (size_t f = 0; f < sizeof inputs / sizeof *inputs; f++) {
        size_t size;
        char *all = read_all(fixture_path(path, sizeof path, inputs[f]), &size);
        assert_non_null(all);
        const char *sep = "\n__ggml_vocab_test__\n";
        char *at = all;
        while (at && *at) {
            char *end = strstr(at, sep);
            size_t len = end ? (size_t)(end - at) : strlen(at);
            for (uint32_t flags = 0; flags <= BITNET_TOKENIZE_PARSE_SPECIAL + BITNET_TOKENIZE_ADD_SPECIAL;
                 flags += BITNET_TOKENIZE_ADD_SPECIAL) {
                size_t na = 0, nb = 0;
                bitnet_status sa = bitnet_tokenize(hf, at, len, flags, NULL, 0, &na);
                bitnet_status sb = bitnet_tokenize(gg, at, len, flags, NULL, 0, &nb);
                assert_int_equal(sa, sb);
                assert_int_equal(na, nb);
                if (sa != BITNET_ERR_BUFFER_TOO_SMALL)
                    continue;
                bitnet_token *ta = malloc(na * sizeof *ta), *tb = malloc(nb * sizeof *tb);
                assert_non_null(ta);
                assert_non_null(tb);
                assert_int_equal(bitnet_tokenize(hf, at, len, flags, ta, na, &na), BITNET_OK);
                assert_int_equal(bitnet_tokenize(gg, at, len, flags, tb, nb, &nb), BITNET_OK);
                assert_memory_equal(ta, tb, na * sizeof *ta);
                free(ta);
                free(tb);
                checked++;
            }
            at = end ? end + strlen(sep) : NULL;
        }
        free(all);
    }
    print_message("%zu tokenizations agree\n", checked);
    assert_true(checked > 50);
    bitnet_model_release(hf);
    bitnet_model_release(gg);
}

/* Tensors of the directory against the f32 GGUF twin: same codes, the
 * scale 1/weight_scale; norms and embedding are bf16 roundings. */
static void test_fixture_tensors(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    char path[1024];
    bitnet_model *hf = load(fixture_path(path, sizeof path, "kjv-bitnet/hf"), true);
    bitnet_model *gg = load(fixture_path(path, sizeof path, "kjv-bitnet/kjv-bitnet-4m-f32.gguf"), true);
    assert_int_equal(bitnet_model_tensor_count(hf), bitnet_model_tensor_count(gg));
    static float a[768 * 256], b[768 * 256];
    for (int64_t i = 0; i < bitnet_model_tensor_count(gg); i++) {
        bitnet_tensor_info ti = {.struct_size = sizeof ti}, th = {.struct_size = sizeof th};
        assert_int_equal(bitnet_model_tensor_info(gg, i, &ti), BITNET_OK);
        assert_int_equal(bitnet_model_tensor_info_by_name(hf, ti.name, &th), BITNET_OK);
        assert_int_equal(th.n_dims, ti.n_dims);
        assert_memory_equal(th.ne, ti.ne, sizeof ti.ne);
        if (ti.n_elements > (int64_t)(sizeof a / sizeof *a))
            continue; /* the embedding: checked by the golden logits */
        size_t bytes = (size_t)ti.n_elements * 4;
        assert_int_equal(bitnet_model_tensor_read(hf, ti.name, 0, ti.n_rows, BITNET_TYPE_F32, a, sizeof a, NULL), 0);
        assert_int_equal(bitnet_model_tensor_read(gg, ti.name, 0, ti.n_rows, BITNET_TYPE_F32, b, sizeof b, NULL), 0);
        if (th.type == BITNET_TYPE_I2_S) {
            float sa = 0, sb = 0;
            for (int64_t k = 0; k < ti.n_elements; k++) {
                assert_true((a[k] > 0) == (b[k] > 0) && (a[k] < 0) == (b[k] < 0));
                sa = fmaxf(sa, fabsf(a[k])), sb = fmaxf(sb, fabsf(b[k]));
            }
            assert_true(fabsf(sa - sb) < 4e-3f * sb); /* bf16 weight_scale vs the f32 scale */
        } else {
            assert_int_equal(th.type, BITNET_TYPE_BF16);
            for (int64_t k = 0; k < ti.n_elements; k++)
                assert_true(fabsf(a[k] - b[k]) <= fabsf(b[k]) * 0.004f + 1e-6f);
        }
        (void)bytes;
    }
    /* Offsets point into model.safetensors. */
    bitnet_tensor_info te = {.struct_size = sizeof te};
    assert_int_equal(bitnet_model_tensor_info_by_name(hf, "token_embd.weight", &te), BITNET_OK);
    assert_int_equal(te.type, BITNET_TYPE_BF16);
    assert_int_equal(te.offset, 7896);
    bitnet_model_release(hf);
    bitnet_model_release(gg);
}

/* The fixture with its packed weights rewritten as F32 floats (code /
 * weight_scale, online quantization): quantized at load to the same I2_S
 * bytes, so the logits are identical. */
static void test_fixture_float_weights(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    char dir[1024], path[1200];
    fixture_path(dir, sizeof dir, "kjv-bitnet/hf");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    size_t size;
    uint8_t *src = (uint8_t *)read_all(path, &size);
    assert_non_null(src);
    bn_safetensors st;
    assert_int_equal(bn_safetensors_parse(&st, src, size), BITNET_OK);
    st_writer *w = st_writer_new();
    for (int64_t i = 0; i < st.n_tensors; i++) {
        const bn_st_tensor *t = &st.tensors[i];
        if (strstr(t->name, "_scale"))
            continue;
        if (t->dtype != BN_ST_U8) {
            st_writer_add(w, t->name, t->dtype_name, (int)t->n_dims, t->shape, t->data, t->n_bytes);
            continue;
        }
        char sname[300];
        snprintf(sname, sizeof sname, "%s_scale", t->name);
        const bn_st_tensor *sc = &st.tensors[bn_safetensors_find(&st, sname)];
        uint32_t bits = (uint32_t)(sc->data[0] | sc->data[1] << 8) << 16;
        float ws;
        memcpy(&ws, &bits, 4);
        const float scale = (float)(1.0 / (double)ws);
        const int64_t p = t->shape[0], n = t->shape[1];
        float *v = malloc((size_t)(4 * p * n) * sizeof *v);
        assert_non_null(v);
        for (int64_t r = 0; r < 4 * p; r++)
            for (int64_t k = 0; k < n; k++)
                v[r * n + k] = (float)(((t->data[(r % p) * n + k] >> (2 * (r / p))) & 3) - 1) * scale;
        int64_t shape[2] = {4 * p, n};
        st_writer_add(w, t->name, "F32", 2, shape, v, (size_t)(4 * p * n) * 4);
        free(v);
    }
    size_t out_size;
    uint8_t *out = st_writer_finish(w, &out_size);
    st_writer_free(w);
    bn_safetensors_free(&st);
    char *tmp = make_tmpdir();
    static const char *const copy[] = {"config.json", "tokenizer.json", "tokenizer_config.json"};
    for (int i = 0; i < 3; i++) {
        size_t n;
        snprintf(path, sizeof path, "%s/%s", dir, copy[i]);
        char *data = read_all(path, &n);
        assert_non_null(data);
        assert_int_equal(write_file(tmp, copy[i], data, n), 0);
        free(data);
    }
    assert_int_equal(write_file(tmp, "model.safetensors", out, out_size), 0);
    bitnet_model *a = load(dir, true), *b = load(tmp, true);
    const bitnet_token prompt[] = {4094, 1147, 258, 2080, 387, 3320};
    bitnet_context *ca = new_context(a), *cb = new_context(b);
    assert_int_equal(bitnet_context_decode(ca, prompt, 6), BITNET_OK);
    assert_int_equal(bitnet_context_decode(cb, prompt, 6), BITNET_OK);
    assert_memory_equal(bitnet_context_logits(ca, -1), bitnet_context_logits(cb, -1), 4096 * sizeof(float));
    bitnet_context_free(ca);
    bitnet_context_free(cb);
    bitnet_model_release(a);
    bitnet_model_release(b);
    hf_model_remove_dir(tmp);
    free(tmp);
    free(out);
    free(src);
}

/* A llama Hugging Face directory made from the kjv-llama f32 GGUF (q/k rows
 * put back into Hugging Face's rotate-half order): loading it permutes them
 * again, so tensors and logits equal the GGUF's exactly. */
static void test_llama_permutation(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    char path[1024];
    bitnet_model *gg = load(fixture_path(path, sizeof path, "kjv-llama/kjv-llama-5m-f32.gguf"), true);
    int64_t e, ff, nl, nh, nkv, ctx;
    double eps, theta;
    assert_int_equal(bitnet_model_meta_int(gg, "llama.embedding_length", &e), BITNET_OK);
    assert_int_equal(bitnet_model_meta_int(gg, "llama.feed_forward_length", &ff), BITNET_OK);
    assert_int_equal(bitnet_model_meta_int(gg, "llama.block_count", &nl), BITNET_OK);
    assert_int_equal(bitnet_model_meta_int(gg, "llama.attention.head_count", &nh), BITNET_OK);
    assert_int_equal(bitnet_model_meta_int(gg, "llama.attention.head_count_kv", &nkv), BITNET_OK);
    assert_int_equal(bitnet_model_meta_int(gg, "llama.context_length", &ctx), BITNET_OK);
    assert_int_equal(bitnet_model_meta_float(gg, "llama.attention.layer_norm_rms_epsilon", &eps), BITNET_OK);
    assert_int_equal(bitnet_model_meta_float(gg, "llama.rope.freq_base", &theta), BITNET_OK);
    const int64_t hd = e / nh;
    st_writer *w = st_writer_new();
    static const struct {
        const char *gguf, *hf;
    } names[] = {{"attn_norm", "input_layernorm"}, {"ffn_norm", "post_attention_layernorm"},
                 {"attn_q", "self_attn.q_proj"},   {"attn_k", "self_attn.k_proj"},
                 {"attn_v", "self_attn.v_proj"},   {"attn_output", "self_attn.o_proj"},
                 {"ffn_gate", "mlp.gate_proj"},    {"ffn_up", "mlp.up_proj"},
                 {"ffn_down", "mlp.down_proj"}};
    for (int64_t i = 0; i < bitnet_model_tensor_count(gg); i++) {
        bitnet_tensor_info ti = {.struct_size = sizeof ti};
        assert_int_equal(bitnet_model_tensor_info(gg, i, &ti), BITNET_OK);
        size_t bytes = (size_t)ti.n_elements * 4;
        float *v = malloc(bytes), *hfv = malloc(bytes);
        assert_non_null(v);
        assert_non_null(hfv);
        assert_int_equal(bitnet_model_tensor_read(gg, ti.name, 0, ti.n_rows, BITNET_TYPE_F32, v, bytes, NULL), 0);
        char hf[160];
        int layer = -1;
        char part[32] = "";
        if (!strcmp(ti.name, "token_embd.weight"))
            snprintf(hf, sizeof hf, "model.embed_tokens.weight");
        else if (!strcmp(ti.name, "output.weight"))
            snprintf(hf, sizeof hf, "lm_head.weight");
        else if (!strcmp(ti.name, "output_norm.weight"))
            snprintf(hf, sizeof hf, "model.norm.weight");
        else {
            assert_int_equal(sscanf(ti.name, "blk.%d.%31[a-z_].weight", &layer, part), 2);
            size_t k = 0;
            while (strcmp(names[k].gguf, part))
                k++;
            snprintf(hf, sizeof hf, "model.layers.%d.%s.weight", layer, names[k].hf);
        }
        const int64_t heads = !strcmp(part, "attn_q") ? nh : !strcmp(part, "attn_k") ? nkv : 0;
        for (int64_t r = 0; r < ti.n_rows; r++) {
            int64_t g = r;
            if (heads) { /* HF row (h, j, i) holds GGUF row (h, 2i + j) */
                const int64_t h = r / hd, j = (r % hd) / (hd / 2), ii = (r % hd) % (hd / 2);
                g = h * hd + 2 * ii + j;
            }
            memcpy(hfv + r * ti.ne[0], v + g * ti.ne[0], (size_t)ti.ne[0] * 4);
        }
        int64_t shape[2] = {ti.n_rows, ti.ne[0]};
        if (ti.n_dims == 1)
            st_writer_add(w, hf, "F32", 1, &shape[1], hfv, bytes);
        else
            st_writer_add(w, hf, "F32", 2, shape, hfv, bytes);
        free(v);
        free(hfv);
    }
    size_t st_size;
    uint8_t *st = st_writer_finish(w, &st_size);
    st_writer_free(w);
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_act\": \"silu\", "
             "\"hidden_size\": %lld, \"intermediate_size\": %lld, \"num_hidden_layers\": %lld, "
             "\"num_attention_heads\": %lld, \"num_key_value_heads\": %lld, \"max_position_embeddings\": %lld, "
             "\"rms_norm_eps\": %.9g, \"rope_theta\": %.9g, \"tie_word_embeddings\": false, \"vocab_size\": 4096}",
             (long long)e, (long long)ff, (long long)nl, (long long)nh, (long long)nkv, (long long)ctx, eps, theta);
    char *tmp = make_tmpdir(), tokpath[1100];
    size_t tsize;
    char *tok = read_all(fixture_path(tokpath, sizeof tokpath, "kjv-bitnet/hf/tokenizer.json"), &tsize);
    assert_non_null(tok);
    assert_int_equal(write_file(tmp, "config.json", cfg, strlen(cfg)), 0);
    assert_int_equal(write_file(tmp, "tokenizer.json", tok, tsize), 0);
    assert_int_equal(write_file(tmp, "model.safetensors", st, st_size), 0);
    free(tok);
    free(st);
    bitnet_model *hf = load(tmp, true);
    /* Tensors equal after the permutation... */
    for (int64_t i = 0; i < bitnet_model_tensor_count(gg); i++) {
        bitnet_tensor_info ti = {.struct_size = sizeof ti};
        bitnet_model_tensor_info(gg, i, &ti);
        size_t bytes = (size_t)ti.n_elements * 4;
        float *a = malloc(bytes), *b = malloc(bytes);
        assert_non_null(a);
        assert_non_null(b);
        assert_int_equal(bitnet_model_tensor_read(gg, ti.name, 0, ti.n_rows, BITNET_TYPE_F32, a, bytes, NULL), 0);
        if (bitnet_model_tensor_read(hf, ti.name, 0, ti.n_rows, BITNET_TYPE_F32, b, bytes, NULL))
            fail_msg("%s: %s", ti.name, bitnet_last_error());
        if (memcmp(a, b, bytes))
            fail_msg("tensor %s differs", ti.name);
        free(a);
        free(b);
    }
    /* ...so the logits are the GGUF's, bit for bit. */
    const bitnet_token prompt[] = {1, 296, 354, 473, 289, 604, 44, 436};
    bitnet_context *ca = new_context(gg), *cb = new_context(hf);
    assert_int_equal(bitnet_context_decode(ca, prompt, 8), BITNET_OK);
    assert_int_equal(bitnet_context_decode(cb, prompt, 8), BITNET_OK);
    assert_memory_equal(bitnet_context_logits(ca, -1), bitnet_context_logits(cb, -1), 4096 * sizeof(float));
    bitnet_context_free(ca);
    bitnet_context_free(cb);
    bitnet_model_release(hf);
    bitnet_model_release(gg);
    hf_model_remove_dir(tmp);
    free(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_valid),
        cmocka_unit_test(test_json_invalid),
        cmocka_unit_test(test_safetensors_headers),
        cmocka_unit_test(test_safetensors_truncations),
        cmocka_unit_test(test_tiny_models_build),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_bad_tokenizer),
        cmocka_unit_test(test_tokenizer_merges_list_form),
        cmocka_unit_test(test_tokenizer_config),
        cmocka_unit_test(test_document_truncations),
        cmocka_unit_test(test_bad_tensors),
        cmocka_unit_test(test_i8_codes_equal_packed),
        cmocka_unit_test(test_directory_dispatch),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_fixture_golden),
        cmocka_unit_test(test_fixture_tokenizer_agrees),
        cmocka_unit_test(test_fixture_tensors),
        cmocka_unit_test(test_fixture_float_weights),
        cmocka_unit_test(test_llama_permutation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
