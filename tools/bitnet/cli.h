/* The `bitnet` command-line tool: shared helpers for its subcommands. */
#ifndef BITNET_CLI_H
#define BITNET_CLI_H

#include <stdio.h>

#include "bitnet.h"

int cmd_inspect(int argc, char **argv);
int cmd_tensor(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_convert(int argc, char **argv);

/* Print "bitnet: <what>: <status>: <detail>" to stderr; returns exit code 1. */
int cli_fail(const char *what, bitnet_status status);
/* Print a usage error; returns exit code 2. */
int cli_usage(const char *usage, const char *fmt, ...);

/* Option parsing: `--name VALUE` pairs and `--flag` switches. */
typedef struct cli_opt {
    const char *name;   /* "--model" */
    int takes_value;    /* 1: --name VALUE */
    const char **value; /* receives VALUE, or "1" for a switch */
} cli_opt;
/* 0 on success, else prints the usage and returns 2. */
int cli_parse(int argc, char **argv, const cli_opt *opts, int n_opts, const char *usage);

/* JSON string literal of s[0..len) to f: valid UTF-8 passes through,
 * controls are escaped, invalid bytes become U+FFFD (JSON must be UTF-8). */
void json_string(FILE *f, const char *s, size_t len);

/* Strict numbers for option values: 0 on success, else prints the usage
 * error and returns 2. */
int cli_int(const char *usage, const char *name, const char *s, long long lo, long long hi, long long *out);
int cli_float(const char *usage, const char *name, const char *s, double lo, double hi, double *out);

/* A tensor type by name ("q8_0", "q6_k", "f16", ...). */
int cli_type(const char *usage, const char *name, const char *s, int32_t *out);

/* Tokenize with the two-call pattern into a malloc'd array. */
bitnet_status cli_tokenize(const bitnet_model *m, const char *text, uint32_t flags, bitnet_token **tokens,
                           size_t *n);

/* Milliseconds on a monotonic clock. */
double cli_now_ms(void);

/* `bitnet run --load-state FILE` (prompt_cache.c): load a saved state into
 * the (empty) context and keep the positions that match the prompt's first
 * tokens, always leaving at least one prompt token to decode. Returns how
 * many prompt tokens are reused (0 when the file cannot be used: the reason
 * goes to stderr and the context stays empty). */
size_t cli_prompt_cache_load(bitnet_context *ctx, const char *path, const bitnet_token *prompt, size_t n_prompt);

/* `bitnet run --stats`: context and weight-store counters (run_stats.c). */
void cli_print_stats(FILE *f, const bitnet_context *ctx);

#endif
