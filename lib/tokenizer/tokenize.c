/* Text to tokens, as llama.cpp's llama_vocab::impl::tokenize: special tokens
 * first, then the model's algorithm on each raw piece, BOS/EOS around. */
#include "core/alloc.h"
#include "tokenizer/tokenizer_internal.h"

static bitnet_status encode_fragments(bn_session *s, const char *text, const bn_fragment *frags, size_t n)
{
    const bn_tokenizer *t = s->t;
    /* SPM: the dummy prefix goes on text that starts the input or follows a special token. */
    bool after_special = true;
    bitnet_status st = BITNET_OK;
    for (size_t i = 0; i < n && !st; i++) {
        const bn_fragment *f = &frags[i];
        if (f->token != BITNET_TOKEN_NULL) {
            st = bn_session_push(s, f->token);
            after_special = true;
        } else if (t->kind == BN_TOK_SPM) {
            st = bn_spm_encode(s, text + f->start, f->len, t->add_space_prefix && after_special);
            after_special = false;
        } else {
            st = bn_bpe_encode(s, text + f->start, f->len);
            after_special = false;
        }
    }
    return st;
}

bitnet_status bn_tokenizer_encode(const bn_tokenizer *t, const char *text, size_t len, uint32_t flags,
                                  bitnet_token **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    bool add_special = flags & BITNET_TOKENIZE_ADD_SPECIAL;
    bn_fragment *frags = NULL;
    size_t n_frags = 0;
    bitnet_status st = bn_split_specials(t, text, len, flags & BITNET_TOKENIZE_PARSE_SPECIAL, &frags, &n_frags);
    bn_session s = {.t = t};
    if (!st && add_special && t->add_bos)
        st = bn_session_push(&s, t->bos);
    if (!st)
        st = encode_fragments(&s, text, frags, n_frags);
    if (!st && add_special && t->add_eos)
        st = bn_session_push(&s, t->eos);
    bn_free(frags);
    if (!st) {
        *out = s.out;
        *n_out = s.n_out;
        s.out = NULL;
    }
    bn_session_free(&s);
    return st;
}
