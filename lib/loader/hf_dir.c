/* The files of a Hugging Face model directory: model.safetensors mapped
 * (or read), the JSON files read into memory for the build and dropped
 * after it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/error.h"
#include "loader/hf.h"

#define PATH_CAP 4096

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* dir + "/" + file into buf; false when it does not fit. */
static bool join(char *buf, const char *dir, size_t dir_len, const char *file)
{
    return (size_t)snprintf(buf, PATH_CAP, "%.*s/%s", (int)dir_len, dir, file) < PATH_CAP;
}

/* A JSON file into the heap; `optional` files may be absent (data NULL). */
static bitnet_status read_json(const char *dir, size_t dir_len, const char *file, bool optional, size_t limit,
                               bn_source *out)
{
    char path[PATH_CAP];
    memset(out, 0, sizeof *out);
    if (!join(path, dir, dir_len, file))
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "%.*s: path too long", (int)dir_len, dir);
    if (optional && !exists(path))
        return BITNET_OK;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > limit)
        return bn_error(BITNET_ERR_BAD_FORMAT, "%s: %llu bytes, more than the limit of %zu", file,
                        (unsigned long long)st.st_size, limit);
    return bn_source_open_file(out, path, 0);
}

/* The folder of a file path ("." for a bare name). */
static size_t dir_of(const char *path, const char **dir)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        *dir = ".";
        return 1;
    }
    *dir = path;
    return slash == path ? 1 : (size_t)(slash - path);
}

/* Last path component of dir[0..len), trailing slashes ignored. */
static void base_name(const char *dir, size_t len, char *out, size_t cap)
{
    while (len > 1 && dir[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && dir[start - 1] != '/')
        start--;
    snprintf(out, cap, "%.*s", (int)(len - start), dir + start);
}

bitnet_status bn_hf_load(const char *path, bool st_open, bool use_mmap, bn_source *st, bn_gguf *g)
{
    const char *dir = path;
    size_t dir_len = strlen(path);
    if (st_open)
        dir_len = dir_of(path, &dir);
    char file[PATH_CAP];
    bn_source cfg = {0}, tok = {0}, tok_cfg = {0};
    bitnet_status s = BITNET_OK;
    /* A bare SafeTensors file is not a model: say so with the status a
     * memory load of the same bytes gives. */
    if (!join(file, dir, dir_len, "config.json"))
        s = bn_error(BITNET_ERR_INVALID_ARGUMENT, "%s: path too long", path);
    else if (st_open && (!exists(file) || !join(file, dir, dir_len, "tokenizer.json") || !exists(file)))
        s = bn_error(BITNET_ERR_BAD_FORMAT,
                     "a SafeTensors file loads as part of a Hugging Face model directory: %s is missing beside it",
                     file);
    if (!s && !st_open) {
        if (!join(file, dir, dir_len, "model.safetensors"))
            s = bn_error(BITNET_ERR_INVALID_ARGUMENT, "%s: path too long", path);
        else if (!exists(file) && join(file, dir, dir_len, "model.safetensors.index.json") && exists(file))
            s = bn_error(BITNET_ERR_UNSUPPORTED,
                         "%s: checkpoints split into several SafeTensors files are not supported: merge them into "
                         "model.safetensors",
                         path);
        else if ((s = bn_source_open_file(st, file, use_mmap)) == BITNET_OK)
            st_open = true;
        else
            return s;
    }
    if (!s)
        s = read_json(dir, dir_len, "config.json", false, BN_HF_MAX_CONFIG, &cfg);
    if (!s)
        s = read_json(dir, dir_len, "tokenizer.json", false, BN_HF_MAX_TOKENIZER, &tok);
    if (!s)
        s = read_json(dir, dir_len, "tokenizer_config.json", true, BN_HF_MAX_CONFIG, &tok_cfg);
    if (!s) {
        char name[256];
        base_name(dir, dir_len, name, sizeof name);
        bn_hf_files in = {
            .st = st->data,
            .st_size = st->size,
            .config = (const char *)cfg.data,
            .config_len = (size_t)cfg.size,
            .tokenizer = (const char *)tok.data,
            .tokenizer_len = (size_t)tok.size,
            .tokenizer_config = (const char *)tok_cfg.data,
            .tokenizer_config_len = (size_t)tok_cfg.size,
            .name = name,
            .st_mapped = st->kind == BN_SOURCE_MMAP,
        };
        s = bn_hf_build(&in, g);
    }
    bn_source_close(&cfg);
    bn_source_close(&tok);
    bn_source_close(&tok_cfg);
    if (s && st_open)
        bn_source_close(st);
    return s;
}
