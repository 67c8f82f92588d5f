#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"

static _Thread_local char last_error[BN_ERROR_MAX];

bitnet_status bn_error(bitnet_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    bn_log(BITNET_LOG_DEBUG, "%s: %s", bitnet_status_str(status), last_error);
    return status;
}

const char *bn_error_message(void)
{
    return last_error;
}

const char *bn_error_set_message(const char *msg)
{
    snprintf(last_error, sizeof last_error, "%s", msg ? msg : "");
    return last_error;
}

const char *bitnet_last_error(void)
{
    return last_error;
}

const char *bitnet_status_str(bitnet_status status)
{
    switch (status) {
    case BITNET_OK: return "ok";
    case BITNET_ERR_INVALID_ARGUMENT: return "invalid argument";
    case BITNET_ERR_IO: return "I/O error";
    case BITNET_ERR_BAD_FORMAT: return "bad format";
    case BITNET_ERR_UNSUPPORTED: return "unsupported";
    case BITNET_ERR_OUT_OF_MEMORY: return "out of memory";
    case BITNET_ERR_OUT_OF_RANGE: return "out of range";
    case BITNET_ERR_NOT_FOUND: return "not found";
    case BITNET_ERR_TYPE_MISMATCH: return "type mismatch";
    case BITNET_ERR_BUFFER_TOO_SMALL: return "buffer too small";
    case BITNET_ERR_CONTEXT_FULL: return "context full";
    case BITNET_ERR_ABORTED: return "aborted";
    case BITNET_ERR_INTERNAL: return "internal error";
    case BITNET_ERR_MEMORY_BUDGET: return "memory budget too small";
    }
    return "unknown status";
}
