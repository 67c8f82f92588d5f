#include "support/greedy.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

void greedy_logits(bitnet_context *c, const char *text, int n_gen, float *out)
{
    const bitnet_model *m = bitnet_context_model(c);
    const int32_t nv = bitnet_vocab_size(m);
    bitnet_token toks[64];
    size_t n = 0;
    assert_int_equal(bitnet_tokenize(m, text, strlen(text), BITNET_TOKENIZE_ADD_SPECIAL, toks, 64, &n), BITNET_OK);
    assert_true(n >= 2);
    bitnet_context_clear(c);
    assert_int_equal(bitnet_context_decode(c, toks, (int32_t)n), BITNET_OK);
    for (int i = 0; i <= n_gen; i++) {
        const float *l = bitnet_context_logits(c, -1);
        assert_non_null(l);
        memcpy(out + (size_t)i * (size_t)nv, l, (size_t)nv * sizeof(float));
        if (i == n_gen)
            break;
        bitnet_token best = 0;
        for (int32_t k = 1; k < nv; k++)
            if (l[k] > l[best])
                best = k;
        assert_int_equal(bitnet_context_decode(c, &best, 1), BITNET_OK);
    }
}
