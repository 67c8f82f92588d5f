#include "core/strmap.h"

#include <string.h>

#include "core/alloc.h"

struct bn_strmap_slot {
    const char *key; /* NULL: empty */
    size_t len;
    uint64_t hash;
    int64_t value;
};

uint64_t bn_hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

int bn_strmap_init(bn_strmap *m, size_t expected)
{
    size_t cap = 16;
    while (cap < expected * 2 + 1) {
        if (cap > SIZE_MAX / 4 / sizeof(struct bn_strmap_slot))
            return -1;
        cap *= 2;
    }
    m->slots = bn_calloc(cap, sizeof *m->slots);
    m->cap = m->slots ? cap : 0;
    m->count = 0;
    return m->slots ? 0 : -1;
}

void bn_strmap_free(bn_strmap *m)
{
    bn_free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

static struct bn_strmap_slot *probe(const bn_strmap *m, const char *key, size_t len, uint64_t h)
{
    size_t i = (size_t)h & (m->cap - 1);
    for (;;) {
        struct bn_strmap_slot *s = &m->slots[i];
        if (!s->key || (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0))
            return s;
        i = (i + 1) & (m->cap - 1);
    }
}

static int grow(bn_strmap *m)
{
    bn_strmap bigger;
    if (bn_strmap_init(&bigger, m->cap) != 0)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        struct bn_strmap_slot *s = &m->slots[i];
        if (s->key)
            *probe(&bigger, s->key, s->len, s->hash) = *s;
    }
    bigger.count = m->count;
    bn_strmap_free(m);
    *m = bigger;
    return 0;
}

int bn_strmap_insert(bn_strmap *m, const char *key, size_t len, int64_t value)
{
    if ((m->count + 1) * 2 > m->cap && grow(m) != 0)
        return -1;
    uint64_t h = bn_hash_bytes(key, len);
    struct bn_strmap_slot *s = probe(m, key, len, h);
    if (s->key)
        return 1;
    s->key = key;
    s->len = len;
    s->hash = h;
    s->value = value;
    m->count++;
    return 0;
}

int64_t bn_strmap_find(const bn_strmap *m, const char *key, size_t len)
{
    if (!m->cap)
        return -1;
    const struct bn_strmap_slot *s = probe(m, key, len, bn_hash_bytes(key, len));
    return s->key ? s->value : -1;
}
