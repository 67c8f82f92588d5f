/* Context lifetime: parameters, buffers, KV cache bookkeeping. */
#include <string.h>
#include <time.h>

#include "context/context_internal.h"
#include "core/alloc.h"
#include "core/error.h"
#include "context/blas.h"
#include "model/model_internal.h"
#include "quant/quant.h"
#include "store/dequant_range.h"

#define MAX_THREADS 256

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bitnet_context_params bitnet_context_params_default(void)
{
    bitnet_context_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.n_ctx = 0;
    p.n_batch = 512;
    p.n_threads = 1;
    p.kv_type = BITNET_TYPE_F32;
    p.logits_all = false;
    p.backend = NULL;
    p.blas_min_batch = 256;
    return p;
}

static bitnet_status read_params(const bitnet_context_params *in, bitnet_context_params *out)
{
    *out = bitnet_context_params_default();
    if (in) {
        if (in->struct_size < offsetof(bitnet_context_params, n_threads) + sizeof in->n_threads ||
            in->struct_size > sizeof *out)
            return bn_error(BITNET_ERR_INVALID_ARGUMENT,
                            "bitnet_context_params.struct_size is %zu; use bitnet_context_params_default()",
                            in->struct_size);
        memcpy(out, in, in->struct_size);
        out->struct_size = sizeof *out;
    }
    if (out->n_threads < 1 || out->n_threads > MAX_THREADS)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "n_threads is %d, expected 1..%d", out->n_threads, MAX_THREADS);
    if (out->n_ctx < 0 || out->n_batch < 1)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "n_ctx %d / n_batch %d out of range", out->n_ctx, out->n_batch);
    if (out->blas_min_batch < 0)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "blas_min_batch %d is negative", out->blas_min_batch);
    if (out->kv_type != BITNET_TYPE_F32 && out->kv_type != BITNET_TYPE_F16)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "kv_type %u is not f32 or f16", out->kv_type);
    return BITNET_OK;
}

/* Norm weights as float, whatever their stored type. */
static float *norm_copy(const bn_gguf_tensor *t)
{
    if (!t)
        return NULL;
    float *w = bn_malloc((size_t)t->n_elements * sizeof(float));
    if (w)
        bn_dequant_rows(t, bn_type_traits_get(t->type), 0, 1, BITNET_TYPE_F32, w);
    return w;
}

static bitnet_status alloc_norms(bitnet_context *c)
{
    const bn_hparams *hp = &c->am.hp;
    c->norms = bn_calloc((size_t)hp->n_layer, sizeof *c->norms);
    c->output_norm = norm_copy(c->am.output_norm);
    if (!c->norms || !c->output_norm)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate norm weights");
    for (int64_t l = 0; l < hp->n_layer; l++) {
        const bn_layer *L = &c->am.layers[l];
        bn_layer_norms *n = &c->norms[l];
        n->attn = norm_copy(L->attn_norm);
        n->ffn = norm_copy(L->ffn_norm);
        n->attn_sub = norm_copy(L->attn_sub_norm);
        n->ffn_sub = norm_copy(L->ffn_sub_norm);
        if (!n->attn || !n->ffn || (hp->sub_norms && (!n->attn_sub || !n->ffn_sub)))
            return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate norm weights");
    }
    return BITNET_OK;
}

/* rows x cols floats (or bytes for int8), overflow-checked. */
static void *alloc_rows(size_t rows, size_t cols, size_t elem, bitnet_status *s)
{
    if (*s)
        return NULL;
    if (cols && rows > SIZE_MAX / cols / elem) {
        *s = bn_error(BITNET_ERR_OUT_OF_MEMORY, "buffer of %zu x %zu elements is too large", rows, cols);
        return NULL;
    }
    void *p = bn_malloc(rows * cols * elem);
    if (!p)
        *s = bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes of scratch", rows * cols * elem);
    return p;
}

static bitnet_status alloc_buffers(bitnet_context *c)
{
    const bn_hparams *hp = &c->am.hp;
    const size_t B = (size_t)c->n_batch, e = (size_t)hp->n_embd, ff = (size_t)hp->n_ff;
    const size_t kv = (size_t)(hp->n_head_kv * hp->head_dim), big = ff > e ? ff : e;
    bitnet_status s = BITNET_OK;
    c->x = alloc_rows(B, e, 4, &s);
    c->xb = alloc_rows(B, big, 4, &s);
    c->q = alloc_rows(B, e, 4, &s);
    c->k = alloc_rows(B, kv, 4, &s);
    c->v = alloc_rows(B, kv, 4, &s);
    c->att = alloc_rows(B, e, 4, &s);
    c->gate = alloc_rows(B, ff, 4, &s);
    c->up = alloc_rows(B, ff, 4, &s);
    c->xq = alloc_rows(B, big, 1, &s);
    c->xscale = alloc_rows(B, 1, 4, &s);
    c->logits_all_rows = c->params.logits_all;
    c->logits_cap = c->logits_all_rows ? c->n_batch : 1;
    c->logits = alloc_rows((size_t)c->logits_cap, (size_t)hp->n_vocab, 4, &s);
    /* Per thread: a decoded weight row (4 bytes x the widest input) or the
     * attention scores over the whole context. */
    size_t per = big * 4 + 1024, att = (size_t)c->n_ctx * 4;
    c->thread_scratch_bytes = ((per > att ? per : att) + 63) & ~(size_t)63;
    c->thread_scratch = alloc_rows((size_t)c->params.n_threads, c->thread_scratch_bytes, 1, &s);
    c->tokens = alloc_rows((size_t)c->n_ctx, 1, sizeof *c->tokens, &s);
    if (s)
        return s;
    c->k_cache = bn_calloc((size_t)hp->n_layer, sizeof *c->k_cache);
    c->v_cache = bn_calloc((size_t)hp->n_layer, sizeof *c->v_cache);
    c->advised = bn_calloc((size_t)hp->n_layer, sizeof *c->advised);
    if (!c->k_cache || !c->v_cache || !c->advised)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate the KV cache table");
    /* One allocation for every layer's keys and values, a layer's side by
     * side: 2 MiB pages where the system gives them. Decode writes one row
     * of each layer per token, 60 places far apart: in separate 4 KiB-page
     * allocations each write was a TLB miss whose page walk went to DRAM
     * (2.7 us a row here; 1 us now). */
    if (kv && (size_t)c->n_ctx > (SIZE_MAX - 63) / kv / c->kv_elem)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "KV cache of %d positions is too large", (int)c->n_ctx);
    const size_t layer_bytes = ((size_t)c->n_ctx * kv * c->kv_elem + 63) & ~(size_t)63;
    if (layer_bytes && (size_t)hp->n_layer > SIZE_MAX / 2 / layer_bytes)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "KV cache of %lld layers x %zu bytes is too large",
                        (long long)hp->n_layer, layer_bytes);
    c->kv_arena = bn_malloc_weights(2 * (size_t)hp->n_layer * layer_bytes);
    if (!c->kv_arena)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate the KV cache (%zu bytes)",
                        2 * (size_t)hp->n_layer * layer_bytes);
    for (int64_t l = 0; l < hp->n_layer; l++) {
        c->k_cache[l] = (uint8_t *)c->kv_arena + (size_t)(2 * l) * layer_bytes;
        c->v_cache[l] = (uint8_t *)c->kv_arena + (size_t)(2 * l + 1) * layer_bytes;
    }
    /* sizes for bitnet_context_memory (they fitted size_t above) */
    c->mem_kv = 2 * (uint64_t)hp->n_layer * (uint64_t)c->n_ctx * kv * c->kv_elem;
    c->mem_scratch = 4 * (uint64_t)B * (3 * e + big + 2 * kv + 2 * ff + 1) + (uint64_t)B * big +
                     (uint64_t)c->params.n_threads * c->thread_scratch_bytes;
    c->mem_other = sizeof *c + 2 * (uint64_t)hp->n_layer * sizeof(void *) + (uint64_t)c->n_ctx * sizeof *c->tokens +
                   (uint64_t)hp->n_layer * (sizeof(bn_layer_norms) + (hp->sub_norms ? 4 : 2) * e * sizeof(float)) +
                   e * sizeof(float);
    return s;
}

static void context_free(bitnet_context *c)
{
    const int64_t n_layer = c->am.layers ? c->am.hp.n_layer : 0;
    for (int64_t l = 0; l < n_layer; l++) {
        if (c->norms) {
            bn_free(c->norms[l].attn);
            bn_free(c->norms[l].ffn);
            bn_free(c->norms[l].attn_sub);
            bn_free(c->norms[l].ffn_sub);
        }
    }
    bn_free(c->kv_arena);
    bn_free(c->norms);
    bn_free(c->k_cache);
    bn_free(c->v_cache);
    bn_free(c->advised);
    bn_free(c->output_norm);
    bn_free(c->tokens);
    void *bufs[] = {c->x, c->xb, c->q, c->k, c->v, c->att, c->gate, c->up, c->xq, c->xscale, c->logits,
                    c->thread_scratch, c->blas_w};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        bn_free(bufs[i]);
    bn_pool_free(c->pool);
    bn_arch_free(&c->am);
    bitnet_model_release(c->model);
    bn_free(c);
}

/* With a cache budget, prefill's sgemm takes each float layer's weights
 * dequantized from the cache, one matrix at a time: the budget must hold the
 * largest one, or no batch could run within it. */
static bitnet_status check_budget(const bitnet_context *c, const bitnet_model *model)
{
    if (!bn_store_enabled(model->store) || c->am.hp.act_i8 || !bn_blas_available() || !c->params.blas_min_batch)
        return BITNET_OK;
    const uint64_t budget = bn_store_budget(model->store);
    for (int64_t l = 0; l < c->am.hp.n_layer; l++) {
        const bn_layer *L = &c->am.layers[l];
        const bn_linear *lin[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (int i = 0; i < 7; i++) {
            const uint64_t need = (uint64_t)lin[i]->t->n_elements * sizeof(float);
            if (lin[i]->w.type != BITNET_TYPE_F32 && need > budget)
                return bn_error(BITNET_ERR_MEMORY_BUDGET,
                                "cache_bytes %llu cannot hold one layer's working set: '%s' takes %llu bytes "
                                "dequantized (raise cache_bytes, set it to 0, or set blas_min_batch to 0)",
                                (unsigned long long)budget, lin[i]->t->name, (unsigned long long)need);
        }
    }
    return BITNET_OK;
}

static bitnet_status setup(bitnet_context *c, bitnet_model *model)
{
    bitnet_status s = bn_arch_bind(&model->gguf, &c->am);
    if (s)
        return s;
    const bn_hparams *hp = &c->am.hp;
    c->n_ctx = c->params.n_ctx ? c->params.n_ctx : (int32_t)hp->n_ctx_train;
    if (c->n_ctx > (1 << 20))
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "n_ctx %d exceeds the limit of %d", c->n_ctx, 1 << 20);
    c->n_batch = c->params.n_batch < c->n_ctx ? c->params.n_batch : c->n_ctx;
    c->kv_elem = c->params.kv_type == BITNET_TYPE_F16 ? 2 : 4;
    bn_model_repack(model, &c->am);
    if ((s = check_budget(c, model)) || (s = bn_model_head(model, &c->am.output)) ||
        (s = bn_kernels_select(c->params.backend, &c->kern)) ||
        (s = alloc_norms(c)) || (s = alloc_buffers(c)))
        return s;
    return bn_pool_new(c->params.n_threads, &c->pool);
}

bitnet_status bitnet_context_new(bitnet_model *model, const bitnet_context_params *params, bitnet_context **out)
{
    if (!out)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_context_new: out is NULL");
    *out = NULL;
    if (!model)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_context_new: model is NULL");
    bitnet_context *c = bn_calloc(1, sizeof *c);
    if (!c)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate the context");
    bitnet_model_retain(model);
    c->model = model;
    bitnet_status s = read_params(params, &c->params);
    if (!s)
        s = setup(c, model);
    if (s) {
        bn_model_fail(model, s);
        context_free(c);
        return s;
    }
    *out = c;
    return BITNET_OK;
}

void bitnet_context_free(bitnet_context *ctx)
{
    if (ctx)
        context_free(ctx);
}

bitnet_model *bitnet_context_model(const bitnet_context *ctx)
{
    return ctx ? ctx->model : NULL;
}

bitnet_status bitnet_context_decode(bitnet_context *ctx, const bitnet_token *tokens, int32_t n)
{
    if (!ctx || (!tokens && n > 0))
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_context_decode: NULL argument");
    if (n <= 0)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_context_decode: %d tokens (at least 1 needed)", n);
    if (n > ctx->n_ctx - ctx->n_past)
        return bn_error(BITNET_ERR_CONTEXT_FULL, "%d tokens do not fit: %d of %d positions used", n, ctx->n_past,
                        ctx->n_ctx);
    for (int32_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= ctx->am.hp.n_vocab)
            return bn_error(BITNET_ERR_OUT_OF_RANGE, "token %d at index %d is outside the vocabulary [0, %lld)",
                            tokens[i], i, (long long)ctx->am.hp.n_vocab);
    if (ctx->logits_all_rows && n > ctx->logits_cap) {
        float *grown = bn_realloc(ctx->logits, (size_t)n * (size_t)ctx->am.hp.n_vocab * sizeof(float));
        if (!grown)
            return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot hold logits for %d tokens", n);
        ctx->logits = grown;
        ctx->logits_cap = n;
    }
    ctx->n_logits = 0; /* each chunk appends its rows (logits_all) or sets the last */
    const uint64_t t0 = now_ns();
    for (int32_t done = 0; done < n;) {
        int32_t m = n - done < ctx->n_batch ? n - done : ctx->n_batch;
        memcpy(ctx->tokens + ctx->n_past, tokens + done, (size_t)m * sizeof *tokens);
        bitnet_status s = bn_forward(ctx, tokens + done, m, ctx->logits_all_rows || done + m == n);
        if (s)
            return s;
        done += m;
    }
    const uint64_t dt = now_ns() - t0;
    bitnet_context_stats *st = &ctx->stats;
    st->n_decode_calls++;
    if (n > 1)
        st->n_prefill_tokens += (uint64_t)n, st->prefill_ns += dt;
    else
        st->n_decode_tokens++, st->decode_ns += dt;
    return BITNET_OK;
}

const float *bitnet_context_logits(const bitnet_context *ctx, int32_t i)
{
    if (!ctx || ctx->n_logits == 0)
        return NULL;
    if (!ctx->logits_all_rows)
        return i == -1 ? ctx->logits : NULL;
    if (i == -1)
        i = ctx->n_logits - 1;
    return i >= 0 && i < ctx->n_logits ? ctx->logits + (size_t)i * (size_t)ctx->am.hp.n_vocab : NULL;
}

int32_t bitnet_context_n_past(const bitnet_context *ctx)
{
    return ctx ? ctx->n_past : 0;
}

int32_t bitnet_context_n_ctx(const bitnet_context *ctx)
{
    return ctx ? ctx->n_ctx : 0;
}

const bitnet_token *bitnet_context_tokens(const bitnet_context *ctx, int32_t *n)
{
    if (n)
        *n = ctx ? ctx->n_past : 0;
    return ctx ? ctx->tokens : NULL;
}

void bitnet_context_clear(bitnet_context *ctx)
{
    if (ctx) {
        ctx->n_past = 0;
        ctx->n_logits = 0;
    }
}

bitnet_status bitnet_context_trim(bitnet_context *ctx, int32_t n_keep)
{
    if (!ctx)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_context_trim: ctx is NULL");
    if (n_keep < 0 || n_keep > ctx->n_past)
        return bn_error(BITNET_ERR_OUT_OF_RANGE, "trim to %d positions: only %d are held", n_keep, ctx->n_past);
    ctx->n_past = n_keep;
    ctx->n_logits = 0;
    return BITNET_OK;
}
