/* Plain YAML scalars read strictly, after the YAML 1.2 core schema: null,
 * booleans, integers, floats, plus byte sizes with a binary suffix. No
 * allocation, no locale: "0.5" means one half whatever LC_NUMERIC says. */
#ifndef BN_CONFIG_SCALAR_H
#define BN_CONFIG_SCALAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum bn_scalar_result {
    BN_SCALAR_OK = 0,
    BN_SCALAR_SYNTAX = 1,  /* not of the requested kind */
    BN_SCALAR_OVERFLOW = 2 /* of the kind, but too large to represent */
} bn_scalar_result;

/* "", "~", "null", "Null", "NULL". */
bool bn_scalar_is_null(const char *s, size_t len);

/* true/True/TRUE, false/False/FALSE (not the YAML 1.1 yes/no/on/off). */
bn_scalar_result bn_scalar_bool(const char *s, size_t len, bool *out);

/* [-+]?[0-9]+, 0x[0-9a-fA-F]+ or 0o[0-7]+, as a sign and a magnitude that
 * fits uint64 (OVERFLOW otherwise). "-0" gives negative false. */
bn_scalar_result bn_scalar_integer(const char *s, size_t len, bool *negative, uint64_t *magnitude);

/* [-+]?(.[0-9]+|[0-9]+(.[0-9]*)?)([eE][-+]?[0-9]+)?, [-+]?.inf, .nan (any
 * of the core schema's spellings). Non-finite values are returned as such;
 * the caller decides whether it takes them. Finite results are within a
 * unit in the last place of the correctly rounded double (exact for up to
 * 15 significant digits and exponents up to 22). */
bn_scalar_result bn_scalar_float(const char *s, size_t len, double *out);

/* A byte count: an integer as above (non-negative, decimal) optionally
 * followed by spaces and B, KiB, MiB, GiB or TiB. OVERFLOW past uint64. */
bn_scalar_result bn_scalar_size(const char *s, size_t len, uint64_t *out);

#endif
