/* libFuzzer harness for YAML configuration documents.
 *
 * The input is the document: bitnet_config_load_string, and (one input in
 * eight) the same bytes as a file through bitnet_config_load_file (a memfd,
 * so no disk I/O).
 * Checks, beyond "no crash, no leak, no UB": both calls agree on the status;
 * a failure leaves *out NULL and a FILE:LINE:COLUMN message; a loaded
 * config hands out parameters the consumers accept (bitnet_sampler_new
 * takes the sampler params; context params within their documented ranges);
 * every getter works on it. A failed check aborts (a crash to libFuzzer). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bitnet/bitnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

static void check(int ok, const char *what)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_config: check failed: %s: %s\n", what, bitnet_last_error());
    abort();
}

static void touch(const char *s)
{
    if (s)
        sink += strlen(s);
}

static void use_config(const bitnet_config *c)
{
    touch(bitnet_config_model_path(c));
    bitnet_model_params mp = bitnet_model_params_default();
    check(bitnet_config_model_params(c, &mp) == BITNET_OK, "model params");
    bitnet_context_params cp = bitnet_context_params_default();
    check(bitnet_config_context_params(c, &cp) == BITNET_OK, "context params");
    check(cp.n_ctx >= 0 && cp.n_ctx <= (1 << 20) && cp.n_batch >= 1 && cp.n_threads >= 1 && cp.n_threads <= 256 &&
              cp.blas_min_batch >= 0 && (cp.kv_type == BITNET_TYPE_F32 || cp.kv_type == BITNET_TYPE_F16),
          "context params out of range");
    touch(cp.backend);
    bitnet_sampler_params sp = bitnet_sampler_params_default();
    check(bitnet_config_sampler_params(c, &sp) == BITNET_OK, "sampler params");
    bitnet_sampler *s = NULL;
    check(bitnet_sampler_new(&sp, &s) == BITNET_OK, "bitnet_sampler_new refuses the config's sampler params");
    bitnet_sampler_free(s);
    bitnet_config_generate g = {sizeof g, NULL, -1, NULL, NULL};
    check(bitnet_config_generate_params(c, &g) == BITNET_OK, "generate params");
    check(g.n_predict >= -1 && g.n_predict <= (1 << 24), "n_predict out of range");
    touch(g.prompt);
    touch(g.state_load);
    touch(g.state_save);
    /* A struct_size the library does not know is refused, not overrun. */
    bitnet_config_generate small = {1, NULL, -1, NULL, NULL};
    sink += (size_t)bitnet_config_generate_params(c, &small);
}

/* The document through bitnet_config_load_file, from a memfd. */
static bitnet_status load_as_file(const uint8_t *data, size_t size, bitnet_config **out)
{
    *out = NULL;
    int fd = memfd_create("fuzz-config", 0);
    if (fd < 0)
        return BITNET_ERR_IO;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    bitnet_status s = BITNET_ERR_IO;
    if (done == size) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        s = bitnet_config_load_file(path, out);
    }
    close(fd);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bitnet_config *c = (bitnet_config *)&sink; /* must be reset to NULL on failure */
    bitnet_status s = bitnet_config_load_string((const char *)data, size, &c);
    if (s == BITNET_OK) {
        check(c != NULL, "OK without a config");
        use_config(c);
        bitnet_config_free(c);
    } else {
        check(c == NULL, "a failed load left *out set");
        check(s == BITNET_ERR_BAD_FORMAT || s == BITNET_ERR_OUT_OF_MEMORY, "unexpected status");
        check(!strncmp(bitnet_last_error(), "<string>:", 9), "the message does not start with <string>:");
    }
    /* One input in eight also goes through a file: load_file reads into a
     * 1 MiB buffer, which costs more under ASan than parsing. */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    if (h % 8 != 0)
        return 0;
    bitnet_config *f = NULL;
    bitnet_status sf = load_as_file(data, size, &f);
    if (sf != BITNET_ERR_IO)
        check(sf == s, "load_file and load_string disagree");
    if (sf == BITNET_OK) {
        use_config(f);
        bitnet_config_free(f);
    }
    return 0;
}
