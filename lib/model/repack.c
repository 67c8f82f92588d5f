/* Load-time repacking (see bn_model_repack in model_internal.h): TQ layer
 * weights re-encoded as I2_S when the tensor has one block scale, else
 * TQ1_0 as TQ2_0. The copies belong to the model and are shared by its
 * contexts.
 *
 * Why the results stay identical: the kernels sum each block's integer dot
 * product times its scale in double, and every such partial sum is exact
 * (an f16 scale times an int32); with one scale for the whole tensor that
 * is exactly the I2_S kernels' single product per row. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "model/arch.h"
#include "model/model_internal.h"
#include "quant/blocks.h"
#include "quant/quant.h"

enum { TQ_ELEMS = 256 };

/* Offset of the f16 scale in a block of a TQ type. */
static size_t scale_offset(uint32_t type)
{
    return type == BITNET_TYPE_TQ2_0 ? offsetof(bn_block_tq2_0, d) : offsetof(bn_block_tq1_0, d);
}

/* The scale every one of the n_blocks blocks has, if they agree and it is
 * finite. */
static bool common_scale(const uint8_t *blocks, int64_t n_blocks, size_t block_bytes, size_t d_off, float *scale)
{
    uint16_t first;
    memcpy(&first, blocks + d_off, sizeof first);
    for (int64_t b = 1; b < n_blocks; b++)
        if (memcmp(blocks + (size_t)b * block_bytes + d_off, &first, sizeof first) != 0)
            return false;
    *scale = bn_fp16_to_fp32(first);
    return isfinite(*scale);
}

/* TQ1_0 rows -> TQ2_0 rows (2 bits a code). */
static void *to_tq2(const bitnet_weights *w, bitnet_weights *out)
{
    const size_t rb = (size_t)bn_type_tensor_bytes(BITNET_TYPE_TQ2_0, w->n);
    uint8_t *data = bn_malloc_weights(rb * (size_t)w->n_rows);
    if (!data)
        return NULL;
    bn_tq1_0_to_tq2_0(w->data, data, w->n / TQ_ELEMS * w->n_rows);
    *out = (bitnet_weights){BITNET_TYPE_TQ2_0, data, rb, NULL, w->n, w->n_rows};
    return data;
}

/* TQ1_0 / TQ2_0 rows with one common scale -> I2_S rows and tail. TQ1_0
 * goes through TQ2_0 a row at a time (its trits are never code 3). */
static void *to_i2s(const bitnet_weights *w, float scale, bitnet_weights *out)
{
    const int64_t bpr = w->n / TQ_ELEMS;
    const size_t rb = (size_t)w->n / 4; /* 32 bytes per 128 elements */
    uint8_t *data = bn_malloc_weights(rb * (size_t)w->n_rows + BN_I2S_TAIL);
    uint8_t *row = w->type == BITNET_TYPE_TQ1_0 ? bn_malloc((size_t)bpr * sizeof(bn_block_tq2_0)) : NULL;
    if (!data || (w->type == BITNET_TYPE_TQ1_0 && !row)) {
        bn_free(data);
        bn_free(row);
        return NULL;
    }
    for (int64_t r = 0; r < w->n_rows; r++) {
        const uint8_t *src = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
        if (row) {
            bn_tq1_0_to_tq2_0(src, row, bpr);
            src = row;
        }
        bn_tq2_0_to_i2_s(src, data + (size_t)r * rb, bpr);
    }
    bn_free(row);
    uint8_t *tail = data + rb * (size_t)w->n_rows;
    memset(tail, 0, BN_I2S_TAIL);
    memcpy(tail, &scale, sizeof scale);
    *out = (bitnet_weights){BITNET_TYPE_I2_S, data, rb, tail, w->n, w->n_rows};
    return data;
}

/* The copy of one TQ tensor, or NULL (not eligible, or no memory). */
static void *repack_tensor(const bitnet_weights *w, bool int8_acts, bitnet_weights *out)
{
    if (w->n <= 0 || w->n % TQ_ELEMS != 0 || w->row_bytes != (size_t)bn_type_tensor_bytes(w->type, w->n))
        return NULL; /* not plain rows of whole blocks: leave it */
    const bn_type_traits *tr = bn_type_traits_get(w->type);
    const int64_t n_blocks = w->n / TQ_ELEMS * w->n_rows;
    float scale;
    /* I2_S results equal the TQ ones only on int8 activations (the float
     * kernels dequantize per block) and without TQ2_0's code 3 (+2 there, 0
     * in I2_S). */
    if (int8_acts && common_scale(w->data, n_blocks, tr->block_bytes, scale_offset(w->type), &scale) &&
        (w->type == BITNET_TYPE_TQ1_0 || !bn_tq2_0_has_code3(w->data, n_blocks)))
        return to_i2s(w, scale, out);
    return w->type == BITNET_TYPE_TQ1_0 ? to_tq2(w, out) : NULL;
}

static bool repackable(const bn_linear *lin, const bitnet_model *m)
{
    return (lin->w.type == BITNET_TYPE_TQ1_0 || lin->w.type == BITNET_TYPE_TQ2_0) && lin->idx >= 0 &&
           lin->idx < m->gguf.n_tensors;
}

/* Build every copy once, under head_lock. */
static void build_all(bitnet_model *m, const bn_arch_model *am)
{
    m->repack_tried = true;
    m->repacked = bn_calloc((size_t)m->gguf.n_tensors, sizeof *m->repacked);
    if (!m->repacked)
        return; /* no memory: run on the stored bytes */
    int64_t n_i2s = 0, n_tq2 = 0;
    for (int64_t l = 0; l < am->hp.n_layer; l++) {
        const bn_layer *L = &am->layers[l];
        const bn_linear *lin[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (int i = 0; i < 7; i++) {
            if (!repackable(lin[i], m) || m->repacked[lin[i]->idx].data)
                continue;
            const bitnet_weights *w = &lin[i]->w;
            bitnet_weights copy;
            if (!repack_tensor(w, am->hp.act_i8, &copy))
                continue;
            m->repacked[lin[i]->idx] = copy;
            m->repacked_bytes += (uint64_t)copy.row_bytes * (uint64_t)copy.n_rows + (copy.tail ? BN_I2S_TAIL : 0);
            m->repacked_source_bytes += (uint64_t)w->row_bytes * (uint64_t)w->n_rows;
            bn_model_release_pages(m, w->data, w->row_bytes * (size_t)w->n_rows);
            if (copy.type == BITNET_TYPE_I2_S)
                n_i2s++;
            else
                n_tq2++;
        }
    }
    if (n_i2s + n_tq2)
        bn_log(BITNET_LOG_INFO, "repacked %lld TQ tensors as I2_S and %lld TQ1_0 tensors as TQ2_0 (%.1f MiB)",
               (long long)n_i2s, (long long)n_tq2, (double)m->repacked_bytes / (1024.0 * 1024.0));
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
            if (!repackable(lin[i], m) || !m->repacked[lin[i]->idx].data)
                continue;
            lin[i]->w = m->repacked[lin[i]->idx];
            lin[i]->repacked = true;
        }
    }
    pthread_mutex_unlock(&m->head_lock);
}
