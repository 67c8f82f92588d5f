#include "loader/gguf.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/checked.h"
#include "core/error.h"
#include "quant/quant.h"

/* A read cursor over the untrusted bytes. Every read checks the remaining
 * length first; `pos` is the offset reported in error messages. */
typedef struct cursor {
    const uint8_t *data;
    uint64_t size;
    uint64_t pos;
} cursor;

static uint64_t remaining(const cursor *c)
{
    return c->size - c->pos;
}

static bitnet_status truncated(const cursor *c, uint64_t need, const char *what)
{
    return bn_error(BITNET_ERR_BAD_FORMAT, "truncated file: %s at offset %llu needs %llu bytes, %llu left", what,
                    (unsigned long long)c->pos, (unsigned long long)need, (unsigned long long)remaining(c));
}

static bitnet_status read_bytes(cursor *c, void *out, uint64_t n, const char *what)
{
    if (remaining(c) < n)
        return truncated(c, n, what);
    memcpy(out, c->data + c->pos, (size_t)n);
    c->pos += n;
    return BITNET_OK;
}

/* Little-endian host assumed (checked at build time below). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "libbitnet's GGUF reader assumes a little-endian host"
#endif

static bitnet_status read_u32(cursor *c, uint32_t *v, const char *what)
{
    return read_bytes(c, v, 4, what);
}

static bitnet_status read_u64(cursor *c, uint64_t *v, const char *what)
{
    return read_bytes(c, v, 8, what);
}

/* A GGUF string: uint64 length + bytes, copied into the arena. */
static bitnet_status read_string(cursor *c, bn_arena *a, uint64_t max_len, bn_gguf_str *out,
                                 const char *what)
{
    uint64_t len = 0, at = c->pos;
    bitnet_status s = read_u64(c, &len, what);
    if (s)
        return s;
    if (len > max_len)
        return bn_error(BITNET_ERR_BAD_FORMAT, "%s at offset %llu: length %llu exceeds the limit %llu", what,
                        (unsigned long long)at, (unsigned long long)len, (unsigned long long)max_len);
    if (len > remaining(c))
        return truncated(c, len, what);
    char *copy = bn_arena_strndup(a, (const char *)c->data + c->pos, (size_t)len);
    if (!copy)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "%s at offset %llu: cannot allocate %llu bytes", what,
                        (unsigned long long)at, (unsigned long long)len);
    c->pos += len;
    out->s = copy;
    out->len = len;
    return BITNET_OK;
}

uint32_t bn_gguf_value_size(uint32_t type)
{
    switch (type) {
    case BITNET_VALUE_UINT8:
    case BITNET_VALUE_INT8:
    case BITNET_VALUE_BOOL: return 1;
    case BITNET_VALUE_UINT16:
    case BITNET_VALUE_INT16: return 2;
    case BITNET_VALUE_UINT32:
    case BITNET_VALUE_INT32:
    case BITNET_VALUE_FLOAT32: return 4;
    case BITNET_VALUE_UINT64:
    case BITNET_VALUE_INT64:
    case BITNET_VALUE_FLOAT64: return 8;
    default: return 0;
    }
}

const char *bn_gguf_value_type_name(uint32_t type)
{
    static const char *const names[] = {"uint8", "int8",   "uint16", "int16", "uint32", "int32", "float32",
                                        "bool",  "string", "array",  "uint64", "int64", "float64"};
    return type < sizeof names / sizeof names[0] ? names[type] : "unknown";
}

/* Decode one numeric scalar from little-endian bytes into the value union. */
void bn_gguf_decode_scalar(uint32_t type, const uint8_t *p, struct bitnet_value *v)
{
    v->type = type;
    switch (type) {
    case BITNET_VALUE_UINT8: v->v.u = p[0]; break;
    case BITNET_VALUE_BOOL: v->v.u = p[0]; break;
    case BITNET_VALUE_INT8: v->v.i = (int8_t)p[0]; break;
    case BITNET_VALUE_UINT16: { uint16_t x; memcpy(&x, p, 2); v->v.u = x; break; }
    case BITNET_VALUE_INT16: { int16_t x; memcpy(&x, p, 2); v->v.i = x; break; }
    case BITNET_VALUE_UINT32: { uint32_t x; memcpy(&x, p, 4); v->v.u = x; break; }
    case BITNET_VALUE_INT32: { int32_t x; memcpy(&x, p, 4); v->v.i = x; break; }
    case BITNET_VALUE_FLOAT32: { float x; memcpy(&x, p, 4); v->v.f = x; break; }
    case BITNET_VALUE_UINT64: { uint64_t x; memcpy(&x, p, 8); v->v.u = x; break; }
    case BITNET_VALUE_INT64: { int64_t x; memcpy(&x, p, 8); v->v.i = x; break; }
    case BITNET_VALUE_FLOAT64: { double x; memcpy(&x, p, 8); v->v.f = x; break; }
    default: break;
    }
}

static bitnet_status parse_value(cursor *c, bn_arena *a, uint32_t type, int depth, struct bitnet_value *out,
                                 const char *key);

/* Smallest encoding of one array element of `type`: bounds a hostile count
 * by the bytes actually left in the file before anything is allocated. */
static uint64_t min_elem_bytes(uint32_t type)
{
    if (type == BITNET_VALUE_STRING)
        return 8;
    if (type == BITNET_VALUE_ARRAY)
        return 12;
    return bn_gguf_value_size(type);
}

static bitnet_status parse_array(cursor *c, bn_arena *a, int depth, struct bitnet_value *out, const char *key)
{
    uint32_t elem = 0;
    uint64_t n = 0, at = c->pos;
    bitnet_status s = read_u32(c, &elem, "array element type");
    if (!s)
        s = read_u64(c, &n, "array length");
    if (s)
        return s;
    uint64_t unit = min_elem_bytes(elem);
    if (unit == 0)
        return bn_error(BITNET_ERR_BAD_FORMAT, "key '%s': array at offset %llu has unknown element type %u", key,
                        (unsigned long long)at, elem);
    if (elem == BITNET_VALUE_ARRAY && depth + 1 >= BN_GGUF_MAX_ARRAY_DEPTH)
        return bn_error(BITNET_ERR_BAD_FORMAT, "key '%s': arrays nested deeper than %d at offset %llu", key,
                        BN_GGUF_MAX_ARRAY_DEPTH, (unsigned long long)at);
    if (n > remaining(c) / unit)
        return bn_error(BITNET_ERR_BAD_FORMAT,
                        "key '%s': array at offset %llu claims %llu elements, more than the %llu bytes left hold",
                        key, (unsigned long long)at, (unsigned long long)n, (unsigned long long)remaining(c));
    out->type = BITNET_VALUE_ARRAY;
    out->elem_type = elem;
    out->len = n;
    if (elem == BITNET_VALUE_STRING) {
        bn_gguf_str *strs = bn_arena_alloc(a, (size_t)n * sizeof *strs);
        if (!strs && n)
            return bn_error(BITNET_ERR_OUT_OF_MEMORY, "key '%s': cannot allocate %llu strings", key,
                            (unsigned long long)n);
        for (uint64_t i = 0; i < n; i++)
            if ((s = read_string(c, a, BN_GGUF_MAX_STRING_LEN, &strs[i], "array string")))
                return s;
        out->v.strs = strs;
    } else if (elem == BITNET_VALUE_ARRAY) {
        struct bitnet_value *items = bn_arena_alloc(a, (size_t)n * sizeof *items);
        if (!items && n)
            return bn_error(BITNET_ERR_OUT_OF_MEMORY, "key '%s': cannot allocate %llu arrays", key,
                            (unsigned long long)n);
        for (uint64_t i = 0; i < n; i++)
            if ((s = parse_value(c, a, BITNET_VALUE_ARRAY, depth + 1, &items[i], key)))
                return s;
        out->v.items = items;
    } else {
        out->v.raw = c->data + c->pos;
        if (elem == BITNET_VALUE_BOOL)
            for (uint64_t i = 0; i < n; i++)
                if (out->v.raw[i] > 1)
                    return bn_error(BITNET_ERR_BAD_FORMAT, "key '%s': bool element %llu at offset %llu is %u, not 0/1",
                                    key, (unsigned long long)i, (unsigned long long)(c->pos + i), out->v.raw[i]);
        c->pos += n * unit;
    }
    return BITNET_OK;
}

static bitnet_status parse_value(cursor *c, bn_arena *a, uint32_t type, int depth, struct bitnet_value *out,
                                 const char *key)
{
    memset(out, 0, sizeof *out);
    out->type = type;
    if (type == BITNET_VALUE_ARRAY)
        return parse_array(c, a, depth, out, key);
    if (type == BITNET_VALUE_STRING) {
        bn_gguf_str str;
        bitnet_status s = read_string(c, a, BN_GGUF_MAX_STRING_LEN, &str, "string value");
        out->v.str = str.s;
        out->len = str.len;
        return s;
    }
    uint32_t size = bn_gguf_value_size(type);
    if (size == 0)
        return bn_error(BITNET_ERR_BAD_FORMAT, "key '%s': unknown value type %u at offset %llu", key, type,
                        (unsigned long long)(c->pos - 4));
    uint8_t buf[8];
    bitnet_status s = read_bytes(c, buf, size, "scalar value");
    if (s)
        return s;
    if (type == BITNET_VALUE_BOOL && buf[0] > 1)
        return bn_error(BITNET_ERR_BAD_FORMAT, "key '%s': bool at offset %llu is %u, not 0/1", key,
                        (unsigned long long)(c->pos - 1), buf[0]);
    bn_gguf_decode_scalar(type, buf, out);
    return BITNET_OK;
}

static bitnet_status parse_header(cursor *c, bn_gguf *g, uint64_t *n_tensors, uint64_t *n_kv)
{
    uint8_t magic[4];
    if (c->size < 4 || memcmp(c->data, "GGUF", 4) != 0) {
        if (c->size >= 4)
            return bn_error(BITNET_ERR_BAD_FORMAT, "not a GGUF file: magic is %02x %02x %02x %02x, expected 'GGUF'",
                            c->data[0], c->data[1], c->data[2], c->data[3]);
        return bn_error(BITNET_ERR_BAD_FORMAT, "not a GGUF file: only %llu bytes", (unsigned long long)c->size);
    }
    bitnet_status s = read_bytes(c, magic, 4, "magic");
    if (!s)
        s = read_u32(c, &g->version, "version");
    if (s)
        return s;
    if (g->version == 1)
        return bn_error(BITNET_ERR_UNSUPPORTED,
                        "GGUF v1 is not supported (v2 and v3 are): re-convert the model with a current converter");
    if (g->version == 0x02000000u || g->version == 0x03000000u)
        return bn_error(BITNET_ERR_UNSUPPORTED, "big-endian GGUF files are not supported");
    if (g->version != 2 && g->version != 3)
        return bn_error(BITNET_ERR_UNSUPPORTED, "GGUF version %u is not supported (v2 and v3 are)", g->version);
    s = read_u64(c, n_tensors, "tensor count");
    if (!s)
        s = read_u64(c, n_kv, "metadata count");
    if (s)
        return s;
    /* A key/value needs at least 8 (key length) + 1 + 4 (type) + 1 bytes; a
     * tensor info 8 + 1 + 4 + 8 + 4 + 8. Counts beyond what the file can
     * hold are rejected before any allocation. */
    if (*n_kv > BN_GGUF_MAX_KV || *n_kv > remaining(c) / 14)
        return bn_error(BITNET_ERR_BAD_FORMAT, "metadata count %llu is impossible for a file of %llu bytes",
                        (unsigned long long)*n_kv, (unsigned long long)c->size);
    if (*n_tensors > BN_GGUF_MAX_TENSORS || *n_tensors > remaining(c) / 33)
        return bn_error(BITNET_ERR_BAD_FORMAT, "tensor count %llu is impossible for a file of %llu bytes",
                        (unsigned long long)*n_tensors, (unsigned long long)c->size);
    return BITNET_OK;
}

/* general.alignment must be a uint32 power of two. */
static bitnet_status check_alignment(bn_gguf *g, const bn_gguf_kv *kv)
{
    if (kv->value.type != BITNET_VALUE_UINT32)
        return bn_error(BITNET_ERR_BAD_FORMAT, "key 'general.alignment' has type %s, expected uint32",
                        bn_gguf_value_type_name(kv->value.type));
    uint64_t a = kv->value.v.u;
    if (a == 0 || (a & (a - 1)) != 0 || a > BN_GGUF_MAX_ALIGNMENT)
        return bn_error(BITNET_ERR_BAD_FORMAT, "key 'general.alignment' is %llu, expected a power of two <= %u",
                        (unsigned long long)a, BN_GGUF_MAX_ALIGNMENT);
    g->alignment = (uint32_t)a;
    return BITNET_OK;
}

static bitnet_status parse_kvs(cursor *c, bn_gguf *g)
{
    for (int64_t i = 0; i < g->n_kv; i++) {
        bn_gguf_kv *kv = &g->kv[i];
        bn_gguf_str key;
        uint64_t at = c->pos;
        bitnet_status s = read_string(c, &g->arena, BN_GGUF_MAX_KEY_LEN, &key, "metadata key");
        if (s)
            return s;
        if (key.len == 0 || memchr(key.s, 0, (size_t)key.len))
            return bn_error(BITNET_ERR_BAD_FORMAT, "metadata key %lld at offset %llu is %s", (long long)i,
                            (unsigned long long)at, key.len ? "not a C string (embedded NUL)" : "empty");
        kv->key = key.s;
        kv->key_len = key.len;
        int r = bn_strmap_insert(&g->kv_map, key.s, (size_t)key.len, i);
        if (r < 0)
            return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot index metadata key '%s'", key.s);
        if (r > 0)
            return bn_error(BITNET_ERR_BAD_FORMAT, "duplicate metadata key '%s' at offset %llu", key.s,
                            (unsigned long long)at);
        uint32_t type = 0;
        if ((s = read_u32(c, &type, "value type")))
            return s;
        if ((s = parse_value(c, &g->arena, type, 0, &kv->value, key.s)))
            return s;
        if (strcmp(key.s, "general.alignment") == 0 && (s = check_alignment(g, kv)))
            return s;
    }
    return BITNET_OK;
}

static bitnet_status parse_tensor_info(cursor *c, bn_gguf *g, int64_t i)
{
    bn_gguf_tensor *t = &g->tensors[i];
    bn_gguf_str name;
    uint64_t at = c->pos;
    bitnet_status s = read_string(c, &g->arena, BN_GGUF_MAX_NAME_LEN, &name, "tensor name");
    if (s)
        return s;
    if (name.len == 0 || memchr(name.s, 0, (size_t)name.len))
        return bn_error(BITNET_ERR_BAD_FORMAT, "tensor %lld at offset %llu has %s", (long long)i,
                        (unsigned long long)at, name.len ? "an embedded NUL in its name" : "an empty name");
    t->name = name.s;
    t->name_len = name.len;
    int r = bn_strmap_insert(&g->tensor_map, name.s, (size_t)name.len, i);
    if (r < 0)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot index tensor '%s'", name.s);
    if (r > 0)
        return bn_error(BITNET_ERR_BAD_FORMAT, "duplicate tensor name '%s' at offset %llu", name.s,
                        (unsigned long long)at);
    if ((s = read_u32(c, &t->n_dims, "tensor dimension count")))
        return s;
    if (t->n_dims < 1 || t->n_dims > BITNET_MAX_DIMS)
        return bn_error(BITNET_ERR_BAD_FORMAT, "tensor '%s': %u dimensions, expected 1 to %d", name.s, t->n_dims,
                        BITNET_MAX_DIMS);
    t->n_elements = 1;
    for (uint32_t d = 0; d < BITNET_MAX_DIMS; d++) {
        t->ne[d] = 1;
        if (d >= t->n_dims)
            continue;
        uint64_t ne = 0;
        if ((s = read_u64(c, &ne, "tensor dimension")))
            return s;
        if (ne == 0 || ne > INT64_MAX)
            return bn_error(BITNET_ERR_BAD_FORMAT, "tensor '%s': dimension %u is %lld", name.s, d, (long long)ne);
        t->ne[d] = (int64_t)ne;
        if (!bn_mul_i64(t->n_elements, t->ne[d], &t->n_elements))
            return bn_error(BITNET_ERR_BAD_FORMAT, "tensor '%s': element count overflows", name.s);
    }
    if ((s = read_u32(c, &t->type, "tensor type")) || (s = read_u64(c, &t->offset, "tensor offset")))
        return s;
    return BITNET_OK;
}

/* Sizes, alignment and bounds of one tensor against the file. */
static bitnet_status check_tensor(const bn_gguf *g, bn_gguf_tensor *t, const uint8_t *base, uint64_t size)
{
    if (t->offset % g->alignment != 0)
        return bn_error(BITNET_ERR_BAD_FORMAT, "tensor '%s': data offset %llu is not a multiple of the alignment %u",
                        t->name, (unsigned long long)t->offset, g->alignment);
    uint64_t abs;
    if (!bn_add_u64(g->data_offset, t->offset, &abs) || abs > size)
        return bn_error(BITNET_ERR_BAD_FORMAT, "tensor '%s': data offset %llu is past the end of the file (%llu bytes)",
                        t->name, (unsigned long long)t->offset, (unsigned long long)size);
    const bn_type_traits *tr = bn_type_traits_get(t->type);
    if (tr) {
        if (t->ne[0] % tr->block_elems != 0)
            return bn_error(BITNET_ERR_BAD_FORMAT, "tensor '%s': row length %lld is not a multiple of %s's block of %d",
                            t->name, (long long)t->ne[0], tr->name, tr->block_elems);
        t->n_bytes = bn_type_tensor_bytes(t->type, t->n_elements);
        if (t->n_bytes == 0)
            return bn_error(BITNET_ERR_BAD_FORMAT, "tensor '%s': size of %lld elements of %s overflows", t->name,
                            (long long)t->n_elements, tr->name);
        uint64_t end;
        if (!bn_add_u64(abs, t->n_bytes, &end) || end > size)
            return bn_error(BITNET_ERR_BAD_FORMAT,
                            "tensor '%s': %llu bytes of %s at file offset %llu run past the end of the file (%llu bytes)",
                            t->name, (unsigned long long)t->n_bytes, tr->name, (unsigned long long)abs,
                            (unsigned long long)size);
    }
    t->offset = abs;
    t->data = base + abs;
    return BITNET_OK;
}

static int cmp_by_offset(const void *a, const void *b)
{
    const bn_gguf_tensor *x = *(bn_gguf_tensor *const *)a, *y = *(bn_gguf_tensor *const *)b;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

/* Tensors of known size must not share bytes. */
static bitnet_status check_overlaps(bn_gguf *g)
{
    if (g->n_tensors < 2)
        return BITNET_OK;
    bn_gguf_tensor **order = bn_malloc((size_t)g->n_tensors * sizeof *order);
    if (!order)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate the tensor order");
    for (int64_t i = 0; i < g->n_tensors; i++)
        order[i] = &g->tensors[i];
    qsort(order, (size_t)g->n_tensors, sizeof *order, cmp_by_offset);
    bitnet_status s = BITNET_OK;
    const bn_gguf_tensor *prev = NULL;
    for (int64_t i = 0; i < g->n_tensors && !s; i++) {
        const bn_gguf_tensor *t = order[i];
        if (prev && prev->offset + prev->n_bytes > t->offset)
            s = bn_error(BITNET_ERR_BAD_FORMAT, "tensors '%s' and '%s' overlap at file offset %llu", prev->name,
                         t->name, (unsigned long long)t->offset);
        if (t->n_bytes)
            prev = t;
    }
    bn_free(order);
    return s;
}

static bitnet_status parse(bn_gguf *g, const uint8_t *data, uint64_t size)
{
    cursor c = {data, size, 0};
    uint64_t n_tensors = 0, n_kv = 0;
    bitnet_status s = parse_header(&c, g, &n_tensors, &n_kv);
    if (s)
        return s;
    g->n_kv = (int64_t)n_kv;
    g->n_tensors = (int64_t)n_tensors;
    g->alignment = BN_GGUF_DEFAULT_ALIGNMENT;
    g->kv = bn_calloc((size_t)n_kv, sizeof *g->kv);
    g->tensors = bn_calloc((size_t)n_tensors, sizeof *g->tensors);
    if (!g->kv || !g->tensors || bn_strmap_init(&g->kv_map, (size_t)n_kv) ||
        bn_strmap_init(&g->tensor_map, (size_t)n_tensors))
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate tables for %llu keys and %llu tensors",
                        (unsigned long long)n_kv, (unsigned long long)n_tensors);
    if ((s = parse_kvs(&c, g)))
        return s;
    for (int64_t i = 0; i < g->n_tensors; i++)
        if ((s = parse_tensor_info(&c, g, i)))
            return s;
    if (!bn_align_u64(c.pos, g->alignment, &g->data_offset))
        return bn_error(BITNET_ERR_BAD_FORMAT, "data section offset overflows");
    if (g->n_tensors > 0 && g->data_offset > size)
        return bn_error(BITNET_ERR_BAD_FORMAT, "data section starts at %llu, past the end of the file (%llu bytes)",
                        (unsigned long long)g->data_offset, (unsigned long long)size);
    for (int64_t i = 0; i < g->n_tensors; i++)
        if ((s = check_tensor(g, &g->tensors[i], data, size)))
            return s;
    return check_overlaps(g);
}

bitnet_status bn_gguf_parse(bn_gguf *g, const uint8_t *data, uint64_t size)
{
    memset(g, 0, sizeof *g);
    bitnet_status s = parse(g, data, size);
    if (s)
        bn_gguf_free(g);
    return s;
}

void bn_gguf_free(bn_gguf *g)
{
    bn_free(g->kv);
    bn_free(g->tensors);
    bn_strmap_free(&g->kv_map);
    bn_strmap_free(&g->tensor_map);
    bn_arena_free(&g->arena);
    memset(g, 0, sizeof *g);
}

int64_t bn_gguf_find_kv(const bn_gguf *g, const char *key)
{
    return bn_strmap_find(&g->kv_map, key, strlen(key));
}

int64_t bn_gguf_find_tensor(const bn_gguf *g, const char *name)
{
    return bn_strmap_find(&g->tensor_map, name, strlen(name));
}
