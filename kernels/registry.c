/* Registered backends, chosen at run time by CPU probe and priority. */
#include <pthread.h>
#include <string.h>

#include "core/error.h"
#include "kernels/backend.h"
#include "kernels/ref/ref.h"
#if defined(__x86_64__)
#include "kernels/x86/quant_simd.h"
#include "kernels/x86/x86_backend.h"
#endif

#define MAX_BACKENDS 16

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bitnet_backend registry[MAX_BACKENDS];
static int32_t n_registered;
static bool builtins_done;

/* Built-in backends, registered once on first use. */
static void add_builtins_locked(void)
{
    if (builtins_done)
        return;
    builtins_done = true;
    /* Highest priority first; unsupported ones stay listed but are skipped. */
#if defined(__x86_64__)
    registry[n_registered++] = bn_backend_avx512;
    registry[n_registered++] = bn_backend_avx2;
#endif
    registry[n_registered++] = bn_backend_ref;
}

static bool supported(const bitnet_backend *b)
{
    return !b->is_supported || b->is_supported();
}

bitnet_status bitnet_backend_register(const bitnet_backend *backend)
{
    if (!backend || !backend->name)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_backend_register: NULL backend or name");
    if (backend->api_version != BITNET_BACKEND_API_VERSION)
        return bn_error(BITNET_ERR_UNSUPPORTED, "backend '%s' has api_version %u, this library speaks %u",
                        backend->name, backend->api_version, BITNET_BACKEND_API_VERSION);
    pthread_mutex_lock(&lock);
    add_builtins_locked();
    bitnet_status s = BITNET_OK;
    for (int32_t i = 0; i < n_registered && !s; i++)
        if (strcmp(registry[i].name, backend->name) == 0)
            s = bn_error(BITNET_ERR_INVALID_ARGUMENT, "a backend named '%s' is already registered", backend->name);
    if (!s && n_registered == MAX_BACKENDS)
        s = bn_error(BITNET_ERR_INVALID_ARGUMENT, "backend registry is full (%d)", MAX_BACKENDS);
    if (!s) {
        /* Keep the registry sorted by priority, highest first. */
        int32_t at = n_registered;
        while (at > 0 && registry[at - 1].priority < backend->priority) {
            registry[at] = registry[at - 1];
            at--;
        }
        registry[at] = *backend;
        n_registered++;
    }
    pthread_mutex_unlock(&lock);
    return s;
}

int32_t bitnet_backend_count(void)
{
    pthread_mutex_lock(&lock);
    add_builtins_locked();
    int32_t n = n_registered;
    pthread_mutex_unlock(&lock);
    return n;
}

const char *bitnet_backend_name(int32_t index)
{
    pthread_mutex_lock(&lock);
    add_builtins_locked();
    const char *name = index >= 0 && index < n_registered ? registry[index].name : NULL;
    pthread_mutex_unlock(&lock);
    return name;
}

bool bitnet_backend_supported(int32_t index)
{
    pthread_mutex_lock(&lock);
    add_builtins_locked();
    bool ok = index >= 0 && index < n_registered && supported(&registry[index]);
    pthread_mutex_unlock(&lock);
    return ok;
}

#define FILL(slot)                         \
    if (!out->k.slot)                      \
        out->k.slot = bn_backend_ref.slot;

bitnet_status bn_kernels_select(const char *name, bn_kernels *out)
{
    pthread_mutex_lock(&lock);
    add_builtins_locked();
    const bitnet_backend *chosen = NULL;
    for (int32_t i = 0; i < n_registered && !chosen; i++)
        if (name ? strcmp(registry[i].name, name) == 0 : supported(&registry[i]))
            chosen = &registry[i];
    bitnet_status s = BITNET_OK;
    if (!chosen)
        s = bn_error(BITNET_ERR_NOT_FOUND, "no backend named '%s'", name ? name : "(any)");
    else if (!supported(chosen))
        s = bn_error(BITNET_ERR_UNSUPPORTED, "backend '%s' is not supported on this CPU", chosen->name);
    else {
        /* A copy: the registry may shift when a backend is added later. */
        out->k = *chosen;
        FILL(matmul_f32)
        FILL(matmul_i8)
        FILL(quantize_i8)
        FILL(rmsnorm)
        FILL(rope)
        FILL(attention)
        FILL(silu_mul)
        FILL(relu2_mul)
        out->store_f16 = bn_ref_store_f16;
#if defined(__x86_64__)
        /* the built-in x86 tables are known by their probes (both need F16C) */
        if (chosen->is_supported == bn_x86_has_avx2 || chosen->is_supported == bn_x86_has_avx512)
            out->store_f16 = bn_avx2_store_f16;
#endif
    }
    pthread_mutex_unlock(&lock);
    return s;
}

void bn_kernels_matmul_f32(const bn_kernels *k, const bitnet_weights *w, const float *x, int64_t ldx,
                           int64_t n_batch, float *y, int64_t ldy, int64_t r0, int64_t r1, void *scratch)
{
    if (!k->k.matmul_f32(w, x, ldx, n_batch, y, ldy, r0, r1, scratch))
        bn_backend_ref.matmul_f32(w, x, ldx, n_batch, y, ldy, r0, r1, scratch);
}

void bn_kernels_matmul_i8(const bn_kernels *k, const bitnet_weights *w, const int8_t *xq, int64_t ldx,
                          const float *x_scale, int64_t n_batch, float *y, int64_t ldy, int64_t r0, int64_t r1,
                          void *scratch)
{
    if (!k->k.matmul_i8(w, xq, ldx, x_scale, n_batch, y, ldy, r0, r1, scratch))
        bn_backend_ref.matmul_i8(w, xq, ldx, x_scale, n_batch, y, ldy, r0, r1, scratch);
}
