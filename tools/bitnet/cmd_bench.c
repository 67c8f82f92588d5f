/* bitnet bench: prefill (pp) and decode (tg) throughput, load time, peak
 * RSS and implied weight bandwidth of one model for each thread count, as
 * text, a llama-bench-like markdown table (--md) and JSON (--json FILE).
 *
 * Method (close to llama-bench so the numbers compare): one model load per
 * thread count, one untimed warm-up of each test, then r timed repetitions.
 * pp: p random tokens decoded in one batch from an empty cache. tg: a short
 * untimed prompt, then n single-token decodes. Tokens are random ids from a
 * fixed seed, as llama-bench uses. The machine's read bandwidth (best of 3
 * streaming reads, in a child process) is measured right before each tg
 * repetition and that repetition's weight traffic is set against it: the
 * host's memory load drifts by tens of percent within a minute here. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_common.h"
#include "bench_git.h"
#include "bitnet_experimental.h"
#include "cli.h"
#include "quant/quant.h"

static const char usage[] =
    "bitnet bench --model PATH [-p 128] [-n 64] [-t 1,2] [-r 5] [--json FILE|-] [--md]\n"
    "             [--backend NAME] [--head-type TYPE] [--kv-type f32|f16] [--blas-min-batch N] [--bw-mib 1024]\n"
    "             [--cache-bytes N] [--no-prefetch] [--repack] [--no-mmap]\n"
    "             [--no-sha]\n"
    "  (charts: scripts/plot-bench.py OUT.svg A.json [B.json ...])";

#define SCHEMA_VERSION 1
#define MAX_THREADS_LIST 16
#define MAX_REPS 1000
#define TG_PROMPT 4 /* tokens decoded before the timed single-token decodes */

typedef struct bench_opts {
    const char *model, *pp, *tg, *threads, *reps, *json, *md, *backend, *bw_mib, *no_sha, *head_type, *blas_min, *kv;
    const char *cache, *no_prefetch, *repack, *no_mmap;
    int32_t head, blas_min_batch, kv_type; /* parsed: -1 = library default */
    long long cache_bytes;
} bench_opts;

typedef struct series {
    double v[MAX_REPS];
    int n;
} series;

typedef struct thread_result {
    int threads;
    char backend[64];
    series load_ms, pp_ts, tg_ts;
    /* The machine's read bandwidth measured just before each tg repetition
     * (the host's load varies from second to second), and the fraction of
     * it that repetition's weight traffic reached. */
    series bw_gbps, bw_fraction;
    uint64_t peak_rss;
    uint64_t file_resident, file_pmd; /* the model file's mappings after tg (bench_file_mapping) */
    bitnet_store_stats stats;
    bitnet_context_stats cstats; /* of the context that ran pp and tg */
    bitnet_context_memory_info mem;
    double bandwidth_gbps;
} thread_result;

typedef struct type_count {
    uint32_t type;
    int64_t tensors;
    uint64_t bytes;
} type_count;

typedef struct model_facts {
    const char *arch, *name;
    uint64_t file_size, n_params, bytes_per_token;
    int64_t n_vocab;
    type_count types[64];
    int n_types;
    uint32_t main_type; /* type holding the most bytes of layer matrices */
    char sha256[65];
} model_facts;

static double mean_of(const series *s)
{
    double t = 0.0;
    for (int i = 0; i < s->n; i++)
        t += s->v[i];
    return s->n ? t / s->n : 0.0;
}

/* Sample standard deviation (n - 1), as llama-bench reports. */
static double sd_of(const series *s)
{
    if (s->n < 2)
        return 0.0;
    double m = mean_of(s), t = 0.0;
    for (int i = 0; i < s->n; i++)
        t += (s->v[i] - m) * (s->v[i] - m);
    return sqrt(t / (s->n - 1));
}

/* ---- model facts from the public tensor API ---- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Bytes of the head as the forward pass reads it: re-quantized to
 * head_type when the model params ask for it. */
static uint64_t head_bytes(const bitnet_tensor_info *ti, int32_t head_type)
{
    uint64_t b = head_type >= 0 ? bn_type_tensor_bytes((uint32_t)head_type, ti->n_elements) : 0;
    return b ? b : ti->n_bytes;
}

/* Weight bytes one decoded token reads: every layer tensor as stored (with
 * --repack, bench_threads swaps the copied tensors' bytes for their
 * copies'), the output norm, the head (output.weight, or token_embd when
 * tied) and one embedding row. */
static bitnet_status collect_facts(const bitnet_model *m, int32_t head_type, model_facts *f)
{
    bitnet_model_meta_string(m, "general.architecture", &f->arch, NULL);
    bitnet_model_meta_string(m, "general.name", &f->name, NULL);
    int64_t n = bitnet_model_tensor_count(m), embd = -1;
    bool has_output = false;
    uint64_t layer_bytes[64] = {0};
    for (int64_t i = 0; i < n; i++) {
        bitnet_tensor_info ti = {.struct_size = sizeof ti};
        bitnet_status s = bitnet_model_tensor_info(m, i, &ti);
        if (s)
            return s;
        f->n_params += (uint64_t)ti.n_elements;
        int k = 0;
        while (k < f->n_types && f->types[k].type != ti.type)
            k++;
        if (k == f->n_types && k < 64)
            f->types[f->n_types++] = (type_count){ti.type, 0, 0};
        if (k < 64) {
            f->types[k].tensors++;
            f->types[k].bytes += ti.n_bytes;
        }
        if (strcmp(ti.name, "token_embd.weight") == 0) {
            embd = i;
            f->n_vocab = ti.ne[1];
            f->bytes_per_token += ti.n_rows > 0 ? ti.n_bytes / (uint64_t)ti.n_rows : 0;
        } else if (strncmp(ti.name, "blk.", 4) == 0 || strcmp(ti.name, "output_norm.weight") == 0) {
            f->bytes_per_token += ti.n_bytes;
            if (ti.n_dims >= 2 && ends_with(ti.name, ".weight") && ti.type < 64)
                layer_bytes[ti.type] += ti.n_bytes;
        } else if (strcmp(ti.name, "output.weight") == 0) {
            has_output = true;
            f->bytes_per_token += head_bytes(&ti, head_type);
        }
    }
    if (embd >= 0 && !has_output) {
        bitnet_tensor_info ti = {.struct_size = sizeof ti};
        bitnet_model_tensor_info(m, embd, &ti);
        f->bytes_per_token += head_bytes(&ti, head_type); /* tied head reads the whole table */
    }
    for (uint32_t t = 0; t < 64; t++)
        if (layer_bytes[t] > layer_bytes[f->main_type])
            f->main_type = t;
    if (f->n_vocab <= 0)
        f->n_vocab = bitnet_vocab_size(m);
    return f->n_vocab > 0 ? BITNET_OK : BITNET_ERR_BAD_FORMAT;
}

/* ---- the timed runs ---- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static const char *chosen_backend(const char *requested)
{
    if (requested)
        return requested;
    /* A context with backend NULL takes the first supported one in this order. */
    for (int32_t i = 0; i < bitnet_backend_count(); i++)
        if (bitnet_backend_supported(i))
            return bitnet_backend_name(i);
    return "unknown";
}

static bitnet_status open_model(const bench_opts *o, int threads, int32_t n_ctx, int32_t n_batch, bitnet_model **m,
                                bitnet_context **ctx)
{
    bitnet_model_params mp = bitnet_model_params_default();
    mp.head_type = o->head;
    mp.cache_bytes = (uint64_t)o->cache_bytes;
    mp.prefetch = !o->no_prefetch;
    mp.use_mmap = !o->no_mmap;
    mp.repack = o->repack != NULL;
    bitnet_status s = bitnet_model_load_file(o->model, &mp, m);
    if (s)
        return s;
    bitnet_context_params cp = bitnet_context_params_default();
    cp.n_threads = threads;
    cp.n_ctx = n_ctx;
    cp.n_batch = n_batch;
    cp.backend = o->backend;
    if (o->blas_min_batch >= 0)
        cp.blas_min_batch = o->blas_min_batch;
    if (o->kv_type >= 0)
        cp.kv_type = (uint32_t)o->kv_type;
    s = bitnet_context_new(*m, &cp, ctx);
    if (s) {
        bitnet_model_release(*m);
        *m = NULL;
    }
    return s;
}

static bitnet_status run_pp(bitnet_context *ctx, const bitnet_token *tok, int p, double *ts)
{
    bitnet_context_clear(ctx);
    double t0 = cli_now_ms();
    bitnet_status s = bitnet_context_decode(ctx, tok, p);
    double ms = cli_now_ms() - t0;
    *ts = ms > 0 ? p * 1e3 / ms : 0.0;
    return s;
}

static bitnet_status run_tg(bitnet_context *ctx, const bitnet_token *tok, int n, double *ts)
{
    bitnet_context_clear(ctx);
    bitnet_status s = bitnet_context_decode(ctx, tok, TG_PROMPT);
    double t0 = cli_now_ms();
    for (int i = 0; i < n && !s; i++)
        s = bitnet_context_decode(ctx, &tok[TG_PROMPT + i], 1);
    double ms = cli_now_ms() - t0;
    *ts = ms > 0 ? n * 1e3 / ms : 0.0;
    return s;
}

static bitnet_status bench_threads(const bench_opts *o, int threads, int p, int n, int reps, const bitnet_token *tok,
                                   size_t bw_bytes, uint64_t stored_per_token, uint64_t *bytes_per_token,
                                   thread_result *r)
{
    const int32_t n_ctx = (p > TG_PROMPT + n ? p : TG_PROMPT + n) + 1;
    const int32_t n_batch = p > TG_PROMPT ? p : TG_PROMPT;
    bitnet_model *m = NULL;
    bitnet_context *ctx = NULL;
    bitnet_status s = BITNET_OK;
    r->threads = threads;
    /* Load time alone: load + context, released again; one untimed first. */
    for (int i = -1; i < reps && !s; i++) {
        double t0 = cli_now_ms();
        s = open_model(o, threads, n_ctx, n_batch, &m, &ctx);
        double ms = cli_now_ms() - t0;
        if (!s && i >= 0)
            r->load_ms.v[r->load_ms.n++] = ms;
        if (!s && i == -1)
            snprintf(r->backend, sizeof r->backend, "%s", chosen_backend(o->backend));
        bitnet_context_free(ctx);
        bitnet_model_release(m);
        ctx = NULL;
        m = NULL;
    }
    if (!s)
        s = open_model(o, threads, n_ctx, n_batch, &m, &ctx);
    if (!s && o->repack) { /* the copies replace their tensors' stored bytes */
        bitnet_store_stats st = {.struct_size = sizeof st};
        if (bitnet_model_store_stats(m, &st) == BITNET_OK && st.bytes_repack_source <= stored_per_token)
            *bytes_per_token = stored_per_token - st.bytes_repack_source + st.bytes_repacked;
    }
    double ts;
    if (p > 0 && !s) {
        fprintf(stderr, "bitnet bench: t=%d pp%d warm-up\n", threads, p);
        s = run_pp(ctx, tok, p, &ts);
        for (int i = 0; i < reps && !s; i++)
            if (!(s = run_pp(ctx, tok, p, &ts)))
                r->pp_ts.v[r->pp_ts.n++] = ts;
    }
    if (n > 0 && !s) {
        fprintf(stderr, "bitnet bench: t=%d tg%d warm-up\n", threads, n);
        s = run_tg(ctx, tok, n, &ts);
        for (int i = 0; i < reps && !s; i++) {
            const double bw = bw_bytes ? bench_read_bandwidth_apart(threads, bw_bytes, 3) : 0.0;
            if ((s = run_tg(ctx, tok, n, &ts)))
                break;
            r->tg_ts.v[r->tg_ts.n++] = ts;
            if (bw > 0) {
                r->bw_gbps.v[r->bw_gbps.n++] = bw;
                r->bw_fraction.v[r->bw_fraction.n++] = (double)*bytes_per_token * ts / 1e9 / bw;
            }
        }
    }
    if (bw_bytes && !s && r->bw_gbps.n == 0) { /* no tg: once, for the record */
        const double bw = bench_read_bandwidth_apart(threads, bw_bytes, 3);
        if (bw > 0)
            r->bw_gbps.v[r->bw_gbps.n++] = bw;
    }
    r->bandwidth_gbps = mean_of(&r->bw_gbps);
    r->stats.struct_size = sizeof r->stats;
    r->cstats.struct_size = sizeof r->cstats;
    r->mem.struct_size = sizeof r->mem;
    if (m)
        bitnet_model_store_stats(m, &r->stats);
    if (ctx) {
        bitnet_context_stats_get(ctx, &r->cstats);
        bitnet_context_memory(ctx, &r->mem);
    }
    r->peak_rss = bench_peak_rss();
    if (m && bench_file_mapping(o->model, &r->file_resident, &r->file_pmd) != 0)
        r->file_resident = r->file_pmd = 0;
    bitnet_context_free(ctx);
    bitnet_model_release(m);
    return s;
}

/* ---- output ---- */

static void json_series(FILE *f, const char *key, const series *s)
{
    fprintf(f, "\"%s\": {\"mean\": %.6g, \"stddev\": %.6g, \"samples\": [", key, mean_of(s), sd_of(s));
    for (int i = 0; i < s->n; i++)
        fprintf(f, i ? ", %.6g" : "%.6g", s->v[i]);
    fputs("]}", f);
}

static void json_str(FILE *f, const char *s)
{
    json_string(f, s ? s : "", s ? strlen(s) : 0);
}

static void write_json(FILE *f, const bench_opts *o, const model_facts *mf, const thread_result *res, int n_res,
                       int p, int n, int reps, size_t bw_bytes)
{
    char cpu[256], when[32];
    bench_cpu_model(cpu, sizeof cpu);
    char *flags = bench_cpu_flags();
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    const char *commit = BITNET_GIT_COMMIT;
    bool dirty = ends_with(commit, "-dirty");
    size_t clen = dirty ? strlen(commit) - 6 : strlen(commit);

    fprintf(f, "{\n  \"schema_version\": %d,\n  \"tool\": \"bitnet bench\",\n  \"timestamp\": \"%s\",\n",
            SCHEMA_VERSION, when);
    fputs("  \"library\": {\"name\": \"libbitnet\", \"version\": ", f);
    json_str(f, bitnet_version_string());
    fputs(", \"git_commit\": ", f);
    json_string(f, commit, clen);
    fprintf(f, ", \"git_dirty\": %s},\n", dirty ? "true" : "false");
    fputs("  \"model\": {\"path\": ", f);
    json_str(f, o->model);
    fputs(", \"architecture\": ", f);
    json_str(f, mf->arch);
    fputs(", \"name\": ", f);
    json_str(f, mf->name);
    fprintf(f, ", \"size_bytes\": %" PRIu64 ", \"sha256\": ", mf->file_size);
    json_str(f, mf->sha256);
    fprintf(f, ", \"n_params\": %" PRIu64 ", \"n_vocab\": %" PRId64 ", \"weight_type\": ", mf->n_params, mf->n_vocab);
    json_str(f, bitnet_type_name(mf->main_type));
    fprintf(f, ", \"weight_bytes_per_token\": %" PRIu64 ",\n    \"tensor_types\": {", mf->bytes_per_token);
    for (int i = 0; i < mf->n_types; i++) {
        fputs(i ? ", " : "", f);
        json_str(f, bitnet_type_name(mf->types[i].type));
        fprintf(f, ": {\"tensors\": %" PRId64 ", \"bytes\": %" PRIu64 "}", mf->types[i].tensors, mf->types[i].bytes);
    }
    fputs("}},\n  \"system\": {\"cpu_model\": ", f);
    json_str(f, cpu);
    fprintf(f, ", \"n_cpus\": %d, \"cpu_flags\": [", bench_n_cpus());
    int k = 0;
    for (char *tok = strtok(flags, " "); tok; tok = strtok(NULL, " "))
        if (*tok) {
            fputs(k++ ? ", " : "", f);
            json_str(f, tok);
        }
    fprintf(f,
            "],\n    \"read_bandwidth\": {\"buffer_bytes\": %zu, \"best_of\": 3, \"measured\": \"before each tg "
            "repetition\", \"gbps_by_threads\": {",
            bw_bytes);
    for (int i = 0; i < n_res; i++)
        fprintf(f, "%s\"%d\": %.4g", i ? ", " : "", res[i].threads, res[i].bandwidth_gbps);
    fputs("}}},\n", f);
    free(flags);
    fprintf(f, "  \"params\": {\"n_prompt\": %d, \"n_gen\": %d, \"tg_prompt\": %d, \"reps\": %d, \"warmup\": 1, "
               "\"backend_requested\": ",
            p, n, TG_PROMPT, reps);
    if (o->backend)
        json_str(f, o->backend);
    else
        fputs("null", f);
    fputs(", \"head_type\": ", f);
    if (o->head >= 0)
        json_str(f, bitnet_type_name((uint32_t)o->head));
    else
        fputs("null", f);
    bitnet_context_params cp = bitnet_context_params_default();
    fprintf(f, ", \"kv_type\": \"%s\", \"blas_min_batch\": %d, \"repack\": %s, \"use_mmap\": %s},\n  \"results\": [\n",
            bitnet_type_name(o->kv_type >= 0 ? (uint32_t)o->kv_type : cp.kv_type),
            o->blas_min_batch >= 0 ? o->blas_min_batch : cp.blas_min_batch, o->repack ? "true" : "false",
            o->no_mmap ? "false" : "true");
    for (int i = 0; i < n_res; i++) {
        const thread_result *r = &res[i];
        double tg = mean_of(&r->tg_ts);
        fprintf(f, "    {\"threads\": %d, \"backend\": ", r->threads);
        json_str(f, r->backend);
        fputs(",\n     ", f);
        json_series(f, "load_ms", &r->load_ms);
        fprintf(f, ",\n     \"pp\": {\"n_tokens\": %d, ", p);
        json_series(f, "tokens_per_s", &r->pp_ts);
        fprintf(f, "},\n     \"tg\": {\"n_tokens\": %d, ", n);
        json_series(f, "tokens_per_s", &r->tg_ts);
        double implied = (double)mf->bytes_per_token * tg / 1e9;
        fprintf(f, ", \"implied_gbps\": %.4g, \"fraction_of_read_bandwidth\": %.4g, ", implied,
                mean_of(&r->bw_fraction));
        json_series(f, "read_bandwidth_gbps", &r->bw_gbps);
        fputs(", ", f);
        json_series(f, "bandwidth_fraction", &r->bw_fraction);
        fputs("},\n", f);
        fprintf(f, "     \"peak_rss_bytes\": %" PRIu64 ", \"read_bandwidth_gbps\": %.4g,\n", r->peak_rss,
                r->bandwidth_gbps);
        fprintf(f,
                "     \"model_file_mapping\": {\"bytes_resident\": %" PRIu64 ", \"bytes_in_2mib_pages\": %" PRIu64
                "},\n",
                r->file_resident, r->file_pmd);
        const bitnet_store_stats *st = &r->stats;
        fprintf(f,
                "     \"store_stats\": {\"hits\": %" PRIu64 ", \"misses\": %" PRIu64 ", \"evictions\": %" PRIu64
                ", \"bytes_resident\": %" PRIu64 ", \"bytes_budget\": %" PRIu64 ", \"bytes_mapped\": %" PRIu64
                ", \"entries\": %" PRIu64 ", \"bytes_peak\": %" PRIu64 ", \"prefetch_issued\": %" PRIu64
                ", \"prefetch_hits\": %" PRIu64 ", \"bytes_repacked\": %" PRIu64
                ", \"bytes_repack_source\": %" PRIu64 "},\n",
                st->hits, st->misses, st->evictions, st->bytes_resident, st->bytes_budget, st->bytes_mapped,
                st->entries, st->bytes_peak, st->prefetch_issued, st->prefetch_hits, st->bytes_repacked,
                st->bytes_repack_source);
        const bitnet_context_stats *cs = &r->cstats;
        fprintf(f,
                "     \"context_stats\": {\"decode_calls\": %" PRIu64 ", \"prefill_tokens\": %" PRIu64
                ", \"decode_tokens\": %" PRIu64 ", \"prefill_ns\": %" PRIu64 ", \"decode_ns\": %" PRIu64
                ", \"cache_hits\": %" PRIu64 ", \"cache_misses\": %" PRIu64 ", \"cache_evictions\": %" PRIu64
                ", \"prefetch_hits\": %" PRIu64 "},\n",
                cs->n_decode_calls, cs->n_prefill_tokens, cs->n_decode_tokens, cs->prefill_ns, cs->decode_ns,
                cs->cache_hits, cs->cache_misses, cs->cache_evictions, cs->prefetch_hits);
        fprintf(f,
                "     \"context_memory\": {\"kv_bytes\": %" PRIu64 ", \"scratch_bytes\": %" PRIu64
                ", \"total_bytes\": %" PRIu64 "}}%s\n",
                r->mem.kv_bytes, r->mem.scratch_bytes, r->mem.total_bytes, i + 1 < n_res ? "," : "");
    }
    fputs("  ]\n}\n", f);
}

static void print_md(const model_facts *mf, const thread_result *res, int n_res, int p, int n)
{
    char model[96];
    snprintf(model, sizeof model, "%s %s", mf->arch ? mf->arch : "?", bitnet_type_name(mf->main_type));
    char size[32], params[32];
    if (mf->file_size >= (1u << 30))
        snprintf(size, sizeof size, "%.2f GiB", (double)mf->file_size / 1073741824.0);
    else
        snprintf(size, sizeof size, "%.2f MiB", (double)mf->file_size / 1048576.0);
    if (mf->n_params >= 1000000000u)
        snprintf(params, sizeof params, "%.2f B", (double)mf->n_params / 1e9);
    else
        snprintf(params, sizeof params, "%.2f M", (double)mf->n_params / 1e6);
    printf("| model | size | params | backend | threads | test | t/s | weights GB/s |\n");
    printf("| ------------------------------ | ---------: | ---------: | ---------- | ------: | ------------: "
           "| -------------------: | -----------: |\n");
    for (int i = 0; i < n_res; i++) {
        const thread_result *r = &res[i];
        for (int k = 0; k < 2; k++) {
            const series *s = k == 0 ? &r->pp_ts : &r->tg_ts;
            int tokens = k == 0 ? p : n;
            if (tokens <= 0)
                continue;
            char test[32], gbps[32] = "";
            snprintf(test, sizeof test, "%s%d", k == 0 ? "pp" : "tg", tokens);
            if (k == 1)
                snprintf(gbps, sizeof gbps, "%.2f", (double)mf->bytes_per_token * mean_of(s) / 1e9);
            printf("| %-30s | %10s | %10s | %-10s | %7d | %13s | %11.2f ± %6.2f | %12s |\n", model, size, params,
                   r->backend, r->threads, test, mean_of(s), sd_of(s), gbps);
        }
    }
}

static void print_text(const model_facts *mf, const thread_result *res, int n_res, int p, int n)
{
    printf("model: %s (%s, %s weights), %.2f GiB, %.3f B params, %.1f MB weights/token\n", mf->name ? mf->name : "?",
           mf->arch ? mf->arch : "?", bitnet_type_name(mf->main_type), (double)mf->file_size / 1073741824.0,
           (double)mf->n_params / 1e9, (double)mf->bytes_per_token / 1e6);
    for (int i = 0; i < n_res; i++) {
        const thread_result *r = &res[i];
        printf("threads %d (%s): load %.1f ± %.1f ms", r->threads, r->backend, mean_of(&r->load_ms),
               sd_of(&r->load_ms));
        if (p > 0)
            printf(", pp%d %.2f ± %.2f t/s", p, mean_of(&r->pp_ts), sd_of(&r->pp_ts));
        if (n > 0)
            printf(", tg%d %.2f ± %.2f t/s (%.2f GB/s of weights; machine reads %.2f GB/s: %.0f%% ± %.0f%%)", n,
                   mean_of(&r->tg_ts), sd_of(&r->tg_ts), (double)mf->bytes_per_token * mean_of(&r->tg_ts) / 1e9,
                   r->bandwidth_gbps, 100.0 * mean_of(&r->bw_fraction), 100.0 * sd_of(&r->bw_fraction));
        printf(", peak RSS %.1f MiB", (double)r->peak_rss / 1048576.0);
        if (r->file_resident)
            printf(", model file mapped %.0f MiB (%.0f%% in 2 MiB pages)", (double)r->file_resident / 1048576.0,
                   100.0 * (double)r->file_pmd / (double)r->file_resident);
        printf("\n");
    }
}

/* "1,2,4" -> list; 0 on success, else the usage error's exit code. */
static int parse_threads(const char *s, int *out, int *n)
{
    *n = 0;
    const char *p = s;
    while (*p) {
        char item[32];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof item || *n == MAX_THREADS_LIST)
            return cli_usage(usage, "-t takes up to %d comma-separated counts, got '%s'", MAX_THREADS_LIST, s);
        memcpy(item, p, len);
        item[len] = '\0';
        long long v;
        int rc = cli_int(usage, "-t", item, 1, 256, &v);
        if (rc)
            return rc;
        out[(*n)++] = (int)v;
        p += len;
        if (*p == ',' && *++p == '\0')
            return cli_usage(usage, "-t has a trailing comma: '%s'", s);
    }
    return *n ? 0 : cli_usage(usage, "-t is empty");
}

static int bench(bench_opts *o)
{
    long long p = 128, n = 64, reps = 5, bw_mib = 1024, blas = -1;
    int rc = 0, threads[MAX_THREADS_LIST], n_threads = 0;
    o->head = -1;
    o->kv_type = -1;
    if (o->kv) {
        if (strcmp(o->kv, "f32") != 0 && strcmp(o->kv, "f16") != 0)
            return cli_usage(usage, "--kv-type must be f32 or f16, got '%s'", o->kv);
        o->kv_type = strcmp(o->kv, "f16") == 0 ? BITNET_TYPE_F16 : BITNET_TYPE_F32;
    }
    if ((o->head_type && (rc = cli_type(usage, "--head-type", o->head_type, &o->head))) ||
        (o->blas_min && (rc = cli_int(usage, "--blas-min-batch", o->blas_min, 0, 1 << 20, &blas))) ||
        (o->cache && (rc = cli_int(usage, "--cache-bytes", o->cache, 0, (long long)1 << 50, &o->cache_bytes))) ||
        (o->pp && (rc = cli_int(usage, "-p", o->pp, 0, 1 << 16, &p))) ||
        (o->tg && (rc = cli_int(usage, "-n", o->tg, 0, 1 << 16, &n))) ||
        (o->reps && (rc = cli_int(usage, "-r", o->reps, 1, MAX_REPS, &reps))) ||
        (o->bw_mib && (rc = cli_int(usage, "--bw-mib", o->bw_mib, 0, 1 << 20, &bw_mib))) ||
        (rc = parse_threads(o->threads ? o->threads : "1,2", threads, &n_threads)))
        return rc;
    o->blas_min_batch = (int32_t)blas;
    if (p == 0 && n == 0)
        return cli_usage(usage, "-p and -n are both 0: nothing to measure");

    model_facts mf = {0};
    bitnet_model *m = NULL;
    bitnet_status s = bitnet_model_load_file(o->model, NULL, &m);
    if (s)
        return cli_fail("cannot load model", s);
    s = collect_facts(m, o->head, &mf);
    if (s) {
        bitnet_model_release(m);
        return cli_fail("cannot read the model's tensors", s);
    }
    /* Random token ids, fixed seed: the prompt for pp, then the tg inputs. */
    size_t n_tok = (size_t)(p > TG_PROMPT + n ? p : TG_PROMPT + n);
    bitnet_token *tok = malloc(n_tok * sizeof *tok);
    thread_result *res = calloc((size_t)n_threads, sizeof *res);
    if (!tok || !res) {
        free(tok);
        free(res);
        bitnet_model_release(m);
        return cli_fail("bench", BITNET_ERR_OUT_OF_MEMORY);
    }
    uint64_t seed = 1234;
    for (size_t i = 0; i < n_tok; i++)
        tok[i] = (bitnet_token)(rng_next(&seed) % (uint64_t)mf.n_vocab);

    if (o->no_sha) {
        snprintf(mf.sha256, sizeof mf.sha256, "skipped");
        FILE *fp = fopen(o->model, "rb");
        if (fp && fseeko(fp, 0, SEEK_END) == 0)
            mf.file_size = (uint64_t)ftello(fp);
        if (fp)
            fclose(fp);
    } else if (bench_sha256_file(o->model, mf.sha256, &mf.file_size) != 0) {
        fprintf(stderr, "bitnet: cannot read %s: %s\n", o->model, strerror(errno));
        rc = 1;
    }
    const uint64_t stored_per_token = mf.bytes_per_token;
    for (int i = 0; i < n_threads && !rc; i++) {
        fprintf(stderr, "bitnet bench: %d thread(s)\n", threads[i]);
        s = bench_threads(o, threads[i], (int)p, (int)n, (int)reps, tok, (size_t)bw_mib << 20, stored_per_token, &mf.bytes_per_token,
                          &res[i]);
        if (s)
            rc = cli_fail("benchmark run failed", s);
    }

    if (!rc) {
        if (o->md)
            print_md(&mf, res, n_threads, (int)p, (int)n);
        else if (!o->json || strcmp(o->json, "-") != 0)
            print_text(&mf, res, n_threads, (int)p, (int)n);
        if (o->json) {
            bool to_stdout = strcmp(o->json, "-") == 0;
            FILE *f = to_stdout ? stdout : fopen(o->json, "w");
            if (!f) {
                fprintf(stderr, "bitnet: cannot create %s: %s\n", o->json, strerror(errno));
                rc = 1;
            } else {
                write_json(f, o, &mf, res, n_threads, (int)p, (int)n, (int)reps, (size_t)bw_mib << 20);
                if (!to_stdout && fclose(f) != 0)
                    rc = (fprintf(stderr, "bitnet: cannot write %s\n", o->json), 1);
            }
        }
    }
    free(tok);
    free(res);
    bitnet_model_release(m);
    return rc;
}

int cmd_bench(int argc, char **argv)
{
    bench_opts o = {0};
    const cli_opt opts[] = {
        {"--model", 1, &o.model}, {"-m", 1, &o.model},         {"-p", 1, &o.pp},           {"-n", 1, &o.tg},
        {"-t", 1, &o.threads},    {"-r", 1, &o.reps},          {"--json", 1, &o.json},     {"--md", 0, &o.md},
        {"--backend", 1, &o.backend}, {"--bw-mib", 1, &o.bw_mib}, {"--no-sha", 0, &o.no_sha},
        {"--head-type", 1, &o.head_type}, {"--blas-min-batch", 1, &o.blas_min}, {"--kv-type", 1, &o.kv},
        {"--cache-bytes", 1, &o.cache}, {"--no-prefetch", 0, &o.no_prefetch}, {"--repack", 0, &o.repack},
        {"--no-mmap", 0, &o.no_mmap},
    };
    int rc = cli_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), usage);
    if (rc)
        return rc;
    if (!o.model)
        return cli_usage(usage, "--model is required");
    return bench(&o);
}
