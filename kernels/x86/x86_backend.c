/* The x86 SIMD backends: AVX2 and AVX-512 (BW/VL/VNNI) kernel tables,
 * registered at first use when the CPU has the instructions. This file is
 * compiled without ISA flags: it only probes and points. */
#include "kernels/x86/x86_backend.h"

#include <cpuid.h>

#include "kernels/x86/quant_simd.h"
#include "kernels/x86/ternary.h"

/* F16C and BMI2 by cpuid: clang 14's __builtin_cpu_supports knows neither. */
static bool has_f16c_bmi2(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 29)))
        return false;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 8));
}

bool bn_x86_has_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c_bmi2();
}

bool bn_x86_has_avx512(void)
{
    return bn_x86_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vnni");
}

const bitnet_backend bn_backend_avx2 = {
    .api_version = BITNET_BACKEND_API_VERSION,
    .name = "avx2",
    .priority = 10,
    .is_supported = bn_x86_has_avx2,
    .matmul_f32 = bn_avx2_matmul_f32,
    .matmul_i8 = bn_avx2_matmul_i8,
    .quantize_i8 = bn_avx2_quantize_i8,
    .rmsnorm = bn_avx2_rmsnorm,
    .rope = bn_avx2_rope,
    .attention = bn_avx2_attention,
    .silu_mul = bn_avx2_silu_mul,
    .relu2_mul = bn_avx2_relu2_mul,
};

const bitnet_backend bn_backend_avx512 = {
    .api_version = BITNET_BACKEND_API_VERSION,
    .name = "avx512",
    .priority = 20,
    .is_supported = bn_x86_has_avx512,
    .matmul_f32 = bn_avx512_matmul_f32,
    .matmul_i8 = bn_avx512_matmul_i8,
    .quantize_i8 = bn_avx512_quantize_i8,
    .rmsnorm = bn_avx512_rmsnorm,
    .rope = bn_avx512_rope,
    .attention = bn_avx512_attention,
    .silu_mul = bn_avx512_silu_mul,
    .relu2_mul = bn_avx512_relu2_mul,
};
