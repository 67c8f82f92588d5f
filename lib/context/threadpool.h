/* A persistent pool of worker threads that split an index range [0, n) into
 * chunks claimed at run time: each thread streams through a contiguous range
 * of its own, and faster threads take over the rest of slower ones'. Chunk
 * boundaries are multiples of the grain (or n); which thread computes which
 * chunk depends on timing, but every item is computed by exactly one thread:
 * as long as a task computes each item the same way whatever chunk it is
 * in, results do not depend on scheduling and are bit-identical for any
 * thread count. */
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
/* Run fn over [0, n) in chunks whose boundaries are multiples of `grain`
 * (except n); returns when all are done. fn may be called several times per
 * thread. */
void bn_pool_run(bn_pool *pool, int64_t n, int64_t grain, bn_pool_fn fn, void *arg);
/* bn_pool_run, and the caller runs idle(idle_arg) once it finds no chunk
 * left to claim, before it waits for the other threads (with one thread:
 * after fn). idle may be NULL. */
void bn_pool_run_idle(bn_pool *pool, int64_t n, int64_t grain, bn_pool_fn fn, void *arg, void (*idle)(void *),
                      void *idle_arg);

/* What the next runs will stream, for workers to start on while the caller
 * works alone: in decode the caller runs the small steps between two matrix
 * products (norms, RoPE, attention's tail) and the memory bus idles. A
 * worker that has finished its chunks prefetches the start of its share of
 * these bytes (the ranges taken end to end, cut in n_threads equal shares,
 * as the runs cut their items), and the first worker also the start of the
 * caller's share (it would be another core's cache away, not DRAM), `cap`
 * bytes in all, and stops as soon as the next job is posted. */
#define BN_POOL_WARM_MAX 3

typedef struct bn_pool_warm {
    const void *p[BN_POOL_WARM_MAX];
    size_t bytes[BN_POOL_WARM_MAX];
    int n;
    size_t cap;
} bn_pool_warm;

/* The plan the workers use after each run from now on (copied; NULL or
 * n == 0: none). Call between runs, from the caller's thread. */
void bn_pool_set_warm(bn_pool *pool, const bn_pool_warm *warm);

#endif
