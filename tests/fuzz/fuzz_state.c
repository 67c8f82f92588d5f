/* libFuzzer harness for state files (bitnet_context_state_load_memory).
 *
 * Once per process: the tiny stories260k fixture model, two contexts
 * (fuzz_state_setup.h: F32 KV with the last logits row, F16 KV with every
 * row) and a sampler, each context holding a three-token baseline whose
 * saved state is kept. Per input: the context the state's KV type names
 * loads it (with the sampler, or none for odd sizes). Checks, beyond "no
 * crash, no leak, no UB":
 *  - a failed load returns BAD_FORMAT, OUT_OF_RANGE, UNSUPPORTED or
 *    OUT_OF_MEMORY and leaves context and sampler unchanged (their saved
 *    state equals the baseline, byte for byte);
 *  - a loaded state is usable: its tokens are in the vocabulary, its logits
 *    sample (unless one is NaN: floats are the file's), one more token
 *    decodes when there is room, and it saves and loads again. The baseline
 *    is then restored.
 *
 * State payloads are a zstd frame with a checksum, which random mutation
 * almost never gets right, so the libFuzzer build has a custom mutator:
 * most of the time it decompresses the frame, mutates the payload and/or the
 * 96-byte header, sets the header's payload size (usually) and compresses
 * again with a valid checksum; otherwise it mutates the raw bytes. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "bitnet/bitnet.h"
#include "fuzz/fuzz_state_setup.h"
#include "state/state_format.h"
#include "support/fixtures.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
    int ready; /* 0 not tried, 1 ready, -1 no fixtures */
    bitnet_model *model;
    bitnet_context *ctx[2];
    bitnet_sampler *smp;
    uint8_t *base[2]; /* saved baseline of ctx[i] + smp */
    size_t base_size[2];
    int32_t n_vocab;
} S;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_state: %s: %s\n", what, bitnet_last_error());
    abort();
}

static uint8_t *save(const bitnet_context *c, const bitnet_sampler *s, size_t *n)
{
    size_t need = 0;
    if (bitnet_context_state_save_memory(c, s, NULL, 0, &need) != BITNET_ERR_BUFFER_TOO_SMALL)
        die("state size query");
    uint8_t *buf = malloc(need);
    if (!buf || bitnet_context_state_save_memory(c, s, buf, need, n) != BITNET_OK || *n != need)
        die("state save");
    return buf;
}

static void setup(void)
{
    if (S.ready)
        return;
    S.ready = -1;
    char path[4096];
    if (!fixture_path(path, sizeof path, STATE_MODEL)) {
        fprintf(stderr, "fuzz_state: fixtures folder not found (set BITNET_FIXTURES): nothing to fuzz\n");
        return;
    }
    if (bitnet_model_load_file(path, NULL, &S.model) != BITNET_OK)
        die(path);
    S.n_vocab = bitnet_vocab_size(S.model);
    bitnet_sampler_params sp = state_sampler_params();
    if (bitnet_sampler_new(&sp, &S.smp) != BITNET_OK)
        die("sampler");
    const bitnet_token prompt[3] = {1, 50, 100};
    for (int i = 0; i < 2; i++) {
        bitnet_context_params cp = state_context_params(i == 1);
        if (bitnet_context_new(S.model, &cp, &S.ctx[i]) != BITNET_OK ||
            bitnet_context_decode(S.ctx[i], prompt, 3) != BITNET_OK)
            die("context");
    }
    for (int i = 0; i < 3; i++)
        bitnet_sampler_accept(S.smp, prompt[i]);
    for (int i = 0; i < 2; i++)
        S.base[i] = save(S.ctx[i], S.smp, &S.base_size[i]);
    S.ready = 1;
}

/* Context and sampler must hold the baseline again. */
static void check_baseline(int which, const char *what)
{
    size_t n = 0;
    uint8_t *now = save(S.ctx[which], S.smp, &n);
    if (n != S.base_size[which] || memcmp(now, S.base[which], n)) {
        fprintf(stderr, "fuzz_state: %s\n", what);
        abort();
    }
    free(now);
}

static void restore(int which)
{
    if (bitnet_context_state_load_memory(S.ctx[which], S.smp, S.base[which], S.base_size[which]) != BITNET_OK)
        die("restoring the baseline");
}

/* A loaded state must work like any other. */
static void use_loaded(int which, bitnet_sampler *smp)
{
    bitnet_context *c = S.ctx[which];
    int32_t n_past = -1;
    const bitnet_token *toks = bitnet_context_tokens(c, &n_past);
    if (n_past < 0 || n_past > bitnet_context_n_ctx(c))
        die("loaded n_past out of range");
    for (int32_t i = 0; i < n_past; i++)
        if (toks[i] < 0 || toks[i] >= S.n_vocab)
            die("loaded token outside the vocabulary");
    bitnet_token t = 0;
    const float *lg = bitnet_context_logits(c, -1);
    if (lg && bitnet_sampler_sample(S.smp, lg, S.n_vocab, &t) != BITNET_OK) {
        /* Floats are not checked on load (as model weights are not): a
         * crafted state may carry NaN logits, which the sampler refuses. */
        int nan = 0;
        for (int32_t i = 0; i < S.n_vocab; i++)
            nan |= lg[i] != lg[i];
        if (!nan)
            die("sampling the loaded logits");
        t = 0;
    }
    if (n_past < bitnet_context_n_ctx(c) && bitnet_context_decode(c, &t, 1) != BITNET_OK)
        die("decoding after a load");
    size_t n = 0;
    uint8_t *again = save(c, smp, &n);
    if (bitnet_context_state_load_memory(c, smp, again, n) != BITNET_OK)
        die("reloading a re-saved state");
    free(again);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The model and contexts are set up before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setup();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (S.ready != 1)
        return 0;
    const int which = size >= BN_STATE_OFF_KV_TYPE + 4 && rd32(data + BN_STATE_OFF_KV_TYPE) == BITNET_TYPE_F16;
    bitnet_sampler *smp = size % 2 ? NULL : S.smp;
    bitnet_status s = bitnet_context_state_load_memory(S.ctx[which], smp, data, size);
    if (getenv("BN_FUZZ_TRACE")) /* how far each input got */
        fprintf(stderr, "  fuzz_state: load into context %d: %s (%s)\n", which, bitnet_status_str(s),
                bitnet_last_error());
    if (s == BITNET_OK) {
        use_loaded(which, smp);
        restore(which);
        check_baseline(which, "restoring the baseline did not restore it");
        return 0;
    }
    if (s != BITNET_ERR_BAD_FORMAT && s != BITNET_ERR_OUT_OF_RANGE && s != BITNET_ERR_UNSUPPORTED &&
        s != BITNET_ERR_OUT_OF_MEMORY)
        die("unexpected status");
    check_baseline(which, "a failed load changed the context or the sampler");
    return 0;
}

#ifndef BN_FUZZ_STANDALONE
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

#define MAX_PAYLOAD (1u << 20)

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Mutate inside the frame: decompress, mutate payload and/or header, fix
 * the size (usually), compress with a checksum. 0 when it does not apply. */
static size_t mutate_structured(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    if (size <= BN_STATE_HEADER_SIZE || max_size <= BN_STATE_HEADER_SIZE)
        return 0;
    const uint8_t *f = data + BN_STATE_HEADER_SIZE;
    const size_t fn = size - BN_STATE_HEADER_SIZE;
    unsigned long long content = ZSTD_getFrameContentSize(f, fn);
    if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN || content > MAX_PAYLOAD)
        return 0;
    const size_t cap = (size_t)content + 4096;
    uint8_t *pl = malloc(cap);
    if (!pl)
        return 0;
    size_t n = ZSTD_decompress(pl, (size_t)content, f, fn);
    size_t out = 0;
    if (!ZSTD_isError(n)) {
        uint8_t header[BN_STATE_HEADER_SIZE];
        memcpy(header, data, sizeof header);
        const unsigned mode = (seed >> 3) % 4; /* 0, 1: payload; 2: header; 3: both */
        if (mode != 2 && n > 0)
            n = LLVMFuzzerMutate(pl, n, cap);
        if (mode >= 2) {
            uint8_t h[BN_STATE_HEADER_SIZE];
            memcpy(h, header, sizeof h);
            size_t hn = LLVMFuzzerMutate(h, sizeof h, sizeof h);
            memcpy(header, h, hn < sizeof h ? hn : sizeof h);
        }
        if ((seed >> 5) % 8 != 0) /* mostly keep the header consistent */
            put64(header + BN_STATE_OFF_PAYLOAD_SIZE, n);
        const size_t bound = ZSTD_compressBound(n);
        uint8_t *z = malloc(bound);
        ZSTD_CCtx *cc = ZSTD_createCCtx();
        if (z && cc && !ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1)) &&
            !ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 1)) &&
            !ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 1))) {
            size_t zn = ZSTD_compress2(cc, z, bound, pl, n);
            if (!ZSTD_isError(zn) && BN_STATE_HEADER_SIZE + zn <= max_size) {
                memcpy(data, header, BN_STATE_HEADER_SIZE);
                memcpy(data + BN_STATE_HEADER_SIZE, z, zn);
                out = BN_STATE_HEADER_SIZE + zn;
            }
        }
        ZSTD_freeCCtx(cc);
        free(z);
    }
    free(pl);
    return out;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    if (seed % 8 != 0) { /* 7 in 8: structured */
        size_t n = mutate_structured(data, size, max_size, seed);
        if (n)
            return n;
    }
    return LLVMFuzzerMutate(data, size, max_size);
}
#endif
