/* YAML configuration: every key of a full document, partial documents that
 * leave the caller's values alone, path resolution, each class of error with
 * its exact line:column, struct_size handling, the scalar readers, and an
 * allocation-failure sweep over loading. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bitnet.h"
#include "config/scalar.h"
#include "core/alloc.h"

static const char full_doc[] =
    "# every key\n"
    "model:\n"
    "  path: models/kjv-bitnet-4m-i2_s.gguf\n"
    "  use_mmap: false\n"
    "  head_type: q8_0\n"
    "  repack: true\n"
    "store:\n"
    "  cache_bytes: 256MiB\n"
    "  prefetch: false\n"
    "context:\n"
    "  n_ctx: 512\n"
    "  n_batch: 64\n"
    "  n_threads: 2\n"
    "  kv_type: f16\n"
    "  backend: ref\n"
    "  logits_all: true\n"
    "  blas_min_batch: 0\n"
    "sampler:\n"
    "  temperature: 0.7\n"
    "  top_k: 20\n"
    "  top_p: 0.9\n"
    "  min_p: 0.025\n"
    "  repeat_penalty: 1.1\n"
    "  frequency_penalty: -0.5\n"
    "  presence_penalty: 0.25\n"
    "  penalty_last_n: 32\n"
    "  seed: 18446744073709551615\n"
    "generate:\n"
    "  prompt: \"In the beginning\"\n"
    "  n_predict: 16\n"
    "  state_load: cache.bnst\n"
    "  state_save: /tmp/out.bnst\n";

static bitnet_config *load_ok(const char *yaml)
{
    bitnet_config *c = NULL;
    bitnet_status s = bitnet_config_load_string(yaml, strlen(yaml), &c);
    if (s != BITNET_OK)
        fail_msg("load_string: %s: %s\n--- document:\n%s", bitnet_status_str(s), bitnet_last_error(), yaml);
    assert_non_null(c);
    return c;
}

static void test_full_document(void **state)
{
    (void)state;
    bitnet_config *c = load_ok(full_doc);
    assert_string_equal(bitnet_config_model_path(c), "models/kjv-bitnet-4m-i2_s.gguf");

    bitnet_model_params mp = bitnet_model_params_default();
    assert_int_equal(bitnet_config_model_params(c, &mp), BITNET_OK);
    assert_false(mp.use_mmap);
    assert_int_equal(mp.head_type, BITNET_TYPE_Q8_0);
    assert_true(mp.cache_bytes == 256ull << 20);
    assert_false(mp.prefetch);
    assert_true(mp.repack);
    assert_int_equal(mp.struct_size, sizeof mp);

    bitnet_context_params cp = bitnet_context_params_default();
    assert_int_equal(bitnet_config_context_params(c, &cp), BITNET_OK);
    assert_int_equal(cp.n_ctx, 512);
    assert_int_equal(cp.n_batch, 64);
    assert_int_equal(cp.n_threads, 2);
    assert_int_equal(cp.kv_type, BITNET_TYPE_F16);
    assert_string_equal(cp.backend, "ref");
    assert_true(cp.logits_all);
    assert_int_equal(cp.blas_min_batch, 0);

    bitnet_sampler_params sp = bitnet_sampler_params_default();
    assert_int_equal(bitnet_config_sampler_params(c, &sp), BITNET_OK);
    assert_true(sp.temperature == 0.7f);
    assert_int_equal(sp.top_k, 20);
    assert_true(sp.top_p == 0.9f);
    assert_true(sp.min_p == 0.025f);
    assert_true(sp.repeat_penalty == 1.1f);
    assert_true(sp.frequency_penalty == -0.5f);
    assert_true(sp.presence_penalty == 0.25f);
    assert_int_equal(sp.penalty_last_n, 32);
    assert_true(sp.seed == UINT64_MAX);

    bitnet_config_generate g = {.struct_size = sizeof g, .n_predict = -1};
    assert_int_equal(bitnet_config_generate_params(c, &g), BITNET_OK);
    assert_string_equal(g.prompt, "In the beginning");
    assert_int_equal(g.n_predict, 16);
    assert_string_equal(g.state_load, "cache.bnst");
    assert_string_equal(g.state_save, "/tmp/out.bnst");

    /* The parameters the document gives are accepted by the library. */
    bitnet_sampler *smp = NULL;
    assert_int_equal(bitnet_sampler_new(&sp, &smp), BITNET_OK);
    bitnet_sampler_free(smp);
    bitnet_config_free(c);
}

/* Keys the document leaves out keep the caller's values, whatever they are. */
static void test_partial_document(void **state)
{
    (void)state;
    bitnet_config *c = load_ok("sampler:\n  temperature: 0\ncontext: {n_threads: 3}\n");
    assert_null(bitnet_config_model_path(c));

    bitnet_model_params mp = bitnet_model_params_default();
    mp.cache_bytes = 12345;
    mp.head_type = BITNET_TYPE_Q6_K;
    bitnet_model_params mp0 = mp;
    assert_int_equal(bitnet_config_model_params(c, &mp), BITNET_OK);
    assert_memory_equal(&mp, &mp0, sizeof mp);

    bitnet_context_params cp = bitnet_context_params_default();
    cp.n_ctx = 77;
    cp.backend = "mine";
    assert_int_equal(bitnet_config_context_params(c, &cp), BITNET_OK);
    assert_int_equal(cp.n_threads, 3);
    assert_int_equal(cp.n_ctx, 77);
    assert_int_equal(cp.n_batch, 512);
    assert_string_equal(cp.backend, "mine");

    bitnet_sampler_params sp = bitnet_sampler_params_default();
    sp.seed = 99;
    sp.top_k = 5;
    assert_int_equal(bitnet_config_sampler_params(c, &sp), BITNET_OK);
    assert_true(sp.temperature == 0.0f);
    assert_true(sp.seed == 99);
    assert_int_equal(sp.top_k, 5);
    assert_true(sp.top_p == 0.95f);

    bitnet_config_generate g = {.struct_size = sizeof g, .prompt = "cli", .n_predict = 7};
    assert_int_equal(bitnet_config_generate_params(c, &g), BITNET_OK);
    assert_string_equal(g.prompt, "cli");
    assert_int_equal(g.n_predict, 7);
    assert_null(g.state_load);
    bitnet_config_free(c);
}

/* Empty documents and empty sections set nothing. */
static void test_empty_documents(void **state)
{
    (void)state;
    const char *docs[] = {"", "# nothing\n", "---\n", "---\n...\n", "~\n", "{}\n", "store:\nsampler:\n",
                          "model: {}\n"};
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        bitnet_config *c = load_ok(docs[i]);
        assert_null(bitnet_config_model_path(c));
        bitnet_sampler_params sp = bitnet_sampler_params_default(), sp0 = sp;
        assert_int_equal(bitnet_config_sampler_params(c, &sp), BITNET_OK);
        assert_memory_equal(&sp, &sp0, sizeof sp);
        bitnet_config_free(c);
    }
    bitnet_config *c = NULL;
    assert_int_equal(bitnet_config_load_string(NULL, 0, &c), BITNET_OK);
    bitnet_config_free(c);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

static void test_relative_paths(void **state)
{
    (void)state;
    char dir[] = "/tmp/bitnet-config-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[512], file[600];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(file, sizeof file, "%s/run.yaml", sub);
    write_file(file, "model:\n  path: m.gguf\ngenerate:\n  state_load: ../s.bnst\n  state_save: /abs/t.bnst\n"
                     "  prompt: rel/not/a/path\n");

    bitnet_config *c = NULL;
    assert_int_equal(bitnet_config_load_file(file, &c), BITNET_OK);
    char want[700];
    snprintf(want, sizeof want, "%s/m.gguf", sub);
    assert_string_equal(bitnet_config_model_path(c), want);
    bitnet_config_generate g = {.struct_size = sizeof g};
    assert_int_equal(bitnet_config_generate_params(c, &g), BITNET_OK);
    snprintf(want, sizeof want, "%s/../s.bnst", sub);
    assert_string_equal(g.state_load, want);
    assert_string_equal(g.state_save, "/abs/t.bnst");
    assert_string_equal(g.prompt, "rel/not/a/path"); /* not a path: untouched */
    bitnet_config_free(c);

    /* A file named without a folder: its paths stay relative to the cwd. */
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(sub), 0);
    assert_int_equal(bitnet_config_load_file("run.yaml", &c), BITNET_OK);
    assert_string_equal(bitnet_config_model_path(c), "m.gguf");
    bitnet_config_free(c);
    assert_int_equal(chdir(cwd), 0);

    /* From a string: relative to the cwd, i.e. unchanged. */
    c = load_ok("model: {path: models/x.gguf}\n");
    assert_string_equal(bitnet_config_model_path(c), "models/x.gguf");
    bitnet_config_free(c);

    /* An error in a file names the file. */
    write_file(file, "context:\n  n_threads: 0\n");
    assert_int_equal(bitnet_config_load_file(file, &c), BITNET_ERR_BAD_FORMAT);
    assert_null(c);
    char msg[800];
    snprintf(msg, sizeof msg, "%s:2:14: context.n_threads: 0 is out of range", file);
    if (!strstr(bitnet_last_error(), msg))
        fail_msg("got '%s', want '%s'", bitnet_last_error(), msg);

    /* Unreadable: missing, a directory. */
    char missing[700];
    snprintf(missing, sizeof missing, "%s/none.yaml", dir);
    assert_int_equal(bitnet_config_load_file(missing, &c), BITNET_ERR_IO);
    assert_non_null(strstr(bitnet_last_error(), "none.yaml"));
    assert_int_equal(bitnet_config_load_file(sub, &c), BITNET_ERR_IO);
    assert_null(c);

    /* Larger than the 1 MiB limit. */
    size_t big = (1u << 20) + 1;
    char *text = malloc(big + 1);
    assert_non_null(text);
    memset(text, '#', big);
    text[big] = '\0';
    write_file(file, text);
    assert_int_equal(bitnet_config_load_file(file, &c), BITNET_ERR_BAD_FORMAT);
    assert_non_null(strstr(bitnet_last_error(), "limit"));
    assert_int_equal(bitnet_config_load_string(text, big, &c), BITNET_ERR_BAD_FORMAT);
    text[big - 1] = '\n'; /* exactly 1 MiB of comment: accepted */
    assert_int_equal(bitnet_config_load_string(text, big - 1, &c), BITNET_OK);
    bitnet_config_free(c);
    free(text);

    remove(file);
    rmdir(sub);
    rmdir(dir);
}

typedef struct bad_case {
    const char *yaml;
    const char *message; /* expected prefix of bitnet_last_error() */
} bad_case;

/* Each error class, with the position it must name. */
static const bad_case bad_cases[] = {
    /* unknown section / key */
    {"foo:\n  a: 1\n", "<string>:1:1: unknown section 'foo'"},
    {"model:\n  paht: x.gguf\n", "<string>:2:3: unknown key 'paht' in section 'model' (expected path,"},
    {"sampler: {temperature: 1, top_n: 3}\n", "<string>:1:27: unknown key 'top_n' in section 'sampler'"},
    /* wrong type */
    {"context:\n  n_ctx:\n    a: 1\n", "<string>:3:5: context.n_ctx: expected an integer in [0, 1048576]"},
    {"context:\n  n_ctx: [1, 2]\n", "<string>:2:10: context.n_ctx: expected an integer in [0, 1048576] (0: the "
                                    "model's context length), found a sequence"},
    {"context:\n  n_ctx: abc\n", "<string>:2:10: context.n_ctx: expected an integer in [0, 1048576] (0: the "
                                 "model's context length), found 'abc'"},
    {"sampler:\n  top_k: 1.5\n", "<string>:2:10: sampler.top_k: expected an integer in [0, 2147483647] (0: off), "
                                 "found '1.5'"},
    {"context:\n  n_ctx: \"512\"\n", "<string>:2:10: context.n_ctx: expected an integer in [0, 1048576] (0: the "
                                     "model's context length), found the quoted string '512'"},
    {"sampler:\n  temperature: warm\n", "<string>:2:16: sampler.temperature: expected a finite number >= 0"},
    {"model:\n  use_mmap: yes\n", "<string>:2:13: model.use_mmap: expected true or false, found 'yes'"},
    {"model:\n  use_mmap: 'true'\n", "<string>:2:13: model.use_mmap: expected true or false, found the quoted"},
    {"context:\n  kv_type: q8_0\n", "<string>:2:12: context.kv_type: expected f32 or f16, found 'q8_0'"},
    {"model:\n  head_type: q9_9\n", "<string>:2:14: model.head_type: expected default or a type"},
    {"model:\n  head_type: i2_s\n", "<string>:2:14: model.head_type: expected default or a type"},
    {"store:\n  cache_bytes: 12XB\n", "<string>:2:16: store.cache_bytes: expected a size in bytes"},
    {"store:\n  cache_bytes: -1\n", "<string>:2:16: store.cache_bytes: expected a size in bytes"},
    {"model:\n  path: {a: 1}\n", "<string>:2:9: model.path: expected a file path, found a mapping"},
    {"model: 5\n", "<string>:1:8: section 'model' must be a mapping of keys, found a scalar"},
    {"model: [path]\n", "<string>:1:8: section 'model' must be a mapping of keys, found a sequence"},
    {"model:\n  ? [a]\n  : 1\n", "<string>:2:5: model: expected a key, found a sequence"},
    {"? [a]\n: 1\n", "<string>:1:3: expected a section name, found a sequence"},
    {"model:\n  path:\n", "<string>:2:8: model.path: expected a file path, found null"},
    {"model:\n  path: ~\n", "<string>:2:9: model.path: expected a file path, found null"},
    {"model:\n  path: ''\n", "<string>:2:9: model.path: expected a file path, found an empty string"},
    {"context:\n  backend: \"\"\n", "<string>:2:12: context.backend: expected a backend name, found an empty"},
    {"generate:\n  prompt: \"a\\0b\"\n", "<string>:2:11: generate.prompt: the value contains a NUL character"},
    /* integer overflow */
    {"sampler:\n  seed: 18446744073709551616\n", "<string>:2:9: sampler.seed: 18446744073709551616 is out of range"},
    {"sampler:\n  seed: -1\n", "<string>:2:9: sampler.seed: -1 is out of range"},
    {"context:\n  n_batch: 2147483648\n", "<string>:2:12: context.n_batch: 2147483648 is out of range"},
    {"context:\n  n_batch: 99999999999999999999999\n", "<string>:2:12: context.n_batch: 99999999999999999999999 is"},
    {"context:\n  n_ctx: -9223372036854775808\n", "<string>:2:10: context.n_ctx: -9223372036854775808 is out of"},
    {"store:\n  cache_bytes: 17179869184GiB\n", "<string>:2:16: store.cache_bytes: 17179869184GiB is out of range"},
    /* out of range */
    {"context:\n  n_threads: 0\n", "<string>:2:14: context.n_threads: 0 is out of range (expected an integer in "
                                   "[1, 256])"},
    {"context:\n  n_threads: 257\n", "<string>:2:14: context.n_threads: 257 is out of range"},
    {"context:\n  n_ctx: -1\n", "<string>:2:10: context.n_ctx: -1 is out of range"},
    {"context:\n  n_ctx: 1048577\n", "<string>:2:10: context.n_ctx: 1048577 is out of range"},
    {"context:\n  n_batch: 0\n", "<string>:2:12: context.n_batch: 0 is out of range"},
    {"context:\n  blas_min_batch: -1\n", "<string>:2:19: context.blas_min_batch: -1 is out of range"},
    {"sampler:\n  top_k: -1\n", "<string>:2:10: sampler.top_k: -1 is out of range"},
    {"sampler:\n  penalty_last_n: -1\n", "<string>:2:19: sampler.penalty_last_n: -1 is out of range"},
    {"sampler:\n  temperature: -0.1\n", "<string>:2:16: sampler.temperature: -0.1 is out of range (expected a "
                                        "finite number >= 0 (0: greedy))"},
    {"sampler:\n  temperature: 1e39\n", "<string>:2:16: sampler.temperature: 1e39 is out of range"},
    {"sampler:\n  temperature: .nan\n", "<string>:2:16: sampler.temperature: .nan is not a finite number"},
    {"sampler:\n  temperature: .NaN\n", "<string>:2:16: sampler.temperature: .NaN is not a finite number"},
    {"sampler:\n  top_p: 1.5\n", "<string>:2:10: sampler.top_p: 1.5 is out of range (expected a number in [0, 1]"},
    {"sampler:\n  top_p: -.inf\n", "<string>:2:10: sampler.top_p: -.inf is not a finite number"},
    {"sampler:\n  min_p: -0.01\n", "<string>:2:10: sampler.min_p: -0.01 is out of range"},
    {"sampler:\n  repeat_penalty: 0\n", "<string>:2:19: sampler.repeat_penalty: 0 is out of range (expected a "
                                        "finite number > 0"},
    {"sampler:\n  repeat_penalty: 1e-50\n", "<string>:2:19: sampler.repeat_penalty: 1e-50 is out of range"},
    {"sampler:\n  presence_penalty: .inf\n", "<string>:2:21: sampler.presence_penalty: .inf is not a finite"},
    {"generate:\n  n_predict: 16777217\n", "<string>:2:14: generate.n_predict: 16777217 is out of range"},
    {"generate:\n  n_predict: -1\n", "<string>:2:14: generate.n_predict: -1 is out of range"},
    /* duplicates */
    {"model:\n  use_mmap: true\n  use_mmap: false\n",
     "<string>:3:3: duplicate key 'model.use_mmap' (first set at line 2)"},
    {"model: {}\nstore: {}\nmodel: {}\n", "<string>:3:1: duplicate section 'model' (first at line 1)"},
    /* documents and roots */
    {"model: {}\n---\nstore: {}\n", "<string>:2:1: more than one document"},
    {"- model\n- store\n", "<string>:1:1: the document must be a mapping of sections"},
    {"hello\n", "<string>:1:1: the document must be a mapping of sections (model, store, context, sampler, "
                "generate), found a scalar"},
    /* aliases, anchors, tags */
    {"model:\n  path: *p\n", "<string>:2:9: aliases are not supported"},
    {"model: &m\n  path: x\n", "<string>:1:8: anchors are not supported"},
    {"model:\n  path: &p x\n", "<string>:2:9: anchors are not supported"},
    {"model:\n  path: !!str x\n", "<string>:2:9: tags are not supported"},
    /* syntax and encoding */
    {"model:\n  path: x\n   use_mmap: true\n", "<string>:3:12: syntax error: mapping values are not allowed"},
    {"model: {path: x\n", "<string>:2:1: syntax error: did not find expected ',' or '}' (while parsing a flow "
                          "mapping at line 1, column 8)"},
    {"model:\n\tpath: x\n", "<string>:2:1: syntax error: found character that cannot start any token"},
    {"model:\n  path: \"x\n", "<string>:3:1: syntax error: found unexpected end of stream (while scanning a "
                              "quoted scalar at line 2, column 9)"},
    {"model:\n  path: a\xff\n", "<string>:2:10: cannot read the document: invalid leading UTF-8 octet"},
};

static void test_errors(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *b = &bad_cases[i];
        bitnet_config *c = (bitnet_config *)&c; /* must be reset to NULL */
        bitnet_status s = bitnet_config_load_string(b->yaml, strlen(b->yaml), &c);
        if (s != BITNET_ERR_BAD_FORMAT || strncmp(bitnet_last_error(), b->message, strlen(b->message)) != 0) {
            print_error("case %zu: got %s '%s'\n  want bad format '%s...'\n--- document:\n%s\n", i,
                        bitnet_status_str(s), bitnet_last_error(), b->message, b->yaml);
            failures++;
        }
        assert_null(c);
    }
    assert_int_equal(failures, 0);
}

/* struct_size: too small or too large is an error; a smaller (older) struct
 * is written only up to its size. */
static void test_struct_size_and_arguments(void **state)
{
    (void)state;
    bitnet_config *c = load_ok(full_doc);
    bitnet_model_params mp = bitnet_model_params_default();
    mp.struct_size = offsetof(bitnet_model_params, cache_bytes);
    mp.head_type = 55;
    assert_int_equal(bitnet_config_model_params(c, &mp), BITNET_OK);
    assert_false(mp.use_mmap);      /* inside the old size: written */
    assert_true(mp.cache_bytes == 0); /* outside: not */
    assert_int_equal(mp.head_type, 55);
    mp.struct_size = 0;
    assert_int_equal(bitnet_config_model_params(c, &mp), BITNET_ERR_INVALID_ARGUMENT);
    mp.struct_size = sizeof mp + 8;
    assert_int_equal(bitnet_config_model_params(c, &mp), BITNET_ERR_INVALID_ARGUMENT);

    bitnet_context_params cp = bitnet_context_params_default();
    cp.struct_size = 1;
    assert_int_equal(bitnet_config_context_params(c, &cp), BITNET_ERR_INVALID_ARGUMENT);
    bitnet_sampler_params sp = bitnet_sampler_params_default();
    sp.struct_size = offsetof(bitnet_sampler_params, top_p);
    assert_int_equal(bitnet_config_sampler_params(c, &sp), BITNET_OK);
    assert_true(sp.temperature == 0.7f);
    assert_int_equal(sp.top_k, 20);
    assert_true(sp.top_p == 0.95f);
    bitnet_config_generate g = {.struct_size = offsetof(bitnet_config_generate, state_load)};
    assert_int_equal(bitnet_config_generate_params(c, &g), BITNET_OK);
    assert_int_equal(g.n_predict, 16);
    assert_null(g.state_load);
    g.struct_size = 0;
    assert_int_equal(bitnet_config_generate_params(c, &g), BITNET_ERR_INVALID_ARGUMENT);

    assert_int_equal(bitnet_config_model_params(NULL, &mp), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_config_sampler_params(c, NULL), BITNET_ERR_INVALID_ARGUMENT);
    assert_null(bitnet_config_model_path(NULL));
    bitnet_config_free(c);
    bitnet_config_free(NULL);

    assert_int_equal(bitnet_config_load_string("", 0, NULL), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_config_load_string(NULL, 3, &c), BITNET_ERR_INVALID_ARGUMENT);
    assert_null(c);
    assert_int_equal(bitnet_config_load_file(NULL, &c), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_config_load_file("x", NULL), BITNET_ERR_INVALID_ARGUMENT);
}

/* Accepted spellings: YAML 1.2 core booleans, integers, floats, sizes;
 * quoted keys and strings; flow style; a BOM. */
static void test_spellings(void **state)
{
    (void)state;
    bitnet_config *c = load_ok("\xef\xbb\xbf"
                               "\"context\": {n_ctx: 0x100, n_batch: 0o17, n_threads: +4, logits_all: TRUE}\n"
                               "store: {cache_bytes: \"1 KiB\", prefetch: False}\n"
                               "sampler: {temperature: .5, top_p: 1, min_p: 0., repeat_penalty: 2.5e-1, seed: 0}\n"
                               "model: {head_type: default, path: 'it''s.gguf'}\n"
                               "generate: {prompt: '', n_predict: 0}\n");
    bitnet_context_params cp = bitnet_context_params_default();
    assert_int_equal(bitnet_config_context_params(c, &cp), BITNET_OK);
    assert_int_equal(cp.n_ctx, 256);
    assert_int_equal(cp.n_batch, 15);
    assert_int_equal(cp.n_threads, 4);
    assert_true(cp.logits_all);
    bitnet_model_params mp = bitnet_model_params_default();
    mp.head_type = 8;
    assert_int_equal(bitnet_config_model_params(c, &mp), BITNET_OK);
    assert_true(mp.cache_bytes == 1024);
    assert_false(mp.prefetch);
    assert_int_equal(mp.head_type, -1);
    assert_string_equal(bitnet_config_model_path(c), "it's.gguf");
    bitnet_sampler_params sp = bitnet_sampler_params_default();
    assert_int_equal(bitnet_config_sampler_params(c, &sp), BITNET_OK);
    assert_true(sp.temperature == 0.5f && sp.top_p == 1.0f && sp.min_p == 0.0f && sp.repeat_penalty == 0.25f);
    bitnet_config_generate g = {.struct_size = sizeof g};
    assert_int_equal(bitnet_config_generate_params(c, &g), BITNET_OK);
    assert_string_equal(g.prompt, "");
    assert_int_equal(g.n_predict, 0);
    bitnet_config_free(c);

    c = load_ok("model:\n  head_type: q6_k\nstore:\n  cache_bytes: 3GiB\n");
    assert_int_equal(bitnet_config_model_params(c, &mp), BITNET_OK);
    assert_int_equal(mp.head_type, BITNET_TYPE_Q6_K);
    assert_true(mp.cache_bytes == 3ull << 30);
    bitnet_config_free(c);
}

/* The locale-free float reader against strtod in the C locale. */
static void test_scalar_readers(void **state)
{
    (void)state;
    const char *floats[] = {"0", "-0", "1", "0.1", "0.7", "0.95", "1.1", "3.14159", "1e-3", "2.5E+2", ".5", "5.",
                            "123456789012345678901234567890", "0.000000000000000000000000000001", "1e308",
                            "1.7976931348623157e308", "4.9e-324", "0.30000000000000004", "1e-400", "1e400"};
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        double got = -1, want = strtod(floats[i], NULL);
        assert_int_equal(bn_scalar_float(floats[i], strlen(floats[i]), &got), BN_SCALAR_OK);
        if (!(got == want || fabs(got - want) <= fabs(want) * 2 * DBL_EPSILON))
            fail_msg("%s: got %.17g, want %.17g", floats[i], got, want);
        assert_true((float)got == (float)want); /* what the sampler sees is exact */
    }
    const char *not_floats[] = {"", ".", "e5", "1e", "1e+", "--1", "1.2.3", "0x10", "inf", "nan", "1,5", " 1"};
    double d;
    for (size_t i = 0; i < sizeof not_floats / sizeof not_floats[0]; i++)
        if (bn_scalar_float(not_floats[i], strlen(not_floats[i]), &d) != BN_SCALAR_SYNTAX)
            fail_msg("'%s' read as a float", not_floats[i]);

    bool neg;
    uint64_t u;
    assert_int_equal(bn_scalar_integer("-42", 3, &neg, &u), BN_SCALAR_OK);
    assert_true(neg && u == 42);
    assert_int_equal(bn_scalar_integer("0xFFFFFFFFFFFFFFFF", 18, &neg, &u), BN_SCALAR_OK);
    assert_true(!neg && u == UINT64_MAX);
    assert_int_equal(bn_scalar_integer("0x1FFFFFFFFFFFFFFFF", 19, &neg, &u), BN_SCALAR_OVERFLOW);
    assert_int_equal(bn_scalar_integer("12a", 3, &neg, &u), BN_SCALAR_SYNTAX);
    assert_int_equal(bn_scalar_integer("-", 1, &neg, &u), BN_SCALAR_SYNTAX);
    assert_int_equal(bn_scalar_integer("-0x1", 4, &neg, &u), BN_SCALAR_SYNTAX);
    assert_int_equal(bn_scalar_size("16TiB", 5, &u), BN_SCALAR_OK);
    assert_true(u == 16ull << 40);
    assert_int_equal(bn_scalar_size("16777216TiB", 11, &u), BN_SCALAR_OVERFLOW);
    assert_int_equal(bn_scalar_size("1 kb", 4, &u), BN_SCALAR_SYNTAX);
    assert_int_equal(bn_scalar_size("MiB", 3, &u), BN_SCALAR_SYNTAX);
    assert_int_equal(bn_scalar_size("1 ", 2, &u), BN_SCALAR_SYNTAX);
    bool b;
    assert_int_equal(bn_scalar_bool("on", 2, &b), BN_SCALAR_SYNTAX);
    assert_true(bn_scalar_is_null("~", 1) && bn_scalar_is_null("", 0) && !bn_scalar_is_null("nil", 3));
}

/* Fail each allocation in turn: every attempt gives OK or OUT_OF_MEMORY,
 * and ASan sees no leak either way. */
static void sweep(const char *label, const char *path)
{
    long n;
    for (n = 0; n < 1000; n++) {
        unsigned long before = bn_alloc_failures();
        bitnet_config *c = NULL;
        bn_alloc_fail_after(n);
        bitnet_status s =
            path ? bitnet_config_load_file(path, &c) : bitnet_config_load_string(full_doc, strlen(full_doc), &c);
        bn_alloc_fail_after(-1);
        int injected = bn_alloc_failures() != before;
        if (s != BITNET_OK && s != BITNET_ERR_OUT_OF_MEMORY)
            fail_msg("%s: failing allocation %ld gave %s: %s", label, n, bitnet_status_str(s), bitnet_last_error());
        if (s == BITNET_OK) {
            assert_non_null(c);
            bitnet_config_free(c);
        } else {
            assert_null(c);
        }
        if (!injected) {
            assert_int_equal(s, BITNET_OK);
            break;
        }
    }
    print_message("%s: %ld allocation points checked\n", label, n);
    assert_true(n >= 6); /* config + one per string key */
}

static void test_alloc_failures(void **state)
{
    (void)state;
    sweep("load_string", NULL);
    char path[] = "/tmp/bitnet-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, full_doc);
    sweep("load_file", path);
    remove(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_document),
        cmocka_unit_test(test_partial_document),
        cmocka_unit_test(test_empty_documents),
        cmocka_unit_test(test_relative_paths),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_struct_size_and_arguments),
        cmocka_unit_test(test_spellings),
        cmocka_unit_test(test_scalar_readers),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
