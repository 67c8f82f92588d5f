/* OpenBLAS sgemm for prefill with non-ternary weights (meson option `blas`). */
#ifndef BN_BLAS_H
#define BN_BLAS_H

#include <stdbool.h>
#include <stdint.h>

/* True when the build has OpenBLAS. */
bool bn_blas_available(void);

/* y[t*ldy + r] = sum_k x[t*n + k] * w[r*n + k] for t < T, r < rows. OpenBLAS
 * decides its own threading (the host's setting is left alone), so results
 * do not depend on the context's n_threads. */
void bn_blas_sgemm(const float *x, int64_t T, int64_t n, const float *w, int64_t rows, float *y, int64_t ldy);

#endif
