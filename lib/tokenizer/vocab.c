/* Building the tokenizer from the GGUF tokenizer.ggml.* metadata, with
 * llama.cpp's defaults and special-token rules (llama_vocab::impl::load). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "tokenizer/tokenizer_internal.h"
#include "tokenizer/unicode.h"
#include "tokenizer/utf8.h"

#define KEY_MODEL "tokenizer.ggml.model"
#define KEY_PRE "tokenizer.ggml.pre"
#define KEY_TOKENS "tokenizer.ggml.tokens"
#define KEY_SCORES "tokenizer.ggml.scores"
#define KEY_TYPES "tokenizer.ggml.token_type"
#define KEY_MERGES "tokenizer.ggml.merges"
#define KEY_ADD_BOS "tokenizer.ggml.add_bos_token"
#define KEY_ADD_EOS "tokenizer.ggml.add_eos_token"
#define KEY_ADD_PREFIX "tokenizer.ggml.add_space_prefix"

/* ---- metadata access ---------------------------------------------------- */

static const struct bitnet_value *kv(const bn_gguf *g, const char *key)
{
    int64_t i = bn_gguf_find_kv(g, key);
    return i < 0 ? NULL : &g->kv[i].value;
}

static bitnet_status wrong_type(const char *key, const struct bitnet_value *v, const char *want)
{
    return bn_error(BITNET_ERR_BAD_FORMAT, "%s has type %s, expected %s", key, bn_gguf_value_type_name(v->type),
                    want);
}

/* Optional string: *out stays NULL when the key is absent. */
static bitnet_status get_string(const bn_gguf *g, const char *key, const char **out)
{
    const struct bitnet_value *v = kv(g, key);
    *out = NULL;
    if (!v)
        return BITNET_OK;
    if (v->type != BITNET_VALUE_STRING)
        return wrong_type(key, v, "string");
    *out = v->v.str;
    return BITNET_OK;
}

/* Optional bool: *io keeps its default when the key is absent. */
static bitnet_status get_bool(const bn_gguf *g, const char *key, bool *io)
{
    const struct bitnet_value *v = kv(g, key);
    if (!v)
        return BITNET_OK;
    if (v->type != BITNET_VALUE_BOOL)
        return wrong_type(key, v, "bool");
    *io = v->v.u != 0;
    return BITNET_OK;
}

static bool is_signed_type(uint32_t t)
{
    return t == BITNET_VALUE_INT8 || t == BITNET_VALUE_INT16 || t == BITNET_VALUE_INT32 || t == BITNET_VALUE_INT64;
}

static bool is_int_type(uint32_t t)
{
    return is_signed_type(t) || t == BITNET_VALUE_UINT8 || t == BITNET_VALUE_UINT16 || t == BITNET_VALUE_UINT32 ||
           t == BITNET_VALUE_UINT64;
}

static bool is_score_type(uint32_t t)
{
    return t == BITNET_VALUE_FLOAT32 || t == BITNET_VALUE_FLOAT64 || t == BITNET_VALUE_INT32;
}

static bool is_string_type(uint32_t t)
{
    return t == BITNET_VALUE_STRING;
}

/* An integer value as int64; -1 for unsigned values beyond that. */
static int64_t int_of(const struct bitnet_value *v)
{
    if (is_signed_type(v->type))
        return v->v.i;
    return v->v.u > (uint64_t)INT64_MAX ? -1 : (int64_t)v->v.u;
}

/* Optional token id. An id outside the vocabulary is ignored with a warning,
 * as llama.cpp does: real files carry such ids (padding past the end). */
static bitnet_status get_id(const bn_gguf *g, const char *key, int32_t n_tokens, bitnet_token *io)
{
    const struct bitnet_value *v = kv(g, key);
    if (!v)
        return BITNET_OK;
    if (!is_int_type(v->type))
        return wrong_type(key, v, "an integer");
    int64_t id = int_of(v);
    if (id < 0 || id >= n_tokens) {
        bn_log(BITNET_LOG_WARN, "tokenizer: %s = %lld is outside the vocabulary [0, %d): ignored", key,
               (long long)id, n_tokens);
        return BITNET_OK;
    }
    *io = (bitnet_token)id;
    return BITNET_OK;
}

/* An array of elements accepted by `ok`, with at least `min_len` of them;
 * *out stays NULL when an optional key is absent. */
static bitnet_status get_array(const bn_gguf *g, const char *key, bool required, bool (*ok)(uint32_t),
                               const char *want, uint64_t min_len, const struct bitnet_value **out)
{
    const struct bitnet_value *v = kv(g, key);
    *out = NULL;
    if (!v)
        return required ? bn_error(BITNET_ERR_BAD_FORMAT, "%s is missing", key) : BITNET_OK;
    if (v->type != BITNET_VALUE_ARRAY || !ok(v->elem_type))
        return bn_error(BITNET_ERR_BAD_FORMAT, "%s must be an array of %s", key, want);
    if (v->len < min_len)
        return bn_error(BITNET_ERR_BAD_FORMAT, "%s has %llu entries for %llu tokens", key,
                        (unsigned long long)v->len, (unsigned long long)min_len);
    *out = v;
    return BITNET_OK;
}

/* Element i of a numeric array. */
static struct bitnet_value element(const struct bitnet_value *a, uint64_t i)
{
    struct bitnet_value e;
    memset(&e, 0, sizeof e);
    bn_gguf_decode_scalar(a->elem_type, a->v.raw + i * bn_gguf_value_size(a->elem_type), &e);
    return e;
}

/* ---- model kind and defaults -------------------------------------------- */

static bitnet_status choose_model(const bn_gguf *g, bn_tokenizer *t)
{
    const char *model;
    bitnet_status st = get_string(g, KEY_MODEL, &model);
    if (st)
        return st;
    if (!model)
        return bn_error(BITNET_ERR_UNSUPPORTED, "model has no tokenizer (no %s key)", KEY_MODEL);
    if (strcmp(model, "none") == 0 || strcmp(model, "no_vocab") == 0)
        return bn_error(BITNET_ERR_UNSUPPORTED, "model has no tokenizer (%s is '%s')", KEY_MODEL, model);
    if (strcmp(model, "llama") == 0) {
        /* llama.cpp's SentencePiece defaults */
        t->kind = BN_TOK_SPM;
        t->bos = 1, t->eos = 2, t->unk = 0;
        t->add_bos = true;
        t->add_space_prefix = true;
        return BITNET_OK;
    }
    if (strcmp(model, "gpt2") == 0) {
        t->kind = BN_TOK_BPE;
        return BITNET_OK;
    }
    return bn_error(BITNET_ERR_UNSUPPORTED, "%s '%s' is not supported (only 'llama' and 'gpt2')", KEY_MODEL, model);
}

static bool name_in(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

/* BPE pre-tokenizer by tokenizer.ggml.pre, with llama.cpp's per-name flags. */
static bitnet_status choose_pre(const bn_gguf *g, bn_tokenizer *t)
{
    static const char *const llama3[] = {"llama3", "llama-v3", "llama-bpe", "falcon3"};
    static const char *const llama3_plain[] = {"dbrx", "smaug-bpe"};
    static const char *const gpt2[] = {"gpt-2", "gpt2", "phi-2", "mpt", "olmo", "default"};
    const char *pre, *arch = NULL;
    bitnet_status st = get_string(g, KEY_PRE, &pre);
    if (st)
        return st;
    if (!pre) {
        const struct bitnet_value *a = kv(g, "general.architecture");
        arch = a && a->type == BITNET_VALUE_STRING ? a->v.str : "";
        /* The BitNet b1.58 2B-4T converter writes no pre type; its tokenizer is Llama 3's. */
        pre = strcmp(arch, "bitnet-b1.58") == 0 ? "llama-bpe" : "gpt2";
        bn_log(strcmp(pre, "gpt2") ? BITNET_LOG_INFO : BITNET_LOG_WARN,
               "tokenizer: no %s in this '%s' model: using the %s pre-tokenizer", KEY_PRE, arch, pre);
    }
    t->pre = BN_PRE_GPT2;
    if (name_in(pre, llama3, sizeof llama3 / sizeof *llama3)) {
        t->pre = BN_PRE_LLAMA3;
        t->ignore_merges = true;
        t->add_bos = true;
    } else if (name_in(pre, llama3_plain, sizeof llama3_plain / sizeof *llama3_plain)) {
        t->pre = BN_PRE_LLAMA3;
    } else if (!name_in(pre, gpt2, sizeof gpt2 / sizeof *gpt2)) {
        return bn_error(BITNET_ERR_UNSUPPORTED, "%s '%s' is not supported (known: llama-bpe/llama3, gpt-2)", KEY_PRE,
                        pre);
    }
    return BITNET_OK;
}

/* ---- vocabulary --------------------------------------------------------- */

static uint8_t attr_of_type(int64_t type)
{
    switch (type) {
    case 1: return BN_ATTR_NORMAL;
    case 2: return BN_ATTR_UNKNOWN;
    case 3: return BN_ATTR_CONTROL;
    case 4: return BN_ATTR_USER_DEFINED;
    case 5: return BN_ATTR_UNUSED;
    case 6: return BN_ATTR_BYTE;
    default: return 0;
    }
}

static bitnet_status oom(const char *what)
{
    return bn_error(BITNET_ERR_OUT_OF_MEMORY, "tokenizer: cannot allocate %s", what);
}

static bitnet_status load_tokens(const bn_gguf *g, bn_tokenizer *t)
{
    const struct bitnet_value *v;
    bitnet_status st = get_array(g, KEY_TOKENS, true, is_string_type, "strings", 0, &v);
    if (st)
        return st;
    if (!v->len)
        return bn_error(BITNET_ERR_BAD_FORMAT, "%s is empty", KEY_TOKENS);
    if (v->len > INT32_MAX)
        return bn_error(BITNET_ERR_BAD_FORMAT, "%s has %llu entries, more than token ids can number", KEY_TOKENS,
                        (unsigned long long)v->len);
    t->n_tokens = (int32_t)v->len;
    t->texts = v->v.strs;
    if (bn_strtab_init(&t->tokens, t->texts, (size_t)t->n_tokens) != 0)
        return oom("the vocabulary index");
    for (int32_t i = 0; i < t->n_tokens; i++) {
        if (!t->texts[i].len)
            continue; /* an empty token can never match text */
        if (bn_strtab_add(&t->tokens, (uint32_t)i) != 0)
            return bn_error(BITNET_ERR_BAD_FORMAT, "%s: duplicate token '%s' at ids %lld and %d", KEY_TOKENS,
                            t->texts[i].s, (long long)bn_strtab_find(&t->tokens, t->texts[i].s, t->texts[i].len),
                            i);
    }
    return BITNET_OK;
}

static bitnet_status load_attrs_and_scores(const bn_gguf *g, bn_tokenizer *t)
{
    const struct bitnet_value *types, *scores;
    bitnet_status st = get_array(g, KEY_TYPES, false, is_int_type, "integers", (uint64_t)t->n_tokens, &types);
    if (!st)
        st = get_array(g, KEY_SCORES, false, is_score_type, "float32 or int32", (uint64_t)t->n_tokens, &scores);
    if (st)
        return st;
    t->attrs = bn_malloc((size_t)t->n_tokens);
    if (!t->attrs)
        return oom("token attributes");
    for (int32_t i = 0; i < t->n_tokens; i++) {
        if (!types) {
            t->attrs[i] = BN_ATTR_NORMAL;
            continue;
        }
        struct bitnet_value e = element(types, (uint64_t)i);
        t->attrs[i] = attr_of_type(int_of(&e));
    }
    if (t->kind != BN_TOK_SPM)
        return BITNET_OK; /* BPE merges by rank, not score */
    t->scores = bn_calloc((size_t)t->n_tokens, sizeof *t->scores);
    if (!t->scores)
        return oom("token scores");
    for (int32_t i = 0; scores && i < t->n_tokens; i++) {
        struct bitnet_value e = element(scores, (uint64_t)i);
        t->scores[i] = e.type == BITNET_VALUE_INT32 ? (float)e.v.i : (float)e.v.f;
    }
    return BITNET_OK;
}

/* tokenizer.ggml.merges: "left right", rank = position. Entries without a
 * space after the first byte can never match (llama.cpp stores them as an
 * empty pair); a repeated entry keeps its first rank. */
static bitnet_status load_merges(const bn_gguf *g, bn_tokenizer *t)
{
    const struct bitnet_value *v;
    bitnet_status st = get_array(g, KEY_MERGES, true, is_string_type, "strings", 0, &v);
    if (st)
        return st;
    if (v->len > INT32_MAX)
        return bn_error(BITNET_ERR_BAD_FORMAT, "%s has %llu entries, more than ranks can number", KEY_MERGES,
                        (unsigned long long)v->len);
    if (bn_strtab_init(&t->merges, v->v.strs, (size_t)v->len) != 0)
        return oom("the merge index");
    for (uint64_t i = 0; i < v->len; i++) {
        const bn_gguf_str *m = &v->v.strs[i];
        if (m->len > 1 && memchr(m->s + 1, ' ', (size_t)m->len - 1))
            bn_strtab_add(&t->merges, (uint32_t)i);
    }
    return BITNET_OK;
}

/* ---- special tokens ----------------------------------------------------- */

static bitnet_status load_special_ids(const bn_gguf *g, bn_tokenizer *t)
{
    static const struct {
        const char *key;
        size_t offset;
    } ids[] = {
        {"tokenizer.ggml.bos_token_id", offsetof(bn_tokenizer, bos)},
        {"tokenizer.ggml.eos_token_id", offsetof(bn_tokenizer, eos)},
        {"tokenizer.ggml.unknown_token_id", offsetof(bn_tokenizer, unk)},
        {"tokenizer.ggml.eot_token_id", offsetof(bn_tokenizer, eot)},
        {"tokenizer.ggml.eom_token_id", offsetof(bn_tokenizer, eom)},
        {"tokenizer.ggml.padding_token_id", offsetof(bn_tokenizer, pad)},
    };
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
        bitnet_token *id = (bitnet_token *)((char *)t + ids[i].offset);
        if (*id >= t->n_tokens)
            *id = BITNET_TOKEN_NULL; /* a default the vocabulary is too small for */
        bitnet_status st = get_id(g, ids[i].key, t->n_tokens, id);
        if (st)
            return st;
    }
    bitnet_status st = get_bool(g, KEY_ADD_BOS, &t->add_bos);
    if (!st)
        st = get_bool(g, KEY_ADD_EOS, &t->add_eos);
    if (!st && t->kind == BN_TOK_SPM)
        st = get_bool(g, KEY_ADD_PREFIX, &t->add_space_prefix);
    if (st)
        return st;
    if (t->add_bos && t->bos == BITNET_TOKEN_NULL)
        return bn_error(BITNET_ERR_BAD_FORMAT, "%s is true but the model has no BOS token", KEY_ADD_BOS);
    if (t->add_eos && t->eos == BITNET_TOKEN_NULL)
        return bn_error(BITNET_ERR_BAD_FORMAT, "%s is true but the model has no EOS token", KEY_ADD_EOS);
    return BITNET_OK;
}

/* The first of `texts` in the vocabulary, made a control token as llama.cpp
 * does for tokens it recognises by their text. */
static bitnet_token find_control(bn_tokenizer *t, const char *const *texts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bitnet_token id = bn_token_find(t, texts[i], strlen(texts[i]));
        if (id != BITNET_TOKEN_NULL) {
            t->attrs[id] |= BN_ATTR_CONTROL;
            return id;
        }
    }
    return BITNET_TOKEN_NULL;
}

static int cmp_token(const void *a, const void *b)
{
    bitnet_token x = *(const bitnet_token *)a, y = *(const bitnet_token *)b;
    return (x > y) - (x < y);
}

/* End-of-generation set: EOS, EOT, EOM and the tokens llama.cpp recognises
 * by text. EOT/EOM missing from the metadata are found by text as well. */
static bitnet_status load_eog(bn_tokenizer *t)
{
    static const char *const eot[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                      "<|end_of_text|>", "<EOT>", "_<EOT>"};
    static const char *const eom[] = {"<|eom_id|>"};
    static const char *const eog[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                      "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "</s>"};
    const size_t n_eog = sizeof eog / sizeof *eog;
    if (t->eot == BITNET_TOKEN_NULL)
        t->eot = find_control(t, eot, sizeof eot / sizeof *eot);
    if (t->eom == BITNET_TOKEN_NULL)
        t->eom = find_control(t, eom, 1);
    t->eog = bn_malloc((n_eog + 3) * sizeof *t->eog);
    if (!t->eog)
        return oom("the end-of-generation set");
    bitnet_token fixed[3] = {t->eos, t->eot, t->eom};
    for (size_t i = 0; i < 3; i++)
        if (fixed[i] != BITNET_TOKEN_NULL)
            t->eog[t->n_eog++] = fixed[i];
    for (size_t i = 0; i < n_eog; i++) {
        bitnet_token id = find_control(t, &eog[i], 1);
        if (id != BITNET_TOKEN_NULL)
            t->eog[t->n_eog++] = id;
    }
    qsort(t->eog, t->n_eog, sizeof *t->eog, cmp_token);
    size_t u = 0;
    for (size_t i = 0; i < t->n_eog; i++)
        if (!u || t->eog[u - 1] != t->eog[i])
            t->eog[u++] = t->eog[i];
    t->n_eog = u;
    return BITNET_OK;
}

/* Control, user-defined and unknown tokens for the special-token partition. */
static bitnet_status load_specials(bn_tokenizer *t)
{
    const uint8_t kinds = BN_ATTR_CONTROL | BN_ATTR_USER_DEFINED | BN_ATTR_UNKNOWN;
    size_t n = 0;
    for (int32_t i = 0; i < t->n_tokens; i++)
        n += (t->attrs[i] & kinds) && t->texts[i].len;
    t->specials = bn_malloc((n ? n : 1) * sizeof *t->specials);
    t->special_lens = bn_malloc((n ? n : 1) * sizeof *t->special_lens);
    if (!t->specials || !t->special_lens)
        return oom("the special token list");
    for (int32_t i = 0; i < t->n_tokens; i++)
        if ((t->attrs[i] & kinds) && t->texts[i].len)
            t->specials[t->n_specials++] = (bn_special){(size_t)t->texts[i].len, i};
    if (n)
        qsort(t->specials, n, sizeof *t->specials, bn_special_cmp);
    for (size_t i = 0; i < n; i++) {
        unsigned char lead = (unsigned char)t->texts[t->specials[i].id].s[0];
        t->special_lead[lead >> 3] |= (uint8_t)(1u << (lead & 7));
        if (!t->n_special_lens || t->special_lens[t->n_special_lens - 1] != t->specials[i].len)
            t->special_lens[t->n_special_lens++] = t->specials[i].len;
    }
    return BITNET_OK;
}

/* Byte fallback: SentencePiece's "<0xXX>" tokens (else the byte itself, as
 * llama.cpp tries next); BPE's GPT-2 code point for the byte. */
static void load_byte_tokens(bn_tokenizer *t)
{
    for (int b = 0; b < 256; b++) {
        char text[8];
        size_t n;
        if (t->kind == BN_TOK_SPM) {
            n = (size_t)snprintf(text, sizeof text, "<0x%02X>", (unsigned)b);
            bitnet_token id = bn_token_find(t, text, n);
            text[0] = (char)b;
            t->byte_token[b] = id != BITNET_TOKEN_NULL ? id : bn_token_find(t, text, 1);
        } else {
            n = bn_utf8_encode(bn_byte_to_cpt((uint8_t)b), text);
            t->byte_token[b] = bn_token_find(t, text, n);
        }
    }
}

/* ---- public ------------------------------------------------------------- */

void bn_tokenizer_free(bn_tokenizer *t)
{
    if (!t)
        return;
    bn_strtab_free(&t->tokens);
    bn_strtab_free(&t->merges);
    bn_free(t->attrs);
    bn_free(t->scores);
    bn_free(t->eog);
    bn_free(t->specials);
    bn_free(t->special_lens);
    bn_free(t);
}

static bitnet_status build(const bn_gguf *g, bn_tokenizer *t)
{
    bitnet_status st = choose_model(g, t);
    if (!st && t->kind == BN_TOK_BPE)
        st = choose_pre(g, t);
    if (!st)
        st = load_tokens(g, t);
    if (!st)
        st = load_attrs_and_scores(g, t);
    if (!st && t->kind == BN_TOK_BPE)
        st = load_merges(g, t);
    if (!st)
        st = load_special_ids(g, t);
    if (!st)
        st = load_eog(t);
    if (!st)
        st = load_specials(t);
    if (!st)
        load_byte_tokens(t);
    return st;
}

bitnet_status bn_tokenizer_new(const bn_gguf *g, bn_tokenizer **out)
{
    *out = NULL;
    bn_tokenizer *t = bn_calloc(1, sizeof *t);
    if (!t)
        return oom("the tokenizer");
    t->bos = t->eos = t->unk = t->eot = t->eom = t->pad = BITNET_TOKEN_NULL;
    bitnet_status st = build(g, t);
    if (st) {
        bn_tokenizer_free(t);
        return st;
    }
    bn_log(BITNET_LOG_DEBUG, "tokenizer: %s, %d tokens, BOS %d, EOS %d, %zu special tokens",
           t->kind == BN_TOK_SPM ? "SentencePiece" : t->pre == BN_PRE_LLAMA3 ? "BPE (llama3)" : "BPE (gpt2)",
           t->n_tokens, t->bos, t->eos, t->n_specials);
    *out = t;
    return BITNET_OK;
}

int32_t bn_tokenizer_n_tokens(const bn_tokenizer *t)
{
    return t->n_tokens;
}

bitnet_token bn_tokenizer_bos(const bn_tokenizer *t)
{
    return t->bos;
}

bitnet_token bn_tokenizer_eos(const bn_tokenizer *t)
{
    return t->eos;
}

bool bn_tokenizer_is_eog(const bn_tokenizer *t, bitnet_token id)
{
    return id != BITNET_TOKEN_NULL && bsearch(&id, t->eog, t->n_eog, sizeof *t->eog, cmp_token) != NULL;
}

const char *bn_tokenizer_text(const bn_tokenizer *t, bitnet_token id)
{
    return id >= 0 && id < t->n_tokens ? t->texts[id].s : NULL;
}
