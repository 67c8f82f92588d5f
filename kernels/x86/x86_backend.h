/* The built-in x86 backend tables (registered by kernels/registry.c). */
#ifndef BN_X86_BACKEND_H
#define BN_X86_BACKEND_H

#include "bitnet_experimental.h"

extern const bitnet_backend bn_backend_avx2;
extern const bitnet_backend bn_backend_avx512;

#endif
