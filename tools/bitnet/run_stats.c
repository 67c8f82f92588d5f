/* `bitnet run --stats`: the context's counters and memory and the model's
 * weight-store counters, after generation, on stderr. */
#include <inttypes.h>

#include "cli.h"

void cli_print_stats(FILE *f, const bitnet_context *ctx)
{
    bitnet_context_stats cs = {.struct_size = sizeof cs};
    bitnet_context_memory_info mem = {.struct_size = sizeof mem};
    bitnet_store_stats st = {.struct_size = sizeof st};
    if (bitnet_context_stats_get(ctx, &cs) || bitnet_context_memory(ctx, &mem) ||
        bitnet_model_store_stats(bitnet_context_model(ctx), &st))
        return;
    const double pf_s = (double)cs.prefill_ns * 1e-9, dc_s = (double)cs.decode_ns * 1e-9;
    fprintf(f, "stats: prefill %" PRIu64 " tokens in %.3f s (%.1f t/s), decode %" PRIu64 " tokens in %.3f s "
               "(%.1f t/s), %" PRIu64 " decode calls, %" PRIu64 " state loads\n",
            cs.n_prefill_tokens, pf_s, pf_s > 0 ? (double)cs.n_prefill_tokens / pf_s : 0.0, cs.n_decode_tokens,
            dc_s, dc_s > 0 ? (double)cs.n_decode_tokens / dc_s : 0.0, cs.n_decode_calls, cs.n_state_loads);
    fprintf(f, "stats: context memory %.2f MiB (KV cache %.2f MiB, scratch %.2f MiB)\n",
            (double)mem.total_bytes / 1048576.0, (double)mem.kv_bytes / 1048576.0,
            (double)mem.scratch_bytes / 1048576.0);
    fprintf(f, "stats: weight cache: context hits %" PRIu64 " misses %" PRIu64 " evictions %" PRIu64
               " prefetch hits %" PRIu64 "; model hits %" PRIu64 " misses %" PRIu64 " evictions %" PRIu64
               ", %.2f MiB resident (peak %.2f, budget %.2f), %" PRIu64 " entries, prefetch requests %" PRIu64
               " hits %" PRIu64 ", %.2f MiB mapped\n",
            cs.cache_hits, cs.cache_misses, cs.cache_evictions, cs.prefetch_hits, st.hits, st.misses,
            st.evictions, (double)st.bytes_resident / 1048576.0, (double)st.bytes_peak / 1048576.0,
            (double)st.bytes_budget / 1048576.0, st.entries, st.prefetch_issued, st.prefetch_hits,
            (double)st.bytes_mapped / 1048576.0);
}
