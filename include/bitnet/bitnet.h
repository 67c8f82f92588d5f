/*
 * libbitnet — the stable public API.
 *
 * If it is not in this header (or bitnet_version.h, which it includes), it is
 * not stable API. Experimental interfaces live in bitnet_experimental.h.
 *
 * Conventions
 *  - Every fallible call returns a bitnet_status; BITNET_OK is 0. The library
 *    never aborts the host process on bad input.
 *  - On failure a message naming the detail (key, tensor, offset, expected vs
 *    found) is kept per thread (bitnet_last_error()) and, for calls on a model,
 *    also on the model (bitnet_model_last_error()).
 *  - Handles are opaque. Objects returned through `out` pointers are owned by
 *    the caller unless the comment says "borrowed".
 *  - Params structs start with `struct_size`; fill them with the matching
 *    *_default() function, so fields added later never break old callers.
 *    Out-structs also start with `struct_size`: set it to sizeof(the struct)
 *    before the call; the library writes no more than that many bytes.
 *  - Functions that free or release accept NULL and do nothing.
 */
#ifndef BITNET_BITNET_H
#define BITNET_BITNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bitnet_version.h"

#if defined(_WIN32) && defined(BITNET_BUILDING_DLL)
#define BITNET_API __declspec(dllexport)
#elif defined(_WIN32) && defined(BITNET_SHARED)
#define BITNET_API __declspec(dllimport)
#elif defined(__GNUC__)
#define BITNET_API __attribute__((visibility("default")))
#else
#define BITNET_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Versions                                                                 */
/* ------------------------------------------------------------------------ */

/* Runtime version as BITNET_VERSION_NUMBER: major*10000 + minor*100 + patch. */
BITNET_API uint32_t bitnet_version(void);
/* "MAJOR.MINOR.PATCH"; static storage. */
BITNET_API const char *bitnet_version_string(void);

/* ------------------------------------------------------------------------ */
/* Status codes and errors. Values are pinned: they never change meaning.   */
/* ------------------------------------------------------------------------ */

typedef enum bitnet_status {
    BITNET_OK = 0,
    BITNET_ERR_INVALID_ARGUMENT = 1, /* NULL pointer, bad flag, bad params   */
    BITNET_ERR_IO = 2,               /* open/read/mmap/write failed          */
    BITNET_ERR_BAD_FORMAT = 3,       /* malformed or inconsistent file       */
    BITNET_ERR_UNSUPPORTED = 4,      /* valid but not implemented (type...)  */
    BITNET_ERR_OUT_OF_MEMORY = 5,    /* an allocation failed                 */
    BITNET_ERR_OUT_OF_RANGE = 6,     /* index, row range, value out of range */
    BITNET_ERR_NOT_FOUND = 7,        /* no such key / tensor                 */
    BITNET_ERR_TYPE_MISMATCH = 8,    /* value exists with another type       */
    BITNET_ERR_BUFFER_TOO_SMALL = 9, /* caller's buffer cannot hold result   */
    BITNET_ERR_CONTEXT_FULL = 10,    /* KV cache has no room left            */
    BITNET_ERR_ABORTED = 11,         /* stopped by the caller's callback     */
    BITNET_ERR_INTERNAL = 12         /* a bug in libbitnet; please report    */
} bitnet_status;

/* Short fixed text for a status ("bad format"); never NULL. */
BITNET_API const char *bitnet_status_str(bitnet_status status);

/* Detail message of the last failing call made by this thread ("" if none).
 * Valid until the next libbitnet call on this thread. */
BITNET_API const char *bitnet_last_error(void);

/* ------------------------------------------------------------------------ */
/* Logging: silent unless a callback is installed.                          */
/* ------------------------------------------------------------------------ */

typedef enum bitnet_log_level {
    BITNET_LOG_ERROR = 0,
    BITNET_LOG_WARN = 1,
    BITNET_LOG_INFO = 2,
    BITNET_LOG_DEBUG = 3
} bitnet_log_level;

/* `message` is borrowed for the duration of the call; it has no newline. */
typedef void (*bitnet_log_callback)(bitnet_log_level level, const char *message, void *user_data);

/* Process-wide. Messages above `max_level` are not formatted at all.
 * Pass callback NULL to silence. Thread-safe. */
BITNET_API void bitnet_set_log_callback(bitnet_log_callback callback, void *user_data,
                                        bitnet_log_level max_level);

/* ------------------------------------------------------------------------ */
/* Tensor element types: the GGUF/ggml type ids (pinned by the file format). */
/* ------------------------------------------------------------------------ */

typedef enum bitnet_type {
    BITNET_TYPE_F32 = 0,
    BITNET_TYPE_F16 = 1,
    BITNET_TYPE_Q4_0 = 2,
    BITNET_TYPE_Q4_1 = 3,
    BITNET_TYPE_Q5_0 = 6,
    BITNET_TYPE_Q5_1 = 7,
    BITNET_TYPE_Q8_0 = 8,
    BITNET_TYPE_Q8_1 = 9,
    BITNET_TYPE_Q2_K = 10,
    BITNET_TYPE_Q3_K = 11,
    BITNET_TYPE_Q4_K = 12,
    BITNET_TYPE_Q5_K = 13,
    BITNET_TYPE_Q6_K = 14,
    BITNET_TYPE_Q8_K = 15,
    BITNET_TYPE_I8 = 24,
    BITNET_TYPE_I16 = 25,
    BITNET_TYPE_I32 = 26,
    BITNET_TYPE_BF16 = 30,
    BITNET_TYPE_TQ1_0 = 34,
    BITNET_TYPE_TQ2_0 = 35,
    BITNET_TYPE_I2_S = 36 /* bitnet.cpp's x86 ternary layout */
} bitnet_type;

/* "q4_k", "i2_s", ...; "unknown" for ids this build does not know. */
BITNET_API const char *bitnet_type_name(uint32_t type);

/* ------------------------------------------------------------------------ */
/* Models                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct bitnet_model bitnet_model;

typedef struct bitnet_model_params {
    size_t struct_size; /* = sizeof(bitnet_model_params)                      */
    bool use_mmap;      /* map the file (default true); false reads it in     */
    /* Budget in bytes of the dequantized-tensor cache of the weight store;
     * 0 (default) turns the cache off. Least recently used entries are
     * evicted to stay within it. */
    uint64_t cache_bytes;
} bitnet_model_params;

BITNET_API bitnet_model_params bitnet_model_params_default(void);

/* Load a GGUF (v2/v3) file. `params` may be NULL for defaults.
 * On success *out holds a model with one reference, owned by the caller. */
BITNET_API bitnet_status bitnet_model_load_file(const char *path, const bitnet_model_params *params,
                                                bitnet_model **out);

/* Load from the caller's buffer, which is NOT copied: it must stay valid and
 * unchanged until the model's last reference is released. `use_mmap` is
 * ignored. */
BITNET_API bitnet_status bitnet_model_load_memory(const void *data, size_t size,
                                                  const bitnet_model_params *params,
                                                  bitnet_model **out);

/* Reference counting (thread-safe). Release of the last reference frees the
 * model; release(NULL) is a no-op. */
BITNET_API void bitnet_model_retain(bitnet_model *model);
BITNET_API void bitnet_model_release(bitnet_model *model);

/* Message of the last failing call on this model ("" if none). Returns a copy
 * local to the calling thread, valid until its next libbitnet call. */
BITNET_API const char *bitnet_model_last_error(const bitnet_model *model);

/* GGUF version of the loaded file (2 or 3). */
BITNET_API uint32_t bitnet_model_gguf_version(const bitnet_model *model);

/* ------------------------------------------------------------------------ */
/* Metadata (GGUF key/value pairs)                                          */
/* ------------------------------------------------------------------------ */

/* GGUF value type ids (pinned by the file format). */
typedef enum bitnet_value_type {
    BITNET_VALUE_UINT8 = 0,
    BITNET_VALUE_INT8 = 1,
    BITNET_VALUE_UINT16 = 2,
    BITNET_VALUE_INT16 = 3,
    BITNET_VALUE_UINT32 = 4,
    BITNET_VALUE_INT32 = 5,
    BITNET_VALUE_FLOAT32 = 6,
    BITNET_VALUE_BOOL = 7,
    BITNET_VALUE_STRING = 8,
    BITNET_VALUE_ARRAY = 9,
    BITNET_VALUE_UINT64 = 10,
    BITNET_VALUE_INT64 = 11,
    BITNET_VALUE_FLOAT64 = 12
} bitnet_value_type;

/* A metadata value, borrowed from the model: valid while the model lives. */
typedef struct bitnet_value bitnet_value;

BITNET_API int64_t bitnet_model_meta_count(const bitnet_model *model);
/* Key and value at index [0, count). Either out pointer may be NULL. */
BITNET_API bitnet_status bitnet_model_meta_at(const bitnet_model *model, int64_t index, const char **key,
                                              const bitnet_value **value);
/* Lookup by key: BITNET_ERR_NOT_FOUND if absent. */
BITNET_API bitnet_status bitnet_model_meta_get(const bitnet_model *model, const char *key,
                                               const bitnet_value **value);

BITNET_API bitnet_value_type bitnet_value_get_type(const bitnet_value *value);
/* Typed reads. Integers convert between widths when the value fits (else
 * OUT_OF_RANGE); floats accept float32/float64; any other type gives
 * TYPE_MISMATCH. Strings are NUL-terminated and borrowed from the model; `len`
 * (may be NULL) excludes the NUL. */
BITNET_API bitnet_status bitnet_value_int(const bitnet_value *value, int64_t *out);
BITNET_API bitnet_status bitnet_value_uint(const bitnet_value *value, uint64_t *out);
BITNET_API bitnet_status bitnet_value_float(const bitnet_value *value, double *out);
BITNET_API bitnet_status bitnet_value_bool(const bitnet_value *value, bool *out);
BITNET_API bitnet_status bitnet_value_string(const bitnet_value *value, const char **out, size_t *len);

/* Arrays: element type and length, then element reads with the same rules. */
BITNET_API bitnet_status bitnet_value_array_info(const bitnet_value *value, bitnet_value_type *elem_type,
                                                 uint64_t *length);
BITNET_API bitnet_status bitnet_value_array_int(const bitnet_value *array, uint64_t index, int64_t *out);
BITNET_API bitnet_status bitnet_value_array_uint(const bitnet_value *array, uint64_t index, uint64_t *out);
BITNET_API bitnet_status bitnet_value_array_float(const bitnet_value *array, uint64_t index, double *out);
BITNET_API bitnet_status bitnet_value_array_bool(const bitnet_value *array, uint64_t index, bool *out);
BITNET_API bitnet_status bitnet_value_array_string(const bitnet_value *array, uint64_t index,
                                                   const char **out, size_t *len);
/* Element of an array of arrays (nested arrays), itself an array value. */
BITNET_API bitnet_status bitnet_value_array_array(const bitnet_value *array, uint64_t index,
                                                  const bitnet_value **out);

/* Key-based shortcuts: lookup + typed read. */
BITNET_API bitnet_status bitnet_model_meta_int(const bitnet_model *model, const char *key, int64_t *out);
BITNET_API bitnet_status bitnet_model_meta_uint(const bitnet_model *model, const char *key, uint64_t *out);
BITNET_API bitnet_status bitnet_model_meta_float(const bitnet_model *model, const char *key, double *out);
BITNET_API bitnet_status bitnet_model_meta_bool(const bitnet_model *model, const char *key, bool *out);
BITNET_API bitnet_status bitnet_model_meta_string(const bitnet_model *model, const char *key,
                                                  const char **out, size_t *len);

/* ------------------------------------------------------------------------ */
/* Tensors and the host-side weight store                                   */
/* ------------------------------------------------------------------------ */

#define BITNET_MAX_DIMS 4

typedef struct bitnet_tensor_info {
    size_t struct_size;    /* in: sizeof(bitnet_tensor_info)                   */
    const char *name;      /* borrowed from the model                          */
    uint32_t type;         /* bitnet_type id as stored (may be unknown)        */
    const char *type_name; /* "q4_k", ... or "unknown"; static storage         */
    uint32_t n_dims;
    int64_t ne[BITNET_MAX_DIMS]; /* ne[0] is the row length; unused dims = 1   */
    int64_t n_elements;
    int64_t n_rows;   /* n_elements / ne[0]                                  */
    uint64_t n_bytes; /* stored size in the file                             */
    uint64_t offset;  /* absolute byte offset of the data in the file        */
} bitnet_tensor_info;

BITNET_API int64_t bitnet_model_tensor_count(const bitnet_model *model);
BITNET_API bitnet_status bitnet_model_tensor_info(const bitnet_model *model, int64_t index,
                                                  bitnet_tensor_info *out);
/* Index of a tensor by name; BITNET_ERR_NOT_FOUND if absent. */
BITNET_API bitnet_status bitnet_model_tensor_find(const bitnet_model *model, const char *name, int64_t *index);

/* Dequantize rows [row_begin, row_end) of tensor `name` into `dst` as
 * `dst_type` (BITNET_TYPE_F32, BITNET_TYPE_F16 or BITNET_TYPE_BF16).
 * Never writes more than `dst_capacity_bytes`; a smaller buffer gives
 * BITNET_ERR_BUFFER_TOO_SMALL and writes nothing. *written (may be NULL)
 * receives the bytes written. Rows are ne[0] elements. Thread-safe; the store's
 * cache (params.cache_bytes) is consulted and filled. */
BITNET_API bitnet_status bitnet_model_tensor_read(bitnet_model *model, const char *name, int64_t row_begin,
                                                  int64_t row_end, bitnet_type dst_type, void *dst,
                                                  size_t dst_capacity_bytes, size_t *written);

typedef struct bitnet_store_stats {
    size_t struct_size;      /* in: sizeof(bitnet_store_stats)                 */
    uint64_t hits;           /* reads served from the dequantized cache        */
    uint64_t misses;         /* reads that dequantized (and cached if it fit)  */
    uint64_t evictions;      /* cache entries dropped to honour the budget     */
    uint64_t bytes_resident; /* bytes held by the cache now                    */
    uint64_t bytes_budget;   /* params.cache_bytes                             */
    uint64_t bytes_mapped;   /* bytes of the file mapped or read into memory   */
    uint64_t entries;        /* tensors held by the cache now                  */
} bitnet_store_stats;

BITNET_API bitnet_status bitnet_model_store_stats(const bitnet_model *model, bitnet_store_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* BITNET_BITNET_H */
