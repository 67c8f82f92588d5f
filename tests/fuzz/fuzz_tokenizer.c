/* libFuzzer harness for the tokenizers: random bytes against each fixture
 * vocabulary (SentencePiece "llama", byte-level BPE with the gpt2 and the
 * llama3 pre-tokenizer), loaded once per process from the fixture GGUF files
 * (vocab/ggml-vocab-*.gguf under $BITNET_FIXTURES or the build's default).
 *
 * Input: byte 0 picks the vocabulary (bits 0-1) and the flags (bit 2
 * ADD_SPECIAL, bit 3 PARSE_SPECIAL, bit 4 DETOKENIZE_SPECIAL); the rest is
 * the text. Checks, beyond "no crash, no leak, no UB":
 *  - tokenize follows the two-call pattern (capacity 0 reports the count,
 *    the second call gives the same count) and every id is in the
 *    vocabulary; invalid UTF-8 is INVALID_ARGUMENT, valid UTF-8 never is;
 *  - detokenize and token_to_piece follow the two-call pattern and agree
 *    (the pieces concatenated are the text, less SentencePiece's leading
 *    space);
 *  - detokenize(tokenize(text)) == text for BPE vocabularies and for
 *    SentencePiece text without U+2581, when no special token is parsed,
 *    added or rendered (README "Tokenizer");
 *  - the input read as little-endian int32 ids: detokenize and
 *    token_to_piece accept exactly the ids inside the vocabulary.
 * A failed check aborts, which libFuzzer reports as a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/bitnet.h"
#include "support/fixtures.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_VOCABS 3
static const char *const VOCAB_FILES[N_VOCABS] = {
    "vocab/ggml-vocab-llama-spm.gguf", /* SentencePiece with byte fallback */
    "vocab/ggml-vocab-gpt-2.gguf",     /* BPE, gpt2 pre-tokenizer */
    "vocab/ggml-vocab-llama-bpe.gguf", /* BPE, llama3 pre-tokenizer */
};

static bitnet_model *vocabs[N_VOCABS];
static int loaded; /* 0 not tried, 1 loaded, -1 fixtures missing */

static void check(int ok, const char *what, const uint8_t *text, size_t len)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_tokenizer: check failed: %s (text of %zu bytes: \"%.*s\"): %s\n", what, len, (int)len,
            (const char *)text, bitnet_last_error());
    abort();
}

static void load_vocabs(void)
{
    if (loaded)
        return;
    loaded = -1;
    char path[4096];
    for (int i = 0; i < N_VOCABS; i++) {
        if (!fixture_path(path, sizeof path, VOCAB_FILES[i])) {
            fprintf(stderr, "fuzz_tokenizer: fixtures folder not found (set BITNET_FIXTURES): nothing to fuzz\n");
            return;
        }
        if (bitnet_model_load_file(path, NULL, &vocabs[i]) != BITNET_OK || bitnet_vocab_size(vocabs[i]) <= 0) {
            fprintf(stderr, "fuzz_tokenizer: %s: %s\n", path, bitnet_last_error());
            abort();
        }
    }
    loaded = 1;
}

/* Valid UTF-8 as bitnet_tokenize defines it (RFC 3629: no surrogates, no
 * overlong forms, nothing above U+10FFFF). */
static int valid_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            k = 1, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3, cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return 0;
        i += k + 1;
    }
    return 1;
}

static int contains(const uint8_t *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(s + i, needle, k))
            return 1;
    return 0;
}

/* Detokenize with the two-call pattern; the text in a malloc'd buffer. */
static char *detokenize(const bitnet_model *m, const bitnet_token *toks, size_t n, uint32_t flags, size_t *len)
{
    size_t need = 0;
    bitnet_status s = bitnet_detokenize(m, toks, n, flags, NULL, 0, &need);
    check(s == BITNET_OK || s == BITNET_ERR_BUFFER_TOO_SMALL, "detokenize size query", NULL, 0);
    check((s == BITNET_OK) == (need == 0), "detokenize: OK only for empty text", NULL, 0);
    char *buf = malloc(need + 1);
    if (!buf)
        abort();
    size_t got = 0;
    s = bitnet_detokenize(m, toks, n, flags, buf, need + 1, &got);
    check(s == BITNET_OK && got == need, "detokenize: second call", NULL, 0);
    if (need) { /* a buffer one byte short must be refused and left alone */
        buf[need - 1] = 'x';
        s = bitnet_detokenize(m, toks, n, flags, buf, need - 1, &got);
        check(s == BITNET_ERR_BUFFER_TOO_SMALL && got == need, "detokenize: short buffer", NULL, 0);
        bitnet_detokenize(m, toks, n, flags, buf, need, &got);
    }
    *len = need;
    return buf;
}

/* The pieces of the tokens, concatenated, must be the detokenized text
 * (with SentencePiece's single dummy-prefix space dropped at the front). */
static void check_pieces(const bitnet_model *m, int spm, const bitnet_token *toks, size_t n, uint32_t flags,
                         const char *text, size_t text_len, const uint8_t *in, size_t in_len)
{
    size_t cap = text_len + 2, len = 0;
    char *cat = malloc(cap);
    if (!cat)
        abort();
    for (size_t i = 0; i < n; i++) {
        size_t need = 0;
        bitnet_status s = bitnet_token_to_piece(m, toks[i], flags, NULL, 0, &need);
        check(s == BITNET_OK || s == BITNET_ERR_BUFFER_TOO_SMALL, "token_to_piece size query", in, in_len);
        check(len + need <= text_len + 1, "pieces longer than the text", in, in_len);
        size_t got = 0;
        s = bitnet_token_to_piece(m, toks[i], flags, cat + len, cap - len, &got);
        check(s == BITNET_OK && got == need, "token_to_piece: second call", in, in_len);
        len += got;
    }
    int same = len == text_len ? !memcmp(cat, text, len)
                               : spm && len == text_len + 1 && cat[0] == ' ' && !memcmp(cat + 1, text, text_len);
    check(same, "pieces and detokenize disagree", in, in_len);
    free(cat);
}

static void fuzz_text(const bitnet_model *m, int spm, uint32_t tflags, uint32_t dflags, const uint8_t *text,
                      size_t len)
{
    const int32_t n_vocab = bitnet_vocab_size(m);
    size_t n = 0;
    bitnet_status s = bitnet_tokenize(m, (const char *)text, len, tflags, NULL, 0, &n);
    if (!valid_utf8(text, len)) {
        check(s == BITNET_ERR_INVALID_ARGUMENT, "invalid UTF-8 accepted", text, len);
        return;
    }
    check(s == BITNET_OK || s == BITNET_ERR_BUFFER_TOO_SMALL, "tokenize size query", text, len);
    check((s == BITNET_OK) == (n == 0), "tokenize: OK only for no tokens", text, len);
    bitnet_token *toks = malloc((n ? n : 1) * sizeof *toks);
    if (!toks)
        abort();
    size_t n2 = 0;
    s = bitnet_tokenize(m, (const char *)text, len, tflags, toks, n, &n2);
    check(s == BITNET_OK && n2 == n, "tokenize: second call", text, len);
    for (size_t i = 0; i < n; i++)
        check(toks[i] >= 0 && toks[i] < n_vocab, "token id outside the vocabulary", text, len);
    size_t out_len = 0;
    char *out = detokenize(m, toks, n, dflags, &out_len);
    check_pieces(m, spm, toks, n, dflags, out, out_len, text, len);
    /* Plain text round-trips when nothing special is involved. */
    if (!tflags && !dflags && !(spm && contains(text, len, "\xE2\x96\x81")))
        check(out_len == len && !memcmp(out, text, len), "detokenize(tokenize(text)) != text", text, len);
    free(out);
    free(toks);
}

/* The input as int32 ids: in-range ids render, any other id is refused. */
static void fuzz_ids(const bitnet_model *m, int spm, uint32_t dflags, const uint8_t *data, size_t size)
{
    const int32_t n_vocab = bitnet_vocab_size(m);
    size_t n = size / 4 > 64 ? 64 : size / 4;
    bitnet_token ids[64];
    int all_in = 1;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)data[4 * i] | (uint32_t)data[4 * i + 1] << 8 | (uint32_t)data[4 * i + 2] << 16 |
                     (uint32_t)data[4 * i + 3] << 24;
        /* Mostly in range (the high byte picks), sometimes anything. */
        ids[i] = (u >> 24) < 0xF0 ? (bitnet_token)((u & 0x00FFFFFFu) % (uint32_t)n_vocab) : (bitnet_token)u;
        all_in &= ids[i] >= 0 && ids[i] < n_vocab;
        char piece[8];
        size_t len = 0;
        bitnet_status s = bitnet_token_to_piece(m, ids[i], dflags, piece, sizeof piece, &len);
        if (ids[i] < 0 || ids[i] >= n_vocab)
            check(s == BITNET_ERR_OUT_OF_RANGE, "token_to_piece accepted an id outside the vocabulary", data, size);
        else
            check(s == BITNET_OK || (s == BITNET_ERR_BUFFER_TOO_SMALL && len > sizeof piece), "token_to_piece", data,
                  size);
        (void)bitnet_token_text(m, ids[i]);
        (void)bitnet_token_is_eog(m, ids[i]);
    }
    size_t len = 0;
    bitnet_status s = bitnet_detokenize(m, ids, n, dflags, NULL, 0, &len);
    if (!all_in) {
        check(s == BITNET_ERR_OUT_OF_RANGE, "detokenize accepted an id outside the vocabulary", data, size);
        return;
    }
    char *text = detokenize(m, ids, n, dflags, &len);
    check_pieces(m, spm, ids, n, dflags, text, len, data, size);
    free(text);
}

/* The vocabularies load before the first input, so that the time it takes
 * (the 128k-token llama3 one is the largest) is not charged to an input. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    load_vocabs();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load_vocabs();
    if (loaded != 1 || size == 0)
        return 0;
    const uint8_t sel = data[0];
    const int which = (sel & 3) % N_VOCABS;
    const uint32_t tflags = (sel & 4 ? BITNET_TOKENIZE_ADD_SPECIAL : 0) | (sel & 8 ? BITNET_TOKENIZE_PARSE_SPECIAL : 0);
    const uint32_t dflags = sel & 16 ? BITNET_DETOKENIZE_SPECIAL : 0;
    fuzz_text(vocabs[which], which == 0, tflags, dflags, data + 1, size - 1);
    fuzz_ids(vocabs[which], which == 0, dflags, data + 1, size - 1);
    return 0;
}
