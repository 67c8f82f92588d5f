/* A small JSON reader for the fixtures' golden files (tests only). */
#ifndef BITNET_TEST_JSON_H
#define BITNET_TEST_JSON_H

#include <stddef.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json {
    json_type type;
    double number;      /* number, bool */
    char *string;       /* string (unescaped, NUL-terminated) */
    struct json *items; /* array elements / object values */
    char **keys;        /* object keys */
    size_t n;
} json;

/* Parse a whole document; NULL on a syntax error. Free with json_free. */
json *json_parse(const char *text);
json *json_parse_file(const char *path);
void json_free(json *j);
/* Object member by key, or NULL. */
const json *json_get(const json *obj, const char *key);

#endif
