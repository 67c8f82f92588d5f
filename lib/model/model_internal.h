/* The model object: a file's bytes, its parsed GGUF tables and the weight
 * store. Immutable after load except for the store's cache and the
 * last-error copy, both guarded by locks. */
#ifndef BN_MODEL_INTERNAL_H
#define BN_MODEL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "bitnet.h"
#include "core/error.h"
#include "loader/gguf.h"
#include "loader/source.h"
#include "store/store.h"

struct bitnet_model {
    atomic_int refs;
    bn_source source;
    bn_gguf gguf;
    bn_store *store;
    bitnet_model_params params;
    pthread_mutex_t error_lock;
    char last_error[BN_ERROR_MAX];
};

/* Record the thread's current error message on the model too and return
 * `status`: `return bn_model_fail(m, bn_error(...))`. */
bitnet_status bn_model_fail(const bitnet_model *m, bitnet_status status);

#endif
