#include "store/store.h"

#include <pthread.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "store/dequant_range.h"

/* One cached tensor: its float32 dequantization. Pinned entries are being
 * copied out by a reader and are never evicted. */
typedef struct entry {
    int64_t idx;
    float *data;
    uint64_t bytes;
    int pins;
    bool prefetched; /* filled by the prefetcher, not used since */
    bool detached;   /* not in the cache (no room): freed on release */
    struct entry *newer, *older; /* LRU list: head is the most recently used */
} entry;

struct bn_store {
    pthread_mutex_t lock;
    uint64_t budget;
    uint64_t resident;
    int64_t n_tensors;
    entry **by_index; /* tensor index -> entry or NULL; NULL when budget is 0 */
    entry *mru, *lru;
    uint64_t hits, misses, evictions, entries;
    uint64_t prefetch_issued, prefetch_hits, peak;
};

bitnet_status bn_store_new(uint64_t budget, int64_t n_tensors, bn_store **out)
{
    *out = NULL;
    bn_store *s = bn_calloc(1, sizeof *s);
    if (!s)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate the weight store");
    if (budget > 0 && n_tensors > 0) {
        s->by_index = bn_calloc((size_t)n_tensors, sizeof *s->by_index);
        if (!s->by_index) {
            bn_free(s);
            return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate the cache index");
        }
    }
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        bn_free(s->by_index);
        bn_free(s);
        return bn_error(BITNET_ERR_INTERNAL, "cannot create the store lock");
    }
    s->budget = budget;
    s->n_tensors = n_tensors;
    *out = s;
    return BITNET_OK;
}

void bn_store_free(bn_store *s)
{
    if (!s)
        return;
    for (entry *e = s->mru; e;) {
        entry *next = e->older;
        bn_free(e->data);
        bn_free(e);
        e = next;
    }
    pthread_mutex_destroy(&s->lock);
    bn_free(s->by_index);
    bn_free(s);
}

/* --- LRU list, all under s->lock ---------------------------------------- */

static void unlink_entry(bn_store *s, entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        s->mru = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        s->lru = e->newer;
    e->newer = e->older = NULL;
}

static void push_front(bn_store *s, entry *e)
{
    e->older = s->mru;
    e->newer = NULL;
    if (s->mru)
        s->mru->newer = e;
    s->mru = e;
    if (!s->lru)
        s->lru = e;
}

/* Evict unpinned entries from the cold end until `need` more bytes fit. */
static int make_room(bn_store *s, uint64_t need, uint64_t *evicted)
{
    entry *e = s->lru;
    while (e && s->resident + need > s->budget) {
        entry *newer = e->newer;
        if (e->pins == 0) {
            unlink_entry(s, e);
            s->by_index[e->idx] = NULL;
            s->resident -= e->bytes;
            s->entries--;
            s->evictions++;
            if (evicted)
                ++*evicted;
            bn_free(e->data);
            bn_free(e);
        }
        e = newer;
    }
    return s->resident + need <= s->budget;
}

/* --- reads ---------------------------------------------------------------- */

static void copy_rows(const float *whole, const bn_gguf_tensor *t, int64_t r0, int64_t r1, bitnet_type dst_type,
                      void *dst)
{
    bn_convert_f32(whole + r0 * t->ne[0], (r1 - r0) * t->ne[0], dst_type, dst);
}

static void unpin(bn_store *s, entry *e)
{
    pthread_mutex_lock(&s->lock);
    e->pins--;
    pthread_mutex_unlock(&s->lock);
}

/* Pinned cache entry for tensor idx, or NULL on a miss (counted). */
static entry *lookup(bn_store *s, int64_t idx)
{
    pthread_mutex_lock(&s->lock);
    entry *e = s->by_index[idx];
    if (e) {
        e->pins++;
        s->hits++;
        unlink_entry(s, e);
        push_front(s, e);
    } else {
        s->misses++;
    }
    pthread_mutex_unlock(&s->lock);
    return e;
}

/* Insert a freshly dequantized tensor. Returns the pinned entry to read from
 * (ours, or one another thread inserted meanwhile), or NULL when it cannot be
 * cached within the budget; `whole` is then still the caller's. */
static entry *insert(bn_store *s, int64_t idx, float **whole, uint64_t bytes)
{
    entry *fresh = bn_malloc(sizeof *fresh);
    pthread_mutex_lock(&s->lock);
    entry *e = s->by_index[idx];
    if (e) { /* lost a race: keep the existing copy */
        e->pins++;
        bn_free(*whole);
        *whole = NULL;
    } else if (fresh && make_room(s, bytes, NULL)) {
        e = fresh;
        fresh = NULL;
        e->idx = idx;
        e->data = *whole;
        e->bytes = bytes;
        e->pins = 1;
        e->prefetched = e->detached = false;
        push_front(s, e);
        s->by_index[idx] = e;
        s->resident += bytes;
        s->entries++;
        if (s->resident > s->peak)
            s->peak = s->resident;
        *whole = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    bn_free(fresh);
    return e;
}

bitnet_status bn_store_read(bn_store *s, const bn_gguf_tensor *t, int64_t idx, int64_t r0, int64_t r1,
                            bitnet_type dst_type, void *dst)
{
    const bn_type_traits *tr = bn_type_traits_get(t->type);
    if (!tr || !tr->dequantize_row)
        return bn_error(BITNET_ERR_UNSUPPORTED, "tensor '%s' has type %s (id %u), which this build cannot read",
                        t->name, tr ? tr->name : "unknown", t->type);
    uint64_t whole_bytes = (uint64_t)t->n_elements * sizeof(float);
    /* F32 needs no dequantization, and a tensor larger than the budget could
     * never stay: both are read straight from the mapping. */
    if (!s->by_index || t->type == BITNET_TYPE_F32 || whole_bytes > s->budget) {
        if (s->by_index && t->type != BITNET_TYPE_F32) { /* too big to cache: still a miss */
            pthread_mutex_lock(&s->lock);
            s->misses++;
            pthread_mutex_unlock(&s->lock);
        }
        bn_dequant_rows(t, tr, r0, r1, dst_type, dst);
        return BITNET_OK;
    }
    entry *e = lookup(s, idx);
    if (!e) {
        float *whole = bn_malloc((size_t)whole_bytes);
        if (!whole) { /* no memory to cache: still serve the read */
            bn_dequant_rows(t, tr, r0, r1, dst_type, dst);
            return BITNET_OK;
        }
        tr->dequantize_row(t->data, whole, t->n_elements,
                           tr->tail_bytes ? t->data + t->n_bytes - (uint64_t)tr->tail_bytes : NULL);
        e = insert(s, idx, &whole, whole_bytes);
        if (!e) {
            copy_rows(whole, t, r0, r1, dst_type, dst);
            bn_free(whole);
            return BITNET_OK;
        }
    }
    copy_rows(e->data, t, r0, r1, dst_type, dst);
    unpin(s, e);
    return BITNET_OK;
}

void bn_store_get_stats(bn_store *s, bitnet_store_stats *out)
{
    pthread_mutex_lock(&s->lock);
    out->hits = s->hits;
    out->misses = s->misses;
    out->evictions = s->evictions;
    out->bytes_resident = s->resident;
    out->bytes_budget = s->budget;
    out->entries = s->entries;
    out->prefetch_issued = s->prefetch_issued;
    out->prefetch_hits = s->prefetch_hits;
    out->bytes_peak = s->peak;
    pthread_mutex_unlock(&s->lock);
}

bool bn_store_enabled(const bn_store *s)
{
    return s->by_index != NULL;
}

uint64_t bn_store_budget(const bn_store *s)
{
    return s->budget;
}

/* --- whole tensors for compute (pinned) and prefetch ----------------------- */

bitnet_status bn_store_acquire_f32(bn_store *s, const bn_gguf_tensor *t, int64_t idx, bn_store_fill_fn fill,
                                   void *fill_arg, const float **data, void **pin, bn_store_counters *c)
{
    *data = NULL;
    *pin = NULL;
    pthread_mutex_lock(&s->lock);
    entry *e = s->by_index ? s->by_index[idx] : NULL;
    if (e) {
        e->pins++;
        s->hits++;
        if (c)
            c->hits++;
        if (e->prefetched) {
            e->prefetched = false;
            s->prefetch_hits++;
            if (c)
                c->prefetch_hits++;
        }
        unlink_entry(s, e);
        push_front(s, e);
        pthread_mutex_unlock(&s->lock);
        *data = e->data, *pin = e;
        return BITNET_OK;
    }
    s->misses++;
    if (c)
        c->misses++;
    pthread_mutex_unlock(&s->lock);

    const uint64_t bytes = (uint64_t)t->n_elements * sizeof(float);
    entry *fresh = bn_malloc(sizeof *fresh);
    float *whole = fresh && bytes <= SIZE_MAX ? bn_malloc((size_t)bytes) : NULL;
    if (!whole) {
        bn_free(fresh);
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate %llu bytes to dequantize '%s'",
                        (unsigned long long)bytes, t->name);
    }
    fill(fill_arg, t, whole);
    memset(fresh, 0, sizeof *fresh);
    fresh->idx = idx, fresh->data = whole, fresh->bytes = bytes, fresh->pins = 1;

    pthread_mutex_lock(&s->lock);
    e = s->by_index ? s->by_index[idx] : NULL;
    uint64_t evicted = 0;
    if (e) { /* another context inserted it meanwhile: use theirs */
        e->pins++;
        pthread_mutex_unlock(&s->lock);
        bn_free(whole);
        bn_free(fresh);
        *data = e->data, *pin = e;
        return BITNET_OK;
    }
    if (s->by_index && make_room(s, bytes, &evicted)) {
        push_front(s, fresh);
        s->by_index[idx] = fresh;
        s->resident += bytes;
        s->entries++;
        if (s->resident > s->peak)
            s->peak = s->resident;
    } else {
        fresh->detached = true;
    }
    pthread_mutex_unlock(&s->lock);
    if (c)
        c->evictions += evicted;
    *data = whole, *pin = fresh;
    return BITNET_OK;
}

void bn_store_release(bn_store *s, void *pin)
{
    entry *e = pin;
    if (!e)
        return;
    if (e->detached) {
        bn_free(e->data);
        bn_free(e);
        return;
    }
    unpin(s, e);
}

static void fill_serial(void *arg, const bn_gguf_tensor *t, float *out)
{
    (void)arg;
    const bn_type_traits *tr = bn_type_traits_get(t->type);
    tr->dequantize_row(t->data, out, t->n_elements,
                       tr->tail_bytes ? t->data + t->n_bytes - (uint64_t)tr->tail_bytes : NULL);
}

void bn_store_prefetch(bn_store *s, const bn_gguf_tensor *t, int64_t idx)
{
    const bn_type_traits *tr = bn_type_traits_get(t->type);
    const uint64_t bytes = (uint64_t)t->n_elements * sizeof(float);
    if (!s->by_index || !tr || !tr->dequantize_row || t->type == BITNET_TYPE_F32)
        return;
    pthread_mutex_lock(&s->lock);
    /* only into free room: prefetching must not push out what runs now */
    const bool skip = s->by_index[idx] || s->resident + bytes > s->budget;
    pthread_mutex_unlock(&s->lock);
    if (skip)
        return;
    entry *fresh = bn_malloc(sizeof *fresh);
    float *whole = fresh ? bn_malloc((size_t)bytes) : NULL;
    if (!whole) {
        bn_free(fresh);
        return;
    }
    fill_serial(NULL, t, whole);
    memset(fresh, 0, sizeof *fresh);
    fresh->idx = idx, fresh->data = whole, fresh->bytes = bytes, fresh->prefetched = true;
    pthread_mutex_lock(&s->lock);
    const bool fits = !s->by_index[idx] && s->resident + bytes <= s->budget;
    if (fits) {
        push_front(s, fresh);
        s->by_index[idx] = fresh;
        s->resident += bytes;
        s->entries++;
        if (s->resident > s->peak)
            s->peak = s->resident;
    }
    pthread_mutex_unlock(&s->lock);
    if (!fits) {
        bn_free(whole);
        bn_free(fresh);
    }
}

void bn_store_note_prefetch(bn_store *s)
{
    pthread_mutex_lock(&s->lock);
    s->prefetch_issued++;
    pthread_mutex_unlock(&s->lock);
}
