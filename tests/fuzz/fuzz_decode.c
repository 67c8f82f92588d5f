/* libFuzzer harness for the whole path: a (tiny, mutated) GGUF model loaded
 * from memory -> tokenizer -> context -> decode -> logits -> sampler ->
 * state save/load.
 *
 * Per input: bitnet_model_load_memory; when the model loads and its tensors
 * are small (at most MAX_TENSOR_BYTES stored, MAX_ELEMENTS elements, so one
 * input stays a few milliseconds), its tokenizer is built and used, a
 * context of N_CTX positions is created and, when that works, a prefill of
 * two tokens and one single-token step run; the logits are read and sampled
 * and the state is saved and loaded back. Parameters vary with a hash of
 * the input: cache budget, blas_min_batch (the cache-backed sgemm path), KV
 * type, logits_all, head re-quantization, prefetch worker, n_batch, kernel
 * backend (best, scalar reference, AVX2).
 * Checks, beyond "no crash, no leak, no UB, no hang": calls return a
 * status; a model whose context was created decodes its first tokens (OK,
 * or OUT_OF_RANGE for ids outside a tiny vocabulary); logits exist after a
 * decode. A failed check aborts (a crash to libFuzzer). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/bitnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TENSOR_BYTES (4u << 20) /* stored bytes of all tensors */
#define MAX_ELEMENTS (4 << 20)      /* elements of all tensors (floats when dequantized) */
#define MAX_TENSORS 4096
#define N_CTX 8

static volatile uint64_t sink;

/* BN_FUZZ_TRACE=1 in the environment: say how far each input got. */
static void trace(const char *what)
{
    static int on = -1;
    if (on < 0)
        on = getenv("BN_FUZZ_TRACE") != NULL;
    if (on)
        fprintf(stderr, "  fuzz_decode: %s (%s)\n", what, bitnet_last_error());
}

static void check(int ok, const char *what)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_decode: check failed: %s: %s\n", what, bitnet_last_error());
    abort();
}

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* True when every tensor together is small enough to run. */
static bool small_enough(const bitnet_model *m)
{
    const int64_t n = bitnet_model_tensor_count(m);
    if (n > MAX_TENSORS)
        return false;
    uint64_t bytes = 0, elems = 0;
    for (int64_t i = 0; i < n; i++) {
        bitnet_tensor_info ti;
        memset(&ti, 0, sizeof ti);
        ti.struct_size = sizeof ti;
        if (bitnet_model_tensor_info(m, i, &ti) != BITNET_OK)
            return false;
        uint64_t e = 1;
        for (uint32_t d = 0; d < ti.n_dims && d < BITNET_MAX_DIMS; d++) {
            if (ti.ne[d] <= 0 || (uint64_t)ti.ne[d] > MAX_ELEMENTS)
                return false;
            e *= (uint64_t)ti.ne[d];
            if (e > MAX_ELEMENTS)
                return false;
        }
        bytes += ti.n_bytes;
        elems += e;
        if (bytes > MAX_TENSOR_BYTES || elems > MAX_ELEMENTS)
            return false;
    }
    return true;
}

/* Tokenize a short text with every flag, then detokenize it. */
static void use_tokenizer(const bitnet_model *m, bitnet_token *toks, size_t *n_toks)
{
    static const char text[] = "Hello world! <s> 123 \xC3\xA9t\xC3\xA9\n\tend</s>";
    *n_toks = 0;
    const int32_t nv = bitnet_vocab_size(m);
    if (nv <= 0)
        return;
    sink += (uint64_t)bitnet_token_bos(m) + (uint64_t)bitnet_token_eos(m) + bitnet_token_is_eog(m, 0);
    bitnet_token buf[64];
    size_t n = 0;
    bitnet_status s = bitnet_tokenize(m, text, sizeof text - 1,
                                      BITNET_TOKENIZE_ADD_SPECIAL | BITNET_TOKENIZE_PARSE_SPECIAL, buf, 64, &n);
    if (s != BITNET_OK)
        return;
    for (size_t i = 0; i < n; i++)
        check(buf[i] >= 0 && buf[i] < nv, "token outside the vocabulary");
    char out[512];
    size_t len = 0;
    (void)bitnet_detokenize(m, buf, n, BITNET_DETOKENIZE_SPECIAL, out, sizeof out, &len);
    sink += len;
    for (size_t i = 0; i < n && i < 3; i++)
        toks[(*n_toks)++] = buf[i];
}

static void run_context(bitnet_model *m, uint32_t v, const bitnet_token *toks, size_t n_toks)
{
    bitnet_tensor_info te;
    memset(&te, 0, sizeof te);
    te.struct_size = sizeof te;
    if (bitnet_model_tensor_info_by_name(m, "token_embd.weight", &te) != BITNET_OK || te.n_dims < 2 || te.ne[1] <= 0)
        return;
    const int64_t n_vocab = te.ne[1];
    bitnet_context_params cp = bitnet_context_params_default();
    cp.n_ctx = N_CTX;
    cp.n_batch = v & 0x80 ? 1 : 4;
    cp.blas_min_batch = v & 0x2 ? 1 : 0;
    cp.kv_type = v & 0x4 ? BITNET_TYPE_F16 : BITNET_TYPE_F32;
    cp.logits_all = v & 0x8;
    /* The best backend for this CPU, or the scalar reference, or AVX2 (on
     * other machines a backend that is not there fails context creation). */
    static const char *const backends[4] = {NULL, "ref", "avx2", NULL};
    cp.backend = backends[v >> 10 & 3];
    bitnet_context *c = NULL;
    bitnet_status s = bitnet_context_new(m, &cp, &c);
    trace(s ? "no context" : "context");
    if (s != BITNET_OK) {
        check(c == NULL && bitnet_last_error()[0], "a failed context_new left a context or no message");
        return;
    }
    bitnet_token t[3];
    for (int i = 0; i < 3; i++) /* the text's tokens when they are rows of the embedding */
        t[i] = (size_t)i < n_toks && toks[i] < n_vocab ? toks[i] : (bitnet_token)(i % n_vocab);
    s = bitnet_context_decode(c, t, 2);
    trace(s ? "decode failed" : "decoded");
    check(s == BITNET_OK || s == BITNET_ERR_OUT_OF_RANGE, "prefill");
    if (s == BITNET_OK) {
        s = bitnet_context_decode(c, t + 2, 1);
        check(s == BITNET_OK, "single-token decode");
        const float *lg = bitnet_context_logits(c, -1);
        check(lg != NULL, "no logits after a decode");
        double sum = 0;
        for (int64_t i = 0; i < n_vocab; i++)
            sum += lg[i];
        sink += sum == sum;
        /* Sample as README's example does: over bitnet_vocab_size() logits
         * when the model has a tokenizer (the library guarantees that many). */
        const int32_t n_tok = bitnet_vocab_size(m);
        const int32_t n_sample = n_tok > 0 ? n_tok : n_vocab <= INT32_MAX ? (int32_t)n_vocab : 0;
        bitnet_sampler_params sp = bitnet_sampler_params_default();
        sp.seed = v;
        bitnet_sampler *smp = NULL;
        if (n_sample > 0 && bitnet_sampler_new(&sp, &smp) == BITNET_OK) {
            bitnet_token out;
            if (bitnet_sampler_sample(smp, lg, n_sample, &out) == BITNET_OK) {
                check(out >= 0 && out < n_vocab, "sampled token outside the vocabulary");
                (void)bitnet_sampler_accept(smp, out);
            }
        }
        /* Save and load the state back into the same context (one input in
         * four: zstd's context setup costs more than the decode). */
        size_t need = 0, got = 0;
        if ((v >> 8 & 3) == 0 &&
            bitnet_context_state_save_memory(c, smp, NULL, 0, &need) == BITNET_ERR_BUFFER_TOO_SMALL) {
            uint8_t *buf = malloc(need);
            if (buf && bitnet_context_state_save_memory(c, smp, buf, need, &got) == BITNET_OK)
                check(bitnet_context_state_load_memory(c, smp, buf, got) == BITNET_OK, "state round trip");
            free(buf);
        }
        bitnet_sampler_free(smp);
    }
    bitnet_context_memory_info mem = {.struct_size = sizeof mem};
    (void)bitnet_context_memory(c, &mem);
    sink += mem.total_bytes;
    bitnet_context_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint32_t v = fnv1a(data, size);
    bitnet_model_params mp = bitnet_model_params_default();
    mp.cache_bytes = v & 0x1 ? 1u << 20 : 0;
    mp.head_type = (v >> 4 & 3) == 1 ? BITNET_TYPE_Q8_0 : (v >> 4 & 3) == 2 ? BITNET_TYPE_F16 : -1;
    mp.prefetch = v & 0x40;
    bitnet_model *m = NULL;
    if (bitnet_model_load_memory(data, size, &mp, &m) != BITNET_OK) {
        trace("not loaded");
        check(m == NULL, "a failed load left a model");
        return 0;
    }
    if (!small_enough(m))
        trace("too large");
    else {
        bitnet_token toks[3];
        size_t n_toks = 0;
        use_tokenizer(m, toks, &n_toks);
        run_context(m, v, toks, n_toks);
    }
    bitnet_model_release(m);
    return 0;
}
