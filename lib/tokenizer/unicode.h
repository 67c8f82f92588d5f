/* Code point classes for the BPE pre-tokenizers and GPT-2's byte-to-unicode
 * map. The class tables are generated (unicode_tables.c), never hand-edited. */
#ifndef BN_TOKENIZER_UNICODE_H
#define BN_TOKENIZER_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* Class bits of one code point. BN_CPT_ANY is set for every code point, so
 * "no flags at all" can stand for "past the end of the text". */
#define BN_CPT_ANY 0x01u
#define BN_CPT_LETTER 0x02u     /* \p{L} */
#define BN_CPT_NUMBER 0x04u     /* \p{N} */
#define BN_CPT_WHITESPACE 0x08u /* \s (White_Space) */

typedef struct bn_unicode_range {
    uint32_t first, last; /* inclusive */
} bn_unicode_range;

/* Generated tables, sorted and disjoint. */
extern const bn_unicode_range bn_unicode_letters[];
extern const size_t bn_unicode_letters_count;
extern const bn_unicode_range bn_unicode_numbers[];
extern const size_t bn_unicode_numbers_count;
extern const bn_unicode_range bn_unicode_whitespace[];
extern const size_t bn_unicode_whitespace_count;

uint8_t bn_unicode_flags(uint32_t cp);

/* GPT-2's bytes_to_unicode: every byte as a printable code point (U+0021..U+0143). */
uint32_t bn_byte_to_cpt(uint8_t byte);
/* The inverse; -1 for code points that stand for no byte. */
int bn_cpt_to_byte(uint32_t cp);

#endif
