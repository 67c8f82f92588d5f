/* The thread pool: every item of a run is handed to exactly one call, chunk
 * boundaries are multiples of the grain, thread indices are in range, and a
 * pool runs many jobs back to back (also after its workers went to sleep).
 * The concurrency suite runs this under TSan. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "context/threadpool.h"

typedef struct visit_job {
    int64_t n, grain;
    int n_threads;
    atomic_int *seen;       /* per item: how many calls covered it */
    atomic_int bad_bounds;  /* calls with a misaligned or empty range */
    atomic_int bad_thread;  /* calls with a thread index out of range */
    atomic_int calls_by[8]; /* calls per thread */
} visit_job;

static void visit(void *arg, int64_t begin, int64_t end, int thread)
{
    visit_job *j = arg;
    if (begin >= end || begin < 0 || end > j->n || begin % j->grain || (end % j->grain && end != j->n))
        atomic_fetch_add(&j->bad_bounds, 1);
    if (thread < 0 || thread >= j->n_threads)
        atomic_fetch_add(&j->bad_thread, 1);
    else
        atomic_fetch_add(&j->calls_by[thread], 1);
    for (int64_t i = begin; i < end && i >= 0 && i < j->n; i++)
        atomic_fetch_add(&j->seen[i], 1);
}

static void check_run(bn_pool *pool, int n_threads, int64_t n, int64_t grain)
{
    visit_job j = {.n = n, .grain = grain, .n_threads = n_threads};
    j.seen = calloc((size_t)(n > 0 ? n : 1), sizeof *j.seen);
    assert_non_null(j.seen);
    bn_pool_run(pool, n, grain, visit, &j);
    for (int64_t i = 0; i < n; i++)
        if (atomic_load(&j.seen[i]) != 1)
            fail_msg("n %lld grain %lld threads %d: item %lld covered %d times", (long long)n, (long long)grain,
                     n_threads, (long long)i, atomic_load(&j.seen[i]));
    assert_int_equal(atomic_load(&j.bad_bounds), 0);
    assert_int_equal(atomic_load(&j.bad_thread), 0);
    free(j.seen);
}

static void test_every_item_once(void **state)
{
    (void)state;
    const int64_t sizes[] = {0, 1, 2, 3, 15, 16, 17, 63, 640, 2560, 6912, 10007, 128256};
    const int64_t grains[] = {1, 16, 64, 1000};
    for (int threads = 1; threads <= 4; threads++) {
        bn_pool *pool = NULL;
        assert_int_equal(bn_pool_new(threads, &pool), BITNET_OK);
        assert_int_equal(bn_pool_threads(pool), threads);
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
            for (size_t g = 0; g < sizeof grains / sizeof *grains; g++)
                check_run(pool, threads, sizes[s], grains[g]);
        bn_pool_free(pool);
    }
}

/* Many short jobs in a row, as decode dispatches them, with pauses long
 * enough for the workers to fall asleep in between. */
static void test_many_jobs_and_sleeps(void **state)
{
    (void)state;
    bn_pool *pool = NULL;
    assert_int_equal(bn_pool_new(3, &pool), BITNET_OK);
    for (int r = 0; r < 2000; r++)
        check_run(pool, 3, 1 + r % 97, 1 + r % 5);
    for (int r = 0; r < 5; r++) {
        struct timespec pause = {0, 2000000}; /* 2 ms: past the workers' spin */
        nanosleep(&pause, NULL);
        check_run(pool, 3, 4096, 16);
    }
    bn_pool_free(pool);
}

/* A thread that is slow to start does not get an equal share forced on it:
 * the other threads take the chunks it has not claimed. */
static void slow_first_worker(void *arg, int64_t begin, int64_t end, int thread)
{
    visit_job *j = arg;
    if (thread == 1 && atomic_load(&j->calls_by[1]) == 0) {
        struct timespec pause = {0, 20000000}; /* 20 ms */
        nanosleep(&pause, NULL);
    }
    visit(arg, begin, end, thread);
}

static void visit_nothing(void *arg, int64_t begin, int64_t end, int thread)
{
    (void)arg, (void)begin, (void)end, (void)thread;
}

static void test_slow_thread_shares_less(void **state)
{
    (void)state;
    bn_pool *pool = NULL;
    assert_int_equal(bn_pool_new(2, &pool), BITNET_OK);
    visit_job j = {.n = 4096, .grain = 16, .n_threads = 2};
    j.seen = calloc(4096, sizeof *j.seen);
    assert_non_null(j.seen);
    bn_pool_run(pool, j.n, j.grain, slow_first_worker, &j);
    for (int64_t i = 0; i < j.n; i++)
        assert_int_equal(atomic_load(&j.seen[i]), 1);
    /* thread 1 slept through its first chunk: thread 0 ran all the others */
    if (atomic_load(&j.calls_by[1]) > 0)
        assert_true(atomic_load(&j.calls_by[0]) > atomic_load(&j.calls_by[1]));
    assert_int_equal(atomic_load(&j.bad_bounds), 0);
    free(j.seen);
    bn_pool_free(pool);
}

/* Each thread streams through a range of its own: an equal, contiguous share
 * of the grains that it claims front to back, one call after the other (so a
 * decode kernel's prefetch carries on into its next call), before it takes
 * anything from another thread's share; no call straddles two shares. */
#define SEQ_MAX 256

typedef struct seq_job {
    int64_t n, grain;
    int n_threads;
    int64_t begin[8][SEQ_MAX], end[8][SEQ_MAX]; /* each thread's calls, in order */
    int calls[8];
} seq_job;

static void record(void *arg, int64_t begin, int64_t end, int thread)
{
    seq_job *j = arg;
    int k = j->calls[thread]++;
    if (k < SEQ_MAX)
        j->begin[thread][k] = begin, j->end[thread][k] = end;
}

/* The first item of thread t's share (t = threads: n). */
static int64_t share_start(int64_t units, int t, int threads, int64_t grain, int64_t n)
{
    const int64_t i = units * t / threads * grain;
    return i < n ? i : n;
}

static void test_threads_stream_own_range(void **state)
{
    (void)state;
    const int64_t sizes[] = {640, 2560, 6912, 128256};
    for (int threads = 2; threads <= 4; threads++) {
        bn_pool *pool = NULL;
        assert_int_equal(bn_pool_new(threads, &pool), BITNET_OK);
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            seq_job *j = calloc(1, sizeof *j);
            assert_non_null(j);
            *j = (seq_job){.n = sizes[s], .grain = 16, .n_threads = threads};
            bn_pool_run(pool, j->n, j->grain, record, j);
            const int64_t units = (j->n + j->grain - 1) / j->grain;
            for (int t = 0; t < threads; t++) {
                assert_true(j->calls[t] <= SEQ_MAX);
                const int64_t home0 = share_start(units, t, threads, j->grain, j->n);
                const int64_t home1 = share_start(units, t + 1, threads, j->grain, j->n);
                int64_t next = home0;
                bool left_home = false;
                for (int k = 0; k < j->calls[t]; k++) {
                    const int64_t b = j->begin[t][k], e = j->end[t][k];
                    const bool in_home = b >= home0 && e <= home1;
                    if (in_home) {
                        if (left_home || b != next)
                            fail_msg("threads %d n %lld: thread %d's call %d [%lld, %lld) is not the next of its "
                                     "range (expected %lld)",
                                     threads, (long long)j->n, t, k, (long long)b, (long long)e, (long long)next);
                        next = e;
                        continue;
                    }
                    left_home = true;
                    int owner = 0;
                    while (share_start(units, owner + 1, threads, j->grain, j->n) <= b)
                        owner++;
                    if (e > share_start(units, owner + 1, threads, j->grain, j->n))
                        fail_msg("threads %d n %lld: call [%lld, %lld) straddles two threads' shares", threads,
                                 (long long)j->n, (long long)b, (long long)e);
                }
            }
            free(j);
        }
        bn_pool_free(pool);
    }
}

/* The idle hook runs once per run, on the caller, after the caller's last
 * chunk: the caller computes nothing after it. */
typedef struct idle_probe {
    visit_job *job;
    pthread_t caller;
    int calls, on_other_thread, caller_calls_then;
} idle_probe;

static void on_idle(void *arg)
{
    idle_probe *p = arg;
    p->calls++;
    if (!pthread_equal(pthread_self(), p->caller))
        p->on_other_thread++;
    p->caller_calls_then = atomic_load(&p->job->calls_by[0]);
}

static void test_idle_hook(void **state)
{
    (void)state;
    const int64_t sizes[] = {0, 1, 2, 17, 2560, 128256};
    for (int threads = 1; threads <= 3; threads++) {
        bn_pool *pool = NULL;
        assert_int_equal(bn_pool_new(threads, &pool), BITNET_OK);
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            visit_job j = {.n = sizes[s], .grain = 16, .n_threads = threads};
            j.seen = calloc((size_t)(j.n > 0 ? j.n : 1), sizeof *j.seen);
            assert_non_null(j.seen);
            idle_probe p = {.job = &j, .caller = pthread_self()};
            bn_pool_run_idle(pool, j.n, j.grain, visit, &j, on_idle, &p);
            assert_int_equal(p.calls, 1);
            assert_int_equal(p.on_other_thread, 0);
            assert_int_equal(p.caller_calls_then, atomic_load(&j.calls_by[0]));
            for (int64_t i = 0; i < j.n; i++)
                assert_int_equal(atomic_load(&j.seen[i]), 1);
            free(j.seen);
        }
        bn_pool_run_idle(pool, 100, 16, visit_nothing, NULL, NULL, NULL); /* no hook */
        bn_pool_free(pool);
    }
}

/* Warm plans (what the workers prefetch after their chunks) leave every run
 * exact, whatever the plan: none, empty or zero-length ranges, a share
 * shorter than the cap, a cap past the end, a count out of range, and a
 * plan changed or dropped between runs while workers may still use the
 * last one (TSan checks the hand-over). */
static void test_warm_plans(void **state)
{
    (void)state;
    enum { BYTES = 3 << 20 };
    char *buf = malloc(BYTES);
    assert_non_null(buf);
    memset(buf, 1, BYTES);
    const bn_pool_warm plans[] = {
        {.n = 0},
        {.p = {buf}, .bytes = {BYTES}, .n = 1, .cap = 256 << 10},
        {.p = {buf, buf + 1000, buf + 5000}, .bytes = {1000, 0, 777}, .n = 3, .cap = 1 << 30},
        {.p = {buf + 1, buf + (1 << 20)}, .bytes = {(1 << 20) - 1, 2 << 20}, .n = 2, .cap = 64},
        {.p = {buf}, .bytes = {BYTES}, .n = BN_POOL_WARM_MAX + 1, .cap = 1 << 20}, /* ignored */
        {.p = {buf}, .bytes = {BYTES}, .n = -1, .cap = 1 << 20},                   /* ignored */
    };
    const int n_plans = (int)(sizeof plans / sizeof *plans);
    for (int threads = 1; threads <= 4; threads++) {
        bn_pool *pool = NULL;
        assert_int_equal(bn_pool_new(threads, &pool), BITNET_OK);
        for (int r = 0; r < 600; r++) {
            bn_pool_set_warm(pool, r % 7 == 6 ? NULL : &plans[r % n_plans]);
            check_run(pool, threads, 1 + (r * 37) % 3000, 1 + r % 17);
        }
        bn_pool_free(pool); /* joins workers that may still be warming */
    }
    free(buf);
}

static void test_free_null(void **state)
{
    (void)state;
    bn_pool_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_item_once),
        cmocka_unit_test(test_many_jobs_and_sleeps),
        cmocka_unit_test(test_slow_thread_shares_less),
        cmocka_unit_test(test_threads_stream_own_range),
        cmocka_unit_test(test_idle_hook),
        cmocka_unit_test(test_warm_plans),
        cmocka_unit_test(test_free_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
