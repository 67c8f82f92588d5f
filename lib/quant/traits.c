/* The type-traits table: one row per ggml type id this library knows. */
#include "blocks.h"
#include "quant_internal.h"

_Static_assert(sizeof(bn_block_q4_0) == 18, "q4_0 block size");
_Static_assert(sizeof(bn_block_q4_1) == 20, "q4_1 block size");
_Static_assert(sizeof(bn_block_q5_0) == 22, "q5_0 block size");
_Static_assert(sizeof(bn_block_q5_1) == 24, "q5_1 block size");
_Static_assert(sizeof(bn_block_q8_0) == 34, "q8_0 block size");
_Static_assert(sizeof(bn_block_q8_1) == 36, "q8_1 block size");
_Static_assert(sizeof(bn_block_q2_k) == 84, "q2_k block size");
_Static_assert(sizeof(bn_block_q3_k) == 110, "q3_k block size");
_Static_assert(sizeof(bn_block_q4_k) == 144, "q4_k block size");
_Static_assert(sizeof(bn_block_q5_k) == 176, "q5_k block size");
_Static_assert(sizeof(bn_block_q6_k) == 210, "q6_k block size");
_Static_assert(sizeof(bn_block_q8_k) == 292, "q8_k block size");
_Static_assert(sizeof(bn_block_tq1_0) == 54, "tq1_0 block size");
_Static_assert(sizeof(bn_block_tq2_0) == 66, "tq2_0 block size");
_Static_assert(sizeof(bn_block_i2_s) == BN_QK_I2S / 4, "i2_s block size");

#define ROW(id, nm, elems, bytes, tail, fn)                                                  \
    [id] = {nm, id, elems, bytes, tail, bn_dequantize_row_##fn, bn_quantize_##fn}
#define ROW_TERNARY(id, nm, elems, bytes, tail, fn)                                          \
    [id] = {nm, id, elems, bytes, tail, bn_dequantize_row_##fn, bn_quantize_##fn, bn_unpack_ternary_##fn}
#define ROW_RO(id, nm, elems, bytes, fn) [id] = {nm, id, elems, bytes, 0, bn_dequantize_row_##fn, NULL}

/* Ids 4, 5 (retired Q4_2/Q4_3), 16-23 (IQ formats), 27-29 (I64, F64,
 * IQ1_M) and 31-33 (retired interleaved Q4_0) are not supported: their rows
 * stay zero and lookups return NULL. */
static const bn_type_traits table[] = {
    ROW(0, "f32", 1, 4, 0, f32),
    ROW(1, "f16", 1, 2, 0, f16),
    ROW(2, "q4_0", BN_QK_LEGACY, sizeof(bn_block_q4_0), 0, q4_0),
    ROW(3, "q4_1", BN_QK_LEGACY, sizeof(bn_block_q4_1), 0, q4_1),
    ROW(6, "q5_0", BN_QK_LEGACY, sizeof(bn_block_q5_0), 0, q5_0),
    ROW(7, "q5_1", BN_QK_LEGACY, sizeof(bn_block_q5_1), 0, q5_1),
    ROW(8, "q8_0", BN_QK_LEGACY, sizeof(bn_block_q8_0), 0, q8_0),
    ROW(9, "q8_1", BN_QK_LEGACY, sizeof(bn_block_q8_1), 0, q8_1),
    ROW(10, "q2_k", BN_QK_K, sizeof(bn_block_q2_k), 0, q2_k),
    ROW(11, "q3_k", BN_QK_K, sizeof(bn_block_q3_k), 0, q3_k),
    ROW(12, "q4_k", BN_QK_K, sizeof(bn_block_q4_k), 0, q4_k),
    ROW(13, "q5_k", BN_QK_K, sizeof(bn_block_q5_k), 0, q5_k),
    ROW(14, "q6_k", BN_QK_K, sizeof(bn_block_q6_k), 0, q6_k),
    ROW(15, "q8_k", BN_QK_K, sizeof(bn_block_q8_k), 0, q8_k),
    ROW_RO(24, "i8", 1, 1, i8),
    ROW_RO(25, "i16", 1, 2, i16),
    ROW_RO(26, "i32", 1, 4, i32),
    ROW(30, "bf16", 1, 2, 0, bf16),
    ROW_TERNARY(34, "tq1_0", BN_QK_K, sizeof(bn_block_tq1_0), 0, tq1_0),
    ROW_TERNARY(35, "tq2_0", BN_QK_K, sizeof(bn_block_tq2_0), 0, tq2_0),
    ROW_TERNARY(36, "i2_s", BN_QK_I2S, sizeof(bn_block_i2_s), BN_I2S_TAIL, i2_s),
};

#define TABLE_COUNT ((uint32_t)(sizeof table / sizeof table[0]))

const bn_type_traits *bn_type_traits_get(uint32_t type)
{
    if (type >= TABLE_COUNT || table[type].name == NULL)
        return NULL;
    return &table[type];
}

uint32_t bn_type_traits_count(void)
{
    return TABLE_COUNT;
}

uint64_t bn_type_tensor_bytes(uint32_t type, int64_t n)
{
    const bn_type_traits *t = bn_type_traits_get(type);
    if (t == NULL || n < 0 || n % t->block_elems != 0)
        return 0;
    uint64_t blocks = (uint64_t)(n / t->block_elems);
    uint64_t per = (uint64_t)t->block_bytes, tail = (uint64_t)t->tail_bytes;
    if (blocks > (UINT64_MAX - tail) / per)
        return 0;
    return blocks * per + tail;
}
