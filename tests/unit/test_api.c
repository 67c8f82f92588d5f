/* Public API basics: versions, status strings, params, NULL safety, logging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "bitnet.h"

static void test_versions(void **state)
{
    (void)state;
    assert_int_equal(bitnet_version(), BITNET_VERSION_NUMBER);
    assert_int_equal(BITNET_VERSION_NUMBER,
                     BITNET_VERSION_MAJOR * 10000 + BITNET_VERSION_MINOR * 100 + BITNET_VERSION_PATCH);
    char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", BITNET_VERSION_MAJOR, BITNET_VERSION_MINOR, BITNET_VERSION_PATCH);
    assert_string_equal(bitnet_version_string(), buf);
}

static void test_status_strings_are_pinned(void **state)
{
    (void)state;
    /* Values are ABI: a renumbering must fail here. */
    assert_int_equal(BITNET_OK, 0);
    assert_int_equal(BITNET_ERR_INVALID_ARGUMENT, 1);
    assert_int_equal(BITNET_ERR_IO, 2);
    assert_int_equal(BITNET_ERR_BAD_FORMAT, 3);
    assert_int_equal(BITNET_ERR_UNSUPPORTED, 4);
    assert_int_equal(BITNET_ERR_OUT_OF_MEMORY, 5);
    assert_int_equal(BITNET_ERR_OUT_OF_RANGE, 6);
    assert_int_equal(BITNET_ERR_NOT_FOUND, 7);
    assert_int_equal(BITNET_ERR_TYPE_MISMATCH, 8);
    assert_int_equal(BITNET_ERR_BUFFER_TOO_SMALL, 9);
    assert_int_equal(BITNET_ERR_CONTEXT_FULL, 10);
    assert_int_equal(BITNET_ERR_ABORTED, 11);
    assert_int_equal(BITNET_ERR_INTERNAL, 12);
    assert_int_equal(BITNET_ERR_MEMORY_BUDGET, 13);
    for (int s = 0; s <= 13; s++) {
        const char *text = bitnet_status_str((bitnet_status)s);
        assert_non_null(text);
        assert_true(strlen(text) > 0);
        assert_string_not_equal(text, "unknown status");
    }
    assert_string_equal(bitnet_status_str((bitnet_status)999), "unknown status");
    assert_string_equal(bitnet_status_str(BITNET_ERR_BAD_FORMAT), "bad format");
}

static void test_params_default(void **state)
{
    (void)state;
    bitnet_model_params p = bitnet_model_params_default();
    assert_int_equal(p.struct_size, sizeof p);
    assert_true(p.use_mmap);
    assert_int_equal(p.cache_bytes, 0);
}

static void test_null_safety(void **state)
{
    (void)state;
    bitnet_model *m = (bitnet_model *)0x1;
    bitnet_model_release(NULL);
    bitnet_model_retain(NULL);
    assert_int_equal(bitnet_model_load_file(NULL, NULL, &m), BITNET_ERR_INVALID_ARGUMENT);
    assert_null(m);
    assert_int_equal(bitnet_model_load_file("x", NULL, NULL), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_model_load_memory(NULL, 10, NULL, &m), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_model_meta_count(NULL), 0);
    assert_int_equal(bitnet_model_tensor_count(NULL), 0);
    assert_string_equal(bitnet_model_last_error(NULL), "");
    int64_t v;
    assert_int_equal(bitnet_model_meta_int(NULL, "k", &v), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_value_int(NULL, &v), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bitnet_model_tensor_read(NULL, "t", 0, 1, BITNET_TYPE_F32, NULL, 0, NULL),
                     BITNET_ERR_INVALID_ARGUMENT);
}

static void test_params_struct_size_checked(void **state)
{
    (void)state;
    bitnet_model_params p = bitnet_model_params_default();
    p.struct_size = 3;
    bitnet_model *m;
    static const unsigned char gguf[] = "GGUF";
    assert_int_equal(bitnet_model_load_memory(gguf, 4, &p, &m), BITNET_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(bitnet_last_error(), "struct_size"));
}

static void test_missing_file_is_io_error(void **state)
{
    (void)state;
    bitnet_model *m;
    assert_int_equal(bitnet_model_load_file("/nonexistent/model.gguf", NULL, &m), BITNET_ERR_IO);
    assert_null(m);
    assert_non_null(strstr(bitnet_last_error(), "/nonexistent/model.gguf"));
    assert_int_equal(bitnet_model_load_file("/", NULL, &m), BITNET_ERR_IO);
}

static int log_calls;
static char log_last[256];
static void on_log(bitnet_log_level level, const char *msg, void *user)
{
    (void)level;
    *(int *)user += 1;
    snprintf(log_last, sizeof log_last, "%s", msg);
    log_calls++;
}

static void test_log_callback(void **state)
{
    (void)state;
    int user = 0;
    bitnet_model *m;
    bitnet_set_log_callback(on_log, &user, BITNET_LOG_DEBUG);
    assert_int_equal(bitnet_model_load_memory("nope", 4, NULL, &m), BITNET_ERR_BAD_FORMAT);
    assert_true(user > 0);
    assert_non_null(strstr(log_last, "GGUF"));
    bitnet_set_log_callback(NULL, NULL, BITNET_LOG_ERROR);
    int before = log_calls;
    assert_int_equal(bitnet_model_load_memory("nope", 4, NULL, &m), BITNET_ERR_BAD_FORMAT);
    assert_int_equal(log_calls, before); /* silent by default / after removal */
}

static void test_type_names(void **state)
{
    (void)state;
    assert_string_equal(bitnet_type_name(BITNET_TYPE_I2_S), "i2_s");
    assert_string_equal(bitnet_type_name(BITNET_TYPE_Q4_K), "q4_k");
    assert_string_equal(bitnet_type_name(BITNET_TYPE_TQ1_0), "tq1_0");
    assert_string_equal(bitnet_type_name(BITNET_TYPE_F32), "f32");
    assert_string_equal(bitnet_type_name(200), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_status_strings_are_pinned),
        cmocka_unit_test(test_params_default),
        cmocka_unit_test(test_null_safety),
        cmocka_unit_test(test_params_struct_size_checked),
        cmocka_unit_test(test_missing_file_is_io_error),
        cmocka_unit_test(test_log_callback),
        cmocka_unit_test(test_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
