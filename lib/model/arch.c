#include "model/arch.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "quant/quant.h"

static const struct bitnet_value *find(const bn_gguf *g, const char *key)
{
    int64_t i = bn_gguf_find_kv(g, key);
    return i < 0 ? NULL : &g->kv[i].value;
}

/* `arch.suffix` as a positive integer; required unless def >= 0. */
static bitnet_status get_int(const bn_gguf *g, const char *arch, const char *suffix, int64_t def, int64_t *out)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    const struct bitnet_value *v = find(g, key);
    if (!v) {
        if (def >= 0) {
            *out = def;
            return BITNET_OK;
        }
        return bn_error(BITNET_ERR_BAD_FORMAT, "missing metadata key '%s'", key);
    }
    int64_t x;
    if (bitnet_value_int(v, &x) || x <= 0 || x > (1 << 24))
        return bn_error(BITNET_ERR_BAD_FORMAT, "metadata key '%s' must be a positive integer <= 2^24", key);
    *out = x;
    return BITNET_OK;
}

static bitnet_status get_float(const bn_gguf *g, const char *arch, const char *suffix, double def, float *out)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    const struct bitnet_value *v = find(g, key);
    double x = def;
    if (v && (bitnet_value_float(v, &x) || !(x > 0) || x > 1e30))
        return bn_error(BITNET_ERR_BAD_FORMAT, "metadata key '%s' must be a positive float", key);
    *out = (float)x;
    return BITNET_OK;
}

static bitnet_status read_hparams(const bn_gguf *g, bn_hparams *hp)
{
    const struct bitnet_value *a = find(g, "general.architecture");
    if (!a || a->type != BITNET_VALUE_STRING)
        return bn_error(BITNET_ERR_BAD_FORMAT, "missing metadata key 'general.architecture' (string)");
    const char *arch = a->v.str;
    memset(hp, 0, sizeof *hp);
    if (strcmp(arch, "llama") == 0) {
        hp->arch = BN_ARCH_LLAMA;
    } else if (strcmp(arch, "bitnet-b1.58") == 0) {
        hp->arch = BN_ARCH_BITNET_B158;
        hp->rope_neox = hp->act_i8 = hp->sub_norms = hp->relu2 = true;
    } else if (strcmp(arch, "bitnet") == 0) {
        /* 1bitLLM's b1.58 models as llama.cpp names them: SiLU-gated FFN. */
        hp->arch = BN_ARCH_BITNET;
        hp->rope_neox = hp->act_i8 = hp->sub_norms = true;
    } else {
        return bn_error(BITNET_ERR_UNSUPPORTED,
                        "architecture '%s' is not supported (llama, bitnet-b1.58, bitnet are)", arch);
    }
    hp->arch_name = arch;
    bitnet_status s;
    if ((s = get_int(g, arch, "embedding_length", -1, &hp->n_embd)) ||
        (s = get_int(g, arch, "block_count", -1, &hp->n_layer)) ||
        (s = get_int(g, arch, "attention.head_count", -1, &hp->n_head)) ||
        (s = get_int(g, arch, "attention.head_count_kv", hp->n_head, &hp->n_head_kv)) ||
        (s = get_int(g, arch, "feed_forward_length", -1, &hp->n_ff)) ||
        (s = get_int(g, arch, "context_length", 2048, &hp->n_ctx_train)) ||
        (s = get_float(g, arch, "attention.layer_norm_rms_epsilon", 1e-5, &hp->norm_eps)) ||
        (s = get_float(g, arch, "rope.freq_base", 10000.0, &hp->rope_base)))
        return s;
    if (hp->n_embd % hp->n_head != 0)
        return bn_error(BITNET_ERR_BAD_FORMAT, "%s.embedding_length %lld is not a multiple of head_count %lld", arch,
                        (long long)hp->n_embd, (long long)hp->n_head);
    if (hp->n_head % hp->n_head_kv != 0)
        return bn_error(BITNET_ERR_BAD_FORMAT, "%s.attention.head_count %lld is not a multiple of head_count_kv %lld",
                        arch, (long long)hp->n_head, (long long)hp->n_head_kv);
    hp->head_dim = hp->n_embd / hp->n_head;
    if ((s = get_int(g, arch, "rope.dimension_count", hp->head_dim, &hp->n_rot)))
        return s;
    if (hp->n_rot > hp->head_dim || hp->n_rot % 2 != 0)
        return bn_error(BITNET_ERR_BAD_FORMAT, "%s.rope.dimension_count %lld must be even and <= the head size %lld",
                        arch, (long long)hp->n_rot, (long long)hp->head_dim);
    return BITNET_OK;
}

static const bn_gguf_tensor *tensor(const bn_gguf *g, const char *name)
{
    int64_t i = bn_gguf_find_tensor(g, name);
    return i < 0 ? NULL : &g->tensors[i];
}

/* A tensor by name with the expected shape [ne0, ne1] (ne1 = 1: a vector). */
static bitnet_status bind_tensor(const bn_gguf *g, const char *name, int64_t ne0, int64_t ne1, bool optional,
                                 const bn_gguf_tensor **out)
{
    const bn_gguf_tensor *t = tensor(g, name);
    *out = t;
    if (!t)
        return optional ? BITNET_OK : bn_error(BITNET_ERR_BAD_FORMAT, "missing tensor '%s'", name);
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1)
        return bn_error(BITNET_ERR_BAD_FORMAT, "tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]",
                        name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3],
                        (long long)ne0, (long long)ne1);
    const bn_type_traits *tr = bn_type_traits_get(t->type);
    if (!tr || !tr->dequantize_row)
        return bn_error(BITNET_ERR_UNSUPPORTED, "tensor '%s' has type id %u, which this build cannot compute with",
                        name, t->type);
    return BITNET_OK;
}

static bitnet_status bind_weights(const bn_gguf *g, const char *name, int64_t n, int64_t rows, bitnet_weights *w)
{
    const bn_gguf_tensor *t;
    bitnet_status s = bind_tensor(g, name, n, rows, false, &t);
    if (s)
        return s;
    const bn_type_traits *tr = bn_type_traits_get(t->type);
    w->type = t->type;
    w->data = t->data;
    w->n = n;
    w->n_rows = rows;
    w->row_bytes = (size_t)(n / tr->block_elems * tr->block_bytes);
    w->tail = tr->tail_bytes ? t->data + t->n_bytes - (uint64_t)tr->tail_bytes : NULL;
    return BITNET_OK;
}

/* Weights plus the optional 1-element scale tensor "<stem>.scale". */
static bitnet_status bind_linear(const bn_gguf *g, const char *weight_name, int64_t n, int64_t rows, bn_linear *out)
{
    bitnet_status s = bind_weights(g, weight_name, n, rows, &out->w);
    if (s)
        return s;
    out->idx = bn_gguf_find_tensor(g, weight_name);
    out->t = &g->tensors[out->idx];
    char name[112];
    size_t stem = strlen(weight_name) - strlen(".weight");
    snprintf(name, sizeof name, "%.*s.scale", (int)stem, weight_name);
    const bn_gguf_tensor *t = tensor(g, name);
    out->scale = 1.0f;
    if (!t)
        return BITNET_OK;
    const bn_type_traits *tr = bn_type_traits_get(t->type);
    if (t->n_elements != 1 || !tr || !tr->dequantize_row || tr->block_elems != 1)
        return bn_error(BITNET_ERR_BAD_FORMAT, "tensor '%s' must be one float", name);
    tr->dequantize_row(t->data, &out->scale, 1, NULL);
    return BITNET_OK;
}

static bitnet_status bind_layer(const bn_gguf *g, const bn_hparams *hp, int64_t l, bn_layer *L)
{
    char name[96];
    const int64_t e = hp->n_embd, kv = hp->n_head_kv * hp->head_dim, ff = hp->n_ff;
    bitnet_status s;
#define NAME(suffix) (snprintf(name, sizeof name, "blk.%lld." suffix ".weight", (long long)l), name)
    if ((s = bind_tensor(g, NAME("attn_norm"), e, 1, false, &L->attn_norm)) ||
        (s = bind_tensor(g, NAME("ffn_norm"), e, 1, false, &L->ffn_norm)) ||
        (s = bind_linear(g, NAME("attn_q"), e, e, &L->wq)) || (s = bind_linear(g, NAME("attn_k"), e, kv, &L->wk)) ||
        (s = bind_linear(g, NAME("attn_v"), e, kv, &L->wv)) ||
        (s = bind_linear(g, NAME("attn_output"), e, e, &L->wo)) ||
        (s = bind_linear(g, NAME("ffn_gate"), e, ff, &L->gate)) ||
        (s = bind_linear(g, NAME("ffn_up"), e, ff, &L->up)) ||
        (s = bind_linear(g, NAME("ffn_down"), ff, e, &L->down)))
        return s;
    if (hp->sub_norms && ((s = bind_tensor(g, NAME("attn_sub_norm"), e, 1, false, &L->attn_sub_norm)) ||
                          (s = bind_tensor(g, NAME("ffn_sub_norm"), ff, 1, false, &L->ffn_sub_norm))))
        return s;
#undef NAME
    return BITNET_OK;
}

bitnet_status bn_arch_bind(const bn_gguf *g, bn_arch_model *am)
{
    memset(am, 0, sizeof *am);
    bitnet_status s = read_hparams(g, &am->hp);
    if (s)
        return s;
    bn_hparams *hp = &am->hp;
    am->tok_embd = tensor(g, "token_embd.weight");
    if (!am->tok_embd)
        return bn_error(BITNET_ERR_BAD_FORMAT, "missing tensor 'token_embd.weight'");
    hp->n_vocab = am->tok_embd->ne[1];
    if ((s = bind_tensor(g, "token_embd.weight", hp->n_embd, hp->n_vocab, false, &am->tok_embd)) ||
        (s = bind_tensor(g, "output_norm.weight", hp->n_embd, 1, false, &am->output_norm)))
        return s;
    /* Callers size their reads of a logits row by bitnet_vocab_size() (the
     * README's generation loop does): the tokenizer must not name more
     * tokens than the embedding and the head have rows. Fewer is fine
     * (embeddings padded to a round size). */
    const struct bitnet_value *toks = find(g, "tokenizer.ggml.tokens");
    if (toks && toks->type == BITNET_VALUE_ARRAY && toks->len > (uint64_t)hp->n_vocab)
        return bn_error(BITNET_ERR_BAD_FORMAT,
                        "tokenizer.ggml.tokens has %llu entries, more than the %lld rows of token_embd.weight",
                        (unsigned long long)toks->len, (long long)hp->n_vocab);
    const char *head = tensor(g, "output.weight") ? "output.weight" : "token_embd.weight";
    if ((s = bind_weights(g, head, hp->n_embd, hp->n_vocab, &am->output)))
        return s;
    /* Each block has at least 9 tensors (2 norms, 7 matrices): a block_count
     * the tensor table cannot back is refused before the layer table is
     * allocated (2^24 blocks would take gigabytes from a 4-byte value). */
    if (hp->n_layer > g->n_tensors / 9)
        return bn_error(BITNET_ERR_BAD_FORMAT, "%s.block_count %lld needs at least %lld tensors; the file has %lld",
                        hp->arch_name, (long long)hp->n_layer, (long long)hp->n_layer * 9, (long long)g->n_tensors);
    am->layers = bn_calloc((size_t)hp->n_layer, sizeof *am->layers);
    if (!am->layers)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate %lld layers", (long long)hp->n_layer);
    for (int64_t l = 0; l < hp->n_layer; l++)
        if ((s = bind_layer(g, hp, l, &am->layers[l]))) {
            bn_arch_free(am);
            return s;
        }
    return BITNET_OK;
}

void bn_arch_free(bn_arch_model *am)
{
    bn_free(am->layers);
    am->layers = NULL;
}
