/* Dequantization throughput of bitnet_model_tensor_read (GB/s of float32
 * written) per format, against a plain memcpy of the same output size.
 * A benchmark program, not a test: it prints figures (and JSON with --json).
 *
 * usage: bench_store [--rows N] [--cols N] [--reps N] [--json FILE]
 * Default shape 6912 x 2560: BitNet b1.58 2B-4T's ffn_down. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bitnet.h"
#include "loader/gguf_writer.h"
#include "quant/quant.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * (1.0 / 9007199254740992.0);
}

/* Weights shaped like the format's use: ternary x scale, or gaussian-ish. */
static void fill(float *x, size_t n, int ternary)
{
    for (size_t i = 0; i < n; i++) {
        if (ternary)
            x[i] = (float)((int)(uniform() * 3.0) - 1) * 0.0125f;
        else
            x[i] = (float)((uniform() + uniform() + uniform() - 1.5) * 0.05);
    }
}

typedef struct result {
    const char *name;
    double best_s, mean_s, gbps;
} result;

/* Best and mean over `reps` reads of the whole tensor (cache off). */
static int bench_type(uint32_t type, const float *src, int64_t rows, int64_t cols, int reps, float *out,
                      result *r)
{
    const bn_type_traits *tr = bn_type_traits_get(type);
    uint64_t bytes = bn_type_tensor_bytes(type, rows * cols);
    void *q = malloc(bytes);
    bn_gguf_writer *w = NULL;
    void *file = NULL;
    size_t file_size = 0;
    bitnet_model *m = NULL;
    int64_t ne[2] = {cols, rows};
    int rc = 1;
    if (!q || bn_gguf_writer_new(3, &w))
        goto done;
    tr->quantize(src, q, rows, cols);
    if (bn_gguf_writer_add_string(w, "general.architecture", "bench") ||
        bn_gguf_writer_add_tensor(w, "w", type, 2, ne, q, bytes) ||
        bn_gguf_writer_to_memory(w, &file, &file_size, NULL) ||
        bitnet_model_load_memory(file, file_size, NULL, &m))
        goto done;
    size_t out_bytes = (size_t)(rows * cols) * sizeof(float);
    double total = 0, best = 1e30;
    for (int i = 0; i <= reps; i++) {
        double t0 = now_s();
        if (bitnet_model_tensor_read(m, "w", 0, rows, BITNET_TYPE_F32, out, out_bytes, NULL))
            goto done;
        double dt = now_s() - t0;
        if (i == 0)
            continue; /* warm-up: page faults of the output buffer */
        total += dt;
        best = dt < best ? dt : best;
    }
    r->name = tr->name;
    r->best_s = best;
    r->mean_s = total / reps;
    r->gbps = (double)out_bytes / best / 1e9;
    rc = 0;
done:
    if (rc)
        fprintf(stderr, "bench %s failed: %s\n", tr ? tr->name : "?", bitnet_last_error());
    bitnet_model_release(m);
    free(file);
    bn_gguf_writer_free(w);
    free(q);
    return rc;
}

static void bench_memcpy(const float *src, float *out, size_t n, int reps, result *r)
{
    double total = 0, best = 1e30;
    for (int i = 0; i <= reps; i++) {
        double t0 = now_s();
        memcpy(out, src, n * sizeof(float));
        double dt = now_s() - t0;
        if (i == 0)
            continue;
        total += dt;
        best = dt < best ? dt : best;
    }
    r->name = "memcpy";
    r->best_s = best;
    r->mean_s = total / reps;
    r->gbps = (double)(n * sizeof(float)) / best / 1e9;
}

int main(int argc, char **argv)
{
    int64_t rows = 2560, cols = 6912;
    int reps = 5;
    const char *json = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--rows"))
            rows = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--cols"))
            cols = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--json"))
            json = argv[i + 1];
    }
    if (rows < 1 || cols < 256 || cols % 256 || reps < 1) {
        fprintf(stderr, "usage: bench_store [--rows N] [--cols N (multiple of 256)] [--reps N] [--json FILE]\n");
        return 2;
    }
    size_t n = (size_t)(rows * cols);
    float *ternary = malloc(n * 4), *dense = malloc(n * 4), *out = malloc(n * 4);
    if (!ternary || !dense || !out)
        return 1;
    fill(ternary, n, 1);
    fill(dense, n, 0);
    static const struct { uint32_t type; int ternary; } types[] = {
        {BITNET_TYPE_I2_S, 1}, {BITNET_TYPE_TQ2_0, 1}, {BITNET_TYPE_TQ1_0, 1}, {BITNET_TYPE_Q4_K, 0},
        {BITNET_TYPE_Q8_0, 0}, {BITNET_TYPE_Q6_K, 0},  {BITNET_TYPE_F16, 0},
    };
    enum { N_TYPES = sizeof types / sizeof types[0] };
    result res[N_TYPES + 1];
    bench_memcpy(dense, out, n, reps, &res[0]);
    for (int i = 0; i < N_TYPES; i++)
        if (bench_type(types[i].type, types[i].ternary ? ternary : dense, rows, cols, reps, out, &res[i + 1]))
            return 1;
    printf("tensor_read throughput, %lld x %lld tensor (%.1f MB of float32 out), best of %d, 1 thread\n",
           (long long)rows, (long long)cols, (double)n * 4 / 1e6, reps);
    printf("%-8s %10s %10s %10s %10s\n", "format", "best ms", "mean ms", "GB/s", "vs memcpy");
    for (int i = 0; i <= N_TYPES; i++)
        printf("%-8s %10.2f %10.2f %10.2f %9.0f%%\n", res[i].name, res[i].best_s * 1e3, res[i].mean_s * 1e3,
               res[i].gbps, 100.0 * res[i].gbps / res[0].gbps);
    if (json) {
        FILE *f = fopen(json, "w");
        if (!f)
            return 1;
        fprintf(f, "{\"schema\": 1, \"library\": \"%s\", \"rows\": %lld, \"cols\": %lld, \"reps\": %d, \"results\": [",
                bitnet_version_string(), (long long)rows, (long long)cols, reps);
        for (int i = 0; i <= N_TYPES; i++)
            fprintf(f, "%s{\"format\": \"%s\", \"best_ms\": %.3f, \"mean_ms\": %.3f, \"gbps\": %.3f}", i ? ", " : "",
                    res[i].name, res[i].best_s * 1e3, res[i].mean_s * 1e3, res[i].gbps);
        fputs("]}\n", f);
        fclose(f);
    }
    free(ternary);
    free(dense);
    free(out);
    return 0;
}
