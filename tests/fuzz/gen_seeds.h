/* Seed generators of the fuzz harnesses (gen_seeds --kind KIND). Each
 * writes its files into `dir` and returns the number of seeds that failed. */
#ifndef BN_FUZZ_GEN_SEEDS_H
#define BN_FUZZ_GEN_SEEDS_H

#include <stddef.h>

/* Writes `size` bytes to dir/name; 0 on success. */
int gen_write_file(const char *dir, const char *name, const void *data, size_t size);

/* fuzz_decode: tiny complete models (llama, bitnet-b1.58, bitnet; many
 * weight types; SentencePiece and BPE vocabularies). */
int gen_seeds_models(const char *dir);
/* fuzz_tokenizer: selector byte + text, from the fixtures' tokenizer test
 * inputs (when `fixtures` is not NULL) and built-in strings. */
int gen_seeds_tokenizer(const char *dir, const char *fixtures);
/* fuzz_config: YAML documents, valid and not. */
int gen_seeds_config(const char *dir);
/* fuzz_state: real states saved from contexts of the harness's fixture
 * model (fuzz_state_setup.h); nothing when `fixtures` is NULL. */
int gen_seeds_state(const char *dir, const char *fixtures);

#endif
