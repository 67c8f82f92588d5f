#include "store/prefetch.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/alloc.h"

/* Enough for a few layers of requests from several contexts. */
#define QUEUE_CAP 256

struct bn_prefetcher {
    bn_store *store;
    pthread_mutex_t lock;
    pthread_cond_t wake, idle;
    bn_prefetch_item queue[QUEUE_CAP];
    int head, count;
    bool started, failed, stop, busy;
    pthread_t thread;
};

static void advise(const bn_gguf_tensor *t)
{
    if (!t->data || !t->n_bytes)
        return;
    const long page = sysconf(_SC_PAGESIZE);
    const uintptr_t mask = (uintptr_t)(page > 0 ? page : 4096) - 1;
    const uintptr_t begin = (uintptr_t)t->data & ~mask;
    const uintptr_t end = (uintptr_t)t->data + (uintptr_t)t->n_bytes;
    /* Populating the page tables (Linux 5.14+) also spares the compute
     * threads the page faults, which cost more than the reads when the file
     * is in the host's cache; WILLNEED (read-ahead only) where it is
     * missing. A hint either way: errors change nothing. */
#ifdef MADV_POPULATE_READ
    if (madvise((void *)begin, end - begin, MADV_POPULATE_READ) == 0)
        return;
#endif
    (void)madvise((void *)begin, end - begin, MADV_WILLNEED);
}

static void *worker(void *arg)
{
    bn_prefetcher *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->count && !p->stop) {
            p->busy = false;
            pthread_cond_broadcast(&p->idle);
            pthread_cond_wait(&p->wake, &p->lock);
        }
        if (p->stop)
            break;
        bn_prefetch_item it = p->queue[p->head];
        p->head = (p->head + 1) % QUEUE_CAP;
        p->count--;
        p->busy = true;
        pthread_mutex_unlock(&p->lock);
        if (it.advise)
            advise(it.t);
        if (it.dequant)
            bn_store_prefetch(p->store, it.t, it.idx);
        pthread_mutex_lock(&p->lock);
    }
    p->busy = false;
    pthread_cond_broadcast(&p->idle);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

bn_prefetcher *bn_prefetcher_new(bn_store *store)
{
    bn_prefetcher *p = bn_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->store = store;
    if (pthread_mutex_init(&p->lock, NULL)) {
        bn_free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->wake, NULL)) {
        pthread_mutex_destroy(&p->lock);
        bn_free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->idle, NULL)) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        bn_free(p);
        return NULL;
    }
    return p;
}

void bn_prefetcher_free(bn_prefetcher *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->wake);
    const bool join = p->started;
    pthread_mutex_unlock(&p->lock);
    if (join)
        pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->idle);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    bn_free(p);
}

void bn_prefetcher_request(bn_prefetcher *p, const bn_prefetch_item *items, int n)
{
    if (!p || n <= 0)
        return;
    pthread_mutex_lock(&p->lock);
    if (!p->started && !p->failed && !p->stop) {
        if (pthread_create(&p->thread, NULL, worker, p) == 0)
            p->started = true;
        else
            p->failed = true; /* no thread: run without prefetch */
    }
    if (p->started && !p->stop) {
        for (int i = 0; i < n && p->count < QUEUE_CAP; i++) {
            p->queue[(p->head + p->count) % QUEUE_CAP] = items[i];
            p->count++;
            bn_store_note_prefetch(p->store);
        }
        pthread_cond_signal(&p->wake);
    }
    pthread_mutex_unlock(&p->lock);
}

void bn_prefetcher_drain(bn_prefetcher *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    while (p->started && (p->count || p->busy))
        pthread_cond_wait(&p->idle, &p->lock);
    pthread_mutex_unlock(&p->lock);
}
