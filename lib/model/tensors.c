/* Public tensor API: the tensor table and on-demand reads through the store. */
#include <string.h>

#include "core/checked.h"
#include "model/model_internal.h"
#include "quant/quant.h"
#include "store/dequant_range.h"

const char *bitnet_type_name(uint32_t type)
{
    const bn_type_traits *tr = bn_type_traits_get(type);
    return tr ? tr->name : "unknown";
}

int64_t bitnet_model_tensor_count(const bitnet_model *model)
{
    return model ? model->gguf.n_tensors : 0;
}

bitnet_status bitnet_model_tensor_find(const bitnet_model *model, const char *name, int64_t *index)
{
    if (!model || !name || !index)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_model_tensor_find: NULL argument");
    *index = bn_gguf_find_tensor(&model->gguf, name);
    if (*index < 0)
        return bn_model_fail(model, bn_error(BITNET_ERR_NOT_FOUND, "no tensor named '%s'", name));
    return BITNET_OK;
}

bitnet_status bitnet_model_tensor_info(const bitnet_model *model, int64_t index, bitnet_tensor_info *out)
{
    if (!model || !out)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_model_tensor_info: NULL argument");
    if (out->struct_size < offsetof(bitnet_tensor_info, type) || out->struct_size > (size_t)1 << 20)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT,
                        "bitnet_tensor_info.struct_size is %zu; set it to sizeof(bitnet_tensor_info)",
                        out->struct_size);
    if (index < 0 || index >= model->gguf.n_tensors)
        return bn_model_fail(model, bn_error(BITNET_ERR_OUT_OF_RANGE, "tensor index %lld is outside [0, %lld)",
                                             (long long)index, (long long)model->gguf.n_tensors));
    const bn_gguf_tensor *t = &model->gguf.tensors[index];
    bitnet_tensor_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = out->struct_size < sizeof info ? out->struct_size : sizeof info;
    info.name = t->name;
    info.type = t->type;
    info.type_name = bitnet_type_name(t->type);
    info.n_dims = t->n_dims;
    memcpy(info.ne, t->ne, sizeof info.ne);
    info.n_elements = t->n_elements;
    info.n_rows = t->n_elements / t->ne[0];
    info.n_bytes = t->n_bytes;
    info.offset = t->offset;
    memcpy(out, &info, info.struct_size);
    return BITNET_OK;
}

bitnet_status bitnet_model_tensor_info_by_name(const bitnet_model *model, const char *name, bitnet_tensor_info *out)
{
    int64_t idx;
    bitnet_status s = bitnet_model_tensor_find(model, name, &idx);
    return s ? s : bitnet_model_tensor_info(model, idx, out);
}

bitnet_status bitnet_model_tensor_read(bitnet_model *model, const char *name, int64_t row_begin, int64_t row_end,
                                       bitnet_type dst_type, void *dst, size_t dst_capacity_bytes, size_t *written)
{
    if (written)
        *written = 0;
    if (!model || !name || (!dst && dst_capacity_bytes))
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_model_tensor_read: NULL argument");
    size_t elem = bn_dst_type_size(dst_type);
    if (elem == 0)
        return bn_model_fail(model, bn_error(BITNET_ERR_INVALID_ARGUMENT,
                                             "tensor read: destination type %s (id %u) is not f32, f16 or bf16",
                                             bitnet_type_name((uint32_t)dst_type), (unsigned)dst_type));
    int64_t idx = bn_gguf_find_tensor(&model->gguf, name);
    if (idx < 0)
        return bn_model_fail(model, bn_error(BITNET_ERR_NOT_FOUND, "no tensor named '%s'", name));
    const bn_gguf_tensor *t = &model->gguf.tensors[idx];
    int64_t n_rows = t->n_elements / t->ne[0];
    if (row_begin < 0 || row_end < row_begin || row_end > n_rows)
        return bn_model_fail(model, bn_error(BITNET_ERR_OUT_OF_RANGE,
                                             "tensor '%s': rows [%lld, %lld) are outside [0, %lld)", name,
                                             (long long)row_begin, (long long)row_end, (long long)n_rows));
    uint64_t need; /* cannot overflow: rows * ne0 <= n_elements, elem <= 4 */
    bn_mul_u64((uint64_t)(row_end - row_begin) * (uint64_t)t->ne[0], elem, &need);
    if (need > dst_capacity_bytes)
        return bn_model_fail(model, bn_error(BITNET_ERR_BUFFER_TOO_SMALL,
                                             "tensor '%s': rows [%lld, %lld) need %llu bytes, the buffer has %zu",
                                             name, (long long)row_begin, (long long)row_end,
                                             (unsigned long long)need, dst_capacity_bytes));
    if (need == 0)
        return BITNET_OK;
    bitnet_status s = bn_store_read(model->store, t, idx, row_begin, row_end, dst_type, dst);
    if (s)
        return bn_model_fail(model, s);
    if (written)
        *written = (size_t)need;
    return BITNET_OK;
}

bitnet_status bitnet_model_store_stats(const bitnet_model *model, bitnet_store_stats *out)
{
    if (!model || !out)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_model_store_stats: NULL argument");
    if (out->struct_size < sizeof out->struct_size || out->struct_size > (size_t)1 << 20)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT,
                        "bitnet_store_stats.struct_size is %zu; set it to sizeof(bitnet_store_stats)",
                        out->struct_size);
    bitnet_store_stats st;
    memset(&st, 0, sizeof st);
    bn_store_get_stats(model->store, &st);
    st.bytes_mapped = model->source.size;
    bitnet_model *m = (bitnet_model *)model; /* the repacked copies are built under head_lock */
    pthread_mutex_lock(&m->head_lock);
    st.bytes_repacked = m->repacked_bytes;
    st.bytes_repack_source = m->repacked_source_bytes;
    pthread_mutex_unlock(&m->head_lock);
    st.struct_size = out->struct_size < sizeof st ? out->struct_size : sizeof st;
    memcpy(out, &st, st.struct_size);
    return BITNET_OK;
}
