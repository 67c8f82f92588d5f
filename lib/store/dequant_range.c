#include "store/dequant_range.h"

#include <string.h>

/* Elements per chunk when converting through a stack buffer: a multiple of
 * every block size (1, 32, 128, 256). */
#define CHUNK 4096

size_t bn_dst_type_size(bitnet_type t)
{
    switch (t) {
    case BITNET_TYPE_F32: return 4;
    case BITNET_TYPE_F16:
    case BITNET_TYPE_BF16: return 2;
    default: return 0;
    }
}

void bn_convert_f32(const float *src, int64_t n, bitnet_type dst_type, void *dst)
{
    if (dst_type == BITNET_TYPE_F32) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    }
    uint16_t *out = dst;
    if (dst_type == BITNET_TYPE_F16)
        for (int64_t i = 0; i < n; i++)
            out[i] = bn_fp32_to_fp16(src[i]);
    else
        for (int64_t i = 0; i < n; i++)
            out[i] = bn_fp32_to_bf16(src[i]);
}

void bn_dequant_rows(const bn_gguf_tensor *t, const bn_type_traits *tr, int64_t r0, int64_t r1,
                     bitnet_type dst_type, void *dst)
{
    /* Rows are whole blocks (checked at load), so a row range is a run of
     * blocks starting at a block boundary. */
    const int64_t blocks_per_row = t->ne[0] / tr->block_elems;
    const uint8_t *src = t->data + (uint64_t)r0 * (uint64_t)blocks_per_row * (uint64_t)tr->block_bytes;
    const void *tail = tr->tail_bytes ? t->data + t->n_bytes - (uint64_t)tr->tail_bytes : NULL;
    const int64_t n = (r1 - r0) * t->ne[0];
    if (dst_type == BITNET_TYPE_F32) {
        tr->dequantize_row(src, dst, n, tail);
        return;
    }
    float buf[CHUNK];
    const size_t out_size = bn_dst_type_size(dst_type);
    for (int64_t done = 0; done < n; done += CHUNK) {
        int64_t m = n - done < CHUNK ? n - done : CHUNK;
        tr->dequantize_row(src + done / tr->block_elems * tr->block_bytes, buf, m, tail);
        bn_convert_f32(buf, m, dst_type, (uint8_t *)dst + (size_t)done * out_size);
    }
}
