/* Hugging Face model directory -> GGUF tables: config.json to metadata,
 * SafeTensors tensors to GGUF names, types and layouts.
 *
 * Tensor layouts. A Hugging Face linear weight is [out, in] row-major,
 * exactly a GGUF [ne0 = in, ne1 = out] tensor, so float weights (F32, F16,
 * BF16) are used where they lie in the file. Conversions into owned
 * buffers happen only where the layout differs:
 *  - BitNet's packed ternary weights (U8 [out/4, in], byte (p, k) holding
 *    the codes of rows p, p + out/4, p + 2 out/4, p + 3 out/4 of column k,
 *    two bits each from the low end, value = code - 1, float weight =
 *    value / weight_scale) are repacked into I2_S blocks: same 2 bits per
 *    weight, so the owned copy is the size of the file's data, not a float
 *    copy. I2_S rather than TQ2_0 because its one f32 scale per tensor is
 *    exactly HF's per-tensor weight_scale (TQ2_0 would round it to f16 per
 *    block), and the ternary kernels of every backend already run it. A
 *    kernel reading HF's layout directly would have to gather each row from
 *    bytes that interleave four rows, in every backend; repacking costs one
 *    pass at load. The packed bytes' pages are handed back afterwards.
 *  - Ternary codes stored as I8 with a weight_scale: the same repacking.
 *  - Float linear weights of a BitNet model (online quantization): the
 *    weights are quantized at load as BitNet does at run time (absmean
 *    scale, round, clamp to [-1, 1]) into I2_S, through a float copy of one
 *    tensor at a time.
 *  - llama q/k weights: rows permuted from Hugging Face's rotate-half order
 *    to GGUF's adjacent-pair order (llama.cpp's converter does the same);
 *    BitNet keeps the Hugging Face order and runs NEOX-style RoPE.
 *  - Float tensors whose bytes are not aligned to their element size are
 *    copied.
 * Hyper-parameters and tokenizer follow llama.cpp's convert_hf_to_gguf.py. */
#include "loader/hf_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/checked.h"
#include "core/error.h"
#include "core/log.h"
#include "quant/quant.h"

/* ---- metadata pairs ------------------------------------------------------ */

static bitnet_status oom(const char *what)
{
    return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate %s", what);
}

static bitnet_status push_kv(bn_hf_ctx *c, const char *key, struct bitnet_value v)
{
    bn_gguf *g = c->g;
    if ((size_t)g->n_kv == c->cap_kv) {
        size_t cap = c->cap_kv ? c->cap_kv * 2 : 32;
        bn_gguf_kv *kv = bn_realloc(g->kv, cap * sizeof *kv);
        if (!kv)
            return oom("the metadata table");
        g->kv = kv;
        c->cap_kv = cap;
    }
    size_t len = strlen(key);
    char *k = bn_arena_strndup(&g->arena, key, len);
    if (!k)
        return oom("a metadata key");
    g->kv[g->n_kv++] = (bn_gguf_kv){k, len, v};
    return BITNET_OK;
}

bitnet_status bn_hf_kv_u32(bn_hf_ctx *c, const char *key, uint32_t x)
{
    struct bitnet_value v = {.type = BITNET_VALUE_UINT32};
    v.v.u = x;
    return push_kv(c, key, v);
}

bitnet_status bn_hf_kv_f32(bn_hf_ctx *c, const char *key, float x)
{
    struct bitnet_value v = {.type = BITNET_VALUE_FLOAT32};
    v.v.f = x;
    return push_kv(c, key, v);
}

bitnet_status bn_hf_kv_bool(bn_hf_ctx *c, const char *key, bool x)
{
    struct bitnet_value v = {.type = BITNET_VALUE_BOOL};
    v.v.u = x;
    return push_kv(c, key, v);
}

bitnet_status bn_hf_kv_string(bn_hf_ctx *c, const char *key, const char *s, size_t len)
{
    struct bitnet_value v = {.type = BITNET_VALUE_STRING, .len = len};
    if (!(v.v.str = bn_arena_strndup(&c->g->arena, s, len)))
        return oom("a metadata string");
    return push_kv(c, key, v);
}

bitnet_status bn_hf_kv_strings(bn_hf_ctx *c, const char *key, const bn_gguf_str *strs, uint64_t n)
{
    struct bitnet_value v = {.type = BITNET_VALUE_ARRAY, .elem_type = BITNET_VALUE_STRING, .len = n};
    v.v.strs = strs;
    return push_kv(c, key, v);
}

bitnet_status bn_hf_kv_i32s(bn_hf_ctx *c, const char *key, const int32_t *x, uint64_t n)
{
    struct bitnet_value v = {.type = BITNET_VALUE_ARRAY, .elem_type = BITNET_VALUE_INT32, .len = n};
    v.v.raw = (const uint8_t *)x;
    return push_kv(c, key, v);
}

/* ---- config.json ---------------------------------------------------------- */

/* A positive integer <= 2^24; required when def < 0. Null counts as absent. */
static bitnet_status cfg_int(const bn_hf_ctx *c, const char *key, int64_t def, int64_t *out)
{
    const bn_json *v = bn_json_get(c->config, key);
    if (!v || v->type == BN_JSON_NULL) {
        if (def < 0)
            return bn_error(BITNET_ERR_BAD_FORMAT, "config.json: missing '%s'", key);
        *out = def;
        return BITNET_OK;
    }
    if (v->type != BN_JSON_NUMBER || !v->is_int || v->v.num.i <= 0 || v->v.num.i > (1 << 24))
        return bn_error(BITNET_ERR_BAD_FORMAT, "config.json: '%s' must be a positive integer <= 2^24", key);
    *out = v->v.num.i;
    return BITNET_OK;
}

static bitnet_status cfg_float(const bn_hf_ctx *c, const char *key, double def, double *out)
{
    const bn_json *v = bn_json_get(c->config, key);
    if (!v || v->type == BN_JSON_NULL) {
        *out = def;
        return BITNET_OK;
    }
    if (v->type != BN_JSON_NUMBER || !(v->v.num.f > 0) || v->v.num.f > 1e30)
        return bn_error(BITNET_ERR_BAD_FORMAT, "config.json: '%s' must be a positive number", key);
    *out = v->v.num.f;
    return BITNET_OK;
}

static bitnet_status cfg_bool(const bn_hf_ctx *c, const char *key, bool def, bool *out)
{
    const bn_json *v = bn_json_get(c->config, key);
    *out = def;
    if (!v || v->type == BN_JSON_NULL)
        return BITNET_OK;
    if (v->type != BN_JSON_BOOL)
        return bn_error(BITNET_ERR_BAD_FORMAT, "config.json: '%s' must be true or false", key);
    *out = v->b;
    return BITNET_OK;
}

/* Optional string; NULL when absent or null. */
static bitnet_status cfg_string(const bn_hf_ctx *c, const char *key, const char **out)
{
    const bn_json *v = bn_json_get(c->config, key);
    *out = NULL;
    if (!v || v->type == BN_JSON_NULL)
        return BITNET_OK;
    if (v->type != BN_JSON_STRING)
        return bn_error(BITNET_ERR_BAD_FORMAT, "config.json: '%s' must be a string", key);
    *out = v->v.s;
    return BITNET_OK;
}

/* Architecture from "architectures" (its first entry) or "model_type", with
 * the Hugging Face defaults of that model class. */
static bitnet_status read_arch(bn_hf_ctx *c, double *def_eps, double *def_rope, bool *def_tied)
{
    const bn_json *archs = bn_json_get(c->config, "architectures");
    const char *cls = NULL, *type = NULL, *act = NULL;
    if (archs && archs->type != BN_JSON_NULL) {
        if (archs->type != BN_JSON_ARRAY || archs->n == 0 || archs->v.items[0].type != BN_JSON_STRING)
            return bn_error(BITNET_ERR_BAD_FORMAT, "config.json: 'architectures' must be a non-empty array of strings");
        cls = archs->v.items[0].v.s;
    }
    bitnet_status s = cfg_string(c, "model_type", &type);
    if (!s)
        s = cfg_string(c, "hidden_act", &act);
    if (s)
        return s;
    const char *what = cls ? cls : type ? type : "(none)";
    if ((cls && strcmp(cls, "BitNetForCausalLM") == 0) || (!cls && type && strcmp(type, "bitnet") == 0)) {
        /* transformers' BitNet: relu2 is b1.58 2B-4T; a silu variant is the
         * 1bitLLM design. Defaults of BitNetConfig. */
        act = act ? act : "relu2";
        c->arch = strcmp(act, "relu2") == 0 ? "bitnet-b1.58" : strcmp(act, "silu") == 0 ? "bitnet" : NULL;
        c->ternary = true;
        *def_eps = 1e-5, *def_rope = 500000.0, *def_tied = false;
    } else if (cls && strcmp(cls, "BitnetForCausalLM") == 0) {
        act = act ? act : "silu";
        c->arch = strcmp(act, "silu") == 0 ? "bitnet" : NULL;
        c->ternary = true;
        *def_eps = 1e-6, *def_rope = 10000.0, *def_tied = false;
    } else if ((cls && strcmp(cls, "LlamaForCausalLM") == 0) || (!cls && type && strcmp(type, "llama") == 0)) {
        act = act ? act : "silu";
        c->arch = strcmp(act, "silu") == 0 ? "llama" : NULL;
        c->permute_qk = true;
        *def_eps = 1e-6, *def_rope = 10000.0, *def_tied = false;
    } else {
        return bn_error(BITNET_ERR_UNSUPPORTED,
                        "config.json: architecture '%s' is not supported (BitNetForCausalLM, BitnetForCausalLM and "
                        "LlamaForCausalLM are)",
                        what);
    }
    if (!c->arch)
        return bn_error(BITNET_ERR_UNSUPPORTED, "config.json: %s with hidden_act '%s' is not supported", what, act);
    return BITNET_OK;
}

/* Features the forward pass does not implement are refused, not ignored. */
static bitnet_status check_unsupported(const bn_hf_ctx *c)
{
    const bn_json *rs = bn_json_get(c->config, "rope_scaling");
    if (rs && rs->type != BN_JSON_NULL) {
        const bn_json *t = bn_json_get(rs, "rope_type");
        if (!t)
            t = bn_json_get(rs, "type");
        if (!bn_json_str_eq(t, "default"))
            return bn_error(BITNET_ERR_UNSUPPORTED, "config.json: rope_scaling '%s' is not supported",
                            t && t->type == BN_JSON_STRING ? t->v.s : "?");
    }
    static const char *const flags[] = {"attention_bias", "mlp_bias"};
    for (size_t i = 0; i < 2; i++) {
        bool on;
        bitnet_status s = cfg_bool(c, flags[i], false, &on);
        if (s)
            return s;
        if (on)
            return bn_error(BITNET_ERR_UNSUPPORTED, "config.json: %s is not supported", flags[i]);
    }
    const bn_json *q = bn_json_get(c->config, "quantization_config");
    if (q && q->type != BN_JSON_NULL) {
        const bn_json *m = bn_json_get(q, "quant_method");
        if (!bn_json_str_eq(m, "bitnet"))
            return bn_error(BITNET_ERR_UNSUPPORTED, "config.json: quantization_config quant_method '%s' is not supported",
                            m && m->type == BN_JSON_STRING ? m->v.s : "?");
    }
    return BITNET_OK;
}

static bitnet_status read_config(bn_hf_ctx *c)
{
    if (c->config->type != BN_JSON_OBJECT)
        return bn_error(BITNET_ERR_BAD_FORMAT, "config.json: the document is %s, expected an object",
                        bn_json_type_name(c->config));
    double def_eps = 1e-6, def_rope = 10000.0;
    bool def_tied = false;
    bitnet_status s = read_arch(c, &def_eps, &def_rope, &def_tied);
    if (!s)
        s = check_unsupported(c);
    if (s || (s = cfg_int(c, "hidden_size", -1, &c->n_embd)) || (s = cfg_int(c, "intermediate_size", -1, &c->n_ff)) ||
        (s = cfg_int(c, "num_hidden_layers", -1, &c->n_layer)) ||
        (s = cfg_int(c, "num_attention_heads", -1, &c->n_head)) ||
        (s = cfg_int(c, "num_key_value_heads", c->n_head, &c->n_head_kv)) ||
        (s = cfg_int(c, "max_position_embeddings", 2048, &c->n_ctx)) ||
        (s = cfg_int(c, "vocab_size", 0, &c->n_vocab)) || (s = cfg_float(c, "rms_norm_eps", def_eps, &c->eps)) ||
        (s = cfg_float(c, "rope_theta", def_rope, &c->rope_base)) ||
        (s = cfg_bool(c, "tie_word_embeddings", def_tied, &c->tied)))
        return s;
    if (c->n_embd % c->n_head != 0 || c->n_head % c->n_head_kv != 0)
        return bn_error(BITNET_ERR_BAD_FORMAT,
                        "config.json: hidden_size %lld, num_attention_heads %lld and num_key_value_heads %lld do not "
                        "divide",
                        (long long)c->n_embd, (long long)c->n_head, (long long)c->n_head_kv);
    c->head_dim = c->n_embd / c->n_head;
    int64_t hd;
    if ((s = cfg_int(c, "head_dim", c->head_dim, &hd)))
        return s;
    if (hd != c->head_dim)
        return bn_error(BITNET_ERR_UNSUPPORTED, "config.json: head_dim %lld differs from hidden_size / heads = %lld",
                        (long long)hd, (long long)c->head_dim);
    if (c->head_dim % 2 != 0)
        return bn_error(BITNET_ERR_BAD_FORMAT, "config.json: the head size %lld is odd", (long long)c->head_dim);
    return BITNET_OK;
}

static bitnet_status write_hparams(bn_hf_ctx *c)
{
    char key[128];
    const char *name = NULL;
    bitnet_status s = cfg_string(c, "_name_or_path", &name);
    if (s)
        return s;
    if (!name || !*name)
        name = c->in->name;
#define K(suffix) (snprintf(key, sizeof key, "%s." suffix, c->arch), key)
    if ((s = bn_hf_kv_string(c, "general.architecture", c->arch, strlen(c->arch))) ||
        (name && (s = bn_hf_kv_string(c, "general.name", name, strlen(name)))) ||
        (s = bn_hf_kv_u32(c, K("vocab_size"), (uint32_t)c->n_vocab)) ||
        (s = bn_hf_kv_u32(c, K("context_length"), (uint32_t)c->n_ctx)) ||
        (s = bn_hf_kv_u32(c, K("embedding_length"), (uint32_t)c->n_embd)) ||
        (s = bn_hf_kv_u32(c, K("block_count"), (uint32_t)c->n_layer)) ||
        (s = bn_hf_kv_u32(c, K("feed_forward_length"), (uint32_t)c->n_ff)) ||
        (s = bn_hf_kv_u32(c, K("rope.dimension_count"), (uint32_t)c->head_dim)) ||
        (s = bn_hf_kv_u32(c, K("attention.head_count"), (uint32_t)c->n_head)) ||
        (s = bn_hf_kv_u32(c, K("attention.head_count_kv"), (uint32_t)c->n_head_kv)) ||
        (s = bn_hf_kv_f32(c, K("attention.layer_norm_rms_epsilon"), (float)c->eps)) ||
        (s = bn_hf_kv_f32(c, K("rope.freq_base"), (float)c->rope_base)))
        return s;
#undef K
    return BITNET_OK;
}

/* ---- tensors -------------------------------------------------------------- */

typedef enum role { R_VECTOR, R_MATRIX, R_LINEAR } role;

static const bn_st_tensor *st_get(bn_hf_ctx *c, const char *name)
{
    int64_t i = bn_safetensors_find(&c->st, name);
    if (i < 0)
        return NULL;
    c->used[i] = 1;
    return &c->st.tensors[i];
}

static uint32_t gguf_float_type(bn_st_dtype d)
{
    return d == BN_ST_F32 ? BITNET_TYPE_F32 : d == BN_ST_F16 ? BITNET_TYPE_F16 : BITNET_TYPE_BF16;
}

static bool is_float(bn_st_dtype d)
{
    return d == BN_ST_F32 || d == BN_ST_F16 || d == BN_ST_BF16;
}

static bitnet_status push_tensor(bn_hf_ctx *c, const char *name, const bn_st_tensor *src, uint32_t type, int64_t ne0,
                                 int64_t ne1, const uint8_t *data)
{
    bn_gguf *g = c->g;
    if ((size_t)g->n_tensors == c->cap_tensors) {
        size_t cap = c->cap_tensors ? c->cap_tensors * 2 : 64;
        bn_gguf_tensor *t = bn_realloc(g->tensors, cap * sizeof *t);
        if (!t)
            return oom("the tensor table");
        g->tensors = t;
        c->cap_tensors = cap;
    }
    bn_gguf_tensor *t = &g->tensors[g->n_tensors];
    memset(t, 0, sizeof *t);
    size_t len = strlen(name);
    if (!(t->name = bn_arena_strndup(&g->arena, name, len)))
        return oom("a tensor name");
    t->name_len = len;
    t->type = type;
    t->n_dims = ne1 > 1 || src->n_dims >= 2 ? 2 : 1;
    t->ne[0] = ne0, t->ne[1] = ne1, t->ne[2] = t->ne[3] = 1;
    t->n_elements = ne0 * ne1;
    t->n_bytes = bn_type_tensor_bytes(type, t->n_elements);
    t->offset = src->offset; /* where its source bytes are in model.safetensors */
    t->data = data;
    g->n_tensors++;
    return BITNET_OK;
}

/* Row of the Hugging Face tensor that holds GGUF row r of a q/k weight of
 * `heads` heads (0: no permutation). llama.cpp's permute(): GGUF row
 * h*hd + 2i + j is Hugging Face row h*hd + j*hd/2 + i. */
static int64_t hf_row(int64_t r, int64_t heads, int64_t rows)
{
    if (!heads)
        return r;
    const int64_t hd = rows / heads, h = r / hd, w = r % hd;
    return h * hd + (w % 2) * (hd / 2) + w / 2;
}

/* Hands back the pages lying wholly inside [p, p + n) of the mapped file. */
static void release_pages(const bn_hf_ctx *c, const uint8_t *p, uint64_t n)
{
    if (!c->in->st_mapped)
        return;
    const long pg = sysconf(_SC_PAGESIZE);
    const uintptr_t mask = (uintptr_t)(pg > 0 ? pg : 4096) - 1;
    const uintptr_t a = ((uintptr_t)p + mask) & ~mask, b = ((uintptr_t)p + (uintptr_t)n) & ~mask;
    if (b > a)
        (void)madvise((void *)a, b - a, MADV_DONTNEED);
}

/* The single float of a weight_scale tensor. */
static bitnet_status read_scale(const bn_st_tensor *t, float *out)
{
    if (t->n_elements != 1 || !is_float(t->dtype))
        return bn_error(BITNET_ERR_BAD_FORMAT, "model.safetensors: tensor '%s' must hold one F32, F16 or BF16 value",
                        t->name);
    float ws = 0.0f;
    bn_type_traits_get(gguf_float_type(t->dtype))->dequantize_row(t->data, &ws, 1, NULL);
    if (!(ws > 0) || !isfinite(ws))
        return bn_error(BITNET_ERR_BAD_FORMAT, "model.safetensors: tensor '%s' is %g, expected a positive scale", t->name,
                        (double)ws);
    *out = ws;
    return BITNET_OK;
}

/* Ternary codes (U8 packed four per byte, or I8 one per byte) with their
 * weight_scale, repacked into an I2_S tensor of `rows` x `n`. */
static bitnet_status repack_ternary(bn_hf_ctx *c, const char *name, const bn_st_tensor *w, const bn_st_tensor *sc,
                                    int64_t n, int64_t rows, int64_t heads)
{
    float ws = 1.0f;
    bitnet_status s = read_scale(sc, &ws);
    if (s)
        return s;
    if (n % 128 != 0)
        return bn_error(BITNET_ERR_UNSUPPORTED,
                        "model.safetensors: tensor '%s': rows of %lld weights do not split into I2_S blocks of 128",
                        w->name, (long long)n);
    const uint64_t bytes = bn_type_tensor_bytes(BITNET_TYPE_I2_S, n * rows);
    uint8_t *out = bn_arena_alloc(&c->g->arena, (size_t)bytes);
    if (!out)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate %llu bytes for tensor '%s'",
                        (unsigned long long)bytes, name);
    const bool packed = w->dtype == BN_ST_U8;
    const int64_t prow = packed ? rows / 4 : rows;
    for (int64_t r = 0; r < rows; r++) {
        const int64_t hr = hf_row(r, heads, rows);
        const uint8_t *src = w->data + (size_t)((packed ? hr % prow : hr) * n);
        const int shift = packed ? (int)(2 * (hr / prow)) : 0;
        uint8_t *dst = out + (size_t)(r * (n / 4));
        uint8_t bad = 0;
        /* I2_S: element j of each block of 128 goes to byte j % 32 at bits
         * 6 - 2 (j / 32); codes 0, 1, 2 mean -1, 0, +1, as Hugging Face's. */
        for (int64_t blk = 0; blk < n / 128; blk++)
            for (int g = 0; g < 4; g++) {
                const uint8_t *in = src + blk * 128 + g * 32;
                uint8_t *o = dst + blk * 32;
                for (int k = 0; k < 32; k++) {
                    const uint8_t code = packed ? (uint8_t)((in[k] >> shift) & 3) : (uint8_t)(in[k] + 1);
                    bad |= code > 2;
                    o[k] |= (uint8_t)((code & 3) << (6 - 2 * g));
                }
            }
        if (bad)
            for (int64_t k = 0; k < n; k++) {
                const int v = packed ? ((src[k] >> shift) & 3) - 1 : (int8_t)src[k];
                if (v < -1 || v > 1)
                    return bn_error(BITNET_ERR_BAD_FORMAT,
                                    "model.safetensors: tensor '%s': weight [%lld, %lld] is %d, not ternary (-1, 0, 1)",
                                    w->name, (long long)hr, (long long)k, v);
            }
    }
    const float scale = (float)(1.0 / (double)ws);
    memcpy(out + (size_t)(n * rows / 4), &scale, sizeof scale); /* the I2_S tail */
    release_pages(c, w->data, w->n_bytes);
    return push_tensor(c, name, w, BITNET_TYPE_I2_S, n, rows, out);
}

/* Float latent weights of a BitNet model: quantized as BitNet quantizes them
 * at run time (absmean scale, round, clamp), into I2_S. */
static bitnet_status quantize_ternary(bn_hf_ctx *c, const char *name, const bn_st_tensor *w, int64_t n, int64_t rows)
{
    if (n % 128 != 0)
        return bn_error(BITNET_ERR_UNSUPPORTED,
                        "model.safetensors: tensor '%s': rows of %lld weights do not split into I2_S blocks of 128",
                        w->name, (long long)n);
    const uint64_t bytes = bn_type_tensor_bytes(BITNET_TYPE_I2_S, n * rows);
    uint8_t *out = bn_arena_alloc(&c->g->arena, (size_t)bytes);
    float *tmp = bn_malloc((size_t)(n * rows) * sizeof *tmp);
    if (!out || !tmp) {
        bn_free(tmp);
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate the quantization of tensor '%s'", name);
    }
    const bn_type_traits *tr = bn_type_traits_get(gguf_float_type(w->dtype));
    tr->dequantize_row(w->data, tmp, n * rows, NULL);
    bn_type_traits_get(BITNET_TYPE_I2_S)->quantize(tmp, out, rows, n);
    bn_free(tmp);
    return push_tensor(c, name, w, BITNET_TYPE_I2_S, n, rows, out);
}

/* A float tensor as stored: in place when its layout is GGUF's, else an
 * owned copy (q/k row permutation, or bytes not aligned to the element). */
static bitnet_status keep_float(bn_hf_ctx *c, const char *name, const bn_st_tensor *w, int64_t n, int64_t rows,
                                int64_t heads)
{
    const uint32_t type = gguf_float_type(w->dtype);
    const bool aligned = ((uintptr_t)w->data % w->elem_size) == 0;
    if (!heads && aligned)
        return push_tensor(c, name, w, type, n, rows, w->data);
    uint8_t *out = bn_arena_alloc(&c->g->arena, (size_t)w->n_bytes);
    if (!out)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate %llu bytes for tensor '%s'",
                        (unsigned long long)w->n_bytes, name);
    const size_t row_bytes = (size_t)n * w->elem_size;
    for (int64_t r = 0; r < rows; r++)
        memcpy(out + (size_t)r * row_bytes, w->data + (size_t)hf_row(r, heads, rows) * row_bytes, row_bytes);
    return push_tensor(c, name, w, type, n, rows, out);
}

static bitnet_status shape_error(const bn_st_tensor *t, int64_t a, int64_t b, const char *note)
{
    char got[96] = "", *p = got;
    for (uint32_t d = 0; d < t->n_dims && p < got + sizeof got - 24; d++)
        p += snprintf(p, (size_t)(got + sizeof got - p), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (b)
        return bn_error(BITNET_ERR_BAD_FORMAT, "model.safetensors: tensor '%s' has shape [%s], expected [%lld, %lld]%s",
                        t->name, got, (long long)a, (long long)b, note);
    return bn_error(BITNET_ERR_BAD_FORMAT, "model.safetensors: tensor '%s' has shape [%s], expected [%lld]%s", t->name,
                    got, (long long)a, note);
}

/* One model tensor: `hf` found under its Hugging Face name, checked for
 * shape ([rows, n], or [n] for a vector) and turned into GGUF tensor `name`. */
static bitnet_status add(bn_hf_ctx *c, const char *name, const char *hf, const char *hf_alt, role ro, int64_t n,
                         int64_t rows, int64_t heads, bool optional)
{
    const bn_st_tensor *w = st_get(c, hf);
    if (!w && hf_alt)
        w = st_get(c, hf_alt);
    if (!w)
        return optional ? BITNET_OK : bn_error(BITNET_ERR_BAD_FORMAT, "model.safetensors: missing tensor '%s'", hf);
    if (ro == R_VECTOR) {
        if (w->n_dims != 1 || w->shape[0] != n)
            return shape_error(w, n, 0, "");
        if (!is_float(w->dtype))
            return bn_error(BITNET_ERR_UNSUPPORTED, "model.safetensors: tensor '%s' has dtype %s (F32, F16 or BF16 expected)",
                            w->name, w->dtype_name);
        return keep_float(c, name, w, n, 1, 0);
    }
    /* A weight_scale beside a U8/I8 weight marks BitNet ternary codes. */
    char sname[BN_ST_MAX_NAME + 16];
    snprintf(sname, sizeof sname, "%s_scale", hf);
    const bn_st_tensor *sc = ro == R_LINEAR ? st_get(c, sname) : NULL;
    if (w->dtype == BN_ST_U8 && sc) {
        if (w->n_dims != 2 || rows % 4 != 0 || w->shape[0] != rows / 4 || w->shape[1] != n)
            return shape_error(w, rows / 4, n, " (four ternary codes per byte)");
        return repack_ternary(c, name, w, sc, n, rows, heads);
    }
    if (w->n_dims != 2 || w->shape[0] != rows || w->shape[1] != n)
        return shape_error(w, rows, n, "");
    if (w->dtype == BN_ST_I8 && sc)
        return repack_ternary(c, name, w, sc, n, rows, heads);
    if (!is_float(w->dtype))
        return bn_error(BITNET_ERR_UNSUPPORTED,
                        "model.safetensors: tensor '%s' has dtype %s (F32, F16, BF16, or ternary U8/I8 with a "
                        "weight_scale expected)",
                        w->name, w->dtype_name);
    if (sc)
        return bn_error(BITNET_ERR_UNSUPPORTED, "model.safetensors: tensor '%s' is %s with a weight_scale", w->name,
                        w->dtype_name);
    if (ro == R_LINEAR && c->ternary)
        return quantize_ternary(c, name, w, n, rows);
    return keep_float(c, name, w, n, rows, heads);
}

typedef enum width { W_EMBD, W_KV, W_FF } width;

static bitnet_status add_layer(bn_hf_ctx *c, int64_t l)
{
    static const struct {
        const char *gguf, *hf, *alt; /* alt: the 1bitLLM name */
        role ro;
        width n, rows; /* row length and row count (vectors: length only) */
        bool bitnet_only;
        int heads; /* q/k permutation: 1 = query heads, 2 = key/value heads */
    } spec[] = {
        {"attn_norm", "input_layernorm.weight", NULL, R_VECTOR, W_EMBD, W_EMBD, false, 0},
        {"ffn_norm", "post_attention_layernorm.weight", NULL, R_VECTOR, W_EMBD, W_EMBD, false, 0},
        {"attn_sub_norm", "self_attn.attn_sub_norm.weight", "self_attn.inner_attn_ln.weight", R_VECTOR, W_EMBD,
         W_EMBD, true, 0},
        {"ffn_sub_norm", "mlp.ffn_sub_norm.weight", "mlp.ffn_layernorm.weight", R_VECTOR, W_FF, W_FF, true, 0},
        {"attn_q", "self_attn.q_proj.weight", NULL, R_LINEAR, W_EMBD, W_EMBD, false, 1},
        {"attn_k", "self_attn.k_proj.weight", NULL, R_LINEAR, W_EMBD, W_KV, false, 2},
        {"attn_v", "self_attn.v_proj.weight", NULL, R_LINEAR, W_EMBD, W_KV, false, 0},
        {"attn_output", "self_attn.o_proj.weight", NULL, R_LINEAR, W_EMBD, W_EMBD, false, 0},
        {"ffn_gate", "mlp.gate_proj.weight", NULL, R_LINEAR, W_EMBD, W_FF, false, 0},
        {"ffn_up", "mlp.up_proj.weight", NULL, R_LINEAR, W_EMBD, W_FF, false, 0},
        {"ffn_down", "mlp.down_proj.weight", NULL, R_LINEAR, W_FF, W_EMBD, false, 0},
    };
    const int64_t w[3] = {c->n_embd, c->n_head_kv * c->head_dim, c->n_ff};
    char name[64], hf[96], alt[96];
    for (size_t i = 0; i < sizeof spec / sizeof *spec; i++) {
        if (spec[i].bitnet_only && !c->ternary)
            continue;
        const int64_t n = w[spec[i].n], rows = spec[i].ro == R_VECTOR ? 1 : w[spec[i].rows];
        const int64_t heads = !c->permute_qk ? 0 : spec[i].heads == 1 ? c->n_head : spec[i].heads == 2 ? c->n_head_kv : 0;
        snprintf(name, sizeof name, "blk.%lld.%s.weight", (long long)l, spec[i].gguf);
        snprintf(hf, sizeof hf, "model.layers.%lld.%s", (long long)l, spec[i].hf);
        if (spec[i].alt)
            snprintf(alt, sizeof alt, "model.layers.%lld.%s", (long long)l, spec[i].alt);
        bitnet_status s = add(c, name, hf, spec[i].alt ? alt : NULL, spec[i].ro, n, rows, heads, false);
        if (s)
            return s;
    }
    return BITNET_OK;
}

/* Tensors a checkpoint may carry that the model does not use. */
static bool ignorable(const char *name)
{
    const char *tail = ".rotary_emb.inv_freq";
    size_t n = strlen(name), t = strlen(tail);
    return n > t && strcmp(name + n - t, tail) == 0;
}

static bitnet_status add_tensors(bn_hf_ctx *c)
{
    const bn_st_tensor *emb = st_get(c, "model.embed_tokens.weight");
    if (!emb)
        return bn_error(BITNET_ERR_BAD_FORMAT, "model.safetensors: missing tensor 'model.embed_tokens.weight'");
    if (emb->n_dims != 2 || emb->shape[1] != c->n_embd || emb->shape[0] <= 0 || emb->shape[0] > (1 << 24))
        return shape_error(emb, c->n_vocab ? c->n_vocab : emb->shape[0], c->n_embd, "");
    if (c->n_vocab && c->n_vocab != emb->shape[0])
        return bn_error(BITNET_ERR_BAD_FORMAT, "config.json: vocab_size %lld, but model.embed_tokens.weight has %lld rows",
                        (long long)c->n_vocab, (long long)emb->shape[0]);
    c->n_vocab = emb->shape[0];
    bitnet_status s = add(c, "token_embd.weight", "model.embed_tokens.weight", NULL, R_MATRIX, c->n_embd, c->n_vocab, 0,
                          false);
    for (int64_t l = 0; !s && l < c->n_layer; l++)
        s = add_layer(c, l);
    if (!s)
        s = add(c, "output_norm.weight", "model.norm.weight", NULL, R_VECTOR, c->n_embd, 1, 0, false);
    if (!s && c->tied)
        st_get(c, "lm_head.weight"); /* a tied head, when stored, is the embedding again */
    else if (!s)
        s = add(c, "output.weight", "lm_head.weight", NULL, R_MATRIX, c->n_embd, c->n_vocab, 0, false);
    if (s)
        return s;
    for (int64_t i = 0; i < c->st.n_tensors; i++)
        if (!c->used[i] && !ignorable(c->st.tensors[i].name))
            return bn_error(BITNET_ERR_UNSUPPORTED,
                            "model.safetensors: tensor '%s' is not part of a %s model as this library runs it",
                            c->st.tensors[i].name, c->arch);
    return BITNET_OK;
}

/* ---- the build ------------------------------------------------------------- */

static bitnet_status index_tables(bn_gguf *g)
{
    if (bn_strmap_init(&g->kv_map, (size_t)g->n_kv) || bn_strmap_init(&g->tensor_map, (size_t)g->n_tensors))
        return oom("the metadata index");
    for (int64_t i = 0; i < g->n_kv; i++)
        if (bn_strmap_insert(&g->kv_map, g->kv[i].key, (size_t)g->kv[i].key_len, i) != 0)
            return bn_error(BITNET_ERR_INTERNAL, "metadata key '%s' twice", g->kv[i].key);
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (bn_strmap_insert(&g->tensor_map, g->tensors[i].name, (size_t)g->tensors[i].name_len, i) != 0)
            return bn_error(BITNET_ERR_INTERNAL, "tensor '%s' twice", g->tensors[i].name);
    return BITNET_OK;
}

static bitnet_status build(bn_hf_ctx *c)
{
    const bn_hf_files *in = c->in;
    /* The documents first (cheap), then the tensors (conversions), then
     * the tokenizer, which needs the vocabulary size of the embedding. */
    bitnet_status s = bn_json_parse(in->config, in->config_len, BN_HF_MAX_CONFIG, "config.json", &c->tmp, &c->config);
    if (!s)
        s = bn_json_parse(in->tokenizer, in->tokenizer_len, BN_HF_MAX_TOKENIZER, "tokenizer.json", &c->tmp,
                          &c->tokenizer);
    if (!s && in->tokenizer_config)
        s = bn_json_parse(in->tokenizer_config, in->tokenizer_config_len, BN_HF_MAX_CONFIG, "tokenizer_config.json",
                          &c->tmp, &c->tok_config);
    if (!s)
        s = read_config(c);
    if (!s)
        s = bn_safetensors_parse(&c->st, in->st, in->st_size);
    if (s)
        return s;
    c->used = bn_calloc((size_t)(c->st.n_tensors ? c->st.n_tensors : 1), 1);
    if (!c->used)
        return oom("the tensor list");
    c->g->version = 0; /* not a GGUF file */
    c->g->alignment = BN_GGUF_DEFAULT_ALIGNMENT;
    c->g->data_offset = c->st.data_start; /* the state fingerprint hashes the SafeTensors header */
    if ((s = add_tensors(c)) || (s = write_hparams(c)) || (s = bn_hf_tokenizer(c)))
        return s;
    return index_tables(c->g);
}

bitnet_status bn_hf_build(const bn_hf_files *in, bn_gguf *g)
{
    memset(g, 0, sizeof *g);
    bn_hf_ctx c;
    memset(&c, 0, sizeof c);
    c.in = in;
    c.g = g;
    bitnet_status s = build(&c);
    bn_free(c.used);
    bn_safetensors_free(&c.st);
    bn_arena_free(&c.tmp);
    if (s)
        bn_gguf_free(g);
    else
        bn_log(BITNET_LOG_INFO, "Hugging Face model: %s, %lld tensors, %lld metadata keys", c.arch,
               (long long)g->n_tensors, (long long)g->n_kv);
    return s;
}
