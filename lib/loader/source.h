/* The bytes of a model file: mapped, read into the heap, or the caller's. */
#ifndef BN_SOURCE_H
#define BN_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "bitnet.h"

typedef enum bn_source_kind { BN_SOURCE_MMAP, BN_SOURCE_HEAP, BN_SOURCE_BORROWED } bn_source_kind;

typedef struct bn_source {
    const uint8_t *data;
    uint64_t size;
    bn_source_kind kind;
} bn_source;

bitnet_status bn_source_open_file(bn_source *src, const char *path, int use_mmap);
void bn_source_borrow(bn_source *src, const void *data, size_t size);
void bn_source_close(bn_source *src);

#endif
