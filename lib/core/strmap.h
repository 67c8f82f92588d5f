/* Open-addressing map from byte strings to indices, for O(1) lookup and
 * duplicate detection of metadata keys and tensor names (files are hostile:
 * a quadratic scan over millions of names would hang the host). */
#ifndef BN_STRMAP_H
#define BN_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct bn_strmap {
    struct bn_strmap_slot *slots;
    size_t cap; /* power of two */
    size_t count;
} bn_strmap;

/* FNV-1a over bytes: simple, and fine for names bounded by the file size. */
uint64_t bn_hash_bytes(const char *s, size_t len);

/* Sized for `expected` entries; returns 0 on success, -1 on OOM. */
int bn_strmap_init(bn_strmap *m, size_t expected);
void bn_strmap_free(bn_strmap *m);
/* The key's bytes are borrowed and must outlive the map.
 * Returns 0 inserted, 1 already present, -1 out of memory. */
int bn_strmap_insert(bn_strmap *m, const char *key, size_t len, int64_t value);
/* Index stored for the key, or -1. */
int64_t bn_strmap_find(const bn_strmap *m, const char *key, size_t len);

#endif
