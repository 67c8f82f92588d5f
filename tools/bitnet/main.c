/* bitnet: inspect GGUF models and read their tensors (more subcommands with
 * the inference issue). */
#include <string.h>

#include "cli.h"

static const char usage[] =
    "bitnet <command> [options]\n"
    "commands:\n"
    "  inspect --model PATH [--json]                     metadata and tensor table\n"
    "  tensor  --model PATH --name NAME [--rows A:B] --out FILE [--type f32|f16|bf16]\n"
    "                                                    dequantize a tensor to a raw file\n"
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
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("libbitnet %s\n", bitnet_version_string());
        return 0;
    }
    fprintf(stderr, "bitnet: unknown command '%s'\n%s", cmd, usage);
    return 2;
}
