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

/* Who computes what. Each thread owns an equal, contiguous range of the
 * job's grains and claims it front to back, half of what is left at a time;
 * a thread whose range is used up takes half of what is left of another's,
 * from the back. So when the threads run at the same speed each streams
 * through one contiguous range (a decode kernel's prefetch runs on from one
 * call into the next, and no stream starts cold mid-job), and when one is
 * slower (a busy vCPU, a late wake-up) the others finish its work. A range
 * is one 64-bit word, front in the high half, end in the low half: a claim
 * from either side is one compare-exchange. */
typedef struct range_slot {
    _Alignas(64) atomic_uint_least64_t range; /* claimed by CAS, a line of its own */
} range_slot;

#define RANGE_MAX_UNITS ((int64_t)1 << 31)

/* The counters every thread writes during a job each get a cache line of
 * their own, apart from the job description the workers only read: a claim
 * must not pull the description's line away from the other thread. */
struct bn_pool {
    _Alignas(64) atomic_uint generation; /* bumped for each job (seq_cst with sleepers) */
    atomic_int sleepers;                 /* workers blocked on `wake` */
    atomic_bool quit;
    _Alignas(64) atomic_int pending; /* workers still running the current job */
    _Alignas(64) bn_pool_fn fn;      /* job: published before `generation` is bumped */
    void *arg;
    int64_t n, grain; /* items [0, n); range units are `grain` items */
    bn_pool_warm warm; /* read by workers before they report a job done */
    _Alignas(64) int n_threads;
    range_slot *slots; /* one per thread */
    void *slots_raw;
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

static uint64_t pack_range(uint32_t front, uint32_t end)
{
    return (uint64_t)front << 32 | end;
}

/* Claims half (rounded up) of what is left of `slot`: from the front for its
 * owner, from the back for another thread. False when nothing is left. */
static bool claim(range_slot *slot, bool from_front, uint32_t *begin, uint32_t *end)
{
    uint64_t v = atomic_load_explicit(&slot->range, memory_order_relaxed);
    for (;;) {
        const uint32_t front = (uint32_t)(v >> 32), back = (uint32_t)v;
        if (front >= back)
            return false;
        const uint32_t take = (back - front + 1) / 2;
        const uint64_t next = from_front ? pack_range(front + take, back) : pack_range(front, back - take);
        if (atomic_compare_exchange_weak_explicit(&slot->range, &v, next, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            *begin = from_front ? front : back - take;
            *end = from_front ? front + take : back;
            return true;
        }
    }
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

static void run_units(bn_pool *pool, uint32_t begin, uint32_t end, int thread)
{
    const int64_t a = (int64_t)begin * pool->grain, b = (int64_t)end * pool->grain;
    pool->fn(pool->arg, a, b < pool->n ? b : pool->n, thread);
}

/* Claim and run the thread's own range, then what others have left, until
 * nothing is. */
static void run_chunks(bn_pool *pool, int thread)
{
    uint32_t begin, end;
    while (claim(&pool->slots[thread], true, &begin, &end))
        run_units(pool, begin, end, thread);
    for (int k = 1; k < pool->n_threads; k++) {
        range_slot *victim = &pool->slots[(thread + k) % pool->n_threads];
        while (claim(victim, false, &begin, &end))
            run_units(pool, begin, end, thread);
    }
}

/* Prefetch the start of thread `index`'s share of the warm plan, `cap`
 * bytes, until a job newer than `seen` is posted (checked every 4 KiB). */
#define WARM_CHECK_BYTES 4096

static void warm_share(bn_pool *pool, const bn_pool_warm *w, int index, size_t cap, unsigned seen)
{
    size_t total = 0;
    for (int i = 0; i < w->n; i++)
        total += w->bytes[i];
    const size_t share = total / (size_t)pool->n_threads;
    size_t skip = share * (size_t)index, left = share < cap ? share : cap;
    for (int i = 0; i < w->n && left; i++) {
        if (skip >= w->bytes[i]) {
            skip -= w->bytes[i];
            continue;
        }
        const char *p = (const char *)w->p[i] + skip;
        size_t len = w->bytes[i] - skip;
        len = len < left ? len : left;
        skip = 0;
        left -= len;
        for (size_t o = 0; o < len; o += 64) {
            if (o % WARM_CHECK_BYTES == 0 && atomic_load_explicit(&pool->generation, memory_order_relaxed) != seen)
                return;
            __builtin_prefetch(p + o, 0, 2); /* to L2: the stream passes L1 */
        }
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
        const bn_pool_warm warm = pool->warm; /* the caller may change it once pending is 0 */
        atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_release);
        if (warm.n) { /* its own share; the first worker also the caller's */
            warm_share(pool, &warm, index, index == 1 ? warm.cap / 2 : warm.cap, seen);
            if (index == 1)
                warm_share(pool, &warm, 0, warm.cap / 2, seen);
        }
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
    pool->slots_raw = bn_calloc(1, (size_t)n_threads * sizeof(range_slot) + 63);
    if (!pool->slots_raw) {
        bn_free(pool->raw);
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate the thread pool");
    }
    pool->slots = (range_slot *)(((uintptr_t)pool->slots_raw + 63) & ~(uintptr_t)63);
    for (int i = 0; i < n_threads; i++)
        atomic_init(&pool->slots[i].range, 0);
    if (pthread_mutex_init(&pool->lock, NULL) != 0) {
        bn_free(pool->slots_raw);
        bn_free(pool->raw);
        return bn_error(BITNET_ERR_INTERNAL, "cannot create the pool lock");
    }
    pthread_cond_init(&pool->wake, NULL);
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->pending, 0);
    atomic_init(&pool->sleepers, 0);
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
    bn_free(pool->slots_raw);
    bn_free(pool->raw);
}

void bn_pool_set_warm(bn_pool *pool, const bn_pool_warm *warm)
{
    pool->warm = warm ? *warm : (bn_pool_warm){0};
    if (pool->warm.n < 0 || pool->warm.n > BN_POOL_WARM_MAX)
        pool->warm.n = 0;
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
    pool->n = n;
    grain = grain > 0 ? grain : 1;
    int64_t units = (n + grain - 1) / grain;
    if (units > RANGE_MAX_UNITS) { /* coarser grains (still multiples of the asked one) so units fit a half word */
        grain *= (units + RANGE_MAX_UNITS - 1) / RANGE_MAX_UNITS;
        units = (n + grain - 1) / grain;
    }
    pool->grain = grain;
    const int T = pool->n_threads;
    for (int t = 0; t < T; t++)
        atomic_store_explicit(&pool->slots[t].range,
                              pack_range((uint32_t)(units * t / T), (uint32_t)(units * (t + 1) / T)),
                              memory_order_relaxed);
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
