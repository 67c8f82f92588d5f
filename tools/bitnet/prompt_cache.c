/* bitnet run --load-state: a saved state as a prompt cache. The positions
 * whose tokens match the new prompt's are kept and only the rest of the
 * prompt is decoded. */
#include <stdio.h>

#include "cli.h"

size_t cli_prompt_cache_load(bitnet_context *ctx, const char *path, const bitnet_token *prompt, size_t n_prompt)
{
    if (n_prompt == 0)
        return 0;
    /* The sampler is not restored: the run samples as a fresh one would. */
    bitnet_status s = bitnet_context_state_load(ctx, NULL, path);
    if (s) {
        fprintf(stderr, "bitnet: prompt cache not used: %s: %s\n", bitnet_status_str(s), bitnet_last_error());
        return 0;
    }
    int32_t n_cached = 0;
    const bitnet_token *cached = bitnet_context_tokens(ctx, &n_cached);
    size_t common = 0;
    while (common < (size_t)n_cached && common < n_prompt && cached[common] == prompt[common])
        common++;
    /* Decode at least the last prompt token again: its logits start the
     * generation (decoding gives the same logits whatever the batch split). */
    size_t keep = common < n_prompt ? common : n_prompt - 1;
    if ((s = bitnet_context_trim(ctx, (int32_t)keep))) { /* cannot fail: keep <= n_past */
        bitnet_context_clear(ctx);
        keep = 0;
    }
    fprintf(stderr, "bitnet: prompt cache %s: reused %zu of %zu prompt tokens (%d cached)\n", path, keep, n_prompt,
            n_cached);
    return keep;
}
