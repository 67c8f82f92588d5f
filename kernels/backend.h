/* The kernel table the library runs with: a registered backend whose empty
 * slots are filled from the scalar reference ("ref"). */
#ifndef BN_BACKEND_H
#define BN_BACKEND_H

#include "bitnet_experimental.h"

/* The reference backend: clear scalar code, the oracle for the others. */
extern const bitnet_backend bn_backend_ref;

/* A backend resolved by name (NULL: the best supported), its NULL slots
 * taken from ref. NOT_FOUND / UNSUPPORTED otherwise. */
typedef struct bn_kernels {
    bitnet_backend k; /* every slot non-NULL */
    /* Internal, not a backend slot: float rows to IEEE half for the KV
     * cache, rounded to nearest even exactly as bn_fp32_to_fp16 (F16C when
     * an x86 backend was chosen, else the scalar reference). */
    void (*store_f16)(const float *x, int64_t n, uint16_t *out);
} bn_kernels;

bitnet_status bn_kernels_select(const char *name, bn_kernels *out);

/* Matmuls through the primary backend, falling back to ref when it declines. */
void bn_kernels_matmul_f32(const bn_kernels *k, const bitnet_weights *w, const float *x, int64_t ldx,
                           int64_t n_batch, float *y, int64_t ldy, int64_t r0, int64_t r1, void *scratch);
void bn_kernels_matmul_i8(const bn_kernels *k, const bitnet_weights *w, const int8_t *xq, int64_t ldx,
                          const float *x_scale, int64_t n_batch, float *y, int64_t ldy, int64_t r0, int64_t r1,
                          void *scratch);

#endif
