/* State files: save -> load continues with identical tokens and logits;
 * another model, truncation, corruption, hostile headers and payloads, a
 * context too small and allocation failures all give a status and leave the
 * context and sampler unchanged; the two-call size query; sha256 vectors and
 * the model fingerprint under threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zstd.h>

#include "bitnet.h"
#include "core/alloc.h"
#include "core/sha256.h"
#include "sampler/sampler_internal.h"
#include "state/fingerprint.h"
#include "state/state_format.h"
#include "support/fixtures.h"

#define BITNET_I2S "kjv-bitnet/kjv-bitnet-4m-i2_s.gguf"
#define LLAMA_Q4K "kjv-llama/kjv-llama-5m-q4_k_m.gguf"
#define N_GEN 16

static bitnet_model *load(const char *rel)
{
    char path[1024];
    bitnet_model *m = NULL;
    if (bitnet_model_load_file(fixture_path(path, sizeof path, rel), NULL, &m))
        fail_msg("%s: %s", rel, bitnet_last_error());
    return m;
}

static bitnet_context *context(bitnet_model *m, int32_t n_ctx, uint32_t kv_type, bool logits_all)
{
    bitnet_context_params p = bitnet_context_params_default();
    p.n_ctx = n_ctx;
    p.kv_type = kv_type;
    p.logits_all = logits_all;
    p.n_threads = 2;
    bitnet_context *c = NULL;
    if (bitnet_context_new(m, &p, &c))
        fail_msg("context: %s", bitnet_last_error());
    return c;
}

/* Greedy (seed unused) or seeded with penalties over a short window, so
 * that the history ring wraps before a save. */
static bitnet_sampler *sampler(bool greedy, uint64_t seed)
{
    bitnet_sampler_params p = bitnet_sampler_params_default();
    p.temperature = greedy ? 0.0f : 0.9f;
    p.repeat_penalty = 1.3f;
    p.penalty_last_n = 8;
    p.seed = seed;
    bitnet_sampler *s = NULL;
    assert_int_equal(bitnet_sampler_new(&p, &s), BITNET_OK);
    return s;
}

static size_t prompt_of(const bitnet_model *m, bitnet_token *toks, size_t cap)
{
    const char *text = "In the beginning God created the heaven and the earth.";
    size_t n = 0;
    assert_int_equal(bitnet_tokenize(m, text, strlen(text), BITNET_TOKENIZE_ADD_SPECIAL, toks, cap, &n), BITNET_OK);
    return n;
}

/* Sample, accept and decode n tokens; record each token and the logits it
 * was sampled from. */
static void generate(bitnet_context *c, bitnet_sampler *s, int n, bitnet_token *toks, float *logits)
{
    const int32_t nv = bitnet_vocab_size(bitnet_context_model(c));
    for (int i = 0; i < n; i++) {
        const float *lg = bitnet_context_logits(c, -1);
        assert_non_null(lg);
        if (logits)
            memcpy(logits + (size_t)i * (size_t)nv, lg, (size_t)nv * sizeof *lg);
        assert_int_equal(bitnet_sampler_sample(s, lg, nv, &toks[i]), BITNET_OK);
        assert_int_equal(bitnet_sampler_accept(s, toks[i]), BITNET_OK);
        assert_int_equal(bitnet_context_decode(c, &toks[i], 1), BITNET_OK);
    }
}

/* The whole state in a malloc'd buffer (two-call pattern). */
static uint8_t *save_mem(const bitnet_context *c, const bitnet_sampler *s, size_t *n)
{
    size_t need = 0;
    assert_int_equal(bitnet_context_state_save_memory(c, s, NULL, 0, &need), BITNET_ERR_BUFFER_TOO_SMALL);
    assert_true(need > BN_STATE_HEADER_SIZE);
    uint8_t *buf = malloc(need);
    assert_non_null(buf);
    assert_int_equal(bitnet_context_state_save_memory(c, s, buf, need, n), BITNET_OK);
    assert_int_equal(*n, need);
    return buf;
}

/* What "unchanged" compares: the context's saved state (and, cheaper, its
 * tokens and last logits), the sampler's random state and history. */
typedef struct snapshot {
    uint8_t *state;
    size_t size;
    bitnet_token tokens[256];
    int32_t n_past;
    float *logits; /* NULL when the context has none */
    uint64_t rng[4];
    bitnet_token hist[64];
    int32_t n_hist;
} snapshot;

static void take(snapshot *sn, const bitnet_context *c, const bitnet_sampler *s)
{
    const size_t nv = (size_t)bitnet_vocab_size(bitnet_context_model(c));
    sn->state = save_mem(c, NULL, &sn->size);
    const bitnet_token *t = bitnet_context_tokens(c, &sn->n_past);
    assert_true(sn->n_past <= 256);
    memcpy(sn->tokens, t, (size_t)sn->n_past * sizeof *t);
    const float *lg = bitnet_context_logits(c, -1);
    sn->logits = lg ? malloc(nv * sizeof *lg) : NULL;
    if (lg)
        memcpy(sn->logits, lg, nv * sizeof *lg);
    bn_sampler_get_rng(s, sn->rng);
    sn->n_hist = bn_sampler_get_history(s, NULL);
    assert_true(sn->n_hist <= 64);
    bn_sampler_get_history(s, sn->hist);
}

static void snapshot_free(snapshot *sn)
{
    free(sn->state);
    free(sn->logits);
}

/* Cheap checks every time, the whole saved state too when `full`. */
static void same_as(const snapshot *sn, const bitnet_context *c, const bitnet_sampler *s, bool full)
{
    uint64_t rng[4];
    bitnet_token hist[64];
    bn_sampler_get_rng(s, rng);
    assert_memory_equal(rng, sn->rng, sizeof rng);
    assert_int_equal(bn_sampler_get_history(s, hist), sn->n_hist);
    assert_memory_equal(hist, sn->hist, (size_t)sn->n_hist * sizeof *hist);
    int32_t n = -1;
    const bitnet_token *t = bitnet_context_tokens(c, &n);
    assert_int_equal(n, sn->n_past);
    assert_memory_equal(t, sn->tokens, (size_t)n * sizeof *t);
    const float *lg = bitnet_context_logits(c, -1);
    assert_int_equal(lg != NULL, sn->logits != NULL);
    if (lg)
        assert_memory_equal(lg, sn->logits, (size_t)bitnet_vocab_size(bitnet_context_model(c)) * sizeof *lg);
    if (full) {
        size_t size;
        uint8_t *now = save_mem(c, NULL, &size);
        assert_int_equal(size, sn->size);
        assert_memory_equal(now, sn->state, size);
        free(now);
    }
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void wr64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- bitnet_context_tokens -------------------------------------------- */

static void test_context_tokens(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *m = load(BITNET_I2S);
    bitnet_context *c = context(m, 32, BITNET_TYPE_F32, false);
    int32_t n = -1;
    assert_null(bitnet_context_tokens(NULL, &n));
    assert_int_equal(n, 0);
    bitnet_context_tokens(c, &n);
    assert_int_equal(n, 0);
    bitnet_token p[64];
    size_t np = prompt_of(m, p, 64);
    assert_int_equal(bitnet_context_decode(c, p, 3), BITNET_OK);
    assert_int_equal(bitnet_context_decode(c, p + 3, (int32_t)np - 3), BITNET_OK);
    const bitnet_token *t = bitnet_context_tokens(c, &n);
    assert_int_equal(n, (int32_t)np);
    assert_memory_equal(t, p, np * sizeof *p);
    assert_int_equal(bitnet_context_trim(c, 2), BITNET_OK);
    bitnet_context_tokens(c, &n);
    assert_int_equal(n, 2);
    const bitnet_token other = 77;
    assert_int_equal(bitnet_context_decode(c, &other, 1), BITNET_OK);
    t = bitnet_context_tokens(c, &n);
    assert_int_equal(n, 3);
    assert_int_equal(t[2], 77);
    assert_int_equal(t[1], p[1]);
    bitnet_context_clear(c);
    bitnet_context_tokens(c, &n);
    assert_int_equal(n, 0);
    bitnet_context_free(c);
    bitnet_model_release(m);
}

/* ---- round trip ----------------------------------------------------------- */

static void print_ratio(const char *label, const uint8_t *st, size_t size)
{
    const uint64_t payload = rd64(st + BN_STATE_OFF_PAYLOAD_SIZE);
    print_message("%s: %u positions, payload %llu bytes, state %zu bytes: compression ratio %.2f\n", label,
                  rd32(st + BN_STATE_OFF_N_PAST), (unsigned long long)payload, size, (double)payload / (double)size);
}

/* Decode the prompt and `pre` generated tokens, save (memory and file),
 * generate N_GEN more; a fresh context and sampler loading the state
 * generate the same tokens from bit-identical logits. */
static void round_trip(const char *rel, bool greedy, uint32_t kv_type, bool logits_all, int pre)
{
    bitnet_model *m = load(rel);
    const int32_t nv = bitnet_vocab_size(m);
    bitnet_token p[64], pre_toks[16], ref[N_GEN], got[N_GEN];
    const size_t np = prompt_of(m, p, 64);
    float *ref_lg = malloc((size_t)N_GEN * (size_t)nv * 4), *got_lg = malloc((size_t)N_GEN * (size_t)nv * 4);
    assert_true(ref_lg && got_lg);

    bitnet_context *a = context(m, 0, kv_type, logits_all);
    bitnet_sampler *sa = sampler(greedy, 1234);
    assert_int_equal(bitnet_context_decode(a, p, (int32_t)np), BITNET_OK);
    for (size_t i = 0; i < np; i++)
        assert_int_equal(bitnet_sampler_accept(sa, p[i]), BITNET_OK);
    generate(a, sa, pre, pre_toks, NULL);
    int32_t rows = 0; /* logits rows of the last decode call (logits_all: one per token) */
    while (bitnet_context_logits(a, rows) && logits_all)
        rows++;
    float *rows_lg = malloc((size_t)(rows ? rows : 1) * (size_t)nv * 4);
    assert_non_null(rows_lg);
    for (int32_t i = 0; i < rows; i++)
        memcpy(rows_lg + (size_t)i * (size_t)nv, bitnet_context_logits(a, i), (size_t)nv * 4);
    size_t size;
    uint8_t *st = save_mem(a, sa, &size);
    char path[256];
    snprintf(path, sizeof path, "test_state_%d.bnstate", (int)getpid());
    assert_int_equal(bitnet_context_state_save(a, sa, path), BITNET_OK);
    generate(a, sa, N_GEN, ref, ref_lg);

    for (int from_file = 0; from_file < 2; from_file++) {
        bitnet_context *b = context(m, 0, kv_type, logits_all);
        bitnet_sampler *sb = sampler(greedy, 99); /* another seed: the state restores the stream */
        const bitnet_token junk = 5;
        assert_int_equal(bitnet_context_decode(b, &junk, 1), BITNET_OK); /* replaced by the load */
        assert_int_equal(bitnet_sampler_accept(sb, junk), BITNET_OK);
        if (from_file)
            assert_int_equal(bitnet_context_state_load(b, sb, path), BITNET_OK);
        else
            assert_int_equal(bitnet_context_state_load_memory(b, sb, st, size), BITNET_OK);
        int32_t n;
        const bitnet_token *t = bitnet_context_tokens(b, &n);
        assert_int_equal(n, (int32_t)np + pre);
        assert_memory_equal(t, p, np * sizeof *p);
        assert_memory_equal(t + np, pre_toks, (size_t)pre * sizeof *t);
        bitnet_context_stats cs = {.struct_size = sizeof cs};
        assert_int_equal(bitnet_context_stats_get(b, &cs), BITNET_OK);
        assert_int_equal(cs.n_state_loads, 1);
        for (int32_t i = 0; i < rows; i++) /* logits_all: every row of the last decode call came back */
            assert_memory_equal(bitnet_context_logits(b, i), rows_lg + (size_t)i * (size_t)nv, (size_t)nv * 4);
        assert_null(bitnet_context_logits(b, rows));
        generate(b, sb, N_GEN, got, got_lg);
        assert_memory_equal(got, ref, sizeof ref);
        assert_memory_equal(got_lg, ref_lg, (size_t)N_GEN * (size_t)nv * 4);
        /* Saving again after the same steps gives the same bytes. */
        size_t s1, s2;
        uint8_t *x = save_mem(a, sa, &s1), *y = save_mem(b, sb, &s2);
        assert_int_equal(s1, s2);
        assert_memory_equal(x, y, s1);
        free(x);
        free(y);
        bitnet_sampler_free(sb);
        bitnet_context_free(b);
    }
    char label[160];
    snprintf(label, sizeof label, "%s (%s KV%s, %s)", rel, bitnet_type_name(kv_type), logits_all ? ", logits_all" : "",
             greedy ? "greedy" : "seeded");
    print_ratio(label, st, size);
    unlink(path);
    free(st);
    free(rows_lg);
    free(ref_lg);
    free(got_lg);
    bitnet_sampler_free(sa);
    bitnet_context_free(a);
    bitnet_model_release(m);
}

static void test_round_trip(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    round_trip(BITNET_I2S, true, BITNET_TYPE_F32, false, 0);
    round_trip(BITNET_I2S, false, BITNET_TYPE_F32, false, 5);
    round_trip(LLAMA_Q4K, true, BITNET_TYPE_F32, false, 0);
    round_trip(LLAMA_Q4K, false, BITNET_TYPE_F16, false, 5);
    round_trip(LLAMA_Q4K, false, BITNET_TYPE_F32, true, 0);
}

/* A state without a sampler leaves the loading sampler alone; one with a
 * sampler loads into a NULL sampler; a logits_all state loads into a
 * context without logits_all (the last row) and back. */
static void test_sampler_optional_and_logits_rows(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *m = load(BITNET_I2S);
    const int32_t nv = bitnet_vocab_size(m);
    bitnet_token p[64];
    const size_t np = prompt_of(m, p, 64);
    bitnet_context *all = context(m, 0, BITNET_TYPE_F32, true);
    assert_int_equal(bitnet_context_decode(all, p, (int32_t)np), BITNET_OK);
    bitnet_sampler *s = sampler(false, 7);
    assert_int_equal(bitnet_sampler_accept(s, 9), BITNET_OK);
    size_t n_plain, n_with;
    uint8_t *plain = save_mem(all, NULL, &n_plain), *with = save_mem(all, s, &n_with);
    assert_int_equal(rd32(plain + BN_STATE_OFF_N_LOGITS), np);

    bitnet_context *one = context(m, 0, BITNET_TYPE_F32, false);
    bitnet_sampler *t = sampler(false, 8);
    snapshot sn;
    take(&sn, one, t);
    assert_int_equal(bitnet_context_state_load_memory(one, t, plain, n_plain), BITNET_OK);
    uint64_t rng[4];
    bn_sampler_get_rng(t, rng);
    assert_memory_equal(rng, sn.rng, sizeof rng); /* untouched */
    assert_int_equal(bn_sampler_get_history(t, NULL), 0);
    assert_memory_equal(bitnet_context_logits(one, -1), bitnet_context_logits(all, -1), (size_t)nv * 4);
    assert_null(bitnet_context_logits(one, 0));
    assert_int_equal(bitnet_context_state_load_memory(one, NULL, with, n_with), BITNET_OK);
    assert_int_equal(bitnet_context_state_load_memory(one, t, with, n_with), BITNET_OK);
    assert_int_equal(bn_sampler_get_history(t, NULL), 1);

    /* One row back into a logits_all context; a larger state grows its buffer. */
    size_t n_one;
    uint8_t *st_one = save_mem(one, NULL, &n_one);
    bitnet_context *all2 = context(m, 0, BITNET_TYPE_F32, true);
    assert_int_equal(bitnet_context_state_load_memory(all2, NULL, st_one, n_one), BITNET_OK);
    assert_memory_equal(bitnet_context_logits(all2, 0), bitnet_context_logits(all, -1), (size_t)nv * 4);
    assert_null(bitnet_context_logits(all2, 1));
    assert_int_equal(bitnet_context_state_load_memory(all2, NULL, plain, n_plain), BITNET_OK);
    for (int32_t i = 0; i < (int32_t)np; i++)
        assert_memory_equal(bitnet_context_logits(all2, i), bitnet_context_logits(all, i), (size_t)nv * 4);
    snapshot_free(&sn);
    free(plain);
    free(with);
    free(st_one);
    bitnet_sampler_free(s);
    bitnet_sampler_free(t);
    bitnet_context_free(all);
    bitnet_context_free(all2);
    bitnet_context_free(one);
    bitnet_model_release(m);
}

/* ---- failures leave everything unchanged --------------------------------- */

/* A context and sampler in some state of their own, and a state to load. */
typedef struct victim {
    bitnet_model *m;
    bitnet_context *c;
    bitnet_sampler *s;
    uint8_t *st; /* a state of another prompt, with a sampler */
    size_t size;
    snapshot sn;
} victim;

static void victim_new(victim *v, const char *rel, int32_t n_ctx)
{
    v->m = load(rel);
    bitnet_token p[64], g[8];
    const size_t np = prompt_of(v->m, p, 64);
    bitnet_context *src = context(v->m, 0, BITNET_TYPE_F32, false);
    bitnet_sampler *ss = sampler(false, 3);
    assert_int_equal(bitnet_context_decode(src, p, (int32_t)np), BITNET_OK);
    generate(src, ss, 8, g, NULL);
    v->st = save_mem(src, ss, &v->size);
    bitnet_sampler_free(ss);
    bitnet_context_free(src);
    v->c = context(v->m, n_ctx, BITNET_TYPE_F32, false);
    v->s = sampler(false, 4);
    const bitnet_token mine[] = {p[0], 100, 200, 300};
    assert_int_equal(bitnet_context_decode(v->c, mine, 4), BITNET_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(bitnet_sampler_accept(v->s, mine[i]), BITNET_OK);
    take(&v->sn, v->c, v->s);
}

static void victim_free(victim *v)
{
    free(v->st);
    snapshot_free(&v->sn);
    bitnet_sampler_free(v->s);
    bitnet_context_free(v->c);
    bitnet_model_release(v->m);
}

static void test_another_model(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    victim v;
    victim_new(&v, BITNET_I2S, 0);
    bitnet_model *lm = load(LLAMA_Q4K);
    bitnet_context *lc = context(lm, 0, BITNET_TYPE_F32, false);
    bitnet_sampler *ls = sampler(false, 5);
    bitnet_token p[64];
    const size_t np = prompt_of(lm, p, 64);
    assert_int_equal(bitnet_context_decode(lc, p, (int32_t)np), BITNET_OK);
    snapshot sn;
    take(&sn, lc, ls);
    assert_int_equal(bitnet_context_state_load_memory(lc, ls, v.st, v.size), BITNET_ERR_BAD_FORMAT);
    assert_non_null(strstr(bitnet_last_error(), "fingerprint"));
    print_message("another model: %s\n", bitnet_last_error());
    same_as(&sn, lc, ls, true);
    /* The same model loaded again (another handle, from memory) matches. */
    char path[1024];
    FILE *f = fopen(fixture_path(path, sizeof path, BITNET_I2S), "rb");
    assert_non_null(f);
    static uint8_t bytes[8 << 20];
    size_t nb = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    bitnet_model *again = NULL;
    assert_int_equal(bitnet_model_load_memory(bytes, nb, NULL, &again), BITNET_OK);
    bitnet_context *ac = context(again, 0, BITNET_TYPE_F32, false);
    assert_int_equal(bitnet_context_state_load_memory(ac, NULL, v.st, v.size), BITNET_OK);
    /* A KV type that differs is refused too. */
    bitnet_context *half = context(v.m, 0, BITNET_TYPE_F16, false);
    assert_int_equal(bitnet_context_state_load_memory(half, NULL, v.st, v.size), BITNET_ERR_BAD_FORMAT);
    assert_non_null(strstr(bitnet_last_error(), "f16"));
    int32_t n;
    bitnet_context_tokens(half, &n);
    assert_int_equal(n, 0);
    bitnet_context_free(half);
    bitnet_context_free(ac);
    bitnet_model_release(again);
    snapshot_free(&sn);
    bitnet_sampler_free(ls);
    bitnet_context_free(lc);
    bitnet_model_release(lm);
    victim_free(&v);
}

static void test_truncated(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    victim v;
    victim_new(&v, BITNET_I2S, 0);
    size_t checked = 0;
    for (size_t len = 0; len < v.size; len++) {
        uint8_t *cut = malloc(len ? len : 1); /* exactly len bytes: ASan sees any over-read */
        assert_non_null(cut);
        memcpy(cut, v.st, len);
        bitnet_status s = bitnet_context_state_load_memory(v.c, v.s, cut, len);
        free(cut);
        if (s == BITNET_OK)
            fail_msg("a state truncated to %zu of %zu bytes loaded", len, v.size);
        same_as(&v.sn, v.c, v.s, len % 4096 == 0);
        checked++;
    }
    same_as(&v.sn, v.c, v.s, true);
    /* A trailing byte, or a second frame, is refused as well. */
    uint8_t *longer = malloc(2 * v.size);
    assert_non_null(longer);
    memcpy(longer, v.st, v.size);
    longer[v.size] = 0;
    assert_int_equal(bitnet_context_state_load_memory(v.c, v.s, longer, v.size + 1), BITNET_ERR_BAD_FORMAT);
    assert_non_null(strstr(bitnet_last_error(), "after"));
    memcpy(longer + v.size, v.st + BN_STATE_HEADER_SIZE, v.size - BN_STATE_HEADER_SIZE);
    assert_int_equal(bitnet_context_state_load_memory(v.c, v.s, longer, 2 * v.size - BN_STATE_HEADER_SIZE),
                     BITNET_ERR_BAD_FORMAT);
    same_as(&v.sn, v.c, v.s, true);
    print_message("%zu truncated lengths refused\n", checked);
    assert_int_equal(bitnet_context_state_load_memory(v.c, v.s, v.st, v.size), BITNET_OK);
    free(longer);
    victim_free(&v);
}

/* A state file larger than any state its header describes can be (header +
 * zstd's bound for the payload) is refused from its header, before the
 * file is read or memory is allocated for it: an 8 GiB sparse file with a
 * valid header fails at once. A file that is no state at all fails on its
 * header the same way. */
static void test_file_size_limit(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    victim v;
    victim_new(&v, BITNET_I2S, 0);
    char path[256];
    snprintf(path, sizeof path, "test_state_big_%d.bnstate", (int)getpid());
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(v.st, 1, v.size, f), v.size);
    fclose(f);
    assert_int_equal(truncate(path, (off_t)8 << 30), 0); /* sparse: no disk used */
    assert_int_equal(bitnet_context_state_load(v.c, v.s, path), BITNET_ERR_BAD_FORMAT);
    print_message("8 GiB state file: %s\n", bitnet_last_error());
    assert_non_null(strstr(bitnet_last_error(), "takes at most"));
    same_as(&v.sn, v.c, v.s, true);
    /* Just within the bound: read, then refused for the bytes after the frame. */
    const size_t bound = BN_STATE_HEADER_SIZE + ZSTD_compressBound((size_t)rd64(v.st + BN_STATE_OFF_PAYLOAD_SIZE));
    assert_int_equal(truncate(path, (off_t)bound), 0);
    assert_int_equal(bitnet_context_state_load(v.c, v.s, path), BITNET_ERR_BAD_FORMAT);
    assert_non_null(strstr(bitnet_last_error(), "after its zstd frame"));
    /* Not a state: refused on its magic, whatever its size. */
    f = fopen(path, "wb");
    assert_non_null(f);
    fputs("GGUF, not a state", f);
    fclose(f);
    assert_int_equal(truncate(path, (off_t)8 << 30), 0);
    assert_int_equal(bitnet_context_state_load(v.c, v.s, path), BITNET_ERR_BAD_FORMAT);
    assert_non_null(strstr(bitnet_last_error(), "bad magic"));
    same_as(&v.sn, v.c, v.s, true);
    unlink(path);
    victim_free(&v);
}

static void test_corrupted(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    victim v;
    victim_new(&v, BITNET_I2S, 0);
    uint8_t *bad = malloc(v.size);
    assert_non_null(bad);
    static const uint8_t flips[] = {0x01, 0x80, 0xff, 0x10, 0x5a};
    size_t checked = 0;
    uint32_t rnd = 12345;
    for (size_t off = 0; off < v.size; off++) {
        /* Every byte of the header, the frame header and the frame's end;
         * every third byte in between. */
        const bool edge = off < BN_STATE_HEADER_SIZE + 32 || off + 64 >= v.size;
        if (!edge && off % 3 != 0)
            continue;
        const int n_flips = edge ? (int)sizeof flips : 1;
        for (int k = 0; k < n_flips; k++) {
            rnd = rnd * 1103515245u + 12345u;
            const uint8_t x = edge ? flips[k] : (uint8_t)((rnd >> 16) | 1);
            memcpy(bad, v.st, v.size);
            bad[off] ^= x;
            bitnet_status s = bitnet_context_state_load_memory(v.c, v.s, bad, v.size);
            if (s == BITNET_OK)
                fail_msg("a state with byte %zu of %zu xor 0x%02x loaded", off, v.size, x);
            same_as(&v.sn, v.c, v.s, checked % 1024 == 0);
            checked++;
        }
    }
    same_as(&v.sn, v.c, v.s, true);
    print_message("%zu single-byte corruptions refused (state of %zu bytes)\n", checked, v.size);
    free(bad);
    victim_free(&v);
}

/* ---- hostile states: valid frames, wrong contents ------------------------ */

/* Decompress a state's payload (for tests that rewrite it). */
static uint8_t *payload_of(const uint8_t *st, size_t size, size_t *n)
{
    *n = (size_t)rd64(st + BN_STATE_OFF_PAYLOAD_SIZE);
    uint8_t *pl = malloc(*n ? *n : 1);
    assert_non_null(pl);
    assert_int_equal(ZSTD_decompress(pl, *n, st + BN_STATE_HEADER_SIZE, size - BN_STATE_HEADER_SIZE), *n);
    return pl;
}

/* A state of `header` (96 bytes) and `pl` compressed with or without a
 * checksum and content size. */
static uint8_t *rebuild(const uint8_t *header, const uint8_t *pl, size_t n, bool checksum, bool content_size,
                        size_t *size)
{
    const size_t bound = ZSTD_compressBound(n);
    uint8_t *st = malloc(BN_STATE_HEADER_SIZE + bound);
    assert_non_null(st);
    memcpy(st, header, BN_STATE_HEADER_SIZE);
    ZSTD_CCtx *z = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, checksum);
    ZSTD_CCtx_setParameter(z, ZSTD_c_contentSizeFlag, content_size);
    size_t r = content_size ? ZSTD_compress2(z, st + BN_STATE_HEADER_SIZE, bound, pl, n) : 0;
    if (!content_size) { /* streaming without a pledged size: no content size */
        ZSTD_outBuffer out = {st + BN_STATE_HEADER_SIZE, bound, 0};
        ZSTD_inBuffer in = {pl, n, 0};
        r = ZSTD_compressStream2(z, &out, &in, ZSTD_e_end);
        assert_int_equal(r, 0);
        r = out.pos;
    }
    ZSTD_freeCCtx(z);
    assert_false(ZSTD_isError(r));
    *size = BN_STATE_HEADER_SIZE + r;
    return st;
}

static void expect_refused(victim *v, const uint8_t *st, size_t size, bitnet_status want, const char *text)
{
    bitnet_status s = bitnet_context_state_load_memory(v->c, v->s, st, size);
    if (s != want || (text && !strstr(bitnet_last_error(), text)))
        fail_msg("got %s (%s), want %s mentioning '%s'", bitnet_status_str(s), bitnet_last_error(),
                 bitnet_status_str(want), text ? text : "");
    same_as(&v->sn, v->c, v->s, true);
}

static void test_hostile(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    victim v;
    victim_new(&v, BITNET_I2S, 0);
    uint8_t hdr[BN_STATE_HEADER_SIZE];
    memcpy(hdr, v.st, sizeof hdr);
    const uint32_t n_past = rd32(hdr + BN_STATE_OFF_N_PAST), nv = rd32(hdr + BN_STATE_OFF_N_VOCAB);
    size_t n, size;
    uint8_t *pl = payload_of(v.st, v.size, &n), *st;

    /* The unchanged payload, rebuilt, loads (the harness is right). */
    st = rebuild(hdr, pl, n, true, true, &size);
    bitnet_context *ok = context(v.m, 0, BITNET_TYPE_F32, false);
    assert_int_equal(bitnet_context_state_load_memory(ok, NULL, st, size), BITNET_OK);
    bitnet_context_free(ok);
    free(st);

    /* No checksum; no content size. */
    st = rebuild(hdr, pl, n, false, true, &size);
    expect_refused(&v, st, size, BITNET_ERR_BAD_FORMAT, "checksum");
    free(st);
    st = rebuild(hdr, pl, n, true, false, &size);
    expect_refused(&v, st, size, BITNET_ERR_BAD_FORMAT, "size");
    free(st);

    /* A token outside the vocabulary, at the first and the last position. */
    for (int i = 0; i < 2; i++) {
        uint8_t *q = malloc(n);
        memcpy(q, pl, n);
        wr32(q + (i ? 4 * (size_t)(n_past - 1) : 0), i ? 0xffffffffu : nv);
        st = rebuild(hdr, q, n, true, true, &size);
        expect_refused(&v, st, size, BITNET_ERR_BAD_FORMAT, "vocabulary");
        free(st);
        free(q);
    }
    /* The sampler section: an all-zero random state; a bad history token. */
    const uint32_t n_hist = rd32(hdr + BN_STATE_OFF_N_HISTORY);
    assert_true(n_hist > 0);
    uint8_t *q = malloc(n);
    memcpy(q, pl, n);
    memset(q + n - 4 * n_hist - 32, 0, 32);
    st = rebuild(hdr, q, n, true, true, &size);
    expect_refused(&v, st, size, BITNET_ERR_BAD_FORMAT, "random");
    free(st);
    memcpy(q, pl, n);
    wr32(q + n - 4, 0x80000000u);
    st = rebuild(hdr, q, n, true, true, &size);
    expect_refused(&v, st, size, BITNET_ERR_BAD_FORMAT, "history");
    free(st);
    free(q);

    /* Headers whose counts disagree with the payload or with each other. */
    uint8_t h2[BN_STATE_HEADER_SIZE];
    memcpy(h2, hdr, sizeof h2);
    wr64(h2 + BN_STATE_OFF_PAYLOAD_SIZE, n + 4); /* counts say n */
    st = rebuild(h2, pl, n, true, true, &size);
    expect_refused(&v, st, size, BITNET_ERR_BAD_FORMAT, "payload size");
    free(st);
    memcpy(h2, hdr, sizeof h2);
    wr32(h2 + BN_STATE_OFF_N_LOGITS, n_past + 1);
    st = rebuild(h2, pl, n, true, true, &size);
    expect_refused(&v, st, size, BITNET_ERR_BAD_FORMAT, "logits");
    free(st);
    memcpy(h2, hdr, sizeof h2);
    wr32(h2 + BN_STATE_OFF_N_HISTORY, 0xffffffffu); /* a payload size that overflows nothing but is absurd */
    wr64(h2 + BN_STATE_OFF_PAYLOAD_SIZE, n - 4ull * n_hist + 4ull * 0xffffffffu);
    st = rebuild(h2, pl, n, true, true, &size);
    expect_refused(&v, st, size, BITNET_ERR_BAD_FORMAT, "limit");
    free(st);
    memcpy(h2, hdr, sizeof h2);
    wr32(h2 + BN_STATE_OFF_N_LAYER, 0x40000000u); /* the payload size overflows 64 bits */
    wr32(h2 + BN_STATE_OFF_KV_DIM, 0x40000000u);
    st = rebuild(h2, pl, n, true, true, &size);
    expect_refused(&v, st, size, BITNET_ERR_BAD_FORMAT, NULL);
    free(st);
    memcpy(h2, hdr, sizeof h2);
    wr32(h2 + BN_STATE_OFF_FLAGS, 3);
    st = rebuild(h2, pl, n, true, true, &size);
    expect_refused(&v, st, size, BITNET_ERR_BAD_FORMAT, "flags");
    free(st);
    memcpy(h2, hdr, sizeof h2);
    wr32(h2 + BN_STATE_OFF_VERSION, 2);
    st = rebuild(h2, pl, n, true, true, &size);
    expect_refused(&v, st, size, BITNET_ERR_BAD_FORMAT, "version");
    free(st);
    /* n_past far beyond any context, with a consistent payload size. */
    memcpy(h2, hdr, sizeof h2);
    wr32(h2 + BN_STATE_OFF_N_PAST, 1u << 30);
    st = rebuild(h2, pl, n, true, true, &size);
    expect_refused(&v, st, size, BITNET_ERR_BAD_FORMAT, "payload size");
    free(st);
    /* Arguments. */
    assert_int_equal(bitnet_context_state_load_memory(NULL, NULL, v.st, v.size), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_context_state_load_memory(v.c, NULL, NULL, 5), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_context_state_load(v.c, NULL, "/nonexistent/dir/state"), BITNET_ERR_IO);
    assert_non_null(strstr(bitnet_last_error(), "/nonexistent/dir/state"));
    assert_int_equal(bitnet_context_state_save(v.c, NULL, "/nonexistent/dir/state"), BITNET_ERR_IO);
    assert_int_equal(bitnet_context_state_load(v.c, NULL, "."), BITNET_ERR_IO);
    same_as(&v.sn, v.c, v.s, true);
    free(pl);
    victim_free(&v);
}

/* ---- a context too small ---------------------------------------------------- */

static void test_context_too_small(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    victim v;
    victim_new(&v, BITNET_I2S, 8); /* the state holds more than 8 positions */
    assert_true(rd32(v.st + BN_STATE_OFF_N_PAST) > 8);
    assert_int_equal(bitnet_context_state_load_memory(v.c, v.s, v.st, v.size), BITNET_ERR_OUT_OF_RANGE);
    print_message("n_ctx 8: %s\n", bitnet_last_error());
    same_as(&v.sn, v.c, v.s, true);
    /* Exactly n_past positions are enough. */
    bitnet_context *fit = context(v.m, (int32_t)rd32(v.st + BN_STATE_OFF_N_PAST), BITNET_TYPE_F32, false);
    assert_int_equal(bitnet_context_state_load_memory(fit, v.s, v.st, v.size), BITNET_OK);
    const bitnet_token t = 1;
    assert_int_equal(bitnet_context_decode(fit, &t, 1), BITNET_ERR_CONTEXT_FULL);
    bitnet_context_free(fit);
    victim_free(&v);
}

/* ---- allocation failures --------------------------------------------------- */

typedef enum op { SAVE_MEMORY, SAVE_FILE, LOAD_MEMORY, LOAD_FILE } op;

static void alloc_sweep(victim *v, op which, const char *path, const char *label)
{
    long n;
    for (n = 0; n < 10000; n++) {
        unsigned long before = bn_alloc_failures();
        uint8_t *buf = malloc(v->size + 16);
        size_t size = 0;
        assert_non_null(buf);
        bn_alloc_fail_after(n);
        bitnet_status s;
        switch (which) {
        case SAVE_MEMORY: s = bitnet_context_state_save_memory(v->c, v->s, buf, v->size + 16, &size); break;
        case SAVE_FILE: s = bitnet_context_state_save(v->c, v->s, path); break;
        case LOAD_MEMORY: s = bitnet_context_state_load_memory(v->c, v->s, v->st, v->size); break;
        default: s = bitnet_context_state_load(v->c, v->s, path); break;
        }
        bn_alloc_fail_after(-1);
        free(buf);
        const bool injected = bn_alloc_failures() != before;
        if (s != BITNET_OK && s != BITNET_ERR_OUT_OF_MEMORY)
            fail_msg("%s: failing allocation %ld gave %s: %s", label, n, bitnet_status_str(s), bitnet_last_error());
        if (s == BITNET_ERR_OUT_OF_MEMORY && !injected)
            fail_msg("%s: OUT_OF_MEMORY without an injected failure", label);
        if (s != BITNET_OK && (which == LOAD_MEMORY || which == LOAD_FILE))
            same_as(&v->sn, v->c, v->s, true);
        if (!injected) {
            assert_int_equal(s, BITNET_OK);
            break;
        }
    }
    print_message("%s: %ld allocation points checked\n", label, n);
    assert_true(n >= 2);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    victim v;
    victim_new(&v, LLAMA_Q4K, 0);
    char path[256];
    snprintf(path, sizeof path, "test_state_alloc_%d.bnstate", (int)getpid());
    alloc_sweep(&v, SAVE_MEMORY, path, "save to memory");
    alloc_sweep(&v, SAVE_FILE, path, "save to a file");
    /* The file now holds the victim's own state; load the other one. */
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(v.st, 1, v.size, f), v.size);
    fclose(f);
    alloc_sweep(&v, LOAD_MEMORY, path, "load from memory");
    bitnet_context_clear(v.c); /* the sweep's last load succeeded: take a fresh baseline */
    bitnet_sampler_reset(v.s);
    snapshot_free(&v.sn);
    take(&v.sn, v.c, v.s);
    alloc_sweep(&v, LOAD_FILE, path, "load from a file");
    unlink(path);
    victim_free(&v);

    /* Every row of a logits_all state into a logits_all context whose
     * buffer must grow, and a history into a sampler that has none yet. */
    victim w;
    memset(&w, 0, sizeof w);
    w.m = load(LLAMA_Q4K);
    bitnet_token p[64];
    const size_t np = prompt_of(w.m, p, 64);
    bitnet_context *src = context(w.m, 0, BITNET_TYPE_F32, true);
    bitnet_sampler *ss = sampler(false, 3);
    assert_int_equal(bitnet_context_decode(src, p, (int32_t)np), BITNET_OK);
    for (size_t i = 0; i < np; i++)
        assert_int_equal(bitnet_sampler_accept(ss, p[i]), BITNET_OK);
    w.st = save_mem(src, ss, &w.size);
    bitnet_sampler_free(ss);
    bitnet_context_free(src);
    bitnet_context_params cp = bitnet_context_params_default();
    cp.logits_all = true;
    cp.n_batch = 2;
    assert_int_equal(bitnet_context_new(w.m, &cp, &w.c), BITNET_OK);
    w.s = sampler(false, 4);
    take(&w.sn, w.c, w.s);
    alloc_sweep(&w, LOAD_MEMORY, path, "load from memory, logits rows and history grow");
    assert_non_null(bitnet_context_logits(w.c, (int32_t)np - 1));
    assert_int_equal(bn_sampler_get_history(w.s, NULL), 8);
    victim_free(&w);
}

/* ---- the two-call size query ------------------------------------------------- */

static void test_size_query(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    victim v;
    victim_new(&v, BITNET_I2S, 0);
    size_t need = 0, got = 0;
    assert_int_equal(bitnet_context_state_save_memory(v.c, v.s, NULL, 0, &need), BITNET_ERR_BUFFER_TOO_SMALL);
    assert_true(need > BN_STATE_HEADER_SIZE);
    uint8_t *buf = malloc(need + 8);
    assert_non_null(buf);
    memset(buf, 0xab, need + 8);
    assert_int_equal(bitnet_context_state_save_memory(v.c, v.s, buf, need - 1, &got), BITNET_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(got, need);
    for (size_t i = 0; i < need + 8; i++)
        assert_int_equal(buf[i], 0xab); /* nothing written */
    assert_int_equal(bitnet_context_state_save_memory(v.c, v.s, buf, need + 8, &got), BITNET_OK);
    assert_int_equal(got, need);
    assert_int_equal(buf[need], 0xab);
    assert_memory_equal(buf, "BNSTATE", 8);
    assert_int_equal(bitnet_context_state_save_memory(v.c, v.s, NULL, 4, &got), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_context_state_save_memory(v.c, v.s, buf, need, NULL), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_context_state_save_memory(NULL, v.s, buf, need, &got), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_context_state_save(v.c, v.s, NULL), BITNET_ERR_INVALID_ARGUMENT);
    /* An empty context saves and loads too. */
    bitnet_context *empty = context(v.m, 16, BITNET_TYPE_F32, false);
    size_t n_empty;
    uint8_t *e = save_mem(empty, NULL, &n_empty);
    assert_int_equal(bitnet_context_state_load_memory(v.c, NULL, e, n_empty), BITNET_OK);
    int32_t n = -1;
    bitnet_context_tokens(v.c, &n);
    assert_int_equal(n, 0);
    assert_null(bitnet_context_logits(v.c, -1));
    free(e);
    bitnet_context_free(empty);
    free(buf);
    victim_free(&v);
}

/* ---- sha256 and the fingerprint ------------------------------------------------ */

static void hex(const uint8_t *d, char *out)
{
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_sha256(void **state)
{
    (void)state;
    static const struct {
        const char *msg, *digest;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
         "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    };
    uint8_t d[32];
    char h[65];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        bn_sha256_digest(v[i].msg, strlen(v[i].msg), d);
        hex(d, h);
        assert_string_equal(h, v[i].digest);
    }
    /* A million 'a', fed in uneven pieces. */
    static char a[1000000];
    memset(a, 'a', sizeof a);
    bn_sha256 c;
    bn_sha256_init(&c);
    for (size_t off = 0, step = 1; off < sizeof a; off += step, step = step * 7 % 1000 + 1)
        bn_sha256_update(&c, a + off, off + step <= sizeof a ? step : sizeof a - off);
    bn_sha256_final(&c, d);
    hex(d, h);
    assert_string_equal(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

typedef struct fp_job {
    bitnet_model *m;
    uint8_t d[32];
} fp_job;

static void *fp_thread(void *arg)
{
    fp_job *j = arg;
    bn_model_fingerprint(j->m, j->d);
    return NULL;
}

/* First use from several threads at once: one digest, and the one a file
 * of the same bytes has. */
static void test_fingerprint_threads(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *m = load(BITNET_I2S), *l = load(LLAMA_Q4K);
    fp_job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i].m = m;
        assert_int_equal(pthread_create(&th[i], NULL, fp_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    uint8_t again[32], other[32];
    bn_model_fingerprint(m, again);
    bn_model_fingerprint(l, other);
    for (int i = 0; i < 4; i++)
        assert_memory_equal(jobs[i].d, again, 32);
    assert_memory_not_equal(again, other, 32);
    char h[65];
    hex(again, h);
    print_message("fingerprint of %s: %s\n", BITNET_I2S, h);
    bitnet_model_release(m);
    bitnet_model_release(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_fingerprint_threads),
        cmocka_unit_test(test_context_tokens),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_sampler_optional_and_logits_rows),
        cmocka_unit_test(test_another_model),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_file_size_limit),
        cmocka_unit_test(test_corrupted),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_context_too_small),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_size_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
