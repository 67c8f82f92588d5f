/* Sampler: params, greedy, determinism, distributions (against softmax and a
 * sort-everything reference of the filter chain), penalties, masking, the
 * random stream and allocation failures. */
#include <math.h>
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
#include "core/alloc.h"
#include "sampler/sampler_internal.h"

#define MAXV 64 /* vocabulary of the small hand-made cases */

static bitnet_sampler *make(const bitnet_sampler_params *p)
{
    bitnet_sampler *s = NULL;
    bitnet_status st = bitnet_sampler_new(p, &s);
    if (st != BITNET_OK)
        fail_msg("bitnet_sampler_new: %s: %s", bitnet_status_str(st), bitnet_last_error());
    return s;
}

/* No filters, no penalties: plain softmax at `temperature`. */
static bitnet_sampler_params plain(float temperature, uint64_t seed)
{
    bitnet_sampler_params p = bitnet_sampler_params_default();
    p.temperature = temperature;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = seed;
    return p;
}

static bitnet_token sample(bitnet_sampler *s, const float *logits, int32_t n)
{
    bitnet_token t = -1;
    bitnet_status st = bitnet_sampler_sample(s, logits, n, &t);
    if (st != BITNET_OK)
        fail_msg("bitnet_sampler_sample: %s: %s", bitnet_status_str(st), bitnet_last_error());
    assert_true(t >= 0 && t < n);
    return t;
}

/* Test-side generator for logits, independent of the library's. */
static uint32_t lcg(uint32_t *x)
{
    *x = *x * 1664525u + 1013904223u;
    return *x >> 8;
}

static float rand_logit(uint32_t *x, float lo, float hi)
{
    return lo + (hi - lo) * (float)lcg(x) / (float)(1u << 24);
}

static void draw_counts(bitnet_sampler *s, const float *logits, int32_t n, int draws, long *counts)
{
    memset(counts, 0, (size_t)n * sizeof *counts);
    for (int i = 0; i < draws; i++)
        counts[sample(s, logits, n)]++;
}

/* Each count within 4 sigma of the binomial expectation (a fixed seed makes
 * the run reproducible; 4 rather than 3 sigma keeps many bins from tripping
 * by chance while a real bias is still far outside). */
static void check_frequencies(const long *counts, const double *expected, int32_t n, int draws)
{
    for (int32_t i = 0; i < n; i++) {
        double mean = draws * expected[i];
        double sigma = sqrt(draws * expected[i] * (1.0 - expected[i]));
        if (expected[i] == 0.0 && counts[i] != 0)
            fail_msg("token %d drawn %ld times but excluded", (int)i, counts[i]);
        if (fabs((double)counts[i] - mean) > 4.0 * sigma + 1.0)
            fail_msg("token %d drawn %ld times, expected %.1f +- %.1f", (int)i, counts[i], mean, sigma);
    }
}

static void softmax(const float *logits, const bool *allowed, int32_t n, double temperature, double *out)
{
    double max = -INFINITY, sum = 0.0;
    for (int32_t i = 0; i < n; i++)
        if (allowed[i] && logits[i] > max)
            max = logits[i];
    for (int32_t i = 0; i < n; i++) {
        out[i] = allowed[i] ? exp((logits[i] - max) / temperature) : 0.0;
        sum += out[i];
    }
    for (int32_t i = 0; i < n; i++)
        out[i] /= sum;
}

/* Reference filter chain (no penalties): sort everything, then top-k, top-p,
 * min-p exactly as documented. Marks the survivors; returns their count. */
static const float *ref_logits;
static int by_logit_desc(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (ref_logits[x] != ref_logits[y])
        return ref_logits[x] > ref_logits[y] ? -1 : 1;
    return x < y ? -1 : 1;
}

static int32_t ref_allowed(const float *logits, int32_t n, const bitnet_sampler_params *p, bool *allowed)
{
    int32_t *order = malloc((size_t)n * sizeof *order);
    assert_non_null(order);
    int32_t live = 0;
    for (int32_t i = 0; i < n; i++)
        if (logits[i] > -INFINITY)
            order[live++] = i;
    ref_logits = logits;
    qsort(order, (size_t)live, sizeof *order, by_logit_desc);
    int32_t k = p->top_k > 0 && p->top_k < live ? p->top_k : live;
    double max = logits[order[0]], mass = 0.0, cum = 0.0;
    for (int32_t i = 0; i < k; i++)
        mass += exp(logits[order[i]] - max);
    if (p->top_p < 1.0f) {
        for (int32_t i = 0; i < k; i++) {
            cum += exp(logits[order[i]] - max) / mass;
            if (cum >= p->top_p) {
                k = i + 1;
                break;
            }
        }
    }
    memset(allowed, 0, (size_t)n * sizeof *allowed);
    int32_t kept = 0;
    for (int32_t i = 0; i < k; i++)
        if (p->min_p <= 0.0f || exp(logits[order[i]] - max) >= p->min_p) {
            allowed[order[i]] = true;
            kept++;
        }
    free(order);
    return kept;
}

/* ------------------------------------------------------------------------ */

static void test_defaults(void **state)
{
    (void)state;
    bitnet_sampler_params p = bitnet_sampler_params_default();
    assert_int_equal(p.struct_size, sizeof p);
    assert_true(p.temperature == 0.8f);
    assert_int_equal(p.top_k, 40);
    assert_true(p.top_p == 0.95f);
    assert_true(p.min_p == 0.05f);
    assert_true(p.repeat_penalty == 1.0f);
    assert_true(p.frequency_penalty == 0.0f);
    assert_true(p.presence_penalty == 0.0f);
    assert_int_equal(p.penalty_last_n, 64);
    assert_int_equal(p.seed, 0);
    bitnet_sampler *s = make(&p);
    bitnet_sampler_free(s);
    s = make(NULL); /* NULL params: the defaults, as for models */
    bitnet_sampler_free(s);
}

static void test_struct_size(void **state)
{
    (void)state;
    bitnet_sampler_params p = bitnet_sampler_params_default();
    bitnet_sampler *s = (bitnet_sampler *)0x1;
    size_t bad[] = {0, 3, sizeof p + 1, (size_t)-1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p.struct_size = bad[i];
        assert_int_equal(bitnet_sampler_new(&p, &s), BITNET_ERR_INVALID_ARGUMENT);
        assert_null(s);
        assert_non_null(strstr(bitnet_last_error(), "struct_size"));
    }
    /* An older, shorter struct: the missing fields (seed) take defaults. */
    p = bitnet_sampler_params_default();
    p.struct_size = offsetof(bitnet_sampler_params, seed);
    p.seed = 1234;
    bitnet_sampler *old = make(&p);
    bitnet_sampler *def = make(NULL);
    uint64_t a[4], b[4];
    bn_sampler_get_rng(old, a);
    bn_sampler_get_rng(def, b);
    assert_memory_equal(a, b, sizeof a);
    bitnet_sampler_free(old);
    bitnet_sampler_free(def);
}

static void expect_bad(bitnet_sampler_params p, const char *field)
{
    bitnet_sampler *s = (bitnet_sampler *)0x1;
    assert_int_equal(bitnet_sampler_new(&p, &s), BITNET_ERR_INVALID_ARGUMENT);
    assert_null(s);
    if (!strstr(bitnet_last_error(), field))
        fail_msg("error \"%s\" does not name %s", bitnet_last_error(), field);
}

static void test_bad_params(void **state)
{
    (void)state;
    const bitnet_sampler_params d = bitnet_sampler_params_default();
    bitnet_sampler_params p;
    p = d, p.temperature = NAN, expect_bad(p, "temperature");
    p = d, p.temperature = INFINITY, expect_bad(p, "temperature");
    p = d, p.top_p = NAN, expect_bad(p, "top_p");
    p = d, p.top_p = -0.1f, expect_bad(p, "top_p");
    p = d, p.min_p = NAN, expect_bad(p, "min_p");
    p = d, p.repeat_penalty = NAN, expect_bad(p, "repeat_penalty");
    p = d, p.repeat_penalty = 0.0f, expect_bad(p, "repeat_penalty");
    p = d, p.repeat_penalty = -1.0f, expect_bad(p, "repeat_penalty");
    p = d, p.frequency_penalty = NAN, expect_bad(p, "frequency_penalty");
    p = d, p.presence_penalty = -INFINITY, expect_bad(p, "presence_penalty");
    p = d, p.penalty_last_n = -1, expect_bad(p, "penalty_last_n");
    /* Meaningful edge values are accepted: negative temperature is greedy,
     * top_p 0 keeps one token, negative penalties encourage repeats. */
    p = d, p.temperature = -1.0f, p.top_p = 0.0f, p.min_p = -1.0f, p.top_k = -5;
    p.frequency_penalty = -0.5f, p.presence_penalty = -0.5f, p.penalty_last_n = 0;
    bitnet_sampler_free(make(&p));
}

static void test_bad_arguments(void **state)
{
    (void)state;
    float logits[4] = {0.0f, 1.0f, 2.0f, 3.0f};
    bitnet_token t = 7;
    bitnet_sampler *s = make(NULL);
    assert_int_equal(bitnet_sampler_new(NULL, NULL), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_sampler_sample(NULL, logits, 4, &t), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(t, BITNET_TOKEN_NULL);
    assert_int_equal(bitnet_sampler_sample(s, NULL, 4, &t), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_sampler_sample(s, logits, 4, NULL), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_sampler_sample(s, logits, 0, &t), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_sampler_sample(s, logits, -3, &t), BITNET_ERR_INVALID_ARGUMENT);
    logits[2] = NAN;
    assert_int_equal(bitnet_sampler_sample(s, logits, 4, &t), BITNET_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(bitnet_last_error(), "NaN"));
    assert_non_null(strstr(bitnet_last_error(), "2"));
    assert_int_equal(bitnet_sampler_accept(s, -1), BITNET_ERR_OUT_OF_RANGE);
    assert_int_equal(bitnet_sampler_accept(NULL, 1), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_sampler_accept(s, 1000000), BITNET_OK); /* beyond any vocab: ignored */
    logits[2] = 2.0f;
    assert_int_equal(bitnet_sampler_sample(s, logits, 4, &t), BITNET_OK);
    bitnet_sampler_free(s);
    bitnet_sampler_free(NULL);
    bitnet_sampler_reset(NULL);
}

static void test_greedy(void **state)
{
    (void)state;
    bitnet_sampler_params p = bitnet_sampler_params_default();
    p.temperature = 0.0f;
    bitnet_sampler *s = make(&p);
    float a[6] = {0.5f, -1.0f, 3.0f, 2.9f, -INFINITY, 1.0f};
    assert_int_equal(sample(s, a, 6), 2);
    float ties[5] = {1.0f, 4.0f, 2.0f, 4.0f, 4.0f};
    for (int i = 0; i < 10; i++)
        assert_int_equal(sample(s, ties, 5), 1);
    float masked[3] = {-INFINITY, -INFINITY, -7.0f};
    assert_int_equal(sample(s, masked, 3), 2);
    bitnet_sampler_free(s);

    p.temperature = -2.0f; /* any temperature <= 0 is greedy */
    s = make(&p);
    assert_int_equal(sample(s, ties, 5), 1);
    bitnet_sampler_free(s);
}

static void test_top_k_one_is_greedy(void **state)
{
    (void)state;
    const float temps[] = {0.05f, 1.0f, 5.0f, 1000.0f};
    float logits[500];
    uint32_t x = 7;
    for (size_t ti = 0; ti < sizeof temps / sizeof temps[0]; ti++) {
        bitnet_sampler_params p = plain(temps[ti], 99);
        p.top_k = 1;
        bitnet_sampler *s = make(&p);
        for (int round = 0; round < 50; round++) {
            int32_t best = 0;
            for (int32_t i = 0; i < 500; i++) {
                logits[i] = (float)(lcg(&x) % 64); /* many ties */
                if (logits[i] > logits[best])
                    best = i;
            }
            assert_int_equal(sample(s, logits, 500), best);
        }
        bitnet_sampler_free(s);
    }
}

static void sequence(uint64_t seed, const float *logits, int32_t n, bitnet_token *out, int count)
{
    bitnet_sampler_params p = plain(1.0f, seed);
    bitnet_sampler *s = make(&p);
    for (int i = 0; i < count; i++)
        out[i] = sample(s, logits, n);
    bitnet_sampler_free(s);
}

static void test_seed_determinism(void **state)
{
    (void)state;
    float logits[100];
    for (int i = 0; i < 100; i++)
        logits[i] = 0.0f; /* uniform: every draw carries information */
    bitnet_token a[200], b[200], c[200];
    sequence(42, logits, 100, a, 200);
    sequence(42, logits, 100, b, 200);
    sequence(43, logits, 100, c, 200);
    assert_memory_equal(a, b, sizeof a);
    int same = 0;
    for (int i = 0; i < 200; i++)
        same += a[i] == c[i];
    assert_true(same < 20); /* ~2 expected by chance */
}

static void test_softmax_frequencies(void **state)
{
    (void)state;
    const float logits[8] = {1.0f, 0.0f, -0.5f, 2.0f, 0.3f, -2.0f, 1.5f, 0.9f};
    bool all[8];
    for (int i = 0; i < 8; i++)
        all[i] = true;
    const float temps[] = {1.0f, 0.5f, 2.0f};
    for (size_t ti = 0; ti < sizeof temps / sizeof temps[0]; ti++) {
        bitnet_sampler_params p = plain(temps[ti], 2024 + ti);
        bitnet_sampler *s = make(&p);
        long counts[8];
        double expected[8];
        draw_counts(s, logits, 8, 20000, counts);
        softmax(logits, all, 8, temps[ti], expected);
        check_frequencies(counts, expected, 8, 20000);
        bitnet_sampler_free(s);
    }
}

static void test_top_p_min_p_exclude(void **state)
{
    (void)state;
    /* Probabilities 0.5, 0.3, 0.15, 0.04, 0.01. */
    const double probs[5] = {0.5, 0.3, 0.15, 0.04, 0.01};
    float logits[5];
    for (int i = 0; i < 5; i++)
        logits[i] = (float)log(probs[i]);
    long counts[5];

    bitnet_sampler_params p = plain(1.0f, 5);
    p.top_p = 0.75f; /* 0.5 < 0.75 <= 0.8: tokens 0 and 1 */
    bitnet_sampler *s = make(&p);
    draw_counts(s, logits, 5, 5000, counts);
    assert_true(counts[0] > 0 && counts[1] > 0);
    assert_true(counts[2] == 0 && counts[3] == 0 && counts[4] == 0);
    bitnet_sampler_free(s);

    p = plain(1.0f, 6);
    p.min_p = 0.1f; /* p < 0.05 goes: tokens 3 and 4 */
    s = make(&p);
    draw_counts(s, logits, 5, 5000, counts);
    assert_true(counts[0] > 0 && counts[1] > 0 && counts[2] > 0);
    assert_true(counts[3] == 0 && counts[4] == 0);
    bitnet_sampler_free(s);

    p = plain(1.0f, 7);
    p.top_p = 0.0f; /* keeps the single best */
    s = make(&p);
    draw_counts(s, logits, 5, 200, counts);
    assert_int_equal(counts[0], 200);
    bitnet_sampler_free(s);

    p = plain(1.0f, 8);
    p.min_p = 5.0f; /* nonsensical but harmless: only the most likely survive */
    s = make(&p);
    float tie[4] = {1.0f, 3.0f, 3.0f, 0.0f};
    draw_counts(s, tie, 4, 400, counts);
    assert_true(counts[1] > 100 && counts[2] > 100 && counts[0] == 0 && counts[3] == 0);
    bitnet_sampler_free(s);
}

/* Top-p without top-k over a big vocabulary: the kept set (about 930 tokens)
 * ends inside a run of equal logits, where the lowest ids must win. */
static void test_top_p_wide_set(void **state)
{
    (void)state;
    enum { N = 50000, HIGH = 1000, START = 20000 };
    float *logits = malloc(N * sizeof *logits);
    assert_non_null(logits);
    for (int i = 0; i < N; i++)
        logits[i] = i >= START && i < START + HIGH ? 5.0f : 0.0f;
    double total = HIGH * exp(5.0) + (N - HIGH);
    int cut = 0; /* smallest m with m e^5 / total >= p; ties keep the lowest ids */
    while (cut * exp(5.0) / total < 0.7)
        cut++;
    bitnet_sampler_params p = plain(1.0f, 11);
    p.top_p = 0.7f;
    bitnet_sampler *s = make(&p);
    int lo = N, hi = -1;
    for (int i = 0; i < 1000; i++) {
        bitnet_token t = sample(s, logits, N);
        lo = t < lo ? t : lo;
        hi = t > hi ? t : hi;
    }
    assert_true(lo >= START && hi < START + cut);
    assert_true(hi > START + cut - 30); /* the set does reach the cut */
    bitnet_sampler_free(s);
    free(logits);
}

/* Random logits and filter settings against the sort-everything reference:
 * nothing outside the reference set is ever drawn, and small sets match the
 * renormalized softmax at the temperature. */
static void test_chain_matches_reference(void **state)
{
    (void)state;
    enum { N = 500 };
    float *logits = malloc(N * sizeof *logits);
    bool *allowed = malloc(N * sizeof *allowed);
    long *counts = malloc(N * sizeof *counts);
    double *expected = malloc(N * sizeof *expected);
    assert_true(logits && allowed && counts && expected);
    const int32_t ks[] = {0, 3, 40, 5000};
    const float ps[] = {1.0f, 0.3f, 0.9f};
    const float mins[] = {0.0f, 0.05f, 0.3f};
    uint32_t x = 12345;
    uint64_t seed = 1;
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 3; b++)
            for (size_t c = 0; c < 3; c++) {
                for (int i = 0; i < N; i++)
                    logits[i] = lcg(&x) % 5 == 0 ? -INFINITY : rand_logit(&x, -4.0f, 4.0f);
                logits[lcg(&x) % N] = 6.0f; /* a clear favourite keeps small sets small */
                bitnet_sampler_params p = plain(0.7f, seed++);
                p.top_k = ks[a], p.top_p = ps[b], p.min_p = mins[c];
                int32_t kept = ref_allowed(logits, N, &p, allowed);
                bitnet_sampler *s = make(&p);
                int draws = kept <= 16 ? 20000 : 3000;
                draw_counts(s, logits, N, draws, counts);
                for (int i = 0; i < N; i++)
                    if (counts[i] && !allowed[i])
                        fail_msg("k=%d p=%g min_p=%g: token %d drawn but outside the set", (int)p.top_k,
                                 (double)p.top_p, (double)p.min_p, i);
                if (kept <= 16) {
                    softmax(logits, allowed, N, p.temperature, expected);
                    check_frequencies(counts, expected, N, draws);
                }
                bitnet_sampler_free(s);
            }
    free(logits);
    free(allowed);
    free(counts);
    free(expected);
}

static bitnet_token greedy_after(const bitnet_sampler_params *base, const float *logits, int32_t n,
                                 const bitnet_token *hist, int n_hist)
{
    bitnet_sampler_params p = *base;
    p.temperature = 0.0f;
    bitnet_sampler *s = make(&p);
    for (int i = 0; i < n_hist; i++)
        assert_int_equal(bitnet_sampler_accept(s, hist[i]), BITNET_OK);
    bitnet_token t = sample(s, logits, n);
    bitnet_sampler_free(s);
    return t;
}

static void test_penalties(void **state)
{
    (void)state;
    const bitnet_token once[1] = {0}, thrice[3] = {0, 0, 0}, twice[2] = {0, 0}, five[5] = {0, 0, 0, 0, 0};
    bitnet_sampler_params p = bitnet_sampler_params_default();

    p.repeat_penalty = 1.1f; /* positive logit divided: 2.0 -> 1.82 < 1.9 */
    const float pos[2] = {2.0f, 1.9f};
    assert_int_equal(greedy_after(&p, pos, 2, NULL, 0), 0);
    assert_int_equal(greedy_after(&p, pos, 2, once, 1), 1);
    const float neg[2] = {-1.0f, -1.05f}; /* negative multiplied: -1.0 -> -1.1 */
    assert_int_equal(greedy_after(&p, neg, 2, once, 1), 1);
    const float distinct[2] = {2.0f, 1.7f}; /* once per distinct token: 1.82, not 1.50 */
    assert_int_equal(greedy_after(&p, distinct, 2, thrice, 3), 0);

    p = bitnet_sampler_params_default();
    p.frequency_penalty = 0.6f; /* 3 - n * 0.6 */
    const float freq[2] = {3.0f, 2.0f};
    assert_int_equal(greedy_after(&p, freq, 2, once, 1), 0);
    assert_int_equal(greedy_after(&p, freq, 2, twice, 2), 1);

    p = bitnet_sampler_params_default();
    p.presence_penalty = 0.9f; /* 3 - 0.9 whatever the count */
    assert_int_equal(greedy_after(&p, freq, 2, five, 5), 0);
    p.presence_penalty = 1.5f;
    assert_int_equal(greedy_after(&p, freq, 2, once, 1), 1);

    /* Only the last penalty_last_n tokens count. */
    p.penalty_last_n = 2;
    const bitnet_token old[3] = {0, 5, 6}, recent[3] = {5, 0, 6};
    assert_int_equal(greedy_after(&p, freq, 2, old, 3), 0);
    assert_int_equal(greedy_after(&p, freq, 2, recent, 3), 1);
    p.penalty_last_n = 0;
    assert_int_equal(greedy_after(&p, freq, 2, once, 1), 0);

    /* Masked tokens stay masked under a negative (encouraging) penalty. */
    p = bitnet_sampler_params_default();
    p.presence_penalty = -100.0f;
    const float masked[2] = {-INFINITY, 0.0f};
    assert_int_equal(greedy_after(&p, masked, 2, once, 1), 1);
}

/* The window is a ring once full: long histories keep only the newest. */
static void test_penalty_window_ring(void **state)
{
    (void)state;
    bitnet_sampler_params p = bitnet_sampler_params_default();
    p.temperature = 0.0f;
    p.presence_penalty = 100.0f; /* pushes any recent token below every other */
    p.penalty_last_n = 40; /* not a power of two, larger than the first buffer */
    bitnet_sampler *s = make(&p);
    float logits[MAXV];
    for (int i = 0; i < MAXV; i++)
        logits[i] = (float)(MAXV - i); /* token 0 best */
    for (int round = 0; round < 500; round++) {
        /* Each greedy choice is penalized next time: a cycle over 41 tokens. */
        bitnet_token t = sample(s, logits, MAXV);
        assert_int_equal(t, round % 41);
        assert_int_equal(bitnet_sampler_accept(s, t), BITNET_OK);
    }
    bitnet_sampler_free(s);
}

static void test_reset(void **state)
{
    (void)state;
    float logits[50];
    for (int i = 0; i < 50; i++)
        logits[i] = (float)(i % 7) * 0.3f;
    bitnet_sampler_params p = plain(1.0f, 77);
    p.presence_penalty = 0.5f;
    bitnet_sampler *s = make(&p);
    bitnet_token a[100], b[100];
    for (int i = 0; i < 100; i++) {
        a[i] = sample(s, logits, 50);
        assert_int_equal(bitnet_sampler_accept(s, a[i]), BITNET_OK);
    }
    bitnet_sampler_reset(s); /* forgets history and restarts the stream */
    for (int i = 0; i < 100; i++) {
        b[i] = sample(s, logits, 50);
        assert_int_equal(bitnet_sampler_accept(s, b[i]), BITNET_OK);
    }
    assert_memory_equal(a, b, sizeof a);
    bitnet_sampler_free(s);
}

static void test_infinities(void **state)
{
    (void)state;
    float logits[MAXV];
    for (int i = 0; i < MAXV; i++)
        logits[i] = i % 3 == 0 ? 0.0f : -INFINITY;
    const int32_t ks[] = {0, 5, 1000};
    for (size_t a = 0; a < 3; a++) {
        bitnet_sampler_params p = plain(1.5f, 3 + a);
        p.top_k = ks[a];
        p.top_p = a == 1 ? 0.5f : 1.0f;
        bitnet_sampler *s = make(&p);
        for (int i = 0; i < 2000; i++)
            assert_int_equal(sample(s, logits, MAXV) % 3, 0);
        bitnet_sampler_free(s);
    }

    bitnet_sampler *s = make(NULL);
    bitnet_token t = 5;
    for (int i = 0; i < MAXV; i++)
        logits[i] = -INFINITY;
    assert_int_equal(bitnet_sampler_sample(s, logits, MAXV, &t), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(t, BITNET_TOKEN_NULL);
    assert_non_null(strstr(bitnet_last_error(), "-inf"));
    logits[17] = -1e30f;
    assert_int_equal(sample(s, logits, MAXV), 17);

    /* +inf logits take all the mass, shared equally. */
    for (int i = 0; i < MAXV; i++)
        logits[i] = (float)i;
    logits[3] = logits[40] = INFINITY;
    long counts[MAXV];
    draw_counts(s, logits, MAXV, 2000, counts);
    assert_int_equal(counts[3] + counts[40], 2000);
    assert_true(counts[3] > 800 && counts[40] > 800);
    bitnet_sampler_free(s);
}

static void test_rng_stream(void **state)
{
    (void)state;
    bitnet_sampler_params p = plain(1.0f, 0);
    bitnet_sampler *s = make(&p);
    uint64_t st[4], st2[4];
    bn_sampler_get_rng(s, st);
    /* splitmix64 from 0: published reference outputs pin the seeding. */
    assert_true(st[0] == UINT64_C(0xe220a8397b1dcdaf));
    assert_true(st[1] == UINT64_C(0x6e789e6aa1b965f4));
    assert_true(st[2] == UINT64_C(0x06c45d188009454f));
    assert_true(st[3] == UINT64_C(0xf88bb8a8724c81ec));

    float logits[10] = {0};
    bitnet_token a[20], b[20];
    for (int i = 0; i < 20; i++)
        a[i] = sample(s, logits, 10);
    assert_int_equal(bn_sampler_set_rng(s, st), BITNET_OK); /* restore: same continuation */
    for (int i = 0; i < 20; i++)
        b[i] = sample(s, logits, 10);
    assert_memory_equal(a, b, sizeof a);

    /* Exactly one draw per sample, whatever the filters keep. */
    bitnet_sampler_params k1 = plain(1.0f, 0);
    k1.top_k = 1;
    bitnet_sampler *one = make(&k1);
    bitnet_sampler_reset(s);
    sample(s, logits, 10);
    sample(one, logits, 10);
    bn_sampler_get_rng(s, st);
    bn_sampler_get_rng(one, st2);
    assert_memory_equal(st, st2, sizeof st);
    bitnet_sampler_free(one);

    const uint64_t zero[4] = {0, 0, 0, 0};
    assert_int_equal(bn_sampler_set_rng(s, zero), BITNET_ERR_INVALID_ARGUMENT);
    bitnet_sampler_free(s);

    /* Greedy draws nothing. */
    p.temperature = 0.0f;
    s = make(&p);
    bn_sampler_get_rng(s, st);
    sample(s, logits, 10);
    bn_sampler_get_rng(s, st2);
    assert_memory_equal(st, st2, sizeof st);
    bitnet_sampler_free(s);
}

/* Scratch grows with the vocabulary; the penalty counts stay consistent. */
static void test_vocab_sizes(void **state)
{
    (void)state;
    bitnet_sampler_params p = bitnet_sampler_params_default();
    p.temperature = 0.0f;
    p.frequency_penalty = 0.6f;
    bitnet_sampler *s = make(&p);
    float *logits = malloc(5000 * sizeof *logits);
    assert_non_null(logits);
    for (int i = 0; i < 5000; i++)
        logits[i] = i == 3 ? 3.0f : (i == 4 ? 2.0f : 0.0f);
    assert_int_equal(bitnet_sampler_accept(s, 3), BITNET_OK);
    assert_int_equal(bitnet_sampler_accept(s, 4999), BITNET_OK);
    const int32_t sizes[] = {10, 5000, 10, 4, 5000, 5000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        assert_int_equal(sample(s, logits, sizes[i]), 3); /* 3 - 0.6 > 2 every time */
    assert_int_equal(bitnet_sampler_accept(s, 3), BITNET_OK);
    assert_int_equal(sample(s, logits, 5000), 4);
    bitnet_sampler_free(s);
    free(logits);
}

/* A 128k vocabulary with the default chain: the partial selection keeps
 * this fast (a full sort per call would be ~10x slower). */
static void test_large_vocab(void **state)
{
    (void)state;
    enum { N = 128256 };
    float *logits = malloc(N * sizeof *logits);
    assert_non_null(logits);
    uint32_t x = 99;
    for (int i = 0; i < N; i++)
        logits[i] = rand_logit(&x, -10.0f, 10.0f);
    bitnet_sampler_params p = bitnet_sampler_params_default();
    p.seed = 5;
    p.repeat_penalty = 1.1f;
    bitnet_sampler *s = make(&p);
    for (int i = 0; i < 300; i++) {
        bitnet_token t = sample(s, logits, N);
        assert_true(logits[t] > 9.0f); /* inside the top 40 of 128k uniform logits */
        assert_int_equal(bitnet_sampler_accept(s, t), BITNET_OK);
    }
    bitnet_sampler_free(s);
    free(logits);
}

/* Fail each allocation in turn: only OK or OUT_OF_MEMORY, nothing leaks
 * (ASan), and a sampler that hit OOM still works afterwards. */
static bitnet_status alloc_attempt(void)
{
    bitnet_sampler_params p = bitnet_sampler_params_default();
    p.penalty_last_n = 100;
    p.presence_penalty = 0.5f;
    bitnet_sampler *s = NULL;
    bitnet_status st = bitnet_sampler_new(&p, &s);
    float logits[MAXV];
    for (int i = 0; i < MAXV; i++)
        logits[i] = (float)(i % 5);
    bitnet_token t;
    for (int i = 0; i < 40 && st == BITNET_OK; i++) {
        st = bitnet_sampler_sample(s, logits, i < 20 ? 8 : MAXV, &t);
        if (st == BITNET_OK)
            st = bitnet_sampler_accept(s, t);
    }
    if (st == BITNET_ERR_OUT_OF_MEMORY && s) {
        bn_alloc_fail_after(-1);
        assert_int_equal(bitnet_sampler_sample(s, logits, MAXV, &t), BITNET_OK);
        assert_int_equal(bitnet_sampler_accept(s, t), BITNET_OK);
    }
    bitnet_sampler_free(s);
    return st;
}

static void test_alloc_failures(void **state)
{
    (void)state;
    long n;
    for (n = 0; n < 1000; n++) {
        unsigned long before = bn_alloc_failures();
        bn_alloc_fail_after(n);
        bitnet_status st = alloc_attempt();
        bn_alloc_fail_after(-1);
        bool injected = bn_alloc_failures() != before;
        if (st != BITNET_OK && st != BITNET_ERR_OUT_OF_MEMORY)
            fail_msg("failing allocation %ld gave %s: %s", n, bitnet_status_str(st), bitnet_last_error());
        if (!injected) {
            assert_int_equal(st, BITNET_OK);
            break;
        }
        assert_int_equal(st, BITNET_ERR_OUT_OF_MEMORY);
    }
    assert_true(n >= 4); /* sampler, scratch, history growth, scratch growth */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_struct_size),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_greedy),
        cmocka_unit_test(test_top_k_one_is_greedy),
        cmocka_unit_test(test_seed_determinism),
        cmocka_unit_test(test_softmax_frequencies),
        cmocka_unit_test(test_top_p_min_p_exclude),
        cmocka_unit_test(test_top_p_wide_set),
        cmocka_unit_test(test_chain_matches_reference),
        cmocka_unit_test(test_penalties),
        cmocka_unit_test(test_penalty_window_ring),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_infinities),
        cmocka_unit_test(test_rng_stream),
        cmocka_unit_test(test_vocab_sizes),
        cmocka_unit_test(test_large_vocab),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
