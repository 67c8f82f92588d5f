/* The byte-level BPE pre-tokenizers, hand-written matchers equivalent to
 * llama.cpp's unicode_regex_split_custom_gpt2 / _llama3 (no regex engine):
 *
 *   gpt2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *   llama3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *           ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *
 * Each call returns where the pre-token starting at `pos` ends. */
#include "tokenizer/tokenizer_internal.h"
#include "tokenizer/unicode.h"

/* Classes at i; 0 past the end, so every class test fails there. */
static uint8_t at(const uint8_t *fl, size_t n, size_t i)
{
    return i < n ? fl[i] : 0;
}

static bool is_newline(uint32_t c)
{
    return c == '\r' || c == '\n';
}

static uint32_t ascii_lower(uint32_t c, bool fold)
{
    return fold && c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* 's 't 're 've 'm 'll 'd at pos: the end of the match, or 0. */
static size_t contraction(const uint32_t *c, size_t n, size_t pos, bool fold)
{
    if (c[pos] != '\'' || pos + 1 >= n)
        return 0;
    uint32_t a = ascii_lower(c[pos + 1], fold);
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return pos + 2;
    if (pos + 2 >= n)
        return 0;
    uint32_t b = ascii_lower(c[pos + 2], fold);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
        return pos + 3;
    return 0;
}

/* Run of code points from i having all of `want` and none of `avoid`. */
static size_t run(const uint8_t *fl, size_t n, size_t i, uint8_t want, uint8_t avoid)
{
    while ((at(fl, n, i) & want) == want && !(at(fl, n, i) & avoid))
        i++;
    return i;
}

/* \s+(?!\S) then \s+: a whitespace run followed by more text leaves its
 * last character to start the next pre-token. */
static size_t whitespace(const uint8_t *fl, size_t n, size_t pos)
{
    size_t end = run(fl, n, pos, BN_CPT_WHITESPACE, 0);
    if (end - pos > 1 && end < n)
        return end - 1;
    return end > pos ? end : pos + 1; /* nothing matched: one code point alone */
}

static size_t gpt2_next(const uint32_t *c, const uint8_t *fl, size_t n, size_t pos)
{
    size_t end = contraction(c, n, pos, false);
    if (end)
        return end;
    size_t p = pos + (c[pos] == ' '); /* the optional leading space */
    uint8_t f = at(fl, n, p);
    if (f & BN_CPT_LETTER)
        return run(fl, n, p, BN_CPT_LETTER, 0);
    if (f & BN_CPT_NUMBER)
        return run(fl, n, p, BN_CPT_NUMBER, 0);
    const uint8_t word = BN_CPT_WHITESPACE | BN_CPT_LETTER | BN_CPT_NUMBER;
    if (f && !(f & word))
        return run(fl, n, p, BN_CPT_ANY, word);
    return whitespace(fl, n, pos);
}

static size_t llama3_next(const uint32_t *c, const uint8_t *fl, size_t n, size_t pos)
{
    size_t end = contraction(c, n, pos, true);
    if (end)
        return end;
    uint8_t f = fl[pos];
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (!is_newline(c[pos]) && !(f & BN_CPT_NUMBER) && ((f & BN_CPT_LETTER) || (at(fl, n, pos + 1) & BN_CPT_LETTER)))
        return run(fl, n, pos + 1, BN_CPT_LETTER, 0);
    /* \p{N}{1,3}: look at 3 code points at most (scanning the whole run
     * of digits each time made a long number quadratic) */
    if (f & BN_CPT_NUMBER) {
        end = pos + 1;
        while (end < pos + 3 && (at(fl, n, end) & BN_CPT_NUMBER))
            end++;
        return end;
    }
    /* ' ?[^\s\p{L}\p{N}]+[\r\n]*' */
    const uint8_t word = BN_CPT_WHITESPACE | BN_CPT_LETTER | BN_CPT_NUMBER;
    size_t p = pos + (c[pos] == ' ');
    if (!(at(fl, n, p) & word)) {
        end = run(fl, n, p, BN_CPT_ANY, word);
        while (end < n && is_newline(c[end]))
            end++;
        return end;
    }
    /* \s*[\r\n]+: through the last newline of the whitespace run */
    size_t ws_end = run(fl, n, pos, BN_CPT_WHITESPACE, 0);
    for (size_t i = ws_end; i > pos; i--)
        if (is_newline(c[i - 1]))
            return i;
    return whitespace(fl, n, pos);
}

size_t bn_pretokenize_next(enum bn_pre_kind pre, const uint32_t *cps, const uint8_t *fl, size_t n, size_t pos)
{
    return pre == BN_PRE_LLAMA3 ? llama3_next(cps, fl, n, pos) : gpt2_next(cps, fl, n, pos);
}
