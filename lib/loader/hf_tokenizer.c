/* tokenizer.json (Hugging Face tokenizers) -> the tokenizer.ggml.* metadata
 * the library's tokenizer is built from, as llama.cpp's converter writes it
 * for byte-level BPE models: token texts by id (vocabulary, then added
 * tokens; ids without a token become "[PADn]", unused), token types
 * (added tokens marked special, or looking special, are control tokens,
 * other added tokens user-defined), merges as "left right", the
 * pre-tokenizer by the regular expression tokenizer.json names, the
 * special token ids and add_bos/add_eos flags from tokenizer_config.json,
 * the post-processor and config.json, and tokenizer_config.json's chat
 * template. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "loader/hf_internal.h"

/* The pre-tokenizer regular expressions this library implements. */
static const char LLAMA3_RE[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
                                "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char GPT2_RE[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

#define TYPE_NORMAL 1
#define TYPE_CONTROL 3
#define TYPE_USER_DEFINED 4
#define TYPE_UNUSED 5

static bitnet_status bad(const char *what)
{
    return bn_error(BITNET_ERR_BAD_FORMAT, "tokenizer.json: %s", what);
}

static bool is_false_or_absent(const bn_json *v)
{
    return !v || v->type == BN_JSON_NULL || (v->type == BN_JSON_BOOL && !v->b);
}

static bool is_null_or_empty(const bn_json *v)
{
    return !v || v->type == BN_JSON_NULL || (v->type == BN_JSON_STRING && v->n == 0);
}

/* A ByteLevel step: add_prefix_space must be off; *regex receives use_regex. */
static bitnet_status byte_level(const bn_json *p, bool *regex)
{
    if (!bn_json_str_eq(bn_json_get(p, "type"), "ByteLevel"))
        return BITNET_ERR_UNSUPPORTED;
    const bn_json *aps = bn_json_get(p, "add_prefix_space"), *ur = bn_json_get(p, "use_regex");
    if (!is_false_or_absent(aps))
        return bn_error(BITNET_ERR_UNSUPPORTED, "tokenizer.json: ByteLevel with add_prefix_space is not supported");
    *regex = !ur || ur->type != BN_JSON_BOOL || ur->b; /* the default is true */
    return BITNET_OK;
}

/* GGUF pre-tokenizer name for the pre_tokenizer section:
 *  ByteLevel(use_regex)                            -> gpt2
 *  Sequence[Split(GPT-2 regex), ByteLevel(no regex)] -> gpt2
 *  Sequence[Split(Llama 3 regex), ByteLevel(no regex)] -> llama-bpe, or
 *  smaug-bpe (the same split without ignore_merges). */
static bitnet_status pre_name(const bn_json *pre, bool ignore_merges, const char **out)
{
    bool regex = false;
    bitnet_status s;
    if (pre && bn_json_str_eq(bn_json_get(pre, "type"), "ByteLevel")) {
        if ((s = byte_level(pre, &regex)))
            return s;
        if (regex && !ignore_merges) {
            *out = "gpt-2";
            return BITNET_OK;
        }
    } else if (pre && bn_json_str_eq(bn_json_get(pre, "type"), "Sequence")) {
        const bn_json *steps = bn_json_get(pre, "pretokenizers");
        if (steps && steps->type == BN_JSON_ARRAY && steps->n == 2) {
            const bn_json *split = &steps->v.items[0];
            const bn_json *re = bn_json_get(bn_json_get(split, "pattern"), "Regex");
            const bn_json *inv = bn_json_get(split, "invert");
            if ((s = byte_level(&steps->v.items[1], &regex)) && s != BITNET_ERR_UNSUPPORTED)
                return s;
            if (!s && !regex && bn_json_str_eq(bn_json_get(split, "type"), "Split") &&
                bn_json_str_eq(bn_json_get(split, "behavior"), "Isolated") && is_false_or_absent(inv)) {
                if (bn_json_str_eq(re, LLAMA3_RE)) {
                    *out = ignore_merges ? "llama-bpe" : "smaug-bpe";
                    return BITNET_OK;
                }
                if (bn_json_str_eq(re, GPT2_RE) && !ignore_merges) {
                    *out = "gpt-2";
                    return BITNET_OK;
                }
            }
        }
    }
    const bn_json *t = bn_json_get(pre, "type");
    return bn_error(BITNET_ERR_UNSUPPORTED,
                    "tokenizer.json: pre_tokenizer %s%s%s is not supported (byte-level BPE with the GPT-2 or Llama 3 "
                    "split is)",
                    t && t->type == BN_JSON_STRING ? "'" : "", t && t->type == BN_JSON_STRING ? t->v.s : "(none)",
                    t && t->type == BN_JSON_STRING ? "'" : "");
}

/* An id: a non-negative integer below 2^31 - 1. */
static bool get_id(const bn_json *v, int64_t *out)
{
    if (!v || v->type != BN_JSON_NUMBER || !v->is_int || v->v.num.i < 0 || v->v.num.i >= INT32_MAX)
        return false;
    *out = v->v.num.i;
    return true;
}

/* Token text `s` for id `id`; the same id named twice must name the same text. */
static bitnet_status set_token(bn_hf_ctx *c, bn_gguf_str *texts, int32_t *types, int64_t id, const bn_json *s,
                               int32_t type)
{
    if (texts[id].s) {
        if (texts[id].len != s->n || memcmp(texts[id].s, s->v.s, s->n) != 0)
            return bn_error(BITNET_ERR_BAD_FORMAT, "tokenizer.json: id %lld is both '%.64s' and '%.64s'", (long long)id,
                            texts[id].s, s->v.s);
    } else if (!(texts[id].s = bn_arena_strndup(&c->g->arena, s->v.s, s->n))) {
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "tokenizer.json: cannot allocate the vocabulary");
    }
    texts[id].len = s->n;
    types[id] = type;
    return BITNET_OK;
}

/* llama.cpp's does_token_look_special(). */
static bool looks_special(const char *s, size_t n)
{
    static const char *const names[] = {"<pad>", "<mask>", "<2mass>", "[@BOS@]"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strlen(names[i]) == n && memcmp(s, names[i], n) == 0)
            return true;
    return n >= 4 && memcmp(s, "<|", 2) == 0 && memcmp(s + n - 2, "|>", 2) == 0;
}

static bitnet_status vocabulary(bn_hf_ctx *c, const bn_json *model, bn_gguf_str **texts_out, int32_t **types_out,
                                int64_t *n_out)
{
    const bn_json *vocab = bn_json_get(model, "vocab"), *added = bn_json_get(c->tokenizer, "added_tokens");
    if (!vocab || vocab->type != BN_JSON_OBJECT || vocab->n == 0)
        return bad("model.vocab must be a non-empty object of token -> id");
    if (added && added->type != BN_JSON_NULL && added->type != BN_JSON_ARRAY)
        return bad("added_tokens must be an array");
    const size_t n_added = added && added->type == BN_JSON_ARRAY ? added->n : 0;
    int64_t max_id = -1, id;
    for (size_t i = 0; i < vocab->n; i++) {
        if (!get_id(&vocab->v.members[i].value, &id))
            return bn_error(BITNET_ERR_BAD_FORMAT, "tokenizer.json: model.vocab['%.64s'] is not a valid id",
                            vocab->v.members[i].key);
        max_id = id > max_id ? id : max_id;
    }
    for (size_t i = 0; i < n_added; i++) {
        const bn_json *a = &added->v.items[i], *content = bn_json_get(a, "content");
        if (!get_id(bn_json_get(a, "id"), &id) || !content || content->type != BN_JSON_STRING)
            return bn_error(BITNET_ERR_BAD_FORMAT, "tokenizer.json: added_tokens[%zu] needs an id and a string content",
                            i);
        max_id = id > max_id ? id : max_id;
    }
    if (max_id >= c->n_vocab)
        return bn_error(BITNET_ERR_BAD_FORMAT,
                        "tokenizer.json: token id %lld is outside the model's vocabulary of %lld (the embedding rows)",
                        (long long)max_id, (long long)c->n_vocab);
    const int64_t n = c->n_vocab;
    bn_gguf_str *texts = bn_arena_alloc(&c->g->arena, (size_t)n * sizeof *texts);
    int32_t *types = bn_arena_alloc(&c->g->arena, (size_t)n * sizeof *types);
    if (!texts || !types)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "tokenizer.json: cannot allocate %lld tokens", (long long)n);
    bitnet_status s;
    for (size_t i = 0; i < vocab->n; i++) {
        const bn_json_member *m = &vocab->v.members[i];
        bn_json key = {.type = BN_JSON_STRING, .n = m->key_len};
        key.v.s = m->key;
        get_id(&m->value, &id);
        if ((s = set_token(c, texts, types, id, &key, TYPE_NORMAL)))
            return s;
    }
    for (size_t i = 0; i < n_added; i++) {
        const bn_json *a = &added->v.items[i], *content = bn_json_get(a, "content"), *sp = bn_json_get(a, "special");
        get_id(bn_json_get(a, "id"), &id);
        if (sp && sp->type != BN_JSON_BOOL && sp->type != BN_JSON_NULL)
            return bn_error(BITNET_ERR_BAD_FORMAT, "tokenizer.json: added_tokens[%zu].special must be a bool", i);
        const bool special = (sp && sp->type == BN_JSON_BOOL && sp->b) || looks_special(content->v.s, content->n);
        if ((s = set_token(c, texts, types, id, content, special ? TYPE_CONTROL : TYPE_USER_DEFINED)))
            return s;
    }
    for (int64_t i = 0; i < n; i++) {
        if (texts[i].s)
            continue;
        char pad[32];
        int len = snprintf(pad, sizeof pad, "[PAD%lld]", (long long)i);
        if (!(texts[i].s = bn_arena_strndup(&c->g->arena, pad, (size_t)len)))
            return bn_error(BITNET_ERR_OUT_OF_MEMORY, "tokenizer.json: cannot allocate the vocabulary");
        texts[i].len = (uint64_t)len;
        types[i] = TYPE_UNUSED;
    }
    *texts_out = texts;
    *types_out = types;
    *n_out = n;
    return BITNET_OK;
}

/* Append `s` to buf at *w, with spaces as U+0120 (the byte-level space). */
static void put_part(char *buf, size_t *w, const bn_json *s)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->v.s[i] == ' ') {
            buf[(*w)++] = (char)0xC4;
            buf[(*w)++] = (char)0xA0;
        } else {
            buf[(*w)++] = s->v.s[i];
        }
    }
}

/* "left right" strings; the list form ["left", "right"] (tokenizers >= 0.20)
 * is joined the same way, spaces inside the parts written as U+0120 as
 * llama.cpp's converter does. */
static bitnet_status merges(bn_hf_ctx *c, const bn_json *model)
{
    const bn_json *m = bn_json_get(model, "merges");
    if (!m || m->type != BN_JSON_ARRAY)
        return bad("model.merges must be an array");
    bn_gguf_str *out = bn_arena_alloc(&c->g->arena, (m->n ? m->n : 1) * sizeof *out);
    if (!out)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "tokenizer.json: cannot allocate %zu merges", m->n);
    for (size_t i = 0; i < m->n; i++) {
        const bn_json *e = &m->v.items[i];
        char *text;
        size_t len;
        if (e->type == BN_JSON_STRING) {
            len = e->n;
            text = bn_arena_strndup(&c->g->arena, e->v.s, len);
        } else if (e->type == BN_JSON_ARRAY && e->n == 2 && e->v.items[0].type == BN_JSON_STRING &&
                   e->v.items[1].type == BN_JSON_STRING) {
            const size_t cap = 2 * (e->v.items[0].n + e->v.items[1].n) + 2;
            text = bn_arena_alloc(&c->g->arena, cap);
            len = 0;
            if (text) {
                put_part(text, &len, &e->v.items[0]);
                text[len++] = ' ';
                put_part(text, &len, &e->v.items[1]);
            }
        } else {
            return bn_error(BITNET_ERR_BAD_FORMAT, "tokenizer.json: model.merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]",
                            i);
        }
        if (!text)
            return bn_error(BITNET_ERR_OUT_OF_MEMORY, "tokenizer.json: cannot allocate the merges");
        out[i] = (bn_gguf_str){text, len};
    }
    return bn_hf_kv_strings(c, "tokenizer.ggml.merges", out, m->n);
}

/* A special token of tokenizer_config.json ("<s>" or {"content": "<s>"}). */
static const bn_json *config_token(const bn_json *cfg, const char *key)
{
    const bn_json *v = bn_json_get(cfg, key);
    if (v && v->type == BN_JSON_OBJECT)
        v = bn_json_get(v, "content");
    return v && v->type == BN_JSON_STRING ? v : NULL;
}

static int64_t find_text(const bn_gguf_str *texts, int64_t n, const bn_json *s)
{
    for (int64_t i = n - 1; i >= 0; i--) /* special tokens sit at the end */
        if (texts[i].len == s->n && memcmp(texts[i].s, s->v.s, s->n) == 0)
            return i;
    return -1;
}

/* BOS/EOS ids: tokenizer_config.json's token text, else config.json's id
 * (the first of a list). -1: none. */
static bitnet_status special_id(bn_hf_ctx *c, const bn_gguf_str *texts, int64_t n, const char *which, int64_t *out)
{
    char key[32];
    *out = -1;
    snprintf(key, sizeof key, "%s_token", which);
    const bn_json *t = config_token(c->tok_config, key);
    if (t && (*out = find_text(texts, n, t)) >= 0)
        return BITNET_OK;
    snprintf(key, sizeof key, "%s_token_id", which);
    const bn_json *v = bn_json_get(c->config, key);
    if (v && v->type == BN_JSON_ARRAY && v->n > 0)
        v = &v->v.items[0];
    if (!v || v->type == BN_JSON_NULL)
        return BITNET_OK;
    if (!get_id(v, out) || *out >= n)
        return bn_error(BITNET_ERR_BAD_FORMAT, "config.json: '%s' is not a token id of the vocabulary", key);
    return BITNET_OK;
}

/* add_bos/add_eos: tokenizer_config.json's flag, else whether the
 * post-processor's single-sequence template starts (ends) with the token.
 * -1: unknown. */
static bitnet_status add_flag(bn_hf_ctx *c, const char *key, bool first, const bn_gguf_str *tok, int *out)
{
    *out = -1;
    const bn_json *v = bn_json_get(c->tok_config, key);
    if (v && v->type == BN_JSON_BOOL) {
        *out = v->b;
        return BITNET_OK;
    }
    if (v && v->type != BN_JSON_NULL)
        return bn_error(BITNET_ERR_BAD_FORMAT, "tokenizer_config.json: '%s' must be true or false", key);
    const bn_json *pp = bn_json_get(c->tokenizer, "post_processor");
    if (!bn_json_str_eq(bn_json_get(pp, "type"), "TemplateProcessing"))
        return BITNET_OK;
    const bn_json *single = bn_json_get(pp, "single");
    if (!single || single->type != BN_JSON_ARRAY || single->n == 0)
        return BITNET_OK;
    const bn_json *e = bn_json_get(&single->v.items[first ? 0 : single->n - 1], "SpecialToken");
    const bn_json *id = bn_json_get(e, "id");
    *out = tok && id && id->type == BN_JSON_STRING && id->n == tok->len && memcmp(id->v.s, tok->s, tok->len) == 0;
    return BITNET_OK;
}

bitnet_status bn_hf_tokenizer(bn_hf_ctx *c)
{
    const bn_json *tok = c->tokenizer, *model = bn_json_get(tok, "model");
    if (tok->type != BN_JSON_OBJECT)
        return bad("the document is not an object");
    if (c->tok_config && c->tok_config->type != BN_JSON_OBJECT)
        return bn_error(BITNET_ERR_BAD_FORMAT, "tokenizer_config.json: the document is not an object");
    if (!model || model->type != BN_JSON_OBJECT)
        return bad("missing object 'model'");
    const bn_json *type = bn_json_get(model, "type");
    if (!bn_json_str_eq(type, "BPE"))
        return bn_error(BITNET_ERR_UNSUPPORTED, "tokenizer.json: model type '%s' is not supported (BPE is)",
                        type && type->type == BN_JSON_STRING ? type->v.s : "(none)");
    if (!is_false_or_absent(bn_json_get(model, "byte_fallback")))
        return bn_error(BITNET_ERR_UNSUPPORTED,
                        "tokenizer.json: BPE with byte_fallback (SentencePiece style) is not supported; byte-level BPE is");
    if (!is_null_or_empty(bn_json_get(model, "continuing_subword_prefix")) ||
        !is_null_or_empty(bn_json_get(model, "end_of_word_suffix")))
        return bn_error(BITNET_ERR_UNSUPPORTED, "tokenizer.json: BPE with subword prefixes or suffixes is not supported");
    const bn_json *norm = bn_json_get(tok, "normalizer");
    if (norm && norm->type != BN_JSON_NULL)
        return bn_error(BITNET_ERR_UNSUPPORTED, "tokenizer.json: normalizers are not supported");
    const bn_json *im = bn_json_get(model, "ignore_merges");
    const char *pre = NULL;
    bitnet_status s = pre_name(bn_json_get(tok, "pre_tokenizer"), im && im->type == BN_JSON_BOOL && im->b, &pre);
    if (s)
        return s;
    bn_gguf_str *texts = NULL;
    int32_t *types = NULL;
    int64_t n = 0;
    if ((s = vocabulary(c, model, &texts, &types, &n)))
        return s;
    int64_t bos, eos;
    if ((s = special_id(c, texts, n, "bos", &bos)) || (s = special_id(c, texts, n, "eos", &eos)))
        return s;
    int add_bos, add_eos;
    if ((s = add_flag(c, "add_bos_token", true, bos >= 0 ? &texts[bos] : NULL, &add_bos)) ||
        (s = add_flag(c, "add_eos_token", false, eos >= 0 ? &texts[eos] : NULL, &add_eos)))
        return s;
    if ((s = bn_hf_kv_string(c, "tokenizer.ggml.model", "gpt2", 4)) ||
        (s = bn_hf_kv_string(c, "tokenizer.ggml.pre", pre, strlen(pre))) ||
        (s = bn_hf_kv_strings(c, "tokenizer.ggml.tokens", texts, (uint64_t)n)) ||
        (s = bn_hf_kv_i32s(c, "tokenizer.ggml.token_type", types, (uint64_t)n)) || (s = merges(c, model)) ||
        (bos >= 0 && (s = bn_hf_kv_u32(c, "tokenizer.ggml.bos_token_id", (uint32_t)bos))) ||
        (eos >= 0 && (s = bn_hf_kv_u32(c, "tokenizer.ggml.eos_token_id", (uint32_t)eos))) ||
        (add_bos >= 0 && (s = bn_hf_kv_bool(c, "tokenizer.ggml.add_bos_token", add_bos))) ||
        (add_eos >= 0 && (s = bn_hf_kv_bool(c, "tokenizer.ggml.add_eos_token", add_eos))))
        return s;
    /* The chat template travels with the model, as converters write it. */
    const bn_json *tmpl = bn_json_get(c->tok_config, "chat_template");
    if (tmpl && tmpl->type == BN_JSON_STRING)
        return bn_hf_kv_string(c, "tokenizer.chat_template", tmpl->v.s, tmpl->n);
    return BITNET_OK;
}
