/* bitnet gen-model: write a synthetic model with real shapes (BitNet b1.58
 * 2B-4T or a tiny one) for benchmarks and tests. Weights are random ternary
 * codes times a per-tensor scale, quantized with the library's reference
 * quantizers; the tokenizer is a minimal byte-level BPE one. The file is
 * streamed tensor by tensor, so memory stays at one tensor (the embedding is
 * done in row chunks), and the same seed always gives the same bytes.
 *
 * Links the internal archive: it needs the GGUF writer and the type traits. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "cli.h"
#include "core/error.h"
#include "loader/gguf_writer.h"
#include "quant/quant.h"

static const char usage[] =
    "bitnet gen-model --out FILE [--arch bitnet-b1.58|bitnet|llama] [--type i2_s|tq1_0|tq2_0|q8_0|f16]\n"
    "                 [--head f16|q8_0|q6_k] [--shape 2b4t|small] [--layers N] [--seed S]";

typedef struct gen_shape {
    const char *name;
    int64_t n_vocab, n_embd, n_layer, n_ff, n_head, n_head_kv, n_ctx;
    float rope_base;
} gen_shape;

/* 2b4t: microsoft/BitNet-b1.58-2B-4T. small: a tiny model for tests whose
 * row lengths are whole blocks of every supported type (256). */
static const gen_shape shapes[] = {
    {"2b4t", 128256, 2560, 30, 6912, 20, 5, 4096, 500000.0f},
    {"small", 512, 256, 2, 512, 4, 2, 256, 500000.0f},
};

typedef struct gen_spec {
    gen_shape sh;
    const char *arch;
    bool sub_norms;
    uint32_t type, head_type;
    uint64_t seed;
} gen_spec;

/* ---- deterministic random numbers: splitmix64, one stream per tensor ---- */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rng_unit(uint64_t *s)
{
    return (double)(splitmix64(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* The stream of a tensor depends on the seed and its name only, so adding a
 * tensor never changes the others. */
static uint64_t stream_for(uint64_t seed, const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = name; *p; p++)
        h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    uint64_t s = seed ^ h;
    splitmix64(&s);
    return s;
}

/* ---- tensor list ---- */

typedef enum tensor_kind { T_NORM, T_SUBNORM, T_MATRIX, T_EMBD } tensor_kind;

typedef struct gen_tensor {
    char name[64];
    tensor_kind kind;
    uint32_t type;
    int64_t ne[2];
    uint32_t n_dims;
    uint64_t n_bytes;
} gen_tensor;

static void add_t(gen_tensor *t, size_t *n, const char *name, tensor_kind kind, uint32_t type, int64_t ne0, int64_t ne1)
{
    gen_tensor *x = &t[(*n)++];
    snprintf(x->name, sizeof x->name, "%s", name);
    x->kind = kind;
    x->type = type;
    x->ne[0] = ne0;
    x->ne[1] = ne1;
    x->n_dims = ne1 > 1 ? 2 : 1;
    x->n_bytes = bn_type_tensor_bytes(type, ne0 * ne1);
}

/* Same names and order as the kjv-bitnet fixtures (llama.cpp's bitnet arch
 * uses the same names). */
static gen_tensor *build_tensors(const gen_spec *sp, size_t *count)
{
    const gen_shape *s = &sp->sh;
    const int64_t e = s->n_embd, kv = s->n_embd / s->n_head * s->n_head_kv, ff = s->n_ff;
    gen_tensor *t = calloc((size_t)(2 + 11 * s->n_layer), sizeof *t);
    if (!t)
        return NULL;
    size_t n = 0;
    char name[64];
    add_t(t, &n, "token_embd.weight", T_EMBD, sp->head_type, e, s->n_vocab);
    for (int64_t l = 0; l < s->n_layer; l++) {
#define NM(x) (snprintf(name, sizeof name, "blk.%" PRId64 "." x ".weight", l), name)
        add_t(t, &n, NM("attn_norm"), T_NORM, BITNET_TYPE_F32, e, 1);
        add_t(t, &n, NM("ffn_norm"), T_NORM, BITNET_TYPE_F32, e, 1);
        if (sp->sub_norms) {
            add_t(t, &n, NM("attn_sub_norm"), T_SUBNORM, BITNET_TYPE_F32, e, 1);
            add_t(t, &n, NM("ffn_sub_norm"), T_SUBNORM, BITNET_TYPE_F32, ff, 1);
        }
        add_t(t, &n, NM("attn_q"), T_MATRIX, sp->type, e, e);
        add_t(t, &n, NM("attn_k"), T_MATRIX, sp->type, e, kv);
        add_t(t, &n, NM("attn_v"), T_MATRIX, sp->type, e, kv);
        add_t(t, &n, NM("attn_output"), T_MATRIX, sp->type, e, e);
        add_t(t, &n, NM("ffn_gate"), T_MATRIX, sp->type, e, ff);
        add_t(t, &n, NM("ffn_up"), T_MATRIX, sp->type, e, ff);
        add_t(t, &n, NM("ffn_down"), T_MATRIX, sp->type, ff, e);
#undef NM
    }
    add_t(t, &n, "output_norm.weight", T_NORM, BITNET_TYPE_F32, e, 1);
    *count = n;
    return t;
}

/* Float values of elements [first, first + n) of a tensor, drawn in element
 * order from its stream (so chunked generation equals whole generation). */
static void fill_values(const gen_tensor *t, uint64_t *rng, float scale, float *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        switch (t->kind) {
        case T_MATRIX: /* codes -1, 0, +1 equally likely */
            dst[i] = (float)((int)(splitmix64(rng) % 3) - 1) * scale;
            break;
        case T_EMBD:
            dst[i] = (float)((2.0 * rng_unit(rng) - 1.0) * scale);
            break;
        case T_NORM:
        case T_SUBNORM:
            dst[i] = (float)(1.0 + 0.1 * (rng_unit(rng) - 0.5));
            break;
        }
    }
}

/* Per-tensor scale: unit output variance for unit-variance input, rounded to
 * an f16 value so every format (f16 block scales included) stores it exactly. */
static float tensor_scale(const gen_tensor *t)
{
    double s = t->kind == T_MATRIX ? 1.0 / sqrt(2.0 / 3.0 * (double)t->ne[0]) : sqrt(3.0 / (double)t->ne[0]);
    return bn_fp16_to_fp32(bn_fp32_to_fp16((float)s));
}

static bool write_zeros(FILE *fp, uint64_t n)
{
    static const uint8_t z[4096];
    while (n) {
        size_t c = n < sizeof z ? (size_t)n : sizeof z;
        if (fwrite(z, 1, c, fp) != c)
            return false;
        n -= c;
    }
    return true;
}

/* Quantize and write one tensor. Types without a per-tensor tail are
 * row-independent, so big tensors go in row chunks; I2_S (one scale for the
 * tensor) is quantized whole — its largest tensor is one FFN matrix. */
static bitnet_status write_tensor(FILE *fp, const gen_tensor *t, uint64_t seed)
{
    const bn_type_traits *tr = bn_type_traits_get(t->type);
    if (!tr || !tr->quantize)
        return BITNET_ERR_UNSUPPORTED;
    const int64_t rows = t->ne[1], per = t->ne[0];
    int64_t chunk = rows;
    if (tr->tail_bytes == 0) {
        chunk = ((int64_t)1 << 22) / per; /* ~16 MiB of floats */
        chunk = chunk < 1 ? 1 : chunk > rows ? rows : chunk;
    }
    float *f = malloc((size_t)(chunk * per) * sizeof *f);
    uint8_t *q = malloc((size_t)bn_type_tensor_bytes(t->type, chunk * per));
    bitnet_status st = f && q ? BITNET_OK : BITNET_ERR_OUT_OF_MEMORY;
    uint64_t rng = stream_for(seed, t->name), written = 0;
    const float scale = tensor_scale(t);
    for (int64_t r = 0; st == BITNET_OK && r < rows; r += chunk) {
        int64_t nr = rows - r < chunk ? rows - r : chunk;
        fill_values(t, &rng, scale, f, nr * per);
        tr->quantize(f, q, nr, per);
        uint64_t nb = bn_type_tensor_bytes(t->type, nr * per);
        if (fwrite(q, 1, (size_t)nb, fp) != nb)
            st = BITNET_ERR_IO;
        written += nb;
    }
    if (st == BITNET_OK && written != t->n_bytes)
        st = BITNET_ERR_INTERNAL;
    free(f);
    free(q);
    return st;
}

/* ---- tokenizer: 256 byte tokens (GPT-2 byte-to-unicode text), merges
 * that build real vocabulary entries, fillers, then special tokens ---- */

static int put_utf8(char *dst, uint32_t cp)
{
    if (cp < 0x80) {
        dst[0] = (char)cp;
        return 1;
    }
    dst[0] = (char)(0xC0 | (cp >> 6));
    dst[1] = (char)(0x80 | (cp & 0x3F));
    return 2; /* byte tokens never exceed U+0143 */
}

/* GPT-2's bytes_to_unicode(): printable bytes map to themselves, the rest
 * to U+0100 upwards in byte order. */
static uint32_t byte_cp(int b)
{
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))
        return (uint32_t)b;
    uint32_t n = 0;
    for (int k = 0; k < b; k++)
        if (!((k >= 33 && k <= 126) || (k >= 161 && k <= 172) || (k >= 174 && k <= 255)))
            n++;
    return 256 + n;
}

typedef struct gen_vocab {
    char **tokens;
    int32_t *types;
    char **merges;
    size_t n_tokens, n_merges;
    uint32_t bos, eos;
} gen_vocab;

static void vocab_free(gen_vocab *v)
{
    for (size_t i = 0; v->tokens && i < v->n_tokens; i++)
        free(v->tokens[i]);
    for (size_t i = 0; v->merges && i < v->n_merges; i++)
        free(v->merges[i]);
    free(v->tokens);
    free(v->types);
    free(v->merges);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

/* Merge k of the synthetic list: "Ġ x" (26), then "x y" (676), then
 * "Ġx y" (676); left and right are always earlier tokens. */
static void merge_k(int k, char *left, char *right, char *result)
{
    static const char sp[] = "\xC4\xA0"; /* Ġ, the space byte */
    if (k < 26) {
        sprintf(left, "%s", sp);
        sprintf(right, "%c", 'a' + k);
        sprintf(result, "%s%c", sp, 'a' + k);
    } else if (k < 26 + 676) {
        k -= 26;
        sprintf(left, "%c", 'a' + k / 26);
        sprintf(right, "%c", 'a' + k % 26);
        sprintf(result, "%c%c", 'a' + k / 26, 'a' + k % 26);
    } else {
        k -= 26 + 676;
        sprintf(left, "%s%c", sp, 'a' + k / 26);
        sprintf(right, "%c", 'a' + k % 26);
        sprintf(result, "%s%c%c", sp, 'a' + k / 26, 'a' + k % 26);
    }
}

static bitnet_status build_vocab(int64_t n_vocab, gen_vocab *v)
{
    const size_t n = (size_t)n_vocab;
    const size_t n_special = n >= 4096 ? 256 : 2; /* Llama 3 keeps 256 */
    const size_t n_normal = n - n_special;
    const size_t max_merges = 26 + 2 * 676;
    size_t n_merges = n_normal - 256 < max_merges ? n_normal - 256 : max_merges;
    memset(v, 0, sizeof *v);
    v->tokens = calloc(n, sizeof *v->tokens);
    v->types = calloc(n, sizeof *v->types);
    v->merges = calloc(n_merges ? n_merges : 1, sizeof *v->merges);
    if (!v->tokens || !v->types || !v->merges)
        return BITNET_ERR_OUT_OF_MEMORY;
    v->n_tokens = n;
    v->n_merges = n_merges;
    char buf[64], l[16], r[16];
    for (size_t i = 0; i < n; i++) {
        v->types[i] = i < n_normal ? 1 : 3; /* normal, control */
        if (i < 256) {
            buf[put_utf8(buf, byte_cp((int)i))] = '\0';
        } else if (i < 256 + n_merges) {
            merge_k((int)(i - 256), l, r, buf);
            snprintf(buf + 32, 32, "%s %s", l, r);
            if (!(v->merges[i - 256] = dup_str(buf + 32)))
                return BITNET_ERR_OUT_OF_MEMORY;
        } else if (i < n_normal) {
            snprintf(buf, sizeof buf, "tok_%zu", i); /* never produced by a merge */
        } else if (i == n_normal) {
            snprintf(buf, sizeof buf, "<|begin_of_text|>");
        } else if (i == n_normal + 1) {
            snprintf(buf, sizeof buf, "<|end_of_text|>");
        } else {
            snprintf(buf, sizeof buf, "<|reserved_special_token_%zu|>", i - n_normal - 2);
        }
        if (!(v->tokens[i] = dup_str(buf)))
            return BITNET_ERR_OUT_OF_MEMORY;
    }
    v->bos = (uint32_t)n_normal;
    v->eos = (uint32_t)n_normal + 1;
    return BITNET_OK;
}

/* ---- metadata ---- */

static uint32_t file_type_of(uint32_t type)
{
    switch (type) {
    case BITNET_TYPE_F16: return 1;    /* LLAMA_FTYPE_MOSTLY_F16 */
    case BITNET_TYPE_Q8_0: return 7;   /* MOSTLY_Q8_0 */
    case BITNET_TYPE_TQ1_0: return 36; /* MOSTLY_TQ1_0 */
    case BITNET_TYPE_TQ2_0: return 37; /* MOSTLY_TQ2_0 */
    case BITNET_TYPE_I2_S: return 40;  /* bitnet.cpp's MOSTLY_I2_S */
    default: return 0;
    }
}

static bitnet_status add_meta(bn_gguf_writer *w, const gen_spec *sp, const gen_vocab *v)
{
    const gen_shape *s = &sp->sh;
    char key[128], name[96];
    bitnet_status st = BITNET_OK;
    snprintf(name, sizeof name, "synthetic-%s-%s-%s", s->name, bitnet_type_name(sp->type), sp->arch);
#define K(suffix) (snprintf(key, sizeof key, "%s." suffix, sp->arch), key)
#define TRY(call) \
    if (st == BITNET_OK) \
    st = (call)
    TRY(bn_gguf_writer_add_string(w, "general.architecture", sp->arch));
    TRY(bn_gguf_writer_add_string(w, "general.name", name));
    TRY(bn_gguf_writer_add_u32(w, "general.file_type", file_type_of(sp->type)));
    TRY(bn_gguf_writer_add_u32(w, K("vocab_size"), (uint32_t)s->n_vocab));
    TRY(bn_gguf_writer_add_u32(w, K("context_length"), (uint32_t)s->n_ctx));
    TRY(bn_gguf_writer_add_u32(w, K("embedding_length"), (uint32_t)s->n_embd));
    TRY(bn_gguf_writer_add_u32(w, K("block_count"), (uint32_t)s->n_layer));
    TRY(bn_gguf_writer_add_u32(w, K("feed_forward_length"), (uint32_t)s->n_ff));
    TRY(bn_gguf_writer_add_u32(w, K("rope.dimension_count"), (uint32_t)(s->n_embd / s->n_head)));
    TRY(bn_gguf_writer_add_u32(w, K("attention.head_count"), (uint32_t)s->n_head));
    TRY(bn_gguf_writer_add_u32(w, K("attention.head_count_kv"), (uint32_t)s->n_head_kv));
    TRY(bn_gguf_writer_add_f32(w, K("attention.layer_norm_rms_epsilon"), 1e-5f));
    TRY(bn_gguf_writer_add_f32(w, K("rope.freq_base"), s->rope_base));
    TRY(bn_gguf_writer_add_string(w, "tokenizer.ggml.model", "gpt2"));
    TRY(bn_gguf_writer_add_string(w, "tokenizer.ggml.pre", "llama-bpe"));
    TRY(bn_gguf_writer_add_string_array(w, "tokenizer.ggml.tokens", (const char *const *)v->tokens, v->n_tokens));
    TRY(bn_gguf_writer_add_array(w, "tokenizer.ggml.token_type", BITNET_VALUE_INT32, v->types, v->n_tokens));
    TRY(bn_gguf_writer_add_string_array(w, "tokenizer.ggml.merges", (const char *const *)v->merges, v->n_merges));
    TRY(bn_gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", v->bos));
    TRY(bn_gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", v->eos));
    TRY(bn_gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", true));
    TRY(bn_gguf_writer_add_bool(w, "tokenizer.ggml.add_eos_token", false));
    TRY(bn_gguf_writer_add_u32(w, "general.alignment", BN_GGUF_WRITER_DEFAULT_ALIGNMENT));
#undef TRY
#undef K
    return st;
}

/* ---- the header alone: the writer streams the whole file, so a cookie
 * stream passes its first `limit` bytes (the header, up to the data
 * section) to the real file and drops the zero data that follows ---- */

typedef struct header_sink {
    FILE *out;
    uint64_t limit, seen;
    bool failed;
} header_sink;

static ssize_t sink_write(void *cookie, const char *buf, size_t size)
{
    header_sink *h = cookie;
    if (h->seen < h->limit) {
        uint64_t keep = h->limit - h->seen;
        size_t n = size < keep ? size : (size_t)keep;
        if (fwrite(buf, 1, n, h->out) != n)
            h->failed = true;
    }
    h->seen += size;
    return h->failed ? -1 : (ssize_t)size;
}

static bitnet_status write_header(const bn_gguf_writer *w, FILE *fp, uint64_t data_offset)
{
    header_sink h = {fp, data_offset, 0, false};
    cookie_io_functions_t io = {.write = sink_write};
    FILE *c = fopencookie(&h, "w", io);
    if (!c)
        return BITNET_ERR_OUT_OF_MEMORY;
    setvbuf(c, NULL, _IOFBF, 1 << 16);
    bitnet_status st = bn_gguf_writer_to_stream(w, c);
    if (fclose(c) != 0 && st == BITNET_OK)
        st = BITNET_ERR_IO;
    if (st == BITNET_OK && (h.failed || h.seen < data_offset))
        st = BITNET_ERR_IO;
    return st;
}

static bitnet_status generate(const gen_spec *sp, const char *path, uint64_t *file_size)
{
    size_t nt = 0;
    gen_tensor *t = build_tensors(sp, &nt);
    gen_vocab v;
    bitnet_status st = t ? build_vocab(sp->sh.n_vocab, &v) : BITNET_ERR_OUT_OF_MEMORY;
    bn_gguf_writer *w = NULL;
    if (st == BITNET_OK)
        st = bn_gguf_writer_new(3, &w);
    if (st == BITNET_OK)
        st = add_meta(w, sp, &v);
    for (size_t i = 0; st == BITNET_OK && i < nt; i++) {
        if (t[i].n_bytes == 0) {
            st = bn_error(BITNET_ERR_INVALID_ARGUMENT, "tensor '%s': a row of %lld is not a whole number of %s blocks", t[i].name,
                              (long long)t[i].ne[0], bitnet_type_name(t[i].type));
            break;
        }
        st = bn_gguf_writer_add_tensor(w, t[i].name, t[i].type, t[i].n_dims, t[i].ne, NULL, t[i].n_bytes);
    }
    bn_gguf_layout lay = {0};
    if (st == BITNET_OK)
        st = bn_gguf_writer_layout(w, &lay);
    FILE *fp = NULL;
    if (st == BITNET_OK && !(fp = fopen(path, "wb")))
        st = bn_error(BITNET_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    if (st == BITNET_OK)
        st = write_header(w, fp, lay.data);
    uint64_t pos = lay.data;
    for (size_t i = 0; st == BITNET_OK && i < nt; i++) {
        bn_gguf_tensor_layout tl;
        if ((st = bn_gguf_writer_tensor_layout(w, i, &tl)))
            break;
        if (tl.data < pos || !write_zeros(fp, tl.data - pos)) {
            st = BITNET_ERR_IO;
            break;
        }
        st = write_tensor(fp, &t[i], sp->seed);
        pos = tl.data + tl.n_bytes;
    }
    if (st == BITNET_OK && !write_zeros(fp, lay.size - pos))
        st = BITNET_ERR_IO;
    if (fp && fclose(fp) != 0 && st == BITNET_OK)
        st = BITNET_ERR_IO;
    if (st == BITNET_ERR_IO && fp)
        bn_error(st, "cannot write %s: %s", path, errno ? strerror(errno) : "short write");
    if (st != BITNET_OK && fp)
        remove(path);
    *file_size = lay.size;
    bn_gguf_writer_free(w);
    if (t)
        vocab_free(&v);
    free(t);
    return st;
}

static int parse_type(const char *s, const char *const *names, size_t n, uint32_t *out)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            for (uint32_t id = 0; id < 64; id++)
                if (strcmp(bitnet_type_name(id), s) == 0) {
                    *out = id;
                    return 0;
                }
    return -1;
}

int cmd_gen_model(int argc, char **argv)
{
    const char *out = NULL, *arch = NULL, *type = NULL, *head = NULL, *shape = NULL, *layers = NULL, *seed = NULL;
    const cli_opt opts[] = {
        {"--out", 1, &out},     {"--arch", 1, &arch},     {"--type", 1, &type}, {"--head", 1, &head},
        {"--shape", 1, &shape}, {"--layers", 1, &layers}, {"--seed", 1, &seed},
    };
    int rc = cli_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), usage);
    if (rc)
        return rc;
    if (!out)
        return cli_usage(usage, "--out is required");
    gen_spec sp = {.sh = shapes[0], .arch = "bitnet-b1.58", .type = BITNET_TYPE_I2_S, .head_type = BITNET_TYPE_F16,
                   .seed = 1};
    if (shape) {
        size_t k = 0;
        while (k < sizeof shapes / sizeof shapes[0] && strcmp(shapes[k].name, shape) != 0)
            k++;
        if (k == sizeof shapes / sizeof shapes[0])
            return cli_usage(usage, "unknown --shape '%s'", shape);
        sp.sh = shapes[k];
    }
    if (arch) {
        if (strcmp(arch, "bitnet-b1.58") != 0 && strcmp(arch, "bitnet") != 0 && strcmp(arch, "llama") != 0)
            return cli_usage(usage, "unknown --arch '%s'", arch);
        sp.arch = arch;
    }
    sp.sub_norms = strcmp(sp.arch, "llama") != 0;
    static const char *const types[] = {"i2_s", "tq1_0", "tq2_0", "q8_0", "f16"};
    static const char *const heads[] = {"f16", "q8_0", "q6_k"};
    if (type && parse_type(type, types, sizeof types / sizeof *types, &sp.type))
        return cli_usage(usage, "unknown --type '%s'", type);
    if (head && parse_type(head, heads, sizeof heads / sizeof *heads, &sp.head_type))
        return cli_usage(usage, "unknown --head '%s'", head);
    long long v;
    if (layers) {
        if ((rc = cli_int(usage, "--layers", layers, 1, 1024, &v)))
            return rc;
        sp.sh.n_layer = v;
    }
    if (seed) {
        if ((rc = cli_int(usage, "--seed", seed, 0, INT64_MAX, &v)))
            return rc;
        sp.seed = (uint64_t)v;
    }
    double t0 = cli_now_ms();
    uint64_t size = 0;
    bitnet_status st = generate(&sp, out, &size);
    if (st)
        return cli_fail("gen-model", st);
    printf("wrote %s: %s, %s weights, %s embedding/head, %" PRId64 " layers, %.1f MiB in %.1f s\n", out, sp.arch,
           bitnet_type_name(sp.type), bitnet_type_name(sp.head_type), sp.sh.n_layer, (double)size / 1048576.0,
           (cli_now_ms() - t0) / 1e3);
    return 0;
}
