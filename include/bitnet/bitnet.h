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
    BITNET_ERR_INTERNAL = 12,        /* a bug in libbitnet; please report    */
    BITNET_ERR_MEMORY_BUDGET = 13    /* cache_bytes cannot hold the working set */
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
    /* Re-quantize the output head at first use to this type
     * (BITNET_TYPE_Q8_0, BITNET_TYPE_Q6_K, BITNET_TYPE_F16, ...): the head of
     * a BitNet model is stored as F16 and is most of the bytes read per
     * token. -1 (default): use it as stored. */
    int32_t head_type;
    /* While a context computes layer i, a background worker brings layer
     * i+1 in: madvise(WILLNEED) of its mapped weights and, for weights the
     * context uses dequantized (OpenBLAS prefill with a cache budget), their
     * dequantization into the cache. Default true. */
    bool prefetch;
    /* Re-encode TQ1_0 / TQ2_0 layer weights once, when the first context
     * is created, and hand the mapped pages back. Models on int8
     * activations (bitnet-b1.58, bitnet) get I2_S copies of every tensor
     * whose blocks share one scale, as BitNet checkpoints converted to TQ
     * do (2 bits a weight: 18% more memory than TQ1_0, 3% less than
     * TQ2_0); other TQ1_0 tensors become TQ2_0 (22% more). I2_S layer
     * weights are copied as stored: decode then reads them from huge
     * pages whatever state the file's page cache is in. Results
     * are identical. It speeds up prefill and decode (docs/PERFORMANCE.md
     * has the figures). Default false. Other types are used as stored. */
    bool repack;
} bitnet_model_params;

BITNET_API bitnet_model_params bitnet_model_params_default(void);

/* Load a model, chosen by content: a GGUF (v2/v3) file, or a Hugging Face
 * model directory (config.json, model.safetensors, tokenizer.json, optional
 * tokenizer_config.json), named by the directory or by its
 * model.safetensors. A directory's metadata and tensors read under their
 * GGUF names (README "Hugging Face directories"). `params` may be NULL for
 * defaults. On success *out holds a model with one reference, owned by the
 * caller. */
BITNET_API bitnet_status bitnet_model_load_file(const char *path, const bitnet_model_params *params,
                                                bitnet_model **out);

/* Load a GGUF file from the caller's buffer, which is NOT copied: it must
 * stay valid and unchanged until the model's last reference is released.
 * `use_mmap` is ignored. SafeTensors bytes alone are not a model
 * (BITNET_ERR_BAD_FORMAT): load their directory with bitnet_model_load_file. */
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

/* GGUF version of the loaded file (2 or 3); 0 for a Hugging Face directory. */
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
/* "uint32", "string", "array", ...; "unknown" for other ids. Static storage. */
BITNET_API const char *bitnet_value_type_name(uint32_t type);
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
/* bitnet_model_tensor_find + bitnet_model_tensor_info. */
BITNET_API bitnet_status bitnet_model_tensor_info_by_name(const bitnet_model *model, const char *name,
                                                          bitnet_tensor_info *out);

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
    /* Fields below were added in 0.2; callers with an older struct_size do
     * not see them. */
    uint64_t prefetch_issued; /* tensors the prefetch worker was asked to bring in */
    uint64_t prefetch_hits;   /* cached tensors first used after a prefetch filled them */
    uint64_t bytes_peak;      /* most bytes the cache ever held                 */
    /* Added in 0.3: bytes of the weight copies params.repack built (0 when
     * off, or before the first context). */
    uint64_t bytes_repacked;
    /* Added in 0.4: stored bytes of the tensors those copies replace (a
     * decoded token reads bytes_repacked instead of these). */
    uint64_t bytes_repack_source;
} bitnet_store_stats;

BITNET_API bitnet_status bitnet_model_store_stats(const bitnet_model *model, bitnet_store_stats *out);

/* ------------------------------------------------------------------------ */
/* Vocabulary and tokenizer (from the GGUF tokenizer.ggml.* metadata:       */
/* "llama" = SentencePiece, "gpt2" = byte-level BPE)                        */
/* ------------------------------------------------------------------------ */

typedef int32_t bitnet_token;
#define BITNET_TOKEN_NULL (-1)

/* Flags of bitnet_tokenize. */
#define BITNET_TOKENIZE_ADD_SPECIAL 0x1u   /* BOS/EOS as the model's add_bos/add_eos ask */
#define BITNET_TOKENIZE_PARSE_SPECIAL 0x2u /* "<|eot_id|>" in the text becomes that token */
/* Flags of bitnet_token_to_piece / bitnet_detokenize. */
#define BITNET_DETOKENIZE_SPECIAL 0x1u     /* render control tokens (else they are empty) */

/* The tokenizer is built on the first call of this section that needs it
 * (loading or inspecting a model does not); when the model's tokenizer
 * metadata is missing or bad, every such call fails the same way
 * (BITNET_ERR_UNSUPPORTED / BITNET_ERR_BAD_FORMAT, see bitnet_last_error()),
 * and the functions without a status return 0 / BITNET_TOKEN_NULL / false /
 * NULL. Tokenization matches llama.cpp's for the same GGUF file. */

/* 0 when the model has no tokenizer metadata. */
BITNET_API int32_t bitnet_vocab_size(const bitnet_model *model);
/* BITNET_TOKEN_NULL when the model defines none. */
BITNET_API bitnet_token bitnet_token_bos(const bitnet_model *model);
BITNET_API bitnet_token bitnet_token_eos(const bitnet_model *model);
/* True for tokens that end generation (EOS, EOT, ...). */
BITNET_API bool bitnet_token_is_eog(const bitnet_model *model, bitnet_token token);
/* The vocabulary entry as stored (borrowed from the model); NULL if out of range. */
BITNET_API const char *bitnet_token_text(const bitnet_model *model, bitnet_token token);

/* Text (UTF-8, `text_len` bytes) to tokens. Two-call pattern: when `capacity`
 * is too small (e.g. 0 with tokens NULL) it returns BITNET_ERR_BUFFER_TOO_SMALL
 * and sets *n_tokens to the count needed. Invalid UTF-8 gives
 * BITNET_ERR_INVALID_ARGUMENT naming the byte offset. Thread-safe.
 * Control (and unknown) tokens are recognised in the text only with
 * BITNET_TOKENIZE_PARSE_SPECIAL; user-defined tokens (token type 4) always
 * are, as in llama.cpp and Hugging Face tokenizers. */
BITNET_API bitnet_status bitnet_tokenize(const bitnet_model *model, const char *text, size_t text_len,
                                         uint32_t flags, bitnet_token *tokens, size_t capacity,
                                         size_t *n_tokens);
/* The bytes one token stands for (a byte token may be part of a UTF-8
 * sequence). Same two-call pattern with *length. */
BITNET_API bitnet_status bitnet_token_to_piece(const bitnet_model *model, bitnet_token token, uint32_t flags,
                                               char *buf, size_t capacity, size_t *length);
/* Tokens back to text: the concatenated pieces, less the one leading space
 * that SentencePiece's dummy prefix puts on the first piece with any bytes
 * (a leading BOS that renders empty does not keep it). Spaces around
 * punctuation are not cleaned up, so detokenize(tokenize(s)) == s for text
 * without special tokens (SentencePiece: when the vocabulary has byte
 * fallback and s has no U+2581). Same two-call pattern; the output is not
 * NUL-terminated. */
BITNET_API bitnet_status bitnet_detokenize(const bitnet_model *model, const bitnet_token *tokens,
                                           size_t n_tokens, uint32_t flags, char *buf, size_t capacity,
                                           size_t *length);

/* ------------------------------------------------------------------------ */
/* Contexts: a KV cache and scratch for running one model                   */
/* ------------------------------------------------------------------------ */

typedef struct bitnet_context bitnet_context;

typedef struct bitnet_context_params {
    size_t struct_size; /* = sizeof(bitnet_context_params)                     */
    int32_t n_ctx;      /* KV cache positions; 0 = the model's context_length  */
    int32_t n_batch;    /* most tokens one decode call computes at once (512)  */
    int32_t n_threads;  /* worker threads for the kernels, 1..256 (default 1)  */
    uint32_t kv_type;   /* BITNET_TYPE_F32 (default) or BITNET_TYPE_F16        */
    bool logits_all;    /* keep logits of every token of a batch, not only the last */
    const char *backend; /* kernel backend by name (bitnet_experimental.h);
                          * NULL: the best one this CPU supports            */
    /* Batches of at least this many tokens run non-ternary weights through
     * OpenBLAS sgemm when the build has it; 0 = never. Default 256: measured
     * on the 2-core reference machine (docs/PERFORMANCE.md), sgemm beats the
     * int8 Q8_0 kernels only from about 256 tokens and never the F16 ones. */
    int32_t blas_min_batch;
} bitnet_context_params;

BITNET_API bitnet_context_params bitnet_context_params_default(void);

/* Create a context; it retains the model (the caller may release its own
 * reference). Fails with BAD_FORMAT naming the key when the model's
 * hyper-parameters are missing or inconsistent, UNSUPPORTED for an unknown
 * architecture. */
BITNET_API bitnet_status bitnet_context_new(bitnet_model *model, const bitnet_context_params *params,
                                            bitnet_context **out);
/* Frees the context and releases its model reference; NULL is a no-op. */
BITNET_API void bitnet_context_free(bitnet_context *ctx);
/* The model, borrowed. */
BITNET_API bitnet_model *bitnet_context_model(const bitnet_context *ctx);

/* Append n tokens at the end of the KV cache and compute logits (for the last
 * token, or all of them with logits_all). BITNET_ERR_CONTEXT_FULL when they do
 * not fit (nothing is appended); token ids are checked (OUT_OF_RANGE). A
 * context is used by one thread at a time. */
BITNET_API bitnet_status bitnet_context_decode(bitnet_context *ctx, const bitnet_token *tokens, int32_t n);

/* Logits (n_vocab floats) of the last decode call: i = -1 for its last
 * token; with logits_all also i in [0, n) for each of its n tokens. NULL for
 * any other i or before a decode. Borrowed: valid until the next
 * decode/clear/trim on the context. */
BITNET_API const float *bitnet_context_logits(const bitnet_context *ctx, int32_t i);

/* Memory a context owns (the model's weights are not included: see
 * bitnet_model_store_stats). */
typedef struct bitnet_context_memory_info {
    size_t struct_size;     /* in: sizeof(bitnet_context_memory_info)          */
    uint64_t kv_bytes;      /* KV cache, all layers, n_ctx positions           */
    uint64_t scratch_bytes; /* activations, logits, per-thread kernel scratch  */
    uint64_t total_bytes;   /* everything the context allocated                */
} bitnet_context_memory_info;

BITNET_API bitnet_status bitnet_context_memory(const bitnet_context *ctx, bitnet_context_memory_info *out);

/* Counters of one context since creation (or bitnet_context_stats_reset). */
typedef struct bitnet_context_stats {
    size_t struct_size;       /* in: sizeof(bitnet_context_stats)                */
    uint64_t n_decode_calls;  /* bitnet_context_decode calls that succeeded      */
    uint64_t n_prefill_tokens; /* tokens of calls with more than one token        */
    uint64_t n_decode_tokens; /* tokens of single-token calls                    */
    uint64_t prefill_ns;      /* wall time in multi-token calls                  */
    uint64_t decode_ns;       /* wall time in single-token calls                 */
    uint64_t cache_hits;      /* this context's lookups in the model's weight cache */
    uint64_t cache_misses;
    uint64_t cache_evictions; /* evictions this context's misses caused          */
    uint64_t prefetch_hits;   /* its lookups served by an entry the prefetcher filled */
    uint64_t n_state_loads;   /* bitnet_context_state_load* calls that succeeded */
} bitnet_context_stats;

BITNET_API bitnet_status bitnet_context_stats_get(const bitnet_context *ctx, bitnet_context_stats *out);
BITNET_API void bitnet_context_stats_reset(bitnet_context *ctx);

/* Positions held by the KV cache, and its capacity. */
BITNET_API int32_t bitnet_context_n_past(const bitnet_context *ctx);
BITNET_API int32_t bitnet_context_n_ctx(const bitnet_context *ctx);
/* The tokens at positions [0, n_past) (*n receives n_past); borrowed, valid
 * until the next decode/clear/trim/state load. A prompt cache compares them
 * with a new prompt and trims to the common prefix. */
BITNET_API const bitnet_token *bitnet_context_tokens(const bitnet_context *ctx, int32_t *n);
/* Drop every position (clear) or keep the first n_keep (trim). */
BITNET_API void bitnet_context_clear(bitnet_context *ctx);
BITNET_API bitnet_status bitnet_context_trim(bitnet_context *ctx, int32_t n_keep);

/* ------------------------------------------------------------------------ */
/* Sampling: penalties -> top-k -> top-p -> min-p -> temperature -> choice  */
/* ------------------------------------------------------------------------ */

typedef struct bitnet_sampler bitnet_sampler;

typedef struct bitnet_sampler_params {
    size_t struct_size;      /* = sizeof(bitnet_sampler_params)                    */
    float temperature;       /* <= 0: greedy (argmax); default 0.8                 */
    int32_t top_k;           /* keep the k most likely; <= 0 off; default 40       */
    float top_p;             /* nucleus mass; >= 1 off; default 0.95               */
    float min_p;             /* drop p < min_p * p_max; <= 0 off; default 0.05     */
    float repeat_penalty;    /* divide positive / multiply negative logits of recent tokens; 1 off */
    float frequency_penalty; /* minus count * f; 0 off                             */
    float presence_penalty;  /* minus p if present; 0 off                          */
    int32_t penalty_last_n;  /* how many recent tokens the penalties see (64)      */
    uint64_t seed;           /* same seed, same logits, same choices               */
} bitnet_sampler_params;

BITNET_API bitnet_sampler_params bitnet_sampler_params_default(void);
BITNET_API bitnet_status bitnet_sampler_new(const bitnet_sampler_params *params, bitnet_sampler **out);
BITNET_API void bitnet_sampler_free(bitnet_sampler *sampler);
/* Choose a token from n_vocab logits (not modified). */
BITNET_API bitnet_status bitnet_sampler_sample(bitnet_sampler *sampler, const float *logits, int32_t n_vocab,
                                               bitnet_token *out);
/* Record a token (prompt or generated) for the penalties. */
BITNET_API bitnet_status bitnet_sampler_accept(bitnet_sampler *sampler, bitnet_token token);
/* Forget the history and restart the random stream from the seed. */
BITNET_API void bitnet_sampler_reset(bitnet_sampler *sampler);

/* ------------------------------------------------------------------------ */
/* State files: a context's KV cache, positions and last logits, and        */
/* optionally a sampler's random stream and history, zstd-compressed.       */
/* ------------------------------------------------------------------------ */

/* The state names the model by a fingerprint (sha256 of its metadata and
 * tensor table): loading it into a context of another model, or a file
 * that is corrupted, truncated or hostile, fails (BAD_FORMAT, or
 * OUT_OF_RANGE when the positions do not fit the context's n_ctx) and
 * leaves the context and sampler unchanged. `sampler` may be NULL on either
 * side: a state saved without one loads into any sampler without touching
 * it. After save and load, decoding continues with identical logits (a
 * context without logits_all keeps the last saved row). Saving to a file
 * writes a temporary file next to `path` and renames it over `path`; file
 * errors give BITNET_ERR_IO. Layout and checks: README "State files". */
BITNET_API bitnet_status bitnet_context_state_save(const bitnet_context *ctx, const bitnet_sampler *sampler,
                                                   const char *path);
BITNET_API bitnet_status bitnet_context_state_load(bitnet_context *ctx, bitnet_sampler *sampler, const char *path);
/* In memory, with the two-call pattern of bitnet_tokenize: when the state
 * does not fit in `capacity` (e.g. buf NULL, capacity 0) it returns
 * BITNET_ERR_BUFFER_TOO_SMALL, writes nothing and sets *size to the bytes
 * needed; otherwise *size receives the bytes written. */
BITNET_API bitnet_status bitnet_context_state_save_memory(const bitnet_context *ctx, const bitnet_sampler *sampler,
                                                          void *buf, size_t capacity, size_t *size);
BITNET_API bitnet_status bitnet_context_state_load_memory(bitnet_context *ctx, bitnet_sampler *sampler,
                                                          const void *data, size_t size);

/* ------------------------------------------------------------------------ */
/* YAML configuration (schema: README "Configuration file")                */
/* ------------------------------------------------------------------------ */

typedef struct bitnet_config bitnet_config;

/* Parse a YAML document (at most 1 MiB). Unknown keys, wrong types,
 * out-of-range values, duplicate keys, several documents, anchors/aliases
 * and syntax errors fail with BAD_FORMAT (IO for an unreadable file);
 * bitnet_last_error() reads "FILE:LINE:COLUMN: message naming the key"
 * (FILE is "<string>" for load_string). Relative paths in the document
 * resolve against the file's folder (load_string: the working directory).
 * On success *out is owned by the caller; on failure it is NULL. */
BITNET_API bitnet_status bitnet_config_load_file(const char *path, bitnet_config **out);
BITNET_API bitnet_status bitnet_config_load_string(const char *yaml, size_t len, bitnet_config **out);
BITNET_API void bitnet_config_free(bitnet_config *config);

/* Model file path (model.path), borrowed from the config; NULL when absent. */
BITNET_API const char *bitnet_config_model_path(const bitnet_config *config);
/* Copy the values the document sets into *params (other fields are left
 * as they are, so defaults or command-line values can be layered), up to
 * params->struct_size (INVALID_ARGUMENT when it is out of range). Strings
 * (context backend) are borrowed from the config. */
BITNET_API bitnet_status bitnet_config_model_params(const bitnet_config *config, bitnet_model_params *params);
BITNET_API bitnet_status bitnet_config_context_params(const bitnet_config *config,
                                                      bitnet_context_params *params);
BITNET_API bitnet_status bitnet_config_sampler_params(const bitnet_config *config,
                                                      bitnet_sampler_params *params);

/* Generation settings (section `generate`). Like the _params calls above,
 * only the fields the document sets are written (up to struct_size):
 * initialise the struct, e.g. {sizeof g, NULL, -1, NULL, NULL}, to tell
 * unset fields apart. Strings are borrowed from the config; paths are
 * resolved like model.path. */
typedef struct bitnet_config_generate {
    size_t struct_size;  /* in: sizeof(bitnet_config_generate)               */
    const char *prompt;  /* borrowed from the config                         */
    int32_t n_predict;   /* tokens to generate, 0..2^24                      */
    const char *state_load; /* prompt cache to load before decoding, or NULL */
    const char *state_save; /* where to save the state afterwards, or NULL   */
} bitnet_config_generate;

BITNET_API bitnet_status bitnet_config_generate_params(const bitnet_config *config, bitnet_config_generate *out);

#ifdef __cplusplus
}
#endif

#endif /* BITNET_BITNET_H */
