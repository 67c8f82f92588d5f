/* bitnet: the command-line tool over libbitnet's public API. */
#include <string.h>

#include "bench_common.h"
#include "cli.h"

static const char usage[] =
    "bitnet <command> [options]\n"
    "commands:\n"
    "  inspect --model PATH [--json]                     metadata and tensor table\n"
    "  tensor  --model PATH --name NAME [--rows A:B] --out FILE [--type f32|f16|bf16]\n"
    "                                                    dequantize a tensor to a raw file\n"
    "  run     --model PATH --prompt TEXT [options]      generate text (see bitnet run --help)\n"
    "  tokenize --model PATH --text TEXT [--json]        token ids and pieces\n"
    "  perplexity --model PATH --file TEXT [--ctx N]     perplexity of a text\n"
    "  bench   --model PATH [-p N] [-n N] [-t 1,2] [--md] prefill/decode speed (see bitnet bench --help)\n"
    "  gen-model --out FILE [--type T] [--shape S]       synthetic model (see bitnet gen-model --help)\n"
    "  convert --in DIR --out FILE --type T [--head T]   Hugging Face directory to GGUF (see bitnet convert --help)\n"
    "  version                                           print the library version\n";

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "inspect") == 0)
        return cmd_inspect(argc - 2, argv + 2);
    if (strcmp(cmd, "tensor") == 0)
        return cmd_tensor(argc - 2, argv + 2);
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 2, argv + 2);
    if (strcmp(cmd, "tokenize") == 0)
        return cmd_tokenize(argc - 2, argv + 2);
    if (strcmp(cmd, "perplexity") == 0)
        return cmd_perplexity(argc - 2, argv + 2);
    if (strcmp(cmd, "bench") == 0)
        return cmd_bench(argc - 2, argv + 2);
    if (strcmp(cmd, "gen-model") == 0)
        return cmd_gen_model(argc - 2, argv + 2);
    if (strcmp(cmd, "convert") == 0)
        return cmd_convert(argc - 2, argv + 2);
    if (strcmp(cmd, BENCH_BANDWIDTH_COMMAND) == 0)
        return cmd_read_bandwidth(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("libbitnet %s\n", bitnet_version_string());
        return 0;
    }
    fprintf(stderr, "bitnet: unknown command '%s'\n%s", cmd, usage);
    return 2;
}
