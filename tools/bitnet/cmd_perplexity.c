/* bitnet perplexity: the text is tokenized without BOS, cut into consecutive
 * chunks of n_ctx - 1 tokens, each scored as [BOS] + chunk; ppl is exp of the
 * mean negative log-likelihood over all chunk tokens. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "bitnet perplexity --model PATH --file TEXT [--ctx N] [--threads N] [--head-type TYPE] [--json]";

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, got;
    do {
        if (len + 4096 + 1 > cap) {
            char *grown = realloc(buf, cap = cap * 2 + 8192);
            if (!grown) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = grown;
        }
        got = fread(buf + len, 1, 4096, f);
        len += got;
    } while (got > 0);
    fclose(f);
    buf[len] = 0;
    return buf;
}

/* log-softmax of the logits at `target`, in double. */
static double log_prob(const float *logits, int32_t n_vocab, bitnet_token target)
{
    double max = logits[0];
    for (int32_t i = 1; i < n_vocab; i++)
        max = fmax(max, logits[i]);
    double sum = 0;
    for (int32_t i = 0; i < n_vocab; i++)
        sum += exp((double)logits[i] - max);
    return (double)logits[target] - max - log(sum);
}

/* Scores every chunk; adds to *nll and *count. */
static bitnet_status score(bitnet_context *ctx, bitnet_token bos, const bitnet_token *tokens, size_t n, int32_t chunk,
                           int32_t n_vocab, double *nll, size_t *count)
{
    bitnet_token *batch = malloc(((size_t)chunk + 1) * sizeof *batch);
    if (!batch)
        return BITNET_ERR_OUT_OF_MEMORY;
    bitnet_status s = BITNET_OK;
    for (size_t start = 0; start < n && !s; start += (size_t)chunk) {
        size_t len = n - start < (size_t)chunk ? n - start : (size_t)chunk;
        batch[0] = bos;
        memcpy(batch + 1, tokens + start, len * sizeof *batch);
        bitnet_context_clear(ctx);
        if ((s = bitnet_context_decode(ctx, batch, (int32_t)len + 1)))
            break;
        for (size_t j = 0; j < len; j++) {
            *nll -= log_prob(bitnet_context_logits(ctx, (int32_t)j), n_vocab, batch[j + 1]);
            (*count)++;
        }
    }
    free(batch);
    return s;
}

int cmd_perplexity(int argc, char **argv)
{
    const char *model_path = NULL, *file = NULL, *ctx_s = NULL, *threads_s = NULL, *json = NULL, *head = NULL;
    const cli_opt opts[] = {{"--model", 1, &model_path}, {"--file", 1, &file},   {"--ctx", 1, &ctx_s},
                            {"--threads", 1, &threads_s}, {"--json", 0, &json}, {"--head-type", 1, &head}};
    long long n_ctx = 0, threads = 1;
    bitnet_model_params mp = bitnet_model_params_default();
    int rc = cli_parse(argc, argv, opts, 6, usage);
    if (!rc && head)
        rc = cli_type(usage, "--head-type", head, &mp.head_type);
    if (rc || (ctx_s && (rc = cli_int(usage, "--ctx", ctx_s, 2, 1 << 20, &n_ctx))) ||
        (threads_s && (rc = cli_int(usage, "--threads", threads_s, 1, 256, &threads))))
        return rc;
    if (!model_path || !file)
        return cli_usage(usage, "--model and --file are required");
    char *text = read_text(file);
    if (!text) {
        fprintf(stderr, "bitnet: cannot read %s: %s\n", file, strerror(errno));
        return 1;
    }
    bitnet_model *m = NULL;
    bitnet_context *ctx = NULL;
    bitnet_token *tokens = NULL;
    size_t n = 0, count = 0;
    double nll = 0, t0 = cli_now_ms();
    bitnet_context_params cp = bitnet_context_params_default();
    cp.n_ctx = (int32_t)n_ctx;
    cp.n_threads = (int32_t)threads;
    cp.logits_all = true;
    bitnet_status s = bitnet_model_load_file(model_path, &mp, &m);
    if (!s)
        s = bitnet_context_new(m, &cp, &ctx);
    if (!s)
        s = cli_tokenize(m, text, 0, &tokens, &n);
    if (!s && bitnet_token_bos(m) == BITNET_TOKEN_NULL)
        s = BITNET_ERR_UNSUPPORTED;
    if (!s)
        s = score(ctx, bitnet_token_bos(m), tokens, n, bitnet_context_n_ctx(ctx) - 1, bitnet_vocab_size(m), &nll,
                  &count);
    if (s)
        rc = cli_fail("perplexity", s);
    else if (count == 0)
        rc = (fprintf(stderr, "bitnet: %s has no tokens\n", file), 1);
    else if (json)
        printf("{\"perplexity\": %.6f, \"tokens\": %zu, \"n_ctx\": %d, \"ms\": %.1f}\n", exp(nll / (double)count),
               count, bitnet_context_n_ctx(ctx), cli_now_ms() - t0);
    else
        printf("perplexity %.4f over %zu tokens (chunks of %d)\n", exp(nll / (double)count), count,
               bitnet_context_n_ctx(ctx) - 1);
    free(tokens);
    free(text);
    bitnet_context_free(ctx);
    bitnet_model_release(m);
    return rc;
}
