/* Background prefetch of weights: while a context computes layer i, one
 * worker per model brings layer i+1 in. Mapped weights are paged in with
 * madvise(MADV_WILLNEED) (the kernel reads ahead asynchronously); weights a
 * context uses dequantized are dequantized into the store's cache. Requests
 * are hints: a full queue or a failed thread start drops them. */
#ifndef BN_PREFETCH_H
#define BN_PREFETCH_H

#include <stdbool.h>
#include <stdint.h>

#include "loader/gguf.h"
#include "store/store.h"

typedef struct bn_prefetcher bn_prefetcher;

typedef struct bn_prefetch_item {
    const bn_gguf_tensor *t;
    int64_t idx;  /* tensor index in the store */
    bool advise;  /* madvise its bytes (mapped models) */
    bool dequant; /* dequantize it into the cache */
} bn_prefetch_item;

/* The worker starts with the first request. NULL on allocation failure (the
 * model then runs without prefetch). */
bn_prefetcher *bn_prefetcher_new(bn_store *store);
/* Stops and joins the worker; NULL is a no-op. */
void bn_prefetcher_free(bn_prefetcher *p);
/* Queue n items; returns without waiting. */
void bn_prefetcher_request(bn_prefetcher *p, const bn_prefetch_item *items, int n);
/* Waits until the queue is empty and the worker idle (tests, benchmarks). */
void bn_prefetcher_drain(bn_prefetcher *p);

#endif
