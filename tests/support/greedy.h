/* Greedy generation that records logits, for tests comparing two runs that
 * must agree bit for bit (cache budgets, repacking, ...). Needs cmocka. */
#ifndef BN_TEST_GREEDY_H
#define BN_TEST_GREEDY_H

#include "bitnet.h"

/* Clears c, decodes `text` (BOS added) as one batch, then n_gen greedy
 * tokens; the logits after the prompt and after each step go to out
 * ((n_gen + 1) rows of the vocabulary size). Fails the test on any error. */
void greedy_logits(bitnet_context *c, const char *text, int n_gen, float *out);

#endif
