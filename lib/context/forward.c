/* The forward pass: a batch of tokens through every layer, top to bottom.
 *
 * Cost: the matrix products dominate (bytes of weights read per token in
 * decode, arithmetic in prefill); they are split by output rows over the
 * thread pool. Attention is split by (token, head). Norms, RoPE and
 * activation quantization are linear in the width and run on the caller. */
#include <math.h>
#include <string.h>

#include "context/blas.h"
#include "context/context_internal.h"
#include "core/alloc.h"
#include "model/model_internal.h"
#include "quant/quant.h"
#include "store/dequant_range.h"

/* ---- matrix products over the pool ------------------------------------ */

/* Up to three matrices with the same input in one pool run (q/k/v,
 * gate/up): rows [start[k], start[k+1]) of the run are matrix k's. One
 * dispatch instead of three saves the barriers and lets the chunks stream
 * on across the matrices (adjacent in the file). */
#define MAX_PARTS 3

typedef struct matmul_job {
    bitnet_context *c;
    const bitnet_weights *w[MAX_PARTS];
    float *y[MAX_PARTS];
    int64_t start[MAX_PARTS + 1];
    int n_parts;
    const float *x;    /* float activations, or NULL with xq */
    const int8_t *xq;  /* W1.58A8: int8 activations and their scales */
    const float *xscale;
    int64_t n_batch;
} matmul_job;

/* Rows per chunk: the kernels' 16-row decode tiles, and in prefill their
 * 64-row blocks (a block stays in cache while the batch passes over it). */
static int64_t matmul_grain(int64_t n_batch)
{
    return n_batch < 4 ? 16 : 64;
}

static void matmul_task(void *arg, int64_t r0, int64_t r1, int thread)
{
    const matmul_job *j = arg;
    bitnet_context *c = j->c;
    void *scratch = c->thread_scratch + (size_t)thread * c->thread_scratch_bytes;
    for (int k = 0; k < j->n_parts; k++) {
        const int64_t a = r0 > j->start[k] ? r0 : j->start[k], b = r1 < j->start[k + 1] ? r1 : j->start[k + 1];
        if (a >= b)
            continue;
        const bitnet_weights *w = j->w[k];
        const int64_t lo = a - j->start[k], hi = b - j->start[k];
        if (j->xq)
            bn_kernels_matmul_i8(&c->kern, w, j->xq, w->n, j->xscale, j->n_batch, j->y[k], w->n_rows, lo, hi,
                                 scratch);
        else
            bn_kernels_matmul_f32(&c->kern, w, j->x, w->n, j->n_batch, j->y[k], w->n_rows, lo, hi, scratch);
    }
}

static matmul_job one_matrix(bitnet_context *c, const bitnet_weights *w, const float *x, int64_t T, float *y)
{
    return (matmul_job){.c = c, .w = {w}, .y = {y}, .start = {0, w->n_rows}, .n_parts = 1, .x = x, .n_batch = T};
}

/* ---- what the caller reads next --------------------------------------- */

/* Between pool runs the caller alone runs the small steps (norms, RoPE, the
 * KV store, adds). In decode their vectors have been pushed out of its cache
 * by the run's weight streams, or were just written by another thread, and
 * the norm weights were last read a token ago: every line was a miss (~25 us
 * a layer). So the caller prefetches them once it has no chunk left to
 * claim in the run before, while it waits for the other threads anyway. */
#define NEXT_MAX 6
#define NEXT_CAP ((size_t)64 << 10) /* bytes per range: decode's vectors */

typedef struct next_reads {
    const void *p[NEXT_MAX];
    size_t bytes[NEXT_MAX];
    bool write[NEXT_MAX];
    int n;
    bn_pool_warm warm; /* the next product's weights, for the workers */
} next_reads;

static void next_add(next_reads *r, const void *p, size_t bytes, bool write)
{
    if (!p || r->n == NEXT_MAX)
        return;
    r->p[r->n] = p;
    r->bytes[r->n] = bytes < NEXT_CAP ? bytes : NEXT_CAP;
    r->write[r->n++] = write;
}

/* In decode the caller then runs the small steps alone, and the memory bus
 * would idle: the workers meanwhile prefetch the start of their shares of
 * the next product's weights (bn_pool_set_warm). A few hundred KiB each: as
 * much as such a gap streams, and within a core's L2. */
#define WARM_CAP ((size_t)256 << 10)

static void warm_add(next_reads *r, const bitnet_weights *w, int64_t T)
{
    if (T >= 4 || r->warm.n == BN_POOL_WARM_MAX) /* prefill: the workers are rarely idle */
        return;
    r->warm.p[r->warm.n] = w->data;
    r->warm.bytes[r->warm.n++] = w->row_bytes * (size_t)w->n_rows;
}

static void prefetch_next(void *arg)
{
    const next_reads *r = arg;
    for (int i = 0; i < r->n; i++) {
        const char *p = r->p[i];
        for (size_t o = 0; o < r->bytes[i]; o += 64) {
            if (r->write[i])
                __builtin_prefetch(p + o, 1, 3);
            else
                __builtin_prefetch(p + o, 0, 3);
        }
    }
}

static void run_then_prefetch(bitnet_context *c, int64_t n, int64_t grain, bn_pool_fn fn, void *arg,
                              next_reads *next)
{
    bn_pool_warm warm = next ? next->warm : (bn_pool_warm){0};
    warm.cap = WARM_CAP;
    bn_pool_set_warm(c->pool, &warm);
    bn_pool_run_idle(c->pool, n, grain, fn, arg, next && next->n ? prefetch_next : NULL, next);
}

/* ---- prefill through OpenBLAS ------------------------------------------ */

/* Batches this large run float layers through sgemm. */
static bool blas_applies(const bitnet_context *c, int64_t T)
{
    return !c->am.hp.act_i8 && bn_blas_available() && c->params.blas_min_batch != 0 &&
           T >= c->params.blas_min_batch;
}

typedef struct dequant_job {
    const bitnet_weights *w;
    float *out;
} dequant_job;

#define DEQUANT_GRAIN 16

static void dequant_task(void *arg, int64_t r0, int64_t r1, int thread)
{
    (void)thread;
    const dequant_job *j = arg;
    const bn_type_traits *tr = bn_type_traits_get(j->w->type);
    for (int64_t r = r0; r < r1; r++)
        tr->dequantize_row((const uint8_t *)j->w->data + (size_t)r * j->w->row_bytes, j->out + r * j->w->n, j->w->n,
                           j->w->tail);
}

static void fill_pool(void *arg, const bn_gguf_tensor *t, float *out)
{
    bitnet_context *c = arg;
    (void)t;
    dequant_job j = {c->blas_fill_w, out};
    bn_pool_run(c->pool, c->blas_fill_w->n_rows, DEQUANT_GRAIN, dequant_task, &j);
}

/* Float-activation product of a large batch with sgemm: F32 weights in
 * place; others dequantized (split over the pool) into the model's weight
 * cache when it has a budget (shared by contexts, LRU under cache_bytes),
 * else into the context's reused buffer. Returns false when it does not
 * apply. */
static bool linear_blas(bitnet_context *c, const bn_linear *L, const float *x, int64_t T, float *y)
{
    if (!blas_applies(c, T))
        return false;
    const bitnet_weights *w = &L->w;
    const float *wf = w->data;
    void *pin = NULL;
    bn_store *store = c->model->store;
    if (w->type != BITNET_TYPE_F32 && bn_store_enabled(store)) {
        bn_store_counters n = {0};
        c->blas_fill_w = w;
        if (bn_store_acquire_f32(store, L->t, L->idx, fill_pool, c, &wf, &pin, &n))
            return false; /* no memory for the copy: the kernels still work */
        c->stats.cache_hits += n.hits, c->stats.cache_misses += n.misses;
        c->stats.cache_evictions += n.evictions, c->stats.prefetch_hits += n.prefetch_hits;
    } else if (w->type != BITNET_TYPE_F32) {
        size_t need = (size_t)w->n * (size_t)w->n_rows;
        if (need > c->blas_w_cap) {
            float *grown = bn_realloc(c->blas_w, need * sizeof(float));
            if (!grown)
                return false; /* no memory for the copy: the kernels still work */
            c->blas_w = grown;
            c->blas_w_cap = need;
        }
        dequant_job j = {w, c->blas_w};
        bn_pool_run(c->pool, w->n_rows, DEQUANT_GRAIN, dequant_task, &j);
        wf = c->blas_w;
    }
    bn_blas_sgemm(x, T, w->n, wf, w->n_rows, y, w->n_rows);
    bn_store_release(store, pin);
    return true;
}

/* y[T][rows] = scale * W x[T][n]. For W1.58A8 layers, `x` must already be
 * quantized into c->xq / c->xscale (quantize_input), so q/k/v and gate/up
 * share it. */
static void apply_scale(const bn_linear *L, int64_t T, float *y)
{
    if (L->scale != 1.0f)
        for (int64_t i = 0; i < T * L->w.n_rows; i++)
            y[i] *= L->scale;
}

static void linear(bitnet_context *c, const bn_linear *L, const float *x, int64_t T, float *y, next_reads *next)
{
    matmul_job j = one_matrix(c, &L->w, x, T, y);
    if (!c->am.hp.act_i8 && linear_blas(c, L, x, T, y)) {
        j.n_batch = 0; /* done */
    } else if (c->am.hp.act_i8) {
        j.x = NULL;
        j.xq = c->xq;
        j.xscale = c->xscale;
    }
    if (j.n_batch)
        run_then_prefetch(c, L->w.n_rows, matmul_grain(T), matmul_task, &j, next);
    apply_scale(L, T, y);
}

/* Several W1.58A8 linears of the same quantized input in one pool run;
 * float-activation layers (which may go through sgemm) one by one. */
static void linears(bitnet_context *c, const bn_linear *const *L, float *const *y, int n, const float *x, int64_t T,
                    next_reads *next)
{
    if (!c->am.hp.act_i8) {
        for (int k = 0; k < n; k++) {
            next_reads between = {0};
            if (k + 1 < n)
                warm_add(&between, &L[k + 1]->w, T);
            linear(c, L[k], x, T, y[k], k == n - 1 ? next : &between);
        }
        return;
    }
    matmul_job j = {.c = c, .n_parts = n, .xq = c->xq, .xscale = c->xscale, .n_batch = T};
    int64_t grain = matmul_grain(T);
    for (int k = 0; k < n; k++) {
        j.w[k] = &L[k]->w;
        j.y[k] = y[k];
        j.start[k + 1] = j.start[k] + L[k]->w.n_rows;
        if (L[k]->w.n_rows % grain)
            grain = 1; /* chunks must not straddle a matrix's last tile oddly */
    }
    run_then_prefetch(c, j.start[n], grain, matmul_task, &j, next);
    for (int k = 0; k < n; k++)
        apply_scale(L[k], T, y[k]);
}

/* Per-token absmax int8 quantization of T rows of n (W1.58A8 layers only). */
static void quantize_input(bitnet_context *c, const float *x, int64_t n, int64_t T)
{
    if (!c->am.hp.act_i8)
        return;
    for (int64_t t = 0; t < T; t++)
        c->kern.k.quantize_i8(x + t * n, n, c->xq + t * n, &c->xscale[t]);
}

static void rmsnorm_rows(bitnet_context *c, const float *x, const float *w, int64_t n, int64_t T, float *y)
{
    for (int64_t t = 0; t < T; t++)
        c->kern.k.rmsnorm(x + t * n, w, n, c->am.hp.norm_eps, y + t * n);
}

/* ---- attention ---------------------------------------------------------- */

typedef struct attention_job {
    bitnet_context *c;
    int64_t layer;
} attention_job;

static void *kv_row(const bitnet_context *c, void *cache, int64_t pos)
{
    const bn_hparams *hp = &c->am.hp;
    return (uint8_t *)cache + (size_t)pos * (size_t)(hp->n_head_kv * hp->head_dim) * c->kv_elem;
}

/* Items are (token t, head h) pairs; token t sees positions 0..n_past+t. */
static void attention_task(void *arg, int64_t begin, int64_t end, int thread)
{
    const attention_job *j = arg;
    bitnet_context *c = j->c;
    const bn_hparams *hp = &c->am.hp;
    const int64_t hd = hp->head_dim, group = hp->n_head / hp->n_head_kv;
    float *scores = (float *)(c->thread_scratch + (size_t)thread * c->thread_scratch_bytes);
    const float scale = (float)(1.0 / sqrt((double)hd));
    for (int64_t i = begin; i < end; i++) {
        const int64_t t = i / hp->n_head, h = i % hp->n_head, kvh = h / group;
        const size_t off = (size_t)(kvh * hd) * c->kv_elem;
        c->kern.k.attention(c->q + t * hp->n_embd + h * hd, (uint8_t *)c->k_cache[j->layer] + off,
                            (uint8_t *)c->v_cache[j->layer] + off, c->params.kv_type, hp->n_head_kv * hd,
                            c->n_past + t + 1, hd, scale, c->att + t * hp->n_embd + h * hd, scores);
    }
}

/* RoPE on q and k, then k and v appended to the layer's cache. */
static void rope_and_cache(bitnet_context *c, int64_t layer, int64_t T)
{
    const bn_hparams *hp = &c->am.hp;
    const int64_t kv_dim = hp->n_head_kv * hp->head_dim;
    for (int64_t t = 0; t < T; t++) {
        const int32_t pos = c->n_past + (int32_t)t;
        c->kern.k.rope(c->q + t * hp->n_embd, hp->n_head, hp->head_dim, hp->n_rot, pos, hp->rope_base,
                       hp->rope_neox);
        c->kern.k.rope(c->k + t * kv_dim, hp->n_head_kv, hp->head_dim, hp->n_rot, pos, hp->rope_base,
                       hp->rope_neox);
        if (c->params.kv_type == BITNET_TYPE_F16) {
            c->kern.store_f16(c->k + t * kv_dim, kv_dim, kv_row(c, c->k_cache[layer], pos));
            c->kern.store_f16(c->v + t * kv_dim, kv_dim, kv_row(c, c->v_cache[layer], pos));
            continue;
        }
        bn_convert_f32(c->k + t * kv_dim, kv_dim, (bitnet_type)c->params.kv_type, kv_row(c, c->k_cache[layer], pos));
        bn_convert_f32(c->v + t * kv_dim, kv_dim, (bitnet_type)c->params.kv_type, kv_row(c, c->v_cache[layer], pos));
    }
}

/* ---- one block ------------------------------------------------------------ */

static void add_rows(float *x, const float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] += y[i];
}

static void attention_block(bitnet_context *c, int64_t l, int64_t T)
{
    const bn_hparams *hp = &c->am.hp;
    const bn_layer *L = &c->am.layers[l];
    const bn_layer_norms *N = &c->norms[l];
    const int64_t e = hp->n_embd;
    rmsnorm_rows(c, c->x, N->attn, e, T, c->xb);
    quantize_input(c, c->xb, e, T);
    const int64_t kv = hp->n_head_kv * hp->head_dim;
    const size_t f = sizeof(float), kv_bytes = (size_t)(T * kv) * c->kv_elem;
    const bn_linear *qkv[] = {&L->wq, &L->wk, &L->wv};
    float *const qkv_out[] = {c->q, c->k, c->v};
    next_reads after_qkv = {0}; /* RoPE, then the KV store */
    next_add(&after_qkv, c->q, (size_t)(T * e) * f, false);
    next_add(&after_qkv, c->k, (size_t)(T * kv) * f, false);
    next_add(&after_qkv, c->v, (size_t)(T * kv) * f, false);
    next_add(&after_qkv, kv_row(c, c->k_cache[l], c->n_past), kv_bytes, true);
    next_add(&after_qkv, kv_row(c, c->v_cache[l], c->n_past), kv_bytes, true);
    warm_add(&after_qkv, &L->wo.w, T);
    linears(c, qkv, qkv_out, 3, c->xb, T, &after_qkv);
    rope_and_cache(c, l, T);
    attention_job j = {c, l};
    next_reads after_att = {0}; /* the sub-norm and quantization of att */
    next_add(&after_att, c->att, (size_t)(T * e) * f, false);
    next_add(&after_att, hp->sub_norms ? N->attn_sub : NULL, (size_t)e * f, false);
    warm_add(&after_att, &L->wo.w, T);
    run_then_prefetch(c, T * hp->n_head, 1, attention_task, &j, &after_att);
    if (hp->sub_norms)
        rmsnorm_rows(c, c->att, N->attn_sub, e, T, c->att);
    quantize_input(c, c->att, e, T);
    next_reads after_wo = {0}; /* the residual add, then the FFN norm */
    next_add(&after_wo, c->x, (size_t)(T * e) * f, false);
    next_add(&after_wo, c->xb, (size_t)(T * e) * f, false);
    next_add(&after_wo, N->ffn, (size_t)e * f, false);
    warm_add(&after_wo, &L->gate.w, T);
    warm_add(&after_wo, &L->up.w, T);
    linear(c, &L->wo, c->att, T, c->xb, &after_wo);
    add_rows(c->x, c->xb, T * e);
}

/* The weights of layer l's first product (the head's after the last layer). */
static void warm_first(const bitnet_context *c, int64_t l, int64_t T, next_reads *r)
{
    if (l >= c->am.hp.n_layer) {
        warm_add(r, &c->am.output, T);
        return;
    }
    const bn_layer *L = &c->am.layers[l];
    warm_add(r, &L->wq.w, T);
    warm_add(r, &L->wk.w, T);
    warm_add(r, &L->wv.w, T);
}

static void ffn_block(bitnet_context *c, int64_t l, int64_t T)
{
    const bn_hparams *hp = &c->am.hp;
    const bn_layer *L = &c->am.layers[l];
    const bn_layer_norms *N = &c->norms[l];
    const int64_t e = hp->n_embd, ff = hp->n_ff;
    rmsnorm_rows(c, c->x, N->ffn, e, T, c->xb);
    quantize_input(c, c->xb, e, T);
    const size_t f = sizeof(float);
    const bn_linear *gate_up[] = {&L->gate, &L->up};
    float *const gate_up_out[] = {c->gate, c->up};
    next_reads after_gate_up = {0}; /* the gated activation and its sub-norm */
    next_add(&after_gate_up, c->gate, (size_t)(T * ff) * f, false);
    next_add(&after_gate_up, c->up, (size_t)(T * ff) * f, false);
    next_add(&after_gate_up, hp->sub_norms ? N->ffn_sub : NULL, (size_t)ff * f, false);
    warm_add(&after_gate_up, &L->down.w, T);
    linears(c, gate_up, gate_up_out, 2, c->xb, T, &after_gate_up);
    if (hp->relu2)
        c->kern.k.relu2_mul(c->gate, c->up, c->gate, T * ff);
    else
        c->kern.k.silu_mul(c->gate, c->up, c->gate, T * ff);
    if (hp->sub_norms)
        rmsnorm_rows(c, c->gate, N->ffn_sub, ff, T, c->gate);
    quantize_input(c, c->gate, ff, T);
    next_reads after_down = {0}; /* the residual add, then the next norm */
    next_add(&after_down, c->x, (size_t)(T * e) * f, false);
    next_add(&after_down, c->xb, (size_t)(T * e) * f, false);
    next_add(&after_down, l + 1 < hp->n_layer ? c->norms[l + 1].attn : c->output_norm, (size_t)e * f, false);
    warm_first(c, l + 1, T, &after_down);
    linear(c, &L->down, c->gate, T, c->xb, &after_down);
    add_rows(c->x, c->xb, T * e);
}

/* ---- the whole pass --------------------------------------------------------- */

static void embed(bitnet_context *c, const bitnet_token *tokens, int64_t T)
{
    const bn_gguf_tensor *te = c->am.tok_embd;
    const bn_type_traits *tr = bn_type_traits_get(te->type);
    for (int64_t t = 0; t < T; t++)
        bn_dequant_rows(te, tr, tokens[t], tokens[t] + 1, BITNET_TYPE_F32, c->x + t * c->am.hp.n_embd);
}

/* Final norm and the output head, in float, for the rows that need logits. */
static void head(bitnet_context *c, int64_t T)
{
    const int64_t e = c->am.hp.n_embd, n_vocab = c->am.hp.n_vocab;
    const int64_t first = c->logits_all_rows ? 0 : T - 1, rows = T - first;
    rmsnorm_rows(c, c->x + first * e, c->output_norm, e, rows, c->xb);
    float *out = c->logits + (c->logits_all_rows ? (size_t)c->n_logits * (size_t)n_vocab : 0);
    matmul_job j = one_matrix(c, &c->am.output, c->xb, rows, out);
    next_reads after = {0}; /* the next token's first layer */
    warm_first(c, 0, T, &after);
    run_then_prefetch(c, n_vocab, matmul_grain(rows), matmul_task, &j, &after);
    c->n_logits = c->logits_all_rows ? c->n_logits + (int32_t)rows : 1;
}

/* Ask the model's prefetch worker for layer l: page in its mapped weights
 * (once per context: they stay resident unless the system evicts them), and
 * dequantize into the cache what this batch will use dequantized. */
static void prefetch_layer(bitnet_context *c, int64_t l, int64_t T)
{
    bn_prefetcher *p = c->model->prefetcher;
    if (!p || l >= c->am.hp.n_layer)
        return;
    const bool advise = c->model->params.use_mmap && !c->advised[l];
    const bool dequant = blas_applies(c, T) && bn_store_enabled(c->model->store);
    if (!advise && !dequant)
        return;
    const bn_layer *L = &c->am.layers[l];
    const bn_linear *lin[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
    bn_prefetch_item items[7];
    int n = 0;
    for (int i = 0; i < 7; i++) {
        /* A repacked linear's stored bytes are not read (its pages were
         * handed back): the copy is resident, and the cache fills from it
         * when the batch needs it (linear_blas). */
        if (lin[i]->repacked)
            continue;
        const bool dq = dequant && lin[i]->w.type != BITNET_TYPE_F32;
        if (advise || dq)
            items[n++] = (bn_prefetch_item){lin[i]->t, lin[i]->idx, advise, dq};
    }
    c->advised[l] = true;
    bn_prefetcher_request(p, items, n);
}

bitnet_status bn_forward(bitnet_context *c, const bitnet_token *tokens, int32_t n, bool want_logits)
{
    const int64_t T = n;
    prefetch_layer(c, 0, T);
    embed(c, tokens, T);
    for (int64_t l = 0; l < c->am.hp.n_layer; l++) {
        prefetch_layer(c, l + 1, T);
        attention_block(c, l, T);
        ffn_block(c, l, T);
    }
    if (want_logits)
        head(c, T);
    c->n_past += n;
    return BITNET_OK;
}
