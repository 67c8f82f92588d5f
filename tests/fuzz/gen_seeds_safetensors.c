/* Seed corpus for fuzz_safetensors: tiny Hugging Face models in the
 * harness's "HFD1" form (every variant of tests/support/hf_model.c), small
 * SafeTensors files, JSON documents, and, when the fixtures are there, the
 * fixture's config.json / tokenizer.json with a tiny model's tensors.
 *
 *   gen_seeds_safetensors OUT_DIR [FIXTURES_DIR] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support/hf_model.h"

static int write_hfd(const char *dir, const char *name, const char *cfg, size_t nc, const char *tok, size_t nt,
                     const uint8_t *st, size_t ns)
{
    size_t size = 12 + nc + nt + ns;
    uint8_t *buf = malloc(size);
    if (!buf)
        return -1;
    memcpy(buf, "HFD1", 4);
    for (int i = 0; i < 4; i++) {
        buf[4 + i] = (uint8_t)(nc >> (8 * i));
        buf[8 + i] = (uint8_t)(nt >> (8 * i));
    }
    memcpy(buf + 12, cfg, nc);
    memcpy(buf + 12 + nc, tok, nt);
    memcpy(buf + 12 + nc + nt, st, ns);
    int rc = write_file(dir, name, buf, size);
    free(buf);
    return rc;
}

static char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = buf ? (size_t)n : 0;
    return buf;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: gen_seeds_safetensors OUT_DIR [FIXTURES_DIR]\n");
        return 2;
    }
    const char *out = argv[1];
    mkdir(out, 0777);
    int rc = 0, n = 0;
    const hf_model_opts variants[] = {{0}, {.float_weights = true}, {.llama = true}, {.untied = true}};
    static const char *const names[] = {"tiny-packed", "tiny-float", "tiny-llama", "tiny-untied"};
    hf_model base;
    hf_model_make(&variants[0], &base);
    for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
        hf_model m;
        hf_model_make(&variants[i], &m);
        char name[64];
        snprintf(name, sizeof name, "%s.hfd", names[i]);
        rc |= write_hfd(out, name, m.config, strlen(m.config), m.tokenizer, strlen(m.tokenizer), m.st, m.st_size);
        snprintf(name, sizeof name, "%s.safetensors", names[i]);
        rc |= write_file(out, name, m.st, m.st_size);
        n += 2;
        hf_model_free(&m);
    }
    rc |= write_file(out, "config.json", base.config, strlen(base.config));
    rc |= write_file(out, "tokenizer.json", base.tokenizer, strlen(base.tokenizer));
    n += 2;

    /* Small SafeTensors files: every dtype, a scalar, an empty tensor. */
    st_writer *w = st_writer_new();
    static const char *const dtypes[] = {"F32", "F16", "BF16", "U8", "I8", "I64", "BOOL"};
    static const int sizes[] = {4, 2, 2, 1, 1, 8, 1};
    uint8_t bytes[64] = {0x3f, 0x80, 1, 2, 3};
    for (int i = 0; i < 7; i++) {
        int64_t shape[2] = {2, 2};
        char name[32];
        snprintf(name, sizeof name, "t.%s", dtypes[i]);
        st_writer_add(w, name, dtypes[i], 2, shape, bytes, (size_t)(4 * sizes[i]));
    }
    int64_t zero = 0;
    st_writer_add(w, "empty", "F32", 1, &zero, bytes, 0);
    st_writer_add(w, "scalar", "F32", 0, &zero, bytes, 4);
    size_t size;
    uint8_t *st = st_writer_finish(w, &size);
    st_writer_free(w);
    rc |= write_file(out, "dtypes.safetensors", st, size);
    free(st);
    rc |= write_file(out, "empty.safetensors", "\x02\0\0\0\0\0\0\0{}", 10);
    n += 2;

    /* The fixture's documents with the tiny model's tensors (the vocabulary
     * does not fit the embedding: a late failure with a large tokenizer). */
    if (argc == 3) {
        char path[4096];
        size_t nc = 0, nt = 0;
        snprintf(path, sizeof path, "%s/kjv-bitnet/hf/config.json", argv[2]);
        char *cfg = slurp(path, &nc);
        snprintf(path, sizeof path, "%s/kjv-bitnet/hf/tokenizer.json", argv[2]);
        char *tok = slurp(path, &nt);
        if (cfg && tok) {
            rc |= write_hfd(out, "fixture-docs.hfd", cfg, nc, tok, nt, base.st, base.st_size);
            rc |= write_hfd(out, "fixture-tokenizer.hfd", base.config, strlen(base.config), tok, nt, base.st,
                            base.st_size);
            n += 2;
        }
        free(cfg);
        free(tok);
    }
    hf_model_free(&base);
    if (rc) {
        fprintf(stderr, "gen_seeds_safetensors: cannot write into %s\n", out);
        return 1;
    }
    printf("gen_seeds_safetensors: %d seeds in %s\n", n, out);
    return 0;
}
