/* The model object: a file's bytes, its parsed GGUF tables and the weight
 * store. Immutable after load except for the store's cache and the
 * last-error copy, both guarded by locks. */
#ifndef BN_MODEL_INTERNAL_H
#define BN_MODEL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "bitnet.h"
#include "bitnet_experimental.h"
#include "core/error.h"
#include "loader/gguf.h"
#include "loader/source.h"
#include "store/prefetch.h"
#include "store/store.h"
#include "tokenizer/tokenizer.h"

struct bitnet_model {
    atomic_int refs;
    bn_source source;
    bn_gguf gguf;
    bn_store *store;
    bn_prefetcher *prefetcher; /* NULL: params.prefetch off (or no memory) */
    bitnet_model_params params;
    pthread_mutex_t error_lock;
    char last_error[BN_ERROR_MAX];
    /* Tokenizer, built on first use by bn_model_tokenizer (inspecting a
     * model never pays for it); a build failure is kept and reported again. */
    /* Re-quantized output head (params.head_type), built by bn_model_head. */
    pthread_mutex_t head_lock; /* also guards the repacked tensors */
    void *head_data;
    bitnet_weights head;
    /* TQ layer weights re-encoded (params.repack), built by bn_model_repack
     * for the first context: repacked[i] describes tensor i's copy (data
     * NULL: not repacked; the array itself is allocated on first use). */
    bitnet_weights *repacked;
    void *repack_arena; /* one allocation holds every copy */
    bool repack_tried;
    uint64_t repacked_bytes;
    uint64_t repacked_source_bytes; /* stored bytes of the tensors copied */
    pthread_mutex_t tokenizer_lock;
    bn_tokenizer *tokenizer;
    bitnet_status tokenizer_status;
    bool tokenizer_tried;
    char tokenizer_error[BN_ERROR_MAX];
    /* sha256 of the metadata and tensor table, for state files: computed on
     * first use by bn_model_fingerprint (lib/state). fingerprint_state is
     * 0 (not yet), 1 (being stored) or 2 (ready); zero from the calloc. */
    atomic_int fingerprint_state;
    uint8_t fingerprint[32];
};

/* Record the thread's current error message on the model too and return
 * `status`: `return bn_model_fail(m, bn_error(...))`. */
bitnet_status bn_model_fail(const bitnet_model *m, bitnet_status status);

/* The output head re-quantized to params.head_type (built once, shared by
 * every context): fills *w, or leaves it alone when head_type is -1 or the
 * head already has that type. */
bitnet_status bn_model_head(const bitnet_model *m, bitnet_weights *w);

/* params.repack: point the context's TQ1_0 / TQ2_0 / I2_S layer weights at
 * lossless copies with the same results: for TQ, I2_S when every block of
 * the tensor has one finite scale (as BitNet checkpoints converted to TQ
 * have) and the model runs on int8 activations, else TQ2_0 for TQ1_0 (~2.4x
 * less unpacking work per weight for 19% more bytes); I2_S as stored, in
 * huge pages and cache-line aligned (repack.c says why). Built once for the model,
 * the mapped pages handed back. A copy that cannot be allocated leaves that
 * tensor as stored, so this never fails. Sets lin->repacked for the
 * linears it changed. */
struct bn_arch_model;
void bn_model_repack(const bitnet_model *m, struct bn_arch_model *am);

/* Hand back the pages of a mapped tensor's bytes that a copy replaced
 * (clean pages: a later read faults them in again). No-op for heap and
 * borrowed sources. */
void bn_model_release_pages(const bitnet_model *m, const void *data, size_t bytes);

/* The model's tokenizer, built once under tokenizer_lock. A failure (no
 * tokenizer metadata, a bad key) is returned with its message on every
 * call; running out of memory is not kept, so a later call may succeed. */
bitnet_status bn_model_tokenizer(const bitnet_model *m, const bn_tokenizer **out);

#endif
