/* Load-time repacking (see bn_model_repack in model_internal.h): TQ layer
 * weights re-encoded as I2_S when the tensor has one block scale, else
 * TQ1_0 as TQ2_0; I2_S layer weights copied as they are. The copies belong
 * to the model, live in one huge-page-backed allocation and are shared by
 * its contexts.
 *
 * Why copy I2_S at all: a mapped file's page cache keeps the folio sizes of
 * whoever read it first (a file just written or copied, or first read by a
 * process without MADV_HUGEPAGE, sits in small folios), and decode reading
 * weights through 4 KiB pages ran up to 30% slower here than through 2 MiB
 * ones. The copy does not depend on that, and every tensor in it starts on
 * a cache line (in a GGUF file every other I2_S tensor starts 32 bytes
 * into one).
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

/* What one linear's copy is, decided before anything is allocated. */
typedef enum copy_kind {
    COPY_NONE,
    COPY_TQ_AS_I2S,  /* TQ1_0/TQ2_0 with one scale: I2_S rows and tail */
    COPY_TQ1_AS_TQ2, /* TQ1_0: TQ2_0 rows */
    COPY_I2S,        /* I2_S as stored: the same bytes, aligned and in huge pages */
} copy_kind;

typedef struct copy_plan {
    copy_kind kind;
    float scale; /* COPY_TQ_AS_I2S */
    size_t bytes;
} copy_plan;

static copy_plan plan_copy(const bitnet_weights *w, bool int8_acts)
{
    copy_plan none = {COPY_NONE, 0.0f, 0};
    if (w->type == BITNET_TYPE_I2_S) {
        if (w->n <= 0 || w->n % 4 != 0 || w->row_bytes != (size_t)w->n / 4 || !w->tail)
            return none;
        return (copy_plan){COPY_I2S, 0.0f, w->row_bytes * (size_t)w->n_rows + BN_I2S_TAIL};
    }
    if (w->n <= 0 || w->n % TQ_ELEMS != 0 || w->row_bytes != (size_t)bn_type_tensor_bytes(w->type, w->n))
        return none; /* not plain rows of whole blocks: leave it */
    const bn_type_traits *tr = bn_type_traits_get(w->type);
    const int64_t n_blocks = w->n / TQ_ELEMS * w->n_rows;
    float scale;
    /* I2_S results equal the TQ ones only on int8 activations (the float
     * kernels dequantize per block) and without TQ2_0's code 3 (+2 there, 0
     * in I2_S). */
    if (int8_acts && common_scale(w->data, n_blocks, tr->block_bytes, scale_offset(w->type), &scale) &&
        (w->type == BITNET_TYPE_TQ1_0 || !bn_tq2_0_has_code3(w->data, n_blocks)))
        return (copy_plan){COPY_TQ_AS_I2S, scale, (size_t)w->n / 4 * (size_t)w->n_rows + BN_I2S_TAIL};
    if (w->type == BITNET_TYPE_TQ1_0)
        return (copy_plan){COPY_TQ1_AS_TQ2, 0.0f, (size_t)bn_type_tensor_bytes(BITNET_TYPE_TQ2_0, w->n) * (size_t)w->n_rows};
    return none;
}

/* Writes the copy planned for w at dst (plan.bytes); `row` is scratch for
 * one TQ2_0 row (TQ1_0 as I2_S only). */
static bitnet_weights fill_copy(const bitnet_weights *w, const copy_plan *plan, uint8_t *dst, uint8_t *row)
{
    const int64_t bpr = w->n / TQ_ELEMS;
    if (plan->kind == COPY_I2S) {
        const size_t rows = w->row_bytes * (size_t)w->n_rows;
        memcpy(dst, w->data, rows);
        memcpy(dst + rows, w->tail, BN_I2S_TAIL);
        return (bitnet_weights){BITNET_TYPE_I2_S, dst, w->row_bytes, dst + rows, w->n, w->n_rows};
    }
    if (plan->kind == COPY_TQ1_AS_TQ2) {
        bn_tq1_0_to_tq2_0(w->data, dst, bpr * w->n_rows);
        return (bitnet_weights){BITNET_TYPE_TQ2_0, dst, (size_t)bn_type_tensor_bytes(BITNET_TYPE_TQ2_0, w->n), NULL,
                                w->n, w->n_rows};
    }
    /* TQ as I2_S: TQ1_0 goes through TQ2_0 a row at a time (its trits are
     * never code 3) */
    const size_t rb = (size_t)w->n / 4; /* 32 bytes per 128 elements */
    for (int64_t r = 0; r < w->n_rows; r++) {
        const uint8_t *src = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
        if (w->type == BITNET_TYPE_TQ1_0) {
            bn_tq1_0_to_tq2_0(src, row, bpr);
            src = row;
        }
        bn_tq2_0_to_i2_s(src, dst + (size_t)r * rb, bpr);
    }
    uint8_t *tail = dst + rb * (size_t)w->n_rows;
    memset(tail, 0, BN_I2S_TAIL);
    memcpy(tail, &plan->scale, sizeof plan->scale);
    return (bitnet_weights){BITNET_TYPE_I2_S, dst, rb, tail, w->n, w->n_rows};
}

static bool repackable(const bn_linear *lin, const bitnet_model *m)
{
    return (lin->w.type == BITNET_TYPE_TQ1_0 || lin->w.type == BITNET_TYPE_TQ2_0 || lin->w.type == BITNET_TYPE_I2_S) &&
           lin->idx >= 0 && lin->idx < m->gguf.n_tensors;
}

#define SLOT_ALIGN 64 /* every copy starts on a cache line */

static size_t slot_bytes(size_t bytes)
{
    return (bytes + SLOT_ALIGN - 1) & ~(size_t)(SLOT_ALIGN - 1);
}

/* Build every copy once, under head_lock: plan them all, then fill one
 * allocation (2 MiB aligned, huge pages where the system gives them), so
 * small tensors do not land in 4 KiB pages at arbitrary phases. */
static void build_all(bitnet_model *m, const bn_arch_model *am)
{
    m->repack_tried = true;
    const size_t n_t = (size_t)m->gguf.n_tensors;
    copy_plan *plans = bn_calloc(n_t ? n_t : 1, sizeof *plans);
    m->repacked = bn_calloc(n_t ? n_t : 1, sizeof *m->repacked);
    size_t total = 0, max_row = 0;
    for (int64_t l = 0; plans && m->repacked && l < am->hp.n_layer; l++) {
        const bn_layer *L = &am->layers[l];
        const bn_linear *lin[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (int i = 0; i < 7; i++) {
            if (!repackable(lin[i], m) || plans[lin[i]->idx].kind != COPY_NONE)
                continue;
            const copy_plan plan = plans[lin[i]->idx] = plan_copy(&lin[i]->w, am->hp.act_i8);
            total += slot_bytes(plan.bytes);
            if (plan.kind == COPY_TQ_AS_I2S && lin[i]->w.type == BITNET_TYPE_TQ1_0) { /* goes through a TQ2_0 row */
                const size_t rb = (size_t)(lin[i]->w.n / TQ_ELEMS) * sizeof(bn_block_tq2_0);
                max_row = rb > max_row ? rb : max_row;
            }
        }
    }
    uint8_t *arena = plans && m->repacked && total ? bn_malloc_weights(total) : NULL;
    uint8_t *row = arena ? bn_malloc(max_row ? max_row : 1) : NULL;
    if (!row) { /* nothing to copy, or no memory: run on the stored bytes */
        bn_free(arena);
        bn_free(plans);
        bn_free(m->repacked);
        m->repacked = NULL;
        return;
    }
    m->repack_arena = arena;
    int64_t counts[4] = {0};
    size_t at = 0;
    for (int64_t l = 0; l < am->hp.n_layer; l++) {
        const bn_layer *L = &am->layers[l];
        const bn_linear *lin[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (int i = 0; i < 7; i++) {
            const copy_plan *plan = repackable(lin[i], m) ? &plans[lin[i]->idx] : NULL;
            if (!plan || plan->kind == COPY_NONE || m->repacked[lin[i]->idx].data)
                continue;
            const bitnet_weights *w = &lin[i]->w;
            m->repacked[lin[i]->idx] = fill_copy(w, plan, arena + at, row);
            at += slot_bytes(plan->bytes);
            m->repacked_bytes += plan->bytes;
            m->repacked_source_bytes += (uint64_t)w->row_bytes * (uint64_t)w->n_rows;
            bn_model_release_pages(m, w->data, w->row_bytes * (size_t)w->n_rows);
            counts[plan->kind]++;
        }
    }
    bn_free(row);
    bn_free(plans);
    bn_log(BITNET_LOG_INFO,
           "repacked %lld TQ tensors as I2_S and %lld TQ1_0 tensors as TQ2_0, copied %lld I2_S tensors (%.1f MiB)",
           (long long)counts[COPY_TQ_AS_I2S], (long long)counts[COPY_TQ1_AS_TQ2], (long long)counts[COPY_I2S],
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
            if (!repackable(lin[i], m) || !m->repacked[lin[i]->idx].data)
                continue;
            lin[i]->w = m->repacked[lin[i]->idx];
            lin[i]->repacked = true;
        }
    }
    pthread_mutex_unlock(&m->head_lock);
}
