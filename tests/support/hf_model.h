/* Tiny Hugging Face model directories for tests and fuzz seeds: a
 * SafeTensors writer and a small BitNet b1.58 model (config.json,
 * tokenizer.json, tokenizer_config.json, model.safetensors) in memory. */
#ifndef BITNET_TEST_HF_MODEL_H
#define BITNET_TEST_HF_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- SafeTensors writer ---- */

typedef struct st_writer st_writer;

st_writer *st_writer_new(void);
void st_writer_free(st_writer *w);
/* Adds a tensor (data copied; `bytes` must match dtype and shape for a
 * valid file, which is not checked). */
void st_writer_add(st_writer *w, const char *name, const char *dtype, int n_dims, const int64_t *shape,
                   const void *data, size_t bytes);
/* The file: 8-byte header length, JSON header padded with spaces to a
 * multiple of 8 (with a "__metadata__" entry), data. malloc'd. */
uint8_t *st_writer_finish(const st_writer *w, size_t *size);

/* ---- a tiny model ---- */

typedef struct hf_model {
    char *config, *tokenizer, *tokenizer_config; /* NUL-terminated JSON */
    uint8_t *st;
    size_t st_size;
} hf_model;

typedef struct hf_model_opts {
    bool float_weights; /* linear weights as BF16 floats instead of packed U8 + weight_scale */
    bool llama;         /* LlamaForCausalLM: no sub-norms, silu, float weights */
    bool untied;        /* tie_word_embeddings false, with lm_head.weight */
    uint32_t seed;
} hf_model_opts;

/* n_embd 128, 2 heads, 1 KV head, n_ff 256, 1 layer, 260 tokens (256 byte
 * tokens, "Ġt" and "he", BOS 258, EOS 259). */
void hf_model_make(const hf_model_opts *o, hf_model *m);
void hf_model_free(hf_model *m);

/* Writes the model's files into `dir` (existing); 0 on success. */
int hf_model_write(const hf_model *m, const char *dir);
/* Writes `size` bytes to dir/name; 0 on success. */
int write_file(const char *dir, const char *name, const void *data, size_t size);
/* Removes the files of a model directory made by hf_model_write and the
 * directory itself. */
void hf_model_remove_dir(const char *dir);

/* GPT-2's byte-to-unicode mapping of a byte, as UTF-8 (1 or 2 bytes). */
int hf_byte_text(int byte, char out[3]);

#endif
