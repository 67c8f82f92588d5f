#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static bitnet_log_callback log_cb;
static void *log_user;
static bitnet_log_level log_max = BITNET_LOG_ERROR;

void bitnet_set_log_callback(bitnet_log_callback callback, void *user_data, bitnet_log_level max_level)
{
    pthread_mutex_lock(&log_lock);
    log_cb = callback;
    log_user = user_data;
    log_max = max_level;
    pthread_mutex_unlock(&log_lock);
}

void bn_log(bitnet_log_level level, const char *fmt, ...)
{
    pthread_mutex_lock(&log_lock);
    bitnet_log_callback cb = log_cb;
    void *user = log_user;
    bitnet_log_level max = log_max;
    pthread_mutex_unlock(&log_lock);
    if (!cb || level > max)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cb(level, msg, user);
}
