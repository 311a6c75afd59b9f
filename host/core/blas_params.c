/* The tuner files: CLBlast's tuners (1.5) write one JSON object per run with string fields
 * "kernel_family" (e.g. "xgemm_1"), "precision" ("32"), "best_kernel" (the OpenCL kernel
 * they timed, e.g. "Xgemm" or "XgemmDirectTN"), "best_parameters" (the winner as
 * space-separated NAME=VALUE pairs, PRECISION among them), "device", and a "results" list
 * of every configuration timed. Only the winner is used. */
#include "core/blas_params.h"
#include "core/blas.h"
#include "core/util.h"

#include <cjson/cJSON.h>
#include <clblast_c.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CLBlast's database groups kernels under a name that is not always the timed kernel's:
 * the direct GEMM's four transpose variants share "XgemmDirect", and the fast GEMV's
 * variants their own entries. */
static void database_name(const char *best_kernel, char *out, size_t cap) {
    if (strncmp(best_kernel, "XgemmDirect", 11) == 0) snprintf(out, cap, "XgemmDirect");
    else snprintf(out, cap, "%s", best_kernel);
}

static const char *string_field(const cJSON *root, const char *key, const char *path, int required) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) {
        if (required) die("%s: CLBlast parameters file lacks the field \"%s\" (is it a CLBlast tuner's JSON output?)", path, key);
        return NULL;
    }
    if (!cJSON_IsString(v)) die("%s: the field \"%s\" must be a string", path, key);
    return v->valuestring;
}

/* "NAME=VALUE NAME=VALUE ..." into p (PRECISION is the file's precision, not a kernel parameter). */
static void parse_pairs(const char *text, BlasParams *p, const char *path) {
    const char *s = text;
    while (*s) {
        while (*s == ' ') s++;
        if (!*s) break;
        const char *eq = strchr(s, '='), *end = strchr(s, ' ');
        if (!end) end = s + strlen(s);
        if (!eq || eq > end || eq == s)
            die("%s: \"best_parameters\" must be NAME=VALUE pairs separated by spaces, got '%.*s'", path, (int)(end - s), s);
        size_t nlen = (size_t)(eq - s);
        if (nlen >= sizeof p->names[0]) die("%s: parameter name '%.*s' is too long", path, (int)nlen, s);
        char num[32];
        size_t vlen = (size_t)(end - eq - 1);
        if (vlen == 0 || vlen >= sizeof num) die("%s: parameter '%.*s' has no usable value", path, (int)nlen, s);
        memcpy(num, eq + 1, vlen);
        num[vlen] = 0;
        char *stop;
        errno = 0;
        unsigned long long v = strtoull(num, &stop, 10);
        if (*stop || errno || num[0] == '-')
            die("%s: parameter '%.*s' must be a non-negative integer, got '%s'", path, (int)nlen, s, num);
        if (!(nlen == 9 && strncmp(s, "PRECISION", 9) == 0)) {
            if (p->count == BLAS_PARAMS_MAX) die("%s: more than %d parameters", path, BLAS_PARAMS_MAX);
            memcpy(p->names[p->count], s, nlen);
            p->names[p->count][nlen] = 0;
            p->values[p->count++] = (size_t)v;
        }
        s = end;
    }
    if (p->count == 0) die("%s: \"best_parameters\" holds no kernel parameters", path);
}

void blas_params_read(const char *path, BlasParams *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) die("%s: cannot open the CLBlast parameters file (CLMTT_CLBLAST_PARAMS): %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n <= 0 || n > (64L << 20)) {
        fclose(f);
        die("%s: the CLBlast parameters file is %s", path, n <= 0 ? "empty" : "larger than 64 MiB");
    }
    char *text = xmalloc((size_t)n + 1);
    size_t got = fread(text, 1, (size_t)n, f);
    fclose(f);
    text[got] = 0;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        die("%s: not a JSON object (expected the JSON a CLBlast tuner writes)", path);
    }
    const char *kernel = string_field(root, "best_kernel", path, 1);
    const char *prec = string_field(root, "precision", path, 1);
    const char *best = string_field(root, "best_parameters", path, 1);
    const char *dev = string_field(root, "device", path, 0);
    if (!*kernel) die("%s: \"best_kernel\" is empty", path);
    database_name(kernel, out->kernel, sizeof out->kernel);
    if (strcmp(prec, "16") && strcmp(prec, "32") && strcmp(prec, "64"))
        die("%s: \"precision\" must be \"16\", \"32\" or \"64\" (bits of a real type), got \"%s\"", path, prec);
    out->precision = atoi(prec);
    snprintf(out->device, sizeof out->device, "%s", dev ? dev : "");
    parse_pairs(best, out, path);
    cJSON_Delete(root);
}

void blas_params_apply(const BlasParams *p, cl_device_id device, const char *device_name, const char *path) {
    if (p->device[0] && device_name && strcmp(p->device, device_name) != 0)
        fprintf(stderr, "warning: %s was tuned on '%s', applying it to '%s'\n", path, p->device, device_name);
    const char *names[BLAS_PARAMS_MAX];
    for (int i = 0; i < p->count; i++) names[i] = p->names[i];
    CLBlastStatusCode st = CLBlastOverrideParameters(device, p->kernel, (CLBlastPrecision)p->precision,
                                                     (size_t)p->count, names, p->values);
    if (st != CLBlastSuccess)
        die("%s: CLBlast refused the parameters of kernel %s (%d-bit): %s (%d)%s", path, p->kernel, p->precision,
            clblast_status_name(st), (int)st,
            st == CLBlastMissingOverrideParameter ? " - the file lacks a parameter this kernel needs"
            : st == CLBlastInvalidOverrideKernel || st == CLBlastDatabaseError ? " - CLBlast has no kernel of that name"
                                                  : "");
}

void blas_params_apply_env(cl_device_id device, const char *device_name) {
    const char *env = getenv("CLMTT_CLBLAST_PARAMS");
    if (!env || !*env) return;
    char *list = xstrdup(env);
    for (char *save = NULL, *path = strtok_r(list, ":", &save); path; path = strtok_r(NULL, ":", &save)) {
        BlasParams p;
        blas_params_read(path, &p);
        blas_params_apply(&p, device, device_name, path);
    }
    free(list);
}
