#include "context/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "core/alloc.h"
#include "core/error.h"

/* Decode dispatches a few hundred jobs per token, each a few tens of
 * microseconds: a condition-variable round trip per job would cost as much as
 * the work. Workers therefore spin on a generation counter for a while after
 * each job and only then sleep; the caller spins on a pending counter. */
#define SPIN_ITERATIONS 2000 /* ~40 us of `pause` */
#define BN_POOL_MAX_CHUNKS 64

/* The counters every thread writes during a job each get a cache line of
 * their own, apart from the job description the workers only read: a claim
 * must not pull the description's line away from the other thread. */
struct bn_pool {
    _Alignas(64) atomic_uint generation; /* bumped for each job (seq_cst with sleepers) */
    atomic_int sleepers;                 /* workers blocked on `wake` */
    atomic_bool quit;
    _Alignas(64) atomic_int next_chunk; /* the next chunk of the current job to claim */
    _Alignas(64) atomic_int pending;    /* workers still running the current job */
    _Alignas(64) bn_pool_fn fn;         /* job: published before `generation` is bumped */
    void *arg;
    int n_chunks;
    int64_t bounds[BN_POOL_MAX_CHUNKS + 1];
    _Alignas(64) int n_threads;
    pthread_t *workers;
    int n_started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    void *raw; /* the allocation, for bn_free (the pool is 64-byte aligned in it) */
};

typedef struct worker_arg {
    bn_pool *pool;
    int index;
} worker_arg;

/* Chunk boundaries for n items in multiples of `grain`: the first n_threads
 * chunks share 3/4 of the work equally, the rest goes in chunks that shrink
 * to one grain, so threads that run slower (a busy sibling hyperthread, a
 * late wake-up) end at nearly the same time as the others. Returns the
 * number of chunks. */
static int plan_chunks(int64_t n, int64_t grain, int threads, int64_t *bounds)
{
    const int64_t units = (n + grain - 1) / grain;
    int64_t done = 0;
    int k = 0;
    bounds[0] = 0;
    const int64_t first = units * 3 / 4 / threads;
    for (int t = 0; t < threads && first > 0; t++)
        bounds[++k] = done += first;
    while (done < units) {
        const int64_t rest = units - done;
        int64_t size = (rest + 2 * threads - 1) / (2 * threads);
        if (k == BN_POOL_MAX_CHUNKS - 1)
            size = rest;
        bounds[++k] = done += size;
    }
    for (int i = 1; i <= k; i++)
        bounds[i] = bounds[i] * grain < n ? bounds[i] * grain : n;
    return k;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Wait until the generation moves past `seen` (or quit); returns the new one. */
static unsigned wait_for_job(bn_pool *pool, unsigned seen)
{
    for (int i = 0; i < SPIN_ITERATIONS; i++) {
        unsigned g = atomic_load_explicit(&pool->generation, memory_order_acquire);
        if (g != seen || atomic_load_explicit(&pool->quit, memory_order_relaxed))
            return g;
        cpu_relax();
    }
    pthread_mutex_lock(&pool->lock);
    atomic_fetch_add(&pool->sleepers, 1);
    unsigned g;
    while ((g = atomic_load(&pool->generation)) == seen && !atomic_load(&pool->quit))
        pthread_cond_wait(&pool->wake, &pool->lock);
    atomic_fetch_sub(&pool->sleepers, 1);
    pthread_mutex_unlock(&pool->lock);
    return g;
}

/* Claim and run chunks of the current job until none is left. */
static void run_chunks(bn_pool *pool, int thread)
{
    for (;;) {
        const int k = atomic_fetch_add_explicit(&pool->next_chunk, 1, memory_order_relaxed);
        if (k >= pool->n_chunks)
            return;
        pool->fn(pool->arg, pool->bounds[k], pool->bounds[k + 1], thread);
    }
}

static void *worker_main(void *p)
{
    worker_arg *wa = p;
    bn_pool *pool = wa->pool;
    const int index = wa->index;
    bn_free(wa);
    unsigned seen = 0;
    for (;;) {
        seen = wait_for_job(pool, seen);
        if (atomic_load(&pool->quit))
            break;
        run_chunks(pool, index);
        atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_release);
    }
    return NULL;
}

bitnet_status bn_pool_new(int n_threads, bn_pool **out)
{
    *out = NULL;
    void *raw = bn_calloc(1, sizeof(bn_pool) + 63);
    if (!raw)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate the thread pool");
    bn_pool *pool = (bn_pool *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    pool->raw = raw;
    pool->n_threads = n_threads;
    if (pthread_mutex_init(&pool->lock, NULL) != 0) {
        bn_free(pool->raw);
        return bn_error(BITNET_ERR_INTERNAL, "cannot create the pool lock");
    }
    pthread_cond_init(&pool->wake, NULL);
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->pending, 0);
    atomic_init(&pool->sleepers, 0);
    atomic_init(&pool->next_chunk, 0);
    atomic_init(&pool->quit, false);
    bitnet_status s = BITNET_OK;
    if (n_threads > 1) {
        pool->workers = bn_calloc((size_t)n_threads, sizeof *pool->workers);
        if (!pool->workers)
            s = bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate %d threads", n_threads);
        for (int i = 1; i < n_threads && !s; i++) {
            worker_arg *wa = bn_malloc(sizeof *wa);
            if (!wa) {
                s = bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate thread %d", i);
                break;
            }
            *wa = (worker_arg){pool, i};
            if (pthread_create(&pool->workers[i], NULL, worker_main, wa) != 0) {
                bn_free(wa);
                s = bn_error(BITNET_ERR_INTERNAL, "cannot start thread %d of %d", i, n_threads);
                break;
            }
            pool->n_started = i;
        }
    }
    if (s) {
        bn_pool_free(pool);
        return s;
    }
    *out = pool;
    return BITNET_OK;
}

void bn_pool_free(bn_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    atomic_store(&pool->quit, true);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 1; i <= pool->n_started; i++)
        pthread_join(pool->workers[i], NULL);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    bn_free(pool->workers);
    bn_free(pool->raw);
}

int bn_pool_threads(const bn_pool *pool)
{
    return pool->n_threads;
}

void bn_pool_run(bn_pool *pool, int64_t n, int64_t grain, bn_pool_fn fn, void *arg)
{
    bn_pool_run_idle(pool, n, grain, fn, arg, NULL, NULL);
}

void bn_pool_run_idle(bn_pool *pool, int64_t n, int64_t grain, bn_pool_fn fn, void *arg, void (*idle)(void *),
                      void *idle_arg)
{
    if (pool->n_threads == 1 || n <= 1) {
        if (n > 0)
            fn(arg, 0, n, 0);
        if (idle)
            idle(idle_arg);
        return;
    }
    pool->fn = fn;
    pool->arg = arg;
    pool->n_chunks = plan_chunks(n, grain > 0 ? grain : 1, pool->n_threads, pool->bounds);
    atomic_store_explicit(&pool->next_chunk, 0, memory_order_relaxed);
    atomic_store_explicit(&pool->pending, pool->n_threads - 1, memory_order_relaxed);
    atomic_fetch_add(&pool->generation, 1); /* seq_cst: publishes the job */
    if (atomic_load(&pool->sleepers) > 0) {
        pthread_mutex_lock(&pool->lock);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->lock);
    }
    run_chunks(pool, 0);
    if (idle)
        idle(idle_arg);
    /* Spin, then yield: with more threads than free cores a descheduled
     * worker needs this core to finish. */
    for (int i = 0; atomic_load_explicit(&pool->pending, memory_order_acquire) > 0; i++) {
        if (i < SPIN_ITERATIONS)
            cpu_relax();
        else
            sched_yield();
    }
}
