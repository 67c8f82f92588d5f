/* The public vocabulary and tokenizer functions (bitnet.h) over the model's
 * tokenizer, which is built on first use (bn_model_tokenizer). */
#include <string.h>

#include "core/alloc.h"
#include "model/model_internal.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

/* The model's tokenizer, or NULL with the error recorded. */
static const bn_tokenizer *tokenizer_of(const bitnet_model *model)
{
    const bn_tokenizer *t = NULL;
    if (!model) {
        bn_error(BITNET_ERR_INVALID_ARGUMENT, "model is NULL");
        return NULL;
    }
    return bn_model_tokenizer(model, &t) == BITNET_OK ? t : NULL;
}

int32_t bitnet_vocab_size(const bitnet_model *model)
{
    const bn_tokenizer *t = tokenizer_of(model);
    return t ? bn_tokenizer_n_tokens(t) : 0;
}

bitnet_token bitnet_token_bos(const bitnet_model *model)
{
    const bn_tokenizer *t = tokenizer_of(model);
    return t ? bn_tokenizer_bos(t) : BITNET_TOKEN_NULL;
}

bitnet_token bitnet_token_eos(const bitnet_model *model)
{
    const bn_tokenizer *t = tokenizer_of(model);
    return t ? bn_tokenizer_eos(t) : BITNET_TOKEN_NULL;
}

bool bitnet_token_is_eog(const bitnet_model *model, bitnet_token token)
{
    const bn_tokenizer *t = tokenizer_of(model);
    return t && bn_tokenizer_is_eog(t, token);
}

const char *bitnet_token_text(const bitnet_model *model, bitnet_token token)
{
    const bn_tokenizer *t = tokenizer_of(model);
    return t ? bn_tokenizer_text(t, token) : NULL;
}

/* A NULL pointer argument, recorded on the model too when there is one. */
static bitnet_status null_argument(const bitnet_model *model, const char *fn)
{
    bitnet_status s = bn_error(BITNET_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
    return model ? bn_model_fail(model, s) : s;
}

static bitnet_status check_id(const bitnet_model *model, const bn_tokenizer *t, const char *fn, size_t index,
                              bitnet_token id)
{
    int32_t n = bn_tokenizer_n_tokens(t);
    if (id >= 0 && id < n)
        return BITNET_OK;
    return bn_model_fail(model, bn_error(BITNET_ERR_OUT_OF_RANGE, "%s: token %d (at index %zu) is outside [0, %d)",
                                         fn, id, index, n));
}

bitnet_status bitnet_tokenize(const bitnet_model *model, const char *text, size_t text_len, uint32_t flags,
                              bitnet_token *tokens, size_t capacity, size_t *n_tokens)
{
    if (!model || !n_tokens || (!text && text_len) || (!tokens && capacity))
        return null_argument(model, "bitnet_tokenize");
    *n_tokens = 0;
    if (flags & ~(BITNET_TOKENIZE_ADD_SPECIAL | BITNET_TOKENIZE_PARSE_SPECIAL))
        return bn_model_fail(model, bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_tokenize: unknown flags 0x%x",
                                             (unsigned)flags));
    const bn_tokenizer *t;
    bitnet_status st = bn_model_tokenizer(model, &t);
    if (st)
        return st;
    text = text ? text : "";
    size_t bad = bn_utf8_validate(text, text_len);
    if (bad < text_len)
        return bn_model_fail(model, bn_error(BITNET_ERR_INVALID_ARGUMENT,
                                             "bitnet_tokenize: invalid UTF-8 at byte offset %zu (byte 0x%02x)", bad,
                                             (unsigned char)text[bad]));
    bitnet_token *out;
    size_t n;
    if ((st = bn_tokenizer_encode(t, text, text_len, flags, &out, &n)))
        return bn_model_fail(model, st);
    *n_tokens = n;
    if (n > capacity) {
        bn_free(out);
        return bn_model_fail(model, bn_error(BITNET_ERR_BUFFER_TOO_SMALL,
                                             "bitnet_tokenize: %zu tokens do not fit in a capacity of %zu", n,
                                             capacity));
    }
    if (n)
        memcpy(tokens, out, n * sizeof *out);
    bn_free(out);
    return BITNET_OK;
}

bitnet_status bitnet_token_to_piece(const bitnet_model *model, bitnet_token token, uint32_t flags, char *buf,
                                    size_t capacity, size_t *length)
{
    if (!model || !length || (!buf && capacity))
        return null_argument(model, "bitnet_token_to_piece");
    *length = 0;
    if (flags & ~BITNET_DETOKENIZE_SPECIAL)
        return bn_model_fail(model, bn_error(BITNET_ERR_INVALID_ARGUMENT,
                                             "bitnet_token_to_piece: unknown flags 0x%x", (unsigned)flags));
    const bn_tokenizer *t;
    bitnet_status st = bn_model_tokenizer(model, &t);
    if (!st)
        st = check_id(model, t, "bitnet_token_to_piece", 0, token);
    if (st)
        return st;
    bool special = flags & BITNET_DETOKENIZE_SPECIAL;
    size_t n = bn_tokenizer_piece(t, token, special, NULL);
    *length = n;
    if (n > capacity)
        return bn_model_fail(model, bn_error(BITNET_ERR_BUFFER_TOO_SMALL,
                                             "bitnet_token_to_piece: %zu bytes do not fit in a capacity of %zu", n,
                                             capacity));
    bn_tokenizer_piece(t, token, special, buf);
    return BITNET_OK;
}

bitnet_status bitnet_detokenize(const bitnet_model *model, const bitnet_token *tokens, size_t n_tokens,
                                uint32_t flags, char *buf, size_t capacity, size_t *length)
{
    if (!model || !length || (!tokens && n_tokens) || (!buf && capacity))
        return null_argument(model, "bitnet_detokenize");
    *length = 0;
    if (flags & ~BITNET_DETOKENIZE_SPECIAL)
        return bn_model_fail(model, bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_detokenize: unknown flags 0x%x",
                                             (unsigned)flags));
    const bn_tokenizer *t;
    bitnet_status st = bn_model_tokenizer(model, &t);
    for (size_t i = 0; !st && i < n_tokens; i++)
        st = check_id(model, t, "bitnet_detokenize", i, tokens[i]);
    if (st)
        return st;
    bool special = flags & BITNET_DETOKENIZE_SPECIAL;
    size_t n = bn_tokenizer_decode(t, tokens, n_tokens, special, NULL);
    *length = n;
    if (n > capacity)
        return bn_model_fail(model, bn_error(BITNET_ERR_BUFFER_TOO_SMALL,
                                             "bitnet_detokenize: %zu bytes do not fit in a capacity of %zu", n,
                                             capacity));
    bn_tokenizer_decode(t, tokens, n_tokens, special, buf);
    return BITNET_OK;
}
