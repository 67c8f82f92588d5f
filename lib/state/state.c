/* State files: a context's KV cache, tokens and last logits, and a
 * sampler's random stream and penalty history, as one zstd frame behind a
 * fixed header (layout: state_format.h).
 *
 * Loading trusts nothing: the header is checked against the context field
 * by field, with overflow-checked sizes, before anything is allocated; the
 * frame must declare exactly the payload size and carry a checksum; it is
 * decompressed into a temporary buffer, every token is range-checked, and
 * only then is the state copied into the context and the sampler. A failed
 * load leaves both as they were. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "context/context_internal.h"
#include "core/alloc.h"
#include "core/checked.h"
#include "core/error.h"
#include "sampler/sampler_internal.h"
#include "state/fingerprint.h"
#include "state/state_format.h"

#define ZSTD_LEVEL 3
#define ZSTD_FRAME_MAGIC 0xFD2FB528u
/* Frame header descriptor bits (RFC 8878, 3.1.1.1.1). */
#define FHD_DICT_ID 0x03u
#define FHD_CHECKSUM 0x04u
#define FHD_RESERVED 0x08u
#define FHD_UNUSED 0x10u

/* ---- little-endian fields ----------------------------------------------- */

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/* ---- header --------------------------------------------------------------- */

static uint64_t kv_elem_bytes(uint32_t kv_type)
{
    return kv_type == BITNET_TYPE_F16 ? 2 : 4;
}

bool bn_state_payload_size(const bn_state_header *h, uint64_t *out)
{
    uint64_t tokens, kv, logits, sampler = 0, sum;
    if (!bn_mul_u64(h->n_past, 4, &tokens) || !bn_mul_u64((uint64_t)h->n_layer * 2, h->n_past, &kv) ||
        !bn_mul_u64(kv, h->kv_dim, &kv) || !bn_mul_u64(kv, kv_elem_bytes(h->kv_type), &kv) ||
        !bn_mul_u64(h->n_logits, h->n_vocab, &logits) || !bn_mul_u64(logits, 4, &logits))
        return false;
    if (h->flags & BN_STATE_FLAG_SAMPLER)
        sampler = 32 + (uint64_t)h->n_history * 4;
    if (!bn_add_u64(tokens, kv, &sum) || !bn_add_u64(sum, logits, &sum) || !bn_add_u64(sum, sampler, &sum))
        return false;
    *out = sum;
    return true;
}

void bn_state_header_write(const bn_state_header *h, uint8_t out[BN_STATE_HEADER_SIZE])
{
    memset(out, 0, BN_STATE_HEADER_SIZE);
    memcpy(out, BN_STATE_MAGIC, 8);
    put_u32(out + BN_STATE_OFF_VERSION, BN_STATE_VERSION);
    put_u32(out + BN_STATE_OFF_HEADER_SIZE, BN_STATE_HEADER_SIZE);
    memcpy(out + BN_STATE_OFF_FINGERPRINT, h->fingerprint, 32);
    put_u32(out + BN_STATE_OFF_KV_TYPE, h->kv_type);
    put_u32(out + BN_STATE_OFF_N_LAYER, h->n_layer);
    put_u32(out + BN_STATE_OFF_KV_DIM, h->kv_dim);
    put_u32(out + BN_STATE_OFF_N_VOCAB, h->n_vocab);
    put_u32(out + BN_STATE_OFF_N_PAST, h->n_past);
    put_u32(out + BN_STATE_OFF_N_LOGITS, h->n_logits);
    put_u32(out + BN_STATE_OFF_FLAGS, h->flags);
    put_u32(out + BN_STATE_OFF_N_HISTORY, h->n_history);
    put_u64(out + BN_STATE_OFF_PAYLOAD_SIZE, h->payload_size);
}

bitnet_status bn_state_header_read(const uint8_t *p, size_t size, bn_state_header *h)
{
    if (size < BN_STATE_HEADER_SIZE)
        return bn_error(BITNET_ERR_BAD_FORMAT, "state is %zu bytes, shorter than its %u-byte header", size,
                        BN_STATE_HEADER_SIZE);
    if (memcmp(p, BN_STATE_MAGIC, 8) != 0)
        return bn_error(BITNET_ERR_BAD_FORMAT, "not a libbitnet state (bad magic)");
    uint32_t version = get_u32(p + BN_STATE_OFF_VERSION), hsize = get_u32(p + BN_STATE_OFF_HEADER_SIZE);
    if (version != BN_STATE_VERSION)
        return bn_error(BITNET_ERR_BAD_FORMAT, "state format version %u; this library reads version %u", version,
                        BN_STATE_VERSION);
    if (hsize != BN_STATE_HEADER_SIZE || get_u64(p + BN_STATE_OFF_RESERVED) != 0)
        return bn_error(BITNET_ERR_BAD_FORMAT, "state header is damaged (size %u, reserved bytes not zero)", hsize);
    memcpy(h->fingerprint, p + BN_STATE_OFF_FINGERPRINT, 32);
    h->kv_type = get_u32(p + BN_STATE_OFF_KV_TYPE);
    h->n_layer = get_u32(p + BN_STATE_OFF_N_LAYER);
    h->kv_dim = get_u32(p + BN_STATE_OFF_KV_DIM);
    h->n_vocab = get_u32(p + BN_STATE_OFF_N_VOCAB);
    h->n_past = get_u32(p + BN_STATE_OFF_N_PAST);
    h->n_logits = get_u32(p + BN_STATE_OFF_N_LOGITS);
    h->flags = get_u32(p + BN_STATE_OFF_FLAGS);
    h->n_history = get_u32(p + BN_STATE_OFF_N_HISTORY);
    h->payload_size = get_u64(p + BN_STATE_OFF_PAYLOAD_SIZE);
    if (h->kv_type != BITNET_TYPE_F32 && h->kv_type != BITNET_TYPE_F16)
        return bn_error(BITNET_ERR_BAD_FORMAT, "state KV type %u is not f32 or f16", h->kv_type);
    if (h->flags & ~BN_STATE_FLAG_SAMPLER)
        return bn_error(BITNET_ERR_BAD_FORMAT, "state flags 0x%x hold unknown bits", h->flags);
    if (!(h->flags & BN_STATE_FLAG_SAMPLER) && h->n_history)
        return bn_error(BITNET_ERR_BAD_FORMAT, "state has %u history tokens but no sampler", h->n_history);
    if (h->n_history > BN_STATE_MAX_HISTORY)
        return bn_error(BITNET_ERR_BAD_FORMAT, "state sampler history of %u tokens exceeds the limit of %d",
                        h->n_history, BN_STATE_MAX_HISTORY);
    if (h->n_logits > h->n_past)
        return bn_error(BITNET_ERR_BAD_FORMAT, "state has %u logits rows for %u positions", h->n_logits,
                        h->n_past);
    uint64_t want;
    if (!bn_state_payload_size(h, &want) || want != h->payload_size)
        return bn_error(BITNET_ERR_BAD_FORMAT, "state payload size %llu does not match its counts",
                        (unsigned long long)h->payload_size);
    return BITNET_OK;
}

/* ---- byte planes ---------------------------------------------------------- */

/* n elements of e bytes at src, as e planes of n bytes at dst. */
static void to_planes(uint8_t *dst, const uint8_t *src, size_t n, size_t e)
{
    for (size_t j = 0; j < e; j++) {
        uint8_t *d = dst + j * n;
        const uint8_t *s = src + j;
        for (size_t i = 0; i < n; i++)
            d[i] = s[i * e];
    }
}

/* Elements [first, first + count) of the n in planes at src, interleaved at dst. */
static void from_planes(uint8_t *dst, const uint8_t *src, size_t n, size_t e, size_t first, size_t count)
{
    for (size_t j = 0; j < e; j++) {
        const uint8_t *s = src + j * n + first;
        uint8_t *d = dst + j;
        for (size_t i = 0; i < count; i++)
            d[i * e] = s[i];
    }
}

/* ---- the context's side ----------------------------------------------- */

/* The header that describes ctx now (sampler fields left to the caller). */
static void describe(const bitnet_context *ctx, bn_state_header *h)
{
    const bn_hparams *hp = &ctx->am.hp;
    memset(h, 0, sizeof *h);
    bn_model_fingerprint(ctx->model, h->fingerprint);
    h->kv_type = ctx->params.kv_type;
    h->n_layer = (uint32_t)hp->n_layer;
    h->kv_dim = (uint32_t)(hp->n_head_kv * hp->head_dim);
    h->n_vocab = (uint32_t)hp->n_vocab;
    h->n_past = (uint32_t)ctx->n_past;
    h->n_logits = (uint32_t)ctx->n_logits;
}

static void hex8(const uint8_t *d, char out[17])
{
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Does the state fit this context? Everything but the sampler. */
static bitnet_status check_fits(const bitnet_context *ctx, const bn_state_header *h)
{
    bn_state_header mine;
    describe(ctx, &mine);
    if (memcmp(h->fingerprint, mine.fingerprint, 32) != 0) {
        char a[17], b[17];
        hex8(h->fingerprint, a);
        hex8(mine.fingerprint, b);
        return bn_error(BITNET_ERR_BAD_FORMAT,
                        "state is from another model: its model fingerprint is %s..., this context's model is %s...",
                        a, b);
    }
    if (h->kv_type != mine.kv_type)
        return bn_error(BITNET_ERR_BAD_FORMAT, "state KV cache is %s, this context's is %s",
                        bitnet_type_name(h->kv_type), bitnet_type_name(mine.kv_type));
    if (h->n_layer != mine.n_layer || h->kv_dim != mine.kv_dim || h->n_vocab != mine.n_vocab)
        return bn_error(BITNET_ERR_BAD_FORMAT,
                        "state shape (%u layers, KV dim %u, vocabulary %u) differs from the context's (%u, %u, %u)",
                        h->n_layer, h->kv_dim, h->n_vocab, mine.n_layer, mine.kv_dim, mine.n_vocab);
    if (h->n_past > (uint32_t)ctx->n_ctx)
        return bn_error(BITNET_ERR_OUT_OF_RANGE, "state holds %u positions; the context has room for %d", h->n_past,
                        ctx->n_ctx);
    return BITNET_OK;
}

/* ---- save ----------------------------------------------------------------- */

static bitnet_status zstd_status(size_t code, bitnet_status otherwise, const char *what)
{
    bitnet_status s = ZSTD_getErrorCode(code) == ZSTD_error_memory_allocation ? BITNET_ERR_OUT_OF_MEMORY : otherwise;
    return bn_error(s, "%s: %s", what, ZSTD_getErrorName(code));
}

/* The uncompressed payload of ctx (and sampler) into a new buffer. */
static bitnet_status build_payload(const bitnet_context *ctx, const bitnet_sampler *smp, const bn_state_header *h,
                                   uint8_t **out)
{
    uint8_t *pl = bn_malloc((size_t)h->payload_size);
    bitnet_token *hist = smp ? bn_malloc((size_t)h->n_history * sizeof *hist) : NULL;
    if (!pl || (smp && !hist)) {
        bn_free(pl);
        bn_free(hist);
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate %llu bytes of state",
                        (unsigned long long)h->payload_size);
    }
    uint8_t *p = pl;
    for (uint32_t i = 0; i < h->n_past; i++, p += 4)
        put_u32(p, (uint32_t)ctx->tokens[i]);
    const size_t e = ctx->kv_elem, n = (size_t)h->n_past * h->kv_dim;
    for (uint32_t l = 0; l < h->n_layer; l++) {
        to_planes(p, ctx->k_cache[l], n, e);
        p += n * e;
        to_planes(p, ctx->v_cache[l], n, e);
        p += n * e;
    }
    const size_t n_logits = (size_t)h->n_logits * h->n_vocab;
    to_planes(p, (const uint8_t *)ctx->logits, n_logits, 4);
    p += n_logits * 4;
    if (smp) {
        uint64_t rng[4];
        bn_sampler_get_rng(smp, rng);
        for (int i = 0; i < 4; i++, p += 8)
            put_u64(p, rng[i]);
        bn_sampler_get_history(smp, hist);
        for (uint32_t i = 0; i < h->n_history; i++, p += 4)
            put_u32(p, (uint32_t)hist[i]);
        bn_free(hist);
    }
    *out = pl;
    return BITNET_OK;
}

/* ceil(log2(n)) within zstd's window limits: a window as large as the
 * payload gives a single-segment frame (no window descriptor to trust). */
static int window_log(uint64_t n)
{
    ZSTD_bounds b = ZSTD_cParam_getBounds(ZSTD_c_windowLog);
    int wl = 0;
    while (wl < 63 && ((uint64_t)1 << wl) < n)
        wl++;
    return wl < b.lowerBound ? b.lowerBound : wl > b.upperBound ? b.upperBound : wl;
}

static bitnet_status compress_payload(const uint8_t *pl, size_t n, uint8_t *dst, size_t cap, size_t *written)
{
    ZSTD_CCtx *z = ZSTD_createCCtx();
    if (!z)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot create a zstd compression context");
    size_t r = ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, ZSTD_LEVEL);
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1);
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(z, ZSTD_c_contentSizeFlag, 1);
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(z, ZSTD_c_windowLog, window_log(n));
    if (!ZSTD_isError(r))
        r = ZSTD_compress2(z, dst, cap, pl, n);
    ZSTD_freeCCtx(z);
    if (ZSTD_isError(r))
        return zstd_status(r, BITNET_ERR_INTERNAL, "zstd compression failed");
    *written = r;
    return BITNET_OK;
}

/* The whole state (header and frame) into a new buffer of *size bytes. */
static bitnet_status encode(const bitnet_context *ctx, const bitnet_sampler *smp, uint8_t **out, size_t *size)
{
    bn_state_header h;
    describe(ctx, &h);
    if (smp) {
        h.flags = BN_STATE_FLAG_SAMPLER;
        h.n_history = (uint32_t)bn_sampler_get_history(smp, NULL);
        if (h.n_history > BN_STATE_MAX_HISTORY)
            return bn_error(BITNET_ERR_UNSUPPORTED, "sampler history of %u tokens exceeds the state limit of %d",
                            h.n_history, BN_STATE_MAX_HISTORY);
    }
    /* The context holds all of this in memory already, but check anyway. */
    if (!bn_state_payload_size(&h, &h.payload_size) || h.payload_size > SIZE_MAX - BN_STATE_HEADER_SIZE)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "state is too large to address");
    const size_t bound = ZSTD_compressBound((size_t)h.payload_size);
    if (bound == 0 || ZSTD_isError(bound) || bound > SIZE_MAX - BN_STATE_HEADER_SIZE)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "state of %llu bytes is too large to compress",
                        (unsigned long long)h.payload_size);
    uint8_t *pl = NULL;
    bitnet_status s = build_payload(ctx, smp, &h, &pl);
    if (s)
        return s;
    uint8_t *buf = bn_malloc(BN_STATE_HEADER_SIZE + bound);
    size_t n = 0;
    if (!buf)
        s = bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes for the compressed state",
                     BN_STATE_HEADER_SIZE + bound);
    else
        s = compress_payload(pl, (size_t)h.payload_size, buf + BN_STATE_HEADER_SIZE, bound, &n);
    bn_free(pl);
    if (s) {
        bn_free(buf);
        return s;
    }
    bn_state_header_write(&h, buf);
    *out = buf;
    *size = BN_STATE_HEADER_SIZE + n;
    return BITNET_OK;
}

bitnet_status bitnet_context_state_save_memory(const bitnet_context *ctx, const bitnet_sampler *sampler, void *buf,
                                               size_t capacity, size_t *size)
{
    if (!ctx || !size || (!buf && capacity))
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_context_state_save_memory: NULL argument");
    *size = 0;
    uint8_t *state = NULL;
    size_t n = 0;
    bitnet_status s = encode(ctx, sampler, &state, &n);
    if (s)
        return s;
    *size = n;
    if (n > capacity) {
        bn_free(state);
        return bn_error(BITNET_ERR_BUFFER_TOO_SMALL, "state of %zu bytes does not fit in a capacity of %zu", n,
                        capacity);
    }
    memcpy(buf, state, n);
    bn_free(state);
    return BITNET_OK;
}

static bitnet_status write_all(int fd, const uint8_t *p, size_t n, const char *path)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return bn_error(BITNET_ERR_IO, "%s: write failed: %s", path, w < 0 ? strerror(errno) : "no progress");
        p += w;
        n -= (size_t)w;
    }
    return BITNET_OK;
}

/* Write to PATH.tmp.PID.N next to it, then rename over PATH: readers see
 * the old file or the whole new one, never a part. */
bitnet_status bitnet_context_state_save(const bitnet_context *ctx, const bitnet_sampler *sampler, const char *path)
{
    static atomic_uint counter;
    if (!ctx || !path || !*path)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_context_state_save: NULL argument");
    uint8_t *state = NULL;
    size_t n = 0;
    bitnet_status s = encode(ctx, sampler, &state, &n);
    if (s)
        return s;
    const size_t tmp_cap = strlen(path) + 48;
    char *tmp = bn_malloc(tmp_cap);
    if (!tmp) {
        bn_free(state);
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate a file name");
    }
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 100; tries++) {
        snprintf(tmp, tmp_cap, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&counter, 1));
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        s = bn_error(BITNET_ERR_IO, "%s: cannot create a temporary file next to it: %s", path, strerror(errno));
    } else {
        s = write_all(fd, state, n, tmp);
        if (!s && fsync(fd) != 0)
            s = bn_error(BITNET_ERR_IO, "%s: fsync failed: %s", tmp, strerror(errno));
        if (close(fd) != 0 && !s)
            s = bn_error(BITNET_ERR_IO, "%s: close failed: %s", tmp, strerror(errno));
        if (!s && rename(tmp, path) != 0)
            s = bn_error(BITNET_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        if (s)
            unlink(tmp);
    }
    bn_free(tmp);
    bn_free(state);
    return s;
}

/* ---- load ----------------------------------------------------------------- */

/* The frame after the header: one zstd frame with a checksum, declaring
 * exactly the payload size, and nothing after it. */
static bitnet_status check_frame(const uint8_t *f, size_t n, uint64_t payload_size)
{
    if (n < 6 || get_u32(f) != ZSTD_FRAME_MAGIC)
        return bn_error(BITNET_ERR_BAD_FORMAT, "state payload is not a zstd frame");
    const uint8_t fhd = f[4];
    if (!(fhd & FHD_CHECKSUM) || (fhd & (FHD_DICT_ID | FHD_RESERVED | FHD_UNUSED)))
        return bn_error(BITNET_ERR_BAD_FORMAT,
                        "state zstd frame header 0x%02x: a checksum is required, a dictionary not allowed", fhd);
    unsigned long long content = ZSTD_getFrameContentSize(f, n);
    if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN)
        return bn_error(BITNET_ERR_BAD_FORMAT, "state zstd frame does not declare its size");
    if (content != payload_size)
        return bn_error(BITNET_ERR_BAD_FORMAT, "state zstd frame holds %llu bytes; the header says %llu", content,
                        (unsigned long long)payload_size);
    size_t frame = ZSTD_findFrameCompressedSize(f, n);
    if (ZSTD_isError(frame))
        return bn_error(BITNET_ERR_BAD_FORMAT, "state zstd frame is truncated or damaged: %s",
                        ZSTD_getErrorName(frame));
    if (frame != n)
        return bn_error(BITNET_ERR_BAD_FORMAT, "state has %zu bytes after its zstd frame", n - frame);
    return BITNET_OK;
}

static bitnet_status decompress(const uint8_t *f, size_t n, uint8_t *dst, size_t size)
{
    ZSTD_DCtx *z = ZSTD_createDCtx();
    if (!z)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot create a zstd decompression context");
    size_t r = ZSTD_decompressDCtx(z, dst, size, f, n);
    ZSTD_freeDCtx(z);
    if (ZSTD_isError(r))
        return zstd_status(r, BITNET_ERR_BAD_FORMAT, "state payload is damaged");
    if (r != size)
        return bn_error(BITNET_ERR_BAD_FORMAT, "state payload is %zu bytes; the header says %zu", r, size);
    return BITNET_OK;
}

/* Where each part of a decompressed payload starts. */
typedef struct payload_view {
    const uint8_t *tokens, *kv, *logits, *rng, *history;
} payload_view;

static payload_view view_of(const uint8_t *pl, const bn_state_header *h)
{
    payload_view v;
    const size_t kv_bytes =
        (size_t)h->n_layer * 2 * (size_t)h->n_past * h->kv_dim * (size_t)kv_elem_bytes(h->kv_type);
    v.tokens = pl;
    v.kv = v.tokens + (size_t)h->n_past * 4;
    v.logits = v.kv + kv_bytes;
    v.rng = v.logits + (size_t)h->n_logits * h->n_vocab * 4;
    v.history = v.rng + 32;
    return v;
}

/* Checks of the payload's contents: token ids, the random state. */
static bitnet_status check_payload(const payload_view *v, const bn_state_header *h, uint64_t rng[4])
{
    for (uint32_t i = 0; i < h->n_past; i++) {
        uint32_t t = get_u32(v->tokens + 4 * (size_t)i);
        if (t >= h->n_vocab)
            return bn_error(BITNET_ERR_BAD_FORMAT, "state token %u at position %u is outside the vocabulary", t, i);
    }
    if (!(h->flags & BN_STATE_FLAG_SAMPLER))
        return BITNET_OK;
    for (int i = 0; i < 4; i++)
        rng[i] = get_u64(v->rng + 8 * i);
    if ((rng[0] | rng[1] | rng[2] | rng[3]) == 0)
        return bn_error(BITNET_ERR_BAD_FORMAT, "state sampler random state is all zero");
    for (uint32_t i = 0; i < h->n_history; i++) {
        uint32_t t = get_u32(v->history + 4 * (size_t)i);
        if (t >= h->n_vocab)
            return bn_error(BITNET_ERR_BAD_FORMAT, "state sampler history token %u is outside the vocabulary", t);
    }
    return BITNET_OK;
}

/* Copy a checked payload into the context; nothing here can fail.
 * `logits` is a new logits buffer when the old one is too small, else NULL. */
static void commit_context(bitnet_context *ctx, const payload_view *v, const bn_state_header *h, float *logits)
{
    for (uint32_t i = 0; i < h->n_past; i++)
        ctx->tokens[i] = (bitnet_token)get_u32(v->tokens + 4 * (size_t)i);
    const size_t e = ctx->kv_elem, n = (size_t)h->n_past * h->kv_dim;
    const uint8_t *p = v->kv;
    for (uint32_t l = 0; l < h->n_layer; l++) {
        from_planes(ctx->k_cache[l], p, n, e, 0, n);
        p += n * e;
        from_planes(ctx->v_cache[l], p, n, e, 0, n);
        p += n * e;
    }
    if (logits) {
        bn_free(ctx->logits);
        ctx->logits = logits;
        ctx->logits_cap = (int32_t)h->n_logits;
    }
    /* All rows with logits_all; else the last row is the one that counts. */
    const size_t nv = h->n_vocab, all = (size_t)h->n_logits * nv;
    const uint32_t rows = ctx->logits_all_rows || h->n_logits == 0 ? h->n_logits : 1;
    from_planes((uint8_t *)ctx->logits, v->logits, all, 4, all - rows * nv, rows * nv);
    ctx->n_logits = (int32_t)rows;
    ctx->n_past = (int32_t)h->n_past;
    ctx->stats.n_state_loads++;
}

bitnet_status bitnet_context_state_load_memory(bitnet_context *ctx, bitnet_sampler *sampler, const void *data,
                                               size_t size)
{
    if (!ctx || (!data && size))
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_context_state_load_memory: NULL argument");
    const uint8_t *p = data;
    bn_state_header h;
    bitnet_status s = bn_state_header_read(p, size, &h);
    if (!s)
        s = check_fits(ctx, &h);
    if (!s && h.payload_size > SIZE_MAX)
        s = bn_error(BITNET_ERR_OUT_OF_MEMORY, "state payload of %llu bytes cannot be addressed",
                     (unsigned long long)h.payload_size);
    if (!s)
        s = check_frame(p + BN_STATE_HEADER_SIZE, size - BN_STATE_HEADER_SIZE, h.payload_size);
    if (s)
        return s;

    /* Everything fallible first, into temporaries. */
    uint8_t *pl = bn_malloc((size_t)h.payload_size);
    if (!pl)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate %llu bytes to decompress the state",
                        (unsigned long long)h.payload_size);
    s = decompress(p + BN_STATE_HEADER_SIZE, size - BN_STATE_HEADER_SIZE, pl, (size_t)h.payload_size);
    const payload_view v = view_of(pl, &h);
    uint64_t rng[4] = {0};
    if (!s)
        s = check_payload(&v, &h, rng);
    const bool use_sampler = sampler && (h.flags & BN_STATE_FLAG_SAMPLER);
    float *logits = NULL;
    bitnet_token *hist = NULL;
    if (!s && ctx->logits_all_rows && (int32_t)h.n_logits > ctx->logits_cap) {
        logits = bn_malloc((size_t)h.n_logits * h.n_vocab * sizeof *logits);
        if (!logits)
            s = bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot hold %u rows of logits", h.n_logits);
    }
    if (!s && use_sampler) {
        hist = bn_malloc((size_t)h.n_history * sizeof *hist);
        if (!hist) {
            s = bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate the sampler history");
        } else {
            for (uint32_t i = 0; i < h.n_history; i++)
                hist[i] = (bitnet_token)get_u32(v.history + 4 * (size_t)i);
            /* The last fallible step: it replaces the history only on success. */
            s = bn_sampler_set_history(sampler, hist, (int32_t)h.n_history);
        }
    }
    if (s) {
        bn_free(logits);
        bn_free(hist);
        bn_free(pl);
        return s;
    }
    /* Commit. */
    if (use_sampler)
        bn_sampler_set_rng(sampler, rng); /* non-zero: checked above */
    commit_context(ctx, &v, &h, logits);
    bn_free(hist);
    bn_free(pl);
    return BITNET_OK;
}

/* Reads exactly n bytes at offset `at` (pread: the file position stays). */
static bitnet_status read_at(int fd, const char *path, uint8_t *buf, size_t n, uint64_t at)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(at + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return bn_error(BITNET_ERR_IO, "%s: read failed at byte %llu of %zu: %s", path,
                            (unsigned long long)(at + got), n, r < 0 ? strerror(errno) : "file shrank");
        got += (size_t)r;
    }
    return BITNET_OK;
}

/* The whole file into memory (prefixing errors with the path). Its header
 * is read and checked against the context first: a file that holds no
 * state for this context, or is larger than any state its header
 * describes can be (the header, then zstd's bound for that payload), is
 * refused before anything is allocated for it. */
static bitnet_status read_file(const bitnet_context *ctx, const char *path, uint8_t **out, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bn_error(BITNET_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    bitnet_status s = BITNET_OK;
    if (fstat(fd, &st) != 0)
        s = bn_error(BITNET_ERR_IO, "%s: stat failed: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        s = bn_error(BITNET_ERR_IO, "%s: not a regular file", path);
    else if ((uint64_t)st.st_size > SIZE_MAX)
        s = bn_error(BITNET_ERR_OUT_OF_MEMORY, "%s: file too large to address", path);
    const uint64_t file_size = s ? 0 : (uint64_t)st.st_size;
    if (!s && file_size > BN_STATE_HEADER_SIZE) {
        uint8_t head[BN_STATE_HEADER_SIZE];
        bn_state_header h;
        s = read_at(fd, path, head, sizeof head, 0);
        if (!s && ((s = bn_state_header_read(head, sizeof head, &h)) || (s = check_fits(ctx, &h)))) {
            char msg[BN_ERROR_MAX];
            snprintf(msg, sizeof msg, "%s: %s", path, bn_error_message());
            bn_error_set_message(msg);
        }
        if (!s) {
            const size_t bound = h.payload_size <= SIZE_MAX ? ZSTD_compressBound((size_t)h.payload_size) : 0;
            if (bound == 0 || ZSTD_isError(bound) || bound > SIZE_MAX - BN_STATE_HEADER_SIZE)
                s = bn_error(BITNET_ERR_OUT_OF_MEMORY, "%s: state payload of %llu bytes cannot be addressed", path,
                             (unsigned long long)h.payload_size);
            else if (file_size > BN_STATE_HEADER_SIZE + bound)
                s = bn_error(BITNET_ERR_BAD_FORMAT,
                             "%s: state file is %llu bytes; a state with this header takes at most %llu", path,
                             (unsigned long long)file_size, (unsigned long long)(BN_STATE_HEADER_SIZE + bound));
        }
    }
    uint8_t *buf = NULL;
    const size_t n = (size_t)file_size;
    if (!s && !(buf = bn_malloc(n)))
        s = bn_error(BITNET_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", path, n);
    if (!s)
        s = read_at(fd, path, buf, n, 0);
    close(fd);
    if (s) {
        bn_free(buf);
        return s;
    }
    *out = buf;
    *size = n;
    return BITNET_OK;
}

bitnet_status bitnet_context_state_load(bitnet_context *ctx, bitnet_sampler *sampler, const char *path)
{
    if (!ctx || !path)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_context_state_load: NULL argument");
    uint8_t *buf = NULL;
    size_t n = 0;
    bitnet_status s = read_file(ctx, path, &buf, &n);
    if (s)
        return s;
    s = bitnet_context_state_load_memory(ctx, sampler, buf, n);
    bn_free(buf);
    if (s) {
        char msg[BN_ERROR_MAX];
        snprintf(msg, sizeof msg, "%s: %s", path, bn_error_message());
        bn_error_set_message(msg);
    }
    return s;
}
