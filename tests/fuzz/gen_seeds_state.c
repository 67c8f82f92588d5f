/* Seeds of fuzz_state: real states saved from contexts configured as the
 * harness configures its own (fuzz_state_setup.h), so each seed loads
 * there: short and longer prompts, with and without a sampler (its random
 * stream and a wrapped penalty history), F32 and F16 KV caches, the last
 * logits row or every row, an empty context. */
#include <stdio.h>
#include <stdlib.h>

#include "bitnet/bitnet.h"
#include "fuzz/fuzz_state_setup.h"
#include "fuzz/gen_seeds.h"

typedef struct state_spec {
    const char *name;
    bool f16_logits_all;
    int n_prompt; /* tokens decoded in one call */
    int n_gen;    /* then sampled and decoded one at a time */
    bool sampler; /* saved with the sampler */
} state_spec;

static int one_state(const char *dir, bitnet_model *m, const state_spec *sp)
{
    bitnet_context_params cp = state_context_params(sp->f16_logits_all);
    bitnet_sampler_params spp = state_sampler_params();
    bitnet_context *c = NULL;
    bitnet_sampler *s = NULL;
    int bad = bitnet_context_new(m, &cp, &c) != BITNET_OK || bitnet_sampler_new(&spp, &s) != BITNET_OK;
    const int32_t n_vocab = bitnet_vocab_size(m);
    bitnet_token prompt[STATE_N_CTX];
    for (int i = 0; i < sp->n_prompt && !bad; i++) {
        prompt[i] = i == 0 ? 1 : (bitnet_token)((i * 37 + 11) % n_vocab);
        bad |= bitnet_sampler_accept(s, prompt[i]) != BITNET_OK;
    }
    if (!bad && sp->n_prompt)
        bad = bitnet_context_decode(c, prompt, sp->n_prompt) != BITNET_OK;
    for (int i = 0; i < sp->n_gen && !bad; i++) {
        bitnet_token t;
        bad = bitnet_sampler_sample(s, bitnet_context_logits(c, -1), n_vocab, &t) != BITNET_OK ||
              bitnet_sampler_accept(s, t) != BITNET_OK || bitnet_context_decode(c, &t, 1) != BITNET_OK;
    }
    size_t need = 0, got = 0;
    uint8_t *buf = NULL;
    if (!bad) {
        bitnet_sampler *saved = sp->sampler ? s : NULL;
        bad = bitnet_context_state_save_memory(c, saved, NULL, 0, &need) != BITNET_ERR_BUFFER_TOO_SMALL ||
              !(buf = malloc(need)) || bitnet_context_state_save_memory(c, saved, buf, need, &got) != BITNET_OK;
    }
    if (!bad) {
        char file[96];
        snprintf(file, sizeof file, "%s.bnstate", sp->name);
        bad = gen_write_file(dir, file, buf, got);
    }
    if (bad)
        fprintf(stderr, "gen_seeds: state %s: %s\n", sp->name, bitnet_last_error());
    free(buf);
    bitnet_sampler_free(s);
    bitnet_context_free(c);
    return bad;
}

int gen_seeds_state(const char *dir, const char *fixtures)
{
    if (!fixtures) {
        fprintf(stderr, "gen_seeds: no fixtures folder: no state seeds\n");
        return 0;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", fixtures, STATE_MODEL);
    bitnet_model *m = NULL;
    if (bitnet_model_load_file(path, NULL, &m) != BITNET_OK) {
        fprintf(stderr, "gen_seeds: %s: %s\n", path, bitnet_last_error());
        return 1;
    }
    static const state_spec specs[] = {
        {"f32-empty", false, 0, 0, false},
        {"f32-prompt1", false, 1, 0, false},
        {"f32-prompt5", false, 5, 0, false},
        {"f32-prompt4-gen12-sampler", false, 4, 12, true},
        {"f32-prompt40-sampler", false, 40, 0, true},
        {"f32-full", false, STATE_N_CTX - 2, 2, true},
        {"f16-all-prompt6", true, 6, 0, false},
        {"f16-all-prompt3-gen3-sampler", true, 3, 3, true},
        {"f16-empty-sampler", true, 0, 0, true},
    };
    int failures = 0;
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        failures += one_state(dir, m, &specs[i]);
    bitnet_model_release(m);
    return failures;
}
