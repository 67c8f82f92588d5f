/* Public metadata API over the parsed GGUF key/value table. */
#include <stdio.h>
#include <string.h>

#include "model/model_internal.h"

int64_t bitnet_model_meta_count(const bitnet_model *model)
{
    return model ? model->gguf.n_kv : 0;
}

bitnet_status bitnet_model_meta_at(const bitnet_model *model, int64_t index, const char **key,
                                   const bitnet_value **value)
{
    if (!model)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_model_meta_at: model is NULL");
    if (index < 0 || index >= model->gguf.n_kv)
        return bn_model_fail(model, bn_error(BITNET_ERR_OUT_OF_RANGE, "metadata index %lld is outside [0, %lld)",
                                             (long long)index, (long long)model->gguf.n_kv));
    if (key)
        *key = model->gguf.kv[index].key;
    if (value)
        *value = &model->gguf.kv[index].value;
    return BITNET_OK;
}

bitnet_status bitnet_model_meta_get(const bitnet_model *model, const char *key, const bitnet_value **value)
{
    if (!model || !key || !value)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_model_meta_get: NULL argument");
    int64_t i = bn_gguf_find_kv(&model->gguf, key);
    if (i < 0)
        return bn_model_fail(model, bn_error(BITNET_ERR_NOT_FOUND, "no metadata key '%s'", key));
    *value = &model->gguf.kv[i].value;
    return BITNET_OK;
}

bitnet_value_type bitnet_value_get_type(const bitnet_value *value)
{
    return value ? (bitnet_value_type)value->type : BITNET_VALUE_UINT8;
}

const char *bitnet_value_type_name(uint32_t type)
{
    return bn_gguf_value_type_name(type);
}

static int is_unsigned(uint32_t t)
{
    return t == BITNET_VALUE_UINT8 || t == BITNET_VALUE_UINT16 || t == BITNET_VALUE_UINT32 || t == BITNET_VALUE_UINT64;
}

static int is_signed(uint32_t t)
{
    return t == BITNET_VALUE_INT8 || t == BITNET_VALUE_INT16 || t == BITNET_VALUE_INT32 || t == BITNET_VALUE_INT64;
}

static bitnet_status mismatch(const bitnet_value *v, const char *wanted)
{
    return bn_error(BITNET_ERR_TYPE_MISMATCH, "value has type %s, not %s", bn_gguf_value_type_name(v->type), wanted);
}

bitnet_status bitnet_value_int(const bitnet_value *v, int64_t *out)
{
    if (!v || !out)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_value_int: NULL argument");
    if (is_signed(v->type)) {
        *out = v->v.i;
        return BITNET_OK;
    }
    if (!is_unsigned(v->type))
        return mismatch(v, "an integer");
    if (v->v.u > (uint64_t)INT64_MAX)
        return bn_error(BITNET_ERR_OUT_OF_RANGE, "value %llu does not fit in int64", (unsigned long long)v->v.u);
    *out = (int64_t)v->v.u;
    return BITNET_OK;
}

bitnet_status bitnet_value_uint(const bitnet_value *v, uint64_t *out)
{
    if (!v || !out)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_value_uint: NULL argument");
    if (is_unsigned(v->type)) {
        *out = v->v.u;
        return BITNET_OK;
    }
    if (!is_signed(v->type))
        return mismatch(v, "an integer");
    if (v->v.i < 0)
        return bn_error(BITNET_ERR_OUT_OF_RANGE, "value %lld is negative", (long long)v->v.i);
    *out = (uint64_t)v->v.i;
    return BITNET_OK;
}

bitnet_status bitnet_value_float(const bitnet_value *v, double *out)
{
    if (!v || !out)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_value_float: NULL argument");
    if (v->type != BITNET_VALUE_FLOAT32 && v->type != BITNET_VALUE_FLOAT64)
        return mismatch(v, "a float");
    *out = v->v.f;
    return BITNET_OK;
}

bitnet_status bitnet_value_bool(const bitnet_value *v, bool *out)
{
    if (!v || !out)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_value_bool: NULL argument");
    if (v->type != BITNET_VALUE_BOOL)
        return mismatch(v, "bool");
    *out = v->v.u != 0;
    return BITNET_OK;
}

bitnet_status bitnet_value_string(const bitnet_value *v, const char **out, size_t *len)
{
    if (!v || !out)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_value_string: NULL argument");
    if (v->type != BITNET_VALUE_STRING)
        return mismatch(v, "string");
    *out = v->v.str;
    if (len)
        *len = (size_t)v->len;
    return BITNET_OK;
}

bitnet_status bitnet_value_array_info(const bitnet_value *v, bitnet_value_type *elem_type, uint64_t *length)
{
    if (!v)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_value_array_info: value is NULL");
    if (v->type != BITNET_VALUE_ARRAY)
        return mismatch(v, "array");
    if (elem_type)
        *elem_type = (bitnet_value_type)v->elem_type;
    if (length)
        *length = v->len;
    return BITNET_OK;
}

/* Element `i` of an array as a value of its own (scalars decoded into *tmp). */
static bitnet_status element(const bitnet_value *arr, uint64_t i, bitnet_value *tmp, const bitnet_value **out)
{
    if (!arr)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "array value is NULL");
    if (arr->type != BITNET_VALUE_ARRAY)
        return mismatch(arr, "array");
    if (i >= arr->len)
        return bn_error(BITNET_ERR_OUT_OF_RANGE, "array index %llu is outside [0, %llu)", (unsigned long long)i,
                        (unsigned long long)arr->len);
    memset(tmp, 0, sizeof *tmp);
    if (arr->elem_type == BITNET_VALUE_ARRAY) {
        *out = &arr->v.items[i];
        return BITNET_OK;
    }
    tmp->type = arr->elem_type;
    if (arr->elem_type == BITNET_VALUE_STRING) {
        tmp->v.str = arr->v.strs[i].s;
        tmp->len = arr->v.strs[i].len;
    } else {
        bn_gguf_decode_scalar(arr->elem_type, arr->v.raw + i * bn_gguf_value_size(arr->elem_type), tmp);
    }
    *out = tmp;
    return BITNET_OK;
}

#define ARRAY_GETTER(fn, ctype, scalar_fn)                                          \
    bitnet_status fn(const bitnet_value *array, uint64_t index, ctype *out)         \
    {                                                                               \
        bitnet_value tmp;                                                           \
        const bitnet_value *e = NULL;                                                      \
        bitnet_status s = element(array, index, &tmp, &e);                          \
        return s ? s : scalar_fn(e, out);                                           \
    }

ARRAY_GETTER(bitnet_value_array_int, int64_t, bitnet_value_int)
ARRAY_GETTER(bitnet_value_array_uint, uint64_t, bitnet_value_uint)
ARRAY_GETTER(bitnet_value_array_float, double, bitnet_value_float)
ARRAY_GETTER(bitnet_value_array_bool, bool, bitnet_value_bool)

bitnet_status bitnet_value_array_string(const bitnet_value *array, uint64_t index, const char **out, size_t *len)
{
    bitnet_value tmp;
    const bitnet_value *e = NULL;
    bitnet_status s = element(array, index, &tmp, &e);
    return s ? s : bitnet_value_string(e, out, len);
}

bitnet_status bitnet_value_array_array(const bitnet_value *array, uint64_t index, const bitnet_value **out)
{
    if (!out)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_value_array_array: out is NULL");
    bitnet_value tmp;
    const bitnet_value *e = NULL;
    bitnet_status s = element(array, index, &tmp, &e);
    if (s)
        return s;
    if (e == &tmp)
        return mismatch(array, "array of arrays");
    *out = e;
    return BITNET_OK;
}

/* Key shortcuts: the message names the key on failure. */
#define KEY_GETTER(fn, ctype, value_fn)                                                             \
    bitnet_status fn(const bitnet_model *model, const char *key, ctype *out)                        \
    {                                                                                               \
        const bitnet_value *v;                                                                      \
        bitnet_status s = bitnet_model_meta_get(model, key, &v);                                    \
        if (s)                                                                                      \
            return s;                                                                               \
        if ((s = value_fn(v, out))) {                                                               \
            char msg[BN_ERROR_MAX];                                                                 \
            snprintf(msg, sizeof msg, "key '%s': %s", key, bn_error_message());                     \
            bn_error_set_message(msg);                                                              \
            return bn_model_fail(model, s);                                                         \
        }                                                                                           \
        return BITNET_OK;                                                                           \
    }

KEY_GETTER(bitnet_model_meta_int, int64_t, bitnet_value_int)
KEY_GETTER(bitnet_model_meta_uint, uint64_t, bitnet_value_uint)
KEY_GETTER(bitnet_model_meta_float, double, bitnet_value_float)
KEY_GETTER(bitnet_model_meta_bool, bool, bitnet_value_bool)

bitnet_status bitnet_model_meta_string(const bitnet_model *model, const char *key, const char **out, size_t *len)
{
    const bitnet_value *v;
    bitnet_status s = bitnet_model_meta_get(model, key, &v);
    if (s)
        return s;
    if ((s = bitnet_value_string(v, out, len)))
        return bn_model_fail(model, bn_error(s, "key '%s' has type %s, not string", key,
                                             bn_gguf_value_type_name(v->type)));
    return BITNET_OK;
}
