/* libFuzzer harness for Hugging Face model directories: the SafeTensors
 * header parser, the strict JSON parser, config.json / tokenizer.json
 * handling and the tensor conversions (lib/loader/hf*.c, safetensors.c,
 * lib/core/json.c).
 *
 * Input: "HFD1", then the little-endian uint32 lengths of config.json and
 * tokenizer.json, those two documents, and the rest as model.safetensors.
 * The three go through bn_hf_build; when it succeeds the tables are bound
 * as a model (bn_arch_bind), the tokenizer is built and run on a few
 * strings, and the first row of every tensor is dequantized. Any other
 * input is parsed as a SafeTensors file and as a JSON document. Every
 * failure must leave a status and a message; nothing may crash or leak.
 *
 * Build (clang): -fsanitize=fuzzer,address,undefined with libbitnet.a.
 * Linked with replay_main.c instead (-DBN_FUZZ_STANDALONE) it runs the
 * files and folders named on the command line once each. Seeds:
 * gen_seeds_safetensors (tests/fuzz/check_safetensors.sh). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/json.h"
#include "loader/hf.h"
#include "loader/safetensors.h"
#include "model/arch.h"
#include "quant/quant.h"
#include "tokenizer/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

static void must_have_message(bitnet_status s)
{
    if (s != BITNET_OK && bn_error_message()[0] == '\0')
        abort();
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void use_tables(const bn_gguf *g)
{
    bn_arch_model am;
    bn_error_set_message("");
    bitnet_status s = bn_arch_bind(g, &am);
    must_have_message(s);
    if (!s) {
        sink += (uint64_t)am.hp.n_vocab;
        bn_arch_free(&am);
    }
    bn_tokenizer *tok = NULL;
    bn_error_set_message("");
    s = bn_tokenizer_new(g, &tok);
    must_have_message(s);
    if (!s) {
        static const char *const texts[] = {"In the beginning", " he said:\n\n 123 <|begin_of_text|>", ""};
        for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
            bitnet_token *ids = NULL;
            size_t n = 0;
            if (bn_tokenizer_encode(tok, texts[i], strlen(texts[i]), BITNET_TOKENIZE_ADD_SPECIAL, &ids, &n) == 0) {
                for (size_t k = 0; k < n; k++)
                    sink += bn_tokenizer_piece(tok, ids[k], true, NULL);
                bn_free(ids);
            }
        }
        bn_tokenizer_free(tok);
    }
    /* The first row of every tensor: its bytes must lie where the tables say. */
    float row[4096];
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const bn_gguf_tensor *t = &g->tensors[i];
        const bn_type_traits *tr = bn_type_traits_get(t->type);
        if (!tr || !tr->dequantize_row || t->ne[0] > (int64_t)(sizeof row / sizeof *row))
            continue;
        const void *tail = tr->tail_bytes ? t->data + t->n_bytes - (uint64_t)tr->tail_bytes : NULL;
        tr->dequantize_row(t->data, row, t->ne[0], tail);
        sink += (uint64_t)(row[0] == row[0]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 12 && memcmp(data, "HFD1", 4) == 0) {
        const uint64_t nc = le32(data + 4), nt = le32(data + 8);
        if (nc + nt <= size - 12) {
            /* Each part in its own exact-size buffer so that a read past
             * one is caught. */
            char *cfg = malloc(nc ? nc : 1), *tok = malloc(nt ? nt : 1);
            const uint64_t ns = size - 12 - nc - nt;
            uint8_t *st = malloc(ns ? ns : 1);
            if (cfg && tok && st) {
                memcpy(cfg, data + 12, nc);
                memcpy(tok, data + 12 + nc, nt);
                memcpy(st, data + 12 + nc + nt, ns);
                bn_hf_files in = {.st = st, .st_size = ns, .config = cfg, .config_len = nc,
                                  .tokenizer = tok, .tokenizer_len = nt, .name = "fuzz"};
                bn_gguf g;
                bn_error_set_message("");
                bitnet_status s = bn_hf_build(&in, &g);
                must_have_message(s);
                if (!s) {
                    use_tables(&g);
                    bn_gguf_free(&g);
                }
            }
            free(cfg);
            free(tok);
            free(st);
            return 0;
        }
    }
    bn_safetensors st;
    bn_error_set_message("");
    bitnet_status s = bn_safetensors_parse(&st, data, size);
    must_have_message(s);
    if (!s) {
        sink += (uint64_t)st.n_tensors;
        bn_safetensors_free(&st);
    }
    bn_arena a = {0};
    const bn_json *v;
    bn_error_set_message("");
    s = bn_json_parse((const char *)data, size, BN_HF_MAX_TOKENIZER, "fuzz.json", &a, &v);
    must_have_message(s);
    if (!s)
        sink += v->n;
    bn_arena_free(&a);
    return 0;
}
