#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "loader/hf.h"
#include "loader/safetensors.h"
#include "quant/quant.h"
#include "model/model_internal.h"

bitnet_model_params bitnet_model_params_default(void)
{
    bitnet_model_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.use_mmap = true;
    p.cache_bytes = 0;
    p.head_type = -1;
    p.prefetch = true;
    p.repack = false;
    return p;
}

/* Copy the caller's params, honouring a smaller (older) struct_size. */
static bitnet_status read_params(const bitnet_model_params *in, bitnet_model_params *out)
{
    *out = bitnet_model_params_default();
    if (!in)
        return BITNET_OK;
    if (in->struct_size < offsetof(bitnet_model_params, use_mmap) + sizeof in->use_mmap ||
        in->struct_size > sizeof *out)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT,
                        "bitnet_model_params.struct_size is %zu; initialise it with bitnet_model_params_default()",
                        in->struct_size);
    memcpy(out, in, in->struct_size);
    out->struct_size = sizeof *out;
    if (out->head_type != -1) {
        const bn_type_traits *tr = bn_type_traits_get((uint32_t)out->head_type);
        if (out->head_type < 0 || !tr || !tr->quantize || !tr->dequantize_row || tr->tail_bytes)
            return bn_error(BITNET_ERR_INVALID_ARGUMENT, "head_type %d cannot hold an output head", out->head_type);
    }
    return BITNET_OK;
}

static void model_free(bitnet_model *m)
{
    bn_tokenizer_free(m->tokenizer); /* tokenizer: borrows the GGUF strings, so goes first */
    bn_free(m->head_data);
    bn_free(m->repack_arena);
    bn_free(m->repacked);
    pthread_mutex_destroy(&m->head_lock);
    pthread_mutex_destroy(&m->tokenizer_lock);
    bn_prefetcher_free(m->prefetcher); /* its worker uses the store */
    bn_store_free(m->store);
    bn_gguf_free(&m->gguf);
    bn_source_close(&m->source);
    pthread_mutex_destroy(&m->error_lock);
    bn_free(m);
}

/* Takes ownership of `src` (and of `built`, tables already built from a
 * Hugging Face directory; NULL: parse `src` as GGUF) whatever the outcome. */
static bitnet_status finish_load(bn_source *src, bn_gguf *built, const bitnet_model_params *params, const char *what,
                                 bitnet_model **out)
{
    bitnet_model *m = bn_calloc(1, sizeof *m);
    if (!m) {
        if (built)
            bn_gguf_free(built);
        bn_source_close(src);
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate the model");
    }
    if (pthread_mutex_init(&m->error_lock, NULL) != 0 || pthread_mutex_init(&m->head_lock, NULL) != 0) {
        if (built)
            bn_gguf_free(built);
        bn_source_close(src);
        bn_free(m);
        return bn_error(BITNET_ERR_INTERNAL, "cannot create the model lock");
    }
    if (pthread_mutex_init(&m->tokenizer_lock, NULL) != 0) { /* tokenizer */
        pthread_mutex_destroy(&m->error_lock);
        if (built)
            bn_gguf_free(built);
        bn_source_close(src);
        bn_free(m);
        return bn_error(BITNET_ERR_INTERNAL, "cannot create the tokenizer lock");
    }
    m->source = *src;
    m->params = *params;
    atomic_init(&m->refs, 1);
    bitnet_status s = BITNET_OK;
    if (built)
        m->gguf = *built;
    else
        s = bn_gguf_parse(&m->gguf, m->source.data, m->source.size);
    if (s == BITNET_OK)
        s = bn_store_new(params->cache_bytes, m->gguf.n_tensors, &m->store);
    if (s == BITNET_OK && params->prefetch)
        m->prefetcher = bn_prefetcher_new(m->store); /* a hint: NULL runs without */
    if (s != BITNET_OK) {
        /* Prefix the source so the message says which file failed. */
        char msg[BN_ERROR_MAX];
        snprintf(msg, sizeof msg, "%s: %s", what, bn_error_message());
        bn_error_set_message(msg);
        model_free(m);
        return s;
    }
    if (built)
        bn_log(BITNET_LOG_INFO, "%s: Hugging Face model, %lld keys, %lld tensors", what, (long long)m->gguf.n_kv,
               (long long)m->gguf.n_tensors);
    else
        bn_log(BITNET_LOG_INFO, "%s: GGUF v%u, %lld keys, %lld tensors", what, m->gguf.version,
               (long long)m->gguf.n_kv, (long long)m->gguf.n_tensors);
    *out = m;
    return BITNET_OK;
}

/* The message of a failed Hugging Face load, prefixed with the path. */
static bitnet_status hf_failed(const char *path, bitnet_status s)
{
    char msg[BN_ERROR_MAX];
    snprintf(msg, sizeof msg, "%s: %s", path, bn_error_message());
    bn_error_set_message(msg);
    return s;
}

/* Dispatch by content: a directory is a Hugging Face model; a file is GGUF
 * unless its bytes start like SafeTensors (then its directory is the
 * model). */
bitnet_status bitnet_model_load_file(const char *path, const bitnet_model_params *params, bitnet_model **out)
{
    if (!out)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_model_load_file: out is NULL");
    *out = NULL;
    if (!path)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_model_load_file: path is NULL");
    bitnet_model_params p;
    bitnet_status s = read_params(params, &p);
    if (s)
        return s;
    bn_source src;
    bn_gguf hf;
    struct stat st;
    memset(&src, 0, sizeof src);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        if ((s = bn_hf_load(path, false, p.use_mmap, &src, &hf)))
            return hf_failed(path, s);
        return finish_load(&src, &hf, &p, path, out);
    }
    if ((s = bn_source_open_file(&src, path, p.use_mmap)))
        return s;
    if (!(src.size >= 4 && memcmp(src.data, "GGUF", 4) == 0) && bn_safetensors_sniff(src.data, src.size)) {
        if ((s = bn_hf_load(path, true, p.use_mmap, &src, &hf)))
            return hf_failed(path, s);
        return finish_load(&src, &hf, &p, path, out);
    }
    return finish_load(&src, NULL, &p, path, out);
}

bitnet_status bitnet_model_load_memory(const void *data, size_t size, const bitnet_model_params *params,
                                       bitnet_model **out)
{
    if (!out)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_model_load_memory: out is NULL");
    *out = NULL;
    if (!data && size)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_model_load_memory: data is NULL");
    bitnet_model_params p;
    bitnet_status s = read_params(params, &p);
    if (s)
        return s;
    if (data && bn_safetensors_sniff(data, size))
        return bn_error(BITNET_ERR_BAD_FORMAT,
                        "<memory>: SafeTensors data is not a model by itself: load its Hugging Face directory "
                        "(config.json, tokenizer.json) with bitnet_model_load_file");
    bn_source src;
    bn_source_borrow(&src, data ? data : "", size);
    return finish_load(&src, NULL, &p, "<memory>", out);
}

void bitnet_model_retain(bitnet_model *model)
{
    if (model)
        atomic_fetch_add_explicit(&model->refs, 1, memory_order_relaxed);
}

void bitnet_model_release(bitnet_model *model)
{
    if (model && atomic_fetch_sub_explicit(&model->refs, 1, memory_order_acq_rel) == 1)
        model_free(model);
}

bitnet_status bn_model_fail(const bitnet_model *m, bitnet_status status)
{
    bitnet_model *mm = (bitnet_model *)m; /* the error copy is the model's only mutable part */
    pthread_mutex_lock(&mm->error_lock);
    snprintf(mm->last_error, sizeof mm->last_error, "%s", bn_error_message());
    pthread_mutex_unlock(&mm->error_lock);
    return status;
}

/* tokenizer: lazy build; see model_internal.h */
bitnet_status bn_model_tokenizer(const bitnet_model *m, const bn_tokenizer **out)
{
    bitnet_model *mm = (bitnet_model *)m; /* the lazy tokenizer is guarded by its lock */
    pthread_mutex_lock(&mm->tokenizer_lock);
    if (!mm->tokenizer_tried) {
        bitnet_status s = bn_tokenizer_new(&mm->gguf, &mm->tokenizer);
        if (s != BITNET_ERR_OUT_OF_MEMORY) {
            mm->tokenizer_tried = true;
            mm->tokenizer_status = s;
            snprintf(mm->tokenizer_error, sizeof mm->tokenizer_error, "%s", s ? bn_error_message() : "");
        }
        if (s) {
            pthread_mutex_unlock(&mm->tokenizer_lock);
            return bn_model_fail(m, s);
        }
    }
    bitnet_status s = mm->tokenizer_status;
    if (s)
        bn_error(s, "%s", mm->tokenizer_error);
    *out = mm->tokenizer;
    pthread_mutex_unlock(&mm->tokenizer_lock);
    return s ? bn_model_fail(m, s) : BITNET_OK;
}

const char *bitnet_model_last_error(const bitnet_model *model)
{
    /* A per-thread copy: another thread may fail on the model meanwhile. */
    static _Thread_local char copy[BN_ERROR_MAX];
    copy[0] = '\0';
    if (!model)
        return copy;
    bitnet_model *m = (bitnet_model *)model;
    pthread_mutex_lock(&m->error_lock);
    memcpy(copy, m->last_error, sizeof copy);
    pthread_mutex_unlock(&m->error_lock);
    return copy;
}

uint32_t bitnet_model_gguf_version(const bitnet_model *model)
{
    return model ? model->gguf.version : 0;
}

/* Re-quantize `src` (rows of n floats after dequantization) to `type`, in
 * slices of rows so the float copy stays small. */
static bitnet_status requantize(const bitnet_model *m, const bitnet_weights *src, uint32_t type, void **out,
                                bitnet_weights *dst)
{
    const bn_type_traits *from = bn_type_traits_get(src->type), *to = bn_type_traits_get(type);
    if (src->n % to->block_elems != 0)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "head rows of %lld do not split into %s blocks",
                        (long long)src->n, to->name);
    const size_t row_bytes = (size_t)(src->n / to->block_elems * to->block_bytes);
    const int64_t slice = 256;
    uint8_t *data = bn_malloc_weights(row_bytes * (size_t)src->n_rows);
    float *tmp = bn_malloc((size_t)slice * (size_t)src->n * sizeof(float));
    if (!data || !tmp) {
        bn_free(data);
        bn_free(tmp);
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate the re-quantized head");
    }
    for (int64_t r = 0; r < src->n_rows; r += slice) {
        int64_t rows = src->n_rows - r < slice ? src->n_rows - r : slice;
        for (int64_t i = 0; i < rows; i++)
            from->dequantize_row((const uint8_t *)src->data + (size_t)(r + i) * src->row_bytes, tmp + i * src->n,
                                 src->n, src->tail);
        to->quantize(tmp, data + (size_t)r * row_bytes, rows, src->n);
        /* hand back each slice's source pages as soon as it is done, so
         * RSS never holds the whole source and the whole copy at once */
        bn_model_release_pages(m, (const uint8_t *)src->data + (size_t)r * src->row_bytes,
                               (size_t)rows * src->row_bytes);
    }
    bn_free(tmp);
    *dst = (bitnet_weights){type, data, row_bytes, NULL, src->n, src->n_rows};
    *out = data;
    return BITNET_OK;
}

/* The stored head was read once to re-quantize it; a mapped file's pages
 * of it are handed back (they are clean: a later read, such as an embedding
 * row of a tied head, pages the needed rows in again), so RSS holds the
 * copy, not both. Heap and borrowed sources keep theirs. */
void bn_model_release_pages(const bitnet_model *m, const void *data, size_t bytes)
{
    const uint8_t *p = data;
    if (m->source.kind != BN_SOURCE_MMAP || p < m->source.data || p >= m->source.data + m->source.size)
        return; /* not in the file's mapping (e.g. a converted tensor of a Hugging Face model) */
    const long pg = sysconf(_SC_PAGESIZE);
    const uintptr_t mask = (uintptr_t)(pg > 0 ? pg : 4096) - 1;
    const uintptr_t a = ((uintptr_t)p + mask) & ~mask; /* whole pages inside the tensor only */
    const uintptr_t b = ((uintptr_t)p + bytes) & ~mask;
    if (b > a)
        (void)madvise((void *)a, b - a, MADV_DONTNEED);
}

bitnet_status bn_model_head(const bitnet_model *model, bitnet_weights *w)
{
    bitnet_model *m = (bitnet_model *)model; /* the head copy is built once, under its lock */
    if (m->params.head_type < 0 || (uint32_t)m->params.head_type == w->type)
        return BITNET_OK;
    bitnet_status s = BITNET_OK;
    pthread_mutex_lock(&m->head_lock);
    if (!m->head_data) {
        s = requantize(m, w, (uint32_t)m->params.head_type, &m->head_data, &m->head);
        if (!s) {
            bn_log(BITNET_LOG_INFO, "output head re-quantized from %s to %s", bitnet_type_name(w->type),
                   bitnet_type_name(m->head.type));
            bn_model_release_pages(m, w->data, w->row_bytes * (size_t)w->n_rows);
        }
    }
    if (!s)
        *w = m->head;
    pthread_mutex_unlock(&m->head_lock);
    return s;
}
