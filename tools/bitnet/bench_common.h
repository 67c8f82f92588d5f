/* Helpers of `bitnet bench`: file hash, system facts, memory bandwidth. */
#ifndef BITNET_BENCH_COMMON_H
#define BITNET_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* The subcommands (main.c dispatches to them). */
int cmd_bench(int argc, char **argv);
int cmd_gen_model(int argc, char **argv);

/* SHA-256 of a whole file as 64 lowercase hex digits; 0 on success, else -1
 * with errno set. *size receives the file size. */
int bench_sha256_file(const char *path, char hex[65], uint64_t *size);
/* SHA-256 of a buffer (for the self-test). */
void bench_sha256(const void *data, size_t len, uint8_t out[32]);

/* "model name" of /proc/cpuinfo, or "unknown". */
void bench_cpu_model(char *buf, size_t cap);
/* The "flags" line of /proc/cpuinfo, malloc'd ("" when unavailable). */
char *bench_cpu_flags(void);
/* Online CPUs. */
int bench_n_cpus(void);
/* Peak resident set of this process in bytes (VmHWM, else ru_maxrss). */
uint64_t bench_peak_rss(void);
/* Of this process's mappings of file `path`: bytes resident, and of those the
 * bytes mapped as 2 MiB pages (FilePmdMapped in /proc/self/smaps). Decode
 * from a mapped file runs slower when its page cache is in small folios
 * (a file just written or copied keeps them until its cache is dropped).
 * 0 on success, -1 when smaps cannot be read. */
int bench_file_mapping(const char *path, uint64_t *resident, uint64_t *pmd_mapped);
/* Best of `reps` streaming reads of a `bytes` buffer by `threads` threads,
 * in GB/s (1e9 bytes); 0 when the buffer cannot be allocated. */
double bench_read_bandwidth(int threads, size_t bytes, int reps);
/* The same in a child process (this executable run as `bitnet
 * BENCH_BANDWIDTH_COMMAND THREADS BYTES REPS`), so that its buffer never
 * counts in this process's peak RSS; 0 when that fails. */
double bench_read_bandwidth_apart(int threads, size_t bytes, int reps);
/* The child's side: prints the GB/s on stdout. Not in the usage text. */
#define BENCH_BANDWIDTH_COMMAND "__read-bandwidth"
int cmd_read_bandwidth(int argc, char **argv);

#endif
