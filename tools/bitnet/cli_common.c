#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

int cli_fail(const char *what, bitnet_status status)
{
    fprintf(stderr, "bitnet: %s: %s: %s\n", what, bitnet_status_str(status), bitnet_last_error());
    return 1;
}

int cli_usage(const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bitnet: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s\n", usage);
    return 2;
}

int cli_parse(int argc, char **argv, const cli_opt *opts, int n_opts, const char *usage)
{
    for (int i = 0; i < argc; i++) {
        const cli_opt *o = NULL;
        for (int k = 0; k < n_opts && !o; k++)
            if (strcmp(argv[i], opts[k].name) == 0)
                o = &opts[k];
        if (!o)
            return cli_usage(usage, "unknown argument '%s'", argv[i]);
        if (!o->takes_value) {
            *o->value = "1";
            continue;
        }
        if (i + 1 >= argc)
            return cli_usage(usage, "%s needs a value", o->name);
        *o->value = argv[++i];
    }
    return 0;
}

/* Length of a valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_valid(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || n > len || (n == 2 && c < 0xC2) || (n == 4 && c > 0xF4))
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if (n == 3 && ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0)))
        return 0; /* overlong, surrogate */
    if (n == 4 && ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90)))
        return 0;
    return n;
}

void json_string(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t n = utf8_valid((const unsigned char *)s + i, len - i);
            if (n == 0) {
                fputs("\\ufffd", f);
            } else {
                fwrite(s + i, 1, n, f);
                i += n - 1;
            }
            continue;
        }
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (c < 0x20 || c == 0x7f)
                fprintf(f, "\\u%04x", c);
            else
                fputc(c, f);
        }
    }
    fputc('"', f);
}

int cli_int(const char *usage, const char *name, const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return cli_usage(usage, "%s must be an integer in [%lld, %lld], got '%s'", name, lo, hi, s);
    *out = v;
    return 0;
}

int cli_float(const char *usage, const char *name, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return cli_usage(usage, "%s must be a number in [%g, %g], got '%s'", name, lo, hi, s);
    *out = v;
    return 0;
}

bitnet_status cli_tokenize(const bitnet_model *m, const char *text, uint32_t flags, bitnet_token **tokens, size_t *n)
{
    *tokens = NULL;
    *n = 0;
    size_t need = 0, len = strlen(text);
    bitnet_status s = bitnet_tokenize(m, text, len, flags, NULL, 0, &need);
    if (s != BITNET_OK && s != BITNET_ERR_BUFFER_TOO_SMALL)
        return s;
    *tokens = malloc((need ? need : 1) * sizeof **tokens);
    if (!*tokens)
        return BITNET_ERR_OUT_OF_MEMORY;
    s = bitnet_tokenize(m, text, len, flags, *tokens, need, n);
    if (s) {
        free(*tokens);
        *tokens = NULL;
    }
    return s;
}

double cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int cli_type(const char *usage, const char *name, const char *s, int32_t *out)
{
    for (uint32_t id = 0; id < 64; id++)
        if (strcmp(bitnet_type_name(id), s) == 0) {
            *out = (int32_t)id;
            return 0;
        }
    return cli_usage(usage, "%s: unknown type '%s' (e.g. f16, q8_0, q6_k)", name, s);
}
