/* bitnet convert: a model (a Hugging Face directory, or a GGUF file) to a
 * GGUF file with the library's GGUF writer.
 *
 * Tensor types follow llama.cpp's converter: vectors (norms) F32; linear
 * layers of the blocks --type; the token embedding F16 (Q8_0 with
 * --type q8_0, F16 with --type f16); the output head --head (default as the
 * embedding). A tied head stays tied unless --head asks for another type
 * than the embedding's: then output.weight is written from the embedding.
 * A row length that is not a whole number of blocks of the asked type falls
 * back to F16, as llama.cpp does. Metadata is copied from the loaded model
 * (for a Hugging Face directory: the GGUF keys the loader derived), with
 * general.file_type set. q/k rows are already in the order the
 * architecture runs (permuted for llama at load, kept for BitNet), so the
 * file is what llama.cpp's converter writes for llama and for TQ1_0/TQ2_0.
 *
 * Memory: the file is streamed tensor by tensor; types without a
 * per-tensor scale are converted in row slices, I2_S a tensor at a time.
 * Links the internal archive for the writer, the quantizers and the model's
 * tables. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/error.h"
#include "loader/gguf_writer.h"
#include "model/model_internal.h"
#include "quant/quant.h"

static const char usage[] =
    "bitnet convert --in DIR|FILE --out FILE.gguf --type i2_s|tq1_0|tq2_0|f16|q8_0 [--head q8_0|q6_k|f16]";

typedef struct plan {
    const bn_gguf_tensor *src;
    const char *name;
    uint32_t type;
    uint64_t n_bytes;
} plan;

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

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

/* A linear layer of a block: blk.N.attn_q.weight and its kin. */
static bool is_block_linear(const bn_gguf_tensor *t)
{
    static const char *const tails[] = {".attn_q.weight", ".attn_k.weight",  ".attn_v.weight", ".attn_output.weight",
                                        ".ffn_gate.weight", ".ffn_up.weight", ".ffn_down.weight"};
    if (strncmp(t->name, "blk.", 4) != 0 || t->ne[1] < 2)
        return false;
    for (size_t i = 0; i < sizeof tails / sizeof *tails; i++)
        if (ends_with(t->name, tails[i]))
            return true;
    return false;
}

/* `type`, or F16 when a row is not a whole number of its blocks. */
static uint32_t fit(const bn_gguf_tensor *t, uint32_t type)
{
    const bn_type_traits *tr = bn_type_traits_get(type);
    if (t->ne[0] % tr->block_elems == 0)
        return type;
    fprintf(stderr, "bitnet convert: %s: rows of %" PRId64 " do not split into %s blocks: writing f16\n", t->name,
            t->ne[0], tr->name);
    return BITNET_TYPE_F16;
}

/* ---- metadata ---------------------------------------------------------- */

static bitnet_status copy_value(bn_gguf_writer *w, const char *key, const struct bitnet_value *v)
{
    switch (v->type) {
    case BITNET_VALUE_UINT8: return bn_gguf_writer_add_u8(w, key, (uint8_t)v->v.u);
    case BITNET_VALUE_INT8: return bn_gguf_writer_add_i8(w, key, (int8_t)v->v.i);
    case BITNET_VALUE_UINT16: return bn_gguf_writer_add_u16(w, key, (uint16_t)v->v.u);
    case BITNET_VALUE_INT16: return bn_gguf_writer_add_i16(w, key, (int16_t)v->v.i);
    case BITNET_VALUE_UINT32: return bn_gguf_writer_add_u32(w, key, (uint32_t)v->v.u);
    case BITNET_VALUE_INT32: return bn_gguf_writer_add_i32(w, key, (int32_t)v->v.i);
    case BITNET_VALUE_UINT64: return bn_gguf_writer_add_u64(w, key, v->v.u);
    case BITNET_VALUE_INT64: return bn_gguf_writer_add_i64(w, key, v->v.i);
    case BITNET_VALUE_FLOAT32: return bn_gguf_writer_add_f32(w, key, (float)v->v.f);
    case BITNET_VALUE_FLOAT64: return bn_gguf_writer_add_f64(w, key, v->v.f);
    case BITNET_VALUE_BOOL: return bn_gguf_writer_add_bool(w, key, v->v.u != 0);
    case BITNET_VALUE_STRING: return bn_gguf_writer_add_string_n(w, key, v->v.str, (size_t)v->len);
    case BITNET_VALUE_ARRAY: break;
    default: return bn_error(BITNET_ERR_UNSUPPORTED, "metadata '%s': value type %u", key, v->type);
    }
    if (v->elem_type == BITNET_VALUE_STRING) {
        const char **strs = malloc((size_t)(v->len ? v->len : 1) * sizeof *strs);
        if (!strs)
            return bn_error(BITNET_ERR_OUT_OF_MEMORY, "metadata '%s': cannot allocate %" PRIu64 " strings", key, v->len);
        for (uint64_t i = 0; i < v->len; i++) {
            strs[i] = v->v.strs[i].s;
            if (strlen(strs[i]) != v->v.strs[i].len) {
                free(strs);
                return bn_error(BITNET_ERR_UNSUPPORTED, "metadata '%s': string %" PRIu64 " holds a NUL byte", key, i);
            }
        }
        bitnet_status s = bn_gguf_writer_add_string_array(w, key, strs, v->len);
        free(strs);
        return s;
    }
    if (v->elem_type == BITNET_VALUE_ARRAY)
        return bn_error(BITNET_ERR_UNSUPPORTED, "metadata '%s': nested arrays are not copied", key);
    /* Numeric arrays are little-endian in memory, as the writer wants them on
     * this (little-endian) host; bools are single 0/1 bytes. */
    return bn_gguf_writer_add_array(w, key, (bitnet_value_type)v->elem_type, v->v.raw, v->len);
}

static bitnet_status add_meta(bn_gguf_writer *w, const bn_gguf *g, uint32_t file_type)
{
    bitnet_status s = BITNET_OK;
    bool typed = false;
    for (int64_t i = 0; i < g->n_kv && !s; i++) {
        const bn_gguf_kv *kv = &g->kv[i];
        if (!strcmp(kv->key, "general.file_type") || !strcmp(kv->key, "general.alignment") ||
            !strcmp(kv->key, "general.quantization_version"))
            continue;
        s = copy_value(w, kv->key, &kv->value);
        /* general.file_type right after the name, as converters write it */
        if (!s && !typed && (!strcmp(kv->key, "general.name") || (!strcmp(kv->key, "general.architecture") &&
                                                                   bn_gguf_find_kv(g, "general.name") < 0))) {
            s = bn_gguf_writer_add_u32(w, "general.file_type", file_type);
            typed = true;
        }
    }
    if (!s && !typed)
        s = bn_gguf_writer_add_u32(w, "general.file_type", file_type);
    if (!s)
        s = bn_gguf_writer_add_u32(w, "general.quantization_version", 2);
    return s;
}

/* ---- tensor data --------------------------------------------------------- */

/* Rows [r0, r0 + n) of `t` as floats. */
static void dequantize_rows(const bn_gguf_tensor *t, int64_t r0, int64_t n, float *out)
{
    const bn_type_traits *tr = bn_type_traits_get(t->type);
    const size_t row_bytes = (size_t)(t->ne[0] / tr->block_elems * tr->block_bytes);
    const void *tail = tr->tail_bytes ? t->data + t->n_bytes - (uint64_t)tr->tail_bytes : NULL;
    for (int64_t r = 0; r < n; r++)
        tr->dequantize_row(t->data + (size_t)(r0 + r) * row_bytes, out + r * t->ne[0], t->ne[0], tail);
}

/* Convert and write one tensor: stored bytes when the type is unchanged,
 * else dequantize and quantize in slices of rows (a whole tensor for types
 * with one scale per tensor). */
static bitnet_status write_tensor(FILE *fp, const plan *p)
{
    const bn_gguf_tensor *t = p->src;
    if (t->type == p->type)
        return fwrite(t->data, 1, (size_t)t->n_bytes, fp) == t->n_bytes ? BITNET_OK : BITNET_ERR_IO;
    const bn_type_traits *from = bn_type_traits_get(t->type), *to = bn_type_traits_get(p->type);
    if (!from || !from->dequantize_row)
        return bn_error(BITNET_ERR_UNSUPPORTED, "tensor '%s': type %s cannot be read", t->name, bitnet_type_name(t->type));
    const int64_t n = t->ne[0], rows = t->n_elements / n;
    int64_t slice = rows;
    if (!to->tail_bytes) {
        slice = ((int64_t)1 << 22) / n; /* ~16 MiB of floats */
        slice = slice < 1 ? 1 : slice > rows ? rows : slice;
    }
    float *f = malloc((size_t)(slice * n) * sizeof *f);
    uint8_t *q = malloc((size_t)bn_type_tensor_bytes(p->type, slice * n));
    bitnet_status s = f && q ? BITNET_OK : bn_error(BITNET_ERR_OUT_OF_MEMORY, "tensor '%s': cannot allocate", t->name);
    for (int64_t r = 0; !s && r < rows; r += slice) {
        const int64_t nr = rows - r < slice ? rows - r : slice;
        dequantize_rows(t, r, nr, f);
        to->quantize(f, q, nr, n);
        const size_t nb = (size_t)bn_type_tensor_bytes(p->type, nr * n);
        if (fwrite(q, 1, nb, fp) != nb)
            s = BITNET_ERR_IO;
    }
    free(f);
    free(q);
    return s;
}

/* The header alone: the writer streams the whole file (zeros for the data
 * here), so a cookie stream passes its first `limit` bytes to the file and
 * drops the rest; the tensors follow, converted one at a time. */
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
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot open the header stream");
    setvbuf(c, NULL, _IOFBF, 1 << 16);
    bitnet_status s = bn_gguf_writer_to_stream(w, c);
    if (fclose(c) != 0 && !s)
        s = BITNET_ERR_IO;
    if (!s && (h.failed || h.seen < data_offset))
        s = BITNET_ERR_IO;
    return s;
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

/* ---- the conversion --------------------------------------------------------- */

typedef struct options {
    uint32_t type, head, embd;
    bool head_given;
} options;

static bitnet_status make_plan(const bn_gguf *g, const options *o, plan **out, size_t *n_out)
{
    plan *p = calloc((size_t)g->n_tensors + 1, sizeof *p);
    if (!p)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate the tensor plan");
    size_t n = 0;
    const bn_gguf_tensor *embd = NULL;
    uint32_t embd_type = 0;
    bool has_output = bn_gguf_find_tensor(g, "output.weight") >= 0;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const bn_gguf_tensor *t = &g->tensors[i];
        uint32_t type = BITNET_TYPE_F16;
        if (t->n_dims == 1 || t->ne[1] == 1)
            type = BITNET_TYPE_F32;
        else if (!strcmp(t->name, "token_embd.weight"))
            type = embd_type = fit(t, o->embd), embd = t;
        else if (!strcmp(t->name, "output.weight"))
            type = fit(t, o->head);
        else if (is_block_linear(t))
            type = fit(t, o->type);
        p[n++] = (plan){t, t->name, type, 0};
    }
    /* A tied head of another type than the embedding: write it out. */
    if (embd && !has_output && o->head_given && fit(embd, o->head) != embd_type)
        p[n++] = (plan){embd, "output.weight", fit(embd, o->head), 0};
    for (size_t i = 0; i < n; i++) {
        p[i].n_bytes = bn_type_tensor_bytes(p[i].type, p[i].src->n_elements);
        if (!p[i].n_bytes) {
            bitnet_status s = bn_error(BITNET_ERR_INTERNAL, "tensor '%s': no size as %s", p[i].name,
                                       bitnet_type_name(p[i].type));
            free(p);
            return s;
        }
    }
    *out = p;
    *n_out = n;
    return BITNET_OK;
}

static bitnet_status convert(const bitnet_model *m, const options *o, const char *path, uint64_t *size)
{
    const bn_gguf *g = &m->gguf;
    plan *p = NULL;
    size_t n = 0;
    bn_gguf_writer *w = NULL;
    bn_error_set_message("");
    bitnet_status s = make_plan(g, o, &p, &n);
    if (!s && (s = bn_gguf_writer_new(3, &w)))
        bn_error(s, "cannot create the GGUF writer");
    if (!s)
        s = add_meta(w, g, file_type_of(o->type));
    for (size_t i = 0; !s && i < n; i++)
        s = bn_gguf_writer_add_tensor(w, p[i].name, p[i].type, p[i].src->n_dims, p[i].src->ne, NULL, p[i].n_bytes);
    bn_gguf_layout lay = {0};
    if (!s)
        s = bn_gguf_writer_layout(w, &lay);
    FILE *fp = NULL;
    if (!s && !(fp = fopen(path, "wb")))
        s = bn_error(BITNET_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    if (!s)
        s = write_header(w, fp, lay.data);
    uint64_t pos = lay.data;
    for (size_t i = 0; !s && i < n; i++) {
        bn_gguf_tensor_layout tl;
        if ((s = bn_gguf_writer_tensor_layout(w, i, &tl)))
            break;
        if (tl.data < pos || !write_zeros(fp, tl.data - pos)) {
            s = BITNET_ERR_IO;
            break;
        }
        s = write_tensor(fp, &p[i]);
        pos = tl.data + tl.n_bytes;
    }
    if (!s && !write_zeros(fp, lay.size - pos))
        s = BITNET_ERR_IO;
    if (fp && fclose(fp) != 0 && !s)
        s = BITNET_ERR_IO;
    if (s == BITNET_ERR_IO && fp)
        bn_error(s, "cannot write %s: %s", path, errno ? strerror(errno) : "short write");
    else if (s && !bn_error_message()[0])
        bn_error(s, "GGUF writer: %s", bitnet_status_str(s));
    if (s && fp)
        remove(path);
    *size = lay.size;
    bn_gguf_writer_free(w);
    free(p);
    return s;
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

int cmd_convert(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *type = NULL, *head = NULL;
    if (argc == 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
        printf("usage: %s\n", usage);
        return 0;
    }
    const cli_opt opts[] = {{"--in", 1, &in}, {"--out", 1, &out}, {"--type", 1, &type}, {"--head", 1, &head}};
    int rc = cli_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), usage);
    if (rc)
        return rc;
    if (!in || !out || !type)
        return cli_usage(usage, "--in, --out and --type are required");
    static const char *const types[] = {"i2_s", "tq1_0", "tq2_0", "f16", "q8_0"};
    static const char *const heads[] = {"q8_0", "q6_k", "f16"};
    options o = {0};
    if (parse_type(type, types, sizeof types / sizeof *types, &o.type))
        return cli_usage(usage, "unknown --type '%s'", type);
    o.embd = o.type == BITNET_TYPE_Q8_0 ? BITNET_TYPE_Q8_0 : BITNET_TYPE_F16;
    o.head = o.embd;
    if (head) {
        if (parse_type(head, heads, sizeof heads / sizeof *heads, &o.head))
            return cli_usage(usage, "unknown --head '%s'", head);
        o.head_given = true;
    }
    bitnet_model_params mp = bitnet_model_params_default();
    mp.prefetch = false;
    bitnet_model *m = NULL;
    bitnet_status s = bitnet_model_load_file(in, &mp, &m);
    if (s)
        return cli_fail(in, s);
    const bn_gguf *g = &m->gguf;
    int64_t ai = bn_gguf_find_kv(g, "general.architecture");
    char arch[64]; /* a copy: the model is released before the summary */
    snprintf(arch, sizeof arch, "%s",
             ai >= 0 && g->kv[ai].value.type == BITNET_VALUE_STRING ? g->kv[ai].value.v.str : "?");
    const bool bitnet = strncmp(arch, "bitnet", 6) == 0;
    if (o.type == BITNET_TYPE_I2_S && !bitnet) {
        bitnet_model_release(m);
        return cli_usage(usage, "--type i2_s is for BitNet models (ternary weights); '%s' is %s", in, arch);
    }
    if ((o.type == BITNET_TYPE_TQ1_0 || o.type == BITNET_TYPE_TQ2_0) && !bitnet)
        fprintf(stderr, "bitnet convert: warning: %s is not a ternary model: %s rounds its weights to -1/0/+1\n", arch,
                type);
    double t0 = cli_now_ms();
    uint64_t size = 0;
    s = convert(m, &o, out, &size);
    bitnet_model_release(m);
    if (s)
        return cli_fail("convert", s);
    printf("wrote %s: %s, %s weights, %.1f MiB in %.1f s\n", out, arch, bitnet_type_name(o.type),
           (double)size / 1048576.0, (cli_now_ms() - t0) / 1e3);
    return 0;
}
