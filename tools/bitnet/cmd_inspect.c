/* bitnet inspect: metadata (long arrays summarized) and the tensor table. */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

#define ARRAY_HEAD 8 /* elements shown of a long array */

static void print_scalar(FILE *f, const bitnet_value *v, int json)
{
    int64_t i;
    uint64_t u;
    double d;
    bool b;
    const char *s;
    size_t len;
    if (bitnet_value_string(v, &s, &len) == BITNET_OK) {
        if (json) {
            json_string(f, s, len);
        } else {
            /* Long strings (chat templates) are cut in the text view. */
            fputc('"', f);
            fwrite(s, 1, len > 120 ? 120 : len, f);
            fputs(len > 120 ? "...\"" : "\"", f);
        }
    } else if (bitnet_value_bool(v, &b) == BITNET_OK) {
        fputs(b ? "true" : "false", f);
    } else if (bitnet_value_float(v, &d) == BITNET_OK) {
        fprintf(f, "%.9g", d);
    } else if (bitnet_value_uint(v, &u) == BITNET_OK) {
        fprintf(f, "%" PRIu64, u);
    } else if (bitnet_value_int(v, &i) == BITNET_OK) {
        fprintf(f, "%" PRId64, i);
    }
}

static void print_value(FILE *f, const bitnet_value *v, int json);

/* Element k of an array as a temporary value, printed. */
static void print_element(FILE *f, const bitnet_value *arr, bitnet_value_type et, uint64_t k, int json)
{
    const bitnet_value *sub;
    if (et == BITNET_VALUE_ARRAY) {
        if (bitnet_value_array_array(arr, k, &sub) == BITNET_OK)
            print_value(f, sub, json);
        return;
    }
    int64_t i;
    uint64_t u;
    double d;
    bool b;
    const char *s;
    size_t len;
    if (et == BITNET_VALUE_STRING && bitnet_value_array_string(arr, k, &s, &len) == BITNET_OK)
        json ? json_string(f, s, len) : (void)fprintf(f, "\"%.*s\"", (int)(len > 40 ? 40 : len), s);
    else if (et == BITNET_VALUE_BOOL && bitnet_value_array_bool(arr, k, &b) == BITNET_OK)
        fputs(b ? "true" : "false", f);
    else if (bitnet_value_array_float(arr, k, &d) == BITNET_OK)
        fprintf(f, "%.9g", d);
    else if (bitnet_value_array_uint(arr, k, &u) == BITNET_OK)
        fprintf(f, "%" PRIu64, u);
    else if (bitnet_value_array_int(arr, k, &i) == BITNET_OK)
        fprintf(f, "%" PRId64, i);
}

static void print_value(FILE *f, const bitnet_value *v, int json)
{
    bitnet_value_type et;
    uint64_t n;
    if (bitnet_value_array_info(v, &et, &n) != BITNET_OK) {
        print_scalar(f, v, json);
        return;
    }
    uint64_t shown = n > ARRAY_HEAD ? ARRAY_HEAD : n;
    if (json)
        fprintf(f, "{\"type\": \"array\", \"element_type\": \"%s\", \"length\": %" PRIu64 ", \"head\": [",
                bitnet_value_type_name(et), n);
    else
        fprintf(f, "[%s x %" PRIu64 "] [", bitnet_value_type_name(et), n);
    for (uint64_t k = 0; k < shown; k++) {
        if (k)
            fputs(", ", f);
        print_element(f, v, et, k, json);
    }
    fputs(json ? "]}" : (shown < n ? ", ...]" : "]"), f);
}

static void shape_string(const bitnet_tensor_info *t, char *buf, size_t cap)
{
    size_t used = 0;
    for (uint32_t d = 0; d < t->n_dims && used < cap; d++)
        used += (size_t)snprintf(buf + used, cap - used, d ? " x %" PRId64 : "%" PRId64, t->ne[d]);
}

static void inspect_text(const char *path, const bitnet_model *m)
{
    int64_t nkv = bitnet_model_meta_count(m), nt = bitnet_model_tensor_count(m);
    char format[32] = "SafeTensors (Hugging Face)"; /* gguf_version 0: a Hugging Face directory */
    if (bitnet_model_gguf_version(m))
        snprintf(format, sizeof format, "GGUF v%u", bitnet_model_gguf_version(m));
    printf("file: %s\nformat: %s, %" PRId64 " metadata keys, %" PRId64 " tensors\n\nmetadata:\n", path, format, nkv,
           nt);
    for (int64_t i = 0; i < nkv; i++) {
        const char *key;
        const bitnet_value *v;
        bitnet_model_meta_at(m, i, &key, &v);
        printf("  %-40s %-8s = ", key, bitnet_value_type_name(bitnet_value_get_type(v)));
        print_value(stdout, v, 0);
        putchar('\n');
    }
    printf("\ntensors:\n  %-32s %-6s %-22s %12s %12s\n", "name", "type", "shape", "bytes", "offset");
    uint64_t total = 0;
    for (int64_t i = 0; i < nt; i++) {
        bitnet_tensor_info t = {.struct_size = sizeof t};
        bitnet_model_tensor_info(m, i, &t);
        char shape[96] = "";
        shape_string(&t, shape, sizeof shape);
        printf("  %-32s %-6s %-22s %12" PRIu64 " %12" PRIu64 "\n", t.name, t.type_name, shape, t.n_bytes, t.offset);
        total += t.n_bytes;
    }
    printf("\ntotal tensor bytes: %" PRIu64 "\n", total);
}

static void inspect_json(const char *path, const bitnet_model *m)
{
    int64_t nkv = bitnet_model_meta_count(m), nt = bitnet_model_tensor_count(m);
    fputs("{\"file\": ", stdout);
    json_string(stdout, path, strlen(path));
    printf(", \"gguf_version\": %u, \"metadata\": {", bitnet_model_gguf_version(m));
    for (int64_t i = 0; i < nkv; i++) {
        const char *key;
        const bitnet_value *v;
        bitnet_model_meta_at(m, i, &key, &v);
        fputs(i ? ", " : "", stdout);
        json_string(stdout, key, strlen(key));
        fputs(": ", stdout);
        print_value(stdout, v, 1);
    }
    fputs("}, \"tensors\": [", stdout);
    for (int64_t i = 0; i < nt; i++) {
        bitnet_tensor_info t = {.struct_size = sizeof t};
        bitnet_model_tensor_info(m, i, &t);
        printf("%s{\"name\": ", i ? ", " : "");
        json_string(stdout, t.name, strlen(t.name));
        printf(", \"type\": \"%s\", \"type_id\": %u, \"shape\": [", t.type_name, t.type);
        for (uint32_t d = 0; d < t.n_dims; d++)
            printf(d ? ", %" PRId64 : "%" PRId64, t.ne[d]);
        printf("], \"bytes\": %" PRIu64 ", \"offset\": %" PRIu64 "}", t.n_bytes, t.offset);
    }
    fputs("]}\n", stdout);
}

int cmd_inspect(int argc, char **argv)
{
    static const char usage[] = "bitnet inspect --model PATH [--json]";
    const char *model_path = NULL, *json = NULL;
    const cli_opt opts[] = {{"--model", 1, &model_path}, {"--json", 0, &json}};
    int rc = cli_parse(argc, argv, opts, 2, usage);
    if (rc)
        return rc;
    if (!model_path)
        return cli_usage(usage, "--model is required");
    bitnet_model *m;
    bitnet_status s = bitnet_model_load_file(model_path, NULL, &m);
    if (s)
        return cli_fail("cannot load model", s);
    json ? inspect_json(model_path, m) : inspect_text(model_path, m);
    bitnet_model_release(m);
    return 0;
}
