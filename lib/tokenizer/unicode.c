#include "tokenizer/unicode.h"

static int in_ranges(const bn_unicode_range *r, size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n; /* binary search: first range with last >= cp */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r[mid].last < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && r[lo].first <= cp;
}

uint8_t bn_unicode_flags(uint32_t cp)
{
    /* ASCII is most of the text: answer it without a search. */
    if (cp < 0x80) {
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z')
            return BN_CPT_ANY | BN_CPT_LETTER;
        if (cp >= '0' && cp <= '9')
            return BN_CPT_ANY | BN_CPT_NUMBER;
        if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D))
            return BN_CPT_ANY | BN_CPT_WHITESPACE;
        return BN_CPT_ANY;
    }
    uint8_t f = BN_CPT_ANY;
    if (in_ranges(bn_unicode_letters, bn_unicode_letters_count, cp))
        f |= BN_CPT_LETTER;
    else if (in_ranges(bn_unicode_numbers, bn_unicode_numbers_count, cp))
        f |= BN_CPT_NUMBER;
    if (in_ranges(bn_unicode_whitespace, bn_unicode_whitespace_count, cp))
        f |= BN_CPT_WHITESPACE;
    return f;
}

/* bytes_to_unicode keeps the printable Latin-1 bytes ('!'..'~', 0xA1..0xAC,
 * 0xAE..0xFF) and numbers the 68 others from U+0100 up, in byte order:
 * 0x00..0x20 (33), 0x7F..0xA0 (34), then 0xAD. */
uint32_t bn_byte_to_cpt(uint8_t b)
{
    if (b <= 0x20)
        return 0x100u + b;
    if (b >= 0x7F && b <= 0xA0)
        return 0x100u + 33u + (uint32_t)(b - 0x7F);
    if (b == 0xAD)
        return 0x100u + 67u;
    return b;
}

int bn_cpt_to_byte(uint32_t cp)
{
    if (cp < 0x100)
        return (cp > 0x20 && cp < 0x7F) || (cp > 0xA0 && cp != 0xAD) ? (int)cp : -1;
    if (cp < 0x100 + 33)
        return (int)(cp - 0x100);
    if (cp < 0x100 + 67)
        return (int)(cp - 0x100 - 33 + 0x7F);
    return cp == 0x100 + 67 ? 0xAD : -1;
}
