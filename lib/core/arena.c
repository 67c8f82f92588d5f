#include "core/arena.h"

#include <stdint.h>
#include <string.h>

#include "core/alloc.h"

#define ARENA_CHUNK (64 * 1024)

struct bn_arena_chunk {
    struct bn_arena_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char mem[];
};

void *bn_arena_alloc(bn_arena *a, size_t size)
{
    if (size > SIZE_MAX - 15 - sizeof(struct bn_arena_chunk))
        return NULL;
    size = (size + 15) & ~(size_t)15;
    struct bn_arena_chunk *c = a->head;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;
        c = bn_malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->cap = cap;
        /* A big one-off block goes behind the head so the head keeps serving
         * small requests. */
        if (a->head && size > ARENA_CHUNK) {
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
        a->bytes += sizeof *c + cap;
    }
    void *p = c->mem + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

char *bn_arena_strndup(bn_arena *a, const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *p = bn_arena_alloc(a, len + 1);
    if (p && len)
        memcpy(p, s, len);
    return p;
}

void bn_arena_free(bn_arena *a)
{
    struct bn_arena_chunk *c = a->head;
    while (c) {
        struct bn_arena_chunk *next = c->next;
        bn_free(c);
        c = next;
    }
    a->head = NULL;
    a->bytes = 0;
}
