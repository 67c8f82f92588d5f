/* The built-in x86 backend tables (registered by kernels/registry.c). */
#ifndef BN_X86_BACKEND_H
#define BN_X86_BACKEND_H

#include "bitnet_experimental.h"

/* CPU probes (also used by tests to skip on older CPUs). */
bool bn_x86_has_avx2(void);   /* AVX2 + FMA + F16C + BMI2 */
bool bn_x86_has_avx512(void); /* and AVX-512 F/BW/VL/DQ/VNNI */

extern const bitnet_backend bn_backend_avx2;
extern const bitnet_backend bn_backend_avx512;

#endif
