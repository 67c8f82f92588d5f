/* Byte-exact GGUF block layouts. Every field is a byte array so the structs
 * have alignment 1 and no padding: blocks can be read straight out of an
 * mmap at any offset, and multi-byte fields are decoded little-endian
 * explicitly (see quant_internal.h) instead of relying on host order. */
#ifndef BN_QUANT_BLOCKS_H
#define BN_QUANT_BLOCKS_H

#include <stdint.h>

#define BN_QK_LEGACY 32 /* elements per Q4_0..Q8_1 block */
#define BN_QK_K 256     /* elements per K-quant / TQ super-block */
#define BN_QK_I2S 128   /* elements per I2_S block */
#define BN_I2S_TAIL 32  /* I2_S per-tensor tail: f32 scale + padding */

typedef struct { uint8_t d[2]; uint8_t qs[16]; } bn_block_q4_0;
typedef struct { uint8_t d[2]; uint8_t m[2]; uint8_t qs[16]; } bn_block_q4_1;
typedef struct { uint8_t d[2]; uint8_t qh[4]; uint8_t qs[16]; } bn_block_q5_0;
typedef struct { uint8_t d[2]; uint8_t m[2]; uint8_t qh[4]; uint8_t qs[16]; } bn_block_q5_1;
typedef struct { uint8_t d[2]; int8_t qs[32]; } bn_block_q8_0;
/* s = d * sum(qs), kept for dot products against Q4_1/Q5_1. */
typedef struct { uint8_t d[2]; uint8_t s[2]; int8_t qs[32]; } bn_block_q8_1;

/* 16 sub-blocks of 16; scales[j] = 4-bit scale | 4-bit min << 4. */
typedef struct {
    uint8_t scales[16];
    uint8_t qs[64];
    uint8_t d[2];
    uint8_t dmin[2];
} bn_block_q2_k;

/* 16 sub-blocks of 16; 6-bit signed scales packed into 12 bytes. */
typedef struct {
    uint8_t hmask[32];
    uint8_t qs[64];
    uint8_t scales[12];
    uint8_t d[2];
} bn_block_q3_k;

/* 8 sub-blocks of 32; 6-bit scales and mins packed into 12 bytes. */
typedef struct {
    uint8_t d[2];
    uint8_t dmin[2];
    uint8_t scales[12];
    uint8_t qs[128];
} bn_block_q4_k;

typedef struct {
    uint8_t d[2];
    uint8_t dmin[2];
    uint8_t scales[12];
    uint8_t qh[32];
    uint8_t qs[128];
} bn_block_q5_k;

/* 16 sub-blocks of 16; int8 scales. */
typedef struct {
    uint8_t ql[128];
    uint8_t qh[64];
    int8_t scales[16];
    uint8_t d[2];
} bn_block_q6_k;

/* d is a float32; bsums are int16 sums of 16 quants each. */
typedef struct {
    uint8_t d[4];
    int8_t qs[256];
    uint8_t bsums[32];
} bn_block_q8_k;

/* 240 elements as 5 trits per byte in qs, the last 16 as 4 trits per byte. */
typedef struct {
    uint8_t qs[48];
    uint8_t qh[4];
    uint8_t d[2];
} bn_block_tq1_0;

typedef struct {
    uint8_t qs[64];
    uint8_t d[2];
} bn_block_tq2_0;

typedef struct { uint8_t qs[32]; } bn_block_i2_s;

#endif
