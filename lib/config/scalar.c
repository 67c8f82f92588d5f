#include "config/scalar.h"

#include <math.h>
#include <string.h>

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* s[0..len) equals one of the NULL-terminated spellings. */
static bool one_of(const char *s, size_t len, const char *const *words)
{
    for (; *words; words++)
        if (strlen(*words) == len && memcmp(s, *words, len) == 0)
            return true;
    return false;
}

bool bn_scalar_is_null(const char *s, size_t len)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    return one_of(s, len, nulls);
}

bn_scalar_result bn_scalar_bool(const char *s, size_t len, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", NULL};
    static const char *const no[] = {"false", "False", "FALSE", NULL};
    if (one_of(s, len, yes))
        *out = true;
    else if (one_of(s, len, no))
        *out = false;
    else
        return BN_SCALAR_SYNTAX;
    return BN_SCALAR_OK;
}

static int digit_value(char c, unsigned base)
{
    int v = -1;
    if (is_digit(c))
        v = c - '0';
    else if (c >= 'a' && c <= 'f')
        v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
        v = c - 'A' + 10;
    return v >= 0 && (unsigned)v < base ? v : -1;
}

/* Digits of `base` filling all of s[0..len) (at least one). */
static bn_scalar_result parse_digits(const char *s, size_t len, unsigned base, uint64_t *out)
{
    if (len == 0)
        return BN_SCALAR_SYNTAX;
    uint64_t v = 0;
    bool overflow = false;
    for (size_t i = 0; i < len; i++) {
        int d = digit_value(s[i], base);
        if (d < 0)
            return BN_SCALAR_SYNTAX;
        if (__builtin_mul_overflow(v, base, &v) || __builtin_add_overflow(v, (uint64_t)d, &v))
            overflow = true; /* keep going: "99999999999999999999x" is a syntax error */
    }
    *out = v;
    return overflow ? BN_SCALAR_OVERFLOW : BN_SCALAR_OK;
}

bn_scalar_result bn_scalar_integer(const char *s, size_t len, bool *negative, uint64_t *magnitude)
{
    *negative = false;
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o'))
        return parse_digits(s + 2, len - 2, s[1] == 'x' ? 16 : 8, magnitude);
    size_t i = 0;
    if (len > 0 && (s[0] == '-' || s[0] == '+'))
        i = 1;
    bn_scalar_result r = parse_digits(s + i, len - i, 10, magnitude);
    if (r != BN_SCALAR_SYNTAX)
        *negative = s[0] == '-' && *magnitude != 0;
    return r;
}

/* 10^k for 0 <= k <= 22: every one of them is exact in a double. */
static double exact_pow10(int k)
{
    double p = 1.0;
    while (k-- > 0)
        p *= 10.0;
    return p;
}

bn_scalar_result bn_scalar_float(const char *s, size_t len, double *out)
{
    static const char *const infs[] = {".inf", ".Inf", ".INF", NULL};
    static const char *const nans[] = {".nan", ".NaN", ".NAN", NULL};
    if (one_of(s, len, nans)) {
        *out = NAN;
        return BN_SCALAR_OK;
    }
    size_t i = 0;
    bool neg = false;
    if (len > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (one_of(s + i, len - i, infs)) {
        *out = neg ? -INFINITY : INFINITY;
        return BN_SCALAR_OK;
    }
    /* Mantissa: up to 19 significant digits in an integer; the decimal
     * exponent absorbs dropped and fractional digits. */
    uint64_t m = 0;
    int n_sig = 0;
    long exp10 = 0;
    size_t n_int = 0, n_frac = 0;
    for (; i < len && is_digit(s[i]); i++, n_int++) {
        if (m == 0 && s[i] == '0')
            continue;
        if (n_sig < 19) {
            m = m * 10 + (uint64_t)(s[i] - '0');
            n_sig++;
        } else {
            exp10++;
        }
    }
    if (i < len && s[i] == '.') {
        for (i++; i < len && is_digit(s[i]); i++, n_frac++) {
            if (m == 0 && s[i] == '0') {
                exp10--;
                continue;
            }
            if (n_sig < 19) {
                m = m * 10 + (uint64_t)(s[i] - '0');
                n_sig++;
                exp10--;
            }
        }
        if (n_int == 0 && n_frac == 0)
            return BN_SCALAR_SYNTAX; /* "." alone */
    } else if (n_int == 0) {
        return BN_SCALAR_SYNTAX;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < len && (s[i] == '-' || s[i] == '+'))
            eneg = s[i++] == '-';
        if (i >= len || !is_digit(s[i]))
            return BN_SCALAR_SYNTAX;
        long e = 0;
        for (; i < len && is_digit(s[i]); i++)
            if (e < 100000) /* far past any double; stops the count overflowing */
                e = e * 10 + (s[i] - '0');
        exp10 += eneg ? -e : e;
    }
    if (i != len)
        return BN_SCALAR_SYNTAX;
    double v;
    if (m == 0)
        v = 0.0;
    else if (m <= (1ull << 53) && exp10 >= 0 && exp10 <= 22)
        v = (double)m * exact_pow10((int)exp10); /* one rounding: correctly rounded */
    else if (m <= (1ull << 53) && exp10 < 0 && exp10 >= -22)
        v = (double)m / exact_pow10((int)-exp10);
    else if (exp10 > 400)
        v = INFINITY;
    else if (exp10 < -400)
        v = 0.0;
    else
        v = (double)((long double)m * powl(10.0L, (long double)exp10));
    *out = neg ? -v : v;
    return BN_SCALAR_OK;
}

bn_scalar_result bn_scalar_size(const char *s, size_t len, uint64_t *out)
{
    static const struct {
        const char *suffix;
        unsigned shift;
    } units[] = {{"B", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}};
    size_t n = 0;
    while (n < len && is_digit(s[n]))
        n++;
    uint64_t v;
    bn_scalar_result r = parse_digits(s, n, 10, &v);
    if (r == BN_SCALAR_SYNTAX)
        return r;
    size_t k = n;
    while (k < len && s[k] == ' ')
        k++;
    unsigned shift = 0;
    if (k < len) {
        size_t i = 0, n_units = sizeof units / sizeof units[0];
        while (i < n_units && !(strlen(units[i].suffix) == len - k && memcmp(s + k, units[i].suffix, len - k) == 0))
            i++;
        if (i == n_units)
            return BN_SCALAR_SYNTAX;
        shift = units[i].shift;
    } else if (k != n) {
        return BN_SCALAR_SYNTAX; /* trailing spaces without a unit */
    }
    if (r == BN_SCALAR_OVERFLOW || (shift && v > (UINT64_MAX >> shift)))
        return BN_SCALAR_OVERFLOW;
    *out = v << shift;
    return BN_SCALAR_OK;
}
