/* The weight store: LRU order and statistics of the dequantized cache, and
 * concurrent readers through a small cache giving exactly the uncached
 * results (this test also runs under TSan). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bitnet.h"
#include "quant/quant.h"
#include "support/fixtures.h"

static bitnet_model *load(const char *rel, uint64_t cache_bytes)
{
    char path[1024];
    bitnet_model_params p = bitnet_model_params_default();
    p.cache_bytes = cache_bytes;
    bitnet_model *m = NULL;
    fixture_path(path, sizeof path, rel);
    if (bitnet_model_load_file(path, &p, &m))
        fail_msg("%s: %s", path, bitnet_last_error());
    return m;
}

static bitnet_store_stats stats(const bitnet_model *m)
{
    bitnet_store_stats s = {.struct_size = sizeof s};
    assert_int_equal(bitnet_model_store_stats(m, &s), BITNET_OK);
    return s;
}

static void read_rows(bitnet_model *m, const char *name, int64_t a, int64_t b)
{
    static float buf[256 * 1024];
    assert_int_equal(bitnet_model_tensor_read(m, name, a, b, BITNET_TYPE_F32, buf, sizeof buf, NULL), BITNET_OK);
}

/* attn_k/attn_v of kjv-bitnet are 256 x 64 ternary: 64 KiB as float32, so a
 * 128 KiB budget holds exactly two of them. */
static void test_lru_order_and_stats(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *m = load("kjv-bitnet/kjv-bitnet-4m-i2_s.gguf", 128 * 1024);
    const char *k0 = "blk.0.attn_k.weight", *v0 = "blk.0.attn_v.weight", *k1 = "blk.1.attn_k.weight";
    read_rows(m, k0, 0, 64);  /* miss */
    read_rows(m, v0, 0, 1);   /* miss */
    read_rows(m, k0, 3, 9);   /* hit: k0 becomes most recent */
    read_rows(m, k1, 10, 20); /* miss: evicts v0, the least recent */
    bitnet_store_stats s = stats(m);
    assert_int_equal(s.hits, 1);
    assert_int_equal(s.misses, 3);
    assert_int_equal(s.evictions, 1);
    assert_int_equal(s.entries, 2);
    assert_int_equal(s.bytes_resident, 2 * 64 * 1024);
    assert_int_equal(s.bytes_budget, 128 * 1024);
    read_rows(m, k0, 0, 1); /* still cached */
    assert_int_equal(stats(m).hits, 2);
    read_rows(m, v0, 0, 1); /* was evicted: miss, evicts k1 */
    s = stats(m);
    assert_int_equal(s.misses, 4);
    assert_int_equal(s.evictions, 2);
    read_rows(m, k0, 0, 1);
    assert_int_equal(stats(m).hits, 3);
    /* attn_q (256 KiB as float) never fits: served, counted as a miss, not cached. */
    read_rows(m, "blk.0.attn_q.weight", 0, 256);
    s = stats(m);
    assert_int_equal(s.misses, 5);
    assert_int_equal(s.entries, 2);
    /* float32 tensors are read straight from the mapping, outside the cache. */
    read_rows(m, "blk.0.attn_norm.weight", 0, 1);
    assert_int_equal(stats(m).misses, 5);
    assert_true(stats(m).bytes_mapped > 2 * 1024 * 1024);
    bitnet_model_release(m);
}

static void test_cache_off_counts_nothing(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *m = load("kjv-bitnet/kjv-bitnet-4m-i2_s.gguf", 0);
    read_rows(m, "blk.0.attn_k.weight", 0, 64);
    read_rows(m, "blk.0.attn_k.weight", 0, 64);
    bitnet_store_stats s = stats(m);
    assert_int_equal(s.hits + s.misses + s.evictions + s.bytes_resident + s.entries, 0);
    bitnet_model_release(m);
}

/* ---- concurrency ------------------------------------------------------- */

#define N_THREADS 8
#define READS_PER_THREAD 300

typedef struct shared {
    bitnet_model *cached;
    int64_t n_tensors;
    bitnet_tensor_info info[64];
    float *reference[64]; /* whole tensors read without the cache */
    atomic_int mismatches;
    atomic_int failures;
} shared;

typedef struct worker {
    shared *sh;
    uint64_t seed;
} worker;

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void *reader(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    size_t cap = 1 << 20;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        atomic_fetch_add(&sh->failures, 1);
        return NULL;
    }
    for (int i = 0; i < READS_PER_THREAD; i++) {
        const bitnet_tensor_info *t = &sh->info[next_rand(&w->seed) % (uint64_t)sh->n_tensors];
        int64_t a = (int64_t)(next_rand(&w->seed) % (uint64_t)t->n_rows);
        int64_t b = a + 1 + (int64_t)(next_rand(&w->seed) % (uint64_t)(t->n_rows - a));
        int half = next_rand(&w->seed) & 1;
        bitnet_type type = half ? BITNET_TYPE_F16 : BITNET_TYPE_F32;
        size_t n = (size_t)((b - a) * t->ne[0]);
        if (n * 4 > cap)
            b = a + 1, n = (size_t)t->ne[0];
        if (bitnet_model_tensor_read(sh->cached, t->name, a, b, type, buf, cap, NULL) != BITNET_OK) {
            atomic_fetch_add(&sh->failures, 1);
            continue;
        }
        const float *ref = sh->reference[t - sh->info] + a * t->ne[0];
        for (size_t k = 0; k < n; k++) {
            int same;
            if (half) {
                uint16_t h;
                memcpy(&h, buf + 2 * k, 2);
                same = h == bn_fp32_to_fp16(ref[k]);
            } else {
                same = memcmp(buf + 4 * k, &ref[k], 4) == 0;
            }
            if (!same) {
                atomic_fetch_add(&sh->mismatches, 1);
                break;
            }
        }
    }
    free(buf);
    return NULL;
}

static void test_concurrent_readers_through_small_cache(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    static shared sh;
    memset(&sh, 0, sizeof sh);
    const char *rel = "kjv-llama/kjv-llama-5m-q4_k_m.gguf"; /* q4_k, q6_k and f32 tensors */
    bitnet_model *plain = load(rel, 0);
    sh.cached = load(rel, 1 << 20);
    sh.n_tensors = bitnet_model_tensor_count(plain);
    assert_true(sh.n_tensors <= 64);
    for (int64_t i = 0; i < sh.n_tensors; i++) {
        bitnet_tensor_info *t = &sh.info[i];
        t->struct_size = sizeof *t;
        assert_int_equal(bitnet_model_tensor_info(plain, i, t), BITNET_OK);
        size_t bytes = (size_t)t->n_elements * 4;
        sh.reference[i] = malloc(bytes);
        assert_non_null(sh.reference[i]);
        assert_int_equal(
            bitnet_model_tensor_read(plain, t->name, 0, t->n_rows, BITNET_TYPE_F32, sh.reference[i], bytes, NULL),
            BITNET_OK);
    }
    pthread_t th[N_THREADS];
    worker w[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        w[i] = (worker){&sh, 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1)};
        assert_int_equal(pthread_create(&th[i], NULL, reader, &w[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&sh.failures), 0);
    assert_int_equal(atomic_load(&sh.mismatches), 0);
    bitnet_store_stats s = stats(sh.cached);
    print_message("cache: %llu hits, %llu misses, %llu evictions, %llu bytes resident\n",
                  (unsigned long long)s.hits, (unsigned long long)s.misses, (unsigned long long)s.evictions,
                  (unsigned long long)s.bytes_resident);
    assert_true(s.bytes_resident <= 1 << 20);
    assert_true(s.hits > 0);
    assert_true(s.evictions > 0);
    for (int64_t i = 0; i < sh.n_tensors; i++)
        free(sh.reference[i]);
    bitnet_model_release(sh.cached);
    bitnet_model_release(plain);
}

/* Retain/release from many threads: the last release frees (ASan/valgrind
 * would see a leak or double free otherwise). */
static void *retain_release(void *arg)
{
    bitnet_model *m = arg;
    for (int i = 0; i < 1000; i++) {
        bitnet_model_retain(m);
        bitnet_model_release(m);
    }
    return NULL;
}

static void test_refcount_threads(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    bitnet_model *m = load("stories260k/stories260k-q8_0.gguf", 0);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, retain_release, m), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    bitnet_model_release(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lru_order_and_stats),
        cmocka_unit_test(test_cache_off_counts_nothing),
        cmocka_unit_test(test_concurrent_readers_through_small_cache),
        cmocka_unit_test(test_refcount_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
