/* Hash index over an array of strings borrowed from the GGUF metadata (the
 * vocabulary, the merges): string -> first index holding it. Slots are 8
 * bytes, a quarter of bn_strmap's, which matters for Llama 3's 128k tokens
 * and 280k merges. */
#ifndef BN_TOKENIZER_STRTAB_H
#define BN_TOKENIZER_STRTAB_H

#include <stddef.h>
#include <stdint.h>

#include "loader/gguf.h"

typedef struct bn_strtab {
    uint64_t *slots; /* 0: empty; else (hash >> 32) << 32 | (index + 1) */
    size_t mask;     /* capacity - 1, capacity a power of two */
    const bn_gguf_str *strs;
} bn_strtab;

/* Room for `n` entries of `strs` (n < 2^32 - 1). 0, or -1 on OOM. */
int bn_strtab_init(bn_strtab *t, const bn_gguf_str *strs, size_t n);
void bn_strtab_free(bn_strtab *t);
/* Index strs[index]. Returns 0, or 1 when an earlier index holds the same
 * string (the earlier one is kept). Never more than the `n` of init. */
int bn_strtab_add(bn_strtab *t, uint32_t index);
/* First index whose string is s[0..len), or -1. */
int64_t bn_strtab_find(const bn_strtab *t, const char *s, size_t len);

#endif
