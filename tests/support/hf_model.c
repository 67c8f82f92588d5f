#include "support/hf_model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- growable text --------------------------------------------------------- */

typedef struct text {
    char *p;
    size_t len, cap;
} text;

static void put(text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p)
            abort();
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void puts_(text *t, const char *s)
{
    put(t, s, strlen(s));
}

static void printf_(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void printf_(text *t, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    put(t, buf, (size_t)n);
}

/* A JSON string literal of s (escaping quotes, backslashes, controls). */
static void put_json_string(text *t, const char *s)
{
    puts_(t, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf_(t, "\\%c", c);
        else if (c < 0x20)
            printf_(t, "\\u%04x", c);
        else
            put(t, s, 1);
    }
    puts_(t, "\"");
}

/* ---- SafeTensors writer ------------------------------------------------------ */

typedef struct st_entry {
    char name[128], dtype[8];
    int n_dims;
    int64_t shape[4];
    uint8_t *data;
    size_t bytes;
} st_entry;

struct st_writer {
    st_entry *e;
    size_t n, cap;
};

st_writer *st_writer_new(void)
{
    st_writer *w = calloc(1, sizeof *w);
    if (!w)
        abort();
    return w;
}

void st_writer_free(st_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++)
        free(w->e[i].data);
    free(w->e);
    free(w);
}

void st_writer_add(st_writer *w, const char *name, const char *dtype, int n_dims, const int64_t *shape,
                   const void *data, size_t bytes)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 16;
        w->e = realloc(w->e, w->cap * sizeof *w->e);
        if (!w->e)
            abort();
    }
    st_entry *e = &w->e[w->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->dtype, sizeof e->dtype, "%s", dtype);
    e->n_dims = n_dims;
    memcpy(e->shape, shape, (size_t)n_dims * sizeof *shape);
    e->data = malloc(bytes ? bytes : 1);
    if (!e->data)
        abort();
    memcpy(e->data, data, bytes);
    e->bytes = bytes;
}

uint8_t *st_writer_finish(const st_writer *w, size_t *size)
{
    text h = {0};
    puts_(&h, "{\"__metadata__\":{\"format\":\"pt\"}");
    size_t off = 0;
    for (size_t i = 0; i < w->n; i++) {
        const st_entry *e = &w->e[i];
        puts_(&h, ",");
        put_json_string(&h, e->name);
        printf_(&h, ":{\"dtype\":\"%s\",\"shape\":[", e->dtype);
        for (int d = 0; d < e->n_dims; d++)
            printf_(&h, "%s%lld", d ? "," : "", (long long)e->shape[d]);
        printf_(&h, "],\"data_offsets\":[%zu,%zu]}", off, off + e->bytes);
        off += e->bytes;
    }
    puts_(&h, "}");
    while (h.len % 8)
        puts_(&h, " ");
    *size = 8 + h.len + off;
    uint8_t *out = malloc(*size);
    if (!out)
        abort();
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)((uint64_t)h.len >> (8 * i));
    memcpy(out + 8, h.p, h.len);
    size_t at = 8 + h.len;
    for (size_t i = 0; i < w->n; i++) {
        memcpy(out + at, w->e[i].data, w->e[i].bytes);
        at += w->e[i].bytes;
    }
    free(h.p);
    return out;
}

/* ---- the tiny model ---------------------------------------------------------- */

static uint32_t rng(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static uint16_t bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}

static void add_bf16(st_writer *w, const char *name, int n_dims, const int64_t *shape, const float *v, size_t n)
{
    uint16_t *b = malloc(n * 2);
    if (!b)
        abort();
    for (size_t i = 0; i < n; i++)
        b[i] = bf16(v[i]);
    st_writer_add(w, name, "BF16", n_dims, shape, b, n * 2);
    free(b);
}

static void add_vector(st_writer *w, const char *name, int64_t n, uint32_t *s)
{
    float *v = malloc((size_t)n * sizeof *v);
    if (!v)
        abort();
    for (int64_t i = 0; i < n; i++)
        v[i] = 1.0f + (float)(rng(s) % 200) / 1000.0f - 0.1f;
    add_bf16(w, name, 1, &n, v, (size_t)n);
    free(v);
}

/* A linear weight [rows, n] of ternary codes: packed U8 [rows/4, n] with a
 * weight_scale, or BF16 floats code / scale. */
static void add_linear(st_writer *w, const char *name, int64_t rows, int64_t n, bool floats, uint32_t *s)
{
    const float ws = 8.0f + (float)(rng(s) % 16);
    int8_t *codes = malloc((size_t)(rows * n));
    if (!codes)
        abort();
    for (int64_t i = 0; i < rows * n; i++)
        codes[i] = (int8_t)((int)(rng(s) % 3) - 1);
    if (floats) {
        float *v = malloc((size_t)(rows * n) * sizeof *v);
        if (!v)
            abort();
        for (int64_t i = 0; i < rows * n; i++)
            v[i] = (float)codes[i] / ws;
        int64_t shape[2] = {rows, n};
        add_bf16(w, name, 2, shape, v, (size_t)(rows * n));
        free(v);
    } else {
        const int64_t p = rows / 4;
        uint8_t *packed = calloc((size_t)(p * n), 1);
        if (!packed)
            abort();
        for (int64_t r = 0; r < rows; r++)
            for (int64_t k = 0; k < n; k++)
                packed[(r % p) * n + k] |= (uint8_t)((codes[r * n + k] + 1) << (2 * (r / p)));
        int64_t shape[2] = {p, n}, one = 1;
        st_writer_add(w, name, "U8", 2, shape, packed, (size_t)(p * n));
        char sname[160];
        snprintf(sname, sizeof sname, "%s_scale", name);
        add_bf16(w, sname, 1, &one, &ws, 1);
        free(packed);
    }
    free(codes);
}

int hf_byte_text(int b, char out[3])
{
    uint32_t cp;
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) {
        cp = (uint32_t)b;
    } else {
        cp = 256;
        for (int k = 0; k < b; k++)
            if (!((k >= 33 && k <= 126) || (k >= 161 && k <= 172) || (k >= 174 && k <= 255)))
                cp++;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = '\0';
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    out[2] = '\0';
    return 2;
}

#define N_EMBD 128
#define N_FF 256
#define N_VOCAB 260

static char *make_tokenizer(void)
{
    text t = {0};
    puts_(&t, "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":["
              "{\"id\":258,\"content\":\"<|begin_of_text|>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
              "\"normalized\":false,\"special\":true},"
              "{\"id\":259,\"content\":\"<|end_of_text|>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
              "\"normalized\":false,\"special\":true}],"
              "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\","
              "\"pattern\":{\"Regex\":\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|"
              "\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},"
              "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
              "\"trim_offsets\":true,\"use_regex\":false}]},"
              "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":"
              "\"<|begin_of_text|>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"pair\":[],"
              "\"special_tokens\":{}},"
              "\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true},"
              "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"continuing_subword_prefix\":null,"
              "\"end_of_word_suffix\":null,\"fuse_unk\":false,\"byte_fallback\":false,\"ignore_merges\":true,"
              "\"vocab\":{");
    for (int b = 0; b < 256; b++) {
        char s[3];
        hf_byte_text(b, s);
        puts_(&t, b ? "," : "");
        put_json_string(&t, s);
        printf_(&t, ":%d", b);
    }
    puts_(&t, ",\"\xC4\xA0t\":256,\"he\":257},\"merges\":[\"\xC4\xA0 t\",\"h e\"]}}");
    return t.p;
}

void hf_model_make(const hf_model_opts *o, hf_model *m)
{
    memset(m, 0, sizeof *m);
    uint32_t s = o->seed ? o->seed : 1;
    const bool floats = o->float_weights || o->llama;
    text c = {0};
    printf_(&c,
            "{\n  \"architectures\": [\"%s\"],\n  \"model_type\": \"%s\",\n  \"hidden_act\": \"%s\",\n"
            "  \"hidden_size\": %d,\n  \"intermediate_size\": %d,\n  \"num_hidden_layers\": 1,\n"
            "  \"num_attention_heads\": 2,\n  \"num_key_value_heads\": 1,\n  \"vocab_size\": %d,\n"
            "  \"max_position_embeddings\": 64,\n  \"rms_norm_eps\": 1e-05,\n  \"rope_theta\": 500000.0,\n"
            "  \"tie_word_embeddings\": %s,\n  \"bos_token_id\": 258,\n  \"eos_token_id\": 259",
            o->llama ? "LlamaForCausalLM" : "BitNetForCausalLM", o->llama ? "llama" : "bitnet",
            o->llama ? "silu" : "relu2", N_EMBD, N_FF, N_VOCAB, o->untied ? "false" : "true");
    if (!o->llama && !floats)
        puts_(&c, ",\n  \"quantization_config\": {\"quant_method\": \"bitnet\", \"linear_class\": \"autobitlinear\", "
                  "\"quantization_mode\": \"offline\"}");
    puts_(&c, "\n}\n");
    m->config = c.p;
    m->tokenizer = make_tokenizer();
    text tc = {0};
    puts_(&tc, "{\"bos_token\": \"<|begin_of_text|>\", \"eos_token\": \"<|end_of_text|>\", \"add_bos_token\": true}");
    m->tokenizer_config = tc.p;

    st_writer *w = st_writer_new();
    float *emb = malloc(N_VOCAB * N_EMBD * sizeof *emb);
    if (!emb)
        abort();
    for (int i = 0; i < N_VOCAB * N_EMBD; i++)
        emb[i] = ((float)(rng(&s) % 2001) - 1000.0f) / 1000.0f;
    int64_t es[2] = {N_VOCAB, N_EMBD};
    add_bf16(w, "model.embed_tokens.weight", 2, es, emb, N_VOCAB * N_EMBD);
    add_vector(w, "model.layers.0.input_layernorm.weight", N_EMBD, &s);
    add_vector(w, "model.layers.0.post_attention_layernorm.weight", N_EMBD, &s);
    if (!o->llama) {
        add_vector(w, "model.layers.0.self_attn.attn_sub_norm.weight", N_EMBD, &s);
        add_vector(w, "model.layers.0.mlp.ffn_sub_norm.weight", N_FF, &s);
    }
    add_linear(w, "model.layers.0.self_attn.q_proj.weight", N_EMBD, N_EMBD, floats, &s);
    add_linear(w, "model.layers.0.self_attn.k_proj.weight", 64, N_EMBD, floats, &s);
    add_linear(w, "model.layers.0.self_attn.v_proj.weight", 64, N_EMBD, floats, &s);
    add_linear(w, "model.layers.0.self_attn.o_proj.weight", N_EMBD, N_EMBD, floats, &s);
    add_linear(w, "model.layers.0.mlp.gate_proj.weight", N_FF, N_EMBD, floats, &s);
    add_linear(w, "model.layers.0.mlp.up_proj.weight", N_FF, N_EMBD, floats, &s);
    add_linear(w, "model.layers.0.mlp.down_proj.weight", N_EMBD, N_FF, floats, &s);
    add_vector(w, "model.norm.weight", N_EMBD, &s);
    if (o->untied) {
        for (int i = 0; i < N_VOCAB * N_EMBD; i++)
            emb[i] = ((float)(rng(&s) % 2001) - 1000.0f) / 1000.0f;
        add_bf16(w, "lm_head.weight", 2, es, emb, N_VOCAB * N_EMBD);
    }
    free(emb);
    m->st = st_writer_finish(w, &m->st_size);
    st_writer_free(w);
}

void hf_model_free(hf_model *m)
{
    free(m->config);
    free(m->tokenizer);
    free(m->tokenizer_config);
    free(m->st);
    memset(m, 0, sizeof *m);
}

int write_file(const char *dir, const char *name, const void *data, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int rc = fwrite(data, 1, size, f) == size ? 0 : -1;
    return fclose(f) == 0 ? rc : -1;
}

int hf_model_write(const hf_model *m, const char *dir)
{
    int rc = write_file(dir, "config.json", m->config, strlen(m->config));
    rc |= write_file(dir, "tokenizer.json", m->tokenizer, strlen(m->tokenizer));
    rc |= write_file(dir, "tokenizer_config.json", m->tokenizer_config, strlen(m->tokenizer_config));
    rc |= write_file(dir, "model.safetensors", m->st, m->st_size);
    return rc;
}

void hf_model_remove_dir(const char *dir)
{
    static const char *const files[] = {"config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors",
                                        "model.safetensors.index.json"};
    char path[4096];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}
