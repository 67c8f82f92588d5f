/* Strict JSON (RFC 8259) parser for the files of a Hugging Face model
 * directory: the SafeTensors header, config.json, tokenizer.json.
 *
 * Input is untrusted. The whole document must be one value with only
 * whitespace around it; strings must be valid UTF-8 without raw control
 * characters, escapes must be complete (\uXXXX surrogates in pairs);
 * numbers follow the JSON grammar and must be finite as doubles; duplicate
 * keys in one object, nesting deeper than the limit and documents larger
 * than the limit are rejected. Every failure is BITNET_ERR_BAD_FORMAT (or
 * OUT_OF_MEMORY) with a message "WHAT: line L, column C: problem". Nothing
 * is borrowed from the input: strings are unescaped copies (NUL-terminated;
 * they may contain NULs, \u0000, so use the length) and all nodes live in
 * the caller's arena. */
#ifndef BN_JSON_H
#define BN_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bitnet.h"
#include "core/arena.h"

#define BN_JSON_MAX_DEPTH 64

typedef enum bn_json_type {
    BN_JSON_NULL,
    BN_JSON_BOOL,
    BN_JSON_NUMBER,
    BN_JSON_STRING,
    BN_JSON_ARRAY,
    BN_JSON_OBJECT
} bn_json_type;

typedef struct bn_json bn_json;
typedef struct bn_json_member bn_json_member;

struct bn_json {
    uint8_t type;    /* bn_json_type */
    bool is_int;     /* number: an integer literal (no fraction or exponent) that fits int64 */
    bool b;          /* bool */
    uint64_t offset; /* byte offset of the value in the document */
    size_t n;        /* string: bytes; array: items; object: members */
    union {
        struct {
            double f; /* every number */
            int64_t i; /* is_int numbers */
        } num;
        const char *s;            /* string */
        bn_json *items;           /* array */
        bn_json_member *members;  /* object, in document order */
    } v;
};

struct bn_json_member {
    const char *key; /* NUL-terminated copy */
    size_t key_len;
    bn_json value;
};

/* Parse text[0..len). `what` names the document in messages ("config.json").
 * `max_len` bounds the document (documented per file in README). On success
 * *out points into `arena`; on failure *out is NULL (what was allocated
 * stays in the arena until the caller frees it). */
bitnet_status bn_json_parse(const char *text, size_t len, size_t max_len, const char *what, bn_arena *arena,
                            const bn_json **out);

/* Object member by key (a linear scan: for small objects such as config.json),
 * NULL when absent or when `obj` is not an object. */
const bn_json *bn_json_get(const bn_json *obj, const char *key);
/* Type name for messages: "null", "bool", "number", "string", "array", "object". */
const char *bn_json_type_name(const bn_json *v);
/* String value equal to `s`. */
bool bn_json_str_eq(const bn_json *v, const char *s);

#endif
