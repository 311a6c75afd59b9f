/* Shared pieces of the libFuzzer harnesses (tests/fuzz/README.md).
 *
 * Readers of files take a path, so fuzz_file() puts each input into one temporary file
 * (in /dev/shm when there is one) that the harness passes on.
 *
 * die() exits by design. The harnesses are linked with -Wl,--wrap=die, so the library's
 * calls to die() land in __wrap_die below: inside FUZZ_EXPECT_DIE (the flag parser, whose
 * bad input is meant to die) it formats the message and jumps back, an accepted
 * rejection; anywhere else it aborts, so a reader that dies instead of returning -1
 * shows up as a crash. */
#ifndef CLMTT_FUZZ_COMMON_H
#define CLMTT_FUZZ_COMMON_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static jmp_buf fuzz_die_jmp;
static volatile int fuzz_die_armed;

void __wrap_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void __wrap_die(const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap); /* the message's arguments are checked too */
    va_end(ap);
    if (fuzz_die_armed) {
        fuzz_die_armed = 0;
        longjmp(fuzz_die_jmp, 1);
    }
    fprintf(stderr, "fuzz: die() outside an expected rejection: %s\n", msg);
    abort();
}

/* Runs STMT; a die() inside it ends it early instead of the process. */
#define FUZZ_EXPECT_DIE(STMT)                     \
    do {                                          \
        if (setjmp(fuzz_die_jmp) == 0) {          \
            fuzz_die_armed = 1;                   \
            STMT;                                 \
        }                                         \
        fuzz_die_armed = 0;                       \
    } while (0)

static char fuzz_path[256];
static void fuzz_unlink(void) { unlink(fuzz_path); }

/* The path of a file holding exactly data[0..size). */
__attribute__((unused)) static const char *fuzz_file(const uint8_t *data, size_t size) {
    char *path = fuzz_path;
    static int fd = -1;
    if (fd < 0) {
        struct stat st;
        const char *dir = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : NULL;
        if (!dir) dir = getenv("TMPDIR");
        if (!dir || !*dir) dir = "/tmp";
        snprintf(path, sizeof fuzz_path, "%s/clmtt-fuzz-%d-XXXXXX", dir, (int)getpid());
        fd = mkstemp(path);
        if (fd < 0) {
            perror("fuzz: mkstemp");
            abort();
        }
        atexit(fuzz_unlink);
    }
    if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) {
        perror("fuzz: writing the input file");
        abort();
    }
    return path;
}

/* Reads every byte of p[0..n) so that ASan sees an access beyond what the reader claims. */
__attribute__((unused)) static unsigned fuzz_touch(const void *p, size_t n) {
    const volatile unsigned char *b = p;
    unsigned s = 0;
    for (size_t i = 0; i < n; i++) s += b[i];
    return s;
}

#endif
