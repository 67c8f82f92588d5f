/* End-to-end parity with the float64 reference in ../shared/fixtures: for
 * every golden file and case, decode the prompt tokens, then 24 greedy steps;
 * greedy tokens must match (a divergence is excused only where the
 * reference's top-2 logits are closer than the tolerance) and logits stay
 * within the file's logits_tolerance (max and mean |diff| per step).
 * BITNET_TEST_BACKEND picks the kernel backend (default: the best);
 * BITNET_GOLDEN_QUICK=1 runs one case per model (for sanitizer builds). */
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

#include <cmocka.h>

#include "bitnet.h"
#include "support/fixtures.h"
#include "support/json.h"

typedef struct golden {
    json *doc;
    char model[4096], logits[4096];
    int n_vocab;
    double tol_max, tol_mean;
} golden;

static int load_golden(const char *dir, const char *name, golden *g)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    g->doc = json_parse_file(path);
    if (!g->doc)
        fail_msg("cannot parse %s", path);
    snprintf(g->model, sizeof g->model, "%s/%s", dir, json_get(g->doc, "model")->string);
    snprintf(g->logits, sizeof g->logits, "%.*s.logits.f32", (int)(strlen(path) - strlen(".golden.json")), path);
    g->n_vocab = (int)json_get(g->doc, "n_vocab")->number;
    const json *tol = json_get(g->doc, "logits_tolerance");
    g->tol_max = tol ? json_get(tol, "max")->number : 5e-3;
    g->tol_mean = tol ? json_get(tol, "mean")->number : 1e-3;
    struct stat st; /* a GGUF file, or the hf/ directory (a Hugging Face model) */
    return stat(g->model, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode));
}

static float *read_rows(const char *path, int n_vocab, int a, int b)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    float *rows = malloc((size_t)(b - a) * (size_t)n_vocab * 4);
    assert_non_null(rows);
    assert_int_equal(fseek(f, (long)a * n_vocab * 4, SEEK_SET), 0);
    assert_int_equal(fread(rows, 4, (size_t)(b - a) * (size_t)n_vocab, f), (size_t)(b - a) * (size_t)n_vocab);
    fclose(f);
    return rows;
}

static int argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

static double top2_margin(const float *x, int n)
{
    double a = -INFINITY, b = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (x[i] > a) {
            b = a;
            a = x[i];
        } else if (x[i] > b) {
            b = x[i];
        }
    }
    return a - b;
}

static bitnet_context *new_context(bitnet_model *m, int threads)
{
    bitnet_context_params p = bitnet_context_params_default();
    p.n_threads = threads;
    p.backend = getenv("BITNET_TEST_BACKEND");
    bitnet_context *c = NULL;
    if (bitnet_context_new(m, &p, &c))
        fail_msg("context: %s", bitnet_last_error());
    return c;
}

/* One case; returns the worst max |diff| seen. */
static double run_case(bitnet_model *m, const golden *g, const json *cs)
{
    const json *pt = json_get(cs, "prompt_tokens"), *gt = json_get(cs, "greedy_tokens");
    const json *lr = json_get(cs, "logits_rows");
    int a = (int)lr->items[0].number, b = (int)lr->items[1].number;
    float *ref = read_rows(g->logits, g->n_vocab, a, b);
    bitnet_context *c = new_context(m, 2);
    bitnet_token *prompt = malloc(pt->n * sizeof *prompt);
    assert_non_null(prompt);
    for (size_t i = 0; i < pt->n; i++)
        prompt[i] = (bitnet_token)pt->items[i].number;
    assert_int_equal(bitnet_context_decode(c, prompt, (int32_t)pt->n), BITNET_OK);
    double worst = 0;
    for (size_t step = 0; step < gt->n; step++) {
        const float *lg = bitnet_context_logits(c, -1);
        const float *rf = ref + step * (size_t)g->n_vocab;
        assert_non_null(lg);
        double dmax = 0, dsum = 0;
        for (int v = 0; v < g->n_vocab; v++) {
            double d = fabs((double)lg[v] - rf[v]);
            dmax = fmax(dmax, d);
            dsum += d;
        }
        worst = fmax(worst, dmax);
        if (dmax > g->tol_max || dsum / g->n_vocab > g->tol_mean)
            fail_msg("%s %.30s step %zu: logits |diff| max %.4g mean %.4g > %g / %g", g->model,
                     json_get(cs, "prompt")->string, step, dmax, dsum / g->n_vocab, g->tol_max, g->tol_mean);
        bitnet_token tok = argmax(lg, g->n_vocab), want = (bitnet_token)gt->items[step].number;
        if (tok != want) {
            if (top2_margin(rf, g->n_vocab) < g->tol_max)
                break; /* a near tie in the reference itself: excused */
            fail_msg("%s %.30s step %zu: greedy token %d, reference %d", g->model, json_get(cs, "prompt")->string,
                     step, tok, want);
        }
        if (step + 1 < gt->n)
            assert_int_equal(bitnet_context_decode(c, &tok, 1), BITNET_OK);
    }
    free(prompt);
    free(ref);
    bitnet_context_free(c);
    return worst;
}

static void check_family(const char *sub)
{
    char dir[1024];
    fixture_path(dir, sizeof dir, sub);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 12 || strcmp(e->d_name + len - 12, ".golden.json") != 0)
            continue;
        golden g;
        if (!load_golden(dir, e->d_name, &g)) {
            json_free(g.doc);
            continue;
        }
        bitnet_model *m = NULL;
        if (bitnet_model_load_file(g.model, NULL, &m))
            fail_msg("%s: %s", g.model, bitnet_last_error());
        const json *cases = json_get(g.doc, "cases");
        double worst = 0;
        /* Sanitizer builds run 10x slower: one case per model is enough there. */
        const size_t n_cases = getenv("BITNET_GOLDEN_QUICK") ? 1 : cases->n;
        for (size_t i = 0; i < n_cases; i++)
            worst = fmax(worst, run_case(m, &g, &cases->items[i]));
        print_message("%-28s %zu cases, logits max |diff| %.3g (tolerance %g)\n", e->d_name, cases->n, worst,
                      g.tol_max);
        bitnet_model_release(m);
        json_free(g.doc);
        files++;
    }
    closedir(d);
    assert_true(files > 0);
}

static void test_kjv_bitnet(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    check_family("kjv-bitnet");
}

static void test_kjv_llama(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    check_family("kjv-llama");
}

static void test_stories260k(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    check_family("stories260k");
}

/* Logits after a prompt decoded in one batch, token by token, and with 1, 2
 * or 3 threads: bit-identical. */
static void test_invariant_to_threads_and_batching(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    static const char *const files[] = {"kjv-bitnet/kjv-bitnet-4m-i2_s.gguf", "kjv-llama/kjv-llama-5m-q4_k_m.gguf"};
    const bitnet_token prompt[] = {1, 296, 354, 473, 289, 604, 44, 436, 258, 341};
    for (int f = 0; f < 2; f++) {
        char path[1024];
        bitnet_model *m;
        assert_int_equal(bitnet_model_load_file(fixture_path(path, sizeof path, files[f]), NULL, &m), BITNET_OK);
        int64_t idx;
        bitnet_tensor_info ti = {.struct_size = sizeof ti};
        assert_int_equal(bitnet_model_tensor_find(m, "token_embd.weight", &idx), BITNET_OK);
        assert_int_equal(bitnet_model_tensor_info(m, idx, &ti), BITNET_OK);
        const int n_vocab = (int)ti.ne[1];
        float *base = NULL;
        for (int threads = 1; threads <= 3; threads++) {
            for (int one_by_one = 0; one_by_one < 2; one_by_one++) {
                bitnet_context *c = new_context(m, threads);
                if (one_by_one)
                    for (int i = 0; i < 10; i++)
                        assert_int_equal(bitnet_context_decode(c, &prompt[i], 1), BITNET_OK);
                else
                    assert_int_equal(bitnet_context_decode(c, prompt, 10), BITNET_OK);
                const float *lg = bitnet_context_logits(c, -1);
                assert_non_null(lg);
                if (!base) {
                    base = malloc((size_t)n_vocab * 4);
                    assert_non_null(base);
                    memcpy(base, lg, (size_t)n_vocab * 4);
                } else if (memcmp(base, lg, (size_t)n_vocab * 4) != 0) {
                    fail_msg("%s: logits differ with %d threads%s", files[f], threads,
                             one_by_one ? ", token by token" : "");
                }
                bitnet_context_free(c);
            }
        }
        free(base);
        bitnet_model_release(m);
    }
}

/* Perplexity on text/kjv-eval.txt by the fixtures' definition: tokens
 * without BOS in chunks of n_ctx - 1, each scored as [BOS] + chunk; within
 * 0.5% of the golden value. */
static double perplexity(bitnet_model *m, const char *text, size_t len)
{
    size_t n = 0;
    assert_int_equal(bitnet_tokenize(m, text, len, 0, NULL, 0, &n), BITNET_ERR_BUFFER_TOO_SMALL);
    bitnet_token *toks = malloc(n * sizeof *toks);
    assert_non_null(toks);
    assert_int_equal(bitnet_tokenize(m, text, len, 0, toks, n, &n), BITNET_OK);
    bitnet_context_params p = bitnet_context_params_default();
    p.logits_all = true;
    p.n_threads = 2;
    bitnet_context *c = NULL;
    assert_int_equal(bitnet_context_new(m, &p, &c), BITNET_OK);
    const int chunk = bitnet_context_n_ctx(c) - 1, nv = bitnet_vocab_size(m);
    bitnet_token *batch = malloc(((size_t)chunk + 1) * sizeof *batch);
    assert_non_null(batch);
    double nll = 0;
    for (size_t start = 0; start < n; start += (size_t)chunk) {
        size_t len_c = n - start < (size_t)chunk ? n - start : (size_t)chunk;
        batch[0] = bitnet_token_bos(m);
        memcpy(batch + 1, toks + start, len_c * sizeof *batch);
        bitnet_context_clear(c);
        assert_int_equal(bitnet_context_decode(c, batch, (int32_t)len_c + 1), BITNET_OK);
        for (size_t j = 0; j < len_c; j++) {
            const float *lg = bitnet_context_logits(c, (int32_t)j);
            double max = lg[0], sum = 0;
            for (int v = 1; v < nv; v++)
                max = fmax(max, lg[v]);
            for (int v = 0; v < nv; v++)
                sum += exp(lg[v] - max);
            nll -= lg[batch[j + 1]] - max - log(sum);
        }
    }
    free(batch);
    free(toks);
    bitnet_context_free(c);
    return exp(nll / (double)n);
}

static void test_perplexity(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    static const char *const names[] = {"kjv-bitnet/kjv-bitnet-4m-i2_s", "kjv-bitnet/kjv-bitnet-4m-tq1_0",
                                        "kjv-llama/kjv-llama-5m-q4_k_m", "kjv-llama/kjv-llama-5m-f16"};
    char path[2048], rel[256];
    FILE *f = fopen(fixture_path(path, sizeof path, "text/kjv-eval.txt"), "rb");
    assert_non_null(f);
    static char text[1 << 16];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    const int n_models = getenv("BITNET_GOLDEN_QUICK") ? 1 : 4;
    for (int i = 0; i < n_models; i++) {
        snprintf(rel, sizeof rel, "%s.golden.json", names[i]);
        json *doc = json_parse_file(fixture_path(path, sizeof path, rel));
        assert_non_null(doc);
        double want = json_get(json_get(doc, "perplexity"), "ppl")->number;
        snprintf(rel, sizeof rel, "%s.gguf", names[i]);
        bitnet_model *m;
        assert_int_equal(bitnet_model_load_file(fixture_path(path, sizeof path, rel), NULL, &m), BITNET_OK);
        double got = perplexity(m, text, len);
        print_message("%-32s perplexity %.4f, reference %.4f (%.3f%%)\n", names[i], got, want,
                      100 * fabs(got - want) / want);
        assert_true(fabs(got - want) / want < 0.005);
        bitnet_model_release(m);
        json_free(doc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kjv_bitnet),
        cmocka_unit_test(test_kjv_llama),
        cmocka_unit_test(test_stories260k),
        cmocka_unit_test(test_invariant_to_threads_and_batching),
        cmocka_unit_test(test_perplexity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
