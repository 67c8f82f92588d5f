/* matmul_f32 throughput, single thread: GB/s of weight bytes streamed per
 * call (and GMAC/s), for the reference kernels and the x86 AVX2 / AVX-512
 * ones, against a plain read of a buffer of the same size.
 * A benchmark program, not a test: it prints a table.
 *
 * usage: bench_kernels_quant [--reps N] [--quick] [--type NAME] [--batch N] [--no-ref]
 *   --quick: the head shape cut to 16384 rows; --type/--batch: only those.
 * Shapes: 2560 x 2560 (a BitNet 2B-4T attention projection; small enough
 * to stay in the last-level cache) and 128256 x 2560 (its output head:
 * more than half of the weight bytes read per token, from DRAM). */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/backend.h"
#include "kernels/x86/x86_backend.h"
#include "quant/quant.h"
#if defined(__x86_64__)
#include "kernels/x86/quant_simd.h"
#endif

typedef bool (*matmul_fn)(const bitnet_weights *, const float *, int64_t, int64_t, float *, int64_t, int64_t,
                          int64_t, void *);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) * (1.0 / 9007199254740992.0) - 0.5);
}

/* Streaming read of `bytes` (the memory roofline for one core). */
static double read_gbps(const uint8_t *p, size_t bytes, int reps)
{
    double best = 1e30;
    volatile uint64_t sink = 0;
    for (int r = 0; r < reps; r++) {
        const double t0 = now_s();
        uint64_t a = 0, b = 0, c = 0, d = 0;
        const uint64_t *q = (const uint64_t *)p;
        for (size_t i = 0; i + 4 <= bytes / 8; i += 4) {
            a += q[i];
            b += q[i + 1];
            c += q[i + 2];
            d += q[i + 3];
        }
        sink += a + b + c + d;
        const double t = now_s() - t0;
        best = t < best ? t : best;
    }
    (void)sink;
    return (double)bytes / best * 1e-9;
}

/* Weights of rows x n: 1024 quantized rows repeated (values don't change
 * the kernels' speed; quantizing 128k rows would take long). */
static uint8_t *make_weights(uint32_t type, int64_t rows, int64_t n, size_t *row_bytes)
{
    const bn_type_traits *tr = bn_type_traits_get(type);
    const int64_t chunk = rows < 1024 ? rows : 1024;
    *row_bytes = (size_t)bn_type_tensor_bytes(type, n);
    uint8_t *w = malloc(*row_bytes * (size_t)rows);
    float *src = malloc(sizeof(float) * (size_t)(chunk * n));
    if (!w || !src) {
        free(w);
        free(src);
        return NULL;
    }
    for (int64_t i = 0; i < chunk * n; i++)
        src[i] = frand() * 0.1f;
    tr->quantize(src, w, chunk, n);
    for (int64_t r = chunk; r < rows; r += chunk) {
        const int64_t c = rows - r < chunk ? rows - r : chunk;
        memcpy(w + (size_t)r * *row_bytes, w, (size_t)c * *row_bytes);
    }
    free(src);
    return w;
}

typedef struct {
    const char *name;
    matmul_fn fn;
    bool ok;
} backend;

int main(int argc, char **argv)
{
    int reps = 3;
    bool quick = false, no_ref = false;
    const char *only_type = NULL;
    int64_t only_batch = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick"))
            quick = true;
        else if (!strcmp(argv[i], "--no-ref"))
            no_ref = true;
        else if (!strcmp(argv[i], "--type") && i + 1 < argc)
            only_type = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            only_batch = atoll(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--reps N] [--quick] [--type NAME] [--batch N] [--no-ref]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 1)
        reps = 1;

    backend bes[3] = {{"ref", bn_backend_ref.matmul_f32, true}, {"avx2", NULL, false}, {"avx512", NULL, false}};
#if defined(__x86_64__)
    __builtin_cpu_init();
    bes[1].fn = bn_avx2_matmul_f32;
    bes[1].ok = bn_x86_has_avx2();
    bes[2].fn = bn_avx512_matmul_f32;
    bes[2].ok = bn_x86_has_avx512();
#endif

    static const struct {
        uint32_t type;
        int64_t rows, n;
    } cases[] = {
        {BITNET_TYPE_Q8_0, 2560, 2560},   {BITNET_TYPE_Q4_K, 2560, 2560},   {BITNET_TYPE_Q6_K, 2560, 2560},
        {BITNET_TYPE_F16, 2560, 2560},    {BITNET_TYPE_F16, 128256, 2560},  {BITNET_TYPE_Q6_K, 128256, 2560},
        {BITNET_TYPE_Q8_0, 128256, 2560},
    };
    static const int64_t batches[] = {1, 128};

    {
        const size_t bytes = (size_t)512 << 20;
        uint8_t *buf = malloc(bytes);
        if (buf) {
            memset(buf, 1, bytes);
            printf("single-core streaming read of 512 MiB: %.1f GB/s\n\n", read_gbps(buf, bytes, 3));
            free(buf);
        }
    }
    printf("%-6s %-13s %5s %-7s %10s %9s %9s\n", "type", "shape", "batch", "kernel", "ms/call", "GB/s", "GMAC/s");

    if (no_ref)
        bes[0].ok = false;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        if (only_type && strcmp(only_type, bn_type_traits_get(cases[c].type)->name) != 0)
            continue;
        const int64_t rows = quick && cases[c].rows > 2560 ? 16384 : cases[c].rows, n = cases[c].n;
        size_t rb = 0;
        uint8_t *w = make_weights(cases[c].type, rows, n, &rb);
        float *x = malloc(sizeof(float) * (size_t)(128 * n));
        float *y = malloc(sizeof(float) * (size_t)(128 * rows));
        void *scratch = malloc(4 * (size_t)n + 1024);
        if (!w || !x || !y || !scratch) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
        for (int64_t i = 0; i < 128 * n; i++)
            x[i] = frand();
        const bitnet_weights wt = {cases[c].type, w, rb, NULL, n, rows};
        char shape[32];
        snprintf(shape, sizeof shape, "%lldx%lld", (long long)rows, (long long)n);
        for (size_t bi = 0; bi < sizeof batches / sizeof batches[0]; bi++) {
            const int64_t nb = batches[bi];
            if (only_batch && nb != only_batch)
                continue;
            for (int k = 0; k < 3; k++) {
                if (!bes[k].ok)
                    continue;
                /* the reference is slow: time it on a slice of rows that
                 * takes about a second, and report the rate */
                int64_t r1 = rows;
                if (k == 0) {
                    const double t0 = now_s();
                    bes[k].fn(&wt, x, n, nb, y, rows, 0, 64, scratch);
                    const double per_row = (now_s() - t0) / 64.0;
                    r1 = (int64_t)(1.0 / (per_row > 1e-9 ? per_row : 1e-9));
                    r1 = r1 < 64 ? 64 : r1 > rows ? rows : r1;
                }
                double best = 1e30;
                const int nrep = k == 0 ? 1 : reps;
                for (int r = 0; r < nrep; r++) {
                    const double t0 = now_s();
                    bes[k].fn(&wt, x, n, nb, y, rows, 0, r1, scratch);
                    const double t = now_s() - t0;
                    best = t < best ? t : best;
                }
                const double bytes = (double)rb * (double)r1, macs = (double)r1 * (double)n * (double)nb;
                printf("%-6s %-13s %5lld %-7s %10.3f %9.2f %9.2f%s\n", bn_type_traits_get(cases[c].type)->name, shape,
                       (long long)nb, bes[k].name, best * 1e3 * (double)rows / (double)r1, bytes / best * 1e-9,
                       macs / best * 1e-9, r1 < rows ? " (rows sampled)" : "");
                fflush(stdout);
            }
        }
        free(w);
        free(x);
        free(y);
        free(scratch);
    }
    return 0;
}
