/* bitnet run: generate text from a prompt, streaming it, or as one JSON
 * object with --json; --dump-logits writes the logits each token was chosen
 * from (the fixtures' .logits.f32 layout). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "bitnet run --model PATH --prompt TEXT [--max-new-tokens N] [--temp T] [--top-k K] [--top-p P]\n"
    "           [--min-p P] [--repeat-penalty R] [--seed S] [--threads N] [--ctx N] [--no-bos]\n"
    "           [--ignore-eos] [--json] [--dump-logits FILE] [--head-type TYPE]\n"
    "           [--load-state FILE] [--save-state FILE] [--stats] [--cache-bytes N] [--no-prefetch] [--repack]\n"
    "           [--config FILE]   (YAML, see README \"Configuration file\"; flags override it)";

typedef struct run_opts {
    const char *model, *prompt, *max_new, *temp, *top_k, *top_p, *min_p, *repeat, *seed, *threads, *ctx;
    const char *no_bos, *ignore_eos, *json, *dump, *head_type;
    const char *load_state, *save_state; /* prompt cache in; context + sampler state out */
    const char *config;                  /* --config FILE */
    const char *stats, *cache_bytes, *no_prefetch, *repack;
} run_opts;

typedef struct run_state {
    bitnet_model *model;
    bitnet_context *ctx;
    bitnet_sampler *sampler;
    bitnet_token *prompt, *out;
    size_t n_prompt, n_out;
    size_t n_reused; /* prompt tokens whose positions came from --load-state */
    bitnet_config *config; /* --config: its strings are borrowed until the end */
    FILE *dump;
    double prefill_ms, decode_ms;
} run_state;

static int parse_sampler(const run_opts *o, bitnet_sampler_params *sp)
{
    double d;
    long long i;
    int rc = 0;
    if (!rc && o->temp && !(rc = cli_float(usage, "--temp", o->temp, 0, 100, &d)))
        sp->temperature = (float)d;
    if (!rc && o->top_k && !(rc = cli_int(usage, "--top-k", o->top_k, 0, INT32_MAX, &i)))
        sp->top_k = (int32_t)i;
    if (!rc && o->top_p && !(rc = cli_float(usage, "--top-p", o->top_p, 0, 1, &d)))
        sp->top_p = (float)d;
    if (!rc && o->min_p && !(rc = cli_float(usage, "--min-p", o->min_p, 0, 1, &d)))
        sp->min_p = (float)d;
    if (!rc && o->repeat && !(rc = cli_float(usage, "--repeat-penalty", o->repeat, 0, 100, &d)))
        sp->repeat_penalty = (float)d;
    if (!rc && o->seed && !(rc = cli_int(usage, "--seed", o->seed, 0, INT64_MAX, &i)))
        sp->seed = (uint64_t)i;
    return rc;
}

/* Print a token's bytes as soon as it is chosen. */
static void stream_piece(const bitnet_model *m, bitnet_token t)
{
    char buf[256];
    size_t len = 0;
    if (bitnet_token_to_piece(m, t, 0, buf, sizeof buf, &len) == BITNET_OK) {
        fwrite(buf, 1, len, stdout);
        fflush(stdout);
    }
}

static bitnet_status generate(run_state *st, long long max_new, bool ignore_eos, bool stream)
{
    const int32_t n_vocab = bitnet_vocab_size(st->model);
    double t0 = cli_now_ms();
    bitnet_status s =
        bitnet_context_decode(st->ctx, st->prompt + st->n_reused, (int32_t)(st->n_prompt - st->n_reused));
    st->prefill_ms = cli_now_ms() - t0;
    if (s)
        return s;
    for (size_t i = 0; i < st->n_prompt; i++)
        bitnet_sampler_accept(st->sampler, st->prompt[i]);
    t0 = cli_now_ms();
    for (long long step = 0; step < max_new; step++) {
        const float *logits = bitnet_context_logits(st->ctx, -1);
        if (st->dump && fwrite(logits, sizeof(float), (size_t)n_vocab, st->dump) != (size_t)n_vocab)
            return BITNET_ERR_IO;
        bitnet_token t;
        if ((s = bitnet_sampler_sample(st->sampler, logits, n_vocab, &t)))
            return s;
        if (!ignore_eos && bitnet_token_is_eog(st->model, t))
            break;
        bitnet_sampler_accept(st->sampler, t);
        st->out[st->n_out++] = t;
        if (stream)
            stream_piece(st->model, t);
        if (step + 1 == max_new)
            break;
        if (bitnet_context_n_past(st->ctx) == bitnet_context_n_ctx(st->ctx)) {
            fprintf(stderr, "\nbitnet: context full after %zu tokens; stopping\n", st->n_out);
            break;
        }
        if ((s = bitnet_context_decode(st->ctx, &t, 1)))
            return s;
    }
    st->decode_ms = cli_now_ms() - t0;
    return BITNET_OK;
}

static void print_ids(const char *key, const bitnet_token *t, size_t n)
{
    printf("\"%s\": [", key);
    for (size_t i = 0; i < n; i++)
        printf(i ? ", %d" : "%d", t[i]);
    fputs("]", stdout);
}

static void print_json(const run_state *st)
{
    size_t len = 0;
    char *text = NULL;
    bitnet_detokenize(st->model, st->out, st->n_out, 0, NULL, 0, &len);
    text = malloc(len + 1);
    if (text && bitnet_detokenize(st->model, st->out, st->n_out, 0, text, len, &len) != BITNET_OK)
        len = 0;
    fputs("{", stdout);
    print_ids("prompt_tokens", st->prompt, st->n_prompt);
    fputs(", ", stdout);
    print_ids("tokens", st->out, st->n_out);
    fputs(", \"text\": ", stdout);
    json_string(stdout, text ? text : "", text ? len : 0);
    printf(", \"n_prompt\": %zu, \"n_gen\": %zu, \"prefill_ms\": %.3f, \"decode_ms\": %.3f}\n", st->n_prompt,
           st->n_out, st->prefill_ms, st->decode_ms);
    free(text);
}

/* --config FILE: the file's values go over the library defaults, and the
 * flags given on the command line over them (a flag not given leaves its
 * option NULL). Model path, prompt and state files are filled in here. */
static int load_config(run_opts *o, run_state *st)
{
    if (!o->config)
        return 0;
    bitnet_status s = bitnet_config_load_file(o->config, &st->config);
    if (s)
        return cli_fail("cannot load the configuration", s);
    bitnet_config_generate g = {.struct_size = sizeof g, .n_predict = -1};
    bitnet_config_generate_params(st->config, &g);
    if (!o->model)
        o->model = bitnet_config_model_path(st->config);
    if (!o->prompt)
        o->prompt = g.prompt;
    if (!o->load_state)
        o->load_state = g.state_load;
    if (!o->save_state)
        o->save_state = g.state_save;
    return 0;
}

static void config_params(const bitnet_config *c, bitnet_model_params *mp, bitnet_context_params *cp,
                          bitnet_sampler_params *sp, long long *max_new)
{
    if (!c)
        return;
    bitnet_config_model_params(c, mp);
    bitnet_config_context_params(c, cp);
    bitnet_config_sampler_params(c, sp);
    bitnet_config_generate g = {.struct_size = sizeof g, .n_predict = -1};
    bitnet_config_generate_params(c, &g);
    if (g.n_predict >= 0)
        *max_new = g.n_predict;
}

static int run(const run_opts *o, run_state *st)
{
    long long max_new = 64, threads = 1, n_ctx = 0;
    bitnet_model_params mp = bitnet_model_params_default();
    bitnet_context_params cp = bitnet_context_params_default();
    bitnet_sampler_params sp = bitnet_sampler_params_default();
    config_params(st->config, &mp, &cp, &sp, &max_new); /* defaults < --config < flags */
    int rc = 0;
    if ((o->max_new && (rc = cli_int(usage, "--max-new-tokens", o->max_new, 0, 1 << 24, &max_new))) ||
        (o->threads && (rc = cli_int(usage, "--threads", o->threads, 1, 256, &threads))) ||
        (o->ctx && (rc = cli_int(usage, "--ctx", o->ctx, 1, 1 << 20, &n_ctx))))
        return rc;
    if ((rc = parse_sampler(o, &sp)))
        return rc;
    if (!*o->prompt)
        return cli_usage(usage, "--prompt is empty");
    if (o->head_type && (rc = cli_type(usage, "--head-type", o->head_type, &mp.head_type)))
        return rc;
    long long cache_bytes = 0;
    if (o->cache_bytes && (rc = cli_int(usage, "--cache-bytes", o->cache_bytes, 0, (long long)1 << 50, &cache_bytes)))
        return rc;
    if (o->cache_bytes)
        mp.cache_bytes = (uint64_t)cache_bytes;
    if (o->no_prefetch)
        mp.prefetch = false;
    if (o->repack)
        mp.repack = true;
    bitnet_status s = bitnet_model_load_file(o->model, &mp, &st->model);
    if (s)
        return cli_fail("cannot load model", s);
    if (o->threads)
        cp.n_threads = (int32_t)threads;
    if (o->ctx)
        cp.n_ctx = (int32_t)n_ctx;
    if ((s = bitnet_context_new(st->model, &cp, &st->ctx)))
        return cli_fail("cannot create context", s);
    if ((s = bitnet_sampler_new(&sp, &st->sampler)))
        return cli_fail("bad sampler parameters", s);
    uint32_t flags = o->no_bos ? 0 : BITNET_TOKENIZE_ADD_SPECIAL;
    if ((s = cli_tokenize(st->model, o->prompt, flags, &st->prompt, &st->n_prompt)))
        return cli_fail("cannot tokenize the prompt", s);
    if (st->n_prompt == 0)
        return cli_usage(usage, "the prompt gives no tokens");
    if (st->n_prompt > (size_t)bitnet_context_n_ctx(st->ctx)) {
        fprintf(stderr, "bitnet: the prompt has %zu tokens, more than the context of %d\n", st->n_prompt,
                bitnet_context_n_ctx(st->ctx));
        return 1;
    }
    st->out = malloc((size_t)(max_new ? max_new : 1) * sizeof *st->out);
    if (!st->out)
        return cli_fail("generate", BITNET_ERR_OUT_OF_MEMORY);
    if (o->dump && !(st->dump = fopen(o->dump, "wb"))) {
        fprintf(stderr, "bitnet: cannot open %s: %s\n", o->dump, strerror(errno));
        return 1;
    }
    if (o->load_state)
        st->n_reused = cli_prompt_cache_load(st->ctx, o->load_state, st->prompt, st->n_prompt);
    if ((s = generate(st, max_new, o->ignore_eos != NULL, !o->json)))
        return cli_fail("generation failed", s);
    if (o->save_state && (s = bitnet_context_state_save(st->ctx, st->sampler, o->save_state)))
        return cli_fail("cannot save the state", s);
    if (o->json)
        print_json(st);
    else
        putchar('\n');
    if (o->stats) {
        fflush(stdout); /* the text first, then the figures */
        cli_print_stats(stderr, st->ctx);
    }
    return 0;
}

int cmd_run(int argc, char **argv)
{
    run_opts o = {0};
    const cli_opt opts[] = {
        {"--model", 1, &o.model},       {"--prompt", 1, &o.prompt},   {"--max-new-tokens", 1, &o.max_new},
        {"--temp", 1, &o.temp},         {"--top-k", 1, &o.top_k},     {"--top-p", 1, &o.top_p},
        {"--min-p", 1, &o.min_p},       {"--repeat-penalty", 1, &o.repeat}, {"--seed", 1, &o.seed},
        {"--threads", 1, &o.threads},   {"--ctx", 1, &o.ctx},         {"--no-bos", 0, &o.no_bos},
        {"--ignore-eos", 0, &o.ignore_eos}, {"--json", 0, &o.json},   {"--dump-logits", 1, &o.dump},
        {"--head-type", 1, &o.head_type}, {"--load-state", 1, &o.load_state}, {"--save-state", 1, &o.save_state},
        {"--config", 1, &o.config},     {"--stats", 0, &o.stats},     {"--cache-bytes", 1, &o.cache_bytes},
        {"--no-prefetch", 0, &o.no_prefetch}, {"--repack", 0, &o.repack},
    };
    int rc = cli_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), usage);
    if (rc)
        return rc;
    run_state st = {0};
    if ((rc = load_config(&o, &st)))
        return rc;
    if (!o.model || !o.prompt) {
        bitnet_config_free(st.config);
        return cli_usage(usage, "--model and --prompt (or model.path and generate.prompt in --config) are required");
    }
    rc = run(&o, &st);
    if (st.dump && fclose(st.dump) != 0 && !rc)
        rc = (fprintf(stderr, "bitnet: cannot write %s\n", o.dump), 1);
    free(st.prompt);
    free(st.out);
    bitnet_sampler_free(st.sampler);
    bitnet_context_free(st.ctx);
    bitnet_model_release(st.model);
    bitnet_config_free(st.config);
    return rc;
}
