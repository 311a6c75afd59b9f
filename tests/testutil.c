#include "testutil.h"

#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <turbojpeg.h>
#include <unistd.h>

void tu_init(void) { rt_init(-1); }

void tu_zero_gaps(const Net *net, float *v) {
    float *dense = xmalloc(net->ndense * sizeof(float));
    net_pack(net, v, dense);
    net_unpack(net, dense, v);
    free(dense);
}

int tu_small(void) {
    const char *e = getenv("CLMTT_TEST_SMALL");
    if (!e || !*e || strcmp(e, "0") == 0) return 0;
    if (strcmp(e, "1") != 0) die("CLMTT_TEST_SMALL must be 0 or 1, got '%s'", e);
    return 1;
}

void tu_rand(float *x, size_t n, uint64_t seed, float lo, float hi) {
    Rng r;
    rng_init(&r, seed, 99);
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * rng_uniformf(&r);
}

void tu_rand_d(double *x, size_t n, uint64_t seed, double lo, double hi) {
    Rng r;
    rng_init(&r, seed, 98);
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * rng_uniform(&r);
}

float *tu_new_rand(size_t n, uint64_t seed) {
    float *x = xmalloc(n * sizeof(float));
    tu_rand(x, n, seed, -1, 1);
    return x;
}

cl_mem tu_upload(const float *x, size_t n) {
    cl_mem m = dev_alloc(n * sizeof(float), "test input");
    dev_write_f32(m, 0, n, x);
    return m;
}

cl_mem tu_poisoned(size_t n) {
    cl_mem m = dev_alloc(n * sizeof(float), "test output");
    dev_fill(m, 0, n, NAN);
    return m;
}

void tu_check_untouched(const char *what, cl_mem g, size_t total, size_t a, size_t n, size_t a2, size_t n2) {
    float *x = tu_download(g, 0, total);
    for (size_t i = 0; i < total; i++) {
        int inside = (i >= a && i < a + n) || (i >= a2 && i < a2 + n2);
        if (!inside && !isnan(x[i])) ck_abort_msg("%s: element %zu outside the outputs was written", what, i);
    }
    free(x);
}

float *tu_download(cl_mem m, size_t off, size_t n) {
    float *x = xmalloc(n * sizeof(float));
    dev_read_f32(m, off, n, x);
    return x;
}

double *tu_to_double(const float *x, size_t n) {
    double *d = xmalloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

float *tu_to_float(const double *x, size_t n) {
    float *f = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) f[i] = (float)x[i];
    return f;
}

static void check_close(const char *what, int is_f, const void *got, const double *want, size_t n, double rtol, double atol) {
    size_t worst = 0;
    double worst_excess = -1;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double g = is_f ? ((const float *)got)[i] : ((const double *)got)[i];
        double tol = atol + rtol * fabs(want[i]);
        double e = fabs(g - want[i]);
        if (!(e <= tol)) {
            bad++;
            double ex = isfinite(e) ? e / (tol > 0 ? tol : 1) : INFINITY;
            if (ex > worst_excess || worst_excess < 0) { worst_excess = ex; worst = i; }
        }
    }
    if (bad) {
        double g = is_f ? ((const float *)got)[worst] : ((const double *)got)[worst];
        ck_abort_msg("%s: %d of %zu elements off; worst [%zu]: got %.9g want %.9g (rtol %g atol %g)", what, bad, n,
                     worst, g, want[worst], rtol, atol);
    }
}

void tu_check_close(const char *what, const float *got, const double *want, size_t n, double rtol, double atol) {
    check_close(what, 1, got, want, n, rtol, atol);
}
void tu_check_close_d(const char *what, const double *got, const double *want, size_t n, double rtol, double atol) {
    check_close(what, 0, got, want, n, rtol, atol);
}

double tu_rel_err(const double *a, const double *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) { num += (a[i] - b[i]) * (a[i] - b[i]); den += b[i] * b[i]; }
    return sqrt(num) / (den > 1e-300 ? sqrt(den) : 1e-150);
}

int tu_run(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

char *tu_tempdir(const char *tag) {
    char *p = xmalloc(256);
    snprintf(p, 256, "/tmp/clmtt-test-%s-XXXXXX", tag);
    if (!mkdtemp(p)) die("cannot make a temporary folder");
    return p;
}

double tu_dot_d(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

double *tu_new_rand_d(size_t n, uint64_t seed) {
    double *x = xmalloc(n * sizeof(double));
    tu_rand_d(x, n, seed, -1, 1);
    return x;
}

double *tu_along(const double *x, const double *v, double t, size_t n) {
    double *y = xmalloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) y[i] = x[i] + (v ? t * v[i] : 0.0);
    return y;
}

void tu_make_parent(const char *path) {
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash) { *slash = 0; mkdir_p(dir); }
    free(dir);
}

void tu_write_file(const char *path, const void *data, size_t len) {
    tu_make_parent(path);
    /* die, not ck_assert: these also run outside a test (making stand-in data by hand). */
    FILE *f = fopen(path, "wb");
    if (!f) die("cannot write %s", path);
    if (fwrite(data, 1, len, f) != len) die("short write to %s", path);
    if (fclose(f) != 0) die("cannot close %s", path);
}

void tu_write_jpeg(const char *path, const uint8_t *pix, int w, int h, int pf, int quality) {
    tjhandle t = tjInitCompress();
    if (!t) die("libturbojpeg: %s", tjGetErrorStr2(NULL));
    unsigned char *buf = NULL;
    unsigned long len = 0;
    int subsamp = pf == TJPF_GRAY ? TJSAMP_GRAY : TJSAMP_444;
    if (tjCompress2(t, pix, w, 0, h, pf, &buf, &len, subsamp, quality, TJFLAG_ACCURATEDCT) != 0)
        die("%s: %s", path, tjGetErrorStr2(t));
    tu_write_file(path, buf, len);
    tjFree(buf);
    tjDestroy(t);
}

char *tu_path(const char *dir, const char *name) {
    char *p = xmalloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

void tu_rm_tree(const char *dir) { nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

char *tu_temp_file(const char *tag, const char *name) {
    char *dir = tu_tempdir(tag), *path = tu_path(dir, name);
    free(dir);
    return path;
}

void tu_temp_file_free(char *path) {
    *strrchr(path, '/') = 0;   /* the folder */
    tu_rm_tree(path);
    free(path);
}

char *tu_read_text(const char *path) {
    size_t len;
    char *t = (char *)read_file(path, &len);
    return t ? t : xstrdup("");
}

void tu_expect_meta(const StFile *f, const char *key, const char *want) {
    const char *v = st_meta(f, key);
    ck_assert_msg(v && strcmp(v, want) == 0, "%s: metadata %s is '%s', expected '%s'", f->path, key, v ? v : "(none)",
                  want);
}

/* Exit code of a waitpid/system status, or 128 + signal (as a shell reports it). */
static int exit_code(int st) { return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1; }

int tu_in_child(void (*fn)(void *), void *arg, char *err, size_t errlen) {
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(NULL);   /* buffered output would otherwise be written twice */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < errlen && (r = read(fds[0], err + n, errlen - 1 - n)) > 0) n += (size_t)r;
    err[n] = 0;
    /* Drain the rest, so a child with a long message does not block on a full pipe. */
    char sink[4096];
    while (read(fds[0], sink, sizeof sink) > 0) {}
    close(fds[0]);
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return exit_code(st);
}

char *tu_stdout_of(void (*fn)(void *), void *arg) {
    char *dir = tu_tempdir("stdout");
    char *p = tu_path(dir, "out.txt");
    fflush(stdout);
    int saved = dup(1), fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    dup2(fd, 1);
    close(fd);
    fn(arg);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    size_t len;
    char *text = (char *)read_file(p, &len);
    ck_assert_ptr_nonnull(text);
    tu_rm_tree(dir);
    free(p);
    free(dir);
    return text;
}

int tu_has(const char *text, const char *needle) { return text && strstr(text, needle) != NULL; }

const char *tu_tail(const char *text, size_t n) {
    size_t len = strlen(text);
    return len > n ? text + len - n : text;
}

const char *tu_clmtt_bin(void) {
    static char path[4096];
    if (path[0]) return path;
    const char *env = getenv("CLMTT_BIN");
    if (env && *env) {
        snprintf(path, sizeof path, "%s", env);
        return path;
    }
    /* Run by hand: the binary is built beside the test executables. */
    char self[4000];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) die("set CLMTT_BIN to the clmtt binary");
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash) *slash = 0;
    snprintf(path, sizeof path, "%s/clmtt", self);
    return path;
}

/* Runs `<prefix><fmt...>` through the shell with the streams kept under logdir. */
static TuRun run_line(const char *logdir, const char *prefix, const char *fmt, va_list ap) {
    static int nlog;   /* numbers the log files of this process's runs */
    TuRun r = {0};
    char line[8192], cmd[16384], path[720];
    vsnprintf(line, sizeof line, fmt, ap);
    snprintf(r.log, sizeof r.log, "%s/log%02d", logdir, nlog++);
    snprintf(cmd, sizeof cmd, "%s%s >%s.out 2>%s.err </dev/null", prefix, line, r.log, r.log);
    int st = system(cmd);
    ck_assert_msg(st != -1, "cannot run %s", cmd);
    r.status = exit_code(st);
    snprintf(path, sizeof path, "%s.out", r.log);
    r.out = tu_read_text(path);
    snprintf(path, sizeof path, "%s.err", r.log);
    r.err = tu_read_text(path);
    return r;
}

TuRun tu_shell(const char *logdir, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    TuRun r = run_line(logdir, "", fmt, ap);
    va_end(ap);
    return r;
}

TuRun tu_clmtt(const char *logdir, const char *fmt, ...) {
    char prefix[4200];
    snprintf(prefix, sizeof prefix, "'%s' ", tu_clmtt_bin());
    va_list ap;
    va_start(ap, fmt);
    TuRun r = run_line(logdir, prefix, fmt, ap);
    va_end(ap);
    return r;
}

void tu_run_free(TuRun *r) {
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

static int open_output(const char *path) {
    int fd = open(path ? path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_msg(fd >= 0, "cannot write %s", path ? path : "/dev/null");
    return fd;
}

pid_t tu_clmtt_start(char *const args[], const char *out, const char *err) {
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)tu_clmtt_bin();
    while (args[n - 1]) {
        ck_assert_msg(n < 63, "too many arguments for clmtt");
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    int fin = open("/dev/null", O_RDONLY), fo = open_output(out), fe = open_output(err);
    ck_assert(fin >= 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fin, 0);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fin);
    close(fo);
    close(fe);
    return pid;
}
