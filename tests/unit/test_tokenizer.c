/* Tokenizer: llama.cpp's test vectors (ggml-vocab-*.gguf .inp/.out) must match
 * exactly, the golden prompts of the fixture models must tokenize to their
 * prompt_tokens, detokenize must invert tokenize, plus the API contract
 * (two-call pattern, invalid UTF-8, ids out of range, special tokens), bad
 * metadata, allocation failures, threads and speed. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "bitnet.h"
#include "core/alloc.h"
#include "loader/gguf_writer.h"
#include "model/model_internal.h"
#include "support/fixtures.h"
#include "support/json.h"

/* ---- helpers ------------------------------------------------------------ */

static bitnet_model *load_fixture(const char *rel)
{
    char path[1024];
    if (!fixture_path(path, sizeof path, rel))
        return NULL;
    bitnet_model *m = NULL;
    bitnet_status s = bitnet_model_load_file(path, NULL, &m);
    if (s != BITNET_OK)
        fail_msg("cannot load %s: %s", path, bitnet_last_error());
    return m;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    buf[size] = '\0';
    fclose(f);
    *len = (size_t)size;
    return buf;
}

/* Tokens of text by the two-call pattern; the caller frees them. */
static bitnet_token *tokenize(const bitnet_model *m, const char *text, size_t len, uint32_t flags, size_t *n)
{
    size_t need = 0;
    bitnet_status s = bitnet_tokenize(m, text, len, flags, NULL, 0, &need);
    if (s != BITNET_OK && s != BITNET_ERR_BUFFER_TOO_SMALL)
        fail_msg("tokenize: %s: %s", bitnet_status_str(s), bitnet_last_error());
    bitnet_token *toks = malloc((need ? need : 1) * sizeof *toks);
    assert_non_null(toks);
    s = bitnet_tokenize(m, text, len, flags, toks, need, n);
    if (s != BITNET_OK)
        fail_msg("tokenize: %s: %s", bitnet_status_str(s), bitnet_last_error());
    assert_int_equal(*n, need);
    return toks;
}

/* Text of tokens by the two-call pattern, NUL-terminated; the caller frees it. */
static char *detokenize(const bitnet_model *m, const bitnet_token *toks, size_t n, uint32_t flags, size_t *len)
{
    size_t need = 0;
    bitnet_status s = bitnet_detokenize(m, toks, n, flags, NULL, 0, &need);
    if (s != BITNET_OK && s != BITNET_ERR_BUFFER_TOO_SMALL)
        fail_msg("detokenize: %s: %s", bitnet_status_str(s), bitnet_last_error());
    char *buf = malloc(need + 1);
    assert_non_null(buf);
    s = bitnet_detokenize(m, toks, n, flags, buf, need, len);
    if (s != BITNET_OK)
        fail_msg("detokenize: %s: %s", bitnet_status_str(s), bitnet_last_error());
    assert_int_equal(*len, need);
    buf[need] = '\0';
    return buf;
}

static bool round_trips(const bitnet_model *m, const char *text, size_t len, uint32_t flags)
{
    size_t n, back_len;
    bitnet_token *toks = tokenize(m, text, len, flags, &n);
    char *back = detokenize(m, toks, n, 0, &back_len);
    bool ok = back_len == len && memcmp(back, text, len) == 0;
    free(toks);
    free(back);
    return ok;
}

static void print_tokens(const char *label, const bitnet_token *t, size_t n)
{
    print_message("  %s:", label);
    for (size_t i = 0; i < n; i++)
        print_message(" %d", t[i]);
    print_message("\n");
}

/* ---- llama.cpp's vectors ----------------------------------------------- */

/* Split like llama.cpp's test-tokenizer-0: inputs by the separator, outputs
 * by line (a final newline ends the last line). */
static size_t split_inputs(char *raw, size_t len, char **items, size_t *lens, size_t max)
{
    static const char sep[] = "\n__ggml_vocab_test__\n";
    size_t n = 0, pos = 0, sl = sizeof sep - 1;
    while (pos < len && n < max) {
        char *next = NULL;
        for (size_t i = pos; i + sl <= len; i++)
            if (memcmp(raw + i, sep, sl) == 0) {
                next = raw + i;
                break;
            }
        items[n] = raw + pos;
        lens[n] = next ? (size_t)(next - (raw + pos)) : len - pos;
        n++;
        if (!next)
            break;
        pos = (size_t)(next - raw) + sl;
    }
    return n;
}

static size_t parse_ids(const char *line, bitnet_token *out, size_t max)
{
    size_t n = 0;
    const char *p = line;
    while (*p && *p != '\n' && n < max) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) {
            p++;
            continue;
        }
        out[n++] = (bitnet_token)v;
        p = end;
    }
    return n;
}

static void run_vectors(const char *vocab)
{
    REQUIRE_FIXTURES();
    char rel[256], path[1024];
    snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf", vocab);
    bitnet_model *m = load_fixture(rel);
    size_t inp_len, out_len;
    snprintf(path, sizeof path, "%s/%s.inp", fixtures_dir(), rel);
    char *inp = read_all(path, &inp_len);
    snprintf(path, sizeof path, "%s/%s.out", fixtures_dir(), rel);
    char *outs = read_all(path, &out_len);

    enum { MAX = 256 };
    char *items[MAX];
    size_t lens[MAX];
    size_t n_items = split_inputs(inp, inp_len, items, lens, MAX);
    const char *lines[MAX];
    size_t n_lines = 0;
    for (char *p = outs; *p && n_lines < MAX;) {
        lines[n_lines++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    assert_int_equal(n_items, n_lines);
    assert_true(n_items > 10);

    size_t exact = 0, trips = 0;
    static bitnet_token want[4096];
    for (size_t i = 0; i < n_items; i++) {
        size_t n_want = parse_ids(lines[i], want, 4096), n_got;
        bitnet_token *got = tokenize(m, items[i], lens[i], 0, &n_got);
        if (n_got == n_want && memcmp(got, want, n_got * sizeof *got) == 0) {
            exact++;
        } else {
            print_message("%s: vector %zu '%.*s' differs\n", vocab, i, (int)lens[i], items[i]);
            print_tokens("want", want, n_want);
            print_tokens("got ", got, n_got);
        }
        if (round_trips(m, items[i], lens[i], 0))
            trips++;
        else
            print_message("%s: vector %zu '%.*s' does not round-trip\n", vocab, i, (int)lens[i], items[i]);
        free(got);
    }
    print_message("%s: %zu/%zu vectors exact, %zu/%zu round trips\n", vocab, exact, n_items, trips, n_items);
    assert_int_equal(exact, n_items);
    assert_int_equal(trips, n_items);
    free(inp);
    free(outs);
    bitnet_model_release(m);
}

static void test_vectors_llama_spm(void **state)
{
    (void)state;
    run_vectors("llama-spm");
}

static void test_vectors_llama_bpe(void **state)
{
    (void)state;
    run_vectors("llama-bpe");
}

static void test_vectors_gpt2(void **state)
{
    (void)state;
    run_vectors("gpt-2");
}

/* ---- golden prompts of the fixture models ------------------------------- */

static void check_golden(const char *model_rel, const char *golden_rel)
{
    bitnet_model *m = load_fixture(model_rel);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", fixtures_dir(), golden_rel);
    json *g = json_parse_file(path);
    assert_non_null(g);
    const json *cases = json_get(g, "cases");
    assert_non_null(cases);
    assert_true(cases->n > 0);
    for (size_t c = 0; c < cases->n; c++) {
        const json *prompt = json_get(&cases->items[c], "prompt");
        const json *ids = json_get(&cases->items[c], "prompt_tokens");
        assert_non_null(prompt);
        assert_non_null(ids);
        size_t n;
        bitnet_token *got = tokenize(m, prompt->string, strlen(prompt->string), BITNET_TOKENIZE_ADD_SPECIAL, &n);
        assert_int_equal(n, ids->n);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(got[i], (bitnet_token)ids->items[i].number);
        assert_int_equal(got[0], bitnet_token_bos(m));
        size_t len;
        char *back = detokenize(m, got, n, 0, &len); /* BOS renders empty */
        assert_string_equal(back, prompt->string);
        free(back);
        free(got);
    }
    print_message("%s: %zu golden prompts\n", model_rel, cases->n);
    json_free(g);
    bitnet_model_release(m);
}

static void test_golden_prompts(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    check_golden("kjv-bitnet/kjv-bitnet-4m-i2_s.gguf", "kjv-bitnet/kjv-bitnet-4m-i2_s.golden.json");
    check_golden("kjv-bitnet/kjv-bitnet-4m-f32.gguf", "kjv-bitnet/kjv-bitnet-4m-f32.golden.json");
    check_golden("kjv-llama/kjv-llama-5m-f32.gguf", "kjv-llama/kjv-llama-5m-f32.golden.json");
    check_golden("kjv-llama/kjv-llama-5m-q4_k_m.gguf", "kjv-llama/kjv-llama-5m-q4_k_m.golden.json");
    check_golden("stories260k/stories260k-f32.gguf", "stories260k/stories260k-f32.golden.json");
}

/* ---- API contract -------------------------------------------------------- */

static void test_vocab_queries(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *m = load_fixture("vocab/ggml-vocab-llama-bpe.gguf");
    assert_int_equal(bitnet_vocab_size(m), 128256);
    assert_int_equal(bitnet_token_bos(m), 128000);
    assert_int_equal(bitnet_token_eos(m), 128001);
    assert_string_equal(bitnet_token_text(m, 9906), "Hello");
    assert_string_equal(bitnet_token_text(m, 128009), "<|eot_id|>");
    assert_null(bitnet_token_text(m, -1));
    assert_null(bitnet_token_text(m, 128256));
    assert_true(bitnet_token_is_eog(m, 128001));
    assert_true(bitnet_token_is_eog(m, 128009)); /* <|eot_id|>, found by its text */
    assert_false(bitnet_token_is_eog(m, 128008)); /* a reserved token in Llama 3.0 (3.1's <|eom_id|>) */
    assert_false(bitnet_token_is_eog(m, 128000));
    assert_false(bitnet_token_is_eog(m, 9906));
    assert_false(bitnet_token_is_eog(m, -1));
    assert_false(bitnet_token_is_eog(m, BITNET_TOKEN_NULL));
    bitnet_model_release(m);

    m = load_fixture("vocab/ggml-vocab-llama-spm.gguf");
    assert_int_equal(bitnet_vocab_size(m), 32000);
    assert_int_equal(bitnet_token_bos(m), 1);
    assert_int_equal(bitnet_token_eos(m), 2);
    assert_true(bitnet_token_is_eog(m, 2));
    bitnet_model_release(m);

    assert_int_equal(bitnet_vocab_size(NULL), 0);
    assert_int_equal(bitnet_token_bos(NULL), BITNET_TOKEN_NULL);
    assert_int_equal(bitnet_token_eos(NULL), BITNET_TOKEN_NULL);
    assert_false(bitnet_token_is_eog(NULL, 0));
    assert_null(bitnet_token_text(NULL, 0));
}

static void test_two_call_pattern(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *m = load_fixture("vocab/ggml-vocab-llama-bpe.gguf");
    const char *text = "Hello world, this is a test.";
    size_t n = 0;
    assert_int_equal(bitnet_tokenize(m, text, strlen(text), 0, NULL, 0, &n), BITNET_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 8); /* Hello| world|,| this| is| a| test|. */
    assert_non_null(strstr(bitnet_last_error(), "8 tokens"));
    bitnet_token toks[8] = {0};
    size_t n2 = 0;
    assert_int_equal(bitnet_tokenize(m, text, strlen(text), 0, toks, 7, &n2), BITNET_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(n2, 8);
    assert_int_equal(toks[0], 0); /* nothing written */
    assert_int_equal(bitnet_tokenize(m, text, strlen(text), 0, toks, 8, &n2), BITNET_OK);
    assert_int_equal(n2, 8);
    assert_int_equal(toks[0], 9906);

    size_t len = 0;
    char buf[64];
    assert_int_equal(bitnet_detokenize(m, toks, n2, 0, NULL, 0, &len), BITNET_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(len, strlen(text));
    assert_int_equal(bitnet_detokenize(m, toks, n2, 0, buf, len - 1, &len), BITNET_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(bitnet_detokenize(m, toks, n2, 0, buf, sizeof buf, &len), BITNET_OK);
    assert_memory_equal(buf, text, len);

    assert_int_equal(bitnet_token_to_piece(m, 22691, 0, NULL, 0, &len), BITNET_ERR_BUFFER_TOO_SMALL); /* " Hello" */
    assert_int_equal(len, 6);
    assert_int_equal(bitnet_token_to_piece(m, 22691, 0, buf, 6, &len), BITNET_OK);
    assert_memory_equal(buf, " Hello", 6);
    /* An empty piece needs no buffer. */
    assert_int_equal(bitnet_token_to_piece(m, 128000, 0, NULL, 0, &len), BITNET_OK);
    assert_int_equal(len, 0);
    assert_int_equal(bitnet_token_to_piece(m, 128000, BITNET_DETOKENIZE_SPECIAL, buf, sizeof buf, &len), BITNET_OK);
    assert_memory_equal(buf, "<|begin_of_text|>", len);
    bitnet_model_release(m);
}

static void expect_invalid_utf8(const bitnet_model *m, const char *text, size_t len, size_t offset)
{
    size_t n = 99;
    bitnet_token toks[16];
    assert_int_equal(bitnet_tokenize(m, text, len, 0, toks, 16, &n), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(n, 0);
    char want[64];
    snprintf(want, sizeof want, "byte offset %zu ", offset);
    if (!strstr(bitnet_last_error(), want))
        fail_msg("'%s' does not name '%s'", bitnet_last_error(), want);
    assert_non_null(strstr(bitnet_model_last_error(m), want));
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *m = load_fixture("vocab/ggml-vocab-llama-bpe.gguf");
    expect_invalid_utf8(m, "ab\xFF" "cd", 5, 2);             /* never valid */
    expect_invalid_utf8(m, "\x80", 1, 0);                    /* stray continuation */
    expect_invalid_utf8(m, "abc\xE2\x82", 5, 3);             /* truncated */
    expect_invalid_utf8(m, "x\xC0\xAF", 3, 1);               /* overlong '/' */
    expect_invalid_utf8(m, "x\xE0\x80\xAF", 4, 1);           /* overlong, 3 bytes */
    expect_invalid_utf8(m, "ok \xED\xA0\x80", 6, 3);         /* surrogate D800 */
    expect_invalid_utf8(m, "\xF4\x90\x80\x80", 4, 0);        /* above U+10FFFF */
    expect_invalid_utf8(m, "\xC3\xA9\xC3(", 4, 2);           /* bad continuation */
    /* The NUL byte and the largest code point are valid. */
    assert_true(round_trips(m, "a\0b\xF4\x8F\xBF\xBF", 7, 0));
    bitnet_model_release(m);
}

static void test_bad_arguments_and_ranges(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *m = load_fixture("vocab/ggml-vocab-gpt-2.gguf");
    bitnet_token toks[4] = {1, 2, 3, 4};
    size_t n;
    char buf[16];
    assert_int_equal(bitnet_tokenize(NULL, "a", 1, 0, toks, 4, &n), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_tokenize(m, NULL, 1, 0, toks, 4, &n), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_tokenize(m, "a", 1, 0, NULL, 4, &n), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_tokenize(m, "a", 1, 0, toks, 4, NULL), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_tokenize(m, "a", 1, 0x80, toks, 4, &n), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_detokenize(m, toks, 1, 0x2, buf, 16, &n), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_detokenize(m, NULL, 1, 0, buf, 16, &n), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_token_to_piece(m, 0, 0, NULL, 4, &n), BITNET_ERR_INVALID_ARGUMENT);

    bitnet_token bad[3] = {10, 50257, 11};
    assert_int_equal(bitnet_detokenize(m, bad, 3, 0, buf, 16, &n), BITNET_ERR_OUT_OF_RANGE);
    assert_non_null(strstr(bitnet_last_error(), "token 50257 (at index 1)"));
    bad[1] = -1;
    assert_int_equal(bitnet_detokenize(m, bad, 3, 0, buf, 16, &n), BITNET_ERR_OUT_OF_RANGE);
    assert_int_equal(bitnet_token_to_piece(m, 50257, 0, buf, 16, &n), BITNET_ERR_OUT_OF_RANGE);
    assert_int_equal(bitnet_token_to_piece(m, -5, 0, buf, 16, &n), BITNET_ERR_OUT_OF_RANGE);

    /* Empty text: no tokens, or just BOS/EOS as the model asks (gpt-2: none). */
    assert_int_equal(bitnet_tokenize(m, "", 0, 0, toks, 4, &n), BITNET_OK);
    assert_int_equal(n, 0);
    assert_int_equal(bitnet_tokenize(m, NULL, 0, BITNET_TOKENIZE_ADD_SPECIAL, NULL, 0, &n), BITNET_OK);
    assert_int_equal(n, 0);
    assert_int_equal(bitnet_detokenize(m, NULL, 0, 0, NULL, 0, &n), BITNET_OK);
    assert_int_equal(n, 0);
    bitnet_model_release(m);

    m = load_fixture("vocab/ggml-vocab-llama-bpe.gguf");
    assert_int_equal(bitnet_tokenize(m, "", 0, BITNET_TOKENIZE_ADD_SPECIAL, toks, 4, &n), BITNET_OK);
    assert_int_equal(n, 1);
    assert_int_equal(toks[0], 128000);
    bitnet_model_release(m);
    m = load_fixture("vocab/ggml-vocab-llama-spm.gguf");
    assert_int_equal(bitnet_tokenize(m, "", 0, BITNET_TOKENIZE_ADD_SPECIAL, toks, 4, &n), BITNET_OK);
    assert_int_equal(n, 1);
    assert_int_equal(toks[0], 1);
    assert_int_equal(bitnet_tokenize(m, "", 0, 0, toks, 4, &n), BITNET_OK);
    assert_int_equal(n, 0);
    bitnet_model_release(m);
}

static void expect_tokens(const bitnet_model *m, const char *text, uint32_t flags, const bitnet_token *want,
                          size_t n_want)
{
    size_t n;
    bitnet_token *got = tokenize(m, text, strlen(text), flags, &n);
    if (n != n_want || memcmp(got, want, n * sizeof *got) != 0) {
        print_tokens("want", want, n_want);
        print_tokens("got ", got, n);
        fail_msg("'%s' (flags %u) tokenized differently", text, (unsigned)flags);
    }
    free(got);
}

static void test_special_tokens(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *m = load_fixture("vocab/ggml-vocab-llama-bpe.gguf");
    const char *chat = "<|begin_of_text|>Hello<|eot_id|>";
    const bitnet_token parsed[] = {128000, 9906, 128009};
    expect_tokens(m, chat, BITNET_TOKENIZE_PARSE_SPECIAL, parsed, 3);
    const bitnet_token with_bos[] = {128000, 128000, 9906, 128009};
    expect_tokens(m, chat, BITNET_TOKENIZE_PARSE_SPECIAL | BITNET_TOKENIZE_ADD_SPECIAL, with_bos, 4);
    /* Adjacent and repeated special tokens, text around them ("world", not " world"). */
    const bitnet_token mixed[] = {9906, 128009, 128009, 14957, 128001};
    expect_tokens(m, "Hello<|eot_id|><|eot_id|>world<|end_of_text|>", BITNET_TOKENIZE_PARSE_SPECIAL, mixed, 5);

    /* Without PARSE_SPECIAL the markers are plain text. */
    size_t n;
    bitnet_token *plain = tokenize(m, chat, strlen(chat), 0, &n);
    assert_true(n > 3);
    for (size_t i = 0; i < n; i++)
        assert_true(plain[i] < 128000);
    free(plain);
    assert_true(round_trips(m, chat, strlen(chat), 0));

    /* Control tokens render only on request. */
    size_t len;
    char *text = detokenize(m, parsed, 3, 0, &len);
    assert_string_equal(text, "Hello");
    free(text);
    text = detokenize(m, parsed, 3, BITNET_DETOKENIZE_SPECIAL, &len);
    assert_string_equal(text, chat);
    free(text);
    bitnet_model_release(m);

    /* SentencePiece: text after a special token gets the dummy prefix again. */
    m = load_fixture("vocab/ggml-vocab-llama-spm.gguf");
    const bitnet_token spm[] = {1, 15043, 2, 3186};
    expect_tokens(m, "<s>Hello</s>world", BITNET_TOKENIZE_PARSE_SPECIAL, spm, 4);
    text = detokenize(m, spm, 4, BITNET_DETOKENIZE_SPECIAL, &len);
    assert_string_equal(text, "<s> Hello</s> world");
    free(text);
    bitnet_model_release(m);
}

static void test_byte_pieces(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *m = load_fixture("vocab/ggml-vocab-llama-spm.gguf");
    /* "<0x0A>" is token 13: the newline byte. */
    char buf[8];
    size_t len;
    assert_string_equal(bitnet_token_text(m, 13), "<0x0A>");
    assert_int_equal(bitnet_token_to_piece(m, 13, 0, buf, sizeof buf, &len), BITNET_OK);
    assert_int_equal(len, 1);
    assert_int_equal(buf[0], '\n');
    /* An emoji with no token of its own falls back to its 4 bytes. */
    const char *emoji = "\xF0\x9F\xA6\x99"; /* U+1F999 */
    const bitnet_token want[] = {29871, 243, 162, 169, 156};
    expect_tokens(m, emoji, 0, want, 5);
    assert_true(round_trips(m, emoji, 4, 0));
    /* <unk> renders only on request. */
    assert_int_equal(bitnet_token_to_piece(m, 0, 0, buf, sizeof buf, &len), BITNET_OK);
    assert_int_equal(len, 0);
    assert_int_equal(bitnet_token_to_piece(m, 0, BITNET_DETOKENIZE_SPECIAL, buf, sizeof buf, &len), BITNET_OK);
    assert_memory_equal(buf, "<unk>", 5);
    bitnet_model_release(m);
}

/* ---- random round trips ------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static size_t put_cp(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A code point from a mix of scripts, whitespace, digits and emoji. */
static uint32_t random_cp(void)
{
    static const char ascii[] = " \n\t\r'sStTlLdDmMvVrReE.,!?;:-_()[]{}<>|/\\\"0123456789aAzZ";
    switch (rnd(9)) {
    case 0: return (uint32_t)ascii[rnd(sizeof ascii - 1)];
    case 1: return 0x20 + rnd(0x5F);            /* printable ASCII */
    case 2: return 0xA0 + rnd(0x160);           /* Latin-1, Latin Extended */
    case 3: return 0x400 + rnd(0x100);          /* Cyrillic */
    case 4: return 0x4E00 + rnd(0x5200);        /* CJK */
    case 5: return 0x1F300 + rnd(0x300);        /* emoji (4 bytes) */
    case 6: return 0x2000 + rnd(0x70);          /* punctuation, odd spaces */
    case 7: return rnd(0x20);                   /* control characters */
    default: {
        uint32_t cp = rnd(0x110000);             /* anything valid */
        return cp >= 0xD800 && cp <= 0xDFFF ? cp - 0x800 : cp;
    }
    }
}

static void random_round_trips(const char *rel, bool spm)
{
    bitnet_model *m = load_fixture(rel);
    char text[256];
    int ok = 0, total = 200;
    for (int i = 0; i < total; i++) {
        size_t len = 0, n_cp = 1 + rnd(40);
        for (size_t k = 0; k < n_cp; k++) {
            uint32_t cp = random_cp();
            if (spm && cp == 0x2581)
                cp = 0x2582; /* SentencePiece's own space symbol reads back as a space */
            len += put_cp(text + len, cp);
        }
        uint32_t flags = i % 2 ? BITNET_TOKENIZE_ADD_SPECIAL : 0;
        if (round_trips(m, text, len, flags))
            ok++;
        else
            print_message("%s: no round trip for '%.*s'\n", rel, (int)len, text);
    }
    print_message("%s: %d/%d random round trips\n", rel, ok, total);
    assert_int_equal(ok, total);
    bitnet_model_release(m);
}

static void test_random_round_trips(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    random_round_trips("vocab/ggml-vocab-llama-spm.gguf", true);
    random_round_trips("vocab/ggml-vocab-llama-bpe.gguf", false);
    random_round_trips("vocab/ggml-vocab-gpt-2.gguf", false);
    random_round_trips("kjv-bitnet/kjv-bitnet-4m-i2_s.gguf", false);
    random_round_trips("kjv-llama/kjv-llama-5m-f32.gguf", true);
}

/* ---- speed ----------------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_speed_10kb(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *m = load_fixture("vocab/ggml-vocab-llama-bpe.gguf");
    double t0 = now_ms();
    assert_int_equal(bitnet_vocab_size(m), 128256); /* builds the tokenizer */
    double t_build = now_ms() - t0;
    char path[1024];
    size_t len;
    snprintf(path, sizeof path, "%s/text/kjv-eval.txt", fixtures_dir());
    char *kjv = read_all(path, &len);
    static char text[10240 + 64];
    size_t n_text = 0;
    static const char extra[] = " \xD0\xBD\xD0\xB5\xD1\x89\xD0\xBE \xE6\x88\x91\xE6\x83\xB3 \xF0\x9F\x9A\x80 12345\n";
    while (n_text < 10240) {
        size_t take = len < 10240 - n_text ? len : 10240 - n_text;
        memcpy(text + n_text, kjv, take);
        n_text += take;
        memcpy(text + n_text, extra, sizeof extra - 1);
        n_text += sizeof extra - 1;
    }
    /* Cut at a character boundary. */
    while (n_text > 10240 && ((unsigned char)text[n_text - 1] & 0xC0) == 0x80)
        n_text--;
    while ((unsigned char)text[n_text - 1] >= 0x80)
        n_text--;
    t0 = now_ms();
    size_t n;
    bitnet_token *toks = tokenize(m, text, n_text, 0, &n); /* two calls */
    double t_tok = (now_ms() - t0) / 2;
    print_message("llama-bpe: tokenizer built in %.1f ms; %zu bytes -> %zu tokens in %.2f ms\n", t_build, n_text, n,
                  t_tok);
    assert_true(n > 1000);
    assert_true(t_tok < 1000.0); /* milliseconds in a release build; generous for sanitizers */
    assert_true(round_trips(m, text, n_text, 0));
    free(toks);
    free(kjv);
    bitnet_model_release(m);
}

/* Long runs of one character class take linear time: a megabyte of digits
 * with the llama3 pre-tokenizer (\p{N}{1,3}) once took a minute, because
 * each 3-digit pre-token scanned the rest of the run. Other runs (128 KiB
 * each: seconds under sanitizers) on every vocabulary, for the record. */
static void test_long_runs_linear(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    static const char *const vocabs[] = {"vocab/ggml-vocab-llama-bpe.gguf", "vocab/ggml-vocab-gpt-2.gguf",
                                         "vocab/ggml-vocab-llama-spm.gguf"};
    static const char *const units[] = {"7", " ", "\n", "a", "!", "\xC2\xA0", "1 "};
    char *text = malloc(1u << 20);
    assert_non_null(text);
    for (size_t v = 0; v < sizeof vocabs / sizeof vocabs[0]; v++) {
        bitnet_model *m = load_fixture(vocabs[v]);
        for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
            const size_t n_text = u == 0 ? 1u << 20 : 1u << 17;
            const size_t k = strlen(units[u]), len = n_text / k * k;
            for (size_t i = 0; i < len; i++)
                text[i] = units[u][i % k];
            double t0 = now_ms();
            size_t n = 0;
            bitnet_status st = bitnet_tokenize(m, text, len, 0, NULL, 0, &n);
            double ms = now_ms() - t0;
            assert_int_equal(st, BITNET_ERR_BUFFER_TOO_SMALL);
            if (v == 0 && u == 0)
                assert_int_equal(n, (len + 2) / 3); /* "777" is one llama3 token */
            if (ms > 2000.0)
                print_message("%s: %zu bytes of unit %zu took %.0f ms\n", vocabs[v], len, u, ms);
            assert_true(ms < 20000.0); /* ~100 ms in a release build; generous for sanitizers */
        }
        bitnet_model_release(m);
    }
    free(text);
}

/* ---- laziness, threads, allocation failures ---------------------------- */

static void test_lazy_build(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *m = load_fixture("kjv-bitnet/kjv-bitnet-4m-i2_s.gguf");
    const bitnet_value *v;
    assert_true(bitnet_model_meta_count(m) > 0);
    assert_int_equal(bitnet_model_meta_get(m, "tokenizer.ggml.tokens", &v), BITNET_OK);
    assert_false(m->tokenizer_tried); /* inspecting does not build it */
    assert_int_equal(bitnet_token_bos(m), 4094);
    assert_true(m->tokenizer_tried);
    assert_non_null(m->tokenizer);
    bitnet_model_release(m);
}

typedef struct thread_job {
    const bitnet_model *m;
    int mismatches;
} thread_job;

static void *tokenize_thread(void *arg)
{
    thread_job *job = arg;
    static const char *prompt = "In the beginning God created";
    static const bitnet_token want[] = {4094, 1147, 258, 2080, 387, 3320};
    for (int i = 0; i < 50; i++) {
        bitnet_token got[16];
        size_t n = 0;
        bitnet_status s =
            bitnet_tokenize(job->m, prompt, strlen(prompt), BITNET_TOKENIZE_ADD_SPECIAL, got, 16, &n);
        if (s != BITNET_OK || n != 6 || memcmp(got, want, sizeof want) != 0)
            job->mismatches++;
    }
    return NULL;
}

static void test_threads_share_one_tokenizer(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *m = load_fixture("kjv-bitnet/kjv-bitnet-4m-i2_s.gguf");
    enum { N = 8 };
    pthread_t th[N];
    thread_job jobs[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (thread_job){m, 0};
        assert_int_equal(pthread_create(&th[i], NULL, tokenize_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(jobs[i].mismatches, 0);
    }
    bitnet_model_release(m);
}

/* Tokenize (building the tokenizer on the first call) and detokenize. */
static bitnet_status alloc_attempt(bitnet_model *m, const char *text)
{
    bitnet_token toks[64];
    char buf[256];
    size_t n, len;
    bitnet_status s = bitnet_tokenize(m, text, strlen(text),
                                      BITNET_TOKENIZE_ADD_SPECIAL | BITNET_TOKENIZE_PARSE_SPECIAL, toks, 64, &n);
    if (!s)
        s = bitnet_detokenize(m, toks, n, BITNET_DETOKENIZE_SPECIAL, buf, sizeof buf, &len);
    return s;
}

static void alloc_sweep(const char *rel, const char *text)
{
    long k;
    for (k = 0; k < 1000; k++) {
        bitnet_model *m = load_fixture(rel);
        unsigned long before = bn_alloc_failures();
        bn_alloc_fail_after(k);
        bitnet_status s = alloc_attempt(m, text);
        bn_alloc_fail_after(-1);
        bool injected = bn_alloc_failures() != before;
        if (s != BITNET_OK && s != BITNET_ERR_OUT_OF_MEMORY)
            fail_msg("%s: failing allocation %ld gave %s: %s", rel, k, bitnet_status_str(s), bitnet_last_error());
        if (s == BITNET_ERR_OUT_OF_MEMORY && !injected)
            fail_msg("%s: OUT_OF_MEMORY without an injected failure", rel);
        /* Running out of memory is not remembered: the next call works. */
        assert_int_equal(alloc_attempt(m, text), BITNET_OK);
        bitnet_model_release(m);
        if (!injected)
            break;
    }
    print_message("%s: %ld allocation points checked\n", rel, k);
    assert_true(k > 5);
}

static void test_allocation_failures(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    alloc_sweep("kjv-bitnet/kjv-bitnet-4m-i2_s.gguf", "<|begin_of_text|>And it came to pass, \xF0\x9F\x9A\x80 1234");
    alloc_sweep("kjv-llama/kjv-llama-5m-f32.gguf", "<s>And it came to pass, \xF0\x9F\x9A\x80 1234");
}

/* ---- synthetic vocabularies (bad metadata, user-defined tokens) --------- */

typedef struct synth {
    bn_gguf_writer *w;
    void *mem;
    bitnet_model *m;
} synth;

static void synth_begin(synth *s, const char *arch)
{
    memset(s, 0, sizeof *s);
    assert_int_equal(bn_gguf_writer_new(3, &s->w), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_string(s->w, "general.architecture", arch), BITNET_OK);
}

static bitnet_model *synth_load(synth *s)
{
    size_t size;
    assert_int_equal(bn_gguf_writer_to_memory(s->w, &s->mem, &size, NULL), BITNET_OK);
    assert_int_equal(bitnet_model_load_memory(s->mem, size, NULL, &s->m), BITNET_OK);
    return s->m;
}

static void synth_end(synth *s)
{
    bitnet_model_release(s->m);
    free(s->mem);
    bn_gguf_writer_free(s->w);
}

/* A byte-level vocabulary: the 256 byte symbols, "He", "ll", "llo", "34",
 * then <|begin_of_text|> and <|end_of_text|> (ids 260, 261). */
static void add_byte_level_vocab(bn_gguf_writer *w, bool with_merges)
{
    static char sym[256][3];
    const char *tokens[262];
    int32_t types[262];
    for (int b = 0; b < 256; b++) {
        unsigned cp = b <= 0x20 ? 0x100u + (unsigned)b
                      : b >= 0x7F && b <= 0xA0 ? 0x100u + 33u + (unsigned)(b - 0x7F)
                      : b == 0xAD ? 0x100u + 67u : (unsigned)b;
        if (cp < 0x80) {
            sym[b][0] = (char)cp, sym[b][1] = 0;
        } else {
            sym[b][0] = (char)(0xC0 | cp >> 6), sym[b][1] = (char)(0x80 | (cp & 0x3F)), sym[b][2] = 0;
        }
        tokens[b] = sym[b];
        types[b] = 1;
    }
    tokens[256] = "He", tokens[257] = "ll", tokens[258] = "llo", tokens[259] = "34";
    tokens[260] = "<|begin_of_text|>", tokens[261] = "<|end_of_text|>";
    types[256] = types[257] = types[258] = types[259] = 1;
    types[260] = types[261] = 3;
    assert_int_equal(bn_gguf_writer_add_string(w, "tokenizer.ggml.model", "gpt2"), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_string_array(w, "tokenizer.ggml.tokens", tokens, 262), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_array(w, "tokenizer.ggml.token_type", BITNET_VALUE_INT32, types, 262),
                     BITNET_OK);
    if (with_merges) {
        const char *merges[] = {"H e", "l l", "ll o", "3 4"};
        assert_int_equal(bn_gguf_writer_add_string_array(w, "tokenizer.ggml.merges", merges, 4), BITNET_OK);
    }
    assert_int_equal(bn_gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 260), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", 261), BITNET_OK);
}

static char log_seen[1024];
static bitnet_log_level log_level_seen;

static void capture_log(bitnet_log_level level, const char *message, void *user)
{
    (void)user;
    if (strstr(message, "pre-tokenizer")) {
        snprintf(log_seen, sizeof log_seen, "%s", message);
        log_level_seen = level;
    }
}

static void test_missing_pre(void **state)
{
    (void)state;
    synth s;
    synth_begin(&s, "bitnet-b1.58");
    add_byte_level_vocab(s.w, true);
    bitnet_model *m = synth_load(&s);
    log_seen[0] = 0;
    bitnet_set_log_callback(capture_log, NULL, BITNET_LOG_DEBUG);
    /* bitnet-b1.58: llama-bpe, so BOS by default and digits in threes
     * ("123" "45": the merge "3 4" cannot apply). */
    const bitnet_token llama3[] = {260, 256, 258, 32, 49, 50, 51, 52, 53};
    expect_tokens(m, "Hello 12345", BITNET_TOKENIZE_ADD_SPECIAL, llama3, 9);
    assert_non_null(strstr(log_seen, "llama-bpe"));
    assert_int_equal(log_level_seen, BITNET_LOG_INFO);
    synth_end(&s);

    /* Another architecture: the gpt2 splitter (" 12345" is one word), no BOS. */
    synth_begin(&s, "gpt2");
    add_byte_level_vocab(s.w, true);
    m = synth_load(&s);
    log_seen[0] = 0;
    const bitnet_token gpt2[] = {256, 258, 32, 49, 50, 259, 53};
    expect_tokens(m, "Hello 12345", BITNET_TOKENIZE_ADD_SPECIAL, gpt2, 7);
    assert_non_null(strstr(log_seen, "gpt2"));
    assert_int_equal(log_level_seen, BITNET_LOG_WARN);
    bitnet_set_log_callback(NULL, NULL, BITNET_LOG_ERROR);
    synth_end(&s);
}

static void expect_build_failure(synth *s, bitnet_status want, const char *needle)
{
    bitnet_model *m = synth_load(s);
    size_t n;
    for (int i = 0; i < 2; i++) { /* the failure is kept and reported again */
        assert_int_equal(bitnet_tokenize(m, "a", 1, 0, NULL, 0, &n), want);
        if (!strstr(bitnet_last_error(), needle))
            fail_msg("'%s' does not mention '%s'", bitnet_last_error(), needle);
        assert_non_null(strstr(bitnet_model_last_error(m), needle));
    }
    assert_int_equal(bitnet_vocab_size(m), 0);
    assert_int_equal(bitnet_token_bos(m), BITNET_TOKEN_NULL);
    synth_end(s);
}

static void test_bad_metadata(void **state)
{
    (void)state;
    synth s;
    synth_begin(&s, "llama");
    expect_build_failure(&s, BITNET_ERR_UNSUPPORTED, "model has no tokenizer");

    synth_begin(&s, "llama");
    assert_int_equal(bn_gguf_writer_add_string(s.w, "tokenizer.ggml.model", "bert"), BITNET_OK);
    expect_build_failure(&s, BITNET_ERR_UNSUPPORTED, "'bert'");

    synth_begin(&s, "llama");
    add_byte_level_vocab(s.w, true);
    assert_int_equal(bn_gguf_writer_add_string(s.w, "tokenizer.ggml.pre", "qwen2"), BITNET_OK);
    expect_build_failure(&s, BITNET_ERR_UNSUPPORTED, "'qwen2'");

    synth_begin(&s, "llama");
    add_byte_level_vocab(s.w, false);
    expect_build_failure(&s, BITNET_ERR_BAD_FORMAT, "tokenizer.ggml.merges");

    synth_begin(&s, "llama");
    assert_int_equal(bn_gguf_writer_add_string(s.w, "tokenizer.ggml.model", "llama"), BITNET_OK);
    int32_t ints[3] = {1, 2, 3};
    assert_int_equal(bn_gguf_writer_add_array(s.w, "tokenizer.ggml.tokens", BITNET_VALUE_INT32, ints, 3), BITNET_OK);
    expect_build_failure(&s, BITNET_ERR_BAD_FORMAT, "tokenizer.ggml.tokens");

    const char *toks[] = {"<unk>", "<s>", "</s>", "a"};
    float scores[3] = {0, 0, 0};
    synth_begin(&s, "llama");
    assert_int_equal(bn_gguf_writer_add_string(s.w, "tokenizer.ggml.model", "llama"), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_string_array(s.w, "tokenizer.ggml.tokens", toks, 4), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_array(s.w, "tokenizer.ggml.scores", BITNET_VALUE_FLOAT32, scores, 3),
                     BITNET_OK);
    expect_build_failure(&s, BITNET_ERR_BAD_FORMAT, "tokenizer.ggml.scores");

    synth_begin(&s, "llama");
    assert_int_equal(bn_gguf_writer_add_string(s.w, "tokenizer.ggml.model", "llama"), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_string_array(s.w, "tokenizer.ggml.tokens", toks, 4), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_string(s.w, "tokenizer.ggml.bos_token_id", "1"), BITNET_OK);
    expect_build_failure(&s, BITNET_ERR_BAD_FORMAT, "tokenizer.ggml.bos_token_id");

    const char *dup[] = {"<unk>", "<s>", "</s>", "a", "a"};
    synth_begin(&s, "llama");
    assert_int_equal(bn_gguf_writer_add_string(s.w, "tokenizer.ggml.model", "llama"), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_string_array(s.w, "tokenizer.ggml.tokens", dup, 5), BITNET_OK);
    expect_build_failure(&s, BITNET_ERR_BAD_FORMAT, "duplicate token 'a'");

    /* gpt2 asks for BOS by default with llama-bpe, but this one has none. */
    synth_begin(&s, "llama");
    const char *bpe_toks[] = {"a", "b"};
    const char *merges[] = {"a b"};
    assert_int_equal(bn_gguf_writer_add_string(s.w, "tokenizer.ggml.model", "gpt2"), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_string(s.w, "tokenizer.ggml.pre", "llama-bpe"), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_string_array(s.w, "tokenizer.ggml.tokens", bpe_toks, 2), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_string_array(s.w, "tokenizer.ggml.merges", merges, 1), BITNET_OK);
    expect_build_failure(&s, BITNET_ERR_BAD_FORMAT, "tokenizer.ggml.add_bos_token");
}

/* SentencePiece vocabulary without byte tokens, with a user-defined and a
 * control token: 0 <unk>, 1 <s>, 2 </s>, 3 ▁, 4 a, 5 b, 6 ▁a, 7 <tool>, 8 <ctl>. */
static bitnet_model *small_spm(synth *s, int add_space_prefix)
{
    synth_begin(s, "llama");
    const char *toks[] = {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b", "\xE2\x96\x81\x61" /* ▁a */, "<tool>", "<ctl>"};
    float scores[] = {0, 0, 0, -1, -2, -3, -0.5f, 0, 0};
    int32_t types[] = {2, 3, 3, 1, 1, 1, 1, 4, 3};
    assert_int_equal(bn_gguf_writer_add_string(s->w, "tokenizer.ggml.model", "llama"), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_string_array(s->w, "tokenizer.ggml.tokens", toks, 9), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_array(s->w, "tokenizer.ggml.scores", BITNET_VALUE_FLOAT32, scores, 9),
                     BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_array(s->w, "tokenizer.ggml.token_type", BITNET_VALUE_INT32, types, 9),
                     BITNET_OK);
    if (add_space_prefix >= 0)
        assert_int_equal(bn_gguf_writer_add_bool(s->w, "tokenizer.ggml.add_space_prefix", add_space_prefix != 0),
                         BITNET_OK);
    return synth_load(s);
}

static void test_user_defined_and_unknown(void **state)
{
    (void)state;
    synth s;
    bitnet_model *m = small_spm(&s, -1);
    /* User-defined tokens are split out even without PARSE_SPECIAL (as
     * llama.cpp and Hugging Face do); control tokens only with it. Unknown
     * characters, with no byte tokens to fall back to, become <unk>. */
    const bitnet_token plain[] = {6, 7, 3, 5, 0, 0, 0, 0, 0};
    expect_tokens(m, "a<tool>b<ctl>", 0, plain, 9);
    const bitnet_token parsed[] = {6, 7, 3, 5, 8};
    expect_tokens(m, "a<tool>b<ctl>", BITNET_TOKENIZE_PARSE_SPECIAL, parsed, 5);
    const bitnet_token bos[] = {1, 6};
    expect_tokens(m, "a", BITNET_TOKENIZE_ADD_SPECIAL, bos, 2);
    size_t len;
    char *text = detokenize(m, parsed, 5, 0, &len);
    assert_string_equal(text, "a<tool> b");
    free(text);
    text = detokenize(m, plain, 9, BITNET_DETOKENIZE_SPECIAL, &len);
    assert_string_equal(text, "a<tool> b<unk><unk><unk><unk><unk>");
    free(text);
    synth_end(&s);
}

static void test_spm_without_space_prefix(void **state)
{
    (void)state;
    synth s;
    bitnet_model *m = small_spm(&s, 0);
    const bitnet_token want[] = {4, 3, 5};
    expect_tokens(m, "a b", 0, want, 3); /* no dummy "▁" in front */
    size_t len;
    char *text = detokenize(m, want, 3, 0, &len);
    assert_string_equal(text, "a b"); /* and no space to strip */
    free(text);
    synth_end(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_llama_spm),
        cmocka_unit_test(test_vectors_llama_bpe),
        cmocka_unit_test(test_vectors_gpt2),
        cmocka_unit_test(test_golden_prompts),
        cmocka_unit_test(test_vocab_queries),
        cmocka_unit_test(test_two_call_pattern),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_bad_arguments_and_ranges),
        cmocka_unit_test(test_special_tokens),
        cmocka_unit_test(test_byte_pieces),
        cmocka_unit_test(test_random_round_trips),
        cmocka_unit_test(test_speed_10kb),
        cmocka_unit_test(test_long_runs_linear),
        cmocka_unit_test(test_lazy_build),
        cmocka_unit_test(test_threads_share_one_tokenizer),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_missing_pre),
        cmocka_unit_test(test_bad_metadata),
        cmocka_unit_test(test_user_defined_and_unknown),
        cmocka_unit_test(test_spm_without_space_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
