/* Allocation-failure injection: fail the Nth allocation for every N along
 * model load (file and memory, mmap and read) and cached tensor reads. Every
 * run must return OK or OUT_OF_MEMORY, never crash; ASan/valgrind check that
 * nothing leaks. Context creation and decode: test_alloc_context.c; state
 * files, configuration files and the tokenizer: test_state.c,
 * test_config.c, test_tokenizer.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "bitnet.h"
#include "core/alloc.h"
#include "support/fixtures.h"

/* One attempt; returns the status of the first failing step. */
static bitnet_status attempt(const char *path, const void *mem, size_t mem_size, bool mmap)
{
    bitnet_model_params p = bitnet_model_params_default();
    p.use_mmap = mmap;
    p.cache_bytes = 1 << 20;
    bitnet_model *m = NULL;
    bitnet_status s = mem ? bitnet_model_load_memory(mem, mem_size, &p, &m) : bitnet_model_load_file(path, &p, &m);
    if (s)
        return s;
    static float buf[256 * 64];
    for (int i = 0; i < 2 && !s; i++) /* miss then hit */
        s = bitnet_model_tensor_read(m, "blk.0.attn_k.weight", 0, 64, BITNET_TYPE_F32, buf, sizeof buf, NULL);
    bitnet_model_release(m);
    return s;
}

static void sweep(const char *path, const void *mem, size_t mem_size, bool mmap, const char *label)
{
    long n;
    for (n = 0; n < 10000; n++) {
        unsigned long before = bn_alloc_failures();
        bn_alloc_fail_after(n);
        bitnet_status s = attempt(path, mem, mem_size, mmap);
        bn_alloc_fail_after(-1);
        int injected = bn_alloc_failures() != before;
        if (s != BITNET_OK && s != BITNET_ERR_OUT_OF_MEMORY)
            fail_msg("%s: failing allocation %ld gave %s: %s", label, n, bitnet_status_str(s), bitnet_last_error());
        if (s == BITNET_ERR_OUT_OF_MEMORY && !injected)
            fail_msg("%s: OUT_OF_MEMORY without an injected failure", label);
        if (!injected) {
            assert_int_equal(s, BITNET_OK);
            break;
        }
    }
    print_message("%s: %ld allocation points checked\n", label, n);
    assert_true(n > 5);
}

static void test_alloc_failures_along_load_and_read(void **state)
{
    (void)state;
    REQUIRE_FIXTURES();
    char path[1024];
    fixture_path(path, sizeof path, "kjv-bitnet/kjv-bitnet-4m-i2_s.gguf");
    sweep(path, NULL, 0, true, "file, mmap");
    sweep(path, NULL, 0, false, "file, read");
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size_t size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    void *mem = malloc(size);
    assert_non_null(mem);
    assert_int_equal(fread(mem, 1, size, f), size);
    fclose(f);
    sweep(NULL, mem, size, true, "memory");
    free(mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_failures_along_load_and_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
