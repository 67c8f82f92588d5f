#include "loader/safetensors.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/checked.h"
#include "core/error.h"
#include "core/json.h"

static const struct {
    const char *name;
    bn_st_dtype dtype;
    uint32_t size;
} dtypes[] = {
    {"F32", BN_ST_F32, 4},    {"F16", BN_ST_F16, 2},       {"BF16", BN_ST_BF16, 2},     {"U8", BN_ST_U8, 1},
    {"I8", BN_ST_I8, 1},      {"BOOL", BN_ST_OTHER, 1},    {"F8_E5M2", BN_ST_OTHER, 1}, {"F8_E4M3", BN_ST_OTHER, 1},
    {"I16", BN_ST_OTHER, 2},  {"U16", BN_ST_OTHER, 2},     {"I32", BN_ST_OTHER, 4},     {"U32", BN_ST_OTHER, 4},
    {"F64", BN_ST_OTHER, 8},  {"I64", BN_ST_OTHER, 8},     {"U64", BN_ST_OTHER, 8},
};

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

bool bn_safetensors_sniff(const uint8_t *data, uint64_t size)
{
    if (size < 10)
        return false;
    uint64_t n = load_le64(data);
    return n >= 2 && n <= BN_ST_MAX_HEADER && n <= size - 8 && data[8] == '{';
}

/* A JSON number that is a non-negative integer. */
static bool get_u64(const bn_json *v, uint64_t *out)
{
    if (!v || v->type != BN_JSON_NUMBER || !v->is_int || v->v.num.i < 0)
        return false;
    *out = (uint64_t)v->v.num.i;
    return true;
}

static bitnet_status parse_metadata(const bn_json *v)
{
    if (v->type != BN_JSON_OBJECT)
        return bn_error(BITNET_ERR_BAD_FORMAT, "SafeTensors header: '__metadata__' is %s, expected an object of strings",
                        bn_json_type_name(v));
    for (size_t i = 0; i < v->n; i++)
        if (v->v.members[i].value.type != BN_JSON_STRING)
            return bn_error(BITNET_ERR_BAD_FORMAT, "SafeTensors header: '__metadata__' entry '%.64s' is %s, expected a string",
                            v->v.members[i].key, bn_json_type_name(&v->v.members[i].value));
    return BITNET_OK;
}

static bitnet_status parse_tensor(const bn_safetensors *st, const bn_json_member *m, uint64_t data_size,
                                  bn_st_tensor *t)
{
    const char *name = m->key;
    if (m->key_len == 0 || memchr(m->key, 0, m->key_len) || m->key_len > BN_ST_MAX_NAME)
        return bn_error(BITNET_ERR_BAD_FORMAT, "SafeTensors header: tensor name '%.64s' is %s", name,
                        m->key_len == 0 ? "empty" : m->key_len > BN_ST_MAX_NAME ? "longer than 256 bytes"
                                                                                 : "not a C string (embedded NUL)");
    const bn_json *v = &m->value;
    if (v->type != BN_JSON_OBJECT)
        return bn_error(BITNET_ERR_BAD_FORMAT, "SafeTensors header: tensor '%s' is %s, expected an object", name,
                        bn_json_type_name(v));
    for (size_t i = 0; i < v->n; i++) {
        const char *k = v->v.members[i].key;
        if (strcmp(k, "dtype") != 0 && strcmp(k, "shape") != 0 && strcmp(k, "data_offsets") != 0)
            return bn_error(BITNET_ERR_BAD_FORMAT, "SafeTensors header: tensor '%s' has an unknown field '%.64s'", name,
                            k);
    }
    const bn_json *dt = bn_json_get(v, "dtype"), *shape = bn_json_get(v, "shape"),
                  *offs = bn_json_get(v, "data_offsets");
    if (!dt || dt->type != BN_JSON_STRING)
        return bn_error(BITNET_ERR_BAD_FORMAT, "SafeTensors header: tensor '%s' needs a string 'dtype'", name);
    if (!shape || shape->type != BN_JSON_ARRAY)
        return bn_error(BITNET_ERR_BAD_FORMAT, "SafeTensors header: tensor '%s' needs an array 'shape'", name);
    if (!offs || offs->type != BN_JSON_ARRAY || offs->n != 2)
        return bn_error(BITNET_ERR_BAD_FORMAT, "SafeTensors header: tensor '%s' needs 'data_offsets' [begin, end]", name);
    t->name = name;
    t->name_len = m->key_len;
    size_t k = 0;
    while (k < sizeof dtypes / sizeof *dtypes && !bn_json_str_eq(dt, dtypes[k].name))
        k++;
    if (k == sizeof dtypes / sizeof *dtypes)
        return bn_error(BITNET_ERR_UNSUPPORTED, "SafeTensors header: tensor '%s' has unknown dtype '%.32s'", name,
                        dt->v.s);
    t->dtype_name = dtypes[k].name;
    t->dtype = dtypes[k].dtype;
    t->elem_size = dtypes[k].size;
    if (shape->n > BN_ST_MAX_DIMS)
        return bn_error(BITNET_ERR_BAD_FORMAT, "SafeTensors header: tensor '%s' has %zu dimensions, at most %d allowed",
                        name, shape->n, BN_ST_MAX_DIMS);
    t->n_dims = (uint32_t)shape->n;
    t->n_elements = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t x;
        if (!get_u64(&shape->v.items[d], &x) || x > (uint64_t)INT64_MAX)
            return bn_error(BITNET_ERR_BAD_FORMAT, "SafeTensors header: tensor '%s': dimension %u is not a non-negative integer",
                            name, d);
        t->shape[d] = (int64_t)x;
        if (!bn_mul_i64(t->n_elements, t->shape[d], &t->n_elements))
            return bn_error(BITNET_ERR_BAD_FORMAT, "SafeTensors header: tensor '%s': element count overflows", name);
    }
    uint64_t begin, end, bytes;
    if (!get_u64(&offs->v.items[0], &begin) || !get_u64(&offs->v.items[1], &end))
        return bn_error(BITNET_ERR_BAD_FORMAT, "SafeTensors header: tensor '%s': data_offsets are not non-negative integers",
                        name);
    if (!bn_mul_u64((uint64_t)t->n_elements, t->elem_size, &bytes))
        return bn_error(BITNET_ERR_BAD_FORMAT, "SafeTensors header: tensor '%s': byte size overflows", name);
    if (end < begin || end - begin != bytes)
        return bn_error(BITNET_ERR_BAD_FORMAT,
                        "SafeTensors header: tensor '%s': data_offsets [%llu, %llu] hold %lld bytes, its %s shape needs %llu",
                        name, (unsigned long long)begin, (unsigned long long)end,
                        end < begin ? -1LL : (long long)(end - begin), t->dtype_name, (unsigned long long)bytes);
    if (end > data_size)
        return bn_error(BITNET_ERR_BAD_FORMAT,
                        "SafeTensors header: tensor '%s': data_offsets end %llu is past the data section (%llu bytes)",
                        name, (unsigned long long)end, (unsigned long long)data_size);
    t->offset = st->data_start + begin;
    t->n_bytes = bytes;
    return BITNET_OK;
}

static int cmp_offset(const void *a, const void *b)
{
    const bn_st_tensor *x = *(bn_st_tensor *const *)a, *y = *(bn_st_tensor *const *)b;
    if (x->offset != y->offset)
        return (x->offset > y->offset) - (x->offset < y->offset);
    return (x->n_bytes > y->n_bytes) - (x->n_bytes < y->n_bytes);
}

/* The tensors must tile the data section: sorted by offset, each begins
 * where the previous ended, and the last ends at the end of the file. */
static bitnet_status check_tiling(bn_safetensors *st, uint64_t file_size)
{
    bn_st_tensor **order = bn_malloc((size_t)(st->n_tensors ? st->n_tensors : 1) * sizeof *order);
    if (!order)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "SafeTensors header: cannot allocate the tensor order");
    for (int64_t i = 0; i < st->n_tensors; i++)
        order[i] = &st->tensors[i];
    qsort(order, (size_t)st->n_tensors, sizeof *order, cmp_offset);
    bitnet_status s = BITNET_OK;
    uint64_t at = st->data_start;
    for (int64_t i = 0; i < st->n_tensors && !s; i++) {
        const bn_st_tensor *t = order[i];
        if (t->offset < at)
            s = bn_error(BITNET_ERR_BAD_FORMAT, "SafeTensors header: tensors '%s' and '%s' overlap at data offset %llu",
                         order[i - 1]->name, t->name, (unsigned long long)(t->offset - st->data_start));
        else if (t->offset > at)
            s = bn_error(BITNET_ERR_BAD_FORMAT,
                         "SafeTensors header: %llu bytes at data offset %llu before tensor '%s' belong to no tensor",
                         (unsigned long long)(t->offset - at), (unsigned long long)(at - st->data_start), t->name);
        at = t->offset + t->n_bytes;
    }
    if (!s && at != file_size)
        s = bn_error(BITNET_ERR_BAD_FORMAT,
                     "SafeTensors header: the tensors end at byte %llu but the file has %llu bytes", (unsigned long long)at,
                     (unsigned long long)file_size);
    bn_free(order);
    return s;
}

static bitnet_status parse(bn_safetensors *st, const uint8_t *data, uint64_t size)
{
    if (size < 8)
        return bn_error(BITNET_ERR_BAD_FORMAT, "SafeTensors file of %llu bytes has no header length",
                        (unsigned long long)size);
    st->header_len = load_le64(data);
    if (st->header_len > BN_ST_MAX_HEADER)
        return bn_error(BITNET_ERR_BAD_FORMAT, "SafeTensors header length %llu is above the limit of %u bytes",
                        (unsigned long long)st->header_len, BN_ST_MAX_HEADER);
    if (st->header_len > size - 8)
        return bn_error(BITNET_ERR_BAD_FORMAT, "SafeTensors header of %llu bytes runs past the end of the file (%llu bytes)",
                        (unsigned long long)st->header_len, (unsigned long long)size);
    st->data_start = 8 + st->header_len;
    if (st->header_len == 0 || data[8] != '{')
        return bn_error(BITNET_ERR_BAD_FORMAT, "SafeTensors header does not start with '{'");
    const bn_json *root;
    bitnet_status s = bn_json_parse((const char *)data + 8, (size_t)st->header_len, BN_ST_MAX_HEADER,
                                    "SafeTensors header", &st->arena, &root);
    if (s)
        return s;
    if (root->type != BN_JSON_OBJECT)
        return bn_error(BITNET_ERR_BAD_FORMAT, "SafeTensors header is %s, expected an object", bn_json_type_name(root));
    if (root->n > BN_ST_MAX_TENSORS)
        return bn_error(BITNET_ERR_BAD_FORMAT, "SafeTensors header names %zu tensors, more than %d", root->n,
                        BN_ST_MAX_TENSORS);
    st->tensors = bn_calloc(root->n ? root->n : 1, sizeof *st->tensors);
    if (!st->tensors || bn_strmap_init(&st->map, root->n) != 0)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate the table of %zu tensors", root->n);
    for (size_t i = 0; i < root->n; i++) {
        const bn_json_member *m = &root->v.members[i];
        if (strcmp(m->key, "__metadata__") == 0 && m->key_len == 12) {
            if ((s = parse_metadata(&m->value)))
                return s;
            continue;
        }
        bn_st_tensor *t = &st->tensors[st->n_tensors];
        if ((s = parse_tensor(st, m, size - st->data_start, t)))
            return s;
        t->data = data + t->offset;
        if (bn_strmap_insert(&st->map, t->name, t->name_len, st->n_tensors) < 0)
            return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot index tensor '%s'", t->name);
        st->n_tensors++;
    }
    return check_tiling(st, size);
}

bitnet_status bn_safetensors_parse(bn_safetensors *st, const uint8_t *data, uint64_t size)
{
    memset(st, 0, sizeof *st);
    bitnet_status s = parse(st, data, size);
    if (s)
        bn_safetensors_free(st);
    return s;
}

void bn_safetensors_free(bn_safetensors *st)
{
    bn_free(st->tensors);
    bn_strmap_free(&st->map);
    bn_arena_free(&st->arena);
    memset(st, 0, sizeof *st);
}

int64_t bn_safetensors_find(const bn_safetensors *st, const char *name)
{
    return bn_strmap_find(&st->map, name, strlen(name));
}
