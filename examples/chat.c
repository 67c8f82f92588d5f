/* chat: a streaming chat loop. Each line read from stdin is one turn: it is
 * appended to the conversation in the KV cache, and the model's reply
 * streams to stdout until a newline, an end-of-generation token or
 * --n-predict tokens. The KV cache is kept across turns, so a turn only
 * decodes its own tokens. When the next turn does not fit, the context is
 * trimmed: the first turn (the "system" part, at most a quarter of the
 * context) stays, the oldest turns after it are dropped and the most recent
 * history is decoded again behind it.
 *
 *   chat MODEL [--n-predict N] [--temp T] [--seed S] [--ctx N] [--threads N]
 *
 * Defaults: 48 tokens a reply, temperature 0.8, seed 1, the model's context.
 * Status lines ("[trimmed ...]") go to stderr. With a plain base model (the
 * bundled KJV demo) a "reply" is the continuation of the text so far.
 */
#define _POSIX_C_SOURCE 200809L /* getline */
#include <bitnet/bitnet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct chat {
    bitnet_model *model;
    bitnet_context *ctx;
    bitnet_sampler *sampler;
    int32_t n_keep;   /* positions of the first turn, never trimmed        */
    bitnet_token *tmp; /* n_ctx tokens: history copied out before a trim  */
    int n_predict;
} chat;

static int fail(const char *what, bitnet_status s)
{
    fprintf(stderr, "chat: %s: %s (%s)\n", what, bitnet_status_str(s), bitnet_last_error());
    return 1;
}

/* Tokenize `text` into a malloc'ed array (two-call pattern). */
static bitnet_status tokenize(const bitnet_model *m, const char *text, uint32_t flags, bitnet_token **out,
                              size_t *n)
{
    *out = NULL;
    bitnet_status s = bitnet_tokenize(m, text, strlen(text), flags, NULL, 0, n);
    if (s != BITNET_OK && s != BITNET_ERR_BUFFER_TOO_SMALL)
        return s;
    if (!(*out = malloc((*n ? *n : 1) * sizeof **out)))
        return BITNET_ERR_OUT_OF_MEMORY;
    if ((s = bitnet_tokenize(m, text, strlen(text), flags, *out, *n, n))) {
        free(*out);
        *out = NULL;
    }
    return s;
}

/* Make room for `need` more positions: keep the first n_keep, drop the
 * oldest turns after them and decode the newest history again, filling at
 * most half of the room that is left so that a few turns fit before the
 * next trim. */
static bitnet_status make_room(chat *c, int32_t need)
{
    const int32_t n_ctx = bitnet_context_n_ctx(c->ctx);
    int32_t n_past = 0;
    const bitnet_token *hist = bitnet_context_tokens(c->ctx, &n_past); /* borrowed until the trim */
    if (n_past + need <= n_ctx)
        return BITNET_OK;
    int32_t room = n_ctx - c->n_keep - need;
    int32_t tail = room > 0 ? room / 2 : 0;
    if (tail > n_past - c->n_keep)
        tail = n_past - c->n_keep;
    if (tail > 0)
        memcpy(c->tmp, hist + (n_past - tail), (size_t)tail * sizeof *c->tmp);
    bitnet_status s = bitnet_context_trim(c->ctx, c->n_keep);
    if (!s && tail > 0)
        s = bitnet_context_decode(c->ctx, c->tmp, tail);
    fprintf(stderr, "[context full: kept the first %d and the last %d of %d positions]\n", c->n_keep, tail, n_past);
    return s;
}

/* One turn: append the line's tokens, then stream the reply. */
static bitnet_status turn(chat *c, const char *line, bool first)
{
    const int32_t n_ctx = bitnet_context_n_ctx(c->ctx);
    bitnet_token *toks;
    size_t n;
    /* Turns after the first go on a new line of the conversation. */
    size_t len = strlen(line);
    char *text = malloc(len + 2);
    if (!text)
        return BITNET_ERR_OUT_OF_MEMORY;
    snprintf(text, len + 2, "%s%s", first ? "" : "\n", line);
    bitnet_status s = tokenize(c->model, text, first ? BITNET_TOKENIZE_ADD_SPECIAL : 0, &toks, &n);
    free(text);
    if (s)
        return s;
    /* A line longer than the context allows keeps its end. */
    size_t max_in = (size_t)(n_ctx - c->n_keep) / 2;
    if (!first && n > max_in) {
        fprintf(stderr, "[line of %zu tokens cut to its last %zu]\n", n, max_in);
        memmove(toks, toks + (n - max_in), max_in * sizeof *toks);
        n = max_in;
    }
    if (first && n > max_in) { /* it must fit beside a reply, BOS included */
        free(toks);
        fprintf(stderr, "[the first line has %zu tokens, more than %zu: skipped]\n", n, max_in);
        return BITNET_ERR_CONTEXT_FULL;
    }
    if (!first)
        s = make_room(c, (int32_t)n + c->n_predict);
    for (size_t i = 0; !s && i < n; i++)
        s = bitnet_sampler_accept(c->sampler, toks[i]);
    if (!s)
        s = bitnet_context_decode(c->ctx, toks, (int32_t)n);
    free(toks);
    if (s)
        return s;
    if (first) /* the first turn is the part a trim keeps, within a quarter of the context */
        c->n_keep = bitnet_context_n_past(c->ctx) < n_ctx / 4 ? bitnet_context_n_past(c->ctx) : n_ctx / 4;

    const int32_t n_vocab = bitnet_vocab_size(c->model);
    for (int i = 0; i < c->n_predict; i++) {
        bitnet_token t;
        if ((s = bitnet_sampler_sample(c->sampler, bitnet_context_logits(c->ctx, -1), n_vocab, &t)))
            return s;
        if (bitnet_token_is_eog(c->model, t))
            break;
        char piece[256];
        size_t plen = 0;
        if ((s = bitnet_token_to_piece(c->model, t, 0, piece, sizeof piece, &plen)))
            return s;
        if (memchr(piece, '\n', plen))
            break; /* the reply ends at the end of its line; the next turn adds "\n" */
        fwrite(piece, 1, plen, stdout);
        fflush(stdout);
        if ((s = bitnet_sampler_accept(c->sampler, t)))
            return s;
        if (bitnet_context_n_past(c->ctx) == n_ctx && (s = make_room(c, 1)))
            return s;
        if ((s = bitnet_context_decode(c->ctx, &t, 1)))
            return s;
    }
    putchar('\n');
    fflush(stdout);
    return BITNET_OK;
}

static int parse_int(const char *flag, const char *v, long lo, long hi, long *out)
{
    char *end;
    *out = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || *out < lo || *out > hi) {
        fprintf(stderr, "chat: %s needs an integer in [%ld, %ld]\n", flag, lo, hi);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: chat MODEL [--n-predict N] [--temp T] [--seed S] [--ctx N] [--threads N]\n");
        return 2;
    }
    chat c = {.n_predict = 48};
    bitnet_context_params cp = bitnet_context_params_default();
    bitnet_sampler_params sp = bitnet_sampler_params_default();
    sp.seed = 1;
    for (int i = 2; i < argc; i += 2) {
        const char *flag = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x = 0;
        int bad = 0;
        if (!strcmp(flag, "--n-predict") && !(bad = parse_int(flag, v, 1, 4096, &x)))
            c.n_predict = (int)x;
        else if (!strcmp(flag, "--seed") && !(bad = parse_int(flag, v, 0, 2147483647L, &x)))
            sp.seed = (uint64_t)x;
        else if (!strcmp(flag, "--ctx") && !(bad = parse_int(flag, v, 8, 1 << 20, &x)))
            cp.n_ctx = (int32_t)x;
        else if (!strcmp(flag, "--threads") && !(bad = parse_int(flag, v, 1, 256, &x)))
            cp.n_threads = (int32_t)x;
        else if (!strcmp(flag, "--temp")) {
            char *end = NULL;
            double t = v ? strtod(v, &end) : -1;
            if (!v || *end || !(t >= 0 && t <= 100)) {
                fprintf(stderr, "chat: --temp needs a number in [0, 100]\n");
                return 2;
            }
            sp.temperature = (float)t;
        } else if (!bad) {
            fprintf(stderr, "chat: unknown option %s\n", flag);
            return 2;
        }
        if (bad)
            return bad;
    }

    int rc = 1;
    bitnet_status s;
    char *line = NULL;
    size_t cap = 0;
    if ((s = bitnet_model_load_file(argv[1], NULL, &c.model)))
        rc = fail("cannot load the model", s);
    else if ((s = bitnet_context_new(c.model, &cp, &c.ctx)))
        rc = fail("cannot create a context", s);
    else if ((s = bitnet_sampler_new(&sp, &c.sampler)))
        rc = fail("cannot create the sampler", s);
    else if (c.n_predict + 8 > bitnet_context_n_ctx(c.ctx))
        fprintf(stderr, "chat: --n-predict %d leaves no room in a context of %d\n", c.n_predict,
                bitnet_context_n_ctx(c.ctx));
    else if (!(c.tmp = malloc((size_t)bitnet_context_n_ctx(c.ctx) * sizeof *c.tmp)))
        rc = fail("chat", BITNET_ERR_OUT_OF_MEMORY);
    else {
        rc = 0;
        bool first = true;
        ssize_t got;
        while ((got = getline(&line, &cap, stdin)) >= 0) {
            while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
                line[--got] = '\0';
            if (got == 0)
                continue;
            s = turn(&c, line, first);
            if (s == BITNET_ERR_CONTEXT_FULL && first)
                continue; /* a first line too long for the context: wait for another */
            if (s == BITNET_ERR_INVALID_ARGUMENT) { /* e.g. invalid UTF-8: nothing was decoded */
                fprintf(stderr, "[line skipped: %s]\n", bitnet_last_error());
                continue;
            }
            if (s) {
                rc = fail("turn failed", s);
                break;
            }
            first = false;
        }
    }
    free(line);
    free(c.tmp);
    bitnet_sampler_free(c.sampler);
    bitnet_context_free(c.ctx);
    bitnet_model_release(c.model);
    return rc;
}
