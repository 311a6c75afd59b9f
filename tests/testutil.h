/* Shared test helpers: device set-up, random data, poisoning, comparisons. */
#ifndef CLMTT_TESTUTIL_H
#define CLMTT_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/blas.h"
#include "io/safetensors.h"
#include "core/rng.h"
#include "core/runtime.h"
#include "core/tensor.h"
#include "core/util.h"
#include "net/net.h"

/* Opens the default device once (PoCL's CPU device in CI). */
void tu_init(void);
/* CLMTT_TEST_SMALL=1 (set by tools/test.sh --oclgrind): the device tests take fewer and
 * smaller shapes, still running every kernel and every code path, so that they fit a
 * simulator. 0 or unset: the full tests. */
int tu_small(void);
/* Uniform random floats/doubles in [lo, hi) from a fixed seed. */
void tu_rand(float *x, size_t n, uint64_t seed, float lo, float hi);
void tu_rand_d(double *x, size_t n, uint64_t seed, double lo, double hi);
/* A fresh array of n floats of tu_rand in [-1, 1) (malloc'd). */
float *tu_new_rand(size_t n, uint64_t seed);
/* Device buffer holding x[0..n-1]. */
cl_mem tu_upload(const float *x, size_t n);
/* Device buffer of n floats filled with NaN, so unwritten outputs fail comparisons. */
cl_mem tu_poisoned(size_t n);
/* Sets the gaps between the tensors of a parameter vector v[net->nparams] to zero: passes
 * leave them unwritten, so a poisoned output keeps its poison there. */
void tu_zero_gaps(const Net *net, float *v);
/* Fails unless the elements of the poisoned buffer g[0..total) outside [a, a+n) and
 * [a2, a2+n2) are still NaN (nothing wrote them). */
void tu_check_untouched(const char *what, cl_mem g, size_t total, size_t a, size_t n, size_t a2, size_t n2);
/* Host copy (malloc'd) of n floats at offset off. */
float *tu_download(cl_mem m, size_t off, size_t n);
double *tu_to_double(const float *x, size_t n);   /* malloc'd */
float *tu_to_float(const double *x, size_t n);    /* malloc'd */
/* Checks |got - want| <= atol + rtol*|want| element-wise (NaN fails), reporting the
 * worst element through Check. */
void tu_check_close(const char *what, const float *got, const double *want, size_t n, double rtol, double atol);
void tu_check_close_d(const char *what, const double *got, const double *want, size_t n, double rtol, double atol);
/* Float64 helpers for finite-difference checks: dot product, a fresh array of uniform
 * values in [-1, 1), and x + t*v (v NULL: x itself) into a fresh array (all malloc'd). */
double tu_dot_d(const double *a, const double *b, size_t n);
double *tu_new_rand_d(size_t n, uint64_t seed);
double *tu_along(const double *x, const double *v, double t, size_t n);
/* Relative error of vectors: ||a-b|| / max(||b||, tiny). */
double tu_rel_err(const double *a, const double *b, size_t n);
/* Runs the suite without forking (OpenCL state does not survive fork); returns the exit status. */
int tu_run(Suite *s);
/* A fresh empty folder under /tmp for the test's files (malloc'd path). */
char *tu_tempdir(const char *tag);
/* Creates the folders that will hold path. */
void tu_make_parent(const char *path);
/* Writes len bytes to path, creating its parent folders; fails the test on error. */
void tu_write_file(const char *path, const void *data, size_t len);
/* A JPEG through libturbojpeg; pf is a TJPF_* pixel format (RGB, GRAY, CMYK, ...). */
void tu_write_jpeg(const char *path, const uint8_t *pix, int w, int h, int pf, int quality);
/* dir + "/" + name (malloc'd). */
char *tu_path(const char *dir, const char *name);
/* Removes a folder and everything in it. */
void tu_rm_tree(const char *dir);
/* <a fresh tu_tempdir(tag)>/name (malloc'd), for a test that needs one file; then
 * tu_temp_file_free removes that folder with everything in it and frees the path. */
char *tu_temp_file(const char *tag, const char *name);
void tu_temp_file_free(char *path);
/* The contents of a text file (malloc'd), "" when it cannot be read. */
char *tu_read_text(const char *path);

/* Fails unless metadata `key` of the opened safetensors file f is `want`. */
void tu_expect_meta(const StFile *f, const char *key, const char *want);

/* ---- code that dies, printed output, commands and the clmtt binary ---- */

/* Runs fn(arg) in a forked child (stdout to /dev/null, stderr captured into err, at most
 * errlen - 1 bytes, NUL-terminated); the child exits 0 when fn returns. Returns the child's
 * exit status, or 128 + signal. For the paths that die(). */
int tu_in_child(void (*fn)(void *), void *arg, char *err, size_t errlen);

/* What fn(arg) prints on stdout, run in this process (malloc'd). */
char *tu_stdout_of(void (*fn)(void *), void *arg);

/* Whether text (may be NULL) holds needle. */
int tu_has(const char *text, const char *needle);
/* Fails the test unless text holds part, showing both. */
#define TU_ASSERT_HAS(text, part)                                                                                \
    do {                                                                                                         \
        const char *tu_text_ = (text), *tu_part_ = (part);                                                       \
        ck_assert_msg(tu_has(tu_text_, tu_part_), "message \"%s\" lacks \"%s\"", tu_text_ ? tu_text_ : "(null)", \
                      tu_part_);                                                                                 \
    } while (0)
/* The last n characters of text (all of it when shorter). */
const char *tu_tail(const char *text, size_t n);

/* The clmtt binary: $CLMTT_BIN, else the one built beside the test executable. */
const char *tu_clmtt_bin(void);

/* One finished command. */
typedef struct {
    int status;      /* exit code, or 128 + signal */
    char *out, *err; /* its stdout and stderr (malloc'd) */
    char log[700];   /* <logdir>/logNN: .out and .err keep the streams for inspection */
} TuRun;

/* Runs a shell command line, stdin from /dev/null. */
TuRun tu_shell(const char *logdir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Runs `clmtt <args>`, args given as shell words (the callers' paths hold no spaces), stdin
 * from /dev/null. */
TuRun tu_clmtt(const char *logdir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tu_run_free(TuRun *r);
/* Starts clmtt with args (NULL-terminated, without the program name) in the background,
 * stdout and stderr into the files out and err (NULL: /dev/null), stdin from /dev/null. */
pid_t tu_clmtt_start(char *const args[], const char *out, const char *err);

#define TU_EXPECT_OK(r)                                                                                         \
    ck_assert_msg((r).status == 0, "%s: exit status %d, expected 0\nstdout tail: %s\nstderr: %.3000s", (r).log, \
                  (r).status, tu_tail((r).out, 2000), (r).err)

/* A refusal: a normal non-zero exit (not a crash) whose stderr holds `needle`. */
#define TU_EXPECT_FAIL_WITH(r, needle)                                                                       \
    do {                                                                                                     \
        ck_assert_msg((r).status >= 1 && (r).status < 128, "%s: exit status %d, expected an error exit",     \
                      (r).log, (r).status);                                                                  \
        ck_assert_msg(tu_has((r).err, needle), "%s: stderr lacks '%s':\n%.3000s", (r).log, needle, (r).err); \
    } while (0)

#endif
