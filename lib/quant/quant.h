/* The type-traits table: one row per tensor type drives sizes, dequantization
 * and the reference quantizers everywhere in the library. */
#ifndef BN_QUANT_H
#define BN_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Dequantize n elements (a multiple of block_elems) starting at a block
 * boundary. `tail` points to the tensor's trailing bytes (tail_bytes of them,
 * e.g. I2_S's per-tensor scale) or is NULL for types without a tail. */
typedef void (*bn_dequantize_row_fn)(const void *src, float *dst, int64_t n, const void *tail);

/* Reference quantizer for a whole tensor of n_rows rows of n_per_row elements
 * (n_per_row a multiple of block_elems). Writes exactly
 * bn_type_tensor_bytes(type, n_rows * n_per_row) bytes to dst, tail included. */
typedef void (*bn_quantize_fn)(const float *src, void *dst, int64_t n_rows, int64_t n_per_row);

/* Ternary types only: codes in {-1, 0, +1} of n elements (whole blocks) and
 * one float scale per block, so value = code * scales[i / block_elems]. */
typedef void (*bn_unpack_ternary_fn)(const void *src, int8_t *codes, float *scales, int64_t n, const void *tail);

typedef struct bn_type_traits {
    const char *name;       /* "q4_k" */
    uint32_t type;          /* ggml id */
    int32_t block_elems;    /* elements per block */
    int32_t block_bytes;    /* bytes per block */
    int32_t tail_bytes;     /* per-tensor trailing bytes after all blocks */
    bn_dequantize_row_fn dequantize_row; /* NULL: cannot be read */
    bn_quantize_fn quantize;             /* NULL: no reference quantizer */
    bn_unpack_ternary_fn unpack_ternary; /* NULL: not a ternary type */
} bn_type_traits;

/* Row for a type id, or NULL if the id is not in the table. */
const bn_type_traits *bn_type_traits_get(uint32_t type);

/* Number of ids the table spans (for iteration: ids 0..count-1, some NULL). */
uint32_t bn_type_traits_count(void);

/* Stored bytes of a tensor of n elements; 0 if the type is unknown, n is not a
 * multiple of the block size, or the result would overflow. */
uint64_t bn_type_tensor_bytes(uint32_t type, int64_t n);

/* Lossless re-encoding of TQ1_0 blocks (base-3, 1.69 bits per weight) as
 * TQ2_0 blocks (2 bits): the same codes, the same f16 scale, so products
 * over either are identical. n_blocks blocks of 256 elements. Any byte
 * decodes the same in both (TQ1_0 bytes outside the quantizer's range
 * included). */
void bn_tq1_0_to_tq2_0(const void *src, void *dst, int64_t n_blocks);

/* TQ2_0 blocks to I2_S blocks (two per TQ2_0 block), codes only: the
 * caller supplies the I2_S tensor scale, so this is exact when every block
 * has that one scale and no code is 3 (TQ2_0 reads it as +2, I2_S as 0;
 * quantizers never write it: bn_tq2_0_has_code3 finds it). */
void bn_tq2_0_to_i2_s(const void *src, void *dst, int64_t n_blocks);
bool bn_tq2_0_has_code3(const void *src, int64_t n_blocks);

/* Half-precision helpers, exact (round to nearest even). */
float bn_fp16_to_fp32(uint16_t h);
uint16_t bn_fp32_to_fp16(float f);
float bn_bf16_to_fp32(uint16_t h);
uint16_t bn_fp32_to_bf16(float f);

#endif
