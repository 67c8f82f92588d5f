#include "context/blas.h"

#include "bitnet_config.h"

#if BITNET_HAVE_BLAS
#include <cblas.h>

bool bn_blas_available(void)
{
    return true;
}

void bn_blas_sgemm(const float *x, int64_t T, int64_t n, const float *w, int64_t rows, float *y, int64_t ldy)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)rows, (int)n, 1.0f, x, (int)n, w, (int)n, 0.0f,
                y, (int)ldy);
}
#else
bool bn_blas_available(void)
{
    return false;
}

void bn_blas_sgemm(const float *x, int64_t T, int64_t n, const float *w, int64_t rows, float *y, int64_t ldy)
{
    (void)x, (void)T, (void)n, (void)w, (void)rows, (void)y, (void)ldy;
}
#endif
