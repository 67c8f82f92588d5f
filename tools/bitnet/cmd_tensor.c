/* bitnet tensor: dequantize a tensor (or a row range) to a raw file. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] = "bitnet tensor --model PATH --name NAME [--rows A:B] [--type f32|f16|bf16] --out FILE";

/* "A:B" with A < B, either side optional ("A:" = to the end). */
static int parse_rows(const char *s, int64_t n_rows, int64_t *a, int64_t *b)
{
    char *end;
    const char *colon = strchr(s, ':');
    if (!colon)
        return -1;
    *a = 0;
    *b = n_rows;
    errno = 0;
    if (colon != s) {
        *a = strtoll(s, &end, 10);
        if (end != colon || errno)
            return -1;
    }
    if (colon[1]) {
        *b = strtoll(colon + 1, &end, 10);
        if (*end || errno)
            return -1;
    }
    return 0;
}

static int parse_type(const char *s, bitnet_type *t)
{
    if (!s || strcmp(s, "f32") == 0)
        *t = BITNET_TYPE_F32;
    else if (strcmp(s, "f16") == 0)
        *t = BITNET_TYPE_F16;
    else if (strcmp(s, "bf16") == 0)
        *t = BITNET_TYPE_BF16;
    else
        return -1;
    return 0;
}

/* Read in slices of rows so a huge tensor never needs a huge buffer. */
static int write_rows(bitnet_model *m, const char *name, int64_t a, int64_t b, int64_t row_len, bitnet_type type,
                      FILE *out)
{
    size_t elem = type == BITNET_TYPE_F32 ? 4 : 2;
    int64_t step = (int64_t)((16u << 20) / ((size_t)row_len * elem));
    if (step < 1)
        step = 1;
    size_t cap = (size_t)step * (size_t)row_len * elem;
    void *buf = malloc(cap);
    if (!buf) {
        fprintf(stderr, "bitnet: cannot allocate %zu bytes\n", cap);
        return 1;
    }
    int rc = 0;
    for (int64_t r = a; r < b && !rc; r += step) {
        int64_t e = r + step < b ? r + step : b;
        size_t written;
        bitnet_status s = bitnet_model_tensor_read(m, name, r, e, type, buf, cap, &written);
        if (s)
            rc = cli_fail("tensor read failed", s);
        else if (fwrite(buf, 1, written, out) != written)
            rc = (fprintf(stderr, "bitnet: write failed: %s\n", strerror(errno)), 1);
    }
    free(buf);
    return rc;
}

int cmd_tensor(int argc, char **argv)
{
    const char *model_path = NULL, *name = NULL, *rows = NULL, *out_path = NULL, *type_s = NULL;
    const cli_opt opts[] = {{"--model", 1, &model_path}, {"--name", 1, &name}, {"--rows", 1, &rows},
                            {"--out", 1, &out_path},     {"--type", 1, &type_s}};
    int rc = cli_parse(argc, argv, opts, 5, usage);
    if (rc)
        return rc;
    bitnet_type type;
    if (!model_path || !name || !out_path)
        return cli_usage(usage, "--model, --name and --out are required");
    if (parse_type(type_s, &type))
        return cli_usage(usage, "--type must be f32, f16 or bf16");
    bitnet_model *m;
    bitnet_status s = bitnet_model_load_file(model_path, NULL, &m);
    if (s)
        return cli_fail("cannot load model", s);
    int64_t idx;
    bitnet_tensor_info t = {.struct_size = sizeof t};
    if ((s = bitnet_model_tensor_find(m, name, &idx)) || (s = bitnet_model_tensor_info(m, idx, &t))) {
        bitnet_model_release(m);
        return cli_fail("tensor", s);
    }
    int64_t a = 0, b = t.n_rows;
    if (rows && parse_rows(rows, t.n_rows, &a, &b)) {
        bitnet_model_release(m);
        return cli_usage(usage, "--rows must look like A:B");
    }
    if (a < 0 || b > t.n_rows || a >= b) {
        bitnet_model_release(m);
        fprintf(stderr, "bitnet: rows %" PRId64 ":%" PRId64 " are outside 0:%" PRId64 " of '%s'\n", a, b, t.n_rows,
                name);
        return 1;
    }
    FILE *out = fopen(out_path, "wb");
    if (!out) {
        bitnet_model_release(m);
        fprintf(stderr, "bitnet: cannot open %s: %s\n", out_path, strerror(errno));
        return 1;
    }
    rc = write_rows(m, name, a, b, t.ne[0], type, out);
    if (fclose(out) != 0 && !rc)
        rc = (fprintf(stderr, "bitnet: cannot write %s: %s\n", out_path, strerror(errno)), 1);
    bitnet_model_release(m);
    return rc;
}
