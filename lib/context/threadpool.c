#include "context/threadpool.h"

#include <pthread.h>

#include "core/alloc.h"
#include "core/error.h"

struct bn_pool {
    int n_threads;
    pthread_t *workers;
    int n_started;
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    uint64_t generation; /* bumped for each job */
    int pending;         /* workers still running the current job */
    bool quit;
    bn_pool_fn fn;
    void *arg;
    int64_t n;
};

typedef struct worker_arg {
    bn_pool *pool;
    int index;
} worker_arg;

static void slice(int64_t n, int parts, int i, int64_t *begin, int64_t *end)
{
    *begin = n * i / parts;
    *end = n * (i + 1) / parts;
}

static void *worker_main(void *p)
{
    worker_arg *wa = p;
    bn_pool *pool = wa->pool;
    const int index = wa->index;
    bn_free(wa);
    uint64_t seen = 0;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->quit && pool->generation == seen)
            pthread_cond_wait(&pool->wake, &pool->lock);
        if (pool->quit)
            break;
        seen = pool->generation;
        bn_pool_fn fn = pool->fn;
        void *arg = pool->arg;
        int64_t begin, end;
        slice(pool->n, pool->n_threads, index, &begin, &end);
        pthread_mutex_unlock(&pool->lock);
        if (begin < end)
            fn(arg, begin, end, index);
        pthread_mutex_lock(&pool->lock);
        if (--pool->pending == 0)
            pthread_cond_signal(&pool->done);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

bitnet_status bn_pool_new(int n_threads, bn_pool **out)
{
    *out = NULL;
    bn_pool *pool = bn_calloc(1, sizeof *pool);
    if (!pool)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate the thread pool");
    pool->n_threads = n_threads;
    if (pthread_mutex_init(&pool->lock, NULL) != 0) {
        bn_free(pool);
        return bn_error(BITNET_ERR_INTERNAL, "cannot create the pool lock");
    }
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->done, NULL);
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
    pool->quit = true;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 1; i <= pool->n_started; i++)
        pthread_join(pool->workers[i], NULL);
    pthread_cond_destroy(&pool->wake);
    pthread_cond_destroy(&pool->done);
    pthread_mutex_destroy(&pool->lock);
    bn_free(pool->workers);
    bn_free(pool);
}

int bn_pool_threads(const bn_pool *pool)
{
    return pool->n_threads;
}

void bn_pool_run(bn_pool *pool, int64_t n, bn_pool_fn fn, void *arg)
{
    int64_t begin, end;
    if (pool->n_threads == 1 || n <= 1) {
        if (n > 0)
            fn(arg, 0, n, 0);
        return;
    }
    pthread_mutex_lock(&pool->lock);
    pool->fn = fn;
    pool->arg = arg;
    pool->n = n;
    pool->pending = pool->n_threads - 1;
    pool->generation++;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    slice(n, pool->n_threads, 0, &begin, &end);
    if (begin < end)
        fn(arg, begin, end, 0);
    pthread_mutex_lock(&pool->lock);
    while (pool->pending > 0)
        pthread_cond_wait(&pool->done, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
}
