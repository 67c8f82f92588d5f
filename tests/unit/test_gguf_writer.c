/* GGUF writer: exact bytes, argument checks, layout reports, and a round trip
 * through the public loader (memory and file) for v2/v3 and alignment 32/64
 * with every value type, nested arrays and F32/F16/Q8_0 tensors. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bitnet/bitnet.h"
#include "loader/gguf_writer.h"
#include "quant/quant.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static uint64_t rd_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* A unique temp path under $TMPDIR (or /tmp); the file exists, empty. */
static void make_temp_path(char *path, size_t cap)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    int n = snprintf(path, cap, "%s/bn_gguf_writer_XXXXXX", dir);
    assert_true(n > 0 && (size_t)n < cap);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
}

/* Whole file into a malloc'd buffer. */
static uint8_t *slurp(const char *path, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    assert_true(n >= 0);
    rewind(fp);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *size = (size_t)n;
    return buf;
}

static bn_gguf_writer *new_writer(uint32_t version)
{
    bn_gguf_writer *w = NULL;
    assert_int_equal(bn_gguf_writer_new(version, &w), BITNET_OK);
    assert_non_null(w);
    return w;
}

/* ------------------------------------------------------------------------ */
/* Exact bytes                                                              */
/* ------------------------------------------------------------------------ */

/* One uint32 pair and one 2-element F32 tensor, worked out by hand from the
 * GGUF spec: this pins the encoding independently of any reader. */
static void test_exact_bytes(void **state)
{
    (void)state;
    /* String pieces, so each field stays on its own line; the literal's
     * trailing NUL is not part of the file. */
    static const char expected[] = "GGUF"
                                   "\x03\x00\x00\x00"                 /* version 3          */
                                   "\x01\x00\x00\x00\x00\x00\x00\x00" /* tensor count       */
                                   "\x01\x00\x00\x00\x00\x00\x00\x00" /* kv count           */
                                   "\x01\x00\x00\x00\x00\x00\x00\x00" /* key length 1       */
                                   "a"                                /* key                */
                                   "\x04\x00\x00\x00"                 /* type uint32        */
                                   "\x07\x00\x00\x00"                 /* value 7            */
                                   "\x01\x00\x00\x00\x00\x00\x00\x00" /* name length 1      */
                                   "t"                                /* name               */
                                   "\x01\x00\x00\x00"                 /* n_dims 1           */
                                   "\x02\x00\x00\x00\x00\x00\x00\x00" /* ne[0] 2            */
                                   "\x00\x00\x00\x00"                 /* type F32           */
                                   "\x00\x00\x00\x00\x00\x00\x00\x00" /* offset 0           */
                                   "\x00\x00\x00\x00\x00\x00\x00\x00" /* padding 74 -> 96   */
                                   "\x00\x00\x00\x00\x00\x00\x00\x00"
                                   "\x00\x00\x00\x00\x00\x00"
                                   "\x00\x00\x80\x3f"                 /* 1.0f               */
                                   "\x00\x00\x00\x40"                 /* 2.0f               */
                                   "\x00\x00\x00\x00\x00\x00\x00\x00" /* padding 104 -> 128 */
                                   "\x00\x00\x00\x00\x00\x00\x00\x00"
                                   "\x00\x00\x00\x00\x00\x00\x00\x00";
    bn_gguf_writer *w = new_writer(3);
    const float v[2] = {1.0f, 2.0f};
    const int64_t ne[1] = {2};
    assert_int_equal(bn_gguf_writer_add_u32(w, "a", 7), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "t", BITNET_TYPE_F32, 1, ne, v, sizeof v), BITNET_OK);
    void *buf;
    size_t size;
    bn_gguf_layout lay;
    assert_int_equal(bn_gguf_writer_to_memory(w, &buf, &size, &lay), BITNET_OK);
    assert_int_equal(size, sizeof expected - 1);
    assert_memory_equal(buf, expected, sizeof expected - 1);
    assert_int_equal(lay.kv, 24);
    assert_int_equal(lay.tensor_infos, 41);
    assert_int_equal(lay.infos_end, 74);
    assert_int_equal(lay.data, 96);
    assert_int_equal(lay.data_end, 104);
    assert_int_equal(lay.size, 128);
    assert_int_equal(lay.n_kv, 1);
    assert_int_equal(lay.n_tensors, 1);
    free(buf);
    bn_gguf_writer_free(w);
}

/* ------------------------------------------------------------------------ */
/* Argument checks                                                          */
/* ------------------------------------------------------------------------ */

static void test_new_and_alignment_args(void **state)
{
    (void)state;
    static int dummy;
    bn_gguf_writer *w = (bn_gguf_writer *)(void *)&dummy; /* must be reset to NULL */
    assert_int_equal(bn_gguf_writer_new(1, &w), BITNET_ERR_INVALID_ARGUMENT);
    assert_null(w);
    assert_int_equal(bn_gguf_writer_new(4, &w), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_new(3, NULL), BITNET_ERR_INVALID_ARGUMENT);
    bn_gguf_writer_free(NULL);
    w = new_writer(2);
    assert_int_equal(bn_gguf_writer_set_alignment(w, 0), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_set_alignment(w, 48), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_set_alignment(w, 1), BITNET_OK);
    assert_int_equal(bn_gguf_writer_set_alignment(NULL, 32), BITNET_ERR_INVALID_ARGUMENT);
    /* general.alignment through add_*: must be a uint32 power of two. */
    assert_int_equal(bn_gguf_writer_add_string(w, "general.alignment", "32"), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_add_u64(w, "general.alignment", 32), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_add_u32(w, "general.alignment", 48), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_kv_count(w), 0);
    bn_gguf_writer_free(w);
}

static void test_key_checks(void **state)
{
    (void)state;
    bn_gguf_writer *w = new_writer(3);
    assert_int_equal(bn_gguf_writer_add_u8(w, NULL, 1), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_add_u8(w, "", 1), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_add_u8(w, "k", 1), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_string(w, "k", "dup"), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_add_string(w, "s", NULL), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_add_array(w, "a", BITNET_VALUE_UINT32, NULL, 3), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_add_array(w, "a", (bitnet_value_type)13, "xxxx", 1), BITNET_ERR_INVALID_ARGUMENT);
    const char *strs[2] = {"x", NULL};
    assert_int_equal(bn_gguf_writer_add_string_array(w, "a", strs, 2), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_kv_count(w), 1);
    /* Checks off: duplicates and empty keys are written verbatim. */
    bn_gguf_writer_set_checks(w, false);
    assert_int_equal(bn_gguf_writer_add_u8(w, "k", 2), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_u8(w, "", 3), BITNET_OK);
    assert_int_equal(bn_gguf_writer_kv_count(w), 3);
    bn_gguf_writer_free(w);
}

/* Arrays nested deeper than the limit are refused; the limit itself works. */
static void test_nesting_limit(void **state)
{
    (void)state;
    bn_gguf_writer *w = new_writer(3);
    const uint8_t leaf[1] = {5};
    bn_gguf_array levels[BN_GGUF_WRITER_MAX_DEPTH + 1];
    levels[0] = (bn_gguf_array){BITNET_VALUE_UINT8, 1, leaf};
    for (int i = 1; i <= BN_GGUF_WRITER_MAX_DEPTH; i++)
        levels[i] = (bn_gguf_array){BITNET_VALUE_ARRAY, 1, &levels[i - 1]};
    /* add_array's own array is level 1: MAX_DEPTH - 1 nested descriptors fit. */
    const bn_gguf_array *ok = &levels[BN_GGUF_WRITER_MAX_DEPTH - 2];
    assert_int_equal(bn_gguf_writer_add_array(w, "ok", BITNET_VALUE_ARRAY, ok, 1), BITNET_OK);
    const bn_gguf_array *deep = &levels[BN_GGUF_WRITER_MAX_DEPTH - 1];
    assert_int_equal(bn_gguf_writer_add_array(w, "deep", BITNET_VALUE_ARRAY, deep, 1), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_kv_count(w), 1);
    /* The deepest file the writer makes must load. */
    void *buf;
    size_t size;
    assert_int_equal(bn_gguf_writer_to_memory(w, &buf, &size, NULL), BITNET_OK);
    bitnet_model *m = NULL;
    bitnet_status st = bitnet_model_load_memory(buf, size, NULL, &m);
    if (st != BITNET_OK)
        fail_msg("load: status %d (%s)", (int)st, bitnet_last_error());
    bitnet_model_release(m);
    free(buf);
    bn_gguf_writer_free(w);
}

static void test_tensor_checks(void **state)
{
    (void)state;
    bn_gguf_writer *w = new_writer(3);
    float f[64] = {0};
    const int64_t ne2[2] = {8, 2};
    const int64_t ne_bad[2] = {8, 0};
    const int64_t ne5[5] = {1, 1, 1, 1, 1};
    const int64_t ne_q[1] = {16};
    const int64_t ne_q32[1] = {32};
    const int64_t ne_big[2] = {INT64_C(1) << 40, INT64_C(1) << 40};
    char long_name[BN_GGUF_WRITER_MAX_NAME + 2];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_int_equal(bn_gguf_writer_add_tensor(w, "t", BITNET_TYPE_F32, 2, ne2, f, 64), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "t", BITNET_TYPE_F32, 2, ne2, f, 64), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "", BITNET_TYPE_F32, 2, ne2, f, 64), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_add_tensor(w, NULL, BITNET_TYPE_F32, 2, ne2, f, 64), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_add_tensor(w, long_name, BITNET_TYPE_F32, 2, ne2, f, 64),
                     BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "u", BITNET_TYPE_F32, 0, ne2, f, 4), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "u", BITNET_TYPE_F32, 5, ne5, f, 4), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "u", BITNET_TYPE_F32, 2, ne_bad, f, 0), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "u", BITNET_TYPE_F32, 2, ne2, f, 60), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "u", BITNET_TYPE_F32, 2, ne_big, NULL, 0),
                     BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "u", 200, 2, ne2, f, 64), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "u", BITNET_TYPE_Q8_0, 1, ne_q, f, 17), BITNET_ERR_INVALID_ARGUMENT);
    uint64_t q_bytes = bn_type_tensor_bytes(BITNET_TYPE_Q8_0, 32);
    assert_int_equal(q_bytes, 34);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "u", BITNET_TYPE_Q8_0, 1, ne_q32, f, q_bytes), BITNET_OK);
    assert_int_equal(bn_gguf_writer_tensor_count(w), 2);
    /* Checks off: anything storable goes. */
    bn_gguf_writer_set_checks(w, false);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "t", 200, 5, ne5, NULL, 3), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "", BITNET_TYPE_F32, 0, NULL, NULL, 0), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "x", BITNET_TYPE_F32, BN_GGUF_WRITER_MAX_DIMS + 1, ne5, NULL, 0),
                     BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_tensor_count(w), 4);
    void *buf;
    size_t size;
    assert_int_equal(bn_gguf_writer_to_memory(w, &buf, &size, NULL), BITNET_OK);
    free(buf);
    bn_gguf_writer_free(w);
}

/* ------------------------------------------------------------------------ */
/* Layout reports and alignment                                             */
/* ------------------------------------------------------------------------ */

static void check_kv_at(const uint8_t *buf, const bn_gguf_writer *w, uint64_t i, const char *key, uint32_t type)
{
    bn_gguf_kv_layout kl;
    assert_int_equal(bn_gguf_writer_kv_layout(w, i, &kl), BITNET_OK);
    assert_int_equal(rd_le(buf + kl.start, 8), strlen(key));
    assert_memory_equal(buf + kl.key, key, strlen(key));
    assert_int_equal(rd_le(buf + kl.type, 4), type);
    assert_int_equal(kl.value, kl.type + 4);
}

static void test_layout_reports(void **state)
{
    (void)state;
    bn_gguf_writer *w = new_writer(3);
    const uint32_t arr[3] = {1, 2, 3};
    const float f[5] = {1, 2, 3, 4, 5};
    const int64_t ne_a[1] = {5};
    const int64_t ne_b[2] = {1, 3};
    assert_int_equal(bn_gguf_writer_add_string(w, "general.name", "x"), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_array(w, "arr", BITNET_VALUE_UINT32, arr, 3), BITNET_OK);
    assert_int_equal(bn_gguf_writer_set_alignment(w, 64), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "a", BITNET_TYPE_F32, 1, ne_a, f, sizeof f), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "bb", BITNET_TYPE_F32, 2, ne_b, f, 12), BITNET_OK);
    void *mem;
    size_t size;
    bn_gguf_layout lay, lay2;
    assert_int_equal(bn_gguf_writer_to_memory(w, &mem, &size, &lay), BITNET_OK);
    assert_int_equal(bn_gguf_writer_layout(w, &lay2), BITNET_OK);
    assert_memory_equal(&lay, &lay2, sizeof lay);
    const uint8_t *buf = mem;
    assert_int_equal(lay.size, size);
    assert_int_equal(size % 64, 0);
    assert_int_equal(lay.data % 64, 0);
    assert_int_equal(lay.n_kv, 3); /* general.alignment appended */
    assert_int_equal(rd_le(buf + lay.kv_count, 8), 3);
    assert_int_equal(rd_le(buf + lay.tensor_count, 8), 2);
    assert_int_equal(rd_le(buf + lay.version, 4), 3);
    check_kv_at(buf, w, 0, "general.name", BITNET_VALUE_STRING);
    check_kv_at(buf, w, 1, "arr", BITNET_VALUE_ARRAY);
    check_kv_at(buf, w, 2, "general.alignment", BITNET_VALUE_UINT32);
    bn_gguf_kv_layout kl;
    assert_int_equal(bn_gguf_writer_kv_layout(w, 1, &kl), BITNET_OK);
    assert_int_equal(rd_le(buf + kl.value, 4), BITNET_VALUE_UINT32);
    assert_int_equal(rd_le(buf + kl.value + 4, 8), 3);
    assert_int_equal(kl.end, kl.value + 12 + 12);
    assert_int_equal(bn_gguf_writer_kv_layout(w, 2, &kl), BITNET_OK);
    assert_int_equal(rd_le(buf + kl.value, 4), 64);
    assert_int_equal(kl.end, lay.tensor_infos);
    assert_int_equal(bn_gguf_writer_kv_layout(w, 3, &kl), BITNET_ERR_OUT_OF_RANGE);
    uint64_t prev_end = lay.tensor_infos;
    for (uint64_t i = 0; i < 2; i++) {
        bn_gguf_tensor_layout tl;
        assert_int_equal(bn_gguf_writer_tensor_layout(w, i, &tl), BITNET_OK);
        assert_int_equal(rd_le(buf + tl.offset, 8), tl.data - lay.data);
        assert_int_equal((tl.data - lay.data) % 64, 0);
        assert_int_equal(rd_le(buf + tl.n_dims, 4), i + 1);
        assert_int_equal(rd_le(buf + tl.type, 4), BITNET_TYPE_F32);
        assert_memory_equal(buf + tl.data, f, (size_t)tl.n_bytes);
        assert_int_equal(tl.start, prev_end);
        prev_end = tl.end;
    }
    assert_int_equal(prev_end, lay.infos_end);
    bn_gguf_tensor_layout tl;
    assert_int_equal(bn_gguf_writer_tensor_layout(w, 2, &tl), BITNET_ERR_OUT_OF_RANGE);
    free(mem);
    bn_gguf_writer_free(w);
}

/* general.alignment added as a uint32 is adopted, and set_alignment updates
 * that pair instead of adding a second one. */
static void test_alignment_pair_adopted(void **state)
{
    (void)state;
    bn_gguf_writer *w = new_writer(3);
    assert_int_equal(bn_gguf_writer_add_u32(w, "general.alignment", 64), BITNET_OK);
    assert_int_equal(bn_gguf_writer_set_alignment(w, 128), BITNET_OK);
    void *mem;
    size_t size;
    bn_gguf_layout lay;
    assert_int_equal(bn_gguf_writer_to_memory(w, &mem, &size, &lay), BITNET_OK);
    assert_int_equal(lay.n_kv, 1);
    assert_int_equal(lay.alignment, 128);
    assert_int_equal(lay.data % 128, 0);
    bn_gguf_kv_layout kl;
    assert_int_equal(bn_gguf_writer_kv_layout(w, 0, &kl), BITNET_OK);
    assert_int_equal(rd_le((const uint8_t *)mem + kl.value, 4), 128);
    free(mem);
    bn_gguf_writer_free(w);
}

/* add_tensor borrows, add_tensor_copy copies; NULL data writes zeros. */
static void test_tensor_data_ownership(void **state)
{
    (void)state;
    bn_gguf_writer *w = new_writer(3);
    float borrowed[4] = {1, 2, 3, 4};
    float copied[4] = {5, 6, 7, 8};
    const int64_t ne[1] = {4};
    assert_int_equal(bn_gguf_writer_add_tensor(w, "b", BITNET_TYPE_F32, 1, ne, borrowed, 16), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_tensor_copy(w, "c", BITNET_TYPE_F32, 1, ne, copied, 16), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "z", BITNET_TYPE_F32, 1, ne, NULL, 16), BITNET_OK);
    borrowed[0] = 100;
    copied[0] = 200;
    void *mem;
    size_t size;
    assert_int_equal(bn_gguf_writer_to_memory(w, &mem, &size, NULL), BITNET_OK);
    const float want_b[4] = {100, 2, 3, 4}, want_c[4] = {5, 6, 7, 8}, zeros[4] = {0};
    const float *const want[3] = {want_b, want_c, zeros};
    for (uint64_t i = 0; i < 3; i++) {
        bn_gguf_tensor_layout tl;
        assert_int_equal(bn_gguf_writer_tensor_layout(w, i, &tl), BITNET_OK);
        assert_memory_equal((const uint8_t *)mem + tl.data, want[i], 16);
    }
    free(mem);
    bn_gguf_writer_free(w);
}

/* ------------------------------------------------------------------------ */
/* Round trip through the loader                                            */
/* ------------------------------------------------------------------------ */

typedef struct rt_params {
    uint32_t version;
    uint32_t alignment;
} rt_params;

static const uint8_t u8s[3] = {0, 7, 255};
static const int8_t i8s[3] = {-128, 0, 127};
static const uint16_t u16s[2] = {1, 65535};
static const int16_t i16s[2] = {-32768, 32767};
static const uint32_t u32s[2] = {0, 4000000000u};
static const int32_t i32s[3] = {-2000000000, 1, 2000000000};
static const uint64_t u64s[2] = {UINT64_C(1) << 63, 3};
static const int64_t i64s[2] = {INT64_MIN, INT64_MAX};
static const float f32s[3] = {0.5f, -1.25f, 3e38f};
static const double f64s[2] = {1e-300, -2.5};
static const bool bools[3] = {true, false, true};
static const char *const strs[3] = {"alpha", "", "gamma delta"};

/* Nested arrays: [[1,2,3],[4]] of int32; [[["x"],["y","z"]],[]] of strings;
 * [[]] of an empty uint8 array. */
static const int32_t inner_a[3] = {1, 2, 3}, inner_b[1] = {4};
static const bn_gguf_array nested_ints[2] = {
    {BITNET_VALUE_INT32, 3, inner_a},
    {BITNET_VALUE_INT32, 1, inner_b},
};
static const char *const s_x[1] = {"x"}, *const s_yz[2] = {"y", "z"};
static const bn_gguf_array str_leaves[2] = {
    {BITNET_VALUE_STRING, 1, s_x},
    {BITNET_VALUE_STRING, 2, s_yz},
};
static const bn_gguf_array str_mid[2] = {
    {BITNET_VALUE_ARRAY, 2, str_leaves},
    {BITNET_VALUE_ARRAY, 0, NULL},
};
static const bn_gguf_array empty_inner[1] = {{BITNET_VALUE_UINT8, 0, NULL}};

#define F32_COLS 8
#define F32_ROWS 3
#define F16_COLS 16
#define F16_ROWS 2
#define Q8_COLS 64
#define Q8_ROWS 2

/* Tensor contents, exactly representable in every format used. */
typedef struct rt_data {
    float f32[F32_ROWS * F32_COLS];
    float vec[5];
    float f16_values[F16_ROWS * F16_COLS];
    uint16_t f16[F16_ROWS * F16_COLS];
    float q8_values[Q8_ROWS * Q8_COLS];
    uint8_t q8[Q8_ROWS * Q8_COLS / 32 * 34];
} rt_data;

static void fill_data(rt_data *d)
{
    for (int i = 0; i < F32_ROWS * F32_COLS; i++)
        d->f32[i] = (float)i * 0.5f - 3.0f;
    for (int i = 0; i < 5; i++)
        d->vec[i] = (float)(i * i) + 0.125f;
    for (int i = 0; i < F16_ROWS * F16_COLS; i++) {
        d->f16_values[i] = (float)(i - 10) * 0.25f;
        d->f16[i] = bn_fp32_to_fp16(d->f16_values[i]);
    }
    /* Q8_0 blocks: fp16 scale, then 32 int8 codes; value = scale * code. */
    for (int b = 0; b < Q8_ROWS * Q8_COLS / 32; b++) {
        uint8_t *blk = d->q8 + b * 34;
        float scale = 0.5f * (float)(b + 1);
        uint16_t h = bn_fp32_to_fp16(scale);
        blk[0] = (uint8_t)(h & 0xff);
        blk[1] = (uint8_t)(h >> 8);
        for (int j = 0; j < 32; j++) {
            int8_t code = (int8_t)(j * 7 - 100 + b);
            memcpy(blk + 2 + j, &code, 1);
            d->q8_values[b * 32 + j] = scale * (float)code;
        }
    }
}

static void add_scalars(bn_gguf_writer *w)
{
    assert_int_equal(bn_gguf_writer_add_string(w, "general.architecture", "test"), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_u8(w, "t.u8", 200), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_i8(w, "t.i8", -100), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_u16(w, "t.u16", 60000), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_i16(w, "t.i16", -30000), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_u32(w, "t.u32", 4000000000u), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_i32(w, "t.i32", -2000000000), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_u64(w, "t.u64", (UINT64_C(1) << 63) + 5), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_i64(w, "t.i64", INT64_MIN + 1), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_f32(w, "t.f32", 1.5f), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_f64(w, "t.f64", -2.25e100), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_bool(w, "t.true", true), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_bool(w, "t.false", false), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_string(w, "t.string", "hello, gguf"), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_string(w, "t.empty", ""), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_string_n(w, "t.nul", "a\0b", 3), BITNET_OK);
}

static void add_arrays(bn_gguf_writer *w)
{
    assert_int_equal(bn_gguf_writer_add_array(w, "a.u8", BITNET_VALUE_UINT8, u8s, 3), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_array(w, "a.i8", BITNET_VALUE_INT8, i8s, 3), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_array(w, "a.u16", BITNET_VALUE_UINT16, u16s, 2), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_array(w, "a.i16", BITNET_VALUE_INT16, i16s, 2), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_array(w, "a.u32", BITNET_VALUE_UINT32, u32s, 2), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_array(w, "a.i32", BITNET_VALUE_INT32, i32s, 3), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_array(w, "a.u64", BITNET_VALUE_UINT64, u64s, 2), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_array(w, "a.i64", BITNET_VALUE_INT64, i64s, 2), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_array(w, "a.f32", BITNET_VALUE_FLOAT32, f32s, 3), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_array(w, "a.f64", BITNET_VALUE_FLOAT64, f64s, 2), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_array(w, "a.bool", BITNET_VALUE_BOOL, bools, 3), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_string_array(w, "a.str", strs, 3), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_array(w, "a.empty", BITNET_VALUE_UINT32, NULL, 0), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_array(w, "a.nested", BITNET_VALUE_ARRAY, nested_ints, 2), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_array(w, "a.nested_str", BITNET_VALUE_ARRAY, str_mid, 2), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_array(w, "a.nested_empty", BITNET_VALUE_ARRAY, empty_inner, 1), BITNET_OK);
}

static void add_tensors(bn_gguf_writer *w, const rt_data *d)
{
    const int64_t ne_f32[2] = {F32_COLS, F32_ROWS};
    const int64_t ne_vec[1] = {5};
    const int64_t ne_f16[3] = {F16_COLS, 1, F16_ROWS};
    const int64_t ne_q8[2] = {Q8_COLS, Q8_ROWS};
    uint64_t q8_bytes = bn_type_tensor_bytes(BITNET_TYPE_Q8_0, Q8_COLS * Q8_ROWS);
    assert_int_equal(q8_bytes, sizeof d->q8);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "w.f32", BITNET_TYPE_F32, 2, ne_f32, d->f32, sizeof d->f32),
                     BITNET_OK);
    /* 20 bytes: the next tensor needs padding. */
    assert_int_equal(bn_gguf_writer_add_tensor(w, "w.vec", BITNET_TYPE_F32, 1, ne_vec, d->vec, sizeof d->vec),
                     BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "w.f16", BITNET_TYPE_F16, 3, ne_f16, d->f16,
                                               bn_type_tensor_bytes(BITNET_TYPE_F16, F16_COLS * F16_ROWS)),
                     BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "w.q8", BITNET_TYPE_Q8_0, 2, ne_q8, d->q8, q8_bytes), BITNET_OK);
}

static bn_gguf_writer *build_full(const rt_params *p, const rt_data *d)
{
    bn_gguf_writer *w = new_writer(p->version);
    assert_int_equal(bn_gguf_writer_set_alignment(w, p->alignment), BITNET_OK);
    add_scalars(w);
    add_arrays(w);
    add_tensors(w, d);
    return w;
}

static const bitnet_value *get(const bitnet_model *m, const char *key, bitnet_value_type type)
{
    const bitnet_value *v = NULL;
    bitnet_status st = bitnet_model_meta_get(m, key, &v);
    if (st != BITNET_OK)
        fail_msg("key %s: status %d (%s)", key, (int)st, bitnet_last_error());
    assert_non_null(v);
    assert_int_equal(bitnet_value_get_type(v), type);
    return v;
}

static void check_int(const bitnet_model *m, const char *key, bitnet_value_type type, int64_t want)
{
    int64_t got = 0;
    assert_int_equal(bitnet_value_int(get(m, key, type), &got), BITNET_OK);
    assert_true(got == want);
    assert_int_equal(bitnet_model_meta_int(m, key, &got), BITNET_OK);
    assert_true(got == want);
}

static void check_uint(const bitnet_model *m, const char *key, bitnet_value_type type, uint64_t want)
{
    uint64_t got = 0;
    assert_int_equal(bitnet_value_uint(get(m, key, type), &got), BITNET_OK);
    assert_true(got == want);
    assert_int_equal(bitnet_model_meta_uint(m, key, &got), BITNET_OK);
    assert_true(got == want);
}

static void check_float(const bitnet_model *m, const char *key, bitnet_value_type type, double want)
{
    double got = 0;
    assert_int_equal(bitnet_value_float(get(m, key, type), &got), BITNET_OK);
    assert_true(got == want);
    assert_int_equal(bitnet_model_meta_float(m, key, &got), BITNET_OK);
    assert_true(got == want);
}

static void check_string(const bitnet_model *m, const char *key, const char *want, size_t want_len)
{
    const char *s = NULL;
    size_t len = 0;
    assert_int_equal(bitnet_value_string(get(m, key, BITNET_VALUE_STRING), &s, &len), BITNET_OK);
    assert_int_equal(len, want_len);
    assert_memory_equal(s, want, want_len);
    assert_int_equal(s[len], '\0');
    assert_int_equal(bitnet_model_meta_string(m, key, &s, NULL), BITNET_OK);
    assert_memory_equal(s, want, want_len);
}

static void check_scalars(const bitnet_model *m)
{
    check_string(m, "general.architecture", "test", 4);
    check_uint(m, "t.u8", BITNET_VALUE_UINT8, 200);
    check_int(m, "t.i8", BITNET_VALUE_INT8, -100);
    check_uint(m, "t.u16", BITNET_VALUE_UINT16, 60000);
    check_int(m, "t.i16", BITNET_VALUE_INT16, -30000);
    check_uint(m, "t.u32", BITNET_VALUE_UINT32, 4000000000u);
    check_int(m, "t.i32", BITNET_VALUE_INT32, -2000000000);
    check_uint(m, "t.u64", BITNET_VALUE_UINT64, (UINT64_C(1) << 63) + 5);
    check_int(m, "t.i64", BITNET_VALUE_INT64, INT64_MIN + 1);
    check_float(m, "t.f32", BITNET_VALUE_FLOAT32, 1.5);
    check_float(m, "t.f64", BITNET_VALUE_FLOAT64, -2.25e100);
    bool b = false;
    assert_int_equal(bitnet_value_bool(get(m, "t.true", BITNET_VALUE_BOOL), &b), BITNET_OK);
    assert_true(b);
    assert_int_equal(bitnet_model_meta_bool(m, "t.false", &b), BITNET_OK);
    assert_false(b);
    check_string(m, "t.string", "hello, gguf", 11);
    check_string(m, "t.empty", "", 0);
    check_string(m, "t.nul", "a\0b", 3);
    /* Conversions the getters promise. */
    int64_t i = 0;
    uint64_t u = 0;
    const char *s;
    assert_int_equal(bitnet_model_meta_int(m, "t.u8", &i), BITNET_OK);
    assert_int_equal(i, 200);
    assert_int_equal(bitnet_model_meta_uint(m, "t.i8", &u), BITNET_ERR_OUT_OF_RANGE);
    assert_int_equal(bitnet_model_meta_int(m, "t.u64", &i), BITNET_ERR_OUT_OF_RANGE);
    assert_int_equal(bitnet_model_meta_string(m, "t.u8", &s, NULL), BITNET_ERR_TYPE_MISMATCH);
    double f = 0;
    assert_int_equal(bitnet_model_meta_float(m, "t.string", &f), BITNET_ERR_TYPE_MISMATCH);
    assert_int_equal(bitnet_model_meta_int(m, "t.missing", &i), BITNET_ERR_NOT_FOUND);
}

static const bitnet_value *get_array(const bitnet_model *m, const char *key, bitnet_value_type elem, uint64_t n)
{
    const bitnet_value *v = get(m, key, BITNET_VALUE_ARRAY);
    bitnet_value_type et;
    uint64_t len = 0;
    assert_int_equal(bitnet_value_array_info(v, &et, &len), BITNET_OK);
    assert_int_equal(et, elem);
    assert_int_equal(len, n);
    return v;
}

static void check_int_array(const bitnet_model *m, const char *key, bitnet_value_type elem, const int64_t *want,
                            uint64_t n)
{
    const bitnet_value *v = get_array(m, key, elem, n);
    for (uint64_t i = 0; i < n; i++) {
        int64_t got = 0;
        assert_int_equal(bitnet_value_array_int(v, i, &got), BITNET_OK);
        assert_true(got == want[i]);
    }
    int64_t dummy;
    assert_int_equal(bitnet_value_array_int(v, n, &dummy), BITNET_ERR_OUT_OF_RANGE);
}

static void check_uint_array(const bitnet_model *m, const char *key, bitnet_value_type elem, const uint64_t *want,
                             uint64_t n)
{
    const bitnet_value *v = get_array(m, key, elem, n);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t got = 0;
        assert_int_equal(bitnet_value_array_uint(v, i, &got), BITNET_OK);
        assert_true(got == want[i]);
    }
}

static void check_numeric_arrays(const bitnet_model *m)
{
    const uint64_t w_u8[3] = {0, 7, 255}, w_u16[2] = {1, 65535}, w_u32[2] = {0, 4000000000u};
    const uint64_t w_u64[2] = {UINT64_C(1) << 63, 3};
    const int64_t w_i8[3] = {-128, 0, 127}, w_i16[2] = {-32768, 32767};
    const int64_t w_i32[3] = {-2000000000, 1, 2000000000}, w_i64[2] = {INT64_MIN, INT64_MAX};
    check_uint_array(m, "a.u8", BITNET_VALUE_UINT8, w_u8, 3);
    check_int_array(m, "a.i8", BITNET_VALUE_INT8, w_i8, 3);
    check_uint_array(m, "a.u16", BITNET_VALUE_UINT16, w_u16, 2);
    check_int_array(m, "a.i16", BITNET_VALUE_INT16, w_i16, 2);
    check_uint_array(m, "a.u32", BITNET_VALUE_UINT32, w_u32, 2);
    check_int_array(m, "a.i32", BITNET_VALUE_INT32, w_i32, 3);
    check_uint_array(m, "a.u64", BITNET_VALUE_UINT64, w_u64, 2);
    check_int_array(m, "a.i64", BITNET_VALUE_INT64, w_i64, 2);
    const bitnet_value *v = get_array(m, "a.f32", BITNET_VALUE_FLOAT32, 3);
    for (uint64_t i = 0; i < 3; i++) {
        double d = 0;
        assert_int_equal(bitnet_value_array_float(v, i, &d), BITNET_OK);
        assert_true(d == (double)f32s[i]);
    }
    v = get_array(m, "a.f64", BITNET_VALUE_FLOAT64, 2);
    for (uint64_t i = 0; i < 2; i++) {
        double d = 0;
        assert_int_equal(bitnet_value_array_float(v, i, &d), BITNET_OK);
        assert_true(d == f64s[i]);
    }
    v = get_array(m, "a.bool", BITNET_VALUE_BOOL, 3);
    for (uint64_t i = 0; i < 3; i++) {
        bool b = !bools[i];
        assert_int_equal(bitnet_value_array_bool(v, i, &b), BITNET_OK);
        assert_int_equal(b, bools[i]);
    }
    get_array(m, "a.empty", BITNET_VALUE_UINT32, 0);
}

static void check_str_elem(const bitnet_value *arr, uint64_t i, const char *want)
{
    const char *s = NULL;
    size_t len = 99;
    assert_int_equal(bitnet_value_array_string(arr, i, &s, &len), BITNET_OK);
    assert_int_equal(len, strlen(want));
    assert_string_equal(s, want);
}

static const bitnet_value *sub_array(const bitnet_value *arr, uint64_t i, bitnet_value_type elem, uint64_t n)
{
    const bitnet_value *sub = NULL;
    assert_int_equal(bitnet_value_array_array(arr, i, &sub), BITNET_OK);
    assert_non_null(sub);
    assert_int_equal(bitnet_value_get_type(sub), BITNET_VALUE_ARRAY);
    bitnet_value_type et;
    uint64_t len = 0;
    assert_int_equal(bitnet_value_array_info(sub, &et, &len), BITNET_OK);
    assert_int_equal(et, elem);
    assert_int_equal(len, n);
    return sub;
}

static void check_nested_arrays(const bitnet_model *m)
{
    const bitnet_value *v = get_array(m, "a.str", BITNET_VALUE_STRING, 3);
    for (uint64_t i = 0; i < 3; i++)
        check_str_elem(v, i, strs[i]);
    const bitnet_value *sub;
    v = get_array(m, "a.nested", BITNET_VALUE_ARRAY, 2);
    sub = sub_array(v, 0, BITNET_VALUE_INT32, 3);
    for (uint64_t i = 0; i < 3; i++) {
        int64_t x = 0;
        assert_int_equal(bitnet_value_array_int(sub, i, &x), BITNET_OK);
        assert_int_equal(x, inner_a[i]);
    }
    sub = sub_array(v, 1, BITNET_VALUE_INT32, 1);
    int64_t x = 0;
    assert_int_equal(bitnet_value_array_int(sub, 0, &x), BITNET_OK);
    assert_int_equal(x, 4);
    assert_int_equal(bitnet_value_array_array(v, 2, &sub), BITNET_ERR_OUT_OF_RANGE);
    assert_int_equal(bitnet_value_array_int(v, 0, &x), BITNET_ERR_TYPE_MISMATCH);
    v = get_array(m, "a.nested_str", BITNET_VALUE_ARRAY, 2);
    const bitnet_value *mid = sub_array(v, 0, BITNET_VALUE_ARRAY, 2);
    check_str_elem(sub_array(mid, 0, BITNET_VALUE_STRING, 1), 0, "x");
    sub = sub_array(mid, 1, BITNET_VALUE_STRING, 2);
    check_str_elem(sub, 0, "y");
    check_str_elem(sub, 1, "z");
    sub_array(v, 1, BITNET_VALUE_ARRAY, 0);
    v = get_array(m, "a.nested_empty", BITNET_VALUE_ARRAY, 1);
    sub_array(v, 0, BITNET_VALUE_UINT8, 0);
}

/* Every key is visited exactly once by index. */
static void check_iteration(const bitnet_model *m, uint32_t alignment)
{
    static const char *const keys[] = {
        "general.architecture",
        "t.u8",
        "t.i8",
        "t.u16",
        "t.i16",
        "t.u32",
        "t.i32",
        "t.u64",
        "t.i64",
        "t.f32",
        "t.f64",
        "t.true",
        "t.false",
        "t.string",
        "t.empty",
        "t.nul",
        "a.u8",
        "a.i8",
        "a.u16",
        "a.i16",
        "a.u32",
        "a.i32",
        "a.u64",
        "a.i64",
        "a.f32",
        "a.f64",
        "a.bool",
        "a.str",
        "a.empty",
        "a.nested",
        "a.nested_str",
        "a.nested_empty",
        "general.alignment",
    };
    size_t n_keys = sizeof keys / sizeof keys[0] - (alignment == 32 ? 1 : 0);
    assert_int_equal(bitnet_model_meta_count(m), (int64_t)n_keys);
    int seen[sizeof keys / sizeof keys[0]] = {0};
    for (int64_t i = 0; i < (int64_t)n_keys; i++) {
        const char *key = NULL;
        const bitnet_value *v = NULL;
        assert_int_equal(bitnet_model_meta_at(m, i, &key, &v), BITNET_OK);
        assert_non_null(key);
        assert_non_null(v);
        size_t k = 0;
        while (k < n_keys && strcmp(keys[k], key) != 0)
            k++;
        if (k == n_keys)
            fail_msg("unexpected key '%s'", key);
        seen[k]++;
    }
    for (size_t k = 0; k < n_keys; k++)
        assert_int_equal(seen[k], 1);
    assert_int_equal(bitnet_model_meta_at(m, (int64_t)n_keys, NULL, NULL), BITNET_ERR_OUT_OF_RANGE);
    assert_int_equal(bitnet_model_meta_at(m, -1, NULL, NULL), BITNET_ERR_OUT_OF_RANGE);
    if (alignment != 32)
        check_uint(m, "general.alignment", BITNET_VALUE_UINT32, alignment);
}

typedef struct tensor_want {
    const char *name;
    uint32_t type;
    uint32_t n_dims;
    int64_t ne[4];
} tensor_want;

static void check_tensor_table(const bitnet_model *m, const bn_gguf_writer *w)
{
    static const tensor_want want[4] = {
        {"w.f32", BITNET_TYPE_F32, 2, {F32_COLS, F32_ROWS, 1, 1}},
        {"w.vec", BITNET_TYPE_F32, 1, {5, 1, 1, 1}},
        {"w.f16", BITNET_TYPE_F16, 3, {F16_COLS, 1, F16_ROWS, 1}},
        {"w.q8", BITNET_TYPE_Q8_0, 2, {Q8_COLS, Q8_ROWS, 1, 1}},
    };
    static const char *const type_names[4] = {"f32", "f32", "f16", "q8_0"};
    assert_int_equal(bitnet_model_tensor_count(m), 4);
    for (int64_t i = 0; i < 4; i++) {
        bitnet_tensor_info info;
        memset(&info, 0xa5, sizeof info);
        info.struct_size = sizeof info;
        assert_int_equal(bitnet_model_tensor_info(m, i, &info), BITNET_OK);
        const tensor_want *t = &want[i];
        assert_string_equal(info.name, t->name);
        assert_int_equal(info.type, t->type);
        assert_string_equal(info.type_name, type_names[i]);
        assert_int_equal(info.n_dims, t->n_dims);
        int64_t n = 1;
        for (int d = 0; d < 4; d++) {
            assert_int_equal(info.ne[d], t->ne[d]);
            n *= t->ne[d];
        }
        assert_int_equal(info.n_elements, n);
        assert_int_equal(info.n_rows, n / t->ne[0]);
        assert_int_equal(info.n_bytes, bn_type_tensor_bytes(t->type, n));
        bn_gguf_tensor_layout tl;
        assert_int_equal(bn_gguf_writer_tensor_layout(w, (uint64_t)i, &tl), BITNET_OK);
        assert_int_equal(info.offset, tl.data);
        int64_t idx = -1;
        assert_int_equal(bitnet_model_tensor_find(m, t->name, &idx), BITNET_OK);
        assert_int_equal(idx, i);
    }
    bitnet_tensor_info info;
    info.struct_size = sizeof info;
    assert_int_equal(bitnet_model_tensor_info(m, 4, &info), BITNET_ERR_OUT_OF_RANGE);
}

/* Rows [r0, r1) of `name` as F32 equal `want` (row-major, `cols` per row). */
static void check_read_f32(bitnet_model *m, const char *name, int64_t r0, int64_t r1, int64_t cols, const float *want)
{
    size_t n = (size_t)((r1 - r0) * cols);
    float *got = calloc(n, sizeof *got);
    assert_non_null(got);
    size_t written = 0;
    bitnet_status st = bitnet_model_tensor_read(m, name, r0, r1, BITNET_TYPE_F32, got, n * sizeof *got, &written);
    if (st != BITNET_OK)
        fail_msg("read %s: status %d (%s)", name, (int)st, bitnet_last_error());
    assert_int_equal(written, n * sizeof *got);
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[(size_t)(r0 * cols) + i])
            fail_msg("%s[%zu]: got %g, want %g", name, i, (double)got[i], (double)want[(size_t)(r0 * cols) + i]);
    free(got);
}

static void check_reads(bitnet_model *m, const rt_data *d)
{
    check_read_f32(m, "w.f32", 0, F32_ROWS, F32_COLS, d->f32);
    check_read_f32(m, "w.f32", 1, 3, F32_COLS, d->f32);
    check_read_f32(m, "w.vec", 0, 1, 5, d->vec);
    check_read_f32(m, "w.f16", 0, F16_ROWS, F16_COLS, d->f16_values);
    check_read_f32(m, "w.q8", 0, Q8_ROWS, Q8_COLS, d->q8_values);
    check_read_f32(m, "w.q8", 1, 2, Q8_COLS, d->q8_values);
    /* F16 output of the F32 tensor: values are exact in half precision. */
    uint16_t h[F32_COLS];
    size_t written = 0;
    assert_int_equal(bitnet_model_tensor_read(m, "w.f32", 2, 3, BITNET_TYPE_F16, h, sizeof h, &written), BITNET_OK);
    assert_int_equal(written, sizeof h);
    for (int i = 0; i < F32_COLS; i++)
        assert_true(bn_fp16_to_fp32(h[i]) == d->f32[2 * F32_COLS + i]);
}

static void check_model(bitnet_model *m, const rt_params *p, const rt_data *d, const bn_gguf_writer *w)
{
    assert_int_equal(bitnet_model_gguf_version(m), p->version);
    check_iteration(m, p->alignment);
    check_scalars(m);
    check_numeric_arrays(m);
    check_nested_arrays(m);
    check_tensor_table(m, w);
    check_reads(m, d);
}

static void test_roundtrip_memory(void **state)
{
    const rt_params *p = *state;
    rt_data *d = malloc(sizeof *d);
    assert_non_null(d);
    fill_data(d);
    bn_gguf_writer *w = build_full(p, d);
    void *buf;
    size_t size;
    bn_gguf_layout lay;
    assert_int_equal(bn_gguf_writer_to_memory(w, &buf, &size, &lay), BITNET_OK);
    assert_int_equal(lay.data % p->alignment, 0);
    assert_int_equal(size % p->alignment, 0);
    bitnet_model *m = NULL;
    bitnet_status st = bitnet_model_load_memory(buf, size, NULL, &m);
    if (st != BITNET_OK)
        fail_msg("load_memory: status %d (%s)", (int)st, bitnet_last_error());
    check_model(m, p, d, w);
    bitnet_model_release(m);
    free(buf);
    bn_gguf_writer_free(w);
    free(d);
}

/* to_file writes the same bytes as to_memory; load_file (mmap and read)
 * gives the same model. */
static void test_roundtrip_file(void **state)
{
    const rt_params *p = *state;
    rt_data *d = malloc(sizeof *d);
    assert_non_null(d);
    fill_data(d);
    bn_gguf_writer *w = build_full(p, d);
    char path[4096];
    make_temp_path(path, sizeof path);
    assert_int_equal(bn_gguf_writer_to_file(w, path), BITNET_OK);
    void *mem;
    size_t mem_size, file_size;
    assert_int_equal(bn_gguf_writer_to_memory(w, &mem, &mem_size, NULL), BITNET_OK);
    uint8_t *file = slurp(path, &file_size);
    assert_int_equal(file_size, mem_size);
    assert_memory_equal(file, mem, mem_size);
    free(file);
    free(mem);
    for (int use_mmap = 0; use_mmap < 2; use_mmap++) {
        bitnet_model_params params = bitnet_model_params_default();
        params.use_mmap = use_mmap != 0;
        bitnet_model *m = NULL;
        bitnet_status st = bitnet_model_load_file(path, &params, &m);
        if (st != BITNET_OK)
            fail_msg("load_file: status %d (%s)", (int)st, bitnet_last_error());
        check_model(m, p, d, w);
        bitnet_model_release(m);
    }
    assert_int_equal(unlink(path), 0);
    bn_gguf_writer_free(w);
    free(d);
}

static void test_to_file_errors(void **state)
{
    (void)state;
    bn_gguf_writer *w = new_writer(3);
    assert_int_equal(bn_gguf_writer_to_file(w, "/nonexistent-dir/x/y.gguf"), BITNET_ERR_IO);
    assert_int_equal(bn_gguf_writer_to_file(w, NULL), BITNET_ERR_INVALID_ARGUMENT);
    assert_int_equal(bn_gguf_writer_to_stream(w, NULL), BITNET_ERR_INVALID_ARGUMENT);
    void *buf = (void *)&buf;
    size_t size = 1;
    assert_int_equal(bn_gguf_writer_to_memory(NULL, &buf, &size, NULL), BITNET_ERR_INVALID_ARGUMENT);
    assert_null(buf);
    assert_int_equal(size, 0);
    /* An empty writer makes a valid, empty file. */
    assert_int_equal(bn_gguf_writer_to_memory(w, &buf, &size, NULL), BITNET_OK);
    assert_int_equal(size, 32);
    bitnet_model *m = NULL;
    assert_int_equal(bitnet_model_load_memory(buf, size, NULL, &m), BITNET_OK);
    assert_int_equal(bitnet_model_meta_count(m), 0);
    assert_int_equal(bitnet_model_tensor_count(m), 0);
    bitnet_model_release(m);
    free(buf);
    bn_gguf_writer_free(w);
}

static const rt_params v2_a32 = {2, 32}, v2_a64 = {2, 64}, v3_a32 = {3, 32}, v3_a64 = {3, 64};

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_new_and_alignment_args),
        cmocka_unit_test(test_key_checks),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_tensor_checks),
        cmocka_unit_test(test_layout_reports),
        cmocka_unit_test(test_alignment_pair_adopted),
        cmocka_unit_test(test_tensor_data_ownership),
        cmocka_unit_test(test_to_file_errors),
        {"roundtrip_memory_v2_align32", test_roundtrip_memory, NULL, NULL, (void *)&v2_a32},
        {"roundtrip_memory_v2_align64", test_roundtrip_memory, NULL, NULL, (void *)&v2_a64},
        {"roundtrip_memory_v3_align32", test_roundtrip_memory, NULL, NULL, (void *)&v3_a32},
        {"roundtrip_memory_v3_align64", test_roundtrip_memory, NULL, NULL, (void *)&v3_a64},
        {"roundtrip_file_v2_align32", test_roundtrip_file, NULL, NULL, (void *)&v2_a32},
        {"roundtrip_file_v2_align64", test_roundtrip_file, NULL, NULL, (void *)&v2_a64},
        {"roundtrip_file_v3_align32", test_roundtrip_file, NULL, NULL, (void *)&v3_a32},
        {"roundtrip_file_v3_align64", test_roundtrip_file, NULL, NULL, (void *)&v3_a64},
    };
    return cmocka_run_group_tests_name("gguf_writer", tests, NULL, NULL);
}
