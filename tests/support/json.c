#include "support/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *p;
    int depth;
} parser;

static void skip_ws(parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t')
        ps->p++;
}

static int parse_value(parser *ps, json *out);
static void free_members(json *j);

static void put_utf8(char **o, unsigned cp)
{
    char *d = *o;
    if (cp < 0x80) {
        *d++ = (char)cp;
    } else if (cp < 0x800) {
        *d++ = (char)(0xC0 | cp >> 6);
        *d++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *d++ = (char)(0xE0 | cp >> 12);
        *d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *d++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *d++ = (char)(0xF0 | cp >> 18);
        *d++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *d++ = (char)(0x80 | (cp & 0x3F));
    }
    *o = d;
}

static unsigned hex4(const char *s)
{
    char buf[5] = {s[0], s[1], s[2], s[3], 0};
    return (unsigned)strtoul(buf, NULL, 16);
}

static int parse_string(parser *ps, char **out)
{
    if (*ps->p != '"')
        return -1;
    const char *s = ++ps->p;
    size_t cap = 0;
    while (s[cap] && s[cap] != '"')
        cap += s[cap] == '\\' && s[cap + 1] ? 2 : 1;
    char *o = malloc(cap * 2 + 1), *d = o;
    if (!o)
        return -1;
    while (*ps->p && *ps->p != '"') {
        char ch = *ps->p++;
        if (ch != '\\') {
            *d++ = ch;
            continue;
        }
        char e = *ps->p++;
        switch (e) {
        case 'n': *d++ = '\n'; break;
        case 't': *d++ = '\t'; break;
        case 'r': *d++ = '\r'; break;
        case 'b': *d++ = '\b'; break;
        case 'f': *d++ = '\f'; break;
        case 'u': {
            if (strlen(ps->p) < 4) {
                free(o);
                return -1;
            }
            unsigned cp = hex4(ps->p);
            ps->p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && ps->p[0] == '\\' && ps->p[1] == 'u') {
                unsigned lo = hex4(ps->p + 2);
                ps->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            put_utf8(&d, cp);
            break;
        }
        default: *d++ = e;
        }
    }
    if (*ps->p != '"') {
        free(o);
        return -1;
    }
    ps->p++;
    *d = 0;
    *out = o;
    return 0;
}

static int push(json *arr, json *item, char *key)
{
    json *items = realloc(arr->items, (arr->n + 1) * sizeof *items);
    if (!items)
        return -1;
    arr->items = items;
    if (arr->type == JSON_OBJECT) {
        char **keys = realloc(arr->keys, (arr->n + 1) * sizeof *keys);
        if (!keys)
            return -1;
        arr->keys = keys;
        keys[arr->n] = key;
    }
    items[arr->n++] = *item;
    return 0;
}

static int parse_container(parser *ps, json *out, char close)
{
    out->type = close == ']' ? JSON_ARRAY : JSON_OBJECT;
    ps->p++;
    if (++ps->depth > 64)
        return -1;
    skip_ws(ps);
    if (*ps->p == close) {
        ps->p++;
        ps->depth--;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        json item = {0};
        skip_ws(ps);
        if (close == '}') {
            if (parse_string(ps, &key))
                return -1;
            skip_ws(ps);
            if (*ps->p++ != ':') {
                free(key);
                return -1;
            }
        }
        if (parse_value(ps, &item) || push(out, &item, key)) {
            free(key);
            free_members(&item);
            return -1;
        }
        skip_ws(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p++ != close)
            return -1;
        ps->depth--;
        return 0;
    }
}

static int parse_value(parser *ps, json *out)
{
    skip_ws(ps);
    memset(out, 0, sizeof *out);
    const char *p = ps->p;
    if (*p == '{')
        return parse_container(ps, out, '}');
    if (*p == '[')
        return parse_container(ps, out, ']');
    if (*p == '"') {
        out->type = JSON_STRING;
        return parse_string(ps, &out->string);
    }
    if (!strncmp(p, "true", 4) || !strncmp(p, "false", 5)) {
        out->type = JSON_BOOL;
        out->number = *p == 't';
        ps->p += *p == 't' ? 4 : 5;
        return 0;
    }
    if (!strncmp(p, "null", 4)) {
        ps->p += 4;
        return 0;
    }
    char *end;
    out->type = JSON_NUMBER;
    out->number = strtod(p, &end);
    if (end == p)
        return -1;
    ps->p = end;
    return 0;
}

static void free_members(json *j)
{
    for (size_t i = 0; i < j->n; i++) {
        free_members(&j->items[i]);
        if (j->keys)
            free(j->keys[i]);
    }
    free(j->items);
    free(j->keys);
    free(j->string);
}

void json_free(json *j)
{
    if (!j)
        return;
    free_members(j);
    free(j);
}

json *json_parse(const char *text)
{
    parser ps = {text, 0};
    json *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    if (parse_value(&ps, j)) {
        json_free(j);
        return NULL;
    }
    return j;
}

json *json_parse_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = size >= 0 ? malloc((size_t)size + 1) : NULL;
    json *j = NULL;
    if (buf && fread(buf, 1, (size_t)size, f) == (size_t)size) {
        buf[size] = 0;
        j = json_parse(buf);
    }
    free(buf);
    fclose(f);
    return j;
}

const json *json_get(const json *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (!strcmp(obj->keys[i], key))
            return &obj->items[i];
    return NULL;
}
