/* Many tenants, one model: N contexts driven by T OS threads generate
 * greedily and concurrently from one loaded model for a fixed time. Every
 * generation must equal the single-context reference for its prompt; RSS is
 * reported at the start (after the first round) and at the end.
 *
 *   multi_context [--model PATH] [--contexts 16] [--threads 2] [--seconds 10]
 *                 [--n-predict 24] [--cache-bytes N] [--blas-min-batch N]
 *                 [--max-rss-growth-kib 8192] [--json]
 *
 * Exit 0 when every output matched and RSS grew by at most the limit; the
 * figures are printed (JSON with --json). The default model is the KJV
 * llama Q4_K_M fixture (skipped, exit 77, when the fixtures are absent). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bitnet.h"
#include "support/fixtures.h"

#define MAX_CTX 256
#define MAX_PRED 256

static const char *PROMPTS[] = {
    "In the beginning", "And God said", "The LORD is my shepherd", "Blessed are the", "And it came to pass",
    "Let there be light", "For God so loved", "Thou shalt not", "And the earth was", "In my Father's house",
    "Hear, O Israel", "The heavens declare", "Wisdom crieth without", "Then answered Jesus", "And Moses said",
    "Praise ye the LORD",
};
#define N_PROMPTS (int)(sizeof PROMPTS / sizeof PROMPTS[0])

typedef struct tenant {
    bitnet_context *ctx;
    const char *prompt;
    bitnet_token prompt_tokens[128];
    size_t n_prompt;
    bitnet_token expect[MAX_PRED];
    uint64_t rounds;
} tenant;

static struct {
    bitnet_model *model;
    tenant *tenants;
    int n_ctx_total, n_threads, n_predict;
    double seconds;
    atomic_int failed;
    atomic_uint_least64_t tokens;
} G;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            v = atol(line + 6);
    if (f)
        fclose(f);
    return v;
}

static int argmax(const float *l, int32_t n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (l[i] > l[best])
            best = i;
    return best;
}

/* Clear, prompt, n greedy tokens into out. */
static bitnet_status generate(bitnet_context *ctx, const bitnet_token *prompt, size_t n_prompt, int n,
                              bitnet_token *out)
{
    bitnet_context_clear(ctx);
    bitnet_status s = bitnet_context_decode(ctx, prompt, (int32_t)n_prompt);
    const int32_t n_vocab = bitnet_vocab_size(G.model);
    for (int i = 0; i < n && !s; i++) {
        out[i] = argmax(bitnet_context_logits(ctx, -1), n_vocab);
        s = bitnet_context_decode(ctx, &out[i], 1);
    }
    return s;
}

static void *worker(void *arg)
{
    const int id = (int)(intptr_t)arg;
    bitnet_token got[MAX_PRED];
    const double end = now_s() + G.seconds;
    while (now_s() < end && !atomic_load(&G.failed)) {
        for (int i = id; i < G.n_ctx_total; i += G.n_threads) {
            tenant *t = &G.tenants[i];
            bitnet_status s = generate(t->ctx, t->prompt_tokens, t->n_prompt, G.n_predict, got);
            if (s || memcmp(got, t->expect, (size_t)G.n_predict * sizeof got[0])) {
                fprintf(stderr, "context %d (\"%s\"): %s\n", i, t->prompt,
                        s ? bitnet_last_error() : "tokens differ from the single-context run");
                atomic_store(&G.failed, 1);
                return NULL;
            }
            t->rounds++;
            atomic_fetch_add(&G.tokens, (uint64_t)t->n_prompt + (uint64_t)G.n_predict);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    char buf[4096];
    const char *path = NULL;
    int n_contexts = 16, json = 0;
    /* ASan's quarantine keeps freed blocks resident (up to 256 MiB): RSS
     * then only says something once it plateaus, so the check is off by
     * default there (--max-rss-growth-kib still applies it). */
#if defined(__SANITIZE_ADDRESS__)
    long max_growth_kib = -1;
#else
    long max_growth_kib = 8192;
#endif
    bitnet_model_params mp = bitnet_model_params_default();
    bitnet_context_params cp = bitnet_context_params_default();
    cp.n_ctx = 256;
    G.n_threads = 2, G.seconds = 10, G.n_predict = 24;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) {
            json = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "usage: %s [--model PATH] [--contexts N] [--threads N] [--seconds S] [--n-predict N] "
                            "[--cache-bytes N] [--blas-min-batch N] [--max-rss-growth-kib N] [--json]\n", argv[0]);
            return 2;
        }
        i++;
        if (!strcmp(a, "--model"))
            path = v;
        else if (!strcmp(a, "--contexts"))
            n_contexts = atoi(v);
        else if (!strcmp(a, "--threads"))
            G.n_threads = atoi(v);
        else if (!strcmp(a, "--seconds"))
            G.seconds = atof(v);
        else if (!strcmp(a, "--n-predict"))
            G.n_predict = atoi(v);
        else if (!strcmp(a, "--cache-bytes"))
            mp.cache_bytes = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--blas-min-batch"))
            cp.blas_min_batch = atoi(v);
        else if (!strcmp(a, "--max-rss-growth-kib"))
            max_growth_kib = atol(v);
        else {
            fprintf(stderr, "unknown argument %s\n", a);
            return 2;
        }
    }
    if (n_contexts < 1 || n_contexts > MAX_CTX || G.n_threads < 1 || G.n_threads > n_contexts ||
        G.n_predict < 1 || G.n_predict > MAX_PRED) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    if (!path && !(path = fixture_path(buf, sizeof buf, "kjv-llama/kjv-llama-5m-q4_k_m.gguf"))) {
        printf("fixtures folder not found (set BITNET_FIXTURES): skipping\n");
        return 77;
    }
    if (bitnet_model_load_file(path, &mp, &G.model)) {
        fprintf(stderr, "%s: %s\n", path, bitnet_last_error());
        return 1;
    }
    G.n_ctx_total = n_contexts;
    G.tenants = calloc((size_t)n_contexts, sizeof *G.tenants);
    int rc = 1;
    /* The reference: one context alone. */
    bitnet_context *solo = NULL;
    if (!G.tenants || bitnet_context_new(G.model, &cp, &solo))
        goto out;
    for (int i = 0; i < n_contexts; i++) {
        tenant *t = &G.tenants[i];
        t->prompt = PROMPTS[i % N_PROMPTS];
        if (bitnet_tokenize(G.model, t->prompt, strlen(t->prompt), BITNET_TOKENIZE_ADD_SPECIAL, t->prompt_tokens, 128,
                            &t->n_prompt) ||
            generate(solo, t->prompt_tokens, t->n_prompt, G.n_predict, t->expect) ||
            bitnet_context_new(G.model, &cp, &t->ctx)) {
            fprintf(stderr, "setup: %s\n", bitnet_last_error());
            goto out;
        }
    }
    bitnet_context_free(solo);
    solo = NULL;
    /* The caller's reference goes now: the contexts keep the model alive. */
    bitnet_model *model = G.model;
    bitnet_model_release(model);

    /* Round one, single-threaded, so every buffer exists before RSS is read. */
    bitnet_token got[MAX_PRED];
    for (int i = 0; i < n_contexts; i++)
        if (generate(G.tenants[i].ctx, G.tenants[i].prompt_tokens, G.tenants[i].n_prompt, G.n_predict, got) ||
            memcmp(got, G.tenants[i].expect, (size_t)G.n_predict * sizeof got[0])) {
            fprintf(stderr, "context %d: first round differs from the single-context run\n", i);
            goto out_ctx;
        }
    const long rss0 = rss_kib();
    const double t0 = now_s();
    pthread_t th[MAX_CTX];
    int started = 0;
    for (; started < G.n_threads; started++)
        if (pthread_create(&th[started], NULL, worker, (void *)(intptr_t)started)) {
            atomic_store(&G.failed, 1);
            break;
        }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    const double elapsed = now_s() - t0;
    const long rss1 = rss_kib();
    uint64_t rounds = 0, min_rounds = UINT64_MAX;
    for (int i = 0; i < n_contexts; i++) {
        rounds += G.tenants[i].rounds;
        if (G.tenants[i].rounds < min_rounds)
            min_rounds = G.tenants[i].rounds;
    }
    bitnet_store_stats st = {.struct_size = sizeof st};
    bitnet_context_memory_info mem = {.struct_size = sizeof mem};
    bitnet_model_store_stats(bitnet_context_model(G.tenants[0].ctx), &st);
    bitnet_context_memory(G.tenants[0].ctx, &mem);
    const int ok = !atomic_load(&G.failed) && (max_growth_kib < 0 || rss1 - rss0 <= max_growth_kib) && min_rounds > 0;
    if (json)
        printf("{\"model\": \"%s\", \"contexts\": %d, \"threads\": %d, \"seconds\": %.2f, \"generations\": %llu, "
               "\"min_generations_per_context\": %llu, \"tokens\": %llu, \"tokens_per_s\": %.1f, "
               "\"rss_start_kib\": %ld, \"rss_end_kib\": %ld, \"context_kib\": %llu, \"cache_hits\": %llu, "
               "\"cache_misses\": %llu, \"cache_evictions\": %llu, \"all_match\": %s}\n",
               path, n_contexts, G.n_threads, elapsed, (unsigned long long)rounds, (unsigned long long)min_rounds,
               (unsigned long long)atomic_load(&G.tokens), (double)atomic_load(&G.tokens) / elapsed, rss0, rss1,
               (unsigned long long)(mem.total_bytes >> 10), (unsigned long long)st.hits,
               (unsigned long long)st.misses, (unsigned long long)st.evictions,
               atomic_load(&G.failed) ? "false" : "true");
    else
        printf("%d contexts on %d threads, %.1f s: %llu generations (each context >= %llu), %llu tokens "
               "(%.1f/s), every output equal to the single-context run: %s; RSS %ld KiB -> %ld KiB "
               "(limit +%ld); per context %llu KiB; cache hits %llu misses %llu evictions %llu\n",
               n_contexts, G.n_threads, elapsed, (unsigned long long)rounds, (unsigned long long)min_rounds,
               (unsigned long long)atomic_load(&G.tokens), (double)atomic_load(&G.tokens) / elapsed,
               atomic_load(&G.failed) ? "NO" : "yes", rss0, rss1, max_growth_kib,
               (unsigned long long)(mem.total_bytes >> 10), (unsigned long long)st.hits,
               (unsigned long long)st.misses, (unsigned long long)st.evictions);
    rc = ok ? 0 : 1;
out_ctx:
    for (int i = 0; i < n_contexts; i++)
        bitnet_context_free(G.tenants[i].ctx);
    free(G.tenants);
    return rc;
out:
    bitnet_context_free(solo);
    if (G.tenants)
        for (int i = 0; i < n_contexts; i++)
            bitnet_context_free(G.tenants[i].ctx);
    free(G.tenants);
    bitnet_model_release(G.model);
    return rc;
}
