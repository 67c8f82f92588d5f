#include "tokenizer/strtab.h"

#include <string.h>

#include "core/alloc.h"
#include "core/strmap.h"


int bn_strtab_init(bn_strtab *t, const bn_gguf_str *strs, size_t n)
{
    size_t cap = 16;
    while (cap / 4 * 3 < n) { /* load factor <= 3/4 */
        if (cap > SIZE_MAX / 2 / sizeof *t->slots)
            return -1;
        cap *= 2;
    }
    t->slots = bn_calloc(cap, sizeof *t->slots);
    t->mask = t->slots ? cap - 1 : 0;
    t->strs = strs;
    return t->slots ? 0 : -1;
}

void bn_strtab_free(bn_strtab *t)
{
    bn_free(t->slots);
    t->slots = NULL;
    t->mask = 0;
}

/* The slot holding s, or the empty slot where it would go. */
static uint64_t *probe(const bn_strtab *t, const char *s, size_t len, uint64_t h)
{
    uint64_t tag = h >> 32 << 32;
    size_t i = (size_t)h & t->mask;
    for (;;) {
        uint64_t *slot = &t->slots[i];
        if (!*slot)
            return slot;
        if ((*slot & 0xFFFFFFFF00000000ull) == tag) {
            const bn_gguf_str *e = &t->strs[(*slot & 0xFFFFFFFFu) - 1];
            if (e->len == len && memcmp(e->s, s, len) == 0)
                return slot;
        }
        i = (i + 1) & t->mask;
    }
}

int bn_strtab_add(bn_strtab *t, uint32_t index)
{
    const bn_gguf_str *e = &t->strs[index];
    uint64_t h = bn_hash_bytes(e->s, (size_t)e->len);
    uint64_t *slot = probe(t, e->s, (size_t)e->len, h);
    if (*slot)
        return 1;
    *slot = (h >> 32 << 32) | ((uint64_t)index + 1);
    return 0;
}

int64_t bn_strtab_find(const bn_strtab *t, const char *s, size_t len)
{
    if (!t->slots)
        return -1;
    uint64_t slot = *probe(t, s, len, bn_hash_bytes(s, len));
    return slot ? (int64_t)(slot & 0xFFFFFFFFu) - 1 : -1;
}
