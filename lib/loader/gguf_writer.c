/* GGUF writer. Key/value pairs are encoded into one byte buffer as they are
 * added (so array and string data is never borrowed); tensors are kept as a
 * table and their offsets are computed when the file is produced, because the
 * alignment may still change until then. All integers are written byte by byte
 * in little-endian order, whatever the host. */
#include "loader/gguf_writer.h"
#include "loader/gguf.h"

#include <stdlib.h>
#include <string.h>

#include "quant/quant.h"

#define HEADER_BYTES 24u /* magic, version, tensor count, kv count */
#define ALIGN_KEY "general.alignment"
#define ALIGN_KEY_LEN (sizeof(ALIGN_KEY) - 1)
/* The automatic general.alignment pair: key length, key, type, uint32. */
#define AUTO_ALIGN_BYTES (8u + ALIGN_KEY_LEN + 4u + 4u)
#define NO_POS ((size_t)-1)

/* ------------------------------------------------------------------------ */
/* Growable byte buffer with a sticky failure flag: callers check it once.   */
/* ------------------------------------------------------------------------ */

typedef struct byte_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
    bool failed;
} byte_buf;

static bool bb_reserve(byte_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (extra > SIZE_MAX - b->len) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + extra;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

static void bb_bytes(byte_buf *b, const void *src, size_t n)
{
    if (n == 0 || !bb_reserve(b, n))
        return;
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void bb_zeros(byte_buf *b, size_t n)
{
    if (n == 0 || !bb_reserve(b, n))
        return;
    memset(b->p + b->len, 0, n);
    b->len += n;
}

static void store_le(uint8_t *dst, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        dst[i] = (uint8_t)(v >> (8 * i));
}

static void bb_le(byte_buf *b, uint64_t v, int n)
{
    if (!bb_reserve(b, (size_t)n))
        return;
    store_le(b->p + b->len, v, n);
    b->len += (size_t)n;
}

static void bb_u32(byte_buf *b, uint32_t v)
{
    bb_le(b, v, 4);
}
static void bb_u64(byte_buf *b, uint64_t v)
{
    bb_le(b, v, 8);
}

static void bb_gguf_string(byte_buf *b, const char *s, size_t len)
{
    bb_u64(b, (uint64_t)len);
    bb_bytes(b, s, len);
}

/* ------------------------------------------------------------------------ */
/* Writer state                                                             */
/* ------------------------------------------------------------------------ */

typedef struct kv_rec {
    size_t start; /* offset of the pair in the kv buffer */
    size_t key_len;
} kv_rec;

typedef struct tensor_rec {
    char *name;
    size_t name_len;
    uint32_t type;
    uint32_t n_dims;
    int64_t ne[BN_GGUF_WRITER_MAX_DIMS];
    const void *data; /* borrowed, or == owned */
    void *owned;
    uint64_t nbytes;
} tensor_rec;

struct bn_gguf_writer {
    uint32_t version;
    uint32_t alignment;
    bool checks;
    byte_buf kvs;
    kv_rec *kv;
    size_t n_kv, cap_kv;
    tensor_rec *t;
    size_t n_t, cap_t;
    bool has_align_kv;      /* a general.alignment pair was added by the caller */
    size_t align_value_pos; /* its uint32 in kvs when checks adopted it, else NO_POS */
};

bitnet_status bn_gguf_writer_new(uint32_t version, bn_gguf_writer **out)
{
    if (!out)
        return BITNET_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (version != 2 && version != 3)
        return BITNET_ERR_INVALID_ARGUMENT;
    bn_gguf_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return BITNET_ERR_OUT_OF_MEMORY;
    w->version = version;
    w->alignment = BN_GGUF_WRITER_DEFAULT_ALIGNMENT;
    w->checks = true;
    w->align_value_pos = NO_POS;
    *out = w;
    return BITNET_OK;
}

void bn_gguf_writer_free(bn_gguf_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_t; i++) {
        free(w->t[i].name);
        free(w->t[i].owned);
    }
    free(w->t);
    free(w->kv);
    free(w->kvs.p);
    free(w);
}

void bn_gguf_writer_set_checks(bn_gguf_writer *w, bool enabled)
{
    if (w)
        w->checks = enabled;
}

static bool is_pow2(uint64_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

bitnet_status bn_gguf_writer_set_alignment(bn_gguf_writer *w, uint32_t alignment)
{
    if (!w || !is_pow2(alignment))
        return BITNET_ERR_INVALID_ARGUMENT;
    w->alignment = alignment;
    if (w->align_value_pos != NO_POS)
        store_le(w->kvs.p + w->align_value_pos, alignment, 4);
    return BITNET_OK;
}

uint64_t bn_gguf_writer_kv_count(const bn_gguf_writer *w)
{
    return w ? (uint64_t)w->n_kv : 0;
}
uint64_t bn_gguf_writer_tensor_count(const bn_gguf_writer *w)
{
    return w ? (uint64_t)w->n_t : 0;
}

/* ------------------------------------------------------------------------ */
/* Key/value pairs                                                          */
/* ------------------------------------------------------------------------ */

static bool is_align_key(const char *key, size_t len)
{
    return len == ALIGN_KEY_LEN && memcmp(key, ALIGN_KEY, len) == 0;
}

static bool kv_key_exists(const bn_gguf_writer *w, const char *key, size_t len)
{
    for (size_t i = 0; i < w->n_kv; i++) {
        const kv_rec *r = &w->kv[i];
        if (r->key_len == len && memcmp(w->kvs.p + r->start + 8, key, len) == 0)
            return true;
    }
    return false;
}

/* Validates the key, reserves a record and writes key + type. *mark receives
 * the buffer length to roll back to if the value cannot be encoded. */
static bitnet_status kv_open(bn_gguf_writer *w, const char *key, size_t key_len, uint32_t type, bool checked,
                             size_t *mark)
{
    if (!w || !key)
        return BITNET_ERR_INVALID_ARGUMENT;
    if (checked) {
        /* GGUF keys are non-empty, at most 65535 bytes, unique. */
        if (key_len == 0 || key_len > 65535)
            return BITNET_ERR_INVALID_ARGUMENT;
        if (kv_key_exists(w, key, key_len))
            return BITNET_ERR_INVALID_ARGUMENT;
        if (is_align_key(key, key_len) && type != BITNET_VALUE_UINT32)
            return BITNET_ERR_INVALID_ARGUMENT;
    }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 16;
        if (cap > SIZE_MAX / sizeof(kv_rec))
            return BITNET_ERR_OUT_OF_MEMORY;
        kv_rec *kv = realloc(w->kv, cap * sizeof(kv_rec));
        if (!kv)
            return BITNET_ERR_OUT_OF_MEMORY;
        w->kv = kv;
        w->cap_kv = cap;
    }
    *mark = w->kvs.len;
    bb_gguf_string(&w->kvs, key, key_len);
    bb_u32(&w->kvs, type);
    return BITNET_OK;
}

/* Commits the pair opened at `mark`, or rolls it back when `st` or the buffer
 * failed. */
static bitnet_status kv_close(bn_gguf_writer *w, size_t mark, size_t key_len, bitnet_status st)
{
    if (st == BITNET_OK && w->kvs.failed)
        st = BITNET_ERR_OUT_OF_MEMORY;
    if (st != BITNET_OK) {
        w->kvs.len = mark;
        w->kvs.failed = false;
        return st;
    }
    w->kv[w->n_kv].start = mark;
    w->kv[w->n_kv].key_len = key_len;
    w->n_kv++;
    if (is_align_key((const char *)w->kvs.p + mark + 8, key_len))
        w->has_align_kv = true;
    return BITNET_OK;
}

/* One fixed-width scalar pair. */
static bitnet_status add_scalar(bn_gguf_writer *w, const char *key, uint32_t type, uint64_t bits, int width)
{
    size_t mark;
    size_t len = key ? strlen(key) : 0;
    bitnet_status st = kv_open(w, key, len, type, w ? w->checks : true, &mark);
    if (st != BITNET_OK)
        return st;
    bb_le(&w->kvs, bits, width);
    return kv_close(w, mark, len, BITNET_OK);
}

static uint32_t f32_bits(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof(u));
    return u;
}

static uint64_t f64_bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    return u;
}

bitnet_status bn_gguf_writer_add_u8(bn_gguf_writer *w, const char *key, uint8_t v)
{
    return add_scalar(w, key, BITNET_VALUE_UINT8, v, 1);
}
bitnet_status bn_gguf_writer_add_i8(bn_gguf_writer *w, const char *key, int8_t v)
{
    return add_scalar(w, key, BITNET_VALUE_INT8, (uint8_t)v, 1);
}
bitnet_status bn_gguf_writer_add_u16(bn_gguf_writer *w, const char *key, uint16_t v)
{
    return add_scalar(w, key, BITNET_VALUE_UINT16, v, 2);
}
bitnet_status bn_gguf_writer_add_i16(bn_gguf_writer *w, const char *key, int16_t v)
{
    return add_scalar(w, key, BITNET_VALUE_INT16, (uint16_t)v, 2);
}
bitnet_status bn_gguf_writer_add_i32(bn_gguf_writer *w, const char *key, int32_t v)
{
    return add_scalar(w, key, BITNET_VALUE_INT32, (uint32_t)v, 4);
}
bitnet_status bn_gguf_writer_add_u64(bn_gguf_writer *w, const char *key, uint64_t v)
{
    return add_scalar(w, key, BITNET_VALUE_UINT64, v, 8);
}
bitnet_status bn_gguf_writer_add_i64(bn_gguf_writer *w, const char *key, int64_t v)
{
    return add_scalar(w, key, BITNET_VALUE_INT64, (uint64_t)v, 8);
}
bitnet_status bn_gguf_writer_add_f32(bn_gguf_writer *w, const char *key, float v)
{
    return add_scalar(w, key, BITNET_VALUE_FLOAT32, f32_bits(v), 4);
}
bitnet_status bn_gguf_writer_add_f64(bn_gguf_writer *w, const char *key, double v)
{
    return add_scalar(w, key, BITNET_VALUE_FLOAT64, f64_bits(v), 8);
}
bitnet_status bn_gguf_writer_add_bool(bn_gguf_writer *w, const char *key, bool v)
{
    return add_scalar(w, key, BITNET_VALUE_BOOL, v ? 1 : 0, 1);
}

/* With checks on, general.alignment set this way drives the layout. */
bitnet_status bn_gguf_writer_add_u32(bn_gguf_writer *w, const char *key, uint32_t v)
{
    bool adopt = w && w->checks && key && strcmp(key, ALIGN_KEY) == 0;
    if (adopt && !is_pow2(v))
        return BITNET_ERR_INVALID_ARGUMENT;
    bitnet_status st = add_scalar(w, key, BITNET_VALUE_UINT32, v, 4);
    if (st == BITNET_OK && adopt) {
        w->alignment = v;
        w->align_value_pos = w->kv[w->n_kv - 1].start + 8 + ALIGN_KEY_LEN + 4;
    }
    return st;
}

bitnet_status bn_gguf_writer_add_string_n(bn_gguf_writer *w, const char *key, const char *v, size_t len)
{
    if (!v && len)
        return BITNET_ERR_INVALID_ARGUMENT;
    size_t mark;
    size_t klen = key ? strlen(key) : 0;
    bitnet_status st = kv_open(w, key, klen, BITNET_VALUE_STRING, w ? w->checks : true, &mark);
    if (st != BITNET_OK)
        return st;
    bb_gguf_string(&w->kvs, v, len);
    return kv_close(w, mark, klen, BITNET_OK);
}

bitnet_status bn_gguf_writer_add_string(bn_gguf_writer *w, const char *key, const char *v)
{
    if (!v)
        return BITNET_ERR_INVALID_ARGUMENT;
    return bn_gguf_writer_add_string_n(w, key, v, strlen(v));
}


/* Numeric elements: C values of the element's width, re-encoded little-endian;
 * bools normalised to 0/1. */
static void enc_numeric(byte_buf *b, uint32_t type, const void *data, uint64_t n)
{
    int width = (int)bn_gguf_value_size(type);
    const uint8_t *src = data;
    for (uint64_t i = 0; i < n && !b->failed; i++, src += width) {
        uint64_t v = 0;
        if (type == BITNET_VALUE_BOOL) {
            bool x;
            memcpy(&x, src, sizeof(x));
            v = x ? 1 : 0;
        } else if (width == 1) {
            v = src[0];
        } else if (width == 2) {
            uint16_t x;
            memcpy(&x, src, 2);
            v = x;
        } else if (width == 4) {
            uint32_t x;
            memcpy(&x, src, 4);
            v = x;
        } else {
            memcpy(&v, src, 8);
        }
        bb_le(b, v, width);
    }
}

static bitnet_status enc_array(byte_buf *b, uint32_t elem_type, const void *data, uint64_t n, int depth);

static bitnet_status enc_elements(byte_buf *b, uint32_t elem_type, const void *data, uint64_t n, int depth)
{
    if (elem_type == BITNET_VALUE_STRING) {
        const char *const *strs = data;
        for (uint64_t i = 0; i < n; i++) {
            if (!strs[i])
                return BITNET_ERR_INVALID_ARGUMENT;
            bb_gguf_string(b, strs[i], strlen(strs[i]));
        }
        return BITNET_OK;
    }
    if (elem_type == BITNET_VALUE_ARRAY) {
        const bn_gguf_array *arrs = data;
        for (uint64_t i = 0; i < n; i++) {
            bitnet_status st = enc_array(b, arrs[i].elem_type, arrs[i].data, arrs[i].n, depth + 1);
            if (st != BITNET_OK)
                return st;
        }
        return BITNET_OK;
    }
    if (bn_gguf_value_size(elem_type) == 0)
        return BITNET_ERR_INVALID_ARGUMENT;
    /* Reserve once so a huge n fails fast instead of growing slowly. */
    uint64_t width = (uint64_t)bn_gguf_value_size(elem_type);
    if (n > SIZE_MAX / width || !bb_reserve(b, (size_t)(n * width)))
        return BITNET_ERR_OUT_OF_MEMORY;
    enc_numeric(b, elem_type, data, n);
    return BITNET_OK;
}

/* An array body: uint32 element type, uint64 count, elements. */
static bitnet_status enc_array(byte_buf *b, uint32_t elem_type, const void *data, uint64_t n, int depth)
{
    if (depth > BN_GGUF_WRITER_MAX_DEPTH)
        return BITNET_ERR_INVALID_ARGUMENT;
    if (n && !data)
        return BITNET_ERR_INVALID_ARGUMENT;
    bb_u32(b, elem_type);
    bb_u64(b, n);
    return enc_elements(b, elem_type, data, n, depth);
}

bitnet_status bn_gguf_writer_add_array(bn_gguf_writer *w, const char *key, bitnet_value_type elem_type,
                                       const void *data, uint64_t n)
{
    size_t mark;
    size_t len = key ? strlen(key) : 0;
    bitnet_status st = kv_open(w, key, len, BITNET_VALUE_ARRAY, w ? w->checks : true, &mark);
    if (st != BITNET_OK)
        return st;
    st = enc_array(&w->kvs, (uint32_t)elem_type, data, n, 1);
    return kv_close(w, mark, len, st);
}

bitnet_status bn_gguf_writer_add_string_array(bn_gguf_writer *w, const char *key, const char *const *strs, uint64_t n)
{
    return bn_gguf_writer_add_array(w, key, BITNET_VALUE_STRING, strs, n);
}

bitnet_status bn_gguf_writer_add_raw(bn_gguf_writer *w, const char *key, size_t key_len, uint32_t value_type,
                                     const void *value, size_t value_len)
{
    if (!w || (!key && key_len) || (!value && value_len))
        return BITNET_ERR_INVALID_ARGUMENT;
    size_t mark;
    bitnet_status st = kv_open(w, key ? key : "", key_len, value_type, false, &mark);
    if (st != BITNET_OK)
        return st;
    bb_bytes(&w->kvs, value, value_len);
    return kv_close(w, mark, key_len, BITNET_OK);
}

/* ------------------------------------------------------------------------ */
/* Tensors                                                                  */
/* ------------------------------------------------------------------------ */

static bool tensor_name_exists(const bn_gguf_writer *w, const char *name, size_t len)
{
    for (size_t i = 0; i < w->n_t; i++)
        if (w->t[i].name_len == len && memcmp(w->t[i].name, name, len) == 0)
            return true;
    return false;
}

/* Shape and size rules a conforming loader enforces. */
static bitnet_status check_tensor(const bn_gguf_writer *w, const char *name, size_t name_len, uint32_t type,
                                  uint32_t n_dims, const int64_t *ne, uint64_t nbytes)
{
    if (name_len == 0 || name_len > BN_GGUF_WRITER_MAX_NAME || tensor_name_exists(w, name, name_len))
        return BITNET_ERR_INVALID_ARGUMENT;
    if (n_dims < 1 || n_dims > BITNET_MAX_DIMS)
        return BITNET_ERR_INVALID_ARGUMENT;
    int64_t n = 1;
    for (uint32_t i = 0; i < n_dims; i++) {
        if (ne[i] < 1 || n > INT64_MAX / ne[i])
            return BITNET_ERR_INVALID_ARGUMENT;
        n *= ne[i];
    }
    const bn_type_traits *tr = bn_type_traits_get(type);
    if (!tr || tr->block_elems <= 0 || ne[0] % tr->block_elems != 0)
        return BITNET_ERR_INVALID_ARGUMENT;
    uint64_t want = bn_type_tensor_bytes(type, n);
    return want != 0 && want == nbytes ? BITNET_OK : BITNET_ERR_INVALID_ARGUMENT;
}

static bitnet_status tensor_add(bn_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims, const int64_t *ne,
                                const void *data, uint64_t nbytes, bool copy)
{
    if (!w || !name || n_dims > BN_GGUF_WRITER_MAX_DIMS || (n_dims && !ne))
        return BITNET_ERR_INVALID_ARGUMENT;
    size_t name_len = strlen(name);
    if (w->checks) {
        bitnet_status st = check_tensor(w, name, name_len, type, n_dims, ne, nbytes);
        if (st != BITNET_OK)
            return st;
    }
    if (copy && data && nbytes > SIZE_MAX)
        return BITNET_ERR_OUT_OF_MEMORY;
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? w->cap_t * 2 : 16;
        if (cap > SIZE_MAX / sizeof(tensor_rec))
            return BITNET_ERR_OUT_OF_MEMORY;
        tensor_rec *t = realloc(w->t, cap * sizeof(tensor_rec));
        if (!t)
            return BITNET_ERR_OUT_OF_MEMORY;
        w->t = t;
        w->cap_t = cap;
    }
    tensor_rec r;
    memset(&r, 0, sizeof(r));
    r.name = malloc(name_len + 1);
    if (!r.name)
        return BITNET_ERR_OUT_OF_MEMORY;
    memcpy(r.name, name, name_len + 1);
    if (copy && data && nbytes) {
        r.owned = malloc((size_t)nbytes);
        if (!r.owned) {
            free(r.name);
            return BITNET_ERR_OUT_OF_MEMORY;
        }
        memcpy(r.owned, data, (size_t)nbytes);
        data = r.owned;
    }
    r.name_len = name_len;
    r.type = type;
    r.n_dims = n_dims;
    for (uint32_t i = 0; i < n_dims; i++)
        r.ne[i] = ne[i];
    r.data = data;
    r.nbytes = nbytes;
    w->t[w->n_t++] = r;
    return BITNET_OK;
}

bitnet_status bn_gguf_writer_add_tensor(bn_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                        const int64_t *ne, const void *data, uint64_t nbytes)
{
    return tensor_add(w, name, type, n_dims, ne, data, nbytes, false);
}

bitnet_status bn_gguf_writer_add_tensor_copy(bn_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                             const int64_t *ne, const void *data, uint64_t nbytes)
{
    return tensor_add(w, name, type, n_dims, ne, data, nbytes, true);
}

/* ------------------------------------------------------------------------ */
/* Layout                                                                   */
/* ------------------------------------------------------------------------ */

static bool need_auto_align(const bn_gguf_writer *w)
{
    return w->alignment != BN_GGUF_WRITER_DEFAULT_ALIGNMENT && !w->has_align_kv;
}

static uint64_t tensor_info_bytes(const tensor_rec *t)
{
    return 8 + (uint64_t)t->name_len + 4 + 8 * (uint64_t)t->n_dims + 4 + 8;
}

/* Rounds v up to a multiple of a (a power of two); false on overflow. */
static bool align_up(uint64_t v, uint64_t a, uint64_t *out)
{
    if (v > UINT64_MAX - (a - 1))
        return false;
    *out = (v + a - 1) & ~(a - 1);
    return true;
}

/* Offset of tensor `index` relative to the data section; with index == n_t,
 * the end of the last tensor's bytes. */
static bool tensor_rel_offset(const bn_gguf_writer *w, size_t index, uint64_t *out)
{
    uint64_t pos = 0;
    for (size_t i = 0; i < index; i++) {
        if (!align_up(pos, w->alignment, &pos) || w->t[i].nbytes > UINT64_MAX - pos)
            return false;
        pos += w->t[i].nbytes;
    }
    if (index < w->n_t && !align_up(pos, w->alignment, &pos))
        return false;
    *out = pos;
    return true;
}

bitnet_status bn_gguf_writer_layout(const bn_gguf_writer *w, bn_gguf_layout *out)
{
    if (!w || !out)
        return BITNET_ERR_INVALID_ARGUMENT;
    memset(out, 0, sizeof(*out));
    out->version = 4;
    out->tensor_count = 8;
    out->kv_count = 16;
    out->kv = HEADER_BYTES;
    out->tensor_infos = HEADER_BYTES + (uint64_t)w->kvs.len + (need_auto_align(w) ? AUTO_ALIGN_BYTES : 0);
    uint64_t pos = out->tensor_infos;
    for (size_t i = 0; i < w->n_t; i++)
        pos += tensor_info_bytes(&w->t[i]);
    out->infos_end = pos;
    uint64_t data_bytes, padded;
    if (!align_up(pos, w->alignment, &out->data) || !tensor_rel_offset(w, w->n_t, &data_bytes) ||
        !align_up(data_bytes, w->alignment, &padded) || padded > UINT64_MAX - out->data)
        return BITNET_ERR_INVALID_ARGUMENT;
    out->data_end = out->data + data_bytes;
    out->size = out->data + padded;
    out->n_kv = (uint64_t)w->n_kv + (need_auto_align(w) ? 1 : 0);
    out->n_tensors = (uint64_t)w->n_t;
    out->alignment = w->alignment;
    return BITNET_OK;
}

bitnet_status bn_gguf_writer_kv_layout(const bn_gguf_writer *w, uint64_t index, bn_gguf_kv_layout *out)
{
    if (!w || !out)
        return BITNET_ERR_INVALID_ARGUMENT;
    bool is_auto = index == w->n_kv && need_auto_align(w);
    if (index > w->n_kv || (index == w->n_kv && !is_auto))
        return BITNET_ERR_OUT_OF_RANGE;
    size_t start = is_auto ? w->kvs.len : w->kv[index].start;
    size_t key_len = is_auto ? ALIGN_KEY_LEN : w->kv[index].key_len;
    size_t end = is_auto ? w->kvs.len + AUTO_ALIGN_BYTES : index + 1 < w->n_kv ? w->kv[index + 1].start : w->kvs.len;
    out->start = HEADER_BYTES + (uint64_t)start;
    out->key = out->start + 8;
    out->type = out->key + key_len;
    out->value = out->type + 4;
    out->end = HEADER_BYTES + (uint64_t)end;
    return BITNET_OK;
}

bitnet_status bn_gguf_writer_tensor_layout(const bn_gguf_writer *w, uint64_t index, bn_gguf_tensor_layout *out)
{
    if (!w || !out)
        return BITNET_ERR_INVALID_ARGUMENT;
    if (index >= w->n_t)
        return BITNET_ERR_OUT_OF_RANGE;
    bn_gguf_layout lay;
    bitnet_status st = bn_gguf_writer_layout(w, &lay);
    if (st != BITNET_OK)
        return st;
    uint64_t pos = lay.tensor_infos;
    for (size_t i = 0; i < index; i++)
        pos += tensor_info_bytes(&w->t[i]);
    const tensor_rec *t = &w->t[index];
    uint64_t rel;
    if (!tensor_rel_offset(w, (size_t)index, &rel))
        return BITNET_ERR_INVALID_ARGUMENT;
    out->start = pos;
    out->name = pos + 8;
    out->n_dims = out->name + t->name_len;
    out->ne = out->n_dims + 4;
    out->type = out->ne + 8 * (uint64_t)t->n_dims;
    out->offset = out->type + 4;
    out->end = out->offset + 8;
    out->data = lay.data + rel;
    out->n_bytes = t->nbytes;
    return BITNET_OK;
}

/* ------------------------------------------------------------------------ */
/* Serialization                                                            */
/* ------------------------------------------------------------------------ */

/* Header, pairs, tensor infos and the padding up to the data section. */
static bitnet_status build_meta(const bn_gguf_writer *w, const bn_gguf_layout *lay, byte_buf *b)
{
    if (lay->data > SIZE_MAX || !bb_reserve(b, (size_t)lay->data))
        return BITNET_ERR_OUT_OF_MEMORY;
    bb_bytes(b, BN_GGUF_MAGIC, 4);
    bb_u32(b, w->version);
    bb_u64(b, lay->n_tensors);
    bb_u64(b, lay->n_kv);
    bb_bytes(b, w->kvs.p, w->kvs.len);
    if (need_auto_align(w)) {
        bb_gguf_string(b, ALIGN_KEY, ALIGN_KEY_LEN);
        bb_u32(b, BITNET_VALUE_UINT32);
        bb_u32(b, w->alignment);
    }
    uint64_t rel = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        const tensor_rec *t = &w->t[i];
        align_up(rel, w->alignment, &rel); /* cannot overflow: layout succeeded */
        bb_gguf_string(b, t->name, t->name_len);
        bb_u32(b, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++)
            bb_u64(b, (uint64_t)t->ne[d]);
        bb_u32(b, t->type);
        bb_u64(b, rel);
        rel += t->nbytes;
    }
    bb_zeros(b, (size_t)(lay->data - b->len));
    return b->failed ? BITNET_ERR_OUT_OF_MEMORY : BITNET_OK;
}

bitnet_status bn_gguf_writer_to_memory(const bn_gguf_writer *w, void **out, size_t *out_size, bn_gguf_layout *layout)
{
    if (out)
        *out = NULL;
    if (out_size)
        *out_size = 0;
    if (!w || !out || !out_size)
        return BITNET_ERR_INVALID_ARGUMENT;
    bn_gguf_layout lay;
    bitnet_status st = bn_gguf_writer_layout(w, &lay);
    if (st != BITNET_OK)
        return st;
    if (lay.size > SIZE_MAX)
        return BITNET_ERR_OUT_OF_MEMORY;
    byte_buf meta = {0};
    st = build_meta(w, &lay, &meta);
    /* calloc: the gaps between tensors are the zero padding. */
    uint8_t *buf = st == BITNET_OK ? calloc(1, (size_t)lay.size) : NULL;
    if (st == BITNET_OK && !buf)
        st = BITNET_ERR_OUT_OF_MEMORY;
    if (st != BITNET_OK) {
        free(meta.p);
        return st;
    }
    memcpy(buf, meta.p, meta.len);
    free(meta.p);
    uint64_t rel = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        align_up(rel, w->alignment, &rel);
        if (w->t[i].data && w->t[i].nbytes)
            memcpy(buf + lay.data + rel, w->t[i].data, (size_t)w->t[i].nbytes);
        rel += w->t[i].nbytes;
    }
    *out = buf;
    *out_size = (size_t)lay.size;
    if (layout)
        *layout = lay;
    return BITNET_OK;
}

static bool write_zeros(FILE *fp, uint64_t n)
{
    static const uint8_t zeros[4096];
    while (n) {
        size_t chunk = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);
        if (fwrite(zeros, 1, chunk, fp) != chunk)
            return false;
        n -= chunk;
    }
    return true;
}

/* Tensor bytes in chunks, so nbytes larger than SIZE_MAX cannot truncate. */
static bool write_data(FILE *fp, const void *data, uint64_t n)
{
    if (!data)
        return write_zeros(fp, n);
    const uint8_t *p = data;
    while (n) {
        size_t chunk = n < ((size_t)1 << 30) ? (size_t)n : ((size_t)1 << 30);
        if (fwrite(p, 1, chunk, fp) != chunk)
            return false;
        p += chunk;
        n -= chunk;
    }
    return true;
}

bitnet_status bn_gguf_writer_to_stream(const bn_gguf_writer *w, FILE *fp)
{
    if (!w || !fp)
        return BITNET_ERR_INVALID_ARGUMENT;
    bn_gguf_layout lay;
    bitnet_status st = bn_gguf_writer_layout(w, &lay);
    if (st != BITNET_OK)
        return st;
    byte_buf meta = {0};
    st = build_meta(w, &lay, &meta);
    bool ok = st == BITNET_OK && fwrite(meta.p, 1, meta.len, fp) == meta.len;
    free(meta.p);
    if (st != BITNET_OK)
        return st;
    uint64_t pos = 0; /* relative to the data section */
    for (size_t i = 0; ok && i < w->n_t; i++) {
        uint64_t start = pos;
        align_up(pos, w->alignment, &start);
        ok = write_zeros(fp, start - pos) && write_data(fp, w->t[i].data, w->t[i].nbytes);
        pos = start + w->t[i].nbytes;
    }
    ok = ok && write_zeros(fp, lay.size - lay.data - pos);
    return ok ? BITNET_OK : BITNET_ERR_IO;
}

bitnet_status bn_gguf_writer_to_file(const bn_gguf_writer *w, const char *path)
{
    if (!w || !path)
        return BITNET_ERR_INVALID_ARGUMENT;
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return BITNET_ERR_IO;
    bitnet_status st = bn_gguf_writer_to_stream(w, fp);
    if (fclose(fp) != 0 && st == BITNET_OK)
        st = BITNET_ERR_IO;
    if (st != BITNET_OK)
        remove(path);
    return st;
}
