/* GGUF v2/v3 parser. Everything read from the file is bounds-checked before
 * use; strings are copied (NUL-terminated) into an arena, numeric arrays and
 * tensor data stay in the file's bytes. */
#ifndef BN_GGUF_H
#define BN_GGUF_H

#include <stdint.h>

#include "bitnet.h"
#include "core/arena.h"
#include "core/strmap.h"

/* Documented input limits (README "Input limits"). */
#define BN_GGUF_MAX_KV (1 << 24)
#define BN_GGUF_MAX_TENSORS (1 << 24)
#define BN_GGUF_MAX_KEY_LEN 65535
#define BN_GGUF_MAX_NAME_LEN 256
#define BN_GGUF_MAX_STRING_LEN (256u << 20)
#define BN_GGUF_MAX_ARRAY_DEPTH 8
#define BN_GGUF_MAX_ALIGNMENT (1u << 20)
#define BN_GGUF_DEFAULT_ALIGNMENT 32

typedef struct bn_gguf_str {
    const char *s; /* NUL-terminated copy */
    uint64_t len;
} bn_gguf_str;

/* The public opaque bitnet_value. */
struct bitnet_value {
    uint32_t type;      /* bitnet_value_type */
    uint32_t elem_type; /* arrays: element type */
    uint64_t len;       /* strings: bytes; arrays: elements */
    union {
        uint64_t u;                       /* unsigned ints, bool */
        int64_t i;                        /* signed ints */
        double f;                         /* float32/float64 */
        const char *str;                  /* string */
        const uint8_t *raw;               /* numeric array, little-endian in the file */
        const bn_gguf_str *strs;          /* array of strings */
        const struct bitnet_value *items; /* array of arrays */
    } v;
};

typedef struct bn_gguf_kv {
    const char *key;
    uint64_t key_len;
    struct bitnet_value value;
} bn_gguf_kv;

typedef struct bn_gguf_tensor {
    const char *name;
    uint64_t name_len;
    uint32_t type;
    uint32_t n_dims;
    int64_t ne[BITNET_MAX_DIMS];
    int64_t n_elements;
    uint64_t offset;  /* absolute in the file */
    uint64_t n_bytes; /* 0 when the type is unknown to this build */
    const uint8_t *data;
} bn_gguf_tensor;

typedef struct bn_gguf {
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset; /* absolute start of the tensor data section */
    int64_t n_kv;
    bn_gguf_kv *kv;
    int64_t n_tensors;
    bn_gguf_tensor *tensors;
    bn_strmap kv_map;
    bn_strmap tensor_map;
    bn_arena arena;
} bn_gguf;

/* Parse `size` bytes at `data` (which must outlive *g). On failure *g is
 * released and the thread's last error names the offset and the problem. */
bitnet_status bn_gguf_parse(bn_gguf *g, const uint8_t *data, uint64_t size);
void bn_gguf_free(bn_gguf *g);

/* Size in bytes of one element of a numeric value type; 0 for string/array
 * or unknown ids. */
uint32_t bn_gguf_value_size(uint32_t type);
const char *bn_gguf_value_type_name(uint32_t type);

/* Decode a numeric scalar of `type` from little-endian bytes at p. */
void bn_gguf_decode_scalar(uint32_t type, const uint8_t *p, struct bitnet_value *v);

int64_t bn_gguf_find_kv(const bn_gguf *g, const char *key);
int64_t bn_gguf_find_tensor(const bn_gguf *g, const char *name);

#endif
