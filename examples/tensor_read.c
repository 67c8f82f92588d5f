/* tensor_read: host-side weight storage. The quantized weights stay mapped
 * as stored; bitnet_model_tensor_read dequantizes the rows a caller asks for
 * on demand, through the model's LRU cache of dequantized tensors
 * (cache_bytes). This walks every tensor in blocks of rows, twice, printing
 * per-tensor statistics, then the cache's counters: the second pass is
 * served from the cache for the tensors that fit in it.
 *
 *   tensor_read MODEL [--cache-mib N] [--rows-per-read R] [--name TENSOR]
 *
 * Defaults: a 32 MiB cache (the demo model's tensors take 15.5 MiB
 * dequantized), 16 rows a read, every tensor.
 */
#include <bitnet/bitnet.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct stats {
    double min, max, sum, sum_sq;
    int64_t n;
} stats;

static int fail(const char *what, bitnet_status s)
{
    fprintf(stderr, "tensor_read: %s: %s (%s)\n", what, bitnet_status_str(s), bitnet_last_error());
    return 1;
}

/* Read tensor `name` block by block into `buf` (room for `rows` rows of
 * ne[0] floats) and accumulate its statistics. */
static bitnet_status scan(bitnet_model *m, const bitnet_tensor_info *ti, float *buf, int64_t rows, stats *st)
{
    *st = (stats){.min = INFINITY, .max = -INFINITY};
    for (int64_t r = 0; r < ti->n_rows; r += rows) {
        int64_t end = r + rows < ti->n_rows ? r + rows : ti->n_rows;
        size_t written = 0;
        bitnet_status s = bitnet_model_tensor_read(m, ti->name, r, end, BITNET_TYPE_F32, buf,
                                                   (size_t)(rows * ti->ne[0]) * sizeof *buf, &written);
        if (s)
            return s;
        for (size_t i = 0; i < written / sizeof *buf; i++) {
            double v = buf[i];
            st->min = v < st->min ? v : st->min;
            st->max = v > st->max ? v : st->max;
            st->sum += v;
            st->sum_sq += v * v;
        }
        st->n += (int64_t)(written / sizeof *buf);
    }
    return BITNET_OK;
}

static int parse_int(const char *flag, const char *v, long lo, long hi, long *out)
{
    char *end;
    *out = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || *out < lo || *out > hi) {
        fprintf(stderr, "tensor_read: %s needs an integer in [%ld, %ld]\n", flag, lo, hi);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: tensor_read MODEL [--cache-mib N] [--rows-per-read R] [--name TENSOR]\n");
        return 2;
    }
    long cache_mib = 32, rows = 16;
    const char *only = NULL;
    for (int i = 2; i < argc; i += 2) {
        const char *flag = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(flag, "--cache-mib"))
            bad = parse_int(flag, v, 0, 1L << 20, &cache_mib);
        else if (!strcmp(flag, "--rows-per-read"))
            bad = parse_int(flag, v, 1, 1L << 20, &rows);
        else if (!strcmp(flag, "--name") && v)
            only = v;
        else {
            fprintf(stderr, "tensor_read: unknown option %s\n", flag);
            bad = 2;
        }
        if (bad)
            return bad;
    }

    bitnet_model_params mp = bitnet_model_params_default();
    mp.cache_bytes = (uint64_t)cache_mib << 20; /* 0 turns the cache off */
    bitnet_model *m = NULL;
    float *buf = NULL;
    size_t buf_floats = 0;
    int rc = 1;
    bitnet_status s = bitnet_model_load_file(argv[1], &mp, &m);
    if (s)
        return fail("cannot load the model", s);

    const int64_t n_tensors = bitnet_model_tensor_count(m);
    printf("%-28s %-6s %12s %10s %10s %10s %10s\n", "tensor", "type", "elements", "min", "max", "mean", "rms");
    int64_t n_read = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t i = 0; i < n_tensors; i++) {
            bitnet_tensor_info ti = {.struct_size = sizeof ti}; /* out-struct: the caller sets struct_size */
            if ((s = bitnet_model_tensor_info(m, i, &ti))) {
                rc = fail("tensor info", s);
                goto done;
            }
            if (only && strcmp(ti.name, only))
                continue;
            if (ti.ne[0] > (int64_t)(SIZE_MAX / sizeof(float)) / rows) {
                fprintf(stderr, "tensor_read: %s: rows too long for this buffer\n", ti.name);
                goto done;
            }
            size_t need = (size_t)(rows * ti.ne[0]);
            if (need > buf_floats) { /* one buffer, grown to the longest rows */
                float *grown = realloc(buf, need * sizeof *buf);
                if (!grown) {
                    rc = fail("buffer", BITNET_ERR_OUT_OF_MEMORY);
                    goto done;
                }
                buf = grown;
                buf_floats = need;
            }
            stats st;
            s = scan(m, &ti, buf, rows, &st);
            if (s == BITNET_ERR_UNSUPPORTED) { /* a type this build cannot decode */
                if (pass == 0)
                    printf("%-28s %-6s (cannot be dequantized: %s)\n", ti.name, ti.type_name, bitnet_last_error());
                continue;
            }
            if (s) {
                rc = fail(ti.name, s);
                goto done;
            }
            n_read++;
            if (pass == 0)
                printf("%-28s %-6s %12" PRId64 " %10.4f %10.4f %10.5f %10.5f\n", ti.name, ti.type_name, st.n, st.min,
                       st.max, st.sum / (double)st.n, sqrt(st.sum_sq / (double)st.n));
        }
        bitnet_store_stats ss = {.struct_size = sizeof ss};
        if ((s = bitnet_model_store_stats(m, &ss))) {
            rc = fail("store stats", s);
            goto done;
        }
        printf("after pass %d: %" PRIu64 " hits, %" PRIu64 " misses, %" PRIu64 " evictions, %" PRIu64
               " tensors / %.2f MiB cached of %.2f MiB (peak %.2f MiB), %.2f MiB mapped\n",
               pass + 1, ss.hits, ss.misses, ss.evictions, ss.entries, (double)ss.bytes_resident / 1048576.0,
               (double)ss.bytes_budget / 1048576.0, (double)ss.bytes_peak / 1048576.0,
               (double)ss.bytes_mapped / 1048576.0);
    }
    if (only && n_read == 0) {
        fprintf(stderr, "tensor_read: no tensor named %s\n", only);
        goto done;
    }
    rc = 0;
done:
    free(buf);
    bitnet_model_release(m);
    return rc;
}
