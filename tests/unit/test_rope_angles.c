/* The per-thread memo of rotary angles (kernels/rope_angles.c) returns
 * exactly the reference's cos/sin for whatever sequence of positions, bases
 * and widths it is asked for, per thread, and declines widths past its size. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/rope_angles.h"

/* The reference's formula (kernels/ref/ref_ops.c before the memo). */
static void expect_angles(int32_t pos, float base, int64_t n_rot, const double *c, const double *s)
{
    for (int64_t i = 0; i < n_rot / 2; i++) {
        const double theta = pos * pow((double)base, -2.0 * (double)i / (double)n_rot);
        const double ec = cos(theta), es = sin(theta);
        if (memcmp(&ec, &c[i], sizeof ec) || memcmp(&es, &s[i], sizeof es))
            fail_msg("pos %d base %g n_rot %lld pair %lld: %.17g %.17g, expected %.17g %.17g", pos, base,
                     (long long)n_rot, (long long)i, c[i], s[i], ec, es);
    }
}

static void check(int32_t pos, float base, int64_t n_rot)
{
    const double *c = NULL, *s = NULL;
    assert_true(bn_rope_angles(pos, base, n_rot, &c, &s));
    assert_non_null(c);
    assert_non_null(s);
    expect_angles(pos, base, n_rot, c, s);
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

static void test_declines(void **state)
{
    (void)state;
    const double *c = NULL, *s = NULL;
    assert_false(bn_rope_angles(3, 10000.0f, 2 * BN_ROPE_MEMO_PAIRS + 2, &c, &s));
    assert_false(bn_rope_angles(3, 10000.0f, 1, &c, &s));
    assert_false(bn_rope_angles(3, 10000.0f, 0, &c, &s));
    assert_false(bn_rope_angles(3, 10000.0f, -8, &c, &s));
    assert_null(c);
    assert_null(s);
    /* the largest width it holds */
    check(9, 10000.0f, 2 * BN_ROPE_MEMO_PAIRS);
}

/* Two threads alternating their own positions never see each other's. */
static void *worker(void *arg)
{
    const int32_t base_pos = *(const int32_t *)arg;
    for (int32_t k = 0; k < 200; k++) {
        const int32_t pos = base_pos + k % 3;
        const double *c = NULL, *s = NULL;
        if (!bn_rope_angles(pos, 10000.0f, 128, &c, &s))
            return (void *)1;
        for (int64_t i = 0; i < 64; i++) {
            const double theta = pos * pow(10000.0, -2.0 * (double)i / 128.0);
            if (cos(theta) != c[i] || sin(theta) != s[i])
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
        cmocka_unit_test(test_declines),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
