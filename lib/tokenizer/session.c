/* Scratch shared by the SentencePiece and BPE encoders: growable buffers,
 * the symbol list and the priority queue of candidate merges. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "tokenizer/tokenizer_internal.h"
#include "tokenizer/utf8.h"

void *bn_grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap && p)
        return p;
    size_t n = *cap ? *cap : 16;
    while (n < need && n <= SIZE_MAX / 2)
        n *= 2;
    if (n < need || n > SIZE_MAX / elem) {
        bn_error(BITNET_ERR_OUT_OF_MEMORY, "tokenizer: %zu elements do not fit in memory", need);
        return NULL;
    }
    void *q = bn_realloc(p, n * elem);
    if (!q) {
        bn_error(BITNET_ERR_OUT_OF_MEMORY, "tokenizer: cannot allocate %zu bytes of scratch", n * elem);
        return NULL;
    }
    *cap = n;
    return q;
}

bitnet_status bn_session_push(bn_session *s, bitnet_token id)
{
    bitnet_token *p = bn_grow(s->out, &s->cap_out, s->n_out + 1, sizeof *p);
    if (!p)
        return BITNET_ERR_OUT_OF_MEMORY;
    s->out = p;
    s->out[s->n_out++] = id;
    return BITNET_OK;
}

bitnet_status bn_session_reserve_buf(bn_session *s, size_t need)
{
    char *p = bn_grow(s->buf, &s->cap_buf, need, 1);
    if (!p)
        return BITNET_ERR_OUT_OF_MEMORY;
    s->buf = p;
    return BITNET_OK;
}

void bn_session_free(bn_session *s)
{
    bn_free(s->out);
    bn_free(s->buf);
    bn_free(s->key);
    bn_free(s->syms);
    bn_free(s->heap);
    bn_free(s->cpts);
    bn_free(s->cflags);
    bn_free(s->coffs);
    memset(s, 0, sizeof *s);
}

bitnet_token bn_token_find(const bn_tokenizer *t, const char *s, size_t len)
{
    int64_t i = bn_strtab_find(&t->tokens, s, len);
    return i < 0 ? BITNET_TOKEN_NULL : (bitnet_token)i;
}

/* a goes before b: larger key, then the leftmost pair. */
static bool before(const bn_bigram *a, const bn_bigram *b)
{
    return a->key > b->key || (a->key == b->key && a->left < b->left);
}

static void heap_swap(bn_bigram *h, size_t i, size_t j)
{
    bn_bigram tmp = h[i];
    h[i] = h[j];
    h[j] = tmp;
}

static bitnet_status heap_push(bn_session *s, const bn_bigram *b)
{
    bn_bigram *h = bn_grow(s->heap, &s->cap_heap, s->n_heap + 1, sizeof *h);
    if (!h)
        return BITNET_ERR_OUT_OF_MEMORY;
    s->heap = h;
    size_t i = s->n_heap++;
    s->heap[i] = *b;
    while (i > 0 && before(&s->heap[i], &s->heap[(i - 1) / 2])) {
        heap_swap(s->heap, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    return BITNET_OK;
}

static bn_bigram heap_pop(bn_session *s)
{
    bn_bigram top = s->heap[0];
    s->heap[0] = s->heap[--s->n_heap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->n_heap && before(&s->heap[l], &s->heap[m]))
            m = l;
        if (r < s->n_heap && before(&s->heap[r], &s->heap[m]))
            m = r;
        if (m == i)
            return top;
        heap_swap(s->heap, i, m);
        i = m;
    }
}

static bitnet_status try_pair(bn_session *s, bn_pair_fn pair, size_t left, size_t right)
{
    if (left == BN_NONE || right == BN_NONE)
        return BITNET_OK;
    bn_bigram b = {left, right, 0.0, s->syms[left].n + s->syms[right].n};
    if (!pair(s, left, right, &b.key))
        return BITNET_OK;
    return heap_push(s, &b);
}

static bitnet_status split_chars(bn_session *s)
{
    bn_sym *syms = bn_grow(s->syms, &s->cap_syms, s->len, sizeof *syms);
    if (!syms)
        return BITNET_ERR_OUT_OF_MEMORY;
    s->syms = syms;
    s->n_syms = 0;
    for (size_t off = 0; off < s->len;) {
        size_t n = bn_utf8_len((unsigned char)s->buf[off]);
        if (n > s->len - off)
            n = s->len - off;
        size_t i = s->n_syms++;
        s->syms[i] = (bn_sym){i ? i - 1 : BN_NONE, off + n < s->len ? i + 1 : BN_NONE, off, n};
        off += n;
    }
    return BITNET_OK;
}

bitnet_status bn_session_merge(bn_session *s, bn_pair_fn pair)
{
    bitnet_status st = split_chars(s);
    s->n_heap = 0;
    for (size_t i = 1; !st && i < s->n_syms; i++)
        st = try_pair(s, pair, i - 1, i);
    while (!st && s->n_heap) {
        bn_bigram b = heap_pop(s);
        bn_sym *l = &s->syms[b.left], *r = &s->syms[b.right];
        /* Stale: one side was merged away or grew since the pair was queued. */
        if (!l->n || !r->n || l->n + r->n != b.size)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next != BN_NONE)
            s->syms[r->next].prev = b.left;
        st = try_pair(s, pair, l->prev, b.left);
        if (!st)
            st = try_pair(s, pair, b.left, s->syms[b.left].next);
    }
    return st;
}
