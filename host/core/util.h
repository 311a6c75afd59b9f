/* Small host helpers: fatal errors, checked allocation, files, hashing, time. */
#ifndef CLMTT_UTIL_H
#define CLMTT_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Prints "clmtt: <message>" to stderr and exits with status 1; under MPI (host/core/dist.h)
 * "clmtt: rank R: <message>", and the whole job ends. */
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* Whole file into memory (NUL-terminated, length in *len); NULL if unreadable. */
unsigned char *read_file(const char *path, size_t *len);
int file_exists(const char *path);
int dir_exists(const char *path);
/* mkdir -p; dies naming the folder when it cannot be made. */
void mkdir_p(const char *path);
/* Writes through a temporary file in the same folder, fsync, rename.
 * The quiet variant returns -1 instead of dying. */
void write_file_atomic(const char *path, const void *data, size_t len);
int write_file_atomic_quiet(const char *path, const void *data, size_t len);

/* Removes the temporary files (<name>.tmp.<pid>) in dir that write_file_atomic of a process
 * that no longer runs left behind (a killed run); returns how many. */
int remove_stale_temps(const char *dir);

/* FNV-1a, chained through `seed`. Not cryptographic: cache keys and checksums. */
uint64_t hash64(const void *data, size_t len, uint64_t seed);

/* Environment variable `name` as a whole decimal number in [min, max]: 0 when it is unset or
 * empty, 1 with *out set, -1 when it is anything else (a sign, a space, a fraction, out of
 * range). The caller dies with its own message, which says what the number counts. */
int env_count(const char *name, unsigned long long min, unsigned long long max, unsigned long long *out);

double now_seconds(void);
/* The process's peak resident memory so far (getrusage), in bytes: host memory, which is
 * where a CPU OpenCL device's buffers live too. */
size_t peak_rss_bytes(void);
/* "1.5 GiB" style. */
const char *human_bytes(double bytes, char *buf, size_t n);

#endif
