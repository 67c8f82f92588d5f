/* libFuzzer harness for the GGUF loader and the metadata/tensor getters.
 *
 * Loads the input with bitnet_model_load_memory; when it loads, walks every
 * key and value (array elements up to a cap, nested arrays recursively),
 * every tensor info, and reads the first rows of each tensor as F32 and F16
 * into a bounded buffer, plus a few reads that must fail cleanly. The same
 * bytes are then loaded as a file (a memfd, through /proc/self/fd), mapped
 * and read in: both must give the status the memory load gave.
 *
 * Build (clang): -fsanitize=fuzzer,address,undefined with libbitnet.a.
 * Linked with replay_main.c instead it runs the files and folders named on
 * the command line once each (regression runs without libFuzzer). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bitnet/bitnet.h"

#define MAX_ARRAY_ELEMS 64          /* elements visited per array            */
#define MAX_WALK_DEPTH 16           /* recursion guard for nested arrays     */
#define READ_BUF_BYTES (64u * 1024) /* bytes per tensor read                 */
#define CACHE_BYTES (1u << 20)      /* small store cache, to exercise it too */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads the value every way the API offers; results are only consumed so
 * the compiler keeps the calls. */
static volatile uint64_t sink;

static void touch_string(const char *s, size_t len)
{
    /* The string must be readable up to and including its NUL. */
    if (s)
        sink += (uint64_t)(unsigned char)s[len] + (len ? (unsigned char)s[0] : 0u);
}

static void walk_scalar(const bitnet_value *v)
{
    int64_t i;
    uint64_t u;
    double f;
    bool b;
    const char *s = NULL;
    size_t len = 0;
    if (bitnet_value_int(v, &i) == BITNET_OK)
        sink += (uint64_t)i;
    if (bitnet_value_uint(v, &u) == BITNET_OK)
        sink += u;
    if (bitnet_value_float(v, &f) == BITNET_OK)
        sink += (uint64_t)(f == f);
    if (bitnet_value_bool(v, &b) == BITNET_OK)
        sink += b;
    if (bitnet_value_string(v, &s, &len) == BITNET_OK)
        touch_string(s, len);
}

static void walk_value(const bitnet_value *v, int depth);

static void walk_array(const bitnet_value *v, int depth)
{
    bitnet_value_type elem;
    uint64_t n = 0;
    if (bitnet_value_array_info(v, &elem, &n) != BITNET_OK)
        return;
    uint64_t cap = n < MAX_ARRAY_ELEMS ? n : MAX_ARRAY_ELEMS;
    for (uint64_t i = 0; i < cap; i++) {
        int64_t x;
        uint64_t u;
        double f;
        bool b;
        const char *s = NULL;
        size_t len = 0;
        const bitnet_value *sub = NULL;
        if (bitnet_value_array_int(v, i, &x) == BITNET_OK)
            sink += (uint64_t)x;
        if (bitnet_value_array_uint(v, i, &u) == BITNET_OK)
            sink += u;
        if (bitnet_value_array_float(v, i, &f) == BITNET_OK)
            sink += (uint64_t)(f == f);
        if (bitnet_value_array_bool(v, i, &b) == BITNET_OK)
            sink += b;
        if (bitnet_value_array_string(v, i, &s, &len) == BITNET_OK)
            touch_string(s, len);
        if (bitnet_value_array_array(v, i, &sub) == BITNET_OK)
            walk_value(sub, depth + 1);
    }
    /* The last element and one past the end: bounds checks. */
    int64_t x;
    if (n)
        (void)bitnet_value_array_int(v, n - 1, &x);
    (void)bitnet_value_array_int(v, n, &x);
}

static void walk_value(const bitnet_value *v, int depth)
{
    if (!v || depth > MAX_WALK_DEPTH)
        return;
    sink += (uint64_t)bitnet_value_get_type(v);
    if (bitnet_value_get_type(v) == BITNET_VALUE_ARRAY)
        walk_array(v, depth);
    else
        walk_scalar(v);
}

static void walk_metadata(const bitnet_model *m)
{
    int64_t n = bitnet_model_meta_count(m);
    for (int64_t i = 0; i < n; i++) {
        const char *key = NULL;
        const bitnet_value *v = NULL;
        if (bitnet_model_meta_at(m, i, &key, &v) != BITNET_OK)
            continue;
        walk_value(v, 0);
        if (!key)
            continue;
        /* Lookup by name and the key-based shortcuts. */
        const bitnet_value *again = NULL;
        if (bitnet_model_meta_get(m, key, &again) == BITNET_OK)
            sink += (uint64_t)(again != NULL);
        int64_t x;
        uint64_t u;
        double f;
        bool b;
        const char *s = NULL;
        size_t len = 0;
        (void)bitnet_model_meta_int(m, key, &x);
        (void)bitnet_model_meta_uint(m, key, &u);
        (void)bitnet_model_meta_float(m, key, &f);
        (void)bitnet_model_meta_bool(m, key, &b);
        if (bitnet_model_meta_string(m, key, &s, &len) == BITNET_OK)
            touch_string(s, len);
    }
    (void)bitnet_model_meta_at(m, n, NULL, NULL);
}

/* The first rows of tensor `info` that fit the buffer, as `type`. */
static void read_head(bitnet_model *m, const bitnet_tensor_info *info, bitnet_type type, size_t elem, uint8_t *buf)
{
    if (info->ne[0] <= 0 || info->n_rows <= 0)
        return;
    /* ne[0] may be up to INT64_MAX: compare before multiplying. */
    int64_t rows =
        (uint64_t)info->ne[0] <= READ_BUF_BYTES / elem ? (int64_t)(READ_BUF_BYTES / ((uint64_t)info->ne[0] * elem)) : 0;
    if (rows > info->n_rows)
        rows = info->n_rows;
    size_t written = 0;
    if (rows > 0)
        (void)bitnet_model_tensor_read(m, info->name, 0, rows, type, buf, READ_BUF_BYTES, &written);
    else /* a row larger than the buffer: must fail with BUFFER_TOO_SMALL */
        (void)bitnet_model_tensor_read(m, info->name, 0, 1, type, buf, READ_BUF_BYTES, &written);
    sink += written;
}

static void walk_tensors(bitnet_model *m, uint8_t *buf)
{
    int64_t n = bitnet_model_tensor_count(m);
    for (int64_t i = 0; i < n; i++) {
        bitnet_tensor_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        if (bitnet_model_tensor_info(m, i, &info) != BITNET_OK || !info.name)
            continue;
        int64_t idx = -1;
        (void)bitnet_model_tensor_find(m, info.name, &idx);
        sink += (uint64_t)idx + info.n_bytes + info.offset + (uint64_t)info.n_dims;
        if (info.type_name)
            sink += (unsigned char)info.type_name[0];
        read_head(m, &info, BITNET_TYPE_F32, 4, buf);
        read_head(m, &info, BITNET_TYPE_F16, 2, buf);
        /* Reads that must fail without touching memory they should not. */
        size_t written;
        (void)bitnet_model_tensor_read(m, info.name, info.n_rows, info.n_rows + 1, BITNET_TYPE_F32, buf, READ_BUF_BYTES,
                                       &written);
        (void)bitnet_model_tensor_read(m, info.name, 0, 1, BITNET_TYPE_F32, buf, 1, &written);
    }
    bitnet_tensor_info info;
    info.struct_size = sizeof info;
    (void)bitnet_model_tensor_info(m, n, &info);
}

/* The input as a file: bitnet_model_load_file, mapped or read, must agree
 * with the memory load on the status. */
static void load_as_file(const uint8_t *data, size_t size, bitnet_status expect)
{
    int fd = memfd_create("fuzz-gguf", 0);
    if (fd < 0)
        return;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    if (done == size) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        for (int mmap_it = 0; mmap_it < 2; mmap_it++) {
            bitnet_model_params params = bitnet_model_params_default();
            params.use_mmap = mmap_it;
            params.prefetch = false;
            bitnet_model *m = NULL;
            bitnet_status s = bitnet_model_load_file(path, &params, &m);
            /* An empty file cannot be mapped: IO is fine there. */
            if (s != expect && !(size == 0 && s == BITNET_ERR_IO)) {
                fprintf(stderr, "fuzz_gguf: file load (%s) gave %s, memory load %s: %s\n",
                        mmap_it ? "mmap" : "read", bitnet_status_str(s), bitnet_status_str(expect),
                        bitnet_last_error());
                abort();
            }
            if (m)
                sink += (uint64_t)bitnet_model_tensor_count(m) + (uint64_t)bitnet_model_meta_count(m);
            bitnet_model_release(m);
        }
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bitnet_model_params params = bitnet_model_params_default();
    params.cache_bytes = CACHE_BYTES;
    bitnet_model *m = NULL;
    bitnet_status status = bitnet_model_load_memory(data, size, &params, &m);
    load_as_file(data, size, status);
    if (status != BITNET_OK) {
        /* A failed load must leave a message and no model. */
        if (m != NULL || bitnet_last_error()[0] == '\0')
            abort();
        return 0;
    }
    uint8_t *buf = malloc(READ_BUF_BYTES);
    if (buf) {
        sink += bitnet_model_gguf_version(m);
        walk_metadata(m);
        walk_tensors(m, buf);
        bitnet_store_stats stats;
        stats.struct_size = sizeof stats;
        (void)bitnet_model_store_stats(m, &stats);
        sink += (uint64_t)bitnet_model_last_error(m)[0];
        free(buf);
    }
    bitnet_model_release(m);
    return 0;
}
