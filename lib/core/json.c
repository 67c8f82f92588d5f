/* Strict JSON parser: recursive descent with a depth limit. Children of the
 * array or object being parsed are collected on a growable stack and
 * copied into the arena when it closes, so memory stays linear in the
 * document size whatever its shape. */
#include "core/json.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/strmap.h"

/* Objects with more members than this check duplicate keys with a hash
 * map; smaller ones compare pairwise. */
#define SMALL_OBJECT 16

typedef struct parser {
    const char *p;
    size_t len, pos;
    const char *what;
    bn_arena *arena;
    bn_json *vals; /* stack of finished array items / object values */
    size_t n_vals, cap_vals;
    bn_json_member *mems; /* stack of finished object members */
    size_t n_mems, cap_mems;
    char *buf; /* string unescaping scratch */
    size_t cap_buf;
} parser;

/* Message with line and column (1-based, columns in bytes) of `at`. */
static bitnet_status fail_at(const parser *ps, size_t at, const char *fmt, ...) BN_PRINTF(3, 4);
static bitnet_status fail_at(const parser *ps, size_t at, const char *fmt, ...)
{
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < ps->len; i++) {
        if (ps->p[i] == '\n')
            line++, col = 1;
        else
            col++;
    }
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return bn_error(BITNET_ERR_BAD_FORMAT, "%s: line %zu, column %zu (byte %zu): %s", ps->what, line, col, at, msg);
}

static bitnet_status fail(const parser *ps, const char *msg)
{
    return fail_at(ps, ps->pos, "%s", msg);
}

static bitnet_status oom(const parser *ps)
{
    return bn_error(BITNET_ERR_OUT_OF_MEMORY, "%s: cannot allocate memory for the parsed document", ps->what);
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 16;
    while (c < need) {
        if (c > SIZE_MAX / 2 / elem)
            return false;
        c *= 2;
    }
    void *q = bn_realloc(*p, c * elem);
    if (!q)
        return false;
    *p = q;
    *cap = c;
    return true;
}

static void skip_ws(parser *ps)
{
    while (ps->pos < ps->len) {
        char c = ps->p[ps->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        ps->pos++;
    }
}

/* ---- strings -------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s[0..n), or 0: no overlong forms,
 * no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1Fu;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0Fu;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07u;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int hex4(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* A string starting at the opening quote: its unescaped copy in the arena. */
static bitnet_status parse_string(parser *ps, const char **out, size_t *out_len)
{
    ps->pos++; /* the quote */
    size_t n = 0;
    for (;;) {
        if (ps->pos >= ps->len)
            return fail(ps, "unterminated string");
        /* Unescaped output is never longer than its input. */
        if (!grow((void **)&ps->buf, &ps->cap_buf, n + 5, 1))
            return oom(ps);
        unsigned char c = (unsigned char)ps->p[ps->pos];
        if (c == '"') {
            ps->pos++;
            break;
        }
        if (c < 0x20)
            return fail(ps, "control character in a string (escape it)");
        if (c != '\\') {
            size_t k = utf8_seq((const unsigned char *)ps->p + ps->pos, ps->len - ps->pos);
            if (!k)
                return fail(ps, "invalid UTF-8 in a string");
            if (!grow((void **)&ps->buf, &ps->cap_buf, n + k + 1, 1))
                return oom(ps);
            memcpy(ps->buf + n, ps->p + ps->pos, k);
            n += k;
            ps->pos += k;
            continue;
        }
        if (ps->pos + 1 >= ps->len)
            return fail(ps, "unterminated escape");
        char e = ps->p[ps->pos + 1];
        ps->pos += 2;
        switch (e) {
        case '"': ps->buf[n++] = '"'; break;
        case '\\': ps->buf[n++] = '\\'; break;
        case '/': ps->buf[n++] = '/'; break;
        case 'b': ps->buf[n++] = '\b'; break;
        case 'f': ps->buf[n++] = '\f'; break;
        case 'n': ps->buf[n++] = '\n'; break;
        case 'r': ps->buf[n++] = '\r'; break;
        case 't': ps->buf[n++] = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if (ps->len - ps->pos < 4 || hex4(ps->p + ps->pos, &cp))
                return fail_at(ps, ps->pos - 2, "%s", "\\u needs four hex digits");
            ps->pos += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return fail_at(ps, ps->pos - 6, "%s", "lone low surrogate escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (ps->len - ps->pos < 6 || ps->p[ps->pos] != '\\' || ps->p[ps->pos + 1] != 'u' ||
                    hex4(ps->p + ps->pos + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return fail_at(ps, ps->pos - 6, "%s", "high surrogate escape without its low half");
                ps->pos += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            n += put_utf8(ps->buf + n, cp);
            break;
        }
        default: return fail_at(ps, ps->pos - 2, "%s", "invalid escape");
        }
    }
    char *s = bn_arena_strndup(ps->arena, n ? ps->buf : "", n);
    if (!s)
        return oom(ps);
    *out = s;
    *out_len = n;
    return BITNET_OK;
}

/* ---- numbers -------------------------------------------------------------- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bitnet_status parse_number(parser *ps, bn_json *v)
{
    const size_t start = ps->pos;
    const char *p = ps->p;
    size_t i = start;
    bool integer = true;
    if (i < ps->len && p[i] == '-')
        i++;
    if (i >= ps->len || !is_digit(p[i]))
        return fail_at(ps, start, "invalid number");
    if (p[i] == '0') {
        i++;
        if (i < ps->len && is_digit(p[i]))
            return fail_at(ps, start, "%s", "number with a leading zero");
    } else {
        while (i < ps->len && is_digit(p[i]))
            i++;
    }
    if (i < ps->len && p[i] == '.') {
        integer = false;
        i++;
        if (i >= ps->len || !is_digit(p[i]))
            return fail_at(ps, start, "%s", "number needs digits after '.'");
        while (i < ps->len && is_digit(p[i]))
            i++;
    }
    if (i < ps->len && (p[i] == 'e' || p[i] == 'E')) {
        integer = false;
        i++;
        if (i < ps->len && (p[i] == '+' || p[i] == '-'))
            i++;
        if (i >= ps->len || !is_digit(p[i]))
            return fail_at(ps, start, "%s", "number needs digits in its exponent");
        while (i < ps->len && is_digit(p[i]))
            i++;
    }
    const size_t n = i - start;
    v->type = BN_JSON_NUMBER;
    if (integer) {
        /* Exact int64 when it fits. */
        bool neg = p[start] == '-';
        uint64_t mag = 0;
        bool fits = true;
        for (size_t k = start + neg; k < i; k++) {
            uint64_t d = (uint64_t)(p[k] - '0');
            if (mag > (UINT64_MAX - d) / 10) {
                fits = false;
                break;
            }
            mag = mag * 10 + d;
        }
        if (fits && (neg ? mag <= (uint64_t)INT64_MAX + 1 : mag <= (uint64_t)INT64_MAX)) {
            v->is_int = true;
            v->v.num.i = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
        }
    }
    /* strtod on a NUL-terminated copy, with '.' replaced by the locale's
     * decimal point (a host program may have set LC_NUMERIC). */
    const char *dp = localeconv()->decimal_point;
    if (!dp || !*dp)
        dp = ".";
    const size_t dpl = strlen(dp), need = n + dpl + 1;
    char small[64], *copy = need <= sizeof small ? small : bn_malloc(need);
    if (!copy)
        return oom(ps);
    size_t w = 0;
    for (size_t k = start; k < i; k++) {
        if (p[k] == '.') {
            memcpy(copy + w, dp, dpl);
            w += dpl;
        } else {
            copy[w++] = p[k];
        }
    }
    copy[w] = '\0';
    char *end = NULL;
    v->v.num.f = strtod(copy, &end);
    bool ok = end == copy + w;
    if (copy != small)
        bn_free(copy);
    if (!ok)
        return fail_at(ps, start, "invalid number");
    if (!isfinite(v->v.num.f))
        return fail_at(ps, start, "%s", "number out of the range of a double");
    ps->pos = i;
    return BITNET_OK;
}

/* ---- values --------------------------------------------------------------- */

static bitnet_status parse_value(parser *ps, int depth, bn_json *v);

static bool literal(parser *ps, const char *word)
{
    size_t n = strlen(word);
    if (ps->len - ps->pos < n || memcmp(ps->p + ps->pos, word, n) != 0)
        return false;
    ps->pos += n;
    return true;
}

static bitnet_status parse_array(parser *ps, int depth, bn_json *v)
{
    ps->pos++; /* '[' */
    const size_t base = ps->n_vals;
    skip_ws(ps);
    if (ps->pos < ps->len && ps->p[ps->pos] == ']') {
        ps->pos++;
    } else {
        for (;;) {
            bn_json item;
            bitnet_status s = parse_value(ps, depth + 1, &item);
            if (s)
                return s;
            if (!grow((void **)&ps->vals, &ps->cap_vals, ps->n_vals + 1, sizeof *ps->vals))
                return oom(ps);
            ps->vals[ps->n_vals++] = item;
            skip_ws(ps);
            if (ps->pos < ps->len && ps->p[ps->pos] == ',') {
                ps->pos++;
                continue;
            }
            if (ps->pos < ps->len && ps->p[ps->pos] == ']') {
                ps->pos++;
                break;
            }
            return fail(ps, ps->pos < ps->len ? "expected ',' or ']' in an array" : "unterminated array");
        }
    }
    v->type = BN_JSON_ARRAY;
    v->n = ps->n_vals - base;
    if (v->n) {
        if (v->n > SIZE_MAX / sizeof(bn_json) || !(v->v.items = bn_arena_alloc(ps->arena, v->n * sizeof(bn_json))))
            return oom(ps);
        memcpy(v->v.items, ps->vals + base, v->n * sizeof(bn_json));
    }
    ps->n_vals = base;
    return BITNET_OK;
}

static bitnet_status check_duplicates(parser *ps, const bn_json_member *m, size_t n)
{
    if (n <= SMALL_OBJECT) {
        for (size_t i = 1; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (m[i].key_len == m[j].key_len && memcmp(m[i].key, m[j].key, m[i].key_len) == 0)
                    return fail_at(ps, m[i].value.offset, "duplicate key '%.100s'", m[i].key);
        return BITNET_OK;
    }
    bn_strmap map;
    if (bn_strmap_init(&map, n) != 0)
        return oom(ps);
    bitnet_status s = BITNET_OK;
    for (size_t i = 0; i < n && !s; i++) {
        int r = bn_strmap_insert(&map, m[i].key, m[i].key_len, (int64_t)i);
        if (r < 0)
            s = oom(ps);
        else if (r > 0)
            s = fail_at(ps, m[i].value.offset, "duplicate key '%.100s'", m[i].key);
    }
    bn_strmap_free(&map);
    return s;
}

static bitnet_status parse_object(parser *ps, int depth, bn_json *v)
{
    ps->pos++; /* '{' */
    const size_t base = ps->n_mems;
    skip_ws(ps);
    if (ps->pos < ps->len && ps->p[ps->pos] == '}') {
        ps->pos++;
    } else {
        for (;;) {
            skip_ws(ps);
            if (ps->pos >= ps->len || ps->p[ps->pos] != '"')
                return fail(ps, ps->pos < ps->len ? "expected a string key in an object" : "unterminated object");
            bn_json_member m;
            memset(&m, 0, sizeof m);
            bitnet_status s = parse_string(ps, &m.key, &m.key_len);
            if (s)
                return s;
            skip_ws(ps);
            if (ps->pos >= ps->len || ps->p[ps->pos] != ':')
                return fail(ps, "expected ':' after an object key");
            ps->pos++;
            if ((s = parse_value(ps, depth + 1, &m.value)))
                return s;
            if (!grow((void **)&ps->mems, &ps->cap_mems, ps->n_mems + 1, sizeof *ps->mems))
                return oom(ps);
            ps->mems[ps->n_mems++] = m;
            skip_ws(ps);
            if (ps->pos < ps->len && ps->p[ps->pos] == ',') {
                ps->pos++;
                continue;
            }
            if (ps->pos < ps->len && ps->p[ps->pos] == '}') {
                ps->pos++;
                break;
            }
            return fail(ps, ps->pos < ps->len ? "expected ',' or '}' in an object" : "unterminated object");
        }
    }
    v->type = BN_JSON_OBJECT;
    v->n = ps->n_mems - base;
    if (v->n) { /* (an empty object may come before any member: mems is still NULL) */
        bitnet_status s = check_duplicates(ps, ps->mems + base, v->n);
        if (s)
            return s;
        if (v->n > SIZE_MAX / sizeof(bn_json_member) ||
            !(v->v.members = bn_arena_alloc(ps->arena, v->n * sizeof(bn_json_member))))
            return oom(ps);
        memcpy(v->v.members, ps->mems + base, v->n * sizeof(bn_json_member));
    }
    ps->n_mems = base;
    return BITNET_OK;
}

static bitnet_status parse_value(parser *ps, int depth, bn_json *v)
{
    memset(v, 0, sizeof *v);
    skip_ws(ps);
    v->offset = ps->pos;
    if (ps->pos >= ps->len)
        return fail(ps, "unexpected end of the document");
    if (depth >= BN_JSON_MAX_DEPTH)
        return fail_at(ps, ps->pos, "nesting deeper than %d levels", BN_JSON_MAX_DEPTH);
    switch (ps->p[ps->pos]) {
    case '{': return parse_object(ps, depth, v);
    case '[': return parse_array(ps, depth, v);
    case '"': v->type = BN_JSON_STRING; return parse_string(ps, &v->v.s, &v->n);
    case 't':
    case 'f':
        v->type = BN_JSON_BOOL;
        v->b = ps->p[ps->pos] == 't';
        if (!literal(ps, v->b ? "true" : "false"))
            return fail(ps, "invalid literal");
        return BITNET_OK;
    case 'n':
        v->type = BN_JSON_NULL;
        return literal(ps, "null") ? BITNET_OK : fail(ps, "invalid literal");
    default:
        if (ps->p[ps->pos] == '-' || is_digit(ps->p[ps->pos]))
            return parse_number(ps, v);
        return fail(ps, "unexpected character");
    }
}

bitnet_status bn_json_parse(const char *text, size_t len, size_t max_len, const char *what, bn_arena *arena,
                            const bn_json **out)
{
    *out = NULL;
    if (len > max_len)
        return bn_error(BITNET_ERR_BAD_FORMAT, "%s: %zu bytes, more than the limit of %zu", what, len, max_len);
    parser ps = {.p = text ? text : "", .len = len, .what = what, .arena = arena};
    bn_json *root = bn_arena_alloc(arena, sizeof *root);
    if (!root)
        return oom(&ps);
    bitnet_status s = parse_value(&ps, 0, root);
    if (!s) {
        skip_ws(&ps);
        if (ps.pos != ps.len)
            s = fail(&ps, "data after the end of the document");
    }
    bn_free(ps.vals);
    bn_free(ps.mems);
    bn_free(ps.buf);
    if (!s)
        *out = root;
    return s;
}

const bn_json *bn_json_get(const bn_json *obj, const char *key)
{
    if (!obj || obj->type != BN_JSON_OBJECT)
        return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < obj->n; i++)
        if (obj->v.members[i].key_len == n && memcmp(obj->v.members[i].key, key, n) == 0)
            return &obj->v.members[i].value;
    return NULL;
}

const char *bn_json_type_name(const bn_json *v)
{
    static const char *const names[] = {"null", "bool", "number", "string", "array", "object"};
    return v && v->type <= BN_JSON_OBJECT ? names[v->type] : "nothing";
}

bool bn_json_str_eq(const bn_json *v, const char *s)
{
    return v && v->type == BN_JSON_STRING && v->n == strlen(s) && memcmp(v->v.s, s, v->n) == 0;
}
