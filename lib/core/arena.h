/* Bump allocator for the many small strings and arrays of a file's metadata:
 * freed all at once with the model, so no per-string bookkeeping. */
#ifndef BN_ARENA_H
#define BN_ARENA_H

#include <stddef.h>

typedef struct bn_arena {
    struct bn_arena_chunk *head;
    size_t bytes; /* total bytes reserved, for memory reports */
} bn_arena;

/* 16-byte aligned, zeroed; NULL on allocation failure or overflow. */
void *bn_arena_alloc(bn_arena *a, size_t size);
/* Copy of s[0..len) plus a NUL. */
char *bn_arena_strndup(bn_arena *a, const char *s, size_t len);
void bn_arena_free(bn_arena *a);

#endif
