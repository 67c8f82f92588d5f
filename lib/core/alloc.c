#include "core/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static atomic_long fail_countdown = -1;
static atomic_ulong failures = 0;

/* True when this allocation must fail (injected fault). */
static int inject_failure(void)
{
    long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    if (n < 0)
        return 0;
    if (n == 0) {
        atomic_fetch_add(&failures, 1);
        return 1;
    }
    atomic_fetch_sub(&fail_countdown, 1);
    return 0;
}

static void *count_failure(void *p)
{
    if (!p)
        atomic_fetch_add(&failures, 1);
    return p;
}

void *bn_malloc(size_t size)
{
    if (inject_failure())
        return NULL;
    return count_failure(malloc(size ? size : 1));
}

void *bn_calloc(size_t count, size_t size)
{
    if (inject_failure())
        return NULL;
    return count_failure(calloc(count ? count : 1, size ? size : 1));
}

void *bn_realloc(void *ptr, size_t size)
{
    if (inject_failure())
        return NULL;
    return count_failure(realloc(ptr, size ? size : 1));
}

#define HUGE_PAGE ((size_t)2 << 20)

void *bn_malloc_weights(size_t size)
{
    if (inject_failure())
        return NULL;
    if (size < HUGE_PAGE)
        return count_failure(malloc(size ? size : 1));
    void *p = NULL;
    if (posix_memalign(&p, HUGE_PAGE, size) != 0)
        return count_failure(NULL);
#ifdef MADV_HUGEPAGE
    (void)madvise(p, size, MADV_HUGEPAGE); /* advice only: 4 KiB pages still work */
#endif
    return p;
}

void bn_free(void *ptr)
{
    free(ptr);
}

char *bn_strndup(const char *s, size_t len)
{
    if (len == (size_t)-1)
        return NULL;
    char *p = bn_malloc(len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void bn_alloc_fail_after(long n)
{
    atomic_store(&fail_countdown, n < 0 ? -1 : n);
}

unsigned long bn_alloc_failures(void)
{
    return atomic_load(&failures);
}
