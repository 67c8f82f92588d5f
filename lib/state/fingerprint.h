/* A model's identity for state files. */
#ifndef BN_STATE_FINGERPRINT_H
#define BN_STATE_FINGERPRINT_H

#include <stdint.h>

#include "bitnet.h"

/* sha256 of the model file's bytes before the tensor data: the GGUF header,
 * the metadata and the tensor table. Computed on the first call and cached
 * in the model; safe to call from any number of threads. */
void bn_model_fingerprint(const bitnet_model *model, uint8_t out[32]);

#endif
