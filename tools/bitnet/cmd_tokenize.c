/* bitnet tokenize: the token ids (and pieces) of a text. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] = "bitnet tokenize --model PATH --text TEXT [--no-bos] [--parse-special] [--json]";

int cmd_tokenize(int argc, char **argv)
{
    const char *model_path = NULL, *text = NULL, *no_bos = NULL, *special = NULL, *json = NULL;
    const cli_opt opts[] = {{"--model", 1, &model_path}, {"--text", 1, &text}, {"--no-bos", 0, &no_bos},
                            {"--parse-special", 0, &special}, {"--json", 0, &json}};
    int rc = cli_parse(argc, argv, opts, 5, usage);
    if (rc)
        return rc;
    if (!model_path || !text)
        return cli_usage(usage, "--model and --text are required");
    bitnet_model *m;
    bitnet_status s = bitnet_model_load_file(model_path, NULL, &m);
    if (s)
        return cli_fail("cannot load model", s);
    uint32_t flags = (no_bos ? 0 : BITNET_TOKENIZE_ADD_SPECIAL) | (special ? BITNET_TOKENIZE_PARSE_SPECIAL : 0);
    bitnet_token *tokens;
    size_t n;
    if ((s = cli_tokenize(m, text, flags, &tokens, &n))) {
        bitnet_model_release(m);
        return cli_fail("cannot tokenize", s);
    }
    fputs(json ? "{\"tokens\": [" : "", stdout);
    for (size_t i = 0; i < n; i++)
        printf(json ? (i ? ", %d" : "%d") : (i ? " %d" : "%d"), tokens[i]);
    fputs(json ? "], \"pieces\": [" : "\n", stdout);
    for (size_t i = 0; i < n; i++) {
        char piece[512];
        size_t len = 0;
        if (bitnet_token_to_piece(m, tokens[i], BITNET_DETOKENIZE_SPECIAL, piece, sizeof piece, &len))
            len = 0;
        if (json) {
            fputs(i ? ", " : "", stdout);
            json_string(stdout, piece, len);
        } else {
            printf("%6d  '%.*s'\n", tokens[i], (int)len, piece);
        }
    }
    fputs(json ? "]}\n" : "", stdout);
    free(tokens);
    bitnet_model_release(m);
    return 0;
}
