/* Model fingerprint: hashed once, published with an atomic state so that
 * concurrent first callers need no lock (each hashes; one stores). */
#include "state/fingerprint.h"

#include <stdatomic.h>
#include <string.h>

#include "core/sha256.h"
#include "model/model_internal.h"

enum { FP_NONE = 0, FP_STORING = 1, FP_READY = 2 };

void bn_model_fingerprint(const bitnet_model *model, uint8_t out[32])
{
    bitnet_model *m = (bitnet_model *)model; /* the cached digest is write-once */
    if (atomic_load_explicit(&m->fingerprint_state, memory_order_acquire) == FP_READY) {
        memcpy(out, m->fingerprint, sizeof m->fingerprint);
        return;
    }
    /* The tensor data starts at data_offset (past the end for a file with
     * no tensors). */
    uint64_t n = m->gguf.data_offset < m->source.size ? m->gguf.data_offset : m->source.size;
    bn_sha256_digest(m->source.data, (size_t)n, out);
    int expected = FP_NONE;
    if (atomic_compare_exchange_strong_explicit(&m->fingerprint_state, &expected, FP_STORING, memory_order_acq_rel,
                                                memory_order_acquire)) {
        memcpy(m->fingerprint, out, sizeof m->fingerprint);
        atomic_store_explicit(&m->fingerprint_state, FP_READY, memory_order_release);
    }
}
