/* GGUF writer: builds a GGUF v2/v3 file in memory or on disk.
 *
 * Library-internal; used by `bitnet gen-model`, `bitnet convert`, the tests
 * and the fuzz seed generator.
 *
 * Usage: new → add_* (any order; pairs and tensors are written in the order
 * added) → to_memory / to_file → free. Every fallible call returns a
 * bitnet_status and leaves the writer unchanged when it fails; allocation
 * failure gives BITNET_ERR_OUT_OF_MEMORY.
 *
 * Checks. By default the writer refuses anything a conforming loader would
 * reject (empty or duplicate keys and tensor names, n_dims outside 1..4,
 * dimensions < 1, unknown tensor types, a byte count that does not match the
 * type and shape, ...): BITNET_ERR_INVALID_ARGUMENT. Tests that need malformed
 * files turn checks off with bn_gguf_writer_set_checks(w, false) and/or patch
 * the bytes at the positions the layout functions report.
 */
#ifndef BN_GGUF_WRITER_H
#define BN_GGUF_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bitnet/bitnet.h"

#define BN_GGUF_MAGIC "GGUF"
#define BN_GGUF_WRITER_DEFAULT_ALIGNMENT 32u
/* Nesting limit for arrays of arrays given to bn_gguf_writer_add_array. */
#define BN_GGUF_WRITER_MAX_DEPTH 8
/* Dimensions the writer can store when checks are off (checks on: 1..4). */
#define BN_GGUF_WRITER_MAX_DIMS 8
/* Longest tensor name accepted with checks on (ggml's GGML_MAX_NAME - 1). */
#define BN_GGUF_WRITER_MAX_NAME 63

typedef struct bn_gguf_writer bn_gguf_writer;

/* Describes one array value, for arrays of arrays (elem_type ARRAY).
 * `data` holds `n` elements laid out by elem_type:
 *   numeric types: the C type of that width (uint8_t ... double),
 *   BOOL: bool, STRING: const char * (NUL-terminated),
 *   ARRAY: bn_gguf_array. */
typedef struct bn_gguf_array {
    bitnet_value_type elem_type;
    uint64_t n;
    const void *data;
} bn_gguf_array;

/* Byte offsets (from the start of the file) where the sections begin. */
typedef struct bn_gguf_layout {
    uint64_t version;      /* uint32 version field (magic is at 0)          */
    uint64_t tensor_count; /* uint64 tensor count field                     */
    uint64_t kv_count;     /* uint64 kv count field                         */
    uint64_t kv;           /* first key/value pair                          */
    uint64_t tensor_infos; /* first tensor info (= end of the kv pairs)     */
    uint64_t infos_end;    /* one past the last tensor info (padding here)  */
    uint64_t data;         /* data section, aligned                         */
    uint64_t data_end;     /* one past the last tensor's bytes              */
    uint64_t size;         /* whole file, trailing padding included         */
    uint64_t n_kv;         /* pairs written, an automatic general.alignment included */
    uint64_t n_tensors;
    uint32_t alignment;
} bn_gguf_layout;

/* One key/value pair; all absolute file offsets. */
typedef struct bn_gguf_kv_layout {
    uint64_t start; /* uint64 key length                               */
    uint64_t key;   /* key bytes                                       */
    uint64_t type;  /* uint32 value type                               */
    uint64_t value; /* value (arrays: the uint32 element type, then the
                       uint64 count at value + 4, elements at value + 12) */
    uint64_t end;   /* one past the pair                               */
} bn_gguf_kv_layout;

/* One tensor info and its data; all absolute file offsets. */
typedef struct bn_gguf_tensor_layout {
    uint64_t start;  /* uint64 name length                             */
    uint64_t name;   /* name bytes                                     */
    uint64_t n_dims; /* uint32 n_dims                                  */
    uint64_t ne;     /* ne[0] (uint64 each, n_dims of them)            */
    uint64_t type;   /* uint32 tensor type                             */
    uint64_t offset; /* uint64 offset field (relative to the data section) */
    uint64_t end;    /* one past the info                              */
    uint64_t data;   /* the tensor's first data byte                   */
    uint64_t n_bytes;
} bn_gguf_tensor_layout;

/* version: 2 or 3 (the byte layout is the same; v3 marks little-endian
 * files explicitly). Anything else: BITNET_ERR_INVALID_ARGUMENT. */
bitnet_status bn_gguf_writer_new(uint32_t version, bn_gguf_writer **out);
void bn_gguf_writer_free(bn_gguf_writer *w);

/* Checks on (default) or off. Off: keys and names are written verbatim
 * (empty, duplicate, embedded NUL via add_raw), tensors may have 0..8 dims,
 * any dimension values, any type id and any byte count, and an added
 * general.alignment pair is written as given without changing the layout. */
void bn_gguf_writer_set_checks(bn_gguf_writer *w, bool enabled);

/* Alignment of the data section and of every tensor: a power of two.
 * When it is not 32 and no general.alignment pair was added, serialization
 * appends general.alignment (uint32) as the last pair. With checks on, adding
 * general.alignment with add_u32 is the same as calling this, and a later call
 * updates that pair's value. */
bitnet_status bn_gguf_writer_set_alignment(bn_gguf_writer *w, uint32_t alignment);

/* Scalars. `key` is copied. */
bitnet_status bn_gguf_writer_add_u8(bn_gguf_writer *w, const char *key, uint8_t v);
bitnet_status bn_gguf_writer_add_i8(bn_gguf_writer *w, const char *key, int8_t v);
bitnet_status bn_gguf_writer_add_u16(bn_gguf_writer *w, const char *key, uint16_t v);
bitnet_status bn_gguf_writer_add_i16(bn_gguf_writer *w, const char *key, int16_t v);
bitnet_status bn_gguf_writer_add_u32(bn_gguf_writer *w, const char *key, uint32_t v);
bitnet_status bn_gguf_writer_add_i32(bn_gguf_writer *w, const char *key, int32_t v);
bitnet_status bn_gguf_writer_add_u64(bn_gguf_writer *w, const char *key, uint64_t v);
bitnet_status bn_gguf_writer_add_i64(bn_gguf_writer *w, const char *key, int64_t v);
bitnet_status bn_gguf_writer_add_f32(bn_gguf_writer *w, const char *key, float v);
bitnet_status bn_gguf_writer_add_f64(bn_gguf_writer *w, const char *key, double v);
bitnet_status bn_gguf_writer_add_bool(bn_gguf_writer *w, const char *key, bool v);
/* NUL-terminated string value. */
bitnet_status bn_gguf_writer_add_string(bn_gguf_writer *w, const char *key, const char *v);
/* String value of `len` bytes (may contain NULs). */
bitnet_status bn_gguf_writer_add_string_n(bn_gguf_writer *w, const char *key, const char *v, size_t len);

/* Array of `n` elements of elem_type, laid out as described at bn_gguf_array
 * (STRING: const char *const *, ARRAY: const bn_gguf_array *). The data is
 * encoded at once: nothing is borrowed. Nesting deeper than
 * BN_GGUF_WRITER_MAX_DEPTH: BITNET_ERR_INVALID_ARGUMENT. */
bitnet_status bn_gguf_writer_add_array(bn_gguf_writer *w, const char *key, bitnet_value_type elem_type,
                                       const void *data, uint64_t n);
bitnet_status bn_gguf_writer_add_string_array(bn_gguf_writer *w, const char *key, const char *const *strs, uint64_t n);

/* A pair written verbatim, never checked: key of key_len bytes (any bytes),
 * the uint32 `value_type` as given, then `value_len` bytes of `value` as the
 * encoded value. For malformed-file tests and fuzz seeds. */
bitnet_status bn_gguf_writer_add_raw(bn_gguf_writer *w, const char *key, size_t key_len, uint32_t value_type,
                                     const void *value, size_t value_len);

/* Tensors. ne[0] is the row length; `n_dims` entries of `ne` are used.
 * add_tensor BORROWS `data`: it must stay valid and unchanged until the last
 * to_memory/to_file call or bn_gguf_writer_free. add_tensor_copy copies it.
 * data NULL writes `nbytes` zero bytes. With checks on, `nbytes` must equal
 * bn_type_tensor_bytes(type, n_elements) and ne[0] must be a whole number of
 * blocks. */
bitnet_status bn_gguf_writer_add_tensor(bn_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                        const int64_t *ne, const void *data, uint64_t nbytes);
bitnet_status bn_gguf_writer_add_tensor_copy(bn_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                             const int64_t *ne, const void *data, uint64_t nbytes);

uint64_t bn_gguf_writer_kv_count(const bn_gguf_writer *w);     /* pairs added */
uint64_t bn_gguf_writer_tensor_count(const bn_gguf_writer *w); /* tensors added */

/* Where things will be in the file the writer produces now. Index `index`
 * counts the pairs in the order written (an automatic general.alignment is
 * the last one); out of range: BITNET_ERR_OUT_OF_RANGE. */
bitnet_status bn_gguf_writer_layout(const bn_gguf_writer *w, bn_gguf_layout *out);
bitnet_status bn_gguf_writer_kv_layout(const bn_gguf_writer *w, uint64_t index, bn_gguf_kv_layout *out);
bitnet_status bn_gguf_writer_tensor_layout(const bn_gguf_writer *w, uint64_t index, bn_gguf_tensor_layout *out);

/* The whole file in a new buffer; the caller frees *out with free().
 * `layout` may be NULL. On failure *out is NULL and *out_size 0. */
bitnet_status bn_gguf_writer_to_memory(const bn_gguf_writer *w, void **out, size_t *out_size, bn_gguf_layout *layout);
/* Writes the file to an open stream (binary mode) at its position. */
bitnet_status bn_gguf_writer_to_stream(const bn_gguf_writer *w, FILE *fp);
/* Creates or truncates `path`; on failure the partial file is removed. */
bitnet_status bn_gguf_writer_to_file(const bn_gguf_writer *w, const char *path);

#endif /* BN_GGUF_WRITER_H */
