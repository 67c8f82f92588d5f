/* The tokenizer of a model, built from its GGUF tokenizer.ggml.* metadata:
 * "llama" (SentencePiece with byte fallback) or "gpt2" (byte-level BPE with
 * the gpt2 or llama3 pre-tokenizer). Immutable once built, so any number of
 * threads may use one at a time. Behaviour follows llama.cpp (src/llama-vocab.cpp). */
#ifndef BN_TOKENIZER_H
#define BN_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bitnet.h"
#include "loader/gguf.h"

typedef struct bn_tokenizer bn_tokenizer;

/* Build from parsed metadata; `g` must outlive the tokenizer (token texts are
 * borrowed from it). No tokenizer.ggml.model: BITNET_ERR_UNSUPPORTED "model
 * has no tokenizer"; missing or inconsistent tokenizer keys:
 * BITNET_ERR_BAD_FORMAT naming the key. */
bitnet_status bn_tokenizer_new(const bn_gguf *g, bn_tokenizer **out);
void bn_tokenizer_free(bn_tokenizer *t);

int32_t bn_tokenizer_n_tokens(const bn_tokenizer *t);
bitnet_token bn_tokenizer_bos(const bn_tokenizer *t);
bitnet_token bn_tokenizer_eos(const bn_tokenizer *t);
bool bn_tokenizer_is_eog(const bn_tokenizer *t, bitnet_token id);
/* Stored text of an id in range; NULL otherwise. */
const char *bn_tokenizer_text(const bn_tokenizer *t, bitnet_token id);

/* Tokens of valid UTF-8 text (the caller validates it). `flags` are the
 * BITNET_TOKENIZE_* bits. On success *out is a bn_malloc'd array of *n_out
 * tokens (NULL when empty) that the caller bn_free's. */
bitnet_status bn_tokenizer_encode(const bn_tokenizer *t, const char *text, size_t len, uint32_t flags,
                                  bitnet_token **out, size_t *n_out);

/* The bytes of one token (id in range), written to `buf` unless it is NULL;
 * returns their count. `special`: render control and unknown tokens, which
 * are empty otherwise. */
size_t bn_tokenizer_piece(const bn_tokenizer *t, bitnet_token id, bool special, char *buf);
/* The text of tokens (all ids in range): their pieces, less the leading
 * space SentencePiece's dummy prefix put on the first one. Writes to `buf`
 * unless it is NULL; returns the byte count. */
size_t bn_tokenizer_decode(const bn_tokenizer *t, const bitnet_token *ids, size_t n, bool special, char *buf);

#endif
