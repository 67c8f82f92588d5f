#include "kernels/backend.h"
#include "kernels/ref/ref.h"

const bitnet_backend bn_backend_ref = {
    .api_version = BITNET_BACKEND_API_VERSION,
    .name = "ref",
    .priority = 0,
    .is_supported = NULL,
    .matmul_f32 = bn_ref_matmul_f32,
    .matmul_i8 = bn_ref_matmul_i8,
    .quantize_i8 = bn_ref_quantize_i8,
    .rmsnorm = bn_ref_rmsnorm,
    .rope = bn_ref_rope,
    .attention = bn_ref_attention,
    .silu_mul = bn_ref_silu_mul,
    .relu2_mul = bn_ref_relu2_mul,
};
