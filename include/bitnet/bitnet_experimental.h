/*
 * libbitnet — EXPERIMENTAL API: the kernel backend table.
 *
 * Not covered by the ABI promise of bitnet.h: it may change in any release;
 * `api_version` says which layout a table has, and registration refuses a
 * table of another version.
 *
 * A backend is a table of kernels. Every slot may be NULL, and a matmul slot
 * may decline a weight type by returning false: the library then uses the
 * scalar reference backend ("ref") for that call, which is also the oracle
 * every other backend is tested against.
 */
#ifndef BITNET_BITNET_EXPERIMENTAL_H
#define BITNET_BITNET_EXPERIMENTAL_H

#include "bitnet.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BITNET_BACKEND_API_VERSION 1

/* Weights of one linear layer as stored: n_rows rows of n elements of
 * `type`, row_bytes apart; `tail` is the tensor's trailing bytes (I2_S's
 * scale) or NULL. */
typedef struct bitnet_weights {
    uint32_t type;
    const void *data;
    size_t row_bytes;
    const void *tail;
    int64_t n;
    int64_t n_rows;
} bitnet_weights;

typedef struct bitnet_backend {
    uint32_t api_version; /* BITNET_BACKEND_API_VERSION                          */
    const char *name;     /* unique, e.g. "ref", "avx2"                          */
    int32_t priority;     /* the supported backend with the highest one is used */
    bool (*is_supported)(void); /* CPU probe; NULL = always supported            */

    /* y[b*ldy + r] = sum_k W[r][k] * x[b*ldx + k] for rows r in [r0, r1), batch
     * rows b in [0, n_batch). `scratch` holds at least 4*n + 1024 bytes private
     * to the calling thread. Returns false to decline the weight type. */
    bool (*matmul_f32)(const bitnet_weights *w, const float *x, int64_t ldx, int64_t n_batch, float *y,
                       int64_t ldy, int64_t r0, int64_t r1, void *scratch);
    /* W1.58A8: activations quantized to int8 per batch row (x ~ xq * x_scale[b]);
     * y[b*ldy + r] = x_scale[b] * sum_k W[r][k] * xq[b*ldx + k], ternary weights
     * multiplied in integer arithmetic. Same contract as matmul_f32. */
    bool (*matmul_i8)(const bitnet_weights *w, const int8_t *xq, int64_t ldx, const float *x_scale, int64_t n_batch,
                      float *y, int64_t ldy, int64_t r0, int64_t r1, void *scratch);

    /* Per-token absmax quantization: q = clamp(round(x * 127 / max|x|), -128, 127),
     * rounding half away from zero, max|x| clamped below at 1e-5;
     * *scale = max|x| / 127. */
    void (*quantize_i8)(const float *x, int64_t n, int8_t *q, float *scale);
    /* y = x / sqrt(mean(x^2) + eps) * w (y may alias x). */
    void (*rmsnorm)(const float *x, const float *w, int64_t n, float eps, float *y);
    /* Rotate n_heads heads of head_dim in place at position pos; the first
     * n_rot dims rotate; neox pairs (i, i + n_rot/2), else (2i, 2i + 1). */
    void (*rope)(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, int32_t pos, float freq_base,
                 bool neox);
    /* One query head against n_pos cached positions: out = softmax(q.K^T * scale) V.
     * k, v point at the head's first element; consecutive positions are
     * `stride` elements apart; kv_type BITNET_TYPE_F32 or BITNET_TYPE_F16.
     * scratch: n_pos floats. */
    void (*attention)(const float *q, const void *k, const void *v, uint32_t kv_type, int64_t stride,
                      int64_t n_pos, int64_t head_dim, float scale, float *out, float *scratch);
    /* y = silu(g) * u and y = relu(g)^2 * u (y may alias g or u). */
    void (*silu_mul)(const float *g, const float *u, float *y, int64_t n);
    void (*relu2_mul)(const float *g, const float *u, float *y, int64_t n);
} bitnet_backend;

/* Add a backend (the table is copied; `name` must stay valid for the life of
 * the process). BITNET_ERR_UNSUPPORTED for another api_version,
 * INVALID_ARGUMENT for a duplicate name or a full registry (16). Thread-safe;
 * contexts created afterwards may pick it. */
BITNET_API bitnet_status bitnet_backend_register(const bitnet_backend *backend);

/* Registered backends in priority order (highest first), supported or not. */
BITNET_API int32_t bitnet_backend_count(void);
BITNET_API const char *bitnet_backend_name(int32_t index);
BITNET_API bool bitnet_backend_supported(int32_t index);

#ifdef __cplusplus
}
#endif

#endif /* BITNET_BITNET_EXPERIMENTAL_H */
