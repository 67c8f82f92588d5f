/* Shared between the tokenizer's files: the tokenizer object and the
 * per-call scratch ("session") that encoding works in. */
#ifndef BN_TOKENIZER_INTERNAL_H
#define BN_TOKENIZER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer/strtab.h"
#include "tokenizer/tokenizer.h"

enum bn_tok_kind { BN_TOK_SPM, BN_TOK_BPE };
enum bn_pre_kind { BN_PRE_GPT2, BN_PRE_LLAMA3 };

/* Token attributes, from tokenizer.ggml.token_type (1 normal, 2 unknown,
 * 3 control, 4 user-defined, 5 unused, 6 byte; anything else: 0). */
#define BN_ATTR_NORMAL 0x01u
#define BN_ATTR_UNKNOWN 0x02u
#define BN_ATTR_CONTROL 0x04u
#define BN_ATTR_USER_DEFINED 0x08u
#define BN_ATTR_UNUSED 0x10u
#define BN_ATTR_BYTE 0x20u

typedef struct bn_special {
    size_t len; /* bytes of its text */
    bitnet_token id;
} bn_special;

/* Order of bn_tokenizer.specials (qsort): longest first, then lowest id. */
int bn_special_cmp(const void *a, const void *b);

struct bn_tokenizer {
    enum bn_tok_kind kind;
    enum bn_pre_kind pre; /* BPE only */
    int32_t n_tokens;
    const bn_gguf_str *texts; /* borrowed from the GGUF */
    uint8_t *attrs;
    float *scores;        /* SPM merge priorities; NULL for BPE */
    bn_strtab tokens;     /* text -> id */
    bn_strtab merges;     /* BPE: "left right" -> rank */
    bitnet_token byte_token[256]; /* byte fallback; BITNET_TOKEN_NULL if none */
    bitnet_token bos, eos, unk, eot, eom, pad;
    bool add_bos, add_eos;
    bool add_space_prefix; /* SPM dummy prefix "▁" */
    bool ignore_merges;    /* llama3: a pre-token that is a whole token skips merging */
    bitnet_token *eog;     /* end-of-generation ids, sorted */
    size_t n_eog;
    /* Control, user-defined and unknown tokens, matched in the text before
     * the model's algorithm runs: longest text first, ties by id. */
    struct bn_special *specials;
    size_t n_specials;
    uint8_t special_lead[32]; /* bitmap: bytes a special text starts with */
    size_t *special_lens;     /* their distinct lengths, descending */
    size_t n_special_lens;
};

#define BN_NONE SIZE_MAX

/* One symbol of the text being merged: bytes [start, start + n) of the
 * session buffer, linked to its live neighbours. n == 0: merged away. */
typedef struct bn_sym {
    size_t prev, next; /* BN_NONE at the ends */
    size_t start, n;
} bn_sym;

/* A candidate merge of two adjacent symbols; the largest key goes first,
 * ties to the leftmost. `size`: both lengths then, to spot stale entries. */
typedef struct bn_bigram {
    size_t left, right;
    double key;
    size_t size;
} bn_bigram;

typedef struct bn_session {
    const bn_tokenizer *t;
    bitnet_token *out; /* the result */
    size_t n_out, cap_out;
    char *buf; /* the text being merged (escaped or byte-mapped) */
    size_t len, cap_buf;
    char *key; /* BPE merge lookup key */
    size_t cap_key;
    bn_sym *syms;
    size_t n_syms, cap_syms;
    bn_bigram *heap;
    size_t n_heap, cap_heap;
    uint32_t *cpts; /* BPE: the fragment's code points, their classes and byte offsets */
    uint8_t *cflags;
    size_t *coffs;
    size_t cap_cpts, cap_cflags, cap_coffs;
} bn_session;

/* session.c */
/* `p` (capacity *cap elements of `elem` bytes) grown to hold `need`: the
 * maybe moved block, or NULL with `p` untouched and the error set (OOM). */
void *bn_grow(void *p, size_t *cap, size_t need, size_t elem);
bitnet_status bn_session_push(bn_session *s, bitnet_token id);
bitnet_status bn_session_reserve_buf(bn_session *s, size_t need);
void bn_session_free(bn_session *s);
/* Called for adjacent live symbols: true with a key when they may merge. */
typedef bool (*bn_pair_fn)(bn_session *s, size_t left, size_t right, double *key);
/* Split s->buf[0..len) into UTF-8 characters and merge pairs while any can. */
bitnet_status bn_session_merge(bn_session *s, bn_pair_fn pair);
/* Id of a text, or BITNET_TOKEN_NULL. */
bitnet_token bn_token_find(const bn_tokenizer *t, const char *s, size_t len);

/* spm.c, bpe.c: append the tokens of one text fragment. */
bitnet_status bn_spm_encode(bn_session *s, const char *text, size_t len, bool prefix_space);
bitnet_status bn_bpe_encode(bn_session *s, const char *text, size_t len);

/* pretokenize.c: end (exclusive) of the pre-token that starts at cps[pos];
 * fl[i] holds bn_unicode_flags(cps[i]). */
size_t bn_pretokenize_next(enum bn_pre_kind pre, const uint32_t *cps, const uint8_t *fl, size_t n, size_t pos);

/* special.c: a piece of the input, either raw text or a special token. */
typedef struct bn_fragment {
    size_t start, len;  /* raw text: bytes of the input */
    bitnet_token token; /* BITNET_TOKEN_NULL for raw text */
} bn_fragment;
/* Cut text[0..len) at the special tokens it contains (all of them with
 * parse_special, else the user-defined ones only, as llama.cpp does). */
bitnet_status bn_split_specials(const bn_tokenizer *t, const char *text, size_t len, bool parse_special,
                                bn_fragment **out, size_t *n_out);

#endif
