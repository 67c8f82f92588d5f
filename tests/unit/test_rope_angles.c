/* The rotary angles of kernels/rope_angles.c are exactly the reference's
 * cos/sin for whatever sequence of positions, bases and widths they are
 * asked for: from the per-thread memo, per thread, and computed per pair for
 * widths past its size. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/rope_angles.h"

/* Every pair against the reference's formula (kernels/ref/ref_ops.c before
 * the memo); memoized: whether the memo should hold them. */
static void check_memo(int32_t pos, float base, int64_t n_rot, bool memoized)
{
    const bn_rope_angles a = bn_rope_angles_of(pos, base, n_rot);
    assert_true((a.c != NULL) == memoized);
    assert_true((a.s != NULL) == memoized);
    for (int64_t i = 0; i < n_rot / 2; i++) {
        const double theta = pos * pow((double)base, -2.0 * (double)i / (double)n_rot);
        const double ec = cos(theta), es = sin(theta);
        double c, s;
        bn_rope_pair(&a, i, &c, &s);
        if (memcmp(&ec, &c, sizeof ec) || memcmp(&es, &s, sizeof es))
            fail_msg("pos %d base %g n_rot %lld pair %lld: %.17g %.17g, expected %.17g %.17g", pos, base,
                     (long long)n_rot, (long long)i, c, s, ec, es);
    }
}

static void check(int32_t pos, float base, int64_t n_rot)
{
    check_memo(pos, base, n_rot, true);
}

static void test_sequences(void **state)
{
    (void)state;
    /* repeats (memo hits), then each key changed alone (misses), then back */
    static const struct {
        int32_t pos;
        float base;
        int64_t n_rot;
    } seq[] = {{5, 10000.0f, 128},   {5, 10000.0f, 128},    {6, 10000.0f, 128}, {6, 500000.0f, 128},
               {6, 500000.0f, 64},   {5, 10000.0f, 128},    {0, 10000.0f, 128}, {-3, 10000.0f, 128},
               {131071, 1e6f, 1024}, {131071, 1e6f, 1024},  {7, 10000.0f, 7},   {7, 10000.0f, 2},
               {7, 10000.0f, 3},     {2147483647, 1e4f, 96}};
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++)
        check(seq[i].pos, seq[i].base, seq[i].n_rot);
}

/* Widths past the memo are computed pair by pair, the same values. */
static void test_past_the_memo(void **state)
{
    (void)state;
    check(9, 10000.0f, 2 * BN_ROPE_MEMO_PAIRS); /* the largest width it holds */
    check_memo(9, 10000.0f, 2 * BN_ROPE_MEMO_PAIRS + 2, false);
    check(9, 10000.0f, 2 * BN_ROPE_MEMO_PAIRS); /* still right after a wide call */
    check_memo(3, 10000.0f, 1, false);
    check_memo(3, 10000.0f, 0, false);
    check_memo(3, 10000.0f, -8, false);
}

/* Two threads alternating their own positions never see each other's. */
static void *worker(void *arg)
{
    const int32_t base_pos = *(const int32_t *)arg;
    for (int32_t k = 0; k < 200; k++) {
        const int32_t pos = base_pos + k % 3;
        const bn_rope_angles a = bn_rope_angles_of(pos, 10000.0f, 128);
        if (!a.c)
            return (void *)1;
        for (int64_t i = 0; i < 64; i++) {
            const double theta = pos * pow(10000.0, -2.0 * (double)i / 128.0);
            if (cos(theta) != a.c[i] || sin(theta) != a.s[i])
                return (void *)1;
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t t[2];
    int32_t pos[2] = {100, 5000};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, &pos[i]), 0);
    for (int i = 0; i < 2; i++) {
        void *ret = (void *)1;
        assert_int_equal(pthread_join(t[i], &ret), 0);
        assert_null(ret);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequences),
        cmocka_unit_test(test_past_the_memo),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
