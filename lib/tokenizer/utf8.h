/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
#ifndef BN_TOKENIZER_UTF8_H
#define BN_TOKENIZER_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decode the sequence at s[0..n) (n >= 1): its length in bytes, with the code
 * point in *cp, or 0 when the bytes there are not valid UTF-8. */
size_t bn_utf8_decode(const char *s, size_t n, uint32_t *cp);
/* Offset of the first byte that does not start a valid sequence; n if none. */
size_t bn_utf8_validate(const char *s, size_t n);
/* Length of the sequence a lead byte announces (1 for stray bytes), as
 * llama.cpp splits text that is already known to be valid. */
size_t bn_utf8_len(unsigned char lead);
/* Encode cp (<= U+10FFFF) into out; returns 1..4. */
size_t bn_utf8_encode(uint32_t cp, char out[4]);

#endif
