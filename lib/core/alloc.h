/* All library allocations go through these wrappers so that a test build can
 * make the Nth allocation fail and check that every path returns a status. */
#ifndef BN_ALLOC_H
#define BN_ALLOC_H

#include <stddef.h>

void *bn_malloc(size_t size);
void *bn_calloc(size_t count, size_t size);
void *bn_realloc(void *ptr, size_t size);
void bn_free(void *ptr);
/* For weights streamed every token (a re-quantized head, repacked or read
 * copies): 2 MiB aligned and advised for transparent huge pages when that
 * large, so streaming them does not take a TLB miss every 4 KiB. Free with
 * bn_free. */
void *bn_malloc_weights(size_t size);
/* Copy of s[0..len) with a NUL appended; NULL on allocation failure. */
char *bn_strndup(const char *s, size_t len);

/* Fault injection: after `n` more successful allocations every allocation
 * fails; n < 0 switches it off (the default). Process-wide, for tests. */
void bn_alloc_fail_after(long n);
/* Allocations that failed (injected or real) since the process started. */
unsigned long bn_alloc_failures(void);

#endif
