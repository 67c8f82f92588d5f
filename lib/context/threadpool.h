/* A persistent pool of worker threads that split an index range [0, n)
 * statically: thread t of T always gets the same slice, so a result never
 * depends on scheduling, and every output element is computed by exactly one
 * thread (bit-identical for any thread count). */
#ifndef BN_THREADPOOL_H
#define BN_THREADPOOL_H

#include <stdint.h>

#include "bitnet.h"

typedef struct bn_pool bn_pool;

/* fn processes items [begin, end) on thread `thread` (0 = the caller). */
typedef void (*bn_pool_fn)(void *arg, int64_t begin, int64_t end, int thread);

/* n_threads total, the caller included (1 = no workers). */
bitnet_status bn_pool_new(int n_threads, bn_pool **out);
void bn_pool_free(bn_pool *pool);
int bn_pool_threads(const bn_pool *pool);
/* Run fn over [0, n) split into one slice per thread; returns when all are done. */
void bn_pool_run(bn_pool *pool, int64_t n, bn_pool_fn fn, void *arg);

#endif
