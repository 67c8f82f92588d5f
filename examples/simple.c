/* simple: load a model, tokenize a prompt, generate greedily, print.
 *
 *   simple MODEL [PROMPT] [N_PREDICT]
 *
 * The generated text goes to stdout as it is produced (then a newline); the
 * generated token ids go to stderr as one line "tokens: 1 2 3", which the
 * install test compares with `bitnet run --temp 0 --json`.
 *
 * Build against an installed libbitnet:
 *   cc -std=c11 simple.c -o simple $(pkg-config --cflags --libs bitnet)
 */
#include <bitnet/bitnet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Print what failed with the library's detail message; returns 1 for main. */
static int fail(const char *what, bitnet_status s)
{
    fprintf(stderr, "simple: %s: %s (%s)\n", what, bitnet_status_str(s), bitnet_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: simple MODEL [PROMPT] [N_PREDICT]\n");
        return 2;
    }
    const char *path = argv[1];
    const char *prompt = argc > 2 ? argv[2] : "In the beginning God created";
    long n_predict = 32;
    if (argc > 3) {
        char *end;
        n_predict = strtol(argv[3], &end, 10);
        if (*end || n_predict < 0 || n_predict > 4096) {
            fprintf(stderr, "simple: N_PREDICT must be 0..4096\n");
            return 2;
        }
    }

    bitnet_model *model = NULL;     /* owned: released at the end   */
    bitnet_context *ctx = NULL;     /* owned: freed at the end      */
    bitnet_sampler *sampler = NULL; /* owned: freed at the end      */
    bitnet_token *prompt_tokens = NULL, *out = NULL;
    size_t n_prompt = 0;
    long n_out = 0;
    int rc = 1;
    bitnet_status s;

    /* 1. Load: the file is mapped; quantized weights stay as stored. */
    if ((s = bitnet_model_load_file(path, NULL, &model))) {
        rc = fail("cannot load the model", s);
        goto done;
    }

    /* 2. A context: the KV cache and scratch of one generation. It holds
     *    its own reference to the model. */
    {
        const bitnet_context_params cp = bitnet_context_params_default(); /* struct_size set */
        if ((s = bitnet_context_new(model, &cp, &ctx))) {
            rc = fail("cannot create a context", s);
            goto done;
        }
    }

    /* 3. Tokenize with the two-call pattern: ask for the count, then fill. */
    s = bitnet_tokenize(model, prompt, strlen(prompt), BITNET_TOKENIZE_ADD_SPECIAL, NULL, 0, &n_prompt);
    if (s != BITNET_OK && s != BITNET_ERR_BUFFER_TOO_SMALL) {
        rc = fail("cannot tokenize the prompt", s);
        goto done;
    }
    if (n_prompt == 0 || n_prompt > (size_t)bitnet_context_n_ctx(ctx)) {
        fprintf(stderr, "simple: the prompt has %zu tokens; the context holds 1..%d\n", n_prompt,
                bitnet_context_n_ctx(ctx));
        goto done;
    }
    prompt_tokens = malloc(n_prompt * sizeof *prompt_tokens);
    out = malloc((size_t)(n_predict > 0 ? n_predict : 1) * sizeof *out);
    if (!prompt_tokens || !out) {
        rc = fail("generate", BITNET_ERR_OUT_OF_MEMORY);
        goto done;
    }
    if ((s = bitnet_tokenize(model, prompt, strlen(prompt), BITNET_TOKENIZE_ADD_SPECIAL, prompt_tokens, n_prompt,
                             &n_prompt))) {
        rc = fail("cannot tokenize the prompt", s);
        goto done;
    }

    /* 4. Prefill: one decode call for the whole prompt. */
    if ((s = bitnet_context_decode(ctx, prompt_tokens, (int32_t)n_prompt))) {
        rc = fail("cannot decode the prompt", s);
        goto done;
    }

    /* 5. Greedy sampling: temperature 0 takes the most likely token. */
    {
        bitnet_sampler_params sp = bitnet_sampler_params_default();
        sp.temperature = 0.0f;
        if ((s = bitnet_sampler_new(&sp, &sampler))) {
            rc = fail("cannot create the sampler", s);
            goto done;
        }
    }
    for (size_t i = 0; i < n_prompt; i++)
        if ((s = bitnet_sampler_accept(sampler, prompt_tokens[i]))) {
            rc = fail("sampler", s);
            goto done;
        }

    while (n_out < n_predict) {
        /* Borrowed from the context until its next decode. */
        const float *logits = bitnet_context_logits(ctx, -1);
        bitnet_token t;
        if ((s = bitnet_sampler_sample(sampler, logits, bitnet_vocab_size(model), &t))) {
            rc = fail("cannot sample", s);
            goto done;
        }
        if (bitnet_token_is_eog(model, t))
            break;
        if ((s = bitnet_sampler_accept(sampler, t))) {
            rc = fail("sampler", s);
            goto done;
        }
        out[n_out++] = t;

        char piece[256];
        size_t len = 0;
        if ((s = bitnet_token_to_piece(model, t, 0, piece, sizeof piece, &len))) {
            rc = fail("cannot render a token", s);
            goto done;
        }
        fwrite(piece, 1, len, stdout);
        fflush(stdout);

        if (n_out == n_predict || bitnet_context_n_past(ctx) == bitnet_context_n_ctx(ctx))
            break; /* done, or the KV cache is full */
        if ((s = bitnet_context_decode(ctx, &t, 1))) {
            rc = fail("cannot decode", s);
            goto done;
        }
    }
    putchar('\n');

    fputs("tokens:", stderr);
    for (long i = 0; i < n_out; i++)
        fprintf(stderr, " %d", out[i]);
    fputc('\n', stderr);
    rc = 0;

done:
    /* 6. Free in any order: every free/release accepts NULL, and the context
     * holds its own reference to the model. */
    bitnet_sampler_free(sampler);
    bitnet_context_free(ctx);
    bitnet_model_release(model);
    free(prompt_tokens);
    free(out);
    return rc;
}
