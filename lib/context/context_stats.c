/* What a context owns and what it has done: bitnet_context_memory and
 * bitnet_context_stats. */
#include <string.h>

#include "context/context_internal.h"
#include "core/error.h"

/* Callers pass their struct_size; they see the fields that fit in it. */
static bitnet_status check_size(size_t got, size_t min, const char *what)
{
    if (got < min || got > (size_t)1 << 20)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "%s.struct_size is %zu; set it to sizeof(%s)", what, got, what);
    return BITNET_OK;
}

bitnet_status bitnet_context_memory(const bitnet_context *ctx, bitnet_context_memory_info *out)
{
    if (!ctx || !out)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_context_memory: NULL argument");
    bitnet_status s = check_size(out->struct_size, sizeof out->struct_size, "bitnet_context_memory_info");
    if (s)
        return s;
    bitnet_context_memory_info m;
    memset(&m, 0, sizeof m);
    m.kv_bytes = ctx->mem_kv;
    m.scratch_bytes = ctx->mem_scratch + (uint64_t)ctx->blas_w_cap * sizeof(float) +
                      (uint64_t)ctx->logits_cap * (uint64_t)ctx->am.hp.n_vocab * sizeof(float);
    m.total_bytes = m.kv_bytes + m.scratch_bytes + ctx->mem_other;
    m.struct_size = out->struct_size < sizeof m ? out->struct_size : sizeof m;
    memcpy(out, &m, m.struct_size);
    return BITNET_OK;
}

bitnet_status bitnet_context_stats_get(const bitnet_context *ctx, bitnet_context_stats *out)
{
    if (!ctx || !out)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_context_stats_get: NULL argument");
    bitnet_status s = check_size(out->struct_size, sizeof out->struct_size, "bitnet_context_stats");
    if (s)
        return s;
    bitnet_context_stats st = ctx->stats;
    st.struct_size = out->struct_size < sizeof st ? out->struct_size : sizeof st;
    memcpy(out, &st, st.struct_size);
    return BITNET_OK;
}

void bitnet_context_stats_reset(bitnet_context *ctx)
{
    if (ctx)
        memset(&ctx->stats, 0, sizeof ctx->stats);
}
