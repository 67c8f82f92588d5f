/* System facts for `bitnet bench`: CPU name and flags, peak RSS, and the
 * machine's streaming read bandwidth (the ceiling for decode, which reads
 * every weight once per token). */
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#include "bench_common.h"
#include "cli.h"

/* Value of the first "key<spaces>: value" line of /proc/cpuinfo, malloc'd. */
static char *cpuinfo_value(const char *key)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return NULL;
    char *line = NULL, *out = NULL;
    size_t cap = 0, klen = strlen(key);
    while (!out && getline(&line, &cap, f) > 0) {
        if (strncmp(line, key, klen) != 0 || (line[klen] != ' ' && line[klen] != '\t' && line[klen] != ':'))
            continue;
        char *v = strchr(line, ':');
        if (!v)
            continue;
        v++;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t n = strcspn(v, "\n");
        v[n] = '\0';
        out = strdup(v);
    }
    free(line);
    fclose(f);
    return out;
}

void bench_cpu_model(char *buf, size_t cap)
{
    char *v = cpuinfo_value("model name");
    snprintf(buf, cap, "%s", v && *v ? v : "unknown");
    free(v);
}

char *bench_cpu_flags(void)
{
    char *v = cpuinfo_value("flags");
    return v ? v : strdup("");
}

int bench_n_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

uint64_t bench_peak_rss(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    if (kb)
        return (uint64_t)kb * 1024u;
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (uint64_t)ru.ru_maxrss * 1024u : 0;
}

int bench_file_mapping(const char *path, uint64_t *resident, uint64_t *pmd_mapped)
{
    *resident = *pmd_mapped = 0;
    char *real = realpath(path, NULL);
    FILE *f = real ? fopen("/proc/self/smaps", "r") : NULL;
    if (!f) {
        free(real);
        return -1;
    }
    char line[4096];
    bool in_file = false;
    while (fgets(line, sizeof line, f)) {
        unsigned long long lo, hi, kb;
        char key[64];
        if (sscanf(line, "%llx-%llx ", &lo, &hi) == 2) { /* "start-end perms offset dev inode   path" */
            const char *name = strchr(line, '/');
            const size_t len = name ? strcspn(name, "\n") : 0;
            in_file = name && len == strlen(real) && strncmp(name, real, len) == 0;
        } else if (in_file && sscanf(line, "%63[^:]: %llu kB", key, &kb) == 2) {
            if (strcmp(key, "Rss") == 0)
                *resident += (uint64_t)kb * 1024u;
            else if (strcmp(key, "FilePmdMapped") == 0)
                *pmd_mapped += (uint64_t)kb * 1024u;
        }
    }
    fclose(f);
    free(real);
    return 0;
}

typedef struct bw_job {
    const uint64_t *p;
    size_t n;
    uint64_t sum;
    atomic_int *go;
} bw_job;

/* Eight independent sums, so the loop is bound by loads, not by one add chain. */
static void *bw_read(void *arg)
{
    bw_job *j = arg;
    while (!atomic_load_explicit(j->go, memory_order_acquire))
        ; /* start together: the timed window is the parallel read */
    uint64_t s[8] = {0};
    size_t i = 0;
    for (; i + 8 <= j->n; i += 8)
        for (int k = 0; k < 8; k++)
            s[k] += j->p[i + (size_t)k];
    for (; i < j->n; i++)
        s[0] += j->p[i];
    j->sum = s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
    return NULL;
}

double bench_read_bandwidth(int threads, size_t bytes, int reps)
{
    if (threads < 1)
        threads = 1;
    if (threads > 256)
        threads = 256;
    size_t n = bytes / sizeof(uint64_t);
    uint64_t *buf = NULL;
    if (n == 0 || posix_memalign((void **)&buf, (size_t)2 << 20, n * sizeof *buf) != 0)
        return 0.0;
#ifdef MADV_HUGEPAGE
    /* the best case for a streaming read, as the weights get (huge pages) */
    (void)madvise(buf, n * sizeof *buf, MADV_HUGEPAGE);
#endif
    /* Nonzero bytes: untouched pages would all map the shared zero page. */
    memset(buf, 0x5a, n * sizeof *buf);
    bw_job jobs[256];
    pthread_t tid[256];
    double best = 0.0;
    uint64_t check = 0;
    for (int r = 0; r < reps; r++) {
        atomic_int go = 0;
        int made = 0;
        for (int t = 0; t < threads; t++) {
            size_t lo = n / (size_t)threads * (size_t)t;
            size_t hi = t + 1 == threads ? n : n / (size_t)threads * (size_t)(t + 1);
            jobs[t] = (bw_job){buf + lo, hi - lo, 0, &go};
            if (pthread_create(&tid[t], NULL, bw_read, &jobs[t]) != 0)
                break;
            made++;
        }
        double t0 = cli_now_ms();
        atomic_store_explicit(&go, 1, memory_order_release);
        for (int t = 0; t < made; t++)
            pthread_join(tid[t], NULL);
        double ms = cli_now_ms() - t0;
        if (made < threads) { /* a partial run would overstate per-thread speed */
            best = 0.0;
            break;
        }
        for (int t = 0; t < threads; t++)
            check += jobs[t].sum;
        double gbps = (double)(n * sizeof *buf) / (ms * 1e6);
        if (gbps > best)
            best = gbps;
    }
    free(buf);
    /* Every byte is 0x5a, so the sums are known: a mismatch means a broken read. */
    return check == (uint64_t)reps * (uint64_t)n * 0x5a5a5a5a5a5a5a5aull ? best : 0.0;
}

/* The child is a fresh process image (posix_spawn of this executable), not a
 * fork: fork write-protects every private page of this process, and each
 * first write after it (a new KV row, a scratch page) then takes a page
 * fault. Before every tg repetition that cost decode ~0.4 ms a token here,
 * where page-table updates are slow (paravirtual shadow paging). */
double bench_read_bandwidth_apart(int threads, size_t bytes, int reps)
{
    /* The path, not "/proc/self/exe" itself: under valgrind that names the
     * tool, while readlink is answered with the client program. */
    char exe[4096];
    const ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0 || (size_t)len >= sizeof exe - 1)
        return 0.0;
    exe[len] = '\0';
    int fd[2];
    if (pipe(fd) != 0)
        return 0.0;
    char a_threads[16], a_bytes[32], a_reps[16];
    snprintf(a_threads, sizeof a_threads, "%d", threads);
    snprintf(a_bytes, sizeof a_bytes, "%zu", bytes);
    snprintf(a_reps, sizeof a_reps, "%d", reps);
    char *argv[] = {(char *)"bitnet", (char *)BENCH_BANDWIDTH_COMMAND, a_threads, a_bytes, a_reps, NULL};
    posix_spawn_file_actions_t fa;
    pid_t pid = -1;
    int err = posix_spawn_file_actions_init(&fa);
    if (!err) {
        err = posix_spawn_file_actions_adddup2(&fa, fd[1], STDOUT_FILENO);
        if (!err)
            err = posix_spawn_file_actions_addclose(&fa, fd[0]);
        if (!err)
            err = posix_spawn(&pid, exe, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
    }
    close(fd[1]);
    if (err) {
        close(fd[0]);
        return 0.0;
    }
    char buf[64];
    size_t have = 0;
    for (;;) {
        ssize_t got = read(fd[0], buf + have, sizeof buf - 1 - have);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        have += (size_t)got;
        if (have == sizeof buf - 1)
            break;
    }
    buf[have] = '\0';
    close(fd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    char *end = NULL;
    const double v = strtod(buf, &end);
    const bool ok = end != buf && WIFEXITED(status) && WEXITSTATUS(status) == 0 && v > 0;
    return ok ? v : 0.0;
}

int cmd_read_bandwidth(int argc, char **argv)
{
    static const char usage[] = "bitnet " BENCH_BANDWIDTH_COMMAND ": usage: THREADS(1-256) BYTES REPS(1-100)\n";
    if (argc != 3) {
        fputs(usage, stderr);
        return 2;
    }
    char *e1 = NULL, *e2 = NULL, *e3 = NULL;
    const long threads = strtol(argv[0], &e1, 10);
    const unsigned long long bytes = strtoull(argv[1], &e2, 10);
    const long reps = strtol(argv[2], &e3, 10);
    if (*e1 || *e2 || *e3 || argv[1][0] < '0' || argv[1][0] > '9' || threads < 1 || threads > 256 || bytes == 0 || bytes > SIZE_MAX || reps < 1 ||
        reps > 100) {
        fputs(usage, stderr);
        return 2;
    }
    const double v = bench_read_bandwidth((int)threads, (size_t)bytes, (int)reps);
    if (v <= 0)
        return 1;
    printf("%.17g\n", v);
    return fflush(stdout) == 0 ? 0 : 1;
}
