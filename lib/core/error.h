/* Per-thread last-error message with detail, set by every failing call. */
#ifndef BN_ERROR_H
#define BN_ERROR_H

#include "bitnet.h"

#define BN_ERROR_MAX 512

#if defined(__GNUC__)
#define BN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define BN_PRINTF(a, b)
#endif

/* Record `fmt` as this thread's last error (and log it at debug level);
 * returns `status` so callers can `return bn_error(...)`. */
bitnet_status bn_error(bitnet_status status, const char *fmt, ...) BN_PRINTF(2, 3);

/* This thread's message buffer, also used to hand out per-handle copies. */
const char *bn_error_message(void);
/* Replace this thread's message with `msg` (truncated) and return the buffer. */
const char *bn_error_set_message(const char *msg);

#endif
