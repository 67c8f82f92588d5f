/* Load-time repacking: TQ1_0 layer weights re-encoded as TQ2_0 (see
 * bn_model_repack in model_internal.h). The copies belong to the model and
 * are shared by its contexts. */
#include "core/alloc.h"
#include "core/log.h"
#include "model/arch.h"
#include "model/model_internal.h"
#include "quant/quant.h"

/* TQ2_0 bytes of one row of n elements (the trait table's sizes). */
static size_t tq2_row_bytes(int64_t n)
{
    return (size_t)bn_type_tensor_bytes(BITNET_TYPE_TQ2_0, n);
}

static void *repack_tensor(const bitnet_weights *w)
{
    const int64_t blocks_per_row = w->n / bn_type_traits_get(BITNET_TYPE_TQ1_0)->block_elems;
    if (w->row_bytes != (size_t)bn_type_tensor_bytes(BITNET_TYPE_TQ1_0, w->n) || !tq2_row_bytes(w->n))
        return NULL; /* not plain TQ1_0 rows: leave it */
    void *data = bn_malloc_weights(tq2_row_bytes(w->n) * (size_t)w->n_rows);
    if (data)
        bn_tq1_0_to_tq2_0(w->data, data, blocks_per_row * w->n_rows);
    return data;
}

/* Build every copy once, under head_lock. */
static void build_all(bitnet_model *m, const bn_arch_model *am)
{
    m->repack_tried = true;
    m->repacked = bn_calloc((size_t)m->gguf.n_tensors, sizeof *m->repacked);
    if (!m->repacked)
        return; /* no memory: run on the stored bytes */
    int64_t n = 0;
    for (int64_t l = 0; l < am->hp.n_layer; l++) {
        const bn_layer *L = &am->layers[l];
        const bn_linear *lin[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (int i = 0; i < 7; i++) {
            const bitnet_weights *w = &lin[i]->w;
            if (w->type != BITNET_TYPE_TQ1_0 || lin[i]->idx < 0 || lin[i]->idx >= m->gguf.n_tensors ||
                m->repacked[lin[i]->idx])
                continue;
            void *copy = repack_tensor(w);
            if (!copy)
                continue;
            m->repacked[lin[i]->idx] = copy;
            m->repacked_bytes += (uint64_t)tq2_row_bytes(w->n) * (uint64_t)w->n_rows;
            bn_model_release_pages(m, w->data, w->row_bytes * (size_t)w->n_rows);
            n++;
        }
    }
    if (n)
        bn_log(BITNET_LOG_INFO, "repacked %lld TQ1_0 tensors as TQ2_0 (%.1f MiB)", (long long)n,
               (double)m->repacked_bytes / (1024.0 * 1024.0));
}

void bn_model_repack(const bitnet_model *model, bn_arch_model *am)
{
    bitnet_model *m = (bitnet_model *)model; /* the copies are built once, under head_lock */
    if (!m->params.repack)
        return;
    pthread_mutex_lock(&m->head_lock);
    if (!m->repack_tried)
        build_all(m, am);
    for (int64_t l = 0; m->repacked && l < am->hp.n_layer; l++) {
        bn_layer *L = &am->layers[l];
        bn_linear *lin[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (int i = 0; i < 7; i++) {
            bitnet_weights *w = &lin[i]->w;
            if (w->type != BITNET_TYPE_TQ1_0 || lin[i]->idx < 0 || lin[i]->idx >= m->gguf.n_tensors ||
                !m->repacked[lin[i]->idx])
                continue;
            *w = (bitnet_weights){BITNET_TYPE_TQ2_0, m->repacked[lin[i]->idx], tq2_row_bytes(w->n), NULL, w->n,
                                  w->n_rows};
            lin[i]->repacked = true;
        }
    }
    pthread_mutex_unlock(&m->head_lock);
}
