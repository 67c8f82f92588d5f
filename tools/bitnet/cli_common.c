#include <stdarg.h>
#include <string.h>

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

void json_string(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
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
