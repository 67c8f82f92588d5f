/* SentencePiece ("llama" vocabularies), as llama.cpp's llm_tokenizer_spm:
 * spaces become U+2581, then adjacent symbols merge, highest-scoring vocab
 * entry first, and what never forms a token falls back to byte tokens. */
#include <string.h>

#include "core/error.h"
#include "tokenizer/tokenizer_internal.h"

static const char ESCAPED_SPACE[] = "\xE2\x96\x81"; /* U+2581 "▁" */

/* A pair may merge when the joined text is a token; its score ranks it. */
static bool spm_pair(bn_session *s, size_t left, size_t right, double *key)
{
    const bn_sym *l = &s->syms[left];
    bitnet_token id = bn_token_find(s->t, s->buf + l->start, l->n + s->syms[right].n);
    if (id == BITNET_TOKEN_NULL)
        return false;
    *key = s->t->scores[id];
    return true;
}

/* A symbol that is no token: its bytes as byte tokens, or the unknown token
 * when the vocabulary lacks one of them (llama.cpp would throw there). */
static bitnet_status emit_bytes(bn_session *s, const bn_sym *sym)
{
    const bn_tokenizer *t = s->t;
    for (size_t i = 0; i < sym->n; i++)
        if (t->byte_token[(unsigned char)s->buf[sym->start + i]] == BITNET_TOKEN_NULL)
            return t->unk == BITNET_TOKEN_NULL ? BITNET_OK : bn_session_push(s, t->unk);
    bitnet_status st = BITNET_OK;
    for (size_t i = 0; i < sym->n && !st; i++)
        st = bn_session_push(s, t->byte_token[(unsigned char)s->buf[sym->start + i]]);
    return st;
}

static bitnet_status escape(bn_session *s, const char *text, size_t len, bool prefix_space)
{
    if (len > SIZE_MAX / 3 - 1)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "tokenizer: %zu bytes of text do not fit in memory", len);
    bitnet_status st = bn_session_reserve_buf(s, 3 * (len + 1));
    if (st)
        return st;
    size_t o = 0;
    if (prefix_space) {
        memcpy(s->buf, ESCAPED_SPACE, 3);
        o = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(s->buf + o, ESCAPED_SPACE, 3);
            o += 3;
        } else {
            s->buf[o++] = text[i];
        }
    }
    s->len = o;
    return BITNET_OK;
}

bitnet_status bn_spm_encode(bn_session *s, const char *text, size_t len, bool prefix_space)
{
    bitnet_status st = escape(s, text, len, prefix_space);
    if (!st)
        st = bn_session_merge(s, spm_pair);
    for (size_t i = 0; !st && s->n_syms && i != BN_NONE; i = s->syms[i].next) {
        const bn_sym *sym = &s->syms[i];
        bitnet_token id = bn_token_find(s->t, s->buf + sym->start, sym->n);
        st = id != BITNET_TOKEN_NULL ? bn_session_push(s, id) : emit_bytes(s, sym);
    }
    return st;
}
