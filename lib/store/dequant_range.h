/* Dequantize a contiguous row range of a stored tensor into F32/F16/BF16. */
#ifndef BN_DEQUANT_RANGE_H
#define BN_DEQUANT_RANGE_H

#include "bitnet.h"
#include "loader/gguf.h"
#include "quant/quant.h"

/* The tensor's type must have a dequantizer (tr->dequantize_row != NULL). */
void bn_dequant_rows(const bn_gguf_tensor *t, const bn_type_traits *tr, int64_t r0, int64_t r1,
                     bitnet_type dst_type, void *dst);

/* Convert n floats to dst_type at dst (F32 copies). */
void bn_convert_f32(const float *src, int64_t n, bitnet_type dst_type, void *dst);

/* Bytes of one element of a read destination type; 0 if not one. */
size_t bn_dst_type_size(bitnet_type t);

#endif
