/* Time to first token from a cold page cache, with and without the
 * prefetch worker. Before each run the model file's pages are dropped with
 * posix_fadvise(DONTNEED) (works for pages no process maps); then load,
 * context, one prompt decode = the first token's logits.
 *
 *   bench_ttft MODEL [-p 32] [-r 3] [-t 2] [--blas-min-batch N] [--cache-bytes N]
 *
 * Runs alternate off/on so drift hits both. Prints a line per run and a
 * JSON summary. The page drop is checked with mincore() and reported. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bitnet.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

/* Drop the file's cached pages; returns the fraction still resident. */
static double drop_cache(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    struct stat st;
    double left = -1;
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED) {
            const long pg = sysconf(_SC_PAGESIZE);
            const size_t n = ((size_t)st.st_size + (size_t)pg - 1) / (size_t)pg;
            unsigned char *v = malloc(n);
            if (v && mincore(p, (size_t)st.st_size, v) == 0) {
                size_t in = 0;
                for (size_t i = 0; i < n; i++)
                    in += v[i] & 1;
                left = (double)in / (double)n;
            }
            free(v);
            munmap(p, (size_t)st.st_size);
        }
    }
    close(fd);
    return left;
}

static int run(const char *path, int prefetch, int p, int threads, int blas_min, long long cache, double *ttft)
{
    bitnet_model_params mp = bitnet_model_params_default();
    mp.prefetch = prefetch;
    mp.cache_bytes = (uint64_t)cache;
    bitnet_context_params cp = bitnet_context_params_default();
    cp.n_ctx = p + 8;
    cp.n_threads = threads;
    if (blas_min >= 0)
        cp.blas_min_batch = blas_min;
    bitnet_model *m = NULL;
    bitnet_context *c = NULL;
    const double t0 = now_ms();
    if (bitnet_model_load_file(path, &mp, &m) || bitnet_context_new(m, &cp, &c)) {
        fprintf(stderr, "%s: %s\n", path, bitnet_last_error());
        bitnet_model_release(m);
        return 1;
    }
    bitnet_token *tok = malloc((size_t)p * sizeof *tok);
    if (!tok)
        return 1;
    const int32_t nv = bitnet_vocab_size(m);
    for (int i = 0; i < p; i++)
        tok[i] = (bitnet_token)((i * 7919 + 13) % nv);
    const int bad = bitnet_context_decode(c, tok, p) != BITNET_OK || !bitnet_context_logits(c, -1);
    *ttft = now_ms() - t0;
    free(tok);
    bitnet_context_free(c);
    bitnet_model_release(m);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL [-p 32] [-r 3] [-t 2] [--blas-min-batch N] [--cache-bytes N]\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
    int p = 32, reps = 3, threads = 2, blas_min = -1;
    long long cache = 0;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-p"))
            p = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-r"))
            reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-t"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--blas-min-batch"))
            blas_min = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--cache-bytes"))
            cache = atoll(argv[i + 1]);
    }
    if (p < 1 || reps < 1 || reps > 64 || threads < 1)
        return 2;
    double sum[2] = {0, 0}, best[2] = {1e300, 1e300};
    for (int r = 0; r < reps; r++)
        for (int pf = 0; pf < 2; pf++) {
            const double left = drop_cache(path);
            double ms;
            if (run(path, pf, p, threads, blas_min, cache, &ms))
                return 1;
            sum[pf] += ms;
            if (ms < best[pf])
                best[pf] = ms;
            printf("rep %d prefetch %-3s: pages resident before %.1f%%, time to first token %.1f ms\n", r,
                   pf ? "on" : "off", 100 * left, ms);
        }
    printf("{\"model\": \"%s\", \"prompt\": %d, \"threads\": %d, \"reps\": %d, "
           "\"ttft_ms_mean\": {\"prefetch_off\": %.1f, \"prefetch_on\": %.1f}, "
           "\"ttft_ms_best\": {\"prefetch_off\": %.1f, \"prefetch_on\": %.1f}}\n",
           path, p, threads, reps, sum[0] / reps, sum[1] / reps, best[0], best[1]);
    return 0;
}
