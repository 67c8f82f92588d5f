/* Library logging: formatted only when a callback wants the level. */
#ifndef BN_LOG_H
#define BN_LOG_H

#include "bitnet.h"
#include "core/error.h"

void bn_log(bitnet_log_level level, const char *fmt, ...) BN_PRINTF(2, 3);

#endif
