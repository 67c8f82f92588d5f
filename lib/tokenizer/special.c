/* Special-token partition, as llama.cpp's tokenizer_st_partition: for each
 * special token in turn, longest first, every occurrence in the raw text
 * that is left becomes that token. To stay fast with many special tokens, a
 * first pass finds which of them occur in the text at all. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "tokenizer/tokenizer_internal.h"

int bn_special_cmp(const void *a, const void *b)
{
    const bn_special *x = a, *y = b;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Tokens split out without PARSE_SPECIAL: user-defined ones (llama.cpp keeps
 * control and unknown tokens as plain text then). */
static bool eligible(const bn_tokenizer *t, bitnet_token id, bool parse_special)
{
    uint8_t a = t->attrs[id];
    if (!(a & (BN_ATTR_CONTROL | BN_ATTR_USER_DEFINED | BN_ATTR_UNKNOWN)))
        return false;
    return parse_special || !(a & (BN_ATTR_CONTROL | BN_ATTR_UNKNOWN));
}

/* Append the eligible special tokens whose text starts at text[i]. */
static bitnet_status specials_at(const bn_tokenizer *t, const char *text, size_t len, size_t i, bool parse_special,
                                 bn_special **found, size_t *n, size_t *cap)
{
    for (size_t k = 0; k < t->n_special_lens; k++) {
        size_t l = t->special_lens[k];
        if (l > len - i)
            continue;
        bitnet_token id = bn_token_find(t, text + i, l);
        if (id == BITNET_TOKEN_NULL || !eligible(t, id, parse_special))
            continue;
        bn_special *p = bn_grow(*found, cap, *n + 1, sizeof *p);
        if (!p)
            return BITNET_ERR_OUT_OF_MEMORY;
        *found = p;
        p[(*n)++] = (bn_special){l, id};
    }
    return BITNET_OK;
}

/* The distinct eligible special tokens in the text, in partition order. */
static bitnet_status find_present(const bn_tokenizer *t, const char *text, size_t len, bool parse_special,
                                  bn_special **out, size_t *n_out)
{
    bn_special *found = NULL;
    size_t n = 0, cap = 0;
    bitnet_status st = BITNET_OK;
    for (size_t i = 0; i < len && !st; i++) {
        unsigned char c = (unsigned char)text[i];
        if (t->special_lead[c >> 3] & (1u << (c & 7)))
            st = specials_at(t, text, len, i, parse_special, &found, &n, &cap);
    }
    if (st) {
        bn_free(found);
        return st;
    }
    if (n)
        qsort(found, n, sizeof *found, bn_special_cmp);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (!u || found[u - 1].id != found[i].id)
            found[u++] = found[i];
    *out = found;
    *n_out = u;
    return BITNET_OK;
}

static const char *find_bytes(const char *hay, size_t n, const char *needle, size_t m)
{
    while (n >= m) {
        const char *p = memchr(hay, needle[0], n - m + 1);
        if (!p)
            return NULL;
        if (memcmp(p, needle, m) == 0)
            return p;
        n -= (size_t)(p - hay) + 1;
        hay = p + 1;
    }
    return NULL;
}

typedef struct frag_list {
    bn_fragment *v;
    size_t n, cap;
} frag_list;

static bitnet_status frag_add(frag_list *l, size_t start, size_t len, bitnet_token token)
{
    bn_fragment *p = bn_grow(l->v, &l->cap, l->n + 1, sizeof *p);
    if (!p)
        return BITNET_ERR_OUT_OF_MEMORY;
    l->v = p;
    p[l->n++] = (bn_fragment){start, len, token};
    return BITNET_OK;
}

/* Copy `in` to `out`, cutting its raw pieces at every occurrence of sp. */
static bitnet_status cut(const bn_tokenizer *t, const char *text, const frag_list *in, const bn_special *sp,
                         frag_list *out)
{
    const char *needle = t->texts[sp->id].s;
    bitnet_status st = BITNET_OK;
    out->n = 0;
    for (size_t f = 0; f < in->n && !st; f++) {
        bn_fragment fr = in->v[f];
        if (fr.token != BITNET_TOKEN_NULL) {
            st = frag_add(out, fr.start, fr.len, fr.token);
            continue;
        }
        size_t p = fr.start, end = fr.start + fr.len;
        const char *hit;
        while (!st && (hit = find_bytes(text + p, end - p, needle, sp->len))) {
            size_t q = (size_t)(hit - text);
            if (q > p)
                st = frag_add(out, p, q - p, BITNET_TOKEN_NULL);
            if (!st)
                st = frag_add(out, q, sp->len, sp->id);
            p = q + sp->len;
        }
        if (!st && p < end)
            st = frag_add(out, p, end - p, BITNET_TOKEN_NULL);
    }
    return st;
}

bitnet_status bn_split_specials(const bn_tokenizer *t, const char *text, size_t len, bool parse_special,
                                bn_fragment **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (!len)
        return BITNET_OK;
    bn_special *present = NULL;
    size_t n_present = 0;
    bitnet_status st = find_present(t, text, len, parse_special, &present, &n_present);
    frag_list a = {0}, b = {0};
    if (!st)
        st = frag_add(&a, 0, len, BITNET_TOKEN_NULL);
    for (size_t i = 0; i < n_present && !st; i++) {
        st = cut(t, text, &a, &present[i], &b);
        frag_list tmp = a;
        a = b;
        b = tmp;
    }
    bn_free(present);
    bn_free(b.v);
    if (st) {
        bn_free(a.v);
        return st;
    }
    *out = a.v;
    *n_out = a.n;
    return BITNET_OK;
}
