/* Malformed GGUF files: each case starts from a small valid file made with
 * the writer, breaks one thing, and asserts the exact status of
 * bitnet_model_load_memory, that *out is NULL, and that the error message
 * names the problem. Every buffer handed to the loader is a malloc'd block of
 * exactly the file's size, so ASan/valgrind flag any read past the end.
 * Then: every prefix of the file, tensors of unknown type, and bad arguments
 * to bitnet_model_tensor_read. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <ctype.h>
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

typedef struct blob {
    uint8_t *p;
    size_t n;
} blob;

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void patch_u32(blob *b, uint64_t at, uint32_t v)
{
    assert_true(at + 4 <= b->n);
    put_le(b->p + at, v, 4);
}

static void patch_u64(blob *b, uint64_t at, uint64_t v)
{
    assert_true(at + 8 <= b->n);
    put_le(b->p + at, v, 8);
}

/* The first `n` bytes of `src` in a block of exactly n bytes (at least 1
 * allocated, so that n == 0 still passes a non-NULL pointer). */
static blob prefix_copy(const blob *src, size_t n)
{
    blob b = {malloc(n ? n : 1), n};
    assert_non_null(b.p);
    if (n)
        memcpy(b.p, src->p, n);
    return b;
}

/* Case-insensitive: does `msg` contain one of the '|'-separated `alts`? */
static bool mentions(const char *msg, const char *alts)
{
    char low[1024];
    size_t n = 0;
    for (; msg[n] && n + 1 < sizeof low; n++)
        low[n] = (char)tolower((unsigned char)msg[n]);
    low[n] = '\0';
    while (*alts) {
        char alt[128];
        size_t k = 0;
        while (alts[k] && alts[k] != '|' && k + 1 < sizeof alt) {
            alt[k] = (char)tolower((unsigned char)alts[k]);
            k++;
        }
        alt[k] = '\0';
        if (k && strstr(low, alt))
            return true;
        alts += k;
        if (*alts == '|')
            alts++;
    }
    return false;
}

/* Leaves a recognisable message behind, so a call that fails without setting
 * its own message is caught. */
#define STALE_MARK "tensor_find"
static void prime_error(void)
{
    int64_t idx;
    assert_int_equal(bitnet_model_tensor_find(NULL, "x", &idx), BITNET_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(bitnet_last_error(), STALE_MARK));
}

/* The current message is fresh, non-empty and mentions one of `alts`. */
static void check_error(const char *what, const char *alts)
{
    const char *msg = bitnet_last_error();
    assert_non_null(msg);
    if (msg[0] == '\0' || strstr(msg, STALE_MARK))
        fail_msg("%s: no error message set (\"%s\")", what, msg);
    if (alts && !mentions(msg, alts))
        fail_msg("%s: message \"%s\" mentions none of \"%s\"", what, msg, alts);
}

static void expect_status(const char *what, bitnet_status got, bitnet_status want)
{
    if (got != want)
        fail_msg("%s: expected %s (%d), got %s (%d): \"%s\"", what, bitnet_status_str(want), (int)want,
                 bitnet_status_str(got), (int)got, bitnet_last_error());
}

/* Loads `b`; on failure checks status, *out reset to NULL and the message. */
static bitnet_model *load_expect(const char *what, const blob *b, bitnet_status want, const char *alts)
{
    static int sentinel;
    bitnet_model *m = (bitnet_model *)(void *)&sentinel;
    prime_error();
    bitnet_status st = bitnet_model_load_memory(b->p, b->n, NULL, &m);
    if (getenv("BN_TEST_VERBOSE"))
        print_message("%s: %s: %s\n", what, bitnet_status_str(st), bitnet_last_error());
    if (st != want && st == BITNET_OK)
        bitnet_model_release(m);
    expect_status(what, st, want);
    if (want == BITNET_OK) {
        assert_non_null(m);
        return m;
    }
    if (m != NULL)
        fail_msg("%s: *out is not NULL after a failed load", what);
    check_error(what, alts);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* The valid base file                                                      */
/* ------------------------------------------------------------------------ */

/* Pairs: 0 general.architecture (string), 1 test.count (u32), 2 test.flag
 * (bool), 3 test.ints (i32 array), 4 test.strings (string array).
 * Tensors: 0 tok.f32 F32 [8,4] (128 bytes), 1 blk.q8 Q8_0 [32,2] (68 bytes),
 * 2 out.f16 F16 [16] (32 bytes, last). */
enum { KV_ARCH, KV_COUNT, KV_FLAG, KV_INTS, KV_STRS, N_BASE_KV };
enum { T_F32, T_Q8, T_F16, N_BASE_T };

#define F32_COLS 8
#define F32_ROWS 4

static float base_f32[F32_COLS * F32_ROWS];
static uint8_t base_q8[68];
static uint16_t base_f16[16];

static void init_base_data(void)
{
    for (int i = 0; i < F32_COLS * F32_ROWS; i++)
        base_f32[i] = (float)i - 7.5f;
    for (int i = 0; i < 16; i++)
        base_f16[i] = bn_fp32_to_fp16((float)i * 0.5f);
    for (size_t i = 0; i < sizeof base_q8; i++)
        base_q8[i] = (uint8_t)(i * 13);
    /* Finite fp16 scales (1.0) at the start of both 34-byte blocks. */
    base_q8[0] = 0x00, base_q8[1] = 0x3c, base_q8[34] = 0x00, base_q8[35] = 0x3c;
}

static bn_gguf_writer *base_writer(void)
{
    static const int32_t ints[3] = {1, 2, 3};
    static const char *const strs[2] = {"a", "bc"};
    static const int64_t ne_f32[2] = {F32_COLS, F32_ROWS}, ne_q8[2] = {32, 2}, ne_f16[1] = {16};
    bn_gguf_writer *w = NULL;
    assert_int_equal(bn_gguf_writer_new(3, &w), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_string(w, "general.architecture", "test"), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_u32(w, "test.count", 7), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_bool(w, "test.flag", true), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_array(w, "test.ints", BITNET_VALUE_INT32, ints, 3), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_string_array(w, "test.strings", strs, 2), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "tok.f32", BITNET_TYPE_F32, 2, ne_f32, base_f32, sizeof base_f32),
                     BITNET_OK);
    assert_int_equal(bn_type_tensor_bytes(BITNET_TYPE_Q8_0, 64), sizeof base_q8);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "blk.q8", BITNET_TYPE_Q8_0, 2, ne_q8, base_q8, sizeof base_q8),
                     BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "out.f16", BITNET_TYPE_F16, 1, ne_f16, base_f16, sizeof base_f16),
                     BITNET_OK);
    return w;
}

/* Serializes `w` into an exact-size buffer; the writer stays the caller's. */
static blob finish(bn_gguf_writer *w)
{
    blob b = {NULL, 0};
    void *p = NULL;
    assert_int_equal(bn_gguf_writer_to_memory(w, &p, &b.n, NULL), BITNET_OK);
    b.p = p;
    return b;
}

static bn_gguf_kv_layout kv_at(const bn_gguf_writer *w, uint64_t i)
{
    bn_gguf_kv_layout l;
    assert_int_equal(bn_gguf_writer_kv_layout(w, i, &l), BITNET_OK);
    return l;
}

static bn_gguf_tensor_layout tensor_at(const bn_gguf_writer *w, uint64_t i)
{
    bn_gguf_tensor_layout l;
    assert_int_equal(bn_gguf_writer_tensor_layout(w, i, &l), BITNET_OK);
    return l;
}

static bn_gguf_layout layout_of(const bn_gguf_writer *w)
{
    bn_gguf_layout l;
    assert_int_equal(bn_gguf_writer_layout(w, &l), BITNET_OK);
    return l;
}

/* The base file plus one verbatim pair at the end. */
static blob base_plus_raw(const char *key, size_t key_len, uint32_t type, const void *value, size_t len)
{
    bn_gguf_writer *w = base_writer();
    assert_int_equal(bn_gguf_writer_add_raw(w, key, key_len, type, value, len), BITNET_OK);
    blob b = finish(w);
    bn_gguf_writer_free(w);
    return b;
}

/* The base file plus one tensor added with checks off. */
static blob base_plus_tensor(const char *name, uint32_t type, uint32_t n_dims, const int64_t *ne, uint64_t nbytes)
{
    bn_gguf_writer *w = base_writer();
    bn_gguf_writer_set_checks(w, false);
    assert_int_equal(bn_gguf_writer_add_tensor(w, name, type, n_dims, ne, NULL, nbytes), BITNET_OK);
    blob b = finish(w);
    bn_gguf_writer_free(w);
    return b;
}

/* Field patches on the base file. */
typedef enum field {
    F_VERSION,
    F_TENSOR_COUNT,
    F_KV_COUNT,
    F_KEY_LEN,     /* kv index: key length                         */
    F_VALUE_U64,   /* kv index: the uint64 at value (string length) */
    F_ARRAY_COUNT, /* kv index: array count at value + 4           */
    F_ARRAY_ELEM0, /* kv index: u64 at value + 12 (first element)  */
    F_NAME_LEN,    /* tensor index: name length                    */
    F_N_DIMS,      /* tensor index                                 */
    F_OFFSET       /* tensor index                                 */
} field;

static blob base_patched(field f, uint64_t index, uint64_t value)
{
    bn_gguf_writer *w = base_writer();
    blob b = finish(w);
    bn_gguf_layout lay = layout_of(w);
    switch (f) {
    case F_VERSION: patch_u32(&b, lay.version, (uint32_t)value); break;
    case F_TENSOR_COUNT: patch_u64(&b, lay.tensor_count, value); break;
    case F_KV_COUNT: patch_u64(&b, lay.kv_count, value); break;
    case F_KEY_LEN: patch_u64(&b, kv_at(w, index).start, value); break;
    case F_VALUE_U64: patch_u64(&b, kv_at(w, index).value, value); break;
    case F_ARRAY_COUNT: patch_u64(&b, kv_at(w, index).value + 4, value); break;
    case F_ARRAY_ELEM0: patch_u64(&b, kv_at(w, index).value + 12, value); break;
    case F_NAME_LEN: patch_u64(&b, tensor_at(w, index).start, value); break;
    case F_N_DIMS: patch_u32(&b, tensor_at(w, index).n_dims, (uint32_t)value); break;
    case F_OFFSET: patch_u64(&b, tensor_at(w, index).offset, value); break;
    }
    bn_gguf_writer_free(w);
    return b;
}

/* Named points of the base file, for truncation and offset cases. */
typedef struct base_points {
    bn_gguf_layout lay;
    bn_gguf_kv_layout kv0;
    bn_gguf_tensor_layout t[N_BASE_T];
} base_points;

static base_points points(void)
{
    bn_gguf_writer *w = base_writer();
    base_points p;
    p.lay = layout_of(w);
    p.kv0 = kv_at(w, 0);
    for (int i = 0; i < N_BASE_T; i++)
        p.t[i] = tensor_at(w, (uint64_t)i);
    bn_gguf_writer_free(w);
    return p;
}

static blob base_truncated(uint64_t n)
{
    bn_gguf_writer *w = base_writer();
    blob full = finish(w);
    bn_gguf_writer_free(w);
    assert_true(n <= full.n);
    blob b = prefix_copy(&full, (size_t)n);
    free(full.p);
    return b;
}

/* ------------------------------------------------------------------------ */
/* Case builders                                                            */
/* ------------------------------------------------------------------------ */

static blob b_valid(void)
{
    return base_truncated(points().lay.size);
}

/* A vocabulary-only file ends right after its pairs: no data section. */
static blob b_no_tensors_unpadded(void)
{
    bn_gguf_writer *w = NULL;
    assert_int_equal(bn_gguf_writer_new(3, &w), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_string(w, "general.architecture", "test"), BITNET_OK);
    blob full = finish(w);
    blob b = prefix_copy(&full, (size_t)layout_of(w).infos_end);
    free(full.p);
    bn_gguf_writer_free(w);
    return b;
}

static blob b_magic_wrong(void)
{
    blob b = b_valid();
    b.p[3] = 'X';
    return b;
}

static blob b_magic_lowercase(void)
{
    blob b = b_valid();
    memcpy(b.p, "gguf", 4);
    return b;
}

static blob b_version_0(void)
{
    return base_patched(F_VERSION, 0, 0);
}
static blob b_version_1(void)
{
    return base_patched(F_VERSION, 0, 1);
}
static blob b_version_4(void)
{
    return base_patched(F_VERSION, 0, 4);
}
static blob b_version_huge(void)
{
    return base_patched(F_VERSION, 0, 0xffffffffu);
}
/* A big-endian v3 file reads as 0x03000000 on a little-endian host. */
static blob b_version_big_endian(void)
{
    return base_patched(F_VERSION, 0, 0x03000000u);
}

static blob b_empty(void)
{
    return base_truncated(0);
}
static blob b_magic_only(void)
{
    return base_truncated(4);
}
static blob b_header_short(void)
{
    return base_truncated(23);
}
static blob b_trunc_at_first_kv(void)
{
    return base_truncated(points().lay.kv);
}
static blob b_trunc_mid_key(void)
{
    return base_truncated(points().kv0.key + 3);
}
static blob b_trunc_at_tensor_infos(void)
{
    return base_truncated(points().lay.tensor_infos);
}
static blob b_trunc_mid_tensor_info(void)
{
    return base_truncated(points().t[T_Q8].ne + 4);
}
static blob b_trunc_at_padding(void)
{
    return base_truncated(points().lay.infos_end);
}
static blob b_trunc_at_data(void)
{
    return base_truncated(points().lay.data);
}
static blob b_trunc_mid_last_tensor(void)
{
    return base_truncated(points().lay.data_end - 1);
}

static blob b_tensor_count_huge(void)
{
    return base_patched(F_TENSOR_COUNT, 0, UINT64_C(1) << 62);
}
static blob b_kv_count_huge(void)
{
    return base_patched(F_KV_COUNT, 0, UINT64_C(1) << 62);
}
static blob b_kv_count_max(void)
{
    return base_patched(F_KV_COUNT, 0, UINT64_MAX);
}
/* One pair too few: the last pair (a string array, type 9) is then read as a
 * tensor info whose n_dims is 9. */
static blob b_kv_count_too_small(void)
{
    return base_patched(F_KV_COUNT, 0, N_BASE_KV - 1);
}

static blob b_key_len_huge(void)
{
    return base_patched(F_KEY_LEN, KV_ARCH, UINT64_C(1) << 63);
}
static blob b_key_len_past_end(void)
{
    base_points p = points();
    return base_patched(F_KEY_LEN, KV_ARCH, p.lay.size - p.kv0.key + 1);
}
static blob b_key_empty(void)
{
    return base_plus_raw("", 0, BITNET_VALUE_UINT8, "\x01", 1);
}
/* A key with an embedded NUL could never be looked up by its full name. */
static blob b_key_embedded_nul(void)
{
    return base_plus_raw("bad\0key", 7, BITNET_VALUE_UINT8, "\x01", 1);
}

static blob b_string_len_huge(void)
{
    return base_patched(F_VALUE_U64, KV_ARCH, UINT64_MAX);
}
static blob b_string_len_past_end(void)
{
    return base_patched(F_VALUE_U64, KV_ARCH, points().lay.size);
}
static blob b_string_array_elem_len_huge(void)
{
    return base_patched(F_ARRAY_ELEM0, KV_STRS, UINT64_C(1) << 60);
}
static blob b_array_count_huge(void)
{
    return base_patched(F_ARRAY_COUNT, KV_INTS, UINT64_C(1) << 62);
}
/* One int32 more than the rest of the file could hold. */
static blob b_array_count_past_end(void)
{
    bn_gguf_writer *w = base_writer();
    uint64_t elems = kv_at(w, KV_INTS).value + 12;
    uint64_t size = layout_of(w).size;
    bn_gguf_writer_free(w);
    return base_patched(F_ARRAY_COUNT, KV_INTS, (size - elems) / 4 + 1);
}
static blob b_string_array_count_huge(void)
{
    return base_patched(F_ARRAY_COUNT, KV_STRS, UINT64_C(1) << 61);
}

/* `levels` arrays each holding one array, around an empty uint8 array. */
static blob nested(uint32_t levels)
{
    size_t n = (size_t)levels * 12 + 12;
    uint8_t *v = malloc(n);
    assert_non_null(v);
    for (uint32_t i = 0; i < levels; i++) {
        put_le(v + (size_t)i * 12, BITNET_VALUE_ARRAY, 4);
        put_le(v + (size_t)i * 12 + 4, 1, 8);
    }
    put_le(v + (size_t)levels * 12, BITNET_VALUE_UINT8, 4);
    put_le(v + (size_t)levels * 12 + 4, 0, 8);
    blob b = base_plus_raw("test.deep", 9, BITNET_VALUE_ARRAY, v, n);
    free(v);
    return b;
}
static blob b_nested_depth_64(void)
{
    return nested(64);
}
static blob b_nested_depth_huge(void)
{
    return nested(100000);
}
static blob b_nested_count_huge(void)
{
    uint8_t v[12];
    put_le(v, BITNET_VALUE_ARRAY, 4);
    put_le(v + 4, UINT64_C(1) << 60, 8);
    return base_plus_raw("test.nest", 9, BITNET_VALUE_ARRAY, v, sizeof v);
}

static blob b_unknown_value_type(void)
{
    return base_plus_raw("test.odd", 8, 13, "\0\0\0\0", 4);
}
static blob b_unknown_value_type_huge(void)
{
    return base_plus_raw("test.odd", 8, 0xffffffffu, "\0\0\0\0", 4);
}
static blob b_unknown_array_elem_type(void)
{
    uint8_t v[13];
    put_le(v, 200, 4);
    put_le(v + 4, 1, 8);
    v[12] = 0;
    return base_plus_raw("test.odd", 8, BITNET_VALUE_ARRAY, v, sizeof v);
}
static blob b_bool_2(void)
{
    return base_plus_raw("test.bool", 9, BITNET_VALUE_BOOL, "\x02", 1);
}
static blob b_bool_array_elem_2(void)
{
    uint8_t v[15];
    put_le(v, BITNET_VALUE_BOOL, 4);
    put_le(v + 4, 3, 8);
    v[12] = 0, v[13] = 1, v[14] = 2;
    return base_plus_raw("test.bools", 10, BITNET_VALUE_ARRAY, v, sizeof v);
}

static blob b_duplicate_key(void)
{
    bn_gguf_writer *w = base_writer();
    bn_gguf_writer_set_checks(w, false);
    assert_int_equal(bn_gguf_writer_add_u32(w, "test.count", 8), BITNET_OK);
    blob b = finish(w);
    bn_gguf_writer_free(w);
    return b;
}

static blob b_duplicate_tensor(void)
{
    static const int64_t ne[1] = {16};
    return base_plus_tensor("blk.q8", BITNET_TYPE_F32, 1, ne, 64);
}

static blob b_tensor_name_empty(void)
{
    static const int64_t ne[1] = {16};
    return base_plus_tensor("", BITNET_TYPE_F32, 1, ne, 64);
}
/* "blk.q8" becomes "blk\0q8". */
static blob b_tensor_name_embedded_nul(void)
{
    bn_gguf_writer *w = base_writer();
    blob b = finish(w);
    b.p[tensor_at(w, T_Q8).name + 3] = 0;
    bn_gguf_writer_free(w);
    return b;
}
static blob b_tensor_name_len_huge(void)
{
    return base_patched(F_NAME_LEN, T_F32, UINT64_C(1) << 63);
}

static blob b_n_dims_0(void)
{
    return base_plus_tensor("extra", BITNET_TYPE_F32, 0, NULL, 4);
}
static blob b_n_dims_5(void)
{
    static const int64_t ne[5] = {4, 1, 1, 1, 1};
    return base_plus_tensor("extra", BITNET_TYPE_F32, 5, ne, 16);
}
static blob b_n_dims_huge(void)
{
    return base_patched(F_N_DIMS, T_F32, 0xffffffffu);
}
static blob b_dim_zero(void)
{
    static const int64_t ne[2] = {4, 0};
    return base_plus_tensor("extra", BITNET_TYPE_F32, 2, ne, 0);
}
static blob b_dim_negative(void)
{
    static const int64_t ne[2] = {4, -1};
    return base_plus_tensor("extra", BITNET_TYPE_F32, 2, ne, 0);
}
static blob b_elements_overflow(void)
{
    static const int64_t ne[2] = {INT64_C(1) << 32, INT64_C(1) << 32};
    return base_plus_tensor("extra", BITNET_TYPE_F32, 2, ne, 0);
}
static blob b_elements_overflow_4d(void)
{
    static const int64_t ne[4] = {INT64_C(1) << 16, INT64_C(1) << 16, INT64_C(1) << 16, INT64_C(1) << 16};
    return base_plus_tensor("extra", BITNET_TYPE_F32, 4, ne, 0);
}
/* 2^62 elements fit in int64, their 2^64 bytes do not. */
static blob b_bytes_overflow(void)
{
    static const int64_t ne[1] = {INT64_C(1) << 62};
    return base_plus_tensor("extra", BITNET_TYPE_F32, 1, ne, 0);
}
/* Same element count and bytes as a valid Q8_0 [32,2], but rows of 16. */
static blob b_row_not_block_multiple(void)
{
    static const int64_t ne[2] = {16, 4};
    return base_plus_tensor("extra", BITNET_TYPE_Q8_0, 2, ne, 68);
}

static blob b_offset_unaligned(void)
{
    base_points p = points();
    return base_patched(F_OFFSET, T_Q8, p.t[T_Q8].data - p.lay.data + 1);
}
static blob b_offset_past_end(void)
{
    return base_patched(F_OFFSET, T_F16, UINT64_C(1) << 40);
}
static blob b_offset_huge(void)
{
    return base_patched(F_OFFSET, T_F16, UINT64_MAX - 31);
}
/* The last tensor starts exactly at the end of the file. */
static blob b_offset_plus_size_past_end(void)
{
    base_points p = points();
    return base_patched(F_OFFSET, T_F16, p.lay.size - p.lay.data);
}
static blob b_overlap_same_offset(void)
{
    return base_patched(F_OFFSET, T_Q8, 0);
}
static blob b_overlap_partial(void)
{
    return base_patched(F_OFFSET, T_Q8, 64);
}
static blob b_unknown_type_offset_past_end(void)
{
    bn_gguf_writer *w = base_writer();
    blob b = finish(w);
    patch_u32(&b, tensor_at(w, T_F16).type, 200);
    patch_u64(&b, tensor_at(w, T_F16).offset, UINT64_C(1) << 40);
    bn_gguf_writer_free(w);
    return b;
}
static blob b_unknown_type_offset_unaligned(void)
{
    bn_gguf_writer *w = base_writer();
    blob b = finish(w);
    patch_u32(&b, tensor_at(w, T_F16).type, 200);
    patch_u64(&b, tensor_at(w, T_F16).offset, tensor_at(w, T_F16).data - layout_of(w).data + 4);
    bn_gguf_writer_free(w);
    return b;
}

/* The base file with a general.alignment pair written as given. */
static blob with_alignment_pair(bool is_u32, uint64_t value, const char *str)
{
    bn_gguf_writer *w = base_writer();
    bn_gguf_writer_set_checks(w, false);
    bitnet_status st = str      ? bn_gguf_writer_add_string(w, "general.alignment", str)
                       : is_u32 ? bn_gguf_writer_add_u32(w, "general.alignment", (uint32_t)value)
                                : bn_gguf_writer_add_u64(w, "general.alignment", value);
    assert_int_equal(st, BITNET_OK);
    blob b = finish(w);
    bn_gguf_writer_free(w);
    return b;
}
static blob b_alignment_zero(void)
{
    return with_alignment_pair(true, 0, NULL);
}
static blob b_alignment_not_pow2(void)
{
    return with_alignment_pair(true, 48, NULL);
}
static blob b_alignment_u64(void)
{
    return with_alignment_pair(false, 32, NULL);
}
static blob b_alignment_string(void)
{
    return with_alignment_pair(false, 0, "32");
}
static blob b_alignment_huge(void)
{
    return with_alignment_pair(true, UINT32_C(1) << 31, NULL);
}
/* general.alignment says 64 while the writer laid tensors out at 32. */
static blob b_alignment_mismatch(void)
{
    static const float f[8] = {0};
    static const int64_t ne[1] = {8};
    bn_gguf_writer *w = NULL;
    assert_int_equal(bn_gguf_writer_new(3, &w), BITNET_OK);
    bn_gguf_writer_set_checks(w, false);
    assert_int_equal(bn_gguf_writer_add_u32(w, "general.alignment", 64), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "a", BITNET_TYPE_F32, 1, ne, f, 32), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "b", BITNET_TYPE_F32, 1, ne, f, 32), BITNET_OK);
    assert_int_equal(bn_gguf_writer_add_tensor(w, "c", BITNET_TYPE_F32, 1, ne, f, 32), BITNET_OK);
    blob b = finish(w);
    bn_gguf_writer_free(w);
    return b;
}

/* ------------------------------------------------------------------------ */
/* The table                                                                */
/* ------------------------------------------------------------------------ */

typedef struct load_case {
    const char *name;
    blob (*build)(void);
    bitnet_status want;
    const char *mentions; /* '|'-separated, case-insensitive; NULL: any message */
} load_case;

#define BAD BITNET_ERR_BAD_FORMAT
#define UNSUP BITNET_ERR_UNSUPPORTED

static const load_case load_cases[] = {
    {"valid_base_file", b_valid, BITNET_OK, NULL},
    {"valid_no_tensors_no_padding", b_no_tensors_unpadded, BITNET_OK, NULL},
    {"magic_wrong", b_magic_wrong, BAD, "magic"},
    {"magic_lowercase", b_magic_lowercase, BAD, "magic"},
    {"version_0", b_version_0, UNSUP, "version"},
    {"version_1", b_version_1, UNSUP, "v1|version 1"},
    {"version_4", b_version_4, UNSUP, "version"},
    {"version_huge", b_version_huge, UNSUP, "version"},
    {"version_big_endian", b_version_big_endian, UNSUP, "endian"},
    {"empty_buffer", b_empty, BAD, NULL},
    {"magic_only", b_magic_only, BAD, NULL},
    {"header_short", b_header_short, BAD, "truncat|short|header|count"},
    {"truncated_at_first_kv", b_trunc_at_first_kv, BAD, "count|truncat"},
    {"truncated_mid_key", b_trunc_mid_key, BAD, "key|truncat|count"},
    {"truncated_at_tensor_infos", b_trunc_at_tensor_infos, BAD, "tensor|truncat"},
    {"truncated_mid_tensor_info", b_trunc_mid_tensor_info, BAD, "tensor|truncat"},
    {"truncated_at_padding", b_trunc_at_padding, BAD, "end|past|truncat"},
    {"truncated_at_data", b_trunc_at_data, BAD, "end|past|truncat"},
    {"truncated_mid_last_tensor", b_trunc_mid_last_tensor, BAD, "out.f16"},
    {"tensor_count_huge", b_tensor_count_huge, BAD, "tensor count"},
    {"kv_count_huge", b_kv_count_huge, BAD, "count"},
    {"kv_count_u64_max", b_kv_count_max, BAD, "count"},
    {"kv_count_too_small", b_kv_count_too_small, BAD, "test.strings|dimension"},
    {"key_len_huge", b_key_len_huge, BAD, "key"},
    {"key_len_past_end", b_key_len_past_end, BAD, "key"},
    {"key_empty", b_key_empty, BAD, "key"},
    {"key_embedded_nul", b_key_embedded_nul, BAD, "key"},
    {"string_len_huge", b_string_len_huge, BAD, "general.architecture|string"},
    {"string_len_past_end", b_string_len_past_end, BAD, "general.architecture|string"},
    {"string_array_elem_len_huge", b_string_array_elem_len_huge, BAD, "test.strings|string"},
    {"array_count_huge", b_array_count_huge, BAD, "test.ints"},
    {"array_count_past_end", b_array_count_past_end, BAD, "test.ints"},
    {"string_array_count_huge", b_string_array_count_huge, BAD, "test.strings"},
    {"nested_depth_64", b_nested_depth_64, BAD, "test.deep"},
    {"nested_depth_huge", b_nested_depth_huge, BAD, "test.deep"},
    {"nested_count_huge", b_nested_count_huge, BAD, "test.nest"},
    {"unknown_value_type", b_unknown_value_type, BAD, "type"},
    {"unknown_value_type_huge", b_unknown_value_type_huge, BAD, "type"},
    {"unknown_array_elem_type", b_unknown_array_elem_type, BAD, "type"},
    {"bool_value_2", b_bool_2, BAD, "bool"},
    {"bool_array_elem_2", b_bool_array_elem_2, BAD, "bool"},
    {"duplicate_key", b_duplicate_key, BAD, "test.count"},
    {"duplicate_tensor_name", b_duplicate_tensor, BAD, "blk.q8"},
    {"tensor_name_empty", b_tensor_name_empty, BAD, "name"},
    {"tensor_name_embedded_nul", b_tensor_name_embedded_nul, BAD, "name|blk"},
    {"tensor_name_len_huge", b_tensor_name_len_huge, BAD, "name"},
    {"n_dims_0", b_n_dims_0, BAD, "dimension|dims"},
    {"n_dims_5", b_n_dims_5, BAD, "dimension|dims"},
    {"n_dims_huge", b_n_dims_huge, BAD, "dimension|dims"},
    {"dim_zero", b_dim_zero, BAD, "extra"},
    {"dim_negative", b_dim_negative, BAD, "extra"},
    {"elements_overflow", b_elements_overflow, BAD, "overflow"},
    {"elements_overflow_4d", b_elements_overflow_4d, BAD, "overflow"},
    {"bytes_overflow", b_bytes_overflow, BAD, "extra"},
    {"row_not_block_multiple", b_row_not_block_multiple, BAD, "block"},
    {"offset_unaligned", b_offset_unaligned, BAD, "align"},
    {"offset_past_end", b_offset_past_end, BAD, "offset"},
    {"offset_huge", b_offset_huge, BAD, "offset"},
    {"offset_plus_size_past_end", b_offset_plus_size_past_end, BAD, "out.f16"},
    {"tensors_overlap_same_offset", b_overlap_same_offset, BAD, "overlap"},
    {"tensors_overlap_partial", b_overlap_partial, BAD, "overlap"},
    {"unknown_type_offset_past_end", b_unknown_type_offset_past_end, BAD, "offset"},
    {"unknown_type_offset_unaligned", b_unknown_type_offset_unaligned, BAD, "align"},
    {"alignment_zero", b_alignment_zero, BAD, "general.alignment"},
    {"alignment_not_power_of_two", b_alignment_not_pow2, BAD, "general.alignment"},
    {"alignment_type_u64", b_alignment_u64, BAD, "general.alignment"},
    {"alignment_type_string", b_alignment_string, BAD, "general.alignment"},
    {"alignment_huge", b_alignment_huge, BAD, "align|end"},
    {"alignment_mismatch", b_alignment_mismatch, BAD, "align"},
};

#define N_LOAD_CASES (sizeof load_cases / sizeof load_cases[0])

/* The case's file, freed by the teardown so a failing case leaks nothing. */
static blob current_case;

static void run_load_case(void **state)
{
    const load_case *c = *state;
    current_case = c->build();
    bitnet_model *m = load_expect(c->name, &current_case, c->want, c->mentions);
    bitnet_model_release(m);
}

static int free_load_case(void **state)
{
    (void)state;
    free(current_case.p);
    current_case.p = NULL;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Whole-file properties                                                    */
/* ------------------------------------------------------------------------ */

/* Every prefix that cuts into the header, pairs, infos or tensor bytes fails
 * with BAD_FORMAT; prefixes that only drop trailing padding still load. */
static void test_every_prefix(void **state)
{
    (void)state;
    blob full = b_valid();
    base_points p = points();
    char what[64];
    for (size_t n = 0; n < full.n; n++) {
        blob b = prefix_copy(&full, n);
        snprintf(what, sizeof what, "prefix of %zu/%zu bytes", n, full.n);
        bitnet_status want = n < p.lay.data_end ? BITNET_ERR_BAD_FORMAT : BITNET_OK;
        bitnet_model *m = load_expect(what, &b, want, NULL);
        bitnet_model_release(m);
        free(b.p);
    }
    free(full.p);
}

/* Bad arguments to the loaders themselves. */
static void test_load_arguments(void **state)
{
    (void)state;
    blob b = b_valid();
    bitnet_model *m = NULL;
    prime_error();
    expect_status("NULL out", bitnet_model_load_memory(b.p, b.n, NULL, NULL), BITNET_ERR_INVALID_ARGUMENT);
    check_error("NULL out", NULL);
    prime_error();
    expect_status("NULL data", bitnet_model_load_memory(NULL, b.n, NULL, &m), BITNET_ERR_INVALID_ARGUMENT);
    assert_null(m);
    check_error("NULL data", NULL);
    prime_error();
    expect_status("NULL data, size 0", bitnet_model_load_memory(NULL, 0, NULL, &m), BITNET_ERR_BAD_FORMAT);
    assert_null(m);
    check_error("NULL data, size 0", NULL);
    bitnet_model_params params = bitnet_model_params_default();
    params.struct_size = 1;
    prime_error();
    expect_status("params.struct_size 1", bitnet_model_load_memory(b.p, b.n, &params, &m), BITNET_ERR_INVALID_ARGUMENT);
    check_error("params.struct_size 1", "struct_size");
    prime_error();
    expect_status("missing file", bitnet_model_load_file("/nonexistent/dir/model.gguf", NULL, &m), BITNET_ERR_IO);
    assert_null(m);
    check_error("missing file", "nonexistent");
    free(b.p);
}

/* A malformed file on disk fails the same way through load_file, mapped or
 * read. */
static void test_load_file_malformed(void **state)
{
    (void)state;
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/bn_gguf_malformed_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    blob b = b_trunc_mid_last_tensor();
    assert_int_equal(write(fd, b.p, b.n), (ssize_t)b.n);
    close(fd);
    for (int use_mmap = 0; use_mmap < 2; use_mmap++) {
        bitnet_model_params params = bitnet_model_params_default();
        params.use_mmap = use_mmap != 0;
        static int sentinel;
        bitnet_model *m = (bitnet_model *)(void *)&sentinel;
        prime_error();
        expect_status("truncated file", bitnet_model_load_file(path, &params, &m), BITNET_ERR_BAD_FORMAT);
        assert_null(m);
        /* The message names the file and the tensor. */
        check_error("truncated file", path);
        check_error("truncated file", "out.f16");
    }
    unlink(path);
    free(b.p);
}

/* ------------------------------------------------------------------------ */
/* Tensors of unknown type and tensor_read arguments                        */
/* ------------------------------------------------------------------------ */

/* A type id this build does not know still loads for inspection; reading it
 * is UNSUPPORTED and names the id. */
static void test_unknown_tensor_type(void **state)
{
    (void)state;
    static const int64_t ne[2] = {4, 2};
    blob b = base_plus_tensor("mystery", 200, 2, ne, 16);
    bitnet_model *m = load_expect("unknown tensor type", &b, BITNET_OK, NULL);
    int64_t idx = -1;
    assert_int_equal(bitnet_model_tensor_find(m, "mystery", &idx), BITNET_OK);
    bitnet_tensor_info info;
    info.struct_size = sizeof info;
    assert_int_equal(bitnet_model_tensor_info(m, idx, &info), BITNET_OK);
    assert_int_equal(info.type, 200);
    assert_string_equal(info.type_name, "unknown");
    assert_int_equal(info.n_elements, 8);
    assert_int_equal(info.n_rows, 2);
    float out[8];
    size_t written = 99;
    prime_error();
    expect_status("read unknown type",
                  bitnet_model_tensor_read(m, "mystery", 0, 1, BITNET_TYPE_F32, out, sizeof out, &written),
                  BITNET_ERR_UNSUPPORTED);
    assert_int_equal(written, 0);
    check_error("read unknown type", "200");
    assert_true(mentions(bitnet_model_last_error(m), "200"));
    /* The known tensors stay readable. */
    float row[F32_COLS];
    assert_int_equal(bitnet_model_tensor_read(m, "tok.f32", 1, 2, BITNET_TYPE_F32, row, sizeof row, &written),
                     BITNET_OK);
    assert_memory_equal(row, base_f32 + F32_COLS, sizeof row);
    bitnet_model_release(m);
    free(b.p);
}

#define GUARD 0xcd

static bool all_guard(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != GUARD)
            return false;
    return true;
}

/* One failing read: status, *written 0, nothing written, message. */
static void read_fails(bitnet_model *m, const char *what, const char *name, int64_t r0, int64_t r1, bitnet_type type,
                       size_t cap, bitnet_status want, const char *alts)
{
    uint8_t buf[512];
    memset(buf, GUARD, sizeof buf);
    size_t written = 99;
    assert_true(cap <= sizeof buf);
    prime_error();
    expect_status(what, bitnet_model_tensor_read(m, name, r0, r1, type, buf, cap, &written), want);
    assert_int_equal(written, 0);
    if (!all_guard(buf, sizeof buf))
        fail_msg("%s: the buffer was written", what);
    check_error(what, alts);
    /* Failures on a model are recorded on it too. */
    if (m && alts && !mentions(bitnet_model_last_error(m), alts))
        fail_msg("%s: model message \"%s\" lacks \"%s\"", what, bitnet_model_last_error(m), alts);
}

static void test_tensor_read_arguments(void **state)
{
    (void)state;
    blob b = b_valid();
    bitnet_model *m = load_expect("base", &b, BITNET_OK, NULL);
    const size_t row = F32_COLS * sizeof(float);
    read_fails(m, "rows reversed", "tok.f32", 2, 1, BITNET_TYPE_F32, 512, BITNET_ERR_OUT_OF_RANGE, "tok.f32");
    read_fails(m, "row_end past n_rows", "tok.f32", 0, F32_ROWS + 1, BITNET_TYPE_F32, 512, BITNET_ERR_OUT_OF_RANGE,
               "tok.f32");
    read_fails(m, "row_begin past n_rows", "tok.f32", F32_ROWS + 1, F32_ROWS + 2, BITNET_TYPE_F32, 512,
               BITNET_ERR_OUT_OF_RANGE, "tok.f32");
    read_fails(m, "row_begin negative", "tok.f32", -1, 1, BITNET_TYPE_F32, 512, BITNET_ERR_OUT_OF_RANGE, "tok.f32");
    read_fails(m, "capacity one byte short", "tok.f32", 0, 2, BITNET_TYPE_F32, 2 * row - 1, BITNET_ERR_BUFFER_TOO_SMALL,
               "tok.f32");
    read_fails(m, "capacity 0", "tok.f32", 0, 1, BITNET_TYPE_F16, 0, BITNET_ERR_BUFFER_TOO_SMALL, "tok.f32");
    read_fails(m, "dst_type q4_0", "tok.f32", 0, 1, BITNET_TYPE_Q4_0, 512, BITNET_ERR_INVALID_ARGUMENT, "q4_0");
    read_fails(m, "dst_type 999", "tok.f32", 0, 1, (bitnet_type)999, 512, BITNET_ERR_INVALID_ARGUMENT, NULL);
    read_fails(m, "NULL name", NULL, 0, 1, BITNET_TYPE_F32, 512, BITNET_ERR_INVALID_ARGUMENT, NULL);
    read_fails(NULL, "NULL model", "tok.f32", 0, 1, BITNET_TYPE_F32, 512, BITNET_ERR_INVALID_ARGUMENT, NULL);
    read_fails(m, "unknown name", "no.such.tensor", 0, 1, BITNET_TYPE_F32, 512, BITNET_ERR_NOT_FOUND, "no.such.tensor");
    prime_error();
    expect_status("NULL dst", bitnet_model_tensor_read(m, "tok.f32", 0, 1, BITNET_TYPE_F32, NULL, row, NULL),
                  BITNET_ERR_INVALID_ARGUMENT);
    check_error("NULL dst", NULL);

    /* Exactly enough room works and writes exactly that much. */
    uint8_t buf[512];
    memset(buf, GUARD, sizeof buf);
    size_t written = 0;
    assert_int_equal(bitnet_model_tensor_read(m, "tok.f32", 1, 3, BITNET_TYPE_F32, buf, 2 * row, &written), BITNET_OK);
    assert_int_equal(written, 2 * row);
    assert_memory_equal(buf, base_f32 + F32_COLS, 2 * row);
    assert_true(all_guard(buf + 2 * row, sizeof buf - 2 * row));
    /* An empty range is valid and writes nothing. */
    written = 99;
    assert_int_equal(bitnet_model_tensor_read(m, "tok.f32", F32_ROWS, F32_ROWS, BITNET_TYPE_F32, NULL, 0, &written),
                     BITNET_OK);
    assert_int_equal(written, 0);
    bitnet_model_release(m);
    free(b.p);
}

/* ------------------------------------------------------------------------ */

int main(void)
{
    init_base_data();
    static struct CMUnitTest tests[N_LOAD_CASES + 5];
    size_t n = 0;
    for (size_t i = 0; i < N_LOAD_CASES; i++)
        tests[n++] =
            (struct CMUnitTest){load_cases[i].name, run_load_case, NULL, free_load_case, (void *)&load_cases[i]};
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_every_prefix);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_load_arguments);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_load_file_malformed);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_unknown_tensor_type);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_tensor_read_arguments);
    return _cmocka_run_group_tests("gguf_malformed", tests, n, NULL, NULL);
}
