/* main() for the standalone replay builds of the fuzz harnesses: runs every
 * file named on the command line, and every regular file inside each folder
 * named (not recursive, in name order), once through LLVMFuzzerTestOneInput.
 * No libFuzzer needed, so every build (release, ASan, valgrind) replays the
 * seed corpora and the regression inputs.
 *
 *   <harness>_replay [-v] FILE|DIR...
 *
 * Each input is handed over in a buffer of exactly its size, so a read past
 * the end is caught by the sanitizers. With -v the name of each input is
 * printed to stderr before it runs, so a crash names its input. Exit 0 when
 * every input ran, 1 when a file or folder could not be read. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Harnesses may define LLVMFuzzerInitialize; the weak default does nothing. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static int verbose;

static int run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "%s: cannot open\n", path);
        return 1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, fp);
        if (n < cap)
            break;
        uint8_t *bigger = realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    int err = ferror(fp) || !buf;
    fclose(fp);
    if (!err) {
        uint8_t *exact = malloc(n ? n : 1);
        err = !exact;
        if (exact) {
            if (n)
                memcpy(exact, buf, n);
            if (verbose)
                fprintf(stderr, "running %s (%zu bytes)\n", path, n);
            LLVMFuzzerTestOneInput(exact, n);
            free(exact);
        }
    }
    free(buf);
    if (err)
        fprintf(stderr, "%s: cannot read\n", path);
    return err;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file directly inside `dir`, in name order. */
static int run_dir(const char *dir, int *count)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: cannot open folder\n", dir);
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int err = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *path = malloc(len);
        if (!path) {
            err = 1;
            break;
        }
        snprintf(path, len, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        if (n == cap) {
            char **grown = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names);
            if (!grown) {
                free(path);
                err = 1;
                break;
            }
            names = grown;
        }
        names[n++] = path;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        err |= run_file(names[i]);
        free(names[i]);
    }
    free(names);
    *count += (int)n;
    return err;
}

int main(int argc, char **argv)
{
    LLVMFuzzerInitialize(&argc, &argv);
    int failures = 0, count = 0;
    const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v")) {
            verbose = 1;
            continue;
        }
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            failures += run_dir(argv[i], &count);
        } else {
            failures += run_file(argv[i]);
            count++;
        }
    }
    printf("%s: %d input(s) run, %d unreadable\n", self, count, failures);
    return failures ? 1 : 0;
}
