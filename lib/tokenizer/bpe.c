/* Byte-level BPE ("gpt2" vocabularies), as llama.cpp's llm_tokenizer_bpe:
 * pre-tokenize, map each pre-token's bytes to GPT-2's printable code points,
 * then merge adjacent symbols lowest merge rank first. */
#include <string.h>

#include "core/error.h"
#include "tokenizer/tokenizer_internal.h"
#include "tokenizer/unicode.h"
#include "tokenizer/utf8.h"

/* A pair may merge when "left right" is in tokenizer.ggml.merges; the
 * earliest merge (lowest rank) goes first, hence the negated rank. */
static bool bpe_pair(bn_session *s, size_t left, size_t right, double *key)
{
    const bn_sym *l = &s->syms[left], *r = &s->syms[right];
    memcpy(s->key, s->buf + l->start, l->n);
    s->key[l->n] = ' ';
    memcpy(s->key + l->n + 1, s->buf + r->start, r->n);
    int64_t rank = bn_strtab_find(&s->t->merges, s->key, l->n + 1 + r->n);
    if (rank < 0)
        return false;
    *key = -(double)rank;
    return true;
}

/* The word's bytes as GPT-2 code points, UTF-8 encoded, in s->buf. */
static bitnet_status map_bytes(bn_session *s, const char *word, size_t len)
{
    if (len > SIZE_MAX / 2 - 1)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "tokenizer: a %zu-byte word does not fit in memory", len);
    bitnet_status st = bn_session_reserve_buf(s, 2 * len);
    if (st)
        return st;
    char *key = bn_grow(s->key, &s->cap_key, 2 * len + 1, 1);
    if (!key)
        return BITNET_ERR_OUT_OF_MEMORY;
    s->key = key;
    s->len = 0;
    for (size_t i = 0; i < len; i++)
        s->len += bn_utf8_encode(bn_byte_to_cpt((unsigned char)word[i]), s->buf + s->len);
    return BITNET_OK;
}

/* A symbol that is no token: as llama.cpp, each of its bytes that is a
 * one-byte token on its own; others are dropped. */
static bitnet_status emit_bytes(bn_session *s, const bn_sym *sym)
{
    bitnet_status st = BITNET_OK;
    for (size_t i = 0; i < sym->n && !st; i++) {
        bitnet_token id = bn_token_find(s->t, s->buf + sym->start + i, 1);
        if (id != BITNET_TOKEN_NULL)
            st = bn_session_push(s, id);
    }
    return st;
}

static bitnet_status encode_word(bn_session *s, const char *word, size_t len)
{
    bitnet_status st = map_bytes(s, word, len);
    if (st)
        return st;
    if (s->t->ignore_merges) {
        bitnet_token id = bn_token_find(s->t, s->buf, s->len);
        if (id != BITNET_TOKEN_NULL)
            return bn_session_push(s, id);
    }
    st = bn_session_merge(s, bpe_pair);
    for (size_t i = 0; !st && s->n_syms && i != BN_NONE; i = s->syms[i].next) {
        const bn_sym *sym = &s->syms[i];
        bitnet_token id = bn_token_find(s->t, s->buf + sym->start, sym->n);
        st = id != BITNET_TOKEN_NULL ? bn_session_push(s, id) : emit_bytes(s, sym);
    }
    return st;
}

/* Code points, classes and byte offsets of the (valid UTF-8) fragment. */
static bitnet_status decode_fragment(bn_session *s, const char *text, size_t len, size_t *n_out)
{
    uint32_t *cpts = bn_grow(s->cpts, &s->cap_cpts, len + 1, sizeof *cpts);
    if (!cpts)
        return BITNET_ERR_OUT_OF_MEMORY;
    s->cpts = cpts;
    uint8_t *fl = bn_grow(s->cflags, &s->cap_cflags, len + 1, sizeof *fl);
    if (!fl)
        return BITNET_ERR_OUT_OF_MEMORY;
    s->cflags = fl;
    size_t *offs = bn_grow(s->coffs, &s->cap_coffs, len + 1, sizeof *offs);
    if (!offs)
        return BITNET_ERR_OUT_OF_MEMORY;
    s->coffs = offs;
    size_t n = 0;
    for (size_t off = 0; off < len; n++) {
        uint32_t cp = 0xFFFD;
        size_t step = bn_utf8_decode(text + off, len - off, &cp);
        cpts[n] = cp;
        fl[n] = bn_unicode_flags(cp);
        offs[n] = off;
        off += step ? step : 1; /* the caller validated; never stall regardless */
    }
    offs[n] = len;
    *n_out = n;
    return BITNET_OK;
}

bitnet_status bn_bpe_encode(bn_session *s, const char *text, size_t len)
{
    size_t n;
    bitnet_status st = decode_fragment(s, text, len, &n);
    for (size_t pos = 0; !st && pos < n;) {
        size_t end = bn_pretokenize_next(s->t->pre, s->cpts, s->cflags, n, pos);
        st = encode_word(s, text + s->coffs[pos], s->coffs[end] - s->coffs[pos]);
        pos = end;
    }
    return st;
}
