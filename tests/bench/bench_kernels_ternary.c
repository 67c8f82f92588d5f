/* Ternary matmul_i8 throughput: reference vs AVX2 vs AVX-512 kernels on the
 * linear layers of BitNet b1.58 2B-4T (rows x n: 2560x2560 q/o, 640x2560
 * k/v, 6912x2560 gate/up, 2560x6912 down), single thread.
 * A benchmark program, not a test: it prints one line per case.
 *
 * GB/s counts the packed weight bytes streamed per call; GOPS counts
 * 2 * rows * n * n_batch. At n_batch 1 the weights rotate through copies
 * totalling --pool MiB (default 512) so they come from DRAM as in a real
 * forward pass; at larger batches one copy is reused (compute-bound).
 * Each figure is the best of several timing windows (--time seconds in
 * all), which filters out load from other processes.
 *
 * usage: bench_kernels_ternary [--batch N]... [--type i2_s|tq2_0|tq1_0]...
 *                              [--time SECONDS] [--pool MIB] [--ref] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#include "bitnet.h"
#include "kernels/backend.h"
#include "kernels/x86/ternary.h"
#include "kernels/x86/x86_backend.h"
#include "quant/quant.h"

typedef bool (*matmul_i8_fn)(const bitnet_weights *w, const int8_t *xq, int64_t ldx, const float *x_scale,
                             int64_t n_batch, float *y, int64_t ldy, int64_t r0, int64_t r1, void *scratch);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

typedef struct {
    const char *name;
    uint32_t type;
} type_info;

static const type_info TYPES[] = {
    {"i2_s", BITNET_TYPE_I2_S}, {"tq2_0", BITNET_TYPE_TQ2_0}, {"tq1_0", BITNET_TYPE_TQ1_0}};

static const int64_t SHAPES[][2] = {{2560, 2560}, {640, 2560}, {6912, 2560}, {2560, 6912}};

int main(int argc, char **argv)
{
    int64_t batches[8];
    int n_batches = 0;
    bool want_type[3] = {false, false, false}, any_type = false, with_ref = false;
    double min_time = 0.3;
    int64_t pool_mib = 512;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc && n_batches < 8)
            batches[n_batches++] = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--type") && i + 1 < argc) {
            i++;
            for (int t = 0; t < 3; t++)
                if (!strcmp(argv[i], TYPES[t].name))
                    want_type[t] = any_type = true;
        } else if (!strcmp(argv[i], "--time") && i + 1 < argc)
            min_time = atof(argv[++i]);
        else if (!strcmp(argv[i], "--pool") && i + 1 < argc)
            pool_mib = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--ref"))
            with_ref = true;
        else {
            fprintf(stderr, "usage: %s [--batch N]... [--type i2_s|tq2_0|tq1_0]... [--time S] [--pool MIB] [--ref]\n",
                    argv[0]);
            return 2;
        }
    }
    if (!n_batches)
        batches[n_batches++] = 1, batches[n_batches++] = 128;
    if (!any_type)
        want_type[0] = want_type[1] = want_type[2] = true;

    const bool avx2 = bn_x86_has_avx2();
    const bool avx512 = bn_x86_has_avx512();
    struct {
        const char *name;
        matmul_i8_fn fn;
        bool ok;
    } kernels[3] = {{"ref", bn_backend_ref.matmul_i8, with_ref},
                    {"avx2", bn_avx2_matmul_i8, avx2},
                    {"avx512", bn_avx512_matmul_i8, avx512}};

    printf("%-6s %-11s %5s %-7s %10s %9s %9s\n", "type", "shape", "batch", "kernel", "ms/call", "GB/s", "GOPS");
    for (int t = 0; t < 3; t++) {
        if (!want_type[t])
            continue;
        const bn_type_traits *tr = bn_type_traits_get(TYPES[t].type);
        for (size_t s = 0; s < sizeof SHAPES / sizeof SHAPES[0]; s++) {
            const int64_t rows = SHAPES[s][0], n = SHAPES[s][1];
            const uint64_t bytes = bn_type_tensor_bytes(TYPES[t].type, rows * n);
            const size_t row_bytes = (size_t)(n / tr->block_elems * tr->block_bytes);
            /* one quantized tensor, copied into the pool */
            float *f = malloc((size_t)(rows * n) * sizeof *f);
            uint8_t *one = malloc(bytes);
            if (!f || !one)
                return 1;
            for (int64_t i = 0; i < rows * n; i++)
                f[i] = (float)((int)(rnd() % 3) - 1) * 0.0125f;
            tr->quantize(f, one, rows, n);
            free(f);
            int64_t copies = (pool_mib << 20) / (int64_t)bytes;
            if (copies < 1)
                copies = 1;
            /* huge pages where the system gives them, as the library's
             * weights get (a TLB miss every 4 KiB costs ~15% here) */
            uint8_t *pool = NULL;
            if (posix_memalign((void **)&pool, (size_t)2 << 20, (size_t)copies * bytes) != 0)
                pool = NULL;
#ifdef MADV_HUGEPAGE
            if (pool)
                (void)madvise(pool, (size_t)copies * bytes, MADV_HUGEPAGE);
#endif
            if (!pool)
                return 1;
            for (int64_t c = 0; c < copies; c++)
                memcpy(pool + (size_t)c * bytes, one, bytes);
            free(one);

            for (int bi = 0; bi < n_batches; bi++) {
                const int64_t nb = batches[bi];
                int8_t *x = malloc((size_t)(nb * n));
                float *xs = malloc((size_t)nb * sizeof *xs), *y = malloc((size_t)(nb * rows) * sizeof *y);
                void *scratch = malloc((size_t)(4 * n + 1024));
                if (!x || !xs || !y || !scratch)
                    return 1;
                for (int64_t i = 0; i < nb * n; i++)
                    x[i] = (int8_t)rnd();
                for (int64_t b = 0; b < nb; b++)
                    xs[b] = 0.01f;
                const int64_t use = nb == 1 ? copies : 1;
                for (int k = 0; k < 3; k++) {
                    if (!kernels[k].ok)
                        continue;
                    /* best of several windows: robust against other load */
                    double per = 1e30;
                    int64_t calls = 0;
                    const double t_end = now_s() + min_time;
                    for (int win = 0; win < 5 || now_s() < t_end; win++) {
                        int64_t c = 0;
                        const double t0 = now_s();
                        double t1 = t0;
                        do {
                            const uint8_t *d = pool + (size_t)(calls % use) * bytes;
                            bitnet_weights w = {TYPES[t].type, d, row_bytes, d + (size_t)rows * row_bytes, n, rows};
                            kernels[k].fn(&w, x, n, xs, nb, y, rows, 0, rows, scratch);
                            calls++, c++;
                            t1 = now_s();
                        } while (t1 - t0 < 0.002 && c < 1000000);
                        if ((t1 - t0) / (double)c < per)
                            per = (t1 - t0) / (double)c;
                    }
                    char shape[32];
                    snprintf(shape, sizeof shape, "%lldx%lld", (long long)rows, (long long)n);
                    printf("%-6s %-11s %5lld %-7s %10.4f %9.2f %9.1f\n", TYPES[t].name, shape, (long long)nb,
                           kernels[k].name, per * 1e3, (double)bytes / per * 1e-9,
                           2.0 * (double)rows * (double)n * (double)nb / per * 1e-9);
                    fflush(stdout);
                }
                free(x), free(xs), free(y), free(scratch);
            }
            free(pool);
        }
    }
    return 0;
}
