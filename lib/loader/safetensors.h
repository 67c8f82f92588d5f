/* SafeTensors reader: an 8-byte little-endian header length N, N bytes of
 * JSON naming each tensor's dtype, shape and [begin, end) byte range in the
 * data section that follows, then the data.
 *
 * Checks (every failure is BITNET_ERR_BAD_FORMAT naming the tensor, or
 * UNSUPPORTED for a dtype this reader does not know): N at most
 * BN_ST_MAX_HEADER and inside the file; the header a strict JSON object
 * (core/json.h) whose members are "__metadata__" (an object of strings)
 * and tensors {"dtype", "shape", "data_offsets"} with nothing else; names
 * non-empty, without NUL, at most BN_ST_MAX_NAME bytes; shapes of at most
 * BN_ST_MAX_DIMS non-negative dimensions whose byte size (no overflow)
 * equals end - begin; the tensors tile the data section exactly in offset
 * order, with no overlap, no hole and no byte after the last one, as the
 * reference implementation requires. Duplicate names are duplicate JSON
 * keys, rejected by the parser. */
#ifndef BN_SAFETENSORS_H
#define BN_SAFETENSORS_H

#include <stdbool.h>
#include <stdint.h>

#include "bitnet.h"
#include "core/arena.h"
#include "core/strmap.h"

#define BN_ST_MAX_HEADER (100u << 20) /* the reference implementation's limit */
#define BN_ST_MAX_DIMS 8
#define BN_ST_MAX_NAME 256
#define BN_ST_MAX_TENSORS (1 << 24)

typedef enum bn_st_dtype {
    BN_ST_F32,
    BN_ST_F16,
    BN_ST_BF16,
    BN_ST_U8,
    BN_ST_I8,
    /* Known to the format, not used by any model this library runs: a
     * tensor of these types loads only if the model does not need it. */
    BN_ST_OTHER
} bn_st_dtype;

typedef struct bn_st_tensor {
    const char *name; /* NUL-terminated copy */
    size_t name_len;
    const char *dtype_name; /* "BF16", as in the file */
    bn_st_dtype dtype;
    uint32_t elem_size; /* bytes per element */
    uint32_t n_dims;    /* 0: a scalar (one element) */
    int64_t shape[BN_ST_MAX_DIMS]; /* outermost first, as in the file */
    int64_t n_elements;
    uint64_t offset;  /* absolute in the file */
    uint64_t n_bytes;
    const uint8_t *data;
} bn_st_tensor;

typedef struct bn_safetensors {
    uint64_t header_len; /* N */
    uint64_t data_start; /* 8 + N */
    int64_t n_tensors;
    bn_st_tensor *tensors; /* in the header's order */
    bn_strmap map;         /* name -> index */
    bn_arena arena;        /* JSON nodes, names */
} bn_safetensors;

/* True when the bytes start like a SafeTensors file (a plausible header
 * length followed by '{'); says nothing about the rest. */
bool bn_safetensors_sniff(const uint8_t *data, uint64_t size);

/* Parse `size` bytes (which must outlive *st). On failure *st is released. */
bitnet_status bn_safetensors_parse(bn_safetensors *st, const uint8_t *data, uint64_t size);
void bn_safetensors_free(bn_safetensors *st);

/* Index of a tensor by name, or -1. */
int64_t bn_safetensors_find(const bn_safetensors *st, const char *name);

#endif
