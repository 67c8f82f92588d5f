/* Tokens to bytes, as llama.cpp's token_to_piece / detokenize: "▁" back to
 * spaces (SentencePiece), GPT-2 code points back to bytes (BPE), byte tokens
 * to their byte; control and unknown tokens only on request. No
 * clean-up of spaces before punctuation: detokenize inverts tokenize. */
#include <string.h>

#include "tokenizer/tokenizer_internal.h"
#include "tokenizer/unicode.h"
#include "tokenizer/utf8.h"

/* Output cursor: counts always, writes when buf is set. `strip` drops one
 * leading space from the first byte ever written (the SentencePiece dummy
 * prefix). */
typedef struct sink {
    char *buf;
    size_t n;
    bool strip;
} sink;

static void put(sink *o, const char *src, size_t n)
{
    if (!n)
        return;
    if (o->strip) {
        o->strip = false;
        if (src[0] == ' ') {
            src++;
            n--;
        }
    }
    if (o->buf && n)
        memcpy(o->buf + o->n, src, n);
    o->n += n;
}

/* SentencePiece text with each U+2581 as a space. */
static void unescape(sink *o, const bn_gguf_str *text)
{
    size_t i = 0, run = 0; /* bytes [i - run, i) wait to be copied */
    while (i < text->len) {
        if (text->len - i >= 3 && memcmp(text->s + i, "\xE2\x96\x81", 3) == 0) {
            put(o, text->s + i - run, run);
            put(o, " ", 1);
            i += 3;
            run = 0;
        } else {
            i++;
            run++;
        }
    }
    put(o, text->s + i - run, run);
}

/* Byte-level BPE text: each code point is the byte it stands for. Code
 * points that stand for none (not a GPT-2 vocabulary) are kept as they are
 * rather than llama.cpp's "[UNK_BYTE_0x...]" marker. */
static void unmap_bytes(sink *o, const bn_gguf_str *text)
{
    for (size_t i = 0; i < text->len;) {
        uint32_t cp;
        size_t n = bn_utf8_decode(text->s + i, (size_t)text->len - i, &cp);
        int b = n ? bn_cpt_to_byte(cp) : -1;
        if (b >= 0) {
            char c = (char)b;
            put(o, &c, 1);
        } else {
            n = n ? n : 1;
            put(o, text->s + i, n);
        }
        i += n;
    }
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

/* "<0xXX>" is the byte XX; a malformed byte token renders as its text. */
static void byte_piece(sink *o, const bn_gguf_str *text)
{
    if (text->len == 6 && memcmp(text->s, "<0x", 3) == 0 && text->s[5] == '>') {
        int hi = hex_digit(text->s[3]), lo = hex_digit(text->s[4]);
        if (hi >= 0 && lo >= 0) {
            char c = (char)(hi << 4 | lo);
            put(o, &c, 1);
            return;
        }
    }
    put(o, text->s, (size_t)text->len);
}

static void piece(const bn_tokenizer *t, bitnet_token id, bool special, sink *o)
{
    const bn_gguf_str *text = &t->texts[id];
    uint8_t a = t->attrs[id];
    if (a & (BN_ATTR_CONTROL | BN_ATTR_UNKNOWN)) {
        if (special)
            put(o, text->s, (size_t)text->len);
    } else if (a & BN_ATTR_USER_DEFINED) {
        put(o, text->s, (size_t)text->len);
    } else if (a & BN_ATTR_NORMAL) {
        if (t->kind == BN_TOK_SPM)
            unescape(o, text);
        else
            unmap_bytes(o, text);
    } else if (a & BN_ATTR_BYTE) {
        byte_piece(o, text);
    } /* unused and undefined tokens render as nothing */
}

size_t bn_tokenizer_piece(const bn_tokenizer *t, bitnet_token id, bool special, char *buf)
{
    sink o = {buf, 0, false};
    piece(t, id, special, &o);
    return o.n;
}

size_t bn_tokenizer_decode(const bn_tokenizer *t, const bitnet_token *ids, size_t n, bool special, char *buf)
{
    /* The dummy prefix is stripped from the first piece that has bytes, so
     * a leading BOS that renders empty does not keep the space. */
    sink o = {buf, 0, t->kind == BN_TOK_SPM && t->add_space_prefix};
    for (size_t i = 0; i < n; i++)
        piece(t, ids[i], special, &o);
    return o.n;
}
