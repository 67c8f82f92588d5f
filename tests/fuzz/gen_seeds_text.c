/* Seeds of fuzz_tokenizer (a selector byte, then text) and fuzz_config
 * (YAML documents). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/gen_seeds.h"

int gen_write_file(const char *dir, const char *name, const void *data, size_t size)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n <= 0 || (size_t)n >= sizeof path)
        return 1;
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "gen_seeds: cannot create %s\n", path);
        return 1;
    }
    int bad = size && fwrite(data, 1, size, f) != size;
    bad |= fclose(f) != 0;
    if (bad)
        fprintf(stderr, "gen_seeds: cannot write %s\n", path);
    return bad;
}

/* ---- tokenizer ------------------------------------------------------------ */

/* One seed: the selector byte, then the text. */
static int text_seed(const char *dir, int index, uint8_t selector, const char *text, size_t len)
{
    uint8_t *buf = malloc(len + 1);
    if (!buf)
        return 1;
    buf[0] = selector;
    memcpy(buf + 1, text, len);
    char name[64];
    snprintf(name, sizeof name, "text-%04d-%02x", index, selector);
    int rc = gen_write_file(dir, name, buf, len + 1);
    free(buf);
    return rc;
}

/* Selector bits (fuzz_tokenizer.c): 0-1 vocabulary, 2 ADD_SPECIAL,
 * 3 PARSE_SPECIAL, 4 DETOKENIZE_SPECIAL. */
static const uint8_t selectors[] = {0x00, 0x01, 0x02, 0x1c, 0x1d, 0x1e};

static int seeds_of_text(const char *dir, int *index, const char *text, size_t len)
{
    int failures = 0;
    /* Plain text on every vocabulary; the special-token flags every few. */
    for (size_t s = 0; s < sizeof selectors; s++)
        if (s < 3 || *index % 4 == 0)
            failures += text_seed(dir, (*index)++, selectors[s], text, len);
    return failures;
}

/* llama.cpp's tokenizer test inputs (vocab/ggml-vocab-NAME.gguf.inp), split
 * at their separator line. */
static int seeds_of_inp(const char *dir, const char *path, int *index)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (!buf)
        return 1;
    buf[n] = '\0';
    static const char sep[] = "\n__ggml_vocab_test__\n";
    int failures = 0;
    char *p = buf, *end = buf + n;
    while (p < end) {
        char *q = strstr(p, sep);
        size_t len = q ? (size_t)(q - p) : (size_t)(end - p);
        failures += seeds_of_text(dir, index, p, len);
        if (!q)
            break;
        p = q + sizeof sep - 1;
    }
    free(buf);
    return failures;
}

int gen_seeds_tokenizer(const char *dir, const char *fixtures)
{
    static const char *const texts[] = {
        "",
        " ",
        "Hello world",
        " Hello World!",
        "In the beginning God created the heaven and the earth.",
        "<s>Hello</s> <unk> <|endoftext|> <|begin_of_text|><|eot_id|>",
        "I've been 'told' he's here, we'll see; they're OK. I'd ...",
        "   \t\n\r\n  multiple   spaces\n\n\n",
        "123 4567 89012 3.14159 1,000,000",
        "\xE2\x96\x81leading sentencepiece space",
        "caf\xC3\xA9 na\xC3\xAFve \xC3\x85ngstr\xC3\xB6m",
        "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xD0\xBC\xD0\xB8\xD1\x80",
        "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C",
        "\xF0\x9F\x98\x80\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD emoji",
        "\x01\x02\x1f\x7f control",
        "\xC0\xAF overlong and \xED\xA0\x80 surrogate and \xF5 and trailing \xE2\x82",
        "a\0b embedded nul",
    };
    int failures = 0, index = 0;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        size_t len = i == sizeof texts / sizeof texts[0] - 1 ? 16 : strlen(texts[i]);
        failures += seeds_of_text(dir, &index, texts[i], len);
    }
    if (fixtures) {
        static const char *const inps[] = {"vocab/ggml-vocab-llama-spm.gguf.inp", "vocab/ggml-vocab-gpt-2.gguf.inp"};
        for (size_t i = 0; i < sizeof inps / sizeof inps[0]; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", fixtures, inps[i]);
            failures += seeds_of_inp(dir, path, &index);
        }
    }
    return failures;
}

/* ---- config --------------------------------------------------------------- */

int gen_seeds_config(const char *dir)
{
    static const char *const docs[] = {
        /* every key */
        "model:\n  path: models/m.gguf\n  use_mmap: false\n  head_type: q8_0\n"
        "store:\n  cache_bytes: 256MiB\n  prefetch: false\n"
        "context:\n  n_ctx: 512\n  n_batch: 64\n  n_threads: 2\n  kv_type: f16\n  backend: ref\n"
        "  logits_all: true\n  blas_min_batch: 0\n"
        "sampler:\n  temperature: 0.7\n  top_k: 20\n  top_p: 0.9\n  min_p: 0.025\n  repeat_penalty: 1.1\n"
        "  frequency_penalty: -0.5\n  presence_penalty: 0.25\n  penalty_last_n: 32\n"
        "  seed: 18446744073709551615\n"
        "generate:\n  prompt: \"In the beginning\"\n  n_predict: 16\n  state_load: cache.bnst\n"
        "  state_save: /tmp/out.bnst\n",
        /* the example file's shape, comments included */
        "# comment\nmodel:\n  path: models/kjv-bitnet-4m-i2_s.gguf   # relative\n  head_type: default\n"
        "store:\n  cache_bytes: 64MiB\ncontext:\n  n_ctx: 256\n  n_threads: 2\n"
        "sampler:\n  temperature: 0.8\n  seed: 42\n"
        "generate:\n  prompt: \"In the beginning God created\"\n  n_predict: 32\n",
        /* flow style, quoting, hex and octal, sizes */
        "{context: {n_ctx: 0x100, n_batch: 0o20}, store: {cache_bytes: \"1 KiB\"}, sampler: {top_k: 0}}\n",
        "---\nsampler:\n  temperature: 0\n  top_p: 1\n  min_p: 0.0\n  repeat_penalty: 1e0\n...\n",
        "generate:\n  prompt: |\n    multi\n    line\n  n_predict: 0\n",
        "generate:\n  prompt: 'single ''quoted'''\n",
        "model: {use_mmap: True}\nstore: {prefetch: FALSE, cache_bytes: 2TiB}\n",
        /* empty and comment-only documents */
        "",
        "# nothing\n",
        "{}\n",
        /* errors: unknown key, wrong type, range, duplicate, nesting, alias, tag, several documents */
        "context:\n  n_threads: 0\n",
        "context:\n  n_ctx: \"512\"\n",
        "sampler:\n  temperature: .nan\n",
        "sampler:\n  seed: 18446744073709551616\n",
        "context:\n  n_ctx: 1\n  n_ctx: 2\n",
        "context:\n  n_ctx:\n    deeper: 1\n",
        "context: [1, 2]\n",
        "base: &a {n_ctx: 1}\ncontext: *a\n",
        "context:\n  n_ctx: !!int 5\n",
        "a: 1\n---\nb: 2\n",
        "unknown:\n  key: 1\n",
        "context:\n  n_ctx: 1.5\n",
        "model:\n  path:\n",
        "- just\n- a list\n",
        "context: {n_ctx: 1\n",
        "\xEF\xBB\xBFmodel:\n  path: bom.gguf\n",
        "model:\n  path: \"\xC3\x28\"\n",
    };
    int failures = 0;
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "doc-%02zu.yaml", i);
        failures += gen_write_file(dir, name, docs[i], strlen(docs[i]));
    }
    return failures;
}
